/* This machine's peak arithmetic throughput, the yardstick for every GEMM figure.
 *
 * Each peak is one instruction issued back to back from registers (the kernels are in
 * bench_peak_<isa>.c, built with that ISA's flags), on 1 thread or on several at once: what
 * the cores can do when nothing waits for memory. Flops per instruction count a multiply and
 * an add as two: VFMADD231PS zmm 16 lanes x 2 = 32, VFMADD231PD zmm 8 x 2 = 16, VDPBF16PS zmm
 * 16 lanes x 2 products x 2 = 64, VFMADD231PH zmm 32 x 2 = 64, TDPBF16PS on full tiles
 * 16 x 16 x 32 x 2 = 16384. */
#include "bench.h"

#include <omp.h>

#include "core/cpu.h"

typedef double (*peak_kernel)(int64_t iterations);

typedef struct peak_spec {
    const char *name;
    const char *instruction;
    ampc_isa level; /* the lowest level whose CPUs have the instruction */
    peak_kernel kernel;
    double flops_per_iteration;
} peak_spec;

enum { AMX_TILE_DPBF16_FLOPS = 16 * 16 * 32 * 2, AMX_INSTRUCTIONS_PER_ITERATION = 4 };
/* Runs of a tenth of a second each; the best counts, as the one least disturbed. */
enum { RUNS = 5 };

static const peak_spec peaks[AMPC_BENCH_PEAK_COUNT] = {
    [AMPC_BENCH_PEAK_F64_FMA] = {"fp64 FMA", "VFMADD231PD zmm", AMPC_ISA_AVX512,
                                 ampc_bench_peak_f64_fma_avx512, AMPC_BENCH_PEAK_CHAINS * 8 * 2},
    [AMPC_BENCH_PEAK_F32_FMA] = {"fp32 FMA", "VFMADD231PS zmm", AMPC_ISA_AVX512,
                                 ampc_bench_peak_f32_fma_avx512, AMPC_BENCH_PEAK_CHAINS * 16 * 2},
    [AMPC_BENCH_PEAK_BF16_DOT] = {"bf16 dot", "VDPBF16PS zmm", AMPC_ISA_AVX512_BF16,
                                  ampc_bench_peak_bf16_dot_avx512_bf16,
                                  AMPC_BENCH_PEAK_CHAINS * 16 * 2 * 2},
    [AMPC_BENCH_PEAK_F16_FMA] = {"fp16 FMA", "VFMADD231PH zmm", AMPC_ISA_AVX512_FP16,
                                 ampc_bench_peak_f16_fma_avx512_fp16,
                                 AMPC_BENCH_PEAK_CHAINS * 32 * 2},
    [AMPC_BENCH_PEAK_AMX_BF16] = {"AMX bf16", "TDPBF16PS", AMPC_ISA_AMX,
                                  ampc_bench_peak_amx_bf16_amx,
                                  AMX_INSTRUCTIONS_PER_ITERATION * AMX_TILE_DPBF16_FLOPS},
};

static bool is_peak(ampc_bench_peak peak) { return (unsigned)peak < AMPC_BENCH_PEAK_COUNT; }

const char *ampc_bench_peak_name(ampc_bench_peak peak)
{
    return is_peak(peak) ? peaks[peak].name : "invalid";
}

const char *ampc_bench_peak_instruction(ampc_bench_peak peak)
{
    return is_peak(peak) ? peaks[peak].instruction : "invalid";
}

bool ampc_bench_peak_available(ampc_bench_peak peak)
{
    return is_peak(peak) && ampc_cpu_supports(peaks[peak].level);
}

/* Seconds for `threads` threads each running the kernel for `iterations`, all at once. */
static double time_threads(const peak_spec *spec, int threads, int64_t iterations, int *ran)
{
    double sink = 0.0;
    int started = 0;
    double start = ampc_bench_now();
#pragma omp parallel num_threads(threads) reduction(+ : sink)
    {
#pragma omp single
        started = omp_get_num_threads();
        sink += spec->kernel(iterations);
    }
    double seconds = ampc_bench_now() - start;
    /* The sum is never 0 (every accumulator starts at 1 or more); the test keeps it alive. */
    *ran = sink != 0.0 ? started : 0;
    return seconds;
}

double ampc_bench_peak_gflops(ampc_bench_peak peak, int threads, bool quick)
{
    if (!ampc_bench_peak_available(peak) || threads < 1) return 0.0;
    const peak_spec *spec = &peaks[peak];
    /* Calibrate on all the threads (which also starts them and brings the cores to their
     * AVX-512 clock), then size each run to last about target seconds. */
    const double target = quick ? 0.005 : 0.1;
    int64_t iterations = 1 << 12;
    int ran = 0;
    double seconds = time_threads(spec, threads, iterations, &ran);
    while (seconds < target / 8) {
        iterations *= 4;
        seconds = time_threads(spec, threads, iterations, &ran);
    }
    iterations = (int64_t)((double)iterations * target / seconds) + 1;

    double best = 0.0;
    for (int run = 0; run < (quick ? 1 : RUNS); run++) {
        seconds = time_threads(spec, threads, iterations, &ran);
        double flops = (double)ran * (double)iterations * spec->flops_per_iteration;
        double gflops = flops / seconds * 1e-9;
        if (gflops > best) best = gflops;
    }
    return best;
}
