/* How a reduction over some dims of a tensor maps onto the kernels' (outer, size, inner)
 * layout (src/kernels/reduce.h), shared by the reduction ops and their backward functions.
 *
 * When the reduced dims are adjacent (ignoring dims of size 1) the input's own contiguous
 * order already is (outer, size, inner). Otherwise the input is permuted so the kept dims
 * come first and the reduced dims last, and copied once: then inner = 1. The same plan maps a
 * gradient computed in that layout back to the input's shape. The reduction kernel call and
 * the recording step that every op of the family (reductions, softmax, losses) ends with
 * live here too. */
#ifndef AMPC_OPS_REDUCE_PLAN_H
#define AMPC_OPS_REDUCE_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/tensor.h>

#include "autograd/record.h"
#include "kernels/reduce.h"

typedef struct reduce_plan {
    int ndim;                          /* the input's */
    int64_t shape[AMPC_MAX_DIMS];
    bool reduced[AMPC_MAX_DIMS];
    int out_ndim;                      /* the result's, with or without keepdim */
    int64_t out_shape[AMPC_MAX_DIMS];
    int64_t outer, size, inner;        /* size: the number of elements reduced into each */
    bool permuted;                     /* layout dim d is input dim perm[d] */
    int perm[AMPC_MAX_DIMS];
    int64_t layout_shape[AMPC_MAX_DIMS]; /* the input's shape in layout order (ndim dims) */
} reduce_plan;

/* Wraps a dim of a tensor with ndim dims; a 0-d tensor takes 0 or -1 (as in PyTorch). */
ampc_status reduce_wrap_dim(const char *function, const char *argument, int dim, int ndim,
                            int *wrapped);

/* Validates dims (num_dims 0: all dims; negatives count from the end; no repeats; a 0-d
 * input takes dim 0 or -1, as PyTorch) and fills the plan. */
ampc_status reduce_plan_make(const char *function, const ampc_tensor *input, int num_dims,
                             const int *dims, bool keepdim, reduce_plan *plan);

/* The input's values in the compute dtype, contiguous, in layout order. */
ampc_tensor *reduce_plan_layout(const char *function, const reduce_plan *plan,
                                const ampc_tensor *input);

/* A new contiguous compute-dtype tensor of the input's size in layout order (for a
 * gradient). */
ampc_tensor *reduce_plan_new_layout(const char *function, const reduce_plan *plan,
                                    ampc_dtype compute_dtype);

/* Turns `computed` (made by reduce_plan_new_layout) into a tensor of the input's shape and
 * `dtype`, freeing computed. NULL propagates. */
ampc_tensor *reduce_plan_unlayout(const char *function, const reduce_plan *plan,
                                  ampc_tensor *computed, ampc_dtype dtype);

/* The kernel reduce_f32/f64 (src/kernels/reduce.h) for out's compute dtype, with its
 * workspace: out (outer * inner) = kind over x (outer, size, inner); center as the kernel
 * says. All contiguous, in the same compute dtype. */
ampc_status reduce_run(const char *function, reduce_kind kind, ampc_tensor *out,
                       const ampc_tensor *x, const ampc_tensor *center, int64_t outer,
                       int64_t size, int64_t inner);

#endif
