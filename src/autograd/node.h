/* The autograd node: what graph.c builds and backward.c walks.
 *
 * A node is either an op's record (inputs with edges to their own nodes, saved tensors, the
 * op's params) or a leaf's accumulator (a tensor that requires grad and that no op produced;
 * its gradient lives here, so it survives the leaf's handle being freed while a graph still
 * reaches it).
 *
 * Lifetime: a node made while an arena is entered lives in that arena and goes at its reset;
 * nothing counts references to it. A heap node is reference counted by the heap tensors whose
 * grad_node it is, by the nodes whose edges point at it, and by arenas holding it until their
 * reset; the last release frees it and drops its own references (iteratively: a chain of ten
 * thousand nodes must not recurse ten thousand deep). */
#ifndef AMPC_AUTOGRAD_NODE_H
#define AMPC_AUTOGRAD_NODE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "autograd/record.h"
#include "tensor/tensor_internal.h"

typedef struct node_input {
    struct ampc_node *node; /* the input's node, or NULL when it does not require grad */
    bool counted;           /* whether this edge holds a reference on node */
    ampc_dtype dtype;
    int ndim;
    int64_t shape[AMPC_MAX_DIMS];
} node_input;

struct ampc_node {
    atomic_int refcount;      /* heap nodes only */
    ampc_arena *arena;        /* the arena holding the node, or NULL for the heap */
    uint64_t sequence;        /* creation order: inputs' nodes always have smaller numbers */
    uint64_t visit_mark;      /* the backward pass that last reached it */
    const char *name;         /* NULL for a leaf */
    ampc_backward_fn backward;
    bool released;            /* a backward without retain_graph dropped its saved tensors */
    bool had_saved;

    /* The tensor the node produced (or the leaf): gradients have its dtype and shape. */
    ampc_dtype dtype;
    int ndim;
    int64_t shape[AMPC_MAX_DIMS];

    ampc_tensor *grad;         /* leaf: the accumulated gradient */
    bool grad_pinned;          /* leaf: grad is a view into a gradient block; never dropped */
    ampc_tensor *pending_grad; /* op: gradient summed so far in the running backward pass */

    int num_inputs;
    int num_saved;
    node_input *inputs;
    ampc_tensor *saved[AMPC_NODE_MAX_SAVED];
    void *params;
    struct ampc_node *next_to_free; /* worklist link while releasing */
};

static inline bool ampc_node_is_leaf(const ampc_node *node)
{
    return node->backward == NULL;
}

/* Drops one reference on a heap node (a no-op for arena nodes). */
void ampc_node_release(ampc_node *node);
/* Drops the saved tensors (after a backward without retain_graph). */
void ampc_node_release_saved(ampc_node *node);

#endif
