/* The measuring side of `ampc bench gemm` (bench_gemm.h describes the whole).
 *
 * It runs in a process of its own, started as `ampc bench gemm --worker [--quick] JOB...` with
 * AMPC_ISA and the thread counts (AMPC_NUM_THREADS, OMP_NUM_THREADS for oneDNN,
 * OPENBLAS_NUM_THREADS) already set in its environment, so ampc's GEMM dispatches to exactly
 * the path being measured. For each job it allocates the operands, fills them with
 * random values in [-1, 1), calls the product once as a warm-up (which also faults the pages
 * in and lets oneDNN JIT its kernel), then times calls one by one until MIN_SECONDS have
 * passed and at least MIN_RUNS calls were made (at most MAX_RUNS). The same buffers are used
 * for every call, so small shapes run from cache, as a layer's operands do in training; every
 * implementation gets the same treatment.
 *
 * Output: one JSON object on stdout, {"path", "threads", "blas_core", "results": [...]} (the
 * core: the OpenBLAS kernel set loaded), one result per job in order: the job, what ran
 * ("implementation": ampc's microkernel, OpenBLAS's core or the implementation oneDNN chose),
 * and the median and best seconds per call and the number of runs, or an "error". */
#include <ampc/ampc.h>

#include <cblas.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_gemm.h"
#include "kernels/gemm_kernels.h"

enum { MIN_RUNS = 3, MAX_RUNS = 1000, ALIGNMENT = 64 };
static const double MIN_SECONDS = 0.2;

static const char *const impl_keys[AMPC_BENCH_GEMM_IMPL_COUNT] = {
    [AMPC_BENCH_GEMM_AMPC_F64] = "ampc_f64",
    [AMPC_BENCH_GEMM_AMPC_F32] = "ampc_f32",
    [AMPC_BENCH_GEMM_AMPC_F16] = "ampc_f16",
    [AMPC_BENCH_GEMM_AMPC_BF16] = "ampc_bf16",
    [AMPC_BENCH_GEMM_OPENBLAS_SGEMM] = "openblas_sgemm",
    [AMPC_BENCH_GEMM_ONEDNN_BF16] = "onednn_bf16",
};

/* The dtype of A and B for each implementation; C is F64 for F64 and F32 otherwise. */
static const ampc_dtype input_dtypes[AMPC_BENCH_GEMM_IMPL_COUNT] = {
    [AMPC_BENCH_GEMM_AMPC_F64] = AMPC_F64,        [AMPC_BENCH_GEMM_AMPC_F32] = AMPC_F32,
    [AMPC_BENCH_GEMM_AMPC_F16] = AMPC_F16,        [AMPC_BENCH_GEMM_AMPC_BF16] = AMPC_BF16,
    [AMPC_BENCH_GEMM_OPENBLAS_SGEMM] = AMPC_F32, [AMPC_BENCH_GEMM_ONEDNN_BF16] = AMPC_BF16,
};

static const char *const form_names[AMPC_BENCH_GEMM_FORM_COUNT] = {"NN", "NT", "TN"};

const char *ampc_bench_gemm_impl_key(ampc_bench_gemm_impl impl)
{
    return (unsigned)impl < AMPC_BENCH_GEMM_IMPL_COUNT ? impl_keys[impl] : "invalid";
}

const char *ampc_bench_gemm_form_name(ampc_bench_gemm_form form)
{
    return (unsigned)form < AMPC_BENCH_GEMM_FORM_COUNT ? form_names[form] : "invalid";
}

void ampc_bench_gemm_job_format(const ampc_bench_gemm_job *job, char *buffer, size_t capacity)
{
    snprintf(buffer, capacity, "%s:%s:%lld:%lld:%lld", ampc_bench_gemm_impl_key(job->impl),
             ampc_bench_gemm_form_name(job->form), (long long)job->m, (long long)job->n,
             (long long)job->k);
}

bool ampc_bench_gemm_job_parse(const char *text, ampc_bench_gemm_job *job)
{
    char impl[32], form[4];
    long long m, n, k;
    int used = 0;
    if (sscanf(text, "%31[a-z0-9_]:%3[NT]:%lld:%lld:%lld%n", impl, form, &m, &n, &k, &used) != 5 ||
        text[used] != '\0' || m < 1 || n < 1 || k < 1)
        return false;
    *job = (ampc_bench_gemm_job){AMPC_BENCH_GEMM_IMPL_COUNT, AMPC_BENCH_GEMM_FORM_COUNT, m, n, k};
    for (int i = 0; i < AMPC_BENCH_GEMM_IMPL_COUNT; i++)
        if (strcmp(impl, impl_keys[i]) == 0) job->impl = (ampc_bench_gemm_impl)i;
    for (int i = 0; i < AMPC_BENCH_GEMM_FORM_COUNT; i++)
        if (strcmp(form, form_names[i]) == 0) job->form = (ampc_bench_gemm_form)i;
    return job->impl != AMPC_BENCH_GEMM_IMPL_COUNT && job->form != AMPC_BENCH_GEMM_FORM_COUNT;
}

/* One job ready to run: its operands and whatever the implementation prepared. */
typedef struct prepared {
    const ampc_bench_gemm_job *job;
    bool transpose_a, transpose_b;
    void *a, *b, *c;
    ampc_gemm_desc desc;            /* the ampc implementations */
    ampc_bench_dnnl_matmul *matmul; /* oneDNN */
} prepared;

typedef struct measurement {
    double median;
    double best;
    int runs;
    char error[256];
} measurement;

static void *allocate(size_t count, ampc_dtype dtype)
{
    size_t bytes = count * ampc_dtype_size(dtype);
    return aligned_alloc(ALIGNMENT, (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT);
}

/* Random values in [-1, 1), stored in dtype. */
static bool fill_random(void *data, ampc_dtype dtype, size_t count, uint32_t seed)
{
    float *values = dtype == AMPC_F32 ? data : malloc(count * sizeof *values);
    if (!values) return false;
    uint32_t state = seed;
    for (size_t i = 0; i < count; i++) {
        state = state * 1664525u + 1013904223u;
        values[i] = (float)(state >> 8) * 0x1p-23f - 1.0f;
    }
    bool converted =
        values == data || ampc_convert(data, dtype, values, AMPC_F32, count) == AMPC_OK;
    if (values != data) free(values);
    return converted;
}

static ampc_gemm_desc ampc_desc(const prepared *p, ampc_dtype dtype)
{
    const ampc_bench_gemm_job *job = p->job;
    return (ampc_gemm_desc){
        .transpose_a = p->transpose_a ? AMPC_TRANSPOSE : AMPC_TRANSPOSE_NONE,
        .transpose_b = p->transpose_b ? AMPC_TRANSPOSE : AMPC_TRANSPOSE_NONE,
        .m = job->m, .n = job->n, .k = job->k,
        .batch = 1,
        .alpha = 1.0,
        .beta = 0.0,
        .a = {dtype, p->a, p->transpose_a ? job->m : job->k, 0},
        .b = {dtype, p->b, p->transpose_b ? job->k : job->n, 0},
        .c = {dtype == AMPC_F64 ? AMPC_F64 : AMPC_F32, p->c, job->n, 0},
        .bias_dtype = dtype == AMPC_F64 ? AMPC_F64 : AMPC_F32,
        .activation = AMPC_ACTIVATION_NONE,
    };
}

/* Allocates and fills the operands and prepares the implementation. */
static bool prepare(prepared *p, const ampc_bench_gemm_job *job, measurement *out)
{
    ampc_dtype dtype = input_dtypes[job->impl];
    size_t a_count = (size_t)(job->m * job->k), b_count = (size_t)(job->k * job->n);
    size_t c_count = (size_t)(job->m * job->n);
    *p = (prepared){.job = job,
                    .transpose_a = job->form == AMPC_BENCH_GEMM_TN,
                    .transpose_b = job->form == AMPC_BENCH_GEMM_NT,
                    .a = allocate(a_count, dtype),
                    .b = allocate(b_count, dtype),
                    .c = allocate(c_count, dtype == AMPC_F64 ? AMPC_F64 : AMPC_F32)};
    if (!p->a || !p->b || !p->c || !fill_random(p->a, dtype, a_count, 1u) ||
        !fill_random(p->b, dtype, b_count, 2u)) {
        snprintf(out->error, sizeof out->error, "could not allocate or fill the operands");
        return false;
    }
    if (job->impl == AMPC_BENCH_GEMM_ONEDNN_BF16) {
        p->matmul = ampc_bench_dnnl_matmul_new(p->transpose_a, p->transpose_b, job->m, job->n,
                                               job->k, p->a, p->b, p->c);
        if (!p->matmul) {
            snprintf(out->error, sizeof out->error, "oneDNN: %s", ampc_bench_dnnl_error());
            return false;
        }
    } else if (job->impl != AMPC_BENCH_GEMM_OPENBLAS_SGEMM) {
        p->desc = ampc_desc(p, dtype);
    }
    return true;
}

static void release(prepared *p)
{
    ampc_bench_dnnl_matmul_free(p->matmul);
    free(p->a);
    free(p->b);
    free(p->c);
}

/* One call of the product. */
static bool run_once(prepared *p, measurement *out)
{
    const ampc_bench_gemm_job *job = p->job;
    switch (job->impl) {
    case AMPC_BENCH_GEMM_OPENBLAS_SGEMM:
        cblas_sgemm(CblasRowMajor, p->transpose_a ? CblasTrans : CblasNoTrans,
                    p->transpose_b ? CblasTrans : CblasNoTrans, (blasint)job->m, (blasint)job->n,
                    (blasint)job->k, 1.0f, p->a, (blasint)(p->transpose_a ? job->m : job->k),
                    p->b, (blasint)(p->transpose_b ? job->k : job->n), 0.0f, p->c,
                    (blasint)job->n);
        return true;
    case AMPC_BENCH_GEMM_ONEDNN_BF16:
        if (ampc_bench_dnnl_matmul_run(p->matmul)) return true;
        snprintf(out->error, sizeof out->error, "oneDNN: %s", ampc_bench_dnnl_error());
        return false;
    default:
        if (ampc_gemm(&p->desc) == AMPC_OK) return true;
        snprintf(out->error, sizeof out->error, "ampc_gemm: %s", ampc_error_message());
        return false;
    }
}

/* A warm-up call, then timed calls until MIN_SECONDS and MIN_RUNS (quick: one call). */
static bool time_calls(prepared *p, bool quick, measurement *out)
{
    static double seconds[MAX_RUNS];
    if (!run_once(p, out)) return false;
    int min_runs = quick ? 1 : MIN_RUNS, max_runs = quick ? 1 : MAX_RUNS;
    double total = 0.0;
    int runs = 0;
    while (runs < max_runs && (runs < min_runs || total < (quick ? 0.0 : MIN_SECONDS))) {
        double start = ampc_bench_now();
        if (!run_once(p, out)) return false;
        seconds[runs] = ampc_bench_now() - start;
        total += seconds[runs++];
    }
    out->runs = runs;
    out->best = ampc_bench_min(seconds, runs);
    out->median = ampc_bench_median(seconds, runs);
    return true;
}

/* What runs the job here: ampc's microkernel, OpenBLAS's core or oneDNN's implementation. */
static void describe_implementation(const prepared *p, char *buffer, size_t capacity)
{
    const ampc_gemm_kernel *kernel = ampc_gemm_kernel_active(input_dtypes[p->job->impl]);
    switch (p->job->impl) {
    case AMPC_BENCH_GEMM_ONEDNN_BF16:
        snprintf(buffer, capacity, "%s", p->matmul ? ampc_bench_dnnl_matmul_impl(p->matmul) : "");
        break;
    case AMPC_BENCH_GEMM_OPENBLAS_SGEMM:
        snprintf(buffer, capacity, "OpenBLAS %s", ampc_gemm_blas_core());
        break;
    case AMPC_BENCH_GEMM_AMPC_F16:
    case AMPC_BENCH_GEMM_AMPC_BF16:
        snprintf(buffer, capacity, "%s", kernel ? kernel->name : "unknown kernel");
        break;
    case AMPC_BENCH_GEMM_AMPC_F32: /* ampc's fp32 kernel where OpenBLAS's core is generic */
        if (ampc_gemm_f32_kernel_active()) {
            snprintf(buffer, capacity, "%s", ampc_gemm_f32_kernel_active()->name);
            break;
        }
        /* fall through */
    default: /* F32 and F64: serial OpenBLAS calls on tiles of C, threaded by ampc */
        snprintf(buffer, capacity, "ampc tiles, OpenBLAS %s", ampc_gemm_blas_core());
    }
}

static json_t *measure_job(const char *text, const ampc_bench_gemm_job *job, bool quick)
{
    measurement result = {0};
    prepared p;
    bool ok = prepare(&p, job, &result) && time_calls(&p, quick, &result);
    char implementation[128];
    describe_implementation(&p, implementation, sizeof implementation);
    json_t *row = json_pack("{s:s, s:s}", "job", text, "implementation", implementation);
    if (ok) {
        json_object_set_new(row, "median_seconds", json_real(result.median));
        json_object_set_new(row, "best_seconds", json_real(result.best));
        json_object_set_new(row, "runs", json_integer(result.runs));
    } else {
        json_object_set_new(row, "error", json_string(result.error));
    }
    release(&p);
    return row;
}

int ampc_bench_gemm_worker(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int first_job = quick ? 2 : 1;
    ampc_bench_gemm_job job;
    for (int i = first_job; i < argc; i++) {
        if (!ampc_bench_gemm_job_parse(argv[i], &job)) {
            fprintf(stderr, "ampc bench gemm --worker: job \"%s\" is not impl:form:m:n:k "
                            "(e.g. ampc_bf16:NT:128:784:1024)\n", argv[i]);
            return 2;
        }
    }
    json_t *results = json_array();
    for (int i = first_job; i < argc; i++) {
        ampc_bench_gemm_job_parse(argv[i], &job);
        json_array_append_new(results, measure_job(argv[i], &job, quick));
    }
    /* The core OpenBLAS actually loaded: the parent checks that an OPENBLAS_CORETYPE it set
     * took effect (OpenBLAS ignores a name it does not know). */
    json_t *root = json_pack("{s:s, s:i, s:s, s:o}", "path", ampc_isa_name(ampc_cpu_active_isa()),
                             "threads", ampc_num_threads(), "blas_core", ampc_gemm_blas_core(),
                             "results", results);
    int status = root && json_dumpf(root, stdout, JSON_COMPACT) == 0 ? 0 : 1;
    printf("\n");
    json_decref(root);
    return status;
}
