/* What the op families share: dtype rules, broadcasting, the compute dtype, and the two sums
 * autograd itself needs (a broadcast's gradient, and adding gradients). */
#include "ops/op_support.h"

#include <ampc/cpu.h>

#include <omp.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "tensor/arena.h"
#include "tensor/tensor_internal.h"

/* Below this many elements a loop stays on the calling thread. */
#define PARALLEL_MIN_ELEMENTS ((int64_t)1 << 15)

bool ampc_dtype_is_differentiable(ampc_dtype dtype)
{
    return dtype == AMPC_F64 || dtype == AMPC_F32 || dtype == AMPC_F16 ||
           dtype == AMPC_BF16;
}

ampc_status ampc_check_float_tensor(const char *function, const char *argument,
                                    const ampc_tensor *tensor)
{
    if (!tensor) return ampc_fail_null(function, argument);
    if (ampc_dtype_is_differentiable(tensor->dtype)) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "%s has dtype %s; expected F64, F32, F16 or BF16", argument,
                     ampc_dtype_name(tensor->dtype));
}

ampc_dtype ampc_compute_dtype(ampc_dtype dtype)
{
    return dtype == AMPC_F64 ? AMPC_F64 : AMPC_F32;
}

ampc_dtype ampc_promote_float(ampc_dtype a, ampc_dtype b)
{
    if (a == b) return a;
    if (a == AMPC_F64 || b == AMPC_F64) return AMPC_F64;
    return AMPC_F32; /* F32 with anything narrower, or F16 with BF16 */
}

ampc_status ampc_broadcast_shapes(const char *function, int ndim_a, const int64_t *shape_a,
                                  int ndim_b, const int64_t *shape_b, int *ndim,
                                  int64_t *shape)
{
    int result_ndim = ndim_a > ndim_b ? ndim_a : ndim_b;
    for (int dim = 0; dim < result_ndim; dim++) {
        int from_a = dim - (result_ndim - ndim_a), from_b = dim - (result_ndim - ndim_b);
        int64_t size_a = from_a >= 0 ? shape_a[from_a] : 1;
        int64_t size_b = from_b >= 0 ? shape_b[from_b] : 1;
        if (size_a != size_b && size_a != 1 && size_b != 1) {
            char text_a[AMPC_SHAPE_TEXT_CAPACITY], text_b[AMPC_SHAPE_TEXT_CAPACITY];
            ampc_format_shape(text_a, sizeof text_a, ndim_a, shape_a);
            ampc_format_shape(text_b, sizeof text_b, ndim_b, shape_b);
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "shapes %s and %s do not broadcast: dim %d (from the right) has "
                             "sizes %lld and %lld; expected equal sizes or one of them 1",
                             text_a, text_b, result_ndim - dim, (long long)size_a,
                             (long long)size_b);
        }
        shape[dim] = size_a == 1 ? size_b : size_a;
    }
    *ndim = result_ndim;
    return AMPC_OK;
}

ampc_tensor *ampc_contiguous_as(const char *function, const ampc_tensor *tensor,
                                ampc_dtype dtype)
{
    if (!tensor) return ampc_null_tensor(function, "tensor");
    if (tensor->dtype == dtype &&
        ampc_layout_is_contiguous(tensor->ndim, tensor->shape, tensor->strides))
        return ampc_tensor_new_view(function, tensor);
    return ampc_tensor_copy_new(function, ampc_arena_current(), tensor, dtype,
                                AMPC_OVERFLOW_DEFAULT);
}

ampc_tensor *ampc_to_compute(const char *function, const ampc_tensor *tensor)
{
    if (!tensor) return ampc_null_tensor(function, "tensor");
    return ampc_contiguous_as(function, tensor, ampc_compute_dtype(tensor->dtype));
}

ampc_tensor *ampc_from_compute(const char *function, ampc_tensor *computed, ampc_dtype dtype)
{
    if (!computed) return ampc_null_tensor(function, "computed");
    if (computed->dtype == dtype) return computed;
    ampc_tensor *result = ampc_tensor_copy_new(function, ampc_arena_current(), computed, dtype,
                                               AMPC_OVERFLOW_DEFAULT);
    ampc_tensor_free(computed);
    return result;
}

/* --- summing a broadcast gradient back --------------------------------------------------- */

/* grad's dims split into those kept (the target has them at full size) and those summed.
 * The last dim, when kept, is the contiguous inner run every summed row adds into. */
typedef struct sum_plan {
    int num_outer, num_summed;
    int64_t outer_sizes[AMPC_MAX_DIMS], outer_strides[AMPC_MAX_DIMS];
    int64_t summed_sizes[AMPC_MAX_DIMS], summed_strides[AMPC_MAX_DIMS];
    int64_t outer_count, summed_count, inner; /* inner: length of the kept last dim, or 1 */
} sum_plan;

static void plan_sum(const ampc_tensor *grad, int ndim, const int64_t *shape, sum_plan *plan)
{
    memset(plan, 0, sizeof *plan);
    plan->outer_count = plan->summed_count = plan->inner = 1;
    int lead = grad->ndim - ndim;
    int last = grad->ndim - 1;
    for (int dim = 0; dim < grad->ndim; dim++) {
        int64_t size = grad->shape[dim], stride = grad->strides[dim];
        bool kept = dim >= lead && shape[dim - lead] == size;
        if (kept && dim == last) {
            plan->inner = size;
        } else if (kept) {
            plan->outer_sizes[plan->num_outer] = size;
            plan->outer_strides[plan->num_outer++] = stride;
            plan->outer_count *= size;
        } else {
            plan->summed_sizes[plan->num_summed] = size;
            plan->summed_strides[plan->num_summed++] = stride;
            plan->summed_count *= size;
        }
    }
}

static int64_t offset_of(int64_t position, int ndim, const int64_t *sizes,
                         const int64_t *strides)
{
    int64_t offset = 0;
    for (int dim = ndim - 1; dim >= 0; dim--) {
        offset += position % sizes[dim] * strides[dim];
        position /= sizes[dim];
    }
    return offset;
}

/* Each output element is one chain over the summed positions in row-major order, whatever the
 * thread count. grad is contiguous in the compute dtype, so its last dim has stride 1. */
#define DEFINE_SUM_TO_SHAPE(real)                                                            \
    static void sum_to_shape_##real(const sum_plan *plan, const real *grad, real *out)      \
    {                                                                                        \
        int64_t work = plan->outer_count * plan->summed_count * plan->inner;                 \
        _Pragma("omp parallel for num_threads(ampc_num_threads()) if(work >= PARALLEL_MIN_ELEMENTS)") \
        for (int64_t outer = 0; outer < plan->outer_count; outer++) {                        \
            real *row = out + outer * plan->inner;                                           \
            const real *base = grad + offset_of(outer, plan->num_outer, plan->outer_sizes,   \
                                                plan->outer_strides);                        \
            for (int64_t inner = 0; inner < plan->inner; inner++) row[inner] = 0;            \
            for (int64_t summed = 0; summed < plan->summed_count; summed++) {                \
                const real *source = base + offset_of(summed, plan->num_summed,              \
                                                      plan->summed_sizes,                    \
                                                      plan->summed_strides);                 \
                for (int64_t inner = 0; inner < plan->inner; inner++) row[inner] += source[inner]; \
            }                                                                                \
        }                                                                                    \
    }
DEFINE_SUM_TO_SHAPE(float)
DEFINE_SUM_TO_SHAPE(double)

static bool shapes_equal(int ndim_a, const int64_t *shape_a, int ndim_b, const int64_t *shape_b)
{
    return ndim_a == ndim_b && memcmp(shape_a, shape_b, (size_t)ndim_a * sizeof *shape_a) == 0;
}

ampc_tensor *ampc_sum_to_shape(const char *function, const ampc_tensor *grad, int ndim,
                               const int64_t *shape)
{
    if (!grad) return ampc_null_tensor(function, "grad");
    if (shapes_equal(grad->ndim, grad->shape, ndim, shape))
        return ampc_tensor_new_view(function, grad);
    AMPC_ASSERT(ndim <= grad->ndim);
    ampc_tensor *computed = ampc_to_compute(function, grad);
    ampc_tensor *summed =
        computed ? ampc_tensor_new(function, computed->dtype, ndim, shape) : NULL;
    if (summed) {
        sum_plan plan;
        plan_sum(computed, ndim, shape, &plan);
        if (computed->dtype == AMPC_F64)
            sum_to_shape_double(&plan, ampc_tensor_data(computed), ampc_tensor_data(summed));
        else
            sum_to_shape_float(&plan, ampc_tensor_data(computed), ampc_tensor_data(summed));
    }
    ampc_tensor_free(computed);
    return summed ? ampc_from_compute(function, summed, grad->dtype) : NULL;
}

/* --- adding gradients -------------------------------------------------------------------- */

#define DEFINE_ADD(real)                                                                     \
    static void add_##real(real *out, const real *a, const real *b, int64_t n)              \
    {                                                                                        \
        _Pragma("omp parallel for simd num_threads(ampc_num_threads()) if(n >= PARALLEL_MIN_ELEMENTS)")                      \
        for (int64_t index = 0; index < n; index++) out[index] = a[index] + b[index];       \
    }
DEFINE_ADD(float)
DEFINE_ADD(double)

/* Elements per chunk of a 16-bit sum (two fp32 stack buffers). */
#define HALF_CHUNK 1024

typedef struct half_sum {
    void *out;
    const void *a, *b;
    ampc_dtype dtype;
} half_sum;

/* One chunk of a 16-bit sum: widened to fp32 through the SIMD converters, added, rounded once. */
static void add_half_chunk(const void *context, int64_t chunk, int64_t n)
{
    const half_sum *sum = context;
    float wide_a[HALF_CHUNK], wide_b[HALF_CHUNK];
    int64_t first = chunk * HALF_CHUNK;
    size_t count = (size_t)(n - first < HALF_CHUNK ? n - first : HALF_CHUNK);
    size_t byte_offset = (size_t)first * ampc_dtype_size(sum->dtype);
    ampc_convert(wide_a, AMPC_F32, (const char *)sum->a + byte_offset, sum->dtype, count);
    ampc_convert(wide_b, AMPC_F32, (const char *)sum->b + byte_offset, sum->dtype, count);
    for (size_t index = 0; index < count; index++) wide_a[index] += wide_b[index];
    ampc_convert((char *)sum->out + byte_offset, sum->dtype, wide_a, AMPC_F32, count);
}

/* out = a + b for contiguous 16-bit data of one dtype (out may be a), with no full-size
 * widened copies. */
static void add_half(void *out, const void *a, const void *b, ampc_dtype dtype, int64_t n)
{
    half_sum sum = {.out = out, .a = a, .b = b, .dtype = dtype};
    ampc_parallel_chunks(n, HALF_CHUNK, PARALLEL_MIN_ELEMENTS, add_half_chunk, &sum);
}

/* out = a + b over contiguous tensors of out's dtype and one shape (out may be a). */
static void add_contiguous(ampc_tensor *out, const ampc_tensor *a, const ampc_tensor *b)
{
    int64_t n = ampc_shape_numel(out->ndim, out->shape);
    if (out->dtype == AMPC_F64)
        add_double(ampc_tensor_data(out), ampc_tensor_data(a), ampc_tensor_data(b), n);
    else if (out->dtype == AMPC_F32)
        add_float(ampc_tensor_data(out), ampc_tensor_data(a), ampc_tensor_data(b), n);
    else
        add_half(ampc_tensor_data(out), ampc_tensor_data(a), ampc_tensor_data(b), out->dtype, n);
}

ampc_tensor *ampc_sum_new(const char *function, const ampc_tensor *a, const ampc_tensor *b)
{
    AMPC_ASSERT(shapes_equal(a->ndim, a->shape, b->ndim, b->shape));
    ampc_tensor *a_contiguous = ampc_contiguous_as(function, a, a->dtype);
    ampc_tensor *b_contiguous = a_contiguous ? ampc_contiguous_as(function, b, a->dtype) : NULL;
    ampc_tensor *sum = b_contiguous ? ampc_tensor_new(function, a->dtype, a->ndim, a->shape) : NULL;
    if (sum) add_contiguous(sum, a_contiguous, b_contiguous);
    ampc_tensor_free(a_contiguous);
    ampc_tensor_free(b_contiguous);
    return sum;
}

ampc_status ampc_add_into(const char *function, ampc_tensor *dst, const ampc_tensor *src)
{
    AMPC_ASSERT(ampc_layout_is_contiguous(dst->ndim, dst->shape, dst->strides));
    ampc_tensor *source = ampc_contiguous_as(function, src, dst->dtype);
    if (!source) return ampc_error_status();
    add_contiguous(dst, dst, source);
    ampc_tensor_free(source);
    return AMPC_OK;
}
