/* The broadcasting pointwise ops: add, sub, mul, div, pow, where, and masked_fill. Each
 * validates its operands, works out the result's shape (NumPy broadcasting) and dtype
 * (ampc_promote_float), and is one row of gradient rules (pointwise_rules.h); the gradients
 * of broadcast operands are summed back to their shapes by the engine. */
#include <ampc/ops_pointwise.h>

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "ops/op_support.h"
#include "ops/pointwise_rules.h"
#include "tensor/tensor_internal.h"

enum { SAVED_A = 0, SAVED_B = 1, SAVED_MASK = 0 };

#define GRADIENT(op, ...) {op, AMPC_PW_NUM_ARGS(__VA_ARGS__), {__VA_ARGS__}, false, 0.0}
#define AMPC_PW_NUM_ARGS(...) ((int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int)))
#define DOUT_COPY {AMPC_PW_MUL_SCALAR, 1, {AMPC_PW_DOUT}, true, 1.0}
#define DOUT_NEGATED {AMPC_PW_NEG, 1, {AMPC_PW_DOUT}, false, 0.0}
#define DOUT_WHERE_NOT_MASKED {AMPC_PW_MASKED_FILL, 2, {AMPC_PW_DOUT, SAVED_MASK}, true, 0.0}
#define DOUT_WHERE_MASKED {AMPC_PW_MASK_KEEP, 2, {AMPC_PW_DOUT, SAVED_MASK}, false, 0.0}

/* clang-format off */
static const ampc_pointwise_rules add_rules = {"add", 2, {DOUT_COPY, DOUT_COPY}};
static const ampc_pointwise_rules sub_rules = {"sub", 2, {DOUT_COPY, DOUT_NEGATED}};
static const ampc_pointwise_rules mul_rules = {"mul", 2, {
    GRADIENT(AMPC_PW_MUL, AMPC_PW_DOUT, SAVED_B),
    GRADIENT(AMPC_PW_MUL, AMPC_PW_DOUT, SAVED_A)}};
static const ampc_pointwise_rules div_rules = {"div", 2, {
    GRADIENT(AMPC_PW_DIV, AMPC_PW_DOUT, SAVED_B),
    GRADIENT(AMPC_PW_DIV_BACKWARD_B, AMPC_PW_DOUT, SAVED_A, SAVED_B)}};
static const ampc_pointwise_rules pow_rules = {"pow", 2, {
    GRADIENT(AMPC_PW_POW_BACKWARD_A, AMPC_PW_DOUT, SAVED_A, SAVED_B),
    GRADIENT(AMPC_PW_POW_BACKWARD_B, AMPC_PW_DOUT, SAVED_A, SAVED_B)}};
/* where's inputs are a and b (the condition takes no gradient); masked_fill's is a */
static const ampc_pointwise_rules where_rules = {"where", 2, {
    DOUT_WHERE_MASKED, DOUT_WHERE_NOT_MASKED}};
static const ampc_pointwise_rules masked_fill_rules = {"masked_fill", 1, {
    DOUT_WHERE_NOT_MASKED}};
/* clang-format on */

static ampc_tensor *binary(const char *function, const ampc_pointwise_rules *rules,
                           ampc_pointwise_op op, const ampc_tensor *a, const ampc_tensor *b)
{
    if (ampc_check_float_tensor(function, "a", a) != AMPC_OK ||
        ampc_check_float_tensor(function, "b", b) != AMPC_OK)
        return NULL;
    int ndim;
    int64_t shape[AMPC_MAX_DIMS];
    if (ampc_broadcast_shapes(function, a->ndim, a->shape, b->ndim, b->shape, &ndim, shape) !=
        AMPC_OK)
        return NULL;
    ampc_pointwise_call call = {.op = op, .num_inputs = 2, .inputs = {a, b},
                                .out_dtype = ampc_promote_float(a->dtype, b->dtype),
                                .ndim = ndim, .shape = shape};
    const ampc_tensor *operands[2] = {a, b};
    bool reads_operands = op != AMPC_PW_ADD && op != AMPC_PW_SUB;
    return ampc_pointwise_forward(function, &call, rules, operands, reads_operands ? 2 : 0,
                                  operands);
}

ampc_tensor *ampc_add(const ampc_tensor *a, const ampc_tensor *b)
{
    return binary(__func__, &add_rules, AMPC_PW_ADD, a, b);
}

ampc_tensor *ampc_sub(const ampc_tensor *a, const ampc_tensor *b)
{
    return binary(__func__, &sub_rules, AMPC_PW_SUB, a, b);
}

ampc_tensor *ampc_mul(const ampc_tensor *a, const ampc_tensor *b)
{
    return binary(__func__, &mul_rules, AMPC_PW_MUL, a, b);
}

ampc_tensor *ampc_div(const ampc_tensor *a, const ampc_tensor *b)
{
    return binary(__func__, &div_rules, AMPC_PW_DIV, a, b);
}

ampc_tensor *ampc_pow(const ampc_tensor *a, const ampc_tensor *b)
{
    return binary(__func__, &pow_rules, AMPC_PW_POW, a, b);
}

static ampc_status check_bool_tensor(const char *function, const char *argument,
                                     const ampc_tensor *tensor)
{
    if (!tensor) return ampc_fail_null(function, argument);
    if (tensor->dtype == AMPC_BOOL) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "%s has dtype %s; expected BOOL",
                     argument, ampc_dtype_name(tensor->dtype));
}

ampc_tensor *ampc_masked_fill(const ampc_tensor *a, const ampc_tensor *mask, double value)
{
    if (ampc_check_float_tensor(__func__, "a", a) != AMPC_OK ||
        check_bool_tensor(__func__, "mask", mask) != AMPC_OK)
        return NULL;
    int ndim;
    int64_t shape[AMPC_MAX_DIMS];
    if (ampc_broadcast_shapes(__func__, a->ndim, a->shape, mask->ndim, mask->shape, &ndim,
                              shape) != AMPC_OK)
        return NULL;
    if (ampc_shape_numel(ndim, shape) != ampc_tensor_numel(a) || ndim != a->ndim) {
        char mask_text[AMPC_SHAPE_TEXT_CAPACITY], a_text[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(mask_text, sizeof mask_text, mask->ndim, mask->shape);
        ampc_format_shape(a_text, sizeof a_text, a->ndim, a->shape);
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "mask of shape %s does not broadcast to a's shape %s (the result keeps a's "
                  "shape)", mask_text, a_text);
        return NULL;
    }
    ampc_pointwise_call call = {.op = AMPC_PW_MASKED_FILL, .scalars = {value, 0},
                                .num_inputs = 2, .inputs = {a, mask}, .out_dtype = a->dtype,
                                .ndim = a->ndim, .shape = a->shape};
    const ampc_tensor *inputs[1] = {a}, *saved[1] = {mask};
    return ampc_pointwise_forward(__func__, &call, &masked_fill_rules, inputs, 1, saved);
}

ampc_tensor *ampc_where(const ampc_tensor *condition, const ampc_tensor *a,
                        const ampc_tensor *b)
{
    if (check_bool_tensor(__func__, "condition", condition) != AMPC_OK ||
        ampc_check_float_tensor(__func__, "a", a) != AMPC_OK ||
        ampc_check_float_tensor(__func__, "b", b) != AMPC_OK)
        return NULL;
    int ab_ndim, ndim;
    int64_t ab_shape[AMPC_MAX_DIMS], shape[AMPC_MAX_DIMS];
    if (ampc_broadcast_shapes(__func__, a->ndim, a->shape, b->ndim, b->shape, &ab_ndim,
                              ab_shape) != AMPC_OK ||
        ampc_broadcast_shapes(__func__, condition->ndim, condition->shape, ab_ndim, ab_shape,
                              &ndim, shape) != AMPC_OK)
        return NULL;
    ampc_pointwise_call call = {.op = AMPC_PW_WHERE, .num_inputs = 3,
                                .inputs = {condition, a, b},
                                .out_dtype = ampc_promote_float(a->dtype, b->dtype),
                                .ndim = ndim, .shape = shape};
    const ampc_tensor *inputs[2] = {a, b}, *saved[1] = {condition};
    return ampc_pointwise_forward(__func__, &call, &where_rules, inputs, 1, saved);
}
