/* rn_http: /metrics, /health and /ready over libevent's evhttp (see rn_http.h). */
#include "ops/rn_http.h"

#include "rn_alloc.h"
#include "rn_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define RN_HTTP_TIMEOUT_S   30
#define RN_HTTP_MAX_HEADERS 8192

struct rn_http {
    struct evhttp *http;
    int port;
    rn_metrics_t *metrics;
    rn_http_ready_fn ready;
    void *arg;
};

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
    reply_text(req, HTTP_OK, "OK", "ok\n");
}

static void on_ready(struct evhttp_request *req, void *arg)
{
    rn_http_t *http = arg;
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
    http->metrics = opts->metrics;
    http->ready = opts->ready;
    http->arg = opts->arg;
    http->http = evhttp_new(base);
    if (http->http == NULL) {
        snprintf(err, errlen, "cannot create the metrics HTTP server (out of memory)");
        rn_free(http);
        return NULL;
    }
    evhttp_set_allowed_methods(http->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(http->http, RN_HTTP_TIMEOUT_S);
    evhttp_set_max_headers_size(http->http, RN_HTTP_MAX_HEADERS);
    evhttp_set_max_body_size(http->http, 0);
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
        evhttp_free(http->http);
        rn_free(http);
        return NULL;
    }
    http->port = bound_port(sock);
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
    evhttp_free(http->http);
    rn_free(http);
}
