/* AVX-512 unscale kernels (unscale.h): 16 lanes, tails through a lane mask, the same
 * arithmetic as the reference (a rounded product, then a rounded sum). F16 widens with
 * vcvtph2ps, BF16 by a 16-bit shift. The overflow test is an exponent-all-ones compare on the
 * input and the result, ORed into one mask. One loop serves the three source dtypes (AMPC_UNSCALE_TABLE). */
#include <immintrin.h>

#include "kernels/unscale.h"

static inline __mmask16 nonfinite(__m512 v)
{
    const __m512i exponent = _mm512_set1_epi32(0x7f800000);
    __m512i bits = _mm512_and_si512(_mm512_castps_si512(v), exponent);
    return _mm512_cmpeq_epi32_mask(bits, exponent);
}

/* Lanes i .. i+15 of in as fp32; masked-off lanes read nothing. */
static inline __m512 widen(const void *in, ampc_unscale_source kind, size_t i, __mmask16 mask)
{
    if (kind == AMPC_UNSCALE_F32) return _mm512_maskz_loadu_ps(mask, (const float *)in + i);
    __m256i half = _mm256_maskz_loadu_epi16(mask, (const uint16_t *)in + i);
    if (kind == AMPC_UNSCALE_F16) return _mm512_cvtph_ps(half);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 16));
}

static inline __mmask16 step(float *out, const float *acc, __m512 x, __m512 inv, __mmask16 mask)
{
    __m512 result = _mm512_mul_ps(x, inv);
    if (acc) result = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, acc), result);
    _mm512_mask_storeu_ps(out, mask, result);
    return (nonfinite(x) | nonfinite(result)) & mask;
}

static inline bool unscale(float *out, const float *acc, const void *in, ampc_unscale_source kind, size_t n,
                           float inv_scale)
{
    __m512 inv = _mm512_set1_ps(inv_scale);
    __mmask16 overflow = 0;
    for (size_t i = 0; i < n; i += 16) {
        __mmask16 mask = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1u);
        overflow |= step(out + i, acc ? acc + i : NULL, widen(in, kind, i, mask), inv, mask);
    }
    return overflow != 0;
}

AMPC_UNSCALE_TABLE(ampc_unscale_avx512);
