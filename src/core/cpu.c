/* CPU feature detection and the choice of ISA level.
 *
 * A feature counts only when CPUID reports it and XGETBV shows the OS saves its register
 * state: AVX needs XCR0 bits 1-2, AVX-512 bits 5-7, AMX bits 17-18. On Linux, AMX tile data is
 * also opt-in per process (arch_prctl ARCH_REQ_XCOMP_PERM); we ask once, at detection, and AMX
 * counts only if it was granted. Detection runs once, on first use, under pthread_once. */
#include "core/cpu.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/error.h"

enum {
    ARCH_GET_XCOMP_PERM = 0x1022,
    ARCH_REQ_XCOMP_PERM = 0x1023,
    XFEATURE_XTILEDATA = 18,
};

enum {
    XCR0_AVX_STATE = (1u << 1) | (1u << 2),
    XCR0_AVX512_STATE = (1u << 5) | (1u << 6) | (1u << 7),
    XCR0_AMX_STATE = (1u << 17) | (1u << 18),
};

static const char *const isa_names[AMPC_ISA_COUNT] = {
    [AMPC_ISA_SCALAR] = "scalar",           [AMPC_ISA_AVX2] = "avx2",
    [AMPC_ISA_AVX512] = "avx512",           [AMPC_ISA_AVX512_BF16] = "avx512_bf16",
    [AMPC_ISA_AVX512_FP16] = "avx512_fp16", [AMPC_ISA_AMX] = "amx",
};

static const char *const feature_names[AMPC_FEATURE_COUNT] = {
    [AMPC_FEATURE_AVX2] = "avx2",
    [AMPC_FEATURE_FMA] = "fma",
    [AMPC_FEATURE_F16C] = "f16c",
    [AMPC_FEATURE_AVX512F] = "avx512f",
    [AMPC_FEATURE_AVX512BW] = "avx512bw",
    [AMPC_FEATURE_AVX512DQ] = "avx512dq",
    [AMPC_FEATURE_AVX512VL] = "avx512vl",
    [AMPC_FEATURE_AVX512_BF16] = "avx512_bf16",
    [AMPC_FEATURE_AVX512_FP16] = "avx512_fp16",
    [AMPC_FEATURE_AMX_TILE] = "amx_tile",
    [AMPC_FEATURE_AMX_BF16] = "amx_bf16",
    [AMPC_FEATURE_AMX_INT8] = "amx_int8",
};

/* The features each level adds to the one below it. */
static const ampc_cpu_feature level_features[AMPC_ISA_COUNT][5] = {
    [AMPC_ISA_AVX2] = {AMPC_FEATURE_AVX2, AMPC_FEATURE_FMA, AMPC_FEATURE_F16C},
    [AMPC_ISA_AVX512] = {AMPC_FEATURE_AVX512F, AMPC_FEATURE_AVX512BW, AMPC_FEATURE_AVX512DQ,
                         AMPC_FEATURE_AVX512VL},
    [AMPC_ISA_AVX512_BF16] = {AMPC_FEATURE_AVX512_BF16},
    [AMPC_ISA_AVX512_FP16] = {AMPC_FEATURE_AVX512_FP16},
    [AMPC_ISA_AMX] = {AMPC_FEATURE_AMX_TILE, AMPC_FEATURE_AMX_BF16},
};
static const int level_feature_count[AMPC_ISA_COUNT] = {0, 3, 4, 1, 1, 2};

static struct {
    bool has[AMPC_FEATURE_COUNT];
    bool amx_granted;
    char model[49];
    ampc_isa best;
    ampc_isa active;
    char cap_problem[160];
} cpu;

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;

static uint64_t read_xcr0(void)
{
    uint32_t low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    return ((uint64_t)high << 32) | low;
}

static bool bit(uint32_t word, int index) { return (word >> index) & 1u; }

static void read_model(void)
{
    unsigned words[12] = {0};
    unsigned max_extended = __get_cpuid_max(0x80000000u, NULL);
    if (max_extended < 0x80000004u) {
        strcpy(cpu.model, "unknown");
        return;
    }
    for (unsigned leaf = 0; leaf < 3; leaf++)
        __cpuid(0x80000002u + leaf, words[4 * leaf], words[4 * leaf + 1], words[4 * leaf + 2],
                words[4 * leaf + 3]);
    memcpy(cpu.model, words, 48);
    cpu.model[48] = '\0';
    char *start = cpu.model;
    while (*start == ' ') start++;
    memmove(cpu.model, start, strlen(start) + 1);
}

static void read_features(void)
{
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return;
    bool osxsave = bit(ecx, 27);
    bool fma = bit(ecx, 12), f16c = bit(ecx, 29), avx = bit(ecx, 28);
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    bool os_avx = avx && (xcr0 & XCR0_AVX_STATE) == XCR0_AVX_STATE;
    bool os_avx512 = os_avx && (xcr0 & XCR0_AVX512_STATE) == XCR0_AVX512_STATE;
    bool os_amx = (xcr0 & XCR0_AMX_STATE) == XCR0_AMX_STATE;
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    unsigned leaf7_ebx = ebx, leaf7_edx = edx;
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    unsigned leaf7_1_eax = eax;

    cpu.has[AMPC_FEATURE_AVX2] = os_avx && bit(leaf7_ebx, 5);
    cpu.has[AMPC_FEATURE_FMA] = os_avx && fma;
    cpu.has[AMPC_FEATURE_F16C] = os_avx && f16c;
    cpu.has[AMPC_FEATURE_AVX512F] = os_avx512 && bit(leaf7_ebx, 16);
    cpu.has[AMPC_FEATURE_AVX512DQ] = os_avx512 && bit(leaf7_ebx, 17);
    cpu.has[AMPC_FEATURE_AVX512BW] = os_avx512 && bit(leaf7_ebx, 30);
    cpu.has[AMPC_FEATURE_AVX512VL] = os_avx512 && bit(leaf7_ebx, 31);
    cpu.has[AMPC_FEATURE_AVX512_BF16] = os_avx512 && bit(leaf7_1_eax, 5);
    cpu.has[AMPC_FEATURE_AVX512_FP16] = os_avx512 && bit(leaf7_edx, 23);
    cpu.has[AMPC_FEATURE_AMX_BF16] = os_amx && bit(leaf7_edx, 22);
    cpu.has[AMPC_FEATURE_AMX_TILE] = os_amx && bit(leaf7_edx, 24);
    cpu.has[AMPC_FEATURE_AMX_INT8] = os_amx && bit(leaf7_edx, 25);
}

static bool request_amx_permission(void)
{
    if (!cpu.has[AMPC_FEATURE_AMX_TILE]) return false;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return false;
    unsigned long permitted = 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &permitted) != 0) return false;
    return (permitted >> XFEATURE_XTILEDATA) & 1u;
}

static bool level_features_present(ampc_isa level)
{
    for (int i = 0; i < level_feature_count[level]; i++)
        if (!cpu.has[level_features[level][i]]) return false;
    return level != AMPC_ISA_AMX || cpu.amx_granted;
}

static ampc_isa apply_cap(ampc_isa best)
{
    const char *requested = getenv("AMPC_ISA");
    if (!requested || !*requested) return best;
    ampc_isa cap;
    if (!ampc_isa_from_name(requested, &cap)) {
        snprintf(cpu.cap_problem, sizeof cpu.cap_problem,
                 "AMPC_ISA=\"%.40s\" is not one of scalar, avx2, avx512, avx512_bf16, "
                 "avx512_fp16, amx; ignored",
                 requested);
        fprintf(stderr, "ampc: warning: %s\n", cpu.cap_problem);
        return best;
    }
    return cap < best ? cap : best;
}

static void detect(void)
{
    read_model();
    read_features();
    cpu.amx_granted = request_amx_permission();
    cpu.best = AMPC_ISA_SCALAR;
    while (cpu.best + 1 < AMPC_ISA_COUNT && level_features_present(cpu.best + 1)) cpu.best++;
    cpu.active = apply_cap(cpu.best);
}

static void ensure_detected(void) { pthread_once(&detect_once, detect); }

const char *ampc_isa_name(ampc_isa isa)
{
    if ((unsigned)isa >= AMPC_ISA_COUNT) return "invalid";
    return isa_names[isa];
}

bool ampc_isa_from_name(const char *name, ampc_isa *isa)
{
    for (int level = 0; name && level < AMPC_ISA_COUNT; level++) {
        if (strcmp(name, isa_names[level]) == 0) {
            *isa = (ampc_isa)level;
            return true;
        }
    }
    return false;
}

const char *ampc_cpu_feature_name(ampc_cpu_feature feature)
{
    if ((unsigned)feature >= AMPC_FEATURE_COUNT) return "invalid";
    return feature_names[feature];
}

bool ampc_cpu_has(ampc_cpu_feature feature)
{
    ensure_detected();
    return (unsigned)feature < AMPC_FEATURE_COUNT && cpu.has[feature];
}

const char *ampc_cpu_model(void)
{
    ensure_detected();
    return cpu.model;
}

bool ampc_cpu_amx_granted(void)
{
    ensure_detected();
    return cpu.amx_granted;
}

ampc_isa ampc_cpu_best_isa(void)
{
    ensure_detected();
    return cpu.best;
}

ampc_isa ampc_cpu_active_isa(void)
{
    ensure_detected();
    return cpu.active;
}

const char *ampc_cpu_isa_cap_problem(void)
{
    ensure_detected();
    return cpu.cap_problem;
}

bool ampc_cpu_supports(ampc_isa level)
{
    ensure_detected();
    return (unsigned)level < AMPC_ISA_COUNT && level <= cpu.best;
}

ampc_isa ampc_cpu_pick_path(const bool has_path[AMPC_ISA_COUNT])
{
    AMPC_ASSERT(has_path[AMPC_ISA_SCALAR]);
    ampc_isa level = ampc_cpu_active_isa();
    while (!has_path[level]) level--;
    return level;
}
