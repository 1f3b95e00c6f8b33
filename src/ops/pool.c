/* max_pool2d, avg_pool2d and adaptive_avg_pool2d (ampc/ops_conv.h): argument checks, output
 * sizes, autograd records and backward functions. The loops are src/kernels/pool.c's.
 *
 * The pools compute in the compute dtype (F32, F64 for F64) on a contiguous copy and round the
 * result once. The max pool saves its input and recomputes each window's argmax in the
 * backward instead of saving indices: the same kernel on the same values finds the same
 * position, and nothing but the input stays alive. The averages save nothing. */
#include <ampc/ops_conv.h>

#include <stdio.h>

#include "autograd/record.h"
#include "core/error.h"
#include "kernels/pool.h"
#include "ops/conv_support.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

typedef struct pool_params {
    ampc_pool_kind kind;
    ampc_pool_shape shape;
    int64_t planes; /* N C */
} pool_params;

ampc_pool2d_options ampc_pool2d_defaults(int64_t kernel_h, int64_t kernel_w)
{
    return (ampc_pool2d_options){.kernel = {kernel_h, kernel_w},
                                 .stride = {kernel_h, kernel_w},
                                 .dilation = {1, 1},
                                 .count_include_pad = true};
}

/* A float tensor (N, C, H, W) or (C, H, W) with C, H, W >= 1 (N may be 0). */
static ampc_status check_input(const char *function, const ampc_tensor *input)
{
    ampc_status status = ampc_check_float_tensor(function, "input", input);
    if (status != AMPC_OK) return status;
    int ndim = input->ndim;
    bool sizes_ok = ndim == 3 || ndim == 4;
    for (int d = ndim - 3; sizes_ok && d < ndim; d++) sizes_ok = input->shape[d] >= 1;
    if (sizes_ok) return AMPC_OK;
    char text[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(text, sizeof text, ndim, input->shape);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "input has shape %s; expected (N, C, H, W) or (C, H, W) with C, H "
                     "and W >= 1 (only the batch may be empty)",
                     text);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* PyTorch's pooling_output_shape: in ceil_mode the last window must start inside the input or
 * its left padding. False when huge options overflow int64. */
static bool pool_output_size(int64_t size, int64_t kernel, int64_t pad, int64_t stride,
                             int64_t dilation, bool ceil_mode, int64_t *out)
{
    /* (size + 2 pad - (dilation (kernel - 1) + 1) [+ stride - 1]) / stride + 1 */
    int64_t padded, span, numerator;
    if (!ampc_conv_mul_add(2, pad, size, &padded) ||
        !ampc_conv_mul_add(dilation, kernel - 1, 1, &span) ||
        __builtin_add_overflow(padded - span, ceil_mode ? stride - 1 : 0, &numerator))
        return false;
    *out = floor_div(numerator, stride) + 1;
    if (ceil_mode && (*out - 1) * stride >= size + pad) --*out;
    return true;
}

/* Validates options for input and fills the pool's shape (0 strides and dilations mean the
 * kernel and 1). */
static ampc_status prepare_windows(const char *function, const ampc_tensor *input,
                                   const ampc_pool2d_options *o, bool dilated, ampc_pool_shape *s)
{
    if (!o) return ampc_fail_null(function, "options");
    ampc_status status = ampc_conv_check_pair(function, "kernel", o->kernel, 1);
    if (status == AMPC_OK) status = ampc_conv_check_pair(function, "stride", o->stride, 0);
    if (status == AMPC_OK) status = ampc_conv_check_pair(function, "padding", o->padding, 0);
    if (status == AMPC_OK) status = ampc_conv_check_pair(function, "dilation", o->dilation, 0);
    if (status != AMPC_OK) return status;
    if (!dilated && (o->dilation[0] > 1 || o->dilation[1] > 1))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "options->dilation is [%lld, %lld]; expected [1, 1] (or 0) for "
                         "an average pool",
                         (long long)o->dilation[0], (long long)o->dilation[1]);
    if (o->padding[0] > o->kernel[0] / 2 || o->padding[1] > o->kernel[1] / 2)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "options->padding is [%lld, %lld]; expected at most half the "
                         "kernel [%lld, %lld], rounded down",
                         (long long)o->padding[0], (long long)o->padding[1],
                         (long long)o->kernel[0], (long long)o->kernel[1]);
    int ndim = input->ndim;
    *s = (ampc_pool_shape){.in_h = input->shape[ndim - 2],
                           .in_w = input->shape[ndim - 1],
                           .kernel_h = o->kernel[0],
                           .kernel_w = o->kernel[1],
                           .stride_h = o->stride[0] ? o->stride[0] : o->kernel[0],
                           .stride_w = o->stride[1] ? o->stride[1] : o->kernel[1],
                           .pad_h = o->padding[0],
                           .pad_w = o->padding[1],
                           .dilation_h = o->dilation[0] ? o->dilation[0] : 1,
                           .dilation_w = o->dilation[1] ? o->dilation[1] : 1,
                           .count_include_pad = o->count_include_pad};
    if (!pool_output_size(s->in_h, s->kernel_h, s->pad_h, s->stride_h, s->dilation_h, o->ceil_mode,
                          &s->out_h)) {
        ampc_conv_fail_too_large(function, "height");
        return AMPC_ERR_INVALID_ARGUMENT;
    }
    if (!pool_output_size(s->in_w, s->kernel_w, s->pad_w, s->stride_w, s->dilation_w, o->ceil_mode,
                          &s->out_w)) {
        ampc_conv_fail_too_large(function, "width");
        return AMPC_ERR_INVALID_ARGUMENT;
    }
    if (s->out_h >= 1 && s->out_w >= 1) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "the output would be %lld x %lld for an input of %lld x %lld (kernel "
                     "[%lld, %lld], stride [%lld, %lld], padding [%lld, %lld], dilation "
                     "[%lld, %lld]); expected >= 1 x 1: the output size is too small",
                     (long long)s->out_h, (long long)s->out_w, (long long)s->in_h,
                     (long long)s->in_w, (long long)s->kernel_h, (long long)s->kernel_w,
                     (long long)s->stride_h, (long long)s->stride_w, (long long)s->pad_h,
                     (long long)s->pad_w, (long long)s->dilation_h, (long long)s->dilation_w);
}

static ampc_status pool_backward(const ampc_node *node, const ampc_tensor *dout,
                                 ampc_tensor **dinputs)
{
    const char *function = "pool2d_backward";
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    const pool_params *p = ampc_node_params(node);
    ampc_tensor *d = ampc_to_compute(function, dout);
    ampc_tensor *x =
        p->kind == AMPC_POOL_MAX ? ampc_to_compute(function, ampc_node_saved(node, 0)) : NULL;
    ampc_dtype compute = ampc_compute_dtype(ampc_tensor_dtype(dout));
    ampc_tensor *dx =
        d && (x || p->kind != AMPC_POOL_MAX)
            ? ampc_conv_compute_zeros(function, compute, ampc_node_input_dtype(node, 0),
                                      ampc_node_input_ndim(node, 0), ampc_node_input_shape(node, 0))
            : NULL;
    if (dx)
        ampc_pool2d_backward(p->kind, compute, ampc_tensor_data(dx), ampc_tensor_data(d),
                             x ? ampc_tensor_data(x) : NULL, p->planes, &p->shape);
    ampc_tensor_free(d);
    ampc_tensor_free(x);
    dinputs[0] = ampc_from_compute(function, dx, ampc_node_input_dtype(node, 0));
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

/* Runs a validated pool and records it. */
static ampc_tensor *pool(const char *function, const char *name, const ampc_tensor *input,
                         ampc_pool_kind kind, const ampc_pool_shape *shape)
{
    int ndim = input->ndim;
    pool_params params = {
        .kind = kind, .shape = *shape, .planes = ampc_shape_numel(ndim - 2, input->shape)};
    int64_t out_shape[4];
    for (int d = 0; d < ndim - 2; d++) out_shape[d] = input->shape[d];
    out_shape[ndim - 2] = shape->out_h;
    out_shape[ndim - 1] = shape->out_w;
    ampc_tensor *x = ampc_to_compute(function, input);
    ampc_tensor *out =
        x ? ampc_conv_compute_zeros(function, ampc_tensor_dtype(x), input->dtype, ndim, out_shape)
          : NULL;
    if (out)
        ampc_pool2d_forward(kind, ampc_tensor_dtype(x), ampc_tensor_data(out), ampc_tensor_data(x),
                            params.planes, shape);
    ampc_tensor_free(x);
    out = ampc_from_compute(function, out, input->dtype);
    if (!out) return NULL;
    const ampc_tensor *inputs[] = {input};
    ampc_op_record record = {.name = name,
                             .backward = pool_backward,
                             .num_inputs = 1,
                             .inputs = inputs,
                             .num_saved = kind == AMPC_POOL_MAX ? 1 : 0,
                             .saved = inputs,
                             .params = &params,
                             .params_size = sizeof params};
    return ampc_autograd_output(function, out, &record);
}

ampc_tensor *ampc_max_pool2d(const ampc_tensor *input, const ampc_pool2d_options *options)
{
    ampc_pool_shape shape;
    if (check_input(__func__, input) != AMPC_OK ||
        prepare_windows(__func__, input, options, true, &shape) != AMPC_OK)
        return NULL;
    return pool(__func__, "max_pool2d", input, AMPC_POOL_MAX, &shape);
}

ampc_tensor *ampc_avg_pool2d(const ampc_tensor *input, const ampc_pool2d_options *options)
{
    ampc_pool_shape shape;
    if (check_input(__func__, input) != AMPC_OK ||
        prepare_windows(__func__, input, options, false, &shape) != AMPC_OK)
        return NULL;
    return pool(__func__, "avg_pool2d", input, AMPC_POOL_AVG, &shape);
}

ampc_tensor *ampc_adaptive_avg_pool2d(const ampc_tensor *input, int64_t out_h, int64_t out_w)
{
    if (check_input(__func__, input) != AMPC_OK) return NULL;
    if (out_h < 0 || out_w < 0 || out_h == INT64_MAX || out_w == INT64_MAX) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "output size is [%lld, %lld]; expected each >= 0 and < 2^63 - 1",
                  (long long)out_h, (long long)out_w);
        return NULL;
    }
    int ndim = input->ndim;
    ampc_pool_shape shape = {.in_h = input->shape[ndim - 2],
                             .in_w = input->shape[ndim - 1],
                             .out_h = out_h,
                             .out_w = out_w};
    /* The cells' bounds compute (i + 1) H + OH - 1 (kernels/pool.c). */
    int64_t bound;
    if (!ampc_conv_mul_add(out_h + 1, shape.in_h, out_h, &bound)) {
        ampc_conv_fail_too_large(__func__, "height");
        return NULL;
    }
    if (!ampc_conv_mul_add(out_w + 1, shape.in_w, out_w, &bound)) {
        ampc_conv_fail_too_large(__func__, "width");
        return NULL;
    }
    return pool(__func__, "adaptive_avg_pool2d", input, AMPC_POOL_ADAPTIVE_AVG, &shape);
}
