/* rn_authz: the authorizer (rn_authz.h) — settings, the node-traffic rule, super users and
 * the decision over the metadata image's ACLs. */
#include "acl/rn_authz.h"

#include "controller/rn_cluster.h"
#include "rn_config.h"

#include "rn_aclnames.h"
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"

#include <stdio.h>
#include <string.h>

struct rn_authz {
    rn_broker_t *b;
    bool allow_if_none; /* allow.everyone.if.no.acl.found */
    char **super_users; /* super.users, trimmed */
    int n_super;
    int node_listener;      /* a dedicated controller listener's index, -1 when none */
    const rn_acls_t *empty; /* the ACLs before the cluster exists (never in practice) */
    rn_acls_t *empty_owned;
    uint64_t checks, denied;
};

static void parse_super_users(rn_authz_t *az, const char *list)
{
    const char *p = list != NULL ? list : "";
    while (*p != '\0') {
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t'))
            s++;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (e > s) {
            az->super_users =
                rn_xrealloc(az->super_users, (size_t)(az->n_super + 1) * sizeof(char *));
            az->super_users[az->n_super++] = rn_xstrndup(s, (size_t)(e - s));
        }
        p = end != NULL ? end + 1 : p + len;
    }
}

int rn_authz_module_init(rn_broker_t *b, char *err, size_t errlen)
{
    const char *cls = rn_config_str(b->cfg, RN_CFG_AUTHORIZER_CLASS_NAME);
    b->authz = NULL;
    if (cls == NULL || cls[0] == '\0')
        return 0;
    if (strcmp(cls, RN_AUTHZ_STANDARD) != 0) {
        snprintf(err, errlen,
                 "authorizer.class.name: %s is not offered; use " RN_AUTHZ_STANDARD
                 " (ACLs in the cluster metadata) or leave it empty",
                 cls);
        return RN_EINVAL;
    }
    rn_authz_t *az = rn_xcalloc(1, sizeof(*az));
    az->b = b;
    az->allow_if_none = rn_config_bool(b->cfg, RN_CFG_ALLOW_EVERYONE_IF_NO_ACL_FOUND);
    parse_super_users(az, rn_config_str(b->cfg, RN_CFG_SUPER_USERS));
    az->node_listener = b->controller_listener != b->inter_broker_listener && b->n_listeners > 1
                            ? b->controller_listener
                            : -1;
    az->empty_owned = rn_acls_new();
    az->empty = az->empty_owned;
    b->authz = az;
    RN_INFO("acl",
            "node %d: authorizer on (%d super user(s), allow.everyone.if.no.acl.found=%s%s%s)",
            b->node_id, az->n_super, az->allow_if_none ? "true" : "false",
            az->node_listener >= 0 ? ", node traffic on listener " : "",
            az->node_listener >= 0 ? b->cfg->listeners[az->node_listener].name : "");
    return 0;
}

void rn_authz_module_shutdown(rn_broker_t *b)
{
    rn_authz_t *az = b->authz;
    if (az == NULL)
        return;
    for (int i = 0; i < az->n_super; i++)
        rn_free(az->super_users[i]);
    rn_free(az->super_users);
    rn_acls_free(az->empty_owned);
    rn_free(az);
    b->authz = NULL;
}

/* The address part of "host:port" or "[v6]:port". */
static void peer_host(const char *peer, char *out, size_t cap)
{
    const char *s = peer != NULL ? peer : "";
    size_t len = strlen(s);
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        s++;
        len = close != NULL ? (size_t)(close - s) : strlen(s);
    } else {
        const char *colon = strrchr(s, ':');
        if (colon != NULL)
            len = (size_t)(colon - s);
    }
    if (len >= cap)
        len = cap - 1;
    memcpy(out, s, len);
    out[len] = '\0';
}

static bool is_super(const rn_authz_t *az, const char *principal)
{
    for (int i = 0; i < az->n_super; i++)
        if (strcmp(az->super_users[i], principal) == 0)
            return true;
    return false;
}

/* Node traffic or a super user: allowed without looking at the ACLs. */
static bool trusted(const rn_authz_t *az, const rn_req_t *req, const char *principal)
{
    return (az->node_listener >= 0 && req->listener == az->node_listener) ||
           is_super(az, principal);
}

/* The image's ACLs; NULL until the metadata log has been replayed at start-up (decisions
 * then fail closed: the ACLs are not known yet; Kafka's brokers do not serve before their
 * authorizer has loaded). */
static const rn_acls_t *current_acls(const rn_authz_t *az)
{
    const rn_cluster_t *c = az->b->cluster;
    if (c == NULL)
        return az->empty;
    return rn_cluster_replayed(c) ? rn_mimage_acls(rn_cluster_image(c)) : NULL;
}

bool rn_authz_any(const rn_req_t *req, int8_t operation, int8_t resource_type)
{
    rn_authz_t *az = ((const rn_broker_t *)req->ctx)->authz;
    if (az == NULL)
        return true;
    az->checks++;
    const char *principal = req->principal != NULL ? req->principal : "User:ANONYMOUS";
    if (trusted(az, req, principal))
        return true;
    char host[64];
    peer_host(req->peer, host, sizeof(host));
    const rn_acls_t *acls = current_acls(az);
    int d = acls == NULL ? RN_ACL_PERM_DENY
                         : rn_acls_authorize_any(acls, principal, host, operation, resource_type);
    bool ok = d == RN_ACL_PERM_ALLOW || (d == RN_ACL_PERM_UNKNOWN && az->allow_if_none);
    az->denied += !ok;
    return ok;
}

bool rn__authz_check(rn_authz_t *az, const rn_req_t *req, int8_t operation, int8_t resource_type,
                     const char *name, size_t name_len)
{
    az->checks++;
    const char *principal = req->principal != NULL ? req->principal : "User:ANONYMOUS";
    if (trusted(az, req, principal))
        return true;
    const rn_acls_t *acls = current_acls(az);
    char host[64];
    peer_host(req->peer, host, sizeof(host));
    int d = acls == NULL ? RN_ACL_PERM_DENY
                         : rn_acls_authorize(acls, principal, host, operation, resource_type, name,
                                             name_len);
    bool ok = d == RN_ACL_PERM_ALLOW || (d == RN_ACL_PERM_UNKNOWN && az->allow_if_none);
    if (!ok) {
        az->denied++;
        RN_DEBUG("acl", "node %d: peer %s: %s v%d corr %d: %s denied %s on %s %.*s", az->b->node_id,
                 req->peer, req->api != NULL ? req->api->name : "?", req->api_version,
                 req->correlation_id, principal, rn_aclnames_operation(operation),
                 rn_aclnames_resource(resource_type), (int)name_len, name);
    }
    return ok;
}

void rn_authz_counts(const rn_authz_t *az, uint64_t *checks, uint64_t *denied)
{
    *checks = az->checks;
    *denied = az->denied;
}
