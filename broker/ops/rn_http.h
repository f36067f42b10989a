/* rn_http: runneld's monitoring endpoint — a small HTTP server (libevent's evhttp) on the
 * broker's event loop, off unless metrics.listen is configured.
 *
 *   GET /metrics  200, the registry rendered in Prometheus' text format 0.0.4
 *                 (Content-Type: text/plain; version=0.0.4; charset=utf-8)
 *   GET /health   200 "ok": the process is up and its event loop answers (liveness)
 *   GET /ready    200 "ready" when the ready callback says so, else 503 "not ready: WHY"
 *                 (load balancers, systemd, orchestrators: readiness)
 *   anything else the route callback's (the console: /console/, /api/), else 404; methods
 *                 other than GET and HEAD 501 (evhttp's answer), POST too when body_max > 0.
 *
 * Each scrape renders on the loop, so a scrape costs the loop what rendering costs (walking
 * topics and partitions); requests are small and bounded (8 KiB of headers, no body).
 * Each connection has timeout_ms (metrics.connection.timeout.ms) from accepting it, and
 * again from each answer, to send its next request: a deadline that bytes trickling in do
 * not extend; at it the connection is closed. Out of file descriptors, the listener pauses
 * and retries with back-off. Loop thread only. */
#ifndef RN_HTTP_H
#define RN_HTTP_H

#include "ops/rn_metrics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evhttp_request;

typedef struct rn_http rn_http_t;

/* Answer req (now, or later from the loop) and return true, or return false to leave it to
 * the 404. Called for every path but /metrics, /health and /ready. */
typedef bool (*rn_http_route_fn)(void *arg, struct evhttp_request *req);

/* True when the service is ready; otherwise false with a short reason in why. */
typedef bool (*rn_http_ready_fn)(void *arg, char *why, size_t whylen);

typedef struct rn_http_opts {
    const char *host; /* bind address; "" or NULL = every interface */
    int port;         /* 0 = ephemeral (rn_http_port tells the bound port) */
    rn_metrics_t *metrics;
    rn_http_ready_fn ready; /* NULL = always ready */
    void *arg;
    int64_t timeout_ms;     /* per-request deadline of a connection; <= 0 = 30 s */
    rn_http_route_fn route; /* NULL = none */
    void *route_arg;
    size_t body_max; /* largest request body; 0 = none and no POST */
} rn_http_opts_t;

/* Listen on host:port on base. NULL with a message naming the address in err when the
 * address cannot be bound (in use, not local). opts->metrics must outlive the server. */
rn_http_t *rn_http_new(struct event_base *base, const rn_http_opts_t *opts, char *err,
                       size_t errlen);
/* The port bound. */
int rn_http_port(const rn_http_t *http);
/* Close the listener and every HTTP connection. NULL is a no-op. */
void rn_http_free(rn_http_t *http);

#endif
