/* Which path each kernel family runs at, for `ampc info`: one row per family. */
#include <ampc/cpu.h>

#include "dtype/convert_kernels.h"
#include "kernels/gemm_kernels.h"
#include "kernels/pointwise_kernels.h"

static ampc_isa (*const family_path[AMPC_KERNEL_FAMILY_COUNT])(void) = {
    [AMPC_KERNEL_CONVERT] = ampc_convert_path,
    [AMPC_KERNEL_GEMM] = ampc_gemm_path,
    [AMPC_KERNEL_POINTWISE] = ampc_pointwise_path,
};

static const char *const family_names[AMPC_KERNEL_FAMILY_COUNT] = {
    [AMPC_KERNEL_CONVERT] = "convert",
    [AMPC_KERNEL_GEMM] = "gemm",
    [AMPC_KERNEL_POINTWISE] = "pointwise",
};

ampc_isa ampc_kernel_path(ampc_kernel_family family)
{
    if ((unsigned)family >= AMPC_KERNEL_FAMILY_COUNT) return AMPC_ISA_SCALAR;
    return family_path[family]();
}

const char *ampc_kernel_family_name(ampc_kernel_family family)
{
    if ((unsigned)family >= AMPC_KERNEL_FAMILY_COUNT) return "invalid";
    return family_names[family];
}
