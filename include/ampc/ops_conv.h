/* Convolution and pooling over images, NCHW as in PyTorch: conv2d, conv_transpose2d,
 * max_pool2d, avg_pool2d, adaptive_avg_pool2d, each differentiable (ampc/autograd.h).
 *
 * Inputs are (N, C, H, W), or (C, H, W) for one unbatched image (the result then has no
 * batch dim either). Every op takes F64, F32, F16 and BF16 and returns the promoted dtype of
 * its float inputs (ampc_promote_float); non-contiguous inputs are fine.
 *
 * Numerics (docs/ops/conv.md): convolutions lower to ampc_gemm (im2col), with F16/BF16 operands
 * kept in F16/BF16 and every sum accumulated in fp32 (fp64 for F64), then rounded once to the
 * result dtype. Pools compute in fp32 (fp64 for F64). Results do not depend on the thread
 * count. */
#ifndef AMPC_OPS_CONV_H
#define AMPC_OPS_CONV_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/export.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Pairs are (height, width). */
typedef struct ampc_conv2d_options {
    int64_t stride[2];         /* >= 1 */
    int64_t padding[2];        /* >= 0, zeros on both sides */
    int64_t dilation[2];       /* >= 1 */
    int64_t output_padding[2]; /* transpose only: >= 0 and below stride or dilation; must
                                  be 0 for ampc_conv2d */
    int64_t groups;            /* >= 1, divides both channel counts */
} ampc_conv2d_options;

/* stride 1, padding 0, dilation 1, output_padding 0, groups 1 (what NULL options mean). */
AMPC_API ampc_conv2d_options ampc_conv2d_defaults(void);

/* 2-d cross-correlation, as torch.nn.functional.conv2d.
 *   input  (N, C_in, H, W) or (C_in, H, W)
 *   weight (C_out, C_in / groups, kH, kW)
 *   bias   (C_out), or NULL
 *   result (N, C_out, OH, OW) with OH = (H + 2 padding - dilation (kH - 1) - 1) / stride + 1
 *          (rounded down), likewise OW.
 * N may be 0; every other size must be >= 1, and the dilated kernel must fit in the padded
 * input. options NULL means ampc_conv2d_defaults(). */
AMPC_API ampc_tensor *ampc_conv2d(const ampc_tensor *input, const ampc_tensor *weight,
                                  const ampc_tensor *bias, const ampc_conv2d_options *options);

/* The transposed convolution (the gradient of conv2d with respect to its input), as
 * torch.nn.functional.conv_transpose2d.
 *   input  (N, C_in, H, W) or (C_in, H, W)
 *   weight (C_in, C_out / groups, kH, kW)
 *   bias   (C_out), or NULL
 *   result (N, C_out, OH, OW) with
 *          OH = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1 >= 1. */
AMPC_API ampc_tensor *ampc_conv_transpose2d(const ampc_tensor *input,
                                            const ampc_tensor *weight,
                                            const ampc_tensor *bias,
                                            const ampc_conv2d_options *options);

/* Options of the pools. Pairs are (height, width). */
typedef struct ampc_pool2d_options {
    int64_t kernel[2];   /* >= 1 */
    int64_t stride[2];   /* >= 1, or 0 for the kernel size (PyTorch's stride=None) */
    int64_t padding[2];  /* >= 0 and at most kernel / 2 (rounded down), as PyTorch */
    int64_t dilation[2]; /* max_pool2d only: >= 1, or 0 for 1; avg_pool2d needs 1 (or 0) */
    bool ceil_mode;      /* round the output size up (a window must start inside the input
                            or its left/top padding) */
    bool count_include_pad; /* avg_pool2d only: divide by the window size including padding
                               (PyTorch's default, true) or by the in-image element count */
} ampc_pool2d_options;

/* kernel (kernel_h, kernel_w), stride = kernel, padding 0, dilation 1, ceil_mode false,
 * count_include_pad true: PyTorch's defaults. */
AMPC_API ampc_pool2d_options ampc_pool2d_defaults(int64_t kernel_h, int64_t kernel_w);

/* Maximum over each window, as torch.nn.functional.max_pool2d. Padding never wins (it is
 * -infinity); a NaN in a window is the result. The gradient goes to the position of the
 * maximum, the first one in row-major order on ties (as PyTorch's CPU kernel).
 *   input (N, C, H, W) or (C, H, W), H, W >= 1; result (N, C, OH, OW) with
 *   OH = (H + 2 padding - dilation (kernel - 1) - 1 [+ stride - 1 in ceil_mode]) / stride + 1,
 *   less one in ceil_mode when the last window would start beyond H + padding. */
AMPC_API ampc_tensor *ampc_max_pool2d(const ampc_tensor *input,
                                      const ampc_pool2d_options *options);

/* Mean over each window, as torch.nn.functional.avg_pool2d (no divisor_override). Windows are
 * clipped to the padded input; the divisor is the clipped window's size with
 * count_include_pad, else the count of its elements inside the image. Shapes as max_pool2d. */
AMPC_API ampc_tensor *ampc_avg_pool2d(const ampc_tensor *input,
                                      const ampc_pool2d_options *options);

/* Mean over windows that tile the input into out_h x out_w cells, as
 * torch.nn.functional.adaptive_avg_pool2d: cell i spans rows floor(i H / out_h) to
 * ceil((i + 1) H / out_h) - 1 (likewise columns), so cells may overlap by one when the sizes
 * do not divide. out_h, out_w >= 0; input (N, C, H, W) or (C, H, W) with H, W >= 1. */
AMPC_API ampc_tensor *ampc_adaptive_avg_pool2d(const ampc_tensor *input, int64_t out_h,
                                               int64_t out_w);

#ifdef __cplusplus
}
#endif
#endif
