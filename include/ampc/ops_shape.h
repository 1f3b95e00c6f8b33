/* Shape ops: the differentiable counterparts of the raw views of ampc/tensor.h.
 *
 * Each op does the data part with the tensor layer (so views share storage with their input,
 * exactly as ampc_tensor_view, ampc_tensor_permute, ... do) and, when grad mode is on and an
 * input requires grad, records how to send the gradient back: a reshape's gradient is reshaped
 * back, a permute's is permuted back, a narrow's lands in a zero tensor of the input's shape,
 * an expand's is summed over the stretched dims, a cat's is cut into the inputs' pieces.
 *
 * Dtypes: the view ops (reshape, view, flatten, permute, transpose, narrow, split, expand)
 * take a tensor of any dtype and keep it; only float tensors (F64, F32, F16, BF16) can
 * require grad. cat and stack take tensors of one dtype, or float tensors of several, which
 * promote as in torch.cat (ampc_promote_float: F64 > F32 > F16, BF16; F16 with BF16 is F32).
 * Moving data never rounds: gradients are copied, or summed in fp32 (fp64 for F64) for expand.
 *
 * Dims may count from the end (-1 is the last), as in PyTorch. Every function returns a new
 * handle the caller frees with ampc_tensor_free, or NULL with the error set (ampc/error.h). */
#ifndef AMPC_OPS_SHAPE_H
#define AMPC_OPS_SHAPE_H

#include <stdint.h>

#include <ampc/export.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* torch.reshape: shape has ndim sizes, one of which may be -1 (inferred from the element
 * count). A view when the strides allow one, else a contiguous copy. */
AMPC_API ampc_tensor *ampc_reshape(const ampc_tensor *a, int ndim, const int64_t *shape);
/* Tensor.view: as reshape, but fails where no view exists (it never copies). */
AMPC_API ampc_tensor *ampc_view(const ampc_tensor *a, int ndim, const int64_t *shape);
/* torch.flatten: dims start_dim..end_dim merged into one (a view when possible, else a copy).
 * A 0-d tensor flattens to shape [1]. */
AMPC_API ampc_tensor *ampc_flatten(const ampc_tensor *a, int start_dim, int end_dim);
/* torch.permute: dims is a permutation of 0..ndim-1; result dim i is a's dim dims[i]. View. */
AMPC_API ampc_tensor *ampc_permute(const ampc_tensor *a, const int *dims);
/* torch.transpose (torch.swapdims): dims dim0 and dim1 swapped. View. */
AMPC_API ampc_tensor *ampc_transpose(const ampc_tensor *a, int dim0, int dim1);
/* torch.narrow: elements start .. start+length-1 of dim (a negative start counts from the
 * end). View. */
AMPC_API ampc_tensor *ampc_narrow(const ampc_tensor *a, int dim, int64_t start, int64_t length);
/* torch.split with one size: cuts dim into pieces of split_size (the last one smaller when the
 * size does not divide), each a recorded narrow (a view). Writes up to capacity pieces into
 * parts and their number into count; fails (writing nothing) when capacity is too small, and
 * then sets *count to the number needed if count is not NULL. split_size must be >= 1, or 0
 * for a dim of size 0 (one empty piece, as PyTorch). The caller frees every part. */
AMPC_API ampc_status ampc_split(const ampc_tensor *a, int64_t split_size, int dim,
                                ampc_tensor **parts, int capacity, int *count);
/* torch.cat: n >= 1 tensors of the same ndim (>= 1) and the same sizes except along dim,
 * joined along dim into a new contiguous tensor of the common (promoted) dtype. */
AMPC_API ampc_tensor *ampc_cat(int n, const ampc_tensor *const *tensors, int dim);
/* torch.stack: n >= 1 tensors of one shape joined along a new dim (0..ndim, negatives count
 * from the end of the result's dims). Same dtype rule as cat. */
AMPC_API ampc_tensor *ampc_stack(int n, const ampc_tensor *const *tensors, int dim);
/* torch.expand: size-1 dims stretch to shape's sizes, new leading dims are prepended, -1
 * keeps a dim's size. View (stride 0 on the stretched dims); the gradient sums them back. */
AMPC_API ampc_tensor *ampc_expand(const ampc_tensor *a, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif
