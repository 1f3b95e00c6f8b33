/* Helpers shared by the benchmarks: a monotonic clock, run statistics and usage errors. */
#include "bench.h"

#include <stdlib.h>
#include <time.h>

double ampc_bench_now(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + 1e-9 * (double)now.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double ampc_bench_median(double *values, int count)
{
    qsort(values, (size_t)count, sizeof *values, compare_doubles);
    return count % 2 ? values[count / 2] : 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

double ampc_bench_min(const double *values, int count)
{
    double smallest = values[0];
    for (int i = 1; i < count; i++)
        if (values[i] < smallest) smallest = values[i];
    return smallest;
}

int ampc_bench_usage_error(const char *name, void (*print_usage)(FILE *out), const char *message,
                           const char *argument)
{
    fprintf(stderr, "ampc bench %s: ", name);
    fprintf(stderr, message, argument);
    fprintf(stderr, "\n\n");
    print_usage(stderr);
    return 2;
}
