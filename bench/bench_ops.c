/* `ampc bench ops`: is reduced precision faster and lighter than fp32 for training ops?
 *
 * For each op of bench_ops_cases.c, and for a small MLP training step, the F32, BF16 and F16
 * versions are measured in the same run and reported as ratios to F32:
 *   time    forward + backward per call: the leaves' gradients dropped (zero_grad with
 *           set_to_none), then inside an arena (entered, forward, ampc_backward with an
 *           upstream gradient, left, reset), as a training step runs.
 *   memory  tensor bytes the forward leaves alive for the backward (its output and what the
 *           op saved), from ampc_memory_get_stats around one forward outside any arena, where
 *           freed temporaries are uncounted at once. The MLP reports the step's peak of
 *           activation bytes inside its arena instead (everything the step allocates).
 * Baselines in the same run: memory-bound ops beside a memcpy on the same threads moving the
 * op's minimal bytes (half read, half written) at each element size; compute-bound ones as a
 * % of the fp32 FMA peak measured by bench_peak.c.
 *
 * Timing: every measurement of an op (its three dtypes and the memcpy baselines) runs once as
 * a warm-up (which also grows the arena and faults the pages in), then they take turns, one
 * call each per round, until each has run min_seconds and at least MIN_ROUNDS rounds: a slow
 * spell of the machine lands on all of them alike. The median call counts. */
#include "bench_ops.h"

#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MIN_ROUNDS = 3, MAX_ROUNDS = 400, MAX_JOBS = AMPC_BENCH_OPS_DTYPES + 2, SEED = 1234 };
static const double MIN_SECONDS = 1.0;

/* ---- Turn-taking timer. ---- */

typedef bool (*job_function)(void *context);

typedef struct job {
    job_function run;
    void *context;
    bool failed;
    double seconds[MAX_ROUNDS];
    double total;
    int rounds;
} job;

static bool job_done(const job *j, double min_seconds)
{
    return j->failed || j->rounds == MAX_ROUNDS ||
           (j->total >= min_seconds && j->rounds >= MIN_ROUNDS);
}

/* A warm-up call of each job, then rounds of one timed call each until every job is done
 * (quick: one round). A job that fails is not called again. */
static void time_jobs(job *jobs, int count, const ampc_bench_ops_run *run)
{
    for (int j = 0; j < count; j++) jobs[j].failed = !jobs[j].run(jobs[j].context);
    bool all_done = false;
    while (!all_done) {
        all_done = true;
        for (int j = 0; j < count; j++) {
            job *current = &jobs[j];
            if (job_done(current, run->min_seconds) || (run->quick && current->rounds == 1))
                continue;
            double start = ampc_bench_now();
            current->failed = !current->run(current->context);
            double seconds = ampc_bench_now() - start;
            current->seconds[current->rounds++] = seconds;
            current->total += seconds;
            all_done = all_done && (job_done(current, run->min_seconds) || run->quick);
        }
    }
}

static void take_timing(job *j, ampc_bench_ops_timing *timing)
{
    if (j->failed || j->rounds == 0) {
        if (!timing->error[0])
            snprintf(timing->error, sizeof timing->error, "%s", ampc_error_message());
        ampc_error_clear();
        return;
    }
    timing->measured = true;
    timing->best = ampc_bench_min(j->seconds, j->rounds);
    timing->median = ampc_bench_median(j->seconds, j->rounds);
    timing->runs = j->rounds;
}

/* ---- Baseline: memcpy on the run's threads. ---- */

typedef struct copy_job {
    char *dst;
    const char *src;
    size_t bytes;
    int threads;
} copy_job;

static bool run_copy(void *context)
{
    const copy_job *copy = context;
#pragma omp parallel num_threads(copy->threads)
    {
        size_t parts = (size_t)omp_get_num_threads(), part = (size_t)omp_get_thread_num();
        size_t begin = copy->bytes * part / parts, end = copy->bytes * (part + 1) / parts;
        memcpy(copy->dst + begin, copy->src + begin, end - begin);
    }
    return true;
}

/* ---- One op in one dtype. ---- */

typedef struct op_job {
    const ampc_bench_ops_case *op;
    ampc_bench_ops_inputs inputs;
    ampc_tensor *gradient; /* upstream, or NULL for a one-element output */
    ampc_arena *arena;
} op_job;

static void free_op_job(op_job *o)
{
    for (int i = 0; i < o->inputs.count; i++) ampc_tensor_free(o->inputs.tensors[i]);
    ampc_tensor_free(o->gradient);
    ampc_arena_free(o->arena);
}

/* Forward, backward with the upstream gradient, and the graph released. */
static bool forward_backward(const op_job *o, ampc_tensor *output)
{
    return output && ampc_backward(output, o->gradient, false) == AMPC_OK;
}

/* Drops the leaves' gradients, as zero_grad(set_to_none) before a step: each backward then
 * writes fresh gradients instead of adding into old ones. */
static void drop_gradients(ampc_tensor *const *tensors, int count)
{
    for (int i = 0; i < count; i++)
        if (ampc_tensor_requires_grad(tensors[i])) ampc_tensor_zero_grad(tensors[i], true);
}

static bool run_op(void *context)
{
    op_job *o = context;
    drop_gradients(o->inputs.tensors, o->inputs.count);
    if (ampc_arena_enter(o->arena) != AMPC_OK) return false;
    bool ok = forward_backward(o, o->op->forward(&o->inputs));
    return ampc_arena_leave(o->arena) == AMPC_OK && ampc_arena_reset(o->arena) == AMPC_OK && ok;
}

/* Bytes of OTHER (tensors made outside any arena) live now, and their peak since the last
 * reset of the peaks. */
static size_t other_bytes(bool peak)
{
    ampc_memory_stats stats;
    ampc_memory_get_stats(&stats);
    return peak ? stats.peak_bytes[AMPC_MEMORY_OTHER] : stats.live_bytes[AMPC_MEMORY_OTHER];
}

/* Builds the op's tensors, and runs one forward outside any arena to count its bytes and to
 * learn its output's shape for the upstream gradient; then its backward. */
static bool prepare_op(op_job *o, const int64_t *dims, ampc_dtype dtype, ampc_generator *g,
                       ampc_bench_ops_timing *timing)
{
    if (!o->op->make(dims, dtype, g, &o->inputs)) return false;
    o->arena = ampc_arena_new();
    ampc_memory_reset_peaks();
    size_t before = other_bytes(false);
    ampc_tensor *output = o->op->forward(&o->inputs);
    timing->saved_bytes = other_bytes(false) - before;
    timing->peak_bytes = other_bytes(true) - before;
    if (output && ampc_tensor_numel(output) > 1)
        o->gradient = ampc_tensor_randn(g, dtype, ampc_tensor_ndim(output),
                                        ampc_tensor_shape(output));
    bool ok = o->arena && forward_backward(o, output);
    ampc_tensor_free(output);
    return ok;
}

/* "x [4096, 1024], W [1024, 1024], b [1024]" from the F32 tensors' shapes. */
static void describe_shapes(ampc_bench_ops_row *row, const ampc_bench_ops_inputs *inputs)
{
    size_t used = 0;
    for (int i = 0; i < inputs->count && used < sizeof row->shape; i++) {
        const int64_t *shape = ampc_tensor_shape(inputs->tensors[i]);
        used += (size_t)snprintf(row->shape + used, sizeof row->shape - used, "%s%s [",
                                 i ? ", " : "", inputs->names[i]);
        for (int k = 0; k < ampc_tensor_ndim(inputs->tensors[i]) && used < sizeof row->shape;
             k++)
            used += (size_t)snprintf(row->shape + used, sizeof row->shape - used, "%s%lld",
                                     k ? ", " : "", (long long)shape[k]);
        if (used < sizeof row->shape)
            used += (size_t)snprintf(row->shape + used, sizeof row->shape - used, "]");
    }
}

/* The op's three dtypes and, for a memory-bound op, memcpy of its bytes at 4 and 2 bytes per
 * element, taking turns. */
static void measure_op(ampc_bench_ops_run *run, ampc_bench_ops_row *row, ampc_generator *g)
{
    op_job ops[AMPC_BENCH_OPS_DTYPES] = {{0}};
    job jobs[MAX_JOBS] = {{0}};
    int count = 0;
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++) {
        ops[d].op = row->op;
        bool ok = prepare_op(&ops[d], row->dims, ampc_bench_ops_dtypes[d], g, &row->timings[d]);
        jobs[count++] = (job){.run = run_op, .context = &ops[d], .failed = !ok};
    }
    double work = ampc_bench_ops_work(row);
    bool memory_bound = row->op->bound == AMPC_BENCH_OPS_MEMORY;
    size_t bytes = memory_bound ? (size_t)(work * 4.0 / 2.0) : 0;
    char *src = memory_bound ? malloc(bytes) : NULL, *dst = memory_bound ? malloc(bytes) : NULL;
    copy_job copies[2] = {{dst, src, bytes, run->threads}, {dst, src, bytes / 2, run->threads}};
    if (src && dst) {
        memset(src, 1, bytes);
        memset(dst, 0, bytes);
        for (int c = 0; c < 2; c++) jobs[count++] = (job){.run = run_copy, .context = &copies[c]};
    }
    time_jobs(jobs, count, run);
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++) take_timing(&jobs[d], &row->timings[d]);
    for (int c = 0; c < 2 && src && dst; c++)
        row->memcpy_seconds[c] = ampc_bench_median(jobs[AMPC_BENCH_OPS_DTYPES + c].seconds,
                                                   jobs[AMPC_BENCH_OPS_DTYPES + c].rounds);
    describe_shapes(row, &ops[0].inputs);
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++) free_op_job(&ops[d]);
    free(src);
    free(dst);
}


/* ---- The MLP training step. ---- */

enum { MLP_LAYERS = AMPC_BENCH_OPS_MLP_LAYERS, MLP_NORMS = MLP_LAYERS - 1 };
static const double MLP_EPS = 1e-5;

/* F32 parameters that require grad: the master weights of mixed precision. */
typedef struct mlp_model {
    ampc_tensor *weights[MLP_LAYERS], *biases[MLP_LAYERS];
    ampc_tensor *norm_weights[MLP_NORMS], *norm_biases[MLP_NORMS];
    ampc_tensor *target; /* I64 (batch) */
} mlp_model;

typedef struct mlp_job {
    const mlp_model *model;
    ampc_dtype dtype;
    ampc_tensor *x; /* (batch, inputs) in dtype: the step's data */
    ampc_arena *arena;
    size_t peak_bytes; /* the largest activation peak of a step */
} mlp_job;

/* The tensor in dtype: itself, or a recorded cast, so that its gradient returns in its own
 * dtype (F32 for the master weights). */
static const ampc_tensor *in_dtype(const ampc_tensor *tensor, ampc_dtype dtype)
{
    return ampc_tensor_dtype(tensor) == dtype ? tensor : ampc_cast(tensor, dtype);
}

/* linear, gelu, layer_norm, linear, gelu, layer_norm, linear, cross_entropy. The matrix
 * products run in the job's dtype; the norms keep F32 parameters and the loss runs on F32
 * logits, as autocast does. Every tensor made here is the arena's. */
static const ampc_tensor *mlp_loss(const mlp_job *m)
{
    const mlp_model *p = m->model;
    const ampc_tensor *h = m->x;
    for (int l = 0; l < MLP_LAYERS; l++) {
        h = ampc_linear(h, in_dtype(p->weights[l], m->dtype), in_dtype(p->biases[l], m->dtype));
        if (l < MLP_NORMS)
            h = ampc_layer_norm(ampc_gelu(h, AMPC_GELU_NONE), 1, p->norm_weights[l],
                                p->norm_biases[l], MLP_EPS);
    }
    return ampc_cross_entropy(in_dtype(h, AMPC_F32), p->target, NULL);
}

static size_t activation_bytes(bool peak)
{
    ampc_memory_stats stats;
    ampc_memory_get_stats(&stats);
    return peak ? stats.peak_bytes[AMPC_MEMORY_ACTIVATIONS]
                : stats.live_bytes[AMPC_MEMORY_ACTIVATIONS];
}

static bool run_mlp(void *context)
{
    mlp_job *m = context;
    drop_gradients(m->model->weights, MLP_LAYERS);
    drop_gradients(m->model->biases, MLP_LAYERS);
    drop_gradients(m->model->norm_weights, MLP_NORMS);
    drop_gradients(m->model->norm_biases, MLP_NORMS);
    ampc_memory_reset_peaks();
    size_t before = activation_bytes(false);
    if (ampc_arena_enter(m->arena) != AMPC_OK) return false;
    const ampc_tensor *loss = mlp_loss(m);
    bool ok = loss && ampc_backward(loss, NULL, false) == AMPC_OK;
    size_t peak = activation_bytes(true) - before;
    if (peak > m->peak_bytes) m->peak_bytes = peak;
    return ampc_arena_leave(m->arena) == AMPC_OK && ampc_arena_reset(m->arena) == AMPC_OK && ok;
}

static ampc_tensor *mlp_parameter(ampc_generator *g, int ndim, const int64_t *shape,
                                  double scale)
{
    ampc_tensor *values = ampc_tensor_uniform(g, AMPC_F32, ndim, shape, -scale, scale);
    if (values) ampc_tensor_set_requires_grad(values, true);
    return values;
}

/* PyTorch's default initialisation: uniform(+-1/sqrt(inputs)); norms 1 and 0. */
static bool make_mlp(mlp_model *p, const int64_t *widths, int64_t batch, ampc_generator *g)
{
    bool ok = true;
    for (int l = 0; l < MLP_LAYERS; l++) {
        double bound = 1.0 / sqrt((double)widths[l]);
        p->weights[l] = mlp_parameter(g, 2, (int64_t[]){widths[l + 1], widths[l]}, bound);
        p->biases[l] = mlp_parameter(g, 1, &widths[l + 1], bound);
        ok = ok && p->weights[l] && p->biases[l];
    }
    for (int l = 0; l < MLP_NORMS; l++) {
        p->norm_weights[l] = ampc_tensor_ones(AMPC_F32, 1, &widths[l + 1]);
        p->norm_biases[l] = ampc_tensor_zeros(AMPC_F32, 1, &widths[l + 1]);
        ok = ok && ampc_tensor_set_requires_grad(p->norm_weights[l], true) == AMPC_OK &&
             ampc_tensor_set_requires_grad(p->norm_biases[l], true) == AMPC_OK;
    }
    p->target = ampc_tensor_empty(AMPC_I64, 1, &batch);
    for (int64_t i = 0; p->target && i < batch; i++)
        ((int64_t *)ampc_tensor_data(p->target))[i] = i % widths[MLP_LAYERS];
    return ok && p->target;
}

static void free_mlp(mlp_model *p)
{
    for (int l = 0; l < MLP_LAYERS; l++) {
        ampc_tensor_free(p->weights[l]);
        ampc_tensor_free(p->biases[l]);
    }
    for (int l = 0; l < MLP_NORMS; l++) {
        ampc_tensor_free(p->norm_weights[l]);
        ampc_tensor_free(p->norm_biases[l]);
    }
    ampc_tensor_free(p->target);
}

static void measure_mlp(ampc_bench_ops_run *run, ampc_generator *g)
{
    const int64_t *widths = ampc_bench_ops_mlp_widths[run->quick];
    int64_t batch = ampc_bench_ops_mlp_batch[run->quick];
    mlp_model model = {0};
    bool ok = make_mlp(&model, widths, batch, g);
    ampc_tensor *x = ampc_tensor_randn(g, AMPC_F32, 2, (int64_t[]){batch, widths[0]});
    mlp_job mlps[AMPC_BENCH_OPS_DTYPES];
    job jobs[AMPC_BENCH_OPS_DTYPES] = {{0}};
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++) {
        ampc_dtype dtype = ampc_bench_ops_dtypes[d];
        mlps[d] = (mlp_job){&model, dtype, ampc_tensor_cast(x, dtype), ampc_arena_new(), 0};
        jobs[d] = (job){.run = run_mlp,
                        .context = &mlps[d],
                        .failed = !ok || !mlps[d].x || !mlps[d].arena};
    }
    time_jobs(jobs, AMPC_BENCH_OPS_DTYPES, run);
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++) {
        take_timing(&jobs[d], &run->mlp[d]);
        run->mlp[d].peak_bytes = mlps[d].peak_bytes;
        ampc_tensor_free(mlps[d].x);
        ampc_arena_free(mlps[d].arena);
    }
    ampc_tensor_free(x);
    free_mlp(&model);
}

/* ---- Options. ---- */

static void print_usage(FILE *out)
{
    fprintf(out,
            "usage: ampc bench ops [--json] [--quick] [--min-time SECONDS] [--ops LIST]\n\n"
            "Forward + backward time of linear, conv2d, attention, layer_norm, softmax, gelu,\n"
            "relu, add, cross_entropy, batch_norm and max_pool2d at training sizes, in F32,\n"
            "BF16 and F16 side by side, as GFLOP/s (%% of the fp32 FMA peak) or GB/s (x the\n"
            "time of memcpy of the same bytes), with the speedup of BF16 and F16 over F32 and\n"
            "the bytes each forward keeps for the backward; then an MLP training step\n"
            "(784-1024-1024-10, batch 256) in each dtype with F32 master weights. Runs on\n"
            "ampc's threads (AMPC_NUM_THREADS); about 1.5 minutes on 2 cores.\n"
            "docs/benchmarks.md explains every column.\n\n"
            "  --json              print one JSON object instead of the table\n"
            "  --quick             tiny sizes and one call each: a smoke test, not a measurement\n"
            "  --min-time SECONDS  time each measurement at least this long (default %.1f)\n"
            "  --ops LIST          only these, comma-separated: op names and \"mlp\"\n",
            MIN_SECONDS);
}

static int usage_error(const char *message, const char *argument)
{
    return ampc_bench_usage_error("ops", print_usage, message, argument);
}

enum { SELECTION_SIZE = 64 };

/* The index of an op case, ampc_bench_ops_case_count for "mlp", -1 for anything else. */
static int selection_index(const char *name, size_t length)
{
    for (int i = 0; i < ampc_bench_ops_case_count; i++)
        if (strlen(ampc_bench_ops_cases[i].name) == length &&
            strncmp(ampc_bench_ops_cases[i].name, name, length) == 0)
            return i;
    return length == 3 && strncmp(name, "mlp", 3) == 0 ? ampc_bench_ops_case_count : -1;
}

/* Marks the names of a comma-separated list in selected; false on an unknown name. */
static bool parse_selection(const char *list, bool *selected)
{
    memset(selected, 0, SELECTION_SIZE * sizeof *selected);
    for (const char *cursor = list; *cursor;) {
        size_t length = strcspn(cursor, ",");
        int index = selection_index(cursor, length);
        if (index < 0) return false;
        selected[index] = true;
        cursor += length + (cursor[length] == ',');
    }
    return true;
}

/* 0 to run, -1 to exit successfully now (help), or the exit code of a usage error. */
static int parse_options(int argc, char **argv, ampc_bench_ops_run *run, bool *json,
                         bool *selected)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            *json = true;
        } else if (strcmp(argv[i], "--quick") == 0) {
            run->quick = true;
        } else if (strcmp(argv[i], "--min-time") == 0) {
            char *end = NULL;
            double seconds = i + 1 < argc ? strtod(argv[i + 1], &end) : -1.0;
            if (!end || *end != '\0' || end == argv[i + 1] || !(seconds >= 0.0 && seconds <= 60.0))
                return usage_error("--min-time needs a number of seconds from 0 to 60, got "
                                   "\"%s\"",
                                   i + 1 < argc ? argv[i + 1] : "");
            run->min_seconds = seconds;
            i++;
        } else if (strcmp(argv[i], "--ops") == 0) {
            if (i + 1 == argc || !parse_selection(argv[i + 1], selected))
                return usage_error("--ops needs a comma-separated list of op names and mlp, got "
                                   "\"%s\"",
                                   i + 1 < argc ? argv[i + 1] : "");
            i++;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout);
            return -1;
        } else {
            return usage_error("unknown option \"%s\"; expected --json, --quick, --min-time, "
                               "--ops or --help",
                               argv[i]);
        }
    }
    if (run->quick) run->min_seconds = 0.0;
    return 0;
}

static bool all_measured(const ampc_bench_ops_run *run)
{
    bool ok = true;
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++) {
        ok = ok && (run->mlp[d].measured || !run->mlp_measured);
        for (int i = 0; i < run->count; i++) ok = ok && run->rows[i].timings[d].measured;
    }
    return ok;
}

static void measure_all(ampc_bench_ops_run *run, const bool *selected)
{
    ampc_generator *g = ampc_generator_new(SEED);
    run->fp32_peak = ampc_bench_peak_gflops(AMPC_BENCH_PEAK_F32_FMA, run->threads, run->quick);
    for (int i = 0; i < ampc_bench_ops_case_count; i++) {
        if (!selected[i]) continue;
        ampc_bench_ops_row *row = &run->rows[run->count++];
        row->op = &ampc_bench_ops_cases[i];
        row->dims = row->op->dims[run->quick];
        if (isatty(STDERR_FILENO)) fprintf(stderr, "ampc bench ops: %s\n", row->op->name);
        measure_op(run, row, g);
    }
    run->mlp_measured = selected[ampc_bench_ops_case_count];
    if (run->mlp_measured && isatty(STDERR_FILENO)) fprintf(stderr, "ampc bench ops: MLP step\n");
    if (run->mlp_measured) measure_mlp(run, g);
    ampc_generator_free(g);
}

int ampc_bench_ops(int argc, char **argv)
{
    ampc_bench_ops_run run = {.threads = ampc_num_threads(), .min_seconds = MIN_SECONDS};
    bool json = false, selected[SELECTION_SIZE];
    memset(selected, 1, sizeof selected);
    int parsed = parse_options(argc, argv, &run, &json, selected);
    if (parsed) return parsed < 0 ? 0 : parsed;
    run.rows = calloc((size_t)ampc_bench_ops_case_count, sizeof *run.rows);
    if (!run.rows) {
        fprintf(stderr, "ampc bench ops: out of memory\n");
        return 1;
    }
    /* Gradients are freed and made again every call: keep glibc from returning large blocks
     * to the system and faulting them in again each time (PyTorch's caching allocator does
     * the same), so that no dtype pays page faults the others do not. */
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
    double start = ampc_bench_now();
    ampc_bench_load_begin(&run.load, run.quick);
    measure_all(&run, selected);
    ampc_bench_load_end(&run.load, run.quick);
    run.elapsed = ampc_bench_now() - start;
    int status = all_measured(&run) ? 0 : 1;
    if (json) status = ampc_bench_ops_print_json(&run) || status;
    else ampc_bench_ops_print_table(&run);
    free(run.rows);
    return status;
}
