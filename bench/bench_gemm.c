/* `ampc bench gemm`: GFLOP/s of ampc's GEMM per dtype and ISA path, beside OpenBLAS sgemm and
 * oneDNN's bf16 matmul in the same run, each figure also as a % of this machine's measured peak,
 * and the goals of the GEMM issue as met or missed. docs/benchmarks.md has the long version.
 *
 * What is measured:
 *   peak      register-resident loops of one instruction (bench_peak.c), on 1 thread and on
 *             all of ampc's threads: fp64/fp32/fp16 FMA, VDPBF16PS and, with AMX, TDPBF16PS
 *   square    C = A B with n x n matrices, n = 256 ... 4096. F16 and BF16 on every ISA level
 *             up to the active one that has a microkernel of its own (scalar only up to 512,
 *             levels below the active one up to 2048); F32, F64 (1024 only), OpenBLAS sgemm
 *             and oneDNN on the active level
 *   training  the three products of a linear layer Y = X W, with X (M x K), W (K x N):
 *               NN  forward           Y  = X W       m = M, n = N, k = K
 *               NT  backward data     dX = dY W^T    m = M, n = K, k = N
 *               TN  backward weights  dW = X^T dY    m = K, n = N, k = M
 *             for the MLP, im2col-convolution and transformer layers of training_layers
 *   1 thread  every implementation at 1024^3 on one thread
 *
 * Each (level, thread count, thread pool, OpenBLAS kernel set) group of jobs runs in a worker:
 * this executable started again with AMPC_ISA and the thread counts in its environment
 * (bench_gemm_worker.c).
 * When OpenBLAS picked a generic kernel set on an AVX-512 CPU, ampc F32 and OpenBLAS sgemm
 * run again in workers with OPENBLAS_CORETYPE=SkylakeX (ampc_bench_gemm_blas), and each
 * worker reports the core it loaded, so a forced one that did not take effect is an error.
 * OpenBLAS sgemm, the one job on OpenBLAS's own threads, gets workers of its own: ampc makes
 * OpenBLAS serial for the whole process on its first F32/F64 call and threads it with OpenMP
 * (src/kernels/gemm_blas.c), which would leave a threaded baseline in the same process
 * running on one thread. The other workers run OpenBLAS with 1 thread, as ampc does, so no
 * idle pool spins beside the one being measured. */
#include <ampc/ampc.h>

#include <jansson.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_gemm.h"
#include "core/cpu.h"
#include "kernels/gemm_kernels.h"

extern char **environ;

enum {
    MAX_SIZE = 8192,
    REFERENCE_SIZE = 1024,       /* F64 and the 1-thread rows run here */
    QUICK_REFERENCE_SIZE = 128,  /* ... and here with --quick */
    SCALAR_MAX_SIZE = 512,       /* the scalar path is a reference: slow, small sizes only */
    LOWER_LEVEL_MAX_SIZE = 2048, /* levels below the active one skip larger sizes */
    QUICK_MAX_DIM = 64,          /* --quick caps every dimension of the training shapes */
};

/* F64 calls OpenBLAS too, but has no baseline and runs at one size: it is measured under the
 * default core only. */
const ampc_bench_gemm_impl_info ampc_bench_gemm_impls[AMPC_BENCH_GEMM_IMPL_COUNT] = {
    [AMPC_BENCH_GEMM_AMPC_F64] = {"ampc F64", AMPC_BENCH_GEMM_PEAK_F64,
                                  AMPC_BENCH_GEMM_IMPL_COUNT, false, false},
    [AMPC_BENCH_GEMM_AMPC_F32] = {"ampc F32", AMPC_BENCH_GEMM_PEAK_F32,
                                  AMPC_BENCH_GEMM_OPENBLAS_SGEMM, false, true},
    [AMPC_BENCH_GEMM_AMPC_F16] = {"ampc F16", AMPC_BENCH_GEMM_PEAK_F32,
                                  AMPC_BENCH_GEMM_OPENBLAS_SGEMM, false, false},
    [AMPC_BENCH_GEMM_AMPC_BF16] = {"ampc BF16", AMPC_BENCH_GEMM_PEAK_BF16,
                                   AMPC_BENCH_GEMM_ONEDNN_BF16, false, false},
    [AMPC_BENCH_GEMM_OPENBLAS_SGEMM] = {"OpenBLAS sgemm", AMPC_BENCH_GEMM_PEAK_F32,
                                        AMPC_BENCH_GEMM_IMPL_COUNT, true, true},
    [AMPC_BENCH_GEMM_ONEDNN_BF16] = {"oneDNN bf16", AMPC_BENCH_GEMM_PEAK_BF16,
                                     AMPC_BENCH_GEMM_IMPL_COUNT, false, false},
};

/* The OPENBLAS_CORETYPE each kernel set is run with; NULL: the environment's, passed on. */
static const char *const blas_coretypes[AMPC_BENCH_GEMM_BLAS_COUNT] = {
    [AMPC_BENCH_GEMM_BLAS_DEFAULT] = NULL,
    [AMPC_BENCH_GEMM_BLAS_SKYLAKEX] = "SkylakeX",
};

/* The CNN rows are 3x3 convolutions as im2col GEMMs: M = batch 128 x 28 x 28 (or 14 x 14)
 * pixels, K = 3 x 3 x input channels, N = output channels. */
static const ampc_bench_gemm_layer training_layers[] = {
    {"mlp", 128, 784, 1024},          {"mlp", 128, 1024, 1024},
    {"mlp", 128, 1024, 10},           {"mlp", 512, 784, 1024},
    {"mlp", 512, 1024, 1024},         {"mlp", 512, 1024, 10},
    {"cnn", 128 * 28 * 28, 9, 32},    {"cnn", 128 * 14 * 14, 288, 64},
    {"transformer", 512, 256, 1024},  {"transformer", 512, 1024, 256},
    {"transformer", 2048, 256, 1024}, {"transformer", 2048, 1024, 256},
    {"transformer", 2048, 1024, 1024},
};
enum { TRAINING_LAYER_COUNT = sizeof training_layers / sizeof training_layers[0] };

static const int64_t default_sizes[] = {256, 512, 1024, 2048, 4096};
static const int64_t quick_sizes[] = {64, QUICK_REFERENCE_SIZE};

/* ---- What to measure where. ---- */

/* The product a layer's form computes (see the top of the file). */
static ampc_bench_gemm_job gemm_job(ampc_bench_gemm_shape shape, ampc_bench_gemm_impl impl)
{
    const ampc_bench_gemm_layer *l = &shape.layer;
    switch (shape.form) {
    case AMPC_BENCH_GEMM_NT:
        return (ampc_bench_gemm_job){impl, shape.form, l->rows, l->inputs, l->outputs};
    case AMPC_BENCH_GEMM_TN:
        return (ampc_bench_gemm_job){impl, shape.form, l->inputs, l->outputs, l->rows};
    default: return (ampc_bench_gemm_job){impl, shape.form, l->rows, l->outputs, l->inputs};
    }
}

static bool add_one_row(ampc_bench_gemm_run *run, ampc_bench_gemm_shape shape,
                        ampc_bench_gemm_impl impl, ampc_isa level, int threads,
                        ampc_bench_gemm_blas blas)
{
    if (run->count == run->capacity) {
        int capacity = run->capacity ? 2 * run->capacity : 256;
        ampc_bench_gemm_row *rows = realloc(run->rows, (size_t)capacity * sizeof *rows);
        if (!rows) return false;
        run->rows = rows;
        run->capacity = capacity;
    }
    run->rows[run->count++] = (ampc_bench_gemm_row){
        .shape = shape, .job = gemm_job(shape, impl), .level = level, .threads = threads,
        .blas = blas};
    return true;
}

/* The rows of impl at the shape: one per OpenBLAS kernel set measured if it calls OpenBLAS. */
static bool add_row(ampc_bench_gemm_run *run, ampc_bench_gemm_shape shape,
                    ampc_bench_gemm_impl impl, ampc_isa level, int threads)
{
    if (impl == AMPC_BENCH_GEMM_ONEDNN_BF16 && !run->have_onednn) return true;
    int blas_count = ampc_bench_gemm_impls[impl].per_blas_core ? run->blas_count : 1;
    bool ok = true;
    for (int blas = 0; blas < blas_count; blas++)
        ok = ok && add_one_row(run, shape, impl, level, threads, (ampc_bench_gemm_blas)blas);
    return ok;
}

/* SkylakeX beside the default kernel set when that is a generic one on an AVX-512 CPU: a
 * baseline running OpenBLAS's SSE3 kernels would flatter every ratio to it. */
static void choose_blas_cores(ampc_bench_gemm_run *run)
{
    snprintf(run->blas_cores[AMPC_BENCH_GEMM_BLAS_DEFAULT], sizeof run->blas_cores[0], "%s",
             ampc_gemm_blas_core());
    run->blas_count = 1;
    if (ampc_gemm_blas_core_is_generic() && ampc_cpu_has(AMPC_FEATURE_AVX512F)) {
        snprintf(run->blas_cores[AMPC_BENCH_GEMM_BLAS_SKYLAKEX], sizeof run->blas_cores[0], "%s",
                 blas_coretypes[AMPC_BENCH_GEMM_BLAS_SKYLAKEX]);
        run->blas_count = 2;
    }
}

static ampc_bench_gemm_shape square_shape(int64_t n)
{
    return (ampc_bench_gemm_shape){{"square", n, n, n}, AMPC_BENCH_GEMM_NN};
}

static bool is_reference_size(const ampc_bench_gemm_run *run, int64_t n)
{
    return n == (run->quick ? QUICK_REFERENCE_SIZE : REFERENCE_SIZE);
}

/* Whether the level runs a microkernel of its own for dtype: levels that reuse the one of
 * the level above them are not measured again. The active level is always measured. */
static bool level_has_own_kernel(const ampc_bench_gemm_run *run, ampc_isa level,
                                 ampc_dtype dtype)
{
    if (level == run->active) return true;
    const ampc_gemm_kernel *kernel = ampc_gemm_kernel_at(level, dtype);
    return !kernel || kernel != ampc_gemm_kernel_at((ampc_isa)(level + 1), dtype);
}

static bool plan_square(ampc_bench_gemm_run *run)
{
    static const ampc_bench_gemm_impl active_only[] = {
        AMPC_BENCH_GEMM_AMPC_F32, AMPC_BENCH_GEMM_OPENBLAS_SGEMM, AMPC_BENCH_GEMM_ONEDNN_BF16};
    static const struct {
        ampc_bench_gemm_impl impl;
        ampc_dtype dtype;
    } per_level[] = {{AMPC_BENCH_GEMM_AMPC_F16, AMPC_F16}, {AMPC_BENCH_GEMM_AMPC_BF16, AMPC_BF16}};
    bool ok = true;
    for (int s = 0; s < run->size_count; s++) {
        int64_t n = run->sizes[s];
        ampc_bench_gemm_shape shape = square_shape(n);
        for (int level = 0; level <= (int)run->active; level++) {
            if (level == AMPC_ISA_SCALAR && n > SCALAR_MAX_SIZE) continue;
            if (level < (int)run->active && n > LOWER_LEVEL_MAX_SIZE) continue;
            for (size_t i = 0; i < sizeof per_level / sizeof per_level[0]; i++)
                if (level_has_own_kernel(run, (ampc_isa)level, per_level[i].dtype))
                    ok = ok && add_row(run, shape, per_level[i].impl, (ampc_isa)level,
                                       run->threads);
        }
        for (size_t i = 0; i < sizeof active_only / sizeof active_only[0]; i++)
            ok = ok && add_row(run, shape, active_only[i], run->active, run->threads);
        if (is_reference_size(run, n))
            ok = ok && add_row(run, shape, AMPC_BENCH_GEMM_AMPC_F64, run->active, run->threads);
    }
    return ok;
}

/* --quick: the first layer of each model, every dimension capped. */
static bool shrink_for_quick(ampc_bench_gemm_layer *layer, const char *previous_model)
{
    if (strcmp(layer->model, previous_model) == 0) return false;
    if (layer->rows > QUICK_MAX_DIM) layer->rows = QUICK_MAX_DIM;
    if (layer->inputs > QUICK_MAX_DIM) layer->inputs = QUICK_MAX_DIM;
    if (layer->outputs > QUICK_MAX_DIM) layer->outputs = QUICK_MAX_DIM;
    return true;
}

static bool plan_training(ampc_bench_gemm_run *run)
{
    static const ampc_bench_gemm_impl compared[] = {
        AMPC_BENCH_GEMM_AMPC_BF16, AMPC_BENCH_GEMM_ONEDNN_BF16, AMPC_BENCH_GEMM_AMPC_F32,
        AMPC_BENCH_GEMM_OPENBLAS_SGEMM, AMPC_BENCH_GEMM_AMPC_F16};
    bool ok = true;
    const char *previous_model = "";
    for (int i = 0; i < TRAINING_LAYER_COUNT; i++) {
        ampc_bench_gemm_layer layer = training_layers[i];
        if (run->quick && !shrink_for_quick(&layer, previous_model)) continue;
        previous_model = layer.model;
        for (int form = 0; form < AMPC_BENCH_GEMM_FORM_COUNT; form++)
            for (size_t c = 0; c < sizeof compared / sizeof compared[0]; c++)
                ok = ok && add_row(run,
                                   (ampc_bench_gemm_shape){layer, (ampc_bench_gemm_form)form},
                                   compared[c], run->active, run->threads);
    }
    return ok;
}

static bool plan_single_thread(ampc_bench_gemm_run *run)
{
    static const ampc_bench_gemm_impl compared[] = {
        AMPC_BENCH_GEMM_AMPC_F32, AMPC_BENCH_GEMM_OPENBLAS_SGEMM, AMPC_BENCH_GEMM_AMPC_F16,
        AMPC_BENCH_GEMM_AMPC_BF16, AMPC_BENCH_GEMM_ONEDNN_BF16};
    bool ok = true;
    if (run->threads == 1) return true; /* the main tables are 1 thread already */
    for (int s = 0; s < run->size_count; s++) {
        if (!is_reference_size(run, run->sizes[s])) continue;
        for (size_t c = 0; c < sizeof compared / sizeof compared[0]; c++)
            ok = ok && add_row(run, square_shape(run->sizes[s]), compared[c], run->active, 1);
    }
    return ok;
}

/* ---- Running the workers. ---- */

/* The worker's variables; everything else in the environment is passed on as it is, and so is
 * OPENBLAS_CORETYPE unless the kernel set is forced. */
enum { WORKER_VARIABLES = 5, VARIABLE_CAPACITY = 48 };

static bool is_worker_variable(const char *entry, bool forced_core)
{
    static const char *const names[WORKER_VARIABLES] = {
        "AMPC_ISA=", "AMPC_NUM_THREADS=", "OMP_NUM_THREADS=", "OPENBLAS_NUM_THREADS=",
        "OPENBLAS_CORETYPE="};
    int checked = forced_core ? WORKER_VARIABLES : WORKER_VARIABLES - 1;
    for (int i = 0; i < checked; i++)
        if (strncmp(entry, names[i], strlen(names[i])) == 0) return true;
    return false;
}

/* This process's environment with the ISA cap, the thread counts and the OpenBLAS kernel set
 * (NULL if out of memory). storage holds the new entries. */
static char **worker_environment(ampc_isa level, int threads, bool openblas,
                                 ampc_bench_gemm_blas blas,
                                 char storage[WORKER_VARIABLES][VARIABLE_CAPACITY])
{
    const char *coretype = blas_coretypes[blas];
    size_t count = 0, used = 0;
    while (environ[count]) count++;
    char **env = calloc(count + WORKER_VARIABLES + 1, sizeof *env);
    if (!env) return NULL;
    for (size_t i = 0; i < count; i++)
        if (!is_worker_variable(environ[i], coretype != NULL)) env[used++] = environ[i];
    snprintf(storage[0], VARIABLE_CAPACITY, "AMPC_ISA=%s", ampc_isa_name(level));
    snprintf(storage[1], VARIABLE_CAPACITY, "AMPC_NUM_THREADS=%d", threads);
    snprintf(storage[2], VARIABLE_CAPACITY, "OMP_NUM_THREADS=%d", threads);
    snprintf(storage[3], VARIABLE_CAPACITY, "OPENBLAS_NUM_THREADS=%d", openblas ? threads : 1);
    snprintf(storage[4], VARIABLE_CAPACITY, "OPENBLAS_CORETYPE=%s", coretype ? coretype : "");
    for (int i = 0; i < (coretype ? WORKER_VARIABLES : WORKER_VARIABLES - 1); i++)
        env[used++] = storage[i];
    return env;
}

/* Starts this executable as a worker with its stdout on a pipe; returns the pid, or -1 with
 * the reason in why. *output is the read end. */
static pid_t spawn_worker(char **argv, char **env, int *output, char *why, size_t why_capacity)
{
    char executable[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", executable, sizeof executable - 1);
    int fds[2];
    if (length <= 0 || pipe(fds) != 0) {
        snprintf(why, why_capacity, "could not find the ampc executable or open a pipe");
        return -1;
    }
    executable[length] = '\0';
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    posix_spawn_file_actions_addclose(&actions, fds[1]);
    fflush(stdout);
    pid_t pid;
    int error = posix_spawn(&pid, executable, &actions, NULL, argv, env);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    if (error) {
        snprintf(why, why_capacity, "could not run the ampc executable again: %s",
                 strerror(error));
        close(fds[0]);
        return -1;
    }
    *output = fds[0];
    return pid;
}

/* The worker's JSON is its last line. Lines before it come from libraries that print to
 * stdout (ONEDNN_VERBOSE=1, say): they are passed on to stderr. */
static json_t *read_worker_output(FILE *stream)
{
    char *line = NULL, *last = NULL;
    size_t capacity = 0;
    ssize_t length;
    while ((length = getline(&line, &capacity, stream)) >= 0) {
        if (last) fputs(last, stderr);
        free(last);
        last = strdup(line);
    }
    free(line);
    json_error_t error;
    json_t *root = last ? json_loads(last, 0, &error) : NULL;
    free(last);
    return root;
}

/* Runs `ampc bench gemm --worker [--quick] JOB...` and returns its parsed output, or NULL
 * with the reason in why. */
static json_t *run_worker(ampc_isa level, int threads, bool openblas, ampc_bench_gemm_blas blas,
                          bool quick, char **jobs, int job_count, char *why, size_t why_capacity)
{
    char storage[WORKER_VARIABLES][VARIABLE_CAPACITY];
    char **argv = calloc((size_t)job_count + 6, sizeof *argv);
    char **env = worker_environment(level, threads, openblas, blas, storage);
    json_t *root = NULL;
    int output = -1;
    pid_t pid = -1;
    if (!argv || !env) snprintf(why, why_capacity, "out of memory");
    if (argv && env) {
        int argc = 0;
        argv[argc++] = "ampc";
        argv[argc++] = "bench";
        argv[argc++] = "gemm";
        argv[argc++] = "--worker";
        if (quick) argv[argc++] = "--quick";
        for (int i = 0; i < job_count; i++) argv[argc++] = jobs[i];
        pid = spawn_worker(argv, env, &output, why, why_capacity);
    }
    if (pid > 0) {
        FILE *stream = fdopen(output, "r");
        root = stream ? read_worker_output(stream) : NULL;
        if (stream) fclose(stream);
        else close(output);
        int status = 0;
        waitpid(pid, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !root) {
            snprintf(why, why_capacity, "the worker for AMPC_ISA=%s failed (%s %d)",
                     ampc_isa_name(level), WIFEXITED(status) ? "exit code" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
            json_decref(root);
            root = NULL;
        }
    }
    free(argv);
    free(env);
    return root;
}

static void take_result(ampc_bench_gemm_row *r, json_t *result)
{
    const char *error = json_string_value(json_object_get(result, "error"));
    const char *implementation = json_string_value(json_object_get(result, "implementation"));
    if (implementation)
        snprintf(r->implementation, sizeof r->implementation, "%s", implementation);
    if (error) {
        snprintf(r->error, sizeof r->error, "%s", error);
        return;
    }
    r->measured = true;
    r->median = json_real_value(json_object_get(result, "median_seconds"));
    r->best = json_real_value(json_object_get(result, "best_seconds"));
    r->runs = (int)json_integer_value(json_object_get(result, "runs"));
}

/* Whether the worker ran the OpenBLAS kernel set asked for (OpenBLAS ignores an
 * OPENBLAS_CORETYPE it does not know); if not, why in why. */
static bool core_took_effect(json_t *root, ampc_bench_gemm_blas blas, char *why,
                             size_t why_capacity)
{
    const char *coretype = blas_coretypes[blas];
    const char *core = json_string_value(json_object_get(root, "blas_core"));
    if (!coretype || (core && strcasecmp(core, coretype) == 0)) return true;
    snprintf(why, why_capacity, "OPENBLAS_CORETYPE=%s did not take effect: OpenBLAS ran its %s "
             "kernels", coretype, core ? core : "unknown");
    return false;
}

/* The worker group a row belongs to. */
static bool same_group(const ampc_bench_gemm_row *a, const ampc_bench_gemm_row *b)
{
    return a->level == b->level && a->threads == b->threads && a->blas == b->blas &&
           ampc_bench_gemm_impls[a->job.impl].openblas ==
               ampc_bench_gemm_impls[b->job.impl].openblas;
}

enum { JOB_TEXT_CAPACITY = 96 };

/* Measures the rows of first's group in one worker. */
static bool measure_group(ampc_bench_gemm_run *run, const ampc_bench_gemm_row *first)
{
    int *members = malloc((size_t)run->count * sizeof *members);
    char **jobs = malloc((size_t)run->count * sizeof *jobs);
    char(*texts)[JOB_TEXT_CAPACITY] = malloc((size_t)run->count * sizeof *texts);
    bool ok = members && jobs && texts;
    int count = 0;
    for (int i = 0; ok && i < run->count; i++) {
        if (!same_group(&run->rows[i], first)) continue;
        ampc_bench_gemm_job_format(&run->rows[i].job, texts[count], JOB_TEXT_CAPACITY);
        jobs[count] = texts[count];
        members[count++] = i;
    }
    bool openblas = ampc_bench_gemm_impls[first->job.impl].openblas;
    const char *coretype = blas_coretypes[first->blas];
    if (ok && isatty(STDERR_FILENO))
        fprintf(stderr, "ampc bench gemm: %d products, AMPC_ISA=%s, %d thread%s, %s%s%s\n",
                count, ampc_isa_name(first->level), first->threads,
                first->threads == 1 ? "" : "s", openblas ? "OpenBLAS" : "OpenMP",
                coretype ? ", OPENBLAS_CORETYPE=" : "", coretype ? coretype : "");
    char why[256] = "";
    json_t *root = ok ? run_worker(first->level, first->threads, openblas, first->blas,
                                   run->quick, jobs, count, why, sizeof why)
                      : NULL;
    if (root && !core_took_effect(root, first->blas, why, sizeof why)) {
        json_decref(root);
        root = NULL;
    }
    json_t *results = json_object_get(root, "results");
    const char *core = json_string_value(json_object_get(root, "blas_core"));
    for (int i = 0; ok && i < count; i++) {
        ampc_bench_gemm_row *r = &run->rows[members[i]];
        json_t *result = json_array_get(results, (size_t)i);
        snprintf(r->blas_core, sizeof r->blas_core, "%s", core ? core : "");
        if (result) take_result(r, result);
        else snprintf(r->error, sizeof r->error, "%s", why);
    }
    if (ok && !root) fprintf(stderr, "ampc bench gemm: %s\n", why);
    json_decref(root);
    free(members);
    free(jobs);
    free(texts);
    return ok;
}

/* One worker per group, in the order the groups first appear. */
static bool measure_all(ampc_bench_gemm_run *run)
{
    for (int i = 0; i < run->count; i++) {
        bool seen = false;
        for (int j = 0; j < i && !seen; j++) seen = same_group(&run->rows[j], &run->rows[i]);
        if (!seen && !measure_group(run, &run->rows[i])) return false;
    }
    return true;
}

static void measure_peaks(ampc_bench_gemm_run *run)
{
    for (int k = 0; k < AMPC_BENCH_PEAK_COUNT; k++) {
        ampc_bench_peak peak = (ampc_bench_peak)k;
        run->peaks[k][0] = ampc_bench_peak_gflops(peak, 1, run->quick);
        run->peaks[k][1] = run->threads == 1 ? run->peaks[k][0]
                                             : ampc_bench_peak_gflops(peak, run->threads,
                                                                      run->quick);
    }
    /* BF16 widens to fp32 exactly, so a BF16 GEMM may run on fp32 FMA: where that is faster
     * than VDPBF16PS (as on some CPUs, where VDPBF16PS issues at half the FMA rate), fp32 FMA
     * is the best bf16 peak. */
    const int all = 1;
    if (ampc_bench_peak_available(AMPC_BENCH_PEAK_AMX_BF16))
        run->bf16_peak = AMPC_BENCH_PEAK_AMX_BF16;
    else if (run->peaks[AMPC_BENCH_PEAK_BF16_DOT][all] > run->peaks[AMPC_BENCH_PEAK_F32_FMA][all])
        run->bf16_peak = AMPC_BENCH_PEAK_BF16_DOT;
    else
        run->bf16_peak = AMPC_BENCH_PEAK_F32_FMA;
}

/* ---- Options. ---- */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: ampc bench gemm [--json] [--quick] [--sizes N,N,...]\n\n"
            "GFLOP/s of ampc_gemm for F32, F16, BF16 (and F64 at 1024) on every ISA path up to\n"
            "the active one (AMPC_ISA caps it), at square sizes and at the forward and both\n"
            "backward products of MLP, CNN (im2col) and transformer layers, beside OpenBLAS\n"
            "sgemm and oneDNN's bf16 matmul (if libdnnl.so.2 is installed), with every figure\n"
            "as a %% of this machine's measured peak, and the GEMM goals as met or missed.\n"
            "Takes a few minutes; docs/benchmarks.md explains every column.\n\n"
            "  --json        print one JSON object instead of the table\n"
            "  --quick       tiny sizes and one call each: a smoke test, not a measurement\n"
            "  --sizes LIST  square sizes, comma-separated (default 256,512,1024,2048,4096)\n");
}

static int usage_error(const char *message, const char *argument)
{
    return ampc_bench_usage_error("gemm", print_usage, message, argument);
}

static bool parse_sizes(const char *text, ampc_bench_gemm_run *run)
{
    run->size_count = 0;
    const char *cursor = text;
    while (*cursor) {
        char *end;
        long long size = strtoll(cursor, &end, 10);
        if (end == cursor || size < 1 || size > MAX_SIZE ||
            run->size_count == AMPC_BENCH_GEMM_MAX_SIZES || (*end != ',' && *end != '\0'))
            return false;
        run->sizes[run->size_count++] = size;
        cursor = *end == ',' ? end + 1 : end;
    }
    return run->size_count > 0;
}

/* 0 to run, -1 to exit successfully now (help), or the exit code of a usage error. */
static int parse_options(int argc, char **argv, ampc_bench_gemm_run *run, bool *json)
{
    bool sizes_given = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            *json = true;
        } else if (strcmp(argv[i], "--quick") == 0) {
            run->quick = true;
        } else if (strcmp(argv[i], "--sizes") == 0) {
            if (i + 1 == argc) return usage_error("--sizes needs a value, e.g. %s", "512,1024");
            if (!parse_sizes(argv[++i], run))
                return usage_error("--sizes \"%s\" is not a comma-separated list of 1 to 8 "
                                   "sizes from 1 to 8192",
                                   argv[i]);
            sizes_given = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout);
            return -1;
        } else {
            return usage_error("unknown option \"%s\"; expected --json, --quick, --sizes or "
                               "--help",
                               argv[i]);
        }
    }
    if (!sizes_given) {
        const int64_t *sizes = run->quick ? quick_sizes : default_sizes;
        run->size_count = run->quick ? 2 : 5;
        memcpy(run->sizes, sizes, (size_t)run->size_count * sizeof *sizes);
    }
    return 0;
}

int ampc_bench_gemm(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--worker") == 0)
        return ampc_bench_gemm_worker(argc - 1, argv + 1);
    ampc_bench_gemm_run run = {.active = ampc_cpu_active_isa(),
                               .threads = ampc_num_threads(),
                               .have_onednn = ampc_bench_dnnl_problem() == NULL};
    bool json = false;
    int parsed = parse_options(argc, argv, &run, &json);
    if (parsed) return parsed < 0 ? 0 : parsed;

    double start = ampc_bench_now();
    ampc_bench_load_begin(&run.load, run.quick);
    measure_peaks(&run);
    choose_blas_cores(&run);
    bool ok = plan_square(&run) && plan_training(&run) && plan_single_thread(&run) &&
              measure_all(&run);
    ampc_bench_load_end(&run.load, run.quick);
    run.elapsed = ampc_bench_now() - start;
    int status = 0;
    if (!ok) {
        fprintf(stderr, "ampc bench gemm: out of memory\n");
        status = 1;
    } else if (json) {
        status = ampc_bench_gemm_print_json(&run);
    } else {
        ampc_bench_gemm_print_table(&run);
    }
    for (int i = 0; i < run.count; i++)
        if (!run.rows[i].measured) status = 1;
    free(run.rows);
    return status;
}
