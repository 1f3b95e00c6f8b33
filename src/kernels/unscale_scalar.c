/* The reference unscale kernels (unscale.h): one element at a time, in fp32. */
#include <math.h>

#include <ampc/dtype.h>

#include "kernels/unscale.h"

static bool finite_f32(float value) { return isfinite(value); }

static bool unscale_f32(float *out, const float *acc, const float *in, size_t n, float inv_scale)
{
    bool overflow = false;
    for (size_t i = 0; i < n; i++) {
        float x = in[i];
        float product = x * inv_scale;
        float result = acc ? acc[i] + product : product;
        overflow |= !finite_f32(x) || !finite_f32(result);
        out[i] = result;
    }
    return overflow;
}

static bool unscale_f16(float *out, const float *acc, const uint16_t *in, size_t n,
                        float inv_scale)
{
    bool overflow = false;
    for (size_t i = 0; i < n; i++) {
        float x = ampc_f16_to_f32(in[i]);
        float product = x * inv_scale;
        float result = acc ? acc[i] + product : product;
        overflow |= !finite_f32(x) || !finite_f32(result);
        out[i] = result;
    }
    return overflow;
}

static bool unscale_bf16(float *out, const float *acc, const uint16_t *in, size_t n,
                         float inv_scale)
{
    bool overflow = false;
    for (size_t i = 0; i < n; i++) {
        float x = ampc_bf16_to_f32(in[i]);
        float product = x * inv_scale;
        float result = acc ? acc[i] + product : product;
        overflow |= !finite_f32(x) || !finite_f32(result);
        out[i] = result;
    }
    return overflow;
}

const ampc_unscale_kernels ampc_unscale_scalar = {
    .f32 = unscale_f32,
    .f16 = unscale_f16,
    .bf16 = unscale_bf16,
};
