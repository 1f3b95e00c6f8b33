/* The scalar reference conversions between fp32/fp64 and the narrow float formats.
 *
 * Everything here is plain integer bit manipulation, written to follow the format definitions
 * rather than to be fast: a value is taken apart into sign, integer significand and power of
 * two; narrowing divides by the target's quantum (its unit in the last place at that
 * exponent) with round-to-nearest-even on the discarded bits; widening puts the fields back
 * together. The SIMD paths in convert_<isa>.c use different tricks (rebiasing adds, magic
 * float adds, conversion instructions) and are tested bit for bit against these functions,
 * so the two must stay independent.
 *
 * NaN rules (every path matches them bit for bit; docs/formats.md has the reasons):
 *   narrowing to F16, BF16, E5M2: sign kept, quiet bit set, the top mantissa bits that fit
 *                                 kept (what F16C's vcvtps2ph and VCVTNEPS2BF16 do)
 *   narrowing to E4M3:            S.1111.111, its only NaN
 *   widening F16, E5M2:           sign kept, quiet bit set, mantissa kept (vcvtph2ps)
 *   widening E4M3:                sign | 0x7FC00000
 *   widening BF16:                bits << 16, exactly (BF16 is the top half of an fp32) */
#include <ampc/dtype.h>

#include <float.h>
#include <string.h>

#include "dtype/convert_kernels.h"

/* A binary float format narrower than fp32, described by its fields and special codes. All
 * code values are magnitudes (the bits below the sign). */
typedef struct narrow_format {
    int mantissa_bits;
    int min_exponent;      /* the power of two of the smallest normal value */
    int sign_bit;          /* 15 for 16-bit formats, 7 for 8-bit ones */
    uint32_t max_finite;   /* every larger magnitude is inf or NaN */
    uint32_t infinity;     /* 0 for E4M3, which has no inf */
    uint32_t quiet_nan;    /* exponent all ones and the quiet bit */
    bool nan_has_payload;  /* E4M3 has a single NaN */
} narrow_format;

static const narrow_format f16_format = {10, -14, 15, 0x7BFF, 0x7C00, 0x7E00, true};
static const narrow_format bf16_format = {7, -126, 15, 0x7F7F, 0x7F80, 0x7FC0, true};
static const narrow_format e4m3_format = {3, -6, 7, 0x7E, 0, 0x7F, false};
static const narrow_format e5m2_format = {2, -14, 7, 0x7B, 0x7C, 0x7E, true};

/* A finite or special value taken apart. A finite value is ±significand * 2^exponent, with
 * significand 0 for zero. */
typedef struct unpacked {
    bool negative;
    bool is_nan;
    bool is_infinite;
    uint64_t significand;
    int exponent;
    uint64_t nan_mantissa; /* a NaN's mantissa left-aligned in 64 bits: bit 63 is the quiet bit */
} unpacked;

static uint32_t bits_of_f32(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static float f32_of_bits(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static uint64_t bits_of_f64(double value)
{
    uint64_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

/* Takes apart an IEEE binary value of total_bits with the given field widths. */
static unpacked unpack_ieee(uint64_t bits, int total_bits, int mantissa_bits)
{
    int exponent_bits = total_bits - 1 - mantissa_bits;
    uint64_t exponent_all_ones = (UINT64_C(1) << exponent_bits) - 1;
    uint64_t mantissa_mask = (UINT64_C(1) << mantissa_bits) - 1;
    int bias = (int)(exponent_all_ones >> 1);
    uint64_t biased_exponent = (bits >> mantissa_bits) & exponent_all_ones;
    uint64_t mantissa = bits & mantissa_mask;

    unpacked value = {.negative = (bits >> (total_bits - 1)) & 1};
    if (biased_exponent == exponent_all_ones) {
        value.is_nan = mantissa != 0;
        value.is_infinite = mantissa == 0;
        value.nan_mantissa = mantissa << (64 - mantissa_bits);
    } else if (biased_exponent == 0) {
        value.significand = mantissa; /* subnormal or zero: no implicit bit, exponent 1 - bias */
        value.exponent = 1 - bias - mantissa_bits;
    } else {
        value.significand = mantissa | (UINT64_C(1) << mantissa_bits);
        value.exponent = (int)biased_exponent - bias - mantissa_bits;
    }
    return value;
}

static unpacked unpack_f32(float value) { return unpack_ieee(bits_of_f32(value), 32, 23); }

static unpacked unpack_f64(double value) { return unpack_ieee(bits_of_f64(value), 64, 52); }

/* value >> shift, rounded to nearest with ties to even on the bits shifted out.
 * Requires value < 2^63, so a shift of 64 or more leaves less than half a unit: 0. */
static inline uint64_t shift_right_round_even(uint64_t value, int shift)
{
    if (shift <= 0) return value << -shift;
    if (shift >= 64) return 0;
    uint64_t kept = value >> shift;
    uint64_t dropped = value & ((UINT64_C(1) << shift) - 1);
    uint64_t half = UINT64_C(1) << (shift - 1);
    bool round_up = dropped > half || (dropped == half && (kept & 1));
    return kept + round_up;
}

static int highest_set_bit(uint64_t value) { return 63 - __builtin_clzll(value); }

/* The magnitude code of significand * 2^exponent (nonzero) rounded to the format, as if its
 * exponent range had no top: a result above max_finite means overflow.
 *
 * The quantum is 2^(e - M) for a value in [2^e, 2^(e+1)), and 2^(min_exponent - M) for all
 * subnormals. Writing the rounded value as q quanta, the code is
 * ((e - min_exponent) << M) + q: for normals q includes the implicit 2^M, which supplies the
 * +1 of the biased exponent, and a q that rounded up to 2^(M+1) carries into the exponent. */
static inline uint64_t round_to_code(uint64_t significand, int exponent,
                                     const narrow_format *format)
{
    int value_exponent = exponent + highest_set_bit(significand);
    int target_exponent =
        value_exponent > format->min_exponent ? value_exponent : format->min_exponent;
    int quantum_exponent = target_exponent - format->mantissa_bits;
    uint64_t quanta = shift_right_round_even(significand, quantum_exponent - exponent);
    return ((uint64_t)(target_exponent - format->min_exponent) << format->mantissa_bits) +
           quanta;
}

static uint32_t overflow_code(const narrow_format *format, ampc_overflow overflow)
{
    if (overflow == AMPC_OVERFLOW_SATURATE) return format->max_finite;
    return format->infinity ? format->infinity : format->quiet_nan;
}

static uint32_t nan_code(const narrow_format *format, uint64_t nan_mantissa)
{
    if (!format->nan_has_payload) return format->quiet_nan;
    return format->quiet_nan | (uint32_t)(nan_mantissa >> (64 - format->mantissa_bits));
}

/* Saturation also turns ±inf into ± the largest finite value: a saturating conversion never
 * produces an infinity (the same choice as CUDA's __NV_SATFINITE and PyTorch's saturating
 * float8 casts). */
static inline uint32_t narrow(unpacked value, const narrow_format *format, ampc_overflow overflow)
{
    uint32_t sign = value.negative ? UINT32_C(1) << format->sign_bit : 0;
    if (value.is_nan) return sign | nan_code(format, value.nan_mantissa);
    if (value.is_infinite) return sign | overflow_code(format, overflow);
    if (value.significand == 0) return sign;
    uint64_t code = round_to_code(value.significand, value.exponent, format);
    if (code > format->max_finite) return sign | overflow_code(format, overflow);
    return sign | (uint32_t)code;
}

/* Exact: every narrow value is an fp32 normal (only BF16, which has its own widening, has
 * values below fp32's smallest normal). */
static inline float widen(uint32_t bits, const narrow_format *format)
{
    int mantissa_bits = format->mantissa_bits;
    uint32_t sign = ((bits >> format->sign_bit) & 1) << 31;
    uint32_t magnitude = bits & ((UINT32_C(1) << format->sign_bit) - 1);
    uint32_t mantissa = magnitude & ((UINT32_C(1) << mantissa_bits) - 1);
    int biased_exponent = (int)(magnitude >> mantissa_bits);

    if (magnitude == format->infinity && format->infinity) return f32_of_bits(sign | 0x7F800000);
    if (magnitude > format->max_finite) {
        uint32_t payload = format->nan_has_payload ? mantissa << (23 - mantissa_bits) : 0;
        return f32_of_bits(sign | 0x7FC00000 | payload);
    }
    if (magnitude == 0) return f32_of_bits(sign);
    if (biased_exponent == 0) { /* subnormal: normalize so the leading 1 is the implicit bit */
        biased_exponent = 1;
        while (!(mantissa & (UINT32_C(1) << mantissa_bits))) {
            mantissa <<= 1;
            biased_exponent--;
        }
        mantissa &= (UINT32_C(1) << mantissa_bits) - 1;
    }
    /* The value's power of two is biased_exponent + min_exponent - 1; fp32's bias is 127. */
    uint32_t f32_exponent = (uint32_t)(biased_exponent + format->min_exponent - 1 + 127);
    return f32_of_bits(sign | (f32_exponent << 23) | (mantissa << (23 - mantissa_bits)));
}

uint16_t ampc_f32_to_f16(float value)
{
    return (uint16_t)narrow(unpack_f32(value), &f16_format, AMPC_OVERFLOW_DEFAULT);
}

float ampc_f16_to_f32(uint16_t bits) { return widen(bits, &f16_format); }

uint16_t ampc_f32_to_bf16(float value)
{
    return (uint16_t)narrow(unpack_f32(value), &bf16_format, AMPC_OVERFLOW_DEFAULT);
}

float ampc_bf16_to_f32(uint16_t bits) { return f32_of_bits((uint32_t)bits << 16); }

uint8_t ampc_f32_to_f8_e4m3(float value, ampc_overflow overflow)
{
    return (uint8_t)narrow(unpack_f32(value), &e4m3_format, overflow);
}

float ampc_f8_e4m3_to_f32(uint8_t bits) { return widen(bits, &e4m3_format); }

uint8_t ampc_f32_to_f8_e5m2(float value, ampc_overflow overflow)
{
    return (uint8_t)narrow(unpack_f32(value), &e5m2_format, overflow);
}

float ampc_f8_e5m2_to_f32(uint8_t bits) { return widen(bits, &e5m2_format); }

uint16_t ampc_f64_to_f16(double value)
{
    return (uint16_t)narrow(unpack_f64(value), &f16_format, AMPC_OVERFLOW_DEFAULT);
}

uint16_t ampc_f64_to_bf16(double value)
{
    return (uint16_t)narrow(unpack_f64(value), &bf16_format, AMPC_OVERFLOW_DEFAULT);
}

uint8_t ampc_f64_to_f8_e4m3(double value, ampc_overflow overflow)
{
    return (uint8_t)narrow(unpack_f64(value), &e4m3_format, overflow);
}

uint8_t ampc_f64_to_f8_e5m2(double value, ampc_overflow overflow)
{
    return (uint8_t)narrow(unpack_f64(value), &e5m2_format, overflow);
}

double ampc_dtype_max_finite(ampc_dtype dtype)
{
    switch (dtype) {
    case AMPC_F64: return DBL_MAX;
    case AMPC_F32: return FLT_MAX;
    case AMPC_F16: return widen(f16_format.max_finite, &f16_format);
    case AMPC_BF16: return ampc_bf16_to_f32((uint16_t)bf16_format.max_finite);
    case AMPC_F8_E4M3: return widen(e4m3_format.max_finite, &e4m3_format);
    case AMPC_F8_E5M2: return widen(e5m2_format.max_finite, &e5m2_format);
    default: return 0;
    }
}

/* The scalar table: the same functions one element at a time. The loops call the internal
 * functions rather than the exported ones, which a shared library may not inline. */

static void f32_to_f16_scalar(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (uint16_t)narrow(unpack_f32(src[i]), &f16_format, AMPC_OVERFLOW_DEFAULT);
}

static void f16_to_f32_scalar(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = widen(src[i], &f16_format);
}

static void f32_to_bf16_scalar(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (uint16_t)narrow(unpack_f32(src[i]), &bf16_format, AMPC_OVERFLOW_DEFAULT);
}

static void bf16_to_f32_scalar(float *dst, const uint16_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = f32_of_bits((uint32_t)src[i] << 16);
}

static void f32_to_f8_e4m3_scalar(uint8_t *dst, const float *src, size_t n,
                                  ampc_overflow overflow)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (uint8_t)narrow(unpack_f32(src[i]), &e4m3_format, overflow);
}

static void f8_e4m3_to_f32_scalar(float *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = widen(src[i], &e4m3_format);
}

static void f32_to_f8_e5m2_scalar(uint8_t *dst, const float *src, size_t n,
                                  ampc_overflow overflow)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (uint8_t)narrow(unpack_f32(src[i]), &e5m2_format, overflow);
}

static void f8_e5m2_to_f32_scalar(float *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = widen(src[i], &e5m2_format);
}

const ampc_convert_kernels ampc_convert_scalar_own = {
    .f32_to_f16 = f32_to_f16_scalar,
    .f16_to_f32 = f16_to_f32_scalar,
    .f32_to_bf16 = f32_to_bf16_scalar,
    .bf16_to_f32 = bf16_to_f32_scalar,
    .f32_to_f8_e4m3 = f32_to_f8_e4m3_scalar,
    .f8_e4m3_to_f32 = f8_e4m3_to_f32_scalar,
    .f32_to_f8_e5m2 = f32_to_f8_e5m2_scalar,
    .f8_e5m2_to_f32 = f8_e5m2_to_f32_scalar,
};
