/* The opt-level table and the resolver that turns an ampc_amp_config into a precision policy
 * (ampc/amp_policy.h), as apex's frontend.py does with its Properties object.
 *
 * Each opt level is one row of data. Resolving first checks the config's plain values (level
 * name, half type, counts, loss-scale bounds), then applies the level's row and then the
 * config's overrides, every property going through its one validating setter. A setter checks
 * the value against the policy as it stands at that moment (apex validates against the
 * current opt_level the same way), and refuses nonsense with apex's own explanation. The work
 * happens on a local copy, so a refused config leaves the caller's policy untouched.
 *
 * Where apex accepts nonsense (a zero or negative static loss scale, min above max, a
 * keep_batchnorm_fp32 override when the model is not cast to half) ampc refuses it; see
 * docs/amp_policy.md. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <ampc/amp_policy.h>

#include "amp/policy_internal.h"
#include "core/error.h"

#define DYNAMIC_INITIAL_SCALE 65536.0 /* apex LossScaler init_scale, 2^16 */
#define MAX_NUM_LOSSES 65536          /* one scaler each; more is a bug in the caller */

typedef struct opt_level_row {
    ampc_opt_level level;
    const char *brief; /* apex's, with %s for the half type ("FP16") */
    ampc_amp_cast cast_model_type;
    bool patch_torch_functions;
    ampc_amp_flag keep_batchnorm_fp32;
    ampc_amp_flag master_weights;
    const char *loss_scale;
} opt_level_row;

/* apex/amp/frontend.py O0..O3, in its order. The briefs keep apex's text, including the
 * missing newline after O3's. */
static const opt_level_row OPT_LEVELS[AMPC_OPT_LEVEL_COUNT] = {
    {AMPC_O0, "O0:  Pure FP32 training.\n", AMPC_AMP_CAST_F32, false, AMPC_AMP_UNSET,
     AMPC_AMP_FALSE, "1.0"},
    {AMPC_O1, "O1:  Insert automatic casts around Pytorch functions and Tensor methods.\n",
     AMPC_AMP_CAST_NONE, true, AMPC_AMP_UNSET, AMPC_AMP_UNSET, "dynamic"},
    {AMPC_O2, "O2:  %s training with FP32 batchnorm and FP32 master weights.\n",
     AMPC_AMP_CAST_HALF, false, AMPC_AMP_TRUE, AMPC_AMP_TRUE, "dynamic"},
    {AMPC_O3, "O3:  Pure %s training.", AMPC_AMP_CAST_HALF, false, AMPC_AMP_FALSE,
     AMPC_AMP_FALSE, "1.0"},
};

static const char *const OPT_LEVEL_NAMES[AMPC_OPT_LEVEL_COUNT] = {"O0", "O1", "O2", "O3"};

const char *ampc_opt_level_name(ampc_opt_level level)
{
    return (unsigned)level < AMPC_OPT_LEVEL_COUNT ? OPT_LEVEL_NAMES[level] : "invalid";
}

const char *ampc_amp_flag_name(ampc_amp_flag flag)
{
    static const char *const names[AMPC_AMP_FLAG_COUNT] = {"unset", "false", "true"};
    return (unsigned)flag < AMPC_AMP_FLAG_COUNT ? names[flag] : "invalid";
}

const char *ampc_amp_cast_name(ampc_amp_cast cast)
{
    static const char *const names[AMPC_AMP_CAST_COUNT] = {"unset", "none", "F32", "half"};
    return (unsigned)cast < AMPC_AMP_CAST_COUNT ? names[cast] : "invalid";
}

static ampc_status parse_opt_level(const char *function, const char *name, ampc_opt_level *level)
{
    if (!name)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "opt_level is NULL; expected one of O0, O1, O2, O3 "
                         "(the first character is the letter O)");
    for (int i = 0; i < AMPC_OPT_LEVEL_COUNT; i++)
        if (strcmp(name, OPT_LEVEL_NAMES[i]) == 0) {
            *level = (ampc_opt_level)i;
            return AMPC_OK;
        }
    return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                     "opt_level \"%.40s\" is not one of O0, O1, O2, O3 "
                     "(the first character is the letter O)",
                     name);
}

ampc_status ampc_opt_level_from_name(const char *name, ampc_opt_level *level)
{
    if (!level)
        return ampc_fail_null("ampc_opt_level_from_name", "level");
    return parse_opt_level("ampc_opt_level_from_name", name, level);
}

ampc_amp_config ampc_amp_config_defaults(void)
{
    return (ampc_amp_config){
        .opt_level = "O1",
        .half_type = AMPC_F16,
        .cast_model_type = AMPC_AMP_CAST_UNSET,
        .patch_torch_functions = AMPC_AMP_UNSET,
        .keep_batchnorm_fp32 = AMPC_AMP_UNSET,
        .master_weights = AMPC_AMP_UNSET,
        .loss_scale = NULL,
        .num_losses = 1,
        .min_loss_scale = 0.0,
        .max_loss_scale = 16777216.0, /* 2^24 */
        .cast_model_outputs = false,
        .model_output_dtype = AMPC_F32,
        .verbosity = 1,
        .enabled = true,
        .log = NULL,
    };
}

ampc_precision_policy ampc_amp_policy_fp32(void)
{
    return (ampc_precision_policy){
        .enabled = false,
        .opt_level = AMPC_O0,
        .half_type = AMPC_F16,
        .cast_model = false,
        .cast_model_type = AMPC_F32,
        .autocast = false,
        .autocast_dtype = AMPC_F16,
        .keep_batchnorm_fp32 = AMPC_AMP_UNSET,
        .master_weights = AMPC_AMP_FALSE,
        .dynamic_loss_scale = false,
        .loss_scale = 1.0,
        .min_loss_scale = 0.0,
        .max_loss_scale = 16777216.0,
        .num_losses = 1,
        .cast_model_outputs = false,
        .model_output_dtype = AMPC_F32,
        .verbosity = 1,
    };
}

static const char *cast_type_name(const ampc_precision_policy *policy, ampc_amp_cast cast)
{
    if (cast == AMPC_AMP_CAST_F32)
        return ampc_amp_torch_dtype_name(AMPC_F32);
    if (cast == AMPC_AMP_CAST_HALF)
        return ampc_amp_torch_dtype_name(policy->half_type);
    return "None";
}

/* ---- the five validating setters (apex Properties.__setattr__) ---- */

static ampc_status set_cast_model_type(const char *function, ampc_precision_policy *policy,
                                       ampc_amp_cast cast)
{
    AMPC_ASSERT(cast != AMPC_AMP_CAST_UNSET && (unsigned)cast < AMPC_AMP_CAST_COUNT);
    if (policy->opt_level == AMPC_O1 && cast == AMPC_AMP_CAST_HALF)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "O1 inserts casts around Torch functions rather than model weights, so "
                         "with O1, the model weights themselves should remain FP32. If you wish "
                         "to cast the model to a different type, use opt_level='O2' or 'O3'. "
                         "cast_model_type was %s",
                         cast_type_name(policy, cast));
    policy->cast_model = cast != AMPC_AMP_CAST_NONE;
    policy->cast_model_type = cast == AMPC_AMP_CAST_HALF ? policy->half_type : AMPC_F32;
    return AMPC_OK;
}

static ampc_status check_flag(const char *function, const char *name, ampc_amp_flag flag)
{
    if ((unsigned)flag >= AMPC_AMP_FLAG_COUNT)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "%s is %d; expected AMPC_AMP_UNSET, AMPC_AMP_FALSE or AMPC_AMP_TRUE", name,
                         (int)flag);
    return AMPC_OK;
}

static ampc_status set_patch_torch_functions(const char *function, ampc_precision_policy *policy,
                                             bool patch)
{
    if (policy->opt_level != AMPC_O1 && patch)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "Currently, patch_torch_functions=True should only be set by selecting "
                         "opt_level='O1'.");
    policy->autocast = patch;
    return AMPC_OK;
}

static ampc_status set_keep_batchnorm_fp32(const char *function, ampc_precision_policy *policy,
                                           ampc_amp_flag keep)
{
    if (policy->opt_level == AMPC_O1 && keep != AMPC_AMP_UNSET)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "With opt_level O1, batchnorm functions are automatically patched to run "
                         "in FP32, so keep_batchnorm_fp32 should be None. keep_batchnorm_fp32 "
                         "was %s",
                         ampc_amp_python_flag(keep));
    /* apex lets this through and ignores it; keeping batchnorm fp32 means something only when
     * the rest of the model is cast to half. */
    bool model_is_half = policy->cast_model && policy->cast_model_type != AMPC_F32;
    if (keep != AMPC_AMP_UNSET && !model_is_half)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "keep_batchnorm_fp32 only applies when the model is cast to half, as O2 "
                         "and O3 do; cast_model_type is %s. keep_batchnorm_fp32 was %s",
                         policy->cast_model ? ampc_amp_torch_dtype_name(policy->cast_model_type)
                                            : "None",
                         ampc_amp_python_flag(keep));
    policy->keep_batchnorm_fp32 = keep;
    return AMPC_OK;
}

static ampc_status set_master_weights(const char *function, ampc_precision_policy *policy,
                                      ampc_amp_flag master)
{
    if (policy->opt_level == AMPC_O1 && master != AMPC_AMP_UNSET)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "It doesn't make sense to use master_weights with O1. With O1, your "
                         "model weights themselves should be FP32.");
    policy->master_weights = master;
    return AMPC_OK;
}

/* "dynamic", or a decimal number (Python's float() syntax without inf/nan) that is positive
 * and finite. apex takes any float, zero and negatives included. */
static ampc_status set_loss_scale(const char *function, ampc_precision_policy *policy,
                                  const char *text)
{
    if (strcmp(text, "dynamic") == 0) {
        policy->dynamic_loss_scale = true;
        policy->loss_scale = fmin(DYNAMIC_INITIAL_SCALE, policy->max_loss_scale);
        return AMPC_OK;
    }
    bool decimal = text[0] != '\0';
    for (const char *c = text; *c; c++)
        if (!isdigit((unsigned char)*c) && !strchr(".eE+-", *c))
            decimal = false;
    char *end = NULL;
    double value = decimal ? strtod(text, &end) : NAN;
    if (!decimal || *end != '\0' || !isfinite(value) || value <= 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "loss_scale \"%.40s\" is neither \"dynamic\" nor a positive finite number "
                         "(such as \"128\" or \"1.0\")",
                         text);
    policy->dynamic_loss_scale = false;
    policy->loss_scale = value;
    return AMPC_OK;
}

/* ---- resolving ---- */

/* The config's values that are not properties: checked before anything is printed. */
static ampc_status check_plain_values(const char *function, const ampc_amp_config *config)
{
    if (config->half_type != AMPC_F16 && config->half_type != AMPC_BF16)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "half_type is %s; expected F16 or BF16", ampc_dtype_name(config->half_type));
    if (config->verbosity < 0 || config->verbosity > 2)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "verbosity is %d; expected 0, 1 or 2", config->verbosity);
    if (config->num_losses < 1 || config->num_losses > MAX_NUM_LOSSES)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "num_losses is %d; expected 1 to %d", config->num_losses, MAX_NUM_LOSSES);
    if (!(config->max_loss_scale > 0))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "max_loss_scale is %g; expected a positive number (+inf: no cap)",
                         config->max_loss_scale);
    if (!(config->min_loss_scale >= 0) || isinf(config->min_loss_scale))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "min_loss_scale is %g; expected 0 (no floor) or a positive finite number",
                         config->min_loss_scale);
    if (config->min_loss_scale > config->max_loss_scale)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "min_loss_scale %g is above max_loss_scale %g; expected min_loss_scale "
                         "<= max_loss_scale",
                         config->min_loss_scale, config->max_loss_scale);
    ampc_dtype out = config->model_output_dtype;
    if (config->cast_model_outputs && out != AMPC_F64 && out != AMPC_F32 && out != AMPC_F16 &&
        out != AMPC_BF16)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "model_output_dtype is %s; expected F64, F32, F16 or BF16",
                         ampc_dtype_name(out));
    if ((unsigned)config->cast_model_type >= AMPC_AMP_CAST_COUNT)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "cast_model_type is %d; expected AMPC_AMP_CAST_UNSET, _NONE, _F32 or "
                         "_HALF",
                         (int)config->cast_model_type);
    ampc_status status = check_flag(function, "patch_torch_functions",
                                    config->patch_torch_functions);
    if (status == AMPC_OK)
        status = check_flag(function, "keep_batchnorm_fp32", config->keep_batchnorm_fp32);
    if (status == AMPC_OK)
        status = check_flag(function, "master_weights", config->master_weights);
    return status;
}

/* apex's opt-level callable: enabled, then opt_level (the setters read it), then the rest. */
static void apply_row(const char *function, const opt_level_row *row, ampc_precision_policy *policy)
{
    policy->enabled = true;
    policy->opt_level = row->level;
    ampc_status status = set_cast_model_type(function, policy, row->cast_model_type);
    if (status == AMPC_OK)
        status = set_patch_torch_functions(function, policy, row->patch_torch_functions);
    if (status == AMPC_OK)
        status = set_keep_batchnorm_fp32(function, policy, row->keep_batchnorm_fp32);
    if (status == AMPC_OK)
        status = set_master_weights(function, policy, row->master_weights);
    if (status == AMPC_OK)
        status = set_loss_scale(function, policy, row->loss_scale);
    AMPC_ASSERT(status == AMPC_OK); /* the table is consistent with its own setters */
}

/* apex initialize step 7: each override that is set, in apex's order. */
static ampc_status apply_overrides(const char *function, const ampc_amp_config *config,
                                   ampc_precision_policy *policy)
{
    ampc_status status = AMPC_OK;
    if (config->cast_model_type != AMPC_AMP_CAST_UNSET)
        status = set_cast_model_type(function, policy, config->cast_model_type);
    if (status == AMPC_OK && config->patch_torch_functions != AMPC_AMP_UNSET)
        status = set_patch_torch_functions(function, policy,
                                           config->patch_torch_functions == AMPC_AMP_TRUE);
    if (status == AMPC_OK && config->keep_batchnorm_fp32 != AMPC_AMP_UNSET)
        status = set_keep_batchnorm_fp32(function, policy, config->keep_batchnorm_fp32);
    if (status == AMPC_OK && config->master_weights != AMPC_AMP_UNSET)
        status = set_master_weights(function, policy, config->master_weights);
    if (status == AMPC_OK && config->loss_scale)
        status = set_loss_scale(function, policy, config->loss_scale);
    return status;
}

static void print_selected_level(const opt_level_row *row, ampc_dtype half_type, FILE *log)
{
    const char *half = half_type == AMPC_BF16 ? "BF16" : "FP16";
    fputs("Selected optimization level ", log);
    fprintf(log, row->brief, half);
    fputs("\nDefaults for this optimization level are:\n", log);
}

ampc_status ampc_amp_resolve_as(const char *function, const ampc_amp_config *config,
                                ampc_precision_policy *policy)
{
    if (!config)
        return ampc_fail_null(function, "config");
    if (!policy)
        return ampc_fail_null(function, "policy");
    ampc_opt_level level = AMPC_O1;
    ampc_status status = parse_opt_level(function, config->opt_level, &level);
    if (status == AMPC_OK)
        status = check_plain_values(function, config);
    if (status != AMPC_OK)
        return status;

    ampc_precision_policy resolved = ampc_amp_policy_fp32();
    resolved.num_losses = config->num_losses;
    resolved.verbosity = config->verbosity;
    resolved.half_type = config->half_type;
    resolved.autocast_dtype = config->half_type;
    resolved.min_loss_scale = config->min_loss_scale;
    resolved.max_loss_scale = config->max_loss_scale;
    /* A disabled config is still checked whole, silently, so that flipping enabled back on
     * cannot reveal an error it was hiding. */
    FILE *log = NULL;
    if (config->enabled && config->verbosity > 0)
        log = config->log ? config->log : stderr;
    const opt_level_row *row = &OPT_LEVELS[level];
    apply_row(function, row, &resolved);
    if (log) {
        print_selected_level(row, config->half_type, log);
        ampc_amp_print_options(&resolved, log);
        fputs("Processing user overrides (additional kwargs that are not None)...\n", log);
    }
    status = apply_overrides(function, config, &resolved);
    if (status != AMPC_OK)
        return status;
    if (log) {
        fputs("After processing overrides, optimization options are:\n", log);
        ampc_amp_print_options(&resolved, log);
    }
    /* apex casts outputs to fp32 whenever it casts the model, else only when asked. */
    resolved.cast_model_outputs = config->cast_model_outputs || resolved.cast_model;
    resolved.model_output_dtype = config->cast_model_outputs ? config->model_output_dtype : AMPC_F32;
    if (!config->enabled) {
        resolved = ampc_amp_policy_fp32();
        resolved.num_losses = config->num_losses;
        resolved.verbosity = config->verbosity;
    }
    *policy = resolved;
    return AMPC_OK;
}

ampc_status ampc_amp_resolve(const ampc_amp_config *config, ampc_precision_policy *policy)
{
    return ampc_amp_resolve_as("ampc_amp_resolve", config, policy);
}
