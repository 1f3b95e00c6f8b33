/* Internal side of ampc/memory.h's byte counts, and the aligned allocator all tensor storage
 * goes through. */
#ifndef AMPC_CORE_MEMORY_H
#define AMPC_CORE_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include <ampc/memory.h>

/* Every storage buffer is aligned to this, enough for one AVX-512 register or AMX tile row. */
#define AMPC_STORAGE_ALIGNMENT 64

/* 64-byte aligned; NULL on failure (the caller reports it). */
void *ampc_aligned_alloc(size_t bytes);
void ampc_aligned_free(void *pointer);

/* Adds (or with a negative delta, removes) live bytes in a category; updates the peaks. */
void ampc_memory_count(ampc_memory_category category, int64_t delta_bytes);

#endif
