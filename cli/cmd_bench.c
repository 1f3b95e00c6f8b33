/* `ampc bench <name>`: runs one of the benchmarks in bench/. Each benchmark parses its own
 * options (at least --json and --help). */
#include <stdio.h>
#include <string.h>

#include "bench.h"
#include "commands.h"

typedef struct benchmark {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} benchmark;

static const benchmark benchmarks[] = {
    {"convert", "conversion throughput F32<->F16/BF16/F8 per path, against memcpy",
     ampc_bench_convert},
    {"gemm", "GEMM GFLOP/s per dtype and path, training shapes, vs OpenBLAS and oneDNN, % of peak",
     ampc_bench_gemm},
    {"ops", "training ops fwd+bwd and an MLP step: BF16/F16 speed and memory vs F32, vs memcpy/peak",
     ampc_bench_ops},
    {"torch", "ms per training step of the mlp and cnn models, ampc fp32 vs PyTorch fp32",
     ampc_bench_torch},
};
enum { BENCHMARK_COUNT = sizeof benchmarks / sizeof benchmarks[0] };

static void print_usage(FILE *out)
{
    fprintf(out, "usage: ampc bench <benchmark> [--json] [options]\n\nbenchmarks:\n");
    for (int i = 0; i < BENCHMARK_COUNT; i++)
        fprintf(out, "  %-8s %s\n", benchmarks[i].name, benchmarks[i].summary);
    fprintf(out, "\nRun `ampc bench <benchmark> --help` for its options.\n");
}

int cli_bench(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "ampc bench: no benchmark given\n\n");
        print_usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (cli_is_help(argv[1])) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    for (int i = 0; i < BENCHMARK_COUNT; i++)
        if (strcmp(argv[1], benchmarks[i].name) == 0) return benchmarks[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ampc bench: unknown benchmark \"%s\"\n\n", argv[1]);
    print_usage(stderr);
    return CLI_EXIT_USAGE;
}
