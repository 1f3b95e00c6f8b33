/* The recorded cast: how gradients cross precisions. Under mixed precision every boundary
 * between an fp32 master tensor and its fp16/bf16 use is one of these, so the gradient of a
 * 16-bit result reaches the fp32 tensor as fp32. */
#include <ampc/autograd.h>

#include "autograd/record.h"
#include "core/error.h"
#include "ops/op_support.h"
#include "tensor/arena.h"
#include "tensor/tensor_internal.h"

static ampc_status cast_backward(const ampc_node *node, const ampc_tensor *dout,
                                 ampc_tensor **dinputs)
{
    dinputs[0] = ampc_tensor_cast(dout, ampc_node_input_dtype(node, 0));
    return dinputs[0] ? AMPC_OK : ampc_error_status();
}

ampc_tensor *ampc_cast(const ampc_tensor *tensor, ampc_dtype dtype)
{
    if (!tensor) return ampc_null_tensor(__func__, "tensor");
    ampc_tensor *out = ampc_tensor_cast(tensor, dtype);
    if (!out) return NULL;
    const ampc_tensor *inputs[] = {tensor};
    ampc_op_record record = {.name = "cast", .backward = cast_backward, .num_inputs = 1,
                             .inputs = inputs};
    return ampc_autograd_output(__func__, out, &record);
}
