/* ampc_clip_grad_norm (src/optim/clip.c) against torch.nn.utils.clip_grad_norm_'s formula
 * written here in float64: the total 2-, 1-, inf- and 3-norm over several parameters' grads
 * as one vector, clipping by max_norm / (total + 1e-6) only when that is below 1, grads
 * without a value skipped, F16 grads, results independent of the thread count, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "../tensor/tensor_testing.h"
#include "optim_testing.h"

enum { PARAMS = 3 };
static const int64_t sizes[PARAMS] = {5, 40000, 13};

static double grad_value(int p, int64_t i) { return sin(0.37 * (double)i + p) * (p + 1) * 0.5; }

static void make_params(ampc_tensor *params[PARAMS], ampc_dtype dtype)
{
    for (int p = 0; p < PARAMS; p++) {
        double *v = malloc((size_t)sizes[p] * sizeof *v);
        for (int64_t i = 0; i < sizes[p]; i++) v[i] = 1;
        params[p] = make_param(dtype, sizes[p], v);
        ampc_tensor *grad = ampc_tensor_zeros(dtype, 1, &sizes[p]);
        assert_int_equal(ampc_autograd_pin_grad("test", params[p], grad), AMPC_OK);
        for (int64_t i = 0; i < sizes[p]; i++) v[i] = grad_value(p, i);
        set_grad(params[p], v);
        free(v);
    }
}

static void free_params(ampc_tensor *params[PARAMS])
{
    for (int p = 0; p < PARAMS; p++) ampc_tensor_free(params[p]);
}

static double reference_norm(ampc_tensor *params[PARAMS], double norm_type)
{
    double acc = 0;
    for (int p = 0; p < PARAMS; p++)
        for (int64_t i = 0; i < sizes[p]; i++) {
            double a = fabs(tensor_value(ampc_tensor_grad(params[p]), i));
            if (isinf(norm_type)) acc = fmax(acc, a);
            else acc += pow(a, norm_type);
        }
    return isinf(norm_type) ? acc : pow(acc, 1 / norm_type);
}

static void test_clip_grad_norm_matches_float64_formula(void **state)
{
    (void)state;
    double norm_types[] = {2, 1, INFINITY, 3};
    for (int k = 0; k < 4; k++) {
        ampc_tensor *params[PARAMS];
        make_params(params, AMPC_F32);
        double expected = reference_norm(params, norm_types[k]);
        double before[PARAMS][4];
        for (int p = 0; p < PARAMS; p++)
            for (int i = 0; i < 4; i++) before[p][i] = tensor_value(ampc_tensor_grad(params[p]), i);
        double max_norm = expected / 4, total = 0;
        assert_int_equal(ampc_clip_grad_norm(params, PARAMS, max_norm, norm_types[k], &total),
                         AMPC_OK);
        assert_close(total, expected, 1e-12, "total norm", k);
        double coef = max_norm / (expected + 1e-6);
        for (int p = 0; p < PARAMS; p++)
            for (int i = 0; i < 4; i++)
                assert_close(tensor_value(ampc_tensor_grad(params[p]), i), before[p][i] * coef,
                             3e-7, "clipped grad", i);
        /* the clipped grads now have norm max_norm (up to the 1e-6 and fp32 rounding) */
        assert_close(reference_norm(params, norm_types[k]), max_norm, 1e-6, "norm after", k);
        free_params(params);
    }
}

static void test_clip_not_applied_below_max_norm(void **state)
{
    (void)state;
    ampc_tensor *params[PARAMS];
    make_params(params, AMPC_F32);
    double expected = reference_norm(params, 2);
    float saved = ((float *)ampc_tensor_data(ampc_tensor_grad(params[1])))[123];
    double total;
    assert_int_equal(ampc_clip_grad_norm(params, PARAMS, expected + 1, 2, &total), AMPC_OK);
    assert_true(((float *)ampc_tensor_data(ampc_tensor_grad(params[1])))[123] == saved);
    assert_close(total, expected, 1e-12, "total", 0);
    /* max_norm == total: coef = total / (total + 1e-6) rounds to 1 in fp32: unchanged */
    assert_int_equal(ampc_clip_grad_norm(params, PARAMS, expected, 2, NULL), AMPC_OK);
    assert_true(((float *)ampc_tensor_data(ampc_tensor_grad(params[1])))[123] == saved);
    free_params(params);
}

static void test_params_without_grad_are_skipped_and_f16_grads_clip(void **state)
{
    (void)state;
    ampc_tensor *params[PARAMS];
    make_params(params, AMPC_F16);
    double expected = reference_norm(params, 2);
    double v = 1;
    ampc_tensor *no_grad = make_param(AMPC_F32, 1, &v);
    ampc_tensor *list[] = {params[0], no_grad, params[1], params[2]};
    double total;
    assert_int_equal(ampc_clip_grad_norm(list, 4, 1.0, 2, &total), AMPC_OK);
    assert_close(total, expected, 1e-12, "f16 total", 0);
    assert_close(reference_norm(params, 2), 1.0, 2e-3, "f16 norm after", 0);
    ampc_tensor_free(no_grad);
    free_params(params);
}

static void test_norm_independent_of_thread_count(void **state)
{
    (void)state;
    double totals[2];
    int threads[] = {1, 3}, previous = ampc_num_threads();
    for (int t = 0; t < 2; t++) {
        assert_int_equal(ampc_set_num_threads(threads[t]), AMPC_OK);
        ampc_tensor *params[PARAMS];
        make_params(params, AMPC_F32);
        assert_int_equal(ampc_clip_grad_norm(params, PARAMS, 1e9, 2, &totals[t]), AMPC_OK);
        free_params(params);
    }
    assert_int_equal(ampc_set_num_threads(previous), AMPC_OK);
    assert_true(totals[0] == totals[1]);
}

static void test_nonfinite_grad_gives_nonfinite_norm_as_torch(void **state)
{
    (void)state;
    ampc_tensor *params[PARAMS];
    make_params(params, AMPC_F32);
    ((float *)ampc_tensor_data(ampc_tensor_grad(params[2])))[3] = INFINITY;
    double total;
    assert_int_equal(ampc_clip_grad_norm(params, PARAMS, 1.0, 2, &total), AMPC_OK);
    assert_true(isinf(total));
    ((float *)ampc_tensor_data(ampc_tensor_grad(params[0])))[0] = NAN;
    assert_int_equal(ampc_clip_grad_norm(params, PARAMS, 1.0, INFINITY, &total), AMPC_OK);
    assert_true(isnan(total));
    free_params(params);
}

static void test_bad_arguments_fail_naming_them(void **state)
{
    (void)state;
    ampc_tensor *params[PARAMS];
    make_params(params, AMPC_F32);
    assert_int_equal(ampc_clip_grad_norm(params, PARAMS, -1, 2, NULL), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "max_norm is -1");
    assert_int_equal(ampc_clip_grad_norm(params, PARAMS, 1, 0, NULL), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "norm_type is 0");
    assert_int_equal(ampc_clip_grad_norm(NULL, 2, 1, 2, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "params");
    ampc_tensor *with_null[] = {params[0], NULL};
    assert_int_equal(ampc_clip_grad_norm(with_null, 2, 1, 2, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "params[1] is NULL");
    double total = -1;
    assert_int_equal(ampc_clip_grad_norm(NULL, 0, 1, 2, &total), AMPC_OK);
    assert_true(total == 0);
    free_params(params);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clip_grad_norm_matches_float64_formula),
        cmocka_unit_test(test_clip_not_applied_below_max_norm),
        cmocka_unit_test(test_params_without_grad_are_skipped_and_f16_grads_clip),
        cmocka_unit_test(test_norm_independent_of_thread_count),
        cmocka_unit_test(test_nonfinite_grad_gives_nonfinite_norm_as_torch),
        cmocka_unit_test(test_bad_arguments_fail_naming_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
