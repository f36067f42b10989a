/* Record batch v2 header parsing, validation and in-place rewrites (see rn_batch.h). */
#include "rn_batch.h"

#include "rn_crc32c.h"
#include "rn_endian.h"
#include "rn_err.h"

int rn_batch_header_parse(const uint8_t *buf, size_t len, rn_batch_header_t *hdr)
{
    if (len < RN_BATCH_OFF_MAGIC + 1)
        return RN_ETRUNC;
    hdr->base_offset = (int64_t)rn_load_be64(buf + RN_BATCH_OFF_BASE_OFFSET);
    hdr->batch_length = (int32_t)rn_load_be32(buf + RN_BATCH_OFF_BATCH_LENGTH);
    hdr->partition_leader_epoch = (int32_t)rn_load_be32(buf + RN_BATCH_OFF_LEADER_EPOCH);
    hdr->magic = (int8_t)buf[RN_BATCH_OFF_MAGIC];
    if (hdr->magic != 2)
        return hdr->magic == 0 || hdr->magic == 1 ? RN_EUNSUPPORTED : RN_ECORRUPT;
    if (hdr->batch_length < RN_BATCH_HEADER_SIZE - RN_BATCH_LOG_OVERHEAD)
        return RN_ECORRUPT;
    if (len < RN_BATCH_HEADER_SIZE)
        return RN_ETRUNC;
    hdr->crc = rn_load_be32(buf + RN_BATCH_OFF_CRC);
    hdr->attributes = (int16_t)rn_load_be16(buf + RN_BATCH_OFF_ATTRIBUTES);
    hdr->last_offset_delta = (int32_t)rn_load_be32(buf + RN_BATCH_OFF_LAST_OFFSET_DELTA);
    hdr->base_timestamp = (int64_t)rn_load_be64(buf + RN_BATCH_OFF_BASE_TIMESTAMP);
    hdr->max_timestamp = (int64_t)rn_load_be64(buf + RN_BATCH_OFF_MAX_TIMESTAMP);
    hdr->producer_id = (int64_t)rn_load_be64(buf + RN_BATCH_OFF_PRODUCER_ID);
    hdr->producer_epoch = (int16_t)rn_load_be16(buf + RN_BATCH_OFF_PRODUCER_EPOCH);
    hdr->base_sequence = (int32_t)rn_load_be32(buf + RN_BATCH_OFF_BASE_SEQUENCE);
    hdr->record_count = (int32_t)rn_load_be32(buf + RN_BATCH_OFF_RECORD_COUNT);
    return 0;
}

uint32_t rn_batch_compute_crc(const uint8_t *buf, size_t total)
{
    return rn_crc32c(0, buf + RN_BATCH_CRC_START, total - RN_BATCH_CRC_START);
}

int rn_batch_validate(const uint8_t *buf, size_t len, rn_batch_header_t *hdr)
{
    int err = rn_batch_header_parse(buf, len, hdr);
    if (err)
        return err;
    size_t total = rn_batch_total_size(hdr);
    if (total > len)
        return RN_ETRUNC;
    if (hdr->last_offset_delta < 0 || hdr->record_count < 0)
        return RN_ECORRUPT;
    /* Compaction leaves holes, so count may be below delta + 1, never above it. An empty
     * batch (count 0) is legal only when compaction removed every record. */
    if (hdr->record_count > (int64_t)hdr->last_offset_delta + 1)
        return RN_ECORRUPT;
    if (rn_batch_compute_crc(buf, total) != hdr->crc)
        return RN_ECORRUPT;
    return 0;
}

void rn_batch_header_write(uint8_t *buf, size_t total, const rn_batch_header_t *hdr)
{
    rn_store_be64(buf + RN_BATCH_OFF_BASE_OFFSET, (uint64_t)hdr->base_offset);
    rn_store_be32(buf + RN_BATCH_OFF_BATCH_LENGTH, (uint32_t)(total - RN_BATCH_LOG_OVERHEAD));
    rn_store_be32(buf + RN_BATCH_OFF_LEADER_EPOCH, (uint32_t)hdr->partition_leader_epoch);
    buf[RN_BATCH_OFF_MAGIC] = 2;
    rn_store_be16(buf + RN_BATCH_OFF_ATTRIBUTES, (uint16_t)hdr->attributes);
    rn_store_be32(buf + RN_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)hdr->last_offset_delta);
    rn_store_be64(buf + RN_BATCH_OFF_BASE_TIMESTAMP, (uint64_t)hdr->base_timestamp);
    rn_store_be64(buf + RN_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)hdr->max_timestamp);
    rn_store_be64(buf + RN_BATCH_OFF_PRODUCER_ID, (uint64_t)hdr->producer_id);
    rn_store_be16(buf + RN_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)hdr->producer_epoch);
    rn_store_be32(buf + RN_BATCH_OFF_BASE_SEQUENCE, (uint32_t)hdr->base_sequence);
    rn_store_be32(buf + RN_BATCH_OFF_RECORD_COUNT, (uint32_t)hdr->record_count);
    rn_store_be32(buf + RN_BATCH_OFF_CRC, rn_batch_compute_crc(buf, total));
}

void rn_batch_set_base_offset(uint8_t *buf, int64_t base_offset)
{
    rn_store_be64(buf + RN_BATCH_OFF_BASE_OFFSET, (uint64_t)base_offset);
}

void rn_batch_set_leader_epoch(uint8_t *buf, int32_t epoch)
{
    rn_store_be32(buf + RN_BATCH_OFF_LEADER_EPOCH, (uint32_t)epoch);
}

void rn_batch_set_log_append_time(uint8_t *buf, size_t total, int64_t timestamp_ms)
{
    uint16_t attrs = rn_load_be16(buf + RN_BATCH_OFF_ATTRIBUTES);
    rn_store_be16(buf + RN_BATCH_OFF_ATTRIBUTES, (uint16_t)(attrs | RN_BATCH_ATTR_LOG_APPEND_TIME));
    rn_store_be64(buf + RN_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)timestamp_ms);
    rn_store_be32(buf + RN_BATCH_OFF_CRC, rn_batch_compute_crc(buf, total));
}

const char *rn_batch_strerror(int err)
{
    switch (err) {
    case 0: return "valid";
    case RN_ETRUNC: return "batch is truncated";
    case RN_EUNSUPPORTED:
        return "legacy message set (magic 0/1) is not supported; use a client "
               "that sends record batch v2 (Produce v3+)";
    case RN_ECORRUPT: return "batch is corrupt (bad length, counts or CRC-32C)";
    default: return "invalid batch";
    }
}
