/* The standard models (ampc/models.h): the golden fixtures' MLP and CNN, built from nn
 * layers in the order of their PyTorch definitions so that the Sequential's child indices
 * give the state_dict names. A table maps model names to builders. */
#include <ampc/models.h>

#include <string.h>

#include "core/error.h"

enum { IMAGE_SIZE = 28, CLASSES = 10, MLP_HIDDEN = 1024, CNN_HIDDEN = 256 };

static const double BATCH_NORM_EPS = 1e-5, BATCH_NORM_MOMENTUM = 0.1;

ampc_module *ampc_model_mlp_new(ampc_generator *generator)
{
    if (!generator) {
        ampc_fail_null(__func__, "generator");
        return NULL;
    }
    ampc_module *layers[] = {
        ampc_flatten_new(1, -1),
        ampc_linear_new(IMAGE_SIZE * IMAGE_SIZE, MLP_HIDDEN, true, generator),
        ampc_relu_new(),
        ampc_linear_new(MLP_HIDDEN, MLP_HIDDEN, true, generator),
        ampc_relu_new(),
        ampc_linear_new(MLP_HIDDEN, CLASSES, true, generator),
    };
    /* Takes every layer; a NULL one (its error set) frees the rest and fails. */
    return ampc_sequential_new((int)(sizeof layers / sizeof layers[0]), layers);
}

/* Conv 3x3 pad 1 (stride 1) with bias, as nn.Conv2d(in, out, 3, padding=1). */
static ampc_module *conv3x3(int64_t in_channels, int64_t out_channels,
                            ampc_generator *generator)
{
    ampc_conv2d_options options = ampc_conv2d_defaults();
    options.padding[0] = options.padding[1] = 1;
    return ampc_conv2d_new(in_channels, out_channels, 3, 3, &options, true, generator);
}

ampc_module *ampc_model_cnn_new(ampc_generator *generator)
{
    if (!generator) {
        ampc_fail_null(__func__, "generator");
        return NULL;
    }
    ampc_pool2d_options pool = ampc_pool2d_defaults(2, 2);
    const int64_t pooled = IMAGE_SIZE / 4; /* two 2x2 pools: 28 -> 14 -> 7 */
    ampc_module *layers[] = {
        conv3x3(1, 32, generator),
        ampc_batch_norm2d_new(32, BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, true, true),
        ampc_relu_new(),
        ampc_max_pool2d_new(&pool),
        conv3x3(32, 64, generator),
        ampc_batch_norm2d_new(64, BATCH_NORM_EPS, BATCH_NORM_MOMENTUM, true, true),
        ampc_relu_new(),
        ampc_max_pool2d_new(&pool),
        ampc_flatten_new(1, -1),
        ampc_linear_new(64 * pooled * pooled, CNN_HIDDEN, true, generator),
        ampc_relu_new(),
        ampc_linear_new(CNN_HIDDEN, CLASSES, true, generator),
    };
    /* Takes every layer; a NULL one (its error set) frees the rest and fails. */
    return ampc_sequential_new((int)(sizeof layers / sizeof layers[0]), layers);
}

typedef struct model_entry {
    const char *name;
    ampc_module *(*build)(ampc_generator *generator);
} model_entry;

static const model_entry models[] = {
    {"mlp", ampc_model_mlp_new},
    {"cnn", ampc_model_cnn_new},
};

ampc_module *ampc_model_new(const char *name, ampc_generator *generator)
{
    if (!name) {
        ampc_fail_null(__func__, "name");
        return NULL;
    }
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        if (strcmp(name, models[i].name) == 0) return models[i].build(generator);
    ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__, "name \"%s\" is not one of mlp, cnn", name);
    return NULL;
}
