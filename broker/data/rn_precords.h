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
 * All of this runs on the event loop, bounded by max.message.bytes: on the 2-core dev
 * machine recompressing 1 MB of text-like records costs a few ms to zstd, lz4 or snappy
 * and about 170 ms to gzip (README, "Compression"). */
#ifndef RN_PRECORDS_H
#define RN_PRECORDS_H

#include "data/rn_datapath.h"
#include "rn_batch.h"
#include "rn_handlers.h"

/* Decompressed records may be at most this many times max.message.bytes. */
#define RN_PRECORDS_INFLATE_FACTOR 16

/* Apply the rules to the whole, CRC-checked batch *buf[0..*len) whose header is *hdr.
 * Returns 0, or a Kafka error code with out's error fields, message and record_errors
 * filled (log_start_offset left to the caller). On success the batch may have been
 * rewritten: maxTimestamp corrected in place, or a recompressed copy in req's arena (then
 * *buf, *len and *hdr describe it). */
int16_t rn_precords_apply(rn_req_t *req, const rn_dpart_t *dpart, const char *topic,
                          int32_t partition, int64_t now_ms, uint8_t **buf, size_t *len,
                          rn_batch_header_t *hdr, rn_partition_produce_response_t *out);

#endif
