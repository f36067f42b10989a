/* The replaceable allocator (see rn_alloc.h). */
#include "rn_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rn_allocator_t rn_alloc_current = {malloc, realloc, free};

void rn_alloc_set(const rn_allocator_t *alloc)
{
    if (alloc == NULL) {
        rn_alloc_current = (rn_allocator_t){malloc, realloc, free};
        return;
    }
    rn_alloc_current = *alloc;
}

void *rn_malloc(size_t size)
{
    return rn_alloc_current.malloc_fn(size ? size : 1);
}

void *rn_calloc(size_t count, size_t size)
{
    if (size != 0 && count > (size_t)-1 / size)
        return NULL;
    void *ptr = rn_malloc(count * size);
    if (ptr != NULL)
        memset(ptr, 0, count * size);
    return ptr;
}

void *rn_realloc(void *ptr, size_t size)
{
    return rn_alloc_current.realloc_fn(ptr, size ? size : 1);
}

void rn_free(void *ptr)
{
    if (ptr != NULL)
        rn_alloc_current.free_fn(ptr);
}

static void *rn_alloc_check(void *ptr, size_t size)
{
    if (ptr == NULL) {
        fprintf(stderr, "runnel: out of memory allocating %zu bytes\n", size);
        abort();
    }
    return ptr;
}

void *rn_xmalloc(size_t size)
{
    return rn_alloc_check(rn_malloc(size), size);
}

void *rn_xcalloc(size_t count, size_t size)
{
    return rn_alloc_check(rn_calloc(count, size), count * size);
}

void *rn_xrealloc(void *ptr, size_t size)
{
    return rn_alloc_check(rn_realloc(ptr, size), size);
}

char *rn_xstrndup(const char *s, size_t len)
{
    char *copy = rn_xmalloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    return copy;
}

char *rn_xstrdup(const char *s)
{
    return rn_xstrndup(s, strlen(s));
}
