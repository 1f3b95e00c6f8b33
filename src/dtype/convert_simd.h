/* What the SIMD conversion files (convert_avx2.c, convert_avx512*.c) share: when widening
 * streams its stores, and the F8 constants the widening and narrowing tricks need. Plain C,
 * so files built for different ISAs can include it.
 *
 * Widening writes 2x (F16, BF16) or 4x (F8) the bytes it reads. Once a kernel call writes at
 * least STREAM_MIN_BYTES, far more than a core's L2, it stores with non-temporal (streaming)
 * stores from the first vector-aligned element on: they skip reading each destination line
 * before overwriting it and keep the output from evicting the caches. At 64 MiB of F16 this
 * takes F16 -> F32 from about 1.75x to about 0.9x of memcpy's time for the source bytes.
 * F8 widening writes 4x what it reads, so at that size it is bound by the streaming stores
 * (writing 256 MiB alone takes about 1.2x memcpy's time for the 64 MiB of source): its
 * kernels have to be cheap enough to keep the stores flowing, which is why they are built
 * on vcvtph2ps.
 *
 * F8 widening:
 * E5M2 is the top byte of an F16: code << 8, then vcvtph2ps (exact, subnormals included; a
 * signaling NaN comes out quiet, the reference rule).
 * E4M3 s.eeee.mmm: the magnitude shifted left by 7 (sign at bit 15) is the F16 s.0eeee.mmm0000000,
 * whose value is the E4M3 value times 2^-8 (F16 bias 15 = E4M3 bias 7 + 8, and the same holds
 * for subnormals: F16 exponent field 0 means 2^-14 * 0.m, E4M3's 2^-6 * 0.m). vcvtph2ps makes
 * that exact in fp32, and a multiply by E4M3_F16_SCALE puts the 2^8 back, exactly. The NaN
 * code's magnitude 0x7F becomes F16 0x3F80 (which would be 480); adding E4M3_F16_NAN_FIX
 * there makes it 0x7E00, the quiet F16 NaN, which vcvtph2ps turns into 0x7FC00000 and the
 * multiply passes through unchanged (a quiet NaN operand is the result), sign included.
 * None of this depends on MXCSR: vcvtph2ps ignores it, the multiply's input is never an fp32
 * denormal (the smallest nonzero is 2^-9 * 2^-8 = 2^-17) so DAZ cannot apply, and its product
 * is exact and normal (2^-9 to 448) so neither FTZ nor the rounding mode can change it.
 *
 * F8 narrowing:
 * Normal results: rebias the fp32 exponent to the F8 bias and round off the fp32 mantissa bits
 * F8 lacks (integer add of just-under-half plus the lowest kept bit, then a shift); a carry
 * moves into the exponent, and anything past the largest finite comes out as a code above
 * overflow_code, so an unsigned min applies the overflow mode. Subnormal results (|x| below
 * the smallest F8 normal): |x| + 2^k, where 2^k's ulp is the F8 subnormal quantum, makes the
 * FPU round to that quantum; the sum's bits minus 2^k's bits are the code. */
#ifndef AMPC_DTYPE_CONVERT_SIMD_H
#define AMPC_DTYPE_CONVERT_SIMD_H

#include <stdint.h>

#include <ampc/dtype.h>

#define STREAM_MIN_BYTES ((size_t)8 << 20)

/* E4M3 widening (above): F16 bits = (sign << 15) | (magnitude << 7) hold value * 2^-8. */
#define E4M3_F16_SCALE 256.0f
#define E4M3_F16_NAN 0x3F80u     /* where the NaN magnitude 0x7F lands */
#define E4M3_F16_NAN_FIX 0x3E80u /* added there: 0x3F80 + 0x3E80 = 0x7E00, the quiet NaN */

/* Codes are magnitudes (no sign bit). */
typedef struct f8_constants {
    unsigned dropped_bits;     /* fp32 mantissa bits beyond the F8 mantissa: 23 - M */
    uint32_t rebias;           /* (F8 bias - 127) << 23, added to the fp32 bits */
    uint32_t min_normal;       /* fp32 bits of the smallest F8 normal */
    float subnormal_magic;     /* 2^k whose ulp is the F8 subnormal quantum */
    uint32_t overflow_code;    /* what values past the largest finite become */
    uint32_t nan_code;         /* the quiet NaN, before any payload */
    uint32_t nan_payload_mask; /* the fp32 bits (after >> dropped_bits) a NaN keeps */
} f8_constants;

/* E4M3: bias 7, smallest normal 2^-6 (fp32 exponent 121), subnormal quantum 2^-9 = ulp of
 * 2^14; overflow is NaN (0x7F), its only NaN, or 448 (0x7E) when saturating. */
static inline f8_constants e4m3_constants(ampc_overflow overflow)
{
    return (f8_constants){20, (uint32_t)(7 - 127) << 23, 121u << 23, 0x1p14f,
                          overflow == AMPC_OVERFLOW_SATURATE ? 0x7Eu : 0x7Fu, 0x7F, 0};
}

/* E5M2: bias 15, smallest normal 2^-14 (fp32 exponent 113), subnormal quantum 2^-16 = ulp of
 * 2^7; overflow is inf (0x7C) or 57344 (0x7B); a NaN keeps one payload bit below the quiet
 * bit. */
static inline f8_constants e5m2_constants(ampc_overflow overflow)
{
    return (f8_constants){21, (uint32_t)(15 - 127) << 23, 113u << 23, 0x1p7f,
                          overflow == AMPC_OVERFLOW_SATURATE ? 0x7Bu : 0x7Cu, 0x7E, 0x01};
}

#endif
