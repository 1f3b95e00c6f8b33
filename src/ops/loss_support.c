/* Shared pieces of the loss ops (loss_support.h). */
#include "ops/loss_support.h"

#include <inttypes.h>
#include <stdio.h>

#include "core/error.h"
#include "ops/op_support.h"
#include "ops/reduce_plan.h"
#include "tensor/tensor_internal.h"

ampc_status loss_check_reduction(const char *function, ampc_reduction reduction)
{
    if ((int)reduction >= 0 && reduction < AMPC_REDUCTION_COUNT) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "reduction is %d; expected AMPC_REDUCTION_MEAN (0), AMPC_REDUCTION_SUM "
                     "(1) or AMPC_REDUCTION_NONE (2)",
                     (int)reduction);
}

static ampc_status check_class_shapes(const char *function, const char *input_name,
                                      const ampc_tensor *input, const ampc_tensor *target,
                                      class_layout *layout)
{
    char input_shape[AMPC_SHAPE_TEXT_CAPACITY], target_shape[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(input_shape, sizeof input_shape, input->ndim, input->shape);
    ampc_format_shape(target_shape, sizeof target_shape, target->ndim, target->shape);
    if (input->ndim == 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "%s has shape []; expected (C), (N, C) or (N, C, d1, ...)",
                         input_name);
    *layout = (class_layout){.n = 1, .inner = 1, .target_ndim = input->ndim - 1};
    bool batched = input->ndim >= 2;
    layout->classes = input->shape[batched ? 1 : 0];
    for (int d = 0; d < input->ndim; d++) {
        if (d == (batched ? 1 : 0)) continue;
        layout->target_shape[d < 1 ? 0 : d - 1] = input->shape[d];
        if (d == 0) layout->n = input->shape[0];
        else layout->inner *= input->shape[d];
    }
    bool matches = target->ndim == layout->target_ndim;
    for (int d = 0; matches && d < target->ndim; d++)
        matches = target->shape[d] == layout->target_shape[d];
    if (matches) return AMPC_OK;
    char expected[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(expected, sizeof expected, layout->target_ndim, layout->target_shape);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "target has shape %s and %s has shape %s; expected target shape %s (%s "
                     "without its class dim)",
                     target_shape, input_name, input_shape, expected, input_name);
}

/* Every target is a class in [0, C) or ignore_index; counts the ones that are not ignored. */
static ampc_status check_class_range(const char *function, const ampc_tensor *indices,
                                     int64_t ignore_index, class_layout *layout)
{
    const int64_t *target = ampc_tensor_data(indices);
    int64_t count = ampc_tensor_numel(indices);
    layout->counted = 0;
    for (int64_t k = 0; k < count; k++) {
        if (target[k] == ignore_index) continue;
        if (target[k] >= 0 && target[k] < layout->classes) {
            layout->counted++;
            continue;
        }
        int64_t index[AMPC_MAX_DIMS], remaining = k; /* k's position in the target */
        for (int d = layout->target_ndim - 1; d >= 0; d--) {
            index[d] = remaining % layout->target_shape[d];
            remaining /= layout->target_shape[d];
        }
        char position[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(position, sizeof position, layout->target_ndim, index);
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "target%s is %" PRId64 "; expected a class index from 0 to %" PRId64
                         " (C = %" PRId64 ") or ignore_index %" PRId64,
                         position, target[k], layout->classes - 1, layout->classes,
                         ignore_index);
    }
    return AMPC_OK;
}

ampc_tensor *loss_class_targets(const char *function, const char *input_name,
                                const ampc_tensor *input, const ampc_tensor *target,
                                int64_t ignore_index, class_layout *layout)
{
    if (ampc_check_float_tensor(function, input_name, input) != AMPC_OK) return NULL;
    if (!target) return ampc_null_tensor(function, "target");
    if (target->dtype != AMPC_I64 && target->dtype != AMPC_I32) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "target dtype %s; expected I64 or I32 class indices",
                  ampc_dtype_name(target->dtype));
        return NULL;
    }
    if (check_class_shapes(function, input_name, input, target, layout) != AMPC_OK)
        return NULL;
    ampc_tensor *indices = ampc_tensor_cast(target, AMPC_I64);
    if (indices && check_class_range(function, indices, ignore_index, layout) != AMPC_OK) {
        ampc_tensor_free(indices);
        return NULL;
    }
    return indices;
}

ampc_tensor *loss_reduce(const char *function, ampc_tensor *losses, ampc_reduction reduction,
                         int64_t divisor, int ndim, const int64_t *shape, ampc_dtype dtype)
{
    if (!losses) return NULL;
    if (reduction == AMPC_REDUCTION_NONE) {
        ampc_tensor *shaped = ampc_tensor_view(losses, ndim, shape);
        ampc_tensor_free(losses);
        return ampc_from_compute(function, shaped, dtype);
    }
    ampc_tensor *total = ampc_tensor_new(function, losses->dtype, 0, NULL);
    int64_t count = ampc_tensor_numel(losses);
    if (total && reduce_run(function, REDUCE_SUM, total, losses, NULL, 1, count, 1) != AMPC_OK) {
        ampc_tensor_free(total);
        total = NULL;
    }
    ampc_tensor_free(losses);
    if (total && reduction == AMPC_REDUCTION_MEAN) {
        /* 0 / 0 gives NaN when nothing is counted, as PyTorch's mean does. */
        if (total->dtype == AMPC_F64)
            *(double *)ampc_tensor_data(total) /= (double)divisor;
        else
            *(float *)ampc_tensor_data(total) /= (float)divisor;
    }
    return ampc_from_compute(function, total, dtype);
}

#define LOSS_UPSTREAM_OF(real, suffix)                                                         \
    loss_upstream_##suffix loss_upstream_of_##suffix(const ampc_tensor *dout,                 \
                                                     ampc_reduction reduction,                \
                                                     int64_t divisor)                         \
    {                                                                                          \
        bool elementwise = reduction == AMPC_REDUCTION_NONE;                                   \
        real scale = reduction == AMPC_REDUCTION_MEAN ? (real)1 / (real)divisor : (real)1;    \
        return (loss_upstream_##suffix){.data = ampc_tensor_data(dout),                       \
                                        .stride = elementwise ? 1 : 0,                        \
                                        .scale = scale};                                      \
    }
LOSS_UPSTREAM_OF(float, f32)
LOSS_UPSTREAM_OF(double, f64)
