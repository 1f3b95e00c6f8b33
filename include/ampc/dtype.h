/* Number formats: the dtypes ampc stores, and exact conversions between them.
 *
 * Narrowing from fp32 rounds to nearest, ties to even, for every input: ±0 keeps its sign,
 * subnormals are produced and consumed (never flushed), NaN stays a quiet NaN with its sign,
 * and overflow goes to ±inf (F16: every |x| >= 65520). F8_E4M3 (OCP "FN": no infinity, max
 * 448) has no inf, so by default overflow and ±inf become NaN as the OCP spec says; 464, the
 * tie between 448 and the 480 its NaN code would be, rounds to the even 448, and anything
 * larger overflows. AMPC_OVERFLOW_SATURATE clamps to the largest finite value instead (±448
 * for E4M3, ±57344 for E5M2, ±65504 for F16, and the largest finite BF16), ±inf included: a
 * saturating conversion never produces an infinity. Widening is exact.
 *
 * NaN results, the same on every path: F16 and BF16 keep the sign, set the quiet bit and keep
 * the top mantissa bits that fit (what F16C and AVX512-BF16 do); E5M2 likewise (one payload
 * bit); E4M3 has the one NaN S.1111.111. Widening F16 or E5M2 quiets the NaN and keeps its
 * payload; BF16 widens by a 16-bit shift, exactly; E4M3's NaN widens to ±0x7FC00000.
 *
 * F64 -> F16/BF16/F8 rounds once, directly from the double. (PyTorch goes through fp32 and so
 * rounds twice, which can differ in the last bit near a tie; ampc does not.)
 *
 * Float -> integer conversion truncates toward zero; NaN becomes 0 and out-of-range values
 * saturate to the integer type's limits (C leaves both undefined). BOOL is 1 for any nonzero
 * value, NaN included; BOOL -> anything gives 0 or 1. Integer -> float rounds once. See
 * docs/formats.md for the formats and the reasons. */
#ifndef AMPC_DTYPE_H
#define AMPC_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ampc/error.h>
#include <ampc/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only. */
typedef enum ampc_dtype {
    AMPC_F64,
    AMPC_F32,
    AMPC_F16,     /* IEEE binary16 */
    AMPC_BF16,
    AMPC_F8_E4M3, /* OCP E4M3FN */
    AMPC_F8_E5M2,
    AMPC_I64,
    AMPC_I32,
    AMPC_U8,
    AMPC_BOOL,
    AMPC_DTYPE_COUNT
} ampc_dtype;

/* What narrowing does with values beyond the target's range. */
typedef enum ampc_overflow {
    AMPC_OVERFLOW_DEFAULT,  /* ±inf; NaN for E4M3, which has no inf */
    AMPC_OVERFLOW_SATURATE, /* clamp to ± the largest finite value, ±inf too; NaN stays NaN */
    AMPC_OVERFLOW_COUNT
} ampc_overflow;

/* Bytes per element; 0 for an invalid dtype. */
AMPC_API size_t ampc_dtype_size(ampc_dtype dtype);
/* The safetensors spelling ("F32", "BF16", "F8_E4M3", "BOOL", ...); "invalid" otherwise. */
AMPC_API const char *ampc_dtype_name(ampc_dtype dtype);
AMPC_API bool ampc_dtype_is_float(ampc_dtype dtype);
AMPC_API bool ampc_dtype_is_valid(ampc_dtype dtype);
/* Parses a safetensors spelling. Fails with AMPC_ERR_INVALID_ARGUMENT naming the choices. */
AMPC_API ampc_status ampc_dtype_from_name(const char *name, ampc_dtype *dtype);

/* Scalar conversions; these are the reference every SIMD path is tested against. The ones
 * without an overflow argument use AMPC_OVERFLOW_DEFAULT. */
AMPC_API uint16_t ampc_f32_to_f16(float value);
AMPC_API float ampc_f16_to_f32(uint16_t bits);
AMPC_API uint16_t ampc_f32_to_bf16(float value);
AMPC_API float ampc_bf16_to_f32(uint16_t bits);
AMPC_API uint8_t ampc_f32_to_f8_e4m3(float value, ampc_overflow overflow);
AMPC_API float ampc_f8_e4m3_to_f32(uint8_t bits);
AMPC_API uint8_t ampc_f32_to_f8_e5m2(float value, ampc_overflow overflow);
AMPC_API float ampc_f8_e5m2_to_f32(uint8_t bits);
AMPC_API uint16_t ampc_f64_to_f16(double value);
AMPC_API uint16_t ampc_f64_to_bf16(double value);

/* Bulk conversion of n contiguous elements between any two dtypes, through the fastest path
 * the CPU has (see ampc/cpu.h); large n is split across ampc_num_threads() threads, with the
 * same result for any count. dst and src must not overlap unless they are equal and the
 * dtypes have the same size. n == 0 does nothing (NULL pointers allowed). Fails with
 * AMPC_ERR_INVALID_ARGUMENT for an invalid dtype or overflow mode, AMPC_ERR_NULL_ARGUMENT for
 * a NULL dst or src when n > 0. */
AMPC_API ampc_status ampc_convert(void *dst, ampc_dtype dst_dtype, const void *src,
                                  ampc_dtype src_dtype, size_t n);
AMPC_API ampc_status ampc_convert_with(void *dst, ampc_dtype dst_dtype, const void *src,
                                       ampc_dtype src_dtype, size_t n, ampc_overflow overflow);

#ifdef __cplusplus
}
#endif
#endif
