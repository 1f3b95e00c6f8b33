/* The bodies of the normalisation kernels, for one element type. norm.c includes this file
 * once per type after defining `real` (float or double) and NORM_NAME(name), which appends
 * the type's suffix. See norm_kernels.h for what each kernel computes and the layout. */

/* Adds x[0..n) (minus shift, squared when `square`) into NORM_LANES running sums, element i
 * into lane i % NORM_LANES: independent chains the compiler can vectorise, each in a fixed
 * order, so the total does not depend on threads. */
static inline void NORM_NAME(add_to_lanes)(double *lanes, const real *x, int64_t n,
                                           double shift, bool square)
{
    int64_t i = 0;
    if (square) {
        for (; i + NORM_LANES <= n; i += NORM_LANES)
            for (int lane = 0; lane < NORM_LANES; lane++) {
                double deviation = x[i + lane] - shift;
                lanes[lane] += deviation * deviation;
            }
        for (; i < n; i++) lanes[i % NORM_LANES] += (x[i] - shift) * (x[i] - shift);
    } else {
        for (; i + NORM_LANES <= n; i += NORM_LANES)
            for (int lane = 0; lane < NORM_LANES; lane++) lanes[lane] += x[i + lane];
        for (; i < n; i++) lanes[i % NORM_LANES] += x[i];
    }
}

/* The sum over one group (minus shift, squared when `square`). */
static double NORM_NAME(group_sum)(const norm_layout *layout, const real *inp, norm_span span,
                                   double shift, bool square)
{
    int64_t block_length = layout->channels_per_group * layout->inner;
    double lanes[NORM_LANES] = {0};
    for (int64_t o = span.outer_begin; o < span.outer_end; o++)
        NORM_NAME(add_to_lanes)(lanes, inp + norm_block_start(layout, o, span.channel_begin),
                                block_length, shift, square);
    return norm_sum_lanes(lanes);
}

void NORM_NAME(norm_statistics)(const norm_layout *layout, const real *inp, double eps,
                                real *mean, real *rstd, double *var)
{
    int64_t groups = norm_layout_groups(layout);
    int64_t group_size = norm_layout_group_size(layout);
    int threads = norm_threads(groups, groups * group_size);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t group = 0; group < groups; group++) {
        norm_span span = norm_group_span(layout, group);
        /* Two passes: the mean, then the mean squared deviation from it. */
        double sum = NORM_NAME(group_sum)(layout, inp, span, 0, false);
        double group_mean = group_size ? sum / (double)group_size : 0;
        double squares = NORM_NAME(group_sum)(layout, inp, span, group_mean, true);
        double group_var = group_size ? squares / (double)group_size : 0;
        mean[group] = (real)group_mean;
        rstd[group] = (real)(1 / sqrt(group_var + eps));
        if (var) var[group] = group_var;
    }
}

void NORM_NAME(norm_apply)(const norm_layout *layout, const real *inp, const real *mean,
                           const real *rstd, const real *weight, const real *bias, real *out)
{
    int64_t cpg = layout->channels_per_group, inner = layout->inner;
    int64_t groups_per_row = layout->channels / cpg;
    int64_t rows = layout->outer * groups_per_row;
    int threads = norm_threads(rows, rows * cpg * inner);
    /* One (outer index, group of channels) pair per iteration: no division per element. */
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t row = 0; row < rows; row++) {
        int64_t o = row / groups_per_row, k = row % groups_per_row;
        int64_t group = layout->groups_per_outer ? o * layout->groups_per_outer + k : k;
        real m = mean[group], r = rstd[group];
        if (inner == 1) {
            /* layer_norm's rows: weight and bias vary along the row, which then vectorises. */
            int64_t start = norm_block_start(layout, o, k * cpg);
            const real *x = inp + start, *w = weight ? weight + k * cpg : NULL;
            const real *b = bias ? bias + k * cpg : NULL;
            real *y = out + start;
            for (int64_t c = 0; c < cpg; c++)
                y[c] = (x[c] - m) * r * (w ? w[c] : 1) + (b ? b[c] : 0);
            continue;
        }
        for (int64_t c = k * cpg; c < (k + 1) * cpg; c++) {
            real w = weight ? weight[c] : 1, b = bias ? bias[c] : 0;
            int64_t start = norm_block_start(layout, o, c);
            const real *x = inp + start;
            real *y = out + start;
            for (int64_t i = 0; i < inner; i++) y[i] = (x[i] - m) * r * w + b;
        }
    }
}

void NORM_NAME(norm_backward_input)(const norm_layout *layout, const real *dout,
                                    const real *inp, const real *mean, const real *rstd,
                                    const real *weight, bool batch_statistics, real *dinp)
{
    int64_t groups = norm_layout_groups(layout);
    int64_t group_size = norm_layout_group_size(layout);
    int64_t cpg = layout->channels_per_group, inner = layout->inner;
    int threads = norm_threads(groups, groups * group_size);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t group = 0; group < groups; group++) {
        norm_span span = norm_group_span(layout, group);
        double m = mean[group], r = rstd[group];
        /* mean_g(dxhat) and mean_g(dxhat * xhat): the gradient through the statistics. */
        double dxhat_mean = 0, dxhat_xhat_mean = 0;
        if (batch_statistics && group_size > 0) {
            double dxhat_sum = 0, dxhat_xhat_sum = 0;
            for (int64_t o = span.outer_begin; o < span.outer_end; o++)
                for (int64_t c = span.channel_begin; c < span.channel_begin + cpg; c++) {
                    double w = weight ? weight[c] : 1;
                    int64_t start = norm_block_start(layout, o, c);
                    for (int64_t i = 0; i < inner; i++) {
                        double dxhat = dout[start + i] * w;
                        dxhat_sum += dxhat;
                        dxhat_xhat_sum += dxhat * ((inp[start + i] - m) * r);
                    }
                }
            dxhat_mean = dxhat_sum / (double)group_size;
            dxhat_xhat_mean = dxhat_xhat_sum / (double)group_size;
        }
        for (int64_t o = span.outer_begin; o < span.outer_end; o++)
            for (int64_t c = span.channel_begin; c < span.channel_begin + cpg; c++) {
                double w = weight ? weight[c] : 1;
                int64_t start = norm_block_start(layout, o, c);
                for (int64_t i = 0; i < inner; i++) {
                    double dxhat = dout[start + i] * w;
                    double xhat = (inp[start + i] - m) * r;
                    dinp[start + i] = (real)(r * (dxhat - dxhat_mean - xhat * dxhat_xhat_mean));
                }
            }
    }
}

void NORM_NAME(norm_backward_affine)(const norm_layout *layout, const real *dout,
                                     const real *inp, const real *mean, const real *rstd,
                                     real *dweight, real *dbias)
{
    int64_t channels = layout->channels, inner = layout->inner;
    int64_t blocks = (channels + NORM_CHANNEL_BLOCK - 1) / NORM_CHANNEL_BLOCK;
    int threads = norm_threads(blocks, layout->outer * channels * inner);
    /* Threads take blocks of channels; inside one, rows go in order so the reads are
     * sequential, and each channel's two sums are serial chains over (outer, inner). */
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t block = 0; block < blocks; block++) {
        int64_t first = block * NORM_CHANNEL_BLOCK;
        int64_t count = channels - first < NORM_CHANNEL_BLOCK ? channels - first
                                                              : NORM_CHANNEL_BLOCK;
        double weight_sum[NORM_CHANNEL_BLOCK] = {0}, bias_sum[NORM_CHANNEL_BLOCK] = {0};
        int64_t group_in_row[NORM_CHANNEL_BLOCK];
        for (int64_t j = 0; j < count; j++)
            group_in_row[j] = (first + j) / layout->channels_per_group;
        for (int64_t o = 0; o < layout->outer; o++)
            for (int64_t j = 0; j < count; j++) {
                int64_t group = layout->groups_per_outer
                                    ? o * layout->groups_per_outer + group_in_row[j]
                                    : group_in_row[j];
                double m = mean[group], r = rstd[group];
                int64_t start = norm_block_start(layout, o, first + j);
                for (int64_t i = 0; i < inner; i++) {
                    double dy = dout[start + i];
                    weight_sum[j] += dy * ((inp[start + i] - m) * r);
                    bias_sum[j] += dy;
                }
            }
        for (int64_t j = 0; j < count; j++) {
            if (dweight) dweight[first + j] = (real)weight_sum[j];
            if (dbias) dbias[first + j] = (real)bias_sum[j];
        }
    }
}
