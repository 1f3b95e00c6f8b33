/* Tests for src/io/loader.c on a small synthetic data set whose label is the sample index and
 * whose pixels encode it, so every batch can be checked for which samples it holds: each epoch
 * covers every sample once, the order is a function of (seed, epoch) only, drop_last and the
 * batch counts, pixel scaling against v / 255 computed here, normalisation, arenas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include <ampc/ampc.h>
#include <ampc/io.h>

#include "../tensor/tensor_testing.h"

enum { SAMPLES = 103, HEIGHT = 4, WIDTH = 5, PIXELS = HEIGHT * WIDTH };

/* Sample i: label i, pixel k = (i * 7 + k * 13) % 256, so both identify the sample. */
static ampc_dataset make_dataset(int64_t samples)
{
    static unsigned char pixels[SAMPLES * PIXELS];
    static int64_t labels[SAMPLES];
    for (int64_t i = 0; i < samples; i++) {
        labels[i] = i;
        for (int k = 0; k < PIXELS; k++)
            pixels[i * PIXELS + k] = (unsigned char)((i * 7 + k * 13) % 256);
    }
    ampc_dataset dataset = {
        .images = ampc_tensor_from_data(pixels, AMPC_U8, 4, (int64_t[]){samples, 1, HEIGHT, WIDTH}),
        .labels = ampc_tensor_from_data(labels, AMPC_I64, 1, (int64_t[]){samples}),
    };
    assert_non_null(dataset.images);
    assert_non_null(dataset.labels);
    return dataset;
}

static ampc_loader_options options_with(int64_t batch_size, bool shuffle, uint64_t seed,
                                        bool drop_last)
{
    ampc_loader_options options = ampc_loader_defaults();
    options.batch_size = batch_size;
    options.shuffle = shuffle;
    options.seed = seed;
    options.drop_last = drop_last;
    return options;
}

/* Runs one epoch, writing the sample order into order; returns the number of samples. */
static int64_t run_epoch(ampc_loader *loader, int64_t *order, int64_t *batches)
{
    ampc_tensor *images, *labels;
    int64_t count = 0;
    *batches = 0;
    while (ampc_loader_next(loader, &images, &labels)) {
        const int64_t *values = ampc_tensor_data(labels);
        for (int64_t b = 0; b < ampc_tensor_dim(labels, 0); b++) order[count++] = values[b];
        (*batches)++;
        ampc_tensor_free(images);
        ampc_tensor_free(labels);
    }
    assert_null(images);
    assert_null(labels);
    expect_no_error();
    return count;
}

static void test_each_epoch_visits_every_sample_exactly_once(void **state)
{
    (void)state;
    ampc_dataset dataset = make_dataset(SAMPLES);
    ampc_loader_options options = options_with(10, true, 42, false);
    ampc_loader *loader = ampc_loader_new(&dataset, &options);
    assert_int_equal(ampc_loader_batches_per_epoch(loader), 11);
    int64_t order[SAMPLES], batches;
    for (int epoch = 0; epoch < 3; epoch++) {
        assert_int_equal(ampc_loader_epoch(loader), epoch);
        assert_int_equal(run_epoch(loader, order, &batches), SAMPLES);
        assert_int_equal(batches, 11);
        bool seen[SAMPLES] = {false};
        for (int i = 0; i < SAMPLES; i++) {
            assert_false(seen[order[i]]);
            seen[order[i]] = true;
        }
    }
    assert_int_equal(ampc_loader_epoch(loader), 3);
    ampc_loader_free(loader);
    ampc_dataset_free(&dataset);
}

static void test_order_depends_on_seed_and_epoch_only(void **state)
{
    (void)state;
    ampc_dataset dataset = make_dataset(SAMPLES);
    ampc_loader_options seed_1 = options_with(10, true, 1, false);
    ampc_loader_options seed_1_other_batch = options_with(7, true, 1, false);
    ampc_loader_options seed_2 = options_with(10, true, 2, false);
    ampc_loader *a = ampc_loader_new(&dataset, &seed_1);
    ampc_loader *b = ampc_loader_new(&dataset, &seed_1_other_batch);
    ampc_loader *c = ampc_loader_new(&dataset, &seed_2);
    int64_t a0[SAMPLES], a1[SAMPLES], b0[SAMPLES], b1[SAMPLES], c0[SAMPLES], batches;
    run_epoch(a, a0, &batches);
    run_epoch(a, a1, &batches);
    run_epoch(b, b0, &batches);
    run_epoch(b, b1, &batches);
    run_epoch(c, c0, &batches);
    assert_memory_equal(a0, b0, sizeof a0); /* same seed and epoch: same order */
    assert_memory_equal(a1, b1, sizeof a1);
    assert_memory_not_equal(a0, a1, sizeof a0); /* another epoch: another order */
    assert_memory_not_equal(a0, c0, sizeof a0); /* another seed: another order */
    int64_t identity = 0;
    for (int i = 0; i < SAMPLES; i++) identity += a0[i] == i;
    assert_true(identity < SAMPLES / 4);
    ampc_loader_free(a);
    ampc_loader_free(b);
    ampc_loader_free(c);
    ampc_dataset_free(&dataset);
}

static void test_without_shuffle_batches_follow_file_order(void **state)
{
    (void)state;
    ampc_dataset dataset = make_dataset(SAMPLES);
    ampc_loader_options options = options_with(16, false, 5, false);
    ampc_loader *loader = ampc_loader_new(&dataset, &options);
    int64_t order[SAMPLES], batches;
    for (int epoch = 0; epoch < 2; epoch++) {
        assert_int_equal(run_epoch(loader, order, &batches), SAMPLES);
        for (int i = 0; i < SAMPLES; i++) assert_int_equal(order[i], i);
    }
    ampc_loader_free(loader);
    ampc_dataset_free(&dataset);
}

static void test_drop_last_drops_only_the_short_final_batch(void **state)
{
    (void)state;
    ampc_dataset dataset = make_dataset(SAMPLES);
    struct { int64_t batch; bool drop_last; int64_t batches, samples, last; } cases[] = {
        {10, true, 10, 100, 10}, {10, false, 11, 103, 3}, {103, true, 1, 103, 103},
        {200, true, 0, 0, 0},    {200, false, 1, 103, 103}, {1, true, 103, 103, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ampc_loader_options options = options_with(cases[i].batch, true, 9, cases[i].drop_last);
        ampc_loader *loader = ampc_loader_new(&dataset, &options);
        assert_int_equal(ampc_loader_batches_per_epoch(loader), cases[i].batches);
        ampc_tensor *images, *labels;
        int64_t batches = 0, samples = 0, last = 0;
        while (ampc_loader_next(loader, &images, &labels)) {
            last = ampc_tensor_dim(images, 0);
            assert_int_equal(ampc_tensor_dim(labels, 0), last);
            batches++;
            samples += last;
            ampc_tensor_free(images);
            ampc_tensor_free(labels);
        }
        assert_int_equal(batches, cases[i].batches);
        assert_int_equal(samples, cases[i].samples);
        assert_int_equal(last, cases[i].last);
        assert_int_equal(ampc_loader_epoch(loader), 1);
        ampc_loader_free(loader);
    }
    ampc_dataset_free(&dataset);
}

/* Checks a batch's images against the expected value of each of its samples' pixels. */
static void check_pixels(const ampc_tensor *images, const ampc_tensor *labels,
                         double (*expected)(int value))
{
    assert_int_equal(ampc_tensor_ndim(images), 4);
    assert_int_equal(ampc_tensor_dim(images, 1), 1);
    assert_int_equal(ampc_tensor_dim(images, 2), HEIGHT);
    assert_int_equal(ampc_tensor_dim(images, 3), WIDTH);
    const int64_t *samples = ampc_tensor_data(labels);
    for (int64_t b = 0; b < ampc_tensor_dim(images, 0); b++)
        for (int k = 0; k < PIXELS; k++) {
            int value = (int)((samples[b] * 7 + k * 13) % 256);
            double got = value_at_position(images, b * PIXELS + k);
            if (got != expected(value))
                fail_msg("sample %lld pixel %d: %.17g, expected %.17g", (long long)samples[b], k,
                         got, expected(value));
        }
}

static double f32_over_255(int value) { return (float)value / 255.0f; }
static double f64_over_255(int value) { return value / 255.0; }
static double f16_over_255(int value) { return ampc_f16_to_f32(ampc_f64_to_f16(value / 255.0)); }
static double bf16_over_255(int value) { return ampc_bf16_to_f32(ampc_f64_to_bf16(value / 255.0)); }
static double f64_normalized(int value) { return (value / 255.0 - 0.2860) / 0.3530; }

static void test_pixels_are_scaled_to_the_unit_interval_in_each_float_dtype(void **state)
{
    (void)state;
    ampc_dataset dataset = make_dataset(SAMPLES);
    struct { ampc_dtype dtype; bool normalize; double (*expected)(int); } cases[] = {
        {AMPC_F32, false, f32_over_255}, {AMPC_F64, false, f64_over_255},
        {AMPC_F16, false, f16_over_255}, {AMPC_BF16, false, bf16_over_255},
        {AMPC_F64, true, f64_normalized},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ampc_loader_options options = options_with(32, true, 3, false);
        options.dtype = cases[i].dtype;
        options.normalize = cases[i].normalize;
        options.mean = 0.2860;
        options.std = 0.3530;
        ampc_loader *loader = ampc_loader_new(&dataset, &options);
        ampc_tensor *images, *labels;
        while (ampc_loader_next(loader, &images, &labels)) {
            assert_int_equal(ampc_tensor_dtype(images), cases[i].dtype);
            check_pixels(images, labels, cases[i].expected);
            if (!cases[i].normalize)
                for (int64_t p = 0; p < ampc_tensor_numel(images); p++) {
                    double value = value_at_position(images, p);
                    assert_true(value >= 0 && value <= 1);
                }
            ampc_tensor_free(images);
            ampc_tensor_free(labels);
        }
        ampc_loader_free(loader);
    }
    ampc_dataset_free(&dataset);
}

static void test_batches_made_in_an_arena_keep_memory_flat(void **state)
{
    (void)state;
    ampc_dataset dataset = make_dataset(SAMPLES);
    ampc_loader_options options = options_with(8, true, 11, false);
    ampc_loader *loader = ampc_loader_new(&dataset, &options);
    ampc_arena *arena = ampc_arena_new();
    size_t other = live_bytes(AMPC_MEMORY_OTHER), capacity = 0;
    for (int epoch = 0; epoch < 3; epoch++) {
        for (;;) {
            ampc_tensor *images, *labels;
            assert_int_equal(ampc_arena_enter(arena), AMPC_OK);
            bool more = ampc_loader_next(loader, &images, &labels);
            assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
            assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
            if (!more) break;
        }
        if (epoch == 0) capacity = ampc_arena_capacity(arena);
        assert_int_equal(ampc_arena_capacity(arena), capacity);
        assert_int_equal(live_bytes(AMPC_MEMORY_OTHER), other);
    }
    ampc_arena_free(arena);
    ampc_loader_free(loader);
    ampc_dataset_free(&dataset);
}

static void test_an_empty_data_set_gives_empty_epochs(void **state)
{
    (void)state;
    ampc_dataset dataset = make_dataset(0);
    ampc_loader_options options = ampc_loader_defaults();
    ampc_loader *loader = ampc_loader_new(&dataset, &options);
    assert_non_null(loader);
    assert_int_equal(ampc_loader_batches_per_epoch(loader), 0);
    ampc_tensor *images, *labels;
    assert_false(ampc_loader_next(loader, &images, &labels));
    expect_no_error();
    assert_int_equal(ampc_loader_epoch(loader), 1);
    ampc_loader_free(loader);
    ampc_dataset_free(&dataset);
}

/* The PyTorch fixture's 2560 images and labels, fed in file order: 20 batches of 128 whose
 * pixels are images / 255 in fp32, as the golden runs computed them. */
static void test_golden_batches_in_file_order_match_the_fixture(void **state)
{
    (void)state;
    const char *path = "/work/shared/golden/fashion_batches.safetensors";
    if (access(path, R_OK) != 0) skip();
    ampc_safetensors *file = ampc_safetensors_read(path);
    ampc_dataset dataset = {ampc_safetensors_get(file, "images"),
                            ampc_safetensors_get(file, "labels")};
    ampc_safetensors_free(file);
    ampc_loader_options options = options_with(128, false, 0, true);
    ampc_loader *loader = ampc_loader_new(&dataset, &options);
    assert_int_equal(ampc_loader_batches_per_epoch(loader), 20);
    const unsigned char *pixels = ampc_tensor_data(dataset.images);
    const int64_t *labels = ampc_tensor_data(dataset.labels);
    ampc_tensor *images, *batch_labels;
    for (int64_t step = 0; ampc_loader_next(loader, &images, &batch_labels); step++) {
        const float *values = ampc_tensor_data(images);
        for (int64_t i = 0; i < 128 * 784; i++)
            assert_true(values[i] == (float)pixels[step * 128 * 784 + i] / 255.0f);
        assert_memory_equal(ampc_tensor_data(batch_labels), labels + step * 128,
                            128 * sizeof(int64_t));
        ampc_tensor_free(images);
        ampc_tensor_free(batch_labels);
    }
    ampc_loader_free(loader);
    ampc_dataset_free(&dataset);
}

static void test_bad_options_and_data_sets_are_refused(void **state)
{
    (void)state;
    ampc_dataset dataset = make_dataset(SAMPLES);
    ampc_loader_options options = ampc_loader_defaults();
    options.batch_size = 0;
    assert_null(ampc_loader_new(&dataset, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->batch_size is 0; expected >= 1");
    options = ampc_loader_defaults();
    options.dtype = AMPC_I32;
    assert_null(ampc_loader_new(&dataset, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "options->dtype is I32; expected F64, F32, F16 or BF16");
    options = ampc_loader_defaults();
    options.normalize = true;
    options.std = 0;
    assert_null(ampc_loader_new(&dataset, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "std > 0");
    options = ampc_loader_defaults();
    assert_null(ampc_loader_new(NULL, &options));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "dataset");
    assert_null(ampc_loader_new(&dataset, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "options");
    ampc_dataset mismatched = {dataset.images, NULL};
    mismatched.labels = ampc_tensor_zeros(AMPC_I64, 1, (int64_t[]){5});
    assert_null(ampc_loader_new(&mismatched, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "expected contiguous I64 (N) with N = 103");
    ampc_tensor_free(mismatched.labels);
    ampc_tensor *images, *labels;
    assert_false(ampc_loader_next(NULL, &images, &labels));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "loader");
    assert_null(images);
    ampc_loader_free(NULL);
    ampc_dataset_free(&dataset);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_epoch_visits_every_sample_exactly_once),
        cmocka_unit_test(test_order_depends_on_seed_and_epoch_only),
        cmocka_unit_test(test_without_shuffle_batches_follow_file_order),
        cmocka_unit_test(test_drop_last_drops_only_the_short_final_batch),
        cmocka_unit_test(test_pixels_are_scaled_to_the_unit_interval_in_each_float_dtype),
        cmocka_unit_test(test_batches_made_in_an_arena_keep_memory_flat),
        cmocka_unit_test(test_an_empty_data_set_gives_empty_epochs),
        cmocka_unit_test(test_golden_batches_in_file_order_match_the_fixture),
        cmocka_unit_test(test_bad_options_and_data_sets_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
