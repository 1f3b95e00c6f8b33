/* im2col and col2im (im2col.h): the loops live once in im2col_impl.h and are instantiated
 * here per element type; the gather only copies, so F16 and BF16 share the 16-bit copy. */
#include "kernels/im2col.h"

#include <stdbool.h>

#include <ampc/cpu.h>

#include "core/error.h"

/* Below this many elements touched the work stays on the calling thread. */
#define PARALLEL_MIN_ELEMENTS (1 << 15)

int ampc_conv_threads(int64_t items, int64_t elements)
{
    if (elements < PARALLEL_MIN_ELEMENTS || items < 2) return 1;
    int threads = ampc_num_threads();
    return items < threads ? (int)items : threads;
}

/* The kernel columns ow in [first, last) whose input column ow stride + offset lies in
 * [0, width); the others read padding. */
static void valid_range(int64_t offset, int64_t stride, int64_t width, int64_t count,
                        int64_t *first, int64_t *last)
{
    int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    int64_t hi = width - offset <= 0 ? 0 : (width - offset - 1) / stride + 1;
    *first = lo < count ? lo : count;
    *last = hi < count ? hi : count;
    if (*last < *first) *last = *first;
}

/* col2im accumulates, so it exists only for the compute dtypes. */
#define COL2IM
#define real double
#define SUFFIX f64
#include "kernels/im2col_impl.h"

#define real float
#define SUFFIX f32
#include "kernels/im2col_impl.h"
#undef COL2IM

#define real uint16_t
#define SUFFIX u16
#include "kernels/im2col_impl.h"

void ampc_im2col(ampc_dtype dtype, void *cols, const void *x, int64_t images,
                 const ampc_im2col_shape *shape, ampc_cols_layout layout)
{
    switch (ampc_dtype_size(dtype)) {
    case 8: im2col_f64(cols, x, images, shape, layout); break;
    case 4: im2col_f32(cols, x, images, shape, layout); break;
    case 2: im2col_u16(cols, x, images, shape, layout); break;
    default: AMPC_ASSERT(!"im2col: dtype of 8, 4 or 2 bytes");
    }
}

void ampc_col2im(ampc_dtype dtype, void *dx, const void *dcols, int64_t images,
                 const ampc_im2col_shape *shape)
{
    AMPC_ASSERT(dtype == AMPC_F64 || dtype == AMPC_F32);
    if (dtype == AMPC_F64)
        col2im_f64(dx, dcols, images, shape);
    else
        col2im_f32(dx, dcols, images, shape);
}
