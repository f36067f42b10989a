/* Tests for rn_server with test handlers on real api keys: framing limits, in-order
 * responses for pipelined and asynchronously completed requests, acks=0-style no-response
 * requests, malformed input closing only its own connection, parked requests outliving their
 * connection, file ranges sent by sendfile, flexible request headers, requests larger than a
 * socket read or arriving in pieces, the metrics counters, and the limits against hostile
 * clients (request read deadline, max.connections, length prefixes reserving nothing, a
 * vanished peer freed while reading is stopped).
 *
 * The handlers stand in for the rooms' real ones, each on an api whose codec suits the
 * behaviour under test:
 *   DescribeGroups v0-5 "echo": answers one group per requested group id (v5 is flexible);
 *   Heartbeat "park": answers after GenerationId ms with ErrorCode = GenerationId, with a
 *     cancel callback when MemberId is "cancel";
 *   LeaveGroup "no response"; SyncGroup "bad" (the handler calls the body malformed);
 *   Fetch "file": partition 0's records are a file range, partition 1's are memory.
 * The server runs on its own thread; the test encodes requests and decodes responses with
 * the client codec over blocking sockets, and writes raw bytes where framing is the point. */
#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_str.h"
#include "net/rn_server.h"
#include "tap.h"
#include "unit/testutil.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <errno.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define API_ECHO   RN_API_DESCRIBE_GROUPS
#define API_PARK   RN_API_HEARTBEAT
#define API_NORESP RN_API_LEAVE_GROUP
#define API_BAD    RN_API_SYNC_GROUP
#define API_FILE   RN_API_FETCH

static struct event_base *base;
static atomic_int cancels, releases, stray_releases, orphan_completions;
static int file_fd = -1;
static int file_owner; /* its address is the owner of the file records */
/* Requests the server must have counted per api key: complete frames sent. */
static uint64_t expected[RN_API_KEY_MAX + 1];

/* DescribeGroups: one described group per requested id, the id echoed. */
static int h_echo(rn_req_t *req)
{
    const rn_describe_groups_request_t *dg = req->request;
    rn_describe_groups_response_t *resp = req->response;
    int32_t n = dg->groups.count;
    rn_described_group_t *g = rn_described_group_array_alloc(&req->arena, &resp->groups, n);
    if (g == NULL && n > 0)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        rn_str_t id = dg->groups.items[i];
        g[i].group_id = id; /* the frame lives until the response is queued */
        /* "login:NAME" makes the connection User:NAME; "whoami" answers the principal. */
        if (id.len > 6 && memcmp(id.ptr, "login:", 6) == 0) {
            char who[64];
            snprintf(who, sizeof(who), "User:%.*s", (int)id.len - 6, id.ptr + 6);
            rn_server_set_principal(req, who);
        } else if (rn_str_eq_cstr(id, "whoami")) {
            g[i].group_id = rn_str(req->principal);
        }
    }
    return RN_HANDLED_SYNC;
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
    bool close; /* finish with rn_req_complete_close */
} parked_t;

static void park_fire(evutil_socket_t fd, short what, void *arg)
{
    parked_t *pk = arg;
    rn_req_t *req = pk->req;
    bool close_conn = pk->close;
    event_free(pk->timer);
    rn_free(pk);
    if (rn_req_orphaned(req))
        atomic_fetch_add(&orphan_completions, 1);
    if (close_conn)
        rn_req_complete_close(req, "the test asked for it");
    else
        rn_req_complete(req);
}

static void park_cancel(rn_req_t *req, void *arg)
{
    parked_t *pk = arg;
    event_free(pk->timer);
    rn_free(pk);
    atomic_fetch_add(&cancels, 1);
}

/* Heartbeat: parked for GenerationId ms; the ErrorCode tells the client which request the
 * response belongs to beyond its correlation id. */
static int h_park(rn_req_t *req)
{
    const rn_heartbeat_request_t *hb = req->request;
    rn_heartbeat_response_t *resp = req->response;
    int32_t delay = hb->generation_id;
    if (delay < 0 || delay > INT16_MAX)
        return RN_EINVAL;
    resp->error_code = (int16_t)delay;
    parked_t *pk = rn_xcalloc(1, sizeof(*pk));
    pk->req = req;
    pk->close = rn_str_eq_cstr(hb->member_id, "close");
    pk->timer = evtimer_new(base, park_fire, pk);
    struct timeval tv = {delay / 1000, (delay % 1000) * 1000};
    evtimer_add(pk->timer, &tv);
    rn_req_park(req, rn_str_eq_cstr(hb->member_id, "keep") ? NULL : park_cancel, pk);
    return RN_HANDLED_ASYNC;
}

static void file_release(void *owner)
{
    atomic_fetch_add(owner == &file_owner ? &releases : &stray_releases, 1);
}

/* Fetch of one topic and two partitions: the first answered from the test file at
 * [FetchOffset, FetchOffset + PartitionMaxBytes), the second from memory, so the file range
 * sits between memory-encoded fields. */
static int h_file(rn_req_t *req)
{
    const rn_fetch_request_t *fr = req->request;
    if (fr->topics.count != 1 || fr->topics.items[0].partitions.count != 2)
        return RN_EINVAL;
    const rn_fetch_topic_t *t = &fr->topics.items[0];
    rn_fetch_response_t *resp = req->response;
    rn_fetchable_topic_response_t *tr =
        rn_fetchable_topic_response_array_alloc(&req->arena, &resp->responses, 1);
    if (tr == NULL)
        return RN_ENOMEM;
    tr->topic = t->topic;
    rn_fetch_partition_data_t *pd =
        rn_fetch_partition_data_array_alloc(&req->arena, &tr->partitions, 2);
    if (pd == NULL)
        return RN_ENOMEM;
    for (int i = 0; i < 2; i++) {
        pd[i].partition_index = t->partitions.items[i].partition;
        pd[i].high_watermark = 20;
    }
    const rn_fetch_partition_t *p0 = &t->partitions.items[0];
    pd[0].records = (rn_records_t){.in_file = true,
                                   .fd = file_fd,
                                   .offset = p0->fetch_offset,
                                   .len = p0->partition_max_bytes,
                                   .owner = &file_owner};
    pd[1].records = (rn_records_t){.ptr = (const uint8_t *)"mem", .len = 3};
    return RN_HANDLED_SYNC;
}

/* SASL (a listener with rn_server_listen_t.sasl): SaslHandshake v0 turns bare tokens on;
 * SaslAuthenticate "login:NAME:MS" logs the connection in as User:NAME for a session of MS
 * (0: for good) and answers "ok"; anything else fails, closing the connection after the
 * answer. */
static int h_sasl_handshake(rn_req_t *req)
{
    if (req->api_version == 0)
        rn_req_sasl_raw_tokens(req, true);
    return RN_HANDLED_SYNC;
}

static int h_sasl_authenticate(rn_req_t *req)
{
    const rn_sasl_authenticate_request_t *a = req->request;
    rn_sasl_authenticate_response_t *resp = req->response;
    char tok[64], name[32];
    int ms = 0;
    snprintf(tok, sizeof(tok), "%.*s", a->auth_bytes.len > 0 ? (int)a->auth_bytes.len : 0,
             a->auth_bytes.len > 0 ? (const char *)a->auth_bytes.ptr : "");
    rn_req_sasl_raw_tokens(req, false);
    if (sscanf(tok, "login:%31[^:]:%d", name, &ms) == 2) {
        char who[48];
        snprintf(who, sizeof(who), "User:%s", name);
        rn_server_set_principal(req, who);
        rn_req_authenticated(req, ms);
        resp->auth_bytes = (rn_bytes_t){(const uint8_t *)"ok", 2};
    } else {
        resp->error_code = RN_KERR_SASL_AUTHENTICATION_FAILED;
        rn_req_close_after(req);
    }
    return RN_HANDLED_SYNC;
}

static const rn_api_entry_t apis[] = {
    {API_ECHO, 0, 5, h_echo, 0, "DescribeGroups"}, /* v5 flexible */
    {API_PARK, 0, 4, h_park, 0, "Heartbeat"},
    {API_NORESP, 0, 5, h_noresp, 0, "LeaveGroup"},
    {API_BAD, 0, 5, h_bad, 0, "SyncGroup"},
    {API_FILE, -1, -1, h_file, 0, "Fetch"}, /* serve= range, as runneld's rows */
};

static const rn_api_entry_t sasl_apis[] = {
    {API_ECHO, 0, 5, h_echo, 0, "DescribeGroups"},
    {API_PARK, 0, 4, h_park, 0, "Heartbeat"},
    {API_NORESP, 0, 5, h_noresp, 0, "LeaveGroup"},
    {API_BAD, 0, 5, h_bad, 0, "SyncGroup"},
    {API_FILE, -1, -1, h_file, 0, "Fetch"},
    {RN_API_SASL_HANDSHAKE, 0, 1, h_sasl_handshake, 0, "SaslHandshake"},
    {RN_API_SASL_AUTHENTICATE, 0, 2, h_sasl_authenticate, 0, "SaslAuthenticate"},
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

/* Count the complete frames in buf (key read from each) in expected[]. */
static void tally(const uint8_t *buf, size_t len)
{
    while (len >= 8) {
        size_t size = rn_load_be32(buf);
        int16_t key = (int16_t)rn_load_be16(buf + 4);
        if (size < 4 || size > len - 4)
            break;
        if (key >= 0 && key <= RN_API_KEY_MAX)
            expected[key]++;
        buf += 4 + size;
        len -= 4 + size;
    }
}

/* Send whole frames, counting them for the metrics check. */
static void send_frames(int fd, const uint8_t *buf, size_t len)
{
    tally(buf, len);
    send_all(fd, buf, len);
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

/* Encode a request frame into buf with the codec: header v1 ("test" client id), or v2 for a
 * flexible version with one unknown tag (7) of 2 bytes that the server must skip. Returns the
 * frame length; 0 when it does not fit or the codec failed. */
static size_t build(uint8_t *buf, size_t cap, int16_t key, int16_t ver, int32_t corr,
                    const void *body)
{
    const rn_rpc_api_t *api = rn_rpc_api(key);
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    size_t pos = rn_proto_writer_reserve(&w, 4);
    rn_rpc_request_header_t hdr = {key, ver, corr, rn_str("test")};
    rn_rpc_write_request_header(&w, 1, &hdr);
    if (rn_rpc_is_flexible(api, ver)) {
        const uint8_t tags[] = {1, 7, 2, 0xaa, 0xbb};
        rn_proto_write_raw(&w, tags, sizeof(tags));
    }
    api->request_encode(&w, ver, body);
    rn_proto_writer_patch_int32(&w, pos, (int32_t)(rn_proto_writer_total(&w) - 4));
    long n = w.err ? -1 : rn_proto_writer_copy(&w, buf, cap);
    rn_proto_writer_free(&w);
    if (n < 0)
        diag("cannot encode api key %d v%d: %ld", key, ver, n);
    return n < 0 ? 0 : (size_t)n;
}

/* A DescribeGroups request for ids[0..n). */
static size_t build_echo(uint8_t *buf, size_t cap, int16_t ver, int32_t corr, const rn_str_t *ids,
                         int32_t n)
{
    rn_describe_groups_request_t dg;
    rn_describe_groups_request_init(&dg);
    dg.groups.count = n;
    dg.groups.items = (rn_str_t *)ids;
    return build(buf, cap, API_ECHO, ver, corr, &dg);
}

/* A Heartbeat request parked for delay ms, with a cancel callback when cancel is set. */
static size_t build_park_as(uint8_t *buf, size_t cap, int32_t corr, int32_t delay, const char *how)
{
    rn_heartbeat_request_t hb;
    rn_heartbeat_request_init(&hb);
    hb.group_id = rn_str("g");
    hb.generation_id = delay;
    hb.member_id = rn_str(how);
    return build(buf, cap, API_PARK, 0, corr, &hb);
}

static size_t build_park(uint8_t *buf, size_t cap, int32_t corr, int32_t delay, bool cancel)
{
    rn_heartbeat_request_t hb;
    rn_heartbeat_request_init(&hb);
    hb.group_id = rn_str("g");
    hb.generation_id = delay;
    hb.member_id = rn_str(cancel ? "cancel" : "keep");
    return build(buf, cap, API_PARK, 0, corr, &hb);
}

static size_t build_noresp(uint8_t *buf, size_t cap, int32_t corr)
{
    rn_leave_group_request_t lg;
    rn_leave_group_request_init(&lg);
    lg.group_id = rn_str("g");
    lg.member_id = rn_str("m");
    return build(buf, cap, API_NORESP, 0, corr, &lg);
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

/* Receive and decode one response to a request (key, ver); NULL when none arrives, its
 * correlation id is not corr, or it does not decode to exactly its frame. */
static void *recv_resp(int fd, uint8_t *buf, size_t cap, rn_arena_t *arena, int16_t key,
                       int16_t ver, int32_t corr)
{
    int32_t got = -1, hdr_corr = -1;
    int len = recv_frame(fd, buf, cap, &got);
    void *body = NULL;
    int rc = len < 0 ? RN_ETRUNC
                     : rn_rpc_decode_response(buf, (size_t)len, arena, key, ver, &hdr_corr, &body);
    if (rc != 0 || got != corr || hdr_corr != corr) {
        diag("api key %d v%d: response len %d corr %d (want %d): %s", key, ver, len, got, corr,
             rc ? rn_strerror(rc) : "ok");
        return NULL;
    }
    return body;
}

/* True when a DescribeGroups response echoes exactly ids[0..n). */
static bool echoed(const rn_describe_groups_response_t *dg, const rn_str_t *ids, int32_t n)
{
    if (dg == NULL || dg->groups.count != n)
        return false;
    for (int32_t i = 0; i < n; i++)
        if (dg->groups.items[i].error_code != 0 || !rn_str_eq(dg->groups.items[i].group_id, ids[i]))
            return false;
    return true;
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
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_str_t hello[] = {rn_str("hello"), rn_str("world")};
    size_t n = build_echo(buf, sizeof(buf), 1, 7, hello, 2);
    send_frames(fd, buf, n);
    rn_describe_groups_response_t *dg = recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 1, 7);
    ok(dg != NULL, "echo response decodes, correlation id echoed");
    ok(echoed(dg, hello, 2), "echo body: both group ids, in order");

    /* Pipelined: parked requests finishing in reverse order, echoes in between, and a
     * no-response request; answers must come back in request order without the latter. */
    size_t off = 0;
    rn_str_t x = rn_str("x");
    for (int i = 0; i < 10; i++) {
        if (i % 3 == 0)
            off += build_park(buf + off, sizeof(buf) - off, 100 + i, 100 - i * 10, true);
        else if (i == 5)
            off += build_noresp(buf + off, sizeof(buf) - off, 100 + i);
        else
            off += build_echo(buf + off, sizeof(buf) - off, 0, 100 + i, &x, 1);
    }
    send_frames(fd, buf, off);
    int order_ok = 1;
    for (int i = 0; i < 10 && order_ok; i++) {
        if (i == 5)
            continue;
        if (i % 3 == 0) {
            rn_heartbeat_response_t *hb =
                recv_resp(fd, resp, sizeof(resp), &arena, API_PARK, 0, 100 + i);
            order_ok = hb != NULL && hb->error_code == 100 - i * 10;
        } else {
            order_ok =
                echoed(recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 0, 100 + i), &x, 1);
        }
        if (!order_ok)
            diag("response %d out of order or wrong", i);
    }
    ok(order_ok, "pipelined responses in request order (async and no-response mixed)");

    /* Many small requests in one write: more than one wakeup's budget. */
    off = 0;
    for (int i = 0; i < 100; i++)
        off += build_echo(buf + off, sizeof(buf) - off, 0, 1000 + i, NULL, 0);
    send_frames(fd, buf, off);
    int all = 1;
    for (int i = 0; i < 100 && all; i++) {
        int32_t corr;
        /* Exactly correlation id + an empty groups array: header v0, nothing else. */
        all = recv_frame(fd, resp, sizeof(resp), &corr) == 8 && corr == 1000 + i &&
              rn_load_be32(resp + 4) == 0;
    }
    ok(all, "100 pipelined requests answered in order");
    rn_arena_free(&arena);
    close(fd);
}

/* A connection starts anonymous; a login names it for that request and every later one, a
 * second login replaces the name, and other connections stay anonymous. */
static void test_principal(int port)
{
    int fd = connect_to(port), other = connect_to(port);
    uint8_t buf[1024], resp[1024];
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_str_t who = rn_str("whoami");
    rn_str_t login_who[] = {rn_str("login:alice"), rn_str("whoami")};
    rn_str_t relogin[] = {rn_str("login:bob")};
    rn_str_t anon = rn_str("User:ANONYMOUS"), alice = rn_str("User:alice"),
             bob = rn_str("User:bob");
    size_t n = build_echo(buf, sizeof(buf), 0, 1, &who, 1);
    send_frames(fd, buf, n);
    ok(echoed(recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 0, 1), &anon, 1),
       "a new connection is User:ANONYMOUS");
    n = build_echo(buf, sizeof(buf), 0, 2, login_who, 2);
    send_frames(fd, buf, n);
    rn_describe_groups_response_t *dg = recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 0, 2);
    ok(dg != NULL && dg->groups.count == 2 && rn_str_eq(dg->groups.items[1].group_id, alice),
       "a login names the request that made it");
    n = build_echo(buf, sizeof(buf), 0, 3, relogin, 1);
    n += build_echo(buf + n, sizeof(buf) - n, 0, 4, &who, 1);
    send_frames(fd, buf, n);
    recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 0, 3);
    ok(echoed(recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 0, 4), &bob, 1),
       "a second login replaces the connection's principal");
    n = build_echo(buf, sizeof(buf), 0, 5, &who, 1);
    send_frames(other, buf, n);
    ok(echoed(recv_resp(other, resp, sizeof(resp), &arena, API_ECHO, 0, 5), &anon, 1),
       "another connection stays anonymous");
    rn_arena_free(&arena);
    close(fd);
    close(other);
}

static void test_bad_input(int port)
{
    uint8_t buf[256], resp[256];
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    int keep = connect_to(port);
    rn_str_t ok_id = rn_str("ok");

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
    size_t n = build_echo(buf, sizeof(buf), 0, 1, &ok_id, 1);
    rn_store_be16(buf + 4, 77); /* a key nobody defines */
    send_frames(fd, buf, n);
    ok(is_closed(fd), "unknown api key closes");
    close(fd);

    fd = connect_to(port);
    rn_metadata_request_t md;
    rn_metadata_request_init(&md);
    n = build(buf, sizeof(buf), RN_API_METADATA, 1, 1, &md);
    send_frames(fd, buf, n);
    ok(n > 0 && is_closed(fd), "api key the codec defines but the table does not serve closes");
    close(fd);

    fd = connect_to(port);
    n = build_echo(buf, sizeof(buf), 0, 1, &ok_id, 1);
    rn_store_be16(buf + 6, 9); /* DescribeGroups v9: beyond the served 0-5 */
    send_frames(fd, buf, n);
    ok(is_closed(fd), "unsupported version closes");
    close(fd);

    fd = connect_to(port);
    rn_sync_group_request_t sg;
    rn_sync_group_request_init(&sg);
    sg.group_id = rn_str("g");
    sg.member_id = rn_str("m");
    n = build(buf, sizeof(buf), API_BAD, 0, 1, &sg);
    send_frames(fd, buf, n);
    ok(n > 0 && is_closed(fd), "handler reporting a malformed body closes");
    close(fd);

    fd = connect_to(port);
    uint8_t trunc[] = {0, 0, 0, 9, 0, API_ECHO, 0, 0, 0, 0, 0, 1, 0x7f}; /* client id cut */
    send_frames(fd, trunc, sizeof(trunc));
    ok(is_closed(fd), "truncated request header closes");
    close(fd);

    n = build_echo(buf, sizeof(buf), 0, 55, &ok_id, 1);
    send_frames(keep, buf, n);
    ok(echoed(recv_resp(keep, resp, sizeof(resp), &arena, API_ECHO, 0, 55), &ok_id, 1),
       "the other connection kept working throughout");
    close(keep);
    rn_arena_free(&arena);
}

static void test_parked_disconnect(int port)
{
    uint8_t buf[256];
    int before = atomic_load(&cancels);
    int fd = connect_to(port);
    size_t n = build_park(buf, sizeof(buf), 1, 5000, true);
    send_frames(fd, buf, n);
    usleep(100 * 1000);
    close(fd);
    for (int i = 0; i < 100 && atomic_load(&cancels) == before; i++)
        usleep(10 * 1000);
    is(atomic_load(&cancels), before + 1, "parked request's cancel callback ran on disconnect");

    /* Parked without a cancel callback: completed after the client left. */
    int done = atomic_load(&orphan_completions);
    fd = connect_to(port);
    n = build_park(buf, sizeof(buf), 2, 200, false);
    send_frames(fd, buf, n);
    usleep(50 * 1000);
    close(fd);
    for (int i = 0; i < 100 && atomic_load(&orphan_completions) == done; i++)
        usleep(10 * 1000);
    is(atomic_load(&orphan_completions), done + 1, "orphaned request completed safely");

    /* Completed by closing: nothing is sent, and the request parked behind is cancelled. */
    int before_close = atomic_load(&cancels);
    fd = connect_to(port);
    n = build_park_as(buf, sizeof(buf), 3, 100, "close");
    n += build_park_as(buf + n, sizeof(buf) - n, 4, 5000, "cancel");
    send_frames(fd, buf, n);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    uint8_t b;
    ssize_t got = recv(fd, &b, 1, 0);
    ok(got == 0 || (got < 0 && errno == ECONNRESET),
       "rn_req_complete_close closes the connection without a response (recv %zd)", got);
    close(fd);
    for (int i = 0; i < 100 && atomic_load(&cancels) == before_close; i++)
        usleep(10 * 1000);
    is(atomic_load(&cancels), before_close + 1, "the request parked behind it was cancelled");
}

static void test_file_and_flex(int port)
{
    int fd = connect_to(port);
    uint8_t buf[512], resp[512];
    rn_arena_t arena;
    rn_arena_init(&arena, 0);

    /* Fetch v12: flexible, so tagged sections (memory) follow the file bytes too. */
    rn_fetch_request_t fr;
    rn_fetch_request_init(&fr);
    rn_fetch_topic_t *t = rn_fetch_topic_array_alloc(&arena, &fr.topics, 1);
    t->topic = rn_str("t");
    rn_fetch_partition_t *p = rn_fetch_partition_array_alloc(&arena, &t->partitions, 2);
    p[0].partition = 3;
    p[0].fetch_offset = 5;
    p[0].partition_max_bytes = 10;
    p[1].partition = 4;
    size_t n = build(buf, sizeof(buf), API_FILE, 12, 9, &fr);
    send_frames(fd, buf, n);
    rn_fetch_response_t *f = recv_resp(fd, resp, sizeof(resp), &arena, API_FILE, 12, 9);
    ok(f != NULL && f->responses.count == 1 && rn_str_eq_cstr(f->responses.items[0].topic, "t") &&
           f->responses.items[0].partitions.count == 2,
       "fetch response decodes: one topic, two partitions");
    if (f != NULL && f->responses.count == 1 && f->responses.items[0].partitions.count == 2) {
        const rn_fetch_partition_data_t *pd = f->responses.items[0].partitions.items;
        ok(pd[0].partition_index == 3 && pd[0].high_watermark == 20 && pd[0].records.len == 10 &&
               memcmp(pd[0].records.ptr, "56789abcde", 10) == 0,
           "file range sent as the first partition's records");
        ok(pd[1].partition_index == 4 && pd[1].high_watermark == 20 && pd[1].records.len == 3 &&
               memcmp(pd[1].records.ptr, "mem", 3) == 0,
           "memory-encoded fields after the file range intact");
    }
    for (int i = 0; i < 100 && atomic_load(&releases) == 0; i++)
        usleep(10 * 1000);
    is(atomic_load(&releases), 1, "file segment released after sending");
    is(atomic_load(&stray_releases), 0, "released with its own owner");

    /* DescribeGroups v5 is flexible: request header v2 (with an unknown tag), response
     * header v1, whose tag section is the byte after the correlation id. */
    rn_str_t abc = rn_str("abc");
    n = build_echo(buf, sizeof(buf), 5, 12, &abc, 1);
    send_frames(fd, buf, n);
    ok(echoed(recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 5, 12), &abc, 1),
       "unknown request tag skipped, body intact");
    is(resp[4], 0, "flexible response: header v1 adds an empty tag section");
    /* The same api's last non-flexible version: header v0, body right after the
     * correlation id (ThrottleTimeMs 0, then one group). */
    n = build_echo(buf, sizeof(buf), 4, 13, &abc, 1);
    send_frames(fd, buf, n);
    ok(echoed(recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 4, 13), &abc, 1) &&
           rn_load_be32(resp + 4) == 0 && rn_load_be32(resp + 8) == 1,
       "non-flexible version of the same api: header v0");
    rn_arena_free(&arena);
    close(fd);
}

/* Requests larger than one socket read, and requests arriving in pieces: the body is read
 * straight into the request's buffer (conn.c rx_fill) and must come out intact. 600 KiB of
 * group ids, in strings of at most an int16 length. */
enum { BIG = 600 << 10, NIDS = 20, IDLEN = BIG / NIDS };

static void test_large_and_split(int port)
{
    size_t cap = BIG + 4096;
    uint8_t *buf = rn_xmalloc(cap), *resp = rn_xmalloc(cap);
    uint8_t *body = rn_xmalloc(BIG);
    for (size_t i = 0; i < BIG; i++)
        body[i] = (uint8_t)(i * 131 + i / 251);
    rn_str_t ids[NIDS];
    for (int i = 0; i < NIDS; i++)
        ids[i] = (rn_str_t){(const char *)body + (size_t)i * IDLEN, IDLEN};
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    int fd = connect_to(port);
    size_t n = build_echo(buf, cap, 0, 21, ids, NIDS);
    send_frames(fd, buf, n);
    ok(n > BIG && echoed(recv_resp(fd, resp, cap, &arena, API_ECHO, 0, 21), ids, NIDS),
       "600 KiB request echoed intact (%zu bytes)", n);

    /* The same request in pieces split inside the size prefix and the body, the last piece
     * carrying a whole second request: both answered, in order. */
    n = build_echo(buf, cap, 0, 22, ids, NIDS);
    rn_str_t tail = rn_str("tail");
    size_t n2 = build_echo(buf + n, cap - n, 0, 23, &tail, 1);
    tally(buf, n + n2);
    size_t cuts[] = {0, 2, 7, 5000, BIG / 2, n + n2};
    for (size_t i = 0; i + 1 < sizeof(cuts) / sizeof(cuts[0]); i++) {
        send_all(fd, buf + cuts[i], cuts[i + 1] - cuts[i]);
        usleep(20000);
    }
    ok(echoed(recv_resp(fd, resp, cap, &arena, API_ECHO, 0, 22), ids, NIDS),
       "request sent in pieces echoed intact");
    ok(echoed(recv_resp(fd, resp, cap, &arena, API_ECHO, 0, 23), &tail, 1),
       "request following it in the same write answered next");
    close(fd);

    /* A client gone halfway through a large request: the connection is dropped, the server
     * goes on (the next connection is served). The half frame is never counted. */
    fd = connect_to(port);
    n = build_echo(buf, cap, 0, 24, ids, NIDS);
    send_all(fd, buf, n / 2);
    usleep(20000);
    close(fd);
    fd = connect_to(port);
    rn_str_t ok_id = rn_str("ok");
    n = build_echo(buf, cap, 0, 25, &ok_id, 1);
    send_frames(fd, buf, n);
    ok(echoed(recv_resp(fd, resp, cap, &arena, API_ECHO, 0, 25), &ok_id, 1),
       "server serves the next client after a truncated request");
    close(fd);
    rn_arena_free(&arena);
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
    size_t n = build_park(burst, sizeof(burst), 1, 30000, true); /* with a cancel callback */
    const rn_str_t x = rn_str("x");
    for (int i = 0; i < 299; i++)
        n += build_echo(burst + n, sizeof(burst) - n, 0, 2 + i, &x, 1);
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

static size_t build_auth(uint8_t *buf, size_t cap, int32_t corr, const char *tok)
{
    rn_sasl_authenticate_request_t a;
    rn_sasl_authenticate_request_init(&a);
    a.auth_bytes = (rn_bytes_t){(const uint8_t *)tok, (int32_t)strlen(tok)};
    return build(buf, cap, RN_API_SASL_AUTHENTICATE, 1, corr, &a);
}

static size_t build_handshake(uint8_t *buf, size_t cap, int16_t ver, int32_t corr)
{
    rn_sasl_handshake_request_t h;
    rn_sasl_handshake_request_init(&h);
    h.mechanism = rn_str("TEST");
    return build(buf, cap, RN_API_SASL_HANDSHAKE, ver, corr, &h);
}

/* The server's gate on a SASL listener: nothing but the SASL apis (and ApiVersions) before a
 * login, sessions that run out, bare tokens after a v0 handshake, a failed login closed
 * after its answer, the 512 KiB frame cap before a login. */
static void test_sasl_gate(int port)
{
    uint8_t buf[1024], resp[1024];
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_str_t who = rn_str("whoami"), alice = rn_str("User:alice"), bob = rn_str("User:bob");

    int fd = connect_to(port);
    size_t n = build_echo(buf, sizeof(buf), 0, 1, &who, 1);
    send_all(fd, buf, n); /* not tallied: another server */
    ok(is_closed(fd), "a request before the login closes the connection");
    close(fd);

    fd = connect_to(port);
    n = build_auth(buf, sizeof(buf), 1, "login:alice:0");
    send_all(fd, buf, n); /* not tallied: another server */
    rn_sasl_authenticate_response_t *ar =
        recv_resp(fd, resp, sizeof(resp), &arena, RN_API_SASL_AUTHENTICATE, 1, 1);
    ok(ar != NULL && ar->error_code == 0 && ar->auth_bytes.len == 2, "SaslAuthenticate answered");
    n = build_echo(buf, sizeof(buf), 0, 2, &who, 1);
    send_all(fd, buf, n); /* not tallied: another server */
    ok(echoed(recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 0, 2), &alice, 1),
       "after the login requests are served, as User:alice");
    close(fd);

    fd = connect_to(port);
    n = build_auth(buf, sizeof(buf), 1, "login:alice:300");
    send_all(fd, buf, n); /* not tallied: another server */
    recv_resp(fd, resp, sizeof(resp), &arena, RN_API_SASL_AUTHENTICATE, 1, 1);
    usleep(200 * 1000);
    n = build_auth(buf, sizeof(buf), 2, "login:alice:300"); /* re-authentication */
    send_all(fd, buf, n);                                   /* not tallied: another server */
    ar = recv_resp(fd, resp, sizeof(resp), &arena, RN_API_SASL_AUTHENTICATE, 1, 2);
    usleep(200 * 1000);
    n = build_echo(buf, sizeof(buf), 0, 3, &who, 1);
    send_all(fd, buf, n); /* not tallied: another server */
    ok(ar != NULL && echoed(recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 0, 3), &alice, 1),
       "a re-authenticated connection outlives its first session");
    usleep(400 * 1000);
    n = build_echo(buf, sizeof(buf), 0, 4, &who, 1);
    send_all(fd, buf, n); /* not tallied: another server */
    ok(is_closed(fd), "a request after the session ran out closes the connection");
    close(fd);

    fd = connect_to(port);
    n = build_handshake(buf, sizeof(buf), 0, 1);
    send_all(fd, buf, n); /* not tallied: another server */
    ok(recv_resp(fd, resp, sizeof(resp), &arena, RN_API_SASL_HANDSHAKE, 0, 1) != NULL,
       "SaslHandshake v0 answered");
    const char *tok = "login:bob:0";
    uint8_t raw[64];
    rn_store_be32(raw, (uint32_t)strlen(tok));
    memcpy(raw + 4, tok, strlen(tok));
    send_all(fd, raw, 4 + strlen(tok));
    uint8_t got[6];
    ok(recv_all(fd, got, 6) == 0 && rn_load_be32(got) == 2 && memcmp(got + 4, "ok", 2) == 0,
       "a bare token is answered bare (size and token)");
    n = build_echo(buf, sizeof(buf), 0, 2, &who, 1);
    send_all(fd, buf, n); /* not tallied: another server */
    ok(echoed(recv_resp(fd, resp, sizeof(resp), &arena, API_ECHO, 0, 2), &bob, 1),
       "then framed requests again, as User:bob");
    close(fd);

    fd = connect_to(port);
    n = build_handshake(buf, sizeof(buf), 0, 1);
    send_all(fd, buf, n); /* not tallied: another server */
    recv_resp(fd, resp, sizeof(resp), &arena, RN_API_SASL_HANDSHAKE, 0, 1);
    rn_store_be32(raw, 2);
    memcpy(raw + 4, "no", 2);
    send_all(fd, raw, 6);
    ok(is_closed(fd), "a refused bare token closes the connection without an answer");
    close(fd);

    fd = connect_to(port);
    n = build_auth(buf, sizeof(buf), 1, "wrong");
    send_all(fd, buf, n); /* not tallied: another server */
    ar = recv_resp(fd, resp, sizeof(resp), &arena, RN_API_SASL_AUTHENTICATE, 1, 1);
    ok(ar != NULL && ar->error_code == RN_KERR_SASL_AUTHENTICATION_FAILED && is_closed(fd),
       "a failed login is answered, then the connection closes");
    close(fd);

    fd = connect_to(port);
    uint8_t big[4];
    rn_store_be32(big, 600000);
    send_all(fd, big, 4);
    ok(is_closed(fd), "a frame over 512 KiB before the login closes the connection");
    close(fd);
    rn_arena_free(&arena);
}

int main(void)
{
    char dir[256];
    tu_tmpdir(dir, "server");
    file_fd = open(tu_path(dir, "file"), O_RDWR | O_CREAT | O_EXCL, 0600);
    tu_rmtree(dir); /* the open descriptor is all the test needs */
    if (write(file_fd, "0123456789abcdefghij", 20) != 20)
        diag("write failed");

    evthread_use_pthreads();
    base = event_base_new();
    rn_server_opts_t opts = {.host = "127.0.0.1",
                             .port = 0,
                             .max_request_bytes = 1 << 20,
                             .idle_ms = 0,
                             .apis = apis,
                             .n_apis = sizeof(apis) / sizeof(apis[0]),
                             .file_release = file_release};
    char err[256];
    rn_server_t *srv = rn_server_new(base, &opts, err, sizeof(err));
    ok(srv != NULL, "server starts: %s", srv ? "" : err);
    if (srv == NULL)
        return done_testing();
    int port = rn_server_port(srv);
    ok(port > 0, "ephemeral port %d", port);
    int16_t lo, hi;
    ok(rn_rpc_served_range(API_FILE, &lo, &hi) && lo >= 0 && hi >= 12 &&
           !rn_rpc_served_range(RN_API_METADATA, &lo, &hi),
       "served versions follow the table (Fetch from its serve= range, Metadata not served)");
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
    /* Last: its table also serves the SASL apis (the served versions are process-wide). */
    rn_server_listen_t sasl_listen = {"SASL_PLAINTEXT", "127.0.0.1", 0, NULL, true};
    rn_server_opts_t sopts = opts;
    sopts.listens = &sasl_listen;
    sopts.n_listens = 1;
    sopts.apis = sasl_apis;
    sopts.n_apis = sizeof(sasl_apis) / sizeof(sasl_apis[0]);
    rn_server_t *sasl_srv = NULL;
    pthread_t thr;
    pthread_create(&thr, NULL, loop_main, NULL);

    test_echo_and_order(port);
    test_principal(port);
    test_bad_input(port);
    test_parked_disconnect(port);
    test_file_and_flex(port);
    test_large_and_split(port);
    if (limited != NULL)
        test_limits();
    event_base_loopbreak(base);
    pthread_join(thr, NULL);
    sasl_srv = rn_server_new(base, &sopts, err, sizeof(err));
    ok(sasl_srv != NULL, "a server with a SASL listener starts: %s", sasl_srv ? "" : err);
    pthread_create(&thr, NULL, loop_main, NULL);
    if (sasl_srv != NULL)
        test_sasl_gate(rn_server_port(sasl_srv));

    event_base_loopbreak(base);
    pthread_join(thr, NULL);
    const rn_server_metrics_t *m = rn_server_metrics(srv);
    int16_t keys[] = {API_ECHO, API_PARK, API_NORESP, API_BAD, API_FILE, RN_API_METADATA, 77};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        is(m->requests[keys[i]], expected[keys[i]], "api key %d requests counted", keys[i]);
    /* Unsupported version and truncated header; SyncGroup's handler; the unserved keys. */
    is(m->errors[API_ECHO], 2, "echo errors counted");
    is(m->errors[API_BAD], 1, "malformed-body errors counted");
    ok(m->errors[RN_API_METADATA] == 1 && m->errors[77] == 1, "unserved api keys counted");
    is(m->errors[API_PARK] + m->errors[API_NORESP] + m->errors[API_FILE], 0,
       "no error for well-formed requests");
    /* 3 framing errors + 5 bad requests in test_bad_input. */
    is(m->connections_closed_bad, 8, "bad connections counted");
    is(m->requests_parked, 0, "no request left parked");
    ok(m->bytes_in > BIG && m->bytes_out > BIG, "bytes counted (%llu in, %llu out)",
       (unsigned long long)m->bytes_in, (unsigned long long)m->bytes_out);
    rn_server_free(srv);
    rn_server_free(limited);
    rn_server_free(sasl_srv);
    event_base_free(base);
    close(file_fd);
    return done_testing();
}
