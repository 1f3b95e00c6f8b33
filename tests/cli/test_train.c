/* Tests for `ampc train` (cli/cmd_train.c), driving the real executable (argv[1]): a short run
 * on a small IDX folder written from the golden fixture batches, started from PyTorch's
 * initial weights without shuffling, logs PyTorch's own losses step for step and ends with a
 * summary JSON line; and every bad flag or value is a usage error (exit 2) naming it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli_testing.h"

#include <ampc/ampc.h>
#include <ampc/io.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *ampc_path;
static char data_dir[256], log_path[300], fixtures[4096];

enum { TRAIN_IMAGES = 512, TEST_IMAGES = 256, STEPS = 3 };


static void run_ampc(const char *arguments, run_result *result)
{
    run_ampc_at(ampc_path, "", arguments, result);
}

static void write_be32(FILE *file, uint32_t value)
{
    unsigned char bytes[4] = {value >> 24, value >> 16, value >> 8, value};
    assert_int_equal(fwrite(bytes, 1, 4, file), 4);
}

/* An uncompressed IDX file of unsigned bytes. */
static void write_idx(const char *name, int ndim, const uint32_t *dims, const uint8_t *data)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    write_be32(file, 0x0800u | (uint32_t)ndim);
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        write_be32(file, dims[d]);
        count *= dims[d];
    }
    assert_int_equal(fwrite(data, 1, count, file), count);
    fclose(file);
}

/* train-* from the first fixture images, t10k-* from the next ones. */
static int write_data_folder(void **state)
{
    (void)state;
    char path[4200];
    snprintf(path, sizeof path, "%s/fashion_batches.safetensors", fixtures);
    ampc_safetensors *file = ampc_safetensors_read(path);
    if (!file) fail_msg("%s", ampc_error_message());
    ampc_tensor *images = ampc_safetensors_get(file, "images");
    ampc_tensor *labels = ampc_safetensors_get(file, "labels");
    ampc_safetensors_free(file);
    assert_non_null(images);
    assert_non_null(labels);
    const uint8_t *pixels = ampc_tensor_data(images);
    const int64_t *classes = ampc_tensor_data(labels);
    uint8_t label_bytes[TRAIN_IMAGES + TEST_IMAGES];
    for (int i = 0; i < TRAIN_IMAGES + TEST_IMAGES; i++) label_bytes[i] = (uint8_t)classes[i];

    snprintf(data_dir, sizeof data_dir, "/tmp/ampc_test_train_%d", (int)getpid());
    mkdir(data_dir, 0700);
    snprintf(log_path, sizeof log_path, "%s/log.jsonl", data_dir);
    uint32_t train_dims[] = {TRAIN_IMAGES, 28, 28}, test_dims[] = {TEST_IMAGES, 28, 28};
    write_idx("train-images-idx3-ubyte", 3, train_dims, pixels);
    write_idx("train-labels-idx1-ubyte", 1, train_dims, label_bytes);
    write_idx("t10k-images-idx3-ubyte", 3, test_dims, pixels + TRAIN_IMAGES * 28 * 28);
    write_idx("t10k-labels-idx1-ubyte", 1, test_dims, label_bytes + TRAIN_IMAGES);
    ampc_tensor_free(images);
    ampc_tensor_free(labels);
    return 0;
}

static int remove_data_folder(void **state)
{
    (void)state;
    char command[600];
    snprintf(command, sizeof command, "rm -rf '%s'", data_dir);
    return system(command) == 0 ? 0 : -1;
}

/* The last line that starts with "{" (warnings may come before it). */
static json_t *last_json_line(const char *output)
{
    const char *line = output, *next;
    const char *last = NULL;
    while ((next = strchr(line, '\n'))) {
        if (*line == '{') last = line;
        line = next + 1;
    }
    if (*line == '{') last = line;
    json_error_t error;
    json_t *value = last ? json_loads(last, JSON_DISABLE_EOF_CHECK, &error) : NULL;
    if (!value) fail_msg("no summary JSON line in: %s", output);
    return value;
}

static void test_train_from_pytorch_weights_logs_pytorch_losses_and_a_summary(void **state)
{
    (void)state;
    static run_result result;
    char arguments[8192];
    snprintf(arguments, sizeof arguments,
             "train --model mlp --init '%s/mlp_init.safetensors' --no-shuffle --steps %d "
             "--batch 128 --threads 2 --data '%s' --log-json '%s'",
             fixtures, STEPS, data_dir, log_path);
    run_ampc(arguments, &result);
    if (result.exit_code != 0) fail_msg("exit %d: %s", result.exit_code, result.output);

    json_t *summary = last_json_line(result.output);
    double accuracy = json_number_value(json_object_get(summary, "test_accuracy"));
    assert_true(accuracy >= 0 && accuracy <= 1);
    assert_int_equal(json_integer_value(json_object_get(summary, "steps")), STEPS);
    assert_true(json_number_value(json_object_get(summary, "samples_per_second")) > 0);
    const json_t *memory = json_object_get(summary, "peak_memory_bytes");
    for (int category = 0; category < AMPC_MEMORY_CATEGORY_COUNT; category++)
        assert_non_null(json_object_get(memory, ampc_memory_category_name(category)));
    /* 1.86 M F32 parameters, and as many gradients and momentum values. */
    assert_true(json_integer_value(json_object_get(memory, "parameters")) >= 1863690 * 4);
    json_decref(summary);

    char golden[4200];
    snprintf(golden, sizeof golden, "%s/mlp_sgd_f32.json", fixtures);
    json_t *expected = json_load_file(golden, 0, NULL);
    assert_non_null(expected);
    FILE *log = fopen(log_path, "r");
    assert_non_null(log);
    char line[1024];
    int steps = 0;
    while (fgets(line, sizeof line, log)) {
        json_t *entry = json_loads(line, 0, NULL);
        assert_non_null(entry);
        assert_int_equal(json_integer_value(json_object_get(entry, "step")), steps + 1);
        double loss = json_number_value(json_object_get(entry, "loss"));
        double reference = json_number_value(json_array_get(json_object_get(expected, "losses"),
                                                            (size_t)steps));
        if (!(fabs(loss - reference) <= 1e-4 * reference))
            fail_msg("step %d: loss %.9g, PyTorch %.9g", steps + 1, loss, reference);
        assert_true(fabs(json_number_value(json_object_get(entry, "lr")) - 0.05) < 1e-12);
        assert_true(json_number_value(json_object_get(entry, "ms")) >= 0);
        json_decref(entry);
        steps++;
    }
    fclose(log);
    json_decref(expected);
    assert_int_equal(steps, STEPS);
}

static void expect_usage_error(const char *arguments, const char *message)
{
    static run_result result;
    char command[1024];
    snprintf(command, sizeof command, "train %s", arguments);
    run_ampc(command, &result);
    if (result.exit_code != 2 || !strstr(result.output, message))
        fail_msg("`ampc train %s`: exit %d, expected 2 with \"%s\"; output: %s", arguments,
                 result.exit_code, message, result.output);
}

static void test_bad_flags_and_values_are_usage_errors_naming_them(void **state)
{
    (void)state;
    expect_usage_error("--model rnn", "--model \"rnn\" is not one of mlp|cnn");
    expect_usage_error("--optimizer lamb", "--optimizer \"lamb\" is not one of sgd|adam|adamw");
    expect_usage_error("--dtype f16", "--dtype \"f16\" is not one of f32|f64");
    expect_usage_error("--lr abc", "--lr \"abc\": expected a number");
    expect_usage_error("--lr -1", "--lr \"-1\": expected a number");
    expect_usage_error("--lr 0", "--lr must be above 0");
    expect_usage_error("--lr nan", "--lr \"nan\"");
    expect_usage_error("--batch 0", "--batch \"0\": expected an integer");
    expect_usage_error("--batch 1.5", "--batch \"1.5\": expected an integer");
    expect_usage_error("--steps 10x", "--steps \"10x\"");
    expect_usage_error("--threads 0", "--threads \"0\"");
    expect_usage_error("--epochs 1 --steps 2", "--epochs and --steps exclude each other");
    expect_usage_error("--optimizer adam --momentum 0.9", "--momentum applies to sgd only");
    expect_usage_error("--lr", "--lr needs a value");
    expect_usage_error("--fast", "unknown option \"--fast\"");
    expect_usage_error("--data ''", "--data is empty");
}

static void test_missing_data_or_weights_fail_with_the_file_named(void **state)
{
    (void)state;
    static run_result result;
    run_ampc("train --steps 1 --data /nonexistent/ampc", &result);
    assert_int_equal(result.exit_code, 1);
    assert_non_null(strstr(result.output, "/nonexistent/ampc"));
    char arguments[1024];
    snprintf(arguments, sizeof arguments, "train --steps 1 --data '%s' --init /nonexistent/w.st",
             data_dir);
    run_ampc(arguments, &result);
    assert_int_equal(result.exit_code, 1);
    assert_non_null(strstr(result.output, "/nonexistent/w.st"));
}

static void test_help_lists_every_flag(void **state)
{
    (void)state;
    static run_result result;
    run_ampc("train --help", &result);
    assert_int_equal(result.exit_code, 0);
    const char *flags[] = {"--model", "--optimizer", "--lr", "--momentum", "--weight-decay",
                           "--batch", "--epochs", "--steps", "--seed", "--threads", "--dtype",
                           "--init", "--no-shuffle", "--data", "--log-json"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strstr(result.output, flags[i])) fail_msg("--help lacks %s", flags[i]);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <path to ampc>\n", argv[0]);
        return 2;
    }
    ampc_path = argv[1];
    const char *here = __FILE__, *slash = strrchr(here, '/');
    snprintf(fixtures, sizeof fixtures, "%.*s/../fixtures", slash ? (int)(slash - here) : 1,
             slash ? here : ".");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_from_pytorch_weights_logs_pytorch_losses_and_a_summary),
        cmocka_unit_test(test_bad_flags_and_values_are_usage_errors_naming_them),
        cmocka_unit_test(test_missing_data_or_weights_fail_with_the_file_named),
        cmocka_unit_test(test_help_lists_every_flag),
    };
    return cmocka_run_group_tests(tests, write_data_folder, remove_data_folder);
}
