/* Optimizers (ampc/optim.h): the parameter list with its groups, the state tensors by name,
 * validation, and each optimizer's step, which computes torch.optim's Python-float scalars
 * (bias corrections, step size) in double and hands the element loops to optim_kernels.c.
 *
 * Parameters are borrowed. Each keeps its own update count (torch's state["step"]), which
 * starts when it first has a gradient; the optimizer's step count counts ampc_optimizer_step
 * calls. The two agree unless a parameter missed steps; restoring a checkpoint sets both. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ampc/autograd.h>
#include <ampc/optim.h>

#include "core/error.h"
#include "optim/optim_internal.h"
#include "optim/optim_kernels.h"
#include "tensor/tensor_internal.h"

typedef enum optimizer_kind { OPTIMIZER_SGD, OPTIMIZER_ADAM, OPTIMIZER_ADAMW } optimizer_kind;

enum { MAX_STATE = 3 };

/* The state each optimizer keeps, in the order of a parameter's state[] slots. */
static const char *const sgd_state_names[] = {"momentum_buffer", NULL};
static const char *const no_state_names[] = {NULL};
static const char *const adam_state_names[] = {"exp_avg", "exp_avg_sq", NULL};
static const char *const amsgrad_state_names[] = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq",
                                                  NULL};
enum { EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ };

typedef struct param_group {
    double lr;
    double weight_decay;
} param_group;

typedef struct param_slot {
    ampc_tensor *param;            /* borrowed */
    int group;
    int64_t steps;                 /* updates this parameter received (torch's state["step"]) */
    ampc_tensor *state[MAX_STATE]; /* owned; by index into the optimizer's state names */
} param_slot;

struct ampc_optimizer {
    optimizer_kind kind;
    ampc_sgd_options sgd;   /* SGD's options (lr, weight_decay: group 0's) */
    ampc_adam_options adam; /* Adam's and AdamW's */
    const char *const *state_names;
    param_group *groups;
    int num_groups;
    param_slot *params;
    int num_params;
    int64_t steps;
};

static const char *const kind_names[] = {"sgd", "adam", "adamw"};

/* --- defaults and validation ------------------------------------------------------------ */

ampc_sgd_options ampc_sgd_defaults(void)
{
    return (ampc_sgd_options){.lr = 1e-3};
}

ampc_adam_options ampc_adam_defaults(void)
{
    return (ampc_adam_options){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
}

ampc_adam_options ampc_adamw_defaults(void)
{
    ampc_adam_options options = ampc_adam_defaults();
    options.weight_decay = 1e-2;
    return options;
}

ampc_status ampc_optim_check_nonnegative(const char *function, const char *field, double value)
{
    if (value >= 0 && isfinite(value)) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "%s is %g; expected a finite value >= 0",
                     field, value);
}

ampc_status ampc_optim_check_at_least(const char *function, const char *field, int64_t count,
                                      int64_t minimum)
{
    if (count >= minimum) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "%s is %lld; expected >= %lld", field,
                     (long long)count, (long long)minimum);
}

static ampc_status check_beta(const char *function, const char *field, double value)
{
    if (value >= 0 && value < 1) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "%s is %g; expected 0 <= %s < 1",
                     field, value, field);
}

static ampc_status check_sgd_options(const char *function, const ampc_sgd_options *o)
{
    if (!o) return ampc_fail_null(function, "options");
    if (ampc_optim_check_nonnegative(function, "options->lr", o->lr) ||
        ampc_optim_check_nonnegative(function, "options->momentum", o->momentum) ||
        ampc_optim_check_nonnegative(function, "options->weight_decay", o->weight_decay))
        return ampc_error_status();
    if (!isfinite(o->dampening))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "options->dampening is %g; expected a finite value", o->dampening);
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "options->nesterov is set with momentum %g and dampening %g; expected "
                         "momentum > 0 and dampening 0",
                         o->momentum, o->dampening);
    return AMPC_OK;
}

static ampc_status check_adam_options(const char *function, const ampc_adam_options *o)
{
    if (!o) return ampc_fail_null(function, "options");
    if (ampc_optim_check_nonnegative(function, "options->lr", o->lr) ||
        check_beta(function, "options->beta1", o->beta1) ||
        check_beta(function, "options->beta2", o->beta2) ||
        ampc_optim_check_nonnegative(function, "options->eps", o->eps) ||
        ampc_optim_check_nonnegative(function, "options->weight_decay", o->weight_decay))
        return ampc_error_status();
    return AMPC_OK;
}

static bool is_trainable_dtype(ampc_dtype dtype)
{
    return dtype == AMPC_F64 || dtype == AMPC_F32 || dtype == AMPC_F16 || dtype == AMPC_BF16;
}

/* params[index] must be a contiguous float leaf that requires grad, not in the optimizer yet
 * and not earlier in params (the same tensor, or another handle on the same elements). */
static ampc_status check_param(const char *function, const ampc_optimizer *optimizer,
                               ampc_tensor *const *params, int index)
{
    const ampc_tensor *param = params[index];
    if (!param)
        return ampc_fail(AMPC_ERR_NULL_ARGUMENT, function, "params[%d] is NULL", index);
    if (!is_trainable_dtype(param->dtype))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "params[%d] has dtype %s; expected F64, F32, F16 or BF16", index,
                         ampc_dtype_name(param->dtype));
    if (!ampc_tensor_is_leaf(param))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "params[%d] is not a leaf (it is the result of %s); expected a leaf "
                         "tensor",
                         index, ampc_tensor_grad_fn_name(param));
    if (!ampc_tensor_requires_grad(param))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "params[%d] does not require grad; expected a leaf that requires grad "
                         "(ampc_tensor_set_requires_grad)",
                         index);
    if (!ampc_tensor_is_contiguous(param))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "params[%d] is not contiguous; expected a contiguous tensor", index);
    void *data = ampc_tensor_data(param);
    for (int other = 0; other < index; other++)
        if (params[other] == param || ampc_tensor_data(params[other]) == data)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "params[%d] is the same parameter as params[%d]; expected each "
                             "parameter once",
                             index, other);
    for (int other = 0; optimizer && other < optimizer->num_params; other++) {
        const param_slot *slot = &optimizer->params[other];
        if (slot->param == param || ampc_tensor_data(slot->param) == data)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "params[%d] is already in the optimizer (parameter %d, group %d); "
                             "expected each parameter once",
                             index, other, slot->group);
    }
    return AMPC_OK;
}

/* --- creation ----------------------------------------------------------------------------- */

static ampc_status add_group(const char *function, ampc_optimizer *optimizer,
                             ampc_tensor *const *params, int count, double lr,
                             double weight_decay)
{
    if (!params) return ampc_fail_null(function, "params");
    if (ampc_optim_check_at_least(function, "count", count, 1) ||
        ampc_optim_check_nonnegative(function, "lr", lr) ||
        ampc_optim_check_nonnegative(function, "weight_decay", weight_decay))
        return ampc_error_status();
    for (int index = 0; index < count; index++)
        if (check_param(function, optimizer, params, index)) return ampc_error_status();

    param_group *groups = realloc(optimizer->groups,
                                  (size_t)(optimizer->num_groups + 1) * sizeof *groups);
    if (!groups)
        return ampc_fail_oom(function, (size_t)(optimizer->num_groups + 1) * sizeof *groups);
    optimizer->groups = groups;
    size_t bytes = (size_t)(optimizer->num_params + count) * sizeof *optimizer->params;
    param_slot *slots = realloc(optimizer->params, bytes);
    if (!slots) return ampc_fail_oom(function, bytes);
    optimizer->params = slots;

    int group = optimizer->num_groups++;
    groups[group] = (param_group){.lr = lr, .weight_decay = weight_decay};
    for (int index = 0; index < count; index++)
        slots[optimizer->num_params++] = (param_slot){.param = params[index], .group = group};
    return AMPC_OK;
}

static ampc_optimizer *optimizer_new(const char *function, optimizer_kind kind,
                                     ampc_tensor *const *params, int count, double lr,
                                     double weight_decay)
{
    ampc_optimizer *optimizer = calloc(1, sizeof *optimizer);
    if (!optimizer) {
        ampc_fail_oom(function, sizeof *optimizer);
        return NULL;
    }
    optimizer->kind = kind;
    if (add_group(function, optimizer, params, count, lr, weight_decay)) {
        ampc_optimizer_free(optimizer);
        return NULL;
    }
    return optimizer;
}

ampc_optimizer *ampc_sgd_new(ampc_tensor *const *params, int count,
                             const ampc_sgd_options *options)
{
    if (check_sgd_options(__func__, options)) return NULL;
    ampc_optimizer *optimizer =
        optimizer_new(__func__, OPTIMIZER_SGD, params, count, options->lr, options->weight_decay);
    if (!optimizer) return NULL;
    optimizer->sgd = *options;
    optimizer->state_names = options->momentum != 0 ? sgd_state_names : no_state_names;
    return optimizer;
}

static ampc_optimizer *adam_new(const char *function, optimizer_kind kind,
                                ampc_tensor *const *params, int count,
                                const ampc_adam_options *options)
{
    if (check_adam_options(function, options)) return NULL;
    ampc_optimizer *optimizer =
        optimizer_new(function, kind, params, count, options->lr, options->weight_decay);
    if (!optimizer) return NULL;
    optimizer->adam = *options;
    optimizer->state_names = options->amsgrad ? amsgrad_state_names : adam_state_names;
    return optimizer;
}

ampc_optimizer *ampc_adam_new(ampc_tensor *const *params, int count,
                              const ampc_adam_options *options)
{
    return adam_new(__func__, OPTIMIZER_ADAM, params, count, options);
}

ampc_optimizer *ampc_adamw_new(ampc_tensor *const *params, int count,
                               const ampc_adam_options *options)
{
    return adam_new(__func__, OPTIMIZER_ADAMW, params, count, options);
}

void ampc_optimizer_free(ampc_optimizer *optimizer)
{
    if (!optimizer) return;
    for (int index = 0; index < optimizer->num_params; index++)
        for (int k = 0; k < MAX_STATE; k++) ampc_tensor_free(optimizer->params[index].state[k]);
    free(optimizer->params);
    free(optimizer->groups);
    free(optimizer);
}

ampc_status ampc_optimizer_add_param_group(ampc_optimizer *optimizer, ampc_tensor *const *params,
                                           int count, double lr, double weight_decay)
{
    if (!optimizer) return ampc_fail_null(__func__, "optimizer");
    return add_group(__func__, optimizer, params, count, lr, weight_decay);
}

/* --- state -------------------------------------------------------------------------------- */

/* A zeroed heap tensor of param's shape and dtype, counted as optimizer state. Heap, not the
 * entered arena: state lives as long as the optimizer. */
static ampc_tensor *new_state(const char *function, const ampc_tensor *param)
{
    ampc_tensor *state = ampc_tensor_new_in(function, NULL, param->dtype, param->ndim,
                                            param->shape);
    if (!state) return NULL;
    memset(ampc_tensor_data(state), 0, ampc_tensor_nbytes(state));
    if (ampc_tensor_set_category(state, AMPC_MEMORY_OPTIMIZER_STATE)) {
        ampc_tensor_free(state);
        return NULL;
    }
    return state;
}

static bool has_state(const param_slot *slot)
{
    for (int k = 0; k < MAX_STATE; k++)
        if (slot->state[k]) return true;
    return false;
}

static int state_index(const ampc_optimizer *optimizer, const char *name)
{
    for (int k = 0; optimizer->state_names[k]; k++)
        if (strcmp(optimizer->state_names[k], name) == 0) return k;
    return -1;
}

static ampc_status check_param_index(const char *function, const ampc_optimizer *optimizer,
                                     int index)
{
    if (!optimizer) return ampc_fail_null(function, "optimizer");
    if (index >= 0 && index < optimizer->num_params) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "index is %d; expected 0 <= index < %d (the number of parameters)", index,
                     optimizer->num_params);
}

ampc_tensor *ampc_optimizer_state_tensor(ampc_optimizer *optimizer, int index, const char *name,
                                         bool create)
{
    if (check_param_index(__func__, optimizer, index)) return NULL;
    if (!name) return ampc_null_tensor(__func__, "name");
    int k = state_index(optimizer, name);
    if (k < 0) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "name \"%s\" is not a state of this %s optimizer%s", name,
                  kind_names[optimizer->kind],
                  optimizer->state_names[0] ? "" : " (it keeps none: momentum is 0)");
        return NULL;
    }
    param_slot *slot = &optimizer->params[index];
    if (slot->state[k] || !create) return slot->state[k];
    /* A restored parameter resumes at the optimizer's count (see the file comment). */
    if (!has_state(slot)) slot->steps = optimizer->steps;
    slot->state[k] = new_state(__func__, slot->param);
    return slot->state[k];
}

const char *const *ampc_optimizer_state_names(const ampc_optimizer *optimizer)
{
    if (!optimizer) {
        ampc_fail_null(__func__, "optimizer");
        return NULL;
    }
    return optimizer->state_names;
}

int64_t ampc_optimizer_step_count(const ampc_optimizer *optimizer)
{
    if (!optimizer) return ampc_fail_null(__func__, "optimizer"), 0;
    return optimizer->steps;
}

ampc_status ampc_optimizer_set_step_count(ampc_optimizer *optimizer, int64_t steps)
{
    if (!optimizer) return ampc_fail_null(__func__, "optimizer");
    if (ampc_optim_check_at_least(__func__, "steps", steps, 0)) return ampc_error_status();
    optimizer->steps = steps;
    for (int index = 0; index < optimizer->num_params; index++)
        if (has_state(&optimizer->params[index])) optimizer->params[index].steps = steps;
    return AMPC_OK;
}

/* --- the step ----------------------------------------------------------------------------- */

/* torch.optim.SGD's _single_tensor_sgd for one parameter. */
static ampc_status sgd_step(const char *function, ampc_optimizer *optimizer, param_slot *slot,
                            const ampc_tensor *grad)
{
    const ampc_sgd_options *o = &optimizer->sgd;
    const param_group *group = &optimizer->groups[slot->group];
    ampc_sgd_scalars scalars = {.weight_decay = group->weight_decay,
                                .momentum = o->momentum,
                                .one_minus_dampening = 1 - o->dampening,
                                .negative_lr = -group->lr,
                                .nesterov = o->nesterov};
    ampc_tensor *buffer = NULL;
    if (o->momentum != 0) {
        buffer = slot->state[0];
        if (!buffer) {
            /* torch: buf = torch.clone(d_p) at the parameter's first step. */
            buffer = slot->state[0] = new_state(function, slot->param);
            if (!buffer) return ampc_error_status();
            scalars.first_step = true;
        }
    }
    ampc_sgd_update(slot->param->dtype, ampc_tensor_numel(slot->param),
                    ampc_tensor_data(slot->param), ampc_tensor_data(grad),
                    buffer ? ampc_tensor_data(buffer) : NULL, &scalars);
    slot->steps++;
    return AMPC_OK;
}

/* torch.optim.Adam's and AdamW's _single_tensor_adam(w) for one parameter: the scalars are
 * Python floats there (step_size = lr / bias_correction1, math.sqrt(bias_correction2)). */
static ampc_status adam_step(const char *function, ampc_optimizer *optimizer, param_slot *slot,
                             const ampc_tensor *grad)
{
    const ampc_adam_options *o = &optimizer->adam;
    const param_group *group = &optimizer->groups[slot->group];
    for (int k = 0; optimizer->state_names[k]; k++)
        if (!slot->state[k] && !(slot->state[k] = new_state(function, slot->param)))
            return ampc_error_status();
    double step = (double)(slot->steps + 1);
    double bias_correction1 = 1 - pow(o->beta1, step);
    double bias_correction2 = 1 - pow(o->beta2, step);
    bool decoupled = optimizer->kind == OPTIMIZER_ADAMW;
    ampc_adam_scalars scalars = {
        .weight_decay = decoupled ? 0 : group->weight_decay,
        .decay_factor = decoupled ? 1 - group->lr * group->weight_decay : 1,
        .beta1 = o->beta1,
        .one_minus_beta1 = 1 - o->beta1,
        .beta2 = o->beta2,
        .one_minus_beta2 = 1 - o->beta2,
        .bias_correction2_sqrt = sqrt(bias_correction2),
        .eps = o->eps,
        .negative_step_size = -(group->lr / bias_correction1),
    };
    ampc_tensor *max_exp_avg_sq = o->amsgrad ? slot->state[MAX_EXP_AVG_SQ] : NULL;
    ampc_adam_update(slot->param->dtype, ampc_tensor_numel(slot->param),
                     ampc_tensor_data(slot->param), ampc_tensor_data(grad),
                     ampc_tensor_data(slot->state[EXP_AVG]),
                     ampc_tensor_data(slot->state[EXP_AVG_SQ]),
                     max_exp_avg_sq ? ampc_tensor_data(max_exp_avg_sq) : NULL, &scalars);
    slot->steps++;
    return AMPC_OK;
}

/* The gradient must still match the parameter (a caller may have written either). */
static ampc_status check_grad(const char *function, int index, const ampc_tensor *param,
                              const ampc_tensor *grad)
{
    if (!ampc_tensor_is_contiguous(param))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "parameter %d is no longer contiguous; expected a contiguous tensor",
                         index);
    if (grad->dtype != param->dtype || ampc_tensor_numel(grad) != ampc_tensor_numel(param) ||
        !ampc_tensor_is_contiguous(grad))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "the gradient of parameter %d is %s with %lld elements%s; expected a "
                         "contiguous %s gradient with %lld",
                         index, ampc_dtype_name(grad->dtype),
                         (long long)ampc_tensor_numel(grad),
                         ampc_tensor_is_contiguous(grad) ? "" : ", not contiguous",
                         ampc_dtype_name(param->dtype), (long long)ampc_tensor_numel(param));
    return AMPC_OK;
}

ampc_status ampc_optimizer_step(ampc_optimizer *optimizer)
{
    if (!optimizer) return ampc_fail_null(__func__, "optimizer");
    /* Every gradient is checked before any parameter changes. */
    for (int index = 0; index < optimizer->num_params; index++) {
        const ampc_tensor *param = optimizer->params[index].param;
        const ampc_tensor *grad = ampc_tensor_grad(param);
        if (grad && check_grad(__func__, index, param, grad)) return ampc_error_status();
    }
    for (int index = 0; index < optimizer->num_params; index++) {
        param_slot *slot = &optimizer->params[index];
        const ampc_tensor *grad = ampc_tensor_grad(slot->param);
        if (!grad) continue; /* no gradient: skipped, as in PyTorch */
        ampc_status status = optimizer->kind == OPTIMIZER_SGD
                                 ? sgd_step(__func__, optimizer, slot, grad)
                                 : adam_step(__func__, optimizer, slot, grad);
        if (status) return status;
    }
    optimizer->steps++;
    return AMPC_OK;
}

ampc_status ampc_optimizer_zero_grad(ampc_optimizer *optimizer, bool set_to_none)
{
    if (!optimizer) return ampc_fail_null(__func__, "optimizer");
    for (int index = 0; index < optimizer->num_params; index++) {
        ampc_status status = ampc_tensor_zero_grad(optimizer->params[index].param, set_to_none);
        if (status) return status;
    }
    return AMPC_OK;
}

/* --- properties ---------------------------------------------------------------------------- */

const char *ampc_optimizer_name(const ampc_optimizer *optimizer)
{
    if (!optimizer) {
        ampc_fail_null(__func__, "optimizer");
        return NULL;
    }
    return kind_names[optimizer->kind];
}

int ampc_optimizer_num_groups(const ampc_optimizer *optimizer)
{
    if (!optimizer) return ampc_fail_null(__func__, "optimizer"), 0;
    return optimizer->num_groups;
}

static ampc_status check_group(const char *function, const ampc_optimizer *optimizer, int group)
{
    if (!optimizer) return ampc_fail_null(function, "optimizer");
    if (group >= 0 && group < optimizer->num_groups) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "group is %d; expected 0 <= group < %d (the number of groups)", group,
                     optimizer->num_groups);
}

double ampc_optimizer_group_lr(const ampc_optimizer *optimizer, int group)
{
    if (check_group(__func__, optimizer, group)) return 0;
    return optimizer->groups[group].lr;
}

ampc_status ampc_optimizer_set_group_lr(ampc_optimizer *optimizer, int group, double lr)
{
    if (check_group(__func__, optimizer, group) ||
        ampc_optim_check_nonnegative(__func__, "lr", lr))
        return ampc_error_status();
    optimizer->groups[group].lr = lr;
    return AMPC_OK;
}

double ampc_optimizer_group_weight_decay(const ampc_optimizer *optimizer, int group)
{
    if (check_group(__func__, optimizer, group)) return 0;
    return optimizer->groups[group].weight_decay;
}

int ampc_optimizer_num_params(const ampc_optimizer *optimizer)
{
    if (!optimizer) return ampc_fail_null(__func__, "optimizer"), 0;
    return optimizer->num_params;
}

ampc_tensor *ampc_optimizer_param(const ampc_optimizer *optimizer, int index)
{
    if (check_param_index(__func__, optimizer, index)) return NULL;
    return optimizer->params[index].param;
}
