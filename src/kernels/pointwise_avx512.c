/* The AVX-512 pointwise kernels: pointwise_simd.h over 16-lane zmm vectors, with k-register
 * masks for compares and selects. Built with the avx512 level's flags only. */
#include <immintrin.h>
#include <math.h>
#include <stddef.h>

typedef __m512 vf;
typedef __mmask16 vm;
#define VLEN 16

static inline vf vset(float value) { return _mm512_set1_ps(value); }
static inline vf vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, vf v) { _mm512_storeu_ps(p, v); }
static inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
static inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
static inline vf vsqrt(vf a) { return _mm512_sqrt_ps(a); }
static inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
static inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }
static inline vf vabs(vf a) { return _mm512_abs_ps(a); }
static inline vf vneg(vf a)
{
    return _mm512_castsi512_ps(
        _mm512_xor_si512(_mm512_castps_si512(a), _mm512_set1_epi32((int)0x80000000u)));
}
static inline vf vcopysign(vf magnitude, vf sign)
{
    /* ternary logic 0xCA is a ? b : c: the sign bit from sign, the rest from magnitude */
    return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(
        _mm512_set1_epi32((int)0x80000000u), _mm512_castps_si512(sign),
        _mm512_castps_si512(magnitude), 0xCA));
}
static inline vm vgt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
static inline vm vge(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
static inline vm vlt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
static inline vm vle(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
static inline vm veq(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
static inline vm vnan(vf a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q); }
static inline vm vmand(vm a, vm b) { return (vm)(a & b); }
static inline vf vsel(vm m, vf if_false, vf if_true)
{
    return _mm512_mask_blend_ps(m, if_false, if_true);
}
static inline vf vround(vf a)
{
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf vscale(vf y, vf n)
{
    __m512i ni = _mm512_cvtps_epi32(n);
    __m512i half = _mm512_srai_epi32(ni, 1);
    __m512i rest = _mm512_sub_epi32(ni, half);
    __m512i bias = _mm512_set1_epi32(127);
    vf scale_half = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(half, bias), 23));
    vf scale_rest = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(rest, bias), 23));
    return _mm512_mul_ps(_mm512_mul_ps(y, scale_half), scale_rest);
}
static inline vf vfrexp(vf x, vf *exponent)
{
    __m512i bits = _mm512_castps_si512(x);
    __m512i biased = _mm512_srli_epi32(bits, 23);
    *exponent = _mm512_cvtepi32_ps(_mm512_sub_epi32(biased, _mm512_set1_epi32(127)));
    __m512i mantissa = _mm512_and_si512(bits, _mm512_set1_epi32(0x007FFFFF));
    return _mm512_castsi512_ps(_mm512_or_si512(mantissa, _mm512_set1_epi32(0x3F800000)));
}

/* 16 lanes in double: two 8-lane halves */
typedef struct vd {
    __m512d low, high;
} vd;
static inline vd vd_widen(vf x)
{
    __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
    return (vd){_mm512_cvtps_pd(_mm512_castps512_ps256(x)), _mm512_cvtps_pd(high)};
}
static inline vd vd_set(double value)
{
    return (vd){_mm512_set1_pd(value), _mm512_set1_pd(value)};
}
static inline vd vd_add(vd a, vd b)
{
    return (vd){_mm512_add_pd(a.low, b.low), _mm512_add_pd(a.high, b.high)};
}
static inline vd vd_mul(vd a, vd b)
{
    return (vd){_mm512_mul_pd(a.low, b.low), _mm512_mul_pd(a.high, b.high)};
}
static inline vd vd_div(vd a, vd b)
{
    return (vd){_mm512_div_pd(a.low, b.low), _mm512_div_pd(a.high, b.high)};
}
static inline vd vd_fma(vd a, vd b, vd c)
{
    return (vd){_mm512_fmadd_pd(a.low, b.low, c.low), _mm512_fmadd_pd(a.high, b.high, c.high)};
}
static inline vf vd_narrow(vd a, vf *lo)
{
    __m256 hi_low = _mm512_cvtpd_ps(a.low), hi_high = _mm512_cvtpd_ps(a.high);
    __m256 lo_low = _mm512_cvtpd_ps(_mm512_sub_pd(a.low, _mm512_cvtps_pd(hi_low)));
    __m256 lo_high = _mm512_cvtpd_ps(_mm512_sub_pd(a.high, _mm512_cvtps_pd(hi_high)));
    *lo = _mm512_insertf32x8(_mm512_castps256_ps512(lo_low), lo_high, 1);
    return _mm512_insertf32x8(_mm512_castps256_ps512(hi_low), hi_high, 1);
}

#define POINTWISE_OWN_TABLE ampc_pointwise_avx512_own
#include "kernels/pointwise_simd.h"
