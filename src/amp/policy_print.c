/* Printing a precision policy the way apex prints its Properties: one "{:22} : {}" line per
 * option, with Python's spellings (True/False/None, torch.float16, "dynamic", repr of a float),
 * so a log from ampc reads like a log from apex. ampc_amp_policy_describe adds ampc's own fields
 * below apex's seven in the same format. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ampc/amp_policy.h>

#include "amp/policy_internal.h"
#include "core/error.h"

const char *ampc_amp_torch_dtype_name(ampc_dtype dtype)
{
    switch (dtype) {
    case AMPC_F64: return "torch.float64";
    case AMPC_F32: return "torch.float32";
    case AMPC_F16: return "torch.float16";
    case AMPC_BF16: return "torch.bfloat16";
    default: return ampc_dtype_name(dtype);
    }
}

/* Python's float repr: the fewest significant digits that read back to value, in fixed
 * notation for decimal exponents -4..15 (with ".0" when integral), scientific otherwise. */
void ampc_amp_format_float(double value, char *buffer)
{
    if (isnan(value)) {
        strcpy(buffer, "nan");
        return;
    }
    if (isinf(value)) {
        strcpy(buffer, value > 0 ? "inf" : "-inf");
        return;
    }
    int digits = 1;
    char scientific[40];
    for (; digits <= 17; digits++) {
        snprintf(scientific, sizeof scientific, "%.*e", digits - 1, value);
        if (strtod(scientific, NULL) == value)
            break;
    }
    int exponent = atoi(strchr(scientific, 'e') + 1);
    if (exponent < -4 || exponent >= 16) {
        strcpy(buffer, scientific);
        return;
    }
    int decimals = digits - 1 - exponent > 0 ? digits - 1 - exponent : 0;
    snprintf(buffer, 32, "%.*f", decimals, value);
    if (!strchr(buffer, '.'))
        strcat(buffer, ".0");
}

static const char *python_bool(bool value)
{
    return value ? "True" : "False";
}

const char *ampc_amp_python_flag(ampc_amp_flag flag)
{
    return flag == AMPC_AMP_TRUE ? "True" : flag == AMPC_AMP_FALSE ? "False" : "None";
}

static void print_line(FILE *out, const char *name, const char *value)
{
    fprintf(out, "%-22s : %s\n", name, value);
}

static void print_loss_scale(FILE *out, const char *name, double value)
{
    char text[32];
    ampc_amp_format_float(value, text);
    print_line(out, name, text);
}

void ampc_amp_print_options(const ampc_precision_policy *policy, FILE *out)
{
    print_line(out, "enabled", python_bool(policy->enabled));
    print_line(out, "opt_level", ampc_opt_level_name(policy->opt_level));
    print_line(out, "cast_model_type",
               policy->cast_model ? ampc_amp_torch_dtype_name(policy->cast_model_type) : "None");
    print_line(out, "patch_torch_functions", python_bool(policy->autocast));
    print_line(out, "keep_batchnorm_fp32", ampc_amp_python_flag(policy->keep_batchnorm_fp32));
    print_line(out, "master_weights", ampc_amp_python_flag(policy->master_weights));
    if (policy->dynamic_loss_scale)
        print_line(out, "loss_scale", "dynamic");
    else
        print_loss_scale(out, "loss_scale", policy->loss_scale);
}

ampc_status ampc_amp_policy_describe(const ampc_precision_policy *policy, FILE *out)
{
    static const char *function = "ampc_amp_policy_describe";
    if (!policy)
        return ampc_fail_null(function, "policy");
    if (!out)
        return ampc_fail_null(function, "out");
    ampc_amp_print_options(policy, out);
    print_line(out, "half_type", ampc_amp_torch_dtype_name(policy->half_type));
    print_line(out, "autocast_dtype", ampc_amp_torch_dtype_name(policy->autocast_dtype));
    if (policy->dynamic_loss_scale)
        print_loss_scale(out, "initial_loss_scale", policy->loss_scale);
    if (policy->min_loss_scale > 0)
        print_loss_scale(out, "min_loss_scale", policy->min_loss_scale);
    else
        print_line(out, "min_loss_scale", "None");
    print_loss_scale(out, "max_loss_scale", policy->max_loss_scale);
    fprintf(out, "%-22s : %d\n", "num_losses", policy->num_losses);
    print_line(out, "cast_model_outputs", policy->cast_model_outputs
                                              ? ampc_amp_torch_dtype_name(policy->model_output_dtype)
                                              : "None");
    fprintf(out, "%-22s : %d\n", "verbosity", policy->verbosity);
    return AMPC_OK;
}
