/* Tests for the synchronous client (client/rn_conn.h) against a scripted in-process broker:
 * ApiVersions negotiation (the v0-layout fallback and the version picked per api),
 * correlation-id checks, timeouts, a broker that hangs up, connection refused, bootstrap
 * list parsing, metadata routing to a node, and FindCoordinator retries. */
#include "rn_alloc.h"
#include "rn_conn.h"
#include "rn_kerr.h"
#include "rn_rpc.h"
#include "rn_str.h"
#include "tap.h"
#include "unit/client/fake_broker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_NORMAL, MODE_BAD_CORR, MODE_SILENT, MODE_HANGUP };

static atomic_int mode = MODE_NORMAL;
static atomic_int api_versions_seen[8]; /* ApiVersions requests per version */
static atomic_int find_coordinator_seen;
static int port;

static void send_writer(int fd, rn_proto_writer_t *w)
{
    static uint8_t out[1 << 16];
    long n = rn_proto_writer_copy(w, out, sizeof out);
    if (n > 0 && write(fd, out, (size_t)n) != n)
        return;
}

/* What the fake broker serves: a narrow, realistic subset. */
static void fill_versions(rn_api_versions_response_t *av, rn_arena_t *arena)
{
    rn_api_versions_response_key_t *k =
        rn_api_versions_response_key_array_alloc(arena, &av->api_keys, 3);
    k[0] = (rn_api_versions_response_key_t){RN_API_METADATA, 1, 7};
    k[1] = (rn_api_versions_response_key_t){RN_API_FIND_COORDINATOR, 0, 2};
    k[2] = (rn_api_versions_response_key_t){RN_API_API_VERSIONS, 0, 3};
}

static void answer(int fd, const rn_rpc_request_t *req, rn_arena_t *arena, rn_proto_writer_t *w)
{
    int32_t corr = req->correlation_id;
    if (mode == MODE_BAD_CORR)
        corr++;
    switch (req->api_key) {
    case RN_API_API_VERSIONS: {
        api_versions_seen[req->api_version & 7]++;
        rn_api_versions_response_t av;
        rn_api_versions_response_init(&av);
        fill_versions(&av, arena);
        if (req->api_version > 3) {
            /* Kafka's rule: the v0 layout with UNSUPPORTED_VERSION and our list. */
            av.error_code = RN_KERR_UNSUPPORTED_VERSION;
            rn_rpc_encode_response(w, RN_API_API_VERSIONS, 0, corr, &av);
        } else {
            rn_rpc_encode_response(w, RN_API_API_VERSIONS, req->api_version, corr, &av);
        }
        break;
    }
    case RN_API_METADATA: {
        rn_metadata_response_t md;
        rn_metadata_response_init(&md);
        rn_metadata_response_broker_t *b =
            rn_metadata_response_broker_array_alloc(arena, &md.brokers, 1);
        b->node_id = 7;
        b->host = rn_str("127.0.0.1");
        b->port = port;
        md.controller_id = 7;
        md.cluster_id = rn_str("fake-cluster");
        md.topics.count = 0;
        rn_rpc_encode_response(w, RN_API_METADATA, req->api_version, corr, &md);
        break;
    }
    case RN_API_FIND_COORDINATOR: {
        rn_find_coordinator_response_t fc;
        rn_find_coordinator_response_init(&fc);
        /* The first answer says the coordinator is still loading. */
        if (find_coordinator_seen++ == 0) {
            fc.error_code = RN_KERR_COORDINATOR_NOT_AVAILABLE;
            fc.node_id = -1;
            fc.host = rn_str("");
            fc.port = -1;
        } else {
            fc.node_id = 7;
            fc.host = rn_str("127.0.0.1");
            fc.port = port;
        }
        rn_rpc_encode_response(w, RN_API_FIND_COORDINATOR, req->api_version, corr, &fc);
        break;
    }
    default: return;
    }
    send_writer(fd, w);
}

static void *serve_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    uint8_t *frame = NULL;
    for (;;) {
        uint32_t n;
        if (fb_read_frame(fd, &frame, &n) != 0)
            break;
        rn_rpc_request_t req;
        if (rn_rpc_decode_request(frame, n, &arena, RN_RPC_ANY_VERSION, &req) != RN_RPC_OK)
            break;
        if (req.api_key != RN_API_API_VERSIONS && mode == MODE_SILENT)
            continue; /* never answer */
        if (req.api_key != RN_API_API_VERSIONS && mode == MODE_HANGUP) {
            static const uint8_t partial[] = {0, 0, 0, 40, 0, 0};
            if (write(fd, partial, sizeof partial) < 0)
                break;
            break;
        }
        rn_proto_writer_reset(&w);
        answer(fd, &req, &arena, &w);
        rn_arena_reset(&arena);
    }
    rn_free(frame);
    rn_proto_writer_free(&w);
    rn_arena_free(&arena);
    close(fd);
    return NULL;
}

static int start_server(void)
{
    port = fb_listen(0, serve_conn);
    return port > 0 ? 0 : -1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_negotiation(void)
{
    rn_conn_t conn;
    rn_conn_init(&conn);
    int st = rn_conn_open(&conn, "127.0.0.1", port, 2000);
    is(st, 0, "open: %s", rn_conn_error(&conn));
    is(api_versions_seen[4], 1, "asked ApiVersions v4 first (the newest we define)");
    is(api_versions_seen[3], 1, "then v3, the highest the broker listed in its v0 answer");
    is(rn_conn_version(&conn, RN_API_METADATA, -1), 7, "Metadata: the broker's max (7) < ours");
    is(rn_conn_version(&conn, RN_API_METADATA, 4), 4, "a cap below the common range wins");
    is(rn_conn_version(&conn, RN_API_METADATA, 0), -1, "a cap under the broker's min: none");
    is(rn_conn_version(&conn, RN_API_PRODUCE, -1), -1, "an api the broker does not serve: -1");
    is(rn_conn_version(&conn, RN_API_FIND_COORDINATOR, -1), 2, "FindCoordinator v2");

    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_metadata_request_t req;
    rn_metadata_request_init(&req);
    req.topics.count = -1;
    void *body = NULL;
    for (int i = 0; i < 3; i++) {
        st = rn_conn_call(&conn, RN_API_METADATA, 7, &req, &arena, &body);
        is(st, 0, "Metadata call %d", i);
    }
    rn_metadata_response_t *md = body;
    ok(md && md->brokers.count == 1 && md->brokers.items[0].node_id == 7 &&
           rn_str_eq_cstr(md->cluster_id, "fake-cluster"),
       "response decoded into the arena");
    is(conn.next_correlation_id, 6, "correlation ids advance per request (2 ApiVersions + 3)");

    mode = MODE_BAD_CORR;
    st = rn_conn_call(&conn, RN_API_METADATA, 7, &req, &arena, &body);
    is(st, RN_ECORRUPT, "a response with another correlation id is refused");
    ok(strstr(rn_conn_error(&conn), "correlation id") != NULL, "error says why: %s",
       rn_conn_error(&conn));
    ok(!rn_conn_is_open(&conn), "and the connection is closed");
    mode = MODE_NORMAL;
    st = rn_conn_call(&conn, RN_API_METADATA, 7, &req, &arena, &body);
    is(st, RN_EIO, "calling a closed connection fails");

    st = rn_conn_open(&conn, "127.0.0.1", port, 300);
    is(st, 0, "reopen");
    mode = MODE_SILENT;
    int64_t t0 = now_ms();
    st = rn_conn_call(&conn, RN_API_METADATA, 7, &req, &arena, &body);
    int64_t took = now_ms() - t0;
    is(st, RN_EIO, "a broker that never answers: RN_EIO");
    ok(took >= 250 && took < 3000, "after the 300 ms timeout (%lld ms)", (long long)took);
    ok(strstr(rn_conn_error(&conn), "no response within 300 ms") != NULL, "error: %s",
       rn_conn_error(&conn));

    mode = MODE_HANGUP;
    st = rn_conn_open(&conn, "127.0.0.1", port, 2000);
    st = st ? st : rn_conn_call(&conn, RN_API_METADATA, 7, &req, &arena, &body);
    is(st, RN_EIO, "a broker that hangs up mid-response: RN_EIO");
    ok(strstr(rn_conn_error(&conn), "closed") != NULL, "error: %s", rn_conn_error(&conn));
    mode = MODE_NORMAL;
    rn_conn_close(&conn);
    rn_arena_free(&arena);
}

static void test_refused(void)
{
    /* A port nothing listens on: bind one and close it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    rn_conn_t conn;
    rn_conn_init(&conn);
    int st = rn_conn_open(&conn, "127.0.0.1", ntohs(sa.sin_port), 2000);
    is(st, RN_EIO, "connection refused: RN_EIO");
    ok(strstr(rn_conn_error(&conn), "Connection refused") != NULL &&
           strstr(rn_conn_error(&conn), "127.0.0.1:") == rn_conn_error(&conn),
       "error names the address: %s", rn_conn_error(&conn));
    st = rn_conn_open(&conn, "no-such-host.invalid", 9092, 2000);
    is(st, RN_EIO, "unresolvable host: RN_EIO (%s)", rn_conn_error(&conn));
    rn_conn_close(&conn);
}

static void test_bootstrap_parsing(void)
{
    rn_conn_pool_t pool;
    int st = rn_conn_pool_init(&pool, " h1:1, h2 ,[::1]:3", 1000);
    is(st, 0, "a list with spaces, a default port and an IPv6 address");
    is(pool.nseeds, 3, "three servers");
    ok(pool.nseeds == 3 && strcmp(pool.seed_hosts[0], "h1") == 0 && pool.seed_ports[0] == 1 &&
           strcmp(pool.seed_hosts[1], "h2") == 0 && pool.seed_ports[1] == 9092 &&
           strcmp(pool.seed_hosts[2], "::1") == 0 && pool.seed_ports[2] == 3,
       "hosts and ports");
    char buf[64];
    is_str(rn_conn_pool_bootstrap_name(&pool, buf, sizeof buf), "h1:1", "name of the first");
    rn_conn_pool_free(&pool);
    static const char *const bad[] = {"h:0", "h:x", "h:70000", ",", "", "[::1", "[::1]x", ":9092"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = rn_conn_pool_init(&pool, bad[i], 1000);
        ok(st == RN_EINVAL && pool.err[0] != '\0', "\"%s\" is refused: %s", bad[i], pool.err);
    }
}

static void test_pool(void)
{
    char boot[64];
    snprintf(boot, sizeof boot, "127.0.0.1:%d", port);
    rn_conn_pool_t pool;
    is(rn_conn_pool_init(&pool, boot, 2000), 0, "pool init");
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_metadata_response_t *md;
    int st = rn_conn_pool_metadata(&pool, NULL, -1, false, &arena, &md);
    is(st, 0, "metadata through the bootstrap server: %s", pool.err);
    is(pool.controller_id, 7, "controller id kept");
    is_str(pool.cluster_id, "fake-cluster", "cluster id kept");
    rn_conn_t *node = rn_conn_pool_broker(&pool, 7);
    ok(node != NULL && node != &pool.boot && node->node_id == 7, "a connection to node 7");
    st = rn_conn_pool_metadata(&pool, NULL, -1, false, &arena, &md);
    ok(st == 0 && rn_conn_pool_broker(&pool, 7) == node && rn_conn_is_open(node),
       "a metadata refresh keeps the node's connection (same pointer, still open)");
    ok(rn_conn_pool_broker(&pool, 8) == NULL && strstr(pool.err, "broker 8") != NULL,
       "an unknown node: NULL and %s", pool.err);
    int16_t kerr = -1;
    rn_conn_t *coord = rn_conn_pool_coordinator(&pool, 0, "g", &kerr);
    ok(coord == node, "FindCoordinator retried past COORDINATOR_NOT_AVAILABLE to node 7 (%s)",
       pool.err);
    is(find_coordinator_seen, 2, "two FindCoordinator requests");
    is(kerr, 0, "last error code 0");
    rn_arena_free(&arena);
    rn_conn_pool_free(&pool);

    /* A dead first server is skipped. */
    char two[96];
    snprintf(two, sizeof two, "127.0.0.1:1,127.0.0.1:%d", port);
    is(rn_conn_pool_init(&pool, two, 2000), 0, "pool with a dead first server");
    ok(rn_conn_pool_any(&pool) != NULL && pool.boot_seed == 1, "the second server is used");
    rn_conn_pool_free(&pool);
    is(rn_conn_pool_init(&pool, "127.0.0.1:1", 2000), 0, "pool with only a dead server");
    ok(rn_conn_pool_any(&pool) == NULL && strstr(pool.err, "127.0.0.1:1: connect") != NULL,
       "no connection; the error lists the failure: %s", pool.err);
    rn_conn_pool_free(&pool);
}

int main(void)
{
    if (start_server() != 0) {
        printf("Bail out! cannot start the fake broker\n");
        return 1;
    }
    test_negotiation();
    test_refused();
    test_bootstrap_parsing();
    test_pool();
    return done_testing();
}
