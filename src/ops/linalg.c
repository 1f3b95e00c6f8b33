/* matmul and bmm: batched products with broadcast batch dims, through ampc_gemm.
 *
 * Both reduce to one canonical problem: A is a batch of (m, k) matrices, B of (k, n), C of
 * (m, n), all contiguous, with per-batch-dim strides that are 0 where an operand broadcasts
 * (a 1-d a is a (1, k) row, a 1-d b a (k, 1) column; the squeezed dims only change the
 * result's shape, not its layout). When the batch is a single stride apart in all three, one
 * batched GEMM call does it; when B is one matrix for every batch entry of a contiguous A,
 * the batch folds into A's rows (m * batch rows, one call, as torch does). Otherwise each
 * batch entry is its own call, in order.
 *
 * Backward: dA = dC B^T and dB = A^T dC with the transpose flags. An operand that broadcast
 * over batch dims gets the sum of its batch entries' products, accumulated in an fp32 (fp64)
 * buffer with beta = 1, in batch order, so the result does not depend on the thread count. */
#include <ampc/ops_linalg.h>

#include <ampc/autograd.h>
#include <ampc/gemm.h>

#include "autograd/record.h"
#include "core/error.h"
#include "ops/linalg_internal.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

typedef struct matmul_plan {
    int64_t m, k, n;
    int batch_ndim;
    int64_t batch[AMPC_MAX_DIMS];     /* the broadcast batch shape */
    int64_t batch_count;
    int64_t a_strides[AMPC_MAX_DIMS]; /* elements between A's matrices; 0 where A broadcasts */
    int64_t b_strides[AMPC_MAX_DIMS];
    int64_t c_strides[AMPC_MAX_DIMS]; /* C is a full contiguous batch */
    int out_ndim;
    int64_t out_shape[AMPC_MAX_DIMS];
} matmul_plan;

/* The strides of a contiguous batch of `matrix` elements each with shape `own` (aligned at
 * the right of the broadcast `batch`); 0 for the dims it lacks or has as size 1. */
static void batch_strides(int batch_ndim, int own_ndim, const int64_t *own, int64_t matrix,
                          int64_t *strides)
{
    int64_t stride = matrix;
    for (int dim = batch_ndim - 1; dim >= 0; dim--) {
        int own_dim = dim - (batch_ndim - own_ndim);
        int64_t size = own_dim >= 0 ? own[own_dim] : 1;
        strides[dim] = size == 1 ? 0 : stride;
        stride *= size;
    }
}

static ampc_status fail_shapes(const char *function, const ampc_tensor *a,
                               const ampc_tensor *b, const char *expected)
{
    char a_shape[AMPC_SHAPE_TEXT_CAPACITY], b_shape[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(a_shape, sizeof a_shape, a->ndim, a->shape);
    ampc_format_shape(b_shape, sizeof b_shape, b->ndim, b->shape);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "a has shape %s and b has shape %s; %s",
                     a_shape, b_shape, expected);
}

/* torch.matmul's shape rules; fails naming both shapes. */
static ampc_status plan_matmul(const char *function, const ampc_tensor *a, const ampc_tensor *b,
                               matmul_plan *plan)
{
    if (a->ndim == 0 || b->ndim == 0)
        return fail_shapes(function, a, b, "expected both to have at least 1 dim");
    bool a_vector = a->ndim == 1, b_vector = b->ndim == 1;
    plan->m = a_vector ? 1 : a->shape[a->ndim - 2];
    plan->k = a->shape[a->ndim - 1];
    int64_t b_k = b_vector ? b->shape[0] : b->shape[b->ndim - 2];
    plan->n = b_vector ? 1 : b->shape[b->ndim - 1];
    if (plan->k != b_k) {
        char expected[160];
        snprintf(expected, sizeof expected,
                 "expected a's last dim (%lld) to equal b's %s dim (%lld), the inner dim",
                 (long long)plan->k, b_vector ? "only" : "second-to-last", (long long)b_k);
        return fail_shapes(function, a, b, expected);
    }
    int a_batch = a_vector ? 0 : a->ndim - 2, b_batch = b_vector ? 0 : b->ndim - 2;
    plan->batch_ndim = a_batch > b_batch ? a_batch : b_batch;
    plan->batch_count = 1;
    for (int dim = 0; dim < plan->batch_ndim; dim++) {
        /* Batch dims align at the right; a missing one has size 1. */
        int a_dim = dim - (plan->batch_ndim - a_batch);
        int b_dim = dim - (plan->batch_ndim - b_batch);
        int64_t a_size = a_dim >= 0 ? a->shape[a_dim] : 1;
        int64_t b_size = b_dim >= 0 ? b->shape[b_dim] : 1;
        if (a_size != b_size && a_size != 1 && b_size != 1) {
            char expected[160];
            snprintf(expected, sizeof expected,
                     "expected batch dims that broadcast (batch dim %d is %lld in a and %lld "
                     "in b)",
                     dim, (long long)a_size, (long long)b_size);
            return fail_shapes(function, a, b, expected);
        }
        plan->batch[dim] = a_size == 1 ? b_size : a_size;
        plan->batch_count *= plan->batch[dim];
    }
    batch_strides(plan->batch_ndim, a_batch, a->shape, plan->m * plan->k, plan->a_strides);
    batch_strides(plan->batch_ndim, b_batch, b->shape, plan->k * plan->n, plan->b_strides);
    batch_strides(plan->batch_ndim, plan->batch_ndim, plan->batch, plan->m * plan->n,
                  plan->c_strides);
    plan->out_ndim = 0;
    for (int dim = 0; dim < plan->batch_ndim; dim++)
        plan->out_shape[plan->out_ndim++] = plan->batch[dim];
    if (!a_vector) plan->out_shape[plan->out_ndim++] = plan->m;
    if (!b_vector) plan->out_shape[plan->out_ndim++] = plan->n;
    return AMPC_OK;
}

/* Whether batch entry t of an operand with these strides starts t * *stride elements in,
 * for every t (so one batched GEMM call covers it). */
static bool single_stride(const matmul_plan *plan, const int64_t *strides, int64_t *stride)
{
    *stride = 0;
    int64_t later = 1;
    bool found = false;
    for (int dim = plan->batch_ndim - 1; dim >= 0; dim--) {
        if (plan->batch[dim] == 1) continue;
        if (!found) {
            *stride = strides[dim];
            found = true;
        } else if (strides[dim] != *stride * later) {
            return false;
        }
        later *= plan->batch[dim];
    }
    return true;
}

/* Elements into an operand of batch entry t. */
static int64_t batch_offset(const matmul_plan *plan, const int64_t *strides, int64_t t)
{
    int64_t offset = 0;
    for (int dim = plan->batch_ndim - 1; dim >= 0; dim--) {
        offset += (t % plan->batch[dim]) * strides[dim];
        t /= plan->batch[dim];
    }
    return offset;
}

static const void *advance(const void *data, ampc_dtype dtype, int64_t elements)
{
    return (const char *)data + (size_t)elements * ampc_dtype_size(dtype);
}

/* Runs desc (its m, n, k, operands and beta set, batch strides not) for every batch entry,
 * the operands' entries found through their strides. C's strides may have zeros (a sum over
 * those dims): then the entries run one call each, in order, and beta must be 1. */
static ampc_status gemm_over_batch(const matmul_plan *plan, ampc_gemm_desc desc,
                                   const int64_t *a_strides, const int64_t *b_strides,
                                   const int64_t *c_strides)
{
    if (plan->batch_count == 0) return AMPC_OK;
    int64_t a_stride, b_stride, c_stride;
    if (single_stride(plan, a_strides, &a_stride) && single_stride(plan, b_strides, &b_stride) &&
        single_stride(plan, c_strides, &c_stride) && (c_stride != 0 || plan->batch_count == 1)) {
        desc.batch = plan->batch_count;
        desc.a.batch_stride = a_stride;
        desc.b.batch_stride = b_stride;
        desc.c.batch_stride = c_stride;
        return ampc_gemm(&desc);
    }
    const void *a = desc.a.data, *b = desc.b.data;
    void *c = desc.c.data;
    desc.batch = 1;
    for (int64_t t = 0; t < plan->batch_count; t++) {
        desc.a.data = advance(a, desc.a.dtype, batch_offset(plan, a_strides, t));
        desc.b.data = advance(b, desc.b.dtype, batch_offset(plan, b_strides, t));
        desc.c.data = (void *)advance(c, desc.c.dtype, batch_offset(plan, c_strides, t));
        ampc_status status = ampc_gemm(&desc);
        if (status != AMPC_OK) return status;
    }
    return AMPC_OK;
}

/* B one matrix for a contiguous batch of A: the batch becomes rows of one (batch * m, k) A. */
static void fold_batch_into_rows(matmul_plan *plan)
{
    int64_t a_stride, b_stride;
    if (plan->batch_count <= 1 || !single_stride(plan, plan->b_strides, &b_stride) ||
        b_stride != 0 || !single_stride(plan, plan->a_strides, &a_stride) ||
        a_stride != plan->m * plan->k)
        return;
    plan->m *= plan->batch_count;
    plan->batch_ndim = 0;
    plan->batch_count = 1;
}

/* Whether an operand with these strides has one matrix per batch entry (no sum needed). An
 * empty batch covers nothing: the gradient is then a sum of no products, zeros. */
static bool covers_batch(const matmul_plan *plan, const int64_t *strides, int64_t matrix)
{
    int64_t stride;
    if (plan->batch_count == 0) return false;
    return plan->batch_count == 1 || (single_stride(plan, strides, &stride) && stride == matrix);
}

/* Input `input`'s gradient: desc (sizes, transposes, a and b set) for every batch entry, the
 * matrices found through these strides. Where the input broadcast across batch entries, their
 * products are summed into a zeroed compute-dtype buffer (beta = 1), in batch order. */
static ampc_tensor *matmul_gradient(const ampc_node *node, int input, const matmul_plan *plan,
                                    ampc_gemm_desc desc, const int64_t *a_strides,
                                    const int64_t *b_strides, const int64_t *c_strides)
{
    ampc_dtype wanted = ampc_node_input_dtype(node, input);
    int ndim = ampc_node_input_ndim(node, input);
    const int64_t *shape = ampc_node_input_shape(node, input);
    bool accumulate = !covers_batch(plan, c_strides, desc.m * desc.n);
    ampc_tensor *gradient =
        accumulate ? ampc_tensor_zeros(ampc_compute_dtype(desc.a.dtype), ndim, shape)
                   : ampc_tensor_new(__func__, linalg_gemm_c_dtype(desc.a.dtype, wanted), ndim,
                                     shape);
    if (!gradient) return NULL;
    desc.alpha = 1;
    desc.beta = accumulate ? 1 : 0;
    desc.c = (ampc_gemm_output){gradient->dtype, ampc_tensor_data(gradient), desc.n, 0};
    if (gemm_over_batch(plan, desc, a_strides, b_strides, c_strides) != AMPC_OK) {
        ampc_tensor_free(gradient);
        return NULL;
    }
    return ampc_from_compute(__func__, gradient, wanted);
}

static ampc_status matmul_backward(const ampc_node *node, const ampc_tensor *dout,
                                   ampc_tensor **dinputs)
{
    /* The saved operands are the contiguous promoted copies the forward multiplied. */
    const ampc_tensor *a = ampc_node_saved(node, 0), *b = ampc_node_saved(node, 1);
    matmul_plan plan;
    if (plan_matmul(__func__, a, b, &plan) != AMPC_OK) return ampc_error_status();
    fold_batch_into_rows(&plan);
    if (ampc_node_needs_grad(node, 0)) { /* dA = dC B^T: (m, n) (n, k) */
        ampc_gemm_desc desc = {.transpose_b = AMPC_TRANSPOSE, .m = plan.m, .n = plan.k,
                               .k = plan.n,
                               .a = {dout->dtype, ampc_tensor_data(dout), plan.n, 0},
                               .b = {b->dtype, ampc_tensor_data(b), plan.n, 0}};
        dinputs[0] = matmul_gradient(node, 0, &plan, desc, plan.c_strides, plan.b_strides,
                                     plan.a_strides);
        if (!dinputs[0]) return ampc_error_status();
    }
    if (ampc_node_needs_grad(node, 1)) { /* dB = A^T dC: (k, m) (m, n) */
        ampc_gemm_desc desc = {.transpose_a = AMPC_TRANSPOSE, .m = plan.k, .n = plan.n,
                               .k = plan.m,
                               .a = {a->dtype, ampc_tensor_data(a), plan.k, 0},
                               .b = {dout->dtype, ampc_tensor_data(dout), plan.n, 0}};
        dinputs[1] = matmul_gradient(node, 1, &plan, desc, plan.a_strides, plan.c_strides,
                                     plan.b_strides);
        if (!dinputs[1]) return ampc_error_status();
    }
    return AMPC_OK;
}

/* The product of validated inputs, recorded as `name`. */
static ampc_tensor *matmul_forward(const char *function, const char *name, const ampc_tensor *a,
                                   const ampc_tensor *b)
{
    if (ampc_check_float_tensor(function, "a", a) != AMPC_OK ||
        ampc_check_float_tensor(function, "b", b) != AMPC_OK)
        return NULL;
    matmul_plan plan;
    if (plan_matmul(function, a, b, &plan) != AMPC_OK) return NULL;
    ampc_dtype dtype = ampc_promote_float(a->dtype, b->dtype);
    if (ampc_shape_checked_numel(function, dtype, plan.out_ndim, plan.out_shape) < 0) return NULL;
    ampc_tensor *a_c = ampc_contiguous_as(function, a, dtype);
    ampc_tensor *b_c = ampc_contiguous_as(function, b, dtype);
    ampc_tensor *out = a_c && b_c ? ampc_tensor_new(function, dtype, plan.out_ndim, plan.out_shape)
                                  : NULL;
    ampc_status status = out ? AMPC_OK : ampc_error_status();
    if (status == AMPC_OK) {
        fold_batch_into_rows(&plan);
        ampc_gemm_desc desc = {.m = plan.m, .n = plan.n, .k = plan.k, .alpha = 1,
                               .a = {dtype, ampc_tensor_data(a_c), plan.k, 0},
                               .b = {dtype, ampc_tensor_data(b_c), plan.n, 0},
                               .c = {dtype, ampc_tensor_data(out), plan.n, 0}};
        status = gemm_over_batch(&plan, desc, plan.a_strides, plan.b_strides, plan.c_strides);
    }
    if (status == AMPC_OK) {
        const ampc_tensor *inputs[] = {a, b}, *saved[] = {a_c, b_c};
        ampc_op_record record = {.name = name, .backward = matmul_backward, .num_inputs = 2,
                                 .inputs = inputs, .num_saved = 2, .saved = saved};
        status = ampc_autograd_record(function, out, &record);
    }
    ampc_tensor_free(a_c);
    ampc_tensor_free(b_c);
    if (status != AMPC_OK) {
        ampc_tensor_free(out);
        return NULL;
    }
    return out;
}

ampc_tensor *ampc_matmul(const ampc_tensor *a, const ampc_tensor *b)
{
    return matmul_forward(__func__, "matmul", a, b);
}

ampc_tensor *ampc_bmm(const ampc_tensor *a, const ampc_tensor *b)
{
    if (ampc_check_float_tensor(__func__, "a", a) != AMPC_OK ||
        ampc_check_float_tensor(__func__, "b", b) != AMPC_OK)
        return NULL;
    if (a->ndim != 3 || b->ndim != 3) {
        fail_shapes(__func__, a, b, "expected both to have 3 dims, (B, M, K) and (B, K, N)");
        return NULL;
    }
    if (a->shape[0] != b->shape[0]) {
        fail_shapes(__func__, a, b,
                    "expected the same batch size B in dim 0 (bmm does not broadcast; "
                    "ampc_matmul does)");
        return NULL;
    }
    return matmul_forward(__func__, "bmm", a, b);
}
