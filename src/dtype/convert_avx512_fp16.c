/* AVX512-FP16 conversion kernels: fp32 <-> F16 with vcvtps2phx / vcvtph2psx, and E5M2 -> fp32
 * through the latter (E5M2 is the top byte of an F16); bit-identical to convert_scalar.c.
 * Everything else comes from the levels below.
 *
 * vcvtps2phx takes its rounding from MXCSR unless given one, so it gets {rn-sae}. Both
 * instructions handle subnormals exactly and treat NaN like F16C does (the reference rule).
 * F8 narrowing gains nothing here: rounding to F16 first and then to F8 would round twice. */
#include <immintrin.h>

#include "dtype/convert_avx512.h"
#include "dtype/convert_kernels.h"

static void f32_to_f16_block(uint16_t *dst, const float *src, __mmask16 mask)
{
    __m512 values = _mm512_maskz_loadu_ps(mask, src);
    __m256h halves = _mm512_cvtx_roundps_ph(values, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_mask_storeu_epi16(dst, mask, _mm256_castph_si256(halves));
}

static __m512 f16_to_f32_vector(const uint16_t *src, __mmask16 mask)
{
    return _mm512_cvtxph_ps(_mm256_castsi256_ph(_mm256_maskz_loadu_epi16(mask, src)));
}

static __m512 f8_e5m2_to_f32_vector(const uint8_t *src, __mmask16 mask)
{
    __m256i halves = _mm256_slli_epi16(_mm256_cvtepu8_epi16(_mm_maskz_loadu_epi8(mask, src)), 8);
    return _mm512_cvtxph_ps(_mm256_castsi256_ph(halves));
}

static void f32_to_f16_avx512_fp16(uint16_t *dst, const float *src, size_t n)
{
    RUN_MASKED_BLOCKS(f32_to_f16_block(d, s, mask));
}

static void f16_to_f32_avx512_fp16(float *dst, const uint16_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(f16_to_f32_vector(s, mask));
}

static void f8_e5m2_to_f32_avx512_fp16(float *dst, const uint8_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(f8_e5m2_to_f32_vector(s, mask));
}

const ampc_convert_kernels ampc_convert_avx512_fp16_own = {
    .f32_to_f16 = f32_to_f16_avx512_fp16,
    .f16_to_f32 = f16_to_f32_avx512_fp16,
    .f8_e5m2_to_f32 = f8_e5m2_to_f32_avx512_fp16,
};
