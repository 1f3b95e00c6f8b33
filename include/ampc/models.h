/* Standard models: the two architectures of the PyTorch golden fixtures, ready to train.
 *
 * Both are Sequentials of the layers in ampc/nn.h, so their parameter and buffer names are
 * PyTorch's state_dict keys for the same nn.Sequential ("1.weight", "1.running_mean"), and a
 * checkpoint saved by torch (safetensors) loads into them with ampc_module_load.
 *
 *   mlp: Flatten, Linear 784->1024, ReLU, Linear 1024->1024, ReLU, Linear 1024->10
 *        (linear layers "1", "3", "5"; 1.86 M parameters)
 *   cnn: Conv 1->32 3x3 pad 1, BatchNorm2d, ReLU, MaxPool 2,
 *        Conv 32->64 3x3 pad 1, BatchNorm2d, ReLU, MaxPool 2,
 *        Flatten, Linear 3136->256, ReLU, Linear 256->10
 *        (convs "0", "4", batch norms "1", "5", linear layers "9", "11"; 0.82 M parameters)
 *
 * Input: (N, 1, 28, 28) images in [0, 1] (MNIST-sized); output: (N, 10) logits. Parameters
 * are F32, initialised as PyTorch does from `generator` (see ampc/nn.h); the batch norms use
 * eps 1e-5 and momentum 0.1. */
#ifndef AMPC_MODELS_H
#define AMPC_MODELS_H

#include <ampc/export.h>
#include <ampc/nn.h>
#include <ampc/random.h>

#ifdef __cplusplus
extern "C" {
#endif

AMPC_API ampc_module *ampc_model_mlp_new(ampc_generator *generator);
AMPC_API ampc_module *ampc_model_cnn_new(ampc_generator *generator);

/* By name: "mlp" or "cnn"; anything else fails with an error listing the names. */
AMPC_API ampc_module *ampc_model_new(const char *name, ampc_generator *generator);

#ifdef __cplusplus
}
#endif
#endif
