/* The per-thread sticky error behind ampc/error.h. Messages are formatted into a fixed buffer
 * so that reporting an out-of-memory error never needs memory. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

enum { MESSAGE_CAPACITY = 1024 };

static _Thread_local ampc_status pending_status = AMPC_OK;
static _Thread_local char pending_message[MESSAGE_CAPACITY];

static const char *const status_names[AMPC_STATUS_COUNT] = {
    [AMPC_OK] = "AMPC_OK",
    [AMPC_ERR_INVALID_ARGUMENT] = "AMPC_ERR_INVALID_ARGUMENT",
    [AMPC_ERR_NULL_ARGUMENT] = "AMPC_ERR_NULL_ARGUMENT",
    [AMPC_ERR_OUT_OF_MEMORY] = "AMPC_ERR_OUT_OF_MEMORY",
    [AMPC_ERR_UNSUPPORTED] = "AMPC_ERR_UNSUPPORTED",
    [AMPC_ERR_IO] = "AMPC_ERR_IO",
    [AMPC_ERR_FORMAT] = "AMPC_ERR_FORMAT",
};

ampc_status ampc_error_status(void) { return pending_status; }

const char *ampc_error_message(void) { return pending_message; }

void ampc_error_clear(void)
{
    pending_status = AMPC_OK;
    pending_message[0] = '\0';
}

const char *ampc_status_name(ampc_status status)
{
    if ((unsigned)status >= AMPC_STATUS_COUNT) return "invalid";
    return status_names[status];
}

ampc_status ampc_fail(ampc_status status, const char *function, const char *format, ...)
{
    AMPC_ASSERT(status != AMPC_OK);
    if (pending_status != AMPC_OK) return status;
    pending_status = status;
    int prefix = snprintf(pending_message, MESSAGE_CAPACITY, "%s: ", function);
    if (prefix < 0 || prefix >= MESSAGE_CAPACITY) return status;
    va_list args;
    va_start(args, format);
    vsnprintf(pending_message + prefix, (size_t)(MESSAGE_CAPACITY - prefix), format, args);
    va_end(args);
    return status;
}

ampc_status ampc_fail_null(const char *function, const char *argument)
{
    if (pending_status != AMPC_OK) return pending_status;
    return ampc_fail(AMPC_ERR_NULL_ARGUMENT, function, "argument %s is NULL", argument);
}

ampc_status ampc_fail_oom(const char *function, size_t bytes)
{
    return ampc_fail(AMPC_ERR_OUT_OF_MEMORY, function, "could not allocate %zu bytes", bytes);
}

void ampc_assert_failed(const char *file, int line, const char *condition)
{
    fprintf(stderr, "ampc: internal error at %s:%d: assertion `%s` failed\n", file, line,
            condition);
    abort();
}
