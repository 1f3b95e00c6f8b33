/* The standard CNN, batch norm in training mode, trained from PyTorch's initial weights on the 20
 * golden Fashion-MNIST batches with AdamW in f64, reproduces PyTorch's loss at every step and its
 * final weights and running statistics (see golden.h for the recipe and tolerances). One case per
 * file, so that each executable stays short. About 14 s under ASan, so it runs in both builds (the
 * f32 cases, near 40 s there, are left to the release build). */
#include "golden.h"

static void test_cnn_adamw_f64_matches_pytorch_every_step(void **state)
{
    (void)state;
    golden_run("cnn", "adamw", AMPC_F64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cnn_adamw_f64_matches_pytorch_every_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
