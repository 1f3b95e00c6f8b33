/* softmax and log_softmax along one dim (ampc/ops_reduce.h), forward and backward. The input
 * is seen as (outer, C, inner) around the dim, which needs no copy; the common case, the
 * last dim of a contiguous tensor (inner = 1), runs along contiguous rows. The backward reads
 * the saved output: softmax dx = y (dy - sum(dy y)), log_softmax dx = dy - exp(y) sum(dy). */
#include <ampc/ops_reduce.h>

#include "autograd/record.h"
#include "core/error.h"
#include "kernels/reduce.h"
#include "ops/op_support.h"
#include "ops/reduce_plan.h"
#include "tensor/tensor_internal.h"

typedef struct softmax_params {
    int64_t outer, classes, inner;
    bool log_space;
} softmax_params;

static ampc_status softmax_backward(const ampc_node *node, const ampc_tensor *dout,
                                    ampc_tensor **dinputs)
{
    const char *function = "softmax_backward";
    const softmax_params *params = ampc_node_params(node);
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    ampc_dtype dtype = ampc_node_input_dtype(node, 0), compute_dtype = ampc_compute_dtype(dtype);
    ampc_tensor *dy = ampc_contiguous_as(function, dout, compute_dtype);
    ampc_tensor *y = dy ? ampc_contiguous_as(function, ampc_node_saved(node, 0), compute_dtype)
                        : NULL;
    ampc_tensor *dx = y ? ampc_tensor_new(function, compute_dtype, y->ndim, y->shape) : NULL;
    if (dx && compute_dtype == AMPC_F64)
        softmax_backward_f64(ampc_tensor_data(dx), ampc_tensor_data(dy), ampc_tensor_data(y),
                             params->outer, params->classes, params->inner, params->log_space);
    else if (dx)
        softmax_backward_f32(ampc_tensor_data(dx), ampc_tensor_data(dy), ampc_tensor_data(y),
                             params->outer, params->classes, params->inner, params->log_space);
    ampc_tensor_free(dy);
    ampc_tensor_free(y);
    dinputs[0] = ampc_from_compute(function, dx, dtype);
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

static ampc_tensor *softmax_run(const char *function, const ampc_tensor *a, int dim,
                                bool log_space)
{
    if (ampc_check_float_tensor(function, "a", a) != AMPC_OK) return NULL;
    int wrapped;
    if (reduce_wrap_dim(function, "dim", dim, a->ndim, &wrapped) != AMPC_OK)
        return NULL;
    softmax_params params = {.outer = 1, .classes = 1, .inner = 1, .log_space = log_space};
    for (int d = 0; d < a->ndim; d++) {
        if (d < wrapped) params.outer *= a->shape[d];
        else if (d == wrapped) params.classes = a->shape[d];
        else params.inner *= a->shape[d];
    }
    ampc_tensor *x = ampc_to_compute(function, a);
    ampc_tensor *y = x ? ampc_tensor_new(function, x->dtype, a->ndim, a->shape) : NULL;
    if (y && y->dtype == AMPC_F64)
        softmax_forward_f64(ampc_tensor_data(y), ampc_tensor_data(x), params.outer,
                            params.classes, params.inner, log_space);
    else if (y)
        softmax_forward_f32(ampc_tensor_data(y), ampc_tensor_data(x), params.outer,
                            params.classes, params.inner, log_space);
    ampc_tensor_free(x);
    ampc_tensor *out = ampc_from_compute(function, y, a->dtype);
    if (!out) return NULL;
    const ampc_tensor *inputs[] = {a};
    const ampc_tensor *saved[] = {out};
    ampc_op_record record = {.name = log_space ? "log_softmax" : "softmax",
                             .backward = softmax_backward,
                             .num_inputs = 1,
                             .inputs = inputs,
                             .num_saved = 1,
                             .saved = saved,
                             .params = &params,
                             .params_size = sizeof params};
    return ampc_autograd_output(function, out, &record);
}

ampc_tensor *ampc_softmax(const ampc_tensor *a, int dim)
{
    return softmax_run(__func__, a, dim, false);
}

ampc_tensor *ampc_log_softmax(const ampc_tensor *a, int dim)
{
    return softmax_run(__func__, a, dim, true);
}
