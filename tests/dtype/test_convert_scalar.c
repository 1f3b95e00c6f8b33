/* Tests for the scalar reference conversions (src/dtype/convert_scalar.c) and for
 * ampc_convert's dtype pairs, overflow modes and errors (src/dtype/convert.c).
 *
 * Expected bit patterns come from the format definitions, worked out by hand in the comments,
 * or from an independent implementation (gcc's _Float16, a formula in double); never from the
 * code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ampc/dtype.h>
#include <ampc/error.h>

#include "dtype/convert_kernels.h"
#include "test_support.h"

/* gcc's own binary16 (soft-float __extendhfsf2 here: this file gets no ISA flags). */
__extension__ typedef _Float16 gcc_float16;

static ampc_status convert_saturating(void *dst, ampc_dtype dst_dtype, const void *src,
                                      ampc_dtype src_dtype, size_t n)
{
    return ampc_convert_with(dst, dst_dtype, src, src_dtype, n, AMPC_OVERFLOW_SATURATE);
}

static int clear_error(void **state)
{
    (void)state;
    ampc_error_clear();
    return 0;
}

/* ---- F32 -> F16 (bias 15, 10 mantissa bits, smallest subnormal 2^-24) ---- */

static void test_f16_zero_keeps_its_sign(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f16(0.0f), 0x0000);
    assert_int_equal(ampc_f32_to_f16(-0.0f), 0x8000);
}

static void test_f16_subnormals_are_produced_not_flushed(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f16(0x1p-24f), 0x0001);            /* smallest subnormal */
    assert_int_equal(ampc_f32_to_f16(-0x1p-24f), 0x8001);
    assert_int_equal(ampc_f32_to_f16(1023 * 0x1p-24f), 0x03FF);     /* largest subnormal */
    assert_int_equal(ampc_f32_to_f16(0x1p-14f), 0x0400);            /* smallest normal */
    assert_int_equal(ampc_f32_to_f16(0x1p-25f), 0x0000);            /* tie with 0: even */
    assert_int_equal(ampc_f32_to_f16(nextafterf(0x1p-25f, 1)), 0x0001);
    assert_int_equal(ampc_f32_to_f16(3 * 0x1p-25f), 0x0002);        /* tie 1|2: even */
    assert_int_equal(ampc_f32_to_f16(f32_of_bits(0x00000001)), 0x0000); /* fp32 subnormal */
    assert_int_equal(ampc_f32_to_f16(f32_of_bits(0x80000001)), 0x8000);
}

static void test_f16_ties_round_to_even(void **state)
{
    (void)state;
    /* 1 + 2^-11 is halfway between 1 (0x3C00) and 1 + 2^-10 (0x3C01). */
    assert_int_equal(ampc_f32_to_f16(1 + 0x1p-11f), 0x3C00);
    assert_int_equal(ampc_f32_to_f16(1 + 3 * 0x1p-11f), 0x3C02);
    assert_int_equal(ampc_f32_to_f16(1 + 0x1p-11f + 0x1p-20f), 0x3C01);
    assert_int_equal(ampc_f32_to_f16(-(1 + 0x1p-11f + 0x1p-20f)), 0xBC01);
    /* Rounding up carries into the exponent: 2 - 2^-12 -> 2.0 (0x4000). */
    assert_int_equal(ampc_f32_to_f16(2 - 0x1p-12f), 0x4000);
}

static void test_f16_overflow_rounds_to_inf_from_65520(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f16(65504.0f), 0x7BFF); /* largest finite */
    assert_int_equal(ampc_f32_to_f16(nextafterf(65520.0f, 0)), 0x7BFF);
    assert_int_equal(ampc_f32_to_f16(65520.0f), 0x7C00); /* halfway to 2^16, 0x7BFF is odd */
    assert_int_equal(ampc_f32_to_f16(-65520.0f), 0xFC00);
    assert_int_equal(ampc_f32_to_f16(FLT_MAX), 0x7C00);
    assert_int_equal(ampc_f32_to_f16(INFINITY), 0x7C00);
    assert_int_equal(ampc_f32_to_f16(-INFINITY), 0xFC00);
}

static void test_f16_nan_stays_quiet_nan_with_sign_and_top_payload(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f16(f32_of_bits(0x7FC00000)), 0x7E00);
    assert_int_equal(ampc_f32_to_f16(f32_of_bits(0xFFC00000)), 0xFE00);
    assert_int_equal(ampc_f32_to_f16(f32_of_bits(0x7F800001)), 0x7E00); /* sNaN gets quieted */
    assert_int_equal(ampc_f32_to_f16(f32_of_bits(0x7FA00000)), 0x7F00); /* mantissa >> 13 */
    assert_int_equal(ampc_f32_to_f16(f32_of_bits(0x7F802000)), 0x7E01);
}

static void test_f16_widening_matches_gcc_float16_for_all_bits(void **state)
{
    (void)state;
    for (uint32_t bits = 0; bits <= 0xFFFF; bits++) {
        uint16_t half = (uint16_t)bits;
        gcc_float16 reference;
        memcpy(&reference, &half, sizeof half);
        uint32_t expected = bits_of_f32((float)reference);
        uint32_t actual = bits_of_f32(ampc_f16_to_f32(half));
        if (actual != expected)
            fail_msg("f16 0x%04x: got 0x%08x, gcc 0x%08x", bits, actual, expected);
    }
}

/* ---- F32 -> BF16 (the top half of an fp32) ---- */

static void test_bf16_zero_keeps_its_sign(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_bf16(0.0f), 0x0000);
    assert_int_equal(ampc_f32_to_bf16(-0.0f), 0x8000);
}

static void test_bf16_subnormals_round_on_the_low_16_bits(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x00010000)), 0x0001); /* smallest */
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x00008000)), 0x0000); /* tie with 0 */
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x00008001)), 0x0001);
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x00018000)), 0x0002); /* tie 1|2 */
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x007FFFFF)), 0x0080); /* up to min normal */
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x807F0000)), 0x807F);
}

static void test_bf16_ties_round_to_even(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x3F808000)), 0x3F80);
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x3F818000)), 0x3F82);
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x3F808001)), 0x3F81);
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0xBF807FFF)), 0xBF80);
}

static void test_bf16_overflow_past_0x7f7f_rounds_to_inf(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x7F7F7FFF)), 0x7F7F);
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x7F7F8000)), 0x7F80); /* tie, 0x7F7F odd */
    assert_int_equal(ampc_f32_to_bf16(FLT_MAX), 0x7F80);
    assert_int_equal(ampc_f32_to_bf16(-FLT_MAX), 0xFF80);
    assert_int_equal(ampc_f32_to_bf16(INFINITY), 0x7F80);
}

static void test_bf16_nan_is_top_half_with_quiet_bit(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x7FC00000)), 0x7FC0);
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0xFF800001)), 0xFFC0); /* would round to inf */
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x7FA00000)), 0x7FE0);
    assert_int_equal(ampc_f32_to_bf16(f32_of_bits(0x7F81FFFF)), 0x7FC1); /* truncated */
}

static void test_bf16_widening_is_a_16_bit_shift_for_all_bits(void **state)
{
    (void)state;
    for (uint32_t bits = 0; bits <= 0xFFFF; bits++) {
        uint32_t actual = bits_of_f32(ampc_bf16_to_f32((uint16_t)bits));
        if (actual != bits << 16) fail_msg("bf16 0x%04x: got 0x%08x", bits, actual);
    }
}

/* ---- F32 -> F8 E4M3 (bias 7, 3 mantissa bits, max 448 = 0x7E, NaN S.1111.111, no inf) ---- */

static void test_e4m3_zero_and_subnormals(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f8_e4m3(0.0f, AMPC_OVERFLOW_DEFAULT), 0x00);
    assert_int_equal(ampc_f32_to_f8_e4m3(-0.0f, AMPC_OVERFLOW_DEFAULT), 0x80);
    assert_int_equal(ampc_f32_to_f8_e4m3(0x1p-9f, AMPC_OVERFLOW_DEFAULT), 0x01);
    assert_int_equal(ampc_f32_to_f8_e4m3(7 * 0x1p-9f, AMPC_OVERFLOW_DEFAULT), 0x07);
    assert_int_equal(ampc_f32_to_f8_e4m3(0x1p-6f, AMPC_OVERFLOW_DEFAULT), 0x08);
    assert_int_equal(ampc_f32_to_f8_e4m3(0x1p-10f, AMPC_OVERFLOW_DEFAULT), 0x00); /* tie 0|1 */
    assert_int_equal(ampc_f32_to_f8_e4m3(3 * 0x1p-10f, AMPC_OVERFLOW_DEFAULT), 0x02);
    assert_int_equal(ampc_f32_to_f8_e4m3(-nextafterf(0x1p-10f, 1), AMPC_OVERFLOW_DEFAULT), 0x81);
    /* 7.5 quanta, halfway between the largest subnormal (7) and the smallest normal (8). */
    assert_int_equal(ampc_f32_to_f8_e4m3(15 * 0x1p-10f, AMPC_OVERFLOW_DEFAULT), 0x08);
}

static void test_e4m3_ties_round_to_even(void **state)
{
    (void)state;
    /* 1.0 is 0x38; 1 + 2^-4 is halfway to 1.125 (0x39). */
    assert_int_equal(ampc_f32_to_f8_e4m3(1 + 0x1p-4f, AMPC_OVERFLOW_DEFAULT), 0x38);
    assert_int_equal(ampc_f32_to_f8_e4m3(1 + 3 * 0x1p-4f, AMPC_OVERFLOW_DEFAULT), 0x3A);
    assert_int_equal(ampc_f32_to_f8_e4m3(240.0f, AMPC_OVERFLOW_DEFAULT), 0x77);
    assert_int_equal(ampc_f32_to_f8_e4m3(256.0f, AMPC_OVERFLOW_DEFAULT), 0x78);
}

/* 448 = 1.75 * 2^8 (0x7E, mantissa 110). The next code, 0x7F, is NaN; 464 is halfway between
 * 448 and the 480 that 0x7F would be, and ties to the even 448. Anything above overflows. */
static void test_e4m3_464_ties_to_448_and_above_is_nan_by_default(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f8_e4m3(448.0f, AMPC_OVERFLOW_DEFAULT), 0x7E);
    assert_int_equal(ampc_f32_to_f8_e4m3(464.0f, AMPC_OVERFLOW_DEFAULT), 0x7E);
    assert_int_equal(ampc_f32_to_f8_e4m3(-464.0f, AMPC_OVERFLOW_DEFAULT), 0xFE);
    assert_int_equal(ampc_f32_to_f8_e4m3(nextafterf(464.0f, 1000), AMPC_OVERFLOW_DEFAULT), 0x7F);
    assert_int_equal(ampc_f32_to_f8_e4m3(1e9f, AMPC_OVERFLOW_DEFAULT), 0x7F);
    assert_int_equal(ampc_f32_to_f8_e4m3(-1e9f, AMPC_OVERFLOW_DEFAULT), 0xFF);
    assert_int_equal(ampc_f32_to_f8_e4m3(INFINITY, AMPC_OVERFLOW_DEFAULT), 0x7F);
    assert_int_equal(ampc_f32_to_f8_e4m3(-INFINITY, AMPC_OVERFLOW_DEFAULT), 0xFF);
}

static void test_e4m3_saturate_clamps_overflow_and_inf_to_448(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f8_e4m3(nextafterf(464.0f, 1000), AMPC_OVERFLOW_SATURATE), 0x7E);
    assert_int_equal(ampc_f32_to_f8_e4m3(1e9f, AMPC_OVERFLOW_SATURATE), 0x7E);
    assert_int_equal(ampc_f32_to_f8_e4m3(-FLT_MAX, AMPC_OVERFLOW_SATURATE), 0xFE);
    assert_int_equal(ampc_f32_to_f8_e4m3(INFINITY, AMPC_OVERFLOW_SATURATE), 0x7E);
    assert_int_equal(ampc_f32_to_f8_e4m3(-INFINITY, AMPC_OVERFLOW_SATURATE), 0xFE);
    /* In range, saturation changes nothing: 100 = 1.5625 * 64 ties to 96 = 1.5 * 64. */
    assert_int_equal(ampc_f32_to_f8_e4m3(100.0f, AMPC_OVERFLOW_SATURATE), 0x6C);
}

static void test_e4m3_nan_is_its_one_nan_with_sign_in_both_modes(void **state)
{
    (void)state;
    for (int mode = 0; mode < AMPC_OVERFLOW_COUNT; mode++) {
        assert_int_equal(ampc_f32_to_f8_e4m3(f32_of_bits(0x7FC00000), mode), 0x7F);
        assert_int_equal(ampc_f32_to_f8_e4m3(f32_of_bits(0xFFC00000), mode), 0xFF);
        assert_int_equal(ampc_f32_to_f8_e4m3(f32_of_bits(0x7F800001), mode), 0x7F);
    }
}

/* ---- F32 -> F8 E5M2 (bias 15, 2 mantissa bits, max 57344 = 0x7B, inf 0x7C) ---- */

static void test_e5m2_zero_and_subnormals(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f8_e5m2(-0.0f, AMPC_OVERFLOW_DEFAULT), 0x80);
    assert_int_equal(ampc_f32_to_f8_e5m2(0x1p-16f, AMPC_OVERFLOW_DEFAULT), 0x01);
    assert_int_equal(ampc_f32_to_f8_e5m2(3 * 0x1p-16f, AMPC_OVERFLOW_DEFAULT), 0x03);
    assert_int_equal(ampc_f32_to_f8_e5m2(0x1p-14f, AMPC_OVERFLOW_DEFAULT), 0x04);
    assert_int_equal(ampc_f32_to_f8_e5m2(0x1p-17f, AMPC_OVERFLOW_DEFAULT), 0x00); /* tie 0|1 */
    assert_int_equal(ampc_f32_to_f8_e5m2(3 * 0x1p-17f, AMPC_OVERFLOW_DEFAULT), 0x02);
    assert_int_equal(ampc_f32_to_f8_e5m2(1.0f, AMPC_OVERFLOW_DEFAULT), 0x3C);
    assert_int_equal(ampc_f32_to_f8_e5m2(1.125f, AMPC_OVERFLOW_DEFAULT), 0x3C); /* tie: even */
    assert_int_equal(ampc_f32_to_f8_e5m2(1.375f, AMPC_OVERFLOW_DEFAULT), 0x3E);
}

static void test_e5m2_overflow_rounds_to_inf_from_61440(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f8_e5m2(57344.0f, AMPC_OVERFLOW_DEFAULT), 0x7B);
    assert_int_equal(ampc_f32_to_f8_e5m2(nextafterf(61440.0f, 0), AMPC_OVERFLOW_DEFAULT), 0x7B);
    assert_int_equal(ampc_f32_to_f8_e5m2(61440.0f, AMPC_OVERFLOW_DEFAULT), 0x7C);
    assert_int_equal(ampc_f32_to_f8_e5m2(-61440.0f, AMPC_OVERFLOW_DEFAULT), 0xFC);
    assert_int_equal(ampc_f32_to_f8_e5m2(INFINITY, AMPC_OVERFLOW_DEFAULT), 0x7C);
}

static void test_e5m2_saturate_clamps_overflow_and_inf_to_57344(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f8_e5m2(61440.0f, AMPC_OVERFLOW_SATURATE), 0x7B);
    assert_int_equal(ampc_f32_to_f8_e5m2(FLT_MAX, AMPC_OVERFLOW_SATURATE), 0x7B);
    assert_int_equal(ampc_f32_to_f8_e5m2(INFINITY, AMPC_OVERFLOW_SATURATE), 0x7B);
    assert_int_equal(ampc_f32_to_f8_e5m2(-INFINITY, AMPC_OVERFLOW_SATURATE), 0xFB);
    assert_int_equal(ampc_f32_to_f8_e5m2(f32_of_bits(0xFFC00000), AMPC_OVERFLOW_SATURATE), 0xFE);
}

static void test_e5m2_nan_stays_quiet_nan_with_sign_and_top_payload(void **state)
{
    (void)state;
    assert_int_equal(ampc_f32_to_f8_e5m2(f32_of_bits(0x7FC00000), AMPC_OVERFLOW_DEFAULT), 0x7E);
    assert_int_equal(ampc_f32_to_f8_e5m2(f32_of_bits(0xFFC00000), AMPC_OVERFLOW_DEFAULT), 0xFE);
    assert_int_equal(ampc_f32_to_f8_e5m2(f32_of_bits(0x7F800001), AMPC_OVERFLOW_DEFAULT), 0x7E);
    assert_int_equal(ampc_f32_to_f8_e5m2(f32_of_bits(0x7FA00000), AMPC_OVERFLOW_DEFAULT), 0x7F);
}

/* ---- F8 -> F32, all 256 codes, against the definition evaluated in double ---- */

static double f8_value(unsigned code, int mantissa_bits, int bias)
{
    int exponent_field = (int)(code & 0x7F) >> mantissa_bits;
    unsigned mantissa = code & ((1u << mantissa_bits) - 1);
    double scale = ldexp(1.0, -mantissa_bits);
    double magnitude = exponent_field == 0
                           ? mantissa * scale * ldexp(1.0, 1 - bias)
                           : (1 + mantissa * scale) * ldexp(1.0, exponent_field - bias);
    return code & 0x80 ? -magnitude : magnitude;
}

static void test_e4m3_widening_matches_definition_for_all_codes(void **state)
{
    (void)state;
    for (unsigned code = 0; code < 256; code++) {
        uint32_t actual = bits_of_f32(ampc_f8_e4m3_to_f32((uint8_t)code));
        uint32_t sign = (code & 0x80u) << 24;
        if ((code & 0x7F) == 0x7F) {
            assert_int_equal(actual, sign | 0x7FC00000); /* its only NaN */
            continue;
        }
        double expected = f8_value(code, 3, 7);
        if ((double)f32_of_bits(actual) != expected || (actual & 0x80000000) != sign)
            fail_msg("e4m3 0x%02x: got %a, expected %a", code, (double)f32_of_bits(actual),
                     expected);
    }
    assert_true(ampc_f8_e4m3_to_f32(0x7E) == 448.0f);
    assert_true(ampc_f8_e4m3_to_f32(0x01) == 0x1p-9f);
}

/* E5M2 is the top byte of an F16, so gcc's _Float16 widening is an independent check, NaN
 * payloads included. */
static void test_e5m2_widening_matches_definition_and_f16_for_all_codes(void **state)
{
    (void)state;
    for (unsigned code = 0; code < 256; code++) {
        uint32_t actual = bits_of_f32(ampc_f8_e5m2_to_f32((uint8_t)code));
        uint16_t as_f16 = (uint16_t)(code << 8);
        gcc_float16 reference;
        memcpy(&reference, &as_f16, sizeof as_f16);
        assert_int_equal(actual, bits_of_f32((float)reference));
        if ((code & 0x7C) == 0x7C) continue; /* inf and NaN: checked through gcc above */
        double expected = f8_value(code, 2, 15);
        if ((double)f32_of_bits(actual) != expected)
            fail_msg("e5m2 0x%02x: got %a, expected %a", code, (double)f32_of_bits(actual),
                     expected);
    }
    assert_true(ampc_f8_e5m2_to_f32(0x7B) == 57344.0f);
    assert_true(isinf(ampc_f8_e5m2_to_f32(0xFC)) && ampc_f8_e5m2_to_f32(0xFC) < 0);
}

/* ---- F64 -> narrow rounds once ---- */

/* 1 + 2^-11 + 2^-40 is just above the F16 tie 1 + 2^-11; fp32 cannot hold the 2^-40, so
 * going through fp32 lands exactly on the tie and rounds down to even. */
static void test_f64_to_f16_rounds_once_where_f32_double_rounding_differs(void **state)
{
    (void)state;
    double value = 1 + 0x1p-11 + 0x1p-40;
    assert_int_equal(ampc_f64_to_f16(value), 0x3C01);
    assert_int_equal(ampc_f32_to_f16((float)value), 0x3C00); /* what double rounding gives */
    assert_int_equal(ampc_f64_to_f16(-value), 0xBC01);
}

static void test_f64_to_bf16_rounds_once_where_f32_double_rounding_differs(void **state)
{
    (void)state;
    double value = 1 + 0x1p-8 + 0x1p-40;
    assert_int_equal(ampc_f64_to_bf16(value), 0x3F81);
    assert_int_equal(ampc_f32_to_bf16((float)value), 0x3F80);
}

static void test_f64_to_narrow_handles_range_and_specials(void **state)
{
    (void)state;
    assert_int_equal(ampc_f64_to_f16(1e300), 0x7C00);
    assert_int_equal(ampc_f64_to_f16(-1e-300), 0x8000);
    assert_int_equal(ampc_f64_to_f16(f64_of_bits(1)), 0x0000);        /* fp64 subnormal */
    assert_int_equal(ampc_f64_to_f16(0x1p-24), 0x0001);
    assert_int_equal(ampc_f64_to_f16(65520.0), 0x7C00);
    assert_int_equal(ampc_f64_to_f16(65519.99999), 0x7BFF);
    assert_int_equal(ampc_f64_to_bf16(0x1p-133), 0x0001);             /* below fp32's range */
    assert_int_equal(ampc_f64_to_bf16(1e300), 0x7F80);
    assert_int_equal(ampc_f64_to_f16(f64_of_bits(0x7FF8000000000000)), 0x7E00);
    assert_int_equal(ampc_f64_to_f16(f64_of_bits(0xFFF4000000000000)), 0xFF00); /* payload kept */
    assert_int_equal(ampc_f64_to_bf16(f64_of_bits(0x7FF0000000000001)), 0x7FC0);
    assert_int_equal(ampc_f64_to_f8_e4m3(464.0, AMPC_OVERFLOW_DEFAULT), 0x7E);
    assert_int_equal(ampc_f64_to_f8_e4m3(464.0000001, AMPC_OVERFLOW_DEFAULT), 0x7F);
    assert_int_equal(ampc_f64_to_f8_e4m3(1e300, AMPC_OVERFLOW_SATURATE), 0x7E);
    assert_int_equal(ampc_f64_to_f8_e5m2(-INFINITY, AMPC_OVERFLOW_DEFAULT), 0xFC);
    assert_int_equal(ampc_f64_to_f8_e5m2(0x1p-16, AMPC_OVERFLOW_DEFAULT), 0x01);
}

/* ---- ampc_convert ---- */

static const ampc_dtype all_dtypes[] = {AMPC_F64, AMPC_F32,  AMPC_F16, AMPC_BF16, AMPC_F8_E4M3,
                                        AMPC_F8_E5M2, AMPC_I64, AMPC_I32, AMPC_U8, AMPC_BOOL};
enum { DTYPE_COUNT = sizeof all_dtypes / sizeof all_dtypes[0] };

/* Small integers are exact in every dtype (BOOL only holds 0 and 1). */
static void test_convert_every_dtype_pair_round_trips_exact_values(void **state)
{
    (void)state;
    enum { N = 8 };
    static const double integers[N] = {0, 1, 2, 3, 4, 5, 6, 7};
    static const double bools[N] = {0, 1, 1, 0, 1, 0, 0, 1};
    for (int s = 0; s < DTYPE_COUNT; s++) {
        for (int d = 0; d < DTYPE_COUNT; d++) {
            ampc_dtype src_dtype = all_dtypes[s], dst_dtype = all_dtypes[d];
            bool either_bool = src_dtype == AMPC_BOOL || dst_dtype == AMPC_BOOL;
            const double *values = either_bool ? bools : integers;
            uint64_t src[N], dst[N], back[N]; /* 8 bytes per element fits every dtype */
            double seen[N];
            assert_int_equal(ampc_convert(src, src_dtype, values, AMPC_F64, N), AMPC_OK);
            assert_int_equal(ampc_convert(dst, dst_dtype, src, src_dtype, N), AMPC_OK);
            assert_int_equal(ampc_convert(seen, AMPC_F64, dst, dst_dtype, N), AMPC_OK);
            assert_int_equal(ampc_convert(back, src_dtype, dst, dst_dtype, N), AMPC_OK);
            for (int i = 0; i < N; i++)
                if (seen[i] != values[i])
                    fail_msg("%s -> %s: element %d is %g, expected %g", ampc_dtype_name(src_dtype),
                             ampc_dtype_name(dst_dtype), i, seen[i], values[i]);
            assert_memory_equal(back, src, N * ampc_dtype_size(src_dtype));
        }
    }
}

static void test_convert_narrow_to_narrow_equals_one_rounding_through_f32(void **state)
{
    (void)state;
    enum { N = 1 << 16 };
    uint16_t *halves = malloc(N * sizeof *halves);
    uint8_t *e4m3 = malloc(N), *e5m2 = malloc(N);
    uint16_t *bf16 = malloc(N * sizeof *bf16);
    assert_non_null(halves);
    assert_non_null(e4m3);
    assert_non_null(e5m2);
    assert_non_null(bf16);
    for (uint32_t i = 0; i < N; i++) halves[i] = (uint16_t)i;
    assert_int_equal(ampc_convert(e4m3, AMPC_F8_E4M3, halves, AMPC_F16, N), AMPC_OK);
    assert_int_equal(ampc_convert(bf16, AMPC_BF16, halves, AMPC_F16, N), AMPC_OK);
    assert_int_equal(ampc_convert_with(e5m2, AMPC_F8_E5M2, halves, AMPC_BF16, N,
                                       AMPC_OVERFLOW_SATURATE), AMPC_OK);
    for (uint32_t i = 0; i < N; i++) {
        float from_f16 = ampc_f16_to_f32((uint16_t)i), from_bf16 = ampc_bf16_to_f32((uint16_t)i);
        assert_int_equal(e4m3[i], ampc_f32_to_f8_e4m3(from_f16, AMPC_OVERFLOW_DEFAULT));
        assert_int_equal(bf16[i], ampc_f32_to_bf16(from_f16));
        assert_int_equal(e5m2[i], ampc_f32_to_f8_e5m2(from_bf16, AMPC_OVERFLOW_SATURATE));
    }
    free(halves);
    free(e4m3);
    free(e5m2);
    free(bf16);
}

static void test_convert_f64_to_narrow_rounds_once(void **state)
{
    (void)state;
    double values[2] = {1 + 0x1p-11 + 0x1p-40, 1 + 0x1p-8 + 0x1p-40};
    uint16_t half[2], brain[2];
    assert_int_equal(ampc_convert(half, AMPC_F16, values, AMPC_F64, 2), AMPC_OK);
    assert_int_equal(ampc_convert(brain, AMPC_BF16, values, AMPC_F64, 2), AMPC_OK);
    assert_int_equal(half[0], 0x3C01);
    assert_int_equal(brain[1], 0x3F81);
}

/* 2^60 + 2^52 + 1 is just above the BF16 tie 2^60 + 2^52 (its quantum there is 2^53); a
 * plain (double) cast drops the +1 and lands on the tie. */
static void test_convert_i64_to_narrow_rounds_once(void **state)
{
    (void)state;
    int64_t values[3] = {(INT64_C(1) << 60) + (INT64_C(1) << 52) + 1,
                         -((INT64_C(1) << 60) + (INT64_C(1) << 52) + 1),
                         (INT64_C(1) << 60) + (INT64_C(1) << 36) + 1};
    uint16_t brain[3];
    float single[3];
    assert_int_equal(ampc_convert(brain, AMPC_BF16, values, AMPC_I64, 3), AMPC_OK);
    assert_int_equal(ampc_convert(single, AMPC_F32, values, AMPC_I64, 3), AMPC_OK);
    assert_int_equal(brain[0], 0x5D81);
    assert_int_equal(brain[1], 0xDD81);
    assert_true(single[2] == 0x1p60f + 0x1p37f); /* above the fp32 tie at 2^36 */
}

static void test_convert_i64_to_f64_rounds_to_nearest_even(void **state)
{
    (void)state;
    int64_t values[3] = {(INT64_C(1) << 53) + 1, (INT64_C(1) << 53) + 3, INT64_MIN};
    double doubles[3];
    assert_int_equal(ampc_convert(doubles, AMPC_F64, values, AMPC_I64, 3), AMPC_OK);
    assert_true(doubles[0] == 0x1p53);
    assert_true(doubles[1] == 0x1p53 + 4);
    assert_true(doubles[2] == -0x1p63);
}

static void test_convert_float_to_int_truncates_toward_zero(void **state)
{
    (void)state;
    float values[6] = {2.7f, -2.7f, -0.5f, 0.9f, -0.0f, 254.99f};
    int32_t i32[6];
    int64_t i64[6];
    uint8_t u8[6];
    assert_int_equal(ampc_convert(i32, AMPC_I32, values, AMPC_F32, 6), AMPC_OK);
    assert_int_equal(ampc_convert(i64, AMPC_I64, values, AMPC_F32, 6), AMPC_OK);
    assert_int_equal(ampc_convert(u8, AMPC_U8, values, AMPC_F32, 6), AMPC_OK);
    static const int32_t expected[6] = {2, -2, 0, 0, 0, 254};
    for (int i = 0; i < 6; i++) {
        assert_int_equal(i32[i], expected[i]);
        assert_int_equal(i64[i], expected[i]);
    }
    static const uint8_t expected_u8[6] = {2, 0, 0, 0, 0, 254};
    assert_memory_equal(u8, expected_u8, 6);
}

static void test_convert_float_to_int_saturates_and_nan_becomes_zero(void **state)
{
    (void)state;
    double values[6] = {1e30, -1e30, INFINITY, -INFINITY, NAN, 0x1p63};
    int32_t i32[6];
    int64_t i64[6];
    uint8_t u8[6];
    assert_int_equal(ampc_convert(i32, AMPC_I32, values, AMPC_F64, 6), AMPC_OK);
    assert_int_equal(ampc_convert(i64, AMPC_I64, values, AMPC_F64, 6), AMPC_OK);
    assert_int_equal(ampc_convert(u8, AMPC_U8, values, AMPC_F64, 6), AMPC_OK);
    static const int32_t expected_i32[6] = {INT32_MAX, INT32_MIN, INT32_MAX,
                                            INT32_MIN, 0,         INT32_MAX};
    static const int64_t expected_i64[6] = {INT64_MAX, INT64_MIN, INT64_MAX,
                                            INT64_MIN, 0,         INT64_MAX};
    static const uint8_t expected_u8[6] = {255, 0, 255, 0, 0, 255};
    assert_memory_equal(i32, expected_i32, sizeof i32);
    assert_memory_equal(i64, expected_i64, sizeof i64);
    assert_memory_equal(u8, expected_u8, sizeof u8);

    double edges[4] = {2147483647.9, -2147483648.9, 255.5, -0.99};
    assert_int_equal(ampc_convert(i32, AMPC_I32, edges, AMPC_F64, 4), AMPC_OK);
    assert_int_equal(ampc_convert(u8, AMPC_U8, edges, AMPC_F64, 4), AMPC_OK);
    assert_int_equal(i32[0], INT32_MAX);
    assert_int_equal(i32[1], INT32_MIN);
    assert_int_equal(u8[2], 255);
    assert_int_equal(u8[3], 0);
}

static void test_convert_int_to_int_saturates(void **state)
{
    (void)state;
    int64_t wide[4] = {INT64_C(1) << 40, -(INT64_C(1) << 40), 300, -1};
    int32_t i32[4];
    uint8_t u8[4];
    assert_int_equal(ampc_convert(i32, AMPC_I32, wide, AMPC_I64, 4), AMPC_OK);
    assert_int_equal(ampc_convert(u8, AMPC_U8, wide, AMPC_I64, 4), AMPC_OK);
    static const int32_t expected_i32[4] = {INT32_MAX, INT32_MIN, 300, -1};
    static const uint8_t expected_u8[4] = {255, 0, 255, 0};
    assert_memory_equal(i32, expected_i32, sizeof i32);
    assert_memory_equal(u8, expected_u8, sizeof u8);
    int64_t extremes[2] = {INT64_MAX, INT64_MIN};
    int64_t copied[2];
    int32_t narrowed[2];
    assert_int_equal(ampc_convert(narrowed, AMPC_I32, extremes, AMPC_I64, 2), AMPC_OK);
    assert_int_equal(ampc_convert(copied, AMPC_I64, narrowed, AMPC_I32, 2), AMPC_OK);
    assert_int_equal(copied[0], INT32_MAX);
    assert_int_equal(copied[1], INT32_MIN);
}

static void test_convert_bool_is_one_for_any_nonzero_including_nan(void **state)
{
    (void)state;
    float values[6] = {0.0f, -0.0f, 0x1p-149f, NAN, -INFINITY, -3.0f};
    int32_t integers[3] = {0, -7, INT32_MIN};
    uint8_t flags[6];
    assert_int_equal(ampc_convert(flags, AMPC_BOOL, values, AMPC_F32, 6), AMPC_OK);
    static const uint8_t expected[6] = {0, 0, 1, 1, 1, 1};
    assert_memory_equal(flags, expected, 6);
    assert_int_equal(ampc_convert(flags, AMPC_BOOL, integers, AMPC_I32, 3), AMPC_OK);
    assert_int_equal(flags[0], 0);
    assert_int_equal(flags[1], 1);
    assert_int_equal(flags[2], 1);
    uint16_t nan_half = 0x7E00;
    assert_int_equal(ampc_convert(flags, AMPC_BOOL, &nan_half, AMPC_F16, 1), AMPC_OK);
    assert_int_equal(flags[0], 1);
}

static void test_convert_from_bool_gives_zero_or_one(void **state)
{
    (void)state;
    uint8_t flags[3] = {0, 1, 0};
    float floats[3];
    uint16_t halves[3];
    int64_t integers[3];
    assert_int_equal(ampc_convert(floats, AMPC_F32, flags, AMPC_BOOL, 3), AMPC_OK);
    assert_int_equal(ampc_convert(halves, AMPC_F16, flags, AMPC_BOOL, 3), AMPC_OK);
    assert_int_equal(ampc_convert(integers, AMPC_I64, flags, AMPC_BOOL, 3), AMPC_OK);
    assert_true(floats[0] == 0.0f && floats[1] == 1.0f && floats[2] == 0.0f);
    assert_int_equal(halves[1], 0x3C00);
    assert_int_equal(integers[1], 1);
}

static void test_convert_saturate_clamps_every_float_target(void **state)
{
    (void)state;
    float values[4] = {1e6f, INFINITY, -INFINITY, NAN};
    uint16_t half[4], brain[4];
    uint8_t e4m3[4], e5m2[4];
    assert_int_equal(convert_saturating(half, AMPC_F16, values, AMPC_F32, 4), AMPC_OK);
    assert_int_equal(convert_saturating(e4m3, AMPC_F8_E4M3, values, AMPC_F32, 4), AMPC_OK);
    assert_int_equal(convert_saturating(e5m2, AMPC_F8_E5M2, values, AMPC_F32, 4), AMPC_OK);
    static const uint16_t expected_half[4] = {0x7BFF, 0x7BFF, 0xFBFF, 0x7E00};
    static const uint8_t expected_e4m3[4] = {0x7E, 0x7E, 0xFE, 0x7F};
    static const uint8_t expected_e5m2[4] = {0x7B, 0x7B, 0xFB, 0x7E};
    assert_memory_equal(half, expected_half, sizeof half);
    assert_memory_equal(e4m3, expected_e4m3, sizeof e4m3);
    assert_memory_equal(e5m2, expected_e5m2, sizeof e5m2);

    float big[2] = {FLT_MAX, -INFINITY};
    assert_int_equal(convert_saturating(brain, AMPC_BF16, big, AMPC_F32, 2), AMPC_OK);
    assert_int_equal(brain[0], 0x7F7F);
    assert_int_equal(brain[1], 0xFF7F);

    double huge[3] = {1e300, -INFINITY, 1e300};
    float single[3];
    assert_int_equal(convert_saturating(single, AMPC_F32, huge, AMPC_F64, 3), AMPC_OK);
    assert_true(single[0] == FLT_MAX && single[1] == -FLT_MAX);
    assert_int_equal(convert_saturating(half, AMPC_F16, huge, AMPC_F64, 3), AMPC_OK);
    assert_int_equal(half[0], 0x7BFF);
    assert_int_equal(half[1], 0xFBFF);
    int32_t integer = 100000;
    assert_int_equal(convert_saturating(half, AMPC_F16, &integer, AMPC_I32, 1), AMPC_OK);
    assert_int_equal(half[0], 0x7BFF);
    /* The default mode is unaffected by the same calls. */
    assert_int_equal(ampc_convert(half, AMPC_F16, huge, AMPC_F64, 1), AMPC_OK);
    assert_int_equal(half[0], 0x7C00);
}

static void test_convert_same_dtype_copies_and_works_in_place(void **state)
{
    (void)state;
    int32_t values[5] = {1, -2, 3, -4, 5}, copy[5];
    assert_int_equal(ampc_convert(copy, AMPC_I32, values, AMPC_I32, 5), AMPC_OK);
    assert_memory_equal(copy, values, sizeof values);
    assert_int_equal(ampc_convert(copy, AMPC_I32, copy, AMPC_I32, 5), AMPC_OK);
    assert_memory_equal(copy, values, sizeof values);
}

static void test_convert_in_place_between_same_size_dtypes(void **state)
{
    (void)state;
    enum { N = 1000 };
    static union { float f32[N]; int32_t i32[N]; uint16_t u16[2 * N]; } buffer;
    for (int i = 0; i < N; i++) buffer.f32[i] = (float)i - 500.25f;
    assert_int_equal(ampc_convert(buffer.i32, AMPC_I32, buffer.f32, AMPC_F32, N), AMPC_OK);
    for (int i = 0; i < N; i++) assert_int_equal(buffer.i32[i], i <= 500 ? i - 500 : i - 501);
    for (int i = 0; i < 2 * N; i++) buffer.u16[i] = (uint16_t)(0x3C00 + i);
    assert_int_equal(ampc_convert(buffer.u16, AMPC_BF16, buffer.u16, AMPC_F16, 2 * N), AMPC_OK);
    for (int i = 0; i < 2 * N; i++)
        assert_int_equal(buffer.u16[i], ampc_f32_to_bf16(ampc_f16_to_f32((uint16_t)(0x3C00 + i))));
}

/* Large enough to be split across threads; the result must equal the element-wise reference. */
static void test_convert_large_inputs_match_the_scalar_reference(void **state)
{
    (void)state;
    enum { N = 300007 };
    float *values = malloc(N * sizeof *values);
    double *doubles = malloc(N * sizeof *doubles);
    uint16_t *half = malloc(N * sizeof *half);
    uint8_t *e4m3 = malloc(N);
    assert_non_null(values);
    assert_non_null(doubles);
    assert_non_null(half);
    assert_non_null(e4m3);
    uint32_t seed = 12345;
    for (size_t i = 0; i < N; i++) {
        seed = seed * 1664525u + 1013904223u;
        values[i] = f32_of_bits(seed);
        doubles[i] = (double)values[i] * (1 + 0x1p-30);
    }
    assert_int_equal(ampc_convert(half, AMPC_F16, values, AMPC_F32, N), AMPC_OK);
    assert_int_equal(convert_saturating(e4m3, AMPC_F8_E4M3, values, AMPC_F32, N), AMPC_OK);
    for (size_t i = 0; i < N; i++) {
        if (half[i] != ampc_f32_to_f16(values[i])) fail_msg("f16 element %zu", i);
        if (e4m3[i] != ampc_f32_to_f8_e4m3(values[i], AMPC_OVERFLOW_SATURATE))
            fail_msg("e4m3 element %zu", i);
    }
    assert_int_equal(ampc_convert(half, AMPC_BF16, doubles, AMPC_F64, N), AMPC_OK);
    for (size_t i = 0; i < N; i++)
        if (half[i] != ampc_f64_to_bf16(doubles[i])) fail_msg("bf16 from f64 element %zu", i);
    free(values);
    free(doubles);
    free(half);
    free(e4m3);
}

/* ---- errors ---- */

static void test_convert_zero_elements_is_ok_even_with_null_pointers(void **state)
{
    (void)state;
    assert_int_equal(ampc_convert(NULL, AMPC_F16, NULL, AMPC_F32, 0), AMPC_OK);
    assert_int_equal(ampc_error_status(), AMPC_OK);
}

static void test_convert_rejects_invalid_dtype_naming_argument_and_value(void **state)
{
    (void)state;
    float value = 1;
    uint16_t half;
    assert_int_equal(ampc_convert(&half, (ampc_dtype)99, &value, AMPC_F32, 1),
                     AMPC_ERR_INVALID_ARGUMENT);
    const char *message = ampc_error_message();
    assert_non_null(strstr(message, "ampc_convert:"));
    assert_non_null(strstr(message, "dst_dtype 99"));
    assert_non_null(strstr(message, "expected"));
    ampc_error_clear();
    assert_int_equal(ampc_convert_with(&half, AMPC_F16, &value, (ampc_dtype)-1, 1,
                                       AMPC_OVERFLOW_DEFAULT), AMPC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ampc_error_message(), "ampc_convert_with: src_dtype -1"));
    ampc_error_clear();
    assert_int_equal(ampc_convert(NULL, AMPC_DTYPE_COUNT, NULL, AMPC_F32, 0),
                     AMPC_ERR_INVALID_ARGUMENT);
}

static void test_convert_rejects_invalid_overflow_mode(void **state)
{
    (void)state;
    float value = 1;
    uint8_t code;
    assert_int_equal(ampc_convert_with(&code, AMPC_F8_E4M3, &value, AMPC_F32, 1,
                                       (ampc_overflow)7), AMPC_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(ampc_error_message(), "overflow 7"));
    assert_non_null(strstr(ampc_error_message(), "AMPC_OVERFLOW_SATURATE"));
}

static void test_convert_rejects_null_pointers_naming_them(void **state)
{
    (void)state;
    float value = 1;
    uint16_t half;
    assert_int_equal(ampc_convert(NULL, AMPC_F16, &value, AMPC_F32, 1), AMPC_ERR_NULL_ARGUMENT);
    assert_string_equal(ampc_error_message(), "ampc_convert: argument dst is NULL");
    ampc_error_clear();
    assert_int_equal(ampc_convert(&half, AMPC_F16, NULL, AMPC_F32, 1), AMPC_ERR_NULL_ARGUMENT);
    assert_string_equal(ampc_error_message(), "ampc_convert: argument src is NULL");
}

static void test_convert_error_stays_until_cleared(void **state)
{
    (void)state;
    float value = 1;
    uint16_t half;
    assert_int_equal(ampc_convert(&half, (ampc_dtype)42, &value, AMPC_F32, 1),
                     AMPC_ERR_INVALID_ARGUMENT);
    char first[256];
    snprintf(first, sizeof first, "%s", ampc_error_message());
    assert_int_equal(ampc_convert(&half, AMPC_F16, &value, AMPC_F32, 1), AMPC_OK);
    assert_int_equal(ampc_convert(NULL, AMPC_F16, &value, AMPC_F32, 1), AMPC_ERR_INVALID_ARGUMENT);
    assert_int_equal(ampc_error_status(), AMPC_ERR_INVALID_ARGUMENT);
    assert_string_equal(ampc_error_message(), first);
    ampc_error_clear();
    assert_int_equal(ampc_error_status(), AMPC_OK);
    assert_string_equal(ampc_error_message(), "");
}

#define TEST(function) cmocka_unit_test_setup(function, clear_error)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_f16_zero_keeps_its_sign),
        TEST(test_f16_subnormals_are_produced_not_flushed),
        TEST(test_f16_ties_round_to_even),
        TEST(test_f16_overflow_rounds_to_inf_from_65520),
        TEST(test_f16_nan_stays_quiet_nan_with_sign_and_top_payload),
        TEST(test_f16_widening_matches_gcc_float16_for_all_bits),
        TEST(test_bf16_zero_keeps_its_sign),
        TEST(test_bf16_subnormals_round_on_the_low_16_bits),
        TEST(test_bf16_ties_round_to_even),
        TEST(test_bf16_overflow_past_0x7f7f_rounds_to_inf),
        TEST(test_bf16_nan_is_top_half_with_quiet_bit),
        TEST(test_bf16_widening_is_a_16_bit_shift_for_all_bits),
        TEST(test_e4m3_zero_and_subnormals),
        TEST(test_e4m3_ties_round_to_even),
        TEST(test_e4m3_464_ties_to_448_and_above_is_nan_by_default),
        TEST(test_e4m3_saturate_clamps_overflow_and_inf_to_448),
        TEST(test_e4m3_nan_is_its_one_nan_with_sign_in_both_modes),
        TEST(test_e5m2_zero_and_subnormals),
        TEST(test_e5m2_overflow_rounds_to_inf_from_61440),
        TEST(test_e5m2_saturate_clamps_overflow_and_inf_to_57344),
        TEST(test_e5m2_nan_stays_quiet_nan_with_sign_and_top_payload),
        TEST(test_e4m3_widening_matches_definition_for_all_codes),
        TEST(test_e5m2_widening_matches_definition_and_f16_for_all_codes),
        TEST(test_f64_to_f16_rounds_once_where_f32_double_rounding_differs),
        TEST(test_f64_to_bf16_rounds_once_where_f32_double_rounding_differs),
        TEST(test_f64_to_narrow_handles_range_and_specials),
        TEST(test_convert_every_dtype_pair_round_trips_exact_values),
        TEST(test_convert_narrow_to_narrow_equals_one_rounding_through_f32),
        TEST(test_convert_f64_to_narrow_rounds_once),
        TEST(test_convert_i64_to_narrow_rounds_once),
        TEST(test_convert_i64_to_f64_rounds_to_nearest_even),
        TEST(test_convert_float_to_int_truncates_toward_zero),
        TEST(test_convert_float_to_int_saturates_and_nan_becomes_zero),
        TEST(test_convert_int_to_int_saturates),
        TEST(test_convert_bool_is_one_for_any_nonzero_including_nan),
        TEST(test_convert_from_bool_gives_zero_or_one),
        TEST(test_convert_saturate_clamps_every_float_target),
        TEST(test_convert_same_dtype_copies_and_works_in_place),
        TEST(test_convert_in_place_between_same_size_dtypes),
        TEST(test_convert_large_inputs_match_the_scalar_reference),
        TEST(test_convert_zero_elements_is_ok_even_with_null_pointers),
        TEST(test_convert_rejects_invalid_dtype_naming_argument_and_value),
        TEST(test_convert_rejects_invalid_overflow_mode),
        TEST(test_convert_rejects_null_pointers_naming_them),
        TEST(test_convert_error_stays_until_cleared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
