/* Tests for src/core/memory.c: category names, live and peak byte counts, peak resets, and
 * the aligned allocator all tensor storage goes through. The counters are global, so every
 * check is against a snapshot taken just before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include <ampc/ampc.h>

#include "core/memory.h"

static ampc_memory_stats snapshot(void)
{
    ampc_memory_stats stats;
    assert_int_equal(ampc_memory_get_stats(&stats), AMPC_OK);
    return stats;
}

static void test_category_names_are_the_documented_spellings(void **state)
{
    (void)state;
    assert_string_equal(ampc_memory_category_name(AMPC_MEMORY_PARAMETERS), "parameters");
    assert_string_equal(ampc_memory_category_name(AMPC_MEMORY_GRADIENTS), "gradients");
    assert_string_equal(ampc_memory_category_name(AMPC_MEMORY_OPTIMIZER_STATE),
                        "optimizer_state");
    assert_string_equal(ampc_memory_category_name(AMPC_MEMORY_ACTIVATIONS), "activations");
    assert_string_equal(ampc_memory_category_name(AMPC_MEMORY_OTHER), "other");
    assert_string_equal(ampc_memory_category_name(AMPC_MEMORY_CATEGORY_COUNT), "invalid");
    assert_string_equal(ampc_memory_category_name((ampc_memory_category)-1), "invalid");
}

static void test_counting_moves_live_bytes_and_raises_the_peak(void **state)
{
    (void)state;
    ampc_memory_reset_peaks();
    ampc_memory_stats before = snapshot();
    ampc_memory_count(AMPC_MEMORY_GRADIENTS, 1000);
    ampc_memory_stats during = snapshot();
    assert_int_equal(during.live_bytes[AMPC_MEMORY_GRADIENTS],
                     before.live_bytes[AMPC_MEMORY_GRADIENTS] + 1000);
    assert_int_equal(during.peak_bytes[AMPC_MEMORY_GRADIENTS],
                     before.live_bytes[AMPC_MEMORY_GRADIENTS] + 1000);
    assert_int_equal(during.live_total, before.live_total + 1000);
    ampc_memory_count(AMPC_MEMORY_GRADIENTS, -1000);
    ampc_memory_stats after = snapshot();
    assert_int_equal(after.live_bytes[AMPC_MEMORY_GRADIENTS],
                     before.live_bytes[AMPC_MEMORY_GRADIENTS]);
    assert_int_equal(after.peak_bytes[AMPC_MEMORY_GRADIENTS],
                     during.peak_bytes[AMPC_MEMORY_GRADIENTS]);
    assert_int_equal(after.live_total, before.live_total);
    for (int category = 0; category < AMPC_MEMORY_CATEGORY_COUNT; category++)
        if (category != AMPC_MEMORY_GRADIENTS)
            assert_int_equal(after.live_bytes[category], before.live_bytes[category]);
}

static void test_peak_total_is_the_peak_of_the_sum_not_the_sum_of_peaks(void **state)
{
    (void)state;
    ampc_memory_reset_peaks();
    ampc_memory_stats before = snapshot();
    ampc_memory_count(AMPC_MEMORY_PARAMETERS, 300);
    ampc_memory_count(AMPC_MEMORY_PARAMETERS, -300);
    ampc_memory_count(AMPC_MEMORY_OPTIMIZER_STATE, 200);
    ampc_memory_count(AMPC_MEMORY_OPTIMIZER_STATE, -200);
    ampc_memory_stats after = snapshot();
    assert_int_equal(after.peak_bytes[AMPC_MEMORY_PARAMETERS],
                     before.live_bytes[AMPC_MEMORY_PARAMETERS] + 300);
    assert_int_equal(after.peak_bytes[AMPC_MEMORY_OPTIMIZER_STATE],
                     before.live_bytes[AMPC_MEMORY_OPTIMIZER_STATE] + 200);
    assert_int_equal(after.peak_total, before.live_total + 300);
}

static void test_reset_peaks_lowers_every_peak_to_the_live_count(void **state)
{
    (void)state;
    ampc_memory_count(AMPC_MEMORY_ACTIVATIONS, 5000);
    ampc_memory_count(AMPC_MEMORY_ACTIVATIONS, -5000);
    assert_true(snapshot().peak_total >= snapshot().live_total + 5000);
    ampc_memory_reset_peaks();
    ampc_memory_stats stats = snapshot();
    for (int category = 0; category < AMPC_MEMORY_CATEGORY_COUNT; category++)
        assert_int_equal(stats.peak_bytes[category], stats.live_bytes[category]);
    assert_int_equal(stats.peak_total, stats.live_total);
}

static void test_tensor_storage_is_counted_in_its_category(void **state)
{
    (void)state;
    ampc_memory_stats before = snapshot();
    ampc_tensor *tensor = ampc_tensor_zeros(AMPC_F16, 1, (int64_t[]){50});
    ampc_tensor_set_category(tensor, AMPC_MEMORY_OPTIMIZER_STATE);
    ampc_memory_stats during = snapshot();
    assert_int_equal(during.live_bytes[AMPC_MEMORY_OPTIMIZER_STATE],
                     before.live_bytes[AMPC_MEMORY_OPTIMIZER_STATE] + 100);
    assert_int_equal(during.live_bytes[AMPC_MEMORY_OTHER], before.live_bytes[AMPC_MEMORY_OTHER]);
    ampc_tensor_free(tensor);
    assert_int_equal(snapshot().live_total, before.live_total);
}

static void test_get_stats_rejects_null(void **state)
{
    (void)state;
    assert_int_equal(ampc_memory_get_stats(NULL), AMPC_ERR_NULL_ARGUMENT);
    assert_non_null(strstr(ampc_error_message(), "ampc_memory_get_stats: argument stats is NULL"));
    ampc_error_clear();
}

static void test_aligned_alloc_returns_64_byte_aligned_usable_memory(void **state)
{
    (void)state;
    const size_t sizes[] = {0, 1, 63, 64, 65, 1000, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        unsigned char *memory = ampc_aligned_alloc(sizes[i]);
        assert_non_null(memory);
        assert_int_equal((uintptr_t)memory % AMPC_STORAGE_ALIGNMENT, 0);
        memset(memory, 0xab, sizes[i]);
        ampc_aligned_free(memory);
    }
    assert_null(ampc_aligned_alloc(SIZE_MAX));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_category_names_are_the_documented_spellings),
        cmocka_unit_test(test_counting_moves_live_bytes_and_raises_the_peak),
        cmocka_unit_test(test_peak_total_is_the_peak_of_the_sum_not_the_sum_of_peaks),
        cmocka_unit_test(test_reset_peaks_lowers_every_peak_to_the_live_count),
        cmocka_unit_test(test_tensor_storage_is_counted_in_its_category),
        cmocka_unit_test(test_get_stats_rejects_null),
        cmocka_unit_test(test_aligned_alloc_returns_64_byte_aligned_usable_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
