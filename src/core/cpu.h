/* Internal side of ampc/cpu.h: how a kernel family picks its path. */
#ifndef AMPC_CORE_CPU_H
#define AMPC_CORE_CPU_H

#include <stdbool.h>

#include <ampc/cpu.h>

/* Whether this machine supports the level (ignoring AMPC_ISA). */
bool ampc_cpu_supports(ampc_isa level);

/* The highest level <= the active ISA for which has_path[level] is true. has_path[SCALAR] must
 * be true: every family keeps its scalar reference. */
ampc_isa ampc_cpu_pick_path(const bool has_path[AMPC_ISA_COUNT]);

/* Parses "scalar", "avx2", ... Returns false for anything else. */
bool ampc_isa_from_name(const char *name, ampc_isa *isa);

#endif
