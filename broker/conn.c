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

/* Bounded reader for the request header; a read past the end sets err and returns 0. */
typedef struct hdr_reader {
    const uint8_t *p, *end;
    bool err;
} hdr_reader_t;

static int16_t rd_i16(hdr_reader_t *rd)
{
    if (rd->err || rd->end - rd->p < 2)
        return (rd->err = true, 0);
    int16_t v = (int16_t)rn_load_be16(rd->p);
    rd->p += 2;
    return v;
}

static int32_t rd_i32(hdr_reader_t *rd)
{
    if (rd->err || rd->end - rd->p < 4)
        return (rd->err = true, 0);
    int32_t v = (int32_t)rn_load_be32(rd->p);
    rd->p += 4;
    return v;
}

static uint32_t rd_uvarint(hdr_reader_t *rd)
{
    uint32_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (rd->err || rd->p >= rd->end)
            return (rd->err = true, 0);
        uint8_t b = *rd->p++;
        v |= (uint32_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    return (rd->err = true, 0);
}

/* Skip a tagged-field section (KIP-482): unknown tags are skipped, never rejected. */
static void rd_skip_tags(hdr_reader_t *rd)
{
    uint32_t count = rd_uvarint(rd);
    for (uint32_t i = 0; i < count && !rd->err; i++) {
        rd_uvarint(rd); /* tag */
        uint32_t size = rd_uvarint(rd);
        if (rd->err || (size_t)(rd->end - rd->p) < size)
            return (void)(rd->err = true);
        rd->p += size;
    }
}

static void conn_unlink(rn_conn_t **list, rn_conn_t *conn)
{
    if (conn->prev != NULL)
        conn->prev->next = conn->next;
    else
        *list = conn->next;
    if (conn->next != NULL)
        conn->next->prev = conn->prev;
    conn->prev = conn->next = NULL;
}

static void conn_link(rn_conn_t **list, rn_conn_t *conn)
{
    conn->prev = NULL;
    conn->next = *list;
    if (*list != NULL)
        (*list)->prev = conn;
    *list = conn;
}

static void req_free(rn_req_t *req)
{
    rn_server_t *srv = req->server;
    if (req->out != NULL)
        evbuffer_free(req->out);
    rn_free(req->frame);
    rn_free((char *)req->client_id);
    rn_free(req);
    srv->inflight--;
}

static void conn_free(rn_conn_t *conn)
{
    rn_free(conn);
}

static void process_input(rn_conn_t *conn);

/* Move finished responses at the head of the queue to the socket, then resume reading
 * if backpressure had paused it. */
static void conn_flush(rn_conn_t *conn)
{
    rn_server_t *srv = conn->srv;
    while (conn->head != NULL && conn->head->state == RN_REQ_DONE) {
        rn_req_t *req = conn->head;
        conn->head = req->next;
        if (conn->head == NULL)
            conn->tail = NULL;
        conn->n_pending--;
        if (!req->no_response) {
            size_t len = evbuffer_get_length(req->out);
            if (bufferevent_write_buffer(conn->bev, req->out) == 0)
                srv->metrics.bytes_out += len;
        }
        req_free(req);
    }
    if (conn->read_paused && conn->n_pending < RN_CONN_MAX_PENDING / 2 &&
        evbuffer_get_length(bufferevent_get_output(conn->bev)) < RN_CONN_MAX_OUTPUT) {
        conn->read_paused = false;
        bufferevent_enable(conn->bev, EV_READ);
        event_active(conn->resume, EV_TIMEOUT, 0); /* frames may already be buffered */
    }
}

/* The response body is complete: add the size and response header in front. */
static void req_finish(rn_req_t *req)
{
    req->state = RN_REQ_DONE;
    if (req->no_response)
        return;
    uint8_t hdr[9];
    size_t hlen = 8;
    /* Response header v1 (tagged fields) for flexible versions, except ApiVersions,
     * whose response header is always v0 so any client can read it. */
    if (req->flexible && req->api_key != 18)
        hdr[hlen++] = 0; /* empty tagged-field section */
    size_t total = hlen - 4 + evbuffer_get_length(req->out);
    rn_store_be32(hdr, (uint32_t)total);
    rn_store_be32(hdr + 4, (uint32_t)req->correlation_id);
    evbuffer_prepend(req->out, hdr, hlen);
}

static void conn_pause(rn_conn_t *conn)
{
    if (!conn->read_paused) {
        conn->read_paused = true;
        bufferevent_disable(conn->bev, EV_READ);
    }
}

/* Handle one complete frame (size prefix already removed). Returns false when the
 * connection was closed. */
static bool handle_frame(rn_conn_t *conn, uint8_t *frame, size_t size)
{
    rn_server_t *srv = conn->srv;
    hdr_reader_t rd = {frame, frame + size, false};
    rn_req_t *req = rn_xcalloc(1, sizeof(*req));
    req->server = srv;
    req->ctx = srv->opts.ctx;
    req->conn = conn;
    req->conn_id = conn->id;
    req->peer = conn->peer;
    req->frame = frame;
    req->api_key = rd_i16(&rd);
    req->api_version = rd_i16(&rd);
    req->correlation_id = rd_i32(&rd);
    srv->inflight++;
    if (req->api_key >= 0 && req->api_key <= RN_API_KEY_MAX)
        srv->metrics.requests[req->api_key]++;

    const rn_api_entry_t *api = rn_server_find_api(srv, req->api_key);
    const char *problem = NULL;
    if (api == NULL) {
        problem = "api key not served";
    } else if ((req->api_version < api->min_version || req->api_version > api->max_version) &&
               !(api->flags & RN_API_ANY_VERSION)) {
        problem = "unsupported api version";
    } else {
        req->api = api;
        req->flexible = req->api_version >= api->flex_version;
        int16_t idlen = rd_i16(&rd); /* client_id: nullable string, int16 length */
        if (idlen >= 0 && !rd.err && rd.end - rd.p >= idlen) {
            req->client_id = rn_xstrndup((const char *)rd.p, (size_t)idlen);
            rd.p += idlen;
        } else if (idlen < -1 || (idlen >= 0 && !rd.err)) {
            rd.err = true;
        }
        if (req->flexible)
            rd_skip_tags(&rd);
        if (rd.err)
            problem = "malformed request header";
    }
    if (req->client_id == NULL)
        req->client_id = rn_xstrdup("");
    if (problem != NULL) {
        RN_WARN("server",
                "conn=%llu peer=%s api_key=%d api_version=%d correlation_id=%d: %s; "
                "closing the connection",
                (unsigned long long)conn->id, conn->peer, req->api_key, req->api_version,
                req->correlation_id, problem);
        if (req->api_key >= 0 && req->api_key <= RN_API_KEY_MAX)
            srv->metrics.errors[req->api_key]++;
        srv->metrics.connections_closed_bad++;
        req_free(req);
        rn__conn_close(conn, problem);
        return false;
    }
    req->body = rd.p;
    req->body_len = (size_t)(rd.end - rd.p);
    req->out = evbuffer_new();
    if (req->out == NULL)
        abort();
    /* Let rn_req_add_file keep file ranges as sendfile chains rather than reading them. */
    evbuffer_set_flags(req->out, EVBUFFER_FLAG_DRAINS_TO_FD);
    if (conn->tail != NULL)
        conn->tail->next = req;
    else
        conn->head = req;
    conn->tail = req;
    conn->n_pending++;

    /* The handler may complete (and thereby free) req itself when it returns ASYNC, so
     * copy what the log line needs first. */
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
        rn__conn_close(conn, "malformed request");
        return false;
    }
    return true;
}

/* Read and dispatch complete frames, at most RN_CONN_BUDGET per call so one busy client
 * cannot starve the others; the rest is resumed from the event loop. */
static void process_input(rn_conn_t *conn)
{
    rn_server_t *srv = conn->srv;
    if (conn->closed || conn->processing)
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
            rn__conn_close(conn, "bad frame size");
            return;
        }
        if (avail < 4 + (size_t)size) {
            bufferevent_setwatermark(conn->bev, EV_READ, 4 + (size_t)size, 0);
            break;
        }
        if (budget-- == 0) {
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
            rn__conn_close(conn, "out of memory");
            return;
        }
        evbuffer_drain(in, 4);
        evbuffer_remove(in, frame, (size_t)size);
        srv->metrics.bytes_in += 4 + (uint64_t)size;
        if (!handle_frame(conn, frame, (size_t)size))
            return; /* closed; conn may be freed */
    }
    conn->processing = false;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    process_input(arg);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    process_input(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    rn_conn_t *conn = arg;
    if (conn->read_paused)
        conn_flush(conn); /* re-checks the limits and resumes */
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    rn_conn_t *conn = arg;
    if (what & BEV_EVENT_TIMEOUT) {
        if (conn->n_pending == 0) {
            RN_INFO("server",
                    "conn=%llu peer=%s: idle longer than connections.max.idle.ms; "
                    "closing the connection",
                    (unsigned long long)conn->id, conn->peer);
            rn__conn_close(conn, "idle");
        } else if (!conn->read_paused) {
            bufferevent_enable(bev, EV_READ); /* waiting for our answer is not idleness */
        }
        return;
    }
    if (what & BEV_EVENT_ERROR) {
        int err = EVUTIL_SOCKET_ERROR();
        RN_DEBUG("server", "conn=%llu peer=%s: socket error: %s", (unsigned long long)conn->id,
                 conn->peer, evutil_socket_error_to_string(err));
        rn__conn_close(conn, "socket error");
    } else if (what & BEV_EVENT_EOF) {
        RN_DEBUG("server", "conn=%llu peer=%s: closed by the client", (unsigned long long)conn->id,
                 conn->peer);
        rn__conn_close(conn, "closed by client");
    }
}

rn_conn_t *rn__conn_new(rn_server_t *srv, int fd, const char *peer)
{
    rn_conn_t *conn = rn_xcalloc(1, sizeof(*conn));
    conn->srv = srv;
    conn->id = srv->next_conn_id++;
    snprintf(conn->peer, sizeof(conn->peer), "%s", peer);
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

void rn__conn_close(rn_conn_t *conn, const char *why)
{
    rn_server_t *srv = conn->srv;
    if (conn->closed)
        return;
    conn->closed = true;
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
            req_free(req);
        } else if (req->cancel != NULL) {
            srv->metrics.requests_parked--;
            req->parked = false;
            req->cancel(req, req->cancel_arg);
            req_free(req);
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

void rn__conn_free_zombies(rn_server_t *srv)
{
    while (srv->zombies != NULL) {
        rn_conn_t *conn = srv->zombies;
        conn_unlink(&srv->zombies, conn);
        for (rn_req_t *req = conn->head, *next; req != NULL; req = next) {
            next = req->next;
            RN_WARN("server",
                    "conn=%llu api_key=%d correlation_id=%d: request parked without "
                    "a cancel callback was never completed; dropping it",
                    (unsigned long long)conn->id, req->api_key, req->correlation_id);
            if (req->parked)
                srv->metrics.requests_parked--;
            req_free(req);
        }
        conn_free(conn);
    }
}

int rn_req_write(rn_req_t *req, const void *data, size_t len)
{
    return evbuffer_add(req->out, data, len) == 0 ? 0 : RN_ENOMEM;
}

typedef struct file_release {
    void (*release)(void *arg);
    void *arg;
} file_release_t;

static void on_segment_done(struct evbuffer_file_segment const *seg, int flags, void *arg)
{
    file_release_t *fr = arg;
    fr->release(fr->arg);
    rn_free(fr);
}

int rn_req_add_file(rn_req_t *req, int fd, int64_t offset, int64_t len, void (*release)(void *arg),
                    void *arg)
{
    struct evbuffer_file_segment *seg = evbuffer_file_segment_new(fd, offset, len, 0);
    if (seg == NULL)
        return RN_EIO;
    if (release != NULL) {
        file_release_t *fr = rn_xmalloc(sizeof(*fr));
        fr->release = release;
        fr->arg = arg;
        evbuffer_file_segment_add_cleanup_cb(seg, on_segment_done, fr);
    }
    int rc = evbuffer_add_file_segment(req->out, seg, 0, len);
    evbuffer_file_segment_free(seg); /* the buffer holds its own reference */
    return rc == 0 ? 0 : RN_ENOMEM;
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
    rn_conn_t *conn = req->conn;
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
        req_free(req);
        if (conn->n_orphans == 0) {
            conn_unlink(&srv->zombies, conn);
            conn_free(conn);
        }
        return;
    }
    req_finish(req);
    conn_flush(conn);
}

void rn_req_no_response(rn_req_t *req)
{
    req->no_response = true;
}

void rn_req_count_error(rn_req_t *req)
{
    if (req->api_key >= 0 && req->api_key <= RN_API_KEY_MAX)
        req->server->metrics.errors[req->api_key]++;
}

bool rn_req_orphaned(const rn_req_t *req)
{
    return req->conn->closed;
}
