/* AVX-512 fp32 GEMM microkernels: a 14 x 32 tile of C in 28 zmm accumulators (and a 14 x 16
 * one for narrow products, 9 x 16 for narrow ones with m <= 9, an 8 x 32 one for C rows
 * 4 KiB apart).
 *
 * Per k: the two zmm of the B panel's row, and for each of the 14 rows one A value broadcast
 * (folded into the FMA as an embedded {1to16} broadcast) feeding two FMAs. 28 independent
 * chains hide the FMA latency (4 cycles x 2 ports needs 8); 16 loads per 28 FMAs stay under
 * the two loads a cycle. Each accumulator lane is one chain over k of vfmadd231ps, exactly
 * the scalar reference's fmaf chain (gemm_scalar.c), so the bits are the same. F16 and BF16
 * arrive widened to fp32 by the packing, which transposes runs along k with the 16 x 16
 * register transpose below. */
#include <immintrin.h>

#include "kernels/gemm_kernels.h"

enum { MR = 14, NR = 32 };
enum { NARROW_MR = 14, NARROW_NR = 16 }; /* for n <= 16: one zmm per row */
enum { FEW_MR = 9 };    /* for m <= 9 on the narrow tile (9 x 32 x 100352) */
enum { SHORT_MR = 8 }; /* for C rows 4 KiB apart: fewer rows in one L1 set (below) */
enum { PREFETCH_K = 16 }; /* B rows ahead to fetch into L1: the B panel streams from L2 */
enum { KC = 256 };
/* Floats between the rows of an A panel packed by rows (a multiple of 16 plus one cache line,
 * so that the 14 rows do not pile up in a few L1 sets). */
enum { A_ROW_STRIDE = KC + 16 };

/* An mr x (16 * vectors) tile; mr, vectors and a_row_stride are constants at every call site,
 * so the loops unroll and c stays in registers. The A panel is [kc][mr] (a_row_stride 0) or,
 * packed by rows, [mr][a_row_stride]: the same values broadcast in the same order, so the same
 * chains, but a row-major A is then widened without a transpose. */
static inline __attribute__((always_inline)) void
f32_tile(int mr, int vectors, int a_row_stride, float *acc, int64_t acc_stride, const float *a,
         const float *b, int64_t kc, bool accumulate)
{
    int nr = 16 * vectors;
    __m512 c[MR][2];
    /* The driver's next call is usually the tile to the right: start its accumulator now. */
#pragma GCC unroll 14
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int v = 0; v < vectors; v++)
            _mm_prefetch((const char *)(acc + r * acc_stride + nr + 16 * v), _MM_HINT_T0);
#pragma GCC unroll 14
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int v = 0; v < vectors; v++)
            c[r][v] = accumulate ? _mm512_loadu_ps(acc + r * acc_stride + 16 * v)
                                 : _mm512_setzero_ps();
    for (int64_t kk = 0; kk < kc; kk++) {
        __m512 bv[2];
#pragma GCC unroll 2
        for (int v = 0; v < vectors; v++) {
            _mm_prefetch((const char *)(b + (kk + PREFETCH_K) * nr + 16 * v), _MM_HINT_T0);
            bv[v] = _mm512_loadu_ps(b + kk * nr + 16 * v);
        }
#pragma GCC unroll 14
        for (int r = 0; r < mr; r++) {
            float a_value = a_row_stride ? a[r * a_row_stride + kk] : a[kk * mr + r];
            __m512 ar = _mm512_set1_ps(a_value);
#pragma GCC unroll 2
            for (int v = 0; v < vectors; v++) c[r][v] = _mm512_fmadd_ps(ar, bv[v], c[r][v]);
        }
    }
#pragma GCC unroll 14
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 2
        for (int v = 0; v < vectors; v++) _mm512_storeu_ps(acc + r * acc_stride + 16 * v, c[r][v]);
}

static void f32_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                            const void *b_panel, int64_t kc, bool accumulate)
{
    f32_tile(MR, NR / 16, 0, acc, acc_stride, a_panel, b_panel, kc, accumulate);
}

static void f32_a_rows_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                                   const void *b_panel, int64_t kc, bool accumulate)
{
    f32_tile(MR, NR / 16, A_ROW_STRIDE, acc, acc_stride, a_panel, b_panel, kc, accumulate);
}

static void f32_short_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                                  const void *b_panel, int64_t kc, bool accumulate)
{
    f32_tile(SHORT_MR, NR / 16, 0, acc, acc_stride, a_panel, b_panel, kc, accumulate);
}

static void f32_short_a_rows_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                                         const void *b_panel, int64_t kc, bool accumulate)
{
    f32_tile(SHORT_MR, NR / 16, A_ROW_STRIDE, acc, acc_stride, a_panel, b_panel, kc,
             accumulate);
}

static void f32_few_rows_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                                     const void *b_panel, int64_t kc, bool accumulate)
{
    f32_tile(FEW_MR, NARROW_NR / 16, 0, acc, acc_stride, a_panel, b_panel, kc, accumulate);
}

static void f32_few_rows_a_rows_microkernel(float *acc, int64_t acc_stride,
                                            const void *a_panel, const void *b_panel,
                                            int64_t kc, bool accumulate)
{
    f32_tile(FEW_MR, NARROW_NR / 16, A_ROW_STRIDE, acc, acc_stride, a_panel, b_panel, kc,
             accumulate);
}

static void f32_narrow_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                                   const void *b_panel, int64_t kc, bool accumulate)
{
    f32_tile(NARROW_MR, NARROW_NR / 16, 0, acc, acc_stride, a_panel, b_panel, kc, accumulate);
}

static void f32_narrow_a_rows_microkernel(float *acc, int64_t acc_stride, const void *a_panel,
                                          const void *b_panel, int64_t kc, bool accumulate)
{
    f32_tile(NARROW_MR, NARROW_NR / 16, A_ROW_STRIDE, acc, acc_stride, a_panel, b_panel, kc,
             accumulate);
}

/* ---- packing: a 16 x 16 transpose in registers ---- */

/* Up to 16 values of one row, widened to fp32 (exact: vcvtph2ps, as the conversion kernels
 * widen F16; BF16 is the top half of an fp32). Masked-off values are not read. */
static inline __m512 load_widened(const char *src, ampc_dtype dtype, __mmask16 mask)
{
    switch (dtype) {
    case AMPC_F16: return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, src));
    case AMPC_BF16: {
        __m512i halves = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, src));
        return _mm512_castsi512_ps(_mm512_slli_epi32(halves, 16));
    }
    default: return _mm512_maskz_loadu_ps(mask, src);
    }
}

/* dst[i * dst_stride + r] = src[r * src_stride + i] widened, for r < rows, i < columns (both
 * <= 16): the packers' runs along k become panel columns 16 x 16 at a time (unpack, then
 * shuffles within and across 128-bit lanes), instead of one scalar move per value. */
void ampc_gemm_avx512_widen_transposed(float *dst, int64_t dst_stride, const void *src,
                                       int64_t src_stride, ampc_dtype dtype, int rows,
                                       int columns)
{
    __mmask16 column_mask = (__mmask16)((1u << columns) - 1);
    __mmask16 row_mask = (__mmask16)((1u << rows) - 1);
    size_t row_bytes = (size_t)src_stride * ampc_dtype_size(dtype);
    __m512 x[16], t[16];
    for (int r = 0; r < 16; r++)
        x[r] = r < rows ? load_widened((const char *)src + r * row_bytes, dtype, column_mask)
                        : _mm512_setzero_ps();
    for (int r = 0; r < 16; r += 2) { /* pairs of rows interleaved in each 128-bit lane */
        t[r] = _mm512_unpacklo_ps(x[r], x[r + 1]);
        t[r + 1] = _mm512_unpackhi_ps(x[r], x[r + 1]);
    }
    for (int r = 0; r < 16; r += 4) { /* lane l of x[r + c]: rows r..r+3 of column 4l + c */
        x[r] = _mm512_shuffle_ps(t[r], t[r + 2], 0x44);
        x[r + 1] = _mm512_shuffle_ps(t[r], t[r + 2], 0xEE);
        x[r + 2] = _mm512_shuffle_ps(t[r + 1], t[r + 3], 0x44);
        x[r + 3] = _mm512_shuffle_ps(t[r + 1], t[r + 3], 0xEE);
    }
    for (int h = 0; h < 16; h += 8) /* lanes 0, 2 and 1, 3 of row groups h..h+3, h+4..h+7 */
        for (int c = 0; c < 4; c++) {
            t[h + c] = _mm512_shuffle_f32x4(x[h + c], x[h + 4 + c], 0x88);
            t[h + 4 + c] = _mm512_shuffle_f32x4(x[h + c], x[h + 4 + c], 0xDD);
        }
    for (int c = 0; c < 8; c++) { /* columns c and c + 8, all 16 rows */
        x[c] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0x88);
        x[c + 8] = _mm512_shuffle_f32x4(t[c], t[c + 8], 0xDD);
    }
    for (int i = 0; i < columns; i++) _mm512_mask_storeu_ps(dst + i * dst_stride, row_mask, x[i]);
}

/* dst[r * dst_stride + i] = src[r * src_stride + i] widened, for r < runs, i < count: runs
 * that are already along the panel's rows, 16 values per masked load and store. */
void ampc_gemm_avx512_widen_runs(float *dst, int64_t dst_stride, const void *src,
                                 int64_t src_stride, ampc_dtype dtype, int64_t runs,
                                 int64_t count)
{
    size_t size = ampc_dtype_size(dtype);
    for (int64_t r = 0; r < runs; r++) {
        const char *run = (const char *)src + (size_t)(r * src_stride) * size;
        for (int64_t i = 0; i < count; i += 16) {
            int n = count - i < 16 ? (int)(count - i) : 16;
            __mmask16 mask = (__mmask16)((1u << n) - 1);
            _mm512_mask_storeu_ps(dst + r * dst_stride + i, mask,
                                  load_widened(run + (size_t)i * size, dtype, mask));
        }
    }
}

const ampc_gemm_kernel ampc_gemm_avx512_f32 = {
    .name = "avx512 fp32 fma 14x32",
    .level = AMPC_ISA_AVX512,
    .packing = AMPC_GEMM_PACK_F32,
    .mr = MR,
    .nr = NR,
    .kc = KC,
    .mc = 280,
    .nc = 1024,
    .microkernel = f32_microkernel,
    .a_rows_microkernel = f32_a_rows_microkernel,
    .a_row_stride = A_ROW_STRIDE,
    .reference = &ampc_gemm_scalar_f32,
    .narrow = &ampc_gemm_avx512_f32_narrow,
    .short_rows = &ampc_gemm_avx512_f32_short,
};

/* The same chains on an 8 x 32 tile, for C computed in place with rows a multiple of 4 KiB
 * apart (n = 1024, F32) and one k block: the 14 x 32 tile's 14 rows of C fall in the same L1
 * set, which has 12 ways (also holding A, B and the next block's prefetched lines), so its
 * stores evicted each other. 128 x 1024 x 10 NT, 2 threads: 84 GFLOP/s with 14 rows, 108
 * with C rows 4160 bytes apart; 87, 111, 117, 114 with 12, 10, 8, 6 rows. B's layout is the
 * wide kernel's. */
const ampc_gemm_kernel ampc_gemm_avx512_f32_short = {
    .name = "avx512 fp32 fma 8x32",
    .level = AMPC_ISA_AVX512,
    .packing = AMPC_GEMM_PACK_F32,
    .mr = SHORT_MR,
    .nr = NR,
    .kc = KC,
    .mc = 272,
    .nc = 1024,
    .microkernel = f32_short_microkernel,
    .a_rows_microkernel = f32_short_a_rows_microkernel,
    .a_row_stride = A_ROW_STRIDE,
    .reference = &ampc_gemm_scalar_f32,
};

/* The same chains on a 14 x 16 tile, for products whose n fits 16 columns (n = 9 or 10 in
 * small layers and im2col convolutions): a 32-wide tile would spend 2/3 of its FMAs on
 * padding. 14 chains still cover the FMA latency (4 cycles x 2 ports); the same MR as the
 * wide kernel keeps row tiles as even. */
const ampc_gemm_kernel ampc_gemm_avx512_f32_narrow = {
    .name = "avx512 fp32 fma 14x16",
    .level = AMPC_ISA_AVX512,
    .packing = AMPC_GEMM_PACK_F32,
    .mr = NARROW_MR,
    .nr = NARROW_NR,
    .kc = KC,
    .mc = 280,
    .nc = 1024,
    .microkernel = f32_narrow_microkernel,
    .a_rows_microkernel = f32_narrow_a_rows_microkernel,
    .a_row_stride = A_ROW_STRIDE,
    .reference = &ampc_gemm_scalar_f32,
    .few_rows = &ampc_gemm_avx512_f32_few_rows,
};

/* The narrow kernel's chains on 9 x 16, for m <= 9: 9 x 32 x 100352 (a long k, so one tile
 * per 16 columns, one per thread) spent 5 of the 14 x 16 tile's rows on padding. 9 chains
 * still cover the FMA latency (4 cycles x 2 ports). B's layout is the narrow kernel's. */
const ampc_gemm_kernel ampc_gemm_avx512_f32_few_rows = {
    .name = "avx512 fp32 fma 9x16",
    .level = AMPC_ISA_AVX512,
    .packing = AMPC_GEMM_PACK_F32,
    .mr = FEW_MR,
    .nr = NARROW_NR,
    .kc = KC,
    .mc = 279,
    .nc = 1024,
    .microkernel = f32_few_rows_microkernel,
    .a_rows_microkernel = f32_few_rows_a_rows_microkernel,
    .a_row_stride = A_ROW_STRIDE,
    .reference = &ampc_gemm_scalar_f32,
};
