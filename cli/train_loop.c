/* See train_loop.h. */
#include "train_loop.h"

#include <stdlib.h>
#include <string.h>

/* The part of a step that runs inside the arena: batch, forward, loss, backward. */
static ampc_status forward_backward(ampc_module *model, train_batch_fn next_batch,
                                    void *source, double *loss)
{
    ampc_tensor *images = NULL, *labels = NULL;
    if (!next_batch(source, &images, &labels)) {
        if (ampc_error_status() != AMPC_OK) return ampc_error_status();
        if (!next_batch(source, &images, &labels)) /* a new epoch */
            return ampc_error_status() != AMPC_OK ? ampc_error_status() : AMPC_ERR_INVALID_ARGUMENT;
    }
    ampc_tensor *logits = ampc_module_forward(model, images);
    ampc_tensor *value = logits ? ampc_cross_entropy(logits, labels, NULL) : NULL;
    if (!value) return ampc_error_status();
    ampc_status status = ampc_tensor_get(value, NULL, loss);
    if (status == AMPC_OK) status = ampc_backward(value, NULL, false);
    return status; /* arena tensors: the reset frees them */
}

ampc_status train_step(ampc_module *model, ampc_optimizer *optimizer, ampc_arena *arena,
                       train_batch_fn next_batch, void *source, double *loss)
{
    ampc_status status = ampc_optimizer_zero_grad(optimizer, false);
    if (status != AMPC_OK) return status;
    status = ampc_arena_enter(arena);
    if (status != AMPC_OK) return status;
    status = forward_backward(model, next_batch, source, loss);
    ampc_status left = ampc_arena_leave(arena);
    if (status == AMPC_OK) status = left;
    if (status == AMPC_OK) status = ampc_optimizer_step(optimizer);
    ampc_status reset = ampc_arena_reset(arena);
    return status == AMPC_OK ? reset : status;
}

ampc_optimizer *train_optimizer_new(ampc_module *model, const char *name, double lr,
                                    double momentum, double weight_decay)
{
    int count = ampc_module_num_parameters(model);
    ampc_tensor **params = calloc((size_t)(count > 0 ? count : 1), sizeof *params);
    if (!params) return NULL;
    for (int i = 0; i < count; i++) params[i] = ampc_module_parameter(model, i);
    ampc_optimizer *optimizer = NULL;
    if (strcmp(name, "sgd") == 0) {
        ampc_sgd_options options = ampc_sgd_defaults();
        options.lr = lr;
        options.momentum = momentum;
        options.weight_decay = weight_decay;
        optimizer = ampc_sgd_new(params, count, &options);
    } else {
        bool decoupled = strcmp(name, "adamw") == 0;
        ampc_adam_options options = decoupled ? ampc_adamw_defaults() : ampc_adam_defaults();
        options.lr = lr;
        options.weight_decay = weight_decay;
        optimizer = decoupled ? ampc_adamw_new(params, count, &options)
                              : ampc_adam_new(params, count, &options);
    }
    free(params);
    return optimizer;
}
