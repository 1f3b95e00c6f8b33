/* AVX-512 fp32 GEMM microkernel: a 14 x 32 tile of C in 28 zmm accumulators.
 *
 * Per k: the two zmm of the B panel's row, and for each of the 14 rows one A value broadcast
 * (folded into the FMA as an embedded {1to16} broadcast) feeding two FMAs. 28 independent
 * chains hide the FMA latency (4 cycles x 2 ports needs 8); 16 loads per 28 FMAs stay under
 * the two loads a cycle. Each accumulator lane is one chain over k of vfmadd231ps, exactly
 * the scalar reference's fmaf chain (gemm_scalar.c), so the bits are the same. F16 and BF16
 * arrive widened to fp32 by the packing. */
#include <immintrin.h>

#include "kernels/gemm_kernels.h"

enum { MR = 14, NR = 32 };
enum { PREFETCH_K = 16 }; /* B rows ahead to fetch into L1: the B panel streams from L2 */

static void f32_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                            const void *b_panel, int64_t kc, bool accumulate)
{
    const float *a = a_panel, *b = b_panel;
    __m512 c[MR][2];
    /* The driver's next call is usually the tile to the right: start its accumulator now. */
#pragma GCC unroll 14
    for (int r = 0; r < MR; r++) {
        _mm_prefetch((const char *)(acc + r * acc_stride + NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(acc + r * acc_stride + NR + 16), _MM_HINT_T0);
    }
#pragma GCC unroll 14
    for (int r = 0; r < MR; r++) {
        c[r][0] = accumulate ? _mm512_loadu_ps(acc + r * acc_stride) : _mm512_setzero_ps();
        c[r][1] = accumulate ? _mm512_loadu_ps(acc + r * acc_stride + 16) : _mm512_setzero_ps();
    }
    for (int64_t kk = 0; kk < kc; kk++) {
        _mm_prefetch((const char *)(b + (kk + PREFETCH_K) * NR), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + (kk + PREFETCH_K) * NR + 16), _MM_HINT_T0);
        __m512 b0 = _mm512_loadu_ps(b + kk * NR), b1 = _mm512_loadu_ps(b + kk * NR + 16);
#pragma GCC unroll 14
        for (int r = 0; r < MR; r++) {
            __m512 ar = _mm512_set1_ps(a[kk * MR + r]);
            c[r][0] = _mm512_fmadd_ps(ar, b0, c[r][0]);
            c[r][1] = _mm512_fmadd_ps(ar, b1, c[r][1]);
        }
    }
#pragma GCC unroll 14
    for (int r = 0; r < MR; r++) {
        _mm512_storeu_ps(acc + r * acc_stride, c[r][0]);
        _mm512_storeu_ps(acc + r * acc_stride + 16, c[r][1]);
    }
}

const ampc_gemm_kernel ampc_gemm_avx512_f32 = {
    .name = "avx512 fp32 fma 14x32",
    .level = AMPC_ISA_AVX512,
    .packing = AMPC_GEMM_PACK_F32,
    .mr = MR,
    .nr = NR,
    .kc = 256,
    .mc = 280,
    .nc = 1024,
    .microkernel = f32_microkernel,
    .reference = &ampc_gemm_scalar_f32,
};
