/* The module core (src/nn/module.c, module_flat.c): names in PyTorch's state_dict order,
 * kinds, train/eval, a module written by the user, flat parameter blocks, dtype conversion,
 * and the errors of registration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>

#include "nn_testing.h"

/* The names and kinds of the tree, in order, must be exactly these. */
static void assert_names(const ampc_module *model, int count, const char *const *names,
                         const ampc_param_kind *kinds)
{
    assert_int_equal(ampc_module_num_tensors(model), count);
    for (int i = 0; i < count; i++) {
        ampc_named_tensor entry;
        assert_int_equal(ampc_module_tensor_at(model, i, &entry), AMPC_OK);
        assert_string_equal(entry.name, names[i]);
        assert_int_equal(entry.kind, kinds[i]);
        assert_ptr_equal(ampc_module_find(model, names[i]), entry.tensor);
    }
}

static void test_mlp_names_match_pytorch_state_dict_keys(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(1);
    ampc_module *model = mlp_new(1024, generator);
    /* list(torch.nn.Sequential(Flatten(), Linear(784, 1024), ReLU(), Linear(1024, 1024),
     * ReLU(), Linear(1024, 10)).state_dict()) */
    const char *names[] = {"1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"};
    const ampc_param_kind kinds[] = {AMPC_PARAM_WEIGHT, AMPC_PARAM_BIAS, AMPC_PARAM_WEIGHT,
                                     AMPC_PARAM_BIAS,   AMPC_PARAM_WEIGHT, AMPC_PARAM_BIAS};
    assert_names(model, 6, names, kinds);
    assert_int_equal(ampc_module_num_parameters(model), 6);
    assert_int_equal(ampc_module_parameter_count(model),
                     784 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 10 + 10);
    const ampc_tensor *w3 = ampc_module_find(model, "3.weight");
    assert_int_equal(ampc_tensor_dim(w3, 0), 1024);
    assert_int_equal(ampc_tensor_dim(w3, 1), 1024);
    assert_null(ampc_module_find(model, "3.running_mean"));
    assert_null(ampc_module_find(model, "2.weight"));
    expect_no_error();
    assert_string_equal(ampc_module_type(model), "Sequential");
    assert_string_equal(ampc_module_type(ampc_module_child(model, 5)), "Linear");
    ampc_module_free(model);
    ampc_generator_free(generator);
}

static void test_cnn_names_match_pytorch_state_dict_keys(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(2);
    ampc_module *model = cnn_new(generator);
    /* list(state_dict()) of the CNN in PyTorch (also the keys of cnn_init.safetensors) */
    const char *names[] = {
        "0.weight",       "0.bias",        "1.weight",         "1.bias",
        "1.running_mean", "1.running_var", "1.num_batches_tracked",
        "4.weight",       "4.bias",        "5.weight",         "5.bias",
        "5.running_mean", "5.running_var", "5.num_batches_tracked",
        "9.weight",       "9.bias",        "11.weight",        "11.bias",
    };
    const ampc_param_kind kinds[] = {
        AMPC_PARAM_WEIGHT,        AMPC_PARAM_BIAS,         AMPC_PARAM_NORM_WEIGHT,
        AMPC_PARAM_NORM_BIAS,     AMPC_BUFFER_RUNNING_MEAN, AMPC_BUFFER_RUNNING_VAR,
        AMPC_BUFFER_NUM_BATCHES_TRACKED,
        AMPC_PARAM_WEIGHT,        AMPC_PARAM_BIAS,         AMPC_PARAM_NORM_WEIGHT,
        AMPC_PARAM_NORM_BIAS,     AMPC_BUFFER_RUNNING_MEAN, AMPC_BUFFER_RUNNING_VAR,
        AMPC_BUFFER_NUM_BATCHES_TRACKED,
        AMPC_PARAM_WEIGHT,        AMPC_PARAM_BIAS,         AMPC_PARAM_WEIGHT,
        AMPC_PARAM_BIAS,
    };
    assert_names(model, 18, names, kinds);
    /* The shapes of the keys in PyTorch's cnn_init.safetensors (0 dims: a 0-d tensor). */
    const int64_t shapes[18][4] = {{32, 1, 3, 3}, {32}, {32}, {32}, {32}, {32}, {0},
                                   {64, 32, 3, 3}, {64}, {64}, {64}, {64}, {64}, {0},
                                   {256, 3136}, {256}, {10, 256}, {10}};
    const int ndims[18] = {4, 1, 1, 1, 1, 1, 0, 4, 1, 1, 1, 1, 1, 0, 2, 1, 2, 1};
    for (int i = 0; i < 18; i++) {
        const ampc_tensor *tensor = ampc_module_find(model, names[i]);
        assert_int_equal(ampc_tensor_ndim(tensor), ndims[i]);
        for (int d = 0; d < ndims[i]; d++) assert_int_equal(ampc_tensor_dim(tensor, d), shapes[i][d]);
    }
    /* Parameters leave the buffers out, in the same order. */
    assert_int_equal(ampc_module_num_parameters(model), 12);
    assert_ptr_equal(ampc_module_parameter(model, 4), ampc_module_find(model, "4.weight"));
    assert_ptr_equal(ampc_module_parameter(model, 11), ampc_module_find(model, "11.bias"));
    ampc_module_free(model);
    ampc_generator_free(generator);
}

static void test_parameters_require_grad_and_buffers_do_not(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(3);
    ampc_module *model = cnn_new(generator);
    for (int i = 0; i < ampc_module_num_tensors(model); i++) {
        ampc_named_tensor entry;
        assert_int_equal(ampc_module_tensor_at(model, i, &entry), AMPC_OK);
        bool buffer = ampc_param_kind_is_buffer(entry.kind);
        assert_int_equal(ampc_tensor_requires_grad(entry.tensor), !buffer);
        assert_true(ampc_tensor_is_leaf(entry.tensor));
        assert_int_equal(ampc_tensor_category(entry.tensor), AMPC_MEMORY_PARAMETERS);
        ampc_dtype expected = entry.kind == AMPC_BUFFER_NUM_BATCHES_TRACKED ? AMPC_I64 : AMPC_F32;
        assert_int_equal(ampc_tensor_dtype(entry.tensor), expected);
    }
    const ampc_tensor *count = ampc_module_find(model, "5.num_batches_tracked");
    assert_int_equal(ampc_tensor_ndim(count), 0);
    int64_t none[1] = {0};
    double value = -1;
    assert_int_equal(ampc_tensor_get(count, none, &value), AMPC_OK);
    assert_true(value == 0);
    ampc_module_free(model);
    ampc_generator_free(generator);
}

static void test_kind_names_and_buffer_kinds(void **unused)
{
    (void)unused;
    const char *names[] = {"weight",       "bias",        "norm_weight",
                           "norm_bias",    "running_mean", "running_var",
                           "num_batches_tracked", "other"};
    for (int kind = 0; kind < AMPC_PARAM_KIND_COUNT; kind++) {
        assert_string_equal(ampc_param_kind_name((ampc_param_kind)kind), names[kind]);
        assert_int_equal(ampc_param_kind_is_buffer((ampc_param_kind)kind),
                         kind >= AMPC_BUFFER_RUNNING_MEAN);
    }
    assert_string_equal(ampc_param_kind_name(AMPC_PARAM_KIND_COUNT), "invalid");
    assert_false(ampc_param_kind_is_buffer(AMPC_PARAM_KIND_COUNT));
}

static void test_train_and_eval_reach_every_descendant(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(4);
    ampc_module *inner[] = {ampc_dropout_new(0.5, generator), ampc_batch_norm1d_new(4, 1e-5, 0.1,
                                                                                    true, true)};
    ampc_module *outer[] = {ampc_sequential_new(2, inner), ampc_relu_new()};
    ampc_module *model = ampc_sequential_new(2, outer);
    assert_true(ampc_module_is_training(model));
    ampc_module_set_training(model, false);
    ampc_module *nested = ampc_module_child(model, 0);
    assert_false(ampc_module_is_training(nested));
    assert_false(ampc_module_is_training(ampc_module_child(nested, 0)));
    assert_false(ampc_module_is_training(ampc_module_child(nested, 1)));
    ampc_module_set_training(model, true);
    assert_true(ampc_module_is_training(ampc_module_child(nested, 1)));
    assert_non_null(ampc_module_find(model, "0.1.running_var"));
    ampc_module_free(model);
    ampc_generator_free(generator);
}

static void test_names_stay_valid_until_their_own_tree_changes(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(13);
    ampc_module *layers[] = {ampc_linear_new(2, 2, true, generator)};
    ampc_module *model = ampc_sequential_new(1, layers);
    ampc_named_tensor entry;
    assert_int_equal(ampc_module_tensor_at(model, 1, &entry), AMPC_OK);
    const char *name = entry.name;
    /* Other modules come and go; this tree's names stay. */
    ampc_module *other = ampc_linear_new(3, 3, true, generator);
    ampc_module_free(other);
    assert_int_equal(ampc_module_tensor_at(model, 1, &entry), AMPC_OK);
    assert_ptr_equal(entry.name, name);
    assert_string_equal(name, "0.bias");
    /* A tensor added deep in the tree shows up in the root's names. */
    ampc_module *inner = ampc_module_child(model, 0);
    int64_t shape[1] = {2};
    assert_int_equal(ampc_module_add_buffer(inner, "extra", ampc_tensor_zeros(AMPC_F32, 1, shape),
                                            AMPC_BUFFER_OTHER),
                     AMPC_OK);
    assert_int_equal(ampc_module_num_tensors(model), 3);
    assert_non_null(ampc_module_find(model, "0.extra"));
    ampc_module_free(model);
    ampc_generator_free(generator);
}

/* --- a module of one's own: y = x + fc2(relu(fc1(x))) ------------------------------------- */

typedef struct residual_state {
    int64_t features;
} residual_state;

static ampc_tensor *residual_forward(ampc_module *self, const ampc_tensor *input)
{
    ampc_tensor *hidden = ampc_module_forward(ampc_module_child(self, 0), input);
    ampc_tensor *activated = ampc_relu(hidden);
    ampc_tensor *branch = ampc_module_forward(ampc_module_child(self, 1), activated);
    ampc_tensor *out = ampc_add(input, branch);
    ampc_tensor_free(hidden);
    ampc_tensor_free(activated);
    ampc_tensor_free(branch);
    return out;
}

static const ampc_module_ops residual_ops = {"Residual", residual_forward, free};

static ampc_module *residual_new(int64_t features, ampc_generator *generator)
{
    residual_state *state = malloc(sizeof *state);
    state->features = features;
    ampc_module *block = ampc_module_new(&residual_ops, state);
    assert_int_equal(ampc_module_add_child(block, "fc1",
                                           ampc_linear_new(features, features, true, generator)),
                     AMPC_OK);
    assert_int_equal(ampc_module_add_child(block, "fc2",
                                           ampc_linear_new(features, features, true, generator)),
                     AMPC_OK);
    /* A parameter of its own, registered after the children: still listed first. */
    int64_t shape[1] = {features};
    assert_int_equal(ampc_module_add_parameter(block, "gate", ampc_tensor_ones(AMPC_F32, 1, shape),
                                               AMPC_PARAM_WEIGHT),
                     AMPC_OK);
    return block;
}

static void test_user_module_residual_block_names_forward_and_backward(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(5);
    ampc_module *layers[] = {residual_new(8, generator), ampc_linear_new(8, 3, true, generator)};
    ampc_module *model = ampc_sequential_new(2, layers);
    const char *names[] = {"0.gate",       "0.fc1.weight", "0.fc1.bias", "0.fc2.weight",
                           "0.fc2.bias",   "1.weight",     "1.bias"};
    const ampc_param_kind kinds[] = {AMPC_PARAM_WEIGHT, AMPC_PARAM_WEIGHT, AMPC_PARAM_BIAS,
                                     AMPC_PARAM_WEIGHT, AMPC_PARAM_BIAS,   AMPC_PARAM_WEIGHT,
                                     AMPC_PARAM_BIAS};
    assert_names(model, 7, names, kinds);
    ampc_module *block = ampc_module_child(model, 0);
    assert_string_equal(ampc_module_type(block), "Residual");
    assert_int_equal(((residual_state *)ampc_module_state(block))->features, 8);
    assert_ptr_equal(ampc_module_local(block, "gate"), ampc_module_find(model, "0.gate"));

    int64_t shape[2] = {5, 8};
    ampc_tensor *x = random_input(50, 2, shape);
    ampc_tensor *y = ampc_module_forward(block, x);
    /* The same computation written with the ops. */
    ampc_tensor *h = ampc_linear(x, ampc_module_find(model, "0.fc1.weight"),
                                 ampc_module_find(model, "0.fc1.bias"));
    ampc_tensor *r = ampc_relu(h);
    ampc_tensor *b = ampc_linear(r, ampc_module_find(model, "0.fc2.weight"),
                                 ampc_module_find(model, "0.fc2.bias"));
    ampc_tensor *expected = ampc_add(x, b);
    assert_same_tensor(y, expected);

    ampc_tensor *out = ampc_module_forward(model, x);
    ampc_tensor *loss = ampc_sum(out, 0, NULL, false);
    assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
    for (int i = 1; i < ampc_module_num_parameters(model); i++) /* the gate is unused */
        assert_true(sum_of_squares(ampc_tensor_grad(ampc_module_parameter(model, i))) > 0);
    assert_null(ampc_tensor_grad(ampc_module_find(model, "0.gate")));
    ampc_tensor *all[] = {x, y, h, r, b, expected, out, loss};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ampc_tensor_free(all[i]);
    ampc_module_free(model);
    ampc_generator_free(generator);
}

/* --- registration errors --------------------------------------------------------------------- */

static ampc_tensor *small(void)
{
    int64_t shape[1] = {2};
    return ampc_tensor_zeros(AMPC_F32, 1, shape);
}

static ampc_tensor *forward_identity(ampc_module *self, const ampc_tensor *input)
{
    (void)self;
    return ampc_tensor_clone(input);
}

static const ampc_module_ops plain_ops = {"Plain", forward_identity, NULL};

static void test_bad_names_and_tensors_are_refused_and_freed(void **unused)
{
    (void)unused;
    ampc_module *module = ampc_module_new(&plain_ops, NULL);
    assert_int_equal(ampc_module_add_parameter(module, "w", small(), AMPC_PARAM_WEIGHT), AMPC_OK);
    assert_int_equal(ampc_module_add_parameter(module, "w", small(), AMPC_PARAM_WEIGHT),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "name \"w\" is already taken in this Plain module");
    assert_int_equal(ampc_module_add_buffer(module, "w", small(), AMPC_BUFFER_OTHER),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "already taken");
    assert_int_equal(ampc_module_add_child(module, "w", ampc_relu_new()),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "already taken");
    assert_int_equal(ampc_module_add_parameter(module, "a.b", small(), AMPC_PARAM_WEIGHT),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "name \"a.b\" contains a dot");
    assert_int_equal(ampc_module_add_parameter(module, "", small(), AMPC_PARAM_WEIGHT),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "name is empty");
    assert_int_equal(ampc_module_add_parameter(module, "b", small(), AMPC_BUFFER_RUNNING_MEAN),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "kind running_mean is a buffer kind; expected a "
                                            "parameter kind");
    assert_int_equal(ampc_module_add_buffer(module, "b", small(), AMPC_PARAM_BIAS),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "kind bias is a parameter kind");
    assert_int_equal(ampc_module_add_parameter(module, "b", small(), (ampc_param_kind)99),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "kind 99 is not an ampc_param_kind");
    int64_t shape[1] = {2};
    assert_int_equal(ampc_module_add_parameter(module, "i", ampc_tensor_zeros(AMPC_I64, 1, shape),
                                               AMPC_PARAM_WEIGHT),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "a parameter has dtype I64; expected F64, F32");
    /* A buffer may be an integer tensor; it never requires grad. */
    ampc_tensor *flag = small();
    assert_int_equal(ampc_tensor_set_requires_grad(flag, true), AMPC_OK);
    assert_int_equal(ampc_module_add_buffer(module, "flag", flag, AMPC_BUFFER_OTHER), AMPC_OK);
    assert_false(ampc_tensor_requires_grad(flag));
    /* An op's result is not a leaf. */
    ampc_tensor *leaf = small();
    ampc_tensor_set_requires_grad(leaf, true);
    ampc_tensor *result = ampc_mul_scalar(leaf, 2);
    assert_int_equal(ampc_module_add_parameter(module, "r", result, AMPC_PARAM_WEIGHT),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "the result of op \"mul_scalar\"");
    ampc_tensor_free(leaf);
    /* Arena tensors are not long-lived. */
    ampc_arena *arena = ampc_arena_new();
    ampc_arena_enter(arena);
    ampc_tensor *temporary = small();
    ampc_arena_leave(arena);
    assert_int_equal(ampc_module_add_buffer(module, "t", temporary, AMPC_BUFFER_OTHER),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "tensor belongs to an arena");
    ampc_arena_free(arena);
    assert_int_equal(ampc_module_num_tensors(module), 2);
    ampc_module_free(module);
}

static void test_null_arguments_fail_without_crashing(void **unused)
{
    (void)unused;
    assert_null(ampc_module_new(NULL, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "ampc_module_new: argument ops is NULL");
    ampc_module_ops no_forward = {"X", NULL, NULL};
    assert_null(ampc_module_new(&no_forward, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "ops->forward is NULL");
    assert_int_equal(ampc_module_add_parameter(NULL, "w", small(), AMPC_PARAM_WEIGHT),
                     AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "module");
    ampc_module *module = ampc_module_new(&plain_ops, NULL);
    assert_int_equal(ampc_module_add_parameter(module, NULL, small(), AMPC_PARAM_WEIGHT),
                     AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "name");
    assert_int_equal(ampc_module_add_parameter(module, "w", NULL, AMPC_PARAM_WEIGHT),
                     AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "tensor");
    assert_int_equal(ampc_module_add_child(module, "c", NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "child");
    assert_null(ampc_module_forward(module, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "input");
    assert_null(ampc_module_forward(NULL, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "module");
    assert_int_equal(ampc_module_num_tensors(NULL), 0);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "module");
    ampc_named_tensor entry;
    assert_int_equal(ampc_module_tensor_at(module, 0, &entry), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "index 0 is out of range; the module has 0 tensors");
    assert_int_equal(ampc_module_tensor_at(module, 0, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "entry");
    assert_null(ampc_module_parameter(module, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "0 parameters");
    assert_null(ampc_module_child(module, 0));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "0 children");
    assert_null(ampc_module_find(module, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "name");
    assert_int_equal(ampc_module_flatten(NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "module");
    assert_int_equal(ampc_module_to_dtype(NULL, AMPC_F64), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "module");
    ampc_module_set_training(NULL, false);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "module");
    ampc_module_free(NULL);
    ampc_module_free(module);
}

static void test_a_module_is_added_once(void **unused)
{
    (void)unused;
    ampc_module *parent = ampc_module_new(&plain_ops, NULL);
    ampc_module *child = ampc_relu_new();
    assert_int_equal(ampc_module_add_child(parent, "a", child), AMPC_OK);
    assert_int_equal(ampc_module_add_child(parent, "b", child), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "already belongs to a module");
    ampc_module *other = ampc_module_new(&plain_ops, NULL);
    assert_int_equal(ampc_module_add_child(other, "x", parent), AMPC_OK);
    /* A cycle would free itself twice. */
    assert_int_equal(ampc_module_add_child(child, "loop", other), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "contains this one");
    ampc_module_free(other);
}

static void test_sequential_errors_free_what_they_were_given(void **unused)
{
    (void)unused;
    ampc_module *layers[] = {ampc_relu_new(), NULL, ampc_tanh_new()};
    assert_null(ampc_sequential_new(3, layers));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "module 1 is NULL");
    assert_null(ampc_sequential_new(-1, NULL));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "count is -1");
    assert_null(ampc_sequential_new(2, NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "modules");
    ampc_module *relu = ampc_relu_new();
    assert_int_equal(ampc_sequential_append(relu, ampc_tanh_new()), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "sequential is a ReLU; expected a Sequential");
    ampc_module_free(relu);
    /* An empty Sequential is the identity. */
    ampc_module *empty = ampc_sequential_new(0, NULL);
    int64_t shape[2] = {2, 3};
    ampc_tensor *x = random_input(6, 2, shape);
    ampc_tensor *y = ampc_module_forward(empty, x);
    assert_same_tensor(y, x);
    assert_int_equal(ampc_sequential_append(empty, ampc_tanh_new()), AMPC_OK);
    ampc_tensor *z = ampc_module_forward(empty, x);
    ampc_tensor *expected = ampc_tanh(x);
    assert_same_tensor(z, expected);
    ampc_tensor_free(x);
    ampc_tensor_free(y);
    ampc_tensor_free(z);
    ampc_tensor_free(expected);
    ampc_module_free(empty);
}

/* --- flat blocks ------------------------------------------------------------------------------ */

/* Copies of the values of every parameter, in order. */
static ampc_tensor **clone_parameters(const ampc_module *model)
{
    int n = ampc_module_num_parameters(model);
    ampc_tensor **copies = calloc((size_t)n, sizeof *copies);
    for (int i = 0; i < n; i++) copies[i] = ampc_tensor_clone(ampc_module_parameter(model, i));
    return copies;
}

static void free_tensors(ampc_tensor **tensors, int n)
{
    for (int i = 0; i < n; i++) ampc_tensor_free(tensors[i]);
    free(tensors);
}

/* Every parameter and its gradient are consecutive views of the two blocks. */
static void assert_views_of_blocks(const ampc_module *model, ampc_dtype dtype)
{
    ampc_tensor *block = ampc_module_parameter_block(model, dtype);
    ampc_tensor *gradient_block = ampc_module_gradient_block(model, dtype);
    assert_non_null(block);
    assert_non_null(gradient_block);
    assert_int_equal(ampc_tensor_ndim(block), 1);
    assert_int_equal(ampc_tensor_numel(block), ampc_module_parameter_count(model));
    assert_int_equal(ampc_tensor_category(block), AMPC_MEMORY_PARAMETERS);
    assert_int_equal(ampc_tensor_category(gradient_block), AMPC_MEMORY_GRADIENTS);
    size_t size = ampc_dtype_size(dtype);
    char *base = ampc_tensor_data(block), *gradient_base = ampc_tensor_data(gradient_block);
    int64_t offset = 0;
    for (int i = 0; i < ampc_module_num_parameters(model); i++) {
        ampc_tensor *parameter = ampc_module_parameter(model, i);
        assert_int_equal(ampc_tensor_dtype(parameter), dtype);
        assert_true(ampc_tensor_is_contiguous(parameter));
        assert_ptr_equal(ampc_tensor_data(parameter), base + (size_t)offset * size);
        ampc_tensor *gradient = ampc_tensor_grad(parameter);
        assert_non_null(gradient);
        assert_ptr_equal(ampc_tensor_data(gradient), gradient_base + (size_t)offset * size);
        offset += ampc_tensor_numel(parameter);
    }
    assert_int_equal(offset, ampc_tensor_numel(block));
}

/* The CNN's loss on a fixed batch, backpropagated. */
static void cnn_backward(ampc_module *model)
{
    int64_t shape[4] = {4, 1, 28, 28};
    ampc_tensor *x = random_input(70, 4, shape);
    ampc_tensor *logits = ampc_module_forward(model, x);
    int64_t labels[4] = {1, 7, 3, 9}, label_shape[1] = {4};
    ampc_tensor *target = ampc_tensor_from_data(labels, AMPC_I64, 1, label_shape);
    ampc_cross_entropy_options options = ampc_cross_entropy_default_options();
    ampc_tensor *loss = ampc_cross_entropy(logits, target, &options);
    assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
    ampc_tensor_free(x);
    ampc_tensor_free(logits);
    ampc_tensor_free(target);
    ampc_tensor_free(loss);
}

static void test_flatten_keeps_handles_values_and_names(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(7);
    ampc_module *model = cnn_new(generator);
    int n = ampc_module_num_parameters(model);
    ampc_tensor **before = clone_parameters(model);
    ampc_tensor *handles[32];
    for (int i = 0; i < n; i++) handles[i] = ampc_module_parameter(model, i);
    assert_null(ampc_module_parameter_block(model, AMPC_F32));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "not flattened");

    assert_int_equal(ampc_module_flatten(model), AMPC_OK);
    for (int i = 0; i < n; i++) {
        assert_ptr_equal(ampc_module_parameter(model, i), handles[i]);
        assert_same_tensor(handles[i], before[i]);
        assert_true(ampc_tensor_requires_grad(handles[i]));
    }
    assert_ptr_equal(ampc_module_find(model, "9.weight"), handles[8]);
    assert_views_of_blocks(model, AMPC_F32);
    assert_null(ampc_module_parameter_block(model, AMPC_F64));
    expect_no_error();
    /* Buffers stay where they were. */
    assert_int_equal(ampc_tensor_numel(ampc_module_parameter_block(model, AMPC_F32)),
                     ampc_module_parameter_count(model));
    free_tensors(before, n);
    ampc_module_free(model);
    ampc_generator_free(generator);
}

static void test_backward_fills_the_gradient_block_and_zero_grad_zeroes_it(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(8);
    ampc_module *model = cnn_new(generator);
    ampc_module_set_training(model, false); /* the running stats must not move between passes */
    int n = ampc_module_num_parameters(model);
    cnn_backward(model);
    ampc_tensor **expected = calloc((size_t)n, sizeof *expected);
    for (int i = 0; i < n; i++) {
        ampc_tensor *parameter = ampc_module_parameter(model, i);
        expected[i] = ampc_tensor_clone(ampc_tensor_grad(parameter));
        assert_int_equal(ampc_tensor_zero_grad(parameter, true), AMPC_OK);
    }
    size_t gradients_before = live_bytes(AMPC_MEMORY_GRADIENTS);
    assert_int_equal(ampc_module_flatten(model), AMPC_OK);
    ampc_tensor *gradient_block = ampc_module_gradient_block(model, AMPC_F32);
    assert_int_equal(live_bytes(AMPC_MEMORY_GRADIENTS) - gradients_before,
                     ampc_tensor_nbytes(gradient_block));
    assert_true(sum_of_squares(gradient_block) == 0);

    cnn_backward(model);
    for (int i = 0; i < n; i++) assert_same_tensor(ampc_tensor_grad(ampc_module_parameter(model, i)),
                                                   expected[i]);
    /* Every parameter got a gradient, and they all sit in the one block. */
    double block_total = sum_of_squares(gradient_block), parts_total = 0;
    for (int i = 0; i < n; i++) {
        double part = sum_of_squares(expected[i]);
        assert_true(part > 0);
        parts_total += part;
    }
    assert_true(fabs(block_total - parts_total) <= 1e-9 * parts_total);
    /* zero_grad, even asked to drop the gradients, zeroes the block in place. */
    for (int i = 0; i < n; i++)
        assert_int_equal(ampc_tensor_zero_grad(ampc_module_parameter(model, i), true), AMPC_OK);
    assert_true(sum_of_squares(gradient_block) == 0);
    assert_views_of_blocks(model, AMPC_F32);
    free_tensors(expected, n);
    ampc_module_free(model);
    ampc_generator_free(generator);
}

static void test_flatten_is_idempotent_and_takes_new_parameters_on_another_call(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(9);
    ampc_module *model = mlp_new(16, generator);
    assert_int_equal(ampc_module_flatten(model), AMPC_OK);
    ampc_tensor *block = ampc_module_parameter_block(model, AMPC_F32);
    int64_t block_numel = ampc_tensor_numel(block);
    size_t parameters = live_bytes(AMPC_MEMORY_PARAMETERS);
    assert_int_equal(ampc_module_flatten(model), AMPC_OK);
    assert_ptr_equal(ampc_module_parameter_block(model, AMPC_F32), block);
    assert_int_equal(live_bytes(AMPC_MEMORY_PARAMETERS), parameters);

    /* A gradient accumulated before the re-flatten moves with it. */
    int64_t shape[2] = {3, 784};
    ampc_tensor *x = random_input(90, 2, shape);
    ampc_tensor *out = ampc_module_forward(model, x);
    ampc_tensor *loss = ampc_sum(out, 0, NULL, false);
    assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
    int n = ampc_module_num_parameters(model);
    ampc_tensor **values = clone_parameters(model);
    ampc_tensor **gradients = calloc((size_t)n, sizeof *gradients);
    for (int i = 0; i < n; i++)
        gradients[i] = ampc_tensor_clone(ampc_tensor_grad(ampc_module_parameter(model, i)));

    ampc_module *last = ampc_module_child(model, 5);
    int64_t extra_shape[1] = {10};
    assert_int_equal(ampc_module_add_parameter(last, "scale",
                                               ampc_tensor_full(AMPC_F32, 1, extra_shape, 2.0),
                                               AMPC_PARAM_WEIGHT),
                     AMPC_OK);
    assert_int_equal(ampc_module_flatten(model), AMPC_OK);
    assert_int_equal(ampc_tensor_numel(ampc_module_parameter_block(model, AMPC_F32)),
                     block_numel + 10);
    assert_views_of_blocks(model, AMPC_F32);
    /* The new parameter sits after 5.bias, in state_dict order. */
    assert_ptr_equal(ampc_module_parameter(model, 6), ampc_module_find(model, "5.scale"));
    for (int i = 0; i < n; i++) {
        ampc_tensor *parameter = ampc_module_parameter(model, i < 6 ? i : i + 1);
        assert_same_tensor(parameter, values[i]);
        assert_same_tensor(ampc_tensor_grad(parameter), gradients[i]);
    }
    /* Only the new blocks are counted (the old ones were released). */
    assert_int_equal(live_bytes(AMPC_MEMORY_PARAMETERS), parameters + 10 * sizeof(float));
    free_tensors(values, n);
    free_tensors(gradients, n);
    ampc_tensor_free(x);
    ampc_tensor_free(out);
    ampc_tensor_free(loss);
    ampc_module_free(model);
    ampc_generator_free(generator);
}

static void test_flatten_inside_an_arena_is_refused(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(10);
    ampc_module *model = ampc_linear_new(3, 2, true, generator);
    ampc_arena *arena = ampc_arena_new();
    ampc_arena_enter(arena);
    assert_int_equal(ampc_module_flatten(model), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "inside an arena");
    ampc_arena_leave(arena);
    ampc_arena_free(arena);
    ampc_module_free(model);
    ampc_generator_free(generator);
}

/* --- dtype conversion ------------------------------------------------------------------------- */

static void test_to_dtype_converts_in_place_of_the_handles(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(11);
    ampc_module *model = cnn_new(generator);
    int count = ampc_module_num_tensors(model);
    ampc_named_tensor before[32];
    ampc_tensor *values[32];
    for (int i = 0; i < count; i++) {
        ampc_module_tensor_at(model, i, &before[i]);
        values[i] = ampc_tensor_cast(before[i].tensor, AMPC_F64);
    }
    assert_int_equal(ampc_module_to_dtype(model, AMPC_F64), AMPC_OK);
    for (int i = 0; i < count; i++) {
        ampc_named_tensor entry;
        ampc_module_tensor_at(model, i, &entry);
        assert_ptr_equal(entry.tensor, before[i].tensor);
        bool counter = entry.kind == AMPC_BUFFER_NUM_BATCHES_TRACKED;
        assert_int_equal(ampc_tensor_dtype(entry.tensor), counter ? AMPC_I64 : AMPC_F64);
        assert_int_equal(ampc_tensor_requires_grad(entry.tensor),
                         !ampc_param_kind_is_buffer(entry.kind));
        assert_int_equal(ampc_tensor_category(entry.tensor), AMPC_MEMORY_PARAMETERS);
        ampc_tensor *expected = counter ? ampc_tensor_cast(values[i], AMPC_I64)
                                        : ampc_tensor_clone(values[i]);
        assert_same_tensor(entry.tensor, expected);
        ampc_tensor_free(expected);
        ampc_tensor_free(values[i]);
    }
    /* The model now runs in F64 end to end. */
    int64_t shape[4] = {2, 1, 28, 28};
    ampc_tensor *x32 = random_input(110, 4, shape);
    ampc_tensor *x = ampc_tensor_cast(x32, AMPC_F64);
    ampc_tensor *out = ampc_module_forward(model, x);
    assert_int_equal(ampc_tensor_dtype(out), AMPC_F64);
    ampc_tensor *loss = ampc_sum(out, 0, NULL, false);
    assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
    assert_int_equal(ampc_tensor_dtype(ampc_tensor_grad(ampc_module_find(model, "0.weight"))),
                     AMPC_F64);
    assert_int_equal(ampc_module_to_dtype(model, AMPC_I32), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "dtype I32 is not one of F64, F32, F16, BF16");
    ampc_tensor *all[] = {x32, x, out, loss};
    for (int i = 0; i < 4; i++) ampc_tensor_free(all[i]);
    ampc_module_free(model);
    ampc_generator_free(generator);
}

static void test_to_dtype_on_a_flattened_module_flattens_again(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(12);
    ampc_module *model = mlp_new(8, generator);
    assert_int_equal(ampc_module_flatten(model), AMPC_OK);
    ampc_tensor **values = clone_parameters(model);
    int n = ampc_module_num_parameters(model);
    assert_int_equal(ampc_module_to_dtype(model, AMPC_F64), AMPC_OK);
    assert_null(ampc_module_parameter_block(model, AMPC_F32));
    assert_views_of_blocks(model, AMPC_F64);
    assert_int_equal(ampc_module_to_dtype(model, AMPC_F32), AMPC_OK);
    assert_views_of_blocks(model, AMPC_F32);
    for (int i = 0; i < n; i++) assert_same_tensor(ampc_module_parameter(model, i), values[i]);
    free_tensors(values, n);
    ampc_module_free(model);
    ampc_generator_free(generator);
}

static void test_flatten_makes_one_block_per_dtype(void **unused)
{
    (void)unused;
    ampc_generator *generator = ampc_generator_new(14);
    ampc_module *layers[] = {ampc_linear_new(6, 5, true, generator),
                             ampc_layer_norm_new(1, (int64_t[]){5}, 1e-5, true),
                             ampc_linear_new(5, 4, true, generator)};
    ampc_module *model = ampc_sequential_new(3, layers);
    /* Only the middle LayerNorm stays F32; the Linears go to BF16. */
    assert_int_equal(ampc_module_to_dtype(ampc_module_child(model, 0), AMPC_BF16), AMPC_OK);
    assert_int_equal(ampc_module_to_dtype(ampc_module_child(model, 2), AMPC_BF16), AMPC_OK);
    assert_int_equal(ampc_module_flatten(model), AMPC_OK);
    ampc_tensor *bf16 = ampc_module_parameter_block(model, AMPC_BF16);
    ampc_tensor *f32 = ampc_module_parameter_block(model, AMPC_F32);
    assert_int_equal(ampc_tensor_numel(bf16), 6 * 5 + 5 + 5 * 4 + 4);
    assert_int_equal(ampc_tensor_numel(f32), 5 + 5);
    assert_int_equal(ampc_tensor_dtype(ampc_module_gradient_block(model, AMPC_BF16)), AMPC_BF16);
    /* In state_dict order within each block: 2.weight follows 0.bias in the BF16 block. */
    char *base = ampc_tensor_data(bf16);
    assert_ptr_equal(ampc_tensor_data(ampc_module_find(model, "2.weight")), base + 2 * (30 + 5));
    assert_ptr_equal(ampc_tensor_data(ampc_module_find(model, "1.bias")),
                     (char *)ampc_tensor_data(f32) + 4 * 5);
    /* A BF16 forward and backward land in both gradient blocks. */
    ampc_tensor *x32 = random_input(140, 2, (int64_t[]){3, 6});
    ampc_tensor *x = ampc_tensor_cast(x32, AMPC_BF16);
    ampc_tensor *out = ampc_module_forward(model, x);
    assert_int_equal(ampc_tensor_dtype(out), AMPC_BF16);
    ampc_tensor *out32 = ampc_cast(out, AMPC_F32);
    ampc_tensor *loss = ampc_sum(out32, 0, NULL, false);
    expect_no_error();
    assert_int_equal(ampc_backward(loss, NULL, false), AMPC_OK);
    assert_true(sum_of_squares(ampc_module_gradient_block(model, AMPC_BF16)) > 0);
    assert_true(sum_of_squares(ampc_module_gradient_block(model, AMPC_F32)) > 0);
    ampc_tensor *all[] = {x32, x, out, out32, loss};
    for (int i = 0; i < 5; i++) ampc_tensor_free(all[i]);
    ampc_module_free(model);
    ampc_generator_free(generator);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mlp_names_match_pytorch_state_dict_keys),
        cmocka_unit_test(test_cnn_names_match_pytorch_state_dict_keys),
        cmocka_unit_test(test_parameters_require_grad_and_buffers_do_not),
        cmocka_unit_test(test_kind_names_and_buffer_kinds),
        cmocka_unit_test(test_train_and_eval_reach_every_descendant),
        cmocka_unit_test(test_names_stay_valid_until_their_own_tree_changes),
        cmocka_unit_test(test_user_module_residual_block_names_forward_and_backward),
        cmocka_unit_test(test_bad_names_and_tensors_are_refused_and_freed),
        cmocka_unit_test(test_null_arguments_fail_without_crashing),
        cmocka_unit_test(test_a_module_is_added_once),
        cmocka_unit_test(test_sequential_errors_free_what_they_were_given),
        cmocka_unit_test(test_flatten_keeps_handles_values_and_names),
        cmocka_unit_test(test_backward_fills_the_gradient_block_and_zero_grad_zeroes_it),
        cmocka_unit_test(test_flatten_is_idempotent_and_takes_new_parameters_on_another_call),
        cmocka_unit_test(test_flatten_inside_an_arena_is_refused),
        cmocka_unit_test(test_flatten_makes_one_block_per_dtype),
        cmocka_unit_test(test_to_dtype_converts_in_place_of_the_handles),
        cmocka_unit_test(test_to_dtype_on_a_flattened_module_flattens_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
