/* rn_str_t and rn_uuid_t helpers (see rn_str.h). */
#include "rn_str.h"

#include "rn_alloc.h"

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

bool rn_uuid_is_zero(const rn_uuid_t *id)
{
    static const rn_uuid_t zero;
    return memcmp(id->b, zero.b, 16) == 0;
}

bool rn_uuid_eq(const rn_uuid_t *a, const rn_uuid_t *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

void rn_uuid_format(const rn_uuid_t *id, char out[23])
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)id->b[i] << 16;
        if (i + 1 < 16)
            v |= (uint32_t)id->b[i + 1] << 8;
        if (i + 2 < 16)
            v |= id->b[i + 2];
        out[o++] = alphabet[(v >> 18) & 63];
        out[o++] = alphabet[(v >> 12) & 63];
        if (i + 1 < 16)
            out[o++] = alphabet[(v >> 6) & 63];
        if (i + 2 < 16)
            out[o++] = alphabet[v & 63];
    }
    out[o] = '\0';
}
