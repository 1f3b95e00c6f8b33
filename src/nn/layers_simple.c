/* The layers without parameters: Dropout, the activations, MaxPool2d, AvgPool2d, Flatten,
 * and Sequential, the container that feeds each child's output to the next.
 *
 * Each forward is one op call with the layer's settings (ampc/ops_pointwise.h, ops_norm.h,
 * ops_conv.h, ops_shape.h); the op checks the input and names itself in any error. */
#include <ampc/nn.h>
#include <ampc/ops_norm.h>
#include <ampc/ops_pointwise.h>
#include <ampc/ops_shape.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"
#include "nn/module_internal.h"
#include "tensor/tensor_internal.h"

/* --- Dropout ---------------------------------------------------------------------------------- */

typedef struct dropout_state {
    double p;
    ampc_generator *generator; /* borrowed */
} dropout_state;

static ampc_tensor *dropout_forward(ampc_module *self, const ampc_tensor *input)
{
    const dropout_state *state = self->state;
    return ampc_dropout(input, state->p, self->training, state->generator);
}

static const ampc_module_ops dropout_ops = {"Dropout", dropout_forward, free};

ampc_module *ampc_dropout_new(double p, ampc_generator *generator)
{
    if (!(p >= 0 && p <= 1)) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__, "p is %g; expected a probability in [0, 1]",
                  p);
        return NULL;
    }
    if (!generator && p > 0 && p < 1) {
        ampc_fail_null(__func__, "generator");
        return NULL;
    }
    dropout_state state = {p, generator};
    return ampc_layer_new(__func__, &dropout_ops, &state, sizeof state);
}

/* --- activations -------------------------------------------------------------------------------- */

static ampc_tensor *relu_forward(ampc_module *self, const ampc_tensor *input)
{
    (void)self;
    return ampc_relu(input);
}

static ampc_tensor *silu_forward(ampc_module *self, const ampc_tensor *input)
{
    (void)self;
    return ampc_silu(input);
}

static ampc_tensor *sigmoid_forward(ampc_module *self, const ampc_tensor *input)
{
    (void)self;
    return ampc_sigmoid(input);
}

static ampc_tensor *tanh_forward(ampc_module *self, const ampc_tensor *input)
{
    (void)self;
    return ampc_tanh(input);
}

static ampc_tensor *leaky_relu_forward(ampc_module *self, const ampc_tensor *input)
{
    return ampc_leaky_relu(input, *(const double *)self->state);
}

static ampc_tensor *gelu_forward(ampc_module *self, const ampc_tensor *input)
{
    return ampc_gelu(input, *(const ampc_gelu_approximate *)self->state);
}

static const ampc_module_ops relu_ops = {"ReLU", relu_forward, NULL};
static const ampc_module_ops silu_ops = {"SiLU", silu_forward, NULL};
static const ampc_module_ops sigmoid_ops = {"Sigmoid", sigmoid_forward, NULL};
static const ampc_module_ops tanh_ops = {"Tanh", tanh_forward, NULL};
static const ampc_module_ops leaky_relu_ops = {"LeakyReLU", leaky_relu_forward, free};
static const ampc_module_ops gelu_ops = {"GELU", gelu_forward, free};

ampc_module *ampc_relu_new(void) { return ampc_module_new(&relu_ops, NULL); }
ampc_module *ampc_silu_new(void) { return ampc_module_new(&silu_ops, NULL); }
ampc_module *ampc_sigmoid_new(void) { return ampc_module_new(&sigmoid_ops, NULL); }
ampc_module *ampc_tanh_new(void) { return ampc_module_new(&tanh_ops, NULL); }

ampc_module *ampc_leaky_relu_new(double negative_slope)
{
    if (!isfinite(negative_slope)) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "negative_slope is %g; expected a finite number (PyTorch's default is 0.01)",
                  negative_slope);
        return NULL;
    }
    return ampc_layer_new(__func__, &leaky_relu_ops, &negative_slope, sizeof negative_slope);
}

ampc_module *ampc_gelu_new(bool tanh_approximation)
{
    ampc_gelu_approximate approximate = tanh_approximation ? AMPC_GELU_TANH : AMPC_GELU_NONE;
    return ampc_layer_new(__func__, &gelu_ops, &approximate, sizeof approximate);
}

/* --- pools and Flatten -------------------------------------------------------------------------- */

static ampc_tensor *max_pool2d_forward(ampc_module *self, const ampc_tensor *input)
{
    return ampc_max_pool2d(input, self->state);
}

static ampc_tensor *avg_pool2d_forward(ampc_module *self, const ampc_tensor *input)
{
    return ampc_avg_pool2d(input, self->state);
}

static const ampc_module_ops max_pool2d_ops = {"MaxPool2d", max_pool2d_forward, free};
static const ampc_module_ops avg_pool2d_ops = {"AvgPool2d", avg_pool2d_forward, free};

/* The op checks the rest of the options at forward. */
static ampc_module *pool_new(const char *function, const ampc_module_ops *ops,
                             const ampc_pool2d_options *options)
{
    if (!options) return ampc_fail_null(function, "options"), NULL;
    if (options->kernel[0] < 1 || options->kernel[1] < 1) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "options->kernel is [%lld, %lld]; expected each >= 1",
                  (long long)options->kernel[0], (long long)options->kernel[1]);
        return NULL;
    }
    return ampc_layer_new(function, ops, options, sizeof *options);
}

ampc_module *ampc_max_pool2d_new(const ampc_pool2d_options *options)
{
    return pool_new(__func__, &max_pool2d_ops, options);
}

ampc_module *ampc_avg_pool2d_new(const ampc_pool2d_options *options)
{
    return pool_new(__func__, &avg_pool2d_ops, options);
}

typedef struct flatten_state {
    int start_dim, end_dim;
} flatten_state;

static ampc_tensor *flatten_forward(ampc_module *self, const ampc_tensor *input)
{
    const flatten_state *state = self->state;
    return ampc_flatten(input, state->start_dim, state->end_dim);
}

static const ampc_module_ops flatten_ops = {"Flatten", flatten_forward, free};

/* torch.nn.Flatten's defaults are start_dim 1, end_dim -1. */
ampc_module *ampc_flatten_new(int start_dim, int end_dim)
{
    flatten_state state = {start_dim, end_dim};
    return ampc_layer_new(__func__, &flatten_ops, &state, sizeof state);
}

/* --- Sequential --------------------------------------------------------------------------------- */

static ampc_tensor *sequential_forward(ampc_module *self, const ampc_tensor *input)
{
    /* An empty Sequential is the identity, as in PyTorch: a recorded view keeps the graph. */
    if (self->num_children == 0) return ampc_view(input, input->ndim, input->shape);
    ampc_tensor *x = NULL;
    for (int i = 0; i < self->num_children; i++) {
        ampc_tensor *next = ampc_module_forward(self->children[i].module, x ? x : input);
        ampc_tensor_free(x);
        if (!next) return NULL;
        x = next;
    }
    return x;
}

static const ampc_module_ops sequential_ops = {"Sequential", sequential_forward, NULL};

ampc_module *ampc_sequential_new(int count, ampc_module *const *modules)
{
    ampc_status status = AMPC_OK;
    if (count < 0)
        status = ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__, "count is %d; expected >= 0",
                           count);
    else if (count > 0 && !modules)
        status = ampc_fail_null(__func__, "modules");
    ampc_module *sequential = status == AMPC_OK ? ampc_module_new(&sequential_ops, NULL) : NULL;
    int i = 0;
    for (; sequential && i < count; i++)
        if (ampc_sequential_append(sequential, modules[i]) != AMPC_OK) {
            ampc_module_free(sequential);
            sequential = NULL;
        }
    /* What was not appended is still ours to free (the one that failed is freed by append). */
    for (; modules && i < count; i++) ampc_module_free(modules[i]);
    return sequential;
}

ampc_status ampc_sequential_append(ampc_module *sequential, ampc_module *module)
{
    if (!sequential) {
        ampc_module_free(module);
        return ampc_fail_null(__func__, "sequential");
    }
    if (sequential->ops != &sequential_ops) {
        ampc_module_free(module);
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "sequential is a %s; expected a Sequential", ampc_module_type(sequential));
    }
    if (!module) {
        ampc_fail(AMPC_ERR_NULL_ARGUMENT, __func__, "module %d is NULL",
                  sequential->num_children);
        return AMPC_ERR_NULL_ARGUMENT;
    }
    char name[16];
    snprintf(name, sizeof name, "%d", sequential->num_children);
    return ampc_module_add_child(sequential, name, module);
}
