/* The benchmarks behind `ampc bench <name>`, and the timing helpers they share.
 *
 * Each benchmark is `int ampc_bench_<name>(int argc, char **argv)`: argv[0] is its name, it
 * parses its own options (at least --json and --help) and returns the exit code (0 ran,
 * 1 failed, 2 bad usage). They live outside src/ and link the static library, so they may
 * use internal headers such as the per-ISA kernel tables. */
#ifndef AMPC_BENCH_H
#define AMPC_BENCH_H

#include <stddef.h>

/* Conversion throughput F32 <-> F16, BF16, F8 per ISA path, single thread, against memcpy. */
int ampc_bench_convert(int argc, char **argv);

/* Seconds on a monotonic clock. */
double ampc_bench_now(void);
/* The median of count > 0 values (sorts them). */
double ampc_bench_median(double *values, int count);
/* The smallest of count > 0 values. */
double ampc_bench_min(const double *values, int count);

#endif
