/* qmsg_resp.c: quorum RPC responses <-> raft messages, and entries <-> record batches
 * (see rn_qmsg.h). */
#include "quorum/rn_qmsg.h"
#include "quorum/rn_qlog.h"

#include "rn_alloc.h"
#include "rn_batch.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_reader.h"
#include "rn_records.h"

#include <string.h>

static const rn_str_t topic_name = {RN_QLOG_TOPIC, (int32_t)sizeof(RN_QLOG_TOPIC) - 1};

/* ---- batches ---- */

int rn_qmsg_batch_build(const rn_raft_entry_t *entry, uint8_t **out, size_t *len)
{
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    spec.base_offset = entry->offset;
    spec.partition_leader_epoch = entry->epoch;
    rn_record_spec_t rec = {.value = entry->data != NULL ? (const void *)entry->data : "",
                            .value_len = entry->len,
                            .timestamp = rn_clock_wall_ms()};
    uint8_t key[4], ignored[6];
    if (entry->kind == RN_RAFT_ENTRY_LEADER_CHANGE) {
        spec.attributes = RN_BATCH_ATTR_CONTROL;
        rn_records_control_encode(key, ignored, RN_CONTROL_LEADER_CHANGE, 0);
        rec.key = key;
        rec.key_len = sizeof(key);
    }
    return rn_batch_build(&spec, &rec, 1, out, len);
}

int rn_qmsg_batches_encode(const rn_raft_entry_t *entries, int n, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    for (int i = 0; i < n; i++) {
        uint8_t *b;
        size_t blen;
        int rc = rn_qmsg_batch_build(&entries[i], &b, &blen);
        if (rc != 0) {
            rn_free(*out);
            *out = NULL;
            *len = 0;
            return rc;
        }
        *out = rn_xrealloc(*out, *len + blen);
        memcpy(*out + *len, b, blen);
        *len += blen;
        rn_free(b);
    }
    return 0;
}

int rn_qmsg_batch_entry(const uint8_t *buf, size_t len, rn_raft_entry_t *out)
{
    rn_batch_header_t hdr;
    if (rn_batch_validate(buf, len, &hdr) != 0 || rn_batch_total_size(&hdr) != len)
        return RN_ECORRUPT;
    if (hdr.record_count != 1 || rn_batch_codec(&hdr) != 0 || hdr.partition_leader_epoch < 0)
        return RN_ECORRUPT; /* every quorum entry is a batch of one uncompressed record */
    rn_reader_t r;
    rn_reader_init(&r, buf + RN_BATCH_HEADER_SIZE, len - RN_BATCH_HEADER_SIZE);
    rn_record_t rec;
    if (rn_records_parse(&r, &rec) != RN_RECORD_OK)
        return RN_ECORRUPT;
    *out = (rn_raft_entry_t){
        .offset = hdr.base_offset,
        .epoch = hdr.partition_leader_epoch,
        .kind = rn_batch_is_control(&hdr) ? RN_RAFT_ENTRY_LEADER_CHANGE : RN_RAFT_ENTRY_DATA,
        .data = rec.value.len > 0 ? rec.value.data : NULL,
        .len = rec.value.len > 0 ? (size_t)rec.value.len : 0,
    };
    return 0;
}

/* Whole batches back to back into entries (arena), pointing into buf. */
static int decode_batches(const uint8_t *buf, size_t len, rn_arena_t *a, rn_raft_entry_t **out,
                          int *n)
{
    int cap = 0;
    for (size_t pos = 0; pos + RN_BATCH_LOG_OVERHEAD <= len;) {
        rn_batch_header_t hdr;
        if (rn_batch_header_parse(buf + pos, len - pos, &hdr) != 0)
            break; /* a partial last batch (size limit) is dropped, as Kafka's readers do */
        size_t total = rn_batch_total_size(&hdr);
        if (total > len - pos)
            break;
        pos += total;
        cap++;
    }
    *out = rn_arena_calloc(a, (size_t)cap + 1, sizeof(**out));
    if (*out == NULL)
        return RN_ENOMEM;
    *n = 0;
    size_t pos = 0;
    for (int i = 0; i < cap; i++) {
        rn_batch_header_t hdr;
        rn_batch_header_parse(buf + pos, len - pos, &hdr);
        size_t total = rn_batch_total_size(&hdr);
        if (rn_qmsg_batch_entry(buf + pos, total, &(*out)[i]) != 0)
            return RN_ECORRUPT;
        pos += total;
        (*n)++;
    }
    return 0;
}

/* ---- responses out ---- */

#define ONE_PARTITION(arena, resp, TOPIC, PART, tvar, pvar)                                        \
    TOPIC##_t *tvar = TOPIC##_array_alloc(arena, &(resp)->topics, 1);                              \
    PART##_t *pvar = tvar ? PART##_array_alloc(arena, &tvar->partitions, 1) : NULL;                \
    if (pvar == NULL)                                                                              \
        return RN_ENOMEM;

static int fetch_resp(const rn_raft_msg_t *msg, int16_t version, const uint8_t *records, size_t len,
                      rn_arena_t *a, rn_fetch_response_t *r)
{
    r->error_code = 0;
    r->session_id = 0;
    rn_fetchable_topic_response_t *t = rn_fetchable_topic_response_array_alloc(a, &r->responses, 1);
    rn_fetch_partition_data_t *p =
        t ? rn_fetch_partition_data_array_alloc(a, &t->partitions, 1) : NULL;
    if (p == NULL)
        return RN_ENOMEM;
    if (version >= 13)
        t->topic_id = rn_qmsg_topic_id;
    else
        t->topic = topic_name;
    p->partition_index = 0;
    p->error_code = msg->error;
    p->high_watermark = msg->error == 0 ? msg->u.fetch_resp.high_watermark : -1;
    p->aborted_transactions.count = -1;
    p->current_leader.leader_id = msg->leader_id;
    p->current_leader.leader_epoch = msg->epoch;
    if (msg->error == 0) {
        p->diverging_epoch.epoch = msg->u.fetch_resp.diverging.epoch;
        p->diverging_epoch.end_offset = msg->u.fetch_resp.diverging.end_offset;
        if (msg->u.fetch_resp.snapshot.end_offset >= 0) {
            p->snapshot_id.end_offset = msg->u.fetch_resp.snapshot.end_offset;
            p->snapshot_id.epoch = msg->u.fetch_resp.snapshot.epoch;
        }
    }
    p->records =
        (rn_records_t){.ptr = records != NULL ? records : (const uint8_t *)"", .len = (int32_t)len};
    return 0;
}

int rn_qmsg_response_encode(const rn_raft_msg_t *msg, int16_t version, const uint8_t *records,
                            size_t len, int64_t position, int64_t size, rn_arena_t *a, void *resp)
{
    switch (msg->type) {
    case RN_RAFT_VOTE_RESP: {
        rn_vote_response_t *r = resp;
        ONE_PARTITION(a, r, rn_vote_resp_topic_data, rn_vote_resp_partition_data, t, p);
        t->topic_name = topic_name;
        p->error_code = msg->error;
        p->leader_id = msg->leader_id;
        p->leader_epoch = msg->epoch;
        p->vote_granted = msg->u.vote_resp.granted;
        return 0;
    }
    case RN_RAFT_BEGIN_EPOCH_RESP: {
        rn_begin_quorum_epoch_response_t *r = resp;
        ONE_PARTITION(a, r, rn_begin_quorum_epoch_resp_topic_data,
                      rn_begin_quorum_epoch_resp_partition_data, t, p);
        t->topic_name = topic_name;
        p->error_code = msg->error;
        p->leader_id = msg->leader_id;
        p->leader_epoch = msg->epoch;
        return 0;
    }
    case RN_RAFT_END_EPOCH_RESP: {
        rn_end_quorum_epoch_response_t *r = resp;
        ONE_PARTITION(a, r, rn_end_quorum_epoch_resp_topic_data,
                      rn_end_quorum_epoch_resp_partition_data, t, p);
        t->topic_name = topic_name;
        p->error_code = msg->error;
        p->leader_id = msg->leader_id;
        p->leader_epoch = msg->epoch;
        return 0;
    }
    case RN_RAFT_FETCH_RESP: return fetch_resp(msg, version, records, len, a, resp);
    case RN_RAFT_FETCH_SNAPSHOT_RESP: {
        rn_fetch_snapshot_response_t *r = resp;
        ONE_PARTITION(a, r, rn_fetch_snapshot_resp_topic_snapshot,
                      rn_fetch_snapshot_resp_partition_snapshot, t, p);
        t->name = topic_name;
        p->error_code = msg->error;
        p->snapshot_id.end_offset = msg->u.snap_resp.id.end_offset;
        p->snapshot_id.epoch = msg->u.snap_resp.id.epoch;
        p->current_leader.leader_id = msg->leader_id;
        p->current_leader.leader_epoch = msg->epoch;
        p->size = size;
        p->position = position;
        p->unaligned_records = (rn_records_t){
            .ptr = records != NULL ? records : (const uint8_t *)"", .len = (int32_t)len};
        return 0;
    }
    default: return RN_EINVAL;
    }
}

/* ---- responses in ---- */

/* The partition answer of a one-topic, one-partition response for our topic, or NULL. */
#define ANSWER(r, namefield, tvar)                                                                 \
    ((r)->topics.count == 1 && (r)->topics.items[0].partitions.count == 1 &&                       \
             (r)->topics.items[0].namefield.len == topic_name.len &&                               \
             memcmp((r)->topics.items[0].namefield.ptr, topic_name.ptr, (size_t)topic_name.len) == \
                 0                                                                                 \
         ? &(r)->topics.items[0].partitions.items[0]                                               \
         : NULL)

static int fetch_answer(const rn_fetch_response_t *r, int16_t version, const rn_raft_msg_t *sent,
                        rn_arena_t *a, rn_raft_msg_t *out)
{
    if (r->responses.count != 1 || r->responses.items[0].partitions.count != 1)
        return RN_ECORRUPT;
    const rn_fetchable_topic_response_t *t = r->responses.items;
    if (version >= 13 ? !rn_uuid_equal(&t->topic_id, &rn_qmsg_topic_id)
                      : !(t->topic.len == topic_name.len &&
                          memcmp(t->topic.ptr, topic_name.ptr, (size_t)t->topic.len) == 0))
        return RN_ECORRUPT;
    const rn_fetch_partition_data_t *p = t->partitions.items;
    out->error = p->error_code;
    out->epoch = p->current_leader.leader_epoch;
    out->leader_id = p->current_leader.leader_id;
    out->u.fetch_resp.high_watermark = p->high_watermark;
    out->u.fetch_resp.diverging.epoch = p->diverging_epoch.epoch;
    out->u.fetch_resp.diverging.end_offset = p->diverging_epoch.end_offset;
    out->u.fetch_resp.snapshot.end_offset = p->snapshot_id.end_offset;
    out->u.fetch_resp.snapshot.epoch = p->snapshot_id.epoch;
    out->u.fetch_resp.base_offset = sent->u.fetch_req.fetch_offset;
    if (p->records.len <= 0 || p->records.ptr == NULL)
        return 0;
    rn_raft_entry_t *entries = NULL;
    int n = 0;
    int rc = decode_batches(p->records.ptr, (size_t)p->records.len, a, &entries, &n);
    out->u.fetch_resp.records = entries;
    out->u.fetch_resp.n_records = n;
    return rc;
}

static int16_t top_error(int16_t api_key, const void *resp)
{
    switch (api_key) {
    case RN_API_VOTE: return ((const rn_vote_response_t *)resp)->error_code;
    case RN_API_BEGIN_QUORUM_EPOCH:
        return ((const rn_begin_quorum_epoch_response_t *)resp)->error_code;
    case RN_API_END_QUORUM_EPOCH: return ((const rn_end_quorum_epoch_response_t *)resp)->error_code;
    case RN_API_FETCH: return ((const rn_fetch_response_t *)resp)->error_code;
    case RN_API_FETCH_SNAPSHOT: return ((const rn_fetch_snapshot_response_t *)resp)->error_code;
    default: return 0;
    }
}

int rn_qmsg_response_decode(int16_t api_key, int16_t version, const void *resp,
                            const rn_raft_msg_t *sent, rn_arena_t *arena, rn_raft_msg_t *out,
                            rn_records_t *chunk, int64_t *size, int64_t *position)
{
    memset(out, 0, sizeof(*out));
    out->from = sent->to;
    out->to = sent->from;
    out->corr = sent->corr;
    out->leader_id = RN_RAFT_NONE;
    out->type = sent->type + 1; /* each response type follows its request's */
    out->u.fetch_resp.diverging.epoch = -1;
    out->u.fetch_resp.snapshot.end_offset = -1;
    /* A top-level error (INCONSISTENT_CLUSTER_ID, ...) names no partition and no epoch:
     * raft ignores an answer at epoch -1 and asks again on its timers. */
    int16_t top = top_error(api_key, resp);
    if (top != 0) {
        out->error = top;
        out->epoch = -1;
        return 0;
    }
    switch (api_key) {
    case RN_API_VOTE: {
        const rn_vote_response_t *r = resp;
        const rn_vote_resp_partition_data_t *p = ANSWER(r, topic_name, t);
        if (p == NULL)
            return RN_ECORRUPT;
        out->type = RN_RAFT_VOTE_RESP;
        out->error = r->error_code != 0 ? r->error_code : p->error_code;
        out->epoch = p->leader_epoch;
        out->leader_id = p->leader_id;
        out->u.vote_resp.granted = p->vote_granted && out->error == 0;
        out->u.vote_resp.pre_vote = sent->u.vote_req.pre_vote;
        return 0;
    }
    case RN_API_BEGIN_QUORUM_EPOCH: {
        const rn_begin_quorum_epoch_response_t *r = resp;
        const rn_begin_quorum_epoch_resp_partition_data_t *p = ANSWER(r, topic_name, t);
        if (p == NULL)
            return RN_ECORRUPT;
        out->type = RN_RAFT_BEGIN_EPOCH_RESP;
        out->error = r->error_code != 0 ? r->error_code : p->error_code;
        out->epoch = p->leader_epoch;
        out->leader_id = p->leader_id;
        return 0;
    }
    case RN_API_END_QUORUM_EPOCH: {
        const rn_end_quorum_epoch_response_t *r = resp;
        const rn_end_quorum_epoch_resp_partition_data_t *p = ANSWER(r, topic_name, t);
        if (p == NULL)
            return RN_ECORRUPT;
        out->type = RN_RAFT_END_EPOCH_RESP;
        out->error = r->error_code != 0 ? r->error_code : p->error_code;
        out->epoch = p->leader_epoch;
        out->leader_id = p->leader_id;
        return 0;
    }
    case RN_API_FETCH: return fetch_answer(resp, version, sent, arena, out);
    case RN_API_FETCH_SNAPSHOT: {
        const rn_fetch_snapshot_response_t *r = resp;
        const rn_fetch_snapshot_resp_partition_snapshot_t *p = ANSWER(r, name, t);
        if (p == NULL)
            return RN_ECORRUPT;
        out->type = RN_RAFT_FETCH_SNAPSHOT_RESP;
        out->error = r->error_code != 0 ? r->error_code : p->error_code;
        out->epoch = p->current_leader.leader_epoch;
        out->leader_id = p->current_leader.leader_id;
        out->u.snap_resp.id.end_offset = p->snapshot_id.end_offset;
        out->u.snap_resp.id.epoch = p->snapshot_id.epoch;
        *chunk = p->unaligned_records;
        *size = p->size;
        *position = p->position;
        return 0;
    }
    default: return RN_EINVAL;
    }
}
