/* The attention softmax kernels, written once in attention_softmax_real.h and instantiated
 * here for float and double. */
#include "kernels/attention_kernels.h"

#include <ampc/cpu.h>

#include <math.h>
#include <tgmath.h>

/* Below this many scores a row loop is not worth waking threads for. */
enum { PARALLEL_MIN_ELEMENTS = 1 << 15 };

/* Keys query i = r % queries may see. */
static inline int64_t visible_keys(int64_t r, int64_t queries, int64_t keys, bool causal)
{
    if (!causal) return keys;
    int64_t i = r % queries;
    return i + 1 < keys ? i + 1 : keys;
}

#define real float
#include "kernels/attention_softmax_real.h"
#undef real

#define real double
#include "kernels/attention_softmax_real.h"
#undef real
