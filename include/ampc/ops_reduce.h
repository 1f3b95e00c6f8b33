/* Reductions and softmax, differentiable (see ampc/autograd.h).
 *
 * Every op takes F64, F32, F16 or BF16 and returns the input's dtype. Values are accumulated
 * in fp32 for F32, F16 and BF16 inputs and in fp64 for F64, over fixed chunks of the reduced
 * elements, so a result does not depend on the thread count (docs/ops/reduce.md).
 *
 * Dims: `dims` lists num_dims dims to reduce (negative ones count from the end, each at most
 * once); num_dims 0 reduces over every dim (dims may then be NULL). keepdim keeps each reduced
 * dim with size 1, else it is removed, so a reduction over all dims gives a 0-d tensor. A 0-d
 * input accepts dim 0 or -1, as in PyTorch. Each function returns a new tensor, or NULL with
 * the error set (a NULL tensor, a non-float dtype, a dim out of range or repeated). */
#ifndef AMPC_OPS_REDUCE_H
#define AMPC_OPS_REDUCE_H

#include <stdbool.h>

#include <ampc/export.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* torch.sum(a, dims, keepdim). A sum over no elements is 0. */
AMPC_API ampc_tensor *ampc_sum(const ampc_tensor *a, int num_dims, const int *dims,
                               bool keepdim);
/* torch.mean(a, dims, keepdim): the sum divided by the number of elements reduced (NaN for
 * none). */
AMPC_API ampc_tensor *ampc_mean(const ampc_tensor *a, int num_dims, const int *dims,
                                bool keepdim);
/* torch.var(a, dims, correction=correction, keepdim): sum((a - mean)^2) / max(0, n -
 * correction) over the n reduced elements, two-pass (mean first); correction 1 is the
 * unbiased estimate, 0 the population variance. correction must be finite and >= 0. */
AMPC_API ampc_tensor *ampc_var(const ampc_tensor *a, int num_dims, const int *dims,
                               double correction, bool keepdim);
/* torch.amax(a, dims, keepdim): the largest element; NaN if any reduced element is NaN.
 * The gradient is split evenly among tied maxima. The reduced dims must not be empty. */
AMPC_API ampc_tensor *ampc_max(const ampc_tensor *a, int num_dims, const int *dims,
                               bool keepdim);

/* torch.softmax(a, dim) and torch.log_softmax(a, dim): exp(a - max) / sum(exp(a - max)) along
 * dim, and a - max - log(sum(exp(a - max))), so large inputs do not overflow. Same shape as a;
 * a 0-d input takes dim 0 or -1. */
AMPC_API ampc_tensor *ampc_softmax(const ampc_tensor *a, int dim);
AMPC_API ampc_tensor *ampc_log_softmax(const ampc_tensor *a, int dim);

#ifdef __cplusplus
}
#endif
#endif
