/* rn_server: runneld's network side — listener, connections, Kafka framing, dispatch of
 * requests to API handlers, and in-order responses.
 *
 * One libevent event_base runs everything (design.md, decision 3). Each connection reads
 * frames (int32 size + request), checks the size against socket.request.max.bytes before
 * allocating, decodes the request header, looks the api key up in the dispatch table and
 * calls the handler. Requests of one connection are queued in arrival order; a response is
 * written only when every earlier request on that connection has been answered, so a
 * handler may finish later (long-poll Fetch, acks=all Produce) without reordering.
 *
 * Limits against hostile clients (README "Exposing runnel to a network"): connections over
 * max.connections / max.connections.per.ip are accepted and closed; a request must be
 * completed within read_timeout_ms of its first byte; request memory (grown as bytes
 * arrive) is bounded server-wide by queued.max.request.bytes and a connection's unsent
 * responses by max_queued_response_bytes (reading stops until it drains); a peer that goes
 * away is freed at once even while reading is stopped; accept at EMFILE backs off.
 *
 * Handler contract (the interface every API handler plugs into):
 *
 *   int rn_handle_xxx(rn_req_t *req);
 *
 *   - req->api_key / api_version / correlation_id / client_id describe the request.
 *     req->request is the decoded body, an rn_<api>_request_t (client/rn_messages.h);
 *     its strings point into the frame, which stays valid until the request is answered.
 *     req->response is the rn_<api>_response_t to fill, already initialised with Kafka's
 *     defaults; arrays and copies go in req->arena (e.g.
 *     rn_metadata_response_topic_array_alloc(&req->arena, &resp->topics, n)). The server
 *     encodes it at req->response_version (= api_version) with the right response header
 *     and frees the arena once the bytes are queued. For Fetch, set a partition's records
 *     to a file range (rn_records_t .in_file/.fd/.offset/.len/.owner): it goes out by
 *     sendfile(2) and opts.file_release(owner) runs when libevent is done with it.
 *   - req->ctx is the server's context pointer (runneld passes its rn_broker_t).
 *   - Return RN_HANDLED_SYNC when the response is complete, RN_HANDLED_NO_RESPONSE when
 *     none is sent (acks=0 Produce; the request still keeps its place in the order),
 *     RN_HANDLED_ASYNC when the handler will finish later by calling rn_req_complete(req)
 *     (before that it should call rn_req_park to be told if the connection goes away), or
 *     a negative RN_E* when the request is malformed: the server logs it with the peer, api
 *     key/version and correlation id and closes that connection only.
 *   - A parked request whose connection closes (or the server shuts down) gets its cancel
 *     callback exactly once; after the callback returns the request is freed and the
 *     handler must forget it (remove it from wait lists, free its timer) and never call
 *     rn_req_complete on it. A request parked without a cancel callback is kept alive
 *     (orphaned) until rn_req_complete, whose output is then discarded.
 *   - rn_req_complete may be called from any callback on the loop, including from inside
 *     another request's handler (a Produce waking parked Fetches). It must not be called
 *     from another thread: use an event to hop back onto the loop. */
#ifndef RN_SERVER_H
#define RN_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rn_arena.h"
#include "ops/rn_metrics.h"
#include "rn_rpc.h"

#include <event2/buffer.h>
#include <event2/event.h>

typedef struct rn_server rn_server_t;
typedef struct rn_srvconn rn_srvconn_t;
typedef struct rn_req rn_req_t;

/* Handler results (see the contract above). Negative RN_E* = malformed request. */
enum {
    RN_HANDLED_SYNC = 0,
    RN_HANDLED_ASYNC = 1,
    RN_HANDLED_NO_RESPONSE = 2,
};

typedef int (*rn_handler_fn)(rn_req_t *req);
/* Told that a parked request's connection went away; see rn_req_park. */
typedef void (*rn_cancel_fn)(rn_req_t *req, void *arg);

/* Dispatch table flags. */
enum {
    /* The handler also receives versions outside [min_version, max_version] and answers
     * them itself (ApiVersions answers an unsupported version with error 35 in v0 layout).
     * For a version the codec does not define, req->request is NULL. */
    RN_API_ANY_VERSION = 1,
};

/* One row of the dispatch table: which versions of an api key we serve and who serves them.
 * ApiVersions is generated from these rows, so a row is a promise to clients. */
typedef struct rn_api_entry {
    int16_t api_key;
    int16_t min_version, max_version;
    rn_handler_fn handler;
    unsigned flags;
    const char *name; /* "Produce", for logs and metrics */
} rn_api_entry_t;

#define RN_API_KEY_MAX 127 /* api keys above are rejected before lookup */

/* A request in flight. Fields are read-only for handlers except user and the response. */
struct rn_req {
    rn_server_t *server;
    void *ctx; /* the server's context (runneld: rn_broker_t *) */
    const rn_api_entry_t *api;
    int16_t api_key, api_version;
    int32_t correlation_id;
    const char *client_id;    /* a copy of every byte, NUL-terminated; "" when null */
    int32_t client_id_len;    /* its length: a Kafka string may hold NUL bytes */
    bool flexible;            /* header v2 / response header v1 */
    void *request;            /* decoded rn_<api>_request_t; NULL for an undefined version */
    void *response;           /* rn_<api>_response_t to fill */
    int16_t response_version; /* version the response is encoded in (api_version) */
    rn_arena_t arena;         /* per-request memory, freed when the response is queued */
    void *user;               /* free for the handler (e.g. its parked state) */
    const char *peer;         /* "host:port" of the client, for logs */
    uint64_t conn_id;         /* stable id of the connection, for logs */
    int listener;             /* index in opts.listens of the socket the connection came in
                               * on (0 with a single host/port): which addresses to answer */
    uint64_t handle_ns;       /* loop time spent in the handler call (request quotas) */
    /* Who sent it, as Kafka writes a principal ("User:alice"); "User:ANONYMOUS" until a
     * TLS certificate or SASL login names someone (rn_server_set_principal). Lives as long
     * as the request. */
    const char *principal;

    /* Private to the server. */
    rn_srvconn_t *conn; /* the connection; marked closed (not freed) while req is orphaned */
    struct rn_req *next;
    uint8_t *frame; /* the frame after the size prefix (owned) */
    size_t frame_len;
    /* The encoded response frame, kept until every earlier response has been written;
     * file chunks in it stay sendfile segments. */
    struct evbuffer *out;
    int state;
    bool parked;      /* counted in metrics.requests_parked */
    uint64_t read_ns; /* CLOCK_MONOTONIC when the frame was read, for metrics.latency */
    bool no_response;
    rn_cancel_fn cancel;
    void *cancel_arg;
    bool raw_token;   /* a bare SASL token after SaslHandshake v0, posing as SaslAuthenticate v0 */
    bool close_after; /* close the connection once this response is written */
};

/* In-memory counters rendered on /metrics (metrics_broker.c). Indexed by api key where per
 * api. Plain increments on the loop thread: no locks, no allocation. */
typedef struct rn_server_metrics {
    uint64_t requests[RN_API_KEY_MAX + 1];
    uint64_t errors[RN_API_KEY_MAX + 1]; /* malformed + handler-flagged (rn_req_count_error) */
    uint64_t bytes_in, bytes_out;
    uint64_t connections_accepted, connections_open;
    uint64_t connections_closed_bad; /* closed for a bad frame or request */
    uint64_t requests_parked;        /* currently waiting for rn_req_complete */
    /* The limits against hostile clients (see rn_server_opts_t). */
    uint64_t connections_rejected;      /* over max.connections or max.connections.per.ip */
    uint64_t connections_closed_idle;   /* connections.max.idle.ms */
    uint64_t connections_closed_slow;   /* socket.request.read.timeout.ms */
    uint64_t accept_pauses;             /* listener paused for EMFILE/ENFILE (episodes) */
    uint64_t tls_handshakes_failed;     /* TLS connections closed before the handshake ended */
    uint64_t reads_paused_memory;       /* a connection waited for queued.max.request.bytes */
    uint64_t reads_paused_backpressure; /* a connection waited for its responses to drain */
    uint64_t reads_paused_throttle;     /* a connection was muted for a quota (rn_req_throttle) */
    int64_t queued_request_bytes;       /* memory of requests being read or handled (gauge) */
    /* Seconds from reading a request to queueing its response (or dropping it, for
     * acks=0), over rn_metrics_latency_bounds. */
    rn_metrics_hist_t latency[RN_API_KEY_MAX + 1];
} rn_server_metrics_t;

/* One listening socket (a named listener of runneld). */
typedef struct rn_server_listen {
    const char *name; /* for logs, e.g. "INTERNAL"; copied */
    const char *host; /* bind address; "" or NULL = every interface */
    int port;         /* 0 = ephemeral */
    /* TLS (an SSL listener): every connection is accepted with a handshake in this context
     * (rn_tls_server_ctx), the server taking its own reference; its principal is the verified
     * client certificate's subject (rn_tls_principal). File ranges of Fetch responses are read
     * and encrypted instead of sent with sendfile. NULL = plaintext. */
    struct ssl_ctx_st *ssl_ctx;
    bool sasl; /* SASL_*: a connection must log in first (see rn_req_authenticated) */
} rn_server_listen_t;

/* Server settings (runneld fills them from rn_config). The connection limits and request
 * memory are server-wide, over every listening socket, as Kafka's broker-wide ones. */
typedef struct rn_server_opts {
    const rn_server_listen_t *listens; /* every listening socket; copied */
    size_t n_listens;                  /* 0 = the one socket of host and port */
    const char *host;                  /* bind address; "" or NULL = every interface */
    int port;                          /* 0 = ephemeral; rn_server_port tells the bound port */
    int32_t max_request_bytes;         /* socket.request.max.bytes */
    int64_t idle_ms;                   /* connections.max.idle.ms; <= 0 = never. Only complete
                                        * requests and response bytes written are activity */
    int64_t read_timeout_ms;           /* socket.request.read.timeout.ms: from a request's first
                                        * byte to its last; <= 0 = never */
    int32_t max_connections;           /* max.connections; <= 0 = no limit */
    int32_t max_connections_per_ip;    /* max.connections.per.ip; <= 0 = no limit */
    const char *per_ip_overrides;      /* max.connections.per.ip.overrides "HOST:N,..." */
    int64_t queued_max_request_bytes;  /* queued.max.request.bytes, over all connections;
                                        * <= 0 = no bound; else >= max_request_bytes */
    int64_t max_queued_response_bytes; /* connections.max.queued.response.bytes per
                                        * connection; <= 0 = 4 MiB */
    int send_buffer, recv_buffer;      /* SO_SNDBUF / SO_RCVBUF; <= 0 = OS default */
    const rn_api_entry_t *apis;        /* dispatch table; copied */
    size_t n_apis;
    void *ctx; /* given to handlers as req->ctx */
    /* Called with a file records' owner once libevent has sent (or dropped) it. */
    rn_proto_release_fn *file_release;
    /* Called for every finished request of an open connection just before its response is
     * encoded (also without a response, acks=0): where client quotas record usage, set the
     * response's throttle time and call rn_req_throttle. NULL = none. */
    void (*before_response)(rn_req_t *req);
} rn_server_opts_t;

/* Create a server on base and start listening. The codec's served versions
 * (rn_rpc_serve, hence ApiVersions) are set from the dispatch table: rows not in the table
 * are not served. NULL with a message in err on failure (address in use, bad host, a row
 * outside the versions the codec defines). */
rn_server_t *rn_server_new(struct event_base *base, const rn_server_opts_t *opts, char *err,
                           size_t errlen);
/* Stop accepting new connections (shutdown starts); existing ones keep being served. */
void rn_server_stop_accepting(rn_server_t *srv);
/* Shutdown, step two: stop reading requests on every connection; requests already read
 * are still answered and written. */
void rn_server_drain(rn_server_t *srv);
/* True when no request is in flight and every connection's output has been written. */
bool rn_server_drained(const rn_server_t *srv);
/* Requests accepted but not yet answered, over all connections. */
size_t rn_server_inflight(const rn_server_t *srv);
/* Close every connection (parked requests are cancelled) and free the server. */
void rn_server_free(rn_server_t *srv);

/* The bound port of the first listening socket, or of socket i. */
int rn_server_port(const rn_server_t *srv);
int rn_server_listener_port(const rn_server_t *srv, int i);
/* Accept the next connections of TLS listener i with ctx (a reload of its certificate, key
 * or trust store); connections already open keep the context they began with. The server
 * takes a reference. RN_EINVAL when listener i is not a TLS listener or ctx is NULL. */
int rn_server_set_ssl_ctx(rn_server_t *srv, int i, struct ssl_ctx_st *ctx);
/* The principal of req's connection from now on, for this and every later request on it
 * (copied). */
void rn_server_set_principal(rn_req_t *req, const char *principal);
const rn_server_metrics_t *rn_server_metrics(const rn_server_t *srv);

/* SASL, for the SaslHandshake and SaslAuthenticate handlers (broker/auth). On a connection
 * of a listener with rn_server_listen_t.sasl the server lets through only ApiVersions,
 * SaslHandshake and SaslAuthenticate until rn_req_authenticated, and once the session it
 * gave has expired only SaslHandshake and SaslAuthenticate (KIP-368 re-authentication);
 * any other request closes the connection, as Kafka does. Frames are capped at 512 KiB
 * before the login (Kafka's limit for SASL tokens). */
bool rn_req_sasl_listener(const rn_req_t *req);
/* The connection has logged in (now or again) until session_ms from now (<= 0: for good). */
void rn_req_authenticated(rn_req_t *req, int64_t session_ms);
/* Whether the connection has logged in, and whether its session has run out. */
bool rn_req_is_authenticated(const rn_req_t *req);
/* The login state of req's connection (NULL before one is set); set replaces and frees the
 * old one with its free_fn; the connection frees the last when it goes. */
void *rn_req_auth_state(const rn_req_t *req);
void rn_req_set_auth_state(rn_req_t *req, void *state, void (*free_fn)(void *));
/* After SaslHandshake v0 (on=true): the connection's next frames are bare SASL tokens (size
 * prefix only); each reaches the SaslAuthenticate handler as a v0 request with
 * req->raw_token set, and its answer goes back bare (a size prefix and the auth_bytes; an
 * answer with an error code is not sent and the connection closes). */
void rn_req_sasl_raw_tokens(rn_req_t *req, bool on);
/* Close the connection once this request's response is written (a failed login). */
void rn_req_close_after(rn_req_t *req);
/* The dispatch table (sorted by api key), e.g. to answer ApiVersions. */
const rn_api_entry_t *rn_server_apis(const rn_server_t *srv, size_t *count);
/* The entry for an api key, or NULL. */
const rn_api_entry_t *rn_server_find_api(const rn_server_t *srv, int16_t api_key);

/* Declare that the handler will return RN_HANDLED_ASYNC; cancel (may be NULL) is called if
 * the connection closes first. */
void rn_req_park(rn_req_t *req, rn_cancel_fn cancel, void *arg);
/* Take the request's frame (its records and strings point into it; rn_free it): for a
 * cancel callback whose worker threads still read it once the request is freed. */
uint8_t *rn_req_take_frame(rn_req_t *req);
/* Finish a parked request: its response is encoded now and sent when its turn comes.
 * req must not be touched afterwards. */
void rn_req_complete(rn_req_t *req);
/* Finish a parked request without a response and close its connection from the loop soon
 * after, sending nothing more (responses not yet written are dropped, later requests'
 * parked state cancelled): a failed acks=0 Produce answered late, as a handler returning
 * an RN_E* would close it at once. why (a static string) goes to the log. */
void rn_req_complete_close(rn_req_t *req, const char *why);
/* Mark that no response is to be sent (acks=0); then return/complete as usual. */
void rn_req_no_response(rn_req_t *req);
/* Throttle the request's client for ms (a quota was exceeded): stop reading from its
 * connection (mute it) until then, as Kafka does since KIP-219, so the client's next
 * request waits; with hold_response (clients older than KIP-219, which do not back off by
 * themselves) this response and later ones are also held back until then. Call from
 * before_response or a handler. */
void rn_req_throttle(rn_req_t *req, int64_t ms, bool hold_response);
/* Count an error answer for this api in the metrics. */
void rn_req_count_error(rn_req_t *req);
/* A printf-formatted string in the request's arena (error messages); null when out of
 * memory. */
rn_str_t rn_req_strf(rn_req_t *req, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A NUL-terminated arena copy of a slice ("" for null; NULL when out of memory). */
char *rn_req_cstr(rn_req_t *req, rn_str_t s);
/* True when the request's connection has closed (only possible for orphaned requests). */
bool rn_req_orphaned(const rn_req_t *req);

#endif
