/* Building the graph: grad mode, recording an op's node, leaves, and who holds which node.
 *
 * Holding a node: an arena node is never counted (its arena frees it). A heap node is counted
 * once per holder; a heap holder (tensor header or node) drops its reference when freed, and
 * an arena holder leaves the drop to its arena's reset (ampc_arena_defer_release). */
#include <ampc/autograd.h>

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#include "autograd/node.h"
#include "core/error.h"
#include "ops/op_support.h"
#include "tensor/arena.h"

static _Thread_local bool grad_disabled;
static atomic_uint_fast64_t next_sequence = 1;

bool ampc_grad_is_enabled(void)
{
    return !grad_disabled;
}

bool ampc_grad_set_enabled(bool enabled)
{
    bool previous = !grad_disabled;
    grad_disabled = !enabled;
    return previous;
}

/* --- references ---------------------------------------------------------------------------- */

static void drop_reference(ampc_node *node, ampc_node **to_free)
{
    if (node->arena) return;
    if (atomic_fetch_sub(&node->refcount, 1) != 1) return;
    node->next_to_free = *to_free;
    *to_free = node;
}

static void free_contents(ampc_node *node)
{
    ampc_node_release_saved(node);
    ampc_tensor_free(node->pending_grad);
    ampc_tensor_free(node->grad);
}

void ampc_node_release(ampc_node *node)
{
    ampc_node *to_free = NULL;
    drop_reference(node, &to_free);
    while (to_free) {
        ampc_node *freed = to_free;
        to_free = freed->next_to_free;
        for (int input = 0; input < freed->num_inputs; input++)
            if (freed->inputs[input].counted) drop_reference(freed->inputs[input].node, &to_free);
        free_contents(freed);
        free(freed);
    }
}

void ampc_node_release_saved(ampc_node *node)
{
    for (int slot = 0; slot < node->num_saved; slot++) {
        ampc_tensor_free(node->saved[slot]);
        node->saved[slot] = NULL;
    }
}

static void release_node_object(void *node)
{
    ampc_node_release(node);
}

/* Makes memory of holder_arena (the heap when NULL) hold node. *counted says whether the
 * holder itself must drop the reference when freed. */
static ampc_status hold_node(const char *function, ampc_arena *holder_arena, ampc_node *node,
                             bool *counted)
{
    *counted = false;
    if (node->arena) return AMPC_OK;
    atomic_fetch_add(&node->refcount, 1);
    if (!holder_arena) {
        *counted = true;
        return AMPC_OK;
    }
    ampc_status status =
        ampc_arena_defer_release(function, holder_arena, release_node_object, node);
    if (status != AMPC_OK) atomic_fetch_sub(&node->refcount, 1);
    return status;
}

static ampc_status attach_node(const char *function, ampc_tensor *tensor, ampc_node *node)
{
    bool counted;
    ampc_status status = hold_node(function, tensor->arena, node, &counted);
    if (status != AMPC_OK) return status;
    tensor->grad_node = node;
    tensor->release_grad_node = counted ? ampc_node_release : NULL;
    return AMPC_OK;
}

static void detach_node(ampc_tensor *tensor)
{
    if (tensor->release_grad_node) tensor->release_grad_node(tensor->grad_node);
    tensor->grad_node = NULL;
    tensor->release_grad_node = NULL;
}

/* --- nodes --------------------------------------------------------------------------------- */

static size_t round_up_to_max_align(size_t bytes)
{
    size_t align = alignof(max_align_t);
    return (bytes + align - 1) / align * align;
}

/* A zeroed node with room for its inputs and params, in arena (NULL: the heap). */
static ampc_node *node_new(const char *function, ampc_arena *arena, int num_inputs,
                           size_t params_size)
{
    size_t inputs_offset = round_up_to_max_align(sizeof(ampc_node));
    size_t params_offset = round_up_to_max_align(inputs_offset +
                                                 (size_t)num_inputs * sizeof(node_input));
    size_t bytes = params_offset + params_size;
    unsigned char *memory = arena ? ampc_arena_alloc(arena, bytes) : malloc(bytes);
    if (!memory) {
        ampc_fail_oom(function, bytes);
        return NULL;
    }
    memset(memory, 0, bytes);
    ampc_node *node = (ampc_node *)memory;
    atomic_init(&node->refcount, 0);
    node->arena = arena;
    node->sequence = atomic_fetch_add(&next_sequence, 1);
    node->num_inputs = num_inputs;
    node->inputs = (node_input *)(memory + inputs_offset);
    node->params = params_size ? memory + params_offset : NULL;
    return node;
}

static void describe_output(ampc_node *node, const ampc_tensor *tensor)
{
    node->dtype = tensor->dtype;
    node->ndim = tensor->ndim;
    memcpy(node->shape, tensor->shape, sizeof node->shape);
}

/* A node nothing holds yet is freed by holding and dropping it (arena nodes stay until reset). */
static void discard_node(ampc_node *node)
{
    if (node->arena) return;
    atomic_fetch_add(&node->refcount, 1);
    ampc_node_release(node);
}

static ampc_status link_inputs(const char *function, ampc_node *node,
                               const ampc_op_record *record)
{
    for (int index = 0; index < record->num_inputs; index++) {
        const ampc_tensor *tensor = record->inputs[index];
        node_input *input = &node->inputs[index];
        if (!tensor) continue;
        input->dtype = tensor->dtype;
        input->ndim = tensor->ndim;
        memcpy(input->shape, tensor->shape, sizeof input->shape);
        if (!tensor->grad_node) continue;
        ampc_status status = hold_node(function, node->arena, tensor->grad_node, &input->counted);
        if (status != AMPC_OK) return status;
        input->node = tensor->grad_node;
    }
    return AMPC_OK;
}

/* Saved tensors are detached views: a saved output must not hold its own node (a cycle). */
static ampc_status save_tensors(const char *function, ampc_node *node,
                                const ampc_op_record *record)
{
    node->num_saved = record->num_saved;
    for (int slot = 0; slot < record->num_saved; slot++) {
        if (!record->saved[slot]) continue;
        node->saved[slot] = ampc_tensor_new_view(function, record->saved[slot]);
        if (!node->saved[slot]) return ampc_error_status();
        node->had_saved = true;
    }
    return AMPC_OK;
}

bool ampc_autograd_should_record(int num_inputs, const ampc_tensor *const *inputs)
{
    if (grad_disabled) return false;
    for (int index = 0; index < num_inputs; index++)
        if (inputs[index] && inputs[index]->grad_node) return true;
    return false;
}

ampc_status ampc_autograd_record(const char *function, ampc_tensor *output,
                                 const ampc_op_record *record)
{
    if (!ampc_autograd_should_record(record->num_inputs, record->inputs)) return AMPC_OK;
    if (!ampc_dtype_is_differentiable(output->dtype)) return AMPC_OK;
    AMPC_ASSERT(!output->grad_node && record->backward && record->name);
    AMPC_ASSERT(record->num_saved >= 0 && record->num_saved <= AMPC_NODE_MAX_SAVED);
    ampc_node *node =
        node_new(function, ampc_arena_current(), record->num_inputs, record->params_size);
    if (!node) return ampc_error_status();
    node->name = record->name;
    node->backward = record->backward;
    describe_output(node, output);
    if (record->params_size) memcpy(node->params, record->params, record->params_size);
    ampc_status status = link_inputs(function, node, record);
    if (status == AMPC_OK) status = save_tensors(function, node, record);
    if (status == AMPC_OK) status = attach_node(function, output, node);
    if (status != AMPC_OK) discard_node(node);
    return status;
}

ampc_tensor *ampc_autograd_output(const char *function, ampc_tensor *output,
                                  const ampc_op_record *record)
{
    if (!output) return NULL;
    if (ampc_autograd_record(function, output, record) == AMPC_OK) return output;
    ampc_tensor_free(output);
    return NULL;
}

/* --- reading a node ------------------------------------------------------------------------ */

const ampc_tensor *ampc_node_saved(const ampc_node *node, int index)
{
    AMPC_ASSERT(index >= 0 && index < node->num_saved);
    return node->saved[index];
}

const void *ampc_node_params(const ampc_node *node)
{
    return node->params;
}

bool ampc_node_needs_grad(const ampc_node *node, int input)
{
    AMPC_ASSERT(input >= 0 && input < node->num_inputs);
    return node->inputs[input].node != NULL;
}

ampc_dtype ampc_node_input_dtype(const ampc_node *node, int input)
{
    AMPC_ASSERT(input >= 0 && input < node->num_inputs);
    return node->inputs[input].dtype;
}

int ampc_node_input_ndim(const ampc_node *node, int input)
{
    AMPC_ASSERT(input >= 0 && input < node->num_inputs);
    return node->inputs[input].ndim;
}

const int64_t *ampc_node_input_shape(const ampc_node *node, int input)
{
    AMPC_ASSERT(input >= 0 && input < node->num_inputs);
    return node->inputs[input].shape;
}

int ampc_node_num_inputs(const ampc_node *node)
{
    return node->num_inputs;
}

/* --- leaves and the public queries --------------------------------------------------------- */

static ampc_status make_leaf(const char *function, ampc_tensor *tensor)
{
    ampc_node *node = node_new(function, tensor->arena, 0, 0);
    if (!node) return ampc_error_status();
    describe_output(node, tensor);
    ampc_status status = attach_node(function, tensor, node);
    if (status != AMPC_OK) discard_node(node);
    return status;
}

ampc_status ampc_tensor_set_requires_grad(ampc_tensor *tensor, bool requires_grad)
{
    if (!tensor) return ampc_fail_null(__func__, "tensor");
    if (requires_grad && !ampc_dtype_is_differentiable(tensor->dtype))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "tensor has dtype %s; only F64, F32, F16 and BF16 tensors can "
                         "require grad",
                         ampc_dtype_name(tensor->dtype));
    if (!requires_grad && tensor->grad_node && !ampc_node_is_leaf(tensor->grad_node))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "tensor is the result of op \"%s\"; only a leaf's requires_grad can "
                         "be cleared (use ampc_tensor_detach for a copy that does not "
                         "require grad)",
                         tensor->grad_node->name);
    if (requires_grad == (tensor->grad_node != NULL)) return AMPC_OK;
    if (!requires_grad) {
        detach_node(tensor);
        return AMPC_OK;
    }
    return make_leaf(__func__, tensor);
}

bool ampc_tensor_requires_grad(const ampc_tensor *tensor)
{
    if (!tensor) {
        ampc_fail_null(__func__, "tensor");
        return false;
    }
    return tensor->grad_node != NULL;
}

bool ampc_tensor_is_leaf(const ampc_tensor *tensor)
{
    if (!tensor) {
        ampc_fail_null(__func__, "tensor");
        return false;
    }
    return !tensor->grad_node || ampc_node_is_leaf(tensor->grad_node);
}

const char *ampc_tensor_grad_fn_name(const ampc_tensor *tensor)
{
    if (!tensor) {
        ampc_fail_null(__func__, "tensor");
        return NULL;
    }
    return tensor->grad_node ? tensor->grad_node->name : NULL;
}

ampc_tensor *ampc_tensor_grad(const ampc_tensor *tensor)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    if (!tensor->grad_node || !ampc_node_is_leaf(tensor->grad_node)) return NULL;
    return tensor->grad_node->grad;
}

ampc_status ampc_tensor_zero_grad(ampc_tensor *tensor, bool set_to_none)
{
    if (!tensor) return ampc_fail_null(__func__, "tensor");
    ampc_tensor *grad = ampc_tensor_grad(tensor);
    if (!grad) return AMPC_OK;
    if (set_to_none && !tensor->grad_node->grad_pinned) {
        ampc_tensor_free(grad);
        tensor->grad_node->grad = NULL;
        return AMPC_OK;
    }
    /* All-zero bits are +0 in every float dtype; leaf gradients are contiguous. */
    memset(ampc_tensor_data(grad), 0, ampc_tensor_nbytes(grad));
    return AMPC_OK;
}

ampc_status ampc_autograd_pin_grad(const char *function, ampc_tensor *leaf, ampc_tensor *grad)
{
    ampc_node *node = leaf->grad_node;
    AMPC_ASSERT(node && ampc_node_is_leaf(node));
    AMPC_ASSERT(grad->dtype == leaf->dtype && grad->ndim == leaf->ndim);
    AMPC_ASSERT(ampc_layout_is_contiguous(grad->ndim, grad->shape, grad->strides));
    if (node->grad) {
        ampc_status status = ampc_tensor_copy(grad, node->grad);
        if (status != AMPC_OK) {
            ampc_tensor_free(grad);
            return ampc_fail(status, function, "could not move the existing gradient");
        }
        ampc_tensor_free(node->grad);
    } else {
        memset(ampc_tensor_data(grad), 0, ampc_tensor_nbytes(grad));
    }
    node->grad = grad;
    node->grad_pinned = true;
    return AMPC_OK;
}

ampc_tensor *ampc_tensor_detach(const ampc_tensor *tensor)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    return ampc_tensor_new_view(__func__, tensor);
}
