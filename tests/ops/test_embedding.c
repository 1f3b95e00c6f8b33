/* Tests for src/ops/embedding.c: the row lookup, the scatter-add gradient with repeated
 * indices and padding_idx, I32 and I64 indices of any shape and layout, fp32 accumulation
 * for F16 weights, dtypes, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include <ampc/ampc.h>
#include <ampc/autograd.h>
#include <ampc/ops_norm.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"

/* inputs: weight, indices. */
static ampc_tensor *embedding_op(ampc_tensor *const *inputs, const void *context)
{
    return ampc_embedding(inputs[1], inputs[0], *(const int64_t *)context);
}

static ampc_tensor *indices_of(ampc_dtype dtype, int ndim, const int64_t *shape,
                               const int64_t *values)
{
    int64_t n = 1;
    for (int dim = 0; dim < ndim; dim++) n *= shape[dim];
    ampc_tensor *indices = ampc_tensor_empty(dtype, ndim, shape);
    assert_non_null(indices);
    for (int64_t k = 0; k < n; k++) {
        if (dtype == AMPC_I64)
            ((int64_t *)ampc_tensor_data(indices))[k] = values[k];
        else
            ((int32_t *)ampc_tensor_data(indices))[k] = (int32_t)values[k];
    }
    return indices;
}

static void test_embedding_gathers_rows_with_the_indices_shape(void **state)
{
    (void)state;
    int64_t weight_shape[] = {5, 3}, index_shape[] = {2, 2};
    ampc_tensor *weight = arange_shaped(AMPC_F32, 2, weight_shape);
    const ampc_dtype dtypes[] = {AMPC_I64, AMPC_I32};
    for (int d = 0; d < 2; d++) {
        ampc_tensor *indices = indices_of(dtypes[d], 2, index_shape, (int64_t[]){4, 0, 4, 2});
        ampc_tensor *out = ampc_embedding(indices, weight, -1);
        assert_non_null(out);
        assert_int_equal(ampc_tensor_ndim(out), 3);
        assert_int_equal(ampc_tensor_dim(out, 2), 3);
        assert_int_equal(ampc_tensor_dtype(out), AMPC_F32);
        assert_values(out, (double[]){12, 13, 14, 0, 1, 2, 12, 13, 14, 6, 7, 8}, 12);
        ampc_tensor_free(out);
        ampc_tensor_free(indices);
    }
    /* A scalar index gives one row; transposed indices are read in their logical order. */
    ampc_tensor *scalar = indices_of(AMPC_I64, 0, NULL, (int64_t[]){1});
    ampc_tensor *row = ampc_embedding(scalar, weight, -1);
    assert_int_equal(ampc_tensor_ndim(row), 1);
    assert_values(row, (double[]){3, 4, 5}, 3);
    ampc_tensor *indices = indices_of(AMPC_I32, 2, index_shape, (int64_t[]){1, 2, 3, 4});
    ampc_tensor *transposed = ampc_tensor_transpose(indices, 0, 1);
    ampc_tensor *out = ampc_embedding(transposed, weight, -1);
    assert_values(out, (double[]){3, 4, 5, 9, 10, 11, 6, 7, 8, 12, 13, 14}, 12);
    ampc_tensor *tensors[] = {weight, scalar, row, indices, transposed, out};
    for (int i = 0; i < 6; i++) ampc_tensor_free(tensors[i]);
}

static void test_embedding_gradient_sums_repeated_rows_and_skips_padding(void **state)
{
    (void)state;
    int64_t weight_shape[] = {6, 4}, index_shape[] = {2, 3};
    ampc_tensor *weight = gradcheck_uniform(1, 2, weight_shape, -1, 1, true);
    /* Row 2 three times, row 5 (the padding row) twice, row 0 once. */
    ampc_tensor *indices = indices_of(AMPC_I64, 2, index_shape, (int64_t[]){2, 5, 2, 0, 2, 5});
    ampc_tensor *inputs[] = {weight, indices};
    /* The padding row's gradient is zero by definition, not by the forward, so finite
     * differences check the other rows (with an unused row as padding_idx). */
    int64_t unused_padding = 4, none = -1;
    gradcheck_assert(&(gradcheck_case){.name = "embedding padding", .op = embedding_op,
                                       .context = &unused_padding, .num_inputs = 2,
                                       .inputs = inputs});
    gradcheck_assert(&(gradcheck_case){.name = "embedding", .op = embedding_op,
                                       .context = &none, .num_inputs = 2, .inputs = inputs});
    /* With a ones upstream each row's gradient counts its uses; the padding row stays 0. */
    ampc_tensor *out = ampc_embedding(indices, weight, 5);
    ampc_tensor *upstream = ampc_tensor_ones(AMPC_F64, 3, (int64_t[]){2, 3, 4});
    assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
    double expected[24] = {0};
    for (int j = 0; j < 4; j++) {
        expected[0 * 4 + j] = 1;
        expected[2 * 4 + j] = 3;
    }
    assert_values(ampc_tensor_grad(weight), expected, 24);
    /* The forward still reads the padding row. */
    double value;
    assert_int_equal(ampc_tensor_get(weight, (int64_t[]){5, 1}, &value), AMPC_OK);
    assert_true(value_at_position(out, 5) == value);
    ampc_tensor *tensors[] = {weight, indices, out, upstream};
    for (int i = 0; i < 4; i++) ampc_tensor_free(tensors[i]);
}

static void test_embedding_gradients_of_strided_weight_and_i32_indices(void **state)
{
    (void)state;
    int64_t weight_shape[] = {4, 5}, index_shape[] = {7};
    ampc_tensor *base = gradcheck_uniform(2, 2, weight_shape, -1, 1, false);
    ampc_tensor *weight = gradcheck_noncontiguous(base, true);
    assert_false(ampc_tensor_is_contiguous(weight));
    ampc_tensor *indices = indices_of(AMPC_I32, 1, index_shape, (int64_t[]){3, 3, 1, 0, 3, 1, 2});
    ampc_tensor *inputs[] = {weight, indices};
    int64_t none = -1;
    gradcheck_case check = {.name = "embedding strided", .op = embedding_op, .context = &none,
                            .num_inputs = 2, .inputs = inputs};
    gradcheck_assert(&check);
    const ampc_dtype dtypes[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
    for (int d = 0; d < 3; d++)
        dtype_check_assert(&check, dtypes[d], dtype_tolerance_default(dtypes[d]));
    ampc_tensor *tensors[] = {base, weight, indices};
    for (int i = 0; i < 3; i++) ampc_tensor_free(tensors[i]);
}

/* 1000 upstream values of 0.01 into one F16 row: summed in fp32 they give 10 (to F16's
 * precision); summed in F16 the increments would stall far below. */
static void test_embedding_accumulates_f16_gradients_in_fp32(void **state)
{
    (void)state;
    int64_t weight_shape[] = {2, 1}, index_shape[] = {1000}, out_shape[] = {1000, 1};
    ampc_tensor *weight = ampc_tensor_zeros(AMPC_F16, 2, weight_shape);
    assert_int_equal(ampc_tensor_set_requires_grad(weight, true), AMPC_OK);
    ampc_tensor *indices = ampc_tensor_ones(AMPC_I64, 1, index_shape);
    ampc_tensor *out = ampc_embedding(indices, weight, -1);
    ampc_tensor *upstream = ampc_tensor_full(AMPC_F16, 2, out_shape, 0.01);
    assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
    const ampc_tensor *grad = ampc_tensor_grad(weight);
    assert_int_equal(ampc_tensor_dtype(grad), AMPC_F16);
    assert_true(value_at_position(grad, 0) == 0);
    assert_true(fabs(value_at_position(grad, 1) - 10) < 0.01);
    ampc_tensor *tensors[] = {weight, indices, out, upstream};
    for (int i = 0; i < 4; i++) ampc_tensor_free(tensors[i]);
}

/* Enough rows and columns for the threaded gather and scatter: the result and the gradient
 * against a serial float64 gather and scatter-add written here. */
static void test_embedding_large_gradient_matches_a_serial_scatter(void **state)
{
    (void)state;
    enum { V = 50, D = 64, K = 1000 };
    int64_t weight_shape[] = {V, D}, index_shape[] = {K}, out_shape[] = {K, D};
    ampc_tensor *weight = gradcheck_uniform(3, 2, weight_shape, -1, 1, true);
    ampc_tensor *upstream = gradcheck_uniform(4, 2, out_shape, -1, 1, false);
    int64_t values[K];
    for (int k = 0; k < K; k++) values[k] = (k * 37 + k / 7) % V;
    ampc_tensor *indices = indices_of(AMPC_I64, 1, index_shape, values);
    /* Three threads, whatever the machine: the sums must still be the serial ones, bit for
     * bit. */
    int previous = ampc_num_threads();
    assert_int_equal(ampc_set_num_threads(3), AMPC_OK);
    ampc_tensor *out = ampc_embedding(indices, weight, 3);
    assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
    assert_int_equal(ampc_set_num_threads(previous), AMPC_OK);
    static double expected[V * D];
    const double *dy = ampc_tensor_data(upstream), *w = ampc_tensor_data(weight);
    const double *y = ampc_tensor_data(out);
    for (int i = 0; i < V * D; i++) expected[i] = 0;
    for (int k = 0; k < K; k++)
        for (int j = 0; j < D; j++) {
            assert_true(y[k * D + j] == w[values[k] * D + j]);
            if (values[k] != 3) expected[values[k] * D + j] += dy[k * D + j];
        }
    assert_values(ampc_tensor_grad(weight), expected, V * D);
    ampc_tensor *tensors[] = {weight, upstream, indices, out};
    for (int i = 0; i < 4; i++) ampc_tensor_free(tensors[i]);
}

static void test_embedding_of_no_indices_is_empty(void **state)
{
    (void)state;
    int64_t weight_shape[] = {3, 2}, index_shape[] = {2, 0}, out_shape[] = {2, 0, 2};
    ampc_tensor *weight = ampc_tensor_ones(AMPC_F32, 2, weight_shape);
    assert_int_equal(ampc_tensor_set_requires_grad(weight, true), AMPC_OK);
    ampc_tensor *indices = ampc_tensor_zeros(AMPC_I64, 2, index_shape);
    ampc_tensor *out = ampc_embedding(indices, weight, -1);
    assert_non_null(out);
    assert_int_equal(ampc_tensor_ndim(out), 3);
    assert_int_equal(ampc_tensor_numel(out), 0);
    ampc_tensor *upstream = ampc_tensor_zeros(AMPC_F32, 3, out_shape);
    assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
    assert_values(ampc_tensor_grad(weight), (double[]){0, 0, 0, 0, 0, 0}, 6);
    ampc_tensor *tensors[] = {weight, indices, out, upstream};
    for (int i = 0; i < 4; i++) ampc_tensor_free(tensors[i]);
}

static void test_embedding_rejects_bad_arguments(void **state)
{
    (void)state;
    int64_t weight_shape[] = {7, 2}, index_shape[] = {2, 3}, flat = 14;
    ampc_tensor *weight = ampc_tensor_ones(AMPC_F32, 2, weight_shape);
    ampc_tensor *flat_weight = ampc_tensor_ones(AMPC_F32, 1, &flat);
    ampc_tensor *bad = indices_of(AMPC_I64, 2, index_shape, (int64_t[]){0, 1, 2, 3, 4, 10});
    ampc_tensor *negative = indices_of(AMPC_I32, 2, index_shape, (int64_t[]){0, -1, 2, 3, 4, 5});
    ampc_tensor *good = indices_of(AMPC_I64, 2, index_shape, (int64_t[]){0, 1, 2, 3, 4, 5});
    ampc_tensor *floats = ampc_tensor_zeros(AMPC_F32, 2, index_shape);
    ampc_tensor *integer_weight = ampc_tensor_zeros(AMPC_I32, 2, weight_shape);

    assert_null(ampc_embedding(bad, weight, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_embedding: indices[1, 2] is 10; expected 0 <= index < 7 (weight's rows)");
    assert_null(ampc_embedding(negative, weight, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "indices[0, 1] is -1; expected 0 <= index < 7");
    assert_null(ampc_embedding(floats, weight, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_embedding: indices has dtype F32; expected I64 or I32");
    assert_null(ampc_embedding(good, flat_weight, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "weight has 1 dims; expected 2 (V, D)");
    assert_null(ampc_embedding(good, integer_weight, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "weight has dtype I32; expected F64, F32");
    assert_null(ampc_embedding(good, weight, 7));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "padding_idx is 7; expected -1 (none) or a row 0 to 6 of weight");
    assert_null(ampc_embedding(good, weight, -2));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "padding_idx is -2");
    assert_null(ampc_embedding(NULL, weight, -1));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_embedding: argument indices is NULL");
    assert_null(ampc_embedding(good, NULL, -1));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "argument weight is NULL");
    int64_t eight[AMPC_MAX_DIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    ampc_tensor *deep = ampc_tensor_zeros(AMPC_I64, AMPC_MAX_DIMS, eight);
    assert_null(ampc_embedding(deep, weight, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "indices has 8 dims; expected at most 7");
    ampc_tensor *tensors[] = {weight, flat_weight, bad, negative, good, floats, integer_weight,
                              deep};
    for (int i = 0; i < 8; i++) ampc_tensor_free(tensors[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedding_gathers_rows_with_the_indices_shape),
        cmocka_unit_test(test_embedding_gradient_sums_repeated_rows_and_skips_padding),
        cmocka_unit_test(test_embedding_gradients_of_strided_weight_and_i32_indices),
        cmocka_unit_test(test_embedding_accumulates_f16_gradients_in_fp32),
        cmocka_unit_test(test_embedding_large_gradient_matches_a_serial_scatter),
        cmocka_unit_test(test_embedding_of_no_indices_is_empty),
        cmocka_unit_test(test_embedding_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
