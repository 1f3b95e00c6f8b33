/* Helpers the io tests share: a private temporary folder, writing raw bytes to a file in it,
 * and listing what it holds. Include after cmocka's prerequisites and <cmocka.h>. */
#ifndef AMPC_IO_TESTING_H
#define AMPC_IO_TESTING_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A new empty folder under $TMPDIR (or /tmp), into folder (capacity 256). */
static inline void make_temp_folder(char *folder)
{
    const char *base = getenv("TMPDIR");
    snprintf(folder, 256, "%s/ampc-io-XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(folder));
}

/* folder/name into path (capacity 512). */
static inline const char *path_in(char *path, const char *folder, const char *name)
{
    snprintf(path, 512, "%s/%s", folder, name);
    return path;
}

static inline void write_bytes(const char *path, const void *bytes, size_t size)
{
    FILE *stream = fopen(path, "wb");
    assert_non_null(stream);
    assert_int_equal(fwrite(bytes, 1, size, stream), size);
    assert_int_equal(fclose(stream), 0);
}

/* Entries of folder other than . and .. */
static inline int count_entries(const char *folder)
{
    DIR *dir = opendir(folder);
    assert_non_null(dir);
    int count = 0;
    for (struct dirent *entry; (entry = readdir(dir));)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) count++;
    closedir(dir);
    return count;
}

/* Removes every file in folder (tests make no subfolders but the ones they remove), then it. */
static inline void remove_temp_folder(const char *folder)
{
    DIR *dir = opendir(folder);
    assert_non_null(dir);
    char path[512];
    for (struct dirent *entry; (entry = readdir(dir));)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
            path_in(path, folder, entry->d_name);
            if (unlink(path) != 0) rmdir(path);
        }
    closedir(dir);
    assert_int_equal(rmdir(folder), 0);
}

#endif
