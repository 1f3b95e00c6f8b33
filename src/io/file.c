/* Whole-file reading and atomic writing (see file.h). */
#include "io/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

ampc_status ampc_file_read_all(const char *function, const char *path, unsigned char **bytes,
                               size_t *size)
{
    *bytes = NULL;
    *size = 0;
    FILE *stream = fopen(path, "rb");
    if (!stream)
        return ampc_fail(AMPC_ERR_IO, function, "cannot open \"%s\": %s", path, strerror(errno));
    struct stat info;
    if (fstat(fileno(stream), &info) != 0 || !S_ISREG(info.st_mode)) {
        fclose(stream);
        return ampc_fail(AMPC_ERR_IO, function, "\"%s\" is not a regular file", path);
    }
    size_t length = (size_t)info.st_size;
    unsigned char *buffer = length ? malloc(length) : NULL;
    if (length && !buffer) {
        fclose(stream);
        return ampc_fail_oom(function, length);
    }
    size_t got = length ? fread(buffer, 1, length, stream) : 0;
    int failed = ferror(stream);
    fclose(stream);
    if (got != length || failed) {
        free(buffer);
        return ampc_fail(AMPC_ERR_IO, function, "cannot read \"%s\": got %zu of %zu bytes",
                         path, got, length);
    }
    *bytes = buffer;
    *size = length;
    return AMPC_OK;
}

ampc_status ampc_file_write_bytes(const char *function, const char *path, FILE *stream,
                                  const void *bytes, size_t size)
{
    if (size == 0 || fwrite(bytes, 1, size, stream) == size) return AMPC_OK;
    return ampc_fail(AMPC_ERR_IO, function, "cannot write \"%s\": %s", path, strerror(errno));
}

/* Creates "<path>.tmp-<pid>-<n>" exclusively (mode 0666 less the umask, as fopen would give
 * the target). Returns the open stream and fills temp_path, or NULL with the error set. */
static FILE *open_temporary(const char *function, const char *path, char *temp_path,
                            size_t capacity)
{
    static atomic_uint counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned n = atomic_fetch_add(&counter, 1);
        int written = snprintf(temp_path, capacity, "%s.tmp-%ld-%u", path, (long)getpid(), n);
        if (written < 0 || (size_t)written >= capacity) {
            ampc_fail(AMPC_ERR_INVALID_ARGUMENT, function, "path \"%s\" is too long", path);
            return NULL;
        }
        int fd = open(temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno == EEXIST) continue;
        if (fd < 0) {
            ampc_fail(AMPC_ERR_IO, function, "cannot create a temporary file next to \"%s\": %s",
                      path, strerror(errno));
            return NULL;
        }
        FILE *stream = fdopen(fd, "wb");
        if (!stream) {
            close(fd);
            unlink(temp_path);
            ampc_fail(AMPC_ERR_IO, function, "cannot open \"%s\": %s", temp_path,
                      strerror(errno));
        }
        return stream;
    }
    ampc_fail(AMPC_ERR_IO, function, "cannot create a temporary file next to \"%s\"", path);
    return NULL;
}

/* Best effort: makes the rename itself durable. A failure here leaves a complete file in
 * place, so it is not reported. */
static void sync_folder(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

ampc_status ampc_file_write_atomic(const char *function, const char *path,
                                   ampc_file_writer write, void *context)
{
    char temp_path[4096];
    FILE *stream = open_temporary(function, path, temp_path, sizeof temp_path);
    if (!stream) return ampc_error_status();
    ampc_status status = write(stream, context);
    if (status == AMPC_OK && (fflush(stream) != 0 || fsync(fileno(stream)) != 0))
        status = ampc_fail(AMPC_ERR_IO, function, "cannot write \"%s\": %s", temp_path,
                           strerror(errno));
    if (fclose(stream) != 0 && status == AMPC_OK)
        status = ampc_fail(AMPC_ERR_IO, function, "cannot close \"%s\": %s", temp_path,
                           strerror(errno));
    if (status == AMPC_OK && rename(temp_path, path) != 0)
        status = ampc_fail(AMPC_ERR_IO, function, "cannot rename \"%s\" to \"%s\": %s",
                           temp_path, path, strerror(errno));
    if (status != AMPC_OK) {
        unlink(temp_path);
        return status;
    }
    sync_folder(path);
    return AMPC_OK;
}
