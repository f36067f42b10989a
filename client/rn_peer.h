/* rn_peer: an asynchronous Kafka client for one remote node, driven by the caller's
 * libevent loop. The broker's cluster work (metadata quorum, controller channel, follower
 * fetchers) talks to other nodes through it; nothing in it blocks the loop (design
 * decision 3): no blocking DNS, connect or I/O. The blocking rn_conn is for tools.
 *
 * One rn_peer_t keeps at most one TCP connection (TLS with opts.tls). It connects on the first
 * send, performs an ApiVersions handshake (v3, falling back to v0 on UNSUPPORTED_VERSION, as
 * Kafka's clients do) and then writes requests pipelined, in submission order; Kafka answers in
 * order, and each response's correlation id is checked against the oldest request in
 * flight. Requests submitted while the connection is being set up wait in a queue and are
 * sent once the handshake is done.
 *
 * The callback rule: a callback is called exactly once for every request rn_peer_send()
 * accepted (returned 0), always from the loop, never from inside rn_peer_send(): with
 * RN_PEER_OK and the decoded response, or with a failure status and response NULL.
 * rn_peer_free() calls the callbacks of all outstanding requests with RN_PEER_CANCELLED
 * before it returns, and no callback runs after it returns. rn_peer_free() may be called
 * from inside one of the peer's callbacks; the peer's memory is then released when that
 * callback returns to the peer. A callback may call rn_peer_send() (during rn_peer_free's
 * cancellations it returns RN_ECANCELED).
 *
 * Failures: a request with no response within request_timeout_ms (counted from
 * rn_peer_send) gets RN_PEER_TIMEOUT; if it was already written the connection is closed,
 * as Kafka's clients do, since the stream behind it is stuck. When the connection is lost,
 * every request written to it gets RN_PEER_DISCONNECTED (it may or may not have been
 * processed: the caller decides whether a retry is safe); requests not yet written stay
 * queued. The peer reconnects after a backoff (initial, doubling to max, optionally
 * jittered) when requests are queued, otherwise on the next send.
 *
 * Not thread-safe: every call is made on the loop's thread. The process must ignore
 * SIGPIPE (runneld does): libevent writes to sockets the peer may have closed. */
#ifndef RN_PEER_H
#define RN_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evdns_base;
struct ssl_ctx_st;
struct ssl_st;

/* TLS for peers: the context new connections are made with (a reload replaces it for the
 * connections made after) and whether the server's certificate must name the host
 * connected to (Kafka's ssl.endpoint.identification.algorithm=https; an IP address is
 * matched against the certificate's IP addresses). One may be shared by many peers, on
 * any threads; it must outlive them. */
typedef struct rn_peer_tls rn_peer_tls_t;
/* NULL when ctx is NULL. Takes a reference on ctx. */
rn_peer_tls_t *rn_peer_tls_new(struct ssl_ctx_st *ctx, bool check_host);
/* Connections made from now on use ctx (a reference is taken; ctx NULL is ignored). */
void rn_peer_tls_set_ctx(rn_peer_tls_t *tls, struct ssl_ctx_st *ctx);
/* A client TLS session for one connection to host (SNI for a name, the host check when
 * asked); NULL when out of memory. */
struct ssl_st *rn_peer_tls_ssl(rn_peer_tls_t *tls, const char *host);
void rn_peer_tls_free(rn_peer_tls_t *tls);

/* Api keys at or above this are ignored in the peer's ApiVersions answer. */
#define RN_PEER_MAX_KEY 128

/* What a callback is told. */
typedef enum rn_peer_status {
    RN_PEER_OK = 0,            /* response decoded */
    RN_PEER_TIMEOUT = -1,      /* no response within the request timeout */
    RN_PEER_DISCONNECTED = -2, /* the connection was lost after the request was written */
    RN_PEER_CANCELLED = -3,    /* rn_peer_free() */
    RN_PEER_BAD_RESPONSE = -4, /* malformed body, or a correlation id out of order */
    RN_PEER_TOO_BIG = -5,      /* response frame over max_response_bytes (connection closed) */
    RN_PEER_UNSUPPORTED = -6,  /* the peer's handshake showed it does not serve that version */
} rn_peer_status_t;

/* A short name for a status, for logs. */
const char *rn_peer_status_name(int status);

/* response: the rn_<api>_response_t, valid only until the callback returns (it lives in
 * the peer's response arena, with the frame its strings and records point into); copy
 * what must be kept. NULL unless status is RN_PEER_OK. */
typedef void rn_peer_cb(void *arg, int status, const void *response);

/* Options; zero means the default given in brackets. */
typedef struct rn_peer_opts {
    const char *host;          /* numeric IPv4/IPv6 or "localhost"; names need dns */
    int port;                  /* required */
    int32_t node_id;           /* the remote node, for logs (-1 unknown; 0 is a real id) */
    const char *client_id;     /* request header client id ["runnel"] */
    int connect_timeout_ms;    /* TCP connect, DNS included [10000] */
    int request_timeout_ms;    /* from rn_peer_send to the response [30000] */
    int backoff_initial_ms;    /* first reconnect delay [50] */
    int backoff_max_ms;        /* the doubling stops here [1000] */
    int backoff_jitter_pct;    /* 0..100: delay scaled by a factor in [1-p%, 1+p%] [0] */
    uint32_t jitter_seed;      /* seed of the jitter's pseudo-random numbers [1] */
    int max_requests;          /* outstanding requests (queued + in flight) [1024] */
    size_t max_request_bytes;  /* their encoded bytes [64 MiB] */
    size_t max_response_bytes; /* largest response frame accepted [64 MiB] */
    struct evdns_base *dns;    /* resolves host names off the loop's blocking path; NULL:
                                * only numeric hosts and "localhost" (127.0.0.1) */
    rn_peer_tls_t *tls;        /* connect with TLS (the handshake precedes ApiVersions);
                                * NULL = plaintext */
    /* A SASL login after the ApiVersions handshake, for a peer listening on SASL_*:
     * mechanism "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512" (NULL: none), user and password
     * (copied). Requests wait until the login succeeds; a refused login closes the connection
     * and is retried after the backoff. When the peer gives the session a lifetime
     * (KIP-368), the connection is re-established before it runs out. */
    const char *sasl_mechanism, *sasl_username, *sasl_password;
} rn_peer_opts_t;

/* Where the peer's connection is. */
typedef enum rn_peer_state {
    RN_PEER_IDLE,       /* no connection; the next send connects (after any backoff left) */
    RN_PEER_BACKOFF,    /* waiting to reconnect */
    RN_PEER_CONNECTING, /* DNS and TCP connect under way */
    RN_PEER_HANDSHAKE,  /* connected, ApiVersions (and the SASL login) in flight */
    RN_PEER_READY,      /* requests are written as they come */
} rn_peer_state_t;

/* Counters, for tests and metrics. */
typedef struct rn_peer_stats {
    uint64_t connects;   /* connection attempts started */
    uint64_t handshakes; /* handshakes completed */
    uint64_t sent;       /* requests written (handshakes excluded) */
    uint64_t answered;   /* responses delivered with RN_PEER_OK */
    uint64_t failed;     /* callbacks called with another status */
    uint64_t refused;    /* connection attempts refused: nothing listened at the address */
} rn_peer_stats_t;

typedef struct rn_peer rn_peer_t;

/* A peer for one remote node; nothing connects before the first send. NULL when the
 * options are invalid (no port, a host name without dns): the reason is logged. The peer
 * holds no reference to opts or its strings after this returns. */
rn_peer_t *rn_peer_new(struct event_base *base, const rn_peer_opts_t *opts);

/* Queue request (an rn_<api>_request_t for api_key at version) to the peer. The request is
 * encoded before this returns, so it (and the memory it points to) may go right after.
 * Returns 0 when accepted (cb will be called once, see the callback rule), or a negative
 * RN_E* and cb will not be called: RN_EFULL over max_requests / max_request_bytes,
 * RN_EUNSUPPORTED for a version our codec cannot encode or the peer does not serve (known
 * once a handshake has been done), RN_EINVAL for a request that cannot be encoded or
 * expects no response (Produce with acks 0), RN_ECANCELED while rn_peer_free runs. */
int rn_peer_send(rn_peer_t *peer, int16_t api_key, int16_t version, const void *request,
                 rn_peer_cb *cb, void *arg);

/* The highest version of api_key that the peer serves and our codec defines, at most
 * max_we_support (< 0: no cap); -1 when none, or before the first handshake. The ranges of
 * the last handshake are kept while reconnecting. */
int16_t rn_peer_version(const rn_peer_t *peer, int16_t api_key, int16_t max_we_support);

rn_peer_state_t rn_peer_state(const rn_peer_t *peer);
/* Requests accepted whose callback has not run yet. */
int rn_peer_outstanding(const rn_peer_t *peer);
void rn_peer_stats(const rn_peer_t *peer, rn_peer_stats_t *stats);
/* The last connection failure ("" when none): "connect: Connection refused". */
const char *rn_peer_last_error(const rn_peer_t *peer);

/* Close the connection, call every outstanding callback with RN_PEER_CANCELLED, and free
 * the peer (later, if called from one of its callbacks). NULL is ignored. */
void rn_peer_free(rn_peer_t *peer);

#endif
