/* The elementwise engine; see pointwise_engine.h for what it does.
 *
 * A chunk is CHUNK consecutive output elements (row-major). Every operand of a chunk becomes
 * a pointer to CHUNK values in the compute dtype, in one of three ways: a contiguous operand
 * that already has the compute dtype is read in place; a contiguous one of another dtype is
 * converted into a stack buffer; anything else (broadcast, transposed, sliced) is first
 * gathered into a raw buffer run by run along its last dim, then converted. The kernel writes
 * the output in place when the output has the compute dtype, else into a buffer that is
 * rounded into the output. All buffers are on the stack: nothing is allocated per call
 * beyond the output. */
#include "ops/pointwise_engine.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <ampc/cpu.h>
#include <ampc/dtype.h>

#include "core/error.h"
#include "core/parallel.h"
#include "dtype/convert_kernels.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

enum {
    CHUNK = 1024,            /* elements per chunk: 8 KiB per fp64 buffer, five buffers */
    PARALLEL_MIN = 1 << 15,  /* below this many elements, threads cost more than they save */
};

typedef struct operand {
    const char *data;      /* the tensor's first element */
    ampc_dtype dtype;
    size_t size;           /* bytes per element */
    bool flat;             /* contiguous with the output: element i of the output reads data[i] */
    int64_t strides[AMPC_MAX_DIMS]; /* per output dim, in elements; 0 where broadcast */
} operand;

typedef struct plan {
    const ampc_pointwise_call *call;
    ampc_dtype compute;    /* F32 or F64 */
    ampc_pointwise_scalars scalars;
    ampc_pointwise_f32_fn f32;
    ampc_pointwise_f64_fn f64;
    operand inputs[AMPC_PW_MAX_INPUTS];
    char *out;
    int ndim;              /* at least 1: a 0-d output iterates as shape [1] */
    int64_t shape[AMPC_MAX_DIMS];
} plan;

/* ---- operands ---- */

static operand make_operand(const ampc_tensor *tensor, int ndim, const int64_t *shape,
                            int64_t numel)
{
    operand op = {.data = ampc_tensor_data(tensor), .dtype = tensor->dtype,
                  .size = ampc_dtype_size(tensor->dtype)};
    op.flat = ampc_tensor_numel(tensor) == numel && ampc_tensor_is_contiguous(tensor);
    int lead = ndim - tensor->ndim; /* broadcasting aligns shapes at the right */
    for (int dim = 0; dim < ndim; dim++) {
        int own = dim - lead;
        bool stretched = own < 0 || (tensor->shape[own] == 1 && shape[dim] != 1);
        op.strides[dim] = stretched ? 0 : tensor->strides[own];
    }
    return op;
}

/* n elements of `size` bytes, `stride` elements apart, to contiguous dst. */
static void copy_run(char *dst, const char *src, int64_t n, int64_t stride, size_t size)
{
    if (stride == 1) {
        memcpy(dst, src, (size_t)n * size);
        return;
    }
    switch (size) {
    case 1: for (int64_t i = 0; i < n; i++) dst[i] = src[i * stride]; break;
    case 2:
        for (int64_t i = 0; i < n; i++) memcpy(dst + i * 2, src + i * stride * 2, 2);
        break;
    case 4:
        for (int64_t i = 0; i < n; i++) memcpy(dst + i * 4, src + i * stride * 4, 4);
        break;
    default:
        for (int64_t i = 0; i < n; i++) memcpy(dst + i * 8, src + i * stride * 8, 8);
        break;
    }
}

/* The operand's values at output elements start .. start+n-1, in its own dtype, into dst. */
static void gather(char *dst, const operand *op, int ndim, const int64_t *shape, int64_t start,
                   int64_t n)
{
    int64_t index[AMPC_MAX_DIMS], offset = 0, rest = start;
    for (int dim = ndim - 1; dim >= 0; dim--) {
        index[dim] = rest % shape[dim];
        rest /= shape[dim];
        offset += index[dim] * op->strides[dim];
    }
    int last = ndim - 1;
    for (int64_t done = 0; done < n;) {
        int64_t run = shape[last] - index[last];
        if (run > n - done) run = n - done;
        copy_run(dst + (size_t)done * op->size, op->data + offset * (int64_t)op->size, run,
                 op->strides[last], op->size);
        done += run;
        index[last] += run;
        offset += run * op->strides[last];
        for (int dim = last; dim > 0 && index[dim] == shape[dim]; dim--) {
            offset += op->strides[dim - 1] - index[dim] * op->strides[dim];
            index[dim] = 0;
            index[dim - 1]++;
        }
    }
}

/* n contiguous values from one dtype to another; F16/BF16 <-> F32 through the SIMD kernels
 * directly (the engine already runs in the default MXCSR they need). */
static void convert_chunk(void *dst, ampc_dtype dst_dtype, const void *src,
                          ampc_dtype src_dtype, size_t n)
{
    const ampc_convert_kernels *kernels = ampc_convert_kernels_active();
    if (dst_dtype == AMPC_F32 && src_dtype == AMPC_F16) kernels->f16_to_f32(dst, src, n);
    else if (dst_dtype == AMPC_F32 && src_dtype == AMPC_BF16) kernels->bf16_to_f32(dst, src, n);
    else if (dst_dtype == AMPC_F16 && src_dtype == AMPC_F32) kernels->f32_to_f16(dst, src, n);
    else if (dst_dtype == AMPC_BF16 && src_dtype == AMPC_F32) kernels->f32_to_bf16(dst, src, n);
    else {
        ampc_status status = ampc_convert(dst, dst_dtype, src, src_dtype, n);
        AMPC_ASSERT(status == AMPC_OK);
    }
}

/* The operand's chunk in the compute dtype: in place, or in `buffer` (raw: gather space). */
static const void *load(const plan *p, const operand *op, void *buffer, void *raw,
                        int64_t start, size_t n)
{
    if (op->flat) {
        const char *src = op->data + (size_t)start * op->size;
        if (op->dtype == p->compute) return src;
        convert_chunk(buffer, p->compute, src, op->dtype, n);
        return buffer;
    }
    if (op->dtype == p->compute) {
        gather(buffer, op, p->ndim, p->shape, start, (int64_t)n);
        return buffer;
    }
    gather(raw, op, p->ndim, p->shape, start, (int64_t)n);
    convert_chunk(buffer, p->compute, raw, op->dtype, n);
    return buffer;
}

static void run_chunk(const void *context, int64_t chunk, int64_t numel)
{
    const plan *p = context;
    _Alignas(64) double buffers[AMPC_PW_MAX_INPUTS][CHUNK];
    _Alignas(64) double raw[CHUNK], result[CHUNK];
    int64_t start = chunk * CHUNK;
    size_t n = (size_t)(numel - start < CHUNK ? numel - start : CHUNK);
    const void *in[AMPC_PW_MAX_INPUTS] = {NULL};
    for (int i = 0; i < p->call->num_inputs; i++)
        in[i] = load(p, &p->inputs[i], buffers[i], raw, start, n);
    ampc_dtype out_dtype = p->call->out_dtype;
    char *out_chunk = p->out + (size_t)start * ampc_dtype_size(out_dtype);
    void *out = out_dtype == p->compute ? (void *)out_chunk : (void *)result;
    if (p->compute == AMPC_F32) p->f32(out, (const float *const *)in, n, &p->scalars);
    else p->f64(out, (const double *const *)in, n, &p->scalars);
    if (out == result) convert_chunk(out_chunk, out_dtype, result, p->compute, n);
}

static ampc_dtype compute_dtype_of(const ampc_pointwise_call *call)
{
    if (call->out_dtype == AMPC_F64) return AMPC_F64;
    for (int i = 0; i < call->num_inputs; i++)
        if (call->inputs[i]->dtype == AMPC_F64) return AMPC_F64;
    return AMPC_F32;
}

static void run_plan(const plan *p, int64_t numel)
{
    ampc_parallel_chunks(numel, CHUNK, PARALLEL_MIN, run_chunk, p);
}

ampc_tensor *ampc_pointwise_apply(const char *function, const ampc_pointwise_call *call)
{
    AMPC_ASSERT(call->num_inputs == ampc_pointwise_num_inputs(call->op));
    ampc_tensor *out = ampc_tensor_new(function, call->out_dtype, call->ndim, call->shape);
    if (!out) return NULL;
    int64_t numel = ampc_tensor_numel(out);
    if (numel == 0) return out;

    plan p = {.call = call, .compute = compute_dtype_of(call), .out = ampc_tensor_data(out)};
    float s0 = (float)call->scalars[0], s1 = (float)call->scalars[1];
    p.scalars.f32[0] = s0;
    p.scalars.f32[1] = s1;
    p.scalars.f64[0] = call->scalars[0];
    p.scalars.f64[1] = call->scalars[1];
    p.f32 = ampc_pointwise_kernels_active()->f32[call->op];
    p.f64 = ampc_pointwise_f64[call->op];
    p.ndim = call->ndim > 0 ? call->ndim : 1;
    for (int dim = 0; dim < p.ndim; dim++) p.shape[dim] = call->ndim > 0 ? call->shape[dim] : 1;
    for (int i = 0; i < call->num_inputs; i++)
        p.inputs[i] = make_operand(call->inputs[i], p.ndim, p.shape, numel);
    run_plan(&p, numel);
    return out;
}

static bool same_shape(int ndim_a, const int64_t *a, int ndim_b, const int64_t *b)
{
    if (ndim_a != ndim_b) return false;
    for (int dim = 0; dim < ndim_a; dim++)
        if (a[dim] != b[dim]) return false;
    return true;
}

ampc_tensor *ampc_pointwise_input_gradient(const char *function, const ampc_node *node,
                                           int input, const ampc_tensor *dout,
                                           ampc_pointwise_call call)
{
    ampc_dtype dtype = ampc_node_input_dtype(node, input);
    int ndim = ampc_node_input_ndim(node, input);
    const int64_t *shape = ampc_node_input_shape(node, input);
    bool direct = same_shape(ndim, shape, dout->ndim, dout->shape);
    /* a broadcast gradient is summed in the compute dtype and rounded once afterwards */
    bool wide = dtype == AMPC_F64 || dout->dtype == AMPC_F64;
    call.out_dtype = direct ? dtype : wide ? AMPC_F64 : AMPC_F32;
    call.ndim = dout->ndim;
    call.shape = dout->shape;
    ampc_tensor *full = ampc_pointwise_apply(function, &call);
    if (!full || direct) return full;
    ampc_tensor *summed = ampc_sum_to_shape(function, full, ndim, shape);
    ampc_tensor_free(full);
    return ampc_from_compute(function, summed, dtype);
}
