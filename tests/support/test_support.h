/* Helpers shared by the cmocka tests. Include after cmocka's prerequisites:
 *     #include <setjmp.h> #include <stdarg.h> #include <stddef.h> #include <stdint.h>
 *     #include <cmocka.h> */
#ifndef AMPC_TEST_SUPPORT_H
#define AMPC_TEST_SUPPORT_H

#include <stdint.h>
#include <string.h>

#include <ampc/cpu.h>

/* CTest's skip code (SKIP_RETURN_CODE in tests/CMakeLists.txt). */
#define AMPC_TEST_SKIPPED 77

/* For "ctest: per-isa" tests: 0 if the level named by AMPC_ISA is the active one, else prints
 * why and returns AMPC_TEST_SKIPPED (the machine lacks that level, so running would only repeat
 * a lower level's run). Use as: `int skip = ampc_test_require_isa(); if (skip) return skip;` */
int ampc_test_require_isa(void);

/* Bit-pattern views of floats, for tests that enumerate or compare encodings. */
static inline float f32_of_bits(uint32_t bits)
{
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

static inline uint32_t bits_of_f32(float value)
{
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

static inline double f64_of_bits(uint64_t bits)
{
    double value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* xorshift32: a fixed, seedable stream of bit patterns (state must start nonzero). */
static inline uint32_t next_random(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

#endif
