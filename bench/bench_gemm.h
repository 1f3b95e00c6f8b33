/* What the three files of `ampc bench gemm` share:
 *   bench_gemm.c         options, what to measure where, running the workers
 *   bench_gemm_worker.c  a worker process: times a list of jobs on one path, prints JSON
 *   bench_gemm_report.c  the derived figures, the goals, the table and the JSON output
 *
 * ampc's GEMM picks its ISA path once per process, so bench_gemm.c starts the ampc executable
 * again for each path (AMPC_ISA) and thread count, as `ampc bench gemm --worker JOB...`. A job
 * is written "impl:form:m:n:k", e.g. "ampc_bf16:NT:128:784:1024". */
#ifndef AMPC_BENCH_GEMM_H
#define AMPC_BENCH_GEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ampc/cpu.h>

#include "bench.h"

typedef enum ampc_bench_gemm_impl {
    AMPC_BENCH_GEMM_AMPC_F64,       /* ampc_gemm, F64 in and out */
    AMPC_BENCH_GEMM_AMPC_F32,       /* ampc_gemm, F32 in and out */
    AMPC_BENCH_GEMM_AMPC_F16,       /* ampc_gemm, F16 in, F32 out */
    AMPC_BENCH_GEMM_AMPC_BF16,      /* ampc_gemm, BF16 in, F32 out */
    AMPC_BENCH_GEMM_OPENBLAS_SGEMM, /* cblas_sgemm called directly */
    AMPC_BENCH_GEMM_ONEDNN_BF16,    /* oneDNN matmul, bf16 in, f32 out */
    AMPC_BENCH_GEMM_IMPL_COUNT
} ampc_bench_gemm_impl;

/* The OpenBLAS kernel set a worker runs. OpenBLAS picks one itself when it loads; on a CPU it
 * does not know that is a generic set several times slower than it could be (ampc_gemm_blas_core
 * in <ampc/gemm.h>), so on an AVX-512 CPU the OpenBLAS-bound rows are measured a second time
 * with OPENBLAS_CORETYPE=SkylakeX, and every goal is judged against the faster baseline. */
typedef enum ampc_bench_gemm_blas {
    AMPC_BENCH_GEMM_BLAS_DEFAULT,  /* whatever OpenBLAS picked (OPENBLAS_CORETYPE passed on) */
    AMPC_BENCH_GEMM_BLAS_SKYLAKEX, /* OPENBLAS_CORETYPE=SkylakeX */
    AMPC_BENCH_GEMM_BLAS_COUNT
} ampc_bench_gemm_blas;

/* Which operand is read transposed: C = A B, C = A B^T, C = A^T B. */
typedef enum ampc_bench_gemm_form {
    AMPC_BENCH_GEMM_NN,
    AMPC_BENCH_GEMM_NT,
    AMPC_BENCH_GEMM_TN,
    AMPC_BENCH_GEMM_FORM_COUNT
} ampc_bench_gemm_form;

/* C (m x n) = op(A) (m x k) op(B) (k x n), all row-major, C overwritten (beta = 0). */
typedef struct ampc_bench_gemm_job {
    ampc_bench_gemm_impl impl;
    ampc_bench_gemm_form form;
    int64_t m, n, k;
} ampc_bench_gemm_job;

/* "ampc_f64", ..., "onednn_bf16" and "NN", "NT", "TN"; "invalid" otherwise. */
const char *ampc_bench_gemm_impl_key(ampc_bench_gemm_impl impl);
const char *ampc_bench_gemm_form_name(ampc_bench_gemm_form form);
/* Writes and reads the "impl:form:m:n:k" form. Parsing fails on anything else. */
void ampc_bench_gemm_job_format(const ampc_bench_gemm_job *job, char *buffer, size_t capacity);
bool ampc_bench_gemm_job_parse(const char *text, ampc_bench_gemm_job *job);
/* `ampc bench gemm --worker [--quick] JOB...` (argv[0] is "--worker"): prints one JSON object
 * {"path", "threads", "blas_core", "results": [...]}; returns 0, or 2 for a malformed job. */
int ampc_bench_gemm_worker(int argc, char **argv);

/* Which peak a figure is a % of. */
typedef enum ampc_bench_gemm_peak_kind {
    AMPC_BENCH_GEMM_PEAK_F64,  /* fp64 FMA */
    AMPC_BENCH_GEMM_PEAK_F32,  /* fp32 FMA */
    AMPC_BENCH_GEMM_PEAK_BF16, /* the best bf16 peak: AMX, else VDPBF16PS or fp32 FMA */
} ampc_bench_gemm_peak_kind;

/* How each implementation is shown, judged and run. */
typedef struct ampc_bench_gemm_impl_info {
    const char *label;                  /* "ampc BF16" */
    ampc_bench_gemm_peak_kind peak;     /* the peak its % is of */
    ampc_bench_gemm_impl baseline;      /* compared against; IMPL_COUNT for none */
    bool openblas;                      /* runs on OpenBLAS's threads (else on ampc's OpenMP) */
    bool per_blas_core;                 /* calls OpenBLAS: measured under each kernel set */
} ampc_bench_gemm_impl_info;
extern const ampc_bench_gemm_impl_info ampc_bench_gemm_impls[AMPC_BENCH_GEMM_IMPL_COUNT];

/* A layer Y = X W: M rows of activations (batch x positions), K inputs, N outputs. Square
 * sizes are the model "square" with M = K = N = n. */
typedef struct ampc_bench_gemm_layer {
    const char *model;
    int64_t rows, inputs, outputs; /* M, K, N */
} ampc_bench_gemm_layer;

/* One of the layer's products: NN forward, NT backward data, TN backward weights. */
typedef struct ampc_bench_gemm_shape {
    ampc_bench_gemm_layer layer;
    ampc_bench_gemm_form form;
} ampc_bench_gemm_shape;

/* One measurement: a job on one path and thread count, and what came back. */
typedef struct ampc_bench_gemm_row {
    ampc_bench_gemm_shape shape;
    ampc_bench_gemm_job job;
    ampc_isa level; /* the AMPC_ISA of the worker that measured it */
    int threads;
    ampc_bench_gemm_blas blas; /* DEFAULT unless the impl is per_blas_core */
    bool measured;
    double median, best; /* seconds per call */
    int runs;
    char implementation[96]; /* ampc's microkernel, OpenBLAS's core or oneDNN's choice */
    char blas_core[32];      /* the OpenBLAS core the worker reported running */
    char error[256];         /* why it was not measured */
} ampc_bench_gemm_row;

enum { AMPC_BENCH_GEMM_MAX_SIZES = 8 };

/* A whole run of the benchmark. */
typedef struct ampc_bench_gemm_run {
    ampc_bench_gemm_row *rows;
    int count, capacity;
    ampc_isa active;  /* the dispatched level */
    int threads;      /* ampc's thread count: the main tables */
    bool have_onednn; /* oneDNN could be loaded */
    bool quick;
    /* The OpenBLAS kernel sets measured: DEFAULT, and SKYLAKEX too when the default is a
     * generic one on an AVX-512 CPU. blas_cores names them ("Prescott", "SkylakeX"). */
    int blas_count;
    char blas_cores[AMPC_BENCH_GEMM_BLAS_COUNT][32];
    int64_t sizes[AMPC_BENCH_GEMM_MAX_SIZES]; /* the square sizes */
    int size_count;
    double peaks[AMPC_BENCH_PEAK_COUNT][2]; /* GFLOP/s on 1 thread and on `threads` */
    ampc_bench_peak bf16_peak;              /* what AMPC_BENCH_GEMM_PEAK_BF16 means here */
    double elapsed;                         /* seconds, for the whole run */
    ampc_bench_load load;                   /* other processes' use of the cores */
} ampc_bench_gemm_run;

/* The outputs, goals included. print_json returns the exit code (0, or 1 if it failed). */
void ampc_bench_gemm_print_table(const ampc_bench_gemm_run *run);
int ampc_bench_gemm_print_json(const ampc_bench_gemm_run *run);

#endif
