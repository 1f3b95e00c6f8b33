/* Copies and casts between tensors of any layout and dtype, and single-element access.
 *
 * Every copy goes through copy_into(): it broadcasts src to dst's shape, simplifies the pair
 * of layouts (size-1 dims dropped, neighbours that are contiguous in both merged), and then
 * converts one innermost run at a time. A run that is contiguous on both sides is converted
 * in place by ampc_convert; a strided side is gathered into (or scattered from) a small stack
 * buffer first. Two contiguous tensors of the same shape simplify to a single run: one
 * ampc_convert call over the whole buffer. Large copies split their runs over threads. */
#include <ampc/cpu.h>
#include <ampc/tensor.h>

#include <omp.h>
#include <string.h>

#include "core/error.h"
#include "tensor/arena.h"
#include "tensor/tensor_internal.h"

/* Below this many elements a copy stays on the calling thread: threads cost more than they
 * save. */
#define PARALLEL_MIN_ELEMENTS ((int64_t)1 << 16)
/* Elements per stack buffer for strided runs: 4 KiB for 8-byte dtypes. */
#define RUN_CHUNK 512

/* dst[i] = src[i] over a simplified, broadcast pair of layouts. */
typedef struct copy_plan {
    int ndim; /* >= 1 */
    int64_t shape[AMPC_MAX_DIMS];
    int64_t dst_strides[AMPC_MAX_DIMS];
    int64_t src_strides[AMPC_MAX_DIMS];
    char *dst;       /* first element */
    const char *src; /* first element */
    ampc_dtype dst_dtype;
    ampc_dtype src_dtype;
    ampc_overflow overflow;
} copy_plan;

/* Two writes to one address would race and make the result depend on order. */
static ampc_status check_writable(const char *function, const ampc_tensor *dst)
{
    for (int dim = 0; dim < dst->ndim; dim++) {
        if (dst->strides[dim] != 0 || dst->shape[dim] <= 1) continue;
        char shape[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(shape, sizeof shape, dst->ndim, dst->shape);
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "dst (shape %s) has stride 0 in dim %d of size %lld, so several of "
                         "its elements share one address; expected a dst without broadcast "
                         "(expanded) dims",
                         shape, dim, (long long)dst->shape[dim]);
    }
    return AMPC_OK;
}

/* torch's broadcasting: src's dims align with dst's trailing dims; each must match or be 1
 * (stride 0). Extra leading src dims are allowed when they are 1. */
static ampc_status broadcast_strides(const char *function, const ampc_tensor *dst,
                                     const ampc_tensor *src, int64_t *src_strides)
{
    int lead = dst->ndim - src->ndim;
    for (int dim = 0; dim < dst->ndim; dim++) src_strides[dim] = 0;
    for (int dim = 0; dim < src->ndim; dim++) {
        int64_t size = src->shape[dim];
        int dst_dim = dim + lead;
        if (dst_dim >= 0 && size == dst->shape[dst_dim]) src_strides[dst_dim] = src->strides[dim];
        else if (size != 1) {
            char src_text[AMPC_SHAPE_TEXT_CAPACITY], dst_text[AMPC_SHAPE_TEXT_CAPACITY];
            ampc_format_shape(src_text, sizeof src_text, src->ndim, src->shape);
            ampc_format_shape(dst_text, sizeof dst_text, dst->ndim, dst->shape);
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "src of shape %s does not broadcast to dst of shape %s (src dim "
                             "%d has size %lld); expected each src dim to equal the aligned "
                             "trailing dst dim or be 1",
                             src_text, dst_text, dim, (long long)size);
        }
    }
    return AMPC_OK;
}

/* Drops size-1 dims and merges each dim into the one before it when both tensors step over
 * the pair evenly, so the innermost run is as long as the layouts allow. */
static void simplify_plan(copy_plan *plan)
{
    int kept = 0;
    for (int dim = 0; dim < plan->ndim; dim++) {
        int64_t size = plan->shape[dim];
        if (size == 1) continue;
        if (kept > 0 && plan->dst_strides[kept - 1] == plan->dst_strides[dim] * size &&
            plan->src_strides[kept - 1] == plan->src_strides[dim] * size) {
            plan->shape[kept - 1] *= size;
        } else {
            plan->shape[kept] = size;
            kept++;
        }
        plan->dst_strides[kept - 1] = plan->dst_strides[dim];
        plan->src_strides[kept - 1] = plan->src_strides[dim];
    }
    if (kept == 0) {
        plan->shape[0] = 1;
        plan->dst_strides[0] = plan->src_strides[0] = 1;
        kept = 1;
    }
    plan->ndim = kept;
}

static ampc_status make_plan(const char *function, ampc_tensor *dst, const ampc_tensor *src,
                             ampc_overflow overflow, copy_plan *plan)
{
    ampc_status status = check_writable(function, dst);
    if (status == AMPC_OK) status = broadcast_strides(function, dst, src, plan->src_strides);
    if (status != AMPC_OK) return status;
    plan->ndim = dst->ndim;
    for (int dim = 0; dim < dst->ndim; dim++) {
        plan->shape[dim] = dst->shape[dim];
        plan->dst_strides[dim] = dst->strides[dim];
    }
    plan->dst = ampc_tensor_element(dst, dst->offset);
    plan->src = ampc_tensor_element(src, src->offset);
    plan->dst_dtype = dst->dtype;
    plan->src_dtype = src->dtype;
    plan->overflow = overflow;
    simplify_plan(plan);
    return AMPC_OK;
}

/* Moves count elements of `size` bytes; a step is in bytes. Gathers (out_step == size) and
 * scatters (in_step == size) are both this. */
static inline void move_elements_sized(unsigned char *out, int64_t out_step,
                                       const unsigned char *in, int64_t in_step, size_t count,
                                       size_t size)
{
    for (size_t i = 0; i < count; i++)
        memcpy(out + (int64_t)i * out_step, in + (int64_t)i * in_step, size);
}

static void move_elements(void *out, int64_t out_stride, const void *in, int64_t in_stride,
                          size_t count, size_t size)
{
    int64_t out_step = out_stride * (int64_t)size, in_step = in_stride * (int64_t)size;
    /* A constant size lets each memcpy compile to one load and one store. */
    switch (size) {
    case 1: move_elements_sized(out, out_step, in, in_step, count, 1); break;
    case 2: move_elements_sized(out, out_step, in, in_step, count, 2); break;
    case 4: move_elements_sized(out, out_step, in, in_step, count, 4); break;
    default: move_elements_sized(out, out_step, in, in_step, count, 8); break;
    }
}

/* One innermost run: length elements from src to dst along the last plan dim. */
static ampc_status copy_run(const copy_plan *plan, char *dst, const char *src, int64_t length)
{
    int64_t dst_stride = plan->dst_strides[plan->ndim - 1];
    int64_t src_stride = plan->src_strides[plan->ndim - 1];
    if (dst_stride == 1 && src_stride == 1)
        return ampc_convert_with(dst, plan->dst_dtype, src, plan->src_dtype, (size_t)length,
                                 plan->overflow);
    size_t dst_size = ampc_dtype_size(plan->dst_dtype), src_size = ampc_dtype_size(plan->src_dtype);
    _Alignas(64) unsigned char gathered[RUN_CHUNK * 8], converted[RUN_CHUNK * 8];
    for (int64_t done = 0; done < length; done += RUN_CHUNK) {
        size_t count = (size_t)(length - done < RUN_CHUNK ? length - done : RUN_CHUNK);
        const void *from = src + done * src_stride * (int64_t)src_size;
        char *destination = dst + done * dst_stride * (int64_t)dst_size;
        if (src_stride != 1) {
            move_elements(gathered, 1, from, src_stride, count, src_size);
            from = gathered;
        }
        void *to = dst_stride == 1 ? (void *)destination : converted;
        ampc_status status = ampc_convert_with(to, plan->dst_dtype, from, plan->src_dtype,
                                               count, plan->overflow);
        if (status != AMPC_OK) return status;
        if (dst_stride != 1) move_elements(destination, dst_stride, converted, 1, count, dst_size);
    }
    return AMPC_OK;
}

/* Copies run number `row` (the outer dims' index, row-major). */
static ampc_status copy_row(const copy_plan *plan, int64_t row)
{
    int last = plan->ndim - 1;
    int64_t dst_offset = 0, src_offset = 0;
    for (int dim = last - 1; dim >= 0; dim--) {
        int64_t index = row % plan->shape[dim];
        row /= plan->shape[dim];
        dst_offset += index * plan->dst_strides[dim];
        src_offset += index * plan->src_strides[dim];
    }
    return copy_run(plan, plan->dst + dst_offset * (int64_t)ampc_dtype_size(plan->dst_dtype),
                    plan->src + src_offset * (int64_t)ampc_dtype_size(plan->src_dtype),
                    plan->shape[last]);
}

static ampc_status run_plan(const char *function, const copy_plan *plan)
{
    int64_t run_length = plan->shape[plan->ndim - 1];
    int64_t rows = ampc_shape_numel(plan->ndim, plan->shape) / run_length;
    int threads = 1;
    if (rows > 1 && rows * run_length >= PARALLEL_MIN_ELEMENTS)
        threads = rows < ampc_num_threads() ? (int)rows : ampc_num_threads();
    /* One run, or a small copy: no OpenMP region at all. Even an inactive one (if false)
     * would make the conversion's own parallel region a nested one, which libgomp runs on a
     * fresh team of threads that fight the pool's spinning ones. */
    if (threads == 1) {
        for (int64_t row = 0; row < rows; row++) {
            ampc_status status = copy_row(plan, row);
            if (status != AMPC_OK) return status;
        }
        return AMPC_OK;
    }
    ampc_status status = AMPC_OK;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t row = 0; row < rows; row++) {
        ampc_status row_status = copy_row(plan, row);
        if (row_status != AMPC_OK) {
#pragma omp critical(ampc_copy_status)
            status = row_status;
        }
    }
    /* A worker's message stays on the worker's thread; say at least what failed here. */
    if (status != AMPC_OK && ampc_error_status() == AMPC_OK)
        ampc_fail(status, function, "converting %s to %s failed", ampc_dtype_name(plan->src_dtype),
                  ampc_dtype_name(plan->dst_dtype));
    return status;
}

/* The first and one-past-last byte address a tensor's elements touch (strides are never
 * negative). Addresses, not storages, are compared: two wraps may share a buffer. */
static void byte_range(const ampc_tensor *tensor, uintptr_t *first, uintptr_t *end)
{
    int64_t last = tensor->offset;
    for (int dim = 0; dim < tensor->ndim; dim++)
        last += (tensor->shape[dim] - 1) * tensor->strides[dim];
    *first = (uintptr_t)ampc_tensor_element(tensor, tensor->offset);
    *end = (uintptr_t)ampc_tensor_element(tensor, last + 1);
}

static bool may_overlap(const ampc_tensor *dst, const ampc_tensor *src)
{
    uintptr_t dst_first, dst_end, src_first, src_end;
    byte_range(dst, &dst_first, &dst_end);
    byte_range(src, &src_first, &src_end);
    return dst_first < src_end && src_first < dst_end;
}

static ampc_status copy_into(const char *function, ampc_tensor *dst, const ampc_tensor *src,
                             ampc_overflow overflow)
{
    copy_plan plan;
    ampc_status status = make_plan(function, dst, src, overflow, &plan);
    if (status != AMPC_OK || ampc_shape_numel(dst->ndim, dst->shape) == 0) return status;
    if (may_overlap(dst, src)) {
        /* Reading src while writing dst would see half-written values: copy src aside first
         * (on the heap, so it can go at once even inside an arena). */
        ampc_tensor *aside = ampc_tensor_copy_new(function, NULL, src, src->dtype,
                                                  AMPC_OVERFLOW_DEFAULT);
        if (!aside) return ampc_error_status();
        status = copy_into(function, dst, aside, overflow);
        ampc_tensor_free(aside);
        return status;
    }
    return run_plan(function, &plan);
}

ampc_tensor *ampc_tensor_copy_new(const char *function, ampc_arena *arena,
                                  const ampc_tensor *tensor, ampc_dtype dtype,
                                  ampc_overflow overflow)
{
    ampc_tensor *copy = ampc_tensor_new_in(function, arena, dtype, tensor->ndim, tensor->shape);
    if (copy && copy_into(function, copy, tensor, overflow) != AMPC_OK) {
        ampc_tensor_free(copy);
        return NULL;
    }
    return copy;
}

ampc_status ampc_tensor_copy(ampc_tensor *dst, const ampc_tensor *src)
{
    if (!dst) return ampc_fail_null(__func__, "dst");
    if (!src) return ampc_fail_null(__func__, "src");
    return copy_into(__func__, dst, src, AMPC_OVERFLOW_DEFAULT);
}

ampc_tensor *ampc_tensor_cast(const ampc_tensor *tensor, ampc_dtype dtype)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    return ampc_tensor_copy_new(__func__, ampc_arena_current(), tensor, dtype,
                                AMPC_OVERFLOW_DEFAULT);
}

ampc_tensor *ampc_tensor_cast_with(const ampc_tensor *tensor, ampc_dtype dtype,
                                   ampc_overflow overflow)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    if ((unsigned)overflow >= AMPC_OVERFLOW_COUNT) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "overflow is %d; expected AMPC_OVERFLOW_DEFAULT (0) or "
                  "AMPC_OVERFLOW_SATURATE (1)",
                  (int)overflow);
        return NULL;
    }
    return ampc_tensor_copy_new(__func__, ampc_arena_current(), tensor, dtype, overflow);
}

ampc_tensor *ampc_tensor_clone(const ampc_tensor *tensor)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    return ampc_tensor_copy_new(__func__, ampc_arena_current(), tensor, tensor->dtype,
                                AMPC_OVERFLOW_DEFAULT);
}

ampc_tensor *ampc_tensor_contiguous(const ampc_tensor *tensor)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    if (ampc_layout_is_contiguous(tensor->ndim, tensor->shape, tensor->strides))
        return ampc_tensor_new_view(__func__, tensor);
    return ampc_tensor_copy_new(__func__, ampc_arena_current(), tensor, tensor->dtype,
                                AMPC_OVERFLOW_DEFAULT);
}

/* --- single elements ------------------------------------------------------------------------ */

static ampc_status element_at(const char *function, const ampc_tensor *tensor,
                              const int64_t *index, char **element)
{
    if (tensor->ndim > 0 && !index)
        return ampc_fail(AMPC_ERR_NULL_ARGUMENT, function,
                         "argument index is NULL; expected %d indices", tensor->ndim);
    int64_t offset = tensor->offset;
    for (int dim = 0; dim < tensor->ndim; dim++) {
        int64_t size = tensor->shape[dim];
        if (index[dim] < 0 || index[dim] >= size)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "index[%d] is %lld; expected 0 to %lld (dim %d has size %lld)",
                             dim, (long long)index[dim], (long long)(size - 1), dim,
                             (long long)size);
        offset += index[dim] * tensor->strides[dim];
    }
    *element = ampc_tensor_element(tensor, offset);
    return AMPC_OK;
}

ampc_status ampc_tensor_get(const ampc_tensor *tensor, const int64_t *index, double *value)
{
    if (!tensor) return ampc_fail_null(__func__, "tensor");
    if (!value) return ampc_fail_null(__func__, "value");
    char *element;
    ampc_status status = element_at(__func__, tensor, index, &element);
    if (status != AMPC_OK) return status;
    return ampc_convert(value, AMPC_F64, element, tensor->dtype, 1);
}

ampc_status ampc_tensor_set(ampc_tensor *tensor, const int64_t *index, double value)
{
    if (!tensor) return ampc_fail_null(__func__, "tensor");
    char *element;
    ampc_status status = element_at(__func__, tensor, index, &element);
    if (status != AMPC_OK) return status;
    return ampc_convert(element, tensor->dtype, &value, AMPC_F64, 1);
}

ampc_status ampc_tensor_move_into(const char *function, ampc_tensor *tensor,
                                  const ampc_tensor *block, int64_t offset)
{
    AMPC_ASSERT(block->dtype == tensor->dtype && !block->arena && !tensor->arena);
    AMPC_ASSERT(offset + ampc_shape_numel(tensor->ndim, tensor->shape) <=
                ampc_shape_numel(block->ndim, block->shape));
    ampc_tensor target = *tensor;
    target.storage = block->storage;
    target.offset = block->offset + offset;
    ampc_contiguous_strides(target.ndim, target.shape, target.strides);
    ampc_status status = copy_into(function, &target, tensor, AMPC_OVERFLOW_DEFAULT);
    if (status != AMPC_OK) return status;
    atomic_fetch_add(&block->storage->refcount, 1);
    ampc_storage_release(tensor->storage);
    tensor->storage = target.storage;
    tensor->offset = target.offset;
    memcpy(tensor->strides, target.strides, sizeof tensor->strides);
    return AMPC_OK;
}
