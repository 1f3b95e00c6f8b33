/* What an op does to be differentiable: record a node on its output, and read it back in its
 * backward function. The graph's bookkeeping (references, arenas, traversal) is graph.c's and
 * backward.c's business; an op only describes itself.
 *
 * A typical op:
 *
 *     ampc_tensor *ampc_mul(const ampc_tensor *a, const ampc_tensor *b)
 *     {
 *         ... validate, compute `out` ...
 *         const ampc_tensor *inputs[] = {a, b};
 *         ampc_op_record record = {.name = "mul", .backward = mul_backward,
 *                                  .num_inputs = 2, .inputs = inputs,
 *                                  .num_saved = 2, .saved = inputs};
 *         return ampc_autograd_output(__func__, out, &record);
 *     }
 *
 * and its backward:
 *
 *     static ampc_status mul_backward(const ampc_node *node, const ampc_tensor *dout,
 *                                     ampc_tensor **dinputs)
 *     {
 *         const ampc_tensor *a = ampc_node_saved(node, 0), *b = ampc_node_saved(node, 1);
 *         if (ampc_node_needs_grad(node, 0)) dinputs[0] = ... dout * b, summed to a's shape;
 *         if (ampc_node_needs_grad(node, 1)) dinputs[1] = ...;
 *         return (needed grads all made) ? AMPC_OK : ampc_error_status();
 *     }
 */
#ifndef AMPC_AUTOGRAD_RECORD_H
#define AMPC_AUTOGRAD_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ampc/autograd.h>
#include <ampc/tensor.h>

typedef struct ampc_node ampc_node;

/* An op's backward. dout is the gradient of the op's output: contiguous, with the output's
 * dtype and shape. For each input i with ampc_node_needs_grad(node, i) it sets dinputs[i] to
 * a new tensor with input i's dtype and shape (it may leave it NULL when that gradient is
 * zero). The caller frees them. Runs with grad mode off, so ops used inside record nothing.
 * Returns AMPC_OK, or a failed status with the error set (anything made is then freed). */
typedef ampc_status (*ampc_backward_fn)(const ampc_node *node, const ampc_tensor *dout,
                                        ampc_tensor **dinputs);

#define AMPC_NODE_MAX_SAVED 8

typedef struct ampc_op_record {
    const char *name;          /* the op, for ampc_tensor_grad_fn_name: "mul", "conv2d" */
    ampc_backward_fn backward;
    int num_inputs;            /* the tensors gradients flow to; NULL entries allowed */
    const ampc_tensor *const *inputs;
    int num_saved;             /* tensors the backward reads, kept as detached views; NULL */
    const ampc_tensor *const *saved; /* entries allowed; up to AMPC_NODE_MAX_SAVED */
    const void *params;        /* copied into the node: dims, scalars, options */
    size_t params_size;
} ampc_op_record;

/* Whether an op on these inputs is recorded: grad mode is on and one of them requires grad.
 * Ops that need extra work only for the backward (saving a mask, statistics) ask first. */
bool ampc_autograd_should_record(int num_inputs, const ampc_tensor *const *inputs);

/* Makes output the result of the recorded op when ampc_autograd_should_record says so, and
 * does nothing otherwise. output must be new (no node yet). Fails only when out of memory;
 * then the caller frees output and returns NULL. */
ampc_status ampc_autograd_record(const char *function, ampc_tensor *output,
                                 const ampc_op_record *record);

/* ampc_autograd_record, for an op's last line: returns output, or frees it and returns NULL
 * when recording failed (`return ampc_autograd_output(__func__, out, &record);`). */
ampc_tensor *ampc_autograd_output(const char *function, ampc_tensor *output,
                                  const ampc_op_record *record);

/* Makes grad (contiguous, the leaf's dtype and shape; ownership passes) the leaf's gradient
 * for good: backward adds into it in place, and zero_grad zeroes it even when asked to drop
 * it. For parameters whose gradients live in one flat block (ampc_module_flatten). Any
 * gradient the leaf had is copied in; otherwise grad is zeroed. leaf must require grad. */
ampc_status ampc_autograd_pin_grad(const char *function, ampc_tensor *leaf, ampc_tensor *grad);

/* --- reading a node, inside a backward function ------------------------------------------- */
/* The index-th saved tensor (NULL if NULL was saved). */
const ampc_tensor *ampc_node_saved(const ampc_node *node, int index);
/* The copy of record->params (NULL if there were none). */
const void *ampc_node_params(const ampc_node *node);
/* Whether input `input` requires grad, so the backward must produce its gradient. */
bool ampc_node_needs_grad(const ampc_node *node, int input);
/* Input `input`'s dtype, ndim and shape when the op ran (also for inputs not saved). */
ampc_dtype ampc_node_input_dtype(const ampc_node *node, int input);
int ampc_node_input_ndim(const ampc_node *node, int input);
const int64_t *ampc_node_input_shape(const ampc_node *node, int input);
int ampc_node_num_inputs(const ampc_node *node);

#endif
