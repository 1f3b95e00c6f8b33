/* AVX-512 unscale kernels (unscale.h): 16 lanes, tails through a lane mask, the same
 * arithmetic as the reference (a rounded product, then a rounded sum). The overflow test is
 * an exponent-all-ones compare on the input and the result, ORed into one mask. */
#include <immintrin.h>

#include "kernels/unscale.h"

static inline __mmask16 nonfinite(__m512 v)
{
    const __m512i exponent = _mm512_set1_epi32(0x7f800000);
    __m512i bits = _mm512_and_si512(_mm512_castps_si512(v), exponent);
    return _mm512_cmpeq_epi32_mask(bits, exponent);
}

static inline __m512 widen_f16(const uint16_t *in, __mmask16 mask)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, in));
}

static inline __m512 widen_bf16(const uint16_t *in, __mmask16 mask)
{
    __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, in));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
}

static inline __mmask16 step(float *out, const float *acc, __m512 x, __m512 inv, __mmask16 mask)
{
    __m512 result = _mm512_mul_ps(x, inv);
    if (acc) result = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, acc), result);
    _mm512_mask_storeu_ps(out, mask, result);
    return (nonfinite(x) | nonfinite(result)) & mask;
}

static inline __mmask16 tail_mask(size_t left) { return (__mmask16)((1u << left) - 1u); }

static bool unscale_f32(float *out, const float *acc, const float *in, size_t n, float inv_scale)
{
    __m512 inv = _mm512_set1_ps(inv_scale);
    __mmask16 overflow = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        overflow |= step(out + i, acc ? acc + i : NULL, _mm512_loadu_ps(in + i), inv, 0xffff);
    if (i < n) {
        __mmask16 mask = tail_mask(n - i);
        overflow |= step(out + i, acc ? acc + i : NULL, _mm512_maskz_loadu_ps(mask, in + i), inv,
                         mask);
    }
    return overflow != 0;
}

static bool unscale_f16(float *out, const float *acc, const uint16_t *in, size_t n,
                        float inv_scale)
{
    __m512 inv = _mm512_set1_ps(inv_scale);
    __mmask16 overflow = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        overflow |= step(out + i, acc ? acc + i : NULL, widen_f16(in + i, 0xffff), inv, 0xffff);
    if (i < n) {
        __mmask16 mask = tail_mask(n - i);
        overflow |= step(out + i, acc ? acc + i : NULL, widen_f16(in + i, mask), inv, mask);
    }
    return overflow != 0;
}

static bool unscale_bf16(float *out, const float *acc, const uint16_t *in, size_t n,
                         float inv_scale)
{
    __m512 inv = _mm512_set1_ps(inv_scale);
    __mmask16 overflow = 0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        overflow |= step(out + i, acc ? acc + i : NULL, widen_bf16(in + i, 0xffff), inv, 0xffff);
    if (i < n) {
        __mmask16 mask = tail_mask(n - i);
        overflow |= step(out + i, acc ? acc + i : NULL, widen_bf16(in + i, mask), inv, mask);
    }
    return overflow != 0;
}

const ampc_unscale_kernels ampc_unscale_avx512 = {
    .f32 = unscale_f32,
    .f16 = unscale_f16,
    .bf16 = unscale_bf16,
};
