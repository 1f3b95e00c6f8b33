/* Symbol visibility for libampc. The library is built with hidden visibility; only what is
 * marked AMPC_API is exported from the shared object. */
#ifndef AMPC_EXPORT_H
#define AMPC_EXPORT_H

#if defined(AMPC_BUILDING)
#define AMPC_API __attribute__((visibility("default")))
#else
#define AMPC_API
#endif

#endif
