/* The training step shared by `ampc train` and `ampc bench torch`: one optimizer step of a
 * classifier on one batch, with every per-step tensor in an arena that is reset afterwards,
 * so memory stays flat from the second step on. */
#ifndef AMPC_CLI_TRAIN_LOOP_H
#define AMPC_CLI_TRAIN_LOOP_H

#include <stdbool.h>

#include <ampc/ampc.h>
#include <ampc/nn.h>
#include <ampc/optim.h>

/* Makes the step's batch inside the entered arena: images (B, 1, H, W) of the model's dtype
 * and I64 labels (B). Returns false with both NULL when the source has no more batches (the
 * step then retries once, for a new epoch) or, with the error set, on failure. */
typedef bool (*train_batch_fn)(void *source, ampc_tensor **images, ampc_tensor **labels);

/* zero_grad, forward, cross_entropy (mean), backward, optimizer step. *loss is the loss
 * before the update. */
ampc_status train_step(ampc_module *model, ampc_optimizer *optimizer, ampc_arena *arena,
                       train_batch_fn next_batch, void *source, double *loss);

/* The model's parameters as an optimizer of the given name ("sgd", "adam", "adamw") with lr,
 * momentum (sgd only) and weight_decay. */
ampc_optimizer *train_optimizer_new(ampc_module *model, const char *name, double lr,
                                    double momentum, double weight_decay);

#endif
