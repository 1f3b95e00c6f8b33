/* Tests for src/ops/linalg.c and src/ops/linalg_linear.c: matmul in each of torch.matmul's
 * cases (vectors, matrices, batches that broadcast, empty sizes), bmm and linear against
 * finite differences and against a float64 triple loop written here, in F32, F16 and BF16
 * against F64, mixed dtypes, and the refusals by their messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include <ampc/ampc.h>
#include <ampc/ops_linalg.h>
#include <ampc/ops_shape.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"

/* gradcheck, then dtype_check in F32, F16 and BF16 with the default bounds. */
static void check_op(const char *name, gradcheck_op op, const void *context, int num_inputs,
                     ampc_tensor *const *inputs)
{
    gradcheck_all_dtypes_assert(&(gradcheck_case){.name = name, .op = op, .context = context,
                                                  .num_inputs = num_inputs, .inputs = inputs});
}

static ampc_tensor *matmul_op(ampc_tensor *const *inputs, const void *context)
{
    (void)context;
    return ampc_matmul(inputs[0], inputs[1]);
}

static ampc_tensor *bmm_op(ampc_tensor *const *inputs, const void *context)
{
    (void)context;
    return ampc_bmm(inputs[0], inputs[1]);
}

static ampc_tensor *linear_op(ampc_tensor *const *inputs, const void *context)
{
    const bool *with_bias = context;
    return ampc_linear(inputs[0], inputs[1], *with_bias ? inputs[2] : NULL);
}

typedef struct shape {
    int ndim;
    int64_t sizes[AMPC_MAX_DIMS];
} shape;

/* matmul of two random leaves of these shapes: gradcheck and dtype checks, then the same with
 * non-contiguous copies of both (for inputs of 2 dims or more). */
static void check_matmul(const char *name, shape a_shape, shape b_shape)
{
    ampc_tensor *a = gradcheck_uniform(11, a_shape.ndim, a_shape.sizes, -1, 1, true);
    ampc_tensor *b = gradcheck_uniform(12, b_shape.ndim, b_shape.sizes, -1, 1, true);
    check_op(name, matmul_op, NULL, 2, (ampc_tensor *[]){a, b});
    ampc_tensor *a_strided = gradcheck_noncontiguous(a, true);
    ampc_tensor *b_strided = gradcheck_noncontiguous(b, true);
    gradcheck_assert(&(gradcheck_case){.name = name, .op = matmul_op, .num_inputs = 2,
                                       .inputs = (ampc_tensor *[]){a_strided, b_strided}});
    ampc_tensor_free(b_strided);
    ampc_tensor_free(a_strided);
    ampc_tensor_free(b);
    ampc_tensor_free(a);
}

static void test_matmul_vectors_and_matrices_gradcheck(void **state)
{
    (void)state;
    check_matmul("1-d x 1-d", (shape){1, {4}}, (shape){1, {4}});
    check_matmul("1-d x 2-d", (shape){1, {3}}, (shape){2, {3, 5}});
    check_matmul("2-d x 1-d", (shape){2, {4, 3}}, (shape){1, {3}});
    check_matmul("2-d x 2-d", (shape){2, {3, 4}}, (shape){2, {4, 2}});
    check_matmul("size-1 dims", (shape){2, {1, 4}}, (shape){2, {4, 1}});
}

static void test_matmul_batched_with_broadcasting_gradcheck(void **state)
{
    (void)state;
    check_matmul("batch broadcast both ways", (shape){4, {2, 1, 3, 4}},
                 (shape){3, {3, 4, 2}});
    check_matmul("batch x matrix (folded)", (shape){3, {2, 3, 4}}, (shape){2, {4, 5}});
    check_matmul("matrix x batch", (shape){2, {3, 4}}, (shape){3, {2, 4, 5}});
    check_matmul("vector x batch", (shape){1, {4}}, (shape){3, {2, 4, 3}});
    check_matmul("batch x vector", (shape){3, {2, 3, 4}}, (shape){1, {4}});
    check_matmul("size-1 batch dims", (shape){3, {1, 3, 4}}, (shape){4, {2, 1, 4, 2}});
}

static void test_matmul_empty_sizes(void **state)
{
    (void)state;
    /* k = 0: the product is zeros and so are the gradients; m = 0 and a batch of 0 are empty. */
    ampc_tensor *a = gradcheck_uniform(1, 2, (int64_t[]){2, 0}, -1, 1, true);
    ampc_tensor *b = gradcheck_uniform(2, 2, (int64_t[]){0, 3}, -1, 1, true);
    ampc_tensor *c = ampc_matmul(a, b);
    assert_non_null(c);
    assert_values(c, (const double[]){0, 0, 0, 0, 0, 0}, 6);
    ampc_tensor *upstream = ampc_tensor_ones(AMPC_F64, 2, (int64_t[]){2, 3});
    assert_int_equal(ampc_backward(c, upstream, false), AMPC_OK);
    ampc_tensor_free(upstream);
    ampc_tensor_free(c);
    check_matmul("m = 0", (shape){2, {0, 3}}, (shape){2, {3, 2}});
    check_matmul("batch of 0", (shape){3, {0, 2, 3}}, (shape){2, {3, 2}});
    check_matmul("broadcast batch of 0", (shape){3, {0, 2, 3}}, (shape){3, {1, 3, 2}});
    ampc_tensor_free(b);
    ampc_tensor_free(a);
}

/* c[batch][i][j] = sum_p a[ia][i][p] b[ib][p][j] in float64, for (2, 1, 3, 4) x (3, 4, 5). */
static void test_matmul_forward_matches_a_float64_triple_loop(void **state)
{
    (void)state;
    ampc_tensor *a = gradcheck_uniform(3, 4, (int64_t[]){2, 1, 3, 4}, -1, 1, false);
    ampc_tensor *b = gradcheck_uniform(4, 3, (int64_t[]){3, 4, 5}, -1, 1, false);
    const ampc_dtype dtypes[] = {AMPC_F64, AMPC_F32, AMPC_F16, AMPC_BF16};
    const double bounds[] = {1e-14, 1e-6, 4e-3, 3e-2};
    for (int which = 0; which < 4; which++) {
        ampc_tensor *a_low = ampc_tensor_cast(a, dtypes[which]);
        ampc_tensor *b_low = ampc_tensor_cast(b, dtypes[which]);
        ampc_tensor *c = ampc_matmul(a_low, b_low);
        assert_non_null(c);
        assert_int_equal(ampc_tensor_dtype(c), dtypes[which]);
        assert_int_equal(ampc_tensor_ndim(c), 4);
        for (int64_t i0 = 0; i0 < 2; i0++)
            for (int64_t i1 = 0; i1 < 3; i1++)
                for (int64_t i = 0; i < 3; i++)
                    for (int64_t j = 0; j < 5; j++) {
                        double expected = 0, x, y, value;
                        for (int64_t p = 0; p < 4; p++) {
                            /* the rounded inputs, so only the product's rounding counts */
                            ampc_tensor_get(a_low, (int64_t[]){i0, 0, i, p}, &x);
                            ampc_tensor_get(b_low, (int64_t[]){i1, p, j}, &y);
                            expected += x * y;
                        }
                        ampc_tensor_get(c, (int64_t[]){i0, i1, i, j}, &value);
                        if (fabs(value - expected) > bounds[which] * (1 + fabs(expected)))
                            fail_msg("%s c[%lld][%lld][%lld][%lld] is %.17g; expected %.17g",
                                     ampc_dtype_name(dtypes[which]), (long long)i0,
                                     (long long)i1, (long long)i, (long long)j, value, expected);
                    }
        ampc_tensor_free(c);
        ampc_tensor_free(b_low);
        ampc_tensor_free(a_low);
    }
    ampc_tensor_free(b);
    ampc_tensor_free(a);
}

static void test_matmul_mixed_dtypes_promote(void **state)
{
    (void)state;
    ampc_tensor *a64 = gradcheck_uniform(5, 2, (int64_t[]){3, 4}, -1, 1, false);
    ampc_tensor *b64 = gradcheck_uniform(6, 2, (int64_t[]){4, 2}, -1, 1, false);
    ampc_tensor *a = ampc_tensor_cast(a64, AMPC_F16), *b = ampc_tensor_cast(b64, AMPC_BF16);
    assert_int_equal(ampc_tensor_set_requires_grad(a, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_requires_grad(b, true), AMPC_OK);
    ampc_tensor *c = ampc_matmul(a, b);
    assert_non_null(c);
    assert_int_equal(ampc_tensor_dtype(c), AMPC_F32);
    assert_string_equal(ampc_tensor_grad_fn_name(c), "matmul");
    ampc_tensor *upstream = ampc_tensor_ones(AMPC_F32, 2, (int64_t[]){3, 2});
    assert_int_equal(ampc_backward(c, upstream, false), AMPC_OK);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(a)), AMPC_F16);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(b)), AMPC_BF16);
    /* da[i][p] = sum_j b[p][j] */
    for (int64_t p = 0; p < 4; p++) {
        double b0, b1, grad;
        ampc_tensor_get(b, (int64_t[]){p, 0}, &b0);
        ampc_tensor_get(b, (int64_t[]){p, 1}, &b1);
        ampc_tensor_get(ampc_tensor_grad(a), (int64_t[]){1, p}, &grad);
        assert_float_equal(grad, b0 + b1, 2e-3 * (1 + fabs(b0 + b1)));
    }
    ampc_tensor *wide = ampc_tensor_cast(b64, AMPC_F64);
    ampc_tensor *c64 = ampc_matmul(a, wide);
    assert_int_equal(ampc_tensor_dtype(c64), AMPC_F64);
    ampc_tensor_free(c64);
    ampc_tensor_free(wide);
    ampc_tensor_free(upstream);
    ampc_tensor_free(c);
    ampc_tensor_free(b);
    ampc_tensor_free(a);
    ampc_tensor_free(b64);
    ampc_tensor_free(a64);
}

static void test_bmm_gradcheck(void **state)
{
    (void)state;
    ampc_tensor *a = gradcheck_uniform(7, 3, (int64_t[]){2, 3, 4}, -1, 1, true);
    ampc_tensor *b_leaf = gradcheck_uniform(8, 3, (int64_t[]){2, 4, 5}, -1, 1, true);
    ampc_tensor *b = gradcheck_noncontiguous(b_leaf, true);
    check_op("bmm", bmm_op, NULL, 2, (ampc_tensor *[]){a, b});
    ampc_tensor *c = ampc_bmm(a, b);
    assert_string_equal(ampc_tensor_grad_fn_name(c), "bmm");
    ampc_tensor_free(c);
    ampc_tensor_free(b);
    ampc_tensor_free(b_leaf);
    ampc_tensor_free(a);
}

static void test_linear_gradcheck_3d_input_with_and_without_bias(void **state)
{
    (void)state;
    ampc_tensor *x = gradcheck_uniform(9, 3, (int64_t[]){2, 3, 4}, -1, 1, true);
    ampc_tensor *weight = gradcheck_uniform(10, 2, (int64_t[]){5, 4}, -1, 1, true);
    ampc_tensor *bias = gradcheck_uniform(11, 1, (int64_t[]){5}, -1, 1, true);
    bool with_bias = true, without_bias = false;
    check_op("linear", linear_op, &with_bias, 3, (ampc_tensor *[]){x, weight, bias});
    check_op("linear without bias", linear_op, &without_bias, 2, (ampc_tensor *[]){x, weight});
    ampc_tensor *x_strided = gradcheck_noncontiguous(x, true);
    ampc_tensor *weight_strided = gradcheck_noncontiguous(weight, true);
    check_op("linear strided", linear_op, &with_bias, 3,
             (ampc_tensor *[]){x_strided, weight_strided, bias});
    ampc_tensor *vector = gradcheck_uniform(12, 1, (int64_t[]){4}, -1, 1, true);
    check_op("linear 1-d x", linear_op, &with_bias, 3, (ampc_tensor *[]){vector, weight, bias});
    ampc_tensor *no_rows = gradcheck_uniform(13, 2, (int64_t[]){0, 4}, -1, 1, true);
    check_op("linear no rows", linear_op, &with_bias, 3, (ampc_tensor *[]){no_rows, weight, bias});
    ampc_tensor_free(no_rows);
    ampc_tensor_free(vector);
    ampc_tensor_free(weight_strided);
    ampc_tensor_free(x_strided);
    ampc_tensor_free(bias);
    ampc_tensor_free(weight);
    ampc_tensor_free(x);
}

/* y[r][o] = sum_i x[r][i] w[o][i] + b[o] in float64, and db = column sums of the upstream. */
static void test_linear_matches_float64_loops(void **state)
{
    (void)state;
    ampc_tensor *x = gradcheck_uniform(14, 2, (int64_t[]){6, 3}, -1, 1, false);
    ampc_tensor *weight = gradcheck_uniform(15, 2, (int64_t[]){2, 3}, -1, 1, false);
    ampc_tensor *bias_leaf = gradcheck_uniform(16, 1, (int64_t[]){2}, -1, 1, false);
    ampc_tensor *bias = ampc_tensor_cast(bias_leaf, AMPC_F32);
    assert_int_equal(ampc_tensor_set_requires_grad(bias, true), AMPC_OK);
    ampc_tensor *x32 = ampc_tensor_cast(x, AMPC_F32), *w32 = ampc_tensor_cast(weight, AMPC_F32);
    ampc_tensor *y = ampc_linear(x32, w32, bias);
    assert_non_null(y);
    for (int64_t r = 0; r < 6; r++)
        for (int64_t o = 0; o < 2; o++) {
            double expected, xv, wv, value;
            ampc_tensor_get(bias, (int64_t[]){o}, &expected);
            for (int64_t i = 0; i < 3; i++) {
                ampc_tensor_get(x32, (int64_t[]){r, i}, &xv);
                ampc_tensor_get(w32, (int64_t[]){o, i}, &wv);
                expected += xv * wv;
            }
            ampc_tensor_get(y, (int64_t[]){r, o}, &value);
            assert_float_equal(value, expected, 1e-6);
        }
    ampc_tensor *upstream = arange_shaped(AMPC_F32, 2, (int64_t[]){6, 2});
    assert_int_equal(ampc_backward(y, upstream, false), AMPC_OK);
    /* column sums of 0..11 laid out (6, 2): 0+2+...+10 = 30 and 1+3+...+11 = 36 */
    assert_values(ampc_tensor_grad(bias), (const double[]){30, 36}, 2);
    ampc_tensor_free(upstream);
    ampc_tensor_free(y);
    ampc_tensor_free(w32);
    ampc_tensor_free(x32);
    ampc_tensor_free(bias);
    ampc_tensor_free(bias_leaf);
    ampc_tensor_free(weight);
    ampc_tensor_free(x);
}

/* Enough rows and columns for the threaded column sums: the bias gradient is still one
 * serial fp32 sum per column, in row order. */
static void test_bias_gradient_is_a_serial_fp32_column_sum(void **state)
{
    (void)state;
    enum { ROWS = 300, IN = 3, OUT = 130 };
    ampc_tensor *x = ampc_tensor_ones(AMPC_BF16, 2, (int64_t[]){ROWS, IN});
    ampc_tensor *weight = ampc_tensor_ones(AMPC_BF16, 2, (int64_t[]){OUT, IN});
    ampc_tensor *bias = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){OUT});
    assert_int_equal(ampc_tensor_set_requires_grad(bias, true), AMPC_OK);
    ampc_tensor *y = ampc_linear(x, weight, bias);
    assert_int_equal(ampc_tensor_dtype(y), AMPC_F32);
    ampc_tensor *upstream64 = gradcheck_uniform(31, 2, (int64_t[]){ROWS, OUT}, -1, 1, false);
    ampc_tensor *upstream = ampc_tensor_cast(upstream64, AMPC_F32);
    assert_int_equal(ampc_backward(y, upstream, false), AMPC_OK);
    const float *dy = ampc_tensor_data(upstream);
    for (int64_t o = 0; o < OUT; o++) {
        float expected = 0;
        for (int64_t r = 0; r < ROWS; r++) expected += dy[r * OUT + o];
        double grad;
        ampc_tensor_get(ampc_tensor_grad(bias), (int64_t[]){o}, &grad);
        if ((float)grad != expected)
            fail_msg("dbias[%lld] is %.9g; expected %.9g", (long long)o, grad, expected);
    }
    ampc_tensor_free(upstream);
    ampc_tensor_free(upstream64);
    ampc_tensor_free(y);
    ampc_tensor_free(bias);
    ampc_tensor_free(weight);
    ampc_tensor_free(x);
}

/* A training step's activations in an arena: linear, matmul, attention and the shape ops run
 * forward and backward there, step after step, and the arena stops growing. Leaves, their
 * gradients and the weights stay on the heap. */
static void test_steps_in_an_arena_keep_memory_flat(void **state)
{
    (void)state;
    ampc_tensor *x = gradcheck_uniform(41, 3, (int64_t[]){2, 4, 8}, -1, 1, false);
    ampc_tensor *weight = gradcheck_uniform(42, 2, (int64_t[]){24, 8}, -1, 1, true);
    ampc_tensor *bias = gradcheck_uniform(43, 1, (int64_t[]){24}, -1, 1, true);
    ampc_arena *arena = ampc_arena_new();
    size_t capacity_after_first = 0;
    for (int step = 0; step < 20; step++) {
        assert_int_equal(ampc_arena_enter(arena), AMPC_OK);
        ampc_tensor *qkv = ampc_linear(x, weight, bias);
        ampc_tensor *parts[3];
        int count = 0;
        assert_int_equal(ampc_split(qkv, 8, -1, parts, 3, &count), AMPC_OK);
        ampc_tensor *attended = ampc_scaled_dot_product_attention(parts[0], parts[1], parts[2],
                                                                  true, 0);
        ampc_tensor *scores = ampc_matmul(attended, ampc_transpose(parts[2], -1, -2));
        assert_non_null(scores);
        ampc_tensor *flat = ampc_reshape(scores, 1, (int64_t[]){-1});
        ampc_tensor *upstream = ampc_tensor_ones(AMPC_F64, 1, (int64_t[]){32});
        assert_int_equal(ampc_backward(flat, upstream, false), AMPC_OK);
        assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
        assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
        if (step == 0) capacity_after_first = ampc_arena_capacity(arena);
    }
    assert_int_equal(ampc_arena_capacity(arena), capacity_after_first);
    assert_non_null(ampc_tensor_grad(weight));
    assert_non_null(ampc_tensor_grad(bias));
    ampc_arena_free(arena);
    ampc_tensor_free(bias);
    ampc_tensor_free(weight);
    ampc_tensor_free(x);
}

/* Broadcast matmul (a sum over batch entries in its backward) and linear (threaded bias sums),
 * forward and backward, give the same bits on 1 and 3 threads. */
static void test_the_same_bits_on_1_and_3_threads(void **state)
{
    (void)state;
    enum { RESULTS = 6 };
    int previous = ampc_num_threads();
    ampc_tensor *leaves64[] = {
        gradcheck_uniform(51, 3, (int64_t[]){1, 40, 30}, -1, 1, false),  /* a, broadcast */
        gradcheck_uniform(52, 3, (int64_t[]){6, 30, 200}, -1, 1, false), /* b */
        gradcheck_uniform(53, 2, (int64_t[]){30, 200}, -1, 1, false),    /* weight */
        gradcheck_uniform(54, 1, (int64_t[]){30}, -1, 1, false)};        /* bias */
    const ampc_dtype dtypes[] = {AMPC_F16, AMPC_F16, AMPC_BF16, AMPC_F32};
    ampc_tensor *results[2][RESULTS] = {{0}};
    for (int run = 0; run < 2; run++) {
        assert_int_equal(ampc_set_num_threads(run == 0 ? 1 : 3), AMPC_OK);
        ampc_tensor *leaves[4];
        for (int which = 0; which < 4; which++) {
            leaves[which] = ampc_tensor_cast(leaves64[which], dtypes[which]);
            assert_int_equal(ampc_tensor_set_requires_grad(leaves[which], true), AMPC_OK);
        }
        ampc_tensor *c = ampc_matmul(leaves[0], leaves[1]); /* (6, 40, 200) */
        ampc_tensor *y = ampc_linear(c, leaves[2], leaves[3]);
        assert_non_null(y);
        ampc_tensor *upstream = ampc_tensor_cast(y, AMPC_F32);
        assert_int_equal(ampc_backward(y, upstream, false), AMPC_OK);
        results[run][0] = ampc_tensor_clone(y);
        results[run][1] = ampc_tensor_clone(c);
        for (int which = 0; which < 4; which++) {
            results[run][which + 2] = ampc_tensor_clone(ampc_tensor_grad(leaves[which]));
            ampc_tensor_free(leaves[which]);
        }
        ampc_tensor_free(upstream);
        ampc_tensor_free(y);
        ampc_tensor_free(c);
    }
    assert_int_equal(ampc_set_num_threads(previous), AMPC_OK);
    for (int which = 0; which < RESULTS; which++) {
        assert_memory_equal(ampc_tensor_data(results[0][which]),
                            ampc_tensor_data(results[1][which]),
                            ampc_tensor_nbytes(results[0][which]));
        ampc_tensor_free(results[0][which]);
        ampc_tensor_free(results[1][which]);
    }
    for (int which = 0; which < 4; which++) ampc_tensor_free(leaves64[which]);
}

static void test_errors_name_both_shapes(void **state)
{
    (void)state;
    ampc_tensor *a = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, 3});
    ampc_tensor *b = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){4, 5});
    ampc_tensor *batch_a = ampc_tensor_zeros(AMPC_F32, 3, (int64_t[]){2, 3, 4});
    ampc_tensor *batch_b = ampc_tensor_zeros(AMPC_F32, 3, (int64_t[]){3, 4, 5});
    ampc_tensor *scalar = ampc_tensor_zeros(AMPC_F32, 0, NULL);
    ampc_tensor *labels = ampc_tensor_zeros(AMPC_I64, 2, (int64_t[]){3, 2});
    assert_null(ampc_matmul(a, b));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_matmul: a has shape [2, 3] and b has shape [4, 5]; expected a's last "
                 "dim (3) to equal b's second-to-last dim (4)");
    assert_null(ampc_matmul(batch_a, batch_b));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "batch dim 0 is 2 in a and 3 in b");
    assert_null(ampc_matmul(scalar, a));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "a has shape [] and b has shape [2, 3]");
    assert_null(ampc_matmul(a, labels));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_matmul");
    assert_null(ampc_matmul(NULL, a));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_matmul");
    assert_null(ampc_bmm(a, b));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_bmm: a has shape [2, 3] and b has shape "
                                            "[4, 5]; expected both to have 3 dims");
    assert_null(ampc_bmm(batch_a, batch_b));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "expected the same batch size B");
    assert_null(ampc_linear(a, b, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_linear: x has shape [2, 3] and weight has shape [4, 5]");
    ampc_tensor *weight = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){4, 3});
    assert_null(ampc_linear(a, weight, a));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "bias has shape [2, 3] and weight has shape [4, 3]");
    assert_null(ampc_linear(scalar, weight, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "x has shape [] (0 dims)");
    assert_null(ampc_linear(a, batch_a, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "weight has shape [2, 3, 4]; expected 2 dims");
    ampc_tensor_free(weight);
    ampc_tensor_free(labels);
    ampc_tensor_free(scalar);
    ampc_tensor_free(batch_b);
    ampc_tensor_free(batch_a);
    ampc_tensor_free(b);
    ampc_tensor_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_vectors_and_matrices_gradcheck),
        cmocka_unit_test(test_matmul_batched_with_broadcasting_gradcheck),
        cmocka_unit_test(test_matmul_empty_sizes),
        cmocka_unit_test(test_matmul_forward_matches_a_float64_triple_loop),
        cmocka_unit_test(test_matmul_mixed_dtypes_promote),
        cmocka_unit_test(test_bmm_gradcheck),
        cmocka_unit_test(test_linear_gradcheck_3d_input_with_and_without_bias),
        cmocka_unit_test(test_linear_matches_float64_loops),
        cmocka_unit_test(test_bias_gradient_is_a_serial_fp32_column_sum),
        cmocka_unit_test(test_steps_in_an_arena_keep_memory_flat),
        cmocka_unit_test(test_the_same_bits_on_1_and_3_threads),
        cmocka_unit_test(test_errors_name_both_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
