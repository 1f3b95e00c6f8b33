/* ampc_layer_norm and ampc_group_norm: validation and layout; the rest is norm_common.c.
 *
 * layer_norm sees input as (M, D) rows, D the product of the normalised dims, one group per
 * row and weight/bias per element of the row. group_norm sees input (N, C, S...) as (N, C, S)
 * with one group per (sample, group of C / G channels) and weight/bias per channel. */
#include <ampc/ops_norm.h>

#include "core/error.h"
#include "ops/norm_common.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

/* Normalises with the input's own statistics: layer_norm and group_norm. */
static ampc_tensor *normalise_by_groups(const char *function, const char *name,
                                        const ampc_tensor *input, const ampc_tensor *weight,
                                        const ampc_tensor *bias, const norm_layout *layout,
                                        double eps)
{
    norm_operands operands;
    if (norm_operands_load(function, input, weight, bias, &operands) != AMPC_OK) return NULL;
    ampc_tensor *mean, *rstd, *out = NULL;
    if (norm_batch_statistics(function, &operands, layout, eps, &mean, &rstd, NULL) == AMPC_OK)
        out = norm_finish(function, name, input, weight, bias, &operands, layout, mean, rstd,
                          true);
    norm_operands_free(&operands);
    return out;
}

ampc_tensor *ampc_layer_norm(const ampc_tensor *input, int num_normalized_dims,
                             const ampc_tensor *weight, const ampc_tensor *bias, double eps)
{
    if (ampc_check_float_tensor(__func__, "input", input) != AMPC_OK) return NULL;
    int ndim = ampc_tensor_ndim(input);
    const int64_t *shape = ampc_tensor_shape(input);
    if (num_normalized_dims < 1 || num_normalized_dims > ndim) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "num_normalized_dims is %d; expected 1 to input's ndim %d", num_normalized_dims,
                  ndim);
        return NULL;
    }
    int first = ndim - num_normalized_dims;
    if (norm_check_parameter(__func__, "weight", weight, num_normalized_dims, shape + first,
                             "input's last num_normalized_dims sizes") != AMPC_OK ||
        norm_check_parameter(__func__, "bias", bias, num_normalized_dims, shape + first,
                             "input's last num_normalized_dims sizes") != AMPC_OK ||
        norm_check_eps(__func__, eps) != AMPC_OK)
        return NULL;
    int64_t rows = ampc_shape_numel(first, shape);
    int64_t row_length = ampc_shape_numel(num_normalized_dims, shape + first);
    norm_layout layout = {.outer = rows, .channels = row_length, .inner = 1,
                          .groups_per_outer = 1, .channels_per_group = row_length};
    return normalise_by_groups(__func__, "layer_norm", input, weight, bias, &layout, eps);
}

ampc_tensor *ampc_group_norm(const ampc_tensor *input, int64_t num_groups,
                             const ampc_tensor *weight, const ampc_tensor *bias, double eps)
{
    if (norm_check_channel_input(__func__, input, weight, bias) != AMPC_OK ||
        norm_check_eps(__func__, eps) != AMPC_OK)
        return NULL;
    int ndim = ampc_tensor_ndim(input);
    const int64_t *shape = ampc_tensor_shape(input);
    int64_t channels = shape[1];
    if (num_groups < 1 || channels % num_groups != 0) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "num_groups is %lld; expected a positive divisor of input's %lld channels",
                  (long long)num_groups, (long long)channels);
        return NULL;
    }
    norm_layout layout = {.outer = shape[0], .channels = channels,
                          .inner = ampc_shape_numel(ndim - 2, shape + 2),
                          .groups_per_outer = num_groups,
                          .channels_per_group = channels / num_groups};
    return normalise_by_groups(__func__, "group_norm", input, weight, bias, &layout, eps);
}
