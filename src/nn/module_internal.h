/* Internal side of ampc/nn.h: the module struct, shared by the module core (module.c), the
 * flat parameter blocks and dtype conversion (module_flat.c) and the layers (layers_*.c).
 *
 * A module owns its tensors (parameters and buffers, in one list in registration order) and
 * its children. Full dotted names are not stored: they are computed on demand into a cache on
 * the module asked (the `tree` below), rebuilt when the module's version has moved on: every
 * registration bumps the version of the module and of each of its ancestors. */
#ifndef AMPC_NN_MODULE_INTERNAL_H
#define AMPC_NN_MODULE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/nn.h>

typedef struct module_tensor {
    char *name; /* local name, no dots */
    ampc_tensor *tensor;
    ampc_param_kind kind;
} module_tensor;

typedef struct module_child {
    char *name;
    ampc_module *module;
} module_child;

/* The tree's tensors in state_dict order, with full names; parameters listed apart too. */
typedef struct module_tree_cache {
    uint64_t version; /* the module's version it was built at; 0: never built */
    int count;
    ampc_named_tensor *entries; /* names owned by the cache */
    int num_parameters;
    int *parameter_entries;     /* index into entries of each parameter */
} module_tree_cache;

struct ampc_module {
    const ampc_module_ops *ops;
    void *state;
    bool training;
    ampc_module *parent; /* set when added as a child: owned by it, cannot be added again */
    uint64_t version;    /* bumped when this module's subtree gains a tensor or a child */
    module_tensor *tensors;
    int num_tensors, tensor_capacity;
    module_child *children;
    int num_children, child_capacity;
    module_tree_cache tree;
    /* After ampc_module_flatten on this module: one block per dtype (NULL where none). */
    bool flattened;
    ampc_tensor *parameter_blocks[AMPC_DTYPE_COUNT];
    ampc_tensor *gradient_blocks[AMPC_DTYPE_COUNT];
};

/* Marks that module's parameters, buffers or children changed (or their dtypes): the name
 * caches of module and of its ancestors are stale. */
void ampc_module_structure_changed(ampc_module *module);
/* The tree cache of module, rebuilt if stale; NULL with the error set when out of memory. */
const module_tree_cache *ampc_module_tree(const ampc_module *module, const char *function);
/* Drops module's blocks (and those of its descendants, which a flatten of an ancestor made
 * stale). */
void ampc_module_release_blocks(ampc_module *module);

/* For a layer's forward: fails with "ampc_module_forward: <what> got input of shape [..];
 * expected <expected>" (printf-style) and returns NULL. */
ampc_tensor *ampc_module_bad_input(const ampc_tensor *input, const char *what,
                                   const char *expected_format, ...)
    __attribute__((format(printf, 3, 4)));

/* A new module of the given ops whose state is a zeroed copy of `size` bytes of `state`
 * (freed with free()); NULL with the error set naming function. */
ampc_module *ampc_layer_new(const char *function, const ampc_module_ops *ops, const void *state,
                            size_t size);

#endif
