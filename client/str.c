/* rn_str_t helpers (see rn_str.h). */
#include "rn_str.h"

#include "rn_alloc.h"

#include <stdint.h>
#include <string.h>

rn_str_t rn_str(const char *cstr)
{
    if (cstr == NULL)
        return RN_STR_NULL;
    size_t len = strlen(cstr);
    return (rn_str_t){cstr, len > INT32_MAX ? INT32_MAX : (int32_t)len};
}

bool rn_str_eq(rn_str_t a, rn_str_t b)
{
    if (a.len < 0 || b.len < 0)
        return a.len < 0 && b.len < 0;
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, (size_t)a.len) == 0);
}

bool rn_str_eq_cstr(rn_str_t s, const char *cstr)
{
    return rn_str_eq(s, rn_str(cstr));
}

int rn_str_cmp(rn_str_t a, rn_str_t b)
{
    if (a.len < 0 || b.len < 0)
        return (a.len >= 0) - (b.len >= 0);
    size_t n = (size_t)(a.len < b.len ? a.len : b.len);
    int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0)
        return c;
    return (a.len > b.len) - (a.len < b.len);
}

char *rn_str_dup(rn_str_t s)
{
    if (s.len < 0)
        return NULL;
    return rn_xstrndup(s.len ? s.ptr : "", (size_t)s.len);
}

char *rn_str_arena_dup(rn_arena_t *arena, rn_str_t s)
{
    if (s.len < 0)
        return NULL;
    return rn_arena_strndup(arena, s.len ? s.ptr : "", (size_t)s.len);
}

size_t rn_str_copy(char *dst, size_t cap, rn_str_t s)
{
    size_t len = s.len > 0 ? (size_t)s.len : 0;
    if (cap > 0) {
        size_t n = len < cap - 1 ? len : cap - 1;
        if (n > 0)
            memcpy(dst, s.ptr, n);
        dst[n] = '\0';
    }
    return len;
}

rn_str_t rn_str_xdup(rn_str_t s)
{
    if (s.len < 0)
        return RN_STR_NULL;
    char *p = rn_xmalloc((size_t)s.len + 1);
    if (s.len > 0)
        memcpy(p, s.ptr, (size_t)s.len);
    p[s.len] = '\0';
    return (rn_str_t){p, s.len};
}

void rn_str_free(rn_str_t s)
{
    rn_free((void *)(uintptr_t)s.ptr);
}

/* How many bytes c takes in rn_str_escape's output. */
static size_t escaped_len(unsigned char c)
{
    return c >= 0x20 && c < 0x7f && c != '\\' ? 1 : 4;
}

const char *rn_str_escape(char *buf, size_t cap, rn_str_t s)
{
    static const char hex[] = "0123456789abcdef";
    if (cap == 0)
        return buf;
    if (s.len < 0) {
        rn_str_copy(buf, cap, rn_str("(null)"));
        return buf;
    }
    size_t total = 0;
    for (int32_t i = 0; i < s.len; i++)
        total += escaped_len((unsigned char)s.ptr[i]);
    /* When the whole does not fit, room for "..." stays free. */
    size_t room = total <= cap - 1 ? cap - 1 : (cap - 1 >= 3 ? cap - 1 - 3 : 0);
    size_t w = 0;
    int32_t i = 0;
    for (; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        size_t need = escaped_len(c);
        if (need > room - w)
            break;
        if (need == 1) {
            buf[w++] = (char)c;
        } else {
            buf[w++] = '\\';
            buf[w++] = 'x';
            buf[w++] = hex[c >> 4];
            buf[w++] = hex[c & 15];
        }
    }
    if (i < s.len && cap - 1 - w >= 3) {
        memcpy(buf + w, "...", 3);
        w += 3;
    }
    buf[w] = '\0';
    return buf;
}
