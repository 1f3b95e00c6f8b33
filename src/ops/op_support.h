/* What the op families share: dtype rules, broadcasting, and moving data to and from the
 * compute dtype.
 *
 * Every op takes F64, F32, F16 and BF16 and returns its input's dtype (mixed float inputs
 * promote; see ampc_promote_float). Ops compute in the compute dtype: F64 for F64 and F32 for
 * everything else, so F16/BF16 values are widened once, computed on in fp32 registers, and
 * rounded once on the way out. Reductions accumulate in the compute dtype or wider. */
#ifndef AMPC_OPS_OP_SUPPORT_H
#define AMPC_OPS_OP_SUPPORT_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/tensor.h>

/* F64, F32, F16 or BF16. */
bool ampc_dtype_is_differentiable(ampc_dtype dtype);
/* Fails naming function and argument unless tensor is non-NULL and of a float dtype above. */
ampc_status ampc_check_float_tensor(const char *function, const char *argument,
                                    const ampc_tensor *tensor);

/* F64 for F64, F32 for F32, F16 and BF16. */
ampc_dtype ampc_compute_dtype(ampc_dtype dtype);
/* The result dtype of an op on two float dtypes (PyTorch's rules): the same dtype stays;
 * F64 beats everything; F32 beats F16 and BF16; F16 with BF16 gives F32 (neither holds the
 * other's values). */
ampc_dtype ampc_promote_float(ampc_dtype a, ampc_dtype b);

/* NumPy broadcasting: shapes align at the right; each pair of sizes must be equal or one of
 * them 1. Writes the result's ndim and shape, or fails naming both shapes. */
ampc_status ampc_broadcast_shapes(const char *function, int ndim_a, const int64_t *shape_a,
                                  int ndim_b, const int64_t *shape_b, int *ndim,
                                  int64_t *shape);

/* A contiguous tensor holding tensor's values in `dtype`: a new handle on tensor itself when
 * it already is one, else a converted copy. Free it with ampc_tensor_free. */
ampc_tensor *ampc_contiguous_as(const char *function, const ampc_tensor *tensor,
                                ampc_dtype dtype);
/* ampc_contiguous_as(tensor, ampc_compute_dtype(tensor's dtype)). */
ampc_tensor *ampc_to_compute(const char *function, const ampc_tensor *tensor);
/* Turns a result computed in the compute dtype into `dtype`: returns computed itself when it
 * already has that dtype, else a converted copy, freeing computed. NULL propagates. */
ampc_tensor *ampc_from_compute(const char *function, ampc_tensor *computed, ampc_dtype dtype);

/* The gradient of a broadcast: sums grad over the dims that broadcasting added or stretched,
 * giving a tensor of `shape` (and grad's dtype), accumulated in the compute dtype. Returns a
 * new handle on grad when the shapes already match. */
ampc_tensor *ampc_sum_to_shape(const char *function, const ampc_tensor *grad, int ndim,
                               const int64_t *shape);

/* a + b as a new contiguous tensor of a's dtype (a and b have one shape). */
ampc_tensor *ampc_sum_new(const char *function, const ampc_tensor *a, const ampc_tensor *b);
/* dst += src, elementwise; dst is contiguous, src has dst's shape (any layout and dtype). */
ampc_status ampc_add_into(const char *function, ampc_tensor *dst, const ampc_tensor *src);

#endif
