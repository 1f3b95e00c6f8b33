/* Tests for the `ampc` executable (cli/): exit codes, usage on bad input, `info --json`
 * read back and checked against the library's own answers, and `bench ops --quick --json` as a
 * smoke test. argv[1] is the executable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cli_testing.h"

#include <ampc/ampc.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *ampc_path;

static void run_ampc(const char *environment, const char *arguments, run_result *result)
{
    run_ampc_at(ampc_path, environment, arguments, result);
}

static json_t *run_info_json(const char *environment)
{
    static run_result result;
    run_ampc(environment, "info --json", &result);
    assert_int_equal(result.exit_code, 0);
    json_error_t error;
    const char *start = strchr(result.output, '{'); /* warnings may come first */
    assert_non_null(start);
    json_t *info = json_loads(start, 0, &error);
    if (!info) fail_msg("info --json is not JSON (%s): %s", error.text, result.output);
    return info;
}

static void test_help_lists_commands_and_exits_zero(void **state)
{
    (void)state;
    static run_result result;
    run_ampc("", "--help", &result);
    assert_int_equal(result.exit_code, 0);
    assert_non_null(strstr(result.output, "usage: ampc"));
    assert_non_null(strstr(result.output, "info"));
    assert_non_null(strstr(result.output, "bench"));
}

static void test_no_command_or_unknown_command_is_usage_error(void **state)
{
    (void)state;
    static run_result result;
    run_ampc("", "", &result);
    assert_int_equal(result.exit_code, 2);
    assert_non_null(strstr(result.output, "usage: ampc"));
    run_ampc("", "trian", &result);
    assert_int_equal(result.exit_code, 2);
    assert_non_null(strstr(result.output, "unknown command \"trian\""));
    assert_non_null(strstr(result.output, "usage: ampc"));
}

static void test_unknown_flag_is_usage_error(void **state)
{
    (void)state;
    static run_result result;
    run_ampc("", "info --jsn", &result);
    assert_int_equal(result.exit_code, 2);
    assert_non_null(strstr(result.output, "unknown option \"--jsn\""));
    assert_non_null(strstr(result.output, "usage: ampc info"));
    run_ampc("", "bench nosuch", &result);
    assert_int_equal(result.exit_code, 2);
    assert_non_null(strstr(result.output, "unknown benchmark \"nosuch\""));
}

static void test_every_command_has_help(void **state)
{
    (void)state;
    static run_result result;
    const char *helps[] = {"info --help", "bench --help", "bench convert --help",
                           "bench ops --help"};
    for (size_t i = 0; i < sizeof helps / sizeof helps[0]; i++) {
        run_ampc("", helps[i], &result);
        assert_int_equal(result.exit_code, 0);
        assert_non_null(strstr(result.output, "usage: ampc"));
    }
}

static void test_version_matches_library(void **state)
{
    (void)state;
    static run_result result;
    run_ampc("", "--version", &result);
    assert_int_equal(result.exit_code, 0);
    char expected[64];
    snprintf(expected, sizeof expected, "ampc %s\n", ampc_version());
    assert_string_equal(result.output, expected);
}

static void test_info_json_reports_what_the_library_sees(void **state)
{
    (void)state;
    json_t *info = run_info_json("");
    assert_string_equal(json_string_value(json_object_get(info, "version")), ampc_version());
    assert_string_equal(json_string_value(json_object_get(info, "cpu")), ampc_cpu_model());
    json_t *features = json_object_get(info, "features");
    for (int feature = 0; feature < AMPC_FEATURE_COUNT; feature++)
        assert_int_equal(json_is_true(json_object_get(features, ampc_cpu_feature_name(feature))),
                         ampc_cpu_has(feature));
    assert_int_equal(json_is_true(json_object_get(info, "amx_granted")), ampc_cpu_amx_granted());
    assert_string_equal(json_string_value(json_object_get(info, "best_isa")),
                        ampc_isa_name(ampc_cpu_best_isa()));
    assert_string_equal(json_string_value(json_object_get(info, "active_isa")),
                        ampc_isa_name(ampc_cpu_best_isa()));
    json_t *kernels = json_object_get(info, "kernels");
    for (int family = 0; family < AMPC_KERNEL_FAMILY_COUNT; family++)
        assert_string_equal(json_string_value(json_object_get(kernels,
                                                              ampc_kernel_family_name(family))),
                            ampc_isa_name(ampc_kernel_path(family)));
    assert_string_equal(json_string_value(json_object_get(info, "openblas_core")),
                        ampc_gemm_blas_core());
    json_decref(info);
}

static void test_info_text_names_the_essentials(void **state)
{
    (void)state;
    static run_result result;
    run_ampc("", "info", &result);
    assert_int_equal(result.exit_code, 0);
    const char *expected[] = {"ampc ", "cpu:", "features:", "amx tiles:", "isa:", "threads:",
                              "convert"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (!strstr(result.output, expected[i]))
            fail_msg("`ampc info` lacks \"%s\":\n%s", expected[i], result.output);
}

static void test_isa_cap_lowers_every_kernel_path(void **state)
{
    (void)state;
    json_t *info = run_info_json("AMPC_ISA=scalar");
    assert_string_equal(json_string_value(json_object_get(info, "active_isa")), "scalar");
    assert_string_equal(json_string_value(json_object_get(info, "isa_cap")), "scalar");
    const char *name;
    json_t *path;
    json_object_foreach(json_object_get(info, "kernels"), name, path)
        assert_string_equal(json_string_value(path), "scalar");
    json_decref(info);
}

static void test_bad_isa_cap_warns_and_is_ignored(void **state)
{
    (void)state;
    static run_result result;
    run_ampc("AMPC_ISA=avx9000", "info", &result);
    assert_int_equal(result.exit_code, 0);
    assert_non_null(strstr(result.output, "AMPC_ISA=\"avx9000\" is not one of scalar"));
    json_t *info = run_info_json("AMPC_ISA=avx9000");
    assert_string_equal(json_string_value(json_object_get(info, "active_isa")),
                        ampc_isa_name(ampc_cpu_best_isa()));
    assert_true(json_is_string(json_object_get(info, "isa_cap_problem")));
    json_decref(info);
}

static void test_thread_count_prefers_ampc_then_omp_variable(void **state)
{
    (void)state;
    struct {
        const char *environment;
        long long threads;
    } cases[] = {
        {"AMPC_NUM_THREADS=3", 3},
        {"OMP_NUM_THREADS=5", 5},
        {"AMPC_NUM_THREADS=7 OMP_NUM_THREADS=5", 7},
        {"AMPC_NUM_THREADS=zero OMP_NUM_THREADS=4", 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *info = run_info_json(cases[i].environment);
        assert_int_equal(json_integer_value(json_object_get(info, "threads")), cases[i].threads);
        json_decref(info);
    }
}

/* A smoke test of the whole benchmark at tiny sizes: it runs, and its JSON has every op the
 * documentation promises and the MLP step, each measured in F32, BF16 and F16. Timings are
 * never asserted on. */
static void test_bench_ops_quick_json_has_every_op(void **state)
{
    (void)state;
    static run_result result;
    run_ampc("", "bench ops --quick --json", &result);
    assert_int_equal(result.exit_code, 0);
    json_error_t error;
    const char *start = strchr(result.output, '{');
    assert_non_null(start);
    json_t *root = json_loads(start, 0, &error);
    if (!root) fail_msg("bench ops --json is not JSON (%s): %s", error.text, result.output);
    const char *expected[] = {"linear", "conv2d", "attention", "layer_norm", "softmax", "gelu",
                              "relu", "add", "cross_entropy", "batch_norm", "max_pool2d"};
    const char *dtypes[] = {"F32", "BF16", "F16"};
    json_t *ops = json_object_get(root, "ops");
    assert_int_equal(json_array_size(ops), sizeof expected / sizeof expected[0]);
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++) {
        json_t *op = json_array_get(ops, i);
        assert_string_equal(json_string_value(json_object_get(op, "op")), expected[i]);
        for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
            json_t *timing = json_object_get(json_object_get(op, "results"), dtypes[d]);
            if (!json_is_true(json_object_get(timing, "measured")))
                fail_msg("%s %s was not measured: %s", expected[i], dtypes[d], result.output);
            assert_true(json_is_number(json_object_get(timing, "median_seconds")));
            assert_true(json_integer_value(json_object_get(timing, "saved_bytes")) > 0);
        }
    }
    json_t *mlp = json_object_get(json_object_get(root, "mlp"), "results");
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++)
        assert_true(json_is_true(json_object_get(json_object_get(mlp, dtypes[d]), "measured")));
    assert_true(json_is_object(json_object_get(root, "other_busy_cores")));
    json_decref(root);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <path to ampc>\n", argv[0]);
        return 2;
    }
    ampc_path = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_lists_commands_and_exits_zero),
        cmocka_unit_test(test_no_command_or_unknown_command_is_usage_error),
        cmocka_unit_test(test_unknown_flag_is_usage_error),
        cmocka_unit_test(test_every_command_has_help),
        cmocka_unit_test(test_version_matches_library),
        cmocka_unit_test(test_info_json_reports_what_the_library_sees),
        cmocka_unit_test(test_info_text_names_the_essentials),
        cmocka_unit_test(test_isa_cap_lowers_every_kernel_path),
        cmocka_unit_test(test_bad_isa_cap_warns_and_is_ignored),
        cmocka_unit_test(test_thread_count_prefers_ampc_then_omp_variable),
        cmocka_unit_test(test_bench_ops_quick_json_has_every_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
