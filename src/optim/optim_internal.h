/* What the optimizer and schedule files share: the two argument checks every constructor and
 * setter of ampc/optim.h uses, so each error reads the same. */
#ifndef AMPC_OPTIM_INTERNAL_H
#define AMPC_OPTIM_INTERNAL_H

#include <stdint.h>

#include <ampc/error.h>

/* value must be finite and >= 0 (NaN fails): "FIELD is V; expected a finite value >= 0". */
ampc_status ampc_optim_check_nonnegative(const char *function, const char *field, double value);

/* count must be >= minimum: "FIELD is V; expected >= MINIMUM". */
ampc_status ampc_optim_check_at_least(const char *function, const char *field, int64_t count,
                                      int64_t minimum);

#endif
