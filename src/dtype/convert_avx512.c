/* AVX-512 (F, BW, DQ, VL) conversion kernels, 16 fp32 lanes at a time; bit-identical to
 * convert_scalar.c.
 *
 * The same methods as convert_avx2.c, in zmm registers: vcvtps2ph / vcvtph2ps for F16 (with
 * an explicit round-to-nearest-even immediate), integer rounding for BF16, for F8 narrowing
 * the rebiasing integer rounding for normal results and a magic-number add for subnormal
 * ones, and for F8 widening vcvtph2ps (convert_simd.h). Here that add carries its own
 * rounding mode ({rn-sae}), so these kernels do not depend on MXCSR at all. Tails use masked
 * loads and stores instead of stack copies; long widenings use streaming stores
 * (convert_simd.h). */
#include <immintrin.h>

#include "dtype/convert_avx512.h"
#include "dtype/convert_kernels.h"
#include "dtype/convert_simd.h"

enum { ROUND_NEAREST_EVEN = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC };

/* ---- F16 ---- */

static void f32_to_f16_block(uint16_t *dst, const float *src, __mmask16 mask)
{
    __m256i halves = _mm512_cvtps_ph(_mm512_maskz_loadu_ps(mask, src), ROUND_NEAREST_EVEN);
    _mm256_mask_storeu_epi16(dst, mask, halves);
}

static __m512 f16_to_f32_vector(const uint16_t *src, __mmask16 mask)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, src));
}

static void f32_to_f16_avx512(uint16_t *dst, const float *src, size_t n)
{
    RUN_MASKED_BLOCKS(f32_to_f16_block(d, s, mask));
}

static void f16_to_f32_avx512(float *dst, const uint16_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(f16_to_f32_vector(s, mask));
}

/* ---- BF16 ---- */

static void f32_to_bf16_block(uint16_t *dst, const float *src, __mmask16 mask)
{
    __m512i bits = _mm512_castps_si512(_mm512_maskz_loadu_ps(mask, src));
    __m512i rounded = round_off_low_bits_512(bits, 16);
    __m512i quiet_nan = _mm512_or_si512(_mm512_srli_epi32(bits, 16), set1_512(0x0040));
    __m512i codes = _mm512_mask_blend_epi32(nan_lanes_512(bits), rounded, quiet_nan);
    _mm512_mask_cvtepi32_storeu_epi16(dst, mask, codes);
}

static __m512 bf16_to_f32_vector(const uint16_t *src, __mmask16 mask)
{
    __m512i widened = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, src));
    return _mm512_castsi512_ps(_mm512_slli_epi32(widened, 16));
}

static void f32_to_bf16_avx512(uint16_t *dst, const float *src, size_t n)
{
    RUN_MASKED_BLOCKS(f32_to_bf16_block(d, s, mask));
}

static void bf16_to_f32_avx512(float *dst, const uint16_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(bf16_to_f32_vector(s, mask));
}

/* ---- F8 ---- */

static void f32_to_f8_block(uint8_t *dst, const float *src, __mmask16 mask,
                            const f8_constants *format)
{
    __m512i bits = _mm512_castps_si512(_mm512_maskz_loadu_ps(mask, src));
    __m512i magnitude = _mm512_and_si512(bits, set1_512(0x7FFFFFFF));
    __m512i sign = _mm512_and_si512(_mm512_srli_epi32(bits, 24), set1_512(0x80));

    /* Large codes (inf, NaN, overflow) come out above overflow_code; small inputs wrap, but
     * they take the subnormal lane below. */
    __m512i normal = round_off_low_bits_512(_mm512_add_epi32(magnitude, set1_512(format->rebias)),
                                            format->dropped_bits);
    __m512 magic = _mm512_set1_ps(format->subnormal_magic);
    __m512 shifted = _mm512_add_round_ps(_mm512_castsi512_ps(magnitude), magic, ROUND_NEAREST_EVEN);
    __m512i subnormal = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_castps_si512(magic));
    __mmask16 below_normal = _mm512_cmplt_epu32_mask(magnitude, set1_512(format->min_normal));
    __m512i code = _mm512_mask_blend_epi32(below_normal, normal, subnormal);
    code = _mm512_min_epu32(code, set1_512(format->overflow_code));

    __m512i payload = _mm512_and_si512(_mm512_srli_epi32(magnitude, format->dropped_bits),
                                       set1_512(format->nan_payload_mask));
    __m512i nan = _mm512_or_si512(set1_512(format->nan_code), payload);
    code = _mm512_mask_blend_epi32(nan_lanes_512(bits), code, nan);
    _mm512_mask_cvtepi32_storeu_epi8(dst, mask, _mm512_or_si512(code, sign));
}

static void f32_to_f8_e4m3_avx512(uint8_t *dst, const float *src, size_t n,
                                  ampc_overflow overflow)
{
    const f8_constants format = e4m3_constants(overflow);
    RUN_MASKED_BLOCKS(f32_to_f8_block(d, s, mask, &format));
}

static void f32_to_f8_e5m2_avx512(uint8_t *dst, const float *src, size_t n,
                                  ampc_overflow overflow)
{
    const f8_constants format = e5m2_constants(overflow);
    RUN_MASKED_BLOCKS(f32_to_f8_block(d, s, mask, &format));
}

/* E4M3 is an F16 of value * 2^-8 after a shift, scaled back by 2^8 (convert_simd.h). The
 * sign-extended code shifted left by 7 has the sign in bits 15 and 14; clearing bit 14 leaves
 * s.0eeee.mmm0000000, and the NaN lanes get the fix that makes them the quiet F16 NaN. */
static __m512 f8_e4m3_to_f32_vector(const uint8_t *src, __mmask16 mask)
{
    __m256i codes = _mm256_cvtepi8_epi16(_mm_maskz_loadu_epi8(mask, src));
    __m256i shifted = _mm256_slli_epi16(codes, 7);
    __m256i halves = _mm256_and_si256(shifted, _mm256_set1_epi16((short)0xBFFF));
    __m256i magnitude = _mm256_and_si256(halves, _mm256_set1_epi16(0x7FFF));
    __mmask16 nan = _mm256_cmpeq_epi16_mask(magnitude, _mm256_set1_epi16(E4M3_F16_NAN));
    halves = _mm256_mask_add_epi16(halves, nan, halves, _mm256_set1_epi16(E4M3_F16_NAN_FIX));
    return _mm512_mul_ps(_mm512_cvtph_ps(halves), _mm512_set1_ps(E4M3_F16_SCALE));
}

/* E5M2 is the top byte of an F16. */
static __m512 f8_e5m2_to_f32_vector(const uint8_t *src, __mmask16 mask)
{
    __m256i halves = _mm256_slli_epi16(_mm256_cvtepu8_epi16(_mm_maskz_loadu_epi8(mask, src)), 8);
    return _mm512_cvtph_ps(halves);
}

static void f8_e4m3_to_f32_avx512(float *dst, const uint8_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(f8_e4m3_to_f32_vector(s, mask));
}

static void f8_e5m2_to_f32_avx512(float *dst, const uint8_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(f8_e5m2_to_f32_vector(s, mask));
}

const ampc_convert_kernels ampc_convert_avx512_own = {
    .f32_to_f16 = f32_to_f16_avx512,
    .f16_to_f32 = f16_to_f32_avx512,
    .f32_to_bf16 = f32_to_bf16_avx512,
    .bf16_to_f32 = bf16_to_f32_avx512,
    .f32_to_f8_e4m3 = f32_to_f8_e4m3_avx512,
    .f8_e4m3_to_f32 = f8_e4m3_to_f32_avx512,
    .f32_to_f8_e5m2 = f32_to_f8_e5m2_avx512,
    .f8_e5m2_to_f32 = f8_e5m2_to_f32_avx512,
};
