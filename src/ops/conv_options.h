/* What conv.c and pool.c share when they check their options structs. */
#ifndef AMPC_OPS_CONV_OPTIONS_H
#define AMPC_OPS_CONV_OPTIONS_H

#include <stdint.h>

#include <ampc/error.h>

#include "core/error.h"

/* Fails naming options->name unless both entries of the (height, width) pair are >= minimum. */
static inline ampc_status ampc_conv_check_pair(const char *function, const char *name,
                                               const int64_t *pair, int64_t minimum)
{
    if (pair[0] >= minimum && pair[1] >= minimum) return AMPC_OK;
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "options->%s is [%lld, %lld]; expected each >= %lld", name,
                     (long long)pair[0], (long long)pair[1], (long long)minimum);
}

#endif
