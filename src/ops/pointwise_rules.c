/* The forward-and-record and backward functions every pointwise op shares; see
 * pointwise_rules.h. */
#include "ops/pointwise_rules.h"

#include "autograd/record.h"
#include "core/error.h"

/* What a pointwise node keeps: its rules and the forward call's scalars. */
typedef struct pointwise_params {
    const ampc_pointwise_rules *rules;
    double scalars[2];
} pointwise_params;

static ampc_status pointwise_backward(const ampc_node *node, const ampc_tensor *dout,
                                      ampc_tensor **dinputs)
{
    const pointwise_params *params = ampc_node_params(node);
    const ampc_pointwise_rules *rules = params->rules;
    for (int input = 0; input < rules->num_inputs; input++) {
        if (!ampc_node_needs_grad(node, input)) continue;
        const ampc_pointwise_gradient *gradient = &rules->gradients[input];
        ampc_pointwise_call call = {.op = gradient->op, .num_inputs = gradient->num_operands};
        call.scalars[0] = gradient->own_scalars ? gradient->scalar : params->scalars[0];
        call.scalars[1] = gradient->own_scalars ? 0.0 : params->scalars[1];
        for (int k = 0; k < gradient->num_operands; k++) {
            int source = gradient->operands[k];
            call.inputs[k] = source == AMPC_PW_DOUT ? dout : ampc_node_saved(node, source);
        }
        dinputs[input] = ampc_pointwise_input_gradient(rules->name, node, input, dout, call);
        if (!dinputs[input]) {
            for (int made = 0; made < input; made++) {
                ampc_tensor_free(dinputs[made]);
                dinputs[made] = NULL;
            }
            return ampc_error_status();
        }
    }
    return AMPC_OK;
}

ampc_tensor *ampc_pointwise_forward(const char *function, const ampc_pointwise_call *call,
                                    const ampc_pointwise_rules *rules,
                                    const ampc_tensor *const *inputs, int num_saved,
                                    const ampc_tensor *const *saved)
{
    ampc_tensor *out = ampc_pointwise_apply(function, call);
    if (!out) return NULL;
    pointwise_params params = {.rules = rules,
                               .scalars = {call->scalars[0], call->scalars[1]}};
    ampc_op_record record = {.name = rules->name, .backward = pointwise_backward,
                             .num_inputs = rules->num_inputs, .inputs = inputs,
                             .num_saved = num_saved, .saved = saved,
                             .params = &params, .params_size = sizeof params};
    return ampc_autograd_output(function, out, &record);
}
