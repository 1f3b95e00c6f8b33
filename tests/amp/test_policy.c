/* The precision policy (src/amp/policy.c, policy_print.c): each opt level's defaults against
 * the table of apex's docs (seed 004) written out here by hand, every legal override applied,
 * every illegal one refused with apex's explanation, the level names, the BF16 half type, the
 * disabled config, and the verbosity output compared line by line with what apex prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>

#include <cmocka.h>

#include <ampc/amp_policy.h>

#include "../tensor/tensor_testing.h"
#include "amp/policy_internal.h"

/* A config at level, silent. */
static ampc_amp_config quiet_config(const char *level)
{
    ampc_amp_config config = ampc_amp_config_defaults();
    config.opt_level = level;
    config.verbosity = 0;
    return config;
}

static ampc_precision_policy resolve_ok(const ampc_amp_config *config)
{
    ampc_precision_policy policy;
    memset(&policy, 0xAB, sizeof policy);
    ampc_status status = ampc_amp_resolve(config, &policy);
    if (status != AMPC_OK)
        fail_msg("resolve failed: %s", ampc_error_message());
    return policy;
}

/* Resolving must fail with a message containing text and leave the policy untouched. */
static void expect_refused(const ampc_amp_config *config, const char *text)
{
    ampc_precision_policy policy, before;
    memset(&policy, 0x5A, sizeof policy);
    before = policy;
    assert_int_equal(ampc_amp_resolve(config, &policy), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, text);
    assert_memory_equal(&policy, &before, sizeof policy);
}

/* Field by field: structs compared with memcmp would compare their padding too. */
static void assert_policy_equal(const ampc_precision_policy *a, const ampc_precision_policy *b)
{
    assert_int_equal(a->enabled, b->enabled);
    assert_int_equal(a->opt_level, b->opt_level);
    assert_int_equal(a->half_type, b->half_type);
    assert_int_equal(a->cast_model, b->cast_model);
    assert_int_equal(a->cast_model_type, b->cast_model_type);
    assert_int_equal(a->autocast, b->autocast);
    assert_int_equal(a->autocast_dtype, b->autocast_dtype);
    assert_int_equal(a->keep_batchnorm_fp32, b->keep_batchnorm_fp32);
    assert_int_equal(a->master_weights, b->master_weights);
    assert_int_equal(a->dynamic_loss_scale, b->dynamic_loss_scale);
    assert_true(a->loss_scale == b->loss_scale);
    assert_true(a->min_loss_scale == b->min_loss_scale);
    assert_true(a->max_loss_scale == b->max_loss_scale);
    assert_int_equal(a->num_losses, b->num_losses);
    assert_int_equal(a->cast_model_outputs, b->cast_model_outputs);
    assert_int_equal(a->model_output_dtype, b->model_output_dtype);
    assert_int_equal(a->verbosity, b->verbosity);
}

/* seed 004 / apex.md 1.2, by hand: cast (none, F32, half), patch, keep, master, loss scale. */
typedef struct expected_row {
    const char *level;
    bool cast_model;
    ampc_dtype cast_model_type;
    bool autocast;
    ampc_amp_flag keep_batchnorm_fp32;
    ampc_amp_flag master_weights;
    bool dynamic;
    double loss_scale_start;
} expected_row;

static const expected_row SEED_TABLE[] = {
    {"O0", true, AMPC_F32, false, AMPC_AMP_UNSET, AMPC_AMP_FALSE, false, 1.0},
    {"O1", false, AMPC_F32, true, AMPC_AMP_UNSET, AMPC_AMP_UNSET, true, 65536.0},
    {"O2", true, AMPC_F16, false, AMPC_AMP_TRUE, AMPC_AMP_TRUE, true, 65536.0},
    {"O3", true, AMPC_F16, false, AMPC_AMP_FALSE, AMPC_AMP_FALSE, false, 1.0},
};

static void test_config_defaults_are_apex_initialize_defaults(void **state)
{
    (void)state;
    ampc_amp_config config = ampc_amp_config_defaults();
    assert_string_equal(config.opt_level, "O1");
    assert_int_equal(config.half_type, AMPC_F16);
    assert_int_equal(config.cast_model_type, AMPC_AMP_CAST_UNSET);
    assert_int_equal(config.patch_torch_functions, AMPC_AMP_UNSET);
    assert_int_equal(config.keep_batchnorm_fp32, AMPC_AMP_UNSET);
    assert_int_equal(config.master_weights, AMPC_AMP_UNSET);
    assert_null(config.loss_scale);
    assert_int_equal(config.num_losses, 1);
    assert_true(config.min_loss_scale == 0.0);
    assert_true(config.max_loss_scale == 16777216.0);
    assert_false(config.cast_model_outputs);
    assert_int_equal(config.verbosity, 1);
    assert_true(config.enabled);
    assert_null(config.log);
}

static void test_each_level_resolves_to_the_seed_table_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof SEED_TABLE / sizeof SEED_TABLE[0]; i++) {
        const expected_row *row = &SEED_TABLE[i];
        ampc_amp_config config = quiet_config(row->level);
        ampc_precision_policy policy = resolve_ok(&config);
        assert_true(policy.enabled);
        assert_int_equal(policy.opt_level, (ampc_opt_level)i);
        assert_int_equal(policy.half_type, AMPC_F16);
        assert_int_equal(policy.cast_model, row->cast_model);
        assert_int_equal(policy.cast_model_type, row->cast_model_type);
        assert_int_equal(policy.autocast, row->autocast);
        assert_int_equal(policy.autocast_dtype, AMPC_F16);
        assert_int_equal(policy.keep_batchnorm_fp32, row->keep_batchnorm_fp32);
        assert_int_equal(policy.master_weights, row->master_weights);
        assert_int_equal(policy.dynamic_loss_scale, row->dynamic);
        assert_true(policy.loss_scale == row->loss_scale_start);
        assert_true(policy.min_loss_scale == 0.0);
        assert_true(policy.max_loss_scale == 16777216.0);
        assert_int_equal(policy.num_losses, 1);
        /* apex casts outputs to fp32 exactly when it casts the model */
        assert_int_equal(policy.cast_model_outputs, row->cast_model);
        assert_int_equal(policy.model_output_dtype, AMPC_F32);
    }
}

static void test_dynamic_scale_starts_at_2_16_capped_by_max_loss_scale(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("O2");
    config.max_loss_scale = 1024.0;
    assert_true(resolve_ok(&config).loss_scale == 1024.0);
    config.max_loss_scale = INFINITY;
    assert_true(resolve_ok(&config).loss_scale == 65536.0);
    /* a static scale is not capped (apex) */
    config.loss_scale = "4096";
    config.max_loss_scale = 1024.0;
    ampc_precision_policy policy = resolve_ok(&config);
    assert_false(policy.dynamic_loss_scale);
    assert_true(policy.loss_scale == 4096.0);
}

static void test_cast_model_type_overrides_apply(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("O2");
    config.cast_model_type = AMPC_AMP_CAST_NONE;
    ampc_precision_policy policy = resolve_ok(&config);
    assert_false(policy.cast_model);
    assert_false(policy.cast_model_outputs);
    assert_int_equal(policy.master_weights, AMPC_AMP_TRUE);

    config.cast_model_type = AMPC_AMP_CAST_F32;
    policy = resolve_ok(&config);
    assert_true(policy.cast_model);
    assert_int_equal(policy.cast_model_type, AMPC_F32);

    config = quiet_config("O0");
    config.cast_model_type = AMPC_AMP_CAST_HALF;
    policy = resolve_ok(&config);
    assert_true(policy.cast_model);
    assert_int_equal(policy.cast_model_type, AMPC_F16);

    config = quiet_config("O1"); /* F32 and none are allowed at O1 */
    config.cast_model_type = AMPC_AMP_CAST_F32;
    policy = resolve_ok(&config);
    assert_true(policy.cast_model && policy.cast_model_type == AMPC_F32 && policy.autocast);
    config.cast_model_type = AMPC_AMP_CAST_NONE;
    assert_false(resolve_ok(&config).cast_model);
}

static void test_half_cast_at_o1_is_refused_with_apex_message(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("O1");
    config.cast_model_type = AMPC_AMP_CAST_HALF;
    expect_refused(&config,
                   "ampc_amp_resolve: O1 inserts casts around Torch functions rather than model "
                   "weights, so with O1, the model weights themselves should remain FP32. If you "
                   "wish to cast the model to a different type, use opt_level='O2' or 'O3'. "
                   "cast_model_type was torch.float16");
    config.half_type = AMPC_BF16;
    expect_refused(&config, "cast_model_type was torch.bfloat16");
}

static void test_patch_torch_functions_is_allowed_only_at_o1(void **state)
{
    (void)state;
    static const char *levels[] = {"O0", "O2", "O3"};
    for (int i = 0; i < 3; i++) {
        ampc_amp_config config = quiet_config(levels[i]);
        config.patch_torch_functions = AMPC_AMP_TRUE;
        expect_refused(&config, "ampc_amp_resolve: Currently, patch_torch_functions=True should "
                                "only be set by selecting opt_level='O1'.");
        config.patch_torch_functions = AMPC_AMP_FALSE;
        assert_false(resolve_ok(&config).autocast);
    }
    ampc_amp_config config = quiet_config("O1");
    config.patch_torch_functions = AMPC_AMP_FALSE;
    ampc_precision_policy policy = resolve_ok(&config);
    assert_false(policy.autocast);
    assert_true(policy.dynamic_loss_scale);
    config.patch_torch_functions = AMPC_AMP_TRUE;
    assert_true(resolve_ok(&config).autocast);
}

static void test_keep_batchnorm_fp32_needs_a_half_model(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("O1");
    config.keep_batchnorm_fp32 = AMPC_AMP_TRUE;
    expect_refused(&config, "ampc_amp_resolve: With opt_level O1, batchnorm functions are "
                            "automatically patched to run in FP32, so keep_batchnorm_fp32 should "
                            "be None. keep_batchnorm_fp32 was True");
    config.keep_batchnorm_fp32 = AMPC_AMP_FALSE;
    expect_refused(&config, "keep_batchnorm_fp32 should be None. keep_batchnorm_fp32 was False");

    config = quiet_config("O0"); /* apex ignores it; ampc refuses */
    config.keep_batchnorm_fp32 = AMPC_AMP_TRUE;
    expect_refused(&config, "ampc_amp_resolve: keep_batchnorm_fp32 only applies when the model is "
                            "cast to half, as O2 and O3 do; cast_model_type is torch.float32. "
                            "keep_batchnorm_fp32 was True");
    config = quiet_config("O2");
    config.cast_model_type = AMPC_AMP_CAST_NONE;
    config.keep_batchnorm_fp32 = AMPC_AMP_FALSE;
    expect_refused(&config, "cast_model_type is None. keep_batchnorm_fp32 was False");

    config = quiet_config("O2");
    config.keep_batchnorm_fp32 = AMPC_AMP_FALSE;
    assert_int_equal(resolve_ok(&config).keep_batchnorm_fp32, AMPC_AMP_FALSE);
    config = quiet_config("O3"); /* the seed's speed-of-light baseline */
    config.keep_batchnorm_fp32 = AMPC_AMP_TRUE;
    ampc_precision_policy policy = resolve_ok(&config);
    assert_int_equal(policy.keep_batchnorm_fp32, AMPC_AMP_TRUE);
    assert_int_equal(policy.master_weights, AMPC_AMP_FALSE);
    config = quiet_config("O0");
    config.cast_model_type = AMPC_AMP_CAST_HALF;
    config.keep_batchnorm_fp32 = AMPC_AMP_TRUE;
    assert_int_equal(resolve_ok(&config).keep_batchnorm_fp32, AMPC_AMP_TRUE);
}

static void test_master_weights_are_refused_at_o1_and_allowed_elsewhere(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("O1");
    config.master_weights = AMPC_AMP_TRUE;
    expect_refused(&config, "ampc_amp_resolve: It doesn't make sense to use master_weights with "
                            "O1. With O1, your model weights themselves should be FP32.");
    config.master_weights = AMPC_AMP_FALSE;
    expect_refused(&config, "It doesn't make sense to use master_weights with O1.");
    static const char *levels[] = {"O0", "O2", "O3"};
    for (int i = 0; i < 3; i++) {
        config = quiet_config(levels[i]);
        config.master_weights = AMPC_AMP_TRUE;
        assert_int_equal(resolve_ok(&config).master_weights, AMPC_AMP_TRUE);
        config.master_weights = AMPC_AMP_FALSE;
        assert_int_equal(resolve_ok(&config).master_weights, AMPC_AMP_FALSE);
    }
}

static void test_loss_scale_override_takes_dynamic_or_a_positive_number(void **state)
{
    (void)state;
    static const struct {
        const char *level, *text;
        bool dynamic;
        double value;
    } legal[] = {
        {"O0", "dynamic", true, 65536.0}, {"O3", "dynamic", true, 65536.0},
        {"O1", "128", false, 128.0},      {"O2", "128.0", false, 128.0},
        {"O1", "1e3", false, 1000.0},     {"O2", "0.5", false, 0.5},
        {"O1", "1", false, 1.0},
    };
    for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++) {
        ampc_amp_config config = quiet_config(legal[i].level);
        config.loss_scale = legal[i].text;
        ampc_precision_policy policy = resolve_ok(&config);
        assert_int_equal(policy.dynamic_loss_scale, legal[i].dynamic);
        assert_true(policy.loss_scale == legal[i].value);
    }
    static const char *illegal[] = {"0", "-1", "abc", "", "inf", "nan", "0x10", "1.5x",
                                    "Dynamic", " 1", "1e999"};
    for (size_t i = 0; i < sizeof illegal / sizeof illegal[0]; i++) {
        ampc_amp_config config = quiet_config("O1");
        config.loss_scale = illegal[i];
        char message[160];
        snprintf(message, sizeof message,
                 "ampc_amp_resolve: loss_scale \"%s\" is neither \"dynamic\" nor a positive "
                 "finite number",
                 illegal[i]);
        expect_refused(&config, message);
    }
}

static void test_unknown_opt_levels_are_refused_naming_the_letter_o(void **state)
{
    (void)state;
    static const char *names[] = {"01", "o1", "O4", "", "O1 ", "O"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ampc_amp_config config = quiet_config(names[i]);
        char message[160];
        snprintf(message, sizeof message,
                 "ampc_amp_resolve: opt_level \"%s\" is not one of O0, O1, O2, O3 (the first "
                 "character is the letter O)",
                 names[i]);
        expect_refused(&config, message);
    }
    ampc_amp_config config = quiet_config(NULL);
    expect_refused(&config, "ampc_amp_resolve: opt_level is NULL; expected one of O0, O1, O2, O3 "
                            "(the first character is the letter O)");
}

static void test_opt_level_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < AMPC_OPT_LEVEL_COUNT; i++) {
        ampc_opt_level level = AMPC_OPT_LEVEL_COUNT;
        assert_int_equal(ampc_opt_level_from_name(ampc_opt_level_name((ampc_opt_level)i), &level),
                         AMPC_OK);
        assert_int_equal(level, i);
    }
    assert_string_equal(ampc_opt_level_name(AMPC_O2), "O2");
    assert_string_equal(ampc_opt_level_name(AMPC_OPT_LEVEL_COUNT), "invalid");
    assert_string_equal(ampc_opt_level_name((ampc_opt_level)-1), "invalid");
    ampc_opt_level level;
    assert_int_equal(ampc_opt_level_from_name("02", &level), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ampc_opt_level_from_name: opt_level \"02\" is not "
                                            "one of O0, O1, O2, O3 (the first character is the "
                                            "letter O)");
    assert_int_equal(ampc_opt_level_from_name("O2", NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "level");
    assert_string_equal(ampc_amp_flag_name(AMPC_AMP_TRUE), "true");
    assert_string_equal(ampc_amp_flag_name(AMPC_AMP_FLAG_COUNT), "invalid");
    assert_string_equal(ampc_amp_cast_name(AMPC_AMP_CAST_HALF), "half");
    assert_string_equal(ampc_amp_cast_name(AMPC_AMP_CAST_COUNT), "invalid");
}

static void test_bf16_half_type_casts_and_autocasts_to_bf16(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("O1");
    config.half_type = AMPC_BF16;
    ampc_precision_policy policy = resolve_ok(&config);
    assert_true(policy.autocast);
    assert_int_equal(policy.autocast_dtype, AMPC_BF16);
    assert_int_equal(policy.half_type, AMPC_BF16);
    assert_false(policy.cast_model);
    static const char *levels[] = {"O2", "O3"};
    for (int i = 0; i < 2; i++) {
        config = quiet_config(levels[i]);
        config.half_type = AMPC_BF16;
        policy = resolve_ok(&config);
        assert_true(policy.cast_model);
        assert_int_equal(policy.cast_model_type, AMPC_BF16);
    }
    config = quiet_config("O0");
    config.half_type = AMPC_BF16;
    config.cast_model_type = AMPC_AMP_CAST_HALF;
    assert_int_equal(resolve_ok(&config).cast_model_type, AMPC_BF16);
}

static void test_disabled_config_resolves_to_plain_fp32(void **state)
{
    (void)state;
    ampc_precision_policy fp32 = ampc_amp_policy_fp32();
    assert_false(fp32.enabled);
    assert_false(fp32.cast_model);
    assert_false(fp32.autocast);
    assert_false(fp32.cast_model_outputs);
    assert_int_equal(fp32.master_weights, AMPC_AMP_FALSE);
    assert_int_equal(fp32.keep_batchnorm_fp32, AMPC_AMP_UNSET);
    assert_false(fp32.dynamic_loss_scale);
    assert_true(fp32.loss_scale == 1.0);
    assert_int_equal(fp32.opt_level, AMPC_O0);

    static const char *levels[] = {"O0", "O1", "O2", "O3"};
    for (int i = 0; i < 4; i++) {
        ampc_amp_config config = ampc_amp_config_defaults();
        config.opt_level = levels[i];
        config.enabled = false;
        config.half_type = AMPC_BF16;
        config.loss_scale = "128";
        config.cast_model_outputs = true;
        config.model_output_dtype = AMPC_F16;
        char *text = NULL;
        size_t size = 0;
        config.log = open_memstream(&text, &size);
        ampc_precision_policy policy = resolve_ok(&config);
        fclose(config.log);
        assert_int_equal(size, 0); /* apex prints nothing when disabled */
        free(text);
        assert_policy_equal(&policy, &fp32);
    }
    ampc_amp_config config = quiet_config("O2");
    config.enabled = false;
    config.num_losses = 3;
    ampc_precision_policy policy = resolve_ok(&config);
    assert_int_equal(policy.num_losses, 3);
    assert_int_equal(policy.verbosity, 0);
    policy.num_losses = 1;
    policy.verbosity = 1;
    assert_policy_equal(&policy, &fp32);
}

static void test_disabled_config_is_still_validated(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("01");
    config.enabled = false;
    expect_refused(&config, "opt_level \"01\" is not one of O0, O1, O2, O3");
    config = quiet_config("O1");
    config.enabled = false;
    config.master_weights = AMPC_AMP_TRUE;
    expect_refused(&config, "It doesn't make sense to use master_weights with O1.");
}

static void test_plain_values_out_of_range_are_refused(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("O1");
    config.num_losses = 0;
    expect_refused(&config, "ampc_amp_resolve: num_losses is 0; expected 1 to 65536");
    config.num_losses = -2;
    expect_refused(&config, "num_losses is -2; expected 1 to 65536");

    config = quiet_config("O2");
    config.min_loss_scale = 4096;
    config.max_loss_scale = 1024;
    expect_refused(&config, "ampc_amp_resolve: min_loss_scale 4096 is above max_loss_scale 1024; "
                            "expected min_loss_scale <= max_loss_scale");
    config = quiet_config("O2");
    config.max_loss_scale = 0;
    expect_refused(&config, "max_loss_scale is 0; expected a positive number");
    config.max_loss_scale = NAN;
    expect_refused(&config, "max_loss_scale is nan; expected a positive number");
    config = quiet_config("O2");
    config.min_loss_scale = -1;
    expect_refused(&config, "min_loss_scale is -1; expected 0 (no floor) or a positive finite");
    config.min_loss_scale = 2.0; /* a legal floor is kept */
    assert_true(resolve_ok(&config).min_loss_scale == 2.0);

    config = quiet_config("O1");
    config.verbosity = 3;
    expect_refused(&config, "ampc_amp_resolve: verbosity is 3; expected 0, 1 or 2");
    config.verbosity = -1;
    expect_refused(&config, "verbosity is -1; expected 0, 1 or 2");

    config = quiet_config("O1");
    config.half_type = AMPC_F32;
    expect_refused(&config, "ampc_amp_resolve: half_type is F32; expected F16 or BF16");
    config.half_type = AMPC_F8_E4M3;
    expect_refused(&config, "half_type is F8_E4M3; expected F16 or BF16");

    config = quiet_config("O1");
    config.cast_model_outputs = true;
    config.model_output_dtype = AMPC_I64;
    expect_refused(&config, "model_output_dtype is I64; expected F64, F32, F16 or BF16");

    config = quiet_config("O1");
    config.cast_model_type = (ampc_amp_cast)7;
    expect_refused(&config, "cast_model_type is 7; expected AMPC_AMP_CAST_UNSET");
    config = quiet_config("O1");
    config.patch_torch_functions = (ampc_amp_flag)9;
    expect_refused(&config, "patch_torch_functions is 9; expected AMPC_AMP_UNSET");
    config = quiet_config("O2");
    config.keep_batchnorm_fp32 = (ampc_amp_flag)-1;
    expect_refused(&config, "keep_batchnorm_fp32 is -1; expected AMPC_AMP_UNSET");
    config = quiet_config("O2");
    config.master_weights = AMPC_AMP_FLAG_COUNT;
    expect_refused(&config, "master_weights is 3; expected AMPC_AMP_UNSET");

    ampc_precision_policy policy;
    assert_int_equal(ampc_amp_resolve(NULL, &policy), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_amp_resolve: argument config is NULL");
    config = quiet_config("O1");
    assert_int_equal(ampc_amp_resolve(&config, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_amp_resolve: argument policy is NULL");
}

static void test_cast_model_outputs_applies_at_any_level(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("O1");
    assert_false(resolve_ok(&config).cast_model_outputs);
    config.cast_model_outputs = true;
    config.model_output_dtype = AMPC_F16;
    ampc_precision_policy policy = resolve_ok(&config);
    assert_true(policy.cast_model_outputs);
    assert_int_equal(policy.model_output_dtype, AMPC_F16);
    config = quiet_config("O2");
    config.cast_model_outputs = true;
    config.model_output_dtype = AMPC_F64;
    policy = resolve_ok(&config);
    assert_true(policy.cast_model_outputs);
    assert_int_equal(policy.model_output_dtype, AMPC_F64);
}

/* Resolves config with its log captured; returns the text (caller frees). */
static char *resolve_logged(ampc_amp_config config, ampc_status expected)
{
    char *text = NULL;
    size_t size = 0;
    config.log = open_memstream(&text, &size);
    assert_non_null(config.log);
    ampc_precision_policy policy;
    assert_int_equal(ampc_amp_resolve(&config, &policy), expected);
    fclose(config.log);
    return text;
}

static void test_verbosity_1_prints_apex_level_and_options_tables(void **state)
{
    (void)state;
    ampc_amp_config config = ampc_amp_config_defaults();
    char *text = resolve_logged(config, AMPC_OK);
    assert_string_equal(text,
                        "Selected optimization level O1:  Insert automatic casts around Pytorch "
                        "functions and Tensor methods.\n"
                        "\n"
                        "Defaults for this optimization level are:\n"
                        "enabled                : True\n"
                        "opt_level              : O1\n"
                        "cast_model_type        : None\n"
                        "patch_torch_functions  : True\n"
                        "keep_batchnorm_fp32    : None\n"
                        "master_weights         : None\n"
                        "loss_scale             : dynamic\n"
                        "Processing user overrides (additional kwargs that are not None)...\n"
                        "After processing overrides, optimization options are:\n"
                        "enabled                : True\n"
                        "opt_level              : O1\n"
                        "cast_model_type        : None\n"
                        "patch_torch_functions  : True\n"
                        "keep_batchnorm_fp32    : None\n"
                        "master_weights         : None\n"
                        "loss_scale             : dynamic\n");
    free(text);
}

static void test_verbosity_output_shows_overrides_applied(void **state)
{
    (void)state;
    ampc_amp_config config = ampc_amp_config_defaults();
    config.opt_level = "O2";
    config.keep_batchnorm_fp32 = AMPC_AMP_FALSE;
    config.loss_scale = "128";
    char *text = resolve_logged(config, AMPC_OK);
    assert_string_equal(text,
                        "Selected optimization level O2:  FP16 training with FP32 batchnorm and "
                        "FP32 master weights.\n"
                        "\n"
                        "Defaults for this optimization level are:\n"
                        "enabled                : True\n"
                        "opt_level              : O2\n"
                        "cast_model_type        : torch.float16\n"
                        "patch_torch_functions  : False\n"
                        "keep_batchnorm_fp32    : True\n"
                        "master_weights         : True\n"
                        "loss_scale             : dynamic\n"
                        "Processing user overrides (additional kwargs that are not None)...\n"
                        "After processing overrides, optimization options are:\n"
                        "enabled                : True\n"
                        "opt_level              : O2\n"
                        "cast_model_type        : torch.float16\n"
                        "patch_torch_functions  : False\n"
                        "keep_batchnorm_fp32    : False\n"
                        "master_weights         : True\n"
                        "loss_scale             : 128.0\n");
    free(text);

    /* O3's brief has no trailing newline in apex, so no blank line follows it; BF16 is named */
    config = ampc_amp_config_defaults();
    config.opt_level = "O3";
    config.half_type = AMPC_BF16;
    config.verbosity = 2;
    text = resolve_logged(config, AMPC_OK);
    const char *head = "Selected optimization level O3:  Pure BF16 training.\n"
                       "Defaults for this optimization level are:\n"
                       "enabled                : True\n"
                       "opt_level              : O3\n"
                       "cast_model_type        : torch.bfloat16\n"
                       "patch_torch_functions  : False\n"
                       "keep_batchnorm_fp32    : False\n"
                       "master_weights         : False\n"
                       "loss_scale             : 1.0\n";
    assert_memory_equal(text, head, strlen(head));
    free(text);
}

static void test_refused_override_prints_defaults_but_not_the_result(void **state)
{
    (void)state;
    ampc_amp_config config = ampc_amp_config_defaults();
    config.opt_level = "O0";
    config.patch_torch_functions = AMPC_AMP_TRUE;
    char *text = resolve_logged(config, AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "patch_torch_functions=True");
    assert_string_equal(text, "Selected optimization level O0:  Pure FP32 training.\n"
                              "\n"
                              "Defaults for this optimization level are:\n"
                              "enabled                : True\n"
                              "opt_level              : O0\n"
                              "cast_model_type        : torch.float32\n"
                              "patch_torch_functions  : False\n"
                              "keep_batchnorm_fp32    : None\n"
                              "master_weights         : False\n"
                              "loss_scale             : 1.0\n"
                              "Processing user overrides (additional kwargs that are not None)...\n");
    free(text);
    /* a bad plain value is refused before anything is printed */
    config = ampc_amp_config_defaults();
    config.num_losses = 0;
    text = resolve_logged(config, AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "num_losses");
    assert_string_equal(text, "");
    free(text);
}

static void test_verbosity_0_prints_nothing(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("O2");
    char *text = resolve_logged(config, AMPC_OK);
    assert_string_equal(text, "");
    free(text);
}

static void test_describe_prints_apex_options_then_ampc_fields(void **state)
{
    (void)state;
    ampc_amp_config config = quiet_config("O2");
    config.min_loss_scale = 1.0;
    config.num_losses = 3;
    ampc_precision_policy policy = resolve_ok(&config);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    assert_int_equal(ampc_amp_policy_describe(&policy, out), AMPC_OK);
    fclose(out);
    assert_string_equal(text, "enabled                : True\n"
                              "opt_level              : O2\n"
                              "cast_model_type        : torch.float16\n"
                              "patch_torch_functions  : False\n"
                              "keep_batchnorm_fp32    : True\n"
                              "master_weights         : True\n"
                              "loss_scale             : dynamic\n"
                              "half_type              : torch.float16\n"
                              "autocast_dtype         : torch.float16\n"
                              "initial_loss_scale     : 65536.0\n"
                              "min_loss_scale         : 1.0\n"
                              "max_loss_scale         : 16777216.0\n"
                              "num_losses             : 3\n"
                              "cast_model_outputs     : torch.float32\n"
                              "verbosity              : 0\n");
    free(text);
    assert_int_equal(ampc_amp_policy_describe(NULL, stderr), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_amp_policy_describe: argument policy is NULL");
    assert_int_equal(ampc_amp_policy_describe(&policy, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_amp_policy_describe: argument out is NULL");
}

static void test_loss_scales_print_as_python_repr(void **state)
{
    (void)state;
    static const struct {
        double value;
        const char *text;
    } cases[] = {
        {1.0, "1.0"},       {128.0, "128.0"},     {65536.0, "65536.0"}, {16777216.0, "16777216.0"},
        {0.5, "0.5"},       {0.1, "0.1"},         {1e-05, "1e-05"},     {0.0001, "0.0001"},
        {1e16, "1e+16"},    {1e15, "1000000000000000.0"},               {123.456, "123.456"},
        {1.5e-7, "1.5e-07"}, {INFINITY, "inf"},   {100000.0, "100000.0"},
        {1.2345678901234568e17, "1.2345678901234568e+17"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[32];
        ampc_amp_format_float(cases[i].value, text);
        assert_string_equal(text, cases[i].text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_defaults_are_apex_initialize_defaults),
        cmocka_unit_test(test_each_level_resolves_to_the_seed_table_row),
        cmocka_unit_test(test_dynamic_scale_starts_at_2_16_capped_by_max_loss_scale),
        cmocka_unit_test(test_cast_model_type_overrides_apply),
        cmocka_unit_test(test_half_cast_at_o1_is_refused_with_apex_message),
        cmocka_unit_test(test_patch_torch_functions_is_allowed_only_at_o1),
        cmocka_unit_test(test_keep_batchnorm_fp32_needs_a_half_model),
        cmocka_unit_test(test_master_weights_are_refused_at_o1_and_allowed_elsewhere),
        cmocka_unit_test(test_loss_scale_override_takes_dynamic_or_a_positive_number),
        cmocka_unit_test(test_unknown_opt_levels_are_refused_naming_the_letter_o),
        cmocka_unit_test(test_opt_level_names_round_trip),
        cmocka_unit_test(test_bf16_half_type_casts_and_autocasts_to_bf16),
        cmocka_unit_test(test_disabled_config_resolves_to_plain_fp32),
        cmocka_unit_test(test_disabled_config_is_still_validated),
        cmocka_unit_test(test_plain_values_out_of_range_are_refused),
        cmocka_unit_test(test_cast_model_outputs_applies_at_any_level),
        cmocka_unit_test(test_verbosity_1_prints_apex_level_and_options_tables),
        cmocka_unit_test(test_verbosity_output_shows_overrides_applied),
        cmocka_unit_test(test_refused_override_prints_defaults_but_not_the_result),
        cmocka_unit_test(test_verbosity_0_prints_nothing),
        cmocka_unit_test(test_describe_prints_apex_options_then_ampc_fields),
        cmocka_unit_test(test_loss_scales_print_as_python_repr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
