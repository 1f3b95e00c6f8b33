/* The mini-batch loader: shuffled (or file-order) batches of an MNIST-format data set.
 *
 * Epoch e visits the samples in a permutation drawn by Fisher-Yates from Philox blocks keyed
 * by the seed: the swap at position i takes the block with counter (i, e), so the order
 * depends only on (seed, epoch, N), never on threads or on what else was drawn. The index
 * j in [0, i] is the block's first 64 bits modulo i + 1 (a bias below N / 2^64).
 *
 * Pixels map through a 256-entry table made once in the batch dtype: value v becomes
 * v / 255, or (v / 255 - mean) / std, computed in double and rounded once to the dtype. For
 * F32 without normalisation this is exactly torch's x.float() / 255 (both are the correctly
 * rounded quotient). Batches are made wherever tensors are made now, so inside an entered
 * arena they go at its reset and a training loop's footprint stays flat. */
#include <ampc/cpu.h>
#include <ampc/io.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "tensor/random.h"
#include "tensor/tensor_internal.h"

/* Below this many bytes per batch the gather stays on the calling thread. */
#define PARALLEL_BYTES (1 << 18)

struct ampc_loader {
    const ampc_dataset *dataset;
    ampc_loader_options options;
    int64_t count;          /* samples */
    int64_t sample_size;    /* pixels per image */
    int64_t *order;         /* this epoch's sample order */
    int64_t position;       /* next index into order */
    int64_t epoch;
    bool order_ready;       /* order holds epoch's permutation */
    _Alignas(8) unsigned char table[256 * 8]; /* pixel value -> element of options.dtype */
};

ampc_loader_options ampc_loader_defaults(void)
{
    return (ampc_loader_options){.batch_size = 128, .shuffle = true, .seed = 0,
                                 .drop_last = false, .dtype = AMPC_F32, .normalize = false,
                                 .mean = 0.0, .std = 1.0};
}

static ampc_status check_options(const ampc_dataset *dataset, const ampc_loader_options *options)
{
    const char *function = "ampc_loader_new";
    if (!dataset) return ampc_fail_null(function, "dataset");
    if (!options) return ampc_fail_null(function, "options");
    const ampc_tensor *images = dataset->images, *labels = dataset->labels;
    if (!images || !labels) return ampc_fail_null(function, images ? "dataset->labels"
                                                                     : "dataset->images");
    if (images->dtype != AMPC_U8 || images->ndim != 4 || !ampc_tensor_is_contiguous(images))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "dataset->images is %s with %d "
                         "dims; expected contiguous U8 (N, C, H, W)",
                         ampc_dtype_name(images->dtype), images->ndim);
    if (labels->dtype != AMPC_I64 || labels->ndim != 1 || !ampc_tensor_is_contiguous(labels) ||
        labels->shape[0] != images->shape[0])
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "dataset->labels is %s with %d "
                         "dims; expected contiguous I64 (N) with N = %lld as the images",
                         ampc_dtype_name(labels->dtype), labels->ndim,
                         (long long)images->shape[0]);
    if (options->batch_size < 1)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "options->batch_size is %lld; "
                         "expected >= 1", (long long)options->batch_size);
    ampc_dtype dtype = options->dtype;
    if (dtype != AMPC_F64 && dtype != AMPC_F32 && dtype != AMPC_F16 && dtype != AMPC_BF16)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "options->dtype is %s; expected "
                         "F64, F32, F16 or BF16", ampc_dtype_name(dtype));
    if (options->normalize && (!isfinite(options->mean) || !isfinite(options->std) ||
                               options->std <= 0))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "options->mean %g and std %g; "
                         "expected finite values with std > 0", options->mean, options->std);
    return AMPC_OK;
}

ampc_loader *ampc_loader_new(const ampc_dataset *dataset, const ampc_loader_options *options)
{
    if (check_options(dataset, options) != AMPC_OK) return NULL;
    ampc_loader *loader = calloc(1, sizeof *loader);
    int64_t count = dataset->images->shape[0];
    if (loader) loader->order = malloc(((size_t)count + 1) * sizeof(int64_t));
    if (!loader || !loader->order) {
        if (loader) free(loader);
        ampc_fail_oom(__func__, (size_t)count * sizeof(int64_t));
        return NULL;
    }
    loader->dataset = dataset;
    loader->options = *options;
    loader->count = count;
    loader->sample_size = ampc_shape_numel(3, dataset->images->shape + 1);
    double values[256];
    for (int v = 0; v < 256; v++) {
        values[v] = v / 255.0;
        if (options->normalize) values[v] = (values[v] - options->mean) / options->std;
    }
    ampc_convert(loader->table, options->dtype, values, AMPC_F64, 256);
    return loader;
}

void ampc_loader_free(ampc_loader *loader)
{
    if (!loader) return;
    free(loader->order);
    free(loader);
}

int64_t ampc_loader_batches_per_epoch(const ampc_loader *loader)
{
    if (!loader) return ampc_fail_null(__func__, "loader"), 0;
    int64_t batch = loader->options.batch_size;
    return loader->options.drop_last ? loader->count / batch : (loader->count + batch - 1) / batch;
}

int64_t ampc_loader_epoch(const ampc_loader *loader)
{
    if (!loader) return ampc_fail_null(__func__, "loader"), 0;
    return loader->epoch;
}

/* The epoch's order: identity, or Fisher-Yates driven by Philox blocks (seed; i, epoch). */
static void make_order(ampc_loader *loader)
{
    for (int64_t i = 0; i < loader->count; i++) loader->order[i] = i;
    if (!loader->options.shuffle) return;
    uint64_t seed = loader->options.seed, epoch = (uint64_t)loader->epoch;
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int64_t i = loader->count - 1; i > 0; i--) {
        const uint32_t counter[4] = {(uint32_t)i, (uint32_t)((uint64_t)i >> 32), (uint32_t)epoch,
                                     (uint32_t)(epoch >> 32)};
        uint32_t words[4];
        ampc_philox4x32_10(counter, key, words);
        uint64_t random = (uint64_t)words[1] << 32 | words[0];
        int64_t j = (int64_t)(random % (uint64_t)(i + 1));
        int64_t swap = loader->order[i];
        loader->order[i] = loader->order[j];
        loader->order[j] = swap;
    }
}

/* out[k] = table[in[k]] for elements of `size` bytes (8, 4 or 2). */
static void map_pixels(void *out, const unsigned char *in, int64_t n, const void *table,
                       size_t size)
{
    if (size == 8) {
        uint64_t *out64 = out;
        const uint64_t *table64 = table;
        for (int64_t k = 0; k < n; k++) out64[k] = table64[in[k]];
    } else if (size == 4) {
        uint32_t *out32 = out;
        const uint32_t *table32 = table;
        for (int64_t k = 0; k < n; k++) out32[k] = table32[in[k]];
    } else {
        uint16_t *out16 = out;
        const uint16_t *table16 = table;
        for (int64_t k = 0; k < n; k++) out16[k] = table16[in[k]];
    }
}

/* Copies the batch's samples into images (B, C, H, W) and labels (B). */
static void gather(const ampc_loader *loader, const int64_t *indices, int64_t batch,
                   ampc_tensor *images, ampc_tensor *labels)
{
    const unsigned char *pixels = ampc_tensor_data(loader->dataset->images);
    const int64_t *all_labels = ampc_tensor_data(loader->dataset->labels);
    unsigned char *out = ampc_tensor_data(images);
    int64_t *out_labels = ampc_tensor_data(labels);
    int64_t sample = loader->sample_size;
    size_t size = ampc_dtype_size(loader->options.dtype);
    const unsigned char *table = loader->table;
    #pragma omp parallel for num_threads(ampc_num_threads()) \
        if (batch * sample * (int64_t)size > PARALLEL_BYTES)
    for (int64_t b = 0; b < batch; b++) {
        const unsigned char *in = pixels + indices[b] * sample;
        unsigned char *row = out + (size_t)(b * sample) * size;
        map_pixels(row, in, sample, table, size);
        out_labels[b] = all_labels[indices[b]];
    }
}

bool ampc_loader_next(ampc_loader *loader, ampc_tensor **images, ampc_tensor **labels)
{
    if (images) *images = NULL;
    if (labels) *labels = NULL;
    if (!loader || !images || !labels)
        return ampc_fail_null(__func__, !loader ? "loader" : !images ? "images" : "labels"),
               false;
    int64_t batch = loader->options.batch_size, left = loader->count - loader->position;
    if (left < batch) batch = loader->options.drop_last ? 0 : left;
    if (batch == 0) {
        loader->epoch++;
        loader->position = 0;
        loader->order_ready = false;
        return false;
    }
    if (!loader->order_ready) {
        make_order(loader);
        loader->order_ready = true;
    }
    const int64_t *shape = loader->dataset->images->shape;
    int64_t image_shape[4] = {batch, shape[1], shape[2], shape[3]};
    *images = ampc_tensor_empty(loader->options.dtype, 4, image_shape);
    *labels = ampc_tensor_empty(AMPC_I64, 1, &batch);
    if (!*images || !*labels) {
        ampc_tensor_free(*images);
        ampc_tensor_free(*labels);
        *images = *labels = NULL;
        return false;
    }
    gather(loader, loader->order + loader->position, batch, *images, *labels);
    loader->position += batch;
    return true;
}
