/* Tests for src/tensor/arena.c and the arena rules of tensor.c: what belongs to an arena,
 * what a reset releases, the enter/leave discipline, and a training-style loop whose
 * footprint must stop growing after its first step. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ampc/ampc.h>

#include "tensor_testing.h"

static void test_tensors_created_in_an_arena_count_as_activations(void **state)
{
    (void)state;
    ampc_arena *arena = ampc_arena_new();
    size_t activations = live_bytes(AMPC_MEMORY_ACTIVATIONS);
    size_t other = live_bytes(AMPC_MEMORY_OTHER);
    assert_int_equal(ampc_arena_enter(arena), AMPC_OK);
    ampc_tensor *tensor = ampc_tensor_ones(AMPC_F32, 1, (int64_t[]){256});
    assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
    assert_int_equal(ampc_tensor_category(tensor), AMPC_MEMORY_ACTIVATIONS);
    assert_int_equal(live_bytes(AMPC_MEMORY_ACTIVATIONS), activations + 1024);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), other);
    assert_true(ampc_arena_used(arena) >= 1024);
    assert_int_equal((uintptr_t)ampc_tensor_data(tensor) % 64, 0);
    ampc_tensor_free(tensor); /* a no-op: the tensor stays readable until the reset */
    assert_values(ampc_tensor_narrow(tensor, 0, 255, 1), (double[]){1}, 1);
    assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
    assert_int_equal(live_bytes(AMPC_MEMORY_ACTIVATIONS), activations);
    assert_int_equal(ampc_arena_used(arena), 0);
    ampc_arena_free(arena);
}

/* One step of a training-like loop: a mix of sizes, views, casts and copies. */
static void run_step(ampc_tensor *weights)
{
    ampc_tensor *input = ampc_tensor_full(AMPC_F32, 2, (int64_t[]){64, 128}, 0.5);
    ampc_tensor *big = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){600000}); /* 2.4 MB */
    ampc_tensor *half = ampc_tensor_cast(input, AMPC_BF16);
    ampc_tensor *transposed = ampc_tensor_transpose(half, 0, 1);
    ampc_tensor *packed = ampc_tensor_contiguous(transposed);
    ampc_tensor *weight_view = ampc_tensor_reshape(weights, 1, (int64_t[]){-1});
    ampc_tensor *weight_copy = ampc_tensor_clone(weight_view);
    assert_non_null(big);
    assert_non_null(packed);
    assert_non_null(weight_copy);
}

static void test_arena_footprint_is_constant_after_the_first_step(void **state)
{
    (void)state;
    ampc_tensor *weights = ampc_tensor_ones(AMPC_F32, 2, (int64_t[]){32, 32});
    ampc_arena *arena = ampc_arena_new();
    size_t activations = live_bytes(AMPC_MEMORY_ACTIVATIONS);
    size_t other = live_bytes(AMPC_MEMORY_OTHER);
    size_t capacity_after_first = 0;
    for (int step = 0; step < 100; step++) {
        assert_int_equal(ampc_arena_enter(arena), AMPC_OK);
        run_step(weights);
        assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
        assert_true(live_bytes(AMPC_MEMORY_ACTIVATIONS) > activations);
        assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
        assert_int_equal(live_bytes(AMPC_MEMORY_ACTIVATIONS), activations);
        assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), other);
        if (step == 0) capacity_after_first = ampc_arena_capacity(arena);
    }
    assert_true(capacity_after_first >= 2400000);
    assert_int_equal(ampc_arena_capacity(arena), capacity_after_first);
    expect_no_error();
    ampc_arena_free(arena);
    ampc_tensor_free(weights);
}

static void test_a_request_bigger_than_a_block_gets_a_block_sized_to_fit(void **state)
{
    (void)state;
    ampc_arena *arena = ampc_arena_new();
    assert_int_equal(ampc_arena_capacity(arena), 0);
    ampc_arena_enter(arena);
    ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){4});
    size_t first_block = ampc_arena_capacity(arena);
    assert_true(first_block > 0);
    /* 3,000,000 bytes is a multiple of 64; the header still fits in the first block. */
    ampc_tensor_empty(AMPC_F32, 1, (int64_t[]){750000});
    assert_int_equal(ampc_arena_capacity(arena), first_block + 3000000);
    ampc_arena_leave(arena);
    ampc_arena_free(arena);
}

static void test_a_view_of_an_arena_tensor_belongs_to_that_arena_wherever_made(void **state)
{
    (void)state;
    ampc_arena *arena = ampc_arena_new();
    ampc_arena *other_arena = ampc_arena_new();
    ampc_arena_enter(arena);
    ampc_tensor *tensor = arange_shaped(AMPC_F32, 2, (int64_t[]){2, 3});
    ampc_arena_leave(arena);
    size_t used = ampc_arena_used(arena);
    ampc_tensor *outside = ampc_tensor_transpose(tensor, 0, 1);
    assert_true(ampc_arena_used(arena) > used);
    ampc_arena_enter(other_arena);
    ampc_tensor *inside_other = ampc_tensor_narrow(tensor, 1, 1, 2);
    ampc_arena_leave(other_arena);
    assert_int_equal(ampc_arena_used(other_arena), 0);
    assert_values(outside, (double[]){0, 3, 1, 4, 2, 5}, 6);
    assert_values(inside_other, (double[]){1, 2, 4, 5}, 4);
    ampc_tensor_free(outside); /* no-ops: arena memory is never passed to free() */
    ampc_tensor_free(inside_other);
    ampc_arena_free(other_arena);
    ampc_arena_free(arena);
}

static void test_an_arena_view_of_a_heap_tensor_holds_its_storage_until_reset(void **state)
{
    (void)state;
    size_t other = live_bytes(AMPC_MEMORY_OTHER);
    ampc_tensor *heap = arange_shaped(AMPC_F32, 2, (int64_t[]){10, 100});
    ampc_arena *arena = ampc_arena_new();
    ampc_arena_enter(arena);
    ampc_tensor *window = ampc_tensor_narrow(heap, 0, 9, 1);
    ampc_arena_leave(arena);
    ampc_tensor_free(heap);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), other + 4000);
    double expected[100];
    for (int i = 0; i < 100; i++) expected[i] = 900 + i;
    assert_values(window, expected, 100);
    assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
    assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), other);
    ampc_arena_free(arena);
}

static void test_reset_while_entered_fails_and_changes_nothing(void **state)
{
    (void)state;
    ampc_arena *arena = ampc_arena_new();
    size_t activations = live_bytes(AMPC_MEMORY_ACTIVATIONS);
    ampc_arena_enter(arena);
    ampc_tensor *tensor = ampc_tensor_full(AMPC_I32, 1, (int64_t[]){3}, 4);
    assert_int_equal(ampc_arena_reset(arena), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_arena_reset: arena");
    assert_values(tensor, (double[]){4, 4, 4}, 3);
    assert_int_equal(live_bytes(AMPC_MEMORY_ACTIVATIONS), activations + 12);
    assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
    assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
    assert_int_equal(live_bytes(AMPC_MEMORY_ACTIVATIONS), activations);
    ampc_arena_free(arena);
}

static void test_leave_must_name_the_innermost_arena(void **state)
{
    (void)state;
    ampc_arena *outer = ampc_arena_new();
    ampc_arena *inner = ampc_arena_new();
    ampc_arena_enter(outer);
    ampc_arena_enter(inner);
    assert_int_equal(ampc_arena_leave(outer), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "is not the innermost entered arena");
    assert_int_equal(ampc_arena_leave(inner), AMPC_OK);
    assert_int_equal(ampc_arena_leave(outer), AMPC_OK);
    assert_int_equal(ampc_arena_leave(outer), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "no arena is entered on this thread");
    ampc_arena_free(inner);
    ampc_arena_free(outer);
}

static void test_nested_arenas_put_new_tensors_in_the_innermost(void **state)
{
    (void)state;
    ampc_arena *outer = ampc_arena_new();
    ampc_arena *inner = ampc_arena_new();
    ampc_arena_enter(outer);
    ampc_arena_enter(inner);
    ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){16});
    ampc_arena_leave(inner);
    assert_true(ampc_arena_used(inner) > 0);
    assert_int_equal(ampc_arena_used(outer), 0);
    ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){16});
    assert_true(ampc_arena_used(outer) > 0);
    ampc_arena_leave(outer);
    ampc_arena_free(inner);
    ampc_arena_free(outer);
}

static void test_reset_uncounts_bytes_from_their_current_category(void **state)
{
    (void)state;
    ampc_arena *arena = ampc_arena_new();
    size_t activations = live_bytes(AMPC_MEMORY_ACTIVATIONS);
    size_t gradients = live_bytes(AMPC_MEMORY_GRADIENTS);
    ampc_arena_enter(arena);
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F64, 1, (int64_t[]){10});
    ampc_arena_leave(arena);
    ampc_tensor_set_category(tensor, AMPC_MEMORY_GRADIENTS);
    assert_int_equal(live_bytes(AMPC_MEMORY_ACTIVATIONS), activations);
    assert_int_equal(live_bytes(AMPC_MEMORY_GRADIENTS), gradients + 80);
    ampc_arena_reset(arena);
    assert_int_equal(live_bytes(AMPC_MEMORY_GRADIENTS), gradients);
    ampc_arena_free(arena);
}

static void test_wrap_inside_an_arena_still_borrows(void **state)
{
    (void)state;
    float buffer[4] = {1, 2, 3, 4};
    ampc_arena *arena = ampc_arena_new();
    size_t activations = live_bytes(AMPC_MEMORY_ACTIVATIONS);
    ampc_arena_enter(arena);
    ampc_tensor *tensor = ampc_tensor_wrap(buffer, AMPC_F32, 1, (int64_t[]){4});
    ampc_arena_leave(arena);
    assert_ptr_equal(ampc_tensor_data(tensor), buffer);
    assert_int_equal(live_bytes(AMPC_MEMORY_ACTIVATIONS), activations);
    ampc_arena_reset(arena);
    assert_true(buffer[3] == 4);
    ampc_arena_free(arena);
}

static void test_freeing_an_entered_arena_takes_it_off_the_stack(void **state)
{
    (void)state;
    ampc_arena *arena = ampc_arena_new();
    ampc_arena_enter(arena);
    ampc_arena_free(arena);
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){2});
    assert_int_equal(ampc_tensor_category(tensor), AMPC_MEMORY_OTHER);
    ampc_tensor_free(tensor);
    ampc_arena_free(NULL);
}

static void test_arena_functions_reject_null(void **state)
{
    (void)state;
    assert_int_equal(ampc_arena_enter(NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_arena_enter: argument arena is NULL");
    assert_int_equal(ampc_arena_leave(NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_arena_leave: argument arena is NULL");
    assert_int_equal(ampc_arena_reset(NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_arena_reset: argument arena is NULL");
    assert_int_equal(ampc_arena_capacity(NULL), 0);
    assert_int_equal(ampc_arena_used(NULL), 0);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_arena_capacity: argument arena is NULL");
}

static void test_entering_too_deep_is_an_error_not_a_crash(void **state)
{
    (void)state;
    ampc_arena *arena = ampc_arena_new();
    int entered = 0;
    while (ampc_arena_enter(arena) == AMPC_OK) entered++;
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "arenas are already entered on this thread");
    assert_true(entered >= 8);
    for (int level = 0; level < entered; level++)
        assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
    ampc_arena_free(arena);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensors_created_in_an_arena_count_as_activations),
        cmocka_unit_test(test_arena_footprint_is_constant_after_the_first_step),
        cmocka_unit_test(test_a_request_bigger_than_a_block_gets_a_block_sized_to_fit),
        cmocka_unit_test(test_a_view_of_an_arena_tensor_belongs_to_that_arena_wherever_made),
        cmocka_unit_test(test_an_arena_view_of_a_heap_tensor_holds_its_storage_until_reset),
        cmocka_unit_test(test_reset_while_entered_fails_and_changes_nothing),
        cmocka_unit_test(test_leave_must_name_the_innermost_arena),
        cmocka_unit_test(test_nested_arenas_put_new_tensors_in_the_innermost),
        cmocka_unit_test(test_reset_uncounts_bytes_from_their_current_category),
        cmocka_unit_test(test_wrap_inside_an_arena_still_borrows),
        cmocka_unit_test(test_freeing_an_entered_arena_takes_it_off_the_stack),
        cmocka_unit_test(test_arena_functions_reject_null),
        cmocka_unit_test(test_entering_too_deep_is_an_error_not_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
