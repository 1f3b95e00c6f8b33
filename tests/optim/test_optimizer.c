/* What every optimizer shares (src/optim/optimizer.c): param groups with their own lr and
 * weight decay, parameters without gradients skipped (with torch's per-parameter step
 * count), state tensors reachable by name and restorable bit for bit, zero_grad, and
 * validation errors that name the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../tensor/tensor_testing.h"
#include "optim_testing.h"

enum { N = 19 };

static ampc_tensor *wave_param(ampc_dtype dtype, int seed)
{
    double values[N];
    for (int64_t i = 0; i < N; i++) values[i] = wave(i, seed, 1.0);
    ampc_tensor *param = make_param(dtype, N, values);
    give_grad(param);
    return param;
}

static void set_wave_grad(ampc_tensor *param, int step)
{
    double values[N];
    for (int64_t i = 0; i < N; i++) values[i] = wave(i, step, 0.5);
    set_grad(param, values);
}

static void test_param_groups_use_their_own_lr_and_weight_decay(void **state)
{
    (void)state;
    double one[] = {1}, grad[] = {0.5};
    ampc_tensor *a = make_param(AMPC_F64, 1, one), *b = make_param(AMPC_F64, 1, one);
    give_grad(a);
    give_grad(b);
    set_grad(a, grad);
    set_grad(b, grad);
    ampc_sgd_options options = {.lr = 0.1};
    ampc_optimizer *optimizer = ampc_sgd_new(&a, 1, &options);
    assert_int_equal(ampc_optimizer_add_param_group(optimizer, &b, 1, 0.01, 0.5), AMPC_OK);
    assert_int_equal(ampc_optimizer_num_groups(optimizer), 2);
    assert_int_equal(ampc_optimizer_num_params(optimizer), 2);
    assert_ptr_equal(ampc_optimizer_param(optimizer, 1), b);
    assert_true(ampc_optimizer_group_lr(optimizer, 1) == 0.01);
    assert_true(ampc_optimizer_group_weight_decay(optimizer, 1) == 0.5);
    assert_true(ampc_optimizer_group_weight_decay(optimizer, 0) == 0);
    assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    assert_true(tensor_value(a, 0) == 1 - 0.1 * 0.5);
    assert_true(tensor_value(b, 0) == 1 + -0.01 * (0.5 + 0.5 * 1));
    assert_int_equal(ampc_optimizer_set_group_lr(optimizer, 0, 0.2), AMPC_OK);
    assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    assert_true(tensor_value(a, 0) == (1 - 0.1 * 0.5) + -0.2 * 0.5);
    ampc_optimizer_free(optimizer);
    ampc_tensor_free(a);
    ampc_tensor_free(b);
}

static void test_params_without_grad_are_skipped_and_start_their_own_step_count(void **state)
{
    (void)state;
    /* b has no gradient at step 1: it is left alone and has no state; at step 2 it gets its
     * first Adam update (bias corrections of t = 1), as torch's per-parameter state["step"]. */
    ampc_tensor *params[] = {wave_param(AMPC_F64, 1), NULL};
    double b_values[N], p[N], g[N], m[N] = {0}, v[N] = {0};
    for (int64_t i = 0; i < N; i++) b_values[i] = p[i] = wave(i, 2, 1.0);
    params[1] = make_param(AMPC_F64, N, b_values);
    ampc_adam_options options = ampc_adam_defaults();
    options.lr = 0.01;
    ampc_optimizer *optimizer = ampc_adam_new(params, 2, &options);
    set_wave_grad(params[0], 1);
    assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    for (int64_t i = 0; i < N; i++) assert_true(tensor_value(params[1], i) == b_values[i]);
    assert_null(ampc_optimizer_state_tensor(optimizer, 1, "exp_avg", false));
    expect_no_error();
    give_grad(params[1]);
    set_wave_grad(params[1], 2);
    for (int64_t i = 0; i < N; i++) g[i] = wave(i, 2, 0.5);
    assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    adam_reference reference = {0.01, 0.9, 0.999, 1e-8, 0, false, false};
    adam_reference_step(&reference, 1, N, p, g, m, v, NULL);
    for (int64_t i = 0; i < N; i++) assert_true(tensor_value(params[1], i) == p[i]);
    assert_int_equal(ampc_optimizer_step_count(optimizer), 2);
    ampc_optimizer_free(optimizer);
    ampc_tensor_free(params[0]);
    ampc_tensor_free(params[1]);
}

/* Runs `steps` steps from step `first` (the gradient of step s is wave(s)). */
static void run_steps(ampc_optimizer *optimizer, ampc_tensor *const *params, int count,
                      int first, int steps)
{
    for (int step = first; step < first + steps; step++) {
        for (int k = 0; k < count; k++) set_wave_grad(params[k], step + 10 * k);
        assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
    }
}

typedef ampc_optimizer *(*optimizer_factory)(ampc_tensor *const *params, int count);

static ampc_optimizer *new_sgd(ampc_tensor *const *params, int count)
{
    ampc_sgd_options options = {.lr = 0.05, .momentum = 0.9, .dampening = 0.1,
                                .weight_decay = 1e-3};
    return ampc_sgd_new(params, count, &options);
}

static ampc_optimizer *new_adam(ampc_tensor *const *params, int count)
{
    ampc_adam_options options = ampc_adam_defaults();
    options.amsgrad = true;
    options.weight_decay = 0.01;
    return ampc_adam_new(params, count, &options);
}

static ampc_optimizer *new_adamw(ampc_tensor *const *params, int count)
{
    return ampc_adamw_new(params, count, &(ampc_adam_options){.lr = 0.01, .beta1 = 0.9,
                                                              .beta2 = 0.99, .eps = 1e-8,
                                                              .weight_decay = 0.1});
}

/* 3 steps, copies of the parameters and state, 2 more steps; then a fresh optimizer on the
 * copies, given the saved state and step count, runs the same 2 steps to the same bits. */
static void check_restore(optimizer_factory factory, ampc_dtype dtype, bool count_first)
{
    enum { COUNT = 2, MAX_NAMES = 3 };
    ampc_tensor *params[COUNT] = {wave_param(dtype, 1), wave_param(dtype, 2)};
    ampc_optimizer *optimizer = factory(params, COUNT);
    assert_non_null(optimizer);
    run_steps(optimizer, params, COUNT, 0, 3);

    const char *const *names = ampc_optimizer_state_names(optimizer);
    ampc_tensor *saved_params[COUNT], *saved_state[COUNT][MAX_NAMES] = {{0}};
    for (int k = 0; k < COUNT; k++) {
        saved_params[k] = ampc_tensor_clone(params[k]);
        for (int s = 0; names[s]; s++) {
            ampc_tensor *tensor = ampc_optimizer_state_tensor(optimizer, k, names[s], false);
            assert_non_null(tensor);
            assert_int_equal(ampc_tensor_category(tensor), AMPC_MEMORY_OPTIMIZER_STATE);
            saved_state[k][s] = ampc_tensor_clone(tensor);
        }
    }
    int64_t saved_steps = ampc_optimizer_step_count(optimizer);
    assert_int_equal(saved_steps, 3);
    run_steps(optimizer, params, COUNT, 3, 2);

    ampc_tensor *restored[COUNT];
    for (int k = 0; k < COUNT; k++) {
        restored[k] = ampc_tensor_clone(saved_params[k]);
        assert_int_equal(ampc_tensor_set_requires_grad(restored[k], true), AMPC_OK);
        give_grad(restored[k]);
    }
    ampc_optimizer *fresh = factory(restored, COUNT);
    if (count_first) assert_int_equal(ampc_optimizer_set_step_count(fresh, saved_steps), AMPC_OK);
    for (int k = 0; k < COUNT; k++)
        for (int s = 0; names[s]; s++) {
            ampc_tensor *tensor = ampc_optimizer_state_tensor(fresh, k, names[s], true);
            assert_non_null(tensor);
            assert_int_equal(ampc_tensor_copy(tensor, saved_state[k][s]), AMPC_OK);
        }
    if (!count_first) assert_int_equal(ampc_optimizer_set_step_count(fresh, saved_steps), AMPC_OK);
    run_steps(fresh, restored, COUNT, 3, 2);
    for (int k = 0; k < COUNT; k++)
        assert_memory_equal(ampc_tensor_data(restored[k]), ampc_tensor_data(params[k]),
                            ampc_tensor_nbytes(params[k]));
    assert_int_equal(ampc_optimizer_step_count(fresh), 5);

    for (int k = 0; k < COUNT; k++) {
        for (int s = 0; s < MAX_NAMES; s++) ampc_tensor_free(saved_state[k][s]);
        ampc_tensor_free(saved_params[k]);
        ampc_tensor_free(restored[k]);
        ampc_tensor_free(params[k]);
    }
    ampc_optimizer_free(optimizer);
    ampc_optimizer_free(fresh);
}

/* The step count may be set before or after the state tensors are created. */
static void test_state_restored_into_fresh_optimizer_resumes_bitwise(void **state)
{
    (void)state;
    ampc_dtype dtypes[] = {AMPC_F32, AMPC_F64, AMPC_BF16};
    for (int d = 0; d < 3; d++)
        for (int count_first = 0; count_first < 2; count_first++) {
            check_restore(new_sgd, dtypes[d], count_first);
            check_restore(new_adam, dtypes[d], count_first);
            check_restore(new_adamw, dtypes[d], count_first);
        }
}

static void test_state_names_follow_the_options(void **state)
{
    (void)state;
    ampc_tensor *param = wave_param(AMPC_F32, 0);
    ampc_sgd_options plain = {.lr = 0.1};
    ampc_optimizer *sgd = ampc_sgd_new(&param, 1, &plain);
    assert_null(ampc_optimizer_state_names(sgd)[0]);
    assert_null(ampc_optimizer_state_tensor(sgd, 0, "momentum_buffer", true));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "momentum is 0");
    ampc_optimizer_free(sgd);

    ampc_adam_options options = ampc_adam_defaults();
    options.amsgrad = true;
    ampc_optimizer *adam = ampc_adam_new(&param, 1, &options);
    const char *const *names = ampc_optimizer_state_names(adam);
    assert_string_equal(names[0], "exp_avg");
    assert_string_equal(names[1], "exp_avg_sq");
    assert_string_equal(names[2], "max_exp_avg_sq");
    assert_null(names[3]);
    assert_null(ampc_optimizer_state_tensor(adam, 0, "momentum_buffer", false));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "\"momentum_buffer\" is not a state of this adam");
    assert_null(ampc_optimizer_state_tensor(adam, 1, "exp_avg", false));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "index is 1");
    ampc_tensor *created = ampc_optimizer_state_tensor(adam, 0, "exp_avg", true);
    assert_non_null(created);
    assert_int_equal(ampc_tensor_dtype(created), AMPC_F32);
    assert_int_equal(ampc_tensor_numel(created), N);
    assert_true(tensor_value(created, 3) == 0);
    assert_ptr_equal(ampc_optimizer_state_tensor(adam, 0, "exp_avg", false), created);
    ampc_optimizer_free(adam);
    ampc_tensor_free(param);
}

static void test_zero_grad_zeroes_or_drops_every_gradient(void **state)
{
    (void)state;
    ampc_tensor *params[] = {wave_param(AMPC_F32, 0),
                             ampc_tensor_ones(AMPC_F32, 1, (int64_t[]){3})};
    assert_int_equal(ampc_tensor_set_requires_grad(params[1], true), AMPC_OK);
    /* A gradient from backward (not pinned) is dropped with set_to_none. */
    ampc_tensor *loss = ampc_sum(params[1], 0, NULL, false);
    assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
    ampc_tensor_free(loss);
    assert_non_null(ampc_tensor_grad(params[1]));
    set_wave_grad(params[0], 0);
    ampc_optimizer *optimizer = ampc_sgd_new(params, 2, &(ampc_sgd_options){.lr = 0.1});
    assert_int_equal(ampc_optimizer_zero_grad(optimizer, false), AMPC_OK);
    assert_true(tensor_value(ampc_tensor_grad(params[0]), 5) == 0);
    assert_true(tensor_value(ampc_tensor_grad(params[1]), 0) == 0);
    assert_int_equal(ampc_optimizer_zero_grad(optimizer, true), AMPC_OK);
    assert_null(ampc_tensor_grad(params[1]));
    ampc_optimizer_free(optimizer);
    ampc_tensor_free(params[0]);
    ampc_tensor_free(params[1]);
}

static void test_invalid_options_fail_naming_the_field(void **state)
{
    (void)state;
    ampc_tensor *param = wave_param(AMPC_F32, 0);
    ampc_sgd_options sgd = {.lr = -0.1};
    assert_null(ampc_sgd_new(&param, 1, &sgd));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_sgd_new: options->lr is -0.1; expected");
    sgd = (ampc_sgd_options){.lr = 0.1, .momentum = -1};
    assert_null(ampc_sgd_new(&param, 1, &sgd));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->momentum is -1");
    sgd = (ampc_sgd_options){.lr = 0.1, .nesterov = true};
    assert_null(ampc_sgd_new(&param, 1, &sgd));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->nesterov is set with momentum 0");
    sgd = (ampc_sgd_options){.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true};
    assert_null(ampc_sgd_new(&param, 1, &sgd));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "dampening 0.1; expected momentum > 0 and dampening 0");
    assert_null(ampc_sgd_new(&param, 1, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "options");

    ampc_adam_options adam = ampc_adam_defaults();
    adam.beta1 = 1;
    assert_null(ampc_adam_new(&param, 1, &adam));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_adam_new: options->beta1 is 1; expected 0 <= options->beta1 < 1");
    adam = ampc_adamw_defaults();
    adam.beta2 = 1.5;
    assert_null(ampc_adamw_new(&param, 1, &adam));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_adamw_new: options->beta2 is 1.5");
    adam = ampc_adam_defaults();
    adam.eps = -1e-8;
    assert_null(ampc_adam_new(&param, 1, &adam));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->eps is -1e-08");
    adam = ampc_adam_defaults();
    adam.weight_decay = NAN;
    assert_null(ampc_adam_new(&param, 1, &adam));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->weight_decay is nan");
    ampc_tensor_free(param);
}

static void test_invalid_params_fail_naming_the_param(void **state)
{
    (void)state;
    ampc_sgd_options options = {.lr = 0.1};
    ampc_tensor *param = wave_param(AMPC_F32, 0), *other = wave_param(AMPC_F32, 1);
    ampc_tensor *twice[] = {other, param, param};
    assert_null(ampc_sgd_new(twice, 3, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "params[2] is the same parameter as params[1]");

    ampc_tensor *doubled = ampc_mul_scalar(param, 2);
    assert_null(ampc_sgd_new(&doubled, 1, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "params[0] is not a leaf (it is the result of mul");
    ampc_tensor_free(doubled);

    ampc_tensor *integer = ampc_tensor_zeros(AMPC_I32, 1, (int64_t[]){4});
    ampc_tensor *with_integer[] = {param, integer};
    assert_null(ampc_adam_new(with_integer, 2, &(ampc_adam_options){.lr = 0.1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "params[1] has dtype I32; expected F64, F32, F16 or BF16");
    ampc_tensor_free(integer);

    ampc_tensor *frozen = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){4});
    assert_null(ampc_sgd_new(&frozen, 1, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "params[0] does not require grad");
    ampc_tensor_free(frozen);

    ampc_tensor *matrix = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){3, 2});
    ampc_tensor *transposed = ampc_tensor_transpose(matrix, 0, 1);
    assert_int_equal(ampc_tensor_set_requires_grad(transposed, true), AMPC_OK);
    assert_null(ampc_sgd_new(&transposed, 1, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "params[0] is not contiguous");
    ampc_tensor_free(transposed);
    ampc_tensor_free(matrix);

    assert_null(ampc_sgd_new(&param, 0, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "count is 0; expected >= 1");
    assert_null(ampc_sgd_new(NULL, 1, &options));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "params");

    ampc_optimizer *optimizer = ampc_sgd_new(&param, 1, &options);
    assert_int_equal(ampc_optimizer_add_param_group(optimizer, &param, 1, 0.1, 0),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "params[0] is already in the optimizer (parameter 0, group 0)");
    assert_int_equal(ampc_optimizer_add_param_group(optimizer, &other, 1, -1, 0),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_optimizer_add_param_group: lr is -1");
    assert_int_equal(ampc_optimizer_add_param_group(optimizer, &other, 1, 0.1, -2),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "weight_decay is -2");
    assert_int_equal(ampc_optimizer_num_groups(optimizer), 1);
    assert_int_equal(ampc_optimizer_set_group_lr(optimizer, 0, -0.5), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "lr is -0.5");
    assert_int_equal(ampc_optimizer_set_group_lr(optimizer, 3, 0.5), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "group is 3; expected 0 <= group < 1");
    assert_int_equal(ampc_optimizer_set_step_count(optimizer, -1), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "steps is -1");
    assert_null(ampc_optimizer_param(optimizer, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "index is -1");
    ampc_optimizer_free(optimizer);
    ampc_tensor_free(param);
    ampc_tensor_free(other);
}

static void test_null_optimizer_fails_without_crashing(void **state)
{
    (void)state;
    assert_int_equal(ampc_optimizer_step(NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_optimizer_step: argument optimizer");
    assert_int_equal(ampc_optimizer_zero_grad(NULL, true), AMPC_ERR_NULL_ARGUMENT);
    ampc_error_clear();
    assert_null(ampc_optimizer_name(NULL));
    assert_int_equal(ampc_optimizer_num_params(NULL), 0);
    assert_int_equal(ampc_optimizer_step_count(NULL), 0);
    assert_null(ampc_optimizer_state_names(NULL));
    assert_null(ampc_optimizer_state_tensor(NULL, 0, "exp_avg", true));
    ampc_error_clear();
    ampc_optimizer_free(NULL);
}

static void test_defaults_are_pytorchs(void **state)
{
    (void)state;
    ampc_sgd_options sgd = ampc_sgd_defaults();
    assert_true(sgd.lr == 1e-3 && sgd.momentum == 0 && sgd.dampening == 0 &&
                sgd.weight_decay == 0 && !sgd.nesterov);
    ampc_adam_options adam = ampc_adam_defaults();
    assert_true(adam.lr == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 &&
                adam.eps == 1e-8 && adam.weight_decay == 0 && !adam.amsgrad);
    assert_true(ampc_adamw_defaults().weight_decay == 1e-2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_param_groups_use_their_own_lr_and_weight_decay),
        cmocka_unit_test(test_params_without_grad_are_skipped_and_start_their_own_step_count),
        cmocka_unit_test(test_state_restored_into_fresh_optimizer_resumes_bitwise),
        cmocka_unit_test(test_state_names_follow_the_options),
        cmocka_unit_test(test_zero_grad_zeroes_or_drops_every_gradient),
        cmocka_unit_test(test_invalid_options_fail_naming_the_field),
        cmocka_unit_test(test_invalid_params_fail_naming_the_param),
        cmocka_unit_test(test_null_optimizer_fails_without_crashing),
        cmocka_unit_test(test_defaults_are_pytorchs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
