/* Tests for src/ops/norm*.c and src/kernels/norm*.c: batch_norm, layer_norm and group_norm.
 * Gradients against finite differences (with and without weight and bias, contiguous and
 * not), forwards and running statistics against float64 formulas written here, F32/F16/BF16
 * against F64, mixed dtypes (F16 input, fp32 parameters), empty inputs, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include <ampc/ampc.h>
#include <ampc/autograd.h>
#include <ampc/ops_norm.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"

/* --- the ops under test, on gradcheck's input arrays ------------------------------------ */

/* inputs: input, weight, bias, running_mean, running_var (any may be NULL). */
typedef struct batch_norm_options {
    bool training;
    double momentum, eps;
} batch_norm_options;

static ampc_tensor *batch_norm_op(ampc_tensor *const *inputs, const void *context)
{
    const batch_norm_options *options = context;
    return ampc_batch_norm(inputs[0], inputs[3], inputs[4], inputs[1], inputs[2],
                           options->training, options->momentum, options->eps);
}

/* inputs: input, weight, bias. */
typedef struct layer_norm_options {
    int num_normalized_dims;
} layer_norm_options;

static ampc_tensor *layer_norm_op(ampc_tensor *const *inputs, const void *context)
{
    const layer_norm_options *options = context;
    return ampc_layer_norm(inputs[0], options->num_normalized_dims, inputs[1], inputs[2], 1e-5);
}

typedef struct group_norm_options {
    int64_t num_groups;
} group_norm_options;

static ampc_tensor *group_norm_op(ampc_tensor *const *inputs, const void *context)
{
    const group_norm_options *options = context;
    return ampc_group_norm(inputs[0], options->num_groups, inputs[1], inputs[2], 1e-5);
}

/* --- helpers ------------------------------------------------------------------------------ */

static ampc_tensor *uniform(uint64_t seed, int ndim, const int64_t *shape, double low,
                            double high, bool requires_grad)
{
    return gradcheck_uniform(seed, ndim, shape, low, high, requires_grad);
}

/* An F64 tensor's contiguous values (the caller frees the returned copy). */
static ampc_tensor *values_of(const ampc_tensor *tensor, const double **values)
{
    ampc_tensor *copy = ampc_tensor_cast(tensor, AMPC_F64);
    assert_non_null(copy);
    *values = ampc_tensor_data(copy);
    return copy;
}

static void assert_close(const ampc_tensor *tensor, const double *expected, int64_t n,
                         double tolerance)
{
    const double *values;
    ampc_tensor *copy = values_of(tensor, &values);
    assert_int_equal(ampc_tensor_numel(tensor), n);
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(values[i] - expected[i]) <= tolerance))
            fail_msg("element %lld is %.12g; expected %.12g", (long long)i, values[i],
                     expected[i]);
    ampc_tensor_free(copy);
}

static void free_all(ampc_tensor **tensors, int n)
{
    for (int i = 0; i < n; i++) ampc_tensor_free(tensors[i]);
}

/* The default bounds (one rounding to the dtype) hold for the norms too: their statistics
 * are accumulated in double and the result rounded once. */
static void dtype_check_all(const gradcheck_case *check)
{
    const ampc_dtype dtypes[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
    for (int d = 0; d < 3; d++)
        dtype_check_assert(check, dtypes[d], dtype_tolerance_default(dtypes[d]));
}

/* The float64 batch norm of x (N, C, S) with its biased variance, and the batch mean and
 * unbiased variance per channel. weight and bias may be NULL. */
static void batch_norm_reference(const double *x, int64_t n, int64_t c, int64_t s,
                                 const double *weight, const double *bias, double eps,
                                 double *out, double *mean, double *unbiased)
{
    for (int64_t ch = 0; ch < c; ch++) {
        double sum = 0, squares = 0;
        for (int64_t b = 0; b < n; b++)
            for (int64_t i = 0; i < s; i++) sum += x[(b * c + ch) * s + i];
        double m = sum / (double)(n * s);
        for (int64_t b = 0; b < n; b++)
            for (int64_t i = 0; i < s; i++) {
                double d = x[(b * c + ch) * s + i] - m;
                squares += d * d;
            }
        double var = squares / (double)(n * s);
        mean[ch] = m;
        unbiased[ch] = squares / (double)(n * s - 1);
        for (int64_t b = 0; b < n; b++)
            for (int64_t i = 0; i < s; i++) {
                int64_t at = (b * c + ch) * s + i;
                double y = (x[at] - m) / sqrt(var + eps);
                out[at] = y * (weight ? weight[ch] : 1) + (bias ? bias[ch] : 0);
            }
    }
}

/* --- batch_norm --------------------------------------------------------------------------- */

static void test_batch_norm_gradients_2d_and_4d_with_and_without_affine(void **state)
{
    (void)state;
    const int64_t shapes[2][4] = {{5, 3}, {2, 3, 2, 2}};
    const int ndims[2] = {2, 4};
    batch_norm_options training = {.training = true, .momentum = 0.1, .eps = 1e-5};
    for (int which = 0; which < 2; which++) {
        int64_t channels = 3;
        ampc_tensor *inputs[5] = {
            uniform(1 + which, ndims[which], shapes[which], -1, 1, true),
            uniform(11, 1, &channels, 0.5, 1.5, true),
            uniform(12, 1, &channels, -0.5, 0.5, true),
            ampc_tensor_zeros(AMPC_F32, 1, &channels),
            ampc_tensor_ones(AMPC_F32, 1, &channels),
        };
        gradcheck_assert(&(gradcheck_case){.name = "batch_norm", .op = batch_norm_op,
                                           .context = &training, .num_inputs = 5,
                                           .inputs = inputs});
        ampc_tensor *plain[5] = {inputs[0], NULL, NULL, NULL, NULL};
        gradcheck_assert(&(gradcheck_case){.name = "batch_norm without affine",
                                           .op = batch_norm_op, .context = &training,
                                           .num_inputs = 5, .inputs = plain});
        free_all(inputs, 5);
    }
}

static void test_batch_norm_gradients_of_a_noncontiguous_input(void **state)
{
    (void)state;
    batch_norm_options training = {.training = true, .momentum = 0.1, .eps = 1e-5};
    int64_t shape[] = {4, 3, 5}, channels = 3;
    ampc_tensor *base = uniform(3, 3, shape, -2, 2, false);
    ampc_tensor *inputs[5] = {gradcheck_noncontiguous(base, true),
                              uniform(13, 1, &channels, 0.5, 1.5, true),
                              uniform(14, 1, &channels, -0.5, 0.5, true), NULL, NULL};
    assert_false(ampc_tensor_is_contiguous(inputs[0]));
    gradcheck_assert(&(gradcheck_case){.name = "batch_norm noncontiguous", .op = batch_norm_op,
                                       .context = &training, .num_inputs = 5,
                                       .inputs = inputs});
    free_all(inputs, 5);
    ampc_tensor_free(base);
}

static void test_batch_norm_eval_gradients_treat_running_statistics_as_constants(void **state)
{
    (void)state;
    batch_norm_options eval = {.training = false, .eps = 1e-5};
    int64_t shape[] = {3, 2, 4}, channels = 2;
    ampc_tensor *inputs[5] = {
        uniform(4, 3, shape, -1, 1, true), uniform(15, 1, &channels, 0.5, 1.5, true),
        uniform(16, 1, &channels, -0.5, 0.5, true), uniform(17, 1, &channels, -0.2, 0.2, false),
        uniform(18, 1, &channels, 0.5, 2, false)};
    gradcheck_assert(&(gradcheck_case){.name = "batch_norm eval", .op = batch_norm_op,
                                       .context = &eval, .num_inputs = 5, .inputs = inputs});
    dtype_check_all(&(gradcheck_case){.name = "batch_norm eval", .op = batch_norm_op,
                                      .context = &eval, .num_inputs = 5, .inputs = inputs});
    /* The forward is (x - running_mean) / sqrt(running_var + eps) * weight + bias. */
    const double *x, *w, *b, *rm, *rv;
    ampc_tensor *copies[5] = {values_of(inputs[0], &x), values_of(inputs[1], &w),
                              values_of(inputs[2], &b), values_of(inputs[3], &rm),
                              values_of(inputs[4], &rv)};
    double expected[24];
    for (int64_t i = 0; i < 24; i++) {
        int64_t c = (i / 4) % 2;
        expected[i] = (x[i] - rm[c]) / sqrt(rv[c] + 1e-5) * w[c] + b[c];
    }
    ampc_tensor *out = batch_norm_op(inputs, &eval);
    assert_close(out, expected, 24, 1e-12);
    ampc_tensor_free(out);
    free_all(copies, 5);
    free_all(inputs, 5);
}

static void test_batch_norm_forward_and_running_update_match_a_float64_formula(void **state)
{
    (void)state;
    int64_t shape[] = {3, 2, 5}, channels = 2;
    ampc_tensor *input = uniform(5, 3, shape, -3, 3, false);
    ampc_tensor *weight = uniform(19, 1, &channels, 0.5, 1.5, false);
    ampc_tensor *bias = uniform(20, 1, &channels, -1, 1, false);
    /* fp32 running statistics beside an F64 input, as under AMP. */
    ampc_tensor *running_mean = ampc_tensor_from_data((float[]){0.5f, -0.25f}, AMPC_F32, 1,
                                                      &channels);
    ampc_tensor *running_var = ampc_tensor_from_data((float[]){2.0f, 0.75f}, AMPC_F32, 1,
                                                     &channels);
    const double *x, *w, *b;
    ampc_tensor *copies[3] = {values_of(input, &x), values_of(weight, &w), values_of(bias, &b)};
    double expected[30], mean[2], unbiased[2];
    batch_norm_reference(x, 3, 2, 5, w, b, 1e-5, expected, mean, unbiased);
    ampc_tensor *out =
        ampc_batch_norm(input, running_mean, running_var, weight, bias, true, 0.1, 1e-5);
    assert_non_null(out);
    assert_int_equal(ampc_tensor_dtype(out), AMPC_F64);
    assert_close(out, expected, 30, 1e-12);
    double expected_mean[2] = {0.9 * 0.5 + 0.1 * mean[0], 0.9 * -0.25 + 0.1 * mean[1]};
    double expected_var[2] = {0.9 * 2.0 + 0.1 * unbiased[0], 0.9 * 0.75 + 0.1 * unbiased[1]};
    assert_close(running_mean, expected_mean, 2, 1e-6);
    assert_close(running_var, expected_var, 2, 1e-6);
    assert_int_equal(ampc_tensor_dtype(running_mean), AMPC_F32);
    ampc_tensor_free(out);
    /* Without weight and bias, and without running statistics. */
    batch_norm_reference(x, 3, 2, 5, NULL, NULL, 1e-3, expected, mean, unbiased);
    out = ampc_batch_norm(input, NULL, NULL, NULL, NULL, true, 0.1, 1e-3);
    assert_close(out, expected, 30, 1e-12);
    ampc_tensor_free(out);
    free_all(copies, 3);
    ampc_tensor *tensors[] = {input, weight, bias, running_mean, running_var};
    free_all(tensors, 5);
}

static void test_batch_norm_dtypes_match_f64(void **state)
{
    (void)state;
    batch_norm_options training = {.training = true, .momentum = 0.1, .eps = 1e-5};
    int64_t shape[] = {4, 3, 3, 2}, channels = 3;
    ampc_tensor *inputs[5] = {uniform(6, 4, shape, -1, 1, true),
                              uniform(21, 1, &channels, 0.5, 1.5, true),
                              uniform(22, 1, &channels, -0.5, 0.5, true), NULL, NULL};
    dtype_check_all(&(gradcheck_case){.name = "batch_norm", .op = batch_norm_op,
                                      .context = &training, .num_inputs = 5, .inputs = inputs});
    free_all(inputs, 5);
}

/* AMP's layout: an F16 input with fp32 weight, bias and running statistics. The result is
 * F16, the parameters' gradients fp32, and all agree with an all-fp32 run. */
static void test_batch_norm_takes_fp32_parameters_with_an_f16_input(void **state)
{
    (void)state;
    int64_t shape[] = {4, 2, 3}, channels = 2;
    ampc_tensor *x64 = uniform(7, 3, shape, -1, 1, false);
    ampc_tensor *x16 = ampc_tensor_cast(x64, AMPC_F16);
    ampc_tensor *x32 = ampc_tensor_cast(x16, AMPC_F32);
    ampc_tensor *weight = ampc_tensor_full(AMPC_F32, 1, &channels, 1.5);
    ampc_tensor *bias = ampc_tensor_full(AMPC_F32, 1, &channels, 0.25);
    assert_int_equal(ampc_tensor_set_requires_grad(x16, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_requires_grad(weight, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_requires_grad(bias, true), AMPC_OK);
    ampc_tensor *running_mean = ampc_tensor_zeros(AMPC_F32, 1, &channels);
    ampc_tensor *running_var = ampc_tensor_ones(AMPC_F32, 1, &channels);
    ampc_tensor *out =
        ampc_batch_norm(x16, running_mean, running_var, weight, bias, true, 0.1, 1e-5);
    assert_non_null(out);
    assert_int_equal(ampc_tensor_dtype(out), AMPC_F16);
    assert_string_equal(ampc_tensor_grad_fn_name(out), "batch_norm");
    ampc_tensor *upstream = ampc_tensor_ones(AMPC_F16, 3, shape);
    ampc_tensor *reference = ampc_batch_norm(x32, NULL, NULL, weight, bias, true, 0.1, 1e-5);
    assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(weight)), AMPC_F32);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(x16)), AMPC_F16);
    /* With a ones upstream, dbias is the count per channel and dweight sums xhat: 0. */
    assert_close(ampc_tensor_grad(bias), (double[]){12, 12}, 2, 0);
    assert_close(ampc_tensor_grad(weight), (double[]){0, 0}, 2, 1e-4);
    const double *expected;
    ampc_tensor *expected_values = values_of(reference, &expected);
    assert_close(out, expected, 24, 4e-3);
    ampc_tensor *tensors[] = {x64, x16, x32, weight, bias, running_mean, running_var, out,
                              upstream, reference, expected_values};
    free_all(tensors, 11);
}

static void test_batch_norm_of_an_empty_batch_is_empty(void **state)
{
    (void)state;
    int64_t shape[] = {0, 3}, channels = 3;
    ampc_tensor *input = ampc_tensor_zeros(AMPC_F32, 2, shape);
    ampc_tensor *weight = ampc_tensor_ones(AMPC_F32, 1, &channels);
    ampc_tensor *running_mean = ampc_tensor_full(AMPC_F32, 1, &channels, 0.5);
    ampc_tensor *running_var = ampc_tensor_ones(AMPC_F32, 1, &channels);
    assert_int_equal(ampc_tensor_set_requires_grad(weight, true), AMPC_OK);
    ampc_tensor *out = ampc_batch_norm(input, running_mean, running_var, weight, NULL, true,
                                       0.1, 1e-5);
    assert_non_null(out);
    assert_int_equal(ampc_tensor_numel(out), 0);
    assert_close(running_mean, (double[]){0.5, 0.5, 0.5}, 3, 0);
    ampc_tensor *upstream = ampc_tensor_zeros(AMPC_F32, 2, shape);
    assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
    assert_close(ampc_tensor_grad(weight), (double[]){0, 0, 0}, 3, 0);
    ampc_tensor *tensors[] = {input, weight, running_mean, running_var, out, upstream};
    free_all(tensors, 6);
}

static void test_batch_norm_rejects_bad_arguments(void **state)
{
    (void)state;
    int64_t shape[] = {4, 3}, three = 3, two = 2, one_shape[] = {1, 3};
    ampc_tensor *input = ampc_tensor_ones(AMPC_F32, 2, shape);
    ampc_tensor *c3 = ampc_tensor_ones(AMPC_F32, 1, &three);
    ampc_tensor *c2 = ampc_tensor_ones(AMPC_F32, 1, &two);
    ampc_tensor *vector = ampc_tensor_ones(AMPC_F32, 1, &three);
    ampc_tensor *single = ampc_tensor_ones(AMPC_F32, 2, one_shape);
    ampc_tensor *integers = ampc_tensor_zeros(AMPC_I64, 2, shape);

    assert_null(ampc_batch_norm(input, NULL, NULL, c2, NULL, true, 0.1, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_batch_norm: weight has shape [2]; expected [3] (input's channels)");
    assert_null(ampc_batch_norm(input, NULL, NULL, NULL, c2, true, 0.1, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "bias has shape [2]; expected [3]");
    assert_null(ampc_batch_norm(input, c2, c2, NULL, NULL, true, 0.1, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "running_mean has shape [2]; expected [3]");
    assert_null(ampc_batch_norm(input, NULL, NULL, c3, c3, false, 0.1, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_batch_norm: training is false but running_mean is NULL");
    assert_null(ampc_batch_norm(input, c3, NULL, NULL, NULL, false, 0.1, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "training is false but running_var is NULL");
    assert_null(ampc_batch_norm(input, c3, NULL, NULL, NULL, true, 0.1, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "running_var is NULL but running_mean is not");
    assert_null(ampc_batch_norm(vector, NULL, NULL, NULL, NULL, true, 0.1, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "input has 1 dims; expected (N, C, ...)");
    assert_null(ampc_batch_norm(single, NULL, NULL, NULL, NULL, true, 0.1, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "input has shape [1, 3], one value per channel; expected more than one");
    assert_null(ampc_batch_norm(integers, NULL, NULL, NULL, NULL, true, 0.1, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "input has dtype I64; expected F64, F32");
    assert_null(ampc_batch_norm(input, NULL, NULL, NULL, NULL, true, 0.1, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "eps is -1; expected a finite value >= 0");
    assert_null(ampc_batch_norm(input, c3, c3, NULL, NULL, true, NAN, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "momentum is nan; expected a finite value");
    assert_null(ampc_batch_norm(NULL, NULL, NULL, NULL, NULL, true, 0.1, 1e-5));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_batch_norm: argument input is NULL");
    /* In eval mode one value per channel is fine. */
    ampc_tensor *out = ampc_batch_norm(single, c3, c3, NULL, NULL, false, 0.1, 1e-5);
    assert_non_null(out);
    ampc_tensor *tensors[] = {input, c3, c2, vector, single, integers, out};
    free_all(tensors, 7);
}

/* --- layer_norm --------------------------------------------------------------------------- */

static void test_layer_norm_gradients_over_one_and_two_dims(void **state)
{
    (void)state;
    int64_t shape[] = {2, 3, 4};
    for (int dims = 1; dims <= 2; dims++) {
        layer_norm_options options = {.num_normalized_dims = dims};
        const int64_t *normalized = shape + 3 - dims;
        ampc_tensor *inputs[3] = {uniform(30 + dims, 3, shape, -1, 1, true),
                                  uniform(40 + dims, dims, normalized, 0.5, 1.5, true),
                                  uniform(50 + dims, dims, normalized, -0.5, 0.5, true)};
        gradcheck_case check = {.name = "layer_norm", .op = layer_norm_op, .context = &options,
                                .num_inputs = 3, .inputs = inputs};
        gradcheck_assert(&check);
        dtype_check_all(&check);
        ampc_tensor *plain[3] = {inputs[0], NULL, NULL};
        gradcheck_assert(&(gradcheck_case){.name = "layer_norm without affine",
                                           .op = layer_norm_op, .context = &options,
                                           .num_inputs = 3, .inputs = plain});
        ampc_tensor *strided[3] = {gradcheck_noncontiguous(inputs[0], true), inputs[1],
                                   inputs[2]};
        gradcheck_assert(&(gradcheck_case){.name = "layer_norm noncontiguous",
                                           .op = layer_norm_op, .context = &options,
                                           .num_inputs = 3, .inputs = strided});
        ampc_tensor_free(strided[0]);
        free_all(inputs, 3);
    }
}

static void test_layer_norm_forward_matches_a_float64_formula(void **state)
{
    (void)state;
    int64_t shape[] = {3, 2, 2}, normalized[] = {2, 2};
    ampc_tensor *input = uniform(8, 3, shape, -4, 4, false);
    ampc_tensor *weight = uniform(9, 2, normalized, 0.5, 1.5, false);
    ampc_tensor *bias = uniform(10, 2, normalized, -1, 1, false);
    const double *x, *w, *b;
    ampc_tensor *copies[3] = {values_of(input, &x), values_of(weight, &w), values_of(bias, &b)};
    double expected[12];
    for (int row = 0; row < 3; row++) {
        const double *r = x + 4 * row;
        double mean = (r[0] + r[1] + r[2] + r[3]) / 4, var = 0;
        for (int i = 0; i < 4; i++) var += (r[i] - mean) * (r[i] - mean) / 4;
        for (int i = 0; i < 4; i++)
            expected[4 * row + i] = (r[i] - mean) / sqrt(var + 1e-5) * w[i] + b[i];
    }
    ampc_tensor *out = ampc_layer_norm(input, 2, weight, bias, 1e-5);
    assert_close(out, expected, 12, 1e-12);
    ampc_tensor_free(out);
    /* One element per row: the normalised value is 0, leaving the bias. */
    int64_t column[] = {3, 1}, one = 1;
    ampc_tensor *narrow = uniform(23, 2, column, -1, 1, true);
    ampc_tensor *bias1 = ampc_tensor_full(AMPC_F64, 1, &one, 0.75);
    out = ampc_layer_norm(narrow, 1, NULL, bias1, 1e-5);
    assert_close(out, (double[]){0.75, 0.75, 0.75}, 3, 0);
    ampc_tensor_free(out);
    layer_norm_options options = {.num_normalized_dims = 1};
    ampc_tensor *inputs[3] = {narrow, NULL, NULL};
    gradcheck_assert(&(gradcheck_case){.name = "layer_norm size-1 rows", .op = layer_norm_op,
                                       .context = &options, .num_inputs = 3, .inputs = inputs});
    ampc_tensor *tensors[] = {input, weight, bias, narrow, bias1};
    free_all(tensors, 5);
    free_all(copies, 3);
}

/* Large enough for the kernels' threaded paths (and several channel blocks in the affine
 * backward): the forward and all three gradients against float64 formulas. */
static void test_batch_norm_large_input_matches_float64_formulas(void **state)
{
    (void)state;
    enum { N = 6, C = 70, S = 80 };
    int64_t shape[] = {N, C, S}, channels = C;
    ampc_tensor *input = uniform(27, 3, shape, -2, 2, true);
    ampc_tensor *weight = uniform(28, 1, &channels, 0.5, 1.5, true);
    ampc_tensor *bias = uniform(29, 1, &channels, -1, 1, true);
    ampc_tensor *upstream = uniform(30, 3, shape, -1, 1, false);
    ampc_tensor *out = ampc_batch_norm(input, NULL, NULL, weight, bias, true, 0.1, 1e-5);
    assert_non_null(out);
    assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
    const double *x = ampc_tensor_data(input), *w = ampc_tensor_data(weight);
    const double *b = ampc_tensor_data(bias), *dy = ampc_tensor_data(upstream);
    static double expected[N * C * S], dx[N * C * S];
    double mean[C], unbiased[C], dw[C], db[C];
    batch_norm_reference(x, N, C, S, w, b, 1e-5, expected, mean, unbiased);
    for (int c = 0; c < C; c++) {
        double rstd = 1 / sqrt(unbiased[c] * (N * S - 1) / (N * S) + 1e-5);
        double sum_dy = 0, sum_dy_xhat = 0;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                int at = (n * C + c) * S + s;
                sum_dy += dy[at];
                sum_dy_xhat += dy[at] * (x[at] - mean[c]) * rstd;
            }
        dw[c] = sum_dy_xhat;
        db[c] = sum_dy;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                int at = (n * C + c) * S + s;
                double xhat = (x[at] - mean[c]) * rstd;
                dx[at] = w[c] * rstd * (dy[at] - sum_dy / (N * S) - xhat * sum_dy_xhat / (N * S));
            }
    }
    assert_close(out, expected, N * C * S, 1e-11);
    assert_close(ampc_tensor_grad(input), dx, N * C * S, 1e-11);
    assert_close(ampc_tensor_grad(weight), dw, C, 1e-10);
    assert_close(ampc_tensor_grad(bias), db, C, 1e-10);
    ampc_tensor *tensors[] = {input, weight, bias, upstream, out};
    free_all(tensors, 5);
}

/* The same for layer_norm's row layout, in fp32: rows split over threads, 1100 columns over
 * several channel blocks. */
static void test_layer_norm_large_input_matches_float64_formulas(void **state)
{
    (void)state;
    enum { M = 40, D = 1100 };
    int64_t shape[] = {M, D}, d = D;
    ampc_tensor *x64 = uniform(31, 2, shape, -2, 2, false);
    ampc_tensor *w64 = uniform(32, 1, &d, 0.5, 1.5, false);
    ampc_tensor *upstream = uniform(33, 2, shape, -1, 1, false);
    ampc_tensor *input = ampc_tensor_cast(x64, AMPC_F32);
    ampc_tensor *weight = ampc_tensor_cast(w64, AMPC_F32);
    assert_int_equal(ampc_tensor_set_requires_grad(input, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_requires_grad(weight, true), AMPC_OK);
    ampc_tensor *out = ampc_layer_norm(input, 1, weight, NULL, 1e-5);
    assert_non_null(out);
    assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
    ampc_tensor *x_exact = ampc_tensor_cast(input, AMPC_F64);
    ampc_tensor *w_exact = ampc_tensor_cast(weight, AMPC_F64);
    const double *x = ampc_tensor_data(x_exact), *w = ampc_tensor_data(w_exact);
    const double *dy = ampc_tensor_data(upstream);
    static double expected[M * D], dx[M * D], dw[D];
    for (int j = 0; j < D; j++) dw[j] = 0;
    for (int m = 0; m < M; m++) {
        const double *r = x + m * D, *g = dy + m * D;
        double mean = 0, var = 0, sum_dxhat = 0, sum_dxhat_xhat = 0;
        for (int j = 0; j < D; j++) mean += r[j] / D;
        for (int j = 0; j < D; j++) var += (r[j] - mean) * (r[j] - mean) / D;
        double rstd = 1 / sqrt(var + 1e-5);
        for (int j = 0; j < D; j++) {
            double xhat = (r[j] - mean) * rstd;
            expected[m * D + j] = xhat * w[j];
            sum_dxhat += g[j] * w[j];
            sum_dxhat_xhat += g[j] * w[j] * xhat;
            dw[j] += g[j] * xhat;
        }
        for (int j = 0; j < D; j++) {
            double xhat = (r[j] - mean) * rstd;
            dx[m * D + j] = rstd * (g[j] * w[j] - sum_dxhat / D - xhat * sum_dxhat_xhat / D);
        }
    }
    assert_close(out, expected, M * D, 1e-5);
    assert_close(ampc_tensor_grad(input), dx, M * D, 1e-5);
    assert_close(ampc_tensor_grad(weight), dw, D, 1e-4);
    ampc_tensor *tensors[] = {x64, w64, upstream, input, weight, out, x_exact, w_exact};
    free_all(tensors, 8);
}

static void test_layer_norm_rejects_bad_arguments(void **state)
{
    (void)state;
    int64_t shape[] = {2, 3}, three = 3, two = 2;
    ampc_tensor *input = ampc_tensor_ones(AMPC_F32, 2, shape);
    ampc_tensor *w3 = ampc_tensor_ones(AMPC_F32, 1, &three);
    ampc_tensor *w2 = ampc_tensor_ones(AMPC_F32, 1, &two);
    assert_null(ampc_layer_norm(input, 3, NULL, NULL, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_layer_norm: num_normalized_dims is 3; expected 1 to input's ndim 2");
    assert_null(ampc_layer_norm(input, 0, NULL, NULL, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "num_normalized_dims is 0");
    assert_null(ampc_layer_norm(input, 1, w2, NULL, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "weight has shape [2]; expected [3]");
    assert_null(ampc_layer_norm(input, 2, w3, NULL, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "weight has shape [3]; expected [2, 3]");
    assert_null(ampc_layer_norm(input, 1, NULL, NULL, INFINITY));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "eps is inf");
    assert_null(ampc_layer_norm(NULL, 1, NULL, NULL, 1e-5));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "argument input is NULL");
    /* A zero-size dim gives an empty result. */
    int64_t empty_shape[] = {0, 3};
    ampc_tensor *empty = ampc_tensor_zeros(AMPC_F32, 2, empty_shape);
    ampc_tensor *out = ampc_layer_norm(empty, 1, w3, NULL, 1e-5);
    assert_non_null(out);
    assert_int_equal(ampc_tensor_numel(out), 0);
    ampc_tensor *tensors[] = {input, w3, w2, empty, out};
    free_all(tensors, 5);
}

/* --- group_norm --------------------------------------------------------------------------- */

static void test_group_norm_gradients_with_1_2_and_c_groups(void **state)
{
    (void)state;
    int64_t shape[] = {2, 4, 3}, channels = 4;
    const int64_t groups[] = {1, 2, 4};
    for (int g = 0; g < 3; g++) {
        group_norm_options options = {.num_groups = groups[g]};
        ampc_tensor *inputs[3] = {uniform(60 + g, 3, shape, -1, 1, true),
                                  uniform(70 + g, 1, &channels, 0.5, 1.5, true),
                                  uniform(80 + g, 1, &channels, -0.5, 0.5, true)};
        gradcheck_case check = {.name = "group_norm", .op = group_norm_op, .context = &options,
                                .num_inputs = 3, .inputs = inputs};
        gradcheck_assert(&check);
        dtype_check_all(&check);
        ampc_tensor *plain[3] = {inputs[0], NULL, NULL};
        gradcheck_assert(&(gradcheck_case){.name = "group_norm without affine",
                                           .op = group_norm_op, .context = &options,
                                           .num_inputs = 3, .inputs = plain});
        ampc_tensor *strided[3] = {gradcheck_noncontiguous(inputs[0], true), inputs[1],
                                   inputs[2]};
        gradcheck_assert(&(gradcheck_case){.name = "group_norm noncontiguous",
                                           .op = group_norm_op, .context = &options,
                                           .num_inputs = 3, .inputs = strided});
        ampc_tensor_free(strided[0]);
        free_all(inputs, 3);
    }
}

static void test_group_norm_forward_matches_a_float64_formula(void **state)
{
    (void)state;
    int64_t shape[] = {2, 4, 3}, channels = 4;
    ampc_tensor *input = uniform(24, 3, shape, -2, 2, false);
    ampc_tensor *weight = uniform(25, 1, &channels, 0.5, 1.5, false);
    ampc_tensor *bias = uniform(26, 1, &channels, -1, 1, false);
    const double *x, *w, *b;
    ampc_tensor *copies[3] = {values_of(input, &x), values_of(weight, &w), values_of(bias, &b)};
    /* Two groups of two channels: each (sample, group) is 6 consecutive values. */
    double expected[24];
    for (int group = 0; group < 4; group++) {
        const double *r = x + 6 * group;
        double mean = 0, var = 0;
        for (int i = 0; i < 6; i++) mean += r[i] / 6;
        for (int i = 0; i < 6; i++) var += (r[i] - mean) * (r[i] - mean) / 6;
        for (int i = 0; i < 6; i++) {
            int c = (group % 2) * 2 + i / 3;
            expected[6 * group + i] = (r[i] - mean) / sqrt(var + 1e-5) * w[c] + b[c];
        }
    }
    ampc_tensor *out = ampc_group_norm(input, 2, weight, bias, 1e-5);
    assert_close(out, expected, 24, 1e-12);
    ampc_tensor_free(out);
    ampc_tensor *tensors[] = {input, weight, bias};
    free_all(tensors, 3);
    free_all(copies, 3);
}

static void test_group_norm_rejects_bad_arguments_and_allows_empty_inputs(void **state)
{
    (void)state;
    int64_t shape[] = {2, 4, 3}, four = 4, three = 3;
    ampc_tensor *input = ampc_tensor_ones(AMPC_F32, 3, shape);
    ampc_tensor *w3 = ampc_tensor_ones(AMPC_F32, 1, &three);
    ampc_tensor *w4 = ampc_tensor_ones(AMPC_F32, 1, &four);
    assert_null(ampc_group_norm(input, 3, NULL, NULL, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_group_norm: num_groups is 3; expected a positive divisor of input's 4 "
                 "channels");
    assert_null(ampc_group_norm(input, 0, NULL, NULL, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "num_groups is 0");
    assert_null(ampc_group_norm(input, 2, w3, NULL, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "weight has shape [3]; expected [4] (input's channels)");
    assert_null(ampc_group_norm(input, 2, w4, w3, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "bias has shape [3]; expected [4]");
    assert_null(ampc_group_norm(w4, 2, NULL, NULL, 1e-5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "input has 1 dims; expected (N, C, ...)");
    /* No samples, or no channels: an empty result, and an empty (or zero) gradient. */
    const int64_t empty_shapes[2][3] = {{0, 4, 3}, {2, 0, 3}};
    for (int which = 0; which < 2; which++) {
        ampc_tensor *empty = ampc_tensor_zeros(AMPC_F32, 3, empty_shapes[which]);
        assert_int_equal(ampc_tensor_set_requires_grad(empty, true), AMPC_OK);
        ampc_tensor *out = ampc_group_norm(empty, which ? 1 : 2, which ? NULL : w4, NULL, 1e-5);
        assert_non_null(out);
        assert_int_equal(ampc_tensor_numel(out), 0);
        ampc_tensor *upstream = ampc_tensor_zeros(AMPC_F32, 3, empty_shapes[which]);
        assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
        ampc_tensor *done[] = {empty, out, upstream};
        free_all(done, 3);
    }
    ampc_tensor *tensors[] = {input, w3, w4};
    free_all(tensors, 3);
}

/* --- threads ------------------------------------------------------------------------------ */

/* Each norm's result and gradients (input, weight, bias) on F32 inputs large enough for the
 * threaded paths, computed with `threads` threads: 3 norms x 4 tensors into results. */
static void run_norms(int threads, ampc_tensor *const *inputs, const ampc_tensor *upstream,
                      ampc_tensor **results)
{
    int previous = ampc_num_threads();
    assert_int_equal(ampc_set_num_threads(threads), AMPC_OK);
    for (int norm = 0; norm < 3; norm++) {
        for (int i = 0; i < 3; i++) ampc_tensor_zero_grad(inputs[i], true);
        ampc_tensor *out = norm == 0   ? ampc_batch_norm(inputs[0], NULL, NULL, inputs[1],
                                                         inputs[2], true, 0.1, 1e-5)
                           : norm == 1 ? ampc_group_norm(inputs[0], 5, inputs[1], inputs[2],
                                                         1e-5)
                                       : ampc_layer_norm(inputs[0], 2, NULL, NULL, 1e-5);
        assert_non_null(out);
        assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
        results[4 * norm] = out;
        for (int i = 0; i < 3; i++) {
            const ampc_tensor *grad = ampc_tensor_grad(inputs[i]);
            results[4 * norm + 1 + i] = grad ? ampc_tensor_clone(grad) : NULL;
        }
    }
    assert_int_equal(ampc_set_num_threads(previous), AMPC_OK);
}

static void test_norm_results_are_bitwise_the_same_for_any_thread_count(void **state)
{
    (void)state;
    int64_t shape[] = {8, 70, 9, 10}, channels = 70;
    ampc_tensor *inputs[3] = {gradcheck_uniform(34, 4, shape, -2, 2, false),
                              gradcheck_uniform(35, 1, &channels, 0.5, 1.5, false),
                              gradcheck_uniform(36, 1, &channels, -1, 1, false)};
    for (int i = 0; i < 3; i++) {
        ampc_tensor *f32 = ampc_tensor_cast(inputs[i], AMPC_F32);
        ampc_tensor_free(inputs[i]);
        inputs[i] = f32;
        assert_int_equal(ampc_tensor_set_requires_grad(inputs[i], true), AMPC_OK);
    }
    ampc_tensor *upstream = gradcheck_uniform(37, 4, shape, -1, 1, false);
    ampc_tensor *serial[12], *threaded[12];
    run_norms(1, inputs, upstream, serial);
    run_norms(3, inputs, upstream, threaded);
    for (int i = 0; i < 12; i++) {
        assert_true((serial[i] == NULL) == (threaded[i] == NULL));
        if (!serial[i]) continue;
        assert_int_equal(ampc_tensor_nbytes(serial[i]), ampc_tensor_nbytes(threaded[i]));
        if (memcmp(ampc_tensor_data(serial[i]), ampc_tensor_data(threaded[i]),
                   ampc_tensor_nbytes(serial[i])) != 0)
            fail_msg("result %d (norm %d) differs between 1 and 3 threads", i, i / 4);
    }
    free_all(serial, 12);
    free_all(threaded, 12);
    free_all(inputs, 3);
    ampc_tensor_free(upstream);
}

/* --- memory ------------------------------------------------------------------------------- */

/* The whole family in per-step arenas (embedding -> layer_norm -> dropout -> batch_norm with
 * heap running statistics -> group_norm, forward and backward): the arena stops growing after
 * the first step and nothing outside it is left behind. */
static void test_family_steps_in_an_arena_keep_memory_flat(void **state)
{
    (void)state;
    int64_t table_shape[] = {10, 6}, index_shape[] = {4, 3}, channels = 3, six = 6;
    ampc_tensor *table = gradcheck_uniform(38, 2, table_shape, -1, 1, true);
    ampc_tensor *ln_weight = gradcheck_uniform(39, 1, &six, 0.5, 1.5, true);
    ampc_tensor *bn_weight = gradcheck_uniform(40, 1, &channels, 0.5, 1.5, true);
    ampc_tensor *running_mean = ampc_tensor_zeros(AMPC_F32, 1, &channels);
    ampc_tensor *running_var = ampc_tensor_ones(AMPC_F32, 1, &channels);
    ampc_tensor *indices = ampc_tensor_empty(AMPC_I64, 2, index_shape);
    for (int k = 0; k < 12; k++) ((int64_t *)ampc_tensor_data(indices))[k] = (k * 7) % 10;
    ampc_generator *generator = ampc_generator_new(5);
    ampc_arena *arena = ampc_arena_new();
    size_t capacity = 0, other = 0;
    for (int step = 0; step < 50; step++) {
        assert_int_equal(ampc_arena_enter(arena), AMPC_OK);
        ampc_tensor *rows = ampc_embedding(indices, table, 0);
        ampc_tensor *normed = ampc_layer_norm(rows, 1, ln_weight, NULL, 1e-5);
        ampc_tensor *dropped = ampc_dropout(normed, 0.2, true, generator);
        ampc_tensor *batch = ampc_batch_norm(dropped, running_mean, running_var, bn_weight,
                                             NULL, true, 0.1, 1e-5);
        ampc_tensor *out = ampc_group_norm(batch, 3, NULL, NULL, 1e-5);
        assert_non_null(out);
        ampc_tensor *upstream = ampc_tensor_ones(AMPC_F64, 3, (int64_t[]){4, 3, 6});
        assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
        assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
        assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
        if (step == 0) {
            capacity = ampc_arena_capacity(arena);
            other = live_bytes(AMPC_MEMORY_OTHER);
        }
    }
    assert_int_equal(ampc_arena_capacity(arena), capacity);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), other);
    assert_int_equal(live_bytes(AMPC_MEMORY_ACTIVATIONS), 0);
    assert_non_null(ampc_tensor_grad(table));
    ampc_arena_free(arena);
    ampc_generator_free(generator);
    ampc_tensor *tensors[] = {table, ln_weight, bn_weight, running_mean, running_var, indices};
    free_all(tensors, 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_norm_gradients_2d_and_4d_with_and_without_affine),
        cmocka_unit_test(test_batch_norm_gradients_of_a_noncontiguous_input),
        cmocka_unit_test(test_batch_norm_eval_gradients_treat_running_statistics_as_constants),
        cmocka_unit_test(test_batch_norm_forward_and_running_update_match_a_float64_formula),
        cmocka_unit_test(test_batch_norm_dtypes_match_f64),
        cmocka_unit_test(test_batch_norm_takes_fp32_parameters_with_an_f16_input),
        cmocka_unit_test(test_batch_norm_of_an_empty_batch_is_empty),
        cmocka_unit_test(test_batch_norm_rejects_bad_arguments),
        cmocka_unit_test(test_layer_norm_gradients_over_one_and_two_dims),
        cmocka_unit_test(test_layer_norm_forward_matches_a_float64_formula),
        cmocka_unit_test(test_batch_norm_large_input_matches_float64_formulas),
        cmocka_unit_test(test_layer_norm_large_input_matches_float64_formulas),
        cmocka_unit_test(test_layer_norm_rejects_bad_arguments),
        cmocka_unit_test(test_group_norm_gradients_with_1_2_and_c_groups),
        cmocka_unit_test(test_group_norm_forward_matches_a_float64_formula),
        cmocka_unit_test(test_group_norm_rejects_bad_arguments_and_allows_empty_inputs),
        cmocka_unit_test(test_norm_results_are_bitwise_the_same_for_any_thread_count),
        cmocka_unit_test(test_family_steps_in_an_arena_keep_memory_flat),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
