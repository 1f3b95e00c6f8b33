/* Pointwise kernels: loops over n contiguous elements, one kernel per op, one table per ISA.
 *
 * A kernel reads up to three input arrays and writes one output array of n elements; it knows
 * nothing of tensors, dtypes or broadcasting (src/ops/pointwise_engine.c feeds it contiguous
 * chunks in the compute dtype). Every op has an fp32 kernel per ISA level and an fp64 kernel
 * (scalar, libm), so F64 tensors compute in double and everything else in fp32 registers.
 *
 *   pointwise_scalar.c  the reference: each value computed in double (libm) and rounded once,
 *                       so +, -, *, /, sqrt, clamp, selects are exact and the transcendental
 *                       ops are correctly rounded or within half an ulp of it
 *   pointwise_simd.h    the vector code, written once over a small vector vocabulary that
 *                       pointwise_avx2.c (8 lanes) and pointwise_avx512.c (16 lanes) define:
 *                       the loops and the exp/log/tanh/erfc approximations
 *   pointwise.c         the tables and the runtime choice of level (ampc_cpu_pick_path)
 *
 * Every SIMD kernel is bit-identical to the reference for the exact ops; for the others it
 * stays within the ulp bound listed in docs/ops/pointwise.md (tests/ops/test_pointwise_paths.c
 * checks each level against the reference). pow has no vector kernel: every level runs the
 * reference's (libm pow). Kernels assume the default MXCSR (the engine sets it).
 *
 * Masks (masked_fill, where) arrive as 0.0 / 1.0 in the compute dtype; nonzero selects. */
#ifndef AMPC_KERNELS_POINTWISE_KERNELS_H
#define AMPC_KERNELS_POINTWISE_KERNELS_H

#include <stddef.h>

#include <ampc/cpu.h>

/* The kernels of every table, by op (internal, not ABI). Each comment gives the inputs in
 * order and the output; s0, s1 are the op's scalars. */
typedef enum ampc_pointwise_op {
    /* unary forward: in x */
    AMPC_PW_NEG,          /* -x */
    AMPC_PW_EXP,
    AMPC_PW_LOG,
    AMPC_PW_SQRT,
    AMPC_PW_RSQRT,        /* 1 / sqrt(x) */
    AMPC_PW_ABS,
    AMPC_PW_CLAMP,        /* min(max(x, s0), s1); NaN stays NaN */
    AMPC_PW_RELU,
    AMPC_PW_LEAKY_RELU,   /* x > 0 ? x : x * s0 */
    AMPC_PW_GELU,         /* x * Phi(x), Phi the normal CDF (erf form) */
    AMPC_PW_GELU_TANH,    /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    AMPC_PW_SILU,         /* x * sigmoid(x) */
    AMPC_PW_SIGMOID,
    AMPC_PW_TANH,
    AMPC_PW_ADD_SCALAR,   /* x + s0 */
    AMPC_PW_MUL_SCALAR,   /* x * s0 */
    AMPC_PW_DIV_SCALAR,   /* x / s0 */
    AMPC_PW_RSUB_SCALAR,  /* s0 - x */
    AMPC_PW_POW_SCALAR,   /* pow(x, s0) */
    /* unary backward: in dout, x; out dx */
    AMPC_PW_EXP_BACKWARD,
    AMPC_PW_LOG_BACKWARD,
    AMPC_PW_SQRT_BACKWARD,
    AMPC_PW_RSQRT_BACKWARD,
    AMPC_PW_ABS_BACKWARD,
    AMPC_PW_CLAMP_BACKWARD,      /* dout where s0 <= x <= s1, else 0 */
    AMPC_PW_RELU_BACKWARD,
    AMPC_PW_LEAKY_RELU_BACKWARD,
    AMPC_PW_GELU_BACKWARD,
    AMPC_PW_GELU_TANH_BACKWARD,
    AMPC_PW_SILU_BACKWARD,
    AMPC_PW_SIGMOID_BACKWARD,
    AMPC_PW_TANH_BACKWARD,
    AMPC_PW_POW_SCALAR_BACKWARD, /* s0 == 0 ? 0 : dout * s0 * pow(x, s0 - 1) */
    /* binary forward: in a, b */
    AMPC_PW_ADD,
    AMPC_PW_SUB,
    AMPC_PW_MUL,
    AMPC_PW_DIV,
    AMPC_PW_POW,
    /* binary backward: in dout, a, b */
    AMPC_PW_DIV_BACKWARD_B,      /* -dout * a / (b * b) */
    AMPC_PW_POW_BACKWARD_A,      /* b == 0 ? 0 : dout * b * pow(a, b - 1) */
    AMPC_PW_POW_BACKWARD_B,      /* a == 0 && b >= 0 ? 0 : dout * pow(a, b) * log(a) */
    /* selects */
    AMPC_PW_MASKED_FILL,         /* in x, mask: mask ? s0 : x */
    AMPC_PW_MASK_KEEP,           /* in x, mask: mask ? x : 0 */
    AMPC_PW_WHERE,               /* in condition, a, b: condition ? a : b */
    AMPC_PW_OP_COUNT
} ampc_pointwise_op;

#define AMPC_PW_MAX_INPUTS 3

/* The op's scalars, in both compute types (the engine fills both from the caller's double). */
typedef struct ampc_pointwise_scalars {
    float f32[2];
    double f64[2];
} ampc_pointwise_scalars;

typedef void (*ampc_pointwise_f32_fn)(float *out, const float *const *in, size_t n,
                                      const ampc_pointwise_scalars *scalars);
typedef void (*ampc_pointwise_f64_fn)(double *out, const double *const *in, size_t n,
                                      const ampc_pointwise_scalars *scalars);

typedef struct ampc_pointwise_kernels {
    ampc_pointwise_f32_fn f32[AMPC_PW_OP_COUNT];
} ampc_pointwise_kernels;

/* How many inputs the op's kernels read (1 to AMPC_PW_MAX_INPUTS). */
int ampc_pointwise_num_inputs(ampc_pointwise_op op);
/* The op's name in the enum's spelling without the prefix ("exp", "gelu_backward"), for tests. */
const char *ampc_pointwise_op_name(ampc_pointwise_op op);

/* The complete fp32 table of a level (its own kernels, the level below's elsewhere), or NULL
 * for a level with no pointwise kernels of its own. Does not check the CPU. */
const ampc_pointwise_kernels *ampc_pointwise_kernels_at(ampc_isa level);
/* The table the ops use, and its level (for `ampc info`). */
const ampc_pointwise_kernels *ampc_pointwise_kernels_active(void);
ampc_isa ampc_pointwise_path(void);
/* The fp64 kernels (one set, scalar). */
extern const ampc_pointwise_f64_fn ampc_pointwise_f64[AMPC_PW_OP_COUNT];

/* Per-level partial tables (NULL entries: the level below's kernel runs). */
extern const ampc_pointwise_kernels ampc_pointwise_scalar_own;
extern const ampc_pointwise_kernels ampc_pointwise_avx2_own;
extern const ampc_pointwise_kernels ampc_pointwise_avx512_own;

#endif
