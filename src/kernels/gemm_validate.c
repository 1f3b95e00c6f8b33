/* Validation of a GEMM descriptor: every field checked before anything is read or written, each
 * failure a message naming the field, what it was and what was expected. The order is the
 * order a reader fills a descriptor in: enums, dtypes, sizes, leading dims, batch strides,
 * pointers, then packed B. Nothing here aborts; ampc_gemm() returns the status. */
#include <limits.h>
#include <stdint.h>

#include "core/error.h"
#include "kernels/gemm_kernels.h"

static ampc_status check_transpose(const char *function, const char *field,
                                   ampc_gemm_transpose transpose)
{
    if ((unsigned)transpose < AMPC_TRANSPOSE_COUNT) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "%s is %d; expected AMPC_TRANSPOSE_NONE (0) or AMPC_TRANSPOSE (1)", field,
                     (int)transpose);
}

static bool is_input_dtype(ampc_dtype dtype)
{
    return dtype == AMPC_F64 || dtype == AMPC_F32 || dtype == AMPC_F16 || dtype == AMPC_BF16;
}

static ampc_status check_input_dtype(const char *function, const char *field, ampc_dtype dtype)
{
    if (is_input_dtype(dtype)) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "%s is %s (%d); expected F64, F32, F16 or BF16", field,
                     ampc_dtype_name(dtype), (int)dtype);
}

static ampc_status check_sizes(const char *function, const ampc_gemm_desc *desc)
{
    const struct { const char *name; int64_t value; } sizes[] = {
        {"m", desc->m}, {"n", desc->n}, {"k", desc->k}, {"batch", desc->batch}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        if (sizes[i].value < 0)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "%s is %lld; expected >= 0",
                             sizes[i].name, (long long)sizes[i].value);
    return AMPC_OK;
}

/* One stored matrix of the batch: its shape as stored, and where it lives. */
typedef struct operand_layout {
    const char *name;     /* "a", "b", "c" */
    const char *data_field; /* "a.data", ... */
    const char *shape;    /* "m x k", for messages */
    int64_t rows, columns;
    int64_t leading_dim, batch_stride;
    const void *data;
    ampc_dtype dtype;
} operand_layout;

static ampc_status check_leading_dim(const char *function, const operand_layout *x)
{
    if (x->leading_dim >= x->columns) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "%s.leading_dim is %lld; expected >= %lld, the columns of %s as stored "
                     "(%s = %lld x %lld)",
                     x->name, (long long)x->leading_dim, (long long)x->columns, x->name,
                     x->shape, (long long)x->rows, (long long)x->columns);
}

/* Inputs may share or repeat matrices (stride 0 broadcasts one to the batch); outputs may
 * not, since threads write the batch's matrices at the same time. */
static ampc_status check_batch_stride(const char *function, const operand_layout *x,
                                      bool is_output)
{
    int64_t minimum = 0;
    if (is_output && x->rows > 0 && x->columns > 0)
        minimum = (x->rows - 1) * x->leading_dim + x->columns;
    if (x->batch_stride >= minimum) return AMPC_OK;
    if (!is_output)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "%s.batch_stride is %lld; expected >= 0", x->name,
                         (long long)x->batch_stride);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "%s.batch_stride is %lld; expected >= %lld, so that the batch's matrices "
                     "do not overlap ((rows - 1) * leading_dim + columns)",
                     x->name, (long long)x->batch_stride, (long long)minimum);
}

/* The byte span must be addressable, and the pointer NULL only when nothing is read. */
static ampc_status check_data(const char *function, const operand_layout *x, int64_t batch)
{
    if (x->rows == 0 || x->columns == 0) return AMPC_OK;
    if (!x->data) return ampc_fail_null(function, x->data_field);
    int64_t size = (int64_t)ampc_dtype_size(x->dtype), span, batch_span, bytes;
    if (__builtin_mul_overflow(x->rows - 1, x->leading_dim, &span) ||
        __builtin_add_overflow(span, x->columns, &span) ||
        __builtin_mul_overflow(batch > 1 ? batch - 1 : 0, x->batch_stride, &batch_span) ||
        __builtin_add_overflow(span, batch_span, &span) ||
        __builtin_mul_overflow(span, size, &bytes))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "%s spans more than 2^63 bytes (rows %lld, leading_dim %lld, "
                         "batch %lld, batch_stride %lld)",
                         x->name, (long long)x->rows, (long long)x->leading_dim,
                         (long long)batch, (long long)x->batch_stride);
    if ((uintptr_t)x->data % (uintptr_t)size != 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "%s.data %p is not aligned to its %lld-byte elements", x->name,
                         x->data, (long long)size);
    return AMPC_OK;
}

/* read_or_written: false when the product is empty (m or n is 0, or k is 0 for A and B). */
static ampc_status check_operand(const char *function, const operand_layout *x, int64_t batch,
                                 bool is_output, bool read_or_written)
{
    ampc_status status = check_leading_dim(function, x);
    if (status == AMPC_OK && batch > 1) status = check_batch_stride(function, x, is_output);
    if (status == AMPC_OK && read_or_written) status = check_data(function, x, batch);
    return status;
}

static operand_layout a_layout(const ampc_gemm_desc *desc)
{
    bool t = desc->transpose_a == AMPC_TRANSPOSE;
    return (operand_layout){"a", "a.data", t ? "k x m" : "m x k", t ? desc->k : desc->m,
                            t ? desc->m : desc->k, desc->a.leading_dim, desc->a.batch_stride,
                            desc->a.data, desc->a.dtype};
}

static operand_layout b_layout(const ampc_gemm_desc *desc)
{
    bool t = desc->transpose_b == AMPC_TRANSPOSE;
    return (operand_layout){"b", "b.data", t ? "n x k" : "k x n", t ? desc->n : desc->k,
                            t ? desc->k : desc->n, desc->b.leading_dim, desc->b.batch_stride,
                            desc->b.data, desc->b.dtype};
}

static operand_layout c_layout(const ampc_gemm_desc *desc)
{
    return (operand_layout){"c", "c.data", "m x n", desc->m, desc->n, desc->c.leading_dim,
                            desc->c.batch_stride, desc->c.data, desc->c.dtype};
}

static ampc_status check_enums(const char *function, const ampc_gemm_desc *desc)
{
    ampc_status status = check_transpose(function, "transpose_a", desc->transpose_a);
    if (status == AMPC_OK && !desc->packed_b)
        status = check_transpose(function, "transpose_b", desc->transpose_b);
    if (status == AMPC_OK && (unsigned)desc->activation >= AMPC_ACTIVATION_COUNT)
        status = ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                           "activation is %d; expected AMPC_ACTIVATION_NONE .. "
                           "AMPC_ACTIVATION_GELU_ERF (0 .. %d)",
                           (int)desc->activation, AMPC_ACTIVATION_COUNT - 1);
    return status;
}

static ampc_status check_dtypes(const char *function, const ampc_gemm_desc *desc)
{
    ampc_status status = check_input_dtype(function, "a.dtype", desc->a.dtype);
    if (status != AMPC_OK) return status;
    ampc_dtype input = desc->a.dtype;
    if (!desc->packed_b && desc->b.dtype != input)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "b.dtype is %s; expected %s, the same as a.dtype",
                         ampc_dtype_name(desc->b.dtype), ampc_dtype_name(input));
    bool c_ok = input == AMPC_F64 ? desc->c.dtype == AMPC_F64
                                  : desc->c.dtype == AMPC_F32 || desc->c.dtype == AMPC_F16 ||
                                        desc->c.dtype == AMPC_BF16;
    if (!c_ok)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "c.dtype is %s; expected %s for %s inputs",
                         ampc_dtype_name(desc->c.dtype),
                         input == AMPC_F64 ? "F64" : "F32, F16 or BF16", ampc_dtype_name(input));
    ampc_dtype bias_dtype = input == AMPC_F64 ? AMPC_F64 : AMPC_F32;
    if (desc->bias && desc->bias_dtype != bias_dtype)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "bias_dtype is %s; expected %s for %s inputs",
                         ampc_dtype_name(desc->bias_dtype), ampc_dtype_name(bias_dtype),
                         ampc_dtype_name(input));
    if (desc->bias && (uintptr_t)desc->bias % ampc_dtype_size(bias_dtype) != 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "bias %p is not aligned to its %zu-byte elements", desc->bias,
                         ampc_dtype_size(bias_dtype));
    return AMPC_OK;
}

static ampc_status check_packed_b(const char *function, const ampc_gemm_desc *desc,
                                  const ampc_gemm_kernel *kernel)
{
    const ampc_gemm_packed *packed = desc->packed_b;
    if (packed->dtype != desc->a.dtype)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "packed_b holds %s; expected %s, the same as a.dtype",
                         ampc_dtype_name(packed->dtype), ampc_dtype_name(desc->a.dtype));
    if (packed->k != desc->k || packed->n != desc->n)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "packed_b is k x n = %lld x %lld; expected %lld x %lld (desc k x n)",
                         (long long)packed->k, (long long)packed->n, (long long)desc->k,
                         (long long)desc->n);
    if (kernel && !ampc_gemm_same_b_layout(packed->kernel, kernel))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "packed_b was packed for the %s kernel, whose layout the %s kernel "
                         "running now cannot read; pack it again",
                         packed->kernel->name, kernel->name);
    return AMPC_OK;
}

/* OpenBLAS (the F32/F64 path) takes 32-bit sizes. */
static ampc_status check_blas_limits(const char *function, const ampc_gemm_desc *desc)
{
    const struct { const char *name; int64_t value; } sizes[] = {
        {"m", desc->m},
        {"n", desc->n},
        {"k", desc->k},
        {"a.leading_dim", desc->a.leading_dim},
        {"b.leading_dim", desc->packed_b ? 0 : desc->b.leading_dim},
        {"c.leading_dim", desc->c.leading_dim}};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++)
        if (sizes[i].value > INT_MAX)
            return ampc_fail(AMPC_ERR_UNSUPPORTED, function,
                             "%s is %lld; F32 and F64 inputs go through OpenBLAS, which takes "
                             "at most %d",
                             sizes[i].name, (long long)sizes[i].value, INT_MAX);
    return AMPC_OK;
}

ampc_status ampc_gemm_validate(const char *function, const ampc_gemm_desc *desc,
                               const ampc_gemm_kernel *kernel)
{
    if (!desc) return ampc_fail_null(function, "desc");
    ampc_status status = check_enums(function, desc);
    if (status == AMPC_OK) status = check_dtypes(function, desc);
    if (status == AMPC_OK) status = check_sizes(function, desc);
    if (status != AMPC_OK) return status;
    operand_layout a = a_layout(desc), b = b_layout(desc), c = c_layout(desc);
    int64_t matrices = desc->batch > 1 ? desc->batch : 1; /* batch 0 is one product too */
    bool writes_c = desc->m > 0 && desc->n > 0, reads_inputs = writes_c && desc->k > 0;
    status = check_operand(function, &a, matrices, false, reads_inputs);
    if (status == AMPC_OK && !desc->packed_b)
        status = check_operand(function, &b, matrices, false, reads_inputs);
    if (status == AMPC_OK) status = check_operand(function, &c, matrices, true, writes_c);
    if (status == AMPC_OK && desc->packed_b) status = check_packed_b(function, desc, kernel);
    if (status == AMPC_OK && (desc->a.dtype == AMPC_F32 || desc->a.dtype == AMPC_F64))
        status = check_blas_limits(function, desc);
    return status;
}

ampc_status ampc_gemm_validate_pack_b(const char *function, ampc_dtype dtype,
                                      ampc_gemm_transpose transpose_b, int64_t k, int64_t n,
                                      const void *b, int64_t leading_dim)
{
    ampc_status status = check_input_dtype(function, "dtype", dtype);
    if (status == AMPC_OK) status = check_transpose(function, "transpose_b", transpose_b);
    if (status != AMPC_OK) return status;
    if (k < 0 || n < 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "k x n is %lld x %lld; expected sizes >= 0", (long long)k,
                         (long long)n);
    bool t = transpose_b == AMPC_TRANSPOSE;
    operand_layout layout = {"b", "b", t ? "n x k" : "k x n", t ? n : k, t ? k : n, leading_dim, 0,
                             b, dtype};
    status = check_operand(function, &layout, 1, false, true);
    if (status == AMPC_OK && (dtype == AMPC_F32 || dtype == AMPC_F64) &&
        (k > INT_MAX || n > INT_MAX))
        status = ampc_fail(AMPC_ERR_UNSUPPORTED, function,
                           "k x n is %lld x %lld; F32 and F64 inputs go through OpenBLAS, "
                           "which takes sizes up to %d",
                           (long long)k, (long long)n, INT_MAX);
    return status;
}
