/* Shape ops that are views: reshape, view, flatten, permute, transpose, narrow, split, expand.
 *
 * Each forward is the tensor layer's view (ampc/tensor.h) plus a record; each backward undoes
 * the view on the gradient: reshape it back, permute it back, place it in a zero tensor of the
 * input's shape (narrow), or sum the stretched dims away (expand). Gradients of views come
 * back contiguous, as record.h's backward contract expects of a new gradient. cat and stack,
 * which copy, are in shape_cat.c. */
#include <ampc/ops_shape.h>

#include <stdio.h>
#include <string.h>

#include <ampc/autograd.h>

#include "autograd/record.h"
#include "core/error.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

/* The tensor layer names itself in its messages ("ampc_tensor_view: ..."); the user called
 * the op, so a failure of `layer` is reported as the op's ("ampc_view: ..."). An unrelated
 * error left pending from earlier keeps its name. */
static void name_error_after(const char *function, const char *layer)
{
    const char *message = ampc_error_message();
    size_t length = strlen(layer);
    if (strncmp(message, layer, length) != 0 || strncmp(message + length, ": ", 2) != 0)
        return;
    char rest[1024];
    snprintf(rest, sizeof rest, "%s", message + length + 2);
    ampc_status status = ampc_error_status();
    ampc_error_clear();
    ampc_fail(status, function, "%s", rest);
}

/* Records `out`, the result of the tensor layer's function `layer`, as op `name` of the single
 * input a; frees out and returns NULL on failure. */
static ampc_tensor *record_unary(const char *function, const char *layer, ampc_tensor *out,
                                 const ampc_tensor *a, const char *name,
                                 ampc_backward_fn backward, const void *params,
                                 size_t params_size)
{
    if (!out) {
        name_error_after(function, layer);
        return NULL;
    }
    const ampc_tensor *inputs[] = {a};
    ampc_op_record record = {.name = name, .backward = backward, .num_inputs = 1,
                             .inputs = inputs, .params = params, .params_size = params_size};
    return ampc_autograd_output(function, out, &record);
}

/* --- reshape, view, flatten: the gradient is dout with the input's shape --------------- */

static ampc_status reshape_backward(const ampc_node *node, const ampc_tensor *dout,
                                    ampc_tensor **dinputs)
{
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    /* dout is contiguous, so this is a view of it. */
    dinputs[0] = ampc_tensor_reshape(dout, ampc_node_input_ndim(node, 0),
                                     ampc_node_input_shape(node, 0));
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

ampc_tensor *ampc_reshape(const ampc_tensor *a, int ndim, const int64_t *shape)
{
    if (!a) return ampc_null_tensor(__func__, "a");
    ampc_tensor *out = ampc_tensor_reshape(a, ndim, shape);
    return record_unary(__func__, "ampc_tensor_reshape", out, a, "reshape", reshape_backward,
                        NULL, 0);
}

ampc_tensor *ampc_view(const ampc_tensor *a, int ndim, const int64_t *shape)
{
    if (!a) return ampc_null_tensor(__func__, "a");
    ampc_tensor *out = ampc_tensor_view(a, ndim, shape);
    return record_unary(__func__, "ampc_tensor_view", out, a, "view", reshape_backward, NULL,
                        0);
}

ampc_tensor *ampc_flatten(const ampc_tensor *a, int start_dim, int end_dim)
{
    if (!a) return ampc_null_tensor(__func__, "a");
    int ndim = a->ndim, start = 0, end = 0;
    if (ndim == 0) /* torch.flatten of a scalar is a 1-element vector */
        return record_unary(__func__, "ampc_tensor_reshape",
                            ampc_tensor_reshape(a, 1, (int64_t[]){1}), a, "flatten",
                            reshape_backward, NULL, 0);
    if (ampc_wrap_dim(__func__, "start_dim", start_dim, ndim, &start) != AMPC_OK ||
        ampc_wrap_dim(__func__, "end_dim", end_dim, ndim, &end) != AMPC_OK)
        return NULL;
    if (start > end) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "start_dim is %d (dim %d) and end_dim is %d (dim %d); expected start_dim "
                  "to come no later than end_dim",
                  start_dim, start, end_dim, end);
        return NULL;
    }
    int64_t shape[AMPC_MAX_DIMS];
    int out_ndim = 0;
    for (int dim = 0; dim < start; dim++) shape[out_ndim++] = a->shape[dim];
    shape[out_ndim++] = ampc_shape_numel(end - start + 1, a->shape + start);
    for (int dim = end + 1; dim < ndim; dim++) shape[out_ndim++] = a->shape[dim];
    ampc_tensor *out = ampc_tensor_reshape(a, out_ndim, shape);
    return record_unary(__func__, "ampc_tensor_reshape", out, a, "flatten", reshape_backward,
                        NULL, 0);
}

/* --- permute, transpose: the gradient is dout permuted back ----------------------------- */

typedef struct permute_params {
    int dims[AMPC_MAX_DIMS]; /* wrapped: result dim i is input dim dims[i] */
} permute_params;

static ampc_status permute_backward(const ampc_node *node, const ampc_tensor *dout,
                                    ampc_tensor **dinputs)
{
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    const permute_params *params = ampc_node_params(node);
    int inverse[AMPC_MAX_DIMS];
    for (int dim = 0; dim < dout->ndim; dim++) inverse[params->dims[dim]] = dim;
    ampc_tensor *permuted = ampc_tensor_permute(dout, inverse);
    dinputs[0] = ampc_tensor_contiguous(permuted);
    ampc_tensor_free(permuted);
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

ampc_tensor *ampc_permute(const ampc_tensor *a, const int *dims)
{
    if (!a) return ampc_null_tensor(__func__, "a");
    ampc_tensor *out = ampc_tensor_permute(a, dims);
    permute_params params = {{0}};
    /* The backward inverts the permutation itself (the view's strides cannot tell apart dims
     * of size 1 or of equal strides), wrapped to 0..ndim-1. */
    for (int dim = 0; out && dim < a->ndim; dim++)
        params.dims[dim] = dims[dim] < 0 ? dims[dim] + a->ndim : dims[dim];
    return record_unary(__func__, "ampc_tensor_permute", out, a, "permute", permute_backward,
                        &params, sizeof params);
}

ampc_tensor *ampc_transpose(const ampc_tensor *a, int dim0, int dim1)
{
    if (!a) return ampc_null_tensor(__func__, "a");
    ampc_tensor *out = ampc_tensor_transpose(a, dim0, dim1);
    permute_params params = {{0}};
    for (int dim = 0; out && dim < a->ndim; dim++) params.dims[dim] = dim;
    if (out) {
        int first = dim0 < 0 ? dim0 + a->ndim : dim0, second = dim1 < 0 ? dim1 + a->ndim : dim1;
        params.dims[first] = second;
        params.dims[second] = first;
    }
    return record_unary(__func__, "ampc_tensor_transpose", out, a, "transpose",
                        permute_backward, &params, sizeof params);
}

/* --- narrow, split: the gradient lands in a zero tensor of the input's shape ------------ */

typedef struct narrow_params {
    int dim;       /* wrapped */
    int64_t start; /* from the front */
} narrow_params;

static ampc_status narrow_backward(const ampc_node *node, const ampc_tensor *dout,
                                   ampc_tensor **dinputs)
{
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    const narrow_params *params = ampc_node_params(node);
    ampc_tensor *dinput = ampc_tensor_zeros(dout->dtype, ampc_node_input_ndim(node, 0),
                                            ampc_node_input_shape(node, 0));
    ampc_tensor *window =
        ampc_tensor_narrow(dinput, params->dim, params->start, dout->shape[params->dim]);
    ampc_status status = window ? ampc_tensor_copy(window, dout) : ampc_error_status();
    ampc_tensor_free(window);
    if (status != AMPC_OK) {
        ampc_tensor_free(dinput);
        return status;
    }
    dinputs[0] = dinput;
    return AMPC_OK;
}

/* The narrow both ampc_narrow and ampc_split record, named after the public function. */
static ampc_tensor *recorded_narrow(const char *function, const ampc_tensor *a, int dim,
                                    int64_t start, int64_t length)
{
    ampc_tensor *out = ampc_tensor_narrow(a, dim, start, length);
    narrow_params params = {0};
    if (out) { /* the arguments were valid: wrap them as the tensor layer did */
        params.dim = dim < 0 ? dim + a->ndim : dim;
        params.start = start < 0 ? start + a->shape[params.dim] : start;
    }
    return record_unary(function, "ampc_tensor_narrow", out, a, "narrow", narrow_backward,
                        &params, sizeof params);
}

ampc_tensor *ampc_narrow(const ampc_tensor *a, int dim, int64_t start, int64_t length)
{
    if (!a) return ampc_null_tensor(__func__, "a");
    return recorded_narrow(__func__, a, dim, start, length);
}

ampc_status ampc_split(const ampc_tensor *a, int64_t split_size, int dim, ampc_tensor **parts,
                       int capacity, int *count)
{
    if (!a) return ampc_fail_null(__func__, "a");
    if (!parts) return ampc_fail_null(__func__, "parts");
    int wrapped = 0;
    if (ampc_wrap_dim(__func__, "dim", dim, a->ndim, &wrapped) != AMPC_OK)
        return ampc_error_status();
    int64_t size = a->shape[wrapped];
    if (split_size < 0 || (split_size == 0 && size > 0))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "split_size is %lld; expected a size >= 1 (dim %d has size %lld)",
                         (long long)split_size, wrapped, (long long)size);
    /* An empty dim still gives one (empty) piece, as torch.split does. */
    int64_t needed = size == 0 ? 1 : (size + split_size - 1) / split_size;
    if (needed > capacity) {
        if (count) *count = needed > INT32_MAX ? INT32_MAX : (int)needed;
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "capacity is %d but splitting size %lld into pieces of %lld makes "
                         "%lld; expected capacity >= %lld",
                         capacity, (long long)size, (long long)split_size, (long long)needed,
                         (long long)needed);
    }
    for (int64_t piece = 0; piece < needed; piece++) {
        int64_t start = piece * split_size;
        int64_t length = size - start < split_size ? size - start : split_size;
        parts[piece] = recorded_narrow(__func__, a, wrapped, start, length);
        if (!parts[piece]) {
            for (int64_t made = 0; made < piece; made++) {
                ampc_tensor_free(parts[made]);
                parts[made] = NULL;
            }
            return ampc_error_status();
        }
    }
    if (count) *count = (int)needed;
    return AMPC_OK;
}

/* --- expand: the gradient sums the stretched and added dims ----------------------------- */

static ampc_status expand_backward(const ampc_node *node, const ampc_tensor *dout,
                                   ampc_tensor **dinputs)
{
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    dinputs[0] = ampc_sum_to_shape(__func__, dout, ampc_node_input_ndim(node, 0),
                                   ampc_node_input_shape(node, 0));
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

ampc_tensor *ampc_expand(const ampc_tensor *a, int ndim, const int64_t *shape)
{
    if (!a) return ampc_null_tensor(__func__, "a");
    ampc_tensor *out = ampc_tensor_expand(a, ndim, shape);
    return record_unary(__func__, "ampc_tensor_expand", out, a, "expand", expand_backward, NULL,
                        0);
}
