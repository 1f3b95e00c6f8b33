/* safetensors files: reading with full validation, and atomic writing.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON, then the data section. The JSON
 * object maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (byte
 * offsets into the data section) and may hold "__metadata__", an object of strings.
 *
 * Reading keeps the whole file in memory and checks what Hugging Face's reader checks: the
 * header fits in the file (and below its 100 MB limit), is a JSON object without duplicate
 * keys, each entry has a known dtype, a shape of non-negative integers and two offsets whose
 * difference is the shape's byte count, and the tensors, ordered by offset, tile the data
 * section exactly (each starts where the previous ended: no overlap, no gap, nothing after
 * the last). As in that reader, the order of the keys in the JSON carries no meaning. Every
 * error names the file, the tensor and the problem.
 *
 * Writing puts the tensors in the order given (Hugging Face's writer sorts by dtype and
 * name; a state_dict keeps its own order here, so reading it back lists the tensors in
 * state_dict order), the header padded with spaces to a multiple of 8 bytes so that the data
 * section is 8-byte aligned, and the data contiguous and little-endian. */
#include "io/safetensors.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/file.h"
#include "tensor/tensor_internal.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; ampc reads and writes it as host-order bytes"
#endif

/* Hugging Face's reader refuses larger headers (MAX_HEADER_SIZE). */
#define HEADER_LIMIT 100000000u

#define METADATA_KEY "__metadata__"

struct ampc_safetensors {
    char *path;
    unsigned char *bytes;         /* the whole file */
    const unsigned char *data;    /* its data section */
    int count;
    ampc_safetensors_tensor *tensors; /* ordered by data offset */
    int metadata_count;
    char **metadata_keys;
    char **metadata_values;
};

void ampc_safetensors_free(ampc_safetensors *file)
{
    if (!file) return;
    for (int i = 0; i < file->count; i++) free(file->tensors[i].name);
    for (int i = 0; i < file->metadata_count; i++) {
        free(file->metadata_keys[i]);
        free(file->metadata_values[i]);
    }
    free(file->tensors);
    free(file->metadata_keys);
    free(file->metadata_values);
    free(file->bytes);
    free(file->path);
    free(file);
}

/* --- reading ------------------------------------------------------------------------------- */

/* What the parse of one file needs to report errors. */
typedef struct parse_context {
    const char *path;
    uint64_t data_size;
} parse_context;

static ampc_status fail_format(const parse_context *reader, const char *name, const char *problem,
                               const char *detail)
{
    if (name)
        return ampc_fail(AMPC_ERR_FORMAT, "ampc_safetensors_read", "\"%s\": tensor \"%s\": %s%s",
                         reader->path, name, problem, detail);
    return ampc_fail(AMPC_ERR_FORMAT, "ampc_safetensors_read", "\"%s\": %s%s", reader->path,
                     problem, detail);
}

static ampc_status parse_dtype(const parse_context *reader, const char *name, const json_t *value,
                               ampc_dtype *dtype)
{
    const char *text = json_string_value(value);
    for (int d = 0; text && d < AMPC_DTYPE_COUNT; d++)
        if (strcmp(text, ampc_dtype_name((ampc_dtype)d)) == 0) {
            *dtype = (ampc_dtype)d;
            return AMPC_OK;
        }
    char detail[160];
    snprintf(detail, sizeof detail, "\"%.40s\"; expected one of F64 F32 F16 BF16 F8_E4M3 "
             "F8_E5M2 I64 I32 U8 BOOL", text ? text : "(not a string)");
    return fail_format(reader, name, "unknown dtype ", detail);
}

static ampc_status parse_shape(const parse_context *reader, const char *name, const json_t *value,
                               ampc_safetensors_tensor *tensor)
{
    if (!json_is_array(value))
        return fail_format(reader, name, "shape is not a list of non-negative integers", "");
    size_t ndim = json_array_size(value);
    if (ndim > AMPC_MAX_DIMS) {
        char detail[80];
        snprintf(detail, sizeof detail, " (%zu dims; ampc tensors have at most %d)", ndim,
                 AMPC_MAX_DIMS);
        return fail_format(reader, name, "shape has too many dims", detail);
    }
    tensor->ndim = (int)ndim;
    for (size_t dim = 0; dim < ndim; dim++) {
        const json_t *size = json_array_get(value, dim);
        if (!json_is_integer(size) || json_integer_value(size) < 0)
            return fail_format(reader, name, "shape is not a list of non-negative integers", "");
        tensor->shape[dim] = json_integer_value(size);
    }
    return AMPC_OK;
}

static ampc_status parse_offsets(const parse_context *reader, const char *name, const json_t *value,
                                 ampc_safetensors_tensor *tensor)
{
    const json_t *begin = json_array_get(value, 0), *end = json_array_get(value, 1);
    if (!json_is_array(value) || json_array_size(value) != 2 || !json_is_integer(begin) ||
        !json_is_integer(end) || json_integer_value(begin) < 0 || json_integer_value(end) < 0)
        return fail_format(reader, name, "data_offsets is not two non-negative integers", "");
    tensor->begin = (uint64_t)json_integer_value(begin);
    tensor->end = (uint64_t)json_integer_value(end);
    char detail[AMPC_SHAPE_TEXT_CAPACITY + 120];
    if (tensor->begin > tensor->end) {
        snprintf(detail, sizeof detail, "begin %" PRIu64 " > end %" PRIu64, tensor->begin,
                 tensor->end);
        return fail_format(reader, name, "data_offsets ", detail);
    }
    if (tensor->end > reader->data_size) {
        snprintf(detail, sizeof detail, "end %" PRIu64 " is beyond the %" PRIu64
                 "-byte data section", tensor->end, reader->data_size);
        return fail_format(reader, name, "data_offsets out of range: ", detail);
    }
    /* The byte count of the shape, which must be what the offsets span. */
    uint64_t bytes = ampc_dtype_size(tensor->dtype);
    bool overflow = false;
    for (int dim = 0; dim < tensor->ndim; dim++)
        overflow |= __builtin_mul_overflow(bytes, (uint64_t)tensor->shape[dim], &bytes);
    if (overflow || bytes != tensor->end - tensor->begin) {
        char shape[AMPC_SHAPE_TEXT_CAPACITY];
        ampc_format_shape(shape, sizeof shape, tensor->ndim, tensor->shape);
        snprintf(detail, sizeof detail, "%s %s needs %s%" PRIu64 " bytes; data_offsets span %"
                 PRIu64, ampc_dtype_name(tensor->dtype), shape, overflow ? "more than " : "",
                 overflow ? UINT64_MAX : bytes, tensor->end - tensor->begin);
        return fail_format(reader, name, "byte count disagrees with the shape: ", detail);
    }
    return AMPC_OK;
}

static ampc_status parse_tensor(const parse_context *reader, const char *name, const json_t *value,
                                ampc_safetensors_tensor *tensor)
{
    if (!json_is_object(value))
        return fail_format(reader, name, "entry is not an object", "");
    const char *fields[] = {"dtype", "shape", "data_offsets"};
    for (int i = 0; i < 3; i++)
        if (!json_object_get(value, fields[i]))
            return fail_format(reader, name, "entry lacks ", fields[i]);
    ampc_status status = parse_dtype(reader, name, json_object_get(value, "dtype"),
                                     &tensor->dtype);
    if (status == AMPC_OK)
        status = parse_shape(reader, name, json_object_get(value, "shape"), tensor);
    if (status == AMPC_OK)
        status = parse_offsets(reader, name, json_object_get(value, "data_offsets"), tensor);
    if (status != AMPC_OK) return status;
    tensor->name = strdup(name);
    return tensor->name ? AMPC_OK : ampc_fail_oom("ampc_safetensors_read", strlen(name) + 1);
}

static ampc_status parse_metadata(const parse_context *reader, ampc_safetensors *file,
                                  const json_t *metadata)
{
    if (!json_is_object(metadata))
        return fail_format(reader, NULL, "\"" METADATA_KEY "\" is not an object", "");
    size_t count = json_object_size(metadata);
    file->metadata_keys = calloc(count + 1, sizeof(char *));
    file->metadata_values = calloc(count + 1, sizeof(char *));
    if (!file->metadata_keys || !file->metadata_values)
        return ampc_fail_oom("ampc_safetensors_read", count * sizeof(char *));
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)metadata, key, value) {
        if (!json_is_string(value))
            return fail_format(reader, NULL, "\"" METADATA_KEY "\" value is not a string: key ",
                               key);
        int i = file->metadata_count++;
        file->metadata_keys[i] = strdup(key);
        file->metadata_values[i] = strdup(json_string_value(value));
        if (!file->metadata_keys[i] || !file->metadata_values[i])
            return ampc_fail_oom("ampc_safetensors_read", strlen(key) + 1);
    }
    return AMPC_OK;
}

/* Orders by offset; the header position breaks ties between empty tensors. */
static int compare_offsets(const void *left, const void *right)
{
    const ampc_safetensors_tensor *a = left, *b = right;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return (a->header_index > b->header_index) - (a->header_index < b->header_index);
}

/* The tensors, ordered by offset, must cover the data section exactly. */
static ampc_status check_tiling(const parse_context *reader, const ampc_safetensors *file)
{
    uint64_t cursor = 0;
    char detail[160];
    for (int i = 0; i < file->count; i++) {
        const ampc_safetensors_tensor *tensor = &file->tensors[i];
        if (tensor->begin != cursor) {
            snprintf(detail, sizeof detail, "starts at byte %" PRIu64 " but the previous "
                     "tensor ends at %" PRIu64 " (data must be contiguous, in offset order)",
                     tensor->begin, cursor);
            return fail_format(reader, tensor->name,
                               tensor->begin < cursor ? "overlaps: " : "gap before it: ",
                               detail);
        }
        cursor = tensor->end;
    }
    if (cursor != reader->data_size) {
        snprintf(detail, sizeof detail, "%" PRIu64 " trailing bytes after the last tensor "
                 "(data section %" PRIu64 " bytes, tensors cover %" PRIu64 ")",
                 reader->data_size - cursor, reader->data_size, cursor);
        return fail_format(reader, NULL, detail, "");
    }
    return AMPC_OK;
}

static ampc_status parse_header(parse_context *reader, ampc_safetensors *file, const char *header,
                                size_t length)
{
    json_error_t error;
    json_t *root = json_loadb(header, length, JSON_REJECT_DUPLICATES, &error);
    if (!root) return fail_format(reader, NULL, "header is not valid JSON: ", error.text);
    ampc_status status = AMPC_OK;
    if (!json_is_object(root)) status = fail_format(reader, NULL, "header is not an object", "");
    size_t entries = status == AMPC_OK ? json_object_size(root) : 0;
    file->tensors = calloc(entries + 1, sizeof *file->tensors);
    if (status == AMPC_OK && !file->tensors)
        status = ampc_fail_oom("ampc_safetensors_read", entries * sizeof *file->tensors);
    const char *name;
    json_t *value;
    if (status == AMPC_OK) json_object_foreach(root, name, value) {
        if (strcmp(name, METADATA_KEY) == 0)
            status = parse_metadata(reader, file, value);
        else if ((status = parse_tensor(reader, name, value, &file->tensors[file->count])) ==
                 AMPC_OK) {
            file->tensors[file->count].header_index = file->count;
            file->count++;
        }
        if (status != AMPC_OK) break;
    }
    json_decref(root);
    if (status != AMPC_OK) return status;
    if (file->count > 0) qsort(file->tensors, (size_t)file->count, sizeof *file->tensors,
                               compare_offsets);
    return check_tiling(reader, file);
}

static ampc_status parse_file(ampc_safetensors *file)
{
    parse_context reader = {.path = file->path};
    size_t size = 0;
    ampc_status status = ampc_file_read_all("ampc_safetensors_read", file->path, &file->bytes,
                                            &size);
    if (status != AMPC_OK) return status;
    char detail[160];
    if (size < 8) {
        snprintf(detail, sizeof detail, "file is %zu bytes, shorter than the 8-byte header "
                 "length", size);
        return fail_format(&reader, NULL, detail, "");
    }
    uint64_t length = 0;
    for (int i = 7; i >= 0; i--) length = length << 8 | file->bytes[i];
    if (length > size - 8 || length > HEADER_LIMIT) {
        snprintf(detail, sizeof detail, "header length %" PRIu64 " exceeds the %zu bytes after "
                 "the length field (or the %u-byte limit)", length, size - 8, HEADER_LIMIT);
        return fail_format(&reader, NULL, detail, "");
    }
    reader.data_size = size - 8 - length;
    file->data = file->bytes + 8 + length;
    return parse_header(&reader, file, (const char *)file->bytes + 8, (size_t)length);
}

ampc_safetensors *ampc_safetensors_read(const char *path)
{
    if (!path) {
        ampc_fail_null(__func__, "path");
        return NULL;
    }
    ampc_safetensors *file = calloc(1, sizeof *file);
    if (file) file->path = strdup(path);
    if (!file || !file->path) {
        free(file);
        ampc_fail_oom(__func__, sizeof *file);
        return NULL;
    }
    if (parse_file(file) != AMPC_OK) {
        ampc_safetensors_free(file);
        return NULL;
    }
    return file;
}

/* --- queries ------------------------------------------------------------------------------- */

int ampc_safetensors_count(const ampc_safetensors *file)
{
    if (!file) return ampc_fail_null(__func__, "file"), 0;
    return file->count;
}

const char *ampc_safetensors_name(const ampc_safetensors *file, int index)
{
    if (!file) return ampc_fail_null(__func__, "file"), NULL;
    if (index < 0 || index >= file->count) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__, "index %d is out of range [0, %d)", index,
                  file->count);
        return NULL;
    }
    return file->tensors[index].name;
}

const ampc_safetensors_tensor *ampc_safetensors_find(const ampc_safetensors *file,
                                                     const char *name)
{
    for (int i = 0; i < file->count; i++)
        if (strcmp(file->tensors[i].name, name) == 0) return &file->tensors[i];
    return NULL;
}

const char *ampc_safetensors_path(const ampc_safetensors *file)
{
    return file->path;
}

ampc_tensor *ampc_safetensors_get(const ampc_safetensors *file, const char *name)
{
    if (!file) return ampc_null_tensor(__func__, "file");
    if (!name) return ampc_null_tensor(__func__, "name");
    const ampc_safetensors_tensor *entry = ampc_safetensors_find(file, name);
    if (!entry) {
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, __func__, "\"%s\" has no tensor named \"%s\"",
                  file->path, name);
        return NULL;
    }
    ampc_tensor *tensor = ampc_tensor_empty(entry->dtype, entry->ndim, entry->shape);
    if (tensor && entry->end > entry->begin)
        memcpy(ampc_tensor_data(tensor), file->data + entry->begin, entry->end - entry->begin);
    return tensor;
}

const char *ampc_safetensors_metadata(const ampc_safetensors *file, const char *key)
{
    if (!file) return ampc_fail_null(__func__, "file"), NULL;
    if (!key) return ampc_fail_null(__func__, "key"), NULL;
    for (int i = 0; i < file->metadata_count; i++)
        if (strcmp(file->metadata_keys[i], key) == 0) return file->metadata_values[i];
    return NULL;
}

/* --- writing ------------------------------------------------------------------------------- */

typedef struct write_context {
    const char *path;
    int count;
    const ampc_safetensors_entry *entries;
    const char *header; /* JSON, unpadded */
} write_context;

static ampc_status check_entries(int count, const ampc_safetensors_entry *entries,
                                 int metadata_count, const ampc_metadata_entry *metadata)
{
    const char *function = "ampc_safetensors_write";
    if (count < 0 || metadata_count < 0)
        return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "count %d and metadata_count %d "
                         "must be >= 0", count, metadata_count);
    if (count > 0 && !entries) return ampc_fail_null(function, "entries");
    if (metadata_count > 0 && !metadata) return ampc_fail_null(function, "metadata");
    for (int i = 0; i < count; i++) {
        if (!entries[i].name || !entries[i].tensor)
            return ampc_fail(AMPC_ERR_NULL_ARGUMENT, function, "entries[%d].%s is NULL", i,
                             entries[i].name ? "tensor" : "name");
        if (strcmp(entries[i].name, METADATA_KEY) == 0)
            return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "entries[%d].name is \""
                             METADATA_KEY "\", which the format reserves", i);
        for (int j = 0; j < i; j++)
            if (strcmp(entries[i].name, entries[j].name) == 0)
                return ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "entries[%d] and "
                                 "entries[%d] are both named \"%s\"; names must be unique", j,
                                 i, entries[i].name);
    }
    for (int i = 0; i < metadata_count; i++)
        if (!metadata[i].key || !metadata[i].value)
            return ampc_fail(AMPC_ERR_NULL_ARGUMENT, function, "metadata[%d].%s is NULL", i,
                             metadata[i].key ? "value" : "key");
    return AMPC_OK;
}

static json_t *tensor_json(const ampc_tensor *tensor, uint64_t begin, uint64_t end)
{
    json_t *shape = json_array();
    for (int dim = 0; dim < ampc_tensor_ndim(tensor); dim++)
        json_array_append_new(shape, json_integer(ampc_tensor_dim(tensor, dim)));
    return json_pack("{s:s, s:o, s:[I, I]}", "dtype", ampc_dtype_name(ampc_tensor_dtype(tensor)),
                     "shape", shape, "data_offsets", (json_int_t)begin, (json_int_t)end);
}

/* The JSON header (unpadded, malloc'd), or NULL with the error set. */
static char *build_header(int count, const ampc_safetensors_entry *entries, int metadata_count,
                          const ampc_metadata_entry *metadata)
{
    json_t *root = json_object();
    bool ok = root != NULL;
    if (ok && metadata_count > 0) {
        json_t *object = json_object();
        for (int i = 0; ok && i < metadata_count; i++)
            ok = json_object_set_new(object, metadata[i].key, json_string(metadata[i].value)) ==
                 0;
        ok = ok && json_object_set_new(root, METADATA_KEY, object) == 0;
    }
    uint64_t offset = 0;
    for (int i = 0; ok && i < count; i++) {
        uint64_t bytes = ampc_tensor_nbytes(entries[i].tensor);
        json_t *entry = tensor_json(entries[i].tensor, offset, offset + bytes);
        ok = entry && json_object_set_new(root, entries[i].name, entry) == 0;
        offset += bytes;
    }
    char *header = ok ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    if (!header)
        ampc_fail(AMPC_ERR_INVALID_ARGUMENT, "ampc_safetensors_write", "cannot build the JSON "
                  "header (names and metadata must be valid UTF-8)");
    return header;
}

static ampc_status write_contents(FILE *stream, void *context)
{
    const write_context *writer = context;
    const char *function = "ampc_safetensors_write";
    size_t length = strlen(writer->header);
    size_t padded = (length + 7) / 8 * 8;
    unsigned char prefix[8];
    for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";
    ampc_status status = ampc_file_write_bytes(function, writer->path, stream, prefix, 8);
    if (status == AMPC_OK)
        status = ampc_file_write_bytes(function, writer->path, stream, writer->header, length);
    if (status == AMPC_OK)
        status = ampc_file_write_bytes(function, writer->path, stream, spaces, padded - length);
    for (int i = 0; status == AMPC_OK && i < writer->count; i++) {
        ampc_tensor *contiguous = ampc_tensor_contiguous(writer->entries[i].tensor);
        if (!contiguous) return ampc_error_status();
        status = ampc_file_write_bytes(function, writer->path, stream,
                                       ampc_tensor_data(contiguous),
                                       ampc_tensor_nbytes(contiguous));
        ampc_tensor_free(contiguous);
    }
    return status;
}

ampc_status ampc_safetensors_write(const char *path, int count,
                                   const ampc_safetensors_entry *entries, int metadata_count,
                                   const ampc_metadata_entry *metadata)
{
    if (!path) return ampc_fail_null(__func__, "path");
    ampc_status status = check_entries(count, entries, metadata_count, metadata);
    if (status != AMPC_OK) return status;
    char *header = build_header(count, entries, metadata_count, metadata);
    if (!header) return ampc_error_status();
    write_context writer = {.path = path, .count = count, .entries = entries, .header = header};
    status = ampc_file_write_atomic(__func__, path, write_contents, &writer);
    free(header);
    return status;
}
