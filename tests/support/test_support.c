/* Shared test helpers; see test_support.h. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/cpu.h"

int ampc_test_require_isa(void)
{
    const char *requested = getenv("AMPC_ISA");
    ampc_isa level;
    if (!requested || !ampc_isa_from_name(requested, &level)) return 0;
    if (ampc_cpu_active_isa() == level) return 0;
    printf("skipped: AMPC_ISA=%s, but this machine's best level is %s\n", requested,
           ampc_isa_name(ampc_cpu_best_isa()));
    return AMPC_TEST_SKIPPED;
}
