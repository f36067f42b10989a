/* groupstore.c: __consumer_offsets record codecs (Kafka's OffsetCommitKey/Value and
 * GroupMetadataKey/Value, hand-written over client/'s bounded reader and writer because they
 * are versioned data records, not requests), the group -> partition mapping, and the replay of
 * stored batches at load time. See rn_groupstore.h for the formats. */
#include "group/rn_groupstore.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_records.h"

#include <string.h>

/* Largest decompressed records section accepted while replaying (Kafka writes the offsets
 * topic uncompressed; this only bounds hostile or foreign data). */
#define REPLAY_MAX_RECORDS_BYTES ((size_t)64 << 20)

/* ---- partitioning ---- */

/* Next UTF-16 code unit(s) of a UTF-8 string: returns the code point and advances *i; a
 * malformed byte yields U+FFFD and advances one byte. */
static uint32_t next_code_point(const uint8_t *s, size_t len, size_t *i)
{
    uint8_t b = s[*i];
    uint32_t cp;
    size_t n;
    if (b < 0x80) {
        (*i)++;
        return b;
    } else if (b >= 0xC2 && b <= 0xDF) {
        cp = b & 0x1F;
        n = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        cp = b & 0x0F;
        n = 2;
    } else if (b >= 0xF0 && b <= 0xF4) {
        cp = b & 0x07;
        n = 3;
    } else {
        (*i)++;
        return 0xFFFD;
    }
    if (*i + n >= len) { /* cut short */
        (*i)++;
        return 0xFFFD;
    }
    for (size_t k = 1; k <= n; k++) {
        if ((s[*i + k] & 0xC0) != 0x80) {
            (*i)++;
            return 0xFFFD;
        }
        cp = cp << 6 | (s[*i + k] & 0x3F);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are malformed too. */
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        (*i)++;
        return 0xFFFD;
    }
    *i += n + 1;
    return cp;
}

int32_t rn_groupstore_java_hash(const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *)s;
    uint32_t h = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp = next_code_point(p, len, &i);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            h = 31 * h + (0xD800 + (cp >> 10));
            h = 31 * h + (0xDC00 + (cp & 0x3FF));
        } else {
            h = 31 * h + cp;
        }
    }
    return (int32_t)h;
}

int32_t rn_groupstore_partition_for(const char *group, size_t len, int32_t partitions)
{
    int32_t h = rn_groupstore_java_hash(group, len);
    int32_t a = h == INT32_MIN ? 0 : (h < 0 ? -h : h);
    return partitions > 0 ? a % partitions : 0;
}

/* ---- encoding ---- */

static int finish(rn_proto_writer_t *w, uint8_t **out, size_t *len)
{
    int rc = w->err;
    if (rc == 0) {
        size_t n = rn_proto_writer_total(w);
        uint8_t *buf = rn_malloc(n ? n : 1);
        if (buf == NULL) {
            rc = RN_ENOMEM;
        } else {
            long got = rn_proto_writer_copy(w, buf, n);
            if (got < 0 || (size_t)got != n) {
                rn_free(buf);
                rc = got < 0 ? (int)got : RN_EIO;
            } else {
                *out = buf;
                *len = n;
            }
        }
    }
    rn_proto_writer_free(w);
    return rc;
}

/* Strings that are not nullable in the format: a null is written as "" (as Kafka's
 * NoMetadata). */
static rn_str_t not_null(rn_str_t s)
{
    return s.len < 0 ? (rn_str_t){"", 0} : s;
}

int rn_groupstore_encode_offset_key(rn_str_t group, rn_str_t topic, int32_t partition,
                                    uint8_t **out, size_t *len)
{
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_proto_write_int16(&w, RN_GROUPSTORE_KEY_OFFSET);
    rn_proto_write_string(&w, false, false, not_null(group));
    rn_proto_write_string(&w, false, false, not_null(topic));
    rn_proto_write_int32(&w, partition);
    return finish(&w, out, len);
}

int rn_groupstore_encode_group_key(rn_str_t group, uint8_t **out, size_t *len)
{
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_proto_write_int16(&w, RN_GROUPSTORE_KEY_GROUP);
    rn_proto_write_string(&w, false, false, not_null(group));
    return finish(&w, out, len);
}

int16_t rn_groupstore_offset_version(const rn_groupstore_offset_t *v)
{
    return v->expire_timestamp >= 0 ? 1 : 3;
}

int rn_groupstore_encode_offset(const rn_groupstore_offset_t *v, int16_t version, uint8_t **out,
                                size_t *len)
{
    if (version < 0 || version > 4)
        return RN_EINVAL;
    bool flex = version >= 4;
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_proto_write_int16(&w, version);
    rn_proto_write_int64(&w, v->offset);
    if (version >= 3)
        rn_proto_write_int32(&w, v->leader_epoch);
    rn_proto_write_string(&w, flex, false, not_null(v->metadata));
    rn_proto_write_int64(&w, v->commit_timestamp);
    if (version == 1)
        rn_proto_write_int64(&w, v->expire_timestamp);
    if (flex)
        rn_proto_write_uvarint(&w, 0);
    return finish(&w, out, len);
}

int rn_groupstore_encode_group(const rn_groupstore_group_t *v, int16_t version, uint8_t **out,
                               size_t *len)
{
    if (version < 0 || version > 4 || v->n_members < 0)
        return RN_EINVAL;
    bool flex = version >= 4;
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_proto_write_int16(&w, version);
    rn_proto_write_string(&w, flex, false, not_null(v->protocol_type));
    rn_proto_write_int32(&w, v->generation);
    rn_proto_write_string(&w, flex, true, v->protocol);
    rn_proto_write_string(&w, flex, true, v->leader);
    if (version >= 2)
        rn_proto_write_int64(&w, v->current_state_timestamp);
    rn_proto_write_array_len(&w, flex, false, v->n_members);
    for (int32_t i = 0; i < v->n_members; i++) {
        const rn_groupstore_member_t *m = &v->members[i];
        rn_proto_write_string(&w, flex, false, not_null(m->member_id));
        if (version >= 3)
            rn_proto_write_string(&w, flex, true, m->instance_id);
        rn_proto_write_string(&w, flex, false, not_null(m->client_id));
        rn_proto_write_string(&w, flex, false, not_null(m->client_host));
        if (version >= 1)
            rn_proto_write_int32(&w, m->rebalance_timeout_ms);
        rn_proto_write_int32(&w, m->session_timeout_ms);
        rn_bytes_t sub = m->subscription.len < 0 ? (rn_bytes_t){NULL, 0} : m->subscription;
        rn_bytes_t asg = m->assignment.len < 0 ? (rn_bytes_t){NULL, 0} : m->assignment;
        rn_proto_write_bytes(&w, flex, false, sub);
        rn_proto_write_bytes(&w, flex, false, asg);
        if (flex)
            rn_proto_write_uvarint(&w, 0);
    }
    if (flex)
        rn_proto_write_uvarint(&w, 0);
    return finish(&w, out, len);
}

/* ---- decoding ---- */

static int done(const rn_proto_reader_t *r)
{
    if (r->rd.err != 0)
        return r->rd.err == RN_ENOMEM ? RN_ENOMEM : RN_ECORRUPT;
    return rn_proto_remaining(r) == 0 ? 0 : RN_ECORRUPT;
}

int rn_groupstore_decode_key(const uint8_t *p, size_t len, rn_groupstore_key_t *key)
{
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, p, len, NULL);
    memset(key, 0, sizeof(*key));
    key->version = rn_proto_read_int16(&r);
    if (r.rd.err != 0)
        return RN_ECORRUPT;
    switch (key->version) {
    case RN_GROUPSTORE_KEY_OFFSET_V0:
    case RN_GROUPSTORE_KEY_OFFSET:
        key->group = rn_proto_read_string(&r, false, false);
        key->topic = rn_proto_read_string(&r, false, false);
        key->partition = rn_proto_read_int32(&r);
        break;
    case RN_GROUPSTORE_KEY_GROUP:
        key->group = rn_proto_read_string(&r, false, false);
        key->topic = RN_STR_NULL;
        key->partition = -1;
        break;
    default: return RN_EUNSUPPORTED;
    }
    return done(&r);
}

int rn_groupstore_decode_offset(const uint8_t *p, size_t len, rn_groupstore_offset_t *v)
{
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, p, len, NULL);
    int16_t version = rn_proto_read_int16(&r);
    if (r.rd.err != 0)
        return RN_ECORRUPT;
    if (version < 0 || version > 4)
        return RN_EUNSUPPORTED;
    bool flex = version >= 4;
    v->offset = rn_proto_read_int64(&r);
    v->leader_epoch = version >= 3 ? rn_proto_read_int32(&r) : -1;
    v->metadata = rn_proto_read_string(&r, flex, false);
    v->commit_timestamp = rn_proto_read_int64(&r);
    v->expire_timestamp = version == 1 ? rn_proto_read_int64(&r) : -1;
    if (flex)
        rn_proto_skip_tags(&r);
    return done(&r);
}

int rn_groupstore_decode_group(const uint8_t *p, size_t len, rn_arena_t *arena,
                               rn_groupstore_group_t *v)
{
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, p, len, arena);
    memset(v, 0, sizeof(*v));
    int16_t version = rn_proto_read_int16(&r);
    if (r.rd.err != 0)
        return RN_ECORRUPT;
    if (version < 0 || version > 4)
        return RN_EUNSUPPORTED;
    bool flex = version >= 4;
    v->protocol_type = rn_proto_read_string(&r, flex, false);
    v->generation = rn_proto_read_int32(&r);
    v->protocol = rn_proto_read_string(&r, flex, true);
    v->leader = rn_proto_read_string(&r, flex, true);
    v->current_state_timestamp = version >= 2 ? rn_proto_read_int64(&r) : -1;
    /* A member takes at least 4 strings, 2 bytes fields and an int32. */
    int32_t n = rn_proto_read_array_len(&r, flex, false, flex ? 10 : 20);
    if (n > 0) {
        v->members = rn_proto_alloc(&r, n, sizeof(*v->members));
        for (int32_t i = 0; i < n && r.rd.err == 0; i++) {
            rn_groupstore_member_t *m = &v->members[i];
            m->member_id = rn_proto_read_string(&r, flex, false);
            m->instance_id = version >= 3 ? rn_proto_read_string(&r, flex, true) : RN_STR_NULL;
            m->client_id = rn_proto_read_string(&r, flex, false);
            m->client_host = rn_proto_read_string(&r, flex, false);
            int32_t rebalance = version >= 1 ? rn_proto_read_int32(&r) : 0;
            m->session_timeout_ms = rn_proto_read_int32(&r);
            m->rebalance_timeout_ms = version >= 1 ? rebalance : m->session_timeout_ms;
            m->subscription = rn_proto_read_bytes(&r, flex, false);
            m->assignment = rn_proto_read_bytes(&r, flex, false);
            if (flex)
                rn_proto_skip_tags(&r);
        }
    }
    v->n_members = r.rd.err == 0 && n > 0 ? n : 0;
    if (flex)
        rn_proto_skip_tags(&r);
    return done(&r);
}

/* ---- replay ---- */

/* Feed the records of one (valid, non-control) batch to cb. */
static int replay_batch(const uint8_t *b, size_t total, rn_groupstore_progress_t *pr,
                        rn_groupstore_record_cb cb, void *arg)
{
    rn_records_iter_t it;
    int rc = rn_records_open(&it, b, total, NULL, REPLAY_MAX_RECORDS_BYTES);
    if (rc != 0) {
        rn_records_close(&it);
        return rc == RN_ENOMEM ? RN_ENOMEM : RN_ECORRUPT;
    }
    rn_record_t rec;
    int nrc;
    while ((nrc = rn_records_iter_next(&it, &rec)) == 1) {
        rn_groupstore_key_t key;
        if (rec.key.len < 0) {
            rc = RN_ECORRUPT;
            break;
        }
        int krc = rn_groupstore_decode_key(rec.key.data, (size_t)rec.key.len, &key);
        if (krc == RN_EUNSUPPORTED) {
            pr->skipped++;
            continue;
        }
        if (krc != 0) {
            rc = krc;
            break;
        }
        rc = cb(arg, &key, rec.value.len >= 0 ? rec.value.data : NULL, rec.value.len, rec.offset);
        if (rc != 0)
            break;
    }
    if (rc == 0 && nrc < 0)
        rc = nrc;
    rn_records_close(&it);
    return rc;
}

int rn_groupstore_replay(const uint8_t *batches, size_t len, rn_groupstore_progress_t *progress,
                         rn_groupstore_record_cb cb, void *arg)
{
    rn_groupstore_progress_t pr = {0, -1, 0};
    int rc = 0;
    while (rc == 0 && len - pr.consumed >= RN_BATCH_LOG_OVERHEAD + 5) {
        const uint8_t *b = batches + pr.consumed;
        size_t left = len - pr.consumed;
        rn_batch_header_t hdr;
        rc = rn_batch_header_parse(b, left, &hdr);
        if (rc == RN_ETRUNC) {
            rc = 0;
            break;
        }
        if (rc != 0) {
            rc = RN_ECORRUPT;
            break;
        }
        size_t total = rn_batch_total_size(&hdr);
        if (total > left)
            break; /* the rest of this batch comes with the next read */
        if (rn_batch_validate(b, total, &hdr) != 0) {
            rc = RN_ECORRUPT;
            break;
        }
        if (!rn_batch_is_control(&hdr))
            rc = replay_batch(b, total, &pr, cb, arg);
        if (rc == 0) {
            pr.consumed += total;
            pr.next_offset = rn_batch_last_offset(&hdr) + 1;
        }
    }
    if (progress != NULL)
        *progress = pr;
    return rc;
}
