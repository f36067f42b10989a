/* rn_http: /metrics, /health and /ready over libevent's evhttp (see rn_http.h).
 *
 * Deadlines: evhttp's own timeout restarts on every byte, so a client sending one byte
 * every few seconds would hold its connection for ever. We make each connection's
 * bufferevent (evhttp_set_bevcb), keep a reference to it and a deadline, and a sweep timer
 * shuts down the sockets past their deadline; evhttp then sees end of stream and frees the
 * connection. A bufferevent whose callbacks are gone was freed by evhttp: we drop our
 * reference (which closes the socket). */
#include "ops/rn_http.h"

#include "rn_alloc.h"
#include "rn_log.h"
#include "net/rn_netlimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define RN_HTTP_TIMEOUT_MS  30000
#define RN_HTTP_MAX_HEADERS 8192

/* One connection: our reference on its bufferevent and its deadline. */
typedef struct http_conn {
    struct bufferevent *bev;
    uint64_t deadline_ns;
    struct http_conn *next;
} http_conn_t;

struct rn_http {
    struct event_base *base;
    struct evhttp *http;
    struct evconnlistener *listener;
    int port;
    rn_metrics_t *metrics;
    rn_http_ready_fn ready;
    void *arg;
    int64_t timeout_ms;
    rn_http_route_fn route;
    void *route_arg;
    http_conn_t *conns;
    struct event *sweep;     /* while conns != NULL: deadlines and freed connections */
    struct event *retry;     /* re-enables the listener after EMFILE/ENFILE */
    int backoff_ms;          /* 0 = accepting normally */
    rn_episode_t ep_timeout; /* connections closed at their deadline */
    struct rn_http *next_http;
};

/* Every live server (usually one), to map evhttp's listener argument back to ours. */
static rn_http_t *all_https;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sweep_arm(rn_http_t *http)
{
    if (event_pending(http->sweep, EV_TIMEOUT, NULL))
        return;
    /* A quarter of the timeout, between 20 ms and 1 s: deadlines hold within that. */
    int64_t ms = http->timeout_ms / 4;
    ms = ms < 20 ? 20 : ms > 1000 ? 1000 : ms;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(http->sweep, &tv);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
    rn_http_t *http = arg;
    uint64_t now = now_ns();
    for (http_conn_t **pp = &http->conns, *hc; (hc = *pp) != NULL;) {
        bufferevent_event_cb eventcb = NULL;
        bufferevent_getcb(hc->bev, NULL, NULL, &eventcb, NULL);
        bool gone = eventcb == NULL; /* evhttp freed the connection */
        if (!gone && now >= hc->deadline_ns) {
            if (rn_episode_hit(&http->ep_timeout, now, RN_EPISODE_QUIET_NS))
                RN_WARN("http",
                        "closing connections that sent no complete request within "
                        "metrics.connection.timeout.ms (%lld ms); logged once per episode",
                        (long long)http->timeout_ms);
            /* Both ways: evhttp reads end of stream (or fails to write) and frees it. */
            shutdown(bufferevent_getfd(hc->bev), SHUT_RDWR);
            gone = true;
        }
        if (gone) {
            *pp = hc->next;
            bufferevent_decref(hc->bev);
            rn_free(hc);
        } else {
            pp = &hc->next;
        }
    }
    if (http->conns != NULL)
        sweep_arm(http);
}

/* evhttp asks for the bufferevent of each new connection. */
static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
    rn_http_t *http = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL)
        return NULL;
    http_conn_t *hc = rn_xcalloc(1, sizeof(*hc));
    bufferevent_incref(bev);
    hc->bev = bev;
    hc->deadline_ns = now_ns() + (uint64_t)http->timeout_ms * 1000000u;
    hc->next = http->conns;
    http->conns = hc;
    sweep_arm(http);
    return bev;
}

/* A request was answered: the connection gets a new deadline for its next one. */
static void touch(rn_http_t *http, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    struct bufferevent *bev = evcon != NULL ? evhttp_connection_get_bufferevent(evcon) : NULL;
    for (http_conn_t *hc = http->conns; hc != NULL; hc = hc->next)
        if (hc->bev == bev)
            hc->deadline_ns = now_ns() + (uint64_t)http->timeout_ms * 1000000u;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    rn_http_t *http = arg;
    evconnlistener_enable(http->listener);
}

static void on_listener_error(struct evconnlistener *listener, void *arg)
{
    rn_http_t *http = all_https;
    while (http != NULL && http->http != arg)
        http = http->next_http;
    if (http == NULL)
        return;
    int err = EVUTIL_SOCKET_ERROR();
    if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
        return; /* that one connection's problem */
    evconnlistener_disable(listener);
    if (http->backoff_ms == 0)
        RN_ERROR("http", "accept failed: %s; retrying every %d..%d ms",
                 evutil_socket_error_to_string(err), RN_ACCEPT_BACKOFF_FIRST_MS,
                 RN_ACCEPT_BACKOFF_MAX_MS);
    http->backoff_ms = rn_accept_backoff_next(http->backoff_ms);
    struct timeval tv = {http->backoff_ms / 1000, (http->backoff_ms % 1000) * 1000};
    event_add(http->retry, &tv);
}

/* Answer with a short text body. */
static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    struct evbuffer *body = evbuffer_new();
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    if (body == NULL || evbuffer_add(body, text, strlen(text)) != 0) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
    } else {
        evhttp_send_reply(req, code, reason, body);
    }
    if (body != NULL)
        evbuffer_free(body);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
    rn_http_t *http = arg;
    touch(http, req);
    struct evbuffer *body = evbuffer_new();
    if (body == NULL || rn_metrics_render(http->metrics, body) != 0) {
        RN_WARN("http", "cannot render /metrics: out of memory");
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
    } else {
        struct evkeyvalq *hdr = evhttp_request_get_output_headers(req);
        evhttp_add_header(hdr, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
        evhttp_add_header(hdr, "Cache-Control", "no-store");
        evhttp_send_reply(req, HTTP_OK, "OK", body);
    }
    if (body != NULL)
        evbuffer_free(body);
}

static void on_health(struct evhttp_request *req, void *arg)
{
    touch(arg, req);
    reply_text(req, HTTP_OK, "OK", "ok\n");
}

static void on_ready(struct evhttp_request *req, void *arg)
{
    rn_http_t *http = arg;
    touch(http, req);
    char why[200] = "";
    if (http->ready == NULL || http->ready(http->arg, why, sizeof(why))) {
        reply_text(req, HTTP_OK, "OK", "ready\n");
        return;
    }
    char text[256];
    snprintf(text, sizeof(text), "not ready: %s\n", why[0] ? why : "unknown");
    reply_text(req, HTTP_SERVUNAVAIL, "Service Unavailable", text);
}

static void on_other(struct evhttp_request *req, void *arg)
{
    rn_http_t *http = arg;
    touch(http, req);
    if (http->route != NULL && http->route(http->route_arg, req))
        return;
    reply_text(req, HTTP_NOTFOUND, "Not Found",
               "not found: runneld serves /metrics, /health and /ready\n");
}

/* The port of the socket evhttp bound. */
static int bound_port(struct evhttp_bound_socket *sock)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

rn_http_t *rn_http_new(struct event_base *base, const rn_http_opts_t *opts, char *err,
                       size_t errlen)
{
    const char *host = opts->host != NULL && *opts->host != '\0' ? opts->host : "0.0.0.0";
    rn_http_t *http = rn_xcalloc(1, sizeof(*http));
    http->base = base;
    http->metrics = opts->metrics;
    http->ready = opts->ready;
    http->arg = opts->arg;
    http->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : RN_HTTP_TIMEOUT_MS;
    http->route = opts->route;
    http->route_arg = opts->route_arg;
    http->http = evhttp_new(base);
    http->sweep = evtimer_new(base, on_sweep, http);
    http->retry = evtimer_new(base, on_retry, http);
    if (http->http == NULL || http->sweep == NULL || http->retry == NULL) {
        snprintf(err, errlen, "cannot create the metrics HTTP server (out of memory)");
        rn_http_free(http);
        return NULL;
    }
    evhttp_set_allowed_methods(http->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
                                               (opts->body_max > 0 ? EVHTTP_REQ_POST : 0));
    /* evhttp's timeout (idle between reads) stays as a second net under our deadline. */
    struct timeval tv = {(time_t)(http->timeout_ms / 1000),
                         (suseconds_t)(http->timeout_ms % 1000) * 1000};
    evhttp_set_timeout_tv(http->http, &tv);
    evhttp_set_bevcb(http->http, on_new_bev, http);
    evhttp_set_max_headers_size(http->http, RN_HTTP_MAX_HEADERS);
    evhttp_set_max_body_size(http->http, (ev_ssize_t)opts->body_max);
    evhttp_set_cb(http->http, "/metrics", on_metrics, http);
    evhttp_set_cb(http->http, "/health", on_health, http);
    evhttp_set_cb(http->http, "/ready", on_ready, http);
    evhttp_set_gencb(http->http, on_other, http);

    errno = 0;
    struct evhttp_bound_socket *sock =
        evhttp_bind_socket_with_handle(http->http, host, (uint16_t)opts->port);
    if (sock == NULL) {
        snprintf(err, errlen, "metrics.listen: cannot listen on %s:%d: %s", host, opts->port,
                 errno ? strerror(errno) : "address not usable");
        rn_http_free(http);
        return NULL;
    }
    http->port = bound_port(sock);
    http->listener = evhttp_bound_socket_get_listener(sock);
    /* The listener's argument is evhttp's: the error callback finds us in all_https. */
    evconnlistener_set_error_cb(http->listener, on_listener_error);
    http->next_http = all_https;
    all_https = http;
    return http;
}

int rn_http_port(const rn_http_t *http)
{
    return http->port;
}

void rn_http_free(rn_http_t *http)
{
    if (http == NULL)
        return;
    for (rn_http_t **pp = &all_https; *pp != NULL; pp = &(*pp)->next_http)
        if (*pp == http) {
            *pp = http->next_http;
            break;
        }
    if (http->http != NULL)
        evhttp_free(http->http); /* frees its connections and the listener */
    while (http->conns != NULL) {
        http_conn_t *hc = http->conns;
        http->conns = hc->next;
        bufferevent_decref(hc->bev);
        rn_free(hc);
    }
    if (http->sweep != NULL)
        event_free(http->sweep);
    if (http->retry != NULL)
        event_free(http->retry);
    rn_free(http);
}
