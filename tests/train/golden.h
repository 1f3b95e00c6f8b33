/* The PyTorch golden run shared by tests/train/test_golden_*.c: trains a standard model from
 * the fixture's initial weights on the 20 fixture batches, in order, and checks every step's
 * loss and the final parameters and buffers against what PyTorch 1.13 computed with the same
 * recipe (tests/fixtures/make_fixtures.py).
 *
 * Tolerances. f64: each loss within 1e-4 relative; each final tensor's sum within 1e-3
 * relative to max(|sum|, its L2 norm) (a sum near zero, such as a bias's, has no useful
 * relative error of its own), its sum of squares within 1e-3 relative, and its first values
 * within 1e-3 relative to the tensor's RMS.
 *
 * f32: the same bounds, widened to FLOAT_NOISE_FACTOR times the distance between PyTorch's
 * own f32 and f64 runs of the same fixture wherever that is larger. Twenty steps amplify
 * f32 rounding: PyTorch's f32 losses drift from its f64 losses by up to 2.1e-3 relative (CNN,
 * SGD), so two correct f32 implementations that sum in different orders cannot agree to 1e-4
 * at every step. Where PyTorch's f32 run is stable (the MLP with SGD, the first steps of every
 * run) the bound stays 1e-4. The widening is FLOAT_NOISE_FACTOR times the largest relative
 * loss drift over the run (chaos shows up at any step once it has set in), for the losses and
 * the final sums and sums of squares alike; a final statistic may also differ by that factor
 * times its own drift. Single f32 values are not compared: after 20 chaotic steps one weight
 * may move by several times its own drift in PyTorch. */
#ifndef AMPC_TESTS_TRAIN_GOLDEN_H
#define AMPC_TESTS_TRAIN_GOLDEN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <ampc/ampc.h>
#include <ampc/io.h>
#include <ampc/models.h>
#include <ampc/nn.h>
#include <ampc/optim.h>

enum { GOLDEN_STEPS = 20, GOLDEN_BATCH = 128, GOLDEN_FIRST_VALUES = 8 };

static const double GOLDEN_LOSS_TOLERANCE = 1e-4, GOLDEN_SUM_TOLERANCE = 1e-3;
static const double FLOAT_NOISE_FACTOR = 8;

/* The CNN's conv biases feed a batch norm, which subtracts the channel mean: their exact
 * gradient is zero, so their f32 gradient is rounding residue, which AdamW scales up to
 * lr-sized steps. In f32 they follow each implementation's rounding, not the math, and are
 * compared in f64 only. */
static const char *const ROUNDING_DRIVEN[] = {"0.bias", "4.bias"};

static bool is_rounding_driven(const char *name)
{
    for (size_t i = 0; i < sizeof ROUNDING_DRIVEN / sizeof ROUNDING_DRIVEN[0]; i++)
        if (strcmp(name, ROUNDING_DRIVEN[i]) == 0) return true;
    return false;
}

/* tests/fixtures/<name>, found from this header's own path (CMake compiles with absolute
 * paths), so the tests run from any working directory. */
static void fixture_path(char *path, size_t size, const char *name)
{
    const char *here = __FILE__;
    const char *slash = strrchr(here, '/');
    int folder = slash ? (int)(slash - here) : 1;
    snprintf(path, size, "%.*s/../fixtures/%s", folder, slash ? here : ".", name);
}

typedef struct golden_batches {
    ampc_tensor *images; /* U8 (N, 1, 28, 28) */
    ampc_tensor *labels; /* I64 (N) */
} golden_batches;

static golden_batches golden_batches_load(void)
{
    char path[4096];
    fixture_path(path, sizeof path, "fashion_batches.safetensors");
    ampc_safetensors *file = ampc_safetensors_read(path);
    if (!file) fail_msg("%s", ampc_error_message());
    golden_batches batches = {ampc_safetensors_get(file, "images"),
                              ampc_safetensors_get(file, "labels")};
    ampc_safetensors_free(file);
    assert_non_null(batches.images);
    assert_non_null(batches.labels);
    assert_int_equal(ampc_tensor_dtype(batches.images), AMPC_U8);
    assert_true(ampc_tensor_dim(batches.images, 0) >= GOLDEN_STEPS * GOLDEN_BATCH);
    return batches;
}

static void golden_batches_free(golden_batches *batches)
{
    ampc_tensor_free(batches->images);
    ampc_tensor_free(batches->labels);
}

/* Batch `step` as PyTorch's images[batch].to(dtype) / 255.0: a division in the target dtype,
 * made in the current arena. */
static ampc_tensor *golden_inputs(const golden_batches *batches, int step, ampc_dtype dtype)
{
    int64_t shape[] = {GOLDEN_BATCH, 1, 28, 28};
    ampc_tensor *inputs = ampc_tensor_empty(dtype, 4, shape);
    assert_non_null(inputs);
    const uint8_t *pixels = (const uint8_t *)ampc_tensor_data(batches->images) +
                            (int64_t)step * GOLDEN_BATCH * 28 * 28;
    int64_t count = ampc_tensor_numel(inputs);
    if (dtype == AMPC_F32) {
        float *values = ampc_tensor_data(inputs);
        for (int64_t i = 0; i < count; i++) values[i] = (float)pixels[i] / 255.0f;
    } else {
        double *values = ampc_tensor_data(inputs);
        for (int64_t i = 0; i < count; i++) values[i] = (double)pixels[i] / 255.0;
    }
    return inputs;
}

static ampc_optimizer *golden_optimizer(ampc_module *model, const char *optimizer_name)
{
    int count = ampc_module_num_parameters(model);
    ampc_tensor *params[64];
    assert_true(count > 0 && count <= 64);
    for (int i = 0; i < count; i++) params[i] = ampc_module_parameter(model, i);
    if (strcmp(optimizer_name, "sgd") == 0) {
        ampc_sgd_options options = ampc_sgd_defaults();
        options.lr = 0.05;
        options.momentum = 0.9;
        return ampc_sgd_new(params, count, &options);
    }
    ampc_adam_options options = ampc_adamw_defaults();
    options.lr = 1e-3;
    options.weight_decay = 0.01;
    return ampc_adamw_new(params, count, &options);
}

static json_t *golden_expected(const char *model_name, const char *optimizer_name,
                               const char *mode)
{
    char name[256], path[4096];
    snprintf(name, sizeof name, "%s_%s_%s.json", model_name, optimizer_name, mode);
    fixture_path(path, sizeof path, name);
    json_error_t error;
    json_t *expected = json_load_file(path, 0, &error);
    if (!expected) fail_msg("%s: %s", path, error.text);
    return expected;
}

/* |got - expected| <= max(tolerance * scale, FLOAT_NOISE_FACTOR * |expected - other|), where
 * other is PyTorch's f64 value of the same quantity for an f32 run (NAN for an f64 run). */
static void check_close(const char *what, const char *tensor_name, double got, double expected,
                        double other, double scale, double tolerance)
{
    double allowed = tolerance * scale;
    if (!isnan(other)) allowed = fmax(allowed, FLOAT_NOISE_FACTOR * fabs(expected - other));
    if (!(fabs(got - expected) <= allowed))
        fail_msg("%s of %s: got %.10g, PyTorch %.10g (allowed %.3g)", what, tensor_name, got,
                 expected, allowed);
}

/* A number of the companion fixture at the same place, or NAN without one. */
static double other_number(const json_t *other, const char *key)
{
    return other ? json_number_value(json_object_get(other, key)) : NAN;
}

/* Sum, sum of squares and first values of one final tensor, against the fixture's. */
static void check_final_tensor(const char *name, const ampc_tensor *tensor,
                               const json_t *expected, const json_t *other, double tolerance)
{
    ampc_tensor *values64 = ampc_tensor_cast(tensor, AMPC_F64); /* contiguous F64 copy */
    assert_non_null(values64);
    const double *values = ampc_tensor_data(values64);
    int64_t count = ampc_tensor_numel(values64);
    double sum = 0, sum_sq = 0, first[GOLDEN_FIRST_VALUES];
    for (int64_t i = 0; i < count; i++) {
        sum += values[i];
        sum_sq += values[i] * values[i];
        if (i < GOLDEN_FIRST_VALUES) first[i] = values[i];
    }
    ampc_tensor_free(values64);
    double expected_sum = json_number_value(json_object_get(expected, "sum"));
    double expected_sum_sq = json_number_value(json_object_get(expected, "sum_sq"));
    double norm = sqrt(expected_sum_sq);
    check_close("sum", name, sum, expected_sum, other_number(other, "sum"),
                fmax(fabs(expected_sum), norm), tolerance);
    check_close("sum of squares", name, sum_sq, expected_sum_sq, other_number(other, "sum_sq"),
                fabs(expected_sum_sq), tolerance);
    double rms = count > 0 ? sqrt(expected_sum_sq / (double)count) : 0;
    const json_t *first_expected = json_object_get(expected, "first");
    for (size_t i = 0; !other && i < json_array_size(first_expected) && (int64_t)i < count; i++)
        check_close("a first value", name, first[i],
                    json_number_value(json_array_get(first_expected, i)), NAN, fmax(rms, 1e-12),
                    GOLDEN_SUM_TOLERANCE);
}

static void check_final_state(const ampc_module *model, const json_t *expected_final,
                              const json_t *other_final, double tolerance)
{
    assert_int_equal((size_t)ampc_module_num_tensors(model), json_object_size(expected_final));
    for (int i = 0; i < ampc_module_num_tensors(model); i++) {
        ampc_named_tensor entry;
        assert_int_equal(ampc_module_tensor_at(model, i, &entry), AMPC_OK);
        const json_t *expected = json_object_get(expected_final, entry.name);
        if (!expected) fail_msg("%s is not in the PyTorch state_dict", entry.name);
        if (other_final && is_rounding_driven(entry.name)) continue;
        check_final_tensor(entry.name, entry.tensor, expected,
                           other_final ? json_object_get(other_final, entry.name) : NULL,
                           tolerance);
    }
}

/* One step in the arena: the loss before the update, then backward and the update. */
static double golden_step(ampc_module *model, ampc_optimizer *optimizer, ampc_arena *arena,
                          const golden_batches *batches, int step, ampc_dtype dtype)
{
    assert_int_equal(ampc_optimizer_zero_grad(optimizer, false), AMPC_OK);
    assert_int_equal(ampc_arena_enter(arena), AMPC_OK);
    ampc_tensor *inputs = golden_inputs(batches, step, dtype);
    ampc_tensor *labels = ampc_tensor_narrow(batches->labels, 0, (int64_t)step * GOLDEN_BATCH,
                                             GOLDEN_BATCH);
    ampc_tensor *logits = ampc_module_forward(model, inputs);
    ampc_tensor *loss = logits ? ampc_cross_entropy(logits, labels, NULL) : NULL;
    if (!loss) fail_msg("step %d: %s", step, ampc_error_message());
    double value;
    assert_int_equal(ampc_tensor_get(loss, NULL, &value), AMPC_OK);
    assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
    assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
    assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
    if (ampc_optimizer_step(optimizer) != AMPC_OK)
        fail_msg("step %d: %s", step, ampc_error_message());
    return value;
}

/* The whole golden run of model_name ("mlp", "cnn") with optimizer_name ("sgd", "adamw") in
 * dtype (F32 or F64), checked against <model>_<optimizer>_<f32|f64>.json. */
static void golden_run(const char *model_name, const char *optimizer_name, ampc_dtype dtype)
{
    const char *mode = dtype == AMPC_F64 ? "f64" : "f32";
    char path[4096], init_name[64];
    snprintf(init_name, sizeof init_name, "%s_init.safetensors", model_name);
    fixture_path(path, sizeof path, init_name);

    ampc_generator *generator = ampc_generator_new(1);
    ampc_module *model = ampc_model_new(model_name, generator);
    if (!model) fail_msg("%s", ampc_error_message());
    if (ampc_module_load(model, path, true) != AMPC_OK) fail_msg("%s", ampc_error_message());
    assert_int_equal(ampc_module_to_dtype(model, dtype), AMPC_OK);
    ampc_module_set_training(model, true);
    ampc_optimizer *optimizer = golden_optimizer(model, optimizer_name);
    if (!optimizer) fail_msg("%s", ampc_error_message());

    golden_batches batches = golden_batches_load();
    json_t *expected = golden_expected(model_name, optimizer_name, mode);
    json_t *other = dtype == AMPC_F32 ? golden_expected(model_name, optimizer_name, "f64") : NULL;
    const json_t *losses = json_object_get(expected, "losses");
    assert_int_equal(json_array_size(losses), GOLDEN_STEPS);
    double noise = 0; /* relative: FLOAT_NOISE_FACTOR times PyTorch's f32 loss drift */
    for (int step = 0; other && step < GOLDEN_STEPS; step++) {
        double reference = json_number_value(json_array_get(losses, (size_t)step));
        double other_loss =
            json_number_value(json_array_get(json_object_get(other, "losses"), (size_t)step));
        noise = fmax(noise, FLOAT_NOISE_FACTOR * fabs(reference - other_loss) / reference);
    }
    double loss_tolerance = fmax(GOLDEN_LOSS_TOLERANCE, noise);
    ampc_arena *arena = ampc_arena_new();
    double worst = 0;
    for (int step = 0; step < GOLDEN_STEPS; step++) {
        double loss = golden_step(model, optimizer, arena, &batches, step, dtype);
        double reference = json_number_value(json_array_get(losses, (size_t)step));
        worst = fmax(worst, fabs(loss - reference) / fabs(reference));
        if (!(fabs(loss - reference) <= loss_tolerance * fabs(reference)))
            fail_msg("%s %s %s step %d: loss %.9g, PyTorch %.9g (relative error %.3g, allowed "
                     "%.3g)", model_name, optimizer_name, mode, step, loss, reference,
                     fabs(loss - reference) / fabs(reference), loss_tolerance);
    }
    /* The figure the README quotes: the worst step's relative loss error against PyTorch. */
    print_message("%s %s %s: worst relative loss error over %d steps %.3g (allowed %.3g)\n",
                  model_name, optimizer_name, mode, GOLDEN_STEPS, worst, loss_tolerance);
    check_final_state(model, json_object_get(expected, "final"),
                      other ? json_object_get(other, "final") : NULL,
                      fmax(GOLDEN_SUM_TOLERANCE, noise));
    json_decref(other);

    ampc_arena_free(arena);
    json_decref(expected);
    golden_batches_free(&batches);
    ampc_optimizer_free(optimizer);
    ampc_module_free(model);
    ampc_generator_free(generator);
}

#endif
