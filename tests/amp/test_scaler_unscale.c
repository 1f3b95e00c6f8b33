/* ctest: per-isa
 *
 * The fused unscale + overflow pass (src/amp/scaler_unscale.c, kernels/unscale_*.c): the
 * dispatched kernels against the scalar reference bit for bit (every tail length, misaligned
 * starts, special values, each source dtype, with and without accumulation); the pass against
 * a float64 reference (F32/F16/BF16 model grads into F32 masters, in place, accumulating over
 * passes with different scales, a parameter that is its own master with a stash, views into
 * one flat block, buffers longer than a chunk, 1 and 3 threads giving the same bits); inf and
 * NaN detected anywhere (first, last, a chunk's middle and edges, in 16-bit grads, and in
 * results only); apex's no-op cases; argument errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ampc/amp_scaler.h>

#include "../tensor/tensor_testing.h"
#include "kernels/unscale.h"
#include "test_support.h"

enum { CHUNK = 1 << 15 }; /* scaler_unscale.c's chunk */

static const ampc_unscale_kernels *reference, *active;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rand64(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double uniform(double lo, double hi)
{
    return lo + (hi - lo) * (double)(rand64() >> 11) / 9007199254740992.0;
}

static bool same_f32(float a, float b) { return (isnan(a) && isnan(b)) || bits_of_f32(a) == bits_of_f32(b); }

/* ---- kernels: active level vs reference ---- */

static float special_f32(uint64_t r)
{
    static const float specials[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 3.4e38f, -3.4e38f,
                                     1e-45f, 1.17e-38f, 65504.0f};
    if (r % 8 == 0) return specials[(r >> 8) % 10];
    return f32_of_bits((uint32_t)(r >> 16));
}

static void compare_kernels(int dtype_index, bool with_acc)
{
    enum { MAX_N = 80, OFFSETS = 3 };
    float in32[MAX_N + OFFSETS], acc[MAX_N + OFFSETS], out_ref[MAX_N + OFFSETS],
        out_act[MAX_N + OFFSETS];
    uint16_t in16[MAX_N + OFFSETS];
    float inv_scales[] = {1.0f / 65536, 0.5f, 1.0f / 3, 1.0f, 2.0f};
    for (size_t n = 0; n <= MAX_N; n++)
        for (size_t off = 0; off < OFFSETS; off++)
            for (size_t k = 0; k < sizeof inv_scales / sizeof inv_scales[0]; k++) {
                for (size_t i = 0; i < n + off; i++) {
                    in32[i] = special_f32(rand64());
                    in16[i] = (uint16_t)rand64();
                    acc[i] = special_f32(rand64());
                    if (rand64() % 4) acc[i] = (float)uniform(-10, 10);
                    if (rand64() % 4 && dtype_index == 0) in32[i] = (float)uniform(-1e5, 1e5);
                }
                const float *a = with_acc ? acc + off : NULL;
                bool flag_ref, flag_act;
                if (dtype_index == 0) {
                    flag_ref = reference->f32(out_ref + off, a, in32 + off, n, inv_scales[k]);
                    flag_act = active->f32(out_act + off, a, in32 + off, n, inv_scales[k]);
                } else if (dtype_index == 1) {
                    flag_ref = reference->f16(out_ref + off, a, in16 + off, n, inv_scales[k]);
                    flag_act = active->f16(out_act + off, a, in16 + off, n, inv_scales[k]);
                } else {
                    flag_ref = reference->bf16(out_ref + off, a, in16 + off, n, inv_scales[k]);
                    flag_act = active->bf16(out_act + off, a, in16 + off, n, inv_scales[k]);
                }
                if (flag_ref != flag_act)
                    fail_msg("dtype %d acc %d n %zu off %zu: flag %d vs reference %d", dtype_index,
                             with_acc, n, off, flag_act, flag_ref);
                for (size_t i = 0; i < n; i++)
                    if (!same_f32(out_ref[off + i], out_act[off + i]))
                        fail_msg("dtype %d acc %d n %zu off %zu element %zu: %a vs reference %a",
                                 dtype_index, with_acc, n, off, i, (double)out_act[off + i],
                                 (double)out_ref[off + i]);
            }
}

static void test_active_kernels_match_reference_on_every_tail_and_special_value(void **state)
{
    (void)state;
    for (int d = 0; d < 3; d++) {
        compare_kernels(d, false);
        compare_kernels(d, true);
    }
}

static void test_kernels_write_in_place(void **state)
{
    (void)state;
    float buffer[37], copy[37], out[37];
    for (int i = 0; i < 37; i++) buffer[i] = copy[i] = (float)uniform(-100, 100);
    reference->f32(out, NULL, copy, 37, 0.25f);
    assert_false(active->f32(buffer, NULL, buffer, 37, 0.25f));
    for (int i = 0; i < 37; i++) assert_true(same_f32(buffer[i], out[i]));
}

/* ---- the pass vs float64 ---- */

static ampc_tensor *random_tensor(ampc_dtype dtype, int64_t n, double lo, double hi)
{
    double *values = malloc((size_t)n * sizeof *values);
    for (int64_t i = 0; i < n; i++) values[i] = uniform(lo, hi);
    ampc_tensor *wide = ampc_tensor_from_data(values, AMPC_F64, 1, &n);
    ampc_tensor *t = ampc_tensor_cast(wide, dtype);
    ampc_tensor_free(wide);
    free(values);
    assert_non_null(t);
    return t;
}

static double value_at(const ampc_tensor *t, int64_t i)
{
    const void *d = ampc_tensor_data(t);
    switch (ampc_tensor_dtype(t)) {
    case AMPC_F32: return ((const float *)d)[i];
    case AMPC_F16: return ampc_f16_to_f32(((const uint16_t *)d)[i]);
    default: return ampc_bf16_to_f32(((const uint16_t *)d)[i]);
    }
}

static double *values_of(const ampc_tensor *t)
{
    int64_t n = ampc_tensor_numel(t);
    double *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++) v[i] = value_at(t, i);
    return v;
}

/* |got - expected| within 1 fp32 rounding of each operation (2^-23 relative to the terms). */
static void expect_near(const ampc_tensor *got, const double *expected, const double *scale_of,
                        const char *what)
{
    int64_t n = ampc_tensor_numel(got);
    for (int64_t i = 0; i < n; i++) {
        double g = value_at(got, i), e = expected[i];
        double tolerance = 2.4e-7 * (fabs(e) + (scale_of ? fabs(scale_of[i]) : 0)) + 1e-44;
        if (!(fabs(g - e) <= tolerance))
            fail_msg("%s element %lld: %.9g, expected %.9g", what, (long long)i, g, e);
    }
}

static void test_unscale_matches_float64_for_each_source_dtype(void **state)
{
    (void)state;
    ampc_dtype dtypes[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
    double scales[] = {65536.0, 3.0, 0.125};
    int64_t n = 2 * CHUNK + 77;
    for (int d = 0; d < 3; d++)
        for (int k = 0; k < 3; k++) {
            ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_STATIC, scales[k], 0, 0);
            ampc_tensor *model = random_tensor(dtypes[d], n, -1000, 1000);
            ampc_tensor *master = ampc_tensor_zeros(AMPC_F32, 1, &n);
            double *g = values_of(model), *expected = malloc((size_t)n * sizeof *expected);
            for (int64_t i = 0; i < n; i++) expected[i] = g[i] / scales[k];
            assert_int_equal(ampc_loss_scaler_unscale(s, &model, &master, 1, false), AMPC_OK);
            assert_false(ampc_loss_scaler_had_overflow(s));
            expect_near(master, expected, NULL, ampc_dtype_name(dtypes[d]));
            free(g);
            free(expected);
            ampc_tensor_free(model);
            ampc_tensor_free(master);
            ampc_loss_scaler_free(s);
        }
}

static void test_unscale_in_place_when_param_is_its_own_master(void **state)
{
    (void)state;
    int64_t n = CHUNK + 5;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    ampc_tensor *grad = random_tensor(AMPC_F32, n, -1e6, 1e6);
    double *expected = values_of(grad);
    for (int64_t i = 0; i < n; i++) expected[i] /= 65536.0;
    assert_int_equal(ampc_loss_scaler_unscale(s, &grad, &grad, 1, false), AMPC_OK);
    expect_near(grad, expected, NULL, "in place");
    free(expected);
    ampc_tensor_free(grad);
    ampc_loss_scaler_free(s);
}

static void test_accumulate_sums_passes_with_different_scales(void **state)
{
    (void)state;
    int64_t n = 1000;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_STATIC, 4.0, 0, 0);
    ampc_tensor *master = random_tensor(AMPC_F32, n, -1, 1); /* earlier, already unscaled */
    ampc_tensor *g1 = random_tensor(AMPC_F16, n, -100, 100);
    double *expected = values_of(master), *magnitude = malloc((size_t)n * sizeof *magnitude);
    double *v1 = values_of(g1);
    for (int64_t i = 0; i < n; i++) {
        expected[i] += v1[i] / 4.0;
        magnitude[i] = fabs(v1[i] / 4.0) + fabs(expected[i]);
    }
    assert_int_equal(ampc_loss_scaler_unscale(s, &g1, &master, 1, true), AMPC_OK);
    expect_near(master, expected, magnitude, "first pass");
    /* a second pass, from BF16, with another scale (apex's 4.0 and 16.0 losses) */
    ampc_loss_scaler *s16 = ampc_loss_scaler_new(AMPC_LOSS_SCALE_STATIC, 16.0, 0, 0);
    ampc_tensor *g2 = random_tensor(AMPC_BF16, n, -100, 100);
    double *v2 = values_of(g2);
    for (int64_t i = 0; i < n; i++) {
        expected[i] += v2[i] / 16.0;
        magnitude[i] += fabs(v2[i] / 16.0) + fabs(expected[i]);
    }
    assert_int_equal(ampc_loss_scaler_unscale(s16, &g2, &master, 1, true), AMPC_OK);
    expect_near(master, expected, magnitude, "second pass");
    free(expected);
    free(magnitude);
    free(v1);
    free(v2);
    ampc_tensor_free(master);
    ampc_tensor_free(g1);
    ampc_tensor_free(g2);
    ampc_loss_scaler_free(s);
    ampc_loss_scaler_free(s16);
}

static void test_own_master_accumulates_through_stash_even_at_static_scale_one(void **state)
{
    (void)state;
    /* apex.md §3.6: apex drops the stash at a static 1.0 with master weights; ampc keeps it. */
    int64_t n = 300;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_STATIC, 1.0, 0, 0);
    ampc_tensor *stash = random_tensor(AMPC_F32, n, -1, 1);
    ampc_tensor *grad = random_tensor(AMPC_F32, n, -1, 1); /* the new pass's grad */
    double *expected = values_of(stash), *v = values_of(grad);
    for (int64_t i = 0; i < n; i++) expected[i] += v[i];
    ampc_tensor *stashes[] = {stash};
    assert_int_equal(ampc_loss_scaler_unscale_with_stashed(s, &grad, stashes, &grad, 1), AMPC_OK);
    expect_near(grad, expected, v, "grad + stash");
    /* a NULL stash entry counts as zeros; the stash may be the destination */
    ampc_loss_scaler *s2 = ampc_loss_scaler_new(AMPC_LOSS_SCALE_STATIC, 2.0, 0, 0);
    ampc_tensor *none[] = {NULL};
    assert_int_equal(ampc_loss_scaler_unscale_with_stashed(s2, &grad, none, &grad, 1), AMPC_OK);
    for (int64_t i = 0; i < n; i++) expected[i] /= 2;
    expect_near(grad, expected, v, "no stash");
    ampc_tensor *g16 = random_tensor(AMPC_F16, n, -8, 8);
    double *w = values_of(g16);
    for (int64_t i = 0; i < n; i++) expected[i] += w[i] / 2;
    assert_int_equal(ampc_loss_scaler_unscale_with_stashed(s2, &g16, &grad, &grad, 1), AMPC_OK);
    expect_near(grad, expected, w, "stash is master");
    free(expected);
    free(v);
    free(w);
    ampc_tensor_free(stash);
    ampc_tensor_free(grad);
    ampc_tensor_free(g16);
    ampc_loss_scaler_free(s);
    ampc_loss_scaler_free(s2);
}

static void test_views_into_one_flat_block_and_thread_counts_give_same_bits(void **state)
{
    (void)state;
    int64_t total = 3 * CHUNK + 1001, sizes[] = {CHUNK + 3, 17, 2 * CHUNK + 981};
    ampc_tensor *model_flat = random_tensor(AMPC_BF16, total, -1e4, 1e4);
    ampc_tensor *out[2];
    int threads[] = {1, 3};
    int previous = ampc_num_threads();
    for (int t = 0; t < 2; t++) {
        assert_int_equal(ampc_set_num_threads(threads[t]), AMPC_OK);
        out[t] = ampc_tensor_zeros(AMPC_F32, 1, &total);
        ampc_tensor *models[3], *masters[3];
        int64_t start = 0;
        for (int i = 0; i < 3; i++) {
            models[i] = ampc_tensor_narrow(model_flat, 0, start, sizes[i]);
            masters[i] = ampc_tensor_narrow(out[t], 0, start, sizes[i]);
            start += sizes[i];
        }
        ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
        assert_int_equal(ampc_loss_scaler_unscale(s, models, masters, 3, false), AMPC_OK);
        assert_false(ampc_loss_scaler_had_overflow(s));
        ampc_loss_scaler_free(s);
        for (int i = 0; i < 3; i++) {
            ampc_tensor_free(models[i]);
            ampc_tensor_free(masters[i]);
        }
    }
    assert_int_equal(ampc_set_num_threads(previous), AMPC_OK);
    assert_memory_equal(ampc_tensor_data(out[0]), ampc_tensor_data(out[1]),
                        (size_t)total * sizeof(float));
    double *g = values_of(model_flat);
    for (int64_t i = 0; i < total; i++) g[i] /= 65536.0;
    expect_near(out[0], g, NULL, "flat block");
    free(g);
    ampc_tensor_free(out[0]);
    ampc_tensor_free(out[1]);
    ampc_tensor_free(model_flat);
}

/* ---- overflow detection ---- */

static void set_element(ampc_tensor *t, int64_t i, double v)
{
    assert_int_equal(ampc_tensor_set(t, &i, v), AMPC_OK);
}

static void test_inf_and_nan_detected_anywhere(void **state)
{
    (void)state;
    int64_t n = 3 * CHUNK + 10;
    int64_t positions[] = {0, n - 1, CHUNK / 2, CHUNK - 1, CHUNK, 2 * CHUNK + 7};
    ampc_dtype dtypes[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
    double bad[] = {INFINITY, -INFINITY, NAN};
    ampc_tensor *master = ampc_tensor_zeros(AMPC_F32, 1, &n);
    for (int d = 0; d < 3; d++) {
        ampc_tensor *model = random_tensor(dtypes[d], n, -10, 10);
        for (size_t p = 0; p < sizeof positions / sizeof positions[0]; p++)
            for (int b = 0; b < 3; b++) {
                double saved = value_at(model, positions[p]);
                set_element(model, positions[p], bad[b]);
                ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
                assert_int_equal(ampc_loss_scaler_unscale(s, &model, &master, 1, false), AMPC_OK);
                if (!ampc_loss_scaler_had_overflow(s))
                    fail_msg("%s: %g at %lld not detected", ampc_dtype_name(dtypes[d]), bad[b],
                             (long long)positions[p]);
                assert_true(ampc_loss_scaler_update(s));
                assert_true(ampc_loss_scaler_scale(s) == 32768.0);
                ampc_loss_scaler_free(s);
                set_element(model, positions[p], saved);
            }
        ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
        assert_int_equal(ampc_loss_scaler_unscale(s, &model, &master, 1, false), AMPC_OK);
        assert_false(ampc_loss_scaler_had_overflow(s));
        ampc_loss_scaler_free(s);
        ampc_tensor_free(model);
    }
    ampc_tensor_free(master);
}

static void test_overflow_in_result_only_is_detected(void **state)
{
    (void)state;
    int64_t n = 40;
    /* a finite grad times 1/scale overflows (a scale below 1) */
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_STATIC, 0.5, 0, 0);
    ampc_tensor *model = random_tensor(AMPC_F32, n, -1, 1);
    ampc_tensor *master = ampc_tensor_zeros(AMPC_F32, 1, &n);
    set_element(model, 33, 3e38);
    assert_int_equal(ampc_loss_scaler_unscale(s, &model, &master, 1, false), AMPC_OK);
    assert_true(ampc_loss_scaler_had_overflow(s));
    assert_false(ampc_loss_scaler_update(s)); /* static: flagged, never skipped */
    ampc_loss_scaler_free(s);
    /* accumulation that overflows, and an inf already in the master */
    s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 1, 0, 0);
    set_element(model, 33, 3e38);
    set_element(master, 33, 3e38);
    assert_int_equal(ampc_loss_scaler_unscale(s, &model, &master, 1, true), AMPC_OK);
    assert_true(ampc_loss_scaler_had_overflow(s));
    ampc_loss_scaler_clear_overflow(s);
    set_element(model, 33, 0);
    set_element(master, 5, INFINITY);
    assert_int_equal(ampc_loss_scaler_unscale(s, &model, &master, 1, true), AMPC_OK);
    assert_true(ampc_loss_scaler_had_overflow(s));
    ampc_loss_scaler_free(s);
    ampc_tensor_free(model);
    ampc_tensor_free(master);
}

static void test_apex_no_op_cases(void **state)
{
    (void)state;
    int64_t n = 8;
    ampc_tensor *model = random_tensor(AMPC_F32, n, -1, 1);
    ampc_tensor *master = ampc_tensor_zeros(AMPC_F32, 1, &n);
    /* a pending overflow: nothing is written */
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    set_element(model, 2, NAN);
    assert_int_equal(ampc_loss_scaler_unscale(s, &model, &master, 1, false), AMPC_OK);
    assert_true(ampc_loss_scaler_had_overflow(s));
    set_element(model, 2, 0.5);
    memset(ampc_tensor_data(master), 0, (size_t)n * sizeof(float));
    assert_int_equal(ampc_loss_scaler_unscale(s, &model, &master, 1, false), AMPC_OK);
    for (int64_t i = 0; i < n; i++) assert_true(value_at(master, i) == 0.0);
    ampc_loss_scaler_free(s);
    /* static 1.0 with models as masters: untouched and unchecked */
    s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_STATIC, 1.0, 0, 0);
    set_element(model, 2, INFINITY);
    assert_int_equal(ampc_loss_scaler_unscale(s, &model, &model, 1, false), AMPC_OK);
    assert_false(ampc_loss_scaler_had_overflow(s));
    assert_true(isinf(value_at(model, 2)));
    ampc_loss_scaler_free(s);
    ampc_tensor_free(model);
    ampc_tensor_free(master);
}

static void test_bad_arguments_fail_and_touch_nothing(void **state)
{
    (void)state;
    int64_t n = 4, m = 5;
    ampc_loss_scaler *s = ampc_loss_scaler_new(AMPC_LOSS_SCALE_DYNAMIC, 0, 0, 0);
    ampc_tensor *f32 = ampc_tensor_ones(AMPC_F32, 1, &n);
    ampc_tensor *f16 = ampc_tensor_ones(AMPC_F16, 1, &n);
    ampc_tensor *f64 = ampc_tensor_ones(AMPC_F64, 1, &n);
    ampc_tensor *longer = ampc_tensor_zeros(AMPC_F32, 1, &m);
    ampc_tensor *master = ampc_tensor_zeros(AMPC_F32, 1, &n);
    assert_int_equal(ampc_loss_scaler_unscale(s, &f64, &master, 1, false),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "model_grads[0] is F64; expected F32, F16 or BF16");
    assert_int_equal(ampc_loss_scaler_unscale(s, &f32, &f16, 1, false), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "master_grads[0] is F16; expected F32");
    assert_int_equal(ampc_loss_scaler_unscale(s, &f32, &longer, 1, false),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "has 5 elements; expected 4");
    assert_int_equal(ampc_loss_scaler_unscale(s, &f32, &f32, 1, true), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_loss_scaler_unscale_with_stashed");
    ampc_tensor *models[] = {f16, f64}, *masters[] = {master, master};
    assert_int_equal(ampc_loss_scaler_unscale(s, models, masters, 2, false),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "model_grads[1]");
    for (int64_t i = 0; i < n; i++) assert_true(value_at(master, i) == 0.0); /* pair 0 unrun */
    ampc_tensor *nulls[] = {NULL};
    assert_int_equal(ampc_loss_scaler_unscale(s, &f32, nulls, 1, false), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "master_grads[0] is NULL");
    assert_int_equal(ampc_loss_scaler_unscale(NULL, &f32, &master, 1, false),
                     AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "scaler");
    assert_int_equal(ampc_loss_scaler_unscale(s, &f32, &master, -1, false),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "count is -1");
    ampc_tensor *part = ampc_tensor_narrow(master, 0, 1, 3), *head = ampc_tensor_narrow(f32, 0, 0, 3);
    ampc_tensor *shifted = ampc_tensor_narrow(master, 0, 0, 3);
    assert_int_equal(ampc_loss_scaler_unscale(s, &part, &shifted, 1, false),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "partly overlaps");
    assert_int_equal(ampc_loss_scaler_unscale(s, nulls, nulls, 1, false), AMPC_OK); /* skipped */
    assert_int_equal(ampc_loss_scaler_unscale(s, &head, &shifted, 1, false), AMPC_OK);
    assert_false(ampc_loss_scaler_had_overflow(s));
    ampc_tensor_free(part);
    ampc_tensor_free(head);
    ampc_tensor_free(shifted);
    ampc_tensor_free(f32);
    ampc_tensor_free(f16);
    ampc_tensor_free(f64);
    ampc_tensor_free(longer);
    ampc_tensor_free(master);
    ampc_loss_scaler_free(s);
}

int main(void)
{
    int skip = ampc_test_require_isa();
    if (skip) return skip;
    reference = ampc_unscale_kernels_at(AMPC_ISA_SCALAR);
    active = ampc_unscale_kernels_active();
    printf("comparing the %s unscale path with the scalar reference\n",
           ampc_isa_name(ampc_unscale_path()));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_kernels_match_reference_on_every_tail_and_special_value),
        cmocka_unit_test(test_kernels_write_in_place),
        cmocka_unit_test(test_unscale_matches_float64_for_each_source_dtype),
        cmocka_unit_test(test_unscale_in_place_when_param_is_its_own_master),
        cmocka_unit_test(test_accumulate_sums_passes_with_different_scales),
        cmocka_unit_test(test_own_master_accumulates_through_stash_even_at_static_scale_one),
        cmocka_unit_test(test_views_into_one_flat_block_and_thread_counts_give_same_bits),
        cmocka_unit_test(test_inf_and_nan_detected_anywhere),
        cmocka_unit_test(test_overflow_in_result_only_is_detected),
        cmocka_unit_test(test_apex_no_op_cases),
        cmocka_unit_test(test_bad_arguments_fail_and_touch_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
