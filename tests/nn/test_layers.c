/* The layers (src/nn/layers*.c): PyTorch's initialisation (bounds and statistics), each
 * forward equal to its op call, BatchNorm's and Dropout's train/eval behaviour, gradients
 * reaching every parameter, and errors naming the layer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "nn_testing.h"

/* --- initialisation ------------------------------------------------------------------------- */

/* All values of an F32 tensor lie in [-bound, bound), and their mean and variance match the
 * uniform's (0 and bound^2 / 3) within 5 standard errors. */
static void assert_uniform(const ampc_tensor *tensor, double bound)
{
    const float *values = ampc_tensor_data(tensor);
    int64_t n = ampc_tensor_numel(tensor);
    double sum = 0, sum_squares = 0, largest = 0;
    for (int64_t i = 0; i < n; i++) {
        assert_true(values[i] >= -bound && values[i] < bound);
        sum += values[i];
        sum_squares += (double)values[i] * values[i];
        largest = fmax(largest, fabs(values[i]));
    }
    double variance = bound * bound / 3, mean = sum / (double)n;
    /* The sample mean has variance var/n; the mean of squares has variance (E x^4 - var^2)/n
     * with E x^4 = bound^4 / 5 for U(-bound, bound). */
    assert_true(fabs(mean) < 5 * sqrt(variance / (double)n));
    double fourth = pow(bound, 4) / 5;
    assert_true(fabs(sum_squares / (double)n - variance) <
                5 * sqrt((fourth - variance * variance) / (double)n));
    if (n >= 1000) assert_true(largest > 0.99 * bound); /* the whole interval is used */
}

static void test_linear_init_is_kaiming_uniform_with_a_sqrt5(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(21);
    ampc_module *linear = ampc_linear_new(1000, 500, true, generator);
    const ampc_tensor *weight = ampc_module_local(linear, "weight");
    assert_int_equal(ampc_tensor_dim(weight, 0), 500);
    assert_int_equal(ampc_tensor_dim(weight, 1), 1000);
    /* gain sqrt(2 / (1 + 5)) times sqrt(3 / fan_in) is 1 / sqrt(fan_in) */
    double bound = sqrt(2.0 / 6.0) * sqrt(3.0 / 1000.0);
    assert_true(fabs(bound - 1 / sqrt(1000.0)) < 1e-15);
    assert_uniform(weight, bound);
    assert_uniform(ampc_module_local(linear, "bias"), bound);
    ampc_module_free(linear);
    /* No bias asked, none made. */
    linear = ampc_linear_new(4, 3, false, generator);
    assert_null(ampc_module_local(linear, "bias"));
    assert_int_equal(ampc_module_num_tensors(linear), 1);
    ampc_module_free(linear);
    ampc_generator_free(generator);
}

static void test_conv_init_uses_torch_fan_in(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(22);
    ampc_conv2d_options options = ampc_conv2d_defaults();
    options.groups = 2;
    ampc_module *conv = ampc_conv2d_new(8, 64, 5, 3, &options, true, generator);
    const ampc_tensor *weight = ampc_module_local(conv, "weight");
    int64_t expected_shape[4] = {64, 4, 5, 3};
    for (int d = 0; d < 4; d++) assert_int_equal(ampc_tensor_dim(weight, d), expected_shape[d]);
    assert_uniform(weight, 1 / sqrt(4.0 * 5 * 3));
    assert_uniform(ampc_module_local(conv, "bias"), 1 / sqrt(4.0 * 5 * 3));
    ampc_module_free(conv);
    /* ConvTranspose2d: weight (in, out / groups, kh, kw), fan_in from its dim 1. */
    ampc_module *transposed = ampc_conv_transpose2d_new(8, 12, 3, 3, &options, true, generator);
    weight = ampc_module_local(transposed, "weight");
    int64_t transposed_shape[4] = {8, 6, 3, 3};
    for (int d = 0; d < 4; d++)
        assert_int_equal(ampc_tensor_dim(weight, d), transposed_shape[d]);
    assert_uniform(weight, 1 / sqrt(6.0 * 9));
    const ampc_tensor *bias = ampc_module_local(transposed, "bias");
    assert_int_equal(ampc_tensor_dim(bias, 0), 12);
    assert_uniform(bias, 1 / sqrt(6.0 * 9));
    ampc_module_free(transposed);
    ampc_generator_free(generator);
}

static void test_norms_start_at_ones_and_zeros(void **unused)
{
    (void)unused;
    int64_t shape[2] = {3, 4};
    ampc_module *modules[] = {ampc_batch_norm1d_new(5, 1e-5, 0.1, true, true),
                              ampc_batch_norm2d_new(5, 1e-5, 0.1, true, true),
                              ampc_layer_norm_new(2, shape, 1e-5, true),
                              ampc_group_norm_new(2, 6, 1e-5, true)};
    for (int m = 0; m < 4; m++) {
        const ampc_tensor *weight = ampc_module_local(modules[m], "weight");
        const ampc_tensor *bias = ampc_module_local(modules[m], "bias");
        for (int64_t i = 0; i < ampc_tensor_numel(weight); i++) {
            assert_true(value_at_position(weight, i) == 1);
            assert_true(value_at_position(bias, i) == 0);
        }
        ampc_named_tensor entry;
        ampc_module_tensor_at(modules[m], 0, &entry);
        assert_int_equal(entry.kind, AMPC_PARAM_NORM_WEIGHT);
        ampc_module_tensor_at(modules[m], 1, &entry);
        assert_int_equal(entry.kind, AMPC_PARAM_NORM_BIAS);
    }
    const ampc_tensor *running_var = ampc_module_local(modules[1], "running_var");
    const ampc_tensor *running_mean = ampc_module_local(modules[1], "running_mean");
    for (int64_t i = 0; i < 5; i++) {
        assert_true(value_at_position(running_var, i) == 1);
        assert_true(value_at_position(running_mean, i) == 0);
    }
    assert_int_equal(ampc_tensor_ndim(ampc_module_local(modules[2], "weight")), 2);
    for (int m = 0; m < 4; m++) ampc_module_free(modules[m]);
    /* Without affine or running stats there is nothing to register. */
    ampc_module *bare = ampc_batch_norm2d_new(5, 1e-5, 0.1, false, false);
    assert_int_equal(ampc_module_num_tensors(bare), 0);
    ampc_module_free(bare);
}

static void test_embedding_init_is_standard_normal_with_the_padding_row_zero(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(23);
    ampc_module *embedding = ampc_embedding_new(1000, 64, 7, generator);
    const ampc_tensor *weight = ampc_module_local(embedding, "weight");
    const float *values = ampc_tensor_data(weight);
    double sum = 0, sum_squares = 0;
    int64_t n = 1000 * 64;
    for (int64_t i = 0; i < n; i++) {
        sum += values[i];
        sum_squares += (double)values[i] * values[i];
    }
    for (int64_t j = 0; j < 64; j++) assert_true(values[7 * 64 + j] == 0);
    /* 999 rows of N(0, 1): mean within 5 sigma / sqrt(n), variance within 5 sqrt(2 / n). */
    double drawn = (double)(n - 64);
    assert_true(fabs(sum / drawn) < 5 / sqrt(drawn));
    assert_true(fabs(sum_squares / drawn - 1) < 5 * sqrt(2 / drawn));
    ampc_module_free(embedding);
    ampc_generator_free(generator);
}

/* --- forward equals the op ------------------------------------------------------------------- */

static void assert_forward_equals(ampc_module *module, const ampc_tensor *input,
                                  ampc_tensor *expected)
{
    ampc_tensor *actual = ampc_module_forward(module, input);
    expect_no_error();
    assert_same_tensor(actual, expected);
    ampc_tensor_free(actual);
    ampc_tensor_free(expected);
}

/* For a layer made just for the check: frees it too. */
static void assert_forward_equals_op(ampc_module *module, const ampc_tensor *input,
                                     ampc_tensor *expected)
{
    assert_non_null(module);
    assert_forward_equals(module, input, expected);
    ampc_module_free(module);
}

static void test_weighted_layers_forward_equals_their_op(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(24);
    int64_t rows_shape[3] = {2, 5, 7};
    ampc_tensor *rows = random_input(240, 3, rows_shape);
    ampc_module *linear = ampc_linear_new(7, 3, true, generator);
    assert_forward_equals(linear, rows,
                          ampc_linear(rows, ampc_module_local(linear, "weight"),
                                      ampc_module_local(linear, "bias")));

    int64_t image_shape[4] = {2, 4, 9, 8};
    ampc_tensor *images = random_input(241, 4, image_shape);
    ampc_conv2d_options options = ampc_conv2d_defaults();
    options.stride[0] = 2;
    options.padding[1] = 1;
    options.groups = 2;
    ampc_module *conv = ampc_conv2d_new(4, 6, 3, 3, &options, true, generator);
    assert_forward_equals(conv, images,
                          ampc_conv2d(images, ampc_module_local(conv, "weight"),
                                      ampc_module_local(conv, "bias"), &options));
    options.output_padding[0] = 1;
    ampc_module *transposed = ampc_conv_transpose2d_new(4, 6, 3, 3, &options, false, generator);
    assert_forward_equals(transposed, images,
                          ampc_conv_transpose2d(images, ampc_module_local(transposed, "weight"),
                                                NULL, &options));

    int64_t index_values[4] = {3, 0, 3, 9}, index_shape[2] = {2, 2};
    ampc_tensor *indices = ampc_tensor_from_data(index_values, AMPC_I64, 2, index_shape);
    ampc_module *embedding = ampc_embedding_new(10, 4, 3, generator);
    assert_forward_equals(embedding, indices,
                          ampc_embedding(indices, ampc_module_local(embedding, "weight"), 3));
    ampc_module *modules[] = {linear, conv, transposed, embedding};
    for (int i = 0; i < 4; i++) ampc_module_free(modules[i]);
    ampc_tensor_free(rows);
    ampc_tensor_free(images);
    ampc_tensor_free(indices);
    ampc_generator_free(generator);
}

static void test_norm_layers_forward_equals_their_op(void **unused)
{
    (void)unused;
    int64_t shape[4] = {3, 4, 5, 6};
    ampc_tensor *x = random_input(250, 4, shape);
    int64_t normalized[2] = {5, 6};
    ampc_module *layer_norm = ampc_layer_norm_new(2, normalized, 1e-3, true);
    assert_forward_equals(layer_norm, x,
                          ampc_layer_norm(x, 2, ampc_module_local(layer_norm, "weight"),
                                          ampc_module_local(layer_norm, "bias"), 1e-3));
    ampc_module *bare_layer_norm = ampc_layer_norm_new(1, &normalized[1], 1e-5, false);
    assert_forward_equals(bare_layer_norm, x, ampc_layer_norm(x, 1, NULL, NULL, 1e-5));
    ampc_module *group_norm = ampc_group_norm_new(2, 4, 1e-5, true);
    assert_forward_equals(group_norm, x,
                          ampc_group_norm(x, 2, ampc_module_local(group_norm, "weight"),
                                          ampc_module_local(group_norm, "bias"), 1e-5));
    /* BatchNorm2d in training: the op with fresh running stats. */
    ampc_module *batch_norm = ampc_batch_norm2d_new(4, 1e-5, 0.1, true, true);
    int64_t channels[1] = {4};
    ampc_tensor *mean = ampc_tensor_zeros(AMPC_F32, 1, channels);
    ampc_tensor *var = ampc_tensor_ones(AMPC_F32, 1, channels);
    assert_forward_equals(batch_norm, x,
                          ampc_batch_norm(x, mean, var, ampc_module_local(batch_norm, "weight"),
                                          ampc_module_local(batch_norm, "bias"), true, 0.1,
                                          1e-5));
    assert_same_tensor(ampc_module_local(batch_norm, "running_mean"), mean);
    assert_same_tensor(ampc_module_local(batch_norm, "running_var"), var);
    /* BatchNorm1d on (N, C, L) in eval: the op with the running stats. */
    int64_t sequence_shape[3] = {3, 4, 7};
    ampc_tensor *sequence = random_input(251, 3, sequence_shape);
    ampc_module *batch_norm1d = ampc_batch_norm1d_new(4, 1e-5, 0.1, true, true);
    ampc_module_set_training(batch_norm1d, false);
    ampc_tensor *fresh_mean = ampc_tensor_zeros(AMPC_F32, 1, channels);
    ampc_tensor *fresh_var = ampc_tensor_ones(AMPC_F32, 1, channels);
    assert_forward_equals(batch_norm1d, sequence,
                          ampc_batch_norm(sequence, fresh_mean, fresh_var,
                                          ampc_module_local(batch_norm1d, "weight"),
                                          ampc_module_local(batch_norm1d, "bias"), false, 0.1,
                                          1e-5));
    ampc_module *modules[] = {layer_norm, bare_layer_norm, group_norm, batch_norm, batch_norm1d};
    for (int i = 0; i < 5; i++) ampc_module_free(modules[i]);
    ampc_tensor *tensors[] = {x, mean, var, sequence, fresh_mean, fresh_var};
    for (int i = 0; i < 6; i++) ampc_tensor_free(tensors[i]);
}

static void test_parameterless_layers_forward_equals_their_op(void **unused)
{
    (void)unused;
    int64_t shape[4] = {2, 3, 6, 5};
    ampc_tensor *x = random_input(260, 4, shape);
    assert_forward_equals_op(ampc_relu_new(), x, ampc_relu(x));
    assert_forward_equals_op(ampc_leaky_relu_new(0.2), x, ampc_leaky_relu(x, 0.2));
    assert_forward_equals_op(ampc_gelu_new(false), x, ampc_gelu(x, AMPC_GELU_NONE));
    assert_forward_equals_op(ampc_gelu_new(true), x, ampc_gelu(x, AMPC_GELU_TANH));
    assert_forward_equals_op(ampc_silu_new(), x, ampc_silu(x));
    assert_forward_equals_op(ampc_sigmoid_new(), x, ampc_sigmoid(x));
    assert_forward_equals_op(ampc_tanh_new(), x, ampc_tanh(x));
    ampc_pool2d_options pool = ampc_pool2d_defaults(2, 2);
    pool.ceil_mode = true;
    assert_forward_equals_op(ampc_max_pool2d_new(&pool), x, ampc_max_pool2d(x, &pool));
    pool = ampc_pool2d_defaults(3, 3);
    pool.stride[0] = pool.stride[1] = 2;
    pool.padding[0] = pool.padding[1] = 1;
    pool.count_include_pad = false;
    assert_forward_equals_op(ampc_avg_pool2d_new(&pool), x, ampc_avg_pool2d(x, &pool));
    assert_forward_equals_op(ampc_flatten_new(1, 2), x, ampc_flatten(x, 1, 2));
    assert_forward_equals_op(ampc_flatten_new(1, -1), x, ampc_flatten(x, 1, -1));
    ampc_tensor_free(x);
}

static void test_dropout_follows_the_training_flag(void **unused)
{
    (void)unused;
    int64_t shape[2] = {64, 50};
    ampc_tensor *x = random_input(270, 2, shape);
    ampc_generator *generator = ampc_generator_new(27), *reference = ampc_generator_new(27);
    ampc_module *dropout = ampc_dropout_new(0.25, generator);
    /* Training: the op's mask from the same stream, zeros and x / 0.75 elsewhere. */
    ampc_tensor *trained = ampc_module_forward(dropout, x);
    ampc_tensor *expected = ampc_dropout(x, 0.25, true, reference);
    assert_same_tensor(trained, expected);
    int64_t zeros = 0;
    for (int64_t i = 0; i < 64 * 50; i++) {
        double value = value_at_position(trained, i), input = value_at_position(x, i);
        if (value == 0) zeros++;
        else assert_true(fabs(value - input / 0.75) <= 1e-6 * fabs(input / 0.75));
    }
    assert_true(zeros > 0.2 * 3200 && zeros < 0.3 * 3200);
    /* Eval: the input unchanged. */
    ampc_module_set_training(dropout, false);
    ampc_tensor *evaluated = ampc_module_forward(dropout, x);
    assert_same_tensor(evaluated, x);
    ampc_tensor *all[] = {x, trained, expected, evaluated};
    for (int i = 0; i < 4; i++) ampc_tensor_free(all[i]);
    ampc_module_free(dropout);
    ampc_generator_free(generator);
    ampc_generator_free(reference);
}

/* --- BatchNorm's modes, against float64 formulas -------------------------------------------- */

/* Per channel of a (N, C, L) F32 tensor: the mean and the unbiased variance. */
static void channel_statistics(const ampc_tensor *x, int64_t channel, double *mean,
                               double *unbiased_var)
{
    int64_t n = ampc_tensor_dim(x, 0), c = ampc_tensor_dim(x, 1), l = ampc_tensor_dim(x, 2);
    const float *values = ampc_tensor_data(x);
    double sum = 0, squares = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < l; j++) sum += values[(i * c + channel) * l + j];
    *mean = sum / (double)(n * l);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < l; j++) {
            double d = values[(i * c + channel) * l + j] - *mean;
            squares += d * d;
        }
    *unbiased_var = squares / (double)(n * l - 1);
}

static void test_batch_norm_training_updates_running_stats_and_eval_uses_them(void **unused)
{
    (void)unused;
    int64_t shape[3] = {8, 3, 5};
    ampc_tensor *x = random_input(280, 3, shape);
    ampc_module *bn = ampc_batch_norm1d_new(3, 1e-5, 0.1, true, true);
    const ampc_tensor *running_mean = ampc_module_local(bn, "running_mean");
    const ampc_tensor *running_var = ampc_module_local(bn, "running_var");
    const ampc_tensor *count = ampc_module_local(bn, "num_batches_tracked");
    for (int step = 1; step <= 2; step++) {
        ampc_tensor *y = ampc_module_forward(bn, x);
        assert_non_null(y);
        ampc_tensor_free(y);
        assert_true(value_at_position(count, 0) == step);
    }
    /* Two updates from (0, 1) with the same batch: r = 0.9^2 r0 + (1 - 0.9^2) s. */
    for (int64_t c = 0; c < 3; c++) {
        double mean, var;
        channel_statistics(x, c, &mean, &var);
        double expected_mean = 0.19 * mean, expected_var = 0.81 + 0.19 * var;
        assert_true(fabs(value_at_position(running_mean, c) - expected_mean) < 1e-6);
        assert_true(fabs(value_at_position(running_var, c) - expected_var) < 1e-6);
    }
    /* Eval: y = (x - running_mean) / sqrt(running_var + eps), stats and count unchanged. */
    ampc_module_set_training(bn, false);
    ampc_tensor *y = ampc_module_forward(bn, x);
    for (int64_t i = 0; i < 8 * 3 * 5; i++) {
        int64_t c = (i / 5) % 3;
        double expected = (value_at_position(x, i) - value_at_position(running_mean, c)) /
                          sqrt(value_at_position(running_var, c) + 1e-5);
        assert_true(fabs(value_at_position(y, i) - expected) < 1e-5);
    }
    assert_true(value_at_position(count, 0) == 2);
    ampc_tensor_free(y);
    ampc_module_free(bn);

    /* Not tracking: batch statistics in eval too, and no buffers. */
    ampc_module *untracked = ampc_batch_norm1d_new(3, 1e-5, 0.1, false, false);
    ampc_module_set_training(untracked, false);
    y = ampc_module_forward(untracked, x);
    for (int64_t c = 0; c < 3; c++) {
        double mean, var;
        channel_statistics(x, c, &mean, &var);
        double biased = var * (8 * 5 - 1) / (8 * 5);
        for (int64_t i = 0; i < 8; i++)
            for (int64_t j = 0; j < 5; j++) {
                int64_t at = (i * 3 + c) * 5 + j;
                double expected = (value_at_position(x, at) - mean) / sqrt(biased + 1e-5);
                assert_true(fabs(value_at_position(y, at) - expected) < 1e-5);
            }
    }
    ampc_tensor_free(y);
    ampc_module_free(untracked);
    ampc_tensor_free(x);
}

/* --- gradients and errors -------------------------------------------------------------------- */

static void test_backward_reaches_every_parameter_of_each_layer(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(29);
    int64_t normalized[1] = {4};
    ampc_conv2d_options options = ampc_conv2d_defaults();
    ampc_module *layers[] = {
        ampc_conv2d_new(2, 4, 3, 3, &options, true, generator),
        ampc_batch_norm2d_new(4, 1e-5, 0.1, true, true),
        ampc_group_norm_new(2, 4, 1e-5, true),
        ampc_layer_norm_new(1, normalized, 1e-5, true),
        ampc_conv_transpose2d_new(4, 4, 3, 3, &options, true, generator),
        ampc_gelu_new(false),
        ampc_avg_pool2d_new(&(ampc_pool2d_options){.kernel = {2, 2}, .count_include_pad = true}),
        ampc_flatten_new(1, -1),
        ampc_linear_new(4 * 3 * 3, 5, true, generator),
        ampc_tanh_new(),
    };
    ampc_module *model = ampc_sequential_new(10, layers);
    int64_t shape[4] = {3, 2, 6, 6};
    ampc_tensor *x = random_input(290, 4, shape);
    ampc_tensor *out = ampc_module_forward(model, x);
    expect_no_error();
    ampc_tensor *squared = ampc_mul(out, out);
    ampc_tensor *loss = ampc_sum(squared, 0, NULL, false);
    assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
    assert_int_equal(ampc_module_num_parameters(model), 12);
    for (int i = 0; i < ampc_module_num_parameters(model); i++) {
        ampc_tensor *gradient = ampc_tensor_grad(ampc_module_parameter(model, i));
        assert_non_null(gradient);
        assert_true(sum_of_squares(gradient) > 0);
    }
    /* Embedding's weight gets its rows' gradients, none for the padding row. */
    ampc_module *embedding = ampc_embedding_new(5, 3, 0, generator);
    int64_t index_values[3] = {0, 2, 2}, index_shape[1] = {3};
    ampc_tensor *indices = ampc_tensor_from_data(index_values, AMPC_I64, 1, index_shape);
    ampc_tensor *rows = ampc_module_forward(embedding, indices);
    ampc_tensor *total = ampc_sum(rows, 0, NULL, false);
    assert_int_equal(ampc_backward(total, NULL, false), AMPC_OK);
    const ampc_tensor *weight_gradient = ampc_tensor_grad(ampc_module_local(embedding, "weight"));
    double expected[15] = {0, 0, 0, 0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0};
    assert_values(weight_gradient, expected, 15);
    ampc_tensor *all[] = {x, out, squared, loss, indices, rows, total};
    for (int i = 0; i < 7; i++) ampc_tensor_free(all[i]);
    ampc_module_free(model);
    ampc_module_free(embedding);
    ampc_generator_free(generator);
}

static void expect_bad_input(ampc_module *module, int ndim, const int64_t *shape,
                             const char *message)
{
    ampc_tensor *x = ampc_tensor_zeros(AMPC_F32, ndim, shape);
    assert_null(ampc_module_forward(module, x));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, message);
    ampc_tensor_free(x);
    ampc_module_free(module);
}

static void test_wrong_input_shapes_name_the_layer(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(30);
    int64_t rows[2] = {128, 10}, image[4] = {2, 3, 8, 8}, sequence[3] = {2, 5, 4};
    expect_bad_input(ampc_linear_new(784, 10, true, generator), 2, rows,
                     "ampc_module_forward: Linear (in_features 784) got input of shape [128, 10]; "
                     "expected last dim 784");
    expect_bad_input(ampc_conv2d_new(1, 4, 3, 3, NULL, true, generator), 4, image,
                     "Conv2d (in_channels 1) got input of shape [2, 3, 8, 8]; expected (N, 1, H, "
                     "W) or (1, H, W)");
    expect_bad_input(ampc_conv_transpose2d_new(4, 4, 3, 3, NULL, true, generator), 2, rows,
                     "ConvTranspose2d (in_channels 4) got input of shape [128, 10]");
    expect_bad_input(ampc_batch_norm1d_new(5, 1e-5, 0.1, true, true), 4, image,
                     "BatchNorm1d (num_features 5) got input of shape [2, 3, 8, 8]; expected (N, "
                     "5) or (N, 5, L)");
    expect_bad_input(ampc_batch_norm2d_new(3, 1e-5, 0.1, true, true), 3, sequence,
                     "BatchNorm2d (num_features 3) got input of shape [2, 5, 4]; expected (N, 3, "
                     "H, W)");
    int64_t normalized[2] = {5, 5};
    expect_bad_input(ampc_layer_norm_new(2, normalized, 1e-5, true), 3, sequence,
                     "LayerNorm (normalized_shape [5, 5]) got input of shape [2, 5, 4]; expected "
                     "last dims [5, 5]");
    expect_bad_input(ampc_group_norm_new(2, 4, 1e-5, true), 3, sequence,
                     "GroupNorm (num_channels 4) got input of shape [2, 5, 4]");
    expect_bad_input(ampc_embedding_new(4, 2, -1, generator), 2, rows,
                     "Embedding (num_embeddings 4) got input of dtype F32; expected I64 or I32");
    /* The ops name themselves for what the layers pass through. */
    ampc_pool2d_options pool = ampc_pool2d_defaults(2, 2);
    expect_bad_input(ampc_max_pool2d_new(&pool), 2, rows, "ampc_max_pool2d");
    /* A BatchNorm in training needs more than one value per channel. */
    int64_t single[2] = {1, 5};
    expect_bad_input(ampc_batch_norm1d_new(5, 1e-5, 0.1, true, true), 2, single,
                     "one value per channel; expected more than one");
    ampc_generator_free(generator);
}

static void test_bad_sizes_are_refused_at_construction(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(31);
    assert_null(ampc_linear_new(0, 3, true, generator));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_linear_new: in_features is 0; expected >= 1");
    assert_null(ampc_linear_new(3, 3, true, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_linear_new: argument generator is NULL");
    ampc_conv2d_options options = ampc_conv2d_defaults();
    options.groups = 3;
    assert_null(ampc_conv2d_new(4, 6, 3, 3, &options, true, generator));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "options->groups 3 does not divide in_channels 4 and out_channels 6");
    assert_null(ampc_conv_transpose2d_new(3, 6, 0, 3, NULL, true, generator));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "kernel_h is 0");
    assert_null(ampc_batch_norm2d_new(0, 1e-5, 0.1, true, true));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "num_features is 0");
    assert_null(ampc_batch_norm1d_new(3, -1, 0.1, true, true));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "eps is -1; expected finite and >= 0");
    assert_null(ampc_batch_norm1d_new(3, 1e-5, NAN, true, true));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "momentum is nan");
    int64_t bad_shape[2] = {3, 0};
    assert_null(ampc_layer_norm_new(2, bad_shape, 1e-5, true));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "shape[1] is 0");
    assert_null(ampc_layer_norm_new(0, bad_shape, 1e-5, true));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "num_dims is 0");
    assert_null(ampc_group_norm_new(3, 4, 1e-5, true));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "num_groups dividing num_channels");
    assert_null(ampc_embedding_new(4, 2, 4, generator));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "padding_idx is 4; expected -1 (none) or a row in "
                                            "[0, 4)");
    assert_null(ampc_dropout_new(1.5, generator));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "p is 1.5; expected a probability in [0, 1]");
    assert_null(ampc_dropout_new(0.5, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "generator");
    ampc_module *no_dropout = ampc_dropout_new(0, NULL); /* draws nothing */
    assert_non_null(no_dropout);
    ampc_module_free(no_dropout);
    assert_null(ampc_max_pool2d_new(NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "options");
    ampc_pool2d_options pool = ampc_pool2d_defaults(0, 2);
    assert_null(ampc_avg_pool2d_new(&pool));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->kernel is [0, 2]");
    assert_null(ampc_leaky_relu_new(INFINITY));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "negative_slope is inf");
    ampc_generator_free(generator);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear_init_is_kaiming_uniform_with_a_sqrt5),
        cmocka_unit_test(test_conv_init_uses_torch_fan_in),
        cmocka_unit_test(test_norms_start_at_ones_and_zeros),
        cmocka_unit_test(test_embedding_init_is_standard_normal_with_the_padding_row_zero),
        cmocka_unit_test(test_weighted_layers_forward_equals_their_op),
        cmocka_unit_test(test_norm_layers_forward_equals_their_op),
        cmocka_unit_test(test_parameterless_layers_forward_equals_their_op),
        cmocka_unit_test(test_dropout_follows_the_training_flag),
        cmocka_unit_test(test_batch_norm_training_updates_running_stats_and_eval_uses_them),
        cmocka_unit_test(test_backward_reaches_every_parameter_of_each_layer),
        cmocka_unit_test(test_wrong_input_shapes_name_the_layer),
        cmocka_unit_test(test_bad_sizes_are_refused_at_construction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
