/* Tests for src/ops/softmax.c: softmax and log_softmax gradients against finite differences
 * along every dim (the contiguous last-dim rows and the strided inner > 1 case), on
 * non-contiguous, 0-d and size-1 inputs; F32/F16/BF16 against F64; values against float64
 * formulas; stability for inputs around 1e4; errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include <ampc/ampc.h>
#include <ampc/autograd.h>
#include <ampc/ops_reduce.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"

typedef struct softmax_case {
    bool log_space;
    int dim;
} softmax_case;

static ampc_tensor *run_softmax(ampc_tensor *const *inputs, const void *context)
{
    const softmax_case *c = context;
    return c->log_space ? ampc_log_softmax(inputs[0], c->dim) : ampc_softmax(inputs[0], c->dim);
}

static void check_case(bool log_space, int dim, ampc_tensor *input, bool dtypes)
{
    softmax_case c = {.log_space = log_space, .dim = dim};
    gradcheck_case check = {.name = log_space ? "log_softmax" : "softmax", .op = run_softmax,
                            .context = &c, .num_inputs = 1, .inputs = &input};
    gradcheck_assert(&check);
    if (!dtypes) return;
    dtype_check_assert(&check, AMPC_F32, dtype_tolerance_default(AMPC_F32));
    dtype_check_assert(&check, AMPC_F16, dtype_tolerance_default(AMPC_F16));
    dtype_check_assert(&check, AMPC_BF16, dtype_tolerance_default(AMPC_BF16));
}

static void test_softmax_and_log_softmax_gradcheck_along_every_dim(void **state)
{
    (void)state;
    ampc_tensor *x = gradcheck_uniform(11, 3, (int64_t[]){3, 4, 5}, -3, 3, true);
    int dims[] = {0, 1, 2, -1, -3};
    for (int log_space = 0; log_space < 2; log_space++)
        for (size_t k = 0; k < sizeof dims / sizeof *dims; k++)
            check_case(log_space, dims[k], x, true);
    ampc_tensor_free(x);
}

static void test_noncontiguous_zero_dim_and_size_one_inputs_gradcheck(void **state)
{
    (void)state;
    ampc_tensor *x = gradcheck_uniform(12, 2, (int64_t[]){5, 6}, -2, 2, false);
    ampc_tensor *strided = gradcheck_noncontiguous(x, true);
    ampc_tensor *scalar = gradcheck_uniform(13, 0, NULL, -1, 1, true);
    ampc_tensor *single_class = gradcheck_uniform(14, 2, (int64_t[]){4, 1}, -1, 1, true);
    for (int log_space = 0; log_space < 2; log_space++) {
        check_case(log_space, -1, strided, false);
        check_case(log_space, 0, strided, false);
        check_case(log_space, 0, scalar, false);
        check_case(log_space, -1, single_class, true);
    }
    ampc_tensor_free(single_class);
    ampc_tensor_free(scalar);
    ampc_tensor_free(strided);
    ampc_tensor_free(x);
}

static void test_values_match_float64_formulas(void **state)
{
    (void)state;
    ampc_tensor *x = gradcheck_uniform(15, 2, (int64_t[]){3, 7}, -4, 4, false);
    const double *v = ampc_tensor_data(x);
    ampc_tensor *rows = ampc_softmax(x, 1);
    ampc_tensor *log_rows = ampc_log_softmax(x, -1);
    ampc_tensor *columns = ampc_softmax(x, 0);
    for (int i = 0; i < 3; i++) {
        double total = 0;
        for (int j = 0; j < 7; j++) total += exp(v[i * 7 + j]);
        for (int j = 0; j < 7; j++) {
            double expected = exp(v[i * 7 + j]) / total;
            assert_true(fabs(value_at_position(rows, i * 7 + j) - expected) < 1e-15);
            assert_true(fabs(value_at_position(log_rows, i * 7 + j) - log(expected)) < 1e-14);
        }
    }
    for (int j = 0; j < 7; j++) {
        double total = 0;
        for (int i = 0; i < 3; i++) total += exp(v[i * 7 + j]);
        for (int i = 0; i < 3; i++)
            assert_true(fabs(value_at_position(columns, i * 7 + j) - exp(v[i * 7 + j]) / total) <
                        1e-15);
    }
    ampc_tensor_free(rows);
    ampc_tensor_free(log_rows);
    ampc_tensor_free(columns);
    ampc_tensor_free(x);
}

/* exp(1e4) overflows every format; subtracting the max keeps everything finite. The gaps
 * of 64 survive BF16 rounding (its spacing at 1e4). */
static void test_large_inputs_give_no_inf_or_nan(void **state)
{
    (void)state;
    ampc_dtype dtypes[] = {AMPC_F64, AMPC_F32, AMPC_F16, AMPC_BF16};
    for (int k = 0; k < 4; k++) {
        ampc_tensor *x = ampc_tensor_from_data((float[]){1e4f, 1e4f + 64, 1e4f - 64, -1e4f},
                                               AMPC_F32, 1, (int64_t[]){4});
        ampc_tensor *cast = ampc_tensor_cast(x, dtypes[k]);
        ampc_tensor *y = ampc_softmax(cast, 0);
        ampc_tensor *log_y = ampc_log_softmax(cast, 0);
        double total = 0;
        for (int i = 0; i < 4; i++) {
            double p = value_at_position(y, i), log_p = value_at_position(log_y, i);
            assert_true(isfinite(p));
            assert_true(isfinite(log_p));
            total += p;
        }
        assert_true(fabs(total - 1) < 1e-2);
        assert_true(value_at_position(y, 1) > 0.99);
        assert_true(fabs(value_at_position(log_y, 3) - (-2e4 - 64)) < 100);
        ampc_tensor_free(log_y);
        ampc_tensor_free(y);
        ampc_tensor_free(cast);
        ampc_tensor_free(x);
    }
}

static void test_invalid_arguments_fail_with_a_message(void **state)
{
    (void)state;
    ampc_tensor *x = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, 3});
    ampc_tensor *indices = ampc_tensor_zeros(AMPC_I32, 1, (int64_t[]){3});
    assert_null(ampc_softmax(NULL, 0));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_softmax");
    assert_null(ampc_log_softmax(indices, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_log_softmax");
    assert_null(ampc_softmax(x, 2));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "dim is 2; expected a dim from -2 to 1");
    assert_null(ampc_log_softmax(x, -3));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "dim is -3");
    ampc_tensor *scalar = ampc_tensor_zeros(AMPC_F64, 0, NULL);
    assert_null(ampc_softmax(scalar, 1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "dim is 1; expected 0 or -1");
    ampc_tensor_free(scalar);
    ampc_tensor_free(indices);
    ampc_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_and_log_softmax_gradcheck_along_every_dim),
        cmocka_unit_test(test_noncontiguous_zero_dim_and_size_one_inputs_gradcheck),
        cmocka_unit_test(test_values_match_float64_formulas),
        cmocka_unit_test(test_large_inputs_give_no_inf_or_nan),
        cmocka_unit_test(test_invalid_arguments_fail_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
