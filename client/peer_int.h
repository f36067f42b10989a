/* peer_int.h: rn_peer's internals, shared by peer.c (the public calls, request queue,
 * deadlines and callbacks) and peer_conn.c (connecting, the handshake, reading frames).
 * Never included outside client/peer*.c. */
#ifndef RN_PEER_INT_H
#define RN_PEER_INT_H

#include "rn_arena.h"
#include "rn_peer.h"
#include "rn_proto.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

/* Bytes read or written per socket callback at most. */
#define RN_PEER_IO_CHUNK (256 << 10)

/* One request. Valid states: in peer->queued with its frame (not written yet); in
 * peer->inflight with frame NULL (written, waiting for its response); in peer->done with
 * status set (failed, callback about to run). Never in two lists. cb NULL marks the
 * peer's own ApiVersions handshake, which is not counted in outstanding and has no
 * callback. */
typedef struct rn__peer_req {
    TAILQ_ENTRY(rn__peer_req) link;
    int16_t api_key;
    int16_t version;
    int32_t correlation_id; /* assigned when written */
    rn_peer_cb *cb;
    void *arg;
    int64_t deadline; /* monotonic ms */
    uint8_t *frame;   /* the encoded frame, size prefix included; correlation id patched */
    size_t frame_len;
    int status; /* in done: what the callback gets */
} rn__peer_req_t;

TAILQ_HEAD(rn__peer_req_list, rn__peer_req);

struct rn_peer {
    struct event_base *base;
    struct evdns_base *dns;
    char *host;
    int port;
    int32_t node_id;
    char *client_id;
    bool numeric;       /* addr holds the address; otherwise dns resolves host per connect */
    rn_peer_tls_t *tls; /* NULL = plaintext */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    int connect_timeout_ms, request_timeout_ms;
    int backoff_initial_ms, backoff_max_ms, jitter_pct;
    uint32_t rng; /* xorshift32 state for the jitter, never 0 */
    int max_requests;
    size_t max_request_bytes, max_response_bytes;

    /* bev is non-NULL exactly in CONNECTING, HANDSHAKE and READY; conn_ev is pending in
     * CONNECTING (the connect timeout) and BACKOFF (the reconnect). */
    rn_peer_state_t state;
    struct bufferevent *bev;
    struct event *conn_ev;
    struct event *deadline_ev; /* pending exactly when deadline_at < INT64_MAX */
    int64_t deadline_at;       /* when it fires: at or before every request's deadline */
    int64_t next_connect_at;   /* IDLE: no connection attempt before this */
    int failures;              /* connections lost or refused since the last handshake */
    int32_t next_correlation_id;

    /* queued and inflight are each in submission order, and every inflight request was
     * submitted before every queued one (a connection's requests all fail when it goes). */
    struct rn__peer_req_list queued;
    struct rn__peer_req_list inflight;
    struct rn__peer_req_list done;
    int outstanding;          /* callbacks still owed (user requests in the three lists) */
    size_t outstanding_bytes; /* their encoded frame sizes */

    bool have_versions;                                   /* a handshake has filled vmin/vmax */
    int16_t vmin[RN_PEER_MAX_KEY], vmax[RN_PEER_MAX_KEY]; /* -1: not served */
    rn_arena_t arena;    /* the response being delivered; reset after its callback */
    rn_proto_writer_t w; /* request encoding, reused */
    int busy;            /* peer code frames on the stack that came from the loop */
    bool closing;        /* rn_peer_free has run: no callbacks, no I/O from now on */
    rn_peer_stats_t stats;
    char err[200];
    /* SASL login (peer_sasl.c): sasl_mech NULL = none. sasl_step counts the login's
     * requests on this connection; session_end_ms is when the peer's session runs out
     * (INT64_MAX: never). */
    char *sasl_mech, *sasl_user, *sasl_password;
    int sasl_step;
    struct rn_scram_client *scram;
    int64_t session_end_ms;
};

int64_t rn__peer_now_ms(void);

/* peer.c */
/* Encode a request into a new rn__peer_req_t (frame owned); NULL with *err on failure. */
rn__peer_req_t *rn__peer_encode(rn_peer_t *peer, int16_t api_key, int16_t version,
                                const void *request, int *err);
void rn__peer_req_free(rn__peer_req_t *req);
/* Assign the next correlation id and hand the frame to the connection; 0 or RN_ENOMEM. */
int rn__peer_write(rn_peer_t *peer, rn__peer_req_t *req);
/* True when the last handshake listed version of api_key as served. */
bool rn__peer_served(const rn_peer_t *peer, int16_t api_key, int16_t version);
/* Deliver a response frame (bytes after the size, in peer->arena) to req, removed from
 * inflight; false when the peer is closing afterwards. */
bool rn__peer_deliver(rn_peer_t *peer, rn__peer_req_t *req, const uint8_t *frame, size_t len);
/* Run the callbacks of peer->done; false when the peer is closing afterwards. */
bool rn__peer_run_done(rn_peer_t *peer);
/* Make deadline_ev fire by deadline (monotonic ms). */
void rn__peer_arm_deadline(rn_peer_t *peer, int64_t deadline);
/* Write the queued requests (READY); ones the peer does not serve go to done. */
void rn__peer_flush(rn_peer_t *peer);
/* A loop callback enters and leaves the peer; leaving the outermost frame of a closing
 * peer frees it. */
void rn__peer_enter(rn_peer_t *peer);
void rn__peer_leave(rn_peer_t *peer);

/* peer_conn.c */
/* Start connecting now (IDLE/BACKOFF → CONNECTING; on immediate failure → backoff). */
void rn__peer_connect(rn_peer_t *peer);
/* Connect now, or when the backoff left from the last failure expires. */
void rn__peer_kick(rn_peer_t *peer);
/* Drop the connection: requests in flight go to done (the oldest gets head_status when
 * non-zero, expired ones RN_PEER_TIMEOUT, the rest RN_PEER_DISCONNECTED), then a
 * reconnect is scheduled. The caller runs rn__peer_run_done. */
void rn__peer_close(rn_peer_t *peer, int head_status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Free the bufferevent and stop the connection timer, without touching requests. */
void rn__peer_teardown(rn_peer_t *peer);
void rn__peer_on_conn_timer(int fd, short what, void *arg);
/* Write one of the connection set-up's own requests (no callback), bounded by the connect
 * timeout; false when the connection was closed instead. */
bool rn__peer_send_setup(rn_peer_t *peer, int16_t api_key, int16_t version, const void *body);
/* The connection is set up: READY, write what waits. */
void rn__peer_ready(rn_peer_t *peer);

/* peer_sasl.c */
/* After ApiVersions: start the login (true), or false when no SASL is configured. */
bool rn__peer_sasl_start(rn_peer_t *peer);
/* A set-up response of the login (SaslHandshake, SaslAuthenticate); the caller runs
 * rn__peer_run_done. */
void rn__peer_sasl_response(rn_peer_t *peer, int16_t api_key, int16_t version, const uint8_t *frame,
                            size_t len);
/* True when the session runs out soon and nothing is in flight: reconnect now. */
bool rn__peer_sasl_renew_due(const rn_peer_t *peer);
void rn__peer_sasl_free(rn_peer_t *peer);

#endif
