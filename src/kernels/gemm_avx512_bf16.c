/* AVX512-BF16 GEMM microkernel: VDPBF16PS on BF16 k pairs, a 14 x 32 tile of C in 28 zmm.
 *
 * B is packed as VNNI-2 pairs ([k/2][32][2]: two zmm per k pair), A as one 32-bit pair per
 * row, broadcast to all 16 lanes. Each VDPBF16PS adds two products per lane: 32 multiply-adds
 * per instruction against vfmadd231ps's 16. Its numerics differ from fp32 FMA (gemm_scalar.c
 * emulates them exactly): the odd element's product is added first, and denormal inputs and
 * results are flushed to zero whatever MXCSR says. Not dispatched by default (gemm.c says
 * why); tests compare it with its emulation, bit for bit. */
#include <immintrin.h>

#include "kernels/gemm_kernels.h"

enum { MR = 14, NR = 32 };
enum { PREFETCH_PAIRS = 8 }; /* B k pairs ahead to fetch into L1: the B panel streams from L2 */

static void bf16_pairs_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                                   const void *b_panel, int64_t kc, bool accumulate)
{
    const uint32_t *a = a_panel;  /* one k pair of a row per 32 bits */
    const uint16_t *b = b_panel;
    __m512 c[MR][2];
#pragma GCC unroll 14
    for (int r = 0; r < MR; r++) {
        c[r][0] = accumulate ? _mm512_loadu_ps(acc + r * acc_stride) : _mm512_setzero_ps();
        c[r][1] = accumulate ? _mm512_loadu_ps(acc + r * acc_stride + 16) : _mm512_setzero_ps();
    }
    for (int64_t pair = 0; pair < kc / 2; pair++) {
        _mm_prefetch((const char *)(b + (pair + PREFETCH_PAIRS) * 2 * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + (pair + PREFETCH_PAIRS) * 2 * NR + 32), _MM_HINT_T0);
        __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + pair * 2 * NR);
        __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + pair * 2 * NR + 32);
#pragma GCC unroll 14
        for (int r = 0; r < MR; r++) {
            __m512bh ar = (__m512bh)_mm512_set1_epi32((int)a[pair * MR + r]);
            c[r][0] = _mm512_dpbf16_ps(c[r][0], ar, b0);
            c[r][1] = _mm512_dpbf16_ps(c[r][1], ar, b1);
        }
    }
#pragma GCC unroll 14
    for (int r = 0; r < MR; r++) {
        _mm512_storeu_ps(acc + r * acc_stride, c[r][0]);
        _mm512_storeu_ps(acc + r * acc_stride + 16, c[r][1]);
    }
}

const ampc_gemm_kernel ampc_gemm_avx512_bf16_pairs = {
    .name = "avx512_bf16 vdpbf16ps 14x32",
    .level = AMPC_ISA_AVX512_BF16,
    .packing = AMPC_GEMM_PACK_BF16_PAIRS,
    .mr = MR,
    .nr = NR,
    .kc = 512,
    .mc = 280,
    .nc = 1024,
    .microkernel = bf16_pairs_microkernel,
    .reference = &ampc_gemm_scalar_bf16_pairs,
};
