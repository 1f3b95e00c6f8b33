/* Helpers shared by the AVX-512 conversion files (convert_avx512*.c). Include only from files
 * compiled with at least the avx512 level's flags: everything here uses zmm registers. */
#ifndef AMPC_DTYPE_CONVERT_AVX512_H
#define AMPC_DTYPE_CONVERT_AVX512_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "dtype/convert_simd.h"

/* A mask of the first min(count, 16) lanes. */
static inline __mmask16 first_lanes(size_t count)
{
    return count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
}

/* Runs BLOCK_CALL, which converts up to 16 elements from s to d where `mask` has a bit set,
 * over the n elements of src and dst (all names but mask are the caller's). The tail is the
 * same vector code with a shorter mask: masked loads and stores never touch the lanes left
 * out, so nothing outside the arrays is read or written. */
#define RUN_MASKED_BLOCKS(BLOCK_CALL)                                                       \
    do {                                                                                     \
        for (size_t done = 0; done < n; done += 16) {                                        \
            const __mmask16 mask = first_lanes(n - done);                                    \
            __typeof__(dst) d = dst + done;                                                  \
            __typeof__(src) s = src + done;                                                  \
            BLOCK_CALL;                                                                      \
        }                                                                                    \
    } while (0)

/* Runs VECTOR_CALL, which widens up to 16 elements at s (lanes in `mask`) to an __m512, over
 * the n elements of src into the floats at dst. A long output gets streaming stores once dst
 * reaches a 64-byte boundary (see convert_simd.h); a dst that is not even float-aligned never
 * streams. Whole blocks run with a constant all-lanes mask, which the compiler folds away:
 * working a mask out for every block costs scalar work on the ports the vector work needs
 * (E4M3 in L2 takes about 25% longer that way). Only the tail uses a partial mask. */
#define RUN_WIDENING_BLOCKS(VECTOR_CALL)                                                    \
    do {                                                                                     \
        size_t done = 0;                                                                     \
        if (n * sizeof *dst >= STREAM_MIN_BYTES && (uintptr_t)dst % sizeof *dst == 0) {     \
            size_t head = (64 - (uintptr_t)dst % 64) % 64 / sizeof *dst;                     \
            {                                                                                \
                const __mmask16 mask = first_lanes(head);                                    \
                __typeof__(src) s = src;                                                     \
                _mm512_mask_storeu_ps(dst, mask, VECTOR_CALL);                               \
            }                                                                                \
            for (done = head; done + 16 <= n; done += 16) {                                  \
                const __mmask16 mask = 0xFFFF;                                               \
                __typeof__(src) s = src + done;                                              \
                _mm512_stream_ps(dst + done, VECTOR_CALL);                                   \
            }                                                                                \
            _mm_sfence();                                                                    \
        }                                                                                    \
        for (; done + 16 <= n; done += 16) {                                                 \
            const __mmask16 mask = 0xFFFF;                                                   \
            __typeof__(src) s = src + done;                                                  \
            _mm512_storeu_ps(dst + done, VECTOR_CALL);                                       \
        }                                                                                    \
        if (done < n) {                                                                      \
            const __mmask16 mask = first_lanes(n - done);                                    \
            __typeof__(src) s = src + done;                                                  \
            _mm512_mask_storeu_ps(dst + done, mask, VECTOR_CALL);                            \
        }                                                                                    \
    } while (0)

static inline __m512i set1_512(uint32_t value) { return _mm512_set1_epi32((int)value); }

/* Drops the low `shift` bits of each lane, rounding to nearest even: adds just under half,
 * plus one more when the lowest kept bit is odd. */
static inline __m512i round_off_low_bits_512(__m512i bits, unsigned shift)
{
    __m512i lowest_kept = _mm512_and_si512(_mm512_srli_epi32(bits, shift), set1_512(1));
    __m512i just_under_half = set1_512((1u << (shift - 1)) - 1);
    __m512i sum = _mm512_add_epi32(bits, _mm512_add_epi32(just_under_half, lowest_kept));
    return _mm512_srli_epi32(sum, shift);
}

/* Lanes holding a NaN (magnitude above inf's). */
static inline __mmask16 nan_lanes_512(__m512i bits)
{
    __m512i magnitude = _mm512_and_si512(bits, set1_512(0x7FFFFFFF));
    return _mm512_cmpgt_epu32_mask(magnitude, set1_512(0x7F800000));
}

#endif
