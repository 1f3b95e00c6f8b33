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
 *         default, which ampc never changes. Widening goes through vcvtph2ps: E5M2 is the top
 *         byte of an F16, and E4M3 is an F16 of value * 2^-8 after a shift, multiplied back
 *         by 2^8 (convert_simd.h); neither depends on MXCSR.
 *
 * Widening works on 16 elements (two ymm of floats, one cache line) at a time, so the F8
 * kernels do their 16-bit work on all 16 codes in one register. The last partial block of
 * every kernel goes through zero-padded stack copies, so tails run the same vector code as
 * the rest; long widenings use streaming stores (convert_simd.h). */
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

/* Sixteen widened elements: 0-7 in low, 8-15 in high. */
typedef struct widened_16 {
    __m256 low, high;
} widened_16;

/* Converts the `count` (< 16) elements of src and dst starting at `first` with BLOCK_CALL,
 * which widens the 16 elements at s to a widened_16, through zero-padded stack copies. */
#define WIDEN_PARTIAL(src_type, BLOCK_CALL, first, count)                                   \
    do {                                                                                     \
        src_type s[16] = {0};                                                                \
        float widened[16];                                                                   \
        memcpy(s, src + (first), (count) * sizeof *src);                                     \
        widened_16 block = BLOCK_CALL;                                                       \
        _mm256_storeu_ps(widened, block.low);                                                \
        _mm256_storeu_ps(widened + 8, block.high);                                           \
        memcpy(dst + (first), widened, (count) * sizeof *dst);                               \
    } while (0)

/* How far ahead of the block being widened the streaming loop prefetches its source. Long
 * widenings are bound by their streaming stores, and a source read that misses stalls them:
 * with the prefetch the E4M3 kernel, the one with the most work per block, keeps pace with
 * E5M2 (about 2.5% faster at 64 MiB; no gain measured for the AVX-512 kernels). */
enum { PREFETCH_AHEAD_BYTES = 2048 };

/* The address is formed as an integer because it may lie past the end of the source; a
 * prefetch never faults, so that is harmless. */
static void prefetch_ahead(const void *block)
{
    _mm_prefetch((const char *)((uintptr_t)block + PREFETCH_AHEAD_BYTES), _MM_HINT_T0);
}

/* Runs BLOCK_CALL over the n elements of src into the floats at dst, 16 at a time. A long
 * output gets streaming stores once dst reaches a 64-byte boundary, so that each block fills
 * one cache line, and its source is prefetched (see convert_simd.h); a dst that is not even
 * float-aligned never streams. */
#define RUN_WIDENING_BLOCKS(src_type, BLOCK_CALL)                                           \
    do {                                                                                     \
        size_t done = 0;                                                                     \
        if (n * sizeof *dst >= STREAM_MIN_BYTES && (uintptr_t)dst % sizeof *dst == 0) {     \
            done = (64 - (uintptr_t)dst % 64) % 64 / sizeof *dst;                            \
            WIDEN_PARTIAL(src_type, BLOCK_CALL, 0, done);                                    \
            for (; done + 16 <= n; done += 16) {                                             \
                const src_type *s = src + done;                                              \
                prefetch_ahead(s);                                                           \
                widened_16 block = BLOCK_CALL;                                               \
                _mm256_stream_ps(dst + done, block.low);                                     \
                _mm256_stream_ps(dst + done + 8, block.high);                                \
            }                                                                                \
            _mm_sfence();                                                                    \
        }                                                                                    \
        for (; done + 16 <= n; done += 16) {                                                 \
            const src_type *s = src + done;                                                  \
            widened_16 block = BLOCK_CALL;                                                   \
            _mm256_storeu_ps(dst + done, block.low);                                         \
            _mm256_storeu_ps(dst + done + 8, block.high);                                    \
        }                                                                                    \
        if (done < n) WIDEN_PARTIAL(src_type, BLOCK_CALL, done, n - done);                   \
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

static widened_16 f16_to_f32_block(const uint16_t *src)
{
    return (widened_16){_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)src)),
                        _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + 8)))};
}

static void f32_to_f16_avx2(uint16_t *dst, const float *src, size_t n)
{
    RUN_BLOCKS(uint16_t, float, 8, f32_to_f16_block(d, s));
}

static void f16_to_f32_avx2(float *dst, const uint16_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(uint16_t, f16_to_f32_block(s));
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

static widened_16 bf16_to_f32_block(const uint16_t *src)
{
    return (widened_16){bf16_to_f32_vector(src), bf16_to_f32_vector(src + 8)};
}

static void f32_to_bf16_avx2(uint16_t *dst, const float *src, size_t n)
{
    RUN_BLOCKS(uint16_t, float, 8, f32_to_bf16_block(d, s));
}

static void bf16_to_f32_avx2(float *dst, const uint16_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(uint16_t, bf16_to_f32_block(s));
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

static __m256i set1_16(uint16_t value) { return _mm256_set1_epi16((short)value); }

/* 16 E4M3 codes -> the F16s of their values * 2^-8, the NaN code made the quiet F16 NaN
 * (convert_simd.h). The sign-extended code shifted left by 7 has the sign in bits 15 and 14;
 * clearing bit 14 leaves s.0eeee.mmm0000000. */
static __m256i f8_e4m3_scaled_halves(const uint8_t *src)
{
    __m256i codes = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)src));
    __m256i halves = _mm256_and_si256(_mm256_slli_epi16(codes, 7), set1_16(0xBFFF));
    __m256i magnitude = _mm256_and_si256(halves, set1_16(0x7FFF));
    __m256i nan = _mm256_cmpeq_epi16(magnitude, set1_16(E4M3_F16_NAN));
    return _mm256_add_epi16(halves, _mm256_and_si256(nan, set1_16(E4M3_F16_NAN_FIX)));
}

static widened_16 f8_e4m3_to_f32_block(const uint8_t *src)
{
    __m256i halves = f8_e4m3_scaled_halves(src);
    __m256 scale = _mm256_set1_ps(E4M3_F16_SCALE);
    return (widened_16){
        _mm256_mul_ps(_mm256_cvtph_ps(_mm256_castsi256_si128(halves)), scale),
        _mm256_mul_ps(_mm256_cvtph_ps(_mm256_extracti128_si256(halves, 1)), scale)};
}

/* E5M2 is the top byte of an F16: interleaving zero bytes below the codes makes the F16s. */
static widened_16 f8_e5m2_to_f32_block(const uint8_t *src)
{
    __m128i codes = _mm_loadu_si128((const __m128i *)src);
    __m128i zero = _mm_setzero_si128();
    return (widened_16){_mm256_cvtph_ps(_mm_unpacklo_epi8(zero, codes)),
                        _mm256_cvtph_ps(_mm_unpackhi_epi8(zero, codes))};
}

static void f8_e4m3_to_f32_avx2(float *dst, const uint8_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(uint8_t, f8_e4m3_to_f32_block(s));
}

static void f8_e5m2_to_f32_avx2(float *dst, const uint8_t *src, size_t n)
{
    RUN_WIDENING_BLOCKS(uint8_t, f8_e5m2_to_f32_block(s));
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
