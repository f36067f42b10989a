/* dp_batch.h: build v2 record batches in unit tests of the data path (header-only).
 *
 *   dp_batch_t b; dp_batch_init(&b, base_ts);
 *   dp_batch_record(&b, ts_delta, "key", "value");   key/value NULL = null
 *   dp_batch_finish(&b, producer_id, epoch, base_seq); -> b.buf, b.len (valid CRC)
 * Raw bytes can be appended with dp_put/dp_varint to build malformed records. */
#ifndef DP_BATCH_H
#define DP_BATCH_H

#include <stdint.h>
#include <string.h>

#include "rn_varint.h"
#include "rn_batch.h"
#include "rn_endian.h"

typedef struct dp_batch {
    uint8_t buf[1 << 16];
    size_t len;
    int32_t count;
    int64_t base_ts;
    int64_t max_ts;
} dp_batch_t;

static inline void dp_put(dp_batch_t *b, const void *p, size_t n)
{
    memcpy(b->buf + b->len, p, n);
    b->len += n;
}

static inline void dp_varint(dp_batch_t *b, int64_t v)
{
    b->len += rn_varint_put_s64(b->buf + b->len, v);
}

static inline void dp_batch_init(dp_batch_t *b, int64_t base_ts)
{
    memset(b->buf, 0, RN_BATCH_HEADER_SIZE);
    b->len = RN_BATCH_HEADER_SIZE;
    b->count = 0;
    b->base_ts = base_ts;
    b->max_ts = base_ts;
}

/* One well-formed record with offset delta = its index and no headers (or one header when
 * hdr_key is not NULL). */
static inline void dp_batch_record_h(dp_batch_t *b, int64_t ts_delta, const char *key,
                                     const char *value, const char *hdr_key)
{
    dp_batch_t tmp;
    tmp.len = 0;
    tmp.buf[tmp.len++] = 0; /* attributes */
    dp_varint(&tmp, ts_delta);
    dp_varint(&tmp, b->count);
    if (key) {
        dp_varint(&tmp, (int64_t)strlen(key));
        dp_put(&tmp, key, strlen(key));
    } else {
        dp_varint(&tmp, -1);
    }
    if (value) {
        dp_varint(&tmp, (int64_t)strlen(value));
        dp_put(&tmp, value, strlen(value));
    } else {
        dp_varint(&tmp, -1);
    }
    dp_varint(&tmp, hdr_key ? 1 : 0);
    if (hdr_key) {
        dp_varint(&tmp, (int64_t)strlen(hdr_key));
        dp_put(&tmp, hdr_key, strlen(hdr_key));
        dp_varint(&tmp, -1);
    }
    dp_varint(b, (int64_t)tmp.len);
    dp_put(b, tmp.buf, tmp.len);
    b->count++;
    if (b->base_ts + ts_delta > b->max_ts)
        b->max_ts = b->base_ts + ts_delta;
}

static inline void dp_batch_record(dp_batch_t *b, int64_t ts_delta, const char *key,
                                   const char *value)
{
    dp_batch_record_h(b, ts_delta, key, value, NULL);
}

/* Fill the header (base offset 0, attributes attrs) and the CRC. record_count is b->count
 * unless count_override >= 0. */
static inline void dp_batch_finish_ex(dp_batch_t *b, int64_t pid, int16_t epoch, int32_t seq,
                                      int16_t attrs, int32_t count_override)
{
    int32_t count = count_override >= 0 ? count_override : b->count;
    uint8_t *h = b->buf;
    rn_store_be64(h, 0);
    rn_store_be32(h + RN_BATCH_OFF_BATCH_LENGTH, (uint32_t)(b->len - RN_BATCH_LOG_OVERHEAD));
    rn_store_be32(h + RN_BATCH_OFF_LEADER_EPOCH, 0);
    h[RN_BATCH_OFF_MAGIC] = 2;
    rn_store_be16(h + RN_BATCH_OFF_ATTRIBUTES, (uint16_t)attrs);
    rn_store_be32(h + RN_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(count - 1));
    rn_store_be64(h + RN_BATCH_OFF_BASE_TIMESTAMP, (uint64_t)b->base_ts);
    rn_store_be64(h + RN_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)b->max_ts);
    rn_store_be64(h + RN_BATCH_OFF_PRODUCER_ID, (uint64_t)pid);
    rn_store_be16(h + RN_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)epoch);
    rn_store_be32(h + RN_BATCH_OFF_BASE_SEQUENCE, (uint32_t)seq);
    rn_store_be32(h + RN_BATCH_OFF_RECORD_COUNT, (uint32_t)count);
    rn_store_be32(h + RN_BATCH_OFF_CRC, rn_batch_compute_crc(h, b->len));
}

static inline void dp_batch_finish(dp_batch_t *b, int64_t pid, int16_t epoch, int32_t seq)
{
    dp_batch_finish_ex(b, pid, epoch, seq, 0, -1);
}

#endif
