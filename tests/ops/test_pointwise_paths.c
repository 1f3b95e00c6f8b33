/* ctest: per-isa
 *
 * The dispatched fp32 pointwise kernels (src/kernels/pointwise_<isa>.c, whichever level
 * AMPC_ISA selects) against libm in double (the fp64 kernels) and the scalar reference: the
 * exact ops (arithmetic, sqrt, clamp, relu, selects) bit for bit, the approximated ones
 * (exp, log, tanh, sigmoid, silu, gelu and their gradients) within the ulp bounds stated in
 * docs/ops/pointwise.md, on special values, a dense sweep of each function's range, random
 * magnitudes from subnormal to overflow, and every tail length. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ampc/cpu.h>

#include "kernels/pointwise_kernels.h"
#include "test_support.h"

static const ampc_pointwise_kernels *reference;
static const ampc_pointwise_kernels *active;

/* How far an op's fp32 result may be from the exact (fp64) value: `ulps` units in the last
 * place of the fp32 result, plus `scaled` times the largest operand magnitude the formula
 * multiplies by (for gradients whose last step loses to cancellation, 1 - tanh^2 near 1:
 * there the error is absolute). ulps < 0 means bit-identical to the reference. */
typedef struct op_bound {
    double ulps;
    double scaled;
    /* tanh-gelu only: its argument u = sqrt(2/pi) (x + 0.044715 x^3) is rounded in fp32 (as
     * in PyTorch), and e^u amplifies that absolute error by |u|: cubic * |x|^3 more ulps */
    double cubic;
} op_bound;

#define EXACT {-1, 0, 0}

/* The stated bounds (docs/ops/pointwise.md). */
static const op_bound bounds[AMPC_PW_OP_COUNT] = {
    [AMPC_PW_NEG] = EXACT,
    [AMPC_PW_EXP] = {1, 0, 0},
    [AMPC_PW_LOG] = {1, 0, 0},
    [AMPC_PW_SQRT] = EXACT,
    [AMPC_PW_RSQRT] = {1.5, 0, 0},
    [AMPC_PW_ABS] = EXACT,
    [AMPC_PW_CLAMP] = EXACT,
    [AMPC_PW_RELU] = EXACT,
    [AMPC_PW_LEAKY_RELU] = EXACT,
    [AMPC_PW_GELU] = {4, 0, 0},
    [AMPC_PW_GELU_TANH] = {3, 0, 0},
    [AMPC_PW_SILU] = {3, 0, 0},
    [AMPC_PW_SIGMOID] = {3, 0, 0},
    [AMPC_PW_TANH] = {2, 0, 0},
    [AMPC_PW_ADD_SCALAR] = EXACT,
    [AMPC_PW_MUL_SCALAR] = EXACT,
    [AMPC_PW_DIV_SCALAR] = EXACT,
    [AMPC_PW_RSUB_SCALAR] = EXACT,
    [AMPC_PW_POW_SCALAR] = EXACT,
    [AMPC_PW_EXP_BACKWARD] = {2, 0, 0},
    [AMPC_PW_LOG_BACKWARD] = EXACT,
    [AMPC_PW_SQRT_BACKWARD] = {2, 0, 0},
    [AMPC_PW_RSQRT_BACKWARD] = {2.5, 0, 0},
    [AMPC_PW_ABS_BACKWARD] = EXACT,
    [AMPC_PW_CLAMP_BACKWARD] = EXACT,
    [AMPC_PW_RELU_BACKWARD] = EXACT,
    [AMPC_PW_LEAKY_RELU_BACKWARD] = EXACT,
    [AMPC_PW_GELU_BACKWARD] = {4, 1e-7, 0},
    [AMPC_PW_GELU_TANH_BACKWARD] = {4, 1e-7, 0},
    [AMPC_PW_SILU_BACKWARD] = {4, 1e-7, 0},
    [AMPC_PW_SIGMOID_BACKWARD] = {5, 0, 0},
    [AMPC_PW_TANH_BACKWARD] = {4, 0, 0},
    [AMPC_PW_POW_SCALAR_BACKWARD] = EXACT,
    [AMPC_PW_ADD] = EXACT,
    [AMPC_PW_SUB] = EXACT,
    [AMPC_PW_MUL] = EXACT,
    [AMPC_PW_DIV] = EXACT,
    [AMPC_PW_POW] = EXACT,
    [AMPC_PW_DIV_BACKWARD_B] = {2, 0, 0},
    [AMPC_PW_POW_BACKWARD_A] = EXACT,
    [AMPC_PW_POW_BACKWARD_B] = EXACT,
    [AMPC_PW_MASKED_FILL] = EXACT,
    [AMPC_PW_MASK_KEEP] = EXACT,
    [AMPC_PW_WHERE] = EXACT,
};

static float uniform(uint32_t *state, float low, float high)
{
    return low + (high - low) * (float)(next_random(state) >> 8) / 16777216.0f;
}

/* One fp32 ulp at |value| (the spacing of floats there; subnormal spacing below 2^-126). */
static double ulp_f32(double value)
{
    double magnitude = fabs(value);
    if (magnitude < 0x1p-126) return 0x1p-149;
    int exponent;
    frexp(magnitude, &exponent);
    return ldexp(1.0, exponent - 24);
}

static bool both_nan_or_same_bits(float a, float b)
{
    return (isnan(a) && isnan(b)) || bits_of_f32(a) == bits_of_f32(b);
}

static const ampc_pointwise_scalars *scalars_for(ampc_pointwise_op op)
{
    static ampc_pointwise_scalars s;
    /* fp32 values, so that the fp64 kernels see the same scalars */
    float s0 = 0.0f, s1 = 0.0f;
    switch (op) {
    case AMPC_PW_CLAMP:
    case AMPC_PW_CLAMP_BACKWARD: s0 = -1.5f, s1 = 2.25f; break;
    case AMPC_PW_LEAKY_RELU:
    case AMPC_PW_LEAKY_RELU_BACKWARD: s0 = 0.01f; break;
    case AMPC_PW_ADD_SCALAR: s0 = 0.3f; break;
    case AMPC_PW_MUL_SCALAR: s0 = -1.7f; break;
    case AMPC_PW_DIV_SCALAR: s0 = 3.0f; break;
    case AMPC_PW_RSUB_SCALAR: s0 = 2.0f; break;
    case AMPC_PW_POW_SCALAR:
    case AMPC_PW_POW_SCALAR_BACKWARD: s0 = 2.5f; break;
    case AMPC_PW_MASKED_FILL: s0 = -7.25f; break;
    default: break;
    }
    s.f32[0] = s0, s.f32[1] = s1, s.f64[0] = s0, s.f64[1] = s1;
    return &s;
}

/* Input `input` of op: x-like operands get `values`; masks and conditions 0/1; upstream
 * gradients (the first input of a backward op) a uniform [-2, 2]. */
static bool is_mask(ampc_pointwise_op op, int input)
{
    return ((op == AMPC_PW_MASKED_FILL || op == AMPC_PW_MASK_KEEP) && input == 1) ||
           (op == AMPC_PW_WHERE && input == 0);
}

static bool is_upstream_gradient(ampc_pointwise_op op, int input)
{
    return input == 0 && ((op >= AMPC_PW_EXP_BACKWARD && op <= AMPC_PW_POW_SCALAR_BACKWARD) ||
                          (op >= AMPC_PW_DIV_BACKWARD_B && op <= AMPC_PW_POW_BACKWARD_B));
}

typedef struct worst {
    double error_ulps;
    double x; /* where: the op's x operand */
} worst;

/* Runs op on n elements with the active and reference kernels and checks every element;
 * returns the largest error in ulps in the normal range (0 for exact ops). */
static worst check_op(ampc_pointwise_op op, const float *values, size_t n, uint32_t seed)
{
    int arity = ampc_pointwise_num_inputs(op);
    float *in32[AMPC_PW_MAX_INPUTS] = {NULL};
    double *in64[AMPC_PW_MAX_INPUTS] = {NULL};
    for (int input = 0; input < arity; input++) {
        in32[input] = malloc(n * sizeof(float));
        in64[input] = malloc(n * sizeof(double));
        uint32_t state = seed + 77u * (uint32_t)input;
        for (size_t i = 0; i < n; i++) {
            float v = values[(i + (size_t)input * 7919u) % n];
            if (is_mask(op, input)) v = (float)(next_random(&state) & 1);
            else if (is_upstream_gradient(op, input)) v = uniform(&state, -2.0f, 2.0f);
            in32[input][i] = v;
            in64[input][i] = v;
        }
    }
    float *fast = malloc(n * sizeof(float)), *slow = malloc(n * sizeof(float));
    double *exact = malloc(n * sizeof(double));
    const ampc_pointwise_scalars *scalars = scalars_for(op);
    active->f32[op](fast, (const float *const *)in32, n, scalars);
    reference->f32[op](slow, (const float *const *)in32, n, scalars);
    ampc_pointwise_f64[op](exact, (const double *const *)in64, n, scalars);
    op_bound bound = bounds[op];
    worst w = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (bound.ulps < 0) {
            if (!both_nan_or_same_bits(fast[i], slow[i]))
                fail_msg("%s element %zu (inputs %a %a): %s path %a, reference %a",
                         ampc_pointwise_op_name(op), i, (double)in32[0][i],
                         arity > 1 ? (double)in32[1][i] : 0.0,
                         ampc_isa_name(ampc_pointwise_path()), (double)fast[i],
                         (double)slow[i]);
            continue;
        }
        double want = exact[i], got = fast[i];
        /* dout * e^x (and the like) may overflow in its fp32 intermediate just below the top */
        if (isinf(got) && fabs(want) > 0x1p124 && (want > 0) == (got > 0)) continue;
        if (isnan(want) || isinf(want) || fabs(want) > 3.4028234663852886e38) {
            bool agree = (isnan(want) && isnan(got)) || (float)want == (float)got;
            if (!agree)
                fail_msg("%s element %zu (inputs %a %a): %s path %a, exact %a",
                         ampc_pointwise_op_name(op), i, (double)in32[0][i],
                         arity > 1 ? (double)in32[1][i] : 0.0,
                         ampc_isa_name(ampc_pointwise_path()), got, want);
            continue;
        }
        double scale = 0.0;
        for (int input = 0; input < arity; input++)
            if (!is_mask(op, input)) scale = fmax(scale, fabs(in64[input][i]));
        double error = fabs(got - want);
        double x = is_upstream_gradient(op, 0) ? in64[1][i] : in64[0][i];
        double allowed_ulps = bound.ulps;
        if (bound.cubic > 0) allowed_ulps += bound.cubic * fabs(x * x * x);
        double allowed = allowed_ulps * ulp_f32(want);
        /* A result within a factor |operand| of the subnormal range may come from a
         * subnormal factor (silu's e^x times x): there the bound scales with the operand. */
        if (fabs(want) < 0x1p-126 * fmax(scale, 1.0)) allowed *= fmax(scale, 1.0);
        if (bound.scaled > 0) allowed += bound.scaled * fmax(scale, 1.0);
        double error_ulps = error / ulp_f32(want);
        if (!(error <= allowed))
            fail_msg("%s element %zu (inputs %a %a): %s path %a, exact %a: %.2f ulps",
                     ampc_pointwise_op_name(op), i, (double)in32[0][i],
                     arity > 1 ? (double)in32[1][i] : 0.0,
                     ampc_isa_name(ampc_pointwise_path()), got, want, error_ulps);
        bool normal_range = fabs(want) >= 0x1p-126 * fmax(scale, 1.0);
        if (bound.scaled == 0 && normal_range && error_ulps > w.error_ulps)
            w = (worst){error_ulps, x};
    }
    for (int input = 0; input < arity; input++) free(in32[input]), free(in64[input]);
    free(fast), free(slow), free(exact);
    return w;
}

/* Specials, a dense sweep of [-20, 20], and random magnitudes from 2^-149 to 2^127. */
static float *test_values(size_t *count)
{
    static const float specials[] = {
        0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1.0f, -1.0f, 0x1p-149f, -0x1p-149f, 0x1p-126f,
        0x1.fffffep127f, -0x1.fffffep127f, 88.72283f, 88.7229f, -87.3f, -103.9f, -104.5f,
        0.625f, -0.625f, 0.62499994f, 9.0f, -9.0f, 1.5f, -1.5f, 2.25f, 1e-30f, -1e-30f,
        5.9604645e-8f, 1.4142135f, 1.4142137f, 0.70710677f, -13.5f, -19.9f, -25.0f, 20.5f,
    };
    size_t num_specials = sizeof specials / sizeof *specials;
    size_t sweep = 80001, random = 100000;
    size_t n = num_specials + sweep + random;
    float *values = malloc(n * sizeof(float));
    memcpy(values, specials, sizeof specials);
    for (size_t i = 0; i < sweep; i++)
        values[num_specials + i] = -20.0f + 40.0f * (float)i / (float)(sweep - 1);
    uint32_t state = 12345;
    for (size_t i = 0; i < random; i++) {
        uint32_t bits = next_random(&state) & 0xFF7FFFFFu; /* any sign and mantissa */
        bits = (bits & 0x807FFFFFu) | ((next_random(&state) % 254u) << 23); /* finite */
        values[num_specials + sweep + i] = f32_of_bits(bits);
    }
    *count = n;
    return values;
}

static void test_every_op_matches_reference_within_its_bound(void **state)
{
    (void)state;
    size_t n;
    float *values = test_values(&n);
    for (int op = 0; op < AMPC_PW_OP_COUNT; op++) {
        worst w = check_op((ampc_pointwise_op)op, values, n, 2024u + (uint32_t)op);
        if (bounds[op].ulps >= 0 && bounds[op].scaled == 0)
            printf("  %-22s max %.2f ulps (bound %.1f) at x = %a\n", ampc_pointwise_op_name(op),
                   w.error_ulps, bounds[op].ulps, w.x);
    }
    free(values);
}

/* Every length from 0 to 3 vectors and back: the tail goes through the same vector code. */
static void test_every_tail_length_matches_whole_vectors(void **state)
{
    (void)state;
    enum { MAX_N = 67 };
    float a[MAX_N], b[MAX_N], whole[MAX_N], part[MAX_N + 1];
    uint32_t seed = 99;
    for (int i = 0; i < MAX_N; i++) a[i] = uniform(&seed, -6, 6), b[i] = uniform(&seed, 0, 3);
    const float *in[AMPC_PW_MAX_INPUTS] = {a, b, a};
    for (int op = 0; op < AMPC_PW_OP_COUNT; op++) {
        const ampc_pointwise_scalars *scalars = scalars_for((ampc_pointwise_op)op);
        active->f32[op](whole, in, MAX_N, scalars);
        for (size_t n = 0; n <= MAX_N; n++) {
            part[n] = 12345.0f; /* a sentinel the kernel must not write */
            active->f32[op](part, in, n, scalars);
            assert_true(bits_of_f32(part[n]) == bits_of_f32(12345.0f));
            for (size_t i = 0; i < n; i++)
                if (!both_nan_or_same_bits(part[i], whole[i]))
                    fail_msg("%s with n=%zu: element %zu is %a; %a in a longer call",
                             ampc_pointwise_op_name(op), n, i, (double)part[i],
                             (double)whole[i]);
        }
    }
}

/* The scalar table is itself checked against libm in double: the fp32 reference is the fp64
 * result rounded once. */
static void test_reference_is_fp64_rounded_once(void **state)
{
    (void)state;
    float x[5] = {-3.5f, -0.25f, 0.0f, 0.75f, 12.0f}, out[5];
    double x64[5], out64[5];
    for (int i = 0; i < 5; i++) x64[i] = x[i];
    const float *in[1] = {x};
    const double *in64[1] = {x64};
    for (int op = AMPC_PW_NEG; op <= AMPC_PW_POW_SCALAR; op++) {
        const ampc_pointwise_scalars *scalars = scalars_for((ampc_pointwise_op)op);
        reference->f32[op](out, in, 5, scalars);
        ampc_pointwise_f64[op](out64, in64, 5, scalars);
        for (int i = 0; i < 5; i++)
            if (!both_nan_or_same_bits(out[i], (float)out64[i]))
                fail_msg("%s of %g: fp32 reference %a, fp64 %a", ampc_pointwise_op_name(op),
                         (double)x[i], (double)out[i], out64[i]);
    }
    assert_int_equal(ampc_pointwise_num_inputs(AMPC_PW_WHERE), 3);
    assert_string_equal(ampc_pointwise_op_name(AMPC_PW_GELU_TANH_BACKWARD), "gelu_tanh_backward");
}

int main(void)
{
    int skip = ampc_test_require_isa();
    if (skip) return skip;
    reference = ampc_pointwise_kernels_at(AMPC_ISA_SCALAR);
    active = ampc_pointwise_kernels_active();
    printf("comparing the %s pointwise path with libm in double\n",
           ampc_isa_name(ampc_pointwise_path()));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_op_matches_reference_within_its_bound),
        cmocka_unit_test(test_every_tail_length_matches_whole_vectors),
        cmocka_unit_test(test_reference_is_fp64_rounded_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
