/* The gradient-check harness; see gradcheck.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "gradcheck.h"

#include <math.h>
#include <stdlib.h>

#define MAX_INPUTS 16
#define UPSTREAM_SEED 0x5eedu

static void require(bool condition, const char *name, const char *what)
{
    if (!condition)
        fail_msg("%s: %s (error: %s \"%s\")", name, what,
                 ampc_status_name(ampc_error_status()), ampc_error_message());
}

/* A contiguous F64 copy's data: the caller frees the returned tensor. */
static ampc_tensor *as_f64(const ampc_tensor *tensor, const double **data)
{
    ampc_tensor *copy = ampc_tensor_cast(tensor, AMPC_F64);
    *data = copy ? ampc_tensor_data(copy) : NULL;
    return copy;
}

static void index_of(const ampc_tensor *tensor, int64_t position, int64_t *index)
{
    for (int dim = ampc_tensor_ndim(tensor) - 1; dim >= 0; dim--) {
        int64_t size = ampc_tensor_dim(tensor, dim);
        index[dim] = position % size;
        position /= size;
    }
}

/* sum(op(inputs) * upstream), with grad mode off. */
static double weighted_output(const gradcheck_case *check, const double *upstream)
{
    bool previous = ampc_grad_set_enabled(false);
    ampc_tensor *out = check->op(check->inputs, check->context);
    ampc_grad_set_enabled(previous);
    require(out != NULL, check->name, "the op failed on a perturbed input");
    const double *values;
    ampc_tensor *values_tensor = as_f64(out, &values);
    double total = 0;
    for (int64_t position = 0; position < ampc_tensor_numel(out); position++)
        total += values[position] * upstream[position];
    ampc_tensor_free(values_tensor);
    ampc_tensor_free(out);
    return total;
}

static double numeric_gradient(const gradcheck_case *check, ampc_tensor *input,
                               const int64_t *index, double eps, const double *upstream)
{
    double original;
    assert_int_equal(ampc_tensor_get(input, index, &original), AMPC_OK);
    assert_int_equal(ampc_tensor_set(input, index, original + eps), AMPC_OK);
    double plus = weighted_output(check, upstream);
    assert_int_equal(ampc_tensor_set(input, index, original - eps), AMPC_OK);
    double minus = weighted_output(check, upstream);
    assert_int_equal(ampc_tensor_set(input, index, original), AMPC_OK);
    return (plus - minus) / (2 * eps);
}

static void check_input(const gradcheck_case *check, int which, const double *upstream)
{
    ampc_tensor *input = check->inputs[which];
    double eps = check->eps > 0 ? check->eps : 1e-6;
    double atol = check->atol > 0 ? check->atol : 1e-6;
    double rtol = check->rtol > 0 ? check->rtol : 1e-5;
    const ampc_tensor *analytic = ampc_tensor_grad(input);
    ampc_error_clear();
    int64_t index[AMPC_MAX_DIMS];
    for (int64_t position = 0; position < ampc_tensor_numel(input); position++) {
        index_of(input, position, index);
        double expected = numeric_gradient(check, input, index, eps, upstream);
        double got = 0;
        if (analytic) assert_int_equal(ampc_tensor_get(analytic, index, &got), AMPC_OK);
        if (!(fabs(got - expected) <= atol + rtol * fabs(expected)))
            fail_msg("%s: input %d element %lld: analytic gradient %.10g, numeric %.10g",
                     check->name, which, (long long)position, got, expected);
    }
}

static void clear_grads(const gradcheck_case *check)
{
    for (int which = 0; which < check->num_inputs; which++)
        if (check->inputs[which]) ampc_tensor_zero_grad(check->inputs[which], true);
}

void gradcheck_assert(const gradcheck_case *check)
{
    ampc_error_clear();
    clear_grads(check);
    ampc_tensor *out = check->op(check->inputs, check->context);
    require(out != NULL, check->name, "the op failed");
    require(ampc_tensor_requires_grad(out), check->name, "the result does not require grad");
    ampc_tensor *upstream = gradcheck_uniform(UPSTREAM_SEED, ampc_tensor_ndim(out),
                                              ampc_tensor_shape(out), -1, 1, false);
    require(ampc_backward(out, upstream, false) == AMPC_OK, check->name, "backward failed");
    const double *upstream_values = ampc_tensor_data(upstream);
    for (int which = 0; which < check->num_inputs; which++)
        if (check->inputs[which] && ampc_tensor_requires_grad(check->inputs[which]))
            check_input(check, which, upstream_values);
    clear_grads(check);
    ampc_tensor_free(upstream);
    ampc_tensor_free(out);
}

/* --- dtype comparison -------------------------------------------------------------------- */

/* max |value - reference| / max(1, max |reference|). */
static double scaled_error(const ampc_tensor *value, const ampc_tensor *reference)
{
    const double *got, *expected;
    ampc_tensor *got_tensor = as_f64(value, &got), *expected_tensor = as_f64(reference, &expected);
    double worst = 0, scale = 1;
    for (int64_t position = 0; position < ampc_tensor_numel(reference); position++) {
        double difference = fabs(got[position] - expected[position]);
        if (isnan(got[position]) != isnan(expected[position])) difference = INFINITY;
        if (!isnan(expected[position])) {
            if (difference > worst) worst = difference;
            if (fabs(expected[position]) > scale) scale = fabs(expected[position]);
        }
    }
    ampc_tensor_free(got_tensor);
    ampc_tensor_free(expected_tensor);
    return worst / scale;
}

/* The op's result and every checked input's gradient, for one set of inputs. */
typedef struct run_result {
    ampc_tensor *out;
    ampc_tensor *grads[MAX_INPUTS];
} run_result;

static run_result run_with_backward(const gradcheck_case *check, ampc_tensor *const *inputs,
                                    const ampc_tensor *upstream)
{
    run_result result = {.out = check->op(inputs, check->context)};
    require(result.out != NULL, check->name, "the op failed");
    require(ampc_backward(result.out, upstream, false) == AMPC_OK, check->name,
            "backward failed");
    for (int which = 0; which < check->num_inputs; which++) {
        ampc_tensor *grad = inputs[which] ? ampc_tensor_grad(inputs[which]) : NULL;
        result.grads[which] = grad ? ampc_tensor_clone(grad) : NULL;
        if (inputs[which]) ampc_tensor_zero_grad(inputs[which], true);
    }
    return result;
}

static void free_result(run_result *result, int num_inputs)
{
    ampc_tensor_free(result->out);
    for (int which = 0; which < num_inputs; which++) ampc_tensor_free(result->grads[which]);
}

static void compare_runs(const gradcheck_case *check, ampc_dtype dtype,
                         dtype_tolerance tolerance, const run_result *low,
                         const run_result *reference)
{
    const char *name = ampc_dtype_name(dtype);
    if (ampc_tensor_dtype(low->out) != dtype)
        fail_msg("%s: %s inputs gave a %s result", check->name, name,
                 ampc_dtype_name(ampc_tensor_dtype(low->out)));
    double error = scaled_error(low->out, reference->out);
    if (!(error <= tolerance.forward))
        fail_msg("%s: %s forward error %.3g exceeds %.3g", check->name, name, error,
                 tolerance.forward);
    for (int which = 0; which < check->num_inputs; which++) {
        if (!reference->grads[which]) continue;
        if (!low->grads[which]) fail_msg("%s: %s input %d got no gradient", check->name, name, which);
        if (ampc_tensor_dtype(low->grads[which]) != dtype)
            fail_msg("%s: %s input %d got a %s gradient", check->name, name, which,
                     ampc_dtype_name(ampc_tensor_dtype(low->grads[which])));
        error = scaled_error(low->grads[which], reference->grads[which]);
        if (!(error <= tolerance.backward))
            fail_msg("%s: %s gradient of input %d: error %.3g exceeds %.3g", check->name,
                     name, which, error, tolerance.backward);
    }
}

/* A fixed random upstream gradient of the op's result shape. */
static ampc_tensor *upstream_for(const gradcheck_case *check)
{
    bool previous = ampc_grad_set_enabled(false);
    ampc_tensor *out = check->op(check->inputs, check->context);
    ampc_grad_set_enabled(previous);
    require(out != NULL, check->name, "the op failed");
    ampc_tensor *upstream = gradcheck_uniform(UPSTREAM_SEED, ampc_tensor_ndim(out),
                                              ampc_tensor_shape(out), -1, 1, false);
    ampc_tensor_free(out);
    return upstream;
}

void dtype_check_assert(const gradcheck_case *check, ampc_dtype dtype,
                        dtype_tolerance tolerance)
{
    assert_true(check->num_inputs <= MAX_INPUTS);
    ampc_error_clear();
    clear_grads(check);
    ampc_tensor *cast[MAX_INPUTS] = {0};
    bool made[MAX_INPUTS] = {0};
    for (int which = 0; which < check->num_inputs; which++) {
        ampc_tensor *input = check->inputs[which];
        made[which] = input && ampc_tensor_dtype(input) == AMPC_F64;
        cast[which] = made[which] ? ampc_tensor_cast(input, dtype) : input;
        if (made[which] && ampc_tensor_requires_grad(input))
            assert_int_equal(ampc_tensor_set_requires_grad(cast[which], true), AMPC_OK);
    }
    ampc_tensor *upstream = upstream_for(check);
    run_result reference = run_with_backward(check, check->inputs, upstream);
    run_result low = run_with_backward(check, cast, upstream);
    compare_runs(check, dtype, tolerance, &low, &reference);
    free_result(&low, check->num_inputs);
    free_result(&reference, check->num_inputs);
    ampc_tensor_free(upstream);
    for (int which = 0; which < check->num_inputs; which++)
        if (made[which]) ampc_tensor_free(cast[which]);
}

dtype_tolerance dtype_tolerance_default(ampc_dtype dtype)
{
    switch (dtype) {
    case AMPC_F16: return (dtype_tolerance){.forward = 2e-3, .backward = 4e-3};
    case AMPC_BF16: return (dtype_tolerance){.forward = 1.6e-2, .backward = 3.2e-2};
    case AMPC_F32: return (dtype_tolerance){.forward = 2e-6, .backward = 4e-6};
    default: return (dtype_tolerance){.forward = 1e-12, .backward = 1e-12};
    }
}

void gradcheck_all_dtypes_assert(const gradcheck_case *check)
{
    gradcheck_assert(check);
    const ampc_dtype dtypes[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
    for (int which = 0; which < 3; which++)
        dtype_check_assert(check, dtypes[which], dtype_tolerance_default(dtypes[which]));
}

/* --- inputs ------------------------------------------------------------------------------- */

ampc_tensor *gradcheck_uniform(uint64_t seed, int ndim, const int64_t *shape, double low,
                               double high, bool requires_grad)
{
    ampc_generator *generator = ampc_generator_new(seed);
    ampc_tensor *tensor = ampc_tensor_uniform(generator, AMPC_F64, ndim, shape, low, high);
    ampc_generator_free(generator);
    assert_non_null(tensor);
    if (requires_grad) assert_int_equal(ampc_tensor_set_requires_grad(tensor, true), AMPC_OK);
    return tensor;
}

ampc_tensor *gradcheck_noncontiguous(const ampc_tensor *tensor, bool requires_grad)
{
    int ndim = ampc_tensor_ndim(tensor);
    ampc_tensor *result;
    if (ndim >= 2) {
        /* Storage laid out with the last two dims swapped, seen through a transpose. */
        ampc_tensor *swapped = ampc_tensor_transpose(tensor, -1, -2);
        ampc_tensor *storage = ampc_tensor_contiguous(swapped);
        result = ampc_tensor_transpose(storage, -1, -2);
        ampc_tensor_free(swapped);
        ampc_tensor_free(storage);
    } else {
        /* Every other element of a buffer twice as long. */
        int64_t length = ndim == 1 ? 2 * ampc_tensor_dim(tensor, 0) : 2;
        ampc_tensor *storage = ampc_tensor_zeros(ampc_tensor_dtype(tensor), 1, &length);
        ampc_tensor *strided = ampc_tensor_slice(storage, 0, 0, length, 2);
        result = ndim == 1 ? strided : ampc_tensor_view(strided, 0, NULL);
        if (ndim == 0) ampc_tensor_free(strided);
        ampc_tensor_free(storage);
        assert_int_equal(ampc_tensor_copy(result, tensor), AMPC_OK);
    }
    assert_non_null(result);
    if (requires_grad) assert_int_equal(ampc_tensor_set_requires_grad(result, true), AMPC_OK);
    return result;
}
