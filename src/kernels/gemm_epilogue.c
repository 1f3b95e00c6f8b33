/* The GEMM epilogue: everything after the k reduction, once per element of C,
 *
 *     c = activation(alpha * acc + beta * c + bias)
 *
 * in fp32 for F32, F16 and BF16 outputs (fp64 for F64), then rounded to C's dtype once, by the
 * conversion kernels (src/dtype), so the rounding is ampc_convert's: to nearest even, with
 * subnormals kept. Rows go through in chunks: C is widened (only when beta != 0, so that with
 * beta = 0 whatever C held, NaN included, never reaches the result), combined, activated,
 * and narrowed back. A chunk is read whole before it is written, so acc may be C itself. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "core/error.h"
#include "core/fpenv.h"
#include "dtype/convert_kernels.h"
#include "kernels/gemm_kernels.h"

enum { CHUNK = 256 }; /* columns per pass: the intermediates stay in L1 */

/* Enough rows x columns to be worth waking the other threads for (gelu costs ~10 ns each). */
#define PARALLEL_MIN_ELEMENTS (1 << 15)

#define SQRT_2_OVER_PI 0.7978845608028654
#define SQRT_HALF 0.7071067811865476
#define GELU_TANH_CUBIC 0.044715

/* relu keeps NaN (NaN <= 0 is false) and makes -0 into +0, as max(x, 0) does in PyTorch. */
static float activate_f32(ampc_activation activation, float x)
{
    switch (activation) {
    case AMPC_ACTIVATION_RELU: return x <= 0.0f ? 0.0f : x;
    case AMPC_ACTIVATION_GELU_TANH:
        return 0.5f * x *
               (1.0f + tanhf((float)SQRT_2_OVER_PI * (x + (float)GELU_TANH_CUBIC * x * x * x)));
    case AMPC_ACTIVATION_GELU_ERF: return 0.5f * x * (1.0f + erff(x * (float)SQRT_HALF));
    default: return x;
    }
}

static double activate_f64(ampc_activation activation, double x)
{
    switch (activation) {
    case AMPC_ACTIVATION_RELU: return x <= 0.0 ? 0.0 : x;
    case AMPC_ACTIVATION_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + GELU_TANH_CUBIC * x * x * x)));
    case AMPC_ACTIVATION_GELU_ERF: return 0.5 * x * (1.0 + erf(x * SQRT_HALF));
    default: return x;
    }
}

/* The old C of a chunk in fp32; only called when beta != 0. */
static const float *widen_c(const ampc_convert_kernels *convert, float *buffer, const void *c,
                            ampc_dtype dtype, int64_t n)
{
    switch (dtype) {
    case AMPC_F16: convert->f16_to_f32(buffer, c, (size_t)n); return buffer;
    case AMPC_BF16: convert->bf16_to_f32(buffer, c, (size_t)n); return buffer;
    default: return c;
    }
}

static void store_c(const ampc_convert_kernels *convert, void *c, ampc_dtype dtype,
                    const float *values, int64_t n)
{
    switch (dtype) {
    case AMPC_F16: convert->f32_to_f16(c, values, (size_t)n); break;
    case AMPC_BF16: convert->f32_to_bf16(c, values, (size_t)n); break;
    default: memcpy(c, values, (size_t)n * sizeof(float));
    }
}

/* values = alpha * acc + beta * old_c + bias, one plain pass per term so that each loop
 * vectorizes; the order of the adds is the same as element by element. */
static void combine_f32(const ampc_gemm_epilogue_f32 *e, float *values, const float *acc,
                        const float *old_c, int64_t col0, int64_t n)
{
    if (acc) {
        for (int64_t j = 0; j < n; j++) values[j] = e->alpha * acc[j];
        if (old_c)
            for (int64_t j = 0; j < n; j++) values[j] += e->beta * old_c[j];
    } else {
        for (int64_t j = 0; j < n; j++) values[j] = old_c ? e->beta * old_c[j] : 0.0f;
    }
    if (e->bias)
        for (int64_t j = 0; j < n; j++) values[j] += e->bias[col0 + j];
}

/* n <= CHUNK. */
static void epilogue_chunk_f32(const ampc_gemm_epilogue_f32 *e,
                               const ampc_convert_kernels *convert, void *c, const float *acc,
                               int64_t col0, int64_t n)
{
    float values[CHUNK], old_c_buffer[CHUNK];
    const float *old_c = e->beta != 0.0f ? widen_c(convert, old_c_buffer, c, e->c_dtype, n)
                                         : NULL;
    combine_f32(e, values, acc, old_c, col0, n);
    if (e->activation != AMPC_ACTIVATION_NONE)
        for (int64_t j = 0; j < n; j++) values[j] = activate_f32(e->activation, values[j]);
    store_c(convert, c, e->c_dtype, values, n);
}

void ampc_gemm_epilogue_row_f32(const ampc_gemm_epilogue_f32 *epilogue, void *c,
                                const float *acc, int64_t col0, int64_t n)
{
    const ampc_convert_kernels *convert = ampc_convert_kernels_active();
    size_t c_size = ampc_dtype_size(epilogue->c_dtype);
    for (int64_t start = 0; start < n; start += CHUNK) {
        int64_t count = n - start < CHUNK ? n - start : CHUNK;
        epilogue_chunk_f32(epilogue, convert, (char *)c + start * (int64_t)c_size,
                           acc ? acc + start : NULL, col0 + start, count);
    }
}

void ampc_gemm_epilogue_row_f64(const ampc_gemm_epilogue_f64 *epilogue, double *c,
                                const double *acc, int64_t col0, int64_t n)
{
    /* Element by element, each read before it is written: acc may be c. */
    for (int64_t j = 0; j < n; j++) {
        double value = acc ? epilogue->alpha * acc[j] : 0.0;
        if (epilogue->beta != 0.0)
            value = acc ? value + epilogue->beta * c[j] : epilogue->beta * c[j];
        if (epilogue->bias) value += epilogue->bias[col0 + j];
        c[j] = activate_f64(epilogue->activation, value);
    }
}

ampc_gemm_epilogue_f32 ampc_gemm_epilogue_f32_of(const ampc_gemm_desc *desc)
{
    return (ampc_gemm_epilogue_f32){(float)desc->alpha, (float)desc->beta, desc->bias,
                                    desc->activation, desc->c.dtype};
}

ampc_gemm_epilogue_f64 ampc_gemm_epilogue_f64_of(const ampc_gemm_desc *desc)
{
    return (ampc_gemm_epilogue_f64){desc->alpha, desc->beta, desc->bias, desc->activation};
}

ampc_gemm_rows ampc_gemm_rows_of_c(const ampc_gemm_desc *desc)
{
    int64_t batch = desc->batch > 1 ? desc->batch : 1;
    return (ampc_gemm_rows){desc->c.data, desc->c.leading_dim,
                            batch > 1 ? desc->c.batch_stride : 0, NULL, 0, 0, batch,
                            desc->m, desc->n};
}

static void epilogue_row(const ampc_gemm_rows *rows, const ampc_gemm_epilogue_f32 *e32,
                         const ampc_gemm_epilogue_f64 *e64, int64_t row)
{
    int64_t matrix = row / rows->m, i = row % rows->m;
    int64_t c_offset = matrix * rows->c_batch_stride + i * rows->c_leading_dim;
    int64_t acc_offset = matrix * rows->acc_batch_stride + i * rows->acc_leading_dim;
    if (e64) {
        const double *acc = rows->acc ? (const double *)rows->acc + acc_offset : NULL;
        ampc_gemm_epilogue_row_f64(e64, (double *)rows->c + c_offset, acc, 0, rows->n);
    } else {
        const float *acc = rows->acc ? (const float *)rows->acc + acc_offset : NULL;
        char *c = (char *)rows->c + c_offset * (int64_t)ampc_dtype_size(e32->c_dtype);
        ampc_gemm_epilogue_row_f32(e32, c, acc, 0, rows->n);
    }
}

void ampc_gemm_epilogue_rows(const ampc_gemm_rows *rows, const ampc_gemm_epilogue_f32 *e32,
                             const ampc_gemm_epilogue_f64 *e64, int threads)
{
    AMPC_ASSERT((e32 == NULL) != (e64 == NULL));
    int64_t total = rows->batch * rows->m;
    if (total * rows->n < PARALLEL_MIN_ELEMENTS) threads = 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        uint32_t caller_fpenv = ampc_fpenv_set_default();
#pragma omp for schedule(static)
        for (int64_t row = 0; row < total; row++) epilogue_row(rows, e32, e64, row);
        ampc_fpenv_restore(caller_fpenv);
    }
}
