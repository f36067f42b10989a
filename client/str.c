/* rn_str_t helpers (see rn_str.h). */
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
