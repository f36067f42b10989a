/* The text form of the client-quota store, as persisted in the data directory:
 *
 *   # runnel client quotas v1
 *   USER CLIENT KEY VALUE
 *
 * USER and CLIENT are "-" (absent), "<default>", or the name percent-encoded (every byte
 * outside [A-Za-z0-9._] as %XX, NUL included, so no name reads as either marker and none
 * holds a space);
 * VALUE is printed with 17 significant digits so a double reads back exactly. */
#include "quota/rn_qstore.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER "# runnel client quotas v1\n"

typedef struct buf {
    char *p;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? b->cap * 2 : 256;
        b->p = rn_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void put_part(buf_t *b, rn_qpart_t kind, rn_str_t name)
{
    if (kind == RN_QP_ABSENT) {
        put(b, "-", 1);
    } else if (kind == RN_QP_DEFAULT) {
        put(b, "<default>", 9);
    } else {
        const unsigned char *s = (const unsigned char *)name.ptr;
        for (int32_t i = 0; i < name.len; i++) {
            char hex[4];
            if (isalnum(s[i]) || s[i] == '.' || s[i] == '_') {
                put(b, (const char *)&s[i], 1);
            } else {
                snprintf(hex, sizeof(hex), "%%%02X", s[i]);
                put(b, hex, 3);
            }
        }
    }
}

char *rn_qstore_format(const rn_qstore_t *st, size_t *len)
{
    buf_t b = {0};
    put(&b, HEADER, strlen(HEADER));
    for (size_t i = 0; i < rn_qstore_count(st); i++) {
        const rn_qentry_t *ent = rn_qstore_at(st, i);
        for (int k = 0; k < RN_QK__COUNT; k++) {
            if (!ent->has[k])
                continue;
            char num[64];
            put_part(&b, ent->entity.user_kind, ent->entity.user);
            put(&b, " ", 1);
            put_part(&b, ent->entity.client_kind, ent->entity.client);
            int n = snprintf(num, sizeof(num), " %s %.17g\n", rn_qstore_key_name(k), ent->value[k]);
            put(&b, num, (size_t)n);
        }
    }
    *len = b.len;
    return b.p;
}

static int hexval(int c)
{
    return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* Decode one field into out (at most outlen bytes; *name is the slice of it). */
static bool get_part(const char *tok, rn_qpart_t *kind, char *out, size_t outlen, rn_str_t *name)
{
    if (strcmp(tok, "-") == 0) {
        *kind = RN_QP_ABSENT;
        return true;
    }
    if (strcmp(tok, "<default>") == 0) {
        *kind = RN_QP_DEFAULT;
        return true;
    }
    size_t n = 0;
    for (const char *s = tok; *s; s++) {
        int c = (unsigned char)*s;
        if (c == '%') {
            int hi = hexval((unsigned char)s[1]), lo = hi < 0 ? -1 : hexval((unsigned char)s[2]);
            if (lo < 0)
                return false;
            c = hi * 16 + lo;
            s += 2;
        }
        if (n >= outlen)
            return false;
        out[n++] = (char)c;
    }
    *kind = RN_QP_NAME;
    *name = (rn_str_t){out, (int32_t)n};
    return n > 0;
}

static int parse_line(rn_qstore_t *st, char *line)
{
    char *save = NULL;
    char *tu = strtok_r(line, " ", &save), *tc = strtok_r(NULL, " ", &save);
    char *tk = strtok_r(NULL, " ", &save), *tv = strtok_r(NULL, " ", &save);
    if (tv == NULL || strtok_r(NULL, " ", &save) != NULL)
        return RN_EINVAL;
    static char user[4096], client[4096]; /* loop thread only, at start-up */
    rn_qentity_t e = {0};
    if (!get_part(tu, &e.user_kind, user, sizeof(user), &e.user) ||
        !get_part(tc, &e.client_kind, client, sizeof(client), &e.client))
        return RN_EINVAL;
    if (e.user_kind == RN_QP_ABSENT && e.client_kind == RN_QP_ABSENT)
        return RN_EINVAL;
    int key = rn_qstore_key(tk, strlen(tk));
    char *end;
    double v = strtod(tv, &end);
    if (key < 0 || *end != '\0' || !(v > 0))
        return RN_EINVAL;
    rn_qstore_set(st, &e, (rn_qkey_t)key, v);
    return 0;
}

int rn_qstore_parse(rn_qstore_t *st, const char *text, size_t len, char *err, size_t errlen)
{
    char *copy = rn_xstrndup(text, len);
    char *save = NULL;
    int lineno = 0, rc = 0;
    for (char *line = strtok_r(copy, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (parse_line(st, line) != 0) {
            snprintf(err, errlen, "line %d: not USER CLIENT KEY VALUE", lineno);
            rc = RN_EINVAL;
            break;
        }
    }
    rn_free(copy);
    return rc;
}
