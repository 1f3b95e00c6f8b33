/* Tests for src/ops/pool.c and src/kernels/pool.c (max_pool2d, avg_pool2d,
 * adaptive_avg_pool2d): hand-computed windows (padding, count_include_pad, ceil_mode,
 * non-divisible adaptive cells), forward against float64 loops written here from PyTorch's
 * definitions, gradients by finite differences, the F32/F16/BF16 runs against F64, ties and
 * NaN in the max pool, and every refusal by its message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include <ampc/ampc.h>
#include <ampc/autograd.h>
#include <ampc/ops_conv.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"

typedef enum pool_kind { MAX, AVG, ADAPTIVE } pool_kind;

typedef struct pool_spec {
    pool_kind kind;
    ampc_pool2d_options options;
    int64_t out_h, out_w; /* adaptive */
} pool_spec;

static ampc_tensor *pool_op(ampc_tensor *const *inputs, const void *context)
{
    const pool_spec *s = context;
    switch (s->kind) {
    case MAX: return ampc_max_pool2d(inputs[0], &s->options);
    case AVG: return ampc_avg_pool2d(inputs[0], &s->options);
    default: return ampc_adaptive_avg_pool2d(inputs[0], s->out_h, s->out_w);
    }
}

static ampc_tensor *from_values(const double *values, int ndim, const int64_t *shape)
{
    ampc_tensor *t = ampc_tensor_from_data(values, AMPC_F64, ndim, shape);
    assert_non_null(t);
    return t;
}

/* 0..15 as a 4x4 image. */
static ampc_tensor *arange_4x4(void)
{
    return arange_shaped(AMPC_F64, 4, (int64_t[]){1, 1, 4, 4});
}

static void test_max_pool_picks_each_window_max(void **state)
{
    (void)state;
    ampc_tensor *x = arange_4x4();
    ampc_pool2d_options o = ampc_pool2d_defaults(2, 2);
    ampc_tensor *y = ampc_max_pool2d(x, &o);
    assert_values(y, (double[]){5, 7, 13, 15}, 4);
    ampc_tensor_free(y);
    /* stride 1, padding 1, dilation 2: rows (and columns) {-1, 1}, {0, 2}, {1, 3}, {2, 4};
     * padding never wins */
    o = (ampc_pool2d_options){
        .kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}, .dilation = {2, 2}};
    y = ampc_max_pool2d(x, &o);
    assert_int_equal(ampc_tensor_dim(y, 2), 4);
    assert_values(y, (double[]){5, 6, 7, 6, 9, 10, 11, 10, 13, 14, 15, 14, 9, 10, 11, 10}, 16);
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

static void test_avg_pool_divisor_follows_count_include_pad(void **state)
{
    (void)state;
    /* 0 1 2 / 3 4 5 / 6 7 8, kernel 2, stride 1, padding 1: a 4x4 output. */
    ampc_tensor *x = arange_shaped(AMPC_F64, 3, (int64_t[]){1, 3, 3});
    ampc_pool2d_options o = {
        .kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1}, .count_include_pad = true};
    ampc_tensor *y = ampc_avg_pool2d(x, &o);
    assert_int_equal(ampc_tensor_ndim(y), 3);
    assert_values(
        y, (double[]){0, 0.25, 0.75, 0.5, 0.75, 2, 3, 1.75, 2.25, 5, 6, 3.25, 1.5, 3.25, 3.75, 2},
        16);
    ampc_tensor_free(y);
    o.count_include_pad = false;
    y = ampc_avg_pool2d(x, &o);
    assert_values(y, (double[]){0, 0.5, 1.5, 2, 1.5, 2, 3, 3.5, 4.5, 5, 6, 6.5, 6, 6.5, 7.5, 8},
                  16);
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

/* ceil_mode keeps a last partial window only if it starts inside the input or its left
 * padding. */
static void test_ceil_mode_output_sizes(void **state)
{
    (void)state;
    ampc_tensor *x = ampc_tensor_zeros(AMPC_F32, 4, (int64_t[]){2, 3, 5, 5});
    struct {
        int64_t kernel, stride, padding;
        bool ceil_mode;
        int64_t expected;
    } cases[] = {{2, 2, 0, false, 2}, {2, 2, 0, true, 3}, {2, 2, 1, true, 3}, {3, 2, 1, false, 3},
                 {3, 2, 1, true, 3},  {3, 3, 0, true, 2}, {2, 3, 1, true, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ampc_pool2d_options o = ampc_pool2d_defaults(cases[i].kernel, cases[i].kernel);
        o.stride[0] = o.stride[1] = cases[i].stride;
        o.padding[0] = o.padding[1] = cases[i].padding;
        o.ceil_mode = cases[i].ceil_mode;
        ampc_tensor *y = ampc_max_pool2d(x, &o), *z = ampc_avg_pool2d(x, &o);
        assert_non_null(y);
        assert_non_null(z);
        if (ampc_tensor_dim(y, 2) != cases[i].expected ||
            ampc_tensor_dim(z, 3) != cases[i].expected)
            fail_msg("case %zu: output %lld; expected %lld", i, (long long)ampc_tensor_dim(y, 2),
                     (long long)cases[i].expected);
        ampc_tensor_free(y);
        ampc_tensor_free(z);
    }
    ampc_tensor_free(x);
}

static void test_adaptive_cells_overlap_when_sizes_do_not_divide(void **state)
{
    (void)state;
    /* 0..4 into 3 cells: [0, 2), [1, 4), [3, 5) */
    ampc_tensor *x = arange_shaped(AMPC_F64, 4, (int64_t[]){1, 1, 1, 5});
    ampc_tensor *y = ampc_adaptive_avg_pool2d(x, 1, 3);
    assert_values(y, (double[]){0.5, 2, 3.5}, 3);
    ampc_tensor_free(y);
    /* more cells than elements: cell j spans [floor(5 j / 7), ceil(5 (j + 1) / 7)) */
    y = ampc_adaptive_avg_pool2d(x, 2, 7);
    assert_values(y, (double[]){0, 0.5, 1.5, 2, 2.5, 3.5, 4, 0, 0.5, 1.5, 2, 2.5, 3.5, 4}, 14);
    ampc_tensor_free(y);
    y = ampc_adaptive_avg_pool2d(x, 0, 3);
    assert_non_null(y);
    assert_int_equal(ampc_tensor_numel(y), 0);
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

/* The pools by PyTorch's definitions, one window at a time, in float64. */
static double reference_window(const pool_spec *s, const double *plane, int64_t h, int64_t w,
                               int64_t oh, int64_t ow)
{
    if (s->kind == ADAPTIVE) {
        int64_t h0 = oh * h / s->out_h, h1 = (int64_t)ceil((double)(oh + 1) * h / s->out_h);
        int64_t w0 = ow * w / s->out_w, w1 = (int64_t)ceil((double)(ow + 1) * w / s->out_w);
        double sum = 0;
        for (int64_t i = h0; i < h1; i++)
            for (int64_t j = w0; j < w1; j++) sum += plane[i * w + j];
        return sum / (double)((h1 - h0) * (w1 - w0));
    }
    const ampc_pool2d_options *o = &s->options;
    int64_t sh = o->stride[0] ? o->stride[0] : o->kernel[0];
    int64_t sw = o->stride[1] ? o->stride[1] : o->kernel[1];
    int64_t dh = o->dilation[0] ? o->dilation[0] : 1, dw = o->dilation[1] ? o->dilation[1] : 1;
    double best = -INFINITY, sum = 0;
    int64_t inside = 0, padded = 0;
    for (int64_t kh = 0; kh < o->kernel[0]; kh++)
        for (int64_t kw = 0; kw < o->kernel[1]; kw++) {
            int64_t i = oh * sh - o->padding[0] + kh * dh, j = ow * sw - o->padding[1] + kw * dw;
            if (i < h + o->padding[0] && j < w + o->padding[1]) padded++;
            if (i < 0 || i >= h || j < 0 || j >= w) continue;
            best = fmax(best, plane[i * w + j]);
            sum += plane[i * w + j];
            inside++;
        }
    if (s->kind == MAX) return best;
    return sum / (double)(o->count_include_pad ? padded : inside);
}

static void check_forward(const pool_spec *s, const int64_t *shape, uint64_t seed)
{
    ampc_tensor *x = gradcheck_uniform(seed, 4, shape, -1, 1, false);
    ampc_tensor *y = pool_op(&x, s);
    assert_non_null(y);
    const double *data = ampc_tensor_data(x);
    int64_t oh_size = ampc_tensor_dim(y, 2), ow_size = ampc_tensor_dim(y, 3);
    for (int64_t p = 0; p < shape[0] * shape[1]; p++)
        for (int64_t oh = 0; oh < oh_size; oh++)
            for (int64_t ow = 0; ow < ow_size; ow++) {
                double expected =
                    reference_window(s, data + p * shape[2] * shape[3], shape[2], shape[3], oh, ow);
                double got = value_at_position(y, (p * oh_size + oh) * ow_size + ow);
                if (fabs(got - expected) > 1e-12)
                    fail_msg("plane %lld (%lld, %lld): %.17g; expected %.17g", (long long)p,
                             (long long)oh, (long long)ow, got, expected);
            }
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

static void check_gradients(const pool_spec *s, const int64_t *shape, uint64_t seed,
                            bool noncontiguous)
{
    ampc_tensor *x = gradcheck_uniform(seed, 4, shape, -1, 1, true);
    if (noncontiguous) {
        ampc_tensor *strided = gradcheck_noncontiguous(x, true);
        ampc_tensor_free(x);
        x = strided;
    }
    const char *names[] = {"max_pool2d", "avg_pool2d", "adaptive_avg_pool2d"};
    gradcheck_case check = {
        .name = names[s->kind], .op = pool_op, .context = s, .num_inputs = 1, .inputs = &x};
    gradcheck_assert(&check);
    ampc_tensor_free(x);
}

/* Case i: kernels, strides, paddings, dilations and ceil_mode cycling at their own rates. */
static pool_spec window_case(pool_kind kind, int i)
{
    pool_spec s = {.kind = kind};
    ampc_pool2d_options *o = &s.options;
    o->kernel[0] = 2 + i % 2;
    o->kernel[1] = 3 - (i / 2) % 2;
    o->stride[0] = i % 3 == 0 ? 0 : 1 + i % 2;
    o->stride[1] = 1 + (i / 3) % 2;
    o->padding[0] = (i / 2) % 2;
    o->padding[1] = i % 2;
    o->dilation[0] = kind == MAX ? 1 + (i / 4) % 2 : 1;
    o->dilation[1] = kind == MAX ? 1 + i % 2 : 0;
    o->ceil_mode = i % 4 >= 2;
    o->count_include_pad = i % 3 != 1;
    return s;
}

enum { WINDOW_CASES = 12 };

static void test_pools_forward_match_float64_loops(void **state)
{
    (void)state;
    const int64_t shape[4] = {2, 3, 7, 6};
    for (int kind = MAX; kind <= AVG; kind++)
        for (int i = 0; i < WINDOW_CASES; i++) {
            pool_spec s = window_case((pool_kind)kind, i);
            check_forward(&s, shape, 100 + (uint64_t)i);
        }
    const int64_t adaptive_sizes[][2] = {{3, 4}, {7, 6}, {1, 1}, {5, 2}, {9, 11}};
    for (int i = 0; i < 5; i++) {
        pool_spec s = {
            .kind = ADAPTIVE, .out_h = adaptive_sizes[i][0], .out_w = adaptive_sizes[i][1]};
        check_forward(&s, shape, 200 + (uint64_t)i);
    }
}

static void test_pools_gradients(void **state)
{
    (void)state;
    const int64_t shapes[][4] = {{1, 2, 5, 6}, {3, 1, 6, 5}};
    for (int kind = MAX; kind <= AVG; kind++)
        for (int i = 0; i < WINDOW_CASES; i++) {
            pool_spec s = window_case((pool_kind)kind, i);
            check_gradients(&s, shapes[i % 2], 300 + (uint64_t)i, i % 5 == 2);
        }
    const int64_t adaptive_sizes[][2] = {{3, 4}, {2, 2}, {1, 1}, {7, 8}};
    for (int i = 0; i < 4; i++) {
        pool_spec s = {
            .kind = ADAPTIVE, .out_h = adaptive_sizes[i][0], .out_w = adaptive_sizes[i][1]};
        check_gradients(&s, shapes[i % 2], 400 + (uint64_t)i, i == 1);
    }
}

static void test_pools_edge_sizes(void **state)
{
    (void)state;
    /* size-1 planes and a kernel covering the whole image */
    const int64_t one[4] = {1, 1, 1, 1}, whole[4] = {2, 1, 3, 2};
    pool_spec max1 = {.kind = MAX, .options = ampc_pool2d_defaults(1, 1)};
    pool_spec avg_whole = {.kind = AVG, .options = ampc_pool2d_defaults(3, 2)};
    pool_spec adaptive1 = {.kind = ADAPTIVE, .out_h = 1, .out_w = 1};
    check_gradients(&max1, one, 500, false);
    check_gradients(&avg_whole, whole, 501, false);
    check_gradients(&adaptive1, one, 502, false);
    /* an empty batch pools to an empty batch */
    ampc_tensor *empty = ampc_tensor_zeros(AMPC_F32, 4, (int64_t[]){0, 3, 4, 4});
    ampc_tensor *y = ampc_max_pool2d(empty, &max1.options);
    assert_non_null(y);
    assert_int_equal(ampc_tensor_dim(y, 0), 0);
    assert_int_equal(ampc_tensor_dim(y, 3), 4);
    ampc_tensor_free(y);
    ampc_tensor_free(empty);
}

static void test_pools_dtypes_against_float64(void **state)
{
    (void)state;
    const int64_t shape[4] = {2, 2, 6, 5};
    const ampc_dtype dtypes[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
    pool_spec specs[] = {
        window_case(MAX, 5), window_case(AVG, 6), {.kind = ADAPTIVE, .out_h = 4, .out_w = 3}};
    for (int k = 0; k < 3; k++) {
        ampc_tensor *x = gradcheck_uniform(600 + (uint64_t)k, 4, shape, -1, 1, true);
        gradcheck_case check = {
            .name = "pool", .op = pool_op, .context = &specs[k], .num_inputs = 1, .inputs = &x};
        for (int d = 0; d < 3; d++)
            dtype_check_assert(&check, dtypes[d], dtype_tolerance_default(dtypes[d]));
        ampc_tensor_free(x);
    }
}

/* Enough planes that the pools split them over threads: the same bits on 1 and 3 threads. */
static void test_pools_do_not_depend_on_the_thread_count(void **state)
{
    (void)state;
    int threads = ampc_num_threads();
    const int64_t shape[4] = {2, 8, 48, 46};
    pool_spec specs[] = {
        window_case(MAX, 7), window_case(AVG, 6), {.kind = ADAPTIVE, .out_h = 13, .out_w = 9}};
    for (int k = 0; k < 3; k++) {
        ampc_tensor *x64 = gradcheck_uniform(700, 4, shape, -1, 1, false);
        ampc_tensor *x = ampc_tensor_cast(x64, AMPC_F32);
        assert_int_equal(ampc_tensor_set_requires_grad(x, true), AMPC_OK);
        ampc_tensor *results[2][2];
        for (int run = 0; run < 2; run++) {
            assert_int_equal(ampc_set_num_threads(run == 0 ? 1 : 3), AMPC_OK);
            ampc_tensor *y = pool_op(&x, &specs[k]);
            assert_non_null(y);
            ampc_tensor *v = ampc_tensor_full(AMPC_F32, 4, ampc_tensor_shape(y), 0.25);
            assert_int_equal(ampc_backward(y, v, false), AMPC_OK);
            results[run][0] = ampc_tensor_clone(y);
            results[run][1] = ampc_tensor_clone(ampc_tensor_grad(x));
            assert_int_equal(ampc_tensor_zero_grad(x, true), AMPC_OK);
            ampc_tensor_free(v);
            ampc_tensor_free(y);
        }
        assert_int_equal(ampc_set_num_threads(threads), AMPC_OK);
        for (int r = 0; r < 2; r++) {
            int64_t n = ampc_tensor_numel(results[0][r]);
            for (int64_t i = 0; i < n; i++)
                if (value_at_position(results[0][r], i) != value_at_position(results[1][r], i))
                    fail_msg("pool %d, %s element %lld differs between 1 and 3 threads", k,
                             r ? "gradient" : "output", (long long)i);
            ampc_tensor_free(results[0][r]);
            ampc_tensor_free(results[1][r]);
        }
        ampc_tensor_free(x);
        ampc_tensor_free(x64);
    }
}

/* Ties: the gradient goes to the first maximum in row-major order, as PyTorch's CPU kernel. */
static void test_max_pool_gradient_goes_to_the_first_tie(void **state)
{
    (void)state;
    ampc_tensor *x = from_values((double[]){1, 3, 3, 3}, 4, (int64_t[]){1, 1, 2, 2});
    assert_int_equal(ampc_tensor_set_requires_grad(x, true), AMPC_OK);
    ampc_pool2d_options o = ampc_pool2d_defaults(2, 2);
    ampc_tensor *y = ampc_max_pool2d(x, &o);
    assert_string_equal(ampc_tensor_grad_fn_name(y), "max_pool2d");
    assert_int_equal(ampc_backward(y, NULL, false), AMPC_OK);
    assert_values(ampc_tensor_grad(x), (double[]){0, 1, 0, 0}, 4);
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

static void test_max_pool_propagates_nan(void **state)
{
    (void)state;
    ampc_tensor *x = from_values((double[]){1, NAN, 5, 2}, 4, (int64_t[]){1, 1, 2, 2});
    ampc_pool2d_options o = ampc_pool2d_defaults(2, 2);
    ampc_tensor *y = ampc_max_pool2d(x, &o);
    assert_true(isnan(value_at_position(y, 0)));
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

static void test_pool_refusals_name_the_problem(void **state)
{
    (void)state;
    ampc_tensor *x = ampc_tensor_zeros(AMPC_F32, 4, (int64_t[]){1, 2, 4, 4});
    ampc_pool2d_options o = ampc_pool2d_defaults(2, 2);
    o.padding[1] = 2;
    assert_null(ampc_max_pool2d(x, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->padding is [0, 2]; expected at most "
                                            "half the kernel [2, 2]");
    assert_null(ampc_avg_pool2d(x, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "at most half the kernel");

    o = ampc_pool2d_defaults(3, 3);
    o.dilation[0] = o.dilation[1] = 3;
    assert_null(ampc_max_pool2d(x, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "the output size is too small");
    assert_null(ampc_avg_pool2d(x, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "expected [1, 1] (or 0) for an average pool");

    o = ampc_pool2d_defaults(5, 1);
    assert_null(ampc_avg_pool2d(x, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "the output would be 0 x 4");

    o = ampc_pool2d_defaults(0, 2);
    assert_null(ampc_max_pool2d(x, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->kernel is [0, 2]; expected each >= 1");
    o = ampc_pool2d_defaults(2, 2);
    o.stride[0] = -1;
    assert_null(ampc_max_pool2d(x, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->stride is [-1, 2]; expected each >= 0");

    o = ampc_pool2d_defaults(INT64_MAX, 2);
    o.padding[0] = INT64_MAX / 2;
    assert_null(ampc_max_pool2d(x, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "the output's height does not fit in 64 bits");
    o = ampc_pool2d_defaults(2, 3);
    o.dilation[1] = INT64_MAX;
    assert_null(ampc_max_pool2d(x, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "the output's width does not fit in 64 bits");

    assert_null(ampc_max_pool2d(x, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "options");
    assert_null(ampc_avg_pool2d(NULL, &o));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "input");

    assert_null(ampc_adaptive_avg_pool2d(x, 2, INT64_MAX / 4));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "the output's width does not fit in 64 bits");
    assert_null(ampc_adaptive_avg_pool2d(x, -1, 2));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "output size is [-1, 2]; expected each >= 0");

    ampc_tensor *flat = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){4, 4});
    assert_null(ampc_adaptive_avg_pool2d(flat, 2, 2));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "input has shape [4, 4]; expected (N, C, H, W)");
    ampc_tensor_free(flat);
    ampc_tensor *no_width = ampc_tensor_zeros(AMPC_F32, 4, (int64_t[]){1, 2, 4, 0});
    assert_null(ampc_max_pool2d(no_width, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "only the batch may be empty");
    ampc_tensor_free(no_width);
    ampc_tensor *ints = ampc_tensor_zeros(AMPC_I32, 4, (int64_t[]){1, 2, 4, 4});
    assert_null(ampc_max_pool2d(ints, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "input");
    ampc_tensor_free(ints);
    ampc_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_max_pool_picks_each_window_max),
        cmocka_unit_test(test_avg_pool_divisor_follows_count_include_pad),
        cmocka_unit_test(test_ceil_mode_output_sizes),
        cmocka_unit_test(test_adaptive_cells_overlap_when_sizes_do_not_divide),
        cmocka_unit_test(test_pools_forward_match_float64_loops),
        cmocka_unit_test(test_pools_gradients),
        cmocka_unit_test(test_pools_edge_sizes),
        cmocka_unit_test(test_pools_dtypes_against_float64),
        cmocka_unit_test(test_pools_do_not_depend_on_the_thread_count),
        cmocka_unit_test(test_max_pool_gradient_goes_to_the_first_tie),
        cmocka_unit_test(test_max_pool_propagates_nan),
        cmocka_unit_test(test_pool_refusals_name_the_problem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
