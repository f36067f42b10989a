/* Tests for the asynchronous peer client (client/rn_peer.h) on a libevent loop, against a
 * scripted broker running in threads: the handshake and its v0 fallback, pipelining with
 * responses matched by correlation id, a broker that hangs up mid-response or answers out
 * of step, request timeouts (in flight and queued), connection refused until the broker
 * appears, an oversized response frame, the request caps, host names through evdns, and
 * the callback rule when the peer is freed (also from inside a callback). */
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_peer.h"
#include "rn_rpc.h"
#include "rn_str.h"
#include "unit/testutil.h"
#include "tap.h"
#include "unit/client/fake_broker.h"

#include <fcntl.h>
#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ---- the scripted broker ---- */

enum mode {
    MODE_NORMAL,   /* answer at once */
    MODE_BATCH,    /* hold Metadata requests until batch_n have arrived, answer them together */
    MODE_SILENT,   /* never answer Metadata */
    MODE_HANGUP,   /* after 3 Metadata requests: answer one, half of the next, close */
    MODE_BAD_CORR, /* answer with the wrong correlation id */
    MODE_HUGE,     /* answer with a frame claiming 1 GiB */
};

static atomic_int mode = MODE_NORMAL;
static atomic_int old_broker;     /* ApiVersions v1+ gets UNSUPPORTED_VERSION */
static atomic_int av_seen[8];     /* ApiVersions requests per version */
static atomic_int max_unanswered; /* most Metadata requests held at once */
static atomic_int batch_n = 50;
static int port;

static void send_writer(int fd, rn_proto_writer_t *w, size_t cut)
{
    static _Thread_local uint8_t out[1 << 17];
    long n = rn_proto_writer_copy(w, out, sizeof out);
    if (n > 0 && cut > 0 && (size_t)n > cut)
        n = (long)cut;
    if (n > 0 && write(fd, out, (size_t)n) != n)
        return;
}

static void answer_api_versions(const rn_rpc_request_t *req, rn_arena_t *arena,
                                rn_proto_writer_t *w)
{
    av_seen[req->api_version & 7]++;
    rn_api_versions_response_t av;
    rn_api_versions_response_init(&av);
    rn_api_versions_response_key_t *k =
        rn_api_versions_response_key_array_alloc(arena, &av.api_keys, 2);
    k[0] = (rn_api_versions_response_key_t){RN_API_METADATA, 1, 12};
    k[1] = (rn_api_versions_response_key_t){RN_API_API_VERSIONS, 0, old_broker ? 0 : 3};
    if (old_broker && req->api_version > 0) {
        av.error_code = RN_KERR_UNSUPPORTED_VERSION;
        rn_rpc_encode_response(w, RN_API_API_VERSIONS, 0, req->correlation_id, &av);
    } else {
        rn_rpc_encode_response(w, RN_API_API_VERSIONS, req->api_version, req->correlation_id, &av);
    }
}

/* Metadata echoing the requested topic's name, so the client can tell answers apart. */
static void answer_metadata(const rn_rpc_request_t *req, rn_arena_t *arena, rn_proto_writer_t *w)
{
    const rn_metadata_request_t *mreq = req->body;
    rn_metadata_response_t md;
    rn_metadata_response_init(&md);
    md.controller_id = 7;
    md.cluster_id = rn_str("fake-cluster");
    md.brokers.count = 0;
    md.topics.count = 0;
    if (mreq->topics.count > 0) {
        rn_metadata_response_topic_t *t =
            rn_metadata_response_topic_array_alloc(arena, &md.topics, 1);
        t->name = mreq->topics.items[0].name;
        t->partitions.count = 0;
    }
    int32_t corr = req->correlation_id + (mode == MODE_BAD_CORR ? 1 : 0);
    rn_rpc_encode_response(w, RN_API_METADATA, req->api_version, corr, &md);
}

typedef struct held {
    uint8_t *frame[256];
    uint32_t len[256];
    int n;
} held_t;

/* Answer the held Metadata requests in order, in one write; cut > 0 truncates it. */
static void answer_held(int fd, held_t *h, int upto, size_t cut)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    for (int i = 0; i < upto; i++) {
        rn_rpc_request_t req;
        if (rn_rpc_decode_request(h->frame[i], h->len[i], &arena, RN_RPC_ANY_VERSION, &req) == 0)
            answer_metadata(&req, &arena, &w);
    }
    send_writer(fd, &w, cut);
    for (int i = 0; i < h->n; i++)
        rn_free(h->frame[i]);
    h->n = 0;
    rn_proto_writer_free(&w);
    rn_arena_free(&arena);
}

/* What to do with a Metadata request in the current mode; false to hang up. */
static bool on_metadata(int fd, held_t *h, uint8_t *frame, uint32_t n, const rn_rpc_request_t *req,
                        rn_arena_t *arena, rn_proto_writer_t *w)
{
    switch (mode) {
    case MODE_SILENT: return true;
    case MODE_HUGE: {
        static const uint8_t huge[] = {0x40, 0, 0, 0, 0, 0, 0, 1};
        return write(fd, huge, sizeof huge) == (ssize_t)sizeof huge;
    }
    case MODE_BATCH:
    case MODE_HANGUP:
        h->frame[h->n] = rn_xmalloc(n);
        memcpy(h->frame[h->n], frame, n);
        h->len[h->n++] = n;
        if (h->n > max_unanswered)
            max_unanswered = h->n;
        if (mode == MODE_BATCH && h->n >= batch_n)
            answer_held(fd, h, h->n, 0);
        if (mode == MODE_HANGUP && h->n == 3) {
            /* The first answer whole, the second cut after 6 bytes, then close. */
            answer_held(fd, h, 1, 0);
            return false;
        }
        return true;
    default:
        rn_proto_writer_reset(w);
        answer_metadata(req, arena, w);
        send_writer(fd, w, 0);
        return true;
    }
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    held_t held = {.n = 0};
    uint8_t *frame = NULL;
    for (;;) {
        uint32_t n;
        if (fb_read_frame(fd, &frame, &n) != 0)
            break;
        rn_rpc_request_t req;
        if (rn_rpc_decode_request(frame, n, &arena, RN_RPC_ANY_VERSION, &req) != RN_RPC_OK)
            break;
        if (req.api_key == RN_API_API_VERSIONS) {
            rn_proto_writer_reset(&w);
            answer_api_versions(&req, &arena, &w);
            send_writer(fd, &w, 0);
        } else if (!on_metadata(fd, &held, frame, n, &req, &arena, &w)) {
            if (mode == MODE_HANGUP) {
                static const uint8_t partial[] = {0, 0, 0, 40, 0, 0};
                if (write(fd, partial, sizeof partial) < 0)
                    break;
            }
            break;
        }
        rn_arena_reset(&arena);
    }
    for (int i = 0; i < held.n; i++)
        rn_free(held.frame[i]);
    rn_free(frame);
    rn_proto_writer_free(&w);
    rn_arena_free(&arena);
    close(fd);
    return NULL;
}

/* Listen on 127.0.0.1:want (0: any port); returns the port, or -1. */
static int start_server(int want)
{
    return fb_listen(want, serve_conn);
}

/* A port nothing listens on (bound, then closed). */
static int unused_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

/* ---- the client side ---- */

static struct event_base *base;
static int ncalls; /* callbacks run, across all results */

typedef struct result {
    int calls;
    int status;
    int order; /* value of ncalls when it ran */
    char topic[32];
    rn_peer_t *free_peer; /* when set, the callback frees this peer */
    rn_peer_t *send_peer; /* when set, the callback sends to this peer... */
    int send_st;          /* ...and keeps what rn_peer_send returned */
} result_t;

static int send_md(rn_peer_t *peer, int16_t version, const char *topic, result_t *r);

static void on_result(void *arg, int status, const void *response)
{
    result_t *r = arg;
    r->calls++;
    r->status = status;
    r->order = ncalls++;
    const rn_metadata_response_t *md = response;
    if (md != NULL && md->topics.count == 1)
        snprintf(r->topic, sizeof r->topic, "%.*s", RN_STR_ARGS(md->topics.items[0].name));
    if (r->send_peer != NULL) {
        static result_t scratch;
        r->send_st = send_md(r->send_peer, 12, "from-callback", &scratch);
    }
    if (r->free_peer != NULL) {
        rn_peer_t *peer = r->free_peer;
        r->free_peer = NULL;
        rn_peer_free(peer);
    }
}

/* Metadata for one topic; the request lives in a scratch arena freed before the answer. */
static int send_md(rn_peer_t *peer, int16_t version, const char *topic, result_t *r)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_metadata_request_t req;
    rn_metadata_request_init(&req);
    rn_metadata_request_topic_t *t = rn_metadata_request_topic_array_alloc(&arena, &req.topics, 1);
    t->name = rn_str(rn_str_arena_dup(&arena, rn_str(topic)));
    memset(r, 0, sizeof *r);
    r->status = 99;
    int st = rn_peer_send(peer, RN_API_METADATA, version, &req, on_result, r);
    rn_arena_free(&arena);
    return st;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the loop until *count reaches want or ms pass (a 5 ms tick keeps it turning). */
static void run_until(const int *count, int want, int ms)
{
    int64_t end = now_ms() + ms;
    while (*count < want && now_ms() < end)
        event_base_loop(base, EVLOOP_ONCE);
}

static void run_for(int ms)
{
    static const int never = 0;
    run_until(&never, 1, ms);
}

static rn_peer_t *new_peer(const char *host, int p, int request_timeout_ms)
{
    rn_peer_opts_t opts = {
        .host = host, .port = p, .node_id = 7, .request_timeout_ms = request_timeout_ms};
    return rn_peer_new(base, &opts);
}

static void test_handshake(void)
{
    rn_peer_t *peer = new_peer("localhost", port, 2000);
    ok(peer != NULL, "a peer for localhost");
    is(rn_peer_version(peer, RN_API_METADATA, -1), -1, "no versions before the handshake");
    is(rn_peer_state(peer), RN_PEER_IDLE, "idle until the first send");
    result_t r;
    int base_calls = ncalls;
    is(send_md(peer, 12, "alpha", &r), 0, "send while not connected: queued");
    is(rn_peer_state(peer), RN_PEER_CONNECTING, "the send started connecting");
    is(r.calls, 0, "no callback from inside rn_peer_send");
    run_until(&ncalls, base_calls + 1, 3000);
    is(r.status, RN_PEER_OK, "queued request answered after the handshake");
    is_str(r.topic, "alpha", "its own answer");
    is(av_seen[3], 1, "handshake with ApiVersions v3");
    is(rn_peer_state(peer), RN_PEER_READY, "ready");
    is(rn_peer_version(peer, RN_API_METADATA, -1), 12, "Metadata: highest common is 12");
    is(rn_peer_version(peer, RN_API_METADATA, 9), 9, "capped by what we support");
    is(rn_peer_version(peer, RN_API_METADATA, 0), -1, "below the peer's minimum: none");
    is(rn_peer_version(peer, RN_API_PRODUCE, -1), -1, "an api the peer does not list: none");
    is(send_md(peer, 0, "x", &r), RN_EUNSUPPORTED, "a version the peer does not serve is refused");
    rn_peer_stats_t stats;
    rn_peer_stats(peer, &stats);
    ok(stats.connects == 1 && stats.handshakes == 1 && stats.sent == 1 && stats.answered == 1,
       "stats: 1 connect, 1 handshake, 1 sent, 1 answered");
    rn_peer_free(peer);

    old_broker = 1;
    peer = new_peer("127.0.0.1", port, 2000);
    base_calls = ncalls;
    is(send_md(peer, 7, "beta", &r), 0, "send to a broker without ApiVersions v3");
    run_until(&ncalls, base_calls + 1, 3000);
    ok(r.status == RN_PEER_OK && strcmp(r.topic, "beta") == 0, "answered after the fallback");
    ok(av_seen[3] == 2 && av_seen[0] == 1, "asked v3, then v0 (v3 %d, v0 %d)", (int)av_seen[3],
       (int)av_seen[0]);
    rn_peer_free(peer);
    old_broker = 0;
}

static void test_pipeline(void)
{
    enum { N = 50 };
    static result_t r[N];
    rn_peer_t *peer = new_peer("127.0.0.1", port, 3000);
    mode = MODE_BATCH;
    batch_n = N;
    max_unanswered = 0;
    int base_calls = ncalls;
    int accepted = 0;
    for (int i = 0; i < N; i++) {
        char topic[16];
        snprintf(topic, sizeof topic, "t%d", i);
        accepted += send_md(peer, 12, topic, &r[i]) == 0;
    }
    is(accepted, N, "%d requests accepted", N);
    run_until(&ncalls, base_calls + N, 5000);
    is(max_unanswered, N, "the broker held all %d before answering: they were pipelined", N);
    int good = 0;
    for (int i = 0; i < N; i++) {
        char topic[16];
        snprintf(topic, sizeof topic, "t%d", i);
        good += r[i].calls == 1 && r[i].status == RN_PEER_OK && strcmp(r[i].topic, topic) == 0 &&
                r[i].order == base_calls + i;
    }
    is(good, N, "each answered once, with its own response, in order");
    is(rn_peer_outstanding(peer), 0, "nothing outstanding");

    /* A response whose correlation id is not the oldest in flight: the stream is out of
     * step, so the connection goes and the peer reconnects for the next request. */
    mode = MODE_BAD_CORR;
    base_calls = ncalls;
    for (int i = 0; i < 3; i++)
        send_md(peer, 12, "c", &r[i]);
    run_until(&ncalls, base_calls + 3, 3000);
    ok(r[0].status == RN_PEER_BAD_RESPONSE && r[1].status == RN_PEER_DISCONNECTED &&
           r[2].status == RN_PEER_DISCONNECTED,
       "out of step: the oldest gets BAD_RESPONSE, the rest DISCONNECTED (%d %d %d)", r[0].status,
       r[1].status, r[2].status);
    ok(strstr(rn_peer_last_error(peer), "correlation id") != NULL, "error: %s",
       rn_peer_last_error(peer));
    mode = MODE_NORMAL;
    base_calls = ncalls;
    send_md(peer, 12, "again", &r[0]);
    run_until(&ncalls, base_calls + 1, 3000);
    is(r[0].status, RN_PEER_OK, "the next request reconnects and is answered");
    rn_peer_stats_t stats;
    rn_peer_stats(peer, &stats);
    is(stats.handshakes, 2, "two handshakes");
    rn_peer_free(peer);
}

static void test_hangup(void)
{
    result_t r[3];
    rn_peer_t *peer = new_peer("127.0.0.1", port, 3000);
    mode = MODE_HANGUP;
    int base_calls = ncalls;
    for (int i = 0; i < 3; i++)
        send_md(peer, 12, i == 0 ? "first" : "other", &r[i]);
    run_until(&ncalls, base_calls + 3, 3000);
    ok(r[0].status == RN_PEER_OK && strcmp(r[0].topic, "first") == 0,
       "the response before the hang-up is delivered");
    ok(r[1].status == RN_PEER_DISCONNECTED && r[2].status == RN_PEER_DISCONNECTED,
       "the half-sent one and the one after fail DISCONNECTED (%d, %d)", r[1].status, r[2].status);
    ok(r[0].calls == 1 && r[1].calls == 1 && r[2].calls == 1, "each callback once");
    ok(rn_peer_state(peer) == RN_PEER_IDLE, "idle: nothing is queued, so no reconnect yet");
    mode = MODE_NORMAL;
    base_calls = ncalls;
    send_md(peer, 12, "after", &r[0]);
    run_until(&ncalls, base_calls + 1, 3000);
    ok(r[0].status == RN_PEER_OK && strcmp(r[0].topic, "after") == 0, "reconnects for the next");
    rn_peer_free(peer);
}

static void test_timeout(void)
{
    result_t r;
    rn_peer_t *peer = new_peer("127.0.0.1", port, 300);
    mode = MODE_SILENT;
    int base_calls = ncalls;
    int64_t t0 = now_ms();
    send_md(peer, 12, "slow", &r);
    run_until(&ncalls, base_calls + 1, 3000);
    int64_t took = now_ms() - t0;
    is(r.status, RN_PEER_TIMEOUT, "no answer: TIMEOUT");
    ok(took >= 290 && took < 2000, "after the 300 ms request timeout (%lld ms)", (long long)took);
    ok(strstr(rn_peer_last_error(peer), "no response within 300 ms") != NULL,
       "the connection was closed: %s", rn_peer_last_error(peer));
    mode = MODE_NORMAL;
    rn_peer_free(peer);

    /* Queued (never written: the port refuses) requests time out too. */
    rn_peer_opts_t opts = {.host = "127.0.0.1",
                           .port = unused_port(),
                           .request_timeout_ms = 200,
                           .backoff_initial_ms = 1000};
    peer = rn_peer_new(base, &opts);
    base_calls = ncalls;
    send_md(peer, 12, "queued", &r);
    run_until(&ncalls, base_calls + 1, 3000);
    is(r.status, RN_PEER_TIMEOUT, "a queued request times out");
    ok(strstr(rn_peer_last_error(peer), "refused") != NULL, "while connecting failed: %s",
       rn_peer_last_error(peer));
    rn_peer_free(peer);
}

static void test_refused_then_up(void)
{
    int p = unused_port();
    rn_peer_opts_t opts = {.host = "127.0.0.1",
                           .port = p,
                           .request_timeout_ms = 5000,
                           .backoff_initial_ms = 50,
                           .backoff_max_ms = 200,
                           .backoff_jitter_pct = 20,
                           .jitter_seed = 12345};
    rn_peer_t *peer = rn_peer_new(base, &opts);
    result_t r;
    int base_calls = ncalls;
    is(send_md(peer, 12, "late", &r), 0, "send to a port nobody listens on");
    run_for(500);
    rn_peer_stats_t stats;
    rn_peer_stats(peer, &stats);
    is(r.calls, 0, "the request waits (queued) while connecting fails");
    ok(stats.connects >= 2 && stats.connects <= 8,
       "retried with backoff: %llu attempts in 500 ms (50, 100, 200, 200... ms +-20%%)",
       (unsigned long long)stats.connects);
    ok(strstr(rn_peer_last_error(peer), "Connection refused") != NULL, "error: %s",
       rn_peer_last_error(peer));
    /* The newest attempt may still be under way (its refusal not read yet). */
    bool connecting = rn_peer_state(peer) == RN_PEER_CONNECTING;
    ok(stats.refused == stats.connects || (connecting && stats.refused + 1 == stats.connects),
       "each attempt counted as refused (%llu of %llu)", (unsigned long long)stats.refused,
       (unsigned long long)stats.connects);
    is(start_server(p), p, "the broker appears on that port");
    run_until(&ncalls, base_calls + 1, 3000);
    ok(r.status == RN_PEER_OK && strcmp(r.topic, "late") == 0, "then the request is answered");
    rn_peer_stats(peer, &stats);
    is(stats.handshakes, 1, "one handshake");
    ok(stats.refused + 1 == stats.connects,
       "every attempt but the one that worked is counted as refused (%llu of %llu)",
       (unsigned long long)stats.refused, (unsigned long long)stats.connects);
    rn_peer_free(peer);
}

static atomic_size_t biggest_alloc;

static void *count_malloc(size_t n)
{
    if (n > biggest_alloc)
        biggest_alloc = n;
    return malloc(n);
}

static void *count_realloc(void *p, size_t n)
{
    if (n > biggest_alloc)
        biggest_alloc = n;
    return realloc(p, n);
}

static void test_too_big(void)
{
    static const rn_allocator_t counting = {count_malloc, count_realloc, free};
    rn_peer_opts_t opts = {
        .host = "127.0.0.1", .port = port, .max_response_bytes = (size_t)1 << 20};
    rn_peer_t *peer = rn_peer_new(base, &opts);
    result_t r[2];
    mode = MODE_HUGE;
    rn_alloc_set(&counting);
    biggest_alloc = 0;
    int base_calls = ncalls;
    send_md(peer, 12, "a", &r[0]);
    send_md(peer, 12, "b", &r[1]);
    run_until(&ncalls, base_calls + 2, 3000);
    rn_alloc_set(NULL);
    ok(r[0].status == RN_PEER_TOO_BIG && r[1].status == RN_PEER_DISCONNECTED,
       "a 1 GiB frame: TOO_BIG for the oldest, DISCONNECTED after (%d, %d)", r[0].status,
       r[1].status);
    ok(biggest_alloc < ((size_t)1 << 20), "refused before allocating (largest %zu bytes)",
       (size_t)biggest_alloc);
    ok(strstr(rn_peer_last_error(peer), "limit") != NULL, "error: %s", rn_peer_last_error(peer));
    mode = MODE_NORMAL;
    rn_peer_free(peer);
}

static void test_caps(void)
{
    rn_peer_opts_t opts = {
        .host = "127.0.0.1", .port = port, .max_requests = 4, .max_request_bytes = 400};
    rn_peer_t *peer = rn_peer_new(base, &opts);
    mode = MODE_SILENT;
    result_t r[6];
    int accepted = 0;
    for (int i = 0; i < 4; i++)
        accepted += send_md(peer, 12, "t", &r[i]) == 0;
    is(accepted, 4, "4 requests accepted");
    is(send_md(peer, 12, "t", &r[4]), RN_EFULL, "the 5th: RN_EFULL (max_requests)");
    is(rn_peer_outstanding(peer), 4, "4 outstanding");
    rn_peer_free(peer);

    peer = rn_peer_new(base, &opts);
    char big[300];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    is(send_md(peer, 12, big, &r[0]), 0, "a 300-byte topic name fits 400 bytes");
    is(send_md(peer, 12, big, &r[1]), RN_EFULL, "a second one does not: RN_EFULL (bytes)");
    is(send_md(peer, 13, "t", &r[2]), RN_EUNSUPPORTED, "a version our codec lacks");
    rn_produce_request_t produce;
    rn_produce_request_init(&produce);
    produce.acks = 0;
    memset(&r[3], 0, sizeof r[3]);
    is(rn_peer_send(peer, RN_API_PRODUCE, 9, &produce, on_result, &r[3]), RN_EINVAL,
       "Produce with acks 0 (no response) is refused");
    rn_peer_free(peer);
    ok(r[1].calls == 0 && r[2].calls == 0 && r[3].calls == 0, "refused sends never call back");
    mode = MODE_NORMAL;
}

static void test_free(void)
{
    mode = MODE_SILENT;
    result_t r[5];
    rn_peer_t *peer = new_peer("127.0.0.1", port, 5000);
    int base_calls = ncalls;
    send_md(peer, 12, "a", &r[0]);
    send_md(peer, 12, "b", &r[1]);
    rn_peer_stats_t stats;
    for (int i = 0; i < 300 && rn_peer_state(peer) != RN_PEER_READY; i++)
        run_for(10);
    send_md(peer, 12, "c", &r[2]);
    run_for(50);
    rn_peer_stats(peer, &stats);
    is(stats.sent, 3, "3 requests in flight");

    rn_peer_t *refused = new_peer("127.0.0.1", unused_port(), 5000);
    send_md(refused, 12, "d", &r[3]);
    send_md(refused, 12, "e", &r[4]);
    r[1].send_peer = peer;
    rn_peer_free(peer);
    rn_peer_free(refused);
    int cancelled = 0;
    for (int i = 0; i < 5; i++)
        cancelled += r[i].calls == 1 && r[i].status == RN_PEER_CANCELLED;
    is(cancelled, 5, "in flight and queued: each cancelled once, before free returned");
    is(ncalls, base_calls + 5, "5 callbacks");
    is(r[1].send_st, RN_ECANCELED, "a send from a cancelled callback: RN_ECANCELED");
    run_for(100);
    is(ncalls, base_calls + 5, "none after free returned");

    /* Freed from inside a callback: the others are cancelled then and there. */
    peer = new_peer("127.0.0.1", port, 200);
    base_calls = ncalls;
    for (int i = 0; i < 3; i++)
        send_md(peer, 12, "t", &r[i]);
    r[0].free_peer = peer;
    run_until(&ncalls, base_calls + 3, 3000);
    ok(r[0].status == RN_PEER_TIMEOUT && r[1].status == RN_PEER_CANCELLED &&
           r[2].status == RN_PEER_CANCELLED,
       "the first times out and frees the peer; the others are cancelled (%d %d %d)", r[0].status,
       r[1].status, r[2].status);
    ok(r[1].order > r[0].order && r[2].order > r[1].order, "in submission order");
    run_for(100);
    is(ncalls, base_calls + 3, "each once, none later");
    mode = MODE_NORMAL;
}

static void test_names(void)
{
    rn_peer_opts_t opts = {.host = "broker-one.test", .port = port};
    ok(rn_peer_new(base, &opts) == NULL, "a host name without a resolver is refused");

    char dir[256];
    tu_tmpdir(dir, "peer-hosts");
    const char *path = tu_path(dir, "hosts");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    static const char hosts[] = "127.0.0.1 broker-one.test\n";
    ok(fd >= 0 && write(fd, hosts, sizeof hosts - 1) == (ssize_t)(sizeof hosts - 1),
       "a hosts file");
    close(fd);
    struct evdns_base *dns = evdns_base_new(base, 0);
    evdns_base_load_hosts(dns, path);
    tu_rmtree(dir);
    opts.dns = dns;
    rn_peer_t *peer = rn_peer_new(base, &opts);
    ok(peer != NULL, "with evdns, a host name is accepted");
    result_t r;
    int base_calls = ncalls;
    send_md(peer, 12, "named", &r);
    run_until(&ncalls, base_calls + 1, 3000);
    ok(r.status == RN_PEER_OK && strcmp(r.topic, "named") == 0, "resolved off the loop (%d: %s)",
       r.status, rn_peer_last_error(peer));
    rn_peer_free(peer);
    evdns_base_free(dns, 0);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as runneld does: the peer and the fake broker write to
                               * sockets the other side may have closed */
    port = start_server(0);
    if (port < 0) {
        printf("1..0 # SKIP cannot listen on 127.0.0.1\n");
        return 0;
    }
    base = event_base_new();
    struct event *ticker = event_new(base, -1, EV_PERSIST, tick, NULL);
    struct timeval tv = {0, 5000};
    event_add(ticker, &tv);
    test_handshake();
    test_pipeline();
    test_hangup();
    test_timeout();
    test_refused_then_up();
    test_too_big();
    test_caps();
    test_free();
    test_names();
    event_free(ticker);
    event_base_free(base);
    return done_testing();
}
