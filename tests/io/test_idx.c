/* Tests for src/io/idx.c: IDX files of every element type, plain and gzipped (written here
 * with zlib), truncated, oversized, with bad magic or absurd dims; MNIST-format folders
 * assembled here; and the real Fashion-MNIST when Debian's dataset-fashion-mnist is installed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <zlib.h>

#include <ampc/ampc.h>
#include <ampc/io.h>

#include "../tensor/tensor_testing.h"
#include "io_testing.h"
#include "test_support.h"

/* An IDX header for type and dims into out; returns its length. */
static size_t idx_header(unsigned char *out, unsigned char type, int ndim, const uint32_t *dims)
{
    out[0] = out[1] = 0;
    out[2] = type;
    out[3] = (unsigned char)ndim;
    for (int dim = 0; dim < ndim; dim++)
        for (int b = 0; b < 4; b++)
            out[4 + 4 * dim + b] = (unsigned char)(dims[dim] >> (24 - 8 * b));
    return 4 + 4 * (size_t)ndim;
}

static void write_gzip(const char *path, const void *bytes, size_t size)
{
    gzFile file = gzopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(gzwrite(file, bytes, (unsigned)size), (int)size);
    assert_int_equal(gzclose(file), Z_OK);
}

/* A (2, 3) u8 IDX file: the values 0, 1, 254, 255, 7, 128. */
static size_t small_u8_idx(unsigned char *bytes)
{
    size_t n = idx_header(bytes, 0x08, 2, (uint32_t[]){2, 3});
    const unsigned char values[6] = {0, 1, 254, 255, 7, 128};
    memcpy(bytes + n, values, 6);
    return n + 6;
}

static void test_reads_plain_and_gzipped_u8_files_alike(void **state)
{
    (void)state;
    char folder[256], plain[512], gzipped[512];
    make_temp_folder(folder);
    unsigned char bytes[64];
    size_t size = small_u8_idx(bytes);
    write_bytes(path_in(plain, folder, "plain-idx2-ubyte"), bytes, size);
    write_gzip(path_in(gzipped, folder, "packed-idx2-ubyte.gz"), bytes, size);
    const char *paths[] = {plain, gzipped};
    for (int i = 0; i < 2; i++) {
        ampc_tensor *tensor = ampc_idx_read(paths[i]);
        assert_non_null(tensor);
        assert_int_equal(ampc_tensor_dtype(tensor), AMPC_U8);
        assert_int_equal(ampc_tensor_ndim(tensor), 2);
        assert_int_equal(ampc_tensor_dim(tensor, 0), 2);
        assert_int_equal(ampc_tensor_dim(tensor, 1), 3);
        assert_values(tensor, (double[]){0, 1, 254, 255, 7, 128}, 6);
        ampc_tensor_free(tensor);
    }
    remove_temp_folder(folder);
}

static void test_reads_big_endian_signed_and_float_types(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    path_in(path, folder, "typed.idx");
    unsigned char bytes[64];
    struct { unsigned char type; unsigned char data[16]; int size; ampc_dtype dtype; double v[2]; }
    cases[] = {
        {0x09, {0xff, 0x7f}, 1, AMPC_I32, {-1, 127}},
        {0x0B, {0xff, 0xfe, 0x01, 0x00}, 2, AMPC_I32, {-2, 256}},
        {0x0C, {0xff, 0xff, 0xff, 0xfd, 0x00, 0x01, 0x00, 0x00}, 4, AMPC_I32, {-3, 65536}},
        {0x0D, {0x3f, 0xc0, 0, 0, 0xc1, 0x20, 0, 0}, 4, AMPC_F32, {1.5, -10}},
        {0x0E, {0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0xc0, 0x24, 0, 0, 0, 0, 0, 0}, 8, AMPC_F64,
         {1.5, -10}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = idx_header(bytes, cases[i].type, 1, (uint32_t[]){2});
        memcpy(bytes + n, cases[i].data, 2 * (size_t)cases[i].size);
        write_bytes(path, bytes, n + 2 * (size_t)cases[i].size);
        ampc_tensor *tensor = ampc_idx_read(path);
        assert_non_null(tensor);
        assert_int_equal(ampc_tensor_dtype(tensor), cases[i].dtype);
        assert_values(tensor, cases[i].v, 2);
        ampc_tensor_free(tensor);
    }
    remove_temp_folder(folder);
}

static void test_malformed_files_fail_naming_the_file_and_the_problem(void **state)
{
    (void)state;
    char folder[256], path[512];
    make_temp_folder(folder);
    unsigned char bytes[64];
    size_t size = small_u8_idx(bytes);

    write_bytes(path_in(path, folder, "short"), bytes, size - 1);
    assert_null(ampc_idx_read(path));
    expect_error(AMPC_ERR_FORMAT, "short\": truncated data: expected 6 bytes after the header, "
                                  "got 5");
    write_gzip(path_in(path, folder, "short.gz"), bytes, size - 1);
    assert_null(ampc_idx_read(path));
    expect_error(AMPC_ERR_FORMAT, "short.gz\": truncated data: expected 6 bytes");

    /* A gzip stream cut in the middle: zlib reports the early end. */
    unsigned char big[4096 + 16];
    size_t n = idx_header(big, 0x08, 1, (uint32_t[]){4096});
    uint32_t random_state = 1;
    for (size_t i = n; i < n + 4096; i++) big[i] = (unsigned char)next_random(&random_state);
    write_gzip(path_in(path, folder, "cut.gz"), big, n + 4096);
    FILE *stream = fopen(path, "rb");
    unsigned char packed[8192];
    size_t packed_size = fread(packed, 1, sizeof packed, stream);
    fclose(stream);
    write_bytes(path, packed, packed_size / 2);
    assert_null(ampc_idx_read(path));
    expect_error(AMPC_ERR_FORMAT, "cut.gz\": truncated");

    write_bytes(path_in(path, folder, "long"), bytes, size);
    stream = fopen(path, "ab");
    fputc(9, stream);
    fclose(stream);
    assert_null(ampc_idx_read(path));
    expect_error(AMPC_ERR_FORMAT, "long\": more data than the dims say");

    bytes[2] = 0x07;
    write_bytes(path_in(path, folder, "magic"), bytes, size);
    assert_null(ampc_idx_read(path));
    expect_error(AMPC_ERR_FORMAT, "magic\": bad magic 00 00 07 02");
    write_bytes(path, "PK\3\4zip", 7);
    assert_null(ampc_idx_read(path));
    expect_error(AMPC_ERR_FORMAT, "bad magic 50 4b 03 04");
    write_bytes(path, "\0\0", 2);
    assert_null(ampc_idx_read(path));
    expect_error(AMPC_ERR_FORMAT, "truncated: 2 bytes, shorter than the 4-byte IDX magic");

    n = idx_header(bytes, 0x0E, 3, (uint32_t[]){0xffffffffu, 0xffffffffu, 0xffffffffu});
    write_bytes(path_in(path, folder, "absurd"), bytes, n);
    assert_null(ampc_idx_read(path));
    expect_error(AMPC_ERR_FORMAT, "absurd\": absurd dims");
    /* Large but representable dims in a tiny file fail as truncated, without a huge buffer. */
    n = idx_header(bytes, 0x08, 2, (uint32_t[]){60000, 60000});
    write_bytes(path, bytes, n + 3);
    assert_null(ampc_idx_read(path));
    expect_error(AMPC_ERR_FORMAT, "truncated data: expected 3600000000 bytes after the header, "
                                  "got 3");

    assert_null(ampc_idx_read(path_in(path, folder, "absent")));
    expect_error(AMPC_ERR_IO, "cannot open \"");
    assert_null(ampc_idx_read(folder));
    expect_error(AMPC_ERR_IO, "not a regular file");
    assert_null(ampc_idx_read(NULL));
    expect_error(AMPC_ERR_NULL_ARGUMENT, "path");
    remove_temp_folder(folder);
}

/* A folder with n images of h x w (pixel = image index + position) and labels i % 10; the
 * images gzipped, the labels plain, as either may be. */
static void write_mnist_folder(const char *folder, const char *prefix, uint32_t n,
                               uint32_t labels_n)
{
    char path[512], name[64];
    static unsigned char bytes[1 << 16];
    size_t size = idx_header(bytes, 0x08, 3, (uint32_t[]){n, 2, 3});
    for (uint32_t i = 0; i < n * 6; i++) bytes[size + i] = (unsigned char)(i / 6 + i % 6);
    snprintf(name, sizeof name, "%s-images-idx3-ubyte.gz", prefix);
    write_gzip(path_in(path, folder, name), bytes, size + n * 6);
    size = idx_header(bytes, 0x08, 1, (uint32_t[]){labels_n});
    for (uint32_t i = 0; i < labels_n; i++) bytes[size + i] = (unsigned char)(i % 10);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
    write_bytes(path_in(path, folder, name), bytes, size + labels_n);
}

static void test_mnist_load_gives_nchw_images_and_i64_labels(void **state)
{
    (void)state;
    char folder[256];
    make_temp_folder(folder);
    write_mnist_folder(folder, "train", 12, 12);
    write_mnist_folder(folder, "t10k", 5, 5);
    ampc_dataset train, test;
    assert_int_equal(ampc_mnist_load(folder, true, &train), AMPC_OK);
    assert_int_equal(ampc_mnist_load(folder, false, &test), AMPC_OK);
    const int64_t expected[4] = {12, 1, 2, 3};
    assert_int_equal(ampc_tensor_ndim(train.images), 4);
    assert_memory_equal(ampc_tensor_shape(train.images), expected, sizeof expected);
    assert_true(ampc_tensor_is_contiguous(train.images));
    assert_int_equal(ampc_tensor_dim(test.images, 0), 5);
    assert_int_equal(ampc_tensor_dtype(train.labels), AMPC_I64);
    const int64_t *labels = ampc_tensor_data(train.labels);
    const unsigned char *pixels = ampc_tensor_data(train.images);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(labels[i], i % 10);
        assert_int_equal(pixels[i * 6 + 5], i + 5);
    }
    ampc_dataset_free(&train);
    ampc_dataset_free(&test);
    assert_null(train.images);
    ampc_dataset_free(NULL);
    remove_temp_folder(folder);
}

static void test_mnist_load_names_missing_files_and_disagreeing_counts(void **state)
{
    (void)state;
    char folder[256];
    make_temp_folder(folder);
    ampc_dataset dataset;
    assert_int_equal(ampc_mnist_load(folder, true, &dataset), AMPC_ERR_IO);
    assert_non_null(strstr(ampc_error_message(), "train-images-idx3-ubyte.gz\" exists"));
    expect_error(AMPC_ERR_IO, "dataset-fashion-mnist");
    assert_null(dataset.images);
    write_mnist_folder(folder, "train", 12, 11);
    assert_int_equal(ampc_mnist_load(folder, true, &dataset), AMPC_ERR_FORMAT);
    expect_error(AMPC_ERR_FORMAT, "has 12 images but 11 labels");
    assert_null(dataset.images);
    assert_int_equal(ampc_mnist_load(NULL, true, &dataset), AMPC_ERR_NULL_ARGUMENT);
    expect_error(AMPC_ERR_NULL_ARGUMENT, "dir");
    remove_temp_folder(folder);
}

static void test_real_fashion_mnist_has_60000_train_and_10000_test_images(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", AMPC_FASHION_MNIST_DIR);
    if (access(path, R_OK) != 0) skip(); /* apt-get install dataset-fashion-mnist */
    const int64_t counts[2] = {10000, 60000};
    for (int train = 0; train < 2; train++) {
        ampc_dataset dataset;
        assert_int_equal(ampc_mnist_load(AMPC_FASHION_MNIST_DIR, train, &dataset), AMPC_OK);
        const int64_t expected[4] = {counts[train], 1, 28, 28};
        assert_memory_equal(ampc_tensor_shape(dataset.images), expected, sizeof expected);
        const int64_t *labels = ampc_tensor_data(dataset.labels);
        int64_t per_class[10] = {0};
        for (int64_t i = 0; i < counts[train]; i++) {
            assert_true(labels[i] >= 0 && labels[i] < 10);
            per_class[labels[i]]++;
        }
        for (int c = 0; c < 10; c++) assert_int_equal(per_class[c], counts[train] / 10);
        ampc_dataset_free(&dataset);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_plain_and_gzipped_u8_files_alike),
        cmocka_unit_test(test_reads_big_endian_signed_and_float_types),
        cmocka_unit_test(test_malformed_files_fail_naming_the_file_and_the_problem),
        cmocka_unit_test(test_mnist_load_gives_nchw_images_and_i64_labels),
        cmocka_unit_test(test_mnist_load_names_missing_files_and_disagreeing_counts),
        cmocka_unit_test(test_real_fashion_mnist_has_60000_train_and_10000_test_images),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
