/* Pooling kernels over (image, channel) planes: max, average and adaptive average, forward
 * and backward, in F64 or F32 (the compute dtypes). Planes are independent and go to threads;
 * each output element, and each plane's gradient, is one serial chain, so the results do not
 * depend on the thread count. Index rules follow PyTorch's CPU kernels (src/ops/pool.c and
 * docs/ops/conv.md). */
#ifndef AMPC_KERNELS_POOL_H
#define AMPC_KERNELS_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/dtype.h>

typedef enum ampc_pool_kind {
    AMPC_POOL_MAX,
    AMPC_POOL_AVG,
    AMPC_POOL_ADAPTIVE_AVG, /* uses only the in/out sizes */
    AMPC_POOL_KIND_COUNT
} ampc_pool_kind;

typedef struct ampc_pool_shape {
    int64_t in_h, in_w, out_h, out_w;
    int64_t kernel_h, kernel_w;
    int64_t stride_h, stride_w;
    int64_t pad_h, pad_w;
    int64_t dilation_h, dilation_w; /* 1 for the averages */
    bool count_include_pad;         /* AMPC_POOL_AVG */
} ampc_pool_shape;

/* out (planes, OH, OW) from x (planes, H, W), contiguous, dtype F64 or F32. */
void ampc_pool2d_forward(ampc_pool_kind kind, ampc_dtype dtype, void *out, const void *x,
                         int64_t planes, const ampc_pool_shape *shape);

/* dx (planes, H, W) += the gradient of the pool for dout (planes, OH, OW). The max pool
 * recomputes each window's argmax from x (the forward's input); the averages ignore x. */
void ampc_pool2d_backward(ampc_pool_kind kind, ampc_dtype dtype, void *dx, const void *dout,
                          const void *x, int64_t planes, const ampc_pool_shape *shape);

#endif
