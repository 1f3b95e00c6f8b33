/* What the CLI tests share: running the real `ampc` executable and capturing what it says.
 * Include after cmocka's prerequisites and <cmocka.h>. */
#ifndef AMPC_CLI_TESTING_H
#define AMPC_CLI_TESTING_H

#include <stdio.h>
#include <sys/wait.h>

typedef struct run_result {
    int exit_code;
    char output[65536]; /* stdout and stderr together */
} run_result;

/* Runs `env <environment> <ampc_path> <arguments>` with ampc's own tuning variables unset (so
 * the caller's shell cannot change what the test sees), capturing output and exit code. */
static inline void run_ampc_at(const char *ampc_path, const char *environment,
                               const char *arguments, run_result *result)
{
    static char command[16384];
    snprintf(command, sizeof command,
             "env -u AMPC_ISA -u AMPC_NUM_THREADS -u OMP_NUM_THREADS %s '%s' %s 2>&1",
             environment, ampc_path, arguments);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    size_t length = fread(result->output, 1, sizeof result->output - 1, pipe);
    result->output[length] = '\0';
    int status = pclose(pipe);
    result->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#endif
