/* rn_records: the batch builder (every codec) read back by the iterator,
 * control records, and malformed records rejected without reading past the end. */
#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_records.h"
#include "tap.h"

#include <limits.h>
#include <string.h>

/* Key "k", value "hello", offset 0, encoded by hand from the format description. (The
 * record in test_batch.c declares length 11; its body is 12 bytes, so a record parser
 * rightly rejects it.) */
static void test_known_bytes(void)
{
    static const uint8_t record[] = {0x18, 0x00, 0x00, 0x00, 0x02, 'k', 0x0a,
                                     'h',  'e',  'l',  'l',  'o',  0x00};
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    spec.partition_leader_epoch = 0;
    rn_record_spec_t rec = {"k", 1, "hello", 5, NULL, 0, 1700000000000LL};
    uint8_t *buf;
    size_t len;
    is(rn_batch_build(&spec, &rec, 1, &buf, &len), 0, "build one record");
    is(len, RN_BATCH_HEADER_SIZE + sizeof(record), "61 + 13 bytes");
    ok(memcmp(buf + RN_BATCH_HEADER_SIZE, record, sizeof(record)) == 0,
       "record bytes match the hand-encoded record");
    rn_batch_header_t hdr;
    is(rn_batch_validate(buf, len, &hdr), 0, "validates (CRC-32C)");
    is(hdr.batch_length, len - 12, "batchLength");
    is(hdr.base_timestamp, 1700000000000LL, "baseTimestamp");
    is(hdr.max_timestamp, 1700000000000LL, "maxTimestamp");
    is(hdr.producer_id, -1, "producerId -1");
    is(hdr.producer_epoch, -1, "producerEpoch -1");
    is(hdr.base_sequence, -1, "baseSequence -1");
    is(hdr.attributes, 0, "attributes 0");
    rn_free(buf);
}

typedef struct expect {
    const char *key, *value; /* NULL = null */
    int64_t ts;
} expect_t;

static const rn_record_header_t hdrs[] = {
    {"trace", 5, "abc", 3},
    {"empty", 5, "", 0},
    {"null", 4, NULL, 0},
};

static void fill_specs(rn_record_spec_t *recs, size_t n, char (*vals)[32])
{
    for (size_t i = 0; i < n; i++) {
        snprintf(vals[i], 32, "value-%zu", i);
        memset(&recs[i], 0, sizeof(recs[i]));
        recs[i].key = i % 3 == 0 ? NULL : (i % 3 == 1 ? "" : "key");
        recs[i].key_len = i % 3 == 2 ? 3 : 0;
        recs[i].value = i % 5 == 4 ? NULL : vals[i];
        recs[i].value_len = i % 5 == 4 ? 0 : strlen(vals[i]);
        recs[i].headers = i % 2 ? hdrs : NULL;
        recs[i].header_count = i % 2 ? 3 : 0;
        /* Timestamps go down as well as up: deltas may be negative. */
        recs[i].timestamp = 1700000000000LL + (int64_t)((i * 7919) % 1000) - 500;
    }
}

static int bytes_eq(rn_record_bytes_t b, const void *data, size_t len)
{
    if (data == NULL)
        return b.data == NULL && b.len == -1;
    return b.data != NULL && b.len == (int32_t)len && memcmp(b.data, data, len) == 0;
}

static int check_records(rn_records_iter_t *it, const rn_record_spec_t *recs, size_t n,
                         int64_t base_offset, const int32_t *deltas)
{
    rn_record_t rec;
    size_t i = 0;
    int r;
    while ((r = rn_records_iter_next(it, &rec)) == 1) {
        if (i >= n)
            return 0;
        int64_t want_off = base_offset + (deltas ? deltas[i] : (int64_t)i);
        if (rec.offset != want_off || rec.timestamp != recs[i].timestamp ||
            !bytes_eq(rec.key, recs[i].key, recs[i].key_len) ||
            !bytes_eq(rec.value, recs[i].value, recs[i].value_len) ||
            rec.header_count != (int32_t)recs[i].header_count) {
            diag("record %zu differs", i);
            return 0;
        }
        size_t cur = 0;
        rn_record_bytes_t hk, hv;
        for (size_t h = 0; h < recs[i].header_count; h++) {
            if (rn_records_header_next(&rec, &cur, &hk, &hv) != 1 ||
                !bytes_eq(hk, recs[i].headers[h].key, recs[i].headers[h].key_len) ||
                !bytes_eq(hv, recs[i].headers[h].value, recs[i].headers[h].value_len)) {
                diag("record %zu header %zu differs", i, h);
                return 0;
            }
        }
        if (rn_records_header_next(&rec, &cur, &hk, &hv) != 0)
            return 0;
        i++;
    }
    return r == 0 && i == n;
}

static void test_build_all_codecs(void)
{
    enum { N = 500 };
    static rn_record_spec_t recs[N];
    static char vals[N][32];
    fill_specs(recs, N, vals);
    int64_t min_ts = INT64_MAX, max_ts = INT64_MIN;
    for (size_t i = 0; i < N; i++) {
        min_ts = recs[i].timestamp < min_ts ? recs[i].timestamp : min_ts;
        max_ts = recs[i].timestamp > max_ts ? recs[i].timestamp : max_ts;
    }
    for (int codec = RN_CODEC_NONE; codec <= RN_CODEC_ZSTD; codec++) {
        rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
        spec.base_offset = 1000;
        spec.codec = codec;
        spec.producer_id = 4242;
        spec.producer_epoch = 3;
        spec.base_sequence = 17;
        uint8_t *buf;
        size_t len;
        is(rn_batch_build(&spec, recs, N, &buf, &len), 0, "%s: build %d records",
           rn_codec_name(codec), N);
        rn_batch_header_t hdr;
        is(rn_batch_validate(buf, len, &hdr), 0, "%s: rn_batch_validate accepts it",
           rn_codec_name(codec));
        ok(hdr.base_offset == 1000 && hdr.last_offset_delta == N - 1 && hdr.record_count == N &&
               rn_batch_codec(&hdr) == codec && hdr.base_timestamp == recs[0].timestamp &&
               hdr.max_timestamp == max_ts && hdr.producer_id == 4242 && hdr.producer_epoch == 3 &&
               hdr.base_sequence == 17 && hdr.partition_leader_epoch == -1 &&
               rn_batch_total_size(&hdr) == len,
           "%s: header fields", rn_codec_name(codec));
        /* Read back with a malloc'd output and with a caller buffer. */
        rn_records_iter_t it;
        is(rn_records_open(&it, buf, len, NULL, 1 << 20), 0, "%s: open", rn_codec_name(codec));
        ok(check_records(&it, recs, N, 1000, NULL), "%s: %d records read back identically",
           rn_codec_name(codec), N);
        size_t section = it.records_len;
        rn_records_close(&it);
        rn_records_close(&it);
        static uint8_t scratch[1 << 16];
        is(rn_records_open(&it, buf, len, scratch, sizeof(scratch)), 0,
           "%s: open into a caller buffer", rn_codec_name(codec));
        ok(check_records(&it, recs, N, 1000, NULL), "%s: same records from the caller buffer",
           rn_codec_name(codec));
        rn_records_close(&it);
        if (codec != RN_CODEC_NONE) {
            is(rn_records_open(&it, buf, len, NULL, section - 1), RN_ETOOBIG,
               "%s: section of %zu bytes over a cap of %zu is RN_ETOOBIG", rn_codec_name(codec),
               section, section - 1);
            rn_records_close(&it);
            is(rn_records_open(&it, buf, len, scratch, 100), RN_ETOOBIG,
               "%s: caller buffer too small is RN_ETOOBIG", rn_codec_name(codec));
        }
        is(rn_records_open(&it, buf, len - 1, NULL, 1 << 20), RN_ETRUNC,
           "%s: a batch one byte short is RN_ETRUNC", rn_codec_name(codec));
        rn_free(buf);
    }

    /* Snappy raw framing and compression levels pass through the spec. */
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    spec.codec = RN_CODEC_SNAPPY;
    spec.codec_opts.snappy_raw = 1;
    uint8_t *buf;
    size_t len;
    rn_batch_build(&spec, recs, N, &buf, &len);
    rn_records_iter_t it;
    ok(buf[RN_BATCH_HEADER_SIZE] != 0x82 && rn_records_open(&it, buf, len, NULL, 1 << 20) == 0 &&
           check_records(&it, recs, N, 0, NULL),
       "raw snappy batch reads back");
    rn_records_close(&it);
    rn_free(buf);
}

static void test_build_options(void)
{
    rn_record_spec_t recs[3] = {
        {"a", 1, "1", 1, NULL, 0, 100},
        {"b", 1, "2", 1, NULL, 0, 300},
        {"c", 1, "3", 1, NULL, 0, 200},
    };
    static const int32_t holes[3] = {0, 5, 9};
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    spec.base_offset = 50;
    spec.offset_deltas = holes;
    uint8_t *buf;
    size_t len;
    rn_batch_header_t hdr;
    is(rn_batch_build(&spec, recs, 3, &buf, &len), 0, "build with offset holes");
    ok(rn_batch_validate(buf, len, &hdr) == 0 && hdr.last_offset_delta == 9 &&
           hdr.record_count == 3 && hdr.max_timestamp == 300 && hdr.base_timestamp == 100,
       "lastOffsetDelta 9, count 3, max timestamp 300");
    rn_records_iter_t it;
    rn_records_open(&it, buf, len, NULL, 4096);
    ok(check_records(&it, recs, 3, 50, holes), "offsets 50, 55, 59");
    rn_records_close(&it);

    /* LogAppendTime: every record reports maxTimestamp. */
    rn_batch_set_log_append_time(buf, len, 999);
    ok(rn_batch_validate(buf, len, &hdr) == 0, "still valid after LogAppendTime rewrite");
    rn_records_open(&it, buf, len, NULL, 4096);
    rn_record_t rec;
    int all999 = 1;
    while (rn_records_iter_next(&it, &rec) == 1)
        all999 &= rec.timestamp == 999;
    ok(all999, "LogAppendTime records report the append time");
    rn_records_close(&it);
    rn_free(buf);

    static const int32_t bad_holes[3] = {0, 5, 5};
    spec.offset_deltas = bad_holes;
    is(rn_batch_build(&spec, recs, 3, &buf, &len), RN_EINVAL, "repeated offset delta refused");
    spec.offset_deltas = NULL;
    is(rn_batch_build(&spec, recs, 0, &buf, &len), RN_EINVAL, "zero records refused");
    spec.codec = 6;
    is(rn_batch_build(&spec, recs, 1, &buf, &len), RN_EINVAL, "codec 6 refused");
    spec.codec = RN_CODEC_NONE;
    rn_record_spec_t extreme[2] = {{NULL, 0, NULL, 0, NULL, 0, INT64_MIN},
                                   {NULL, 0, NULL, 0, NULL, 0, INT64_MAX}};
    is(rn_batch_build(&spec, extreme, 2, &buf, &len), RN_EINVAL,
       "timestamp delta overflowing int64 refused");
    rn_record_spec_t huge = {NULL, 0, "x", (size_t)INT32_MAX + 1, NULL, 0, 0};
    is(rn_batch_build(&spec, &huge, 1, &buf, &len), RN_ETOOBIG, "value over INT32_MAX refused");
}

static void test_control(void)
{
    uint8_t key[4], value[6];
    rn_records_control_encode(key, value, RN_CONTROL_COMMIT, 7);
    rn_record_spec_t rec = {key, 4, value, 6, NULL, 0, 123};
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    spec.attributes = RN_BATCH_ATTR_TRANSACTIONAL | RN_BATCH_ATTR_CONTROL;
    spec.producer_id = 9;
    spec.producer_epoch = 1;
    uint8_t *buf;
    size_t len;
    rn_batch_header_t hdr;
    is(rn_batch_build(&spec, &rec, 1, &buf, &len), 0, "build a commit marker batch");
    ok(rn_batch_validate(buf, len, &hdr) == 0 && rn_batch_is_control(&hdr) &&
           rn_batch_is_transactional(&hdr),
       "control + transactional attributes");
    rn_records_iter_t it;
    rn_record_t r;
    rn_control_record_t ctl;
    rn_records_open(&it, buf, len, NULL, 4096);
    ok(rn_records_iter_next(&it, &r) == 1 && rn_records_control_parse(&r, &ctl) == 0 &&
           ctl.type == RN_CONTROL_COMMIT && ctl.key_version == 0 && ctl.value_version == 0 &&
           ctl.coordinator_epoch == 7,
       "commit marker decodes: type 1, coordinator epoch 7");
    is_str(rn_records_control_name(ctl.type), "COMMIT", "named COMMIT");
    is_str(rn_records_control_name(99), "UNKNOWN", "unknown type named");
    r.key.len = 3;
    is(rn_records_control_parse(&r, &ctl), RN_ECORRUPT, "3-byte control key is corrupt");
    r.key.len = 4;
    r.value.len = 5;
    is(rn_records_control_parse(&r, &ctl), RN_ECORRUPT, "5-byte marker value is corrupt");
    rn_records_close(&it);
    rn_free(buf);
}

static int sticky_failures;

/* Iterate a hand-made section placed at the very end of an exact-size allocation, so any
 * read past the end trips ASan. Returns the first non-1 result of next. */
static int iterate_raw(const uint8_t *bytes, size_t len, int32_t count, int *nrec)
{
    uint8_t *copy = rn_xmalloc(len ? len : 1);
    memcpy(copy, bytes, len);
    rn_batch_header_t hdr;
    memset(&hdr, 0, sizeof(hdr));
    hdr.record_count = count;
    rn_records_iter_t it;
    rn_records_iter_init(&it, &hdr, copy, len);
    rn_record_t rec;
    int r;
    *nrec = 0;
    while ((r = rn_records_iter_next(&it, &rec)) == 1)
        (*nrec)++;
    sticky_failures += rn_records_iter_next(&it, &rec) != r;
    rn_free(copy);
    return r;
}

static void test_malformed(void)
{
    static const struct {
        const char *what;
        uint8_t bytes[24];
        size_t len;
        int32_t count;
        int want;
    } cases[] = {
        {"valid minimal record", {0x0c, 0, 0, 0, 0x01, 0x01, 0}, 7, 1, 0},
        {"length beyond section", {0x0e, 0, 0, 0, 0x01, 0x01, 0}, 7, 1, RN_ECORRUPT},
        {"length shorter than fields", {0x0a, 0, 0, 0, 0x01, 0x01, 0}, 7, 1, RN_ECORRUPT},
        {"negative length", {0x01, 0, 0, 0, 0x01, 0x01, 0}, 7, 1, RN_ECORRUPT},
        {"key length -2", {0x0c, 0, 0, 0, 0x03, 0x01, 0}, 7, 1, RN_ECORRUPT},
        {"key length past record", {0x0c, 0, 0, 0, 0x08, 0x01, 0}, 7, 1, RN_ECORRUPT},
        {"value length -2", {0x0c, 0, 0, 0, 0x01, 0x03, 0}, 7, 1, RN_ECORRUPT},
        {"negative header count", {0x0c, 0, 0, 0, 0x01, 0x01, 0x01}, 7, 1, RN_ECORRUPT},
        {"header count too large", {0x0c, 0, 0, 0, 0x01, 0x01, 0x7e}, 7, 1, RN_ECORRUPT},
        {"null header key", {0x10, 0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x01}, 9, 1, RN_ECORRUPT},
        {"valid header, null value", {0x12, 0, 0, 0, 0x01, 0x01, 0x02, 0x02, 'h', 0x01}, 10, 1, 0},
        {"header value past end",
         {0x12, 0, 0, 0, 0x01, 0x01, 0x02, 0x02, 'h', 0x04},
         10,
         1,
         RN_ECORRUPT},
        {"trailing byte inside record", {0x0e, 0, 0, 0, 0x01, 0x01, 0, 0}, 8, 1, RN_ECORRUPT},
        {"trailing bytes after count", {0x0c, 0, 0, 0, 0x01, 0x01, 0, 0x00}, 8, 1, RN_ECORRUPT},
        {"fewer records than count", {0x0c, 0, 0, 0, 0x01, 0x01, 0}, 7, 2, RN_ECORRUPT},
        {"negative count", {0}, 0, -1, RN_ECORRUPT},
        {"empty section, count 0", {0}, 0, 0, 0},
        {"overlong varint length", {0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 6, 1, RN_ECORRUPT},
        {"timestamp varlong cut", {0x06, 0, 0x80, 0x80, 0x80, 0x80, 0x80}, 7, 1, RN_ECORRUPT},
        {"empty record", {0x00}, 1, 1, RN_ECORRUPT},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int nrec;
        int r = iterate_raw(cases[i].bytes, cases[i].len, cases[i].count, &nrec);
        is(r, cases[i].want, "%s", cases[i].what);
    }

    /* Every truncation of a built batch's section, and every single-byte corruption, is
     * rejected or parsed within bounds. */
    rn_record_spec_t recs[4];
    char vals[4][32];
    fill_specs(recs, 4, vals);
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    uint8_t *buf;
    size_t len;
    rn_batch_build(&spec, recs, 4, &buf, &len);
    const uint8_t *section = buf + RN_BATCH_HEADER_SIZE;
    size_t slen = len - RN_BATCH_HEADER_SIZE;
    int bad = 0;
    for (size_t cut = 0; cut < slen; cut++) {
        int nrec;
        bad += iterate_raw(section, cut, 4, &nrec) != RN_ECORRUPT;
    }
    is(bad, 0, "all %zu truncations of the section are RN_ECORRUPT", slen);
    int crashes_avoided = 0;
    uint8_t *mut = rn_xmalloc(slen);
    for (size_t pos = 0; pos < slen; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(mut, section, slen);
            mut[pos] ^= (uint8_t)(1 << bit);
            int nrec;
            int r = iterate_raw(mut, slen, 4, &nrec);
            crashes_avoided += r == 0 || r == RN_ECORRUPT;
        }
    }
    is(crashes_avoided, (int)slen * 8, "all %zu bit flips end in 0 or RN_ECORRUPT", slen * 8);
    is(sticky_failures, 0, "the iterator's result is sticky after the end or an error");
    rn_free(mut);

    /* A compressed batch whose section is garbage. */
    memset(buf + RN_BATCH_HEADER_SIZE, 0x5a, slen);
    rn_store_be16(buf + RN_BATCH_OFF_ATTRIBUTES, RN_CODEC_LZ4);
    rn_records_iter_t it;
    is(rn_records_open(&it, buf, len, NULL, 4096), RN_ECORRUPT, "garbage lz4 section");
    rn_records_close(&it);
    rn_store_be16(buf + RN_BATCH_OFF_ATTRIBUTES, 7);
    is(rn_records_open(&it, buf, len, NULL, 4096), RN_EUNSUPPORTED, "codec 7");
    buf[RN_BATCH_OFF_MAGIC] = 1;
    is(rn_records_open(&it, buf, len, NULL, 4096), RN_EUNSUPPORTED, "magic 1");
    rn_free(buf);
}

int main(void)
{
    test_known_bytes();
    test_build_all_codecs();
    test_build_options();
    test_control();
    test_malformed();
    return done_testing();
}
