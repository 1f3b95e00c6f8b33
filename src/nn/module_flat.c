/* Flat parameter storage and dtype conversion of a module tree.
 *
 * ampc_module_flatten lays the tree's parameters of each dtype end to end in one heap block
 * (state_dict order), and their gradients likewise in a gradient block: each parameter tensor
 * keeps its header but becomes a contiguous view into the parameter block
 * (ampc_tensor_move_into), and each gradient is pinned as a view into the gradient block
 * (ampc_autograd_pin_grad), so backward accumulates straight into the block and a fused pass
 * (unscale, overflow check, optimizer step) walks one buffer per dtype.
 *
 * Flattening again when the tree is already laid out so is a no-op; otherwise (a parameter
 * added or converted since) everything is moved into fresh blocks, the old ones released.
 * ampc_module_to_dtype swaps each float tensor's storage for a converted copy under the same
 * header and, on a flattened module, flattens again. */
#include <ampc/autograd.h>
#include <ampc/nn.h>

#include <string.h>

#include "autograd/record.h"
#include "core/error.h"
#include "nn/module_internal.h"
#include "tensor/arena.h"
#include "tensor/tensor_internal.h"

void ampc_module_release_blocks(ampc_module *module)
{
    for (int dtype = 0; dtype < AMPC_DTYPE_COUNT; dtype++) {
        ampc_tensor_free(module->parameter_blocks[dtype]);
        ampc_tensor_free(module->gradient_blocks[dtype]);
        module->parameter_blocks[dtype] = module->gradient_blocks[dtype] = NULL;
    }
    module->flattened = false;
    for (int i = 0; i < module->num_children; i++)
        ampc_module_release_blocks(module->children[i].module);
}

/* Whether every parameter already sits at its place in this module's blocks, in order, with
 * its gradient pinned at the same place of the gradient block. */
static bool already_flat(const ampc_module *module, const module_tree_cache *tree)
{
    if (!module->flattened) return false;
    int64_t offsets[AMPC_DTYPE_COUNT] = {0};
    for (int i = 0; i < tree->num_parameters; i++) {
        const ampc_tensor *parameter = tree->entries[tree->parameter_entries[i]].tensor;
        const ampc_tensor *block = module->parameter_blocks[parameter->dtype];
        const ampc_tensor *gradient_block = module->gradient_blocks[parameter->dtype];
        const ampc_tensor *gradient = ampc_tensor_grad(parameter);
        int64_t offset = offsets[parameter->dtype];
        if (!block || parameter->storage != block->storage || parameter->offset != offset ||
            !ampc_layout_is_contiguous(parameter->ndim, parameter->shape, parameter->strides))
            return false;
        if (ampc_tensor_requires_grad(parameter) &&
            (!gradient || gradient->storage != gradient_block->storage ||
             gradient->offset != offset))
            return false;
        offsets[parameter->dtype] += ampc_tensor_numel(parameter);
    }
    for (int dtype = 0; dtype < AMPC_DTYPE_COUNT; dtype++)
        if (module->parameter_blocks[dtype] &&
            ampc_tensor_numel(module->parameter_blocks[dtype]) != offsets[dtype])
            return false;
    return true;
}

static ampc_tensor *new_block(const char *function, ampc_dtype dtype, int64_t numel,
                              ampc_memory_category category)
{
    ampc_tensor *block = ampc_tensor_new_in(function, NULL, dtype, 1, &numel);
    if (block && ampc_tensor_set_category(block, category) != AMPC_OK) {
        ampc_tensor_free(block);
        return NULL;
    }
    if (block) memset(ampc_tensor_data(block), 0, ampc_tensor_nbytes(block));
    return block;
}

/* A contiguous view of numel elements of block from offset, shaped like parameter. */
static ampc_tensor *gradient_view(const ampc_tensor *block, int64_t offset,
                                  const ampc_tensor *parameter)
{
    ampc_tensor *piece = ampc_tensor_narrow(block, 0, offset, ampc_tensor_numel(parameter));
    ampc_tensor *view = ampc_tensor_view(piece, parameter->ndim, parameter->shape);
    ampc_tensor_free(piece);
    return view;
}

/* Moves every parameter into new blocks (filled into blocks/gradient_blocks, which the
 * caller frees on failure). */
static ampc_status move_into_new_blocks(const char *function, const module_tree_cache *tree,
                                        ampc_tensor **blocks, ampc_tensor **gradient_blocks)
{
    int64_t totals[AMPC_DTYPE_COUNT] = {0};
    for (int i = 0; i < tree->num_parameters; i++) {
        const ampc_tensor *parameter = tree->entries[tree->parameter_entries[i]].tensor;
        totals[parameter->dtype] += ampc_tensor_numel(parameter);
    }
    for (int dtype = 0; dtype < AMPC_DTYPE_COUNT; dtype++) {
        bool used = false;
        for (int i = 0; i < tree->num_parameters; i++)
            used |= tree->entries[tree->parameter_entries[i]].tensor->dtype == (ampc_dtype)dtype;
        if (!used) continue;
        blocks[dtype] = new_block(function, dtype, totals[dtype], AMPC_MEMORY_PARAMETERS);
        gradient_blocks[dtype] = new_block(function, dtype, totals[dtype], AMPC_MEMORY_GRADIENTS);
        if (!blocks[dtype] || !gradient_blocks[dtype]) return ampc_error_status();
    }
    int64_t offsets[AMPC_DTYPE_COUNT] = {0};
    for (int i = 0; i < tree->num_parameters; i++) {
        ampc_tensor *parameter = tree->entries[tree->parameter_entries[i]].tensor;
        ampc_dtype dtype = parameter->dtype;
        ampc_status status = ampc_tensor_move_into(function, parameter, blocks[dtype],
                                                   offsets[dtype]);
        if (status != AMPC_OK) return status;
        if (ampc_tensor_requires_grad(parameter)) {
            ampc_tensor *gradient = gradient_view(gradient_blocks[dtype], offsets[dtype],
                                                  parameter);
            if (!gradient) return ampc_error_status();
            status = ampc_autograd_pin_grad(function, parameter, gradient);
            if (status != AMPC_OK) return status;
        }
        offsets[dtype] += ampc_tensor_numel(parameter);
    }
    return AMPC_OK;
}

static ampc_status flatten(const char *function, ampc_module *module)
{
    if (ampc_arena_current())
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "called inside an arena; the blocks are long-lived, so flatten "
                         "outside any arena");
    const module_tree_cache *tree = ampc_module_tree(module, function);
    if (!tree) return ampc_error_status();
    if (already_flat(module, tree)) return AMPC_OK;
    ampc_tensor *blocks[AMPC_DTYPE_COUNT] = {0}, *gradient_blocks[AMPC_DTYPE_COUNT] = {0};
    ampc_status status = move_into_new_blocks(function, tree, blocks, gradient_blocks);
    /* The parameters now hold references on the new blocks (or, after a failure, on
     * whichever block each one last moved into), so the old ones can go. */
    ampc_module_release_blocks(module);
    if (status != AMPC_OK) {
        for (int dtype = 0; dtype < AMPC_DTYPE_COUNT; dtype++) {
            ampc_tensor_free(blocks[dtype]);
            ampc_tensor_free(gradient_blocks[dtype]);
        }
        return status;
    }
    memcpy(module->parameter_blocks, blocks, sizeof blocks);
    memcpy(module->gradient_blocks, gradient_blocks, sizeof gradient_blocks);
    module->flattened = true;
    return AMPC_OK;
}

ampc_status ampc_module_flatten(ampc_module *module)
{
    if (!module) return ampc_fail_null(__func__, "module");
    return flatten(__func__, module);
}

static ampc_tensor *block_of(const char *function, const ampc_module *module, ampc_dtype dtype,
                             bool gradient)
{
    if (!module) return ampc_null_tensor(function, "module");
    if (!ampc_dtype_is_valid(dtype)) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "dtype %d is not a valid ampc_dtype",
                  (int)dtype);
        return NULL;
    }
    if (!module->flattened) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "the module is not flattened; call ampc_module_flatten first");
        return NULL;
    }
    return gradient ? module->gradient_blocks[dtype] : module->parameter_blocks[dtype];
}

ampc_tensor *ampc_module_parameter_block(const ampc_module *module, ampc_dtype dtype)
{
    return block_of(__func__, module, dtype, false);
}

ampc_tensor *ampc_module_gradient_block(const ampc_module *module, ampc_dtype dtype)
{
    return block_of(__func__, module, dtype, true);
}

/* --- dtype conversion ------------------------------------------------------------------------ */

/* Gives tensor (a module's parameter or buffer, a heap leaf) dtype in place: same header,
 * new storage holding the converted values. A parameter stays a leaf that requires grad;
 * its gradient, of the old dtype, is dropped. */
static ampc_status convert_in_place(const char *function, ampc_tensor *tensor, ampc_dtype dtype)
{
    bool requires_grad = ampc_tensor_requires_grad(tensor);
    ampc_tensor *converted = ampc_tensor_copy_new(function, NULL, tensor, dtype,
                                                  AMPC_OVERFLOW_DEFAULT);
    if (!converted) return ampc_error_status();
    ampc_status status = ampc_tensor_set_category(converted, ampc_tensor_category(tensor));
    if (status == AMPC_OK) status = ampc_tensor_set_requires_grad(tensor, false);
    if (status != AMPC_OK) {
        ampc_tensor_free(converted);
        return status;
    }
    ampc_storage *old = tensor->storage;
    tensor->storage = converted->storage;
    atomic_fetch_add(&converted->storage->refcount, 1);
    tensor->dtype = dtype;
    tensor->offset = converted->offset;
    memcpy(tensor->strides, converted->strides, sizeof tensor->strides);
    ampc_tensor_free(converted);
    ampc_storage_release(old);
    return requires_grad ? ampc_tensor_set_requires_grad(tensor, true) : AMPC_OK;
}

ampc_status ampc_module_to_dtype(ampc_module *module, ampc_dtype dtype)
{
    if (!module) return ampc_fail_null(__func__, "module");
    if (!(dtype == AMPC_F64 || dtype == AMPC_F32 || dtype == AMPC_F16 || dtype == AMPC_BF16))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "dtype %s is not one of F64, F32, F16, BF16 (parameters must be able "
                         "to require grad)",
                         ampc_dtype_name(dtype));
    const module_tree_cache *tree = ampc_module_tree(module, __func__);
    if (!tree) return ampc_error_status();
    for (int i = 0; i < tree->count; i++) {
        ampc_tensor *tensor = tree->entries[i].tensor;
        if (!ampc_dtype_is_float(tensor->dtype) || tensor->dtype == dtype) continue;
        ampc_status status = convert_in_place(__func__, tensor, dtype);
        if (status != AMPC_OK) return status;
    }
    return module->flattened ? flatten(__func__, module) : AMPC_OK;
}
