/* Bulk conversion kernels: one table per ISA level, each bit-identical to the scalar reference.
 *
 * convert_scalar.c holds the reference (and the public scalar conversions it is built from);
 * convert_<isa>.c holds the SIMD paths; convert.c dispatches once, at first use, to the best
 * level the CPU has (capped by AMPC_ISA) and converts between every pair of dtypes. A level
 * without a faster path for a function points at the level below's. */
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

/* The table written for exactly this level, or NULL if the level has none of its own.
 * Tests and benchmarks use it to reach every path regardless of dispatch. */
const ampc_convert_kernels *ampc_convert_kernels_at(ampc_isa level);
/* The table ampc_convert uses, and its level. */
const ampc_convert_kernels *ampc_convert_kernels_active(void);
ampc_isa ampc_convert_path(void);

#endif
