/* The reduction, softmax and loss kernels, written once for a `real` type. reduce.c includes
 * this file twice, with REAL float / SUFFIX f32 and REAL double / SUFFIX f64 (and the math
 * functions of that precision), so every kernel of reduce.h exists for both compute dtypes.
 * Accumulators are REAL: fp32 for F32/F16/BF16 data, fp64 for F64. */
#define R_CAT2(name, suffix) name##_##suffix
#define R_CAT(name, suffix) R_CAT2(name, suffix)
#define R(name) R_CAT(name, SUFFIX)

/* --- reductions ---------------------------------------------------------------------------- */

/* Eight interleaved accumulators let the compiler vectorise the contiguous case; the lanes are
 * combined in one fixed tree, so the result still depends only on n. */
static REAL R(row_sum)(const REAL *x, int64_t n)
{
    REAL lane[8] = {0};
    int64_t r = 0;
    for (; r + 8 <= n; r += 8)
        for (int l = 0; l < 8; l++) lane[l] += x[r + l];
    for (int l = 0; r < n; r++, l++) lane[l] += x[r];
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

static REAL R(row_squared_deviation)(const REAL *x, REAL center, int64_t n)
{
    REAL lane[8] = {0};
    int64_t r = 0;
    for (; r + 8 <= n; r += 8)
        for (int l = 0; l < 8; l++) lane[l] += (x[r + l] - center) * (x[r + l] - center);
    for (int l = 0; r < n; r++, l++) lane[l] += (x[r] - center) * (x[r] - center);
    return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

/* NaN wins: once m is NaN, no comparison replaces it. */
static inline REAL R(max_nan)(REAL m, REAL v)
{
    return (v > m || v != v) ? v : m;
}

static REAL R(row_max)(const REAL *x, int64_t n)
{
    REAL m = x[0];
    for (int64_t r = 1; r < n; r++) m = R(max_nan)(m, x[r]);
    return m;
}

/* dst[i], i0 <= i < i1, = kind over rows r0 <= r < r1 of x (size, inner). */
static void R(reduce_chunk)(reduce_kind kind, REAL *dst, const REAL *x, const REAL *center,
                            int64_t r0, int64_t r1, int64_t inner, int64_t i0, int64_t i1)
{
    if (inner == 1) {
        switch (kind) {
        case REDUCE_SUM: dst[0] = R(row_sum)(x + r0, r1 - r0); break;
        case REDUCE_MAX: dst[0] = R(row_max)(x + r0, r1 - r0); break;
        case REDUCE_SQUARED_DEVIATION:
            dst[0] = R(row_squared_deviation)(x + r0, center[0], r1 - r0);
            break;
        }
        return;
    }
    if (kind == REDUCE_MAX) {
        for (int64_t i = i0; i < i1; i++) dst[i] = x[r0 * inner + i];
        for (int64_t r = r0 + 1; r < r1; r++)
            for (int64_t i = i0; i < i1; i++) dst[i] = R(max_nan)(dst[i], x[r * inner + i]);
        return;
    }
    for (int64_t i = i0; i < i1; i++) dst[i] = 0;
    for (int64_t r = r0; r < r1; r++) {
        const REAL *row = x + r * inner;
        if (kind == REDUCE_SUM)
            for (int64_t i = i0; i < i1; i++) dst[i] += row[i];
        else
            for (int64_t i = i0; i < i1; i++)
                dst[i] += (row[i] - center[i]) * (row[i] - center[i]);
    }
}

void R(reduce)(reduce_kind kind, REAL *out, const REAL *x, const REAL *center, int64_t outer,
               int64_t size, int64_t inner, REAL *workspace)
{
    if (outer == 0 || inner == 0) return;
    if (size == 0) {
        for (int64_t k = 0; k < outer * inner; k++) out[k] = 0;
        return;
    }
    int64_t chunks = reduce_chunk_count(size);
    int64_t blocks = (inner + REDUCE_INNER_BLOCK - 1) / REDUCE_INNER_BLOCK;
    REAL *partial = chunks == 1 ? out : workspace; /* (outer, chunks, inner) */
    int64_t tasks = outer * chunks * blocks;
    int threads = reduce_threads(outer * size * inner);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && tasks > 1)
    for (int64_t task = 0; task < tasks; task++) {
        int64_t block = task % blocks, chunk = task / blocks % chunks, o = task / blocks / chunks;
        int64_t i0 = block * REDUCE_INNER_BLOCK;
        int64_t i1 = i0 + REDUCE_INNER_BLOCK < inner ? i0 + REDUCE_INNER_BLOCK : inner;
        int64_t r0 = chunk * REDUCE_CHUNK;
        int64_t r1 = r0 + REDUCE_CHUNK < size ? r0 + REDUCE_CHUNK : size;
        R(reduce_chunk)(kind, partial + (o * chunks + chunk) * inner, x + o * size * inner,
                        center ? center + o * inner : NULL, r0, r1, inner, i0, i1);
    }
    if (chunks == 1) return;
    int64_t outputs = outer * inner;
    threads = reduce_threads(outputs * chunks);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < outputs; k++) {
        int64_t o = k / inner, i = k % inner;
        const REAL *column = partial + o * chunks * inner + i;
        REAL value = column[0];
        for (int64_t chunk = 1; chunk < chunks; chunk++)
            value = kind == REDUCE_MAX ? R(max_nan)(value, column[chunk * inner])
                                       : value + column[chunk * inner];
        out[k] = value;
    }
}

void R(reduce_expand)(REAL *dx, const REAL *dout, REAL scale, int64_t outer, int64_t size,
                      int64_t inner)
{
    int64_t rows = outer * size;
    int threads = reduce_threads(rows * inner);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t row = 0; row < rows; row++) {
        const REAL *g = dout + row / size * inner;
        for (int64_t i = 0; i < inner; i++) dx[row * inner + i] = g[i] * scale;
    }
}

void R(reduce_var_backward)(REAL *dx, const REAL *dout, const REAL *x, const REAL *mean,
                            REAL scale, int64_t outer, int64_t size, int64_t inner)
{
    int64_t rows = outer * size;
    int threads = reduce_threads(rows * inner);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t row = 0; row < rows; row++) {
        const REAL *g = dout + row / size * inner, *center = mean + row / size * inner;
        for (int64_t i = 0; i < inner; i++)
            dx[row * inner + i] = g[i] * scale * (x[row * inner + i] - center[i]);
    }
}

void R(reduce_max_backward)(REAL *dx, const REAL *dout, const REAL *x, const REAL *m,
                            int64_t outer, int64_t size, int64_t inner)
{
    int64_t outputs = outer * inner;
    int threads = reduce_threads(outputs * size);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < outputs; k++) {
        int64_t o = k / inner, i = k % inner;
        const REAL *column = x + o * size * inner + i;
        REAL *dcolumn = dx + o * size * inner + i;
        int64_t ties = 0;
        for (int64_t r = 0; r < size; r++) ties += column[r * inner] == m[k];
        /* (dout / ties) * mask, PyTorch's formula: ties = 0 (a NaN max) gives NaN. */
        REAL share = dout[k] / (REAL)ties;
        for (int64_t r = 0; r < size; r++)
            dcolumn[r * inner] = share * (REAL)(column[r * inner] == m[k]);
    }
}

/* --- softmax ------------------------------------------------------------------------------- */

/* One softmax row of `classes` elements `stride` apart. Subtracting the max keeps exp <= 1.
 * Inlined into each caller, so the contiguous case (stride 1) compiles to its own loops. */
static inline __attribute__((always_inline)) void R(softmax_row)(REAL *y, const REAL *x, int64_t classes, int64_t stride,
                           bool log_space)
{
    REAL m = x[0];
    for (int64_t c = 1; c < classes; c++) m = R(max_nan)(m, x[c * stride]);
    REAL sum = 0;
    if (log_space) {
        for (int64_t c = 0; c < classes; c++) sum += EXP(x[c * stride] - m);
        REAL shift = m + LOG(sum);
        for (int64_t c = 0; c < classes; c++) y[c * stride] = x[c * stride] - shift;
        return;
    }
    for (int64_t c = 0; c < classes; c++) {
        y[c * stride] = EXP(x[c * stride] - m);
        sum += y[c * stride];
    }
    REAL inverse = 1 / sum;
    for (int64_t c = 0; c < classes; c++) y[c * stride] *= inverse;
}

void R(softmax_forward)(REAL *y, const REAL *x, int64_t outer, int64_t classes, int64_t inner,
                        bool log_space)
{
    if (classes == 0) return;
    int64_t rows = outer * inner;
    int threads = reduce_threads(rows * classes * 8);
    if (inner == 1) { /* the last dim of a contiguous tensor: contiguous rows */
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
        for (int64_t row = 0; row < rows; row++)
            R(softmax_row)(y + row * classes, x + row * classes, classes, 1, log_space);
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t row = 0; row < rows; row++) {
        int64_t base = row / inner * classes * inner + row % inner;
        R(softmax_row)(y + base, x + base, classes, inner, log_space);
    }
}

void R(softmax_backward)(REAL *dx, const REAL *dy, const REAL *y, int64_t outer,
                         int64_t classes, int64_t inner, bool log_space)
{
    int64_t rows = outer * inner;
    int threads = reduce_threads(rows * classes * 4);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t row = 0; row < rows; row++) {
        int64_t base = row / inner * classes * inner + row % inner;
        const REAL *g = dy + base, *out = y + base;
        REAL *d = dx + base;
        REAL total = 0;
        if (log_space) {
            for (int64_t c = 0; c < classes; c++) total += g[c * inner];
            for (int64_t c = 0; c < classes; c++)
                d[c * inner] = g[c * inner] - EXP(out[c * inner]) * total;
        } else {
            for (int64_t c = 0; c < classes; c++) total += g[c * inner] * out[c * inner];
            for (int64_t c = 0; c < classes; c++)
                d[c * inner] = out[c * inner] * (g[c * inner] - total);
        }
    }
}

/* --- class-index losses -------------------------------------------------------------------- */

/* One sample's loss and log-sum-exp from its `classes` logits `stride` apart; inlined so
 * that logits (N, C) (stride 1) get contiguous loops. */
static inline __attribute__((always_inline)) REAL R(cross_entropy_row)(
    REAL *lse, const REAL *row, int64_t classes, int64_t stride, int64_t target, REAL smoothing)
{
    REAL m = row[0];
    for (int64_t c = 1; c < classes; c++) m = R(max_nan)(m, row[c * stride]);
    REAL sum = 0, total = 0;
    for (int64_t c = 0; c < classes; c++) sum += EXP(row[c * stride] - m);
    if (smoothing != 0)
        for (int64_t c = 0; c < classes; c++) total += row[c * stride];
    *lse = m + LOG(sum);
    return *lse - (1 - smoothing) * row[target * stride] - smoothing / (REAL)classes * total;
}

void R(cross_entropy_forward)(REAL *loss, REAL *lse, const REAL *x, const int64_t *target,
                              int64_t n, int64_t classes, int64_t inner, int64_t ignore_index,
                              REAL smoothing)
{
    int64_t samples = n * inner;
    int threads = reduce_threads(samples * classes * 8);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < samples; k++) {
        if (target[k] == ignore_index)
            loss[k] = lse[k] = 0;
        else if (inner == 1)
            loss[k] = R(cross_entropy_row)(lse + k, x + k * classes, classes, 1, target[k],
                                           smoothing);
        else
            loss[k] = R(cross_entropy_row)(lse + k, x + k / inner * classes * inner + k % inner,
                                           classes, inner, target[k], smoothing);
    }
}

/* One sample's gradient: scale * (softmax - smoothing / C - (1 - smoothing) [c == target]). */
static inline __attribute__((always_inline)) void R(cross_entropy_row_backward)(
    REAL *d, const REAL *row, REAL lse, REAL scale, int64_t classes, int64_t stride,
    int64_t target, REAL smoothing)
{
    REAL uniform = smoothing / (REAL)classes;
    for (int64_t c = 0; c < classes; c++)
        d[c * stride] = scale * (EXP(row[c * stride] - lse) - uniform);
    d[target * stride] -= scale * (1 - smoothing);
}

void R(cross_entropy_backward)(REAL *dx, R(loss_upstream) g, const REAL *x, const REAL *lse,
                               const int64_t *target, int64_t n, int64_t classes,
                               int64_t inner, int64_t ignore_index, REAL smoothing)
{
    int64_t samples = n * inner;
    int threads = reduce_threads(samples * classes * 8);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < samples; k++) {
        int64_t base = k / inner * classes * inner + k % inner;
        if (target[k] == ignore_index) {
            for (int64_t c = 0; c < classes; c++) dx[base + c * inner] = 0;
            continue;
        }
        REAL scale = g.data[k * g.stride] * g.scale;
        if (inner == 1)
            R(cross_entropy_row_backward)(dx + base, x + base, lse[k], scale, classes, 1,
                                          target[k], smoothing);
        else
            R(cross_entropy_row_backward)(dx + base, x + base, lse[k], scale, classes, inner,
                                          target[k], smoothing);
    }
}

void R(nll_forward)(REAL *loss, const REAL *x, const int64_t *target, int64_t n,
                    int64_t classes, int64_t inner, int64_t ignore_index)
{
    int64_t samples = n * inner;
    for (int64_t k = 0; k < samples; k++)
        loss[k] = target[k] == ignore_index
                      ? 0
                      : -x[k / inner * classes * inner + target[k] * inner + k % inner];
}

void R(nll_backward)(REAL *dx, R(loss_upstream) g, const int64_t *target, int64_t n,
                     int64_t classes, int64_t inner, int64_t ignore_index)
{
    int64_t samples = n * inner;
    int threads = reduce_threads(samples * classes);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < samples; k++) {
        int64_t base = k / inner * classes * inner + k % inner;
        for (int64_t c = 0; c < classes; c++) dx[base + c * inner] = 0;
        if (target[k] != ignore_index)
            dx[base + target[k] * inner] = -g.data[k * g.stride] * g.scale;
    }
}

/* --- pointwise losses ---------------------------------------------------------------------- */

/* The PyTorch clamp: log(0) = -inf would make 0 * log(0) NaN; -100 keeps it finite. */
static inline REAL R(clamped_log)(REAL value)
{
    REAL result = LOG(value);
    return result < -100 ? -100 : result;
}

static inline REAL R(clamped_log1m)(REAL value)
{
    REAL result = LOG1P(-value);
    return result < -100 ? -100 : result;
}

void R(mse_forward)(REAL *loss, const REAL *x, const REAL *y, int64_t n)
{
    int threads = reduce_threads(n);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < n; k++) loss[k] = (x[k] - y[k]) * (x[k] - y[k]);
}

void R(mse_backward)(REAL *dx, REAL *dy, R(loss_upstream) g, const REAL *x, const REAL *y,
                     int64_t n)
{
    int threads = reduce_threads(n);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < n; k++) {
        REAL d = 2 * g.data[k * g.stride] * g.scale * (x[k] - y[k]);
        if (dx) dx[k] = d;
        if (dy) dy[k] = -d;
    }
}

void R(bce_forward)(REAL *loss, const REAL *p, const REAL *y, int64_t n)
{
    int threads = reduce_threads(n * 8);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < n; k++)
        loss[k] = (y[k] - 1) * R(clamped_log1m)(p[k]) - y[k] * R(clamped_log)(p[k]);
}

/* dp: PyTorch's (p - y) / max(p (1 - p), 1e-12); dy: the derivative of the clamped forward,
 * log(1 - p) - log(p) with both logs clamped at -100. */
void R(bce_backward)(REAL *dp, REAL *dy, R(loss_upstream) g, const REAL *p, const REAL *y,
                     int64_t n)
{
    int threads = reduce_threads(n * 8);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < n; k++) {
        REAL scale = g.data[k * g.stride] * g.scale;
        if (dp) {
            REAL denominator = (1 - p[k]) * p[k];
            if (denominator < (REAL)1e-12) denominator = (REAL)1e-12;
            dp[k] = scale * (p[k] - y[k]) / denominator;
        }
        if (dy) dy[k] = scale * (R(clamped_log1m)(p[k]) - R(clamped_log)(p[k]));
    }
}

void R(bce_logits_forward)(REAL *loss, const REAL *x, const REAL *y, int64_t n)
{
    int threads = reduce_threads(n * 8);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < n; k++) {
        REAL positive = x[k] > 0 ? x[k] : 0;
        loss[k] = positive - x[k] * y[k] + LOG1P(EXP(-FABS(x[k])));
    }
}

void R(bce_logits_backward)(REAL *dx, REAL *dy, R(loss_upstream) g, const REAL *x,
                            const REAL *y, int64_t n)
{
    int threads = reduce_threads(n * 8);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t k = 0; k < n; k++) {
        REAL scale = g.data[k * g.stride] * g.scale;
        if (dx) {
            REAL e = EXP(-FABS(x[k])); /* sigmoid without overflow on either side */
            REAL sigmoid = x[k] >= 0 ? 1 / (1 + e) : e / (1 + e);
            dx[k] = scale * (sigmoid - y[k]);
        }
        if (dy) dy[k] = -scale * x[k];
    }
}

#undef R
#undef R_CAT
#undef R_CAT2
