/* Tests for src/ops/loss.c and loss_pointwise.c: cross_entropy (every reduction, spatial and
 * unbatched shapes, ignore_index, label smoothing, I32 targets), nll_loss, mse_loss,
 * binary_cross_entropy and its logits form: gradients against finite differences (to both
 * inputs where PyTorch has both), F32/F16/BF16 against F64, values against float64 formulas
 * written here, accuracy on F16 logits, clamping and stability at the extremes, and every
 * error case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include <ampc/ampc.h>
#include <ampc/autograd.h>
#include <ampc/ops_loss.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"

typedef enum loss_kind { CROSS_ENTROPY, NLL, MSE, BCE, BCE_LOGITS } loss_kind;

static const char *const loss_names[] = {"cross_entropy", "nll_loss", "mse_loss",
                                         "binary_cross_entropy",
                                         "binary_cross_entropy_with_logits"};

typedef struct loss_case {
    loss_kind kind;
    ampc_reduction reduction;
    int64_t ignore_index;
    double label_smoothing;
} loss_case;

static ampc_tensor *run_loss(ampc_tensor *const *inputs, const void *context)
{
    const loss_case *c = context;
    ampc_cross_entropy_options options = {.reduction = c->reduction,
                                          .ignore_index = c->ignore_index,
                                          .label_smoothing = c->label_smoothing};
    switch (c->kind) {
    case CROSS_ENTROPY: return ampc_cross_entropy(inputs[0], inputs[1], &options);
    case NLL: return ampc_nll_loss(inputs[0], inputs[1], c->reduction, c->ignore_index);
    case MSE: return ampc_mse_loss(inputs[0], inputs[1], c->reduction);
    case BCE: return ampc_binary_cross_entropy(inputs[0], inputs[1], c->reduction);
    case BCE_LOGITS:
        return ampc_binary_cross_entropy_with_logits(inputs[0], inputs[1], c->reduction);
    }
    return NULL;
}

/* Losses chain a reduction after a per-element formula: a little more rounding than one op. */
static dtype_tolerance loss_tolerance(ampc_dtype dtype)
{
    dtype_tolerance tolerance = dtype_tolerance_default(dtype);
    tolerance.forward *= 2;
    tolerance.backward *= 2;
    return tolerance;
}

static void check_loss(const loss_case *c, ampc_tensor *input, ampc_tensor *target,
                       bool dtypes)
{
    ampc_tensor *inputs[] = {input, target};
    gradcheck_case check = {.name = loss_names[c->kind], .op = run_loss, .context = c,
                            .num_inputs = 2, .inputs = inputs};
    gradcheck_assert(&check);
    if (!dtypes) return;
    dtype_check_assert(&check, AMPC_F32, loss_tolerance(AMPC_F32));
    dtype_check_assert(&check, AMPC_F16, loss_tolerance(AMPC_F16));
    dtype_check_assert(&check, AMPC_BF16, loss_tolerance(AMPC_BF16));
}

static ampc_tensor *class_indices(ampc_dtype dtype, int ndim, const int64_t *shape,
                                  const int64_t *values)
{
    ampc_tensor *wide = ampc_tensor_from_data(values, AMPC_I64, ndim, shape);
    ampc_tensor *indices = ampc_tensor_cast(wide, dtype);
    ampc_tensor_free(wide);
    assert_non_null(indices);
    return indices;
}

static const ampc_reduction reductions[] = {AMPC_REDUCTION_MEAN, AMPC_REDUCTION_SUM,
                                            AMPC_REDUCTION_NONE};

/* --- cross_entropy and nll_loss ------------------------------------------------------------ */

static void test_cross_entropy_gradchecks_every_reduction_with_ignore_and_smoothing(void **state)
{
    (void)state;
    ampc_tensor *logits = gradcheck_uniform(21, 2, (int64_t[]){4, 5}, -3, 3, true);
    ampc_tensor *target = class_indices(AMPC_I64, 1, (int64_t[]){4}, (int64_t[]){2, -100, 0, 4});
    double smoothings[] = {0, 0.1};
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 2; s++) {
            loss_case c = {.kind = CROSS_ENTROPY, .reduction = reductions[r],
                           .ignore_index = -100, .label_smoothing = smoothings[s]};
            check_loss(&c, logits, target, true);
        }
    ampc_tensor_free(target);
    ampc_tensor_free(logits);
}

static void test_cross_entropy_gradchecks_spatial_unbatched_and_strided_logits(void **state)
{
    (void)state;
    /* (N, C, d1, d2) with (N, d1, d2) I32 targets, one of them ignored (ignore_index 1). */
    ampc_tensor *spatial = gradcheck_uniform(22, 4, (int64_t[]){2, 3, 2, 2}, -2, 2, true);
    ampc_tensor *spatial_target = class_indices(
        AMPC_I32, 3, (int64_t[]){2, 2, 2}, (int64_t[]){0, 1, 2, 2, 1, 0, 0, 2});
    /* (C) with a 0-d target. */
    ampc_tensor *single = gradcheck_uniform(23, 1, (int64_t[]){6}, -2, 2, true);
    ampc_tensor *single_target = class_indices(AMPC_I64, 0, NULL, (int64_t[]){3});
    /* (N, C) seen through a transpose. */
    ampc_tensor *dense = gradcheck_uniform(24, 2, (int64_t[]){5, 3}, -2, 2, false);
    ampc_tensor *strided = gradcheck_noncontiguous(dense, true);
    ampc_tensor *strided_target = class_indices(
        AMPC_I64, 1, (int64_t[]){ampc_tensor_dim(strided, 0)}, (int64_t[]){1, 0, 2, 1, 0});
    for (int r = 0; r < 3; r++) {
        loss_case c = {.kind = CROSS_ENTROPY, .reduction = reductions[r], .ignore_index = 1,
                       .label_smoothing = 0.2};
        check_loss(&c, spatial, spatial_target, r == 0);
        c.ignore_index = -100;
        check_loss(&c, single, single_target, false);
        check_loss(&c, strided, strided_target, false);
    }
    ampc_tensor *tensors[] = {spatial, spatial_target, single, single_target, dense, strided,
                              strided_target};
    for (size_t k = 0; k < sizeof tensors / sizeof *tensors; k++) ampc_tensor_free(tensors[k]);
}

/* PyTorch's rule: the mean divides both the nll and the smoothing term by the number of
 * targets that are not ignored. */
static void test_cross_entropy_matches_the_float64_formula(void **state)
{
    (void)state;
    int64_t n = 5, classes = 4;
    ampc_tensor *logits = gradcheck_uniform(25, 2, (int64_t[]){n, classes}, -4, 4, false);
    int64_t targets[] = {3, 0, -100, 1, 3};
    ampc_tensor *target = class_indices(AMPC_I64, 1, &n, targets);
    const double *x = ampc_tensor_data(logits);
    double smoothing = 0.25, total = 0, counted = 0, per_sample[5];
    for (int64_t i = 0; i < n; i++) {
        per_sample[i] = 0;
        if (targets[i] == -100) continue;
        double lse = 0, sum_log_p = 0;
        for (int64_t c = 0; c < classes; c++) lse += exp(x[i * classes + c]);
        lse = log(lse);
        for (int64_t c = 0; c < classes; c++) sum_log_p += x[i * classes + c] - lse;
        per_sample[i] = (1 - smoothing) * (lse - x[i * classes + targets[i]]) -
                        smoothing / (double)classes * sum_log_p;
        total += per_sample[i];
        counted++;
    }
    double expected[] = {total / counted, total};
    for (int r = 0; r < 3; r++) {
        ampc_cross_entropy_options options = ampc_cross_entropy_default_options();
        options.reduction = reductions[r];
        options.label_smoothing = smoothing;
        ampc_tensor *loss = ampc_cross_entropy(logits, target, &options);
        assert_non_null(loss);
        if (reductions[r] == AMPC_REDUCTION_NONE) {
            assert_int_equal(ampc_tensor_ndim(loss), 1);
            for (int64_t i = 0; i < n; i++)
                assert_true(fabs(value_at_position(loss, i) - per_sample[i]) < 1e-13);
        } else {
            assert_int_equal(ampc_tensor_ndim(loss), 0);
            assert_true(fabs(value_at_position(loss, 0) - expected[r]) < 1e-13);
        }
        ampc_tensor_free(loss);
    }
    ampc_tensor_free(target);
    ampc_tensor_free(logits);
}

/* fp32 accumulation: a loss over 64 x 1000 F16 logits is as accurate as the F16 result can
 * hold, measured against float64 on the same (F16-rounded) logits. */
static void test_cross_entropy_on_f16_logits_stays_accurate(void **state)
{
    (void)state;
    int64_t n = 64, classes = 1000;
    ampc_tensor *wide = gradcheck_uniform(26, 2, (int64_t[]){n, classes}, -8, 8, false);
    ampc_tensor *half = ampc_tensor_cast(wide, AMPC_F16);
    ampc_tensor *rounded = ampc_tensor_cast(half, AMPC_F64);
    int64_t targets[64];
    for (int64_t i = 0; i < n; i++) targets[i] = (i * 37) % classes;
    ampc_tensor *target = class_indices(AMPC_I64, 1, &n, targets);
    ampc_tensor *loss16 = ampc_cross_entropy(half, target, NULL);
    ampc_tensor *loss64 = ampc_cross_entropy(rounded, target, NULL);
    assert_int_equal(ampc_tensor_dtype(loss16), AMPC_F16);
    double expected = value_at_position(loss64, 0);
    assert_true(fabs(value_at_position(loss16, 0) - expected) <= expected * 1e-3);
    ampc_tensor *tensors[] = {wide, half, rounded, target, loss16, loss64};
    for (size_t k = 0; k < sizeof tensors / sizeof *tensors; k++) ampc_tensor_free(tensors[k]);
}

/* Per-sample losses are summed over fixed chunks: the same bits for any thread count. */
static void test_cross_entropy_does_not_depend_on_the_thread_count(void **state)
{
    (void)state;
    int previous = ampc_num_threads();
    int64_t n = 2048, classes = 50;
    ampc_tensor *wide = gradcheck_uniform(28, 2, (int64_t[]){n, classes}, -4, 4, false);
    ampc_tensor *logits = ampc_tensor_cast(wide, AMPC_F32);
    ampc_tensor *target = ampc_tensor_zeros(AMPC_I64, 1, &n);
    for (int64_t i = 0; i < n; i++) ((int64_t *)ampc_tensor_data(target))[i] = i % classes;
    float results[2];
    for (int run = 0; run < 2; run++) {
        assert_int_equal(ampc_set_num_threads(run == 0 ? 1 : 3), AMPC_OK);
        ampc_tensor *loss = ampc_cross_entropy(logits, target, NULL);
        results[run] = *(const float *)ampc_tensor_data(loss);
        ampc_tensor_free(loss);
    }
    assert_int_equal(ampc_set_num_threads(previous), AMPC_OK);
    assert_memory_equal(&results[0], &results[1], sizeof results[0]);
    ampc_tensor_free(target);
    ampc_tensor_free(logits);
    ampc_tensor_free(wide);
}

static void test_mean_over_only_ignored_targets_is_nan(void **state)
{
    (void)state;
    ampc_tensor *logits = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, 3});
    ampc_tensor *target = class_indices(AMPC_I64, 1, (int64_t[]){2}, (int64_t[]){-100, -100});
    ampc_tensor *loss = ampc_cross_entropy(logits, target, NULL);
    assert_true(isnan(value_at_position(loss, 0)));
    ampc_tensor_free(loss);
    ampc_tensor_free(target);
    ampc_tensor_free(logits);
}

static void test_nll_loss_gradchecks_and_picks_the_target_log_probability(void **state)
{
    (void)state;
    ampc_tensor *log_probs = gradcheck_uniform(27, 3, (int64_t[]){3, 4, 2}, -3, 0, true);
    ampc_tensor *target = class_indices(AMPC_I64, 2, (int64_t[]){3, 2},
                                        (int64_t[]){0, 3, 2, 7, 1, 1});
    for (int r = 0; r < 3; r++) {
        loss_case c = {.kind = NLL, .reduction = reductions[r], .ignore_index = 7};
        check_loss(&c, log_probs, target, true);
    }
    const double *x = ampc_tensor_data(log_probs);
    double expected = -(x[0 * 8 + 0 * 2 + 0] + x[0 * 8 + 3 * 2 + 1] + x[1 * 8 + 2 * 2 + 0] +
                        x[2 * 8 + 1 * 2 + 0] + x[2 * 8 + 1 * 2 + 1]) / 5;
    ampc_tensor *loss = ampc_nll_loss(log_probs, target, AMPC_REDUCTION_MEAN, 7);
    assert_true(fabs(value_at_position(loss, 0) - expected) < 1e-14);
    ampc_tensor_free(loss);
    ampc_tensor_free(target);
    ampc_tensor_free(log_probs);
}

static void test_class_loss_errors_name_the_problem(void **state)
{
    (void)state;
    ampc_tensor *logits = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){3, 5});
    ampc_tensor *float_target = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){3});
    ampc_tensor *out_of_range = class_indices(AMPC_I64, 1, (int64_t[]){3}, (int64_t[]){0, 7, 1});
    ampc_tensor *negative = class_indices(AMPC_I32, 1, (int64_t[]){3}, (int64_t[]){0, 1, -1});
    ampc_tensor *wrong_shape = class_indices(AMPC_I64, 1, (int64_t[]){2}, (int64_t[]){0, 1});
    ampc_tensor *scalar = ampc_tensor_zeros(AMPC_F32, 0, NULL);
    assert_null(ampc_cross_entropy(logits, float_target, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "target dtype F32; expected I64 or I32 class indices");
    assert_null(ampc_cross_entropy(logits, out_of_range, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "target[1] is 7; expected a class index from 0 to 4 (C = 5)");
    assert_null(ampc_nll_loss(logits, negative, AMPC_REDUCTION_SUM, -100));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "target[2] is -1");
    assert_null(ampc_cross_entropy(logits, wrong_shape, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "target has shape [2] and logits has shape [3, 5]");
    assert_null(ampc_nll_loss(scalar, wrong_shape, AMPC_REDUCTION_MEAN, -100));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "log_probs has shape []");
    assert_null(ampc_cross_entropy(NULL, wrong_shape, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "logits");
    assert_null(ampc_cross_entropy(logits, NULL, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "target");
    ampc_cross_entropy_options options = ampc_cross_entropy_default_options();
    options.label_smoothing = 1.5;
    assert_null(ampc_cross_entropy(logits, negative, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "label_smoothing is 1.5");
    options = ampc_cross_entropy_default_options();
    options.reduction = AMPC_REDUCTION_COUNT;
    assert_null(ampc_cross_entropy(logits, negative, &options));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "reduction is 3");
    ampc_tensor *tensors[] = {logits, float_target, out_of_range, negative, wrong_shape, scalar};
    for (size_t k = 0; k < sizeof tensors / sizeof *tensors; k++) ampc_tensor_free(tensors[k]);
}

/* --- pointwise losses ---------------------------------------------------------------------- */

static void test_pointwise_losses_gradcheck_both_inputs_for_every_reduction(void **state)
{
    (void)state;
    int64_t shape[] = {3, 4};
    ampc_tensor *values = gradcheck_uniform(31, 2, shape, -2, 2, true);
    ampc_tensor *probs = gradcheck_uniform(32, 2, shape, 0.05, 0.95, true);
    ampc_tensor *target = gradcheck_uniform(33, 2, shape, 0, 1, true);
    for (int r = 0; r < 3; r++) {
        loss_case mse = {.kind = MSE, .reduction = reductions[r]};
        loss_case bce = {.kind = BCE, .reduction = reductions[r]};
        loss_case logits = {.kind = BCE_LOGITS, .reduction = reductions[r]};
        check_loss(&mse, values, target, true);
        check_loss(&bce, probs, target, true);
        check_loss(&logits, values, target, true);
    }
    ampc_tensor_free(values);
    ampc_tensor_free(probs);
    ampc_tensor_free(target);
}

static void test_pointwise_losses_gradcheck_strided_and_zero_dim_inputs(void **state)
{
    (void)state;
    ampc_tensor *dense = gradcheck_uniform(34, 2, (int64_t[]){4, 3}, 0.1, 0.9, false);
    ampc_tensor *strided = gradcheck_noncontiguous(dense, true);
    ampc_tensor *target = gradcheck_uniform(35, 2, (int64_t[]){4, 3}, 0, 1, true);
    ampc_tensor *scalar = gradcheck_uniform(36, 0, NULL, 0.2, 0.8, true);
    ampc_tensor *scalar_target = gradcheck_uniform(37, 0, NULL, 0, 1, true);
    for (int kind = MSE; kind <= BCE_LOGITS; kind++) {
        loss_case c = {.kind = (loss_kind)kind, .reduction = AMPC_REDUCTION_MEAN};
        check_loss(&c, strided, target, false);
        check_loss(&c, scalar, scalar_target, false);
    }
    ampc_tensor *tensors[] = {dense, strided, target, scalar, scalar_target};
    for (size_t k = 0; k < sizeof tensors / sizeof *tensors; k++) ampc_tensor_free(tensors[k]);
}

static void test_pointwise_losses_match_float64_formulas(void **state)
{
    (void)state;
    int64_t n = 7;
    ampc_tensor *x = gradcheck_uniform(38, 1, &n, -3, 3, false);
    ampc_tensor *p = gradcheck_uniform(39, 1, &n, 0.01, 0.99, false);
    ampc_tensor *y = gradcheck_uniform(40, 1, &n, 0, 1, false);
    const double *xv = ampc_tensor_data(x), *pv = ampc_tensor_data(p), *yv = ampc_tensor_data(y);
    double mse = 0, bce = 0, logits = 0;
    for (int64_t k = 0; k < n; k++) {
        mse += (xv[k] - yv[k]) * (xv[k] - yv[k]);
        bce += -(yv[k] * log(pv[k]) + (1 - yv[k]) * log(1 - pv[k]));
        double sigmoid = 1 / (1 + exp(-xv[k]));
        logits += -(yv[k] * log(sigmoid) + (1 - yv[k]) * log(1 - sigmoid));
    }
    ampc_tensor *results[] = {ampc_mse_loss(x, y, AMPC_REDUCTION_SUM),
                              ampc_binary_cross_entropy(p, y, AMPC_REDUCTION_MEAN),
                              ampc_binary_cross_entropy_with_logits(x, y, AMPC_REDUCTION_SUM)};
    double expected[] = {mse, bce / (double)n, logits};
    for (int k = 0; k < 3; k++) {
        assert_true(fabs(value_at_position(results[k], 0) - expected[k]) < 1e-13);
        ampc_tensor_free(results[k]);
    }
    ampc_tensor_free(x);
    ampc_tensor_free(p);
    ampc_tensor_free(y);
}

/* PyTorch clamps each log at -100, so a certain wrong answer costs 100, not inf; the logits
 * form stays finite where exp overflows. */
static void test_bce_clamps_the_log_and_the_logits_form_is_stable(void **state)
{
    (void)state;
    ampc_tensor *p = ampc_tensor_from_data((float[]){0, 1, 0, 1}, AMPC_F32, 1, (int64_t[]){4});
    ampc_tensor *y = ampc_tensor_from_data((float[]){1, 0, 0, 1}, AMPC_F32, 1, (int64_t[]){4});
    ampc_tensor *x = ampc_tensor_from_data((float[]){1000, -1000, 100, -100}, AMPC_F32, 1,
                                           (int64_t[]){4});
    ampc_tensor *bce = ampc_binary_cross_entropy(p, y, AMPC_REDUCTION_NONE);
    assert_values(bce, (double[]){100, 100, 0, 0}, 4);
    ampc_tensor *wrong = ampc_tensor_from_data((float[]){0, 1, 0, 1}, AMPC_F32, 1,
                                               (int64_t[]){4});
    ampc_tensor *logits = ampc_binary_cross_entropy_with_logits(x, wrong, AMPC_REDUCTION_NONE);
    double expected[] = {1000, 1000, 100, 100};
    for (int k = 0; k < 4; k++) {
        double value = value_at_position(logits, k);
        assert_true(isfinite(value));
        assert_true(fabs(value - expected[k]) < 1e-3);
    }
    ampc_tensor *tensors[] = {p, y, x, wrong, bce, logits};
    for (size_t k = 0; k < sizeof tensors / sizeof *tensors; k++) ampc_tensor_free(tensors[k]);
}

static void test_mixed_dtypes_promote_and_gradients_keep_each_dtype(void **state)
{
    (void)state;
    ampc_tensor *input = ampc_tensor_full(AMPC_F16, 1, (int64_t[]){3}, 0.5);
    ampc_tensor *target = ampc_tensor_full(AMPC_F32, 1, (int64_t[]){3}, 0.25);
    assert_int_equal(ampc_tensor_set_requires_grad(input, true), AMPC_OK);
    assert_int_equal(ampc_tensor_set_requires_grad(target, true), AMPC_OK);
    ampc_tensor *loss = ampc_mse_loss(input, target, AMPC_REDUCTION_SUM);
    assert_int_equal(ampc_tensor_dtype(loss), AMPC_F32);
    assert_values(loss, (double[]){3 * 0.0625}, 1);
    assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(input)), AMPC_F16);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(target)), AMPC_F32);
    assert_values(ampc_tensor_grad(input), (double[]){0.5, 0.5, 0.5}, 3);
    assert_values(ampc_tensor_grad(target), (double[]){-0.5, -0.5, -0.5}, 3);
    ampc_tensor_free(loss);
    ampc_tensor_free(input);
    ampc_tensor_free(target);
}

static void test_pointwise_loss_errors_name_the_problem(void **state)
{
    (void)state;
    ampc_tensor *a = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){2, 3});
    ampc_tensor *b = ampc_tensor_zeros(AMPC_F32, 2, (int64_t[]){3, 2});
    ampc_tensor *indices = ampc_tensor_zeros(AMPC_I64, 2, (int64_t[]){2, 3});
    ampc_tensor *outside = ampc_tensor_full(AMPC_F32, 2, (int64_t[]){2, 3}, 1.5);
    assert_null(ampc_mse_loss(a, b, AMPC_REDUCTION_MEAN));
    expect_error(AMPC_ERR_INVALID_ARGUMENT,
                 "input has shape [2, 3] and target has shape [3, 2]; expected the same shape");
    assert_null(ampc_binary_cross_entropy_with_logits(a, indices, AMPC_REDUCTION_MEAN));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "target");
    assert_null(ampc_binary_cross_entropy(outside, a, AMPC_REDUCTION_SUM));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "probs element 0 (row-major) is 1.5");
    assert_null(ampc_mse_loss(a, a, (ampc_reduction)7));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "reduction is 7");
    assert_null(ampc_mse_loss(NULL, a, AMPC_REDUCTION_SUM));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "input");
    ampc_tensor *tensors[] = {a, b, indices, outside};
    for (size_t k = 0; k < sizeof tensors / sizeof *tensors; k++) ampc_tensor_free(tensors[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cross_entropy_gradchecks_every_reduction_with_ignore_and_smoothing),
        cmocka_unit_test(test_cross_entropy_gradchecks_spatial_unbatched_and_strided_logits),
        cmocka_unit_test(test_cross_entropy_matches_the_float64_formula),
        cmocka_unit_test(test_cross_entropy_on_f16_logits_stays_accurate),
        cmocka_unit_test(test_cross_entropy_does_not_depend_on_the_thread_count),
        cmocka_unit_test(test_mean_over_only_ignored_targets_is_nan),
        cmocka_unit_test(test_nll_loss_gradchecks_and_picks_the_target_log_probability),
        cmocka_unit_test(test_class_loss_errors_name_the_problem),
        cmocka_unit_test(test_pointwise_losses_gradcheck_both_inputs_for_every_reduction),
        cmocka_unit_test(test_pointwise_losses_gradcheck_strided_and_zero_dim_inputs),
        cmocka_unit_test(test_pointwise_losses_match_float64_formulas),
        cmocka_unit_test(test_bce_clamps_the_log_and_the_logits_form_is_stable),
        cmocka_unit_test(test_mixed_dtypes_promote_and_gradients_keep_each_dtype),
        cmocka_unit_test(test_pointwise_loss_errors_name_the_problem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
