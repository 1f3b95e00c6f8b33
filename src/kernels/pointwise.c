/* The pointwise kernel tables and the choice of level.
 *
 * Each level's complete table is the level below's with the level's own kernels overlaid (a
 * NULL entry means "no faster kernel here"), so the scalar reference fills every gap. The
 * level the ops run at is picked once, at first use, by ampc_cpu_pick_path (AMPC_ISA caps
 * it). */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/cpu.h"
#include "kernels/pointwise_kernels.h"

static const ampc_pointwise_kernels *const own_tables[AMPC_ISA_COUNT] = {
    [AMPC_ISA_SCALAR] = &ampc_pointwise_scalar_own,
    [AMPC_ISA_AVX2] = &ampc_pointwise_avx2_own,
    [AMPC_ISA_AVX512] = &ampc_pointwise_avx512_own,
};

static ampc_pointwise_kernels complete_tables[AMPC_ISA_COUNT];
static ampc_isa active_level;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    bool has_path[AMPC_ISA_COUNT] = {false};
    ampc_pointwise_kernels below = {{NULL}};
    for (int level = 0; level < AMPC_ISA_COUNT; level++) {
        if (!own_tables[level]) continue;
        for (int op = 0; op < AMPC_PW_OP_COUNT; op++)
            if (own_tables[level]->f32[op]) below.f32[op] = own_tables[level]->f32[op];
        complete_tables[level] = below;
        has_path[level] = true;
    }
    active_level = ampc_cpu_pick_path(has_path);
}

const ampc_pointwise_kernels *ampc_pointwise_kernels_at(ampc_isa level)
{
    if ((unsigned)level >= AMPC_ISA_COUNT || !own_tables[level]) return NULL;
    pthread_once(&tables_once, build_tables);
    return &complete_tables[level];
}

ampc_isa ampc_pointwise_path(void)
{
    pthread_once(&tables_once, build_tables);
    return active_level;
}

const ampc_pointwise_kernels *ampc_pointwise_kernels_active(void)
{
    return ampc_pointwise_kernels_at(ampc_pointwise_path());
}
