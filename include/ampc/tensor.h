/* Tensors: n-d strided views of typed storage.
 *
 * A tensor has a dtype, up to AMPC_MAX_DIMS dims, a shape, strides (in elements, may be 0 for
 * broadcast dims) and an offset (in elements) into a storage it shares with its views. See
 * ampc/memory.h for who owns what, arenas and byte counts.
 *
 * Every function that returns a tensor returns a new handle the caller frees with
 * ampc_tensor_free() (a no-op for tensors that belong to an arena), or NULL with the error
 * set (ampc/error.h). NULL tensor arguments propagate: the call returns NULL or an error
 * status without crashing. Views (reshape when possible, view, permute, transpose, narrow,
 * slice, expand) share storage with their base: writing through one is seen by the other. */
#ifndef AMPC_TENSOR_H
#define AMPC_TENSOR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <ampc/dtype.h>
#include <ampc/error.h>
#include <ampc/export.h>
#include <ampc/memory.h>
#include <ampc/random.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AMPC_MAX_DIMS 8

typedef struct ampc_tensor ampc_tensor;

/* --- creation ------------------------------------------------------------------------- */
/* shape has ndim entries, each >= 0; ndim 0 makes a scalar (one element). The byte count,
 * with sizes of 0 counted as 1 (as the strides count them), must fit in 64 bits. */
AMPC_API ampc_tensor *ampc_tensor_empty(ampc_dtype dtype, int ndim, const int64_t *shape);
AMPC_API ampc_tensor *ampc_tensor_zeros(ampc_dtype dtype, int ndim, const int64_t *shape);
AMPC_API ampc_tensor *ampc_tensor_ones(ampc_dtype dtype, int ndim, const int64_t *shape);
/* value is converted to dtype as ampc_convert would. */
AMPC_API ampc_tensor *ampc_tensor_full(ampc_dtype dtype, int ndim, const int64_t *shape,
                                       double value);
/* 1-d: start, start+step, ... while < end (> end for a negative step), as torch.arange. */
AMPC_API ampc_tensor *ampc_tensor_arange(ampc_dtype dtype, double start, double end,
                                         double step);
/* Borrows the caller's contiguous row-major buffer; the caller keeps it alive and frees it.
 * data must be aligned to the element size. Borrowed bytes are not counted (ampc/memory.h). */
AMPC_API ampc_tensor *ampc_tensor_wrap(void *data, ampc_dtype dtype, int ndim,
                                       const int64_t *shape);
/* Copies the caller's contiguous row-major buffer into new storage. */
AMPC_API ampc_tensor *ampc_tensor_from_data(const void *data, ampc_dtype dtype, int ndim,
                                            const int64_t *shape);
/* Random fills (float dtypes only). Values are drawn in fp32 and converted to dtype, so
 * F16, BF16 and F8 can round a value just below 1 (or high) up to 1 (or high), as PyTorch's
 * can; in fp32 the intervals are exact. uniform needs low <= high, both finite in fp32. */
AMPC_API ampc_tensor *ampc_tensor_rand(ampc_generator *generator, ampc_dtype dtype, int ndim,
                                       const int64_t *shape); /* uniform [0, 1) */
AMPC_API ampc_tensor *ampc_tensor_uniform(ampc_generator *generator, ampc_dtype dtype,
                                          int ndim, const int64_t *shape, double low,
                                          double high); /* uniform [low, high) */
AMPC_API ampc_tensor *ampc_tensor_randn(ampc_generator *generator, ampc_dtype dtype, int ndim,
                                        const int64_t *shape); /* normal(0, 1) */

/* Drops this handle; the storage goes when its last handle does. NULL is a no-op. */
AMPC_API void ampc_tensor_free(ampc_tensor *tensor);

/* --- properties (all safe on NULL: 0 / AMPC_DTYPE_COUNT / AMPC_MEMORY_CATEGORY_COUNT / NULL /
 * false, after recording the NULL as the error) ------------------------------------------- */
AMPC_API ampc_dtype ampc_tensor_dtype(const ampc_tensor *tensor);
AMPC_API int ampc_tensor_ndim(const ampc_tensor *tensor);
/* Negative dims count from the end, as in PyTorch. Out of range gives 0 and sets the error. */
AMPC_API int64_t ampc_tensor_dim(const ampc_tensor *tensor, int dim);
AMPC_API int64_t ampc_tensor_stride(const ampc_tensor *tensor, int dim);
AMPC_API const int64_t *ampc_tensor_shape(const ampc_tensor *tensor);
AMPC_API const int64_t *ampc_tensor_strides(const ampc_tensor *tensor);
AMPC_API int64_t ampc_tensor_offset(const ampc_tensor *tensor);
AMPC_API int64_t ampc_tensor_numel(const ampc_tensor *tensor);
AMPC_API size_t ampc_tensor_nbytes(const ampc_tensor *tensor); /* numel * element size */
AMPC_API bool ampc_tensor_is_contiguous(const ampc_tensor *tensor);
/* Address of the first element (storage + offset). */
AMPC_API void *ampc_tensor_data(const ampc_tensor *tensor);
AMPC_API ampc_memory_category ampc_tensor_category(const ampc_tensor *tensor);
/* Moves the storage's bytes to another category (storage shared by views moves once). */
AMPC_API ampc_status ampc_tensor_set_category(ampc_tensor *tensor,
                                              ampc_memory_category category);

/* --- copies and casts -------------------------------------------------------------------- */
/* New contiguous tensor of the given dtype (a copy even when the dtype is the same). */
AMPC_API ampc_tensor *ampc_tensor_cast(const ampc_tensor *tensor, ampc_dtype dtype);
AMPC_API ampc_tensor *ampc_tensor_cast_with(const ampc_tensor *tensor, ampc_dtype dtype,
                                            ampc_overflow overflow);
AMPC_API ampc_tensor *ampc_tensor_clone(const ampc_tensor *tensor);
/* Writes src into dst, converting dtype; src broadcasts to dst's shape. dst must not have
 * broadcast (zero-stride) dims of size > 1. src may overlap dst (two views of one storage):
 * the result is as if all of src were read before dst is written. */
AMPC_API ampc_status ampc_tensor_copy(ampc_tensor *dst, const ampc_tensor *src);
/* The tensor itself (a new handle to it) if contiguous, else a contiguous copy. */
AMPC_API ampc_tensor *ampc_tensor_contiguous(const ampc_tensor *tensor);

/* --- views ------------------------------------------------------------------------------ */
/* One entry of shape may be -1 (inferred). view fails where no view exists; reshape copies. */
AMPC_API ampc_tensor *ampc_tensor_view(const ampc_tensor *tensor, int ndim,
                                       const int64_t *shape);
AMPC_API ampc_tensor *ampc_tensor_reshape(const ampc_tensor *tensor, int ndim,
                                          const int64_t *shape);
/* dims is a permutation of 0..ndim-1 (negatives count from the end). */
AMPC_API ampc_tensor *ampc_tensor_permute(const ampc_tensor *tensor, const int *dims);
AMPC_API ampc_tensor *ampc_tensor_transpose(const ampc_tensor *tensor, int dim0, int dim1);
/* Elements start .. start+length-1 of dim. */
AMPC_API ampc_tensor *ampc_tensor_narrow(const ampc_tensor *tensor, int dim, int64_t start,
                                         int64_t length);
/* Python-style start:end:step on dim (step > 0; start/end clamp, negatives from the end). */
AMPC_API ampc_tensor *ampc_tensor_slice(const ampc_tensor *tensor, int dim, int64_t start,
                                        int64_t end, int64_t step);
/* Broadcast to shape: size-1 dims stretch (stride 0), new dims are prepended, and -1 keeps
 * a dim's size, as torch.expand. */
AMPC_API ampc_tensor *ampc_tensor_expand(const ampc_tensor *tensor, int ndim,
                                         const int64_t *shape);

/* --- elements --------------------------------------------------------------------------- */
/* index has ndim entries, each from 0 to its dim's size - 1 (none counts from the end).
 * Values pass through double, so I64 beyond 2^53 loses precision; set rounds like a cast. */
AMPC_API ampc_status ampc_tensor_get(const ampc_tensor *tensor, const int64_t *index,
                                     double *value);
AMPC_API ampc_status ampc_tensor_set(ampc_tensor *tensor, const int64_t *index, double value);
/* A readable dump in torch's layout: "tensor(F32, shape [2, 3])", then the values in nested
 * brackets, %g, right-aligned (summarised with ... beyond 1000 elements). */
AMPC_API ampc_status ampc_tensor_print(const ampc_tensor *tensor, FILE *out);

#ifdef __cplusplus
}
#endif
#endif
