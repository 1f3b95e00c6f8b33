/* Tensors: the header and its storage, creation, freeing, properties and memory categories.
 *
 * Every tensor is made here. ampc_tensor_new_in() makes a contiguous tensor with fresh
 * storage, on the heap or in an arena; ampc_tensor_new_view() makes a header that shares an
 * existing storage, which the view functions (tensor_view.c) then reshape. Both follow the
 * ownership rules in tensor_internal.h, so no other file touches a reference count. The
 * random fills live in random.c, copies and casts in tensor_copy.c. */
#include <ampc/tensor.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/memory.h"
#include "tensor/arena.h"
#include "tensor/tensor_internal.h"

/* --- shapes ------------------------------------------------------------------------------ */

void ampc_format_shape(char *text, size_t capacity, int ndim, const int64_t *shape)
{
    int used = snprintf(text, capacity, "[");
    for (int dim = 0; dim < ndim && used >= 0 && (size_t)used < capacity; dim++)
        used += snprintf(text + used, capacity - (size_t)used, "%s%lld", dim ? ", " : "",
                         (long long)shape[dim]);
    if (used >= 0 && (size_t)used < capacity) snprintf(text + used, capacity - (size_t)used, "]");
}

void ampc_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t stride = 1;
    for (int dim = ndim - 1; dim >= 0; dim--) {
        strides[dim] = stride;
        stride *= shape[dim] > 1 ? shape[dim] : 1;
    }
}

bool ampc_layout_is_contiguous(int ndim, const int64_t *shape, const int64_t *strides)
{
    int64_t expected = 1;
    for (int dim = ndim - 1; dim >= 0; dim--) {
        if (shape[dim] == 0) return true;
        if (shape[dim] == 1) continue;
        if (strides[dim] != expected) return false;
        expected *= shape[dim];
    }
    return true;
}

int64_t ampc_shape_numel(int ndim, const int64_t *shape)
{
    int64_t numel = 1;
    for (int dim = 0; dim < ndim; dim++) numel *= shape[dim];
    return numel;
}

ampc_status ampc_wrap_dim(const char *function, const char *argument, int dim, int ndim,
                          int *wrapped)
{
    if (dim < -ndim || dim >= ndim) {
        if (ndim == 0)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "%s is %d; expected no dim at all (the tensor has 0 dims)",
                             argument, dim);
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "%s is %d; expected a dim from %d to %d (the tensor has %d dims)",
                         argument, dim, -ndim, ndim - 1, ndim);
    }
    *wrapped = dim < 0 ? dim + ndim : dim;
    return AMPC_OK;
}

static ampc_status check_dtype(const char *function, ampc_dtype dtype)
{
    if (ampc_dtype_is_valid(dtype)) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "dtype is %d; expected a dtype from 0 (AMPC_F64) to %d (AMPC_BOOL)",
                     (int)dtype, AMPC_DTYPE_COUNT - 1);
}

/* The byte count is checked with every zero size taken as 1, as the strides count them:
 * then the strides of any accepted shape fit too, even when a zero makes the real count 0. */
static ampc_status check_byte_count(const char *function, ampc_dtype dtype, int ndim,
                                    const int64_t *shape)
{
    int64_t bytes = (int64_t)ampc_dtype_size(dtype);
    for (int dim = 0; dim < ndim; dim++) {
        int64_t extent = shape[dim] > 1 ? shape[dim] : 1;
        if (!__builtin_mul_overflow(bytes, extent, &bytes)) continue;
        char text[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(text, sizeof text, ndim, shape);
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "shape %s of %s holds more bytes than a 64-bit count can say; "
                         "expected a shape whose byte count fits",
                         text, ampc_dtype_name(dtype));
    }
    return AMPC_OK;
}

int64_t ampc_shape_checked_numel(const char *function, ampc_dtype dtype, int ndim,
                                 const int64_t *shape)
{
    if (check_dtype(function, dtype) != AMPC_OK) return -1;
    if (ndim < 0 || ndim > AMPC_MAX_DIMS) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "ndim is %d; expected 0 to %d (AMPC_MAX_DIMS)", ndim, AMPC_MAX_DIMS);
        return -1;
    }
    if (ndim > 0 && !shape) {
        ampc_fail(AMPC_ERR_NULL_ARGUMENT, function,
                  "argument shape is NULL but ndim is %d; expected %d sizes", ndim, ndim);
        return -1;
    }
    for (int dim = 0; dim < ndim; dim++) {
        if (shape[dim] < 0) {
            ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                      "shape[%d] is %lld; expected a size >= 0", dim, (long long)shape[dim]);
            return -1;
        }
    }
    if (check_byte_count(function, dtype, ndim, shape) != AMPC_OK) return -1;
    return ampc_shape_numel(ndim, shape);
}

/* --- headers and storage ------------------------------------------------------------------- */

/* Zeroed memory for a header or storage struct, from the arena or the heap. */
static void *allocate_zeroed(const char *function, ampc_arena *arena, size_t bytes)
{
    void *memory = arena ? ampc_arena_alloc(arena, bytes) : malloc(bytes);
    if (!memory) {
        ampc_fail_oom(function, bytes);
        return NULL;
    }
    return memset(memory, 0, bytes);
}

static ampc_tensor *new_header(const char *function, ampc_arena *arena)
{
    ampc_tensor *tensor = allocate_zeroed(function, arena, sizeof *tensor);
    if (tensor) tensor->arena = arena;
    return tensor;
}

static void free_header(ampc_tensor *tensor)
{
    if (!tensor->arena) free(tensor);
}

/* Storage of nbytes, or over the caller's buffer when borrowed_data is set (then no bytes
 * are counted: ampc did not allocate them). */
static ampc_storage *new_storage(const char *function, ampc_arena *arena, size_t nbytes,
                                 void *borrowed_data)
{
    ampc_storage *storage = allocate_zeroed(function, arena, sizeof *storage);
    if (!storage) return NULL;
    storage->data = borrowed_data;
    if (!borrowed_data) {
        storage->data = arena ? ampc_arena_alloc(arena, nbytes) : ampc_aligned_alloc(nbytes);
        if (!storage->data) {
            if (!arena) free(storage);
            ampc_fail_oom(function, nbytes);
            return NULL;
        }
        storage->nbytes = nbytes;
    }
    storage->borrowed = borrowed_data != NULL;
    storage->category = arena ? AMPC_MEMORY_ACTIVATIONS : AMPC_MEMORY_OTHER;
    storage->arena = arena;
    atomic_init(&storage->refcount, 1);
    if (arena) ampc_arena_adopt_storage(arena, storage);
    ampc_memory_count(storage->category, (int64_t)storage->nbytes);
    return storage;
}

void ampc_storage_release(ampc_storage *storage)
{
    if (storage->arena) return;
    if (atomic_fetch_sub(&storage->refcount, 1) != 1) return;
    if (!storage->borrowed) {
        ampc_memory_count(storage->category, -(int64_t)storage->nbytes);
        ampc_aligned_free(storage->data);
    }
    free(storage);
}

static ampc_tensor *new_contiguous(const char *function, ampc_arena *arena, ampc_dtype dtype,
                                   int ndim, const int64_t *shape, void *borrowed_data)
{
    int64_t numel = ampc_shape_checked_numel(function, dtype, ndim, shape);
    if (numel < 0) return NULL;
    ampc_tensor *tensor = new_header(function, arena);
    if (!tensor) return NULL;
    size_t nbytes = (size_t)numel * ampc_dtype_size(dtype);
    tensor->storage = new_storage(function, arena, nbytes, borrowed_data);
    if (!tensor->storage) {
        free_header(tensor);
        return NULL;
    }
    tensor->dtype = dtype;
    tensor->ndim = ndim;
    for (int dim = 0; dim < ndim; dim++) tensor->shape[dim] = shape[dim];
    ampc_contiguous_strides(ndim, tensor->shape, tensor->strides);
    return tensor;
}

ampc_tensor *ampc_tensor_new_in(const char *function, ampc_arena *arena, ampc_dtype dtype,
                                int ndim, const int64_t *shape)
{
    return new_contiguous(function, arena, dtype, ndim, shape, NULL);
}

ampc_tensor *ampc_tensor_new(const char *function, ampc_dtype dtype, int ndim,
                             const int64_t *shape)
{
    return new_contiguous(function, ampc_arena_current(), dtype, ndim, shape, NULL);
}

ampc_tensor *ampc_tensor_new_view(const char *function, const ampc_tensor *base)
{
    ampc_storage *storage = base->storage;
    ampc_arena *arena = storage->arena ? storage->arena : ampc_arena_current();
    ampc_tensor *view = new_header(function, arena);
    if (!view) return NULL;
    *view = *base;
    view->arena = arena;
    view->grad_node = NULL;
    view->release_grad_node = NULL;
    if (storage->arena) return view;
    if (!arena) {
        atomic_fetch_add(&storage->refcount, 1);
        return view;
    }
    /* On failure the header stays in the arena until reset, unreachable but harmless. */
    if (ampc_arena_hold_reference(function, arena, storage) != AMPC_OK) return NULL;
    return view;
}

void ampc_tensor_free(ampc_tensor *tensor)
{
    if (!tensor || tensor->arena) return;
    if (tensor->release_grad_node) tensor->release_grad_node(tensor->grad_node);
    ampc_storage_release(tensor->storage);
    free(tensor);
}

/* --- creation ------------------------------------------------------------------------------ */

ampc_tensor *ampc_tensor_empty(ampc_dtype dtype, int ndim, const int64_t *shape)
{
    return ampc_tensor_new(__func__, dtype, ndim, shape);
}

ampc_tensor *ampc_tensor_zeros(ampc_dtype dtype, int ndim, const int64_t *shape)
{
    ampc_tensor *tensor = ampc_tensor_new(__func__, dtype, ndim, shape);
    /* All-zero bits are zero in every ampc dtype, +0.0 for the float formats. */
    if (tensor) memset(tensor->storage->data, 0, tensor->storage->nbytes);
    return tensor;
}

/* Converts value once, then doubles the filled prefix until the buffer is full. */
static ampc_status fill_with_value(ampc_tensor *tensor, double value)
{
    size_t element_size = ampc_dtype_size(tensor->dtype);
    size_t nbytes = (size_t)ampc_shape_numel(tensor->ndim, tensor->shape) * element_size;
    unsigned char element[8];
    ampc_status status = ampc_convert(element, tensor->dtype, &value, AMPC_F64, 1);
    if (status != AMPC_OK || nbytes == 0) return status;
    unsigned char *data = tensor->storage->data;
    memcpy(data, element, element_size);
    for (size_t filled = element_size; filled < nbytes; filled *= 2)
        memcpy(data + filled, data, filled < nbytes - filled ? filled : nbytes - filled);
    return AMPC_OK;
}

static ampc_tensor *new_filled(const char *function, ampc_dtype dtype, int ndim,
                               const int64_t *shape, double value)
{
    ampc_tensor *tensor = ampc_tensor_new(function, dtype, ndim, shape);
    if (tensor && fill_with_value(tensor, value) != AMPC_OK) {
        ampc_tensor_free(tensor);
        return NULL;
    }
    return tensor;
}

ampc_tensor *ampc_tensor_ones(ampc_dtype dtype, int ndim, const int64_t *shape)
{
    return new_filled(__func__, dtype, ndim, shape, 1.0);
}

ampc_tensor *ampc_tensor_full(ampc_dtype dtype, int ndim, const int64_t *shape, double value)
{
    return new_filled(__func__, dtype, ndim, shape, value);
}

/* torch.arange's length, ceil((end - start) / step), after torch's checks; -1 on error. */
static int64_t arange_length(const char *function, double start, double end, double step)
{
    if (!isfinite(start) || !isfinite(end) || !isfinite(step)) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "start, end and step are %g, %g and %g; expected finite numbers", start, end,
                  step);
        return -1;
    }
    if (step == 0) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "step is 0; expected a nonzero step");
        return -1;
    }
    if ((step > 0 && end < start) || (step < 0 && end > start)) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "step is %g but end - start is %g; expected a step with the sign of "
                  "end - start",
                  step, end - start);
        return -1;
    }
    double length = ceil((end - start) / step);
    if (!(length <= 0x1p62)) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "start %g, end %g and step %g make %g elements; expected at most 2^62",
                  start, end, step, length);
        return -1;
    }
    return (int64_t)length;
}

ampc_tensor *ampc_tensor_arange(ampc_dtype dtype, double start, double end, double step)
{
    int64_t length = arange_length(__func__, start, end, step);
    if (length < 0) return NULL;
    ampc_tensor *tensor = ampc_tensor_new(__func__, dtype, 1, &length);
    if (!tensor) return NULL;
    /* Each value is start + i * step in double (not a running sum, which drifts), converted
     * in stack-sized batches as a cast would convert it. */
    enum { BATCH = 256 };
    double values[BATCH];
    size_t element_size = ampc_dtype_size(dtype);
    for (int64_t first = 0; first < length; first += BATCH) {
        int64_t count = length - first < BATCH ? length - first : BATCH;
        for (int64_t i = 0; i < count; i++) values[i] = start + (double)(first + i) * step;
        char *destination = (char *)tensor->storage->data + (size_t)first * element_size;
        if (ampc_convert(destination, dtype, values, AMPC_F64, (size_t)count) != AMPC_OK) {
            ampc_tensor_free(tensor);
            return NULL;
        }
    }
    return tensor;
}

ampc_tensor *ampc_tensor_wrap(void *data, ampc_dtype dtype, int ndim, const int64_t *shape)
{
    if (!data) {
        ampc_fail(AMPC_ERR_NULL_ARGUMENT, __func__, "argument data is NULL");
        return NULL;
    }
    if (check_dtype(__func__, dtype) != AMPC_OK) return NULL;
    size_t element_size = ampc_dtype_size(dtype);
    if ((uintptr_t)data % element_size != 0) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "data %p is not aligned for %s; expected an address that is a multiple of "
                  "%zu",
                  data, ampc_dtype_name(dtype), element_size);
        return NULL;
    }
    return new_contiguous(__func__, ampc_arena_current(), dtype, ndim, shape, data);
}

ampc_tensor *ampc_tensor_from_data(const void *data, ampc_dtype dtype, int ndim,
                                   const int64_t *shape)
{
    if (!data) {
        ampc_fail(AMPC_ERR_NULL_ARGUMENT, __func__, "argument data is NULL");
        return NULL;
    }
    ampc_tensor *tensor = ampc_tensor_new(__func__, dtype, ndim, shape);
    if (tensor) memcpy(tensor->storage->data, data, tensor->storage->nbytes);
    return tensor;
}

/* --- properties ------------------------------------------------------------------------- */

/* The getters answer a neutral value for NULL, after recording the NULL as the error. */
static bool is_missing(const ampc_tensor *tensor, const char *function)
{
    if (tensor) return false;
    ampc_fail_null(function, "tensor");
    return true;
}

ampc_dtype ampc_tensor_dtype(const ampc_tensor *tensor)
{
    if (is_missing(tensor, __func__)) return AMPC_DTYPE_COUNT;
    return tensor->dtype;
}

int ampc_tensor_ndim(const ampc_tensor *tensor)
{
    if (is_missing(tensor, __func__)) return 0;
    return tensor->ndim;
}

int64_t ampc_tensor_dim(const ampc_tensor *tensor, int dim)
{
    if (is_missing(tensor, __func__)) return 0;
    int wrapped = 0;
    if (ampc_wrap_dim(__func__, "dim", dim, tensor->ndim, &wrapped) != AMPC_OK) return 0;
    return tensor->shape[wrapped];
}

int64_t ampc_tensor_stride(const ampc_tensor *tensor, int dim)
{
    if (is_missing(tensor, __func__)) return 0;
    int wrapped = 0;
    if (ampc_wrap_dim(__func__, "dim", dim, tensor->ndim, &wrapped) != AMPC_OK) return 0;
    return tensor->strides[wrapped];
}

const int64_t *ampc_tensor_shape(const ampc_tensor *tensor)
{
    if (is_missing(tensor, __func__)) return NULL;
    return tensor->shape;
}

const int64_t *ampc_tensor_strides(const ampc_tensor *tensor)
{
    if (is_missing(tensor, __func__)) return NULL;
    return tensor->strides;
}

int64_t ampc_tensor_offset(const ampc_tensor *tensor)
{
    if (is_missing(tensor, __func__)) return 0;
    return tensor->offset;
}

int64_t ampc_tensor_numel(const ampc_tensor *tensor)
{
    if (is_missing(tensor, __func__)) return 0;
    return ampc_shape_numel(tensor->ndim, tensor->shape);
}

size_t ampc_tensor_nbytes(const ampc_tensor *tensor)
{
    if (is_missing(tensor, __func__)) return 0;
    return (size_t)ampc_shape_numel(tensor->ndim, tensor->shape) * ampc_dtype_size(tensor->dtype);
}

bool ampc_tensor_is_contiguous(const ampc_tensor *tensor)
{
    if (is_missing(tensor, __func__)) return false;
    return ampc_layout_is_contiguous(tensor->ndim, tensor->shape, tensor->strides);
}

void *ampc_tensor_data(const ampc_tensor *tensor)
{
    if (is_missing(tensor, __func__)) return NULL;
    return ampc_tensor_element(tensor, tensor->offset);
}

ampc_memory_category ampc_tensor_category(const ampc_tensor *tensor)
{
    if (is_missing(tensor, __func__)) return AMPC_MEMORY_CATEGORY_COUNT;
    return tensor->storage->category;
}

ampc_status ampc_tensor_set_category(ampc_tensor *tensor, ampc_memory_category category)
{
    if (!tensor) return ampc_fail_null(__func__, "tensor");
    if ((unsigned)category >= AMPC_MEMORY_CATEGORY_COUNT)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "category is %d; expected 0 (AMPC_MEMORY_PARAMETERS) to %d "
                         "(AMPC_MEMORY_OTHER)",
                         (int)category, AMPC_MEMORY_CATEGORY_COUNT - 1);
    ampc_storage *storage = tensor->storage;
    if (storage->category == category) return AMPC_OK;
    /* Out of the old category first, so the total never counts the bytes twice. */
    ampc_memory_count(storage->category, -(int64_t)storage->nbytes);
    ampc_memory_count(category, (int64_t)storage->nbytes);
    storage->category = category;
    return AMPC_OK;
}
