/* Named listeners (see rn_config.h): listeners, advertised.listeners,
 * listener.security.protocol.map, inter.broker.listener.name and controller.listener.names
 * resolved into cfg->listeners. Kafka's rules are the reference: names are case-insensitive
 * (kept in upper case); every name another key mentions must be a defined listener, so a
 * misspelling stops start-up instead of silently dropping a listener; a listener's protocol
 * comes from the map, or without a map from its name; 0.0.0.0 is never advertised. */
#include "config_int.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Kafka's security protocols, indexed by rn_secproto_t. */
static const char *const rn_protocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL", NULL};

const char *rn_config_protocol_name(rn_secproto_t proto)
{
    if ((int)proto < 0 || (int)proto > RN_SECPROTO_SASL_SSL)
        return "?";
    return rn_protocols[proto];
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return RN_EINVAL;
}

static const char *src_of(const rn_config_t *cfg, rn_cfg_key_t key)
{
    return cfg->v[key].set ? cfg->v[key].source : "default";
}

/* The defined listener names, "A, B", for messages naming a misspelt one. */
static const char *defined_names(const rn_config_t *cfg, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < cfg->n_listeners && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", cfg->listeners[i].name);
    return buf;
}

/* Calls fn for every comma-separated entry of text, trimmed, empty ones skipped (a YAML
 * sequence joined with ',' or "a, b"). Stops at the first non-zero result. */
static int each_item(const char *text, int (*fn)(const char *item, void *arg), void *arg, char *err,
                     size_t errlen, const char *at)
{
    for (const char *p = text != NULL ? text : ""; *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *next = comma != NULL ? comma + 1 : p + len;
        while (len > 0 && isspace((unsigned char)*p))
            p++, len--;
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        char item[600];
        if (len >= sizeof(item))
            return fail(err, errlen, "%s: entry \"%.40s...\" is too long", at, p);
        memcpy(item, p, len);
        item[len] = '\0';
        p = next;
        if (len == 0)
            continue;
        int rc = fn(item, arg);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Copy a listener name upper-cased into out; false when empty, too long or not made of
 * letters, digits, '_', '-' and '.'. */
static bool norm_name(const char *name, size_t len, char out[RN_LISTENER_NAME_MAX])
{
    if (len == 0 || len >= RN_LISTENER_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c) && c != '_' && c != '-' && c != '.')
            return false;
        out[i] = (char)toupper(c);
    }
    out[len] = '\0';
    return true;
}

/* Split "NAME://HOST:PORT" (or "HOST:PORT", named PLAINTEXT as --listen is) into name,
 * host and port. 0 or RN_EINVAL. */
static int parse_endpoint(const char *item, char name[RN_LISTENER_NAME_MAX], char *host,
                          size_t hostlen, int *port)
{
    const char *sep = strstr(item, "://");
    if (sep == NULL)
        snprintf(name, RN_LISTENER_NAME_MAX, "PLAINTEXT");
    else if (!norm_name(item, (size_t)(sep - item), name))
        return RN_EINVAL;
    return rn_config_parse_hostport(sep != NULL ? sep + 3 : item, host, hostlen, port);
}

int rn_config_listener_find(const rn_config_t *cfg, const char *name)
{
    for (int i = 0; i < cfg->n_listeners; i++)
        if (strcasecmp(cfg->listeners[i].name, name) == 0)
            return i;
    return -1;
}

/* Most listeners one node may define (each is a socket and an entry per node in
 * Metadata); far above any deployment's handful. */
#define RN_LISTENERS_MAX 32

/* State of one pass over a key's entries. */
typedef struct scan {
    rn_config_t *cfg;
    char *err;
    size_t errlen;
    const char *src;
    char at[300];                /* "SOURCE: key" (or just "--key") prefixing this key's messages */
    bool seen[RN_LISTENERS_MAX]; /* named by this key already (duplicates) */
    int proto[RN_LISTENERS_MAX]; /* the map: index in rn_protocols, -1 = not mapped */
    bool controller[RN_LISTENERS_MAX]; /* named in controller.listener.names */
} scan_t;

/* Messages about key start with "SOURCE: key", or "--key" alone for a flag so spelt. */
static void begin_key(scan_t *sc, rn_cfg_key_t key)
{
    const char *name = rn_config_def(key)->name;
    sc->src = src_of(sc->cfg, key);
    if (strncmp(sc->src, "--", 2) == 0 && strcmp(sc->src + 2, name) == 0)
        snprintf(sc->at, sizeof(sc->at), "%s", sc->src);
    else
        snprintf(sc->at, sizeof(sc->at), "%s: %s", sc->src, name);
}

/* "The listener NAME is not defined" with the defined ones, for every key naming one. */
static int unknown_listener(scan_t *sc, const char *name)
{
    char names[512];
    return fail(sc->err, sc->errlen, "%s: %s is not a listener (listeners defines %s)", sc->at,
                name, defined_names(sc->cfg, names, sizeof(names)));
}

static int add_listener(const char *item, void *arg)
{
    scan_t *sc = arg;
    rn_config_t *cfg = sc->cfg;
    if (cfg->n_listeners == RN_LISTENERS_MAX)
        return fail(sc->err, sc->errlen, "%s: more than %d listeners", sc->at, RN_LISTENERS_MAX);
    rn_config_listener_t *lst = &cfg->listeners[cfg->n_listeners];
    if (parse_endpoint(item, lst->name, lst->host, sizeof(lst->host), &lst->port) != 0)
        return fail(sc->err, sc->errlen, "%s: \"%s\" is not HOST:PORT or NAME://HOST:PORT", sc->at,
                    item);
    for (int i = 0; i < cfg->n_listeners; i++) {
        const rn_config_listener_t *other = &cfg->listeners[i];
        if (strcmp(other->name, lst->name) == 0)
            return fail(sc->err, sc->errlen, "%s: listener %s is defined twice", sc->at, lst->name);
        /* As Kafka: one port per listener, except an IPv4 and an IPv6 address sharing one. */
        bool v6 = strchr(lst->host, ':') != NULL, other_v6 = strchr(other->host, ':') != NULL;
        if (lst->port != 0 && other->port == lst->port && v6 == other_v6)
            return fail(sc->err, sc->errlen,
                        "%s: %s and %s both use port %d; each listener needs its "
                        "own port",
                        sc->at, other->name, lst->name, lst->port);
    }
    cfg->n_listeners++;
    return 0;
}

static int find_protocol(const char *text)
{
    for (int i = 0; rn_protocols[i] != NULL; i++)
        if (strcasecmp(rn_protocols[i], text) == 0)
            return i;
    return -1;
}

static int add_mapping(const char *item, void *arg)
{
    scan_t *sc = arg;
    const char *colon = strchr(item, ':');
    char name[RN_LISTENER_NAME_MAX];
    if (colon == NULL || !norm_name(item, (size_t)(colon - item), name))
        return fail(sc->err, sc->errlen, "%s: \"%s\" is not NAME:PROTOCOL", sc->at, item);
    int proto = find_protocol(colon + 1);
    if (proto < 0)
        return fail(sc->err, sc->errlen,
                    "%s: \"%s\" is not a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT "
                    "or SASL_SSL)",
                    sc->at, colon + 1);
    int i = rn_config_listener_find(sc->cfg, name);
    if (i < 0) {
        /* Kafka's default map names every protocol; a copied map may keep those. */
        if (find_protocol(name) >= 0)
            return 0;
        return unknown_listener(sc, name);
    }
    if (sc->proto[i] >= 0)
        return fail(sc->err, sc->errlen, "%s: listener %s is mapped twice", sc->at, name);
    sc->proto[i] = proto;
    return 0;
}

/* Every listener's protocol from the map; without a map, as Kafka: a listener named after
 * a protocol uses it and a controller listener PLAINTEXT. PLAINTEXT and SSL start. */
static int resolve_protocols(rn_config_t *cfg, scan_t *sc)
{
    const char *map = rn_config_str(cfg, RN_CFG_LISTENER_SECURITY_PROTOCOL_MAP);
    bool given = map != NULL && *map != '\0';
    begin_key(sc, RN_CFG_LISTENER_SECURITY_PROTOCOL_MAP);
    for (int i = 0; i < cfg->n_listeners; i++)
        sc->proto[i] = -1;
    if (given) {
        int rc = each_item(map, add_mapping, sc, sc->err, sc->errlen, sc->at);
        if (rc != 0)
            return rc;
    }
    for (int i = 0; i < cfg->n_listeners; i++) {
        const char *name = cfg->listeners[i].name;
        if (!given)
            sc->proto[i] = sc->controller[i] ? 0 : find_protocol(name);
        if (sc->proto[i] < 0)
            return fail(sc->err, sc->errlen,
                        "%s: no security protocol for listener %s%s; map it, e.g. "
                        "%s:PLAINTEXT",
                        sc->at, name, given ? "" : " (not set, and not named after one)", name);
        cfg->listeners[i].protocol = (rn_secproto_t)sc->proto[i];
    }
    return 0;
}

static int add_advertised(const char *item, void *arg)
{
    scan_t *sc = arg;
    char name[RN_LISTENER_NAME_MAX], host[256];
    int port;
    if (parse_endpoint(item, name, host, sizeof(host), &port) != 0 || host[0] == '\0')
        return fail(sc->err, sc->errlen, "%s: \"%s\" is not HOST:PORT or NAME://HOST:PORT", sc->at,
                    item);
    int i = rn_config_listener_find(sc->cfg, name);
    if (i < 0)
        return unknown_listener(sc, name);
    if (sc->seen[i])
        return fail(sc->err, sc->errlen, "%s: listener %s is advertised twice", sc->at, name);
    if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0)
        return fail(sc->err, sc->errlen,
                    "%s: listener %s: %s is not an address clients can connect to; "
                    "advertise a routable host name or address",
                    sc->at, name, host);
    sc->seen[i] = true;
    rn_config_listener_t *lst = &sc->cfg->listeners[i];
    snprintf(lst->advertised_host, sizeof(lst->advertised_host), "%s", host);
    lst->advertised_port = port;
    return 0;
}

/* advertised.listeners, then each listener not named there advertises its own address:
 * the host name for an empty host, as Kafka; 0.0.0.0 is refused, as Kafka. */
static int resolve_advertised(rn_config_t *cfg, scan_t *sc)
{
    memset(sc->seen, 0, sizeof(sc->seen));
    begin_key(sc, RN_CFG_ADVERTISED_LISTENERS);
    int rc = each_item(rn_config_str(cfg, RN_CFG_ADVERTISED_LISTENERS), add_advertised, sc, sc->err,
                       sc->errlen, sc->at);
    if (rc != 0)
        return rc;
    for (int i = 0; i < cfg->n_listeners; i++) {
        rn_config_listener_t *lst = &cfg->listeners[i];
        if (sc->seen[i])
            continue;
        if (strcmp(lst->host, "0.0.0.0") == 0 || strcmp(lst->host, "::") == 0)
            return fail(sc->err, sc->errlen,
                        "%s: advertised.listeners: listener %s listens on %s, which clients "
                        "cannot connect to; advertise it, e.g. %s://HOSTNAME:%d",
                        src_of(cfg, RN_CFG_LISTENERS), lst->name, lst->host, lst->name, lst->port);
        snprintf(lst->advertised_host, sizeof(lst->advertised_host), "%s", lst->host);
        if (lst->host[0] == '\0' &&
            gethostname(lst->advertised_host, sizeof(lst->advertised_host)) != 0)
            snprintf(lst->advertised_host, sizeof(lst->advertised_host), "localhost");
        lst->advertised_host[sizeof(lst->advertised_host) - 1] = '\0';
        lst->advertised_port = lst->port;
    }
    return 0;
}

static int add_controller_name(const char *item, void *arg)
{
    scan_t *sc = arg;
    int i = rn_config_listener_find(sc->cfg, item);
    if (i < 0)
        return unknown_listener(sc, item);
    sc->controller[i] = true;
    if (sc->cfg->controller_listener < 0)
        sc->cfg->controller_listener = i;
    return 0;
}

/* inter.broker.listener.name (default: the listener named PLAINTEXT as Kafka, else the
 * first) and controller.listener.names (default: the inter-broker listener). */
static int resolve_roles(rn_config_t *cfg, scan_t *sc)
{
    const char *ibl = rn_config_str(cfg, RN_CFG_INTER_BROKER_LISTENER_NAME);
    if (ibl != NULL && *ibl != '\0') {
        cfg->inter_broker_listener = rn_config_listener_find(cfg, ibl);
        begin_key(sc, RN_CFG_INTER_BROKER_LISTENER_NAME);
        if (cfg->inter_broker_listener < 0)
            return unknown_listener(sc, ibl);
    } else {
        int plain = rn_config_listener_find(cfg, "PLAINTEXT");
        cfg->inter_broker_listener = plain >= 0 ? plain : 0;
    }
    cfg->controller_listener = -1;
    begin_key(sc, RN_CFG_CONTROLLER_LISTENER_NAMES);
    int rc = each_item(rn_config_str(cfg, RN_CFG_CONTROLLER_LISTENER_NAMES), add_controller_name,
                       sc, sc->err, sc->errlen, sc->at);
    if (rc != 0)
        return rc;
    if (cfg->controller_listener < 0)
        cfg->controller_listener = cfg->inter_broker_listener;
    return 0;
}

int rn__config_resolve_listeners(rn_config_t *cfg, char *err, size_t errlen)
{
    scan_t sc = {.cfg = cfg, .err = err, .errlen = errlen};
    begin_key(&sc, RN_CFG_LISTENERS);
    rn_free(cfg->listeners);
    cfg->listeners = rn_xcalloc(RN_LISTENERS_MAX, sizeof(*cfg->listeners));
    cfg->n_listeners = 0;
    const char *text = rn_config_str(cfg, RN_CFG_LISTENERS);
    int rc = each_item(text, add_listener, &sc, err, errlen, sc.at);
    if (rc == 0 && cfg->n_listeners == 0)
        rc = fail(err, errlen, "%s: is empty; give NAME://HOST:PORT (or --listen)", sc.at);
    if (rc == 0)
        rc = resolve_roles(cfg, &sc);
    if (rc == 0)
        rc = resolve_protocols(cfg, &sc);
    if (rc == 0)
        rc = resolve_advertised(cfg, &sc);
    if (rc != 0) {
        cfg->n_listeners = 0;
        return rc;
    }
    const rn_config_listener_t *ib = &cfg->listeners[cfg->inter_broker_listener];
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "%s", ib->host);
    cfg->listen_port = ib->port;
    snprintf(cfg->advertised_host, sizeof(cfg->advertised_host), "%s", ib->advertised_host);
    cfg->advertised_port = ib->advertised_port;
    return 0;
}

/* ---- listener.name.<name>.<key> ---------------------------------------------------------- */

int rn__config_set_override(rn_config_t *cfg, const char *key, const char *value,
                            const char *source, char *err, size_t errlen)
{
    static const char prefix[] = "listener.name.";
    if (strncasecmp(key, prefix, sizeof(prefix) - 1) != 0)
        return 1;
    const char *name = key + sizeof(prefix) - 1, *dot = strchr(name, '.');
    char lname[RN_LISTENER_NAME_MAX];
    if (dot == NULL || !norm_name(name, (size_t)(dot - name), lname))
        return 1;
    int k = rn_config_find(dot + 1);
    if (k < 0)
        return 1;
    const rn_config_def_t *def = rn_config_def((rn_cfg_key_t)k);
    if (!(def->flags & RN_CFGF_LISTENER))
        return rn_config_prefixable(dot + 1)
                   ? 1 /* SASL's, set_prefixed in config.c */
                   : fail(err, errlen, "%s: %s: %s cannot be set per listener", source, key,
                          def->name);
    int64_t num;
    const char *canon = value;
    int rc =
        rn_config_check_value(def->type, value, def->min, def->max, def->choices, &num, &canon);
    if (rc != 0) {
        char msg[400];
        return fail(err, errlen, "%s: %s: %s", source, key,
                    rn_config_value_error(def->type, value, def->min, def->max, def->choices, rc,
                                          msg, sizeof(msg)));
    }
    bool flag = strncmp(source, "--", 2) == 0;
    rn_config_override_t *ov = NULL;
    for (int i = 0; i < cfg->n_overrides; i++) {
        rn_config_override_t *o = &cfg->overrides[i];
        if (o->key != k || strcmp(o->listener, lname) != 0)
            continue;
        if (!flag && strncmp(o->source, "--", 2) != 0)
            return fail(err, errlen, "%s: %s is given twice (first at %s)", source, key, o->source);
        if (!flag)
            return 0; /* the command line wins over the file */
        ov = o;
    }
    if (ov == NULL) {
        cfg->overrides =
            rn_xrealloc(cfg->overrides, (size_t)(cfg->n_overrides + 1) * sizeof(*cfg->overrides));
        ov = &cfg->overrides[cfg->n_overrides++];
        memset(ov, 0, sizeof(*ov));
        snprintf(ov->listener, sizeof(ov->listener), "%s", lname);
        ov->key = k;
    }
    rn_free(ov->value);
    ov->value = rn_xstrdup(canon);
    snprintf(ov->source, sizeof(ov->source), "%s", source);
    return 0;
}

/* listener.name.<l>.<key> must name a listener whose protocol uses the key (TLS for ssl.*,
 * SASL for the rest): a setting that could never take effect is refused, not kept. */
static int check_listener_key(const rn_config_t *cfg, const char *listener, const char *key,
                              const char *source, char *err, size_t errlen)
{
    char names[512], where[320];
    bool tls_key = strncasecmp(key, "ssl.", 4) == 0;
    if (strncmp(source, "--", 2) == 0) /* the flag names the setting already */
        snprintf(where, sizeof(where), "%s", source);
    else
        snprintf(where, sizeof(where), "%s: listener.name.%s.%s", source, listener, key);
    int i = rn_config_listener_find(cfg, listener);
    if (i < 0)
        return fail(err, errlen, "%s: %s is not a listener (listeners defines %s)", where, listener,
                    defined_names(cfg, names, sizeof(names)));
    rn_secproto_t p = cfg->listeners[i].protocol;
    bool uses = tls_key ? p == RN_SECPROTO_SSL || p == RN_SECPROTO_SASL_SSL
                        : p == RN_SECPROTO_SASL_PLAINTEXT || p == RN_SECPROTO_SASL_SSL;
    if (uses)
        return 0;
    return fail(err, errlen,
                "%s: listener %s speaks %s, which takes no %s settings; remove the setting or "
                "change the listener's protocol (listener.security.protocol.map)",
                where, cfg->listeners[i].name, rn_config_protocol_name(p),
                tls_key ? "TLS" : "SASL");
}

int rn__config_check_overrides(const rn_config_t *cfg, char *err, size_t errlen)
{
    for (int i = 0; i < cfg->n_overrides; i++) {
        const rn_config_override_t *o = &cfg->overrides[i];
        int rc = check_listener_key(cfg, o->listener, rn_config_def((rn_cfg_key_t)o->key)->name,
                                    o->source, err, errlen);
        if (rc != 0)
            return rc;
    }
    for (int i = 0; i < cfg->n_prefixed; i++) {
        const rn_config_prefixed_t *p = &cfg->prefixed[i];
        const char *l = p->key + strlen("listener.name."), *dot = strchr(l, '.');
        char lname[RN_LISTENER_NAME_MAX];
        snprintf(lname, sizeof(lname), "%.*s", (int)(dot - l), l);
        int rc = check_listener_key(cfg, lname, dot + 1, p->source, err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

void rn__config_free_overrides(rn_config_t *cfg)
{
    for (int i = 0; i < cfg->n_overrides; i++)
        rn_free(cfg->overrides[i].value);
    rn_free(cfg->overrides);
    cfg->overrides = NULL;
    cfg->n_overrides = 0;
}

static const rn_config_override_t *find_override(const rn_config_t *cfg, int i, rn_cfg_key_t key)
{
    if (i < 0 || i >= cfg->n_listeners)
        return NULL;
    for (int j = 0; j < cfg->n_overrides; j++)
        if (cfg->overrides[j].key == (int)key &&
            strcmp(cfg->overrides[j].listener, cfg->listeners[i].name) == 0)
            return &cfg->overrides[j];
    return NULL;
}

const char *rn_config_listener_str(const rn_config_t *cfg, int i, rn_cfg_key_t key, char *at,
                                   size_t atlen)
{
    const rn_config_override_t *o = find_override(cfg, i, key);
    const char *name = rn_config_def(key)->name;
    if (o != NULL) {
        if (at != NULL) {
            char lower[RN_LISTENER_NAME_MAX];
            size_t n = strlen(o->listener);
            for (size_t c = 0; c <= n; c++)
                lower[c] = (char)tolower((unsigned char)o->listener[c]);
            snprintf(at, atlen, "%s: listener.name.%s.%s", o->source, lower, name);
        }
        return o->value;
    }
    if (at != NULL) {
        const char *src = src_of(cfg, key);
        if (strncmp(src, "--", 2) == 0 && strcmp(src + 2, name) == 0)
            snprintf(at, atlen, "%s", src);
        else
            snprintf(at, atlen, "%s: %s", src, name);
    }
    return rn_config_str(cfg, key);
}

bool rn_config_listener_set(const rn_config_t *cfg, int i, rn_cfg_key_t key)
{
    return find_override(cfg, i, key) != NULL || cfg->v[key].set;
}
