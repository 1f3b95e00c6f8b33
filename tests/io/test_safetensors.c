/* Tests for src/io/safetensors.c and src/io/file.c: round trips of every dtype (0-d and empty
 * tensors, metadata, non-contiguous inputs), a file written byte by byte here (independent of
 * the writer), the layout the writer produces, the real PyTorch fixture when present, every
 * malformed header the reader must refuse, and atomic replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ampc/ampc.h>
#include <ampc/io.h>

#include "../tensor/tensor_testing.h"
#include "io_testing.h"

#define GOLDEN_BATCHES "/work/shared/golden/fashion_batches.safetensors"

/* A tensor of dtype and shape whose bytes are 0, 1, 2, ... (mod 251), any bit pattern. */
static ampc_tensor *patterned(ampc_dtype dtype, int ndim, const int64_t *shape)
{
    ampc_tensor *tensor = ampc_tensor_empty(dtype, ndim, shape);
    assert_non_null(tensor);
    unsigned char *bytes = ampc_tensor_data(tensor);
    for (size_t i = 0; i < ampc_tensor_nbytes(tensor); i++)
        bytes[i] = dtype == AMPC_BOOL ? (unsigned char)(i % 2) : (unsigned char)(i % 251);
    return tensor;
}

static void assert_same_tensor(const ampc_tensor *read, const ampc_tensor *written)
{
    assert_int_equal(ampc_tensor_dtype(read), ampc_tensor_dtype(written));
    assert_int_equal(ampc_tensor_ndim(read), ampc_tensor_ndim(written));
    for (int dim = 0; dim < ampc_tensor_ndim(read); dim++)
        assert_int_equal(ampc_tensor_dim(read, dim), ampc_tensor_dim(written, dim));
    ampc_tensor *contiguous = ampc_tensor_contiguous(written);
    assert_int_equal(ampc_tensor_nbytes(read), ampc_tensor_nbytes(contiguous));
    if (ampc_tensor_nbytes(read))
        assert_memory_equal(ampc_tensor_data(read), ampc_tensor_data(contiguous),
                            ampc_tensor_nbytes(read));
    ampc_tensor_free(contiguous);
}

static void test_round_trip_keeps_every_dtype_shape_bytes_and_metadata(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    path_in(path, folder, "all.safetensors");
    enum { COUNT = AMPC_DTYPE_COUNT + 3 };
    ampc_tensor *tensors[COUNT];
    ampc_safetensors_entry entries[COUNT];
    char names[COUNT][32];
    for (int d = 0; d < AMPC_DTYPE_COUNT; d++) {
        tensors[d] = patterned((ampc_dtype)d, 3, (int64_t[]){2, 3, 5});
        snprintf(names[d], sizeof names[d], "z.%s", ampc_dtype_name((ampc_dtype)d));
    }
    tensors[AMPC_DTYPE_COUNT] = patterned(AMPC_F64, 0, NULL); /* 0-d: one element */
    snprintf(names[AMPC_DTYPE_COUNT], 32, "scalar");
    tensors[AMPC_DTYPE_COUNT + 1] = patterned(AMPC_BF16, 3, (int64_t[]){2, 0, 4}); /* empty */
    snprintf(names[AMPC_DTYPE_COUNT + 1], 32, "empty");
    ampc_tensor *base = patterned(AMPC_F32, 2, (int64_t[]){3, 4});
    tensors[AMPC_DTYPE_COUNT + 2] = ampc_tensor_transpose(base, 0, 1); /* not contiguous */
    snprintf(names[AMPC_DTYPE_COUNT + 2], 32, "a.transposed");
    for (int i = 0; i < COUNT; i++) entries[i] = (ampc_safetensors_entry){names[i], tensors[i]};
    ampc_metadata_entry metadata[] = {{"format", "pt"}, {"note", "ünïcode \"quoted\""}};

    assert_int_equal(ampc_safetensors_write(path, COUNT, entries, 2, metadata), AMPC_OK);
    ampc_safetensors *file = ampc_safetensors_read(path);
    assert_non_null(file);
    assert_int_equal(ampc_safetensors_count(file), COUNT);
    for (int i = 0; i < COUNT; i++) {
        /* Written in the given order, so read back (in offset order) in that order. */
        assert_string_equal(ampc_safetensors_name(file, i), names[i]);
        ampc_tensor *read = ampc_safetensors_get(file, names[i]);
        assert_non_null(read);
        assert_same_tensor(read, tensors[i]);
        ampc_tensor_free(read);
    }
    assert_string_equal(ampc_safetensors_metadata(file, "format"), "pt");
    assert_string_equal(ampc_safetensors_metadata(file, "note"), "ünïcode \"quoted\"");
    assert_null(ampc_safetensors_metadata(file, "absent"));
    expect_no_error();
    ampc_safetensors_free(file);
    for (int i = 0; i < COUNT; i++) ampc_tensor_free(tensors[i]);
    ampc_tensor_free(base);
    remove_temp_folder(folder);
}

/* u64 little-endian length, then the header, then the data: as the format defines it. */
static size_t assemble(unsigned char *out, uint64_t length, const char *header,
                       const void *data, size_t data_size)
{
    for (int i = 0; i < 8; i++) out[i] = (unsigned char)(length >> (8 * i));
    memcpy(out + 8, header, strlen(header));
    memcpy(out + 8 + strlen(header), data, data_size);
    return 8 + strlen(header) + data_size;
}

static void test_reads_a_file_assembled_byte_by_byte_in_offset_order(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    path_in(path, folder, "hand.safetensors");
    /* Keys deliberately not in offset order, header length odd (no padding): both allowed. */
    const char *header = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                         "\"__metadata__\":{\"k\":\"v\"},"
                         "\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                         "\"e\":{\"dtype\":\"U8\",\"shape\":[0,3],\"data_offsets\":[16,16]}}";
    unsigned char data[16] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* -2 */
                              0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x20, 0xc1}; /* 1.5, -10 */
    unsigned char bytes[512];
    write_bytes(path, bytes, assemble(bytes, strlen(header), header, data, sizeof data));

    ampc_safetensors *file = ampc_safetensors_read(path);
    assert_non_null(file);
    assert_int_equal(ampc_safetensors_count(file), 3);
    assert_string_equal(ampc_safetensors_name(file, 0), "a");
    assert_string_equal(ampc_safetensors_name(file, 1), "b");
    assert_string_equal(ampc_safetensors_name(file, 2), "e");
    assert_string_equal(ampc_safetensors_metadata(file, "k"), "v");
    ampc_tensor *a = ampc_safetensors_get(file, "a"), *b = ampc_safetensors_get(file, "b");
    ampc_tensor *e = ampc_safetensors_get(file, "e");
    assert_int_equal(ampc_tensor_ndim(a), 0);
    assert_values(a, (double[]){-2}, 1);
    assert_values(b, (double[]){1.5, -10}, 2);
    assert_int_equal(ampc_tensor_numel(e), 0);
    assert_int_equal(ampc_tensor_dim(e, 1), 3);
    ampc_tensor_free(a);
    ampc_tensor_free(b);
    ampc_tensor_free(e);
    ampc_safetensors_free(file);
    remove_temp_folder(folder);
}

static void test_writer_pads_the_header_with_spaces_and_packs_the_data(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    path_in(path, folder, "layout.safetensors");
    ampc_tensor *x = ampc_tensor_from_data((float[]){1, 2, 3}, AMPC_F32, 1, (int64_t[]){3});
    ampc_tensor *y = ampc_tensor_from_data((int32_t[]){-1}, AMPC_I32, 1, (int64_t[]){1});
    ampc_safetensors_entry entries[] = {{"x", x}, {"y", y}};
    assert_int_equal(ampc_safetensors_write(path, 2, entries, 0, NULL), AMPC_OK);

    FILE *stream = fopen(path, "rb");
    unsigned char bytes[512];
    size_t size = fread(bytes, 1, sizeof bytes, stream);
    fclose(stream);
    uint64_t length = 0;
    for (int i = 7; i >= 0; i--) length = length << 8 | bytes[i];
    assert_int_equal(length % 8, 0);
    assert_int_equal(size, 8 + length + 16);
    const char *expected = "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]},"
                           "\"y\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[12,16]}}";
    assert_memory_equal(bytes + 8, expected, strlen(expected));
    for (size_t i = 8 + strlen(expected); i < 8 + length; i++) assert_int_equal(bytes[i], ' ');
    assert_memory_equal(bytes + 8 + length, ampc_tensor_data(x), 12);
    assert_memory_equal(bytes + 8 + length + 12, ampc_tensor_data(y), 4);
    ampc_tensor_free(x);
    ampc_tensor_free(y);
    remove_temp_folder(folder);
}

static void test_reads_the_pytorch_fixture_of_fashion_batches(void **state)
{
    (void)state;
    if (access(GOLDEN_BATCHES, R_OK) != 0) skip();
    ampc_safetensors *file = ampc_safetensors_read(GOLDEN_BATCHES);
    assert_non_null(file);
    assert_int_equal(ampc_safetensors_count(file), 2);
    ampc_tensor *images = ampc_safetensors_get(file, "images");
    ampc_tensor *labels = ampc_safetensors_get(file, "labels");
    assert_int_equal(ampc_tensor_dtype(images), AMPC_U8);
    assert_int_equal(ampc_tensor_ndim(images), 4);
    const int64_t expected[4] = {2560, 1, 28, 28};
    assert_memory_equal(ampc_tensor_shape(images), expected, sizeof expected);
    assert_int_equal(ampc_tensor_dtype(labels), AMPC_I64);
    assert_int_equal(ampc_tensor_dim(labels, 0), 2560);
    const int64_t *values = ampc_tensor_data(labels);
    for (int i = 0; i < 2560; i++) assert_true(values[i] >= 0 && values[i] < 10);
    ampc_tensor_free(images);
    ampc_tensor_free(labels);
    ampc_safetensors_free(file);
}

typedef struct malformed_case {
    const char *header;  /* NULL: the raw bytes below */
    uint64_t length;     /* 0: strlen(header) */
    size_t data_size;
    const char *expected;
} malformed_case;

#define F32_ENTRY(name, begin, end) \
    "\"" name "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" #begin "," #end "]}"

static const malformed_case malformed_cases[] = {
    {"{}", 1000, 0, "header length 1000 exceeds the 2 bytes"},
    {"{}", (uint64_t)1 << 62, 0, "exceeds"},
    {"{\"a\":", 0, 0, "header is not valid JSON"},
    {"[1, 2]", 0, 0, "header is not an object"},
    {"{\"a\":5}", 0, 0, "tensor \"a\": entry is not an object"},
    {"{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4, "tensor \"a\": entry lacks dtype"},
    {"{\"a\":{\"dtype\":\"F12\",\"shape\":[1],\"data_offsets\":[0,4]}}", 0, 4,
     "tensor \"a\": unknown dtype \"F12\""},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 0, 4,
     "tensor \"a\": shape is not a list of non-negative integers"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 0, 4,
     "tensor \"a\": shape is not a list"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[0,4]}}", 0, 4,
     "tensor \"a\": shape is not a list"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 0, 4,
     "tensor \"a\": data_offsets is not two non-negative integers"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,\"4\"]}}", 0, 4,
     "tensor \"a\": data_offsets is not two"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 0, 8,
     "tensor \"a\": data_offsets begin 8 > end 4"},
    {"{" F32_ENTRY("a", 0, 8) "}", 0, 4, "tensor \"a\": data_offsets out of range: end 8"},
    {"{" F32_ENTRY("a", 0, 12) "}", 0, 12,
     "tensor \"a\": byte count disagrees with the shape: F32 [2] needs 8 bytes; data_offsets "
     "span 12"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 0,
     8, "needs more than"},
    {"{" F32_ENTRY("a", 0, 8) "," F32_ENTRY("b", 4, 12) "}", 0, 12,
     "tensor \"b\": overlaps: starts at byte 4 but the previous tensor ends at 8"},
    {"{" F32_ENTRY("a", 0, 8) "," F32_ENTRY("b", 12, 20) "}", 0, 20,
     "tensor \"b\": gap before it: starts at byte 12"},
    {"{" F32_ENTRY("a", 4, 12) "}", 0, 12, "tensor \"a\": gap before it: starts at byte 4"},
    {"{" F32_ENTRY("a", 0, 8) "}", 0, 11, "3 trailing bytes after the last tensor"},
    {"{" F32_ENTRY("a", 0, 8) "," F32_ENTRY("a", 8, 16) "}", 0, 16, "duplicate object key"},
    {"{\"__metadata__\":{\"k\":1}}", 0, 0, "\"__metadata__\" value is not a string: key k"},
    {"{\"__metadata__\":[]}", 0, 0, "\"__metadata__\" is not an object"},
    {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 0, 4,
     "shape has too many dims (9 dims"},
};

static void test_malformed_files_fail_naming_the_file_the_tensor_and_the_problem(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    path_in(path, folder, "broken.safetensors");
    static unsigned char bytes[4096], zeros[64];
    for (size_t i = 0; i < sizeof malformed_cases / sizeof *malformed_cases; i++) {
        const malformed_case *c = &malformed_cases[i];
        uint64_t length = c->length ? c->length : strlen(c->header);
        write_bytes(path, bytes, assemble(bytes, length, c->header, zeros, c->data_size));
        ampc_safetensors *file = ampc_safetensors_read(path);
        if (file) fail_msg("case %zu (%s) was accepted", i, c->header);
        if (!strstr(ampc_error_message(), path))
            fail_msg("case %zu: \"%s\" does not name the file", i, ampc_error_message());
        expect_error(AMPC_ERR_FORMAT, c->expected);
    }
    write_bytes(path, "\x02\0\0\0\0", 5);
    assert_null(ampc_safetensors_read(path));
    expect_error(AMPC_ERR_FORMAT, "file is 5 bytes, shorter than the 8-byte header length");
    path_in(path, folder, "absent.safetensors");
    assert_null(ampc_safetensors_read(path));
    expect_error(AMPC_ERR_IO, "absent.safetensors\": No such file");
    remove_temp_folder(folder);
}

static void test_write_replaces_an_existing_file_atomically_and_leaves_no_temporary(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    path_in(path, folder, "model.safetensors");
    ampc_tensor *old = ampc_tensor_full(AMPC_F32, 1, (int64_t[]){1000}, 1.0);
    ampc_tensor *new = ampc_tensor_full(AMPC_F64, 1, (int64_t[]){3}, 2.0);
    assert_int_equal(ampc_safetensors_write(path, 1, &(ampc_safetensors_entry){"w", old}, 0,
                                            NULL), AMPC_OK);
    assert_int_equal(ampc_safetensors_write(path, 1, &(ampc_safetensors_entry){"v", new}, 0,
                                            NULL), AMPC_OK);
    assert_int_equal(count_entries(folder), 1);
    ampc_safetensors *file = ampc_safetensors_read(path);
    assert_int_equal(ampc_safetensors_count(file), 1);
    ampc_tensor *read = ampc_safetensors_get(file, "v");
    assert_values(read, (double[]){2, 2, 2}, 3);
    ampc_tensor_free(read);
    ampc_safetensors_free(file);

    /* A rename that fails (the target is a folder) removes the temporary and keeps the target. */
    char blocked[512];
    path_in(blocked, folder, "blocked");
    assert_int_equal(mkdir(blocked, 0700), 0);
    assert_int_equal(ampc_safetensors_write(blocked, 1, &(ampc_safetensors_entry){"v", new}, 0,
                                            NULL), AMPC_ERR_IO);
    expect_error(AMPC_ERR_IO, "cannot rename");
    assert_int_equal(count_entries(folder), 2);
    assert_int_equal(rmdir(blocked), 0);

    path_in(path, folder, "missing/model.safetensors");
    assert_int_equal(ampc_safetensors_write(path, 1, &(ampc_safetensors_entry){"v", new}, 0,
                                            NULL), AMPC_ERR_IO);
    expect_error(AMPC_ERR_IO, "cannot create a temporary file next to");
    ampc_tensor_free(old);
    ampc_tensor_free(new);
    remove_temp_folder(folder);
}

static void test_write_rejects_bad_entries_before_touching_the_disk(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    path_in(path, folder, "x.safetensors");
    ampc_tensor *t = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){2});
    ampc_safetensors_entry twice[] = {{"w", t}, {"w", t}};
    assert_int_equal(ampc_safetensors_write(path, 2, twice, 0, NULL), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "entries[0] and entries[1] are both named \"w\"");
    ampc_safetensors_entry reserved[] = {{"__metadata__", t}};
    assert_int_equal(ampc_safetensors_write(path, 1, reserved, 0, NULL),
                     AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "reserves");
    ampc_safetensors_entry missing[] = {{"w", NULL}};
    assert_int_equal(ampc_safetensors_write(path, 1, missing, 0, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "entries[0].tensor is NULL");
    assert_int_equal(ampc_safetensors_write(path, -1, NULL, 0, NULL), AMPC_ERR_INVALID_ARGUMENT);
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "count -1");
    ampc_metadata_entry bad_metadata[] = {{"k", NULL}};
    assert_int_equal(ampc_safetensors_write(path, 0, NULL, 1, bad_metadata),
                     AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "metadata[0].value is NULL");
    assert_int_equal(ampc_safetensors_write(NULL, 0, NULL, 0, NULL), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "path");
    assert_int_equal(count_entries(folder), 0);
    ampc_tensor_free(t);
    remove_temp_folder(folder);
}

static void test_queries_name_the_missing_tensor_and_propagate_null(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    path_in(path, folder, "one.safetensors");
    ampc_tensor *t = ampc_tensor_zeros(AMPC_F32, 1, (int64_t[]){2});
    assert_int_equal(ampc_safetensors_write(path, 1, &(ampc_safetensors_entry){"w", t}, 0, NULL),
                     AMPC_OK);
    ampc_safetensors *file = ampc_safetensors_read(path);
    assert_null(ampc_safetensors_get(file, "bias"));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "one.safetensors\" has no tensor named \"bias\"");
    assert_null(ampc_safetensors_name(file, 1));
    expect_error(AMPC_ERR_INVALID_ARGUMENT, "index 1 is out of range [0, 1)");
    assert_null(ampc_safetensors_read(NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "path");
    assert_int_equal(ampc_safetensors_count(NULL), 0);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "file");
    assert_null(ampc_safetensors_get(NULL, "w"));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "file");
    ampc_safetensors_free(NULL);
    ampc_safetensors_free(file);
    ampc_tensor_free(t);
    remove_temp_folder(folder);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_keeps_every_dtype_shape_bytes_and_metadata),
        cmocka_unit_test(test_reads_a_file_assembled_byte_by_byte_in_offset_order),
        cmocka_unit_test(test_writer_pads_the_header_with_spaces_and_packs_the_data),
        cmocka_unit_test(test_reads_the_pytorch_fixture_of_fashion_batches),
        cmocka_unit_test(test_malformed_files_fail_naming_the_file_the_tensor_and_the_problem),
        cmocka_unit_test(test_write_replaces_an_existing_file_atomically_and_leaves_no_temporary),
        cmocka_unit_test(test_write_rejects_bad_entries_before_touching_the_disk),
        cmocka_unit_test(test_queries_name_the_missing_tensor_and_propagate_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
