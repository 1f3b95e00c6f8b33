/* The precision policy: the one object every mixed-precision front end produces.
 *
 * A policy says, for one training run, what dtype the model's params are cast to, whether
 * autocast runs and in which half type, whether batchnorm stays fp32, whether the optimizer
 * keeps fp32 master weights, and how the loss is scaled. apex's opt levels O0-O3 map to it
 * through ampc_amp_resolve (Lightning's precision flags will map to it too); the layers below
 * (model casting, autocast, master weights, the loss scaler) read only the policy.
 *
 * The opt levels are one table of rows (docs/amp_policy.md), exactly as apex's docs list them:
 *
 *   level  cast_model_type  patch_torch_functions  keep_batchnorm_fp32  master_weights  loss_scale
 *   O0     F32              false                  unset                false           1.0
 *   O1     none             true                   unset                unset           dynamic
 *   O2     half             false                  true                 true            dynamic
 *   O3     half             false                  false                false           1.0
 *
 * "half" is the config's half_type: F16 as in apex, or BF16, which apex does not offer.
 * Resolving applies the level's row, then each override the config sets, each through the one
 * validating setter of its property; an override that makes no sense for the level is refused
 * with apex's explanation. A dynamic loss scale starts at min(2^16, max_loss_scale). */
#ifndef AMPC_AMP_POLICY_H
#define AMPC_AMP_POLICY_H

#include <stdbool.h>
#include <stdio.h>

#include <ampc/dtype.h>
#include <ampc/error.h>
#include <ampc/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only. */
typedef enum ampc_opt_level {
    AMPC_O0, /* pure fp32 */
    AMPC_O1, /* autocast around ops; fp32 weights */
    AMPC_O2, /* half model, fp32 batchnorm, fp32 master weights */
    AMPC_O3, /* pure half */
    AMPC_OPT_LEVEL_COUNT
} ampc_opt_level;

/* A yes/no property that can also be "not applicable" (apex's None). In a config, UNSET means
 * "no override: keep the level's value". Append-only. */
typedef enum ampc_amp_flag {
    AMPC_AMP_UNSET,
    AMPC_AMP_FALSE,
    AMPC_AMP_TRUE,
    AMPC_AMP_FLAG_COUNT
} ampc_amp_flag;

/* What the model's floating params and buffers are cast to. Append-only. */
typedef enum ampc_amp_cast {
    AMPC_AMP_CAST_UNSET, /* config only: keep the level's value */
    AMPC_AMP_CAST_NONE,  /* leave the model alone (apex's None or False) */
    AMPC_AMP_CAST_F32,
    AMPC_AMP_CAST_HALF,  /* the half type */
    AMPC_AMP_CAST_COUNT
} ampc_amp_cast;

typedef struct ampc_precision_policy {
    bool enabled;                      /* false: plain fp32, nothing cast or scaled */
    ampc_opt_level opt_level;
    ampc_dtype half_type;              /* F16 or BF16: what "half" means below */
    bool cast_model;                   /* cast the model's floating params and buffers */
    ampc_dtype cast_model_type;        /* F32 or half_type (F32 when !cast_model) */
    bool autocast;                     /* apex's patch_torch_functions */
    ampc_dtype autocast_dtype;         /* the dtype autocast's lower-precision list runs in */
    ampc_amp_flag keep_batchnorm_fp32; /* UNSET: not applicable */
    ampc_amp_flag master_weights;      /* UNSET: not applicable; only TRUE keeps masters */
    bool dynamic_loss_scale;
    double loss_scale;                 /* the static scale, or the dynamic scale's start */
    double min_loss_scale;             /* dynamic floor; 0: none */
    double max_loss_scale;             /* dynamic cap */
    int num_losses;                    /* one loss scaler per loss */
    bool cast_model_outputs;           /* cast the model's floating outputs */
    ampc_dtype model_output_dtype;     /* their dtype when cast_model_outputs */
    int verbosity;                     /* 0 silent, 1 apex's messages, 2 also every cast */
} ampc_precision_policy;

/* What a user asks for: ampc_amp_initialize's config. Start from ampc_amp_config_defaults(). */
typedef struct ampc_amp_config {
    const char *opt_level;             /* "O0".."O3" (letter O); default "O1" */
    ampc_dtype half_type;              /* F16 (default) or BF16 */
    /* Overrides of the level's five properties; the UNSET/NULL default keeps the level's. */
    ampc_amp_cast cast_model_type;
    ampc_amp_flag patch_torch_functions;
    ampc_amp_flag keep_batchnorm_fp32;
    ampc_amp_flag master_weights;
    const char *loss_scale;            /* NULL, "dynamic" or a positive number such as "128" */
    int num_losses;                    /* >= 1; default 1 */
    double min_loss_scale;             /* 0 (default): no floor; else positive, <= max */
    double max_loss_scale;             /* default 2^24; positive (+inf: no cap) */
    bool cast_model_outputs;           /* default false: outputs fp32 when the model is cast */
    ampc_dtype model_output_dtype;     /* F64, F32, F16 or BF16, used when cast_model_outputs */
    int verbosity;                     /* 0, 1 (default) or 2 */
    bool enabled;                      /* default true */
    FILE *log;                         /* where verbosity >= 1 prints; NULL: stderr */
} ampc_amp_config;

/* The config of apex's amp.initialize with no keyword arguments: O1, F16, no overrides. */
AMPC_API ampc_amp_config ampc_amp_config_defaults(void);

/* Resolves config into *policy: the level's row, then the overrides. At verbosity >= 1 prints
 * what apex prints: the selected level, the options before and after the overrides. Refuses
 * (AMPC_ERR_INVALID_ARGUMENT, *policy untouched) an unknown level, a value out of range, or
 * an override that makes no sense for the level, with apex's explanation. Every field is
 * validated even when enabled is false; a disabled config then resolves to
 * ampc_amp_policy_fp32() with the config's num_losses and verbosity, and prints nothing. */
AMPC_API ampc_status ampc_amp_resolve(const ampc_amp_config *config, ampc_precision_policy *policy);

/* The plain fp32 policy: disabled, nothing cast, no autocast, static loss scale 1. */
AMPC_API ampc_precision_policy ampc_amp_policy_fp32(void);

/* Prints apex's options table for policy ("enabled                : True", ...) followed by
 * ampc's own fields (half_type, num_losses, loss-scale bounds, model outputs) in the same
 * format. Fails on a NULL argument. */
AMPC_API ampc_status ampc_amp_policy_describe(const ampc_precision_policy *policy, FILE *out);

/* "O0".."O3"; "invalid" otherwise. */
AMPC_API const char *ampc_opt_level_name(ampc_opt_level level);
/* Parses "O0".."O3" (exactly; the first character is the letter O). */
AMPC_API ampc_status ampc_opt_level_from_name(const char *name, ampc_opt_level *level);
/* "unset", "false", "true"; "invalid" otherwise. */
AMPC_API const char *ampc_amp_flag_name(ampc_amp_flag flag);
/* "unset", "none", "F32", "half"; "invalid" otherwise. */
AMPC_API const char *ampc_amp_cast_name(ampc_amp_cast cast);

#ifdef __cplusplus
}
#endif
#endif
