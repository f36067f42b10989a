/* rn_json: the JSON writer (see rn_json.h). */
#include "rn_json.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define RN_JSON_DEFAULT_MAX ((size_t)16 << 20)

void rn_json_init(rn_json_t *j, size_t max)
{
    memset(j, 0, sizeof(*j));
    j->max = max ? max : RN_JSON_DEFAULT_MAX;
}

void rn_json_free(rn_json_t *j)
{
    rn_free(j->buf);
    size_t max = j->max;
    rn_json_init(j, max);
}

char *rn_json_take(rn_json_t *j, size_t *len)
{
    char *buf = j->buf;
    *len = j->len;
    size_t max = j->max;
    rn_json_init(j, max);
    return buf;
}

/* Room for n more bytes and the NUL; false (and err set) when there is none. */
static bool reserve(rn_json_t *j, size_t n)
{
    if (j->err)
        return false;
    if (n > j->max - j->len) {
        j->err = RN_ETOOBIG;
        return false;
    }
    if (j->len + n + 1 <= j->cap)
        return true;
    size_t cap = j->cap ? j->cap : 256;
    while (cap < j->len + n + 1)
        cap *= 2;
    char *buf = rn_realloc(j->buf, cap);
    if (buf == NULL) {
        j->err = RN_ENOMEM;
        return false;
    }
    j->buf = buf;
    j->cap = cap;
    return true;
}

static void put(rn_json_t *j, const char *s, size_t n)
{
    if (!reserve(j, n))
        return;
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

/* Before a value: its comma; a value where a key is due is a misuse. */
static bool value_begin(rn_json_t *j)
{
    if (j->err)
        return false;
    if (j->comma)
        put(j, ",", 1);
    j->comma = true;
    return j->err == 0;
}

static void open(rn_json_t *j, char c, bool object)
{
    if (!value_begin(j))
        return;
    if (j->depth >= RN_JSON_MAX_DEPTH) {
        j->err = RN_EINVAL;
        return;
    }
    put(j, &c, 1);
    if (object)
        j->in_object |= 1u << j->depth;
    else
        j->in_object &= ~(1u << j->depth);
    j->depth++;
    j->comma = false;
}

void rn_json_obj(rn_json_t *j)
{
    open(j, '{', true);
}

void rn_json_arr(rn_json_t *j)
{
    open(j, '[', false);
}

void rn_json_end(rn_json_t *j)
{
    if (j->err)
        return;
    if (j->depth == 0) {
        j->err = RN_EINVAL;
        return;
    }
    j->depth--;
    put(j, j->in_object & (1u << j->depth) ? "}" : "]", 1);
    j->comma = true;
}

/* Length of the valid UTF-8 sequence at s[0..len) (s[0] >= 0x80), or 0. */
static size_t utf8_seq(const uint8_t *s, size_t len)
{
    size_t n;
    uint32_t cp;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        n = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        n = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        n = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n > len)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool rn_json_utf8_valid(const uint8_t *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
    }
    return true;
}

static void put_escaped(rn_json_t *j, const uint8_t *s, size_t len)
{
    put(j, "\"", 1);
    size_t run = 0; /* bytes s[i - run .. i) to copy as they are */
    for (size_t i = 0; i < len && j->err == 0;) {
        uint8_t c = s[i];
        size_t n = 1;
        const char *esc = NULL;
        char tmp[8];
        if (c >= 0x80) {
            n = utf8_seq(s + i, len - i);
            if (n == 0) {
                n = 1;
                esc = "\xef\xbf\xbd"; /* U+FFFD */
            }
        } else if (c == '"') {
            esc = "\\\"";
        } else if (c == '\\') {
            esc = "\\\\";
        } else if (c == '\n') {
            esc = "\\n";
        } else if (c == '\r') {
            esc = "\\r";
        } else if (c == '\t') {
            esc = "\\t";
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) {
            snprintf(tmp, sizeof(tmp), "\\u%04x", c);
            esc = tmp;
        }
        if (esc == NULL) {
            run += n;
            i += n;
            continue;
        }
        put(j, (const char *)s + i - run, run);
        run = 0;
        put(j, esc, strlen(esc));
        i += n;
    }
    put(j, (const char *)s + len - run, run);
    put(j, "\"", 1);
}

void rn_json_key(rn_json_t *j, const char *key)
{
    if (j->err)
        return;
    if (j->depth == 0 || !(j->in_object & (1u << (j->depth - 1)))) {
        j->err = RN_EINVAL;
        return;
    }
    if (j->comma)
        put(j, ",", 1);
    put_escaped(j, (const uint8_t *)key, strlen(key));
    put(j, ":", 1);
    j->comma = false;
}

void rn_json_strn(rn_json_t *j, const char *s, size_t len)
{
    if (value_begin(j))
        put_escaped(j, (const uint8_t *)s, len);
}

void rn_json_str(rn_json_t *j, const char *s)
{
    if (s == NULL)
        rn_json_null(j);
    else
        rn_json_strn(j, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void put_num(rn_json_t *j, const char *fmt, ...)
{
    char tmp[40];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (value_begin(j))
        put(j, tmp, (size_t)n);
}

void rn_json_i64(rn_json_t *j, int64_t v)
{
    put_num(j, "%lld", (long long)v);
}

void rn_json_u64(rn_json_t *j, uint64_t v)
{
    put_num(j, "%llu", (unsigned long long)v);
}

void rn_json_double(rn_json_t *j, double v)
{
    if (!isfinite(v))
        rn_json_null(j);
    else
        put_num(j, "%.6g", v);
}

void rn_json_bool(rn_json_t *j, bool v)
{
    if (value_begin(j))
        put(j, v ? "true" : "false", v ? 4 : 5);
}

void rn_json_null(rn_json_t *j)
{
    if (value_begin(j))
        put(j, "null", 4);
}

void rn_json_hex(rn_json_t *j, const uint8_t *p, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    if (!value_begin(j) || len > (j->max - 2) / 2 || !reserve(j, len * 2 + 2)) {
        if (j->err == 0)
            j->err = RN_ETOOBIG;
        return;
    }
    char *o = j->buf + j->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        *o++ = digits[p[i] >> 4];
        *o++ = digits[p[i] & 15];
    }
    *o++ = '"';
    j->len += len * 2 + 2;
    j->buf[j->len] = '\0';
}

void rn_json_raw(rn_json_t *j, const char *json, size_t len)
{
    if (value_begin(j))
        put(j, json, len);
}

void rn_json_kstr(rn_json_t *j, const char *key, const char *s)
{
    rn_json_key(j, key);
    rn_json_str(j, s);
}

void rn_json_ki64(rn_json_t *j, const char *key, int64_t v)
{
    rn_json_key(j, key);
    rn_json_i64(j, v);
}

void rn_json_kbool(rn_json_t *j, const char *key, bool v)
{
    rn_json_key(j, key);
    rn_json_bool(j, v);
}

void rn_json_kdouble(rn_json_t *j, const char *key, double v)
{
    rn_json_key(j, key);
    rn_json_double(j, v);
}
