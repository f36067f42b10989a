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
 *     gzip, and other codecs on large batches, compress on rn_pdefer's worker thread while
 *     the request is parked, and later appends to that partition (from any connection)
 *     queue behind it; the steps below then run on the loop when its turn comes, with the
 *     topic and partition looked up again (deleted meanwhile: UNKNOWN_TOPIC_OR_PARTITION;
 *     led elsewhere: NOT_LEADER_OR_FOLLOWER);
 *   - with produce.worker.threads > 0, a batch of RN_PRECORDS_WORKER_MIN_BYTES or more (or a
 *     compressed one of RN_PRECORDS_WORKER_MIN_ZBYTES whose records must be read) has
 *     everything from its CRC to its recompression checked on a worker the same way
 *     (rn_precords_check); one that fails there is checked again on the loop in its turn,
 *     which names its errors in the order above;
 *   - idempotent batches: rn_pidstate's verdict (duplicates answer their original offsets);
 *   - the append (RECORD_LIST_TOO_LARGE past segment.bytes, KAFKA_STORAGE_ERROR on I/O).
 * log_start_offset is -1 for errors found before the log is consulted (request framing,
 * CRC, size) and the log start offset for the log's own refusals (counts, records,
 * sequences, epochs), as Kafka's ReplicaManager reports them.
 * With acks=0 no response is sent; if a partition failed the connection is closed instead,
 * as Kafka does, so the client notices and refreshes its metadata. */
#include "acl/rn_authz.h"
#include "data/rn_datapath.h"
#include "data/rn_pdefer.h"
#include "data/rn_precords.h"
#include "replica/rn_replica.h"
#include "rn_clock.h"
#include "rn_handlers.h"

#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "ops/rn_metrics.h"
#include "rn_str.h"
#include "rn_uuid.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* One Produce being handled, in its arena (it outlives the handler call when parked). */
typedef struct produce_ctx {
    rn_req_t *req;
    rn_broker_t *b;
    rn_datapath_t *dp;
    const rn_produce_request_t *preq;
    int64_t now_ms;
    rn_replica_pwait_t *waits; /* acks 1 and all: the partitions appended, to wait for */
    int nwaits;
    rn_pdefer_group_t *group; /* partitions queued in rn_pdefer; NULL when none */
} produce_ctx_t;

/* A partition's batch queued in rn_pdefer: the batch ready to append (buf), or the one its
 * job's output becomes. */
typedef struct pitem {
    const rn_topic_produce_data_t *tin;
    rn_partition_produce_response_t *out;
    rn_uuid_t topic_id; /* the topic it was checked against: a recreated one is not it */
    int32_t partition;
    uint8_t *buf;
    size_t len;
    rn_batch_header_t hdr;
} pitem_t;

/* The work of a queued batch, on rn_pdefer's workers: heap memory of its own, since a
 * cancelled request's arena goes while the job may still run (its frame, which buf points
 * into, is kept by the group). */
typedef struct pjob {
    rn_pdefer_job_t job; /* first: rn_pdefer hands it back */
    enum { PJOB_COMPRESS, PJOB_CHECK } kind;
    /* PJOB_COMPRESS: the records of zjob.plain compressed to z. */
    rn_precords_zjob_t zjob;
    uint8_t *z;
    size_t zlen;
    /* PJOB_CHECK: the batch buf[0..len) from its CRC on (rn_precords_check); batch is the
     * recompressed one, if any. */
    rn_precords_rules_t rules;
    int16_t api_version;
    int64_t now_ms;
    uint8_t *buf;
    size_t len;
    rn_batch_header_t hdr;
    uint8_t *batch;
    size_t batch_len;
} pjob_t;

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

/* Batch-level validation up to the CRC (the framing and size). Returns a Kafka error code
 * (0 = valid) and sets *hdr. */
static int16_t check_frame(produce_ctx_t *pc, rn_partition_produce_response_t *out,
                           const rn_topic_t *topic, const uint8_t *buf, size_t len,
                           rn_batch_header_t *hdr, int64_t max_message_bytes)
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
    return 0;
}

/* The header's rules after the CRC, for any thread: 0, or the Kafka error code with *why
 * its message. */
static int16_t header_error(const rn_batch_header_t *hdr, int16_t api_version, const char **why)
{
    int codec = rn_batch_codec(hdr);
    *why = NULL;
    if (codec > RN_CODEC_ZSTD) {
        *why = "unknown compression codec in the batch";
        return RN_KERR_CORRUPT_MESSAGE;
    }
    if (codec == RN_CODEC_ZSTD && api_version < 7) {
        *why = "ZStandard compression needs Produce version 7 or later";
        return RN_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    }
    if (hdr->record_count <= 0)
        *why = "the record batch has no records";
    else if ((int64_t)hdr->last_offset_delta + 1 != hdr->record_count)
        *why = "the record batch's offset range does not match its record count";
    else if (rn_batch_is_control(hdr))
        *why = "clients may not write control records";
    else if (hdr->producer_id >= 0 && hdr->base_sequence < 0)
        *why = "a record batch with a producer id needs a base sequence";
    return *why != NULL ? RN_KERR_INVALID_RECORD : 0;
}

/* Batch-level validation from the CRC on, after check_frame. 0 or a Kafka error code. */
static int16_t check_content(produce_ctx_t *pc, rn_partition_produce_response_t *out,
                             const uint8_t *buf, size_t len, const rn_batch_header_t *hdr,
                             int64_t log_start)
{
    /* The CRC here; counts below, as Kafka's LogValidator does (INVALID_RECORD). */
    if (rn_batch_compute_crc(buf, len) != hdr->crc) {
        set_error(pc, out, RN_KERR_CORRUPT_MESSAGE, "%s", rn_batch_strerror(RN_ECORRUPT));
        return RN_KERR_CORRUPT_MESSAGE;
    }
    const char *why;
    int16_t code = header_error(hdr, pc->req->api_version, &why);
    if (code != 0) {
        set_error(pc, out, code, "%s", why);
        if (code == RN_KERR_INVALID_RECORD)
            out->log_start_offset = log_start;
    }
    return code;
}

/* The partition of tin->name at index where this node leads and may append (Kafka's
 * checks before the records'), or NULL with out's error set. */
static rn_dpart_t *resolve(produce_ctx_t *pc, rn_str_t name, int32_t index,
                           rn_partition_produce_response_t *out, rn_topic_t **topicp)
{
    rn_broker_t *b = pc->b;
    rn_topic_t *topic = rn_topics_find(b->topics, name.ptr, name.len > 0 ? (size_t)name.len : 0);
    rn_partition_t *part = topic ? rn_topic_partition(topic, index) : NULL;
    if (!part) {
        set_error(pc, out, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, NULL);
        return NULL;
    }
    if (topic->internal) {
        set_error(pc, out, RN_KERR_INVALID_TOPIC_EXCEPTION, "Cannot append to an internal topic");
        return NULL;
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
        return NULL;
    }
    if (!dpart->log) {
        set_error(pc, out, RN_KERR_KAFKA_STORAGE_ERROR, "the partition's log is offline");
        return NULL;
    }
    if (pc->preq->acks == -1) {
        int64_t min_isr = dpart->min_insync_replicas;
        if (part->n_isr < min_isr) {
            set_error(pc, out, RN_KERR_NOT_ENOUGH_REPLICAS,
                      "%s-%d has %d in-sync replicas, fewer than min.insync.replicas=%lld",
                      topic->name, part->index, part->n_isr, (long long)min_isr);
            return NULL;
        }
    }
    *topicp = topic;
    return dpart;
}

/* The checked batch buf[0..len) of header *hdr: the producer's sequence, then the append. */
static void append_batch(produce_ctx_t *pc, rn_topic_t *topic, rn_dpart_t *dpart, uint8_t *buf,
                         size_t len, const rn_batch_header_t *hdr,
                         rn_partition_produce_response_t *out)
{
    rn_partition_t *part = dpart->part;
    int64_t log_start = rn_plog_log_start_offset(dpart->log);
    if (hdr->producer_id >= 0) {
        rn_pidstate_batch_t dup;
        switch (rn_pidstate_check(dpart->pids, hdr->producer_id, hdr->producer_epoch,
                                  hdr->base_sequence, hdr->last_offset_delta, &dup)) {
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
                      (long long)hdr->producer_id, hdr->producer_epoch, topic->name, part->index,
                      hdr->base_sequence);
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
    /* check_content (or a worker) validated the CRC (and it was recomputed if the batch changed).
     */
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
    if (hdr->producer_id >= 0) {
        rn_pidstate_batch_t batch = {
            .first_seq = hdr->base_sequence,
            .last_seq = rn_pidstate_last_seq(hdr->base_sequence, hdr->last_offset_delta + 1),
            .first_offset = info.base_offset,
            .last_offset = info.last_offset,
            .timestamp = info.max_timestamp,
        };
        rn_pidstate_update(dpart->pids, hdr->producer_id, hdr->producer_epoch, &batch);
    }
    out->error_code = RN_KERR_NONE;
    out->base_offset = info.base_offset;
    out->log_append_time_ms = info.log_append_time;
    out->log_start_offset = info.log_start_offset;
    rn_datapath_appended(pc->dp, dpart, part->leader_epoch, info.base_offset, (int64_t)info.bytes);
    rn_metrics_topic_in(pc->b->metrics, topic, info.bytes, (uint64_t)info.record_count);
    add_wait(pc, dpart, out, info.last_offset);
}

/* On a worker: a recompression. */
static int compress_work(rn_pdefer_job_t *job)
{
    pjob_t *pj = (pjob_t *)job;
    const rn_precords_zjob_t *zjob = &pj->zjob;
    return rn_codec_compress(zjob->codec, NULL, zjob->plain + RN_BATCH_HEADER_SIZE,
                             zjob->plain_len - RN_BATCH_HEADER_SIZE, &pj->z, &pj->zlen);
}

/* On a worker: check_content and rn_precords_apply's checks, without naming errors (any
 * failure has the loop check the batch again). */
static int check_work(rn_pdefer_job_t *job)
{
    pjob_t *pj = (pjob_t *)job;
    const char *why;
    if (rn_batch_compute_crc(pj->buf, pj->len) != pj->hdr.crc ||
        header_error(&pj->hdr, pj->api_version, &why) != 0)
        return RN_ECORRUPT;
    return rn_precords_check(&pj->rules, pj->now_ms, pj->buf, pj->len, &pj->hdr, &pj->batch,
                             &pj->batch_len);
}

static void release_pjob(rn_pdefer_job_t *job)
{
    pjob_t *pj = (pjob_t *)job;
    rn_free(pj->zjob.plain);
    rn_free(pj->z);
    rn_free(pj->batch);
    rn_free(pj);
}

/* An item's turn (rn_pdefer's commit, on the loop): the partition is looked up again, the
 * job's output becomes the batch, then the sequence check and the append. A job's output
 * is freed after this returns: the append has copied it to the log by then. */
static void commit_item(void *arg, void *item_arg, rn_pdefer_job_t *job, int rc)
{
    produce_ctx_t *pc = arg;
    pitem_t *it = item_arg;
    pjob_t *pj = (pjob_t *)job;
    pc->now_ms = rn_clock_wall_ms();
    rn_topic_t *topic = NULL;
    rn_dpart_t *dpart = resolve(pc, it->tin->name, it->partition, it->out, &topic);
    if (dpart == NULL)
        return;
    if (!rn_uuid_equal(&topic->id, &it->topic_id)) {
        set_error(pc, it->out, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, NULL);
        return;
    }
    uint8_t *buf = it->buf;
    size_t len = it->len;
    rn_batch_header_t hdr = it->hdr;
    int64_t log_start = rn_plog_log_start_offset(dpart->log);
    if (pj != NULL && pj->kind == PJOB_COMPRESS) {
        if (rn_precords_zjob_finish(pc->req, dpart->max_message_bytes, topic->name, it->partition,
                                    &pj->zjob, rc, pj->z, pj->zlen, &buf, &len, &hdr,
                                    it->out) != 0) {
            it->out->log_start_offset = log_start;
            return;
        }
    } else if (pj != NULL && rc != 0) {
        /* Failed on the worker: checked again here, which names the errors. */
        if (check_content(pc, it->out, buf, len, &hdr, log_start) != 0)
            return;
        if (rn_precords_apply(pc->req, dpart, topic->name, it->partition, pc->now_ms, &buf, &len,
                              &hdr, it->out, NULL) != 0) {
            it->out->log_start_offset = log_start;
            return;
        }
    } else if (pj != NULL) {
        if (pj->batch != NULL) {
            buf = pj->batch;
            len = pj->batch_len;
        }
        rn_batch_header_parse(buf, len, &hdr); /* maxTimestamp and CRC may have changed */
    }
    append_batch(pc, topic, dpart, buf, len, &hdr, it->out);
}

static int answer(produce_ctx_t *pc);

/* Every queued partition had its turn: answer, or wait for the high watermark. */
static void finish_request(void *arg)
{
    produce_ctx_t *pc = arg;
    rn_req_t *req = pc->req;
    pc->group = NULL; /* rn_pdefer freed it */
    int rc = answer(pc);
    if (rc == RN_HANDLED_ASYNC)
        return;
    if (rc < 0)
        rn_req_complete_close(req, "an acks=0 produce failed");
    else
        rn_req_complete(req);
}

/* The connection closed: queued items are dropped; jobs still running read the frame,
 * which the group keeps until they are done. */
static void on_cancel(rn_req_t *req, void *arg)
{
    rn_pdefer_group_cancel(arg, rn_req_take_frame(req));
}

/* Queue the partition's batch in rn_pdefer behind job (NULL: it only waits its turn;
 * handed over either way). */
static void defer(produce_ctx_t *pc, const rn_topic_produce_data_t *tin, rn_topic_t *topic,
                  int32_t partition, uint8_t *buf, size_t len, const rn_batch_header_t *hdr,
                  pjob_t *pj, rn_partition_produce_response_t *out)
{
    pitem_t *it = rn_arena_calloc(&pc->req->arena, 1, sizeof(*it));
    if (it == NULL) {
        if (pj != NULL)
            release_pjob(&pj->job);
        set_error(pc, out, RN_KERR_UNKNOWN_SERVER_ERROR, NULL);
        return;
    }
    *it = (pitem_t){tin, out, topic->id, partition, buf, len, *hdr};
    if (pc->group == NULL)
        pc->group =
            rn_pdefer_group_new(rn_datapath_pdefer(pc->dp), commit_item, finish_request, pc);
    rn_pdefer_add(pc->group, &topic->id, partition, pj != NULL ? &pj->job : NULL, it);
}

/* A job for the batch: a recompression of zjob (handed over), or, with zjob NULL, the whole
 * check of buf[0..len) from its CRC on. */
static pjob_t *new_pjob(produce_ctx_t *pc, const rn_dpart_t *dpart, uint8_t *buf, size_t len,
                        const rn_batch_header_t *hdr, rn_precords_zjob_t *zjob)
{
    pjob_t *pj = rn_xcalloc(1, sizeof(*pj));
    pj->job.release = release_pjob;
    if (zjob != NULL) {
        pj->kind = PJOB_COMPRESS;
        pj->job.work = compress_work;
        pj->job.in_bytes = zjob->plain_len;
        pj->zjob = *zjob;
        zjob->plain = NULL;
        return pj;
    }
    pj->kind = PJOB_CHECK;
    pj->job.work = check_work;
    pj->job.in_bytes = len;
    rn_precords_rules_of(dpart, &pj->rules);
    pj->api_version = pc->req->api_version;
    pj->now_ms = pc->now_ms;
    pj->buf = buf;
    pj->len = len;
    pj->hdr = *hdr;
    return pj;
}

static void produce_partition(produce_ctx_t *pc, const rn_topic_produce_data_t *tin,
                              const rn_partition_produce_data_t *pin,
                              rn_partition_produce_response_t *out)
{
    out->index = pin->index;
    rn_topic_t *topic = NULL;
    rn_dpart_t *dpart = resolve(pc, tin->name, pin->index, out, &topic);
    if (dpart == NULL)
        return;

    /* The frame belongs to this request until it is answered and is plain heap memory; the
     * batch is rewritten in place there (offsets, leader epoch, timestamps), as Kafka does. */
    uint8_t *buf = (uint8_t *)pin->records.ptr;
    size_t len = pin->records.len > 0 ? (size_t)pin->records.len : 0;
    rn_batch_header_t hdr;
    int64_t max_bytes = dpart->max_message_bytes;
    int64_t log_start = rn_plog_log_start_offset(dpart->log);
    if (check_frame(pc, out, topic, buf, len, &hdr, max_bytes) != 0)
        return;
    rn_pdefer_t *pd = rn_datapath_pdefer(pc->dp);
    if (rn_datapath_produce_workers(pc->dp) > 0) {
        rn_precords_rules_t rules;
        rn_precords_rules_of(dpart, &rules);
        if (rn_precords_worker_wanted(&rules, &hdr, len) && rn_pdefer_has_room(pd, len)) {
            defer(pc, tin, topic, pin->index, buf, len, &hdr,
                  new_pjob(pc, dpart, buf, len, &hdr, NULL), out);
            return;
        }
    }
    if (check_content(pc, out, buf, len, &hdr, log_start) != 0)
        return;

    /* Record-level rules and compression.type; the batch may move to the arena, or its
     * compression to the worker. */
    rn_precords_zjob_t zjob = {0};
    if (rn_precords_apply(pc->req, dpart, topic->name, pin->index, pc->now_ms, &buf, &len, &hdr,
                          out, &zjob) != 0) {
        out->log_start_offset = log_start;
        return;
    }
    if (zjob.plain != NULL && !rn_pdefer_has_room(pd, zjob.plain_len)) {
        /* Past the bound on compressions in flight: compress here, on the loop, which also
         * holds back the producers that filled it. */
        int16_t code = rn_precords_zjob_run(pc->req, max_bytes, topic->name, pin->index, &zjob,
                                            &buf, &len, &hdr, out);
        rn_free(zjob.plain);
        zjob.plain = NULL;
        if (code != 0) {
            out->log_start_offset = log_start;
            return;
        }
    }
    if (zjob.plain != NULL || rn_pdefer_busy(pd, &topic->id, pin->index)) {
        defer(pc, tin, topic, pin->index, buf, len, &hdr,
              zjob.plain != NULL ? new_pjob(pc, dpart, buf, len, &hdr, &zjob) : NULL, out);
        return;
    }
    append_batch(pc, topic, dpart, buf, len, &hdr, out);
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

/* The request's answer once every partition is settled: parked for the high watermark
 * (RN_HANDLED_ASYNC), answered, no answer (acks=0), or RN_EINVAL to close the connection
 * (a failed acks=0 produce, as Kafka does, so the client refreshes its metadata). */
static int answer(produce_ctx_t *pc)
{
    rn_req_t *req = pc->req;
    const rn_produce_request_t *preq = pc->preq;
    rn_produce_response_t *resp = req->response;
    /* acks=all: each appended partition waits for its high watermark (Kafka's
     * DelayedProduce); the request is answered when all are settled. */
    if (pc->nwaits > 0 &&
        rn_replica_wait_produce(pc->b, req, pc->waits, pc->nwaits, preq->timeout_ms))
        return RN_HANDLED_ASYNC;

    bool failed = false;
    for (int32_t t = 0; t < resp->responses.count; t++) {
        const rn_topic_produce_response_t *tout = &resp->responses.items[t];
        for (int32_t p = 0; p < tout->partition_responses.count; p++)
            if (tout->partition_responses.items[p].error_code != RN_KERR_NONE)
                failed = true;
    }
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

int rn_handle_produce(rn_req_t *req)
{
    const rn_produce_request_t *preq = req->request;
    rn_produce_response_t *resp = req->response;
    produce_ctx_t *pc = rn_arena_calloc(&req->arena, 1, sizeof(*pc));
    if (pc == NULL)
        return RN_ENOMEM;
    *pc = (produce_ctx_t){
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
        fail_all(pc, resp, RN_KERR_INVALID_REQUIRED_ACKS);
    } else if (has_transactional_batch(preq)) {
        fail_all(pc, resp, RN_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    } else {
        if (preq->acks != 0) {
            int total = 0;
            for (int32_t t = 0; t < ntopics; t++)
                total += touts[t].partition_responses.count;
            pc->waits = rn_arena_calloc(&req->arena, (size_t)total + 1, sizeof(*pc->waits));
            if (pc->waits == NULL)
                return RN_ENOMEM;
        }
        for (int32_t t = 0; t < ntopics; t++) {
            const rn_topic_produce_data_t *tin = &preq->topic_data.items[t];
            /* Kafka's order: an unauthorized topic says so whether or not it exists. */
            bool allowed = rn_authz_allowed(req, RN_ACL_OP_WRITE, RN_ACL_RES_TOPIC, tin->name);
            for (int32_t p = 0; p < touts[t].partition_responses.count; p++) {
                if (!allowed)
                    set_error(pc, &touts[t].partition_responses.items[p],
                              RN_KERR_TOPIC_AUTHORIZATION_FAILED, NULL);
                else
                    produce_partition(pc, tin, &tin->partition_data.items[p],
                                      &touts[t].partition_responses.items[p]);
            }
        }
    }

    /* Partitions queued behind off-loop work: the request waits for their turns. */
    if (pc->group != NULL) {
        rn_req_park(req, on_cancel, pc->group);
        return RN_HANDLED_ASYNC;
    }
    return answer(pc);
}
