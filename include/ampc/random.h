/* A seeded, counter-based random generator (Philox4x32-10).
 *
 * Element i of a tensor filled from a generator depends only on (seed, offset + i), never on
 * the thread count or schedule, so results are the same with 1 or 64 threads. Each fill
 * advances the offset by the counters it consumed, so consecutive fills differ. Saving
 * (seed, offset) saves the generator exactly. */
#ifndef AMPC_RANDOM_H
#define AMPC_RANDOM_H

#include <stdint.h>

#include <ampc/error.h>
#include <ampc/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ampc_generator ampc_generator;

AMPC_API ampc_generator *ampc_generator_new(uint64_t seed);
AMPC_API void ampc_generator_free(ampc_generator *generator);
AMPC_API uint64_t ampc_generator_seed(const ampc_generator *generator);
/* The next unused counter (in units of 128-bit Philox blocks). */
AMPC_API uint64_t ampc_generator_offset(const ampc_generator *generator);
AMPC_API ampc_status ampc_generator_set_state(ampc_generator *generator, uint64_t seed,
                                              uint64_t offset);

#ifdef __cplusplus
}
#endif
#endif
