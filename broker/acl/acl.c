/* rn_acl: the ACL set, Kafka's validation of bindings and filters, filter matching and the
 * authorization decision (rn_acl.h). */
#include "acl/rn_acl.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_vec.h"

#include <ctype.h>
#include <string.h>

struct rn_acls {
    rn_acl_t *items; /* in the order added */
    size_t n, cap;
    uint64_t generation;
};

rn_acls_t *rn_acls_new(void)
{
    return rn_xcalloc(1, sizeof(rn_acls_t));
}

static void acl_release(rn_acl_t *acl)
{
    rn_free(acl->resource_name);
    rn_free(acl->principal);
    rn_free(acl->host);
}

void rn_acls_clear(rn_acls_t *acls)
{
    for (size_t i = 0; i < acls->n; i++)
        acl_release(&acls->items[i]);
    acls->n = 0;
    acls->generation++;
}

void rn_acls_free(rn_acls_t *acls)
{
    if (acls == NULL)
        return;
    rn_acls_clear(acls);
    rn_free(acls->items);
    rn_free(acls);
}

static char *dup_slice(rn_str_t s)
{
    return rn_xstrndup(s.ptr != NULL && s.len > 0 ? s.ptr : "", s.len > 0 ? (size_t)s.len : 0);
}

static rn_acl_t *find_id(const rn_acls_t *acls, const rn_uuid_t *id)
{
    for (size_t i = 0; i < acls->n; i++)
        if (rn_uuid_equal(&acls->items[i].id, id))
            return &acls->items[i];
    return NULL;
}

void rn_acls_add(rn_acls_t *acls, const rn_uuid_t *id, int8_t resource_type, rn_str_t name,
                 int8_t pattern_type, rn_str_t principal, rn_str_t host, int8_t operation,
                 int8_t permission)
{
    rn_acl_t acl = {.id = *id,
                    .resource_type = resource_type,
                    .pattern_type = pattern_type,
                    .operation = operation,
                    .permission = permission,
                    .resource_name = dup_slice(name),
                    .principal = dup_slice(principal),
                    .host = dup_slice(host)};
    rn_acl_t *old = find_id(acls, id);
    if (old != NULL) {
        acl_release(old);
        *old = acl;
    } else {
        rn_vec_xpush(acls->items, acls->n, acls->cap, acl);
    }
    acls->generation++;
}

int rn_acls_remove(rn_acls_t *acls, const rn_uuid_t *id)
{
    rn_acl_t *acl = find_id(acls, id);
    if (acl == NULL)
        return RN_ENOTFOUND;
    acl_release(acl);
    size_t pos = (size_t)(acl - acls->items);
    memmove(acl, acl + 1, (acls->n - pos - 1) * sizeof(*acl));
    acls->n--;
    acls->generation++;
    return 0;
}

size_t rn_acls_count(const rn_acls_t *acls)
{
    return acls->n;
}

const rn_acl_t *rn_acls_at(const rn_acls_t *acls, size_t i)
{
    return i < acls->n ? &acls->items[i] : NULL;
}

uint64_t rn_acls_generation(const rn_acls_t *acls)
{
    return acls->generation;
}

static bool eq_cstr(rn_str_t s, const char *c)
{
    size_t n = strlen(c);
    return s.len >= 0 && (size_t)s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

const rn_acl_t *rn_acls_find(const rn_acls_t *acls, int8_t resource_type, rn_str_t name,
                             int8_t pattern_type, rn_str_t principal, rn_str_t host,
                             int8_t operation, int8_t permission)
{
    for (size_t i = 0; i < acls->n; i++) {
        const rn_acl_t *a = &acls->items[i];
        if (a->resource_type == resource_type && a->pattern_type == pattern_type &&
            a->operation == operation && a->permission == permission &&
            eq_cstr(name, a->resource_name) && eq_cstr(principal, a->principal) &&
            eq_cstr(host, a->host))
            return a;
    }
    return NULL;
}

/* ---- validation ---- */

static bool code_in(int8_t code, int lo, int hi)
{
    return code >= lo && code <= hi;
}

/* Kafka's KafkaPrincipal.fromString: "Type:name" with a non-empty type. */
static bool principal_ok(rn_str_t p)
{
    if (p.len <= 0)
        return false;
    const char *colon = memchr(p.ptr, ':', (size_t)p.len);
    return colon != NULL && colon != p.ptr;
}

/* The set keeps names, principals and hosts as C strings, so a NUL inside one would cut it
 * into another binding than the one asked for (found by fuzz_acl). */
static bool has_nul(rn_str_t s)
{
    return s.len > 0 && memchr(s.ptr, '\0', (size_t)s.len) != NULL;
}

int16_t rn_acl_check_binding(int8_t resource_type, rn_str_t name, int8_t pattern_type,
                             rn_str_t principal, rn_str_t host, int8_t operation, int8_t permission,
                             const char **why)
{
    const char *w = NULL;
    if (!code_in(resource_type, RN_ACL_RES_TOPIC, RN_ACL_RES_USER))
        w = "Invalid resource type";
    else if (pattern_type != RN_ACL_PAT_LITERAL && pattern_type != RN_ACL_PAT_PREFIXED)
        w = "Invalid pattern type";
    else if (!code_in(operation, RN_ACL_OP_ALL, RN_ACL_OP_DESCRIBE_TOKENS))
        w = "Invalid operation";
    else if (permission != RN_ACL_PERM_ALLOW && permission != RN_ACL_PERM_DENY)
        w = "Invalid permission type";
    else if (name.len <= 0)
        w = "Resource name should not be empty";
    else if (!principal_ok(principal))
        w = "Could not parse principal";
    else if (host.len <= 0)
        w = "Invalid host";
    else if (resource_type == RN_ACL_RES_CLUSTER && !eq_cstr(name, RN_ACL_CLUSTER_NAME))
        w = "The only valid name for the CLUSTER resource is kafka-cluster";
    else if (has_nul(name) || has_nul(principal) || has_nul(host))
        w = "A resource name, principal or host must not contain a NUL byte";
    if (why != NULL)
        *why = w;
    return w == NULL ? RN_KERR_NONE : RN_KERR_INVALID_REQUEST;
}

int16_t rn_acl_check_filter(const rn_acl_filter_t *f, const char **why)
{
    const char *w = NULL;
    if (!code_in(f->resource_type, RN_ACL_RES_ANY, RN_ACL_RES_USER))
        w = "Filter contains an unknown resource type";
    else if (!code_in(f->pattern_type, RN_ACL_PAT_ANY, RN_ACL_PAT_PREFIXED))
        w = "Filter contains an unknown pattern type";
    else if (!code_in(f->operation, RN_ACL_OP_ANY, RN_ACL_OP_DESCRIBE_TOKENS))
        w = "Filter contains an unknown operation";
    else if (!code_in(f->permission, RN_ACL_PERM_ANY, RN_ACL_PERM_ALLOW))
        w = "Filter contains an unknown permission type";
    if (why != NULL)
        *why = w;
    return w == NULL ? RN_KERR_NONE : RN_KERR_INVALID_REQUEST;
}

/* ---- matching ---- */

static bool slice_eq(rn_str_t s, const char *c)
{
    return s.len < 0 || eq_cstr(s, c); /* null: anything */
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return n <= len && memcmp(s, prefix, n) == 0;
}

/* Kafka's ResourcePattern: does the binding's pattern apply to name? */
static bool pattern_applies(const rn_acl_t *acl, const char *name, size_t len)
{
    if (acl->pattern_type == RN_ACL_PAT_LITERAL)
        return strcmp(acl->resource_name, "*") == 0 ||
               (strlen(acl->resource_name) == len && memcmp(acl->resource_name, name, len) == 0);
    if (acl->pattern_type == RN_ACL_PAT_PREFIXED)
        return starts_with(name, len, acl->resource_name);
    return false;
}

bool rn_acl_filter_matches(const rn_acl_filter_t *f, const rn_acl_t *acl)
{
    if (f->resource_type != RN_ACL_RES_ANY && f->resource_type != acl->resource_type)
        return false;
    if (f->pattern_type != RN_ACL_PAT_ANY && f->pattern_type != RN_ACL_PAT_MATCH &&
        f->pattern_type != acl->pattern_type)
        return false;
    if (f->resource_name.len >= 0) {
        if (f->pattern_type == RN_ACL_PAT_MATCH) {
            const char *p = f->resource_name.len > 0 ? f->resource_name.ptr : "";
            if (!pattern_applies(acl, p, (size_t)f->resource_name.len))
                return false;
        } else if (!eq_cstr(f->resource_name, acl->resource_name)) {
            return false;
        }
    }
    return slice_eq(f->principal, acl->principal) && slice_eq(f->host, acl->host) &&
           (f->operation == RN_ACL_OP_ANY || f->operation == acl->operation) &&
           (f->permission == RN_ACL_PERM_ANY || f->permission == acl->permission);
}

/* An ALLOW binding for have grants want: the same, ALL, or one that implies it. */
static bool allow_covers(int8_t have, int8_t want)
{
    if (have == want || have == RN_ACL_OP_ALL)
        return true;
    if (want == RN_ACL_OP_DESCRIBE)
        return have == RN_ACL_OP_READ || have == RN_ACL_OP_WRITE || have == RN_ACL_OP_DELETE ||
               have == RN_ACL_OP_ALTER;
    if (want == RN_ACL_OP_DESCRIBE_CONFIGS)
        return have == RN_ACL_OP_ALTER_CONFIGS;
    return false;
}

int rn_acls_authorize(const rn_acls_t *acls, const char *principal, const char *host,
                      int8_t operation, int8_t resource_type, const char *name, size_t name_len)
{
    bool named = false, allowed = false;
    for (size_t i = 0; i < acls->n; i++) {
        const rn_acl_t *a = &acls->items[i];
        if (a->resource_type != resource_type || !pattern_applies(a, name, name_len))
            continue;
        named = true;
        if (strcmp(a->principal, principal) != 0 && strcmp(a->principal, "User:*") != 0)
            continue;
        if (strcmp(a->host, "*") != 0 && strcmp(a->host, host) != 0)
            continue;
        if (a->permission == RN_ACL_PERM_DENY) {
            if (a->operation == operation || a->operation == RN_ACL_OP_ALL)
                return RN_ACL_PERM_DENY;
        } else if (a->permission == RN_ACL_PERM_ALLOW && allow_covers(a->operation, operation)) {
            allowed = true; /* a later DENY still wins */
        }
    }
    if (allowed)
        return RN_ACL_PERM_ALLOW;
    return named ? RN_ACL_PERM_DENY : RN_ACL_PERM_UNKNOWN;
}

static bool applies_to(const rn_acl_t *a, const char *principal, const char *host)
{
    return (strcmp(a->principal, principal) == 0 || strcmp(a->principal, "User:*") == 0) &&
           (strcmp(a->host, "*") == 0 || strcmp(a->host, host) == 0);
}

/* Does the DENY binding d take back what the ALLOW binding a grants? */
static bool deny_covers(const rn_acl_t *d, const rn_acl_t *a)
{
    if (d->pattern_type == RN_ACL_PAT_LITERAL && strcmp(d->resource_name, "*") == 0)
        return true;
    if (d->pattern_type == RN_ACL_PAT_PREFIXED)
        return starts_with(a->resource_name, strlen(a->resource_name), d->resource_name);
    return a->pattern_type == RN_ACL_PAT_LITERAL && strcmp(d->resource_name, a->resource_name) == 0;
}

int rn_acls_authorize_any(const rn_acls_t *acls, const char *principal, const char *host,
                          int8_t operation, int8_t resource_type)
{
    bool any = false;
    for (size_t i = 0; i < acls->n; i++) {
        const rn_acl_t *a = &acls->items[i];
        if (a->resource_type != resource_type)
            continue;
        any = true;
        if (a->permission != RN_ACL_PERM_ALLOW || !allow_covers(a->operation, operation) ||
            !applies_to(a, principal, host))
            continue;
        bool denied = false;
        for (size_t j = 0; j < acls->n && !denied; j++) {
            const rn_acl_t *d = &acls->items[j];
            denied = d->resource_type == resource_type && d->permission == RN_ACL_PERM_DENY &&
                     (d->operation == operation || d->operation == RN_ACL_OP_ALL) &&
                     applies_to(d, principal, host) && deny_covers(d, a);
        }
        if (!denied)
            return RN_ACL_PERM_ALLOW;
    }
    return any ? RN_ACL_PERM_DENY : RN_ACL_PERM_UNKNOWN;
}
