/* The module core: a module's own parameters, buffers and children, train/eval mode, and the
 * tree's full dotted names in PyTorch's state_dict order.
 *
 * state_dict order, as torch.nn.Module.state_dict walks it: a module's own parameters in
 * registration order, then its own buffers in registration order, then each child's tensors
 * depth first, prefixed "child_name.". Parameters and buffers share one list here; the walk
 * below takes the parameters out of it first. The names are built into a cache on the module
 * asked, rebuilt when the module's version says its subtree changed. */
#include <ampc/autograd.h>
#include <ampc/nn.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/module_internal.h"
#include "tensor/tensor_internal.h"

void ampc_module_structure_changed(ampc_module *module)
{
    for (; module; module = module->parent) module->version++;
}

const char *ampc_param_kind_name(ampc_param_kind kind)
{
    static const char *const names[AMPC_PARAM_KIND_COUNT] = {
        [AMPC_PARAM_WEIGHT] = "weight",
        [AMPC_PARAM_BIAS] = "bias",
        [AMPC_PARAM_NORM_WEIGHT] = "norm_weight",
        [AMPC_PARAM_NORM_BIAS] = "norm_bias",
        [AMPC_BUFFER_RUNNING_MEAN] = "running_mean",
        [AMPC_BUFFER_RUNNING_VAR] = "running_var",
        [AMPC_BUFFER_NUM_BATCHES_TRACKED] = "num_batches_tracked",
        [AMPC_BUFFER_OTHER] = "other",
    };
    if ((int)kind < 0 || kind >= AMPC_PARAM_KIND_COUNT) return "invalid";
    return names[kind];
}

bool ampc_param_kind_is_buffer(ampc_param_kind kind)
{
    return kind >= AMPC_BUFFER_RUNNING_MEAN && kind < AMPC_PARAM_KIND_COUNT;
}

/* --- creation and ownership ----------------------------------------------------------- */

ampc_module *ampc_module_new(const ampc_module_ops *ops, void *state)
{
    if (!ops) {
        ampc_fail_null(__func__, "ops");
        return NULL;
    }
    if (!ops->forward) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "ops->forward is NULL; every module needs a forward function");
        return NULL;
    }
    ampc_module *module = calloc(1, sizeof *module);
    if (!module) {
        ampc_fail_oom(__func__, sizeof *module);
        return NULL;
    }
    module->ops = ops;
    module->state = state;
    module->training = true;
    module->version = 1; /* a cache at version 0 was never built */
    return module;
}

ampc_module *ampc_layer_new(const char *function, const ampc_module_ops *ops, const void *state,
                            size_t size)
{
    void *copy = malloc(size);
    if (!copy) {
        ampc_fail_oom(function, size);
        return NULL;
    }
    memcpy(copy, state, size);
    ampc_module *module = ampc_module_new(ops, copy);
    if (!module) free(copy);
    return module;
}

void *ampc_module_state(const ampc_module *module)
{
    if (!module) {
        ampc_fail_null(__func__, "module");
        return NULL;
    }
    return module->state;
}

static void free_tree_cache(module_tree_cache *tree)
{
    for (int i = 0; i < tree->count; i++) free((char *)tree->entries[i].name);
    free(tree->entries);
    free(tree->parameter_entries);
    memset(tree, 0, sizeof *tree);
}

void ampc_module_free(ampc_module *module)
{
    if (!module) return;
    for (int i = 0; i < module->num_children; i++) {
        ampc_module_free(module->children[i].module);
        free(module->children[i].name);
    }
    for (int i = 0; i < module->num_tensors; i++) {
        ampc_tensor_free(module->tensors[i].tensor);
        free(module->tensors[i].name);
    }
    for (int dtype = 0; dtype < AMPC_DTYPE_COUNT; dtype++) {
        ampc_tensor_free(module->parameter_blocks[dtype]);
        ampc_tensor_free(module->gradient_blocks[dtype]);
    }
    if (module->ops->free_state) module->ops->free_state(module->state);
    free(module->children);
    free(module->tensors);
    free_tree_cache(&module->tree);
    free(module);
}

/* --- registration ------------------------------------------------------------------------ */

static bool local_name_taken(const ampc_module *module, const char *name)
{
    for (int i = 0; i < module->num_tensors; i++)
        if (strcmp(module->tensors[i].name, name) == 0) return true;
    for (int i = 0; i < module->num_children; i++)
        if (strcmp(module->children[i].name, name) == 0) return true;
    return false;
}

static ampc_status check_local_name(const char *function, const ampc_module *module,
                                    const char *name)
{
    if (!name) return ampc_fail_null(function, "name");
    if (name[0] == '\0')
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "name is empty");
    if (strchr(name, '.'))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "name \"%s\" contains a dot; dots only join the names of a tree", name);
    if (local_name_taken(module, name))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "name \"%s\" is already taken in this %s module", name,
                         module->ops->type_name ? module->ops->type_name : "(unnamed)");
    return AMPC_OK;
}

static char *copy_string(const char *function, const char *text)
{
    size_t length = strlen(text) + 1;
    char *copy = malloc(length);
    if (!copy) {
        ampc_fail_oom(function, length);
        return NULL;
    }
    return memcpy(copy, text, length);
}

/* Grows *items (of *capacity elements of item_size bytes) to hold one more. */
static ampc_status reserve_one(const char *function, void **items, int *capacity, int count,
                               size_t item_size)
{
    if (count < *capacity) return AMPC_OK;
    int grown = *capacity ? 2 * *capacity : 4;
    void *larger = realloc(*items, (size_t)grown * item_size);
    if (!larger) return ampc_fail_oom(function, (size_t)grown * item_size);
    *items = larger;
    *capacity = grown;
    return AMPC_OK;
}

/* What a tensor must be to join a module, parameter or buffer. */
static ampc_status check_module_tensor(const char *function, const ampc_tensor *tensor,
                                       ampc_param_kind kind, bool parameter)
{
    if ((int)kind < 0 || kind >= AMPC_PARAM_KIND_COUNT)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "kind %d is not an ampc_param_kind (0 to %d)", (int)kind,
                         AMPC_PARAM_KIND_COUNT - 1);
    if (parameter == ampc_param_kind_is_buffer(kind))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "kind %s is a %s kind; expected a %s kind", ampc_param_kind_name(kind),
                         parameter ? "buffer" : "parameter", parameter ? "parameter" : "buffer");
    if (tensor->arena || tensor->storage->arena)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "tensor belongs to an arena; module tensors must be long-lived "
                         "(create them outside any arena)");
    if (!ampc_tensor_is_leaf(tensor))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "tensor is the result of op \"%s\"; expected a leaf (detach it)",
                         ampc_tensor_grad_fn_name(tensor));
    if (parameter && !(tensor->dtype == AMPC_F64 || tensor->dtype == AMPC_F32 ||
                       tensor->dtype == AMPC_F16 || tensor->dtype == AMPC_BF16))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "a parameter has dtype %s; expected F64, F32, F16 or BF16",
                         ampc_dtype_name(tensor->dtype));
    return AMPC_OK;
}

static ampc_status add_tensor(const char *function, ampc_module *module, const char *name,
                              ampc_tensor *tensor, ampc_param_kind kind, bool parameter)
{
    ampc_status status = AMPC_OK;
    if (!module) status = ampc_fail_null(function, "module");
    else if (!tensor) status = ampc_fail_null(function, "tensor");
    if (status == AMPC_OK) status = check_local_name(function, module, name);
    if (status == AMPC_OK) status = check_module_tensor(function, tensor, kind, parameter);
    if (status == AMPC_OK) status = ampc_tensor_set_requires_grad(tensor, parameter);
    if (status == AMPC_OK)
        status = ampc_tensor_set_category(tensor, AMPC_MEMORY_PARAMETERS);
    if (status == AMPC_OK)
        status = reserve_one(function, (void **)&module->tensors, &module->tensor_capacity,
                             module->num_tensors, sizeof *module->tensors);
    char *copy = status == AMPC_OK ? copy_string(function, name) : NULL;
    if (!copy) {
        ampc_tensor_free(tensor);
        return status == AMPC_OK ? ampc_error_status() : status;
    }
    module->tensors[module->num_tensors++] = (module_tensor){copy, tensor, kind};
    ampc_module_structure_changed(module);
    return AMPC_OK;
}

ampc_status ampc_module_add_parameter(ampc_module *module, const char *name,
                                      ampc_tensor *tensor, ampc_param_kind kind)
{
    return add_tensor(__func__, module, name, tensor, kind, true);
}

ampc_status ampc_module_add_buffer(ampc_module *module, const char *name, ampc_tensor *tensor,
                                   ampc_param_kind kind)
{
    return add_tensor(__func__, module, name, tensor, kind, false);
}

static bool in_subtree(const ampc_module *root, const ampc_module *module)
{
    if (root == module) return true;
    for (int i = 0; i < root->num_children; i++)
        if (in_subtree(root->children[i].module, module)) return true;
    return false;
}

ampc_status ampc_module_add_child(ampc_module *module, const char *name, ampc_module *child)
{
    ampc_status status = AMPC_OK;
    if (!module) status = ampc_fail_null(__func__, "module");
    else if (!child) status = ampc_fail_null(__func__, "child");
    else if (child->parent || in_subtree(child, module)) {
        /* The child is someone else's: it must not be freed here. */
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "child (a %s) already belongs to a module or contains this one; a "
                         "module can be added once",
                         child->ops->type_name ? child->ops->type_name : "module");
    }
    if (status == AMPC_OK) status = check_local_name(__func__, module, name);
    if (status == AMPC_OK)
        status = reserve_one(__func__, (void **)&module->children, &module->child_capacity,
                             module->num_children, sizeof *module->children);
    char *copy = status == AMPC_OK ? copy_string(__func__, name) : NULL;
    if (!copy) {
        ampc_module_free(child);
        return status == AMPC_OK ? ampc_error_status() : status;
    }
    child->parent = module;
    module->children[module->num_children++] = (module_child){copy, child};
    ampc_module_structure_changed(module);
    return AMPC_OK;
}

ampc_tensor *ampc_module_local(const ampc_module *module, const char *name)
{
    if (!module) return ampc_null_tensor(__func__, "module");
    if (!name) return ampc_null_tensor(__func__, "name");
    for (int i = 0; i < module->num_tensors; i++)
        if (strcmp(module->tensors[i].name, name) == 0) return module->tensors[i].tensor;
    return NULL;
}

/* --- use ----------------------------------------------------------------------------------- */

ampc_tensor *ampc_module_forward(ampc_module *module, const ampc_tensor *input)
{
    if (!module) return ampc_null_tensor(__func__, "module");
    if (!input) return ampc_null_tensor(__func__, "input");
    return module->ops->forward(module, input);
}

const char *ampc_module_type(const ampc_module *module)
{
    if (!module) {
        ampc_fail_null(__func__, "module");
        return NULL;
    }
    return module->ops->type_name ? module->ops->type_name : "Module";
}

void ampc_module_set_training(ampc_module *module, bool training)
{
    if (!module) {
        ampc_fail_null(__func__, "module");
        return;
    }
    module->training = training;
    for (int i = 0; i < module->num_children; i++)
        ampc_module_set_training(module->children[i].module, training);
}

bool ampc_module_is_training(const ampc_module *module)
{
    if (!module) {
        ampc_fail_null(__func__, "module");
        return false;
    }
    return module->training;
}

int ampc_module_num_children(const ampc_module *module)
{
    if (!module) {
        ampc_fail_null(__func__, "module");
        return 0;
    }
    return module->num_children;
}

ampc_module *ampc_module_child(const ampc_module *module, int index)
{
    if (!module) {
        ampc_fail_null(__func__, "module");
        return NULL;
    }
    if (index < 0 || index >= module->num_children) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "index %d is out of range; the module has %d children", index,
                  module->num_children);
        return NULL;
    }
    return module->children[index].module;
}

ampc_tensor *ampc_module_bad_input(const ampc_tensor *input, const char *what,
                                   const char *expected_format, ...)
{
    char shape[AMPC_SHAPE_TEXT_CAPACITY], expected[256];
    ampc_format_shape(shape, sizeof shape, input->ndim, input->shape);
    va_list arguments;
    va_start(arguments, expected_format);
    vsnprintf(expected, sizeof expected, expected_format, arguments);
    va_end(arguments);
    ampc_fail(AMPC_ERR_INVALID_ARGUMENT, "ampc_module_forward",
              "%s got input of shape %s; expected %s", what, shape, expected);
    return NULL;
}

/* --- the tree: full names in state_dict order ----------------------------------------------- */

typedef struct tree_builder {
    const char *function;
    module_tree_cache *tree;
    int capacity;
    bool failed;
} tree_builder;

static void append_entry(tree_builder *builder, const char *prefix, const module_tensor *item)
{
    module_tree_cache *tree = builder->tree;
    if (builder->failed) return;
    if (reserve_one(builder->function, (void **)&tree->entries, &builder->capacity, tree->count,
                    sizeof *tree->entries) != AMPC_OK) {
        builder->failed = true;
        return;
    }
    size_t length = strlen(prefix) + strlen(item->name) + 1;
    char *name = malloc(length);
    if (!name) {
        ampc_fail_oom(builder->function, length);
        builder->failed = true;
        return;
    }
    snprintf(name, length, "%s%s", prefix, item->name);
    tree->entries[tree->count++] = (ampc_named_tensor){name, item->tensor, item->kind};
}

static void collect(tree_builder *builder, const ampc_module *module, const char *prefix)
{
    for (int pass = 0; pass < 2; pass++) /* parameters first, then buffers */
        for (int i = 0; i < module->num_tensors; i++)
            if (ampc_param_kind_is_buffer(module->tensors[i].kind) == (pass == 1))
                append_entry(builder, prefix, &module->tensors[i]);
    for (int i = 0; i < module->num_children && !builder->failed; i++) {
        const module_child *child = &module->children[i];
        size_t length = strlen(prefix) + strlen(child->name) + 2;
        char *child_prefix = malloc(length);
        if (!child_prefix) {
            ampc_fail_oom(builder->function, length);
            builder->failed = true;
            return;
        }
        snprintf(child_prefix, length, "%s%s.", prefix, child->name);
        collect(builder, child->module, child_prefix);
        free(child_prefix);
    }
}

static bool index_parameters(const char *function, module_tree_cache *tree)
{
    tree->parameter_entries = malloc(sizeof(int) * (size_t)(tree->count ? tree->count : 1));
    if (!tree->parameter_entries) {
        ampc_fail_oom(function, sizeof(int) * (size_t)tree->count);
        return false;
    }
    for (int i = 0; i < tree->count; i++)
        if (!ampc_param_kind_is_buffer(tree->entries[i].kind))
            tree->parameter_entries[tree->num_parameters++] = i;
    return true;
}

const module_tree_cache *ampc_module_tree(const ampc_module *module, const char *function)
{
    /* The cache is a memo of the tree, not part of the module's value: const-correct for
     * callers, and (like the rest of a module) not to be shared between threads. */
    module_tree_cache *tree = (module_tree_cache *)&module->tree;
    if (tree->version == module->version) return tree;
    free_tree_cache(tree);
    tree_builder builder = {function, tree, 0, false};
    collect(&builder, module, "");
    if (builder.failed || !index_parameters(function, tree)) {
        free_tree_cache(tree);
        return NULL;
    }
    tree->version = module->version;
    return tree;
}

int ampc_module_num_tensors(const ampc_module *module)
{
    if (!module) return ampc_fail_null(__func__, "module"), 0;
    const module_tree_cache *tree = ampc_module_tree(module, __func__);
    return tree ? tree->count : 0;
}

ampc_status ampc_module_tensor_at(const ampc_module *module, int index,
                                  ampc_named_tensor *entry)
{
    if (!module) return ampc_fail_null(__func__, "module");
    if (!entry) return ampc_fail_null(__func__, "entry");
    const module_tree_cache *tree = ampc_module_tree(module, __func__);
    if (!tree) return ampc_error_status();
    if (index < 0 || index >= tree->count)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "index %d is out of range; the module has %d tensors", index,
                         tree->count);
    *entry = tree->entries[index];
    return AMPC_OK;
}

ampc_tensor *ampc_module_find(const ampc_module *module, const char *name)
{
    if (!module) return ampc_null_tensor(__func__, "module");
    if (!name) return ampc_null_tensor(__func__, "name");
    const module_tree_cache *tree = ampc_module_tree(module, __func__);
    if (!tree) return NULL;
    for (int i = 0; i < tree->count; i++)
        if (strcmp(tree->entries[i].name, name) == 0) return tree->entries[i].tensor;
    return NULL;
}

int ampc_module_num_parameters(const ampc_module *module)
{
    if (!module) return ampc_fail_null(__func__, "module"), 0;
    const module_tree_cache *tree = ampc_module_tree(module, __func__);
    return tree ? tree->num_parameters : 0;
}

ampc_tensor *ampc_module_parameter(const ampc_module *module, int index)
{
    if (!module) return ampc_null_tensor(__func__, "module");
    const module_tree_cache *tree = ampc_module_tree(module, __func__);
    if (!tree) return NULL;
    if (index < 0 || index >= tree->num_parameters) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "index %d is out of range; the module has %d parameters", index,
                  tree->num_parameters);
        return NULL;
    }
    return tree->entries[tree->parameter_entries[index]].tensor;
}

int64_t ampc_module_parameter_count(const ampc_module *module)
{
    if (!module) return ampc_fail_null(__func__, "module"), 0;
    const module_tree_cache *tree = ampc_module_tree(module, __func__);
    if (!tree) return 0;
    int64_t total = 0;
    for (int i = 0; i < tree->num_parameters; i++)
        total += ampc_tensor_numel(tree->entries[tree->parameter_entries[i]].tensor);
    return total;
}
