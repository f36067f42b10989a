/* rn_peer's connection (see rn_peer.h): a non-blocking connect through a bufferevent
 * (evdns for host names, so the loop never waits on a resolver), the ApiVersions
 * handshake, response frames read and matched to the oldest request in flight, and the
 * reconnect backoff. Every bufferevent callback is deferred to the loop, so none runs
 * inside rn_peer_send. */
#include "peer_int.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_rpc.h"
#include "rn_str.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define CLIENT_SOFTWARE_NAME    "runnel"
#define CLIENT_SOFTWARE_VERSION "0.1.0"
/* The ApiVersions version of the handshake; v0 is the fallback every broker serves. */
#define HANDSHAKE_VERSION 3

static void arm_conn_timer(rn_peer_t *peer, int64_t ms)
{
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(peer->conn_ev, &tv);
}

/* initial * 2^(failures-1), capped at max, then scaled by the jitter factor. */
static int64_t backoff_ms(rn_peer_t *peer)
{
    int64_t d = peer->backoff_initial_ms;
    for (int i = 1; i < peer->failures && d < peer->backoff_max_ms; i++)
        d *= 2;
    if (d > peer->backoff_max_ms)
        d = peer->backoff_max_ms;
    if (peer->jitter_pct > 0) {
        uint32_t x = peer->rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        peer->rng = x;
        int64_t pct = 100 - peer->jitter_pct + (int64_t)(x % (uint32_t)(2 * peer->jitter_pct + 1));
        d = d * pct / 100;
    }
    return d;
}

/* After a failure: reconnect after the backoff if requests wait, else on the next send. */
static void schedule_reconnect(rn_peer_t *peer)
{
    int64_t delay = backoff_ms(peer);
    if (!TAILQ_EMPTY(&peer->queued)) {
        peer->state = RN_PEER_BACKOFF;
        arm_conn_timer(peer, delay);
    } else {
        peer->state = RN_PEER_IDLE;
        peer->next_connect_at = rn__peer_now_ms() + delay;
    }
}

void rn__peer_kick(rn_peer_t *peer)
{
    if (peer->state != RN_PEER_IDLE)
        return;
    int64_t wait = peer->next_connect_at - rn__peer_now_ms();
    if (wait <= 0) {
        rn__peer_connect(peer);
        return;
    }
    peer->state = RN_PEER_BACKOFF;
    arm_conn_timer(peer, wait);
}

void rn__peer_teardown(rn_peer_t *peer)
{
    if (peer->bev != NULL) {
        /* Also clears its callbacks, so a deferred one never reaches us. */
        bufferevent_free(peer->bev);
        peer->bev = NULL;
    }
    event_del(peer->conn_ev);
}

void rn__peer_close(rn_peer_t *peer, int head_status, const char *fmt, ...)
{
    bool was_ready = peer->state == RN_PEER_READY;
    rn__peer_teardown(peer);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(peer->err, sizeof peer->err, fmt, ap);
    va_end(ap);
    peer->failures = was_ready ? 1 : peer->failures + 1;
    if (peer->failures == 1)
        RN_WARN("peer", "node %d %s:%d: %s", peer->node_id, peer->host, peer->port, peer->err);
    else
        RN_DEBUG("peer", "node %d %s:%d: %s (failure %d)", peer->node_id, peer->host, peer->port,
                 peer->err, peer->failures);
    int64_t now = rn__peer_now_ms();
    bool head = true;
    rn__peer_req_t *req;
    while ((req = TAILQ_FIRST(&peer->inflight)) != NULL) {
        TAILQ_REMOVE(&peer->inflight, req, link);
        if (req->cb == NULL) {
            rn__peer_req_free(req);
        } else {
            req->status = head && head_status != 0 ? head_status
                          : req->deadline <= now   ? RN_PEER_TIMEOUT
                                                   : RN_PEER_DISCONNECTED;
            TAILQ_INSERT_TAIL(&peer->done, req, link);
        }
        head = false;
    }
    schedule_reconnect(peer);
}

bool rn__peer_send_setup(rn_peer_t *peer, int16_t api_key, int16_t version, const void *body)
{
    int err;
    rn__peer_req_t *req = rn__peer_encode(peer, api_key, version, body, &err);
    if (req != NULL) {
        /* Connection setup, handshake and login included, is bounded by the connect
         * timeout. */
        req->deadline = rn__peer_now_ms() + peer->connect_timeout_ms;
        err = rn__peer_write(peer, req);
        if (err == 0) {
            rn__peer_arm_deadline(peer, req->deadline);
            return true;
        }
        rn__peer_req_free(req);
    }
    rn__peer_close(peer, 0, "cannot send api key %d v%d: %s", api_key, version, rn_strerror(err));
    return false;
}

static void send_handshake(rn_peer_t *peer, int16_t version)
{
    rn_api_versions_request_t body;
    rn_api_versions_request_init(&body);
    body.client_software_name = rn_str(CLIENT_SOFTWARE_NAME);
    body.client_software_version = rn_str(CLIENT_SOFTWARE_VERSION);
    rn__peer_send_setup(peer, RN_API_API_VERSIONS, version, &body);
}

void rn__peer_ready(rn_peer_t *peer)
{
    peer->state = RN_PEER_READY;
    peer->failures = 0;
    peer->err[0] = '\0';
    peer->stats.handshakes++;
    rn__peer_flush(peer);
}

static void on_connected(rn_peer_t *peer)
{
    event_del(peer->conn_ev);
    int one = 1;
    evutil_socket_t fd = bufferevent_getfd(peer->bev);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    peer->state = RN_PEER_HANDSHAKE;
    const rn_rpc_api_t *api = rn_rpc_api(RN_API_API_VERSIONS);
    send_handshake(peer,
                   api->max_version < HANDSHAKE_VERSION ? api->max_version : HANDSHAKE_VERSION);
}

static void record_versions(rn_peer_t *peer, const rn_api_versions_response_t *resp, int16_t v)
{
    for (int i = 0; i < RN_PEER_MAX_KEY; i++)
        peer->vmin[i] = peer->vmax[i] = -1;
    for (int32_t i = 0; i < resp->api_keys.count; i++) {
        const rn_api_versions_response_key_t *k = &resp->api_keys.items[i];
        if (k->api_key >= 0 && k->api_key < RN_PEER_MAX_KEY && k->min_version >= 0 &&
            k->min_version <= k->max_version) {
            peer->vmin[k->api_key] = k->min_version;
            peer->vmax[k->api_key] = k->max_version;
        }
    }
    peer->have_versions = true;
    RN_INFO("peer", "node %d %s:%d: connected (ApiVersions v%d, %d apis)", peer->node_id,
            peer->host, peer->port, v, resp->api_keys.count);
}

/* The handshake's answer: record the ranges and write what waits, or retry at a lower
 * version (Kafka's rule: the version the peer lists for ApiVersions, else v0). */
static bool handshake_response(rn_peer_t *peer, rn__peer_req_t *req, const uint8_t *frame,
                               size_t len)
{
    int16_t v = req->version;
    rn__peer_req_free(req);
    int32_t corr;
    void *body = NULL;
    int st = rn_rpc_decode_response(frame, len, &peer->arena, RN_API_API_VERSIONS, v, &corr, &body);
    const rn_api_versions_response_t *resp = body;
    if (st != 0) {
        rn__peer_close(peer, 0, "malformed ApiVersions v%d response: %s", v, rn_strerror(st));
    } else if (resp->error_code == RN_KERR_UNSUPPORTED_VERSION && v > 0) {
        int16_t next = 0;
        for (int32_t i = 0; i < resp->api_keys.count; i++) {
            const rn_api_versions_response_key_t *k = &resp->api_keys.items[i];
            if (k->api_key == RN_API_API_VERSIONS && k->max_version < v && k->max_version > 0)
                next = k->max_version;
        }
        send_handshake(peer, next);
    } else if (resp->error_code != 0) {
        rn__peer_close(peer, 0, "ApiVersions v%d failed: %s", v, rn_kerr_name(resp->error_code));
    } else {
        record_versions(peer, resp, v);
        if (!rn__peer_sasl_start(peer))
            rn__peer_ready(peer);
    }
    rn_arena_reset(&peer->arena);
    return rn__peer_run_done(peer);
}

/* One response frame from the input, if a whole one is there; false when reading must
 * stop (nothing complete yet, the connection closed, or the peer is closing). */
static bool read_frame(rn_peer_t *peer)
{
    struct evbuffer *in = bufferevent_get_input(peer->bev);
    uint8_t size_buf[4];
    if (evbuffer_copyout(in, size_buf, 4) < 4)
        return false;
    uint32_t size = rn_load_be32(size_buf);
    rn__peer_req_t *req = TAILQ_FIRST(&peer->inflight);
    /* Limits before anything is allocated for the frame. */
    if (size > peer->max_response_bytes)
        rn__peer_close(peer, RN_PEER_TOO_BIG, "%u-byte response frame over the %zu-byte limit",
                       size, peer->max_response_bytes);
    else if (size < 4)
        rn__peer_close(peer, RN_PEER_BAD_RESPONSE, "bad response frame size %u", size);
    else if (req == NULL)
        rn__peer_close(peer, RN_PEER_BAD_RESPONSE, "a response with no request in flight");
    if (peer->bev == NULL) {
        rn__peer_run_done(peer);
        return false;
    }
    if (evbuffer_get_length(in) - 4 < size)
        return false;
    uint8_t *frame = rn_arena_alloc(&peer->arena, size);
    if (frame == NULL) {
        rn__peer_close(peer, RN_PEER_TOO_BIG, "no memory for a %u-byte response", size);
        rn__peer_run_done(peer);
        return false;
    }
    evbuffer_drain(in, 4);
    evbuffer_remove(in, frame, size);
    int32_t corr = (int32_t)rn_load_be32(frame); /* first in every response header */
    if (corr != req->correlation_id) {
        rn__peer_close(peer, RN_PEER_BAD_RESPONSE,
                       "response correlation id %d, expected %d (key %d v%d): out of step", corr,
                       req->correlation_id, req->api_key, req->version);
        rn_arena_reset(&peer->arena);
        rn__peer_run_done(peer);
        return false;
    }
    TAILQ_REMOVE(&peer->inflight, req, link);
    if (req->cb == NULL && req->api_key != RN_API_API_VERSIONS) {
        int16_t key = req->api_key, v = req->version;
        rn__peer_req_free(req);
        rn__peer_sasl_response(peer, key, v, frame, size);
        rn_arena_reset(&peer->arena);
        return rn__peer_run_done(peer);
    }
    if (req->cb == NULL)
        return handshake_response(peer, req, frame, size);
    return rn__peer_deliver(peer, req, frame, size);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    rn_peer_t *peer = arg;
    rn__peer_enter(peer);
    while (peer->bev == bev && read_frame(peer))
        ;
    rn__peer_leave(peer);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    rn_peer_t *peer = arg;
    rn__peer_enter(peer);
    if (what & BEV_EVENT_CONNECTED) {
        on_connected(peer);
    } else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        int sockerr = EVUTIL_SOCKET_ERROR();
        int dnserr = bufferevent_socket_get_dns_error(bev);
        const char *stage = peer->state == RN_PEER_CONNECTING ? "connect" : "connection";
        if (peer->state == RN_PEER_CONNECTING && (what & BEV_EVENT_ERROR) && dnserr == 0 &&
            sockerr == ECONNREFUSED)
            peer->stats.refused++;
        unsigned long tlserr = 0, e;
        while (peer->tls != NULL && (e = bufferevent_get_openssl_error(bev)) != 0)
            if (tlserr == 0)
                tlserr = e;
        if (dnserr != 0)
            rn__peer_close(peer, 0, "resolve %s: %s", peer->host, evutil_gai_strerror(dnserr));
        else if (tlserr != 0) {
            SSL *ssl = bufferevent_openssl_get_ssl(bev);
            long verify = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
            rn__peer_close(peer, 0, "%s: TLS: %s%s%s", stage, ERR_reason_error_string(tlserr),
                           verify != X509_V_OK ? ": " : "",
                           verify != X509_V_OK ? X509_verify_cert_error_string(verify) : "");
        } else if (what & BEV_EVENT_EOF)
            rn__peer_close(peer, 0, "%s closed by the peer", stage);
        else
            rn__peer_close(peer, 0, "%s: %s", stage, evutil_socket_error_to_string(sockerr));
        rn__peer_run_done(peer);
    }
    rn__peer_leave(peer);
}

void rn__peer_connect(rn_peer_t *peer)
{
    peer->stats.connects++;
    peer->state = RN_PEER_CONNECTING;
    int flags = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
    if (peer->tls != NULL) {
        /* BEV_EVENT_CONNECTED then comes once the TLS handshake is done too. */
        SSL *ssl = rn_peer_tls_ssl(peer->tls, peer->host);
        if (ssl != NULL) {
            peer->bev = bufferevent_openssl_socket_new(peer->base, -1, ssl,
                                                       BUFFEREVENT_SSL_CONNECTING, flags);
            if (peer->bev == NULL)
                SSL_free(ssl);
            else
                bufferevent_openssl_set_allow_dirty_shutdown(peer->bev, 1);
        }
    } else {
        peer->bev = bufferevent_socket_new(peer->base, -1, flags);
    }
    if (peer->bev == NULL) {
        rn__peer_close(peer, 0, "connect: out of memory");
        return;
    }
    bufferevent_setcb(peer->bev, on_read, NULL, on_event, peer);
    /* libevent reads 4-16 KiB per callback by default: a follower's 1 MiB Fetch response
     * would take a loop iteration per few KiB. */
    bufferevent_set_max_single_read(peer->bev, RN_PEER_IO_CHUNK);
    bufferevent_set_max_single_write(peer->bev, RN_PEER_IO_CHUNK);
    bufferevent_enable(peer->bev, EV_READ | EV_WRITE);
    int rc = peer->numeric ? bufferevent_socket_connect(peer->bev, (struct sockaddr *)&peer->addr,
                                                        (int)peer->addrlen)
                           : bufferevent_socket_connect_hostname(peer->bev, peer->dns, AF_UNSPEC,
                                                                 peer->host, peer->port);
    if (rc != 0) {
        int sockerr = EVUTIL_SOCKET_ERROR();
        if (sockerr == ECONNREFUSED)
            peer->stats.refused++;
        rn__peer_close(peer, 0, "connect: %s", evutil_socket_error_to_string(sockerr));
        return;
    }
    arm_conn_timer(peer, peer->connect_timeout_ms);
}

void rn__peer_on_conn_timer(int fd, short what, void *arg)
{
    (void)fd, (void)what;
    rn_peer_t *peer = arg;
    rn__peer_enter(peer);
    if (peer->state == RN_PEER_BACKOFF)
        rn__peer_connect(peer);
    else if (peer->state == RN_PEER_CONNECTING)
        rn__peer_close(peer, 0, "connect timed out after %d ms", peer->connect_timeout_ms);
    rn__peer_run_done(peer);
    rn__peer_leave(peer);
}
