/* sum, mean, var and amax over dims (ampc/ops_reduce.h), forward and backward. One forward
 * and one backward serve the four: they lay the input out as (outer, size, inner) with
 * reduce_plan.c and switch over the kind to the kernels of src/kernels/reduce.h. */
#include <ampc/ops_reduce.h>

#include <math.h>

#include "autograd/record.h"
#include "core/error.h"
#include "kernels/reduce.h"
#include "ops/op_support.h"
#include "ops/reduce_plan.h"
#include "tensor/tensor_internal.h"

typedef enum reduce_op { REDUCE_OP_SUM, REDUCE_OP_MEAN, REDUCE_OP_VAR, REDUCE_OP_MAX } reduce_op;

static const char *const reduce_op_names[] = {"sum", "mean", "var", "max"};

typedef struct reduce_params {
    reduce_op op;
    reduce_plan plan;
    double correction; /* var only */
} reduce_params;

static ampc_status run_reduce(const char *function, reduce_kind kind, ampc_tensor *out,
                              const ampc_tensor *x, const ampc_tensor *center,
                              const reduce_plan *plan)
{
    return reduce_run(function, kind, out, x, center, plan->outer, plan->size, plan->inner);
}

/* out = x / divisor, elementwise, in place (the compute dtype). */
static void divide_in_place(ampc_tensor *out, double divisor)
{
    int64_t n = ampc_tensor_numel(out);
    if (out->dtype == AMPC_F64) {
        double *data = ampc_tensor_data(out);
        for (int64_t k = 0; k < n; k++) data[k] /= divisor;
    } else {
        float *data = ampc_tensor_data(out);
        for (int64_t k = 0; k < n; k++) data[k] /= (float)divisor;
    }
}

/* The mean of the layout x over its reduced elements, (outer, inner) in the compute dtype. */
static ampc_tensor *layout_mean(const char *function, const ampc_tensor *x,
                                const reduce_plan *plan)
{
    int64_t outputs = plan->outer * plan->inner;
    ampc_tensor *mean = ampc_tensor_new(function, x->dtype, 1, &outputs);
    if (!mean || run_reduce(function, REDUCE_SUM, mean, x, NULL, plan) != AMPC_OK) {
        ampc_tensor_free(mean);
        return NULL;
    }
    divide_in_place(mean, (double)plan->size);
    return mean;
}

/* The reduction of layout x into out (compute dtype, outer * inner elements). */
static ampc_status reduce_compute(const char *function, const reduce_params *params,
                                  ampc_tensor *out, const ampc_tensor *x)
{
    const reduce_plan *plan = &params->plan;
    switch (params->op) {
    case REDUCE_OP_SUM: return run_reduce(function, REDUCE_SUM, out, x, NULL, plan);
    case REDUCE_OP_MEAN:
        if (run_reduce(function, REDUCE_SUM, out, x, NULL, plan) != AMPC_OK)
            return ampc_error_status();
        divide_in_place(out, (double)plan->size);
        return AMPC_OK;
    case REDUCE_OP_MAX: return run_reduce(function, REDUCE_MAX, out, x, NULL, plan);
    case REDUCE_OP_VAR: {
        ampc_tensor *mean = layout_mean(function, x, plan);
        if (!mean) return ampc_error_status();
        ampc_status status = run_reduce(function, REDUCE_SQUARED_DEVIATION, out, x, mean, plan);
        ampc_tensor_free(mean);
        double denominator = (double)plan->size - params->correction;
        if (status == AMPC_OK) divide_in_place(out, denominator > 0 ? denominator : 0.0);
        return status;
    }
    }
    return AMPC_OK;
}

static ampc_status reduce_backward(const ampc_node *node, const ampc_tensor *dout,
                                   ampc_tensor **dinputs);

static ampc_tensor *reduce_forward(const char *function, const reduce_params *params,
                                   const ampc_tensor *a)
{
    const reduce_plan *plan = &params->plan;
    if (params->op == REDUCE_OP_MAX && plan->size == 0 && plan->outer * plan->inner > 0) {
        char shape[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(shape, sizeof shape, plan->ndim, plan->shape);
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "a has shape %s and the reduced dims hold no elements; expected at least "
                  "one element to take the max of", shape);
        return NULL;
    }
    ampc_dtype compute_dtype = ampc_compute_dtype(a->dtype);
    ampc_tensor *x = reduce_plan_layout(function, plan, a);
    ampc_tensor *out = x ? ampc_tensor_new(function, compute_dtype, plan->out_ndim,
                                           plan->out_shape)
                         : NULL;
    if (out && reduce_compute(function, params, out, x) != AMPC_OK) {
        ampc_tensor_free(out);
        out = NULL;
    }
    ampc_tensor_free(x);
    out = ampc_from_compute(function, out, a->dtype);
    if (!out) return NULL;
    const ampc_tensor *inputs[] = {a};
    const ampc_tensor *saved[] = {a, out};
    bool saves = params->op == REDUCE_OP_VAR || params->op == REDUCE_OP_MAX;
    ampc_op_record record = {.name = reduce_op_names[params->op],
                             .backward = reduce_backward,
                             .num_inputs = 1,
                             .inputs = inputs,
                             .num_saved = saves ? 2 : 0,
                             .saved = saves ? saved : NULL,
                             .params = params,
                             .params_size = sizeof *params};
    return ampc_autograd_output(function, out, &record);
}

/* dx in layout order for one op, all tensors in the compute dtype. */
static ampc_status reduce_backward_compute(const char *function, const reduce_params *params,
                                           ampc_tensor *dx, const ampc_tensor *dout,
                                           const ampc_node *node)
{
    const reduce_plan *plan = &params->plan;
    bool f64 = dx->dtype == AMPC_F64;
    if (params->op == REDUCE_OP_SUM || params->op == REDUCE_OP_MEAN) {
        double scale = params->op == REDUCE_OP_MEAN ? 1.0 / (double)plan->size : 1.0;
        if (f64)
            reduce_expand_f64(ampc_tensor_data(dx), ampc_tensor_data(dout), scale, plan->outer,
                              plan->size, plan->inner);
        else
            reduce_expand_f32(ampc_tensor_data(dx), ampc_tensor_data(dout), (float)scale,
                              plan->outer, plan->size, plan->inner);
        return AMPC_OK;
    }
    ampc_tensor *x = reduce_plan_layout(function, plan, ampc_node_saved(node, 0));
    ampc_tensor *other = NULL; /* the mean for var, the max for max */
    if (x && params->op == REDUCE_OP_VAR)
        other = layout_mean(function, x, plan);
    else if (x)
        other = ampc_to_compute(function, ampc_node_saved(node, 1));
    if (!other) {
        ampc_tensor_free(x);
        return ampc_error_status();
    }
    if (params->op == REDUCE_OP_VAR) {
        double denominator = (double)plan->size - params->correction;
        double scale = 2.0 / (denominator > 0 ? denominator : 0.0);
        if (f64)
            reduce_var_backward_f64(ampc_tensor_data(dx), ampc_tensor_data(dout),
                                    ampc_tensor_data(x), ampc_tensor_data(other), scale,
                                    plan->outer, plan->size, plan->inner);
        else
            reduce_var_backward_f32(ampc_tensor_data(dx), ampc_tensor_data(dout),
                                    ampc_tensor_data(x), ampc_tensor_data(other),
                                    (float)scale, plan->outer, plan->size, plan->inner);
    } else if (f64) {
        reduce_max_backward_f64(ampc_tensor_data(dx), ampc_tensor_data(dout),
                                ampc_tensor_data(x), ampc_tensor_data(other), plan->outer,
                                plan->size, plan->inner);
    } else {
        reduce_max_backward_f32(ampc_tensor_data(dx), ampc_tensor_data(dout),
                                ampc_tensor_data(x), ampc_tensor_data(other), plan->outer,
                                plan->size, plan->inner);
    }
    ampc_tensor_free(x);
    ampc_tensor_free(other);
    return AMPC_OK;
}

static ampc_status reduce_backward(const ampc_node *node, const ampc_tensor *dout,
                                   ampc_tensor **dinputs)
{
    const char *function = "reduce_backward";
    const reduce_params *params = ampc_node_params(node);
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    ampc_dtype dtype = ampc_node_input_dtype(node, 0);
    ampc_tensor *dout_compute = ampc_contiguous_as(function, dout, ampc_compute_dtype(dtype));
    ampc_tensor *dx = dout_compute ? reduce_plan_new_layout(function, &params->plan,
                                                            ampc_compute_dtype(dtype))
                                   : NULL;
    if (dx && reduce_backward_compute(function, params, dx, dout_compute, node) != AMPC_OK) {
        ampc_tensor_free(dx);
        dx = NULL;
    }
    ampc_tensor_free(dout_compute);
    dinputs[0] = reduce_plan_unlayout(function, &params->plan, dx, dtype);
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

static ampc_tensor *reduce_op_run(const char *function, reduce_op op, const ampc_tensor *a,
                                  int num_dims, const int *dims, double correction,
                                  bool keepdim)
{
    reduce_params params = {.op = op, .correction = correction};
    if (ampc_check_float_tensor(function, "a", a) != AMPC_OK ||
        reduce_plan_make(function, a, num_dims, dims, keepdim, &params.plan) != AMPC_OK)
        return NULL;
    return reduce_forward(function, &params, a);
}

ampc_tensor *ampc_sum(const ampc_tensor *a, int num_dims, const int *dims, bool keepdim)
{
    return reduce_op_run(__func__, REDUCE_OP_SUM, a, num_dims, dims, 0.0, keepdim);
}

ampc_tensor *ampc_mean(const ampc_tensor *a, int num_dims, const int *dims, bool keepdim)
{
    return reduce_op_run(__func__, REDUCE_OP_MEAN, a, num_dims, dims, 0.0, keepdim);
}

ampc_tensor *ampc_var(const ampc_tensor *a, int num_dims, const int *dims, double correction,
                      bool keepdim)
{
    if (!(correction >= 0 && isfinite(correction))) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "correction is %g; expected a finite value >= 0 (1: unbiased)", correction);
        return NULL;
    }
    return reduce_op_run(__func__, REDUCE_OP_VAR, a, num_dims, dims, correction, keepdim);
}

ampc_tensor *ampc_max(const ampc_tensor *a, int num_dims, const int *dims, bool keepdim)
{
    return reduce_op_run(__func__, REDUCE_OP_MAX, a, num_dims, dims, 0.0, keepdim);
}
