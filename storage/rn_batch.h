/* rn_batch: Kafka record batches, magic v2 (the 61-byte header and its CRC-32C).
 *
 * Layout (big-endian): baseOffset i64 @0, batchLength i32 @8 (bytes after this field),
 * partitionLeaderEpoch i32 @12, magic i8 @16, crc u32 @17 (CRC-32C of bytes 21..end),
 * attributes i16 @21, lastOffsetDelta i32 @23, baseTimestamp i64 @27, maxTimestamp i64 @35,
 * producerId i64 @43, producerEpoch i16 @51, baseSequence i32 @53, recordCount i32 @57,
 * records @61. baseOffset and partitionLeaderEpoch lie outside the CRC, so the broker
 * assigns them in place without recomputing it. */
#ifndef RN_BATCH_H
#define RN_BATCH_H

#include <stddef.h>
#include <stdint.h>

/* Where each header field starts; every access to a batch's bytes names its field. */
#define RN_BATCH_OFF_BASE_OFFSET       0  /* int64 */
#define RN_BATCH_OFF_BATCH_LENGTH      8  /* int32 */
#define RN_BATCH_OFF_LEADER_EPOCH      12 /* int32 partitionLeaderEpoch */
#define RN_BATCH_OFF_MAGIC             16 /* int8 */
#define RN_BATCH_OFF_CRC               17 /* uint32 */
#define RN_BATCH_OFF_ATTRIBUTES        21 /* int16 */
#define RN_BATCH_OFF_LAST_OFFSET_DELTA 23 /* int32 */
#define RN_BATCH_OFF_BASE_TIMESTAMP    27 /* int64 */
#define RN_BATCH_OFF_MAX_TIMESTAMP     35 /* int64 */
#define RN_BATCH_OFF_PRODUCER_ID       43 /* int64 */
#define RN_BATCH_OFF_PRODUCER_EPOCH    51 /* int16 */
#define RN_BATCH_OFF_BASE_SEQUENCE     53 /* int32 */
#define RN_BATCH_OFF_RECORD_COUNT      57 /* int32 */
#define RN_BATCH_HEADER_SIZE           61 /* the records start here */

/* baseOffset + batchLength: the bytes before (and including) batchLength, which the batch
 * length does not count. */
#define RN_BATCH_LOG_OVERHEAD 12
#define RN_BATCH_CRC_START    RN_BATCH_OFF_ATTRIBUTES /* first byte covered by the CRC */

enum rn_batch_codec {
    RN_CODEC_NONE = 0,
    RN_CODEC_GZIP = 1,
    RN_CODEC_SNAPPY = 2,
    RN_CODEC_LZ4 = 3,
    RN_CODEC_ZSTD = 4,
};

#define RN_BATCH_ATTR_CODEC_MASK      0x07
#define RN_BATCH_ATTR_LOG_APPEND_TIME 0x08
#define RN_BATCH_ATTR_TRANSACTIONAL   0x10
#define RN_BATCH_ATTR_CONTROL         0x20
#define RN_BATCH_ATTR_DELETE_HORIZON  0x40

typedef struct rn_batch_header {
    int64_t base_offset;
    int32_t batch_length;
    int32_t partition_leader_epoch;
    int8_t magic;
    uint32_t crc;
    int16_t attributes;
    int32_t last_offset_delta;
    int64_t base_timestamp;
    int64_t max_timestamp;
    int64_t producer_id;
    int16_t producer_epoch;
    int32_t base_sequence;
    int32_t record_count;
} rn_batch_header_t;

/* Decode the fixed fields. Needs len >= RN_BATCH_LOG_OVERHEAD + 5 to read the size and
 * magic and len >= RN_BATCH_HEADER_SIZE for the rest. Returns 0, RN_ETRUNC when the header
 * is not all there, RN_EUNSUPPORTED for magic 0/1 (legacy message sets), RN_ECORRUPT for a
 * batchLength that cannot hold a header. Does not check the CRC or that the body is present. */
int rn_batch_header_parse(const uint8_t *buf, size_t len, rn_batch_header_t *hdr);

/* Parse and validate one whole batch at buf: header, size within len, CRC, record count
 * vs lastOffsetDelta. Returns 0 or RN_ETRUNC / RN_ECORRUPT / RN_EUNSUPPORTED. */
int rn_batch_validate(const uint8_t *buf, size_t len, rn_batch_header_t *hdr);

/* Total bytes of the batch on disk (batchLength + 12). */
static inline size_t rn_batch_total_size(const rn_batch_header_t *hdr)
{
    return (size_t)hdr->batch_length + RN_BATCH_LOG_OVERHEAD;
}

static inline int64_t rn_batch_last_offset(const rn_batch_header_t *hdr)
{
    /* Wrapping: baseOffset lies outside the CRC, so a damaged one must not be UB here. */
    return (int64_t)((uint64_t)hdr->base_offset + (uint64_t)(int64_t)hdr->last_offset_delta);
}

static inline int rn_batch_codec(const rn_batch_header_t *hdr)
{
    return hdr->attributes & RN_BATCH_ATTR_CODEC_MASK;
}

static inline int rn_batch_is_control(const rn_batch_header_t *hdr)
{
    return (hdr->attributes & RN_BATCH_ATTR_CONTROL) != 0;
}

static inline int rn_batch_is_transactional(const rn_batch_header_t *hdr)
{
    return (hdr->attributes & RN_BATCH_ATTR_TRANSACTIONAL) != 0;
}

/* Compute the CRC-32C the batch at buf should carry (covers bytes 21..total). */
uint32_t rn_batch_compute_crc(const uint8_t *buf, size_t total);

/* Write the 61-byte header of a batch of `total` bytes whose records already follow it at
 * buf: hdr's fields, except that batchLength comes from total, magic is 2 and the CRC is
 * computed (last, over the header and the records). hdr->batch_length, magic and crc are
 * ignored. */
void rn_batch_header_write(uint8_t *buf, size_t total, const rn_batch_header_t *hdr);

/* In-place rewrites the broker does on append (outside the CRC). */
void rn_batch_set_base_offset(uint8_t *buf, int64_t base_offset);
void rn_batch_set_leader_epoch(uint8_t *buf, int32_t epoch);
/* Mark LogAppendTime: sets the attribute bit and maxTimestamp, recomputes the CRC. */
void rn_batch_set_log_append_time(uint8_t *buf, size_t total, int64_t timestamp_ms);

/* A human description of a validation failure, for error messages. */
const char *rn_batch_strerror(int err);

#endif
