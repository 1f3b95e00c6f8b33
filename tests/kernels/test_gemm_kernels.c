/* Tests for the GEMM microkernels themselves (src/kernels/gemm_<isa>.c, gemm_scalar.c): every
 * kernel this CPU can run, dispatched or not, reached through ampc_gemm_with (fp32 ones with
 * F32 inputs too, whichever path ampc_gemm picks for F32 here), gives the bits
 * of its scalar reference and meets the error bound of gemm_testing.h, on shapes that cross
 * every edge of its tile and every cache block. The VDPBF16PS kernel is also compared with
 * its emulation on BF16 denormals, which it flushes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/cpu.h"
#include "gemm_testing.h"

/* Edges of 4x8, 6x16 and 14x32 tiles, and k across the 256- and 512-deep blocks (n = 10
 * twice: the 14 x 16 kernel with A packed by rows, then through the transpose); the last
 * three (many tiles, several k blocks) are left to the optimised build, where the scalar
 * references run 20 times faster than under the sanitizers. */
static const int64_t shapes[][3] = {
    {1, 1, 1},      {13, 31, 5},   {30, 10, 300}, {30, 10, 300}, {14, 32, 256},
    {15, 33, 257},  {29, 65, 513}, {43, 97, 600}, {141, 40, 64}, {6, 1025, 33}, {200, 17, 1100},
};
#ifdef __SANITIZE_ADDRESS__
#define SHAPES (sizeof shapes / sizeof *shapes - 3)
#else
#define SHAPES (sizeof shapes / sizeof *shapes)
#endif

static bool runs_here(const ampc_gemm_kernel *kernel)
{
    return ampc_cpu_supports(kernel->level);
}

static void check_kernel_on_shapes(const ampc_gemm_kernel *kernel, ampc_dtype dtype)
{
    for (size_t s = 0; s < SHAPES; s++) {
        gemm_case tc = {.dtype = dtype, .c_dtype = AMPC_F32,
                        .transpose_a = (ampc_gemm_transpose)(s % 2),
                        .transpose_b = (ampc_gemm_transpose)(s / 2 % 2), .m = shapes[s][0],
                        .n = shapes[s][1], .k = shapes[s][2], .batch = 1, .alpha = 1,
                        .beta = s % 3 ? 0.0 : 1.0, .column_gap = (int64_t)s % 3,
                        .seed = 77u + (uint32_t)s};
        ampc_gemm_options fast = {2, kernel, false}, reference = {1, kernel->reference, false};
        run_case(&tc, &fast);
        size_t bytes;
        void *got = run_for_bytes(&tc, &fast, &bytes);
        void *want = run_for_bytes(&tc, &reference, &bytes);
        assert_same_bits(&tc, got, want, bytes, kernel->name);
        free(got), free(want);
    }
}

static void test_every_kernel_matches_its_reference_and_the_bound(void **state)
{
    (void)state;
    size_t count;
    const ampc_gemm_kernel *const *kernels = ampc_gemm_kernels_all(&count);
    for (size_t i = 0; i < count; i++) {
        if (!runs_here(kernels[i])) {
            printf("skipped %s: this CPU lacks %s\n", kernels[i]->name,
                   ampc_isa_name(kernels[i]->level));
            continue;
        }
        check_kernel_on_shapes(kernels[i], AMPC_BF16);
        if (kernels[i]->packing != AMPC_GEMM_PACK_F32) continue;
        check_kernel_on_shapes(kernels[i], AMPC_F16);
        check_kernel_on_shapes(kernels[i], AMPC_F32);
    }
}

/* Where the driver swaps a kernel for a sibling of its own (narrow n; m <= 9; C rows 4 KiB
 * apart with short k, computed in C; A packed by rows for long k; B packed per tile), the
 * bits are still the reference's: every fp32 kernel, plain-copy epilogue, n = 1024 (C rows
 * 4 KiB apart in F32) and 9 x 32 with a long k. */
static void test_sibling_kernels_give_the_reference_bits(void **state)
{
    (void)state;
    static const int64_t cases[][3] = {{30, 1024, 10}, {17, 1024, 256}, {9, 1024, 300},
                                         {9, 32, 2000}, {9, 32, 2000}};
    size_t count;
    const ampc_gemm_kernel *const *kernels = ampc_gemm_kernels_all(&count);
    for (size_t i = 0; i < count; i++) {
        if (!runs_here(kernels[i]) || kernels[i]->packing != AMPC_GEMM_PACK_F32) continue;
        for (size_t s = 0; s < sizeof cases / sizeof *cases; s++) {
            gemm_case tc = {.dtype = AMPC_BF16, .c_dtype = AMPC_F32,
                            .transpose_a = (ampc_gemm_transpose)(s % 2),
                            .transpose_b = AMPC_TRANSPOSE, .m = cases[s][0], .n = cases[s][1],
                            .k = cases[s][2], .batch = 1, .alpha = 1, .seed = 91u + (uint32_t)s};
            ampc_gemm_options fast = {2, kernels[i], false};
            ampc_gemm_options reference = {1, kernels[i]->reference, false};
            size_t bytes;
            void *got = run_for_bytes(&tc, &fast, &bytes);
            void *want = run_for_bytes(&tc, &reference, &bytes);
            assert_same_bits(&tc, got, want, bytes, kernels[i]->name);
            free(got), free(want);
        }
    }
}

/* The fp32-FMA kernels all compute the same chains: their bits agree with each other. */
static void test_fp32_kernels_agree_with_each_other(void **state)
{
    (void)state;
    const ampc_gemm_kernel *kernels[] = {&ampc_gemm_scalar_f32, &ampc_gemm_avx2_f32,
                                         &ampc_gemm_avx512_f32};
    const ampc_dtype dtypes[] = {AMPC_F16, AMPC_F32};
    for (size_t d = 0; d < 2; d++) {
        gemm_case tc = {.dtype = dtypes[d], .c_dtype = AMPC_F32, .m = 77, .n = 90, .k = 700,
                        .batch = 2, .alpha = 0.75, .beta = 0.5, .bias = true,
                        .activation = AMPC_ACTIVATION_GELU_ERF, .column_gap = 1, .batch_gap = 5};
        size_t bytes;
        void *first = run_for_bytes(&tc, &(ampc_gemm_options){2, kernels[0], false}, &bytes);
        for (size_t i = 1; i < 3; i++) {
            if (!runs_here(kernels[i])) continue;
            void *other = run_for_bytes(&tc, &(ampc_gemm_options){2, kernels[i], false}, &bytes);
            assert_same_bits(&tc, first, other, bytes, kernels[i]->name);
            free(other);
        }
        free(first);
    }
}

/* BF16 denormals (and products that underflow) where VDPBF16PS flushes them: the kernel still
 * agrees with its emulation bit for bit. */
static void test_vdpbf16ps_kernel_flushes_denormals_like_its_emulation(void **state)
{
    (void)state;
    const ampc_gemm_kernel *kernel = &ampc_gemm_avx512_bf16_pairs;
    if (!runs_here(kernel)) {
        skip();
        return;
    }
    gemm_case tc = {.dtype = AMPC_BF16, .c_dtype = AMPC_F32, .m = 20, .n = 40, .k = 90,
                    .batch = 1, .alpha = 1};
    gemm_operands fast = operands_new(&tc), slow = operands_new(&tc);
    uint32_t seed = 4242;
    for (int64_t i = 0; i < matrix_elements(&fast.a); i += 3) { /* every third value tiny */
        double tiny = ldexp(random_unit(&seed), -120 - (int)(next_random(&seed) % 16));
        fast.a.values[i] = store_value(fast.a.data, AMPC_BF16, i, tiny);
        slow.a.values[i] = store_value(slow.a.data, AMPC_BF16, i, tiny);
    }
    assert_int_equal(ampc_gemm_with(&fast.desc, &(ampc_gemm_options){2, kernel, false}), AMPC_OK);
    assert_int_equal(ampc_gemm_with(&slow.desc, &(ampc_gemm_options){1, kernel->reference, false}),
                     AMPC_OK);
    assert_same_bits(&tc, fast.c.data, slow.c.data,
                     (size_t)matrix_elements(&fast.c) * sizeof(float), kernel->name);
    operands_free(&fast);
    operands_free(&slow);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kernel_matches_its_reference_and_the_bound),
        cmocka_unit_test(test_sibling_kernels_give_the_reference_bits),
        cmocka_unit_test(test_fp32_kernels_agree_with_each_other),
        cmocka_unit_test(test_vdpbf16ps_kernel_flushes_denormals_like_its_emulation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
