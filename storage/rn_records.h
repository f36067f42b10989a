/* rn_records: the records inside a v2 record batch — the one parser of the record layout
 * (rn_records_parse), a record iterator on it (decompressing the batch when needed),
 * control records, and a batch builder. The varint codec is common/rn_varint.h's and the
 * reader common/rn_reader.h's.
 *
 * Record layout (after the 61-byte header, compressed as one block when the codec is set):
 *   length varint (bytes after this field), attributes int8 (unused), timestampDelta varlong,
 *   offsetDelta varint, keyLength varint (-1 = null) + key, valueLength varint (-1 = null) +
 *   value, headerCount varint, then per header keyLength varint (>= 0) + key,
 *   valueLength varint (-1 = null) + value.
 * "varint"/"varlong" are zigzag-encoded signed LEB128 (Protocol Buffers' sint32/sint64).
 *
 * Everything here treats input bytes as hostile: every length is checked against the
 * bytes that remain and a malformed record is RN_ECORRUPT, never a read past the end. */
#ifndef RN_RECORDS_H
#define RN_RECORDS_H

#include "rn_batch.h"
#include "rn_codec.h"

#include "rn_reader.h"

#include <stddef.h>
#include <stdint.h>

/* ---- reading records ---- */

/* A nullable byte string pointing into the records section (never copied). Null is
 * {NULL, -1}; empty is {non-NULL, 0}. */
typedef struct rn_record_bytes {
    const uint8_t *data;
    int32_t len;
} rn_record_bytes_t;

/* One record as decoded; valid while the section it points into lives. */
typedef struct rn_record {
    int64_t offset;    /* batch baseOffset + offset_delta */
    int64_t timestamp; /* baseTimestamp + timestamp_delta, or maxTimestamp under LogAppendTime */
    int64_t timestamp_delta;
    int32_t offset_delta;
    int8_t attributes;
    rn_record_bytes_t key;
    rn_record_bytes_t value;
    int32_t header_count;
    const uint8_t *headers; /* the header_count encoded headers, already validated */
    size_t headers_len;
    size_t pos;  /* where the record's length varint starts in the (decompressed) section */
    size_t size; /* bytes of the whole record, length varint included */
} rn_record_t;

/* Where a record failed, in the order its fields are read; the first failure wins. */
typedef enum rn_record_fault {
    RN_RECORD_OK = 0,
    RN_RECORD_BAD_LENGTH,  /* length varint malformed, negative or past the input */
    RN_RECORD_BAD_PREFIX,  /* attributes, timestampDelta or offsetDelta */
    RN_RECORD_BAD_FIELDS,  /* key, value or header count */
    RN_RECORD_BAD_HEADERS, /* a header's key or value, or more headers than bytes */
    RN_RECORD_BAD_SIZE,    /* the fields end before the record's length does */
} rn_record_fault_t;

/* Parse the record at r: its length prefix must fit in what remains of r and its fields
 * must consume exactly that many bytes (Kafka's DefaultRecord.readFrom rule). On success r
 * is past the record and rec's fields, size included, are set (offset, timestamp and pos
 * are the iterator's). On a fault r fails (RN_ETRUNC when the input ends inside the record's
 * length or before its end, else RN_ECORRUPT), its p stays at the record, and rec holds the
 * fields read before the faulty one: offset_delta is valid for any fault after
 * RN_RECORD_BAD_PREFIX. */
rn_record_fault_t rn_records_parse(rn_reader_t *r, rn_record_t *rec);

/* Iterator over the records of one batch. Fields are read-only for callers; hdr and
 * records/records_len may be inspected (records is the decompressed section). */
typedef struct rn_records_iter {
    rn_batch_header_t hdr;
    const uint8_t *records; /* uncompressed records section */
    size_t records_len;
    size_t pos;     /* next record's position in records */
    int32_t index;  /* records returned so far */
    int err;        /* sticky: once set, next returns it again */
    uint8_t *owned; /* rn_malloc'd decompression output, freed by rn_records_close */
} rn_records_iter_t;

/* Iterate an uncompressed records section of hdr->record_count records whose batch header
 * is hdr (copied; supplies base offset and timestamps). Never fails; errors surface from
 * rn_records_iter_next. Needs no rn_records_close. */
void rn_records_iter_init(rn_records_iter_t *it, const rn_batch_header_t *hdr,
                          const uint8_t *records, size_t len);

/* Open the whole batch at batch[0..len): parse its header, and decompress its records when
 * the codec bits are set — into buf[0..max_out) when buf is not NULL, else into an
 * rn_malloc'd buffer of at most max_out bytes. The CRC is NOT checked: call
 * rn_batch_validate first when it matters (iteration is safe either way). Returns 0,
 * RN_ETRUNC (batch longer than len), RN_ECORRUPT (bad header or compressed data),
 * RN_EUNSUPPORTED (magic 0/1, codec 5-7), RN_ETOOBIG (records exceed max_out), RN_ENOMEM.
 * Call rn_records_close afterwards, whatever open returned. */
int rn_records_open(rn_records_iter_t *it, const uint8_t *batch, size_t len, uint8_t *buf,
                    size_t max_out);

/* Next record: returns 1 and fills rec, 0 after the last record (the section was consumed
 * exactly: hdr.record_count records, no bytes left over), or RN_ECORRUPT (sticky) for a
 * malformed record, too few records or trailing bytes. */
int rn_records_iter_next(rn_records_iter_t *it, rn_record_t *rec);

/* Free what rn_records_open allocated (idempotent; a no-op for caller buffers). */
void rn_records_close(rn_records_iter_t *it);

/* Headers of rec, one per call: start with *cursor = 0. Returns 1 and fills key (never
 * null) and value (nullable), 0 after the last header, RN_ECORRUPT if rec was not produced
 * by rn_records_iter_next. */
int rn_records_header_next(const rn_record_t *rec, size_t *cursor, rn_record_bytes_t *key,
                           rn_record_bytes_t *value);

/* ---- control records (transaction markers, KRaft control data) ---- */

enum rn_control_type {
    RN_CONTROL_ABORT = 0,
    RN_CONTROL_COMMIT = 1,
    RN_CONTROL_LEADER_CHANGE = 2,
    RN_CONTROL_SNAPSHOT_HEADER = 3,
    RN_CONTROL_SNAPSHOT_FOOTER = 4,
    RN_CONTROL_KRAFT_VERSION = 5,
    RN_CONTROL_KRAFT_VOTERS = 6,
};

typedef struct rn_control_record {
    int16_t key_version; /* 0 */
    int16_t type;        /* enum rn_control_type */
    /* Transaction markers (abort/commit) only; -1 for other types: */
    int16_t value_version;
    int32_t coordinator_epoch;
} rn_control_record_t;

/* Decode the record of a control batch: key = version int16 + type int16; for abort and
 * commit, value = version int16 + coordinatorEpoch int32. Returns 0 or RN_ECORRUPT. */
int rn_records_control_parse(const rn_record_t *rec, rn_control_record_t *ctl);

/* "ABORT", "COMMIT", "LEADER_CHANGE", ... or "UNKNOWN". */
const char *rn_records_control_name(int type);

/* Encode a transaction marker's key (4 bytes) and value (6 bytes), version 0. */
void rn_records_control_encode(uint8_t key[4], uint8_t value[6], int16_t type,
                               int32_t coordinator_epoch);

/* ---- building batches ---- */

/* A record header; key is never null, value NULL means a null value. */
typedef struct rn_record_header {
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
} rn_record_header_t;

/* One record to build. A NULL key/value pointer means null (a NULL value is a
 * tombstone); an empty non-null field needs a non-NULL pointer such as "". */
typedef struct rn_record_spec {
    const void *key;
    size_t key_len;
    const void *value;
    size_t value_len;
    const rn_record_header_t *headers;
    size_t header_count;
    int64_t timestamp; /* milliseconds since the epoch (CreateTime) */
} rn_record_spec_t;

/* The batch-level fields. Start from RN_BATCH_SPEC_INIT (no producer, no epoch). */
typedef struct rn_batch_spec {
    int64_t base_offset;
    int32_t partition_leader_epoch; /* -1 as producers send it */
    int codec;                      /* RN_CODEC_NONE .. RN_CODEC_ZSTD */
    rn_codec_opts_t codec_opts;     /* level, snappy framing */
    /* RN_BATCH_ATTR_TRANSACTIONAL / _CONTROL / _LOG_APPEND_TIME / _DELETE_HORIZON bits;
     * the codec bits come from codec. */
    int16_t attributes;
    int64_t producer_id; /* -1: not idempotent */
    int16_t producer_epoch;
    int32_t base_sequence;
    /* NULL: records get offset deltas 0..n-1. Otherwise n strictly increasing deltas >= 0
     * (compacted batches have holes). */
    const int32_t *offset_deltas;
} rn_batch_spec_t;

#define RN_BATCH_SPEC_INIT                                                                         \
    {                                                                                              \
        .partition_leader_epoch = -1, .producer_id = -1, .producer_epoch = -1, .base_sequence = -1 \
    }

/* Build a complete v2 batch of the n records recs[] (n >= 1): lengths, lastOffsetDelta,
 * recordCount, baseTimestamp = recs[0].timestamp, maxTimestamp = the largest timestamp,
 * compression, CRC-32C. *out is rn_malloc'd (free with rn_free), *out_len its size; it
 * passes rn_batch_validate. For LogAppendTime use rn_batch_set_log_append_time on the
 * result. Returns 0, RN_EINVAL (n == 0, bad codec, deltas not increasing, a timestamp
 * delta overflowing int64), RN_ETOOBIG (a field or the batch over INT32_MAX bytes),
 * RN_ENOMEM. */
int rn_batch_build(const rn_batch_spec_t *spec, const rn_record_spec_t *recs, size_t n,
                   uint8_t **out, size_t *out_len);

#endif
