/* IDX files (LeCun's MNIST format) and the MNIST / Fashion-MNIST data set built on them.
 *
 * An IDX file is: two zero bytes, a type byte, a dim-count byte, that many big-endian u32
 * sizes, then the elements, big-endian, row-major. Types: 0x08 u8 (-> U8), 0x09 i8 and 0x0B
 * i16 (-> I32, as ampc has no narrower signed integer), 0x0C i32 (-> I32), 0x0D f32 (-> F32),
 * 0x0E f64 (-> F64). zlib's gzread reads gzipped files (it recognises the 1f 8b magic) and
 * plain ones alike. The data are read into a buffer that grows with what the file really
 * holds, so a header claiming absurd sizes cannot make a small file allocate gigabytes: it
 * fails as truncated. */
#include <ampc/io.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"
#include "tensor/tensor_internal.h"

/* Larger data (2^40 bytes) is taken as a corrupt header rather than attempted. */
#define IDX_MAX_BYTES ((uint64_t)1 << 40)

typedef struct idx_type {
    unsigned char code;
    int element_size; /* in the file */
    ampc_dtype dtype; /* in ampc */
    const char *name;
} idx_type;

static const idx_type idx_types[] = {
    {0x08, 1, AMPC_U8, "unsigned byte"}, {0x09, 1, AMPC_I32, "signed byte"},
    {0x0B, 2, AMPC_I32, "short"},        {0x0C, 4, AMPC_I32, "int"},
    {0x0D, 4, AMPC_F32, "float"},        {0x0E, 8, AMPC_F64, "double"},
};

static const idx_type *find_type(unsigned char code)
{
    for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
        if (idx_types[i].code == code) return &idx_types[i];
    return NULL;
}

/* Reads up to `size` bytes; returns how many, or -1 after recording the zlib error. */
static int64_t read_some(gzFile file, const char *path, void *buffer, uint64_t size)
{
    uint64_t done = 0;
    while (done < size) {
        uint64_t chunk = size - done < (1u << 30) ? size - done : (1u << 30);
        int got = gzread(file, (char *)buffer + done, (unsigned)chunk);
        if (got < 0) {
            int code;
            const char *message = gzerror(file, &code);
            ampc_fail(AMPC_ERR_FORMAT, "ampc_idx_read", "\"%s\": truncated or corrupt gzip data "
                      "after %llu bytes (zlib: %s)", path, (unsigned long long)done, message);
            return -1;
        }
        if (got == 0) break;
        done += (uint64_t)got;
    }
    return (int64_t)done;
}

/* The header: element type, dims and the data byte count. */
static ampc_status read_header(gzFile file, const char *path, const idx_type **type, int *ndim,
                               int64_t *shape, uint64_t *bytes)
{
    const char *function = "ampc_idx_read";
    unsigned char magic[4], sizes[4 * 255];
    int64_t got = read_some(file, path, magic, 4);
    if (got < 0) return ampc_error_status();
    if (got < 4)
        return ampc_fail(AMPC_ERR_FORMAT, function, "\"%s\": truncated: %lld bytes, shorter "
                         "than the 4-byte IDX magic", path, (long long)got);
    *type = find_type(magic[2]);
    if (magic[0] != 0 || magic[1] != 0 || !*type || magic[3] < 1 || magic[3] > AMPC_MAX_DIMS)
        return ampc_fail(AMPC_ERR_FORMAT, function, "\"%s\": bad magic %02x %02x %02x %02x; "
                         "expected 00 00, a type (08 09 0b 0c 0d 0e) and 1 to %d dims", path,
                         magic[0], magic[1], magic[2], magic[3], AMPC_MAX_DIMS);
    *ndim = magic[3];
    got = read_some(file, path, sizes, 4 * (uint64_t)*ndim);
    if (got < 0) return ampc_error_status();
    if (got < 4 * *ndim)
        return ampc_fail(AMPC_ERR_FORMAT, function, "\"%s\": truncated in the dim sizes: "
                         "expected %d bytes, got %lld", path, 4 * *ndim, (long long)got);
    *bytes = (uint64_t)(*type)->element_size;
    for (int dim = 0; dim < *ndim; dim++) {
        const unsigned char *p = sizes + 4 * dim;
        shape[dim] = (int64_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
                               (uint32_t)p[2] << 8 | p[3]);
        if (__builtin_mul_overflow(*bytes, (uint64_t)shape[dim], bytes) ||
            *bytes > IDX_MAX_BYTES)
            return ampc_fail(AMPC_ERR_FORMAT, function, "\"%s\": absurd dims: dim %d is %lld "
                             "and the data would exceed %llu bytes", path, dim,
                             (long long)shape[dim], (unsigned long long)IDX_MAX_BYTES);
    }
    return AMPC_OK;
}

/* Exactly `bytes` data bytes into a new buffer (growing with what the file holds). */
static unsigned char *read_data(gzFile file, const char *path, uint64_t bytes)
{
    uint64_t capacity = bytes < (1u << 20) ? bytes : (1u << 20), done = 0;
    unsigned char *buffer = malloc(capacity ? capacity : 1);
    while (buffer) {
        int64_t got = read_some(file, path, buffer + done, capacity - done);
        if (got < 0) break;
        done += (uint64_t)got;
        if (done == bytes) {
            unsigned char extra;
            got = read_some(file, path, &extra, 1);
            if (got == 0) return buffer;
            if (got > 0)
                ampc_fail(AMPC_ERR_FORMAT, "ampc_idx_read", "\"%s\": more data than the dims "
                          "say (expected %llu bytes after the header)", path,
                          (unsigned long long)bytes);
            break;
        }
        if (done < capacity) {
            ampc_fail(AMPC_ERR_FORMAT, "ampc_idx_read", "\"%s\": truncated data: expected %llu "
                      "bytes after the header, got %llu", path, (unsigned long long)bytes,
                      (unsigned long long)done);
            break;
        }
        capacity = capacity * 2 < bytes ? capacity * 2 : bytes;
        unsigned char *grown = realloc(buffer, capacity);
        if (!grown) ampc_fail_oom("ampc_idx_read", capacity);
        if (!grown) break;
        buffer = grown;
    }
    if (!buffer) ampc_fail_oom("ampc_idx_read", capacity);
    free(buffer);
    return NULL;
}

/* Big-endian file elements into the tensor's host-order elements. */
static void convert_elements(const idx_type *type, const unsigned char *in, void *out,
                             int64_t n)
{
    if (type->code == 0x08) {
        memcpy(out, in, (size_t)n);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *p = in + i * type->element_size;
        uint64_t word = 0;
        for (int b = 0; b < type->element_size; b++) word = word << 8 | p[b];
        switch (type->code) {
        case 0x09: ((int32_t *)out)[i] = (int8_t)word; break;
        case 0x0B: ((int32_t *)out)[i] = (int16_t)word; break;
        case 0x0C: ((int32_t *)out)[i] = (int32_t)(uint32_t)word; break;
        case 0x0D: { uint32_t bits = (uint32_t)word; memcpy((float *)out + i, &bits, 4); break; }
        default: memcpy((double *)out + i, &word, 8); break;
        }
    }
}

/* The file as a tensor: wherever tensors are made now when current, else on the heap. */
static ampc_tensor *read_idx(const char *path, bool current)
{
    struct stat info;
    errno = 0;
    if (stat(path, &info) != 0 || !S_ISREG(info.st_mode)) {
        ampc_fail(AMPC_ERR_IO, "ampc_idx_read", "cannot open \"%s\": %s", path,
                  errno ? strerror(errno) : "not a regular file");
        return NULL;
    }
    errno = 0;
    gzFile file = gzopen(path, "rb");
    if (!file) {
        ampc_fail(AMPC_ERR_IO, "ampc_idx_read", "cannot open \"%s\": %s", path,
                  errno ? strerror(errno) : "out of memory");
        return NULL;
    }
    gzbuffer(file, 1u << 17);
    const idx_type *type = NULL;
    int ndim = 0;
    int64_t shape[AMPC_MAX_DIMS];
    uint64_t bytes = 0;
    unsigned char *data = NULL;
    ampc_tensor *tensor = NULL;
    if (read_header(file, path, &type, &ndim, shape, &bytes) == AMPC_OK)
        data = read_data(file, path, bytes);
    if (data)
        tensor = current ? ampc_tensor_new("ampc_idx_read", type->dtype, ndim, shape)
                         : ampc_tensor_new_in("ampc_idx_read", NULL, type->dtype, ndim, shape);
    if (tensor)
        convert_elements(type, data, ampc_tensor_data(tensor), ampc_tensor_numel(tensor));
    free(data);
    gzclose(file);
    return tensor;
}

ampc_tensor *ampc_idx_read(const char *path)
{
    if (!path) return ampc_null_tensor(__func__, "path");
    return read_idx(path, true);
}

/* --- MNIST-format data sets ---------------------------------------------------------------- */

void ampc_dataset_free(ampc_dataset *dataset)
{
    if (!dataset) return;
    ampc_tensor_free(dataset->images);
    ampc_tensor_free(dataset->labels);
    dataset->images = dataset->labels = NULL;
}

/* dir/name, or dir/name.gz when only that exists; NULL with the error naming both (and
 * where Fashion-MNIST comes from) when neither does. The caller frees the result. */
static char *find_file(const char *dir, const char *name)
{
    char *path = NULL;
    for (int gz = 0; gz < 2; gz++) {
        free(path);
        if (asprintf(&path, "%s/%s%s", dir, name, gz ? ".gz" : "") < 0) {
            ampc_fail_oom("ampc_mnist_load", strlen(dir) + strlen(name) + 5);
            return NULL;
        }
        if (access(path, F_OK) == 0) return path;
    }
    ampc_fail(AMPC_ERR_IO, "ampc_mnist_load", "neither \"%s/%s\" nor \"%s\" exists (Fashion-MNIST "
              "comes with Debian's dataset-fashion-mnist package, installed in %s)", dir, name,
              path, AMPC_FASHION_MNIST_DIR);
    free(path);
    return NULL;
}

static ampc_tensor *read_part(const char *dir, const char *name)
{
    char *path = find_file(dir, name);
    ampc_tensor *tensor = path ? read_idx(path, false) : NULL;
    free(path);
    return tensor;
}

/* images (N, H, W) and labels (N), both U8, into the data set's layout. */
static ampc_status shape_dataset(const char *dir, ampc_tensor *images, ampc_tensor *labels,
                                 ampc_dataset *dataset)
{
    const char *function = "ampc_mnist_load";
    if (images->dtype != AMPC_U8 || images->ndim != 3)
        return ampc_fail(AMPC_ERR_FORMAT, function, "images in \"%s\" are %s with %d dims; "
                         "expected unsigned bytes (N, H, W)", dir, ampc_dtype_name(images->dtype),
                         images->ndim);
    if (labels->dtype != AMPC_U8 || labels->ndim != 1)
        return ampc_fail(AMPC_ERR_FORMAT, function, "labels in \"%s\" are %s with %d dims; "
                         "expected unsigned bytes (N)", dir, ampc_dtype_name(labels->dtype),
                         labels->ndim);
    if (images->shape[0] != labels->shape[0])
        return ampc_fail(AMPC_ERR_FORMAT, function, "\"%s\" has %lld images but %lld labels",
                         dir, (long long)images->shape[0], (long long)labels->shape[0]);
    /* (N, H, W) -> (N, 1, H, W) in place: the tensor is new, contiguous and ours alone. */
    int64_t shape[4] = {images->shape[0], 1, images->shape[1], images->shape[2]};
    images->ndim = 4;
    memcpy(images->shape, shape, sizeof shape);
    ampc_contiguous_strides(4, shape, images->strides);
    ampc_tensor *wide = ampc_tensor_new_in(function, NULL, AMPC_I64, 1, labels->shape);
    if (!wide) return ampc_error_status();
    ampc_status status = ampc_convert(ampc_tensor_data(wide), AMPC_I64,
                                      ampc_tensor_data(labels), AMPC_U8,
                                      (size_t)labels->shape[0]);
    if (status != AMPC_OK) {
        ampc_tensor_free(wide);
        return status;
    }
    dataset->images = images;
    dataset->labels = wide;
    return AMPC_OK;
}

ampc_status ampc_mnist_load(const char *dir, bool train, ampc_dataset *dataset)
{
    if (!dataset) return ampc_fail_null(__func__, "dataset");
    dataset->images = dataset->labels = NULL;
    if (!dir) return ampc_fail_null(__func__, "dir");
    const char *prefix = train ? "train" : "t10k";
    char images_name[64], labels_name[64];
    snprintf(images_name, sizeof images_name, "%s-images-idx3-ubyte", prefix);
    snprintf(labels_name, sizeof labels_name, "%s-labels-idx1-ubyte", prefix);
    ampc_tensor *images = read_part(dir, images_name);
    ampc_tensor *labels = images ? read_part(dir, labels_name) : NULL;
    ampc_status status = labels ? shape_dataset(dir, images, labels, dataset)
                                : ampc_error_status();
    ampc_tensor_free(labels);
    if (status != AMPC_OK) ampc_tensor_free(images);
    return status;
}
