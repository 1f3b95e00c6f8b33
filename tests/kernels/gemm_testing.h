/* What the GEMM tests share: matrices with padding, a long-double reference, and the error
 * bound a result must meet. Include after cmocka's prerequisites and <cmocka.h>.
 *
 * Matrices are filled with NaN everywhere first (leading-dim gaps and batch gaps included),
 * then with random values in [-1, 1] rounded to their dtype, so a kernel that reads outside
 * the matrix turns its result into NaN. `values` keeps each stored value exactly, as a double.
 *
 * The bound (check_result), for u the unit roundoff of the accumulation (2^-24 for F32, F16,
 * BF16 inputs; 2^-53 for F64) and S = sum over k of |a||b| for the element:
 *
 *     |C - ref| <= L * (|alpha| (k + 2) u S + 4 u (|alpha dot| + |beta c| + |bias|))
 *                  + activation error (8 u |v|, 0 without one)
 *                  + half an ulp of C's dtype at |ref| + that error
 *
 * (k + 2) u S bounds any order of k rounded fp32 additions of exact products (each F16/BF16
 * product is exact in fp32; F32 products are exact in the FMA); 4 u covers rounding alpha and
 * beta to fp32 and the epilogue's three operations; L is the activation's Lipschitz constant
 * (1, or 1.13 for gelu); the activation's own fp32 error is a few ulp of its input; the last
 * term is the one rounding to C's dtype. The reference itself is computed in long double
 * (64-bit significand), far below every term. */
#ifndef AMPC_GEMM_TESTING_H
#define AMPC_GEMM_TESTING_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ampc/ampc.h>

#include "kernels/gemm_kernels.h"

/* ---- values ---- */

static inline uint32_t next_random(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

/* Uniform in [-1, 1). */
static inline double random_unit(uint32_t *state)
{
    return (double)next_random(state) / 2147483648.0 - 1.0;
}

/* Stores value rounded to dtype at element index of data; returns the stored value. */
static inline double store_value(void *data, ampc_dtype dtype, int64_t index, double value)
{
    switch (dtype) {
    case AMPC_F64: ((double *)data)[index] = value; return value;
    case AMPC_F32: ((float *)data)[index] = (float)value; return (float)value;
    case AMPC_F16: {
        uint16_t bits = ampc_f64_to_f16(value);
        ((uint16_t *)data)[index] = bits;
        return ampc_f16_to_f32(bits);
    }
    case AMPC_BF16: {
        uint16_t bits = ampc_f64_to_bf16(value);
        ((uint16_t *)data)[index] = bits;
        return ampc_bf16_to_f32(bits);
    }
    default: fail_msg("not a GEMM dtype"); return 0;
    }
}

static inline double load_value(const void *data, ampc_dtype dtype, int64_t index)
{
    switch (dtype) {
    case AMPC_F64: return ((const double *)data)[index];
    case AMPC_F32: return ((const float *)data)[index];
    case AMPC_F16: return ampc_f16_to_f32(((const uint16_t *)data)[index]);
    case AMPC_BF16: return ampc_bf16_to_f32(((const uint16_t *)data)[index]);
    default: fail_msg("not a GEMM dtype"); return 0;
    }
}

/* ---- matrices ---- */

typedef struct test_matrix {
    ampc_dtype dtype;
    int64_t batch, rows, columns, leading_dim, batch_stride;
    void *data;
    double *values; /* exactly what data holds, indexed like it */
} test_matrix;

static inline int64_t matrix_elements(const test_matrix *x)
{
    return x->batch_stride * (x->batch - 1) + x->rows * x->leading_dim + 1;
}

/* A batch of rows x columns matrices, leading_dim = columns + column_gap, and batch_gap
 * elements between matrices; every element NaN. */
static inline test_matrix matrix_new(ampc_dtype dtype, int64_t batch, int64_t rows,
                                     int64_t columns, int64_t column_gap, int64_t batch_gap)
{
    test_matrix x = {dtype, batch, rows, columns, columns + column_gap, 0, NULL, NULL};
    x.batch_stride = rows * x.leading_dim + batch_gap;
    int64_t n = matrix_elements(&x);
    x.data = calloc((size_t)n, ampc_dtype_size(dtype));
    x.values = calloc((size_t)n, sizeof(double));
    assert_non_null(x.data);
    assert_non_null(x.values);
    for (int64_t i = 0; i < n; i++) x.values[i] = store_value(x.data, dtype, i, NAN);
    return x;
}

static inline void matrix_free(test_matrix *x)
{
    free(x->data);
    free(x->values);
}

static inline int64_t matrix_index(const test_matrix *x, int64_t b, int64_t r, int64_t c)
{
    return b * x->batch_stride + r * x->leading_dim + c;
}

static inline void matrix_set(test_matrix *x, int64_t b, int64_t r, int64_t c, double value)
{
    int64_t i = matrix_index(x, b, r, c);
    x->values[i] = store_value(x->data, x->dtype, i, value);
}

static inline void matrix_fill_random(test_matrix *x, uint32_t *seed)
{
    for (int64_t b = 0; b < x->batch; b++)
        for (int64_t r = 0; r < x->rows; r++)
            for (int64_t c = 0; c < x->columns; c++) matrix_set(x, b, r, c, random_unit(seed));
}

static inline void matrix_fill(test_matrix *x, double value)
{
    for (int64_t b = 0; b < x->batch; b++)
        for (int64_t r = 0; r < x->rows; r++)
            for (int64_t c = 0; c < x->columns; c++) matrix_set(x, b, r, c, value);
}

static inline ampc_gemm_operand operand_of(const test_matrix *x)
{
    return (ampc_gemm_operand){x->dtype, x->data, x->leading_dim, x->batch_stride};
}

static inline ampc_gemm_output output_of(test_matrix *x)
{
    return (ampc_gemm_output){x->dtype, x->data, x->leading_dim, x->batch_stride};
}

/* ---- one case, end to end ---- */

typedef struct gemm_case {
    ampc_dtype dtype, c_dtype;
    ampc_gemm_transpose transpose_a, transpose_b;
    int64_t m, n, k, batch;
    double alpha, beta;
    bool bias;
    ampc_activation activation;
    int64_t column_gap, batch_gap; /* padding of every operand */
    uint32_t seed;
} gemm_case;

/* The operands of a case; C holds random values (NaN where beta is 0: they must not leak). */
typedef struct gemm_operands {
    test_matrix a, b, c, c_before;
    void *bias;
    double *bias_values;
    ampc_gemm_desc desc;
} gemm_operands;

static inline gemm_operands operands_new(const gemm_case *tc)
{
    gemm_operands o;
    uint32_t seed = tc->seed ? tc->seed : 0x9E3779B9u;
    int64_t batch = tc->batch > 1 ? tc->batch : 1;
    bool ta = tc->transpose_a == AMPC_TRANSPOSE, tb = tc->transpose_b == AMPC_TRANSPOSE;
    o.a = matrix_new(tc->dtype, batch, ta ? tc->k : tc->m, ta ? tc->m : tc->k, tc->column_gap,
                     tc->batch_gap);
    o.b = matrix_new(tc->dtype, batch, tb ? tc->n : tc->k, tb ? tc->k : tc->n, tc->column_gap,
                     tc->batch_gap);
    o.c = matrix_new(tc->c_dtype, batch, tc->m, tc->n, tc->column_gap, tc->batch_gap);
    o.c_before = matrix_new(tc->c_dtype, batch, tc->m, tc->n, tc->column_gap, tc->batch_gap);
    matrix_fill_random(&o.a, &seed);
    matrix_fill_random(&o.b, &seed);
    if (tc->beta != 0) matrix_fill_random(&o.c, &seed);
    memcpy(o.c_before.data, o.c.data, (size_t)matrix_elements(&o.c) * ampc_dtype_size(o.c.dtype));
    memcpy(o.c_before.values, o.c.values, (size_t)matrix_elements(&o.c) * sizeof(double));
    ampc_dtype bias_dtype = tc->dtype == AMPC_F64 ? AMPC_F64 : AMPC_F32;
    o.bias = calloc((size_t)tc->n + 1, ampc_dtype_size(bias_dtype));
    o.bias_values = calloc((size_t)tc->n + 1, sizeof(double));
    for (int64_t j = 0; j < tc->n && tc->bias; j++)
        o.bias_values[j] = store_value(o.bias, bias_dtype, j, random_unit(&seed));
    o.desc = (ampc_gemm_desc){
        .transpose_a = tc->transpose_a, .transpose_b = tc->transpose_b,
        .m = tc->m, .n = tc->n, .k = tc->k, .batch = tc->batch,
        .alpha = tc->alpha, .beta = tc->beta,
        .a = operand_of(&o.a), .b = operand_of(&o.b), .c = output_of(&o.c),
        .bias = tc->bias ? o.bias : NULL, .bias_dtype = bias_dtype,
        .activation = tc->activation};
    return o;
}

static inline void operands_free(gemm_operands *o)
{
    matrix_free(&o->a);
    matrix_free(&o->b);
    matrix_free(&o->c);
    matrix_free(&o->c_before);
    free(o->bias);
    free(o->bias_values);
}

static inline long double activate_reference(ampc_activation activation, long double x)
{
    switch (activation) {
    case AMPC_ACTIVATION_RELU: return x > 0 ? x : 0;
    case AMPC_ACTIVATION_GELU_TANH:
        return 0.5L * x * (1 + tanhl(0.79788456080286535588L * (x + 0.044715L * x * x * x)));
    case AMPC_ACTIVATION_GELU_ERF: return 0.5L * x * (1 + erfl(x * 0.70710678118654752440L));
    default: return x;
    }
}

static inline double half_ulp(ampc_dtype dtype, double magnitude)
{
    switch (dtype) {
    case AMPC_F64: return ldexp(magnitude, -53);
    case AMPC_F32: return fmax(ldexp(magnitude, -24), 0x1p-150);
    case AMPC_F16: return fmax(ldexp(magnitude, -11), 0x1p-25);
    default: return fmax(ldexp(magnitude, -8), 0x1p-134); /* BF16 */
    }
}

typedef struct reference_value {
    double value;     /* the exact result, rounded once to double */
    double tolerance; /* the bound above */
} reference_value;

static inline reference_value reference_at(const gemm_case *tc, const gemm_operands *o,
                                           int64_t b, int64_t i, int64_t j)
{
    bool ta = tc->transpose_a == AMPC_TRANSPOSE, tb = tc->transpose_b == AMPC_TRANSPOSE;
    bool product = tc->k > 0 && tc->alpha != 0; /* alpha = 0 reads neither A nor B */
    long double dot = 0, magnitudes = 0;
    for (int64_t kk = 0; kk < tc->k && product; kk++) {
        long double a = o->a.values[ta ? matrix_index(&o->a, b, kk, i)
                                       : matrix_index(&o->a, b, i, kk)];
        long double bv = o->b.values[tb ? matrix_index(&o->b, b, j, kk)
                                        : matrix_index(&o->b, b, kk, j)];
        dot += a * bv;
        magnitudes += fabsl(a * bv);
    }
    long double old_c = tc->beta != 0 ? o->c_before.values[matrix_index(&o->c_before, b, i, j)] : 0;
    long double pre = (product ? tc->alpha * dot : 0) + tc->beta * old_c + o->bias_values[j];
    double u = tc->dtype == AMPC_F64 ? 0x1p-53 : 0x1p-24;
    double lipschitz = tc->activation >= AMPC_ACTIVATION_GELU_TANH ? 1.13 : 1.0;
    double error = (double)(fabs(tc->alpha) * (double)(tc->k + 2) * u * (double)magnitudes +
                            4 * u * (double)(fabsl(tc->alpha * dot) + fabsl(tc->beta * old_c) +
                                             fabs(o->bias_values[j])));
    error *= lipschitz;
    if (tc->activation != AMPC_ACTIVATION_NONE) error += 8 * u * (double)fabsl(pre);
    long double result = activate_reference(tc->activation, pre);
    error += half_ulp(tc->c_dtype, (double)fabsl(result) + error);
    return (reference_value){(double)result, error};
}

static inline void describe_case(char *text, size_t size, const gemm_case *tc)
{
    snprintf(text, size,
             "%s->%s %s%s m=%lld n=%lld k=%lld batch=%lld alpha=%g beta=%g bias=%d act=%s "
             "gaps=%lld,%lld",
             ampc_dtype_name(tc->dtype), ampc_dtype_name(tc->c_dtype),
             tc->transpose_a ? "T" : "N", tc->transpose_b ? "T" : "N", (long long)tc->m,
             (long long)tc->n, (long long)tc->k, (long long)tc->batch, tc->alpha, tc->beta,
             tc->bias, ampc_activation_name(tc->activation), (long long)tc->column_gap,
             (long long)tc->batch_gap);
}

/* Every element of C within the bound, and every gap of C untouched. */
static inline void check_result(const gemm_case *tc, const gemm_operands *o)
{
    char text[256];
    int64_t batch = tc->batch > 1 ? tc->batch : 1;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t i = 0; i < tc->m; i++)
            for (int64_t j = 0; j < tc->n; j++) {
                reference_value want = reference_at(tc, o, b, i, j);
                double got = load_value(o->c.data, o->c.dtype, matrix_index(&o->c, b, i, j));
                bool ok = isnan(want.value) ? isnan(got) : fabs(got - want.value) <= want.tolerance;
                if (!ok) {
                    describe_case(text, sizeof text, tc);
                    fail_msg("%s: C[%lld][%lld][%lld] is %.9g; expected %.9g +- %.3g", text,
                             (long long)b, (long long)i, (long long)j, got, want.value,
                             want.tolerance);
                }
            }
    /* the gaps: compared as bits, NaN included */
    size_t size = ampc_dtype_size(o->c.dtype);
    for (int64_t e = 0; e < matrix_elements(&o->c); e++) {
        int64_t in_matrix = e % o->c.batch_stride, row = in_matrix / o->c.leading_dim;
        bool inside = in_matrix % o->c.leading_dim < tc->n && row < tc->m &&
                      e / o->c.batch_stride < batch;
        const char *now = (const char *)o->c.data + e * size;
        if (!inside && memcmp(now, (const char *)o->c_before.data + e * size, size)) {
            describe_case(text, sizeof text, tc);
            fail_msg("%s: element %lld outside C was written", text, (long long)e);
        }
    }
}

/* Runs the case through ampc_gemm (options NULL) or ampc_gemm_with and checks it. */
static inline void run_case(const gemm_case *tc, const ampc_gemm_options *options)
{
    gemm_operands o = operands_new(tc);
    ampc_status status = options ? ampc_gemm_with(&o.desc, options) : ampc_gemm(&o.desc);
    if (status != AMPC_OK) fail_msg("ampc_gemm failed: %s", ampc_error_message());
    check_result(tc, &o);
    operands_free(&o);
}

/* C's bytes (the whole buffer, gaps included) after running the case with these options. */
static inline void *run_for_bytes(const gemm_case *tc, const ampc_gemm_options *options,
                                  size_t *bytes)
{
    gemm_operands o = operands_new(tc);
    if (ampc_gemm_with(&o.desc, options) != AMPC_OK)
        fail_msg("ampc_gemm_with failed: %s", ampc_error_message());
    *bytes = (size_t)matrix_elements(&o.c) * ampc_dtype_size(o.c.dtype);
    void *copy = malloc(*bytes);
    memcpy(copy, o.c.data, *bytes);
    operands_free(&o);
    return copy;
}

static inline void assert_same_bits(const gemm_case *tc, const void *x, const void *y,
                                    size_t bytes, const char *what)
{
    if (memcmp(x, y, bytes) == 0) return;
    char text[256];
    describe_case(text, sizeof text, tc);
    fail_msg("%s: %s: the bits differ", text, what);
}

#endif
