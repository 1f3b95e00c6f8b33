/* The standard MLP trained from PyTorch's initial weights on the 20 golden Fashion-MNIST
 * batches reproduces PyTorch's loss at every step and its final weights, with SGD (momentum)
 * and AdamW, in f32 and f64 (see golden.h for the recipe and tolerances). */
#include "golden.h"

static void test_mlp_sgd_momentum_f32_matches_pytorch_every_step(void **state)
{
    (void)state;
    golden_run("mlp", "sgd", AMPC_F32);
}

static void test_mlp_sgd_momentum_f64_matches_pytorch_every_step(void **state)
{
    (void)state;
    golden_run("mlp", "sgd", AMPC_F64);
}

static void test_mlp_adamw_f32_matches_pytorch_every_step(void **state)
{
    (void)state;
    golden_run("mlp", "adamw", AMPC_F32);
}

static void test_mlp_adamw_f64_matches_pytorch_every_step(void **state)
{
    (void)state;
    golden_run("mlp", "adamw", AMPC_F64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_sgd_momentum_f32_matches_pytorch_every_step),
        cmocka_unit_test(test_mlp_sgd_momentum_f64_matches_pytorch_every_step),
        cmocka_unit_test(test_mlp_adamw_f32_matches_pytorch_every_step),
        cmocka_unit_test(test_mlp_adamw_f64_matches_pytorch_every_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
