/* ctest: per-isa
 *
 * Tests for ampc_gemm (src/kernels/gemm*.c) at the ISA level AMPC_ISA selects: every input
 * dtype, every transpose pair, odd shapes, padded leading dims and batches, every C dtype,
 * alpha, beta, bias and activation, against a long-double reference within the error bound
 * stated in gemm_testing.h; NaN and inf propagation; beta = 0 never reading C; k = 0 and
 * alpha = 0; empty products; the same bits for any thread count; packed B giving the same
 * bits as plain B; the dispatched kernel giving the same bits as its scalar reference; and F32
 * both on the level's fp32 kernel and on OpenBLAS, whichever of them ampc_gemm picks here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <xmmintrin.h>

#include "gemm_testing.h"
#include "test_support.h"

static const ampc_dtype input_dtypes[] = {AMPC_F32, AMPC_F64, AMPC_F16, AMPC_BF16};
#define INPUT_DTYPES (sizeof input_dtypes / sizeof *input_dtypes)

static const int64_t odd_sizes[] = {1, 7, 15, 17, 33, 100, 127};
#define ODD_SIZES (sizeof odd_sizes / sizeof *odd_sizes)

/* A C dtype the input allows, chosen by i. */
static ampc_dtype c_dtype_for(ampc_dtype input, unsigned i)
{
    static const ampc_dtype narrow_outputs[] = {AMPC_F32, AMPC_F16, AMPC_BF16};
    return input == AMPC_F64 ? AMPC_F64 : narrow_outputs[i % 3];
}

static gemm_case plain_case(ampc_dtype dtype, int transposes, int64_t m, int64_t n, int64_t k)
{
    return (gemm_case){.dtype = dtype, .c_dtype = dtype == AMPC_F64 ? AMPC_F64 : AMPC_F32,
                       .transpose_a = (ampc_gemm_transpose)(transposes >> 1),
                       .transpose_b = (ampc_gemm_transpose)(transposes & 1), .m = m, .n = n, .k = k,
                       .batch = 1, .alpha = 1, .beta = 0, .activation = AMPC_ACTIVATION_NONE};
}

static void test_bf16_every_transpose_on_every_shape_of_the_cube(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 7, 17, 33, 127};
    for (int transposes = 0; transposes < 4; transposes++)
        for (size_t mi = 0; mi < 5; mi++)
            for (size_t ni = 0; ni < 5; ni++)
                for (size_t ki = 0; ki < 5; ki++) {
                    gemm_case tc = plain_case(AMPC_BF16, transposes, sizes[mi], sizes[ni],
                                              sizes[ki]);
                    run_case(&tc, NULL);
                }
}

/* Sampled shapes for every dtype and transpose pair, each with padding, a C dtype, alpha,
 * beta, bias and activation drawn from the seed. */
static void test_every_dtype_and_transpose_on_sampled_odd_shapes(void **state)
{
    (void)state;
    static const double alphas[] = {1, 0.5, -2, 3};
    static const double betas[] = {0, 1, -0.75, 0};
    uint32_t seed = 12345;
    for (size_t d = 0; d < INPUT_DTYPES; d++)
        for (int transposes = 0; transposes < 4; transposes++)
            for (int sample = 0; sample < 10; sample++) {
                gemm_case tc = plain_case(input_dtypes[d], transposes,
                                          odd_sizes[next_random(&seed) % ODD_SIZES],
                                          odd_sizes[next_random(&seed) % ODD_SIZES],
                                          odd_sizes[next_random(&seed) % ODD_SIZES]);
                tc.c_dtype = c_dtype_for(tc.dtype, next_random(&seed));
                tc.alpha = alphas[next_random(&seed) % 4];
                tc.beta = betas[next_random(&seed) % 4];
                tc.bias = next_random(&seed) % 2;
                tc.activation = (ampc_activation)(next_random(&seed) % AMPC_ACTIVATION_COUNT);
                tc.column_gap = next_random(&seed) % 5;
                tc.seed = next_random(&seed);
                run_case(&tc, NULL);
            }
}

static void test_one_dimension_of_a_thousand(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{1000, 17, 33}, {7, 1000, 33}, {17, 33, 1000}};
    for (size_t d = 0; d < INPUT_DTYPES; d++)
        for (size_t s = 0; s < 3; s++) {
            gemm_case tc = plain_case(input_dtypes[d], (int)(s + d) % 4, shapes[s][0],
                                      shapes[s][1], shapes[s][2]);
            tc.column_gap = 3;
            tc.beta = 0.5;
            run_case(&tc, NULL);
        }
}

static void test_strided_batch_with_gaps_between_matrices(void **state)
{
    (void)state;
    for (size_t d = 0; d < INPUT_DTYPES; d++) {
        gemm_case tc = plain_case(input_dtypes[d], (int)d, 19, 35, 21);
        tc.batch = 3;
        tc.column_gap = 2;
        tc.batch_gap = 11;
        tc.beta = 1;
        tc.bias = true;
        tc.c_dtype = c_dtype_for(tc.dtype, (unsigned)d + 1);
        run_case(&tc, NULL);
    }
}

/* batch_stride 0 for B: one weight matrix for the whole batch. */
static void test_batch_stride_zero_shares_one_b(void **state)
{
    (void)state;
    for (size_t d = 0; d < INPUT_DTYPES; d++) {
        gemm_case tc = plain_case(input_dtypes[d], 0, 9, 40, 30);
        tc.batch = 4;
        gemm_operands o = operands_new(&tc);
        o.desc.b.batch_stride = 0;
        for (int64_t b = 1; b < 4; b++) /* what B's later matrices would be: the first */
            for (int64_t r = 0; r < o.b.rows; r++)
                for (int64_t c = 0; c < o.b.columns; c++)
                    o.b.values[matrix_index(&o.b, b, r, c)] =
                        o.b.values[matrix_index(&o.b, 0, r, c)];
        assert_int_equal(ampc_gemm(&o.desc), AMPC_OK);
        check_result(&tc, &o);
        operands_free(&o);
    }
}

static void test_every_c_dtype_bias_and_activation(void **state)
{
    (void)state;
    for (size_t d = 0; d < INPUT_DTYPES; d++)
        for (unsigned c = 0; c < 3; c++)
            for (int act = 0; act < AMPC_ACTIVATION_COUNT; act++) {
                gemm_case tc = plain_case(input_dtypes[d], act % 4, 23, 41, 37);
                tc.c_dtype = c_dtype_for(tc.dtype, c);
                tc.activation = (ampc_activation)act;
                tc.bias = true;
                tc.alpha = 1.5;
                tc.beta = act % 2 ? 0.25 : 0;
                tc.seed = 1000u + (unsigned)act * 7u + c;
                run_case(&tc, NULL);
            }
}

/* ---- special values ---- */

/* Sets op(X)[row][column] of the first matrix. */
static void set_op(test_matrix *x, ampc_gemm_transpose transpose, int64_t row, int64_t column,
                   double value)
{
    if (transpose == AMPC_TRANSPOSE) matrix_set(x, 0, column, row, value);
    else matrix_set(x, 0, row, column, value);
}

/* A NaN in row 2 of op(A) makes row 2 of C NaN; +inf in columns 3 and 6 of op(B), against
 * positive A, makes those columns +inf; the zero at op(A)[4][11] meets the inf at
 * op(B)[11][6], so C[4][6] is NaN (0 * inf): no zero may be skipped. */
static void test_nan_and_inf_propagate_through_every_path(void **state)
{
    (void)state;
    for (size_t d = 0; d < INPUT_DTYPES; d++) {
        gemm_case tc = plain_case(input_dtypes[d], (int)d, 6, 7, 40);
        gemm_operands o = operands_new(&tc);
        matrix_fill(&o.a, 0.5);
        set_op(&o.a, tc.transpose_a, 2, 5, NAN);
        set_op(&o.a, tc.transpose_a, 4, 11, 0.0);
        set_op(&o.b, tc.transpose_b, 9, 3, INFINITY);
        set_op(&o.b, tc.transpose_b, 11, 6, INFINITY);
        assert_int_equal(ampc_gemm(&o.desc), AMPC_OK);
        for (int64_t i = 0; i < 6; i++)
            for (int64_t j = 0; j < 7; j++) {
                double got = load_value(o.c.data, o.c.dtype, matrix_index(&o.c, 0, i, j));
                if (i == 2 || (i == 4 && j == 6)) assert_true(isnan(got));
                else if (j == 3 || j == 6) assert_true(isinf(got) && got > 0);
                else assert_true(isfinite(got));
            }
        operands_free(&o);
    }
}

static void test_beta_zero_never_reads_c_even_when_it_holds_nan(void **state)
{
    (void)state;
    for (size_t d = 0; d < INPUT_DTYPES; d++)
        for (unsigned c = 0; c < 3; c++) {
            gemm_case tc = plain_case(input_dtypes[d], 3, 33, 17, 9);
            tc.c_dtype = c_dtype_for(tc.dtype, c);
            tc.bias = c == 1;
            run_case(&tc, NULL); /* C starts as NaN everywhere: see operands_new */
        }
}

static void test_k_zero_gives_activation_of_beta_c_plus_bias(void **state)
{
    (void)state;
    for (size_t d = 0; d < INPUT_DTYPES; d++)
        for (int beta_zero = 0; beta_zero < 2; beta_zero++) {
            gemm_case tc = plain_case(input_dtypes[d], 0, 5, 9, 0);
            tc.beta = beta_zero ? 0 : -0.5;
            tc.bias = true;
            tc.activation = AMPC_ACTIVATION_RELU;
            tc.c_dtype = c_dtype_for(tc.dtype, (unsigned)beta_zero + 1);
            run_case(&tc, NULL);
        }
}

/* As in BLAS, alpha = 0 reads neither A nor B: their NaNs do not reach C. */
static void test_alpha_zero_reads_neither_a_nor_b(void **state)
{
    (void)state;
    for (size_t d = 0; d < INPUT_DTYPES; d++) {
        gemm_case tc = plain_case(input_dtypes[d], 0, 8, 8, 8);
        tc.alpha = 0;
        tc.beta = 2;
        gemm_operands o = operands_new(&tc);
        matrix_fill(&o.a, NAN);
        assert_int_equal(ampc_gemm(&o.desc), AMPC_OK);
        check_result(&tc, &o);
        operands_free(&o);
    }
}

/* m or n = 0 does nothing, and then C and the inputs may be NULL; batch 0 is one product. */
static void test_empty_products_do_nothing(void **state)
{
    (void)state;
    for (size_t d = 0; d < INPUT_DTYPES; d++) {
        ampc_dtype dtype = input_dtypes[d];
        ampc_gemm_desc desc = {.m = 0, .n = 5, .k = 3, .alpha = 1,
                               .a = {dtype, NULL, 3, 0}, .b = {dtype, NULL, 5, 0},
                               .c = {dtype == AMPC_F64 ? AMPC_F64 : AMPC_F32, NULL, 5, 0}};
        assert_int_equal(ampc_gemm(&desc), AMPC_OK);
        desc.m = 4, desc.n = 0, desc.c.leading_dim = 0;
        assert_int_equal(ampc_gemm(&desc), AMPC_OK);
        desc.n = 5, desc.c.leading_dim = 5, desc.batch = 0;
        assert_int_equal(ampc_gemm(&desc), AMPC_ERR_NULL_ARGUMENT);
        ampc_error_clear();
    }
}

/* ---- bits ---- */

static void test_thread_counts_give_identical_bits(void **state)
{
    (void)state;
    for (size_t d = 0; d < INPUT_DTYPES; d++) {
        /* 2 x 2 tiles of OpenBLAS's grid (gemm_blas.c), many of the kernels' */
        gemm_case tc = plain_case(input_dtypes[d], (int)d, 600, 1100, 40);
        tc.c_dtype = c_dtype_for(tc.dtype, (unsigned)d);
        tc.beta = 0.5;
        tc.bias = true;
        tc.activation = AMPC_ACTIVATION_GELU_TANH;
        size_t bytes_1, bytes_2, bytes_3;
        void *one = run_for_bytes(&tc, &(ampc_gemm_options){1, NULL, false}, &bytes_1);
        void *two = run_for_bytes(&tc, &(ampc_gemm_options){2, NULL, false}, &bytes_2);
        void *three = run_for_bytes(&tc, &(ampc_gemm_options){3, NULL, false}, &bytes_3);
        assert_same_bits(&tc, one, two, bytes_1, "1 vs 2 threads");
        assert_same_bits(&tc, one, three, bytes_1, "1 vs 3 threads");
        free(one), free(two), free(three);
    }
}

/* F32 on OpenBLAS whatever its core (it runs on ampc's kernel where the core is generic): the
 * grid of tiles is cut by the shape alone, many tiles here, and the bits do not move. */
static void test_f32_on_openblas_gives_identical_bits_for_any_thread_count(void **state)
{
    (void)state;
    const int64_t shapes[][3] = {{600, 1100, 40}, {256, 256, 256}, {128, 1000, 100}};
    for (size_t s = 0; s < 3; s++) {
        gemm_case tc = plain_case(AMPC_F32, (int)s, shapes[s][0], shapes[s][1], shapes[s][2]);
        tc.c_dtype = c_dtype_for(AMPC_F32, (unsigned)s);
        tc.bias = true;
        size_t bytes;
        void *one = run_for_bytes(&tc, &(ampc_gemm_options){1, NULL, true}, &bytes);
        void *two = run_for_bytes(&tc, &(ampc_gemm_options){2, NULL, true}, &bytes);
        void *three = run_for_bytes(&tc, &(ampc_gemm_options){3, NULL, true}, &bytes);
        assert_same_bits(&tc, one, two, bytes, "OpenBLAS F32, 1 vs 2 threads");
        assert_same_bits(&tc, one, three, bytes, "OpenBLAS F32, 1 vs 3 threads");
        free(one), free(two), free(three);
        run_case(&tc, &(ampc_gemm_options){2, NULL, true});
    }
}

/* F32 through the level's fp32 kernel (what it runs on where OpenBLAS is generic) and through
 * OpenBLAS: both within the bound, the kernel with its scalar reference's bits. */
static void test_f32_on_the_levels_kernel_and_on_openblas(void **state)
{
    (void)state;
    const ampc_gemm_kernel *kernel = ampc_gemm_f32_kernel_at(ampc_gemm_path());
    assert_non_null(kernel);
    unsigned seed = 5;
    for (int transposes = 0; transposes < 4; transposes++)
        for (int i = 0; i < 6; i++) {
            int64_t m = odd_sizes[next_random(&seed) % ODD_SIZES];
            int64_t n = odd_sizes[next_random(&seed) % ODD_SIZES];
            int64_t k = odd_sizes[next_random(&seed) % ODD_SIZES] * (i == 5 ? 5 : 1);
            gemm_case tc = plain_case(AMPC_F32, transposes, m, n, k);
            tc.c_dtype = c_dtype_for(AMPC_F32, (unsigned)i);
            tc.beta = i % 2 ? 0.5 : 0;
            tc.bias = i % 3 == 0;
            tc.column_gap = i % 3;
            tc.seed = seed;
            run_case(&tc, &(ampc_gemm_options){2, kernel, false});
            run_case(&tc, &(ampc_gemm_options){2, NULL, true});
            size_t bytes;
            void *fast = run_for_bytes(&tc, &(ampc_gemm_options){2, kernel, false}, &bytes);
            void *slow = run_for_bytes(&tc, &(ampc_gemm_options){1, kernel->reference, false},
                                       &bytes);
            assert_same_bits(&tc, fast, slow, bytes, kernel->name);
            free(fast), free(slow);
        }
}

static void test_packed_b_gives_the_bits_of_plain_b(void **state)
{
    (void)state;
    for (size_t d = 0; d < INPUT_DTYPES; d++)
        for (int tb = 0; tb < 2; tb++) {
            gemm_case tc = plain_case(input_dtypes[d], tb, 45, 70, 37);
            tc.batch = 2;
            tc.column_gap = 3;
            gemm_operands plain = operands_new(&tc), packed = operands_new(&tc);
            plain.desc.b.batch_stride = 0; /* packed B serves every matrix of the batch */
            ampc_gemm_packed *b = ampc_gemm_pack_b(tc.dtype, tc.transpose_b, tc.k, tc.n,
                                                   packed.b.data, packed.b.leading_dim);
            assert_non_null(b);
            packed.desc.packed_b = b;
            packed.desc.b = (ampc_gemm_operand){0}; /* ignored */
            assert_int_equal(ampc_gemm(&plain.desc), AMPC_OK);
            assert_int_equal(ampc_gemm(&packed.desc), AMPC_OK);
            assert_same_bits(&tc, plain.c.data, packed.c.data,
                             (size_t)matrix_elements(&plain.c) * ampc_dtype_size(plain.c.dtype),
                             "packed vs plain B");
            ampc_gemm_packed_free(b);
            operands_free(&plain);
            operands_free(&packed);
        }
}

/* Holds whichever level runs: the SIMD kernel reproduces its scalar reference exactly. */
static void test_dispatched_kernel_gives_the_bits_of_its_scalar_reference(void **state)
{
    (void)state;
    const ampc_dtype dtypes[] = {AMPC_F16, AMPC_BF16};
    for (size_t d = 0; d < 2; d++)
        for (int transposes = 0; transposes < 4; transposes++) {
            const ampc_gemm_kernel *kernel = ampc_gemm_kernel_active(dtypes[d]);
            gemm_case tc = plain_case(dtypes[d], transposes, 61, 75, 300);
            tc.beta = 1;
            tc.c_dtype = AMPC_BF16;
            size_t bytes;
            void *fast = run_for_bytes(&tc, &(ampc_gemm_options){2, kernel, false}, &bytes);
            void *slow =
                run_for_bytes(&tc, &(ampc_gemm_options){1, kernel->reference, false}, &bytes);
            assert_same_bits(&tc, fast, slow, bytes, kernel->name);
            free(fast), free(slow);
        }
}

/* Inputs near 2^-64 make products near 2^-128, fp32 denormals: with the caller's FTZ and DAZ
 * on they would flush. ampc computes in the default MXCSR whatever the caller set, and gives
 * the caller's back. */
static void test_results_ignore_the_callers_flush_to_zero(void **state)
{
    (void)state;
    const unsigned ftz_daz = 0x8040u;
    for (size_t d = 0; d < INPUT_DTYPES; d++) {
        if (input_dtypes[d] == AMPC_F16) continue; /* F16 cannot get that small */
        gemm_case tc = plain_case(input_dtypes[d], (int)d, 40, 600, 50);
        size_t bytes;
        void *plain = NULL, *flushing = NULL;
        for (int pass = 0; pass < 2; pass++) {
            gemm_operands o = operands_new(&tc);
            for (int64_t i = 0; i < matrix_elements(&o.a); i++)
                o.a.values[i] = store_value(o.a.data, o.a.dtype, i, ldexp(o.a.values[i], -64));
            for (int64_t i = 0; i < matrix_elements(&o.b); i++)
                o.b.values[i] = store_value(o.b.data, o.b.dtype, i, ldexp(o.b.values[i], -64));
            unsigned caller = _mm_getcsr();
            if (pass) _mm_setcsr(caller | ftz_daz);
            ampc_gemm_options options = {2, NULL, false};
            assert_int_equal(ampc_gemm_with(&o.desc, &options), AMPC_OK);
            assert_int_equal(_mm_getcsr() & ~0x3Fu, (pass ? caller | ftz_daz : caller) & ~0x3Fu);
            _mm_setcsr(caller);
            bytes = (size_t)matrix_elements(&o.c) * ampc_dtype_size(o.c.dtype);
            void *copy = malloc(bytes);
            memcpy(copy, o.c.data, bytes);
            if (pass) flushing = copy; else plain = copy;
            operands_free(&o);
        }
        assert_same_bits(&tc, plain, flushing, bytes, "default vs FTZ/DAZ MXCSR");
        free(plain), free(flushing);
    }
}

static void test_activation_names(void **state)
{
    (void)state;
    assert_string_equal(ampc_activation_name(AMPC_ACTIVATION_NONE), "none");
    assert_string_equal(ampc_activation_name(AMPC_ACTIVATION_RELU), "relu");
    assert_string_equal(ampc_activation_name(AMPC_ACTIVATION_GELU_TANH), "gelu_tanh");
    assert_string_equal(ampc_activation_name(AMPC_ACTIVATION_GELU_ERF), "gelu_erf");
    assert_string_equal(ampc_activation_name(AMPC_ACTIVATION_COUNT), "invalid");
    assert_string_equal(ampc_kernel_family_name(AMPC_KERNEL_GEMM), "gemm");
}

int main(void)
{
    int skip = ampc_test_require_isa();
    if (skip) return skip;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bf16_every_transpose_on_every_shape_of_the_cube),
        cmocka_unit_test(test_every_dtype_and_transpose_on_sampled_odd_shapes),
        cmocka_unit_test(test_one_dimension_of_a_thousand),
        cmocka_unit_test(test_strided_batch_with_gaps_between_matrices),
        cmocka_unit_test(test_batch_stride_zero_shares_one_b),
        cmocka_unit_test(test_every_c_dtype_bias_and_activation),
        cmocka_unit_test(test_nan_and_inf_propagate_through_every_path),
        cmocka_unit_test(test_beta_zero_never_reads_c_even_when_it_holds_nan),
        cmocka_unit_test(test_k_zero_gives_activation_of_beta_c_plus_bias),
        cmocka_unit_test(test_alpha_zero_reads_neither_a_nor_b),
        cmocka_unit_test(test_empty_products_do_nothing),
        cmocka_unit_test(test_thread_counts_give_identical_bits),
        cmocka_unit_test(test_f32_on_openblas_gives_identical_bits_for_any_thread_count),
        cmocka_unit_test(test_f32_on_the_levels_kernel_and_on_openblas),
        cmocka_unit_test(test_packed_b_gives_the_bits_of_plain_b),
        cmocka_unit_test(test_dispatched_kernel_gives_the_bits_of_its_scalar_reference),
        cmocka_unit_test(test_results_ignore_the_callers_flush_to_zero),
        cmocka_unit_test(test_activation_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
