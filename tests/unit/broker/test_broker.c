/* End-to-end tests of runneld's admin side, in process: the broker on an ephemeral port,
 * its loop on a thread, requests over real sockets. ApiVersions is checked byte by byte
 * (v0, v3 and the unsupported-version fallback); the other APIs are built and read with
 * the codec's client side: Metadata (auto-creation, invalid names), CreateTopics,
 * DescribeConfigs, AlterConfigs, IncrementalAlterConfigs, CreatePartitions, DeleteTopics,
 * DescribeCluster, pipelined requests answered in order, and topics surviving a restart. */
#include "rn_broker.h"
#include "rn_handlers.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_rpc.h"
#include "net/rn_server.h"
#include "rn_str.h"
#include "tap.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[] = "/tmp/rn_test_broker.XXXXXX";
static struct event_base *base;
static rn_broker_t broker;
static rn_config_t cfg;
static pthread_t loop_thread;
static int32_t next_corr = 1;
static rn_arena_t arena;

static void *loop_main(void *arg)
{
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

static int start(void)
{
    char *argv[] = {"runneld", "--listen", "127.0.0.1:0", "--data-dir", dir, NULL};
    char err[512];
    rn_config_init(&cfg);
    if (rn_config_load(&cfg, 5, argv, err, sizeof(err)) != 0) {
        diag("config: %s", err);
        return -1;
    }
    base = event_base_new();
    if (rn_broker_start(&broker, &cfg, base, err, sizeof(err)) != 0) {
        diag("start: %s", err);
        return -1;
    }
    pthread_create(&loop_thread, NULL, loop_main, NULL);
    return rn_broker_port(&broker);
}

static void stop(void)
{
    event_base_loopbreak(base);
    pthread_join(loop_thread, NULL);
    char err[256];
    is(rn_broker_close(&broker, true, err, sizeof(err)), 0, "broker closes cleanly");
    event_base_free(base);
    rn_config_free(&cfg);
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

static void send_all(int fd, const void *data, size_t len)
{
    if (send(fd, data, len, MSG_NOSIGNAL) != (ssize_t)len)
        diag("short send");
}

/* One response frame (after the size) into a malloc'd buffer. */
static uint8_t *recv_frame(int fd, size_t *len)
{
    uint8_t sz[4];
    if (recv_all(fd, sz, 4) != 0)
        return NULL;
    *len = rn_load_be32(sz);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (recv_all(fd, buf, *len) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Encode a request with the codec's client side into buf; returns its length. */
static size_t encode(uint8_t *buf, size_t cap, int16_t key, int16_t ver, int32_t corr,
                     const void *body)
{
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_rpc_encode_request(&w, key, ver, corr, rn_str("rn-test"), body);
    long n = rn_proto_writer_copy(&w, buf, cap);
    rn_proto_writer_free(&w);
    return n > 0 ? (size_t)n : 0;
}

/* Send one request and decode its response (body in the test arena), or NULL. */
static void *call(int fd, int16_t key, int16_t ver, const void *body)
{
    static uint8_t buf[1 << 16];
    int32_t corr = next_corr++;
    size_t n = encode(buf, sizeof(buf), key, ver, corr, body);
    send_all(fd, buf, n);
    size_t len;
    uint8_t *frame = recv_frame(fd, &len);
    if (frame == NULL)
        return NULL;
    int32_t got;
    void *resp = NULL;
    /* The decoded strings point into the frame: keep frames for the test's lifetime. */
    uint8_t *keep = rn_arena_memdup(&arena, frame, len);
    free(frame);
    if (rn_rpc_decode_response(keep, len, &arena, key, ver, &got, &resp) != 0 || got != corr)
        return NULL;
    return resp;
}

static void test_api_versions_raw(int fd)
{
    /* v0: header v1 (no tags), empty body. */
    uint8_t req[] = {0, 0, 0, 13, 0, 18, 0, 0, 0, 0, 0, 42, 0, 3, 'r', 'a', 'w'};
    send_all(fd, req, sizeof(req));
    size_t len;
    uint8_t *f = recv_frame(fd, &len);
    ok(f != NULL && len >= 10, "ApiVersions v0 answered");
    if (f == NULL)
        return;
    is(rn_load_be32(f), 42, "v0 correlation id");
    is(rn_load_be16(f + 4), 0, "v0 error_code 0");
    int32_t count = (int32_t)rn_load_be32(f + 6);
    is(count, (int32_t)rn_broker_napis, "v0 lists every dispatch row");
    is(len, 10 + (size_t)count * 6, "v0 layout: no throttle time, 6 bytes per key");
    bool has_meta = false;
    for (int32_t i = 0; i < count; i++) {
        const uint8_t *e = f + 10 + i * 6;
        if (rn_load_be16(e) == 3)
            has_meta = rn_load_be16(e + 2) == 0 && rn_load_be16(e + 4) == 12;
    }
    ok(has_meta, "Metadata advertised as 0-12");
    free(f);

    /* v3: header v2 (tags), compact strings ClientSoftwareName/Version, tags. */
    uint8_t req3[] = {0,   0,   0,   0, 0, 18,  0,   3,   0,   0, 0,   43,  0,   3,
                      'r', 'a', 'w', 0, 5, 't', 'e', 's', 't', 4, '1', '.', '0', 0};
    rn_store_be32(req3, sizeof(req3) - 4);
    send_all(fd, req3, sizeof(req3));
    f = recv_frame(fd, &len);
    ok(f != NULL, "ApiVersions v3 answered");
    if (f == NULL)
        return;
    is(rn_load_be32(f), 43, "v3 correlation id, response header v0 (no tag byte)");
    is(rn_load_be16(f + 4), 0, "v3 error_code 0");
    is(f[6], rn_broker_napis + 1, "v3 compact array of every row");
    size_t after = 7 + rn_broker_napis * 7; /* key, min, max + empty tags per entry */
    ok(len == after + 4 + 1, "v3 layout: throttle time and an empty tag section (len %zu)", len);
    free(f);

    /* v3 with a software name KIP-511 does not allow: INVALID_REQUEST, no keys (as Kafka). */
    uint8_t reqbad[] = {0,   0,   0,   0,   0,   18,  0, 3,   0,   0,   0,
                        45,  0,   3,   'r', 'a', 'w', 0, 10,  'b', 'a', 'd',
                        ' ', 'n', 'a', 'm', 'e', '!', 4, '1', '.', '0', 0};
    rn_store_be32(reqbad, sizeof(reqbad) - 4);
    send_all(fd, reqbad, sizeof(reqbad));
    f = recv_frame(fd, &len);
    ok(f != NULL && len >= 7, "ApiVersions v3 with a bad software name answered");
    if (f == NULL)
        return;
    is(rn_load_be16(f + 4), RN_KERR_INVALID_REQUEST, "bad software name: INVALID_REQUEST");
    is(f[6], 1, "and no keys (compact array of 0)");
    free(f);

    /* v9 does not exist: the v0 layout with UNSUPPORTED_VERSION and, as Kafka answers,
     * only ApiVersions' own range. */
    uint8_t req9[] = {0, 0, 0, 13, 0, 18, 0, 9, 0, 0, 0, 44, 0, 3, 'r', 'a', 'w', 0};
    rn_store_be32(req9, sizeof(req9) - 4);
    send_all(fd, req9, sizeof(req9));
    f = recv_frame(fd, &len);
    ok(f != NULL, "ApiVersions v9 answered, connection kept");
    if (f == NULL)
        return;
    is(rn_load_be16(f + 4), RN_KERR_UNSUPPORTED_VERSION, "error 35");
    is((int32_t)rn_load_be32(f + 6), 1, "with one key");
    is(len, 16, "in the v0 layout");
    if (len == 16) {
        is(rn_load_be16(f + 10), RN_API_API_VERSIONS, "the key is ApiVersions");
        is(rn_load_be16(f + 12), 0, "from v0");
        is(rn_load_be16(f + 14), 3, "to v3");
    }
    free(f);
}

static void test_unsupported(int port)
{
    /* Metadata v13 is not served: Kafka closes the connection; so do we. */
    int fd = connect_to(port);
    uint8_t req[] = {0, 0, 0, 14, 0, 3, 0, 13, 0, 0, 0, 9, 0, 1, 'x', 0, 0, 0};
    send_all(fd, req, sizeof(req));
    uint8_t b;
    ok(recv(fd, &b, 1, 0) == 0, "Metadata v13 (not served) closes the connection");
    close(fd);
    fd = connect_to(port);
    uint8_t unk[] = {0, 0, 0, 10, 0, 99, 0, 0, 0, 0, 0, 9, 0xff, 0xff};
    send_all(fd, unk, sizeof(unk));
    ok(recv(fd, &b, 1, 0) == 0, "unknown api key 99 closes the connection");
    close(fd);
}

static void test_metadata(int fd, int port)
{
    /* Exactly what librdkafka 2.x sends for "all topics" at v12: its 4-byte array-count
     * placeholder leaves 3 bytes after the body, which Kafka ignores. */
    uint8_t rdk[] = {0,   0,   0,   25,  0,   3,   0, 12, 0, 0, 0, 5, 0, 7, 'r',
                     'd', 'k', 'a', 'f', 'k', 'a', 0, 0,  0, 0, 0, 1, 0, 0};
    send_all(fd, rdk, sizeof(rdk));
    size_t len;
    uint8_t *f = recv_frame(fd, &len);
    ok(f != NULL && rn_load_be32(f) == 5, "librdkafka's Metadata v12 with trailing bytes answered");
    free(f);

    rn_metadata_request_t mreq;
    rn_metadata_request_init(&mreq);
    mreq.topics.count = -1;
    rn_metadata_response_t *resp = call(fd, RN_API_METADATA, 12, &mreq);
    ok(resp != NULL, "Metadata v12 (all topics)");
    if (resp == NULL)
        return;
    is(resp->brokers.count, 1, "one broker");
    is(resp->brokers.items[0].node_id, 1, "node 1");
    is(resp->brokers.items[0].port, port, "advertised port = bound port");
    ok(rn_str_eq_cstr(resp->brokers.items[0].host, "127.0.0.1"), "advertised host");
    is(resp->controller_id, 1, "controller = self");
    is(resp->cluster_id.len, 22, "cluster id");

    rn_metadata_request_topic_t topics[3];
    for (int i = 0; i < 3; i++)
        rn_metadata_request_topic_init(&topics[i]);
    topics[0].name = rn_str("auto1");
    topics[1].name = rn_str("bad name");
    topics[2].name = rn_str("__consumer_offsets");
    mreq.topics.count = 3;
    mreq.topics.items = topics;
    resp = call(fd, RN_API_METADATA, 12, &mreq);
    ok(resp != NULL && resp->topics.count == 3, "Metadata v12 for three topics");
    if (resp == NULL || resp->topics.count != 3)
        return;
    rn_metadata_response_topic_t *t = &resp->topics.items[0];
    ok(t->error_code == 0 && t->partitions.count == 1, "auto1 auto-created with 1 partition");
    ok(t->partitions.count == 1 && t->partitions.items[0].leader_id == 1 &&
           t->partitions.items[0].leader_epoch == 0 &&
           t->partitions.items[0].replica_nodes.count == 1 &&
           t->partitions.items[0].isr_nodes.count == 1,
       "leader 1, epoch 0, replicas [1], isr [1]");
    static const uint8_t zero[16];
    ok(memcmp(&t->topic_id, zero, 16) != 0, "topic id set (v10+)");
    is(resp->topics.items[1].error_code, RN_KERR_INVALID_TOPIC_EXCEPTION, "bad name");
    is(resp->topics.items[2].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION,
       "internal topics are not auto-created");

    /* v4+ allow_auto_topic_creation=false; and by topic id (v10+). */
    rn_uuid_t auto1_id = t->topic_id;
    topics[0].name = rn_str("nocreate");
    mreq.topics.count = 1;
    mreq.allow_auto_topic_creation = false;
    resp = call(fd, RN_API_METADATA, 9, &mreq);
    ok(resp != NULL && resp->topics.count == 1 &&
           resp->topics.items[0].error_code == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION,
       "allow_auto_topic_creation=false: UNKNOWN_TOPIC_OR_PARTITION");
    topics[0].name = RN_STR_NULL;
    topics[0].topic_id = auto1_id;
    resp = call(fd, RN_API_METADATA, 12, &mreq);
    ok(resp != NULL && resp->topics.count == 1 && resp->topics.items[0].error_code == 0 &&
           rn_str_eq_cstr(resp->topics.items[0].name, "auto1"),
       "lookup by topic id");

    /* v0: empty list = all topics. */
    mreq.topics.count = 0;
    resp = call(fd, RN_API_METADATA, 0, &mreq);
    ok(resp != NULL && resp->topics.count == 1, "v0 empty list lists all topics");
    mreq.topics.count = 0;
    resp = call(fd, RN_API_METADATA, 1, &mreq);
    ok(resp != NULL && resp->topics.count == 0, "v1 empty list lists none");
}

static int16_t create(int fd, const char *name, int32_t parts, int16_t rf, const char *key,
                      const char *value, bool validate_only, rn_creatable_topic_result_t *out)
{
    rn_create_topics_request_t creq;
    rn_create_topics_request_init(&creq);
    rn_creatable_topic_t t;
    rn_creatable_topic_init(&t);
    rn_creatable_topic_config_t c;
    rn_creatable_topic_config_init(&c);
    t.name = rn_str(name);
    t.num_partitions = parts;
    t.replication_factor = rf;
    if (key != NULL) {
        c.name = rn_str(key);
        c.value = rn_str(value);
        t.configs = (rn_creatable_topic_config_array_t){1, &c};
    }
    creq.topics = (rn_creatable_topic_array_t){1, &t};
    creq.validate_only = validate_only;
    rn_create_topics_response_t *resp = call(fd, RN_API_CREATE_TOPICS, 7, &creq);
    if (resp == NULL || resp->topics.count != 1)
        return -999;
    if (out != NULL)
        *out = resp->topics.items[0];
    return resp->topics.items[0].error_code;
}

static const rn_describe_configs_resource_result_t *find_entry(rn_describe_configs_result_t *r,
                                                               const char *name)
{
    for (int32_t i = 0; r && i < r->configs.count; i++)
        if (rn_str_eq_cstr(r->configs.items[i].name, name))
            return &r->configs.items[i];
    return NULL;
}

static rn_describe_configs_result_t *describe(int fd, int8_t type, const char *name)
{
    rn_describe_configs_request_t dreq;
    rn_describe_configs_request_init(&dreq);
    rn_describe_configs_resource_t r;
    rn_describe_configs_resource_init(&r);
    r.resource_type = type;
    r.resource_name = rn_str(name);
    r.configuration_keys.count = -1;
    dreq.resources = (rn_describe_configs_resource_array_t){1, &r};
    dreq.include_synonyms = true;
    dreq.include_documentation = true;
    rn_describe_configs_response_t *resp = call(fd, RN_API_DESCRIBE_CONFIGS, 4, &dreq);
    return resp != NULL && resp->results.count == 1 ? &resp->results.items[0] : NULL;
}

static void test_topics_admin(int fd)
{
    rn_creatable_topic_result_t res;
    is(create(fd, "orders", 3, -1, "retention.ms", "1000", false, &res), 0, "create orders");
    is(res.num_partitions, 3, "result num_partitions (v5+)");
    is(res.replication_factor, 1, "rf -1 resolved to 1");
    ok(res.configs.count > 20, "result lists the topic's configs");
    is(res.error_message.len, -1, "success: error_message null (as Kafka)");
    is(create(fd, "orders", 3, 1, NULL, NULL, false, NULL), RN_KERR_TOPIC_ALREADY_EXISTS,
       "TOPIC_ALREADY_EXISTS");
    is(create(fd, "two", 1, 2, NULL, NULL, false, NULL), RN_KERR_INVALID_REPLICATION_FACTOR,
       "rf 2 on one node");
    is(create(fd, "zero", 0, 1, NULL, NULL, false, NULL), RN_KERR_INVALID_PARTITIONS,
       "0 partitions");
    is(create(fd, "a*b", 1, 1, NULL, NULL, false, NULL), RN_KERR_INVALID_TOPIC_EXCEPTION,
       "invalid name");
    is(create(fd, "cfg", 1, 1, "retention.mss", "1", false, NULL), RN_KERR_INVALID_CONFIG,
       "unknown config");
    is(create(fd, "cfg", 1, 1, "segment.bytes", "1", false, &res), RN_KERR_INVALID_CONFIG,
       "bad config value");
    ok(res.configs.count == 0 && res.error_message.len > 0,
       "failed topic: empty config list (not null) and a message (as Kafka 4.x)");
    is(create(fd, "cfg", 1, 1, "retention.ms", NULL, false, NULL), RN_KERR_INVALID_CONFIG,
       "null config value: INVALID_CONFIG (as Kafka 4.x)");
    {
        rn_create_topics_request_t creq;
        rn_create_topics_request_init(&creq);
        rn_creatable_topic_t t[3];
        const char *names[3] = {"twice", "once", "twice"};
        for (int i = 0; i < 3; i++) {
            rn_creatable_topic_init(&t[i]);
            t[i].name = rn_str(names[i]);
            t[i].num_partitions = 1;
            t[i].replication_factor = 1;
        }
        creq.topics = (rn_creatable_topic_array_t){3, t};
        rn_create_topics_response_t *cr = call(fd, RN_API_CREATE_TOPICS, 7, &creq);
        ok(cr && cr->topics.count == 2 && rn_str_eq_cstr(cr->topics.items[0].name, "twice") &&
               cr->topics.items[0].error_code == RN_KERR_INVALID_REQUEST &&
               rn_str_eq_cstr(cr->topics.items[1].name, "once") &&
               cr->topics.items[1].error_code == 0,
           "a name given twice gets one INVALID_REQUEST result (as Kafka)");
    }
    is(create(fd, "dry", 2, 1, NULL, NULL, true, NULL), 0, "validate_only ok");
    is(create(fd, "dry", 2, 1, NULL, NULL, false, NULL), 0, "validate_only created nothing");

    rn_describe_configs_result_t *d = describe(fd, 2, "orders");
    const rn_describe_configs_resource_result_t *e = find_entry(d, "retention.ms");
    ok(e && rn_str_eq_cstr(e->value, "1000") && e->config_source == 1,
       "retention.ms 1000 from DYNAMIC_TOPIC_CONFIG");
    ok(e && e->synonyms.count == 1 && e->synonyms.items[0].source == 1,
       "synonyms: the topic's only (no default of log.retention.hours, as Kafka)");
    e = find_entry(d, "retention.bytes");
    ok(e && e->synonyms.count == 1 && e->synonyms.items[0].source == 5 &&
           rn_str_eq_cstr(e->synonyms.items[0].name, "log.retention.bytes"),
       "retention.bytes synonym: log.retention.bytes default");
    e = find_entry(d, "segment.bytes");
    ok(e && rn_str_eq_cstr(e->value, "1073741824") && e->config_source == 5 &&
           e->config_type == 3 && e->documentation.len > 0,
       "segment.bytes default, INT, documented");
    d = describe(fd, 2, "nope");
    is(d ? d->error_code : -1, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "describe unknown topic");
    d = describe(fd, 2, "a b");
    is(d ? d->error_code : -1, RN_KERR_INVALID_TOPIC_EXCEPTION,
       "describe an invalid name: INVALID_TOPIC_EXCEPTION (as Kafka)");
    {
        rn_describe_configs_request_t dreq;
        rn_describe_configs_request_init(&dreq);
        rn_describe_configs_resource_t r;
        rn_describe_configs_resource_init(&r);
        r.resource_type = 2;
        r.resource_name = rn_str("orders");
        r.configuration_keys.count = 0; /* empty, not null */
        dreq.resources = (rn_describe_configs_resource_array_t){1, &r};
        rn_describe_configs_response_t *dr = call(fd, RN_API_DESCRIBE_CONFIGS, 4, &dreq);
        ok(dr && dr->results.count == 1 && dr->results.items[0].configs.count > 20,
           "an empty key list describes every config (as Kafka)");
    }
    d = describe(fd, 4, "1");
    e = find_entry(d, "num.partitions");
    ok(e && rn_str_eq_cstr(e->value, "1") && e->read_only && e->config_source == 5,
       "broker num.partitions 1, read-only, default");
    e = find_entry(d, "log.dirs");
    ok(e && rn_str_eq_cstr(e->value, dir) && e->config_source == 4,
       "broker log.dirs from the command line (STATIC_BROKER_CONFIG)");
    d = describe(fd, 4, "7");
    is(d ? d->error_code : -1, RN_KERR_INVALID_REQUEST, "another broker's id");

    /* IncrementalAlterConfigs: SET, APPEND to a list, bad op. */
    rn_incremental_alter_configs_request_t ireq;
    rn_incremental_alter_configs_request_init(&ireq);
    rn_incremental_alterable_config_t ic[2];
    rn_incremental_alterable_config_init(&ic[0]);
    rn_incremental_alterable_config_init(&ic[1]);
    ic[0] = (rn_incremental_alterable_config_t){rn_str("retention.ms"), 0, rn_str("2000")};
    ic[1] = (rn_incremental_alterable_config_t){rn_str("cleanup.policy"), 2, rn_str("compact")};
    rn_incremental_alter_configs_resource_t ir = {2, rn_str("orders"), {2, ic}};
    ireq.resources = (rn_incremental_alter_configs_resource_array_t){1, &ir};
    rn_incremental_alter_configs_response_t *iresp =
        call(fd, RN_API_INCREMENTAL_ALTER_CONFIGS, 1, &ireq);
    ok(iresp && iresp->responses.count == 1 && iresp->responses.items[0].error_code == 0,
       "IncrementalAlterConfigs SET + APPEND");
    ok(iresp && iresp->responses.items[0].error_message.len == -1,
       "IncrementalAlterConfigs success: error_message null (as Kafka)");
    d = describe(fd, 2, "orders");
    e = find_entry(d, "retention.ms");
    ok(e && rn_str_eq_cstr(e->value, "2000"), "retention.ms now 2000");
    e = find_entry(d, "cleanup.policy");
    ok(e && rn_str_eq_cstr(e->value, "delete,compact"), "cleanup.policy appended");
    ic[0] = (rn_incremental_alterable_config_t){rn_str("segment.bytes"), 2, rn_str("5")};
    ir.configs.count = 1;
    iresp = call(fd, RN_API_INCREMENTAL_ALTER_CONFIGS, 1, &ireq);
    ok(iresp && iresp->responses.items[0].error_code == RN_KERR_INVALID_CONFIG,
       "APPEND to a non-list refused");

    /* AlterConfigs replaces the whole set. */
    rn_alter_configs_request_t areq;
    rn_alter_configs_request_init(&areq);
    rn_alterable_config_t ac = {rn_str("segment.ms"), rn_str("100000")};
    rn_alter_configs_resource_t ar = {2, rn_str("orders"), {1, &ac}};
    areq.resources = (rn_alter_configs_resource_array_t){1, &ar};
    rn_alter_configs_response_t *aresp = call(fd, RN_API_ALTER_CONFIGS, 2, &areq);
    ok(aresp && aresp->responses.count == 1 && aresp->responses.items[0].error_code == 0,
       "AlterConfigs");
    ok(aresp && aresp->responses.items[0].error_message.len == -1,
       "AlterConfigs success: error_message null (as Kafka)");
    d = describe(fd, 2, "orders");
    e = find_entry(d, "retention.ms");
    ok(e && e->config_source == 5, "retention.ms back to default after AlterConfigs");
    e = find_entry(d, "segment.ms");
    ok(e && rn_str_eq_cstr(e->value, "100000"), "segment.ms set");
    ar.resource_type = 4;
    ar.resource_name = rn_str("1");
    aresp = call(fd, RN_API_ALTER_CONFIGS, 2, &areq);
    ok(aresp && aresp->responses.items[0].error_code == RN_KERR_INVALID_REQUEST,
       "broker configs are static");

    /* CreatePartitions. */
    rn_create_partitions_request_t preq;
    rn_create_partitions_request_init(&preq);
    rn_create_partitions_topic_t pt;
    rn_create_partitions_topic_init(&pt);
    pt.name = rn_str("orders");
    pt.count = 5;
    pt.assignments.count = -1;
    preq.topics = (rn_create_partitions_topic_array_t){1, &pt};
    rn_create_partitions_response_t *presp = call(fd, RN_API_CREATE_PARTITIONS, 3, &preq);
    ok(presp && presp->results.count == 1 && presp->results.items[0].error_code == 0,
       "CreatePartitions to 5");
    pt.count = 4;
    presp = call(fd, RN_API_CREATE_PARTITIONS, 3, &preq);
    ok(presp && presp->results.items[0].error_code == RN_KERR_INVALID_PARTITIONS,
       "shrinking refused");
    rn_create_partitions_topic_t pts[2] = {pt, pt};
    preq.topics = (rn_create_partitions_topic_array_t){2, pts};
    presp = call(fd, RN_API_CREATE_PARTITIONS, 3, &preq);
    ok(presp && presp->results.count == 1 &&
           presp->results.items[0].error_code == RN_KERR_INVALID_REQUEST,
       "CreatePartitions: a topic named twice gets one INVALID_REQUEST result (as Kafka)");

    /* DeleteTopics v1 by name, v6 by id. */
    rn_delete_topics_request_t dreq;
    rn_delete_topics_request_init(&dreq);
    rn_str_t names[2] = {rn_str("dry"), rn_str("ghost")};
    dreq.topic_names = (rn_str_array_t){2, names};
    rn_delete_topics_response_t *dresp = call(fd, RN_API_DELETE_TOPICS, 1, &dreq);
    ok(dresp && dresp->responses.count == 2 && dresp->responses.items[0].error_code == 0 &&
           dresp->responses.items[1].error_code == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION,
       "DeleteTopics v1: dry deleted, ghost unknown");
    rn_str_t twice[2] = {rn_str("ghost"), rn_str("ghost")};
    dreq.topic_names = (rn_str_array_t){2, twice};
    dresp = call(fd, RN_API_DELETE_TOPICS, 1, &dreq);
    ok(dresp && dresp->responses.count == 1 &&
           dresp->responses.items[0].error_code == RN_KERR_INVALID_REQUEST,
       "DeleteTopics: a name given twice gets one INVALID_REQUEST result (as Kafka)");
    rn_describe_cluster_request_t creq;
    rn_describe_cluster_request_init(&creq);
    rn_describe_cluster_response_t *cresp = call(fd, RN_API_DESCRIBE_CLUSTER, 1, &creq);
    ok(cresp && cresp->error_code == 0 && cresp->brokers.count == 1 && cresp->controller_id == 1 &&
           cresp->cluster_id.len == 22,
       "DescribeCluster v1");
    is(cresp ? cresp->cluster_authorized_operations : 0, INT32_MIN,
       "cluster operations not asked for: INT32_MIN");
    creq.include_cluster_authorized_operations = true;
    cresp = call(fd, RN_API_DESCRIBE_CLUSTER, 1, &creq);
    is(cresp ? cresp->cluster_authorized_operations : 0, 8096,
       "no authorizer: every cluster operation (8096, as Kafka)");
    rn_metadata_request_t mreq;
    rn_metadata_request_init(&mreq);
    rn_metadata_request_topic_t mt;
    rn_metadata_request_topic_init(&mt);
    mt.name = rn_str("orders");
    mreq.topics = (rn_metadata_request_topic_array_t){1, &mt};
    mreq.include_topic_authorized_operations = true;
    mreq.include_cluster_authorized_operations = true;
    rn_metadata_response_t *mresp = call(fd, RN_API_METADATA, 10, &mreq);
    ok(mresp && mresp->topics.count == 1 &&
           mresp->topics.items[0].topic_authorized_operations == 3576 &&
           mresp->cluster_authorized_operations == 8096,
       "Metadata v10: every topic (3576) and cluster (8096) operation (as Kafka)");
}

static void test_pipelined(int fd)
{
    /* CreateTopics completes asynchronously (after the registry is written); the
     * ApiVersions sent after it must still come back after it. */
    static uint8_t buf[8192];
    size_t off = 0;
    rn_api_versions_request_t av;
    rn_api_versions_request_init(&av);
    rn_create_topics_request_t creq;
    rn_create_topics_request_init(&creq);
    rn_creatable_topic_t t;
    rn_creatable_topic_init(&t);
    t.name = rn_str("piped");
    t.num_partitions = 2;
    t.replication_factor = 1;
    creq.topics = (rn_creatable_topic_array_t){1, &t};
    off += encode(buf + off, sizeof(buf) - off, RN_API_API_VERSIONS, 3, 500, &av);
    off += encode(buf + off, sizeof(buf) - off, RN_API_CREATE_TOPICS, 7, 501, &creq);
    off += encode(buf + off, sizeof(buf) - off, RN_API_API_VERSIONS, 3, 502, &av);
    off += encode(buf + off, sizeof(buf) - off, RN_API_CREATE_TOPICS, 7, 503, &creq);
    send_all(fd, buf, off);
    int in_order = 1;
    for (int32_t want = 500; want <= 503; want++) {
        size_t len;
        uint8_t *f = recv_frame(fd, &len);
        in_order &= f != NULL && (int32_t)rn_load_be32(f) == want;
        free(f);
    }
    ok(in_order, "sync and async responses in request order");
}

int main(void)
{
    evthread_use_pthreads();
    if (mkdtemp(dir) == NULL)
        return 1;
    rn_arena_init(&arena, 0);
    int port = start();
    ok(port > 0, "broker started on port %d", port);
    if (port <= 0)
        return done_testing();
    int fd = connect_to(port);
    test_api_versions_raw(fd);
    test_unsupported(port);
    test_metadata(fd, port);
    test_topics_admin(fd);
    test_pipelined(fd);
    close(fd);
    stop();

    /* Restart on the same data dir: the topics and their configs are back. */
    port = start();
    ok(port > 0, "broker restarted");
    fd = connect_to(port);
    rn_metadata_request_t mreq;
    rn_metadata_request_init(&mreq);
    mreq.topics.count = -1;
    rn_metadata_response_t *resp = call(fd, RN_API_METADATA, 12, &mreq);
    int found = 0;
    for (int32_t i = 0; resp && i < resp->topics.count; i++) {
        const rn_metadata_response_topic_t *t = &resp->topics.items[i];
        if (rn_str_eq_cstr(t->name, "orders"))
            found += t->partitions.count == 5;
        if (rn_str_eq_cstr(t->name, "auto1") || rn_str_eq_cstr(t->name, "piped"))
            found++;
        if (rn_str_eq_cstr(t->name, "dry"))
            found += 100;
    }
    is(found, 3, "orders (5 partitions), auto1, piped back; dry stays deleted");
    rn_describe_configs_result_t *d = describe(fd, 2, "orders");
    const rn_describe_configs_resource_result_t *e = find_entry(d, "segment.ms");
    ok(e && rn_str_eq_cstr(e->value, "100000") && e->config_source == 1,
       "override survived the restart");
    close(fd);
    stop();
    rn_arena_free(&arena);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
