/* The machinery layer_norm, group_norm and batch_norm share (see norm_common.h): operands in
 * the compute dtype, kernel dispatch by compute dtype, the output with its record, and the
 * backward every norm records. */
#include "ops/norm_common.h"

#include <math.h>
#include <stdio.h>

#include "autograd/record.h"
#include "core/error.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

/* What a norm's node keeps besides its saved tensors (input, weight, mean, rstd). */
typedef struct norm_params {
    norm_layout layout;
    bool batch_statistics;
} norm_params;

enum { SAVED_INPUT, SAVED_WEIGHT, SAVED_MEAN, SAVED_RSTD, SAVED_COUNT };
enum { INPUT, WEIGHT, BIAS, INPUT_COUNT };

static void *data_or_null(const ampc_tensor *tensor)
{
    return tensor ? ampc_tensor_data(tensor) : NULL;
}

ampc_status norm_check_parameter(const char *function, const char *argument,
                                 const ampc_tensor *parameter, int ndim,
                                 const int64_t *shape, const char *expected)
{
    if (!parameter) return AMPC_OK;
    ampc_status status = ampc_check_float_tensor(function, argument, parameter);
    if (status != AMPC_OK) return status;
    int given_ndim = ampc_tensor_ndim(parameter);
    const int64_t *given = ampc_tensor_shape(parameter);
    bool same = given_ndim == ndim;
    for (int dim = 0; same && dim < ndim; dim++) same = given[dim] == shape[dim];
    if (same) return AMPC_OK;
    char given_text[AMPC_SHAPE_TEXT_CAPACITY], expected_text[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(given_text, sizeof given_text, given_ndim, given);
    ampc_format_shape(expected_text, sizeof expected_text, ndim, shape);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "%s has shape %s; expected %s (%s)",
                     argument, given_text, expected_text, expected);
}

ampc_status norm_check_channel_input(const char *function, const ampc_tensor *input,
                                     const ampc_tensor *weight, const ampc_tensor *bias)
{
    ampc_status status = ampc_check_float_tensor(function, "input", input);
    if (status != AMPC_OK) return status;
    int ndim = ampc_tensor_ndim(input);
    if (ndim < 2)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "input has %d dims; expected (N, C, ...) with at least 2", ndim);
    const int64_t *channels = ampc_tensor_shape(input) + 1;
    status = norm_check_parameter(function, "weight", weight, 1, channels, "input's channels");
    if (status != AMPC_OK) return status;
    return norm_check_parameter(function, "bias", bias, 1, channels, "input's channels");
}

ampc_status norm_check_eps(const char *function, double eps)
{
    if (isfinite(eps) && eps >= 0) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "eps is %g; expected a finite value >= 0", eps);
}

ampc_status norm_operands_load(const char *function, const ampc_tensor *input,
                               const ampc_tensor *weight, const ampc_tensor *bias,
                               norm_operands *operands)
{
    bool any_f64 = ampc_tensor_dtype(input) == AMPC_F64 ||
                   (weight && ampc_tensor_dtype(weight) == AMPC_F64) ||
                   (bias && ampc_tensor_dtype(bias) == AMPC_F64);
    *operands = (norm_operands){.compute = any_f64 ? AMPC_F64 : AMPC_F32};
    operands->input = ampc_contiguous_as(function, input, operands->compute);
    if (weight) operands->weight = ampc_contiguous_as(function, weight, operands->compute);
    if (bias) operands->bias = ampc_contiguous_as(function, bias, operands->compute);
    if (operands->input && (!weight || operands->weight) && (!bias || operands->bias))
        return AMPC_OK;
    norm_operands_free(operands);
    return ampc_error_status() != AMPC_OK ? ampc_error_status() : AMPC_ERR_OUT_OF_MEMORY;
}

void norm_operands_free(norm_operands *operands)
{
    ampc_tensor_free(operands->input);
    ampc_tensor_free(operands->weight);
    ampc_tensor_free(operands->bias);
    *operands = (norm_operands){.compute = operands->compute};
}

ampc_tensor *norm_group_tensor(const char *function, ampc_dtype compute, int64_t groups)
{
    return ampc_tensor_new(function, compute, 1, (int64_t[]){groups});
}

/* --- kernel dispatch on the compute dtype ------------------------------------------------ */

static void run_statistics(ampc_dtype compute, const norm_layout *layout, const void *inp,
                           double eps, void *mean, void *rstd, double *var)
{
    if (compute == AMPC_F64)
        norm_statistics_f64(layout, inp, eps, mean, rstd, var);
    else
        norm_statistics_f32(layout, inp, eps, mean, rstd, var);
}

static void run_apply(ampc_dtype compute, const norm_layout *layout, const void *inp,
                      const void *mean, const void *rstd, const void *weight, const void *bias,
                      void *out)
{
    if (compute == AMPC_F64)
        norm_apply_f64(layout, inp, mean, rstd, weight, bias, out);
    else
        norm_apply_f32(layout, inp, mean, rstd, weight, bias, out);
}

static void run_backward_input(ampc_dtype compute, const norm_layout *layout, const void *dout,
                               const void *inp, const void *mean, const void *rstd,
                               const void *weight, bool batch_statistics, void *dinp)
{
    if (compute == AMPC_F64)
        norm_backward_input_f64(layout, dout, inp, mean, rstd, weight, batch_statistics, dinp);
    else
        norm_backward_input_f32(layout, dout, inp, mean, rstd, weight, batch_statistics, dinp);
}

static void run_backward_affine(ampc_dtype compute, const norm_layout *layout,
                                const void *dout, const void *inp, const void *mean,
                                const void *rstd, void *dweight, void *dbias)
{
    if (compute == AMPC_F64)
        norm_backward_affine_f64(layout, dout, inp, mean, rstd, dweight, dbias);
    else
        norm_backward_affine_f32(layout, dout, inp, mean, rstd, dweight, dbias);
}

/* --- forward ----------------------------------------------------------------------------- */

ampc_status norm_batch_statistics(const char *function, const norm_operands *operands,
                                  const norm_layout *layout, double eps, ampc_tensor **mean,
                                  ampc_tensor **rstd, double *var)
{
    /* An empty input may have empty groups (no channels_per_group to divide by): no kernel
     * runs on it, and its statistics are empty. */
    bool empty = ampc_tensor_numel(operands->input) == 0;
    int64_t groups = empty ? 0 : norm_layout_groups(layout);
    *mean = norm_group_tensor(function, operands->compute, groups);
    *rstd = norm_group_tensor(function, operands->compute, groups);
    if (!*mean || !*rstd) {
        ampc_tensor_free(*mean);
        ampc_tensor_free(*rstd);
        *mean = *rstd = NULL;
        return ampc_error_status();
    }
    if (!empty)
        run_statistics(operands->compute, layout, ampc_tensor_data(operands->input), eps,
                       ampc_tensor_data(*mean), ampc_tensor_data(*rstd), var);
    return AMPC_OK;
}

/* --- backward ---------------------------------------------------------------------------- */

/* Hands the computed gradients (NULL where not needed) to dinputs, each converted to its
 * input's dtype; consumes them all, and on failure leaves dinputs empty. */
static ampc_status gradients_to_input_dtypes(const ampc_node *node, ampc_tensor **computed,
                                             ampc_tensor **dinputs)
{
    bool converted = true;
    for (int i = 0; i < INPUT_COUNT; i++) {
        if (!computed[i]) continue;
        dinputs[i] = ampc_from_compute(__func__, computed[i], ampc_node_input_dtype(node, i));
        converted = converted && dinputs[i];
    }
    if (converted) return AMPC_OK;
    for (int i = 0; i < INPUT_COUNT; i++) {
        ampc_tensor_free(dinputs[i]);
        dinputs[i] = NULL;
    }
    return ampc_error_status() != AMPC_OK ? ampc_error_status() : AMPC_ERR_OUT_OF_MEMORY;
}

/* The gradient of every norm: input's through the kernels' formula, weight's and bias's as
 * per-channel sums. Computes in the forward's compute dtype (the saved mean's). */
static ampc_status norm_backward(const ampc_node *node, const ampc_tensor *dout,
                                 ampc_tensor **dinputs)
{
    const norm_params *params = ampc_node_params(node);
    const ampc_tensor *mean = ampc_node_saved(node, SAVED_MEAN);
    const ampc_tensor *rstd = ampc_node_saved(node, SAVED_RSTD);
    const ampc_tensor *weight = ampc_node_saved(node, SAVED_WEIGHT);
    ampc_dtype compute = ampc_tensor_dtype(mean);
    ampc_tensor *inp = ampc_contiguous_as(__func__, ampc_node_saved(node, SAVED_INPUT), compute);
    ampc_tensor *dy = ampc_contiguous_as(__func__, dout, compute);
    ampc_tensor *w = weight ? ampc_contiguous_as(__func__, weight, compute) : NULL;
    ampc_tensor *dinp = NULL, *dweight = NULL, *dbias = NULL;
    bool need_input = ampc_node_needs_grad(node, INPUT);
    bool need_weight = ampc_node_needs_grad(node, WEIGHT);
    bool need_bias = ampc_node_needs_grad(node, BIAS);
    if (need_input)
        dinp = ampc_tensor_new(__func__, compute, ampc_node_input_ndim(node, INPUT),
                               ampc_node_input_shape(node, INPUT));
    /* Zeros: an empty input leaves the kernels nothing to sum, and the sums are 0. */
    if (need_weight)
        dweight = ampc_tensor_zeros(compute, ampc_node_input_ndim(node, WEIGHT),
                                    ampc_node_input_shape(node, WEIGHT));
    if (need_bias)
        dbias = ampc_tensor_zeros(compute, ampc_node_input_ndim(node, BIAS),
                                  ampc_node_input_shape(node, BIAS));
    bool ready = inp && dy && (!weight || w) && (!need_input || dinp) &&
                 (!need_weight || dweight) && (!need_bias || dbias);
    if (ready && ampc_tensor_numel(inp) > 0) {
        if (dinp)
            run_backward_input(compute, &params->layout, ampc_tensor_data(dy),
                               ampc_tensor_data(inp), ampc_tensor_data(mean),
                               ampc_tensor_data(rstd), data_or_null(w),
                               params->batch_statistics, ampc_tensor_data(dinp));
        if (dweight || dbias)
            run_backward_affine(compute, &params->layout, ampc_tensor_data(dy),
                                ampc_tensor_data(inp), ampc_tensor_data(mean),
                                ampc_tensor_data(rstd), data_or_null(dweight),
                                data_or_null(dbias));
    }
    ampc_tensor_free(inp);
    ampc_tensor_free(dy);
    ampc_tensor_free(w);
    if (!ready) {
        ampc_tensor_free(dinp);
        ampc_tensor_free(dweight);
        ampc_tensor_free(dbias);
        return ampc_error_status() != AMPC_OK ? ampc_error_status() : AMPC_ERR_OUT_OF_MEMORY;
    }
    return gradients_to_input_dtypes(node, (ampc_tensor *[]){dinp, dweight, dbias}, dinputs);
}

static ampc_status record_norm(const char *function, const char *name, ampc_tensor *out,
                               const ampc_tensor *input, const ampc_tensor *weight,
                               const ampc_tensor *bias, const norm_layout *layout,
                               const ampc_tensor *mean, const ampc_tensor *rstd,
                               bool batch_statistics)
{
    const ampc_tensor *inputs[INPUT_COUNT] = {input, weight, bias};
    const ampc_tensor *saved[SAVED_COUNT] = {input, weight, mean, rstd};
    norm_params params = {.layout = *layout, .batch_statistics = batch_statistics};
    ampc_op_record record = {.name = name, .backward = norm_backward,
                             .num_inputs = INPUT_COUNT, .inputs = inputs,
                             .num_saved = SAVED_COUNT, .saved = saved,
                             .params = &params, .params_size = sizeof params};
    return ampc_autograd_record(function, out, &record);
}

ampc_tensor *norm_finish(const char *function, const char *name, const ampc_tensor *input,
                         const ampc_tensor *weight, const ampc_tensor *bias,
                         const norm_operands *operands, const norm_layout *layout,
                         ampc_tensor *mean, ampc_tensor *rstd, bool batch_statistics)
{
    ampc_tensor *out = ampc_tensor_new(function, operands->compute, ampc_tensor_ndim(input),
                                       ampc_tensor_shape(input));
    if (out && ampc_tensor_numel(out) > 0)
        run_apply(operands->compute, layout, ampc_tensor_data(operands->input),
                  ampc_tensor_data(mean), ampc_tensor_data(rstd),
                  data_or_null(operands->weight), data_or_null(operands->bias),
                  ampc_tensor_data(out));
    out = ampc_from_compute(function, out, ampc_tensor_dtype(input));
    if (out && record_norm(function, name, out, input, weight, bias, layout, mean, rstd,
                           batch_statistics) != AMPC_OK) {
        ampc_tensor_free(out);
        out = NULL;
    }
    ampc_tensor_free(mean);
    ampc_tensor_free(rstd);
    return out;
}
