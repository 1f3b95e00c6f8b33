/* Tests for src/tensor/tensor.c and tensor_print.c: creation, validation messages, NULL
 * propagation, properties, byte counts by category, element access and printing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include <ampc/ampc.h>

#include "tensor_testing.h"

static void test_zeros_is_contiguous_with_row_major_strides(void **state)
{
    (void)state;
    const int64_t shape[] = {2, 3, 4};
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F32, 3, shape);
    assert_non_null(tensor);
    assert_int_equal(ampc_tensor_dtype(tensor), AMPC_F32);
    assert_int_equal(ampc_tensor_ndim(tensor), 3);
    const int64_t expected_strides[] = {12, 4, 1};
    for (int dim = 0; dim < 3; dim++) {
        assert_int_equal(ampc_tensor_shape(tensor)[dim], shape[dim]);
        assert_int_equal(ampc_tensor_strides(tensor)[dim], expected_strides[dim]);
    }
    assert_int_equal(ampc_tensor_offset(tensor), 0);
    assert_int_equal(ampc_tensor_numel(tensor), 24);
    assert_int_equal(ampc_tensor_nbytes(tensor), 96);
    assert_true(ampc_tensor_is_contiguous(tensor));
    assert_int_equal((uintptr_t)ampc_tensor_data(tensor) % 64, 0);
    const float *data = ampc_tensor_data(tensor);
    for (int i = 0; i < 24; i++) assert_true(data[i] == 0.0f && !signbit(data[i]));
    ampc_tensor_free(tensor);
}

static void test_ones_and_full_convert_the_value_like_a_cast(void **state)
{
    (void)state;
    const int64_t shape[] = {5};
    ampc_tensor *ones = ampc_tensor_ones(AMPC_F16, 1, shape);
    ampc_tensor *truncated = ampc_tensor_full(AMPC_I32, 1, shape, 3.7);
    ampc_tensor *negative = ampc_tensor_full(AMPC_I32, 1, shape, -3.7);
    ampc_tensor *overflow = ampc_tensor_full(AMPC_F16, 1, shape, 1e6);
    ampc_tensor *third = ampc_tensor_full(AMPC_BF16, 1, shape, 1.0 / 3.0);
    ampc_tensor *saturated = ampc_tensor_full(AMPC_U8, 1, shape, 300);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(((uint16_t *)ampc_tensor_data(ones))[i], 0x3c00);
        assert_int_equal(((int32_t *)ampc_tensor_data(truncated))[i], 3);
        assert_int_equal(((int32_t *)ampc_tensor_data(negative))[i], -3);
        assert_int_equal(((uint16_t *)ampc_tensor_data(overflow))[i], 0x7c00); /* +inf */
        assert_int_equal(((uint16_t *)ampc_tensor_data(third))[i], ampc_f64_to_bf16(1.0 / 3.0));
        assert_int_equal(((uint8_t *)ampc_tensor_data(saturated))[i], 255);
    }
    ampc_tensor *tensors[] = {ones, truncated, negative, overflow, third, saturated};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_full_fills_an_odd_sized_buffer_completely(void **state)
{
    (void)state;
    const int64_t shape[] = {3, 7, 11};
    ampc_tensor *tensor = ampc_tensor_full(AMPC_F64, 3, shape, -2.25);
    const double *data = ampc_tensor_data(tensor);
    for (int i = 0; i < 3 * 7 * 11; i++) assert_true(data[i] == -2.25);
    ampc_tensor_free(tensor);
}

static void test_scalar_tensor_has_one_element_and_no_dims(void **state)
{
    (void)state;
    ampc_tensor *scalar = ampc_tensor_full(AMPC_F64, 0, NULL, 2.5);
    assert_non_null(scalar);
    assert_int_equal(ampc_tensor_ndim(scalar), 0);
    assert_int_equal(ampc_tensor_numel(scalar), 1);
    double value = 0;
    assert_int_equal(ampc_tensor_get(scalar, NULL, &value), AMPC_OK);
    assert_true(value == 2.5);
    ampc_tensor_free(scalar);
}

static void test_a_zero_size_makes_an_empty_tensor(void **state)
{
    (void)state;
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F32, 3, (int64_t[]){1000, 0, 5});
    assert_non_null(tensor);
    assert_int_equal(ampc_tensor_numel(tensor), 0);
    assert_int_equal(ampc_tensor_nbytes(tensor), 0);
    assert_int_equal(ampc_tensor_stride(tensor, 0), 5);
    ampc_tensor_free(tensor);
    /* Strides count a zero size as 1, so these sizes must fit even though nothing is stored. */
    const int64_t huge = (int64_t)1 << 40;
    assert_null(ampc_tensor_zeros(AMPC_F32, 3, (int64_t[]){huge, huge, 0}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "holds more bytes than a 64-bit count can say");
}

static void test_arange_follows_torch_length_and_values(void **state)
{
    (void)state;
    ampc_tensor *counting = ampc_tensor_arange(AMPC_F32, 0, 5, 1);
    assert_values(counting, (double[]){0, 1, 2, 3, 4}, 5);
    /* ceil((2 - 1) / 0.3) = 4 values, each start + i * step (not a running sum). */
    ampc_tensor *fractional = ampc_tensor_arange(AMPC_F64, 1, 2, 0.3);
    assert_values(fractional, (double[]){1, 1 + 1 * 0.3, 1 + 2 * 0.3, 1 + 3 * 0.3}, 4);
    ampc_tensor *downward = ampc_tensor_arange(AMPC_I64, 5, 0, -2);
    assert_values(downward, (double[]){5, 3, 1}, 3);
    ampc_tensor *empty = ampc_tensor_arange(AMPC_F32, 3, 3, 1);
    assert_int_equal(ampc_tensor_numel(empty), 0);
    ampc_tensor *truncated = ampc_tensor_arange(AMPC_I32, 0, 2, 0.5);
    assert_values(truncated, (double[]){0, 0, 1, 1}, 4);
    ampc_tensor *tensors[] = {counting, fractional, downward, empty, truncated};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
    expect_no_error();
}

static void test_arange_rejects_zero_step_wrong_sign_and_non_finite_bounds(void **state)
{
    (void)state;
    assert_null(ampc_tensor_arange(AMPC_F32, 0, 5, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_arange: step is 0; expected");
    assert_null(ampc_tensor_arange(AMPC_F32, 0, 5, -1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "step is -1 but end - start is 5");
    assert_null(ampc_tensor_arange(AMPC_F32, 0, INFINITY, 1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "expected finite numbers");
    assert_null(ampc_tensor_arange(AMPC_F32, 0, 1e300, 1e-300));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "expected at most 2^62");
}

static void test_wrap_borrows_the_buffer_and_counts_no_bytes(void **state)
{
    (void)state;
    float buffer[6] = {1, 2, 3, 4, 5, 6};
    size_t before = live_bytes(AMPC_MEMORY_OTHER);
    const int64_t shape[] = {2, 3};
    ampc_tensor *tensor = ampc_tensor_wrap(buffer, AMPC_F32, 2, shape);
    assert_non_null(tensor);
    assert_ptr_equal(ampc_tensor_data(tensor), buffer);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), before);
    assert_int_equal(ampc_tensor_set(tensor, (int64_t[]){1, 2}, 60), AMPC_OK);
    assert_true(buffer[5] == 60);
    ampc_tensor *view = ampc_tensor_transpose(tensor, 0, 1);
    ampc_tensor_free(tensor);
    ampc_tensor_free(view); /* the stack buffer must not be passed to free() */
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), before);
}

static void test_wrap_rejects_null_and_misaligned_data(void **state)
{
    (void)state;
    const int64_t shape[] = {2};
    assert_null(ampc_tensor_wrap(NULL, AMPC_F32, 1, shape));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_wrap: argument data is NULL");
    float buffer[4];
    assert_null(ampc_tensor_wrap((char *)buffer + 1, AMPC_F32, 1, shape));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "is not aligned for F32");
}

static void test_from_data_copies_the_buffer(void **state)
{
    (void)state;
    int32_t buffer[4] = {7, -8, 9, -10};
    size_t before = live_bytes(AMPC_MEMORY_OTHER);
    const int64_t shape[] = {4};
    ampc_tensor *tensor = ampc_tensor_from_data(buffer, AMPC_I32, 1, shape);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), before + sizeof buffer);
    buffer[0] = 0;
    assert_values(tensor, (double[]){7, -8, 9, -10}, 4);
    assert_ptr_not_equal(ampc_tensor_data(tensor), buffer);
    ampc_tensor_free(tensor);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), before);
    assert_null(ampc_tensor_from_data(NULL, AMPC_I32, 1, shape));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_from_data: argument data is NULL");
}

static void test_creation_names_the_bad_size_argument_and_expectation(void **state)
{
    (void)state;
    assert_null(ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, -3}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_tensor_zeros: shape[1] is -3; expected a size >= 0");
    assert_null(ampc_tensor_ones(AMPC_F32, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_ones: ndim is 9; expected 0 to 8");
    assert_null(ampc_tensor_empty(AMPC_F32, -1, (int64_t[]){1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_empty: ndim is -1; expected 0 to 8");
    assert_null(ampc_tensor_full(AMPC_F32, 2, NULL, 1));
    expect_error(AMPC_ERR_NULL_ARGUMENT,
                 "ampc_tensor_full: argument shape is NULL but ndim is 2; expected 2 sizes");
    assert_null(ampc_tensor_zeros((ampc_dtype)42, 1, (int64_t[]){1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_zeros: dtype is 42; expected a dtype");
}

static void test_creation_rejects_shapes_whose_byte_count_overflows(void **state)
{
    (void)state;
    const int64_t huge = (int64_t)1 << 40;
    assert_null(ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){huge, huge}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "shape [1099511627776, 1099511627776] of F32 holds more bytes than");
    /* 2^62 elements fit in int64, their 2^64 bytes do not. */
    assert_null(ampc_tensor_empty(AMPC_F32, 1, (int64_t[]){(int64_t)1 << 62}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "shape [4611686018427387904] of F32 holds more");
}

static void test_memory_exhaustion_is_reported_not_fatal(void **state)
{
    (void)state;
#ifdef __SANITIZE_ADDRESS__
    skip(); /* AddressSanitizer aborts on an impossible allocation instead of returning NULL */
#endif
    /* 2^50 bytes is a valid count that no machine this runs on can allocate. */
    assert_null(ampc_tensor_empty(AMPC_U8, 1, (int64_t[]){(int64_t)1 << 50}));
    expect_error(AMPC_ERR_OUT_OF_MEMORY, "ampc_tensor_empty: could not allocate");
}

static void test_an_error_and_its_nulls_propagate_through_a_chain(void **state)
{
    (void)state;
    /* The first failure is the message; every later call takes its NULL as propagation. */
    ampc_tensor *result = ampc_tensor_clone(ampc_tensor_transpose(
        ampc_tensor_reshape(ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){-1}), 1,
                            (int64_t[]){4}),
        0, 1));
    assert_null(result);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_zeros: shape[0] is -1");
    assert_null(ampc_tensor_reshape(NULL, 1, (int64_t[]){4}));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_reshape: argument tensor is NULL");
}

static void test_property_getters_answer_neutral_values_for_null(void **state)
{
    (void)state;
    assert_int_equal(ampc_tensor_dtype(NULL), AMPC_DTYPE_COUNT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_dtype: argument tensor is NULL");
    assert_int_equal(ampc_tensor_ndim(NULL), 0);
    assert_int_equal(ampc_tensor_numel(NULL), 0);
    assert_int_equal(ampc_tensor_nbytes(NULL), 0);
    assert_null(ampc_tensor_shape(NULL));
    assert_null(ampc_tensor_strides(NULL));
    assert_null(ampc_tensor_data(NULL));
    assert_false(ampc_tensor_is_contiguous(NULL));
    assert_int_equal(ampc_tensor_category(NULL), AMPC_MEMORY_CATEGORY_COUNT);
    assert_int_equal(ampc_tensor_set_category(NULL, AMPC_MEMORY_PARAMETERS),
                     AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_ndim: argument tensor is NULL");
    ampc_tensor_free(NULL);
}

static void test_dim_and_stride_count_negative_dims_from_the_end(void **state)
{
    (void)state;
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F32, 3, (int64_t[]){2, 3, 4});
    assert_int_equal(ampc_tensor_dim(tensor, -1), 4);
    assert_int_equal(ampc_tensor_dim(tensor, -3), 2);
    assert_int_equal(ampc_tensor_stride(tensor, -2), 4);
    assert_int_equal(ampc_tensor_dim(tensor, 3), 0);
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_tensor_dim: dim is 3; expected a dim from -3 to 2 (the tensor has 3 "
                 "dims)");
    assert_int_equal(ampc_tensor_stride(tensor, -4), 0);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_stride: dim is -4");
    ampc_tensor_free(tensor);
}

static void test_is_contiguous_ignores_size_one_dims(void **state)
{
    (void)state;
    ampc_tensor *column = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){3, 1});
    ampc_tensor *row = ampc_tensor_transpose(column, 0, 1); /* shape [1, 3], strides [1, 1] */
    assert_true(ampc_tensor_is_contiguous(row));
    ampc_tensor *matrix = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){3, 4});
    ampc_tensor *transposed = ampc_tensor_transpose(matrix, 0, 1);
    assert_false(ampc_tensor_is_contiguous(transposed));
    ampc_tensor *tensors[] = {column, row, matrix, transposed};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_create_and_free_change_live_and_peak_bytes_exactly(void **state)
{
    (void)state;
    ampc_memory_reset_peaks();
    ampc_memory_stats before, during, after;
    ampc_memory_get_stats(&before);
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_BF16, 2, (int64_t[]){3, 5});
    ampc_memory_get_stats(&during);
    assert_int_equal(during.live_bytes[AMPC_MEMORY_OTHER],
                     before.live_bytes[AMPC_MEMORY_OTHER] + 30);
    assert_int_equal(during.live_total, before.live_total + 30);
    assert_int_equal(during.peak_bytes[AMPC_MEMORY_OTHER],
                     before.live_bytes[AMPC_MEMORY_OTHER] + 30);
    ampc_tensor_free(tensor);
    ampc_memory_get_stats(&after);
    assert_int_equal(after.live_bytes[AMPC_MEMORY_OTHER], before.live_bytes[AMPC_MEMORY_OTHER]);
    assert_int_equal(after.peak_bytes[AMPC_MEMORY_OTHER], during.peak_bytes[AMPC_MEMORY_OTHER]);
    assert_int_equal(after.peak_total, before.live_total + 30);
}

static void test_views_add_no_bytes(void **state)
{
    (void)state;
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){4, 6});
    size_t before = live_bytes(AMPC_MEMORY_OTHER);
    ampc_tensor *views[] = {
        ampc_tensor_transpose(tensor, 0, 1),
        ampc_tensor_view(tensor, 1, (int64_t[]){24}),
        ampc_tensor_narrow(tensor, 1, 2, 3),
        ampc_tensor_slice(tensor, 0, 0, 4, 2),
        ampc_tensor_expand(tensor, 3, (int64_t[]){5, 4, 6}),
        ampc_tensor_contiguous(tensor),
    };
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), before);
    for (size_t i = 0; i < sizeof views / sizeof *views; i++) {
        assert_non_null(views[i]);
        ampc_tensor_free(views[i]);
    }
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), before);
    ampc_tensor_free(tensor);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), before - 96);
}

static void test_set_category_moves_shared_storage_once(void **state)
{
    (void)state;
    size_t other = live_bytes(AMPC_MEMORY_OTHER);
    size_t parameters = live_bytes(AMPC_MEMORY_PARAMETERS);
    ampc_tensor *weight = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){8, 8});
    ampc_tensor *view = ampc_tensor_transpose(weight, 0, 1);
    assert_int_equal(ampc_tensor_category(weight), AMPC_MEMORY_OTHER);
    assert_int_equal(ampc_tensor_set_category(view, AMPC_MEMORY_PARAMETERS), AMPC_OK);
    assert_int_equal(ampc_tensor_set_category(weight, AMPC_MEMORY_PARAMETERS), AMPC_OK);
    assert_int_equal(ampc_tensor_category(weight), AMPC_MEMORY_PARAMETERS);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), other);
    assert_int_equal(live_bytes(AMPC_MEMORY_PARAMETERS), parameters + 256);
    ampc_tensor_free(weight);
    assert_int_equal(live_bytes(AMPC_MEMORY_PARAMETERS), parameters + 256);
    ampc_tensor_free(view);
    assert_int_equal(live_bytes(AMPC_MEMORY_PARAMETERS), parameters);
}

static void test_set_category_rejects_an_invalid_category(void **state)
{
    (void)state;
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){2});
    assert_int_equal(ampc_tensor_set_category(tensor, AMPC_MEMORY_CATEGORY_COUNT),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_set_category: category is 5");
    ampc_tensor_free(tensor);
}

static void test_set_rounds_like_a_cast_and_get_reads_it_back(void **state)
{
    (void)state;
    ampc_tensor *half = ampc_tensor_zeros(AMPC_F16, 2, (int64_t[]){2, 2});
    ampc_tensor *integer = ampc_tensor_zeros(AMPC_I32, 1, (int64_t[]){3});
    assert_int_equal(ampc_tensor_set(half, (int64_t[]){1, 0}, 0.1), AMPC_OK);
    double value = 0;
    assert_int_equal(ampc_tensor_get(half, (int64_t[]){1, 0}, &value), AMPC_OK);
    assert_true(value == ampc_f16_to_f32(ampc_f64_to_f16(0.1)));
    assert_int_equal(((uint16_t *)ampc_tensor_data(half))[2], ampc_f64_to_f16(0.1));
    assert_int_equal(ampc_tensor_set(integer, (int64_t[]){2}, -2.9), AMPC_OK);
    assert_int_equal(ampc_tensor_get(integer, (int64_t[]){2}, &value), AMPC_OK);
    assert_true(value == -2);
    ampc_tensor_free(half);
    ampc_tensor_free(integer);
}

static void test_get_and_set_check_every_index(void **state)
{
    (void)state;
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, 3});
    double value;
    assert_int_equal(ampc_tensor_get(tensor, (int64_t[]){1, 3}, &value),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_tensor_get: index[1] is 3; expected 0 to 2 (dim 1 has size 3)");
    assert_int_equal(ampc_tensor_set(tensor, (int64_t[]){-1, 0}, 1), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_set: index[0] is -1; expected 0 to 1");
    assert_int_equal(ampc_tensor_get(tensor, NULL, &value), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "argument index is NULL; expected 2 indices");
    assert_int_equal(ampc_tensor_get(tensor, (int64_t[]){0, 0}, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_get: argument value is NULL");
    ampc_tensor_free(tensor);
}

static void assert_prints(const ampc_tensor *tensor, const char *expected)
{
    char *text = print_to_string(tensor);
    assert_string_equal(text, expected);
    free(text);
}

static void test_print_shows_dtype_shape_and_nested_rows(void **state)
{
    (void)state;
    ampc_tensor *matrix = arange_shaped(AMPC_F32, 2, (int64_t[]){2, 3});
    assert_prints(matrix, "tensor(F32, shape [2, 3])\n"
                          "[[0, 1, 2],\n"
                          " [3, 4, 5]]\n");
    ampc_tensor *cube = arange_shaped(AMPC_I32, 3, (int64_t[]){2, 2, 2});
    assert_prints(cube, "tensor(I32, shape [2, 2, 2])\n"
                        "[[[0, 1],\n"
                        "  [2, 3]],\n"
                        "\n"
                        " [[4, 5],\n"
                        "  [6, 7]]]\n");
    ampc_tensor *transposed = ampc_tensor_transpose(matrix, 0, 1);
    assert_prints(transposed, "tensor(F32, shape [3, 2])\n"
                              "[[0, 3],\n"
                              " [1, 4],\n"
                              " [2, 5]]\n");
    ampc_tensor *tensors[] = {matrix, cube, transposed};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_print_right_aligns_values_to_the_widest(void **state)
{
    (void)state;
    ampc_tensor *values = ampc_tensor_from_data((double[]){-1.5, 2, 10, 1e-7}, AMPC_F64, 1,
                                                (int64_t[]){4});
    assert_prints(values, "tensor(F64, shape [4])\n[ -1.5,     2,    10, 1e-07]\n");
    ampc_tensor *flags = ampc_tensor_from_data((uint8_t[]){1, 0}, AMPC_BOOL, 1, (int64_t[]){2});
    assert_prints(flags, "tensor(BOOL, shape [2])\n[ true, false]\n");
    ampc_tensor *scalar = ampc_tensor_full(AMPC_F16, 0, NULL, 0.5);
    assert_prints(scalar, "tensor(F16, shape [])\n0.5\n");
    ampc_tensor *empty = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, 0});
    assert_prints(empty, "tensor(F32, shape [2, 0])\n[]\n");
    ampc_tensor *tensors[] = {values, flags, scalar, empty};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_print_summarises_beyond_1000_elements(void **state)
{
    (void)state;
    ampc_tensor *line = ampc_tensor_arange(AMPC_I64, 0, 2000, 1);
    assert_prints(line, "tensor(I64, shape [2000])\n"
                        "[   0,    1,    2, ..., 1997, 1998, 1999]\n");
    ampc_tensor *matrix = arange_shaped(AMPC_I32, 2, (int64_t[]){100, 20});
    assert_prints(matrix, "tensor(I32, shape [100, 20])\n"
                          "[[   0,    1,    2, ...,   17,   18,   19],\n"
                          " [  20,   21,   22, ...,   37,   38,   39],\n"
                          " [  40,   41,   42, ...,   57,   58,   59],\n"
                          " ...,\n"
                          " [1940, 1941, 1942, ..., 1957, 1958, 1959],\n"
                          " [1960, 1961, 1962, ..., 1977, 1978, 1979],\n"
                          " [1980, 1981, 1982, ..., 1997, 1998, 1999]]\n");
    ampc_tensor_free(line);
    ampc_tensor_free(matrix);
}

static void test_print_rejects_null_arguments(void **state)
{
    (void)state;
    assert_int_equal(ampc_tensor_print(NULL, stdout), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_print: argument tensor is NULL");
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F32, 0, NULL);
    assert_int_equal(ampc_tensor_print(tensor, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_print: argument out is NULL");
    ampc_tensor_free(tensor);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeros_is_contiguous_with_row_major_strides),
        cmocka_unit_test(test_ones_and_full_convert_the_value_like_a_cast),
        cmocka_unit_test(test_full_fills_an_odd_sized_buffer_completely),
        cmocka_unit_test(test_scalar_tensor_has_one_element_and_no_dims),
        cmocka_unit_test(test_a_zero_size_makes_an_empty_tensor),
        cmocka_unit_test(test_arange_follows_torch_length_and_values),
        cmocka_unit_test(test_arange_rejects_zero_step_wrong_sign_and_non_finite_bounds),
        cmocka_unit_test(test_wrap_borrows_the_buffer_and_counts_no_bytes),
        cmocka_unit_test(test_wrap_rejects_null_and_misaligned_data),
        cmocka_unit_test(test_from_data_copies_the_buffer),
        cmocka_unit_test(test_creation_names_the_bad_size_argument_and_expectation),
        cmocka_unit_test(test_creation_rejects_shapes_whose_byte_count_overflows),
        cmocka_unit_test(test_memory_exhaustion_is_reported_not_fatal),
        cmocka_unit_test(test_an_error_and_its_nulls_propagate_through_a_chain),
        cmocka_unit_test(test_property_getters_answer_neutral_values_for_null),
        cmocka_unit_test(test_dim_and_stride_count_negative_dims_from_the_end),
        cmocka_unit_test(test_is_contiguous_ignores_size_one_dims),
        cmocka_unit_test(test_create_and_free_change_live_and_peak_bytes_exactly),
        cmocka_unit_test(test_views_add_no_bytes),
        cmocka_unit_test(test_set_category_moves_shared_storage_once),
        cmocka_unit_test(test_set_category_rejects_an_invalid_category),
        cmocka_unit_test(test_set_rounds_like_a_cast_and_get_reads_it_back),
        cmocka_unit_test(test_get_and_set_check_every_index),
        cmocka_unit_test(test_print_shows_dtype_shape_and_nested_rows),
        cmocka_unit_test(test_print_right_aligns_values_to_the_widest),
        cmocka_unit_test(test_print_summarises_beyond_1000_elements),
        cmocka_unit_test(test_print_rejects_null_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
