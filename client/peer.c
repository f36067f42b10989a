/* rn_peer (see rn_peer.h): creating and freeing a peer, encoding and queueing requests,
 * request deadlines, and running callbacks under the callback rule. Connections, the
 * handshake and frame reading are in peer_conn.c. */
#include "peer_int.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_rpc.h"
#include "rn_str.h"

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_REQUEST_TIMEOUT_MS 30000
#define DEFAULT_BACKOFF_INITIAL_MS 50
#define DEFAULT_BACKOFF_MAX_MS     1000
#define DEFAULT_MAX_REQUESTS       1024
#define DEFAULT_MAX_BYTES          ((size_t)64 << 20)

int64_t rn__peer_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *rn_peer_status_name(int status)
{
    switch (status) {
    case RN_PEER_OK: return "ok";
    case RN_PEER_TIMEOUT: return "timed out";
    case RN_PEER_DISCONNECTED: return "disconnected";
    case RN_PEER_CANCELLED: return "cancelled";
    case RN_PEER_BAD_RESPONSE: return "bad response";
    case RN_PEER_TOO_BIG: return "response too big";
    case RN_PEER_UNSUPPORTED: return "version not served";
    default: return "unknown status";
    }
}

/* Numeric IPv4/IPv6 or "localhost" into peer->addr; false for anything needing DNS. */
static bool parse_numeric(rn_peer_t *peer)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&peer->addr;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&peer->addr;
    memset(&peer->addr, 0, sizeof peer->addr);
    const char *host = strcasecmp(peer->host, "localhost") == 0 ? "127.0.0.1" : peer->host;
    if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)peer->port);
        peer->addrlen = sizeof *sin;
        return true;
    }
    if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)peer->port);
        peer->addrlen = sizeof *sin6;
        return true;
    }
    return false;
}

static int or_default(int v, int def)
{
    return v > 0 ? v : def;
}

static void set_limits(rn_peer_t *peer, const rn_peer_opts_t *opts)
{
    peer->connect_timeout_ms = or_default(opts->connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS);
    peer->request_timeout_ms = or_default(opts->request_timeout_ms, DEFAULT_REQUEST_TIMEOUT_MS);
    peer->backoff_initial_ms = or_default(opts->backoff_initial_ms, DEFAULT_BACKOFF_INITIAL_MS);
    peer->backoff_max_ms = or_default(opts->backoff_max_ms, DEFAULT_BACKOFF_MAX_MS);
    if (peer->backoff_max_ms < peer->backoff_initial_ms)
        peer->backoff_max_ms = peer->backoff_initial_ms;
    peer->jitter_pct = opts->backoff_jitter_pct < 0     ? 0
                       : opts->backoff_jitter_pct > 100 ? 100
                                                        : opts->backoff_jitter_pct;
    peer->rng = opts->jitter_seed ? opts->jitter_seed : 1;
    peer->max_requests = or_default(opts->max_requests, DEFAULT_MAX_REQUESTS);
    peer->max_request_bytes = opts->max_request_bytes ? opts->max_request_bytes : DEFAULT_MAX_BYTES;
    peer->max_response_bytes =
        opts->max_response_bytes ? opts->max_response_bytes : DEFAULT_MAX_BYTES;
}

static void on_deadline(int fd, short what, void *arg);

rn_peer_t *rn_peer_new(struct event_base *base, const rn_peer_opts_t *opts)
{
    if (opts->host == NULL || opts->host[0] == '\0' || opts->port <= 0 || opts->port > 65535) {
        RN_WARN("peer", "node %d: a peer needs a host and a port (got %s:%d)", opts->node_id,
                opts->host ? opts->host : "(none)", opts->port);
        return NULL;
    }
    rn_peer_t *peer = rn_xcalloc(1, sizeof *peer);
    peer->base = base;
    peer->dns = opts->dns;
    peer->host = rn_xstrdup(opts->host);
    peer->tls = opts->tls;
    peer->port = opts->port;
    peer->node_id = opts->node_id;
    peer->client_id = rn_xstrdup(opts->client_id ? opts->client_id : "runnel");
    peer->numeric = parse_numeric(peer);
    if (!peer->numeric && peer->dns == NULL) {
        /* getaddrinfo would block the loop (design decision 3). */
        RN_WARN("peer",
                "node %d: host \"%s\" is not a numeric address and no resolver was "
                "given: use an IP address or pass an evdns base",
                opts->node_id, opts->host);
        rn_free(peer->client_id);
        rn_free(peer->host);
        rn_free(peer);
        return NULL;
    }
    set_limits(peer, opts);
    if (opts->sasl_mechanism != NULL) {
        peer->sasl_mech = rn_xstrdup(opts->sasl_mechanism);
        peer->sasl_user = rn_xstrdup(opts->sasl_username ? opts->sasl_username : "");
        peer->sasl_password = rn_xstrdup(opts->sasl_password ? opts->sasl_password : "");
    }
    peer->session_end_ms = INT64_MAX;
    peer->conn_ev = evtimer_new(base, rn__peer_on_conn_timer, peer);
    peer->deadline_ev = evtimer_new(base, on_deadline, peer);
    if (peer->conn_ev == NULL || peer->deadline_ev == NULL) {
        RN_ERROR("peer", "out of memory for a peer's timers");
        abort(); /* a small internal allocation (STYLE habit 7) */
    }
    peer->state = RN_PEER_IDLE;
    peer->next_correlation_id = 1;
    peer->deadline_at = INT64_MAX;
    TAILQ_INIT(&peer->queued);
    TAILQ_INIT(&peer->inflight);
    TAILQ_INIT(&peer->done);
    for (int i = 0; i < RN_PEER_MAX_KEY; i++)
        peer->vmin[i] = peer->vmax[i] = -1;
    rn_arena_init(&peer->arena, 0);
    rn_proto_writer_init(&peer->w);
    return peer;
}

rn__peer_req_t *rn__peer_encode(rn_peer_t *peer, int16_t api_key, int16_t version,
                                const void *request, int *err)
{
    rn_proto_writer_reset(&peer->w);
    /* Correlation id 0 for now: it is patched in when the frame is written. */
    *err = rn_rpc_encode_request(&peer->w, api_key, version, 0, rn_str(peer->client_id), request);
    if (*err != 0)
        return NULL;
    size_t len = rn_proto_writer_total(&peer->w);
    uint8_t *frame = rn_malloc(len);
    if (frame == NULL) {
        *err = RN_ENOMEM;
        return NULL;
    }
    long n = rn_proto_writer_copy(&peer->w, frame, len);
    if (n < 0 || (size_t)n != len) {
        rn_free(frame);
        *err = n < 0 ? (int)n : RN_EIO;
        return NULL;
    }
    rn__peer_req_t *req = rn_xcalloc(1, sizeof *req);
    req->api_key = api_key;
    req->version = version;
    req->frame = frame;
    req->frame_len = len;
    req->deadline = rn__peer_now_ms() + peer->request_timeout_ms;
    return req;
}

void rn__peer_req_free(rn__peer_req_t *req)
{
    rn_free(req->frame);
    rn_free(req);
}

int rn__peer_write(rn_peer_t *peer, rn__peer_req_t *req)
{
    int32_t corr = peer->next_correlation_id;
    /* The frame starts: int32 size, int16 api key, int16 api version, int32 correlation id
     * (every request header version). */
    rn_store_be32(req->frame + 8, (uint32_t)corr);
    if (bufferevent_write(peer->bev, req->frame, req->frame_len) != 0)
        return RN_ENOMEM;
    peer->next_correlation_id = corr == INT32_MAX ? 1 : corr + 1;
    req->correlation_id = corr;
    rn_free(req->frame);
    req->frame = NULL;
    TAILQ_INSERT_TAIL(&peer->inflight, req, link);
    if (req->cb != NULL)
        peer->stats.sent++;
    return 0;
}

bool rn__peer_served(const rn_peer_t *peer, int16_t api_key, int16_t version)
{
    return api_key >= 0 && api_key < RN_PEER_MAX_KEY && peer->vmin[api_key] >= 0 &&
           version >= peer->vmin[api_key] && version <= peer->vmax[api_key];
}

int16_t rn_peer_version(const rn_peer_t *peer, int16_t api_key, int16_t max_we_support)
{
    const rn_rpc_api_t *api = rn_rpc_api(api_key);
    if (api == NULL || api_key < 0 || api_key >= RN_PEER_MAX_KEY || peer->vmin[api_key] < 0)
        return -1;
    int16_t hi = api->max_version < peer->vmax[api_key] ? api->max_version : peer->vmax[api_key];
    if (max_we_support >= 0 && max_we_support < hi)
        hi = max_we_support;
    int16_t lo = api->min_version > peer->vmin[api_key] ? api->min_version : peer->vmin[api_key];
    return hi >= lo ? hi : -1;
}

void rn__peer_arm_deadline(rn_peer_t *peer, int64_t deadline)
{
    if (deadline >= peer->deadline_at)
        return;
    peer->deadline_at = deadline;
    int64_t wait = deadline - rn__peer_now_ms();
    if (wait < 0)
        wait = 0;
    struct timeval tv = {.tv_sec = wait / 1000, .tv_usec = (wait % 1000) * 1000};
    evtimer_add(peer->deadline_ev, &tv);
}

/* After deadline_ev fired: arm it for the earliest deadline left, if any. */
static void rearm_deadline(rn_peer_t *peer)
{
    int64_t first = INT64_MAX;
    rn__peer_req_t *req;
    TAILQ_FOREACH(req, &peer->inflight, link)
    if (req->deadline < first)
        first = req->deadline;
    TAILQ_FOREACH(req, &peer->queued, link)
    if (req->deadline < first)
        first = req->deadline;
    peer->deadline_at = INT64_MAX;
    if (first != INT64_MAX)
        rn__peer_arm_deadline(peer, first);
}

/* Checks that need no encoding; 0 or the RN_E* rn_peer_send returns. */
static int check_send(const rn_peer_t *peer, int16_t api_key, int16_t version, const void *request,
                      rn_peer_cb *cb)
{
    if (peer->closing)
        return RN_ECANCELED;
    if (cb == NULL || request == NULL)
        return RN_EINVAL;
    const rn_rpc_api_t *api = rn_rpc_api(api_key);
    if (api == NULL || version < api->min_version || version > api->max_version)
        return RN_EUNSUPPORTED;
    /* A Produce with acks 0 gets no response: it would only ever time out. */
    if (api_key == RN_API_PRODUCE && ((const rn_produce_request_t *)request)->acks == 0)
        return RN_EINVAL;
    if (peer->have_versions && !rn__peer_served(peer, api_key, version))
        return RN_EUNSUPPORTED;
    if (peer->outstanding >= peer->max_requests)
        return RN_EFULL;
    return 0;
}

int rn_peer_send(rn_peer_t *peer, int16_t api_key, int16_t version, const void *request,
                 rn_peer_cb *cb, void *arg)
{
    int st = check_send(peer, api_key, version, request, cb);
    if (st != 0)
        return st;
    rn__peer_req_t *req = rn__peer_encode(peer, api_key, version, request, &st);
    if (req == NULL)
        return st == RN_ENOMEM ? RN_ENOMEM : st == RN_EUNSUPPORTED ? st : RN_EINVAL;
    if (req->frame_len > peer->max_request_bytes - peer->outstanding_bytes) {
        rn__peer_req_free(req);
        return RN_EFULL;
    }
    req->cb = cb;
    req->arg = arg;
    if (rn__peer_sasl_renew_due(peer)) {
        /* The peer would close this connection at the request: log in anew first (nothing
         * is in flight, so no callback runs here). */
        TAILQ_INSERT_TAIL(&peer->queued, req, link);
        rn__peer_close(peer, 0, "SASL session about to end: reconnecting");
    } else if (peer->state == RN_PEER_READY) {
        if (rn__peer_write(peer, req) != 0) {
            rn__peer_req_free(req);
            return RN_ENOMEM;
        }
    } else {
        TAILQ_INSERT_TAIL(&peer->queued, req, link);
    }
    peer->outstanding++;
    peer->outstanding_bytes += req->frame_len;
    rn__peer_arm_deadline(peer, req->deadline);
    if (peer->state == RN_PEER_IDLE)
        rn__peer_kick(peer);
    return 0;
}

void rn__peer_flush(rn_peer_t *peer)
{
    rn__peer_req_t *req;
    if (rn__peer_sasl_renew_due(peer) && !TAILQ_EMPTY(&peer->queued)) {
        /* The peer would close this connection at its next request: log in anew first. */
        rn__peer_close(peer, 0, "SASL session about to end: reconnecting");
        return;
    }
    while (peer->state == RN_PEER_READY && (req = TAILQ_FIRST(&peer->queued)) != NULL) {
        TAILQ_REMOVE(&peer->queued, req, link);
        if (!rn__peer_served(peer, req->api_key, req->version)) {
            req->status = RN_PEER_UNSUPPORTED;
            TAILQ_INSERT_TAIL(&peer->done, req, link);
            continue;
        }
        if (rn__peer_write(peer, req) != 0) {
            /* Kept for the next connection (or its deadline). */
            TAILQ_INSERT_HEAD(&peer->queued, req, link);
            rn__peer_close(peer, 0, "out of memory writing a request");
        }
    }
}

/* Account for req's completion, free it and run its callback. */
static void complete(rn_peer_t *peer, rn__peer_req_t *req, int status, const void *response)
{
    rn_peer_cb *cb = req->cb;
    void *arg = req->arg;
    peer->outstanding--;
    peer->outstanding_bytes -= req->frame_len;
    if (status == RN_PEER_OK)
        peer->stats.answered++;
    else
        peer->stats.failed++;
    if (status != RN_PEER_OK && status != RN_PEER_CANCELLED)
        RN_DEBUG("peer", "node %d %s:%d: key %d v%d corr %d: %s", peer->node_id, peer->host,
                 peer->port, req->api_key, req->version, req->correlation_id,
                 rn_peer_status_name(status));
    rn__peer_req_free(req);
    cb(arg, status, response);
}

bool rn__peer_run_done(rn_peer_t *peer)
{
    /* Popped one at a time from the peer, so an rn_peer_free from a callback finds (and
     * cancels) the rest: none runs after it returns. */
    rn__peer_req_t *req;
    while ((req = TAILQ_FIRST(&peer->done)) != NULL) {
        TAILQ_REMOVE(&peer->done, req, link);
        complete(peer, req, req->status, NULL);
    }
    return !peer->closing;
}

bool rn__peer_deliver(rn_peer_t *peer, rn__peer_req_t *req, const uint8_t *frame, size_t len)
{
    int32_t corr;
    void *body = NULL;
    int st =
        rn_rpc_decode_response(frame, len, &peer->arena, req->api_key, req->version, &corr, &body);
    if (st != 0)
        RN_WARN("peer", "node %d %s:%d: malformed response to key %d v%d corr %d: %s",
                peer->node_id, peer->host, peer->port, req->api_key, req->version,
                req->correlation_id, rn_strerror(st));
    complete(peer, req, st == 0 ? RN_PEER_OK : RN_PEER_BAD_RESPONSE, body);
    rn_arena_reset(&peer->arena);
    if (!peer->closing && rn__peer_sasl_renew_due(peer)) {
        /* A new connection logs in again before the peer would close this one. */
        rn__peer_close(peer, 0, "SASL session about to end: reconnecting");
        return rn__peer_run_done(peer);
    }
    return !peer->closing;
}

/* Requests past their deadline: queued ones fail alone; one in flight means the stream is
 * stuck behind it, so the connection goes (Kafka's clients do the same). */
static void on_deadline(int fd, short what, void *arg)
{
    (void)fd, (void)what;
    rn_peer_t *peer = arg;
    rn__peer_enter(peer);
    peer->deadline_at = INT64_MAX; /* fired: no longer pending */
    int64_t now = rn__peer_now_ms();
    rn__peer_req_t *req, *next;
    for (req = TAILQ_FIRST(&peer->queued); req != NULL; req = next) {
        next = TAILQ_NEXT(req, link);
        if (req->deadline <= now) {
            TAILQ_REMOVE(&peer->queued, req, link);
            if (req->cb == NULL) {
                rn__peer_req_free(req);
                continue;
            }
            req->status = RN_PEER_TIMEOUT;
            TAILQ_INSERT_TAIL(&peer->done, req, link);
        }
    }
    TAILQ_FOREACH(req, &peer->inflight, link)
    if (req->deadline <= now) {
        rn__peer_close(peer, 0, "no response within %d ms to key %d v%d corr %d",
                       peer->request_timeout_ms, req->api_key, req->version, req->correlation_id);
        break;
    }
    if (rn__peer_run_done(peer))
        rearm_deadline(peer);
    rn__peer_leave(peer);
}

void rn__peer_enter(rn_peer_t *peer)
{
    peer->busy++;
}

static void destroy(rn_peer_t *peer)
{
    event_free(peer->conn_ev);
    event_free(peer->deadline_ev);
    rn_arena_free(&peer->arena);
    rn_proto_writer_free(&peer->w);
    rn__peer_sasl_free(peer);
    rn_free(peer->client_id);
    rn_free(peer->host);
    rn_free(peer);
}

void rn__peer_leave(rn_peer_t *peer)
{
    if (--peer->busy == 0 && peer->closing)
        destroy(peer);
}

/* Move every request of list to done with status (the handshake is simply dropped). */
static void cancel_list(rn_peer_t *peer, struct rn__peer_req_list *list, int status)
{
    rn__peer_req_t *req;
    while ((req = TAILQ_FIRST(list)) != NULL) {
        TAILQ_REMOVE(list, req, link);
        if (req->cb == NULL) {
            rn__peer_req_free(req);
            continue;
        }
        req->status = status;
        TAILQ_INSERT_TAIL(&peer->done, req, link);
    }
}

void rn_peer_free(rn_peer_t *peer)
{
    if (peer == NULL || peer->closing)
        return;
    peer->closing = true;
    rn__peer_enter(peer);
    rn__peer_teardown(peer);
    event_del(peer->deadline_ev);
    peer->deadline_at = INT64_MAX;
    rn__peer_req_t *req;
    TAILQ_FOREACH(req, &peer->done, link)
    req->status = RN_PEER_CANCELLED;
    cancel_list(peer, &peer->inflight, RN_PEER_CANCELLED);
    cancel_list(peer, &peer->queued, RN_PEER_CANCELLED);
    rn__peer_run_done(peer);
    rn__peer_leave(peer);
}

rn_peer_state_t rn_peer_state(const rn_peer_t *peer)
{
    return peer->state;
}

int rn_peer_outstanding(const rn_peer_t *peer)
{
    return peer->outstanding;
}

void rn_peer_stats(const rn_peer_t *peer, rn_peer_stats_t *stats)
{
    *stats = peer->stats;
}

const char *rn_peer_last_error(const rn_peer_t *peer)
{
    return peer->err;
}
