/* The F16/BF16 GEMM driver (GotoBLAS/BLIS style): pack op(B) into panels once, then split C
 * into tiles and give each tile, whole, to one thread.
 *
 *   all of B       packed up front, in parallel, into ceil(n / NR) panels per matrix of the
 *                  batch (one set when B is shared: packed_b, or batch_stride 0)
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

#include "core/error.h"
#include "core/fpenv.h"
#include "core/memory.h"
#include "kernels/gemm_kernels.h"

/* Below this many multiply-adds, one thread finishes before the others would wake. */
#define PARALLEL_MIN_MACS ((int64_t)1 << 18)

static int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static size_t round_up_cache_line(size_t bytes) { return (bytes + 63) / 64 * 64; }

/* Everything the threads share, read-only once set up. */
typedef struct gemm_run {
    const ampc_gemm_desc *desc;
    const ampc_gemm_kernel *kernel;
    ampc_gemm_epilogue_f32 epilogue;
    int64_t batch;              /* >= 1 */
    int64_t mc, nc;             /* the tile */
    int64_t m_tiles, n_tiles;
    int64_t padded_k;
    int64_t acc_stride;         /* floats between rows of a tile's accumulator */
    size_t packed_size;         /* bytes per packed element */
    const char *packed_b;
    size_t packed_b_batch_bytes; /* between matrices of the batch; 0 when B is shared */
    size_t a_block_bytes, acc_bytes; /* per-thread workspace */
} gemm_run;

static int64_t batch_offset(const gemm_run *run, int64_t stride, int64_t index)
{
    return run->batch > 1 ? index * stride : 0;
}

static ampc_gemm_matrix a_matrix(const gemm_run *run, int64_t index)
{
    const ampc_gemm_desc *desc = run->desc;
    int64_t offset = batch_offset(run, desc->a.batch_stride, index);
    return (ampc_gemm_matrix){desc->a.dtype, (const uint16_t *)desc->a.data + offset,
                              desc->a.leading_dim, desc->transpose_a == AMPC_TRANSPOSE};
}

static ampc_gemm_matrix b_matrix(const ampc_gemm_desc *desc, int64_t offset)
{
    return (ampc_gemm_matrix){desc->b.dtype, (const uint16_t *)desc->b.data + offset,
                              desc->b.leading_dim, desc->transpose_b == AMPC_TRANSPOSE};
}

/* ---- one tile ---- */

/* The k blocks of one tile into acc, in order. For each block, each MR-row A panel (L1) meets
 * every NR-column B panel of the tile's block (L2). */
static void multiply_tile(const gemm_run *run, const ampc_gemm_matrix *a, const char *packed_b,
                          int64_t row0, int64_t rows, int64_t col0, int64_t cols,
                          char *a_block, float *acc)
{
    const ampc_gemm_kernel *kernel = run->kernel;
    const ampc_gemm_desc *desc = run->desc;
    int64_t mr = kernel->mr, nr = kernel->nr;
    for (int64_t k0 = 0; k0 < run->padded_k; k0 += kernel->kc) {
        int64_t kc = min64(kernel->kc, run->padded_k - k0);
        ampc_gemm_pack_a(kernel->packing, a_block, a, row0, rows, k0, kc, desc->k, kernel->mr);
        const char *b_block =
            packed_b + ampc_gemm_packed_b_offset(kernel, desc->k, desc->n, k0, col0 / nr);
        size_t a_panel_bytes = (size_t)(mr * kc) * run->packed_size;
        size_t b_panel_bytes = (size_t)(nr * kc) * run->packed_size;
        for (int64_t i = 0; i < rows; i += mr) {
            const char *a_panel = a_block + (size_t)(i / mr) * a_panel_bytes;
            for (int64_t j = 0; j < cols; j += nr)
                kernel->microkernel(acc + i * run->acc_stride + j, run->acc_stride, a_panel,
                                    b_block + (size_t)(j / nr) * b_panel_bytes, kc, k0 > 0);
        }
    }
}

static void compute_tile(const gemm_run *run, int64_t tile, char *workspace)
{
    const ampc_gemm_desc *desc = run->desc;
    int64_t per_matrix = run->m_tiles * run->n_tiles;
    int64_t index = tile / per_matrix, in_matrix = tile % per_matrix;
    int64_t row0 = in_matrix / run->n_tiles * run->mc, col0 = in_matrix % run->n_tiles * run->nc;
    int64_t rows = min64(run->mc, desc->m - row0), cols = min64(run->nc, desc->n - col0);

    ampc_gemm_matrix a = a_matrix(run, index);
    const char *packed_b = run->packed_b + (size_t)index * run->packed_b_batch_bytes;
    float *acc = (float *)(workspace + run->a_block_bytes);
    multiply_tile(run, &a, packed_b, row0, rows, col0, cols, workspace, acc);

    size_t c_size = ampc_dtype_size(desc->c.dtype);
    int64_t c_offset = batch_offset(run, desc->c.batch_stride, index) + col0;
    for (int64_t i = 0; i < rows; i++) {
        char *c = (char *)desc->c.data +
                  (size_t)(c_offset + (row0 + i) * desc->c.leading_dim) * c_size;
        ampc_gemm_epilogue_row_f32(&run->epilogue, c, acc + i * run->acc_stride, col0, cols);
    }
}

/* ---- packing B ---- */

/* Unit of work: one panel of one matrix, all its k blocks. */
void ampc_gemm_pack_b_batch(const ampc_gemm_kernel *kernel, void *dst,
                            const ampc_gemm_desc *desc, int64_t matrices, int threads)
{
    int64_t panels = ceil_div(desc->n, kernel->nr);
    int64_t padded_k = ampc_gemm_padded_k(kernel->packing, desc->k);
    size_t matrix_bytes = ampc_gemm_packed_b_bytes(kernel, desc->k, desc->n);
    int64_t units = matrices * panels;
    if ((size_t)matrices * matrix_bytes < ((size_t)1 << 16)) threads = 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        uint32_t caller_fpenv = ampc_fpenv_set_default(); /* the widening kernels want it */
#pragma omp for schedule(static)
        for (int64_t unit = 0; unit < units; unit++) {
            int64_t index = unit / panels, panel = unit % panels;
            ampc_gemm_matrix b = b_matrix(desc, matrices > 1 ? index * desc->b.batch_stride : 0);
            char *matrix = (char *)dst + (size_t)index * matrix_bytes;
            for (int64_t k0 = 0; k0 < padded_k; k0 += kernel->kc) {
                size_t offset = ampc_gemm_packed_b_offset(kernel, desc->k, desc->n, k0, panel);
                ampc_gemm_pack_b_block(kernel->packing, matrix + offset, &b, panel * kernel->nr,
                                       desc->n, k0, min64(kernel->kc, padded_k - k0), desc->k,
                                       kernel->nr);
            }
        }
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
    int64_t row_panels = ceil_div(desc->m, kernel->mr);
    int64_t column_panels = ceil_div(desc->n, kernel->nr);
    int64_t m_tiles = ceil_div(desc->m, kernel->mc), n_tiles = ceil_div(desc->n, kernel->nc);
    if (run->batch * n_tiles < 2 * (int64_t)threads)
        m_tiles = min64(row_panels, round_up(m_tiles, threads));
    if (run->batch * m_tiles * n_tiles < threads)
        n_tiles = min64(column_panels, ceil_div(threads, run->batch * m_tiles));
    run->mc = ceil_div(row_panels, m_tiles) * kernel->mr;
    run->nc = ceil_div(column_panels, n_tiles) * kernel->nr;
    run->m_tiles = ceil_div(desc->m, run->mc);
    run->n_tiles = ceil_div(desc->n, run->nc);
    /* One cache line more than a row: rows a power of two apart would share cache sets. */
    run->acc_stride = run->nc + 64 / (int64_t)sizeof(float);
    run->a_block_bytes = round_up_cache_line((size_t)(run->mc * kernel->kc) * run->packed_size);
    run->acc_bytes = round_up_cache_line((size_t)(run->mc * run->acc_stride) * sizeof(float));
}

static gemm_run plan_run(const ampc_gemm_desc *desc, const ampc_gemm_kernel *kernel,
                         int threads)
{
    gemm_run run = {.desc = desc, .kernel = kernel};
    run.epilogue = ampc_gemm_epilogue_f32_of(desc);
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

static void run_tiles(const gemm_run *run, char *workspaces, int threads)
{
    int64_t tiles = run->batch * run->m_tiles * run->n_tiles;
    size_t workspace_bytes = run->a_block_bytes + run->acc_bytes;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        /* The chains must not depend on the caller's FTZ/DAZ or rounding mode. */
        uint32_t caller_fpenv = ampc_fpenv_set_default();
        char *workspace = workspaces + (size_t)omp_get_thread_num() * workspace_bytes;
#pragma omp for schedule(dynamic, 1)
        for (int64_t tile = 0; tile < tiles; tile++) compute_tile(run, tile, workspace);
        ampc_fpenv_restore(caller_fpenv);
    }
}

static int threads_for(const ampc_gemm_desc *desc, int threads)
{
    double macs = (double)desc->m * (double)desc->n * (double)desc->k *
                  (double)(desc->batch > 1 ? desc->batch : 1);
    return macs < (double)PARALLEL_MIN_MACS ? 1 : threads;
}

static ampc_status multiply(const ampc_gemm_desc *desc, const ampc_gemm_kernel *kernel,
                            int threads)
{
    threads = threads_for(desc, threads);
    gemm_run run = plan_run(desc, kernel, threads);
    int64_t tiles = run.batch * run.m_tiles * run.n_tiles;
    if (tiles < threads) threads = (int)tiles;

    size_t workspace_bytes = (size_t)threads * (run.a_block_bytes + run.acc_bytes);
    size_t packed_bytes = 0;
    if (!desc->packed_b) {
        size_t matrix_bytes = ampc_gemm_packed_b_bytes(kernel, desc->k, desc->n);
        packed_bytes = (size_t)b_matrices(desc) * matrix_bytes;
        if (b_matrices(desc) > 1) run.packed_b_batch_bytes = matrix_bytes;
    }
    char *scratch = ampc_aligned_alloc(workspace_bytes + packed_bytes);
    if (!scratch) return ampc_fail_oom("ampc_gemm", workspace_bytes + packed_bytes);
    if (desc->packed_b) {
        run.packed_b = desc->packed_b->data;
    } else {
        run.packed_b = scratch + workspace_bytes;
        ampc_gemm_pack_b_batch(kernel, scratch + workspace_bytes, desc, b_matrices(desc),
                               threads);
    }
    run_tiles(&run, scratch, threads);
    ampc_aligned_free(scratch);
    return AMPC_OK;
}

ampc_status ampc_gemm_kernel_run(const ampc_gemm_desc *desc, const ampc_gemm_kernel *kernel,
                                 int threads)
{
    AMPC_ASSERT(kernel->packing == AMPC_GEMM_PACK_F32 || desc->a.dtype == AMPC_BF16);
    if (ampc_gemm_has_product(desc)) return multiply(desc, kernel, threads);
    ampc_gemm_rows rows = ampc_gemm_rows_of_c(desc);
    ampc_gemm_epilogue_f32 epilogue = ampc_gemm_epilogue_f32_of(desc);
    ampc_gemm_epilogue_rows(&rows, &epilogue, NULL, threads);
    return AMPC_OK;
}
