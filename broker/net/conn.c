/* Connections: Kafka framing, request header decoding, dispatch, and the per-connection
 * queue that sends responses in request order (see rn_server.h for the handler contract).
 *
 * Invariants:
 *  - conn->head..tail holds every request of the connection not yet moved to the socket,
 *    in arrival order; only the head may leave, and only once it is RN_REQ_DONE.
 *  - conn->bev != NULL exactly while !conn->closed.
 *  - A closed connection struct stays allocated while n_orphans > 0 (requests parked
 *    without a cancel callback), linked on srv->zombies; it is freed by the last
 *    rn_req_complete of an orphan or by rn_server_free.
 *  - Every byte of a request frame, from its allocation (grown as the bytes arrive, never
 *    reserved from the size prefix alone) until the response is encoded, is counted in
 *    srv->metrics.queued_request_bytes; at queued.max.request.bytes a connection that needs
 *    more waits in srv->mem_head..mem_tail with reading stopped (mem_wait).
 *  - Reading is stopped while read_paused (our backpressure: too many pending requests or
 *    too many queued response bytes), mem_wait or draining; meanwhile closed_ev watches for
 *    the peer going away, so a vanished client is freed at once whatever its state. */
#include "server_int.h"

#include "net/rn_tls.h"
#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <event2/bufferevent_ssl.h>
#include <event2/bufferevent_struct.h> /* ev_read, to resume reading TLS records already in */
#include <openssl/err.h>
#include <openssl/ssl.h>

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
    for (size_t i = 0; i < conn->n_retired; i++)
        rn_free(conn->retired[i]);
    rn_free(conn->retired);
    rn_free(conn->principal);
    if (conn->auth_free != NULL)
        conn->auth_free(conn->auth);
    rn_free(conn);
}

static bool process_input(rn_srvconn_t *conn);
static void tls_read_on(rn_srvconn_t *conn);

static uint64_t ms_to_ns(int64_t ms)
{
    return (uint64_t)ms * 1000000u;
}

/* ---- reading on or off ---------------------------------------------------------------- */

static bool reading_off(const rn_srvconn_t *conn)
{
    return conn->read_paused || conn->mem_wait || conn->draining || conn->broken || conn->closing ||
           conn->mute_until_ns != 0;
}

static void timer_arm(rn_srvconn_t *conn, uint64_t deadline, uint64_t now);

/* Enable or disable reading to match the connection's state; while it is off, watch for the
 * peer going away (the bufferevent reports EOF only while reading): EV_CLOSED at once for a
 * FIN, the timer's poll (peer_gone) for a reset. */
static void conn_update_reading(rn_srvconn_t *conn)
{
    if (conn->closed)
        return;
    if (reading_off(conn)) {
        bufferevent_disable(conn->bev, EV_READ);
        if (conn->closed_ev != NULL && !event_pending(conn->closed_ev, EV_CLOSED, NULL))
            event_add(conn->closed_ev, NULL);
        uint64_t now = rn__server_now_ns();
        timer_arm(conn, now + RN_CONN_PEER_POLL_NS, now);
    } else {
        if (conn->closed_ev != NULL)
            event_del(conn->closed_ev);
        bufferevent_enable(conn->bev, EV_READ);
        /* TLS: records OpenSSL already took off the socket are not a socket event, and
         * libevent 2.1 only waits for one on enable; without a nudge the connection would
         * stall until the client sends more (it may be waiting for our answers). */
        if (conn->tls && SSL_has_pending(bufferevent_openssl_get_ssl(conn->bev)))
            event_active(&conn->bev->ev_read, EV_READ, 1);
    }
}

static void on_peer_closed(evutil_socket_t fd, short what, void *arg)
{
    rn_srvconn_t *conn = arg;
    RN_DEBUG("server", "conn=%llu peer=%s: closed by the client while reading was stopped",
             (unsigned long long)conn->id, conn->peer);
    rn__srvconn_close(conn, "closed by client");
}

/* ---- queued.max.request.bytes ----------------------------------------------------------- */

static void rx_started(rn_srvconn_t *conn);

/* Count n more bytes of request memory; false (nothing counted) when the bound is reached. */
static bool mem_take(rn_srvconn_t *conn, size_t n)
{
    rn_server_t *srv = conn->srv;
    int64_t limit = srv->opts.queued_max_request_bytes;
    if (limit > 0 && srv->metrics.queued_request_bytes + (int64_t)n > limit)
        return false;
    srv->metrics.queued_request_bytes += (int64_t)n;
    return true;
}

/* conn needs memory the bound does not allow: stop reading until some is given back. */
static void mem_wait(rn_srvconn_t *conn)
{
    rn_server_t *srv = conn->srv;
    if (conn->mem_wait)
        return;
    conn->mem_wait = true;
    conn->mem_next = NULL;
    if (srv->mem_tail != NULL)
        srv->mem_tail->mem_next = conn;
    else
        srv->mem_head = conn;
    srv->mem_tail = conn;
    srv->metrics.reads_paused_memory++;
    if (rn_episode_hit(&srv->ep_memory, rn__server_now_ns(), RN_EPISODE_QUIET_NS))
        RN_WARN("server",
                "requests being read or handled hold %lld bytes, the queued.max.request.bytes "
                "bound; connections wait before reading more (first: conn=%llu peer=%s)",
                (long long)srv->metrics.queued_request_bytes, (unsigned long long)conn->id,
                conn->peer);
    conn_update_reading(conn);
}

static void mem_unlink(rn_srvconn_t *conn)
{
    rn_server_t *srv = conn->srv;
    if (!conn->mem_wait)
        return;
    rn_srvconn_t **pp = &srv->mem_head, *prev = NULL;
    while (*pp != conn) {
        prev = *pp;
        pp = &(*pp)->mem_next;
    }
    *pp = conn->mem_next;
    if (srv->mem_tail == conn)
        srv->mem_tail = prev;
    conn->mem_next = NULL;
    conn->mem_wait = false;
}

/* Give n bytes of request memory back and let waiting connections try again (from the
 * loop: this may run inside another connection's handler). */
static void mem_give(rn_server_t *srv, size_t n)
{
    srv->metrics.queued_request_bytes -= (int64_t)n;
    int64_t limit = srv->opts.queued_max_request_bytes;
    while (srv->mem_head != NULL && (limit <= 0 || srv->metrics.queued_request_bytes < limit)) {
        rn_srvconn_t *conn = srv->mem_head;
        bool held_nothing = conn->rx_cap == 0;
        mem_unlink(conn);
        if (held_nothing && conn->rx_start_ns != 0) /* its read deadline starts again */
            conn->rx_start_ns = 0, rx_started(conn);
        conn_update_reading(conn);
        event_active(conn->resume, EV_TIMEOUT, 0);
    }
}

/* Requests leave through these so their frame memory is given back. */
static void req_release(rn_req_t *req)
{
    if (req->frame != NULL)
        mem_give(req->server, req->frame_len);
    rn__req_release_memory(req);
}

static void req_free(rn_req_t *req)
{
    rn_server_t *srv = req->server;
    size_t held = req->frame != NULL ? req->frame_len : 0;
    rn__req_free(req);
    if (held > 0)
        mem_give(srv, held);
}

/* ---- connections.max.queued.response.bytes ------------------------------------------------ */

static size_t queued_limit(const rn_server_t *srv)
{
    return srv->opts.max_queued_response_bytes > 0 ? (size_t)srv->opts.max_queued_response_bytes
                                                   : RN_CONN_MAX_QUEUED;
}

/* Bytes this connection holds for its answers: unsent output, responses waiting behind an
 * earlier request, and the frames and arenas of requests still being handled. The frames
 * count because a parked request keeps its own: an acks=all Produce waits for the followers
 * with its records, and a client pipelining them must not take the whole
 * queued.max.request.bytes, which the followers' Fetches need to be read at all. */
static size_t conn_held(const rn_srvconn_t *conn)
{
    size_t held = evbuffer_get_length(bufferevent_get_output(conn->bev));
    for (const rn_req_t *req = conn->head; req != NULL; req = req->next)
        held += (req->out != NULL ? evbuffer_get_length(req->out) : 0) + req->arena.used +
                (req->frame != NULL ? req->frame_len : 0);
    return held;
}

/* ---- deadlines ---------------------------------------------------------------------------- */

/* Arm the timer for deadline (ns, monotonic) unless it already fires earlier. */
static void timer_arm(rn_srvconn_t *conn, uint64_t deadline, uint64_t now)
{
    if (conn->timer_at_ns != 0 && conn->timer_at_ns <= deadline)
        return;
    uint64_t wait = deadline > now ? deadline - now : 0;
    struct timeval tv = {(time_t)(wait / 1000000000u), (suseconds_t)(wait % 1000000000u / 1000)};
    conn->timer_at_ns = deadline;
    event_add(conn->timer, &tv);
}

/* Part of a request is in: start its read deadline unless it runs already. */
static void rx_started(rn_srvconn_t *conn)
{
    if (conn->rx_start_ns != 0)
        return;
    uint64_t now = rn__server_now_ns();
    conn->rx_start_ns = now;
    if (conn->srv->opts.read_timeout_ms > 0)
        timer_arm(conn, now + ms_to_ns(conn->srv->opts.read_timeout_ms), now);
}

/* The read deadline does not run while the wait is ours: our backpressure, or waiting for
 * request memory while holding none (a connection holding part of a request keeps its
 * clock, so holders that stall time out and free the memory others wait for). */
static bool read_clock_stopped(const rn_srvconn_t *conn)
{
    return conn->read_paused || conn->mute_until_ns != 0 || (conn->mem_wait && conn->rx_cap == 0);
}

/* Note output bytes the socket took since the last look as activity. */
static void note_output_progress(rn_srvconn_t *conn, uint64_t now)
{
    uint64_t sent = conn->out_total - evbuffer_get_length(bufferevent_get_output(conn->bev));
    if (sent != conn->out_sent) {
        conn->out_sent = sent;
        conn->active_ns = now;
    }
}

/* True when the peer has gone (FIN or RST) though we are not reading: TCP_INFO tells it
 * whatever unread data is queued. EV_CLOSED alone misses a reset (libevent reports only
 * read/write for EPOLLHUP/EPOLLERR) and the bufferevent sees neither while reading is off
 * and no output is pending. */
static bool peer_gone(const rn_srvconn_t *conn)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(bufferevent_getfd(conn->bev), IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return errno != ENOPROTOOPT && errno != EOPNOTSUPP; /* not TCP: cannot tell */
    return ti.tcpi_state == TCP_CLOSE || ti.tcpi_state == TCP_CLOSE_WAIT;
}

static void conn_flush(rn_srvconn_t *conn);

/* The throttle time is over: read again and send what was held back. */
static void throttle_end(rn_srvconn_t *conn)
{
    conn->mute_until_ns = conn->hold_until_ns = 0;
    conn_update_reading(conn);
    event_active(conn->resume, EV_TIMEOUT, 0); /* frames may already be buffered */
    conn_flush(conn);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    rn_srvconn_t *conn = arg;
    rn_server_t *srv = conn->srv;
    uint64_t now = rn__server_now_ns();
    conn->timer_at_ns = 0;
    if (conn->closed)
        return;
    note_output_progress(conn, now);
    if (conn->mute_until_ns != 0 && now >= conn->mute_until_ns)
        throttle_end(conn);
    uint64_t next = conn->mute_until_ns;
    if (reading_off(conn)) {
        if (peer_gone(conn)) {
            RN_DEBUG("server", "conn=%llu peer=%s: gone while reading was stopped",
                     (unsigned long long)conn->id, conn->peer);
            rn__srvconn_close(conn, "closed by client");
            return;
        }
        if (next == 0 || now + RN_CONN_PEER_POLL_NS < next)
            next = now + RN_CONN_PEER_POLL_NS;
    }
    if (conn->rx_start_ns != 0 && srv->opts.read_timeout_ms > 0 && !read_clock_stopped(conn)) {
        uint64_t deadline = conn->rx_start_ns + ms_to_ns(srv->opts.read_timeout_ms);
        if (now >= deadline) {
            srv->metrics.connections_closed_slow++;
            if (rn_episode_hit(&srv->ep_slow, now, RN_EPISODE_QUIET_NS))
                RN_WARN("server",
                        "conn=%llu peer=%s: a request was not completed within "
                        "socket.request.read.timeout.ms (%lld ms); closing such connections "
                        "(logged once per episode)",
                        (unsigned long long)conn->id, conn->peer,
                        (long long)srv->opts.read_timeout_ms);
            RN_DEBUG("server", "conn=%llu peer=%s: request read timed out",
                     (unsigned long long)conn->id, conn->peer);
            rn__srvconn_close(conn, "request read timeout");
            return;
        }
        if (next == 0 || deadline < next)
            next = deadline;
    }
    if (srv->opts.idle_ms > 0) {
        uint64_t deadline = conn->active_ns + ms_to_ns(srv->opts.idle_ms);
        bool handling = conn->n_pending > 0; /* waiting for our answer is not idleness */
        if (!handling && now >= deadline) {
            srv->metrics.connections_closed_idle++;
            if (rn_episode_hit(&srv->ep_idle, now, RN_EPISODE_QUIET_NS))
                RN_INFO("server",
                        "conn=%llu peer=%s: idle longer than connections.max.idle.ms (%lld ms); "
                        "closing idle connections (logged once per episode)",
                        (unsigned long long)conn->id, conn->peer, (long long)srv->opts.idle_ms);
            RN_DEBUG("server", "conn=%llu peer=%s: idle", (unsigned long long)conn->id, conn->peer);
            rn__srvconn_close(conn, "idle");
            return;
        }
        if (now >= deadline) /* handling: look again after another idle period */
            deadline = now + ms_to_ns(srv->opts.idle_ms);
        if (next == 0 || deadline < next)
            next = deadline;
    }
    if (next != 0)
        timer_arm(conn, next, now);
}

/* Move finished responses at the head of the queue to the socket, then resume reading
 * if backpressure had paused it. */
static void conn_flush(rn_srvconn_t *conn)
{
    rn_server_t *srv = conn->srv;
    if (conn->broken)
        return; /* closing from on_resume; nothing more goes out */
    if (conn->hold_until_ns != 0)
        return; /* a throttled old client: throttle_end flushes */
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
            struct evbuffer_iovec vec;
            int rc;
            /* One chain means memory only: a file range always follows a header chain. */
            if (len <= RN_CONN_COPY_MAX &&
                evbuffer_peek(req->out, (ev_ssize_t)len, NULL, &vec, 1) == 1)
                rc = bufferevent_write(conn->bev, vec.iov_base, vec.iov_len);
            else
                rc = bufferevent_write_buffer(conn->bev, req->out);
            if (rc == 0) {
                srv->metrics.bytes_out += len;
                conn->out_total += len;
            }
        }
        bool close_after = req->close_after;
        req_free(req);
        if (close_after) {
            /* A failed login: nothing after this answer; on_write closes once it is out. */
            conn->closing = true;
            conn_update_reading(conn);
            if (rn__srvconn_output(conn) == 0)
                event_active(conn->resume, EV_TIMEOUT, 0);
            return;
        }
    }
    if (conn->read_paused && !conn->draining && conn->n_pending < RN_CONN_MAX_PENDING / 2 &&
        conn_held(conn) < queued_limit(srv) / 2) {
        conn->read_paused = false;
        if (conn->rx_start_ns != 0) /* the read deadline restarts: we were the slow one */
            conn->rx_start_ns = 0, rx_started(conn);
        conn_update_reading(conn);
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
    if (conn->srv->opts.before_response != NULL && !conn->closed)
        conn->srv->opts.before_response(req);
    int rc = rn__req_encode(req);
    req_release(req);
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

/* Our backpressure: stop reading until the connection's answers drain. */
static void conn_pause(rn_srvconn_t *conn)
{
    if (!conn->read_paused) {
        conn->read_paused = true;
        conn->srv->metrics.reads_paused_backpressure++;
        conn_update_reading(conn);
    }
}

/* Handle one complete frame (size prefix already removed; ownership taken). Returns
 * false when the connection was closed. */
static bool handle_frame(rn_srvconn_t *conn, uint8_t *frame, size_t size)
{
    rn_server_t *srv = conn->srv;
    conn->active_ns = rn__server_now_ns();
    rn_req_t *req = rn__req_new(conn, frame, size);
    if (req == NULL) {
        mem_give(srv, size); /* the frame was freed with the request */
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
    uint64_t started = rn__server_now_ns();
    int rc = api->handler(req);
    if (rc == RN_HANDLED_SYNC || rc == RN_HANDLED_NO_RESPONSE)
        req->handle_ns = rn__server_now_ns() - started; /* an ASYNC req may be gone */
    if (rc == RN_HANDLED_SYNC || rc == RN_HANDLED_NO_RESPONSE) {
        if (rc == RN_HANDLED_NO_RESPONSE)
            req->no_response = true;
        req_finish(req);
        conn_flush(conn);
    } else if (rc < 0) {
        uint64_t skipped = 0;
        if (rn__server_may_log_bad(srv, &skipped))
            RN_WARN("server",
                    "conn=%llu peer=%s api_key=%d api_version=%d correlation_id=%d: "
                    "malformed %s request (%s); closing the connection (%llu more bad "
                    "requests not logged before this one)",
                    (unsigned long long)conn->id, conn->peer, key, version, corr, api->name,
                    rn_strerror(rc), (unsigned long long)skipped);
        srv->metrics.errors[key]++;
        srv->metrics.connections_closed_bad++;
        req->state = RN_REQ_DONE; /* not parked: free it with the connection */
        req->no_response = true;
        rn__srvconn_close(conn, "malformed request");
        return false;
    }
    return true;
}

/* Grow the frame being received to hold need bytes (need <= rx_size), doubling, so memory
 * follows the bytes that actually arrived. False when queued.max.request.bytes has no room
 * (the caller waits) or memory is short. */
static bool rx_reserve(rn_srvconn_t *conn, size_t need)
{
    if (need <= conn->rx_cap)
        return true;
    size_t cap = conn->rx_cap ? conn->rx_cap : RN_CONN_RX_FIRST;
    while (cap < need)
        cap *= 2;
    if (cap > conn->rx_size)
        cap = conn->rx_size;
    if (!mem_take(conn, cap - conn->rx_cap))
        return false;
    uint8_t *frame = rn_realloc(conn->rx_frame, cap);
    if (frame == NULL) {
        mem_give(conn->srv, cap - conn->rx_cap);
        return false;
    }
    conn->rx_frame = frame;
    conn->rx_cap = cap;
    return true;
}

enum { RX_MORE, RX_DONE, RX_NOMEM };

/* Fill the partly received frame: first from what the bufferevent has read, then with
 * reads from the socket straight into the frame. libevent 2.1 reads at most 4 KiB per
 * wakeup, so a 1 MB Produce would otherwise take 256 loop iterations and a copy out of the
 * evbuffer. End of stream and socket errors are left for the bufferevent's next read to
 * report (the socket stays readable). RX_DONE once the frame is complete, RX_NOMEM when the
 * memory bound stops it. */
static int rx_fill(rn_srvconn_t *conn)
{
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    size_t inbuf = evbuffer_get_length(in);
    size_t want = conn->rx_size - conn->rx_have;
    if (inbuf > 0 && want > 0) {
        size_t n = inbuf < want ? inbuf : want;
        if (!rx_reserve(conn, conn->rx_have + n))
            return RX_NOMEM;
        conn->rx_have += (size_t)evbuffer_remove(in, conn->rx_frame + conn->rx_have, n);
    }
    evutil_socket_t fd = bufferevent_getfd(conn->bev);
    while (!conn->tls && conn->rx_have < conn->rx_size) { /* TLS: bytes come decrypted */
        if (conn->rx_have == conn->rx_cap) {
            /* Grow only for bytes that are there: a size prefix alone reserves nothing. */
            int queued = 0;
            if (ioctl(fd, FIONREAD, &queued) != 0 || queued <= 0)
                break;
            if (!rx_reserve(conn, conn->rx_have + 1))
                return RX_NOMEM;
        }
        ssize_t n =
            recv(fd, conn->rx_frame + conn->rx_have, conn->rx_cap - conn->rx_have, MSG_DONTWAIT);
        if (n > 0)
            conn->rx_have += (size_t)n;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            break; /* EAGAIN: wait for more; EOF or error: the bufferevent reports it */
    }
    return conn->rx_have == conn->rx_size ? RX_DONE : RX_MORE;
}

/* Read and dispatch complete frames, at most RN_CONN_BUDGET per call so one busy client
 * cannot starve the others; the rest is resumed from the event loop. */
/* Handle the requests in the input; false when the connection was closed (it may be freed). */
static bool process_input(rn_srvconn_t *conn)
{
    rn_server_t *srv = conn->srv;
    if (conn->closed)
        return false;
    if (conn->processing || conn->draining || conn->broken || conn->mem_wait || conn->closing)
        return true;
    conn->processing = true;
    struct evbuffer *in = bufferevent_get_input(conn->bev);
    int budget = RN_CONN_BUDGET;
    for (;;) {
        if (conn->n_pending >= RN_CONN_MAX_PENDING || conn_held(conn) >= queued_limit(srv)) {
            conn_pause(conn);
            break;
        }
        if (conn->rx_size != 0) {
            int st = rx_fill(conn);
            if (st != RX_DONE) {
                rx_started(conn);
                if (st == RX_NOMEM)
                    mem_wait(conn);
                break;
            }
            if (budget-- == 0) {
                event_active(conn->resume, EV_TIMEOUT, 0);
                break;
            }
            uint8_t *frame = conn->rx_frame;
            size_t size = conn->rx_size;
            conn->rx_frame = NULL;
            conn->rx_size = conn->rx_have = conn->rx_cap = 0;
            conn->rx_start_ns = 0;
            srv->metrics.bytes_in += 4 + (uint64_t)size;
            if (!handle_frame(conn, frame, size))
                return false; /* closed; conn may be freed */
            if (conn->broken)
                break;
            continue;
        }
        size_t avail = evbuffer_get_length(in);
        if (avail < 4) {
            if (avail > 0)
                rx_started(conn);
            else
                conn->rx_start_ns = 0;
            break;
        }
        uint8_t szbuf[4];
        evbuffer_copyout(in, szbuf, 4);
        int32_t size = (int32_t)rn_load_be32(szbuf);
        /* Before a SASL login: bare tokens after SaslHandshake v0 may be short, and no
         * frame may be large. */
        int32_t min = conn->raw_tokens ? 1 : 8, max = srv->opts.max_request_bytes;
        if (conn->sasl && !conn->authenticated && max > RN_CONN_SASL_MAX_RECEIVE)
            max = RN_CONN_SASL_MAX_RECEIVE;
        if (size < min || size > max) {
            /* Before allocating: a huge or negative size is garbage or an attack, and an
             * HTTP or TLS client lands here too. */
            uint64_t skipped = 0;
            if (rn__server_may_log_bad(srv, &skipped))
                RN_WARN("server",
                        "conn=%llu peer=%s: request size %d is outside %d..%d "
                        "(socket.request.max.bytes%s); closing the connection (%llu more bad "
                        "requests not logged before this one)",
                        (unsigned long long)conn->id, conn->peer, size, min, max,
                        max < srv->opts.max_request_bytes ? ", 512 KiB before a SASL login" : "",
                        (unsigned long long)skipped);
            srv->metrics.connections_closed_bad++;
            conn->processing = false;
            rn__srvconn_close(conn, "bad frame size");
            return false;
        }
        bool whole = avail >= 4 + (size_t)size;
        if (!whole) {
            /* Receive the rest straight into a frame that grows as it arrives (rx_fill). */
            evbuffer_drain(in, 4);
            conn->rx_size = (size_t)size;
            conn->rx_have = conn->rx_cap = 0;
            continue;
        }
        if (budget-- == 0) {
            event_active(conn->resume, EV_TIMEOUT, 0);
            break;
        }
        if (!mem_take(conn, (size_t)size)) {
            rx_started(conn);
            mem_wait(conn);
            break;
        }
        uint8_t *frame = rn_malloc((size_t)size);
        if (frame == NULL) {
            mem_give(srv, (size_t)size);
            RN_ERROR("server",
                     "conn=%llu peer=%s: out of memory for a %d-byte request; "
                     "closing the connection",
                     (unsigned long long)conn->id, conn->peer, size);
            conn->processing = false;
            rn__srvconn_close(conn, "out of memory");
            return false;
        }
        evbuffer_drain(in, 4);
        evbuffer_remove(in, frame, (size_t)size);
        conn->rx_start_ns = 0;
        srv->metrics.bytes_in += 4 + (uint64_t)size;
        if (!handle_frame(conn, frame, (size_t)size))
            return false; /* closed; conn may be freed */
        if (conn->broken)
            break;
    }
    conn->processing = false;
    return true;
}

/* TLS: the server contexts read ahead (rn_tls.h), so OpenSSL may hold whole records that
 * are no socket event, and libevent 2.1 stops reading at the end of each record: go on while
 * it holds some, or the connection would wait for the client to send more. */
static void tls_read_on(rn_srvconn_t *conn)
{
    if (conn->tls && !reading_off(conn) && SSL_has_pending(bufferevent_openssl_get_ssl(conn->bev)))
        event_active(&conn->bev->ev_read, EV_READ, 1);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    rn_srvconn_t *conn = arg;
    if (process_input(conn))
        tls_read_on(conn);
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    rn_srvconn_t *conn = arg;
    if (conn->broken)
        rn__srvconn_close(conn,
                          conn->broken_why != NULL ? conn->broken_why : "response encoding failed");
    else if (conn->closing && rn__srvconn_output(conn) == 0)
        rn__srvconn_close(conn, "closed after its last answer");
    else if (process_input(conn))
        tls_read_on(conn);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    rn_srvconn_t *conn = arg;
    note_output_progress(conn, rn__server_now_ns());
    if (conn->closing && rn__srvconn_output(conn) == 0) {
        rn__srvconn_close(conn, "closed after its last answer");
        return;
    }
    if (conn->read_paused)
        conn_flush(conn); /* re-checks the limits and resumes */
}

/* The TLS handshake is done: a verified client certificate names the connection. */
static void tls_connected(rn_srvconn_t *conn)
{
    SSL *ssl = bufferevent_openssl_get_ssl(conn->bev);
    char principal[1100];
    conn->handshaken = true;
    if (rn_tls_principal(ssl, principal, sizeof(principal)))
        conn->principal = rn_xstrdup(principal);
    RN_DEBUG("server", "conn=%llu peer=%s: TLS handshake done (%s, %s); principal %s",
             (unsigned long long)conn->id, conn->peer, SSL_get_version(ssl),
             SSL_get_cipher_name(ssl),
             conn->principal != NULL ? conn->principal : RN_PRINCIPAL_ANONYMOUS);
    /* A client may send its first request right behind its Finished message (TLS 1.3):
     * read ahead with the handshake, it is no socket event of its own. */
    tls_read_on(conn);
}

/* A TLS connection failed: say why when OpenSSL knows (an untrusted or expired
 * certificate, a plaintext client), rate-limited like other bad clients. */
static void tls_failed(rn_srvconn_t *conn, short what)
{
    rn_server_t *srv = conn->srv;
    unsigned long e, first = 0;
    while ((e = bufferevent_get_openssl_error(conn->bev)) != 0)
        if (first == 0)
            first = e;
    if (conn->handshaken) {
        if (first != 0)
            RN_DEBUG("server", "conn=%llu peer=%s: TLS error: %s", (unsigned long long)conn->id,
                     conn->peer, ERR_reason_error_string(first));
        return;
    }
    srv->metrics.tls_handshakes_failed++;
    uint64_t skipped = 0;
    if (first != 0 && rn__server_may_log_bad(srv, &skipped))
        RN_INFO("server",
                "conn=%llu peer=%s: TLS handshake failed: %s; closing the connection (%llu more "
                "bad requests not logged before this one)",
                (unsigned long long)conn->id, conn->peer, ERR_reason_error_string(first),
                (unsigned long long)skipped);
    else
        RN_DEBUG("server", "conn=%llu peer=%s: closed during the TLS handshake%s",
                 (unsigned long long)conn->id, conn->peer,
                 what & BEV_EVENT_EOF ? " by the client" : "");
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    rn_srvconn_t *conn = arg;
    if (what & BEV_EVENT_CONNECTED) {
        tls_connected(conn);
        return;
    }
    if (conn->tls && (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)))
        tls_failed(conn, what);
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

rn_srvconn_t *rn__srvconn_new(rn_server_t *srv, int listener, int fd, const char *peer,
                              const char *ip)
{
    rn_srvconn_t *conn = rn_xcalloc(1, sizeof(*conn));
    conn->srv = srv;
    conn->listener = listener;
    conn->id = srv->next_conn_id++;
    snprintf(conn->peer, sizeof(conn->peer), "%s", peer);
    snprintf(conn->ip, sizeof(conn->ip), "%s", ip);
    conn->draining = srv->draining;
    SSL_CTX *ssl_ctx = srv->lsocks[listener].ssl_ctx;
    if (ssl_ctx != NULL) {
        SSL *ssl = SSL_new(ssl_ctx); /* holds a reference on the context */
        if (ssl != NULL) {
            conn->bev = bufferevent_openssl_socket_new(
                srv->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
            if (conn->bev == NULL)
                SSL_free(ssl);
        }
        if (conn->bev != NULL) {
            /* A client closing without close_notify is a normal end, not an error. */
            bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
            conn->tls = true;
        }
    } else {
        conn->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    conn->resume = event_new(srv->base, -1, 0, on_resume, conn);
    conn->timer = event_new(srv->base, -1, 0, on_timer, conn);
    /* EV_CLOSED needs a backend that reports it (epoll: EPOLLRDHUP); elsewhere a stopped
     * connection notices its peer only when reading resumes. */
    if (event_base_get_features(srv->base) & EV_FEATURE_EARLY_CLOSE)
        conn->closed_ev = event_new(srv->base, fd, EV_CLOSED | EV_PERSIST, on_peer_closed, conn);
    if (conn->bev == NULL || conn->resume == NULL || conn->timer == NULL) {
        if (conn->bev != NULL)
            bufferevent_free(conn->bev); /* closes fd */
        else
            evutil_closesocket(fd);
        if (conn->resume != NULL)
            event_free(conn->resume);
        if (conn->timer != NULL)
            event_free(conn->timer);
        if (conn->closed_ev != NULL)
            event_free(conn->closed_ev);
        rn_free(conn);
        return NULL;
    }
    size_t limit = queued_limit(srv);
    bufferevent_set_max_single_read(conn->bev, RN_CONN_IO_CHUNK);
    bufferevent_set_max_single_write(conn->bev, RN_CONN_IO_CHUNK);
    bufferevent_setcb(conn->bev, on_read, on_write, on_event, conn);
    /* Called on every read: the first byte of a request starts its read deadline. */
    bufferevent_setwatermark(conn->bev, EV_READ, 0, 0);
    bufferevent_setwatermark(conn->bev, EV_WRITE, limit / 2, 0);
    uint64_t now = rn__server_now_ns();
    conn->active_ns = now;
    if (srv->opts.idle_ms > 0)
        timer_arm(conn, now + ms_to_ns(srv->opts.idle_ms), now);
    conn_link(&srv->conns, conn);
    conn_update_reading(conn);
    return conn;
}

size_t rn__srvconn_count_ip(const rn_server_t *srv, const char *ip)
{
    size_t n = 0;
    for (const rn_srvconn_t *conn = srv->conns; conn != NULL; conn = conn->next)
        n += strcmp(conn->ip, ip) == 0;
    return n;
}

void rn__srvconn_drain(rn_srvconn_t *conn)
{
    conn->draining = true;
    conn_update_reading(conn);
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
    mem_unlink(conn);
    rn_free(conn->rx_frame);
    conn->rx_frame = NULL;
    if (conn->rx_cap > 0)
        mem_give(srv, conn->rx_cap);
    conn->rx_size = conn->rx_have = conn->rx_cap = 0;
    if (conn->closed_ev != NULL)
        event_free(conn->closed_ev); /* before the socket closes: it watches the fd */
    conn->closed_ev = NULL;
    bufferevent_free(conn->bev); /* closes the socket; queued output is dropped */
    conn->bev = NULL;
    event_free(conn->resume);
    conn->resume = NULL;
    event_free(conn->timer);
    conn->timer = NULL;
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
            req_free(req);
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

void rn_req_throttle(rn_req_t *req, int64_t ms, bool hold_response)
{
    rn_srvconn_t *conn = req->conn;
    if (conn->closed || ms <= 0)
        return;
    uint64_t now = rn__server_now_ns(), until = now + ms_to_ns(ms);
    if (conn->mute_until_ns == 0)
        conn->srv->metrics.reads_paused_throttle++;
    if (until > conn->mute_until_ns)
        conn->mute_until_ns = until;
    if (hold_response && until > conn->hold_until_ns)
        conn->hold_until_ns = until;
    conn_update_reading(conn);
    timer_arm(conn, conn->mute_until_ns, now); /* on_timer re-arms for what comes after */
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

void rn_req_complete_close(rn_req_t *req, const char *why)
{
    rn_srvconn_t *conn = req->conn;
    req->no_response = true;
    if (!conn->closed && !conn->broken) {
        conn->broken = true;
        conn->broken_why = why;
        event_active(conn->resume, EV_TIMEOUT, 0);
    }
    rn_req_complete(req);
}
