/* Fetch (api key 1): read record batches as file ranges (sent with sendfile), and
 * long-poll when fewer than min_bytes are there.
 *
 * Sessions (KIP-227, rn_fetchsess; Kafka's FetchManager.newContext): from v7 a full fetch
 * (session epoch 0) gets a new session when the cache has room for it and is answered in
 * full with the session's id; epoch -1 asks for no session, and any session id named by a
 * full fetch is closed. An incremental fetch (the session's id and epoch) names only the
 * partitions it adds or changes and the ones it forgets; the session's epoch moves on at
 * once, every partition of the session is read in the session's order, and the response
 * carries only those rn_fetchsess_respond selects. An unknown id gets
 * FETCH_SESSION_ID_NOT_FOUND, a wrong epoch INVALID_FETCH_SESSION_EPOCH, a session used with
 * and without topic ids FETCH_SESSION_TOPIC_ID_ERROR; a session left empty is closed and the
 * fetch answered without one. A session holds at most max.partitions.per.request partitions:
 * a full fetch of more gets none, and an incremental fetch that would grow past it closes the
 * session and gets FETCH_SESSION_ID_NOT_FOUND (the client falls back to full fetches). runnel's
 * own followers fetch with epoch -1, so they keep no sessions.
 *
 * Limits (Kafka's ReplicaManager.readFromLog): the smaller of max_bytes and the broker's
 * fetch.max.bytes caps the whole response and partition_max_bytes each partition, but until
 * the first partition that returns data, one whole batch is returned however large (KIP-74);
 * once the budget is spent the remaining partitions return no records. Only whole batches are
 * sent.
 *
 * A partition named twice (Kafka keys the request's partitions in a map) is answered once,
 * where it was first named, with the parameters of its last mention; consecutive partitions
 * of one topic share a topic entry in the response, as Kafka's FetchResponse builds it.
 *
 * Long poll (Kafka's DelayedFetch): max_wait_ms is capped at fetch.max.wait.ms.cap. The
 * request is answered at once when max_wait_ms <= 0,
 * min_bytes is reached, or any partition has an error; otherwise it is parked in
 * rn_fetchwait, woken by appends to its partitions (counting at most partition_max_bytes
 * of each) or its deadline, and then read again from scratch. A connection that closes
 * meanwhile cancels it.
 *
 * Consumers (replica id < 0) read below the high watermark (read_uncommitted) or the last
 * stable offset (read_committed) and, parked, are woken when it moves; a replica id >= 0 (a
 * follower, rn_replica_follower_fetch) reads to the log end, is woken by appends, and its
 * fetch offset tells the leader how far its log reaches. */
#include "acl/rn_authz.h"
#include "data/rn_datapath.h"
#include "replica/rn_replica.h"
#include "rn_handlers.h"
#include "quota/rn_quotas.h"

#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "meta/rn_keyset.h"
#include "ops/rn_metrics.h"

#include <string.h>

/* One distinct topic-partition of the request. */
typedef struct fetch_item {
    const rn_fetch_topic_t *tin;     /* the topic entry that named it first */
    const rn_fetch_partition_t *pin; /* its last mention (Kafka: a later entry replaces) */
} fetch_item_t;

/* One topic entry of the response: items [first, first + count) share its topic. */
typedef struct fetch_group {
    const rn_fetch_topic_t *tin;
    int32_t first, count;
} fetch_group_t;

/* What the request does with sessions. */
typedef enum fetch_mode {
    FETCH_SESSIONLESS = 0, /* answered in full, session id 0 */
    FETCH_FULL,            /* answered in full, and a new session is tried when answering */
    FETCH_INCREMENTAL,     /* the partitions of session sess_id, answered incrementally */
} fetch_mode_t;

typedef struct fetch_state {
    rn_req_t *req;
    rn_datapath_t *dp;
    rn_fetchwaiter_t *waiter; /* while parked */
    int32_t replica_id;
    bool follower_ok; /* a follower may fetch: CLUSTER_ACTION on the cluster */
    fetch_mode_t mode;
    int32_t sess_id, sess_epoch; /* incremental: the session and the epoch it moved to */
    fetch_item_t *items;
    fetch_group_t *groups;
    int32_t nitems, ngroups;
} fetch_state_t;

/* Budget shared by the partitions of one response. */
typedef struct fetch_budget {
    int64_t left;  /* max_bytes still available */
    bool min_one;  /* no partition has returned data yet: one batch goes whatever its size */
    int64_t bytes; /* record bytes in the response */
    bool error;    /* some partition has an error */
} fetch_budget_t;

static rn_topic_t *find_topic(const fetch_state_t *st, const rn_fetch_topic_t *tin)
{
    rn_topics_t *topics = rn_req_broker(st->req)->topics;
    if (st->req->api_version >= 13)
        return rn_topics_find_id(topics, &tin->topic_id);
    if (tin->topic.len < 0)
        return NULL;
    return rn_topics_find(topics, tin->topic.ptr, (size_t)tin->topic.len);
}

/* The partition to read, or NULL with out->error_code set. */
static rn_dpart_t *resolve(const fetch_state_t *st, rn_topic_t *topic,
                           const rn_fetch_partition_t *pin, rn_fetch_partition_data_t *out)
{
    rn_broker_t *b = rn_req_broker(st->req);
    rn_partition_t *part = topic ? rn_topic_partition(topic, pin->partition) : NULL;
    if (!part) {
        out->error_code = !topic && st->req->api_version >= 13 ? RN_KERR_UNKNOWN_TOPIC_ID
                                                               : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    rn_dpart_t *dpart = part->leader_id == b->node_id ? rn_datapath_part(st->dp, part) : NULL;
    if (dpart && dpart->log && !rn_replica_is_leader(dpart))
        dpart = NULL; /* not taken up the lead yet (its log was just opened) */
    if (!dpart) {
        out->error_code =
            part->leader_id < 0 ? RN_KERR_LEADER_NOT_AVAILABLE : RN_KERR_NOT_LEADER_OR_FOLLOWER;
        return NULL;
    }
    if (!dpart->log) {
        out->error_code = RN_KERR_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    if (pin->current_leader_epoch >= 0 && pin->current_leader_epoch != part->leader_epoch) {
        out->error_code = pin->current_leader_epoch < part->leader_epoch
                              ? RN_KERR_FENCED_LEADER_EPOCH
                              : RN_KERR_UNKNOWN_LEADER_EPOCH;
        return NULL;
    }
    if (st->replica_id >= 0) {
        /* A follower: its fetch offset acknowledges what it holds; a diverged log is told
         * where to truncate and gets no records. */
        int32_t epoch;
        int64_t offset;
        out->error_code = rn_replica_follower_fetch(
            b, dpart, st->replica_id, pin->fetch_offset,
            st->req->api_version >= 12 ? pin->last_fetched_epoch : -1, &epoch, &offset);
        if (out->error_code == RN_KERR_OFFSET_OUT_OF_RANGE) {
            /* runnel's followers restart from the log start they are told (Kafka's ask
             * with ListOffsets). */
            out->high_watermark = rn_dpart_high_watermark(dpart);
            out->log_start_offset = rn_plog_log_start_offset(dpart->log);
        }
        if (out->error_code != RN_KERR_NONE)
            return NULL;
        if (epoch >= 0 || offset >= 0) {
            out->diverging_epoch.epoch = epoch;
            out->diverging_epoch.end_offset = offset;
            out->high_watermark = rn_dpart_high_watermark(dpart);
            out->log_start_offset = rn_plog_log_start_offset(dpart->log);
            return NULL;
        }
    }
    return dpart;
}

static void read_partition(const fetch_state_t *st, const rn_fetch_request_t *freq,
                           rn_dpart_t *dpart, const rn_fetch_partition_t *pin,
                           rn_fetch_partition_data_t *out, fetch_budget_t *budget)
{
    rn_plog_t *log = dpart->log;
    int64_t hw = rn_dpart_high_watermark(dpart);
    int64_t lso = rn_dpart_last_stable_offset(dpart);
    out->high_watermark = hw;
    out->last_stable_offset = lso;
    out->log_start_offset = rn_plog_log_start_offset(log);
    if (freq->isolation_level == 1) /* read_committed: no aborted transactions, ever */
        out->aborted_transactions = (rn_aborted_transaction_array_t){0, NULL};

    int64_t bound = st->replica_id >= 0 ? -1 : freq->isolation_level == 1 ? lso : hw;
    int64_t limit =
        pin->partition_max_bytes < budget->left ? pin->partition_max_bytes : budget->left;
    if (limit <= 0 && !budget->min_one)
        return;
    rn_plog_slice_t slice;
    int rc = rn_plog_read(log, pin->fetch_offset, limit > 0 ? limit : 1, bound, &slice);
    if (rc != 0) {
        if (rc != RN_ERANGE)
            RN_WARN("fetch", "reading %s at %lld failed: %s", rn_plog_name(log),
                    (long long)pin->fetch_offset, rn_strerror(rc));
        /* Kafka reports no offsets with a read error (-1, as for an unknown partition). */
        out->error_code =
            rc == RN_ERANGE ? RN_KERR_OFFSET_OUT_OF_RANGE : RN_KERR_KAFKA_STORAGE_ERROR;
        out->high_watermark = out->last_stable_offset = out->log_start_offset = -1;
        return;
    }
    if (slice.length == 0)
        return;
    if ((int64_t)slice.length > limit && !budget->min_one) {
        rn_plog_slice_release(&slice); /* only the first data may exceed the limits */
        return;
    }
    out->records = (rn_records_t){
        .ptr = NULL,
        .len = (int32_t)slice.length,
        .in_file = true,
        .fd = slice.fd,
        .offset = (int64_t)slice.position,
        .owner = slice.seg, /* released by rn_datapath_release_file once sent */
    };
    budget->min_one = false;
    budget->left -= (int64_t)slice.length;
    budget->bytes += (int64_t)slice.length;
}

/* The bytes that identify a topic entry's topic: its id (v13+) or its name. */
static const void *topic_key(const fetch_state_t *st, const rn_fetch_topic_t *tin, size_t *len)
{
    if (st->req->api_version >= 13) {
        *len = sizeof(tin->topic_id);
        return &tin->topic_id;
    }
    *len = tin->topic.len > 0 ? (size_t)tin->topic.len : 0;
    return tin->topic.ptr;
}

static bool same_topic(const fetch_state_t *st, const rn_fetch_topic_t *a,
                       const rn_fetch_topic_t *b)
{
    size_t alen, blen;
    const void *ak = topic_key(st, a, &alen), *bk = topic_key(st, b, &blen);
    return alen == blen && (alen == 0 || memcmp(ak, bk, alen) == 0);
}

/* Group consecutive items of one topic into the response's topic entries. */
static void group_items(fetch_state_t *st)
{
    for (int32_t i = 0; i < st->nitems; i++) {
        fetch_group_t *g = st->ngroups > 0 ? &st->groups[st->ngroups - 1] : NULL;
        if (g == NULL || !same_topic(st, g->tin, st->items[i].tin))
            st->groups[st->ngroups++] = (fetch_group_t){st->items[i].tin, i, 0};
        st->groups[st->ngroups - 1].count++;
    }
}

/* Reduce the request to its distinct topic-partitions and group them into the response's
 * topic entries (see the top of the file). */
static int plan(fetch_state_t *st)
{
    rn_req_t *req = st->req;
    const rn_fetch_request_t *freq = req->request;
    size_t total = 0;
    for (int32_t t = 0; t < freq->topics.count; t++)
        total += (size_t)(freq->topics.items[t].partitions.count > 0
                              ? freq->topics.items[t].partitions.count
                              : 0);
    st->items = rn_arena_calloc(&req->arena, total + 1, sizeof(*st->items));
    st->groups = rn_arena_calloc(&req->arena, total + 1, sizeof(*st->groups));
    rn_keyset_t keys;
    if (st->items == NULL || st->groups == NULL || rn_keyset_init(&keys, total) != 0)
        return RN_ENOMEM;
    for (int32_t t = 0; t < freq->topics.count; t++) {
        const rn_fetch_topic_t *tin = &freq->topics.items[t];
        size_t len;
        const void *key = topic_key(st, tin, &len);
        for (int32_t p = 0; p < tin->partitions.count; p++) {
            const rn_fetch_partition_t *pin = &tin->partitions.items[p];
            rn_keyset_slot_t *slot = rn_keyset_add(&keys, key, len, pin->partition);
            if (slot->value >= 0) {
                st->items[slot->value].pin = pin;
                continue;
            }
            slot->value = st->nitems;
            st->items[st->nitems++] = (fetch_item_t){tin, pin};
        }
    }
    rn_keyset_free(&keys);
    group_items(st);
    return 0;
}

/* ---- sessions ---- */

static rn_fetchsess_cache_t *sessions(const fetch_state_t *st)
{
    return rn_datapath_sessions(st->dp);
}

static size_t max_session_parts(const fetch_state_t *st)
{
    return (size_t)rn_config_int(rn_req_broker(st->req)->cfg, RN_CFG_MAX_PARTITIONS_PER_REQUEST);
}

static rn_fetchsess_params_t params_of(const rn_fetch_partition_t *pin)
{
    return (rn_fetchsess_params_t){
        .fetch_offset = pin->fetch_offset,
        .partition_max_bytes = pin->partition_max_bytes,
        .current_leader_epoch = pin->current_leader_epoch,
        .last_fetched_epoch = pin->last_fetched_epoch,
        .log_start_offset = pin->log_start_offset,
    };
}

/* The request's partitions and forgotten partitions applied to sess (Kafka's
 * FetchSession.update): 0, RN_EFULL past the session's bound, RN_ENOMEM. */
static int update_session(fetch_state_t *st, rn_fetchsess_t *sess)
{
    const rn_fetch_request_t *freq = st->req->request;
    rn_fetchsess_cache_t *cache = sessions(st);
    for (int32_t t = 0; t < freq->topics.count; t++) {
        const rn_fetch_topic_t *tin = &freq->topics.items[t];
        size_t len;
        const void *key = topic_key(st, tin, &len);
        for (int32_t p = 0; p < tin->partitions.count; p++) {
            rn_fetchsess_params_t params = params_of(&tin->partitions.items[p]);
            int rc = rn_fetchsess_add(cache, sess, key, len, tin->partitions.items[p].partition,
                                      &params, max_session_parts(st), NULL);
            if (rc != 0)
                return rc;
        }
    }
    for (int32_t t = 0; t < freq->forgotten_topics_data.count; t++) {
        const rn_forgotten_topic_t *fin = &freq->forgotten_topics_data.items[t];
        rn_fetch_topic_t as_topic = {.topic = fin->topic, .topic_id = fin->topic_id};
        size_t len;
        const void *key = topic_key(st, &as_topic, &len);
        for (int32_t p = 0; p < fin->partitions.count; p++)
            rn_fetchsess_forget(cache, sess, key, len, fin->partitions.items[p]);
    }
    return 0;
}

/* Decide the request's mode (Kafka's FetchManager.newContext). An incremental fetch's
 * changes are applied and its session's epoch moved on. Returns a Kafka error for the whole
 * request (session errors) or NONE. */
static int16_t open_session(fetch_state_t *st)
{
    const rn_fetch_request_t *freq = st->req->request;
    rn_fetchsess_cache_t *cache = sessions(st);
    st->mode = FETCH_SESSIONLESS;
    if (st->req->api_version < 7)
        return RN_KERR_NONE;
    if (freq->session_epoch == RN_FETCHSESS_INITIAL_EPOCH ||
        freq->session_epoch == RN_FETCHSESS_FINAL_EPOCH) {
        if (freq->session_id != RN_FETCHSESS_INVALID_ID)
            rn_fetchsess_remove(cache, freq->session_id);
        if (freq->session_epoch == RN_FETCHSESS_INITIAL_EPOCH)
            st->mode = FETCH_FULL;
        return RN_KERR_NONE;
    }
    rn_fetchsess_t *sess;
    int16_t err = rn_fetchsess_lookup(cache, freq->session_id, freq->session_epoch,
                                      st->req->api_version >= 13, &sess);
    if (err != RN_KERR_NONE)
        return err;
    int rc = update_session(st, sess);
    if (rc != 0) {
        RN_WARN("fetch", "closing fetch session %d (peer %s, correlation id %d): %s", (int)sess->id,
                st->req->peer, st->req->correlation_id,
                rc == RN_EFULL ? "over max.partitions.per.request" : rn_strerror(rc));
        rn_fetchsess_remove(cache, sess->id);
        return RN_KERR_FETCH_SESSION_ID_NOT_FOUND;
    }
    if (sess->nparts == 0) {
        rn_fetchsess_remove(cache, sess->id); /* nothing left: answered without a session */
        return RN_KERR_NONE;
    }
    rn_fetchsess_touch(cache, sess, rn_clock_mono_ms());
    st->mode = FETCH_INCREMENTAL;
    st->sess_id = sess->id;
    st->sess_epoch = sess->epoch;
    return RN_KERR_NONE;
}

/* A topic entry for the session topic key (copied into the arena: the session may go while
 * the request is parked). */
static int session_topic(fetch_state_t *st, const rn_fetchsess_topic_t *topic,
                         rn_fetch_topic_t *tin)
{
    rn_fetch_topic_init(tin);
    if (st->req->api_version >= 13) {
        if (topic->len == sizeof(tin->topic_id))
            memcpy(&tin->topic_id, topic->key, sizeof(tin->topic_id));
        return 0;
    }
    char *name = rn_arena_alloc(&st->req->arena, topic->len + 1u);
    if (!name)
        return RN_ENOMEM;
    memcpy(name, topic->key, topic->len);
    tin->topic = (rn_str_t){name, (int32_t)topic->len};
    return 0;
}

/* An incremental fetch reads every partition of its session, in the session's order, with
 * the parameters last sent (Kafka's IncrementalFetchContext.foreachPartition). */
static int plan_session(fetch_state_t *st, const rn_fetchsess_t *sess)
{
    rn_arena_t *arena = &st->req->arena;
    size_t n = sess->nparts;
    st->items = rn_arena_calloc(arena, n + 1, sizeof(*st->items));
    st->groups = rn_arena_calloc(arena, n + 1, sizeof(*st->groups));
    rn_fetch_topic_t *tins = rn_arena_calloc(arena, n + 1, sizeof(*tins));
    rn_fetch_partition_t *pins = rn_arena_calloc(arena, n + 1, sizeof(*pins));
    if (!st->items || !st->groups || !tins || !pins)
        return RN_ENOMEM;
    const rn_fetchsess_topic_t *last = NULL;
    rn_fetch_topic_t *tin = NULL;
    for (const rn_fetchsess_part_t *part = sess->head; part; part = part->next) {
        if (part->topic != last) {
            tin = tin ? tin + 1 : tins;
            if (session_topic(st, part->topic, tin) != 0)
                return RN_ENOMEM;
            last = part->topic;
        }
        rn_fetch_partition_t *pin = &pins[st->nitems];
        rn_fetch_partition_init(pin);
        pin->partition = part->partition;
        pin->fetch_offset = part->params.fetch_offset;
        pin->partition_max_bytes = part->params.partition_max_bytes;
        pin->current_leader_epoch = part->params.current_leader_epoch;
        pin->last_fetched_epoch = part->params.last_fetched_epoch;
        pin->log_start_offset = part->params.log_start_offset;
        st->items[st->nitems++] = (fetch_item_t){tin, pin};
    }
    group_items(st);
    return 0;
}

/* What was read for one partition, as the session compares it. */
static rn_fetchsess_read_t read_of(const rn_fetch_partition_data_t *out)
{
    return (rn_fetchsess_read_t){
        .high_watermark = out->high_watermark,
        .log_start_offset = out->log_start_offset,
        .error_code = out->error_code,
        .has_records = out->records.len > 0,
        .diverging = out->diverging_epoch.epoch >= 0 || out->diverging_epoch.end_offset >= 0,
        .preferred_replica = out->preferred_read_replica >= 0,
    };
}

/* Build the whole response from the current state of the logs. */
/* May the consumer read the topic? A follower's right is the cluster's (follower_ok). An
 * unknown topic id is left to resolve (UNKNOWN_TOPIC_ID); an unknown name is authorized by
 * name first, as Kafka does. */
static bool read_allowed(const fetch_state_t *st, const rn_topic_t *topic,
                         const rn_fetch_topic_t *tin)
{
    if (st->replica_id >= 0)
        return st->follower_ok;
    if (rn_req_broker(st->req)->authz == NULL)
        return true;
    if (topic != NULL)
        return rn_authz_allowed(st->req, RN_ACL_OP_READ, RN_ACL_RES_TOPIC, rn_str(topic->name));
    return st->req->api_version >= 13 ||
           rn_authz_allowed(st->req, RN_ACL_OP_READ, RN_ACL_RES_TOPIC, tin->topic);
}

static int read_all(fetch_state_t *st, fetch_budget_t *budget)
{
    rn_req_t *req = st->req;
    const rn_fetch_request_t *freq = req->request;
    rn_fetch_response_t *resp = req->response;
    int64_t max = rn_config_int(rn_req_broker(req)->cfg, RN_CFG_FETCH_MAX_BYTES);
    budget->left = freq->max_bytes > 0 ? freq->max_bytes : 0;
    if (budget->left > max)
        budget->left = max;
    /* A consumer under a byte-rate quota gets at most what the quota lets through in its
     * windows (Kafka's getMaxValueInQuotaWindow): a bigger response would always be throttled
     * and answered empty, and the consumer would starve. */
    int64_t quota_max = st->replica_id < 0 ? rn_quotas_fetch_max_bytes(req) : INT64_MAX;
    if (budget->left > quota_max)
        budget->left = quota_max;
    budget->min_one = true;
    budget->bytes = 0;
    budget->error = false;
    rn_fetchable_topic_response_t *touts =
        rn_fetchable_topic_response_array_alloc(&req->arena, &resp->responses, st->ngroups);
    if (!touts && st->ngroups > 0)
        return RN_ENOMEM;
    for (int32_t t = 0; t < st->ngroups; t++) {
        const fetch_group_t *g = &st->groups[t];
        const rn_fetch_topic_t *tin = g->tin;
        touts[t].topic = tin->topic;
        touts[t].topic_id = tin->topic_id;
        int32_t nparts = g->count;
        rn_fetch_partition_data_t *pouts =
            rn_fetch_partition_data_array_alloc(&req->arena, &touts[t].partitions, nparts);
        if (!pouts && nparts > 0)
            return RN_ENOMEM;
        rn_topic_t *topic = find_topic(st, tin);
        bool allowed = read_allowed(st, topic, tin);
        for (int32_t p = 0; p < nparts; p++) {
            const rn_fetch_partition_t *pin = st->items[g->first + p].pin;
            rn_fetch_partition_data_t *out = &pouts[p];
            out->partition_index = pin->partition;
            out->high_watermark = -1;
            out->last_stable_offset = -1;
            out->log_start_offset = -1;
            out->aborted_transactions = (rn_aborted_transaction_array_t){-1, NULL};
            out->preferred_read_replica = -1;
            out->records = (rn_records_t){0};
            if (!allowed)
                out->error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
            rn_dpart_t *dpart = allowed ? resolve(st, topic, pin, out) : NULL;
            if (dpart)
                read_partition(st, freq, dpart, pin, out, budget);
            if (out->error_code != RN_KERR_NONE || out->diverging_epoch.epoch >= 0 ||
                out->diverging_epoch.end_offset >= 0)
                budget->error = true; /* answer at once */
        }
    }
    return 0;
}

/* Count the record bytes of the response per topic in the metrics (consumers only: what
 * followers fetch is replication traffic). Call once, when the response is final. */
static void count_bytes_out(const fetch_state_t *st)
{
    const rn_fetch_response_t *resp = st->req->response;
    if (st->replica_id >= 0)
        return;
    for (int32_t t = 0; t < resp->responses.count && t < st->ngroups; t++) {
        const rn_fetchable_topic_response_t *tout = &resp->responses.items[t];
        uint64_t bytes = 0;
        for (int32_t p = 0; p < tout->partitions.count; p++)
            if (tout->partitions.items[p].records.len > 0)
                bytes += (uint64_t)tout->partitions.items[p].records.len;
        rn_topic_t *topic = bytes > 0 ? find_topic(st, st->groups[t].tin) : NULL;
        if (topic != NULL)
            rn_metrics_topic_out(rn_req_broker(st->req)->metrics, topic, bytes);
    }
}

/* Give back the file references of a response that will not be sent (we park instead). */
static void release_records(rn_fetch_response_t *resp)
{
    for (int32_t t = 0; t < resp->responses.count; t++) {
        rn_fetchable_topic_response_t *tout = &resp->responses.items[t];
        for (int32_t p = 0; p < tout->partitions.count; p++) {
            rn_records_t *rec = &tout->partitions.items[p].records;
            if (rec->in_file && rec->owner)
                rn_datapath_release_file(rec->owner);
            *rec = (rn_records_t){0};
        }
    }
}

/* Answer the whole request with a session error and no partitions. */
static void session_error(rn_fetch_response_t *resp, int16_t err, int32_t sess_id)
{
    release_records(resp);
    resp->responses = (rn_fetchable_topic_response_array_t){0, NULL};
    resp->error_code = err;
    resp->session_id = sess_id;
}

/* A full fetch's answer is final: start its session with what it sent (Kafka's
 * FullFetchContext.updateAndGenerateResponseData). No room, no session (id 0). */
static void start_session(fetch_state_t *st)
{
    rn_fetch_response_t *resp = st->req->response;
    rn_fetchsess_cache_t *cache = sessions(st);
    if ((size_t)st->nitems > max_session_parts(st))
        return;
    rn_fetchsess_t *sess = rn_fetchsess_create(cache, rn_clock_mono_ms(), st->replica_id >= 0,
                                               (size_t)st->nitems, st->req->api_version >= 13);
    if (!sess)
        return;
    for (int32_t t = 0; t < resp->responses.count && t < st->ngroups; t++) {
        const fetch_group_t *g = &st->groups[t];
        size_t len;
        const void *key = topic_key(st, g->tin, &len);
        for (int32_t p = 0; p < g->count; p++) {
            const rn_fetch_partition_t *pin = st->items[g->first + p].pin;
            rn_fetchsess_params_t params = params_of(pin);
            rn_fetchsess_part_t *part;
            if (rn_fetchsess_add(cache, sess, key, len, pin->partition, &params, SIZE_MAX, &part) !=
                0) {
                rn_fetchsess_remove(cache, sess->id);
                return;
            }
            rn_fetchsess_read_t read = read_of(&resp->responses.items[t].partitions.items[p]);
            rn_fetchsess_sent(part, &read);
        }
    }
    resp->session_id = sess->id;
}

/* Keep the partitions of topic entry t that the session must answer; their count. */
static int32_t filter_topic(fetch_state_t *st, rn_fetchsess_t *sess, int32_t t)
{
    rn_fetchable_topic_response_t *tout =
        &((rn_fetch_response_t *)st->req->response)->responses.items[t];
    size_t len;
    const void *key = topic_key(st, st->groups[t].tin, &len);
    int32_t kept = 0;
    for (int32_t p = 0; p < tout->partitions.count; p++) {
        rn_fetch_partition_data_t *out = &tout->partitions.items[p];
        rn_fetchsess_part_t *part = rn_fetchsess_find(sess, key, len, out->partition_index);
        rn_fetchsess_read_t read = read_of(out);
        if (part == NULL || rn_fetchsess_respond(sess, part, &read))
            tout->partitions.items[kept++] = *out;
    }
    tout->partitions.count = kept;
    return kept;
}

/* An incremental fetch's answer is final: only what changed goes (Kafka's
 * IncrementalFetchContext.updateAndGenerateResponseData), if the session is still there at
 * the epoch this request moved it to. */
static void answer_incremental(fetch_state_t *st)
{
    rn_fetch_response_t *resp = st->req->response;
    rn_fetchsess_t *sess = rn_fetchsess_get(sessions(st), st->sess_id);
    if (sess == NULL) {
        session_error(resp, RN_KERR_FETCH_SESSION_ID_NOT_FOUND, RN_FETCHSESS_INVALID_ID);
        return;
    }
    if (sess->epoch != st->sess_epoch) {
        session_error(resp, RN_KERR_INVALID_FETCH_SESSION_EPOCH, sess->id);
        return;
    }
    int32_t nt = 0;
    for (int32_t t = 0; t < resp->responses.count && t < st->ngroups; t++)
        if (filter_topic(st, sess, t) > 0)
            resp->responses.items[nt++] = resp->responses.items[t];
    resp->responses.count = nt;
    resp->session_id = sess->id;
}

/* The response is final: count it, then let the session shape it. */
static void finish(fetch_state_t *st)
{
    count_bytes_out(st); /* before filtering: the groups still match the topic entries */
    if (st->mode == FETCH_FULL)
        start_session(st);
    else if (st->mode == FETCH_INCREMENTAL)
        answer_incremental(st);
}

static void on_wake(rn_fetchwaiter_t *waiter, rn_fetchwait_reason_t reason, void *arg)
{
    fetch_state_t *st = arg;
    st->waiter = NULL;
    if (reason == RN_FETCHWAIT_SHUTDOWN)
        return; /* the server (and this request) is gone already */
    fetch_budget_t budget;
    rn_fetch_response_t *resp = st->req->response;
    if (read_all(st, &budget) != 0) {
        /* Out of arena memory: answer with no records rather than drop the request. */
        release_records(resp);
        resp->responses = (rn_fetchable_topic_response_array_t){0, NULL};
        resp->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
        st->mode = FETCH_SESSIONLESS;
    }
    finish(st);
    rn_req_complete(st->req);
}

static void on_cancel(rn_req_t *req, void *arg)
{
    fetch_state_t *st = arg;
    if (st->waiter) {
        rn_fetchwait_cancel(st->waiter);
        st->waiter = NULL;
    }
}

/* Watch every requested partition that resolved (all did: a failure answers at once). */
static void park(fetch_state_t *st, const fetch_budget_t *budget)
{
    rn_req_t *req = st->req;
    const rn_fetch_request_t *freq = req->request;
    int32_t wait = freq->max_wait_ms;
    int64_t cap = rn_config_int(rn_req_broker(req)->cfg, RN_CFG_FETCH_MAX_WAIT_MS_CAP);
    if (wait > cap)
        wait = (int32_t)cap;
    st->waiter = rn_fetchwait_park(rn_datapath_waits(st->dp), (size_t)st->nitems, freq->min_bytes,
                                   budget->bytes, wait, on_wake, st);
    for (int32_t t = 0; t < st->ngroups; t++) {
        const fetch_group_t *g = &st->groups[t];
        rn_topic_t *topic = find_topic(st, g->tin);
        for (int32_t p = 0; topic && p < g->count; p++) {
            const rn_fetch_partition_t *pin = st->items[g->first + p].pin;
            rn_partition_t *part = rn_topic_partition(topic, pin->partition);
            /* Followers wait for appends, consumers for the high watermark to move. */
            if (part)
                rn_fetchwait_watch(st->waiter, st->replica_id >= 0 ? part : rn_replica_hw_key(part),
                                   pin->partition_max_bytes);
        }
    }
    rn_req_park(req, on_cancel, st);
}

/* Plan the request's partitions: its own, or its session's. */
static int plan_request(fetch_state_t *st)
{
    if (st->mode != FETCH_INCREMENTAL)
        return plan(st);
    return plan_session(st, rn_fetchsess_get(sessions(st), st->sess_id));
}

int rn_handle_fetch(rn_req_t *req)
{
    const rn_fetch_request_t *freq = req->request;
    rn_fetch_response_t *resp = req->response;
    if (rn_quorum_fetch_wanted(req)) {
        if (!rn_authz_cluster(req, RN_ACL_OP_CLUSTER_ACTION)) {
            resp->error_code = RN_KERR_CLUSTER_AUTHORIZATION_FAILED;
            rn_req_count_error(req);
            return RN_HANDLED_SYNC;
        }
        return rn_quorum_handle_fetch(req); /* a voter replicating __cluster_metadata-0 */
    }
    resp->throttle_time_ms = 0;
    resp->session_id = RN_FETCHSESS_INVALID_ID;
    fetch_state_t *st = rn_arena_calloc(&req->arena, 1, sizeof(*st));
    if (!st)
        return RN_ENOMEM;
    st->req = req;
    st->dp = rn_datapath(rn_req_broker(req));
    st->replica_id = req->api_version >= 15 ? freq->replica_state.replica_id : freq->replica_id;
    st->follower_ok = st->replica_id >= 0 && rn_authz_cluster(req, RN_ACL_OP_CLUSTER_ACTION);
    int16_t err = open_session(st);
    if (err != RN_KERR_NONE) {
        session_error(resp, err, RN_FETCHSESS_INVALID_ID);
        return RN_HANDLED_SYNC;
    }
    if (plan_request(st) != 0) {
        /* Too many partitions for memory: this request fails, the connection stays. */
        resp->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
        resp->responses = (rn_fetchable_topic_response_array_t){0, NULL};
        return RN_HANDLED_SYNC;
    }
    fetch_budget_t budget;
    int rc = read_all(st, &budget);
    if (rc != 0) {
        release_records(resp);
        return rc;
    }
    if (freq->max_wait_ms <= 0 || budget.bytes >= freq->min_bytes || budget.error ||
        st->nitems <= 0 || rn_req_broker(req)->stopping) {
        finish(st);
        return RN_HANDLED_SYNC;
    }
    release_records(resp);
    park(st, &budget);
    return RN_HANDLED_ASYNC;
}
