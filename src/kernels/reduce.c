/* Instantiates the kernels of reduce_real.h for float and double, plus the sizing helpers
 * they share. See reduce.h for the layout and the determinism rule. */
#include "kernels/reduce.h"

#include <math.h>
#include <stddef.h>

#include <ampc/cpu.h>

/* Columns per task when reducing over a non-innermost dim: enough to vectorise, small
 * enough that a wide reduction still splits across threads. */
#define REDUCE_INNER_BLOCK 256

/* Below this many elements of work a loop stays on the calling thread. */
#define REDUCE_PARALLEL_MIN_WORK (1 << 15)

int reduce_threads(int64_t work)
{
    return work < REDUCE_PARALLEL_MIN_WORK ? 1 : ampc_num_threads();
}

static int64_t reduce_chunk_count(int64_t size)
{
    return size <= REDUCE_CHUNK ? 1 : (size + REDUCE_CHUNK - 1) / REDUCE_CHUNK;
}

int64_t reduce_workspace_size(int64_t outer, int64_t size, int64_t inner)
{
    int64_t chunks = reduce_chunk_count(size);
    return chunks > 1 ? outer * chunks * inner : 0;
}

#define REAL float
#define SUFFIX f32
#define EXP expf
#define LOG logf
#define LOG1P log1pf
#define FABS fabsf
#include "kernels/reduce_real.h"
#undef REAL
#undef SUFFIX
#undef EXP
#undef LOG
#undef LOG1P
#undef FABS

#define REAL double
#define SUFFIX f64
#define EXP exp
#define LOG log
#define LOG1P log1p
#define FABS fabs
#include "kernels/reduce_real.h"
