/* The kernels behind the reductions, softmax and the losses (src/ops/reduce.c, softmax.c,
 * loss*.c): plain loops over contiguous buffers in the compute dtype, one set for float
 * (F32, F16 and BF16 data, widened by the op) and one for double (F64). They know nothing of
 * tensors or autograd; the ops lay the data out and call them.
 *
 * Layout. A reduction sees its input as (outer, size, inner), contiguous: `size` is the
 * reduced extent and out[o * inner + i] reduces x[(o * size + r) * inner + i] over r. Softmax
 * and the class-index losses see (outer, C, inner) the same way, C being the class dim.
 *
 * Determinism. Every output element is one serial chain in a fixed order that depends only
 * on the sizes: a reduction sums fixed chunks of REDUCE_CHUNK elements and then the chunks'
 * partial sums in order. Threads only decide who computes which chain, so the results are
 * the same for any thread count. Upstream gradients of reduced losses arrive as a pointer,
 * a stride (0 for a scalar) and a scale (1/count for a mean). */
#ifndef AMPC_KERNELS_REDUCE_H
#define AMPC_KERNELS_REDUCE_H

#include <stdbool.h>
#include <stdint.h>

/* Reduced elements per partial sum. */
#define REDUCE_CHUNK 1024

typedef enum reduce_kind {
    REDUCE_SUM,          /* sum over r */
    REDUCE_MAX,          /* max over r; NaN wins */
    REDUCE_SQUARED_DEVIATION /* sum over r of (x - center[o, i])^2 */
} reduce_kind;

/* The upstream gradient of a loss: element k is data[k * stride] * scale. */
typedef struct loss_upstream_f32 {
    const float *data;
    int64_t stride;
    float scale;
} loss_upstream_f32;
typedef struct loss_upstream_f64 {
    const double *data;
    int64_t stride;
    double scale;
} loss_upstream_f64;

#define REDUCE_KERNEL_DECLARATIONS(real, suffix)                                               \
    /* out (outer, inner) = kind over r of x (outer, size, inner); center is (outer, inner)     \
     * for REDUCE_SQUARED_DEVIATION, else unused. size must be >= 1 for REDUCE_MAX; a sum  \
     * over size 0 is 0. workspace holds reduce_workspace_size(outer, size, inner) reals. */  \
    void reduce_##suffix(reduce_kind kind, real *out, const real *x, const real *center,      \
                         int64_t outer, int64_t size, int64_t inner, real *workspace);        \
    /* dx (outer, size, inner) = dout (outer, inner) * scale, broadcast over r. */            \
    void reduce_expand_##suffix(real *dx, const real *dout, real scale, int64_t outer,        \
                                int64_t size, int64_t inner);                                 \
    /* var's backward: dx = dout * scale * (x - mean). */                                     \
    void reduce_var_backward_##suffix(real *dx, const real *dout, const real *x,              \
                                      const real *mean, real scale, int64_t outer,            \
                                      int64_t size, int64_t inner);                           \
    /* amax's backward: dout split evenly among the r where x equals the max m (outer,        \
     * inner); where m is NaN no x equals it and the gradient is NaN, as in PyTorch. */       \
    void reduce_max_backward_##suffix(real *dx, const real *dout, const real *x,              \
                                      const real *m, int64_t outer, int64_t size,             \
                                      int64_t inner);                                         \
    /* y = softmax (or log_softmax) of x over the middle dim of (outer, C, inner). */          \
    void softmax_forward_##suffix(real *y, const real *x, int64_t outer, int64_t classes,     \
                                  int64_t inner, bool log_space);                                   \
    /* softmax: dx = y * (dy - sum_c dy * y); log_softmax: dx = dy - exp(y) * sum_c dy. */    \
    void softmax_backward_##suffix(real *dx, const real *dy, const real *y, int64_t outer,    \
                                   int64_t classes, int64_t inner, bool log_space);                 \
    /* Per-sample cross entropy of logits x (N, C, inner) against target (N * inner):          \
     * loss = lse - (1 - smoothing) x_t - smoothing / C * sum_c x_c, with lse saved for the   \
     * backward; samples whose target is ignore_index get loss 0 (lse 0). Targets are valid. */\
    void cross_entropy_forward_##suffix(real *loss, real *lse, const real *x,                 \
                                        const int64_t *target, int64_t n, int64_t classes,    \
                                        int64_t inner, int64_t ignore_index, real smoothing); \
    /* dx = g * (softmax(x) - (1 - smoothing) [c == t] - smoothing / C), 0 where ignored. */  \
    void cross_entropy_backward_##suffix(real *dx, loss_upstream_##suffix g, const real *x,   \
                                         const real *lse, const int64_t *target, int64_t n,   \
                                         int64_t classes, int64_t inner,                      \
                                         int64_t ignore_index, real smoothing);               \
    /* loss = -x[n, t, i] (0 where ignored); dx = -g at the target class, 0 elsewhere. */     \
    void nll_forward_##suffix(real *loss, const real *x, const int64_t *target, int64_t n,    \
                              int64_t classes, int64_t inner, int64_t ignore_index);          \
    void nll_backward_##suffix(real *dx, loss_upstream_##suffix g, const int64_t *target,     \
                               int64_t n, int64_t classes, int64_t inner,                     \
                               int64_t ignore_index);                                         \
    /* Pointwise losses of n elements: mse (x - y)^2; bce -(y log p + (1 - y) log(1 - p))     \
     * with each log clamped at -100; bce with logits max(x, 0) - x y + log1p(exp(-|x|)). */  \
    void mse_forward_##suffix(real *loss, const real *x, const real *y, int64_t n);           \
    void mse_backward_##suffix(real *dx, real *dy, loss_upstream_##suffix g, const real *x,   \
                               const real *y, int64_t n);                                     \
    void bce_forward_##suffix(real *loss, const real *p, const real *y, int64_t n);           \
    void bce_backward_##suffix(real *dp, real *dy, loss_upstream_##suffix g, const real *p,   \
                               const real *y, int64_t n);                                     \
    void bce_logits_forward_##suffix(real *loss, const real *x, const real *y, int64_t n);    \
    void bce_logits_backward_##suffix(real *dx, real *dy, loss_upstream_##suffix g,           \
                                      const real *x, const real *y, int64_t n);

REDUCE_KERNEL_DECLARATIONS(float, f32)
REDUCE_KERNEL_DECLARATIONS(double, f64)

/* Reals of workspace reduce_f32/f64 need: room for the chunks' partial results. */
int64_t reduce_workspace_size(int64_t outer, int64_t size, int64_t inner);

/* Threads for a loop over `work` cheap elements: 1 below a threshold (waking threads costs
 * more than it saves), else ampc_num_threads(). */
int reduce_threads(int64_t work);

#endif
