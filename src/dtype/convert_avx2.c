/* AVX2 + F16C conversion kernels, 8 fp32 lanes at a time; bit-identical to convert_scalar.c.
 *
 *   F16   vcvtps2ph with an explicit round-to-nearest-even immediate (so MXCSR's rounding
 *         mode does not matter) and vcvtph2ps: both exact, subnormals included, and their NaN
 *         handling is the reference rule.
 *   BF16  integer rounding: add 0x7FFF plus the lowest kept bit, keep the top 16 bits. That
 *         is round-to-nearest-even on the dropped half and carries into the exponent (to inf
 *         at the top); NaN lanes are replaced by the top half with the quiet bit set.
 *   F8    the same integer rounding after rebiasing the exponent for normal results, and a
 *         magic-number float add for subnormal ones (see convert_simd.h). Without AVX-512's
 *         embedded rounding that add follows MXCSR, so it assumes round-to-nearest, C's
 *         default, which ampc never changes. E5M2 widening is F16 widening of the code
 *         shifted into the top byte; E4M3 widening assembles the fp32 fields.
 *
 * The last partial block of every kernel goes through zero-padded stack copies, so tails run
 * the same vector code as the rest; long widenings use streaming stores (convert_simd.h). */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "dtype/convert_kernels.h"
#include "dtype/convert_simd.h"

/* Runs BLOCK_CALL, which converts WIDTH elements from s to d, over the n elements of src and
 * dst (all four names are the caller's). Used by the narrowing kernels. */
#define RUN_BLOCKS(dst_type, src_type, WIDTH, BLOCK_CALL)                                   \
    do {                                                                                     \
        size_t done = 0;                                                                     \
        for (; done + (WIDTH) <= n; done += (WIDTH)) {                                       \
            dst_type *d = dst + done;                                                        \
            const src_type *s = src + done;                                                  \
            BLOCK_CALL;                                                                      \
        }                                                                                    \
        if (done < n) {                                                                      \
            src_type s[WIDTH] = {0};                                                         \
            dst_type d[WIDTH];                                                               \
            memcpy(s, src + done, (n - done) * sizeof *src);                                 \
            BLOCK_CALL;                                                                      \
            memcpy(dst + done, d, (n - done) * sizeof *dst);                                 \
        }                                                                                    \
    } while (0)

/* Converts the `count` (< 8) elements of src and dst starting at `first` with VECTOR_CALL,
 * which widens the 8 elements at s to an __m256, through zero-padded stack copies. */
#define WIDEN_PARTIAL(src_type, VECTOR_CALL, first, count)                                  \
    do {                                                                                     \
        src_type s[8] = {0};                                                                 \
        float widened[8];                                                                    \
        memcpy(s, src + (first), (count) * sizeof *src);                                     \
        _mm256_storeu_ps(widened, VECTOR_CALL);                                              \
        memcpy(dst + (first), widened, (count) * sizeof *dst);                               \
    } while (0)

/* Runs VECTOR_CALL over the n elements of src into the floats at dst. A long output gets
 * streaming stores once dst reaches a 32-byte boundary (see convert_simd.h); a dst that is not
 * even float-aligned never streams. */
#define RUN_WIDENING_BLOCKS(src_type, VECTOR_CALL)                                          \
    do {                                                                                     \
        size_t done = 0;                                                                     \
        if (n * sizeof *dst >= STREAM_MIN_BYTES && (uintptr_t)dst % sizeof *dst == 0) {     \
            done = (32 - (uintptr_t)dst % 32) % 32 / sizeof *dst;                            \
            WIDEN_PARTIAL(src_type, VECTOR_CALL, 0, done);                                   \
            for (; done + 8 <= n; done += 8) {                                               \
                const src_type *s = src + done;                                              \
                _mm256_stream_ps(dst + done, VECTOR_CALL);                                   \
            }                                                                                \
            _mm_sfence();                                                                    \
        }                                                                                    \
        for (; done + 8 <= n; done += 8) {                                                   \
            const src_type *s = src + done;                                                  \
            _mm256_storeu_ps(dst + done, VECTOR_CALL);                                       \
        }                                                                                    \
        if (done < n) WIDEN_PARTIAL(src_type, VECTOR_CALL, done, n - done);                  \
    } while (0)

static __m256i set1(uint32_t value) { return _mm256_set1_epi32((int)value); }

/* 0xFFFFFFFF where a > b, for values below 2^31 (a signed compare is then unsigned). */
static __m256i greater(__m256i a, __m256i b) { return _mm256_cmpgt_epi32(a, b); }

/* ---- F16 ---- */

static void f32_to_f16_block(uint16_t *dst, const float *src)
{
    __m128i halves =
        _mm256_cvtps_ph(_mm256_loadu_ps(src), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128((__m128i *)dst, halves);
}

static __m256 f16_to_f32_vector(const uint16_t *src)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)src));
}

static void f32_to_f16_avx2(uint16_t *dst, const float *src, size_t n)
{
    RUN_BLOCKS(uint16_t, float, 8, f32_to_f16_block(d, s));
}

static void f16_to_f32_avx2(float *dst, const uint16_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(uint16_t, f16_to_f32_vector(s));
}

/* ---- BF16 ---- */

/* Drops the low `shift` bits of each lane, rounding to nearest even: adds just under half,
 * plus one more when the lowest kept bit is odd. */
static __m256i round_off_low_bits(__m256i bits, unsigned shift)
{
    __m256i lowest_kept = _mm256_and_si256(_mm256_srli_epi32(bits, shift), set1(1));
    __m256i just_under_half = set1((1u << (shift - 1)) - 1);
    return _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(just_under_half, lowest_kept)),
                             shift);
}

static __m256i bf16_codes(__m256 values)
{
    __m256i bits = _mm256_castps_si256(values);
    __m256i magnitude = _mm256_and_si256(bits, set1(0x7FFFFFFF));
    __m256i rounded = round_off_low_bits(bits, 16);
    __m256i quiet_nan = _mm256_or_si256(_mm256_srli_epi32(bits, 16), set1(0x0040));
    return _mm256_blendv_epi8(rounded, quiet_nan, greater(magnitude, set1(0x7F800000)));
}

/* Eight lanes below 2^16 -> eight uint16. */
static __m128i pack_16(__m256i lanes)
{
    __m256i packed = _mm256_packus_epi32(lanes, lanes); /* per 128-bit half: 0-3 0-3 | 4-7 4-7 */
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
}

static void f32_to_bf16_block(uint16_t *dst, const float *src)
{
    _mm_storeu_si128((__m128i *)dst, pack_16(bf16_codes(_mm256_loadu_ps(src))));
}

static __m256 bf16_to_f32_vector(const uint16_t *src)
{
    __m256i widened = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)src));
    return _mm256_castsi256_ps(_mm256_slli_epi32(widened, 16));
}

static void f32_to_bf16_avx2(uint16_t *dst, const float *src, size_t n)
{
    RUN_BLOCKS(uint16_t, float, 8, f32_to_bf16_block(d, s));
}

static void bf16_to_f32_avx2(float *dst, const uint16_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(uint16_t, bf16_to_f32_vector(s));
}

/* ---- F8 ---- */

/* Eight fp32 -> eight F8 codes, one per 32-bit lane, sign included. */
static __m256i f8_codes(__m256 values, const f8_constants *format)
{
    __m256i bits = _mm256_castps_si256(values);
    __m256i magnitude = _mm256_and_si256(bits, set1(0x7FFFFFFF));
    __m256i sign = _mm256_and_si256(_mm256_srli_epi32(bits, 24), set1(0x80));

    /* Large codes (inf, NaN, overflow) come out above overflow_code; small inputs wrap, but
     * they take the subnormal lane below. */
    __m256i normal = round_off_low_bits(_mm256_add_epi32(magnitude, set1(format->rebias)),
                                        format->dropped_bits);
    __m256 magic = _mm256_set1_ps(format->subnormal_magic);
    __m256i subnormal = _mm256_sub_epi32(
        _mm256_castps_si256(_mm256_add_ps(_mm256_castsi256_ps(magnitude), magic)),
        _mm256_castps_si256(magic));
    __m256i below_normal = greater(set1(format->min_normal), magnitude);
    __m256i code = _mm256_blendv_epi8(normal, subnormal, below_normal);
    code = _mm256_min_epu32(code, set1(format->overflow_code));

    __m256i payload = _mm256_and_si256(_mm256_srli_epi32(magnitude, format->dropped_bits),
                                       set1(format->nan_payload_mask));
    __m256i nan = _mm256_or_si256(set1(format->nan_code), payload);
    code = _mm256_blendv_epi8(code, nan, greater(magnitude, set1(0x7F800000)));
    return _mm256_or_si256(code, sign);
}

/* Four vectors of eight lanes below 2^8 -> 32 bytes in order. */
static void store_32_bytes(uint8_t *dst, __m256i a, __m256i b, __m256i c, __m256i d)
{
    /* The packs work within 128-bit halves, so the 4-byte groups come out as
     * a0-3 b0-3 c0-3 d0-3 a4-7 b4-7 c4-7 d4-7; the permute puts them in order. */
    __m256i words = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
    __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    _mm256_storeu_si256((__m256i *)dst, _mm256_permutevar8x32_epi32(words, order));
}

static void f32_to_f8_block(uint8_t *dst, const float *src, const f8_constants *format)
{
    store_32_bytes(dst, f8_codes(_mm256_loadu_ps(src), format),
                   f8_codes(_mm256_loadu_ps(src + 8), format),
                   f8_codes(_mm256_loadu_ps(src + 16), format),
                   f8_codes(_mm256_loadu_ps(src + 24), format));
}

static void f32_to_f8_e4m3_avx2(uint8_t *dst, const float *src, size_t n, ampc_overflow overflow)
{
    const f8_constants format = e4m3_constants(overflow);
    RUN_BLOCKS(uint8_t, float, 32, f32_to_f8_block(d, s, &format));
}

static void f32_to_f8_e5m2_avx2(uint8_t *dst, const float *src, size_t n, ampc_overflow overflow)
{
    const f8_constants format = e5m2_constants(overflow);
    RUN_BLOCKS(uint8_t, float, 32, f32_to_f8_block(d, s, &format));
}

/* E4M3 normals: shift the fields into place and rebias 7 -> 127. Subnormals (exponent field
 * 0) are code * 2^-9, exact in fp32. 0x7F is the NaN. */
static __m256 f8_e4m3_to_f32_vector(const uint8_t *src)
{
    __m256i codes = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)src));
    __m256i sign = _mm256_slli_epi32(_mm256_and_si256(codes, set1(0x80)), 24);
    __m256i magnitude = _mm256_and_si256(codes, set1(0x7F));
    __m256i normal = _mm256_add_epi32(_mm256_slli_epi32(magnitude, 20), set1((127u - 7) << 23));
    __m256 subnormal = _mm256_mul_ps(_mm256_cvtepi32_ps(magnitude), _mm256_set1_ps(0x1p-9f));
    __m256i value = _mm256_blendv_epi8(normal, _mm256_castps_si256(subnormal),
                                       greater(set1(8), magnitude));
    value = _mm256_blendv_epi8(value, set1(0x7FC00000), _mm256_cmpeq_epi32(magnitude, set1(0x7F)));
    return _mm256_castsi256_ps(_mm256_or_si256(value, sign));
}

static __m256 f8_e5m2_to_f32_vector(const uint8_t *src)
{
    __m128i halves = _mm_slli_epi16(_mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)src)), 8);
    return _mm256_cvtph_ps(halves);
}

static void f8_e4m3_to_f32_avx2(float *dst, const uint8_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(uint8_t, f8_e4m3_to_f32_vector(s));
}

static void f8_e5m2_to_f32_avx2(float *dst, const uint8_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(uint8_t, f8_e5m2_to_f32_vector(s));
}

const ampc_convert_kernels ampc_convert_avx2_own = {
    .f32_to_f16 = f32_to_f16_avx2,
    .f16_to_f32 = f16_to_f32_avx2,
    .f32_to_bf16 = f32_to_bf16_avx2,
    .bf16_to_f32 = bf16_to_f32_avx2,
    .f32_to_f8_e4m3 = f32_to_f8_e4m3_avx2,
    .f8_e4m3_to_f32 = f8_e4m3_to_f32_avx2,
    .f32_to_f8_e5m2 = f32_to_f8_e5m2_avx2,
    .f8_e5m2_to_f32 = f8_e5m2_to_f32_avx2,
};
