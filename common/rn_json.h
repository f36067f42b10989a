/* rn_json: a JSON writer into one growable buffer, capped, with a sticky error.
 *
 *   rn_json_t j;
 *   rn_json_init(&j, 1 << 20);           at most 1 MiB of output
 *   rn_json_obj(&j);
 *   rn_json_key(&j, "topic"); rn_json_str(&j, name);
 *   rn_json_key(&j, "offsets"); rn_json_arr(&j); rn_json_i64(&j, 5); rn_json_end(&j);
 *   rn_json_end(&j);
 *   if (j.err == 0) send(j.buf, j.len);  checked once, at the end (SQLite's sticky error)
 *   rn_json_free(&j);
 *
 * Commas between members and elements are placed here, so callers only open, name and
 * close. Strings are escaped for JSON and for embedding in HTML (<, >, & as \u escapes);
 * bytes that are not valid UTF-8 become U+FFFD, so any byte string yields valid JSON. After
 * the first failure (RN_ETOOBIG past the cap, RN_ENOMEM, RN_EINVAL for nesting deeper than
 * RN_JSON_MAX_DEPTH or a close without an open) every call does nothing. buf is NUL-terminated
 * while err is 0. */
#ifndef RN_JSON_H
#define RN_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RN_JSON_MAX_DEPTH 32

typedef struct rn_json {
    char *buf; /* rn_malloc'd; owned until rn_json_take or rn_json_free */
    size_t len, cap, max;
    int err;            /* 0, or the first RN_E* */
    int depth;          /* open objects and arrays */
    bool comma;         /* the next member or element needs a comma before it */
    uint32_t in_object; /* bit d: level d + 1 is an object (keys expected) */
} rn_json_t;

/* An empty writer whose output may grow to max bytes (0: 16 MiB). */
void rn_json_init(rn_json_t *j, size_t max);
void rn_json_free(rn_json_t *j);
/* The buffer, handed to the caller (rn_free it); the writer is empty again. */
char *rn_json_take(rn_json_t *j, size_t *len);

void rn_json_obj(rn_json_t *j);
void rn_json_arr(rn_json_t *j);
/* Close the innermost object or array. */
void rn_json_end(rn_json_t *j);
/* The next member's name (inside an object). */
void rn_json_key(rn_json_t *j, const char *key);

void rn_json_str(rn_json_t *j, const char *s); /* NULL writes null */
void rn_json_strn(rn_json_t *j, const char *s, size_t len);
void rn_json_i64(rn_json_t *j, int64_t v);
void rn_json_u64(rn_json_t *j, uint64_t v);
/* Finite numbers with up to 6 significant decimals; NaN and infinities write null. */
void rn_json_double(rn_json_t *j, double v);
void rn_json_bool(rn_json_t *j, bool v);
void rn_json_null(rn_json_t *j);
/* bytes as lowercase hex digits in a string. */
void rn_json_hex(rn_json_t *j, const uint8_t *p, size_t len);
/* A value written elsewhere, copied as it is (the caller vouches it is valid JSON). */
void rn_json_raw(rn_json_t *j, const char *json, size_t len);

/* Shorthands: key then value. */
void rn_json_kstr(rn_json_t *j, const char *key, const char *s);
void rn_json_ki64(rn_json_t *j, const char *key, int64_t v);
void rn_json_kbool(rn_json_t *j, const char *key, bool v);
void rn_json_kdouble(rn_json_t *j, const char *key, double v);

/* True when s[0..len) is valid UTF-8 (no overlongs, surrogates or values past U+10FFFF). */
bool rn_json_utf8_valid(const uint8_t *s, size_t len);

#endif
