/* rn_alloc: the one replaceable allocator every runnel allocation goes through.
 *
 * Two families:
 *  - rn_malloc/rn_calloc/rn_realloc return NULL on failure. Use them for sizes a
 *    client controls (batches, decompression output) so the caller can refuse the
 *    request and keep serving.
 *  - rn_xmalloc/rn_xcalloc/rn_xrealloc/rn_xstrdup abort on failure. Use them for
 *    small internal allocations where recovery is not worth the code.
 * Tests install a failing allocator with rn_alloc_set() to exercise OOM paths. */
#ifndef RN_ALLOC_H
#define RN_ALLOC_H

#include <stddef.h>

typedef struct rn_allocator {
    void *(*malloc_fn)(size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
} rn_allocator_t;

/* Replace the allocator (NULL restores libc). Not thread-safe: call at start-up or in tests. */
void rn_alloc_set(const rn_allocator_t *alloc);

void *rn_malloc(size_t size);
void *rn_calloc(size_t count, size_t size);
void *rn_realloc(void *ptr, size_t size);
void rn_free(void *ptr);

void *rn_xmalloc(size_t size);
void *rn_xcalloc(size_t count, size_t size);
void *rn_xrealloc(void *ptr, size_t size);
char *rn_xstrdup(const char *s);
char *rn_xstrndup(const char *s, size_t len);

#endif
