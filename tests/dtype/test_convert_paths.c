/* ctest: per-isa
 *
 * The dispatched conversion kernels (src/dtype/convert_<isa>.c, whichever level AMPC_ISA
 * selects) against the scalar reference, bit for bit, NaN payloads included: on a dense grid
 * of special values, on millions of random bit patterns, on every tail length and misaligned
 * pointer, in both overflow modes, on every F16, BF16 and F8 code for widening (also under a
 * hostile MXCSR, since the widening kernels are called outside ampc_convert's guard too), and
 * on widenings long enough to use streaming stores. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xmmintrin.h>

#include <ampc/cpu.h>
#include <ampc/dtype.h>

#include "dtype/convert_kernels.h"
#include "dtype/convert_simd.h"
#include "test_support.h"

static const ampc_convert_kernels *reference;
static const ampc_convert_kernels *active;

enum { MAX_REPORTED = 5 };

/* ---- comparing a batch ---- */

typedef enum narrowing {
    TO_F16,
    TO_BF16,
    TO_E4M3,
    TO_E4M3_SATURATE,
    TO_E5M2,
    TO_E5M2_SATURATE,
    NARROWING_COUNT
} narrowing;

static const char *const narrowing_names[NARROWING_COUNT] = {
    "F32->F16", "F32->BF16", "F32->E4M3", "F32->E4M3 saturate", "F32->E5M2", "F32->E5M2 saturate",
};

static size_t narrowed_size(narrowing kind) { return kind <= TO_BF16 ? 2 : 1; }

static void run_narrowing(const ampc_convert_kernels *kernels, narrowing kind, void *dst,
                          const float *src, size_t n)
{
    switch (kind) {
    case TO_F16: kernels->f32_to_f16(dst, src, n); break;
    case TO_BF16: kernels->f32_to_bf16(dst, src, n); break;
    case TO_E4M3: kernels->f32_to_f8_e4m3(dst, src, n, AMPC_OVERFLOW_DEFAULT); break;
    case TO_E4M3_SATURATE: kernels->f32_to_f8_e4m3(dst, src, n, AMPC_OVERFLOW_SATURATE); break;
    case TO_E5M2: kernels->f32_to_f8_e5m2(dst, src, n, AMPC_OVERFLOW_DEFAULT); break;
    case TO_E5M2_SATURATE: kernels->f32_to_f8_e5m2(dst, src, n, AMPC_OVERFLOW_SATURATE); break;
    default: fail();
    }
}

static uint32_t element(const void *buffer, size_t size, size_t i)
{
    return size == 2 ? ((const uint16_t *)buffer)[i] : ((const uint8_t *)buffer)[i];
}

/* Every narrowing of src[0..n) by the active table equals the reference's. */
static void check_narrowings(const float *src, size_t n)
{
    uint16_t *expected = malloc(n * sizeof *expected + 1);
    uint16_t *actual = malloc(n * sizeof *actual + 1);
    assert_non_null(expected);
    assert_non_null(actual);
    int mismatches = 0;
    for (int kind = 0; kind < NARROWING_COUNT; kind++) {
        size_t size = narrowed_size(kind);
        run_narrowing(reference, kind, expected, src, n);
        run_narrowing(active, kind, actual, src, n);
        if (memcmp(expected, actual, n * size) == 0) continue;
        for (size_t i = 0; i < n && mismatches < MAX_REPORTED; i++) {
            if (element(expected, size, i) == element(actual, size, i)) continue;
            print_error("%s of 0x%08x: reference 0x%04x, %s path 0x%04x\n", narrowing_names[kind],
                        bits_of_f32(src[i]), element(expected, size, i),
                        ampc_isa_name(ampc_convert_path()), element(actual, size, i));
            mismatches++;
        }
    }
    free(expected);
    free(actual);
    if (mismatches)
        fail_msg("the %s path differs from the reference", ampc_isa_name(ampc_convert_path()));
}

typedef enum widening { FROM_F16, FROM_BF16, FROM_E4M3, FROM_E5M2, WIDENING_COUNT } widening;

static const char *const widening_names[WIDENING_COUNT] = {"F16->F32", "BF16->F32", "E4M3->F32",
                                                           "E5M2->F32"};

static size_t widened_from_size(widening kind) { return kind <= FROM_BF16 ? 2 : 1; }

static void run_widening(const ampc_convert_kernels *kernels, widening kind, float *dst,
                         const void *src, size_t n)
{
    switch (kind) {
    case FROM_F16: kernels->f16_to_f32(dst, src, n); break;
    case FROM_BF16: kernels->bf16_to_f32(dst, src, n); break;
    case FROM_E4M3: kernels->f8_e4m3_to_f32(dst, src, n); break;
    case FROM_E5M2: kernels->f8_e5m2_to_f32(dst, src, n); break;
    default: fail();
    }
}

/* The widening of src[0..n) (codes of the kind's size) by the active table equals the
 * reference's, bit for bit. */
static void check_widening(widening kind, const void *src, size_t n)
{
    float *expected = malloc(n * sizeof *expected + 1);
    float *actual = malloc(n * sizeof *actual + 1);
    assert_non_null(expected);
    assert_non_null(actual);
    run_widening(reference, kind, expected, src, n);
    run_widening(active, kind, actual, src, n);
    int mismatches = 0;
    for (size_t i = 0; i < n && mismatches < MAX_REPORTED; i++) {
        if (bits_of_f32(expected[i]) == bits_of_f32(actual[i])) continue;
        print_error("%s of 0x%04x: reference 0x%08x, %s path 0x%08x\n", widening_names[kind],
                    element(src, widened_from_size(kind), i), bits_of_f32(expected[i]),
                    ampc_isa_name(ampc_convert_path()), bits_of_f32(actual[i]));
        mismatches++;
    }
    free(expected);
    free(actual);
    if (mismatches)
        fail_msg("the %s path differs from the reference", ampc_isa_name(ampc_convert_path()));
}

/* ---- the inputs ---- */

/* Mantissas that sit on, just beside, or far from the rounding boundaries of every target:
 * the low 13 bits (F16), 16 (BF16), 20 (E4M3) and 21 (E5M2) at half, half +- 1, all ones,
 * zero, with the lowest kept bit both even and odd. */
static size_t boundary_mantissas(uint32_t *out)
{
    static const int dropped_bits[] = {13, 16, 20, 21};
    size_t count = 0;
    out[count++] = 0;
    out[count++] = 1;
    out[count++] = 0x7FFFFF;
    out[count++] = 0x400000;
    for (int d = 0; d < 4; d++) {
        uint32_t half = 1u << (dropped_bits[d] - 1);
        uint32_t kept_one = 1u << dropped_bits[d];
        uint32_t patterns[] = {half, half - 1, half + 1, (kept_one - 1), kept_one};
        for (int p = 0; p < 5; p++) {
            for (uint32_t odd = 0; odd < 2; odd++) {
                uint32_t low = (patterns[p] + odd * kept_one) & 0x7FFFFF;
                out[count++] = low;
                out[count++] = low | (0x7FFFFF & ~(2 * kept_one - 1)); /* high bits all ones */
            }
        }
    }
    return count;
}

static void test_narrowing_matches_reference_on_every_exponent_and_boundary_mantissa(void **state)
{
    (void)state;
    uint32_t mantissas[128];
    size_t mantissa_count = boundary_mantissas(mantissas);
    size_t n = 2 * 256 * mantissa_count;
    float *values = malloc(n * sizeof *values);
    assert_non_null(values);
    size_t count = 0;
    for (uint32_t sign = 0; sign < 2; sign++)
        for (uint32_t exponent = 0; exponent < 256; exponent++)
            for (size_t m = 0; m < mantissa_count; m++)
                values[count++] = f32_of_bits(sign << 31 | exponent << 23 | mantissas[m]);
    check_narrowings(values, count);
    free(values);
}

/* Named edge values of each format, and the few fp32 values on either side of each. */
static void test_narrowing_matches_reference_around_format_limits(void **state)
{
    (void)state;
    static const float limits[] = {
        0.0f, 0x1p-149f, 0x1p-126f,                       /* fp32 subnormal range */
        0x1p-25f, 0x1p-24f, 0x1p-14f, 65504.0f, 65520.0f, /* F16 */
        0x1p-133f, 0x1p-126f, 3.3895313892515355e38f,     /* BF16 */
        0x1p-10f, 0x1p-9f, 0x1p-6f, 448.0f, 464.0f, 480.0f, /* E4M3 */
        0x1p-17f, 0x1p-16f, 57344.0f, 61440.0f, 65536.0f, /* E5M2 */
        3.4028234663852886e38f, 1.0f, 1.5f,
    };
    enum { LIMIT_COUNT = sizeof limits / sizeof limits[0], SPREAD = 4 };
    float values[LIMIT_COUNT * 2 * (2 * SPREAD + 1) + 8];
    size_t count = 0;
    for (size_t i = 0; i < LIMIT_COUNT; i++) {
        for (int sign = 0; sign < 2; sign++) {
            for (int step = -SPREAD; step <= SPREAD; step++) {
                int64_t bits = (int64_t)bits_of_f32(limits[i]) + step;
                if (bits < 0) bits = -bits;
                values[count++] = f32_of_bits((uint32_t)bits | (uint32_t)sign << 31);
            }
        }
    }
    static const uint32_t specials[] = {0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
                                        0x7F800001, 0xFFBFFFFF, 0x7FA00000, 0x7FFFFFFF};
    for (size_t i = 0; i < 8; i++) values[count++] = f32_of_bits(specials[i]);
    check_narrowings(values, count);
}

static void test_narrowing_matches_reference_on_random_bit_patterns(void **state)
{
    (void)state;
    enum { N = 1 << 22 };
    float *values = malloc(N * sizeof *values);
    assert_non_null(values);
    uint32_t seed = 0x9E3779B9u;
    for (size_t i = 0; i < N; i++) values[i] = f32_of_bits(next_random(&seed));
    check_narrowings(values, N);
    /* And random values in the range F8 and F16 can hold, where the rounding matters most. */
    for (size_t i = 0; i < N; i++) {
        uint32_t bits = next_random(&seed);
        uint32_t exponent = 100 + (bits >> 24) % 60; /* 2^-27 .. 2^32 */
        values[i] = f32_of_bits((bits & 0x807FFFFF) | exponent << 23);
    }
    check_narrowings(values, N);
    free(values);
}

/* Every length 0..130 at every start offset 0..3 elements (so vectors start misaligned),
 * checking that nothing beyond the n elements is written. */
static void test_every_tail_length_and_misaligned_start_matches_reference(void **state)
{
    (void)state;
    enum { MAX_N = 130, MAX_OFFSET = 4, GUARD = 0xA5 };
    float src[MAX_N + MAX_OFFSET];
    uint32_t seed = 7;
    for (size_t i = 0; i < MAX_N + MAX_OFFSET; i++) {
        uint32_t bits = next_random(&seed);
        src[i] = f32_of_bits((bits & 0x807FFFFF) | (110 + bits % 40) << 23);
    }
    src[3] = f32_of_bits(0x7FC00001);
    src[70] = 1e9f;
    for (size_t offset = 0; offset < MAX_OFFSET; offset++) {
        for (size_t n = 0; n <= MAX_N; n++) {
            for (int kind = 0; kind < NARROWING_COUNT; kind++) {
                size_t size = narrowed_size(kind);
                uint8_t expected[2 * (MAX_N + MAX_OFFSET) + 8], actual[sizeof expected];
                memset(expected, GUARD, sizeof expected);
                memset(actual, GUARD, sizeof actual);
                run_narrowing(reference, kind, expected + offset * size, src + offset, n);
                run_narrowing(active, kind, actual + offset * size, src + offset, n);
                if (memcmp(expected, actual, sizeof expected) != 0)
                    fail_msg("%s, n = %zu at offset %zu differs (or wrote outside)",
                             narrowing_names[kind], n, offset);
            }
            for (int kind = 0; kind < WIDENING_COUNT; kind++) {
                uint8_t codes[2 * (MAX_N + MAX_OFFSET)];
                for (size_t i = 0; i < sizeof codes; i++) codes[i] = (uint8_t)next_random(&seed);
                float expected[MAX_N + MAX_OFFSET + 4], actual[MAX_N + MAX_OFFSET + 4];
                memset(expected, GUARD, sizeof expected);
                memset(actual, GUARD, sizeof actual);
                const uint8_t *start = codes + offset * widened_from_size(kind);
                run_widening(reference, kind, expected + offset, start, n);
                run_widening(active, kind, actual + offset, start, n);
                if (memcmp(expected, actual, sizeof expected) != 0)
                    fail_msg("%s, n = %zu at offset %zu differs (or wrote outside)",
                             widening_names[kind], n, offset);
            }
        }
    }
}

static void test_every_f16_and_bf16_code_widens_like_reference(void **state)
{
    (void)state;
    enum { N = 1 << 16 };
    uint16_t *codes = malloc(N * sizeof *codes);
    assert_non_null(codes);
    for (uint32_t i = 0; i < N; i++) codes[i] = (uint16_t)i;
    check_widening(FROM_F16, codes, N);
    check_widening(FROM_BF16, codes, N);
    free(codes);
}

/* Long enough for the SIMD widening kernels to switch to streaming stores (convert_simd.h),
 * at several float offsets within a 64-byte line, checking the floats around the output too. */
static void test_long_widenings_with_streaming_stores_match_reference(void **state)
{
    (void)state;
    enum { GUARD = 32 };
    const size_t n = STREAM_MIN_BYTES / sizeof(float) + 37;
    const size_t floats = n + 2 * GUARD;
    uint16_t *codes = malloc(n * sizeof *codes);
    float *expected = malloc(floats * sizeof *expected);
    float *actual = malloc(floats * sizeof *actual);
    assert_non_null(codes);
    assert_non_null(expected);
    assert_non_null(actual);
    uint32_t seed = 99;
    for (size_t i = 0; i < n; i++) codes[i] = (uint16_t)next_random(&seed);
    static const size_t offsets[] = {0, 1, 5, 15};
    for (int o = 0; o < 4; o++) {
        for (int kind = 0; kind < WIDENING_COUNT; kind++) {
            memset(expected, 0xA5, floats * sizeof *expected);
            memset(actual, 0xA5, floats * sizeof *actual);
            run_widening(reference, kind, expected + GUARD + offsets[o], codes, n);
            run_widening(active, kind, actual + GUARD + offsets[o], codes, n);
            if (memcmp(expected, actual, floats * sizeof *expected) != 0)
                fail_msg("%s of %zu codes at float offset %zu differs (or wrote outside)",
                         widening_names[kind], n, offsets[o]);
        }
    }
    free(codes);
    free(expected);
    free(actual);
}

/* Widening every F8 code and narrowing it back must also give the code again, except that an
 * E5M2 signaling NaN comes back quiet. */
static void test_every_f8_code_widens_like_reference_and_narrows_back(void **state)
{
    (void)state;
    uint8_t codes[256], back[256];
    float widened[256];
    for (int i = 0; i < 256; i++) codes[i] = (uint8_t)i;
    check_widening(FROM_E4M3, codes, 256);
    check_widening(FROM_E5M2, codes, 256);

    active->f8_e4m3_to_f32(widened, codes, 256);
    active->f32_to_f8_e4m3(back, widened, 256, AMPC_OVERFLOW_DEFAULT);
    for (int i = 0; i < 256; i++) assert_int_equal(back[i], codes[i]);
    active->f8_e5m2_to_f32(widened, codes, 256);
    active->f32_to_f8_e5m2(back, widened, 256, AMPC_OVERFLOW_DEFAULT);
    for (int i = 0; i < 256; i++) {
        bool is_nan = (i & 0x7C) == 0x7C && (i & 0x03) != 0;
        assert_int_equal(back[i], is_nan ? i | 0x02 : i);
    }
}

/* ---- the caller's floating-point environment ---- */

/* Flush-to-zero, denormals-are-zero and round-toward-zero: what a caller tuning for speed
 * might leave in MXCSR. */
enum { HOSTILE_MXCSR = 0x1F80u | 0x8000u | 0x0040u | 0x6000u };

/* Bit patterns dense around the subnormal and overflow ranges of every narrow format. */
static void fill_hostile_inputs(float *values, size_t n)
{
    uint32_t state = 0x2545F491u;
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = next_random(&state);
        uint32_t exponent = (i % 3 == 0) ? bits % 16 : 96 + bits % 48; /* tiny, or near 2^-31..2^16 */
        values[i] = f32_of_bits((bits & 0x807FFFFFu) | (exponent << 23));
    }
}

static void test_convert_ignores_callers_flush_to_zero_and_rounding_mode(void **state)
{
    (void)state;
    const size_t sizes[] = {1000, (size_t)1 << 17}; /* serial, and split across threads */
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = sizes[s];
        float *src = malloc(n * sizeof *src);
        uint16_t *half = malloc(n * sizeof *half), *brain = malloc(n * sizeof *brain);
        uint8_t *e4m3 = malloc(n), *e5m2 = malloc(n);
        assert_true(src && half && brain && e4m3 && e5m2);
        fill_hostile_inputs(src, n);
        unsigned int caller_mxcsr = _mm_getcsr();
        _mm_setcsr(HOSTILE_MXCSR);
        ampc_status statuses[4] = {
            ampc_convert(half, AMPC_F16, src, AMPC_F32, n),
            ampc_convert(brain, AMPC_BF16, src, AMPC_F32, n),
            ampc_convert(e4m3, AMPC_F8_E4M3, src, AMPC_F32, n),
            ampc_convert(e5m2, AMPC_F8_E5M2, src, AMPC_F32, n),
        };
        unsigned int after = _mm_getcsr();
        _mm_setcsr(caller_mxcsr);
        assert_int_equal(after & ~0x3Fu, HOSTILE_MXCSR); /* the caller's setting is restored */
        for (int i = 0; i < 4; i++) assert_int_equal(statuses[i], AMPC_OK);
        for (size_t i = 0; i < n; i++) {
            if (half[i] != ampc_f32_to_f16(src[i]) || brain[i] != ampc_f32_to_bf16(src[i]) ||
                e4m3[i] != ampc_f32_to_f8_e4m3(src[i], AMPC_OVERFLOW_DEFAULT) ||
                e5m2[i] != ampc_f32_to_f8_e5m2(src[i], AMPC_OVERFLOW_DEFAULT))
                fail_msg("input 0x%08x converts differently under FTZ/DAZ/round-to-zero",
                         bits_of_f32(src[i]));
        }
        free(src), free(half), free(brain), free(e4m3), free(e5m2);
    }
}

/* The kernel tables are also called directly (by tests and benchmarks), outside ampc_convert's
 * MXCSR guard, so widening must not depend on MXCSR at all: every F16, BF16 and F8 code widens
 * to the reference's bits under flush-to-zero, denormals-are-zero and round-toward-zero
 * (the subnormal codes are the ones DAZ or FTZ would break). */
static void test_widening_kernels_ignore_flush_to_zero_and_rounding_mode(void **state)
{
    (void)state;
    enum { N = 1 << 16 };
    uint16_t *codes = malloc(N * sizeof *codes);
    float *expected = malloc(N * sizeof *expected), *actual = malloc(N * sizeof *actual);
    assert_true(codes && expected && actual);
    for (int kind = 0; kind < WIDENING_COUNT; kind++) {
        size_t n = widened_from_size(kind) == 2 ? N : 256;
        for (size_t i = 0; i < n; i++) {
            if (widened_from_size(kind) == 2) codes[i] = (uint16_t)i;
            else ((uint8_t *)codes)[i] = (uint8_t)i;
        }
        run_widening(reference, kind, expected, codes, n);
        unsigned int caller_mxcsr = _mm_getcsr();
        _mm_setcsr(HOSTILE_MXCSR);
        run_widening(active, kind, actual, codes, n);
        _mm_setcsr(caller_mxcsr);
        for (size_t i = 0; i < n; i++) {
            if (bits_of_f32(expected[i]) != bits_of_f32(actual[i]))
                fail_msg("%s of 0x%04x under FTZ/DAZ/round-to-zero: reference 0x%08x, %s path "
                         "0x%08x", widening_names[kind], element(codes, widened_from_size(kind), i),
                         bits_of_f32(expected[i]), ampc_isa_name(ampc_convert_path()),
                         bits_of_f32(actual[i]));
        }
    }
    free(codes), free(expected), free(actual);
}

int main(void)
{
    int skip = ampc_test_require_isa();
    if (skip) return skip;
    reference = ampc_convert_kernels_at(AMPC_ISA_SCALAR);
    active = ampc_convert_kernels_active();
    printf("comparing the %s conversion path with the scalar reference\n",
           ampc_isa_name(ampc_convert_path()));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_narrowing_matches_reference_on_every_exponent_and_boundary_mantissa),
        cmocka_unit_test(test_narrowing_matches_reference_around_format_limits),
        cmocka_unit_test(test_narrowing_matches_reference_on_random_bit_patterns),
        cmocka_unit_test(test_every_tail_length_and_misaligned_start_matches_reference),
        cmocka_unit_test(test_every_f16_and_bf16_code_widens_like_reference),
        cmocka_unit_test(test_every_f8_code_widens_like_reference_and_narrows_back),
        cmocka_unit_test(test_long_widenings_with_streaming_stores_match_reference),
        cmocka_unit_test(test_convert_ignores_callers_flush_to_zero_and_rounding_mode),
        cmocka_unit_test(test_widening_kernels_ignore_flush_to_zero_and_rounding_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
