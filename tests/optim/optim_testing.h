/* Helpers the optimizer tests share: parameters with gradients the test writes directly (a
 * pinned gradient, as flat parameter blocks have), deterministic values, and float64
 * references of torch.optim's update rules written out here, independently of src/optim.
 * Include after cmocka's prerequisites and <cmocka.h>. */
#ifndef AMPC_OPTIM_TESTING_H
#define AMPC_OPTIM_TESTING_H

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <ampc/ampc.h>
#include <ampc/optim.h>

#include "autograd/record.h"

/* A 1-d leaf of n elements that requires grad, holding values[i] (converted to dtype). */
static inline ampc_tensor *make_param(ampc_dtype dtype, int64_t n, const double *values)
{
    ampc_tensor *wide = ampc_tensor_from_data(values, AMPC_F64, 1, &n);
    ampc_tensor *param = ampc_tensor_cast(wide, dtype);
    ampc_tensor_free(wide);
    assert_non_null(param);
    assert_int_equal(ampc_tensor_set_requires_grad(param, true), AMPC_OK);
    return param;
}

/* Gives param a gradient of its dtype that the test then writes with set_grad. */
static inline void give_grad(ampc_tensor *param)
{
    int64_t n = ampc_tensor_numel(param);
    ampc_tensor *grad = ampc_tensor_zeros(ampc_tensor_dtype(param), 1, &n);
    assert_non_null(grad);
    assert_int_equal(ampc_autograd_pin_grad("give_grad", param, grad), AMPC_OK);
}

static inline void set_grad(ampc_tensor *param, const double *values)
{
    ampc_tensor *grad = ampc_tensor_grad(param);
    assert_non_null(grad);
    int64_t n = ampc_tensor_numel(param);
    ampc_tensor *wide = ampc_tensor_from_data(values, AMPC_F64, 1, &n);
    assert_int_equal(ampc_tensor_copy(grad, wide), AMPC_OK);
    ampc_tensor_free(wide);
}

static inline double tensor_value(const ampc_tensor *tensor, int64_t i)
{
    double value;
    assert_int_equal(ampc_tensor_get(tensor, &i, &value), AMPC_OK);
    return value;
}

/* Deterministic values of mixed sign and size for element i of step `step`. */
static inline double wave(int64_t i, int step, double scale)
{
    return scale * sin(0.7 * (double)i + 1.3 * step + 0.1) * (1 + 0.5 * cos(0.31 * (double)i));
}

/* A parameter of dtype with a gradient, and both widened to fp32 before any step (the
 * caller frees all three). */
typedef struct half_case {
    ampc_tensor *param, *param_f32, *grad_f32;
} half_case;

static inline half_case make_half_case(ampc_dtype dtype, int64_t n)
{
    enum { MAX_HALF_CASE = 64 };
    assert_true(n <= MAX_HALF_CASE);
    double p[MAX_HALF_CASE], g[MAX_HALF_CASE];
    for (int64_t i = 0; i < n; i++) p[i] = wave(i, -1, 1.0), g[i] = wave(i, 0, 0.5);
    half_case c = {.param = make_param(dtype, n, p)};
    give_grad(c.param);
    set_grad(c.param, g);
    c.param_f32 = ampc_tensor_cast(c.param, AMPC_F32);
    c.grad_f32 = ampc_tensor_cast(ampc_tensor_grad(c.param), AMPC_F32);
    return c;
}

static inline void free_half_case(half_case *c)
{
    ampc_tensor_free(c->param);
    ampc_tensor_free(c->param_f32);
    ampc_tensor_free(c->grad_f32);
}

/* value rounded to F16 or BF16 (to nearest even) and widened back. */
static inline float round_to(ampc_dtype dtype, float value)
{
    return dtype == AMPC_F16 ? ampc_f16_to_f32(ampc_f32_to_f16(value))
                             : ampc_bf16_to_f32(ampc_f32_to_bf16(value));
}


static inline void assert_close(double value, double expected, double relative,
                                const char *what, int64_t i)
{
    /* Relative, with values near 0 (cancellation in a state) measured against 0.1, the
     * scale of the values these tests use. */
    double tolerance = relative * fmax(fabs(expected), 0.1);
    if (!(fabs(value - expected) <= tolerance))
        fail_msg("%s[%lld] is %.17g; expected %.17g (relative tolerance %g)", what,
                 (long long)i, value, expected, relative);
}

/* torch.optim.SGD's update in float64, element by element. */
typedef struct sgd_reference {
    double lr, momentum, dampening, weight_decay;
    bool nesterov;
} sgd_reference;

static inline void sgd_reference_step(const sgd_reference *r, int64_t n, double *p,
                                      const double *g, double *buf, bool first)
{
    for (int64_t i = 0; i < n; i++) {
        double d_p = g[i];
        if (r->weight_decay != 0) d_p = d_p + r->weight_decay * p[i];
        if (r->momentum != 0) {
            buf[i] = first ? d_p : buf[i] * r->momentum + (1 - r->dampening) * d_p;
            d_p = r->nesterov ? d_p + r->momentum * buf[i] : buf[i];
        }
        p[i] = p[i] + -r->lr * d_p;
    }
}

/* torch.optim.Adam / AdamW in float64 at step t (from 1). */
typedef struct adam_reference {
    double lr, beta1, beta2, eps, weight_decay;
    bool amsgrad, decoupled;
} adam_reference;

static inline void adam_reference_step(const adam_reference *r, int t, int64_t n, double *p,
                                       const double *g, double *m, double *v, double *vmax)
{
    double bias_correction1 = 1 - pow(r->beta1, t), bias_correction2 = 1 - pow(r->beta2, t);
    double step_size = r->lr / bias_correction1;
    for (int64_t i = 0; i < n; i++) {
        double grad = g[i];
        if (r->decoupled)
            p[i] = p[i] * (1 - r->lr * r->weight_decay);
        else if (r->weight_decay != 0)
            grad = grad + r->weight_decay * p[i];
        m[i] = m[i] * r->beta1 + (1 - r->beta1) * grad;
        v[i] = v[i] * r->beta2 + (1 - r->beta2) * grad * grad;
        double second = v[i];
        if (r->amsgrad) second = vmax[i] = fmax(vmax[i], v[i]);
        double denom = sqrt(second) / sqrt(bias_correction2) + r->eps;
        p[i] = p[i] + -step_size * m[i] / denom;
    }
}

#endif
