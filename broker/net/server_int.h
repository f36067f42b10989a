/* Private structures shared by server.c (listener, dispatch table) and conn.c (framing,
 * request queue). Never included outside broker/net/server.c and broker/net/conn.c. */
#ifndef RN_SERVER_INT_H
#define RN_SERVER_INT_H

#include "net/rn_server.h"
#include "rn_clock.h"

#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <time.h>

/* Requests handled per read wakeup before yielding to other connections. */
#define RN_CONN_BUDGET 16
/* Unanswered requests one connection may have before we stop reading from it. */
#define RN_CONN_MAX_PENDING 256
/* Output bytes queued on one connection before we stop reading from it. */
#define RN_CONN_MAX_OUTPUT (16u << 20)
/* Largest single read/write per wakeup (libevent's default is 16 KiB). */
#define RN_CONN_IO_CHUNK (256 << 10)

/* Request states. A request is in its connection's queue from arrival until its response
 * has been moved to the socket's output buffer. */
enum {
    RN_REQ_HANDLING = 0, /* in the handler, or parked (ASYNC) */
    RN_REQ_DONE = 1,     /* response encoded in out (or no response) */
};

struct rn_srvconn {
    rn_server_t *srv;
    struct bufferevent *bev; /* NULL once closed */
    uint64_t id;
    char peer[64];
    /* Request queue in arrival order; responses leave from the head only. */
    rn_req_t *head, *tail;
    size_t n_pending;
    size_t n_orphans;          /* requests kept alive after close (parked without cancel) */
    bool closed;               /* socket gone; struct lives on while n_orphans > 0 */
    bool read_paused;          /* reading stopped by backpressure */
    bool processing;           /* inside process_input (guards re-entrance) */
    bool draining;             /* server shutdown: never resume reading */
    bool broken;               /* a response could not be encoded: close, send nothing more */
    struct event *resume;      /* re-runs process_input when the budget ran out */
    rn_srvconn_t *prev, *next; /* server's list of open connections */
    /* A request received straight into its own buffer (rx_frame != NULL): rx_have of its
     * rx_size bytes are in; the size prefix is consumed. */
    uint8_t *rx_frame;
    size_t rx_size, rx_have;
};

struct rn_server {
    struct event_base *base;
    struct evconnlistener *listener;
    rn_server_opts_t opts;
    rn_api_entry_t *apis; /* sorted copy of opts.apis */
    size_t n_apis;
    rn_api_entry_t *by_key[RN_API_KEY_MAX + 1];
    int port;
    uint64_t next_conn_id;
    rn_srvconn_t *conns;   /* open connections */
    rn_srvconn_t *zombies; /* closed connections kept for orphaned requests */
    size_t inflight;
    bool draining;
    rn_proto_writer_t writer; /* encodes one response at a time, then is reset */
    rn_server_metrics_t metrics;
};

/* CLOCK_MONOTONIC in nanoseconds (request latency). */
static inline uint64_t rn__server_now_ns(void)
{
    return (uint64_t)rn_clock_mono_ns();
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
rn_srvconn_t *rn__srvconn_new(rn_server_t *srv, int fd, const char *peer);
/* Close the socket, cancel parked requests, free what is no longer referenced. */
void rn__srvconn_close(rn_srvconn_t *conn, const char *why);
/* Stop reading from conn for good (shutdown drain). */
void rn__srvconn_drain(rn_srvconn_t *conn);
/* Bytes queued on conn's socket and not yet written. */
size_t rn__srvconn_output(const rn_srvconn_t *conn);
/* Free closed connections whose orphaned requests were never completed (shutdown). */
void rn__srvconn_free_zombies(rn_server_t *srv);

#endif
