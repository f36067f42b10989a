/* The log cleaner: many updates to a few keys over many segments (every codec) leave exactly
 * the latest value per key at its original offset, the active segment untouched and valid
 * indexes, across passes and reopens; tombstones stay until their delete horizon and go
 * after it, with timestamps intact; idempotent producers keep their last batch (empty if
 * need be) with its sequence range; keyless records, control batches and batches that cannot
 * be decoded stay; a full offset map cleans in several passes; the dirty-ratio measure and
 * min.compaction.lag.ms. Crashes and concurrency are in test_cleaner_crash.c. */
#include "rn_cleaner.h"
#include "rn_log.h"
#include "unit/storage/cleaner_testutil.h"

#define DAY_MS (24LL * 3600 * 1000)

static uint32_t rng = 12345;

static uint32_t rnd(void)
{
    return tu_xorshift32(&rng);
}

/* Append `updates` records over nkeys keys in batches of 1..4 records. */
static void append_updates(rn_plog_t *log, ct_recs_t *model, int codec, int nkeys, int updates,
                           int64_t *ts)
{
    ct_batch_t b = CT_PLAIN;
    b.codec = codec;
    for (int done = 0; done < updates;) {
        int n = 1 + (int)(rnd() % 4);
        char kbuf[4][CT_KEYSZ], vbuf[4][CT_VALSZ];
        const char *keys[4], *values[4];
        for (int i = 0; i < n; i++) {
            snprintf(kbuf[i], sizeof(kbuf[i]), "key-%u", rnd() % (unsigned)nkeys);
            snprintf(vbuf[i], sizeof(vbuf[i]), "value-%d-%u", done + i, rnd() % 1000);
            keys[i] = kbuf[i];
            values[i] = vbuf[i];
        }
        if (ct_append(log, model, &b, n, keys, values, *ts, NULL) != 0) {
            diag("append failed");
            exit(2);
        }
        *ts += 10;
        done += n;
    }
}

static rn_segment_t *active_of(rn_plog_t *log)
{
    return rn_plog_segment_at(log, rn_plog_segment_count(log) - 1);
}

static uint8_t *seg_bytes(const rn_segment_t *seg)
{
    uint8_t *buf = rn_xmalloc(seg->size + 1);
    if (pread(seg->fd, buf, seg->size, 0) != (ssize_t)seg->size)
        memset(buf, 0xEE, seg->size);
    return buf;
}

static int codec_problems(const ct_recs_t *got, int codec)
{
    int bad = 0;
    for (size_t i = 0; i < got->n; i++)
        if (rn_batch_codec(&got->v[i].hdr) != codec)
            bad++;
    return bad;
}

static void test_updates(const char *root, int codec)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/upd-%s-0", root, rn_codec_name(codec));
    rn_plog_config_t pc;
    ct_config(&pc, 2048);
    rn_plog_t *log = ct_open(dir, &pc, 0, 0);
    ct_recs_t model = {0};
    int64_t ts = CT_NOW;
    append_updates(log, &model, codec, 6, 900, &ts);
    size_t nseg = rn_plog_segment_count(log);
    ok(nseg >= 6, "%s: the updates span %zu segments", rn_codec_name(codec), nseg);

    rn_segment_t *active = active_of(log);
    uint64_t active_size = active->size;
    uint8_t *active_before = seg_bytes(active);
    int64_t active_base = active->base_offset;

    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    rn_cleaner_stats_t st;
    is(rn_cleaner_clean(log, &cfg, 0, ts, &st), 0, "%s: pass 1", rn_codec_name(codec));
    is(st.end_offset, active_base, "%s: cleaned up to the active segment", rn_codec_name(codec));
    is(st.segments_read, (long long)nseg - 1, "%s: every sealed segment read",
       rn_codec_name(codec));
    ok(st.records_kept < st.records_read, "%s: %lld of %lld records kept", rn_codec_name(codec),
       (long long)st.records_kept, (long long)st.records_read);
    ok(st.bytes_written < st.bytes_read, "%s: %llu bytes -> %llu", rn_codec_name(codec),
       (unsigned long long)st.bytes_read, (unsigned long long)st.bytes_written);

    ct_recs_t got = {0};
    is(ct_read_all(log, &got), 0, "%s: the log reads back", rn_codec_name(codec));
    ct_cut_t cut = {active_base};
    is(ct_compare(&got, &model, ct_keep_latest, &cut), 0,
       "%s: exactly the latest value per key, at its original offset (plus the active segment)",
       rn_codec_name(codec));
    is(codec_problems(&got, codec), 0, "%s: every batch keeps the codec", rn_codec_name(codec));
    is(tu_check_log(log), 0, "%s: indexes agree with the cleaned segments", rn_codec_name(codec));
    uint8_t *active_after = seg_bytes(active);
    ok(active_of(log) == active && active->size == active_size &&
           memcmp(active_after, active_before, active_size) == 0,
       "%s: the active segment is untouched", rn_codec_name(codec));
    rn_free(active_after);
    is(ct_count_files(dir, ".cleaned") + ct_count_files(dir, ".swap") +
           ct_count_files(dir, ".deleted"),
       0, "%s: no .cleaned/.swap/.deleted file left", rn_codec_name(codec));
    ct_free(&got);

    /* More updates, then a second pass: the small cleaned segments merge into groups. */
    append_updates(log, &model, codec, 6, 600, &ts);
    int64_t end2 = active_of(log)->base_offset;
    size_t before = rn_plog_segment_count(log);
    is(rn_cleaner_clean(log, &cfg, st.end_offset, ts, &st), 0, "%s: pass 2", rn_codec_name(codec));
    is(st.end_offset, end2, "%s: pass 2 cleaned up to the new active segment",
       rn_codec_name(codec));
    ok(rn_plog_segment_count(log) < before / 2, "%s: %zu segments merged into %zu",
       rn_codec_name(codec), before, rn_plog_segment_count(log));
    is(ct_read_all(log, &got), 0, "%s: reads back after pass 2", rn_codec_name(codec));
    cut.end = end2;
    is(ct_compare(&got, &model, ct_keep_latest, &cut), 0, "%s: latest per key after pass 2",
       rn_codec_name(codec));
    is(tu_check_log(log), 0, "%s: indexes valid after pass 2", rn_codec_name(codec));
    ct_free(&got);

    /* A read at an offset compaction removed starts at the next batch holding a later one. */
    rn_plog_slice_t slice;
    int64_t hole = -1;
    for (size_t i = 0; i + 1 < model.n && model.v[i].offset < end2; i++)
        if (!ct_keep_latest(&model, i, &cut)) {
            hole = model.v[i].offset;
            break;
        }
    ok(hole >= 0 && rn_plog_read(log, hole, 100, -1, &slice) == 0 && slice.length > 0 &&
           slice.first_offset > hole - 64,
       "%s: a read at removed offset %lld serves the batch after it", rn_codec_name(codec),
       (long long)hole);
    rn_plog_slice_release(&slice);

    /* Reopen, cleanly and after a "crash": same content, indexes accepted or rebuilt. */
    for (int clean = 1; clean >= 0; clean--) {
        rn_plog_close(log);
        log = ct_open(dir, &pc, clean, 0);
        is(ct_read_all(log, &got), 0, "%s: reads back after a%s reopen", rn_codec_name(codec),
           clean ? " clean" : "n unclean");
        is(ct_compare(&got, &model, ct_keep_latest, &cut), 0, "%s: same content after a%s reopen",
           rn_codec_name(codec), clean ? " clean" : "n unclean");
        is(tu_check_log(log), 0, "%s: indexes valid after the reopen", rn_codec_name(codec));
        ct_free(&got);
    }
    /* Appends go on after compaction. */
    const char *k[] = {"key-0"}, *v[] = {"after"};
    is(ct_append(log, &model, &CT_PLAIN, 1, k, v, ts, NULL), 0, "%s: appends go on",
       rn_codec_name(codec));
    rn_free(active_before);
    rn_plog_close(log);
    ct_free(&model);
}

/* Roll by time: the next batch jumps past segment.ms. */
#define ROLL_MS 100000

static rn_plog_t *open_timed(const char *dir)
{
    rn_plog_config_t pc;
    ct_config(&pc, 1 << 20);
    pc.segment_ms = ROLL_MS;
    return ct_open(dir, &pc, 0, 0);
}

static void put1(rn_plog_t *log, ct_recs_t *model, const char *key, const char *value, int64_t ts)
{
    const char *k[] = {key}, *v[] = {value};
    if (ct_append(log, model, &CT_PLAIN, 1, k, v, ts, NULL) != 0) {
        diag("append failed");
        exit(2);
    }
}

static const ct_rec_t *find_key(const ct_recs_t *got, const char *key, int nth)
{
    for (size_t i = 0; i < got->n; i++)
        if (got->v[i].has_key && strcmp(got->v[i].key, key) == 0 && nth-- == 0)
            return &got->v[i];
    return NULL;
}

static int count_key(const ct_recs_t *got, const char *key)
{
    int n = 0;
    for (size_t i = 0; i < got->n; i++)
        n += got->v[i].has_key && strcmp(got->v[i].key, key) == 0;
    return n;
}

static void test_tombstones(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/tomb-0", root);
    rn_plog_t *log = open_timed(dir);
    ct_recs_t model = {0}, got = {0};
    int64_t t = CT_NOW - 10 * ROLL_MS;
    put1(log, &model, "a", "a1", t + 1);
    put1(log, &model, "b", "b1", t + 2);
    put1(log, &model, "f", NULL, t + 3); /* a tombstone superseded by a later value */
    put1(log, &model, "a", "a2", t + 4);
    put1(log, &model, "b", NULL, t + 5); /* b deleted */
    const char *k2[] = {"d", "e"}, *v2[] = {"d1", NULL};
    ct_append(log, &model, &CT_PLAIN, 2, k2, v2, t + 6, NULL); /* value and tombstone together */
    put1(log, &model, "f", "f2", t + 8);
    int64_t e_ts = t + 7;
    put1(log, &model, "z", "roll", t + 2 * ROLL_MS); /* rolls: the above is sealed */
    ok(rn_plog_segment_count(log) == 2, "two segments");

    const int64_t R = 5000, N = CT_NOW;
    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    cfg.delete_retention_ms = R;
    rn_cleaner_stats_t st;
    is(rn_cleaner_clean(log, &cfg, 0, N, &st), 0, "tombstones: pass 1");
    ct_read_all(log, &got);
    is(count_key(&got, "a"), 1, "older value of a removed");
    const ct_rec_t *b = find_key(&got, "b", 0), *e = find_key(&got, "e", 0);
    ok(b != NULL && !b->has_value, "b's tombstone kept before delete.retention.ms");
    ok(b && (b->hdr.attributes & RN_BATCH_ATTR_DELETE_HORIZON) && b->hdr.base_timestamp == N + R,
       "its batch got the delete horizon now + delete.retention.ms");
    ok(b && b->timestamp == t + 5, "the tombstone's timestamp is unchanged");
    ok(e && !e->has_value && find_key(&got, "d", 0) && find_key(&got, "d", 0)->timestamp == t + 6 &&
           e->timestamp == e_ts,
       "a batch with a value and a tombstone keeps both, timestamps re-based intact");
    is(count_key(&got, "f"), 1, "a tombstone superseded by a value goes at once");
    is(st.next_horizon_ms, N + R, "stats say when the horizon passes");
    is(st.tombstones_dropped, 0, "no tombstone dropped yet");
    ct_free(&got);

    is(rn_cleaner_clean(log, &cfg, st.end_offset, N + R - 1, &st), 0, "pass 2 before the horizon");
    ct_read_all(log, &got);
    ok(find_key(&got, "b", 0) && find_key(&got, "e", 0), "tombstones kept just before it");
    is(st.segments_written, 0, "nothing changed, nothing swapped");
    ct_free(&got);

    is(rn_cleaner_clean(log, &cfg, st.end_offset, N + R, &st), 0, "pass 3 at the horizon");
    ct_read_all(log, &got);
    ok(!find_key(&got, "b", 0) && !find_key(&got, "e", 0), "tombstones dropped at the horizon");
    is(st.tombstones_dropped, 2, "two tombstones dropped");
    ok(find_key(&got, "a", 0) && strcmp(find_key(&got, "a", 0)->value, "a2") == 0 &&
           find_key(&got, "d", 0) && find_key(&got, "z", 0),
       "values stay");
    is(st.next_horizon_ms, INT64_MAX, "no tombstone left");
    is(tu_check_log(log), 0, "indexes valid");
    ct_free(&got);
    rn_plog_close(log);
    ct_free(&model);
}

/* Walk batch headers. */
typedef struct hdrs {
    rn_batch_header_t v[256];
    int n;
} hdrs_t;

static int hdr_cb(void *arg, const rn_batch_header_t *hdr, int fd, uint64_t position)
{
    hdrs_t *h = arg;
    if (h->n < 256)
        h->v[h->n++] = *hdr;
    return 0;
}

static const rn_batch_header_t *hdr_at(const hdrs_t *h, int64_t base)
{
    for (int i = 0; i < h->n; i++)
        if (h->v[i].base_offset == base)
            return &h->v[i];
    return NULL;
}

static void test_producers(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/pid-0", root);
    rn_plog_t *log = open_timed(dir);
    ct_recs_t model = {0};
    int64_t t = CT_NOW - 10 * ROLL_MS, old = CT_NOW - 3 * DAY_MS;
    ct_batch_t p = {RN_CODEC_NONE, 77, 2, 0, 0};
    rn_plog_append_info_t b1, b2, b3, b4, q1, r1;
    const char *k12[] = {"k1", "k2"}, *va[] = {"a", "a"};
    ct_append(log, &model, &p, 2, k12, va, t, &b1);
    p.base_sequence = 2;
    const char *k1[] = {"k1"}, *vb[] = {"b"}, *vc[] = {"c"};
    ct_append(log, &model, &p, 1, k1, vb, t + 10, &b2);
    p.base_sequence = 3;
    ct_append(log, &model, &p, 1, k1, vc, t + 20, &b3);
    p.base_sequence = 4;
    const char *k2[] = {"k2"}, *vz[] = {"z"};
    ct_append(log, &model, &p, 1, k2, vz, t + 30, &b4); /* producer 77's last batch */
    ct_batch_t q = {RN_CODEC_NONE, 88, 0, 0, 0};
    const char *kq[] = {"q"}, *vq[] = {"q"};
    ct_append(log, &model, &q, 1, kq, vq, old, &q1); /* producer 88: expired */
    ct_batch_t r = {RN_CODEC_LZ4, 99, 1, 10, 0};
    const char *kr[] = {"r1", "r2", "r3"}, *vr[] = {"1", "1", "1"};
    ct_append(log, &model, &r, 3, kr, vr, t + 40, &r1);
    put1(log, &model, "k2", "final", t + 50); /* supersedes producer 77's last record */
    put1(log, &model, "q", "final", t + 60);
    put1(log, &model, "r2", "final", t + 70);
    put1(log, &model, "end", "x", t + 80);
    put1(log, &model, "roll", "x", t + 2 * ROLL_MS);

    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    rn_cleaner_stats_t st;
    is(rn_cleaner_clean(log, &cfg, 0, CT_NOW, &st), 0, "producers: pass");
    hdrs_t h = {.n = 0};
    rn_plog_foreach_batch(log, 0, -1, hdr_cb, &h);
    ok(!hdr_at(&h, b1.base_offset) && !hdr_at(&h, b2.base_offset),
       "emptied batches of producer 77 before its last are dropped");
    const rn_batch_header_t *h3 = hdr_at(&h, b3.base_offset), *h4 = hdr_at(&h, b4.base_offset);
    ok(h3 && h3->record_count == 1 && h3->base_sequence == 3, "a batch keeping its record stays");
    ok(h4 && h4->record_count == 0 && h4->producer_id == 77 && h4->producer_epoch == 2 &&
           h4->base_sequence == 4 && h4->last_offset_delta == 0 && h4->max_timestamp == t + 30 &&
           rn_batch_codec(h4) == RN_CODEC_NONE,
       "producer 77's last batch stays empty with its sequence and epoch");
    ok(!hdr_at(&h, q1.base_offset), "an expired producer's emptied last batch goes");
    const rn_batch_header_t *hr = hdr_at(&h, r1.base_offset);
    ok(hr && hr->record_count == 2 && hr->last_offset_delta == 2 && hr->base_sequence == 10 &&
           hr->producer_id == 99 && rn_batch_codec(hr) == RN_CODEC_LZ4,
       "a partly kept batch keeps lastOffsetDelta, sequence and codec");
    is(st.empty_batches, 1, "one empty batch kept");
    ct_recs_t got = {0};
    is(ct_read_all(log, &got), 0, "reads back (empty batches included)");
    ct_cut_t cut = {active_of(log)->base_offset};
    is(ct_compare(&got, &model, ct_keep_latest, &cut), 0, "records: the latest per key");
    is(tu_check_log(log), 0, "indexes valid");
    ct_free(&got);
    /* A reopen replays the empty batch like any other. */
    rn_plog_close(log);
    rn_plog_config_t pc;
    ct_config(&pc, 1 << 20);
    pc.segment_ms = ROLL_MS;
    log = ct_open(dir, &pc, 0, 0);
    h.n = 0;
    rn_plog_foreach_batch(log, 0, -1, hdr_cb, &h);
    ok(hdr_at(&h, b4.base_offset) != NULL, "the empty batch survives recovery");
    rn_plog_close(log);
    ct_free(&model);
}

static void test_misc(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/misc-0", root);
    rn_plog_t *log = open_timed(dir);
    ct_recs_t model = {0}, got = {0};
    int64_t t = CT_NOW - 10 * ROLL_MS;
    const char *nk[] = {NULL, NULL}, *nv[] = {"keyless-1", "keyless-2"};
    ct_append(log, &model, &CT_PLAIN, 2, nk, nv, t, NULL);
    put1(log, &model, "a", "1", t + 1);
    /* A commit marker: control batches stay. */
    uint8_t ckey[4], cval[6];
    rn_records_control_encode(ckey, cval, RN_CONTROL_COMMIT, 0);
    rn_record_spec_t crec = {ckey, 4, cval, 6, NULL, 0, t + 2};
    rn_batch_spec_t cs = RN_BATCH_SPEC_INIT;
    cs.attributes = RN_BATCH_ATTR_CONTROL | RN_BATCH_ATTR_TRANSACTIONAL;
    cs.producer_id = 5;
    cs.producer_epoch = 0;
    uint8_t *cb;
    size_t clen;
    rn_batch_build(&cs, &crec, 1, &cb, &clen);
    rn_plog_append_info_t cinfo;
    is(rn_plog_append(log, cb, clen, 3, t + 2, &cinfo), 0, "control batch appended");
    rn_free(cb);
    /* A zstd batch whose records will not be decoded (max_batch_bytes below their size). */
    char big[CT_VALSZ - 1];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    ct_batch_t z = CT_PLAIN;
    z.codec = RN_CODEC_ZSTD;
    const char *zk[] = {"a", "a", "a"}, *zv[] = {big, big, big};
    rn_plog_append_info_t zinfo;
    ct_append(log, &model, &z, 3, zk, zv, t + 3, &zinfo);
    put1(log, &model, "a", "2", t + 4);
    put1(log, &model, "roll", "x", t + 2 * ROLL_MS);

    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    cfg.max_batch_bytes = 64;
    rn_cleaner_stats_t st;
    is(rn_cleaner_clean(log, &cfg, 0, CT_NOW, &st), 0, "misc: pass");
    is(st.undecoded_batches, 1, "the batch over max_batch_bytes is kept undecoded");
    hdrs_t h = {.n = 0};
    rn_plog_foreach_batch(log, 0, -1, hdr_cb, &h);
    const rn_batch_header_t *ch = hdr_at(&h, cinfo.base_offset),
                            *zh = hdr_at(&h, zinfo.base_offset);
    ok(ch && rn_batch_is_control(ch) && ch->record_count == 1, "the control batch stays");
    ok(zh && zh->record_count == 3, "the undecodable batch stays whole");
    ct_read_all(log, &got);
    is(count_key(&got, "a"), 4, "a: the undecodable batch's 3 records and the latest");
    int keyless = 0;
    for (size_t i = 0; i < got.n; i++)
        keyless += !got.v[i].has_key && got.v[i].hdr.producer_id != 5;
    is(keyless, 2, "keyless records are kept");
    ct_free(&got);
    rn_plog_close(log);
    ct_free(&model);
}

static void test_map_full(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/full-0", root);
    rn_plog_config_t pc;
    ct_config(&pc, 8192);
    rn_plog_t *log = ct_open(dir, &pc, 0, 0);
    ct_recs_t model = {0}, got = {0};
    int64_t ts = CT_NOW;
    append_updates(log, &model, RN_CODEC_NONE, 1500, 4000, &ts);
    int64_t end = active_of(log)->base_offset;
    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    cfg.dedupe_buffer_bytes = 1; /* the smallest table: 921 keys */
    rn_cleaner_stats_t st;
    int64_t cp = 0;
    int passes = 0, failed = 0;
    do {
        failed += rn_cleaner_clean(log, &cfg, cp, ts, &st) != 0;
        ok(st.end_offset > cp, "pass %d: %lld -> %lld (%lld keys)", passes + 1, (long long)cp,
           (long long)st.end_offset, (long long)st.map_entries);
        if (st.end_offset <= cp)
            break;
        cp = st.end_offset;
        passes++;
    } while (cp < end && passes < 20);
    is(failed, 0, "every pass succeeds");
    ok(passes > 1, "a full offset map needs %d passes", passes);
    is(ct_read_all(log, &got), 0, "reads back");
    ct_cut_t cut = {end};
    is(ct_compare(&got, &model, ct_keep_latest, &cut), 0, "latest per key after all passes");
    is(tu_check_log(log), 0, "indexes valid");
    ct_free(&got);
    rn_plog_close(log);
    ct_free(&model);
}

static void test_measure_and_lag(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/measure-0", root);
    rn_plog_config_t pc;
    ct_config(&pc, 2048);
    rn_plog_t *log = ct_open(dir, &pc, 0, 0);
    ct_recs_t model = {0};
    int64_t ts = CT_NOW;
    append_updates(log, &model, RN_CODEC_NONE, 4, 300, &ts);
    rn_cleaner_config_t cfg;
    rn_cleaner_config_default(&cfg);
    rn_cleaner_dirt_t d;
    rn_cleaner_measure(log, &cfg, 0, ts, &d);
    ok(d.first_dirty == 0 && d.first_uncleanable == active_of(log)->base_offset &&
           d.clean_bytes == 0 && d.dirty_bytes > 0 && d.dirty_ratio == 1.0 &&
           d.first_dirty_timestamp >= CT_NOW && d.first_dirty_timestamp < CT_NOW + 4,
       "a never-cleaned log is all dirty");
    rn_cleaner_config_t lag = cfg;
    lag.min_compaction_lag_ms = 10 * DAY_MS;
    rn_cleaner_stats_t st;
    is(rn_cleaner_clean(log, &lag, 0, ts, &st), 0, "min.compaction.lag.ms pass");
    ok(st.end_offset == 0 && st.segments_read == 0, "nothing younger than the lag is cleaned");
    is(rn_cleaner_clean(log, &cfg, 0, ts, &st), 0, "pass");
    rn_cleaner_measure(log, &cfg, st.end_offset, ts, &d);
    ok(d.dirty_bytes == 0 && d.clean_bytes > 0 && d.dirty_ratio == 0.0,
       "after a pass the log is clean (%llu clean bytes)", (unsigned long long)d.clean_bytes);
    rn_cleaner_measure(log, &cfg, rn_plog_log_end_offset(log) + 5, ts, &d);
    is(d.first_dirty, 0, "a checkpoint past the log end restarts at the log start");
    cfg.limit_offset = 7;
    rn_cleaner_measure(log, &cfg, 0, ts, &d);
    is(d.first_uncleanable, 7, "limit_offset bounds the dirty range");
    rn_plog_close(log);
    ct_free(&model);
}

int main(void)
{
    rn_log_set_level(RN_LOG_WARN);
    char root[256];
    tu_tmpdir(root, "cleaner");
    for (int codec = RN_CODEC_NONE; codec <= RN_CODEC_ZSTD; codec++)
        test_updates(root, codec);
    test_tombstones(root);
    test_producers(root);
    test_misc(root);
    test_map_full(root);
    test_measure_and_lag(root);
    tu_rmtree(root);
    return done_testing();
}
