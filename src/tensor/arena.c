/* Arenas: per-step memory for activations, released all at once.
 *
 * An arena is a list of 64-byte aligned blocks and a bump pointer. Tensors created while it
 * is entered take their header, storage struct and data from it; so does the bookkeeping
 * (the list of storages to uncount and of heap references to drop, storage or autograd
 * nodes), so a reset frees nothing
 * and asks the system for nothing. Reset rewinds every block and keeps it, and allocation
 * walks the blocks in the same order each step, so a loop that makes the same tensors each
 * step reuses the same blocks and its footprint stops growing after the first step.
 *
 * Which arena is entered is a per-thread stack. An arena itself is not locked: one thread
 * at a time may create tensors in it. Tensors made inside OpenMP worker threads see an empty
 * stack and go to the heap. */
#include <ampc/memory.h>

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/memory.h"
#include "tensor/arena.h"

/* A request bigger than this gets a block of its own, sized to fit. */
#define ARENA_BLOCK_BYTES ((size_t)1 << 20)
#define ARENA_MAX_DEPTH 16

typedef struct arena_block {
    struct arena_block *next;
    unsigned char *data;
    size_t capacity;
    size_t used;
} arena_block;

/* A reference arena memory holds on something outside the arena (heap storage, a heap
 * autograd node), dropped at reset. */
typedef struct arena_reference {
    void (*release)(void *object);
    void *object;
    struct arena_reference *next;
} arena_reference;

struct ampc_arena {
    arena_block *first;
    arena_block *last;
    arena_block *current; /* blocks before it are spent this step; after it, untouched */
    size_t capacity;      /* sum of the blocks' capacities */
    size_t used;          /* bytes handed out since the last reset, padding included */
    ampc_storage *storages;
    arena_reference *references;
};

static _Thread_local ampc_arena *entered[ARENA_MAX_DEPTH];
static _Thread_local int entered_depth;

ampc_arena *ampc_arena_new(void)
{
    ampc_arena *arena = calloc(1, sizeof *arena);
    if (!arena) ampc_fail_oom(__func__, sizeof *arena);
    return arena;
}

ampc_arena *ampc_arena_current(void)
{
    return entered_depth > 0 ? entered[entered_depth - 1] : NULL;
}

static bool is_entered_here(const ampc_arena *arena)
{
    for (int level = 0; level < entered_depth; level++)
        if (entered[level] == arena) return true;
    return false;
}

ampc_status ampc_arena_enter(ampc_arena *arena)
{
    if (!arena) return ampc_fail_null(__func__, "arena");
    if (entered_depth == ARENA_MAX_DEPTH)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "%d arenas are already entered on this thread; expected at most %d "
                         "nested (is a leave missing?)",
                         entered_depth, ARENA_MAX_DEPTH);
    entered[entered_depth++] = arena;
    return AMPC_OK;
}

ampc_status ampc_arena_leave(ampc_arena *arena)
{
    if (!arena) return ampc_fail_null(__func__, "arena");
    if (entered_depth == 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "arena %p is not entered; no arena is entered on this thread",
                         (void *)arena);
    if (entered[entered_depth - 1] != arena)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "arena %p is not the innermost entered arena; expected %p (arenas "
                         "are left in the reverse order they were entered)",
                         (void *)arena, (void *)entered[entered_depth - 1]);
    entered_depth--;
    return AMPC_OK;
}

/* Rounded up to whole 64-byte units so that every allocation stays aligned; 0 on overflow. */
static size_t aligned_size(size_t bytes)
{
    size_t rounded = (bytes + AMPC_STORAGE_ALIGNMENT - 1) & ~(size_t)(AMPC_STORAGE_ALIGNMENT - 1);
    return rounded < bytes ? 0 : rounded;
}

static arena_block *append_block(ampc_arena *arena, size_t capacity)
{
    arena_block *block = malloc(sizeof *block);
    unsigned char *data = block ? ampc_aligned_alloc(capacity) : NULL;
    if (!data) {
        free(block);
        return NULL;
    }
    *block = (arena_block){.data = data, .capacity = capacity};
    if (arena->last) arena->last->next = block;
    else arena->first = block;
    arena->last = block;
    arena->capacity += capacity;
    return block;
}

void *ampc_arena_alloc(ampc_arena *arena, size_t bytes)
{
    size_t rounded = aligned_size(bytes);
    if (rounded == 0 && bytes != 0) return NULL;
    arena_block *block = arena->current ? arena->current : arena->first;
    while (block && block->capacity - block->used < rounded) block = block->next;
    if (!block) {
        block = append_block(arena, rounded > ARENA_BLOCK_BYTES ? rounded : ARENA_BLOCK_BYTES);
        if (!block) return NULL;
    }
    arena->current = block;
    void *pointer = block->data + block->used;
    block->used += rounded;
    arena->used += rounded;
    return pointer;
}

void ampc_arena_adopt_storage(ampc_arena *arena, ampc_storage *storage)
{
    storage->next_in_arena = arena->storages;
    arena->storages = storage;
}

ampc_status ampc_arena_defer_release(const char *function, ampc_arena *arena,
                                     void (*release)(void *object), void *object)
{
    arena_reference *reference = ampc_arena_alloc(arena, sizeof *reference);
    if (!reference) return ampc_fail_oom(function, sizeof *reference);
    *reference = (arena_reference){.release = release, .object = object,
                                   .next = arena->references};
    arena->references = reference;
    return AMPC_OK;
}

static void release_storage(void *storage)
{
    ampc_storage_release(storage);
}

ampc_status ampc_arena_hold_reference(const char *function, ampc_arena *arena,
                                      ampc_storage *storage)
{
    ampc_status status = ampc_arena_defer_release(function, arena, release_storage, storage);
    if (status == AMPC_OK) atomic_fetch_add(&storage->refcount, 1);
    return status;
}

/* Uncounts and unreferences everything, then rewinds. Nothing here can fail. */
static void release_everything(ampc_arena *arena)
{
    for (ampc_storage *storage = arena->storages; storage; storage = storage->next_in_arena)
        ampc_memory_count(storage->category, -(int64_t)storage->nbytes);
    for (arena_reference *reference = arena->references; reference; reference = reference->next)
        reference->release(reference->object);
    for (arena_block *block = arena->first; block; block = block->next) block->used = 0;
    arena->storages = NULL;
    arena->references = NULL;
    arena->current = arena->first;
    arena->used = 0;
}

ampc_status ampc_arena_reset(ampc_arena *arena)
{
    if (!arena) return ampc_fail_null(__func__, "arena");
    if (is_entered_here(arena))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "arena %p is entered on this thread; expected it left first (its "
                         "tensors may still be in use)",
                         (void *)arena);
    release_everything(arena);
    return AMPC_OK;
}

/* Freeing an arena this thread still has entered takes it off the stack, so that no later
 * tensor lands in freed memory. */
static void forget_entered(const ampc_arena *arena)
{
    int kept = 0;
    for (int level = 0; level < entered_depth; level++)
        if (entered[level] != arena) entered[kept++] = entered[level];
    entered_depth = kept;
}

void ampc_arena_free(ampc_arena *arena)
{
    if (!arena) return;
    forget_entered(arena);
    release_everything(arena);
    for (arena_block *block = arena->first, *next; block; block = next) {
        next = block->next;
        ampc_aligned_free(block->data);
        free(block);
    }
    free(arena);
}

size_t ampc_arena_capacity(const ampc_arena *arena)
{
    if (!arena) {
        ampc_fail_null(__func__, "arena");
        return 0;
    }
    return arena->capacity;
}

size_t ampc_arena_used(const ampc_arena *arena)
{
    if (!arena) {
        ampc_fail_null(__func__, "arena");
        return 0;
    }
    return arena->used;
}
