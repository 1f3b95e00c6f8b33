/* The autograd core: recording, backward, accumulation, retained and released graphs, grad
 * mode, leaves, casts, and memory over many steps. The ops here are two tiny F64 ops defined
 * in this file through the recording API, so the graph machinery is tested on its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ampc/ampc.h>

#include "../tensor/tensor_testing.h"
#include "autograd/record.h"
#include "tensor/tensor_internal.h"
#include "gradcheck.h"

/* --- two test ops: square(x) = x * x and plus(a, b) = a + b, F64, contiguous ------------- */

static ampc_tensor *new_like(const ampc_tensor *tensor)
{
    return ampc_tensor_empty(AMPC_F64, ampc_tensor_ndim(tensor), ampc_tensor_shape(tensor));
}

static ampc_status square_backward(const ampc_node *node, const ampc_tensor *dout,
                                   ampc_tensor **dinputs)
{
    const ampc_tensor *x = ampc_node_saved(node, 0);
    dinputs[0] = new_like(x);
    const double *x_values = ampc_tensor_data(x), *dout_values = ampc_tensor_data(dout);
    double *dx = ampc_tensor_data(dinputs[0]);
    for (int64_t i = 0; i < ampc_tensor_numel(x); i++) dx[i] = 2 * x_values[i] * dout_values[i];
    return AMPC_OK;
}

static ampc_tensor *square(const ampc_tensor *x)
{
    ampc_tensor *out = new_like(x);
    const double *x_values = ampc_tensor_data(x);
    double *values = ampc_tensor_data(out);
    for (int64_t i = 0; i < ampc_tensor_numel(x); i++) values[i] = x_values[i] * x_values[i];
    const ampc_tensor *inputs[] = {x};
    ampc_op_record record = {.name = "square", .backward = square_backward, .num_inputs = 1,
                             .inputs = inputs, .num_saved = 1, .saved = inputs};
    assert_int_equal(ampc_autograd_record(__func__, out, &record), AMPC_OK);
    return out;
}

static ampc_status plus_backward(const ampc_node *node, const ampc_tensor *dout,
                                 ampc_tensor **dinputs)
{
    for (int input = 0; input < 2; input++)
        if (ampc_node_needs_grad(node, input)) dinputs[input] = ampc_tensor_clone(dout);
    return AMPC_OK;
}

static ampc_tensor *plus(const ampc_tensor *a, const ampc_tensor *b)
{
    ampc_tensor *out = new_like(a);
    const double *a_values = ampc_tensor_data(a), *b_values = ampc_tensor_data(b);
    double *values = ampc_tensor_data(out);
    for (int64_t i = 0; i < ampc_tensor_numel(a); i++) values[i] = a_values[i] + b_values[i];
    const ampc_tensor *inputs[] = {a, b};
    ampc_op_record record = {.name = "plus", .backward = plus_backward, .num_inputs = 2,
                             .inputs = inputs};
    assert_int_equal(ampc_autograd_record(__func__, out, &record), AMPC_OK);
    return out;
}

static ampc_tensor *leaf(const double *values, int64_t n)
{
    ampc_tensor *tensor = ampc_tensor_from_data(values, AMPC_F64, 1, &n);
    assert_int_equal(ampc_tensor_set_requires_grad(tensor, true), AMPC_OK);
    return tensor;
}

static ampc_tensor *scalar_leaf(double value)
{
    ampc_tensor *tensor = ampc_tensor_from_data(&value, AMPC_F64, 0, NULL);
    assert_int_equal(ampc_tensor_set_requires_grad(tensor, true), AMPC_OK);
    return tensor;
}

static double grad_at(const ampc_tensor *tensor, int64_t position)
{
    const ampc_tensor *grad = ampc_tensor_grad(tensor);
    assert_non_null(grad);
    return value_at_position(grad, position);
}

/* --- recording ------------------------------------------------------------------------------ */

static void test_ops_on_leaves_record_and_propagate_requires_grad(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(3);
    ampc_tensor *constant = ampc_tensor_full(AMPC_F64, 0, NULL, 1);
    assert_true(ampc_tensor_is_leaf(x));
    assert_null(ampc_tensor_grad_fn_name(x));
    ampc_tensor *y = square(x);
    assert_true(ampc_tensor_requires_grad(y));
    assert_false(ampc_tensor_is_leaf(y));
    assert_string_equal(ampc_tensor_grad_fn_name(y), "square");
    ampc_tensor *z = square(constant);
    assert_false(ampc_tensor_requires_grad(z));
    ampc_tensor_free(z);
    ampc_tensor_free(y);
    ampc_tensor_free(constant);
    ampc_tensor_free(x);
}

static void test_backward_gives_chain_rule_gradient(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(3);
    ampc_tensor *y = square(x);
    ampc_tensor *z = square(y); /* x^4: dz/dx = 4x^3 = 108 */
    assert_int_equal(ampc_backward(z, NULL, false), AMPC_OK);
    assert_float_equal(grad_at(x, 0), 108, 0);
    ampc_tensor_free(z);
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

static void test_fan_out_sums_both_paths(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(2);
    ampc_tensor *y = square(x);
    ampc_tensor *z = plus(y, x); /* x^2 + x: 2x + 1 = 5 */
    ampc_tensor *w = plus(z, y); /* 2x^2 + x: 4x + 1 = 9 */
    assert_int_equal(ampc_backward(w, NULL, false), AMPC_OK);
    assert_float_equal(grad_at(x, 0), 9, 0);
    ampc_tensor_free(w);
    ampc_tensor_free(z);
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

/* --- accumulation and passes ---------------------------------------------------------------- */

static void test_two_backward_passes_accumulate(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(3);
    for (int pass = 0; pass < 2; pass++) {
        ampc_tensor *y = square(x);
        assert_int_equal(ampc_backward(y, NULL, false), AMPC_OK);
        ampc_tensor_free(y);
    }
    assert_float_equal(grad_at(x, 0), 12, 0);
    assert_int_equal(ampc_tensor_zero_grad(x, false), AMPC_OK);
    assert_float_equal(grad_at(x, 0), 0, 0);
    assert_int_equal(ampc_tensor_zero_grad(x, true), AMPC_OK);
    assert_null(ampc_tensor_grad(x));
    ampc_tensor_free(x);
}

static void test_retained_graph_runs_backward_again(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(3);
    ampc_tensor *y = square(x);
    assert_int_equal(ampc_backward(y, NULL, true), AMPC_OK);
    assert_int_equal(ampc_backward(y, NULL, false), AMPC_OK);
    assert_float_equal(grad_at(x, 0), 12, 0);
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

static void test_backward_twice_on_released_graph_fails_and_changes_nothing(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(3);
    ampc_tensor *y = square(x);
    assert_int_equal(ampc_backward(y, NULL, false), AMPC_OK);
    assert_int_equal(ampc_backward(y, NULL, false), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "already released by an earlier backward");
    assert_float_equal(grad_at(x, 0), 6, 0);
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

static void test_nonscalar_backward_needs_a_gradient(void **state)
{
    (void)state;
    double values[] = {1, 2, 3};
    ampc_tensor *x = leaf(values, 3);
    ampc_tensor *y = square(x);
    assert_int_equal(ampc_backward(y, NULL, false), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "gradient is NULL but output has shape [3]");
    int64_t wrong_shape = 2;
    ampc_tensor *wrong = ampc_tensor_ones(AMPC_F64, 1, &wrong_shape);
    assert_int_equal(ampc_backward(y, wrong, false), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "expected a float tensor of output's shape [3]");
    double upstream_values[] = {1, 10, 100};
    int64_t three = 3;
    ampc_tensor *upstream = ampc_tensor_from_data(upstream_values, AMPC_F64, 1, &three);
    assert_int_equal(ampc_backward(y, upstream, false), AMPC_OK);
    double expected[] = {2, 40, 600};
    assert_values(ampc_tensor_grad(x), expected, 3);
    ampc_tensor_free(upstream);
    ampc_tensor_free(wrong);
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

static void test_backward_on_tensor_without_grad_fails(void **state)
{
    (void)state;
    ampc_tensor *x = ampc_tensor_ones(AMPC_F64, 0, NULL);
    assert_int_equal(ampc_backward(x, NULL, false), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "does not require grad");
    assert_int_equal(ampc_backward(NULL, NULL, false), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "output");
    ampc_tensor_free(x);
}

/* --- grad mode, detach, leaves -------------------------------------------------------------- */

static void test_no_grad_region_records_nothing(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(3);
    assert_true(ampc_grad_is_enabled());
    bool previous = ampc_grad_set_enabled(false);
    assert_true(previous);
    ampc_tensor *y = square(x);
    assert_false(ampc_tensor_requires_grad(y));
    ampc_grad_set_enabled(previous);
    assert_true(ampc_grad_is_enabled());
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

static void test_detach_cuts_the_graph_and_shares_data(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(3);
    ampc_tensor *y = square(x);
    ampc_tensor *detached = ampc_tensor_detach(y);
    assert_false(ampc_tensor_requires_grad(detached));
    assert_true(ampc_tensor_is_leaf(detached));
    assert_ptr_equal(ampc_tensor_data(detached), ampc_tensor_data(y));
    ampc_tensor *cut = square(detached);
    ampc_tensor *z = plus(cut, y); /* only y's path reaches x */
    assert_int_equal(ampc_backward(z, NULL, false), AMPC_OK);
    assert_float_equal(grad_at(x, 0), 6, 0);
    ampc_tensor_free(z);
    ampc_tensor_free(cut);
    ampc_tensor_free(detached);
    ampc_tensor_free(y);
    ampc_tensor_free(x);
}

static void test_requires_grad_only_on_float_leaves(void **state)
{
    (void)state;
    int64_t two = 2;
    ampc_tensor *indices = ampc_tensor_zeros(AMPC_I64, 1, &two);
    assert_int_equal(ampc_tensor_set_requires_grad(indices, true), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "tensor has dtype I64; only F64, F32, F16 and BF16");
    ampc_tensor *x = scalar_leaf(3);
    ampc_tensor *y = square(x);
    assert_int_equal(ampc_tensor_set_requires_grad(y, false), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "result of op \"square\"");
    assert_int_equal(ampc_tensor_set_requires_grad(y, true), AMPC_OK); /* already does */
    assert_null(ampc_tensor_grad(y));
    assert_int_equal(ampc_tensor_set_requires_grad(x, false), AMPC_OK);
    assert_false(ampc_tensor_requires_grad(x));
    assert_int_equal(ampc_tensor_set_requires_grad(NULL, true), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "tensor");
    ampc_tensor_free(y);
    ampc_tensor_free(x);
    ampc_tensor_free(indices);
}

static void test_graph_outlives_freed_intermediates_and_leaf_handles(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(3);
    ampc_tensor *y = square(x);
    ampc_tensor *z = square(y);
    ampc_tensor_free(y); /* the record still holds what z's backward needs */
    assert_int_equal(ampc_backward(z, NULL, true), AMPC_OK);
    assert_float_equal(grad_at(x, 0), 108, 0);
    ampc_tensor_free(x); /* z's graph still reaches x's leaf node: backward stays valid */
    assert_int_equal(ampc_backward(z, NULL, false), AMPC_OK);
    ampc_tensor_free(z);
}

/* --- casts --------------------------------------------------------------------------------- */

static void test_cast_gradient_returns_in_source_dtype(void **state)
{
    (void)state;
    float value = 1.5f;
    ampc_tensor *master = ampc_tensor_from_data(&value, AMPC_F32, 0, NULL);
    assert_int_equal(ampc_tensor_set_requires_grad(master, true), AMPC_OK);
    ampc_tensor *half = ampc_cast(master, AMPC_F16);
    assert_int_equal(ampc_tensor_dtype(half), AMPC_F16);
    assert_string_equal(ampc_tensor_grad_fn_name(half), "cast");
    ampc_tensor *wide = ampc_cast(half, AMPC_F64);
    ampc_tensor *y = square(wide);
    assert_int_equal(ampc_backward(y, NULL, false), AMPC_OK);
    const ampc_tensor *grad = ampc_tensor_grad(master);
    assert_int_equal(ampc_tensor_dtype(grad), AMPC_F32);
    assert_float_equal(value_at_position(grad, 0), 3.0, 0);
    ampc_tensor *indices = ampc_cast(master, AMPC_I32);
    assert_false(ampc_tensor_requires_grad(indices));
    ampc_tensor_free(indices);
    ampc_tensor_free(y);
    ampc_tensor_free(wide);
    ampc_tensor_free(half);
    ampc_tensor_free(master);
}

static ampc_tensor *cast_round_trip(ampc_tensor *const *inputs, const void *context)
{
    const ampc_dtype *dtype = context;
    ampc_tensor *narrow = ampc_cast(inputs[0], *dtype);
    ampc_tensor *wide = ampc_cast(narrow, AMPC_F64);
    ampc_tensor_free(narrow);
    return wide;
}

static void test_cast_passes_gradcheck(void **state)
{
    (void)state;
    int64_t shape[] = {3, 4};
    ampc_tensor *x = gradcheck_uniform(1, 2, shape, -2, 2, true);
    ampc_tensor *strided = gradcheck_noncontiguous(x, true);
    ampc_dtype f64 = AMPC_F64;
    gradcheck_assert(&(gradcheck_case){.name = "cast", .op = cast_round_trip, .context = &f64,
                                       .num_inputs = 1, .inputs = &x});
    gradcheck_assert(&(gradcheck_case){.name = "cast strided", .op = cast_round_trip,
                                       .context = &f64, .num_inputs = 1, .inputs = &strided});
    ampc_tensor_free(strided);
    ampc_tensor_free(x);
}

/* --- flat blocks (what ampc_module_flatten builds on) ------------------------------------ */

static void test_parameter_and_gradient_live_in_blocks(void **state)
{
    (void)state;
    double values[] = {1, 2, 3};
    ampc_tensor *x = leaf(values, 3);
    int64_t six = 6;
    ampc_tensor *weights = ampc_tensor_zeros(AMPC_F64, 1, &six);
    ampc_tensor *gradients = ampc_tensor_full(AMPC_F64, 1, &six, 7);
    assert_int_equal(ampc_tensor_move_into("test", x, weights, 2), AMPC_OK);
    double *block = ampc_tensor_data(weights);
    assert_ptr_equal(ampc_tensor_data(x), block + 2);
    assert_values(x, values, 3);
    assert_int_equal(ampc_autograd_pin_grad("test", x, ampc_tensor_narrow(gradients, 0, 3, 3)),
                     AMPC_OK);
    for (int pass = 0; pass < 2; pass++) {
        ampc_tensor *y = square(x);
        int64_t three = 3;
        ampc_tensor *upstream = ampc_tensor_ones(AMPC_F64, 1, &three);
        assert_int_equal(ampc_backward(y, upstream, false), AMPC_OK);
        ampc_tensor_free(upstream);
        ampc_tensor_free(y);
    }
    double expected_block[] = {7, 7, 7, 4, 8, 12};
    assert_values(gradients, expected_block, 6);
    assert_int_equal(ampc_tensor_zero_grad(x, true), AMPC_OK); /* pinned: zeroed, kept */
    double zeroed[] = {7, 7, 7, 0, 0, 0};
    assert_values(gradients, zeroed, 6);
    assert_non_null(ampc_tensor_grad(x));
    ampc_tensor_free(x);
    ampc_tensor_free(gradients);
    ampc_tensor_free(weights);
}

/* --- memory -------------------------------------------------------------------------------- */

static void test_deep_chain_releases_without_recursion(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(1);
    ampc_tensor *y = plus(x, x);
    for (int step = 0; step < 100000; step++) {
        ampc_tensor *next = plus(y, x);
        ampc_tensor_free(y);
        y = next;
    }
    assert_int_equal(ampc_backward(y, NULL, false), AMPC_OK);
    assert_float_equal(grad_at(x, 0), 100002, 0);
    ampc_tensor_free(y); /* frees a hundred thousand nodes */
    ampc_tensor_free(x);
}

static void test_ten_thousand_arena_steps_keep_memory_flat(void **state)
{
    (void)state;
    double values[64];
    for (int i = 0; i < 64; i++) values[i] = i / 64.0;
    ampc_tensor *weights = leaf(values, 64);
    ampc_arena *arena = ampc_arena_new();
    size_t capacity_after_first = 0;
    size_t gradients_after_first = 0;
    for (int step = 0; step < 10000; step++) {
        assert_int_equal(ampc_arena_enter(arena), AMPC_OK);
        ampc_tensor *h = square(weights);
        ampc_tensor *out = plus(h, weights);
        ampc_tensor *loss = square(out);
        int64_t n = 64;
        ampc_tensor *upstream = ampc_tensor_ones(AMPC_F64, 1, &n);
        assert_int_equal(ampc_backward(loss, upstream, false), AMPC_OK);
        assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
        assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
        if (step == 0) {
            capacity_after_first = ampc_arena_capacity(arena);
            gradients_after_first = live_bytes(AMPC_MEMORY_GRADIENTS);
        }
    }
    assert_int_equal(ampc_arena_capacity(arena), capacity_after_first);
    assert_int_equal(live_bytes(AMPC_MEMORY_GRADIENTS), gradients_after_first);
    assert_int_equal(live_bytes(AMPC_MEMORY_ACTIVATIONS), 0);
    ampc_arena_free(arena);
    ampc_tensor_free(weights);
    assert_int_equal(live_bytes(AMPC_MEMORY_GRADIENTS), 0);
}

static void test_heap_steps_free_every_record(void **state)
{
    (void)state;
    ampc_tensor *x = scalar_leaf(2);
    size_t other_before = live_bytes(AMPC_MEMORY_OTHER);
    for (int step = 0; step < 1000; step++) {
        ampc_tensor *y = square(x);
        ampc_tensor *z = plus(y, x);
        assert_int_equal(ampc_backward(z, NULL, false), AMPC_OK);
        ampc_tensor_free(z);
        ampc_tensor_free(y);
    }
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), other_before);
    assert_float_equal(grad_at(x, 0), 5000, 0);
    ampc_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ops_on_leaves_record_and_propagate_requires_grad),
        cmocka_unit_test(test_backward_gives_chain_rule_gradient),
        cmocka_unit_test(test_fan_out_sums_both_paths),
        cmocka_unit_test(test_two_backward_passes_accumulate),
        cmocka_unit_test(test_retained_graph_runs_backward_again),
        cmocka_unit_test(test_backward_twice_on_released_graph_fails_and_changes_nothing),
        cmocka_unit_test(test_nonscalar_backward_needs_a_gradient),
        cmocka_unit_test(test_backward_on_tensor_without_grad_fails),
        cmocka_unit_test(test_no_grad_region_records_nothing),
        cmocka_unit_test(test_detach_cuts_the_graph_and_shares_data),
        cmocka_unit_test(test_requires_grad_only_on_float_leaves),
        cmocka_unit_test(test_graph_outlives_freed_intermediates_and_leaf_handles),
        cmocka_unit_test(test_cast_gradient_returns_in_source_dtype),
        cmocka_unit_test(test_cast_passes_gradcheck),
        cmocka_unit_test(test_parameter_and_gradient_live_in_blocks),
        cmocka_unit_test(test_deep_chain_releases_without_recursion),
        cmocka_unit_test(test_ten_thousand_arena_steps_keep_memory_flat),
        cmocka_unit_test(test_heap_steps_free_every_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
