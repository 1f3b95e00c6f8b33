/* The optimizers' update loops: one pass over a parameter's contiguous elements that reads
 * its gradient and state and writes the new parameter and state in place.
 *
 * The scalars arrive in double, computed as torch.optim computes its Python floats; each loop
 * converts them once to the parameter's dtype, as ATen converts a Scalar, then follows ATen's
 * order of operations element by element (see optimizer.c for where each scalar comes from).
 * F32 and F64 compute in their own dtype. F16 and BF16 compute in fp32 and round each written
 * value once. The work is elementwise, so the split across threads never changes a bit. */
#ifndef AMPC_OPTIM_KERNELS_H
#define AMPC_OPTIM_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/dtype.h>

typedef struct ampc_sgd_scalars {
    double weight_decay;        /* 0: the gradient is used as it is */
    double momentum;            /* used only with a momentum buffer */
    double one_minus_dampening; /* 1 - dampening */
    double negative_lr;         /* -lr */
    bool nesterov;
    bool first_step;            /* the buffer is new: it becomes a copy of the gradient */
} ampc_sgd_scalars;

/* param and grad have n elements of dtype; momentum_buffer too, or is NULL (no momentum). */
void ampc_sgd_update(ampc_dtype dtype, int64_t n, void *param, const void *grad,
                     void *momentum_buffer, const ampc_sgd_scalars *scalars);

typedef struct ampc_adam_scalars {
    double weight_decay;          /* Adam's L2 term added to the gradient; 0 for none */
    double decay_factor;          /* AdamW's 1 - lr wd applied to the parameter; 1 for none */
    double beta1, one_minus_beta1;
    double beta2, one_minus_beta2;
    double bias_correction2_sqrt; /* sqrt(1 - beta2^t) */
    double eps;
    double negative_step_size;    /* -lr / (1 - beta1^t) */
} ampc_adam_scalars;

/* Every array has n elements of dtype; max_exp_avg_sq is NULL without amsgrad. */
void ampc_adam_update(ampc_dtype dtype, int64_t n, void *param, const void *grad,
                      void *exp_avg, void *exp_avg_sq, void *max_exp_avg_sq,
                      const ampc_adam_scalars *scalars);

#endif
