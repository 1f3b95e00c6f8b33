/* How a pointwise op is differentiated, as data: for each input, the pointwise kernel that
 * makes its gradient from the upstream gradient and the tensors the op saved.
 *
 * Every pointwise gradient has the form dinput = kernel(dout, saved...) over the output's
 * shape, summed back to the input's shape when it was broadcast: d(a * b)/da is
 * MUL(dout, b), d(exp x)/dx is EXP_BACKWARD(dout, x), d(where)/da is MASK_KEEP(dout,
 * condition). So each op is a table row (pointwise_unary.c, pointwise_binary.c), and one
 * forward-and-record function and one backward function serve them all. */
#ifndef AMPC_OPS_POINTWISE_RULES_H
#define AMPC_OPS_POINTWISE_RULES_H

#include <stdbool.h>

#include <ampc/tensor.h>

#include "kernels/pointwise_kernels.h"
#include "ops/pointwise_engine.h"

/* An operand of a gradient kernel: the upstream gradient, or saved tensor k (k >= 0). */
#define AMPC_PW_DOUT (-1)

typedef struct ampc_pointwise_gradient {
    ampc_pointwise_op op;
    int num_operands;
    int operands[AMPC_PW_MAX_INPUTS]; /* AMPC_PW_DOUT or a saved tensor's index */
    bool own_scalars;                 /* the kernel's scalars: {scalar, 0} if set, else the
                                         forward call's scalars (clamp's bounds, a slope) */
    double scalar;
} ampc_pointwise_gradient;

typedef struct ampc_pointwise_rules {
    const char *name; /* for ampc_tensor_grad_fn_name */
    int num_inputs;   /* the op's inputs gradients can flow to (masks are not among them) */
    ampc_pointwise_gradient gradients[AMPC_PW_MAX_INPUTS]; /* one per input */
} ampc_pointwise_rules;

/* Runs call (ampc_pointwise_apply) and records the result for autograd with these rules:
 * `inputs` (rules->num_inputs of them) are what gradients flow to, `saved` what the gradient
 * kernels read. rules must outlive the graph (static tables do). */
ampc_tensor *ampc_pointwise_forward(const char *function, const ampc_pointwise_call *call,
                                    const ampc_pointwise_rules *rules,
                                    const ampc_tensor *const *inputs, int num_saved,
                                    const ampc_tensor *const *saved);

#endif
