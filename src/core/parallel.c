/* Chunked loops on ampc's threads; see parallel.h. */
#include "core/parallel.h"

#include <ampc/cpu.h>

#include "core/fpenv.h"

void ampc_parallel_chunks(int64_t count, int64_t chunk_size, int64_t parallel_min,
                          ampc_chunk_fn body, const void *context)
{
    int64_t chunks = (count + chunk_size - 1) / chunk_size;
    int threads = count >= parallel_min ? ampc_num_threads() : 1;
    if (threads == 1 || chunks < 2) {
        uint32_t caller_fpenv = ampc_fpenv_set_default();
        for (int64_t chunk = 0; chunk < chunks; chunk++) body(context, chunk, count);
        ampc_fpenv_restore(caller_fpenv);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
        uint32_t caller_fpenv = ampc_fpenv_set_default();
#pragma omp for schedule(static)
        for (int64_t chunk = 0; chunk < chunks; chunk++) body(context, chunk, count);
        ampc_fpenv_restore(caller_fpenv);
    }
}
