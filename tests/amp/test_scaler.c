/* The loss scaler's state machine (src/amp/scaler.c) against apex's scaler.py as documented
 * in apex.md §4: construction defaults and caps, overflow halving with and without a floor,
 * growth after 2000 clean updates capped at max, the unskipped counter's resets, a static
 * scaler that never changes nor skips, the skip message's exact text (Python float repr),
 * the state round trip under apex's state_dict names, and argument errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ampc/amp_scaler.h>

#include "../tensor/tensor_testing.h"

/* One clean or overflowing update, as scale_loss's exit does it. */
static bool update_with(ampc_loss_scaler *s, bool overflow)
{
    ampc_loss_scaler_clear_overflow(s);
    if (overflow) {
        float inf = INFINITY, out;
        int64_t n = 1;
        ampc_tensor *g = ampc_tensor_from_data(&inf, AMPC_F32, 1, &n);
        ampc_tensor *m = ampc_tensor_wrap(&out, AMPC_F32, 1, &n);
        assert_int_equal(ampc_loss_scaler_unscale(s, &g, &m, 1, false), AMPC_OK);
        ampc_tensor_free(g);
        ampc_tensor_free(m);
        assert_true(ampc_loss_scaler_had_overflow(s));
    }
    return ampc_loss_scaler_update(s);
}

static void test_dynamic_scaler_starts_at_2_16_capped_by_max(void **state)
{
    (void)state;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    assert_non_null(s);
    assert_true(ampc_loss_scaler_is_dynamic(s));
    assert_true(ampc_loss_scaler_scale(s) == 65536.0);
    assert_int_equal(ampc_loss_scaler_unskipped(s), 0);
    assert_false(ampc_loss_scaler_had_overflow(s));
    ampc_loss_scaler_free(s);
    s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 1024);
    assert_true(ampc_loss_scaler_scale(s) == 1024.0);
    ampc_loss_scaler_free(s);
    s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 8, 0, 0);
    assert_true(ampc_loss_scaler_scale(s) == 8.0);
    ampc_loss_scaler_free(s);
}

static void test_dynamic_scaler_follows_apex_worked_example(void **state)
{
    (void)state;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    for (int i = 0; i < 5; i++) assert_false(update_with(s, false));
    assert_int_equal(ampc_loss_scaler_unskipped(s), 5);
    /* overflow: skip, halve, counter reset */
    assert_true(update_with(s, true));
    assert_true(ampc_loss_scaler_scale(s) == 32768.0);
    assert_int_equal(ampc_loss_scaler_unskipped(s), 0);
    /* 1999 clean updates: unchanged; the 2000th doubles and resets */
    for (int i = 0; i < 1999; i++) assert_false(update_with(s, false));
    assert_true(ampc_loss_scaler_scale(s) == 32768.0);
    assert_int_equal(ampc_loss_scaler_unskipped(s), 1999);
    assert_false(update_with(s, false));
    assert_true(ampc_loss_scaler_scale(s) == 65536.0);
    assert_int_equal(ampc_loss_scaler_unskipped(s), 0);
    ampc_loss_scaler_free(s);
}

static void test_growth_is_capped_at_max(void **state)
{
    (void)state;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    double expected = 65536.0;
    for (int window = 0; window < 10; window++) {
        for (int i = 0; i < 2000; i++) assert_false(update_with(s, false));
        expected = fmin(expected * 2, 16777216.0);
        assert_true(ampc_loss_scaler_scale(s) == expected);
        assert_int_equal(ampc_loss_scaler_unskipped(s), 0);
    }
    assert_true(ampc_loss_scaler_scale(s) == 16777216.0);
    ampc_loss_scaler_free(s);
    /* a max that is not a power-of-two multiple of the start: min(max, 2 scale) */
    s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 100000);
    for (int i = 0; i < 2000; i++) update_with(s, false);
    assert_true(ampc_loss_scaler_scale(s) == 100000.0);
    ampc_loss_scaler_free(s);
}

static void test_overflow_halving_floors_at_min_and_is_unbounded_without(void **state)
{
    (void)state;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 1024, 128, 0);
    double expected[] = {512, 256, 128, 128, 128};
    for (int i = 0; i < 5; i++) {
        assert_true(update_with(s, true)); /* still skips at the floor */
        assert_true(ampc_loss_scaler_scale(s) == expected[i]);
    }
    ampc_loss_scaler_free(s);
    s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    for (int i = 0; i < 40; i++) assert_true(update_with(s, true));
    assert_true(ampc_loss_scaler_scale(s) == ldexp(1.0, 16 - 40));
    ampc_loss_scaler_free(s);
    /* a floor that is not a power of two is reached exactly */
    s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 1024, 300, 0);
    update_with(s, true);
    update_with(s, true);
    assert_true(ampc_loss_scaler_scale(s) == 300.0);
    ampc_loss_scaler_free(s);
}

static void test_overflow_resets_counter_mid_window(void **state)
{
    (void)state;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    for (int i = 0; i < 1500; i++) update_with(s, false);
    assert_true(update_with(s, true));
    for (int i = 0; i < 1999; i++) update_with(s, false);
    assert_true(ampc_loss_scaler_scale(s) == 32768.0);
    update_with(s, false);
    assert_true(ampc_loss_scaler_scale(s) == 65536.0);
    ampc_loss_scaler_free(s);
}

static void test_static_scaler_never_changes_nor_skips(void **state)
{
    (void)state;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_STATIC, 128, 0, 0);
    assert_non_null(s);
    assert_false(ampc_loss_scaler_is_dynamic(s));
    for (int i = 0; i < 4100; i++) assert_false(update_with(s, i % 3 == 0));
    assert_true(ampc_loss_scaler_scale(s) == 128.0);
    /* apex: the counter still counts every update and is never reset */
    assert_int_equal(ampc_loss_scaler_unskipped(s), 4100);
    ampc_loss_scaler_free(s);
}

static void test_skip_message_matches_apex_text(void **state)
{
    (void)state;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    update_with(s, true);
    char text[256] = {0};
    FILE *out = fmemopen(text, sizeof text - 1, "w");
    assert_int_equal(ampc_loss_scaler_report_skip(s, 0, 1, out), AMPC_OK);
    assert_int_equal(ampc_loss_scaler_report_skip(s, 3, 0, out), AMPC_OK); /* silent */
    fclose(out);
    assert_string_equal(text, "Gradient overflow.  Skipping step, loss scaler 0 reducing loss "
                              "scale to 32768.0\n");
    ampc_loss_scaler_free(s);
}

static void test_python_float_repr(void **state)
{
    (void)state;
    struct { double value; const char *text; } cases[] = {
        {32768.0, "32768.0"}, {1.0, "1.0"}, {0.5, "0.5"}, {0.0001, "0.0001"},
        {0.00001, "1e-05"}, {ldexp(1, -20), "9.5367431640625e-07"}, {0.1, "0.1"},
        {16777216.0, "16777216.0"}, {1e16, "1e+16"}, {123456789012345.0, "123456789012345.0"},
        {ldexp(1, 60), "1.152921504606847e+18"}, {300.0, "300.0"}, {INFINITY, "inf"},
        {-2.5, "-2.5"}, {1.5e-3, "0.0015"},
    };
    char buffer[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal(ampc_format_python_float(cases[i].value, buffer, sizeof buffer),
                            cases[i].text);
}

static void test_state_round_trips_under_apex_names(void **state)
{
    (void)state;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    update_with(s, true);
    for (int i = 0; i < 17; i++) update_with(s, false);
    ampc_named_scalar saved[2];
    assert_int_equal(ampc_loss_scaler_state_get(s, 1, saved), AMPC_OK);
    assert_string_equal(saved[0].name, "loss_scaler1.loss_scale");
    assert_true(saved[0].value == 32768.0);
    assert_string_equal(saved[1].name, "loss_scaler1.unskipped");
    assert_true(saved[1].value == 17.0);
    ampc_loss_scaler *fresh = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    ampc_named_scalar entries[3] = {{"loss_scaler0.loss_scale", 4.0}, saved[1], saved[0]};
    assert_int_equal(ampc_loss_scaler_state_set(fresh, 1, entries, 3), AMPC_OK);
    assert_true(ampc_loss_scaler_scale(fresh) == 32768.0);
    assert_int_equal(ampc_loss_scaler_unskipped(fresh), 17);
    /* the restored scaler continues the same sequence */
    for (int i = 0; i < 1983; i++) update_with(fresh, false);
    assert_true(ampc_loss_scaler_scale(fresh) == 65536.0);
    /* missing or bad entries fail and change nothing */
    assert_int_equal(ampc_loss_scaler_state_set(fresh, 0, entries, 3), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "loss_scaler0.unskipped");
    ampc_named_scalar bad[2] = {{"loss_scaler0.loss_scale", -1}, {"loss_scaler0.unskipped", 2}};
    assert_int_equal(ampc_loss_scaler_state_set(fresh, 0, bad, 2), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "expected a finite value > 0");
    bad[0].value = 8;
    bad[1].value = 2.5;
    assert_int_equal(ampc_loss_scaler_state_set(fresh, 0, bad, 2), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "whole number");
    assert_true(ampc_loss_scaler_scale(fresh) == 65536.0);
    ampc_loss_scaler_free(s);
    ampc_loss_scaler_free(fresh);
}

static void test_bad_arguments_fail_naming_them(void **state)
{
    (void)state;
    assert_null(ampc_loss_scaler_new(AMPC_LOSS_SCALE_STATIC, 0, 0, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "init is 0");
    assert_null(ampc_loss_scaler_new(AMPC_LOSS_SCALE_STATIC, 4, 1, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "static scaler");
    assert_null(ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, NAN, 0, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "init is nan");
    assert_null(ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 1e9, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "min is 1e+09");
    assert_null(ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "max is -1");
    assert_null(ampc_loss_scaler_new((ampc_loss_scale_kind)7, 1, 0, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "kind is 7");
    assert_false(ampc_loss_scaler_update(NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "scaler");
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    assert_int_equal(ampc_loss_scaler_report_skip(s, 0, 1, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "out");
    ampc_loss_scaler_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dynamic_scaler_starts_at_2_16_capped_by_max),
        cmocka_unit_test(test_dynamic_scaler_follows_apex_worked_example),
        cmocka_unit_test(test_growth_is_capped_at_max),
        cmocka_unit_test(test_overflow_halving_floors_at_min_and_is_unbounded_without),
        cmocka_unit_test(test_overflow_resets_counter_mid_window),
        cmocka_unit_test(test_static_scaler_never_changes_nor_skips),
        cmocka_unit_test(test_skip_message_matches_apex_text),
        cmocka_unit_test(test_python_float_repr),
        cmocka_unit_test(test_state_round_trips_under_apex_names),
        cmocka_unit_test(test_bad_arguments_fail_naming_them),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
