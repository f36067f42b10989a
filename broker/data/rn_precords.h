/* rn_precords: Produce's record-level rules and the topic's compression (Kafka's
 * LogValidator, per record, after the batch-level checks of handle_produce.c).
 *
 * Per record, in Kafka's order: a null key on a compacted topic (INVALID_RECORD), then,
 * under CreateTime, a timestamp outside [now - message.timestamp.before.max.ms,
 * now + message.timestamp.after.max.ms] (INVALID_TIMESTAMP). Every failing record is
 * listed in record_errors (v8+) with Kafka's texts, and the batch fails whole: the code is
 * INVALID_TIMESTAMP when any record has a bad timestamp, else INVALID_RECORD. Malformed
 * records stop the walk at the first one (INVALID_RECORD, one record error).
 *
 * Uncompressed batches are always walked. A compressed batch is decompressed (output capped
 * at RN_PRECORDS_INFLATE_FACTOR x max.message.bytes) only when something needs its records:
 * a compacted topic, a finite timestamp window, or a compression.type other than producer
 * and the batch's codec, in which case its records are recompressed to that codec, as
 * Kafka does; a recompressed batch over max.message.bytes fails with MESSAGE_TOO_LARGE.
 * Decompressing and walking run on the event loop, bounded by max.message.bytes. The
 * compression itself may be handed back to the caller as a job (rn_precords_zjob_t) to run
 * off the loop: on the 2-core dev machine recompressing 1 MB of text-like records costs a few
 * ms to zstd, lz4 or snappy and about 170 ms to gzip (README, "Compression"), so gzip always
 * goes, the others from RN_PRECORDS_OFFLOAD_MIN_BYTES of records (rn_pdefer.h runs them).
 *
 * With produce.worker.threads > 0 a large batch (rn_precords_worker_wanted) is checked
 * whole on a worker instead (rn_precords_check: the same rules and recompression, from a copy
 * of the partition's settings), and the loop redoes the check only for a batch that fails,
 * to name its errors. */
#ifndef RN_PRECORDS_H
#define RN_PRECORDS_H

#include "data/rn_datapath.h"
#include "rn_batch.h"
#include "rn_handlers.h"

/* Decompressed records may be at most this many times max.message.bytes. */
#define RN_PRECORDS_INFLATE_FACTOR 16

/* Records of at least this many bytes are compressed off the loop whatever the codec. */
#define RN_PRECORDS_OFFLOAD_MIN_BYTES (64 * 1024)

/* A recompression handed to the caller: plain is an rn_malloc'd copy (the caller owns and
 * frees it) of the checked, uncompressed batch — header with maxTimestamp corrected, then
 * records — whose records are to be compressed with codec. plain NULL: no job. */
typedef struct rn_precords_zjob {
    int codec;
    uint8_t *plain;
    size_t plain_len;
} rn_precords_zjob_t;

/* Batches of at least this many bytes are checked on a worker (produce.worker.threads > 0):
 * below it, handing a batch over costs the loop about as much as its CRC-32C. A compressed
 * batch whose records must be read goes from RN_PRECORDS_WORKER_MIN_ZBYTES: it costs what
 * it decompresses to, typically several times its size. */
#define RN_PRECORDS_WORKER_MIN_BYTES  (64 * 1024)
#define RN_PRECORDS_WORKER_MIN_ZBYTES (4 * 1024)

/* A partition's record rules, copied from its rn_dpart_t for a worker thread. */
typedef struct rn_precords_rules {
    int compression; /* compression.type as RN_CODEC_*, -1 for producer */
    bool compacted;
    bool create_time;
    int64_t ts_before_max_ms;
    int64_t ts_after_max_ms;
    int64_t max_message_bytes;
} rn_precords_rules_t;

void rn_precords_rules_of(const rn_dpart_t *dpart, rn_precords_rules_t *rules);

/* Whether the checks of the batch buf[0..len) of header *hdr are worth a worker (see the
 * thresholds above). */
bool rn_precords_worker_wanted(const rn_precords_rules_t *rules, const rn_batch_header_t *hdr,
                               size_t len);

/* Whether compressing records_len bytes of records with codec should leave the loop. */
bool rn_precords_offload_wanted(int codec, size_t records_len);

/* Apply the rules to the whole, CRC-checked batch *buf[0..*len) whose header is *hdr.
 * Returns 0, or a Kafka error code with out's error fields, message and record_errors
 * filled (log_start_offset left to the caller). On success the batch may have been
 * rewritten: maxTimestamp corrected in place, or a recompressed copy in req's arena (then
 * *buf, *len and *hdr describe it). With zjob not NULL, a recompression that
 * rn_precords_offload_wanted is not done: 0 is returned with *zjob filled and *buf, *len,
 * *hdr untouched, and the caller finishes with rn_precords_zjob_finish (or _run). */
int16_t rn_precords_apply(rn_req_t *req, const rn_dpart_t *dpart, const char *topic,
                          int32_t partition, int64_t now_ms, uint8_t **buf, size_t *len,
                          rn_batch_header_t *hdr, rn_partition_produce_response_t *out,
                          rn_precords_zjob_t *zjob);

/* rn_precords_apply for any thread, on the CRC-checked batch buf[0..len) of header *hdr:
 * 0 when it passes. Then either *batch is NULL and buf is what to store (its maxTimestamp
 * and CRC fixed in place if they had to be), or *batch (rn_malloc'd; the caller frees it)
 * holds the recompressed batch of *batch_len bytes, sealed. Any other return (RN_E*): the
 * batch fails somewhere (or memory ran out), buf is untouched, and rn_precords_apply on the
 * loop names the error. Touches no request, partition or arena. */
int rn_precords_check(const rn_precords_rules_t *rules, int64_t now_ms, uint8_t *buf, size_t len,
                      const rn_batch_header_t *hdr, uint8_t **batch, size_t *batch_len);

/* The batch of a zjob whose records compressed (rn_codec_compress returned rc) to
 * z[0..zlen): built in req's arena, checked against max_message_bytes (MESSAGE_TOO_LARGE,
 * as Kafka) and its CRC set; *buf, *len, *hdr then describe it. 0 or a Kafka error code with
 * out filled (UNKNOWN_SERVER_ERROR when rc is not 0). zjob->plain is not freed. */
int16_t rn_precords_zjob_finish(rn_req_t *req, int64_t max_message_bytes, const char *topic,
                                int32_t partition, const rn_precords_zjob_t *zjob, int rc,
                                const uint8_t *z, size_t zlen, uint8_t **buf, size_t *len,
                                rn_batch_header_t *hdr, rn_partition_produce_response_t *out);
/* The same with the compression run here, on the calling thread. */
int16_t rn_precords_zjob_run(rn_req_t *req, int64_t max_message_bytes, const char *topic,
                             int32_t partition, const rn_precords_zjob_t *zjob, uint8_t **buf,
                             size_t *len, rn_batch_header_t *hdr,
                             rn_partition_produce_response_t *out);

#endif
