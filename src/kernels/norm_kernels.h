/* The normalisation kernels batch_norm, layer_norm and group_norm share (src/ops/norm*.c).
 *
 * All three see their contiguous input as (outer, channels, inner) and normalise groups of
 * it with one mean and one rstd = 1 / sqrt(var + eps) per group; weight and bias are per
 * channel. What differs is which elements form a group:
 *
 *   batch_norm (N, C, S...)  outer N, channels C, inner S; group c is channel c over all
 *                            of N and S            (groups_per_outer 0, channels_per_group 1)
 *   layer_norm (M, D)        outer M, channels D, inner 1; group m is row m
 *                                                  (groups_per_outer 1, channels_per_group D)
 *   group_norm (N, C, S...)  outer N, channels C, inner S; group n * G + g is channels
 *                            g * C/G .. (g + 1) * C/G - 1 of sample n
 *                                                  (groups_per_outer G, channels_per_group C/G)
 *
 * Numerics: each group's statistics are two passes (the mean, then the mean of squared
 * deviations, the biased variance) accumulated in double for both element types, in eight
 * interleaved partial sums (element i into sum i % 8, the eight added in a fixed order); the
 * backward's per-group and per-channel sums are one serial double chain each.
 * Threads split groups (or channels, or output rows), never a sum, so every result is the
 * same for any thread count. The kernels come in a float and a double variant built from one
 * template (norm_template.h); `real` below is float or double. */
#ifndef AMPC_KERNELS_NORM_KERNELS_H
#define AMPC_KERNELS_NORM_KERNELS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct norm_layout {
    int64_t outer, channels, inner;
    int64_t groups_per_outer;   /* 0: a group spans every outer index (batch norm) */
    int64_t channels_per_group; /* divides channels */
} norm_layout;

/* The number of groups (mean and rstd entries). */
int64_t norm_layout_groups(const norm_layout *layout);
/* The number of elements in each group. */
int64_t norm_layout_group_size(const norm_layout *layout);

/* For each real in {float (f32), double (f64)}:
 *
 * norm_statistics: mean[g] and rstd[g] of each group of inp (outer, channels, inner); also
 *   the biased variance var[g] in double when var is not NULL. Empty groups get mean 0 and
 *   rstd 1 / sqrt(eps).
 * norm_apply: out = (inp - mean[g]) * rstd[g] * weight[c] + bias[c] (weight, bias: NULL
 *   means 1 and 0).
 * norm_backward_input: dinp from dout for the op's input. With batch_statistics the mean
 *   and rstd came from inp itself, so dinp = rstd * (dxhat - mean_g(dxhat) - xhat *
 *   mean_g(dxhat * xhat)) with dxhat = dout * weight[c]; without (batch norm in eval mode,
 *   running statistics) they are constants and dinp = rstd * dxhat.
 * norm_backward_affine: dweight[c] = sum of dout * xhat and dbias[c] = sum of dout over the
 *   elements of channel c (either may be NULL). */
#define NORM_KERNEL_DECLARATIONS(real, suffix)                                                  \
    void norm_statistics_##suffix(const norm_layout *layout, const real *inp, double eps,      \
                                  real *mean, real *rstd, double *var);                         \
    void norm_apply_##suffix(const norm_layout *layout, const real *inp, const real *mean,     \
                             const real *rstd, const real *weight, const real *bias,           \
                             real *out);                                                        \
    void norm_backward_input_##suffix(const norm_layout *layout, const real *dout,             \
                                      const real *inp, const real *mean, const real *rstd,     \
                                      const real *weight, bool batch_statistics, real *dinp);   \
    void norm_backward_affine_##suffix(const norm_layout *layout, const real *dout,            \
                                       const real *inp, const real *mean, const real *rstd,    \
                                       real *dweight, real *dbias);

NORM_KERNEL_DECLARATIONS(float, f32)
NORM_KERNEL_DECLARATIONS(double, f64)

#undef NORM_KERNEL_DECLARATIONS

#endif
