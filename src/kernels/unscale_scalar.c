/* The reference unscale kernels (unscale.h): one element at a time, in fp32. One loop serves
 * the three source dtypes (AMPC_UNSCALE_TABLE makes the entry points). */
#include <math.h>

#include <ampc/dtype.h>

#include "kernels/unscale.h"

static inline float widen(const void *in, ampc_unscale_source kind, size_t i)
{
    switch (kind) {
    case AMPC_UNSCALE_F32: return ((const float *)in)[i];
    case AMPC_UNSCALE_F16: return ampc_f16_to_f32(((const uint16_t *)in)[i]);
    default: return ampc_bf16_to_f32(((const uint16_t *)in)[i]);
    }
}

static inline bool unscale(float *out, const float *acc, const void *in, ampc_unscale_source kind, size_t n,
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

AMPC_UNSCALE_TABLE(ampc_unscale_scalar);
