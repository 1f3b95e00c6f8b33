/* The ops `ampc bench ops` measures, as data: each case names its sizes (the measured ones
 * and --quick's), builds its tensors in a dtype, calls the op, and counts its work.
 *
 * Sizes are those of a training step: a transformer block's linear layer, layer norm,
 * softmax and causal attention, a ResNet stage's 3x3 convolution, batch norm and max pool,
 * activations of 16M elements, and a 1000-class loss. Float inputs are normal(0, 1) and all
 * require grad (an activation feeding the op is a leaf here, as its producer's output would
 * be); weights, biases and norm parameters are in the op's dtype too, so each row is the op
 * itself in that dtype. Work is counted as follows:
 *   compute-bound  flops of forward + backward: a product of m x k by k x n is 2mnk, and its
 *                  backward two more of the same size. Attention counts QK^T and PV forward
 *                  and dV, dP, dQ, dK backward (12 L S E per head), over the causally
 *                  unmasked (i, j) pairs only; recomputing the probabilities is not counted.
 *   memory-bound   elements that must be read and written at least: the forward's inputs
 *                  and outputs, the backward's upstream gradient, the tensors it reads back
 *                  and the input gradients. Statistics, indices and scalars are left out. */
#include "bench_ops.h"

#include <stdlib.h>

const ampc_dtype ampc_bench_ops_dtypes[AMPC_BENCH_OPS_DTYPES] = {AMPC_F32, AMPC_BF16, AMPC_F16};

enum { KERNEL = 3, NORMALIZED_DIMS = 1 };
static const double EPS = 1e-5, MOMENTUM = 0.1;

static bool add_tensor(ampc_bench_ops_inputs *inputs, const char *name, ampc_tensor *tensor,
                       bool leaf)
{
    if (!tensor) return false;
    inputs->names[inputs->count] = name;
    inputs->tensors[inputs->count++] = tensor;
    return !leaf || ampc_tensor_set_requires_grad(tensor, true) == AMPC_OK;
}

/* A normal(0, 1) tensor that requires grad. */
static bool add_leaf(ampc_bench_ops_inputs *inputs, const char *name, ampc_generator *generator,
                     ampc_dtype dtype, int ndim, const int64_t *shape)
{
    return add_tensor(inputs, name, ampc_tensor_randn(generator, dtype, ndim, shape), true);
}

static ampc_tensor *input(const ampc_bench_ops_inputs *inputs, int i)
{
    return inputs->tensors[i];
}

/* ---- linear: dims {M, K, N}, x (M, K), W (N, K), b (N). ---- */

static bool make_linear(const int64_t *d, ampc_dtype dtype, ampc_generator *g,
                        ampc_bench_ops_inputs *in)
{
    return add_leaf(in, "x", g, dtype, 2, (int64_t[]){d[0], d[1]}) &&
           add_leaf(in, "W", g, dtype, 2, (int64_t[]){d[2], d[1]}) &&
           add_leaf(in, "b", g, dtype, 1, (int64_t[]){d[2]});
}

static ampc_tensor *forward_linear(const ampc_bench_ops_inputs *in)
{
    return ampc_linear(input(in, 0), input(in, 1), input(in, 2));
}

static double work_linear(const int64_t *d) { return 6.0 * (double)d[0] * (double)d[1] * (double)d[2]; }

/* ---- conv2d: dims {N, C, H = W, C_out}, 3x3, stride 1, pad 1. ---- */

static bool make_conv2d(const int64_t *d, ampc_dtype dtype, ampc_generator *g,
                        ampc_bench_ops_inputs *in)
{
    return add_leaf(in, "x", g, dtype, 4, (int64_t[]){d[0], d[1], d[2], d[2]}) &&
           add_leaf(in, "W", g, dtype, 4, (int64_t[]){d[3], d[1], KERNEL, KERNEL}) &&
           add_leaf(in, "b", g, dtype, 1, (int64_t[]){d[3]});
}

static ampc_tensor *forward_conv2d(const ampc_bench_ops_inputs *in)
{
    ampc_conv2d_options options = ampc_conv2d_defaults();
    options.padding[0] = options.padding[1] = KERNEL / 2;
    return ampc_conv2d(input(in, 0), input(in, 1), input(in, 2), &options);
}

static double work_conv2d(const int64_t *d)
{
    double outputs = (double)d[0] * (double)d[3] * (double)d[2] * (double)d[2];
    return 6.0 * outputs * (double)d[1] * KERNEL * KERNEL;
}

/* ---- Row-wise ops: dims {rows, columns}. ---- */

static bool make_rows(const int64_t *d, ampc_dtype dtype, ampc_generator *g,
                      ampc_bench_ops_inputs *in)
{
    return add_leaf(in, "x", g, dtype, 2, (int64_t[]){d[0], d[1]});
}

static bool make_layer_norm(const int64_t *d, ampc_dtype dtype, ampc_generator *g,
                            ampc_bench_ops_inputs *in)
{
    return make_rows(d, dtype, g, in) && add_leaf(in, "w", g, dtype, 1, (int64_t[]){d[1]}) &&
           add_leaf(in, "b", g, dtype, 1, (int64_t[]){d[1]});
}

static ampc_tensor *forward_layer_norm(const ampc_bench_ops_inputs *in)
{
    return ampc_layer_norm(input(in, 0), NORMALIZED_DIMS, input(in, 1), input(in, 2), EPS);
}

static ampc_tensor *forward_softmax(const ampc_bench_ops_inputs *in)
{
    return ampc_softmax(input(in, 0), -1);
}

/* Targets (N) of classes spread over 0 .. C - 1. */
static bool make_cross_entropy(const int64_t *d, ampc_dtype dtype, ampc_generator *g,
                               ampc_bench_ops_inputs *in)
{
    int64_t *classes = malloc((size_t)d[0] * sizeof *classes);
    if (!classes) return false;
    for (int64_t i = 0; i < d[0]; i++) classes[i] = (i * 7919) % d[1];
    ampc_tensor *target = ampc_tensor_from_data(classes, AMPC_I64, 1, (int64_t[]){d[0]});
    free(classes);
    return make_rows(d, dtype, g, in) && add_tensor(in, "target", target, false);
}

static ampc_tensor *forward_cross_entropy(const ampc_bench_ops_inputs *in)
{
    return ampc_cross_entropy(input(in, 0), input(in, 1), NULL);
}

static double elements(const int64_t *d, int count)
{
    double product = 1.0;
    for (int i = 0; i < count; i++) product *= (double)d[i];
    return product;
}

/* Forward reads x and writes y; backward reads dy and x (or y) and writes dx. */
static double work_rows(const int64_t *d) { return 5.0 * elements(d, 2); }

/* Forward reads the logits; backward reads them again and writes their gradient. */
static double work_cross_entropy(const int64_t *d) { return 3.0 * elements(d, 2); }

/* ---- Elementwise ops: dims {n}. ---- */

static bool make_vector(const int64_t *d, ampc_dtype dtype, ampc_generator *g,
                        ampc_bench_ops_inputs *in)
{
    return add_leaf(in, "x", g, dtype, 1, d);
}

static bool make_pair(const int64_t *d, ampc_dtype dtype, ampc_generator *g,
                      ampc_bench_ops_inputs *in)
{
    return add_leaf(in, "a", g, dtype, 1, d) && add_leaf(in, "b", g, dtype, 1, d);
}

static ampc_tensor *forward_gelu(const ampc_bench_ops_inputs *in)
{
    return ampc_gelu(input(in, 0), AMPC_GELU_NONE);
}

static ampc_tensor *forward_relu(const ampc_bench_ops_inputs *in) { return ampc_relu(input(in, 0)); }

static ampc_tensor *forward_add(const ampc_bench_ops_inputs *in)
{
    return ampc_add(input(in, 0), input(in, 1));
}

static double work_unary(const int64_t *d) { return 5.0 * elements(d, 1); }

/* Forward reads a and b and writes c; backward reads dc and writes da and db. */
static double work_add(const int64_t *d) { return 6.0 * elements(d, 1); }

/* ---- Attention: dims {batch x heads, L = S, E}, causal. ---- */

static bool make_attention(const int64_t *d, ampc_dtype dtype, ampc_generator *g,
                           ampc_bench_ops_inputs *in)
{
    const int64_t shape[] = {d[0], d[1], d[2]};
    return add_leaf(in, "q", g, dtype, 3, shape) && add_leaf(in, "k", g, dtype, 3, shape) &&
           add_leaf(in, "v", g, dtype, 3, shape);
}

static ampc_tensor *forward_attention(const ampc_bench_ops_inputs *in)
{
    return ampc_scaled_dot_product_attention(input(in, 0), input(in, 1), input(in, 2), true, 0.0);
}

static double work_attention(const int64_t *d)
{
    double unmasked_pairs = (double)d[1] * (double)(d[1] + 1) / 2.0;
    return 12.0 * (double)d[0] * unmasked_pairs * (double)d[2];
}

/* ---- Image ops: dims {N, C, H = W}. ---- */

static bool make_image(const int64_t *d, ampc_dtype dtype, ampc_generator *g,
                       ampc_bench_ops_inputs *in)
{
    return add_leaf(in, "x", g, dtype, 4, (int64_t[]){d[0], d[1], d[2], d[2]});
}

/* Training mode with running statistics, as a BatchNorm2d layer in training. */
static bool make_batch_norm(const int64_t *d, ampc_dtype dtype, ampc_generator *g,
                            ampc_bench_ops_inputs *in)
{
    const int64_t channels[] = {d[1]};
    return make_image(d, dtype, g, in) && add_leaf(in, "w", g, dtype, 1, channels) &&
           add_leaf(in, "b", g, dtype, 1, channels) &&
           add_tensor(in, "mean", ampc_tensor_zeros(dtype, 1, channels), false) &&
           add_tensor(in, "var", ampc_tensor_ones(dtype, 1, channels), false);
}

static ampc_tensor *forward_batch_norm(const ampc_bench_ops_inputs *in)
{
    return ampc_batch_norm(input(in, 0), input(in, 3), input(in, 4), input(in, 1), input(in, 2),
                           true, MOMENTUM, EPS);
}

/* ResNet's stem pool: 3x3, stride 2, pad 1. */
static ampc_tensor *forward_max_pool2d(const ampc_bench_ops_inputs *in)
{
    ampc_pool2d_options options = ampc_pool2d_defaults(KERNEL, KERNEL);
    options.stride[0] = options.stride[1] = 2;
    options.padding[0] = options.padding[1] = KERNEL / 2;
    return ampc_max_pool2d(input(in, 0), &options);
}

static double work_image(const int64_t *d) { return 5.0 * elements(d, 3) * (double)d[2]; }

/* Forward reads x and writes a quarter of it; backward reads that quarter's gradient and
 * writes dx. */
static double work_max_pool2d(const int64_t *d) { return 2.5 * elements(d, 3) * (double)d[2]; }

enum { M16 = 16 << 20 };

const ampc_bench_ops_case ampc_bench_ops_cases[] = {
    {"linear", "", AMPC_BENCH_OPS_COMPUTE, {{4096, 1024, 1024}, {64, 32, 48}}, make_linear,
     forward_linear, work_linear},
    {"conv2d", "3x3, pad 1", AMPC_BENCH_OPS_COMPUTE, {{32, 64, 56, 64}, {2, 4, 8, 4}},
     make_conv2d, forward_conv2d, work_conv2d},
    {"attention", "causal", AMPC_BENCH_OPS_COMPUTE, {{16, 512, 64}, {2, 16, 8}},
     make_attention, forward_attention, work_attention},
    {"layer_norm", "last dim", AMPC_BENCH_OPS_MEMORY, {{8192, 1024}, {64, 32}}, make_layer_norm,
     forward_layer_norm, work_rows},
    {"softmax", "last dim", AMPC_BENCH_OPS_MEMORY, {{4096, 1024}, {64, 32}}, make_rows,
     forward_softmax, work_rows},
    {"gelu", "erf", AMPC_BENCH_OPS_MEMORY, {{M16}, {4096}}, make_vector, forward_gelu,
     work_unary},
    {"relu", "", AMPC_BENCH_OPS_MEMORY, {{M16}, {4096}}, make_vector, forward_relu, work_unary},
    {"add", "", AMPC_BENCH_OPS_MEMORY, {{M16}, {4096}}, make_pair, forward_add, work_add},
    {"cross_entropy", "mean", AMPC_BENCH_OPS_MEMORY, {{4096, 1000}, {64, 10}},
     make_cross_entropy, forward_cross_entropy, work_cross_entropy},
    {"batch_norm", "training", AMPC_BENCH_OPS_MEMORY, {{32, 64, 56}, {2, 4, 8}},
     make_batch_norm, forward_batch_norm, work_image},
    {"max_pool2d", "3x3, stride 2, pad 1", AMPC_BENCH_OPS_MEMORY, {{32, 64, 56}, {2, 4, 8}},
     make_image, forward_max_pool2d, work_max_pool2d},
};
const int ampc_bench_ops_case_count = sizeof ampc_bench_ops_cases / sizeof ampc_bench_ops_cases[0];

const int64_t ampc_bench_ops_mlp_widths[2][AMPC_BENCH_OPS_MLP_LAYERS + 1] = {
    {784, 1024, 1024, 10}, {16, 32, 32, 4}};
const int64_t ampc_bench_ops_mlp_batch[2] = {256, 8};
