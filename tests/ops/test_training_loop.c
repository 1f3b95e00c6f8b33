/* Whole training loops built from every op family, run the way a C user runs them: long-lived
 * parameters, one arena per step, ampc_backward, a plain SGD update. They pin down that the
 * families compose, that the loss goes down, that mixed precision returns fp32 gradients to
 * fp32 masters, and that 10,000 steps keep memory exactly flat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include <ampc/ampc.h>

#include "../tensor/tensor_testing.h"

#define MAX_PARAMS 8

typedef struct model {
    ampc_tensor *params[MAX_PARAMS];
    int count;
} model;

static ampc_tensor *add_param(model *m, ampc_generator *generator, int ndim,
                              const int64_t *shape, double scale)
{
    ampc_tensor *param = ampc_tensor_uniform(generator, AMPC_F32, ndim, shape, -scale, scale);
    assert_non_null(param);
    assert_int_equal(ampc_tensor_set_requires_grad(param, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_category(param, AMPC_MEMORY_PARAMETERS), AMPC_OK);
    m->params[m->count++] = param;
    return param;
}

static ampc_tensor *add_constant(model *m, int ndim, const int64_t *shape, double value)
{
    ampc_tensor *param = ampc_tensor_full(AMPC_F32, ndim, shape, value);
    assert_int_equal(ampc_tensor_set_requires_grad(param, true), AMPC_OK);
    m->params[m->count++] = param;
    return param;
}

/* param -= lr * grad, then the gradient goes back to none (PyTorch's default zero_grad). */
static void sgd_step(model *m, float lr)
{
    for (int index = 0; index < m->count; index++) {
        ampc_tensor *param = m->params[index];
        const ampc_tensor *grad = ampc_tensor_grad(param);
        assert_non_null(grad);
        assert_int_equal(ampc_tensor_dtype(grad), AMPC_F32);
        float *values = ampc_tensor_data(param);
        const float *gradient = ampc_tensor_data(grad);
        for (int64_t i = 0; i < ampc_tensor_numel(param); i++) values[i] -= lr * gradient[i];
        assert_int_equal(ampc_tensor_zero_grad(param, true), AMPC_OK);
    }
}

static void free_model(model *m)
{
    for (int index = 0; index < m->count; index++) ampc_tensor_free(m->params[index]);
}

static double scalar_value(const ampc_tensor *tensor)
{
    double value;
    assert_int_equal(ampc_tensor_get(tensor, NULL, &value), AMPC_OK);
    return value;
}

static ampc_tensor *labels(int64_t n, int64_t classes)
{
    ampc_tensor *target = ampc_tensor_empty(AMPC_I64, 1, &n);
    int64_t *values = ampc_tensor_data(target);
    for (int64_t i = 0; i < n; i++) values[i] = (i * 7 + 3) % classes;
    return target;
}

/* Runs `steps` steps of step_loss in a fresh arena; checks the footprint never moves after
 * the first step, and returns the first and last losses. */
typedef ampc_tensor *(*loss_fn)(const model *m, const void *batch);

static void train(model *m, loss_fn step_loss, const void *batch, int steps, float lr,
                  double *first_loss, double *last_loss)
{
    ampc_arena *arena = ampc_arena_new();
    size_t capacity = 0, gradient_bytes = 0, parameter_bytes = 0;
    for (int step = 0; step < steps; step++) {
        assert_int_equal(ampc_arena_enter(arena), AMPC_OK);
        ampc_tensor *loss = step_loss(m, batch);
        if (!loss) fail_msg("step %d: %s", step, ampc_error_message());
        double value = scalar_value(loss);
        if (step == 0) *first_loss = value;
        *last_loss = value;
        assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
        assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
        if (step == 0) gradient_bytes = live_bytes(AMPC_MEMORY_GRADIENTS);
        assert_int_equal(live_bytes(AMPC_MEMORY_GRADIENTS), gradient_bytes);
        sgd_step(m, lr);
        assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
        assert_int_equal(live_bytes(AMPC_MEMORY_ACTIVATIONS), 0);
        if (step == 0) {
            capacity = ampc_arena_capacity(arena);
            parameter_bytes = live_bytes(AMPC_MEMORY_PARAMETERS);
        }
        assert_int_equal(ampc_arena_capacity(arena), capacity);
        assert_int_equal(live_bytes(AMPC_MEMORY_PARAMETERS), parameter_bytes);
    }
    ampc_arena_free(arena);
}

/* --- an MLP: linear, layer_norm, gelu, linear, cross_entropy -------------------------------- */

typedef struct mlp_batch {
    ampc_tensor *x;      /* (8, 16) */
    ampc_tensor *target; /* (8) */
    ampc_dtype dtype;    /* what the forward computes in; masters stay F32 */
} mlp_batch;

static ampc_tensor *mlp_loss(const model *m, const void *context)
{
    const mlp_batch *batch = context;
    ampc_tensor *w[MAX_PARAMS];
    for (int index = 0; index < m->count; index++) w[index] = ampc_cast(m->params[index], batch->dtype);
    ampc_tensor *x = ampc_cast(batch->x, batch->dtype);
    ampc_tensor *hidden = ampc_linear(x, w[0], w[1]);
    ampc_tensor *normed = ampc_layer_norm(hidden, 1, w[2], w[3], 1e-5);
    ampc_tensor *active = ampc_gelu(normed, AMPC_GELU_TANH);
    ampc_tensor *logits = ampc_linear(active, w[4], w[5]);
    return ampc_cross_entropy(logits, batch->target, NULL); /* arena tensors: no frees */
}

static void build_mlp(model *m, ampc_generator *generator)
{
    int64_t w1[] = {32, 16}, b1[] = {32}, w2[] = {4, 32}, b2[] = {4};
    add_param(m, generator, 2, w1, 0.25);
    add_param(m, generator, 1, b1, 0.25);
    add_constant(m, 1, b1, 1.0); /* layer_norm weight */
    add_constant(m, 1, b1, 0.0); /* layer_norm bias */
    add_param(m, generator, 2, w2, 0.18);
    add_param(m, generator, 1, b2, 0.18);
}

static void run_mlp(ampc_dtype dtype, int steps, double expected_ratio)
{
    ampc_generator *generator = ampc_generator_new(11);
    model m = {0};
    build_mlp(&m, generator);
    int64_t x_shape[] = {8, 16};
    mlp_batch batch = {.x = ampc_tensor_randn(generator, AMPC_F32, 2, x_shape),
                       .target = labels(8, 4), .dtype = dtype};
    double first, last;
    train(&m, mlp_loss, &batch, steps, 0.1f, &first, &last);
    if (!(last < expected_ratio * first))
        fail_msg("%s: loss went from %g to %g; expected below %g", ampc_dtype_name(dtype), first,
                 last, expected_ratio * first);
    ampc_tensor_free(batch.x);
    ampc_tensor_free(batch.target);
    free_model(&m);
    ampc_generator_free(generator);
}

static void test_mlp_ten_thousand_steps_learn_with_flat_memory(void **state)
{
    (void)state;
    run_mlp(AMPC_F32, 10000, 0.01);
}

static void test_mixed_precision_mlp_learns_with_fp32_master_gradients(void **state)
{
    (void)state;
    run_mlp(AMPC_BF16, 1000, 0.1);
    run_mlp(AMPC_F16, 1000, 0.1);
}

/* --- a CNN: conv2d, batch_norm, relu, max_pool2d, flatten, linear, cross_entropy ------------ */

typedef struct cnn_batch {
    ampc_tensor *x;      /* (4, 1, 8, 8) */
    ampc_tensor *target; /* (4) */
    ampc_tensor *running_mean, *running_var;
} cnn_batch;

static ampc_tensor *cnn_loss(const model *m, const void *context)
{
    const cnn_batch *batch = context;
    ampc_conv2d_options conv = ampc_conv2d_defaults();
    conv.padding[0] = conv.padding[1] = 1;
    ampc_pool2d_options pool = ampc_pool2d_defaults(2, 2);
    ampc_tensor *features = ampc_conv2d(batch->x, m->params[0], m->params[1], &conv);
    ampc_tensor *normed = ampc_batch_norm(features, batch->running_mean, batch->running_var,
                                          m->params[2], m->params[3], true, 0.1, 1e-5);
    ampc_tensor *pooled = ampc_max_pool2d(ampc_relu(normed), &pool);
    ampc_tensor *logits = ampc_linear(ampc_flatten(pooled, 1, -1), m->params[4], m->params[5]);
    return ampc_cross_entropy(logits, batch->target, NULL);
}

static void test_cnn_learns_with_flat_memory(void **state)
{
    (void)state;
    ampc_generator *generator = ampc_generator_new(5);
    model m = {0};
    int64_t conv_w[] = {4, 1, 3, 3}, channels[] = {4}, fc_w[] = {3, 64}, fc_b[] = {3};
    add_param(&m, generator, 4, conv_w, 0.3);
    add_param(&m, generator, 1, channels, 0.1);
    add_constant(&m, 1, channels, 1.0);
    add_constant(&m, 1, channels, 0.0);
    add_param(&m, generator, 2, fc_w, 0.12);
    add_param(&m, generator, 1, fc_b, 0.12);
    int64_t x_shape[] = {4, 1, 8, 8};
    cnn_batch batch = {.x = ampc_tensor_randn(generator, AMPC_F32, 4, x_shape),
                       .target = labels(4, 3),
                       .running_mean = ampc_tensor_zeros(AMPC_F32, 1, channels),
                       .running_var = ampc_tensor_ones(AMPC_F32, 1, channels)};
    double first, last;
    train(&m, cnn_loss, &batch, 300, 0.05f, &first, &last);
    if (!(last < 0.1 * first)) fail_msg("loss went from %g to %g", first, last);
    /* The running statistics moved towards the batch's (they started at 0 and 1). */
    double mean0;
    assert_int_equal(ampc_tensor_get(batch.running_mean, (int64_t[]){0}, &mean0), AMPC_OK);
    assert_true(mean0 != 0);
    ampc_tensor_free(batch.x);
    ampc_tensor_free(batch.target);
    ampc_tensor_free(batch.running_mean);
    ampc_tensor_free(batch.running_var);
    free_model(&m);
    ampc_generator_free(generator);
}

/* --- attention: embedding, causal attention, dropout, mse_loss ------------------------------ */

typedef struct attention_batch {
    ampc_tensor *tokens;    /* (2, 5) I64 */
    ampc_tensor *target;    /* (2, 5, 8) */
    ampc_generator *dropout;
} attention_batch;

static ampc_tensor *attention_loss(const model *m, const void *context)
{
    const attention_batch *batch = context;
    ampc_tensor *embedded = ampc_embedding(batch->tokens, m->params[0], -1);
    ampc_tensor *queries = ampc_linear(embedded, m->params[1], NULL);
    ampc_tensor *attended =
        ampc_scaled_dot_product_attention(queries, embedded, embedded, true, 0);
    ampc_tensor *dropped = ampc_dropout(attended, 0.1, true, batch->dropout);
    return ampc_mse_loss(dropped, batch->target, AMPC_REDUCTION_MEAN);
}

static void test_attention_block_learns_with_flat_memory(void **state)
{
    (void)state;
    ampc_generator *generator = ampc_generator_new(9);
    model m = {0};
    int64_t table[] = {10, 8}, projection[] = {8, 8}, target_shape[] = {2, 5, 8};
    add_param(&m, generator, 2, table, 1.0);
    add_param(&m, generator, 2, projection, 0.3);
    int64_t token_shape[] = {2, 5};
    ampc_tensor *tokens = ampc_tensor_empty(AMPC_I64, 2, token_shape);
    int64_t *token_values = ampc_tensor_data(tokens);
    for (int i = 0; i < 10; i++) token_values[i] = (i * 3) % 10;
    attention_batch batch = {.tokens = tokens,
                             .target = ampc_tensor_uniform(generator, AMPC_F32, 3, target_shape,
                                                           -0.5, 0.5),
                             .dropout = ampc_generator_new(1)};
    double first, last;
    train(&m, attention_loss, &batch, 500, 0.2f, &first, &last);
    if (!(last < 0.5 * first)) fail_msg("loss went from %g to %g", first, last);
    ampc_generator_free(batch.dropout);
    ampc_tensor_free(batch.target);
    ampc_tensor_free(tokens);
    free_model(&m);
    ampc_generator_free(generator);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_ten_thousand_steps_learn_with_flat_memory),
        cmocka_unit_test(test_mixed_precision_mlp_learns_with_fp32_master_gradients),
        cmocka_unit_test(test_cnn_learns_with_flat_memory),
        cmocka_unit_test(test_attention_block_learns_with_flat_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
