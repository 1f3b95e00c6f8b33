/* Matrix multiply: the one GEMM every layer of ampc goes through.
 *
 *     C = activation(alpha * op(A) * op(B) + beta * C + bias)
 *
 * for a strided batch of row-major matrices. op(A) is m x k, op(B) is k x n, C is m x n; op
 * is the matrix itself or its transpose. A and B share one dtype:
 *
 *   inputs      accumulation   C may be          path
 *   F64         f64            F64               OpenBLAS dgemm
 *   F32         f32            F32, F16, BF16    OpenBLAS sgemm; ampc kernels (AVX-512, AVX2)
 *                                                 where OpenBLAS runs a generic core
 *   F16         f32            F32, F16, BF16    ampc kernels (AVX-512, AVX2, scalar)
 *   BF16        f32            F32, F16, BF16    ampc kernels (AVX-512, AVX2, scalar)
 *
 * The F16/BF16 kernels widen the inputs to fp32 (exactly) and multiply-add in fp32 FMA; the
 * products of two F16 or two BF16 values are exact in fp32, so each step of the k sum rounds
 * once, as on a Tensor Core. Every element is one fp32 sum over k in increasing order, on
 * every ISA level: the results are the same bits on every CPU (docs/gemm.md).
 *
 * Accumulation is never narrower than fp32, as on Tensor Cores. With beta = 0, C is only
 * written: whatever it held (NaN included) does not leak into the result. With beta = 1 and an
 * F32 C, the product accumulates into an existing fp32 buffer, which is how backward adds dA
 * and dB into gradients. bias (n entries, F32, or F64 for F64 inputs; NULL for none) is added
 * to every row, then the activation is applied, then C is rounded to its dtype once.
 *
 * Results are bit-identical for any thread count: threads split C into tiles and never split
 * the k reduction, and the tiles' sums do not depend on the tiling. OpenBLAS's own threads
 * would break that (its threaded and serial drivers split k differently), so OpenBLAS runs
 * serial and ampc's ampc_num_threads() OpenMP threads each call it on tiles of C cut by the
 * shape alone. alpha and beta are rounded to the accumulation type (fp32 except for F64). */
#ifndef AMPC_GEMM_H
#define AMPC_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/dtype.h>
#include <ampc/error.h>
#include <ampc/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only. */
typedef enum ampc_gemm_transpose {
    AMPC_TRANSPOSE_NONE, /* op(X) = X */
    AMPC_TRANSPOSE,      /* op(X) = X^T */
    AMPC_TRANSPOSE_COUNT
} ampc_gemm_transpose;

/* Append-only. */
typedef enum ampc_activation {
    AMPC_ACTIVATION_NONE,
    AMPC_ACTIVATION_RELU,
    AMPC_ACTIVATION_GELU_TANH, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    AMPC_ACTIVATION_GELU_ERF,  /* 0.5 x (1 + erf(x / sqrt(2))) */
    AMPC_ACTIVATION_COUNT
} ampc_activation;

/* One operand: a batch of row-major matrices. Row r of matrix b starts at element
 * b * batch_stride + r * leading_dim. */
typedef struct ampc_gemm_operand {
    ampc_dtype dtype;
    const void *data;
    int64_t leading_dim;  /* elements between rows; >= the stored matrix's column count */
    int64_t batch_stride; /* elements between matrices; ignored when batch <= 1 */
} ampc_gemm_operand;

typedef struct ampc_gemm_output {
    ampc_dtype dtype;
    void *data;
    int64_t leading_dim;
    int64_t batch_stride;
} ampc_gemm_output;

/* B packed once for reuse across calls while the weights it was packed from are unchanged
 * (a layer's weight between optimizer steps). Repack after the weights change. */
typedef struct ampc_gemm_packed ampc_gemm_packed;

typedef struct ampc_gemm_desc {
    ampc_gemm_transpose transpose_a;
    ampc_gemm_transpose transpose_b;
    int64_t m, n, k;
    int64_t batch; /* 0 or 1: a single product */
    double alpha;
    double beta;
    ampc_gemm_operand a;
    /* b and transpose_b are ignored when packed_b is given: the packing fixed op(B), and that
     * one B serves every matrix of the batch. */
    ampc_gemm_operand b;
    const ampc_gemm_packed *packed_b; /* optional: from ampc_gemm_pack_b, same dtype, k, n */
    ampc_gemm_output c;
    const void *bias;                /* NULL, or n values of bias_dtype */
    ampc_dtype bias_dtype;           /* F32 (F64 for F64 inputs) */
    ampc_activation activation;
} ampc_gemm_desc;

/* Validates everything (dtypes, sizes >= 0, leading dims, batch strides, NULL data with
 * nonzero sizes, enum values) and fails with a message naming the field, what was given and
 * what was expected. m or n = 0 is a no-op (then the pointers may be NULL); k = 0, or alpha
 * = 0, gives activation(beta * C + bias) without reading A or B, as in BLAS. */
AMPC_API ampc_status ampc_gemm(const ampc_gemm_desc *desc);

/* Packs op(B) (k x n of dtype, one matrix; b is stored k x n, or n x k when transposed, rows
 * leading_dim apart) into the layout the active kernel reads (F32/F64: a contiguous copy).
 * NULL with a message on a bad argument or when out of memory. */
AMPC_API ampc_gemm_packed *ampc_gemm_pack_b(ampc_dtype dtype, ampc_gemm_transpose transpose_b,
                                            int64_t k, int64_t n, const void *b,
                                            int64_t leading_dim);
AMPC_API void ampc_gemm_packed_free(ampc_gemm_packed *packed);

/* The OpenBLAS kernel set F32/F64 GEMM runs on ("SkylakeX", "Haswell", ...). OpenBLAS picks it
 * when it loads; a CPU it does not know gets a generic set ("Prescott") several times slower,
 * which OPENBLAS_CORETYPE=SkylakeX (set before the program starts) overrides. */
AMPC_API const char *ampc_gemm_blas_core(void);
/* Whether that is one of OpenBLAS's generic fallbacks for CPUs it does not identify. Then F32
 * GEMM runs on ampc's own fp32 kernel (AVX2 or AVX-512) instead, several times faster. */
AMPC_API bool ampc_gemm_blas_core_is_generic(void);

/* "none", "relu", "gelu_tanh", "gelu_erf"; "invalid" otherwise. */
AMPC_API const char *ampc_activation_name(ampc_activation activation);

#ifdef __cplusplus
}
#endif
#endif
