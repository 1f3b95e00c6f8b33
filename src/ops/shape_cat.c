/* cat and stack: inputs copied side by side into one new tensor.
 *
 * Both share one forward (copy input i into its window of the result) and one backward (cut
 * the gradient into the same windows, each converted to its input's dtype). stack is a cat
 * along a new size-1 dim per input, so its windows have width 1 and drop that dim on the way
 * back. Mixed float dtypes promote as in torch.cat; the copies convert exactly (widening) or
 * round once (to a narrower input's dtype, in the backward). */
#include <ampc/ops_shape.h>

#include <stdio.h>

#include <ampc/autograd.h>

#include "autograd/record.h"
#include "core/error.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

typedef struct cat_params {
    int dim;      /* wrapped, in the result's dims */
    bool stacked; /* stack: every input is one slice of dim, which it lacks */
} cat_params;

/* The width of input i's window along dim. */
static int64_t window_width(const cat_params *params, const int64_t *input_shape)
{
    return params->stacked ? 1 : input_shape[params->dim];
}

static ampc_status cat_backward(const ampc_node *node, const ampc_tensor *dout,
                                ampc_tensor **dinputs)
{
    const cat_params *params = ampc_node_params(node);
    int64_t offset = 0;
    for (int input = 0; input < ampc_node_num_inputs(node); input++) {
        const int64_t *shape = ampc_node_input_shape(node, input);
        int64_t width = window_width(params, shape);
        if (ampc_node_needs_grad(node, input)) {
            ampc_tensor *window = ampc_tensor_narrow(dout, params->dim, offset, width);
            ampc_tensor *piece =
                ampc_contiguous_as(__func__, window, ampc_node_input_dtype(node, input));
            dinputs[input] = ampc_tensor_view(piece, ampc_node_input_ndim(node, input), shape);
            ampc_tensor_free(window);
            ampc_tensor_free(piece);
            if (!dinputs[input]) return ampc_error_status();
        }
        offset += width;
    }
    return AMPC_OK;
}

/* The result's dtype: the inputs' one dtype, or the promotion of float dtypes. */
static ampc_status common_dtype(const char *function, int n, const ampc_tensor *const *tensors,
                                ampc_dtype *dtype)
{
    *dtype = tensors[0]->dtype;
    bool all_same = true;
    for (int i = 1; i < n; i++) all_same &= tensors[i]->dtype == *dtype;
    if (all_same) return AMPC_OK;
    for (int i = 0; i < n; i++) {
        if (!ampc_dtype_is_differentiable(tensors[i]->dtype))
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "tensors[%d] has dtype %s among inputs of several dtypes; "
                             "expected one dtype for all, or float dtypes (F64, F32, F16, "
                             "BF16), which promote",
                             i, ampc_dtype_name(tensors[i]->dtype));
        *dtype = i == 0 ? tensors[0]->dtype : ampc_promote_float(*dtype, tensors[i]->dtype);
    }
    return AMPC_OK;
}

/* Non-NULL array and tensors, and n >= 1. */
static ampc_status check_list(const char *function, int n, const ampc_tensor *const *tensors)
{
    if (n < 1)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "n is %d; expected at least one tensor", n);
    if (!tensors) return ampc_fail_null(function, "tensors");
    for (int i = 0; i < n; i++) {
        if (tensors[i]) continue;
        char argument[32];
        snprintf(argument, sizeof argument, "tensors[%d]", i);
        return ampc_fail_null(function, argument);
    }
    return AMPC_OK;
}

/* cat: same ndim (>= 1) and the same sizes except along dim. */
static ampc_status check_cat_shapes(const char *function, int n,
                                    const ampc_tensor *const *tensors, int dim)
{
    const ampc_tensor *first = tensors[0];
    char first_shape[AMPC_SHAPE_TEXT_CAPACITY], shape[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(first_shape, sizeof first_shape, first->ndim, first->shape);
    for (int i = 1; i < n; i++) {
        const ampc_tensor *tensor = tensors[i];
        ampc_format_shape(shape, sizeof shape, tensor->ndim, tensor->shape);
        if (tensor->ndim != first->ndim)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "tensors[%d] has shape %s (%d dims) but tensors[0] has shape %s "
                             "(%d dims); expected the same number of dims",
                             i, shape, tensor->ndim, first_shape, first->ndim);
        for (int d = 0; d < first->ndim; d++)
            if (d != dim && tensor->shape[d] != first->shape[d])
                return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                                 "tensors[%d] has shape %s but tensors[0] has shape %s; "
                                 "expected the same size in every dim but dim %d (they "
                                 "differ in dim %d)",
                                 i, shape, first_shape, dim, d);
    }
    return AMPC_OK;
}

/* stack: one shape for all. */
static ampc_status check_stack_shapes(const char *function, int n,
                                      const ampc_tensor *const *tensors)
{
    const ampc_tensor *first = tensors[0];
    char first_shape[AMPC_SHAPE_TEXT_CAPACITY], shape[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(first_shape, sizeof first_shape, first->ndim, first->shape);
    for (int i = 1; i < n; i++) {
        const ampc_tensor *tensor = tensors[i];
        bool same = tensor->ndim == first->ndim;
        for (int d = 0; same && d < first->ndim; d++) same = tensor->shape[d] == first->shape[d];
        if (same) continue;
        ampc_format_shape(shape, sizeof shape, tensor->ndim, tensor->shape);
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "tensors[%d] has shape %s but tensors[0] has shape %s; expected "
                         "every tensor to have the same shape",
                         i, shape, first_shape);
    }
    return AMPC_OK;
}

/* Copies each input into its window of out (width 1 without the dim for stack). */
static ampc_status fill_windows(const char *function, ampc_tensor *out, int n,
                                const ampc_tensor *const *tensors, const cat_params *params)
{
    int64_t offset = 0;
    for (int i = 0; i < n; i++) {
        int64_t width = window_width(params, tensors[i]->shape);
        ampc_tensor *window = ampc_tensor_narrow(out, params->dim, offset, width);
        ampc_tensor *target =
            params->stacked ? ampc_tensor_view(window, tensors[i]->ndim, tensors[i]->shape)
                            : window;
        ampc_status status = target ? ampc_tensor_copy(target, tensors[i]) : ampc_error_status();
        if (target != window) ampc_tensor_free(target);
        ampc_tensor_free(window);
        if (status != AMPC_OK) return ampc_fail(status, function, "could not copy tensors[%d]", i);
        offset += width;
    }
    return AMPC_OK;
}

static ampc_tensor *join(const char *function, int n, const ampc_tensor *const *tensors,
                         const cat_params *params, int ndim, const int64_t *shape)
{
    ampc_dtype dtype;
    if (common_dtype(function, n, tensors, &dtype) != AMPC_OK) return NULL;
    if (ampc_shape_checked_numel(function, dtype, ndim, shape) < 0) return NULL;
    ampc_tensor *out = ampc_tensor_new(function, dtype, ndim, shape);
    if (!out) return NULL;
    ampc_op_record record = {.name = params->stacked ? "stack" : "cat",
                             .backward = cat_backward, .num_inputs = n, .inputs = tensors,
                             .params = params, .params_size = sizeof *params};
    if (fill_windows(function, out, n, tensors, params) != AMPC_OK ||
        ampc_autograd_record(function, out, &record) != AMPC_OK) {
        ampc_tensor_free(out);
        return NULL;
    }
    return out;
}

ampc_tensor *ampc_cat(int n, const ampc_tensor *const *tensors, int dim)
{
    if (check_list(__func__, n, tensors) != AMPC_OK) return NULL;
    const ampc_tensor *first = tensors[0];
    if (first->ndim == 0) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "tensors[0] has 0 dims; expected tensors of at least 1 dim (use ampc_stack "
                  "to join scalars)");
        return NULL;
    }
    cat_params params = {.stacked = false};
    if (ampc_wrap_dim(__func__, "dim", dim, first->ndim, &params.dim) != AMPC_OK ||
        check_cat_shapes(__func__, n, tensors, params.dim) != AMPC_OK)
        return NULL;
    int64_t shape[AMPC_MAX_DIMS];
    for (int d = 0; d < first->ndim; d++) shape[d] = first->shape[d];
    shape[params.dim] = 0;
    for (int i = 0; i < n; i++) {
        if (!__builtin_add_overflow(shape[params.dim], tensors[i]->shape[params.dim],
                                    &shape[params.dim]))
            continue;
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "the sizes along dim %d add up beyond 64 bits; expected a result that fits",
                  params.dim);
        return NULL;
    }
    return join(__func__, n, tensors, &params, first->ndim, shape);
}

ampc_tensor *ampc_stack(int n, const ampc_tensor *const *tensors, int dim)
{
    if (check_list(__func__, n, tensors) != AMPC_OK) return NULL;
    const ampc_tensor *first = tensors[0];
    if (first->ndim + 1 > AMPC_MAX_DIMS) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "tensors[0] has %d dims; expected at most %d (the result gets one more, up "
                  "to AMPC_MAX_DIMS)",
                  first->ndim, AMPC_MAX_DIMS - 1);
        return NULL;
    }
    cat_params params = {.stacked = true};
    if (ampc_wrap_dim(__func__, "dim", dim, first->ndim + 1, &params.dim) != AMPC_OK ||
        check_stack_shapes(__func__, n, tensors) != AMPC_OK)
        return NULL;
    int64_t shape[AMPC_MAX_DIMS];
    for (int d = 0, source = 0; d <= first->ndim; d++)
        shape[d] = d == params.dim ? n : first->shape[source++];
    return join(__func__, n, tensors, &params, first->ndim + 1, shape);
}
