/* The console's write actions, off unless console.write.enable: each is one Kafka request
 * sent to this node's own listener through rn_peer, so it is handled by the broker's own
 * handlers (CreateTopics, CreatePartitions, IncrementalAlterConfigs, OffsetCommit,
 * Produce) with their checks, limits and quotas, and answered as they answer. Parameters
 * come from the query string; a produced record's value is the request body. */
#include "console/console_int.h"

#include "rn_alloc.h"
#include "rn_broker.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_peer.h"
#include "rn_proto.h"
#include "rn_records.h"
#include "rn_rpc.h"
#include "rn_str.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <string.h>

#define WRITE_TIMEOUT_MS 15000

/* A write waiting for its answer. req is NULL once the HTTP connection went away. */
struct rn__console_pending {
    rn_console_t *con;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;
    int16_t api_key;
    rn__console_pending_t *next;
};

static void unlink_pending(rn_console_t *con, rn__console_pending_t *p)
{
    for (rn__console_pending_t **pp = &con->pending; *pp != NULL; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            return;
        }
}

static void on_http_closed(struct evhttp_connection *evcon, void *arg)
{
    rn__console_pending_t *p = arg;
    p->req = NULL;
    p->evcon = NULL;
}

/* The connection to this node's own Kafka listener, created on first use. */
static rn_peer_t *self_peer(rn_console_t *con)
{
    if (con->self != NULL)
        return con->self;
    rn_broker_t *b = con->b;
    const char *host = b->cfg->listeners[b->inter_broker_listener].host;
    if (host[0] == '\0' || strcmp(host, "0.0.0.0") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0)
        host = "::1";
    rn_peer_opts_t opts = {.host = host,
                           .port = rn_broker_port(b),
                           .node_id = b->node_id,
                           .client_id = "runnel-console",
                           .request_timeout_ms = WRITE_TIMEOUT_MS,
                           .max_requests = 64,
                           .max_request_bytes = 4 << 20,
                           .max_response_bytes = 4 << 20};
    con->self = rn_peer_new(b->base, &opts);
    return con->self;
}

static void answer(rn__console_pending_t *p, int16_t error, const char *message, int64_t value,
                   const char *value_name)
{
    if (p->req == NULL)
        return;
    if (p->evcon != NULL)
        evhttp_connection_set_closecb(p->evcon, NULL, NULL);
    rn_json_t j;
    rn_json_init(&j, 65536);
    rn_json_obj(&j);
    rn_json_kbool(&j, "ok", error == RN_KERR_NONE);
    rn_json_ki64(&j, "error_code", error);
    rn_json_kstr(&j, "error", error == RN_KERR_NONE ? NULL : rn_kerr_name(error));
    if (message != NULL)
        rn_json_kstr(&j, "message", message);
    if (value_name != NULL && error == RN_KERR_NONE)
        rn_json_ki64(&j, value_name, value);
    rn_json_end(&j);
    rn__console_reply(p->req, &j);
    rn_json_free(&j);
}

static void on_answer(void *arg, int status, const void *response)
{
    rn__console_pending_t *p = arg;
    unlink_pending(p->con, p);
    if (status != RN_PEER_OK) {
        if (p->req != NULL) {
            if (p->evcon != NULL)
                evhttp_connection_set_closecb(p->evcon, NULL, NULL);
            char msg[128];
            snprintf(msg, sizeof(msg), "this node did not answer: %s", rn_peer_status_name(status));
            rn__console_error(p->req, 502, msg);
        }
        rn_free(p);
        return;
    }
    int16_t err = RN_KERR_NONE;
    char msg[256] = "";
    int64_t value = 0;
    const char *value_name = NULL;
    switch (p->api_key) {
    case RN_API_CREATE_TOPICS: {
        const rn_create_topics_response_t *r = response;
        if (r->topics.count > 0) {
            err = r->topics.items[0].error_code;
            if (!rn_str_is_null(r->topics.items[0].error_message))
                snprintf(msg, sizeof(msg), "%.*s", RN_STR_ARGS(r->topics.items[0].error_message));
        }
        break;
    }
    case RN_API_CREATE_PARTITIONS: {
        const rn_create_partitions_response_t *r = response;
        if (r->results.count > 0) {
            err = r->results.items[0].error_code;
            if (!rn_str_is_null(r->results.items[0].error_message))
                snprintf(msg, sizeof(msg), "%.*s", RN_STR_ARGS(r->results.items[0].error_message));
        }
        break;
    }
    case RN_API_INCREMENTAL_ALTER_CONFIGS: {
        const rn_incremental_alter_configs_response_t *r = response;
        if (r->responses.count > 0) {
            err = r->responses.items[0].error_code;
            if (!rn_str_is_null(r->responses.items[0].error_message))
                snprintf(msg, sizeof(msg), "%.*s",
                         RN_STR_ARGS(r->responses.items[0].error_message));
        }
        break;
    }
    case RN_API_OFFSET_COMMIT: {
        const rn_offset_commit_response_t *r = response;
        if (r->topics.count > 0 && r->topics.items[0].partitions.count > 0)
            err = r->topics.items[0].partitions.items[0].error_code;
        break;
    }
    case RN_API_PRODUCE: {
        const rn_produce_response_t *r = response;
        if (r->responses.count > 0 && r->responses.items[0].partition_responses.count > 0) {
            const rn_partition_produce_response_t *pr =
                &r->responses.items[0].partition_responses.items[0];
            err = pr->error_code;
            value = pr->base_offset;
            value_name = "offset";
        }
        break;
    }
    }
    answer(p, err, msg[0] ? msg : NULL, value, value_name);
    rn_free(p);
}

/* Send the request and park the HTTP request until the answer. */
static void send_request(const rn__console_q_t *q, int16_t api_key, int16_t max_version,
                         const void *request)
{
    rn_console_t *con = q->con;
    rn_peer_t *peer = self_peer(con);
    if (peer == NULL) {
        rn__console_error(q->req, 503, "cannot reach this node's own listener");
        return;
    }
    int16_t version = rn_peer_version(peer, api_key, max_version);
    rn__console_pending_t *p = rn_xcalloc(1, sizeof(*p));
    p->con = con;
    p->req = q->req;
    p->api_key = api_key;
    int rc =
        rn_peer_send(peer, api_key, version >= 0 ? version : max_version, request, on_answer, p);
    if (rc != 0) {
        rn_free(p);
        rn__console_error(q->req, 503, rn_strerror(rc));
        return;
    }
    p->evcon = evhttp_request_get_connection(q->req);
    if (p->evcon != NULL)
        evhttp_connection_set_closecb(p->evcon, on_http_closed, p);
    p->next = con->pending;
    con->pending = p;
    RN_INFO("console", "node %d: %s sent on behalf of the console", con->b->node_id,
            rn_rpc_api(api_key) != NULL ? rn_rpc_api(api_key)->name : "request");
}

void rn__console_write_free(rn_console_t *con)
{
    /* rn_peer_free cancels what is in flight: on_answer frees each pending (its HTTP request
     * is gone with the server, so the answers go nowhere). */
    for (rn__console_pending_t *p = con->pending; p != NULL; p = p->next) {
        if (p->evcon != NULL)
            evhttp_connection_set_closecb(p->evcon, NULL, NULL);
        p->req = NULL;
    }
    rn_peer_free(con->self);
    con->self = NULL;
}

static const char *need(const rn__console_q_t *q, const char *name)
{
    const char *v = rn__console_param(q, name);
    if (v == NULL || *v == '\0') {
        char msg[96];
        snprintf(msg, sizeof(msg), "parameter %s is required", name);
        rn__console_error(q->req, 400, msg);
        return NULL;
    }
    return v;
}

void rn__console_create_topic(const rn__console_q_t *q)
{
    int64_t partitions, rf;
    const char *name = need(q, "name");
    if (name == NULL || !rn__console_int(q, "partitions", 1, 1, 100000, &partitions) ||
        !rn__console_int(q, "replication_factor", -1, -1, 32767, &rf))
        return;
    rn_creatable_topic_t topic;
    rn_creatable_topic_init(&topic);
    topic.name = rn_str(name);
    topic.num_partitions = (int32_t)partitions;
    topic.replication_factor = (int16_t)rf;
    rn_create_topics_request_t req;
    rn_create_topics_request_init(&req);
    req.topics.count = 1;
    req.topics.items = &topic;
    req.timeout_ms = WRITE_TIMEOUT_MS - 1000;
    send_request(q, RN_API_CREATE_TOPICS, 7, &req);
}

void rn__console_add_partitions(const rn__console_q_t *q)
{
    int64_t count;
    const char *name = need(q, "name");
    if (name == NULL || !rn__console_int(q, "count", 0, 1, 100000, &count))
        return;
    rn_create_partitions_topic_t topic;
    rn_create_partitions_topic_init(&topic);
    topic.name = rn_str(name);
    topic.count = (int32_t)count;
    topic.assignments.count = -1;
    rn_create_partitions_request_t req = {{1, &topic}, WRITE_TIMEOUT_MS - 1000, false};
    send_request(q, RN_API_CREATE_PARTITIONS, 3, &req);
}

void rn__console_alter_config(const rn__console_q_t *q)
{
    const char *name = need(q, "name"), *key = name != NULL ? need(q, "key") : NULL;
    if (key == NULL)
        return;
    const char *value = rn__console_param(q, "value"); /* absent: back to the default */
    rn_incremental_alterable_config_t cfg = {rn_str(key), value != NULL ? 0 : 1, rn_str(value)};
    rn_incremental_alter_configs_resource_t res = {2 /* TOPIC */, rn_str(name), {1, &cfg}};
    rn_incremental_alter_configs_request_t req = {{1, &res}, false};
    send_request(q, RN_API_INCREMENTAL_ALTER_CONFIGS, 1, &req);
}

void rn__console_reset_offsets(const rn__console_q_t *q)
{
    int64_t partition, offset;
    const char *group = need(q, "group"), *topic = group != NULL ? need(q, "topic") : NULL;
    if (topic == NULL || !rn__console_int(q, "partition", 0, 0, INT32_MAX, &partition) ||
        !rn__console_int(q, "offset", -1, 0, INT64_MAX, &offset))
        return;
    if (offset < 0) {
        rn__console_error(q->req, 400, "parameter offset is required");
        return;
    }
    /* A commit outside any generation, as kafka-consumer-groups --reset-offsets makes it:
     * the coordinator refuses it while the group has members. */
    rn_offset_commit_request_partition_t part;
    rn_offset_commit_request_partition_init(&part);
    part.partition_index = (int32_t)partition;
    part.committed_offset = offset;
    part.committed_metadata = rn_str("");
    rn_offset_commit_request_topic_t t = {rn_str(topic), {1, &part}};
    rn_offset_commit_request_t req;
    rn_offset_commit_request_init(&req);
    req.group_id = rn_str(group);
    req.generation_id_or_member_epoch = -1;
    req.member_id = rn_str("");
    req.topics.count = 1;
    req.topics.items = &t;
    send_request(q, RN_API_OFFSET_COMMIT, 8, &req);
}

void rn__console_produce(const rn__console_q_t *q)
{
    int64_t partition;
    const char *topic = need(q, "topic");
    if (topic == NULL || !rn__console_int(q, "partition", 0, 0, INT32_MAX, &partition))
        return;
    const char *key = rn__console_param(q, "key");
    struct evbuffer *body = evhttp_request_get_input_buffer(q->req);
    size_t len = evbuffer_get_length(body);
    const uint8_t *value = evbuffer_pullup(body, -1);
    rn_record_spec_t rec = {
        key, key != NULL ? strlen(key) : 0, value != NULL ? value : (const uint8_t *)"", len, NULL,
        0,   rn__console_now_ms()};
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    uint8_t *batch;
    size_t batch_len;
    if (rn_batch_build(&spec, &rec, 1, &batch, &batch_len) != 0) {
        rn__console_error(q->req, 400, "cannot build a batch of that record");
        return;
    }
    rn_partition_produce_data_t pd = {(int32_t)partition,
                                      {.ptr = batch, .len = (int32_t)batch_len}};
    rn_topic_produce_data_t td = {rn_str(topic), {1, &pd}};
    rn_produce_request_t req;
    rn_produce_request_init(&req);
    req.acks = -1;
    req.timeout_ms = WRITE_TIMEOUT_MS - 1000;
    req.topic_data.count = 1;
    req.topic_data.items = &td;
    send_request(q, RN_API_PRODUCE, 9, &req);
    rn_free(batch);
}
