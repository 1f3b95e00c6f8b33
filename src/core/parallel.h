/* The one way ampc runs a loop of fixed-size chunks on its threads. Chunk boundaries depend
 * only on the element count, never on the thread count, so any kernel that treats each chunk
 * alone gives the same bits on any number of threads. Every thread runs with the default FP
 * environment (round to nearest, no flush-to-zero), whatever the caller set. */
#ifndef AMPC_CORE_PARALLEL_H
#define AMPC_CORE_PARALLEL_H

#include <stdint.h>

typedef void (*ampc_chunk_fn)(const void *context, int64_t chunk, int64_t count);

/* Calls body(context, chunk, count) for chunk = 0 .. ceil(count / chunk_size) - 1; on
 * ampc_num_threads() threads when count >= parallel_min, else on the calling thread. */
void ampc_parallel_chunks(int64_t count, int64_t chunk_size, int64_t parallel_min,
                          ampc_chunk_fn body, const void *context);

#endif
