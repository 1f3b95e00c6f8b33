/* Whole-file reading and atomic writing, shared by the safetensors and IDX code.
 *
 * Writing is atomic: the bytes go to a new temporary file in the target's folder (so the
 * rename stays on one file system), which is flushed, fsynced and renamed over the target.
 * A reader therefore sees either the old file or the whole new one, never a torn write; on any
 * failure the temporary file is removed and the target is untouched. */
#ifndef AMPC_IO_FILE_H
#define AMPC_IO_FILE_H

#include <stddef.h>
#include <stdio.h>

#include <ampc/error.h>

/* The whole file into a new malloc'd buffer (*bytes, freed by the caller; NULL for an empty
 * file) of *size bytes. Fails with AMPC_ERR_IO naming `function`, the path and the reason. */
ampc_status ampc_file_read_all(const char *function, const char *path, unsigned char **bytes,
                               size_t *size);

/* Writes one file atomically: write(stream, context) writes the contents to stream and
 * returns AMPC_OK or a failure it has recorded. */
typedef ampc_status (*ampc_file_writer)(FILE *stream, void *context);
ampc_status ampc_file_write_atomic(const char *function, const char *path,
                                   ampc_file_writer write, void *context);

/* fwrite that records an AMPC_ERR_IO naming the path on a short write. */
ampc_status ampc_file_write_bytes(const char *function, const char *path, FILE *stream,
                                  const void *bytes, size_t size);

#endif
