/* The elementwise engine the pointwise ops run on: tensors in, one new tensor out.
 *
 * ampc_pointwise_apply() walks the output's elements in fixed chunks of a few thousand. For
 * each chunk it brings every operand to a contiguous buffer in the compute dtype (a
 * contiguous operand of that dtype is used in place; F16/BF16 chunks are widened by the SIMD
 * conversion kernels; broadcast or strided operands are gathered row by row first), runs the
 * op's kernel (src/kernels/pointwise_kernels.h) on the buffers, and rounds the result once
 * into the output. Chunks are independent and every element's value depends only on its own
 * operands, so the result is the same for any thread count; large outputs are split across
 * ampc_num_threads() threads (OpenMP), small ones run on the calling thread.
 *
 * The compute dtype is F64 when the output or any float operand is F64, else F32. Operands
 * may also be BOOL (masks and conditions arrive as 0 and 1). */
#ifndef AMPC_OPS_POINTWISE_ENGINE_H
#define AMPC_OPS_POINTWISE_ENGINE_H

#include <stdint.h>

#include <ampc/tensor.h>

#include "autograd/record.h"
#include "kernels/pointwise_kernels.h"

typedef struct ampc_pointwise_call {
    ampc_pointwise_op op;
    double scalars[2];   /* the op's s0, s1 (rounded to fp32 when computing in fp32) */
    int num_inputs;      /* ampc_pointwise_num_inputs(op) */
    const ampc_tensor *inputs[AMPC_PW_MAX_INPUTS]; /* each broadcasts to shape */
    ampc_dtype out_dtype;
    int ndim;            /* the output's shape */
    const int64_t *shape;
} ampc_pointwise_call;

/* A new contiguous tensor of call->out_dtype and shape holding the op applied elementwise, or
 * NULL with the error set (out of memory). The operands must already be validated: non-NULL,
 * of float or BOOL dtype, broadcastable to the shape. */
ampc_tensor *ampc_pointwise_apply(const char *function, const ampc_pointwise_call *call);

/* For backward functions of broadcasting ops: runs call over dout's shape (call->ndim,
 * shape and out_dtype are filled in here), sums the result to the shape of the node's input
 * `input` and gives it that input's dtype. The sum accumulates in the compute dtype, before
 * the one rounding to the input's dtype. */
ampc_tensor *ampc_pointwise_input_gradient(const char *function, const ampc_node *node,
                                           int input, const ampc_tensor *dout,
                                           ampc_pointwise_call call);

#endif
