/* Handlers for what clients ask first: ApiVersions, Metadata (with topic auto-creation)
 * and DescribeCluster. */
#include "acl/rn_authz.h"
#include "rn_clock.h"
#include "rn_handlers.h"

#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_str.h"

#include <string.h>
#include <time.h>

static bool alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* KIP-511's rule for the client software name and version (v3+):
 * [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? */
static bool valid_software_field(rn_str_t s)
{
    if (s.len <= 0 || !alnum(s.ptr[0]) || !alnum(s.ptr[s.len - 1]))
        return false;
    for (int32_t i = 1; i < s.len - 1; i++)
        if (!alnum(s.ptr[i]) && s.ptr[i] != '-' && s.ptr[i] != '.')
            return false;
    return true;
}

int rn_handle_api_versions(rn_req_t *req)
{
    rn_api_versions_response_t *resp = req->response;
    const rn_api_versions_request_t *areq = req->request;
    if (areq != NULL && req->api_version >= 3 && req->api_version <= req->api->max_version &&
        (!valid_software_field(areq->client_software_name) ||
         !valid_software_field(areq->client_software_version))) {
        /* As Kafka: INVALID_REQUEST and no keys, in the requested version's layout. */
        resp->error_code = RN_KERR_INVALID_REQUEST;
        return 0;
    }
    if (req->request == NULL || req->api_version > req->api->max_version) {
        /* Kafka's rule for a version we do not serve: answer in the v0 layout with
         * UNSUPPORTED_VERSION and only ApiVersions' own range (ApiVersionsRequest's error
         * response), from which the client picks the version to retry with. */
        resp->error_code = RN_KERR_UNSUPPORTED_VERSION;
        req->response_version = 0;
        rn_api_versions_response_key_t *key =
            rn_api_versions_response_key_array_alloc(&req->arena, &resp->api_keys, 1);
        if (key == NULL)
            return RN_ENOMEM;
        key->api_key = RN_API_API_VERSIONS;
        if (!rn_rpc_served_range(RN_API_API_VERSIONS, &key->min_version, &key->max_version))
            return RN_EINVAL;
        return 0;
    }
    return rn_rpc_fill_api_versions(resp, &req->arena);
}

/* Brokers and cluster fields shared by Metadata and DescribeCluster. */
static int fill_brokers(rn_req_t *req, rn_metadata_response_broker_array_t *arr)
{
    rn_broker_t *b = rn_req_broker(req);
    int n = rn_broker_node_count(b);
    rn_metadata_response_broker_t *items =
        rn_metadata_response_broker_array_alloc(&req->arena, arr, n);
    if (items == NULL)
        return RN_ENOMEM;
    for (int i = 0; i < n; i++) {
        const char *host;
        rn_broker_node_on(b, req->listener, i, &items[i].node_id, &host, &items[i].port);
        items[i].host = rn_req_strf(req, "%s", host); /* the image's may change before sent */
    }
    return 0;
}

/* Authorized operations (KIP-430) as bit sets of Kafka's AclOperation codes. Without an
 * authorizer, like Kafka without one, every operation that applies is reported:
 * topics READ 3, WRITE 4, CREATE 5, DELETE 6, ALTER 7, DESCRIBE 8, DESCRIBE_CONFIGS 10,
 * ALTER_CONFIGS 11; the cluster CREATE, ALTER, DESCRIBE, CLUSTER_ACTION 9,
 * DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE 12. */
#define TOPIC_OPERATIONS                                                                           \
    ((1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8) | (1 << 10) | (1 << 11))
#define CLUSTER_OPERATIONS                                                                         \
    ((1 << 5) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 10) | (1 << 11) | (1 << 12))

/* The operations of set the client may do on the resource (each asked of the authorizer). */
static int32_t authorized_ops(const rn_req_t *req, int32_t set, int8_t resource_type, rn_str_t name)
{
    if (!rn_authz_on(req))
        return set;
    int32_t ops = 0;
    for (int8_t op = RN_ACL_OP_READ; op <= RN_ACL_OP_IDEMPOTENT_WRITE; op++)
        if ((set & (1 << op)) != 0 && rn_authz_allowed(req, op, resource_type, name))
            ops |= 1 << op;
    return ops;
}

/* The cluster's authorized operations as Kafka reports them in Metadata and DescribeCluster:
 * none unless the client may DESCRIBE the cluster (the brokers are listed either way). */
static int32_t cluster_ops(const rn_req_t *req)
{
    if (!rn_authz_cluster(req, RN_ACL_OP_DESCRIBE))
        return 0;
    return authorized_ops(req, CLUSTER_OPERATIONS, RN_ACL_RES_CLUSTER, rn_str(RN_ACL_CLUSTER_NAME));
}

static bool may_describe(const rn_req_t *req, const rn_topic_t *topic)
{
    return !rn_authz_on(req) || rn_authz_allowed(req, RN_ACL_OP_DESCRIBE, RN_ACL_RES_TOPIC,
                                                 (rn_str_t){topic->name, (int32_t)topic->name_len});
}

/* One topic as Metadata shows it. A topic not yet on disk reports LEADER_NOT_AVAILABLE,
 * as Kafka does while a new topic's leaders are being elected, and no leader. (A request
 * that names such a topic, or asks for all, waits for the directories first, see
 * rn_handle_metadata, so this is mostly what it answers when they could not be made.)
 *
 * Why not advertise the leader as soon as the records are applied, as Kafka's metadata
 * cache does? There, the cache and the replica manager take the same metadata delta one
 * after the other, so the broker hosts the log a moment after it names itself leader and
 * the NOT_LEADER_OR_FOLLOWER a Produce may meet in between is rare. Here a large
 * CreateTopics is answered once the records are committed and its directories take a few
 * hundred ms more (rn_topics_commit_records): a client told the leader then would spend
 * them refreshing metadata after every refused Produce. LEADER_NOT_AVAILABLE is the code
 * Kafka answers for a partition with no usable leader; clients keep the records and retry. */
static int fill_topic(rn_req_t *req, rn_metadata_response_topic_t *out, const rn_topic_t *topic)
{
    const rn_metadata_request_t *mreq = req->request;
    out->error_code = topic->ready ? RN_KERR_NONE : RN_KERR_LEADER_NOT_AVAILABLE;
    out->name = (rn_str_t){topic->name, (int32_t)topic->name_len};
    out->topic_id = topic->id;
    out->is_internal = topic->internal;
    if (mreq->include_topic_authorized_operations)
        out->topic_authorized_operations =
            authorized_ops(req, TOPIC_OPERATIONS, RN_ACL_RES_TOPIC, out->name);
    if (!topic->ready)
        return 0;
    rn_metadata_response_partition_t *parts = rn_metadata_response_partition_array_alloc(
        &req->arena, &out->partitions, topic->n_partitions);
    if (parts == NULL && topic->n_partitions > 0)
        return RN_ENOMEM;
    for (int32_t i = 0; i < topic->n_partitions; i++) {
        const rn_partition_t *part = topic->partitions[i];
        rn_metadata_response_partition_t *p = &parts[i];
        p->error_code = part->leader_id >= 0 ? RN_KERR_NONE : RN_KERR_LEADER_NOT_AVAILABLE;
        p->partition_index = part->index;
        p->leader_id = part->leader_id;
        p->leader_epoch = part->leader_epoch;
        /* The response is encoded before control returns to the loop, so the partition's
         * own arrays can be referenced rather than copied. */
        p->replica_nodes = (rn_int32_array_t){part->n_replicas, part->replicas};
        p->isr_nodes = (rn_int32_array_t){part->n_isr, part->isr};
        p->offline_replicas = (rn_int32_array_t){0, NULL};
    }
    return 0;
}

/* Per requested topic: an error decided up front, or 0 = look the topic up when answering. */
typedef struct md_state {
    int16_t *errors;
} md_state_t;

static bool md_all_topics(const rn_req_t *req)
{
    const rn_metadata_request_t *mreq = req->request;
    /* null = all topics (v1+); in v0 an empty list meant all topics */
    return mreq->topics.count < 0 || (req->api_version == 0 && mreq->topics.count == 0);
}

static int md_answer(rn_req_t *req, const int16_t *errors)
{
    rn_broker_t *b = rn_req_broker(req);
    const rn_metadata_request_t *mreq = req->request;
    rn_metadata_response_t *resp = req->response;
    int rc = fill_brokers(req, &resp->brokers);
    if (rc != 0)
        return rc;
    resp->cluster_id = rn_str(b->cluster_id);
    resp->controller_id = b->controller_id;
    if (mreq->include_cluster_authorized_operations)
        resp->cluster_authorized_operations = cluster_ops(req);

    if (md_all_topics(req)) {
        /* Topics the client may not DESCRIBE are left out, as Kafka does. */
        int32_t n = (int32_t)rn_topics_count(b->topics), shown = 0;
        rn_metadata_response_topic_t *out =
            rn_metadata_response_topic_array_alloc(&req->arena, &resp->topics, n);
        if (out == NULL && n > 0)
            return RN_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            const rn_topic_t *topic = rn_topics_at(b->topics, (size_t)i);
            if (!may_describe(req, topic))
                continue;
            if ((rc = fill_topic(req, &out[shown++], topic)) != 0)
                return rc;
        }
        resp->topics.count = shown;
        return 0;
    }
    int32_t n = mreq->topics.count;
    rn_metadata_response_topic_t *out =
        rn_metadata_response_topic_array_alloc(&req->arena, &resp->topics, n);
    if (out == NULL && n > 0)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const rn_metadata_request_topic_t *want = &mreq->topics.items[i];
        const rn_topic_t *topic = NULL;
        if (want->name.len >= 0)
            topic = rn_topics_find(b->topics, want->name.ptr, (size_t)want->name.len);
        else
            topic = rn_topics_find_id(b->topics, &want->topic_id);
        if (topic != NULL && errors[i] == 0) {
            if ((rc = fill_topic(req, &out[i], topic)) != 0)
                return rc;
            continue;
        }
        out[i].topic_id = want->topic_id;
        if (want->name.len >= 0) {
            out[i].name = want->name;
            /* A topic whose creation was rolled back: the client retries. */
            out[i].error_code = errors[i] ? errors[i] : RN_KERR_LEADER_NOT_AVAILABLE;
        } else {
            out[i].name = req->api_version >= 12 ? RN_STR_NULL : rn_str("");
            out[i].error_code = errors[i] ? errors[i] : RN_KERR_UNKNOWN_TOPIC_ID;
        }
    }
    return 0;
}

static void md_persisted(void *arg, int rc)
{
    rn_req_t *req = arg;
    if (!rn_req_orphaned(req)) {
        md_state_t *st = req->user;
        if (md_answer(req, st->errors) != 0)
            rn_req_no_response(req); /* out of memory: the client times out and retries */
    }
    rn_req_complete(req);
}

static bool reserved_name(const char *name, size_t len)
{
    return (len == 18 && memcmp(name, "__consumer_offsets", 18) == 0) ||
           (len == 19 && memcmp(name, "__transaction_state", 19) == 0);
}

/* Take one topic from auto.create.topics.rate's bucket; false when it is empty. */
static bool autocreate_token(rn_broker_t *b)
{
    int64_t now = rn_clock_mono_ms();
    double rate = (double)rn_config_int(b->cfg, RN_CFG_AUTO_CREATE_TOPICS_RATE);
    if (b->autocreate_ms == 0)
        b->autocreate_tokens = rate;
    else
        b->autocreate_tokens += rate * (double)(now - b->autocreate_ms) / 1000.0;
    if (b->autocreate_tokens > rate)
        b->autocreate_tokens = rate;
    b->autocreate_ms = now;
    if (b->autocreate_tokens < 1.0)
        return false;
    b->autocreate_tokens -= 1.0;
    return true;
}

int rn_handle_metadata(rn_req_t *req)
{
    rn_broker_t *b = rn_req_broker(req);
    const rn_metadata_request_t *mreq = req->request;
    int32_t n = md_all_topics(req) ? 0 : mreq->topics.count;
    md_state_t *st = rn_arena_calloc(&req->arena, 1, sizeof(*st));
    int16_t *errors = rn_arena_calloc(&req->arena, (size_t)n + 1, sizeof(int16_t));
    if (st == NULL || errors == NULL)
        return RN_ENOMEM;
    st->errors = errors;
    req->user = st;
    bool allow_create = rn_config_bool(b->cfg, RN_CFG_AUTO_CREATE_TOPICS_ENABLE) &&
                        (req->api_version < 4 || mreq->allow_auto_topic_creation);
    bool wait = false;
    int64_t partitions = rn_config_int(b->cfg, RN_CFG_NUM_PARTITIONS);
    int64_t room = -1; /* max.partitions room, computed on the first creation */
    int32_t refused = 0;
    for (int32_t i = 0; i < n; i++) {
        rn_str_t name = mreq->topics.items[i].name;
        if (name.len < 0) { /* by topic id (v10+): never created */
            const rn_topic_t *byid = rn_topics_find_id(b->topics, &mreq->topics.items[i].topic_id);
            if (byid != NULL && !may_describe(req, byid))
                errors[i] = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
            continue;
        }
        if (!rn_authz_allowed(req, RN_ACL_OP_DESCRIBE, RN_ACL_RES_TOPIC, name)) {
            errors[i] = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
            continue;
        }
        const char *ptr = name.ptr ? name.ptr : "";
        char why[400];
        if (rn_topics_valid_name(ptr, (size_t)name.len, why, sizeof(why)) != 0) {
            errors[i] = RN_KERR_INVALID_TOPIC_EXCEPTION;
            continue;
        }
        rn_topic_t *topic = rn_topics_find(b->topics, ptr, (size_t)name.len);
        if (topic != NULL) {
            wait |= !topic->ready;
            continue;
        }
        if (!allow_create || reserved_name(ptr, (size_t)name.len)) {
            errors[i] = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            continue;
        }
        if (rn_topics_check_new(b->topics, ptr, (size_t)name.len, why, sizeof(why)) != 0) {
            errors[i] = RN_KERR_INVALID_TOPIC_EXCEPTION; /* collides with an existing name */
            continue;
        }
        /* Auto-creation needs CREATE on the cluster or the topic, as CreateTopics. */
        if (!rn_authz_cluster(req, RN_ACL_OP_CREATE) &&
            !rn_authz_allowed(req, RN_ACL_OP_CREATE, RN_ACL_RES_TOPIC, name)) {
            errors[i] = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
            continue;
        }
        if (room < 0)
            room = rn__partition_room(b);
        /* Over max.partitions or auto.create.topics.rate: not created (yet); the client
         * sees the topic as unknown and retries, as when creation is off. */
        if (partitions > room || !autocreate_token(b)) {
            errors[i] = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            refused++;
            continue;
        }
        room -= partitions;
        rn_topics_create(b->topics, ptr, (size_t)name.len, (int32_t)partitions,
                         b->cfg->default_replication_factor, NULL);
        wait = true;
    }
    if (refused > 0)
        RN_DEBUG("metadata",
                 "peer %s: %d topic(s) not auto-created (auto.create.topics.rate "
                 "or max.partitions)",
                 req->peer, refused);
    if (md_all_topics(req))
        for (size_t i = 0; i < rn_topics_count(b->topics); i++)
            wait |= !rn_topics_at(b->topics, i)->ready;
    if (!wait)
        return md_answer(req, errors);
    /* Answer once new topics are on disk: the client gets leaders on its first try. */
    rn_req_park(req, NULL, NULL);
    rn_topics_commit(b->topics, b->offload, md_persisted, req);
    return RN_HANDLED_ASYNC;
}

int rn_handle_describe_cluster(rn_req_t *req)
{
    rn_broker_t *b = rn_req_broker(req);
    const rn_describe_cluster_request_t *dreq = req->request;
    rn_describe_cluster_response_t *resp = req->response;
    /* Every listener carries client and controller traffic (combined mode), so a request
     * for controller endpoints (type 2, bootstrap.controllers) is answered with the same
     * nodes, where Kafka's broker listener answers MISMATCHED_ENDPOINT_TYPE. */
    resp->endpoint_type = dreq->endpoint_type;
    resp->cluster_id = rn_str(b->cluster_id);
    resp->controller_id = b->controller_id;
    if (dreq->include_cluster_authorized_operations)
        resp->cluster_authorized_operations = cluster_ops(req);
    int n = rn_broker_node_count(b);
    rn_describe_cluster_broker_t *items =
        rn_describe_cluster_broker_array_alloc(&req->arena, &resp->brokers, n);
    if (items == NULL)
        return RN_ENOMEM;
    for (int i = 0; i < n; i++) {
        const char *host;
        rn_broker_node_on(b, req->listener, i, &items[i].broker_id, &host, &items[i].port);
        items[i].host = rn_req_strf(req, "%s", host);
    }
    return RN_HANDLED_SYNC;
}
