/* The loss scaler's state machine (apex scaler.py: construction and update_scale, in apex's
 * order of operations), its state as named scalars (amp.state_dict) and the skip message. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amp/scaler_internal.h"
#include "core/error.h"

static bool positive_finite(double value) { return isfinite(value) && value > 0; }

static ampc_status check_dynamic_bounds(double init, double min, double max)
{
    static const char *const function = "ampc_loss_scaler_new";
    if (!positive_finite(init))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "init is %g; expected a finite value > 0 (0 for the default 2^16)", init);
    if (!positive_finite(max))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "max is %g; expected a finite value > 0 (0 for the default 2^24)", max);
    if (!(isfinite(min) && min >= 0 && min <= max))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "min is %g; expected a finite value in [0, max = %g] (0 for no floor)",
                         min, max);
    return AMPC_OK;
}

ampc_loss_scaler *ampc_loss_scaler_new(ampc_loss_scale_kind kind, double init, double min,
                                       double max)
{
    static const char *const function = "ampc_loss_scaler_new";
    if (kind == AMPC_LOSS_SCALE_STATIC) {
        if (!positive_finite(init)) {
            ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                      "init is %g; expected a finite static scale > 0", init);
            return NULL;
        }
        if (min != 0 || max != 0) {
            ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                      "min is %g and max is %g; expected 0 and 0 for a static scaler", min, max);
            return NULL;
        }
    } else if (kind == AMPC_LOSS_SCALE_DYNAMIC) {
        if (init == 0) init = AMPC_LOSS_SCALE_INIT;
        if (max == 0) max = AMPC_LOSS_SCALE_MAX;
        if (check_dynamic_bounds(init, min, max) != AMPC_OK) return NULL;
    } else {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "kind is %d; expected AMPC_LOSS_SCALE_STATIC or AMPC_LOSS_SCALE_DYNAMIC",
                  (int)kind);
        return NULL;
    }
    ampc_loss_scaler *scaler = calloc(1, sizeof *scaler);
    if (!scaler) {
        ampc_fail_oom(function, sizeof *scaler);
        return NULL;
    }
    scaler->kind = kind;
    scaler->scale = kind == AMPC_LOSS_SCALE_DYNAMIC ? fmin(max, init) : init;
    scaler->min_scale = min;
    scaler->max_scale = max;
    return scaler;
}

void ampc_loss_scaler_free(ampc_loss_scaler *scaler) { free(scaler); }

double ampc_loss_scaler_scale(const ampc_loss_scaler *scaler)
{
    if (!scaler) {
        ampc_fail_null("ampc_loss_scaler_scale", "scaler");
        return NAN;
    }
    return scaler->scale;
}

bool ampc_loss_scaler_is_dynamic(const ampc_loss_scaler *scaler)
{
    return scaler && scaler->kind == AMPC_LOSS_SCALE_DYNAMIC;
}

int64_t ampc_loss_scaler_unskipped(const ampc_loss_scaler *scaler)
{
    if (!scaler) {
        ampc_fail_null("ampc_loss_scaler_unskipped", "scaler");
        return -1;
    }
    return scaler->unskipped;
}

bool ampc_loss_scaler_had_overflow(const ampc_loss_scaler *scaler)
{
    return scaler && scaler->overflow;
}

void ampc_loss_scaler_clear_overflow(ampc_loss_scaler *scaler)
{
    if (scaler) scaler->overflow = false;
}

bool ampc_loss_scaler_update(ampc_loss_scaler *scaler)
{
    if (!scaler) {
        ampc_fail_null("ampc_loss_scaler_update", "scaler");
        return false;
    }
    bool dynamic = scaler->kind == AMPC_LOSS_SCALE_DYNAMIC;
    bool skip = false;
    if (scaler->overflow && dynamic) {
        skip = true;
        double half = scaler->scale / 2.;
        scaler->scale = scaler->min_scale ? fmax(scaler->min_scale, half) : half;
        scaler->unskipped = 0;
    } else {
        scaler->unskipped += 1;
    }
    if (scaler->unskipped == AMPC_LOSS_SCALE_WINDOW && dynamic) {
        scaler->scale = fmin(scaler->max_scale, scaler->scale * 2.);
        scaler->unskipped = 0;
    }
    return skip;
}

/* Python's float repr: the shortest digits that read back, positional for exponents in
 * [-4, 16), else d.ddde+XX. */
const char *ampc_format_python_float(double value, char *buffer, size_t size)
{
    if (!buffer || size == 0) return buffer;
    if (isnan(value)) {
        snprintf(buffer, size, "nan");
        return buffer;
    }
    if (isinf(value)) {
        snprintf(buffer, size, value < 0 ? "-inf" : "inf");
        return buffer;
    }
    char scientific[40];
    int precision = 1;
    for (; precision <= 17; precision++) {
        snprintf(scientific, sizeof scientific, "%.*e", precision - 1, value);
        if (strtod(scientific, NULL) == value) break;
    }
    /* scientific: [-]d[.ddd]e[+-]XX */
    const char *p = scientific;
    bool negative = *p == '-';
    if (negative) p++;
    char digits[20];
    int count = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[count++] = *p;
    while (count > 1 && digits[count - 1] == '0') count--;
    digits[count] = '\0';
    int exponent = atoi(p + 1);
    char out[64];
    int length = 0;
    if (negative) out[length++] = '-';
    if (exponent >= -4 && exponent < 16) {
        if (exponent < 0) {
            length += sprintf(out + length, "0.");
            for (int i = 0; i < -exponent - 1; i++) out[length++] = '0';
            length += sprintf(out + length, "%s", digits);
        } else {
            for (int i = 0; i <= exponent; i++) out[length++] = i < count ? digits[i] : '0';
            out[length++] = '.';
            if (count > exponent + 1)
                length += sprintf(out + length, "%s", digits + exponent + 1);
            else
                out[length++] = '0';
        }
        out[length] = '\0';
    } else {
        out[length++] = digits[0];
        if (count > 1) {
            out[length++] = '.';
            length += sprintf(out + length, "%s", digits + 1);
        }
        sprintf(out + length, "e%c%02d", exponent < 0 ? '-' : '+', abs(exponent));
    }
    snprintf(buffer, size, "%s", out);
    return buffer;
}

ampc_status ampc_loss_scaler_report_skip(const ampc_loss_scaler *scaler, int loss_id,
                                         int verbosity, FILE *out)
{
    static const char *const function = "ampc_loss_scaler_report_skip";
    if (!scaler) return ampc_fail_null(function, "scaler");
    if (verbosity < 1) return AMPC_OK;
    if (!out) return ampc_fail_null(function, "out");
    char number[64];
    ampc_format_python_float(scaler->scale, number, sizeof number);
    if (fprintf(out, "Gradient overflow.  Skipping step, loss scaler %d reducing loss scale to %s\n",
                loss_id, number) < 0)
        return ampc_fail(AMPC_ERR_IO, function, "writing the message failed");
    return AMPC_OK;
}

static void state_name(char name[48], int index, const char *field)
{
    snprintf(name, 48, "loss_scaler%d.%s", index, field);
}

ampc_status ampc_loss_scaler_state_get(const ampc_loss_scaler *scaler, int index,
                                       ampc_named_scalar out[2])
{
    static const char *const function = "ampc_loss_scaler_state_get";
    if (!scaler) return ampc_fail_null(function, "scaler");
    if (!out) return ampc_fail_null(function, "out");
    if (index < 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "index is %d; expected >= 0",
                         index);
    state_name(out[0].name, index, "loss_scale");
    out[0].value = scaler->scale;
    state_name(out[1].name, index, "unskipped");
    out[1].value = (double)scaler->unskipped;
    return AMPC_OK;
}

static const ampc_named_scalar *find_entry(const ampc_named_scalar *entries, int count,
                                           const char *name)
{
    for (int i = 0; i < count; i++)
        if (strncmp(entries[i].name, name, sizeof entries[i].name) == 0) return &entries[i];
    return NULL;
}

ampc_status ampc_loss_scaler_state_set(ampc_loss_scaler *scaler, int index,
                                       const ampc_named_scalar *entries, int count)
{
    static const char *const function = "ampc_loss_scaler_state_set";
    if (!scaler) return ampc_fail_null(function, "scaler");
    if (!entries && count > 0) return ampc_fail_null(function, "entries");
    if (index < 0 || count < 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "index is %d and count %d; expected both >= 0", index, count);
    char scale_name[48], unskipped_name[48];
    state_name(scale_name, index, "loss_scale");
    state_name(unskipped_name, index, "unskipped");
    const ampc_named_scalar *scale = find_entry(entries, count, scale_name);
    const ampc_named_scalar *unskipped = find_entry(entries, count, unskipped_name);
    if (!scale || !unskipped)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "entries lack \"%s\"; expected both \"%s\" and \"%s\"",
                         scale ? unskipped_name : scale_name, scale_name, unskipped_name);
    if (!positive_finite(scale->value))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "\"%s\" is %g; expected a finite value > 0", scale_name, scale->value);
    double n = unskipped->value;
    if (!(n >= 0 && n <= 9007199254740992.0 && n == floor(n)))
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                         "\"%s\" is %g; expected a whole number >= 0", unskipped_name, n);
    scaler->scale = scale->value;
    scaler->unskipped = (int64_t)n;
    return AMPC_OK;
}
