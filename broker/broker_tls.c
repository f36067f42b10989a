/* runneld's TLS set-up: the contexts of its SSL listeners and of its own connections to the
 * other nodes' inter-broker and controller listeners, built at start-up and rebuilt on
 * SIGHUP (rn_broker_reload_tls). */
#include "rn_broker.h"

#include "net/rn_server.h"
#include "net/rn_tls.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_peer.h"

#include <stdio.h>
#include <string.h>

/* SSL and SASL_SSL listeners run TLS (SASL logs in over it). */
static bool is_ssl(const rn_broker_t *b, int i)
{
    return i >= 0 && i < b->cfg->n_listeners &&
           (b->cfg->listeners[i].protocol == RN_SECPROTO_SSL ||
            b->cfg->listeners[i].protocol == RN_SECPROTO_SASL_SSL);
}

/* The peer TLS of connections to listener i of the other nodes; NULL for plaintext. */
static int peer_tls_new(rn_broker_t *b, int i, rn_peer_tls_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!is_ssl(b, i))
        return 0;
    bool check_host = false;
    SSL_CTX *ctx = rn_tls_client_ctx(b->cfg, i, &check_host, err, errlen);
    if (ctx == NULL)
        return RN_EINVAL;
    *out = rn_peer_tls_new(ctx, check_host);
    SSL_CTX_free(ctx);
    return 0;
}

int rn__broker_tls_start(rn_broker_t *b, struct ssl_ctx_st **server_ctx, char *err, size_t errlen)
{
    char why[1024];
    for (int i = 0; i < b->cfg->n_listeners; i++) {
        server_ctx[i] = NULL;
        if (!is_ssl(b, i))
            continue;
        server_ctx[i] = rn_tls_server_ctx(b->cfg, i, why, sizeof(why));
        if (server_ctx[i] == NULL) {
            snprintf(err, errlen, "listener %s (SSL): %s", b->cfg->listeners[i].name, why);
            return RN_EINVAL;
        }
    }
    int rc = peer_tls_new(b, b->inter_broker_listener, &b->peer_tls_inter, why, sizeof(why));
    if (rc == 0)
        rc = peer_tls_new(b, b->controller_listener, &b->peer_tls_controller, why, sizeof(why));
    if (rc != 0)
        snprintf(err, errlen, "connections to the other nodes' SSL listeners: %s", why);
    return rc;
}

void rn__broker_tls_free(rn_broker_t *b)
{
    rn_peer_tls_free(b->peer_tls_inter);
    rn_peer_tls_free(b->peer_tls_controller);
    b->peer_tls_inter = b->peer_tls_controller = NULL;
}

/* Append "; what" to err (every problem of a reload is told). */
static void add_problem(char *err, size_t errlen, const char *what)
{
    size_t n = strlen(err);
    if (n < errlen)
        snprintf(err + n, errlen - n, "%s%s", n ? "; " : "", what);
}

static void reload_peer(rn_broker_t *b, int i, rn_peer_tls_t *tls, int *rc, char *err,
                        size_t errlen)
{
    if (tls == NULL)
        return;
    char why[1000], msg[1200];
    bool check_host;
    SSL_CTX *ctx = rn_tls_client_ctx(b->cfg, i, &check_host, why, sizeof(why));
    if (ctx == NULL) {
        snprintf(msg, sizeof(msg), "inter-node connections to listener %s: %s",
                 b->cfg->listeners[i].name, why);
        add_problem(err, errlen, msg);
        *rc = RN_EINVAL;
        return;
    }
    rn_peer_tls_set_ctx(tls, ctx);
    SSL_CTX_free(ctx);
}

int rn_broker_reload_tls(rn_broker_t *b, char *err, size_t errlen)
{
    int rc = 0;
    if (errlen > 0)
        err[0] = '\0';
    for (int i = 0; i < b->cfg->n_listeners; i++) {
        if (!is_ssl(b, i))
            continue;
        char why[1000], msg[1200];
        SSL_CTX *ctx = rn_tls_server_ctx(b->cfg, i, why, sizeof(why));
        if (ctx == NULL) {
            snprintf(msg, sizeof(msg), "listener %s keeps its certificate: %s",
                     b->cfg->listeners[i].name, why);
            add_problem(err, errlen, msg);
            rc = RN_EINVAL;
            continue;
        }
        rn_server_set_ssl_ctx(b->server, i, ctx);
        SSL_CTX_free(ctx);
        RN_INFO("broker", "listener %s: certificate, key and trust store reloaded",
                b->cfg->listeners[i].name);
    }
    reload_peer(b, b->inter_broker_listener, b->peer_tls_inter, &rc, err, errlen);
    reload_peer(b, b->controller_listener, b->peer_tls_controller, &rc, err, errlen);
    return rc;
}
