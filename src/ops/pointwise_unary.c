/* The unary pointwise ops and the ops with a scalar operand: validation, then one table row
 * each saying how the gradient is made (pointwise_rules.h). The kernels are in
 * src/kernels/pointwise_*.c; the gradient of f(x) is f's backward kernel on (dout, x), or for
 * the linear ops a kernel on dout alone. */
#include <ampc/ops_pointwise.h>

#include <math.h>

#include "core/error.h"
#include "ops/op_support.h"
#include "ops/pointwise_rules.h"

/* Gradient kernels reading (dout, x) with the forward's scalars; or dout alone. */
#define FROM_DOUT_AND_X(backward_op) {{backward_op, 2, {AMPC_PW_DOUT, 0}, false, 0.0}}
#define FROM_DOUT(backward_op) {{backward_op, 1, {AMPC_PW_DOUT}, false, 0.0}}
#define DOUT_TIMES(value) {{AMPC_PW_MUL_SCALAR, 1, {AMPC_PW_DOUT}, true, value}}

/* clang-format off */
static const ampc_pointwise_rules unary_rules[AMPC_PW_POW_SCALAR + 1] = {
    [AMPC_PW_NEG] = {"neg", 1, FROM_DOUT(AMPC_PW_NEG)},
    [AMPC_PW_EXP] = {"exp", 1, FROM_DOUT_AND_X(AMPC_PW_EXP_BACKWARD)},
    [AMPC_PW_LOG] = {"log", 1, FROM_DOUT_AND_X(AMPC_PW_LOG_BACKWARD)},
    [AMPC_PW_SQRT] = {"sqrt", 1, FROM_DOUT_AND_X(AMPC_PW_SQRT_BACKWARD)},
    [AMPC_PW_RSQRT] = {"rsqrt", 1, FROM_DOUT_AND_X(AMPC_PW_RSQRT_BACKWARD)},
    [AMPC_PW_ABS] = {"abs", 1, FROM_DOUT_AND_X(AMPC_PW_ABS_BACKWARD)},
    [AMPC_PW_CLAMP] = {"clamp", 1, FROM_DOUT_AND_X(AMPC_PW_CLAMP_BACKWARD)},
    [AMPC_PW_RELU] = {"relu", 1, FROM_DOUT_AND_X(AMPC_PW_RELU_BACKWARD)},
    [AMPC_PW_LEAKY_RELU] = {"leaky_relu", 1, FROM_DOUT_AND_X(AMPC_PW_LEAKY_RELU_BACKWARD)},
    [AMPC_PW_GELU] = {"gelu", 1, FROM_DOUT_AND_X(AMPC_PW_GELU_BACKWARD)},
    [AMPC_PW_GELU_TANH] = {"gelu", 1, FROM_DOUT_AND_X(AMPC_PW_GELU_TANH_BACKWARD)},
    [AMPC_PW_SILU] = {"silu", 1, FROM_DOUT_AND_X(AMPC_PW_SILU_BACKWARD)},
    [AMPC_PW_SIGMOID] = {"sigmoid", 1, FROM_DOUT_AND_X(AMPC_PW_SIGMOID_BACKWARD)},
    [AMPC_PW_TANH] = {"tanh", 1, FROM_DOUT_AND_X(AMPC_PW_TANH_BACKWARD)},
    [AMPC_PW_ADD_SCALAR] = {"add_scalar", 1, DOUT_TIMES(1.0)},
    [AMPC_PW_MUL_SCALAR] = {"mul_scalar", 1, FROM_DOUT(AMPC_PW_MUL_SCALAR)},
    [AMPC_PW_DIV_SCALAR] = {"div_scalar", 1, FROM_DOUT(AMPC_PW_DIV_SCALAR)},
    [AMPC_PW_RSUB_SCALAR] = {"rsub_scalar", 1, FROM_DOUT(AMPC_PW_NEG)},
    [AMPC_PW_POW_SCALAR] = {"pow_scalar", 1, FROM_DOUT_AND_X(AMPC_PW_POW_SCALAR_BACKWARD)},
};
/* a - value runs as a + (-value), which IEEE makes the same operation; only the name differs */
static const ampc_pointwise_rules sub_scalar_rules = {"sub_scalar", 1, DOUT_TIMES(1.0)};
/* clang-format on */

static ampc_tensor *unary(const char *function, const ampc_pointwise_rules *rules,
                          ampc_pointwise_op op, const ampc_tensor *a, double s0, double s1)
{
    if (ampc_check_float_tensor(function, "a", a) != AMPC_OK) return NULL;
    ampc_pointwise_call call = {.op = op, .scalars = {s0, s1}, .num_inputs = 1,
                                .inputs = {a}, .out_dtype = ampc_tensor_dtype(a),
                                .ndim = ampc_tensor_ndim(a), .shape = ampc_tensor_shape(a)};
    bool reads_x = rules->gradients[0].num_operands > 1;
    const ampc_tensor *inputs[1] = {a};
    return ampc_pointwise_forward(function, &call, rules, inputs, reads_x ? 1 : 0, inputs);
}

#define UNARY(function, op, s0, s1) unary(function, &unary_rules[op], op, a, s0, s1)

ampc_tensor *ampc_neg(const ampc_tensor *a) { return UNARY(__func__, AMPC_PW_NEG, 0, 0); }
ampc_tensor *ampc_exp(const ampc_tensor *a) { return UNARY(__func__, AMPC_PW_EXP, 0, 0); }
ampc_tensor *ampc_log(const ampc_tensor *a) { return UNARY(__func__, AMPC_PW_LOG, 0, 0); }
ampc_tensor *ampc_sqrt(const ampc_tensor *a) { return UNARY(__func__, AMPC_PW_SQRT, 0, 0); }
ampc_tensor *ampc_rsqrt(const ampc_tensor *a) { return UNARY(__func__, AMPC_PW_RSQRT, 0, 0); }
ampc_tensor *ampc_abs(const ampc_tensor *a) { return UNARY(__func__, AMPC_PW_ABS, 0, 0); }
ampc_tensor *ampc_relu(const ampc_tensor *a) { return UNARY(__func__, AMPC_PW_RELU, 0, 0); }
ampc_tensor *ampc_silu(const ampc_tensor *a) { return UNARY(__func__, AMPC_PW_SILU, 0, 0); }
ampc_tensor *ampc_tanh(const ampc_tensor *a) { return UNARY(__func__, AMPC_PW_TANH, 0, 0); }

ampc_tensor *ampc_sigmoid(const ampc_tensor *a)
{
    return UNARY(__func__, AMPC_PW_SIGMOID, 0, 0);
}

ampc_tensor *ampc_clamp(const ampc_tensor *a, double min, double max)
{
    if (ampc_check_float_tensor(__func__, "a", a) != AMPC_OK) return NULL;
    if (isnan(min) || isnan(max)) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "min %g and max %g: expected numbers (-INFINITY or INFINITY for no bound), "
                  "not NaN", min, max);
        return NULL;
    }
    return UNARY(__func__, AMPC_PW_CLAMP, min, max);
}

ampc_tensor *ampc_leaky_relu(const ampc_tensor *a, double negative_slope)
{
    return UNARY(__func__, AMPC_PW_LEAKY_RELU, negative_slope, 0);
}

ampc_tensor *ampc_gelu(const ampc_tensor *a, ampc_gelu_approximate approximate)
{
    switch (approximate) {
    case AMPC_GELU_NONE: return UNARY(__func__, AMPC_PW_GELU, 0, 0);
    case AMPC_GELU_TANH: return UNARY(__func__, AMPC_PW_GELU_TANH, 0, 0);
    default:
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "approximate %d is not AMPC_GELU_NONE (0) or AMPC_GELU_TANH (1)",
                  (int)approximate);
        return NULL;
    }
}

ampc_tensor *ampc_add_scalar(const ampc_tensor *a, double value)
{
    return UNARY(__func__, AMPC_PW_ADD_SCALAR, value, 0);
}

ampc_tensor *ampc_sub_scalar(const ampc_tensor *a, double value)
{
    return unary(__func__, &sub_scalar_rules, AMPC_PW_ADD_SCALAR, a, -value, 0);
}

ampc_tensor *ampc_mul_scalar(const ampc_tensor *a, double value)
{
    return UNARY(__func__, AMPC_PW_MUL_SCALAR, value, 0);
}

ampc_tensor *ampc_div_scalar(const ampc_tensor *a, double value)
{
    return UNARY(__func__, AMPC_PW_DIV_SCALAR, value, 0);
}

ampc_tensor *ampc_rsub_scalar(const ampc_tensor *a, double value)
{
    return UNARY(__func__, AMPC_PW_RSUB_SCALAR, value, 0);
}

ampc_tensor *ampc_pow_scalar(const ampc_tensor *a, double exponent)
{
    return UNARY(__func__, AMPC_PW_POW_SCALAR, exponent, 0);
}
