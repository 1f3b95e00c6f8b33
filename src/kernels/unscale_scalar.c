/* The reference unscale kernels (unscale.h): one element at a time, in fp32. One loop serves
 * the three source dtypes; each entry point fixes the dtype so the widening switch folds. */
#include <math.h>

#include <ampc/dtype.h>

#include "kernels/unscale.h"

typedef enum source { SOURCE_F32, SOURCE_F16, SOURCE_BF16 } source;

static inline float widen(const void *in, source kind, size_t i)
{
    switch (kind) {
    case SOURCE_F32: return ((const float *)in)[i];
    case SOURCE_F16: return ampc_f16_to_f32(((const uint16_t *)in)[i]);
    default: return ampc_bf16_to_f32(((const uint16_t *)in)[i]);
    }
}

static inline bool unscale(float *out, const float *acc, const void *in, source kind, size_t n,
                           float inv_scale)
{
    bool overflow = false;
    for (size_t i = 0; i < n; i++) {
        float x = widen(in, kind, i);
        float product = x * inv_scale;
        float result = acc ? acc[i] + product : product;
        overflow |= !isfinite(x) || !isfinite(result);
        out[i] = result;
    }
    return overflow;
}

static bool unscale_f32(float *out, const float *acc, const float *in, size_t n, float inv_scale)
{
    return unscale(out, acc, in, SOURCE_F32, n, inv_scale);
}

static bool unscale_f16(float *out, const float *acc, const uint16_t *in, size_t n,
                        float inv_scale)
{
    return unscale(out, acc, in, SOURCE_F16, n, inv_scale);
}

static bool unscale_bf16(float *out, const float *acc, const uint16_t *in, size_t n,
                         float inv_scale)
{
    return unscale(out, acc, in, SOURCE_BF16, n, inv_scale);
}

const ampc_unscale_kernels ampc_unscale_scalar = {
    .f32 = unscale_f32,
    .f16 = unscale_f16,
    .bf16 = unscale_bf16,
};
