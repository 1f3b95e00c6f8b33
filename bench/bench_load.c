/* How busy other processes kept the cores while a benchmark ran, so that a reader can tell a
 * quiet run from a shared one. Shared by every `ampc bench` that uses all the cores.
 *
 * The machine's busy time comes from /proc/stat; this process's own CPU time (all its
 * threads, and the workers it has waited for) is subtracted, and what is left, divided by the
 * wall time, is the number of cores others kept busy on average. It is sampled over a short
 * sleep just before and just after the run, and over the run itself. */
#include "bench.h"

#include <jansson.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* How long the check sleeps before and after the run (--quick: long enough to see a build
 * running, short enough to keep a smoke test fast). */
static const double SAMPLE_SECONDS = 0.2, QUICK_SAMPLE_SECONDS = 0.05;
/* Other processes using more than this many cores make the header warn. */
static const double WARNING_CORES = 0.1;

/* CPU time of the whole machine from the first line of /proc/stat (user, nice, system,
 * idle, iowait, irq, softirq, steal), in seconds summed over cores. Steal counts as busy: the
 * hypervisor gave the time to someone else. */
static bool read_machine_times(double *busy, double *total)
{
    FILE *stat = fopen("/proc/stat", "r");
    unsigned long long user, nice, system, idle, iowait, irq, softirq, steal;
    int read = stat ? fscanf(stat, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice,
                             &system, &idle, &iowait, &irq, &softirq, &steal)
                    : 0;
    if (stat) fclose(stat);
    if (read != 8) return false;
    double tick = 1.0 / (double)sysconf(_SC_CLK_TCK);
    *busy = (double)(user + nice + system + irq + softirq + steal) * tick;
    *total = *busy + (double)(idle + iowait) * tick;
    return true;
}

/* CPU seconds used by this process, all its threads, and by the workers it has waited for.
 * (OpenBLAS's idle pool spins for a while after start-up: that is not another process.) */
static double own_cpu_seconds(void)
{
    double seconds = 0.0;
    const int whose[] = {RUSAGE_SELF, RUSAGE_CHILDREN};
    for (int i = 0; i < 2; i++) {
        struct rusage usage;
        getrusage(whose[i], &usage);
        seconds += (double)usage.ru_utime.tv_sec + 1e-6 * (double)usage.ru_utime.tv_usec +
                   (double)usage.ru_stime.tv_sec + 1e-6 * (double)usage.ru_stime.tv_usec;
    }
    return seconds;
}

ampc_bench_cpu_snapshot ampc_bench_cpu_snapshot_take(void)
{
    ampc_bench_cpu_snapshot snapshot = {.own = own_cpu_seconds()};
    snapshot.ok = read_machine_times(&snapshot.machine_busy, &snapshot.machine_total);
    return snapshot;
}

double ampc_bench_other_busy_cores(const ampc_bench_cpu_snapshot *from,
                                   const ampc_bench_cpu_snapshot *to)
{
    if (!from->ok || !to->ok || to->machine_total <= from->machine_total) return -1.0;
    double others = (to->machine_busy - from->machine_busy) - (to->own - from->own);
    double elapsed = (to->machine_total - from->machine_total) /
                     (double)sysconf(_SC_NPROCESSORS_ONLN);
    return others > 0.0 ? others / elapsed : 0.0;
}

/* The same over `seconds` of sleep. */
static double other_busy_cores_now(double seconds)
{
    ampc_bench_cpu_snapshot from = ampc_bench_cpu_snapshot_take();
    struct timespec pause = {0, (long)(seconds * 1e9)};
    nanosleep(&pause, NULL);
    ampc_bench_cpu_snapshot to = ampc_bench_cpu_snapshot_take();
    return ampc_bench_other_busy_cores(&from, &to);
}

void ampc_bench_load_begin(ampc_bench_load *load, bool quick)
{
    load->before = other_busy_cores_now(quick ? QUICK_SAMPLE_SECONDS : SAMPLE_SECONDS);
    load->start = ampc_bench_cpu_snapshot_take();
}

void ampc_bench_load_end(ampc_bench_load *load, bool quick)
{
    ampc_bench_cpu_snapshot end = ampc_bench_cpu_snapshot_take();
    load->during = ampc_bench_other_busy_cores(&load->start, &end);
    load->after = other_busy_cores_now(quick ? QUICK_SAMPLE_SECONDS : SAMPLE_SECONDS);
}

void ampc_bench_load_print(const ampc_bench_load *load)
{
    printf("other processes kept %.2f cores busy on average during the run (%.2f just before, "
           "%.2f just after)\n",
           load->during, load->before, load->after);
    if (load->before > WARNING_CORES || load->during > WARNING_CORES ||
        load->after > WARNING_CORES)
        printf("  warning: the cores were shared during the run; figures are low and noisy, "
               "multi-threaded ones most\n");
}

json_t *ampc_bench_load_json(const ampc_bench_load *load)
{
    return json_pack("{s:f, s:f, s:f}", "before", load->before, "during", load->during, "after",
                     load->after);
}
