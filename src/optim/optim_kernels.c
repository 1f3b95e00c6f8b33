/* Dispatch of the optimizer update loops (optim_kernels.h): by dtype, and across threads in
 * fixed chunks of elements. F32 and F64 run the loops of optim_kernels_real.h directly;
 * F16 and BF16 widen a chunk to fp32 scratch, run the fp32 loop and round the results back
 * once, so every dtype shares one copy of each formula. */
#include "optim/optim_kernels.h"

#include <emmintrin.h>
#include <math.h>

#include <ampc/cpu.h>

#include "core/error.h"
#include "core/parallel.h"

enum {
    CHUNK = 1024,           /* elements per unit of work (and fp32 scratch for F16/BF16) */
    PARALLEL_MIN = 1 << 15, /* below this many elements, threads cost more than they save */
};

/* In-place square roots, correctly rounded like sqrtf and sqrt (SSE2 is baseline x86-64). */
static void sqrt_array_f32(float *values, int64_t n)
{
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(values + i, _mm_sqrt_ps(_mm_loadu_ps(values + i)));
    for (; i < n; i++) values[i] = sqrtf(values[i]);
}

static void sqrt_array_f64(double *values, int64_t n)
{
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) _mm_storeu_pd(values + i, _mm_sqrt_pd(_mm_loadu_pd(values + i)));
    for (; i < n; i++) values[i] = sqrt(values[i]);
}

#define real float
#define REAL_SUFFIX f32
#include "optim/optim_kernels_real.h"
#undef real
#undef REAL_SUFFIX

#define real double
#define REAL_SUFFIX f64
#include "optim/optim_kernels_real.h"
#undef real
#undef REAL_SUFFIX

/* One optimizer's update, with the arrays it reads and writes. Every array has the same
 * dtype; NULL arrays are absent state. */
typedef enum update_kind { UPDATE_SGD, UPDATE_ADAM } update_kind;

enum { MAX_ARRAYS = 5 };

typedef struct update {
    update_kind kind;
    ampc_dtype dtype;
    void *arrays[MAX_ARRAYS]; /* param, grad, then state (SGD: buffer; Adam: m, v, vmax) */
    const ampc_sgd_scalars *sgd;
    const ampc_adam_scalars *adam;
} update;

static void *offset_array(void *array, ampc_dtype dtype, int64_t start)
{
    return array ? (char *)array + (size_t)start * ampc_dtype_size(dtype) : NULL;
}

static void run_f32(const update *u, int64_t n, void *const *a)
{
    if (u->kind == UPDATE_SGD)
        sgd_update_f32(n, a[0], a[1], a[2], u->sgd);
    else
        adam_update_f32(n, a[0], a[1], a[2], a[3], a[4], u->adam);
}

static void run_f64(const update *u, int64_t n, void *const *a)
{
    if (u->kind == UPDATE_SGD)
        sgd_update_f64(n, a[0], a[1], a[2], u->sgd);
    else
        adam_update_f64(n, a[0], a[1], a[2], a[3], a[4], u->adam);
}

/* F16/BF16: widen to fp32, update, round every array but the gradient back once. A new SGD
 * buffer (first_step) is only written, so its old contents are not read. */
static void run_widened(const update *u, int64_t n, void *const *a)
{
    float scratch[MAX_ARRAYS][CHUNK];
    void *wide[MAX_ARRAYS] = {0};
    for (int k = 0; k < MAX_ARRAYS; k++) {
        if (!a[k]) continue;
        wide[k] = scratch[k];
        bool write_only = u->kind == UPDATE_SGD && k == 2 && u->sgd->first_step;
        if (!write_only) ampc_convert(scratch[k], AMPC_F32, a[k], u->dtype, (size_t)n);
    }
    run_f32(u, n, wide);
    for (int k = 0; k < MAX_ARRAYS; k++)
        if (a[k] && k != 1) ampc_convert(a[k], u->dtype, scratch[k], AMPC_F32, (size_t)n);
}

static void run_chunk(const void *context, int64_t chunk, int64_t n)
{
    const update *u = context;
    int64_t start = chunk * CHUNK, count = n - start < CHUNK ? n - start : CHUNK;
    void *a[MAX_ARRAYS];
    for (int k = 0; k < MAX_ARRAYS; k++) a[k] = offset_array(u->arrays[k], u->dtype, start);
    switch (u->dtype) {
    case AMPC_F32: run_f32(u, count, a); break;
    case AMPC_F64: run_f64(u, count, a); break;
    case AMPC_F16:
    case AMPC_BF16: run_widened(u, count, a); break;
    default: AMPC_ASSERT(!"optimizer dtype validated at creation");
    }
}

static void run_update(const update *u, int64_t n)
{
    ampc_parallel_chunks(n, CHUNK, PARALLEL_MIN, run_chunk, u);
}

void ampc_sgd_update(ampc_dtype dtype, int64_t n, void *param, const void *grad,
                     void *momentum_buffer, const ampc_sgd_scalars *scalars)
{
    update u = {.kind = UPDATE_SGD, .dtype = dtype,
                .arrays = {param, (void *)grad, momentum_buffer}, .sgd = scalars};
    run_update(&u, n);
}

void ampc_adam_update(ampc_dtype dtype, int64_t n, void *param, const void *grad,
                      void *exp_avg, void *exp_avg_sq, void *max_exp_avg_sq,
                      const ampc_adam_scalars *scalars)
{
    update u = {.kind = UPDATE_ADAM, .dtype = dtype,
                .arrays = {param, (void *)grad, exp_avg, exp_avg_sq, max_exp_avg_sq},
                .adam = scalars};
    run_update(&u, n);
}
