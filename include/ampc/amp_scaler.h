/* Loss scaling: apex.amp's LossScaler, its fused unscale + overflow check, and its state.
 *
 * A loss scaler holds the factor the loss is multiplied by before backward, so that small fp16
 * gradients do not flush to zero. A static scaler keeps its number forever and never detects
 * overflow. A dynamic one starts at min(init, max) (apex: 2^16, max 2^24) and, at each
 * ampc_loss_scaler_update, halves on overflow (not below min when min > 0) and doubles, capped
 * at max, after 2000 consecutive clean updates (apex scaler.py update_scale, step for step).
 *
 * One iteration (what amp's scale_loss does around backward):
 *     ampc_loss_scaler_clear_overflow(s);
 *     backward of loss * ampc_loss_scaler_scale(s)
 *     ampc_loss_scaler_unscale(s, model_grads, master_grads, n, false);  (fp32 masters = g/scale)
 *     if (ampc_loss_scaler_update(s)) { ampc_loss_scaler_report_skip(s, 0, 1, stdout); skip }
 *     else optimizer step
 * The unscale is one pass over each gradient buffer: it reads the model gradient (F32, F16 or
 * BF16), multiplies by 1/scale in fp32, writes (or adds into) the fp32 master gradient and ORs
 * an inf/NaN test of the input and the result into the scaler's overflow flag. On overflow the
 * masters are still written (as apex's fused kernel): their values are then meaningless and the
 * step must be skipped, which update() reports. Results never depend on the thread count.
 *
 * Accumulation (several backward passes per step, apex's delay_unscale): either leave the grads
 * scaled and unscale once (backward adds into them), or unscale each pass with accumulate=true
 * (master += g/scale, each pass by its own scale). A parameter that is its own master cannot
 * accumulate in place, since backward adds new scaled values onto unscaled ones: copy its grad
 * aside (the "stash") and zero it before the next backward, then call
 * ampc_loss_scaler_unscale_with_stashed (grad = grad/scale + stash). apex loses the stash when
 * the scale is static 1.0 with master weights (apex.md §3.6); ampc never skips it. */
#ifndef AMPC_AMP_SCALER_H
#define AMPC_AMP_SCALER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <ampc/error.h>
#include <ampc/export.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ampc_loss_scaler ampc_loss_scaler;

typedef enum ampc_loss_scale_kind {
    AMPC_LOSS_SCALE_STATIC,
    AMPC_LOSS_SCALE_DYNAMIC,
} ampc_loss_scale_kind;

/* apex's defaults for a dynamic scaler. */
#define AMPC_LOSS_SCALE_INIT 65536.0        /* 2^16 */
#define AMPC_LOSS_SCALE_MAX 16777216.0      /* 2^24 */
#define AMPC_LOSS_SCALE_WINDOW 2000

/* Static: init is the scale (finite, > 0); min and max must be 0. Dynamic: init 0 means 2^16,
 * max 0 means 2^24, min 0 means no floor (apex's None and 0); the start is min(init, max).
 * All finite, init > 0, 0 <= min <= max. */
AMPC_API ampc_loss_scaler *ampc_loss_scaler_new(ampc_loss_scale_kind kind, double init,
                                                double min, double max);
AMPC_API void ampc_loss_scaler_free(ampc_loss_scaler *scaler);

AMPC_API double ampc_loss_scaler_scale(const ampc_loss_scaler *scaler);
AMPC_API bool ampc_loss_scaler_is_dynamic(const ampc_loss_scaler *scaler);
/* Clean updates since the last change of scale (apex's _unskipped). */
AMPC_API int64_t ampc_loss_scaler_unskipped(const ampc_loss_scaler *scaler);
/* Whether an unscale since the last clear saw an inf or NaN (static scalers too). */
AMPC_API bool ampc_loss_scaler_had_overflow(const ampc_loss_scaler *scaler);
AMPC_API void ampc_loss_scaler_clear_overflow(ampc_loss_scaler *scaler);

/* master_grads[i] = model_grads[i] / scale, or += with accumulate. count >= 0 pairs; a NULL
 * model grad is skipped (a parameter backward did not reach). Each model grad is contiguous
 * F32, F16 or BF16; its master contiguous F32 with the same element count. A master may be
 * its model grad (F32, in place) except with accumulate. As apex: nothing happens when the
 * overflow flag is already set, nor for a static scale of 1.0 when every master is its model
 * grad. Fails (naming the argument and index) without touching anything on bad input. */
AMPC_API ampc_status ampc_loss_scaler_unscale(ampc_loss_scaler *scaler,
                                              ampc_tensor *const *model_grads,
                                              ampc_tensor *const *master_grads, int count,
                                              bool accumulate);
/* master_grads[i] = model_grads[i] / scale + stashed[i] (apex's unscale_with_stashed); a NULL
 * stashed[i] counts as zeros. stashed[i] is contiguous F32 of the same count and may be the
 * master; the master may be the model grad. Overflow is tested on the model grads and on the
 * results, so an inf already in the stash is caught too (apex checks the new grads only). */
AMPC_API ampc_status ampc_loss_scaler_unscale_with_stashed(ampc_loss_scaler *scaler,
                                                           ampc_tensor *const *model_grads,
                                                           ampc_tensor *const *stashed,
                                                           ampc_tensor *const *master_grads,
                                                           int count);

/* apex's update_scale: returns whether to skip this step (dynamic scaler that overflowed).
 * Overflow: scale = max(min, scale/2) (just scale/2 without a min), unskipped = 0. Otherwise
 * unskipped += 1. Then, for a dynamic scaler whose unskipped reached 2000: scale =
 * min(max, 2 scale), unskipped = 0. Does not clear the flag. */
AMPC_API bool ampc_loss_scaler_update(ampc_loss_scaler *scaler);

/* At verbosity >= 1, writes apex's skip line to out:
 * "Gradient overflow.  Skipping step, loss scaler 0 reducing loss scale to 32768.0\n"
 * (the current, already reduced scale, spelled as Python's repr of a float). */
AMPC_API ampc_status ampc_loss_scaler_report_skip(const ampc_loss_scaler *scaler, int loss_id,
                                                  int verbosity, FILE *out);
/* Python's repr of a float ("32768.0", "0.5", "1e-07", "inf") into buffer; returns buffer. */
AMPC_API const char *ampc_format_python_float(double value, char *buffer, size_t size);

/* --- state (amp.state_dict) -----------------------------------------------------------------
 * A scaler's state is two named scalars, as apex's {"loss_scaler<index>": {"loss_scale": x,
 * "unskipped": n}}: "loss_scaler<index>.loss_scale" and "loss_scaler<index>.unskipped". */
typedef struct ampc_named_scalar {
    char name[48];
    double value;
} ampc_named_scalar;

enum { AMPC_LOSS_SCALER_STATE_COUNT = 2 };

/* Fills out[0..1] for the scaler at index (>= 0). */
AMPC_API ampc_status ampc_loss_scaler_state_get(const ampc_loss_scaler *scaler, int index,
                                                ampc_named_scalar out[2]);
/* Restores loss_scale and unskipped from the entries named for index among count entries
 * (others are ignored). Both must be present; loss_scale finite > 0, unskipped a whole number
 * >= 0. Nothing changes on failure. */
AMPC_API ampc_status ampc_loss_scaler_state_set(ampc_loss_scaler *scaler, int index,
                                                const ampc_named_scalar *entries, int count);

#ifdef __cplusplus
}
#endif
#endif
