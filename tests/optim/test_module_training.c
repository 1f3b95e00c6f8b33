/* The optimizers on real modules (ampc/nn.h): a flattened model, whose parameters are views
 * into one block with gradients pinned into another, trains to the same bits as the same
 * model with separate parameters, for every optimizer, and its loss goes down. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../tensor/tensor_testing.h"
#include "optim_testing.h"

enum { BATCH = 16, IN = 6, HIDDEN = 12, OUT = 3, STEPS = 20 };

static ampc_module *make_model(void)
{
    ampc_generator *generator = ampc_generator_new(7);
    ampc_module *layers[] = {ampc_linear_new(IN, HIDDEN, true, generator), ampc_relu_new(),
                             ampc_linear_new(HIDDEN, OUT, true, generator)};
    ampc_module *model = ampc_sequential_new(3, layers);
    ampc_generator_free(generator);
    assert_non_null(model);
    return model;
}

static ampc_optimizer *make_optimizer(int kind, ampc_module *model)
{
    int count = ampc_module_num_parameters(model);
    ampc_tensor *params[8];
    assert_true(count <= 8);
    for (int index = 0; index < count; index++)
        params[index] = ampc_module_parameter(model, index);
    if (kind == 0)
        return ampc_sgd_new(params, count, &(ampc_sgd_options){.lr = 0.05, .momentum = 0.9,
                                                               .nesterov = true});
    ampc_adam_options options = kind == 1 ? ampc_adam_defaults() : ampc_adamw_defaults();
    options.lr = 0.01;
    options.amsgrad = kind == 2;
    return kind == 1 ? ampc_adam_new(params, count, &options)
                     : ampc_adamw_new(params, count, &options);
}

/* Trains STEPS steps of MSE regression on fixed data; returns the first and last loss. */
static void train(ampc_module *model, ampc_optimizer *optimizer, double *first, double *last)
{
    double x[BATCH * IN], y[BATCH * OUT];
    for (int i = 0; i < BATCH * IN; i++) x[i] = wave(i, 0, 1.0);
    for (int i = 0; i < BATCH * OUT; i++) y[i] = wave(i, 5, 0.5);
    ampc_tensor *input = ampc_tensor_from_data(x, AMPC_F64, 2, (int64_t[]){BATCH, IN});
    ampc_tensor *target = ampc_tensor_from_data(y, AMPC_F64, 2, (int64_t[]){BATCH, OUT});
    ampc_tensor *input32 = ampc_tensor_cast(input, AMPC_F32);
    ampc_tensor *target32 = ampc_tensor_cast(target, AMPC_F32);
    ampc_arena *arena = ampc_arena_new();
    for (int step = 0; step < STEPS; step++) {
        assert_int_equal(ampc_arena_enter(arena), AMPC_OK);
        ampc_tensor *loss = ampc_mse_loss(ampc_module_forward(model, input32), target32,
                                          AMPC_REDUCTION_MEAN);
        assert_int_equal(ampc_optimizer_zero_grad(optimizer, true), AMPC_OK);
        assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
        double value;
        assert_int_equal(ampc_tensor_get(loss, NULL, &value), AMPC_OK);
        if (step == 0) *first = value;
        *last = value;
        assert_int_equal(ampc_optimizer_step(optimizer), AMPC_OK);
        assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
        assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
    }
    ampc_arena_free(arena);
    ampc_tensor_free(input);
    ampc_tensor_free(target);
    ampc_tensor_free(input32);
    ampc_tensor_free(target32);
}

static void test_flat_module_trains_bitwise_like_separate_parameters(void **state)
{
    (void)state;
    for (int kind = 0; kind < 3; kind++) {
        ampc_module *separate = make_model(), *flat = make_model();
        assert_int_equal(ampc_module_flatten(flat), AMPC_OK);
        ampc_optimizer *separate_optimizer = make_optimizer(kind, separate);
        ampc_optimizer *flat_optimizer = make_optimizer(kind, flat);
        assert_non_null(separate_optimizer);
        assert_non_null(flat_optimizer);
        double first, last, flat_first, flat_last;
        train(separate, separate_optimizer, &first, &last);
        train(flat, flat_optimizer, &flat_first, &flat_last);
        assert_true(last < 0.7 * first);
        assert_true(flat_first == first && flat_last == last);
        for (int index = 0; index < ampc_module_num_parameters(flat); index++) {
            ampc_tensor *a = ampc_module_parameter(separate, index);
            ampc_tensor *b = ampc_module_parameter(flat, index);
            assert_memory_equal(ampc_tensor_data(a), ampc_tensor_data(b),
                                ampc_tensor_nbytes(a));
        }
        ampc_optimizer_free(separate_optimizer);
        ampc_optimizer_free(flat_optimizer);
        ampc_module_free(separate);
        ampc_module_free(flat);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flat_module_trains_bitwise_like_separate_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
