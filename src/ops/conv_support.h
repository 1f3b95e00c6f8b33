/* What conv.c and pool.c share: the check of an options pair, and the compute-dtype buffers
 * their results and gradients are made in. */
#ifndef AMPC_OPS_CONV_SUPPORT_H
#define AMPC_OPS_CONV_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <ampc/error.h>

#include "core/error.h"
#include "tensor/tensor_internal.h"

/* Fails naming options->name unless both entries of the (height, width) pair are >= minimum. */
static inline ampc_status ampc_conv_check_pair(const char *function, const char *name,
                                               const int64_t *pair, int64_t minimum)
{
    if (pair[0] >= minimum && pair[1] >= minimum) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "options->%s is [%lld, %lld]; expected each >= %lld", name,
                     (long long)pair[0], (long long)pair[1], (long long)minimum);
}

/* a * b + c into *result, or false when any step overflows int64 (huge options). */
static inline bool ampc_conv_mul_add(int64_t a, int64_t b, int64_t c, int64_t *result)
{
    int64_t product;
    return !__builtin_mul_overflow(a, b, &product) && !__builtin_add_overflow(product, c, result);
}

/* For output-size formulas whose options overflow int64; returns -1 for the caller. */
static inline int64_t ampc_conv_fail_too_large(const char *function, const char *dim_name)
{
    ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
              "the options are too large: the output's %s does not fit in 64 bits", dim_name);
    return -1;
}

/* A zeroed (N-d) buffer in the compute dtype for a result that ends up in `dtype`: the result
 * itself, made wherever tensors go now, when the two agree; else a heap temporary, which
 * ampc_from_compute converts and frees (an arena would keep it until its reset). */
static inline ampc_tensor *ampc_conv_compute_zeros(const char *function, ampc_dtype compute,
                                                   ampc_dtype dtype, int ndim,
                                                   const int64_t *shape)
{
    if (compute == dtype) return ampc_tensor_zeros(compute, ndim, shape);
    if (ampc_shape_checked_numel(function, compute, ndim, shape) < 0) return NULL;
    ampc_tensor *buffer = ampc_tensor_new_in(function, NULL, compute, ndim, shape);
    if (buffer) memset(ampc_tensor_data(buffer), 0, ampc_tensor_nbytes(buffer));
    return buffer;
}

#endif
