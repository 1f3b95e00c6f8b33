/* F64 inputs, and F32 inputs unless OpenBLAS runs a generic core (gemm.c): OpenBLAS sgemm /
 * dgemm on tiles of C, each followed by the epilogue for what BLAS does not do (bias,
 * activation, rounding to F16/BF16).
 *
 * Threads. OpenBLAS's own threading is not deterministic: its threaded driver splits k into
 * different blocks than its serial one, so 1 and 2 threads give different bits (measured with
 * 0.3.21 on most shapes, e.g. 300 x 257 x 300 and 100 x 100 x 1000; docs/gemm.md). So ampc
 * keeps OpenBLAS serial (openblas_set_num_threads(1)) and threads it itself: C is cut
 * into a grid of tiles that depends only on the shape, never on the thread count, and each
 * tile is one serial BLAS call made from one of ampc's OpenMP threads. The bits then depend
 * on the grid alone, and only one thread pool ever runs. OpenBLAS's pthread build allows
 * concurrent serial calls (its FAQ's advice for multithreaded applications).
 *
 * Where a tile's product goes:
 *   C F32 or F64           straight into C: BLAS applies alpha and beta (and with beta = 0
 *                          writes C without reading it); bias and activation follow in place
 *   C F16 or BF16 (F32 in) into a per-thread fp32 scratch tile with beta = 0; the epilogue
 *                          then adds beta * C (widened), bias, activation, and rounds once
 *   k = 0 or alpha = 0     no BLAS call at all: the epilogue computes activation(beta*C + bias) */
#include <cblas.h>
#include <omp.h>
#include <string.h>

#include "core/error.h"
#include "core/fpenv.h"
#include "core/memory.h"
#include "kernels/gemm_kernels.h"

/* The tile grid depends on the shape alone. Tiles start at up to 512 x 1024 and are halved
 * (the larger side first, staying a multiple of 64, at least 64) until there are MIN_TILES
 * of them, so that a product that fits one 512 x 1024 tile still keeps two or more threads
 * busy. OpenBLAS repacks B for every row tile and A for every column tile: at 512 x 1024
 * that costs ~3% at 1024^3 (1 thread: 147 against 150 GFLOP/s serial sgemm; 2 threads: 300
 * against 302 threaded sgemm) and ~9% at 2048^3 (282 against 304 on 2 threads). */
enum { TILE_ROWS = 512, TILE_COLUMNS = 1024, TILE_QUANTUM = 64, MIN_TILES = 8 };
/* Below this many multiply-adds the whole matrix is one tile. */
#define ONE_TILE_MACS ((double)(1 << 22))

/* OpenBLAS's thread count is one setting for the whole process: checked on every call, so
 * that a caller who raised it again does not make ampc's tiles run threaded. */
static void make_blas_serial(void)
{
    if (openblas_get_num_threads() != 1) openblas_set_num_threads(1);
}

const char *ampc_gemm_blas_core(void) { return openblas_get_corename(); }

bool ampc_gemm_blas_core_is_generic(void)
{
    static const char *const generic[] = {"Prescott", "Core2", "Nehalem", "Katmai", "Atom"};
    const char *core = openblas_get_corename();
    for (size_t i = 0; i < sizeof generic / sizeof generic[0]; i++)
        if (strcmp(core, generic[i]) == 0) return true;
    return false;
}

static enum CBLAS_TRANSPOSE cblas_transpose(ampc_gemm_transpose transpose)
{
    return transpose == AMPC_TRANSPOSE ? CblasTrans : CblasNoTrans;
}

typedef struct blas_run {
    const ampc_gemm_desc *desc;
    int64_t batch;
    int64_t tile_rows, tile_columns, m_tiles, n_tiles;
    bool through_scratch; /* F32 inputs with an F16/BF16 C */
    bool has_epilogue;    /* anything left after BLAS: bias, activation, narrowing */
} blas_run;

/* One tile of C as rows (of C itself, or of the scratch when through_scratch). */
typedef struct tile {
    int64_t index, row0, col0, rows, columns;
} tile;

static int64_t offset_of(const blas_run *run, int64_t stride, int64_t index)
{
    return run->batch > 1 ? index * stride : 0;
}

/* out (rows ldo apart) = alpha * op(A) op(B) + beta * out for one tile. Sizes were checked to
 * fit an int (gemm_validate.c). */
static void blas_product(const blas_run *run, const tile *t, void *out, int64_t ldo,
                         double beta)
{
    const ampc_gemm_desc *desc = run->desc;
    bool ta = desc->transpose_a == AMPC_TRANSPOSE, tb = desc->transpose_b == AMPC_TRANSPOSE;
    int64_t lda = desc->a.leading_dim, ldb = desc->b.leading_dim;
    int64_t a_offset =
        offset_of(run, desc->a.batch_stride, t->index) + (ta ? t->row0 : t->row0 * lda);
    int64_t b_offset =
        offset_of(run, desc->b.batch_stride, t->index) + (tb ? t->col0 * ldb : t->col0);
    int m = (int)t->rows, n = (int)t->columns, k = (int)desc->k;
    enum CBLAS_TRANSPOSE cta = cblas_transpose(desc->transpose_a);
    enum CBLAS_TRANSPOSE ctb = cblas_transpose(desc->transpose_b);
    if (desc->a.dtype == AMPC_F64)
        cblas_dgemm(CblasRowMajor, cta, ctb, m, n, k, desc->alpha,
                    (const double *)desc->a.data + a_offset, (int)lda,
                    (const double *)desc->b.data + b_offset, (int)ldb, beta, out, (int)ldo);
    else
        cblas_sgemm(CblasRowMajor, cta, ctb, m, n, k, (float)desc->alpha,
                    (const float *)desc->a.data + a_offset, (int)lda,
                    (const float *)desc->b.data + b_offset, (int)ldb, (float)beta, out,
                    (int)ldo);
}

static void finish_tile(const blas_run *run, const tile *t, char *c, const void *acc,
                        int64_t acc_leading_dim)
{
    const ampc_gemm_desc *desc = run->desc;
    size_t c_size = ampc_dtype_size(desc->c.dtype), acc_size = ampc_dtype_size(desc->a.dtype);
    /* What BLAS left: c = activation(1 * acc + beta' * c + bias), beta' = beta only when
     * BLAS did not apply it (scratch). */
    ampc_gemm_epilogue_f32 e32 = ampc_gemm_epilogue_f32_of(desc);
    ampc_gemm_epilogue_f64 e64 = ampc_gemm_epilogue_f64_of(desc);
    e32.alpha = 1, e64.alpha = 1;
    if (!run->through_scratch) e32.beta = 0, e64.beta = 0;
    for (int64_t i = 0; i < t->rows; i++) {
        char *c_row = c + (size_t)(i * desc->c.leading_dim) * c_size;
        const char *acc_row = (const char *)acc + (size_t)(i * acc_leading_dim) * acc_size;
        if (desc->a.dtype == AMPC_F64)
            ampc_gemm_epilogue_row_f64(&e64, (double *)c_row, (const double *)acc_row, t->col0,
                                       t->columns);
        else
            ampc_gemm_epilogue_row_f32(&e32, c_row, (const float *)acc_row, t->col0, t->columns);
    }
}

static void compute_tile(const blas_run *run, int64_t number, float *scratch)
{
    const ampc_gemm_desc *desc = run->desc;
    int64_t per_matrix = run->m_tiles * run->n_tiles, in_matrix = number % per_matrix;
    tile t = {number / per_matrix, in_matrix / run->n_tiles * run->tile_rows,
              in_matrix % run->n_tiles * run->tile_columns, 0, 0};
    t.rows = desc->m - t.row0 < run->tile_rows ? desc->m - t.row0 : run->tile_rows;
    t.columns = desc->n - t.col0 < run->tile_columns ? desc->n - t.col0 : run->tile_columns;
    int64_t c_offset = offset_of(run, desc->c.batch_stride, t.index) +
                       t.row0 * desc->c.leading_dim + t.col0;
    char *c = (char *)desc->c.data + (size_t)c_offset * ampc_dtype_size(desc->c.dtype);
    if (run->through_scratch) {
        blas_product(run, &t, scratch, t.columns, 0.0);
        finish_tile(run, &t, c, scratch, t.columns);
    } else {
        blas_product(run, &t, c, desc->c.leading_dim, desc->beta);
        if (run->has_epilogue) finish_tile(run, &t, c, c, desc->c.leading_dim);
    }
}


/* Half of a tile side, rounded up to the quantum. */
/* Tiles in the grid of rows x columns tiles over every matrix of the batch. */
static int64_t grid_tiles(int64_t batch, const ampc_gemm_desc *desc, int64_t rows,
                          int64_t columns)
{
    return batch * ampc_gemm_ceil_div(desc->m, rows) * ampc_gemm_ceil_div(desc->n, columns);
}

static int64_t halved(int64_t side)
{
    return ampc_gemm_round_up(ampc_gemm_ceil_div(side, 2), TILE_QUANTUM);
}

static void plan_grid(blas_run *run)
{
    const ampc_gemm_desc *desc = run->desc;
    bool one_tile = (double)desc->m * (double)desc->n * (double)desc->k < ONE_TILE_MACS;
    int64_t rows = one_tile || desc->m < TILE_ROWS ? desc->m : TILE_ROWS;
    int64_t columns = one_tile || desc->n < TILE_COLUMNS ? desc->n : TILE_COLUMNS;
    while (!one_tile && grid_tiles(run->batch, desc, rows, columns) < MIN_TILES) {
        bool split_rows = rows > TILE_QUANTUM, split_columns = columns > TILE_QUANTUM;
        if (split_columns && (columns >= rows || !split_rows)) columns = halved(columns);
        else if (split_rows) rows = halved(rows);
        else break;
    }
    run->tile_rows = rows, run->tile_columns = columns;
    run->m_tiles = ampc_gemm_ceil_div(desc->m, rows);
    run->n_tiles = ampc_gemm_ceil_div(desc->n, columns);
}

static blas_run plan_run(const ampc_gemm_desc *desc)
{
    blas_run run = {.desc = desc, .batch = desc->batch > 1 ? desc->batch : 1};
    run.through_scratch = desc->c.dtype != desc->a.dtype;
    run.has_epilogue =
        run.through_scratch || desc->bias || desc->activation != AMPC_ACTIVATION_NONE;
    plan_grid(&run);
    return run;
}

static ampc_status multiply(const ampc_gemm_desc *desc, int threads)
{
    make_blas_serial();
    blas_run run = plan_run(desc);
    int64_t tiles = run.batch * run.m_tiles * run.n_tiles;
    if (tiles < threads) threads = (int)tiles;
    size_t scratch_bytes = run.through_scratch
                               ? (size_t)(run.tile_rows * run.tile_columns) * sizeof(float) : 0;
    scratch_bytes = (size_t)ampc_gemm_round_up((int64_t)scratch_bytes, AMPC_STORAGE_ALIGNMENT);
    char *scratch = ampc_aligned_alloc((size_t)threads * scratch_bytes);
    if (!scratch) return ampc_fail_oom("ampc_gemm", (size_t)threads * scratch_bytes);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        uint32_t caller_fpenv = ampc_fpenv_set_default();
        float *own = (float *)(scratch + (size_t)omp_get_thread_num() * scratch_bytes);
#pragma omp for schedule(dynamic, 1)
        for (int64_t number = 0; number < tiles; number++) compute_tile(&run, number, own);
        ampc_fpenv_restore(caller_fpenv);
    }
    ampc_aligned_free(scratch);
    return AMPC_OK;
}

ampc_status ampc_gemm_blas(const ampc_gemm_desc *desc, int threads)
{
    if (ampc_gemm_has_product(desc)) return multiply(desc, threads);
    ampc_gemm_rows rows = ampc_gemm_rows_of_c(desc);
    if (desc->a.dtype == AMPC_F64) {
        ampc_gemm_epilogue_f64 epilogue = ampc_gemm_epilogue_f64_of(desc);
        ampc_gemm_epilogue_rows(&rows, NULL, &epilogue, threads);
    } else {
        ampc_gemm_epilogue_f32 epilogue = ampc_gemm_epilogue_f32_of(desc);
        ampc_gemm_epilogue_rows(&rows, &epilogue, NULL, threads);
    }
    return AMPC_OK;
}
