/* Tests for src/io/state_dict.c: a module's state_dict saved and loaded by name, in place;
 * dtype conversion with one warning per tensor; strict and non-strict key checks; shape
 * mismatches that change nothing; and PyTorch's own CNN state_dict (the golden fixture) loaded
 * into ampc's layers and saved back byte for byte, when present. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ampc/ampc.h>
#include <ampc/io.h>
#include <ampc/nn.h>

#include "../tensor/tensor_testing.h"
#include "io_testing.h"

#define GOLDEN_CNN "/work/shared/golden/cnn_init.safetensors"

/* Never called: these tests only move state. */
static ampc_tensor *block_forward(ampc_module *self, const ampc_tensor *input)
{
    (void)self;
    return ampc_tensor_clone(input);
}

static const ampc_module_ops block_ops = {.type_name = "Block", .forward = block_forward};

/* Block(weight (2, 3), bias (3); child "norm": weight (3), running_mean (3) buffer,
 * num_batches_tracked I64 scalar buffer), every value from `seed` so two differ. */
static ampc_module *make_block(double seed, bool with_extra)
{
    ampc_module *block = ampc_module_new(&block_ops, NULL);
    ampc_module *norm = ampc_module_new(&block_ops, NULL);
    float values[6];
    for (int i = 0; i < 6; i++) values[i] = (float)(seed + i);
    ampc_tensor *shaped = ampc_tensor_from_data(values, AMPC_F32, 2, (int64_t[]){2, 3});
    assert_int_equal(ampc_module_add_parameter(block, "weight", shaped, AMPC_PARAM_WEIGHT),
                     AMPC_OK);
    assert_int_equal(ampc_module_add_parameter(block, "bias", ampc_tensor_full(AMPC_F32, 1,
                     (int64_t[]){3}, seed / 2), AMPC_PARAM_BIAS), AMPC_OK);
    assert_int_equal(ampc_module_add_parameter(norm, "weight", ampc_tensor_full(AMPC_F32, 1,
                     (int64_t[]){3}, seed + 1), AMPC_PARAM_NORM_WEIGHT), AMPC_OK);
    assert_int_equal(ampc_module_add_buffer(norm, "running_mean", ampc_tensor_full(AMPC_F32, 1,
                     (int64_t[]){3}, -seed), AMPC_BUFFER_RUNNING_MEAN), AMPC_OK);
    assert_int_equal(ampc_module_add_buffer(norm, "num_batches_tracked",
                     ampc_tensor_full(AMPC_I64, 0, NULL, seed * 10),
                     AMPC_BUFFER_NUM_BATCHES_TRACKED), AMPC_OK);
    if (with_extra)
        assert_int_equal(ampc_module_add_buffer(norm, "extra", ampc_tensor_zeros(AMPC_F32, 1,
                         (int64_t[]){1}), AMPC_BUFFER_OTHER), AMPC_OK);
    assert_int_equal(ampc_module_add_child(block, "norm", norm), AMPC_OK);
    return block;
}

/* Every tensor of a equals the one of b with the same name, as doubles. */
static void assert_same_state(const ampc_module *a, const ampc_module *b)
{
    for (int i = 0; i < ampc_module_num_tensors(a); i++) {
        ampc_named_tensor entry;
        assert_int_equal(ampc_module_tensor_at(a, i, &entry), AMPC_OK);
        ampc_tensor *other = ampc_module_find(b, entry.name);
        assert_non_null(other);
        int64_t n = ampc_tensor_numel(entry.tensor);
        assert_int_equal(ampc_tensor_numel(other), n);
        for (int64_t p = 0; p < n; p++)
            assert_true(value_at_position(entry.tensor, p) == value_at_position(other, p));
    }
}

static void test_save_then_load_restores_every_tensor_in_place(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    path_in(path, folder, "block.safetensors");
    ampc_module *saved = make_block(3, false), *loaded = make_block(-7, false);
    assert_int_equal(ampc_module_save(saved, path), AMPC_OK);

    ampc_safetensors *file = ampc_safetensors_read(path);
    const char *order[] = {"weight", "bias", "norm.weight", "norm.running_mean",
                           "norm.num_batches_tracked"};
    assert_int_equal(ampc_safetensors_count(file), 5);
    for (int i = 0; i < 5; i++) assert_string_equal(ampc_safetensors_name(file, i), order[i]);
    ampc_safetensors_free(file);

    ampc_tensor *weight = ampc_module_find(loaded, "weight");
    void *storage = ampc_tensor_data(weight);
    assert_int_equal(ampc_module_load(loaded, path, true), AMPC_OK);
    assert_ptr_equal(ampc_module_find(loaded, "weight"), weight); /* same handle, same bytes */
    assert_ptr_equal(ampc_tensor_data(weight), storage);
    assert_same_state(saved, loaded);
    ampc_module_free(saved);
    ampc_module_free(loaded);
    remove_temp_folder(folder);
}

/* Runs load with stderr captured into text (capacity 4096). */
static ampc_status load_capturing_stderr(ampc_module *module, const char *path, bool strict,
                                         char *text)
{
    fflush(stderr);
    FILE *capture = tmpfile();
    int saved = dup(fileno(stderr));
    dup2(fileno(capture), fileno(stderr));
    ampc_status status = ampc_module_load(module, path, strict);
    fflush(stderr);
    dup2(saved, fileno(stderr));
    close(saved);
    rewind(capture);
    size_t n = fread(text, 1, 4095, capture);
    text[n] = '\0';
    fclose(capture);
    return status;
}

static int count_lines(const char *text)
{
    int lines = 0;
    for (; *text; text++) lines += *text == '\n';
    return lines;
}

static void test_load_converts_other_dtypes_with_one_warning_per_tensor(void **state)
{
    (void)state;
    char folder[256], path[512], text[4096];
    make_temp_folder(folder);
    path_in(path, folder, "f64.safetensors");
    ampc_module *saved = make_block(0.1, false), *loaded = make_block(5, false);
    assert_int_equal(ampc_module_to_dtype(saved, AMPC_F64), AMPC_OK);
    ampc_tensor *bias = ampc_module_find(saved, "bias");
    assert_int_equal(ampc_tensor_set(bias, (int64_t[]){0}, 0.1), AMPC_OK);
    assert_int_equal(ampc_module_save(saved, path), AMPC_OK);
    assert_int_equal(load_capturing_stderr(loaded, path, true, text), AMPC_OK);
    /* Four float tensors convert; num_batches_tracked is I64 in both. */
    assert_int_equal(count_lines(text), 4);
    assert_non_null(strstr(text, "tensor \"norm.running_mean\" is F64 in the file and F32 in "
                                 "the module; converting"));
    assert_int_equal(ampc_tensor_dtype(ampc_module_find(loaded, "bias")), AMPC_F32);
    double value;
    assert_int_equal(ampc_tensor_get(ampc_module_find(loaded, "bias"), (int64_t[]){0}, &value),
                     AMPC_OK);
    assert_true(value == (double)0.1f);
    ampc_module_free(saved);
    ampc_module_free(loaded);
    remove_temp_folder(folder);
}

static void test_strict_load_lists_missing_and_unexpected_keys_and_changes_nothing(void **state)
{
    (void)state;
    char folder[256], path[512], text[4096];
    make_temp_folder(folder);
    path_in(path, folder, "block.safetensors");
    ampc_module *saved = make_block(1, false), *bigger = make_block(2, true);
    ampc_module *reference = make_block(2, true);
    ampc_tensor *unexpected = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){1});
    assert_int_equal(ampc_module_save(saved, path), AMPC_OK);
    ampc_safetensors_entry entries[6];
    for (int i = 0; i < 5; i++) {
        ampc_named_tensor entry;
        ampc_module_tensor_at(saved, i, &entry);
        entries[i] = (ampc_safetensors_entry){entry.name, entry.tensor};
    }
    entries[5] = (ampc_safetensors_entry){"head.weight", unexpected};
    assert_int_equal(ampc_safetensors_write(path, 6, entries, 0, NULL), AMPC_OK);

    assert_int_equal(load_capturing_stderr(bigger, path, true, text), AMPC_ERR_FORMAT);
    expect_error(AMPC_ERR_FORMAT, "1 missing key(s) [\"norm.extra\"], 1 unexpected key(s) "
                                  "[\"head.weight\"]");
    assert_same_state(bigger, reference);

    assert_int_equal(load_capturing_stderr(bigger, path, false, text), AMPC_OK);
    assert_same_state(saved, bigger); /* all but norm.extra came from the file */
    ampc_tensor_free(unexpected);
    ampc_module_free(saved);
    ampc_module_free(bigger);
    ampc_module_free(reference);
    remove_temp_folder(folder);
}

static void test_a_shape_mismatch_fails_naming_both_shapes_and_changes_nothing(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    path_in(path, folder, "block.safetensors");
    ampc_module *saved = make_block(1, false), *loaded = make_block(2, false);
    ampc_module *reference = make_block(2, false);
    ampc_named_tensor entries[5];
    ampc_safetensors_entry file_entries[5];
    ampc_tensor *wrong = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){4});
    for (int i = 0; i < 5; i++) {
        ampc_module_tensor_at(saved, i, &entries[i]);
        file_entries[i] = (ampc_safetensors_entry){entries[i].name, entries[i].tensor};
    }
    file_entries[3].tensor = wrong; /* norm.running_mean: (4) instead of (3) */
    assert_int_equal(ampc_safetensors_write(path, 5, file_entries, 0, NULL), AMPC_OK);
    assert_int_equal(ampc_module_load(loaded, path, true), AMPC_ERR_FORMAT);
    expect_error(AMPC_ERR_FORMAT,
                 "tensor \"norm.running_mean\" has shape [4]; the module's has [3]");
    assert_same_state(loaded, reference);

    assert_int_equal(ampc_module_load(loaded, "/nonexistent/x.safetensors", true), AMPC_ERR_IO);
    expect_error(AMPC_ERR_IO, "/nonexistent/x.safetensors");
    assert_int_equal(ampc_module_load(NULL, path, true), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "module");
    assert_int_equal(ampc_module_save(loaded, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "path");
    ampc_tensor_free(wrong);
    ampc_module_free(saved);
    ampc_module_free(loaded);
    ampc_module_free(reference);
    remove_temp_folder(folder);
}

static size_t read_whole(const char *path, unsigned char **bytes)
{
    FILE *stream = fopen(path, "rb");
    assert_non_null(stream);
    fseek(stream, 0, SEEK_END);
    size_t size = (size_t)ftell(stream);
    rewind(stream);
    *bytes = malloc(size);
    assert_int_equal(fread(*bytes, 1, size, stream), size);
    fclose(stream);
    return size;
}

/* The golden CNN: Conv 1->32 3x3 pad 1, BN, ReLU, MaxPool 2; Conv 32->64, BN, ReLU, MaxPool 2;
 * Flatten, Linear 3136->256, ReLU, Linear 256->10. */
static ampc_module *make_cnn(ampc_generator *generator)
{
    ampc_conv2d_options conv = ampc_conv2d_defaults();
    conv.padding[0] = conv.padding[1] = 1;
    ampc_pool2d_options pool = ampc_pool2d_defaults(2, 2);
    ampc_module *layers[] = {
        ampc_conv2d_new(1, 32, 3, 3, &conv, true, generator),
        ampc_batch_norm2d_new(32, 1e-5, 0.1, true, true), ampc_relu_new(),
        ampc_max_pool2d_new(&pool),
        ampc_conv2d_new(32, 64, 3, 3, &conv, true, generator),
        ampc_batch_norm2d_new(64, 1e-5, 0.1, true, true), ampc_relu_new(),
        ampc_max_pool2d_new(&pool), ampc_flatten_new(1, -1),
        ampc_linear_new(3136, 256, true, generator), ampc_relu_new(),
        ampc_linear_new(256, 10, true, generator),
    };
    return ampc_sequential_new(12, layers);
}

static void test_pytorch_cnn_state_dict_loads_strictly_and_saves_back_identically(void **state)
{
    (void)state;
    if (access(GOLDEN_CNN, R_OK) != 0) skip();
    ampc_generator *generator = ampc_generator_new(0);
    ampc_module *cnn = make_cnn(generator);
    assert_non_null(cnn);
    assert_int_equal(ampc_module_load(cnn, GOLDEN_CNN, true), AMPC_OK);
    ampc_safetensors *file = ampc_safetensors_read(GOLDEN_CNN);
    assert_int_equal(ampc_safetensors_count(file), ampc_module_num_tensors(cnn));
    for (int i = 0; i < ampc_safetensors_count(file); i++) {
        const char *name = ampc_safetensors_name(file, i);
        ampc_named_tensor entry;
        assert_int_equal(ampc_module_tensor_at(cnn, i, &entry), AMPC_OK);
        assert_string_equal(entry.name, name); /* the same state_dict order as PyTorch's */
        ampc_tensor *expected = ampc_safetensors_get(file, name);
        assert_int_equal(ampc_tensor_nbytes(expected), ampc_tensor_nbytes(entry.tensor));
        assert_memory_equal(ampc_tensor_data(expected), ampc_tensor_data(entry.tensor),
                            ampc_tensor_nbytes(expected));
        ampc_tensor_free(expected);
    }
    ampc_safetensors_free(file);

    /* Saved again, the file is the fixture byte for byte: same names, order, layout. */
    char folder[256], path[512];
    make_temp_folder(folder);
    assert_int_equal(ampc_module_save(cnn, path_in(path, folder, "cnn.safetensors")), AMPC_OK);
    unsigned char *saved = NULL, *golden = NULL;
    size_t saved_size = read_whole(path, &saved), golden_size = read_whole(GOLDEN_CNN, &golden);
    assert_int_equal(saved_size, golden_size);
    assert_memory_equal(saved, golden, golden_size);
    free(saved);
    free(golden);
    remove_temp_folder(folder);
    ampc_module_free(cnn);
    ampc_generator_free(generator);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_save_then_load_restores_every_tensor_in_place),
        cmocka_unit_test(test_load_converts_other_dtypes_with_one_warning_per_tensor),
        cmocka_unit_test(test_strict_load_lists_missing_and_unexpected_keys_and_changes_nothing),
        cmocka_unit_test(test_a_shape_mismatch_fails_naming_both_shapes_and_changes_nothing),
        cmocka_unit_test(test_pytorch_cnn_state_dict_loads_strictly_and_saves_back_identically),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
