/* ampc_dropout: inverted dropout with a Philox mask.
 *
 * Forward and backward are the same product, out = x * factor with factor = mask * scale:
 * the mask (U8, 1 = kept) drawn once in the forward and saved for the backward, scale =
 * 1 / (1 - p). The identity cases (eval, p = 0) have no mask and scale 1; p = 1 has no mask
 * and scale 0, so, as in PyTorch, inf and NaN inputs give NaN rather than 0. */
#include <ampc/cpu.h>
#include <ampc/ops_norm.h>

#include <stdint.h>

#include "autograd/record.h"
#include "core/error.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

/* Below this many elements the product stays on the calling thread. */
#define DROPOUT_PARALLEL_MIN_ELEMENTS ((int64_t)1 << 16)

typedef struct dropout_params {
    double scale; /* for kept elements; with no mask, for every element */
} dropout_params;

/* out[i] = x[i] * (mask ? mask[i] * scale : scale), for real float or double. */
#define DROPOUT_APPLY(real, suffix)                                                            \
    static void dropout_apply_##suffix(real *out, const real *x, const uint8_t *mask,          \
                                       real scale, int64_t n)                                  \
    {                                                                                          \
        int threads = n >= DROPOUT_PARALLEL_MIN_ELEMENTS ? ampc_num_threads() : 1;             \
        _Pragma("omp parallel for num_threads(threads) schedule(static) if (threads > 1)")     \
        for (int64_t i = 0; i < n; i++)                                                        \
            out[i] = x[i] * (mask && !mask[i] ? (real)0 : scale);                              \
    }
DROPOUT_APPLY(float, f32)
DROPOUT_APPLY(double, f64)
#undef DROPOUT_APPLY

/* x * factor as a new tensor of `dtype`, computed in dtype's compute dtype. */
static ampc_tensor *scaled_by_mask(const char *function, const ampc_tensor *x,
                                   const ampc_tensor *mask, double scale, ampc_dtype dtype)
{
    ampc_dtype compute = ampc_compute_dtype(dtype);
    ampc_tensor *values = ampc_contiguous_as(function, x, compute);
    ampc_tensor *out = values ? ampc_tensor_new(function, compute, ampc_tensor_ndim(x),
                                                ampc_tensor_shape(x))
                              : NULL;
    if (out) {
        const uint8_t *keep = mask ? ampc_tensor_data(mask) : NULL;
        int64_t n = ampc_tensor_numel(out);
        if (compute == AMPC_F64)
            dropout_apply_f64(ampc_tensor_data(out), ampc_tensor_data(values), keep, scale, n);
        else
            dropout_apply_f32(ampc_tensor_data(out), ampc_tensor_data(values), keep,
                              (float)scale, n);
    }
    ampc_tensor_free(values);
    return ampc_from_compute(function, out, dtype);
}

/* A U8 mask of input's shape: element i is 1 when the generator's uniform value i is >= p
 * (probability 1 - p), else 0. */
static ampc_tensor *draw_mask(const char *function, const ampc_tensor *input, double p,
                              ampc_generator *generator)
{
    int ndim = ampc_tensor_ndim(input);
    const int64_t *shape = ampc_tensor_shape(input);
    ampc_tensor *uniform = ampc_tensor_rand(generator, AMPC_F32, ndim, shape);
    ampc_tensor *mask = uniform ? ampc_tensor_new(function, AMPC_U8, ndim, shape) : NULL;
    if (mask) {
        const float *u = ampc_tensor_data(uniform);
        uint8_t *keep = ampc_tensor_data(mask);
        int64_t n = ampc_tensor_numel(mask);
        for (int64_t i = 0; i < n; i++) keep[i] = u[i] >= p;
    }
    ampc_tensor_free(uniform);
    return mask;
}

static ampc_status dropout_backward(const ampc_node *node, const ampc_tensor *dout,
                                    ampc_tensor **dinputs)
{
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    const dropout_params *params = ampc_node_params(node);
    dinputs[0] = scaled_by_mask(__func__, dout, ampc_node_saved(node, 0), params->scale,
                                ampc_node_input_dtype(node, 0));
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

ampc_tensor *ampc_dropout(const ampc_tensor *input, double p, bool training,
                          ampc_generator *generator)
{
    if (ampc_check_float_tensor(__func__, "input", input) != AMPC_OK) return NULL;
    if (!(p >= 0 && p <= 1)) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "p is %g; expected a probability from 0 to 1", p);
        return NULL;
    }
    bool identity = !training || p == 0;
    bool draws = !identity && p < 1;
    if (draws && !generator) return ampc_null_tensor(__func__, "generator");
    ampc_tensor *mask = NULL;
    if (draws && !(mask = draw_mask(__func__, input, p, generator))) return NULL;
    double scale = identity ? 1 : p == 1 ? 0 : 1 / (1 - p);
    ampc_tensor *out = scaled_by_mask(__func__, input, mask, scale, ampc_tensor_dtype(input));
    if (out) {
        const ampc_tensor *inputs[] = {input};
        const ampc_tensor *saved[] = {mask};
        dropout_params params = {.scale = scale};
        ampc_op_record record = {.name = "dropout", .backward = dropout_backward,
                                 .num_inputs = 1, .inputs = inputs, .num_saved = 1,
                                 .saved = saved, .params = &params,
                                 .params_size = sizeof params};
        out = ampc_autograd_output(__func__, out, &record);
    }
    ampc_tensor_free(mask);
    return out;
}
