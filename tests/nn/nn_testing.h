/* Helpers the nn tests share: the standard models, bitwise tensor comparison, and the
 * values of a tensor as doubles. Include after <cmocka.h>. */
#ifndef AMPC_NN_TESTING_H
#define AMPC_NN_TESTING_H

#include <stdlib.h>
#include <string.h>

#include <ampc/ampc.h>
#include <ampc/nn.h>

#include "../tensor/tensor_testing.h"

/* Sequential(Flatten, Linear 784->hidden, ReLU, Linear hidden->hidden, ReLU, Linear hidden->10). */
static inline ampc_module *mlp_new(int64_t hidden, ampc_generator *generator)
{
    ampc_module *layers[] = {
        ampc_flatten_new(1, -1),
        ampc_linear_new(784, hidden, true, generator),
        ampc_relu_new(),
        ampc_linear_new(hidden, hidden, true, generator),
        ampc_relu_new(),
        ampc_linear_new(hidden, 10, true, generator),
    };
    ampc_module *model = ampc_sequential_new(6, layers);
    assert_non_null(model);
    return model;
}

/* The CNN: Conv 1->32 3x3 pad 1, BN, ReLU, MaxPool 2; Conv 32->64 3x3 pad 1, BN, ReLU,
 * MaxPool 2; Flatten, Linear 3136->256, ReLU, Linear 256->10. */
static inline ampc_module *cnn_new(ampc_generator *generator)
{
    ampc_conv2d_options conv = ampc_conv2d_defaults();
    conv.padding[0] = conv.padding[1] = 1;
    ampc_pool2d_options pool = ampc_pool2d_defaults(2, 2);
    ampc_module *layers[] = {
        ampc_conv2d_new(1, 32, 3, 3, &conv, true, generator),
        ampc_batch_norm2d_new(32, 1e-5, 0.1, true, true),
        ampc_relu_new(),
        ampc_max_pool2d_new(&pool),
        ampc_conv2d_new(32, 64, 3, 3, &conv, true, generator),
        ampc_batch_norm2d_new(64, 1e-5, 0.1, true, true),
        ampc_relu_new(),
        ampc_max_pool2d_new(&pool),
        ampc_flatten_new(1, -1),
        ampc_linear_new(3136, 256, true, generator),
        ampc_relu_new(),
        ampc_linear_new(256, 10, true, generator),
    };
    ampc_module *model = ampc_sequential_new(12, layers);
    assert_non_null(model);
    return model;
}

/* Same dtype, shape and bytes (row-major). */
static inline void assert_same_tensor(const ampc_tensor *actual, const ampc_tensor *expected)
{
    assert_non_null(actual);
    assert_non_null(expected);
    assert_int_equal(ampc_tensor_dtype(actual), ampc_tensor_dtype(expected));
    assert_int_equal(ampc_tensor_ndim(actual), ampc_tensor_ndim(expected));
    for (int d = 0; d < ampc_tensor_ndim(actual); d++)
        assert_int_equal(ampc_tensor_dim(actual, d), ampc_tensor_dim(expected, d));
    ampc_tensor *a = ampc_tensor_contiguous(actual), *b = ampc_tensor_contiguous(expected);
    assert_memory_equal(ampc_tensor_data(a), ampc_tensor_data(b), ampc_tensor_nbytes(a));
    ampc_tensor_free(a);
    ampc_tensor_free(b);
}

/* The values in row-major order as a malloc'd array of doubles. */
static inline double *values_of(const ampc_tensor *tensor)
{
    int64_t n = ampc_tensor_numel(tensor);
    double *values = malloc(sizeof(double) * (size_t)(n ? n : 1));
    assert_non_null(values);
    for (int64_t i = 0; i < n; i++) values[i] = value_at_position(tensor, i);
    return values;
}

/* sum of squares of a tensor's values */
static inline double sum_of_squares(const ampc_tensor *tensor)
{
    double total = 0;
    for (int64_t i = 0; i < ampc_tensor_numel(tensor); i++) {
        double v = value_at_position(tensor, i);
        total += v * v;
    }
    return total;
}

/* A (N, C, H, W) or other-shaped F32 input, uniform in [-1, 1), from its own seed. */
static inline ampc_tensor *random_input(uint64_t seed, int ndim, const int64_t *shape)
{
    ampc_generator *generator = ampc_generator_new(seed);
    ampc_tensor *input = ampc_tensor_uniform(generator, AMPC_F32, ndim, shape, -1, 1);
    ampc_generator_free(generator);
    assert_non_null(input);
    return input;
}

#endif
