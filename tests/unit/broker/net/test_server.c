/* Tests for rn_server with test handlers: framing limits, in-order responses for pipelined
 * and asynchronously completed requests, acks=0-style no-response requests, malformed
 * input closing only its own connection, parked requests outliving their connection,
 * file ranges sent by sendfile, flexible request headers, requests larger than a socket
 * read or arriving in pieces, the metrics counters, and the limits against hostile
 * clients (request read deadline, max.connections, length prefixes reserving nothing,
 * a vanished peer freed while reading is stopped).
 * The server runs on its own thread; the test talks raw bytes over blocking sockets. */
#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "net/rn_server.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
    API_ECHO = 100,
    API_PARK = 101,
    API_NORESP = 102,
    API_BAD = 103,
    API_FILE = 104,
    API_FLEX = 105
};

static struct event_base *base;
static atomic_int cancels, releases, orphan_completions;
static int file_fd = -1;

static int h_echo(rn_req_t *req)
{
    return rn_req_write(req, req->body, req->body_len);
}

static int h_noresp(rn_req_t *req)
{
    return RN_HANDLED_NO_RESPONSE;
}

static int h_bad(rn_req_t *req)
{
    return RN_EINVAL;
}

typedef struct parked {
    rn_req_t *req;
    struct event *timer;
} parked_t;

static void park_fire(evutil_socket_t fd, short what, void *arg)
{
    parked_t *pk = arg;
    rn_req_t *req = pk->req;
    event_free(pk->timer);
    rn_free(pk);
    if (rn_req_orphaned(req))
        atomic_fetch_add(&orphan_completions, 1);
    rn_req_write(req, req->body, req->body_len);
    rn_req_complete(req);
}

static void park_cancel(rn_req_t *req, void *arg)
{
    parked_t *pk = arg;
    event_free(pk->timer);
    rn_free(pk);
    atomic_fetch_add(&cancels, 1);
}

/* Body: int32 delay ms, int8 1 = with cancel callback. Answers its body after the delay. */
static int h_park(rn_req_t *req)
{
    if (req->body_len < 5)
        return RN_ETRUNC;
    int32_t delay = (int32_t)rn_load_be32(req->body);
    parked_t *pk = rn_xcalloc(1, sizeof(*pk));
    pk->req = req;
    pk->timer = evtimer_new(base, park_fire, pk);
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(pk->timer, &tv);
    rn_req_park(req, req->body[4] ? park_cancel : NULL, pk);
    return RN_HANDLED_ASYNC;
}

static void file_release(void *arg)
{
    atomic_fetch_add(&releases, 1);
}

/* Body: int32 offset, int32 length of the test file. */
static int h_file(rn_req_t *req)
{
    if (req->body_len < 8)
        return RN_ETRUNC;
    rn_req_write(req, "F:", 2);
    int rc = rn_req_add_file(req, file_fd, rn_load_be32(req->body), rn_load_be32(req->body + 4),
                             file_release, NULL);
    if (rc != 0)
        return rc;
    rn_req_write(req, ":E", 2);
    return RN_HANDLED_SYNC;
}

static const rn_api_entry_t apis[] = {
    {API_ECHO, 0, 3, INT16_MAX, h_echo, RN_API_RAW, "Echo"},
    {API_PARK, 0, 0, INT16_MAX, h_park, RN_API_RAW, "Park"},
    {API_NORESP, 0, 0, INT16_MAX, h_noresp, RN_API_RAW, "NoResp"},
    {API_BAD, 0, 0, INT16_MAX, h_bad, RN_API_RAW, "Bad"},
    {API_FILE, 0, 0, INT16_MAX, h_file, RN_API_RAW, "File"},
    {API_FLEX, 0, 2, 1, h_echo, RN_API_RAW, "Flex"},
};

static void *loop_main(void *arg)
{
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0)
        return -1;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_all(int fd, const void *data, size_t len)
{
    const uint8_t *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static int recv_all(int fd, void *data, size_t len)
{
    uint8_t *p = data;
    while (len > 0) {
        ssize_t n = recv(fd, p, len, 0);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Build a request frame with header v1 (v2 when flexible) into buf; returns its length. */
static size_t build(uint8_t *buf, int16_t key, int16_t ver, int32_t corr, bool flexible,
                    const void *body, size_t blen)
{
    size_t n = 4;
    rn_store_be16(buf + n, (uint16_t)key);
    rn_store_be16(buf + n + 2, (uint16_t)ver);
    rn_store_be32(buf + n + 4, (uint32_t)corr);
    rn_store_be16(buf + n + 8, 4);
    memcpy(buf + n + 10, "test", 4);
    n += 14;
    if (flexible) { /* one unknown tag (7) of 2 bytes: must be skipped */
        const uint8_t tags[] = {1, 7, 2, 0xaa, 0xbb};
        memcpy(buf + n, tags, sizeof(tags));
        n += sizeof(tags);
    }
    memcpy(buf + n, body, blen);
    n += blen;
    rn_store_be32(buf, (uint32_t)(n - 4));
    return n;
}

/* Read one response frame; returns the payload length after the size, or -1. */
static int recv_frame(int fd, uint8_t *buf, size_t cap, int32_t *corr)
{
    uint8_t sz[4];
    if (recv_all(fd, sz, 4) != 0)
        return -1;
    uint32_t size = rn_load_be32(sz);
    if (size < 4 || size > cap || recv_all(fd, buf, size) != 0)
        return -1;
    *corr = (int32_t)rn_load_be32(buf);
    return (int)size;
}

static bool is_closed(int fd)
{
    uint8_t b;
    ssize_t n = recv(fd, &b, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_echo_and_order(int port)
{
    int fd = connect_to(port);
    uint8_t buf[4096], resp[4096];
    size_t n = build(buf, API_ECHO, 1, 7, false, "hello", 5);
    send_all(fd, buf, n);
    int32_t corr;
    int len = recv_frame(fd, resp, sizeof(resp), &corr);
    is(len, 9, "echo response size (corr + body)");
    is(corr, 7, "correlation id echoed");
    ok(len == 9 && memcmp(resp + 4, "hello", 5) == 0, "echo body");

    /* Pipelined: parked requests finishing in reverse order, echoes in between, and a
     * no-response request; answers must come back in request order without the latter. */
    size_t off = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t body[5];
        if (i % 3 == 0) {
            rn_store_be32(body, (uint32_t)(100 - i * 10));
            body[4] = 1;
            off += build(buf + off, API_PARK, 0, 100 + i, false, body, 5);
        } else if (i == 5) {
            off += build(buf + off, API_NORESP, 0, 100 + i, false, "", 0);
        } else {
            off += build(buf + off, API_ECHO, 0, 100 + i, false, "x", 1);
        }
    }
    send_all(fd, buf, off);
    int order_ok = 1;
    for (int i = 0; i < 10; i++) {
        if (i == 5)
            continue;
        if (recv_frame(fd, resp, sizeof(resp), &corr) < 0 || corr != 100 + i) {
            order_ok = 0;
            diag("response %d: correlation id %d", i, corr);
            break;
        }
    }
    ok(order_ok, "pipelined responses in request order (async and no-response mixed)");

    /* Many small requests in one write: more than one wakeup's budget. */
    off = 0;
    for (int i = 0; i < 100; i++)
        off += build(buf + off, API_ECHO, 0, 1000 + i, false, "", 0);
    send_all(fd, buf, off);
    int all = 1;
    for (int i = 0; i < 100 && all; i++)
        all = recv_frame(fd, resp, sizeof(resp), &corr) == 4 && corr == 1000 + i;
    ok(all, "100 pipelined requests answered in order");
    close(fd);
}

static void test_bad_input(int port)
{
    uint8_t buf[256], resp[256];
    int32_t corr;
    int keep = connect_to(port);

    int fd = connect_to(port);
    send_all(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    ok(is_closed(fd), "HTTP garbage (huge size) closes the connection");
    close(fd);

    fd = connect_to(port);
    uint8_t big[4];
    rn_store_be32(big, (1u << 20) + 1);
    send_all(fd, big, 4);
    ok(is_closed(fd), "frame over socket.request.max.bytes closes before any body is sent");
    close(fd);

    fd = connect_to(port);
    rn_store_be32(big, 0xfffffff0u);
    send_all(fd, big, 4);
    ok(is_closed(fd), "negative frame size closes");
    close(fd);

    fd = connect_to(port);
    size_t n = build(buf, 77, 0, 1, false, "", 0);
    send_all(fd, buf, n);
    ok(is_closed(fd), "unknown api key closes");
    close(fd);

    fd = connect_to(port);
    n = build(buf, API_ECHO, 9, 1, false, "", 0);
    send_all(fd, buf, n);
    ok(is_closed(fd), "unsupported version closes");
    close(fd);

    fd = connect_to(port);
    n = build(buf, API_BAD, 0, 1, false, "", 0);
    send_all(fd, buf, n);
    ok(is_closed(fd), "handler reporting a malformed body closes");
    close(fd);

    fd = connect_to(port);
    uint8_t trunc[] = {0, 0, 0, 9, 0, API_ECHO, 0, 0, 0, 0, 0, 1, 0x7f}; /* client id cut */
    send_all(fd, trunc, sizeof(trunc));
    ok(is_closed(fd), "truncated request header closes");
    close(fd);

    n = build(buf, API_ECHO, 0, 55, false, "ok", 2);
    send_all(keep, buf, n);
    ok(recv_frame(keep, resp, sizeof(resp), &corr) == 6 && corr == 55,
       "the other connection kept working throughout");
    close(keep);
}

static void test_parked_disconnect(int port)
{
    uint8_t buf[256], body[5];
    int before = atomic_load(&cancels);
    int fd = connect_to(port);
    rn_store_be32(body, 5000);
    body[4] = 1;
    size_t n = build(buf, API_PARK, 0, 1, false, body, 5);
    send_all(fd, buf, n);
    usleep(100 * 1000);
    close(fd);
    for (int i = 0; i < 100 && atomic_load(&cancels) == before; i++)
        usleep(10 * 1000);
    is(atomic_load(&cancels), before + 1, "parked request's cancel callback ran on disconnect");

    /* Parked without a cancel callback: completed after the client left. */
    int done = atomic_load(&orphan_completions);
    fd = connect_to(port);
    rn_store_be32(body, 200);
    body[4] = 0;
    n = build(buf, API_PARK, 0, 2, false, body, 5);
    send_all(fd, buf, n);
    usleep(50 * 1000);
    close(fd);
    for (int i = 0; i < 100 && atomic_load(&orphan_completions) == done; i++)
        usleep(10 * 1000);
    is(atomic_load(&orphan_completions), done + 1, "orphaned request completed safely");
}

static void test_file_and_flex(int port)
{
    char path[] = "/tmp/rn_test_server.XXXXXX";
    file_fd = mkstemp(path);
    unlink(path);
    const char *text = "0123456789abcdefghij";
    if (write(file_fd, text, 20) != 20)
        diag("write failed");
    int fd = connect_to(port);
    uint8_t buf[256], resp[256], body[8];
    rn_store_be32(body, 5);
    rn_store_be32(body + 4, 10);
    size_t n = build(buf, API_FILE, 0, 9, false, body, 8);
    send_all(fd, buf, n);
    int32_t corr;
    int len = recv_frame(fd, resp, sizeof(resp), &corr);
    is(len, 4 + 2 + 10 + 2, "file response size");
    ok(len == 18 && memcmp(resp + 4, "F:56789abcde:E", 14) == 0, "file range between memory");
    for (int i = 0; i < 100 && atomic_load(&releases) == 0; i++)
        usleep(10 * 1000);
    is(atomic_load(&releases), 1, "file segment released after sending");

    n = build(buf, API_FLEX, 1, 12, true, "abc", 3);
    send_all(fd, buf, n);
    len = recv_frame(fd, resp, sizeof(resp), &corr);
    is(len, 4 + 1 + 3, "flexible response: header v1 adds the tag section");
    ok(len == 8 && corr == 12 && resp[4] == 0 && memcmp(resp + 5, "abc", 3) == 0,
       "unknown request tag skipped, body intact");
    n = build(buf, API_FLEX, 0, 13, false, "abc", 3);
    send_all(fd, buf, n);
    len = recv_frame(fd, resp, sizeof(resp), &corr);
    is(len, 7, "non-flexible version of the same api: header v0");
    close(fd);
}

/* Requests larger than one socket read, and requests arriving in pieces: the body is read
 * straight into the request's buffer (conn.c rx_fill) and must come out intact. */
static void test_large_and_split(int port)
{
    enum { BIG = 600 << 10 };
    uint8_t *buf = rn_xmalloc(BIG + 64), *resp = rn_xmalloc(BIG + 64);
    uint8_t *body = rn_xmalloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        body[i] = (uint8_t)(i * 131 + i / 251);
    int fd = connect_to(port);
    size_t n = build(buf, API_ECHO, 0, 21, false, body, BIG);
    send_all(fd, buf, n);
    int32_t corr = 0;
    int len = recv_frame(fd, resp, BIG + 64, &corr);
    ok(len == 4 + BIG && corr == 21 && memcmp(resp + 4, body, BIG) == 0,
       "600 KiB request echoed intact (len %d, corr %d)", len, corr);

    /* The same request in pieces split inside the size prefix and the body, the last piece
     * carrying a whole second request: both answered, in order. */
    n = build(buf, API_ECHO, 0, 22, false, body, BIG);
    size_t n2 = build(buf + n, API_ECHO, 0, 23, false, "tail", 4);
    size_t cuts[] = {0, 2, 7, 5000, BIG / 2, n + n2};
    for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++) {
        send_all(fd, buf + cuts[i], cuts[i + 1] - cuts[i]);
        usleep(20000);
    }
    len = recv_frame(fd, resp, BIG + 64, &corr);
    ok(len == 4 + BIG && corr == 22 && memcmp(resp + 4, body, BIG) == 0,
       "request sent in pieces echoed intact (len %d, corr %d)", len, corr);
    len = recv_frame(fd, resp, BIG + 64, &corr);
    ok(len == 8 && corr == 23 && memcmp(resp + 4, "tail", 4) == 0,
       "request following it in the same write answered next");
    close(fd);

    /* A client gone halfway through a large request: the connection is dropped, the server
     * goes on (the next connection is served). */
    fd = connect_to(port);
    n = build(buf, API_ECHO, 0, 24, false, body, BIG);
    send_all(fd, buf, n / 2);
    usleep(20000);
    close(fd);
    fd = connect_to(port);
    n = build(buf, API_ECHO, 0, 25, false, "ok", 2);
    send_all(fd, buf, n);
    len = recv_frame(fd, resp, BIG + 64, &corr);
    ok(len == 6 && corr == 25, "server serves the next client after a truncated request");
    close(fd);
    rn_free(buf);
    rn_free(resp);
    rn_free(body);
}

/* A second server with small limits: read deadline 300 ms, three connections,
 * queued.max.request.bytes = socket.request.max.bytes = 1 MiB. */
static rn_server_t *limited;

static void test_limits(void)
{
    const rn_server_metrics_t *m = rn_server_metrics(limited);
    int port = rn_server_port(limited);
    int slow = connect_to(port);
    uint8_t part[2] = {0, 0};
    send_all(slow, part, sizeof(part));
    usleep(100 * 1000);
    send_all(slow, part, 1); /* a trickle does not extend the deadline */
    usleep(600 * 1000);
    ok(is_closed(slow), "a request unfinished after socket.request.read.timeout.ms closes");
    is(m->connections_closed_slow, 1, "counted as slow");
    close(slow);

    /* Length prefixes alone reserve nothing. */
    int fds[4];
    for (int i = 0; i < 3; i++) {
        fds[i] = connect_to(port);
        uint8_t prefix[4];
        rn_store_be32(prefix, (1u << 20) - 64);
        send_all(fds[i], prefix, 4);
    }
    usleep(100 * 1000);
    is(m->queued_request_bytes, 0, "three 1 MiB length prefixes reserve no memory");
    fds[3] = connect_to(port);
    ok(is_closed(fds[3]), "a fourth connection over max.connections closes at once");
    is(m->connections_rejected, 1, "counted as rejected");
    close(fds[3]);
    /* Part of each body: memory follows what arrived, within the bound. */
    static uint8_t body[400 << 10];
    for (int i = 0; i < 3; i++)
        send_all(fds[i], body, sizeof(body));
    usleep(100 * 1000);
    ok(m->queued_request_bytes > 0 && m->queued_request_bytes <= (1 << 20),
       "bodies held within queued.max.request.bytes (%lld)", (long long)m->queued_request_bytes);
    ok(m->reads_paused_memory >= 1, "a connection waited for memory");
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    usleep(200 * 1000);
    is(m->queued_request_bytes, 0, "memory given back when the clients leave");
    is(m->connections_open, 0, "all closed");

    /* Stopped reading (256 pending behind a parked request), then the peer resets. */
    int fd = connect_to(port);
    static uint8_t burst[300 * 32];
    size_t n = 0;
    uint8_t pbody[5];
    rn_store_be32(pbody, 60000);
    pbody[4] = 1; /* with a cancel callback */
    n += build(burst + n, API_PARK, 0, 1, false, pbody, sizeof(pbody));
    for (int i = 0; i < 299; i++)
        n += build(burst + n, API_ECHO, 0, 2 + i, false, "x", 1);
    send_all(fd, burst, n);
    usleep(200 * 1000);
    int before = atomic_load(&cancels);
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd); /* reset */
    for (int i = 0; i < 20 && atomic_load(&cancels) == before; i++)
        usleep(50 * 1000);
    is(atomic_load(&cancels), before + 1,
       "a reset while reading is stopped cancels the parked "
       "request");
    is(m->connections_open, 0, "and frees the connection");
}

int main(void)
{
    evthread_use_pthreads();
    base = event_base_new();
    rn_server_opts_t opts = {.host = "127.0.0.1",
                             .port = 0,
                             .max_request_bytes = 1 << 20,
                             .idle_ms = 0,
                             .apis = apis,
                             .n_apis = sizeof(apis) / sizeof(apis[0])};
    char err[256];
    rn_server_t *srv = rn_server_new(base, &opts, err, sizeof(err));
    ok(srv != NULL, "server starts: %s", srv ? "" : err);
    if (srv == NULL)
        return done_testing();
    int port = rn_server_port(srv);
    ok(port > 0, "ephemeral port %d", port);
    rn_server_opts_t lopts = opts;
    lopts.read_timeout_ms = 300;
    lopts.max_connections = 3;
    lopts.queued_max_request_bytes = 1 << 20;
    limited = rn_server_new(base, &lopts, err, sizeof(err));
    ok(limited != NULL, "server with small limits starts: %s", limited ? "" : err);
    lopts.queued_max_request_bytes = (1 << 20) - 1;
    rn_server_t *wrong = rn_server_new(base, &lopts, err, sizeof(err));
    ok(wrong == NULL && strstr(err, "queued.max.request.bytes") != NULL,
       "queued.max.request.bytes under socket.request.max.bytes is refused (%s)", err);
    pthread_t thr;
    pthread_create(&thr, NULL, loop_main, NULL);

    test_echo_and_order(port);
    test_bad_input(port);
    test_parked_disconnect(port);
    test_file_and_flex(port);
    test_large_and_split(port);
    if (limited != NULL)
        test_limits();

    event_base_loopbreak(base);
    pthread_join(thr, NULL);
    const rn_server_metrics_t *m = rn_server_metrics(srv);
    ok(m->requests[API_ECHO] >= 103, "echo requests counted (%llu)",
       (unsigned long long)m->requests[API_ECHO]);
    ok(m->connections_closed_bad >= 6, "bad connections counted (%llu)",
       (unsigned long long)m->connections_closed_bad);
    is(m->requests_parked, 0, "no request left parked");
    ok(m->bytes_in > 0 && m->bytes_out > 0, "bytes counted");
    rn_server_free(srv);
    rn_server_free(limited);
    event_base_free(base);
    close(file_fd);
    return done_testing();
}
