/* The normalisation layers: BatchNorm1d/2d, LayerNorm, GroupNorm (ampc/ops_norm.h).
 *
 * Affine parameters start at ones (weight) and zeros (bias), kinds NORM_WEIGHT and NORM_BIAS
 * so that mixed precision can keep them in fp32. BatchNorm registers, as PyTorch does,
 * weight and bias, then the buffers running_mean (zeros), running_var (ones) and
 * num_batches_tracked (an I64 0-d zero).
 *
 * BatchNorm's mode, as torch.nn.modules.batchnorm._BatchNorm.forward:
 *   training, tracking: batch statistics; the running ones updated with momentum
 *                       (unbiased variance) and num_batches_tracked incremented;
 *   eval, tracking:     the running statistics;
 *   not tracking:       batch statistics always, no buffers.
 * PyTorch's momentum=None (a cumulative average over num_batches_tracked) is not offered. */
#include <ampc/nn.h>
#include <ampc/ops_norm.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "nn/module_internal.h"
#include "tensor/tensor_internal.h"

static ampc_status check_eps(const char *function, double eps)
{
    if (isfinite(eps) && eps >= 0) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "eps is %g; expected finite and >= 0",
                     eps);
}

/* weight (ones) and bias (zeros) of the given shape; frees module and returns NULL on
 * failure. */
static ampc_module *add_affine(ampc_module *module, int ndim, const int64_t *shape)
{
    ampc_status status = module ? AMPC_OK : ampc_error_status();
    if (status == AMPC_OK)
        status = ampc_module_add_parameter(module, "weight", ampc_tensor_ones(AMPC_F32, ndim, shape),
                                           AMPC_PARAM_NORM_WEIGHT);
    if (status == AMPC_OK)
        status = ampc_module_add_parameter(module, "bias", ampc_tensor_zeros(AMPC_F32, ndim, shape),
                                           AMPC_PARAM_NORM_BIAS);
    if (status == AMPC_OK) return module;
    ampc_module_free(module);
    return NULL;
}

/* --- BatchNorm ---------------------------------------------------------------------------------- */

typedef struct batch_norm_state {
    int64_t num_features;
    double eps, momentum;
    bool track_running_stats;
    bool two_d; /* BatchNorm2d: (N, C, H, W); else BatchNorm1d: (N, C) or (N, C, L) */
} batch_norm_state;

static bool batch_norm_input_fits(const batch_norm_state *state, const ampc_tensor *input)
{
    bool rank_fits = state->two_d ? input->ndim == 4 : (input->ndim == 2 || input->ndim == 3);
    return rank_fits && input->shape[1] == state->num_features;
}

static ampc_status count_batch(ampc_module *self)
{
    ampc_tensor *count = ampc_module_local(self, "num_batches_tracked");
    int64_t no_index[1] = {0}; /* a 0-d tensor reads no index entries */
    double value;
    ampc_status status = ampc_tensor_get(count, no_index, &value);
    return status == AMPC_OK ? ampc_tensor_set(count, no_index, value + 1) : status;
}

static ampc_tensor *batch_norm_forward(ampc_module *self, const ampc_tensor *input)
{
    const batch_norm_state *state = self->state;
    if (!batch_norm_input_fits(state, input)) {
        char what[64];
        long long c = (long long)state->num_features;
        snprintf(what, sizeof what, "%s (num_features %lld)", self->ops->type_name, c);
        return state->two_d
                   ? ampc_module_bad_input(input, what, "(N, %lld, H, W)", c)
                   : ampc_module_bad_input(input, what, "(N, %lld) or (N, %lld, L)", c, c);
    }
    bool use_batch_statistics = self->training || !state->track_running_stats;
    ampc_tensor *out = ampc_batch_norm(input, ampc_module_local(self, "running_mean"),
                                       ampc_module_local(self, "running_var"),
                                       ampc_module_local(self, "weight"),
                                       ampc_module_local(self, "bias"), use_batch_statistics,
                                       state->momentum, state->eps);
    if (out && self->training && state->track_running_stats && count_batch(self) != AMPC_OK) {
        ampc_tensor_free(out);
        return NULL;
    }
    return out;
}

static const ampc_module_ops batch_norm1d_ops = {"BatchNorm1d", batch_norm_forward, free};
static const ampc_module_ops batch_norm2d_ops = {"BatchNorm2d", batch_norm_forward, free};

static ampc_status add_running_stats(ampc_module *module, int64_t num_features)
{
    ampc_status status = ampc_module_add_buffer(module, "running_mean",
                                                ampc_tensor_zeros(AMPC_F32, 1, &num_features),
                                                AMPC_BUFFER_RUNNING_MEAN);
    if (status == AMPC_OK)
        status = ampc_module_add_buffer(module, "running_var",
                                        ampc_tensor_ones(AMPC_F32, 1, &num_features),
                                        AMPC_BUFFER_RUNNING_VAR);
    if (status == AMPC_OK)
        status = ampc_module_add_buffer(module, "num_batches_tracked",
                                        ampc_tensor_zeros(AMPC_I64, 0, NULL),
                                        AMPC_BUFFER_NUM_BATCHES_TRACKED);
    return status;
}

static ampc_module *batch_norm_new(const char *function, const ampc_module_ops *ops,
                                   bool two_d, int64_t num_features, double eps,
                                   double momentum, bool affine, bool track_running_stats)
{
    ampc_status status = AMPC_OK;
    if (num_features < 1)
        status = ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                           "num_features is %lld; expected >= 1", (long long)num_features);
    if (status == AMPC_OK) status = check_eps(function, eps);
    if (status == AMPC_OK && !isfinite(momentum))
        status = ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                           "momentum is %g; expected a finite number (PyTorch's 0.1 is usual; "
                           "momentum=None is not supported)",
                           momentum);
    if (status != AMPC_OK) return NULL;
    batch_norm_state state = {num_features, eps, momentum, track_running_stats, two_d};
    ampc_module *module = ampc_layer_new(function, ops, &state, sizeof state);
    if (module && affine) module = add_affine(module, 1, &num_features);
    if (module && track_running_stats && add_running_stats(module, num_features) != AMPC_OK) {
        ampc_module_free(module);
        return NULL;
    }
    return module;
}

ampc_module *ampc_batch_norm1d_new(int64_t num_features, double eps, double momentum,
                                   bool affine, bool track_running_stats)
{
    return batch_norm_new(__func__, &batch_norm1d_ops, false, num_features, eps, momentum,
                          affine, track_running_stats);
}

ampc_module *ampc_batch_norm2d_new(int64_t num_features, double eps, double momentum,
                                   bool affine, bool track_running_stats)
{
    return batch_norm_new(__func__, &batch_norm2d_ops, true, num_features, eps, momentum,
                          affine, track_running_stats);
}

/* --- LayerNorm ---------------------------------------------------------------------------------- */

typedef struct layer_norm_state {
    int num_dims;
    int64_t shape[AMPC_MAX_DIMS];
    double eps;
} layer_norm_state;

static ampc_tensor *layer_norm_forward(ampc_module *self, const ampc_tensor *input)
{
    const layer_norm_state *state = self->state;
    bool fits = input->ndim >= state->num_dims;
    for (int d = 0; fits && d < state->num_dims; d++)
        fits = input->shape[input->ndim - state->num_dims + d] == state->shape[d];
    if (!fits) {
        char shape[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(shape, sizeof shape, state->num_dims, state->shape);
        char what[AMPC_SHAPE_TEXT_CAPACITY + 64];
        snprintf(what, sizeof what, "LayerNorm (normalized_shape %s)", shape);
        return ampc_module_bad_input(input, what, "last dims %s", shape);
    }
    return ampc_layer_norm(input, state->num_dims, ampc_module_local(self, "weight"),
                           ampc_module_local(self, "bias"), state->eps);
}

static const ampc_module_ops layer_norm_ops = {"LayerNorm", layer_norm_forward, free};

ampc_module *ampc_layer_norm_new(int num_dims, const int64_t *shape, double eps,
                                 bool elementwise_affine)
{
    if (num_dims < 1 || num_dims > AMPC_MAX_DIMS) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__, "num_dims is %d; expected 1 to %d",
                  num_dims, AMPC_MAX_DIMS);
        return NULL;
    }
    if (!shape) return ampc_fail_null(__func__, "shape"), NULL;
    layer_norm_state state = {num_dims, {0}, eps};
    for (int d = 0; d < num_dims; d++) {
        if (shape[d] < 1) {
            ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__, "shape[%d] is %lld; expected >= 1", d,
                      (long long)shape[d]);
            return NULL;
        }
        state.shape[d] = shape[d];
    }
    if (check_eps(__func__, eps) != AMPC_OK) return NULL;
    ampc_module *module = ampc_layer_new(__func__, &layer_norm_ops, &state, sizeof state);
    return module && elementwise_affine ? add_affine(module, num_dims, shape) : module;
}

/* --- GroupNorm ---------------------------------------------------------------------------------- */

typedef struct group_norm_state {
    int64_t num_groups, num_channels;
    double eps;
} group_norm_state;

static ampc_tensor *group_norm_forward(ampc_module *self, const ampc_tensor *input)
{
    const group_norm_state *state = self->state;
    if (input->ndim < 2 || input->shape[1] != state->num_channels) {
        char what[64];
        snprintf(what, sizeof what, "GroupNorm (num_channels %lld)",
                 (long long)state->num_channels);
        return ampc_module_bad_input(input, what, "(N, %lld, ...)",
                                     (long long)state->num_channels);
    }
    return ampc_group_norm(input, state->num_groups, ampc_module_local(self, "weight"),
                           ampc_module_local(self, "bias"), state->eps);
}

static const ampc_module_ops group_norm_ops = {"GroupNorm", group_norm_forward, free};

ampc_module *ampc_group_norm_new(int64_t num_groups, int64_t num_channels, double eps,
                                 bool affine)
{
    ampc_status status = AMPC_OK;
    if (num_groups < 1 || num_channels < 1 || num_channels % num_groups)
        status = ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                           "num_groups %lld and num_channels %lld; expected both >= 1 and "
                           "num_groups dividing num_channels",
                           (long long)num_groups, (long long)num_channels);
    if (status == AMPC_OK) status = check_eps(__func__, eps);
    if (status != AMPC_OK) return NULL;
    group_norm_state state = {num_groups, num_channels, eps};
    ampc_module *module = ampc_layer_new(__func__, &group_norm_ops, &state, sizeof state);
    return module && affine ? add_affine(module, 1, &num_channels) : module;
}
