/* The floating-point environment ampc's kernels compute in.
 *
 * Results must not depend on how the caller set MXCSR: ML code often turns on flush-to-zero
 * and denormals-are-zero, or changes the rounding mode, and either would silently change
 * conversions that rely on float arithmetic (magic-number adds, double casts). Kernels that
 * use float arithmetic for exact results run between these two calls, on every thread that
 * runs them (each thread has its own MXCSR). */
#ifndef AMPC_CORE_FPENV_H
#define AMPC_CORE_FPENV_H

#include <stdint.h>
#include <xmmintrin.h>

/* MXCSR's power-on value: every exception masked, round to nearest even, no FTZ or DAZ. */
#define AMPC_MXCSR_DEFAULT 0x1F80u
/* The exception flag bits (sticky status the caller may be watching). */
#define AMPC_MXCSR_FLAGS 0x3Fu

/* Sets the default environment; returns the caller's, for ampc_fpenv_restore. */
static inline uint32_t ampc_fpenv_set_default(void)
{
    uint32_t saved = _mm_getcsr();
    if ((saved & ~AMPC_MXCSR_FLAGS) != AMPC_MXCSR_DEFAULT) _mm_setcsr(AMPC_MXCSR_DEFAULT);
    return saved;
}

/* Puts the caller's environment back, keeping any exception flags the kernel raised. */
static inline void ampc_fpenv_restore(uint32_t saved)
{
    uint32_t now = _mm_getcsr();
    if (now != saved) _mm_setcsr(saved | (now & AMPC_MXCSR_FLAGS));
}

#endif
