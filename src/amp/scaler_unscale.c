/* The fused unscale + overflow pass (ampc_loss_scaler_unscale*): every argument is checked
 * first, then each gradient buffer gets one pass of the dispatched kernel (kernels/unscale.h),
 * cut into fixed chunks on ampc's threads (core/parallel.h, default FP environment); any chunk
 * that sees an inf or NaN sets the flag, so neither values nor flag depend on the thread count. */
#include <stdint.h>

#include <ampc/dtype.h>

#include "amp/scaler_internal.h"
#include "core/error.h"
#include "core/parallel.h"
#include "kernels/unscale.h"

enum { CHUNK = 1 << 15 };

typedef struct unscale_job {
    float *out;
    const float *acc;
    const void *in;
    ampc_dtype in_dtype;
    int64_t n;
} unscale_job;

static bool ranges_overlap(const void *a, size_t a_bytes, const void *b, size_t b_bytes)
{
    uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return x < y + b_bytes && y < x + a_bytes;
}

static ampc_status check_f32_buffer(const char *function, const char *argument, int i,
                                    const ampc_tensor *tensor, int64_t n)
{
    if (ampc_tensor_dtype(tensor) != AMPC_F32)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "%s[%d] is %s; expected F32",
                         argument, i, ampc_dtype_name(ampc_tensor_dtype(tensor)));
    if (!ampc_tensor_is_contiguous(tensor))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "%s[%d] is not contiguous; expected a contiguous tensor", argument, i);
    if (ampc_tensor_numel(tensor) != n)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "%s[%d] has %lld elements; expected %lld (model_grads[%d]'s)", argument,
                         i, (long long)ampc_tensor_numel(tensor), (long long)n, i);
    return AMPC_OK;
}

/* Checks pair i and fills its job. */
static ampc_status make_job(const char *function, int i, ampc_tensor *model, ampc_tensor *stash,
                            ampc_tensor *master, bool accumulate, unscale_job *job)
{
    ampc_dtype dtype = ampc_tensor_dtype(model);
    if (dtype != AMPC_F32 && dtype != AMPC_F16 && dtype != AMPC_BF16)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "model_grads[%d] is %s; expected F32, F16 or BF16", i,
                         ampc_dtype_name(dtype));
    if (!ampc_tensor_is_contiguous(model))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "model_grads[%d] is not contiguous; expected a contiguous tensor", i);
    if (!master)
        return ampc_fail(AMPC_ERR_NULL_ARGUMENT, function,
                         "master_grads[%d] is NULL; expected the F32 master of model_grads[%d]", i, i);
    int64_t n = ampc_tensor_numel(model);
    ampc_status status = check_f32_buffer(function, "master_grads", i, master, n);
    if (status != AMPC_OK) return status;
    if (stash && (status = check_f32_buffer(function, "stashed", i, stash, n)) != AMPC_OK)
        return status;
    void *in = ampc_tensor_data(model), *out = ampc_tensor_data(master);
    void *acc = stash ? ampc_tensor_data(stash) : accumulate ? out : NULL;
    size_t in_bytes = (size_t)n * ampc_dtype_size(dtype), out_bytes = (size_t)n * sizeof(float);
    if (accumulate && in == out)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "master_grads[%d] is model_grads[%d] with accumulate; expected a separate "
                         "master, or ampc_loss_scaler_unscale_with_stashed for a parameter that "
                         "is its own master", i, i);
    bool in_is_out = in == out && dtype == AMPC_F32;
    if (!in_is_out && ranges_overlap(in, in_bytes, out, out_bytes))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "master_grads[%d] partly overlaps model_grads[%d]; expected the same "
                         "F32 buffer or disjoint ones", i, i);
    if (stash && acc != out && ranges_overlap(acc, out_bytes, out, out_bytes))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "stashed[%d] partly overlaps master_grads[%d]; expected the same buffer "
                         "or disjoint ones", i, i);
    if (stash && ranges_overlap(acc, out_bytes, in, in_bytes))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "stashed[%d] overlaps model_grads[%d]; expected disjoint buffers", i, i);
    *job = (unscale_job){out, acc, in, dtype, n};
    return AMPC_OK;
}

typedef struct chunk_context {
    const ampc_unscale_kernels *kernels;
    const unscale_job *job;
    float inv_scale;
    int *overflow; /* set (atomically) by any chunk that finds an inf or NaN */
} chunk_context;

static void run_chunk(const void *context, int64_t chunk, int64_t n)
{
    const chunk_context *c = context;
    const unscale_job *job = c->job;
    int64_t start = chunk * CHUNK;
    size_t count = (size_t)(n - start < CHUNK ? n - start : CHUNK);
    float *out = job->out + start;
    const float *acc = job->acc ? job->acc + start : NULL;
    bool overflow;
    switch (job->in_dtype) {
    case AMPC_F32:
        overflow = c->kernels->f32(out, acc, (const float *)job->in + start, count, c->inv_scale);
        break;
    case AMPC_F16:
        overflow = c->kernels->f16(out, acc, (const uint16_t *)job->in + start, count,
                                   c->inv_scale);
        break;
    default:
        overflow = c->kernels->bf16(out, acc, (const uint16_t *)job->in + start, count,
                                    c->inv_scale);
        break;
    }
    if (overflow) __atomic_store_n(c->overflow, 1, __ATOMIC_RELAXED);
}

static bool run_job(const ampc_unscale_kernels *kernels, const unscale_job *job, float inv_scale)
{
    int overflow = 0;
    chunk_context context = {kernels, job, inv_scale, &overflow};
    ampc_parallel_chunks(job->n, CHUNK, 2 * CHUNK, run_chunk, &context);
    return overflow != 0;
}

static ampc_status unscale_all(const char *function, ampc_loss_scaler *scaler,
                               ampc_tensor *const *model_grads, ampc_tensor *const *stashed,
                               ampc_tensor *const *master_grads, int count, bool accumulate)
{
    if (!scaler) return ampc_fail_null(function, "scaler");
    if (count < 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "count is %d; expected >= 0", count);
    if (count == 0) return AMPC_OK;
    if (!model_grads) return ampc_fail_null(function, "model_grads");
    if (!master_grads) return ampc_fail_null(function, "master_grads");
    /* apex: "models are masters" with a static 1.0 is a no-op; a pending overflow stops it. */
    bool all_in_place = !stashed && !accumulate;
    for (int i = 0; i < count; i++) {
        if (!model_grads[i]) continue;
        unscale_job job = {0};
        ampc_status status = make_job(function, i, model_grads[i], stashed ? stashed[i] : NULL,
                                      master_grads[i], accumulate, &job);
        if (status != AMPC_OK) return status;
        all_in_place &= job.in == job.out;
    }
    if (scaler->overflow) return AMPC_OK;
    if (all_in_place && scaler->kind == AMPC_LOSS_SCALE_STATIC && scaler->scale == 1.0)
        return AMPC_OK;
    const ampc_unscale_kernels *kernels = ampc_unscale_kernels_active();
    float inv_scale = (float)(1.0 / scaler->scale);
    bool overflow = false;
    for (int i = 0; i < count; i++) {
        if (!model_grads[i]) continue;
        unscale_job job = {0};
        make_job(function, i, model_grads[i], stashed ? stashed[i] : NULL, master_grads[i],
                 accumulate, &job);
        overflow |= run_job(kernels, &job, inv_scale);
    }
    scaler->overflow |= overflow;
    return AMPC_OK;
}

ampc_status ampc_loss_scaler_unscale(ampc_loss_scaler *scaler, ampc_tensor *const *model_grads,
                                     ampc_tensor *const *master_grads, int count, bool accumulate)
{
    return unscale_all("ampc_loss_scaler_unscale", scaler, model_grads, NULL, master_grads, count,
                       accumulate);
}

ampc_status ampc_loss_scaler_unscale_with_stashed(ampc_loss_scaler *scaler,
                                                  ampc_tensor *const *model_grads,
                                                  ampc_tensor *const *stashed,
                                                  ampc_tensor *const *master_grads, int count)
{
    if (!stashed) return ampc_fail_null("ampc_loss_scaler_unscale_with_stashed", "stashed");
    return unscale_all("ampc_loss_scaler_unscale_with_stashed", scaler, model_grads, stashed,
                       master_grads, count, false);
}
