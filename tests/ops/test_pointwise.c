/* ctest: per-isa
 *
 * The pointwise ops (src/ops/pointwise_*.c) on whichever kernel level AMPC_ISA selects:
 * every op's gradient against finite differences (broadcast shapes, 0-d tensors,
 * non-contiguous inputs, size-0 dims), its F32/F16/BF16 results against the F64 run, forward
 * values against formulas written here in double, the PyTorch gradient conventions at kinks,
 * F16/BF16 computing in fp32 and rounding once, results independent of the thread count and
 * of the operands' layout, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ampc/ampc.h>
#include <ampc/ops_pointwise.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"
#include "test_support.h"

/* ---- the ops under test, as data ---- */

typedef enum op_kind { UNARY, WITH_SCALAR, CLAMP, GELU, BINARY, MASKED_FILL, WHERE } op_kind;

typedef struct op_spec {
    const char *name;
    op_kind kind;
    ampc_tensor *(*unary)(const ampc_tensor *a);
    ampc_tensor *(*with_scalar)(const ampc_tensor *a, double value);
    ampc_tensor *(*binary)(const ampc_tensor *a, const ampc_tensor *b);
    double s0, s1;
    double low, high;         /* where a's values are drawn (away from poles and kinks) */
    double b_low, b_high;     /* b's, for binary ops */
    double f64_reference_tolerance; /* for the formula check below */
} op_spec;

static ampc_tensor *run_spec(ampc_tensor *const *inputs, const void *context)
{
    const op_spec *spec = context;
    switch (spec->kind) {
    case UNARY: return spec->unary(inputs[0]);
    case WITH_SCALAR: return spec->with_scalar(inputs[0], spec->s0);
    case CLAMP: return ampc_clamp(inputs[0], spec->s0, spec->s1);
    case GELU: return ampc_gelu(inputs[0], (ampc_gelu_approximate)spec->s0);
    case BINARY: return spec->binary(inputs[0], inputs[1]);
    case MASKED_FILL: return ampc_masked_fill(inputs[0], inputs[1], spec->s0);
    case WHERE: return ampc_where(inputs[0], inputs[1], inputs[2]);
    }
    return NULL;
}

/* clang-format off */
static const op_spec unary_specs[] = {
    {"neg", UNARY, ampc_neg, NULL, NULL, 0, 0, -2, 2, 0, 0, 0},
    {"exp", UNARY, ampc_exp, NULL, NULL, 0, 0, -2, 2, 0, 0, 0},
    {"log", UNARY, ampc_log, NULL, NULL, 0, 0, 0.3, 3, 0, 0, 0},
    {"sqrt", UNARY, ampc_sqrt, NULL, NULL, 0, 0, 0.3, 3, 0, 0, 0},
    {"rsqrt", UNARY, ampc_rsqrt, NULL, NULL, 0, 0, 0.3, 3, 0, 0, 0},
    {"abs", UNARY, ampc_abs, NULL, NULL, 0, 0, -2, 2, 0, 0, 0},
    {"relu", UNARY, ampc_relu, NULL, NULL, 0, 0, -2, 2, 0, 0, 0},
    {"silu", UNARY, ampc_silu, NULL, NULL, 0, 0, -4, 4, 0, 0, 0},
    {"sigmoid", UNARY, ampc_sigmoid, NULL, NULL, 0, 0, -4, 4, 0, 0, 0},
    {"tanh", UNARY, ampc_tanh, NULL, NULL, 0, 0, -3, 3, 0, 0, 0},
    {"gelu", GELU, NULL, NULL, NULL, AMPC_GELU_NONE, 0, -4, 4, 0, 0, 0},
    {"gelu_tanh", GELU, NULL, NULL, NULL, AMPC_GELU_TANH, 0, -4, 4, 0, 0, 0},
    {"clamp", CLAMP, NULL, NULL, NULL, -0.5, 0.7, -2, 2, 0, 0, 0},
    {"clamp_min_only", CLAMP, NULL, NULL, NULL, -0.5, INFINITY, -2, 2, 0, 0, 0},
    {"leaky_relu", WITH_SCALAR, NULL, ampc_leaky_relu, NULL, 0.1, 0, -2, 2, 0, 0, 0},
    {"add_scalar", WITH_SCALAR, NULL, ampc_add_scalar, NULL, 0.3, 0, -2, 2, 0, 0, 0},
    {"sub_scalar", WITH_SCALAR, NULL, ampc_sub_scalar, NULL, 1.2, 0, -2, 2, 0, 0, 0},
    {"mul_scalar", WITH_SCALAR, NULL, ampc_mul_scalar, NULL, -1.7, 0, -2, 2, 0, 0, 0},
    {"div_scalar", WITH_SCALAR, NULL, ampc_div_scalar, NULL, 3.0, 0, -2, 2, 0, 0, 0},
    {"rsub_scalar", WITH_SCALAR, NULL, ampc_rsub_scalar, NULL, 2.0, 0, -2, 2, 0, 0, 0},
    {"pow_scalar", WITH_SCALAR, NULL, ampc_pow_scalar, NULL, 2.5, 0, 0.3, 2, 0, 0, 0},
    {"pow_scalar_cube", WITH_SCALAR, NULL, ampc_pow_scalar, NULL, 3.0, 0, -2, 2, 0, 0, 0},
};

static const op_spec binary_specs[] = {
    {"add", BINARY, NULL, NULL, ampc_add, 0, 0, -2, 2, -2, 2, 0},
    {"sub", BINARY, NULL, NULL, ampc_sub, 0, 0, -2, 2, -2, 2, 0},
    {"mul", BINARY, NULL, NULL, ampc_mul, 0, 0, -2, 2, -2, 2, 0},
    {"div", BINARY, NULL, NULL, ampc_div, 0, 0, -2, 2, 0.5, 2, 0},
    {"pow", BINARY, NULL, NULL, ampc_pow, 0, 0, 0.5, 2, -1.5, 1.5, 0},
};
/* clang-format on */

#define COUNT(array) (sizeof(array) / sizeof *(array))

static const op_spec masked_fill_spec = {"masked_fill", MASKED_FILL, NULL, NULL, NULL, -3.5,
                                         0, -2, 2, 0, 0, 0};
static const op_spec where_spec = {"where", WHERE, NULL, NULL, NULL, 0, 0, -2, 2, -2, 2, 0};

/* A BOOL tensor of the shape with a fixed true/false pattern (about half true). */
static ampc_tensor *bool_pattern(int ndim, const int64_t *shape, uint32_t seed)
{
    ampc_tensor *mask = ampc_tensor_zeros(AMPC_BOOL, ndim, shape);
    assert_non_null(mask);
    uint8_t *data = ampc_tensor_data(mask);
    for (int64_t i = 0; i < ampc_tensor_numel(mask); i++) {
        seed = seed * 1664525u + 1013904223u;
        data[i] = (uint8_t)((seed >> 16) & 1);
    }
    return mask;
}

static ampc_tensor *uniform(uint64_t seed, int ndim, const int64_t *shape, double low,
                            double high)
{
    return gradcheck_uniform(seed, ndim, shape, low, high, true);
}

/* Backpropagates ones from out. */
static void backward_ones(const ampc_tensor *out)
{
    ampc_tensor *ones = ampc_tensor_ones(ampc_tensor_dtype(out), ampc_tensor_ndim(out),
                                         ampc_tensor_shape(out));
    assert_int_equal(ampc_backward(out, ones, false), AMPC_OK);
    ampc_tensor_free(ones);
}

/* ---- gradients ---- */

static void check_unary_case(const op_spec *spec, int ndim, const int64_t *shape,
                             bool noncontiguous, const char *label)
{
    ampc_tensor *x = uniform(11, ndim, shape, spec->low, spec->high);
    ampc_tensor *input = x;
    if (noncontiguous) {
        input = gradcheck_noncontiguous(x, true);
        assert_false(ampc_tensor_is_contiguous(input));
    }
    char name[96];
    snprintf(name, sizeof name, "%s %s", spec->name, label);
    ampc_tensor *inputs[1] = {input};
    gradcheck_case check = {.name = name, .op = run_spec, .context = spec, .num_inputs = 1,
                            .inputs = inputs};
    gradcheck_assert(&check);
    if (input != x) ampc_tensor_free(input);
    ampc_tensor_free(x);
}

static void test_unary_gradients_match_finite_differences(void **state)
{
    (void)state;
    int64_t matrix[] = {3, 4}, empty[] = {0, 3}, row[] = {1, 5};
    for (size_t i = 0; i < COUNT(unary_specs); i++) {
        const op_spec *spec = &unary_specs[i];
        check_unary_case(spec, 2, matrix, false, "[3, 4]");
        check_unary_case(spec, 2, matrix, true, "[3, 4] transposed storage");
        check_unary_case(spec, 0, NULL, false, "0-d");
        check_unary_case(spec, 2, row, false, "[1, 5]");
        check_unary_case(spec, 2, empty, false, "[0, 3]");
    }
}

static void check_binary_case(const op_spec *spec, int ndim_a, const int64_t *shape_a,
                              int ndim_b, const int64_t *shape_b, bool noncontiguous_a,
                              const char *label)
{
    ampc_tensor *a = uniform(21, ndim_a, shape_a, spec->low, spec->high);
    ampc_tensor *b = uniform(22, ndim_b, shape_b, spec->b_low, spec->b_high);
    ampc_tensor *a_input = noncontiguous_a ? gradcheck_noncontiguous(a, true) : a;
    char name[96];
    snprintf(name, sizeof name, "%s %s", spec->name, label);
    ampc_tensor *inputs[2] = {a_input, b};
    gradcheck_case check = {.name = name, .op = run_spec, .context = spec, .num_inputs = 2,
                            .inputs = inputs};
    gradcheck_assert(&check);
    if (a_input != a) ampc_tensor_free(a_input);
    ampc_tensor_free(a);
    ampc_tensor_free(b);
}

static void test_binary_gradients_match_finite_differences_with_broadcasting(void **state)
{
    (void)state;
    int64_t a3[] = {3, 1, 4}, b2[] = {2, 1}, same[] = {2, 3}, row[] = {3}, empty[] = {0, 3};
    int64_t column[] = {4, 1}, wide[] = {1, 5};
    for (size_t i = 0; i < COUNT(binary_specs); i++) {
        const op_spec *spec = &binary_specs[i];
        check_binary_case(spec, 2, same, 2, same, false, "[2, 3] with [2, 3]");
        check_binary_case(spec, 3, a3, 2, b2, false, "[3, 1, 4] with [2, 1]");
        check_binary_case(spec, 2, b2, 3, a3, false, "[2, 1] with [3, 1, 4]");
        check_binary_case(spec, 2, same, 0, NULL, false, "[2, 3] with 0-d");
        check_binary_case(spec, 0, NULL, 2, same, false, "0-d with [2, 3]");
        check_binary_case(spec, 2, same, 1, row, true, "transposed [2, 3] with [3]");
        check_binary_case(spec, 2, column, 2, wide, false, "[4, 1] with [1, 5]");
        check_binary_case(spec, 2, empty, 1, row, false, "[0, 3] with [3]");
    }
}

static void test_masked_fill_gradient_is_zero_where_masked(void **state)
{
    (void)state;
    int64_t shape[] = {3, 4}, row[] = {4};
    ampc_tensor *a = uniform(31, 2, shape, -2, 2);
    ampc_tensor *full_mask = bool_pattern(2, shape, 5), *row_mask = bool_pattern(1, row, 6);
    ampc_tensor *a_t = gradcheck_noncontiguous(a, true);
    ampc_tensor *masks[] = {full_mask, row_mask};
    ampc_tensor *operands[] = {a, a_t};
    for (int m = 0; m < 2; m++)
        for (int o = 0; o < 2; o++) {
            ampc_tensor *inputs[2] = {operands[o], masks[m]};
            gradcheck_case check = {.name = "masked_fill", .op = run_spec,
                                    .context = &masked_fill_spec, .num_inputs = 2,
                                    .inputs = inputs};
            gradcheck_assert(&check);
        }
    /* explicitly: ones upstream give 1 where not masked and 0 where masked */
    ampc_tensor *out = ampc_masked_fill(a, row_mask, -3.5);
    backward_ones(out);
    const ampc_tensor *grad = ampc_tensor_grad(a);
    for (int64_t i = 0; i < 12; i++) {
        bool masked = ((const uint8_t *)ampc_tensor_data(row_mask))[i % 4];
        assert_true(value_at_position(grad, i) == (masked ? 0.0 : 1.0));
        assert_true(value_at_position(out, i) == (masked ? -3.5 : value_at_position(a, i)));
    }
    assert_string_equal(ampc_tensor_grad_fn_name(out), "masked_fill");
    ampc_tensor_free(out);
    ampc_tensor_free(a_t);
    ampc_tensor_free(a);
    ampc_tensor_free(full_mask);
    ampc_tensor_free(row_mask);
}

static void test_where_gradient_flows_to_the_chosen_side(void **state)
{
    (void)state;
    int64_t c_shape[] = {3, 1}, a_shape[] = {1, 4}, b_shape[] = {3, 4};
    ampc_tensor *condition = bool_pattern(2, c_shape, 9);
    ampc_tensor *a = uniform(41, 2, a_shape, -2, 2), *b = uniform(42, 2, b_shape, -2, 2);
    ampc_tensor *inputs[3] = {condition, a, b};
    gradcheck_case check = {.name = "where [3,1] [1,4] [3,4]", .op = run_spec,
                            .context = &where_spec, .num_inputs = 3, .inputs = inputs};
    gradcheck_assert(&check);
    ampc_tensor *b_t = gradcheck_noncontiguous(b, true);
    ampc_tensor *scalar_condition = bool_pattern(0, NULL, 2);
    ampc_tensor *inputs2[3] = {scalar_condition, a, b_t};
    check.name = "where 0-d condition, transposed b";
    check.inputs = inputs2;
    gradcheck_assert(&check);
    /* ones upstream: a's gradient counts the rows choosing it */
    ampc_tensor *out = ampc_where(condition, a, b);
    backward_ones(out);
    const uint8_t *chosen = ampc_tensor_data(condition);
    double rows_choosing_a = chosen[0] + chosen[1] + chosen[2];
    for (int64_t i = 0; i < 4; i++)
        assert_true(value_at_position(ampc_tensor_grad(a), i) == rows_choosing_a);
    for (int64_t i = 0; i < 12; i++) {
        assert_true(value_at_position(ampc_tensor_grad(b), i) == (chosen[i / 4] ? 0.0 : 1.0));
        double want = chosen[i / 4] ? value_at_position(a, i % 4) : value_at_position(b, i);
        assert_true(value_at_position(out, i) == want);
    }
    ampc_tensor_free(out);
    ampc_tensor_free(b_t);
    ampc_tensor_free(scalar_condition);
    ampc_tensor_free(condition);
    ampc_tensor_free(a);
    ampc_tensor_free(b);
}

/* ---- dtypes ---- */

static void dtype_check_all(const gradcheck_case *check)
{
    dtype_check_assert(check, AMPC_F32, dtype_tolerance_default(AMPC_F32));
    dtype_check_assert(check, AMPC_F16, dtype_tolerance_default(AMPC_F16));
    dtype_check_assert(check, AMPC_BF16, dtype_tolerance_default(AMPC_BF16));
}

static void test_every_op_in_f32_f16_bf16_matches_f64(void **state)
{
    (void)state;
    int64_t shape[] = {5, 7}, column[] = {5, 1};
    for (size_t i = 0; i < COUNT(unary_specs); i++) {
        ampc_tensor *x = uniform(51, 2, shape, unary_specs[i].low, unary_specs[i].high);
        ampc_tensor *inputs[1] = {x};
        gradcheck_case check = {.name = unary_specs[i].name, .op = run_spec,
                                .context = &unary_specs[i], .num_inputs = 1, .inputs = inputs};
        dtype_check_all(&check);
        ampc_tensor_free(x);
    }
    for (size_t i = 0; i < COUNT(binary_specs); i++) {
        ampc_tensor *a = uniform(52, 2, shape, binary_specs[i].low, binary_specs[i].high);
        ampc_tensor *b = uniform(53, 2, column, binary_specs[i].b_low, binary_specs[i].b_high);
        ampc_tensor *inputs[2] = {a, b};
        gradcheck_case check = {.name = binary_specs[i].name, .op = run_spec,
                                .context = &binary_specs[i], .num_inputs = 2, .inputs = inputs};
        dtype_check_all(&check);
        ampc_tensor_free(a);
        ampc_tensor_free(b);
    }
    ampc_tensor *a = uniform(54, 2, shape, -2, 2), *b = uniform(55, 2, column, -2, 2);
    ampc_tensor *mask = bool_pattern(2, shape, 3), *condition = bool_pattern(2, column, 4);
    ampc_tensor *fill_inputs[2] = {a, mask}, *where_inputs[3] = {condition, a, b};
    gradcheck_case fill = {.name = "masked_fill", .op = run_spec, .context = &masked_fill_spec,
                           .num_inputs = 2, .inputs = fill_inputs};
    gradcheck_case where = {.name = "where", .op = run_spec, .context = &where_spec,
                            .num_inputs = 3, .inputs = where_inputs};
    dtype_check_all(&fill);
    dtype_check_all(&where);
    ampc_tensor_free(a);
    ampc_tensor_free(b);
    ampc_tensor_free(mask);
    ampc_tensor_free(condition);
}

static ampc_tensor *filled(ampc_dtype dtype, int64_t n, double low, double high)
{
    ampc_tensor *x64 = gradcheck_uniform(61, 1, &n, low, high, false);
    ampc_tensor *x = ampc_tensor_cast(x64, dtype);
    ampc_tensor_free(x64);
    return x;
}

static void assert_same_bits(const ampc_tensor *a, const ampc_tensor *b, const char *what)
{
    assert_int_equal(ampc_tensor_dtype(a), ampc_tensor_dtype(b));
    assert_int_equal(ampc_tensor_numel(a), ampc_tensor_numel(b));
    ampc_tensor *ca = ampc_tensor_contiguous(a), *cb = ampc_tensor_contiguous(b);
    if (memcmp(ampc_tensor_data(ca), ampc_tensor_data(cb), ampc_tensor_nbytes(ca)) != 0) {
        for (int64_t i = 0; i < ampc_tensor_numel(a); i++)
            if (value_at_position(a, i) != value_at_position(b, i) &&
                !(isnan(value_at_position(a, i)) && isnan(value_at_position(b, i))))
                fail_msg("%s: element %lld is %.9g, expected %.9g", what, (long long)i,
                         value_at_position(a, i), value_at_position(b, i));
    }
    ampc_tensor_free(ca);
    ampc_tensor_free(cb);
}

/* F16 and BF16 widen exactly, compute in fp32 and round once: the same bits as running the
 * op on the fp32 copy and casting its result. */
static void test_half_precision_computes_in_fp32_and_rounds_once(void **state)
{
    (void)state;
    ampc_dtype halves[] = {AMPC_F16, AMPC_BF16};
    for (int h = 0; h < 2; h++) {
        for (size_t i = 0; i < COUNT(unary_specs); i++) {
            const op_spec *spec = &unary_specs[i];
            ampc_tensor *x = filled(halves[h], 3001, spec->low * 3, spec->high * 3);
            ampc_tensor *x32 = ampc_tensor_cast(x, AMPC_F32);
            ampc_tensor *inputs[1] = {x}, *inputs32[1] = {x32};
            ampc_tensor *out = run_spec(inputs, spec), *out32 = run_spec(inputs32, spec);
            ampc_tensor *rounded = ampc_tensor_cast(out32, halves[h]);
            assert_same_bits(out, rounded, spec->name);
            ampc_tensor_free(x), ampc_tensor_free(x32), ampc_tensor_free(out);
            ampc_tensor_free(out32), ampc_tensor_free(rounded);
        }
    }
}

/* ---- forward values against formulas in double ---- */

static double gelu_erf(double x) { return 0.5 * x * (1 + erf(x / sqrt(2.0))); }
static double gelu_tanh(double x)
{
    return 0.5 * x * (1 + tanh(sqrt(2 / M_PI) * (x + 0.044715 * x * x * x)));
}
static double sigmoid(double x) { return 1 / (1 + exp(-x)); }

static void test_forward_values_match_formulas_in_double(void **state)
{
    (void)state;
    int64_t n = 9;
    double xs[] = {-3.0, -1.5, -0.5, -0.0, 0.0, 0.25, 1.0, 2.0, 5.0};
    ampc_tensor *x64 = ampc_tensor_from_data(xs, AMPC_F64, 1, &n);
    ampc_tensor *x32 = ampc_tensor_cast(x64, AMPC_F32);
    struct {
        ampc_tensor *(*fn)(const ampc_tensor *);
        double (*formula)(double);
        const char *name;
    } cases[] = {
        {ampc_exp, exp, "exp"}, {ampc_tanh, tanh, "tanh"}, {ampc_sigmoid, sigmoid, "sigmoid"},
        {ampc_neg, NULL, "neg"}, {ampc_abs, fabs, "abs"},
    };
    for (size_t c = 0; c < COUNT(cases); c++) {
        ampc_tensor *outs[2] = {cases[c].fn(x64), cases[c].fn(x32)};
        for (int k = 0; k < 2; k++)
            for (int64_t i = 0; i < n; i++) {
                double want = cases[c].formula ? cases[c].formula(xs[i]) : -xs[i];
                double tolerance = k == 0 ? 1e-15 : 3e-7;
                double got = value_at_position(outs[k], i);
                if (!(fabs(got - want) <= tolerance * fmax(1, fabs(want))))
                    fail_msg("%s(%g) = %.17g; expected %.17g", cases[c].name, xs[i], got,
                             want);
            }
        ampc_tensor_free(outs[0]), ampc_tensor_free(outs[1]);
    }
    ampc_tensor *g = ampc_gelu(x32, AMPC_GELU_NONE), *gt = ampc_gelu(x32, AMPC_GELU_TANH);
    ampc_tensor *s = ampc_silu(x32), *r = ampc_relu(x32), *l = ampc_leaky_relu(x32, 0.2);
    ampc_tensor *c = ampc_clamp(x32, -1, 1.5), *p = ampc_pow_scalar(x32, 2.0);
    ampc_tensor *rs = ampc_rsub_scalar(x32, 1.0), *ds = ampc_div_scalar(x32, 4.0);
    for (int64_t i = 0; i < n; i++) {
        double x = xs[i];
        assert_float_equal(value_at_position(g, i), gelu_erf(x), 1e-6);
        assert_float_equal(value_at_position(gt, i), gelu_tanh(x), 1e-6);
        assert_float_equal(value_at_position(s, i), x * sigmoid(x), 1e-6);
        assert_true(value_at_position(r, i) == (x > 0 ? x : 0));
        assert_true(value_at_position(l, i) == (x > 0 ? x : (double)(float)(x * (double)0.2f)));
        assert_true(value_at_position(c, i) == fmin(fmax(x, -1), 1.5));
        assert_true(value_at_position(p, i) == x * x);
        assert_true(value_at_position(rs, i) == 1 - x);
        assert_true(value_at_position(ds, i) == x / 4);
    }
    /* known values */
    assert_float_equal(value_at_position(g, 6), 0.8413447460685429, 1e-7);
    assert_float_equal(value_at_position(gt, 6), 0.8411919906082768, 1e-7);
    ampc_tensor *list[] = {g, gt, s, r, l, c, p, rs, ds, x32, x64};
    for (size_t i = 0; i < COUNT(list); i++) ampc_tensor_free(list[i]);
}

static void test_broadcast_add_and_mixed_dtypes_promote(void **state)
{
    (void)state;
    int64_t column_shape[] = {2, 1}, row_shape[] = {3};
    double column[] = {10, 20}, row[] = {1, 2, 3};
    ampc_tensor *a = ampc_tensor_from_data(column, AMPC_F64, 2, column_shape);
    ampc_tensor *b = ampc_tensor_from_data(row, AMPC_F64, 1, row_shape);
    ampc_tensor *a16 = ampc_tensor_cast(a, AMPC_F16), *b_bf = ampc_tensor_cast(b, AMPC_BF16);
    ampc_tensor *b32 = ampc_tensor_cast(b, AMPC_F32);
    ampc_tensor *sum = ampc_add(a, b), *mixed = ampc_add(a16, b_bf), *half = ampc_mul(a16, b32);
    ampc_tensor *wide = ampc_sub(b32, a);
    double expected[] = {11, 12, 13, 21, 22, 23};
    assert_values(sum, expected, 6);
    assert_values(mixed, expected, 6);
    assert_int_equal(ampc_tensor_dtype(mixed), AMPC_F32); /* F16 with BF16 */
    assert_int_equal(ampc_tensor_dtype(half), AMPC_F32);
    assert_int_equal(ampc_tensor_dtype(wide), AMPC_F64);
    assert_int_equal(ampc_tensor_ndim(sum), 2);
    assert_int_equal(ampc_tensor_dim(sum, 0), 2);
    assert_int_equal(ampc_tensor_dim(sum, 1), 3);
    double products[] = {10, 20, 30, 20, 40, 60}, differences[] = {-9, -8, -7, -19, -18, -17};
    assert_values(half, products, 6);
    assert_values(wide, differences, 6);
    ampc_tensor *list[] = {a, b, a16, b_bf, b32, sum, mixed, half, wide};
    for (size_t i = 0; i < COUNT(list); i++) ampc_tensor_free(list[i]);
}

/* Gradients of mixed-dtype operands come back in each operand's dtype and shape. */
static void test_gradients_have_each_inputs_dtype_and_shape(void **state)
{
    (void)state;
    int64_t a_shape[] = {2, 3}, b_shape[] = {3};
    ampc_tensor *a64 = gradcheck_uniform(71, 2, a_shape, -1, 1, false);
    ampc_tensor *b64 = gradcheck_uniform(72, 1, b_shape, -1, 1, false);
    ampc_tensor *a = ampc_tensor_cast(a64, AMPC_F16), *b = ampc_tensor_cast(b64, AMPC_BF16);
    ampc_tensor_set_requires_grad(a, true);
    ampc_tensor_set_requires_grad(b, true);
    ampc_tensor *out = ampc_mul(a, b);
    assert_string_equal(ampc_tensor_grad_fn_name(out), "mul");
    backward_ones(out);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(a)), AMPC_F16);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(b)), AMPC_BF16);
    assert_int_equal(ampc_tensor_ndim(ampc_tensor_grad(b)), 1);
    for (int64_t j = 0; j < 3; j++) {
        double column_sum = value_at_position(a, j) + value_at_position(a, 3 + j);
        assert_float_equal(value_at_position(ampc_tensor_grad(b), j), column_sum,
                           fabs(column_sum) * 8e-3 + 1e-3);
    }
    ampc_tensor_free(out);
    ampc_tensor_free(a), ampc_tensor_free(b), ampc_tensor_free(a64), ampc_tensor_free(b64);
}

/* ---- kinks ---- */

static ampc_tensor *grad_at(ampc_tensor *(*fn)(const ampc_tensor *, const op_spec *),
                            const op_spec *spec, const double *xs, int64_t n)
{
    ampc_tensor *x = ampc_tensor_from_data(xs, AMPC_F64, 1, &n);
    ampc_tensor_set_requires_grad(x, true);
    ampc_tensor *out = fn(x, spec);
    backward_ones(out);
    ampc_tensor *grad = ampc_tensor_clone(ampc_tensor_grad(x));
    ampc_tensor_free(out);
    ampc_tensor_free(x);
    return grad;
}

static ampc_tensor *apply_spec(const ampc_tensor *x, const op_spec *spec)
{
    ampc_tensor *inputs[1] = {(ampc_tensor *)x};
    return run_spec(inputs, spec);
}

static void test_gradients_at_kinks_follow_pytorch(void **state)
{
    (void)state;
    double zero[] = {0.0}, bounds[] = {-0.5, 0.7, -0.6, 0.8};
    op_spec relu = {"relu", UNARY, ampc_relu, NULL, NULL, 0, 0, 0, 0, 0, 0, 0};
    op_spec absolute = {"abs", UNARY, ampc_abs, NULL, NULL, 0, 0, 0, 0, 0, 0, 0};
    op_spec sqrt_spec = {"sqrt", UNARY, ampc_sqrt, NULL, NULL, 0, 0, 0, 0, 0, 0, 0};
    op_spec leaky = {"leaky", WITH_SCALAR, NULL, ampc_leaky_relu, NULL, 0.25, 0, 0, 0, 0, 0, 0};
    op_spec clamp = {"clamp", CLAMP, NULL, NULL, NULL, -0.5, 0.7, 0, 0, 0, 0, 0};
    op_spec pow0 = {"pow0", WITH_SCALAR, NULL, ampc_pow_scalar, NULL, 0.0, 0, 0, 0, 0, 0, 0};
    ampc_tensor *g;
    g = grad_at(apply_spec, &relu, zero, 1);
    assert_true(value_at_position(g, 0) == 0.0);
    ampc_tensor_free(g);
    g = grad_at(apply_spec, &absolute, zero, 1);
    assert_true(value_at_position(g, 0) == 0.0);
    ampc_tensor_free(g);
    g = grad_at(apply_spec, &sqrt_spec, zero, 1);
    assert_true(isinf(value_at_position(g, 0)) && value_at_position(g, 0) > 0);
    ampc_tensor_free(g);
    g = grad_at(apply_spec, &leaky, zero, 1);
    assert_true(value_at_position(g, 0) == 0.25);
    ampc_tensor_free(g);
    g = grad_at(apply_spec, &clamp, bounds, 4); /* at the bounds: passes; beyond: 0 */
    double clamp_grads[] = {1, 1, 0, 0};
    assert_values(g, clamp_grads, 4);
    ampc_tensor_free(g);
    g = grad_at(apply_spec, &pow0, zero, 1); /* x^0: gradient 0, even at x = 0 */
    assert_true(value_at_position(g, 0) == 0.0);
    ampc_tensor_free(g);
}

/* ---- layout and threads ---- */

/* A large transposed and broadcast operand gives the same bits as its contiguous copy, on
 * chunk boundaries too, and the result does not depend on the thread count. */
static void test_layout_and_thread_count_do_not_change_results(void **state)
{
    (void)state;
    int64_t storage_shape[] = {257, 300}, row_shape[] = {1, 257};
    ampc_generator *generator = ampc_generator_new(81);
    ampc_tensor *storage = ampc_tensor_uniform(generator, AMPC_BF16, 2, storage_shape, -3, 3);
    ampc_tensor *row = ampc_tensor_uniform(generator, AMPC_F16, 2, row_shape, -3, 3);
    ampc_generator_free(generator);
    ampc_tensor *transposed = ampc_tensor_transpose(storage, 0, 1); /* [300, 257] */
    ampc_tensor *copy = ampc_tensor_contiguous(transposed);
    int64_t full[] = {300, 257};
    ampc_tensor *row_full = ampc_tensor_expand(row, 2, full);
    ampc_tensor *row_copy = ampc_tensor_contiguous(row_full);
    ampc_tensor *strided = ampc_mul(transposed, row), *flat = ampc_mul(copy, row_copy);
    assert_same_bits(strided, flat, "mul of a transposed BF16 and a broadcast F16 row");
    ampc_tensor *g_strided = ampc_gelu(transposed, AMPC_GELU_TANH);
    ampc_tensor *g_flat = ampc_gelu(copy, AMPC_GELU_TANH);
    assert_same_bits(g_strided, g_flat, "gelu of a transposed BF16 tensor");

    int threads = ampc_num_threads();
    assert_int_equal(ampc_set_num_threads(1), AMPC_OK);
    ampc_tensor *serial = ampc_silu(transposed);
    assert_int_equal(ampc_set_num_threads(2), AMPC_OK);
    ampc_tensor *parallel = ampc_silu(transposed);
    assert_int_equal(ampc_set_num_threads(threads), AMPC_OK);
    assert_same_bits(serial, parallel, "silu with 1 and 2 threads");
    ampc_tensor *list[] = {storage, row, transposed, copy, row_full, row_copy, strided, flat,
                           g_strided, g_flat, serial, parallel};
    for (size_t i = 0; i < COUNT(list); i++) ampc_tensor_free(list[i]);
}

/* ---- errors ---- */

static void test_errors_name_the_argument_and_what_was_expected(void **state)
{
    (void)state;
    int64_t shape_a[] = {2, 3}, shape_b[] = {4}, shape_i[] = {2};
    ampc_tensor *a = ampc_tensor_zeros(AMPC_F32, 2, shape_a);
    ampc_tensor *b = ampc_tensor_zeros(AMPC_F32, 1, shape_b);
    ampc_tensor *ints = ampc_tensor_zeros(AMPC_I32, 1, shape_i);
    ampc_tensor *mask = ampc_tensor_zeros(AMPC_BOOL, 1, shape_b);
    ampc_tensor *bad_mask = ampc_tensor_zeros(AMPC_U8, 2, shape_a);
    int64_t big_mask_shape[] = {2, 2, 3};
    ampc_tensor *big_mask = ampc_tensor_zeros(AMPC_BOOL, 3, big_mask_shape);

    assert_null(ampc_add(a, b));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "[2, 3] and [4]");
    assert_null(ampc_where(mask, a, a));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "do not broadcast");
    assert_null(ampc_exp(ints));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "a has dtype I32; expected F64, F32, F16 or BF16");
    assert_null(ampc_mul(a, ints));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "b has dtype I32");
    assert_null(ampc_exp(NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_exp: argument a is NULL");
    assert_null(ampc_add(a, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "b");
    assert_null(ampc_masked_fill(a, bad_mask, 1.0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "mask has dtype U8; expected BOOL");
    assert_null(ampc_masked_fill(a, mask, 1.0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "[2, 3] and [4]");
    assert_null(ampc_masked_fill(a, big_mask, 1.0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "mask of shape [2, 2, 3] does not broadcast to a's");
    assert_null(ampc_where(a, a, a));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "condition has dtype F32; expected BOOL");
    assert_null(ampc_where(NULL, a, a));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "condition");
    assert_null(ampc_clamp(a, NAN, 1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "not NaN");
    assert_null(ampc_gelu(a, (ampc_gelu_approximate)7));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "approximate 7");
    assert_null(ampc_pow_scalar(ints, 2));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_pow_scalar: a has dtype I32");
    ampc_tensor *list[] = {a, b, ints, mask, bad_mask, big_mask};
    for (size_t i = 0; i < COUNT(list); i++) ampc_tensor_free(list[i]);
}

static void test_results_record_only_when_grad_is_needed(void **state)
{
    (void)state;
    int64_t shape[] = {2};
    ampc_tensor *x = ampc_tensor_ones(AMPC_F32, 1, shape);
    ampc_tensor *plain = ampc_exp(x);
    assert_false(ampc_tensor_requires_grad(plain));
    assert_null(ampc_tensor_grad_fn_name(plain));
    ampc_tensor_set_requires_grad(x, true);
    ampc_tensor *recorded = ampc_sub_scalar(x, 1.0);
    assert_true(ampc_tensor_requires_grad(recorded));
    assert_string_equal(ampc_tensor_grad_fn_name(recorded), "sub_scalar");
    bool previous = ampc_grad_set_enabled(false);
    ampc_tensor *inference = ampc_gelu(x, AMPC_GELU_NONE);
    ampc_grad_set_enabled(previous);
    assert_false(ampc_tensor_requires_grad(inference));
    ampc_tensor_free(plain), ampc_tensor_free(recorded), ampc_tensor_free(inference);
    ampc_tensor_free(x);
}

int main(void)
{
    int skip = ampc_test_require_isa();
    if (skip) return skip;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unary_gradients_match_finite_differences),
        cmocka_unit_test(test_binary_gradients_match_finite_differences_with_broadcasting),
        cmocka_unit_test(test_masked_fill_gradient_is_zero_where_masked),
        cmocka_unit_test(test_where_gradient_flows_to_the_chosen_side),
        cmocka_unit_test(test_every_op_in_f32_f16_bf16_matches_f64),
        cmocka_unit_test(test_half_precision_computes_in_fp32_and_rounds_once),
        cmocka_unit_test(test_forward_values_match_formulas_in_double),
        cmocka_unit_test(test_broadcast_add_and_mixed_dtypes_promote),
        cmocka_unit_test(test_gradients_have_each_inputs_dtype_and_shape),
        cmocka_unit_test(test_gradients_at_kinks_follow_pytorch),
        cmocka_unit_test(test_layout_and_thread_count_do_not_change_results),
        cmocka_unit_test(test_errors_name_the_argument_and_what_was_expected),
        cmocka_unit_test(test_results_record_only_when_grad_is_needed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
