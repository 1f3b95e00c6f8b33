/* `ampc`: the command-line front end. Dispatches on the first word through one table; every
 * command has its own --help, and anything unknown gets an error plus the usage. */
#include <ampc/ampc.h>

#include <stdio.h>
#include <string.h>

#include "commands.h"

typedef struct command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} command;

static const command commands[] = {
    {"info", "print the version, CPU features, AMX state, threads and kernel paths", cli_info},
    {"bench", "run a benchmark (convert, gemm, torch)", cli_bench},
    {"train", "train a standard model (mlp, cnn) on Fashion-MNIST, then test it", cli_train},
};
enum { COMMAND_COUNT = sizeof commands / sizeof commands[0] };

static void print_usage(FILE *out)
{
    fprintf(out, "usage: ampc <command> [options]\n"
                 "       ampc --help | --version\n\ncommands:\n");
    for (int i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun `ampc <command> --help` for a command's options.\n");
}

bool cli_is_help(const char *argument)
{
    return strcmp(argument, "-h") == 0 || strcmp(argument, "--help") == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "ampc: no command given\n");
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("ampc %s\n", ampc_version());
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ampc: unknown command \"%s\"\n", argv[1]);
    print_usage(stderr);
    return CLI_EXIT_USAGE;
}
