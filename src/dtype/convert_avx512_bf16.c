/* AVX512-BF16 conversion kernel: fp32 -> BF16 with VCVTNEPS2BF16, bit-identical to
 * convert_scalar.c. Everything else comes from the avx512 level.
 *
 * The instruction rounds to nearest even, ignores MXCSR, and already follows the reference
 * NaN rule (top half with the quiet bit set). But it treats fp32 subnormal inputs as zero,
 * while the reference rounds them like any other value (0x007F8000 is BF16 0x0080, not 0).
 * So the lanes whose exponent field is zero are redone with the integer rounding; they are
 * rare, and a block without any skips that work. */
#include <immintrin.h>

#include "dtype/convert_avx512.h"
#include "dtype/convert_kernels.h"

static void f32_to_bf16_block(uint16_t *dst, const float *src, __mmask16 mask)
{
    __m512 values = _mm512_maskz_loadu_ps(mask, src);
    __m256i codes = (__m256i)_mm512_cvtneps_pbh(values);
    __m512i bits = _mm512_castps_si512(values);
    __mmask16 zero_exponent = _mm512_testn_epi32_mask(bits, set1_512(0x7F800000));
    if (zero_exponent) {
        __m256i rounded = _mm512_cvtepi32_epi16(round_off_low_bits_512(bits, 16));
        codes = _mm256_mask_blend_epi16(zero_exponent, codes, rounded);
    }
    _mm256_mask_storeu_epi16(dst, mask, codes);
}

static void f32_to_bf16_avx512_bf16(uint16_t *dst, const float *src, size_t n)
{
    RUN_MASKED_BLOCKS(f32_to_bf16_block(d, s, mask));
}

const ampc_convert_kernels ampc_convert_avx512_bf16_own = {
    .f32_to_bf16 = f32_to_bf16_avx512_bf16,
};
