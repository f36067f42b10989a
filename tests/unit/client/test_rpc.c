/* Tests for request/response frames (client/rn_rpc.h): byte-exact requests captured from
 * librdkafka 2.0.2 (kcat), header versions, ApiVersions, status codes, error code names. */
#include "rn_endian.h"
#include "rn_kerr.h"
#include "rn_rpc.h"
#include "rn_str.h"
#include "tap.h"

/* kcat -L: ApiVersions v3 request, correlation id 1, client id "rdkafka". */
static const uint8_t api_versions_v3[] = {
    0x00, 0x00, 0x00, 0x24, 0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00, 0x07,
    'r',  'd',  'k',  'a',  'f',  'k',  'a',  0x00, 0x0b, 'l',  'i',  'b',  'r',  'd',
    'k',  'a',  'f',  'k',  'a',  0x06, '2',  '.',  '0',  '.',  '2',  0x00};

/* kcat -L -t mytopic against a broker offering Metadata v0-1: Metadata v1 request. */
static const uint8_t metadata_v1[] = {0x00, 0x00, 0x00, 0x1e, 0x00, 0x03, 0x00, 0x01, 0x00,
                                      0x00, 0x00, 0x02, 0x00, 0x07, 'r',  'd',  'k',  'a',
                                      'f',  'k',  'a',  0x00, 0x00, 0x00, 0x01, 0x00, 0x07,
                                      'm',  'y',  't',  'o',  'p',  'i',  'c'};

/* The same with Metadata v0-12 offered: librdkafka 2.0.2 picks v4 (adds allow_auto_topic_creation).
 */
static const uint8_t metadata_v4[] = {0x00, 0x00, 0x00, 0x1f, 0x00, 0x03, 0x00, 0x04, 0x00,
                                      0x00, 0x00, 0x02, 0x00, 0x07, 'r',  'd',  'k',  'a',
                                      'f',  'k',  'a',  0x00, 0x00, 0x00, 0x01, 0x00, 0x07,
                                      'm',  'y',  't',  'o',  'p',  'i',  'c',  0x01};

static uint8_t out[4096];

static int same_bytes(rn_proto_writer_t *w, const uint8_t *want, size_t len)
{
    long n = rn_proto_writer_copy(w, out, sizeof(out));
    if (n != (long)len || memcmp(out, want, len) != 0) {
        printf("#   got %ld bytes:", n);
        for (long i = 0; i < n; i++)
            printf(" %02x", out[i]);
        printf("\n");
        return 0;
    }
    return 1;
}

static void test_captured_requests(rn_arena_t *arena, rn_proto_writer_t *w)
{
    rn_rpc_request_t req;
    int st =
        rn_rpc_decode_request(api_versions_v3 + 4, sizeof(api_versions_v3) - 4, arena, 0, &req);
    is(st, RN_RPC_OK, "librdkafka ApiVersions v3 request decodes");
    is(req.api_key, RN_API_API_VERSIONS, "api key 18");
    is(req.api_version, 3, "version 3");
    is(req.correlation_id, 1, "correlation id");
    is(req.header_version, 2, "flexible request: header v2");
    ok(rn_str_eq_cstr(req.client_id, "rdkafka"), "client id");
    rn_api_versions_request_t *av = req.body;
    ok(av && rn_str_eq_cstr(av->client_software_name, "librdkafka") &&
           rn_str_eq_cstr(av->client_software_version, "2.0.2"),
       "client software name and version");
    rn_proto_writer_reset(w);
    rn_rpc_encode_request(w, RN_API_API_VERSIONS, 3, 1, rn_str("rdkafka"), av);
    ok(same_bytes(w, api_versions_v3, sizeof(api_versions_v3)), "re-encodes byte for byte");

    st = rn_rpc_decode_request(metadata_v1 + 4, sizeof(metadata_v1) - 4, arena, 0, &req);
    is(st, RN_RPC_OK, "librdkafka Metadata v1 request decodes");
    is(req.header_version, 1, "non-flexible request: header v1");
    rn_metadata_request_t *md = req.body;
    ok(md && md->topics.count == 1 && rn_str_eq_cstr(md->topics.items[0].name, "mytopic"),
       "one topic, mytopic");
    ok(md && md->allow_auto_topic_creation, "allow_auto_topic_creation defaults to true before v4");
    rn_proto_writer_reset(w);
    rn_rpc_encode_request(w, RN_API_METADATA, 1, 2, rn_str("rdkafka"), md);
    ok(same_bytes(w, metadata_v1, sizeof(metadata_v1)), "re-encodes byte for byte");

    st = rn_rpc_decode_request(metadata_v4 + 4, sizeof(metadata_v4) - 4, arena, 0, &req);
    md = req.body;
    ok(st == RN_RPC_OK && md->topics.count == 1 && md->allow_auto_topic_creation,
       "librdkafka Metadata v4 request decodes");
    md->allow_auto_topic_creation = false;
    rn_proto_writer_reset(w);
    rn_rpc_encode_request(w, RN_API_METADATA, 4, 2, rn_str("rdkafka"), md);
    long n = rn_proto_writer_copy(w, out, sizeof(out));
    ok(n == (long)sizeof(metadata_v4) && out[n - 1] == 0 &&
           memcmp(out, metadata_v4, sizeof(metadata_v4) - 1) == 0,
       "allow_auto_topic_creation=false is the last byte");

    /* A null topic list (all topics) in v1+, written by hand from the protocol guide. */
    const uint8_t all_topics[] = {0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00,
                                  0x09, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    st = rn_rpc_decode_request(all_topics, sizeof(all_topics), arena, 0, &req);
    md = req.body;
    ok(st == RN_RPC_OK && rn_str_is_null(req.client_id) && md->topics.count == -1,
       "null client id, null topic list");
}

static void test_responses(rn_arena_t *arena, rn_proto_writer_t *w)
{
    /* ApiVersions v3 response: header v0 (no tagged fields after the correlation id). */
    rn_api_versions_response_t av;
    rn_api_versions_response_init(&av);
    rn_api_versions_response_key_t *k =
        rn_api_versions_response_key_array_alloc(arena, &av.api_keys, 1);
    k[0].api_key = 18;
    k[0].min_version = 0;
    k[0].max_version = 3;
    const uint8_t want_av[] = {0x00, 0x00, 0x00, 0x13, 0x00, 0x00, 0x00, 0x07,
                               0x00, 0x00, 0x02, 0x00, 0x12, 0x00, 0x00, 0x00,
                               0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    rn_proto_writer_reset(w);
    is(rn_rpc_encode_response(w, RN_API_API_VERSIONS, 3, 7, &av), 0, "ApiVersions v3 encodes");
    ok(same_bytes(w, want_av, sizeof(want_av)), "ApiVersions v3 response bytes (header v0)");

    /* v0 layout, as sent with UNSUPPORTED_VERSION: int32 array length, no throttle. */
    av.error_code = RN_KERR_UNSUPPORTED_VERSION;
    const uint8_t want_v0[] = {0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x07, 0x00, 0x23,
                               0x00, 0x00, 0x00, 0x01, 0x00, 0x12, 0x00, 0x00, 0x00, 0x03};
    rn_proto_writer_reset(w);
    rn_rpc_encode_response(w, RN_API_API_VERSIONS, 0, 7, &av);
    ok(same_bytes(w, want_v0, sizeof(want_v0)), "ApiVersions v0 response bytes");
    int32_t corr;
    void *body;
    is(rn_rpc_decode_response(want_v0 + 4, sizeof(want_v0) - 4, arena, RN_API_API_VERSIONS, 3,
                              &corr, &body),
       0, "a v3 client reads the v0 fallback answer");
    rn_api_versions_response_t *back = body;
    ok(back && corr == 7 && back->error_code == 35 && back->api_keys.count == 1 &&
           back->api_keys.items[0].max_version == 3,
       "fallback answer carries the error and the key list");

    /* Metadata v12 response: flexible, so header v1 (a tagged-field byte after corr). */
    rn_metadata_response_t md;
    rn_metadata_response_init(&md);
    md.cluster_id = rn_str("c1");
    md.controller_id = 1;
    rn_metadata_response_broker_t *b =
        rn_metadata_response_broker_array_alloc(arena, &md.brokers, 1);
    b->node_id = 1;
    b->host = rn_str("h");
    b->port = 9092;
    const uint8_t want_md[] = {
        0x00, 0x00, 0x00, 0x1f,                   /* size 31 */
        0x00, 0x00, 0x00, 0x05, 0x00,             /* corr 5, header tags */
        0x00, 0x00, 0x00, 0x00,                   /* throttle */
        0x02, 0x00, 0x00, 0x00, 0x01, 0x02, 'h',  /* brokers: node 1, host "h" */
        0x00, 0x00, 0x23, 0x84, 0x00, 0x00,       /* port 9092, rack null, tags */
        0x03, 'c',  '1',  0x00, 0x00, 0x00, 0x01, /* cluster id, controller id */
        0x01, 0x00};                              /* topics: empty; tags */
    rn_proto_writer_reset(w);
    rn_rpc_encode_response(w, RN_API_METADATA, 12, 5, &md);
    ok(same_bytes(w, want_md, sizeof(want_md)), "Metadata v12 response bytes (header v1)");
    md.topics.count = -1;
    rn_proto_writer_reset(w);
    is(rn_rpc_encode_response(w, RN_API_METADATA, 12, 5, &md), RN_EINVAL,
       "a null topic list in a Metadata response is refused");
}

static void test_status(rn_arena_t *arena)
{
    rn_rpc_request_t req;
    /* ApiVersions v4 is defined but not served by default; v127 is not defined at all. */
    uint8_t v4[sizeof(api_versions_v3)];
    memcpy(v4, api_versions_v3, sizeof(v4));
    v4[7] = 4;
    int st = rn_rpc_decode_request(v4 + 4, sizeof(v4) - 4, arena, 0, &req);
    is(st, RN_RPC_UNSUPPORTED_VERSION, "ApiVersions v4 is not served");
    ok(req.api_key == 18 && req.api_version == 4 && req.correlation_id == 1 &&
           rn_str_eq_cstr(req.client_id, "rdkafka") && req.body == NULL,
       "header fields are set so the broker can answer");
    is(rn_rpc_decode_request(v4 + 4, sizeof(v4) - 4, arena, RN_RPC_ANY_VERSION, &req), RN_RPC_OK,
       "but decodes with RN_RPC_ANY_VERSION");
    v4[7] = 127;
    st = rn_rpc_decode_request(v4 + 4, sizeof(v4) - 4, arena, RN_RPC_ANY_VERSION, &req);
    ok(st == RN_RPC_UNSUPPORTED_VERSION && req.header_version == 2,
       "unknown future version: unsupported, header still parsed as v2");

    const uint8_t unknown[] = {0x03, 0xe8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x09, 0xff, 0xff};
    st = rn_rpc_decode_request(unknown, sizeof(unknown), arena, 0, &req);
    ok(st == RN_RPC_UNKNOWN_API && req.api_key == 1000 && req.correlation_id == 9 &&
           req.api == NULL,
       "unknown api key");
    st = rn_rpc_decode_request(unknown, 7, arena, 0, &req);
    is(st, RN_RPC_BAD_HEADER, "truncated header");
    st = rn_rpc_decode_request(metadata_v1 + 4, 12, arena, 0, &req);
    is(st, RN_RPC_BAD_HEADER, "client id cut short");

    uint8_t trailing[sizeof(metadata_v1) + 1];
    memcpy(trailing, metadata_v1, sizeof(metadata_v1));
    trailing[sizeof(metadata_v1)] = 0;
    st = rn_rpc_decode_request(trailing + 4, sizeof(trailing) - 4, arena, 0, &req);
    ok(st == RN_RPC_BAD_BODY && req.error == RN_ECORRUPT && req.correlation_id == 2,
       "trailing bytes after the body are refused by default");
    st = rn_rpc_decode_request(trailing + 4, sizeof(trailing) - 4, arena, RN_RPC_ALLOW_TRAILING,
                               &req);
    ok(st == RN_RPC_OK && req.trailing_bytes == 1, "and ignored with RN_RPC_ALLOW_TRAILING");
    /* Metadata v12 exactly as confluent-kafka 2.16.1 (librdkafka) sends it: null topics,
     * two booleans, empty tags, then three extra bytes Kafka ignores. */
    static const uint8_t metadata_v12_rdkafka[] = {
        0x00, 0x03, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x03, 0x00, 0x07, 'r',  'd', 'k',
        'a',  'f',  'k',  'a',  0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00};
    st = rn_rpc_decode_request(metadata_v12_rdkafka, sizeof(metadata_v12_rdkafka), arena,
                               RN_RPC_ALLOW_TRAILING, &req);
    ok(st == RN_RPC_OK && req.api_version == 12 && req.trailing_bytes == 3,
       "librdkafka 2.16's Metadata v12 request decodes");
    st = rn_rpc_decode_request(metadata_v1 + 4, sizeof(metadata_v1) - 6, arena, 0, &req);
    ok(st == RN_RPC_BAD_BODY && req.error == RN_ETRUNC, "body cut short");

    rn_arena_t tiny;
    rn_arena_init(&tiny, 40);
    st = rn_rpc_decode_request(metadata_v1 + 4, sizeof(metadata_v1) - 4, &tiny, 0, &req);
    is(st, RN_RPC_NOMEM, "arena limit reached");
    rn_arena_free(&tiny);
    is_str(rn_rpc_status_name(RN_RPC_BAD_BODY), "malformed request body", "status names");
}

static void test_table(rn_arena_t *arena)
{
    const struct {
        int16_t key, lo, hi, flex;
    } want[] = {/* The served ranges runnel starts with, and Kafka's first flexible versions. */
                {0, 0, 9, 9},  {1, 4, 13, 12}, {2, 0, 7, 6},  {3, 0, 12, 9}, {8, 0, 8, 8},
                {9, 0, 8, 6},  {10, 0, 4, 3},  {11, 0, 9, 6}, {12, 0, 4, 4}, {13, 0, 5, 4},
                {14, 0, 5, 4}, {15, 0, 5, 5},  {16, 0, 4, 3}, {18, 0, 3, 3}, {19, 0, 7, 5},
                {20, 0, 6, 4}, {21, 0, 2, 2},  {22, 0, 4, 2}, {23, 0, 4, 4}, {32, 0, 4, 4},
                {33, 0, 2, 2}, {37, 0, 3, 2},  {42, 0, 2, 2}, {44, 0, 1, 1}, {47, 0, 0, -1},
                {60, 0, 1, 0}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const rn_rpc_api_t *api = rn_rpc_api(want[i].key);
        int16_t lo, hi;
        ok(api && rn_rpc_served_range(want[i].key, &lo, &hi) && lo == want[i].lo &&
               hi == want[i].hi && api->flexible_version == want[i].flex,
           "key %d serves v%d-%d, flexible from v%d", want[i].key, want[i].lo, want[i].hi,
           want[i].flex);
    }
    const rn_rpc_api_t *av = rn_rpc_api(RN_API_API_VERSIONS);
    const rn_rpc_api_t *md = rn_rpc_api(RN_API_METADATA);
    ok(rn_rpc_response_header_version(av, 3) == 0 && rn_rpc_request_header_version(av, 3) == 2,
       "ApiVersions v3: request header v2, response header v0");
    ok(rn_rpc_response_header_version(md, 9) == 1 && rn_rpc_response_header_version(md, 8) == 0 &&
           rn_rpc_request_header_version(md, 8) == 1,
       "Metadata: header versions switch at v9");
    ok(rn_rpc_api(-1) == NULL && rn_rpc_api(1000) == NULL, "undefined keys");

    is(rn_rpc_serve(RN_API_METADATA, 0, 13), RN_EINVAL, "cannot serve beyond the definitions");
    is(rn_rpc_serve(RN_API_METADATA, 5, 4), RN_EINVAL, "empty range refused");
    is(rn_rpc_serve(1000, 0, 0), RN_EINVAL, "undefined key refused");
    is(rn_rpc_serve(RN_API_API_VERSIONS, 0, 4), 0, "widen ApiVersions to v4");
    is(rn_rpc_serve(RN_API_INIT_PRODUCER_ID, -1, -1), 0, "stop serving InitProducerId");
    rn_api_versions_response_t resp;
    rn_api_versions_response_init(&resp);
    is(rn_rpc_fill_api_versions(&resp, arena), 0, "fill ApiVersions from the served table");
    int found_av = 0, found_ipi = 0, sorted = 1;
    for (int32_t i = 0; i < resp.api_keys.count; i++) {
        const rn_api_versions_response_key_t *k = &resp.api_keys.items[i];
        found_av |= k->api_key == 18 && k->min_version == 0 && k->max_version == 4;
        found_ipi |= k->api_key == 22;
        if (i > 0 && k->api_key <= resp.api_keys.items[i - 1].api_key)
            sorted = 0;
    }
    ok(found_av && !found_ipi && sorted, "list follows the served table, sorted by key");
    rn_rpc_serve(RN_API_API_VERSIONS, 0, 3);
    rn_rpc_serve(RN_API_INIT_PRODUCER_ID, 0, 4);
}

static void test_headers(void)
{
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_rpc_request_header_t hdr = {1, 11, 0x01020304, rn_str("c")}, back;
    const uint8_t want[3][13] = {
        {0x00, 0x01, 0x00, 0x0b, 0x01, 0x02, 0x03, 0x04},
        {0x00, 0x01, 0x00, 0x0b, 0x01, 0x02, 0x03, 0x04, 0x00, 0x01, 'c'},
        {0x00, 0x01, 0x00, 0x0b, 0x01, 0x02, 0x03, 0x04, 0x00, 0x01, 'c', 0x00}};
    const size_t len[3] = {8, 11, 12};
    for (int v = 0; v < 3; v++) {
        rn_proto_writer_reset(&w);
        rn_rpc_write_request_header(&w, v, &hdr);
        ok(same_bytes(&w, want[v], len[v]), "request header v%d bytes", v);
        rn_proto_reader_t r;
        rn_proto_reader_init(&r, want[v], len[v], NULL);
        is(rn_rpc_read_request_header(&r, v, &back), 0, "request header v%d reads", v);
        ok(r.rd.p == r.rd.end && back.api_key == 1 && back.api_version == 11 &&
               back.correlation_id == 0x01020304 &&
               (v == 0 ? rn_str_is_null(back.client_id) : rn_str_eq_cstr(back.client_id, "c")),
           "request header v%d fields", v);
    }
    /* v2 with an unknown tagged field (tag 7, two bytes) is skipped. */
    const uint8_t tagged[] = {0x00, 0x01, 0x00, 0x0b, 0x01, 0x02, 0x03, 0x04,
                              0xff, 0xff, 0x01, 0x07, 0x02, 0xaa, 0xbb};
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, tagged, sizeof(tagged), NULL);
    ok(rn_rpc_read_request_header(&r, 2, &back) == 0 && r.rd.p == r.rd.end &&
           rn_str_is_null(back.client_id),
       "request header v2: null client id, unknown tag skipped");
    rn_proto_writer_reset(&w);
    rn_rpc_write_response_header(&w, 1, 9);
    const uint8_t resp1[] = {0, 0, 0, 9, 0};
    ok(same_bytes(&w, resp1, 5), "response header v1 bytes");
    rn_proto_reader_init(&r, resp1, 5, NULL);
    ok(rn_rpc_read_response_header(&r, 1) == 9 && r.rd.p == r.rd.end, "response header v1 reads");
    rn_proto_writer_free(&w);
}

static void test_kerr(void)
{
    is_str(rn_kerr_name(RN_KERR_NONE), "NONE", "error 0");
    is_str(rn_kerr_name(3), "UNKNOWN_TOPIC_OR_PARTITION", "error 3");
    is_str(rn_kerr_name(-1), "UNKNOWN_SERVER_ERROR", "error -1");
    is_str(rn_kerr_name(79), "MEMBER_ID_REQUIRED", "error 79");
    is(RN_KERR_NOT_LEADER_OR_FOLLOWER, 6, "NOT_LEADER_OR_FOLLOWER is 6");
    is(RN_KERR_INVALID_RECORD, 87, "INVALID_RECORD is 87");
    is(RN_KERR_TRANSACTION_ABORTABLE, 120, "TRANSACTION_ABORTABLE is 120");
    is_str(rn_kerr_name(99), "UNKNOWN_ERROR_CODE", "unassigned 99");
    is_str(rn_kerr_name(5000), "UNKNOWN_ERROR_CODE", "out of range");
    is_str(rn_kerr_name(-2), "UNKNOWN_ERROR_CODE", "below range");
}

int main(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    test_captured_requests(&arena, &w);
    test_responses(&arena, &w);
    test_status(&arena);
    test_table(&arena);
    test_headers();
    test_kerr();
    rn_proto_writer_free(&w);
    rn_arena_free(&arena);
    return done_testing();
}
