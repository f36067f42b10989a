/* rn_arena: per-request memory. Everything a decoded request (and the response built for
 * it) needs is allocated here and released at once with rn_arena_reset() when the response
 * has been queued, so decoders and handlers never free individual objects.
 *
 * Memory comes from rn_malloc() in blocks; an allocation that fails, or that would take the
 * arena past its limit, returns NULL (never aborts) because request sizes are chosen by the
 * client. Allocations are aligned for any type (max_align_t). Not thread-safe: one arena
 * belongs to one request (or one connection reusing it request after request). */
#ifndef RN_ARENA_H
#define RN_ARENA_H

#include <stddef.h>

/* Default cap on the bytes one arena hands out (a decoded request can expand to a few times
 * its wire size; the broker's frame-size limit keeps real requests far below this). */
#define RN_ARENA_DEFAULT_LIMIT ((size_t)256 << 20)

struct rn_arena_block;

typedef struct rn_arena {
    struct rn_arena_block *head; /* block allocations come from; older blocks follow */
    size_t used;                 /* bytes handed out since the last reset */
    size_t limit;                /* rn_arena_alloc fails beyond this many bytes */
} rn_arena_t;

/* Initialise an empty arena (no memory is taken until the first allocation).
 * limit 0 means RN_ARENA_DEFAULT_LIMIT. */
void rn_arena_init(rn_arena_t *arena, size_t limit);

/* size bytes, uninitialised, aligned for any type; NULL when out of memory or over limit.
 * A zero size returns a valid unique pointer. */
void *rn_arena_alloc(rn_arena_t *arena, size_t size);

/* count * size zeroed bytes, with overflow checking; NULL on failure. */
void *rn_arena_calloc(rn_arena_t *arena, size_t count, size_t size);

/* A copy of len bytes at ptr; NULL on failure. */
void *rn_arena_memdup(rn_arena_t *arena, const void *ptr, size_t len);

/* A NUL-terminated copy of len bytes at str; NULL on failure. */
char *rn_arena_strndup(rn_arena_t *arena, const char *str, size_t len);

/* Release everything allocated since the last reset. The first block is kept for reuse,
 * so a connection's arena stops calling malloc once it has warmed up. */
void rn_arena_reset(rn_arena_t *arena);

/* Release all memory; the arena may be initialised again. */
void rn_arena_free(rn_arena_t *arena);

/* Bytes handed out since the last reset (including alignment padding). */
size_t rn_arena_used(const rn_arena_t *arena);

#endif
