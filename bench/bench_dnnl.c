/* oneDNN's bf16 matmul, the comparison for ampc's BF16 GEMM, loaded at run time.
 *
 * oneDNN is only ever a yardstick: ampc must build, link and run without it. So nothing here
 * includes or links it; libdnnl.so.2 is opened with dlopen on first use and the dozen C API
 * functions needed are looked up with dlsym. The declarations below restate the part of the
 * oneDNN 2.x C ABI those functions use (the soname pins the major version; 3.x renamed these
 * functions). Where CMake found oneDNN's headers it defines AMPC_HAVE_DNNL_HEADERS, and every
 * restated constant and size is then checked against them at compile time.
 *
 * The matmul: src (m x k) and weights (k x n) bf16, dst (m x n) f32, fp32 accumulation, no
 * bias, plain row-major layouts given by strides (a transposed operand is the same buffer
 * read with swapped strides), and weights not pre-packed: as in training, where the weights
 * change every step. */
#include "bench.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The oneDNN 2.x C ABI, as far as it is used here. Handles are opaque pointers; the two
 * descriptor structs are only ever passed by pointer, so opaque storage at least as large
 * (checked below) stands in for them. */
typedef int onednn_status; /* dnnl_status_t: 0 is success */
typedef void *onednn_handle;
typedef int64_t onednn_dims[12]; /* dnnl_dims_t, DNNL_MAX_NDIMS = 12 */
typedef struct onednn_exec_arg {
    int arg;
    onednn_handle memory;
} onednn_exec_arg;
typedef struct onednn_version_info {
    int major, minor, patch;
    const char *hash;
    unsigned cpu_runtime, gpu_runtime;
} onednn_version_info;
typedef struct onednn_memory_desc {
    _Alignas(16) unsigned char bytes[1024];
} onednn_memory_desc;
typedef struct onednn_matmul_desc {
    _Alignas(16) unsigned char bytes[4096];
} onednn_matmul_desc;

enum {
    ONEDNN_SUCCESS = 0,
    ONEDNN_BF16 = 2,              /* dnnl_bf16 */
    ONEDNN_F32 = 3,               /* dnnl_f32 */
    ONEDNN_CPU_ENGINE = 1,        /* dnnl_cpu */
    ONEDNN_STREAM_IN_ORDER = 0x1, /* dnnl_stream_in_order */
    ONEDNN_QUERY_IMPL_INFO = 8,   /* dnnl_query_impl_info_str */
    ONEDNN_ARG_SRC = 1,           /* DNNL_ARG_SRC */
    ONEDNN_ARG_DST = 17,          /* DNNL_ARG_DST */
    ONEDNN_ARG_WEIGHTS = 33,      /* DNNL_ARG_WEIGHTS */
};

#ifdef AMPC_HAVE_DNNL_HEADERS
#include <oneapi/dnnl/dnnl.h>
_Static_assert(DNNL_VERSION_MAJOR == 2, "bench_dnnl.c restates the oneDNN 2.x C ABI");
_Static_assert(sizeof(dnnl_memory_desc_t) <= sizeof(onednn_memory_desc), "memory desc");
_Static_assert(sizeof(dnnl_matmul_desc_t) <= sizeof(onednn_matmul_desc), "matmul desc");
_Static_assert(sizeof(dnnl_dims_t) == sizeof(onednn_dims), "dims");
_Static_assert(sizeof(dnnl_exec_arg_t) == sizeof(onednn_exec_arg), "exec arg");
_Static_assert(sizeof(dnnl_version_t) == sizeof(onednn_version_info), "version");
/* (int) because the two sides are different enum types. */
_Static_assert((int)dnnl_success == ONEDNN_SUCCESS && (int)dnnl_bf16 == ONEDNN_BF16 &&
                   (int)dnnl_f32 == ONEDNN_F32 && (int)dnnl_cpu == ONEDNN_CPU_ENGINE &&
                   (int)dnnl_stream_in_order == ONEDNN_STREAM_IN_ORDER &&
                   (int)dnnl_query_impl_info_str == ONEDNN_QUERY_IMPL_INFO &&
                   DNNL_ARG_SRC == ONEDNN_ARG_SRC && DNNL_ARG_DST == ONEDNN_ARG_DST &&
                   DNNL_ARG_WEIGHTS == ONEDNN_ARG_WEIGHTS,
               "oneDNN constants");
#endif

/* The functions, filled in by dlsym through the table below. */
typedef struct onednn_api {
    onednn_status (*engine_create)(onednn_handle *engine, int kind, size_t index);
    onednn_status (*engine_destroy)(onednn_handle engine);
    onednn_status (*stream_create)(onednn_handle *stream, onednn_handle engine, unsigned flags);
    onednn_status (*stream_destroy)(onednn_handle stream);
    onednn_status (*stream_wait)(onednn_handle stream);
    onednn_status (*memory_desc_init_by_strides)(onednn_memory_desc *desc, int ndims,
                                                 const int64_t *dims, int data_type,
                                                 const int64_t *strides);
    onednn_status (*matmul_desc_init)(onednn_matmul_desc *desc, const onednn_memory_desc *src,
                                      const onednn_memory_desc *weights,
                                      const onednn_memory_desc *bias,
                                      const onednn_memory_desc *dst);
    onednn_status (*primitive_desc_create)(onednn_handle *primitive_desc, const void *op_desc,
                                           const void *attr, onednn_handle engine,
                                           const void *hint);
    onednn_status (*primitive_desc_query)(onednn_handle primitive_desc, int what, int index,
                                          void *result);
    onednn_status (*primitive_desc_destroy)(onednn_handle primitive_desc);
    onednn_status (*primitive_create)(onednn_handle *primitive, onednn_handle primitive_desc);
    onednn_status (*primitive_destroy)(onednn_handle primitive);
    onednn_status (*primitive_execute)(onednn_handle primitive, onednn_handle stream, int nargs,
                                       const onednn_exec_arg *args);
    onednn_status (*memory_create)(onednn_handle *memory, const onednn_memory_desc *desc,
                                   onednn_handle engine, void *data);
    onednn_status (*memory_destroy)(onednn_handle memory);
    const onednn_version_info *(*version)(void);
    int (*get_effective_cpu_isa)(void);
} onednn_api;

typedef struct onednn_symbol {
    const char *name;
    size_t offset;
} onednn_symbol;

static const onednn_symbol symbols[] = {
    {"dnnl_engine_create", offsetof(onednn_api, engine_create)},
    {"dnnl_engine_destroy", offsetof(onednn_api, engine_destroy)},
    {"dnnl_stream_create", offsetof(onednn_api, stream_create)},
    {"dnnl_stream_destroy", offsetof(onednn_api, stream_destroy)},
    {"dnnl_stream_wait", offsetof(onednn_api, stream_wait)},
    {"dnnl_memory_desc_init_by_strides", offsetof(onednn_api, memory_desc_init_by_strides)},
    {"dnnl_matmul_desc_init", offsetof(onednn_api, matmul_desc_init)},
    {"dnnl_primitive_desc_create", offsetof(onednn_api, primitive_desc_create)},
    {"dnnl_primitive_desc_query", offsetof(onednn_api, primitive_desc_query)},
    {"dnnl_primitive_desc_destroy", offsetof(onednn_api, primitive_desc_destroy)},
    {"dnnl_primitive_create", offsetof(onednn_api, primitive_create)},
    {"dnnl_primitive_destroy", offsetof(onednn_api, primitive_destroy)},
    {"dnnl_primitive_execute", offsetof(onednn_api, primitive_execute)},
    {"dnnl_memory_create", offsetof(onednn_api, memory_create)},
    {"dnnl_memory_destroy", offsetof(onednn_api, memory_destroy)},
    {"dnnl_version", offsetof(onednn_api, version)},
    {"dnnl_get_effective_cpu_isa", offsetof(onednn_api, get_effective_cpu_isa)},
};
enum { SYMBOL_COUNT = sizeof symbols / sizeof symbols[0] };

/* dnnl_cpu_isa_t values of oneDNN 2.6, best first (each includes the ones below it). */
static const struct {
    int value;
    const char *name;
} isa_names[] = {
    {0x3e7, "avx512_core_amx"}, {0xe7, "avx512_core_bf16"}, {0x67, "avx512_core_vnni"},
    {0x27, "avx512_core"},      {0x407, "avx2_vnni"},       {0x7, "avx2"},
    {0x3, "avx"},               {0x1, "sse41"},
};

static struct {
    bool tried;
    onednn_api api;
    onednn_handle engine;
    onednn_handle stream;
    char problem[256]; /* why oneDNN cannot be used at all ("" if it can) */
    char error[256];   /* why the last call failed */
    char version[32];
    char isa[32];
} onednn;

/* Records why a oneDNN call failed; returns false for the caller to return. */
static bool fail(const char *what, onednn_status status)
{
    snprintf(onednn.error, sizeof onednn.error, "%s failed (dnnl_status_t %d)", what, status);
    return false;
}

static bool load_symbols(void *library)
{
    for (int i = 0; i < SYMBOL_COUNT; i++) {
        void *address = dlsym(library, symbols[i].name);
        if (!address) {
            snprintf(onednn.error, sizeof onednn.error,
                     "libdnnl.so.2 has no %s (expected oneDNN 2.x)", symbols[i].name);
            return false;
        }
        /* POSIX guarantees function and object pointers have the same representation. */
        memcpy((char *)&onednn.api + symbols[i].offset, &address, sizeof address);
    }
    return true;
}

static void describe_library(void)
{
    const onednn_version_info *info = onednn.api.version();
    snprintf(onednn.version, sizeof onednn.version, "%d.%d.%d", info->major, info->minor,
             info->patch);
    int isa = onednn.api.get_effective_cpu_isa();
    snprintf(onednn.isa, sizeof onednn.isa, "isa 0x%x", (unsigned)isa);
    for (size_t i = 0; i < sizeof isa_names / sizeof isa_names[0]; i++)
        if (isa_names[i].value == isa)
            snprintf(onednn.isa, sizeof onednn.isa, "%s", isa_names[i].name);
}

#if defined(__SANITIZE_ADDRESS__)
#define AMPC_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AMPC_SANITIZED 1
#endif
#endif

/* Opens the library, one CPU engine and one stream. The library stays loaded. */
static bool open_library(void)
{
#ifdef AMPC_SANITIZED
    /* LeakSanitizer (gcc 12) crashes at exit scanning the thread-local storage of a dlopen'ed
     * oneDNN, and a sanitizer build measures nothing worth comparing anyway. */
    snprintf(onednn.error, sizeof onednn.error, "not loaded in a sanitizer build");
    return false;
#endif
    void *library = dlopen("libdnnl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(onednn.error, sizeof onednn.error, "not installed (apt-get install libdnnl-dev)");
        return false;
    }
    if (!load_symbols(library)) return false;
    onednn_status status = onednn.api.engine_create(&onednn.engine, ONEDNN_CPU_ENGINE, 0);
    if (status != ONEDNN_SUCCESS) return fail("dnnl_engine_create", status);
    status = onednn.api.stream_create(&onednn.stream, onednn.engine, ONEDNN_STREAM_IN_ORDER);
    if (status != ONEDNN_SUCCESS) return fail("dnnl_stream_create", status);
    describe_library();
    return true;
}

/* Opens oneDNN on first use; whether it can be used. */
static bool load(void)
{
    if (!onednn.tried && !open_library())
        snprintf(onednn.problem, sizeof onednn.problem, "%s", onednn.error);
    onednn.tried = true;
    return onednn.problem[0] == '\0';
}

const char *ampc_bench_dnnl_problem(void) { return load() ? NULL : onednn.problem; }

const char *ampc_bench_dnnl_error(void) { return onednn.error; }

const char *ampc_bench_dnnl_version(void) { return load() ? onednn.version : ""; }

const char *ampc_bench_dnnl_isa(void) { return load() ? onednn.isa : ""; }

struct ampc_bench_dnnl_matmul {
    onednn_handle primitive_desc;
    onednn_handle primitive;
    onednn_handle src, weights, dst; /* memory objects over the caller's buffers */
    const char *impl;
};

/* A rows x cols row-major matrix, or (transposed) the cols x rows one read column-wise. */
static onednn_status describe_matrix(onednn_memory_desc *desc, int64_t rows, int64_t cols,
                                     bool transposed, int data_type)
{
    const int64_t dims[2] = {rows, cols};
    const int64_t strides[2] = {transposed ? 1 : cols, transposed ? rows : 1};
    return onednn.api.memory_desc_init_by_strides(desc, 2, dims, data_type, strides);
}

/* Builds the primitive; on failure leaves the reason in onednn.error. */
static bool create_primitive(ampc_bench_dnnl_matmul *matmul, bool transpose_a,
                             bool transpose_b, int64_t m, int64_t n, int64_t k,
                             const uint16_t *a, const uint16_t *b, float *c)
{
    onednn_memory_desc src, weights, dst;
    onednn_matmul_desc desc;
    onednn_status status = describe_matrix(&src, m, k, transpose_a, ONEDNN_BF16);
    if (status == ONEDNN_SUCCESS)
        status = describe_matrix(&weights, k, n, transpose_b, ONEDNN_BF16);
    if (status == ONEDNN_SUCCESS) status = describe_matrix(&dst, m, n, false, ONEDNN_F32);
    if (status != ONEDNN_SUCCESS) return fail("dnnl_memory_desc_init_by_strides", status);
    status = onednn.api.matmul_desc_init(&desc, &src, &weights, NULL, &dst);
    if (status != ONEDNN_SUCCESS) return fail("dnnl_matmul_desc_init", status);
    status = onednn.api.primitive_desc_create(&matmul->primitive_desc, &desc, NULL, onednn.engine,
                                              NULL);
    if (status != ONEDNN_SUCCESS) return fail("dnnl_primitive_desc_create", status);
    status = onednn.api.primitive_desc_query(matmul->primitive_desc, ONEDNN_QUERY_IMPL_INFO, 0,
                                             &matmul->impl);
    if (status != ONEDNN_SUCCESS) matmul->impl = "unknown";
    status = onednn.api.primitive_create(&matmul->primitive, matmul->primitive_desc);
    if (status != ONEDNN_SUCCESS) return fail("dnnl_primitive_create", status);
    /* oneDNN only reads src and weights; its API takes non-const handles. */
    status = onednn.api.memory_create(&matmul->src, &src, onednn.engine, (void *)a);
    if (status == ONEDNN_SUCCESS)
        status = onednn.api.memory_create(&matmul->weights, &weights, onednn.engine, (void *)b);
    if (status == ONEDNN_SUCCESS)
        status = onednn.api.memory_create(&matmul->dst, &dst, onednn.engine, c);
    if (status != ONEDNN_SUCCESS) return fail("dnnl_memory_create", status);
    return true;
}

ampc_bench_dnnl_matmul *ampc_bench_dnnl_matmul_new(bool transpose_a, bool transpose_b, int64_t m,
                                                   int64_t n, int64_t k, const uint16_t *a,
                                                   const uint16_t *b, float *c)
{
    if (!load()) {
        snprintf(onednn.error, sizeof onednn.error, "%s", onednn.problem);
        return NULL;
    }
    ampc_bench_dnnl_matmul *matmul = calloc(1, sizeof *matmul);
    if (!matmul) {
        snprintf(onednn.error, sizeof onednn.error, "out of memory");
        return NULL;
    }
    if (!create_primitive(matmul, transpose_a, transpose_b, m, n, k, a, b, c)) {
        ampc_bench_dnnl_matmul_free(matmul);
        return NULL;
    }
    return matmul;
}

bool ampc_bench_dnnl_matmul_run(ampc_bench_dnnl_matmul *matmul)
{
    const onednn_exec_arg args[] = {
        {ONEDNN_ARG_SRC, matmul->src},
        {ONEDNN_ARG_WEIGHTS, matmul->weights},
        {ONEDNN_ARG_DST, matmul->dst},
    };
    onednn_status status = onednn.api.primitive_execute(matmul->primitive, onednn.stream, 3, args);
    if (status == ONEDNN_SUCCESS) status = onednn.api.stream_wait(onednn.stream);
    return status == ONEDNN_SUCCESS || fail("dnnl_primitive_execute", status);
}

const char *ampc_bench_dnnl_matmul_impl(const ampc_bench_dnnl_matmul *matmul)
{
    return matmul->impl;
}

void ampc_bench_dnnl_matmul_free(ampc_bench_dnnl_matmul *matmul)
{
    if (!matmul) return;
    if (matmul->src) onednn.api.memory_destroy(matmul->src);
    if (matmul->weights) onednn.api.memory_destroy(matmul->weights);
    if (matmul->dst) onednn.api.memory_destroy(matmul->dst);
    if (matmul->primitive) onednn.api.primitive_destroy(matmul->primitive);
    if (matmul->primitive_desc) onednn.api.primitive_desc_destroy(matmul->primitive_desc);
    free(matmul);
}
