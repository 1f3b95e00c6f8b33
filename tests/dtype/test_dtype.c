/* Tests for the dtype table (src/dtype/dtype.c): sizes, safetensors names, float-ness, and
 * parsing names back, with its error messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <ampc/dtype.h>
#include <ampc/error.h>

#include "test_support.h"

/* The expected table, written out from the safetensors format's spellings. */
static const struct {
    ampc_dtype dtype;
    const char *name;
    size_t size;
    bool is_float;
} expected[] = {
    {AMPC_F64, "F64", 8, true},          {AMPC_F32, "F32", 4, true},
    {AMPC_F16, "F16", 2, true},          {AMPC_BF16, "BF16", 2, true},
    {AMPC_F8_E4M3, "F8_E4M3", 1, true},  {AMPC_F8_E5M2, "F8_E5M2", 1, true},
    {AMPC_I64, "I64", 8, false},         {AMPC_I32, "I32", 4, false},
    {AMPC_U8, "U8", 1, false},           {AMPC_BOOL, "BOOL", 1, false},
};
enum { EXPECTED_COUNT = sizeof expected / sizeof expected[0] };

static int clear_error(void **state)
{
    (void)state;
    ampc_error_clear();
    return 0;
}

static void test_every_dtype_is_listed(void **state)
{
    (void)state;
    assert_int_equal(EXPECTED_COUNT, AMPC_DTYPE_COUNT);
}

static void test_size_is_bytes_per_element(void **state)
{
    (void)state;
    for (int i = 0; i < EXPECTED_COUNT; i++)
        assert_int_equal(ampc_dtype_size(expected[i].dtype), expected[i].size);
}

static void test_name_is_the_safetensors_spelling(void **state)
{
    (void)state;
    for (int i = 0; i < EXPECTED_COUNT; i++)
        assert_string_equal(ampc_dtype_name(expected[i].dtype), expected[i].name);
}

static void test_is_float_only_for_float_dtypes(void **state)
{
    (void)state;
    for (int i = 0; i < EXPECTED_COUNT; i++)
        assert_int_equal(ampc_dtype_is_float(expected[i].dtype), expected[i].is_float);
}

static void test_invalid_dtype_has_no_size_name_or_floatness(void **state)
{
    (void)state;
    ampc_dtype invalid[] = {AMPC_DTYPE_COUNT, (ampc_dtype)-1, (ampc_dtype)1000};
    for (int i = 0; i < 3; i++) {
        assert_false(ampc_dtype_is_valid(invalid[i]));
        assert_int_equal(ampc_dtype_size(invalid[i]), 0);
        assert_string_equal(ampc_dtype_name(invalid[i]), "invalid");
        assert_false(ampc_dtype_is_float(invalid[i]));
    }
    for (int i = 0; i < EXPECTED_COUNT; i++) assert_true(ampc_dtype_is_valid(expected[i].dtype));
    assert_int_equal(ampc_error_status(), AMPC_OK); /* queries are not errors */
}

static void test_from_name_round_trips_every_name(void **state)
{
    (void)state;
    for (int i = 0; i < EXPECTED_COUNT; i++) {
        ampc_dtype parsed = AMPC_DTYPE_COUNT;
        assert_int_equal(ampc_dtype_from_name(expected[i].name, &parsed), AMPC_OK);
        assert_int_equal(parsed, expected[i].dtype);
    }
}

static void test_from_name_rejects_unknown_names_listing_the_choices(void **state)
{
    (void)state;
    ampc_dtype parsed = AMPC_I32;
    assert_int_equal(ampc_dtype_from_name("f32", &parsed), AMPC_ERR_INVALID_ARGUMENT);
    assert_int_equal(parsed, AMPC_I32); /* untouched on failure */
    const char *message = ampc_error_message();
    assert_non_null(strstr(message, "ampc_dtype_from_name:"));
    assert_non_null(strstr(message, "\"f32\""));
    assert_non_null(strstr(message, "F64, F32, F16, BF16, F8_E4M3, F8_E5M2, I64, I32, U8, BOOL"));
    ampc_error_clear();
    assert_int_equal(ampc_dtype_from_name("", &parsed), AMPC_ERR_INVALID_ARGUMENT);
    ampc_error_clear();
    assert_int_equal(ampc_dtype_from_name("F32 ", &parsed), AMPC_ERR_INVALID_ARGUMENT);
}

static void test_from_name_shortens_a_long_name_in_the_message(void **state)
{
    (void)state;
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    ampc_dtype parsed;
    assert_int_equal(ampc_dtype_from_name(long_name, &parsed), AMPC_ERR_INVALID_ARGUMENT);
    assert_null(strstr(ampc_error_message(), long_name));
    assert_non_null(strstr(ampc_error_message(), "expected one of"));
}

static void test_from_name_rejects_null_arguments(void **state)
{
    (void)state;
    ampc_dtype parsed;
    assert_int_equal(ampc_dtype_from_name(NULL, &parsed), AMPC_ERR_NULL_ARGUMENT);
    assert_string_equal(ampc_error_message(), "ampc_dtype_from_name: argument name is NULL");
    ampc_error_clear();
    assert_int_equal(ampc_dtype_from_name("F16", NULL), AMPC_ERR_NULL_ARGUMENT);
    assert_string_equal(ampc_error_message(), "ampc_dtype_from_name: argument dtype is NULL");
}

#define TEST(function) cmocka_unit_test_setup(function, clear_error)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_every_dtype_is_listed),
        TEST(test_size_is_bytes_per_element),
        TEST(test_name_is_the_safetensors_spelling),
        TEST(test_is_float_only_for_float_dtypes),
        TEST(test_invalid_dtype_has_no_size_name_or_floatness),
        TEST(test_from_name_round_trips_every_name),
        TEST(test_from_name_rejects_unknown_names_listing_the_choices),
        TEST(test_from_name_shortens_a_long_name_in_the_message),
        TEST(test_from_name_rejects_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
