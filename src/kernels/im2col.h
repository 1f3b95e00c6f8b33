/* The lowering that turns a convolution into a GEMM: im2col gathers every input patch a
 * kernel sees into a column, and col2im is its adjoint, adding columns back into the image.
 *
 * For one image of C channels, cols is (C kH kW, OH OW): row (c, kh, kw), column (oh, ow)
 * holds x[c][oh stride_h - pad_h + kh dilation_h][ow stride_w - pad_w + kw dilation_w], or 0
 * where that falls outside the image. Rows of a channel group are contiguous, so group g's
 * block of a grouped convolution starts at row g (C / groups) kH kW.
 *
 * The sizes are given, not derived: a transposed convolution runs these with its own output
 * as the "image" (see src/ops/conv_lowering.c). Kernels know nothing about tensors or
 * autograd. */
#ifndef AMPC_KERNELS_IM2COL_H
#define AMPC_KERNELS_IM2COL_H

#include <stdint.h>

#include <ampc/dtype.h>

typedef struct ampc_im2col_shape {
    int64_t channels;          /* C of one image */
    int64_t in_h, in_w;        /* the image */
    int64_t out_h, out_w;      /* positions of the kernel: the columns */
    int64_t kernel_h, kernel_w;
    int64_t stride_h, stride_w;
    int64_t pad_h, pad_w;
    int64_t dilation_h, dilation_w;
} ampc_im2col_shape;

/* How many threads a loop over `items` independent items touching `elements` elements in all
 * should use: 1 below a size where waking threads costs more than it saves, else up to
 * ampc_num_threads(). Shared by the convolution family's loops (im2col, pools, bias). */
int ampc_conv_threads(int64_t items, int64_t elements);

/* Where image i's cols go in a chunk's buffer. */
typedef enum ampc_cols_layout {
    AMPC_COLS_PER_IMAGE,    /* (images, C kH kW, OH OW): one image's cols after another */
    AMPC_COLS_SIDE_BY_SIDE, /* (C kH kW, images OH OW): each row holds every image's values,
                               so one GEMM sums over the images and positions together */
} ampc_cols_layout;

/* cols from x (images, C, H, W), both contiguous. dtype is any 8-, 4- or 2-byte float (F64,
 * F32, F16, BF16): the gather copies bits, and 0 bits are +0 in each. Splits its rows over
 * threads when there are enough. */
void ampc_im2col(ampc_dtype dtype, void *cols, const void *x, int64_t images,
                 const ampc_im2col_shape *shape, ampc_cols_layout layout);

/* dx (images, C, H, W) += col2im(dcols (images, C kH kW, OH OW)); dtype F64 or F32. Each
 * (image, channel) plane is one serial chain in a fixed order (kh, kw, oh, ow), and planes go
 * to threads, so the sums do not depend on the thread count. */
void ampc_col2im(ampc_dtype dtype, void *dx, const void *dcols, int64_t images,
                 const ampc_im2col_shape *shape);

#endif
