/* Tests for src/ops/attention.c and src/kernels/attention_softmax.c: scaled dot-product
 * attention, causal and not, L == S and L != S, against finite differences, against a float64
 * reference written here, in F32, F16 and BF16 against F64, and its refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include <ampc/ampc.h>
#include <ampc/ops_linalg.h>

#include "../tensor/tensor_testing.h"
#include "gradcheck.h"
#include "kernels/attention_kernels.h"

typedef struct attention_context {
    bool is_causal;
    double scale;
} attention_context;

static ampc_tensor *attention_op(ampc_tensor *const *inputs, const void *context)
{
    const attention_context *c = context;
    return ampc_scaled_dot_product_attention(inputs[0], inputs[1], inputs[2], c->is_causal,
                                             c->scale);
}

/* Random q (..., L, E), k (..., S, E), v (..., S, Ev) with these leading dims. */
typedef struct attention_inputs {
    ampc_tensor *q, *k, *v;
} attention_inputs;

static attention_inputs make_inputs(int batch_ndim, const int64_t *batch, int64_t L, int64_t S,
                                    int64_t E, int64_t Ev)
{
    int64_t shape[AMPC_MAX_DIMS];
    for (int dim = 0; dim < batch_ndim; dim++) shape[dim] = batch[dim];
    int ndim = batch_ndim + 2;
    attention_inputs inputs;
    shape[batch_ndim] = L, shape[batch_ndim + 1] = E;
    inputs.q = gradcheck_uniform(21, ndim, shape, -1, 1, true);
    shape[batch_ndim] = S;
    inputs.k = gradcheck_uniform(22, ndim, shape, -1, 1, true);
    shape[batch_ndim + 1] = Ev;
    inputs.v = gradcheck_uniform(23, ndim, shape, -1, 1, true);
    return inputs;
}

static void free_inputs(attention_inputs *inputs)
{
    ampc_tensor_free(inputs->q);
    ampc_tensor_free(inputs->k);
    ampc_tensor_free(inputs->v);
}

static void check_attention(const char *name, const attention_context *context,
                            attention_inputs *inputs)
{
    ampc_tensor *tensors[] = {inputs->q, inputs->k, inputs->v};
    gradcheck_case check = {.name = name, .op = attention_op, .context = context,
                            .num_inputs = 3, .inputs = tensors};
    gradcheck_assert(&check);
    const ampc_dtype dtypes[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
    for (int which = 0; which < 3; which++)
        dtype_check_assert(&check, dtypes[which], dtype_tolerance_default(dtypes[which]));
}

static void test_attention_gradcheck_not_causal_with_l_not_s(void **state)
{
    (void)state;
    attention_context plain = {.is_causal = false};
    attention_inputs inputs = make_inputs(1, (int64_t[]){2}, 3, 5, 4, 3);
    check_attention("attention", &plain, &inputs);
    free_inputs(&inputs);
    attention_context scaled = {.is_causal = false, .scale = 0.7};
    inputs = make_inputs(2, (int64_t[]){2, 2}, 4, 4, 3, 2);
    check_attention("attention 4-d, scale 0.7", &scaled, &inputs);
    free_inputs(&inputs);
}

static void test_attention_gradcheck_causal_with_l_below_and_above_s(void **state)
{
    (void)state;
    attention_context causal = {.is_causal = true};
    const int64_t sizes[][2] = {{3, 5}, {5, 3}, {4, 4}};
    for (int which = 0; which < 3; which++) {
        attention_inputs inputs =
            make_inputs(1, (int64_t[]){2}, sizes[which][0], sizes[which][1], 4, 3);
        check_attention("causal attention", &causal, &inputs);
        free_inputs(&inputs);
    }
}

static void test_attention_gradcheck_on_strided_inputs_and_one_without_grad(void **state)
{
    (void)state;
    attention_context causal = {.is_causal = true, .scale = 0.5};
    attention_inputs inputs = make_inputs(1, (int64_t[]){2}, 3, 4, 4, 2);
    ampc_tensor *q = gradcheck_noncontiguous(inputs.q, true);
    ampc_tensor *k = gradcheck_noncontiguous(inputs.k, false);
    ampc_tensor *v = gradcheck_noncontiguous(inputs.v, true);
    gradcheck_assert(&(gradcheck_case){.name = "strided attention", .op = attention_op,
                                       .context = &causal, .num_inputs = 3,
                                       .inputs = (ampc_tensor *[]){q, k, v}});
    ampc_tensor_free(v);
    ampc_tensor_free(k);
    ampc_tensor_free(q);
    free_inputs(&inputs);
}

/* out[b][i] = sum_j softmax_j(scale q_i . k_j, j <= i if causal) v_j in float64. */
static double reference(const ampc_tensor *q, const ampc_tensor *k, const ampc_tensor *v,
                        bool causal, double scale, int64_t b, int64_t i, int64_t e)
{
    int64_t S = ampc_tensor_dim(k, 1), E = ampc_tensor_dim(q, 2);
    int64_t visible = causal && i + 1 < S ? i + 1 : S;
    double logits[16], max = -INFINITY, sum = 0, out = 0, x, y;
    for (int64_t j = 0; j < visible; j++) {
        logits[j] = 0;
        for (int64_t d = 0; d < E; d++) {
            ampc_tensor_get(q, (int64_t[]){b, i, d}, &x);
            ampc_tensor_get(k, (int64_t[]){b, j, d}, &y);
            logits[j] += scale * x * y;
        }
        max = fmax(max, logits[j]);
    }
    for (int64_t j = 0; j < visible; j++) sum += exp(logits[j] - max);
    for (int64_t j = 0; j < visible; j++) {
        ampc_tensor_get(v, (int64_t[]){b, j, e}, &y);
        out += exp(logits[j] - max) / sum * y;
    }
    return out;
}

static void test_attention_forward_matches_a_float64_reference(void **state)
{
    (void)state;
    const int64_t sizes[][2] = {{5, 3}, {3, 5}};
    for (int which = 0; which < 2; which++)
        for (int causal = 0; causal < 2; causal++) {
            int64_t L = sizes[which][0], S = sizes[which][1];
            attention_inputs inputs = make_inputs(1, (int64_t[]){2}, L, S, 4, 3);
            ampc_tensor *q = ampc_tensor_cast(inputs.q, AMPC_F32);
            ampc_tensor *k = ampc_tensor_cast(inputs.k, AMPC_F32);
            ampc_tensor *v = ampc_tensor_cast(inputs.v, AMPC_F32);
            ampc_tensor *out = ampc_scaled_dot_product_attention(q, k, v, causal, 0);
            assert_non_null(out);
            assert_int_equal(ampc_tensor_dtype(out), AMPC_F32);
            for (int64_t b = 0; b < 2; b++)
                for (int64_t i = 0; i < L; i++)
                    for (int64_t e = 0; e < 3; e++) {
                        double value, expected = reference(q, k, v, causal, 0.5, b, i, e);
                        ampc_tensor_get(out, (int64_t[]){b, i, e}, &value);
                        assert_float_equal(value, expected, 1e-6);
                    }
            ampc_tensor_free(out);
            ampc_tensor_free(v);
            ampc_tensor_free(k);
            ampc_tensor_free(q);
            free_inputs(&inputs);
        }
}

static void test_attention_edge_sizes(void **state)
{
    (void)state;
    attention_inputs inputs = make_inputs(1, (int64_t[]){1}, 2, 3, 2, 2);
    ampc_tensor *out = ampc_scaled_dot_product_attention(inputs.q, inputs.k, inputs.v, true, 0);
    assert_string_equal(ampc_tensor_grad_fn_name(out), "scaled_dot_product_attention");
    for (int64_t e = 0; e < 2; e++) {
        double value, expected;
        ampc_tensor_get(out, (int64_t[]){0, 0, e}, &value);
        ampc_tensor_get(inputs.v, (int64_t[]){0, 0, e}, &expected);
        assert_float_equal(value, expected, 1e-15);
    }
    ampc_tensor_free(out);
    /* No keys: a sum over nothing, zeros (as PyTorch's math path). */
    attention_inputs none = make_inputs(1, (int64_t[]){2}, 3, 0, 2, 2);
    out = ampc_scaled_dot_product_attention(none.q, none.k, none.v, false, 0);
    assert_non_null(out);
    assert_values(out, (const double[]){0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 12);
    ampc_tensor_free(out);
    free_inputs(&none);
    /* E = 0: every score is 0, so each query averages the values. */
    attention_inputs headless = make_inputs(1, (int64_t[]){1}, 2, 2, 0, 1);
    out = ampc_scaled_dot_product_attention(headless.q, headless.k, headless.v, false, 0);
    assert_non_null(out);
    double v0, v1, value;
    ampc_tensor_get(headless.v, (int64_t[]){0, 0, 0}, &v0);
    ampc_tensor_get(headless.v, (int64_t[]){0, 1, 0}, &v1);
    ampc_tensor_get(out, (int64_t[]){0, 1, 0}, &value);
    assert_float_equal(value, (v0 + v1) / 2, 1e-15);
    ampc_tensor_free(out);
    free_inputs(&headless);
    free_inputs(&inputs);
}

/* Rows split across threads (enough of them to pass the kernel's threshold) give the bits of
 * one serial float chain per row, so the thread count cannot change them. */
static void test_softmax_rows_match_a_serial_chain_bit_for_bit(void **state)
{
    (void)state;
    enum { QUERIES = 128, KEYS = 80, ROWS = 4 * QUERIES }; /* 40960 scores */
    static float scores[ROWS * KEYS], expected[ROWS * KEYS], lse[ROWS];
    for (int64_t index = 0; index < ROWS * KEYS; index++)
        scores[index] = (float)((index * 7919) % 1000) / 100.0f - 5.0f;
    for (int64_t r = 0; r < ROWS; r++) {
        int64_t visible = r % QUERIES + 1 < KEYS ? r % QUERIES + 1 : KEYS;
        const float *row = scores + r * KEYS;
        float max = -INFINITY, sum = 0;
        for (int64_t j = 0; j < visible; j++) max = row[j] > max ? row[j] : max;
        for (int64_t j = 0; j < visible; j++) sum += expected[r * KEYS + j] = expf(row[j] - max);
        for (int64_t j = 0; j < KEYS; j++)
            expected[r * KEYS + j] = j < visible ? expected[r * KEYS + j] / sum : 0;
    }
    ampc_attention_softmax_float(scores, lse, ROWS, QUERIES, KEYS, true);
    for (int64_t index = 0; index < ROWS * KEYS; index++)
        if (scores[index] != expected[index])
            fail_msg("probability %lld is %.9g; expected %.9g", (long long)index, scores[index],
                     expected[index]);
}

/* The whole op, forward and backward, at a size where every loop is threaded: the same bits on
 * 1 and 3 threads. */
static void test_attention_gives_the_same_bits_on_1_and_3_threads(void **state)
{
    (void)state;
    int previous = ampc_num_threads();
    attention_inputs inputs = make_inputs(1, (int64_t[]){4}, 128, 80, 16, 8);
    ampc_tensor *tensors[] = {inputs.q, inputs.k, inputs.v};
    ampc_tensor *results[2][4] = {{0}};
    for (int run = 0; run < 2; run++) {
        assert_int_equal(ampc_set_num_threads(run == 0 ? 1 : 3), AMPC_OK);
        ampc_tensor *low[3];
        for (int which = 0; which < 3; which++) {
            low[which] = ampc_tensor_cast(tensors[which], AMPC_BF16);
            assert_int_equal(ampc_tensor_set_requires_grad(low[which], true), AMPC_OK);
        }
        results[run][0] = ampc_scaled_dot_product_attention(low[0], low[1], low[2], true, 0);
        ampc_tensor *upstream = ampc_tensor_cast(results[run][0], AMPC_F32);
        assert_int_equal(ampc_backward(results[run][0], upstream, false), AMPC_OK);
        for (int which = 0; which < 3; which++) {
            results[run][which + 1] = ampc_tensor_clone(ampc_tensor_grad(low[which]));
            ampc_tensor_free(low[which]);
        }
        ampc_tensor_free(upstream);
    }
    assert_int_equal(ampc_set_num_threads(previous), AMPC_OK);
    for (int which = 0; which < 4; which++) {
        assert_int_equal(ampc_tensor_nbytes(results[0][which]),
                         ampc_tensor_nbytes(results[1][which]));
        assert_memory_equal(ampc_tensor_data(results[0][which]),
                            ampc_tensor_data(results[1][which]),
                            ampc_tensor_nbytes(results[0][which]));
        ampc_tensor_free(results[0][which]);
        ampc_tensor_free(results[1][which]);
    }
    free_inputs(&inputs);
}

static void test_attention_errors_name_the_shapes(void **state)
{
    (void)state;
    attention_inputs inputs = make_inputs(1, (int64_t[]){2}, 3, 4, 4, 2);
    ampc_tensor *other_batch = ampc_tensor_zeros(AMPC_F64, 3, (int64_t[]){3, 4, 4});
    ampc_tensor *other_head = ampc_tensor_zeros(AMPC_F64, 3, (int64_t[]){2, 4, 5});
    ampc_tensor *flat = ampc_tensor_zeros(AMPC_F64, 1, (int64_t[]){4});
    assert_null(ampc_scaled_dot_product_attention(inputs.q, other_batch, inputs.v, false, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "q has shape [2, 3, 4], k [3, 4, 4] and v [2, 4, "
                                            "2]; expected the same leading (batch) dims");
    assert_null(ampc_scaled_dot_product_attention(inputs.q, other_head, inputs.v, false, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "k's last dim (E) to equal q's last dim");
    assert_null(ampc_scaled_dot_product_attention(inputs.q, inputs.k, inputs.q, false, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "v's second-to-last dim (S)");
    assert_null(ampc_scaled_dot_product_attention(flat, flat, flat, false, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "at least 2");
    assert_null(ampc_scaled_dot_product_attention(inputs.q, inputs.k, inputs.v, false, NAN));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "scale is nan");
    assert_null(ampc_scaled_dot_product_attention(inputs.q, NULL, inputs.v, false, 0));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_scaled_dot_product_attention");
    ampc_tensor_free(flat);
    ampc_tensor_free(other_head);
    ampc_tensor_free(other_batch);
    free_inputs(&inputs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_attention_gradcheck_not_causal_with_l_not_s),
        cmocka_unit_test(test_attention_gradcheck_causal_with_l_below_and_above_s),
        cmocka_unit_test(test_attention_gradcheck_on_strided_inputs_and_one_without_grad),
        cmocka_unit_test(test_attention_forward_matches_a_float64_reference),
        cmocka_unit_test(test_attention_edge_sizes),
        cmocka_unit_test(test_softmax_rows_match_a_serial_chain_bit_for_bit),
        cmocka_unit_test(test_attention_gives_the_same_bits_on_1_and_3_threads),
        cmocka_unit_test(test_attention_errors_name_the_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
