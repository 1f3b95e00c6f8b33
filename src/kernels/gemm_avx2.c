/* AVX2 fp32 GEMM microkernel: a 6 x 16 tile of C in 12 ymm accumulators.
 *
 * 16 ymm registers: 12 accumulators, the two ymm of the B panel's row, and one broadcast A
 * value (AVX2 FMAs cannot broadcast from memory). Each lane is one vfmadd231ps chain over k,
 * the scalar reference's fmaf chain (gemm_scalar.c), so the bits are the same. F16 and BF16
 * arrive widened to fp32 by the packing. */
#include <immintrin.h>

#include "kernels/gemm_kernels.h"

enum { MR = 6, NR = 16 };
enum { PREFETCH_K = 16 }; /* B rows ahead to fetch into L1: the B panel streams from L2 */

static void f32_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                            const void *b_panel, int64_t kc, bool accumulate)
{
    const float *a = a_panel, *b = b_panel;
    __m256 c[MR][2];
    /* The driver's next call is usually the tile to the right: start its accumulator now. */
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++)
        _mm_prefetch((const char *)(acc + r * acc_stride + NR), _MM_HINT_T0);
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        c[r][0] = accumulate ? _mm256_loadu_ps(acc + r * acc_stride) : _mm256_setzero_ps();
        c[r][1] = accumulate ? _mm256_loadu_ps(acc + r * acc_stride + 8) : _mm256_setzero_ps();
    }
    for (int64_t kk = 0; kk < kc; kk++) {
        _mm_prefetch((const char *)(b + (kk + PREFETCH_K) * NR), _MM_HINT_T0);
        __m256 b0 = _mm256_loadu_ps(b + kk * NR), b1 = _mm256_loadu_ps(b + kk * NR + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; r++) {
            __m256 ar = _mm256_broadcast_ss(a + kk * MR + r);
            c[r][0] = _mm256_fmadd_ps(ar, b0, c[r][0]);
            c[r][1] = _mm256_fmadd_ps(ar, b1, c[r][1]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; r++) {
        _mm256_storeu_ps(acc + r * acc_stride, c[r][0]);
        _mm256_storeu_ps(acc + r * acc_stride + 8, c[r][1]);
    }
}

const ampc_gemm_kernel ampc_gemm_avx2_f32 = {
    .name = "avx2 fp32 fma 6x16",
    .level = AMPC_ISA_AVX2,
    .packing = AMPC_GEMM_PACK_F32,
    .mr = MR,
    .nr = NR,
    .kc = 256,
    .mc = 192,
    .nc = 1024,
    .microkernel = f32_microkernel,
    .reference = &ampc_gemm_scalar_f32,
};
