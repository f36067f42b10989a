/* Produce (api key 0): validate each partition's record batch, check idempotent
 * producers' sequences, append with offsets assigned in place, wake parked Fetches.
 *
 * Versions 0-2 are served (as Kafka 3.x does) because librdkafka up to 2.11.0 drops gzip,
 * snappy and lz4 compression against a broker whose Produce range does not start at 0; they
 * work with v2 record batches, while legacy message sets (magic 0/1) are refused with
 * UNSUPPORTED_FOR_MESSAGE_FORMAT (runnel does not convert them).
 *
 * Per-partition checks in Kafka's order (KafkaApis.handleProduceRequest,
 * ReplicaManager.appendToLocalLog, Partition.appendRecordsToLeader, LogValidator,
 * UnifiedLog.append):
 *   - acks other than -1/0/1: INVALID_REQUIRED_ACKS for every partition;
 *   - any transactional batch: TRANSACTIONAL_ID_AUTHORIZATION_FAILED for every partition
 *     (runnel has no transaction coordinator yet, so no transactional id is authorised;
 *     this is Kafka's answer to a transactional produce it does not accept);
 *   - unknown topic/partition: UNKNOWN_TOPIC_OR_PARTITION (Produce never creates topics,
 *     in Kafka either: clients create them through Metadata); internal topic:
 *     INVALID_TOPIC_EXCEPTION; not the leader (or not ready): NOT_LEADER_OR_FOLLOWER;
 *   - acks=-1 with fewer in-sync replicas than min.insync.replicas: NOT_ENOUGH_REPLICAS;
 *   - the records: exactly one whole magic-2 batch (else INVALID_RECORD; a batch cut
 *     short counts as none), a length above the batch overhead and a good CRC
 *     (CORRUPT_MESSAGE), at most max.message.bytes (MESSAGE_TOO_LARGE), a known
 *     codec (zstd needs v7+: UNSUPPORTED_COMPRESSION_TYPE), count = lastOffsetDelta + 1 > 0,
 *     no control batch, a sequence for a producer id (INVALID_RECORD);
 *   - the records (rn_precords.h): null keys on compacted topics, timestamps outside
 *     message.timestamp.before/after.max.ms, each listed in record_errors (v8+); then the
 *     batch is recompressed when the topic's compression.type asks for another codec;
 *   - idempotent batches: rn_pidstate's verdict (duplicates answer their original offsets);
 *   - the append (RECORD_LIST_TOO_LARGE past segment.bytes, KAFKA_STORAGE_ERROR on I/O).
 * log_start_offset is -1 for errors found before the log is consulted (request framing,
 * CRC, size) and the log start offset for the log's own refusals (counts, records,
 * sequences, epochs), as Kafka's ReplicaManager reports them.
 * With acks=0 no response is sent; if a partition failed the connection is closed instead,
 * as Kafka does, so the client notices and refreshes its metadata. */
#include "acl/rn_authz.h"
#include "data/rn_datapath.h"
#include "data/rn_precords.h"
#include "replica/rn_replica.h"
#include "rn_clock.h"
#include "rn_handlers.h"

#include "rn_endian.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "ops/rn_metrics.h"
#include "rn_str.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One partition's outcome, filled into its response slot. */
typedef struct produce_ctx {
    rn_req_t *req;
    rn_broker_t *b;
    rn_datapath_t *dp;
    const rn_produce_request_t *preq;
    int64_t now_ms;
    rn_replica_pwait_t *waits; /* acks 1 and all: the partitions appended, to wait for */
    int nwaits;
} produce_ctx_t;

/* A failed partition: code, and (v8+) the message fmt formats (NULL: none). */
__attribute__((format(printf, 4, 5))) static void set_error(produce_ctx_t *pc,
                                                            rn_partition_produce_response_t *out,
                                                            int16_t code, const char *fmt, ...)
{
    out->error_code = code;
    out->base_offset = -1;
    out->log_append_time_ms = -1;
    out->log_start_offset = -1;
    if (fmt && pc->req->api_version >= 8) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        out->error_message = rn_req_strf(pc->req, "%s", msg);
    }
}

/* An appended partition whose answer waits: acks=all for the high watermark, and acks 1 or
 * all for the fsync under flush.messages=1. acks=1 without it answers at once, off the
 * replica module entirely. */
static void add_wait(produce_ctx_t *pc, rn_dpart_t *dpart, rn_partition_produce_response_t *out,
                     int64_t last_offset)
{
    bool need_hw = pc->preq->acks == -1;
    if (pc->waits == NULL || (!need_hw && !rn_replica_sync_wanted(dpart)))
        return;
    pc->waits[pc->nwaits++] = (rn_replica_pwait_t){dpart, out, last_offset, need_hw};
}

/* Batch-level validation. Returns a Kafka error code (0 = valid) and sets *hdr. */
static int16_t check_batch(produce_ctx_t *pc, rn_partition_produce_response_t *out,
                           const rn_topic_t *topic, int32_t partition, const uint8_t *buf,
                           size_t len, rn_batch_header_t *hdr, int64_t max_message_bytes,
                           int64_t log_start)
{
    if (buf == NULL || len == 0) {
        set_error(pc, out, RN_KERR_INVALID_RECORD,
                  "Produce requests must carry one record batch per partition");
        return RN_KERR_INVALID_RECORD;
    }
    int rc = rn_batch_header_parse(buf, len, hdr);
    if (rc == RN_EUNSUPPORTED && pc->req->api_version < 3) {
        set_error(pc, out, RN_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT,
                  "runnel stores record batches (magic 2) only; legacy message sets (magic 0 "
                  "and 1) are not accepted: use a client that produces with version 3 or later");
        return RN_KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT;
    }
    if (rc == RN_EUNSUPPORTED) {
        set_error(pc, out, RN_KERR_INVALID_RECORD,
                  "Produce requests with version 3 and above may only contain record batches "
                  "with magic version 2");
        return RN_KERR_INVALID_RECORD;
    }
    /* Kafka reads a batch cut short as no batch at all (INVALID_RECORD: not exactly one
     * batch); a length below the batch overhead is corrupt. */
    if (rc == RN_ECORRUPT) {
        set_error(pc, out, RN_KERR_CORRUPT_MESSAGE, "%s", rn_batch_strerror(rc));
        return RN_KERR_CORRUPT_MESSAGE;
    }
    if (rc != 0 || rn_batch_total_size(hdr) > len) {
        set_error(pc, out, RN_KERR_INVALID_RECORD, "%s", rn_batch_strerror(rc ? rc : RN_ETRUNC));
        return RN_KERR_INVALID_RECORD;
    }
    size_t total = rn_batch_total_size(hdr);
    if ((int64_t)total > max_message_bytes) {
        set_error(pc, out, RN_KERR_MESSAGE_TOO_LARGE,
                  "The record batch is %zu bytes, larger than max.message.bytes (%lld) of "
                  "topic %s",
                  total, (long long)max_message_bytes, topic->name);
        return RN_KERR_MESSAGE_TOO_LARGE;
    }
    if (total != len) {
        set_error(pc, out, RN_KERR_INVALID_RECORD,
                  "Produce requests with version 3 and above may only contain exactly one "
                  "record batch per partition");
        return RN_KERR_INVALID_RECORD;
    }
    /* The CRC here; counts below, as Kafka's LogValidator does (INVALID_RECORD). */
    if (rn_batch_compute_crc(buf, len) != hdr->crc) {
        set_error(pc, out, RN_KERR_CORRUPT_MESSAGE, "%s", rn_batch_strerror(RN_ECORRUPT));
        return RN_KERR_CORRUPT_MESSAGE;
    }
    int codec = rn_batch_codec(hdr);
    if (codec > RN_CODEC_ZSTD) {
        set_error(pc, out, RN_KERR_CORRUPT_MESSAGE, "unknown compression codec in the batch");
        return RN_KERR_CORRUPT_MESSAGE;
    }
    if (codec == RN_CODEC_ZSTD && pc->req->api_version < 7) {
        set_error(pc, out, RN_KERR_UNSUPPORTED_COMPRESSION_TYPE,
                  "ZStandard compression needs Produce version 7 or later");
        return RN_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
    const char *why = NULL;
    if (hdr->record_count <= 0)
        why = "the record batch has no records";
    else if ((int64_t)hdr->last_offset_delta + 1 != hdr->record_count)
        why = "the record batch's offset range does not match its record count";
    else if (rn_batch_is_control(hdr))
        why = "clients may not write control records";
    else if (hdr->producer_id >= 0 && hdr->base_sequence < 0)
        why = "a record batch with a producer id needs a base sequence";
    if (why) {
        set_error(pc, out, RN_KERR_INVALID_RECORD, "%s", why);
        out->log_start_offset = log_start;
        return RN_KERR_INVALID_RECORD;
    }
    return 0;
}

static void produce_partition(produce_ctx_t *pc, const rn_topic_produce_data_t *tin,
                              const rn_partition_produce_data_t *pin,
                              rn_partition_produce_response_t *out)
{
    rn_broker_t *b = pc->b;
    out->index = pin->index;
    rn_topic_t *topic = rn_topics_find(b->topics, tin->name.ptr, (size_t)tin->name.len);
    rn_partition_t *part = topic ? rn_topic_partition(topic, pin->index) : NULL;
    if (!part) {
        set_error(pc, out, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, NULL);
        return;
    }
    if (topic->internal) {
        set_error(pc, out, RN_KERR_INVALID_TOPIC_EXCEPTION, "Cannot append to an internal topic");
        return;
    }
    rn_dpart_t *dpart = part->leader_id == b->node_id ? rn_datapath_part(pc->dp, part) : NULL;
    if (dpart && dpart->log && !rn_replica_is_leader(dpart))
        dpart = NULL; /* not taken up the lead yet (its log was just opened) */
    if (!dpart) {
        /* Led elsewhere: the client refreshes metadata; leaderless: it waits for one. */
        set_error(pc, out,
                  part->leader_id < 0 ? RN_KERR_LEADER_NOT_AVAILABLE
                                      : RN_KERR_NOT_LEADER_OR_FOLLOWER,
                  NULL);
        return;
    }
    if (!dpart->log) {
        set_error(pc, out, RN_KERR_KAFKA_STORAGE_ERROR, "the partition's log is offline");
        return;
    }
    if (pc->preq->acks == -1) {
        int64_t min_isr = dpart->min_insync_replicas;
        if (part->n_isr < min_isr) {
            set_error(pc, out, RN_KERR_NOT_ENOUGH_REPLICAS,
                      "%s-%d has %d in-sync replicas, fewer than min.insync.replicas=%lld",
                      topic->name, part->index, part->n_isr, (long long)min_isr);
            return;
        }
    }

    /* The frame belongs to this request until it is answered and is plain heap memory; the
     * batch is rewritten in place there (offsets, leader epoch, timestamps), as Kafka does. */
    uint8_t *buf = (uint8_t *)pin->records.ptr;
    size_t len = pin->records.len > 0 ? (size_t)pin->records.len : 0;
    rn_batch_header_t hdr;
    int64_t max_bytes = dpart->max_message_bytes;
    int64_t log_start = rn_plog_log_start_offset(dpart->log);
    if (check_batch(pc, out, topic, part->index, buf, len, &hdr, max_bytes, log_start) != 0)
        return;

    /* Record-level rules and compression.type; the batch may move to the arena. */
    if (rn_precords_apply(pc->req, dpart, topic->name, part->index, pc->now_ms, &buf, &len, &hdr,
                          out) != 0) {
        out->log_start_offset = log_start;
        return;
    }

    if (hdr.producer_id >= 0) {
        rn_pidstate_batch_t dup;
        switch (rn_pidstate_check(dpart->pids, hdr.producer_id, hdr.producer_epoch,
                                  hdr.base_sequence, hdr.last_offset_delta, &dup)) {
        case RN_PIDSTATE_APPEND: break;
        case RN_PIDSTATE_DUPLICATE:
            out->error_code = RN_KERR_NONE;
            out->base_offset = dup.first_offset;
            /* Kafka answers a duplicate with the original batch's timestamp (its max
             * timestamp, or its LogAppendTime) as log_append_time, whatever the topic's
             * timestamp type (UnifiedLog's duplicate path). */
            out->log_append_time_ms = dup.timestamp;
            out->log_start_offset = log_start;
            /* acks=all: answered once the original is replicated, as a first try would be. */
            add_wait(pc, dpart, out, dup.last_offset);
            return;
        case RN_PIDSTATE_OUT_OF_ORDER:
            set_error(pc, out, RN_KERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                      "Out of order sequence number for producer %lld (epoch %d) in %s-%d: %d",
                      (long long)hdr.producer_id, hdr.producer_epoch, topic->name, part->index,
                      hdr.base_sequence);
            out->log_start_offset = log_start;
            return;
        case RN_PIDSTATE_INVALID_EPOCH:
            set_error(pc, out, RN_KERR_INVALID_PRODUCER_EPOCH,
                      "Producer's epoch is older than the last seen epoch");
            out->log_start_offset = log_start;
            return;
        }
    }

    rn_plog_append_info_t info;
    /* check_batch validated the CRC (and it was recomputed above if the batch changed). */
    int rc = rn_plog_append_validated(dpart->log, buf, len, part->leader_epoch, pc->now_ms, &info);
    if (rc != 0) {
        int16_t code = rc == RN_ETOOBIG ? RN_KERR_RECORD_LIST_TOO_LARGE
                       : rc == RN_EIO   ? RN_KERR_KAFKA_STORAGE_ERROR
                                        : RN_KERR_CORRUPT_MESSAGE;
        RN_WARN("produce", "append to %s-%d failed: %s (peer %s, correlation id %d)", topic->name,
                part->index, rn_strerror(rc), pc->req->peer, pc->req->correlation_id);
        set_error(pc, out, code, "%s", rn_strerror(rc));
        return;
    }
    if (hdr.producer_id >= 0) {
        rn_pidstate_batch_t batch = {
            .first_seq = hdr.base_sequence,
            .last_seq = rn_pidstate_last_seq(hdr.base_sequence, hdr.last_offset_delta + 1),
            .first_offset = info.base_offset,
            .last_offset = info.last_offset,
            .timestamp = info.max_timestamp,
        };
        rn_pidstate_update(dpart->pids, hdr.producer_id, hdr.producer_epoch, &batch);
    }
    out->error_code = RN_KERR_NONE;
    out->base_offset = info.base_offset;
    out->log_append_time_ms = info.log_append_time;
    out->log_start_offset = info.log_start_offset;
    rn_datapath_appended(pc->dp, dpart, part->leader_epoch, info.base_offset, (int64_t)info.bytes);
    rn_metrics_topic_in(pc->b->metrics, topic, info.bytes, (uint64_t)info.record_count);
    add_wait(pc, dpart, out, info.last_offset);
}

/* The same error for every partition of the request (whole-request refusals). */
static void fail_all(produce_ctx_t *pc, rn_produce_response_t *resp, int16_t code)
{
    for (int32_t t = 0; t < resp->responses.count; t++) {
        rn_topic_produce_response_t *tout = &resp->responses.items[t];
        for (int32_t p = 0; p < tout->partition_responses.count; p++)
            set_error(pc, &tout->partition_responses.items[p], code, NULL);
    }
}

static bool has_transactional_batch(const rn_produce_request_t *preq)
{
    for (int32_t t = 0; t < preq->topic_data.count; t++) {
        const rn_topic_produce_data_t *tin = &preq->topic_data.items[t];
        for (int32_t p = 0; p < tin->partition_data.count; p++) {
            const rn_records_t *rec = &tin->partition_data.items[p].records;
            if (rec->len >= RN_BATCH_HEADER_SIZE && rec->ptr[RN_BATCH_OFF_MAGIC] == 2 &&
                (rn_load_be16(rec->ptr + RN_BATCH_OFF_ATTRIBUTES) & RN_BATCH_ATTR_TRANSACTIONAL))
                return true;
        }
    }
    return false;
}

int rn_handle_produce(rn_req_t *req)
{
    const rn_produce_request_t *preq = req->request;
    rn_produce_response_t *resp = req->response;
    produce_ctx_t pc = {
        .req = req,
        .b = rn_req_broker(req),
        .dp = rn_datapath(rn_req_broker(req)),
        .preq = preq,
        .now_ms = rn_clock_wall_ms(),
    };
    int32_t ntopics = preq->topic_data.count > 0 ? preq->topic_data.count : 0;
    rn_topic_produce_response_t *touts =
        rn_topic_produce_response_array_alloc(&req->arena, &resp->responses, ntopics);
    if (!touts && ntopics > 0)
        return RN_ENOMEM;
    for (int32_t t = 0; t < ntopics; t++) {
        const rn_topic_produce_data_t *tin = &preq->topic_data.items[t];
        int32_t nparts = tin->partition_data.count > 0 ? tin->partition_data.count : 0;
        touts[t].name = tin->name;
        rn_partition_produce_response_t *pouts = rn_partition_produce_response_array_alloc(
            &req->arena, &touts[t].partition_responses, nparts);
        if (!pouts && nparts > 0)
            return RN_ENOMEM;
        for (int32_t p = 0; p < nparts; p++)
            pouts[p].index = tin->partition_data.items[p].index;
    }

    if (preq->acks != -1 && preq->acks != 0 && preq->acks != 1) {
        fail_all(&pc, resp, RN_KERR_INVALID_REQUIRED_ACKS);
    } else if (has_transactional_batch(preq)) {
        fail_all(&pc, resp, RN_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    } else {
        if (preq->acks != 0) {
            int total = 0;
            for (int32_t t = 0; t < ntopics; t++)
                total += touts[t].partition_responses.count;
            pc.waits = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof(*pc.waits));
            if (pc.waits == NULL)
                return RN_ENOMEM;
        }
        for (int32_t t = 0; t < ntopics; t++) {
            const rn_topic_produce_data_t *tin = &preq->topic_data.items[t];
            /* Kafka's order: an unauthorized topic says so whether or not it exists. */
            bool allowed = rn_authz_allowed(req, RN_ACL_OP_WRITE, RN_ACL_RES_TOPIC, tin->name);
            for (int32_t p = 0; p < touts[t].partition_responses.count; p++) {
                if (!allowed)
                    set_error(&pc, &touts[t].partition_responses.items[p],
                              RN_KERR_TOPIC_AUTHORIZATION_FAILED, NULL);
                else
                    produce_partition(&pc, tin, &tin->partition_data.items[p],
                                      &touts[t].partition_responses.items[p]);
            }
        }
    }

    /* acks=all: each appended partition waits for its high watermark (Kafka's DelayedProduce); the
     * request is answered when all are settled. */
    if (pc.nwaits > 0 && rn_replica_wait_produce(pc.b, req, pc.waits, pc.nwaits, preq->timeout_ms))
        return RN_HANDLED_ASYNC;

    bool failed = false;
    for (int32_t t = 0; t < ntopics; t++)
        for (int32_t p = 0; p < touts[t].partition_responses.count; p++)
            if (touts[t].partition_responses.items[p].error_code != RN_KERR_NONE)
                failed = true;
    if (failed)
        rn_req_count_error(req);
    if (preq->acks == 0) {
        if (failed) {
            RN_INFO("produce",
                    "closing connection %s: an acks=0 produce failed (correlation id "
                    "%d), so the client refreshes its metadata",
                    req->peer, req->correlation_id);
            return RN_EINVAL;
        }
        rn_req_no_response(req);
        return RN_HANDLED_NO_RESPONSE;
    }
    return RN_HANDLED_SYNC;
}
