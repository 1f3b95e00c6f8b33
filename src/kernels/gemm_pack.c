/* Packing: op(A) and op(B) copied into the panels a microkernel streams through (layouts in
 * gemm_kernels.h), whatever their transposes and leading dims were.
 *
 * A panel holds MR rows of op(A) interleaved by k, so the microkernel reads one k step of all
 * its rows from one place; a B panel holds NR columns of op(B) the same way, which makes it
 * an A panel of op(B)^T: one packer serves both. A panel that reaches past the matrix is
 * zeroed before it is filled, so rows, columns and k values beyond the matrix are 0 (a padded
 * product is 0 * 0, never 0 * inf). For the fp32 packing the F16/BF16 values are widened
 * (exactly; F32 values are copied) on runs that are contiguous in the source; runs that
 * become columns of a panel go through a small transposing buffer (transposed 16 x 16 in
 * AVX-512 registers at the avx512 level and above). The BF16 pair packing only moves 16-bit
 * values. */
#include <string.h>

#include "core/error.h"
#include "dtype/convert_kernels.h"
#include "kernels/gemm_kernels.h"

/* widen_transposed's buffer: up to MAX_RUNS runs (the widest MR or NR) of LINE values. */
enum { LINE = 64, MAX_RUNS = 32 };

int ampc_gemm_k_step(ampc_gemm_packing packing)
{
    return packing == AMPC_GEMM_PACK_BF16_PAIRS ? 2 : 1;
}

size_t ampc_gemm_packed_size(ampc_gemm_packing packing)
{
    return packing == AMPC_GEMM_PACK_BF16_PAIRS ? sizeof(uint16_t) : sizeof(float);
}

int64_t ampc_gemm_padded_k(ampc_gemm_packing packing, int64_t k)
{
    int64_t step = ampc_gemm_k_step(packing);
    return (k + step - 1) / step * step;
}

/* Address of op(X)[row][column]. */
static const void *element(const ampc_gemm_matrix *x, int64_t row, int64_t column)
{
    int64_t offset =
        x->transposed ? column * x->leading_dim + row : row * x->leading_dim + column;
    return (const char *)x->data + (size_t)offset * ampc_dtype_size(x->dtype);
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* F16 widened by the conversion kernels; BF16 is the top half of an fp32 (exact, inline: the
 * packers widen many short runs, k = 9 or n = 10, where a call per run dominated); F32
 * copied. */
static void widen(const ampc_convert_kernels *convert, float *dst, const void *src,
                  ampc_dtype dtype, int64_t n)
{
    if (dtype == AMPC_F16) {
        convert->f16_to_f32(dst, src, (size_t)n);
    } else if (dtype == AMPC_BF16) {
        const uint16_t *bits = src;
        for (int64_t i = 0; i < n; i++) {
            uint32_t widened = (uint32_t)bits[i] << 16;
            memcpy(dst + i, &widened, sizeof widened);
        }
    } else {
        memcpy(dst, src, (size_t)n * sizeof(float));
    }
}

/* Widens `runs` runs of `count` values (run r starts at src + r * src_stride) and stores them
 * transposed: value i of run r goes to dst[i * dst_stride + r]. A run along k of a
 * non-transposed A, or of a transposed B, becomes a column of its panel. Through an L1-sized
 * buffer, so that the panel is written in order. */
static void widen_transposed(const ampc_convert_kernels *convert, float *dst, int64_t dst_stride,
                             const void *src, int64_t src_stride, int64_t runs,
                             int64_t count, ampc_dtype dtype)
{
    float lines[MAX_RUNS][LINE];
    AMPC_ASSERT(runs <= MAX_RUNS);
    size_t size = ampc_dtype_size(dtype);
    if (ampc_gemm_path() >= AMPC_ISA_AVX512) { /* the same panel, 16 x 16 in registers */
        for (int64_t r = 0; r < runs; r += 16)
            for (int64_t i = 0; i < count; i += 16)
                ampc_gemm_avx512_widen_transposed(
                    dst + i * dst_stride + r, dst_stride,
                    (const char *)src + (size_t)(r * src_stride + i) * size, src_stride, dtype,
                    (int)min64(16, runs - r), (int)min64(16, count - i));
        return;
    }
    for (int64_t start = 0; start < count; start += LINE) {
        int64_t n = min64(LINE, count - start);
        for (int64_t r = 0; r < runs; r++)
            widen(convert, lines[r], (const char *)src + (size_t)(r * src_stride + start) * size,
                  dtype, n);
        for (int64_t i = 0; i < n; i++)
            for (int64_t r = 0; r < runs; r++) dst[(start + i) * dst_stride + r] = lines[r][i];
    }
}

/* ---- one panel: `rows` rows of op(X), k values [k0, k0 + k_valid), `width` rows wide. A B
 * panel is an A panel of op(B)^T (see ampc_gemm_pack_b_block). ---- */

static void pack_f32_panel(const ampc_convert_kernels *convert, float *panel,
                           const ampc_gemm_matrix *x, int64_t row0, int64_t rows, int64_t k0,
                           int64_t k_valid, int width)
{
    if (x->transposed && ampc_gemm_path() >= AMPC_ISA_AVX512) {
        ampc_gemm_avx512_widen_runs(panel, width, element(x, row0, k0), x->leading_dim,
                                    x->dtype, k_valid, rows);
    } else if (x->transposed) { /* the rows' values of one k are contiguous */
        const char *src = element(x, row0, k0);
        size_t step = (size_t)x->leading_dim * ampc_dtype_size(x->dtype);
        for (int64_t kk = 0; kk < k_valid; kk++, src += step)
            widen(convert, panel + kk * width, src, x->dtype, rows);
    } else {
        widen_transposed(convert, panel, width, element(x, row0, k0), x->leading_dim, rows,
                         k_valid, x->dtype);
    }
}

/* Value (k, i) of a pair panel `width` rows wide is at (k / 2) * 2 * width + 2 * i + k % 2. */
static int64_t pair_index(int64_t kk, int64_t i, int64_t width)
{
    return (kk >> 1) * 2 * width + 2 * i + (kk & 1);
}

static void pack_pairs_panel(uint16_t *panel, const ampc_gemm_matrix *x, int64_t row0,
                             int64_t rows, int64_t k0, int64_t k_valid, int width)
{
    if (x->transposed) {
        for (int64_t kk = 0; kk < k_valid; kk++) {
            const uint16_t *src = element(x, row0, k0 + kk); /* BF16 only */
            for (int64_t r = 0; r < rows; r++) panel[pair_index(kk, r, width)] = src[r];
        }
    } else {
        for (int64_t r = 0; r < rows; r++) {
            const uint16_t *src = element(x, row0 + r, k0);
            for (int64_t kk = 0; kk < k_valid; kk++) panel[pair_index(kk, r, width)] = src[kk];
        }
    }
}

/* A whole panel of kc values of k; zeroed first when it reaches past the matrix. */
static void pack_panel(ampc_gemm_packing packing, const ampc_convert_kernels *convert,
                       void *panel, const ampc_gemm_matrix *x, int64_t row0, int64_t rows,
                       int64_t k0, int64_t kc, int64_t k_total, int width)
{
    AMPC_ASSERT(kc % ampc_gemm_k_step(packing) == 0);
    int64_t k_valid = min64(kc, k_total - k0);
    if (rows < width || k_valid < kc)
        memset(panel, 0, (size_t)(width * kc) * ampc_gemm_packed_size(packing));
    if (packing == AMPC_GEMM_PACK_F32)
        pack_f32_panel(convert, panel, x, row0, rows, k0, k_valid, width);
    else
        pack_pairs_panel(panel, x, row0, rows, k0, k_valid, width);
}

/* ---- the entry points ---- */

void ampc_gemm_pack_a(ampc_gemm_packing packing, void *dst, const ampc_gemm_matrix *a,
                      int64_t row0, int64_t rows, int64_t k0, int64_t kc, int64_t k_total,
                      int mr)
{
    const ampc_convert_kernels *convert = ampc_convert_kernels_active();
    size_t panel_bytes = (size_t)(mr * kc) * ampc_gemm_packed_size(packing);
    for (int64_t start = 0; start < rows; start += mr)
        pack_panel(packing, convert, (char *)dst + (size_t)(start / mr) * panel_bytes, a,
                   row0 + start, min64(mr, rows - start), k0, kc, k_total, mr);
}

void ampc_gemm_pack_a_rows(float *dst, const ampc_gemm_matrix *a, int64_t row0, int64_t rows,
                           int64_t k0, int64_t kc, int64_t k_total, int mr, int64_t row_stride)
{
    const ampc_convert_kernels *convert = ampc_convert_kernels_active();
    AMPC_ASSERT(!a->transposed && kc <= row_stride);
    int64_t k_valid = min64(kc, k_total - k0);
    for (int64_t start = 0; start < rows; start += mr) {
        float *panel = dst + (start / mr) * mr * row_stride;
        int64_t panel_rows = min64(mr, rows - start);
        if (panel_rows < mr || k_valid < kc) /* padding is 0 * 0 */
            memset(panel, 0, (size_t)(mr * row_stride) * sizeof(float));
        const void *src = element(a, row0 + start, k0);
        if (ampc_gemm_path() >= AMPC_ISA_AVX512) {
            ampc_gemm_avx512_widen_runs(panel, row_stride, src, a->leading_dim, a->dtype,
                                        panel_rows, k_valid);
            continue;
        }
        size_t row_bytes = (size_t)a->leading_dim * ampc_dtype_size(a->dtype);
        for (int64_t r = 0; r < panel_rows; r++)
            widen(convert, panel + r * row_stride, (const char *)src + r * row_bytes, a->dtype,
                  k_valid);
    }
}

/* Columns of op(B) are rows of op(B)^T: the same data with the other transpose. */
void ampc_gemm_pack_b_block(ampc_gemm_packing packing, void *dst, const ampc_gemm_matrix *b,
                            int64_t col0, int64_t n, int64_t k0, int64_t kc, int64_t k_total,
                            int nr)
{
    ampc_gemm_matrix b_transposed = *b;
    b_transposed.transposed = !b->transposed;
    pack_panel(packing, ampc_convert_kernels_active(), dst, &b_transposed, col0,
               min64(nr, n - col0), k0, kc, k_total, nr);
}

/* Blocks of kc values of k (the last one shorter), each holding every panel: offset of panel
 * p in the block at k0 = everything in the full blocks before it + p whole panels of it. */
size_t ampc_gemm_packed_b_offset(const ampc_gemm_kernel *kernel, int64_t k, int64_t n,
                                 int64_t k0, int64_t panel)
{
    int64_t padded_k = ampc_gemm_padded_k(kernel->packing, k);
    int64_t panels = (n + kernel->nr - 1) / kernel->nr;
    int64_t block_k = min64(kernel->kc, padded_k - k0);
    int64_t elements = k0 * panels * kernel->nr + panel * block_k * kernel->nr;
    return (size_t)elements * ampc_gemm_packed_size(kernel->packing);
}

size_t ampc_gemm_packed_b_bytes(const ampc_gemm_kernel *kernel, int64_t k, int64_t n)
{
    return ampc_gemm_packed_b_offset(kernel, k, n, ampc_gemm_padded_k(kernel->packing, k), 0);
}

bool ampc_gemm_same_b_layout(const ampc_gemm_kernel *x, const ampc_gemm_kernel *y)
{
    return x->packing == y->packing && x->nr == y->nr && x->kc == y->kc;
}
