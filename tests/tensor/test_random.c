/* Tests for src/tensor/random.c: Philox4x32-10 against the Random123 known answers, where
 * each value of a fill comes from, independence from the thread count, generator state, and
 * the statistics of a million draws. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include <ampc/ampc.h>

#include "tensor/random.h"
#include "tensor_testing.h"

/* From Random123's kat_vectors: "philox4x32 10 <counter> <key> <expected>". */
static void test_philox_matches_the_random123_known_answers(void **state)
{
    (void)state;
    const struct {
        uint32_t counter[4], key[2], expected[4];
    } vectors[] = {
        {{0, 0, 0, 0}, {0, 0}, {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff},
         {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
         {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t v = 0; v < sizeof vectors / sizeof *vectors; v++) {
        uint32_t out[4];
        ampc_philox4x32_10(vectors[v].counter, vectors[v].key, out);
        for (int word = 0; word < 4; word++) assert_int_equal(out[word], vectors[v].expected[word]);
    }
}

static void test_rand_value_i_is_word_i_mod_4_of_block_i_div_4(void **state)
{
    (void)state;
    ampc_generator *generator = ampc_generator_new(0);
    ampc_tensor *values = ampc_tensor_rand(generator, AMPC_F32, 1, (int64_t[]){8});
    const float *data = ampc_tensor_data(values);
    const uint32_t key[2] = {0, 0};
    for (uint32_t block = 0; block < 2; block++) {
        uint32_t words[4];
        ampc_philox4x32_10((uint32_t[]){block, 0, 0, 0}, key, words);
        for (int word = 0; word < 4; word++)
            assert_true(data[block * 4 + word] == (float)(words[word] >> 8) * 0x1p-24f);
    }
    assert_true(data[0] == (float)(0x6627e8d5u >> 8) * 0x1p-24f);
    ampc_tensor_free(values);
    ampc_generator_free(generator);
}

static void test_the_seed_is_the_key_and_the_offset_the_counter(void **state)
{
    (void)state;
    const uint64_t seed = 0x299f31d0a4093822u, offset = 0x85a308d3243f6a88u;
    ampc_generator *generator = ampc_generator_new(seed);
    ampc_generator_set_state(generator, seed, offset);
    ampc_tensor *values = ampc_tensor_rand(generator, AMPC_F32, 1, (int64_t[]){4});
    uint32_t words[4];
    ampc_philox4x32_10((uint32_t[]){0x243f6a88, 0x85a308d3, 0, 0},
                       (uint32_t[]){0xa4093822, 0x299f31d0}, words);
    for (int word = 0; word < 4; word++)
        assert_true(((float *)ampc_tensor_data(values))[word] ==
                    (float)(words[word] >> 8) * 0x1p-24f);
    ampc_tensor_free(values);
    ampc_generator_free(generator);
}

static void test_a_fill_is_bitwise_identical_for_any_thread_count(void **state)
{
    (void)state;
    const size_t n = 100003; /* not a multiple of anything the fill splits by */
    const ampc_dtype dtypes[] = {AMPC_F32, AMPC_BF16, AMPC_F64};
    for (size_t d = 0; d < sizeof dtypes / sizeof *dtypes; d++) {
        for (int distribution = 0; distribution < AMPC_RANDOM_DISTRIBUTION_COUNT; distribution++) {
            size_t bytes = n * ampc_dtype_size(dtypes[d]);
            unsigned char *single = malloc(bytes), *several = malloc(bytes);
            assert_int_equal(ampc_random_fill(single, dtypes[d], n, distribution, -1, 2, 42, 7, 1),
                             AMPC_OK);
            for (int threads = 2; threads <= 5; threads++) {
                assert_int_equal(ampc_random_fill(several, dtypes[d], n, distribution, -1, 2, 42,
                                                  7, threads),
                                 AMPC_OK);
                assert_memory_equal(single, several, bytes);
            }
            free(single);
            free(several);
        }
    }
}

static void test_each_fill_advances_the_offset_by_the_blocks_it_used(void **state)
{
    (void)state;
    ampc_generator *generator = ampc_generator_new(5);
    ampc_tensor_free(ampc_tensor_rand(generator, AMPC_F32, 1, (int64_t[]){10}));
    assert_int_equal(ampc_generator_offset(generator), 3); /* ceil(10 / 4) */
    ampc_tensor_free(ampc_tensor_randn(generator, AMPC_F16, 1, (int64_t[]){5}));
    assert_int_equal(ampc_generator_offset(generator), 6); /* + ceil(5 / 2) */
    ampc_tensor_free(ampc_tensor_uniform(generator, AMPC_F32, 0, NULL, -1, 1));
    assert_int_equal(ampc_generator_offset(generator), 7);
    assert_int_equal(ampc_generator_seed(generator), 5);
    ampc_generator_free(generator);
}

static void test_consecutive_fills_continue_one_stream(void **state)
{
    (void)state;
    ampc_generator *split = ampc_generator_new(11), *whole = ampc_generator_new(11);
    ampc_tensor *first = ampc_tensor_rand(split, AMPC_F32, 1, (int64_t[]){8});
    ampc_tensor *second = ampc_tensor_rand(split, AMPC_F32, 1, (int64_t[]){8});
    ampc_tensor *both = ampc_tensor_rand(whole, AMPC_F32, 1, (int64_t[]){16});
    assert_memory_equal(ampc_tensor_data(first), ampc_tensor_data(both), 8 * sizeof(float));
    assert_memory_equal(ampc_tensor_data(second), (float *)ampc_tensor_data(both) + 8,
                        8 * sizeof(float));
    assert_memory_not_equal(ampc_tensor_data(first), ampc_tensor_data(second), 8 * sizeof(float));
    ampc_tensor *tensors[] = {first, second, both};
    for (size_t i = 0; i < sizeof tensors / sizeof *tensors; i++) ampc_tensor_free(tensors[i]);
    ampc_generator_free(split);
    ampc_generator_free(whole);
}

static void test_restoring_saved_state_reproduces_the_values(void **state)
{
    (void)state;
    ampc_generator *generator = ampc_generator_new(123);
    ampc_tensor_free(ampc_tensor_randn(generator, AMPC_F32, 1, (int64_t[]){33}));
    uint64_t seed = ampc_generator_seed(generator), offset = ampc_generator_offset(generator);
    ampc_tensor *before = ampc_tensor_randn(generator, AMPC_F32, 2, (int64_t[]){7, 9});
    ampc_tensor_free(ampc_tensor_rand(generator, AMPC_F32, 1, (int64_t[]){5}));
    assert_int_equal(ampc_generator_set_state(generator, seed, offset), AMPC_OK);
    ampc_tensor *after = ampc_tensor_randn(generator, AMPC_F32, 2, (int64_t[]){7, 9});
    assert_memory_equal(ampc_tensor_data(before), ampc_tensor_data(after), 63 * sizeof(float));
    ampc_tensor_free(before);
    ampc_tensor_free(after);
    ampc_generator_free(generator);
}

static void sample_moments(const ampc_tensor *tensor, double *mean, double *variance)
{
    int64_t n = ampc_tensor_numel(tensor);
    const float *data = ampc_tensor_data(tensor);
    double sum = 0, sum_squares = 0;
    for (int64_t i = 0; i < n; i++) sum += data[i];
    *mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++) sum_squares += (data[i] - *mean) * (data[i] - *mean);
    *variance = sum_squares / (double)(n - 1);
}

static void test_a_million_uniforms_have_the_right_range_mean_and_variance(void **state)
{
    (void)state;
    ampc_generator *generator = ampc_generator_new(2024);
    ampc_tensor *unit = ampc_tensor_rand(generator, AMPC_F32, 1, (int64_t[]){1000000});
    const float *data = ampc_tensor_data(unit);
    for (int i = 0; i < 1000000; i++) assert_true(data[i] >= 0.0f && data[i] < 1.0f);
    double mean, variance;
    sample_moments(unit, &mean, &variance);
    assert_true(fabs(mean - 0.5) < 0.005);
    assert_true(fabs(variance - 1.0 / 12.0) < 0.001);
    ampc_tensor *shifted = ampc_tensor_uniform(generator, AMPC_F32, 1, (int64_t[]){1000000}, -2, 3);
    data = ampc_tensor_data(shifted);
    for (int i = 0; i < 1000000; i++) assert_true(data[i] >= -2.0f && data[i] < 3.0f);
    sample_moments(shifted, &mean, &variance);
    assert_true(fabs(mean - 0.5) < 0.025);
    assert_true(fabs(variance - 25.0 / 12.0) < 0.025);
    ampc_tensor_free(unit);
    ampc_tensor_free(shifted);
    ampc_generator_free(generator);
}

static void test_a_million_normals_have_mean_zero_and_unit_spread(void **state)
{
    (void)state;
    ampc_generator *generator = ampc_generator_new(7);
    ampc_tensor *normal = ampc_tensor_randn(generator, AMPC_F32, 1, (int64_t[]){1000000});
    double mean, variance;
    sample_moments(normal, &mean, &variance);
    assert_true(fabs(mean) < 0.005);
    assert_true(fabs(sqrt(variance) - 1.0) < 0.005);
    const float *data = ampc_tensor_data(normal);
    int within_one = 0;
    for (int i = 0; i < 1000000; i++) {
        assert_true(isfinite(data[i]));
        within_one += fabsf(data[i]) < 1.0f;
    }
    assert_true(fabs(within_one / 1e6 - 0.682689) < 0.003);
    ampc_tensor_free(normal);
    ampc_generator_free(generator);
}

static void test_a_low_precision_fill_is_the_fp32_fill_converted(void **state)
{
    (void)state;
    ampc_generator *wide = ampc_generator_new(99), *narrow = ampc_generator_new(99);
    ampc_tensor *single = ampc_tensor_randn(wide, AMPC_F32, 1, (int64_t[]){5000});
    ampc_tensor *brain = ampc_tensor_randn(narrow, AMPC_BF16, 1, (int64_t[]){5000});
    for (int i = 0; i < 5000; i++)
        assert_int_equal(((uint16_t *)ampc_tensor_data(brain))[i],
                         ampc_f32_to_bf16(((float *)ampc_tensor_data(single))[i]));
    ampc_tensor_free(single);
    ampc_tensor_free(brain);
    ampc_generator_free(wide);
    ampc_generator_free(narrow);
}

static void test_random_fills_reject_bad_arguments(void **state)
{
    (void)state;
    ampc_generator *generator = ampc_generator_new(1);
    assert_null(ampc_tensor_rand(generator, AMPC_I32, 1, (int64_t[]){4}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "ampc_tensor_rand: dtype is I32; expected a float dtype");
    assert_null(ampc_tensor_randn(NULL, AMPC_F32, 1, (int64_t[]){4}));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_tensor_randn: argument generator is NULL");
    assert_null(ampc_tensor_uniform(generator, AMPC_F32, 1, (int64_t[]){4}, 1, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_uniform: low is 1 and high is 0");
    assert_null(ampc_tensor_uniform(generator, AMPC_F32, 1, (int64_t[]){4}, -1e39, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "difference fits in fp32");
    assert_null(ampc_tensor_rand(generator, AMPC_F32, 1, (int64_t[]){-4}));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_rand: shape[0] is -4");
    assert_int_equal(ampc_generator_offset(generator), 0);
    assert_int_equal(ampc_generator_set_state(NULL, 1, 2), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_generator_set_state: argument generator is NULL");
    ampc_generator_free(generator);
    ampc_generator_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_matches_the_random123_known_answers),
        cmocka_unit_test(test_rand_value_i_is_word_i_mod_4_of_block_i_div_4),
        cmocka_unit_test(test_the_seed_is_the_key_and_the_offset_the_counter),
        cmocka_unit_test(test_a_fill_is_bitwise_identical_for_any_thread_count),
        cmocka_unit_test(test_each_fill_advances_the_offset_by_the_blocks_it_used),
        cmocka_unit_test(test_consecutive_fills_continue_one_stream),
        cmocka_unit_test(test_restoring_saved_state_reproduces_the_values),
        cmocka_unit_test(test_a_million_uniforms_have_the_right_range_mean_and_variance),
        cmocka_unit_test(test_a_million_normals_have_mean_zero_and_unit_spread),
        cmocka_unit_test(test_a_low_precision_fill_is_the_fp32_fill_converted),
        cmocka_unit_test(test_random_fills_reject_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
