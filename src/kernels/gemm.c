/* ampc_gemm and packed B: validation, the choice of path, and the F16/BF16 kernel dispatch.
 *
 * F64 inputs go to OpenBLAS (gemm_blas.c), and so do F32 inputs unless OpenBLAS runs one of
 * its generic cores, when they take the level's fp32 kernel; F16 and BF16 inputs go to ampc's
 * own kernels
 * (gemm_driver.c), whose table is chosen once, at first use, like the conversion kernels'
 * (src/dtype/convert.c): each level names the kernels it makes faster, a level's complete
 * table is the level below's with those overlaid, and ampc_cpu_pick_path takes the highest
 * level with kernels of its own that the CPU (and AMPC_ISA) allows. */
#include <ampc/cpu.h>
#include <ampc/gemm.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"
#include "core/memory.h"
#include "kernels/gemm_kernels.h"

/* ---- kernel tables ---- */

typedef struct kernel_set {
    const ampc_gemm_kernel *f16;
    const ampc_gemm_kernel *bf16;
} kernel_set;

/* What each level makes faster. avx512_bf16 has a VDPBF16PS kernel, but it is not listed:
 * on the CPUs measured VDPBF16PS retires one per two cycles, half the multiply-adds per
 * cycle of fp32 FMA on the widened values (docs/gemm.md). F16 stays on fp32 FMA at every
 * level: fp16 FMAs would round the products (docs/gemm.md). No AMX kernel yet. */
static const kernel_set own_kernels[AMPC_ISA_COUNT] = {
    [AMPC_ISA_SCALAR] = {&ampc_gemm_scalar_f32, &ampc_gemm_scalar_f32},
    [AMPC_ISA_AVX2] = {&ampc_gemm_avx2_f32, &ampc_gemm_avx2_f32},
    [AMPC_ISA_AVX512] = {&ampc_gemm_avx512_f32, &ampc_gemm_avx512_f32},
};

static const ampc_gemm_kernel *const all_kernels[] = {
    &ampc_gemm_scalar_f32, &ampc_gemm_scalar_bf16_pairs, &ampc_gemm_avx2_f32,
    &ampc_gemm_avx512_f32, &ampc_gemm_avx512_f32_narrow, &ampc_gemm_avx512_f32_short,
    &ampc_gemm_avx512_f32_few_rows,
    &ampc_gemm_avx512_bf16_pairs,
};

static kernel_set complete_kernels[AMPC_ISA_COUNT];
static ampc_isa active_level;
static pthread_once_t kernels_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    bool has_path[AMPC_ISA_COUNT] = {false};
    kernel_set below = {0};
    for (int level = 0; level < AMPC_ISA_COUNT; level++) {
        const kernel_set *own = &own_kernels[level];
        if (own->f16) below.f16 = own->f16;
        if (own->bf16) below.bf16 = own->bf16;
        complete_kernels[level] = below;
        has_path[level] = own->f16 || own->bf16;
    }
    active_level = ampc_cpu_pick_path(has_path);
}

const ampc_gemm_kernel *const *ampc_gemm_kernels_all(size_t *count)
{
    *count = sizeof all_kernels / sizeof *all_kernels;
    return all_kernels;
}

const ampc_gemm_kernel *ampc_gemm_kernel_at(ampc_isa level, ampc_dtype dtype)
{
    if ((unsigned)level >= AMPC_ISA_COUNT) return NULL;
    pthread_once(&kernels_once, build_tables);
    if (dtype == AMPC_F16) return complete_kernels[level].f16;
    if (dtype == AMPC_BF16) return complete_kernels[level].bf16;
    return NULL;
}

ampc_isa ampc_gemm_path(void)
{
    pthread_once(&kernels_once, build_tables);
    return active_level;
}

const ampc_gemm_kernel *ampc_gemm_kernel_active(ampc_dtype dtype)
{
    return ampc_gemm_kernel_at(ampc_gemm_path(), dtype);
}

/* ---- ampc_gemm ---- */

bool ampc_gemm_has_product(const ampc_gemm_desc *desc)
{
    return desc->k > 0 && desc->alpha != 0.0;
}

static bool uses_ampc_kernels(ampc_dtype dtype) { return dtype == AMPC_F16 || dtype == AMPC_BF16; }

const ampc_gemm_kernel *ampc_gemm_f32_kernel_at(ampc_isa level)
{
    const ampc_gemm_kernel *kernel = ampc_gemm_kernel_at(level, AMPC_F16);
    return kernel && kernel->packing == AMPC_GEMM_PACK_F32 ? kernel : NULL;
}

/* F32 runs on ampc's fp32 kernel only where OpenBLAS would run a generic core (Prescott's
 * SSE3 kernels, ~4x slower than ampc's AVX2/AVX-512 ones); a real OpenBLAS core is as fast
 * as ampc's, or faster, and keeps F32 bits as they were. Decided once: the core is fixed when
 * OpenBLAS loads. */
static const ampc_gemm_kernel *f32_kernel;
static pthread_once_t f32_once = PTHREAD_ONCE_INIT;

static void pick_f32_kernel(void)
{
    if (ampc_gemm_path() >= AMPC_ISA_AVX2 && ampc_gemm_blas_core_is_generic())
        f32_kernel = ampc_gemm_f32_kernel_at(ampc_gemm_path());
}

const ampc_gemm_kernel *ampc_gemm_f32_kernel_active(void)
{
    pthread_once(&f32_once, pick_f32_kernel);
    return f32_kernel;
}

/* The desc with an F32/F64 packed_b put in place of b: every matrix uses that one copy. */
static ampc_gemm_desc with_packed_copy(const ampc_gemm_desc *desc)
{
    ampc_gemm_desc unpacked = *desc;
    const ampc_gemm_packed *packed = desc->packed_b;
    unpacked.transpose_b = packed->transpose_b;
    unpacked.b = (ampc_gemm_operand){packed->dtype, packed->data, packed->leading_dim, 0};
    unpacked.packed_b = NULL;
    return unpacked;
}

/* F32 inputs: the kernel asked for, else the active one (NULL: OpenBLAS). */
static const ampc_gemm_kernel *f32_kernel_for(const ampc_gemm_options *options)
{
    if (options->f32_on_blas) return NULL;
    return options->kernel ? options->kernel : ampc_gemm_f32_kernel_active();
}

static ampc_status gemm(const char *function, const ampc_gemm_desc *desc,
                        const ampc_gemm_options *options)
{
    const ampc_gemm_kernel *kernel = NULL;
    if (desc && uses_ampc_kernels(desc->a.dtype))
        kernel = options->kernel ? options->kernel : ampc_gemm_kernel_active(desc->a.dtype);
    ampc_status status = ampc_gemm_validate(function, desc, kernel);
    if (status != AMPC_OK) return status;
    if (desc->m == 0 || desc->n == 0) return AMPC_OK;
    AMPC_ASSERT(options->threads >= 1);
    if (kernel) return ampc_gemm_kernel_run(desc, kernel, options->threads);
    ampc_gemm_desc unpacked = desc->packed_b ? with_packed_copy(desc) : *desc;
    if (desc->a.dtype == AMPC_F32 && f32_kernel_for(options))
        return ampc_gemm_kernel_run(&unpacked, f32_kernel_for(options), options->threads);
    return ampc_gemm_blas(&unpacked, options->threads);
}

ampc_status ampc_gemm_with(const ampc_gemm_desc *desc, const ampc_gemm_options *options)
{
    return gemm(__func__, desc, options);
}

ampc_status ampc_gemm(const ampc_gemm_desc *desc)
{
    ampc_gemm_options options = {ampc_num_threads(), NULL, false};
    return gemm(__func__, desc, &options);
}

/* ---- packed B ---- */

/* F32/F64: B as stored, rows made contiguous. */
static void *copy_stored_b(ampc_gemm_packed *packed, const void *b, int64_t leading_dim)
{
    bool t = packed->transpose_b == AMPC_TRANSPOSE;
    int64_t rows = t ? packed->n : packed->k, columns = t ? packed->k : packed->n;
    size_t size = ampc_dtype_size(packed->dtype), row_bytes = (size_t)columns * size;
    char *copy = ampc_aligned_alloc((size_t)rows * row_bytes);
    if (!copy) return NULL;
    for (int64_t r = 0; r < rows; r++)
        memcpy(copy + (size_t)r * row_bytes, (const char *)b + (size_t)(r * leading_dim) * size,
               row_bytes);
    packed->leading_dim = columns > 0 ? columns : 1;
    return copy;
}

static void *pack_panels(ampc_gemm_packed *packed, const void *b, int64_t leading_dim)
{
    void *data = ampc_aligned_alloc(ampc_gemm_packed_b_bytes(packed->kernel, packed->k, packed->n));
    if (!data) return NULL;
    ampc_gemm_desc desc = {.transpose_b = packed->transpose_b, .k = packed->k, .n = packed->n,
                           .b = {packed->dtype, b, leading_dim, 0}};
    ampc_gemm_pack_b_batch(packed->kernel, data, &desc, 1, ampc_num_threads());
    return data;
}

ampc_gemm_packed *ampc_gemm_pack_b_with(ampc_dtype dtype, ampc_gemm_transpose transpose_b,
                                        int64_t k, int64_t n, const void *b,
                                        int64_t leading_dim, const ampc_gemm_kernel *kernel)
{
    const char *function = "ampc_gemm_pack_b";
    if (ampc_gemm_validate_pack_b(function, dtype, transpose_b, k, n, b, leading_dim) != AMPC_OK)
        return NULL;
    ampc_gemm_packed *packed = calloc(1, sizeof *packed);
    if (!packed) {
        ampc_fail_oom(function, sizeof *packed);
        return NULL;
    }
    *packed = (ampc_gemm_packed){dtype, transpose_b, k, n, NULL, 0, NULL};
    if (uses_ampc_kernels(dtype)) {
        packed->kernel = kernel ? kernel : ampc_gemm_kernel_active(dtype);
        packed->data = pack_panels(packed, b, leading_dim);
    } else {
        packed->data = copy_stored_b(packed, b, leading_dim);
    }
    if (!packed->data) {
        ampc_fail(AMPC_ERR_OUT_OF_MEMORY, function, "out of memory packing a %lld x %lld B",
                  (long long)k, (long long)n);
        free(packed);
        return NULL;
    }
    return packed;
}

ampc_gemm_packed *ampc_gemm_pack_b(ampc_dtype dtype, ampc_gemm_transpose transpose_b, int64_t k,
                                   int64_t n, const void *b, int64_t leading_dim)
{
    return ampc_gemm_pack_b_with(dtype, transpose_b, k, n, b, leading_dim, NULL);
}

void ampc_gemm_packed_free(ampc_gemm_packed *packed)
{
    if (!packed) return;
    ampc_aligned_free(packed->data);
    free(packed);
}

const char *ampc_activation_name(ampc_activation activation)
{
    static const char *const names[AMPC_ACTIVATION_COUNT] = {
        [AMPC_ACTIVATION_NONE] = "none",
        [AMPC_ACTIVATION_RELU] = "relu",
        [AMPC_ACTIVATION_GELU_TANH] = "gelu_tanh",
        [AMPC_ACTIVATION_GELU_ERF] = "gelu_erf",
    };
    if ((unsigned)activation >= AMPC_ACTIVATION_COUNT) return "invalid";
    return names[activation];
}
