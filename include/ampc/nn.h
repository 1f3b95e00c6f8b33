/* Modules: layers that own their parameters, composed into models, as torch.nn.
 *
 * A module has a type ("Linear"), a forward function, named parameters and buffers, named
 * children, and a train/eval mode that its children follow. Names compose with dots, exactly
 * as PyTorch's state_dict keys: in Sequential(Flatten, Linear, ReLU, Linear) the second
 * Linear's weight is "3.weight"; a BatchNorm's running mean is "1.running_mean".
 *
 * Every parameter and buffer has a kind, so that the mixed-precision layer can treat norm
 * parameters and running statistics apart (apex's keep_batchnorm_fp32).
 *
 * Parameters are leaves that require grad (ampc/autograd.h); buffers (running statistics,
 * num_batches_tracked) do not. After ampc_module_flatten (done for you by the optimizers), all
 * of a model's parameters of one dtype live in one contiguous block, and so do their
 * gradients: each parameter and gradient tensor is a view into its block
 * (ampc_module_parameter_block), so a fused pass (unscale, overflow check, optimizer step) can
 * walk one buffer.
 *
 * Ownership: a module owns its parameters, buffers and children; ampc_module_free frees the
 * whole tree. Tensors returned by the accessors below are borrowed. */
#ifndef AMPC_NN_H
#define AMPC_NN_H

#include <stdbool.h>
#include <stdint.h>

#include <ampc/error.h>
#include <ampc/export.h>
#include <ampc/ops_conv.h>
#include <ampc/random.h>
#include <ampc/tensor.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ampc_module ampc_module;

/* Append-only. */
typedef enum ampc_param_kind {
    AMPC_PARAM_WEIGHT,             /* Linear, Conv, Embedding weights */
    AMPC_PARAM_BIAS,               /* Linear, Conv biases */
    AMPC_PARAM_NORM_WEIGHT,        /* BatchNorm, LayerNorm, GroupNorm weight (gamma) */
    AMPC_PARAM_NORM_BIAS,          /* their bias (beta) */
    AMPC_BUFFER_RUNNING_MEAN,      /* BatchNorm running statistics */
    AMPC_BUFFER_RUNNING_VAR,
    AMPC_BUFFER_NUM_BATCHES_TRACKED, /* I64 scalar, as PyTorch */
    AMPC_BUFFER_OTHER,
    AMPC_PARAM_KIND_COUNT
} ampc_param_kind;

/* "weight", "bias", "norm_weight", "norm_bias", "running_mean", "running_var",
 * "num_batches_tracked", "other"; "invalid" otherwise. */
AMPC_API const char *ampc_param_kind_name(ampc_param_kind kind);
/* Whether the kind is a buffer (not trained) rather than a parameter. */
AMPC_API bool ampc_param_kind_is_buffer(ampc_param_kind kind);

/* --- writing a module of your own ---------------------------------------------------------- */

typedef struct ampc_module_ops {
    const char *type_name; /* "Linear", "MyBlock" */
    /* The forward pass: a new tensor (recorded ops) or NULL with the error set. */
    ampc_tensor *(*forward)(ampc_module *self, const ampc_tensor *input);
    /* Frees the module's own state (not its parameters or children); may be NULL. */
    void (*free_state)(void *state);
} ampc_module_ops;

/* A new module with no parameters; state is the module's own data (freed with
 * ops->free_state). ops must outlive the module. */
AMPC_API ampc_module *ampc_module_new(const ampc_module_ops *ops, void *state);
AMPC_API void *ampc_module_state(const ampc_module *module);
/* Takes ownership of tensor (on failure too). tensor must be a leaf made outside any arena. A
 * parameter must be an F64, F32, F16 or BF16 tensor and a parameter kind; it is made a leaf that
 * requires grad. A buffer has a buffer kind, any dtype, and never requires grad. Both are
 * counted as AMPC_MEMORY_PARAMETERS (model state). name is not empty, has no dots and is unique
 * among the module's parameters, buffers and children. In state_dict order a module's
 * parameters come before its buffers, each in registration order, as in PyTorch. */
AMPC_API ampc_status ampc_module_add_parameter(ampc_module *module, const char *name,
                                               ampc_tensor *tensor, ampc_param_kind kind);
AMPC_API ampc_status ampc_module_add_buffer(ampc_module *module, const char *name,
                                            ampc_tensor *tensor, ampc_param_kind kind);
/* Takes ownership of child (on failure too), except when child already belongs to a module or
 * contains `module` (that error leaves it to its owner). Its training mode is left as it is,
 * as in PyTorch. */
AMPC_API ampc_status ampc_module_add_child(ampc_module *module, const char *name,
                                           ampc_module *child);
/* A module's own parameter or buffer by its local name ("weight"), or NULL. */
AMPC_API ampc_tensor *ampc_module_local(const ampc_module *module, const char *name);

/* --- using any module ---------------------------------------------------------------------- */

AMPC_API ampc_tensor *ampc_module_forward(ampc_module *module, const ampc_tensor *input);
AMPC_API const char *ampc_module_type(const ampc_module *module);
/* Sets the mode of the module and all its children (torch's .train() / .eval()). Modules
 * start in training mode. */
AMPC_API void ampc_module_set_training(ampc_module *module, bool training);
AMPC_API bool ampc_module_is_training(const ampc_module *module);
AMPC_API void ampc_module_free(ampc_module *module);

/* Children, in the order added. */
AMPC_API int ampc_module_num_children(const ampc_module *module);
AMPC_API ampc_module *ampc_module_child(const ampc_module *module, int index);

/* Every parameter and buffer of the tree, depth first in registration order (PyTorch's
 * state_dict order: a module's own parameters, then its own buffers, then its children's).
 * index runs from 0 to ampc_module_num_tensors - 1. name is the full dotted name, valid until
 * the tree gains a tensor or a child, or is freed. */
typedef struct ampc_named_tensor {
    const char *name;
    ampc_tensor *tensor;
    ampc_param_kind kind;
} ampc_named_tensor;

AMPC_API int ampc_module_num_tensors(const ampc_module *module);
AMPC_API ampc_status ampc_module_tensor_at(const ampc_module *module, int index,
                                           ampc_named_tensor *entry);
/* By full dotted name ("3.weight"), or NULL (without setting an error). */
AMPC_API ampc_tensor *ampc_module_find(const ampc_module *module, const char *name);
/* The trainable parameters only (buffers left out), in the same order. */
AMPC_API int ampc_module_num_parameters(const ampc_module *module);
AMPC_API ampc_tensor *ampc_module_parameter(const ampc_module *module, int index);
/* Total elements of all parameters. */
AMPC_API int64_t ampc_module_parameter_count(const ampc_module *module);

/* Moves every parameter of the tree into one contiguous block per dtype, and gives each a
 * gradient that is a view into a matching gradient block (zeroed, or holding the gradient the
 * parameter had). Values, names and tensor handles stay the same; buffers are not moved.
 * Idempotent; parameters added later need another call, which moves everything into new
 * blocks. From then on zero_grad zeroes gradients in place rather than dropping them. Call it
 * on the root module (blocks a descendant had from an earlier call are released), outside any
 * arena. Parameters that do not require grad (frozen) get no gradient view. */
AMPC_API ampc_status ampc_module_flatten(ampc_module *module);
/* After flatten: the block holding all parameters of dtype (and their gradients), as 1-d
 * tensors (borrowed), or NULL when the model has none of that dtype. */
AMPC_API ampc_tensor *ampc_module_parameter_block(const ampc_module *module, ampc_dtype dtype);
AMPC_API ampc_tensor *ampc_module_gradient_block(const ampc_module *module, ampc_dtype dtype);

/* Converts every floating parameter and buffer to dtype (torch's .to(dtype) / .double()); dtype
 * is F64, F32, F16 or BF16. Handles stay the same (the data is replaced under them);
 * parameters keep requiring grad, but their gradients (of the old dtype) are dropped;
 * num_batches_tracked stays I64. On a flattened module the parameters are then flattened
 * again into blocks of the new dtype. */
AMPC_API ampc_status ampc_module_to_dtype(ampc_module *module, ampc_dtype dtype);

/* --- layers --------------------------------------------------------------------------------
 * Parameters are F32, initialised as PyTorch does from `generator` (ampc's Philox, so the
 * values differ from torch's for the same seed; load a checkpoint for bit-equal weights):
 * Linear and Conv weights kaiming_uniform(a = sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)); norm weights 1 and biases 0; Embedding
 * N(0, 1). generator may be NULL for layers without random init. */

AMPC_API ampc_module *ampc_linear_new(int64_t in_features, int64_t out_features, bool bias,
                                      ampc_generator *generator);
/* options NULL: stride 1, padding 0, dilation 1, groups 1. Sizes and groups are checked
 * here; stride, padding, dilation and output_padding by the op at forward. */
AMPC_API ampc_module *ampc_conv2d_new(int64_t in_channels, int64_t out_channels,
                                      int64_t kernel_h, int64_t kernel_w,
                                      const ampc_conv2d_options *options, bool bias,
                                      ampc_generator *generator);
AMPC_API ampc_module *ampc_conv_transpose2d_new(int64_t in_channels, int64_t out_channels,
                                                int64_t kernel_h, int64_t kernel_w,
                                                const ampc_conv2d_options *options, bool bias,
                                                ampc_generator *generator);
/* BatchNorm1d takes (N, C) or (N, C, L), BatchNorm2d (N, C, H, W). affine: weight and bias;
 * track_running_stats: running_mean, running_var, num_batches_tracked buffers. Training uses
 * batch statistics and updates the buffers (num_batches_tracked + 1); eval uses the running
 * statistics; without track_running_stats batch statistics are used in both modes. momentum
 * is finite (PyTorch's None, a cumulative average, is not offered). PyTorch's defaults are
 * eps 1e-5, momentum 0.1. */
AMPC_API ampc_module *ampc_batch_norm1d_new(int64_t num_features, double eps, double momentum,
                                            bool affine, bool track_running_stats);
AMPC_API ampc_module *ampc_batch_norm2d_new(int64_t num_features, double eps, double momentum,
                                            bool affine, bool track_running_stats);
/* Normalises over the last num_dims dims, whose sizes are shape. */
AMPC_API ampc_module *ampc_layer_norm_new(int num_dims, const int64_t *shape, double eps,
                                          bool elementwise_affine);
AMPC_API ampc_module *ampc_group_norm_new(int64_t num_groups, int64_t num_channels, double eps,
                                          bool affine);
AMPC_API ampc_module *ampc_embedding_new(int64_t num_embeddings, int64_t embedding_dim,
                                         int64_t padding_idx /* -1: none */,
                                         ampc_generator *generator);
/* The generator is borrowed and must outlive the module. */
AMPC_API ampc_module *ampc_dropout_new(double p, ampc_generator *generator);
AMPC_API ampc_module *ampc_relu_new(void);
AMPC_API ampc_module *ampc_leaky_relu_new(double negative_slope);
AMPC_API ampc_module *ampc_gelu_new(bool tanh_approximation);
AMPC_API ampc_module *ampc_silu_new(void);
AMPC_API ampc_module *ampc_sigmoid_new(void);
AMPC_API ampc_module *ampc_tanh_new(void);
/* options are copied (kernel >= 1 checked here, the rest by the op at forward). */
AMPC_API ampc_module *ampc_max_pool2d_new(const ampc_pool2d_options *options);
AMPC_API ampc_module *ampc_avg_pool2d_new(const ampc_pool2d_options *options);
/* torch.nn.Flatten() is ampc_flatten_new(1, -1). */
AMPC_API ampc_module *ampc_flatten_new(int start_dim, int end_dim);

/* Sequential: children named "0", "1", ... in order; forward feeds each output to the next.
 * Takes ownership of every module (on failure too); NULL entries fail. */
AMPC_API ampc_module *ampc_sequential_new(int count, ampc_module *const *modules);
AMPC_API ampc_status ampc_sequential_append(ampc_module *sequential, ampc_module *module);

#ifdef __cplusplus
}
#endif
#endif
