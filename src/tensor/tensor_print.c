/* ampc_tensor_print: a readable dump in the layout torch prints.
 *
 *     tensor(F32, shape [2, 3])
 *     [[0, 1, 2],
 *      [3, 4, 5]]
 *
 * Values are %g (integers and BOOL exactly), right-aligned to the widest one shown. Rows of
 * the last dim are separated by one newline, blocks of higher dims by one more per level.
 * Beyond SUMMARY_THRESHOLD elements, each dim longer than 2 * EDGE_ITEMS shows only its first
 * and last EDGE_ITEMS entries around a "...", as torch does. */
#include <ampc/tensor.h>

#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "tensor/tensor_internal.h"

#define SUMMARY_THRESHOLD 1000
#define EDGE_ITEMS 3
#define VALUE_TEXT_CAPACITY 48

typedef struct print_state {
    FILE *out;
    const ampc_tensor *tensor;
    bool summarise;
    int width; /* of the widest value shown */
} print_state;

/* How many entries a dim of `size` shows, counting the "..." as one. */
static int64_t shown_count(const print_state *state, int64_t size)
{
    return state->summarise && size > 2 * EDGE_ITEMS ? 2 * EDGE_ITEMS + 1 : size;
}

/* The index of the k-th entry shown, or -1 for the "...". */
static int64_t shown_index(const print_state *state, int64_t size, int64_t k)
{
    if (shown_count(state, size) == size || k < EDGE_ITEMS) return k;
    if (k == EDGE_ITEMS) return -1;
    return size - (2 * EDGE_ITEMS + 1 - k);
}

/* Integers go through I64 so that values beyond 2^53 print exactly. */
static void format_value(const ampc_tensor *tensor, int64_t offset, char *text)
{
    const void *element = ampc_tensor_element(tensor, offset);
    if (ampc_dtype_is_float(tensor->dtype)) {
        double value = 0;
        ampc_convert(&value, AMPC_F64, element, tensor->dtype, 1);
        snprintf(text, VALUE_TEXT_CAPACITY, "%g", value);
        return;
    }
    int64_t value = 0;
    ampc_convert(&value, AMPC_I64, element, tensor->dtype, 1);
    if (tensor->dtype == AMPC_BOOL)
        snprintf(text, VALUE_TEXT_CAPACITY, "%s", value ? "true" : "false");
    else
        snprintf(text, VALUE_TEXT_CAPACITY, "%lld", (long long)value);
}

static void measure_dim(print_state *state, int dim, int64_t offset)
{
    const ampc_tensor *tensor = state->tensor;
    if (dim == tensor->ndim) {
        char text[VALUE_TEXT_CAPACITY];
        format_value(tensor, offset, text);
        int width = (int)strlen(text);
        if (width > state->width) state->width = width;
        return;
    }
    int64_t size = tensor->shape[dim];
    for (int64_t k = 0; k < shown_count(state, size); k++) {
        int64_t index = shown_index(state, size, k);
        if (index >= 0) measure_dim(state, dim + 1, offset + index * tensor->strides[dim]);
    }
}

/* Between two entries of dim: ", " within a row, else a comma, a newline per level below,
 * and the indent that lines the next "[" up under the one before. */
static void print_separator(const print_state *state, int dim)
{
    int levels_below = state->tensor->ndim - dim - 1;
    if (levels_below == 0) {
        fputs(", ", state->out);
        return;
    }
    fputc(',', state->out);
    for (int line = 0; line < levels_below; line++) fputc('\n', state->out);
    fprintf(state->out, "%*s", dim + 1, "");
}

static void print_dim(const print_state *state, int dim, int64_t offset)
{
    const ampc_tensor *tensor = state->tensor;
    if (dim == tensor->ndim) {
        char text[VALUE_TEXT_CAPACITY];
        format_value(tensor, offset, text);
        fprintf(state->out, "%*s", state->width, text);
        return;
    }
    int64_t size = tensor->shape[dim];
    fputc('[', state->out);
    for (int64_t k = 0; k < shown_count(state, size); k++) {
        if (k > 0) print_separator(state, dim);
        int64_t index = shown_index(state, size, k);
        if (index < 0) fputs("...", state->out);
        else print_dim(state, dim + 1, offset + index * tensor->strides[dim]);
    }
    fputc(']', state->out);
}

ampc_status ampc_tensor_print(const ampc_tensor *tensor, FILE *out)
{
    if (!tensor) return ampc_fail_null(__func__, "tensor");
    if (!out) return ampc_fail_null(__func__, "out");
    char shape[AMPC_SHAPE_TEXT_CAPACITY];
    ampc_format_shape(shape, sizeof shape, tensor->ndim, tensor->shape);
    fprintf(out, "tensor(%s, shape %s)\n", ampc_dtype_name(tensor->dtype), shape);
    int64_t numel = ampc_shape_numel(tensor->ndim, tensor->shape);
    print_state state = {.out = out, .tensor = tensor, .summarise = numel > SUMMARY_THRESHOLD};
    if (numel == 0) fputs("[]", out);
    else {
        measure_dim(&state, 0, tensor->offset);
        print_dim(&state, 0, tensor->offset);
    }
    fputc('\n', out);
    if (ferror(out))
        return ampc_fail(AMPC_ERR_IO, __func__, "writing to the stream failed");
    return AMPC_OK;
}
