/* Internal side of the safetensors half of ampc/io.h: what a read file holds, for the
 * state_dict code (state_dict.c), which checks names and shapes before it copies anything. */
#ifndef AMPC_IO_SAFETENSORS_H
#define AMPC_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <ampc/io.h>

typedef struct ampc_safetensors_tensor {
    char *name;
    ampc_dtype dtype;
    int ndim;
    int64_t shape[AMPC_MAX_DIMS];
    uint64_t begin, end; /* byte offsets into the data section */
    int header_index;    /* position in the JSON, to order empty tensors that share an offset */
} ampc_safetensors_tensor;

/* The named tensor's description, or NULL (no error set). */
const ampc_safetensors_tensor *ampc_safetensors_find(const ampc_safetensors *file,
                                                     const char *name);
/* The file's path as given to ampc_safetensors_read. */
const char *ampc_safetensors_path(const ampc_safetensors *file);

#endif
