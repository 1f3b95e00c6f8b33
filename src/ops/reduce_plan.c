/* The reduction plan: dims validation and the (outer, size, inner) layout, plus the kernel
 * call and recording step the family shares (reduce_plan.h). */
#include "ops/reduce_plan.h"

#include "core/error.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

ampc_status reduce_wrap_dim(const char *function, const char *argument, int dim, int ndim,
                            int *wrapped)
{
    if (ndim > 0) return ampc_wrap_dim(function, argument, dim, ndim, wrapped);
    if (dim == 0 || dim == -1) {
        *wrapped = 0;
        return AMPC_OK;
    }
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "%s is %d; expected 0 or -1 (the tensor has 0 dims)", argument, dim);
}

static ampc_status mark_dims(const char *function, int ndim, int num_dims, const int *dims,
                             bool *reduced)
{
    /* PyTorch lets a 0-d tensor take dim 0 or -1, as if it had one dim of size 1. */
    int dims_allowed = ndim == 0 ? 1 : ndim;
    if (num_dims < 0 || num_dims > dims_allowed)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "num_dims is %d; expected 0 (all dims) to %d", num_dims,
                         dims_allowed);
    if (num_dims > 0 && !dims) return ampc_fail_null(function, "dims");
    for (int d = 0; d < ndim; d++) reduced[d] = num_dims == 0;
    for (int k = 0; k < num_dims; k++) {
        int dim;
        if (reduce_wrap_dim(function, "dims entry", dims[k], ndim, &dim) != AMPC_OK)
            return ampc_error_status();
        for (int j = 0; j < k; j++) {
            int earlier;
            reduce_wrap_dim(function, "dims entry", dims[j], ndim, &earlier);
            if (earlier == dim)
                return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                                 "dims[%d] = %d and dims[%d] = %d are the same dim %d; "
                                 "expected each dim at most once",
                                 j, dims[j], k, dims[k], dim);
        }
        if (ndim > 0) reduced[dim] = true;
    }
    return AMPC_OK;
}

/* Whether the reduced dims of size other than 1 are adjacent, so the input's own order is
 * (outer, size, inner). */
static bool reduced_dims_adjacent(const reduce_plan *plan)
{
    int first = -1, last = -1;
    for (int d = 0; d < plan->ndim; d++)
        if (plan->reduced[d] && plan->shape[d] != 1) {
            if (first < 0) first = d;
            last = d;
        }
    for (int d = first + 1; d < last; d++)
        if (!plan->reduced[d] && plan->shape[d] != 1) return false;
    return true;
}

static void plan_sizes(reduce_plan *plan)
{
    plan->outer = plan->size = plan->inner = 1;
    bool seen_reduced = false;
    for (int d = 0; d < plan->ndim; d++) {
        if (plan->reduced[d]) {
            plan->size *= plan->shape[d];
            if (plan->shape[d] != 1) seen_reduced = true;
        } else if (seen_reduced && !plan->permuted) {
            plan->inner *= plan->shape[d];
        } else {
            plan->outer *= plan->shape[d];
        }
    }
}

ampc_status reduce_plan_make(const char *function, const ampc_tensor *input, int num_dims,
                             const int *dims, bool keepdim, reduce_plan *plan)
{
    if (!input) return ampc_fail_null(function, "a");
    *plan = (reduce_plan){.ndim = input->ndim};
    for (int d = 0; d < input->ndim; d++) plan->shape[d] = input->shape[d];
    if (mark_dims(function, input->ndim, num_dims, dims, plan->reduced) != AMPC_OK)
        return ampc_error_status();
    for (int d = 0; d < plan->ndim; d++) {
        if (!plan->reduced[d])
            plan->out_shape[plan->out_ndim++] = plan->shape[d];
        else if (keepdim)
            plan->out_shape[plan->out_ndim++] = 1;
    }
    plan->permuted = !reduced_dims_adjacent(plan);
    int next = 0;
    for (int pass = 0; pass < (plan->permuted ? 2 : 1); pass++) /* kept, then reduced */
        for (int d = 0; d < plan->ndim; d++)
            if (!plan->permuted || plan->reduced[d] == (pass == 1)) plan->perm[next++] = d;
    for (int d = 0; d < plan->ndim; d++) plan->layout_shape[d] = plan->shape[plan->perm[d]];
    plan_sizes(plan);
    return AMPC_OK;
}

ampc_tensor *reduce_plan_layout(const char *function, const reduce_plan *plan,
                                const ampc_tensor *input)
{
    if (!plan->permuted) return ampc_to_compute(function, input);
    ampc_tensor *view = ampc_tensor_permute(input, plan->perm);
    ampc_tensor *layout = view ? ampc_contiguous_as(function, view,
                                                    ampc_compute_dtype(input->dtype))
                               : NULL;
    ampc_tensor_free(view);
    return layout;
}

ampc_tensor *reduce_plan_new_layout(const char *function, const reduce_plan *plan,
                                    ampc_dtype compute_dtype)
{
    return ampc_tensor_new(function, compute_dtype, plan->ndim, plan->layout_shape);
}

ampc_tensor *reduce_plan_unlayout(const char *function, const reduce_plan *plan,
                                  ampc_tensor *computed, ampc_dtype dtype)
{
    if (!computed) return NULL;
    if (!plan->permuted) return ampc_from_compute(function, computed, dtype);
    int inverse[AMPC_MAX_DIMS];
    for (int d = 0; d < plan->ndim; d++) inverse[plan->perm[d]] = d;
    ampc_tensor *view = ampc_tensor_permute(computed, inverse);
    ampc_tensor *result = view ? ampc_contiguous_as(function, view, dtype) : NULL;
    ampc_tensor_free(view);
    ampc_tensor_free(computed);
    return result;
}

ampc_status reduce_run(const char *function, reduce_kind kind, ampc_tensor *out,
                       const ampc_tensor *x, const ampc_tensor *center, int64_t outer,
                       int64_t size, int64_t inner)
{
    int64_t workspace_size = reduce_workspace_size(outer, size, inner);
    ampc_tensor *workspace = NULL;
    if (workspace_size > 0) {
        workspace = ampc_tensor_new(function, out->dtype, 1, &workspace_size);
        if (!workspace) return ampc_error_status();
    }
    void *scratch = workspace ? ampc_tensor_data(workspace) : NULL;
    const void *mean = center ? ampc_tensor_data(center) : NULL;
    if (out->dtype == AMPC_F64)
        reduce_f64(kind, ampc_tensor_data(out), ampc_tensor_data(x), mean, outer, size, inner,
                   scratch);
    else
        reduce_f32(kind, ampc_tensor_data(out), ampc_tensor_data(x), mean, outer, size, inner,
                   scratch);
    ampc_tensor_free(workspace);
    return AMPC_OK;
}
