/* The loss scaler's fields, shared by scaler.c (state machine, state, message) and
 * scaler_unscale.c (the fused pass). */
#ifndef AMPC_AMP_SCALER_INTERNAL_H
#define AMPC_AMP_SCALER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/amp_scaler.h>

struct ampc_loss_scaler {
    ampc_loss_scale_kind kind;
    double scale;
    double min_scale; /* 0: no floor */
    double max_scale;
    int64_t unskipped;
    bool overflow;
};

#endif
