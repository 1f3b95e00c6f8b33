/* The softmax kernels of scaled dot-product attention (src/ops/attention.c), on rows of
 * scores in the compute dtype: float for F32, F16 and BF16 inputs, double for F64.
 *
 * A batch of (L, S) score matrices is seen as rows = batch * L rows of S keys; row r is query
 * i = r % L, which sees keys j < visible(i) = causal ? min(i + 1, S) : S (top-left aligned
 * causal mask, as PyTorch). Every row is one serial chain in key order, so results do not
 * depend on the thread count; rows are spread over threads when there are enough of them. */
#ifndef AMPC_KERNELS_ATTENTION_KERNELS_H
#define AMPC_KERNELS_ATTENTION_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

/* scores (rows, keys) holds scaled logits and becomes the probabilities (0 where masked);
 * lse[r] = max + log(sum exp(logit - max)) over the visible keys (-inf for a row with none). */
void ampc_attention_softmax_float(float *scores, float *lse, int64_t rows, int64_t queries,
                                  int64_t keys, bool causal);
void ampc_attention_softmax_double(double *scores, double *lse, int64_t rows, int64_t queries,
                                   int64_t keys, bool causal);

/* The same probabilities again from the logits and the saved lse: exp(logit - lse[r]). */
void ampc_attention_probabilities_float(float *scores, const float *lse, int64_t rows,
                                        int64_t queries, int64_t keys, bool causal);
void ampc_attention_probabilities_double(double *scores, const double *lse, int64_t rows,
                                         int64_t queries, int64_t keys, bool causal);

/* The softmax's backward times the logit scale: dscores (rows, keys) holds dL/dP and becomes
 * scale * P * (dP - sum_j P_j dP_j), the gradient of the unscaled q k^T. */
void ampc_attention_softmax_backward_float(float *dscores, const float *probabilities,
                                           int64_t rows, int64_t keys, double scale);
void ampc_attention_softmax_backward_double(double *dscores, const double *probabilities,
                                            int64_t rows, int64_t keys, double scale);

#endif
