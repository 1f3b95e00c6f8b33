/* The vector pointwise kernels, written once for every SIMD level.
 *
 * Not an ordinary header: a level's file (pointwise_avx2.c, pointwise_avx512.c) defines a
 * small vector vocabulary, then includes this file, which builds that level's kernels and its
 * table POINTWISE_OWN_TABLE from it. The vocabulary:
 *   vf, vm                       a vector of VLEN floats, and a lane mask
 *   vset, vload, vstore          broadcast, unaligned load and store
 *   vadd vsub vmul vdiv vsqrt    IEEE operations, correctly rounded
 *   vfma(a, b, c) = a*b + c      fused, one rounding
 *   vmax(a, b) = a > b ? a : b   the SSE rules: a NaN in either gives b
 *   vmin(a, b) = a < b ? a : b
 *   vabs, vneg, vcopysign(m, s)  sign-bit operations
 *   vgt vge vlt vle veq          ordered compares (false for NaN); vnan: unordered with itself
 *   vmand                        mask and
 *   vsel(m, f, t)                t where m is set, else f
 *   vround(x)                    nearest integer (ties to even), as a float
 *   vscale(y, n)                 y * 2^n for an integer-valued n in [-150, 128], rounded once
 *   vfrexp(x, &e)                for a positive normal x: m in [1, 2) and e with x = m * 2^e
 *   vd, vd_widen, vd_set         the same lanes in double, for the few steps that need its
 *   vd_add vd_mul vd_div vd_fma  precision (arguments of exponentials, where an fp32 rounding
 *   vd_narrow(a, &lo)            would be amplified); vd_narrow gives a as hi + lo floats
 *
 * The approximations and their accuracy (tests/ops/test_pointwise_paths.c measures every
 * level against libm in double; docs/ops/pointwise.md lists the bounds):
 *   exp   Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, a degree-7 polynomial for e^r
 *         (Cephes expf's), and 2^n applied in two halves so subnormal results round once.
 *   log   x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(1 + f) = f - f^2/2 + f^3 P(f)
 *         (Cephes logf's degree-8 P), e ln2 added in two parts.
 *   tanh  |x| < 0.625: x + x^3 P(x^2) (Cephes tanhf); else 1 - 2e / (1 + e), e = e^{-2|x|};
 *         its derivative from the same parts, without the cancellation of 1 - tanh^2.
 *   erfc  (for gelu) erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2) (Numerical Recipes'
 *         erfcc, fractional error < 1.2e-7 for all z >= 0), t and the exponent computed in
 *         double and carried into exp as hi + lo; Phi(x) = erfc(-x/sqrt 2) / 2.
 *   sigmoid 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) below (no overflow, no
 *         cancellation); silu x sigmoid(x); tanh-gelu x sigmoid(2u), u the tanh argument,
 *         computed in double and carried as hi + lo: e^2u multiplies the absolute error of
 *         2u by |2u|, which for an fp32 argument would cost about |x|^3 / 4 ulps.
 * Tails (n not a multiple of VLEN) run the same vector code on a zero-padded copy, so every
 * element of a call goes through identical arithmetic wherever it sits. */

#include <math.h>
#include <string.h>

#include "kernels/pointwise_kernels.h"

/* ---- exp ---- */

/* e^(x + tail) for a small tail (a few ulps of x): the tail joins the reduced argument, where
 * it is not lost to x's rounding. */
static inline vf vexp_tail(vf x, vf tail)
{
    vf xc = vmin(vset(89.0f), vmax(vset(-104.0f), x)); /* beyond: inf or 0 anyway */
    vf n = vround(vmul(xc, vset(1.44269504088896341f)));
    vf r = vfma(n, vset(-0.693359375f), xc); /* exact: ln2's leading bits times n */
    r = vfma(n, vset(2.12194440e-4f), r);
    r = vadd(r, tail);
    vf p = vset(1.9875691500e-4f);
    p = vfma(p, r, vset(1.3981999507e-3f));
    p = vfma(p, r, vset(8.3334519073e-3f));
    p = vfma(p, r, vset(4.1665795894e-2f));
    p = vfma(p, r, vset(1.6666665459e-1f));
    p = vfma(p, r, vset(5.0000001201e-1f));
    vf y = vadd(vfma(p, vmul(r, r), r), vset(1.0f));
    return vsel(vnan(x), vscale(y, n), x);
}

static inline vf vexp(vf x)
{
    return vexp_tail(x, vset(0.0f));
}

/* ---- log ---- */

static inline vf vlog(vf x)
{
    vm tiny = vlt(x, vset(1.17549435e-38f)); /* subnormal (or <= 0): scale up by 2^23 */
    vf xs = vsel(tiny, x, vmul(x, vset(8388608.0f)));
    vf e;
    vf m = vfrexp(xs, &e);
    e = vsel(tiny, e, vsub(e, vset(23.0f)));
    vm big = vgt(m, vset(1.41421356f));
    m = vsel(big, m, vmul(m, vset(0.5f)));
    e = vsel(big, e, vadd(e, vset(1.0f)));
    vf f = vsub(m, vset(1.0f));
    vf z = vmul(f, f);
    vf p = vset(7.0376836292e-2f);
    p = vfma(p, f, vset(-1.1514610310e-1f));
    p = vfma(p, f, vset(1.1676998740e-1f));
    p = vfma(p, f, vset(-1.2420140846e-1f));
    p = vfma(p, f, vset(1.4249322787e-1f));
    p = vfma(p, f, vset(-1.6668057665e-1f));
    p = vfma(p, f, vset(2.0000714765e-1f));
    p = vfma(p, f, vset(-2.4999993993e-1f));
    p = vfma(p, f, vset(3.3333331174e-1f));
    vf y = vmul(vmul(p, f), z);
    y = vfma(e, vset(-2.12194440e-4f), y);
    y = vfma(z, vset(-0.5f), y);
    vf result = vfma(e, vset(0.693359375f), vadd(f, y));
    result = vsel(veq(x, vset(INFINITY)), result, x);
    result = vsel(veq(x, vset(0.0f)), result, vset(-INFINITY));
    result = vsel(vlt(x, vset(0.0f)), result, vset(NAN));
    return vsel(vnan(x), result, x);
}

/* ---- tanh, sigmoid ---- */

/* tanh x, and 1 - tanh^2 x (its derivative) without cancellation: for |x| >= 0.625, with
 * e = e^{-2|x|} (which cannot overflow), 1 - |tanh x| = q = 2e / (1 + e) and
 * 1 - tanh^2 x = q (2 - q). */
static inline vf vtanh_and_slope(vf x, vf *slope)
{
    vf ax = vabs(x);
    vf z = vmul(x, x);
    vf p = vset(-5.70498872745e-3f);
    p = vfma(p, z, vset(2.06390887954e-2f));
    p = vfma(p, z, vset(-5.37397155531e-2f));
    p = vfma(p, z, vset(1.33314422036e-1f));
    p = vfma(p, z, vset(-3.33332819422e-1f));
    vf small = vfma(vmul(p, z), x, x);
    vf e = vexp(vmul(ax, vset(-2.0f)));
    vf q = vdiv(vadd(e, e), vadd(e, vset(1.0f)));
    vf large = vsub(vset(1.0f), q);
    vm is_small = vlt(ax, vset(0.625f));
    *slope = vsel(is_small, vmul(q, vsub(vset(2.0f), q)), vfma(vneg(small), small, vset(1.0f)));
    return vsel(is_small, vcopysign(large, x), small);
}

static inline vf vtanh(vf x)
{
    vf slope;
    return vtanh_and_slope(x, &slope);
}

/* sigmoid(v) = numerator / (1 + e) with e = e^-|v|, which never overflows: the numerator is 1
 * for v >= 0 and e below (so large negative v keeps its tiny result instead of 1 / inf).
 * 1 - sigmoid(v) is the other numerator over the same denominator, without cancellation. */
typedef struct sigmoid_parts {
    vf numerator, complement_numerator, denominator;
} sigmoid_parts;

/* The parts of sigmoid(v + v_lo), v_lo a small correction to v. */
static inline sigmoid_parts vsigmoid_parts(vf v, vf v_lo)
{
    vm negative = vlt(v, vset(0.0f));
    /* e^-|v + v_lo|; beyond |v| = 200 (and for an infinite v, whose v_lo is NaN) e is 0 */
    vf tail = vsel(vlt(vabs(v), vset(200.0f)), vset(0.0f), vsel(negative, vneg(v_lo), v_lo));
    vf e = vexp_tail(vneg(vabs(v)), tail);
    sigmoid_parts parts = {vsel(negative, vset(1.0f), e), vsel(negative, e, vset(1.0f)),
                           vadd(vset(1.0f), e)};
    return parts;
}

static inline vf vsigmoid(vf v)
{
    sigmoid_parts parts = vsigmoid_parts(v, vset(0.0f));
    return vdiv(parts.numerator, parts.denominator);
}

/* x * sigmoid(v + v_lo), divided last so that one rounding follows the product. */
static inline vf vscaled_sigmoid(vf x, vf v, vf v_lo)
{
    sigmoid_parts parts = vsigmoid_parts(v, v_lo);
    return vdiv(vmul(x, parts.numerator), parts.denominator);
}

/* ---- the normal distribution, for gelu ---- */

/* e^(-x^2/2), with x^2 carried as hi + lo; |x| is capped at 20 (the result is 0 there). */
static inline vf vexp_neg_half_square(vf ax)
{
    vf square = vmul(ax, ax);
    vf square_lo = vfma(ax, ax, vneg(square));
    return vexp_tail(vmul(square, vset(-0.5f)), vmul(square_lo, vset(-0.5f)));
}

/* factor * Phi(x), Phi(x) = P(N(0,1) <= x). The exponent -z^2 + P(t) and t are computed in
 * double: in fp32 the polynomial's roundings (its terms reach 1.5) cost about 4 ulps of the
 * result. factor joins before the last multiply by the exponential, so that x * Phi(x)
 * (gelu) does not round a subnormal Phi first. */
static inline vf vscaled_normal_cdf(vf x, vf factor)
{
    vf ax = vmin(vset(20.0f), vabs(x)); /* NaN stays NaN: vmin gives its second operand */
    vd z = vd_mul(vd_widen(ax), vd_set(0.70710678118654752));
    vd t = vd_div(vd_set(1.0), vd_fma(z, vd_set(0.5), vd_set(1.0)));
    vd p = vd_set(0.17087277);
    p = vd_fma(p, t, vd_set(-0.82215223));
    p = vd_fma(p, t, vd_set(1.48851587));
    p = vd_fma(p, t, vd_set(-1.13520398));
    p = vd_fma(p, t, vd_set(0.27886807));
    p = vd_fma(p, t, vd_set(-0.18628806));
    p = vd_fma(p, t, vd_set(0.09678418));
    p = vd_fma(p, t, vd_set(0.37409196));
    p = vd_fma(p, t, vd_set(1.00002368));
    p = vd_fma(p, t, vd_set(-1.26551223));
    vd exponent = vd_fma(vd_mul(z, z), vd_set(-1.0), p);
    vf exponent_lo, t_lo;
    vf exponent_hi = vd_narrow(exponent, &exponent_lo);
    vf half_t = vmul(vd_narrow(t, &t_lo), vset(0.5f));
    vf e = vexp_tail(exponent_hi, exponent_lo);
    /* x < 0: factor * erfc(|x| / sqrt 2) / 2; else factor * (1 - erfc(|x| / sqrt 2) / 2) */
    vf upper = vmul(factor, vfma(vneg(half_t), e, vset(1.0f)));
    return vsel(vlt(x, vset(0.0f)), upper, vmul(vmul(factor, half_t), e));
}

#define GELU_2_SQRT_2_OVER_PI 1.5957691216057308 /* 2 sqrt(2/pi) */
#define GELU_KAPPA 0.044715

/* 2u for the tanh gelu, u = sqrt(2/pi) (x + kappa x^3), computed in double, as hi + lo. */
static inline vf vgelu_tanh_inner2(vf x, vf *lo)
{
    vd xd = vd_widen(x);
    vd scale = vd_fma(vd_mul(xd, xd), vd_set(GELU_2_SQRT_2_OVER_PI * GELU_KAPPA),
                      vd_set(GELU_2_SQRT_2_OVER_PI));
    return vd_narrow(vd_mul(xd, scale), lo);
}

static inline vf vgelu_tanh(vf x)
{
    vf lo;
    vf v = vgelu_tanh_inner2(x, &lo);
    return vscaled_sigmoid(x, v, lo);
}

/* ---- op expressions: a, b, c are the inputs, s0, s1 the scalars ---- */

static inline vf gelu_backward(vf dout, vf x)
{
    vf pdf = vmul(vexp_neg_half_square(vmin(vset(20.0f), vabs(x))),
                  vset(0.3989422804014327f));
    return vmul(dout, vfma(x, pdf, vscaled_normal_cdf(x, vset(1.0f))));
}

/* sigmoid(v + v_lo) and its derivative sigmoid (1 - sigmoid) = e / (1 + e)^2 (the product
 * of the two numerators is e). */
static inline vf vsigmoid_and_slope(vf v, vf v_lo, vf *slope)
{
    sigmoid_parts parts = vsigmoid_parts(v, v_lo);
    vf e = vmul(parts.numerator, parts.complement_numerator);
    *slope = vdiv(e, vmul(parts.denominator, parts.denominator));
    return vdiv(parts.numerator, parts.denominator);
}

static inline vf gelu_tanh_backward(vf dout, vf x)
{
    vf slope, lo;
    vf v = vgelu_tanh_inner2(x, &lo);
    vf s = vsigmoid_and_slope(v, lo, &slope);
    /* beyond |x| = 20 the slope is 0; capping x keeps x^2 from overflowing into 0 * inf */
    vf xc = vmin(vset(20.0f), vmax(vset(-20.0f), x));
    vf dinner2 = vmul(vfma(vmul(xc, xc), vset((float)(3.0 * GELU_KAPPA)), vset(1.0f)),
                      vset((float)GELU_2_SQRT_2_OVER_PI));
    return vmul(dout, vfma(vmul(xc, slope), dinner2, s));
}

static inline vf silu_backward(vf dout, vf x)
{
    vf slope;
    vf s = vsigmoid_and_slope(x, vset(0.0f), &slope);
    return vmul(dout, vfma(x, slope, s)); /* s (1 + x (1 - s)) = s + x s (1 - s) */
}

static inline vf sigmoid_backward(vf dout, vf x)
{
    vf slope;
    vsigmoid_and_slope(x, vset(0.0f), &slope);
    return vmul(dout, slope);
}

static inline vf tanh_backward(vf dout, vf x)
{
    vf slope;
    vtanh_and_slope(x, &slope);
    return vmul(dout, slope);
}

/* -dout / (2 x^1.5) as (-dout / 2 / sqrt x) / |x|: two roundings fewer than cubing
 * 1 / sqrt x, and the sign of (1 / sqrt -0)^3 = -inf at x = -0. */
static inline vf rsqrt_backward(vf dout, vf x)
{
    return vdiv(vdiv(vmul(dout, vset(-0.5f)), vsqrt(x)), vabs(x));
}

static inline vf abs_backward(vf dout, vf x)
{
    vf zero = vset(0.0f);
    return vsel(vgt(x, zero), vsel(vlt(x, zero), zero, vneg(dout)), dout);
}

static inline vf sqrt_backward(vf dout, vf x)
{
    return vdiv(dout, vmul(vset(2.0f), vsqrt(x)));
}

/* -dout a / b^2 as (-dout / b) (a / b): b^2 alone underflows or overflows for |b| beyond
 * 2^+-64, and dout a can be subnormal; the quotients stay in range for sensible operands. */
static inline vf div_backward_b(vf dout, vf a, vf b)
{
    return vmul(vdiv(vneg(dout), b), vdiv(a, b));
}

/* ---- the loop ---- */

typedef vf (*vector_op)(vf a, vf b, vf c, vf s0, vf s1);

static inline __attribute__((always_inline)) void run(float *out, const float *const *in,
                                                       size_t n,
                                                       const ampc_pointwise_scalars *scalars,
                                                       int arity, vector_op op)
{
    const vf s0 = vset(scalars->f32[0]), s1 = vset(scalars->f32[1]), zero = vset(0.0f);
    size_t i = 0;
    for (; i + VLEN <= n; i += VLEN) {
        vf a = vload(in[0] + i);
        vf b = arity > 1 ? vload(in[1] + i) : zero;
        vf c = arity > 2 ? vload(in[2] + i) : zero;
        vstore(out + i, op(a, b, c, s0, s1));
    }
    if (i == n) return;
    float padded[AMPC_PW_MAX_INPUTS][VLEN] = {{0}}, result[VLEN];
    size_t rest = n - i;
    for (int input = 0; input < arity; input++)
        memcpy(padded[input], in[input] + i, rest * sizeof(float));
    vstore(result, op(vload(padded[0]), vload(padded[1]), vload(padded[2]), s0, s1));
    memcpy(out + i, result, rest * sizeof(float));
}

#define VECTOR_KERNEL(name, arity, EXPR)                                                      \
    static inline vf name##_vector(vf a, vf b, vf c, vf s0, vf s1)                            \
    {                                                                                          \
        (void)a, (void)b, (void)c, (void)s0, (void)s1;                                         \
        return EXPR;                                                                           \
    }                                                                                          \
    static void name##_kernel(float *out, const float *const *in, size_t n,                    \
                              const ampc_pointwise_scalars *scalars)                           \
    {                                                                                          \
        run(out, in, n, scalars, arity, name##_vector);                                        \
    }

/* clang-format off */
VECTOR_KERNEL(neg, 1, vneg(a))
VECTOR_KERNEL(exp, 1, vexp(a))
VECTOR_KERNEL(log, 1, vlog(a))
VECTOR_KERNEL(sqrt, 1, vsqrt(a))
VECTOR_KERNEL(rsqrt, 1, vdiv(vset(1.0f), vsqrt(a)))
VECTOR_KERNEL(abs, 1, vabs(a))
VECTOR_KERNEL(clamp, 1, vmin(s1, vmax(s0, a)))
VECTOR_KERNEL(relu, 1, vmax(vset(0.0f), a))
VECTOR_KERNEL(leaky_relu, 1, vsel(vgt(a, vset(0.0f)), vmul(a, s0), a))
VECTOR_KERNEL(gelu, 1, vscaled_normal_cdf(a, a))
VECTOR_KERNEL(gelu_tanh, 1, vgelu_tanh(a))
VECTOR_KERNEL(silu, 1, vscaled_sigmoid(a, a, vset(0.0f)))
VECTOR_KERNEL(sigmoid, 1, vsigmoid(a))
VECTOR_KERNEL(tanh, 1, vtanh(a))
VECTOR_KERNEL(add_scalar, 1, vadd(a, s0))
VECTOR_KERNEL(mul_scalar, 1, vmul(a, s0))
VECTOR_KERNEL(div_scalar, 1, vdiv(a, s0))
VECTOR_KERNEL(rsub_scalar, 1, vsub(s0, a))

VECTOR_KERNEL(exp_backward, 2, vmul(a, vexp(b)))
VECTOR_KERNEL(log_backward, 2, vdiv(a, b))
VECTOR_KERNEL(sqrt_backward, 2, sqrt_backward(a, b))
VECTOR_KERNEL(rsqrt_backward, 2, rsqrt_backward(a, b))
VECTOR_KERNEL(abs_backward, 2, abs_backward(a, b))
VECTOR_KERNEL(clamp_backward, 2, vsel(vmand(vge(b, s0), vle(b, s1)), vset(0.0f), a))
VECTOR_KERNEL(relu_backward, 2, vsel(vgt(b, vset(0.0f)), vset(0.0f), a))
VECTOR_KERNEL(leaky_relu_backward, 2, vsel(vgt(b, vset(0.0f)), vmul(a, s0), a))
VECTOR_KERNEL(gelu_backward, 2, gelu_backward(a, b))
VECTOR_KERNEL(gelu_tanh_backward, 2, gelu_tanh_backward(a, b))
VECTOR_KERNEL(silu_backward, 2, silu_backward(a, b))
VECTOR_KERNEL(sigmoid_backward, 2, sigmoid_backward(a, b))
VECTOR_KERNEL(tanh_backward, 2, tanh_backward(a, b))

VECTOR_KERNEL(add, 2, vadd(a, b))
VECTOR_KERNEL(sub, 2, vsub(a, b))
VECTOR_KERNEL(mul, 2, vmul(a, b))
VECTOR_KERNEL(div, 2, vdiv(a, b))
VECTOR_KERNEL(div_backward_b, 3, div_backward_b(a, b, c))

VECTOR_KERNEL(masked_fill, 2, vsel(veq(b, vset(0.0f)), s0, a))
VECTOR_KERNEL(mask_keep, 2, vsel(veq(b, vset(0.0f)), a, vset(0.0f)))
VECTOR_KERNEL(where, 3, vsel(veq(a, vset(0.0f)), b, c))
/* clang-format on */

#define VECTOR_ENTRY(op, name) [AMPC_PW_##op] = name##_kernel,

/* pow (scalar and tensor exponent) and its gradients have no vector kernel: every level runs
 * the reference's libm pow. */
const ampc_pointwise_kernels POINTWISE_OWN_TABLE = {.f32 = {
    VECTOR_ENTRY(NEG, neg) VECTOR_ENTRY(EXP, exp) VECTOR_ENTRY(LOG, log)
    VECTOR_ENTRY(SQRT, sqrt) VECTOR_ENTRY(RSQRT, rsqrt) VECTOR_ENTRY(ABS, abs)
    VECTOR_ENTRY(CLAMP, clamp) VECTOR_ENTRY(RELU, relu) VECTOR_ENTRY(LEAKY_RELU, leaky_relu)
    VECTOR_ENTRY(GELU, gelu) VECTOR_ENTRY(GELU_TANH, gelu_tanh) VECTOR_ENTRY(SILU, silu)
    VECTOR_ENTRY(SIGMOID, sigmoid) VECTOR_ENTRY(TANH, tanh)
    VECTOR_ENTRY(ADD_SCALAR, add_scalar) VECTOR_ENTRY(MUL_SCALAR, mul_scalar)
    VECTOR_ENTRY(DIV_SCALAR, div_scalar) VECTOR_ENTRY(RSUB_SCALAR, rsub_scalar)
    VECTOR_ENTRY(EXP_BACKWARD, exp_backward) VECTOR_ENTRY(LOG_BACKWARD, log_backward)
    VECTOR_ENTRY(SQRT_BACKWARD, sqrt_backward) VECTOR_ENTRY(RSQRT_BACKWARD, rsqrt_backward)
    VECTOR_ENTRY(ABS_BACKWARD, abs_backward) VECTOR_ENTRY(CLAMP_BACKWARD, clamp_backward)
    VECTOR_ENTRY(RELU_BACKWARD, relu_backward)
    VECTOR_ENTRY(LEAKY_RELU_BACKWARD, leaky_relu_backward)
    VECTOR_ENTRY(GELU_BACKWARD, gelu_backward)
    VECTOR_ENTRY(GELU_TANH_BACKWARD, gelu_tanh_backward)
    VECTOR_ENTRY(SILU_BACKWARD, silu_backward) VECTOR_ENTRY(SIGMOID_BACKWARD, sigmoid_backward)
    VECTOR_ENTRY(TANH_BACKWARD, tanh_backward)
    VECTOR_ENTRY(ADD, add) VECTOR_ENTRY(SUB, sub) VECTOR_ENTRY(MUL, mul) VECTOR_ENTRY(DIV, div)
    VECTOR_ENTRY(DIV_BACKWARD_B, div_backward_b)
    VECTOR_ENTRY(MASKED_FILL, masked_fill) VECTOR_ENTRY(MASK_KEEP, mask_keep)
    VECTOR_ENTRY(WHERE, where)
}};
