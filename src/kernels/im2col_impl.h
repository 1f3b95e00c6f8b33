/* The im2col and col2im loops for one element type, included by im2col.c once per type with
 * `real` (the element type) and SUFFIX (the name suffix) defined. No include
 * guard; real and SUFFIX are undefined at the end. */

#define IM2COL_CONCAT_(a, b) a##_##b
#define IM2COL_CONCAT(a, b) IM2COL_CONCAT_(a, b)
#define IM2COL_NAME(name) IM2COL_CONCAT(name, SUFFIX)

/* One row (c, kh, kw) of cols: for each oh, the OW values of input row ih at columns
 * ow stride_w + offset_w, zero outside [first, last). */
static void IM2COL_NAME(im2col_row)(real *restrict row, const real *restrict plane, int64_t kh,
                                    int64_t kw, const ampc_im2col_shape *s)
{
    int64_t offset_w = kw * s->dilation_w - s->pad_w;
    int64_t first, last;
    valid_range(offset_w, s->stride_w, s->in_w, s->out_w, &first, &last);
    for (int64_t oh = 0; oh < s->out_h; oh++, row += s->out_w) {
        int64_t ih = oh * s->stride_h - s->pad_h + kh * s->dilation_h;
        if (ih < 0 || ih >= s->in_h) {
            for (int64_t ow = 0; ow < s->out_w; ow++) row[ow] = 0;
            continue;
        }
        const real *in = plane + ih * s->in_w + offset_w;
        for (int64_t ow = 0; ow < first; ow++) row[ow] = 0;
        if (s->stride_w == 1)
            for (int64_t ow = first; ow < last; ow++) row[ow] = in[ow];
        else
            for (int64_t ow = first; ow < last; ow++) row[ow] = in[ow * s->stride_w];
        for (int64_t ow = last; ow < s->out_w; ow++) row[ow] = 0;
    }
}

static void IM2COL_NAME(im2col)(real *cols, const real *x, int64_t images,
                                const ampc_im2col_shape *s, ampc_cols_layout layout)
{
    int64_t kernel = s->kernel_h * s->kernel_w, positions = s->out_h * s->out_w;
    int64_t image_rows = s->channels * kernel, rows = images * image_rows;
    bool side_by_side = layout == AMPC_COLS_SIDE_BY_SIDE;
    int64_t image_stride = side_by_side ? positions : image_rows * positions;
    int64_t row_stride = side_by_side ? images * positions : positions;
    int threads = ampc_conv_threads(rows, rows * positions);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t r = 0; r < rows; r++) {
        int64_t image = r / image_rows, row = r % image_rows;
        int64_t plane = r / kernel, k = r % kernel;
        IM2COL_NAME(im2col_row)(cols + image * image_stride + row * row_stride,
                                x + plane * s->in_h * s->in_w, k / s->kernel_w,
                                k % s->kernel_w, s);
    }
}

#ifdef COL2IM
/* One (image, channel) plane of dx from its kH kW rows of dcols. */
static void IM2COL_NAME(col2im_plane)(real *restrict plane, const real *restrict rows,
                                      const ampc_im2col_shape *s)
{
    for (int64_t kh = 0; kh < s->kernel_h; kh++)
        for (int64_t kw = 0; kw < s->kernel_w; kw++) {
            int64_t offset_w = kw * s->dilation_w - s->pad_w;
            int64_t first, last;
            valid_range(offset_w, s->stride_w, s->in_w, s->out_w, &first, &last);
            for (int64_t oh = 0; oh < s->out_h; oh++, rows += s->out_w) {
                int64_t ih = oh * s->stride_h - s->pad_h + kh * s->dilation_h;
                if (ih < 0 || ih >= s->in_h) continue;
                real *out = plane + ih * s->in_w + offset_w;
                for (int64_t ow = first; ow < last; ow++) out[ow * s->stride_w] += rows[ow];
            }
        }
}

static void IM2COL_NAME(col2im)(real *dx, const real *dcols, int64_t images,
                                const ampc_im2col_shape *s)
{
    int64_t kernel = s->kernel_h * s->kernel_w, positions = s->out_h * s->out_w;
    int64_t planes = images * s->channels;
    int threads = ampc_conv_threads(planes, planes * kernel * positions);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t p = 0; p < planes; p++)
        IM2COL_NAME(col2im_plane)(dx + p * s->in_h * s->in_w, dcols + p * kernel * positions,
                                  s);
}
#endif

#undef IM2COL_NAME
#undef IM2COL_CONCAT
#undef IM2COL_CONCAT_
#undef real
#undef SUFFIX
