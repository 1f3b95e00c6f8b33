/* Random numbers: the Philox4x32-10 generator and the rand, uniform and randn fills.
 *
 * Philox (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) is counter
 * based: block b is a pure function of (key, counter b), so any thread can compute any part
 * of a fill with no shared state, and the result is the same for every thread count. The
 * generator is just (seed, offset); a fill reads blocks offset, offset + 1, ... and moves the
 * offset past them. random.h says which block and word each value comes from. */
#include <ampc/cpu.h>
#include <ampc/random.h>

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "core/error.h"
#include "tensor/random.h"
#include "tensor/tensor_internal.h"

/* The Philox4x32 multipliers and Weyl key increments (Random123's defaults). */
#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u
#define PHILOX_ROUNDS 10

/* Values per parallel task: a multiple of 4 (and 2) so that no block straddles two tasks. */
#define FILL_CHUNK 1024
/* Below this many values a fill stays on the calling thread. */
#define PARALLEL_MIN_VALUES ((size_t)1 << 15)

#define TWO_PI 6.283185307179586476925286766559

struct ampc_generator {
    uint64_t seed;
    uint64_t offset; /* the next unused block */
};

static void philox_round(uint32_t counter[4], const uint32_t key[2])
{
    uint64_t product0 = (uint64_t)PHILOX_M0 * counter[0];
    uint64_t product1 = (uint64_t)PHILOX_M1 * counter[2];
    uint32_t next[4] = {
        (uint32_t)(product1 >> 32) ^ counter[1] ^ key[0],
        (uint32_t)product1,
        (uint32_t)(product0 >> 32) ^ counter[3] ^ key[1],
        (uint32_t)product0,
    };
    for (int word = 0; word < 4; word++) counter[word] = next[word];
}

void ampc_philox4x32_10(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t state[4] = {counter[0], counter[1], counter[2], counter[3]};
    uint32_t round_key[2] = {key[0], key[1]};
    for (int round = 0; round < PHILOX_ROUNDS; round++) {
        if (round > 0) {
            round_key[0] += PHILOX_W0;
            round_key[1] += PHILOX_W1;
        }
        philox_round(state, round_key);
    }
    for (int word = 0; word < 4; word++) out[word] = state[word];
}

/* Block `block` of the stream that starts at `offset`: counter = offset + block in 128 bits. */
static void stream_block(const uint32_t key[2], uint64_t offset, uint64_t block,
                         uint32_t out[4])
{
    uint64_t low = offset + block;
    uint32_t counter[4] = {(uint32_t)low, (uint32_t)(low >> 32), low < offset ? 1u : 0u, 0};
    ampc_philox4x32_10(counter, key, out);
}

/* The top 24 bits, so every value is an exact fp32 in [0, 1). */
static float unit_uniform(uint32_t word) { return (float)(word >> 8) * 0x1p-24f; }

/* Rounding low + span * u to fp32 can land on high; the largest fp32 below it keeps the
 * interval half-open. */
static float scaled_uniform(uint32_t word, float low, float high)
{
    float value = low + (high - low) * unit_uniform(word);
    return value >= high && low < high ? nextafterf(high, low) : value;
}

static float box_muller(uint32_t radius_word, uint32_t angle_word)
{
    double u1 = radius_word * 0x1p-32, u2 = angle_word * 0x1p-32;
    return (float)(sqrt(-2.0 * log(1.0 - u1)) * cos(TWO_PI * u2));
}

/* Values first .. first + count - 1 of the stream into out[0 .. count - 1]. */
static void draw(float *out, size_t first, size_t count, ampc_random_distribution distribution,
                 float low, float high, const uint32_t key[2], uint64_t offset)
{
    size_t per_block = distribution == AMPC_RANDOM_UNIFORM ? 4 : 2;
    uint32_t words[4];
    for (size_t i = first; i < first + count; i++) {
        size_t position = i % per_block;
        if (i == first || position == 0) stream_block(key, offset, i / per_block, words);
        out[i - first] = distribution == AMPC_RANDOM_UNIFORM
                             ? scaled_uniform(words[position], low, high)
                             : box_muller(words[2 * position], words[2 * position + 1]);
    }
}

uint64_t ampc_random_blocks_used(ampc_random_distribution distribution, size_t n)
{
    size_t per_block = distribution == AMPC_RANDOM_UNIFORM ? 4 : 2;
    return (uint64_t)((n + per_block - 1) / per_block);
}

ampc_status ampc_random_fill(void *data, ampc_dtype dtype, size_t n,
                             ampc_random_distribution distribution, float low, float high,
                             uint64_t seed, uint64_t offset, int threads)
{
    AMPC_ASSERT(ampc_dtype_is_float(dtype) && threads >= 1);
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    int64_t chunks = (int64_t)((n + FILL_CHUNK - 1) / FILL_CHUNK);
    size_t element_size = ampc_dtype_size(dtype);
    ampc_status status = AMPC_OK;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && chunks > 1)
    for (int64_t chunk = 0; chunk < chunks; chunk++) {
        size_t first = (size_t)chunk * FILL_CHUNK;
        size_t count = n - first < FILL_CHUNK ? n - first : FILL_CHUNK;
        float values[FILL_CHUNK];
        /* fp32 is drawn straight into place; other dtypes are drawn then converted. */
        float *out = dtype == AMPC_F32 ? (float *)data + first : values;
        draw(out, first, count, distribution, low, high, key, offset);
        if (dtype == AMPC_F32) continue;
        ampc_status chunk_status = ampc_convert((char *)data + first * element_size, dtype,
                                                values, AMPC_F32, count);
        if (chunk_status != AMPC_OK) {
#pragma omp critical(ampc_random_status)
            status = chunk_status;
        }
    }
    return status;
}

/* --- generators --------------------------------------------------------------------------- */

ampc_generator *ampc_generator_new(uint64_t seed)
{
    ampc_generator *generator = malloc(sizeof *generator);
    if (!generator) {
        ampc_fail_oom(__func__, sizeof *generator);
        return NULL;
    }
    *generator = (ampc_generator){.seed = seed, .offset = 0};
    return generator;
}

void ampc_generator_free(ampc_generator *generator) { free(generator); }

uint64_t ampc_generator_seed(const ampc_generator *generator)
{
    if (!generator) {
        ampc_fail_null(__func__, "generator");
        return 0;
    }
    return generator->seed;
}

uint64_t ampc_generator_offset(const ampc_generator *generator)
{
    if (!generator) {
        ampc_fail_null(__func__, "generator");
        return 0;
    }
    return generator->offset;
}

ampc_status ampc_generator_set_state(ampc_generator *generator, uint64_t seed, uint64_t offset)
{
    if (!generator) return ampc_fail_null(__func__, "generator");
    generator->seed = seed;
    generator->offset = offset;
    return AMPC_OK;
}

/* --- random tensors ---------------------------------------------------------------------- */

static ampc_tensor *random_tensor(const char *function, ampc_generator *generator,
                                  ampc_dtype dtype, int ndim, const int64_t *shape,
                                  ampc_random_distribution distribution, float low, float high)
{
    if (!generator) return ampc_null_tensor(function, "generator");
    if (ampc_dtype_is_valid(dtype) && !ampc_dtype_is_float(dtype)) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function,
                  "dtype is %s; expected a float dtype (F64, F32, F16, BF16, F8_E4M3 or "
                  "F8_E5M2)",
                  ampc_dtype_name(dtype));
        return NULL;
    }
    ampc_tensor *tensor = ampc_tensor_new(function, dtype, ndim, shape);
    if (!tensor) return NULL;
    size_t n = (size_t)ampc_shape_numel(ndim, shape);
    int threads = n >= PARALLEL_MIN_VALUES ? ampc_num_threads() : 1;
    ampc_status status = ampc_random_fill(tensor->storage->data, dtype, n, distribution, low,
                                          high, generator->seed, generator->offset, threads);
    if (status != AMPC_OK) {
        if (ampc_error_status() == AMPC_OK)
            ampc_fail(status, function, "converting random fp32 values to %s failed",
                      ampc_dtype_name(dtype));
        ampc_tensor_free(tensor);
        return NULL;
    }
    generator->offset += ampc_random_blocks_used(distribution, n);
    return tensor;
}

ampc_tensor *ampc_tensor_rand(ampc_generator *generator, ampc_dtype dtype, int ndim,
                              const int64_t *shape)
{
    return random_tensor(__func__, generator, dtype, ndim, shape, AMPC_RANDOM_UNIFORM, 0, 1);
}

ampc_tensor *ampc_tensor_uniform(ampc_generator *generator, ampc_dtype dtype, int ndim,
                                 const int64_t *shape, double low, double high)
{
    if (!generator) return ampc_null_tensor(__func__, "generator");
    bool fits = fabs(low) <= FLT_MAX && fabs(high) <= FLT_MAX &&
                isfinite((float)high - (float)low);
    if (!(low <= high) || !fits) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                  "low is %g and high is %g; expected finite bounds with low <= high whose "
                  "difference fits in fp32",
                  low, high);
        return NULL;
    }
    return random_tensor(__func__, generator, dtype, ndim, shape, AMPC_RANDOM_UNIFORM,
                         (float)low, (float)high);
}

ampc_tensor *ampc_tensor_randn(ampc_generator *generator, ampc_dtype dtype, int ndim,
                               const int64_t *shape)
{
    return random_tensor(__func__, generator, dtype, ndim, shape, AMPC_RANDOM_NORMAL, 0, 0);
}
