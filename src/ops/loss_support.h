/* What the loss ops share (loss.c: class-index losses; loss_pointwise.c): checking the
 * reduction, validating class-index targets, reducing per-element losses, and handing the
 * upstream gradient to the kernels. */
#ifndef AMPC_OPS_LOSS_SUPPORT_H
#define AMPC_OPS_LOSS_SUPPORT_H

#include <stdint.h>

#include <ampc/ops_loss.h>
#include <ampc/tensor.h>

#include "kernels/reduce.h"

ampc_status loss_check_reduction(const char *function, ampc_reduction reduction);

/* Logits or log-probabilities (N, C, d1, ...), (N, C) or (C) seen as (n, classes, inner). */
typedef struct class_layout {
    int64_t n, classes, inner;
    int target_ndim; /* the target's (and a NONE loss's) shape */
    int64_t target_shape[AMPC_MAX_DIMS];
    int64_t counted; /* targets that are not ignore_index: the mean's divisor */
} class_layout;

/* Validates target against input (named input_name) and returns its class indices as a new
 * contiguous I64 tensor, filling layout; NULL with the error set otherwise. */
ampc_tensor *loss_class_targets(const char *function, const char *input_name,
                                const ampc_tensor *input, const ampc_tensor *target,
                                int64_t ignore_index, class_layout *layout);

/* Turns per-element losses (contiguous, compute dtype; freed here) into the result in dtype:
 * NONE keeps them (with ndim/shape), SUM and MEAN give a 0-d sum (divided by divisor for
 * MEAN). NULL propagates. */
ampc_tensor *loss_reduce(const char *function, ampc_tensor *losses, ampc_reduction reduction,
                         int64_t divisor, int ndim, const int64_t *shape, ampc_dtype dtype);

/* The upstream gradient of each element for the kernels, from dout in the compute dtype:
 * dout itself for NONE, its one value for SUM, that over divisor for MEAN. */
loss_upstream_f32 loss_upstream_of_f32(const ampc_tensor *dout, ampc_reduction reduction,
                                       int64_t divisor);
loss_upstream_f64 loss_upstream_of_f64(const ampc_tensor *dout, ampc_reduction reduction,
                                       int64_t divisor);

#endif
