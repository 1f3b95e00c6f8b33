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
 *
 * The goal checked at the end: at 64 MiB the dispatched path converts in at most 1.5x the
 * memcpy time. For narrowing both baselines are the same copy; for widening (2x to 4x more
 * bytes written than read) only the memcpy(larger) comparison can be met, so both verdicts
 * are printed. */
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

/* Median and best seconds per call over `runs` runs, after one warm-up run. */
static timing time_job(const job *work, int runs, int calls_per_run)
{
    double seconds[16];
    run_job(work);
    for (int run = 0; run < runs; run++) {
        double start = ampc_bench_now();
        for (int call = 0; call < calls_per_run; call++) run_job(work);
        seconds[run] = (ampc_bench_now() - start) / calls_per_run;
    }
    timing measured = {.best = ampc_bench_min(seconds, runs)};
    measured.median = ampc_bench_median(seconds, runs);
    return measured;
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
        job copy_src = {NULL, which, copy, src, n, src_bytes};
        job copy_larger = {NULL, which, copy, src_bytes >= dst_bytes ? src : dst, n, larger_bytes};
        timing copy_src_time = time_job(&copy_src, runs, calls);
        timing copy_larger_time =
            larger_bytes == src_bytes ? copy_src_time : time_job(&copy_larger, runs, calls);
        ampc_isa levels[AMPC_ISA_COUNT];
        int level_count = measured_levels(levels);
        for (int i = 0; i < level_count; i++) {
            job convert = {ampc_convert_kernels_at(levels[i]), which, dst, src, n, src_bytes};
            results[(*result_count)++] =
                (result){which,         levels[i],     src_bytes,       dst_bytes, n,
                         time_job(&convert, runs, calls), copy_src_time, copy_larger_time};
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

static bool is_goal_row(const result *r)
{
    return r->src_bytes == GOAL_SIZE && r->path == ampc_convert_path();
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

static void print_goal(const result *results, int count)
{
    printf("\ngoal: at 64 MiB the %s path converts in <= %.1fx the memcpy time\n",
           ampc_isa_name(ampc_convert_path()), GOAL_TIME_RATIO);
    bool checked = false;
    for (int i = 0; i < count; i++) {
        const result *r = &results[i];
        if (!is_goal_row(r)) continue;
        printf("  %-13s vs memcpy(src) %5.2fx %-6s  vs memcpy(larger) %5.2fx %s\n",
               r->conversion->name, ratio_to_src_copy(r),
               ratio_to_src_copy(r) <= GOAL_TIME_RATIO ? "met" : "MISSED", ratio_to_larger_copy(r),
               ratio_to_larger_copy(r) <= GOAL_TIME_RATIO ? "met" : "MISSED");
        checked = true;
    }
    if (!checked) printf("  not measured (--quick leaves out 64 MiB)\n");
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

static int print_json(const result *results, int count, int runs)
{
    json_t *rows = json_array();
    bool checked = false, met_src = true, met_larger = true;
    for (int i = 0; i < count; i++) {
        json_array_append_new(rows, result_json(&results[i]));
        if (!is_goal_row(&results[i])) continue;
        checked = true;
        met_src = met_src && ratio_to_src_copy(&results[i]) <= GOAL_TIME_RATIO;
        met_larger = met_larger && ratio_to_larger_copy(&results[i]) <= GOAL_TIME_RATIO;
    }
    json_t *goal = json_pack("{s:I, s:f, s:o, s:o}", "src_bytes", (json_int_t)GOAL_SIZE,
                             "max_time_ratio", GOAL_TIME_RATIO, "met_vs_memcpy_src",
                             checked ? json_boolean(met_src) : json_null(),
                             "met_vs_memcpy_larger",
                             checked ? json_boolean(met_larger) : json_null());
    json_t *root = json_pack(
        "{s:s, s:i, s:s, s:s, s:i, s:s, s:o, s:o}", "benchmark", "convert", "threads", 1, "cpu",
        ampc_cpu_model(), "dispatched_path", ampc_isa_name(ampc_convert_path()), "runs", runs,
        "definitions",
        "seconds per call; gbps = (src_bytes + dst_bytes) / convert median; ratios = convert "
        "median / memcpy median, memcpy of src_bytes or of max(src_bytes, dst_bytes)",
        "goal", goal, "results", rows);
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
    print_goal(results, count);
    return 0;
}
