/* Files: safetensors checkpoints, and IDX data sets (MNIST, Fashion-MNIST) with a mini-batch
 * loader.
 *
 * safetensors (Hugging Face's format): an 8-byte little-endian header length N; N bytes of
 * JSON mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
 * into the data that follows), plus an optional "__metadata__" object of string values; then
 * the raw little-endian data. Dtype spellings: F64 F32 F16 BF16 F8_E4M3 F8_E5M2 I64 I32 U8 BOOL.
 * Reading validates everything (header length within the file, valid JSON, known dtypes,
 * offsets in range, byte counts matching shapes, and the tensors, taken in offset order,
 * covering the data exactly: no overlap, gap or trailing bytes) and names the file, the tensor
 * and the problem. The JSON's key order carries no meaning, as in Hugging Face's reader.
 * Writing is atomic: a temporary file in the same folder, fsync, rename.
 *
 * IDX (LeCun's MNIST format, optionally gzipped): a magic number giving the element type and
 * the number of dims, big-endian dim sizes, then the data. */
#ifndef AMPC_IO_H
#define AMPC_IO_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/error.h>
#include <ampc/export.h>
#include <ampc/nn.h>
#include <ampc/random.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* --- safetensors ----------------------------------------------------------------------------- */

typedef struct ampc_safetensors ampc_safetensors;

/* Reads and validates the whole file. */
AMPC_API ampc_safetensors *ampc_safetensors_read(const char *path);
AMPC_API void ampc_safetensors_free(ampc_safetensors *file);
/* Tensors in the order of their data offsets. */
AMPC_API int ampc_safetensors_count(const ampc_safetensors *file);
AMPC_API const char *ampc_safetensors_name(const ampc_safetensors *file, int index);
/* A new tensor (the caller frees it) holding a copy of the named tensor, or NULL with an
 * error naming the file and the missing name. */
AMPC_API ampc_tensor *ampc_safetensors_get(const ampc_safetensors *file, const char *name);
/* A "__metadata__" value, or NULL. */
AMPC_API const char *ampc_safetensors_metadata(const ampc_safetensors *file, const char *key);

typedef struct ampc_safetensors_entry {
    const char *name;
    const ampc_tensor *tensor; /* any layout; written contiguous */
} ampc_safetensors_entry;

typedef struct ampc_metadata_entry {
    const char *key;
    const char *value;
} ampc_metadata_entry;

/* Writes the tensors (names unique, not "__metadata__") and optional metadata atomically,
 * in the order given (Hugging Face's writer sorts by dtype and name), the header padded with
 * spaces to a multiple of 8 bytes. */
AMPC_API ampc_status ampc_safetensors_write(const char *path, int count,
                                            const ampc_safetensors_entry *entries,
                                            int metadata_count,
                                            const ampc_metadata_entry *metadata);

/* A module's state_dict (every parameter and buffer, by full dotted name, in its dtype). */
AMPC_API ampc_status ampc_module_save(const ampc_module *module, const char *path);
/* Loads by name into the module's tensors (in place, so views and optimizers stay valid). A
 * dtype that differs converts, with a warning on stderr; a shape that differs is an error.
 * strict: a name the module lacks, or a tensor of the module the file lacks, is an error
 * naming them (torch's load_state_dict(strict=True)); otherwise they are skipped. On error
 * nothing is changed. */
AMPC_API ampc_status ampc_module_load(ampc_module *module, const char *path, bool strict);

/* --- IDX data sets --------------------------------------------------------------------------- */

/* The whole file (gzipped or not: the gzip magic decides) as a tensor of the IDX's dims:
 * U8 for unsigned byte data (the only type MNIST uses; I32 and F32/F64 IDX types too). */
AMPC_API ampc_tensor *ampc_idx_read(const char *path);

/* Where Debian's dataset-fashion-mnist package puts the files. */
#define AMPC_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct ampc_dataset {
    ampc_tensor *images; /* U8 (N, 1, H, W) */
    ampc_tensor *labels; /* I64 (N) */
} ampc_dataset;

/* dir/train-images-idx3-ubyte(.gz) and train-labels-idx1-ubyte(.gz), or t10k-* when !train.
 * Checks that the counts agree and labels are below 256. The tensors are long-lived (made
 * outside any arena); a missing file's error names the package that provides Fashion-MNIST. */
AMPC_API ampc_status ampc_mnist_load(const char *dir, bool train, ampc_dataset *dataset);
AMPC_API void ampc_dataset_free(ampc_dataset *dataset);

typedef struct ampc_loader_options {
    int64_t batch_size;
    bool shuffle;       /* a new permutation each epoch, from seed and the epoch number */
    uint64_t seed;
    bool drop_last;     /* drop a last batch smaller than batch_size */
    ampc_dtype dtype;   /* of the images: F64, F32, F16 or BF16 */
    bool normalize;     /* (x / 255 - mean) / std instead of x / 255 */
    double mean, std;
} ampc_loader_options;

/* batch_size 128, shuffle, seed 0, no drop_last, F32, x / 255. */
AMPC_API ampc_loader_options ampc_loader_defaults(void);

typedef struct ampc_loader ampc_loader;

/* Borrows dataset (it must outlive the loader). */
AMPC_API ampc_loader *ampc_loader_new(const ampc_dataset *dataset,
                                      const ampc_loader_options *options);
AMPC_API void ampc_loader_free(ampc_loader *loader);
/* The next batch: images (B, 1, H, W) of options.dtype scaled to [0, 1] (or normalised) and
 * labels I64 (B), new tensors the caller frees (made in the current arena if one is entered).
 * Returns false with both NULL at the end of the epoch (ampc_loader_epoch then counts one
 * more); the next call starts the new epoch. On error returns false and sets the error.
 * Shuffled order: Fisher-Yates over Philox draws keyed by seed and the epoch number, so it
 * depends on (seed, epoch, N) only (docs/io.md). */
AMPC_API bool ampc_loader_next(ampc_loader *loader, ampc_tensor **images, ampc_tensor **labels);
AMPC_API int64_t ampc_loader_batches_per_epoch(const ampc_loader *loader);
/* The epoch the next batch belongs to, from 0. */
AMPC_API int64_t ampc_loader_epoch(const ampc_loader *loader);

#ifdef __cplusplus
}
#endif
#endif
