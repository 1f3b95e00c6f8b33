/* CPU features, kernel dispatch and threads.
 *
 * Features are read once, at first use, from CPUID and XGETBV (the OS must save the AVX-512
 * and AMX register state for a feature to count), and the Linux AMX tile permission is
 * requested then. From them ampc picks one ISA level for all kernels: the best the CPU has,
 * capped by the environment variable AMPC_ISA=scalar|avx2|avx512|avx512_bf16|avx512_fp16|amx.
 * Levels are cumulative: avx512_bf16 means AVX-512 F/BW/DQ/VL plus AVX512-BF16 plus all of
 * avx2 (AVX2, FMA, F16C). */
#ifndef AMPC_CPU_H
#define AMPC_CPU_H

#include <stdbool.h>

#include <ampc/error.h>
#include <ampc/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only, lowest first. */
typedef enum ampc_isa {
    AMPC_ISA_SCALAR,
    AMPC_ISA_AVX2,        /* AVX2 + FMA + F16C */
    AMPC_ISA_AVX512,      /* + AVX-512 F, BW, DQ, VL */
    AMPC_ISA_AVX512_BF16, /* + AVX512-BF16 */
    AMPC_ISA_AVX512_FP16, /* + AVX512-FP16 */
    AMPC_ISA_AMX,         /* + AMX-TILE, AMX-BF16, and the OS granted tile data */
    AMPC_ISA_COUNT
} ampc_isa;

/* Append-only. */
typedef enum ampc_cpu_feature {
    AMPC_FEATURE_AVX2,
    AMPC_FEATURE_FMA,
    AMPC_FEATURE_F16C,
    AMPC_FEATURE_AVX512F,
    AMPC_FEATURE_AVX512BW,
    AMPC_FEATURE_AVX512DQ,
    AMPC_FEATURE_AVX512VL,
    AMPC_FEATURE_AVX512_BF16,
    AMPC_FEATURE_AVX512_FP16,
    AMPC_FEATURE_AMX_TILE,
    AMPC_FEATURE_AMX_BF16,
    AMPC_FEATURE_AMX_INT8,
    AMPC_FEATURE_COUNT
} ampc_cpu_feature;

/* Append-only: the kernel families whose path ampc info reports. */
typedef enum ampc_kernel_family {
    AMPC_KERNEL_CONVERT,
    AMPC_KERNEL_GEMM, /* the F16/BF16 kernels (F32/F64 go to OpenBLAS) */
    AMPC_KERNEL_FAMILY_COUNT
} ampc_kernel_family;

/* "scalar", "avx2", ... as accepted by AMPC_ISA; "invalid" otherwise. */
AMPC_API const char *ampc_isa_name(ampc_isa isa);
/* "avx2", "avx512f", "amx_bf16", ... (the /proc/cpuinfo spelling); "invalid" otherwise. */
AMPC_API const char *ampc_cpu_feature_name(ampc_cpu_feature feature);
/* Whether the CPU and the OS both support the feature (AMX: before the permission request). */
AMPC_API bool ampc_cpu_has(ampc_cpu_feature feature);
/* The CPU's model string, e.g. "Intel(R) Xeon(R) Platinum 8480+". */
AMPC_API const char *ampc_cpu_model(void);
/* Whether Linux granted this process the AMX tile data permission. */
AMPC_API bool ampc_cpu_amx_granted(void);
/* The best level the CPU supports, ignoring AMPC_ISA. */
AMPC_API ampc_isa ampc_cpu_best_isa(void);
/* The level kernels run at: the best level, capped by AMPC_ISA. */
AMPC_API ampc_isa ampc_cpu_active_isa(void);
/* The AMPC_ISA value if it could not be used ("" if fine or unset); ampc then ignores it. */
AMPC_API const char *ampc_cpu_isa_cap_problem(void);
/* The level the family's kernel actually runs at (a family may lack a path for some levels). */
AMPC_API ampc_isa ampc_kernel_path(ampc_kernel_family family);
/* "convert", "gemm", ... */
AMPC_API const char *ampc_kernel_family_name(ampc_kernel_family family);

/* Threads used by ampc's OpenMP loops: AMPC_NUM_THREADS, else OMP_NUM_THREADS, else the
 * number of cores available to this process. */
AMPC_API int ampc_num_threads(void);
/* Overrides that count for this process (as torch.set_num_threads); count must be 1..4096.
 * Results never depend on it: every parallel loop splits work the same way for any count. */
AMPC_API ampc_status ampc_set_num_threads(int count);

#ifdef __cplusplus
}
#endif
#endif
