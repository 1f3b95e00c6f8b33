/* What the three normalisation ops (norm.c: layer_norm and group_norm; norm_batch.c:
 * batch_norm) share: loading their operands in the compute dtype, the statistics, the
 * normalised output with its autograd record, and the one backward.
 *
 * An op validates its arguments, describes its input as a norm_layout
 * (src/kernels/norm_kernels.h), gets a mean and an rstd per group (from the batch with
 * norm_batch_statistics, or from running statistics), and hands them to norm_finish, which
 * writes the output and records "name" with norm_backward. */
#ifndef AMPC_OPS_NORM_COMMON_H
#define AMPC_OPS_NORM_COMMON_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/tensor.h>

#include "kernels/norm_kernels.h"

/* The op's float tensors, contiguous in the compute dtype (weight and bias may be NULL). */
typedef struct norm_operands {
    ampc_dtype compute;
    ampc_tensor *input, *weight, *bias;
} norm_operands;

/* Fails naming function unless weight (or bias, `argument`) is NULL or a float tensor of
 * `ndim` dims with sizes `shape`; `expected` says where the shape comes from. */
ampc_status norm_check_parameter(const char *function, const char *argument,
                                 const ampc_tensor *parameter, int ndim,
                                 const int64_t *shape, const char *expected);
/* The checks batch_norm and group_norm share: input is a float (N, C, ...) tensor with at
 * least 2 dims, and weight and bias are NULL or (C). */
ampc_status norm_check_channel_input(const char *function, const ampc_tensor *input,
                                     const ampc_tensor *weight, const ampc_tensor *bias);
/* Fails naming function unless eps is finite and >= 0. */
ampc_status norm_check_eps(const char *function, double eps);

/* Loads input, weight and bias into operands (F64 if any of them is F64, else F32). */
ampc_status norm_operands_load(const char *function, const ampc_tensor *input,
                               const ampc_tensor *weight, const ampc_tensor *bias,
                               norm_operands *operands);
void norm_operands_free(norm_operands *operands);

/* A new tensor of `groups` values in the compute dtype. */
ampc_tensor *norm_group_tensor(const char *function, ampc_dtype compute, int64_t groups);

/* Each group's mean and rstd from the input itself, as new (groups) tensors in the compute
 * dtype; var (groups doubles, or NULL) receives the biased variances. An empty input gets
 * empty statistics (and var is left alone). */
ampc_status norm_batch_statistics(const char *function, const norm_operands *operands,
                                  const norm_layout *layout, double eps, ampc_tensor **mean,
                                  ampc_tensor **rstd, double *var);

/* Normalises operands->input with mean and rstd (taken over: freed here on every path),
 * returns the result in input's dtype and records `name` when gradients are needed.
 * batch_statistics says whether mean and rstd came from the input (see
 * norm_backward_input). */
ampc_tensor *norm_finish(const char *function, const char *name, const ampc_tensor *input,
                         const ampc_tensor *weight, const ampc_tensor *bias,
                         const norm_operands *operands, const norm_layout *layout,
                         ampc_tensor *mean, ampc_tensor *rstd, bool batch_statistics);

#endif
