/* Private structures shared by server.c (listener, dispatch table) and conn.c (framing,
 * request queue). Never included outside broker/net/server.c and broker/net/conn.c. */
#ifndef RN_SERVER_INT_H
#define RN_SERVER_INT_H

#include "net/rn_netlimit.h"
#include "net/rn_server.h"
#include "rn_clock.h"

#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <time.h>

/* Requests handled per read wakeup before yielding to other connections. */
#define RN_CONN_BUDGET 16
/* Lines a second about malformed requests and frames; beyond, they are counted (see
 * rn_lograte_t) and the connections_closed_bad metric keeps the full count. */
#define RN_BAD_LOG_PER_SEC 20
/* Unanswered requests one connection may have before we stop reading from it. */
#define RN_CONN_MAX_PENDING 256
/* Default of connections.max.queued.response.bytes: bytes of unsent responses (and of
 * requests still being handled) one connection may hold before we stop reading from it. */
#define RN_CONN_MAX_QUEUED (4u << 20)
/* Responses up to this size are copied into the socket's output instead of moving their
 * buffer chain: a chain costs about 1 KiB whatever it holds, so thousands of small queued
 * responses would otherwise hold ten times their size. */
#define RN_CONN_COPY_MAX 4096
/* While reading is stopped, how often the connection checks that its peer is still there. */
#define RN_CONN_PEER_POLL_NS (250u * 1000000u)
/* First allocation for a request body being received; it doubles as bytes arrive, so a
 * length prefix alone reserves nothing. */
#define RN_CONN_RX_FIRST (16u << 10)
/* Largest single read/write per wakeup (libevent's default is 16 KiB). */
#define RN_CONN_IO_CHUNK (256 << 10)

#define RN_PRINCIPAL_ANONYMOUS "User:ANONYMOUS"
/* Largest frame before a SASL login completes (Kafka's SaslServerAuthenticator). */
#define RN_CONN_SASL_MAX_RECEIVE 524288

/* Request states. A request is in its connection's queue from arrival until its response
 * has been moved to the socket's output buffer. */
enum {
    RN_REQ_HANDLING = 0, /* in the handler, or parked (ASYNC) */
    RN_REQ_DONE = 1,     /* response encoded in out (or no response) */
};

struct rn_srvconn {
    rn_server_t *srv;
    int listener;            /* index of the listening socket it was accepted on */
    struct bufferevent *bev; /* NULL once closed */
    uint64_t id;
    char peer[64];
    /* Request queue in arrival order; responses leave from the head only. */
    rn_req_t *head, *tail;
    size_t n_pending;
    size_t n_orphans;          /* requests kept alive after close (parked without cancel) */
    bool closed;               /* socket gone; struct lives on while n_orphans > 0 */
    bool read_paused;          /* reading stopped by backpressure */
    bool mem_wait;             /* reading stopped until queued.max.request.bytes has room */
    bool processing;           /* inside process_input (guards re-entrance) */
    bool draining;             /* server shutdown: never resume reading */
    bool broken;               /* a response could not be encoded, or a handler asked to
                                * close (rn_req_complete_close): close, send nothing more */
    const char *broken_why;    /* why, for the log; NULL: the encoding failed */
    bool tls;                  /* bev is a TLS bufferevent (an SSL listener's connection) */
    bool handshaken;           /* TLS: the handshake has completed */
    struct event *resume;      /* re-runs process_input when the budget ran out */
    rn_srvconn_t *prev, *next; /* server's list of open connections */
    rn_srvconn_t *mem_next;    /* server's FIFO of connections in mem_wait */
    char ip[INET6_ADDRSTRLEN]; /* the peer's address, for max.connections.per.ip */
    /* A request received straight into its own buffer (rx_size != 0): rx_have of its
     * rx_size bytes are in, in rx_frame of rx_cap bytes (rx_have <= rx_cap <= rx_size, all
     * counted in srv->metrics.queued_request_bytes); the size prefix is consumed. */
    uint8_t *rx_frame;
    size_t rx_size, rx_have, rx_cap;
    /* Deadlines (one timer; it re-arms itself for the earliest):
     *  - idle: active_ns + idle_ms, when no request is being handled;
     *  - read: rx_start_ns + read_timeout_ms while part of a request is in and reading is
     *    not stopped by our own backpressure. */
    struct event *timer;
    uint64_t timer_at_ns; /* when the timer fires; 0 = not armed */
    uint64_t active_ns;   /* last complete request read or response bytes written */
    uint64_t rx_start_ns; /* first byte of the unfinished request; 0 = none */
    uint64_t out_total;   /* bytes ever queued on the socket's output */
    uint64_t out_sent;    /* out_total minus the output left, at the last look */
    /* Watches for the peer going away (EV_CLOSED: FIN or RST) while reading is stopped,
     * when the bufferevent would not notice. */
    struct event *closed_ev;
    /* Quota throttling (rn_req_throttle): reading is off until mute_until_ns, responses
     * stay queued until hold_until_ns (<= mute_until_ns); 0 = not muted / not held. The
     * timer fires at mute_until_ns. */
    uint64_t mute_until_ns, hold_until_ns;
    /* The connection's principal (rn_req_t.principal); NULL = RN_PRINCIPAL_ANONYMOUS.
     * Owned. One replaced by a later login is kept in retired until the connection is
     * freed, because requests in flight still point at it. */
    char *principal;
    char **retired;
    size_t n_retired;
    /* SASL (rn_req_authenticated): sasl is the listener's; session_end_ns 0 = no expiry;
     * raw_tokens after SaslHandshake v0; auth is the login's state, freed by auth_free.
     * closing: a response asked to close the connection once written (rn_req_close_after);
     * nothing more is read. */
    bool sasl, authenticated, raw_tokens, closing;
    uint64_t session_end_ns;
    void *auth;
    void (*auth_free)(void *);
};

/* One listening socket; lev is NULL once accepting has stopped. */
typedef struct rn_lsock {
    rn_server_t *srv;
    struct evconnlistener *lev;
    int index;
    int port; /* bound */
    char name[64];
    struct ssl_ctx_st *ssl_ctx; /* TLS listener: new connections' context (a reference) */
    bool sasl;                  /* rn_server_listen_t.sasl */
} rn_lsock_t;

struct rn_server {
    struct event_base *base;
    rn_lsock_t *lsocks; /* every listening socket, in opts.listens order */
    size_t n_lsocks;
    rn_server_opts_t opts;
    rn_api_entry_t *apis; /* sorted copy of opts.apis */
    size_t n_apis;
    rn_api_entry_t *by_key[RN_API_KEY_MAX + 1];
    uint64_t next_conn_id;
    rn_srvconn_t *conns;   /* open connections */
    rn_srvconn_t *zombies; /* closed connections kept for orphaned requests */
    size_t inflight;
    bool draining;
    rn_srvconn_t *mem_head, *mem_tail; /* connections waiting for queued.max.request.bytes */
    rn_ip_limit_t *ip_limits;          /* max.connections.per.ip.overrides */
    size_t n_ip_limits;
    struct event *accept_retry; /* re-enables the listener after EMFILE/ENFILE */
    int accept_backoff_ms;      /* current back-off; 0 = accepting normally */
    uint64_t accept_paused_ns;  /* when the current accept pause began */
    /* Episodes, each logged once when it starts (and for some, when it ends). */
    rn_episode_t ep_max_conns, ep_per_ip, ep_slow, ep_idle, ep_memory;
    rn_lograte_t log_bad;     /* lines about malformed requests and frames */
    rn_proto_writer_t writer; /* encodes one response at a time, then is reset */
    rn_server_metrics_t metrics;
};

/* CLOCK_MONOTONIC in nanoseconds (request latency). */
static inline uint64_t rn__server_now_ns(void)
{
    return (uint64_t)rn_clock_mono_ns();
}

/* Whether a line about a malformed request or frame may be logged now (RN_BAD_LOG_PER_SEC);
 * *skipped then holds how many were left out before it. */
static inline bool rn__server_may_log_bad(rn_server_t *srv, uint64_t *skipped)
{
    return rn_lograte_allow(&srv->log_bad, rn__server_now_ns(), RN_BAD_LOG_PER_SEC, skipped);
}

/* request.c */
/* Decode a frame (ownership taken) into a request queued nowhere yet; NULL (logged, frame
 * freed) when the connection must close. */
rn_req_t *rn__req_new(rn_srvconn_t *conn, uint8_t *frame, size_t size);
/* Turn the finished request into response bytes in req->out. 0 or RN_E*. */
int rn__req_encode(rn_req_t *req);
/* Free the arena and the frame (the response no longer needs them). */
void rn__req_release_memory(rn_req_t *req);
void rn__req_free(rn_req_t *req);

/* conn.c */
rn_srvconn_t *rn__srvconn_new(rn_server_t *srv, int listener, int fd, const char *peer,
                              const char *ip);
/* Close the socket, cancel parked requests, free what is no longer referenced. */
void rn__srvconn_close(rn_srvconn_t *conn, const char *why);
/* Stop reading from conn for good (shutdown drain). */
void rn__srvconn_drain(rn_srvconn_t *conn);
/* Bytes queued on conn's socket and not yet written. */
size_t rn__srvconn_output(const rn_srvconn_t *conn);
/* Free closed connections whose orphaned requests were never completed (shutdown). */
void rn__srvconn_free_zombies(rn_server_t *srv);
/* Open connections from ip. */
size_t rn__srvconn_count_ip(const rn_server_t *srv, const char *ip);

#endif
