/* ampc_batch_norm: validation, the running statistics (updated in training, used in eval),
 * and the layout; normalising and the backward are norm_common.c's.
 *
 * Input (N, C, S...) is seen as (N, C, S) with one group per channel over N and S. Running
 * statistics are read and written through F64 copies, whatever their dtype, so fp32 running
 * statistics next to an F16 input (AMP) lose nothing to the input's precision. */
#include <ampc/ops_norm.h>

#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "ops/norm_common.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

static ampc_status check_running_statistics(const char *function, const ampc_tensor *input,
                                            const ampc_tensor *running_mean,
                                            const ampc_tensor *running_var, bool training,
                                            double momentum)
{
    const int64_t *channels = ampc_tensor_shape(input) + 1;
    if (norm_check_parameter(function, "running_mean", running_mean, 1, channels,
                             "input's channels") != AMPC_OK ||
        norm_check_parameter(function, "running_var", running_var, 1, channels,
                             "input's channels") != AMPC_OK)
        return ampc_error_status();
    if (!training && (!running_mean || !running_var))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "training is false but %s is NULL; expected running_mean and "
                         "running_var (eval mode normalises with them)",
                         running_mean ? "running_var" : "running_mean");
    if (!running_mean != !running_var)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "%s is NULL but %s is not; expected both running statistics or neither",
                         running_mean ? "running_var" : "running_mean",
                         running_mean ? "running_mean" : "running_var");
    if (!isfinite(momentum))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "momentum is %g; expected a finite value", momentum);
    return AMPC_OK;
}

/* running = (1 - momentum) * running + momentum * batch[c], computed in double and written
 * back in running's own dtype and layout. */
static ampc_status blend_into(const char *function, ampc_tensor *running, const double *batch,
                              double momentum)
{
    ampc_tensor *blended = ampc_tensor_cast(running, AMPC_F64);
    if (!blended) return ampc_error_status();
    double *values = ampc_tensor_data(blended);
    for (int64_t c = 0; c < ampc_tensor_numel(blended); c++)
        values[c] = (1 - momentum) * values[c] + momentum * batch[c];
    ampc_status status = ampc_tensor_copy(running, blended);
    ampc_tensor_free(blended);
    if (status != AMPC_OK && ampc_error_status() == AMPC_OK)
        ampc_fail(status, function, "writing the running statistics failed");
    return status;
}

/* The batch's mean and unbiased variance (over `count` values per channel) into the running
 * statistics, as PyTorch does. */
static ampc_status update_running_statistics(const char *function, ampc_tensor *running_mean,
                                             ampc_tensor *running_var, const ampc_tensor *mean,
                                             double *var, int64_t count, double momentum)
{
    ampc_tensor *mean64 = ampc_contiguous_as(function, mean, AMPC_F64);
    if (!mean64) return ampc_error_status();
    int64_t channels = ampc_tensor_numel(mean64);
    for (int64_t c = 0; c < channels; c++) var[c] *= (double)count / (double)(count - 1);
    ampc_status status = blend_into(function, running_mean, ampc_tensor_data(mean64), momentum);
    if (status == AMPC_OK) status = blend_into(function, running_var, var, momentum);
    ampc_tensor_free(mean64);
    return status;
}

/* Eval mode: mean = running_mean and rstd = 1 / sqrt(running_var + eps), in the compute
 * dtype. */
static ampc_status running_statistics(const char *function, const ampc_tensor *running_mean,
                                      const ampc_tensor *running_var, double eps,
                                      ampc_dtype compute, ampc_tensor **mean,
                                      ampc_tensor **rstd)
{
    ampc_tensor *var64 = ampc_contiguous_as(function, running_var, AMPC_F64);
    ampc_tensor *rstd64 = var64 ? ampc_tensor_new(function, AMPC_F64, 1,
                                                  ampc_tensor_shape(var64))
                                : NULL;
    if (rstd64) {
        const double *var = ampc_tensor_data(var64);
        double *values = ampc_tensor_data(rstd64);
        for (int64_t c = 0; c < ampc_tensor_numel(var64); c++)
            values[c] = 1 / sqrt(var[c] + eps);
    }
    ampc_tensor_free(var64);
    *mean = ampc_contiguous_as(function, running_mean, compute);
    *rstd = ampc_from_compute(function, rstd64, compute);
    /* A new handle on running_mean itself would let the caller's later writes change what
     * the backward reads: keep a copy. */
    if (*mean && ampc_tensor_data(*mean) == ampc_tensor_data(running_mean)) {
        ampc_tensor *copy = ampc_tensor_clone(*mean);
        ampc_tensor_free(*mean);
        *mean = copy;
    }
    if (*mean && *rstd) return AMPC_OK;
    ampc_tensor_free(*mean);
    ampc_tensor_free(*rstd);
    *mean = *rstd = NULL;
    return ampc_error_status() != AMPC_OK ? ampc_error_status() : AMPC_ERR_OUT_OF_MEMORY;
}

/* Training: the batch's statistics, and the running statistics' update when given. */
static ampc_status batch_statistics(const char *function, const norm_operands *operands,
                                    const norm_layout *layout, double eps,
                                    ampc_tensor *running_mean, ampc_tensor *running_var,
                                    double momentum, ampc_tensor **mean, ampc_tensor **rstd)
{
    bool update = running_mean && ampc_tensor_numel(operands->input) > 0;
    double *var = update ? malloc((size_t)layout->channels * sizeof *var) : NULL;
    if (update && !var)
        return ampc_fail_oom(function, (size_t)layout->channels * sizeof *var);
    ampc_status status =
        norm_batch_statistics(function, operands, layout, eps, mean, rstd, var);
    if (status == AMPC_OK && update)
        status = update_running_statistics(function, running_mean, running_var, *mean, var,
                                           layout->outer * layout->inner, momentum);
    free(var);
    if (status != AMPC_OK) {
        ampc_tensor_free(*mean);
        ampc_tensor_free(*rstd);
        *mean = *rstd = NULL;
    }
    return status;
}

ampc_tensor *ampc_batch_norm(const ampc_tensor *input, ampc_tensor *running_mean,
                             ampc_tensor *running_var, const ampc_tensor *weight,
                             const ampc_tensor *bias, bool training, double momentum,
                             double eps)
{
    if (norm_check_channel_input(__func__, input, weight, bias) != AMPC_OK ||
        check_running_statistics(__func__, input, running_mean, running_var, training,
                                 momentum) != AMPC_OK ||
        norm_check_eps(__func__, eps) != AMPC_OK)
        return NULL;
    int ndim = ampc_tensor_ndim(input);
    const int64_t *shape = ampc_tensor_shape(input);
    norm_layout layout = {.outer = shape[0], .channels = shape[1],
                          .inner = ampc_shape_numel(ndim - 2, shape + 2),
                          .groups_per_outer = 0, .channels_per_group = 1};
    int64_t per_channel = layout.outer * layout.inner;
    if (training && per_channel == 1 && layout.channels > 0) {
        char text[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(text, sizeof text, ndim, shape);
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "input has shape %s, one value per channel; expected more than one when "
                  "training (the batch variance needs two)",
                  text);
        return NULL;
    }
    norm_operands operands;
    if (norm_operands_load(__func__, input, weight, bias, &operands) != AMPC_OK) return NULL;
    ampc_tensor *mean, *rstd, *out = NULL;
    ampc_status status =
        training ? batch_statistics(__func__, &operands, &layout, eps, running_mean,
                                    running_var, momentum, &mean, &rstd)
                 : running_statistics(__func__, running_mean, running_var, eps,
                                      operands.compute, &mean, &rstd);
    if (status == AMPC_OK)
        out = norm_finish(__func__, "batch_norm", input, weight, bias, &operands, &layout,
                          mean, rstd, training);
    norm_operands_free(&operands);
    return out;
}
