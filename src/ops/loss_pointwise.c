/* The pointwise losses (ampc/ops_loss.h): mse_loss, binary_cross_entropy and
 * binary_cross_entropy_with_logits. The two inputs have one shape; each element's loss comes
 * from its pair alone, so forward and backward are one kernel call each (src/kernels/reduce.h),
 * plus the fixed-chunk sum of loss_reduce for SUM and MEAN. Gradients flow to both inputs. */
#include <ampc/ops_loss.h>

#include <inttypes.h>

#include "autograd/record.h"
#include "core/error.h"
#include "kernels/reduce.h"
#include "ops/loss_support.h"
#include "ops/op_support.h"
#include "ops/reduce_plan.h"
#include "tensor/tensor_internal.h"

typedef enum pointwise_loss { LOSS_MSE, LOSS_BCE, LOSS_BCE_LOGITS } pointwise_loss;

typedef struct pointwise_params {
    pointwise_loss loss;
    ampc_reduction reduction;
    int64_t count; /* elements: the mean's divisor */
} pointwise_params;

static const char *const pointwise_names[] = {"mse_loss", "binary_cross_entropy",
                                              "binary_cross_entropy_with_logits"};

/* The kernel of each loss, for one compute dtype. */
#define POINTWISE_KERNELS(real, suffix)                                                        \
    static void pointwise_forward_##suffix(pointwise_loss loss, real *out, const real *x,     \
                                           const real *y, int64_t n)                          \
    {                                                                                          \
        switch (loss) {                                                                        \
        case LOSS_MSE: mse_forward_##suffix(out, x, y, n); break;                              \
        case LOSS_BCE: bce_forward_##suffix(out, x, y, n); break;                              \
        case LOSS_BCE_LOGITS: bce_logits_forward_##suffix(out, x, y, n); break;                \
        }                                                                                      \
    }                                                                                          \
    static void pointwise_backward_##suffix(pointwise_loss loss, real *dx, real *dy,          \
                                            loss_upstream_##suffix g, const real *x,          \
                                            const real *y, int64_t n)                         \
    {                                                                                          \
        switch (loss) {                                                                        \
        case LOSS_MSE: mse_backward_##suffix(dx, dy, g, x, y, n); break;                       \
        case LOSS_BCE: bce_backward_##suffix(dx, dy, g, x, y, n); break;                       \
        case LOSS_BCE_LOGITS: bce_logits_backward_##suffix(dx, dy, g, x, y, n); break;         \
        }                                                                                      \
    }
POINTWISE_KERNELS(float, f32)
POINTWISE_KERNELS(double, f64)

/* A gradient buffer for input `input` if the node needs one, in the compute dtype. */
static ampc_tensor *gradient_buffer(const char *function, const ampc_node *node, int input,
                                    ampc_dtype compute_dtype, bool *failed)
{
    if (!ampc_node_needs_grad(node, input)) return NULL;
    ampc_tensor *buffer = ampc_tensor_new(function, compute_dtype,
                                          ampc_node_input_ndim(node, input),
                                          ampc_node_input_shape(node, input));
    if (!buffer) *failed = true;
    return buffer;
}

static ampc_status pointwise_backward(const ampc_node *node, const ampc_tensor *dout,
                                      ampc_tensor **dinputs)
{
    const char *function = "pointwise_loss_backward";
    const pointwise_params *params = ampc_node_params(node);
    ampc_dtype compute_dtype = ampc_compute_dtype(dout->dtype);
    bool failed = false;
    ampc_tensor *g = ampc_contiguous_as(function, dout, compute_dtype);
    ampc_tensor *x = ampc_contiguous_as(function, ampc_node_saved(node, 0), compute_dtype);
    ampc_tensor *y = ampc_contiguous_as(function, ampc_node_saved(node, 1), compute_dtype);
    ampc_tensor *dx = gradient_buffer(function, node, 0, compute_dtype, &failed);
    ampc_tensor *dy = gradient_buffer(function, node, 1, compute_dtype, &failed);
    if (!g || !x || !y) failed = true;
    if (!failed && compute_dtype == AMPC_F64)
        pointwise_backward_f64(params->loss, dx ? ampc_tensor_data(dx) : NULL,
                               dy ? ampc_tensor_data(dy) : NULL,
                               loss_upstream_of_f64(g, params->reduction, params->count),
                               ampc_tensor_data(x), ampc_tensor_data(y), params->count);
    else if (!failed)
        pointwise_backward_f32(params->loss, dx ? ampc_tensor_data(dx) : NULL,
                               dy ? ampc_tensor_data(dy) : NULL,
                               loss_upstream_of_f32(g, params->reduction, params->count),
                               ampc_tensor_data(x), ampc_tensor_data(y), params->count);
    ampc_tensor_free(g);
    ampc_tensor_free(x);
    ampc_tensor_free(y);
    if (failed) {
        ampc_tensor_free(dx);
        ampc_tensor_free(dy);
        return ampc_error_status();
    }
    if (dx) dinputs[0] = ampc_from_compute(function, dx, ampc_node_input_dtype(node, 0));
    if (dy) dinputs[1] = ampc_from_compute(function, dy, ampc_node_input_dtype(node, 1));
    if ((dx && !dinputs[0]) || (dy && !dinputs[1])) {
        ampc_tensor_free(dinputs[0]);
        ampc_tensor_free(dinputs[1]);
        dinputs[0] = dinputs[1] = NULL;
        return ampc_error_status();
    }
    return AMPC_OK;
}

static ampc_status check_pointwise_inputs(const char *function, const char *input_name,
                                          const ampc_tensor *input, const ampc_tensor *target,
                                          ampc_reduction reduction)
{
    if (ampc_check_float_tensor(function, input_name, input) != AMPC_OK ||
        ampc_check_float_tensor(function, "target", target) != AMPC_OK ||
        loss_check_reduction(function, reduction) != AMPC_OK)
        return ampc_error_status();
    bool same = input->ndim == target->ndim;
    for (int d = 0; same && d < input->ndim; d++) same = input->shape[d] == target->shape[d];
    if (same) return AMPC_OK;
    char input_shape[AMPC_SHAPE_TEXT_CAPACITY], target_shape[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(input_shape, sizeof input_shape, input->ndim, input->shape);
    ampc_format_shape(target_shape, sizeof target_shape, target->ndim, target->shape);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "%s has shape %s and target has shape %s; expected the same shape",
                     input_name, input_shape, target_shape);
}

/* PyTorch's check: binary_cross_entropy needs probabilities (NaN is refused too). */
static ampc_status check_probabilities(const char *function, const ampc_tensor *probs)
{
    int64_t n = ampc_tensor_numel(probs);
    for (int64_t k = 0; k < n; k++) {
        double value = probs->dtype == AMPC_F64 ? ((const double *)ampc_tensor_data(probs))[k]
                                                : ((const float *)ampc_tensor_data(probs))[k];
        if (value >= 0 && value <= 1) continue;
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "probs element %" PRId64 " (row-major) is %g; expected every element "
                         "from 0 to 1",
                         k, value);
    }
    return AMPC_OK;
}

static ampc_tensor *pointwise_run(const char *function, pointwise_loss loss,
                                  const char *input_name, const ampc_tensor *input,
                                  const ampc_tensor *target, ampc_reduction reduction)
{
    if (check_pointwise_inputs(function, input_name, input, target, reduction) != AMPC_OK)
        return NULL;
    ampc_dtype dtype = ampc_promote_float(input->dtype, target->dtype);
    ampc_dtype compute_dtype = ampc_compute_dtype(dtype);
    pointwise_params params = {.loss = loss, .reduction = reduction,
                               .count = ampc_tensor_numel(input)};
    ampc_tensor *x = ampc_contiguous_as(function, input, compute_dtype);
    ampc_tensor *y = x ? ampc_contiguous_as(function, target, compute_dtype) : NULL;
    bool valid = y && (loss != LOSS_BCE || check_probabilities(function, x) == AMPC_OK);
    ampc_tensor *losses = valid ? ampc_tensor_new(function, compute_dtype, input->ndim,
                                                  input->shape)
                                : NULL;
    if (losses && compute_dtype == AMPC_F64)
        pointwise_forward_f64(loss, ampc_tensor_data(losses), ampc_tensor_data(x),
                              ampc_tensor_data(y), params.count);
    else if (losses)
        pointwise_forward_f32(loss, ampc_tensor_data(losses), ampc_tensor_data(x),
                              ampc_tensor_data(y), params.count);
    ampc_tensor_free(x);
    ampc_tensor_free(y);
    ampc_tensor *out = loss_reduce(function, losses, reduction, params.count, input->ndim,
                                   input->shape, dtype);
    if (!out) return NULL;
    const ampc_tensor *inputs[] = {input, target};
    ampc_op_record record = {.name = pointwise_names[loss],
                             .backward = pointwise_backward,
                             .num_inputs = 2,
                             .inputs = inputs,
                             .num_saved = 2,
                             .saved = inputs,
                             .params = &params,
                             .params_size = sizeof params};
    return ampc_autograd_output(function, out, &record);
}

ampc_tensor *ampc_mse_loss(const ampc_tensor *input, const ampc_tensor *target,
                           ampc_reduction reduction)
{
    return pointwise_run(__func__, LOSS_MSE, "input", input, target, reduction);
}

ampc_tensor *ampc_binary_cross_entropy(const ampc_tensor *probs, const ampc_tensor *target,
                                       ampc_reduction reduction)
{
    return pointwise_run(__func__, LOSS_BCE, "probs", probs, target, reduction);
}

ampc_tensor *ampc_binary_cross_entropy_with_logits(const ampc_tensor *logits,
                                                   const ampc_tensor *target,
                                                   ampc_reduction reduction)
{
    return pointwise_run(__func__, LOSS_BCE_LOGITS, "logits", logits, target, reduction);
}
