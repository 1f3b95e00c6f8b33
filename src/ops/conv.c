/* conv2d and conv_transpose2d (ampc/ops_conv.h): argument checks, dtype handling, autograd
 * records and backward functions. The arithmetic is conv_lowering.c's.
 *
 * Both ops are described by one convolution geometry seen from conv2d's side (image ->
 * result). conv2d runs the geometry forward; conv_transpose2d is its adjoint, so its forward is
 * conv2d's input gradient (the transposed op's input plays the conv's result, its output the
 * conv's image) and its input gradient is conv2d's forward. The weight gradient is the same
 * product for both, with image and result swapped accordingly.
 *
 * The GEMM runs in the op's result dtype (F16/BF16 operands stay 16-bit) and writes the
 * compute dtype (F32, F64 for F64); the bias is added there and the sum is rounded once. */
#include <ampc/ops_conv.h>

#include <stdio.h>

#include "autograd/record.h"
#include "core/error.h"
#include "ops/conv_lowering.h"
#include "ops/conv_support.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

typedef struct conv_params {
    ampc_conv_geometry geometry;
    bool transposed;
} conv_params;

ampc_conv2d_options ampc_conv2d_defaults(void)
{
    return (ampc_conv2d_options){.stride = {1, 1}, .dilation = {1, 1}, .groups = 1};
}

static ampc_status check_options(const char *function, const ampc_conv2d_options *o,
                                 bool transposed)
{
    ampc_status status = ampc_conv_check_pair(function, "stride", o->stride, 1);
    if (status == AMPC_OK) status = ampc_conv_check_pair(function, "padding", o->padding, 0);
    if (status == AMPC_OK) status = ampc_conv_check_pair(function, "dilation", o->dilation, 1);
    if (status == AMPC_OK && o->groups < 1)
        status = ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                           "options->groups is %lld; expected >= 1", (long long)o->groups);
    if (status != AMPC_OK) return status;
    const int64_t *op = o->output_padding;
    if (!transposed) {
        if (op[0] == 0 && op[1] == 0) return AMPC_OK;
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "options->output_padding is [%lld, %lld]; expected [0, 0] (output_padding "
                         "is for ampc_conv_transpose2d)",
                         (long long)op[0], (long long)op[1]);
    }
    status = ampc_conv_check_pair(function, "output_padding", op, 0);
    for (int d = 0; d < 2 && status == AMPC_OK; d++)
        if (op[d] >= o->stride[d] && op[d] >= o->dilation[d])
            status = ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                               "options->output_padding[%d] is %lld; expected it smaller than "
                               "stride[%d] %lld or dilation[%d] %lld",
                               d, (long long)op[d], d, (long long)o->stride[d], d,
                               (long long)o->dilation[d]);
    return status;
}

static void shape_text(char *text, const ampc_tensor *tensor)
{
    ampc_format_shape(text, AMPC_SHAPE_TEXT_CAPACITY, tensor->ndim, tensor->shape);
}

/* Input (N, C, H, W) or (C, H, W) with C, H, W >= 1; weight 4-d with sizes >= 1. */
static ampc_status check_ranks(const char *function, const ampc_tensor *input,
                               const ampc_tensor *weight, const char *weight_layout)
{
    char text[AMPC_SHAPE_TEXT_CAPACITY];
    int ndim = input->ndim;
    if (ndim != 3 && ndim != 4) {
        shape_text(text, input);
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "input has shape %s; expected (N, C_in, H, W) or (C_in, H, W)", text);
    }
    for (int d = ndim - 3; d < ndim; d++)
        if (input->shape[d] < 1) {
            shape_text(text, input);
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "input has shape %s; expected C_in, H and W >= 1 (only "
                             "the batch may be empty)",
                             text);
        }
    shape_text(text, weight);
    if (weight->ndim != 4)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "weight has shape %s; expected 4 dims %s", text, weight_layout);
    for (int d = 0; d < 4; d++)
        if (weight->shape[d] < 1)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "weight has shape %s; expected every size >= 1", text);
    return AMPC_OK;
}

/* The channel rules: groups divide both counts and the input has the weight's channels. */
static ampc_status check_channels(const char *function, const ampc_tensor *input,
                                  const ampc_tensor *weight, int64_t groups, bool transposed)
{
    char input_text[AMPC_SHAPE_TEXT_CAPACITY], weight_text[AMPC_SHAPE_TEXT_CAPACITY];
    shape_text(input_text, input);
    shape_text(weight_text, weight);
    int64_t channels = input->shape[input->ndim - 3];
    if (!transposed) {
        if (weight->shape[0] % groups != 0)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "weight %s has %lld out-channels (dim 0); expected a "
                             "multiple of groups %lld",
                             weight_text, (long long)weight->shape[0], (long long)groups);
        if (channels != weight->shape[1] * groups)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "input %s has %lld channels; expected %lld (weight %s has "
                             "%lld in-channels per group, times groups %lld)",
                             input_text, (long long)channels,
                             (long long)(weight->shape[1] * groups), weight_text,
                             (long long)weight->shape[1], (long long)groups);
        return AMPC_OK;
    }
    if (channels != weight->shape[0])
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "input %s has %lld channels; expected %lld (dim 0 of weight %s, "
                         "its in-channels)",
                         input_text, (long long)channels, (long long)weight->shape[0], weight_text);
    if (channels % groups != 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "input %s has %lld channels; expected a multiple of groups %lld",
                         input_text, (long long)channels, (long long)groups);
    return AMPC_OK;
}

/* One spatial dim of conv2d's result, or -1 (with the error set) when the dilated kernel does
 * not fit in the padded input. */
static int64_t conv_output_size(const char *function, const char *dim_name, int64_t size,
                                int64_t kernel, const ampc_conv2d_options *o, int d)
{
    int64_t padded, span;
    if (!ampc_conv_mul_add(2, o->padding[d], size, &padded) ||
        !ampc_conv_mul_add(o->dilation[d], kernel - 1, 1, &span))
        return ampc_conv_fail_too_large(function, dim_name);
    if (span > padded) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "the padded input's %s is %lld (input %lld + 2 x padding %lld) but the "
                  "dilated kernel spans %lld (kernel %lld, dilation %lld); the kernel "
                  "can't be larger than the padded input",
                  dim_name, (long long)padded, (long long)size, (long long)o->padding[d],
                  (long long)span, (long long)kernel, (long long)o->dilation[d]);
        return -1;
    }
    return (padded - span) / o->stride[d] + 1;
}

/* One spatial dim of conv_transpose2d's result, or -1 (with the error set) when below 1. */
static int64_t transposed_output_size(const char *function, const char *dim_name, int64_t size,
                                      int64_t kernel, const ampc_conv2d_options *o, int d)
{
    /* (size - 1) stride - 2 padding + dilation (kernel - 1) + output_padding + 1 */
    int64_t strided, unpadded, out;
    if (!ampc_conv_mul_add(size - 1, o->stride[d], o->output_padding[d] + 1, &strided) ||
        !ampc_conv_mul_add(-2, o->padding[d], strided, &unpadded) ||
        !ampc_conv_mul_add(o->dilation[d], kernel - 1, unpadded, &out))
        return ampc_conv_fail_too_large(function, dim_name);
    if (out >= 1) return out;
    ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
              "the output's %s would be %lld = (input %lld - 1) x stride %lld - 2 x "
              "padding %lld + dilation %lld x (kernel %lld - 1) + output_padding %lld + "
              "1; expected >= 1",
              dim_name, (long long)out, (long long)size, (long long)o->stride[d],
              (long long)o->padding[d], (long long)o->dilation[d], (long long)kernel,
              (long long)o->output_padding[d]);
    return -1;
}

static ampc_status check_bias(const char *function, const ampc_tensor *bias, int64_t channels)
{
    if (!bias || (bias->ndim == 1 && bias->shape[0] == channels)) return AMPC_OK;
    char text[AMPC_SHAPE_TEXT_CAPACITY];
    shape_text(text, bias);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "bias has shape %s; expected [%lld] (the output channels)", text,
                     (long long)channels);
}

/* Fails unless a product of sizes fits in int64 (im2col buffers are products of them). */
static ampc_status check_product(const char *function, const int64_t *factors, int count)
{
    int64_t product = 1;
    for (int i = 0; i < count; i++)
        if (__builtin_mul_overflow(product, factors[i], &product))
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "the convolution is too large: its im2col buffer would hold "
                             "more than 2^63 elements");
    return AMPC_OK;
}

/* Validates everything and fills the params and the result's shape (ndim = input's). */
static ampc_status prepare(const char *function, const ampc_tensor *input,
                           const ampc_tensor *weight, const ampc_tensor *bias,
                           const ampc_conv2d_options *options, bool transposed, conv_params *params,
                           int64_t *out_shape)
{
    if (!input) return ampc_fail_null(function, "input");
    if (!weight) return ampc_fail_null(function, "weight");
    ampc_status status = ampc_check_float_tensor(function, "input", input);
    if (status == AMPC_OK) status = ampc_check_float_tensor(function, "weight", weight);
    if (status == AMPC_OK && bias) status = ampc_check_float_tensor(function, "bias", bias);
    ampc_conv2d_options o = options ? *options : ampc_conv2d_defaults();
    if (status == AMPC_OK) status = check_options(function, &o, transposed);
    if (status == AMPC_OK)
        status = check_ranks(function, input, weight,
                             transposed ? "(C_in, C_out / groups, kH, kW)"
                                        : "(C_out, C_in / groups, kH, kW)");
    if (status == AMPC_OK) status = check_channels(function, input, weight, o.groups, transposed);
    if (status != AMPC_OK) return status;

    int ndim = input->ndim;
    int64_t batch = ndim == 4 ? input->shape[0] : 1;
    int64_t channels = input->shape[ndim - 3], h = input->shape[ndim - 2],
            w = input->shape[ndim - 1];
    int64_t kh = weight->shape[2], kw = weight->shape[3];
    int64_t out_channels = transposed ? weight->shape[1] * o.groups : weight->shape[0];
    int64_t oh, ow;
    if (transposed) {
        oh = transposed_output_size(function, "height", h, kh, &o, 0);
        ow = oh < 0 ? -1 : transposed_output_size(function, "width", w, kw, &o, 1);
    } else {
        oh = conv_output_size(function, "height", h, kh, &o, 0);
        ow = oh < 0 ? -1 : conv_output_size(function, "width", w, kw, &o, 1);
    }
    if (ow < 0) return ampc_error_status();
    status = check_bias(function, bias, out_channels);
    if (status != AMPC_OK) return status;

    /* conv2d's view: the transposed op's output is the image, its input the result. */
    ampc_conv_geometry *g = &params->geometry;
    *g = (ampc_conv_geometry){.batch = batch,
                              .groups = o.groups,
                              .out_channels = transposed ? channels : out_channels,
                              .cols = {.channels = transposed ? out_channels : channels,
                                       .in_h = transposed ? oh : h,
                                       .in_w = transposed ? ow : w,
                                       .out_h = transposed ? h : oh,
                                       .out_w = transposed ? w : ow,
                                       .kernel_h = kh,
                                       .kernel_w = kw,
                                       .stride_h = o.stride[0],
                                       .stride_w = o.stride[1],
                                       .pad_h = o.padding[0],
                                       .pad_w = o.padding[1],
                                       .dilation_h = o.dilation[0],
                                       .dilation_w = o.dilation[1]}};
    params->transposed = transposed;
    int64_t cols[] = {g->cols.channels, kh, kw, g->cols.out_h, g->cols.out_w};
    status = check_product(function, cols, 5);
    if (status != AMPC_OK) return status;

    int64_t *spatial = out_shape + (ndim - 3);
    if (ndim == 4) out_shape[0] = batch;
    spatial[0] = out_channels;
    spatial[1] = oh;
    spatial[2] = ow;
    return AMPC_OK;
}

/* The op's result in the compute dtype: (N, channels, positions) from the conv's side. */
static void result_layout(const conv_params *p, int64_t *channels, int64_t *positions)
{
    const ampc_conv_geometry *g = &p->geometry;
    *channels = p->transposed ? g->cols.channels : g->out_channels;
    *positions = p->transposed ? g->cols.in_h * g->cols.in_w : g->cols.out_h * g->cols.out_w;
}

static ampc_tensor *run_forward(const char *function, const conv_params *p, ampc_dtype dtype,
                                const ampc_tensor *input, const ampc_tensor *weight,
                                const ampc_tensor *bias, int ndim, const int64_t *out_shape)
{
    ampc_dtype compute = ampc_compute_dtype(dtype);
    ampc_tensor *x = ampc_contiguous_as(function, input, dtype);
    ampc_tensor *w = ampc_contiguous_as(function, weight, dtype);
    ampc_tensor *b = bias ? ampc_contiguous_as(function, bias, compute) : NULL;
    /* The transposed forward scatters (col2im) into a zeroed result. */
    ampc_tensor *out = ampc_conv_compute_zeros(function, compute, dtype, ndim, out_shape);
    ampc_status status = x && w && out && (b || !bias) ? AMPC_OK : ampc_error_status();
    if (status == AMPC_OK)
        status =
            p->transposed
                ? ampc_conv_lowered_dimage(function, &p->geometry, dtype, ampc_tensor_data(out),
                                           ampc_tensor_data(x), ampc_tensor_data(w))
                : ampc_conv_lowered_forward(function, &p->geometry, dtype, ampc_tensor_data(out),
                                            ampc_tensor_data(x), ampc_tensor_data(w));
    if (status == AMPC_OK && b) {
        int64_t channels, positions;
        result_layout(p, &channels, &positions);
        ampc_conv_add_bias(compute, ampc_tensor_data(out), ampc_tensor_data(b), p->geometry.batch,
                           channels, positions);
    }
    ampc_tensor_free(x);
    ampc_tensor_free(w);
    ampc_tensor_free(b);
    if (status != AMPC_OK) {
        ampc_tensor_free(out);
        return NULL;
    }
    return ampc_from_compute(function, out, dtype);
}

/* d(input): conv2d's col2im(W^T dout), or for the transposed op conv2d's forward of dout. */
static ampc_tensor *input_gradient(const char *function, const ampc_node *node,
                                   const conv_params *p, const ampc_tensor *dout,
                                   const ampc_tensor *w)
{
    ampc_dtype dtype = ampc_tensor_dtype(dout), compute = ampc_compute_dtype(dtype);
    ampc_tensor *dinput =
        ampc_conv_compute_zeros(function, compute, ampc_node_input_dtype(node, 0),
                                ampc_node_input_ndim(node, 0), ampc_node_input_shape(node, 0));
    if (!dinput) return NULL;
    ampc_status status =
        p->transposed
            ? ampc_conv_lowered_forward(function, &p->geometry, dtype, ampc_tensor_data(dinput),
                                        ampc_tensor_data(dout), ampc_tensor_data(w))
            : ampc_conv_lowered_dimage(function, &p->geometry, dtype, ampc_tensor_data(dinput),
                                       ampc_tensor_data(dout), ampc_tensor_data(w));
    if (status != AMPC_OK) {
        ampc_tensor_free(dinput);
        return NULL;
    }
    return ampc_from_compute(function, dinput, ampc_node_input_dtype(node, 0));
}

/* d(weight) = sum over the batch of dresult . cols(image)^T. */
static ampc_tensor *weight_gradient(const char *function, const ampc_node *node,
                                    const conv_params *p, const ampc_tensor *dout,
                                    const ampc_tensor *x)
{
    ampc_dtype dtype = ampc_tensor_dtype(dout), compute = ampc_compute_dtype(dtype);
    ampc_tensor *dweight = ampc_conv_compute_zeros(
        function, compute, ampc_node_input_dtype(node, 1), 4, ampc_node_input_shape(node, 1));
    if (!dweight) return NULL;
    const void *image = ampc_tensor_data(p->transposed ? dout : x);
    const void *dresult = ampc_tensor_data(p->transposed ? x : dout);
    if (ampc_conv_lowered_dweight(function, &p->geometry, dtype, ampc_tensor_data(dweight), dresult,
                                  image) != AMPC_OK) {
        ampc_tensor_free(dweight);
        return NULL;
    }
    return ampc_from_compute(function, dweight, ampc_node_input_dtype(node, 1));
}

static ampc_tensor *bias_gradient(const char *function, const ampc_node *node, const conv_params *p,
                                  const ampc_tensor *dout)
{
    int64_t channels, positions;
    result_layout(p, &channels, &positions);
    ampc_tensor *d = ampc_to_compute(function, dout);
    ampc_tensor *dbias = d ? ampc_conv_compute_zeros(function, ampc_tensor_dtype(d),
                                                     ampc_node_input_dtype(node, 2), 1, &channels)
                           : NULL;
    if (dbias)
        ampc_conv_sum_bias(ampc_tensor_dtype(d), ampc_tensor_data(dbias), ampc_tensor_data(d),
                           p->geometry.batch, channels, positions);
    ampc_tensor_free(d);
    return ampc_from_compute(function, dbias, ampc_node_input_dtype(node, 2));
}

static ampc_status conv_backward(const ampc_node *node, const ampc_tensor *dout,
                                 ampc_tensor **dinputs)
{
    const conv_params *p = ampc_node_params(node);
    const char *function = p->transposed ? "conv_transpose2d_backward" : "conv2d_backward";
    ampc_dtype dtype = ampc_tensor_dtype(dout);
    bool ok = true;
    if (ampc_node_needs_grad(node, 0)) {
        ampc_tensor *w = ampc_contiguous_as(function, ampc_node_saved(node, 1), dtype);
        dinputs[0] = w ? input_gradient(function, node, p, dout, w) : NULL;
        ampc_tensor_free(w);
        ok = dinputs[0] != NULL;
    }
    if (ok && ampc_node_needs_grad(node, 1)) {
        ampc_tensor *x = ampc_contiguous_as(function, ampc_node_saved(node, 0), dtype);
        dinputs[1] = x ? weight_gradient(function, node, p, dout, x) : NULL;
        ampc_tensor_free(x);
        ok = dinputs[1] != NULL;
    }
    if (ok && ampc_node_num_inputs(node) > 2 && ampc_node_needs_grad(node, 2)) {
        dinputs[2] = bias_gradient(function, node, p, dout);
        ok = dinputs[2] != NULL;
    }
    if (ok) return AMPC_OK;
    for (int i = 0; i < ampc_node_num_inputs(node); i++) {
        ampc_tensor_free(dinputs[i]);
        dinputs[i] = NULL;
    }
    return ampc_error_status();
}

static ampc_tensor *convolution(const char *function, const char *name, const ampc_tensor *input,
                                const ampc_tensor *weight, const ampc_tensor *bias,
                                const ampc_conv2d_options *options, bool transposed)
{
    conv_params params = {0};
    int64_t out_shape[4];
    if (prepare(function, input, weight, bias, options, transposed, &params, out_shape) != AMPC_OK)
        return NULL;
    ampc_dtype dtype = ampc_promote_float(input->dtype, weight->dtype);
    if (bias) dtype = ampc_promote_float(dtype, bias->dtype);
    ampc_tensor *out =
        run_forward(function, &params, dtype, input, weight, bias, input->ndim, out_shape);
    if (!out) return NULL;
    const ampc_tensor *inputs[] = {input, weight, bias};
    ampc_op_record record = {.name = name,
                             .backward = conv_backward,
                             .num_inputs = bias ? 3 : 2,
                             .inputs = inputs,
                             .num_saved = 2,
                             .saved = inputs,
                             .params = &params,
                             .params_size = sizeof params};
    return ampc_autograd_output(function, out, &record);
}

ampc_tensor *ampc_conv2d(const ampc_tensor *input, const ampc_tensor *weight,
                         const ampc_tensor *bias, const ampc_conv2d_options *options)
{
    return convolution(__func__, "conv2d", input, weight, bias, options, false);
}

ampc_tensor *ampc_conv_transpose2d(const ampc_tensor *input, const ampc_tensor *weight,
                                   const ampc_tensor *bias, const ampc_conv2d_options *options)
{
    return convolution(__func__, "conv_transpose2d", input, weight, bias, options, true);
}
