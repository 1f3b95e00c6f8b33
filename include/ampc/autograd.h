/* Reverse-mode automatic differentiation, define-by-run.
 *
 * The ops (ampc/ops_*.h) record how to differentiate themselves whenever grad mode is on and
 * one of their inputs requires grad; the result then requires grad too and has a grad_fn.
 * ampc_backward() walks those records from an output back to the leaves (tensors the caller
 * marked with ampc_tensor_set_requires_grad) and ADDS each leaf's gradient into its .grad, so
 * two backward passes sum up (gradient accumulation) until ampc_tensor_zero_grad().
 *
 * The raw tensor functions of ampc/tensor.h (ampc_tensor_cast, ampc_tensor_view, ...) work on
 * data and are never recorded; use the ops (ampc_cast, ampc_reshape, ...) on tensors that
 * need gradients.
 *
 * Records follow the memory model of ampc/memory.h: made while an arena is entered, they live
 * in it and go at ampc_arena_reset(), with the step's activations. Made outside any arena,
 * they are reference counted and go with the last tensor that can reach them. A graph must
 * not be used after the reset of an arena holding any of its tensors or records.
 *
 * Gradients have the dtype and shape of their tensor: a cast is an op like any other, so the
 * gradient of an F16 result of an F32 tensor reaches the F32 tensor as F32. */
#ifndef AMPC_AUTOGRAD_H
#define AMPC_AUTOGRAD_H

#include <stdbool.h>

#include <ampc/error.h>
#include <ampc/export.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a leaf (a tensor no recorded op produced) as needing a gradient, or clears the mark.
 * Only F64, F32, F16 and BF16 tensors can require grad. A leaf's gradient outlives the steps
 * (it is heap memory, counted as AMPC_MEMORY_GRADIENTS) unless the leaf itself is arena
 * memory. */
AMPC_API ampc_status ampc_tensor_set_requires_grad(ampc_tensor *tensor, bool requires_grad);
AMPC_API bool ampc_tensor_requires_grad(const ampc_tensor *tensor);
/* True for tensors no recorded op produced (whether or not they require grad). */
AMPC_API bool ampc_tensor_is_leaf(const ampc_tensor *tensor);
/* The op that produced the tensor ("mul", "linear", ...), or NULL for a leaf. */
AMPC_API const char *ampc_tensor_grad_fn_name(const ampc_tensor *tensor);

/* The accumulated gradient of a leaf, or NULL before any backward reached it (and after
 * zero_grad to none). Borrowed: valid until zero_grad(set_to_none) or the leaf is freed; do
 * not free it. The caller may write into it (an optimizer or a loss scaler does). */
AMPC_API ampc_tensor *ampc_tensor_grad(const ampc_tensor *tensor);
/* Zeroes the gradient in place, or drops it (set_to_none, PyTorch's default since 2.0). */
AMPC_API ampc_status ampc_tensor_zero_grad(ampc_tensor *tensor, bool set_to_none);

/* A new handle on the same data that is a leaf and does not require grad. */
AMPC_API ampc_tensor *ampc_tensor_detach(const ampc_tensor *tensor);

/* The recorded cast: a new tensor of tensor's values in dtype. When tensor requires grad and
 * dtype is F64, F32, F16 or BF16, the result requires grad and its gradient flows back cast
 * to tensor's dtype. Casting to any other dtype cuts the graph, as in PyTorch. */
AMPC_API ampc_tensor *ampc_cast(const ampc_tensor *tensor, ampc_dtype dtype);

/* Backpropagates from output. gradient is the upstream gradient dL/d(output) (output's shape;
 * converted to output's dtype); NULL means 1 and is allowed only for a one-element output.
 * Without retain_graph the records' saved tensors are released as the pass goes, and a second
 * backward through them fails; with it, the graph can be walked again (several backward
 * passes per iteration). Runs with grad mode off. */
AMPC_API ampc_status ampc_backward(const ampc_tensor *output, const ampc_tensor *gradient,
                                   bool retain_graph);

/* Grad mode, per thread, on by default. Off, ops record nothing (inference, optimizer
 * steps): `bool previous = ampc_grad_set_enabled(false); ... ampc_grad_set_enabled(previous);`. */
AMPC_API bool ampc_grad_is_enabled(void);
/* Returns the previous setting. */
AMPC_API bool ampc_grad_set_enabled(bool enabled);

#ifdef __cplusplus
}
#endif
#endif
