/* Unscale kernels: the inner loop of the fused unscale + overflow pass (src/amp/scaler.c).
 *
 * One kernel per source dtype (F32, F16, BF16); each does, for i < n, in fp32:
 *     out[i] = (acc ? acc[i] : 0) + float(in[i]) * inv_scale
 * (the product rounded, then the sum rounded: no FMA, so every level gives the same bits)
 * and returns true when any in[i] or any out[i] is inf or NaN. out may be in (same F32
 * buffer) or acc, element for element; nothing else may overlap. The kernels always write
 * every out[i], overflow or not (as apex's multi_tensor_scale).
 *
 *   unscale_scalar.c   the reference
 *   unscale_avx512.c   16 lanes (AVX-512 F/BW/DQ)
 *   unscale.c          the tables, the runtime choice of level (ampc_cpu_pick_path) */
#ifndef AMPC_KERNELS_UNSCALE_H
#define AMPC_KERNELS_UNSCALE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ampc/cpu.h>

typedef struct ampc_unscale_kernels {
    bool (*f32)(float *out, const float *acc, const float *in, size_t n, float inv_scale);
    bool (*f16)(float *out, const float *acc, const uint16_t *in, size_t n, float inv_scale);
    bool (*bf16)(float *out, const float *acc, const uint16_t *in, size_t n, float inv_scale);
} ampc_unscale_kernels;

/* How each level writes its table: one static inline loop
 *     bool unscale(float *out, const float *acc, const void *in, ampc_unscale_source source,
 *                  size_t n, float inv_scale)
 * and AMPC_UNSCALE_TABLE(name), which defines the three entry points that fix the source (so
 * the loop's dtype switch folds away) and the table. */
typedef enum ampc_unscale_source {
    AMPC_UNSCALE_F32,
    AMPC_UNSCALE_F16,
    AMPC_UNSCALE_BF16
} ampc_unscale_source;

#define AMPC_UNSCALE_TABLE(name)                                                                 \
    static bool unscale_f32(float *out, const float *acc, const float *in, size_t n,            \
                            float inv_scale)                                                    \
    {                                                                                           \
        return unscale(out, acc, in, AMPC_UNSCALE_F32, n, inv_scale);                           \
    }                                                                                           \
    static bool unscale_f16(float *out, const float *acc, const uint16_t *in, size_t n,         \
                            float inv_scale)                                                    \
    {                                                                                           \
        return unscale(out, acc, in, AMPC_UNSCALE_F16, n, inv_scale);                           \
    }                                                                                           \
    static bool unscale_bf16(float *out, const float *acc, const uint16_t *in, size_t n,        \
                             float inv_scale)                                                   \
    {                                                                                           \
        return unscale(out, acc, in, AMPC_UNSCALE_BF16, n, inv_scale);                          \
    }                                                                                           \
    const ampc_unscale_kernels name = {.f32 = unscale_f32, .f16 = unscale_f16, .bf16 = unscale_bf16}

extern const ampc_unscale_kernels ampc_unscale_scalar;
extern const ampc_unscale_kernels ampc_unscale_avx512;

/* The table of a level, or NULL when ampc has no kernels of its own there. */
const ampc_unscale_kernels *ampc_unscale_kernels_at(ampc_isa level);
/* The level the pass runs at: the highest with kernels, capped by the active ISA. */
ampc_isa ampc_unscale_path(void);
const ampc_unscale_kernels *ampc_unscale_kernels_active(void);

#endif
