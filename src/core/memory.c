/* Byte counts by category. Counters are atomics because tensors may be created on any thread;
 * peaks are raised with compare-and-swap so that a concurrent update is never lost. */
#include "core/memory.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "core/error.h"

static _Atomic size_t live_bytes[AMPC_MEMORY_CATEGORY_COUNT];
static _Atomic size_t peak_bytes[AMPC_MEMORY_CATEGORY_COUNT];
static _Atomic size_t live_total;
static _Atomic size_t peak_total;

static const char *const category_names[AMPC_MEMORY_CATEGORY_COUNT] = {
    [AMPC_MEMORY_PARAMETERS] = "parameters",
    [AMPC_MEMORY_GRADIENTS] = "gradients",
    [AMPC_MEMORY_OPTIMIZER_STATE] = "optimizer_state",
    [AMPC_MEMORY_ACTIVATIONS] = "activations",
    [AMPC_MEMORY_OTHER] = "other",
};

const char *ampc_memory_category_name(ampc_memory_category category)
{
    if ((unsigned)category >= AMPC_MEMORY_CATEGORY_COUNT) return "invalid";
    return category_names[category];
}

void *ampc_aligned_alloc(size_t bytes)
{
    size_t rounded = (bytes + AMPC_STORAGE_ALIGNMENT - 1) / AMPC_STORAGE_ALIGNMENT *
                     AMPC_STORAGE_ALIGNMENT;
    if (rounded < bytes) return NULL;
    return aligned_alloc(AMPC_STORAGE_ALIGNMENT, rounded == 0 ? AMPC_STORAGE_ALIGNMENT : rounded);
}

void ampc_aligned_free(void *pointer) { free(pointer); }

static void raise_peak(_Atomic size_t *peak, size_t value)
{
    size_t seen = atomic_load(peak);
    while (value > seen && !atomic_compare_exchange_weak(peak, &seen, value)) {
    }
}

void ampc_memory_count(ampc_memory_category category, int64_t delta_bytes)
{
    AMPC_ASSERT((unsigned)category < AMPC_MEMORY_CATEGORY_COUNT);
    if (delta_bytes >= 0) {
        size_t delta = (size_t)delta_bytes;
        raise_peak(&peak_bytes[category], atomic_fetch_add(&live_bytes[category], delta) + delta);
        raise_peak(&peak_total, atomic_fetch_add(&live_total, delta) + delta);
        return;
    }
    size_t delta = (size_t)(-delta_bytes);
    AMPC_ASSERT(atomic_load(&live_bytes[category]) >= delta);
    atomic_fetch_sub(&live_bytes[category], delta);
    atomic_fetch_sub(&live_total, delta);
}

ampc_status ampc_memory_get_stats(ampc_memory_stats *stats)
{
    if (!stats) return ampc_fail_null(__func__, "stats");
    for (int category = 0; category < AMPC_MEMORY_CATEGORY_COUNT; category++) {
        stats->live_bytes[category] = atomic_load(&live_bytes[category]);
        stats->peak_bytes[category] = atomic_load(&peak_bytes[category]);
    }
    stats->live_total = atomic_load(&live_total);
    stats->peak_total = atomic_load(&peak_total);
    return AMPC_OK;
}

void ampc_memory_reset_peaks(void)
{
    for (int category = 0; category < AMPC_MEMORY_CATEGORY_COUNT; category++)
        atomic_store(&peak_bytes[category], atomic_load(&live_bytes[category]));
    atomic_store(&peak_total, atomic_load(&live_total));
}
