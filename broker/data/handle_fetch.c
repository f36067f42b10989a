/* Fetch (api key 1): read record batches as file ranges (sent with sendfile), and
 * long-poll when fewer than min_bytes are there.
 *
 * Sessions (KIP-227): runnel keeps none. A full fetch (session epoch 0 or -1) is answered
 * with session id 0, which clients read as "no session" and keep sending full fetches; an
 * incremental fetch (any other epoch) names only changed partitions, so it cannot be
 * answered in full and gets FETCH_SESSION_ID_NOT_FOUND, on which Java and librdkafka clients
 * fall back to a full fetch.
 *
 * Limits (Kafka's ReplicaManager.readFromLog): max_bytes caps the whole response and
 * partition_max_bytes each partition, but until the first partition that returns data, one
 * whole batch is returned however large (KIP-74). Only whole batches are sent.
 *
 * Long poll (Kafka's DelayedFetch): the request is answered at once when max_wait_ms <= 0,
 * min_bytes is reached, or any partition has an error; otherwise it is parked in
 * rn_fetchwait, woken by appends to its partitions (counting at most partition_max_bytes
 * of each) or its deadline, and then read again from scratch. A connection that closes
 * meanwhile cancels it.
 *
 * Consumers (replica id < 0) read below the high watermark (read_uncommitted) or the last
 * stable offset (read_committed); a replica id >= 0 (a follower) reads to the log end. */
#include "data/rn_datapath.h"
#include "rn_handlers.h"

#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "ops/rn_metrics.h"

#include <string.h>

typedef struct fetch_state {
    rn_req_t *req;
    rn_datapath_t *dp;
    rn_fetchwaiter_t *waiter; /* while parked */
    int32_t replica_id;
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
    if (!dpart) {
        out->error_code = RN_KERR_NOT_LEADER_OR_FOLLOWER;
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

/* Build the whole response from the current state of the logs. */
static int read_all(fetch_state_t *st, fetch_budget_t *budget)
{
    rn_req_t *req = st->req;
    const rn_fetch_request_t *freq = req->request;
    rn_fetch_response_t *resp = req->response;
    budget->left = freq->max_bytes > 0 ? freq->max_bytes : 0;
    budget->min_one = true;
    budget->bytes = 0;
    budget->error = false;
    int32_t ntopics = freq->topics.count > 0 ? freq->topics.count : 0;
    rn_fetchable_topic_response_t *touts =
        rn_fetchable_topic_response_array_alloc(&req->arena, &resp->responses, ntopics);
    if (!touts && ntopics > 0)
        return RN_ENOMEM;
    for (int32_t t = 0; t < ntopics; t++) {
        const rn_fetch_topic_t *tin = &freq->topics.items[t];
        touts[t].topic = tin->topic;
        touts[t].topic_id = tin->topic_id;
        int32_t nparts = tin->partitions.count > 0 ? tin->partitions.count : 0;
        rn_fetch_partition_data_t *pouts =
            rn_fetch_partition_data_array_alloc(&req->arena, &touts[t].partitions, nparts);
        if (!pouts && nparts > 0)
            return RN_ENOMEM;
        rn_topic_t *topic = find_topic(st, tin);
        for (int32_t p = 0; p < nparts; p++) {
            const rn_fetch_partition_t *pin = &tin->partitions.items[p];
            rn_fetch_partition_data_t *out = &pouts[p];
            out->partition_index = pin->partition;
            out->high_watermark = -1;
            out->last_stable_offset = -1;
            out->log_start_offset = -1;
            out->aborted_transactions = (rn_aborted_transaction_array_t){-1, NULL};
            out->preferred_read_replica = -1;
            out->records = (rn_records_t){0};
            rn_dpart_t *dpart = resolve(st, topic, pin, out);
            if (dpart)
                read_partition(st, freq, dpart, pin, out, budget);
            if (out->error_code != RN_KERR_NONE)
                budget->error = true;
        }
    }
    return 0;
}

/* Count the record bytes of the response per topic in the metrics (consumers only: what
 * followers fetch is replication traffic). Call once, when the response is final. */
static void count_bytes_out(const fetch_state_t *st)
{
    const rn_fetch_request_t *freq = st->req->request;
    const rn_fetch_response_t *resp = st->req->response;
    if (st->replica_id >= 0)
        return;
    for (int32_t t = 0; t < resp->responses.count && t < freq->topics.count; t++) {
        const rn_fetchable_topic_response_t *tout = &resp->responses.items[t];
        uint64_t bytes = 0;
        for (int32_t p = 0; p < tout->partitions.count; p++)
            if (tout->partitions.items[p].records.len > 0)
                bytes += (uint64_t)tout->partitions.items[p].records.len;
        rn_topic_t *topic = bytes > 0 ? find_topic(st, &freq->topics.items[t]) : NULL;
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
    }
    count_bytes_out(st);
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
    size_t n = 0;
    for (int32_t t = 0; t < freq->topics.count; t++)
        n += (size_t)(freq->topics.items[t].partitions.count > 0
                          ? freq->topics.items[t].partitions.count
                          : 0);
    st->waiter = rn_fetchwait_park(rn_datapath_waits(st->dp), n, freq->min_bytes, budget->bytes,
                                   freq->max_wait_ms, on_wake, st);
    for (int32_t t = 0; t < freq->topics.count; t++) {
        const rn_fetch_topic_t *tin = &freq->topics.items[t];
        rn_topic_t *topic = find_topic(st, tin);
        for (int32_t p = 0; topic && p < tin->partitions.count; p++) {
            const rn_fetch_partition_t *pin = &tin->partitions.items[p];
            rn_partition_t *part = rn_topic_partition(topic, pin->partition);
            if (part)
                rn_fetchwait_watch(st->waiter, part, pin->partition_max_bytes);
        }
    }
    rn_req_park(req, on_cancel, st);
}

int rn_handle_fetch(rn_req_t *req)
{
    const rn_fetch_request_t *freq = req->request;
    rn_fetch_response_t *resp = req->response;
    resp->throttle_time_ms = 0;
    resp->session_id = 0;
    if (req->api_version >= 7 && freq->session_epoch != 0 && freq->session_epoch != -1) {
        resp->error_code = RN_KERR_FETCH_SESSION_ID_NOT_FOUND;
        resp->responses = (rn_fetchable_topic_response_array_t){0, NULL};
        return RN_HANDLED_SYNC;
    }
    fetch_state_t *st = rn_arena_calloc(&req->arena, 1, sizeof(*st));
    if (!st)
        return RN_ENOMEM;
    st->req = req;
    st->dp = rn_datapath(rn_req_broker(req));
    st->replica_id = req->api_version >= 15 ? freq->replica_state.replica_id : freq->replica_id;

    fetch_budget_t budget;
    int rc = read_all(st, &budget);
    if (rc != 0) {
        release_records(resp);
        return rc;
    }
    if (freq->max_wait_ms <= 0 || budget.bytes >= freq->min_bytes || budget.error ||
        freq->topics.count <= 0 || rn_req_broker(req)->stopping) {
        count_bytes_out(st);
        return RN_HANDLED_SYNC;
    }
    release_records(resp);
    park(st, &budget);
    return RN_HANDLED_ASYNC;
}
