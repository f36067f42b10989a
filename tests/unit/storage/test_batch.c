/* Record batch header: parse, validate, CRC, in-place rewrites, legacy magic rejection. */
#include "rn_batch.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "tap.h"

#include <string.h>

/* A hand-built batch with one record {key "k", value "hello"} and no compression. */
static size_t build_batch(uint8_t *buf)
{
    static const uint8_t record[] = {
        0x18,                          /* length 12 (zigzag) */
        0x00,                          /* attributes */
        0x00,                          /* timestampDelta 0 */
        0x00,                          /* offsetDelta 0 */
        0x02, 'k',                     /* key length 1 */
        0x0a, 'h', 'e', 'l', 'l', 'o', /* value length 5 */
        0x00,                          /* headers 0 */
    };
    memset(buf, 0, RN_BATCH_HEADER_SIZE);
    size_t total = RN_BATCH_HEADER_SIZE + sizeof(record);
    rn_store_be64(buf, 0);
    rn_store_be32(buf + RN_BATCH_OFF_BATCH_LENGTH, (uint32_t)(total - RN_BATCH_LOG_OVERHEAD));
    buf[RN_BATCH_OFF_MAGIC] = 2;
    rn_store_be16(buf + RN_BATCH_OFF_ATTRIBUTES, 0);
    rn_store_be32(buf + RN_BATCH_OFF_LAST_OFFSET_DELTA, 0);
    rn_store_be64(buf + RN_BATCH_OFF_BASE_TIMESTAMP, 1700000000000ULL);
    rn_store_be64(buf + RN_BATCH_OFF_MAX_TIMESTAMP, 1700000000000ULL);
    rn_store_be64(buf + RN_BATCH_OFF_PRODUCER_ID, (uint64_t)-1);
    rn_store_be16(buf + RN_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)-1);
    rn_store_be32(buf + RN_BATCH_OFF_BASE_SEQUENCE, (uint32_t)-1);
    rn_store_be32(buf + RN_BATCH_OFF_RECORD_COUNT, 1);
    memcpy(buf + RN_BATCH_HEADER_SIZE, record, sizeof(record));
    rn_store_be32(buf + RN_BATCH_OFF_CRC, rn_batch_compute_crc(buf, total));
    return total;
}

int main(void)
{
    uint8_t buf[256];
    rn_batch_header_t hdr;
    size_t total = build_batch(buf);

    is(rn_batch_validate(buf, total, &hdr), 0, "well-formed batch validates");
    is(rn_batch_total_size(&hdr), total, "total size from batchLength");
    is(hdr.record_count, 1, "record count");
    is(hdr.producer_id, -1, "producer id -1");
    is(hdr.max_timestamp, 1700000000000LL, "max timestamp");
    is(rn_batch_codec(&hdr), RN_CODEC_NONE, "no compression");

    is(rn_batch_validate(buf, total - 1, &hdr), RN_ETRUNC, "one byte short is truncated");
    is(rn_batch_header_parse(buf, 10, &hdr), RN_ETRUNC, "ten bytes are not a header");

    rn_batch_set_base_offset(buf, 4242);
    rn_batch_set_leader_epoch(buf, 7);
    is(rn_batch_validate(buf, total, &hdr), 0, "base offset and epoch are outside the CRC");
    is(hdr.base_offset, 4242, "base offset rewritten");
    is(hdr.partition_leader_epoch, 7, "leader epoch rewritten");
    is(rn_batch_last_offset(&hdr), 4242, "last offset of a one-record batch");

    rn_batch_set_log_append_time(buf, total, 1800000000000LL);
    is(rn_batch_validate(buf, total, &hdr), 0, "CRC recomputed after LogAppendTime");
    ok(hdr.attributes & RN_BATCH_ATTR_LOG_APPEND_TIME, "LogAppendTime bit set");
    is(hdr.max_timestamp, 1800000000000LL, "max timestamp is the append time");

    buf[RN_BATCH_HEADER_SIZE + 8] ^= 0x20;
    is(rn_batch_validate(buf, total, &hdr), RN_ECORRUPT, "flipped value byte fails the CRC");
    buf[RN_BATCH_HEADER_SIZE + 8] ^= 0x20;

    buf[RN_BATCH_OFF_MAGIC] = 1;
    is(rn_batch_validate(buf, total, &hdr), RN_EUNSUPPORTED, "magic 1 is rejected as legacy");
    ok(strstr(rn_batch_strerror(RN_EUNSUPPORTED), "magic") != NULL, "legacy error names magic");
    buf[RN_BATCH_OFF_MAGIC] = 2;

    rn_store_be32(buf + RN_BATCH_OFF_BATCH_LENGTH, 10);
    is(rn_batch_validate(buf, total, &hdr), RN_ECORRUPT, "batchLength below header size");
    rn_store_be32(buf + RN_BATCH_OFF_BATCH_LENGTH, (uint32_t)(total - RN_BATCH_LOG_OVERHEAD));

    rn_store_be32(buf + RN_BATCH_OFF_RECORD_COUNT, 5);
    rn_store_be32(buf + RN_BATCH_OFF_CRC, rn_batch_compute_crc(buf, total));
    is(rn_batch_validate(buf, total, &hdr), RN_ECORRUPT, "count above lastOffsetDelta+1");
    return done_testing();
}
