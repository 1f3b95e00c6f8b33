/* Errors: status codes plus one sticky, per-thread message.
 *
 * A function that can fail returns an ampc_status (or NULL) and leaves a message naming the
 * function, the argument, what was given and what was expected. The first error on a thread
 * stays until ampc_error_clear(), so a chain of calls can be checked once at the end:
 *
 *     ampc_tensor *y = ampc_tensor_transpose(ampc_tensor_reshape(x, 2, shape), 0, 1);
 *     if (!y) fprintf(stderr, "%s\n", ampc_error_message());
 *
 * Every function accepts NULL where it expects an object and fails without crashing; if an
 * error is already pending, the NULL is taken as its propagation and the message is kept. */
#ifndef AMPC_ERROR_H
#define AMPC_ERROR_H

#include <ampc/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Append-only. */
typedef enum ampc_status {
    AMPC_OK = 0,
    AMPC_ERR_INVALID_ARGUMENT, /* a bad value, shape, dtype, index or flag */
    AMPC_ERR_NULL_ARGUMENT,    /* NULL where an object was required */
    AMPC_ERR_OUT_OF_MEMORY,
    AMPC_ERR_UNSUPPORTED,      /* valid request this build or CPU cannot do */
    AMPC_ERR_IO,               /* a file could not be opened, read or written */
    AMPC_ERR_FORMAT,           /* a file or string is malformed */
    AMPC_STATUS_COUNT
} ampc_status;

/* The pending status on this thread, AMPC_OK if none. */
AMPC_API ampc_status ampc_error_status(void);
/* The pending message on this thread, "" if none. Valid until the next ampc_error_clear(). */
AMPC_API const char *ampc_error_message(void);
AMPC_API void ampc_error_clear(void);
/* "AMPC_OK", "AMPC_ERR_INVALID_ARGUMENT", ... */
AMPC_API const char *ampc_status_name(ampc_status status);

#ifdef __cplusplus
}
#endif
#endif
