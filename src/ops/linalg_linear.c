/* linear: y = x W^T + b as one GEMM over every row of x, the bias added in the GEMM's fp32
 * epilogue before the one rounding to y's dtype.
 *
 * Backward: dx = dy W, dW = dy^T x (the transpose flag on dy, so the sum over all rows of x is
 * one fp32 chain per weight), db = the column sums of dy, accumulated in fp32 (fp64 for F64)
 * row by row in order. */
#include <ampc/ops_linalg.h>

#include <ampc/autograd.h>
#include <ampc/gemm.h>

#include "autograd/record.h"
#include "core/error.h"
#include "ops/linalg_internal.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

typedef struct linear_sizes {
    int64_t rows, in, out; /* x is (rows, in), weight (out, in), y (rows, out) */
} linear_sizes;

static linear_sizes sizes_of(const ampc_tensor *x, const ampc_tensor *weight)
{
    linear_sizes sizes = {.in = weight->shape[1], .out = weight->shape[0]};
    sizes.rows = ampc_shape_numel(x->ndim - 1, x->shape);
    return sizes;
}

/* dx = dy W: (rows, out) (out, in). */
static ampc_tensor *linear_dx(const ampc_node *node, const linear_sizes *sizes,
                              const ampc_tensor *weight, const ampc_tensor *dout)
{
    ampc_gemm_desc desc = {.m = sizes->rows, .n = sizes->in, .k = sizes->out, .alpha = 1,
                           .a = {dout->dtype, ampc_tensor_data(dout), sizes->out, 0},
                           .b = {weight->dtype, ampc_tensor_data(weight), sizes->in, 0}};
    return linalg_gemm_new(__func__, &desc, ampc_node_input_dtype(node, 0),
                           ampc_node_input_ndim(node, 0), ampc_node_input_shape(node, 0));
}

/* dW = dy^T x: (out, rows) (rows, in), dy read through the transpose flag. */
static ampc_tensor *linear_dweight(const ampc_node *node, const linear_sizes *sizes,
                                   const ampc_tensor *x, const ampc_tensor *dout)
{
    ampc_gemm_desc desc = {.transpose_a = AMPC_TRANSPOSE, .m = sizes->out, .n = sizes->in,
                           .k = sizes->rows, .alpha = 1,
                           .a = {dout->dtype, ampc_tensor_data(dout), sizes->out, 0},
                           .b = {x->dtype, ampc_tensor_data(x), sizes->in, 0}};
    return linalg_gemm_new(__func__, &desc, ampc_node_input_dtype(node, 1), 2,
                           (int64_t[]){sizes->out, sizes->in});
}

/* db = column sums of dy, in the compute dtype. */
static ampc_tensor *linear_dbias(const ampc_node *node, const linear_sizes *sizes,
                                 const ampc_tensor *dout)
{
    ampc_tensor *computed = ampc_to_compute(__func__, dout);
    ampc_tensor *sums = computed ? linalg_column_sums(__func__, computed, sizes->rows, sizes->out)
                                 : NULL;
    ampc_tensor_free(computed);
    return ampc_from_compute(__func__, sums, ampc_node_input_dtype(node, 2));
}

static ampc_status linear_backward(const ampc_node *node, const ampc_tensor *dout,
                                   ampc_tensor **dinputs)
{
    /* Saved: x and weight as the forward multiplied them (contiguous, promoted). */
    const ampc_tensor *x = ampc_node_saved(node, 0), *weight = ampc_node_saved(node, 1);
    linear_sizes sizes = sizes_of(x, weight);
    if (ampc_node_needs_grad(node, 0) && !(dinputs[0] = linear_dx(node, &sizes, weight, dout)))
        return ampc_error_status();
    if (ampc_node_needs_grad(node, 1) &&
        !(dinputs[1] = linear_dweight(node, &sizes, x, dout)))
        return ampc_error_status();
    if (ampc_node_num_inputs(node) > 2 && ampc_node_needs_grad(node, 2) &&
        !(dinputs[2] = linear_dbias(node, &sizes, dout)))
        return ampc_error_status();
    return AMPC_OK;
}

static ampc_status check_linear(const char *function, const ampc_tensor *x,
                                const ampc_tensor *weight, const ampc_tensor *bias)
{
    if (ampc_check_float_tensor(function, "x", x) != AMPC_OK ||
        ampc_check_float_tensor(function, "weight", weight) != AMPC_OK ||
        (bias && ampc_check_float_tensor(function, "bias", bias) != AMPC_OK))
        return ampc_error_status();
    char x_shape[AMPC_SHAPE_TEXT_CAPACITY], weight_shape[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(x_shape, sizeof x_shape, x->ndim, x->shape);
    ampc_format_shape(weight_shape, sizeof weight_shape, weight->ndim, weight->shape);
    if (x->ndim == 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "x has shape [] (0 dims); expected (..., in_features), at least 1 dim");
    if (weight->ndim != 2)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "weight has shape %s; expected 2 dims (out_features, in_features)",
                         weight_shape);
    if (weight->shape[1] != x->shape[x->ndim - 1])
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "x has shape %s and weight has shape %s; expected weight's dim 1 "
                         "(in_features, %lld) to equal x's last dim (%lld)",
                         x_shape, weight_shape, (long long)weight->shape[1],
                         (long long)x->shape[x->ndim - 1]);
    if (bias && (bias->ndim != 1 || bias->shape[0] != weight->shape[0])) {
        char bias_shape[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(bias_shape, sizeof bias_shape, bias->ndim, bias->shape);
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "bias has shape %s and weight has shape %s; expected bias of shape "
                         "[%lld] (out_features)",
                         bias_shape, weight_shape, (long long)weight->shape[0]);
    }
    return AMPC_OK;
}

ampc_tensor *ampc_linear(const ampc_tensor *x, const ampc_tensor *weight,
                         const ampc_tensor *bias)
{
    if (check_linear(__func__, x, weight, bias) != AMPC_OK) return NULL;
    ampc_dtype dtype = ampc_promote_float(x->dtype, weight->dtype);
    if (bias) dtype = ampc_promote_float(dtype, bias->dtype);
    int64_t shape[AMPC_MAX_DIMS];
    for (int dim = 0; dim < x->ndim; dim++) shape[dim] = x->shape[dim];
    shape[x->ndim - 1] = weight->shape[0];
    if (ampc_shape_checked_numel(__func__, dtype, x->ndim, shape) < 0) return NULL;
    ampc_tensor *x_c = ampc_contiguous_as(__func__, x, dtype);
    ampc_tensor *weight_c = ampc_contiguous_as(__func__, weight, dtype);
    /* The epilogue adds a compute-dtype bias: F16/BF16 biases widen exactly. */
    ampc_tensor *bias_c = bias ? ampc_contiguous_as(__func__, bias, ampc_compute_dtype(dtype))
                               : NULL;
    ampc_tensor *out = NULL;
    if (x_c && weight_c && (bias_c || !bias)) {
        linear_sizes sizes = sizes_of(x, weight);
        ampc_gemm_desc desc = {.transpose_b = AMPC_TRANSPOSE, .m = sizes.rows, .n = sizes.out,
                               .k = sizes.in, .alpha = 1,
                               .a = {dtype, ampc_tensor_data(x_c), sizes.in, 0},
                               .b = {dtype, ampc_tensor_data(weight_c), sizes.in, 0},
                               .bias = bias_c ? ampc_tensor_data(bias_c) : NULL,
                               .bias_dtype = ampc_compute_dtype(dtype)};
        out = linalg_gemm_new(__func__, &desc, dtype, x->ndim, shape);
    }
    ampc_status status = out ? AMPC_OK : ampc_error_status();
    if (status == AMPC_OK) {
        const ampc_tensor *inputs[] = {x, weight, bias}, *saved[] = {x_c, weight_c};
        ampc_op_record record = {.name = "linear", .backward = linear_backward,
                                 .num_inputs = bias ? 3 : 2, .inputs = inputs,
                                 .num_saved = 2, .saved = saved};
        status = ampc_autograd_record(__func__, out, &record);
    }
    ampc_tensor_free(x_c);
    ampc_tensor_free(weight_c);
    ampc_tensor_free(bias_c);
    if (status != AMPC_OK) {
        ampc_tensor_free(out);
        return NULL;
    }
    return out;
}
