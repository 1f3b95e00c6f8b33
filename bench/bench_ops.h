/* What the three files of `ampc bench ops` share:
 *   bench_ops_cases.c   the ops measured: their shapes, inputs, forward call and work count
 *   bench_ops.c         options, the timing rounds, memory counts, the MLP training step
 *   bench_ops_report.c  the derived ratios, the table and the JSON output
 *
 * The question it answers: is reduced precision faster and lighter than fp32 for training?
 * Every op runs forward + backward (its float inputs require grad, ampc_backward gets an
 * upstream gradient) in F32, BF16 and F16 in the same run, taking turns, and each figure is
 * reported as a ratio to F32. */
#ifndef AMPC_BENCH_OPS_H
#define AMPC_BENCH_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ampc/ampc.h>

#include "bench.h"

/* The dtypes measured, F32 first: every ratio is F32 over the others. */
enum { AMPC_BENCH_OPS_DTYPES = 3, AMPC_BENCH_OPS_MAX_TENSORS = 6, AMPC_BENCH_OPS_MAX_DIMS = 4 };
extern const ampc_dtype ampc_bench_ops_dtypes[AMPC_BENCH_OPS_DTYPES];

/* What bounds an op, and so what it is compared with. */
typedef enum ampc_bench_ops_bound {
    AMPC_BENCH_OPS_COMPUTE, /* GFLOP/s, as a % of the fp32 FMA peak */
    AMPC_BENCH_OPS_MEMORY,  /* GB/s, and time over memcpy of the same bytes */
} ampc_bench_ops_bound;

/* An op's tensors in one dtype: leaves that require grad, then constants (targets, running
 * statistics). names[i] labels tensors[i] in the shape column ("x", "W", ...). */
typedef struct ampc_bench_ops_inputs {
    ampc_tensor *tensors[AMPC_BENCH_OPS_MAX_TENSORS];
    const char *names[AMPC_BENCH_OPS_MAX_TENSORS];
    int count;
} ampc_bench_ops_inputs;

typedef struct ampc_bench_ops_case {
    const char *name;
    const char *note; /* what the shapes do not say ("3x3, pad 1"), or "" */
    ampc_bench_ops_bound bound;
    int64_t dims[2][AMPC_BENCH_OPS_MAX_DIMS]; /* [0] the measured sizes, [1] --quick's */
    /* Adds the op's tensors for dims in dtype to inputs; false on failure (error set). */
    bool (*make)(const int64_t *dims, ampc_dtype dtype, ampc_generator *generator,
                 ampc_bench_ops_inputs *inputs);
    ampc_tensor *(*forward)(const ampc_bench_ops_inputs *inputs);
    /* COMPUTE: flops of forward + backward. MEMORY: elements the two passes must read and
     * write at least (inputs, outputs, upstream gradient, input gradients); bytes are that
     * times the dtype's size. */
    double (*work)(const int64_t *dims);
} ampc_bench_ops_case;

extern const ampc_bench_ops_case ampc_bench_ops_cases[];
extern const int ampc_bench_ops_case_count;

/* One dtype's figures for an op or for the MLP step. */
typedef struct ampc_bench_ops_timing {
    bool measured;
    double median, best; /* seconds per call */
    int runs;
    size_t saved_bytes;  /* tensor bytes the forward leaves alive for the backward */
    size_t peak_bytes;   /* op: the forward's peak above its start; MLP: the step's */
    char error[256];     /* why it was not measured */
} ampc_bench_ops_timing;

typedef struct ampc_bench_ops_row {
    const ampc_bench_ops_case *op;
    const int64_t *dims;
    char shape[160]; /* "x [4096, 1024], W [1024, 1024], b [1024]" */
    ampc_bench_ops_timing timings[AMPC_BENCH_OPS_DTYPES];
    /* MEMORY ops: median seconds of a threaded memcpy moving the op's bytes (half read, half
     * written) at 4 and at 2 bytes per element. */
    double memcpy_seconds[2];
} ampc_bench_ops_row;

typedef struct ampc_bench_ops_run {
    ampc_bench_ops_row *rows;
    int count;
    ampc_bench_ops_timing mlp[AMPC_BENCH_OPS_DTYPES];
    bool mlp_measured; /* false when --ops leaves "mlp" out */
    int threads;
    bool quick;
    double min_seconds;     /* each measurement repeats until it has run this long */
    double fp32_peak;       /* GFLOP/s of fp32 FMA on `threads` threads */
    double elapsed;         /* seconds, for the whole run */
    ampc_bench_load load;   /* other processes' use of the cores */
} ampc_bench_ops_run;

/* "784->1024->1024->10, batch 256" and its sizes. */
enum { AMPC_BENCH_OPS_MLP_LAYERS = 3 };
extern const int64_t ampc_bench_ops_mlp_widths[2][AMPC_BENCH_OPS_MLP_LAYERS + 1];
extern const int64_t ampc_bench_ops_mlp_batch[2];

/* Derived figures (0 when a side is missing). */
double ampc_bench_ops_work(const ampc_bench_ops_row *row);
double ampc_bench_ops_speedup(const ampc_bench_ops_timing *timings, int dtype);
double ampc_bench_ops_lighter(const ampc_bench_ops_timing *timings, int dtype);

void ampc_bench_ops_print_table(const ampc_bench_ops_run *run);
int ampc_bench_ops_print_json(const ampc_bench_ops_run *run);

#endif
