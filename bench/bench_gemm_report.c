/* The reporting side of `ampc bench gemm`: the figures derived from the measured rows, the
 * goals of the GEMM issue, and the two outputs (a table, or one JSON object).
 *
 * Every comparison uses the median call: GFLOP/s = 2 m n k / median seconds. A row's % of
 * peak is of the peak its implementation table names (ampc_bench_gemm_impls) at the row's
 * thread count, and its ratio is to its baseline at the same shape and thread count on the
 * active level: BF16 to oneDNN; F32 to OpenBLAS sgemm on the same OpenBLAS kernel set (ampc's
 * F32 may run on OpenBLAS, so like is compared with like); F16 to the fastest OpenBLAS sgemm
 * measured. When OpenBLAS picked a generic kernel set on an AVX-512 CPU, the OpenBLAS rows are
 * measured under it and under SkylakeX (ampc_bench_gemm_blas), and every goal is judged
 * against the faster: a benchmark compares against the baseline at its best. */
#include <ampc/ampc.h>

#include <cblas.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bench_gemm.h"
#include "core/cpu.h"

enum { AMX_GOAL_SIZE = 2048, F16_GOAL_MIN_SIZE = 1024, GOAL_COUNT = 4 };
static const double AMX_GOAL_FRACTION = 0.5, F16_GOAL_RATIO = 2.0, F32_GOAL_RATIO = 0.9;

typedef ampc_bench_gemm_run gemm_run;
typedef ampc_bench_gemm_row gemm_row;

/* ---- Figures derived from a row. ---- */

static double flops(const gemm_row *r)
{
    return 2.0 * (double)r->job.m * (double)r->job.n * (double)r->job.k;
}

static double gflops(const gemm_row *r) { return r->measured ? flops(r) / r->median * 1e-9 : 0.0; }

static double best_gflops(const gemm_row *r)
{
    return r->measured ? flops(r) / r->best * 1e-9 : 0.0;
}

static const ampc_bench_gemm_impl_info *info(const gemm_row *r)
{
    return &ampc_bench_gemm_impls[r->job.impl];
}

static ampc_bench_peak peak_of(const gemm_run *run, const gemm_row *r)
{
    switch (info(r)->peak) {
    case AMPC_BENCH_GEMM_PEAK_F64: return AMPC_BENCH_PEAK_F64_FMA;
    case AMPC_BENCH_GEMM_PEAK_BF16: return run->bf16_peak;
    default: return AMPC_BENCH_PEAK_F32_FMA;
    }
}

static double peak_gflops(const gemm_run *run, ampc_bench_peak peak, int threads)
{
    return run->peaks[peak][threads == 1 ? 0 : 1];
}

/* % of the row's peak, or 0 if either is missing. */
static double percent_of_peak(const gemm_run *run, const gemm_row *r)
{
    double peak = peak_gflops(run, peak_of(run, r), r->threads);
    return peak > 0.0 ? 100.0 * gflops(r) / peak : 0.0;
}

static bool same_shape(const ampc_bench_gemm_shape *a, const ampc_bench_gemm_shape *b)
{
    return strcmp(a->layer.model, b->layer.model) == 0 && a->layer.rows == b->layer.rows &&
           a->layer.inputs == b->layer.inputs && a->layer.outputs == b->layer.outputs &&
           a->form == b->form;
}

/* The measured row of impl at the shape, thread count and OpenBLAS kernel set on the active
 * level, or NULL. */
static const gemm_row *find_row(const gemm_run *run, const ampc_bench_gemm_shape *shape,
                                ampc_bench_gemm_impl impl, int threads, ampc_bench_gemm_blas blas)
{
    for (int i = 0; i < run->count; i++) {
        const gemm_row *r = &run->rows[i];
        if (r->job.impl == impl && r->threads == threads && r->blas == blas &&
            r->level == run->active && r->measured && same_shape(&r->shape, shape))
            return r;
    }
    return NULL;
}

/* The fastest measured row of impl at the shape and thread count over the kernel sets. */
static const gemm_row *fastest_row(const gemm_run *run, const ampc_bench_gemm_shape *shape,
                                   ampc_bench_gemm_impl impl, int threads)
{
    const gemm_row *fastest = NULL;
    for (int blas = 0; blas < run->blas_count; blas++) {
        const gemm_row *r = find_row(run, shape, impl, threads, (ampc_bench_gemm_blas)blas);
        if (r && (!fastest || gflops(r) > gflops(fastest))) fastest = r;
    }
    return fastest;
}

/* What r is compared against (see the top of the file), or NULL. */
static const gemm_row *baseline_row(const gemm_run *run, const gemm_row *r)
{
    if (!r || !r->measured || info(r)->baseline == AMPC_BENCH_GEMM_IMPL_COUNT) return NULL;
    ampc_bench_gemm_impl baseline = info(r)->baseline;
    if (!ampc_bench_gemm_impls[baseline].per_blas_core)
        return find_row(run, &r->shape, baseline, r->threads, AMPC_BENCH_GEMM_BLAS_DEFAULT);
    if (info(r)->per_blas_core) return find_row(run, &r->shape, baseline, r->threads, r->blas);
    return fastest_row(run, &r->shape, baseline, r->threads);
}

/* GFLOP/s of r over its baseline's; 0 if either is missing. */
static double baseline_ratio(const gemm_run *run, const gemm_row *r)
{
    const gemm_row *b = baseline_row(run, r);
    return b ? gflops(r) / gflops(b) : 0.0;
}

/* The OpenBLAS kernel set a row ran under, as the tables name it ("Prescott"). */
static const char *blas_name(const gemm_run *run, const gemm_row *r)
{
    return run->blas_cores[r->blas];
}

/* "ampc F32", or "ampc F32 (SkylakeX)" when the rows of impl ran under more than one
 * OpenBLAS kernel set. */
static void row_label(const gemm_run *run, const gemm_row *r, char *buffer, size_t capacity)
{
    if (info(r)->per_blas_core && run->blas_count > 1)
        snprintf(buffer, capacity, "%s (%s)", info(r)->label, blas_name(run, r));
    else snprintf(buffer, capacity, "%s", info(r)->label);
}

static const char *plural(int count) { return count == 1 ? "" : "s"; }

static bool is_square(const gemm_row *r) { return strcmp(r->shape.layer.model, "square") == 0; }

/* ---- Goals. ---- */

typedef enum goal_status {
    GOAL_MET,
    GOAL_MISSED,
    GOAL_NOT_APPLICABLE,
    GOAL_NOT_MEASURED
} goal_status;

static const char *const goal_status_names[] = {"met", "MISSED", "not applicable",
                                                "not measured"};
static const char *const goal_status_keys[] = {"met", "missed", "not_applicable",
                                               "not_measured"};

typedef struct goal {
    const char *name;
    goal_status status;
    char detail[1024];
} goal;

/* summarize_ratios's blas for "the kernel set of the fastest OpenBLAS at the row's shape". */
enum { FASTEST_BLAS = AMPC_BENCH_GEMM_BLAS_COUNT };

/* The lowest ratio to the baseline among the rows of impl (training shapes only, or all) under
 * the OpenBLAS kernel set blas (or FASTEST_BLAS), with how many rows were compared and how many
 * reached `target`. */
typedef struct ratio_summary {
    int compared, met;
    double lowest;
    const gemm_row *worst;
} ratio_summary;

static ratio_summary summarize_ratios(const gemm_run *run, ampc_bench_gemm_impl impl,
                                      bool training_only, int blas, double target)
{
    ratio_summary summary = {0, 0, 0.0, NULL};
    for (int i = 0; i < run->count; i++) {
        const gemm_row *r = &run->rows[i];
        double ratio = baseline_ratio(run, r);
        if (r->job.impl != impl || ratio == 0.0 || (training_only && is_square(r))) continue;
        if (blas == FASTEST_BLAS) {
            const gemm_row *fastest =
                fastest_row(run, &r->shape, AMPC_BENCH_GEMM_OPENBLAS_SGEMM, r->threads);
            if (fastest && fastest->blas != r->blas) continue;
        } else if ((int)r->blas != blas) {
            continue;
        }
        summary.compared++;
        summary.met += ratio >= target;
        if (!summary.worst || ratio < summary.lowest) {
            summary.lowest = ratio;
            summary.worst = r;
        }
    }
    return summary;
}

/* "mlp M=128 K=1024 N=10 TN (m=1024 n=10 k=128), 2 threads" */
static void describe_row(const gemm_row *r, char *buffer, size_t capacity)
{
    const ampc_bench_gemm_layer *l = &r->shape.layer;
    snprintf(buffer, capacity, "%s M=%lld K=%lld N=%lld %s (m=%lld n=%lld k=%lld), %d thread%s",
             l->model, (long long)l->rows, (long long)l->inputs, (long long)l->outputs,
             ampc_bench_gemm_form_name(r->shape.form), (long long)r->job.m, (long long)r->job.n,
             (long long)r->job.k, r->threads, plural(r->threads));
}

/* Appends to the goal's detail. */
static void append_detail(goal *g, const char *format, ...)
{
    size_t used = strlen(g->detail);
    va_list args;
    va_start(args, format);
    if (used < sizeof g->detail) vsnprintf(g->detail + used, sizeof g->detail - used, format, args);
    va_end(args);
}

/* Sets the status from the summary and appends "9 of 12 shapes at >= 0.90x; lowest ...". */
static void goal_from_summary(goal *g, const ratio_summary *summary, const char *threshold)
{
    char where[160];
    if (!summary->compared) {
        g->status = GOAL_NOT_MEASURED;
        return;
    }
    describe_row(summary->worst, where, sizeof where);
    g->status = summary->met == summary->compared ? GOAL_MET : GOAL_MISSED;
    append_detail(g, "%d of %d shapes at %s; lowest %.2fx at %s", summary->met,
                  summary->compared, threshold, summary->lowest, where);
}

/* "SkylakeX at 40 of 42 shapes, Prescott at 2": which kernel set gave the fastest OpenBLAS
 * sgemm, counted over the shapes and thread counts measured. */
static void fastest_blas_counts(const gemm_run *run, char *buffer, size_t capacity)
{
    int fastest[AMPC_BENCH_GEMM_BLAS_COUNT] = {0}, shapes = 0;
    for (int i = 0; i < run->count; i++) {
        const gemm_row *r = &run->rows[i];
        if (r->job.impl != AMPC_BENCH_GEMM_OPENBLAS_SGEMM ||
            r->blas != AMPC_BENCH_GEMM_BLAS_DEFAULT)
            continue;
        const gemm_row *best = fastest_row(run, &r->shape, r->job.impl, r->threads);
        if (!best) continue;
        fastest[best->blas]++;
        shapes++;
    }
    size_t used = 0;
    buffer[0] = '\0';
    for (int blas = 0; blas < run->blas_count && used < capacity; blas++)
        if (fastest[blas])
            used += (size_t)snprintf(buffer + used, capacity - used, "%s%s at %d of %d",
                                     used ? ", " : "", run->blas_cores[blas], fastest[blas],
                                     shapes);
}

static void goal_bf16_vs_onednn(const gemm_run *run, goal *g)
{
    g->name = "BF16 >= oneDNN bf16 matmul at every training shape";
    g->detail[0] = '\0';
    ratio_summary summary =
        summarize_ratios(run, AMPC_BENCH_GEMM_AMPC_BF16, true, AMPC_BENCH_GEMM_BLAS_DEFAULT, 1.0);
    goal_from_summary(g, &summary, ">= 1.00x");
    if (!summary.compared)
        append_detail(g, "%s",
                      run->have_onednn ? "no training shape measured" : "oneDNN is not installed");
}

/* Judged at each shape under the kernel set of the fastest OpenBLAS there, F32 on the same
 * set; with two sets, each set's own comparison follows. */
static void goal_f32_vs_openblas(const gemm_run *run, goal *g)
{
    g->name = "F32 within 10% of OpenBLAS sgemm";
    ratio_summary summary =
        summarize_ratios(run, AMPC_BENCH_GEMM_AMPC_F32, false, FASTEST_BLAS, F32_GOAL_RATIO);
    if (!summary.compared) {
        g->status = GOAL_NOT_MEASURED;
        snprintf(g->detail, sizeof g->detail, "nothing measured");
        return;
    }
    g->detail[0] = '\0';
    if (run->blas_count > 1) {
        char counts[160];
        fastest_blas_counts(run, counts, sizeof counts);
        append_detail(g, "against the fastest OpenBLAS (%s), F32 on the same core: ", counts);
    }
    goal_from_summary(g, &summary, ">= 0.90x");
    for (int blas = 0; run->blas_count > 1 && blas < run->blas_count; blas++) {
        ratio_summary own = summarize_ratios(run, AMPC_BENCH_GEMM_AMPC_F32, false, blas,
                                             F32_GOAL_RATIO);
        if (own.compared)
            append_detail(g, "; both on %s: %d of %d at >= 0.90x, lowest %.2fx",
                          run->blas_cores[blas], own.met, own.compared, own.lowest);
    }
}

static void goal_bf16_vs_amx(const gemm_run *run, goal *g)
{
    g->name = "BF16 >= 50% of AMX peak at 2048^3";
    ampc_bench_gemm_shape shape = {{"square", AMX_GOAL_SIZE, AMX_GOAL_SIZE, AMX_GOAL_SIZE},
                                   AMPC_BENCH_GEMM_NN};
    const gemm_row *r = find_row(run, &shape, AMPC_BENCH_GEMM_AMPC_BF16, run->threads,
                                 AMPC_BENCH_GEMM_BLAS_DEFAULT);
    double amx = peak_gflops(run, AMPC_BENCH_PEAK_AMX_BF16, run->threads);
    double dot = peak_gflops(run, AMPC_BENCH_PEAK_BF16_DOT, run->threads);
    char measured[160] = "2048 is not among the sizes";
    if (r && dot > 0.0)
        snprintf(measured, sizeof measured,
                 "BF16 at 2048^3: %.1f GFLOP/s = %.1f%% of the VDPBF16PS peak", gflops(r),
                 100.0 * gflops(r) / dot);
    if (!ampc_bench_peak_available(AMPC_BENCH_PEAK_AMX_BF16)) {
        g->status = GOAL_NOT_APPLICABLE;
        snprintf(g->detail, sizeof g->detail, "no AMX; %s", measured);
    } else if (!r) {
        g->status = GOAL_NOT_MEASURED;
        snprintf(g->detail, sizeof g->detail, "%s", measured);
    } else {
        g->status = gflops(r) >= AMX_GOAL_FRACTION * amx ? GOAL_MET : GOAL_MISSED;
        snprintf(g->detail, sizeof g->detail, "%.1f%% of the AMX peak; %s",
                 100.0 * gflops(r) / amx, measured);
    }
}

/* Against the fastest OpenBLAS sgemm at each size (the kernel set that gave it is named). */
static void goal_f16_vs_openblas(const gemm_run *run, goal *g)
{
    g->name = "F16 >= 2x OpenBLAS sgemm at 1024^3 and above";
    g->status = GOAL_NOT_MEASURED;
    g->detail[0] = '\0';
    for (int s = 0; s < run->size_count; s++) {
        ampc_bench_gemm_shape shape = {{"square", run->sizes[s], run->sizes[s], run->sizes[s]},
                                       AMPC_BENCH_GEMM_NN};
        const gemm_row *f16 = find_row(run, &shape, AMPC_BENCH_GEMM_AMPC_F16, run->threads,
                                       AMPC_BENCH_GEMM_BLAS_DEFAULT);
        const gemm_row *baseline = baseline_row(run, f16);
        if (run->sizes[s] < F16_GOAL_MIN_SIZE || !baseline) continue;
        double ratio = baseline_ratio(run, f16);
        if (g->status == GOAL_NOT_MEASURED) {
            g->status = GOAL_MET;
            if (run->blas_count > 1) append_detail(g, "against the fastest OpenBLAS: ");
        } else {
            append_detail(g, ", ");
        }
        if (ratio < F16_GOAL_RATIO) g->status = GOAL_MISSED;
        append_detail(g, "%lld^3: %.2fx", (long long)run->sizes[s], ratio);
        if (run->blas_count > 1) append_detail(g, " (%s)", blas_name(run, baseline));
    }
    if (g->status == GOAL_NOT_MEASURED) append_detail(g, "no size of 1024 or more measured");
}

static void evaluate_goals(const gemm_run *run, goal goals[GOAL_COUNT])
{
    goal_bf16_vs_onednn(run, &goals[0]);
    goal_bf16_vs_amx(run, &goals[1]);
    goal_f16_vs_openblas(run, &goals[2]);
    goal_f32_vs_openblas(run, &goals[3]);
}

/* ---- The table. ---- */

static void print_header(const gemm_run *run)
{
    const char *problem = ampc_bench_dnnl_problem();
    printf("ampc bench gemm: CPU %s, %d thread%s, dispatched path %s\n", ampc_cpu_model(),
           run->threads, plural(run->threads), ampc_isa_name(run->active));
    printf("OpenBLAS: %s (core %s)\n", openblas_get_config(), ampc_gemm_blas_core());
    if (run->blas_count > 1)
        printf("  OpenBLAS picked its generic %s kernels on this AVX-512 CPU, far below its best "
               "(ampc's F64 is\n  slowed too): sgemm and ampc F32 also run with "
               "OPENBLAS_CORETYPE=%s, and every goal\n  is judged against the faster OpenBLAS\n",
               run->blas_cores[AMPC_BENCH_GEMM_BLAS_DEFAULT],
               run->blas_cores[AMPC_BENCH_GEMM_BLAS_SKYLAKEX]);
    else if (ampc_gemm_blas_core_is_generic())
        printf("  warning: OpenBLAS runs its generic %s kernels, so sgemm and ampc's F32/F64 "
               "paths are far below peak\n",
               ampc_gemm_blas_core());
    if (problem) printf("oneDNN: %s\n", problem);
    else
        printf("oneDNN: %s, ISA %s; bf16 matmul: bf16 in, fp32 accumulation, f32 out\n",
               ampc_bench_dnnl_version(), ampc_bench_dnnl_isa());
    ampc_bench_load_print(&run->load);
    printf("GFLOP/s = 2*m*n*k / seconds of the median call (\"best\": the fastest call); C = "
           "op(A) op(B), beta = 0,\nA and B random in [-1, 1), C F32 (F64 for F64). %% of peak: "
           "F64 -> fp64 FMA; F32, F16, OpenBLAS -> fp32 FMA;\nBF16, oneDNN -> %s (%s), the best "
           "bf16 peak here; each at the row's thread count\n",
           ampc_bench_peak_name(run->bf16_peak), ampc_bench_peak_instruction(run->bf16_peak));
    if (run->bf16_peak == AMPC_BENCH_PEAK_F32_FMA &&
        ampc_bench_peak_available(AMPC_BENCH_PEAK_BF16_DOT))
        printf("  (VDPBF16PS peaks below fp32 FMA on this CPU, and BF16 widens to fp32 exactly, so "
               "a BF16 GEMM\n  can run at the fp32 FMA peak)\n");
}

static void print_peaks(const gemm_run *run)
{
    printf("\npeak GFLOP/s: one instruction back to back from registers\n");
    printf("%-10s %-17s %10s %10s\n", "peak", "instruction", "1 thread",
           run->threads == 1 ? "" : "all");
    for (int k = 0; k < AMPC_BENCH_PEAK_COUNT; k++) {
        ampc_bench_peak peak = (ampc_bench_peak)k;
        if (peak == AMPC_BENCH_PEAK_AMX_BF16 && !ampc_bench_peak_available(peak))
            printf("AMX: not available on this CPU/VM\n");
        else if (!ampc_bench_peak_available(peak))
            printf("%-10s %-17s not available on this CPU\n", ampc_bench_peak_name(peak),
                   ampc_bench_peak_instruction(peak));
        else
            printf("%-10s %-17s %10.1f %10.1f\n", ampc_bench_peak_name(peak),
                   ampc_bench_peak_instruction(peak), run->peaks[k][0], run->peaks[k][1]);
    }
}

/* The ISA level for ampc's own kernels; "-" where the level does not matter. */
static const char *level_label(const gemm_row *r)
{
    bool per_level = r->job.impl == AMPC_BENCH_GEMM_AMPC_F16 ||
                     r->job.impl == AMPC_BENCH_GEMM_AMPC_BF16;
    return per_level ? ampc_isa_name(r->level) : "-";
}

static void print_square_rows(const gemm_run *run, int threads)
{
    int label_width = run->blas_count > 1 ? 25 : 15, ratio_width = run->blas_count > 1 ? 31 : 21;
    printf("%-5s %-*s %-12s %9s %8s %8s %6s %-*s %s\n", "n", label_width, "impl", "AMPC_ISA",
           "ms", "GFLOP/s", "best", "%peak", ratio_width, "vs baseline", "implementation");
    for (int i = 0; i < run->count; i++) {
        const gemm_row *r = &run->rows[i];
        char label[64], ratio[80] = "";
        if (!is_square(r) || r->threads != threads) continue;
        row_label(run, r, label, sizeof label);
        if (!r->measured) {
            printf("%-5lld %-*s %-12s failed: %s\n", (long long)r->job.m, label_width, label,
                   level_label(r), r->error);
            continue;
        }
        const gemm_row *baseline = baseline_row(run, r);
        if (baseline) {
            char baseline_label[64];
            row_label(run, baseline, baseline_label, sizeof baseline_label);
            snprintf(ratio, sizeof ratio, "%.2fx %s", baseline_ratio(run, r), baseline_label);
        }
        printf("%-5lld %-*s %-12s %9.2f %8.1f %8.1f %5.1f%% %-*s %s\n", (long long)r->job.m,
               label_width, label, level_label(r), r->median * 1e3, gflops(r), best_gflops(r),
               percent_of_peak(run, r), ratio_width, ratio, r->implementation);
    }
}

enum { CELL = 16 };

static void gflops_cell(char cell[CELL], const gemm_row *r)
{
    if (r && r->measured) snprintf(cell, CELL, "%.1f", gflops(r));
    else snprintf(cell, CELL, "-");
}

static void ratio_cell(char cell[CELL], double ratio)
{
    if (ratio > 0.0) snprintf(cell, CELL, "%.2fx", ratio);
    else snprintf(cell, CELL, "-");
}

/* One line per layer and form: BF16 beside oneDNN; F32 beside OpenBLAS on each kernel set;
 * F16 over the fastest OpenBLAS. */
static void print_training_row(const gemm_run *run, const gemm_row *bf16)
{
    const ampc_bench_gemm_shape *shape = &bf16->shape;
    const ampc_bench_gemm_layer *l = &shape->layer;
    const ampc_bench_gemm_blas first = AMPC_BENCH_GEMM_BLAS_DEFAULT;
    const gemm_row *onednn =
        find_row(run, shape, AMPC_BENCH_GEMM_ONEDNN_BF16, bf16->threads, first);
    const gemm_row *f16 = find_row(run, shape, AMPC_BENCH_GEMM_AMPC_F16, bf16->threads, first);
    char layer[48], product[48], cells[3][CELL];
    snprintf(layer, sizeof layer, "%lld,%lld,%lld", (long long)l->rows, (long long)l->inputs,
             (long long)l->outputs);
    snprintf(product, sizeof product, "%lldx%lldx%lld", (long long)bf16->job.m,
             (long long)bf16->job.n, (long long)bf16->job.k);
    gflops_cell(cells[0], bf16);
    printf("%-11s %-15s %-4s %-17s %7s", l->model, layer, ampc_bench_gemm_form_name(shape->form),
           product, cells[0]);
    if (run->have_onednn) {
        gflops_cell(cells[1], onednn);
        ratio_cell(cells[2], baseline_ratio(run, bf16));
        printf(" %7s %6s", cells[1], cells[2]);
    }
    for (int blas = 0; blas < run->blas_count; blas++) {
        const gemm_row *f32 = find_row(run, shape, AMPC_BENCH_GEMM_AMPC_F32, bf16->threads,
                                       (ampc_bench_gemm_blas)blas);
        const gemm_row *sgemm = find_row(run, shape, AMPC_BENCH_GEMM_OPENBLAS_SGEMM,
                                         bf16->threads, (ampc_bench_gemm_blas)blas);
        gflops_cell(cells[0], f32);
        gflops_cell(cells[1], sgemm);
        ratio_cell(cells[2], baseline_ratio(run, f32));
        printf(" %7s %8s %6s", cells[0], cells[1], cells[2]);
    }
    gflops_cell(cells[0], f16);
    ratio_cell(cells[1], baseline_ratio(run, f16));
    printf(" %7s %6s %6.1f%%\n", cells[0], cells[1],
           bf16->measured ? percent_of_peak(run, bf16) : 0.0);
}

static void print_training(const gemm_run *run)
{
    printf("\ntraining shapes, %d thread%s, GFLOP/s. A layer Y = X W, X (M x K), W (K x N), Y "
           "and dY (M x N):\n  NN forward Y = X W (m=M n=N k=K); NT backward data dX = dY W^T "
           "(m=M n=K k=N);\n  TN backward weights dW = X^T dY (m=K n=N k=M). ratio: BF16 / "
           "oneDNN, F32 / OpenBLAS on the same\n  OpenBLAS core, F16 / the fastest OpenBLAS\n",
           run->threads, plural(run->threads));
    if (run->blas_count > 1) { /* a line naming the core over each F32 / OpenBLAS group */
        printf("%*s", 58 + (run->have_onednn ? 15 : 0), "");
        for (int blas = 0; blas < run->blas_count; blas++) {
            char group[64]; /* room for any core name OpenBLAS reports (< 32 bytes) */
            snprintf(group, sizeof group, "OpenBLAS core %s", run->blas_cores[blas]);
            printf(blas + 1 < run->blas_count ? " %-23s" : " %s", group);
        }
        printf("\n");
    }
    printf("%-11s %-15s %-4s %-17s %7s", "model", "M,K,N", "form", "m x n x k", "BF16");
    if (run->have_onednn) printf(" %7s %6s", "oneDNN", "ratio");
    for (int blas = 0; blas < run->blas_count; blas++)
        printf(" %7s %8s %6s", "F32", "OpenBLAS", "ratio");
    printf(" %7s %6s %7s\n", "F16", "ratio", "BF16%pk");
    for (int i = 0; i < run->count; i++) {
        const gemm_row *r = &run->rows[i];
        if (!is_square(r) && r->job.impl == AMPC_BENCH_GEMM_AMPC_BF16) print_training_row(run, r);
    }
}

/* Rows that failed outside the square tables, and the oneDNN implementations seen. */
static void print_notes(const gemm_run *run)
{
    for (int i = 0; i < run->count; i++) {
        const gemm_row *r = &run->rows[i];
        char where[160];
        if (r->measured || is_square(r)) continue;
        describe_row(r, where, sizeof where);
        printf("failed: %s at %s: %s\n", info(r)->label, where, r->error);
    }
    if (!run->have_onednn) return;
    printf("\noneDNN implementations used:");
    for (int i = 0; i < run->count; i++) {
        const gemm_row *r = &run->rows[i];
        bool seen = r->job.impl != AMPC_BENCH_GEMM_ONEDNN_BF16 || !r->measured;
        for (int j = 0; j < i && !seen; j++)
            seen = run->rows[j].job.impl == AMPC_BENCH_GEMM_ONEDNN_BF16 &&
                   strcmp(run->rows[j].implementation, r->implementation) == 0;
        if (!seen) printf(" %s", r->implementation);
    }
    printf("\n");
}

void ampc_bench_gemm_print_table(const gemm_run *run)
{
    goal goals[GOAL_COUNT];
    evaluate_goals(run, goals);
    print_header(run);
    print_peaks(run);
    printf("\nsquare n x n x n, NN, %d thread%s; F16 and BF16 on each ISA level up to the active "
           "one that has a microkernel of its own\n",
           run->threads, plural(run->threads));
    print_square_rows(run, run->threads);
    if (run->threads > 1) {
        printf("\n1 thread\n");
        print_square_rows(run, 1);
    }
    print_training(run);
    print_notes(run);
    printf("\ngoals\n");
    for (int g = 0; g < GOAL_COUNT; g++)
        printf("  %-50s %s: %s\n", goals[g].name, goal_status_names[goals[g].status],
               goals[g].detail);
    printf("\ntook %.0f s\n", run->elapsed);
}

/* ---- JSON. ---- */

static json_t *row_json(const gemm_run *run, const gemm_row *r)
{
    const ampc_bench_gemm_layer *l = &r->shape.layer;
    char label[64];
    row_label(run, r, label, sizeof label);
    json_t *object = json_pack(
        "{s:s, s:{s:I, s:I, s:I}, s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:i, s:s, s:b, s:s, s:b}",
        "model", l->model, "layer", "M", (json_int_t)l->rows, "K", (json_int_t)l->inputs, "N",
        (json_int_t)l->outputs, "form", ampc_bench_gemm_form_name(r->job.form), "m",
        (json_int_t)r->job.m, "n", (json_int_t)r->job.n, "k", (json_int_t)r->job.k, "impl",
        ampc_bench_gemm_impl_key(r->job.impl), "label", label, "ampc_isa",
        ampc_isa_name(r->level), "threads", r->threads, "implementation", r->implementation,
        "measured", r->measured, "openblas_core", r->blas_core, "openblas_core_forced",
        r->blas != AMPC_BENCH_GEMM_BLAS_DEFAULT);
    if (!r->measured) {
        json_object_set_new(object, "error", json_string(r->error));
        return object;
    }
    json_object_set_new(object, "median_seconds", json_real(r->median));
    json_object_set_new(object, "best_seconds", json_real(r->best));
    json_object_set_new(object, "runs", json_integer(r->runs));
    json_object_set_new(object, "gflops", json_real(gflops(r)));
    json_object_set_new(object, "best_gflops", json_real(best_gflops(r)));
    json_object_set_new(object, "peak", json_string(ampc_bench_peak_name(peak_of(run, r))));
    json_object_set_new(object, "percent_of_peak", json_real(percent_of_peak(run, r)));
    const gemm_row *baseline = baseline_row(run, r);
    if (baseline) {
        json_object_set_new(object, "baseline",
                            json_string(ampc_bench_gemm_impl_key(info(r)->baseline)));
        if (info(baseline)->per_blas_core)
            json_object_set_new(object, "baseline_openblas_core",
                                json_string(baseline->blas_core));
        json_object_set_new(object, "ratio_to_baseline", json_real(baseline_ratio(run, r)));
    }
    return object;
}

static json_t *peaks_json(const gemm_run *run)
{
    json_t *list = json_array();
    for (int k = 0; k < AMPC_BENCH_PEAK_COUNT; k++) {
        ampc_bench_peak peak = (ampc_bench_peak)k;
        json_array_append_new(
            list, json_pack("{s:s, s:s, s:b, s:f, s:f}", "peak", ampc_bench_peak_name(peak),
                            "instruction", ampc_bench_peak_instruction(peak), "available",
                            ampc_bench_peak_available(peak), "gflops_1_thread", run->peaks[k][0],
                            "gflops_all_threads", run->peaks[k][1]));
    }
    return list;
}

static json_t *libraries_json(const gemm_run *run)
{
    const char *problem = ampc_bench_dnnl_problem();
    json_t *onednn =
        problem ? json_pack("{s:b, s:s}", "available", false, "problem", problem)
                : json_pack("{s:b, s:s, s:s}", "available", true, "version",
                            ampc_bench_dnnl_version(), "isa", ampc_bench_dnnl_isa());
    json_t *cores = json_array();
    for (int blas = 0; blas < run->blas_count; blas++)
        json_array_append_new(cores, json_string(run->blas_cores[blas]));
    json_t *openblas = json_pack("{s:s, s:s, s:b, s:o}", "config", openblas_get_config(), "core",
                                 ampc_gemm_blas_core(), "generic_core",
                                 ampc_gemm_blas_core_is_generic(), "cores_measured", cores);
    return json_pack("{s:o, s:o}", "openblas", openblas, "onednn", onednn);
}

int ampc_bench_gemm_print_json(const gemm_run *run)
{
    goal goals[GOAL_COUNT];
    evaluate_goals(run, goals);
    json_t *rows = json_array(), *goal_list = json_array();
    for (int i = 0; i < run->count; i++) json_array_append_new(rows, row_json(run, &run->rows[i]));
    for (int g = 0; g < GOAL_COUNT; g++)
        json_array_append_new(goal_list, json_pack("{s:s, s:s, s:s}", "goal", goals[g].name,
                                                   "status", goal_status_keys[goals[g].status],
                                                   "detail", goals[g].detail));
    json_t *root = json_pack(
        "{s:s, s:s, s:i, s:s, s:b, s:f, s:o, s:s, s:o, s:o, s:o, s:o}", "benchmark", "gemm",
        "cpu",
        ampc_cpu_model(), "threads", run->threads, "dispatched_path", ampc_isa_name(run->active),
        "quick", run->quick, "elapsed_seconds", run->elapsed, "other_busy_cores",
        ampc_bench_load_json(&run->load),
        "definitions",
        "gflops = 2*m*n*k / median_seconds per call; C = op(A) op(B), row-major, beta = 0; form "
        "NN C = A B, NT C = A B^T, TN C = A^T B; a training layer Y = X W with X (M x K), W (K x "
        "N) has the products NN forward (m,n,k) = (M,N,K), NT backward data dX = dY W^T "
        "(M,K,N), TN backward weights dW = X^T dY (K,N,M); percent_of_peak is of the named "
        "peak at the row's thread count; ratio_to_baseline = gflops / the baseline's gflops at "
        "the same shape and thread count: ampc_bf16 / onednn_bf16, ampc_f32 / openblas_sgemm "
        "under the same openblas_core, ampc_f16 / the fastest openblas_sgemm; the goals use the "
        "fastest openblas_sgemm",
        "libraries", libraries_json(run), "peaks", peaks_json(run), "results", rows, "goals",
        goal_list);
    int status = root && json_dumpf(root, stdout, JSON_INDENT(2)) == 0 ? 0 : 1;
    printf("\n");
    json_decref(root);
    return status;
}
