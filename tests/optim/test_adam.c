/* Adam and AdamW (src/optim/optimizer.c, optim_kernels.c) against torch.optim's formulas: a
 * first step checked by hand, then several steps with weight decay and amsgrad against the
 * float64 reference of optim_testing.h (bit for bit in F64, within 1e-6 relative in F32),
 * half precision computed in fp32 and rounded once, and results independent of threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "../tensor/tensor_testing.h"
#include "optim_testing.h"

enum { N = 41, STEPS = 7 };

static void test_adam_first_step_moves_each_weight_by_lr(void **state)
{
    (void)state;
    /* At t = 1, m = 0.1 g and v = 0.001 g^2, so m / bc1 = g and sqrt(v / bc2) = |g|: each
     * weight moves by lr * g / (|g| + eps), almost exactly lr against the gradient's sign. */
    double values[] = {1, -2, 3}, grads[] = {0.25, -4, 1e-3};
    ampc_tensor *param = make_param(AMPC_F64, 3, values);
    give_grad(param);
    set_grad(param, grads);
    ampc_adam_options options = ampc_adam_defaults();
    options.lr = 0.01;
    ampc_optimizer *optimizer = ampc_adam_new(&param, 1, &options);
    assert_non_null(optimizer);
    assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    double expected[] = {1 - 0.01 * 0.25 / (0.25 + 1e-8), -2 + 0.01 * 4 / (4 + 1e-8),
                         3 - 0.01 * 1e-3 / (1e-3 + 1e-8)};
    for (int64_t i = 0; i < 3; i++)
        assert_close(tensor_value(param, i), expected[i], 1e-12, "param", i);
    ampc_tensor *exp_avg = ampc_optimizer_state_tensor(optimizer, 0, "exp_avg", false);
    ampc_tensor *exp_avg_sq = ampc_optimizer_state_tensor(optimizer, 0, "exp_avg_sq", false);
    assert_close(tensor_value(exp_avg, 1), -0.4, 1e-12, "exp_avg", 1);
    assert_close(tensor_value(exp_avg_sq, 1), 0.016, 1e-12, "exp_avg_sq", 1);
    ampc_optimizer_free(optimizer);
    ampc_tensor_free(param);
}

static void test_adamw_first_step_decays_the_weight_first(void **state)
{
    (void)state;
    /* p = 2 * (1 - 0.1 * 0.5) = 1.9, then - 0.1 * g / (|g| + eps) with g = 1: 1.8. */
    double values[] = {2}, grads[] = {1};
    ampc_tensor *param = make_param(AMPC_F64, 1, values);
    give_grad(param);
    set_grad(param, grads);
    ampc_adam_options options = ampc_adamw_defaults();
    assert_true(options.weight_decay == 0.01);
    options.lr = 0.1;
    options.weight_decay = 0.5;
    options.eps = 0;
    ampc_optimizer *optimizer = ampc_adamw_new(&param, 1, &options);
    assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    assert_close(tensor_value(param, 0), 1.8, 1e-15, "param", 0);
    assert_string_equal(ampc_optimizer_name(optimizer), "adamw");
    ampc_optimizer_free(optimizer);
    ampc_tensor_free(param);
}

static void check_adam_against_reference(const ampc_adam_options *options, bool decoupled,
                                         ampc_dtype dtype, double relative)
{
    double p[N], g[N], m[N] = {0}, v[N] = {0}, vmax[N] = {0};
    for (int64_t i = 0; i < N; i++) p[i] = wave(i, -1, 1.0);
    ampc_tensor *param = make_param(dtype, N, p);
    for (int64_t i = 0; i < N; i++) p[i] = tensor_value(param, i);
    give_grad(param);
    ampc_optimizer *optimizer = decoupled ? ampc_adamw_new(&param, 1, options)
                                          : ampc_adam_new(&param, 1, options);
    assert_non_null(optimizer);
    adam_reference reference = {options->lr, options->beta1, options->beta2, options->eps,
                                options->weight_decay, options->amsgrad, decoupled};
    for (int step = 1; step <= STEPS; step++) {
        /* Gradients shrink over the steps so amsgrad's maximum matters. */
        for (int64_t i = 0; i < N; i++) g[i] = wave(i, step, 1.0 / step);
        set_grad(param, g);
        for (int64_t i = 0; i < N; i++) g[i] = tensor_value(ampc_tensor_grad(param), i);
        assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
        adam_reference_step(&reference, step, N, p, g, m, v, vmax);
        for (int64_t i = 0; i < N; i++)
            assert_close(tensor_value(param, i), p[i], relative, "param", i);
    }
    const double *expected[] = {m, v, vmax};
    const char *const *names = ampc_optimizer_state_names(optimizer);
    for (int k = 0; names[k]; k++) {
        ampc_tensor *tensor = ampc_optimizer_state_tensor(optimizer, 0, names[k], false);
        assert_non_null(tensor);
        for (int64_t i = 0; i < N; i++)
            assert_close(tensor_value(tensor, i), expected[k][i], relative * 10, names[k], i);
    }
    ampc_optimizer_free(optimizer);
    ampc_tensor_free(param);
}

static const ampc_adam_options adam_variants[] = {
    {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8},
    {.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1},
    {.lr = 3e-3, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 0.05, .amsgrad = true},
    {.lr = 1e-2, .beta1 = 0.0, .beta2 = 0.5, .eps = 1e-3, .amsgrad = true},
};

static void for_each_variant(ampc_dtype dtype, double relative)
{
    for (size_t v = 0; v < sizeof adam_variants / sizeof *adam_variants; v++) {
        check_adam_against_reference(&adam_variants[v], false, dtype, relative);
        check_adam_against_reference(&adam_variants[v], true, dtype, relative);
    }
}

static void test_adam_and_adamw_f64_equal_float64_reference_bitwise(void **state)
{
    (void)state;
    for_each_variant(AMPC_F64, 0);
}

static void test_adam_and_adamw_f32_match_float64_reference(void **state)
{
    (void)state;
    for_each_variant(AMPC_F32, 1e-6);
}

/* One AdamW step on F16 / BF16 equals the fp32 formula on the widened values, each result
 * (parameter, exp_avg, exp_avg_sq) rounded once. */
static void check_adamw_half(ampc_dtype dtype)
{
    half_case c = make_half_case(dtype, N);
    ampc_adam_options options = ampc_adamw_defaults();
    options.lr = 0.01;
    options.eps = 1e-3; /* representable scale for F16's denominators */
    ampc_optimizer *optimizer = ampc_adamw_new(&c.param, 1, &options);
    assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    const float *pf = ampc_tensor_data(c.param_f32), *gf = ampc_tensor_data(c.grad_f32);
    float decay = (float)(1 - 0.01 * 0.01), step_size = (float)-(0.01 / (1 - 0.9));
    float bc2_sqrt = (float)sqrt(1 - 0.999), one_minus_b1 = (float)(1 - 0.9);
    float one_minus_b2 = (float)(1 - 0.999);
    ampc_tensor *exp_avg = ampc_optimizer_state_tensor(optimizer, 0, "exp_avg", false);
    ampc_tensor *exp_avg_sq = ampc_optimizer_state_tensor(optimizer, 0, "exp_avg_sq", false);
    assert_int_equal(ampc_tensor_dtype(exp_avg), dtype);
    for (int64_t i = 0; i < N; i++) {
        float m = 0.0f * 0.9f + one_minus_b1 * gf[i];
        float v = 0.0f * 0.999f + one_minus_b2 * gf[i] * gf[i];
        float denom = sqrtf(v) / bc2_sqrt + 1e-3f;
        float expected = pf[i] * decay + step_size * m / denom;
        assert_true(tensor_value(c.param, i) == round_to(dtype, expected));
        assert_true(tensor_value(exp_avg, i) == round_to(dtype, m));
        assert_true(tensor_value(exp_avg_sq, i) == round_to(dtype, v));
    }
    ampc_optimizer_free(optimizer);
    free_half_case(&c);
}

static void test_adamw_half_precision_computes_in_fp32_and_rounds_once(void **state)
{
    (void)state;
    check_adamw_half(AMPC_F16);
    check_adamw_half(AMPC_BF16);
}

/* A tensor large enough to be split across threads gives the same bits with 1 thread. */
static ampc_tensor *run_adam_large(ampc_dtype dtype, int threads)
{
    enum { LARGE = 200003 };
    double *values = malloc(LARGE * sizeof *values);
    assert_non_null(values);
    for (int64_t i = 0; i < LARGE; i++) values[i] = wave(i, 0, 1.0);
    ampc_tensor *param = make_param(dtype, LARGE, values);
    give_grad(param);
    ampc_adam_options options = ampc_adam_defaults();
    options.amsgrad = true;
    options.weight_decay = 0.01;
    ampc_optimizer *optimizer = ampc_adam_new(&param, 1, &options);
    int previous = ampc_num_threads();
    assert_int_equal(ampc_set_num_threads(threads), AMPC_OK);
    for (int step = 1; step <= 3; step++) {
        for (int64_t i = 0; i < LARGE; i++) values[i] = wave(i, step, 0.3);
        set_grad(param, values);
        assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    }
    assert_int_equal(ampc_set_num_threads(previous), AMPC_OK);
    ampc_optimizer_free(optimizer);
    free(values);
    return param;
}

static void test_adam_result_does_not_depend_on_thread_count(void **state)
{
    (void)state;
    ampc_dtype dtypes[] = {AMPC_F32, AMPC_BF16};
    for (int d = 0; d < 2; d++) {
        ampc_tensor *one = run_adam_large(dtypes[d], 1), *four = run_adam_large(dtypes[d], 4);
        assert_memory_equal(ampc_tensor_data(one), ampc_tensor_data(four),
                            ampc_tensor_nbytes(one));
        ampc_tensor_free(one);
        ampc_tensor_free(four);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_first_step_moves_each_weight_by_lr),
        cmocka_unit_test(test_adamw_first_step_decays_the_weight_first),
        cmocka_unit_test(test_adam_and_adamw_f64_equal_float64_reference_bitwise),
        cmocka_unit_test(test_adam_and_adamw_f32_match_float64_reference),
        cmocka_unit_test(test_adamw_half_precision_computes_in_fp32_and_rounds_once),
        cmocka_unit_test(test_adam_result_does_not_depend_on_thread_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
