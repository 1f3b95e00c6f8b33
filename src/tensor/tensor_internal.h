/* Internal side of ampc/tensor.h: the tensor and storage structs, and the helpers the tensor
 * files share (shape validation, header creation for views, layout queries).
 *
 * Ownership in one paragraph: a storage holds the bytes. Heap storage (created outside any
 * arena) is reference counted by the tensors that point at it and freed with the last one.
 * Arena storage lives in an arena's blocks with its header, is never reference counted, and
 * goes at ampc_arena_reset(). A tensor header lives on the heap, or in an arena when it was
 * created inside one or is a view of arena storage; freeing an arena header is a no-op. An
 * arena header that points at heap storage holds one reference on it, which the arena drops
 * at reset (see arena.c). Views and copies never inherit a tensor's autograd node. */
#ifndef AMPC_TENSOR_INTERNAL_H
#define AMPC_TENSOR_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ampc/tensor.h>

#include "core/error.h"

typedef struct ampc_storage {
    void *data;
    size_t nbytes;             /* bytes counted in `category`; 0 for borrowed storage */
    atomic_int refcount;       /* heap storage only */
    ampc_memory_category category;
    bool borrowed;             /* from ampc_tensor_wrap: the caller owns `data` */
    ampc_arena *arena;         /* the arena holding this storage, or NULL for heap storage */
    struct ampc_storage *next_in_arena; /* the arena's list of storages to uncount at reset */
} ampc_storage;

struct ampc_tensor {
    ampc_dtype dtype;
    int ndim;
    int64_t shape[AMPC_MAX_DIMS];
    int64_t strides[AMPC_MAX_DIMS]; /* in elements */
    int64_t offset;                 /* in elements, into storage->data */
    ampc_storage *storage;
    ampc_arena *arena;              /* the arena holding the header (free is a no-op), or NULL */
    /* Autograd (src/autograd): the node that produced this tensor, or its leaf node when it
     * requires grad; NULL otherwise. The tensor layer only drops the reference, through
     * release_grad_node (NULL when the reference is not counted), when a heap header is freed. */
    struct ampc_node *grad_node;
    void (*release_grad_node)(struct ampc_node *node);
};

/* Checks dtype, ndim and every size (>= 0, no -1) and that the byte count fits in memory;
 * returns the element count, or -1 with the error set naming `function`. */
int64_t ampc_shape_checked_numel(const char *function, ampc_dtype dtype, int ndim,
                                 const int64_t *shape);

/* A new contiguous, uninitialised tensor in `arena` (NULL: on the heap). The shape must have
 * passed ampc_shape_checked_numel. */
ampc_tensor *ampc_tensor_new_in(const char *function, ampc_arena *arena, ampc_dtype dtype,
                                int ndim, const int64_t *shape);

/* A new contiguous, uninitialised tensor wherever this thread creates tensors now: in the
 * innermost entered arena, else on the heap. Validates its arguments. */
ampc_tensor *ampc_tensor_new(const char *function, ampc_dtype dtype, int ndim,
                             const int64_t *shape);

/* A new header sharing base's storage with base's layout, for the caller to reshape. It
 * lives in the storage's arena if the storage has one, else in the entered arena (which then
 * holds a reference on the storage), else on the heap (holding a reference). */
ampc_tensor *ampc_tensor_new_view(const char *function, const ampc_tensor *base);

/* A new contiguous tensor with tensor's values converted to dtype, in arena (NULL: on the
 * heap); what cast, clone, contiguous and a copying reshape share (tensor_copy.c). */
ampc_tensor *ampc_tensor_copy_new(const char *function, ampc_arena *arena,
                                  const ampc_tensor *tensor, ampc_dtype dtype,
                                  ampc_overflow overflow);

/* Copies tensor's values into block (a contiguous heap tensor of tensor's dtype) at element
 * `offset`, then makes tensor a contiguous view of that place, dropping its old storage. The
 * header (and so every pointer to it) stays the same. */
ampc_status ampc_tensor_move_into(const char *function, ampc_tensor *tensor,
                                  const ampc_tensor *block, int64_t offset);

/* Drops one reference on heap storage; frees it (and uncounts its bytes) with the last. */
void ampc_storage_release(ampc_storage *storage);

/* Row-major strides for shape. */
void ampc_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);
/* Contiguous as PyTorch defines it: size-1 dims and empty tensors place no constraint. */
bool ampc_layout_is_contiguous(int ndim, const int64_t *shape, const int64_t *strides);
/* Product of the sizes (the caller knows it fits). */
int64_t ampc_shape_numel(int ndim, const int64_t *shape);

/* Maps a dim that may count from the end to 0..ndim-1; fails naming `argument` otherwise. */
ampc_status ampc_wrap_dim(const char *function, const char *argument, int dim, int ndim,
                          int *wrapped);

/* Writes "[2, 3]" (or "[]" for no dims) into text; truncates to capacity. */
void ampc_format_shape(char *text, size_t capacity, int ndim, const int64_t *shape);

/* Room for any formatted shape: 8 dims of up to 20 digits plus separators. */
#define AMPC_SHAPE_TEXT_CAPACITY 200

/* For `if (!tensor) return ampc_null_tensor(__func__, "tensor");`: records the NULL argument
 * (or keeps the pending error it propagates) and gives the NULL to return. */
static inline ampc_tensor *ampc_null_tensor(const char *function, const char *argument)
{
    ampc_fail_null(function, argument);
    return NULL;
}

/* Address of the element `element_offset` elements past the start of the storage. */
static inline char *ampc_tensor_element(const ampc_tensor *tensor, int64_t element_offset)
{
    return (char *)tensor->storage->data +
           (size_t)element_offset * ampc_dtype_size(tensor->dtype);
}

#endif
