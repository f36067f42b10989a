/* Records inside v2 batches: the one parser of the v2 record layout, the record iterator
 * built on it, control records and the batch builder (see rn_records.h). */
#include "rn_records.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_reader.h"
#include "rn_varint.h"

#include <string.h>

/* ---- the v2 record layout ---- */

/* The reader's slices have the record's own {pointer, int32 length, -1 = null} shape. */
static rn_record_bytes_t record_bytes(rn_slice_t s)
{
    return (rn_record_bytes_t){s.ptr, s.len};
}

/* attributes, timestampDelta, offsetDelta: the fixed-order prefix of every record. */
static void parse_prefix(rn_reader_t *r, rn_record_t *rec)
{
    rec->attributes = rn_reader_i8(r);
    rec->timestamp_delta = rn_reader_varlong(r);
    rec->offset_delta = rn_reader_varint(r);
}

/* The header_count headers: keys never null, values nullable. */
static void parse_headers(rn_reader_t *r, rn_record_t *rec)
{
    /* Each header takes at least two bytes; this bounds the loop before it starts (a
     * count beyond it would fail inside the loop anyway). */
    if ((size_t)rec->header_count > rn_reader_left(r) / 2) {
        rn_reader_fail(r, RN_ECORRUPT);
        return;
    }
    rec->headers = r->p;
    for (int32_t i = 0; i < rec->header_count && !r->err; i++) {
        (void)rn_reader_varbytes(r, false);
        (void)rn_reader_varbytes(r, true);
    }
    rec->headers_len = (size_t)(r->p - rec->headers);
}

/* Which part of a record's body failed first (RN_RECORD_OK when none): the body is read in
 * field order and later fields are not looked at once one fails. */
static rn_record_fault_t parse_body(rn_reader_t *body, rn_record_t *rec)
{
    parse_prefix(body, rec);
    if (body->err)
        return RN_RECORD_BAD_PREFIX;
    rec->key = record_bytes(rn_reader_varbytes(body, true));
    rec->value = record_bytes(rn_reader_varbytes(body, true));
    rec->header_count = rn_reader_varint(body);
    if (body->err || rec->header_count < 0)
        return RN_RECORD_BAD_FIELDS;
    parse_headers(body, rec);
    if (body->err)
        return RN_RECORD_BAD_HEADERS;
    return body->p == body->end ? RN_RECORD_OK : RN_RECORD_BAD_SIZE;
}

rn_record_fault_t rn_records_parse(rn_reader_t *r, rn_record_t *rec)
{
    const uint8_t *start = r->p;
    rn_reader_t body;
    memset(rec, 0, sizeof(*rec));
    rec->key = rec->value = (rn_record_bytes_t){NULL, -1};
    rn_record_fault_t fault = RN_RECORD_BAD_LENGTH;
    if (rn_reader_varint_block(r, &body))
        fault = parse_body(&body, rec);
    if (fault != RN_RECORD_OK) {
        r->p = start; /* p at the record that failed */
        rn_reader_fail(r, RN_ECORRUPT);
        return fault;
    }
    rec->size = (size_t)(r->p - start);
    return RN_RECORD_OK;
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
    rn_reader_t r = rn_reader_make(it->records + it->pos, it->records_len - it->pos);
    if (rn_records_parse(&r, rec) != RN_RECORD_OK)
        return it->err = RN_ECORRUPT;
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
    rn_reader_t r = rn_reader_make(rec->headers + *cursor, rec->headers_len - *cursor);
    *key = record_bytes(rn_reader_varbytes(&r, false));
    *value = record_bytes(rn_reader_varbytes(&r, true));
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
    return data == NULL ? 1 : rn_varint_size_s32((int32_t)len) + len;
}

static uint8_t *put_bytes(uint8_t *p, const void *data, size_t len)
{
    if (data == NULL)
        return p + rn_varint_put_s32(p, -1);
    p += rn_varint_put_s32(p, (int32_t)len);
    if (len)
        memcpy(p, data, len);
    return p + len;
}

/* Body size of one record (after its length varint), or 0 when a field is too long. */
static size_t record_body_size(const rn_record_spec_t *rec, int64_t ts_delta, int32_t off_delta)
{
    if (rec->key_len > FIELD_MAX || rec->value_len > FIELD_MAX || rec->header_count > FIELD_MAX / 2)
        return 0;
    size_t size = 1 + rn_varint_size_s64(ts_delta) + rn_varint_size_s32(off_delta) +
                  bytes_size(rec->key, rec->key_len) + bytes_size(rec->value, rec->value_len) +
                  rn_varint_size_s32((int32_t)rec->header_count);
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
    p += rn_varint_put_s32(p, (int32_t)body);
    *p++ = 0; /* attributes: unused in v2 */
    p += rn_varint_put_s64(p, ts_delta);
    p += rn_varint_put_s32(p, off_delta);
    p = put_bytes(p, rec->key, rec->key_len);
    p = put_bytes(p, rec->value, rec->value_len);
    p += rn_varint_put_s32(p, (int32_t)rec->header_count);
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
        section += rn_varint_size_s32((int32_t)body) + body;
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
