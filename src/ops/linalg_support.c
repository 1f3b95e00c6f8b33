/* Helpers the linear algebra ops share (declared in linalg_internal.h): a GEMM into a new
 * tensor, and the fp32 column sums of a bias gradient. */
#include <ampc/cpu.h>
#include <ampc/gemm.h>

#include "core/error.h"
#include "ops/linalg_internal.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

/* Below this many elements the column sums are not worth waking threads for; each thread
 * takes whole blocks of columns. */
enum { COLUMN_BLOCK = 64, PARALLEL_MIN_ELEMENTS = 1 << 15 };

ampc_tensor *linalg_gemm_new(const char *function, const ampc_gemm_desc *desc, ampc_dtype dtype,
                             int ndim, const int64_t *shape)
{
    ampc_tensor *c =
        ampc_tensor_new(function, linalg_gemm_c_dtype(desc->a.dtype, dtype), ndim, shape);
    if (!c) return NULL;
    ampc_gemm_desc run = *desc;
    run.c = (ampc_gemm_output){c->dtype, ampc_tensor_data(c), desc->n > 0 ? desc->n : 1,
                               desc->m * desc->n};
    /* An empty result needs no product (and its batch may be 0, which reads as one). */
    if (ampc_tensor_numel(c) > 0 && ampc_gemm(&run) != AMPC_OK) {
        ampc_tensor_free(c);
        return NULL;
    }
    return ampc_from_compute(function, c, dtype);
}

/* sums[j] = sum over rows r, in order, of matrix[r][j]; matrix is (rows, cols). */
#define DEFINE_COLUMN_SUMS(real)                                                              \
    static void column_sums_##real(real *sums, const real *matrix, int64_t rows, int64_t cols) \
    {                                                                                         \
        int64_t blocks = (cols + COLUMN_BLOCK - 1) / COLUMN_BLOCK;                            \
        int threads = ampc_num_threads();                                                     \
        _Pragma("omp parallel for num_threads(threads) if (rows * cols >= PARALLEL_MIN_ELEMENTS)") \
        for (int64_t block = 0; block < blocks; block++) {                                    \
            int64_t first = block * COLUMN_BLOCK;                                             \
            int64_t last = first + COLUMN_BLOCK < cols ? first + COLUMN_BLOCK : cols;         \
            for (int64_t j = first; j < last; j++) sums[j] = 0;                               \
            for (int64_t r = 0; r < rows; r++)                                                \
                for (int64_t j = first; j < last; j++) sums[j] += matrix[r * cols + j];       \
        }                                                                                     \
    }
DEFINE_COLUMN_SUMS(float)
DEFINE_COLUMN_SUMS(double)

ampc_tensor *linalg_column_sums(const char *function, const ampc_tensor *matrix, int64_t rows,
                                int64_t cols)
{
    ampc_dtype dtype = ampc_tensor_dtype(matrix);
    AMPC_ASSERT(dtype == AMPC_F32 || dtype == AMPC_F64);
    ampc_tensor *sums = ampc_tensor_new(function, dtype, 1, (int64_t[]){cols});
    if (!sums) return NULL;
    if (dtype == AMPC_F64)
        column_sums_double(ampc_tensor_data(sums), ampc_tensor_data(matrix), rows, cols);
    else
        column_sums_float(ampc_tensor_data(sums), ampc_tensor_data(matrix), rows, cols);
    return sums;
}
