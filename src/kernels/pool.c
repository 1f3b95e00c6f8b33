/* Pooling kernels (pool.h): the loops live once in pool_impl.h, instantiated here for double
 * and float; the window rules shared by both types are here. */
#include "kernels/pool.h"

#include <math.h>
#include <stddef.h>

#include "core/error.h"
#include "kernels/im2col.h"

/* An averaging window: rows [h0, h1), columns [w0, w1), divided by count. */
typedef struct pool_window {
    int64_t h0, h1, w0, w1, count;
} pool_window;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Cell (oh, ow) of the adaptive pool: rows floor(oh H / OH) to ceil((oh + 1) H / OH), as
 * PyTorch's start_index / end_index. Never empty for H, OH >= 1. */
static bool adaptive_window(int64_t oh, int64_t ow, const ampc_pool_shape *s, pool_window *w)
{
    w->h0 = oh * s->in_h / s->out_h;
    w->h1 = ((oh + 1) * s->in_h + s->out_h - 1) / s->out_h;
    w->w0 = ow * s->in_w / s->out_w;
    w->w1 = ((ow + 1) * s->in_w + s->out_w - 1) / s->out_w;
    w->count = (w->h1 - w->h0) * (w->w1 - w->w0);
    return true;
}

#define real double
#define SUFFIX f64
#include "kernels/pool_impl.h"

#define real float
#define SUFFIX f32
#include "kernels/pool_impl.h"

void ampc_pool2d_forward(ampc_pool_kind kind, ampc_dtype dtype, void *out, const void *x,
                         int64_t planes, const ampc_pool_shape *shape)
{
    AMPC_ASSERT(dtype == AMPC_F64 || dtype == AMPC_F32);
    if (dtype == AMPC_F64)
        forward_f64(kind, out, x, planes, shape);
    else
        forward_f32(kind, out, x, planes, shape);
}

void ampc_pool2d_backward(ampc_pool_kind kind, ampc_dtype dtype, void *dx, const void *dout,
                          const void *x, int64_t planes, const ampc_pool_shape *shape)
{
    AMPC_ASSERT(dtype == AMPC_F64 || dtype == AMPC_F32);
    AMPC_ASSERT(kind != AMPC_POOL_MAX || x);
    if (dtype == AMPC_F64)
        backward_f64(kind, dx, dout, x, planes, shape);
    else
        backward_f32(kind, dx, dout, x, planes, shape);
}
