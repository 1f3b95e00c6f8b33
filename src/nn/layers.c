/* The layers with weights drawn at random: Linear, Conv2d, ConvTranspose2d and Embedding.
 *
 * Each is a state struct (the sizes its forward checks), a forward that checks the input's
 * shape against them and calls the op (ampc/ops_linalg.h, ops_conv.h, ops_norm.h), and a
 * constructor that draws the parameters as PyTorch's reset_parameters does:
 *   kaiming_uniform_(weight, a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain sqrt(3 / fan_in)
 *   = 1 / sqrt(fan_in); the bias uniform in the same +-1 / sqrt(fan_in). fan_in is
 *   weight.size(1) * kh * kw as torch's _calculate_fan_in_and_fan_out computes it: in_features,
 *   in_channels / groups * kh * kw for Conv2d, and out_channels / groups * kh * kw for
 *   ConvTranspose2d, whose weight is (in, out / groups, kh, kw).
 * The weight is drawn before the bias, as in PyTorch (the values differ: ampc's Philox). */
#include <ampc/nn.h>
#include <ampc/ops_linalg.h>
#include <ampc/ops_norm.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "nn/module_internal.h"
#include "tensor/tensor_internal.h"

static ampc_status check_positive(const char *function, const char *argument, int64_t value)
{
    if (value >= 1) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "%s is %lld; expected >= 1", argument,
                     (long long)value);
}

static ampc_status check_generator(const char *function, const ampc_generator *generator)
{
    return generator ? AMPC_OK : ampc_fail_null(function, "generator");
}

/* Adds U(-bound, bound) F32 parameter `name` of the given shape to module (NULL module: the
 * error already set; nothing is drawn). */
static ampc_status add_uniform(ampc_module *module, const char *name, ampc_param_kind kind,
                               int ndim, const int64_t *shape, double bound,
                               ampc_generator *generator)
{
    if (!module) return ampc_error_status();
    ampc_tensor *tensor = ampc_tensor_uniform(generator, AMPC_F32, ndim, shape, -bound, bound);
    return ampc_module_add_parameter(module, name, tensor, kind);
}

/* The weight, then (if bias) the bias of out_features elements, both +-1/sqrt(fan_in); frees
 * the module and returns NULL on failure. */
static ampc_module *add_weight_and_bias(ampc_module *module, int ndim,
                                        const int64_t *weight_shape, int64_t fan_in,
                                        int64_t bias_size, bool bias, ampc_generator *generator)
{
    double bound = 1.0 / sqrt((double)fan_in);
    ampc_status status = add_uniform(module, "weight", AMPC_PARAM_WEIGHT, ndim, weight_shape,
                                     bound, generator);
    if (status == AMPC_OK && bias)
        status = add_uniform(module, "bias", AMPC_PARAM_BIAS, 1, &bias_size, bound, generator);
    if (status == AMPC_OK) return module;
    ampc_module_free(module);
    return NULL;
}

/* --- Linear ----------------------------------------------------------------------------------- */

typedef struct linear_state {
    int64_t in_features, out_features;
} linear_state;

static ampc_tensor *linear_forward(ampc_module *self, const ampc_tensor *input)
{
    const linear_state *state = self->state;
    if (input->ndim < 1 || input->shape[input->ndim - 1] != state->in_features) {
        char what[64];
        snprintf(what, sizeof what, "Linear (in_features %lld)", (long long)state->in_features);
        return ampc_module_bad_input(input, what, "last dim %lld",
                                     (long long)state->in_features);
    }
    return ampc_linear(input, ampc_module_local(self, "weight"), ampc_module_local(self, "bias"));
}

static const ampc_module_ops linear_ops = {"Linear", linear_forward, free};

ampc_module *ampc_linear_new(int64_t in_features, int64_t out_features, bool bias,
                             ampc_generator *generator)
{
    ampc_status status = check_positive(__func__, "in_features", in_features);
    if (status == AMPC_OK) status = check_positive(__func__, "out_features", out_features);
    if (status == AMPC_OK) status = check_generator(__func__, generator);
    if (status != AMPC_OK) return NULL;
    linear_state state = {in_features, out_features};
    int64_t weight_shape[2] = {out_features, in_features};
    return add_weight_and_bias(ampc_layer_new(__func__, &linear_ops, &state, sizeof state), 2,
                               weight_shape, in_features, out_features, bias, generator);
}

/* --- Conv2d and ConvTranspose2d ----------------------------------------------------------------- */

typedef struct conv_state {
    int64_t in_channels, out_channels;
    ampc_conv2d_options options;
} conv_state;

static ampc_tensor *conv_check_input(const ampc_module *self, const ampc_tensor *input)
{
    const conv_state *state = self->state;
    if ((input->ndim == 3 || input->ndim == 4) &&
        input->shape[input->ndim - 3] == state->in_channels)
        return (ampc_tensor *)input;
    char what[64];
    snprintf(what, sizeof what, "%s (in_channels %lld)", self->ops->type_name,
             (long long)state->in_channels);
    return ampc_module_bad_input(input, what, "(N, %lld, H, W) or (%lld, H, W)",
                                 (long long)state->in_channels, (long long)state->in_channels);
}

static ampc_tensor *conv2d_forward(ampc_module *self, const ampc_tensor *input)
{
    if (!conv_check_input(self, input)) return NULL;
    const conv_state *state = self->state;
    return ampc_conv2d(input, ampc_module_local(self, "weight"), ampc_module_local(self, "bias"),
                       &state->options);
}

static ampc_tensor *conv_transpose2d_forward(ampc_module *self, const ampc_tensor *input)
{
    if (!conv_check_input(self, input)) return NULL;
    const conv_state *state = self->state;
    return ampc_conv_transpose2d(input, ampc_module_local(self, "weight"),
                                 ampc_module_local(self, "bias"), &state->options);
}

static const ampc_module_ops conv2d_ops = {"Conv2d", conv2d_forward, free};
static const ampc_module_ops conv_transpose2d_ops = {"ConvTranspose2d", conv_transpose2d_forward,
                                                     free};

/* Sizes and groups; the op checks stride, padding, dilation and output_padding at forward. */
static ampc_status check_conv_sizes(const char *function, int64_t in_channels,
                                    int64_t out_channels, int64_t kernel_h, int64_t kernel_w,
                                    const ampc_conv2d_options *options,
                                    const ampc_generator *generator)
{
    ampc_status status = check_positive(function, "in_channels", in_channels);
    if (status == AMPC_OK) status = check_positive(function, "out_channels", out_channels);
    if (status == AMPC_OK) status = check_positive(function, "kernel_h", kernel_h);
    if (status == AMPC_OK) status = check_positive(function, "kernel_w", kernel_w);
    if (status == AMPC_OK) status = check_positive(function, "options->groups", options->groups);
    if (status == AMPC_OK && (in_channels % options->groups || out_channels % options->groups))
        status = ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                           "options->groups %lld does not divide in_channels %lld and "
                           "out_channels %lld",
                           (long long)options->groups, (long long)in_channels,
                           (long long)out_channels);
    if (status == AMPC_OK) status = check_generator(function, generator);
    return status;
}

static ampc_module *conv_new(const char *function, const ampc_module_ops *ops, bool transposed,
                             int64_t in_channels, int64_t out_channels, int64_t kernel_h,
                             int64_t kernel_w, const ampc_conv2d_options *options, bool bias,
                             ampc_generator *generator)
{
    conv_state state = {in_channels, out_channels,
                        options ? *options : ampc_conv2d_defaults()};
    if (check_conv_sizes(function, in_channels, out_channels, kernel_h, kernel_w,
                         &state.options, generator) != AMPC_OK)
        return NULL;
    int64_t groups = state.options.groups;
    int64_t weight_shape[4] = {out_channels, in_channels / groups, kernel_h, kernel_w};
    if (transposed) {
        weight_shape[0] = in_channels;
        weight_shape[1] = out_channels / groups;
    }
    int64_t fan_in = weight_shape[1] * kernel_h * kernel_w;
    return add_weight_and_bias(ampc_layer_new(function, ops, &state, sizeof state), 4,
                               weight_shape, fan_in, out_channels, bias, generator);
}

ampc_module *ampc_conv2d_new(int64_t in_channels, int64_t out_channels, int64_t kernel_h,
                             int64_t kernel_w, const ampc_conv2d_options *options, bool bias,
                             ampc_generator *generator)
{
    return conv_new(__func__, &conv2d_ops, false, in_channels, out_channels, kernel_h, kernel_w,
                    options, bias, generator);
}

ampc_module *ampc_conv_transpose2d_new(int64_t in_channels, int64_t out_channels,
                                       int64_t kernel_h, int64_t kernel_w,
                                       const ampc_conv2d_options *options, bool bias,
                                       ampc_generator *generator)
{
    return conv_new(__func__, &conv_transpose2d_ops, true, in_channels, out_channels, kernel_h,
                    kernel_w, options, bias, generator);
}

/* --- Embedding -------------------------------------------------------------------------------- */

typedef struct embedding_state {
    int64_t num_embeddings, padding_idx;
} embedding_state;

static ampc_tensor *embedding_forward(ampc_module *self, const ampc_tensor *input)
{
    const embedding_state *state = self->state;
    if (input->dtype != AMPC_I64 && input->dtype != AMPC_I32) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, "ampc_module_forward",
                  "Embedding (num_embeddings %lld) got input of dtype %s; expected I64 or I32 "
                  "indices",
                  (long long)state->num_embeddings, ampc_dtype_name(input->dtype));
        return NULL;
    }
    return ampc_embedding(input, ampc_module_local(self, "weight"), state->padding_idx);
}

static const ampc_module_ops embedding_ops = {"Embedding", embedding_forward, free};

/* N(0, 1) with the padding row zeroed, as torch.nn.Embedding.reset_parameters. */
static ampc_tensor *embedding_weight(int64_t num_embeddings, int64_t embedding_dim,
                                     int64_t padding_idx, ampc_generator *generator)
{
    int64_t shape[2] = {num_embeddings, embedding_dim};
    ampc_tensor *weight = ampc_tensor_randn(generator, AMPC_F32, 2, shape);
    if (weight && padding_idx >= 0) {
        float *row = (float *)ampc_tensor_data(weight) + padding_idx * embedding_dim;
        for (int64_t i = 0; i < embedding_dim; i++) row[i] = 0.0f;
    }
    return weight;
}

ampc_module *ampc_embedding_new(int64_t num_embeddings, int64_t embedding_dim,
                                int64_t padding_idx, ampc_generator *generator)
{
    ampc_status status = check_positive(__func__, "num_embeddings", num_embeddings);
    if (status == AMPC_OK) status = check_positive(__func__, "embedding_dim", embedding_dim);
    if (status == AMPC_OK && (padding_idx < -1 || padding_idx >= num_embeddings))
        status = ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                           "padding_idx is %lld; expected -1 (none) or a row in [0, %lld)",
                           (long long)padding_idx, (long long)num_embeddings);
    if (status == AMPC_OK) status = check_generator(__func__, generator);
    if (status != AMPC_OK) return NULL;
    embedding_state state = {num_embeddings, padding_idx};
    ampc_module *module = ampc_layer_new(__func__, &embedding_ops, &state, sizeof state);
    if (!module) return NULL;
    ampc_tensor *weight = embedding_weight(num_embeddings, embedding_dim, padding_idx, generator);
    if (ampc_module_add_parameter(module, "weight", weight, AMPC_PARAM_WEIGHT) == AMPC_OK)
        return module;
    ampc_module_free(module);
    return NULL;
}
