/* Records inside v2 batches: varints, the bounds-checked record iterator, control records
 * and the batch builder (see rn_records.h). */
#include "rn_records.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_varint.h"

#include <string.h>

/* ---- varints (the codec is rn_varint.h's) ---- */

size_t rn_records_varint_size(int32_t v)
{
    return rn_varint_size(rn_zigzag32(v));
}

size_t rn_records_varlong_size(int64_t v)
{
    return rn_varint_size(rn_zigzag64(v));
}

size_t rn_records_uvarint_size(uint32_t v)
{
    return rn_varint_size(v);
}

size_t rn_records_put_varint(uint8_t *p, int32_t v)
{
    return rn_varint_put(p, rn_zigzag32(v));
}

size_t rn_records_put_varlong(uint8_t *p, int64_t v)
{
    return rn_varint_put(p, rn_zigzag64(v));
}

size_t rn_records_put_uvarint(uint8_t *p, uint32_t v)
{
    return rn_varint_put(p, v);
}

int rn_records_get_uvarint(const uint8_t *p, size_t len, uint32_t *v)
{
    uint64_t u;
    int n = rn_varint_get(p, len, RN_VARINT_MAX, 32, &u);
    if (n > 0)
        *v = (uint32_t)u;
    return n;
}

int rn_records_get_varint(const uint8_t *p, size_t len, int32_t *v)
{
    uint64_t u;
    int n = rn_varint_get(p, len, RN_VARINT_MAX, 32, &u);
    if (n > 0)
        *v = rn_unzigzag32((uint32_t)u);
    return n;
}

int rn_records_get_varlong(const uint8_t *p, size_t len, int64_t *v)
{
    uint64_t u;
    int n = rn_varint_get(p, len, RN_VARLONG_MAX, 64, &u);
    if (n > 0)
        *v = rn_unzigzag64(u);
    return n;
}

/* ---- bounded reader with a sticky error ---- */

typedef struct reader {
    const uint8_t *p, *end;
    int err;
} reader_t;

static int32_t rd_varint(reader_t *r)
{
    int32_t v = 0;
    if (r->err)
        return 0;
    int n = rn_records_get_varint(r->p, (size_t)(r->end - r->p), &v);
    if (n < 0) {
        r->err = RN_ECORRUPT;
        return 0;
    }
    r->p += n;
    return v;
}

static int64_t rd_varlong(reader_t *r)
{
    int64_t v = 0;
    if (r->err)
        return 0;
    int n = rn_records_get_varlong(r->p, (size_t)(r->end - r->p), &v);
    if (n < 0) {
        r->err = RN_ECORRUPT;
        return 0;
    }
    r->p += n;
    return v;
}

static uint8_t rd_u8(reader_t *r)
{
    if (r->err || r->p == r->end) {
        r->err = RN_ECORRUPT;
        return 0;
    }
    return *r->p++;
}

/* A length-prefixed byte string; -1 is null when nullable, other negatives are corrupt. */
static rn_record_bytes_t rd_bytes(reader_t *r, int nullable)
{
    rn_record_bytes_t b = {NULL, -1};
    int32_t len = rd_varint(r);
    if (r->err)
        return b;
    if (len == -1 && nullable)
        return b;
    if (len < 0 || len > r->end - r->p) {
        r->err = RN_ECORRUPT;
        return b;
    }
    b.data = r->p;
    b.len = len;
    r->p += len;
    return b;
}

/* ---- record iteration ---- */

/* Decode the record at p[0..len): its length prefix must fit in len and its fields must
 * consume exactly that many bytes (Kafka's DefaultRecord.readFrom rule). */
static int parse_record(const uint8_t *p, size_t len, rn_record_t *rec)
{
    reader_t outer = {p, p + len, 0};
    int32_t size = rd_varint(&outer);
    if (outer.err || size < 0 || size > outer.end - outer.p)
        return RN_ECORRUPT;
    reader_t r = {outer.p, outer.p + size, 0};
    rec->attributes = (int8_t)rd_u8(&r);
    rec->timestamp_delta = rd_varlong(&r);
    rec->offset_delta = rd_varint(&r);
    rec->key = rd_bytes(&r, 1);
    rec->value = rd_bytes(&r, 1);
    rec->header_count = rd_varint(&r);
    /* Each header takes at least two bytes; this bounds the loop before it starts. */
    if (r.err || rec->header_count < 0 || rec->header_count > (r.end - r.p) / 2)
        return RN_ECORRUPT;
    rec->headers = r.p;
    for (int32_t i = 0; i < rec->header_count && !r.err; i++) {
        rd_bytes(&r, 0);
        rd_bytes(&r, 1);
    }
    if (r.err || r.p != r.end)
        return RN_ECORRUPT;
    rec->headers_len = (size_t)(r.p - rec->headers);
    rec->size = (size_t)(r.end - p);
    return 0;
}

void rn_records_iter_init(rn_records_iter_t *it, const rn_batch_header_t *hdr,
                          const uint8_t *records, size_t len)
{
    memset(it, 0, sizeof(*it));
    it->hdr = *hdr;
    it->records = records;
    it->records_len = len;
}

int rn_records_open(rn_records_iter_t *it, const uint8_t *batch, size_t len, uint8_t *buf,
                    size_t max_out)
{
    rn_batch_header_t hdr;
    memset(it, 0, sizeof(*it));
    int err = rn_batch_header_parse(batch, len, &hdr);
    if (err)
        return err;
    size_t total = rn_batch_total_size(&hdr);
    if (total > len)
        return RN_ETRUNC;
    if (hdr.record_count < 0)
        return RN_ECORRUPT;
    const uint8_t *section = batch + RN_BATCH_HEADER_SIZE;
    size_t section_len = total - RN_BATCH_HEADER_SIZE;
    int codec = rn_batch_codec(&hdr);
    if (codec > RN_CODEC_ZSTD)
        return RN_EUNSUPPORTED;
    /* Compaction can leave a compressed batch with no records and no section at all. */
    if (codec != RN_CODEC_NONE && !(section_len == 0 && hdr.record_count == 0)) {
        size_t n;
        if (buf != NULL) {
            err = rn_codec_decompress_into(codec, section, section_len, buf, max_out, &n);
            section = buf;
        } else {
            uint8_t *owned = NULL;
            err = rn_codec_decompress(codec, section, section_len, max_out, &owned, &n);
            section = it->owned = owned;
        }
        if (err)
            return err;
        section_len = n;
    }
    uint8_t *owned = it->owned;
    rn_records_iter_init(it, &hdr, section, section_len);
    it->owned = owned;
    return 0;
}

int rn_records_iter_next(rn_records_iter_t *it, rn_record_t *rec)
{
    if (it->err)
        return it->err;
    if (it->hdr.record_count < 0)
        return it->err = RN_ECORRUPT;
    if (it->index >= it->hdr.record_count) {
        if (it->pos != it->records_len) /* bytes beyond the declared count */
            return it->err = RN_ECORRUPT;
        return 0;
    }
    int err = parse_record(it->records + it->pos, it->records_len - it->pos, rec);
    if (err)
        return it->err = err;
    rec->pos = it->pos;
    it->pos += rec->size;
    it->index++;
    /* Wrapping arithmetic: hostile bases must not be undefined behaviour. */
    rec->offset = (int64_t)((uint64_t)it->hdr.base_offset + (uint64_t)(int64_t)rec->offset_delta);
    if (it->hdr.attributes & RN_BATCH_ATTR_LOG_APPEND_TIME)
        rec->timestamp = it->hdr.max_timestamp;
    else
        rec->timestamp =
            (int64_t)((uint64_t)it->hdr.base_timestamp + (uint64_t)rec->timestamp_delta);
    return 1;
}

void rn_records_close(rn_records_iter_t *it)
{
    rn_free(it->owned);
    it->owned = NULL;
}

int rn_records_header_next(const rn_record_t *rec, size_t *cursor, rn_record_bytes_t *key,
                           rn_record_bytes_t *value)
{
    if (*cursor == rec->headers_len)
        return 0;
    if (*cursor > rec->headers_len)
        return RN_ECORRUPT;
    reader_t r = {rec->headers + *cursor, rec->headers + rec->headers_len, 0};
    *key = rd_bytes(&r, 0);
    *value = rd_bytes(&r, 1);
    if (r.err)
        return RN_ECORRUPT;
    *cursor = (size_t)(r.p - rec->headers);
    return 1;
}

/* ---- control records ---- */

int rn_records_control_parse(const rn_record_t *rec, rn_control_record_t *ctl)
{
    if (rec->key.len < 4)
        return RN_ECORRUPT;
    ctl->key_version = (int16_t)rn_load_be16(rec->key.data);
    ctl->type = (int16_t)rn_load_be16(rec->key.data + 2);
    ctl->value_version = -1;
    ctl->coordinator_epoch = -1;
    if (ctl->type == RN_CONTROL_ABORT || ctl->type == RN_CONTROL_COMMIT) {
        if (rec->value.len < 6)
            return RN_ECORRUPT;
        ctl->value_version = (int16_t)rn_load_be16(rec->value.data);
        ctl->coordinator_epoch = (int32_t)rn_load_be32(rec->value.data + 2);
    }
    return 0;
}

const char *rn_records_control_name(int type)
{
    static const char *const names[] = {"ABORT",           "COMMIT",          "LEADER_CHANGE",
                                        "SNAPSHOT_HEADER", "SNAPSHOT_FOOTER", "KRAFT_VERSION",
                                        "KRAFT_VOTERS"};
    return type >= 0 && type <= RN_CONTROL_KRAFT_VOTERS ? names[type] : "UNKNOWN";
}

void rn_records_control_encode(uint8_t key[4], uint8_t value[6], int16_t type,
                               int32_t coordinator_epoch)
{
    rn_store_be16(key, 0);
    rn_store_be16(key + 2, (uint16_t)type);
    rn_store_be16(value, 0);
    rn_store_be32(value + 2, (uint32_t)coordinator_epoch);
}

/* ---- building ---- */

#define FIELD_MAX ((size_t)INT32_MAX)

static size_t bytes_size(const void *data, size_t len)
{
    return data == NULL ? 1 : rn_records_varint_size((int32_t)len) + len;
}

static uint8_t *put_bytes(uint8_t *p, const void *data, size_t len)
{
    if (data == NULL)
        return p + rn_records_put_varint(p, -1);
    p += rn_records_put_varint(p, (int32_t)len);
    if (len)
        memcpy(p, data, len);
    return p + len;
}

/* Body size of one record (after its length varint), or 0 when a field is too long. */
static size_t record_body_size(const rn_record_spec_t *rec, int64_t ts_delta, int32_t off_delta)
{
    if (rec->key_len > FIELD_MAX || rec->value_len > FIELD_MAX || rec->header_count > FIELD_MAX / 2)
        return 0;
    size_t size = 1 + rn_records_varlong_size(ts_delta) + rn_records_varint_size(off_delta) +
                  bytes_size(rec->key, rec->key_len) + bytes_size(rec->value, rec->value_len) +
                  rn_records_varint_size((int32_t)rec->header_count);
    for (size_t i = 0; i < rec->header_count; i++) {
        const rn_record_header_t *h = &rec->headers[i];
        if (h->key_len > FIELD_MAX || h->value_len > FIELD_MAX)
            return 0;
        size += bytes_size("", h->key ? h->key_len : 0) + bytes_size(h->value, h->value_len);
        if (size > FIELD_MAX)
            return 0;
    }
    return size > FIELD_MAX ? 0 : size;
}

static uint8_t *put_record(uint8_t *p, const rn_record_spec_t *rec, size_t body, int64_t ts_delta,
                           int32_t off_delta)
{
    p += rn_records_put_varint(p, (int32_t)body);
    *p++ = 0; /* attributes: unused in v2 */
    p += rn_records_put_varlong(p, ts_delta);
    p += rn_records_put_varint(p, off_delta);
    p = put_bytes(p, rec->key, rec->key_len);
    p = put_bytes(p, rec->value, rec->value_len);
    p += rn_records_put_varint(p, (int32_t)rec->header_count);
    for (size_t i = 0; i < rec->header_count; i++) {
        const rn_record_header_t *h = &rec->headers[i];
        p = put_bytes(p, h->key ? h->key : "", h->key ? h->key_len : 0);
        p = put_bytes(p, h->value, h->value_len);
    }
    return p;
}

static void put_header(uint8_t *buf, const rn_batch_spec_t *spec, size_t total, size_t n,
                       int32_t last_delta, int64_t base_ts, int64_t max_ts)
{
    rn_batch_header_t h = {
        .base_offset = spec->base_offset,
        .partition_leader_epoch = spec->partition_leader_epoch,
        .attributes = (int16_t)((spec->attributes & ~RN_BATCH_ATTR_CODEC_MASK) | spec->codec),
        .last_offset_delta = last_delta,
        .base_timestamp = base_ts,
        .max_timestamp = max_ts,
        .producer_id = spec->producer_id,
        .producer_epoch = spec->producer_epoch,
        .base_sequence = spec->base_sequence,
        .record_count = (int32_t)n,
    };
    rn_batch_header_write(buf, total, &h);
}

int rn_batch_build(const rn_batch_spec_t *spec, const rn_record_spec_t *recs, size_t n,
                   uint8_t **out, size_t *out_len)
{
    if (n == 0 || n > (size_t)INT32_MAX || spec->codec < RN_CODEC_NONE ||
        spec->codec > RN_CODEC_ZSTD)
        return RN_EINVAL;
    int64_t base_ts = recs[0].timestamp, max_ts = recs[0].timestamp;
    size_t section = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t delta = spec->offset_deltas ? spec->offset_deltas[i] : (int32_t)i;
        if (delta < 0 || (i > 0 && spec->offset_deltas && delta <= spec->offset_deltas[i - 1]))
            return RN_EINVAL;
        int64_t ts_delta;
        if (__builtin_sub_overflow(recs[i].timestamp, base_ts, &ts_delta))
            return RN_EINVAL;
        if (recs[i].timestamp > max_ts)
            max_ts = recs[i].timestamp;
        size_t body = record_body_size(&recs[i], ts_delta, delta);
        if (body == 0)
            return RN_ETOOBIG;
        section += rn_records_varint_size((int32_t)body) + body;
        if (section > FIELD_MAX - RN_BATCH_HEADER_SIZE)
            return RN_ETOOBIG;
    }
    int32_t last_delta = spec->offset_deltas ? spec->offset_deltas[n - 1] : (int32_t)(n - 1);

    /* Uncompressed batches are written in place; compressed ones via a scratch section. */
    int compressed = spec->codec != RN_CODEC_NONE;
    uint8_t *buf = rn_malloc(compressed ? section : RN_BATCH_HEADER_SIZE + section);
    if (buf == NULL)
        return RN_ENOMEM;
    uint8_t *p = compressed ? buf : buf + RN_BATCH_HEADER_SIZE;
    for (size_t i = 0; i < n; i++) {
        int32_t delta = spec->offset_deltas ? spec->offset_deltas[i] : (int32_t)i;
        int64_t ts_delta = recs[i].timestamp - base_ts;
        p = put_record(p, &recs[i], record_body_size(&recs[i], ts_delta, delta), ts_delta, delta);
    }
    size_t total = RN_BATCH_HEADER_SIZE + section;
    if (compressed) {
        uint8_t *zbuf;
        size_t zlen;
        int err = rn_codec_compress(spec->codec, &spec->codec_opts, buf, section, &zbuf, &zlen);
        rn_free(buf);
        if (err)
            return err;
        if (zlen > FIELD_MAX - RN_BATCH_HEADER_SIZE) {
            rn_free(zbuf);
            return RN_ETOOBIG;
        }
        total = RN_BATCH_HEADER_SIZE + zlen;
        buf = rn_malloc(total);
        if (buf == NULL) {
            rn_free(zbuf);
            return RN_ENOMEM;
        }
        memcpy(buf + RN_BATCH_HEADER_SIZE, zbuf, zlen);
        rn_free(zbuf);
    }
    put_header(buf, spec, total, n, last_delta, base_ts, max_ts);
    *out = buf;
    *out_len = total;
    return 0;
}
