/* Tests for src/ops/reduce.c (sum, mean, var, amax): gradients against finite differences for
 * dims lists, keepdim both ways, negative dims, non-adjacent dims (the permuted layout),
 * non-contiguous and 0-d inputs; F32/F16/BF16 against F64; forward values against float64
 * loops written here; ties and NaN for max; multi-chunk reductions; every error. */
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

static void assert_near(double actual, double expected, double tolerance)
{
    if (!(fabs(actual - expected) <= tolerance))
        fail_msg("got %.17g; expected %.17g within %g", actual, expected, tolerance);
}

typedef enum reduction_op { OP_SUM, OP_MEAN, OP_VAR, OP_MAX } reduction_op;

static const char *const op_names[] = {"sum", "mean", "var", "max"};

typedef struct reduction_case {
    reduction_op op;
    int num_dims;
    int dims[AMPC_MAX_DIMS];
    bool keepdim;
    double correction;
} reduction_case;

static ampc_tensor *run_reduction(ampc_tensor *const *inputs, const void *context)
{
    const reduction_case *c = context;
    switch (c->op) {
    case OP_SUM: return ampc_sum(inputs[0], c->num_dims, c->dims, c->keepdim);
    case OP_MEAN: return ampc_mean(inputs[0], c->num_dims, c->dims, c->keepdim);
    case OP_VAR: return ampc_var(inputs[0], c->num_dims, c->dims, c->correction, c->keepdim);
    case OP_MAX: return ampc_max(inputs[0], c->num_dims, c->dims, c->keepdim);
    }
    return NULL;
}

/* gradcheck and, for a contiguous input, the three narrow dtypes. */
static void check_case(const reduction_case *c, ampc_tensor *input, bool dtypes)
{
    gradcheck_case check = {.name = op_names[c->op], .op = run_reduction, .context = c,
                            .num_inputs = 1, .inputs = &input};
    gradcheck_assert(&check);
    if (!dtypes) return;
    ampc_dtype narrow[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
    for (int k = 0; k < 3; k++) {
        dtype_tolerance tolerance = dtype_tolerance_default(narrow[k]);
        if (c->op == OP_VAR) { /* a difference of nearby values: one more rounding step */
            tolerance.forward *= 4;
            tolerance.backward *= 4;
        }
        dtype_check_assert(&check, narrow[k], tolerance);
    }
}

static const reduction_case dims_lists[] = {
    {.num_dims = 0},                                  /* all dims: 0-d result */
    {.num_dims = 0, .keepdim = true},                 /* all dims kept as 1 */
    {.num_dims = 1, .dims = {1}},
    {.num_dims = 1, .dims = {-1}, .keepdim = true},   /* innermost, contiguous rows */
    {.num_dims = 1, .dims = {0}},                     /* outermost: inner > 1 */
    {.num_dims = 2, .dims = {0, 2}},                  /* not adjacent: permuted layout */
    {.num_dims = 2, .dims = {-3, -1}, .keepdim = true},
    {.num_dims = 2, .dims = {2, 1}},                  /* adjacent, listed backwards */
    {.num_dims = 3, .dims = {0, 1, 2}},
};

static void test_every_op_gradchecks_over_dims_lists_and_keepdim(void **state)
{
    (void)state;
    ampc_tensor *x = gradcheck_uniform(1, 3, (int64_t[]){3, 4, 5}, -2, 2, true);
    for (int op = OP_SUM; op <= OP_MAX; op++)
        for (size_t k = 0; k < sizeof dims_lists / sizeof *dims_lists; k++) {
            reduction_case c = dims_lists[k];
            c.op = (reduction_op)op;
            c.correction = 1;
            check_case(&c, x, true);
        }
    ampc_tensor_free(x);
}

static void test_every_op_gradchecks_on_a_noncontiguous_input(void **state)
{
    (void)state;
    ampc_tensor *x = gradcheck_uniform(2, 2, (int64_t[]){6, 7}, -1, 1, false);
    ampc_tensor *strided = gradcheck_noncontiguous(x, true);
    assert_false(ampc_tensor_is_contiguous(strided));
    for (int op = OP_SUM; op <= OP_MAX; op++) {
        reduction_case rows = {.op = (reduction_op)op, .num_dims = 1, .dims = {1},
                               .correction = 1};
        reduction_case all = {.op = (reduction_op)op, .correction = 0};
        check_case(&rows, strided, false);
        check_case(&all, strided, false);
    }
    ampc_tensor_free(strided);
    ampc_tensor_free(x);
}

static void test_zero_dim_and_size_one_inputs_gradcheck(void **state)
{
    (void)state;
    ampc_tensor *scalar = gradcheck_uniform(3, 0, NULL, -1, 1, true);
    ampc_tensor *ones = gradcheck_uniform(4, 3, (int64_t[]){1, 3, 1}, -1, 1, true);
    for (int op = OP_SUM; op <= OP_MAX; op++) {
        if (op == OP_VAR) continue; /* one element: the unbiased variance is NaN */
        reduction_case all = {.op = (reduction_op)op};
        reduction_case dim0 = {.op = (reduction_op)op, .num_dims = 1, .dims = {0}};
        reduction_case last = {.op = (reduction_op)op, .num_dims = 1, .dims = {-1},
                               .keepdim = true};
        reduction_case ends = {.op = (reduction_op)op, .num_dims = 2, .dims = {0, 2}};
        check_case(&all, scalar, false);
        check_case(&dim0, scalar, false);
        check_case(&last, scalar, false);
        check_case(&ends, ones, true);
    }
    reduction_case population = {.op = OP_VAR, .num_dims = 1, .dims = {1}, .correction = 0};
    check_case(&population, ones, false);
    ampc_tensor_free(scalar);
    ampc_tensor_free(ones);
}

static void test_reducing_a_zero_dim_scalar_keeps_it_zero_dim(void **state)
{
    (void)state;
    ampc_tensor *scalar = ampc_tensor_full(AMPC_F32, 0, NULL, 2.5);
    ampc_tensor *sum = ampc_sum(scalar, 1, (int[]){0}, true);
    assert_int_equal(ampc_tensor_ndim(sum), 0);
    assert_values(sum, (double[]){2.5}, 1);
    ampc_tensor_free(sum);
    ampc_tensor_free(scalar);
}

/* The float64 reference: each op over dims {0, 2} of a (3, 4, 5) tensor, written out. */
static void test_forward_matches_float64_loops_over_non_adjacent_dims(void **state)
{
    (void)state;
    ampc_tensor *x = gradcheck_uniform(5, 3, (int64_t[]){3, 4, 5}, -3, 3, false);
    const double *v = ampc_tensor_data(x);
    for (int op = OP_SUM; op <= OP_MAX; op++) {
        reduction_case c = {.op = (reduction_op)op, .num_dims = 2, .dims = {0, -1},
                            .correction = 1};
        ampc_tensor *input = x;
        ampc_tensor *out = run_reduction(&input, &c);
        assert_non_null(out);
        assert_int_equal(ampc_tensor_ndim(out), 1);
        assert_int_equal(ampc_tensor_dim(out, 0), 4);
        for (int j = 0; j < 4; j++) {
            double sum = 0, max = -INFINITY, squares = 0;
            for (int i = 0; i < 3; i++)
                for (int k = 0; k < 5; k++) {
                    sum += v[(i * 4 + j) * 5 + k];
                    max = fmax(max, v[(i * 4 + j) * 5 + k]);
                }
            for (int i = 0; i < 3; i++)
                for (int k = 0; k < 5; k++)
                    squares += pow(v[(i * 4 + j) * 5 + k] - sum / 15, 2);
            double expected[] = {sum, sum / 15, squares / 14, max};
            assert_near(value_at_position(out, j), expected[op], 1e-12);
        }
        ampc_tensor_free(out);
    }
    ampc_tensor_free(x);
}

static void test_var_correction_zero_is_the_population_variance(void **state)
{
    (void)state;
    ampc_tensor *x = ampc_tensor_from_data((double[]){1, 2, 3, 4}, AMPC_F64, 1, (int64_t[]){4});
    ampc_tensor *population = ampc_var(x, 0, NULL, 0, false);
    ampc_tensor *unbiased = ampc_var(x, 0, NULL, 1, false);
    assert_near(value_at_position(population, 0), 1.25, 1e-15);
    assert_near(value_at_position(unbiased, 0), 5.0 / 3.0, 1e-15);
    ampc_tensor_free(population);
    ampc_tensor_free(unbiased);
    ampc_tensor_free(x);
}

static void test_max_splits_the_gradient_evenly_among_ties(void **state)
{
    (void)state;
    ampc_tensor *x = ampc_tensor_from_data((double[]){1, 3, 3, 2, 5, 5, 5, 0}, AMPC_F64, 2,
                                           (int64_t[]){2, 4});
    assert_int_equal(ampc_tensor_set_requires_grad(x, true), AMPC_OK);
    ampc_tensor *m = ampc_max(x, 1, (int[]){1}, false);
    assert_values(m, (double[]){3, 5}, 2);
    ampc_tensor *upstream = ampc_tensor_from_data((double[]){1, 3}, AMPC_F64, 1,
                                                  (int64_t[]){2});
    assert_int_equal(ampc_backward(m, upstream, false), AMPC_OK);
    assert_values(ampc_tensor_grad(x), (double[]){0, 0.5, 0.5, 0, 1, 1, 1, 0}, 8);
    ampc_tensor_free(upstream);
    ampc_tensor_free(m);
    ampc_tensor_free(x);
}

static void test_max_propagates_nan(void **state)
{
    (void)state;
    ampc_tensor *x = ampc_tensor_from_data((float[]){1, NAN, 7, 2, 3, 4}, AMPC_F32, 2,
                                           (int64_t[]){2, 3});
    ampc_tensor *rows = ampc_max(x, 1, (int[]){-1}, false);
    ampc_tensor *columns = ampc_max(x, 1, (int[]){0}, true);
    assert_true(isnan(value_at_position(rows, 0)));
    assert_near(value_at_position(rows, 1), 4, 0);
    assert_int_equal(ampc_tensor_ndim(columns), 2);
    assert_near(value_at_position(columns, 0), 2, 0);
    assert_true(isnan(value_at_position(columns, 1)));
    assert_near(value_at_position(columns, 2), 7, 0);
    ampc_tensor_free(rows);
    ampc_tensor_free(columns);
    ampc_tensor_free(x);
}

static void test_sum_over_an_empty_dim_is_zero_and_mean_is_nan(void **state)
{
    (void)state;
    ampc_tensor *x = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, 0});
    ampc_tensor *sum = ampc_sum(x, 1, (int[]){1}, false);
    ampc_tensor *mean = ampc_mean(x, 1, (int[]){1}, false);
    assert_values(sum, (double[]){0, 0}, 2);
    assert_true(isnan(value_at_position(mean, 0)));
    ampc_tensor *empty = ampc_sum(x, 1, (int[]){0}, false); /* nothing kept: 0 outputs */
    assert_int_equal(ampc_tensor_numel(empty), 0);
    ampc_tensor_free(empty);
    ampc_tensor_free(sum);
    ampc_tensor_free(mean);
    ampc_tensor_free(x);
}

/* Long reductions go through several chunks, innermost (contiguous) and outermost (inner >
 * 1); the fp32 result stays close to the float64 sum of the same values. */
static void test_multi_chunk_sums_match_float64(void **state)
{
    (void)state;
    int64_t shape[] = {5000, 3};
    ampc_tensor *x64 = gradcheck_uniform(6, 2, shape, 0, 1, false);
    ampc_tensor *x = ampc_tensor_cast(x64, AMPC_F32);
    const float *v = ampc_tensor_data(x);
    ampc_tensor *columns = ampc_sum(x, 1, (int[]){0}, false);
    ampc_tensor *all = ampc_sum(x, 0, NULL, false);
    double total = 0;
    for (int j = 0; j < 3; j++) {
        double column = 0;
        for (int i = 0; i < 5000; i++) column += v[i * 3 + j];
        assert_near(value_at_position(columns, j), column, column * 1e-5);
        total += column;
    }
    assert_near(value_at_position(all, 0), total, total * 1e-5);
    ampc_tensor *tall = gradcheck_uniform(7, 2, (int64_t[]){1100, 2}, -1, 1, true);
    reduction_case long_mean = {.op = OP_MEAN, .num_dims = 1, .dims = {0}};
    check_case(&long_mean, tall, false);
    ampc_tensor_free(tall);
    ampc_tensor_free(columns);
    ampc_tensor_free(all);
    ampc_tensor_free(x);
    ampc_tensor_free(x64);
}

/* Each output is one fixed chain of chunks whatever the thread count: bit-identical. */
static void test_results_do_not_depend_on_the_thread_count(void **state)
{
    (void)state;
    int previous = ampc_num_threads();
    ampc_tensor *x64 = gradcheck_uniform(8, 2, (int64_t[]){300, 700}, -1, 1, false);
    ampc_tensor *x = ampc_tensor_cast(x64, AMPC_F32);
    float results[2][4];
    for (int run = 0; run < 2; run++) {
        assert_int_equal(ampc_set_num_threads(run == 0 ? 1 : 3), AMPC_OK);
        ampc_tensor *outs[] = {ampc_sum(x, 0, NULL, false), ampc_var(x, 0, NULL, 1, false),
                               ampc_sum(x, 1, (int[]){0}, false),
                               ampc_mean(x, 1, (int[]){1}, false)};
        for (int k = 0; k < 4; k++) {
            results[run][k] = (float)value_at_position(outs[k], k < 2 ? 0 : 123);
            ampc_tensor_free(outs[k]);
        }
    }
    assert_int_equal(ampc_set_num_threads(previous), AMPC_OK);
    assert_memory_equal(results[0], results[1], sizeof results[0]);
    ampc_tensor_free(x);
    ampc_tensor_free(x64);
}

static void test_invalid_arguments_fail_with_a_message(void **state)
{
    (void)state;
    ampc_tensor *x = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, 3});
    ampc_tensor *indices = ampc_tensor_zeros(AMPC_I64, 1, (int64_t[]){3});
    ampc_tensor *empty = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, 0});
    assert_null(ampc_sum(NULL, 0, NULL, false));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_sum");
    assert_null(ampc_mean(indices, 0, NULL, false));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_mean");
    assert_null(ampc_sum(x, 1, (int[]){2}, false));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "is 2; expected a dim from -2 to 1");
    assert_null(ampc_max(x, 2, (int[]){1, -1}, false));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "expected each dim at most once");
    assert_null(ampc_sum(x, -1, NULL, false));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "num_dims is -1");
    assert_null(ampc_sum(x, 3, (int[]){0, 1, 0}, false));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "num_dims is 3");
    assert_null(ampc_sum(x, 1, NULL, false));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "dims");
    assert_null(ampc_var(x, 0, NULL, -1, false));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "correction is -1");
    assert_null(ampc_max(empty, 1, (int[]){1}, false));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "at least one element");
    ampc_tensor *scalar = ampc_tensor_zeros(AMPC_F32, 0, NULL);
    assert_null(ampc_sum(scalar, 1, (int[]){1}, false));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "dims entry is 1; expected 0 or -1");
    ampc_tensor_free(scalar);
    ampc_tensor_free(empty);
    ampc_tensor_free(indices);
    ampc_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_gradchecks_over_dims_lists_and_keepdim),
        cmocka_unit_test(test_every_op_gradchecks_on_a_noncontiguous_input),
        cmocka_unit_test(test_zero_dim_and_size_one_inputs_gradcheck),
        cmocka_unit_test(test_reducing_a_zero_dim_scalar_keeps_it_zero_dim),
        cmocka_unit_test(test_forward_matches_float64_loops_over_non_adjacent_dims),
        cmocka_unit_test(test_var_correction_zero_is_the_population_variance),
        cmocka_unit_test(test_max_splits_the_gradient_evenly_among_ties),
        cmocka_unit_test(test_max_propagates_nan),
        cmocka_unit_test(test_sum_over_an_empty_dim_is_zero_and_mean_is_nan),
        cmocka_unit_test(test_multi_chunk_sums_match_float64),
        cmocka_unit_test(test_results_do_not_depend_on_the_thread_count),
        cmocka_unit_test(test_invalid_arguments_fail_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
