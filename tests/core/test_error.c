/* Tests for src/core/error.c: the sticky per-thread error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "core/error.h"

static int clear_error(void **state)
{
    (void)state;
    ampc_error_clear();
    return 0;
}

static void test_no_error_is_ok_and_empty(void **state)
{
    (void)state;
    assert_int_equal(ampc_error_status(), AMPC_OK);
    assert_string_equal(ampc_error_message(), "");
}

static void test_fail_records_function_and_message(void **state)
{
    (void)state;
    ampc_status status = ampc_fail(AMPC_ERR_INVALID_ARGUMENT, "ampc_thing", "x is %d", 3);
    assert_int_equal(status, AMPC_ERR_INVALID_ARGUMENT);
    assert_int_equal(ampc_error_status(), AMPC_ERR_INVALID_ARGUMENT);
    assert_string_equal(ampc_error_message(), "ampc_thing: x is 3");
}

static void test_first_error_sticks_until_cleared(void **state)
{
    (void)state;
    ampc_fail(AMPC_ERR_IO, "first", "cause");
    ampc_status second = ampc_fail(AMPC_ERR_FORMAT, "second", "consequence");
    assert_int_equal(second, AMPC_ERR_FORMAT); /* the caller still learns its own status */
    assert_int_equal(ampc_error_status(), AMPC_ERR_IO);
    assert_string_equal(ampc_error_message(), "first: cause");
    ampc_error_clear();
    assert_int_equal(ampc_error_status(), AMPC_OK);
    assert_string_equal(ampc_error_message(), "");
}

static void test_null_argument_names_it(void **state)
{
    (void)state;
    assert_int_equal(ampc_fail_null("ampc_f", "tensor"), AMPC_ERR_NULL_ARGUMENT);
    assert_string_equal(ampc_error_message(), "ampc_f: argument tensor is NULL");
}

static void test_null_after_error_propagates_the_cause(void **state)
{
    (void)state;
    ampc_fail_oom("ampc_alloc", 4096);
    assert_int_equal(ampc_fail_null("ampc_next", "tensor"), AMPC_ERR_OUT_OF_MEMORY);
    assert_string_equal(ampc_error_message(), "ampc_alloc: could not allocate 4096 bytes");
}

static void test_long_message_is_truncated_not_overflowed(void **state)
{
    (void)state;
    char long_text[3000];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    ampc_fail(AMPC_ERR_INVALID_ARGUMENT, "ampc_f", "%s", long_text);
    size_t length = strlen(ampc_error_message());
    assert_true(length > 100 && length < sizeof long_text);
    assert_memory_equal(ampc_error_message(), "ampc_f: xxx", 11);
}

static void test_status_names_cover_every_status(void **state)
{
    (void)state;
    for (int status = 0; status < AMPC_STATUS_COUNT; status++) {
        const char *name = ampc_status_name((ampc_status)status);
        assert_non_null(name);
        assert_memory_equal(name, "AMPC_", 5);
    }
    assert_string_equal(ampc_status_name(AMPC_ERR_NULL_ARGUMENT), "AMPC_ERR_NULL_ARGUMENT");
    assert_string_equal(ampc_status_name(AMPC_STATUS_COUNT), "invalid");
    assert_string_equal(ampc_status_name((ampc_status)-1), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_error_is_ok_and_empty, clear_error),
        cmocka_unit_test_setup(test_fail_records_function_and_message, clear_error),
        cmocka_unit_test_setup(test_first_error_sticks_until_cleared, clear_error),
        cmocka_unit_test_setup(test_null_argument_names_it, clear_error),
        cmocka_unit_test_setup(test_null_after_error_propagates_the_cause, clear_error),
        cmocka_unit_test_setup(test_long_message_is_truncated_not_overflowed, clear_error),
        cmocka_unit_test_setup(test_status_names_cover_every_status, clear_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
