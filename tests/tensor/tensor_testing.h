/* Helpers the tensor tests share: checking an error, reading byte counts, reading values.
 * Include after cmocka's prerequisites and <cmocka.h>. */
#ifndef AMPC_TENSOR_TESTING_H
#define AMPC_TENSOR_TESTING_H

#include <stdio.h>
#include <string.h>

#include <ampc/ampc.h>

/* The pending error must have this status and a message containing text; clears it. */
static inline void expect_error(ampc_status status, const char *text)
{
    if (ampc_error_status() != status || !strstr(ampc_error_message(), text))
        fail_msg("expected %s with \"%s\"; got %s: \"%s\"", ampc_status_name(status), text,
                 ampc_status_name(ampc_error_status()), ampc_error_message());
    ampc_error_clear();
}

static inline void expect_no_error(void)
{
    if (ampc_error_status() != AMPC_OK)
        fail_msg("unexpected error %s: \"%s\"", ampc_status_name(ampc_error_status()),
                 ampc_error_message());
}

static inline size_t live_bytes(ampc_memory_category category)
{
    ampc_memory_stats stats;
    assert_int_equal(ampc_memory_get_stats(&stats), AMPC_OK);
    return stats.live_bytes[category];
}

/* The element at a row-major position, whatever the tensor's strides. */
static inline double value_at_position(const ampc_tensor *tensor, int64_t position)
{
    int ndim = ampc_tensor_ndim(tensor);
    int64_t index[AMPC_MAX_DIMS];
    for (int dim = ndim - 1; dim >= 0; dim--) {
        int64_t size = ampc_tensor_dim(tensor, dim);
        index[dim] = position % size;
        position /= size;
    }
    double value;
    assert_int_equal(ampc_tensor_get(tensor, index, &value), AMPC_OK);
    return value;
}

/* The tensor holds exactly these values in row-major order. */
static inline void assert_values(const ampc_tensor *tensor, const double *expected, int64_t n)
{
    assert_int_equal(ampc_tensor_numel(tensor), n);
    for (int64_t position = 0; position < n; position++) {
        double value = value_at_position(tensor, position);
        if (value != expected[position])
            fail_msg("element %lld is %g; expected %g", (long long)position, value,
                     expected[position]);
    }
}

static inline ampc_tensor *arange_shaped(ampc_dtype dtype, int ndim, const int64_t *shape)
{
    int64_t numel = 1;
    for (int dim = 0; dim < ndim; dim++) numel *= shape[dim];
    ampc_tensor *flat = ampc_tensor_arange(dtype, 0, (double)numel, 1);
    ampc_tensor *shaped = ampc_tensor_view(flat, ndim, shape);
    ampc_tensor_free(flat);
    assert_non_null(shaped);
    return shaped;
}

/* What ampc_tensor_print writes, as a string the caller frees. */
static inline char *print_to_string(const ampc_tensor *tensor)
{
    char *text = NULL;
    size_t length = 0;
    FILE *stream = open_memstream(&text, &length);
    assert_non_null(stream);
    assert_int_equal(ampc_tensor_print(tensor, stream), AMPC_OK);
    fclose(stream);
    return text;
}

#endif
