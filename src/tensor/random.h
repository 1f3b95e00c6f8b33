/* Internal side of ampc/random.h: the Philox4x32-10 block function and the fill built on it.
 *
 * Both are exposed so that tests can check the block function against the Random123 known
 * answers and run one fill with several thread counts. Where each value comes from:
 *
 *   uniform: value i is word i % 4 of block (offset + i / 4), as (word >> 8) * 2^-24, which is
 *            in [0, 1) and exact in fp32; then low + (high - low) * u in fp32.
 *   normal:  value i uses words 2 * (i % 2) and 2 * (i % 2) + 1 of block (offset + i / 2) as u1,
 *            u2 = word * 2^-32, and is sqrt(-2 ln(1 - u1)) * cos(2 pi u2) (Box-Muller, cosine
 *            branch only), computed in double and rounded to fp32. 1 - u1 is never 0.
 *
 * A block's counter is the 128-bit sum offset + block number; the key is the 64-bit seed,
 * low word first. */
#ifndef AMPC_TENSOR_RANDOM_H
#define AMPC_TENSOR_RANDOM_H

#include <stddef.h>
#include <stdint.h>

#include <ampc/dtype.h>
#include <ampc/error.h>

typedef enum ampc_random_distribution {
    AMPC_RANDOM_UNIFORM, /* [low, high) */
    AMPC_RANDOM_NORMAL,  /* mean 0, standard deviation 1 */
    AMPC_RANDOM_DISTRIBUTION_COUNT
} ampc_random_distribution;

/* One Philox4x32-10 block: four random words from a 128-bit counter and a 64-bit key. */
void ampc_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

/* Writes n values of a float dtype into contiguous data, drawn in fp32 from the stream
 * (seed, offset) as above and converted to dtype, using `threads` OpenMP threads. The
 * result does not depend on `threads`. low and high are read for UNIFORM only. */
ampc_status ampc_random_fill(void *data, ampc_dtype dtype, size_t n,
                             ampc_random_distribution distribution, float low, float high,
                             uint64_t seed, uint64_t offset, int threads);

/* Blocks a fill of n values consumes: ceil(n / 4) uniform, ceil(n / 2) normal. */
uint64_t ampc_random_blocks_used(ampc_random_distribution distribution, size_t n);

#endif
