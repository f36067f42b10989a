/* Handlers that change the set of topics: CreateTopics, DeleteTopics, CreatePartitions.
 * Each validates every entry, applies the valid ones to the topic manager in memory, and
 * answers once the change is committed and on disk (RN_HANDLED_ASYNC) — a large CreateTopics
 * once it is committed, its partitions becoming ready when their directories are durable. */
#include "rn_handlers.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_str.h"
#include "acl/rn_authz.h"
#include "controller/rn_cluster.h"
#include "meta/rn_keyset.h"

#include <string.h>
#include <sys/resource.h>

rn__admin_state_t *rn__admin_state(rn_req_t *req, int32_t max)
{
    rn__admin_state_t *st = rn_arena_calloc(&req->arena, 1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->codes = rn_arena_calloc(&req->arena, (size_t)max + 1, sizeof(int16_t *));
    st->messages = rn_arena_calloc(&req->arena, (size_t)max + 1, sizeof(rn_str_t *));
    return st->codes && st->messages ? st : NULL;
}

/* Remember a result that depends on the persist succeeding. */
void rn__admin_track(rn__admin_state_t *st, int16_t *code, rn_str_t *message)
{
    st->codes[st->n] = code;
    st->messages[st->n] = message;
    st->n++;
}

static void admin_persisted(void *arg, int rc)
{
    rn_req_t *req = arg;
    rn__admin_state_t *st = req->user;
    if (rc != 0 && !rn_req_orphaned(req)) {
        int16_t code = rc == RN_ENOTLEADER ? RN_KERR_NOT_CONTROLLER : RN_KERR_KAFKA_STORAGE_ERROR;
        for (int i = 0; i < st->n; i++) {
            *st->codes[i] = code;
            if (st->messages[i] != NULL && code == RN_KERR_KAFKA_STORAGE_ERROR)
                *st->messages[i] = rn_req_strf(req, "The broker could not write its topic "
                                                    "registry to disk; see its log.");
        }
    }
    rn_req_complete(req);
}

/* Answer now, or once the changes are on disk (on_commit: committed) when there are any. */
int rn__admin_finish(rn_req_t *req, rn__admin_state_t *st, bool on_commit)
{
    rn_broker_t *b = rn_req_broker(req);
    if (st->n == 0 || !rn_topics_dirty(b->topics))
        return RN_HANDLED_SYNC;
    req->user = st;
    rn_req_park(req, NULL, NULL);
    if (on_commit)
        rn_topics_commit_records(b->topics, b->offload, admin_persisted, req);
    else
        rn_topics_commit(b->topics, b->offload, admin_persisted, req);
    return RN_HANDLED_ASYNC;
}

/* Count the names of n entries (slices stride bytes apart) into set: a name given twice is
 * one slot with count 2, so each entry's duplicate check costs O(1). RN_ENOMEM when the
 * table for a client-sized count cannot be had. */
static int count_names(rn_keyset_t *set, const rn_str_t *names, size_t stride, int32_t n)
{
    int rc = rn_keyset_init(set, (size_t)n);
    if (rc != 0)
        return rc;
    for (int32_t i = 0; i < n; i++) {
        rn_str_t name = *(const rn_str_t *)((const char *)names + (size_t)i * stride);
        rn_keyset_add(set, name.ptr, name.len > 0 ? (size_t)name.len : 0, name.len < 0);
    }
    return 0;
}

/* The slot of a counted name: count > 1 means duplicated; value is -1 until the first
 * occurrence has been answered (Kafka answers a name given twice once). */
static rn_keyset_slot_t *name_slot(const rn_keyset_t *set, rn_str_t name)
{
    return rn_keyset_find(set, name.ptr, name.len > 0 ? (size_t)name.len : 0, name.len < 0);
}

int64_t rn__partition_room(const rn_broker_t *b)
{
    int64_t max = rn_config_int(b->cfg, RN_CFG_MAX_PARTITIONS);
    if (max < 0) {
        /* Every partition log costs one fd per segment, its .log (the indexes are mapped
         * and closed): one each for partitions of one segment; keep 256 for connections and
         * the data directory's own files. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY ||
            rl.rlim_cur > (rlim_t)INT32_MAX)
            max = INT32_MAX;
        else
            max = rl.rlim_cur > 256 + 1 ? (int64_t)(rl.rlim_cur - 256) : 1;
    }
    int64_t have = 0;
    for (size_t i = 0; i < rn_topics_count(b->topics); i++)
        have += rn_topics_at(b->topics, i)->n_partitions;
    return have < max ? max - have : 0;
}

/* The request-wide partition budgets of CreateTopics and CreatePartitions. */
typedef struct part_budget {
    int64_t request; /* max.partitions.per.request still unused */
    int64_t node;    /* max.partitions room still unused */
} part_budget_t;

static part_budget_t part_budget(const rn_broker_t *b)
{
    return (part_budget_t){rn_config_int(b->cfg, RN_CFG_MAX_PARTITIONS_PER_REQUEST),
                           rn__partition_room(b)};
}

/* Take add partitions from the budgets, or set POLICY_VIOLATION (as Kafka answers an
 * operation that would write more than its 10000 records) and return false. */
static bool take_partitions(rn_req_t *req, part_budget_t *budget, int64_t add, int16_t *code,
                            rn_str_t *message)
{
    rn_broker_t *b = rn_req_broker(req);
    if (add > budget->request) {
        *code = RN_KERR_POLICY_VIOLATION;
        *message = rn_req_strf(req,
                               "Unable to perform excessively large batch operation: one "
                               "request may add at most %lld partitions "
                               "(max.partitions.per.request).",
                               (long long)rn_config_int(b->cfg, RN_CFG_MAX_PARTITIONS_PER_REQUEST));
        return false;
    }
    if (add > budget->node) {
        *code = RN_KERR_POLICY_VIOLATION;
        *message = rn_req_strf(req,
                               "This broker has room for %lld more partitions (max.partitions, "
                               "or what its open-file limit allows).",
                               (long long)budget->node);
        return false;
    }
    budget->request -= add;
    budget->node -= add;
    return true;
}

/* Kafka's INVALID_PARTITIONS for a count over max.partitions.per.topic. */
static bool partitions_allowed(rn_req_t *req, int64_t count, int16_t *code, rn_str_t *message)
{
    int64_t max = rn_config_int(rn_req_broker(req)->cfg, RN_CFG_MAX_PARTITIONS_PER_TOPIC);
    if (count <= max)
        return true;
    *code = RN_KERR_INVALID_PARTITIONS;
    *message = rn_req_strf(req,
                           "Number of partitions %lld is above this broker's limit of %lld per "
                           "topic (max.partitions.per.topic).",
                           (long long)count, (long long)max);
    return false;
}

/* Check an explicit replica list: non-empty, known nodes, no repeats. */
static bool valid_replicas(const rn_broker_t *b, const rn_int32_array_t *ids, int32_t want_len)
{
    if (ids->count <= 0 || (want_len > 0 && ids->count != want_len))
        return false;
    for (int32_t i = 0; i < ids->count; i++) {
        if (!rn_broker_is_node(b, ids->items[i]))
            return false;
        for (int32_t j = 0; j < i; j++)
            if (ids->items[j] == ids->items[i])
                return false;
    }
    return true;
}

/* ---- CreateTopics ---- */

/* A CreateTopics adding more partitions than this is answered once its records are
 * committed, as Kafka's controller answers it, and its partitions' directories are made
 * durable afterwards (rn_topics_commit_records); until a partition is ready Produce and
 * Fetch answer NOT_LEADER_OR_FOLLOWER, which clients retry, and Metadata waits for it. A
 * smaller one is answered once its directories are durable too, as before: that costs a
 * few fsyncs (8 directories at a time), about what the commit costs, and a client that
 * writes right after gets no retriable error — Kafka's own window after a small creation
 * lasts only until its broker applies the records, a few ms without fsyncs, and clients
 * (and scripts on the raw protocol) rarely see it. A large topic is where the directories
 * cost hundreds of ms, and where Kafka's brokers also take time to make the logs after the
 * answer. */
#define CREATE_ANSWER_ON_COMMIT_OVER 100

/* Validate one topic of a CreateTopics request into conf/partitions/rf; on failure set
 * res's error code and message and return false. */
static bool create_check(rn_req_t *req, const rn_creatable_topic_t *t, bool dup,
                         rn_creatable_topic_result_t *res, rn_topicconf_t *conf,
                         int32_t *partitions, int16_t *rf)
{
    rn_broker_t *b = rn_req_broker(req);
    char why[512];
    const char *name = t->name.ptr ? t->name.ptr : "";
    size_t len = t->name.len > 0 ? (size_t)t->name.len : 0;
    int nodes = rn_broker_node_count(b);
    if (dup) {
        res->error_code = RN_KERR_INVALID_REQUEST;
        res->error_message =
            rn_req_strf(req, "Duplicate topic name %.*s in the request.", RN_STR_ARGS(t->name));
        return false;
    }
    int rc = rn_topics_check_new(b->topics, name, len, why, sizeof(why));
    if (rc != 0) {
        res->error_code =
            rc == RN_EEXIST ? RN_KERR_TOPIC_ALREADY_EXISTS : RN_KERR_INVALID_TOPIC_EXCEPTION;
        res->error_message = rn_req_strf(req, "%s", why);
        return false;
    }
    if (t->assignments.count > 0) {
        if (t->num_partitions != -1 || t->replication_factor != -1) {
            res->error_code = RN_KERR_INVALID_REQUEST;
            res->error_message = rn_req_strf(
                req, "Both numPartitions or replicationFactor and replicasAssignments were set. "
                     "Both cannot be used at the same time.");
            return false;
        }
        if (!partitions_allowed(req, t->assignments.count, &res->error_code, &res->error_message))
            return false;
        int32_t width = t->assignments.items[0].broker_ids.count;
        uint8_t *seen_index = rn_arena_calloc(&req->arena, (size_t)t->assignments.count, 1);
        if (seen_index == NULL) {
            res->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
            res->error_message = RN_STR_NULL;
            return false;
        }
        for (int32_t i = 0; i < t->assignments.count; i++) {
            const rn_creatable_replica_assignment_t *a = &t->assignments.items[i];
            bool bad_index = a->partition_index < 0 || a->partition_index >= t->assignments.count;
            if (bad_index || seen_index[a->partition_index]++ ||
                !valid_replicas(b, &a->broker_ids, width)) {
                res->error_code = RN_KERR_INVALID_REPLICA_ASSIGNMENT;
                res->error_message =
                    rn_req_strf(req,
                                "Invalid replica assignment for partition %d: partitions must be "
                                "0..%d, each once, with %d distinct known broker ids.",
                                a->partition_index, t->assignments.count - 1, width);
                return false;
            }
        }
        *partitions = t->assignments.count;
        *rf = (int16_t)width;
    } else {
        *partitions = t->num_partitions == -1
                          ? (int32_t)rn_config_int(b->cfg, RN_CFG_NUM_PARTITIONS)
                          : t->num_partitions;
        *rf = t->replication_factor == -1 ? b->cfg->default_replication_factor
                                          : t->replication_factor;
        if (*partitions <= 0) {
            res->error_code = RN_KERR_INVALID_PARTITIONS;
            res->error_message =
                rn_req_strf(req, "Number of partitions was set to an invalid non-positive value.");
            return false;
        }
        if (!partitions_allowed(req, *partitions, &res->error_code, &res->error_message))
            return false;
        if (*rf <= 0 || *rf > nodes) {
            res->error_code = RN_KERR_INVALID_REPLICATION_FACTOR;
            res->error_message =
                *rf <= 0 ? rn_req_strf(req, "Replication factor must be larger than 0, or -1 to "
                                            "use the default value.")
                         : rn_req_strf(req,
                                       "Unable to replicate the partition %d time(s): The "
                                       "target replication factor of %d cannot be reached "
                                       "because only %d broker(s) are registered.",
                                       *rf, *rf, nodes);
            return false;
        }
    }
    for (int32_t i = 0; i < t->configs.count; i++) {
        const rn_creatable_topic_config_t *c = &t->configs.items[i];
        const char *value = c->value.len >= 0 ? rn_req_cstr(req, c->value) : NULL;
        rn_tc_key_t key;
        const char *cname = c->name.ptr ? c->name.ptr : "";
        size_t clen = (size_t)(c->name.len > 0 ? c->name.len : 0);
        rc = rn_topicconf_check(cname, clen, value, &key, why, sizeof(why));
        if (rc == 0)
            rc = rn_topicconf_check_bytes(cname, clen, c->value.ptr,
                                          c->value.len > 0 ? (size_t)c->value.len : 0, why,
                                          sizeof(why));
        if (rc != 0) {
            res->error_code = RN_KERR_INVALID_CONFIG; /* a null value too, as Kafka 4.x */
            res->error_message = rn_req_strf(req, "%s", why);
            return false;
        }
        rn_topicconf_set(conf, key, value);
    }
    return true;
}

/* v5+: the new topic's configs as DescribeConfigs would show them. */
static int create_result_configs(rn_req_t *req, rn_creatable_topic_result_t *res,
                                 const rn_topicconf_t *conf)
{
    rn_broker_t *b = rn_req_broker(req);
    rn_creatable_topic_result_config_t *items =
        rn_creatable_topic_result_config_array_alloc(&req->arena, &res->configs, RN_TC__COUNT);
    if (items == NULL)
        return RN_ENOMEM;
    for (int k = 0; k < RN_TC__COUNT; k++) {
        char buf[32];
        rn_tc_source_t source;
        const char *value =
            rn_topicconf_value(conf, b->cfg, (rn_tc_key_t)k, &source, buf, sizeof(buf));
        items[k].name = rn_str(rn_topicconf_def((rn_tc_key_t)k)->name);
        items[k].value = rn_req_strf(req, "%s", value);
        items[k].config_source = (int8_t)source;
    }
    return 0;
}

/* ---- authorization ---- */

#define TOPIC_DENIED "Authorization failed."

static bool may_create(const rn_req_t *req, rn_str_t name)
{
    return rn_authz_cluster(req, RN_ACL_OP_CREATE) ||
           rn_authz_allowed(req, RN_ACL_OP_CREATE, RN_ACL_RES_TOPIC, name);
}

/* A node that forwards sends the request whole, authorized with its client's principal
 * here (the controller sees the node's): one whose client may not do all of it is answered
 * here instead, each refused entry with TOPIC_AUTHORIZATION_FAILED (the rest NOT_CONTROLLER:
 * the client may send them to the controller). 0: go on. */
static int forward_denied(rn_req_t *req)
{
    if (!rn_authz_on(req) || !rn_cluster_forwards(req))
        return 0;
    bool all = true;
    if (req->api_key == RN_API_CREATE_TOPICS) {
        const rn_create_topics_request_t *r = req->request;
        for (int32_t i = 0; all && i < r->topics.count; i++)
            all = may_create(req, r->topics.items[i].name);
    } else if (req->api_key == RN_API_DELETE_TOPICS) {
        const rn_delete_topics_request_t *r = req->request;
        bool by_state = req->api_version >= 6;
        int32_t n = by_state ? r->topics.count : r->topic_names.count;
        for (int32_t i = 0; all && i < n; i++) {
            rn_str_t name = by_state ? r->topics.items[i].name : r->topic_names.items[i];
            if (name.len < 0) { /* by id: its name here */
                const rn_topic_t *t =
                    rn_topics_find_id(rn_req_broker(req)->topics, &r->topics.items[i].topic_id);
                name = t != NULL ? rn_str(t->name) : name;
            }
            all = name.len < 0 || rn_authz_allowed(req, RN_ACL_OP_DELETE, RN_ACL_RES_TOPIC, name);
        }
    } else {
        const rn_create_partitions_request_t *r = req->request;
        for (int32_t i = 0; all && i < r->topics.count; i++)
            all = rn_authz_allowed(req, RN_ACL_OP_ALTER, RN_ACL_RES_TOPIC, r->topics.items[i].name);
    }
    if (all)
        return 0;
    if (rn_cluster_answer_all(req, RN_KERR_NOT_CONTROLLER,
                              "Send this request to the controller.") != 0)
        return RN_ENOMEM;
    /* Then the refused entries say why. */
    if (req->api_key == RN_API_CREATE_TOPICS) {
        rn_create_topics_response_t *resp = req->response;
        for (int32_t i = 0; i < resp->topics.count; i++)
            if (!may_create(req, resp->topics.items[i].name))
                resp->topics.items[i].error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
    } else if (req->api_key == RN_API_DELETE_TOPICS) {
        rn_delete_topics_response_t *resp = req->response;
        for (int32_t i = 0; i < resp->responses.count; i++) {
            rn_str_t name = resp->responses.items[i].name;
            if (name.len >= 0 && !rn_authz_allowed(req, RN_ACL_OP_DELETE, RN_ACL_RES_TOPIC, name))
                resp->responses.items[i].error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
        }
    } else {
        rn_create_partitions_response_t *resp = req->response;
        for (int32_t i = 0; i < resp->results.count; i++)
            if (!rn_authz_allowed(req, RN_ACL_OP_ALTER, RN_ACL_RES_TOPIC,
                                  resp->results.items[i].name))
                resp->results.items[i].error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
    }
    rn_req_count_error(req);
    return RN_HANDLED_SYNC;
}

int rn_handle_create_topics(rn_req_t *req)
{
    int denied = forward_denied(req);
    if (denied != 0)
        return denied;
    int fwd = rn_cluster_forward(req); /* only the controller changes topics */
    if (fwd != 0)
        return fwd;
    rn_broker_t *b = rn_req_broker(req);
    const rn_create_topics_request_t *creq = req->request;
    rn_create_topics_response_t *resp = req->response;
    int32_t n = creq->topics.count > 0 ? creq->topics.count : 0;
    rn_creatable_topic_result_t *results =
        rn_creatable_topic_result_array_alloc(&req->arena, &resp->topics, n);
    rn__admin_state_t *st = rn__admin_state(req, n);
    if ((results == NULL && n > 0) || st == NULL)
        return RN_ENOMEM;
    rn_keyset_t names;
    if (count_names(&names, &creq->topics.items[0].name, sizeof(creq->topics.items[0]), n) != 0)
        return RN_ENOMEM;
    part_budget_t budget = part_budget(b);
    int32_t nres = 0;
    int64_t created = 0; /* partitions added */
    for (int32_t i = 0; i < n; i++) {
        const rn_creatable_topic_t *t = &creq->topics.items[i];
        rn_keyset_slot_t *slot = name_slot(&names, t->name);
        bool dup = slot->count > 1;
        /* Kafka answers a name given twice once (its results are keyed by name). */
        if (slot->value >= 0)
            continue;
        slot->value = i;
        rn_creatable_topic_result_t *res = &results[nres++];
        res->name = t->name;
        res->error_message = RN_STR_NULL; /* Kafka: null unless there is an error */
        if (!may_create(req, t->name)) {  /* CREATE on the cluster or the topic */
            res->error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
            res->error_message = rn_req_strf(req, TOPIC_DENIED);
            res->configs.count = 0;
            continue;
        }
        rn_topicconf_t conf = {0};
        int32_t partitions = 0;
        int16_t rf = 0;
        if (create_check(req, t, dup, res, &conf, &partitions, &rf) &&
            take_partitions(req, &budget, partitions, &res->error_code, &res->error_message)) {
            res->num_partitions = partitions;
            res->replication_factor = rf;
            if (create_result_configs(req, res, &conf) != 0) {
                rn_topicconf_free(&conf);
                rn_keyset_free(&names);
                return RN_ENOMEM;
            }
            if (!creq->validate_only) {
                rn_topic_t *topic = rn_topics_create(b->topics, t->name.ptr, (size_t)t->name.len,
                                                     partitions, rf, &conf);
                for (int32_t a = 0; a < t->assignments.count; a++) {
                    const rn_creatable_replica_assignment_t *as = &t->assignments.items[a];
                    rn_topics_set_replicas(b->topics, topic->partitions[as->partition_index],
                                           as->broker_ids.items, as->broker_ids.count);
                }
                res->topic_id = topic->id;
                created += partitions;
                rn__admin_track(st, &res->error_code, &res->error_message);
            }
        } else {
            res->configs.count = 0; /* Kafka 4.x: an empty list for a failed topic */
        }
        rn_topicconf_free(&conf);
    }
    rn_keyset_free(&names);
    resp->topics.count = nres;
    return rn__admin_finish(req, st, created > CREATE_ANSWER_ON_COMMIT_OVER);
}

/* ---- DeleteTopics ---- */

int rn_handle_delete_topics(rn_req_t *req)
{
    int denied = forward_denied(req);
    if (denied != 0)
        return denied;
    int fwd = rn_cluster_forward(req); /* only the controller changes topics */
    if (fwd != 0)
        return fwd;
    rn_broker_t *b = rn_req_broker(req);
    const rn_delete_topics_request_t *dreq = req->request;
    rn_delete_topics_response_t *resp = req->response;
    bool by_state = req->api_version >= 6;
    int32_t n = by_state ? dreq->topics.count : dreq->topic_names.count;
    if (n < 0)
        n = 0;
    rn_deletable_topic_result_t *results =
        rn_deletable_topic_result_array_alloc(&req->arena, &resp->responses, n);
    rn__admin_state_t *st = rn__admin_state(req, n);
    if ((results == NULL && n > 0) || st == NULL)
        return RN_ENOMEM;
    bool enabled = rn_config_bool(b->cfg, RN_CFG_DELETE_TOPIC_ENABLE);
    static const uint8_t zero[16];
    /* Entries with a topic id are keyed by it (tag 2), the others by name (tags 0/1). */
    rn_keyset_t keys;
    if (rn_keyset_init(&keys, (size_t)n) != 0)
        return RN_ENOMEM;
    rn_keyset_slot_t **slots = rn_arena_calloc(&req->arena, (size_t)n + 1, sizeof(*slots));
    if (slots == NULL) {
        rn_keyset_free(&keys);
        return RN_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        const rn_uuid_t *id = by_state ? &dreq->topics.items[i].topic_id : NULL;
        rn_str_t name = by_state ? dreq->topics.items[i].name : dreq->topic_names.items[i];
        if (id != NULL && memcmp(id, zero, 16) != 0)
            slots[i] = rn_keyset_add(&keys, id, 16, 2);
        else
            slots[i] =
                rn_keyset_add(&keys, name.ptr, name.len > 0 ? (size_t)name.len : 0, name.len < 0);
    }
    int32_t nres = 0;
    for (int32_t i = 0; i < n; i++) {
        rn_str_t name = by_state ? dreq->topics.items[i].name : dreq->topic_names.items[i];
        const rn_uuid_t *id = by_state ? &dreq->topics.items[i].topic_id : NULL;
        bool by_id = id != NULL && memcmp(id, zero, 16) != 0;
        bool dup = slots[i]->count > 1;
        if (slots[i]->value >= 0)
            continue; /* Kafka answers a topic named twice once (results keyed by topic) */
        slots[i]->value = i;
        rn_deletable_topic_result_t *res = &results[nres++];
        res->name = name;
        if (id != NULL)
            res->topic_id = *id;
        rn_topic_t *topic = NULL;
        if (!by_id && !rn_authz_allowed(req, RN_ACL_OP_DELETE, RN_ACL_RES_TOPIC, name)) {
            res->error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
            res->error_message = rn_req_strf(req, TOPIC_DENIED);
            continue;
        }
        if (!enabled) {
            res->error_code = RN_KERR_TOPIC_DELETION_DISABLED;
            res->error_message = rn_req_strf(req, "Topic deletion is disabled.");
            continue;
        }
        if (dup || (by_id && name.len >= 0) || (!by_id && name.len < 0)) {
            res->error_code = RN_KERR_INVALID_REQUEST;
            res->error_message = rn_req_strf(req, dup ? "Duplicate topic in the request."
                                                      : "Give a topic name or an id.");
            continue;
        }
        topic = by_id ? rn_topics_find_id(b->topics, id)
                      : rn_topics_find(b->topics, name.ptr ? name.ptr : "", (size_t)name.len);
        if (topic == NULL) {
            res->error_code = by_id ? RN_KERR_UNKNOWN_TOPIC_ID : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            res->error_message = rn_req_strf(req, "This server does not host this topic.");
            continue;
        }
        if (by_id &&
            !rn_authz_allowed(req, RN_ACL_OP_DELETE, RN_ACL_RES_TOPIC, rn_str(topic->name))) {
            res->error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
            res->error_message = rn_req_strf(req, TOPIC_DENIED);
            continue;
        }
        /* The topic is freed once its deletion is on disk: copy what we echo. */
        res->name = rn_req_strf(req, "%s", topic->name);
        res->topic_id = topic->id;
        rn_topics_delete(b->topics, topic);
        rn__admin_track(st, &res->error_code, req->api_version >= 5 ? &res->error_message : NULL);
    }
    rn_keyset_free(&keys);
    resp->responses.count = nres;
    return rn__admin_finish(req, st, false);
}

/* ---- CreatePartitions ---- */

int rn_handle_create_partitions(rn_req_t *req)
{
    int denied = forward_denied(req);
    if (denied != 0)
        return denied;
    int fwd = rn_cluster_forward(req); /* only the controller changes topics */
    if (fwd != 0)
        return fwd;
    rn_broker_t *b = rn_req_broker(req);
    const rn_create_partitions_request_t *preq = req->request;
    rn_create_partitions_response_t *resp = req->response;
    int32_t n = preq->topics.count > 0 ? preq->topics.count : 0;
    rn_create_partitions_topic_result_t *results =
        rn_create_partitions_topic_result_array_alloc(&req->arena, &resp->results, n);
    rn__admin_state_t *st = rn__admin_state(req, n);
    if ((results == NULL && n > 0) || st == NULL)
        return RN_ENOMEM;
    rn_keyset_t names;
    if (count_names(&names, &preq->topics.items[0].name, sizeof(preq->topics.items[0]), n) != 0)
        return RN_ENOMEM;
    part_budget_t budget = part_budget(b);
    int32_t nres = 0;
    for (int32_t i = 0; i < n; i++) {
        const rn_create_partitions_topic_t *t = &preq->topics.items[i];
        rn_keyset_slot_t *slot = name_slot(&names, t->name);
        bool dup = slot->count > 1;
        /* Kafka answers a topic named twice once (its results are keyed by name). */
        if (slot->value >= 0)
            continue;
        slot->value = i;
        rn_create_partitions_topic_result_t *res = &results[nres++];
        res->name = t->name;
        if (!rn_authz_allowed(req, RN_ACL_OP_ALTER, RN_ACL_RES_TOPIC, t->name)) {
            res->error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
            res->error_message = rn_req_strf(req, TOPIC_DENIED);
            continue;
        }
        if (dup) {
            res->error_code = RN_KERR_INVALID_REQUEST;
            res->error_message = rn_req_strf(req, "Duplicate topic name in the request.");
            continue;
        }
        rn_topic_t *topic =
            rn_topics_find(b->topics, t->name.ptr ? t->name.ptr : "", (size_t)t->name.len);
        if (topic == NULL) {
            res->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
            res->error_message =
                rn_req_strf(req, "The topic '%.*s' does not exist.", RN_STR_ARGS(t->name));
            continue;
        }
        if (t->count <= topic->n_partitions) {
            res->error_code = RN_KERR_INVALID_PARTITIONS;
            res->error_message =
                t->count == topic->n_partitions
                    ? rn_req_strf(req, "Topic already has %d partitions.", topic->n_partitions)
                    : rn_req_strf(req,
                                  "Topic currently has %d partitions, which is higher than "
                                  "the requested %d.",
                                  topic->n_partitions, t->count);
            continue;
        }
        int32_t add = t->count - topic->n_partitions;
        if (!partitions_allowed(req, t->count, &res->error_code, &res->error_message))
            continue;
        bool bad = false;
        if (t->assignments.count >= 0) {
            bad = t->assignments.count != add;
            for (int32_t a = 0; !bad && a < t->assignments.count; a++)
                bad = !valid_replicas(b, &t->assignments.items[a].broker_ids,
                                      topic->replication_factor);
        }
        if (bad) {
            res->error_code = RN_KERR_INVALID_REPLICA_ASSIGNMENT;
            res->error_message =
                rn_req_strf(req,
                            "Give %d assignment(s) of %d distinct known broker ids for the new "
                            "partitions.",
                            add, topic->replication_factor);
            continue;
        }
        if (!take_partitions(req, &budget, add, &res->error_code, &res->error_message) ||
            preq->validate_only)
            continue;
        int32_t before = topic->n_partitions;
        rn_topics_add_partitions(b->topics, topic, t->count);
        for (int32_t a = 0; a < t->assignments.count; a++)
            rn_topics_set_replicas(b->topics, topic->partitions[before + a],
                                   t->assignments.items[a].broker_ids.items,
                                   t->assignments.items[a].broker_ids.count);
        rn__admin_track(st, &res->error_code, &res->error_message);
    }
    rn_keyset_free(&names);
    resp->results.count = nres;
    return rn__admin_finish(req, st, false);
}
