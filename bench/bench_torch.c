/* `ampc bench torch`: ms per training step of the standard models (ampc/models.h) in ampc
 * fp32 beside PyTorch fp32 on the same machine, in one run: same architecture, batch,
 * optimizer (SGD lr 0.05, momentum 0.9), step count and thread count. ampc's side uses the
 * training step of `ampc train` (cli/train_loop.c); PyTorch's side is bench/bench_torch.py run
 * with Debian's /usr/bin/python3 (python3-torch, installed by `make bench`). Inputs are random:
 * timing does not depend on the values. Each figure is the median step after a warm-up. */
#include <ampc/ampc.h>
#include <ampc/models.h>

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "commands.h"
#include "train_loop.h"

enum { MAX_STEPS = 10000 };

static const char *const bench_models[] = {"mlp", "cnn"};
enum { BENCH_MODEL_COUNT = sizeof bench_models / sizeof bench_models[0] };

typedef struct torch_bench_options {
    int steps, warmup, batch, threads;
    bool json;
    const char *python;
} torch_bench_options;

static const char torch_usage[] =
    "usage: ampc bench torch [--steps N] [--warmup N] [--batch N] [--threads N] [--python PATH]\n"
    "                        [--json]\n\n"
    "Times training steps (SGD momentum, fp32) of the mlp and cnn models in ampc and in\n"
    "PyTorch, with the same batch and thread count, and prints ms/step and the ratio.\n\n"
    "  --steps N      timed steps per model (default 20)\n"
    "  --warmup N     untimed steps first (default 3)\n"
    "  --batch N      batch size (default 128)\n"
    "  --threads N    threads for both (default: ampc's thread count)\n"
    "  --python PATH  the Python with torch (default /usr/bin/python3)\n"
    "  --json         one JSON object per model instead of the table\n";

static void print_torch_usage(FILE *out)
{
    fputs(torch_usage, out);
}

static int usage_error(const char *message, const char *argument)
{
    return ampc_bench_usage_error("torch", print_torch_usage, message, argument);
}

/* The fixed batch every step reuses: the source the train step asks for. */
typedef struct fixed_batch {
    ampc_tensor *images, *labels;
} fixed_batch;

static bool next_fixed_batch(void *source, ampc_tensor **images, ampc_tensor **labels)
{
    const fixed_batch *batch = source;
    /* Views in the arena: the step's reset drops them, the batch stays. */
    *images = ampc_tensor_narrow(batch->images, 0, 0, ampc_tensor_dim(batch->images, 0));
    *labels = ampc_tensor_narrow(batch->labels, 0, 0, ampc_tensor_dim(batch->labels, 0));
    return *images && *labels;
}

static fixed_batch random_batch(ampc_generator *generator, int64_t batch)
{
    int64_t shape[] = {batch, 1, 28, 28};
    fixed_batch out = {ampc_tensor_rand(generator, AMPC_F32, 4, shape),
                       ampc_tensor_empty(AMPC_I64, 1, &batch)};
    if (out.labels) {
        int64_t *labels = ampc_tensor_data(out.labels);
        for (int64_t i = 0; i < batch; i++) labels[i] = (i * 7 + 3) % 10;
    }
    return out;
}

/* Median ms per step of ampc on `name`, or a negative value with the error set. */
static double time_ampc(const char *name, const torch_bench_options *options)
{
    ampc_generator *generator = ampc_generator_new(0);
    ampc_module *model = ampc_model_new(name, generator);
    ampc_optimizer *optimizer = model ? train_optimizer_new(model, "sgd", 0.05, 0.9, 0) : NULL;
    fixed_batch batch = random_batch(generator, options->batch);
    ampc_arena *arena = ampc_arena_new();
    double *times = calloc((size_t)options->steps, sizeof *times), result = -1;
    bool ok = optimizer && batch.images && batch.labels && arena && times;
    for (int step = 0; ok && step < options->warmup + options->steps; step++) {
        double start = ampc_bench_now(), loss;
        ok = train_step(model, optimizer, arena, next_fixed_batch, &batch, &loss) == AMPC_OK;
        if (step >= options->warmup) times[step - options->warmup] = ampc_bench_now() - start;
    }
    if (ok) result = 1e3 * ampc_bench_median(times, options->steps);
    free(times);
    ampc_arena_free(arena);
    ampc_tensor_free(batch.images);
    ampc_tensor_free(batch.labels);
    ampc_optimizer_free(optimizer);
    ampc_module_free(model);
    ampc_generator_free(generator);
    return result;
}

/* bench_torch.py beside this source file (the build compiles it by absolute path). */
static void script_path(char *path, size_t size)
{
    const char *here = __FILE__, *slash = strrchr(here, '/');
    snprintf(path, size, "%.*s/bench_torch.py", slash ? (int)(slash - here) : 1,
             slash ? here : ".");
}

/* Runs the PyTorch side once for all models; fills torch_ms (negative where it failed) and
 * the torch version. */
static void time_torch(const torch_bench_options *options, double *torch_ms, char *version,
                       size_t version_size)
{
    char script[4096], command[8192];
    script_path(script, sizeof script);
    snprintf(command, sizeof command,
             "'%s' '%s' --model mlp --model cnn --batch %d --steps %d --warmup %d --threads %d",
             options->python, script, options->batch, options->steps, options->warmup,
             options->threads);
    for (int i = 0; i < BENCH_MODEL_COUNT; i++) torch_ms[i] = -1;
    snprintf(version, version_size, "not available");
    FILE *pipe = popen(command, "r");
    if (!pipe) return;
    char line[4096];
    while (fgets(line, sizeof line, pipe)) {
        json_t *row = json_loads(line, 0, NULL);
        const char *model = row ? json_string_value(json_object_get(row, "model")) : NULL;
        for (int i = 0; model && i < BENCH_MODEL_COUNT; i++)
            if (strcmp(model, bench_models[i]) == 0)
                torch_ms[i] = json_number_value(json_object_get(row, "ms_per_step"));
        if (row && json_string_value(json_object_get(row, "torch")))
            snprintf(version, version_size, "%s", json_string_value(json_object_get(row, "torch")));
        json_decref(row);
    }
    if (pclose(pipe) != 0)
        fprintf(stderr, "ampc bench torch: PyTorch side failed (is python3-torch installed? "
                        "`make bench` installs it)\n");
}

/* The integer options: flag, field, range. */
typedef struct int_option {
    const char *flag;
    size_t offset; /* into torch_bench_options */
    int min, max;
} int_option;

static const int_option int_options[] = {
    {"--steps", offsetof(torch_bench_options, steps), 1, MAX_STEPS},
    {"--warmup", offsetof(torch_bench_options, warmup), 0, MAX_STEPS},
    {"--batch", offsetof(torch_bench_options, batch), 1, 65536},
    {"--threads", offsetof(torch_bench_options, threads), 1, 4096},
};

/* Sets flag's value; CLI_EXIT_USAGE with a message if the flag or value is bad. */
static int set_option(torch_bench_options *options, const char *flag, const char *value)
{
    if (strcmp(flag, "--python") == 0) {
        options->python = value;
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof int_options / sizeof int_options[0]; i++) {
        const int_option *o = &int_options[i];
        if (strcmp(flag, o->flag) != 0) continue;
        char *end;
        long number = strtol(value, &end, 10);
        if (!*value || *end || number < o->min || number > o->max) {
            char message[256];
            snprintf(message, sizeof message, "%s \"%%s\": expected an integer from %d to %d",
                     flag, o->min, o->max);
            return usage_error(message, value);
        }
        *(int *)((char *)options + o->offset) = (int)number;
        return CLI_EXIT_OK;
    }
    return usage_error("unknown option \"%s\"", flag);
}

static int parse_options(int argc, char **argv, torch_bench_options *options, bool *help)
{
    *options = (torch_bench_options){.steps = 20, .warmup = 3, .batch = 128,
                                     .threads = ampc_num_threads(), .python = "/usr/bin/python3"};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            *help = true;
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            options->json = true;
            continue;
        }
        if (i + 1 >= argc) return usage_error("unknown option or missing value \"%s\"", argv[i]);
        int status = set_option(options, argv[i], argv[i + 1]);
        i++;
        if (status != CLI_EXIT_OK) return status;
    }
    return CLI_EXIT_OK;
}

int ampc_bench_torch(int argc, char **argv)
{
    torch_bench_options options;
    bool help = false;
    int parsed = parse_options(argc, argv, &options, &help);
    if (help) {
        fputs(torch_usage, stdout);
        return CLI_EXIT_OK;
    }
    if (parsed != CLI_EXIT_OK) return parsed;
    if (ampc_set_num_threads(options.threads) != AMPC_OK) {
        fprintf(stderr, "ampc bench torch: %s\n", ampc_error_message());
        return CLI_EXIT_FAILED;
    }
    double ampc_ms[BENCH_MODEL_COUNT], torch_ms[BENCH_MODEL_COUNT];
    for (int i = 0; i < BENCH_MODEL_COUNT; i++) {
        ampc_ms[i] = time_ampc(bench_models[i], &options);
        if (ampc_ms[i] < 0) {
            fprintf(stderr, "ampc bench torch: %s: %s\n", bench_models[i], ampc_error_message());
            return CLI_EXIT_FAILED;
        }
    }
    char version[64];
    time_torch(&options, torch_ms, version, sizeof version);
    if (!options.json)
        printf("training step, fp32, SGD momentum, batch %d, %d threads, median of %d steps "
               "(PyTorch %s)\n%-6s %14s %14s %16s\n", options.batch, options.threads,
               options.steps, version, "model", "ampc ms/step", "torch ms/step", "ampc / torch");
    for (int i = 0; i < BENCH_MODEL_COUNT; i++) {
        double ratio = torch_ms[i] > 0 ? ampc_ms[i] / torch_ms[i] : 0;
        if (options.json)
            printf("{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"steps\":%d,"
                   "\"ampc_ms_per_step\":%.3f,\"torch_ms_per_step\":%.3f,\"ratio\":%.3f}\n",
                   bench_models[i], options.batch, options.threads, options.steps, ampc_ms[i],
                   torch_ms[i], ratio);
        else if (torch_ms[i] > 0)
            printf("%-6s %14.2f %14.2f %16.2f\n", bench_models[i], ampc_ms[i], torch_ms[i], ratio);
        else
            printf("%-6s %14.2f %14s %16s\n", bench_models[i], ampc_ms[i], "n/a", "n/a");
    }
    return CLI_EXIT_OK;
}
