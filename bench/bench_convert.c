/* `ampc bench convert`: throughput of the F32 <-> F16, BF16, F8 kernels of every ISA path the
 * CPU runs, single thread, side by side with memcpy in the same run.
 *
 * What is measured, for n elements at a given source size (64 KiB, which fits L2; 1 MiB;
 * 64 MiB, which is memory):
 *   convert        the time of one kernel call converting the n elements
 *   memcpy(src)    the time of memcpy copying the source bytes
 *   memcpy(larger) the time of memcpy copying the larger of the source and destination
 *                  buffers: the fair baseline for widening, which writes more than it reads
 * Ratios are convert time / memcpy time; GB/s counts bytes read plus bytes written. Each time
 * is the median (and best) of several runs, after a warm-up run that also faults the pages
 * in; small sizes repeat the call within a run so that every run moves at least RUN_BYTES.
 * Each path's conversion and its memcpy baselines take turns within every run, so each row
 * has baselines measured alongside it.
 *
 * The goal checked at the end: at 64 MiB every SIMD path (every measured level but scalar)
 * converts in at most 1.5x the time of memcpy(src), in the same run. That is the verdict that
 * counts; memcpy(larger) is printed beside it as a secondary check. For narrowing the two
 * baselines are the same copy; widening writes 2x to 4x the bytes it reads, so against
 * memcpy(src) it is bound by how fast one core can stream its output to memory. */
#include <ampc/ampc.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "core/cpu.h"
#include "dtype/convert_kernels.h"

enum { RUN_BYTES = 32 << 20, GOAL_SIZE = 64 << 20, ALIGNMENT = 64 };
static const double GOAL_TIME_RATIO = 1.5;

typedef void (*conversion_runner)(const ampc_convert_kernels *kernels, void *dst,
                                  const void *src, size_t n);

static void run_f32_to_f16(const ampc_convert_kernels *k, void *dst, const void *src, size_t n)
{
    k->f32_to_f16(dst, src, n);
}

static void run_f16_to_f32(const ampc_convert_kernels *k, void *dst, const void *src, size_t n)
{
    k->f16_to_f32(dst, src, n);
}

static void run_f32_to_bf16(const ampc_convert_kernels *k, void *dst, const void *src, size_t n)
{
    k->f32_to_bf16(dst, src, n);
}

static void run_bf16_to_f32(const ampc_convert_kernels *k, void *dst, const void *src, size_t n)
{
    k->bf16_to_f32(dst, src, n);
}

static void run_f32_to_e4m3(const ampc_convert_kernels *k, void *dst, const void *src, size_t n)
{
    k->f32_to_f8_e4m3(dst, src, n, AMPC_OVERFLOW_DEFAULT);
}

static void run_e4m3_to_f32(const ampc_convert_kernels *k, void *dst, const void *src, size_t n)
{
    k->f8_e4m3_to_f32(dst, src, n);
}

static void run_f32_to_e5m2(const ampc_convert_kernels *k, void *dst, const void *src, size_t n)
{
    k->f32_to_f8_e5m2(dst, src, n, AMPC_OVERFLOW_DEFAULT);
}

static void run_e5m2_to_f32(const ampc_convert_kernels *k, void *dst, const void *src, size_t n)
{
    k->f8_e5m2_to_f32(dst, src, n);
}

typedef struct conversion {
    const char *name;
    ampc_dtype src_dtype;
    ampc_dtype dst_dtype;
    conversion_runner run;
} conversion;

static const conversion conversions[] = {
    {"F32->F16", AMPC_F32, AMPC_F16, run_f32_to_f16},
    {"F16->F32", AMPC_F16, AMPC_F32, run_f16_to_f32},
    {"F32->BF16", AMPC_F32, AMPC_BF16, run_f32_to_bf16},
    {"BF16->F32", AMPC_BF16, AMPC_F32, run_bf16_to_f32},
    {"F32->F8_E4M3", AMPC_F32, AMPC_F8_E4M3, run_f32_to_e4m3},
    {"F8_E4M3->F32", AMPC_F8_E4M3, AMPC_F32, run_e4m3_to_f32},
    {"F32->F8_E5M2", AMPC_F32, AMPC_F8_E5M2, run_f32_to_e5m2},
    {"F8_E5M2->F32", AMPC_F8_E5M2, AMPC_F32, run_e5m2_to_f32},
};
enum { CONVERSION_COUNT = sizeof conversions / sizeof conversions[0] };

typedef struct options {
    bool json;
    bool quick;
} options;

/* One measurement: a kernel call (kernels non-NULL) or a memcpy of `bytes` from src. */
typedef struct job {
    const ampc_convert_kernels *kernels;
    const conversion *conversion;
    void *dst;
    const void *src;
    size_t n;
    size_t bytes;
} job;

typedef struct timing {
    double median;
    double best;
} timing;

typedef struct result {
    const conversion *conversion;
    ampc_isa path;
    size_t src_bytes;
    size_t dst_bytes;
    size_t n;
    timing convert;
    timing copy_src;    /* memcpy of src_bytes */
    timing copy_larger; /* memcpy of max(src_bytes, dst_bytes) */
} result;

static void run_job(const job *work)
{
    if (work->kernels) work->conversion->run(work->kernels, work->dst, work->src, work->n);
    else memcpy(work->dst, work->src, work->bytes);
}

enum { MAX_JOBS = 3, MAX_RUNS = 16 };

/* Median and best seconds per call of each of `count` jobs over `runs` runs, after one
 * warm-up run of each. The jobs take turns within every run, so that a slow spell on the
 * machine (another process, someone else's memory traffic) lands on a conversion and its
 * memcpy baselines alike instead of skewing their ratio. */
static void time_jobs(const job *jobs, int count, timing *measured, int runs, int calls_per_run)
{
    double seconds[MAX_JOBS][MAX_RUNS];
    for (int j = 0; j < count; j++) run_job(&jobs[j]);
    for (int run = 0; run < runs; run++) {
        for (int j = 0; j < count; j++) {
            double start = ampc_bench_now();
            for (int call = 0; call < calls_per_run; call++) run_job(&jobs[j]);
            seconds[j][run] = (ampc_bench_now() - start) / calls_per_run;
        }
    }
    for (int j = 0; j < count; j++) {
        measured[j].best = ampc_bench_min(seconds[j], runs);
        measured[j].median = ampc_bench_median(seconds[j], runs);
    }
}

/* Values like activations and weights: random in [-8, 8), stored in the source dtype. */
static void fill_source(void *src, ampc_dtype dtype, size_t n)
{
    uint32_t state = 0x2545F491u;
    for (size_t i = 0; i < n; i++) {
        state = state * 1664525u + 1013904223u;
        float value = ((float)(state >> 8) * 0x1p-24f - 0.5f) * 16.0f;
        switch (dtype) {
        case AMPC_F16: ((uint16_t *)src)[i] = ampc_f32_to_f16(value); break;
        case AMPC_BF16: ((uint16_t *)src)[i] = ampc_f32_to_bf16(value); break;
        case AMPC_F8_E4M3:
            ((uint8_t *)src)[i] = ampc_f32_to_f8_e4m3(value, AMPC_OVERFLOW_DEFAULT);
            break;
        case AMPC_F8_E5M2:
            ((uint8_t *)src)[i] = ampc_f32_to_f8_e5m2(value, AMPC_OVERFLOW_DEFAULT);
            break;
        default: ((float *)src)[i] = value;
        }
    }
}

static void *allocate(size_t bytes)
{
    return aligned_alloc(ALIGNMENT, (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT);
}

/* The levels measured: every one up to the active level (so AMPC_ISA caps the benchmark too)
 * that has conversion kernels of its own. */
static int measured_levels(ampc_isa *levels)
{
    int count = 0;
    for (int level = 0; level <= (int)ampc_cpu_active_isa(); level++)
        if (ampc_convert_kernels_at((ampc_isa)level)) levels[count++] = (ampc_isa)level;
    return count;
}

static int runs_for(const options *opts) { return opts->quick ? 1 : 7; }

/* Measures one conversion at one size on every level, appending to results. Returns false if
 * the buffers could not be allocated. */
static bool measure(const conversion *which, size_t src_bytes, const options *opts,
                    result *results, int *result_count)
{
    size_t n = src_bytes / ampc_dtype_size(which->src_dtype);
    size_t dst_bytes = n * ampc_dtype_size(which->dst_dtype);
    size_t larger_bytes = src_bytes > dst_bytes ? src_bytes : dst_bytes;
    void *src = allocate(src_bytes), *dst = allocate(dst_bytes), *copy = allocate(larger_bytes);
    bool allocated = src && dst && copy;
    if (allocated) {
        int runs = runs_for(opts);
        int calls = opts->quick || src_bytes >= RUN_BYTES ? 1 : (int)(RUN_BYTES / src_bytes);
        fill_source(src, which->src_dtype, n);
        memset(dst, 0, dst_bytes);
        /* The conversion, memcpy(src), and memcpy(larger) when it is a different copy. */
        job jobs[MAX_JOBS] = {
            {NULL, which, dst, src, n, src_bytes},
            {NULL, which, copy, src, n, src_bytes},
            {NULL, which, copy, src_bytes >= dst_bytes ? src : dst, n, larger_bytes},
        };
        int job_count = larger_bytes == src_bytes ? 2 : 3;
        ampc_isa levels[AMPC_ISA_COUNT];
        int level_count = measured_levels(levels);
        for (int i = 0; i < level_count; i++) {
            jobs[0].kernels = ampc_convert_kernels_at(levels[i]);
            timing times[MAX_JOBS];
            time_jobs(jobs, job_count, times, runs, calls);
            results[(*result_count)++] = (result){which, levels[i], src_bytes, dst_bytes, n,
                                                  times[0], times[1], times[job_count - 1]};
        }
    } else {
        fprintf(stderr, "ampc bench convert: could not allocate buffers for %zu source bytes\n",
                src_bytes);
    }
    free(src);
    free(dst);
    free(copy);
    return allocated;
}

static double gbps(size_t bytes, double seconds) { return (double)bytes / seconds * 1e-9; }

static double convert_gbps(const result *r)
{
    return gbps(r->src_bytes + r->dst_bytes, r->convert.median);
}

static double ratio_to_src_copy(const result *r) { return r->convert.median / r->copy_src.median; }

static double ratio_to_larger_copy(const result *r)
{
    return r->convert.median / r->copy_larger.median;
}

/* The rows the goal judges: every SIMD path at 64 MiB. */
static bool is_goal_row(const result *r)
{
    return r->src_bytes == GOAL_SIZE && r->path != AMPC_ISA_SCALAR;
}

/* One conversion's goal rows (its 64 MiB results on every SIMD path, lowest level first) and
 * the worst ratio among them against each baseline. */
typedef struct verdict {
    const conversion *conversion;
    const result *rows[AMPC_ISA_COUNT];
    int row_count;
    double worst_src;
    ampc_isa worst_src_path;
    double worst_larger;
} verdict;

static verdict goal_verdict(const result *results, int count, const conversion *which)
{
    verdict v = {.conversion = which};
    for (int i = 0; i < count; i++) {
        const result *r = &results[i];
        if (r->conversion != which || !is_goal_row(r)) continue;
        if (v.row_count == 0 || ratio_to_src_copy(r) > v.worst_src) {
            v.worst_src = ratio_to_src_copy(r);
            v.worst_src_path = r->path;
        }
        if (v.row_count == 0 || ratio_to_larger_copy(r) > v.worst_larger)
            v.worst_larger = ratio_to_larger_copy(r);
        v.rows[v.row_count++] = r;
    }
    return v;
}

static bool met(double ratio) { return ratio <= GOAL_TIME_RATIO; }

/* The verdict of every conversion, and the worst of them against each baseline. */
typedef struct goal_summary {
    verdict verdicts[CONVERSION_COUNT];
    bool measured;   /* false without 64 MiB rows or without a SIMD path */
    int worst_src;   /* the index of the verdict with the worst ratio to memcpy(src) */
    double worst_larger;
} goal_summary;

static goal_summary summarize_goal(const result *results, int count)
{
    goal_summary goal = {.measured = true};
    for (int c = 0; c < CONVERSION_COUNT; c++) {
        verdict *v = &goal.verdicts[c];
        *v = goal_verdict(results, count, &conversions[c]);
        goal.measured = goal.measured && v->row_count > 0;
        if (v->worst_src > goal.verdicts[goal.worst_src].worst_src) goal.worst_src = c;
        if (c == 0 || v->worst_larger > goal.worst_larger) goal.worst_larger = v->worst_larger;
    }
    return goal;
}

static const char *size_label(size_t bytes, char *buffer, size_t capacity)
{
    if (bytes >= (1u << 20)) snprintf(buffer, capacity, "%zu MiB", bytes >> 20);
    else snprintf(buffer, capacity, "%zu KiB", bytes >> 10);
    return buffer;
}

static void print_table(const result *results, int count, int runs)
{
    printf("ampc bench convert: single thread, CPU %s, dispatched path %s\n"
           "microseconds per call, median of %d run%s (convert also best); GB/s counts bytes "
           "read + written;\nratios are convert time / memcpy time of the source bytes and of "
           "the larger buffer\n\n",
           ampc_cpu_model(), ampc_isa_name(ampc_convert_path()), runs, runs == 1 ? "" : "s");
    printf("%-13s %-7s %-12s %10s %10s %10s %9s %9s %8s %8s\n", "conversion", "size", "path",
           "convert", "best", "memcpy", "conv GB/s", "copy GB/s", "/src", "/larger");
    for (int i = 0; i < count; i++) {
        const result *r = &results[i];
        char size[32];
        printf("%-13s %-7s %-12s %10.1f %10.1f %10.1f %9.2f %9.2f %7.2fx %7.2fx\n",
               r->conversion->name, size_label(r->src_bytes, size, sizeof size),
               ampc_isa_name(r->path), r->convert.median * 1e6, r->convert.best * 1e6,
               r->copy_src.median * 1e6, convert_gbps(r),
               gbps(2 * r->src_bytes, r->copy_src.median), ratio_to_src_copy(r),
               ratio_to_larger_copy(r));
    }
}

/* Wide enough for the path's name and for "10.00x" (a ratio's * marker follows it). */
static int path_column_width(ampc_isa path)
{
    int name = (int)strlen(ampc_isa_name(path));
    return name > 6 ? name : 6;
}

/* One line per conversion: each SIMD path's ratio to memcpy(src) (a * marks one over the
 * goal) and the verdict, then the worst path's ratio to memcpy(larger) and its verdict. */
static void print_goal(const result *results, int count, const options *opts)
{
    printf("\ngoal: at 64 MiB every SIMD path converts in <= %.1fx the time of memcpy(src)\n",
           GOAL_TIME_RATIO);
    goal_summary goal = summarize_goal(results, count);
    if (!goal.measured) {
        printf("  not measured (%s)\n", opts->quick ? "--quick leaves out 64 MiB"
                                                   : "no SIMD path: see AMPC_ISA and the CPU");
        return;
    }
    const verdict *first = &goal.verdicts[0];
    printf("  %-13s", "conversion");
    for (int p = 0; p < first->row_count; p++) {
        ampc_isa path = first->rows[p]->path;
        printf(" %*s ", path_column_width(path), ampc_isa_name(path));
    }
    printf(" vs src   worst vs memcpy(larger)\n");
    for (int c = 0; c < CONVERSION_COUNT; c++) {
        const verdict *v = &goal.verdicts[c];
        printf("  %-13s", v->conversion->name);
        for (int p = 0; p < v->row_count; p++) {
            double ratio = ratio_to_src_copy(v->rows[p]);
            printf(" %*.2fx%c", path_column_width(v->rows[p]->path) - 1, ratio,
                   met(ratio) ? ' ' : '*');
        }
        printf(" %-7s  %5.2fx %s\n", met(v->worst_src) ? "met" : "MISSED", v->worst_larger,
               met(v->worst_larger) ? "met" : "MISSED");
    }
    const verdict *worst = &goal.verdicts[goal.worst_src];
    printf("  every SIMD path: %s vs memcpy(src) (worst %.2fx, %s on %s); %s vs memcpy(larger) "
           "(worst %.2fx)\n",
           met(worst->worst_src) ? "met" : "MISSED", worst->worst_src, worst->conversion->name,
           ampc_isa_name(worst->worst_src_path), met(goal.worst_larger) ? "met" : "MISSED",
           goal.worst_larger);
}

static json_t *timing_json(timing t)
{
    return json_pack("{s:f, s:f}", "median_seconds", t.median, "best_seconds", t.best);
}

static json_t *result_json(const result *r)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:o, s:f, s:f, s:f, s:b}",
                     "conversion", r->conversion->name, "path", ampc_isa_name(r->path),
                     "elements", (json_int_t)r->n, "src_bytes", (json_int_t)r->src_bytes,
                     "dst_bytes", (json_int_t)r->dst_bytes, "convert", timing_json(r->convert),
                     "memcpy_src", timing_json(r->copy_src), "memcpy_larger",
                     timing_json(r->copy_larger), "convert_gbps", convert_gbps(r),
                     "ratio_to_memcpy_src", ratio_to_src_copy(r), "ratio_to_memcpy_larger",
                     ratio_to_larger_copy(r), "goal_row", is_goal_row(r));
}

/* {"avx2": ratio, ...} over a verdict's rows. */
static json_t *ratios_by_path_json(const verdict *v, double (*ratio)(const result *))
{
    json_t *ratios = json_object();
    for (int p = 0; p < v->row_count; p++)
        json_object_set_new(ratios, ampc_isa_name(v->rows[p]->path), json_real(ratio(v->rows[p])));
    return ratios;
}

static json_t *goal_json(const result *results, int count)
{
    goal_summary goal = summarize_goal(results, count);
    json_t *paths = json_array(), *verdicts = json_array();
    for (int p = 0; goal.measured && p < goal.verdicts[0].row_count; p++)
        json_array_append_new(paths, json_string(ampc_isa_name(goal.verdicts[0].rows[p]->path)));
    for (int c = 0; goal.measured && c < CONVERSION_COUNT; c++) {
        const verdict *v = &goal.verdicts[c];
        json_array_append_new(
            verdicts, json_pack("{s:s, s:o, s:b, s:o, s:b}", "conversion", v->conversion->name,
                                "ratio_to_memcpy_src", ratios_by_path_json(v, ratio_to_src_copy),
                                "met_vs_memcpy_src", met(v->worst_src), "ratio_to_memcpy_larger",
                                ratios_by_path_json(v, ratio_to_larger_copy),
                                "met_vs_memcpy_larger", met(v->worst_larger)));
    }
    return json_pack(
        "{s:s, s:I, s:f, s:o, s:o, s:o, s:o}", "definition",
        "every SIMD path at src_bytes converts in <= max_time_ratio x the memcpy(src) time; "
        "memcpy(larger) is the secondary check",
        "src_bytes", (json_int_t)GOAL_SIZE, "max_time_ratio", GOAL_TIME_RATIO, "paths", paths,
        "conversions", verdicts, "met_vs_memcpy_src",
        goal.measured ? json_boolean(met(goal.verdicts[goal.worst_src].worst_src)) : json_null(),
        "met_vs_memcpy_larger", goal.measured ? json_boolean(met(goal.worst_larger)) : json_null());
}

static int print_json(const result *results, int count, int runs)
{
    json_t *rows = json_array();
    for (int i = 0; i < count; i++) json_array_append_new(rows, result_json(&results[i]));
    json_t *root = json_pack(
        "{s:s, s:i, s:s, s:s, s:i, s:s, s:o, s:o}", "benchmark", "convert", "threads", 1, "cpu",
        ampc_cpu_model(), "dispatched_path", ampc_isa_name(ampc_convert_path()), "runs", runs,
        "definitions",
        "seconds per call; gbps = (src_bytes + dst_bytes) / convert median; ratios = convert "
        "median / memcpy median, memcpy of src_bytes or of max(src_bytes, dst_bytes)",
        "goal", goal_json(results, count), "results", rows);
    int status = root && json_dumpf(root, stdout, JSON_INDENT(2)) == 0 ? 0 : 1;
    printf("\n");
    json_decref(root);
    return status;
}

static void print_usage(FILE *out)
{
    fprintf(out, "usage: ampc bench convert [--json] [--quick]\n\n"
                 "Single-thread throughput of F32<->F16/BF16/F8_E4M3/F8_E5M2 conversion on every\n"
                 "ISA path up to the active one (AMPC_ISA caps it), beside memcpy of the source\n"
                 "bytes and of the larger buffer, at 64 KiB, 1 MiB and 64 MiB of source.\n\n"
                 "  --json   print one JSON object instead of the table\n"
                 "  --quick  small sizes and one run: a smoke test, not a measurement\n");
}

/* 0 to run, or the exit code to return now. */
static int parse_options(int argc, char **argv, options *opts)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            opts->json = true;
        } else if (strcmp(argv[i], "--quick") == 0) {
            opts->quick = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout);
            return -1;
        } else {
            fprintf(stderr, "ampc bench convert: unknown option \"%s\"; expected --json, --quick "
                            "or --help\n\n", argv[i]);
            print_usage(stderr);
            return 2;
        }
    }
    return 0;
}

int ampc_bench_convert(int argc, char **argv)
{
    options opts = {false, false};
    int parsed = parse_options(argc, argv, &opts);
    if (parsed) return parsed < 0 ? 0 : parsed;

    static const size_t full_sizes[] = {64 << 10, 1 << 20, GOAL_SIZE};
    static const size_t quick_sizes[] = {4 << 10, 64 << 10};
    const size_t *sizes = opts.quick ? quick_sizes : full_sizes;
    int size_count = opts.quick ? 2 : 3;
    result results[CONVERSION_COUNT * 3 * AMPC_ISA_COUNT];
    int count = 0;
    for (int c = 0; c < CONVERSION_COUNT; c++)
        for (int s = 0; s < size_count; s++)
            if (!measure(&conversions[c], sizes[s], &opts, results, &count)) return 1;

    if (opts.json) return print_json(results, count, runs_for(&opts));
    print_table(results, count, runs_for(&opts));
    print_goal(results, count, &opts);
    return 0;
}
