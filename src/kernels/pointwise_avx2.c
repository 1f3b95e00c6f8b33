/* The AVX2 pointwise kernels: pointwise_simd.h over 8-lane ymm vectors (AVX2 + FMA), with
 * all-ones/all-zeros vectors as masks. Built with the avx2 level's flags only. */
#include <immintrin.h>
#include <math.h>
#include <stddef.h>

typedef __m256 vf;
typedef __m256 vm;
#define VLEN 8

static inline vf vset(float value) { return _mm256_set1_ps(value); }
static inline vf vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, vf v) { _mm256_storeu_ps(p, v); }
static inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
static inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
static inline vf vsqrt(vf a) { return _mm256_sqrt_ps(a); }
static inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
static inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
static inline vf vabs(vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
static inline vf vneg(vf a) { return _mm256_xor_ps(a, _mm256_set1_ps(-0.0f)); }
static inline vf vcopysign(vf magnitude, vf sign)
{
    vf sign_bit = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(sign_bit, magnitude), _mm256_and_ps(sign_bit, sign));
}
static inline vm vgt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
static inline vm vge(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
static inline vm vlt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
static inline vm vle(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
static inline vm veq(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
static inline vm vnan(vf a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
static inline vm vmand(vm a, vm b) { return _mm256_and_ps(a, b); }
static inline vf vsel(vm m, vf if_false, vf if_true)
{
    return _mm256_blendv_ps(if_false, if_true, m);
}
static inline vf vround(vf a)
{
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
static inline vf vscale(vf y, vf n)
{
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i half = _mm256_srai_epi32(ni, 1);
    __m256i rest = _mm256_sub_epi32(ni, half);
    __m256i bias = _mm256_set1_epi32(127);
    vf scale_half = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, bias), 23));
    vf scale_rest = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(rest, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, scale_half), scale_rest);
}
static inline vf vfrexp(vf x, vf *exponent)
{
    __m256i bits = _mm256_castps_si256(x);
    __m256i biased = _mm256_srli_epi32(bits, 23);
    *exponent = _mm256_cvtepi32_ps(_mm256_sub_epi32(biased, _mm256_set1_epi32(127)));
    __m256i mantissa = _mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF));
    return _mm256_castsi256_ps(_mm256_or_si256(mantissa, _mm256_set1_epi32(0x3F800000)));
}

/* 8 lanes in double: two 4-lane halves */
typedef struct vd {
    __m256d low, high;
} vd;
static inline vd vd_widen(vf x)
{
    return (vd){_mm256_cvtps_pd(_mm256_castps256_ps128(x)),
                _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))};
}
static inline vd vd_set(double value)
{
    return (vd){_mm256_set1_pd(value), _mm256_set1_pd(value)};
}
static inline vd vd_add(vd a, vd b)
{
    return (vd){_mm256_add_pd(a.low, b.low), _mm256_add_pd(a.high, b.high)};
}
static inline vd vd_mul(vd a, vd b)
{
    return (vd){_mm256_mul_pd(a.low, b.low), _mm256_mul_pd(a.high, b.high)};
}
static inline vd vd_div(vd a, vd b)
{
    return (vd){_mm256_div_pd(a.low, b.low), _mm256_div_pd(a.high, b.high)};
}
static inline vd vd_fma(vd a, vd b, vd c)
{
    return (vd){_mm256_fmadd_pd(a.low, b.low, c.low), _mm256_fmadd_pd(a.high, b.high, c.high)};
}
static inline vf vd_narrow(vd a, vf *lo)
{
    __m128 hi_low = _mm256_cvtpd_ps(a.low), hi_high = _mm256_cvtpd_ps(a.high);
    __m128 lo_low = _mm256_cvtpd_ps(_mm256_sub_pd(a.low, _mm256_cvtps_pd(hi_low)));
    __m128 lo_high = _mm256_cvtpd_ps(_mm256_sub_pd(a.high, _mm256_cvtps_pd(hi_high)));
    *lo = _mm256_insertf128_ps(_mm256_castps128_ps256(lo_low), lo_high, 1);
    return _mm256_insertf128_ps(_mm256_castps128_ps256(hi_low), hi_high, 1);
}

#define POINTWISE_OWN_TABLE ampc_pointwise_avx2_own
#include "kernels/pointwise_simd.h"
