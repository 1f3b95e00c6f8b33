/* Tests for src/ops/shape.c and src/ops/shape_cat.c: every shape op against finite differences
 * (contiguous and non-contiguous inputs, edge sizes), in F32, F16 and BF16 against F64, its
 * values against index arithmetic, and its refusals by their messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ampc/ampc.h>
#include <ampc/ops_shape.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"

/* gradcheck plus dtype_check in F32, F16 and BF16. Moving data is exact, so the low dtypes
 * must match the F64 run to their rounding of the inputs. */
static void check_op(const char *name, gradcheck_op op, const void *context, int num_inputs,
                     ampc_tensor *const *inputs)
{
    gradcheck_all_dtypes_assert(&(gradcheck_case){.name = name, .op = op, .context = context,
                                                  .num_inputs = num_inputs, .inputs = inputs});
}

/* One leaf and its non-contiguous twin through the same op. */
static void check_unary(const char *name, gradcheck_op op, const void *context, int ndim,
                        const int64_t *shape)
{
    ampc_tensor *x = gradcheck_uniform(7, ndim, shape, -2, 2, true);
    ampc_tensor *strided = gradcheck_noncontiguous(x, true);
    check_op(name, op, context, 1, &x);
    check_op(name, op, context, 1, &strided);
    ampc_tensor_free(strided);
    ampc_tensor_free(x);
}

typedef struct shape_context {
    int ndim;
    int64_t shape[AMPC_MAX_DIMS];
} shape_context;

static ampc_tensor *reshape_op(ampc_tensor *const *inputs, const void *context)
{
    const shape_context *c = context;
    return ampc_reshape(inputs[0], c->ndim, c->shape);
}

static ampc_tensor *view_op(ampc_tensor *const *inputs, const void *context)
{
    const shape_context *c = context;
    return ampc_view(inputs[0], c->ndim, c->shape);
}

static ampc_tensor *expand_op(ampc_tensor *const *inputs, const void *context)
{
    const shape_context *c = context;
    return ampc_expand(inputs[0], c->ndim, c->shape);
}

typedef struct dims_context {
    int dims[AMPC_MAX_DIMS];
    int64_t start, length;
} dims_context;

static ampc_tensor *flatten_op(ampc_tensor *const *inputs, const void *context)
{
    const dims_context *c = context;
    return ampc_flatten(inputs[0], c->dims[0], c->dims[1]);
}

static ampc_tensor *permute_op(ampc_tensor *const *inputs, const void *context)
{
    const dims_context *c = context;
    return ampc_permute(inputs[0], c->dims);
}

static ampc_tensor *transpose_op(ampc_tensor *const *inputs, const void *context)
{
    const dims_context *c = context;
    return ampc_transpose(inputs[0], c->dims[0], c->dims[1]);
}

static ampc_tensor *narrow_op(ampc_tensor *const *inputs, const void *context)
{
    const dims_context *c = context;
    return ampc_narrow(inputs[0], c->dims[0], c->start, c->length);
}

static void test_reshape_gradcheck_with_inferred_size_and_copy(void **state)
{
    (void)state;
    /* The non-contiguous twin has no view of this shape, so reshape copies. */
    shape_context to_rows = {2, {2, -1}};
    check_unary("reshape", reshape_op, &to_rows, 2, (int64_t[]){3, 4});
    shape_context to_scalar = {0, {0}};
    check_unary("reshape to scalar", reshape_op, &to_scalar, 1, (int64_t[]){1});
    shape_context empty = {3, {0, 2, 3}};
    check_unary("reshape empty", reshape_op, &empty, 2, (int64_t[]){3, 0});
}

static void test_view_gradcheck_on_a_transposed_layout(void **state)
{
    (void)state;
    /* Inserting a size-1 dim has a view in any layout. */
    shape_context unsqueezed = {3, {3, 1, 4}};
    check_unary("view", view_op, &unsqueezed, 2, (int64_t[]){3, 4});
}

static void test_flatten_gradcheck_and_scalar(void **state)
{
    (void)state;
    dims_context inner = {.dims = {1, -1}};
    check_unary("flatten", flatten_op, &inner, 3, (int64_t[]){2, 3, 4});
    dims_context all = {.dims = {0, -1}};
    check_unary("flatten all", flatten_op, &all, 3, (int64_t[]){2, 1, 3});
    ampc_tensor *scalar = ampc_tensor_full(AMPC_F32, 0, NULL, 5);
    ampc_tensor *flat = ampc_flatten(scalar, 0, -1);
    assert_non_null(flat);
    assert_int_equal(ampc_tensor_ndim(flat), 1);
    assert_int_equal(ampc_tensor_dim(flat, 0), 1);
    ampc_tensor_free(flat);
    ampc_tensor_free(scalar);
}

static void test_permute_and_transpose_gradcheck(void **state)
{
    (void)state;
    dims_context rotate = {.dims = {2, 0, -2}};
    check_unary("permute", permute_op, &rotate, 3, (int64_t[]){2, 3, 4});
    dims_context swap = {.dims = {0, -1}};
    check_unary("transpose", transpose_op, &swap, 3, (int64_t[]){2, 3, 4});
    dims_context same = {.dims = {1, 1}};
    check_unary("transpose same dim", transpose_op, &same, 2, (int64_t[]){3, 2});
}

static void test_permute_moves_values_as_index_arithmetic_says(void **state)
{
    (void)state;
    ampc_tensor *base = arange_shaped(AMPC_F32, 3, (int64_t[]){2, 3, 4});
    ampc_tensor *permuted = ampc_permute(base, (int[]){2, 0, 1});
    assert_non_null(permuted);
    for (int64_t k = 0; k < 4; k++)
        for (int64_t i = 0; i < 2; i++)
            for (int64_t j = 0; j < 3; j++) {
                double value;
                assert_int_equal(ampc_tensor_get(permuted, (int64_t[]){k, i, j}, &value), AMPC_OK);
                assert_float_equal(value, (double)(12 * i + 4 * j + k), 0);
            }
    ampc_tensor_free(permuted);
    ampc_tensor_free(base);
}

static void test_narrow_gradcheck_with_negative_start_and_zero_length(void **state)
{
    (void)state;
    dims_context middle = {.dims = {1}, .start = 1, .length = 3};
    check_unary("narrow", narrow_op, &middle, 2, (int64_t[]){4, 5});
    dims_context from_end = {.dims = {-2}, .start = -3, .length = 2};
    check_unary("narrow from end", narrow_op, &from_end, 2, (int64_t[]){4, 5});
    dims_context empty = {.dims = {0}, .start = 2, .length = 0};
    check_unary("narrow empty", narrow_op, &empty, 2, (int64_t[]){4, 5});
}

/* Pieces 2 and 0 of a split into 3s (7 = 3 + 3 + 1), joined; piece 1 gets no gradient. */
static ampc_tensor *split_op(ampc_tensor *const *inputs, const void *context)
{
    (void)context;
    ampc_tensor *parts[3] = {0};
    int count = 0;
    if (ampc_split(inputs[0], 3, 0, parts, 3, &count) != AMPC_OK) return NULL;
    ampc_tensor *joined = ampc_cat(2, (const ampc_tensor *[]){parts[2], parts[0]}, 0);
    for (int part = 0; part < count; part++) ampc_tensor_free(parts[part]);
    return joined;
}

static void test_split_gradcheck_with_a_remainder(void **state)
{
    (void)state;
    check_unary("split", split_op, NULL, 2, (int64_t[]){7, 3});
}

static void test_split_pieces_and_counts(void **state)
{
    (void)state;
    ampc_tensor *base = arange_shaped(AMPC_F32, 2, (int64_t[]){2, 7});
    ampc_tensor *parts[4] = {0};
    int count = 0;
    assert_int_equal(ampc_split(base, 3, -1, parts, 4, &count), AMPC_OK);
    assert_int_equal(count, 3);
    const int64_t widths[] = {3, 3, 1};
    for (int part = 0; part < 3; part++) {
        assert_int_equal(ampc_tensor_dim(parts[part], 1), widths[part]);
        assert_null(ampc_tensor_grad_fn_name(parts[part]));
    }
    double value;
    assert_int_equal(ampc_tensor_get(parts[2], (int64_t[]){1, 0}, &value), AMPC_OK);
    assert_float_equal(value, 13, 0);
    for (int part = 0; part < 3; part++) ampc_tensor_free(parts[part]);

    count = 0;
    assert_int_equal(ampc_split(base, 3, 1, parts, 2, &count), AMPC_ERR_INVALID_ARGUMENT);
    assert_int_equal(count, 3);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "expected capacity >= 3");
    assert_int_equal(ampc_split(base, 0, 1, parts, 4, &count), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "split_size is 0");
    assert_int_equal(ampc_split(base, 2, 2, parts, 4, &count), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_split: dim is 2");

    ampc_tensor *empty = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){0});
    assert_int_equal(ampc_split(empty, 2, 0, parts, 4, &count), AMPC_OK);
    assert_int_equal(count, 1);
    assert_int_equal(ampc_tensor_numel(parts[0]), 0);
    ampc_tensor_free(parts[0]);
    ampc_tensor_free(empty);
    ampc_tensor_free(base);
}

typedef struct join_context {
    int dim;
    bool stack;
} join_context;

static ampc_tensor *join_op(ampc_tensor *const *inputs, const void *context)
{
    const join_context *c = context;
    const ampc_tensor *tensors[] = {inputs[0], inputs[1], inputs[2]};
    return c->stack ? ampc_stack(3, tensors, c->dim) : ampc_cat(3, tensors, c->dim);
}

static void test_cat_gradcheck_three_inputs_one_without_grad(void **state)
{
    (void)state;
    ampc_tensor *a = gradcheck_uniform(1, 2, (int64_t[]){2, 3}, -1, 1, true);
    ampc_tensor *b_leaf = gradcheck_uniform(2, 2, (int64_t[]){2, 1}, -1, 1, false);
    ampc_tensor *c_leaf = gradcheck_uniform(3, 2, (int64_t[]){2, 2}, -1, 1, false);
    ampc_tensor *c = gradcheck_noncontiguous(c_leaf, true);
    ampc_tensor *inputs[] = {a, b_leaf, c};
    join_context columns = {.dim = -1};
    check_op("cat", join_op, &columns, 3, inputs);

    ampc_tensor *rows_a = gradcheck_uniform(4, 2, (int64_t[]){1, 3}, -1, 1, true);
    ampc_tensor *rows_empty = gradcheck_uniform(5, 2, (int64_t[]){0, 3}, -1, 1, true);
    ampc_tensor *rows_c = gradcheck_uniform(6, 2, (int64_t[]){2, 3}, -1, 1, false);
    ampc_tensor *row_inputs[] = {rows_a, rows_empty, rows_c};
    join_context rows = {.dim = 0};
    check_op("cat rows with an empty input", join_op, &rows, 3, row_inputs);
    for (int which = 0; which < 3; which++) ampc_tensor_free(row_inputs[which]);
    ampc_tensor_free(c);
    ampc_tensor_free(c_leaf);
    ampc_tensor_free(b_leaf);
    ampc_tensor_free(a);
}

static void test_stack_gradcheck_three_inputs_one_without_grad(void **state)
{
    (void)state;
    ampc_tensor *a = gradcheck_uniform(1, 2, (int64_t[]){2, 3}, -1, 1, true);
    ampc_tensor *b = gradcheck_uniform(2, 2, (int64_t[]){2, 3}, -1, 1, false);
    ampc_tensor *c_leaf = gradcheck_uniform(3, 2, (int64_t[]){2, 3}, -1, 1, false);
    ampc_tensor *c = gradcheck_noncontiguous(c_leaf, true);
    ampc_tensor *inputs[] = {a, b, c};
    const int dims[] = {0, 1, -1};
    for (int which = 0; which < 3; which++) {
        join_context context = {.dim = dims[which], .stack = true};
        check_op("stack", join_op, &context, 3, inputs);
    }
    ampc_tensor *stacked = ampc_stack(3, (const ampc_tensor *[]){a, b, c}, 1);
    assert_int_equal(ampc_tensor_ndim(stacked), 3);
    assert_int_equal(ampc_tensor_dim(stacked, 1), 3);
    assert_string_equal(ampc_tensor_grad_fn_name(stacked), "stack");
    ampc_tensor_free(stacked);
    ampc_tensor_free(c);
    ampc_tensor_free(c_leaf);
    ampc_tensor_free(b);
    ampc_tensor_free(a);
}

static void test_cat_places_values_and_promotes_dtypes(void **state)
{
    (void)state;
    ampc_tensor *a = arange_shaped(AMPC_F16, 2, (int64_t[]){2, 2});
    ampc_tensor *b = arange_shaped(AMPC_BF16, 2, (int64_t[]){2, 1});
    assert_int_equal(ampc_tensor_set_requires_grad(a, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_requires_grad(b, true), AMPC_OK);
    ampc_tensor *joined = ampc_cat(2, (const ampc_tensor *[]){a, b}, 1);
    assert_non_null(joined);
    assert_int_equal(ampc_tensor_dtype(joined), AMPC_F32);
    assert_string_equal(ampc_tensor_grad_fn_name(joined), "cat");
    const double expected[] = {0, 1, 0, 2, 3, 1};
    assert_values(joined, expected, 6);
    ampc_tensor *upstream = arange_shaped(AMPC_F32, 2, (int64_t[]){2, 3});
    assert_int_equal(ampc_backward(joined, upstream, false), AMPC_OK);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(a)), AMPC_F16);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(b)), AMPC_BF16);
    assert_values(ampc_tensor_grad(a), (const double[]){0, 1, 3, 4}, 4);
    assert_values(ampc_tensor_grad(b), (const double[]){2, 5}, 2);
    ampc_tensor_free(upstream);
    ampc_tensor_free(joined);

    ampc_tensor *labels = ampc_tensor_zeros(AMPC_I64, 2, (int64_t[]){2, 1});
    assert_null(ampc_cat(2, (const ampc_tensor *[]){a, labels}, 1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "tensors[1] has dtype I64");
    ampc_tensor *both = ampc_cat(2, (const ampc_tensor *[]){labels, labels}, 0);
    assert_int_equal(ampc_tensor_dtype(both), AMPC_I64);
    ampc_tensor_free(both);
    ampc_tensor_free(labels);
    ampc_tensor_free(b);
    ampc_tensor_free(a);
}

static void test_expand_gradcheck_sums_stretched_dims(void **state)
{
    (void)state;
    shape_context stretch = {3, {2, 3, 4}};
    check_unary("expand", expand_op, &stretch, 2, (int64_t[]){3, 1});
    shape_context keep = {3, {2, -1, 5}};
    check_unary("expand keep", expand_op, &keep, 2, (int64_t[]){3, 1});
}

static void test_views_share_storage_and_name_their_grad_fn(void **state)
{
    (void)state;
    ampc_tensor *x = gradcheck_uniform(9, 2, (int64_t[]){3, 4}, -1, 1, true);
    ampc_tensor *t = ampc_transpose(x, 0, 1);
    assert_ptr_equal(ampc_tensor_data(t), ampc_tensor_data(x));
    assert_string_equal(ampc_tensor_grad_fn_name(t), "transpose");
    ampc_tensor *r = ampc_reshape(t, 1, (int64_t[]){-1}); /* no view: a copy */
    assert_ptr_not_equal(ampc_tensor_data(r), ampc_tensor_data(x));
    assert_string_equal(ampc_tensor_grad_fn_name(r), "reshape");
    bool previous = ampc_grad_set_enabled(false);
    ampc_tensor *plain = ampc_narrow(x, 0, 0, 1);
    ampc_grad_set_enabled(previous);
    assert_true(ampc_tensor_is_leaf(plain));
    ampc_tensor_free(plain);
    ampc_tensor_free(r);
    ampc_tensor_free(t);
    ampc_tensor_free(x);
}

static void test_errors_name_the_op_and_the_argument(void **state)
{
    (void)state;
    ampc_tensor *x = arange_shaped(AMPC_F32, 2, (int64_t[]){3, 4});
    ampc_tensor *t = ampc_tensor_transpose(x, 0, 1);
    assert_null(ampc_view(t, 1, (int64_t[]){12}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_view: a tensor of shape [4, 3]");
    assert_null(ampc_reshape(x, 2, (int64_t[]){5, -1}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_reshape: shape [5, -1] cannot hold");
    assert_null(ampc_permute(x, (int[]){0, 0}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_permute: dims[1] is 0");
    assert_null(ampc_transpose(x, 0, 2));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_transpose: dim1 is 2");
    assert_null(ampc_narrow(x, 1, 2, 3));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_narrow: length is 3");
    assert_null(ampc_flatten(x, 1, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_flatten: start_dim is 1");
    assert_null(ampc_expand(x, 2, (int64_t[]){3, 5}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_expand: shape[1] is 5");
    assert_null(ampc_reshape(NULL, 1, (int64_t[]){1}));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_reshape: argument a is NULL");

    ampc_tensor *row = arange_shaped(AMPC_F32, 1, (int64_t[]){4});
    ampc_tensor *other = arange_shaped(AMPC_F32, 2, (int64_t[]){3, 5});
    assert_null(ampc_cat(3, (const ampc_tensor *[]){x, x, row}, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "tensors[2] has shape [4] (1 dims)");
    assert_null(ampc_cat(2, (const ampc_tensor *[]){x, other}, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "tensors[1] has shape [3, 5] but tensors[0] has "
                                            "shape [3, 4]");
    assert_null(ampc_cat(2, (const ampc_tensor *[]){x, x}, 2));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_cat: dim is 2");
    assert_null(ampc_cat(0, (const ampc_tensor *[]){x}, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "n is 0");
    assert_null(ampc_cat(2, (const ampc_tensor *[]){x, NULL}, 0));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "tensors[1] is NULL");
    assert_null(ampc_stack(2, (const ampc_tensor *[]){x, t}, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_stack: tensors[1] has shape [4, 3]");
    assert_null(ampc_stack(2, (const ampc_tensor *[]){x, x}, 3));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_stack: dim is 3");
    ampc_tensor_free(other);
    ampc_tensor_free(row);
    ampc_tensor_free(t);
    ampc_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reshape_gradcheck_with_inferred_size_and_copy),
        cmocka_unit_test(test_view_gradcheck_on_a_transposed_layout),
        cmocka_unit_test(test_flatten_gradcheck_and_scalar),
        cmocka_unit_test(test_permute_and_transpose_gradcheck),
        cmocka_unit_test(test_permute_moves_values_as_index_arithmetic_says),
        cmocka_unit_test(test_narrow_gradcheck_with_negative_start_and_zero_length),
        cmocka_unit_test(test_split_gradcheck_with_a_remainder),
        cmocka_unit_test(test_split_pieces_and_counts),
        cmocka_unit_test(test_cat_gradcheck_three_inputs_one_without_grad),
        cmocka_unit_test(test_stack_gradcheck_three_inputs_one_without_grad),
        cmocka_unit_test(test_cat_places_values_and_promotes_dtypes),
        cmocka_unit_test(test_expand_gradcheck_sums_stretched_dims),
        cmocka_unit_test(test_views_share_storage_and_name_their_grad_fn),
        cmocka_unit_test(test_errors_name_the_op_and_the_argument),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
