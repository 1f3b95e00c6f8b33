/* ctest: exhaustive
 *
 * Every one of the 2^32 fp32 bit patterns through every narrowing kernel this machine can run
 * (each distinct kernel once: a level that inherits a kernel from the level below is not
 * checked twice), against oracles written independently of src/dtype:
 *   F16   gcc's _Float16 conversion. This file gets no ISA flags, so gcc calls libgcc's
 *         soft-float __truncsfhf2. Its NaN rule (sign, quiet bit, top mantissa bits) is the
 *         one ampc chose, so NaN outputs are compared bit for bit too. (Chunks far outside
 *         F16's range take a shortcut; see f16_oracle.)
 *   BF16  the classic formula: (bits + 0x7FFF + lowest kept bit) >> 16, NaN -> top half | 0x40.
 *   F8    a table of every finite code's value computed in double from the format definition,
 *         plus the value the next code would have; an input rounds to the code whose value is
 *         nearest, ties to the even code, and past the largest finite it overflows. Inputs are
 *         walked in increasing order, so the nearest code only ever moves up. Both overflow
 *         modes.
 * The work is split into chunks of 2^20 inputs across OpenMP threads; the oracle runs once per
 * chunk and every path is compared with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ampc/cpu.h>
#include <ampc/dtype.h>

#include "core/cpu.h"
#include "dtype/convert_kernels.h"
#include "test_support.h"

__extension__ typedef _Float16 gcc_float16;

enum { CHUNK = 1 << 20, CHUNK_COUNT = (int)((UINT64_C(1) << 32) / CHUNK), MAX_REPORTED = 5 };

/* ---- oracles: expected[i] for the input bits start + i ---- */

static uint16_t gcc_f16(uint32_t bits)
{
    gcc_float16 half = (gcc_float16)f32_of_bits(bits);
    uint16_t code;
    memcpy(&code, &half, sizeof code);
    return code;
}

/* gcc raises the underflow and overflow flags slowly (about 80 ns a call), and most fp32
 * inputs are far outside F16's range. Rounding is monotonic and a chunk's inputs share a sign
 * and increase, so when its first and last inputs give the same ±0 or ±inf, every input in
 * between does too, and one call per end is enough. */
static void f16_oracle(void *expected, uint32_t start, size_t n)
{
    uint16_t *out = expected;
    uint16_t first = gcc_f16(start), last = gcc_f16(start + (uint32_t)(n - 1));
    bool zero_or_inf = (first & 0x7FFF) == 0 || (first & 0x7FFF) == 0x7C00;
    if (first == last && zero_or_inf) {
        for (size_t i = 0; i < n; i++) out[i] = first;
        return;
    }
    for (size_t i = 0; i < n; i++) out[i] = gcc_f16(start + (uint32_t)i);
}

static void bf16_oracle(void *expected, uint32_t start, size_t n)
{
    uint16_t *out = expected;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = start + (uint32_t)i;
        if ((bits & 0x7FFFFFFF) > 0x7F800000)
            out[i] = (uint16_t)((bits >> 16) | 0x0040);
        else
            out[i] = (uint16_t)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }
}

/* An F8 format from its definition. Codes here are magnitudes; code max_finite + 1 stands
 * for "overflowed" and gets the value the format would give it if it were finite. */
typedef struct f8_format {
    int mantissa_bits;
    int bias;
    unsigned max_finite;
    unsigned overflow_code; /* the default mode's result for overflow: inf, or NaN for E4M3 */
    unsigned nan_code;
    bool nan_keeps_payload; /* E5M2: one mantissa bit below the quiet bit */
    double value[130];
    double midpoint[129]; /* between value[c] and value[c + 1] */
} f8_format;

static f8_format e4m3 = {3, 7, 0x7E, 0x7F, 0x7F, false, {0}, {0}};
static f8_format e5m2 = {2, 15, 0x7B, 0x7C, 0x7E, true, {0}, {0}};

static void build_value_table(f8_format *format)
{
    for (unsigned code = 0; code <= format->max_finite + 1; code++) {
        int exponent = (int)(code >> format->mantissa_bits);
        unsigned mantissa = code & ((1u << format->mantissa_bits) - 1);
        unsigned implicit_bit = exponent == 0 ? 0 : 1u << format->mantissa_bits;
        double significand = implicit_bit + mantissa;
        int power = (exponent == 0 ? 1 : exponent) - format->bias - format->mantissa_bits;
        format->value[code] = ldexp(significand, power);
    }
    for (unsigned code = 0; code <= format->max_finite; code++)
        format->midpoint[code] = 0.5 * (format->value[code] + format->value[code + 1]);
}

static uint8_t f8_special_code(const f8_format *format, uint32_t bits, ampc_overflow overflow)
{
    uint32_t sign = (bits >> 24) & 0x80;
    if ((bits & 0x7FFFFFFF) > 0x7F800000) {
        uint32_t payload = format->nan_keeps_payload ? (bits >> 21) & 1 : 0;
        return (uint8_t)(sign | format->nan_code | payload);
    }
    return (uint8_t)(sign | (overflow == AMPC_OVERFLOW_SATURATE ? format->max_finite
                                                                : format->overflow_code));
}

/* All inputs of a chunk share a sign and increase in magnitude, so the nearest code only moves
 * up: each step is a comparison with the next midpoint (a tie goes up only to an even code). */
static void f8_oracle(const f8_format *format, ampc_overflow overflow, uint8_t *out,
                      uint32_t start, size_t n)
{
    unsigned code = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = start + (uint32_t)i;
        uint32_t magnitude = bits & 0x7FFFFFFF;
        if (magnitude >= 0x7F800000) {
            out[i] = f8_special_code(format, bits, overflow);
            continue;
        }
        double value = f32_of_bits(magnitude);
        while (code <= format->max_finite &&
               (value > format->midpoint[code] || (value == format->midpoint[code] && (code & 1))))
            code++;
        out[i] = code > format->max_finite ? f8_special_code(format, bits, overflow)
                                           : (uint8_t)(((bits >> 24) & 0x80) | code);
    }
}

static void e4m3_oracle(void *out, uint32_t start, size_t n)
{
    f8_oracle(&e4m3, AMPC_OVERFLOW_DEFAULT, out, start, n);
}

static void e4m3_saturate_oracle(void *out, uint32_t start, size_t n)
{
    f8_oracle(&e4m3, AMPC_OVERFLOW_SATURATE, out, start, n);
}

static void e5m2_oracle(void *out, uint32_t start, size_t n)
{
    f8_oracle(&e5m2, AMPC_OVERFLOW_DEFAULT, out, start, n);
}

static void e5m2_saturate_oracle(void *out, uint32_t start, size_t n)
{
    f8_oracle(&e5m2, AMPC_OVERFLOW_SATURATE, out, start, n);
}

/* ---- the kernels under test ---- */

typedef void (*generic_function)(void);

static void run_f16(const ampc_convert_kernels *k, void *out, const float *in, size_t n)
{
    k->f32_to_f16(out, in, n);
}

static void run_bf16(const ampc_convert_kernels *k, void *out, const float *in, size_t n)
{
    k->f32_to_bf16(out, in, n);
}

static void run_e4m3(const ampc_convert_kernels *k, void *out, const float *in, size_t n)
{
    k->f32_to_f8_e4m3(out, in, n, AMPC_OVERFLOW_DEFAULT);
}

static void run_e4m3_saturate(const ampc_convert_kernels *k, void *out, const float *in, size_t n)
{
    k->f32_to_f8_e4m3(out, in, n, AMPC_OVERFLOW_SATURATE);
}

static void run_e5m2(const ampc_convert_kernels *k, void *out, const float *in, size_t n)
{
    k->f32_to_f8_e5m2(out, in, n, AMPC_OVERFLOW_DEFAULT);
}

static void run_e5m2_saturate(const ampc_convert_kernels *k, void *out, const float *in, size_t n)
{
    k->f32_to_f8_e5m2(out, in, n, AMPC_OVERFLOW_SATURATE);
}

static generic_function f16_kernel(const ampc_convert_kernels *k)
{
    return (generic_function)k->f32_to_f16;
}

static generic_function bf16_kernel(const ampc_convert_kernels *k)
{
    return (generic_function)k->f32_to_bf16;
}

static generic_function e4m3_kernel(const ampc_convert_kernels *k)
{
    return (generic_function)k->f32_to_f8_e4m3;
}

static generic_function e5m2_kernel(const ampc_convert_kernels *k)
{
    return (generic_function)k->f32_to_f8_e5m2;
}

typedef struct narrowing {
    const char *name;
    size_t out_size;
    void (*oracle)(void *expected, uint32_t start, size_t n);
    void (*run)(const ampc_convert_kernels *kernels, void *out, const float *in, size_t n);
    generic_function (*kernel)(const ampc_convert_kernels *kernels); /* to skip duplicates */
} narrowing;

static const narrowing to_f16 = {"F32->F16", 2, f16_oracle, run_f16, f16_kernel};
static const narrowing to_bf16 = {"F32->BF16", 2, bf16_oracle, run_bf16, bf16_kernel};
static const narrowing to_e4m3 = {"F32->E4M3", 1, e4m3_oracle, run_e4m3, e4m3_kernel};
static const narrowing to_e4m3_saturate = {"F32->E4M3 saturate", 1, e4m3_saturate_oracle,
                                           run_e4m3_saturate, e4m3_kernel};
static const narrowing to_e5m2 = {"F32->E5M2", 1, e5m2_oracle, run_e5m2, e5m2_kernel};
static const narrowing to_e5m2_saturate = {"F32->E5M2 saturate", 1, e5m2_saturate_oracle,
                                           run_e5m2_saturate, e5m2_kernel};

/* The levels whose kernels run here, keeping only the first level with each distinct kernel. */
static int distinct_paths(const narrowing *which, ampc_isa *levels)
{
    generic_function seen[AMPC_ISA_COUNT];
    int count = 0;
    for (int level = 0; level < AMPC_ISA_COUNT; level++) {
        const ampc_convert_kernels *kernels = ampc_convert_kernels_at((ampc_isa)level);
        if (!kernels || !ampc_cpu_supports((ampc_isa)level) || level > (int)ampc_cpu_active_isa())
            continue;
        bool duplicate = false;
        for (int i = 0; i < count; i++) duplicate = duplicate || seen[i] == which->kernel(kernels);
        if (duplicate) continue;
        seen[count] = which->kernel(kernels);
        levels[count++] = (ampc_isa)level;
    }
    return count;
}

/* ---- the sweep ---- */

typedef struct mismatches {
    int count[AMPC_ISA_COUNT];
    uint32_t first_input[AMPC_ISA_COUNT][MAX_REPORTED];
    uint32_t expected[AMPC_ISA_COUNT][MAX_REPORTED];
    uint32_t actual[AMPC_ISA_COUNT][MAX_REPORTED];
} mismatches;

static uint32_t element(const void *buffer, size_t size, size_t i)
{
    return size == 2 ? ((const uint16_t *)buffer)[i] : ((const uint8_t *)buffer)[i];
}

static void record_mismatches(mismatches *found, int path, const void *expected,
                              const void *actual, size_t size, uint32_t start)
{
#pragma omp critical(record_mismatches)
    for (size_t i = 0; i < CHUNK; i++) {
        if (element(expected, size, i) == element(actual, size, i)) continue;
        int slot = found->count[path]++;
        if (slot >= MAX_REPORTED) continue;
        found->first_input[path][slot] = start + (uint32_t)i;
        found->expected[path][slot] = element(expected, size, i);
        found->actual[path][slot] = element(actual, size, i);
    }
}

static void check_chunk(const narrowing *which, const ampc_isa *levels, int path_count,
                        uint32_t start, float *input, void *expected, void *actual,
                        mismatches *found)
{
    for (size_t i = 0; i < CHUNK; i++) input[i] = f32_of_bits(start + (uint32_t)i);
    which->oracle(expected, start, CHUNK);
    for (int path = 0; path < path_count; path++) {
        which->run(ampc_convert_kernels_at(levels[path]), actual, input, CHUNK);
        if (memcmp(expected, actual, CHUNK * which->out_size) != 0)
            record_mismatches(found, path, expected, actual, which->out_size, start);
    }
}

static void check_every_input(const narrowing *which)
{
    ampc_isa levels[AMPC_ISA_COUNT];
    int path_count = distinct_paths(which, levels);
    static mismatches found;
    memset(&found, 0, sizeof found);
    double started = omp_get_wtime();
    bool out_of_memory = false;

#pragma omp parallel num_threads(ampc_num_threads())
    {
        float *input = malloc(CHUNK * sizeof *input);
        void *expected = malloc(CHUNK * which->out_size);
        void *actual = malloc(CHUNK * which->out_size);
        if (!input || !expected || !actual) {
#pragma omp atomic write
            out_of_memory = true;
        }
#pragma omp for schedule(dynamic, 8)
        for (int chunk = 0; chunk < CHUNK_COUNT; chunk++)
            if (input && expected && actual)
                check_chunk(which, levels, path_count, (uint32_t)chunk * CHUNK, input, expected,
                            actual, &found);
        free(input);
        free(expected);
        free(actual);
    }
    assert_false(out_of_memory);

    bool failed = false;
    printf("%-18s %.1f s, paths:", which->name, omp_get_wtime() - started);
    for (int path = 0; path < path_count; path++) printf(" %s", ampc_isa_name(levels[path]));
    printf("\n");
    for (int path = 0; path < path_count; path++) {
        if (!found.count[path]) continue;
        failed = true;
        print_error("%s, %s path: %d of 2^32 inputs differ from the oracle, e.g.\n", which->name,
                    ampc_isa_name(levels[path]), found.count[path]);
        for (int i = 0; i < found.count[path] && i < MAX_REPORTED; i++)
            print_error("  input 0x%08x: expected 0x%04x, got 0x%04x\n", found.first_input[path][i],
                        found.expected[path][i], found.actual[path][i]);
    }
    if (failed) fail_msg("%s differs from its oracle", which->name);
}

static void test_f32_to_f16_matches_gcc_float16_for_every_input(void **state)
{
    (void)state;
    check_every_input(&to_f16);
}

static void test_f32_to_bf16_matches_rounding_formula_for_every_input(void **state)
{
    (void)state;
    check_every_input(&to_bf16);
}

static void test_f32_to_e4m3_matches_nearest_code_for_every_input(void **state)
{
    (void)state;
    check_every_input(&to_e4m3);
    check_every_input(&to_e4m3_saturate);
}

static void test_f32_to_e5m2_matches_nearest_code_for_every_input(void **state)
{
    (void)state;
    check_every_input(&to_e5m2);
    check_every_input(&to_e5m2_saturate);
}

/* The oracle's own tables, checked against values from the format definitions. */
static void test_f8_oracle_tables_hold_the_defined_values(void **state)
{
    (void)state;
    assert_true(e4m3.value[0x01] == 0x1p-9 && e4m3.value[0x08] == 0x1p-6);
    assert_true(e4m3.value[0x7E] == 448 && e4m3.value[0x7F] == 480 && e4m3.midpoint[0x7E] == 464);
    assert_true(e5m2.value[0x01] == 0x1p-16 && e5m2.value[0x04] == 0x1p-14);
    assert_true(e5m2.value[0x7B] == 57344 && e5m2.value[0x7C] == 65536);
    assert_true(e5m2.midpoint[0x7B] == 61440);
}

int main(void)
{
    build_value_table(&e4m3);
    build_value_table(&e5m2);
    printf("checking every fp32 input on %d threads\n", ampc_num_threads());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f8_oracle_tables_hold_the_defined_values),
        cmocka_unit_test(test_f32_to_f16_matches_gcc_float16_for_every_input),
        cmocka_unit_test(test_f32_to_bf16_matches_rounding_formula_for_every_input),
        cmocka_unit_test(test_f32_to_e4m3_matches_nearest_code_for_every_input),
        cmocka_unit_test(test_f32_to_e5m2_matches_nearest_code_for_every_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
