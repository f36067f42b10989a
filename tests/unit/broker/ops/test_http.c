/* Tests for rn_http: /metrics (content type, the registry's exact rendering, query strings
 * ignored, HEAD), /health, /ready following its callback (503 with the reason), 404 for
 * other paths, 501 for other methods, and a clear error for an address already in use.
 * Server and client (libevent's evhttp client) share one event loop in this thread. */
#include "ops/rn_http.h"
#include "ops/rn_metrics.h"
#include "tap.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

static struct event_base *base;

typedef struct reply {
    int code; /* -1: no answer */
    char body[8192];
    char ctype[128];
} reply_t;

static void on_reply(struct evhttp_request *req, void *arg)
{
    reply_t *r = arg;
    event_base_loopbreak(base);
    if (req == NULL || evhttp_request_get_response_code(req) == 0)
        return;
    r->code = evhttp_request_get_response_code(req);
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len >= sizeof(r->body))
        len = sizeof(r->body) - 1;
    evbuffer_remove(in, r->body, len);
    r->body[len] = '\0';
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    snprintf(r->ctype, sizeof(r->ctype), "%s", ct ? ct : "");
}

static reply_t request(int port, enum evhttp_cmd_type type, const char *path)
{
    reply_t r = {.code = -1};
    struct evhttp_connection *conn = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    struct evhttp_request *req = evhttp_request_new(on_reply, &r);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    evhttp_make_request(conn, req, type, path);
    struct timeval limit = {5, 0};
    event_base_loopexit(base, &limit); /* a hung server fails the test instead of hanging it */
    event_base_dispatch(base);
    evhttp_connection_free(conn);
    /* Drop the pending loopexit so the next request starts with a fresh limit. */
    event_base_loopbreak(base);
    event_base_loop(base, EVLOOP_NONBLOCK);
    return r;
}

static bool ready_flag;

static bool is_ready(void *arg, char *why, size_t len)
{
    snprintf(why, len, "%s", (const char *)arg);
    return ready_flag;
}

static void collect(rn_metrics_writer_t *w, void *arg)
{
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "t_scrapes", "Scrapes so far.");
    rn_metrics_emit_u64(w, NULL, 0, ++*(uint64_t *)arg);
}

int main(void)
{
    base = event_base_new();
    rn_metrics_t *m = rn_metrics_new();
    uint64_t scrapes = 0;
    rn_metrics_add_collector(m, collect, &scrapes);
    char err[256];
    rn_http_opts_t opts = {"127.0.0.1", 0, m, is_ready, "testing"};
    rn_http_t *http = rn_http_new(base, &opts, err, sizeof(err));
    ok(http != NULL, "listening (%s)", http ? "ok" : err);
    if (http == NULL)
        return done_testing();
    int port = rn_http_port(http);
    ok(port > 0, "ephemeral port %d", port);

    reply_t r = request(port, EVHTTP_REQ_GET, "/metrics");
    is(r.code, 200, "/metrics: 200");
    is_str(r.ctype, "text/plain; version=0.0.4; charset=utf-8", "/metrics: content type");
    is_str(r.body, "# HELP t_scrapes Scrapes so far.\n# TYPE t_scrapes gauge\nt_scrapes 1\n",
           "/metrics: the registry rendered");
    r = request(port, EVHTTP_REQ_GET, "/metrics?name[]=x");
    is(r.code, 200, "/metrics?query: 200");
    ok(strstr(r.body, "t_scrapes 2\n") != NULL, "/metrics?query: rendered again");
    r = request(port, EVHTTP_REQ_HEAD, "/metrics");
    is(r.code, 200, "HEAD /metrics: 200");
    is_str(r.body, "", "HEAD /metrics: no body");

    r = request(port, EVHTTP_REQ_GET, "/health");
    is(r.code, 200, "/health: 200");
    is_str(r.body, "ok\n", "/health: ok");

    ready_flag = false;
    r = request(port, EVHTTP_REQ_GET, "/ready");
    is(r.code, 503, "/ready while not ready: 503");
    is_str(r.body, "not ready: testing\n", "/ready: the reason");
    ready_flag = true;
    r = request(port, EVHTTP_REQ_GET, "/ready");
    is(r.code, 200, "/ready when ready: 200");
    is_str(r.body, "ready\n", "/ready: ready");

    r = request(port, EVHTTP_REQ_GET, "/");
    is(r.code, 404, "/: 404");
    ok(strstr(r.body, "/metrics") != NULL, "404 names the endpoints");
    r = request(port, EVHTTP_REQ_GET, "/metrics/x");
    is(r.code, 404, "/metrics/x: 404");
    r = request(port, EVHTTP_REQ_POST, "/metrics");
    is(r.code, 501, "POST: refused");

    rn_http_opts_t clash = {"127.0.0.1", port, m, NULL, NULL};
    rn_http_t *second = rn_http_new(base, &clash, err, sizeof(err));
    ok(second == NULL && strstr(err, "cannot listen on 127.0.0.1:") != NULL,
       "address in use: refused naming it (%s)", second ? "listening" : err);
    rn_http_free(second);

    rn_http_free(http);
    rn_http_free(NULL);
    rn_metrics_free(m);
    event_base_free(base);
    return done_testing();
}
