/* GEMM internals: the F16/BF16 kernels, how operands are packed for them, the epilogue, and
 * entry points that take an explicit thread count and kernel (for tests and benchmarks).
 *
 * How the pieces fit (docs/gemm.md has the full story):
 *   gemm.c           ampc_gemm and ampc_gemm_pack_b: validation, then one of two paths
 *   gemm_validate.c  every check of a descriptor, with the messages
 *   gemm_blas.c      F64 (and F32) inputs: serial OpenBLAS on tiles of C, then the epilogue
 *   gemm_driver.c    F16, BF16 (and F32 where OpenBLAS is generic) inputs: pack, block,
 *                    thread, run a microkernel, epilogue
 *   gemm_pack.c      op(A) and op(B) into the panels a microkernel reads
 *   gemm_epilogue.c  alpha, beta * C, bias, activation, rounding to C's dtype
 *   gemm_scalar.c    the scalar microkernels: the reference every SIMD kernel is tested against
 *   gemm_<isa>.c     the SIMD microkernels
 *
 * The kernel contract that makes results independent of blocking and threads: every element
 * of C is one fp32 chain over k in increasing order. A microkernel either starts a tile's
 * chain (accumulate = false: from +0) or continues it from the values in the tile, and the
 * driver runs the k blocks of a tile in order on one thread. So MC, NC, KC and the thread
 * count only decide who computes an element, never how. Kernels that compute a chain the same
 * way give the same bits: all the fp32-FMA kernels (scalar fmaf, AVX2, AVX-512) agree bit for
 * bit, and the VDPBF16PS kernel agrees with its scalar emulation. */
#ifndef AMPC_KERNELS_GEMM_KERNELS_H
#define AMPC_KERNELS_GEMM_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ampc/cpu.h>
#include <ampc/gemm.h>

/* Sizes shared by the GEMM files: ceil(a / b), and a rounded up to a multiple of b
 * (a >= 0, b > 0). */
static inline int64_t ampc_gemm_ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
static inline int64_t ampc_gemm_round_up(int64_t a, int64_t b)
{
    return ampc_gemm_ceil_div(a, b) * b;
}

/* How a kernel wants its operands laid out. Panels are zero-padded to whole MR rows, NR
 * columns and k steps, and padding never reaches C (its rows and columns are dropped, and
 * padded k contributes 0 * 0). */
typedef enum ampc_gemm_packing {
    /* Widened to fp32 (exact). A panel: [kc][MR]; B panel block: [kc][NR]. */
    AMPC_GEMM_PACK_F32,
    /* BF16 bits in k pairs, as VDPBF16PS and TDPBF16PS read them ("VNNI-2"): A panel:
     * [kc/2][MR][2], read as one 32-bit pair per row; B panel block: [kc/2][NR][2]. */
    AMPC_GEMM_PACK_BF16_PAIRS,
} ampc_gemm_packing;

/* Continues (accumulate) or starts the fp32 chains of an MR x NR tile of acc (rows
 * acc_stride floats apart) over the kc values of k in one packed A panel and one packed B
 * panel. kc is a positive multiple of the packing's k step. */
typedef void (*ampc_gemm_microkernel)(float *acc, int64_t acc_stride, const void *a_panel,
                                      const void *b_panel, int64_t kc, bool accumulate);

typedef struct ampc_gemm_kernel ampc_gemm_kernel;
struct ampc_gemm_kernel {
    const char *name; /* "avx512 fp32 fma 14x32", for tests and benchmarks */
    ampc_isa level;   /* the lowest level whose CPU features it needs */
    ampc_gemm_packing packing;
    int mr, nr;       /* the microkernel's tile */
    /* Cache blocking: kc values of k per packed block (a multiple of the k step), and at most
     * about mc rows (a multiple of mr) by nc columns (a multiple of nr) per C tile. */
    int kc, mc, nc;
    ampc_gemm_microkernel microkernel;
    /* NULL, or the same chains reading an fp32 A panel packed by rows, [mr][a_row_stride]
     * (a_row_stride >= kc), which the driver uses when op(A)'s rows are contiguous along k:
     * widening them needs no transpose (a third of the time of 128 x 10 x 1024 went there). */
    ampc_gemm_microkernel a_rows_microkernel;
    int a_row_stride;
    /* A scalar kernel that gives the same bits (itself, for a scalar kernel). */
    const ampc_gemm_kernel *reference;
    /* NULL, or a kernel with the same chains (so the same bits) on a narrower tile, which the
     * driver runs instead when n fits its nr (and B is not prepacked for this one). */
    const ampc_gemm_kernel *narrow;
    /* NULL, or a kernel with the same chains and B layout on fewer rows, which the driver
     * runs instead when the tile is computed in C itself, C's rows are a multiple of 4 KiB
     * apart, and k fits one block (so the stores of C dominate). */
    const ampc_gemm_kernel *short_rows;
    /* NULL, or a kernel with the same chains and B layout on fewer rows, which the driver
     * runs instead when m fits them. */
    const ampc_gemm_kernel *few_rows;
};

/* 1, or 2 for k pairs. */
int ampc_gemm_k_step(ampc_gemm_packing packing);
/* Bytes per packed element: 4 (fp32) or 2 (BF16). */
size_t ampc_gemm_packed_size(ampc_gemm_packing packing);

/* Every kernel, lowest level first (for tests and benchmarks; check ampc_cpu_supports before
 * running one). */
extern const ampc_gemm_kernel ampc_gemm_scalar_f32;
extern const ampc_gemm_kernel ampc_gemm_scalar_bf16_pairs;
extern const ampc_gemm_kernel ampc_gemm_avx2_f32;
extern const ampc_gemm_kernel ampc_gemm_avx512_f32;
extern const ampc_gemm_kernel ampc_gemm_avx512_f32_narrow;
extern const ampc_gemm_kernel ampc_gemm_avx512_f32_short;
extern const ampc_gemm_kernel ampc_gemm_avx512_f32_few_rows;
extern const ampc_gemm_kernel ampc_gemm_avx512_bf16_pairs;
const ampc_gemm_kernel *const *ampc_gemm_kernels_all(size_t *count);

/* The kernel the level runs for an F16 or BF16 input (the level's own, or the level below's
 * where it has none); NULL for other dtypes. ampc_gemm uses the active level's. */
const ampc_gemm_kernel *ampc_gemm_kernel_at(ampc_isa level, ampc_dtype dtype);
const ampc_gemm_kernel *ampc_gemm_kernel_active(ampc_dtype dtype);
/* The level's fp32-FMA kernel, which also takes F32 inputs (packing them is a copy). */
const ampc_gemm_kernel *ampc_gemm_f32_kernel_at(ampc_isa level);
/* What F32 inputs run on: the active level's fp32 kernel when OpenBLAS runs a generic core
 * and that level is AVX2 or above; NULL (OpenBLAS) otherwise. */
const ampc_gemm_kernel *ampc_gemm_f32_kernel_active(void);
/* The highest level whose own kernels run (what `ampc info` reports for the gemm family). */
ampc_isa ampc_gemm_path(void);

/* ---- packing (gemm_pack.c) ---- */

/* op(X) of one matrix: element (row, column) is at data + (transposed ? column * leading_dim
 * + row : row * leading_dim + column). */
typedef struct ampc_gemm_matrix {
    ampc_dtype dtype; /* F16 or BF16; F32 for the fp32 packing */
    const void *data;
    int64_t leading_dim;
    bool transposed;
} ampc_gemm_matrix;

/* Packs rows [row0, row0 + rows) of op(A), k values [k0, k0 + kc), into ceil(rows / mr)
 * panels of mr x kc, one after another. Values at k >= k_total are packed as zero. */
void ampc_gemm_pack_a(ampc_gemm_packing packing, void *dst, const ampc_gemm_matrix *a,
                      int64_t row0, int64_t rows, int64_t k0, int64_t kc, int64_t k_total,
                      int mr);
/* The same rows and k values as ampc_gemm_pack_a with the fp32 packing, but each panel by
 * rows: value (r, kk) of a panel at r * row_stride + kk, panels mr * row_stride apart. */
void ampc_gemm_pack_a_rows(float *dst, const ampc_gemm_matrix *a, int64_t row0, int64_t rows,
                           int64_t k0, int64_t kc, int64_t k_total, int mr, int64_t row_stride);
/* Packs columns [col0, col0 + nr) of op(B) (those < n; the rest zero), k values [k0, k0 + kc)
 * (those >= k_total zero), into one kc x nr block of a panel. */
void ampc_gemm_pack_b_block(ampc_gemm_packing packing, void *dst, const ampc_gemm_matrix *b,
                            int64_t col0, int64_t n, int64_t k0, int64_t kc, int64_t k_total,
                            int nr);
int64_t ampc_gemm_padded_k(ampc_gemm_packing packing, int64_t k);
/* dst[i * dst_stride + r] = src[r * src_stride + i] widened to fp32 (src of dtype F16, BF16
 * or F32, src_stride in elements), for r < rows, i < columns (both <= 16), in AVX-512
 * registers (gemm_avx512.c); the packers use it at the avx512 level and above. */
void ampc_gemm_avx512_widen_transposed(float *dst, int64_t dst_stride, const void *src,
                                       int64_t src_stride, ampc_dtype dtype, int rows,
                                       int columns);
/* dst[r * dst_stride + i] = src[r * src_stride + i] widened, for r < runs, i < count. */
void ampc_gemm_avx512_widen_runs(float *dst, int64_t dst_stride, const void *src,
                                 int64_t src_stride, ampc_dtype dtype, int64_t runs,
                                 int64_t count);

/* Packed op(B) of one k x n matrix for a kernel: for each block of kernel->kc values of k, the
 * ceil(n / nr) panels' parts of it, one after another, so that the block a tile streams
 * through is contiguous (3-8% faster at 2048^3 than whole panels one after another). The
 * byte offset of panel `panel`'s block starting at k0, the total size, and whether two
 * kernels read the same layout: */
size_t ampc_gemm_packed_b_offset(const ampc_gemm_kernel *kernel, int64_t k, int64_t n,
                                 int64_t k0, int64_t panel);
size_t ampc_gemm_packed_b_bytes(const ampc_gemm_kernel *kernel, int64_t k, int64_t n);
bool ampc_gemm_same_b_layout(const ampc_gemm_kernel *x, const ampc_gemm_kernel *y);
/* Packs `matrices` matrices of op(B) from desc's b, k, n (batch_stride apart in desc->b), one
 * after another, split over threads (gemm_driver.c). */
void ampc_gemm_pack_b_batch(const ampc_gemm_kernel *kernel, void *dst,
                            const ampc_gemm_desc *desc, int64_t matrices, int threads);

/* ---- the epilogue (gemm_epilogue.c) ---- */

/* c = activation(alpha * acc + beta * c + bias), rounded to c's dtype once. The fp32 form
 * serves F32, F16 and BF16 outputs; the fp64 form F64. */
typedef struct ampc_gemm_epilogue_f32 {
    float alpha;
    float beta;        /* 0: c is only written */
    const float *bias; /* NULL, or indexed by column */
    ampc_activation activation;
    ampc_dtype c_dtype; /* F32, F16 or BF16 */
} ampc_gemm_epilogue_f32;

typedef struct ampc_gemm_epilogue_f64 {
    double alpha;
    double beta;
    const double *bias;
    ampc_activation activation;
} ampc_gemm_epilogue_f64;

/* One row: columns [col0, col0 + n) of C, whose first element is at c. acc holds the n
 * products (NULL: there is none, as for k = 0); it may be c itself when C is F32 (or F64).
 * Runs in whatever MXCSR the thread has: callers set the default (core/fpenv.h). */
void ampc_gemm_epilogue_row_f32(const ampc_gemm_epilogue_f32 *epilogue, void *c,
                                const float *acc, int64_t col0, int64_t n);
void ampc_gemm_epilogue_row_f64(const ampc_gemm_epilogue_f64 *epilogue, double *c,
                                const double *acc, int64_t col0, int64_t n);

/* A batch of m x n matrices of C, and their products acc (NULL: none; else float for the fp32
 * epilogue, double for fp64, which may be C itself). */
typedef struct ampc_gemm_rows {
    void *c;
    int64_t c_leading_dim, c_batch_stride;
    const void *acc;
    int64_t acc_leading_dim, acc_batch_stride;
    int64_t batch, m, n;
} ampc_gemm_rows;

/* The epilogue a desc asks for, and its C as rows (without acc). */
ampc_gemm_epilogue_f32 ampc_gemm_epilogue_f32_of(const ampc_gemm_desc *desc);
ampc_gemm_epilogue_f64 ampc_gemm_epilogue_f64_of(const ampc_gemm_desc *desc);
ampc_gemm_rows ampc_gemm_rows_of_c(const ampc_gemm_desc *desc);

/* The epilogue on every row of the batch (exactly one of e32 and e64 non-NULL), rows split
 * over threads when there are enough, in the default MXCSR on each. */
void ampc_gemm_epilogue_rows(const ampc_gemm_rows *rows, const ampc_gemm_epilogue_f32 *e32,
                             const ampc_gemm_epilogue_f64 *e64, int threads);

/* ---- paths and entry points ---- */

/* What ampc_gemm_pack_b made. */
struct ampc_gemm_packed {
    ampc_dtype dtype;
    ampc_gemm_transpose transpose_b;
    int64_t k, n;
    /* F16/BF16: the kernel it was packed for (ampc_gemm_same_b_layout says who else can read
     * it); data as ampc_gemm_packed_b_offset says. F32/F64: NULL; data is a copy of B as
     * stored (k x n, or n x k when transposed), rows leading_dim apart. */
    const ampc_gemm_kernel *kernel;
    int64_t leading_dim;
    void *data;
};

typedef struct ampc_gemm_options {
    int threads;                    /* >= 1: ampc's OpenMP threads (OpenBLAS runs serial) */
    /* F16/BF16 inputs: NULL for the dispatched one. F32 inputs: an fp32-packing kernel to run
     * them on, or NULL for the dispatched path (ampc_gemm_f32_kernel_active, else OpenBLAS). */
    const ampc_gemm_kernel *kernel;
    bool f32_on_blas; /* F32 inputs on OpenBLAS whatever its core (tests of that path) */
} ampc_gemm_options;

/* ampc_gemm with these options: the public function is ampc_gemm_with(desc, {
 * ampc_num_threads(), NULL }). A kernel must suit the input dtype and the CPU. */
ampc_status ampc_gemm_with(const ampc_gemm_desc *desc, const ampc_gemm_options *options);
/* ampc_gemm_pack_b for a given kernel (NULL: the dispatched one). */
ampc_gemm_packed *ampc_gemm_pack_b_with(ampc_dtype dtype, ampc_gemm_transpose transpose_b,
                                        int64_t k, int64_t n, const void *b,
                                        int64_t leading_dim, const ampc_gemm_kernel *kernel);

/* Checks every field (gemm_validate.c). kernel: what will run for F16/BF16 inputs, for the
 * packed_b check. */
ampc_status ampc_gemm_validate(const char *function, const ampc_gemm_desc *desc,
                               const ampc_gemm_kernel *kernel);
ampc_status ampc_gemm_validate_pack_b(const char *function, ampc_dtype dtype,
                                      ampc_gemm_transpose transpose_b, int64_t k, int64_t n,
                                      const void *b, int64_t leading_dim);

/* The two paths, for a validated desc with m, n > 0. */
ampc_status ampc_gemm_blas(const ampc_gemm_desc *desc, int threads);
ampc_status ampc_gemm_kernel_run(const ampc_gemm_desc *desc, const ampc_gemm_kernel *kernel,
                                 int threads);

/* Whether there is a product to compute: k > 0 and alpha != 0 (alpha = 0 reads neither A
 * nor B, as in BLAS). */
bool ampc_gemm_has_product(const ampc_gemm_desc *desc);

#endif
