/* Tests for rn_http: /metrics (content type, the registry's exact rendering, query strings
 * ignored, HEAD), /health, /ready following its callback (503 with the reason), 404 for
 * other paths, 501 for other methods, a clear error for an address already in use, and a
 * connection trickling bytes closed at metrics.connection.timeout.ms.
 * Server and client (libevent's evhttp client) share one event loop in this thread. */
#include "ops/rn_http.h"
#include "ops/rn_metrics.h"
#include "tap.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

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

typedef struct trickle {
    int fd;
    struct timespec start;
    long closed_ms; /* -1 while open */
} trickle_t;

static long since_ms(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* One byte of a request line every 50 ms, never a whole line; notes when the server
 * closes. */
static void on_trickle(evutil_socket_t fd, short what, void *arg)
{
    trickle_t *t = arg;
    long ms = since_ms(&t->start);
    char c;
    ssize_t n = recv(t->fd, &c, 1, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
        send(t->fd, "G", 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        t->closed_ms = ms;
        event_base_loopbreak(base);
    } else if (ms > 3000) {
        event_base_loopbreak(base);
    }
}

static void test_trickle(rn_metrics_t *m)
{
    char err[256];
    rn_http_opts_t opts = {.host = "127.0.0.1", .metrics = m, .timeout_ms = 300};
    rn_http_t *http = rn_http_new(base, &opts, err, sizeof(err));
    ok(http != NULL, "server with a 300 ms deadline (%s)", http ? "ok" : err);
    if (http == NULL)
        return;
    trickle_t t = {.fd = socket(AF_INET, SOCK_STREAM, 0), .closed_ms = -1};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(rn_http_port(http))};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok(connect(t.fd, (struct sockaddr *)&sin, sizeof(sin)) == 0, "trickle: connected");
    clock_gettime(CLOCK_MONOTONIC, &t.start);
    struct event *tick = event_new(base, -1, EV_PERSIST, on_trickle, &t);
    struct timeval every = {0, 50000};
    event_add(tick, &every);
    event_base_dispatch(base);
    event_free(tick);
    ok(t.closed_ms >= 250 && t.closed_ms < 1500,
       "a connection trickling a byte every 50 ms is closed at its deadline (%ld ms)", t.closed_ms);
    close(t.fd);
    rn_http_free(http);
}

int main(void)
{
    base = event_base_new();
    rn_metrics_t *m = rn_metrics_new();
    uint64_t scrapes = 0;
    rn_metrics_add_collector(m, collect, &scrapes);
    char err[256];
    rn_http_opts_t opts = {.host = "127.0.0.1", .metrics = m, .ready = is_ready, .arg = "testing"};
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

    rn_http_opts_t clash = {.host = "127.0.0.1", .port = port, .metrics = m};
    rn_http_t *second = rn_http_new(base, &clash, err, sizeof(err));
    ok(second == NULL && strstr(err, "cannot listen on 127.0.0.1:") != NULL,
       "address in use: refused naming it (%s)", second ? "listening" : err);
    rn_http_free(second);

    rn_http_free(http);
    rn_http_free(NULL);
    test_trickle(m);
    rn_metrics_free(m);
    event_base_free(base);
    return done_testing();
}
