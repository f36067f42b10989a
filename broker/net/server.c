/* rn_server: the listener, the dispatch table and server-wide state (see rn_server.h).
 * Per-connection framing and the request queue live in conn.c. */
#include "server_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

static int api_cmp(const void *a, const void *b)
{
    const rn_api_entry_t *x = a, *y = b;
    return x->api_key - y->api_key;
}

/* The peer as "host:port" for logs and its numeric address alone (host, hostlen >=
 * INET6_ADDRSTRLEN) for the per-address limits. */
static void format_peer(const struct sockaddr *sa, char *buf, size_t len, char *host,
                        size_t hostlen)
{
    snprintf(host, hostlen, "?");
    int port = 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &sin->sin_addr, host, (socklen_t)hostlen);
        port = ntohs(sin->sin_port);
        snprintf(buf, len, "%s:%d", host, port);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, (socklen_t)hostlen);
        port = ntohs(sin6->sin6_port);
        snprintf(buf, len, "[%s]:%d", host, port);
    } else {
        snprintf(buf, len, "unknown");
    }
}

/* Over max.connections or the peer's max.connections.per.ip: the reason, else NULL. Kafka
 * accepts such a connection and closes it at once, and so do we (the client sees a close,
 * not a stall in the backlog). */
static const char *over_limit(rn_server_t *srv, const char *ip, int32_t *limit)
{
    int32_t max = srv->opts.max_connections;
    if (max > 0 && srv->metrics.connections_open >= (uint64_t)max) {
        *limit = max;
        return "max.connections";
    }
    int32_t per_ip = rn_ip_limit_for(
        srv->ip_limits, srv->n_ip_limits, ip,
        srv->opts.max_connections_per_ip > 0 ? srv->opts.max_connections_per_ip : INT32_MAX);
    if (per_ip < INT32_MAX && rn__srvconn_count_ip(srv, ip) >= (size_t)per_ip) {
        *limit = per_ip;
        return "max.connections.per.ip";
    }
    return NULL;
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
    rn_lsock_t *ls = arg;
    rn_server_t *srv = ls->srv;
    char peer[64], ip[INET6_ADDRSTRLEN];
    format_peer(sa, peer, sizeof(peer), ip, sizeof(ip));
    uint64_t now = rn__server_now_ns();
    if (srv->accept_backoff_ms != 0) {
        RN_INFO("server", "accepting connections again after %llu ms without file descriptors",
                (unsigned long long)((now - srv->accept_paused_ns) / 1000000u));
        srv->accept_backoff_ms = 0;
    }
    int32_t limit = 0;
    const char *why = over_limit(srv, ip, &limit);
    if (why != NULL) {
        srv->metrics.connections_rejected++;
        evutil_closesocket(fd);
        rn_episode_t *ep =
            strcmp(why, "max.connections") == 0 ? &srv->ep_max_conns : &srv->ep_per_ip;
        if (rn_episode_hit(ep, now, RN_EPISODE_QUIET_NS))
            RN_WARN("server",
                    "%s (%d) reached: closing new connections at once (first: %s); "
                    "logged once per episode",
                    why, limit, peer);
        return;
    }
    if (srv->ep_max_conns.active) {
        uint64_t n = rn_episode_end(&srv->ep_max_conns);
        RN_INFO("server", "below max.connections again; %llu connections were refused",
                (unsigned long long)n);
    }
    int one = 1;
    /* Kafka clients pipeline small requests; Nagle would add latency to each response. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (srv->opts.send_buffer > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &srv->opts.send_buffer, sizeof(int));
    if (srv->opts.recv_buffer > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &srv->opts.recv_buffer, sizeof(int));
    rn_srvconn_t *conn = rn__srvconn_new(srv, ls->index, fd, peer, ip);
    if (conn == NULL) {
        RN_WARN("server", "cannot set up a connection from %s; closing it", peer);
        evutil_closesocket(fd);
        return;
    }
    conn->sasl = ls->sasl;
    srv->metrics.connections_accepted++;
    srv->metrics.connections_open++;
    RN_DEBUG("server", "conn=%llu accepted from %s on listener %s", (unsigned long long)conn->id,
             peer, ls->name);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    rn_server_t *srv = arg;
    for (size_t i = 0; i < srv->n_lsocks; i++)
        if (srv->lsocks[i].lev != NULL)
            evconnlistener_enable(srv->lsocks[i].lev);
}

static void on_listener_error(struct evconnlistener *listener, void *arg)
{
    rn_lsock_t *ls = arg;
    rn_server_t *srv = ls->srv;
    int err = EVUTIL_SOCKET_ERROR();
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
        /* A problem of that one connection (the peer reset it first, ...). */
        RN_DEBUG("server", "accept failed: %s", evutil_socket_error_to_string(err));
        return;
    }
    /* Out of descriptors or memory: the pending connection stays in the backlog and the
     * listener stays readable, so retrying at once would spin. Pause, then retry with
     * back-off until an accept succeeds. Descriptors are short for every socket alike. */
    for (size_t i = 0; i < srv->n_lsocks; i++)
        if (srv->lsocks[i].lev != NULL)
            evconnlistener_disable(srv->lsocks[i].lev);
    if (srv->accept_backoff_ms == 0) {
        srv->accept_paused_ns = rn__server_now_ns();
        srv->metrics.accept_pauses++;
        RN_ERROR("server",
                 "accept failed: %s; new connections wait, retrying every %d..%d ms "
                 "(raise the open-files limit or lower max.connections)",
                 evutil_socket_error_to_string(err), RN_ACCEPT_BACKOFF_FIRST_MS,
                 RN_ACCEPT_BACKOFF_MAX_MS);
    }
    srv->accept_backoff_ms = rn_accept_backoff_next(srv->accept_backoff_ms);
    struct timeval tv = {srv->accept_backoff_ms / 1000, (srv->accept_backoff_ms % 1000) * 1000};
    event_add(srv->accept_retry, &tv);
}

/* Resolve host:port to a bindable address. Start-up only, so blocking DNS is acceptable. */
static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *sslen,
                   char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portbuf[16];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    const char *node = (host == NULL || *host == '\0') ? "0.0.0.0" : host;
    int rc = getaddrinfo(node, portbuf, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, errlen, "cannot resolve listen address %s: %s", node, gai_strerror(rc));
        return RN_EINVAL;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

/* Bind and listen on one socket of the server. 0, or RN_EINVAL with err set. */
static int listen_on(rn_server_t *srv, rn_lsock_t *ls, int index, const rn_server_listen_t *lst,
                     char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    ls->srv = srv;
    ls->index = index;
    snprintf(ls->name, sizeof(ls->name), "%s", lst->name != NULL ? lst->name : "");
    ls->sasl = lst->sasl;
    if (resolve(lst->host, lst->port, &ss, &sslen, err, errlen) != 0)
        return RN_EINVAL;
    ls->lev = evconnlistener_new_bind(
        srv->base, on_accept, ls, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        -1, (struct sockaddr *)&ss, (int)sslen);
    if (ls->lev == NULL) {
        int errnum = errno;
        char label[80] = "";
        if (ls->name[0] != '\0')
            snprintf(label, sizeof(label), " (listener %s)", ls->name);
        snprintf(err, errlen, "cannot listen on %s:%d%s: %s",
                 lst->host && *lst->host ? lst->host : "0.0.0.0", lst->port, label,
                 strerror(errnum));
        return RN_EINVAL;
    }
    evconnlistener_set_error_cb(ls->lev, on_listener_error);
    if (lst->ssl_ctx != NULL && SSL_CTX_up_ref(lst->ssl_ctx) == 1)
        ls->ssl_ctx = lst->ssl_ctx;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    if (getsockname(evconnlistener_get_fd(ls->lev), (struct sockaddr *)&bound, &blen) == 0)
        ls->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
    return 0;
}

rn_server_t *rn_server_new(struct event_base *base, const rn_server_opts_t *opts, char *err,
                           size_t errlen)
{
    rn_server_t *srv = rn_xcalloc(1, sizeof(*srv));
    srv->base = base;
    srv->opts = *opts;
    srv->next_conn_id = 1;
    for (int key = 0; key <= RN_API_KEY_MAX; key++)
        rn_metrics_hist_init(&srv->metrics.latency[key], NULL, 0);
    srv->apis = rn_xcalloc(opts->n_apis ? opts->n_apis : 1, sizeof(*srv->apis));
    memcpy(srv->apis, opts->apis, opts->n_apis * sizeof(*srv->apis));
    srv->n_apis = opts->n_apis;
    srv->opts.apis = srv->apis;
    qsort(srv->apis, srv->n_apis, sizeof(*srv->apis), api_cmp);
    for (size_t i = 0; i < srv->n_apis; i++) {
        int16_t key = srv->apis[i].api_key;
        if (key < 0 || key > RN_API_KEY_MAX || srv->by_key[key] != NULL) {
            snprintf(err, errlen, "dispatch table: api key %d is invalid or listed twice", key);
            goto fail;
        }
        srv->by_key[key] = &srv->apis[i];
    }
    /* The codec serves exactly the table's rows, so ApiVersions tells the truth. A codec row
     * with min/max -1 serves the serve= range of its client/defs file. */
    for (size_t i = 0; i < rn_rpc_napis; i++) {
        rn_api_entry_t *row = srv->by_key[rn_rpc_apis[i].key];
        if (row != NULL && row->min_version < 0) {
            row->min_version = rn_rpc_apis[i].serve_min;
            row->max_version = rn_rpc_apis[i].serve_max;
            if (row->min_version < 0) {
                snprintf(err, errlen,
                         "dispatch table: %s has a handler but its definition "
                         "serves no version (serve=none)",
                         row->name);
                goto fail;
            }
        }
        if (row == NULL)
            rn_rpc_serve(rn_rpc_apis[i].key, -1, -1);
        else if (rn_rpc_serve(row->api_key, row->min_version, row->max_version) != 0) {
            snprintf(err, errlen, "dispatch table: %s v%d-%d is outside the codec's v%d-%d",
                     row->name, row->min_version, row->max_version, rn_rpc_apis[i].min_version,
                     rn_rpc_apis[i].max_version);
            goto fail;
        }
    }
    for (size_t i = 0; i < srv->n_apis; i++) {
        if (rn_rpc_api(srv->apis[i].api_key) == NULL) {
            snprintf(err, errlen, "dispatch table: api key %d (%s) has no codec",
                     srv->apis[i].api_key, srv->apis[i].name);
            goto fail;
        }
    }
    rn_proto_writer_init(&srv->writer);
    if (opts->queued_max_request_bytes > 0 &&
        opts->queued_max_request_bytes < opts->max_request_bytes) {
        snprintf(err, errlen,
                 "queued.max.request.bytes (%lld) must be at least socket.request.max.bytes "
                 "(%d), or -1",
                 (long long)opts->queued_max_request_bytes, opts->max_request_bytes);
        goto fail;
    }
    if (rn_ip_limits_parse(opts->per_ip_overrides, &srv->ip_limits, &srv->n_ip_limits, err,
                           errlen) != 0)
        goto fail;
    srv->accept_retry = evtimer_new(base, on_accept_retry, srv);
    if (srv->accept_retry == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }

    rn_server_listen_t one = {"", opts->host, opts->port, NULL, false};
    const rn_server_listen_t *listens = opts->n_listens > 0 ? opts->listens : &one;
    srv->n_lsocks = opts->n_listens > 0 ? opts->n_listens : 1;
    srv->lsocks = rn_xcalloc(srv->n_lsocks, sizeof(*srv->lsocks));
    for (size_t i = 0; i < srv->n_lsocks; i++)
        if (listen_on(srv, &srv->lsocks[i], (int)i, &listens[i], err, errlen) != 0)
            goto fail;
    srv->opts.listens = NULL; /* the caller's; lsocks keep what is needed */
    return srv;
fail:
    for (size_t i = 0; i < srv->n_lsocks; i++) {
        if (srv->lsocks[i].lev != NULL)
            evconnlistener_free(srv->lsocks[i].lev);
        SSL_CTX_free(srv->lsocks[i].ssl_ctx);
    }
    rn_free(srv->lsocks);
    if (srv->accept_retry != NULL)
        event_free(srv->accept_retry);
    rn_free(srv->ip_limits);
    rn_proto_writer_free(&srv->writer);
    rn_free(srv->apis);
    rn_free(srv);
    return NULL;
}

void rn_server_stop_accepting(rn_server_t *srv)
{
    for (size_t i = 0; i < srv->n_lsocks; i++) {
        if (srv->lsocks[i].lev != NULL) {
            evconnlistener_free(srv->lsocks[i].lev);
            srv->lsocks[i].lev = NULL;
        }
    }
    if (srv->accept_retry != NULL)
        event_del(srv->accept_retry);
}

void rn_server_drain(rn_server_t *srv)
{
    rn_server_stop_accepting(srv);
    srv->draining = true;
    for (rn_srvconn_t *conn = srv->conns; conn != NULL; conn = conn->next)
        rn__srvconn_drain(conn);
}

bool rn_server_drained(const rn_server_t *srv)
{
    if (srv->inflight > 0)
        return false;
    for (const rn_srvconn_t *conn = srv->conns; conn != NULL; conn = conn->next)
        if (rn__srvconn_output(conn) > 0)
            return false;
    return true;
}

size_t rn_server_inflight(const rn_server_t *srv)
{
    return srv->inflight;
}

void rn_server_free(rn_server_t *srv)
{
    if (srv == NULL)
        return;
    rn_server_stop_accepting(srv);
    while (srv->conns != NULL)
        rn__srvconn_close(srv->conns, "server shutting down");
    rn__srvconn_free_zombies(srv);
    event_free(srv->accept_retry);
    for (size_t i = 0; i < srv->n_lsocks; i++)
        SSL_CTX_free(srv->lsocks[i].ssl_ctx);
    rn_free(srv->lsocks);
    rn_free(srv->ip_limits);
    rn_proto_writer_free(&srv->writer);
    rn_free(srv->apis);
    rn_free(srv);
}

int rn_server_set_ssl_ctx(rn_server_t *srv, int i, struct ssl_ctx_st *ctx)
{
    if (i < 0 || (size_t)i >= srv->n_lsocks || srv->lsocks[i].ssl_ctx == NULL || ctx == NULL ||
        SSL_CTX_up_ref(ctx) != 1)
        return RN_EINVAL;
    SSL_CTX_free(srv->lsocks[i].ssl_ctx); /* open connections hold their own reference */
    srv->lsocks[i].ssl_ctx = ctx;
    return 0;
}

int rn_server_port(const rn_server_t *srv)
{
    return srv->lsocks[0].port;
}

int rn_server_listener_port(const rn_server_t *srv, int i)
{
    return i >= 0 && (size_t)i < srv->n_lsocks ? srv->lsocks[i].port : -1;
}

const rn_server_metrics_t *rn_server_metrics(const rn_server_t *srv)
{
    return &srv->metrics;
}

const rn_api_entry_t *rn_server_apis(const rn_server_t *srv, size_t *count)
{
    *count = srv->n_apis;
    return srv->apis;
}

const rn_api_entry_t *rn_server_find_api(const rn_server_t *srv, int16_t api_key)
{
    if (api_key < 0 || api_key > RN_API_KEY_MAX)
        return NULL;
    return srv->by_key[api_key];
}
