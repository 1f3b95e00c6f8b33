/* The benchmarks behind `ampc bench <name>`, and the timing helpers they share.
 *
 * Each benchmark is `int ampc_bench_<name>(int argc, char **argv)`: argv[0] is its name, it
 * parses its own options (at least --json and --help) and returns the exit code (0 ran,
 * 1 failed, 2 bad usage). They live outside src/ and link the static library, so they may
 * use internal headers such as the per-ISA kernel tables. */
#ifndef AMPC_BENCH_H
#define AMPC_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Conversion throughput F32 <-> F16, BF16, F8 per ISA path, single thread, against memcpy. */
int ampc_bench_convert(int argc, char **argv);

/* GEMM GFLOP/s per dtype and ISA path at square sizes and at the shapes training runs, beside
 * OpenBLAS sgemm and oneDNN's bf16 matmul, each figure also as a % of this machine's peak. */
int ampc_bench_gemm(int argc, char **argv);

/* Forward and backward time, GB/s or GFLOP/s, and activation bytes of the training ops in
 * F32, BF16 and F16 side by side (as ratios to F32), beside memcpy and the fp32 FMA peak, and
 * a small MLP training step in each dtype. */
int ampc_bench_ops(int argc, char **argv);

/* A usage error of `ampc bench <name>`: prints "ampc bench <name>: " and message (a printf
 * format with one %s, filled with argument), a blank line and the usage to stderr; returns 2,
 * the exit code of bad usage. */
int ampc_bench_usage_error(const char *name, void (*print_usage)(FILE *out), const char *message,
                           const char *argument);

/* ms per training step of the standard models, ampc fp32 beside PyTorch fp32 (bench_torch.py). */
int ampc_bench_torch(int argc, char **argv);

/* Seconds on a monotonic clock. */
double ampc_bench_now(void);
/* The median of count > 0 values (sorts them). */
double ampc_bench_median(double *values, int count);
/* The smallest of count > 0 values. */
double ampc_bench_min(const double *values, int count);

/* How busy other processes kept the cores (bench_load.c): /proc/stat's busy time less this
 * process's own CPU time and its waited-for workers', over the wall time. */
typedef struct ampc_bench_cpu_snapshot {
    bool ok;
    double machine_busy, machine_total; /* seconds summed over cores */
    double own;                         /* this process and its workers */
} ampc_bench_cpu_snapshot;

ampc_bench_cpu_snapshot ampc_bench_cpu_snapshot_take(void);
/* Cores other processes kept busy on average between two snapshots; -1 if unknown. */
double ampc_bench_other_busy_cores(const ampc_bench_cpu_snapshot *from,
                                   const ampc_bench_cpu_snapshot *to);

/* Cores other processes kept busy just before, during and just after a run (-1: unknown). */
typedef struct ampc_bench_load {
    double before, during, after;
    ampc_bench_cpu_snapshot start;
} ampc_bench_load;

/* begin samples "before" over a short sleep and starts "during"; end finishes "during" and
 * samples "after". quick shortens the sleeps. */
void ampc_bench_load_begin(ampc_bench_load *load, bool quick);
void ampc_bench_load_end(ampc_bench_load *load, bool quick);
/* The header line "other processes kept ... cores busy ...", with a warning when shared. */
void ampc_bench_load_print(const ampc_bench_load *load);
/* {"before", "during", "after"} */
struct json_t *ampc_bench_load_json(const ampc_bench_load *load);

/* Peak arithmetic throughput (bench_peak.c drives the register-resident kernels of
 * bench_peak_<isa>.c). Append-only. */
typedef enum ampc_bench_peak {
    AMPC_BENCH_PEAK_F64_FMA,  /* VFMADD231PD zmm */
    AMPC_BENCH_PEAK_F32_FMA,  /* VFMADD231PS zmm */
    AMPC_BENCH_PEAK_BF16_DOT, /* VDPBF16PS zmm */
    AMPC_BENCH_PEAK_F16_FMA,  /* VFMADD231PH zmm */
    AMPC_BENCH_PEAK_AMX_BF16, /* TDPBF16PS */
    AMPC_BENCH_PEAK_COUNT
} ampc_bench_peak;

/* "fp32 FMA", ... and "VFMADD231PS zmm", ... */
const char *ampc_bench_peak_name(ampc_bench_peak peak);
const char *ampc_bench_peak_instruction(ampc_bench_peak peak);
/* Whether this CPU runs the peak's instruction (ampc_cpu_supports, so AMPC_ISA is ignored). */
bool ampc_bench_peak_available(ampc_bench_peak peak);
/* GFLOP/s on `threads` threads at once, best of a few runs; 0 when not available. quick runs
 * for milliseconds instead of a tenth of a second. */
double ampc_bench_peak_gflops(ampc_bench_peak peak, int threads, bool quick);

/* The kernels: each runs `iterations` iterations of independent register-resident
 * instructions and returns a value that depends on every result. */
double ampc_bench_peak_f64_fma_avx512(int64_t iterations);
double ampc_bench_peak_f32_fma_avx512(int64_t iterations);
double ampc_bench_peak_bf16_dot_avx512_bf16(int64_t iterations);
double ampc_bench_peak_f16_fma_avx512_fp16(int64_t iterations);
double ampc_bench_peak_amx_bf16_amx(int64_t iterations);

/* The 16 independent accumulator chains of the vector peak kernels: STEP(i) for i in 0..15. */
#define AMPC_BENCH_PEAK_EACH_CHAIN(STEP)                                                       \
    STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8) STEP(9) STEP(10) \
    STEP(11) STEP(12) STEP(13) STEP(14) STEP(15)
enum { AMPC_BENCH_PEAK_CHAINS = 16 };

/* oneDNN's matmul as a comparison (bench_dnnl.c). libdnnl.so.2 is loaded at run time with
 * dlopen, so ampc neither links nor needs it; every function below fails softly without it. */
typedef struct ampc_bench_dnnl_matmul ampc_bench_dnnl_matmul;

/* NULL when oneDNN is usable, else why not ("not installed (apt-get install libdnnl-dev)"). */
const char *ampc_bench_dnnl_problem(void);
/* Why the last call below failed. */
const char *ampc_bench_dnnl_error(void);
/* "2.6.3", and the ISA oneDNN dispatches to, e.g. "avx512_core_bf16"; "" without oneDNN. */
const char *ampc_bench_dnnl_version(void);
const char *ampc_bench_dnnl_isa(void);
/* C (m x n, f32) = op(A) (m x k, bf16) * op(B) (k x n, bf16), row-major, over the caller's
 * buffers, with fp32 accumulation. transpose_a means A is stored k x m (and B: n x k). NULL
 * on failure. */
ampc_bench_dnnl_matmul *ampc_bench_dnnl_matmul_new(bool transpose_a, bool transpose_b, int64_t m,
                                                   int64_t n, int64_t k, const uint16_t *a,
                                                   const uint16_t *b, float *c);
/* Runs the product once and waits for it. */
bool ampc_bench_dnnl_matmul_run(ampc_bench_dnnl_matmul *matmul);
/* The implementation oneDNN chose, e.g. "brg:avx512_core_bf16". */
const char *ampc_bench_dnnl_matmul_impl(const ampc_bench_dnnl_matmul *matmul);
void ampc_bench_dnnl_matmul_free(ampc_bench_dnnl_matmul *matmul);

#endif
