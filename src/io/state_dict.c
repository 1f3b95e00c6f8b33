/* A module's state_dict to and from safetensors: every parameter and buffer by its full
 * dotted name, as torch's model.state_dict() / load_state_dict().
 *
 * Loading is all or nothing: names, shapes and the strict key sets are checked, and every
 * tensor is read from the file, before the first module tensor is written. The copy goes
 * into the module's own tensors (ampc_tensor_copy), so views into flat parameter blocks and
 * an optimizer's references stay valid; a dtype that differs converts as ampc_tensor_copy
 * does, with one warning per tensor on stderr. */
#include <ampc/io.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/safetensors.h"
#include "tensor/tensor_internal.h"

/* How many missing or unexpected names a strict error lists. */
#define LISTED_NAMES 5

ampc_status ampc_module_save(const ampc_module *module, const char *path)
{
    if (!module) return ampc_fail_null(__func__, "module");
    if (!path) return ampc_fail_null(__func__, "path");
    int count = ampc_module_num_tensors(module);
    ampc_safetensors_entry *entries = calloc((size_t)count + 1, sizeof *entries);
    if (!entries) return ampc_fail_oom(__func__, (size_t)count * sizeof *entries);
    ampc_status status = AMPC_OK;
    for (int i = 0; status == AMPC_OK && i < count; i++) {
        ampc_named_tensor named;
        status = ampc_module_tensor_at(module, i, &named);
        entries[i] = (ampc_safetensors_entry){.name = named.name, .tensor = named.tensor};
    }
    if (status == AMPC_OK) status = ampc_safetensors_write(path, count, entries, 0, NULL);
    free(entries);
    return status;
}

/* Appends `name` to a "a", "b", ... list of at most LISTED_NAMES, then counts the rest. */
static void list_name(char *text, size_t capacity, int *listed, const char *name)
{
    size_t used = strlen(text);
    if (*listed < LISTED_NAMES)
        snprintf(text + used, capacity - used, "%s\"%s\"", *listed ? ", " : "", name);
    (*listed)++;
}

/* The strict check: every module tensor in the file and every file tensor in the module. */
static ampc_status check_keys(const ampc_module *module, const ampc_safetensors *file)
{
    char missing[512] = "", unexpected[512] = "";
    int missing_count = 0, unexpected_count = 0;
    int count = ampc_module_num_tensors(module);
    for (int i = 0; i < count; i++) {
        ampc_named_tensor named;
        if (ampc_module_tensor_at(module, i, &named) != AMPC_OK) return ampc_error_status();
        if (!ampc_safetensors_find(file, named.name))
            list_name(missing, sizeof missing, &missing_count, named.name);
    }
    for (int i = 0; i < ampc_safetensors_count(file); i++) {
        const char *name = ampc_safetensors_name(file, i);
        if (!ampc_module_find(module, name))
            list_name(unexpected, sizeof unexpected, &unexpected_count, name);
    }
    if (missing_count == 0 && unexpected_count == 0) return AMPC_OK;
    return ampc_fail(AMPC_ERR_FORMAT, "ampc_module_load", "\"%s\" does not match the module "
                     "(strict): %d missing key(s) [%s%s], %d unexpected key(s) [%s%s]",
                     ampc_safetensors_path(file), missing_count, missing,
                     missing_count > LISTED_NAMES ? ", ..." : "", unexpected_count, unexpected,
                     unexpected_count > LISTED_NAMES ? ", ..." : "");
}

/* Checks the shape of a tensor present in both, and reads it from the file. */
static ampc_tensor *read_matching(const ampc_safetensors *file, const char *name,
                                  const ampc_tensor *target)
{
    const ampc_safetensors_tensor *entry = ampc_safetensors_find(file, name);
    bool same = entry->ndim == target->ndim &&
                memcmp(entry->shape, target->shape, (size_t)entry->ndim * sizeof(int64_t)) == 0;
    if (!same) {
        char given[AMPC_SHAPE_TEXT_CAPACITY], expected[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(given, sizeof given, entry->ndim, entry->shape);
        ampc_format_shape(expected, sizeof expected, target->ndim, target->shape);
        ampc_fail(AMPC_ERR_FORMAT, "ampc_module_load", "\"%s\": tensor \"%s\" has shape %s; "
                  "the module's has %s", ampc_safetensors_path(file), name, given, expected);
        return NULL;
    }
    return ampc_safetensors_get(file, name);
}

/* Reads every module tensor the file holds into sources[i] (NULL where it lacks one). */
static ampc_status read_sources(const ampc_module *module, const ampc_safetensors *file,
                                ampc_tensor **sources, int count)
{
    for (int i = 0; i < count; i++) {
        ampc_named_tensor named;
        if (ampc_module_tensor_at(module, i, &named) != AMPC_OK) return ampc_error_status();
        if (!ampc_safetensors_find(file, named.name)) continue;
        sources[i] = read_matching(file, named.name, named.tensor);
        if (!sources[i]) return ampc_error_status();
    }
    return AMPC_OK;
}

static ampc_status copy_sources(ampc_module *module, const char *path, ampc_tensor **sources,
                                int count)
{
    for (int i = 0; i < count; i++) {
        if (!sources[i]) continue;
        ampc_named_tensor named;
        ampc_status status = ampc_module_tensor_at(module, i, &named);
        if (status != AMPC_OK) return status;
        if (sources[i]->dtype != named.tensor->dtype)
            fprintf(stderr, "ampc_module_load: warning: \"%s\": tensor \"%s\" is %s in the file "
                    "and %s in the module; converting\n", path, named.name,
                    ampc_dtype_name(sources[i]->dtype), ampc_dtype_name(named.tensor->dtype));
        status = ampc_tensor_copy(named.tensor, sources[i]);
        if (status != AMPC_OK) return status;
    }
    return AMPC_OK;
}

ampc_status ampc_module_load(ampc_module *module, const char *path, bool strict)
{
    if (!module) return ampc_fail_null(__func__, "module");
    if (!path) return ampc_fail_null(__func__, "path");
    ampc_safetensors *file = ampc_safetensors_read(path);
    if (!file) return ampc_error_status();
    int count = ampc_module_num_tensors(module);
    ampc_tensor **sources = calloc((size_t)count + 1, sizeof *sources);
    ampc_status status =
        sources ? AMPC_OK : ampc_fail_oom(__func__, (size_t)count * sizeof *sources);
    if (status == AMPC_OK && strict) status = check_keys(module, file);
    if (status == AMPC_OK) status = read_sources(module, file, sources, count);
    if (status == AMPC_OK) status = copy_sources(module, path, sources, count);
    for (int i = 0; sources && i < count; i++) ampc_tensor_free(sources[i]);
    free(sources);
    ampc_safetensors_free(file);
    return status;
}
