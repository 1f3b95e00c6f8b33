/* The normalisation kernels (norm_kernels.h), instantiated for float and double from
 * norm_template.h, and the layout helpers they share. */
#include "kernels/norm_kernels.h"

#include <ampc/cpu.h>

#include <math.h>
#include <omp.h>
#include <stddef.h>

/* Below this many elements a kernel stays on the calling thread. */
#define NORM_PARALLEL_MIN_ELEMENTS ((int64_t)1 << 15)
/* Channels per task in norm_backward_affine: two double sums each on the stack. */
#define NORM_CHANNEL_BLOCK 64
/* Partial sums per statistic (see add_to_lanes in norm_template.h). */
#define NORM_LANES 8

/* The outer indices and the first channel of one group. */
typedef struct norm_span {
    int64_t outer_begin, outer_end, channel_begin;
} norm_span;

int64_t norm_layout_groups(const norm_layout *layout)
{
    int64_t groups_per_row = layout->channels / layout->channels_per_group;
    return layout->groups_per_outer ? layout->outer * layout->groups_per_outer
                                    : groups_per_row;
}

int64_t norm_layout_group_size(const norm_layout *layout)
{
    int64_t outer = layout->groups_per_outer ? 1 : layout->outer;
    return outer * layout->channels_per_group * layout->inner;
}

static norm_span norm_group_span(const norm_layout *layout, int64_t group)
{
    if (!layout->groups_per_outer)
        return (norm_span){0, layout->outer, group * layout->channels_per_group};
    int64_t o = group / layout->groups_per_outer;
    return (norm_span){o, o + 1,
                       (group % layout->groups_per_outer) * layout->channels_per_group};
}

/* Where channel c of outer index o starts in the contiguous (outer, channels, inner) data. */
static inline int64_t norm_block_start(const norm_layout *layout, int64_t o, int64_t c)
{
    return (o * layout->channels + c) * layout->inner;
}

/* The lanes' total, in a fixed order: pairs, then pairs of pairs. */
static inline double norm_sum_lanes(const double *lanes)
{
    return ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6])) +
           ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
}

/* Threads for `tasks` independent tasks over `elements` elements in all. */
static int norm_threads(int64_t tasks, int64_t elements)
{
    if (tasks < 2 || elements < NORM_PARALLEL_MIN_ELEMENTS) return 1;
    int threads = ampc_num_threads();
    return tasks < threads ? (int)tasks : threads;
}

#define real float
#define NORM_NAME(name) name##_f32
#include "kernels/norm_template.h"
#undef real
#undef NORM_NAME

#define real double
#define NORM_NAME(name) name##_f64
#include "kernels/norm_template.h"
#undef real
#undef NORM_NAME
