/* Tests for src/kernels/gemm_validate.c: every bad descriptor fails without touching memory,
 * with the status and a message naming the field, what it was and what was expected. Each
 * test starts from one valid descriptor and breaks one thing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <string.h>

#include <ampc/ampc.h>

#include "kernels/gemm_kernels.h"

/* A 2 x 3 = (2 x 4) (4 x 3) F32 product, with room to spare in every buffer. */
static float a_data[64], b_data[64], c_data[64], bias_data[8];
static uint16_t half_a[64], half_b[64];

static ampc_gemm_desc valid_desc(void)
{
    return (ampc_gemm_desc){.m = 2, .n = 3, .k = 4, .alpha = 1,
                            .a = {AMPC_F32, a_data, 4, 0}, .b = {AMPC_F32, b_data, 3, 0},
                            .c = {AMPC_F32, c_data, 3, 0}, .bias_dtype = AMPC_F32};
}

/* The call fails with status and a message containing every one of the texts; C unchanged. */
static void expect_failure(const ampc_gemm_desc *desc, ampc_status status, const char *text1,
                           const char *text2)
{
    float before[64];
    memcpy(before, c_data, sizeof before);
    ampc_status got = ampc_gemm(desc);
    const char *message = ampc_error_message();
    if (got != status || !strstr(message, text1) || (text2 && !strstr(message, text2)))
        fail_msg("expected %s with \"%s\" and \"%s\"; got %s: \"%s\"", ampc_status_name(status),
                 text1, text2 ? text2 : "", ampc_status_name(got), message);
    assert_memory_equal(before, c_data, sizeof before);
    ampc_error_clear();
}

static void test_valid_descriptor_succeeds(void **state)
{
    (void)state;
    ampc_gemm_desc desc = valid_desc();
    assert_int_equal(ampc_gemm(&desc), AMPC_OK);
}

static void test_null_descriptor(void **state)
{
    (void)state;
    expect_failure(NULL, AMPC_ERR_NULL_ARGUMENT, "ampc_gemm", "desc");
}

static void test_invalid_enums(void **state)
{
    (void)state;
    ampc_gemm_desc desc = valid_desc();
    desc.transpose_a = (ampc_gemm_transpose)7;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "transpose_a is 7", "AMPC_TRANSPOSE (1)");
    desc = valid_desc();
    desc.transpose_b = (ampc_gemm_transpose)-1;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "transpose_b is -1", NULL);
    desc = valid_desc();
    desc.activation = AMPC_ACTIVATION_COUNT;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "activation is 4", "GELU_ERF");
}

static void test_dtypes_that_are_not_allowed(void **state)
{
    (void)state;
    ampc_gemm_desc desc = valid_desc();
    desc.a.dtype = AMPC_I32;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "a.dtype is I32",
                   "expected F64, F32, F16 or BF16");
    desc.a.dtype = (ampc_dtype)99;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "a.dtype is invalid (99)", NULL);
    desc = valid_desc();
    desc.b.dtype = AMPC_F16;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "b.dtype is F16", "the same as a.dtype");
    desc = valid_desc();
    desc.c.dtype = AMPC_I32;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "c.dtype is I32", "F32, F16 or BF16 for F32");
    desc.c.dtype = AMPC_F8_E4M3;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "c.dtype is F8_E4M3", NULL);
    desc = valid_desc();
    desc.a.dtype = desc.b.dtype = AMPC_F64;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "c.dtype is F32", "expected F64 for F64");
    desc = valid_desc();
    desc.bias = bias_data;
    desc.bias_dtype = AMPC_F16;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "bias_dtype is F16", "expected F32");
}

static void test_negative_sizes(void **state)
{
    (void)state;
    const char *names[] = {"m is -1", "n is -1", "k is -1", "batch is -1"};
    for (int field = 0; field < 4; field++) {
        ampc_gemm_desc desc = valid_desc();
        int64_t *sizes[] = {&desc.m, &desc.n, &desc.k, &desc.batch};
        *sizes[field] = -1;
        expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, names[field], "expected >= 0");
    }
}

static void test_leading_dims_too_small_name_field_given_and_expected(void **state)
{
    (void)state;
    ampc_gemm_desc desc = valid_desc();
    desc.a.leading_dim = 3;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "a.leading_dim is 3; expected >= 4",
                   "m x k = 2 x 4");
    desc = valid_desc();
    desc.transpose_a = AMPC_TRANSPOSE; /* A stored k x m = 4 x 2 */
    desc.a.leading_dim = 1;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "a.leading_dim is 1; expected >= 2",
                   "k x m = 4 x 2");
    desc = valid_desc();
    desc.transpose_b = AMPC_TRANSPOSE; /* B stored n x k = 3 x 4 */
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "b.leading_dim is 3; expected >= 4",
                   "n x k = 3 x 4");
    desc = valid_desc();
    desc.c.leading_dim = 2;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "c.leading_dim is 2; expected >= 3", NULL);
}

static void test_batch_strides(void **state)
{
    (void)state;
    ampc_gemm_desc desc = valid_desc();
    desc.batch = 2;
    desc.a.batch_stride = -8;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "a.batch_stride is -8; expected >= 0", NULL);
    desc = valid_desc();
    desc.batch = 2;
    desc.c.batch_stride = 5; /* C matrices of (2 - 1) * 3 + 3 = 6 elements would overlap */
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "c.batch_stride is 5; expected >= 6",
                   "do not overlap");
    desc.batch = 1; /* ignored for one matrix */
    assert_int_equal(ampc_gemm(&desc), AMPC_OK);
}

static void test_null_data_with_nonzero_sizes(void **state)
{
    (void)state;
    ampc_gemm_desc desc = valid_desc();
    desc.a.data = NULL;
    expect_failure(&desc, AMPC_ERR_NULL_ARGUMENT, "a.data", NULL);
    desc = valid_desc();
    desc.b.data = NULL;
    expect_failure(&desc, AMPC_ERR_NULL_ARGUMENT, "b.data", NULL);
    desc = valid_desc();
    desc.c.data = NULL;
    expect_failure(&desc, AMPC_ERR_NULL_ARGUMENT, "c.data", NULL);
    desc = valid_desc();
    desc.k = 0; /* nothing of A or B is read */
    desc.a.data = desc.b.data = NULL;
    assert_int_equal(ampc_gemm(&desc), AMPC_OK);
}

static void test_misaligned_and_oversized_operands(void **state)
{
    (void)state;
    ampc_gemm_desc desc = valid_desc();
    desc.a.data = (const char *)a_data + 1;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "a.data", "not aligned to its 4-byte");
    desc = valid_desc();
    desc.batch = 3;
    desc.a.batch_stride = INT64_MAX / 2;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "a spans more than 2^63 bytes", NULL);
    desc = valid_desc();
    desc.k = (int64_t)INT_MAX + 1; /* F32 goes through OpenBLAS's 32-bit sizes */
    desc.a.leading_dim = desc.k;
    expect_failure(&desc, AMPC_ERR_UNSUPPORTED, "k is 2147483648", "at most 2147483647");
}

static void test_packed_b_must_match(void **state)
{
    (void)state;
    ampc_gemm_packed *packed = ampc_gemm_pack_b(AMPC_F32, AMPC_TRANSPOSE_NONE, 4, 3, b_data, 3);
    assert_non_null(packed);
    ampc_gemm_desc desc = valid_desc();
    desc.packed_b = packed;
    desc.b = (ampc_gemm_operand){0}; /* ignored */
    assert_int_equal(ampc_gemm(&desc), AMPC_OK);
    desc.k = 5, desc.a.leading_dim = 5;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "packed_b is k x n = 4 x 3",
                   "expected 5 x 3");
    desc = valid_desc();
    desc.packed_b = packed;
    desc.a.dtype = AMPC_F16, desc.a.data = half_a, desc.c.dtype = AMPC_F32;
    expect_failure(&desc, AMPC_ERR_INVALID_ARGUMENT, "packed_b holds F32; expected F16", NULL);
    ampc_gemm_packed_free(packed);
}

/* A BF16 B packed for one kernel cannot feed a kernel with another layout. */
static void test_packed_b_for_another_kernel_layout_is_refused(void **state)
{
    (void)state;
    ampc_gemm_packed *packed = ampc_gemm_pack_b_with(AMPC_BF16, AMPC_TRANSPOSE_NONE, 4, 3,
                                                     half_b, 3, &ampc_gemm_scalar_bf16_pairs);
    assert_non_null(packed);
    ampc_gemm_desc desc = valid_desc();
    desc.a = (ampc_gemm_operand){AMPC_BF16, half_a, 4, 0};
    desc.packed_b = packed;
    float before[64];
    memcpy(before, c_data, sizeof before);
    ampc_gemm_options options = {1, &ampc_gemm_scalar_f32, false};
    assert_int_equal(ampc_gemm_with(&desc, &options), AMPC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ampc_error_message(), "packed for the scalar vdpbf16ps emulation"));
    assert_non_null(strstr(ampc_error_message(), "pack it again"));
    ampc_error_clear();
    options.kernel = &ampc_gemm_scalar_bf16_pairs;
    assert_int_equal(ampc_gemm_with(&desc, &options), AMPC_OK);
    ampc_gemm_packed_free(packed);
}

static void test_pack_b_rejects_bad_arguments(void **state)
{
    (void)state;
    assert_null(ampc_gemm_pack_b(AMPC_U8, AMPC_TRANSPOSE_NONE, 4, 3, b_data, 3));
    assert_non_null(strstr(ampc_error_message(), "dtype is U8"));
    ampc_error_clear();
    assert_null(ampc_gemm_pack_b(AMPC_F32, AMPC_TRANSPOSE_NONE, 4, 3, NULL, 3));
    assert_int_equal(ampc_error_status(), AMPC_ERR_NULL_ARGUMENT);
    ampc_error_clear();
    assert_null(ampc_gemm_pack_b(AMPC_F16, AMPC_TRANSPOSE, 4, 3, half_b, 3));
    assert_non_null(strstr(ampc_error_message(), "leading_dim is 3; expected >= 4"));
    ampc_error_clear();
    assert_null(ampc_gemm_pack_b(AMPC_BF16, (ampc_gemm_transpose)2, 4, 3, half_b, 3));
    assert_non_null(strstr(ampc_error_message(), "transpose_b is 2"));
    ampc_error_clear();
    assert_null(ampc_gemm_pack_b(AMPC_BF16, AMPC_TRANSPOSE_NONE, -4, 3, half_b, 3));
    assert_non_null(strstr(ampc_error_message(), "k x n is -4 x 3"));
    ampc_error_clear();
    ampc_gemm_packed_free(NULL); /* a no-op */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_descriptor_succeeds),
        cmocka_unit_test(test_null_descriptor),
        cmocka_unit_test(test_invalid_enums),
        cmocka_unit_test(test_dtypes_that_are_not_allowed),
        cmocka_unit_test(test_negative_sizes),
        cmocka_unit_test(test_leading_dims_too_small_name_field_given_and_expected),
        cmocka_unit_test(test_batch_strides),
        cmocka_unit_test(test_null_data_with_nonzero_sizes),
        cmocka_unit_test(test_misaligned_and_oversized_operands),
        cmocka_unit_test(test_packed_b_must_match),
        cmocka_unit_test(test_packed_b_for_another_kernel_layout_is_refused),
        cmocka_unit_test(test_pack_b_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
