/* The reporting side of `ampc bench ops`: the figures derived from the measured timings, and
 * the two outputs (a table, or one JSON object carrying the same numbers).
 *
 * Every time is the median call. speedup = F32 seconds / the dtype's seconds (above 1: faster
 * than F32); lighter = F32 saved bytes / the dtype's (2 would be every byte halved). Rates:
 * GFLOP/s = flops / seconds, its % of the fp32 FMA peak on the run's threads; GB/s = minimal
 * bytes / seconds, and "x memcpy" = seconds / those of memcpy moving the same bytes. */
#include "bench_ops.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/cpu.h"

enum { F32_INDEX = 0, MIB = 1 << 20 };

static const char *const bound_keys[] = {[AMPC_BENCH_OPS_COMPUTE] = "compute",
                                         [AMPC_BENCH_OPS_MEMORY] = "memory"};

/* ---- Derived figures. ---- */

double ampc_bench_ops_work(const ampc_bench_ops_row *row) { return row->op->work(row->dims); }

double ampc_bench_ops_speedup(const ampc_bench_ops_timing *timings, int dtype)
{
    const ampc_bench_ops_timing *f32 = &timings[F32_INDEX], *other = &timings[dtype];
    return f32->measured && other->measured ? f32->median / other->median : 0.0;
}

double ampc_bench_ops_lighter(const ampc_bench_ops_timing *timings, int dtype)
{
    size_t f32 = timings[F32_INDEX].saved_bytes, other = timings[dtype].saved_bytes;
    return other ? (double)f32 / (double)other : 0.0;
}

static bool is_compute(const ampc_bench_ops_row *row)
{
    return row->op->bound == AMPC_BENCH_OPS_COMPUTE;
}

/* Bytes a memory-bound op moves in the dtype. */
static double traffic_bytes(const ampc_bench_ops_row *row, int dtype)
{
    return ampc_bench_ops_work(row) * (double)ampc_dtype_size(ampc_bench_ops_dtypes[dtype]);
}

/* GFLOP/s or GB/s of the median call; 0 if not measured. */
static double rate(const ampc_bench_ops_row *row, int dtype)
{
    const ampc_bench_ops_timing *t = &row->timings[dtype];
    if (!t->measured) return 0.0;
    double work = is_compute(row) ? ampc_bench_ops_work(row) : traffic_bytes(row, dtype);
    return work / t->median * 1e-9;
}

/* % of the fp32 FMA peak (compute) or time over memcpy's (memory); 0 if unknown. */
static double baseline_ratio(const ampc_bench_ops_run *run, const ampc_bench_ops_row *row,
                             int dtype)
{
    const ampc_bench_ops_timing *t = &row->timings[dtype];
    if (is_compute(row)) return run->fp32_peak > 0.0 ? 100.0 * rate(row, dtype) / run->fp32_peak : 0.0;
    double copy = row->memcpy_seconds[dtype == F32_INDEX ? 0 : 1];
    return t->measured && copy > 0.0 ? t->median / copy : 0.0;
}

static double mib(size_t bytes) { return (double)bytes / MIB; }

/* ---- The table. ---- */

static void print_header(const ampc_bench_ops_run *run)
{
    printf("ampc bench ops: CPU %s, %d thread%s, dispatched path %s\n", ampc_cpu_model(),
           run->threads, run->threads == 1 ? "" : "s", ampc_isa_name(ampc_cpu_active_isa()));
    ampc_bench_load_print(&run->load);
    printf("fp32 FMA peak: %.0f GFLOP/s on %d thread%s; %.0f s in all\n", run->fp32_peak,
           run->threads, run->threads == 1 ? "" : "s", run->elapsed);
    printf("forward + backward per call (inputs require grad, upstream gradient given), median "
           "of >= %.1f s\nand >= 3 calls, F32, BF16 and F16 taking turns; speedup = F32 time / "
           "the dtype's time\n",
           run->min_seconds);
    if (run->quick) printf("--quick: tiny sizes, one call each: a smoke test, not a measurement\n");
}

static void print_speed_row(const ampc_bench_ops_run *run, const ampc_bench_ops_row *row)
{
    printf("%-13s %-7s", row->op->name, is_compute(row) ? "GFLOP/s" : "GB/s");
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++) {
        if (!row->timings[d].measured) {
            printf(" %9s %7s %7s", "failed", "-", "-");
            continue;
        }
        double ratio = baseline_ratio(run, row, d);
        printf(" %9.2f %7.1f", row->timings[d].median * 1e3, rate(row, d));
        if (is_compute(row)) printf(" %6.0f%%", ratio);
        else printf(" %6.2fx", ratio);
    }
    for (int d = 1; d < AMPC_BENCH_OPS_DTYPES; d++)
        printf(" %6.2fx", ampc_bench_ops_speedup(row->timings, d));
    printf("\n");
}

static void print_speed(const ampc_bench_ops_run *run)
{
    printf("\n%-13s %-7s", "", "");
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++)
        printf(" %-25s", ampc_dtype_name(ampc_bench_ops_dtypes[d]));
    printf(" speedup over F32\n%-13s %-7s", "op", "rate");
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++) printf(" %9s %7s %7s", "ms", "rate", "base");
    for (int d = 1; d < AMPC_BENCH_OPS_DTYPES; d++)
        printf(" %7s", ampc_dtype_name(ampc_bench_ops_dtypes[d]));
    printf("\n");
    for (int i = 0; i < run->count; i++) print_speed_row(run, &run->rows[i]);
    printf("base: %% of the fp32 FMA peak (GFLOP/s rows), or time / memcpy of the same bytes on "
           "the same threads (GB/s rows)\n");
}

static void print_memory(const ampc_bench_ops_run *run)
{
    printf("\nbytes the forward keeps for the backward (output + saved tensors), MiB; lighter = "
           "F32 bytes / the dtype's\n%-13s %8s %8s %8s %7s %7s  %s\n", "op", "F32", "BF16", "F16",
           "BF16", "F16", "shapes");
    for (int i = 0; i < run->count; i++) {
        const ampc_bench_ops_row *row = &run->rows[i];
        printf("%-13s", row->op->name);
        for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++)
            printf(" %8.2f", mib(row->timings[d].saved_bytes));
        for (int d = 1; d < AMPC_BENCH_OPS_DTYPES; d++)
            printf(" %6.2fx", ampc_bench_ops_lighter(row->timings, d));
        printf("  %s%s%s\n", row->shape, row->op->note[0] ? "; " : "", row->op->note);
    }
}

static void print_mlp(const ampc_bench_ops_run *run)
{
    const int64_t *w = ampc_bench_ops_mlp_widths[run->quick];
    if (!run->mlp_measured) return;
    printf("\nMLP training step %lld-%lld-%lld-%lld, batch %lld: linear, gelu, layer_norm x2, "
           "linear, cross_entropy,\nbackward; F32 master weights cast to the dtype (gradients "
           "return in F32), norms and loss in F32\n%-6s %9s %8s %14s %8s\n",
           (long long)w[0], (long long)w[1], (long long)w[2], (long long)w[3],
           (long long)ampc_bench_ops_mlp_batch[run->quick], "dtype", "ms/step", "speedup",
           "peak act. MiB", "lighter");
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++) {
        const ampc_bench_ops_timing *t = &run->mlp[d];
        double peak_ratio = t->peak_bytes ? (double)run->mlp[F32_INDEX].peak_bytes / (double)t->peak_bytes : 0.0;
        if (!t->measured) printf("%-6s failed: %s\n", ampc_dtype_name(ampc_bench_ops_dtypes[d]), t->error);
        else
            printf("%-6s %9.2f %7.2fx %14.2f %7.2fx\n", ampc_dtype_name(ampc_bench_ops_dtypes[d]),
                   t->median * 1e3, ampc_bench_ops_speedup(run->mlp, d), mib(t->peak_bytes),
                   peak_ratio);
    }
}

/* The finding the benchmark exists for: where reduced precision is slower than F32. */
static int print_slower_in(const char *name, const ampc_bench_ops_timing *timings, int found)
{
    for (int d = 1; d < AMPC_BENCH_OPS_DTYPES; d++) {
        double speedup = ampc_bench_ops_speedup(timings, d);
        if (speedup <= 0.0 || speedup >= 1.0) continue;
        printf("%s %s %s %.2fx", found++ ? "," : "", name,
               ampc_dtype_name(ampc_bench_ops_dtypes[d]), speedup);
    }
    return found;
}

static void print_slower(const ampc_bench_ops_run *run)
{
    printf("\nslower than F32 (speedup < 1):");
    int found = 0;
    for (int i = 0; i < run->count; i++)
        found = print_slower_in(run->rows[i].op->name, run->rows[i].timings, found);
    if (run->mlp_measured) found = print_slower_in("MLP step", run->mlp, found);
    printf("%s\n", found ? "" : " none");
}

static void print_errors(const ampc_bench_ops_run *run)
{
    for (int i = 0; i < run->count; i++)
        for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++)
            if (!run->rows[i].timings[d].measured)
                printf("%s %s failed: %s\n", run->rows[i].op->name,
                       ampc_dtype_name(ampc_bench_ops_dtypes[d]), run->rows[i].timings[d].error);
}

void ampc_bench_ops_print_table(const ampc_bench_ops_run *run)
{
    print_header(run);
    print_speed(run);
    print_memory(run);
    print_mlp(run);
    print_slower(run);
    print_errors(run);
}

/* ---- JSON. ---- */

static json_t *timing_json(const ampc_bench_ops_timing *timings, int dtype)
{
    const ampc_bench_ops_timing *t = &timings[dtype];
    json_t *object = json_pack("{s:b, s:I, s:I, s:f, s:f}", "measured", t->measured,
                               "saved_bytes", (json_int_t)t->saved_bytes, "peak_bytes",
                               (json_int_t)t->peak_bytes, "speedup_vs_f32",
                               ampc_bench_ops_speedup(timings, dtype), "lighter_than_f32",
                               ampc_bench_ops_lighter(timings, dtype));
    if (t->measured)
        json_object_update_new(object, json_pack("{s:f, s:f, s:i}", "median_seconds", t->median,
                                                 "best_seconds", t->best, "runs", t->runs));
    else json_object_set_new(object, "error", json_string(t->error));
    return object;
}

static json_t *op_results_json(const ampc_bench_ops_run *run, const ampc_bench_ops_row *row)
{
    json_t *results = json_object();
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++) {
        json_t *result = timing_json(row->timings, d);
        json_object_set_new(result, is_compute(row) ? "gflops" : "gbps", json_real(rate(row, d)));
        json_object_set_new(result, is_compute(row) ? "percent_of_fp32_peak" : "ratio_to_memcpy",
                            json_real(baseline_ratio(run, row, d)));
        json_object_set_new(results, ampc_dtype_name(ampc_bench_ops_dtypes[d]), result);
    }
    return results;
}

static json_t *op_json(const ampc_bench_ops_run *run, const ampc_bench_ops_row *row)
{
    json_t *object = json_pack("{s:s, s:s, s:s, s:s, s:o}", "op", row->op->name, "note",
                               row->op->note, "bound", bound_keys[row->op->bound], "shape",
                               row->shape, "results", op_results_json(run, row));
    if (is_compute(row))
        json_object_set_new(object, "flops", json_real(ampc_bench_ops_work(row)));
    else
        json_object_update_new(
            object, json_pack("{s:f, s:{s:f, s:f}}", "elements_moved", ampc_bench_ops_work(row),
                              "memcpy_seconds", "4_byte", row->memcpy_seconds[0], "2_byte",
                              row->memcpy_seconds[1]));
    return object;
}

static json_t *mlp_json(const ampc_bench_ops_run *run)
{
    json_t *results = json_object();
    for (int d = 0; d < AMPC_BENCH_OPS_DTYPES; d++)
        json_object_set_new(results, ampc_dtype_name(ampc_bench_ops_dtypes[d]),
                            timing_json(run->mlp, d));
    json_t *widths = json_array();
    for (int l = 0; l <= AMPC_BENCH_OPS_MLP_LAYERS; l++)
        json_array_append_new(widths, json_integer(ampc_bench_ops_mlp_widths[run->quick][l]));
    return json_pack("{s:o, s:I, s:o}", "widths", widths, "batch",
                     (json_int_t)ampc_bench_ops_mlp_batch[run->quick], "results", results);
}

int ampc_bench_ops_print_json(const ampc_bench_ops_run *run)
{
    json_t *ops = json_array();
    for (int i = 0; i < run->count; i++) json_array_append_new(ops, op_json(run, &run->rows[i]));
    json_t *root = json_pack(
        "{s:s, s:s, s:i, s:s, s:b, s:f, s:f, s:o, s:f, s:s, s:o, s:o}", "benchmark", "ops", "cpu",
        ampc_cpu_model(), "threads", run->threads, "dispatched_path",
        ampc_isa_name(ampc_cpu_active_isa()), "quick", run->quick, "elapsed_seconds",
        run->elapsed, "min_seconds", run->min_seconds, "other_busy_cores",
        ampc_bench_load_json(&run->load), "fp32_fma_peak_gflops", run->fp32_peak, "definitions",
        "each op runs forward + backward per call (float inputs require grad; ampc_backward "
        "with an upstream gradient) inside an arena; median_seconds is the median call; "
        "speedup_vs_f32 = F32 median / this median; saved_bytes = tensor bytes alive after one "
        "forward outside an arena (output + saved), peak_bytes = the forward's peak above its "
        "start (MLP: the step's activation peak); lighter_than_f32 = F32 saved_bytes / these; "
        "compute ops: gflops = flops / median, percent_of_fp32_peak of fp32_fma_peak_gflops; "
        "memory ops: gbps = elements_moved * dtype size / median, ratio_to_memcpy = median / "
        "memcpy_seconds of the same bytes (4_byte for F32, 2_byte for BF16 and F16)",
        "ops", ops, "mlp", run->mlp_measured ? mlp_json(run) : json_null());
    if (!root) {
        fprintf(stderr, "ampc bench ops: could not build the JSON output\n");
        return 1;
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!text) return 1;
    printf("%s\n", text);
    free(text);
    return 0;
}
