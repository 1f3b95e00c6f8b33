/* `ampc info`: what ampc sees on this machine, as text or (--json) one JSON object. The JSON is
 * built first and the text is printed from the same object, so the two never disagree. */
#include <ampc/ampc.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kernels/gemm_kernels.h"

static const char info_usage[] =
    "usage: ampc info [--json]\n\n"
    "Prints the version, the CPU model and features, whether Linux granted AMX tiles, the\n"
    "thread count and the path chosen for each kernel family.\n\n"
    "  --json   print one JSON object instead of text\n"
    "  --help   print this help\n\n"
    "Environment: AMPC_ISA caps the kernel level (scalar, avx2, avx512, avx512_bf16,\n"
    "avx512_fp16, amx); AMPC_NUM_THREADS (else OMP_NUM_THREADS) sets the thread count.\n";

static json_t *features_object(void)
{
    json_t *features = json_object();
    for (int feature = 0; feature < AMPC_FEATURE_COUNT; feature++)
        json_object_set_new(features, ampc_cpu_feature_name(feature),
                            json_boolean(ampc_cpu_has(feature)));
    return features;
}

static json_t *kernels_object(void)
{
    json_t *kernels = json_object();
    for (int family = 0; family < AMPC_KERNEL_FAMILY_COUNT; family++)
        json_object_set_new(kernels, ampc_kernel_family_name(family),
                            json_string(ampc_isa_name(ampc_kernel_path(family))));
    return kernels;
}

static json_t *info_object(void)
{
    const char *cap = getenv("AMPC_ISA");
    json_t *info = json_object();
    json_object_set_new(info, "version", json_string(ampc_version()));
    json_object_set_new(info, "cpu", json_string(ampc_cpu_model()));
    json_object_set_new(info, "features", features_object());
    json_object_set_new(info, "amx_granted", json_boolean(ampc_cpu_amx_granted()));
    json_object_set_new(info, "best_isa", json_string(ampc_isa_name(ampc_cpu_best_isa())));
    json_object_set_new(info, "isa_cap", cap && *cap ? json_string(cap) : json_null());
    json_object_set_new(info, "isa_cap_problem", *ampc_cpu_isa_cap_problem()
                                                     ? json_string(ampc_cpu_isa_cap_problem())
                                                     : json_null());
    json_object_set_new(info, "active_isa", json_string(ampc_isa_name(ampc_cpu_active_isa())));
    json_object_set_new(info, "threads", json_integer(ampc_num_threads()));
    json_object_set_new(info, "kernels", kernels_object());
    json_object_set_new(info, "openblas_core", json_string(ampc_gemm_blas_core()));
    const ampc_gemm_kernel *f32_kernel = ampc_gemm_f32_kernel_active();
    json_object_set_new(info, "gemm_f32", json_string(f32_kernel ? f32_kernel->name : "OpenBLAS"));
    return info;
}

static void print_text(const json_t *info)
{
    printf("ampc %s\n", json_string_value(json_object_get(info, "version")));
    printf("cpu:         %s\n", json_string_value(json_object_get(info, "cpu")));
    printf("features:   ");
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)json_object_get(info, "features"), name, value)
        printf(" %s%s", json_is_true(value) ? "+" : "-", name);
    printf("\namx tiles:   %s\n", json_is_true(json_object_get(info, "amx_granted"))
                                      ? "granted"
                                      : "not available (CPU, hypervisor or kernel lacks AMX)");
    const json_t *cap = json_object_get(info, "isa_cap");
    printf("isa:         %s (best %s%s%s)\n",
           json_string_value(json_object_get(info, "active_isa")),
           json_string_value(json_object_get(info, "best_isa")),
           json_is_string(cap) ? ", capped by AMPC_ISA=" : "",
           json_is_string(cap) ? json_string_value(cap) : "");
    const json_t *problem = json_object_get(info, "isa_cap_problem");
    if (json_is_string(problem)) printf("warning:     %s\n", json_string_value(problem));
    printf("threads:     %lld\n", (long long)json_integer_value(json_object_get(info, "threads")));
    printf("kernels:\n");
    json_object_foreach((json_t *)json_object_get(info, "kernels"), name, value)
        printf("  %-10s %s\n", name, json_string_value(value));
    const char *blas_core = json_string_value(json_object_get(info, "openblas_core"));
    const char *f32_path = json_string_value(json_object_get(info, "gemm_f32"));
    if (strcmp(f32_path, "OpenBLAS") == 0)
        printf("  %-10s OpenBLAS, %s kernels\n", "gemm f32", blas_core);
    else
        printf("  %-10s %s (OpenBLAS's %s kernels are generic)\n", "gemm f32", f32_path,
               blas_core);
    printf("  %-10s OpenBLAS, %s kernels\n", "gemm f64", blas_core);
    if (ampc_gemm_blas_core_is_generic() && ampc_cpu_has(AMPC_FEATURE_AVX512F))
        printf("warning:     OpenBLAS does not recognise this CPU and chose its generic %s "
               "kernels;\n             export OPENBLAS_CORETYPE=SkylakeX before starting for "
               "several times faster F64 GEMM\n", blas_core);
}

int cli_info(int argc, char **argv)
{
    bool as_json = false;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            fputs(info_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--json") == 0) {
            as_json = true;
            continue;
        }
        fprintf(stderr, "ampc info: unknown option \"%s\"\n\n%s", argv[i], info_usage);
        return CLI_EXIT_USAGE;
    }
    json_t *info = info_object();
    if (as_json) {
        char *text = json_dumps(info, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text);
        free(text);
    } else {
        print_text(info);
    }
    json_decref(info);
    return CLI_EXIT_OK;
}
