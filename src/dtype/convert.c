/* ampc_convert: n contiguous elements between any two dtypes, and the choice of kernel table.
 *
 * Every pair goes one of three ways:
 *   same dtype                  memcpy (nothing to do when dst == src)
 *   F32, F16, BF16, F8 only     through fp32, with the dispatched SIMD kernels: widening to
 *                               fp32 is exact, so narrow -> narrow rounds exactly once
 *   anything with F64 or ints   through fp64, one element at a time: F64 -> narrow rounds
 *                               once, directly from the double; I64 becomes a double rounded
 *                               to odd, so that the one rounding to the target afterwards
 *                               equals rounding the integer directly (53 bits >= any narrower
 *                               target's precision + 2)
 * The intermediates are stack chunks small enough for L1, so nothing is allocated. Large
 * conversions are split into one contiguous part per OpenMP thread; each element's result
 * depends only on that element, so the output is the same for any thread count.
 *
 * Saturation for targets whose kernels take no overflow mode (F16, BF16, F32) clamps the
 * input to ± the target's largest finite value first (NaN passes through): anything the
 * clamp changes would have overflowed or rounded to that largest value anyway. */
#include <ampc/dtype.h>

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"
#include "core/fpenv.h"
#include "dtype/convert_kernels.h"

enum {
    CHUNK = 512,               /* elements per pass through a stack intermediate (4 KiB of f64) */
    PARALLEL_MIN = 1 << 16,    /* below this, threads cost more than they save */
};

/* ---- kernel tables ---- */

static const ampc_convert_kernels *const own_tables[AMPC_ISA_COUNT] = {
    [AMPC_ISA_SCALAR] = &ampc_convert_scalar_own,
    [AMPC_ISA_AVX2] = &ampc_convert_avx2_own,
    [AMPC_ISA_AVX512] = &ampc_convert_avx512_own,
    [AMPC_ISA_AVX512_BF16] = &ampc_convert_avx512_bf16_own,
    [AMPC_ISA_AVX512_FP16] = &ampc_convert_avx512_fp16_own,
    [AMPC_ISA_AMX] = NULL,
};

static ampc_convert_kernels complete_tables[AMPC_ISA_COUNT];
static ampc_isa active_level;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

#define OVERLAY(field) \
    if (own->field) table->field = own->field

static void overlay(ampc_convert_kernels *table, const ampc_convert_kernels *own)
{
    OVERLAY(f32_to_f16);
    OVERLAY(f16_to_f32);
    OVERLAY(f32_to_bf16);
    OVERLAY(bf16_to_f32);
    OVERLAY(f32_to_f8_e4m3);
    OVERLAY(f8_e4m3_to_f32);
    OVERLAY(f32_to_f8_e5m2);
    OVERLAY(f8_e5m2_to_f32);
}

#undef OVERLAY

static void build_tables(void)
{
    bool has_path[AMPC_ISA_COUNT] = {false};
    ampc_convert_kernels below = {0};
    for (int level = 0; level < AMPC_ISA_COUNT; level++) {
        if (!own_tables[level]) continue;
        overlay(&below, own_tables[level]);
        complete_tables[level] = below;
        has_path[level] = true;
    }
    active_level = ampc_cpu_pick_path(has_path);
}

const ampc_convert_kernels *ampc_convert_kernels_at(ampc_isa level)
{
    if ((unsigned)level >= AMPC_ISA_COUNT || !own_tables[level]) return NULL;
    pthread_once(&tables_once, build_tables);
    return &complete_tables[level];
}

ampc_isa ampc_convert_path(void)
{
    pthread_once(&tables_once, build_tables);
    return active_level;
}

const ampc_convert_kernels *ampc_convert_kernels_active(void)
{
    return ampc_convert_kernels_at(ampc_convert_path());
}

/* ---- one chunk through fp32 ---- */

static bool converts_through_f32(ampc_dtype dtype)
{
    return dtype == AMPC_F32 || dtype == AMPC_F16 || dtype == AMPC_BF16 ||
           dtype == AMPC_F8_E4M3 || dtype == AMPC_F8_E5M2;
}

/* Copies src, with every non-NaN value limited to [-limit, limit]. */
static void clamp_f32(float *dst, const float *src, size_t n, float limit)
{
    for (size_t i = 0; i < n; i++) {
        float value = src[i];
        dst[i] = value > limit ? limit : value < -limit ? -limit : value;
    }
}

static void widen_to_f32(const ampc_convert_kernels *kernels, float *dst, const void *src,
                         ampc_dtype src_dtype, size_t n)
{
    switch (src_dtype) {
    case AMPC_F16: kernels->f16_to_f32(dst, src, n); break;
    case AMPC_BF16: kernels->bf16_to_f32(dst, src, n); break;
    case AMPC_F8_E4M3: kernels->f8_e4m3_to_f32(dst, src, n); break;
    case AMPC_F8_E5M2: kernels->f8_e5m2_to_f32(dst, src, n); break;
    default: AMPC_ASSERT(!"a narrow float dtype");
    }
}

/* Saturation for F16 and BF16 clamps the input, since their kernels take no overflow mode. */
static bool clamps_input(ampc_dtype dst_dtype, ampc_overflow overflow)
{
    return overflow == AMPC_OVERFLOW_SATURATE && (dst_dtype == AMPC_F16 || dst_dtype == AMPC_BF16);
}

static void narrow_kernel(const ampc_convert_kernels *kernels, void *dst, ampc_dtype dst_dtype,
                          const float *src, size_t n, ampc_overflow overflow)
{
    switch (dst_dtype) {
    case AMPC_F16: kernels->f32_to_f16(dst, src, n); break;
    case AMPC_BF16: kernels->f32_to_bf16(dst, src, n); break;
    case AMPC_F8_E4M3: kernels->f32_to_f8_e4m3(dst, src, n, overflow); break;
    case AMPC_F8_E5M2: kernels->f32_to_f8_e5m2(dst, src, n, overflow); break;
    default: AMPC_ASSERT(!"a narrow float dtype");
    }
}

/* n <= CHUNK. */
static void narrow_from_f32(const ampc_convert_kernels *kernels, void *dst, ampc_dtype dst_dtype,
                            const float *src, size_t n, ampc_overflow overflow)
{
    float clamped[CHUNK];
    if (clamps_input(dst_dtype, overflow)) {
        clamp_f32(clamped, src, n, (float)ampc_dtype_max_finite(dst_dtype));
        src = clamped;
    }
    narrow_kernel(kernels, dst, dst_dtype, src, n, overflow);
}

/* ---- one chunk through fp64 ---- */

/* Rounds |value| to 53 bits by truncating and setting the lowest kept bit if anything nonzero
 * was dropped (round to odd). A later round-to-nearest to at most 51 bits then gives the
 * same result as rounding the integer itself, which a plain (double) cast would not. */
static double i64_to_f64_round_to_odd(int64_t value)
{
    uint64_t magnitude = value < 0 ? 0 - (uint64_t)value : (uint64_t)value;
    if (magnitude < (UINT64_C(1) << 53)) return (double)value;
    int dropped_bits = 11 - __builtin_clzll(magnitude); /* bits beyond the 53 kept */
    uint64_t kept = magnitude >> dropped_bits;
    if (magnitude & ((UINT64_C(1) << dropped_bits) - 1)) kept |= 1;
    double rounded = ldexp((double)kept, dropped_bits); /* exact: kept has 53 bits */
    return value < 0 ? -rounded : rounded;
}

/* n <= CHUNK. round_to_odd: I64 values will be rounded again (see above). */
static void load_f64(const ampc_convert_kernels *kernels, double *dst, const void *src,
                     ampc_dtype src_dtype, size_t n, bool round_to_odd)
{
    float narrow_widened[CHUNK];
    switch (src_dtype) {
    case AMPC_F64: memcpy(dst, src, n * sizeof(double)); break;
    case AMPC_F32:
        for (size_t i = 0; i < n; i++) dst[i] = ((const float *)src)[i];
        break;
    case AMPC_F16:
    case AMPC_BF16:
    case AMPC_F8_E4M3:
    case AMPC_F8_E5M2:
        widen_to_f32(kernels, narrow_widened, src, src_dtype, n);
        for (size_t i = 0; i < n; i++) dst[i] = narrow_widened[i];
        break;
    case AMPC_I64:
        for (size_t i = 0; i < n; i++) {
            int64_t value = ((const int64_t *)src)[i];
            dst[i] = round_to_odd ? i64_to_f64_round_to_odd(value) : (double)value;
        }
        break;
    case AMPC_I32:
        for (size_t i = 0; i < n; i++) dst[i] = ((const int32_t *)src)[i];
        break;
    case AMPC_U8:
        for (size_t i = 0; i < n; i++) dst[i] = ((const uint8_t *)src)[i];
        break;
    case AMPC_BOOL:
        for (size_t i = 0; i < n; i++) dst[i] = ((const uint8_t *)src)[i] != 0;
        break;
    default: AMPC_ASSERT(!"dtype validated by the caller");
    }
}

/* Truncation toward zero with NaN -> 0 and saturation: C leaves both undefined. The bounds
 * are powers of two, exact in double. */
static int64_t f64_to_i64(double value)
{
    if (isnan(value)) return 0;
    if (value >= 0x1p63) return INT64_MAX;
    if (value < -0x1p63) return INT64_MIN;
    return (int64_t)value;
}

static int32_t f64_to_i32(double value)
{
    if (isnan(value)) return 0;
    if (value >= 0x1p31) return INT32_MAX;
    if (value < -0x1p31) return INT32_MIN;
    return (int32_t)value;
}

static uint8_t f64_to_u8(double value)
{
    if (isnan(value) || value < 0) return 0;
    if (value >= 255) return 255;
    return (uint8_t)value;
}

static double clamp_f64(double value, double limit)
{
    return value > limit ? limit : value < -limit ? -limit : value;
}

static void store_f64_as_float(void *dst, ampc_dtype dst_dtype, const double *src, size_t n,
                               ampc_overflow overflow)
{
    double limit = overflow == AMPC_OVERFLOW_SATURATE ? ampc_dtype_max_finite(dst_dtype) : INFINITY;
    for (size_t i = 0; i < n; i++) {
        double value = clamp_f64(src[i], limit);
        switch (dst_dtype) {
        case AMPC_F64: ((double *)dst)[i] = value; break;
        case AMPC_F32: ((float *)dst)[i] = (float)value; break;
        case AMPC_F16: ((uint16_t *)dst)[i] = ampc_f64_to_f16(value); break;
        case AMPC_BF16: ((uint16_t *)dst)[i] = ampc_f64_to_bf16(value); break;
        case AMPC_F8_E4M3: ((uint8_t *)dst)[i] = ampc_f64_to_f8_e4m3(value, overflow); break;
        case AMPC_F8_E5M2: ((uint8_t *)dst)[i] = ampc_f64_to_f8_e5m2(value, overflow); break;
        default: AMPC_ASSERT(!"not a float dtype");
        }
    }
}

static void store_f64(void *dst, ampc_dtype dst_dtype, const double *src, size_t n,
                      ampc_overflow overflow)
{
    switch (dst_dtype) {
    case AMPC_I64:
        for (size_t i = 0; i < n; i++) ((int64_t *)dst)[i] = f64_to_i64(src[i]);
        break;
    case AMPC_I32:
        for (size_t i = 0; i < n; i++) ((int32_t *)dst)[i] = f64_to_i32(src[i]);
        break;
    case AMPC_U8:
        for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = f64_to_u8(src[i]);
        break;
    case AMPC_BOOL: /* NaN != 0 is true: NaN counts as nonzero */
        for (size_t i = 0; i < n; i++) ((uint8_t *)dst)[i] = src[i] != 0;
        break;
    default: store_f64_as_float(dst, dst_dtype, src, n, overflow);
    }
}

/* ---- the whole conversion ---- */

typedef struct conversion {
    const ampc_convert_kernels *kernels;
    ampc_dtype dst_dtype;
    ampc_dtype src_dtype;
    ampc_overflow overflow;
} conversion;

/* n <= CHUNK. dst may equal src when both dtypes have the same size: each step reads a whole
 * chunk (or vector) before writing it. */
static void convert_chunk(const conversion *c, void *dst, const void *src, size_t n)
{
    if (converts_through_f32(c->src_dtype) && converts_through_f32(c->dst_dtype)) {
        if (c->dst_dtype == AMPC_F32) {
            widen_to_f32(c->kernels, dst, src, c->src_dtype, n);
            return;
        }
        float widened[CHUNK];
        const float *wide = src;
        if (c->src_dtype != AMPC_F32) {
            widen_to_f32(c->kernels, widened, src, c->src_dtype, n);
            wide = widened;
        }
        narrow_from_f32(c->kernels, dst, c->dst_dtype, wide, n, c->overflow);
        return;
    }
    double wide[CHUNK];
    load_f64(c->kernels, wide, src, c->src_dtype, n, c->dst_dtype != AMPC_F64);
    store_f64(dst, c->dst_dtype, wide, n, c->overflow);
}

/* fp32 to or from a narrow float needs no intermediate: one kernel call does any length. */
static bool is_one_kernel_call(const conversion *c)
{
    if (c->src_dtype == AMPC_F32)
        return converts_through_f32(c->dst_dtype) && !clamps_input(c->dst_dtype, c->overflow);
    return c->dst_dtype == AMPC_F32 && converts_through_f32(c->src_dtype);
}

static void convert_serial_default_fpenv(const conversion *c, void *dst, const void *src,
                                         size_t n)
{
    if (is_one_kernel_call(c)) {
        if (c->dst_dtype == AMPC_F32) widen_to_f32(c->kernels, dst, src, c->src_dtype, n);
        else narrow_kernel(c->kernels, dst, c->dst_dtype, src, n, c->overflow);
        return;
    }
    size_t dst_size = ampc_dtype_size(c->dst_dtype), src_size = ampc_dtype_size(c->src_dtype);
    for (size_t start = 0; start < n; start += CHUNK) {
        size_t count = n - start < CHUNK ? n - start : CHUNK;
        convert_chunk(c, (char *)dst + start * dst_size, (const char *)src + start * src_size,
                      count);
    }
}

/* Kernels use float adds and double casts for exact results, so they run in the default
 * MXCSR whatever the caller (or this thread) set. */
static void convert_serial(const conversion *c, void *dst, const void *src, size_t n)
{
    uint32_t caller_fpenv = ampc_fpenv_set_default();
    convert_serial_default_fpenv(c, dst, src, n);
    ampc_fpenv_restore(caller_fpenv);
}

/* One contiguous part per thread, each a single long run, so that kernels can stream their
 * stores (convert_simd.h). Parts start at multiples of 64 elements to keep vectors aligned. */
static void convert_parallel(const conversion *c, void *dst, const void *src, size_t n,
                             int threads)
{
    size_t dst_size = ampc_dtype_size(c->dst_dtype), src_size = ampc_dtype_size(c->src_dtype);
    size_t part = (n / (size_t)threads + 63) / 64 * 64;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int thread = 0; thread < threads; thread++) {
        size_t start = (size_t)thread * part;
        if (start >= n) continue;
        size_t count = n - start < part ? n - start : part;
        convert_serial(c, (char *)dst + start * dst_size, (const char *)src + start * src_size,
                       count);
    }
}

static ampc_status check_dtype(const char *function, const char *argument, ampc_dtype dtype)
{
    if (ampc_dtype_is_valid(dtype)) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "%s %d is not a dtype; expected AMPC_F64 .. AMPC_BOOL (0 .. %d)", argument,
                     (int)dtype, AMPC_DTYPE_COUNT - 1);
}

/* The body of both public functions; function is the one the caller called, for messages. */
static ampc_status convert(const char *function, void *dst, ampc_dtype dst_dtype,
                           const void *src, ampc_dtype src_dtype, size_t n,
                           ampc_overflow overflow)
{
    ampc_status status = check_dtype(function, "dst_dtype", dst_dtype);
    if (status == AMPC_OK) status = check_dtype(function, "src_dtype", src_dtype);
    if (status != AMPC_OK) return status;
    if ((unsigned)overflow >= AMPC_OVERFLOW_COUNT)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "overflow %d is not AMPC_OVERFLOW_DEFAULT (0) or "
                         "AMPC_OVERFLOW_SATURATE (1)",
                         (int)overflow);
    if (n == 0) return AMPC_OK;
    if (!dst) return ampc_fail_null(function, "dst");
    if (!src) return ampc_fail_null(function, "src");

    if (dst_dtype == src_dtype) {
        if (dst != src) memcpy(dst, src, n * ampc_dtype_size(dst_dtype));
        return AMPC_OK;
    }
    conversion c = {ampc_convert_kernels_active(), dst_dtype, src_dtype, overflow};
    int threads = ampc_num_threads();
    if (n >= PARALLEL_MIN && threads > 1)
        convert_parallel(&c, dst, src, n, threads);
    else
        convert_serial(&c, dst, src, n);
    return AMPC_OK;
}

ampc_status ampc_convert_with(void *dst, ampc_dtype dst_dtype, const void *src,
                              ampc_dtype src_dtype, size_t n, ampc_overflow overflow)
{
    return convert(__func__, dst, dst_dtype, src, src_dtype, n, overflow);
}

ampc_status ampc_convert(void *dst, ampc_dtype dst_dtype, const void *src, ampc_dtype src_dtype,
                         size_t n)
{
    return convert(__func__, dst, dst_dtype, src, src_dtype, n, AMPC_OVERFLOW_DEFAULT);
}
