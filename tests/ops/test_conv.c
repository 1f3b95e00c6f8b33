/* Tests for src/ops/conv.c and src/ops/conv_lowering.c (conv2d, conv_transpose2d): forward
 * against direct float64 nested loops written here, gradients by finite differences over a
 * grid of strides, paddings, dilations, groups, kernels, batches and biases, the F32/F16/BF16
 * runs against F64, the im2col chunking of large batches, and every refusal by its message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include <ampc/ampc.h>
#include <ampc/autograd.h>
#include <ampc/ops_conv.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"

/* One convolution: sizes from the conv's input side (transposed or not). */
typedef struct conv_spec {
    int64_t batch, in_channels, h, w, out_channels, kh, kw;
    ampc_conv2d_options options;
    bool bias, transposed, unbatched;
} conv_spec;

static void weight_shape(const conv_spec *s, int64_t *shape)
{
    int64_t groups = s->options.groups;
    shape[0] = s->transposed ? s->in_channels : s->out_channels;
    shape[1] = s->transposed ? s->out_channels / groups : s->in_channels / groups;
    shape[2] = s->kh;
    shape[3] = s->kw;
}

static int64_t output_size(const conv_spec *s, int d)
{
    const ampc_conv2d_options *o = &s->options;
    int64_t size = d == 0 ? s->h : s->w, kernel = d == 0 ? s->kh : s->kw;
    if (s->transposed)
        return (size - 1) * o->stride[d] - 2 * o->padding[d] + o->dilation[d] * (kernel - 1) +
               o->output_padding[d] + 1;
    return (size + 2 * o->padding[d] - o->dilation[d] * (kernel - 1) - 1) / o->stride[d] + 1;
}

/* F64 contiguous data of a tensor, through a cast the caller frees. */
static const double *f64_data(const ampc_tensor *tensor, ampc_tensor **copy)
{
    *copy = ampc_tensor_cast(tensor, AMPC_F64);
    assert_non_null(*copy);
    return ampc_tensor_data(*copy);
}

/* The convolution by its definition, one multiply-add at a time, in float64. x is (N, C_in,
 * H, W) even for an unbatched spec; the result is (N, C_out, OH, OW). */
static ampc_tensor *reference(const conv_spec *s, const ampc_tensor *input,
                              const ampc_tensor *weight, const ampc_tensor *bias)
{
    ampc_tensor *xc, *wc, *bc = NULL;
    const double *x = f64_data(input, &xc), *w = f64_data(weight, &wc);
    const double *b = bias ? f64_data(bias, &bc) : NULL;
    const ampc_conv2d_options *o = &s->options;
    int64_t oh_size = output_size(s, 0), ow_size = output_size(s, 1);
    int64_t shape[4] = {s->batch, s->out_channels, oh_size, ow_size};
    ampc_tensor *out = ampc_tensor_zeros(AMPC_F64, 4, shape);
    double *y = ampc_tensor_data(out);
    int64_t in_group = s->in_channels / o->groups, out_group = s->out_channels / o->groups;
#define X(n, c, i, j) x[(((n)*s->in_channels + (c)) * s->h + (i)) * s->w + (j)]
#define Y(n, c, i, j) y[(((n)*s->out_channels + (c)) * oh_size + (i)) * ow_size + (j)]
    for (int64_t n = 0; n < s->batch; n++) {
        if (!s->transposed) {
            for (int64_t co = 0; co < s->out_channels; co++)
                for (int64_t oh = 0; oh < oh_size; oh++)
                    for (int64_t ow = 0; ow < ow_size; ow++) {
                        double sum = b ? b[co] : 0.0;
                        int64_t group = co / out_group;
                        for (int64_t ci = 0; ci < in_group; ci++)
                            for (int64_t kh = 0; kh < s->kh; kh++)
                                for (int64_t kw = 0; kw < s->kw; kw++) {
                                    int64_t ih =
                                        oh * o->stride[0] - o->padding[0] + kh * o->dilation[0];
                                    int64_t iw =
                                        ow * o->stride[1] - o->padding[1] + kw * o->dilation[1];
                                    if (ih < 0 || ih >= s->h || iw < 0 || iw >= s->w) continue;
                                    sum += X(n, group * in_group + ci, ih, iw) *
                                           w[((co * in_group + ci) * s->kh + kh) * s->kw + kw];
                                }
                        Y(n, co, oh, ow) = sum;
                    }
            continue;
        }
        /* Transposed: every input element scatters weight-scaled copies into the output. */
        for (int64_t co = 0; co < s->out_channels; co++)
            for (int64_t oh = 0; oh < oh_size; oh++)
                for (int64_t ow = 0; ow < ow_size; ow++) Y(n, co, oh, ow) = b ? b[co] : 0.0;
        for (int64_t ci = 0; ci < s->in_channels; ci++) {
            int64_t group = ci / in_group;
            for (int64_t ih = 0; ih < s->h; ih++)
                for (int64_t iw = 0; iw < s->w; iw++)
                    for (int64_t co = 0; co < out_group; co++)
                        for (int64_t kh = 0; kh < s->kh; kh++)
                            for (int64_t kw = 0; kw < s->kw; kw++) {
                                int64_t oh =
                                    ih * o->stride[0] - o->padding[0] + kh * o->dilation[0];
                                int64_t ow =
                                    iw * o->stride[1] - o->padding[1] + kw * o->dilation[1];
                                if (oh < 0 || oh >= oh_size || ow < 0 || ow >= ow_size) continue;
                                Y(n, group * out_group + co, oh, ow) +=
                                    X(n, ci, ih, iw) *
                                    w[((ci * out_group + co) * s->kh + kh) * s->kw + kw];
                            }
        }
    }
#undef X
#undef Y
    ampc_tensor_free(xc);
    ampc_tensor_free(wc);
    ampc_tensor_free(bc);
    return out;
}

static ampc_tensor *conv_op(ampc_tensor *const *inputs, const void *context)
{
    const conv_spec *s = context;
    const ampc_tensor *bias = s->bias ? inputs[2] : NULL;
    return s->transposed ? ampc_conv_transpose2d(inputs[0], inputs[1], bias, &s->options)
                         : ampc_conv2d(inputs[0], inputs[1], bias, &s->options);
}

/* The spec's inputs: x, weight and (if any) bias, F64 uniform in [-1, 1), requiring grad. */
static int make_inputs(const conv_spec *s, uint64_t seed, ampc_tensor **inputs)
{
    int64_t x_shape[4] = {s->batch, s->in_channels, s->h, s->w}, w_shape[4];
    weight_shape(s, w_shape);
    inputs[0] = s->unbatched ? gradcheck_uniform(seed, 3, x_shape + 1, -1, 1, true)
                             : gradcheck_uniform(seed, 4, x_shape, -1, 1, true);
    inputs[1] = gradcheck_uniform(seed + 1, 4, w_shape, -1, 1, true);
    inputs[2] = s->bias ? gradcheck_uniform(seed + 2, 1, &s->out_channels, -1, 1, true) : NULL;
    return s->bias ? 3 : 2;
}

static void free_inputs(ampc_tensor **inputs, int count)
{
    for (int i = 0; i < count; i++) ampc_tensor_free(inputs[i]);
}

static void assert_close(const ampc_tensor *actual, const ampc_tensor *expected, double tol,
                         const char *name)
{
    int64_t n = ampc_tensor_numel(expected);
    assert_int_equal(ampc_tensor_numel(actual), n);
    for (int64_t i = 0; i < n; i++) {
        double a = value_at_position(actual, i), e = value_at_position(expected, i);
        if (!(fabs(a - e) <= tol * (1.0 + fabs(e))))
            fail_msg("%s: element %lld is %.17g; expected %.17g", name, (long long)i, a, e);
    }
}

/* Forward (F64) against the reference, shape included. */
static void check_forward(const conv_spec *s, uint64_t seed)
{
    ampc_tensor *inputs[3];
    int count = make_inputs(s, seed, inputs);
    ampc_tensor *out = conv_op(inputs, s);
    assert_non_null(out);
    int64_t expected_shape[4] = {s->batch, s->out_channels, output_size(s, 0), output_size(s, 1)};
    int offset = s->unbatched ? 1 : 0;
    assert_int_equal(ampc_tensor_ndim(out), 4 - offset);
    for (int d = offset; d < 4; d++)
        assert_int_equal(ampc_tensor_dim(out, d - offset), expected_shape[d]);
    ampc_tensor *expected = reference(s, inputs[0], inputs[1], inputs[2]);
    assert_close(out, expected, 1e-12, s->transposed ? "conv_transpose2d" : "conv2d");
    ampc_tensor_free(expected);
    ampc_tensor_free(out);
    free_inputs(inputs, count);
}

static void check_gradients(const conv_spec *s, uint64_t seed, bool noncontiguous)
{
    ampc_tensor *inputs[3];
    int count = make_inputs(s, seed, inputs);
    if (noncontiguous) {
        ampc_tensor *strided = gradcheck_noncontiguous(inputs[0], true);
        assert_false(ampc_tensor_is_contiguous(strided));
        ampc_tensor_free(inputs[0]);
        inputs[0] = strided;
    }
    gradcheck_case check = {.name = s->transposed ? "conv_transpose2d" : "conv2d",
                            .op = conv_op,
                            .context = s,
                            .num_inputs = count,
                            .inputs = inputs};
    gradcheck_assert(&check);
    free_inputs(inputs, count);
}

/* The gradient grid runs thousands of tiny GEMMs. ampc_gemm's BLAS path (F64) wakes every
 * thread even for a few hundred multiply-adds, which on a loaded machine costs seconds of
 * spinning; results are the same for any thread count (ampc_set_num_threads), and the threaded
 * paths are exercised by test_large_batch_runs_in_chunks. So these run on one thread. */
static int saved_threads;

static int one_thread(void **state)
{
    (void)state;
    saved_threads = ampc_num_threads();
    return ampc_set_num_threads(1) == AMPC_OK ? 0 : -1;
}

static int restore_threads(void **state)
{
    (void)state;
    return ampc_set_num_threads(saved_threads) == AMPC_OK ? 0 : -1;
}

/* Case i of the grid: each option cycles at its own rate, so the cases cover every value of
 * each option and most pairs. */
static conv_spec grid_case(int i, bool transposed)
{
    int64_t groups_choice[] = {1, 2, 4};
    int64_t groups = groups_choice[(i / 2) % 3];
    conv_spec s = {.batch = i % 4 == 3 ? 3 : 1,
                   .in_channels = 4,
                   .h = i % 2 ? 5 : 4,
                   .w = i % 2 ? 4 : 6,
                   .out_channels = groups == 4 ? 4 : 6,
                   .kh = i % 3 == 2 ? 1 : 3,
                   .kw = i % 3 == 1 ? 3 : 2,
                   .options = {.stride = {1 + i % 2, 1 + (i / 2) % 2},
                               .padding = {i % 3, (i + 1) % 3},
                               .dilation = {1 + (i / 3) % 2, 1 + (i / 4) % 2},
                               .groups = groups},
                   .bias = i % 5 != 0,
                   .transposed = transposed};
    if (transposed) {
        /* below stride (or dilation), as PyTorch requires */
        s.options.output_padding[0] = s.options.stride[0] > 1 ? (i / 5) % 2 : 0;
        s.options.output_padding[1] = s.options.dilation[1] > 1 ? 1 : 0;
        /* less padding where it would leave a transposed output below 2 */
        for (int d = 0; d < 2; d++)
            while (s.options.padding[d] > 0 && output_size(&s, d) < 2) s.options.padding[d]--;
    }
    return s;
}

enum { GRID_CASES = 18 };

static void test_conv2d_forward_matches_float64_loops(void **state)
{
    (void)state;
    for (int i = 0; i < GRID_CASES; i++) {
        conv_spec s = grid_case(i, false);
        check_forward(&s, 100 + (uint64_t)i);
    }
}

static void test_conv_transpose2d_forward_matches_float64_loops(void **state)
{
    (void)state;
    for (int i = 0; i < GRID_CASES; i++) {
        conv_spec s = grid_case(i, true);
        check_forward(&s, 200 + (uint64_t)i);
    }
}

static void test_conv2d_gradients_over_the_grid(void **state)
{
    (void)state;
    for (int i = 0; i < GRID_CASES; i++) {
        conv_spec s = grid_case(i, false);
        check_gradients(&s, 300 + (uint64_t)i, i % 6 == 3);
    }
}

static void test_conv_transpose2d_gradients_over_the_grid(void **state)
{
    (void)state;
    for (int i = 0; i < GRID_CASES; i++) {
        conv_spec s = grid_case(i, true);
        check_gradients(&s, 400 + (uint64_t)i, i % 6 == 3);
    }
}

/* 1x1, stride 1, no padding: the lowering skips im2col and multiplies the image directly. */
static void test_pointwise_conv_without_im2col(void **state)
{
    (void)state;
    for (int transposed = 0; transposed < 2; transposed++) {
        conv_spec s = {.batch = 3,
                       .in_channels = 4,
                       .h = 3,
                       .w = 5,
                       .out_channels = 6,
                       .kh = 1,
                       .kw = 1,
                       .options = ampc_conv2d_defaults(),
                       .bias = true,
                       .transposed = transposed};
        s.options.groups = 2;
        check_forward(&s, 500);
        check_gradients(&s, 501, false);
    }
}

/* Size-1 everything, and a kernel as large as the padded image. */
static void test_edge_sizes(void **state)
{
    (void)state;
    conv_spec ones = {.batch = 1,
                      .in_channels = 1,
                      .h = 1,
                      .w = 1,
                      .out_channels = 1,
                      .kh = 1,
                      .kw = 1,
                      .options = ampc_conv2d_defaults(),
                      .bias = true};
    check_forward(&ones, 600);
    check_gradients(&ones, 601, false);
    conv_spec full = {.batch = 2,
                      .in_channels = 2,
                      .h = 3,
                      .w = 2,
                      .out_channels = 3,
                      .kh = 5,
                      .kw = 4,
                      .options = ampc_conv2d_defaults()};
    full.options.padding[0] = 1;
    full.options.padding[1] = 1;
    check_forward(&full, 602);
    check_gradients(&full, 603, false);
    full.transposed = true;
    full.out_channels = 2;
    check_forward(&full, 604);
    check_gradients(&full, 605, false);
}

static void test_unbatched_input_gives_unbatched_output(void **state)
{
    (void)state;
    for (int transposed = 0; transposed < 2; transposed++) {
        conv_spec s = grid_case(7, transposed);
        s.batch = 1;
        s.unbatched = true;
        check_forward(&s, 700);
        check_gradients(&s, 701, false);
    }
}

static void test_empty_batch_gives_empty_output(void **state)
{
    (void)state;
    for (int transposed = 0; transposed < 2; transposed++) {
        conv_spec s = grid_case(3, transposed);
        s.batch = 0;
        ampc_tensor *inputs[3];
        int count = make_inputs(&s, 800, inputs);
        ampc_tensor *out = conv_op(inputs, &s);
        assert_non_null(out);
        assert_int_equal(ampc_tensor_dim(out, 0), 0);
        assert_int_equal(ampc_tensor_dim(out, 1), s.out_channels);
        assert_int_equal(ampc_tensor_dim(out, 2), output_size(&s, 0));
        assert_int_equal(ampc_tensor_dim(out, 3), output_size(&s, 1));
        ampc_tensor_free(out);
        free_inputs(inputs, count);
    }
}

/* F32, F16 and BF16 against F64 within the default bounds of an op computed in fp32 and rounded
 * once: the GEMM takes 16-bit operands but accumulates in fp32 and rounds only its result. */
static void test_conv_dtypes_against_float64(void **state)
{
    (void)state;
    const ampc_dtype dtypes[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
    for (int transposed = 0; transposed < 2; transposed++)
        for (int c = 0; c < 3; c++) {
            conv_spec s = grid_case(4 + c, transposed);
            ampc_tensor *inputs[3];
            int count = make_inputs(&s, 900 + (uint64_t)c, inputs);
            gradcheck_case check = {.name = transposed ? "conv_transpose2d" : "conv2d",
                                    .op = conv_op,
                                    .context = &s,
                                    .num_inputs = count,
                                    .inputs = inputs};
            for (int d = 0; d < 3; d++)
                dtype_check_assert(&check, dtypes[d], dtype_tolerance_default(dtypes[d]));
            free_inputs(inputs, count);
        }
}

/* Mixed dtypes promote: F16 input with an F32 weight gives F32, and each gradient keeps its
 * tensor's dtype. */
static void test_mixed_dtypes_promote(void **state)
{
    (void)state;
    conv_spec s = grid_case(1, false);
    ampc_tensor *inputs[3];
    int count = make_inputs(&s, 950, inputs);
    ampc_tensor *x = ampc_tensor_cast(inputs[0], AMPC_F16);
    ampc_tensor *w = ampc_tensor_cast(inputs[1], AMPC_F32);
    ampc_tensor *b = ampc_tensor_cast(inputs[2], AMPC_BF16);
    assert_int_equal(ampc_tensor_set_requires_grad(x, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_requires_grad(w, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_requires_grad(b, true), AMPC_OK);
    ampc_tensor *out = ampc_conv2d(x, w, b, &s.options);
    assert_non_null(out);
    assert_int_equal(ampc_tensor_dtype(out), AMPC_F32);
    assert_string_equal(ampc_tensor_grad_fn_name(out), "conv2d");
    ampc_tensor *ones = ampc_tensor_ones(AMPC_F32, 4, ampc_tensor_shape(out));
    assert_int_equal(ampc_backward(out, ones, false), AMPC_OK);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(x)), AMPC_F16);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(w)), AMPC_F32);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(b)), AMPC_BF16);
    ampc_tensor_free(ones);
    ampc_tensor_free(out);
    ampc_tensor_free(x);
    ampc_tensor_free(w);
    ampc_tensor_free(b);
    free_inputs(inputs, count);
}

/* An F32 bias (or weight) with F64 tensors promotes to F64: the narrower operand is widened
 * before it meets the F64 compute buffers, and the result matches the loops. */
static void test_f64_with_f32_operands_promotes_to_f64(void **state)
{
    (void)state;
    for (int which = 1; which < 3; which++) {
        conv_spec s = grid_case(1, which == 2);
        ampc_tensor *inputs[3];
        int count = make_inputs(&s, 960 + (uint64_t)which, inputs);
        ampc_tensor *narrow = ampc_tensor_cast(inputs[which], AMPC_F32);
        assert_int_equal(ampc_tensor_set_requires_grad(narrow, true), AMPC_OK);
        ampc_tensor *mixed[3] = {inputs[0], inputs[1], inputs[2]};
        mixed[which] = narrow;
        ampc_tensor *out = conv_op(mixed, &s);
        assert_non_null(out);
        assert_int_equal(ampc_tensor_dtype(out), AMPC_F64);
        ampc_tensor *expected = reference(&s, mixed[0], mixed[1], mixed[2]);
        assert_close(out, expected, 1e-12, "mixed F64/F32");
        /* the F32 operand's gradient is the F64 one, rounded */
        ampc_tensor *ones = ampc_tensor_ones(AMPC_F64, 4, ampc_tensor_shape(out));
        assert_int_equal(ampc_backward(out, ones, false), AMPC_OK);
        ampc_tensor *out64 = conv_op(inputs, &s);
        assert_int_equal(ampc_backward(out64, ones, false), AMPC_OK);
        assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(narrow)), AMPC_F32);
        assert_close(ampc_tensor_grad(narrow), ampc_tensor_grad(inputs[which]), 1e-6,
                     "mixed F64/F32 gradient");
        ampc_tensor_free(out64);
        ampc_tensor_free(ones);
        ampc_tensor_free(expected);
        ampc_tensor_free(out);
        ampc_tensor_free(narrow);
        free_inputs(inputs, count);
    }
}

/* Forward and all three gradients of one conv, as F64 copies (the thread-count test). */
static void conv_step(const conv_spec *s, ampc_tensor *const *inputs, ampc_tensor **results)
{
    ampc_tensor *out = conv_op(inputs, s);
    assert_non_null(out);
    ampc_tensor *v = gradcheck_uniform(77, 4, ampc_tensor_shape(out), -1, 1, false);
    assert_int_equal(ampc_backward(out, v, false), AMPC_OK);
    results[0] = ampc_tensor_cast(out, AMPC_F64);
    for (int i = 0; i < 3; i++) {
        results[1 + i] = ampc_tensor_cast(ampc_tensor_grad(inputs[i]), AMPC_F64);
        assert_int_equal(ampc_tensor_zero_grad(inputs[i], true), AMPC_OK);
    }
    ampc_tensor_free(v);
    ampc_tensor_free(out);
}

/* Sizes where im2col, col2im and the bias loops split over threads: the same bits on 1 and
 * 3 threads, for each op and dtype. */
static void test_results_do_not_depend_on_the_thread_count(void **state)
{
    (void)state;
    int threads = ampc_num_threads();
    const ampc_dtype dtypes[] = {AMPC_F32, AMPC_F16};
    for (int transposed = 0; transposed < 2; transposed++)
        for (int d = 0; d < 2; d++) {
            conv_spec s = {.batch = 2,
                           .in_channels = 8,
                           .h = 40,
                           .w = 36,
                           .out_channels = 16,
                           .kh = 3,
                           .kw = 3,
                           .options = ampc_conv2d_defaults(),
                           .bias = true,
                           .transposed = transposed};
            s.options.padding[0] = 1;
            ampc_tensor *inputs[3], *typed[3], *one[4], *three[4];
            int count = make_inputs(&s, 1300, inputs);
            for (int i = 0; i < count; i++) {
                typed[i] = ampc_tensor_cast(inputs[i], dtypes[d]);
                assert_int_equal(ampc_tensor_set_requires_grad(typed[i], true), AMPC_OK);
            }
            assert_int_equal(ampc_set_num_threads(1), AMPC_OK);
            conv_step(&s, typed, one);
            assert_int_equal(ampc_set_num_threads(3), AMPC_OK);
            conv_step(&s, typed, three);
            assert_int_equal(ampc_set_num_threads(threads), AMPC_OK);
            for (int i = 0; i < 4; i++) {
                assert_close(three[i], one[i], 0, "1 and 3 threads");
                ampc_tensor_free(one[i]);
                ampc_tensor_free(three[i]);
            }
            free_inputs(typed, count);
            free_inputs(inputs, count);
        }
}

/* Images large enough that the 16 MiB chunk buffer holds two (6 MB of F32 cols each), so a
 * batch of 3 runs as chunks of 2 and 1: forward against the loops, and the weight gradient
 * (summed within and across chunks) against sum(dout . cols). */
static void test_large_batch_runs_in_chunks(void **state)
{
    (void)state;
    conv_spec s = {.batch = 3,
                   .in_channels = 16,
                   .h = 100,
                   .w = 104,
                   .out_channels = 2,
                   .kh = 3,
                   .kw = 3,
                   .options = ampc_conv2d_defaults(),
                   .bias = true};
    s.options.padding[0] = s.options.padding[1] = 1;
    ampc_tensor *inputs[3];
    int count = make_inputs(&s, 1000, inputs);
    ampc_tensor *x32 = ampc_tensor_cast(inputs[0], AMPC_F32);
    ampc_tensor *w32 = ampc_tensor_cast(inputs[1], AMPC_F32);
    assert_int_equal(ampc_tensor_set_requires_grad(x32, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_requires_grad(w32, true), AMPC_OK);
    ampc_tensor *out = ampc_conv2d(x32, w32, NULL, &s.options);
    assert_non_null(out);
    s.bias = false;
    ampc_tensor *expected = reference(&s, x32, w32, NULL);
    assert_close(out, expected, 1e-4, "chunked conv2d");

    /* With dout = 1 everywhere, dweight[co][ci][kh][kw] is the sum of the shifted image. */
    ampc_tensor *ones = ampc_tensor_ones(AMPC_F32, 4, ampc_tensor_shape(out));
    assert_int_equal(ampc_backward(out, ones, false), AMPC_OK);
    ampc_tensor *xc;
    const double *x = f64_data(x32, &xc);
    const ampc_tensor *dweight = ampc_tensor_grad(w32);
    for (int64_t ci = 0; ci < s.in_channels; ci++)
        for (int64_t kh = 0; kh < 3; kh++)
            for (int64_t kw = 0; kw < 3; kw++) {
                double sum = 0;
                for (int64_t n = 0; n < s.batch; n++)
                    for (int64_t ih = kh - 1; ih < kh - 1 + s.h; ih++)
                        for (int64_t iw = kw - 1; iw < kw - 1 + s.w; iw++)
                            if (ih >= 0 && ih < s.h && iw >= 0 && iw < s.w)
                                sum += x[((n * s.in_channels + ci) * s.h + ih) * s.w + iw];
                for (int64_t co = 0; co < s.out_channels; co++) {
                    double got;
                    assert_int_equal(ampc_tensor_get(dweight, (int64_t[]){co, ci, kh, kw}, &got),
                                     AMPC_OK);
                    if (fabs(got - sum) > 1e-3 * (1 + fabs(sum)))
                        fail_msg("dweight[%lld][%lld][%lld][%lld] is %g; expected %g",
                                 (long long)co, (long long)ci, (long long)kh, (long long)kw, got,
                                 sum);
                }
            }
    /* and dinput[n][ci][ih][iw] sums the weights whose output position (ih + 1 - kh, ...)
     * lies inside the image */
    ampc_tensor *wc;
    const double *w = f64_data(w32, &wc);
    const float *dinput = ampc_tensor_data(ampc_tensor_grad(x32));
    for (int64_t n = 0; n < s.batch; n++)
        for (int64_t ci = 0; ci < s.in_channels; ci++)
            for (int64_t ih = 0; ih < s.h; ih++)
                for (int64_t iw = 0; iw < s.w; iw++) {
                    double sum = 0;
                    for (int64_t co = 0; co < s.out_channels; co++)
                        for (int64_t kh = 0; kh < 3; kh++)
                            for (int64_t kw = 0; kw < 3; kw++)
                                if (ih + 1 - kh >= 0 && ih + 1 - kh < s.h && iw + 1 - kw >= 0 &&
                                    iw + 1 - kw < s.w)
                                    sum += w[((co * s.in_channels + ci) * 3 + kh) * 3 + kw];
                    double got = dinput[((n * s.in_channels + ci) * s.h + ih) * s.w + iw];
                    if (fabs(got - sum) > 1e-5 * (1 + fabs(sum)))
                        fail_msg("dinput[%lld][%lld][%lld][%lld] is %g; expected %g", (long long)n,
                                 (long long)ci, (long long)ih, (long long)iw, got, sum);
                }
    ampc_tensor_free(wc);
    ampc_tensor_free(xc);
    ampc_tensor_free(ones);
    ampc_tensor_free(expected);
    ampc_tensor_free(out);
    ampc_tensor_free(x32);
    ampc_tensor_free(w32);
    free_inputs(inputs, count);
}

/* conv_transpose2d is the adjoint of conv2d: <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>. */
static void test_transpose_is_the_adjoint_of_conv(void **state)
{
    (void)state;
    conv_spec s = grid_case(9, false);
    s.bias = false;
    ampc_tensor *inputs[3];
    int count = make_inputs(&s, 1100, inputs);
    ampc_tensor *y = ampc_conv2d(inputs[0], inputs[1], NULL, &s.options);
    assert_non_null(y);
    ampc_tensor *v = gradcheck_uniform(1101, 4, ampc_tensor_shape(y), -1, 1, false);
    ampc_conv2d_options t = s.options;
    /* output_padding recovers the input size lost to the stride's rounding */
    for (int d = 0; d < 2; d++) {
        int64_t size = d == 0 ? s.h : s.w, kernel = d == 0 ? s.kh : s.kw;
        t.output_padding[d] = size - ((ampc_tensor_dim(y, 2 + d) - 1) * t.stride[d] -
                                      2 * t.padding[d] + t.dilation[d] * (kernel - 1) + 1);
    }
    ampc_tensor *xt = ampc_conv_transpose2d(v, inputs[1], NULL, &t);
    assert_non_null(xt);
    double left = 0, right = 0;
    for (int64_t i = 0; i < ampc_tensor_numel(y); i++)
        left += value_at_position(y, i) * value_at_position(v, i);
    for (int64_t i = 0; i < ampc_tensor_numel(xt); i++)
        right += value_at_position(xt, i) * value_at_position(inputs[0], i);
    assert_true(fabs(left - right) <= 1e-10 * (1 + fabs(left)));
    ampc_tensor_free(xt);
    ampc_tensor_free(v);
    ampc_tensor_free(y);
    free_inputs(inputs, count);
}

/* One F16 conv2d step (forward, backward) on leaves x and w: the output and both gradients
 * as F64 copies, in results. */
static void f16_step(ampc_tensor *x, ampc_tensor *w, const ampc_conv2d_options *options,
                     ampc_tensor **results)
{
    ampc_tensor *out = ampc_conv2d(x, w, NULL, options);
    assert_non_null(out);
    ampc_tensor *v = ampc_tensor_full(AMPC_F16, 4, ampc_tensor_shape(out), 0.5);
    assert_int_equal(ampc_backward(out, v, false), AMPC_OK);
    results[0] = ampc_tensor_cast(out, AMPC_F64);
    results[1] = ampc_tensor_cast(ampc_tensor_grad(x), AMPC_F64);
    results[2] = ampc_tensor_cast(ampc_tensor_grad(w), AMPC_F64);
    assert_int_equal(ampc_tensor_zero_grad(x, true), AMPC_OK);
    assert_int_equal(ampc_tensor_zero_grad(w, true), AMPC_OK);
    ampc_tensor_free(v);
    ampc_tensor_free(out);
}

/* Inside an arena (activations and records in it, temporaries on the heap) a step gives the
 * same bits as outside. */
static void test_conv_in_an_arena_matches_the_heap(void **state)
{
    (void)state;
    conv_spec s = grid_case(8, false);
    ampc_tensor *inputs[3];
    int count = make_inputs(&s, 1200, inputs);
    ampc_tensor *x = ampc_tensor_cast(inputs[0], AMPC_F16);
    ampc_tensor *w = ampc_tensor_cast(inputs[1], AMPC_F16);
    assert_int_equal(ampc_tensor_set_requires_grad(x, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_requires_grad(w, true), AMPC_OK);
    ampc_tensor *heap[3], *arena_results[3];
    f16_step(x, w, &s.options, heap);
    ampc_arena *arena = ampc_arena_new();
    assert_int_equal(ampc_arena_enter(arena), AMPC_OK);
    f16_step(x, w, &s.options, arena_results);
    assert_int_equal(ampc_arena_leave(arena), AMPC_OK);
    for (int i = 0; i < 3; i++) arena_results[i] = ampc_tensor_clone(arena_results[i]);
    assert_int_equal(ampc_arena_reset(arena), AMPC_OK);
    ampc_arena_free(arena);
    for (int i = 0; i < 3; i++) {
        assert_close(arena_results[i], heap[i], 0, "arena step");
        ampc_tensor_free(arena_results[i]);
        ampc_tensor_free(heap[i]);
    }
    ampc_tensor_free(x);
    ampc_tensor_free(w);
    free_inputs(inputs, count);
}

static ampc_tensor *zeros4(int64_t a, int64_t b, int64_t c, int64_t d)
{
    return ampc_tensor_zeros(AMPC_F32, 4, (int64_t[]){a, b, c, d});
}

static void test_conv_refusals_name_the_problem(void **state)
{
    (void)state;
    ampc_tensor *x = zeros4(1, 4, 5, 5), *w = zeros4(8, 3, 3, 3);
    assert_null(ampc_conv2d(x, w, NULL, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "has 4 channels; expected 3");
    ampc_tensor_free(w);

    ampc_conv2d_options o = ampc_conv2d_defaults();
    o.groups = 3;
    w = zeros4(8, 2, 3, 3);
    ampc_tensor *x6 = zeros4(1, 6, 5, 5);
    assert_null(ampc_conv2d(x6, w, NULL, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "8 out-channels (dim 0); expected a multiple of "
                                            "groups 3");
    ampc_tensor *x8 = zeros4(1, 8, 5, 5);
    assert_null(ampc_conv_transpose2d(x8, w, NULL, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "has 8 channels; expected a multiple of groups 3");
    ampc_tensor_free(x8);
    ampc_tensor_free(x6);
    ampc_tensor_free(w);

    w = zeros4(2, 4, 5, 5);
    ampc_tensor *small = zeros4(1, 4, 2, 2);
    o = ampc_conv2d_defaults();
    o.padding[0] = o.padding[1] = 1;
    assert_null(ampc_conv2d(small, w, NULL, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "can't be larger than the padded input");
    ampc_tensor_free(small);
    ampc_tensor_free(w);

    w = zeros4(4, 2, 1, 1);
    ampc_tensor *tiny = zeros4(1, 4, 1, 1);
    assert_null(ampc_conv_transpose2d(tiny, w, NULL, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "the output's height would be -1");
    ampc_tensor_free(tiny);

    o = ampc_conv2d_defaults();
    o.output_padding[0] = 1;
    assert_null(ampc_conv_transpose2d(x, w, NULL, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "output_padding[0] is 1; expected it smaller than "
                                            "stride[0] 1 or dilation[0] 1");
    ampc_tensor_free(w);
    w = zeros4(2, 4, 3, 3);
    assert_null(ampc_conv2d(x, w, NULL, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "output_padding is [1, 0]; expected [0, 0]");

    o = ampc_conv2d_defaults();
    o.stride[1] = 0;
    assert_null(ampc_conv2d(x, w, NULL, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->stride is [1, 0]; expected each >= 1");
    o = ampc_conv2d_defaults();
    o.padding[1] = INT64_MAX;
    assert_null(ampc_conv2d(x, w, NULL, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "the output's width does not fit in 64 bits");
    o = ampc_conv2d_defaults();
    o.stride[0] = INT64_MAX;
    ampc_tensor *w_transposed = zeros4(4, 2, 3, 3);
    assert_null(ampc_conv_transpose2d(x, w_transposed, NULL, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "the output's height does not fit in 64 bits");
    ampc_tensor_free(w_transposed);
    o = ampc_conv2d_defaults();
    o.groups = 0;
    assert_null(ampc_conv2d(x, w, NULL, &o));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "options->groups is 0");

    ampc_tensor *bias = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){3});
    assert_null(ampc_conv2d(x, w, bias, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "bias has shape [3]; expected [2]");
    ampc_tensor_free(bias);

    ampc_tensor *flat = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){4, 25});
    assert_null(ampc_conv2d(flat, w, NULL, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "input has shape [4, 25]; expected (N, C_in, H, W)");
    assert_null(ampc_conv2d(x, flat, NULL, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "weight has shape [4, 25]; expected 4 dims");
    ampc_tensor_free(flat);

    ampc_tensor *ints = ampc_tensor_zeros(AMPC_I64, 4, (int64_t[]){1, 4, 5, 5});
    assert_null(ampc_conv2d(ints, w, NULL, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "input");
    ampc_tensor_free(ints);

    assert_null(ampc_conv2d(NULL, w, NULL, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "input");
    assert_null(ampc_conv_transpose2d(x, NULL, NULL, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "weight");
    ampc_tensor_free(w);
    ampc_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_forward_matches_float64_loops),
        cmocka_unit_test(test_conv_transpose2d_forward_matches_float64_loops),
        cmocka_unit_test_setup_teardown(test_conv2d_gradients_over_the_grid, one_thread,
                                        restore_threads),
        cmocka_unit_test_setup_teardown(test_conv_transpose2d_gradients_over_the_grid, one_thread,
                                        restore_threads),
        cmocka_unit_test(test_pointwise_conv_without_im2col),
        cmocka_unit_test(test_edge_sizes),
        cmocka_unit_test(test_unbatched_input_gives_unbatched_output),
        cmocka_unit_test(test_empty_batch_gives_empty_output),
        cmocka_unit_test(test_conv_dtypes_against_float64),
        cmocka_unit_test(test_mixed_dtypes_promote),
        cmocka_unit_test(test_f64_with_f32_operands_promotes_to_f64),
        cmocka_unit_test(test_large_batch_runs_in_chunks),
        cmocka_unit_test(test_results_do_not_depend_on_the_thread_count),
        cmocka_unit_test(test_transpose_is_the_adjoint_of_conv),
        cmocka_unit_test(test_conv_in_an_arena_matches_the_heap),
        cmocka_unit_test(test_conv_refusals_name_the_problem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
