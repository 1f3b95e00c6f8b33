/* What the op families share: dtype promotion, broadcasting, compute-dtype round trips, and
 * summing a broadcast gradient back (checked against a float64 loop written here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include <ampc/ampc.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"
#include "ops/op_support.h"

static void test_promotion_follows_pytorch(void **state)
{
    (void)state;
    assert_int_equal(ampc_promote_float(AMPC_F16, AMPC_F16), AMPC_F16);
    assert_int_equal(ampc_promote_float(AMPC_BF16, AMPC_BF16), AMPC_BF16);
    assert_int_equal(ampc_promote_float(AMPC_F16, AMPC_BF16), AMPC_F32);
    assert_int_equal(ampc_promote_float(AMPC_F16, AMPC_F32), AMPC_F32);
    assert_int_equal(ampc_promote_float(AMPC_BF16, AMPC_F64), AMPC_F64);
    assert_int_equal(ampc_promote_float(AMPC_F32, AMPC_F64), AMPC_F64);
    assert_int_equal(ampc_compute_dtype(AMPC_F16), AMPC_F32);
    assert_int_equal(ampc_compute_dtype(AMPC_BF16), AMPC_F32);
    assert_int_equal(ampc_compute_dtype(AMPC_F64), AMPC_F64);
}

static void test_broadcast_shapes_align_right(void **state)
{
    (void)state;
    int64_t a[] = {3, 1, 4}, b[] = {2, 1}, shape[AMPC_MAX_DIMS];
    int ndim;
    assert_int_equal(ampc_broadcast_shapes("f", 3, a, 2, b, &ndim, shape), AMPC_OK);
    assert_int_equal(ndim, 3);
    assert_int_equal(shape[0], 3);
    assert_int_equal(shape[1], 2);
    assert_int_equal(shape[2], 4);
    assert_int_equal(ampc_broadcast_shapes("f", 0, NULL, 2, b, &ndim, shape), AMPC_OK);
    assert_int_equal(ndim, 2);
    int64_t c[] = {3};
    assert_int_equal(ampc_broadcast_shapes("f", 3, a, 1, c, &ndim, shape),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "shapes [3, 1, 4] and [3] do not broadcast");
}

static void test_float_check_names_argument_and_dtype(void **state)
{
    (void)state;
    int64_t two = 2;
    ampc_tensor *labels = ampc_tensor_zeros(AMPC_I64, 1, &two);
    assert_int_equal(ampc_check_float_tensor("ampc_relu", "input", labels),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_relu: input has dtype I64; expected F64");
    assert_int_equal(ampc_check_float_tensor("ampc_relu", "input", NULL),
                     AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "input");
    ampc_tensor_free(labels);
}

/* out[kept] = sum over the broadcast positions, in float64, by brute force. */
static double reference_sum(const ampc_tensor *grad, int ndim, const int64_t *shape,
                            int64_t target_position)
{
    int lead = ampc_tensor_ndim(grad) - ndim;
    int64_t target_index[AMPC_MAX_DIMS];
    for (int dim = ndim - 1, position = (int)target_position; dim >= 0; dim--) {
        target_index[dim] = position % shape[dim];
        position /= (int)shape[dim];
    }
    double total = 0;
    for (int64_t position = 0; position < ampc_tensor_numel(grad); position++) {
        int64_t index[AMPC_MAX_DIMS];
        int64_t rest = position;
        for (int dim = ampc_tensor_ndim(grad) - 1; dim >= 0; dim--) {
            index[dim] = rest % ampc_tensor_dim(grad, dim);
            rest /= ampc_tensor_dim(grad, dim);
        }
        bool matches = true;
        for (int dim = 0; dim < ndim; dim++)
            if (shape[dim] != 1 && index[lead + dim] != target_index[dim]) matches = false;
        if (matches) total += value_at_position(grad, position);
    }
    return total;
}

static void check_sum_to_shape(ampc_dtype dtype, int grad_ndim, const int64_t *grad_shape,
                               int ndim, const int64_t *shape, double tolerance)
{
    ampc_tensor *values = gradcheck_uniform(7, grad_ndim, grad_shape, -1, 1, false);
    ampc_tensor *strided = gradcheck_noncontiguous(values, false);
    ampc_tensor *grad = ampc_tensor_cast(strided, dtype);
    ampc_tensor *summed = ampc_sum_to_shape("test", grad, ndim, shape);
    assert_non_null(summed);
    assert_int_equal(ampc_tensor_dtype(summed), dtype);
    assert_int_equal(ampc_tensor_ndim(summed), ndim);
    for (int64_t position = 0; position < ampc_tensor_numel(summed); position++) {
        double expected = reference_sum(grad, ndim, shape, position);
        assert_float_equal(value_at_position(summed, position), expected,
                           tolerance * (1 + fabs(expected)));
    }
    ampc_tensor_free(summed);
    ampc_tensor_free(grad);
    ampc_tensor_free(strided);
    ampc_tensor_free(values);
}

static void test_sum_to_shape_matches_float64_reference(void **state)
{
    (void)state;
    int64_t grad_shape[] = {5, 3, 4};
    int64_t bias[] = {4}, column[] = {3, 1}, middle[] = {1, 3, 1}, scalar[] = {1};
    for (ampc_dtype dtype = AMPC_F64; dtype <= AMPC_BF16; dtype++) {
        double tolerance = dtype == AMPC_F64 ? 1e-12 : dtype == AMPC_F32 ? 1e-6 : 1e-2;
        check_sum_to_shape(dtype, 3, grad_shape, 1, bias, tolerance);
        check_sum_to_shape(dtype, 3, grad_shape, 2, column, tolerance);
        check_sum_to_shape(dtype, 3, grad_shape, 3, middle, tolerance);
        check_sum_to_shape(dtype, 3, grad_shape, 1, scalar, tolerance);
        check_sum_to_shape(dtype, 3, grad_shape, 0, NULL, tolerance);
        check_sum_to_shape(dtype, 3, grad_shape, 3, grad_shape, tolerance);
    }
}

static void test_sum_to_shape_large_is_thread_count_independent(void **state)
{
    (void)state;
    int64_t grad_shape[] = {512, 300}, bias[] = {300};
    ampc_tensor *grad = gradcheck_uniform(3, 2, grad_shape, -1, 1, false);
    ampc_tensor *grad32 = ampc_tensor_cast(grad, AMPC_F32);
    int threads = ampc_num_threads();
    assert_int_equal(ampc_set_num_threads(1), AMPC_OK);
    ampc_tensor *one = ampc_sum_to_shape("test", grad32, 1, bias);
    assert_int_equal(ampc_set_num_threads(2), AMPC_OK);
    ampc_tensor *two = ampc_sum_to_shape("test", grad32, 1, bias);
    assert_int_equal(ampc_set_num_threads(threads), AMPC_OK);
    assert_int_equal(ampc_set_num_threads(0), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "count is 0");
    assert_memory_equal(ampc_tensor_data(one), ampc_tensor_data(two), 300 * sizeof(float));
    ampc_tensor_free(two);
    ampc_tensor_free(one);
    ampc_tensor_free(grad32);
    ampc_tensor_free(grad);
}

static void test_gradients_add_in_compute_dtype(void **state)
{
    (void)state;
    int64_t three = 3;
    double a_values[] = {1, 2048, 0.5}, b_values[] = {1, 1, 0.25};
    for (ampc_dtype dtype = AMPC_F64; dtype <= AMPC_BF16; dtype++) {
        ampc_tensor *a64 = ampc_tensor_from_data(a_values, AMPC_F64, 1, &three);
        ampc_tensor *b64 = ampc_tensor_from_data(b_values, AMPC_F64, 1, &three);
        ampc_tensor *a = ampc_tensor_cast(a64, dtype), *b = ampc_tensor_cast(b64, dtype);
        ampc_tensor *sum = ampc_sum_new("test", a, b);
        assert_int_equal(ampc_tensor_dtype(sum), dtype);
        assert_int_equal(ampc_add_into("test", a, b), AMPC_OK);
        for (int i = 0; i < 3; i++) {
            /* 2048 + 1 rounds to 2048 in F16 and BF16 (ties to even), exactly once. */
            double expected = dtype >= AMPC_F16 && i == 1 ? 2048 : a_values[i] + b_values[i];
            assert_float_equal(value_at_position(sum, i), expected, 0);
            assert_float_equal(value_at_position(a, i), expected, 0);
        }
        ampc_tensor_free(sum);
        ampc_tensor_free(a);
        ampc_tensor_free(b);
        ampc_tensor_free(a64);
        ampc_tensor_free(b64);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_promotion_follows_pytorch),
        cmocka_unit_test(test_broadcast_shapes_align_right),
        cmocka_unit_test(test_float_check_names_argument_and_dtype),
        cmocka_unit_test(test_sum_to_shape_matches_float64_reference),
        cmocka_unit_test(test_sum_to_shape_large_is_thread_count_independent),
        cmocka_unit_test(test_gradients_add_in_compute_dtype),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
