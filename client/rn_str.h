/* rn_str: helpers for rn_str_t (Kafka strings as {ptr, len} slices, len -1 = null, not
 * NUL-terminated). Uuid helpers are in storage/rn_uuid.h.
 *
 *   rn_str_t name = rn_str("orders");            from a C string (NULL gives null)
 *   printf("%.*s", RN_STR_ARGS(topic->name));    print a slice
 *   if (rn_str_eq_cstr(req->client_id, "kcat"))  compare */
#ifndef RN_STR_H
#define RN_STR_H

#include "rn_arena.h"
#include "rn_proto.h"

#include <stdbool.h>
#include <stddef.h>

/* printf arguments for "%.*s": null and empty print as nothing. */
#define RN_STR_ARGS(s) (int)((s).len > 0 ? (s).len : 0), ((s).len > 0 ? (s).ptr : "")

/* A slice of a NUL-terminated string (not copied); NULL gives the null string. */
rn_str_t rn_str(const char *cstr);

static inline bool rn_str_is_null(rn_str_t s)
{
    return s.len < 0;
}

/* Equal when both are null, or both non-null with the same bytes. */
bool rn_str_eq(rn_str_t a, rn_str_t b);
/* Equal to a C string (a NULL cstr matches only the null string). */
bool rn_str_eq_cstr(rn_str_t s, const char *cstr);
/* memcmp order; null sorts before everything. */
int rn_str_cmp(rn_str_t a, rn_str_t b);

/* A NUL-terminated copy from rn_xmalloc (caller frees with rn_free); NULL for null. */
char *rn_str_dup(rn_str_t s);
/* A NUL-terminated copy in the arena; NULL for null or when the arena is exhausted. */
char *rn_str_arena_dup(rn_arena_t *arena, rn_str_t s);
/* Copy into dst[cap] with NUL termination, truncating; returns the slice's length (like
 * snprintf, so a result >= cap means truncated). Null copies as "". */
size_t rn_str_copy(char *dst, size_t cap, rn_str_t s);

/* Owned strings: Kafka strings are length-prefixed and may hold any byte (NUL included), so
 * names that come from the wire (group, member and instance ids, client ids, protocol names)
 * are kept as rn_str_t with their own bytes and compared by length and bytes, never as C
 * strings. rn_str_xdup copies s into rn_xmalloc memory (aborts on OOM) with a NUL after the
 * bytes; null stays null and "" gets its own allocation. rn_str_free frees such a copy
 * (null or empty without one: no-op). */
rn_str_t rn_str_xdup(rn_str_t s);
void rn_str_free(rn_str_t s);

/* s for a log line: printable ASCII as is, other bytes (and backslash) as \xNN, cut at cap - 1
 * bytes of output (ending "..." when cut); null gives "(null)". Returns buf. */
const char *rn_str_escape(char *buf, size_t cap, rn_str_t s);
#define RN_STR_ESC_CAP 160
/* An escaped copy of s in a buffer that lives until the end of the enclosing block, for
 * "%s" in a log call: RN_INFO("group", "group=%s", RN_STR_ESC(id)). */
#define RN_STR_ESC(s) rn_str_escape((char[RN_STR_ESC_CAP]){0}, RN_STR_ESC_CAP, (s))

#endif
