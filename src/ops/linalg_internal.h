/* What the linear algebra ops (linalg.c, linalg_linear.c, attention.c) share: the dtype a GEMM
 * result can be written in, and tensors made ready to be GEMM operands. */
#ifndef AMPC_OPS_LINALG_INTERNAL_H
#define AMPC_OPS_LINALG_INTERNAL_H

#include <ampc/gemm.h>
#include <ampc/tensor.h>

/* The dtype to write a product of `operands` matrices in when `wanted` is the goal: wanted
 * itself where ampc_gemm can write it (F32, F16, BF16 from F32/F16/BF16 operands; F64 from
 * F64), else the operands' dtype (F64 operands for a narrower gradient, converted after). */
static inline ampc_dtype linalg_gemm_c_dtype(ampc_dtype operands, ampc_dtype wanted)
{
    return (operands == AMPC_F64) == (wanted == AMPC_F64) ? wanted : operands;
}

/* A new tensor of `shape` and `dtype` holding desc's product. desc's c is set here: contiguous
 * m x n matrices, as many as desc->batch says (as in ampc_gemm, 0 and 1 mean one; a caller
 * with an empty batch has an empty shape, and then nothing runs). The GEMM writes in
 * linalg_gemm_c_dtype(a's dtype, dtype), converted to dtype when that differs. */
ampc_tensor *linalg_gemm_new(const char *function, const ampc_gemm_desc *desc, ampc_dtype dtype,
                             int ndim, const int64_t *shape);

/* Column sums of a contiguous (rows, cols) matrix of the compute dtype (F32 or F64) into a new
 * (cols) tensor of that dtype: each column one serial sum over the rows in order. */
ampc_tensor *linalg_column_sums(const char *function, const ampc_tensor *matrix, int64_t rows,
                                int64_t cols);

#endif
