/* Peak microkernel for the avx512_fp16 level: VFMADD231PH zmm, 32 fp16 lanes x 2 flops = 64
 * flops per instruction. Note that this accumulates in fp16, which ampc's GEMM never does
 * (accumulation is at least fp32): the figure shows what the hardware could do, not a bound
 * for any ampc path. 16 independent accumulators, all in registers; acc = acc * 1 + 2^-8
 * stays finite (it stops growing at 8, where 2^-8 is below half an fp16 ulp); the operands
 * are read through volatile variables so that the compiler cannot turn 1 * x + acc into an add. */
#include <immintrin.h>

#include "bench.h"

double ampc_bench_peak_f16_fma_avx512_fp16(int64_t iterations)
{
    /* fp16 bit patterns, which avoid spelling _Float16 (not ISO C17): 1.0, 2^-8, 1.0 + i ulp */
    volatile short one_bits = 0x3C00, tiny_bits = 0x1C00;
    const __m512h one = _mm512_castsi512_ph(_mm512_set1_epi16(one_bits));
    const __m512h tiny = _mm512_castsi512_ph(_mm512_set1_epi16(tiny_bits));
#define DECLARE(i) __m512h acc##i = _mm512_castsi512_ph(_mm512_set1_epi16(0x3C00 + (i)));
    AMPC_BENCH_PEAK_EACH_CHAIN(DECLARE)
#undef DECLARE
    for (int64_t it = 0; it < iterations; it++) {
#define STEP(i) acc##i = _mm512_fmadd_ph(one, tiny, acc##i);
        AMPC_BENCH_PEAK_EACH_CHAIN(STEP)
#undef STEP
    }
    __m512h sum = _mm512_setzero_ph();
#define SUM(i) sum = _mm512_add_ph(sum, acc##i);
    AMPC_BENCH_PEAK_EACH_CHAIN(SUM)
#undef SUM
    __m512i bits = _mm512_castph_si512(sum);
    __m512 low = _mm512_cvtph_ps(_mm512_castsi512_si256(bits));
    __m512 high = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(bits, 1));
    return (double)_mm512_reduce_add_ps(_mm512_add_ps(low, high));
}
