/* The reference pointwise kernels, and the fp64 kernels.
 *
 * Each op is one expression in double (libm for the transcendental functions), written once
 * and instantiated for float and double arrays. For fp32 the double result is rounded once to
 * float: +, -, *, / and sqrt of floats are then exactly the float operations (double has more
 * than twice float's precision, so rounding twice cannot differ from rounding once), and the
 * transcendental ops are within about half an ulp. That is what the SIMD paths are measured
 * against (tests/ops/test_pointwise_paths.c).
 *
 * The formulas avoid cancellation where the textbook ones have it, so the reference is
 * accurate on the whole range: gelu is x * erfc(-x / sqrt 2) / 2 rather than
 * x (1 + erf(x / sqrt 2)) / 2, and the tanh gelu is x * sigmoid(2u) rather than
 * x (1 + tanh u) / 2 (the same functions; the first forms lose every digit for negative x).
 * Selects and max/min follow the SSE rules the vector code has (maxps(a, b) is a > b ? a : b,
 * so a NaN x passes through relu and clamp), so those are bit-identical on every path. */
#include <math.h>
#include <stddef.h>

#include "kernels/pointwise_kernels.h"

#define SQRT_2_OVER_PI 0.7978845608028654 /* sqrt(2 / pi) */
#define INV_SQRT_2PI 0.3989422804014327   /* 1 / sqrt(2 pi) */
#define GELU_KAPPA 0.044715

static double max_sse(double a, double b) { return a > b ? a : b; }
static double min_sse(double a, double b) { return a < b ? a : b; }

static double normal_cdf(double x) { return 0.5 * erfc(-x * M_SQRT1_2); }
/* Both sides without overflow or cancellation: 1 - sigmoid(x) is sigmoid(-x). */
static double sigmoid(double x)
{
    return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
}

static double gelu_tanh_inner2(double x) /* 2u, u = sqrt(2/pi) (x + kappa x^3) */
{
    return 2.0 * SQRT_2_OVER_PI * x * (1.0 + GELU_KAPPA * x * x);
}

static double gelu_backward(double dout, double x)
{
    return dout * (normal_cdf(x) + x * exp(-0.5 * x * x) * INV_SQRT_2PI);
}

/* Beyond |x| = 20 the second term is 0 (sigmoid(-2u) underflows); capping x there keeps an
 * infinite x from making it inf * 0 (the vector kernels do the same). */
static double gelu_tanh_backward(double dout, double x)
{
    double s = sigmoid(gelu_tanh_inner2(x));
    double capped = x > 20.0 ? 20.0 : x < -20.0 ? -20.0 : x;
    double dinner2 = 2.0 * SQRT_2_OVER_PI * (1.0 + 3.0 * GELU_KAPPA * capped * capped);
    return dout * (s + capped * s * sigmoid(-gelu_tanh_inner2(capped)) * dinner2);
}

static double silu_backward(double dout, double x)
{
    return dout * sigmoid(x) * (1.0 + x * sigmoid(-x));
}

static double abs_backward(double dout, double x)
{
    return x > 0 ? dout : x < 0 ? -dout : 0.0;
}

static double rsqrt_backward(double dout, double x)
{
    double r = 1.0 / sqrt(x);
    return -0.5 * dout * r * r * r;
}

/* Defines name_f32 and name_f64 from EXPR, an expression in the doubles a, b, c (the inputs;
 * those past `arity` are 0) and s0, s1 (the scalars, as the compute type holds them). */
#define SCALAR_KERNEL(name, arity, EXPR)                                                      \
    static inline double name##_value(double a, double b, double c, double s0, double s1)   \
    {                                                                                          \
        (void)a, (void)b, (void)c, (void)s0, (void)s1;                                         \
        return EXPR;                                                                           \
    }                                                                                          \
    static void name##_f32(float *out, const float *const *in, size_t n,                       \
                           const ampc_pointwise_scalars *scalars)                              \
    {                                                                                          \
        double s0 = scalars->f32[0], s1 = scalars->f32[1];                                     \
        for (size_t i = 0; i < n; i++)                                                         \
            out[i] = (float)name##_value(in[0][i], (arity) > 1 ? in[1][i] : 0.0,               \
                                         (arity) > 2 ? in[2][i] : 0.0, s0, s1);                \
    }                                                                                          \
    static void name##_f64(double *out, const double *const *in, size_t n,                     \
                           const ampc_pointwise_scalars *scalars)                              \
    {                                                                                          \
        double s0 = scalars->f64[0], s1 = scalars->f64[1];                                     \
        for (size_t i = 0; i < n; i++)                                                         \
            out[i] = name##_value(in[0][i], (arity) > 1 ? in[1][i] : 0.0,                      \
                                  (arity) > 2 ? in[2][i] : 0.0, s0, s1);                       \
    }

/* clang-format off */
SCALAR_KERNEL(neg, 1, -a)
SCALAR_KERNEL(exp, 1, exp(a))
SCALAR_KERNEL(log, 1, log(a))
SCALAR_KERNEL(sqrt, 1, sqrt(a))
SCALAR_KERNEL(rsqrt, 1, 1.0 / sqrt(a))
SCALAR_KERNEL(abs, 1, fabs(a))
SCALAR_KERNEL(clamp, 1, min_sse(s1, max_sse(s0, a)))
SCALAR_KERNEL(relu, 1, max_sse(0.0, a))
SCALAR_KERNEL(leaky_relu, 1, a > 0 ? a : a * s0)
SCALAR_KERNEL(gelu, 1, a * normal_cdf(a))
SCALAR_KERNEL(gelu_tanh, 1, a * sigmoid(gelu_tanh_inner2(a)))
SCALAR_KERNEL(silu, 1, a * sigmoid(a))
SCALAR_KERNEL(sigmoid, 1, sigmoid(a))
SCALAR_KERNEL(tanh, 1, tanh(a))
SCALAR_KERNEL(add_scalar, 1, a + s0)
SCALAR_KERNEL(mul_scalar, 1, a * s0)
SCALAR_KERNEL(div_scalar, 1, a / s0)
SCALAR_KERNEL(rsub_scalar, 1, s0 - a)
SCALAR_KERNEL(pow_scalar, 1, pow(a, s0))

SCALAR_KERNEL(exp_backward, 2, a * exp(b))
SCALAR_KERNEL(log_backward, 2, a / b)
SCALAR_KERNEL(sqrt_backward, 2, a / (2.0 * sqrt(b)))
SCALAR_KERNEL(rsqrt_backward, 2, rsqrt_backward(a, b))
SCALAR_KERNEL(abs_backward, 2, abs_backward(a, b))
SCALAR_KERNEL(clamp_backward, 2, b >= s0 && b <= s1 ? a : 0.0)
SCALAR_KERNEL(relu_backward, 2, b > 0 ? a : 0.0)
SCALAR_KERNEL(leaky_relu_backward, 2, b > 0 ? a : a * s0)
SCALAR_KERNEL(gelu_backward, 2, gelu_backward(a, b))
SCALAR_KERNEL(gelu_tanh_backward, 2, gelu_tanh_backward(a, b))
SCALAR_KERNEL(silu_backward, 2, silu_backward(a, b))
SCALAR_KERNEL(sigmoid_backward, 2, a * sigmoid(b) * sigmoid(-b))
SCALAR_KERNEL(tanh_backward, 2, a / (cosh(b) * cosh(b))) /* 1 - tanh^2, exactly */
SCALAR_KERNEL(pow_scalar_backward, 2, s0 == 0 ? 0.0 : a * s0 * pow(b, s0 - 1.0))

SCALAR_KERNEL(add, 2, a + b)
SCALAR_KERNEL(sub, 2, a - b)
SCALAR_KERNEL(mul, 2, a * b)
SCALAR_KERNEL(div, 2, a / b)
SCALAR_KERNEL(pow, 2, pow(a, b))

SCALAR_KERNEL(div_backward_b, 3, -a * b / (c * c))
SCALAR_KERNEL(pow_backward_a, 3, c == 0 ? 0.0 : a * c * pow(b, c - 1.0))
SCALAR_KERNEL(pow_backward_b, 3, b == 0 && c >= 0 ? 0.0 : a * pow(b, c) * log(b))

SCALAR_KERNEL(masked_fill, 2, b != 0 ? s0 : a)
SCALAR_KERNEL(mask_keep, 2, b != 0 ? a : 0.0)
SCALAR_KERNEL(where, 3, a != 0 ? b : c)
/* clang-format on */

/* One X(op, name) per op, in enum order: the tables below and the names are built from it. */
#define POINTWISE_OPS(X)                                                                       \
    X(NEG, neg) X(EXP, exp) X(LOG, log) X(SQRT, sqrt) X(RSQRT, rsqrt) X(ABS, abs)              \
    X(CLAMP, clamp) X(RELU, relu) X(LEAKY_RELU, leaky_relu) X(GELU, gelu)                      \
    X(GELU_TANH, gelu_tanh) X(SILU, silu) X(SIGMOID, sigmoid) X(TANH, tanh)                    \
    X(ADD_SCALAR, add_scalar) X(MUL_SCALAR, mul_scalar) X(DIV_SCALAR, div_scalar)              \
    X(RSUB_SCALAR, rsub_scalar) X(POW_SCALAR, pow_scalar) X(EXP_BACKWARD, exp_backward)        \
    X(LOG_BACKWARD, log_backward) X(SQRT_BACKWARD, sqrt_backward)                              \
    X(RSQRT_BACKWARD, rsqrt_backward) X(ABS_BACKWARD, abs_backward)                            \
    X(CLAMP_BACKWARD, clamp_backward) X(RELU_BACKWARD, relu_backward)                          \
    X(LEAKY_RELU_BACKWARD, leaky_relu_backward) X(GELU_BACKWARD, gelu_backward)                \
    X(GELU_TANH_BACKWARD, gelu_tanh_backward) X(SILU_BACKWARD, silu_backward)                  \
    X(SIGMOID_BACKWARD, sigmoid_backward) X(TANH_BACKWARD, tanh_backward)                      \
    X(POW_SCALAR_BACKWARD, pow_scalar_backward) X(ADD, add) X(SUB, sub) X(MUL, mul)            \
    X(DIV, div) X(POW, pow) X(DIV_BACKWARD_B, div_backward_b)                                  \
    X(POW_BACKWARD_A, pow_backward_a) X(POW_BACKWARD_B, pow_backward_b)                        \
    X(MASKED_FILL, masked_fill) X(MASK_KEEP, mask_keep) X(WHERE, where)

#define F32_ENTRY(op, name) [AMPC_PW_##op] = name##_f32,
#define F64_ENTRY(op, name) [AMPC_PW_##op] = name##_f64,
#define NAME_ENTRY(op, name) [AMPC_PW_##op] = #name,

const ampc_pointwise_kernels ampc_pointwise_scalar_own = {.f32 = {POINTWISE_OPS(F32_ENTRY)}};
const ampc_pointwise_f64_fn ampc_pointwise_f64[AMPC_PW_OP_COUNT] = {POINTWISE_OPS(F64_ENTRY)};
static const char *const op_names[AMPC_PW_OP_COUNT] = {POINTWISE_OPS(NAME_ENTRY)};

const char *ampc_pointwise_op_name(ampc_pointwise_op op)
{
    if ((unsigned)op >= AMPC_PW_OP_COUNT) return "invalid";
    return op_names[op];
}

int ampc_pointwise_num_inputs(ampc_pointwise_op op)
{
    if (op >= AMPC_PW_DIV_BACKWARD_B && op <= AMPC_PW_POW_BACKWARD_B) return 3;
    if (op == AMPC_PW_WHERE) return 3;
    if (op >= AMPC_PW_EXP_BACKWARD) return 2;
    return 1;
}
