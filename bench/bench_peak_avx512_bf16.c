/* Peak microkernel for the avx512_bf16 level: VDPBF16PS zmm, the bf16 dot product of
 * AVX512-BF16 (what oneDNN's avx512_core_bf16 kernels run on). One instruction multiplies 32
 * bf16 pairs and adds each adjacent pair of products into one of 16 fp32 lanes: 64 flops
 * (16 lanes x 2 products x (mul + add)).
 * 16 independent accumulators cover its latency on both ports; everything stays in registers.
 * The operands are 1.0 and 2^-20, so every accumulator stays finite and normal. */
#include <immintrin.h>

#include "bench.h"

double ampc_bench_peak_bf16_dot_avx512_bf16(int64_t iterations)
{
    const __m512bh one = (__m512bh)_mm512_set1_epi16(0x3F80);  /* bf16 1.0 */
    const __m512bh tiny = (__m512bh)_mm512_set1_epi16(0x3580); /* bf16 2^-20 */
#define DECLARE(i) __m512 acc##i = _mm512_set1_ps(1.0f + (float)(i));
    AMPC_BENCH_PEAK_EACH_CHAIN(DECLARE)
#undef DECLARE
    for (int64_t it = 0; it < iterations; it++) {
#define STEP(i) acc##i = _mm512_dpbf16_ps(acc##i, one, tiny);
        AMPC_BENCH_PEAK_EACH_CHAIN(STEP)
#undef STEP
    }
    __m512 sum = _mm512_setzero_ps();
#define SUM(i) sum = _mm512_add_ps(sum, acc##i);
    AMPC_BENCH_PEAK_EACH_CHAIN(SUM)
#undef SUM
    return (double)_mm512_reduce_add_ps(sum);
}
