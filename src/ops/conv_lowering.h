/* Convolution as GEMM, on raw contiguous buffers: the forward, the gradient with respect to
 * the input (which is also the transposed convolution's forward) and the gradient with
 * respect to the weight. conv.c validates, converts and records; this file only computes.
 *
 * Everything is described from the convolution's side: `image` is what the kernel slides
 * over (N, C_in, H, W), `result` is (N, C_out, OH, OW), weight is (C_out, C_in / groups, kH,
 * kW). Operands (image, result gradient, weight) come in the GEMM dtype, which is the op's
 * result dtype: F64, F32, F16 or BF16. Outputs are written in the compute dtype, F64 for F64
 * and F32 otherwise, which is also what the GEMM accumulates in. */
#ifndef AMPC_OPS_CONV_LOWERING_H
#define AMPC_OPS_CONV_LOWERING_H

#include <stdint.h>

#include <ampc/dtype.h>
#include <ampc/error.h>

#include "kernels/im2col.h"

typedef struct ampc_conv_geometry {
    int64_t batch;          /* N, may be 0 */
    int64_t groups;
    int64_t out_channels;   /* C_out of the result */
    ampc_im2col_shape cols; /* channels is C_in; in_* the image, out_* the result */
} ampc_conv_geometry;

/* result (N, C_out, OH, OW) = conv(image, weight), written (not accumulated). */
ampc_status ampc_conv_lowered_forward(const char *function, const ampc_conv_geometry *g,
                                      ampc_dtype gemm_dtype, void *result, const void *image,
                                      const void *weight);

/* dimage (N, C_in, H, W) += col2im(weight^T dresult), per image and group. */
ampc_status ampc_conv_lowered_dimage(const char *function, const ampc_conv_geometry *g,
                                     ampc_dtype gemm_dtype, void *dimage, const void *dresult,
                                     const void *weight);

/* dweight (C_out, C_in / groups, kH, kW) += sum over images of dresult cols^T: one GEMM per
 * chunk of images (side by side), the chunks accumulating into dweight in order. */
ampc_status ampc_conv_lowered_dweight(const char *function, const ampc_conv_geometry *g,
                                      ampc_dtype gemm_dtype, void *dweight,
                                      const void *dresult, const void *image);

/* values (N, C, P) += bias[c], in place; compute dtype F64 or F32. */
void ampc_conv_add_bias(ampc_dtype dtype, void *values, const void *bias, int64_t batch,
                        int64_t channels, int64_t positions);
/* dbias[c] = sum over N and P of dvalues (N, C, P), one chain per channel, in the compute
 * dtype (F64 or F32). */
void ampc_conv_sum_bias(ampc_dtype dtype, void *dbias, const void *dvalues, int64_t batch,
                        int64_t channels, int64_t positions);

#endif
