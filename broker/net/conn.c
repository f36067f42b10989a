/* Connections: Kafka framing, request header decoding, dispatch, and the per-connection
 * queue that sends responses in request order (see rn_server.h for the handler contract).
 *
 * Invariants:
 *  - conn->head..tail holds every request of the connection not yet moved to the socket,
 *    in arrival order; only the head may leave, and only once it is RN_REQ_DONE.
 *  - conn->bev != NULL exactly while !conn->closed.
 *  - A closed connection struct stays allocated while n_orphans > 0 (requests parked
 *    without a cancel callback), linked on srv->zombies; it is freed by the last
 *    rn_req_complete of an orphan or by rn_server_free. */
#include "server_int.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void conn_unlink(rn_srvconn_t **list, rn_srvconn_t *conn)
{
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        *list = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
}

static void conn_link(rn_srvconn_t **list, rn_srvconn_t *conn)
{
    conn->prev = NULL;
    conn->next = *list;
    if (*list != NULL)
        (*list)->prev = conn;
    *list = conn;
}

static void conn_free(rn_srvconn_t *conn)
{
    rn_free(conn);
}

static void process_input(rn_srvconn_t *conn);

/* Move finished responses at the head of the queue to the socket, then resume reading
 * if backpressure had paused it. */
static void conn_flush(rn_srvconn_t *conn)
{
    rn_server_t *srv = conn->srv;
    if (conn->broken)
        return; /* closing from on_resume; nothing more goes out */
    while (conn->head != NULL && conn->head->state == RN_REQ_DONE) {
        rn_req_t *req = conn->head;
        conn->head = req->next;
        if (conn->head == NULL)
            conn->tail = NULL;
        conn->n_pending--;
        rn_metrics_hist_observe(&srv->metrics.latency[req->api_key],
                                (double)(rn__server_now_ns() - req->read_ns) / 1e9);
        if (!req->no_response) {
            size_t len = evbuffer_get_length(req->out);
            if (bufferevent_write_buffer(conn->bev, req->out) == 0)
                srv->metrics.bytes_out += len;
        }
        rn__req_free(req);
    }
    if (conn->read_paused && !conn->draining && conn->n_pending < RN_CONN_MAX_PENDING / 2 &&
        evbuffer_get_length(bufferevent_get_output(conn->bev)) < RN_CONN_MAX_OUTPUT) {
        conn->read_paused = false;
        bufferevent_enable(conn->bev, EV_READ);
        event_active(conn->resume, EV_TIMEOUT, 0); /* frames may already be buffered */
    }
}

/* The handler is done: encode the response now so the arena can go. An encoding failure
 * is a handler bug the client cannot recover from: the connection is marked broken and
 * closed from the loop (never from inside a handler's call chain). */
static void req_finish(rn_req_t *req)
{
    rn_srvconn_t *conn = req->conn;
    req->state = RN_REQ_DONE;
    int rc = rn__req_encode(req);
    rn__req_release_memory(req);
    if (rc != 0) {
        RN_ERROR("server",
                 "conn=%llu peer=%s api_key=%d api_version=%d correlation_id=%d: cannot encode "
                 "the response (%s); closing the connection",
                 (unsigned long long)conn->id, conn->peer, req->api_key, req->response_version,
                 req->correlation_id, rn_strerror(rc));
        rn_req_count_error(req);
        req->no_response = true;
        conn->broken = true;
        event_active(conn->resume, EV_TIMEOUT, 0);
    }
}

static void conn_pause(rn_srvconn_t *conn)
{
    if (!conn->read_paused) {
        conn->read_paused = true;
        bufferevent_disable(conn->bev, EV_READ);
    }
}

/* Handle one complete frame (size prefix already removed; ownership taken). Returns
 * false when the connection was closed. */
static bool handle_frame(rn_srvconn_t *conn, uint8_t *frame, size_t size)
{
    rn_server_t *srv = conn->srv;
    rn_req_t *req = rn__req_new(conn, frame, size);
    if (req == NULL) {
        rn__srvconn_close(conn, "bad request");
        return false;
    }
    if (conn->tail != NULL)
        conn->tail->next = req;
    else
        conn->head = req;
    conn->tail = req;
    conn->n_pending++;

    /* The handler may complete (and thereby free) req itself when it returns ASYNC, so
     * copy what the log line needs first. */
    const rn_api_entry_t *api = req->api;
    int16_t key = req->api_key, version = req->api_version;
    int32_t corr = req->correlation_id;
    int rc = api->handler(req);
    if (rc == RN_HANDLED_SYNC || rc == RN_HANDLED_NO_RESPONSE) {
        if (rc == RN_HANDLED_NO_RESPONSE)
            req->no_response = true;
        req_finish(req);
        conn_flush(conn);
    } else if (rc < 0) {
        RN_WARN("server",
                "conn=%llu peer=%s api_key=%d api_version=%d correlation_id=%d: "
                "malformed %s request (%s); closing the connection",
                (unsigned long long)conn->id, conn->peer, key, version, corr, api->name,
                rn_strerror(rc));
        srv->metrics.errors[key]++;
        srv->metrics.connections_closed_bad++;
        req->state = RN_REQ_DONE; /* not parked: free it with the connection */
        req->no_response = true;
        rn__srvconn_close(conn, "malformed request");
        return false;
    }
    return true;
}

/* Fill the partly received frame: first from what the bufferevent has read, then with
 * reads from the socket straight into the frame. libevent 2.1 reads at most 4 KiB per
 * wakeup, so a 1 MB Produce would otherwise take 256 loop iterations and a copy out of the
 * evbuffer. End of stream and socket errors are left for the bufferevent's next read to
 * report (the socket stays readable). Returns true once the frame is complete. */
static bool rx_fill(rn_srvconn_t *conn)
{
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    if (conn->rx_have < conn->rx_size)
        conn->rx_have += (size_t)evbuffer_remove(in, conn->rx_frame + conn->rx_have,
                                                 conn->rx_size - conn->rx_have);
    evutil_socket_t fd = bufferevent_getfd(conn->bev);
    while (conn->rx_have < conn->rx_size) {
        ssize_t n =
            recv(fd, conn->rx_frame + conn->rx_have, conn->rx_size - conn->rx_have, MSG_DONTWAIT);
        if (n > 0)
            conn->rx_have += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break; /* EAGAIN: wait for more; EOF or error: the bufferevent reports it */
    }
    return conn->rx_have == conn->rx_size;
}

/* Read and dispatch complete frames, at most RN_CONN_BUDGET per call so one busy client
 * cannot starve the others; the rest is resumed from the event loop. */
static void process_input(rn_srvconn_t *conn)
{
    rn_server_t *srv = conn->srv;
    if (conn->closed || conn->processing || conn->draining || conn->broken)
        return;
    conn->processing = true;
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    int budget = RN_CONN_BUDGET;
    for (;;) {
        if (conn->n_pending >= RN_CONN_MAX_PENDING ||
            evbuffer_get_length(bufferevent_get_output(conn->bev)) >= RN_CONN_MAX_OUTPUT) {
            conn_pause(conn);
            break;
        }
        if (conn->rx_frame != NULL) {
            if (!rx_fill(conn)) {
                /* Called back on any data, to read the rest of the frame ourselves. */
                bufferevent_setwatermark(conn->bev, EV_READ, 0, 0);
                break;
            }
            if (budget-- == 0) {
                event_active(conn->resume, EV_TIMEOUT, 0);
                break;
            }
            uint8_t *frame = conn->rx_frame;
            size_t size = conn->rx_size;
            conn->rx_frame = NULL;
            srv->metrics.bytes_in += 4 + (uint64_t)size;
            if (!handle_frame(conn, frame, size))
                return; /* closed; conn may be freed */
            if (conn->broken)
                break;
            continue;
        }
        size_t avail = evbuffer_get_length(in);
        if (avail < 4) {
            bufferevent_setwatermark(conn->bev, EV_READ, 4, 0);
            break;
        }
        uint8_t szbuf[4];
        evbuffer_copyout(in, szbuf, 4);
        int32_t size = (int32_t)rn_load_be32(szbuf);
        if (size < 8 || size > srv->opts.max_request_bytes) {
            /* Before allocating: a huge or negative size is garbage or an attack, and an
             * HTTP or TLS client lands here too. */
            RN_WARN("server",
                    "conn=%llu peer=%s: request size %d is outside 8..%d "
                    "(socket.request.max.bytes); closing the connection",
                    (unsigned long long)conn->id, conn->peer, size, srv->opts.max_request_bytes);
            srv->metrics.connections_closed_bad++;
            conn->processing = false;
            rn__srvconn_close(conn, "bad frame size");
            return;
        }
        bool whole = avail >= 4 + (size_t)size;
        if (whole && budget-- == 0) {
            event_active(conn->resume, EV_TIMEOUT, 0);
            break;
        }
        uint8_t *frame = rn_malloc((size_t)size);
        if (frame == NULL) {
            RN_ERROR("server",
                     "conn=%llu peer=%s: out of memory for a %d-byte request; "
                     "closing the connection",
                     (unsigned long long)conn->id, conn->peer, size);
            conn->processing = false;
            rn__srvconn_close(conn, "out of memory");
            return;
        }
        evbuffer_drain(in, 4);
        if (!whole) {
            /* Receive the rest straight into the frame (rx_fill). */
            conn->rx_frame = frame;
            conn->rx_size = (size_t)size;
            conn->rx_have = 0;
            continue;
        }
        evbuffer_remove(in, frame, (size_t)size);
        srv->metrics.bytes_in += 4 + (uint64_t)size;
        if (!handle_frame(conn, frame, (size_t)size))
            return; /* closed; conn may be freed */
        if (conn->broken)
            break;
    }
    conn->processing = false;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    process_input(arg);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    rn_srvconn_t *conn = arg;
    if (conn->broken)
        rn__srvconn_close(conn, "response encoding failed");
    else
        process_input(conn);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    rn_srvconn_t *conn = arg;
    if (conn->read_paused)
        conn_flush(conn); /* re-checks the limits and resumes */
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    rn_srvconn_t *conn = arg;
    if (what & BEV_EVENT_TIMEOUT) {
        if (conn->n_pending == 0) {
            RN_INFO("server",
                    "conn=%llu peer=%s: idle longer than connections.max.idle.ms; "
                    "closing the connection",
                    (unsigned long long)conn->id, conn->peer);
            rn__srvconn_close(conn, "idle");
        } else if (!conn->read_paused && !conn->draining) {
            bufferevent_enable(bev, EV_READ); /* waiting for our answer is not idleness */
        }
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();
        RN_DEBUG("server", "conn=%llu peer=%s: socket error: %s", (unsigned long long)conn->id,
                 conn->peer, evutil_socket_error_to_string(err));
        rn__srvconn_close(conn, "socket error");
    } else if (what & BEV_EVENT_EOF) {
        RN_DEBUG("server", "conn=%llu peer=%s: closed by the client", (unsigned long long)conn->id,
                 conn->peer);
        rn__srvconn_close(conn, "closed by client");
    }
}

rn_srvconn_t *rn__srvconn_new(rn_server_t *srv, int fd, const char *peer)
{
    rn_srvconn_t *conn = rn_xcalloc(1, sizeof(*conn));
    conn->srv = srv;
    conn->id = srv->next_conn_id++;
    snprintf(conn->peer, sizeof(conn->peer), "%s", peer);
    conn->draining = srv->draining;
    conn->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    conn->resume = event_new(srv->base, -1, 0, on_resume, conn);
    if (conn->bev == NULL || conn->resume == NULL) {
        if (conn->bev != NULL)
            bufferevent_free(conn->bev); /* closes fd */
        else
            evutil_closesocket(fd);
        if (conn->resume != NULL)
            event_free(conn->resume);
        rn_free(conn);
        return NULL;
    }
    bufferevent_set_max_single_read(conn->bev, RN_CONN_IO_CHUNK);
    bufferevent_set_max_single_write(conn->bev, RN_CONN_IO_CHUNK);
    bufferevent_setcb(conn->bev, on_read, on_write, on_event, conn);
    bufferevent_setwatermark(conn->bev, EV_READ, 4, 0);
    bufferevent_setwatermark(conn->bev, EV_WRITE, RN_CONN_MAX_OUTPUT / 2, 0);
    if (srv->opts.idle_ms > 0) {
        struct timeval tv = {srv->opts.idle_ms / 1000, (srv->opts.idle_ms % 1000) * 1000};
        bufferevent_set_timeouts(conn->bev, &tv, NULL);
    }
    bufferevent_enable(conn->bev, EV_READ);
    conn_link(&srv->conns, conn);
    return conn;
}

void rn__srvconn_drain(rn_srvconn_t *conn)
{
    conn->draining = true;
    conn_pause(conn);
}

size_t rn__srvconn_output(const rn_srvconn_t *conn)
{
    return conn->bev != NULL ? evbuffer_get_length(bufferevent_get_output(conn->bev)) : 0;
}

void rn__srvconn_close(rn_srvconn_t *conn, const char *why)
{
    rn_server_t *srv = conn->srv;
    if (conn->closed)
        return;
    conn->closed = true;
    rn_free(conn->rx_frame);
    conn->rx_frame = NULL;
    bufferevent_free(conn->bev); /* closes the socket; queued output is dropped */
    conn->bev = NULL;
    event_free(conn->resume);
    conn->resume = NULL;
    conn_unlink(&srv->conns, conn);
    srv->metrics.connections_open--;
    RN_DEBUG("server", "conn=%llu peer=%s closed: %s", (unsigned long long)conn->id, conn->peer,
             why);

    /* Keep only requests parked without a cancel callback: their handler still holds them. */
    rn_req_t *req = conn->head, *keep = NULL, *keep_tail = NULL;
    conn->head = conn->tail = NULL;
    while (req != NULL) {
        rn_req_t *next = req->next;
        req->next = NULL;
        if (req->state == RN_REQ_DONE) {
            rn__req_free(req);
        } else if (req->cancel != NULL) {
            srv->metrics.requests_parked--;
            req->parked = false;
            req->cancel(req, req->cancel_arg);
            rn__req_free(req);
        } else {
            if (keep_tail != NULL)
                keep_tail->next = req;
            else
                keep = req;
            keep_tail = req;
            conn->n_orphans++;
        }
        req = next;
    }
    conn->head = keep;
    conn->tail = keep_tail;
    conn->n_pending = conn->n_orphans;
    if (conn->n_orphans == 0)
        conn_free(conn);
    else
        conn_link(&srv->zombies, conn);
}

void rn__srvconn_free_zombies(rn_server_t *srv)
{
    while (srv->zombies != NULL) {
        rn_srvconn_t *conn = srv->zombies;
        conn_unlink(&srv->zombies, conn);
        for (rn_req_t *req = conn->head, *next; req != NULL; req = next) {
            next = req->next;
            RN_WARN("server",
                    "conn=%llu api_key=%d correlation_id=%d: request parked without "
                    "a cancel callback was never completed; dropping it",
                    (unsigned long long)conn->id, req->api_key, req->correlation_id);
            if (req->parked)
                srv->metrics.requests_parked--;
            rn__req_free(req);
        }
        conn_free(conn);
    }
}

void rn_req_park(rn_req_t *req, rn_cancel_fn cancel, void *arg)
{
    req->cancel = cancel;
    req->cancel_arg = arg;
    if (!req->parked)
        req->server->metrics.requests_parked++;
    req->parked = true;
}

void rn_req_complete(rn_req_t *req)
{
    rn_srvconn_t *conn = req->conn;
    rn_server_t *srv = req->server;
    if (req->parked)
        srv->metrics.requests_parked--;
    req->parked = false;
    req->cancel = NULL;
    if (conn->closed) {
        /* Orphan: the client is gone; drop the answer and maybe the connection. */
        rn_req_t **pp = &conn->head;
        while (*pp != req)
            pp = &(*pp)->next;
        *pp = req->next;
        if (conn->tail == req) {
            conn->tail = NULL;
            for (rn_req_t *r = conn->head; r != NULL; r = r->next)
                conn->tail = r;
        }
        conn->n_orphans--;
        conn->n_pending--;
        rn__req_free(req);
        if (conn->n_orphans == 0) {
            conn_unlink(&srv->zombies, conn);
            conn_free(conn);
        }
        return;
    }
    req_finish(req);
    conn_flush(conn);
}
