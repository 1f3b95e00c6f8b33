/* Tests for src/ops/dropout.c: mask statistics over a large tensor, reproducibility from a
 * seed, the gradient as mask * scale, finite differences with a generator re-seeded per
 * call, the identity and all-zero cases, dtypes, and the errors. */
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

/* gradcheck calls the op many times; each call restarts the generator at `seed` so every
 * call draws the same mask. */
typedef struct dropout_options {
    ampc_generator *generator;
    uint64_t seed;
    double p;
    bool training;
} dropout_options;

static ampc_tensor *dropout_op(ampc_tensor *const *inputs, const void *context)
{
    const dropout_options *options = context;
    assert_int_equal(ampc_generator_set_state(options->generator, options->seed, 0), AMPC_OK);
    return ampc_dropout(inputs[0], options->p, options->training, options->generator);
}

static void test_dropout_zeroes_a_fraction_p_and_scales_the_rest(void **state)
{
    (void)state;
    const int64_t n = (int64_t)1 << 18;
    ampc_tensor *input = ampc_tensor_ones(AMPC_F32, 1, &n);
    ampc_generator *generator = ampc_generator_new(42);
    const double ps[] = {0.1, 0.3, 0.5, 0.9};
    for (int which = 0; which < 4; which++) {
        double p = ps[which];
        ampc_tensor *out = ampc_dropout(input, p, true, generator);
        assert_non_null(out);
        const float *values = ampc_tensor_data(out);
        float scale = (float)(1 / (1 - p));
        int64_t zeros = 0;
        for (int64_t i = 0; i < n; i++) {
            if (values[i] == 0) zeros++;
            else if (values[i] != scale) fail_msg("element %lld is %g", (long long)i, values[i]);
        }
        /* Five standard deviations of the binomial fraction: sqrt(p (1 - p) / n) <= 0.001. */
        double fraction = (double)zeros / (double)n;
        if (fabs(fraction - p) > 0.005)
            fail_msg("p %g zeroed a fraction %g", p, fraction);
        ampc_tensor_free(out);
    }
    /* Each draw advances the generator by a block per 4 elements. */
    assert_int_equal(ampc_generator_offset(generator), 4 * (uint64_t)n / 4);
    ampc_generator_free(generator);
    ampc_tensor_free(input);
}

static void test_dropout_mask_is_reproduced_by_the_same_seed(void **state)
{
    (void)state;
    int64_t shape[] = {33, 17};
    ampc_tensor *input = gradcheck_uniform(1, 2, shape, 1, 2, false);
    ampc_generator *first = ampc_generator_new(7), *second = ampc_generator_new(7);
    ampc_generator *other = ampc_generator_new(8);
    ampc_tensor *a = ampc_dropout(input, 0.4, true, first);
    ampc_tensor *b = ampc_dropout(input, 0.4, true, second);
    ampc_tensor *c = ampc_dropout(input, 0.4, true, other);
    ampc_tensor *again = ampc_dropout(input, 0.4, true, first);
    int64_t differ_seed = 0, differ_step = 0;
    for (int64_t i = 0; i < 33 * 17; i++) {
        double va = value_at_position(a, i);
        assert_true(va == value_at_position(b, i));
        differ_seed += (va == 0) != (value_at_position(c, i) == 0);
        differ_step += (va == 0) != (value_at_position(again, i) == 0);
    }
    assert_true(differ_seed > 50);
    assert_true(differ_step > 50);
    ampc_tensor *tensors[] = {input, a, b, c, again};
    for (int i = 0; i < 5; i++) ampc_tensor_free(tensors[i]);
    ampc_generator_free(first);
    ampc_generator_free(second);
    ampc_generator_free(other);
}

static void test_dropout_gradient_is_the_mask_times_the_scale(void **state)
{
    (void)state;
    int64_t shape[] = {20, 30};
    ampc_tensor *input = gradcheck_uniform(2, 2, shape, 0.5, 1.5, true);
    ampc_tensor *upstream = gradcheck_uniform(3, 2, shape, -1, 1, false);
    ampc_generator *generator = ampc_generator_new(9);
    ampc_tensor *out = ampc_dropout(input, 0.25, true, generator);
    assert_string_equal(ampc_tensor_grad_fn_name(out), "dropout");
    assert_int_equal(ampc_backward(out, upstream, false), AMPC_OK);
    const ampc_tensor *grad = ampc_tensor_grad(input);
    for (int64_t i = 0; i < 600; i++) {
        bool kept = value_at_position(out, i) != 0;
        double expected = kept ? value_at_position(upstream, i) / 0.75 : 0;
        assert_true(fabs(value_at_position(grad, i) - expected) <= 1e-15);
        if (kept)
            assert_true(fabs(value_at_position(out, i) - value_at_position(input, i) / 0.75) <=
                        1e-15);
    }
    ampc_tensor *tensors[] = {input, upstream, out};
    for (int i = 0; i < 3; i++) ampc_tensor_free(tensors[i]);
    ampc_generator_free(generator);
}

static void test_dropout_gradchecks_with_a_reseeded_generator(void **state)
{
    (void)state;
    int64_t shape[] = {4, 6};
    ampc_generator *generator = ampc_generator_new(0);
    ampc_tensor *base = gradcheck_uniform(4, 2, shape, -1, 1, true);
    ampc_tensor *strided = gradcheck_noncontiguous(base, true);
    const double ps[] = {0.5, 0, 1};
    for (int which = 0; which < 3; which++) {
        for (int layout = 0; layout < 2; layout++) {
            dropout_options options = {.generator = generator, .seed = 11, .p = ps[which],
                                       .training = true};
            ampc_tensor *inputs[] = {layout ? strided : base};
            gradcheck_case check = {.name = "dropout", .op = dropout_op, .context = &options,
                                    .num_inputs = 1, .inputs = inputs};
            gradcheck_assert(&check);
            const ampc_dtype dtypes[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
            for (int d = 0; d < 3; d++)
                dtype_check_assert(&check, dtypes[d], dtype_tolerance_default(dtypes[d]));
        }
    }
    dropout_options eval = {.generator = generator, .seed = 11, .p = 0.5, .training = false};
    ampc_tensor *inputs[] = {base};
    gradcheck_assert(&(gradcheck_case){.name = "dropout eval", .op = dropout_op,
                                       .context = &eval, .num_inputs = 1, .inputs = inputs});
    ampc_tensor_free(base);
    ampc_tensor_free(strided);
    ampc_generator_free(generator);
}

/* Eval and p = 0 copy the input (a recorded identity, no generator needed); p = 1 zeroes it
 * without drawing. */
static void test_dropout_identity_and_all_zero_cases(void **state)
{
    (void)state;
    int64_t shape[] = {3, 4};
    ampc_tensor *input = gradcheck_uniform(5, 2, shape, -1, 1, true);
    ampc_tensor *copies[] = {ampc_dropout(input, 0.7, false, NULL),
                             ampc_dropout(input, 0, true, NULL)};
    for (int which = 0; which < 2; which++) {
        ampc_tensor *copy = copies[which];
        assert_non_null(copy);
        assert_true(ampc_tensor_data(copy) != ampc_tensor_data(input));
        assert_string_equal(ampc_tensor_grad_fn_name(copy), "dropout");
        for (int64_t i = 0; i < 12; i++)
            assert_true(value_at_position(copy, i) == value_at_position(input, i));
        ampc_tensor_free(copy);
    }
    ampc_generator *generator = ampc_generator_new(1);
    ampc_tensor *zeros = ampc_dropout(input, 1, true, generator);
    assert_values(zeros, (double[12]){0}, 12);
    assert_int_equal(ampc_generator_offset(generator), 0);
    ampc_tensor *upstream = ampc_tensor_ones(AMPC_F64, 2, shape);
    assert_int_equal(ampc_backward(zeros, upstream, false), AMPC_OK);
    assert_values(ampc_tensor_grad(input), (double[12]){0}, 12);
    /* An empty input gives an empty result. */
    int64_t empty_shape[] = {0, 5};
    ampc_tensor *empty = ampc_tensor_zeros(AMPC_BF16, 2, empty_shape);
    ampc_tensor *out = ampc_dropout(empty, 0.5, true, generator);
    assert_non_null(out);
    assert_int_equal(ampc_tensor_numel(out), 0);
    assert_int_equal(ampc_tensor_dtype(out), AMPC_BF16);
    ampc_tensor *tensors[] = {input, zeros, upstream, empty, out};
    for (int i = 0; i < 5; i++) ampc_tensor_free(tensors[i]);
    ampc_generator_free(generator);
}

static void test_dropout_rejects_bad_arguments(void **state)
{
    (void)state;
    int64_t shape[] = {3};
    ampc_tensor *input = ampc_tensor_ones(AMPC_F32, 1, shape);
    ampc_tensor *integers = ampc_tensor_ones(AMPC_I32, 1, shape);
    ampc_generator *generator = ampc_generator_new(1);
    assert_null(ampc_dropout(input, -0.1, true, generator));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_dropout: p is -0.1; expected a probability from 0 to 1");
    assert_null(ampc_dropout(input, 1.5, false, generator));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "p is 1.5");
    assert_null(ampc_dropout(input, NAN, true, generator));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "p is nan");
    assert_null(ampc_dropout(input, 0.5, true, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_dropout: argument generator is NULL");
    assert_null(ampc_dropout(integers, 0.5, true, generator));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "input has dtype I32; expected F64, F32");
    assert_null(ampc_dropout(NULL, 0.5, true, generator));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "argument input is NULL");
    assert_int_equal(ampc_generator_offset(generator), 0);
    ampc_tensor_free(input);
    ampc_tensor_free(integers);
    ampc_generator_free(generator);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dropout_zeroes_a_fraction_p_and_scales_the_rest),
        cmocka_unit_test(test_dropout_mask_is_reproduced_by_the_same_seed),
        cmocka_unit_test(test_dropout_gradient_is_the_mask_times_the_scale),
        cmocka_unit_test(test_dropout_gradchecks_with_a_reseeded_generator),
        cmocka_unit_test(test_dropout_identity_and_all_zero_cases),
        cmocka_unit_test(test_dropout_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
