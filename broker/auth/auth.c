/* rn_auth: the SASL settings per listener, the inter-broker credentials, the failed-login
 * log limiter and the counters (rn_auth.h). The handlers are in handle_sasl.c and
 * handle_scram.c. */
#include "auth/auth_int.h"
#include "controller/rn_mimage.h"
#include "ops/rn_metrics.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_hash.h"
#include "rn_log.h"
#include "rn_peer.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const mech_names[RN_AUTH_NMECH] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};

const char *rn__auth_mech_name(int idx)
{
    return idx >= 0 && idx < RN_AUTH_NMECH ? mech_names[idx] : "?";
}

static int mech_index(const char *name, size_t len)
{
    for (int i = 0; i < RN_AUTH_NMECH; i++)
        if (strlen(mech_names[i]) == len && strncasecmp(mech_names[i], name, len) == 0)
            return i;
    return -1;
}

/* ---- failed logins ---- */

void rn__auth_peer_ip(const char *peer, char *out, size_t cap)
{
    const char *colon = strrchr(peer, ':');
    size_t len = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
    if (len >= 2 && peer[0] == '[' && peer[len - 1] == ']')
        peer++, len -= 2;
    snprintf(out, cap, "%.*s", (int)len, peer);
}

bool rn_authlog_fail(rn_authlog_t *log, const char *ip, uint64_t now_ns, uint64_t *failures)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *p = ip; *p != '\0'; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    __typeof__(log->slot[0]) *s = &log->slot[h % RN_AUTHLOG_SLOTS];
    if (strcmp(s->ip, ip) != 0) {
        snprintf(s->ip, sizeof(s->ip), "%s", ip);
        s->logged_ns = 0;
        s->since = 0;
    }
    s->since++;
    if (s->logged_ns != 0 && now_ns - s->logged_ns < RN_AUTHLOG_EVERY_NS)
        return false;
    if (!rn_lograte_allow(&log->lines, now_ns, 10, NULL))
        return false; /* counted in since; reported by this source's next line */
    s->logged_ns = now_ns != 0 ? now_ns : 1;
    *failures = s->since;
    s->since = 0;
    return true;
}

/* ---- JAAS ---- */

int rn_auth_jaas_parse(const char *jaas, char *user, size_t ucap, char *password, size_t pcap)
{
    return rn_sasl_jaas_parse(jaas, user, ucap, password, pcap);
}

int rn_auth_peer_login(const rn_config_t *cfg, rn_auth_login_t *login)
{
    memset(login, 0, sizeof(*login));
    if (cfg->n_listeners <= 0)
        return 0;
    const rn_config_listener_t *ib = &cfg->listeners[cfg->inter_broker_listener];
    if (ib->protocol != RN_SECPROTO_SASL_PLAINTEXT && ib->protocol != RN_SECPROTO_SASL_SSL)
        return 0;
    const char *mech = rn_config_str(cfg, RN_CFG_SASL_MECHANISM_INTER_BROKER_PROTOCOL);
    char key[64], lower[32];
    snprintf(lower, sizeof(lower), "%s", mech);
    for (char *c = lower; *c != '\0'; c++)
        *c = (char)(*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
    snprintf(key, sizeof(key), "%s.sasl.jaas.config", lower);
    const char *jaas = rn_config_prefixed_str(cfg, ib->name, key);
    login->source = "listener.name.<inter-broker listener>.<mechanism>.sasl.jaas.config";
    if (jaas == NULL)
        jaas = rn_config_prefixed_str(cfg, ib->name, "sasl.jaas.config");
    if (jaas == NULL) {
        jaas = rn_config_str(cfg, RN_CFG_SASL_JAAS_CONFIG);
        login->source = "sasl.jaas.config";
    }
    if (rn_auth_jaas_parse(jaas, login->user, sizeof(login->user), login->password,
                           sizeof(login->password)) != 0)
        return RN_EINVAL;
    snprintf(login->mechanism, sizeof(login->mechanism), "%s", mech);
    return 0;
}

void rn_auth_peer_opts(const rn_config_t *cfg, rn_auth_login_t *login, rn_peer_opts_t *po)
{
    if (rn_auth_peer_login(cfg, login) != 0 || login->mechanism[0] == '\0')
        return;
    po->sasl_mechanism = login->mechanism;
    po->sasl_username = login->user;
    po->sasl_password = login->password;
}

/* ---- settings ---- */

static int parse_mechs(rn_auth_t *a, int li, const char *list, const char *key, char *err,
                       size_t errlen)
{
    a->mechs[li] = 0;
    a->n_order[li] = 0;
    for (const char *p = list; p != NULL && *p != '\0';) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e != '\0' && *e != ',' && *e != ' ')
            e++;
        if (e == p)
            break;
        int idx = mech_index(p, (size_t)(e - p));
        if (idx < 0) {
            snprintf(err, errlen,
                     "%s: unknown SASL mechanism \"%.*s\" (runnel offers PLAIN, "
                     "SCRAM-SHA-256 and SCRAM-SHA-512)",
                     key, (int)(e - p), p);
            return RN_EINVAL;
        }
        if (!(a->mechs[li] & (1u << idx))) {
            a->mechs[li] |= 1u << idx;
            a->order[li][a->n_order[li]++] = idx;
        }
        p = e;
    }
    return 0;
}

static int inter_broker(rn_auth_t *a, char *err, size_t errlen)
{
    const rn_config_t *cfg = a->b->cfg;
    const rn_config_listener_t *ib = &cfg->listeners[cfg->inter_broker_listener];
    rn_auth_login_t login;
    int rc = rn_auth_peer_login(cfg, &login);
    if (rc == 0 && login.mechanism[0] == '\0')
        return 0;
    if (rc != 0) {
        snprintf(err, errlen,
                 "%s: the inter-broker listener %s is %s, so this node needs a login for the "
                 "others: set it to '... required username=\"NAME\" password=\"PW\";'",
                 login.source, ib->name, rn_config_protocol_name(ib->protocol));
        return RN_EINVAL;
    }
    int idx = mech_index(login.mechanism, strlen(login.mechanism));
    if (idx < 0 || !(a->mechs[cfg->inter_broker_listener] & (1u << idx))) {
        snprintf(err, errlen,
                 "sasl.mechanism.inter.broker.protocol: %s is not enabled on the inter-broker "
                 "listener %s (sasl.enabled.mechanisms)",
                 login.mechanism, ib->name);
        return RN_EINVAL;
    }
    /* This node's own login is a user every node accepts (see rn_auth_t.own). */
    snprintf(a->own_user, sizeof(a->own_user), "%s", login.user);
    for (int m = RN_SCRAM_SHA_256; m <= RN_SCRAM_SHA_512; m++)
        if (rn_scram_cred_new(m, login.password, strlen(login.password), RN_SCRAM_MIN_ITERATIONS,
                              &a->own[m], NULL) != 0) {
            snprintf(err, errlen, "cannot salt the inter-broker password");
            return RN_EINVAL;
        }
    OPENSSL_cleanse(&login, sizeof(login));
    return 0;
}

const rn_scram_cred_t *rn__auth_cred(const rn_auth_t *a, const rn_mimage_t *img, const char *user,
                                     int mech)
{
    const rn_scram_cred_t *cred = img != NULL ? rn_mimage_scram(img, user, mech) : NULL;
    if (cred == NULL && a->own_user[0] != '\0' && strcmp(a->own_user, user) == 0 &&
        (mech == RN_SCRAM_SHA_256 || mech == RN_SCRAM_SHA_512))
        cred = &a->own[mech];
    return cred;
}

static void collect(rn_metrics_writer_t *w, void *arg)
{
    rn_auth_t *a = arg;
    rn_metrics_emit_family(w, RN_METRICS_COUNTER, "runnel_sasl_authentications_total",
                           "SASL logins on SASL listeners, by mechanism and result.");
    for (int i = 0; i < RN_AUTH_NMECH; i++) {
        rn_metrics_emit_u64(
            w, (rn_metrics_label_t[]){{"mechanism", mech_names[i]}, {"result", "success"}}, 2,
            a->ok[i]);
        rn_metrics_emit_u64(
            w, (rn_metrics_label_t[]){{"mechanism", mech_names[i]}, {"result", "failure"}}, 2,
            a->failed[i]);
    }
}

static void auth_free(rn_auth_t *a)
{
    OPENSSL_cleanse(a->own, sizeof(a->own));
    rn_free(a->mechs);
    rn_free(a->order);
    rn_free(a->n_order);
    rn_free(a);
}

int rn_auth_init(rn_broker_t *b, char *err, size_t errlen)
{
    const rn_config_t *cfg = b->cfg;
    rn_auth_t *a = rn_xcalloc(1, sizeof(*a));
    a->b = b;
    int n = cfg->n_listeners > 0 ? cfg->n_listeners : 1;
    a->mechs = rn_xcalloc((size_t)n, sizeof(*a->mechs));
    a->order = rn_xcalloc((size_t)n, sizeof(*a->order));
    a->n_order = rn_xcalloc((size_t)n, sizeof(*a->n_order));
    a->reauth_ms = rn_config_int(cfg, RN_CFG_CONNECTIONS_MAX_REAUTH_MS);
    int rc = 0;
    for (int i = 0; rc == 0 && i < cfg->n_listeners; i++) {
        const char *own =
            rn_config_prefixed_str(cfg, cfg->listeners[i].name, "sasl.enabled.mechanisms");
        char key[128];
        snprintf(key, sizeof(key), "listener.name.%s.sasl.enabled.mechanisms",
                 cfg->listeners[i].name);
        rc = parse_mechs(a, i,
                         own != NULL ? own : rn_config_str(cfg, RN_CFG_SASL_ENABLED_MECHANISMS),
                         own != NULL ? key : "sasl.enabled.mechanisms", err, errlen);
        bool sasl = cfg->listeners[i].protocol == RN_SECPROTO_SASL_PLAINTEXT ||
                    cfg->listeners[i].protocol == RN_SECPROTO_SASL_SSL;
        if (rc == 0 && sasl && a->mechs[i] == 0) {
            snprintf(err, errlen, "%s: empty, so SASL listener %s could accept no login",
                     own != NULL ? key : "sasl.enabled.mechanisms", cfg->listeners[i].name);
            rc = RN_EINVAL;
        }
    }
    if (rc == 0 && cfg->n_listeners > 0)
        rc = inter_broker(a, err, errlen);
    if (rc != 0) {
        auth_free(a);
        return rc;
    }
    rn_metrics_add_collector(b->metrics, collect, a);
    b->auth = a;
    return 0;
}

void rn_auth_shutdown(rn_broker_t *b)
{
    rn_auth_t *a = b->auth;
    if (a == NULL)
        return;
    rn_metrics_remove_collector(b->metrics, collect, a);
    auth_free(a);
    b->auth = NULL;
}
