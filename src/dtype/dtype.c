/* The dtype table: one row per dtype, read by every query. */
#include <ampc/dtype.h>

#include <string.h>

#include "core/error.h"

typedef struct dtype_info {
    const char *name; /* safetensors spelling */
    size_t size;
    bool is_float;
} dtype_info;

static const dtype_info dtype_table[AMPC_DTYPE_COUNT] = {
    [AMPC_F64] = {"F64", 8, true},          [AMPC_F32] = {"F32", 4, true},
    [AMPC_F16] = {"F16", 2, true},          [AMPC_BF16] = {"BF16", 2, true},
    [AMPC_F8_E4M3] = {"F8_E4M3", 1, true},  [AMPC_F8_E5M2] = {"F8_E5M2", 1, true},
    [AMPC_I64] = {"I64", 8, false},         [AMPC_I32] = {"I32", 4, false},
    [AMPC_U8] = {"U8", 1, false},           [AMPC_BOOL] = {"BOOL", 1, false},
};

bool ampc_dtype_is_valid(ampc_dtype dtype) { return (unsigned)dtype < AMPC_DTYPE_COUNT; }

size_t ampc_dtype_size(ampc_dtype dtype)
{
    return ampc_dtype_is_valid(dtype) ? dtype_table[dtype].size : 0;
}

const char *ampc_dtype_name(ampc_dtype dtype)
{
    return ampc_dtype_is_valid(dtype) ? dtype_table[dtype].name : "invalid";
}

bool ampc_dtype_is_float(ampc_dtype dtype)
{
    return ampc_dtype_is_valid(dtype) && dtype_table[dtype].is_float;
}

ampc_status ampc_dtype_from_name(const char *name, ampc_dtype *dtype)
{
    if (!name) return ampc_fail_null(__func__, "name");
    if (!dtype) return ampc_fail_null(__func__, "dtype");
    for (int candidate = 0; candidate < AMPC_DTYPE_COUNT; candidate++) {
        if (strcmp(name, dtype_table[candidate].name) == 0) {
            *dtype = (ampc_dtype)candidate;
            return AMPC_OK;
        }
    }
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                     "name \"%.40s\" is not a dtype; expected one of F64, F32, F16, BF16, "
                     "F8_E4M3, F8_E5M2, I64, I32, U8, BOOL",
                     name);
}
