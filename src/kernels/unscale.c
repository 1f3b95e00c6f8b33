/* The unscale kernel tables and the level the pass runs at (unscale.h), picked once at
 * first use by ampc_cpu_pick_path: AVX-512 when the active ISA has it, else the reference. */
#include <pthread.h>

#include "core/cpu.h"
#include "kernels/unscale.h"

static const ampc_unscale_kernels *const own_tables[AMPC_ISA_COUNT] = {
    [AMPC_ISA_SCALAR] = &ampc_unscale_scalar,
    [AMPC_ISA_AVX512] = &ampc_unscale_avx512,
};
static const ampc_unscale_kernels *complete_tables[AMPC_ISA_COUNT];
static ampc_isa active_level;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    bool has_path[AMPC_ISA_COUNT] = {false};
    const ampc_unscale_kernels *below = NULL;
    for (int level = 0; level < AMPC_ISA_COUNT; level++) {
        if (own_tables[level]) below = own_tables[level];
        complete_tables[level] = below;
        has_path[level] = own_tables[level] != NULL;
    }
    active_level = ampc_cpu_pick_path(has_path);
}

const ampc_unscale_kernels *ampc_unscale_kernels_at(ampc_isa level)
{
    if ((unsigned)level >= AMPC_ISA_COUNT || !own_tables[level]) return NULL;
    return own_tables[level];
}

ampc_isa ampc_unscale_path(void)
{
    pthread_once(&tables_once, build_tables);
    return active_level;
}

const ampc_unscale_kernels *ampc_unscale_kernels_active(void)
{
    pthread_once(&tables_once, build_tables);
    return complete_tables[active_level];
}
