/* `ampc train`: trains a standard model (ampc/models.h) on an IDX data set (Fashion-MNIST by
 * default), then evaluates it on the test set. One JSON line per step goes to --log-json, and
 * one summary JSON line (test accuracy, samples/s, ms/step, peak memory by category) ends the
 * run on stdout.
 *
 * The options are one table: each names its flag, its kind (choice, number, integer, switch,
 * path), where its value goes and its allowed range, so parsing, validation, the error
 * messages and --help all come from the same rows. Every bad flag or value is a usage error
 * (exit 2) naming the flag, the value given and what was expected. */
#include <ampc/ampc.h>
#include <ampc/io.h>
#include <ampc/models.h>
#include <ampc/nn.h>
#include <ampc/optim.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "train_loop.h"

typedef struct train_config {
    const char *model, *optimizer, *dtype, *init, *data, *log_json;
    double lr, momentum, weight_decay;
    int64_t batch, epochs, steps, seed, threads;
    bool no_shuffle;
    /* Which flags were given: defaults that depend on others (lr, weight decay) and the
     * exclusive pairs need to know. */
    bool given_lr, given_momentum, given_weight_decay, given_epochs, given_steps;
} train_config;

typedef enum option_kind { OPTION_CHOICE, OPTION_NUMBER, OPTION_INTEGER, OPTION_SWITCH,
                           OPTION_PATH } option_kind;

typedef struct option {
    const char *flag;
    option_kind kind;
    size_t value_offset;   /* into train_config */
    size_t given_offset;   /* into train_config, or 0 when nobody asks */
    const char *choices;   /* OPTION_CHOICE: "mlp|cnn" */
    double min, max;       /* OPTION_NUMBER, OPTION_INTEGER: the closed range */
    const char *help;
} option;

#define AT(field) offsetof(train_config, field)
enum { NO_GIVEN = 0 };

static const option train_options[] = {
    {"--model", OPTION_CHOICE, AT(model), NO_GIVEN, "mlp|cnn", 0, 0,
     "the model (default mlp; see ampc/models.h)"},
    {"--optimizer", OPTION_CHOICE, AT(optimizer), NO_GIVEN, "sgd|adam|adamw", 0, 0,
     "the optimizer (default sgd)"},
    {"--lr", OPTION_NUMBER, AT(lr), AT(given_lr), NULL, 0, 1e3,
     "learning rate (default 0.05 for sgd, 0.001 for adam and adamw)"},
    {"--momentum", OPTION_NUMBER, AT(momentum), AT(given_momentum), NULL, 0, 1,
     "sgd momentum (default 0.9)"},
    {"--weight-decay", OPTION_NUMBER, AT(weight_decay), AT(given_weight_decay), NULL, 0, 1e3,
     "weight decay (default 0; 0.01 for adamw)"},
    {"--batch", OPTION_INTEGER, AT(batch), NO_GIVEN, NULL, 1, 1 << 20, "batch size (default 128)"},
    {"--epochs", OPTION_INTEGER, AT(epochs), AT(given_epochs), NULL, 1, 1e6,
     "passes over the training set (default 2)"},
    {"--steps", OPTION_INTEGER, AT(steps), AT(given_steps), NULL, 1, 1e9,
     "optimizer steps instead of --epochs"},
    {"--seed", OPTION_INTEGER, AT(seed), NO_GIVEN, NULL, 0, 9007199254740992.0,
     "seed of the initial weights and the shuffling (default 0)"},
    {"--threads", OPTION_INTEGER, AT(threads), NO_GIVEN, NULL, 1, 4096,
     "worker threads (default: AMPC_NUM_THREADS, else OMP_NUM_THREADS, else all cores)"},
    {"--dtype", OPTION_CHOICE, AT(dtype), NO_GIVEN, "f32|f64", 0, 0,
     "the dtype of the whole model (default f32)"},
    {"--init", OPTION_PATH, AT(init), NO_GIVEN, NULL, 0, 0,
     "start from these weights (a safetensors state_dict, PyTorch names)"},
    {"--no-shuffle", OPTION_SWITCH, AT(no_shuffle), NO_GIVEN, NULL, 0, 0,
     "feed the training batches in file order"},
    {"--data", OPTION_PATH, AT(data), NO_GIVEN, NULL, 0, 0,
     "the IDX folder (default " AMPC_FASHION_MNIST_DIR ")"},
    {"--log-json", OPTION_PATH, AT(log_json), NO_GIVEN, NULL, 0, 0,
     "write {\"step\",\"loss\",\"lr\",\"ms\"} per step to FILE, one JSON line each"},
};
enum { OPTION_COUNT = sizeof train_options / sizeof train_options[0] };

static train_config default_config(void)
{
    return (train_config){.model = "mlp", .optimizer = "sgd", .dtype = "f32",
                          .data = AMPC_FASHION_MNIST_DIR, .lr = 0.05, .momentum = 0.9,
                          .batch = 128, .epochs = 2, .seed = 0, .threads = 0};
}

static void print_usage(FILE *out)
{
    fprintf(out, "usage: ampc train [options]\n\n"
                 "Trains a standard model on an IDX data set (Fashion-MNIST by default), then\n"
                 "evaluates it on the test set and prints one summary JSON line.\n\n");
    for (int i = 0; i < OPTION_COUNT; i++) {
        const option *o = &train_options[i];
        const char *value = o->kind == OPTION_CHOICE    ? o->choices
                            : o->kind == OPTION_NUMBER  ? "X"
                            : o->kind == OPTION_INTEGER ? "N"
                            : o->kind == OPTION_PATH    ? "PATH"
                                                        : "";
        char left[64];
        snprintf(left, sizeof left, "%s %s", o->flag, value);
        fprintf(out, "  %-26s %s\n", left, o->help);
    }
    fprintf(out, "  %-26s %s\n", "--help", "print this help");
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *format, ...)
{
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "ampc train: ");
    vfprintf(stderr, format, arguments);
    va_end(arguments);
    fprintf(stderr, "\nRun `ampc train --help` for the options.\n");
    return CLI_EXIT_USAGE;
}

static bool is_choice(const char *value, const char *choices)
{
    size_t length = strlen(value);
    for (const char *at = choices; *at;) {
        const char *bar = strchr(at, '|');
        size_t choice_length = bar ? (size_t)(bar - at) : strlen(at);
        if (length == choice_length && strncmp(value, at, length) == 0) return true;
        if (!bar) break;
        at = bar + 1;
    }
    return false;
}

/* Parses value into the option's field; returns a usage-error exit code or CLI_EXIT_OK. */
static int set_option(train_config *config, const option *o, const char *value)
{
    char *field = (char *)config + o->value_offset;
    char range[96];
    if (o->kind == OPTION_CHOICE) {
        if (!is_choice(value, o->choices))
            return usage_error("%s \"%s\" is not one of %s", o->flag, value, o->choices);
        *(const char **)field = value;
    } else if (o->kind == OPTION_PATH) {
        if (!*value) return usage_error("%s is empty; expected a path", o->flag);
        *(const char **)field = value;
    } else {
        char *end;
        errno = 0;
        double number = strtod(value, &end);
        bool integral = o->kind == OPTION_INTEGER;
        snprintf(range, sizeof range, "%s from %.15g to %.15g",
                 integral ? "an integer" : "a number", o->min, o->max);
        if (!*value || *end || errno || !isfinite(number) || number < o->min ||
            number > o->max || (integral && number != floor(number)))
            return usage_error("%s \"%s\": expected %s", o->flag, value, range);
        if (integral)
            *(int64_t *)field = (int64_t)number;
        else
            *(double *)field = number;
    }
    if (o->given_offset) *((bool *)((char *)config + o->given_offset)) = true;
    return CLI_EXIT_OK;
}

/* The rules that span options; then the defaults that depend on the optimizer. */
static int check_combinations(train_config *config)
{
    if (config->given_epochs && config->given_steps)
        return usage_error("--epochs and --steps exclude each other; give one");
    if (config->given_momentum && strcmp(config->optimizer, "sgd") != 0)
        return usage_error("--momentum applies to sgd only, not to %s", config->optimizer);
    if (strcmp(config->optimizer, "sgd") != 0) {
        if (!config->given_lr) config->lr = 1e-3;
        if (!config->given_weight_decay && strcmp(config->optimizer, "adamw") == 0)
            config->weight_decay = 0.01;
    }
    if (config->lr <= 0) return usage_error("--lr must be above 0");
    return CLI_EXIT_OK;
}

static int parse_arguments(int argc, char **argv, train_config *config, bool *help)
{
    *config = default_config();
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            *help = true;
            return CLI_EXIT_OK;
        }
        const option *o = NULL;
        for (int k = 0; k < OPTION_COUNT && !o; k++)
            if (strcmp(argv[i], train_options[k].flag) == 0) o = &train_options[k];
        if (!o) return usage_error("unknown option \"%s\"", argv[i]);
        if (o->kind == OPTION_SWITCH) {
            *(bool *)((char *)config + o->value_offset) = true;
            continue;
        }
        if (i + 1 >= argc) return usage_error("%s needs a value", o->flag);
        int status = set_option(config, o, argv[++i]);
        if (status != CLI_EXIT_OK) return status;
    }
    return check_combinations(config);
}

/* --- the run ------------------------------------------------------------------------------- */

typedef struct train_run {
    train_config config;
    ampc_dtype dtype;
    ampc_dataset train_set, test_set;
    ampc_generator *generator;
    ampc_module *model;
    ampc_optimizer *optimizer;
    ampc_loader *loader;
    ampc_arena *arena;
    FILE *log;
} train_run;

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static bool next_loader_batch(void *source, ampc_tensor **images, ampc_tensor **labels)
{
    return ampc_loader_next(source, images, labels);
}

static ampc_loader *new_loader(const train_run *run, const ampc_dataset *dataset, bool shuffle,
                               int64_t batch)
{
    ampc_loader_options options = ampc_loader_defaults();
    options.batch_size = batch;
    options.shuffle = shuffle;
    options.seed = (uint64_t)run->config.seed;
    options.dtype = run->dtype;
    return ampc_loader_new(dataset, &options);
}

/* Everything before the first step: data, model, weights, optimizer, loader, log file. */
static ampc_status set_up(train_run *run)
{
    const train_config *c = &run->config;
    run->dtype = strcmp(c->dtype, "f64") == 0 ? AMPC_F64 : AMPC_F32;
    if (c->threads > 0 && ampc_set_num_threads((int)c->threads) != AMPC_OK)
        return ampc_error_status();
    if (ampc_mnist_load(c->data, true, &run->train_set) != AMPC_OK ||
        ampc_mnist_load(c->data, false, &run->test_set) != AMPC_OK)
        return ampc_error_status();
    run->generator = ampc_generator_new((uint64_t)c->seed);
    run->model = run->generator ? ampc_model_new(c->model, run->generator) : NULL;
    if (!run->model) return ampc_error_status();
    if (c->init && ampc_module_load(run->model, c->init, true) != AMPC_OK)
        return ampc_error_status();
    if (ampc_module_to_dtype(run->model, run->dtype) != AMPC_OK) return ampc_error_status();
    run->optimizer =
        train_optimizer_new(run->model, c->optimizer, c->lr, c->momentum, c->weight_decay);
    run->loader = run->optimizer ? new_loader(run, &run->train_set, !c->no_shuffle, c->batch)
                                 : NULL;
    run->arena = ampc_arena_new();
    if (!run->optimizer || !run->loader || !run->arena) return ampc_error_status();
    if (c->log_json && !(run->log = fopen(c->log_json, "w"))) {
        fprintf(stderr, "ampc train: --log-json \"%s\": %s\n", c->log_json, strerror(errno));
        return AMPC_ERR_IO;
    }
    return AMPC_OK;
}

static void tear_down(train_run *run)
{
    if (run->log) fclose(run->log);
    ampc_arena_free(run->arena);
    ampc_loader_free(run->loader);
    ampc_optimizer_free(run->optimizer);
    ampc_module_free(run->model);
    ampc_generator_free(run->generator);
    ampc_dataset_free(&run->train_set);
    ampc_dataset_free(&run->test_set);
}

typedef struct train_result {
    int64_t steps;
    double last_loss, seconds, test_accuracy, test_loss;
} train_result;

static ampc_status train(train_run *run, train_result *result)
{
    int64_t steps = run->config.given_steps
                        ? run->config.steps
                        : run->config.epochs * ampc_loader_batches_per_epoch(run->loader);
    ampc_module_set_training(run->model, true);
    for (int64_t step = 0; step < steps; step++) {
        double start = now_seconds(), loss = 0;
        ampc_status status = train_step(run->model, run->optimizer, run->arena,
                                        next_loader_batch, run->loader, &loss);
        if (status != AMPC_OK) return status;
        double seconds = now_seconds() - start;
        result->seconds += seconds;
        result->last_loss = loss;
        result->steps = step + 1;
        if (run->log)
            fprintf(run->log, "{\"step\":%" PRId64 ",\"loss\":%.9g,\"lr\":%.9g,\"ms\":%.4f}\n",
                    step + 1, loss, ampc_optimizer_group_lr(run->optimizer, 0), 1e3 * seconds);
    }
    return AMPC_OK;
}

/* Correct predictions and the summed loss of one test batch (in the entered arena). */
static ampc_status evaluate_batch(ampc_module *model, const ampc_tensor *images,
                                  const ampc_tensor *labels, int64_t *correct, double *loss_sum)
{
    ampc_tensor *logits = ampc_module_forward(model, images);
    ampc_cross_entropy_options sum = ampc_cross_entropy_default_options();
    sum.reduction = AMPC_REDUCTION_SUM;
    ampc_tensor *loss = logits ? ampc_cross_entropy(logits, labels, &sum) : NULL;
    ampc_tensor *scores = loss ? ampc_tensor_cast(logits, AMPC_F64) : NULL; /* contiguous */
    double value;
    if (!scores || ampc_tensor_get(loss, NULL, &value) != AMPC_OK) return ampc_error_status();
    *loss_sum += value;
    const double *score = ampc_tensor_data(scores);
    const int64_t *label = ampc_tensor_data(labels); /* the loader's labels are contiguous */
    int64_t count = ampc_tensor_dim(scores, 0), classes = ampc_tensor_dim(scores, 1);
    for (int64_t n = 0; n < count; n++) {
        int64_t best = 0;
        for (int64_t k = 1; k < classes; k++)
            if (score[n * classes + k] > score[n * classes + best]) best = k;
        *correct += best == label[n];
    }
    return AMPC_OK;
}

/* Test accuracy and mean loss in eval mode (running statistics) with grad off. */
static ampc_status evaluate(train_run *run, train_result *result)
{
    /* The training batch size bounds the arena here too (the eval arena holds every
     * intermediate of a batch until its reset). */
    ampc_loader *loader = new_loader(run, &run->test_set, false, run->config.batch);
    if (!loader) return ampc_error_status();
    ampc_module_set_training(run->model, false);
    bool grad = ampc_grad_set_enabled(false);
    int64_t correct = 0, seen = 0;
    double loss_sum = 0;
    ampc_status status = AMPC_OK;
    while (status == AMPC_OK) {
        ampc_tensor *images = NULL, *labels = NULL;
        status = ampc_arena_enter(run->arena);
        if (status != AMPC_OK) break;
        bool more = ampc_loader_next(loader, &images, &labels);
        if (more) status = evaluate_batch(run->model, images, labels, &correct, &loss_sum);
        else if (ampc_error_status() != AMPC_OK) status = ampc_error_status();
        if (more) seen += ampc_tensor_dim(labels, 0);
        ampc_arena_leave(run->arena);
        ampc_arena_reset(run->arena);
        if (!more) break;
    }
    ampc_grad_set_enabled(grad);
    ampc_loader_free(loader);
    result->test_accuracy = seen ? (double)correct / (double)seen : 0;
    result->test_loss = seen ? loss_sum / (double)seen : 0;
    return status;
}

static void print_summary(const train_run *run, const train_result *result)
{
    ampc_memory_stats stats;
    ampc_memory_get_stats(&stats);
    const train_config *c = &run->config;
    double ms_per_step = result->steps ? 1e3 * result->seconds / (double)result->steps : 0;
    double samples = (double)result->steps * (double)c->batch;
    printf("{\"model\":\"%s\",\"optimizer\":\"%s\",\"dtype\":\"%s\",\"lr\":%.9g,\"batch\":%" PRId64
           ",\"steps\":%" PRId64 ",\"threads\":%d,\"train_loss\":%.6f,\"test_loss\":%.6f,"
           "\"test_accuracy\":%.4f,\"ms_per_step\":%.3f,\"samples_per_second\":%.1f,"
           "\"peak_memory_bytes\":{",
           c->model, c->optimizer, c->dtype, c->lr, c->batch, result->steps, ampc_num_threads(),
           result->last_loss, result->test_loss, result->test_accuracy, ms_per_step,
           result->seconds > 0 ? samples / result->seconds : 0.0);
    for (int category = 0; category < AMPC_MEMORY_CATEGORY_COUNT; category++)
        printf("\"%s\":%zu,", ampc_memory_category_name(category), stats.peak_bytes[category]);
    printf("\"total\":%zu}}\n", stats.peak_total);
}

int cli_train(int argc, char **argv)
{
    train_run run = {0};
    bool help = false;
    int parsed = parse_arguments(argc, argv, &run.config, &help);
    if (help) {
        print_usage(stdout);
        return CLI_EXIT_OK;
    }
    if (parsed != CLI_EXIT_OK) return parsed;
    train_result result = {0};
    ampc_status status = set_up(&run);
    if (status == AMPC_OK) status = train(&run, &result);
    if (status == AMPC_OK) status = evaluate(&run, &result);
    if (status == AMPC_OK) print_summary(&run, &result);
    else if (ampc_error_status() != AMPC_OK)
        fprintf(stderr, "ampc train: %s\n", ampc_error_message());
    tear_down(&run);
    return status == AMPC_OK ? CLI_EXIT_OK : CLI_EXIT_FAILED;
}
