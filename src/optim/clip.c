/* ampc_clip_grad_norm (optim.h): torch.nn.utils.clip_grad_norm_ over the gradients of a
 * parameter list. Each gradient is read once to accumulate its contribution in double, in
 * fixed chunks on ampc's threads (core/parallel.h) whose partial sums are added in order (so
 * the norm does not depend on the thread count), then, when the coefficient is below 1, scaled in place. */
#include <math.h>
#include <stdlib.h>

#include <ampc/autograd.h>
#include <ampc/dtype.h>
#include <ampc/optim.h>

#include "core/error.h"
#include "core/parallel.h"

enum { CHUNK = 1 << 14 };

typedef enum norm_kind { NORM_ONE, NORM_TWO, NORM_INF, NORM_P } norm_kind;

static double load(const void *data, ampc_dtype dtype, int64_t i)
{
    switch (dtype) {
    case AMPC_F64: return ((const double *)data)[i];
    case AMPC_F32: return ((const float *)data)[i];
    case AMPC_F16: return ampc_f16_to_f32(((const uint16_t *)data)[i]);
    default: return ampc_bf16_to_f32(((const uint16_t *)data)[i]);
    }
}

/* The chunk's sum of |g|^p, or its max |g| (NaN wins) for the inf-norm. */
static double chunk_partial(const void *data, ampc_dtype dtype, int64_t start, int64_t end,
                            norm_kind kind, double p)
{
    double acc = 0;
    for (int64_t i = start; i < end; i++) {
        double a = fabs(load(data, dtype, i));
        switch (kind) {
        case NORM_ONE: acc += a; break;
        case NORM_TWO: acc += a * a; break;
        case NORM_P: acc += pow(a, p); break;
        case NORM_INF: acc = (isnan(a) || isnan(acc)) ? NAN : fmax(acc, a); break;
        }
    }
    return acc;
}

static double combine(double acc, double partial, norm_kind kind)
{
    if (kind != NORM_INF) return acc + partial;
    return (isnan(acc) || isnan(partial)) ? NAN : fmax(acc, partial);
}

typedef struct partial_context {
    const void *data;
    ampc_dtype dtype;
    norm_kind kind;
    double p;
    double *partials; /* one per chunk */
} partial_context;

static void partial_chunk(const void *context, int64_t chunk, int64_t n)
{
    const partial_context *c = context;
    int64_t start = chunk * CHUNK, end = start + CHUNK < n ? start + CHUNK : n;
    c->partials[chunk] = chunk_partial(c->data, c->dtype, start, end, c->kind, c->p);
}

static ampc_status tensor_partial(const ampc_tensor *grad, norm_kind kind, double p,
                                  double *result)
{
    int64_t n = ampc_tensor_numel(grad), chunks = (n + CHUNK - 1) / CHUNK;
    double *partials = malloc((size_t)(chunks ? chunks : 1) * sizeof *partials);
    if (!partials) return ampc_fail_oom("ampc_clip_grad_norm", (size_t)chunks * sizeof(double));
    partial_context context = {ampc_tensor_data(grad), ampc_tensor_dtype(grad), kind, p, partials};
    ampc_parallel_chunks(n, CHUNK, 2 * CHUNK, partial_chunk, &context);
    double acc = 0;
    for (int64_t c = 0; c < chunks; c++) acc = combine(acc, partials[c], kind);
    free(partials);
    *result = acc;
    return AMPC_OK;
}

static void scale_tensor(ampc_tensor *grad, double coef)
{
    int64_t n = ampc_tensor_numel(grad);
    void *data = ampc_tensor_data(grad);
    float coef32 = (float)coef;
    switch (ampc_tensor_dtype(grad)) {
    case AMPC_F64:
        for (int64_t i = 0; i < n; i++) ((double *)data)[i] *= coef;
        break;
    case AMPC_F32:
        for (int64_t i = 0; i < n; i++) ((float *)data)[i] *= coef32;
        break;
    case AMPC_F16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t *g = (uint16_t *)data + i;
            *g = ampc_f32_to_f16(ampc_f16_to_f32(*g) * coef32);
        }
        break;
    default:
        for (int64_t i = 0; i < n; i++) {
            uint16_t *g = (uint16_t *)data + i;
            *g = ampc_f32_to_bf16(ampc_bf16_to_f32(*g) * coef32);
        }
        break;
    }
}

static ampc_status check_arguments(ampc_tensor *const *params, int count, double max_norm,
                                   double norm_type)
{
    static const char *const function = "ampc_clip_grad_norm";
    if (count < 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "count is %d; expected >= 0", count);
    if (count > 0 && !params) return ampc_fail_null(function, "params");
    if (!(max_norm >= 0) || isnan(max_norm))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "max_norm is %g; expected >= 0",
                         max_norm);
    if (!(norm_type > 0))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "norm_type is %g; expected > 0 or INFINITY", norm_type);
    for (int i = 0; i < count; i++) {
        if (!params[i])
            return ampc_fail(AMPC_ERR_NULL_ARGUMENT, function, "params[%d] is NULL", i);
        const ampc_tensor *grad = ampc_tensor_grad(params[i]);
        if (!grad) continue;
        ampc_dtype dtype = ampc_tensor_dtype(grad);
        if (dtype != AMPC_F64 && dtype != AMPC_F32 && dtype != AMPC_F16 && dtype != AMPC_BF16)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "params[%d]'s gradient is %s; expected F64, F32, F16 or BF16", i,
                             ampc_dtype_name(dtype));
        if (!ampc_tensor_is_contiguous(grad))
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                             "params[%d]'s gradient is not contiguous; expected contiguous", i);
    }
    return AMPC_OK;
}

ampc_status ampc_clip_grad_norm(ampc_tensor *const *params, int count, double max_norm,
                                double norm_type, double *total_norm)
{
    ampc_status status = check_arguments(params, count, max_norm, norm_type);
    if (status != AMPC_OK) return status;
    norm_kind kind = isinf(norm_type) ? NORM_INF
                     : norm_type == 1 ? NORM_ONE
                     : norm_type == 2 ? NORM_TWO
                                      : NORM_P;
    double acc = 0;
    for (int i = 0; i < count; i++) {
        const ampc_tensor *grad = ampc_tensor_grad(params[i]);
        if (!grad) continue;
        double partial;
        if ((status = tensor_partial(grad, kind, norm_type, &partial)) != AMPC_OK) return status;
        acc = combine(acc, partial, kind);
    }
    double total = kind == NORM_INF ? acc
                   : kind == NORM_ONE ? acc
                   : kind == NORM_TWO ? sqrt(acc)
                                      : pow(acc, 1.0 / norm_type);
    if (total_norm) *total_norm = total;
    double coef = max_norm / (total + 1e-6);
    if (coef < 1 || isnan(coef))
        for (int i = 0; i < count; i++) {
            ampc_tensor *grad = ampc_tensor_grad(params[i]);
            if (grad) scale_tensor(grad, coef);
        }
    return AMPC_OK;
}
