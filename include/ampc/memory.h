/* Memory model: long-lived tensors, per-step arenas, and byte counts by category.
 *
 * Long-lived tensors (parameters, optimizer state) are created outside any arena. Each owns a
 * reference to its storage and is released with ampc_tensor_free(); views share the storage,
 * which is freed when its last tensor is. Storage is 64-byte aligned.
 *
 * Per-step tensors (activations, autograd records) are created while an arena is entered on
 * the calling thread. They live in the arena's blocks and are all released at once by
 * ampc_arena_reset() at the end of the step; ampc_tensor_free() on them is a no-op. The blocks
 * are kept and reused, so a training loop neither leaks nor fragments: after the first step its
 * footprint is constant. A view of an arena tensor belongs to that arena too, wherever it is
 * created. A tensor from an arena must not be used after the arena is reset. A view made
 * inside an arena of a long-lived tensor lives in the arena and keeps the long-lived storage
 * alive until the reset. An arena is used by one thread at a time; tensors made on other
 * threads (OpenMP workers included) go wherever that thread's own arena stack says.
 *
 * ampc counts live and peak bytes of tensor storage in five categories. New tensors count as
 * ACTIVATIONS inside an arena and OTHER outside; ampc_tensor_set_category() reassigns one (an
 * optimizer marks its state OPTIMIZER_STATE, a module its weights PARAMETERS). */
#ifndef AMPC_MEMORY_H
#define AMPC_MEMORY_H

#include <stddef.h>

#include <ampc/error.h>
#include <ampc/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only. */
typedef enum ampc_memory_category {
    AMPC_MEMORY_PARAMETERS,
    AMPC_MEMORY_GRADIENTS,
    AMPC_MEMORY_OPTIMIZER_STATE,
    AMPC_MEMORY_ACTIVATIONS,
    AMPC_MEMORY_OTHER,
    AMPC_MEMORY_CATEGORY_COUNT
} ampc_memory_category;

typedef struct ampc_memory_stats {
    size_t live_bytes[AMPC_MEMORY_CATEGORY_COUNT];
    size_t peak_bytes[AMPC_MEMORY_CATEGORY_COUNT];
    size_t live_total;
    size_t peak_total; /* peak of the sum, not the sum of the peaks */
} ampc_memory_stats;

/* "parameters", "gradients", "optimizer_state", "activations", "other"; "invalid" otherwise. */
AMPC_API const char *ampc_memory_category_name(ampc_memory_category category);
AMPC_API ampc_status ampc_memory_get_stats(ampc_memory_stats *stats);
/* Sets every peak to the current live count. */
AMPC_API void ampc_memory_reset_peaks(void);

typedef struct ampc_arena ampc_arena;

AMPC_API ampc_arena *ampc_arena_new(void);
/* Resets the arena, then returns its blocks to the system. NULL is a no-op. An arena this
 * thread still has entered is taken off its stack first. */
AMPC_API void ampc_arena_free(ampc_arena *arena);
/* Until the matching leave, tensors this thread creates belong to the arena. Arenas nest,
 * up to 16 deep on one thread. */
AMPC_API ampc_status ampc_arena_enter(ampc_arena *arena);
/* Fails if the arena is not the innermost one entered on this thread. */
AMPC_API ampc_status ampc_arena_leave(ampc_arena *arena);
/* Releases every tensor of the arena at once; keeps the blocks for reuse. Fails if the arena
 * is currently entered on this thread. */
AMPC_API ampc_status ampc_arena_reset(ampc_arena *arena);
/* Bytes of blocks the arena holds from the system (its footprint), and bytes in use now. */
AMPC_API size_t ampc_arena_capacity(const ampc_arena *arena);
AMPC_API size_t ampc_arena_used(const ampc_arena *arena);

#ifdef __cplusplus
}
#endif
#endif
