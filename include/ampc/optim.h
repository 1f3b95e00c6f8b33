/* Optimizers and learning-rate schedules, with torch.optim's update formulas.
 *
 * An optimizer updates a list of parameters (leaf tensors that require grad) from their
 * accumulated gradients. Parameters come in groups; each group has its own lr and
 * weight_decay (the other hyperparameters are the optimizer's). A parameter without a
 * gradient is skipped, as in PyTorch. Steps run with grad mode off and never record.
 * Parameters must be contiguous (views into a flat block are): an update is one pass over
 * their elements. F64 and F32 parameters are updated in their dtype; F16 and BF16 ones in
 * fp32, each stored value rounded once. Results never depend on the thread count.
 *
 * State per parameter (all of the parameter's dtype, created at its first step):
 *   SGD:        "momentum_buffer" (when momentum != 0)
 *   Adam/AdamW: "exp_avg", "exp_avg_sq", and "max_exp_avg_sq" with amsgrad
 * plus the optimizer's step count. ampc_optimizer_state_tensor reaches them by name, so a
 * checkpoint can save and restore them (resuming bit for bit). As torch's state["step"], each
 * parameter also counts its own updates (they start when it first has a gradient); a
 * restored parameter resumes at the optimizer's count.
 *
 * Formulas (PyTorch 1.13+, g the gradient, p the parameter, t the step from 1):
 *   SGD:   g += wd p; b = momentum b + (1 - dampening) g (b = g at the first step);
 *          g = nesterov ? g + momentum b : b; p -= lr g
 *   Adam:  g += wd p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
 *          p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *   AdamW: p *= 1 - lr wd; then Adam without the g += wd p term. */
#ifndef AMPC_OPTIM_H
#define AMPC_OPTIM_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/error.h>
#include <ampc/export.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ampc_optimizer ampc_optimizer;

typedef struct ampc_sgd_options {
    double lr;
    double momentum;
    double dampening;
    double weight_decay;
    bool nesterov; /* needs momentum > 0 and dampening 0 */
} ampc_sgd_options;

typedef struct ampc_adam_options {
    double lr;           /* PyTorch default 1e-3 */
    double beta1, beta2; /* 0.9, 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* Adam 0, AdamW 0.01 */
    bool amsgrad;
} ampc_adam_options;

/* PyTorch's defaults for each (SGD: lr 0.001, everything else 0; Adam: weight_decay 0;
 * AdamW: weight_decay 0.01). */
AMPC_API ampc_sgd_options ampc_sgd_defaults(void);
AMPC_API ampc_adam_options ampc_adam_defaults(void);
AMPC_API ampc_adam_options ampc_adamw_defaults(void);

/* params (count >= 1) become group 0. The tensors are borrowed: they must outlive the
 * optimizer. Each must be a float leaf that requires grad, and appear once. Options are
 * validated (lr >= 0, momentum >= 0, 0 <= beta < 1, eps >= 0, weight_decay >= 0, nesterov's
 * conditions) with an error naming the field. */
AMPC_API ampc_optimizer *ampc_sgd_new(ampc_tensor *const *params, int count,
                                      const ampc_sgd_options *options);
AMPC_API ampc_optimizer *ampc_adam_new(ampc_tensor *const *params, int count,
                                       const ampc_adam_options *options);
AMPC_API ampc_optimizer *ampc_adamw_new(ampc_tensor *const *params, int count,
                                        const ampc_adam_options *options);
AMPC_API void ampc_optimizer_free(ampc_optimizer *optimizer);

/* A new group with its own lr and weight_decay (torch's add_param_group). */
AMPC_API ampc_status ampc_optimizer_add_param_group(ampc_optimizer *optimizer,
                                                    ampc_tensor *const *params, int count,
                                                    double lr, double weight_decay);

/* One update of every parameter that has a gradient. */
AMPC_API ampc_status ampc_optimizer_step(ampc_optimizer *optimizer);
/* ampc_tensor_zero_grad on every parameter. */
AMPC_API ampc_status ampc_optimizer_zero_grad(ampc_optimizer *optimizer, bool set_to_none);

/* "sgd", "adam", "adamw". */
AMPC_API const char *ampc_optimizer_name(const ampc_optimizer *optimizer);
AMPC_API int ampc_optimizer_num_groups(const ampc_optimizer *optimizer);
AMPC_API double ampc_optimizer_group_lr(const ampc_optimizer *optimizer, int group);
AMPC_API ampc_status ampc_optimizer_set_group_lr(ampc_optimizer *optimizer, int group,
                                                 double lr);
AMPC_API double ampc_optimizer_group_weight_decay(const ampc_optimizer *optimizer, int group);
/* Parameters over all groups, in order (group 0's first). */
AMPC_API int ampc_optimizer_num_params(const ampc_optimizer *optimizer);
AMPC_API ampc_tensor *ampc_optimizer_param(const ampc_optimizer *optimizer, int index);

/* Steps taken so far. Set it when restoring a checkpoint. */
AMPC_API int64_t ampc_optimizer_step_count(const ampc_optimizer *optimizer);
AMPC_API ampc_status ampc_optimizer_set_step_count(ampc_optimizer *optimizer, int64_t steps);
/* The state tensor `name` of parameter `index` (borrowed), or NULL when it does not exist
 * yet. With create, a zeroed one of the parameter's shape and dtype is made if missing (for
 * restoring a checkpoint). Unknown names for this optimizer fail. */
AMPC_API ampc_tensor *ampc_optimizer_state_tensor(ampc_optimizer *optimizer, int index,
                                                  const char *name, bool create);
/* The state names this optimizer keeps, NULL-terminated ({"momentum_buffer", NULL}). */
AMPC_API const char *const *ampc_optimizer_state_names(const ampc_optimizer *optimizer);

/* --- learning-rate schedules ----------------------------------------------------------------
 * A schedule sets every group's lr from the group's base lr (its lr when the schedule was
 * made) and the schedule's step count, which ampc_lr_schedule_step advances (call it once per
 * optimizer step, or per epoch, as you define the unit). */

typedef struct ampc_lr_schedule ampc_lr_schedule;

/* lr = base * gamma^floor(step / step_size) (torch StepLR). */
AMPC_API ampc_lr_schedule *ampc_lr_step_new(ampc_optimizer *optimizer, int64_t step_size,
                                            double gamma);
/* lr = eta_min + (base - eta_min) (1 + cos(pi step / t_max)) / 2, for step <= t_max, then
 * eta_min (torch CosineAnnealingLR without restarts, in closed form). */
AMPC_API ampc_lr_schedule *ampc_lr_cosine_new(ampc_optimizer *optimizer, int64_t t_max,
                                              double eta_min);
/* lr = base * (start_factor + (1 - start_factor) min(step, warmup_steps) / warmup_steps)
 * (torch LinearLR with end_factor 1). Then, if `after` is given, the after-schedule runs from
 * its step 0 on the same base lrs (torch SequentialLR); ownership of `after` (a schedule of
 * the same optimizer) passes to this schedule, even when this call fails. */
AMPC_API ampc_lr_schedule *ampc_lr_warmup_new(ampc_optimizer *optimizer, int64_t warmup_steps,
                                              double start_factor, ampc_lr_schedule *after);
AMPC_API ampc_status ampc_lr_schedule_step(ampc_lr_schedule *schedule);
AMPC_API int64_t ampc_lr_schedule_step_count(const ampc_lr_schedule *schedule);
/* Sets the count (restoring a checkpoint) and applies the lr for it. */
AMPC_API ampc_status ampc_lr_schedule_set_step_count(ampc_lr_schedule *schedule, int64_t steps);
AMPC_API void ampc_lr_schedule_free(ampc_lr_schedule *schedule);

/* --- gradient clipping ----------------------------------------------------------------------
 * torch.nn.utils.clip_grad_norm_: the total norm of all gradients of params (count >= 0;
 * parameters without a gradient are skipped) taken as one vector, the norm_type-norm
 * (norm_type > 0, or INFINITY for the max-norm), accumulated in double. When
 * coef = max_norm / (total + 1e-6) is below 1, every gradient is multiplied by it (rounded
 * to the gradient's dtype; F64, F32, F16 and BF16 gradients, contiguous). A non-finite total
 * makes coef 0 or NaN and the gradients non-finite, as in torch (error_if_nonfinite=False).
 * total_norm (may be NULL) receives the norm before clipping. max_norm must be >= 0. */
AMPC_API ampc_status ampc_clip_grad_norm(ampc_tensor *const *params, int count, double max_norm,
                                         double norm_type, double *total_norm);

#ifdef __cplusplus
}
#endif
#endif
