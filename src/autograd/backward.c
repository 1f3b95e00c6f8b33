/* The backward pass: from an output back to its leaves.
 *
 * Nodes are numbered in creation order and an op's inputs always exist before it, so running
 * the reached nodes from the highest number down is a topological order: every node has all
 * of its gradient summed before it runs. Each op node's incoming gradients are summed in
 * pending_grad; a leaf's are added into its grad. The pass first checks the whole reachable
 * graph (released records), so a refused backward changes nothing. */
#include <ampc/autograd.h>

#include <stdlib.h>
#include <string.h>

#include "autograd/node.h"
#include "core/error.h"
#include "ops/op_support.h"

static atomic_uint_fast64_t next_pass = 1;

typedef struct node_list {
    ampc_node **nodes;
    size_t count;
    size_t capacity;
} node_list;

static ampc_status list_push(node_list *list, ampc_node *node)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? 2 * list->capacity : 64;
        ampc_node **nodes = realloc(list->nodes, capacity * sizeof *nodes);
        if (!nodes) return ampc_fail_oom("ampc_backward", capacity * sizeof *nodes);
        list->nodes = nodes;
        list->capacity = capacity;
    }
    list->nodes[list->count++] = node;
    return AMPC_OK;
}

/* Every node reachable from root, each once. */
static ampc_status collect_reachable(ampc_node *root, node_list *reached)
{
    uint64_t pass = atomic_fetch_add(&next_pass, 1);
    node_list stack = {0};
    root->visit_mark = pass;
    ampc_status status = list_push(&stack, root);
    while (status == AMPC_OK && stack.count > 0) {
        ampc_node *node = stack.nodes[--stack.count];
        status = list_push(reached, node);
        for (int index = 0; status == AMPC_OK && index < node->num_inputs; index++) {
            ampc_node *input = node->inputs[index].node;
            if (!input || input->visit_mark == pass) continue;
            input->visit_mark = pass;
            status = list_push(&stack, input);
        }
    }
    free(stack.nodes);
    return status;
}

static int by_sequence_descending(const void *left, const void *right)
{
    uint64_t a = (*(ampc_node *const *)left)->sequence;
    uint64_t b = (*(ampc_node *const *)right)->sequence;
    return (a < b) - (a > b);
}

static ampc_status check_not_released(const node_list *reached)
{
    for (size_t index = 0; index < reached->count; index++) {
        const ampc_node *node = reached->nodes[index];
        if (node->released && node->had_saved)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, "ampc_backward",
                             "the graph through op \"%s\" was already released by an earlier "
                             "backward; pass retain_graph = true to the first backward to run "
                             "backward through the same graph again",
                             node->name);
    }
    return AMPC_OK;
}

static bool same_shape(int ndim, const int64_t *shape, const ampc_tensor *tensor)
{
    if (ampc_tensor_ndim(tensor) != ndim) return false;
    return memcmp(shape, ampc_tensor_shape(tensor), (size_t)ndim * sizeof *shape) == 0;
}

/* An op's (or a custom function's) gradient must match its input exactly. */
static ampc_status check_gradient(const ampc_node *node, int index, const ampc_tensor *grad)
{
    const node_input *input = &node->inputs[index];
    if (ampc_tensor_dtype(grad) == input->dtype && same_shape(input->ndim, input->shape, grad))
        return AMPC_OK;
    char given[AMPC_SHAPE_TEXT_CAPACITY], expected[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(given, sizeof given, ampc_tensor_ndim(grad), ampc_tensor_shape(grad));
    ampc_format_shape(expected, sizeof expected, input->ndim, input->shape);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, "ampc_backward",
                     "the backward of op \"%s\" gave input %d a %s gradient of shape %s; "
                     "expected %s of shape %s",
                     node->name, index, ampc_dtype_name(ampc_tensor_dtype(grad)), given,
                     ampc_dtype_name(input->dtype), expected);
}

/* Takes ownership of grad. */
static ampc_status add_to_pending(ampc_node *node, ampc_tensor *grad)
{
    if (!node->pending_grad) {
        node->pending_grad = grad;
        return AMPC_OK;
    }
    ampc_tensor *sum = ampc_sum_new("ampc_backward", node->pending_grad, grad);
    ampc_tensor_free(grad);
    if (!sum) return ampc_error_status();
    ampc_tensor_free(node->pending_grad);
    node->pending_grad = sum;
    return AMPC_OK;
}

static ampc_status accumulate_into_leaf(ampc_node *leaf, const ampc_tensor *grad)
{
    if (leaf->grad) return ampc_add_into("ampc_backward", leaf->grad, grad);
    leaf->grad = ampc_tensor_copy_new("ampc_backward", leaf->arena, grad, leaf->dtype,
                                      AMPC_OVERFLOW_DEFAULT);
    if (!leaf->grad) return ampc_error_status();
    if (!leaf->arena) ampc_tensor_set_category(leaf->grad, AMPC_MEMORY_GRADIENTS);
    return AMPC_OK;
}

/* Runs one op node's backward on dout and passes the gradients to its inputs. */
static ampc_status run_node(ampc_node *node, const ampc_tensor *dout)
{
    ampc_tensor *dinputs[node->num_inputs > 0 ? node->num_inputs : 1];
    memset(dinputs, 0, sizeof dinputs);
    ampc_status status = node->backward(node, dout, dinputs);
    for (int index = 0; index < node->num_inputs; index++) {
        ampc_node *input = node->inputs[index].node;
        if (status == AMPC_OK && input && dinputs[index]) {
            status = check_gradient(node, index, dinputs[index]);
            if (status == AMPC_OK) {
                status = add_to_pending(input, dinputs[index]);
                continue;
            }
        }
        ampc_tensor_free(dinputs[index]);
    }
    return status;
}

static ampc_status run_reached(const node_list *reached, bool retain_graph)
{
    ampc_status status = AMPC_OK;
    for (size_t index = 0; index < reached->count && status == AMPC_OK; index++) {
        ampc_node *node = reached->nodes[index];
        ampc_tensor *dout = node->pending_grad;
        node->pending_grad = NULL;
        if (!dout) continue;
        if (ampc_node_is_leaf(node)) {
            status = accumulate_into_leaf(node, dout);
        } else {
            ampc_tensor *contiguous = ampc_tensor_contiguous(dout);
            status = contiguous ? run_node(node, contiguous) : ampc_error_status();
            ampc_tensor_free(contiguous);
            if (!retain_graph) {
                ampc_node_release_saved(node);
                node->released = true;
            }
        }
        ampc_tensor_free(dout);
    }
    return status;
}

/* The root's gradient: the caller's, in the output's dtype and shape, or 1. */
static ampc_tensor *root_gradient(const ampc_tensor *output, const ampc_tensor *gradient)
{
    const char *function = "ampc_backward";
    int ndim = ampc_tensor_ndim(output);
    const int64_t *shape = ampc_tensor_shape(output);
    char text[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(text, sizeof text, ndim, shape);
    if (!gradient) {
        if (ampc_tensor_numel(output) == 1)
            return ampc_tensor_ones(ampc_tensor_dtype(output), ndim, shape);
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "gradient is NULL but output has shape %s; a gradient can be implied only "
                  "for a one-element output (pass dL/d(output) of shape %s)",
                  text, text);
        return NULL;
    }
    if (!ampc_dtype_is_differentiable(ampc_tensor_dtype(gradient)) ||
        !same_shape(ndim, shape, gradient)) {
        char given[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(given, sizeof given, ampc_tensor_ndim(gradient),
                          ampc_tensor_shape(gradient));
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "gradient is %s of shape %s; expected a float tensor of output's shape %s",
                  ampc_dtype_name(ampc_tensor_dtype(gradient)), given, text);
        return NULL;
    }
    return ampc_contiguous_as(function, gradient, ampc_tensor_dtype(output));
}

static ampc_status backward_from(ampc_node *root, ampc_tensor *root_grad, bool retain_graph)
{
    node_list reached = {0};
    ampc_status status = collect_reachable(root, &reached);
    if (status == AMPC_OK) status = check_not_released(&reached);
    if (status == AMPC_OK) {
        qsort(reached.nodes, reached.count, sizeof *reached.nodes, by_sequence_descending);
        root->pending_grad = root_grad;
        root_grad = NULL;
        status = run_reached(&reached, retain_graph);
    }
    /* After a failure, gradients still pending go; leaves keep what they had received. */
    for (size_t index = 0; index < reached.count; index++) {
        ampc_tensor_free(reached.nodes[index]->pending_grad);
        reached.nodes[index]->pending_grad = NULL;
    }
    ampc_tensor_free(root_grad);
    free(reached.nodes);
    return status;
}

ampc_status ampc_backward(const ampc_tensor *output, const ampc_tensor *gradient,
                          bool retain_graph)
{
    if (!output) return ampc_fail_null(__func__, "output");
    if (!output->grad_node)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "output does not require grad and has no grad_fn; expected the "
                         "result of ops on a tensor marked with ampc_tensor_set_requires_grad "
                         "(with grad mode on)");
    ampc_tensor *root_grad = root_gradient(output, gradient);
    if (!root_grad) return ampc_error_status();
    bool previous = ampc_grad_set_enabled(false);
    ampc_status status = backward_from(output->grad_node, root_grad, retain_graph);
    ampc_grad_set_enabled(previous);
    return status;
}
