/* The class-index losses (ampc/ops_loss.h): cross_entropy, fused log_softmax + nll with label
 * smoothing, and nll_loss. Logits are seen as (N, C, inner) around the class dim, which
 * needs no copy; logits (N, C) make contiguous rows (inner = 1). cross_entropy saves each
 * sample's log-sum-exp, so its backward is softmax(x) - onehot without a second reduction. */
#include <ampc/ops_loss.h>

#include <math.h>

#include "autograd/record.h"
#include "core/error.h"
#include "kernels/reduce.h"
#include "ops/loss_support.h"
#include "ops/op_support.h"
#include "ops/reduce_plan.h"
#include "tensor/tensor_internal.h"

typedef struct class_loss_params {
    class_layout layout;
    ampc_reduction reduction;
    int64_t ignore_index;
    double label_smoothing; /* cross_entropy only */
} class_loss_params;

ampc_cross_entropy_options ampc_cross_entropy_default_options(void)
{
    return (ampc_cross_entropy_options){.reduction = AMPC_REDUCTION_MEAN,
                                        .ignore_index = -100,
                                        .label_smoothing = 0.0};
}

/* Records out as the result of a class-index loss; frees out on failure. */
static ampc_tensor *record_class_loss(const char *function, const char *name,
                                      ampc_backward_fn backward, ampc_tensor *out,
                                      const ampc_tensor *input, int num_saved,
                                      const ampc_tensor *const *saved,
                                      const class_loss_params *params)
{
    if (!out) return NULL;
    const ampc_tensor *inputs[] = {input};
    ampc_op_record record = {.name = name,
                             .backward = backward,
                             .num_inputs = 1,
                             .inputs = inputs,
                             .num_saved = num_saved,
                             .saved = saved,
                             .params = params,
                             .params_size = sizeof *params};
    return ampc_autograd_output(function, out, &record);
}

/* --- cross_entropy ------------------------------------------------------------------------- */

static ampc_status cross_entropy_backward(const ampc_node *node, const ampc_tensor *dout,
                                          ampc_tensor **dinputs)
{
    const char *function = "cross_entropy_backward";
    const class_loss_params *params = ampc_node_params(node);
    const class_layout *layout = &params->layout;
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    ampc_dtype dtype = ampc_node_input_dtype(node, 0), compute_dtype = ampc_compute_dtype(dtype);
    const ampc_tensor *target = ampc_node_saved(node, 1), *lse = ampc_node_saved(node, 2);
    ampc_tensor *g = ampc_contiguous_as(function, dout, compute_dtype);
    ampc_tensor *x = g ? ampc_to_compute(function, ampc_node_saved(node, 0)) : NULL;
    ampc_tensor *dx = x ? ampc_tensor_new(function, compute_dtype, x->ndim, x->shape) : NULL;
    if (dx && compute_dtype == AMPC_F64)
        cross_entropy_backward_f64(
            ampc_tensor_data(dx), loss_upstream_of_f64(g, params->reduction, layout->counted),
            ampc_tensor_data(x), ampc_tensor_data(lse), ampc_tensor_data(target), layout->n,
            layout->classes, layout->inner, params->ignore_index, params->label_smoothing);
    else if (dx)
        cross_entropy_backward_f32(
            ampc_tensor_data(dx), loss_upstream_of_f32(g, params->reduction, layout->counted),
            ampc_tensor_data(x), ampc_tensor_data(lse), ampc_tensor_data(target), layout->n,
            layout->classes, layout->inner, params->ignore_index,
            (float)params->label_smoothing);
    ampc_tensor_free(g);
    ampc_tensor_free(x);
    dinputs[0] = ampc_from_compute(function, dx, dtype);
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

static ampc_status check_cross_entropy_options(const char *function,
                                               const ampc_cross_entropy_options *options)
{
    if (loss_check_reduction(function, options->reduction) != AMPC_OK)
        return ampc_error_status();
    if (options->label_smoothing >= 0 && options->label_smoothing <= 1) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "label_smoothing is %g; expected a value from 0 to 1",
                     options->label_smoothing);
}

ampc_tensor *ampc_cross_entropy(const ampc_tensor *logits, const ampc_tensor *target,
                                const ampc_cross_entropy_options *options)
{
    const char *function = __func__;
    ampc_cross_entropy_options chosen = options ? *options : ampc_cross_entropy_default_options();
    class_loss_params params = {.reduction = chosen.reduction,
                                .ignore_index = chosen.ignore_index,
                                .label_smoothing = chosen.label_smoothing};
    if (check_cross_entropy_options(function, &chosen) != AMPC_OK) return NULL;
    ampc_tensor *indices = loss_class_targets(function, "logits", logits, target,
                                              chosen.ignore_index, &params.layout);
    if (!indices) return NULL;
    const class_layout *layout = &params.layout;
    ampc_tensor *x = ampc_to_compute(function, logits);
    ampc_tensor *losses = x ? ampc_tensor_new(function, x->dtype, layout->target_ndim,
                                              layout->target_shape)
                            : NULL;
    ampc_tensor *lse = losses ? ampc_tensor_new(function, x->dtype, layout->target_ndim,
                                                layout->target_shape)
                              : NULL;
    if (lse && x->dtype == AMPC_F64)
        cross_entropy_forward_f64(ampc_tensor_data(losses), ampc_tensor_data(lse),
                                  ampc_tensor_data(x), ampc_tensor_data(indices), layout->n,
                                  layout->classes, layout->inner, chosen.ignore_index,
                                  chosen.label_smoothing);
    else if (lse)
        cross_entropy_forward_f32(ampc_tensor_data(losses), ampc_tensor_data(lse),
                                  ampc_tensor_data(x), ampc_tensor_data(indices), layout->n,
                                  layout->classes, layout->inner, chosen.ignore_index,
                                  (float)chosen.label_smoothing);
    else {
        ampc_tensor_free(losses);
        losses = NULL;
    }
    ampc_tensor_free(x);
    ampc_tensor *out = loss_reduce(function, losses, chosen.reduction, layout->counted,
                                   layout->target_ndim, layout->target_shape, logits->dtype);
    const ampc_tensor *saved[] = {logits, indices, lse};
    out = record_class_loss(function, "cross_entropy", cross_entropy_backward, out, logits, 3,
                            saved, &params);
    ampc_tensor_free(indices);
    ampc_tensor_free(lse);
    return out;
}

/* --- nll_loss ------------------------------------------------------------------------------ */

static ampc_status nll_backward(const ampc_node *node, const ampc_tensor *dout,
                                ampc_tensor **dinputs)
{
    const char *function = "nll_loss_backward";
    const class_loss_params *params = ampc_node_params(node);
    const class_layout *layout = &params->layout;
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    ampc_dtype dtype = ampc_node_input_dtype(node, 0), compute_dtype = ampc_compute_dtype(dtype);
    const ampc_tensor *target = ampc_node_saved(node, 0);
    ampc_tensor *g = ampc_contiguous_as(function, dout, compute_dtype);
    ampc_tensor *dx = g ? ampc_tensor_new(function, compute_dtype, ampc_node_input_ndim(node, 0),
                                          ampc_node_input_shape(node, 0))
                        : NULL;
    if (dx && compute_dtype == AMPC_F64)
        nll_backward_f64(ampc_tensor_data(dx),
                         loss_upstream_of_f64(g, params->reduction, layout->counted),
                         ampc_tensor_data(target), layout->n, layout->classes, layout->inner,
                         params->ignore_index);
    else if (dx)
        nll_backward_f32(ampc_tensor_data(dx),
                         loss_upstream_of_f32(g, params->reduction, layout->counted),
                         ampc_tensor_data(target), layout->n, layout->classes, layout->inner,
                         params->ignore_index);
    ampc_tensor_free(g);
    dinputs[0] = ampc_from_compute(function, dx, dtype);
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

ampc_tensor *ampc_nll_loss(const ampc_tensor *log_probs, const ampc_tensor *target,
                           ampc_reduction reduction, int64_t ignore_index)
{
    const char *function = __func__;
    class_loss_params params = {.reduction = reduction, .ignore_index = ignore_index};
    if (loss_check_reduction(function, reduction) != AMPC_OK) return NULL;
    ampc_tensor *indices = loss_class_targets(function, "log_probs", log_probs, target,
                                              ignore_index, &params.layout);
    if (!indices) return NULL;
    const class_layout *layout = &params.layout;
    ampc_tensor *x = ampc_to_compute(function, log_probs);
    ampc_tensor *losses = x ? ampc_tensor_new(function, x->dtype, layout->target_ndim,
                                              layout->target_shape)
                            : NULL;
    if (losses && x->dtype == AMPC_F64)
        nll_forward_f64(ampc_tensor_data(losses), ampc_tensor_data(x),
                        ampc_tensor_data(indices), layout->n, layout->classes, layout->inner,
                        ignore_index);
    else if (losses)
        nll_forward_f32(ampc_tensor_data(losses), ampc_tensor_data(x),
                        ampc_tensor_data(indices), layout->n, layout->classes, layout->inner,
                        ignore_index);
    ampc_tensor_free(x);
    ampc_tensor *out = loss_reduce(function, losses, reduction, layout->counted,
                                   layout->target_ndim, layout->target_shape,
                                   log_probs->dtype);
    const ampc_tensor *saved[] = {indices};
    out = record_class_loss(function, "nll_loss", nll_backward, out, log_probs, 1, saved,
                            &params);
    ampc_tensor_free(indices);
    return out;
}
