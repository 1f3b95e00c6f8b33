/* Pointwise ops: elementwise arithmetic, activations and selects, differentiable.
 *
 * Every op returns a new tensor (or NULL with the error set, ampc/error.h) and records itself
 * for ampc_backward when grad mode is on and an input requires grad (ampc/autograd.h).
 *
 * Dtypes: the tensor operands are F64, F32, F16 or BF16 (masks and conditions are BOOL). A
 * unary op returns its input's dtype; a binary op (and where) returns ampc_promote_float of
 * its operands' dtypes: the same dtype stays, F64 beats everything, F32 beats F16 and BF16,
 * and F16 with BF16 gives F32. Values are computed in fp32 registers (F64: in double),
 * rounded once to the result's dtype; F16 and BF16 are widened chunk by chunk with the SIMD
 * conversion kernels and computed with the SIMD kernels (docs/ops/pointwise.md gives the
 * accuracy of each function).
 *
 * Shapes: binary ops (and where) broadcast as NumPy and PyTorch do: shapes align at the
 * right, and each pair of sizes must be equal or one of them 1; a 0-d tensor broadcasts
 * everywhere. Operands may have any layout (transposed, sliced, expanded); the result is
 * contiguous. Gradients of broadcast operands are summed back to their shapes.
 *
 * Scalars (double) are rounded to fp32 for F32, F16 and BF16 tensors, as PyTorch does.
 * Gradients at kinks follow PyTorch: relu'(0) = 0, abs'(0) = 0, leaky_relu'(0) = slope,
 * clamp passes the gradient where min <= x <= max, sqrt'(0) = inf. */
#ifndef AMPC_OPS_POINTWISE_H
#define AMPC_OPS_POINTWISE_H

#include <ampc/error.h>
#include <ampc/export.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- binary, broadcasting ------------------------------------------------------------- */
AMPC_API ampc_tensor *ampc_add(const ampc_tensor *a, const ampc_tensor *b); /* a + b */
AMPC_API ampc_tensor *ampc_sub(const ampc_tensor *a, const ampc_tensor *b); /* a - b */
AMPC_API ampc_tensor *ampc_mul(const ampc_tensor *a, const ampc_tensor *b); /* a * b */
AMPC_API ampc_tensor *ampc_div(const ampc_tensor *a, const ampc_tensor *b); /* a / b, IEEE */
/* a^b elementwise (C pow: a negative base with a non-integer exponent gives NaN). The
 * gradient for b is b's share of d(a^b) = a^b log(a), taken as 0 where a == 0 and b >= 0. */
AMPC_API ampc_tensor *ampc_pow(const ampc_tensor *a, const ampc_tensor *b);

/* --- with a scalar ----------------------------------------------------------------------- */
AMPC_API ampc_tensor *ampc_add_scalar(const ampc_tensor *a, double value);  /* a + value */
AMPC_API ampc_tensor *ampc_sub_scalar(const ampc_tensor *a, double value);  /* a - value */
AMPC_API ampc_tensor *ampc_mul_scalar(const ampc_tensor *a, double value);  /* a * value */
AMPC_API ampc_tensor *ampc_div_scalar(const ampc_tensor *a, double value);  /* a / value */
AMPC_API ampc_tensor *ampc_rsub_scalar(const ampc_tensor *a, double value); /* value - a */
/* a^exponent; the gradient is exponent * a^(exponent - 1), and 0 for exponent 0. */
AMPC_API ampc_tensor *ampc_pow_scalar(const ampc_tensor *a, double exponent);

/* --- unary ------------------------------------------------------------------------------- */
AMPC_API ampc_tensor *ampc_neg(const ampc_tensor *a);
AMPC_API ampc_tensor *ampc_exp(const ampc_tensor *a);
AMPC_API ampc_tensor *ampc_log(const ampc_tensor *a);   /* natural; log(0) = -inf, < 0: NaN */
AMPC_API ampc_tensor *ampc_sqrt(const ampc_tensor *a);
AMPC_API ampc_tensor *ampc_rsqrt(const ampc_tensor *a); /* 1 / sqrt(a) */
AMPC_API ampc_tensor *ampc_abs(const ampc_tensor *a);
/* min(max(a, min), max); pass -INFINITY or INFINITY for no bound. A NaN element stays NaN;
 * min > max gives max everywhere (as PyTorch). min and max must not be NaN. */
AMPC_API ampc_tensor *ampc_clamp(const ampc_tensor *a, double min, double max);
AMPC_API ampc_tensor *ampc_relu(const ampc_tensor *a); /* max(a, 0); NaN stays NaN */
/* a > 0 ? a : a * negative_slope (PyTorch's default slope is 0.01). */
AMPC_API ampc_tensor *ampc_leaky_relu(const ampc_tensor *a, double negative_slope);

/* Append-only. */
typedef enum ampc_gelu_approximate {
    AMPC_GELU_NONE, /* x * Phi(x), Phi the standard normal CDF (the erf form) */
    AMPC_GELU_TANH, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    AMPC_GELU_APPROXIMATE_COUNT
} ampc_gelu_approximate;

AMPC_API ampc_tensor *ampc_gelu(const ampc_tensor *a, ampc_gelu_approximate approximate);
AMPC_API ampc_tensor *ampc_silu(const ampc_tensor *a); /* a * sigmoid(a) */
AMPC_API ampc_tensor *ampc_sigmoid(const ampc_tensor *a);
AMPC_API ampc_tensor *ampc_tanh(const ampc_tensor *a);

/* --- selects ------------------------------------------------------------------------------ */
/* a with `value` where mask is true. mask is BOOL and broadcasts to a's shape (the result has
 * a's shape and dtype); the gradient for a is zero where masked. */
AMPC_API ampc_tensor *ampc_masked_fill(const ampc_tensor *a, const ampc_tensor *mask,
                                       double value);
/* condition ? a : b elementwise, the three broadcast together; condition is BOOL, the result
 * has ampc_promote_float(a, b)'s dtype. The gradient flows to a where condition holds and to
 * b elsewhere, each summed back to its shape. */
AMPC_API ampc_tensor *ampc_where(const ampc_tensor *condition, const ampc_tensor *a,
                                 const ampc_tensor *b);

#ifdef __cplusplus
}
#endif
#endif
