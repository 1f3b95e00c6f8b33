/* Bulk conversion kernels: one table per ISA level, each bit-identical to the scalar reference.
 *
 * convert_scalar.c holds the reference (and the public scalar conversions it is built from);
 * convert_<isa>.c holds the SIMD paths; convert.c dispatches once, at first use, to the best
 * level the CPU has (capped by AMPC_ISA) and converts between every pair of dtypes.
 *
 * Each convert_<isa>.c defines a partial table, ampc_convert_<isa>_own, holding only the
 * functions that level makes faster (the rest NULL). convert.c builds the complete table of a
 * level by taking the level below's complete table and overlaying the level's own entries,
 * so a level without a faster path for a function runs the level below's. */
#ifndef AMPC_DTYPE_CONVERT_KERNELS_H
#define AMPC_DTYPE_CONVERT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include <ampc/cpu.h>
#include <ampc/dtype.h>

typedef struct ampc_convert_kernels {
    void (*f32_to_f16)(uint16_t *dst, const float *src, size_t n);
    void (*f16_to_f32)(float *dst, const uint16_t *src, size_t n);
    void (*f32_to_bf16)(uint16_t *dst, const float *src, size_t n);
    void (*bf16_to_f32)(float *dst, const uint16_t *src, size_t n);
    void (*f32_to_f8_e4m3)(uint8_t *dst, const float *src, size_t n, ampc_overflow overflow);
    void (*f8_e4m3_to_f32)(float *dst, const uint8_t *src, size_t n);
    void (*f32_to_f8_e5m2)(uint8_t *dst, const float *src, size_t n, ampc_overflow overflow);
    void (*f8_e5m2_to_f32)(float *dst, const uint8_t *src, size_t n);
} ampc_convert_kernels;

/* The complete table for this level (its own kernels, and the level below's where it has
 * none), or NULL if the level adds no conversion kernels of its own (AMX). It does not check
 * the CPU: calling a table the CPU lacks (see ampc_cpu_supports) faults. Tests and benchmarks
 * use it to reach every path regardless of dispatch. */
const ampc_convert_kernels *ampc_convert_kernels_at(ampc_isa level);
/* The table ampc_convert uses, and its level. */
const ampc_convert_kernels *ampc_convert_kernels_active(void);
ampc_isa ampc_convert_path(void);

/* The per-level partial tables; see the top of this file. Only convert.c reads them. */
extern const ampc_convert_kernels ampc_convert_scalar_own;
extern const ampc_convert_kernels ampc_convert_avx2_own;
extern const ampc_convert_kernels ampc_convert_avx512_own;
extern const ampc_convert_kernels ampc_convert_avx512_bf16_own;
extern const ampc_convert_kernels ampc_convert_avx512_fp16_own;

/* Scalar conversions the public API does not need: F64 to F8 (rounded once, like
 * ampc_f64_to_f16), and the largest finite value of a float dtype, which is where
 * AMPC_OVERFLOW_SATURATE clamps. */
uint8_t ampc_f64_to_f8_e4m3(double value, ampc_overflow overflow);
uint8_t ampc_f64_to_f8_e5m2(double value, ampc_overflow overflow);
double ampc_dtype_max_finite(ampc_dtype dtype);

#endif
