/* Internal side of ampc/error.h: how library code reports a failure, and the one assert for
 * internal invariants (programmer errors in ampc itself, never user input). */
#ifndef AMPC_CORE_ERROR_H
#define AMPC_CORE_ERROR_H

#include <stddef.h>

#include <ampc/error.h>

/* Records "function: message" as this thread's error unless one is already pending (the first
 * error is the cause; later ones are its consequences). Returns status, for `return ampc_fail(...)`. */
ampc_status ampc_fail(ampc_status status, const char *function, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* For a NULL object argument: records "function: argument NAME is NULL" unless an error is
 * pending (then the NULL is that error propagating). Returns AMPC_ERR_NULL_ARGUMENT or the
 * pending status. */
ampc_status ampc_fail_null(const char *function, const char *argument);

/* Allocation failure with the byte count. */
ampc_status ampc_fail_oom(const char *function, size_t bytes);

_Noreturn void ampc_assert_failed(const char *file, int line, const char *condition);

#define AMPC_ASSERT(condition) \
    ((condition) ? (void)0 : ampc_assert_failed(__FILE__, __LINE__, #condition))

#endif
