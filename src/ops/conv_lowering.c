/* Convolution as GEMM (conv_lowering.h). Per chunk of images, im2col gathers the patches into
 * a buffer in the GEMM dtype (F16/BF16 stay 16-bit: that halves the traffic and feeds the
 * F16/BF16 GEMM kernels), then one batched ampc_gemm per group multiplies by the weight:
 *
 *     result[n, g] (C_out/G, P) = weight[g] (C_out/G, K) . cols[n, g] (K, P),  K = C_in/G kH kW
 *
 * with the weight broadcast over the chunk's images (batch stride 0). The chunk is as many
 * images as fit in COLS_BUDGET_BYTES (at least one), so memory stays bounded for any batch.
 * A 1x1 kernel with stride 1 and no padding needs no gather: the image is its own cols.
 *
 * The backward passes are the same products transposed: dcols = weight^T . dresult, then
 * col2im; and dweight += dresult . cols^T with the chunk's images side by side (cols rows and
 * a copy of dresult laid out (C, images P)), so that one GEMM per chunk sums over images and
 * positions in a single fp32 chain: few large GEMMs rather than one small one per image, and
 * a sum whose order depends on the shapes only, never on the thread count. */
#include "ops/conv_lowering.h"

#include <string.h>

#include <ampc/gemm.h>

#include "core/error.h"
#include "tensor/tensor_internal.h"

/* The largest chunk buffer (cols, dcols, or cols and dresult) the chunking aims for. */
#define COLS_BUDGET_BYTES ((int64_t)16 << 20)

/* The sizes every product needs, derived once. */
typedef struct lowering {
    ampc_dtype gemm_dtype, compute_dtype;
    size_t gemm_size, compute_size;
    int64_t in_per_group, out_per_group; /* channels per group */
    int64_t k;                           /* C_in/G kH kW: the reduction of the forward */
    int64_t positions;                   /* OH OW */
    int64_t image_elements;              /* C_in H W */
    int64_t cols_elements;               /* C_in kH kW OH OW: one image's cols */
    bool direct; /* 1x1, stride 1, no padding, per-image cols: cols = image */
    ampc_dtype buffer_dtype;
    int64_t buffer_elements; /* per image: its cols, plus its dresult for the weight pass */
} lowering;

typedef enum lowered_pass { PASS_FORWARD, PASS_DIMAGE, PASS_DWEIGHT } lowered_pass;

static lowering describe(const ampc_conv_geometry *g, ampc_dtype gemm_dtype, lowered_pass pass)
{
    const ampc_im2col_shape *s = &g->cols;
    lowering l = {.gemm_dtype = gemm_dtype,
                  .compute_dtype = gemm_dtype == AMPC_F64 ? AMPC_F64 : AMPC_F32};
    l.gemm_size = ampc_dtype_size(l.gemm_dtype);
    l.compute_size = ampc_dtype_size(l.compute_dtype);
    l.in_per_group = s->channels / g->groups;
    l.out_per_group = g->out_channels / g->groups;
    l.k = l.in_per_group * s->kernel_h * s->kernel_w;
    l.positions = s->out_h * s->out_w;
    l.image_elements = s->channels * s->in_h * s->in_w;
    l.cols_elements = g->groups * l.k * l.positions;
    l.direct = s->kernel_h == 1 && s->kernel_w == 1 && s->stride_h == 1 && s->stride_w == 1 &&
               s->pad_h == 0 && s->pad_w == 0 && s->in_h == s->out_h && s->in_w == s->out_w &&
               pass != PASS_DWEIGHT;
    /* The input gradient's buffer holds dcols, which the GEMM writes in the compute dtype. */
    l.buffer_dtype = pass == PASS_DIMAGE ? l.compute_dtype : l.gemm_dtype;
    l.buffer_elements =
        l.cols_elements + (pass == PASS_DWEIGHT ? g->out_channels * l.positions : 0);
    return l;
}

static int64_t chunk_images(const ampc_conv_geometry *g, const lowering *l)
{
    if (l->direct) return g->batch;
    int64_t bytes = l->buffer_elements * (int64_t)ampc_dtype_size(l->buffer_dtype);
    int64_t images = bytes > 0 ? COLS_BUDGET_BYTES / bytes : g->batch;
    if (images < 1) images = 1;
    return images < g->batch ? images : g->batch;
}

/* A heap buffer for the chunk (never an arena's: it is dropped at once). NULL when not
 * needed; *failed on failure, with the error set. */
static ampc_tensor *chunk_buffer(const char *function, const lowering *l, int64_t images,
                                 bool *failed)
{
    *failed = false;
    if (l->direct) return NULL;
    int64_t shape[2] = {images, l->buffer_elements};
    ampc_tensor *buffer = NULL;
    if (ampc_shape_checked_numel(function, l->buffer_dtype, 2, shape) >= 0)
        buffer = ampc_tensor_new_in(function, NULL, l->buffer_dtype, 2, shape);
    *failed = buffer == NULL;
    return buffer;
}

static const char *at(const void *base, int64_t elements, size_t size)
{
    return (const char *)base + elements * (int64_t)size;
}

static char *at_mut(void *base, int64_t elements, size_t size)
{
    return (char *)base + elements * (int64_t)size;
}

static ampc_gemm_operand operand(ampc_dtype dtype, const void *data, int64_t leading_dim,
                                 int64_t batch_stride)
{
    return (ampc_gemm_operand){
        .dtype = dtype, .data = data, .leading_dim = leading_dim, .batch_stride = batch_stride};
}

static ampc_gemm_output output(ampc_dtype dtype, void *data, int64_t leading_dim,
                               int64_t batch_stride)
{
    return (ampc_gemm_output){
        .dtype = dtype, .data = data, .leading_dim = leading_dim, .batch_stride = batch_stride};
}

/* Images [first, first + images) of the batch, and the cols buffer they share (the image
 * itself when the lowering is direct). */
typedef struct chunk {
    int64_t first, images;
    void *cols;
} chunk;

/* result[n, g] (C_out/G, P) = weight[g] (C_out/G, K) . cols[n, g] (K, P), for the chunk. */
static ampc_status forward_chunk(const ampc_conv_geometry *g, const lowering *l, const chunk *c,
                                 void *result, const void *image, const void *weight)
{
    const void *chunk_image = at(image, c->first * l->image_elements, l->gemm_size);
    const void *cols = l->direct ? chunk_image : c->cols;
    if (!l->direct)
        ampc_im2col(l->gemm_dtype, c->cols, chunk_image, c->images, &g->cols, AMPC_COLS_PER_IMAGE);
    void *chunk_result = at_mut(result, c->first * g->out_channels * l->positions, l->compute_size);
    ampc_status status = AMPC_OK;
    for (int64_t group = 0; group < g->groups && status == AMPC_OK; group++) {
        ampc_gemm_desc desc = {
            .m = l->out_per_group,
            .n = l->positions,
            .k = l->k,
            .batch = c->images,
            .alpha = 1.0,
            .beta = 0.0,
            /* weight[g], the same for every image */
            .a = operand(l->gemm_dtype, at(weight, group * l->out_per_group * l->k, l->gemm_size),
                         l->k, 0),
            .b = operand(l->gemm_dtype, at(cols, group * l->k * l->positions, l->gemm_size),
                         l->positions, l->cols_elements),
            .c = output(
                l->compute_dtype,
                at_mut(chunk_result, group * l->out_per_group * l->positions, l->compute_size),
                l->positions, g->out_channels * l->positions),
            .bias_dtype = l->compute_dtype};
        status = ampc_gemm(&desc);
    }
    return status;
}

/* dcols[n, g] (K, P) = weight[g]^T (K, C_out/G) . dresult[n, g] (C_out/G, P), then col2im. */
static ampc_status dimage_chunk(const ampc_conv_geometry *g, const lowering *l, const chunk *c,
                                void *dimage, const void *dresult, const void *weight)
{
    void *chunk_dimage = at_mut(dimage, c->first * l->image_elements, l->compute_size);
    /* Direct: dcols is dimage itself, so the GEMM accumulates into it (beta 1). */
    void *dcols = l->direct ? chunk_dimage : c->cols;
    const void *chunk_dresult =
        at(dresult, c->first * g->out_channels * l->positions, l->gemm_size);
    ampc_status status = AMPC_OK;
    for (int64_t group = 0; group < g->groups && status == AMPC_OK; group++) {
        ampc_gemm_desc desc = {
            .transpose_a = AMPC_TRANSPOSE,
            .m = l->k,
            .n = l->positions,
            .k = l->out_per_group,
            .batch = c->images,
            .alpha = 1.0,
            .beta = l->direct ? 1.0 : 0.0,
            .a = operand(l->gemm_dtype, at(weight, group * l->out_per_group * l->k, l->gemm_size),
                         l->k, 0),
            .b = operand(l->gemm_dtype,
                         at(chunk_dresult, group * l->out_per_group * l->positions, l->gemm_size),
                         l->positions, g->out_channels * l->positions),
            .c = output(l->compute_dtype,
                        at_mut(dcols, group * l->k * l->positions, l->compute_size), l->positions,
                        l->cols_elements),
            .bias_dtype = l->compute_dtype};
        status = ampc_gemm(&desc);
    }
    if (status == AMPC_OK && !l->direct)
        ampc_col2im(l->compute_dtype, chunk_dimage, dcols, c->images, &g->cols);
    return status;
}

/* dweight[g] (C_out/G, K) += dresult[g] (C_out/G, images P) . cols[g]^T (images P, K), the
 * chunk's images side by side; the groups are the GEMM's batch. */
static ampc_status dweight_chunk(const ampc_conv_geometry *g, const lowering *l, const chunk *c,
                                 void *dweight, const void *dresult, const void *image)
{
    int64_t width = c->images * l->positions; /* the reduction: images and positions */
    char *wide_dresult = at_mut(c->cols, c->images * l->cols_elements, l->gemm_size);
    ampc_im2col(l->gemm_dtype, c->cols, at(image, c->first * l->image_elements, l->gemm_size),
                c->images, &g->cols, AMPC_COLS_SIDE_BY_SIDE);
    size_t row_bytes = (size_t)l->positions * l->gemm_size;
    for (int64_t channel = 0; channel < g->out_channels; channel++)
        for (int64_t i = 0; i < c->images; i++)
            memcpy(wide_dresult + (size_t)(channel * width + i * l->positions) * l->gemm_size,
                   at(dresult, ((c->first + i) * g->out_channels + channel) * l->positions,
                      l->gemm_size),
                   row_bytes);
    ampc_gemm_desc desc = {
        .transpose_b = AMPC_TRANSPOSE,
        .m = l->out_per_group,
        .n = l->k,
        .k = width,
        .batch = g->groups,
        .alpha = 1.0,
        .beta = 1.0,
        .a = operand(l->gemm_dtype, wide_dresult, width, l->out_per_group * width),
        .b = operand(l->gemm_dtype, c->cols, width, l->k * width),
        .c = output(l->compute_dtype, dweight, l->k, l->out_per_group * l->k),
        .bias_dtype = l->compute_dtype};
    return ampc_gemm(&desc);
}

/* Runs a pass chunk by chunk over the batch, all chunks sharing one buffer. */
static ampc_status run_chunks(const char *function, const ampc_conv_geometry *g,
                              ampc_dtype gemm_dtype, lowered_pass pass, void *out,
                              const void *first_operand, const void *second_operand)
{
    if (g->batch == 0) return AMPC_OK;
    lowering l = describe(g, gemm_dtype, pass);
    int64_t images = chunk_images(g, &l);
    bool failed;
    ampc_tensor *buffer = chunk_buffer(function, &l, images, &failed);
    if (failed) return ampc_error_status();
    ampc_status status = AMPC_OK;
    for (int64_t first = 0; first < g->batch && status == AMPC_OK; first += images) {
        chunk c = {.first = first,
                   .images = g->batch - first < images ? g->batch - first : images,
                   .cols = buffer ? ampc_tensor_data(buffer) : NULL};
        switch (pass) {
        case PASS_FORWARD:
            status = forward_chunk(g, &l, &c, out, first_operand, second_operand);
            break;
        case PASS_DIMAGE:
            status = dimage_chunk(g, &l, &c, out, first_operand, second_operand);
            break;
        case PASS_DWEIGHT:
            status = dweight_chunk(g, &l, &c, out, first_operand, second_operand);
            break;
        }
    }
    ampc_tensor_free(buffer);
    return status;
}

ampc_status ampc_conv_lowered_forward(const char *function, const ampc_conv_geometry *g,
                                      ampc_dtype gemm_dtype, void *result, const void *image,
                                      const void *weight)
{
    return run_chunks(function, g, gemm_dtype, PASS_FORWARD, result, image, weight);
}

ampc_status ampc_conv_lowered_dimage(const char *function, const ampc_conv_geometry *g,
                                     ampc_dtype gemm_dtype, void *dimage, const void *dresult,
                                     const void *weight)
{
    return run_chunks(function, g, gemm_dtype, PASS_DIMAGE, dimage, dresult, weight);
}

ampc_status ampc_conv_lowered_dweight(const char *function, const ampc_conv_geometry *g,
                                      ampc_dtype gemm_dtype, void *dweight, const void *dresult,
                                      const void *image)
{
    return run_chunks(function, g, gemm_dtype, PASS_DWEIGHT, dweight, dresult, image);
}

#define DEFINE_BIAS_LOOPS(real, suffix)                                                            \
    static void add_bias_##suffix(real *values, const real *bias, int64_t batch, int64_t channels, \
                                  int64_t positions)                                               \
    {                                                                                              \
        int64_t planes = batch * channels;                                                         \
        int threads = ampc_conv_threads(planes, planes * positions);                               \
        _Pragma("omp parallel for num_threads(threads) schedule(static) if (threads > 1)") for (   \
            int64_t plane = 0; plane < planes; plane++)                                            \
        {                                                                                          \
            real b = bias[plane % channels], *row = values + plane * positions;                    \
            for (int64_t p = 0; p < positions; p++) row[p] += b;                                   \
        }                                                                                          \
    }                                                                                              \
    static void sum_bias_##suffix(real *dbias, const real *dvalues, int64_t batch,                 \
                                  int64_t channels, int64_t positions)                             \
    {                                                                                              \
        int threads = ampc_conv_threads(channels, batch * channels * positions);                   \
        _Pragma("omp parallel for num_threads(threads) schedule(static) if (threads > 1)") for (   \
            int64_t c = 0; c < channels; c++)                                                      \
        {                                                                                          \
            real sum = 0;                                                                          \
            for (int64_t n = 0; n < batch; n++) {                                                  \
                const real *row = dvalues + (n * channels + c) * positions;                        \
                for (int64_t p = 0; p < positions; p++) sum += row[p];                             \
            }                                                                                      \
            dbias[c] = sum;                                                                        \
        }                                                                                          \
    }

DEFINE_BIAS_LOOPS(double, f64)
DEFINE_BIAS_LOOPS(float, f32)

void ampc_conv_add_bias(ampc_dtype dtype, void *values, const void *bias, int64_t batch,
                        int64_t channels, int64_t positions)
{
    AMPC_ASSERT(dtype == AMPC_F64 || dtype == AMPC_F32);
    if (dtype == AMPC_F64)
        add_bias_f64(values, bias, batch, channels, positions);
    else
        add_bias_f32(values, bias, batch, channels, positions);
}

void ampc_conv_sum_bias(ampc_dtype dtype, void *dbias, const void *dvalues, int64_t batch,
                        int64_t channels, int64_t positions)
{
    AMPC_ASSERT(dtype == AMPC_F64 || dtype == AMPC_F32);
    if (dtype == AMPC_F64)
        sum_bias_f64(dbias, dvalues, batch, channels, positions);
    else
        sum_bias_f32(dbias, dvalues, batch, channels, positions);
}
