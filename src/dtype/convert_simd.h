/* What the SIMD conversion files (convert_avx2.c, convert_avx512*.c) share: when widening
 * streams its stores, and the F8 constants the narrowing tricks need. Plain C, so files built
 * for different ISAs can include it.
 *
 * Widening writes 2x (F16, BF16) or 4x (F8) the bytes it reads. Once a kernel call writes at
 * least STREAM_MIN_BYTES, far more than a core's L2, it stores with non-temporal (streaming)
 * stores from the first vector-aligned element on: they skip reading each destination line
 * before overwriting it and keep the output from evicting the caches. At 64 MiB of F16 this
 * takes F16 -> F32 from about 1.75x to about 0.9x of memcpy's time for the source bytes.
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
