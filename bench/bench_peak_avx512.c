/* Peak microkernels for the avx512 level: VFMADD231PS zmm (fp32) and VFMADD231PD zmm (fp64).
 *
 * Each iteration issues PEAK_CHAINS independent FMAs, one per accumulator, so that the FMA
 * latency (4 cycles) times the number of FMA ports (2 on server cores) is covered with room to
 * spare; operands and accumulators all stay in zmm registers, so nothing but the FMA units is
 * measured. The operands are read through volatile variables, so the compiler cannot see that
 * acc + 1 * tiny is an addition, and the sum of the accumulators is returned, so it keeps every
 * FMA. The values stay normal (no denormal assists) and finite for any iteration count: acc
 * grows by tiny until tiny falls below half an ulp of acc, then stops changing. See
 * bench_peak.c for the driver and the flop counts. */
#include <immintrin.h>

#include "bench.h"

double ampc_bench_peak_f32_fma_avx512(int64_t iterations)
{
    volatile float one_value = 1.0f, tiny_value = 0x1p-20f;
    const __m512 one = _mm512_set1_ps(one_value), tiny = _mm512_set1_ps(tiny_value);
#define DECLARE(i) __m512 acc##i = _mm512_set1_ps(1.0f + (float)(i));
    AMPC_BENCH_PEAK_EACH_CHAIN(DECLARE)
#undef DECLARE
    for (int64_t it = 0; it < iterations; it++) {
#define STEP(i) acc##i = _mm512_fmadd_ps(one, tiny, acc##i);
        AMPC_BENCH_PEAK_EACH_CHAIN(STEP)
#undef STEP
    }
    __m512 sum = _mm512_setzero_ps();
#define SUM(i) sum = _mm512_add_ps(sum, acc##i);
    AMPC_BENCH_PEAK_EACH_CHAIN(SUM)
#undef SUM
    return (double)_mm512_reduce_add_ps(sum);
}

double ampc_bench_peak_f64_fma_avx512(int64_t iterations)
{
    volatile double one_value = 1.0, tiny_value = 0x1p-50;
    const __m512d one = _mm512_set1_pd(one_value), tiny = _mm512_set1_pd(tiny_value);
#define DECLARE(i) __m512d acc##i = _mm512_set1_pd(1.0 + (double)(i));
    AMPC_BENCH_PEAK_EACH_CHAIN(DECLARE)
#undef DECLARE
    for (int64_t it = 0; it < iterations; it++) {
#define STEP(i) acc##i = _mm512_fmadd_pd(one, tiny, acc##i);
        AMPC_BENCH_PEAK_EACH_CHAIN(STEP)
#undef STEP
    }
    __m512d sum = _mm512_setzero_pd();
#define SUM(i) sum = _mm512_add_pd(sum, acc##i);
    AMPC_BENCH_PEAK_EACH_CHAIN(SUM)
#undef SUM
    return _mm512_reduce_add_pd(sum);
}
