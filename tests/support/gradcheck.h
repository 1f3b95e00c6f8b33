/* The gradient-check harness every op test uses.
 *
 * gradcheck_assert() checks an op's analytic backward against central finite differences in
 * F64: for a random upstream gradient v it compares d(sum(op(x) * v))/dx from ampc_backward
 * with (f(x + eps) - f(x - eps)) / 2eps for every element of every input that requires grad.
 *
 * dtype_check_assert() runs the same op with its inputs cast to F32, F16 or BF16 and compares
 * forward and backward with the F64 run, within bounds the caller states per dtype (relative
 * to the largest magnitude of the F64 result, so rounding near zero does not fail a test).
 *
 * Include after cmocka's prerequisites and <cmocka.h>. */
#ifndef AMPC_TEST_GRADCHECK_H
#define AMPC_TEST_GRADCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/ampc.h>

/* The op under test, on its inputs; returns a new tensor (or NULL with the error set). */
typedef ampc_tensor *(*gradcheck_op)(ampc_tensor *const *inputs, const void *context);

typedef struct gradcheck_case {
    const char *name;           /* printed on failure */
    gradcheck_op op;
    const void *context;        /* passed to op: dims, options */
    int num_inputs;
    ampc_tensor *const *inputs; /* F64; those that require grad are checked */
    double eps;                 /* finite-difference step; 0 means 1e-6 */
    double atol, rtol;          /* 0 means 1e-6 and 1e-5 */
} gradcheck_case;

/* Fails the cmocka test (naming the case, input, element, analytic and numeric values)
 * unless every checked gradient element agrees within atol + rtol * |numeric|. Leaves the
 * inputs' .grad zeroed to none. */
void gradcheck_assert(const gradcheck_case *check);

typedef struct dtype_tolerance {
    double forward;  /* max |out - out64| / max(1, max |out64|) */
    double backward; /* the same for each input's gradient */
} dtype_tolerance;

/* Casts the float F64 inputs to dtype (keeping which require grad; other dtypes, such as
 * class indices, stay as they are), runs op and backward with the same upstream gradient as
 * an F64 run, and fails unless the result and each gradient have dtype `dtype` and are
 * within tolerance of the F64 run. */
void dtype_check_assert(const gradcheck_case *check, ampc_dtype dtype,
                        dtype_tolerance tolerance);

/* Tolerances that suit an op computed in fp32 and rounded once to dtype; ops with longer
 * chains (norms, convs, losses) pass their own. */
dtype_tolerance dtype_tolerance_default(ampc_dtype dtype);

/* gradcheck_assert, then dtype_check_assert for F32, F16 and BF16 at the default tolerances:
 * the whole proof for an op computed in fp32 and rounded once. */
void gradcheck_all_dtypes_assert(const gradcheck_case *check);

/* A new F64 tensor of uniform [low, high) values from a fixed-seed generator (seed picks
 * the stream), optionally requiring grad. */
ampc_tensor *gradcheck_uniform(uint64_t seed, int ndim, const int64_t *shape, double low,
                               double high, bool requires_grad);
/* The same values in a non-contiguous layout (a transposed copy seen through a transpose, or
 * a strided slice for 1-d), with requires_grad as given. The caller frees both. */
ampc_tensor *gradcheck_noncontiguous(const ampc_tensor *tensor, bool requires_grad);

#endif
