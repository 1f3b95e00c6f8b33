/* Internal side of the arenas in ampc/memory.h: what tensor creation asks of an arena. */
#ifndef AMPC_TENSOR_ARENA_H
#define AMPC_TENSOR_ARENA_H

#include <stddef.h>

#include <ampc/memory.h>

#include "tensor/tensor_internal.h"

/* The innermost arena entered on this thread, or NULL: where new tensors go. */
ampc_arena *ampc_arena_current(void);

/* `bytes` of 64-byte aligned arena memory, valid until the next reset; NULL if the system
 * has no memory for a new block (the caller reports it). */
void *ampc_arena_alloc(ampc_arena *arena, size_t bytes);

/* Puts arena storage on the list the next reset uncounts (by the category it has then). */
void ampc_arena_adopt_storage(ampc_arena *arena, ampc_storage *storage);

/* Takes a reference on heap storage that the next reset drops, for an arena header that
 * points at it. Fails (with the error set) only when out of memory. */
ampc_status ampc_arena_hold_reference(const char *function, ampc_arena *arena,
                                      ampc_storage *storage);

/* Calls release(object) at the next reset (or when the arena is freed), for arena memory that
 * holds a counted reference on something outside the arena (a heap autograd node). Fails
 * (with the error set) only when out of memory; then release is not called. */
ampc_status ampc_arena_defer_release(const char *function, ampc_arena *arena,
                                     void (*release)(void *object), void *object);

#endif
