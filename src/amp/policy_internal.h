/* Internal side of ampc/amp_policy.h: resolving a config on behalf of another entry point (so
 * ampc_amp_initialize's errors carry its own name), and the printing the resolver shares with
 * ampc_amp_policy_describe (policy_print.c). */
#ifndef AMPC_AMP_POLICY_INTERNAL_H
#define AMPC_AMP_POLICY_INTERNAL_H

#include <stdio.h>

#include <ampc/amp_policy.h>

/* ampc_amp_resolve, with errors reported as coming from function. */
ampc_status ampc_amp_resolve_as(const char *function, const ampc_amp_config *config,
                                ampc_precision_policy *policy);

/* Python's repr of a float ("1.0", "128.0", "65536.0", "1e-05", "1e+16", "inf"), as apex
 * prints loss scales. buffer holds at least 32 chars. */
void ampc_amp_format_float(double value, char *buffer);

/* The seven apex options, one "{:22} : {}" line each, in apex's order. */
void ampc_amp_print_options(const ampc_precision_policy *policy, FILE *out);

/* torch's spelling of a dtype as apex prints it: "torch.float16", "torch.bfloat16", ... */
const char *ampc_amp_torch_dtype_name(ampc_dtype dtype);

/* "True", "False" or "None" (UNSET), as apex prints its tri-state options. */
const char *ampc_amp_python_flag(ampc_amp_flag flag);

#endif
