/* Views: new headers over the same storage with another shape, order or window.
 *
 * Every function here validates its arguments, asks tensor.c for a header sharing the base's
 * storage (ampc_tensor_new_view, which handles references and arenas), and rewrites that
 * header's shape, strides and offset. No data moves, except in ampc_tensor_reshape when no
 * view exists. The rules are PyTorch's, so code ported from it behaves the same. */
#include <ampc/tensor.h>

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "tensor/arena.h"
#include "tensor/tensor_internal.h"

static void set_layout(ampc_tensor *view, int ndim, const int64_t *shape,
                       const int64_t *strides)
{
    view->ndim = ndim;
    for (int dim = 0; dim < ndim; dim++) {
        view->shape[dim] = shape[dim];
        view->strides[dim] = strides[dim];
    }
}

static ampc_status check_requested_ndim(const char *function, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > AMPC_MAX_DIMS)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "ndim is %d; expected 0 to %d (AMPC_MAX_DIMS)", ndim, AMPC_MAX_DIMS);
    if (ndim > 0 && !shape)
        return ampc_fail(AMPC_ERR_NULL_ARGUMENT, function,
                         "argument shape is NULL but ndim is %d; expected %d sizes", ndim, ndim);
    return AMPC_OK;
}

/* Checks every entry is a size or the one -1; returns the -1's index (or -1 if none) and
 * the product of the other sizes (0 if any is 0; -1 if the product overflows). */
static ampc_status scan_requested_shape(const char *function, int ndim, const int64_t *shape,
                                        int *inferred, int64_t *known_numel)
{
    *inferred = -1;
    bool has_zero = false;
    for (int dim = 0; dim < ndim; dim++) {
        if (shape[dim] == -1 && *inferred >= 0)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "shape[%d] and shape[%d] are both -1; expected at most one "
                             "inferred size",
                             *inferred, dim);
        if (shape[dim] == -1) *inferred = dim;
        else if (shape[dim] < 0)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "shape[%d] is %lld; expected a size >= 0, or -1 for one inferred "
                             "size",
                             dim, (long long)shape[dim]);
        has_zero |= shape[dim] == 0;
    }
    *known_numel = has_zero ? 0 : 1;
    for (int dim = 0; dim < ndim && !has_zero; dim++) {
        if (dim == *inferred) continue;
        if (__builtin_mul_overflow(*known_numel, shape[dim], known_numel)) {
            *known_numel = -1;
            break;
        }
    }
    return AMPC_OK;
}

/* The requested shape with its -1 replaced by the size that keeps the element count. */
static ampc_status resolve_shape(const char *function, const ampc_tensor *tensor, int ndim,
                                 const int64_t *shape, int64_t *resolved)
{
    int inferred = -1;
    int64_t known = 0;
    ampc_status status = check_requested_ndim(function, ndim, shape);
    if (status == AMPC_OK) status = scan_requested_shape(function, ndim, shape, &inferred, &known);
    if (status != AMPC_OK) return status;
    int64_t numel = ampc_shape_numel(tensor->ndim, tensor->shape);
    for (int dim = 0; dim < ndim; dim++) resolved[dim] = shape[dim];
    if (inferred >= 0 && known > 0 && numel % known == 0) {
        resolved[inferred] = numel / known;
        return AMPC_OK;
    }
    /* Sizes with a zero among them match an empty tensor whatever the others are; their
     * strides must still fit. */
    if (inferred < 0 && known == numel)
        return ampc_shape_checked_numel(function, tensor->dtype, ndim, resolved) < 0
                   ? AMPC_ERR_INVALID_ARGUMENT
                   : AMPC_OK;
    char requested[AMPC_SHAPE_TEXT_CAPACITY], actual[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(requested, sizeof requested, ndim, shape);
    ampc_format_shape(actual, sizeof actual, tensor->ndim, tensor->shape);
    if (inferred >= 0 && known == 0 && numel == 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "shape %s: the sizes besides the -1 multiply to 0, so the -1 could be "
                         "any size; expected a shape without -1 for a tensor of shape %s",
                         requested, actual);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "shape %s cannot hold the %lld elements of a tensor of shape %s; "
                     "expected sizes whose product is %lld",
                     requested, (long long)numel, actual, (long long)numel);
}

/* PyTorch's computeStride: walks the old dims from the back in chunks whose elements are
 * evenly spaced, and gives the new dims over each chunk the strides of that spacing. False
 * when a new dim would straddle two chunks; then no view exists. */
static bool view_strides(const ampc_tensor *tensor, int ndim, const int64_t *shape,
                         int64_t *strides)
{
    const int64_t *old_shape = tensor->shape, *old_strides = tensor->strides;
    if (ampc_shape_numel(tensor->ndim, old_shape) == 0 || tensor->ndim == 0) {
        ampc_contiguous_strides(ndim, shape, strides);
        return true;
    }
    int view_dim = ndim - 1;
    int64_t chunk_base_stride = old_strides[tensor->ndim - 1];
    int64_t tensor_numel = 1, view_numel = 1;
    for (int dim = tensor->ndim - 1; dim >= 0; dim--) {
        tensor_numel *= old_shape[dim];
        bool chunk_ends = dim == 0 || (old_shape[dim - 1] != 1 &&
                                       old_strides[dim - 1] != tensor_numel * chunk_base_stride);
        if (!chunk_ends) continue;
        while (view_dim >= 0 && (view_numel < tensor_numel || shape[view_dim] == 1)) {
            strides[view_dim] = view_numel * chunk_base_stride;
            view_numel *= shape[view_dim];
            view_dim--;
        }
        if (view_numel != tensor_numel) return false;
        if (dim > 0) {
            chunk_base_stride = old_strides[dim - 1];
            tensor_numel = 1;
            view_numel = 1;
        }
    }
    return view_dim == -1;
}

static ampc_tensor *view_with_strides(const char *function, const ampc_tensor *tensor,
                                      int ndim, const int64_t *shape, const int64_t *strides)
{
    ampc_tensor *view = ampc_tensor_new_view(function, tensor);
    if (view) set_layout(view, ndim, shape, strides);
    return view;
}

static void fail_no_view(const char *function, const ampc_tensor *tensor, int ndim,
                         const int64_t *shape)
{
    char requested[AMPC_SHAPE_TEXT_CAPACITY], actual[AMPC_SHAPE_TEXT_CAPACITY];
    char actual_strides[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(requested, sizeof requested, ndim, shape);
    ampc_format_shape(actual, sizeof actual, tensor->ndim, tensor->shape);
    ampc_format_shape(actual_strides, sizeof actual_strides, tensor->ndim, tensor->strides);
    ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
              "a tensor of shape %s with strides %s has no view of shape %s (its elements are "
              "not evenly spaced across the dims being merged); expected a compatible layout, "
              "or use ampc_tensor_reshape, which copies",
              actual, actual_strides, requested);
}

/* view and reshape: the view when the strides allow one, else a contiguous copy (reshape)
 * or an error (view). */
static ampc_tensor *view_or_copy(const char *function, const ampc_tensor *tensor, int ndim,
                                 const int64_t *shape, bool may_copy)
{
    if (!tensor) return ampc_null_tensor(function, "tensor");
    int64_t resolved[AMPC_MAX_DIMS], strides[AMPC_MAX_DIMS];
    if (resolve_shape(function, tensor, ndim, shape, resolved) != AMPC_OK) return NULL;
    if (view_strides(tensor, ndim, resolved, strides))
        return view_with_strides(function, tensor, ndim, resolved, strides);
    if (!may_copy) {
        fail_no_view(function, tensor, ndim, resolved);
        return NULL;
    }
    /* The copy is a fresh contiguous tensor nobody else holds, so its header is ours to
     * reshape in place. */
    ampc_tensor *copy = ampc_tensor_copy_new(function, ampc_arena_current(), tensor,
                                             tensor->dtype, AMPC_OVERFLOW_DEFAULT);
    if (!copy) return NULL;
    ampc_contiguous_strides(ndim, resolved, strides);
    set_layout(copy, ndim, resolved, strides);
    return copy;
}

ampc_tensor *ampc_tensor_view(const ampc_tensor *tensor, int ndim, const int64_t *shape)
{
    return view_or_copy(__func__, tensor, ndim, shape, false);
}

ampc_tensor *ampc_tensor_reshape(const ampc_tensor *tensor, int ndim, const int64_t *shape)
{
    return view_or_copy(__func__, tensor, ndim, shape, true);
}

ampc_tensor *ampc_tensor_permute(const ampc_tensor *tensor, const int *dims)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    int ndim = tensor->ndim;
    if (ndim > 0 && !dims) {
        ampc_fail(AMPC_ERR_NULL_ARGUMENT, __func__,
                  "argument dims is NULL; expected %d dims (the tensor has %d)", ndim, ndim);
        return NULL;
    }
    int order[AMPC_MAX_DIMS], named_by[AMPC_MAX_DIMS];
    for (int dim = 0; dim < ndim; dim++) named_by[dim] = -1;
    for (int position = 0; position < ndim; position++) {
        char argument[24];
        snprintf(argument, sizeof argument, "dims[%d]", position);
        if (ampc_wrap_dim(__func__, argument, dims[position], ndim, &order[position]) != AMPC_OK)
            return NULL;
        if (named_by[order[position]] >= 0) {
            ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                      "dims[%d] is %d, the same dim as dims[%d]; expected a permutation of "
                      "0..%d with each dim once",
                      position, dims[position], named_by[order[position]], ndim - 1);
            return NULL;
        }
        named_by[order[position]] = position;
    }
    ampc_tensor *view = ampc_tensor_new_view(__func__, tensor);
    if (!view) return NULL;
    for (int position = 0; position < ndim; position++) {
        view->shape[position] = tensor->shape[order[position]];
        view->strides[position] = tensor->strides[order[position]];
    }
    return view;
}

ampc_tensor *ampc_tensor_transpose(const ampc_tensor *tensor, int dim0, int dim1)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    int first = 0, second = 0;
    if (ampc_wrap_dim(__func__, "dim0", dim0, tensor->ndim, &first) != AMPC_OK ||
        ampc_wrap_dim(__func__, "dim1", dim1, tensor->ndim, &second) != AMPC_OK)
        return NULL;
    ampc_tensor *view = ampc_tensor_new_view(__func__, tensor);
    if (!view) return NULL;
    view->shape[first] = tensor->shape[second];
    view->strides[first] = tensor->strides[second];
    view->shape[second] = tensor->shape[first];
    view->strides[second] = tensor->strides[first];
    return view;
}

/* Elements start, start+step, ... of dim: length of them. */
static ampc_tensor *window(const char *function, const ampc_tensor *tensor, int dim,
                           int64_t start, int64_t length, int64_t step)
{
    ampc_tensor *view = ampc_tensor_new_view(function, tensor);
    if (!view) return NULL;
    view->offset += start * tensor->strides[dim];
    view->shape[dim] = length;
    /* The product can only overflow when the step is never taken (length <= 1), and then the
     * stride does not matter. */
    if (__builtin_mul_overflow(tensor->strides[dim], step, &view->strides[dim]))
        view->strides[dim] = tensor->strides[dim];
    return view;
}

ampc_tensor *ampc_tensor_narrow(const ampc_tensor *tensor, int dim, int64_t start,
                                int64_t length)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    int wrapped = 0;
    if (ampc_wrap_dim(__func__, "dim", dim, tensor->ndim, &wrapped) != AMPC_OK) return NULL;
    int64_t size = tensor->shape[wrapped];
    if (start < -size || start > size) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "start is %lld; expected %lld to %lld (dim %d has size %lld)",
                  (long long)start, (long long)-size, (long long)size, wrapped,
                  (long long)size);
        return NULL;
    }
    if (start < 0) start += size;
    if (length < 0 || length > size - start) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "length is %lld; expected 0 to %lld (dim %d has size %lld and start is "
                  "%lld)",
                  (long long)length, (long long)(size - start), wrapped, (long long)size,
                  (long long)start);
        return NULL;
    }
    return window(__func__, tensor, wrapped, start, length, 1);
}

/* Python's rule for a slice bound: negatives count from the end, then clamp to 0..size. */
static int64_t clamp_slice_bound(int64_t bound, int64_t size)
{
    if (bound < 0) bound += size;
    if (bound < 0) return 0;
    return bound > size ? size : bound;
}

ampc_tensor *ampc_tensor_slice(const ampc_tensor *tensor, int dim, int64_t start, int64_t end,
                               int64_t step)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    int wrapped = 0;
    if (ampc_wrap_dim(__func__, "dim", dim, tensor->ndim, &wrapped) != AMPC_OK) return NULL;
    if (step <= 0) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__, "step is %lld; expected a step >= 1",
                  (long long)step);
        return NULL;
    }
    int64_t size = tensor->shape[wrapped];
    start = clamp_slice_bound(start, size);
    end = clamp_slice_bound(end, size);
    int64_t length = end > start ? (end - start - 1) / step + 1 : 0;
    return window(__func__, tensor, wrapped, start, length, step);
}

/* One dim of torch.expand: its new size and stride, or an error. */
static ampc_status expand_dim(const ampc_tensor *tensor, int dim, int new_ndim,
                              const int64_t *shape, int64_t *size, int64_t *stride)
{
    int old_dim = dim - (new_ndim - tensor->ndim);
    int64_t wanted = shape[dim];
    if (old_dim < 0 && wanted < 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_expand",
                         "shape[%d] is %lld for a new leading dim; expected a size >= 0 (-1 "
                         "only keeps the size of an existing dim)",
                         dim, (long long)wanted);
    *size = wanted;
    *stride = 0;
    if (old_dim < 0) return AMPC_OK;
    int64_t old_size = tensor->shape[old_dim];
    if (wanted == -1) *size = old_size;
    if (*size == old_size) *stride = tensor->strides[old_dim];
    if (*size == old_size || (old_size == 1 && wanted >= 0)) return AMPC_OK;
    char requested[AMPC_SHAPE_TEXT_CAPACITY], actual[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(requested, sizeof requested, new_ndim, shape);
    ampc_format_shape(actual, sizeof actual, tensor->ndim, tensor->shape);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, "ampc_tensor_expand",
                     "shape[%d] is %lld but the tensor's dim %d has size %lld (expanding "
                     "shape %s to %s); expected %lld or -1 (only size-1 dims stretch)",
                     dim, (long long)wanted, old_dim, (long long)old_size, actual, requested,
                     (long long)old_size);
}

ampc_tensor *ampc_tensor_expand(const ampc_tensor *tensor, int ndim, const int64_t *shape)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    if (check_requested_ndim(__func__, ndim, shape) != AMPC_OK) return NULL;
    if (ndim < tensor->ndim) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "ndim is %d but the tensor has %d dims; expected at least %d (expand only "
                  "adds leading dims)",
                  ndim, tensor->ndim, tensor->ndim);
        return NULL;
    }
    int64_t sizes[AMPC_MAX_DIMS], strides[AMPC_MAX_DIMS];
    for (int dim = 0; dim < ndim; dim++)
        if (expand_dim(tensor, dim, ndim, shape, &sizes[dim], &strides[dim]) != AMPC_OK)
            return NULL;
    /* A broadcast view can name far more elements than its storage holds; the count must
     * still fit, since numel and nbytes report it. */
    if (ampc_shape_checked_numel(__func__, tensor->dtype, ndim, sizes) < 0) return NULL;
    return view_with_strides(__func__, tensor, ndim, sizes, strides);
}
