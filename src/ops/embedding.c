/* ampc_embedding: a row lookup forward, a scatter-add backward.
 *
 * The forward copies rows of weight as raw bytes (no rounding happens). The backward adds
 * each upstream row into dweight's row for its index, in the compute dtype (fp32 for F16 and
 * BF16 weights, so repeated indices do not accumulate in 16 bits), and rounds once at the
 * end. Threads split dweight's columns, so each element's sum runs over the indices in their
 * order whatever the thread count. */
#include <ampc/cpu.h>
#include <ampc/ops_norm.h>

#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "autograd/record.h"
#include "core/error.h"
#include "ops/op_support.h"
#include "tensor/tensor_internal.h"

/* Below this many copied or summed elements the work stays on the calling thread. */
#define EMBEDDING_PARALLEL_MIN_ELEMENTS ((int64_t)1 << 15)

typedef struct embedding_params {
    int64_t padding_idx;
} embedding_params;

static int embedding_threads(int64_t tasks, int64_t elements)
{
    if (tasks < 2 || elements < EMBEDDING_PARALLEL_MIN_ELEMENTS) return 1;
    int threads = ampc_num_threads();
    return tasks < threads ? (int)tasks : threads;
}

/* Fails naming the first index outside [0, rows), with its position in indices. */
static ampc_status check_indices(const char *function, const ampc_tensor *indices,
                                 const int64_t *index, int64_t rows)
{
    int64_t n = ampc_tensor_numel(indices);
    for (int64_t k = 0; k < n; k++) {
        if (index[k] >= 0 && index[k] < rows) continue;
        int ndim = ampc_tensor_ndim(indices);
        int64_t position[AMPC_MAX_DIMS], rest = k;
        for (int dim = ndim - 1; dim >= 0; dim--) {
            position[dim] = rest % ampc_tensor_dim(indices, dim);
            rest /= ampc_tensor_dim(indices, dim);
        }
        char text[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(text, sizeof text, ndim, position);
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "indices%s is %lld; expected 0 <= index < %lld (weight's rows)", text,
                         (long long)index[k], (long long)rows);
    }
    return AMPC_OK;
}

static ampc_status check_arguments(const char *function, const ampc_tensor *indices,
                                   const ampc_tensor *weight, int64_t padding_idx)
{
    if (!indices) return ampc_fail_null(function, "indices");
    ampc_dtype dtype = ampc_tensor_dtype(indices);
    if (dtype != AMPC_I64 && dtype != AMPC_I32)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "indices has dtype %s; expected I64 or I32 (row numbers)",
                         ampc_dtype_name(dtype));
    if (ampc_tensor_ndim(indices) > AMPC_MAX_DIMS - 1)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "indices has %d dims; expected at most %d (the result adds one)",
                         ampc_tensor_ndim(indices), AMPC_MAX_DIMS - 1);
    ampc_status status = ampc_check_float_tensor(function, "weight", weight);
    if (status != AMPC_OK) return status;
    if (ampc_tensor_ndim(weight) != 2)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "weight has %d dims; expected 2 (V, D)", ampc_tensor_ndim(weight));
    int64_t rows = ampc_tensor_dim(weight, 0);
    if (padding_idx != -1 && (padding_idx < 0 || padding_idx >= rows))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "padding_idx is %lld; expected -1 (none) or a row 0 to %lld of weight",
                         (long long)padding_idx, (long long)rows - 1);
    return AMPC_OK;
}

/* out[k, :] = weight[index[k], :] for n rows of `row_bytes` bytes. */
static void gather_rows(char *out, const char *weight, const int64_t *index, int64_t n,
                        size_t row_bytes, int64_t row_length)
{
    int threads = embedding_threads(n, n * row_length);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < n; k++)
        memcpy(out + (size_t)k * row_bytes, weight + (size_t)index[k] * row_bytes, row_bytes);
}

/* dweight[index[k], :] += dout[k, :] for every k whose index is not padding_idx; real is
 * float or double. Each thread owns a range of columns. */
#define SCATTER_ADD_ROWS(real, suffix)                                                         \
    static void scatter_add_rows_##suffix(real *dweight, const real *dout,                     \
                                          const int64_t *index, int64_t n,                     \
                                          int64_t row_length, int64_t padding_idx)             \
    {                                                                                          \
        int threads = embedding_threads(row_length, n * row_length);                           \
        _Pragma("omp parallel num_threads(threads) if (threads > 1)")                          \
        {                                                                                      \
            int64_t parts = omp_get_num_threads(), part = omp_get_thread_num();                \
            int64_t first = row_length * part / parts;                                         \
            int64_t last = row_length * (part + 1) / parts;                                    \
            for (int64_t k = 0; k < n; k++) {                                                  \
                if (index[k] == padding_idx) continue;                                         \
                real *row = dweight + index[k] * row_length;                                   \
                const real *upstream = dout + k * row_length;                                  \
                for (int64_t j = first; j < last; j++) row[j] += upstream[j];                  \
            }                                                                                  \
        }                                                                                      \
    }
SCATTER_ADD_ROWS(float, f32)
SCATTER_ADD_ROWS(double, f64)
#undef SCATTER_ADD_ROWS

static ampc_status embedding_backward(const ampc_node *node, const ampc_tensor *dout,
                                      ampc_tensor **dinputs)
{
    if (!ampc_node_needs_grad(node, 0)) return AMPC_OK;
    const embedding_params *params = ampc_node_params(node);
    ampc_dtype dtype = ampc_node_input_dtype(node, 0);
    ampc_dtype compute = ampc_compute_dtype(dtype);
    const int64_t *weight_shape = ampc_node_input_shape(node, 0);
    const ampc_tensor *index = ampc_node_saved(node, 0);
    ampc_tensor *upstream = ampc_contiguous_as(__func__, dout, compute);
    ampc_tensor *dweight = ampc_tensor_zeros(compute, 2, weight_shape);
    if (!upstream || !dweight) {
        ampc_tensor_free(upstream);
        ampc_tensor_free(dweight);
        return ampc_error_status() != AMPC_OK ? ampc_error_status() : AMPC_ERR_OUT_OF_MEMORY;
    }
    int64_t n = ampc_tensor_numel(index);
    if (compute == AMPC_F64)
        scatter_add_rows_f64(ampc_tensor_data(dweight), ampc_tensor_data(upstream),
                             ampc_tensor_data(index), n, weight_shape[1],
                             params->padding_idx);
    else
        scatter_add_rows_f32(ampc_tensor_data(dweight), ampc_tensor_data(upstream),
                             ampc_tensor_data(index), n, weight_shape[1],
                             params->padding_idx);
    ampc_tensor_free(upstream);
    dinputs[0] = ampc_from_compute(__func__, dweight, dtype);
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

ampc_tensor *ampc_embedding(const ampc_tensor *indices, const ampc_tensor *weight,
                            int64_t padding_idx)
{
    if (check_arguments(__func__, indices, weight, padding_idx) != AMPC_OK) return NULL;
    ampc_tensor *index = ampc_tensor_cast(indices, AMPC_I64);
    ampc_tensor *table = ampc_tensor_contiguous(weight);
    int ndim = ampc_tensor_ndim(indices);
    int64_t shape[AMPC_MAX_DIMS];
    memcpy(shape, ampc_tensor_shape(indices), (size_t)ndim * sizeof *shape);
    shape[ndim] = ampc_tensor_dim(weight, 1);
    ampc_tensor *out = NULL;
    if (index && table &&
        check_indices(__func__, indices, ampc_tensor_data(index), ampc_tensor_dim(weight, 0)) ==
            AMPC_OK)
        out = ampc_tensor_new(__func__, ampc_tensor_dtype(weight), ndim + 1, shape);
    if (out)
        gather_rows(ampc_tensor_data(out), ampc_tensor_data(table), ampc_tensor_data(index),
                    ampc_tensor_numel(index),
                    (size_t)shape[ndim] * ampc_dtype_size(ampc_tensor_dtype(weight)),
                    shape[ndim]);
    ampc_tensor_free(table);
    if (!out) {
        ampc_tensor_free(index);
        return NULL;
    }
    /* The backward reads its own I64 copy of the indices: later writes to the caller's
     * indices cannot change the gradient. */
    const ampc_tensor *inputs[] = {weight};
    const ampc_tensor *saved[] = {index};
    embedding_params params = {.padding_idx = padding_idx};
    ampc_op_record record = {.name = "embedding", .backward = embedding_backward,
                             .num_inputs = 1, .inputs = inputs, .num_saved = 1,
                             .saved = saved, .params = &params, .params_size = sizeof params};
    out = ampc_autograd_output(__func__, out, &record);
    ampc_tensor_free(index);
    return out;
}
