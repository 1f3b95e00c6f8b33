/* Tests for src/core/cpu.c and threads.c. The independent reference for feature detection is
 * the kernel's own view in /proc/cpuinfo (it too hides features the OS does not save).
 * ctest: per-isa (so the AMPC_ISA cap is checked at every level) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"

static char cpuinfo_flags[8192];
static char cpuinfo_model[256];

static void read_line_value(const char *line, char *out, size_t capacity)
{
    const char *colon = strchr(line, ':');
    if (!colon) return;
    snprintf(out, capacity, "%s", colon + 2);
    out[strcspn(out, "\n")] = '\0';
}

static int read_cpuinfo(void **state)
{
    (void)state;
    FILE *file = fopen("/proc/cpuinfo", "r");
    if (!file) return -1;
    static char line[8192];
    while (fgets(line, sizeof line, file) && (!cpuinfo_flags[0] || !cpuinfo_model[0])) {
        if (strncmp(line, "flags", 5) == 0 && !cpuinfo_flags[0])
            read_line_value(line, cpuinfo_flags, sizeof cpuinfo_flags);
        if (strncmp(line, "model name", 10) == 0 && !cpuinfo_model[0])
            read_line_value(line, cpuinfo_model, sizeof cpuinfo_model);
    }
    fclose(file);
    return cpuinfo_flags[0] ? 0 : -1;
}

static bool cpuinfo_has_flag(const char *flag)
{
    size_t length = strlen(flag);
    for (const char *at = strstr(cpuinfo_flags, flag); at; at = strstr(at + 1, flag)) {
        bool starts = at == cpuinfo_flags || at[-1] == ' ';
        bool ends = at[length] == ' ' || at[length] == '\0';
        if (starts && ends) return true;
    }
    return false;
}

static void test_features_match_proc_cpuinfo(void **state)
{
    (void)state;
    for (int feature = 0; feature < AMPC_FEATURE_COUNT; feature++) {
        const char *name = ampc_cpu_feature_name(feature);
        if (ampc_cpu_has(feature) != cpuinfo_has_flag(name))
            fail_msg("feature %s: ampc says %d, /proc/cpuinfo says %d", name,
                     ampc_cpu_has(feature), cpuinfo_has_flag(name));
    }
}

static void test_model_matches_proc_cpuinfo(void **state)
{
    (void)state;
    assert_string_equal(ampc_cpu_model(), cpuinfo_model);
}

/* The level chain, restated from the header's definition of each level. */
static ampc_isa expected_best_level(void)
{
    static const char *const added[AMPC_ISA_COUNT][4] = {
        [AMPC_ISA_AVX2] = {"avx2", "fma", "f16c"},
        [AMPC_ISA_AVX512] = {"avx512f", "avx512bw", "avx512dq", "avx512vl"},
        [AMPC_ISA_AVX512_BF16] = {"avx512_bf16"},
        [AMPC_ISA_AVX512_FP16] = {"avx512_fp16"},
        [AMPC_ISA_AMX] = {"amx_tile", "amx_bf16"},
    };
    ampc_isa best = AMPC_ISA_SCALAR;
    for (int level = 1; level < AMPC_ISA_COUNT; level++) {
        for (int i = 0; i < 4 && added[level][i]; i++)
            if (!cpuinfo_has_flag(added[level][i])) return best;
        if (level == AMPC_ISA_AMX && !ampc_cpu_amx_granted()) return best;
        best = (ampc_isa)level;
    }
    return best;
}

static void test_best_isa_is_highest_complete_level(void **state)
{
    (void)state;
    assert_int_equal(ampc_cpu_best_isa(), expected_best_level());
    for (int level = 0; level < AMPC_ISA_COUNT; level++)
        assert_int_equal(ampc_cpu_supports(level), level <= (int)ampc_cpu_best_isa());
    assert_false(ampc_cpu_supports(AMPC_ISA_COUNT));
}

static void test_amx_granted_only_with_amx_tile(void **state)
{
    (void)state;
    if (!ampc_cpu_has(AMPC_FEATURE_AMX_TILE)) assert_false(ampc_cpu_amx_granted());
}

static void test_active_isa_respects_cap_from_environment(void **state)
{
    (void)state;
    const char *requested = getenv("AMPC_ISA");
    ampc_isa cap;
    if (requested && ampc_isa_from_name(requested, &cap))
        assert_int_equal(ampc_cpu_active_isa(), cap < ampc_cpu_best_isa() ? cap
                                                                          : ampc_cpu_best_isa());
    else
        assert_int_equal(ampc_cpu_active_isa(), ampc_cpu_best_isa());
}

static void test_isa_names_round_trip(void **state)
{
    (void)state;
    for (int level = 0; level < AMPC_ISA_COUNT; level++) {
        ampc_isa parsed = AMPC_ISA_COUNT;
        assert_true(ampc_isa_from_name(ampc_isa_name(level), &parsed));
        assert_int_equal(parsed, level);
    }
    ampc_isa untouched = AMPC_ISA_AVX2;
    assert_false(ampc_isa_from_name("AVX2", &untouched));
    assert_false(ampc_isa_from_name("", &untouched));
    assert_false(ampc_isa_from_name(NULL, &untouched));
    assert_int_equal(untouched, AMPC_ISA_AVX2);
    assert_string_equal(ampc_isa_name(AMPC_ISA_COUNT), "invalid");
    assert_string_equal(ampc_cpu_feature_name(AMPC_FEATURE_COUNT), "invalid");
}

static void test_pick_path_takes_highest_available_level_not_above_active(void **state)
{
    (void)state;
    bool only_scalar[AMPC_ISA_COUNT] = {[AMPC_ISA_SCALAR] = true};
    assert_int_equal(ampc_cpu_pick_path(only_scalar), AMPC_ISA_SCALAR);
    bool all[AMPC_ISA_COUNT];
    for (int level = 0; level < AMPC_ISA_COUNT; level++) all[level] = true;
    assert_int_equal(ampc_cpu_pick_path(all), ampc_cpu_active_isa());
    bool with_hole[AMPC_ISA_COUNT] = {[AMPC_ISA_SCALAR] = true, [AMPC_ISA_AVX2] = true};
    ampc_isa expected = ampc_cpu_active_isa() >= AMPC_ISA_AVX2 ? AMPC_ISA_AVX2 : AMPC_ISA_SCALAR;
    assert_int_equal(ampc_cpu_pick_path(with_hole), expected);
}

static void test_thread_count_follows_environment_or_cores(void **state)
{
    (void)state;
    const char *ampc_threads = getenv("AMPC_NUM_THREADS");
    const char *omp_threads = getenv("OMP_NUM_THREADS");
    if (ampc_threads && *ampc_threads)
        assert_int_equal(ampc_num_threads(), atoi(ampc_threads));
    else if (omp_threads && *omp_threads)
        assert_int_equal(ampc_num_threads(), atoi(omp_threads));
    else
        assert_int_equal(ampc_num_threads(), omp_get_num_procs());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features_match_proc_cpuinfo),
        cmocka_unit_test(test_model_matches_proc_cpuinfo),
        cmocka_unit_test(test_best_isa_is_highest_complete_level),
        cmocka_unit_test(test_amx_granted_only_with_amx_tile),
        cmocka_unit_test(test_active_isa_respects_cap_from_environment),
        cmocka_unit_test(test_isa_names_round_trip),
        cmocka_unit_test(test_pick_path_takes_highest_available_level_not_above_active),
        cmocka_unit_test(test_thread_count_follows_environment_or_cores),
    };
    return cmocka_run_group_tests(tests, read_cpuinfo, NULL);
}
