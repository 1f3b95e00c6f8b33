/* The GEMM driver for F16/BF16 inputs, and F32 ones where OpenBLAS is generic (GotoBLAS/BLIS
 * style): pack op(B) into panels once, then split C into tiles and give each tile, whole, to
 * one thread.
 *
 *   all of B       packed up front, in parallel, into ceil(n / NR) panels per matrix of the
 *                  batch (one set when B is shared: packed_b, or batch_stride 0); or, with
 *                  a single row tile, each B block by the one tile that reads it
 *   C tile         up to MC rows x NC columns of one matrix: the unit of work
 *     k block      KC values of k, in increasing order: the tile's rows of op(A) packed into
 *                  MR-row panels, then each A panel (it stays in L1) meets every NR-column B
 *                  panel of the tile's block (the block stays in L2) in the microkernel
 *   epilogue       once the tile's last k block is done: alpha, beta, bias, activation,
 *                  rounding, straight from the tile's fp32 accumulator into C
 *
 * A tile's fp32 chains live in a per-thread accumulator between k blocks, so every element of
 * C is one chain over k in order (see gemm_kernels.h): tile sizes and thread count change who
 * computes an element, never its bits. */
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "core/fpenv.h"
#include "core/memory.h"
#include "kernels/gemm_kernels.h"

/* Shorter k packs A through the transpose even where the kernel could read it by rows. */
#define A_ROWS_MIN_K 64

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static size_t round_up_cache_line(size_t bytes)
{
    return (size_t)ampc_gemm_round_up((int64_t)bytes, AMPC_STORAGE_ALIGNMENT);
}

/* Everything the threads share, read-only once set up. */
typedef struct gemm_run {
    const ampc_gemm_desc *desc;
    const ampc_gemm_kernel *kernel;
    ampc_gemm_epilogue_f32 epilogue;
    /* C = 1 * acc into an F32 C (beta 0, no bias or activation): whole MR x NR blocks are
     * computed in C itself and only the edges are copied from the accumulator, which saves
     * a pass over C and, for narrow C (n = 9), the general epilogue's per-row cost. */
    bool plain_copy;
    int64_t batch;              /* >= 1 */
    int64_t mc, nc;             /* the tile */
    int64_t m_tiles, n_tiles;
    int64_t padded_k;
    int64_t acc_stride;         /* floats between rows of a tile's accumulator */
    size_t packed_size;         /* bytes per packed element */
    const char *packed_b;
    size_t packed_b_batch_bytes; /* between matrices of the batch; 0 when B is shared */
    /* One tile per column range (a single row tile, batch 1): each B block is read by one
     * tile only, so the tile packs it into its workspace, where it stays in L2, instead of
     * all of B being packed up front and streamed back (9 x 32 x 100352: 13 MB each way). */
    bool b_in_tiles;
    size_t a_block_bytes, b_block_bytes, acc_bytes; /* per-thread workspace */
} gemm_run;

static int64_t batch_offset(const gemm_run *run, int64_t stride, int64_t index)
{
    return run->batch > 1 ? index * stride : 0;
}

static ampc_gemm_matrix a_matrix(const gemm_run *run, int64_t index)
{
    const ampc_gemm_desc *desc = run->desc;
    int64_t offset = batch_offset(run, desc->a.batch_stride, index);
    const char *data =
        (const char *)desc->a.data + (size_t)offset * ampc_dtype_size(desc->a.dtype);
    return (ampc_gemm_matrix){desc->a.dtype, data, desc->a.leading_dim,
                              desc->transpose_a == AMPC_TRANSPOSE};
}

static ampc_gemm_matrix b_matrix(const ampc_gemm_desc *desc, int64_t offset)
{
    const char *data =
        (const char *)desc->b.data + (size_t)offset * ampc_dtype_size(desc->b.dtype);
    return (ampc_gemm_matrix){desc->b.dtype, data, desc->b.leading_dim,
                              desc->transpose_b == AMPC_TRANSPOSE};
}

/* ---- one tile ---- */

/* Where a tile's fp32 chains live: the per-thread accumulator, except that with a plain
 * copy epilogue (plain_copy) the whole MR x NR blocks inside C run in C itself, which the
 * first k block writes without reading, so C is not written twice. */
typedef struct tile_target {
    float *acc;
    int64_t acc_stride;
    float *c; /* NULL: everything in acc */
    int64_t c_stride;
    int64_t direct_rows, direct_cols; /* the part of the tile computed in c */
} tile_target;

static float *block_of(const tile_target *t, int64_t i, int64_t j, int mr, int nr,
                       int64_t *stride)
{
    if (t->c && i + mr <= t->direct_rows && j + nr <= t->direct_cols) {
        *stride = t->c_stride;
        return t->c + i * t->c_stride + j;
    }
    *stride = t->acc_stride;
    return t->acc + i * t->acc_stride + j;
}

/* Whether A is packed by rows: op(A)'s rows run along k, the kernel can read that, and k is
 * long enough to fill them (k = 9 is faster through the transpose: 9 of the 272 floats of
 * each row would each cost a cache line). */
static bool a_by_rows(const gemm_run *run, const ampc_gemm_matrix *a)
{
    return run->kernel->a_rows_microkernel && !a->transposed && run->desc->k >= A_ROWS_MIN_K;
}

/* The k blocks of one tile, in order. For each block, each MR-row A panel (L1) meets every
 * NR-column B panel of the tile's block (L2). */
static void multiply_tile(const gemm_run *run, const ampc_gemm_matrix *a, const char *packed_b,
                          int64_t row0, int64_t rows, int64_t col0, int64_t cols,
                          char *a_block, char *b_workspace, const tile_target *target)
{
    const ampc_gemm_kernel *kernel = run->kernel;
    const ampc_gemm_desc *desc = run->desc;
    int64_t mr = kernel->mr, nr = kernel->nr;
    ampc_gemm_microkernel microkernel = a_by_rows(run, a) ? kernel->a_rows_microkernel
                                                          : kernel->microkernel;
    for (int64_t k0 = 0; k0 < run->padded_k; k0 += kernel->kc) {
        int64_t kc = min64(kernel->kc, run->padded_k - k0);
        size_t a_panel_bytes;
        if (a_by_rows(run, a)) {
            ampc_gemm_pack_a_rows((float *)a_block, a, row0, rows, k0, kc, desc->k, kernel->mr,
                                  kernel->a_row_stride);
            a_panel_bytes = (size_t)(mr * kernel->a_row_stride) * sizeof(float);
        } else {
            ampc_gemm_pack_a(kernel->packing, a_block, a, row0, rows, k0, kc, desc->k, kernel->mr);
            a_panel_bytes = (size_t)(mr * kc) * run->packed_size;
        }
        size_t b_panel_bytes = (size_t)(nr * kc) * run->packed_size;
        const char *b_block = b_workspace;
        if (run->b_in_tiles) {
            ampc_gemm_matrix b = b_matrix(desc, 0);
            for (int64_t j = 0; j < cols; j += nr)
                ampc_gemm_pack_b_block(kernel->packing,
                                       b_workspace + (size_t)(j / nr) * b_panel_bytes, &b,
                                       col0 + j, desc->n, k0, kc, desc->k, kernel->nr);
        } else {
            b_block = packed_b +
                      ampc_gemm_packed_b_offset(kernel, desc->k, desc->n, k0, col0 / nr);
        }
        for (int64_t i = 0; i < rows; i += mr) {
            const char *a_panel = a_block + (size_t)(i / mr) * a_panel_bytes;
            for (int64_t j = 0; j < cols; j += nr) {
                int64_t stride;
                float *block = block_of(target, i, j, kernel->mr, kernel->nr, &stride);
                microkernel(block, stride, a_panel,
                                    b_block + (size_t)(j / nr) * b_panel_bytes, kc, k0 > 0);
            }
        }
    }
}

/* A loop for the short rows of narrow C (n = 9: a memcpy call per row cost more than the
 * product), memcpy for long ones. */
static void copy_floats(float *dst, const float *src, int64_t n)
{
    if (n >= 64) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
    for (int64_t j = 0; j < n; j++) dst[j] = src[j];
}

static void compute_tile(const gemm_run *run, int64_t tile, char *workspace)
{
    const ampc_gemm_desc *desc = run->desc;
    int64_t per_matrix = run->m_tiles * run->n_tiles;
    int64_t index = tile / per_matrix, in_matrix = tile % per_matrix;
    int64_t row0 = in_matrix / run->n_tiles * run->mc, col0 = in_matrix % run->n_tiles * run->nc;
    int64_t rows = min64(run->mc, desc->m - row0), cols = min64(run->nc, desc->n - col0);

    size_t c_size = ampc_dtype_size(desc->c.dtype);
    int64_t c_offset = batch_offset(run, desc->c.batch_stride, index) + col0;
    char *c_tile = (char *)desc->c.data + (size_t)(c_offset + row0 * desc->c.leading_dim) * c_size;
    tile_target target = {(float *)(workspace + run->a_block_bytes), run->acc_stride, NULL,
                          desc->c.leading_dim, 0, 0};
    if (run->plain_copy) {
        target.c = (float *)c_tile;
        target.direct_rows = rows / run->kernel->mr * run->kernel->mr;
        target.direct_cols = cols / run->kernel->nr * run->kernel->nr;
    }
    ampc_gemm_matrix a = a_matrix(run, index);
    const char *packed_b = run->packed_b + (size_t)index * run->packed_b_batch_bytes;
    multiply_tile(run, &a, packed_b, row0, rows, col0, cols, workspace,
                  workspace + run->a_block_bytes + run->acc_bytes, &target);

    /* With a plain copy, rows computed in C all through need nothing more (k = 9: a loop over
     * them cost a sixth of 100352 x 32 x 9). */
    int64_t first = run->plain_copy && target.direct_cols == cols ? target.direct_rows : 0;
    for (int64_t i = first; i < rows; i++) {
        char *c = c_tile + (size_t)(i * desc->c.leading_dim) * c_size;
        const float *acc = target.acc + i * target.acc_stride;
        if (!run->plain_copy) {
            ampc_gemm_epilogue_row_f32(&run->epilogue, c, acc, col0, cols);
        } else { /* only what was not computed in C */
            int64_t done = i < target.direct_rows ? target.direct_cols : 0;
            copy_floats((float *)c + done, acc + done, cols - done);
        }
    }
}

/* ---- packing B ---- */

/* Unit of work: one k block of one panel of one matrix (a narrow B, n = 10 and k = 1024, is
 * one panel, which left the other thread waiting). An orphaned omp for: it shares the units
 * among the threads of the enclosing parallel region (and ends with its barrier), or runs
 * them all when called outside one. */
static void pack_b_units(const ampc_gemm_kernel *kernel, void *dst, const ampc_gemm_desc *desc,
                         int64_t matrices)
{
    int64_t panels = ampc_gemm_ceil_div(desc->n, kernel->nr);
    int64_t padded_k = ampc_gemm_padded_k(kernel->packing, desc->k);
    int64_t k_blocks = ampc_gemm_ceil_div(padded_k, kernel->kc);
    size_t matrix_bytes = ampc_gemm_packed_b_bytes(kernel, desc->k, desc->n);
    int64_t units = matrices * panels * k_blocks;
#pragma omp for schedule(static)
    for (int64_t unit = 0; unit < units; unit++) {
        int64_t index = unit / (panels * k_blocks), in_matrix = unit % (panels * k_blocks);
        int64_t panel = in_matrix / k_blocks, k0 = in_matrix % k_blocks * kernel->kc;
        ampc_gemm_matrix b = b_matrix(desc, matrices > 1 ? index * desc->b.batch_stride : 0);
        char *matrix = (char *)dst + (size_t)index * matrix_bytes;
        size_t offset = ampc_gemm_packed_b_offset(kernel, desc->k, desc->n, k0, panel);
        ampc_gemm_pack_b_block(kernel->packing, matrix + offset, &b, panel * kernel->nr, desc->n,
                               k0, min64(kernel->kc, padded_k - k0), desc->k, kernel->nr);
    }
}

void ampc_gemm_pack_b_batch(const ampc_gemm_kernel *kernel, void *dst,
                            const ampc_gemm_desc *desc, int64_t matrices, int threads)
{
    size_t matrix_bytes = ampc_gemm_packed_b_bytes(kernel, desc->k, desc->n);
    if ((size_t)matrices * matrix_bytes < ((size_t)1 << 16)) threads = 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        uint32_t caller_fpenv = ampc_fpenv_set_default(); /* the widening kernels want it */
        pack_b_units(kernel, dst, desc, matrices);
        ampc_fpenv_restore(caller_fpenv);
    }
}

/* ---- planning ---- */

/* Tiles up to the kernel's mc x nc, evened out so that the last is not a sliver; with too few
 * of them to go round, more row tiles (a multiple of the thread count, so that each thread
 * gets the same share), then more column tiles. Tiling never changes the bits. */
static void plan_tiles(gemm_run *run, int threads)
{
    const ampc_gemm_kernel *kernel = run->kernel;
    const ampc_gemm_desc *desc = run->desc;
    int64_t row_panels = ampc_gemm_ceil_div(desc->m, kernel->mr);
    int64_t column_panels = ampc_gemm_ceil_div(desc->n, kernel->nr);
    int64_t m_tiles = ampc_gemm_ceil_div(desc->m, kernel->mc);
    int64_t n_tiles = ampc_gemm_ceil_div(desc->n, kernel->nc);
    if (run->batch * n_tiles < 2 * (int64_t)threads)
        m_tiles = min64(row_panels, ampc_gemm_round_up(m_tiles, threads));
    if (run->batch * m_tiles * n_tiles < threads)
        n_tiles = min64(column_panels, ampc_gemm_ceil_div(threads, run->batch * m_tiles));
    run->mc = ampc_gemm_ceil_div(row_panels, m_tiles) * kernel->mr;
    run->nc = ampc_gemm_ceil_div(column_panels, n_tiles) * kernel->nr;
    run->m_tiles = ampc_gemm_ceil_div(desc->m, run->mc);
    run->n_tiles = ampc_gemm_ceil_div(desc->n, run->nc);
    /* One cache line more than a row: rows a power of two apart would share cache sets. */
    run->acc_stride = run->nc + 64 / (int64_t)sizeof(float);
    int64_t a_row = kernel->a_rows_microkernel && kernel->a_row_stride > kernel->kc
                        ? kernel->a_row_stride : kernel->kc;
    run->a_block_bytes = round_up_cache_line((size_t)(run->mc * a_row) * run->packed_size);
    run->acc_bytes = round_up_cache_line((size_t)(run->mc * run->acc_stride) * sizeof(float));
    run->b_in_tiles = !desc->packed_b && run->batch == 1 && run->m_tiles == 1;
    run->b_block_bytes =
        run->b_in_tiles ? round_up_cache_line((size_t)(kernel->kc * run->nc) * run->packed_size)
                        : 0;
}

static bool is_plain_copy(const ampc_gemm_epilogue_f32 *e)
{
    return e->alpha == 1.0f && e->beta == 0.0f && !e->bias &&
           e->activation == AMPC_ACTIVATION_NONE && e->c_dtype == AMPC_F32;
}

static gemm_run plan_run(const ampc_gemm_desc *desc, const ampc_gemm_kernel *kernel,
                         int threads)
{
    gemm_run run = {.desc = desc, .kernel = kernel};
    run.epilogue = ampc_gemm_epilogue_f32_of(desc);
    run.plain_copy = is_plain_copy(&run.epilogue);
    run.batch = desc->batch > 1 ? desc->batch : 1;
    run.padded_k = ampc_gemm_padded_k(kernel->packing, desc->k);
    run.packed_size = ampc_gemm_packed_size(kernel->packing);
    plan_tiles(&run, threads);
    return run;
}

/* B matrices that must be packed: one when every matrix of the batch uses the same B. */
static int64_t b_matrices(const ampc_gemm_desc *desc)
{
    return desc->batch > 1 && desc->b.batch_stride != 0 ? desc->batch : 1;
}

/* ---- the whole product ---- */

/* B packing (unless prepacked) and then the tiles, in one parallel region: the packing's omp
 * for ends with a barrier, so every tile sees all of B, and the threads wake only once. */
static void run_tiles(const gemm_run *run, char *workspaces, char *b_to_pack, int threads)
{
    int64_t tiles = run->batch * run->m_tiles * run->n_tiles;
    size_t workspace_bytes = run->a_block_bytes + run->acc_bytes + run->b_block_bytes;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        /* The chains must not depend on the caller's FTZ/DAZ or rounding mode. */
        uint32_t caller_fpenv = ampc_fpenv_set_default();
        if (b_to_pack) pack_b_units(run->kernel, b_to_pack, run->desc, b_matrices(run->desc));
        char *workspace = workspaces + (size_t)omp_get_thread_num() * workspace_bytes;
#pragma omp for schedule(dynamic, 1)
        for (int64_t tile = 0; tile < tiles; tile++) compute_tile(run, tile, workspace);
        ampc_fpenv_restore(caller_fpenv);
    }
}

static ampc_status multiply(const ampc_gemm_desc *desc, const ampc_gemm_kernel *kernel,
                            int threads)
{
    threads = ampc_gemm_threads_for(desc, threads);
    gemm_run run = plan_run(desc, kernel, threads);
    int64_t tiles = run.batch * run.m_tiles * run.n_tiles;
    if (tiles < threads) threads = (int)tiles;

    size_t workspace_bytes =
        (size_t)threads * (run.a_block_bytes + run.acc_bytes + run.b_block_bytes);
    size_t packed_bytes = 0;
    if (!desc->packed_b && !run.b_in_tiles) {
        size_t matrix_bytes = ampc_gemm_packed_b_bytes(kernel, desc->k, desc->n);
        packed_bytes = (size_t)b_matrices(desc) * matrix_bytes;
        if (b_matrices(desc) > 1) run.packed_b_batch_bytes = matrix_bytes;
    }
    char *scratch = ampc_aligned_alloc(workspace_bytes + packed_bytes);
    if (!scratch) return ampc_fail_oom("ampc_gemm", workspace_bytes + packed_bytes);
    char *b_to_pack = desc->packed_b || run.b_in_tiles ? NULL : scratch + workspace_bytes;
    run.packed_b = desc->packed_b ? desc->packed_b->data : b_to_pack;
    run_tiles(&run, scratch, b_to_pack, threads);
    ampc_aligned_free(scratch);
    return AMPC_OK;
}

/* The kernel's narrow sibling (and B is not prepacked for the wide one) when n fits its
 * columns, or when the wide tiles would leave a thread idle and the narrow ones would not
 * (9 x 32 x 100352: one wide tile, since k is never split). The same chains, so the same
 * bits, with fewer FMAs spent on padding columns. Before that, its short-rows sibling when C
 * is computed in place with rows 4 KiB apart and k is short (see gemm_kernels.h). */
static const ampc_gemm_kernel *kernel_for_shape(const ampc_gemm_desc *desc,
                                                const ampc_gemm_kernel *kernel, int threads)
{
    const ampc_gemm_kernel *narrow = kernel->narrow, *short_rows = kernel->short_rows;
    ampc_gemm_epilogue_f32 epilogue = ampc_gemm_epilogue_f32_of(desc);
    if (short_rows && is_plain_copy(&epilogue) && desc->c.leading_dim % 1024 == 0 &&
        desc->n > (narrow ? narrow->nr : 0) && desc->k <= kernel->kc &&
        (!desc->packed_b || ampc_gemm_same_b_layout(kernel, short_rows)))
        return short_rows;
    if (!narrow || desc->packed_b) return kernel;
    if (desc->n <= narrow->nr) return narrow;
    threads = ampc_gemm_threads_for(desc, threads);
    gemm_run wide = plan_run(desc, kernel, threads), slim = plan_run(desc, narrow, threads);
    int64_t wide_tiles = wide.batch * wide.m_tiles * wide.n_tiles;
    int64_t slim_tiles = slim.batch * slim.m_tiles * slim.n_tiles;
    return wide_tiles < threads && slim_tiles > wide_tiles ? narrow : kernel;
}

/* The kernel's few-rows sibling when m fits it (same chains and B layout). */
static const ampc_gemm_kernel *kernel_for_rows(const ampc_gemm_desc *desc,
                                               const ampc_gemm_kernel *kernel)
{
    const ampc_gemm_kernel *few = kernel->few_rows;
    bool b_fits = !desc->packed_b || ampc_gemm_same_b_layout(kernel, few ? few : kernel);
    return few && desc->m <= few->mr && b_fits ? few : kernel;
}

ampc_status ampc_gemm_kernel_run(const ampc_gemm_desc *desc, const ampc_gemm_kernel *kernel,
                                 int threads)
{
    kernel = kernel_for_rows(desc, kernel_for_shape(desc, kernel, threads));
    AMPC_ASSERT(kernel->packing == AMPC_GEMM_PACK_F32 ? desc->a.dtype != AMPC_F64
                                                      : desc->a.dtype == AMPC_BF16);
    if (ampc_gemm_has_product(desc)) return multiply(desc, kernel, threads);
    ampc_gemm_rows rows = ampc_gemm_rows_of_c(desc);
    ampc_gemm_epilogue_f32 epilogue = ampc_gemm_epilogue_f32_of(desc);
    ampc_gemm_epilogue_rows(&rows, &epilogue, NULL, threads);
    return AMPC_OK;
}
