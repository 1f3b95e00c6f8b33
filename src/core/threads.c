/* The thread count for ampc's OpenMP loops, read once from the environment. */
#include <ampc/cpu.h>

#include <errno.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/error.h"

static int thread_count;
static pthread_once_t thread_count_once = PTHREAD_ONCE_INIT;

/* A positive count from the variable, or 0 when unset; a bad value warns and counts as unset. */
static int count_from_env(const char *variable)
{
    const char *text = getenv(variable);
    if (!text || !*text) return 0;
    char *end;
    errno = 0;
    long count = strtol(text, &end, 10);
    if (errno || *end != '\0' || count < 1 || count > 4096) {
        fprintf(stderr, "ampc: warning: %s=\"%.40s\" is not a thread count from 1 to 4096; "
                        "ignored\n", variable, text);
        return 0;
    }
    return (int)count;
}

static void read_thread_count(void)
{
    thread_count = count_from_env("AMPC_NUM_THREADS");
    if (!thread_count) thread_count = count_from_env("OMP_NUM_THREADS");
    if (!thread_count) thread_count = omp_get_num_procs();
}

int ampc_num_threads(void)
{
    pthread_once(&thread_count_once, read_thread_count);
    return thread_count;
}

ampc_status ampc_set_num_threads(int count)
{
    if (count < 1 || count > 4096)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__,
                         "count is %d; expected a thread count from 1 to 4096", count);
    pthread_once(&thread_count_once, read_thread_count);
    thread_count = count;
    return AMPC_OK;
}
