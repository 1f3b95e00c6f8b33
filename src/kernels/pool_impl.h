/* The pooling loops for one element type, included by pool.c once per type with `real` and
 * SUFFIX defined. No include guard; real and SUFFIX are undefined at the end. */

#define POOL_CONCAT_(a, b) a##_##b
#define POOL_CONCAT(a, b) POOL_CONCAT_(a, b)
#define POOL_NAME(name) POOL_CONCAT(name, SUFFIX)

/* The flat position (ih W + iw) of the max of window (oh, ow), or -1 if the window holds no
 * input element. Padding never wins; the first maximum wins ties; a NaN wins (the last one),
 * as `val > maxval || isnan(val)` in PyTorch. */
static int64_t POOL_NAME(argmax)(const real *plane, int64_t oh, int64_t ow,
                                 const ampc_pool_shape *s)
{
    int64_t best_index = -1;
    real best = 0;
    for (int64_t kh = 0; kh < s->kernel_h; kh++) {
        int64_t ih = oh * s->stride_h - s->pad_h + kh * s->dilation_h;
        if (ih < 0 || ih >= s->in_h) continue;
        for (int64_t kw = 0; kw < s->kernel_w; kw++) {
            int64_t iw = ow * s->stride_w - s->pad_w + kw * s->dilation_w;
            if (iw < 0 || iw >= s->in_w) continue;
            real value = plane[ih * s->in_w + iw];
            if (best_index < 0 || value > best || isnan(value)) {
                best = value;
                best_index = ih * s->in_w + iw;
            }
        }
    }
    return best_index;
}

/* One average window, clipped as PyTorch's avg_pool2d: the divisor counts the window inside
 * the padded input (count_include_pad) or inside the image. Returns false for a window with no
 * image element (its output is 0). */
static bool POOL_NAME(avg_window)(int64_t oh, int64_t ow, const ampc_pool_shape *s,
                                  pool_window *w)
{
    int64_t h0 = oh * s->stride_h - s->pad_h, w0 = ow * s->stride_w - s->pad_w;
    int64_t h1 = min64(h0 + s->kernel_h, s->in_h + s->pad_h);
    int64_t w1 = min64(w0 + s->kernel_w, s->in_w + s->pad_w);
    int64_t padded_count = (h1 - h0) * (w1 - w0);
    w->h0 = max64(h0, 0), w->w0 = max64(w0, 0);
    w->h1 = min64(h1, s->in_h), w->w1 = min64(w1, s->in_w);
    if (w->h0 >= w->h1 || w->w0 >= w->w1) return false;
    w->count = s->count_include_pad ? padded_count : (w->h1 - w->h0) * (w->w1 - w->w0);
    return true;
}

static void POOL_NAME(forward_plane)(ampc_pool_kind kind, real *out, const real *x,
                                     const ampc_pool_shape *s)
{
    for (int64_t oh = 0; oh < s->out_h; oh++)
        for (int64_t ow = 0; ow < s->out_w; ow++, out++) {
            if (kind == AMPC_POOL_MAX) {
                int64_t index = POOL_NAME(argmax)(x, oh, ow, s);
                *out = index < 0 ? (real)-INFINITY : x[index];
                continue;
            }
            pool_window w;
            bool any = kind == AMPC_POOL_AVG ? POOL_NAME(avg_window)(oh, ow, s, &w)
                                             : adaptive_window(oh, ow, s, &w);
            real sum = 0;
            for (int64_t ih = w.h0; any && ih < w.h1; ih++)
                for (int64_t iw = w.w0; iw < w.w1; iw++) sum += x[ih * s->in_w + iw];
            *out = any ? sum / (real)w.count : 0;
        }
}

static void POOL_NAME(backward_plane)(ampc_pool_kind kind, real *dx, const real *dout,
                                      const real *x, const ampc_pool_shape *s)
{
    for (int64_t oh = 0; oh < s->out_h; oh++)
        for (int64_t ow = 0; ow < s->out_w; ow++, dout++) {
            if (kind == AMPC_POOL_MAX) {
                int64_t index = POOL_NAME(argmax)(x, oh, ow, s);
                if (index >= 0) dx[index] += *dout;
                continue;
            }
            pool_window w;
            bool any = kind == AMPC_POOL_AVG ? POOL_NAME(avg_window)(oh, ow, s, &w)
                                             : adaptive_window(oh, ow, s, &w);
            if (!any) continue;
            real share = *dout / (real)w.count;
            for (int64_t ih = w.h0; ih < w.h1; ih++)
                for (int64_t iw = w.w0; iw < w.w1; iw++) dx[ih * s->in_w + iw] += share;
        }
}

static void POOL_NAME(forward)(ampc_pool_kind kind, real *out, const real *x, int64_t planes,
                               const ampc_pool_shape *s)
{
    int64_t in_plane = s->in_h * s->in_w, out_plane = s->out_h * s->out_w;
    int threads = ampc_conv_threads(planes, planes * (in_plane + out_plane));
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t p = 0; p < planes; p++)
        POOL_NAME(forward_plane)(kind, out + p * out_plane, x + p * in_plane, s);
}

static void POOL_NAME(backward)(ampc_pool_kind kind, real *dx, const real *dout, const real *x,
                                int64_t planes, const ampc_pool_shape *s)
{
    int64_t in_plane = s->in_h * s->in_w, out_plane = s->out_h * s->out_w;
    int threads = ampc_conv_threads(planes, planes * (in_plane + out_plane));
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t p = 0; p < planes; p++)
        POOL_NAME(backward_plane)(kind, dx + p * in_plane, dout + p * out_plane,
                                  x ? x + p * in_plane : NULL, s);
}

#undef POOL_NAME
#undef POOL_CONCAT
#undef POOL_CONCAT_
#undef real
#undef SUFFIX
