/* Offsets of a partition: ListOffsets (api key 2), DeleteRecords (21) and
 * OffsetForLeaderEpoch (23). Served versions: client/defs/<api>.def (serve=).
 *
 * ListOffsets timestamps: -1 latest (the high watermark for read_uncommitted consumers, the
 * last stable offset for read_committed ones, the log end for followers), -2 earliest (the
 * log start), -3 the record with the largest timestamp (v7, KIP-734; any other negative
 * value, or -3 before v7, is UNSUPPORTED_VERSION as in Kafka), otherwise the first
 * record whose timestamp is >= the target and whose offset is below that same bound
 * (offset and timestamp -1 when there is none). The leader epoch (v4+) is the batch's
 * partitionLeaderEpoch, or the epoch cache's answer for the offset.
 *
 * DeleteRecords moves the log start offset up to the requested offset (-1 = the high
 * watermark; above it, or below -1: OFFSET_OUT_OF_RANGE); internal topics answer
 * INVALID_TOPIC_EXCEPTION and topics whose cleanup.policy lacks "delete" POLICY_VIOLATION,
 * as in Kafka. A single node has no followers to wait for, so the answer is immediate.
 *
 * A lookup by timestamp (or -3) that has to look inside a compressed batch does so on the
 * offload worker through rn_tslookup (never on the loop: a batch may be a decompression
 * bomb), shared with every other question about that batch and remembered; the request
 * answers once its last such lookup is back.
 *
 * v0 answers Kafka 3.x's older question instead: offsets where segments begin (see
 * list_partition_v0).
 *
 * OffsetForLeaderEpoch answers from the leader-epoch cache (rn_epochs_end_offset_for, with
 * the log end offset for the latest epoch).
 *
 * Every partition is checked first: UNKNOWN_TOPIC_OR_PARTITION, NOT_LEADER_OR_FOLLOWER,
 * KAFKA_STORAGE_ERROR for an offline log, and for a current_leader_epoch >= 0 other than
 * the partition's: FENCED_LEADER_EPOCH (older) / UNKNOWN_LEADER_EPOCH (newer). */
#include "acl/rn_authz.h"
#include "data/rn_datapath.h"
#include "data/rn_tslookup.h"
#include "rn_handlers.h"

#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "meta/rn_topicconf.h"

#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#define LATEST_TIMESTAMP   (-1)
#define EARLIEST_TIMESTAMP (-2)
#define MAX_TIMESTAMP      (-3)

/* Look a partition up for an offsets request: the state, or NULL with *err set. */
static rn_dpart_t *lookup(rn_req_t *req, rn_str_t name, int32_t index, int32_t current_epoch,
                          rn_topic_t **topic_out, int16_t *err)
{
    rn_broker_t *b = rn_req_broker(req);
    rn_topic_t *topic =
        name.len >= 0 ? rn_topics_find(b->topics, name.ptr, (size_t)name.len) : NULL;
    rn_partition_t *part = topic ? rn_topic_partition(topic, index) : NULL;
    *err = RN_KERR_NONE;
    if (topic_out)
        *topic_out = topic;
    if (!part) {
        *err = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        return NULL;
    }
    rn_dpart_t *dpart =
        part->leader_id == b->node_id ? rn_datapath_part(rn_datapath(b), part) : NULL;
    if (!dpart) {
        *err = part->leader_id < 0 ? RN_KERR_LEADER_NOT_AVAILABLE : RN_KERR_NOT_LEADER_OR_FOLLOWER;
        return NULL;
    }
    if (!dpart->log) {
        *err = RN_KERR_KAFKA_STORAGE_ERROR;
        return NULL;
    }
    if (current_epoch >= 0 && current_epoch != part->leader_epoch) {
        *err = current_epoch < part->leader_epoch ? RN_KERR_FENCED_LEADER_EPOCH
                                                  : RN_KERR_UNKNOWN_LEADER_EPOCH;
        return NULL;
    }
    return dpart;
}

/* ---- ListOffsets ---- */

/* A request's lookups still out on the offload worker. */
typedef struct lo_state {
    rn_req_t *req;
    int pending;
    bool parked; /* the handler returned RN_HANDLED_ASYNC */
} lo_state_t;

/* One partition's lookup by timestamp (or -3: then ts is the largest timestamp and fallback
 * the answer when no record of its batch carries it). */
typedef struct lo_lookup {
    lo_state_t *st;
    const rn_list_offsets_request_t *lreq;
    rn_str_t name;
    const rn_list_offsets_partition_t *pin;
    rn_list_offsets_partition_response_t *out;
    int64_t ts;
    int64_t next_min; /* where to go on when the asked batch holds no match */
    bool max_ts;      /* ListOffsets -3 */
    rn_segment_ts_hit_t fallback;
} lo_lookup_t;

/* The offset consumers of this request may see (see the top of the file). */
static int64_t lo_bound(const rn_list_offsets_request_t *lreq, rn_dpart_t *dpart)
{
    return lreq->replica_id >= 0        ? rn_plog_log_end_offset(dpart->log)
           : lreq->isolation_level == 1 ? rn_dpart_last_stable_offset(dpart)
                                        : rn_dpart_high_watermark(dpart);
}

static void lo_answer(lo_lookup_t *lk, rn_dpart_t *dpart, const rn_segment_ts_hit_t *hit)
{
    rn_list_offsets_partition_response_t *out = lk->out;
    if (hit->offset >= lo_bound(lk->lreq, dpart))
        return;
    out->offset = hit->offset;
    out->timestamp = hit->timestamp;
    out->leader_epoch = !lk->max_ts && hit->leader_epoch >= 0
                            ? hit->leader_epoch
                            : rn_epochs_epoch_for_offset(&dpart->epochs, hit->offset);
}

static void lo_answered(void *arg, int rc, const rn_segment_ts_hit_t *hit);

/* Go on with a lookup: answer it, or leave it with the offload worker (pending + 1). first:
 * start it; otherwise rc and hit are what the worker found in the batch asked about (0,
 * RN_ENOTFOUND: search on after it, or an error). A lookup that came back names its
 * partition again: it may have gone meanwhile. */
static void lo_continue(lo_lookup_t *lk, int rc, const rn_segment_ts_hit_t *hit, bool first)
{
    rn_req_t *req = lk->st->req;
    rn_broker_t *b = rn_req_broker(req);
    rn_dpart_t *dpart =
        lookup(req, lk->name, lk->pin->partition_index, -1, NULL, &lk->out->error_code);
    if (dpart == NULL)
        return;
    rn_plog_t *log = dpart->log;
    rn_segment_ts_hit_t found;
    while (rc != 0) {
        if (rc != RN_ENOTFOUND && rc != 1)
            goto failed;
        rn_segment_t *seg = NULL;
        rn_segment_ts_batch_t batch;
        int64_t start = rn_plog_log_start_offset(log);
        int64_t min = lk->next_min > start ? lk->next_min : start;
        if (first && lk->max_ts) {
            rc = rn_plog_max_timestamp_deferred(log, &lk->fallback, &seg, &batch);
            if (rc == RN_ENOTFOUND)
                return; /* no timestamps at all */
            lk->ts = lk->fallback.timestamp;
            found = lk->fallback;
        } else {
            rc = rn_plog_offset_for_timestamp_deferred(log, lk->ts, min, &found, &seg, &batch);
            if (rc == RN_ENOTFOUND) {
                if (lk->max_ts)
                    lo_answer(lk, dpart, &lk->fallback);
                return;
            }
        }
        first = false;
        hit = &found;
        if (rc != 1)
            continue; /* answered without decompressing, or failed */
        lk->next_min = rn_batch_last_offset(&batch.hdr) + 1;
        if (rn_tslookup_find(rn_datapath_tslookup(rn_datapath(b)), log, seg, &batch, lk->ts, min,
                             &rc, &found, lo_answered, lk) == 0) {
            lk->st->pending++;
            return;
        }
        /* answered from memory: rc 0, or RN_ENOTFOUND to search on after the batch */
    }
    lo_answer(lk, dpart, hit);
    return;
failed:
    RN_WARN("offsets", "ListOffsets on %s at timestamp %lld failed: %s", rn_plog_name(log),
            (long long)lk->ts, rn_strerror(rc));
    lk->out->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
}

static void lo_answered(void *arg, int rc, const rn_segment_ts_hit_t *hit)
{
    lo_lookup_t *lk = arg;
    lo_state_t *st = lk->st;
    st->pending--;
    if (rc == RN_ECANCELED)
        lk->out->error_code = RN_KERR_UNKNOWN_SERVER_ERROR; /* the broker is stopping */
    else if (!rn_req_orphaned(st->req))
        lo_continue(lk, rc, hit, false);
    if (st->pending == 0 && st->parked)
        rn_req_complete(st->req);
}

/* ListOffsets v0 (Kafka 3.x's legacyFetchOffsetsBefore). The candidates are each segment's
 * base offset (at least the log start) with the time its file was last written, then the log
 * end with now when the active segment holds data. -1 starts at the last candidate, -2 at the
 * first, a timestamp at the last one written at or before it; the answer is up to
 * MaxNumOffsets candidates from there back, newest first. A consumer (ReplicaId -1) never
 * sees past the high watermark: offsets above it give way to the high watermark itself. */
static void list_partition_v0(rn_req_t *req, const rn_list_offsets_request_t *lreq,
                              const rn_list_offsets_partition_t *pin, rn_dpart_t *dpart,
                              rn_list_offsets_partition_response_t *out)
{
    rn_plog_t *log = dpart->log;
    size_t nseg = rn_plog_segment_count(log);
    int64_t start = rn_plog_log_start_offset(log);
    int64_t now = rn_clock_wall_ms();
    int64_t *offs = rn_arena_alloc(&req->arena, (nseg + 2) * sizeof(int64_t));
    int64_t *mtimes = rn_arena_alloc(&req->arena, (nseg + 2) * sizeof(int64_t));
    if (offs == NULL || mtimes == NULL || pin->max_num_offsets < 0) {
        out->error_code = RN_KERR_UNKNOWN_SERVER_ERROR; /* Kafka: a negative array size */
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < nseg; i++, n++) {
        const rn_segment_t *seg = rn_plog_segment_at(log, i);
        struct stat sb;
        offs[n] = seg->base_offset > start ? seg->base_offset : start;
        mtimes[n] = fstat(seg->fd, &sb) == 0
                        ? (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000
                        : 0;
    }
    if (nseg > 0 && rn_plog_segment_at(log, nseg - 1)->size > 0) {
        offs[n] = rn_plog_log_end_offset(log);
        mtimes[n++] = now;
    }
    ptrdiff_t from = (ptrdiff_t)n - 1;
    if (pin->timestamp == EARLIEST_TIMESTAMP)
        from = n > 0 ? 0 : -1;
    else if (pin->timestamp != LATEST_TIMESTAMP)
        while (from >= 0 && mtimes[from] > pin->timestamp)
            from--;
    size_t count = (size_t)(from + 1) < (size_t)pin->max_num_offsets ? (size_t)(from + 1)
                                                                     : (size_t)pin->max_num_offsets;
    int64_t *items = rn_arena_alloc(&req->arena, (count + 1) * sizeof(int64_t));
    if (items == NULL) {
        out->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    size_t k = 0;
    int64_t hw = rn_dpart_high_watermark(dpart);
    bool consumer = lreq->replica_id == -1;
    if (consumer && count > 0 && offs[from] > hw)
        items[k++] = hw; /* candidates only fall going back, so the first is the largest */
    for (size_t j = 0; j < count; j++)
        if (!consumer || offs[from - (ptrdiff_t)j] <= hw)
            items[k++] = offs[from - (ptrdiff_t)j];
    out->old_style_offsets = (rn_int64_array_t){(int32_t)k, items};
}

static void list_partition(rn_req_t *req, lo_state_t *st, const rn_list_offsets_request_t *lreq,
                           rn_str_t name, const rn_list_offsets_partition_t *pin,
                           rn_list_offsets_partition_response_t *out)
{
    out->partition_index = pin->partition_index;
    out->timestamp = -1;
    out->offset = -1;
    out->leader_epoch = -1;
    /* Kafka refuses a negative timestamp it does not serve at this version before it looks
     * the partition up (v0 too): -3 needs v7, -4 and later specials need versions runnel does not
     * serve, and other negative values are no timestamp at all. */
    bool special = pin->timestamp == LATEST_TIMESTAMP || pin->timestamp == EARLIEST_TIMESTAMP ||
                   (pin->timestamp == MAX_TIMESTAMP && req->api_version >= 7);
    if (pin->timestamp < 0 && !special) {
        out->error_code = RN_KERR_UNSUPPORTED_VERSION;
        return;
    }
    if (req->api_version == 0) {
        rn_dpart_t *dpart = lookup(req, name, pin->partition_index, -1, NULL, &out->error_code);
        if (dpart != NULL)
            list_partition_v0(req, lreq, pin, dpart, out);
        return;
    }
    int32_t current = req->api_version >= 4 ? pin->current_leader_epoch : -1;
    rn_dpart_t *dpart = lookup(req, name, pin->partition_index, current, NULL, &out->error_code);
    if (!dpart)
        return;
    rn_plog_t *log = dpart->log;
    switch (pin->timestamp) {
    case LATEST_TIMESTAMP:
        out->offset = lo_bound(lreq, dpart);
        out->leader_epoch = dpart->part->leader_epoch;
        return;
    case EARLIEST_TIMESTAMP:
        out->offset = rn_plog_log_start_offset(log);
        out->leader_epoch = rn_epochs_epoch_for_offset(&dpart->epochs, out->offset);
        return;
    default: break;
    }
    lo_lookup_t *lk = rn_arena_calloc(&req->arena, 1, sizeof(*lk));
    if (lk == NULL) {
        out->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
        return;
    }
    *lk = (lo_lookup_t){
        st, lreq, name, pin, out, pin->timestamp, -1, pin->timestamp == MAX_TIMESTAMP, {0}};
    lo_continue(lk, RN_ENOTFOUND, NULL, true);
}

int rn_handle_list_offsets(rn_req_t *req)
{
    const rn_list_offsets_request_t *lreq = req->request;
    rn_list_offsets_response_t *resp = req->response;
    resp->throttle_time_ms = 0;
    int32_t ntopics = lreq->topics.count > 0 ? lreq->topics.count : 0;
    rn_list_offsets_topic_response_t *touts =
        rn_list_offsets_topic_response_array_alloc(&req->arena, &resp->topics, ntopics);
    lo_state_t *st = rn_arena_calloc(&req->arena, 1, sizeof(*st));
    if ((!touts && ntopics > 0) || st == NULL)
        return RN_ENOMEM;
    st->req = req;
    for (int32_t t = 0; t < ntopics; t++) {
        const rn_list_offsets_topic_t *tin = &lreq->topics.items[t];
        int32_t nparts = tin->partitions.count > 0 ? tin->partitions.count : 0;
        touts[t].name = tin->name;
        rn_list_offsets_partition_response_t *pouts =
            rn_list_offsets_partition_response_array_alloc(&req->arena, &touts[t].partitions,
                                                           nparts);
        if (!pouts && nparts > 0) {
            if (st->pending == 0)
                return RN_ENOMEM;
            touts[t].partitions.count = 0; /* lookups are out: answer without the rest */
            resp->topics.count = t + 1;
            break;
        }
        bool allowed = rn_authz_allowed(req, RN_ACL_OP_DESCRIBE, RN_ACL_RES_TOPIC, tin->name);
        for (int32_t p = 0; p < nparts; p++) {
            if (allowed) {
                list_partition(req, st, lreq, tin->name, &tin->partitions.items[p], &pouts[p]);
                continue;
            }
            pouts[p].partition_index = tin->partitions.items[p].partition_index;
            pouts[p].error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
        }
    }
    if (st->pending == 0)
        return RN_HANDLED_SYNC;
    st->parked = true;
    rn_req_park(req, NULL, NULL); /* kept until the lookups are back, then completed */
    return RN_HANDLED_ASYNC;
}

/* ---- DeleteRecords ---- */

static void delete_partition(rn_req_t *req, rn_str_t name, const rn_delete_records_partition_t *pin,
                             rn_delete_records_partition_result_t *out)
{
    rn_broker_t *b = rn_req_broker(req);
    out->partition_index = pin->partition_index;
    out->low_watermark = -1;
    rn_topic_t *topic;
    rn_dpart_t *dpart = lookup(req, name, pin->partition_index, -1, &topic, &out->error_code);
    if (!dpart)
        return;
    if (topic->internal) {
        out->error_code = RN_KERR_INVALID_TOPIC_EXCEPTION;
        return;
    }
    char buf[64];
    const char *policy =
        rn_topicconf_value(&topic->conf, b->cfg, RN_TC_CLEANUP_POLICY, NULL, buf, sizeof(buf));
    if (strstr(policy, "delete") == NULL) {
        out->error_code = RN_KERR_POLICY_VIOLATION;
        return;
    }
    int64_t hw = rn_dpart_high_watermark(dpart);
    int64_t offset = pin->offset == -1 ? hw : pin->offset;
    if (offset < 0 || offset > hw) {
        out->error_code = RN_KERR_OFFSET_OUT_OF_RANGE;
        return;
    }
    int64_t before = rn_plog_log_start_offset(dpart->log);
    int64_t start = before;
    int rc = rn_plog_delete_records(dpart->log, offset, &start);
    if (rc != 0) {
        RN_WARN("offsets", "DeleteRecords on %s to %lld failed: %s", rn_plog_name(dpart->log),
                (long long)offset, rn_strerror(rc));
        out->error_code =
            rc == RN_ERANGE ? RN_KERR_OFFSET_OUT_OF_RANGE : RN_KERR_KAFKA_STORAGE_ERROR;
        return;
    }
    out->low_watermark = start;
    if (start != before) {
        RN_INFO("offsets", "DeleteRecords: log start of %s moved %lld -> %lld (peer %s)",
                rn_plog_name(dpart->log), (long long)before, (long long)start, req->peer);
        rn_datapath_start_moved(rn_datapath(b), dpart);
    }
}

int rn_handle_delete_records(rn_req_t *req)
{
    const rn_delete_records_request_t *dreq = req->request;
    rn_delete_records_response_t *resp = req->response;
    resp->throttle_time_ms = 0;
    int32_t ntopics = dreq->topics.count > 0 ? dreq->topics.count : 0;
    rn_delete_records_topic_result_t *touts =
        rn_delete_records_topic_result_array_alloc(&req->arena, &resp->topics, ntopics);
    if (!touts && ntopics > 0)
        return RN_ENOMEM;
    for (int32_t t = 0; t < ntopics; t++) {
        const rn_delete_records_topic_t *tin = &dreq->topics.items[t];
        int32_t nparts = tin->partitions.count > 0 ? tin->partitions.count : 0;
        touts[t].name = tin->name;
        rn_delete_records_partition_result_t *pouts =
            rn_delete_records_partition_result_array_alloc(&req->arena, &touts[t].partitions,
                                                           nparts);
        if (!pouts && nparts > 0)
            return RN_ENOMEM;
        bool allowed = rn_authz_allowed(req, RN_ACL_OP_DELETE, RN_ACL_RES_TOPIC, tin->name);
        for (int32_t p = 0; p < nparts; p++) {
            if (allowed) {
                delete_partition(req, tin->name, &tin->partitions.items[p], &pouts[p]);
                continue;
            }
            pouts[p].partition_index = tin->partitions.items[p].partition_index;
            pouts[p].low_watermark = -1;
            pouts[p].error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
        }
    }
    return RN_HANDLED_SYNC;
}

/* ---- OffsetForLeaderEpoch ---- */

int rn_handle_offset_for_leader_epoch(rn_req_t *req)
{
    const rn_offset_for_leader_epoch_request_t *oreq = req->request;
    rn_offset_for_leader_epoch_response_t *resp = req->response;
    resp->throttle_time_ms = 0;
    /* A follower (replica id >= 0) needs CLUSTER_ACTION; a consumer DESCRIBE on the topic. */
    bool follower = req->api_version >= 3 && oreq->replica_id >= 0;
    bool follower_ok = follower && rn_authz_cluster(req, RN_ACL_OP_CLUSTER_ACTION);
    int32_t ntopics = oreq->topics.count > 0 ? oreq->topics.count : 0;
    rn_offset_for_leader_topic_result_t *touts =
        rn_offset_for_leader_topic_result_array_alloc(&req->arena, &resp->topics, ntopics);
    if (!touts && ntopics > 0)
        return RN_ENOMEM;
    for (int32_t t = 0; t < ntopics; t++) {
        const rn_offset_for_leader_topic_t *tin = &oreq->topics.items[t];
        int32_t nparts = tin->partitions.count > 0 ? tin->partitions.count : 0;
        touts[t].topic = tin->topic;
        bool allowed =
            follower ? follower_ok
                     : rn_authz_allowed(req, RN_ACL_OP_DESCRIBE, RN_ACL_RES_TOPIC, tin->topic);
        rn_epoch_end_offset_t *pouts =
            rn_epoch_end_offset_array_alloc(&req->arena, &touts[t].partitions, nparts);
        if (!pouts && nparts > 0)
            return RN_ENOMEM;
        for (int32_t p = 0; p < nparts; p++) {
            const rn_offset_for_leader_partition_t *pin = &tin->partitions.items[p];
            rn_epoch_end_offset_t *out = &pouts[p];
            out->partition = pin->partition;
            out->leader_epoch = -1;
            out->end_offset = -1;
            if (!allowed) {
                out->error_code = RN_KERR_TOPIC_AUTHORIZATION_FAILED;
                continue;
            }
            rn_dpart_t *dpart = lookup(req, tin->topic, pin->partition, pin->current_leader_epoch,
                                       NULL, &out->error_code);
            if (!dpart)
                continue;
            rn_epochs_end_offset_for(&dpart->epochs, pin->leader_epoch,
                                     rn_plog_log_end_offset(dpart->log), &out->leader_epoch,
                                     &out->end_offset);
        }
    }
    return RN_HANDLED_SYNC;
}
