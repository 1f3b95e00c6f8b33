/* Tests for src/tensor/tensor_view.c: every view checked element by element against index
 * arithmetic on a known arange, and every refusal by its message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ampc/ampc.h>

#include "tensor_testing.h"

/* base[i][j][k] = 12 i + 4 j + k, shape [2, 3, 4]. */
static ampc_tensor *make_base(void) { return arange_shaped(AMPC_F32, 3, (int64_t[]){2, 3, 4}); }

static double at3(const ampc_tensor *tensor, int64_t i, int64_t j, int64_t k)
{
    double value;
    assert_int_equal(ampc_tensor_get(tensor, (int64_t[]){i, j, k}, &value), AMPC_OK);
    return value;
}

static void assert_layout(const ampc_tensor *tensor, int ndim, const int64_t *shape,
                          const int64_t *strides, int64_t offset)
{
    assert_non_null(tensor);
    assert_int_equal(ampc_tensor_ndim(tensor), ndim);
    for (int dim = 0; dim < ndim; dim++) {
        assert_int_equal(ampc_tensor_dim(tensor, dim), shape[dim]);
        assert_int_equal(ampc_tensor_stride(tensor, dim), strides[dim]);
    }
    assert_int_equal(ampc_tensor_offset(tensor), offset);
}

static void test_view_infers_the_one_minus_one_size(void **state)
{
    (void)state;
    ampc_tensor *base = make_base();
    ampc_tensor *view = ampc_tensor_view(base, 2, (int64_t[]){-1, 4});
    assert_layout(view, 2, (int64_t[]){6, 4}, (int64_t[]){4, 1}, 0);
    double expected[24];
    for (int i = 0; i < 24; i++) expected[i] = i;
    assert_values(view, expected, 24);
    ampc_tensor_free(view);
    ampc_tensor_free(base);
}

static void test_view_rejects_a_shape_that_cannot_hold_the_elements(void **state)
{
    (void)state;
    ampc_tensor *base = make_base();
    assert_null(ampc_tensor_view(base, 2, (int64_t[]){-1, -1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_tensor_view: shape[0] and shape[1] are both -1; expected at most one");
    assert_null(ampc_tensor_view(base, 2, (int64_t[]){-1, 5}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "shape [-1, 5] cannot hold the 24 elements of a tensor of shape [2, 3, 4]");
    assert_null(ampc_tensor_reshape(base, 2, (int64_t[]){5, 5}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_reshape: shape [5, 5] cannot hold");
    assert_null(ampc_tensor_view(base, 2, (int64_t[]){0, -1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "shape [0, -1] cannot hold the 24 elements");
    assert_null(ampc_tensor_view(base, 2, (int64_t[]){-2, 12}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "shape[0] is -2; expected a size >= 0, or -1");
    assert_null(ampc_tensor_view(base, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 24}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_view: ndim is 9; expected 0 to 8");
    ampc_tensor_free(base);
    ampc_tensor *empty = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){0, 3});
    assert_null(ampc_tensor_view(empty, 2, (int64_t[]){0, -1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "the -1 could be any size");
    ampc_tensor_free(empty);
}

static void test_view_of_a_transposed_tensor_fails_but_reshape_copies(void **state)
{
    (void)state;
    ampc_tensor *matrix = arange_shaped(AMPC_F32, 2, (int64_t[]){4, 6});
    ampc_tensor *transposed = ampc_tensor_transpose(matrix, 0, 1); /* [6, 4], strides [1, 6] */
    assert_null(ampc_tensor_view(transposed, 1, (int64_t[]){24}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_tensor_view: a tensor of shape [6, 4] with strides [1, 6] has no view "
                 "of shape [24]");
    ampc_tensor *flat = ampc_tensor_reshape(transposed, 1, (int64_t[]){-1});
    assert_layout(flat, 1, (int64_t[]){24}, (int64_t[]){1}, 0);
    assert_ptr_not_equal(ampc_tensor_data(flat), ampc_tensor_data(matrix));
    double expected[24];
    for (int row = 0; row < 6; row++)
        for (int column = 0; column < 4; column++) expected[row * 4 + column] = column * 6 + row;
    assert_values(flat, expected, 24);
    ampc_tensor_free(flat);
    ampc_tensor_free(transposed);
    ampc_tensor_free(matrix);
}

static void test_view_merges_dims_that_stay_evenly_spaced(void **state)
{
    (void)state;
    ampc_tensor *base = make_base();
    /* base[:, :, :2] has strides [12, 4, 1]: dims 0 and 1 merge, dims 1 and 2 do not. */
    ampc_tensor *narrowed = ampc_tensor_narrow(base, 2, 0, 2);
    ampc_tensor *merged = ampc_tensor_view(narrowed, 2, (int64_t[]){6, 2});
    assert_layout(merged, 2, (int64_t[]){6, 2}, (int64_t[]){4, 1}, 0);
    double expected[12];
    for (int row = 0; row < 6; row++)
        for (int k = 0; k < 2; k++) expected[row * 2 + k] = row * 4 + k;
    assert_values(merged, expected, 12);
    assert_null(ampc_tensor_view(narrowed, 2, (int64_t[]){2, 6}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "has no view of shape [2, 6]");
    /* reshape takes the view when one exists: same storage, no copy. */
    ampc_tensor *reshaped = ampc_tensor_reshape(narrowed, 2, (int64_t[]){6, 2});
    assert_ptr_equal(ampc_tensor_data(reshaped), ampc_tensor_data(base));
    ampc_tensor *tensors[] = {merged, reshaped, narrowed, base};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_view_splits_a_dim_of_a_strided_tensor(void **state)
{
    (void)state;
    ampc_tensor *matrix = arange_shaped(AMPC_F32, 2, (int64_t[]){4, 6});
    ampc_tensor *transposed = ampc_tensor_transpose(matrix, 0, 1);
    ampc_tensor *split = ampc_tensor_view(transposed, 3, (int64_t[]){2, 3, 4});
    assert_layout(split, 3, (int64_t[]){2, 3, 4}, (int64_t[]){3, 1, 6}, 0);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 4; c++) assert_true(at3(split, a, b, c) == c * 6 + a * 3 + b);
    ampc_tensor *tensors[] = {split, transposed, matrix};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_view_adds_and_removes_size_one_dims_of_a_scalar(void **state)
{
    (void)state;
    ampc_tensor *scalar = ampc_tensor_full(AMPC_F32, 0, NULL, 7);
    ampc_tensor *lifted = ampc_tensor_view(scalar, 2, (int64_t[]){1, 1});
    assert_layout(lifted, 2, (int64_t[]){1, 1}, (int64_t[]){1, 1}, 0);
    ampc_tensor *lowered = ampc_tensor_view(lifted, 0, NULL);
    assert_non_null(lowered);
    assert_int_equal(ampc_tensor_ndim(lowered), 0);
    assert_values(lowered, (double[]){7}, 1);
    ampc_tensor *tensors[] = {lowered, lifted, scalar};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_permute_reorders_shape_and_strides(void **state)
{
    (void)state;
    ampc_tensor *base = make_base();
    ampc_tensor *permuted = ampc_tensor_permute(base, (int[]){2, 0, 1});
    assert_layout(permuted, 3, (int64_t[]){4, 2, 3}, (int64_t[]){1, 12, 4}, 0);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 3; j++) assert_true(at3(permuted, k, i, j) == 12 * i + 4 * j + k);
    ampc_tensor *negative = ampc_tensor_permute(base, (int[]){-1, 0, -2});
    assert_layout(negative, 3, (int64_t[]){4, 2, 3}, (int64_t[]){1, 12, 4}, 0);
    ampc_tensor *tensors[] = {permuted, negative, base};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_permute_rejects_anything_but_a_permutation(void **state)
{
    (void)state;
    ampc_tensor *base = make_base();
    assert_null(ampc_tensor_permute(base, (int[]){0, 0, 1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_tensor_permute: dims[1] is 0, the same dim as dims[0]; expected a "
                 "permutation of 0..2");
    assert_null(ampc_tensor_permute(base, (int[]){0, -3, 1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "dims[1] is -3, the same dim as dims[0]");
    assert_null(ampc_tensor_permute(base, (int[]){0, 1, 3}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "dims[2] is 3; expected a dim from -3 to 2");
    assert_null(ampc_tensor_permute(base, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "argument dims is NULL; expected 3 dims");
    ampc_tensor_free(base);
}

static void test_transpose_swaps_two_dims(void **state)
{
    (void)state;
    ampc_tensor *base = make_base();
    ampc_tensor *swapped = ampc_tensor_transpose(base, 0, -1);
    assert_layout(swapped, 3, (int64_t[]){4, 3, 2}, (int64_t[]){1, 4, 12}, 0);
    for (int k = 0; k < 4; k++)
        for (int j = 0; j < 3; j++)
            for (int i = 0; i < 2; i++) assert_true(at3(swapped, k, j, i) == 12 * i + 4 * j + k);
    assert_null(ampc_tensor_transpose(base, 0, 5));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_transpose: dim1 is 5; expected a dim");
    ampc_tensor_free(swapped);
    ampc_tensor_free(base);
}

static void test_narrow_selects_a_window_of_one_dim(void **state)
{
    (void)state;
    ampc_tensor *base = make_base();
    ampc_tensor *middle = ampc_tensor_narrow(base, 1, 1, 2);
    assert_layout(middle, 3, (int64_t[]){2, 2, 4}, (int64_t[]){12, 4, 1}, 4);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 4; k++)
                assert_true(at3(middle, i, j, k) == 12 * i + 4 * (j + 1) + k);
    ampc_tensor *tail = ampc_tensor_narrow(base, -1, -2, 2);
    assert_layout(tail, 3, (int64_t[]){2, 3, 2}, (int64_t[]){12, 4, 1}, 2);
    assert_true(at3(tail, 1, 2, 1) == 12 + 8 + 3);
    assert_null(ampc_tensor_narrow(base, 1, 4, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_tensor_narrow: start is 4; expected -3 to 3 (dim 1 has size 3)");
    assert_null(ampc_tensor_narrow(base, 1, 1, 3));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "length is 3; expected 0 to 2 (dim 1 has size 3 and start is 1)");
    ampc_tensor_free(middle);
    ampc_tensor_free(tail);
    ampc_tensor_free(base);
}

static void test_slice_follows_python_semantics(void **state)
{
    (void)state;
    ampc_tensor *base = make_base();
    ampc_tensor *odd = ampc_tensor_slice(base, 2, 1, 100, 2); /* [:, :, 1::2] */
    assert_layout(odd, 3, (int64_t[]){2, 3, 2}, (int64_t[]){12, 4, 2}, 1);
    for (int k = 0; k < 2; k++) assert_true(at3(odd, 1, 2, k) == 12 + 8 + 1 + 2 * k);
    ampc_tensor *from_end = ampc_tensor_slice(base, 2, -3, -1, 1); /* [:, :, -3:-1] */
    assert_layout(from_end, 3, (int64_t[]){2, 3, 2}, (int64_t[]){12, 4, 1}, 1);
    ampc_tensor *backwards = ampc_tensor_slice(base, 2, 3, 1, 1); /* [:, :, 3:1] is empty */
    assert_int_equal(ampc_tensor_dim(backwards, 2), 0);
    ampc_tensor *clamped = ampc_tensor_slice(base, 0, INT64_MIN, INT64_MAX, 3);
    assert_layout(clamped, 3, (int64_t[]){1, 3, 4}, (int64_t[]){36, 4, 1}, 0);
    assert_null(ampc_tensor_slice(base, 0, 0, 2, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_slice: step is 0; expected a step >= 1");
    ampc_tensor *tensors[] = {odd, from_end, backwards, clamped, base};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_expand_stretches_size_one_dims_with_stride_zero(void **state)
{
    (void)state;
    ampc_tensor *column = arange_shaped(AMPC_F32, 2, (int64_t[]){3, 1});
    ampc_tensor *wide = ampc_tensor_expand(column, 2, (int64_t[]){3, 4});
    assert_layout(wide, 2, (int64_t[]){3, 4}, (int64_t[]){1, 0}, 0);
    ampc_tensor *stacked = ampc_tensor_expand(column, 3, (int64_t[]){2, -1, 4});
    assert_layout(stacked, 3, (int64_t[]){2, 3, 4}, (int64_t[]){0, 1, 0}, 0);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) assert_true(at3(stacked, i, j, k) == j);
    assert_int_equal(ampc_tensor_numel(stacked), 24);
    ampc_tensor *tensors[] = {wide, stacked, column};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
}

static void test_expand_rejects_what_torch_expand_rejects(void **state)
{
    (void)state;
    ampc_tensor *column = arange_shaped(AMPC_F32, 2, (int64_t[]){3, 1});
    assert_null(ampc_tensor_expand(column, 2, (int64_t[]){4, 4}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_tensor_expand: shape[0] is 4 but the tensor's dim 0 has size 3");
    assert_null(ampc_tensor_expand(column, 3, (int64_t[]){-1, 3, 1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "shape[0] is -1 for a new leading dim");
    assert_null(ampc_tensor_expand(column, 1, (int64_t[]){3}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ndim is 1 but the tensor has 2 dims");
    const int64_t huge = (int64_t)1 << 31;
    assert_null(ampc_tensor_expand(column, 4, (int64_t[]){huge, huge, 3, huge}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "holds more bytes than");
    ampc_tensor_free(column);
}

static void test_views_share_storage_with_their_base(void **state)
{
    (void)state;
    ampc_tensor *base = make_base();
    ampc_tensor *swapped = ampc_tensor_transpose(base, 0, 2);
    assert_int_equal(ampc_tensor_set(swapped, (int64_t[]){3, 1, 1}, -5), AMPC_OK);
    assert_true(at3(base, 1, 1, 3) == -5);
    ampc_tensor_free(swapped);
    ampc_tensor_free(base);
}

static void test_views_keep_the_storage_alive_after_the_base_is_freed(void **state)
{
    (void)state;
    size_t before = live_bytes(AMPC_MEMORY_OTHER);
    ampc_tensor *base = make_base();
    ampc_tensor *window = ampc_tensor_narrow(base, 0, 1, 1);
    ampc_tensor_free(base);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), before + 96);
    assert_true(at3(window, 0, 2, 3) == 12 + 8 + 3);
    ampc_tensor_free(window);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), before);
}

static void test_view_functions_propagate_a_null_tensor(void **state)
{
    (void)state;
    assert_null(ampc_tensor_view(NULL, 1, (int64_t[]){1}));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_view: argument tensor is NULL");
    assert_null(ampc_tensor_permute(NULL, (int[]){0}));
    assert_null(ampc_tensor_narrow(NULL, 0, 0, 1));
    assert_null(ampc_tensor_slice(NULL, 0, 0, 1, 1));
    assert_null(ampc_tensor_expand(NULL, 1, (int64_t[]){1}));
    assert_null(ampc_tensor_transpose(NULL, 0, 1));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_permute: argument tensor is NULL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view_infers_the_one_minus_one_size),
        cmocka_unit_test(test_view_rejects_a_shape_that_cannot_hold_the_elements),
        cmocka_unit_test(test_view_of_a_transposed_tensor_fails_but_reshape_copies),
        cmocka_unit_test(test_view_merges_dims_that_stay_evenly_spaced),
        cmocka_unit_test(test_view_splits_a_dim_of_a_strided_tensor),
        cmocka_unit_test(test_view_adds_and_removes_size_one_dims_of_a_scalar),
        cmocka_unit_test(test_permute_reorders_shape_and_strides),
        cmocka_unit_test(test_permute_rejects_anything_but_a_permutation),
        cmocka_unit_test(test_transpose_swaps_two_dims),
        cmocka_unit_test(test_narrow_selects_a_window_of_one_dim),
        cmocka_unit_test(test_slice_follows_python_semantics),
        cmocka_unit_test(test_expand_stretches_size_one_dims_with_stride_zero),
        cmocka_unit_test(test_expand_rejects_what_torch_expand_rejects),
        cmocka_unit_test(test_views_share_storage_with_their_base),
        cmocka_unit_test(test_views_keep_the_storage_alive_after_the_base_is_freed),
        cmocka_unit_test(test_view_functions_propagate_a_null_tensor),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
