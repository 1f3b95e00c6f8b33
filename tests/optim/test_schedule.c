/* LR schedules (src/optim/schedule.c): each lr sequence against its closed form and against
 * values of torch's StepLR, CosineAnnealingLR, LinearLR and SequentialLR worked out by hand;
 * per-group base lrs; restoring the step count; validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../tensor/tensor_testing.h"
#include "optim_testing.h"

typedef struct fixture {
    ampc_tensor *params[2];
    ampc_optimizer *optimizer;
} fixture;

/* An SGD optimizer with group 0 at lr 0.1 and group 1 at lr 0.02. */
static fixture make_fixture(void)
{
    fixture f;
    double values[] = {1, 2};
    for (int k = 0; k < 2; k++) f.params[k] = make_param(AMPC_F32, 2, values);
    f.optimizer = ampc_sgd_new(&f.params[0], 1, &(ampc_sgd_options){.lr = 0.1});
    assert_int_equal(ampc_optimizer_add_param_group(f.optimizer, &f.params[1], 1, 0.02, 0),
                     AMPC_OK);
    return f;
}

static void free_fixture(fixture *f)
{
    ampc_optimizer_free(f->optimizer);
    for (int k = 0; k < 2; k++) ampc_tensor_free(f->params[k]);
}

/* Group 0's lr from step 0 to count - 1 equals expected[] (group 1's is a fifth of it). */
static void expect_lrs(fixture *f, ampc_lr_schedule *schedule, const double *expected,
                       int count, double relative)
{
    for (int step = 0; step < count; step++) {
        if (step > 0) assert_int_equal(ampc_lr_schedule_step(schedule), AMPC_OK);
        assert_int_equal(ampc_lr_schedule_step_count(schedule), step);
        assert_close(ampc_optimizer_group_lr(f->optimizer, 0), expected[step], relative, "lr",
                     step);
        assert_close(ampc_optimizer_group_lr(f->optimizer, 1), expected[step] / 5, relative,
                     "group 1 lr", step);
    }
}

static void test_step_schedule_multiplies_by_gamma_every_step_size(void **state)
{
    (void)state;
    fixture f = make_fixture();
    ampc_lr_schedule *schedule = ampc_lr_step_new(f.optimizer, 3, 0.5);
    double torch[] = {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125};
    expect_lrs(&f, schedule, torch, 10, 0);
    ampc_lr_schedule_free(schedule);
    free_fixture(&f);
}

static double cosine_closed_form(double base, double eta_min, int step, int t_max)
{
    return eta_min + (base - eta_min) * (1 + cos(M_PI * step / t_max)) / 2;
}

static void test_cosine_schedule_follows_closed_form_then_stays_at_eta_min(void **state)
{
    (void)state;
    fixture f = make_fixture();
    ampc_lr_schedule *schedule = ampc_lr_cosine_new(f.optimizer, 10, 0.001);
    double expected[14];
    for (int step = 0; step < 14; step++)
        expected[step] = step <= 10 ? cosine_closed_form(0.1, 0.001, step, 10) : 0.001;
    /* Torch by hand: step 2 is 0.001 + 0.099 (1 + cos(0.2 pi)) / 2, step 5 the midpoint. */
    assert_close(expected[2], 0.0905463412215599, 1e-14, "hand", 2);
    assert_close(expected[5], 0.0505, 1e-14, "hand", 5);
    assert_true(expected[10] == 0.001);
    for (int step = 0; step < 14; step++) {
        if (step > 0) assert_int_equal(ampc_lr_schedule_step(schedule), AMPC_OK);
        assert_true(ampc_optimizer_group_lr(f.optimizer, 0) == expected[step]);
        assert_true(ampc_optimizer_group_lr(f.optimizer, 1) ==
                    (step <= 10 ? cosine_closed_form(0.02, 0.001, step, 10) : 0.001));
    }
    ampc_lr_schedule_free(schedule);
    free_fixture(&f);
}

static void test_warmup_rises_linearly_from_start_factor(void **state)
{
    (void)state;
    fixture f = make_fixture();
    ampc_lr_schedule *schedule = ampc_lr_warmup_new(f.optimizer, 4, 0.25, NULL);
    double torch[] = {0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1};
    expect_lrs(&f, schedule, torch, 7, 1e-15);
    ampc_lr_schedule_free(schedule);
    free_fixture(&f);
}

static void test_warmup_then_cosine_runs_cosine_from_its_step_zero(void **state)
{
    (void)state;
    fixture f = make_fixture();
    ampc_lr_schedule *cosine = ampc_lr_cosine_new(f.optimizer, 10, 0);
    ampc_lr_schedule *schedule = ampc_lr_warmup_new(f.optimizer, 4, 0.1, cosine);
    assert_non_null(schedule);
    double expected[20];
    for (int step = 0; step < 20; step++)
        expected[step] = step < 4 ? 0.1 * (0.1 + 0.9 * step / 4)
                                  : cosine_closed_form(0.1, 0, step - 4 < 10 ? step - 4 : 10, 10);
    /* SequentialLR by hand: 0.01 at step 0, the base at the milestone, half at 4 + 5. */
    assert_close(expected[0], 0.01, 1e-15, "hand", 0);
    assert_true(expected[4] == 0.1);
    assert_close(expected[9], 0.05, 1e-15, "hand", 9);
    expect_lrs(&f, schedule, expected, 20, 1e-15);
    ampc_lr_schedule_free(schedule);
    free_fixture(&f);
}

static void test_warmup_then_step_keeps_the_base_lrs(void **state)
{
    (void)state;
    fixture f = make_fixture();
    ampc_lr_schedule *schedule =
        ampc_lr_warmup_new(f.optimizer, 2, 0.5, ampc_lr_step_new(f.optimizer, 2, 0.5));
    double torch[] = {0.05, 0.075, 0.1, 0.1, 0.05, 0.05, 0.025};
    expect_lrs(&f, schedule, torch, 7, 1e-15);
    ampc_lr_schedule_free(schedule);
    free_fixture(&f);
}

static void test_set_step_count_applies_that_steps_lr(void **state)
{
    (void)state;
    fixture f = make_fixture();
    ampc_lr_schedule *schedule = ampc_lr_step_new(f.optimizer, 2, 0.1);
    assert_int_equal(ampc_lr_schedule_set_step_count(schedule, 5), AMPC_OK);
    assert_int_equal(ampc_lr_schedule_step_count(schedule), 5);
    assert_true(ampc_optimizer_group_lr(f.optimizer, 0) == 0.1 * pow(0.1, 2));
    assert_close(ampc_optimizer_group_lr(f.optimizer, 0), 0.001, 1e-15, "lr", 5);
    assert_int_equal(ampc_lr_schedule_step(schedule), AMPC_OK);
    assert_true(ampc_optimizer_group_lr(f.optimizer, 0) == 0.1 * pow(0.1, 3));
    assert_int_equal(ampc_lr_schedule_set_step_count(schedule, -1), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "steps is -1");
    ampc_lr_schedule_free(schedule);
    free_fixture(&f);
}

static void test_group_added_later_joins_with_its_lr_as_base(void **state)
{
    (void)state;
    fixture f = make_fixture();
    ampc_lr_schedule *schedule = ampc_lr_step_new(f.optimizer, 1, 0.5);
    double values[] = {3};
    ampc_tensor *late = make_param(AMPC_F32, 1, values);
    assert_int_equal(ampc_optimizer_add_param_group(f.optimizer, &late, 1, 0.4, 0), AMPC_OK);
    assert_int_equal(ampc_lr_schedule_step(schedule), AMPC_OK);
    assert_true(ampc_optimizer_group_lr(f.optimizer, 0) == 0.05);
    assert_true(ampc_optimizer_group_lr(f.optimizer, 2) == 0.2);
    assert_int_equal(ampc_lr_schedule_step(schedule), AMPC_OK);
    assert_true(ampc_optimizer_group_lr(f.optimizer, 2) == 0.1);
    ampc_lr_schedule_free(schedule);
    ampc_tensor_free(late);
    free_fixture(&f);
}

static void test_invalid_schedule_arguments_fail_naming_them(void **state)
{
    (void)state;
    fixture f = make_fixture();
    assert_null(ampc_lr_step_new(f.optimizer, 0, 0.5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_lr_step_new: step_size is 0; expected >= 1");
    assert_null(ampc_lr_step_new(f.optimizer, 1, -0.5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "gamma is -0.5");
    assert_null(ampc_lr_cosine_new(f.optimizer, 0, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_lr_cosine_new: t_max is 0");
    assert_null(ampc_lr_cosine_new(f.optimizer, 5, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "eta_min is -1");
    assert_null(ampc_lr_warmup_new(f.optimizer, 0, 0.5, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_lr_warmup_new: warmup_steps is 0");
    assert_null(ampc_lr_warmup_new(f.optimizer, 3, 0, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "start_factor is 0; expected 0 < start_factor <= 1");
    assert_null(ampc_lr_warmup_new(f.optimizer, 3, 1.5, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "start_factor is 1.5");
    /* A failed warmup frees the after-schedule it was given (ownership passed). */
    assert_null(ampc_lr_warmup_new(f.optimizer, 3, 2, ampc_lr_step_new(f.optimizer, 1, 0.5)));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "start_factor is 2");

    fixture g = make_fixture();
    assert_null(ampc_lr_warmup_new(f.optimizer, 3, 0.5, ampc_lr_step_new(g.optimizer, 1, 0.5)));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "after schedules another optimizer");
    free_fixture(&g);

    ampc_lr_schedule *after = ampc_lr_step_new(f.optimizer, 1, 0.5);
    ampc_lr_schedule *warmup = ampc_lr_warmup_new(f.optimizer, 2, 0.5, after);
    assert_null(ampc_lr_warmup_new(f.optimizer, 2, 0.5, after));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "after already follows another warmup");
    ampc_lr_schedule_free(warmup);

    assert_null(ampc_lr_step_new(NULL, 1, 0.5));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "optimizer");
    assert_int_equal(ampc_lr_schedule_step(NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "schedule");
    ampc_lr_schedule_free(NULL);
    free_fixture(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_schedule_multiplies_by_gamma_every_step_size),
        cmocka_unit_test(test_cosine_schedule_follows_closed_form_then_stays_at_eta_min),
        cmocka_unit_test(test_warmup_rises_linearly_from_start_factor),
        cmocka_unit_test(test_warmup_then_cosine_runs_cosine_from_its_step_zero),
        cmocka_unit_test(test_warmup_then_step_keeps_the_base_lrs),
        cmocka_unit_test(test_set_step_count_applies_that_steps_lr),
        cmocka_unit_test(test_group_added_later_joins_with_its_lr_as_base),
        cmocka_unit_test(test_invalid_schedule_arguments_fail_naming_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
