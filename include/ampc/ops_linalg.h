/* Linear algebra ops: matmul, bmm, linear and scaled dot-product attention, differentiable.
 *
 * Every product goes through ampc_gemm (ampc/gemm.h), so it accumulates in fp32 (fp64 for
 * F64) whatever the storage dtype, and gives the same bits for any thread count. Inputs of
 * F64, F32, F16 or BF16 are multiplied in their own dtype (F16 and BF16 operands go to the
 * GEMM as they are, exact products and fp32 sums) and the result is rounded once to that
 * dtype. Mixed float dtypes promote first (ampc_promote_float). Gradients follow the same
 * rules: dA = dC B^T and dB = A^T dC through the GEMM's transpose flags, with sums over
 * broadcast batch dims and bias gradients accumulated in fp32 (fp64 for F64).
 *
 * Every function returns a new tensor the caller frees with ampc_tensor_free, or NULL with
 * the error set naming the argument and both shapes when they do not fit. */
#ifndef AMPC_OPS_LINALG_H
#define AMPC_OPS_LINALG_H

#include <stdbool.h>

#include <ampc/export.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* torch.matmul:
 *   a (k)            b (k)            -> ()            dot product
 *   a (m, k)         b (k, n)         -> (m, n)
 *   a (k)            b (k, n)         -> (n)           a as a (1, k) row, then squeezed
 *   a (m, k)         b (k)            -> (m)           b as a (k, 1) column, then squeezed
 *   a (..., m, k)    b (..., k, n)    -> (..., m, n)   batch dims broadcast (NumPy rules);
 *                                                      a 1-d operand is promoted as above
 * Neither may be 0-d. */
AMPC_API ampc_tensor *ampc_matmul(const ampc_tensor *a, const ampc_tensor *b);
/* torch.bmm: a (B, M, K) and b (B, K, N), same B, give (B, M, N). No broadcasting. */
AMPC_API ampc_tensor *ampc_bmm(const ampc_tensor *a, const ampc_tensor *b);
/* torch.nn.functional.linear: x (..., in) (1-d or more), weight (out, in), bias (out) or
 * NULL; gives x weight^T + bias, shape (..., out). One GEMM over all rows of x with the bias
 * added in its fp32 epilogue. */
AMPC_API ampc_tensor *ampc_linear(const ampc_tensor *x, const ampc_tensor *weight,
                                  const ampc_tensor *bias);
/* torch.nn.functional.scaled_dot_product_attention without dropout or an explicit mask:
 *     softmax(q k^T * scale + mask) v
 * q (..., L, E), k (..., S, E), v (..., S, Ev), with the same leading (batch) dims; gives
 * (..., L, Ev). scale 0 means 1/sqrt(E). is_causal masks position j from query i when j > i
 * (top-left aligned, as PyTorch, also when L != S). The softmax runs in fp32 (fp64 for F64),
 * max-subtracted; its log-sum-exp is kept for the backward, which recomputes the
 * probabilities instead of storing the (L, S) matrix. */
AMPC_API ampc_tensor *ampc_scaled_dot_product_attention(const ampc_tensor *q,
                                                        const ampc_tensor *k,
                                                        const ampc_tensor *v, bool is_causal,
                                                        double scale);

#ifdef __cplusplus
}
#endif
#endif
