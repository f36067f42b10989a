/* The log cleaner's reading side: batches of a segment snapshot, and the retention rules of
 * one batch — which records stay, and the batch that carries them (see rn_cleaner.h for the
 * rules and cleaner_internal.h for the interfaces). */
#include "cleaner_internal.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_records.h"
#include "rn_varint.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#define CHUNK (1u << 20) /* bytes read ahead when whole batches are wanted */

/* ---- segment reader ---- */

void rn__segreader_init(rn__segreader_t *rd, const rn_segment_t *seg, uint64_t size,
                        const char *name)
{
    memset(rd, 0, sizeof(*rd));
    rd->seg = seg;
    rd->size = size;
    rd->name = name;
}

void rn__segreader_free(rn__segreader_t *rd)
{
    rn_free(rd->buf);
    rd->buf = NULL;
    rd->cap = rd->len = 0;
}

/* Make file bytes [pos, pos + n) available in the buffer, reading at least `ahead` bytes (up
 * to the snapshot size) when they are not. Returns a pointer to them, or NULL with *err
 * (RN_ENOMEM; RN_ECANCELED when the file is shorter than the snapshot said: only a
 * truncation of the log can do that, and it makes the pass stale; RN_EIO). */
static const uint8_t *segreader_need(rn__segreader_t *rd, uint64_t pos, size_t n, size_t ahead,
                                     int *err)
{
    if (pos >= rd->buf_pos && pos + n <= rd->buf_pos + rd->len)
        return rd->buf + (pos - rd->buf_pos);
    size_t want = n > ahead ? n : ahead;
    if (want > rd->size - pos)
        want = (size_t)(rd->size - pos);
    if (want > rd->cap) {
        uint8_t *bigger = rn_realloc(rd->buf, want);
        if (bigger == NULL) {
            *err = RN_ENOMEM;
            return NULL;
        }
        rd->buf = bigger;
        rd->cap = want;
    }
    rd->len = 0;
    rd->buf_pos = pos;
    while (rd->len < want) {
        ssize_t got = pread(rd->seg->fd, rd->buf + rd->len, want - rd->len, (off_t)(pos + rd->len));
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            *err = RN_EIO;
            return NULL;
        }
        if (got == 0) {
            *err = RN_ECANCELED;
            return NULL;
        }
        rd->len += (size_t)got;
    }
    return rd->buf;
}

static int segreader_corrupt(const rn__segreader_t *rd, const char *why)
{
    RN_ERROR("cleaner",
             "%s: segment %020" PRId64 ".log is damaged at position %" PRIu64
             " (%s); compaction of this partition cannot go on until the segment is repaired "
             "(an unclean restart recovers it)",
             rd->name, rd->seg->base_offset, rd->pos, why);
    return RN_ECORRUPT;
}

int rn__segreader_next(rn__segreader_t *rd, int validate, const uint8_t **batch,
                       rn_batch_header_t *hdr, uint64_t *pos)
{
    if (rd->pos >= rd->size)
        return 0;
    uint64_t left = rd->size - rd->pos;
    if (left < RN_BATCH_HEADER_SIZE)
        return segreader_corrupt(rd, "the file ends inside a batch header");
    int err = 0;
    const uint8_t *p =
        segreader_need(rd, rd->pos, RN_BATCH_HEADER_SIZE, validate ? CHUNK : 0, &err);
    if (p == NULL)
        return err;
    if (rn_batch_header_parse(p, RN_BATCH_HEADER_SIZE, hdr) != 0)
        return segreader_corrupt(rd, "no valid batch header");
    size_t total = rn_batch_total_size(hdr);
    if (total > left)
        return segreader_corrupt(rd, "a batch runs past the end of the file");
    if (validate) {
        if ((p = segreader_need(rd, rd->pos, total, CHUNK, &err)) == NULL)
            return err;
        if (rn_batch_validate(p, total, hdr) != 0)
            return segreader_corrupt(rd, "batch fails validation (CRC or record count)");
    }
    int64_t seg_base = rd->seg->base_offset;
    if (hdr->base_offset < seg_base || rn_batch_last_offset(hdr) < hdr->base_offset ||
        rn_batch_last_offset(hdr) - seg_base > INT32_MAX)
        return segreader_corrupt(rd, "batch offsets outside the segment's range");
    *batch = p;
    *pos = rd->pos;
    rd->pos += total;
    return 1;
}

/* ---- retention rules ---- */

void rn__filter_free(rn__filter_t *f)
{
    rn_free(f->out);
    f->out = NULL;
    f->out_len = 0;
}

static int is_null(rn_record_bytes_t b)
{
    return b.data == NULL;
}

/* Fill the 61-byte header at out for a batch derived from hdr; the CRC comes last. */
static void put_header(uint8_t *out, const rn_batch_header_t *hdr, size_t total, int16_t attributes,
                       int64_t base_ts, int64_t max_ts, int32_t count)
{
    rn_batch_header_t h = *hdr;
    h.attributes = attributes;
    h.base_timestamp = base_ts;
    h.max_timestamp = max_ts;
    h.record_count = count;
    rn_batch_header_write(out, total, &h);
}

/* Kafka's empty batch (DefaultRecordBatch.writeEmptyHeader): same offsets, epoch and producer
 * fields, no codec, no horizon, both timestamps = the batch's maxTimestamp, no records. */
static int build_empty(rn__filter_t *f, const rn_batch_header_t *hdr)
{
    uint8_t *out = rn_malloc(RN_BATCH_HEADER_SIZE);
    if (out == NULL)
        return RN_ENOMEM;
    int16_t attrs = hdr->attributes & (RN_BATCH_ATTR_LOG_APPEND_TIME | RN_BATCH_ATTR_TRANSACTIONAL |
                                       RN_BATCH_ATTR_CONTROL);
    put_header(out, hdr, RN_BATCH_HEADER_SIZE, attrs, hdr->max_timestamp, hdr->max_timestamp, 0);
    rn_free(f->out);
    f->out = out;
    f->out_len = RN_BATCH_HEADER_SIZE;
    return 0;
}

/* Encode rec again with timestampDelta ts_delta into p (room for rec->size + 10 bytes: only
 * the timestamp varlong and the length varint can grow). Returns the bytes written. */
static size_t reencode(uint8_t *p, const rn_record_t *rec, int64_t ts_delta)
{
    size_t body = 1 + rn_varint_size_s64(ts_delta) + rn_varint_size_s32(rec->offset_delta) +
                  rn_varint_size_s32(rec->key.len) + (rec->key.len > 0 ? rec->key.len : 0) +
                  rn_varint_size_s32(rec->value.len) + (rec->value.len > 0 ? rec->value.len : 0) +
                  rn_varint_size_s32(rec->header_count) + rec->headers_len;
    size_t n = rn_varint_put_s32(p, (int32_t)body);
    p[n++] = (uint8_t)rec->attributes;
    n += rn_varint_put_s64(p + n, ts_delta);
    n += rn_varint_put_s32(p + n, rec->offset_delta);
    n += rn_varint_put_s32(p + n, rec->key.len);
    if (rec->key.len > 0) {
        memcpy(p + n, rec->key.data, (size_t)rec->key.len);
        n += (size_t)rec->key.len;
    }
    n += rn_varint_put_s32(p + n, rec->value.len);
    if (rec->value.len > 0) {
        memcpy(p + n, rec->value.data, (size_t)rec->value.len);
        n += (size_t)rec->value.len;
    }
    n += rn_varint_put_s32(p + n, rec->header_count);
    if (rec->headers_len > 0)
        memcpy(p + n, rec->headers, rec->headers_len);
    return n + rec->headers_len;
}

typedef struct decide {
    uint8_t *keep; /* per record: 1 = kept */
    int32_t count, kept, tombstones_kept, tombstones_dropped;
    int64_t max_ts; /* largest kept record timestamp (CreateTime) */
    int stamp;      /* set a delete horizon */
    int64_t horizon;
} decide_t;

/* First walk: which records stay. */
static int decide_records(rn__filter_t *f, rn_records_iter_t *it, const rn_batch_header_t *hdr,
                          decide_t *d)
{
    int has_horizon = (hdr->attributes & RN_BATCH_ATTR_DELETE_HORIZON) != 0;
    int horizon_passed = has_horizon && f->now_ms >= hdr->base_timestamp;
    rn_record_t rec;
    int rc;
    d->max_ts = -1;
    while ((rc = rn_records_iter_next(it, &rec)) == 1) {
        int keep = 1;
        if (rec.offset < f->map_end && !is_null(rec.key)) {
            int64_t latest =
                rn__offmap_get(f->map, rn__cleaner_hash(rec.key.data, (size_t)rec.key.len));
            if (rec.offset < latest) {
                keep = 0;
            } else if (is_null(rec.value) && horizon_passed) {
                keep = 0;
                d->tombstones_dropped++;
            }
        }
        d->keep[d->count++] = (uint8_t)keep;
        if (!keep)
            continue;
        d->kept++;
        if (is_null(rec.value))
            d->tombstones_kept++;
        /* Wrapping: hostile deltas must not be undefined behaviour. */
        int64_t ts = (int64_t)((uint64_t)hdr->base_timestamp + (uint64_t)rec.timestamp_delta);
        if (ts > d->max_ts)
            d->max_ts = ts;
    }
    return rc;
}

/* Walk the (already decompressed) records again from the first. */
static void restart(rn_records_iter_t *it, const rn_batch_header_t *hdr)
{
    uint8_t *owned = it->owned;
    rn_records_iter_init(it, hdr, it->records, it->records_len);
    it->owned = owned;
}

/* Can every kept record's timestamp be expressed relative to the new horizon? */
static int horizon_fits(rn_records_iter_t *it, const rn_batch_header_t *hdr, const decide_t *d,
                        int64_t horizon)
{
    rn_record_t rec;
    restart(it, hdr);
    for (int32_t i = 0; rn_records_iter_next(it, &rec) == 1; i++) {
        int64_t ts, delta;
        if (d->keep[i] && (__builtin_add_overflow(hdr->base_timestamp, rec.timestamp_delta, &ts) ||
                           __builtin_sub_overflow(ts, horizon, &delta)))
            return 0;
    }
    return 1;
}

/* Second walk: the kept records, recompressed, under a new header. */
static int rebuild(rn__filter_t *f, rn_records_iter_t *it, const rn_batch_header_t *hdr,
                   const decide_t *d)
{
    /* Re-encoding can grow a record by 9 bytes of timestamp and 4 of length. */
    uint8_t *section = rn_malloc(it->records_len + (size_t)d->kept * 16 + 1);
    if (section == NULL)
        return RN_ENOMEM;
    size_t len = 0;
    rn_record_t rec;
    restart(it, hdr);
    for (int32_t i = 0; rn_records_iter_next(it, &rec) == 1; i++) {
        if (!d->keep[i])
            continue;
        if (d->stamp) {
            len += reencode(section + len, &rec,
                            hdr->base_timestamp + rec.timestamp_delta - d->horizon);
        } else {
            memcpy(section + len, it->records + rec.pos, rec.size);
            len += rec.size;
        }
    }
    int codec = rn_batch_codec(hdr);
    uint8_t *packed = section;
    size_t packed_len = len;
    if (codec != RN_CODEC_NONE) {
        int err = rn_codec_compress(codec, NULL, section, len, &packed, &packed_len);
        rn_free(section);
        if (err)
            return err;
    }
    size_t total = RN_BATCH_HEADER_SIZE + packed_len;
    uint8_t *out = total > INT32_MAX ? NULL : rn_malloc(total);
    if (out == NULL) {
        rn_free(packed);
        return total > INT32_MAX ? RN_ETOOBIG : RN_ENOMEM;
    }
    memcpy(out + RN_BATCH_HEADER_SIZE, packed, packed_len);
    rn_free(packed);
    int16_t attrs = hdr->attributes | (d->stamp ? RN_BATCH_ATTR_DELETE_HORIZON : 0);
    int lat = (hdr->attributes & RN_BATCH_ATTR_LOG_APPEND_TIME) != 0;
    put_header(out, hdr, total, attrs, d->stamp ? d->horizon : hdr->base_timestamp,
               lat ? hdr->max_timestamp : d->max_ts, d->kept);
    rn_free(f->out);
    f->out = out;
    f->out_len = total;
    return 0;
}

/* Whether an emptied batch must stay as an empty batch for its producer's sake. */
static int producer_needs(const rn__filter_t *f, const rn_batch_header_t *hdr)
{
    rn__pidmap_slot_t last;
    if (hdr->producer_id < 0 || !rn__pidmap_get(f->pids, hdr->producer_id, &last))
        return 0;
    return last.last_offset == rn_batch_last_offset(hdr) &&
           f->now_ms - last.max_timestamp <= f->producer_expiration_ms;
}

/* A batch the cleaner cannot look into stays as it is (its records counted as kept). */
static void undecoded(rn__filter_t *f, const rn_batch_header_t *hdr)
{
    f->stats->undecoded_batches++;
    f->stats->records_kept += hdr->record_count;
}

static void note_horizon(rn__filter_t *f, int64_t horizon)
{
    if (horizon < f->stats->next_horizon_ms)
        f->stats->next_horizon_ms = horizon;
}

int rn__filter_batch(rn__filter_t *f, const uint8_t *batch, const rn_batch_header_t *hdr,
                     rn__verdict_t *verdict)
{
    rn_cleaner_stats_t *st = f->stats;
    st->batches_read++;
    st->records_read += hdr->record_count;
    *verdict = RN__BATCH_ORIGINAL;
    if (rn_batch_is_control(hdr) || hdr->base_offset >= f->map_end) {
        st->records_kept += hdr->record_count;
        return 0;
    }
    rn_records_iter_t it;
    decide_t d = {0};
    int err = rn_records_open(&it, batch, rn_batch_total_size(hdr), NULL, f->max_batch_bytes);
    /* Every record takes at least 7 bytes, so this bounds the allocation by the section. */
    if (err == 0 && (size_t)hdr->record_count > it.records_len)
        err = RN_ECORRUPT;
    if (err == 0 && (d.keep = rn_malloc((size_t)hdr->record_count + 1)) == NULL)
        err = RN_ENOMEM;
    if (err == 0)
        err = decide_records(f, &it, hdr, &d);
    if (err != 0) {
        rn_free(d.keep);
        rn_records_close(&it);
        if (err == RN_ENOMEM)
            return err;
        /* Too big, an unsupported codec, bad compressed data, or records that do not parse
         * although the CRC holds (a producer's garbage): keep the batch as it is. */
        undecoded(f, hdr);
        return 0;
    }
    st->tombstones_dropped += d.tombstones_dropped;
    st->records_kept += d.kept;
    int has_horizon = (hdr->attributes & RN_BATCH_ATTR_DELETE_HORIZON) != 0;
    if (d.tombstones_kept > 0 && !has_horizon) {
        d.horizon = f->now_ms > INT64_MAX - f->delete_retention_ms
                        ? INT64_MAX
                        : f->now_ms + f->delete_retention_ms;
        d.stamp = horizon_fits(&it, hdr, &d, d.horizon);
    }
    if (d.tombstones_kept > 0 && (d.stamp || has_horizon))
        note_horizon(f, d.stamp ? d.horizon : hdr->base_timestamp);
    if (d.kept == hdr->record_count && !d.stamp) {
        *verdict = RN__BATCH_ORIGINAL;
    } else if (d.kept > 0) {
        err = rebuild(f, &it, hdr, &d);
        *verdict = RN__BATCH_REWRITTEN;
    } else if (producer_needs(f, hdr)) {
        err = build_empty(f, hdr);
        st->empty_batches++;
        *verdict = RN__BATCH_REWRITTEN;
    } else {
        *verdict = RN__BATCH_DROP;
    }
    rn_free(d.keep);
    rn_records_close(&it);
    return err;
}
