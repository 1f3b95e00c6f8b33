/* Tests for src/tensor/tensor_copy.c: copies with broadcasting and dtype conversion, checked
 * element by element against the scalar conversions (ampc_f32_to_f16, ...), casts, clones,
 * contiguous copies, and the large strided path that runs on several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include <ampc/ampc.h>

#include "tensor_testing.h"

/* Values that exercise rounding, subnormals, overflow and signs in every narrow format. */
static const float awkward_values[] = {0.1f, -2.5f, 65520.0f, 1e-8f, -0.0f, 3.14159f,
                                       1e30f, -448.5f, 6e-5f, 1.0f / 3.0f, 57344.0f, 0.0f};
#define AWKWARD_COUNT (sizeof awkward_values / sizeof *awkward_values)

static ampc_tensor *awkward_tensor(void)
{
    return ampc_tensor_from_data(awkward_values, AMPC_F32, 1, (int64_t[]){AWKWARD_COUNT});
}

static void test_copy_between_contiguous_tensors_converts_like_the_scalar_functions(void **state)
{
    (void)state;
    ampc_tensor *source = awkward_tensor();
    ampc_tensor *half = ampc_tensor_empty(AMPC_F16, 1, (int64_t[]){AWKWARD_COUNT});
    ampc_tensor *brain = ampc_tensor_empty(AMPC_BF16, 1, (int64_t[]){AWKWARD_COUNT});
    ampc_tensor *e5m2 = ampc_tensor_empty(AMPC_F8_E5M2, 1, (int64_t[]){AWKWARD_COUNT});
    assert_int_equal(ampc_tensor_copy(half, source), AMPC_OK);
    assert_int_equal(ampc_tensor_copy(brain, source), AMPC_OK);
    assert_int_equal(ampc_tensor_copy(e5m2, source), AMPC_OK);
    for (size_t i = 0; i < AWKWARD_COUNT; i++) {
        assert_int_equal(((uint16_t *)ampc_tensor_data(half))[i],
                         ampc_f32_to_f16(awkward_values[i]));
        assert_int_equal(((uint16_t *)ampc_tensor_data(brain))[i],
                         ampc_f32_to_bf16(awkward_values[i]));
        assert_int_equal(((uint8_t *)ampc_tensor_data(e5m2))[i],
                         ampc_f32_to_f8_e5m2(awkward_values[i], AMPC_OVERFLOW_DEFAULT));
    }
    ampc_tensor *tensors[] = {source, half, brain, e5m2};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_copy_broadcasts_src_to_the_dst_shape(void **state)
{
    (void)state;
    ampc_tensor *row = ampc_tensor_from_data((float[]){0.1f, 0.2f, 0.3f}, AMPC_F32, 1,
                                             (int64_t[]){3});
    ampc_tensor *column = ampc_tensor_from_data((float[]){10.1f, 20.2f}, AMPC_F32, 2,
                                                (int64_t[]){2, 1});
    ampc_tensor *scalar = ampc_tensor_full(AMPC_F32, 0, NULL, 7.7);
    ampc_tensor *dst = ampc_tensor_empty(AMPC_F16, 2, (int64_t[]){2, 3});
    const uint16_t *bits = ampc_tensor_data(dst);
    assert_int_equal(ampc_tensor_copy(dst, row), AMPC_OK);
    for (int i = 0; i < 6; i++)
        assert_int_equal(bits[i], ampc_f32_to_f16(((float[]){0.1f, 0.2f, 0.3f})[i % 3]));
    assert_int_equal(ampc_tensor_copy(dst, column), AMPC_OK);
    for (int i = 0; i < 6; i++)
        assert_int_equal(bits[i], ampc_f32_to_f16(((float[]){10.1f, 20.2f})[i / 3]));
    assert_int_equal(ampc_tensor_copy(dst, scalar), AMPC_OK);
    for (int i = 0; i < 6; i++) assert_int_equal(bits[i], ampc_f32_to_f16(7.7f));
    ampc_tensor *tensors[] = {row, column, scalar, dst};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_copy_names_both_shapes_when_they_do_not_broadcast(void **state)
{
    (void)state;
    ampc_tensor *src = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){3});
    ampc_tensor *dst = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, 4});
    assert_int_equal(ampc_tensor_copy(dst, src), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_tensor_copy: src of shape [3] does not broadcast to dst of shape [2, 4] "
                 "(src dim 0 has size 3)");
    ampc_tensor *tall = ampc_tensor_zeros(AMPC_F32, 3, (int64_t[]){2, 2, 4});
    assert_int_equal(ampc_tensor_copy(dst, tall), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "src of shape [2, 2, 4] does not broadcast");
    ampc_tensor *leading_one = ampc_tensor_ones(AMPC_F32, 3, (int64_t[]){1, 2, 4});
    assert_int_equal(ampc_tensor_copy(dst, leading_one), AMPC_OK);
    ampc_tensor *tensors[] = {src, dst, tall, leading_one};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_copy_rejects_a_dst_with_broadcast_dims(void **state)
{
    (void)state;
    ampc_tensor *column = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){3, 1});
    ampc_tensor *expanded = ampc_tensor_expand(column, 2, (int64_t[]){3, 4});
    ampc_tensor *src = ampc_tensor_ones(AMPC_F32, 2, (int64_t[]){3, 4});
    assert_int_equal(ampc_tensor_copy(expanded, src), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "dst (shape [3, 4]) has stride 0 in dim 1 of size 4");
    ampc_tensor *tensors[] = {column, expanded, src};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_copy_into_a_transposed_dst_writes_through_its_strides(void **state)
{
    (void)state;
    ampc_tensor *storage = ampc_tensor_zeros(AMPC_BF16, 2, (int64_t[]){3, 2});
    ampc_tensor *dst = ampc_tensor_transpose(storage, 0, 1); /* [2, 3] over a [3, 2] buffer */
    ampc_tensor *src = ampc_tensor_from_data((float[]){0.05f, 0.15f, 0.25f, 0.35f, 0.45f, 0.55f},
                                             AMPC_F32, 1, (int64_t[]){6});
    ampc_tensor *src_matrix = ampc_tensor_view(src, 2, (int64_t[]){2, 3});
    assert_int_equal(ampc_tensor_copy(dst, src_matrix), AMPC_OK);
    const uint16_t *bits = ampc_tensor_data(storage);
    const float *values = ampc_tensor_data(src);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            assert_int_equal(bits[j * 2 + i], ampc_f32_to_bf16(values[i * 3 + j]));
    ampc_tensor *tensors[] = {storage, dst, src, src_matrix};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_cast_with_saturate_clamps_where_default_overflows(void **state)
{
    (void)state;
    ampc_tensor *source = awkward_tensor();
    ampc_tensor *nan_on_overflow = ampc_tensor_cast(source, AMPC_F8_E4M3);
    ampc_tensor *saturated = ampc_tensor_cast_with(source, AMPC_F8_E4M3, AMPC_OVERFLOW_SATURATE);
    for (size_t i = 0; i < AWKWARD_COUNT; i++) {
        assert_int_equal(((uint8_t *)ampc_tensor_data(nan_on_overflow))[i],
                         ampc_f32_to_f8_e4m3(awkward_values[i], AMPC_OVERFLOW_DEFAULT));
        assert_int_equal(((uint8_t *)ampc_tensor_data(saturated))[i],
                         ampc_f32_to_f8_e4m3(awkward_values[i], AMPC_OVERFLOW_SATURATE));
    }
    assert_true(ampc_f8_e4m3_to_f32(((uint8_t *)ampc_tensor_data(saturated))[2]) == 448.0f);
    assert_true(isnan(ampc_f8_e4m3_to_f32(((uint8_t *)ampc_tensor_data(nan_on_overflow))[2])));
    assert_null(ampc_tensor_cast_with(source, AMPC_F16, (ampc_overflow)7));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_cast_with: overflow is 7");
    ampc_tensor *tensors[] = {source, nan_on_overflow, saturated};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_cast_to_integers_truncates_toward_zero(void **state)
{
    (void)state;
    ampc_tensor *source = ampc_tensor_from_data((double[]){2.9, -2.9, 1e20, NAN}, AMPC_F64, 1,
                                                (int64_t[]){4});
    ampc_tensor *integers = ampc_tensor_cast(source, AMPC_I32);
    assert_values(integers, (double[]){2, -2, INT32_MAX, 0}, 4);
    ampc_tensor *back = ampc_tensor_cast(integers, AMPC_F32);
    assert_int_equal(ampc_tensor_dtype(back), AMPC_F32);
    assert_values(back, (double[]){2, -2, (float)INT32_MAX, 0}, 4);
    ampc_tensor *tensors[] = {source, integers, back};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_contiguous_of_a_permuted_tensor_copies_in_row_major_order(void **state)
{
    (void)state;
    ampc_tensor *base = arange_shaped(AMPC_F32, 3, (int64_t[]){2, 3, 4});
    ampc_tensor *permuted = ampc_tensor_permute(base, (int[]){2, 0, 1});
    ampc_tensor *packed = ampc_tensor_contiguous(permuted);
    assert_true(ampc_tensor_is_contiguous(packed));
    assert_ptr_not_equal(ampc_tensor_data(packed), ampc_tensor_data(base));
    const float *data = ampc_tensor_data(packed);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++)
                assert_true(data[k * 6 + i * 3 + j] == 12 * i + 4 * j + k);
    ampc_tensor *same = ampc_tensor_contiguous(base);
    assert_ptr_equal(ampc_tensor_data(same), ampc_tensor_data(base));
    ampc_tensor *tensors[] = {base, permuted, packed, same};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_clone_owns_separate_storage(void **state)
{
    (void)state;
    ampc_tensor *original = arange_shaped(AMPC_I64, 2, (int64_t[]){2, 2});
    ampc_tensor *clone = ampc_tensor_clone(original);
    assert_int_equal(ampc_tensor_dtype(clone), AMPC_I64);
    assert_int_equal(ampc_tensor_set(clone, (int64_t[]){0, 0}, 99), AMPC_OK);
    assert_values(original, (double[]){0, 1, 2, 3}, 4);
    assert_values(clone, (double[]){99, 1, 2, 3}, 4);
    ampc_tensor_free(original);
    ampc_tensor_free(clone);
}

/* A deterministic spread of values with fractional parts that round in BF16. */
static float pattern(int64_t i) { return (float)((i * 7919) % 10007) * 0.0137f - 60.0f; }

static void test_large_strided_copy_matches_the_scalar_reference(void **state)
{
    (void)state;
    enum { ROWS = 300, COLUMNS = 257 }; /* 77100 elements: above the threaded-copy threshold */
    ampc_tensor *source = ampc_tensor_empty(AMPC_F32, 2, (int64_t[]){ROWS, COLUMNS});
    float *values = ampc_tensor_data(source);
    for (int64_t i = 0; i < ROWS * COLUMNS; i++) values[i] = pattern(i);
    ampc_tensor *transposed = ampc_tensor_transpose(source, 0, 1);
    ampc_tensor *packed = ampc_tensor_cast(transposed, AMPC_BF16);
    const uint16_t *bits = ampc_tensor_data(packed);
    for (int64_t column = 0; column < COLUMNS; column++)
        for (int64_t row = 0; row < ROWS; row++)
            assert_int_equal(bits[column * ROWS + row],
                             ampc_f32_to_bf16(values[row * COLUMNS + column]));
    /* And back the other way: a strided dst fed by a contiguous src. */
    ampc_tensor *restored = ampc_tensor_empty(AMPC_F32, 2, (int64_t[]){ROWS, COLUMNS});
    ampc_tensor *restored_transposed = ampc_tensor_transpose(restored, 0, 1);
    assert_int_equal(ampc_tensor_copy(restored_transposed, packed), AMPC_OK);
    const float *restored_values = ampc_tensor_data(restored);
    for (int64_t i = 0; i < ROWS * COLUMNS; i++)
        assert_true(restored_values[i] == ampc_bf16_to_f32(ampc_f32_to_bf16(values[i])));
    ampc_tensor *tensors[] = {source, transposed, packed, restored, restored_transposed};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_large_broadcast_copy_repeats_the_row(void **state)
{
    (void)state;
    enum { ROWS = 512, COLUMNS = 300 };
    ampc_tensor *row = ampc_tensor_empty(AMPC_F32, 1, (int64_t[]){COLUMNS});
    float *values = ampc_tensor_data(row);
    for (int i = 0; i < COLUMNS; i++) values[i] = pattern(i);
    ampc_tensor *dst = ampc_tensor_empty(AMPC_F16, 2, (int64_t[]){ROWS, COLUMNS});
    assert_int_equal(ampc_tensor_copy(dst, row), AMPC_OK);
    const uint16_t *bits = ampc_tensor_data(dst);
    for (int64_t i = 0; i < ROWS * COLUMNS; i++)
        assert_int_equal(bits[i], ampc_f32_to_f16(values[i % COLUMNS]));
    ampc_tensor_free(row);
    ampc_tensor_free(dst);
}

static void test_copy_between_overlapping_views_reads_src_before_writing(void **state)
{
    (void)state;
    ampc_tensor *line = ampc_tensor_arange(AMPC_F32, 0, 5, 1);
    ampc_tensor *head = ampc_tensor_narrow(line, 0, 0, 4);
    ampc_tensor *tail = ampc_tensor_narrow(line, 0, 1, 4);
    assert_int_equal(ampc_tensor_copy(tail, head), AMPC_OK);
    assert_values(line, (double[]){0, 0, 1, 2, 3}, 5);
    ampc_tensor *square = arange_shaped(AMPC_F64, 2, (int64_t[]){3, 3});
    ampc_tensor *square_transposed = ampc_tensor_transpose(square, 0, 1);
    assert_int_equal(ampc_tensor_copy(square, square_transposed), AMPC_OK);
    assert_values(square, (double[]){0, 3, 6, 1, 4, 7, 2, 5, 8}, 9);
    ampc_tensor *tensors[] = {line, head, tail, square, square_transposed};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_copy_of_empty_tensors_does_nothing(void **state)
{
    (void)state;
    ampc_tensor *empty = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){0, 3});
    ampc_tensor *also_empty = ampc_tensor_zeros(AMPC_F16, 2, (int64_t[]){0, 3});
    assert_int_equal(ampc_tensor_copy(also_empty, empty), AMPC_OK);
    ampc_tensor *cast = ampc_tensor_cast(empty, AMPC_BF16);
    assert_int_equal(ampc_tensor_numel(cast), 0);
    ampc_tensor *tensors[] = {empty, also_empty, cast};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_copy_functions_propagate_null(void **state)
{
    (void)state;
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){2});
    assert_int_equal(ampc_tensor_copy(NULL, tensor), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_copy: argument dst is NULL");
    assert_int_equal(ampc_tensor_copy(tensor, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_copy: argument src is NULL");
    assert_null(ampc_tensor_cast(NULL, AMPC_F16));
    assert_null(ampc_tensor_clone(NULL));
    assert_null(ampc_tensor_contiguous(NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_cast: argument tensor is NULL");
    assert_null(ampc_tensor_cast(tensor, (ampc_dtype)-1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_cast: dtype is -1");
    ampc_tensor_free(tensor);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_copy_between_contiguous_tensors_converts_like_the_scalar_functions),
        cmocka_unit_test(test_copy_broadcasts_src_to_the_dst_shape),
        cmocka_unit_test(test_copy_names_both_shapes_when_they_do_not_broadcast),
        cmocka_unit_test(test_copy_rejects_a_dst_with_broadcast_dims),
        cmocka_unit_test(test_copy_into_a_transposed_dst_writes_through_its_strides),
        cmocka_unit_test(test_cast_with_saturate_clamps_where_default_overflows),
        cmocka_unit_test(test_cast_to_integers_truncates_toward_zero),
        cmocka_unit_test(test_contiguous_of_a_permuted_tensor_copies_in_row_major_order),
        cmocka_unit_test(test_clone_owns_separate_storage),
        cmocka_unit_test(test_large_strided_copy_matches_the_scalar_reference),
        cmocka_unit_test(test_large_broadcast_copy_repeats_the_row),
        cmocka_unit_test(test_copy_between_overlapping_views_reads_src_before_writing),
        cmocka_unit_test(test_copy_of_empty_tensors_does_nothing),
        cmocka_unit_test(test_copy_functions_propagate_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
