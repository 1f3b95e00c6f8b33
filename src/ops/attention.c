/* Scaled dot-product attention, composed from batched GEMMs and the softmax kernels of
 * src/kernels/attention_softmax.c:
 *
 *     scores = scale * q k^T        (batch, L, S)   GEMM, alpha = scale
 *     P      = softmax(scores)      row by row, masked, max-subtracted; lse kept
 *     out    = P v                  (batch, L, Ev)  GEMM, rounded once to the output dtype
 *
 * Everything between the GEMMs is in the compute dtype (fp32; fp64 for F64): q, k and v are
 * widened once, so the softmax's statistics and P never round to 16 bits. The backward keeps
 * only the inputs and lse (batch * L values), recomputes P = exp(scores - lse), and runs
 *
 *     dv = P^T dout,   dP = dout v^T,   dS = scale * P * (dP - rowsum(P * dP)),
 *     dq = dS k,       dk = dS^T q
 *
 * with the transposes as GEMM flags. */
#include <ampc/ops_linalg.h>

#include <math.h>

#include <ampc/autograd.h>
#include <ampc/gemm.h>

#include "autograd/record.h"
#include "core/error.h"
#include "kernels/attention_kernels.h"
#include "ops/linalg_internal.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

typedef struct attention_params {
    bool is_causal;
    double scale; /* resolved: never 0 */
} attention_params;

typedef struct attention_sizes {
    int64_t batch, queries, keys, head, value_head; /* batch, L, S, E, Ev */
} attention_sizes;

static attention_sizes sizes_of(const ampc_tensor *q, const ampc_tensor *k,
                                const ampc_tensor *v)
{
    int ndim = q->ndim;
    return (attention_sizes){.batch = ampc_shape_numel(ndim - 2, q->shape),
                             .queries = q->shape[ndim - 2], .keys = k->shape[ndim - 2],
                             .head = q->shape[ndim - 1], .value_head = v->shape[ndim - 1]};
}

/* alpha op(a) op(b) for each of `batch` contiguous matrices (op(a) is m x k), c not set. */
static ampc_gemm_desc batched_desc(int64_t batch, ampc_gemm_transpose transpose_a,
                                   ampc_gemm_transpose transpose_b, int64_t m, int64_t n, int64_t k,
                                   double alpha, const ampc_tensor *a, const ampc_tensor *b)
{
    int64_t a_columns = transpose_a == AMPC_TRANSPOSE ? m : k;
    int64_t b_columns = transpose_b == AMPC_TRANSPOSE ? k : n;
    return (ampc_gemm_desc){
        .transpose_a = transpose_a, .transpose_b = transpose_b, .m = m, .n = n, .k = k,
        .batch = batch, .alpha = alpha,
        .a = {a->dtype, ampc_tensor_data(a), a_columns > 0 ? a_columns : 1, m * k},
        .b = {b->dtype, ampc_tensor_data(b), b_columns > 0 ? b_columns : 1, k * n}};
}

/* scores = scale q k^T, (batch, L, S) in the compute dtype of q and k. */
static ampc_tensor *attention_scores(const attention_sizes *sizes, double scale,
                                     const ampc_tensor *q, const ampc_tensor *k)
{
    ampc_gemm_desc desc = batched_desc(sizes->batch, AMPC_TRANSPOSE_NONE, AMPC_TRANSPOSE,
                                       sizes->queries, sizes->keys, sizes->head, scale, q, k);
    return linalg_gemm_new(__func__, &desc, q->dtype, 3,
                           (int64_t[]){sizes->batch, sizes->queries, sizes->keys});
}

static void softmax_rows(ampc_tensor *scores, ampc_tensor *lse, const attention_sizes *sizes,
                         bool causal)
{
    int64_t rows = sizes->batch * sizes->queries;
    if (scores->dtype == AMPC_F64)
        ampc_attention_softmax_double(ampc_tensor_data(scores), ampc_tensor_data(lse), rows,
                                      sizes->queries, sizes->keys, causal);
    else
        ampc_attention_softmax_float(ampc_tensor_data(scores), ampc_tensor_data(lse), rows,
                                     sizes->queries, sizes->keys, causal);
}

static void probabilities_again(ampc_tensor *scores, const ampc_tensor *lse,
                                const attention_sizes *sizes, bool causal)
{
    int64_t rows = sizes->batch * sizes->queries;
    if (scores->dtype == AMPC_F64)
        ampc_attention_probabilities_double(ampc_tensor_data(scores), ampc_tensor_data(lse),
                                            rows, sizes->queries, sizes->keys, causal);
    else
        ampc_attention_probabilities_float(ampc_tensor_data(scores), ampc_tensor_data(lse),
                                           rows, sizes->queries, sizes->keys, causal);
}

static void softmax_backward_rows(ampc_tensor *dscores, const ampc_tensor *probabilities,
                                  const attention_sizes *sizes, double scale)
{
    int64_t rows = sizes->batch * sizes->queries;
    if (dscores->dtype == AMPC_F64)
        ampc_attention_softmax_backward_double(ampc_tensor_data(dscores),
                                               ampc_tensor_data(probabilities), rows,
                                               sizes->keys, scale);
    else
        ampc_attention_softmax_backward_float(ampc_tensor_data(dscores),
                                              ampc_tensor_data(probabilities), rows,
                                              sizes->keys, scale);
}

/* The gradient of input `input` as op(a) op(b) (m x n per batch entry), in its dtype. */
static ampc_tensor *input_gradient(const ampc_node *node, int input, const attention_sizes *sizes,
                                   ampc_gemm_transpose transpose_a, int64_t m, int64_t n, int64_t k,
                                   const ampc_tensor *a, const ampc_tensor *b)
{
    ampc_gemm_desc desc =
        batched_desc(sizes->batch, transpose_a, AMPC_TRANSPOSE_NONE, m, n, k, 1, a, b);
    return linalg_gemm_new(__func__, &desc, ampc_node_input_dtype(node, input),
                           ampc_node_input_ndim(node, input), ampc_node_input_shape(node, input));
}

/* Everything the backward works on, in the compute dtype. */
typedef struct attention_operands {
    ampc_tensor *q, *k, *v, *dout, *probabilities, *dscores;
} attention_operands;

static void free_operands(attention_operands *operands)
{
    ampc_tensor_free(operands->q);
    ampc_tensor_free(operands->k);
    ampc_tensor_free(operands->v);
    ampc_tensor_free(operands->dout);
    ampc_tensor_free(operands->probabilities);
    ampc_tensor_free(operands->dscores);
}

/* P again, and dS = scale P (dP - rowsum(P dP)) with dP = dout v^T when q or k need it. */
static ampc_status attention_backward_operands(const ampc_node *node, const ampc_tensor *dout,
                                               const attention_sizes *sizes,
                                               attention_operands *operands)
{
    const attention_params *params = ampc_node_params(node);
    const ampc_tensor *lse = ampc_node_saved(node, 3);
    ampc_dtype compute = ampc_tensor_dtype(lse);
    operands->q = ampc_contiguous_as(__func__, ampc_node_saved(node, 0), compute);
    operands->k = ampc_contiguous_as(__func__, ampc_node_saved(node, 1), compute);
    operands->v = ampc_contiguous_as(__func__, ampc_node_saved(node, 2), compute);
    operands->dout = ampc_contiguous_as(__func__, dout, compute);
    if (!operands->q || !operands->k || !operands->v || !operands->dout)
        return ampc_error_status();
    operands->probabilities = attention_scores(sizes, params->scale, operands->q, operands->k);
    if (!operands->probabilities) return ampc_error_status();
    probabilities_again(operands->probabilities, lse, sizes, params->is_causal);
    if (!ampc_node_needs_grad(node, 0) && !ampc_node_needs_grad(node, 1)) return AMPC_OK;
    /* dP = dout v^T: (L, Ev) (Ev, S) */
    ampc_gemm_desc desc =
        batched_desc(sizes->batch, AMPC_TRANSPOSE_NONE, AMPC_TRANSPOSE, sizes->queries,
                     sizes->keys, sizes->value_head, 1, operands->dout, operands->v);
    operands->dscores = linalg_gemm_new(__func__, &desc, compute, 3,
                                        (int64_t[]){sizes->batch, sizes->queries, sizes->keys});
    if (!operands->dscores) return ampc_error_status();
    softmax_backward_rows(operands->dscores, operands->probabilities, sizes, params->scale);
    return AMPC_OK;
}

static ampc_status attention_backward(const ampc_node *node, const ampc_tensor *dout,
                                      ampc_tensor **dinputs)
{
    attention_sizes sizes =
        sizes_of(ampc_node_saved(node, 0), ampc_node_saved(node, 1), ampc_node_saved(node, 2));
    attention_operands operands = {0};
    ampc_status status = attention_backward_operands(node, dout, &sizes, &operands);
    int64_t L = sizes.queries, S = sizes.keys;
    /* dq = dS k: (L, S) (S, E).  dk = dS^T q: (S, L) (L, E).  dv = P^T dout: (S, L) (L, Ev). */
    if (status == AMPC_OK && ampc_node_needs_grad(node, 0) &&
        !(dinputs[0] = input_gradient(node, 0, &sizes, AMPC_TRANSPOSE_NONE, L, sizes.head, S,
                                      operands.dscores, operands.k)))
        status = ampc_error_status();
    if (status == AMPC_OK && ampc_node_needs_grad(node, 1) &&
        !(dinputs[1] = input_gradient(node, 1, &sizes, AMPC_TRANSPOSE, S, sizes.head, L,
                                      operands.dscores, operands.q)))
        status = ampc_error_status();
    if (status == AMPC_OK && ampc_node_needs_grad(node, 2) &&
        !(dinputs[2] = input_gradient(node, 2, &sizes, AMPC_TRANSPOSE, S, sizes.value_head, L,
                                      operands.probabilities, operands.dout)))
        status = ampc_error_status();
    free_operands(&operands);
    return status;
}

static ampc_status fail_shapes(const char *function, const ampc_tensor *q, const ampc_tensor *k,
                               const ampc_tensor *v, const char *expected)
{
    char q_shape[AMPC_SHAPE_TEXT_CAPACITY], k_shape[AMPC_SHAPE_TEXT_CAPACITY],
        v_shape[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(q_shape, sizeof q_shape, q->ndim, q->shape);
    ampc_format_shape(k_shape, sizeof k_shape, k->ndim, k->shape);
    ampc_format_shape(v_shape, sizeof v_shape, v->ndim, v->shape);
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "q has shape %s, k %s and v %s; expected %s", q_shape, k_shape, v_shape,
                     expected);
}

static ampc_status check_attention(const char *function, const ampc_tensor *q,
                                   const ampc_tensor *k, const ampc_tensor *v, double scale)
{
    if (ampc_check_float_tensor(function, "q", q) != AMPC_OK ||
        ampc_check_float_tensor(function, "k", k) != AMPC_OK ||
        ampc_check_float_tensor(function, "v", v) != AMPC_OK)
        return ampc_error_status();
    if (!isfinite(scale))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "scale is %g; expected a finite number (0 for 1/sqrt(E))", scale);
    int ndim = q->ndim;
    if (ndim < 2 || k->ndim != ndim || v->ndim != ndim)
        return fail_shapes(function, q, k, v,
                           "the same number of dims, at least 2: (..., L, E), (..., S, E) and "
                           "(..., S, Ev)");
    for (int dim = 0; dim < ndim - 2; dim++)
        if (k->shape[dim] != q->shape[dim] || v->shape[dim] != q->shape[dim])
            return fail_shapes(function, q, k, v, "the same leading (batch) dims in all three");
    if (k->shape[ndim - 1] != q->shape[ndim - 1])
        return fail_shapes(function, q, k, v, "k's last dim (E) to equal q's last dim");
    if (v->shape[ndim - 2] != k->shape[ndim - 2])
        return fail_shapes(function, q, k, v,
                           "v's second-to-last dim (S) to equal k's second-to-last dim");
    return AMPC_OK;
}

/* softmax(scale q k^T) v, of `dtype` and `shape`, writing lse; q, k, v contiguous in the
 * compute dtype. */
static ampc_tensor *attention_forward(const attention_sizes *sizes,
                                      const attention_params *params, const ampc_tensor *q,
                                      const ampc_tensor *k, const ampc_tensor *v,
                                      ampc_tensor *lse, ampc_dtype dtype, int ndim,
                                      const int64_t *shape)
{
    ampc_tensor *probabilities = attention_scores(sizes, params->scale, q, k);
    if (!probabilities) return NULL;
    softmax_rows(probabilities, lse, sizes, params->is_causal);
    ampc_gemm_desc desc = batched_desc(sizes->batch, AMPC_TRANSPOSE_NONE, AMPC_TRANSPOSE_NONE,
                                       sizes->queries, sizes->value_head, sizes->keys, 1,
                                       probabilities, v);
    ampc_tensor *out = linalg_gemm_new(__func__, &desc, dtype, ndim, shape);
    ampc_tensor_free(probabilities);
    return out;
}

/* 1/sqrt(E), PyTorch's default; 1 for E = 0, where every score is 0 anyway. */
static double default_scale(int64_t head)
{
    return head > 0 ? 1 / sqrt((double)head) : 1;
}

ampc_tensor *ampc_scaled_dot_product_attention(const ampc_tensor *q, const ampc_tensor *k,
                                               const ampc_tensor *v, bool is_causal,
                                               double scale)
{
    if (check_attention(__func__, q, k, v, scale) != AMPC_OK) return NULL;
    attention_sizes sizes = sizes_of(q, k, v);
    attention_params params = {.is_causal = is_causal,
                               .scale = scale != 0 ? scale : default_scale(sizes.head)};
    ampc_dtype dtype = ampc_promote_float(ampc_promote_float(q->dtype, k->dtype), v->dtype);
    ampc_dtype compute = ampc_compute_dtype(dtype);
    int64_t shape[AMPC_MAX_DIMS];
    for (int dim = 0; dim < q->ndim; dim++) shape[dim] = q->shape[dim];
    shape[q->ndim - 1] = sizes.value_head;
    if (ampc_shape_checked_numel(__func__, dtype, q->ndim, shape) < 0 ||
        ampc_shape_checked_numel(__func__, compute, 3,
                                 (int64_t[]){sizes.batch, sizes.queries, sizes.keys}) < 0)
        return NULL;
    ampc_tensor *q_c = ampc_contiguous_as(__func__, q, compute);
    ampc_tensor *k_c = ampc_contiguous_as(__func__, k, compute);
    ampc_tensor *v_c = ampc_contiguous_as(__func__, v, compute);
    ampc_tensor *lse = ampc_tensor_new(__func__, compute, 2,
                                       (int64_t[]){sizes.batch, sizes.queries});
    ampc_tensor *out = q_c && k_c && v_c && lse ? attention_forward(&sizes, &params, q_c, k_c,
                                                                     v_c, lse, dtype, q->ndim,
                                                                     shape)
                                                 : NULL;
    ampc_status status = out ? AMPC_OK : ampc_error_status();
    if (status == AMPC_OK) {
        /* The inputs themselves are saved (not their widened copies), so 16-bit activations
         * stay 16-bit until the backward. */
        const ampc_tensor *inputs[] = {q, k, v}, *saved[] = {q, k, v, lse};
        ampc_op_record record = {.name = "scaled_dot_product_attention",
                                 .backward = attention_backward, .num_inputs = 3,
                                 .inputs = inputs, .num_saved = 4, .saved = saved,
                                 .params = &params, .params_size = sizeof params};
        status = ampc_autograd_record(__func__, out, &record);
    }
    ampc_tensor_free(q_c);
    ampc_tensor_free(k_c);
    ampc_tensor_free(v_c);
    ampc_tensor_free(lse);
    if (status != AMPC_OK) {
        ampc_tensor_free(out);
        return NULL;
    }
    return out;
}
