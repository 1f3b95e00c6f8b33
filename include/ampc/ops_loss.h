/* Losses, differentiable (see ampc/autograd.h), as torch.nn.functional defines them.
 *
 * Float inputs are F64, F32, F16 or BF16; the result has the input's dtype (for two float
 * inputs, the promoted one: ampc_promote_float). Everything is computed and accumulated in
 * fp32 for F32, F16 and BF16 and in fp64 for F64, so a loss on F16 logits is as accurate as
 * fp32 up to the final rounding. Per-element losses are summed over fixed chunks, so the
 * value does not depend on the thread count.
 *
 * Each function returns a new tensor, or NULL with the error set: a NULL or non-float input,
 * a target of the wrong dtype or shape, a class index out of range, a bad reduction. */
#ifndef AMPC_OPS_LOSS_H
#define AMPC_OPS_LOSS_H

#include <stdint.h>

#include <ampc/export.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What a loss does with its per-element values. Append-only. */
typedef enum ampc_reduction {
    AMPC_REDUCTION_MEAN, /* 0-d: the sum over the counted elements divided by their number */
    AMPC_REDUCTION_SUM,  /* 0-d: the sum */
    AMPC_REDUCTION_NONE, /* the per-element losses, in the target's shape */
    AMPC_REDUCTION_COUNT
} ampc_reduction;

typedef struct ampc_cross_entropy_options {
    ampc_reduction reduction; /* default AMPC_REDUCTION_MEAN */
    int64_t ignore_index;     /* targets equal to it add nothing and are not counted; -100 */
    double label_smoothing;   /* from 0 (default) to 1 */
} ampc_cross_entropy_options;

/* {AMPC_REDUCTION_MEAN, -100, 0.0}: start from these and change what differs (a zeroed
 * struct would ignore class 0). */
AMPC_API ampc_cross_entropy_options ampc_cross_entropy_default_options(void);

/* F.cross_entropy(logits, target) with class-index targets: log_softmax over the class dim
 * and the negative log likelihood of each target class, fused. Shapes: logits (N, C) with
 * target (N); logits (N, C, d1, ...) with target (N, d1, ...); or logits (C) with target ()
 * (a 0-d tensor). target is I64 or I32; each entry is a class from 0 to C - 1 or
 * ignore_index. With label smoothing s the loss of a sample is (1 - s) * nll + s / C *
 * sum_c -log_softmax_c. The mean divides by the number of targets that are not ignore_index
 * (NaN when all are), for both terms, as PyTorch does. options NULL means the defaults.
 * Gradients flow to logits. */
AMPC_API ampc_tensor *ampc_cross_entropy(const ampc_tensor *logits, const ampc_tensor *target,
                                         const ampc_cross_entropy_options *options);

/* F.nll_loss(log_probs, target, reduction=..., ignore_index=...): -log_probs[n, target[n]],
 * with the shapes and target rules of ampc_cross_entropy and the same mean. */
AMPC_API ampc_tensor *ampc_nll_loss(const ampc_tensor *log_probs, const ampc_tensor *target,
                                    ampc_reduction reduction, int64_t ignore_index);

/* F.mse_loss: (input - target)^2. The shapes must be equal (PyTorch broadcasts with a
 * warning; ampc refuses). Gradients flow to both. */
AMPC_API ampc_tensor *ampc_mse_loss(const ampc_tensor *input, const ampc_tensor *target,
                                    ampc_reduction reduction);

/* F.binary_cross_entropy: -(target log(probs) + (1 - target) log(1 - probs)), each log
 * clamped at -100 as PyTorch does. probs must lie in [0, 1]; equal shapes. Gradients flow to
 * both (probs: PyTorch's (p - t) / max(p (1 - p), 1e-12)). */
AMPC_API ampc_tensor *ampc_binary_cross_entropy(const ampc_tensor *probs,
                                                const ampc_tensor *target,
                                                ampc_reduction reduction);

/* F.binary_cross_entropy_with_logits: the same loss on sigmoid(logits), in the stable form
 * max(x, 0) - x t + log(1 + exp(-|x|)). Equal shapes; gradients flow to both. */
AMPC_API ampc_tensor *ampc_binary_cross_entropy_with_logits(const ampc_tensor *logits,
                                                            const ampc_tensor *target,
                                                            ampc_reduction reduction);

#ifdef __cplusplus
}
#endif
#endif
