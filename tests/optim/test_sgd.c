/* SGD (src/optim/optimizer.c, optim_kernels.c) against torch.optim.SGD's formulas: a first
 * step checked by hand, then several steps of every momentum variant against a float64
 * reference written in optim_testing.h (bit for bit in F64, within 1e-6 relative in F32). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../tensor/tensor_testing.h"
#include "optim_testing.h"

enum { N = 37, STEPS = 6 };

static void test_sgd_first_step_matches_hand_computation(void **state)
{
    (void)state;
    /* d_p = g + 0.1 p = [0.6, -0.8]; buf = d_p; p - 0.1 d_p = [0.94, 2.08]. */
    double values[] = {1, 2}, grads[] = {0.5, -1};
    ampc_tensor *param = make_param(AMPC_F64, 2, values);
    give_grad(param);
    set_grad(param, grads);
    ampc_sgd_options options = {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1};
    ampc_optimizer *optimizer = ampc_sgd_new(&param, 1, &options);
    assert_non_null(optimizer);
    assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    assert_close(tensor_value(param, 0), 0.94, 1e-15, "param", 0);
    assert_close(tensor_value(param, 1), 2.08, 1e-15, "param", 1);
    ampc_tensor *buffer = ampc_optimizer_state_tensor(optimizer, 0, "momentum_buffer", false);
    assert_non_null(buffer);
    assert_close(tensor_value(buffer, 0), 0.6, 1e-15, "buffer", 0);
    assert_close(tensor_value(buffer, 1), -0.8, 1e-15, "buffer", 1);
    /* The gradient itself is not changed by weight decay (torch adds out of place). */
    assert_true(tensor_value(ampc_tensor_grad(param), 0) == 0.5);
    assert_int_equal(ampc_optimizer_step_count(optimizer), 1);
    ampc_optimizer_free(optimizer);
    ampc_tensor_free(param);
}

/* Runs STEPS steps in dtype and compares with the float64 reference. */
static void check_sgd_against_reference(const ampc_sgd_options *options, ampc_dtype dtype,
                                        double relative)
{
    double p[N], buf[N], g[N];
    for (int64_t i = 0; i < N; i++) p[i] = wave(i, -1, 1.0);
    ampc_tensor *param = make_param(dtype, N, p);
    /* The reference starts from the parameter's rounded values. */
    for (int64_t i = 0; i < N; i++) p[i] = tensor_value(param, i);
    give_grad(param);
    ampc_optimizer *optimizer = ampc_sgd_new(&param, 1, options);
    assert_non_null(optimizer);
    sgd_reference reference = {options->lr, options->momentum, options->dampening,
                               options->weight_decay, options->nesterov};
    for (int step = 0; step < STEPS; step++) {
        for (int64_t i = 0; i < N; i++) g[i] = wave(i, step, 0.5);
        set_grad(param, g);
        for (int64_t i = 0; i < N; i++) g[i] = tensor_value(ampc_tensor_grad(param), i);
        assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
        sgd_reference_step(&reference, N, p, g, buf, step == 0);
        for (int64_t i = 0; i < N; i++)
            assert_close(tensor_value(param, i), p[i], relative, "param", i);
    }
    if (options->momentum != 0) {
        ampc_tensor *buffer = ampc_optimizer_state_tensor(optimizer, 0, "momentum_buffer", false);
        for (int64_t i = 0; i < N; i++)
            assert_close(tensor_value(buffer, i), buf[i], relative * 10, "buffer", i);
    }
    ampc_optimizer_free(optimizer);
    ampc_tensor_free(param);
}

static const ampc_sgd_options sgd_variants[] = {
    {.lr = 0.1},
    {.lr = 0.05, .weight_decay = 0.01},
    {.lr = 0.05, .momentum = 0.9},
    {.lr = 0.05, .momentum = 0.9, .dampening = 0.3, .weight_decay = 1e-3},
    {.lr = 0.05, .momentum = 0.8, .nesterov = true},
    {.lr = 0.02, .momentum = 0.9, .weight_decay = 5e-4, .nesterov = true},
};

static void test_sgd_f64_equals_float64_reference_bitwise(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof sgd_variants / sizeof *sgd_variants; v++)
        check_sgd_against_reference(&sgd_variants[v], AMPC_F64, 0);
}

static void test_sgd_f32_matches_float64_reference(void **state)
{
    (void)state;
    for (size_t v = 0; v < sizeof sgd_variants / sizeof *sgd_variants; v++)
        check_sgd_against_reference(&sgd_variants[v], AMPC_F32, 1e-6);
}

/* F16 and BF16 compute in fp32 and round each result once: one step equals the fp32 formula
 * on the widened values, rounded. */
static void check_sgd_half(ampc_dtype dtype)
{
    half_case c = make_half_case(dtype, N);
    ampc_sgd_options options = {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01};
    ampc_optimizer *optimizer = ampc_sgd_new(&c.param, 1, &options);
    assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    const float *pf = ampc_tensor_data(c.param_f32), *gf = ampc_tensor_data(c.grad_f32);
    ampc_tensor *buffer = ampc_optimizer_state_tensor(optimizer, 0, "momentum_buffer", false);
    for (int64_t i = 0; i < N; i++) {
        float d_p = gf[i] + 0.01f * pf[i];
        assert_true(tensor_value(c.param, i) == round_to(dtype, pf[i] + -0.1f * d_p));
        assert_true(tensor_value(buffer, i) == round_to(dtype, d_p));
    }
    ampc_optimizer_free(optimizer);
    free_half_case(&c);
}

static void test_sgd_half_precision_computes_in_fp32_and_rounds_once(void **state)
{
    (void)state;
    check_sgd_half(AMPC_F16);
    check_sgd_half(AMPC_BF16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_first_step_matches_hand_computation),
        cmocka_unit_test(test_sgd_f64_equals_float64_reference_bitwise),
        cmocka_unit_test(test_sgd_f32_matches_float64_reference),
        cmocka_unit_test(test_sgd_half_precision_computes_in_fp32_and_rounds_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
