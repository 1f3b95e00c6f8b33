/* The `ampc` command table: each command is a function taking its own argv (argv[0] is the
 * command name) and returning the process exit code. */
#ifndef AMPC_CLI_COMMANDS_H
#define AMPC_CLI_COMMANDS_H

#include <stdbool.h>

/* Exit codes: 0 success, 1 the command failed, 2 bad usage. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILED = 1, CLI_EXIT_USAGE = 2 };

int cli_info(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_train(int argc, char **argv);

/* True if argument is -h or --help. */
bool cli_is_help(const char *argument);

#endif
