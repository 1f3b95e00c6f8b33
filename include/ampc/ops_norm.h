/* Normalisation, embedding and dropout ops, differentiable (see ampc/autograd.h).
 *
 * They follow PyTorch's torch.nn.functional: batch_norm, layer_norm, group_norm, embedding
 * and dropout. Each returns a new tensor (the caller frees it) or NULL with the error set
 * (ampc/error.h); NULL tensor arguments propagate. Float arguments may be F64, F32, F16 or
 * BF16, in any layout.
 *
 * The norms return their input's dtype, as PyTorch's mixed-type CPU norms do: weight, bias
 * and running statistics may have another float dtype (fp32 parameters with an F16 or BF16
 * input under AMP), and their gradients have their own dtype. They compute in F64 when any of
 * input, weight or bias is F64 and in F32 otherwise; each group's mean and biased variance
 * are two-pass sums accumulated in double, and the mean and 1 / sqrt(var + eps) kept for the
 * backward are in the compute dtype (fp32 for F16/BF16). Results do not depend on the thread
 * count. docs/ops/norm.md has the details. */
#ifndef AMPC_OPS_NORM_H
#define AMPC_OPS_NORM_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/export.h>
#include <ampc/random.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Batch normalisation over input (N, C, ...) (ndim >= 2), per channel c:
 *     out = (input - mean_c) / sqrt(var_c + eps) * weight[c] + bias[c].
 * weight and bias are (C) or NULL (1 and 0). running_mean and running_var are (C), any
 * float dtype, or NULL; they are never differentiated.
 * training: mean_c and var_c are the batch's (the biased variance over N and the spatial
 *   dims, which must hold more than one value per channel). Given running statistics (both
 *   or neither), they are updated in place:
 *       running = (1 - momentum) * running + momentum * batch statistic,
 *   with the UNBIASED batch variance for running_var, as PyTorch does.
 * eval: mean_c and var_c are running_mean and running_var (both required).
 * Gradients flow to input, weight and bias. eps finite and >= 0, momentum finite. */
AMPC_API ampc_tensor *ampc_batch_norm(const ampc_tensor *input, ampc_tensor *running_mean,
                                      ampc_tensor *running_var, const ampc_tensor *weight,
                                      const ampc_tensor *bias, bool training, double momentum,
                                      double eps);

/* Layer normalisation over the last num_normalized_dims dims of input (1 <= num_normalized_dims
 * <= ndim): each slice over those dims is normalised with its own mean and biased variance,
 * then multiplied by weight and shifted by bias, both of those dims' shape or NULL. */
AMPC_API ampc_tensor *ampc_layer_norm(const ampc_tensor *input, int num_normalized_dims,
                                      const ampc_tensor *weight, const ampc_tensor *bias,
                                      double eps);

/* Group normalisation of input (N, C, ...) (ndim >= 2): the C channels of each sample split
 * into num_groups groups of C / num_groups (num_groups must divide C), each normalised over
 * its channels and spatial dims; then per channel out * weight[c] + bias[c], weight and bias
 * (C) or NULL. */
AMPC_API ampc_tensor *ampc_group_norm(const ampc_tensor *input, int64_t num_groups,
                                      const ampc_tensor *weight, const ampc_tensor *bias,
                                      double eps);

/* Row lookup: out[i..., :] = weight[indices[i...], :], shape indices.shape + [D], weight's
 * dtype. indices: I64 or I32, any shape with at most AMPC_MAX_DIMS - 1 dims, every value in
 * [0, V) (an index out of range is an error naming it, its position and V). weight (V, D).
 * padding_idx: -1 for none, or a row in [0, V) whose gradient stays zero (its forward value
 * is still weight[padding_idx]). The gradient scatter-adds into weight's rows, accumulated
 * in fp32 for F16/BF16 weights (F64 for F64), in index order (repeated indices sum). */
AMPC_API ampc_tensor *ampc_embedding(const ampc_tensor *indices, const ampc_tensor *weight,
                                     int64_t padding_idx);

/* Inverted dropout: in training each element is zeroed with probability p and the others
 * are scaled by 1 / (1 - p); p = 1 gives zeros. With training false or p = 0 the result is
 * a copy of input (still recorded, as an identity). p must be in [0, 1].
 * The mask comes from generator (ampc/random.h; advanced by ceil(numel / 4) blocks): element
 * i is kept when uniform value i of the generator's stream is >= p, so a seed reproduces it
 * for any thread count. generator may be NULL only when no mask is drawn (training false,
 * or p of 0 or 1). The backward multiplies by the same mask and scale. */
AMPC_API ampc_tensor *ampc_dropout(const ampc_tensor *input, double p, bool training,
                                   ampc_generator *generator);

#ifdef __cplusplus
}
#endif
#endif
