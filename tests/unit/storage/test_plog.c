/* The partition log: append (offsets, epochs, LogAppendTime, validation), reads for Fetch
 * (whole batches, KIP-74, high watermark, ranges), rolls (size, time, full index, offset
 * overflow), follower appends, truncation, DeleteRecords, retention, timestamp lookups,
 * reopen clean/unclean, flush and the flush thread, leftover files and swaps, and the
 * descriptors a log holds open (one per segment, its .log). */
#include "rn_err.h"
#include "rn_flusher.h"
#include "rn_log.h"
#include "rn_plog.h"
#include "rn_records.h"
#include "tap.h"
#include "unit/storage/plog_testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NOW     1700000000000LL
#define MAXKEPT 4096

/* What was appended, with offsets as assigned: for comparing reads byte for byte. */
typedef struct kept {
    int64_t base, last, max_ts;
    uint8_t *bytes;
    size_t len;
} kept_t;

static kept_t kept[MAXKEPT];
static int nkept;

static void kept_reset(void)
{
    for (int i = 0; i < nkept; i++)
        rn_free(kept[i].bytes);
    nkept = 0;
}

/* Append n batches, each alone: `count` records of vlen bytes, batch i's records timestamped
 * ts0 + i * ts_step (+ j). Returns the number of failed appends. */
static int append_batches(rn_plog_t *log, int n, int count, size_t vlen, int64_t ts0,
                          int64_t ts_step)
{
    int failed = 0;
    for (int i = 0; i < n; i++) {
        tu_buf_t b = {0};
        tu_add_batch(&b, count, vlen, ts0 + i * ts_step, 1, (uint32_t)(nkept * 7 + 3));
        rn_plog_append_info_t info;
        if (rn_plog_append(log, b.p, b.len, 5, NOW, &info) != 0) {
            failed++;
            tu_free(&b);
            continue;
        }
        kept[nkept++] =
            (kept_t){info.base_offset, info.last_offset, info.max_timestamp, b.p, b.len};
    }
    return failed;
}

static int kept_find(int64_t offset)
{
    for (int i = 0; i < nkept; i++)
        if (kept[i].last >= offset)
            return i;
    return -1;
}

/* The slice must be batches kept[first..] exactly; returns how many batches it holds or -1. */
static int slice_matches(const rn_plog_slice_t *slice, int first)
{
    uint8_t *buf = tu_read_slice(slice);
    size_t pos = 0;
    int n = 0;
    while (pos < slice->length && first + n < nkept) {
        const kept_t *k = &kept[first + n];
        if (pos + k->len > slice->length || memcmp(buf + pos, k->bytes, k->len) != 0) {
            rn_free(buf);
            return -1;
        }
        pos += k->len;
        n++;
    }
    rn_free(buf);
    return pos == slice->length ? n : -1;
}

static rn_plog_t *open_log(const char *dir, const rn_plog_config_t *cfg, int clean, int64_t rp)
{
    rn_plog_open_opts_t opts;
    tu_default_opts(&opts, clean);
    opts.recovery_point = rp;
    rn_plog_t *log = NULL;
    if (rn_plog_open(dir, cfg, &opts, &log) != 0)
        return NULL;
    return log;
}

static void test_append_basics(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/basics-0", root);
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    rn_plog_t *log = open_log(dir, &cfg, 0, 0);
    ok(log != NULL, "open creates the directory");
    is_str(rn_plog_name(log), "basics-0", "name");
    ok(rn_plog_log_start_offset(log) == 0 && rn_plog_log_end_offset(log) == 0, "empty: 0..0");
    rn_plog_slice_t slice;
    ok(rn_plog_read(log, 0, 1000, -1, &slice) == 0 && slice.length == 0, "read at the end: empty");
    is(rn_plog_read(log, 1, 1000, -1, &slice), RN_ERANGE, "read past the end");

    tu_buf_t b = {0};
    tu_add_batch(&b, 3, 10, NOW - 5, 1, 1);
    tu_add_batch(&b, 2, 10, NOW - 3, 1, 2);
    tu_add_batch(&b, 4, 10, NOW - 1, 1, 3);
    rn_plog_append_info_t info;
    is(rn_plog_append(log, b.p, b.len, 7, NOW, &info), 0, "append three batches at once");
    ok(info.base_offset == 0 && info.last_offset == 8 && info.batch_count == 3 &&
           info.record_count == 9 && info.bytes == b.len,
       "info: offsets 0..8, 3 batches, 9 records");
    ok(info.max_timestamp == NOW + 2 && info.offset_of_max_timestamp == 8 &&
           info.log_append_time == -1,
       "info: max timestamp and CreateTime");
    rn_batch_header_t hdr;
    rn_batch_header_parse(b.p, b.len, &hdr);
    size_t second = rn_batch_total_size(&hdr);
    ok(rn_batch_validate(b.p + second, b.len - second, &hdr) == 0 && hdr.base_offset == 3 &&
           hdr.partition_leader_epoch == 7,
       "offsets and epoch assigned in place, CRC still valid");
    is(rn_plog_log_end_offset(log), 9, "log end");
    tu_free(&b);

    /* A bad batch anywhere rejects the whole append and leaves the buffer alone. */
    tu_add_batch(&b, 1, 10, NOW, 1, 4);
    size_t mid = tu_add_batch(&b, 1, 10, NOW, 1, 5);
    b.p[mid + 70] ^= 1;
    is(rn_plog_append(log, b.p, b.len, 7, NOW, &info), RN_ECORRUPT, "bad CRC in the 2nd batch");
    is(rn_load_be64(b.p), 0, "first batch untouched");
    is(rn_plog_log_end_offset(log), 9, "log end unchanged");
    b.p[mid + 70] ^= 1;
    is(rn_plog_append(log, b.p, b.len - 1, 7, NOW, &info), RN_ETRUNC, "a truncated buffer");
    b.p[RN_BATCH_OFF_MAGIC] = 1;
    is(rn_plog_append(log, b.p, b.len, 7, NOW, &info), RN_EUNSUPPORTED, "legacy magic");
    is(rn_plog_append(log, b.p, 0, 7, NOW, &info), RN_ETRUNC, "empty append");
    tu_free(&b);

    /* rn_plog_append_validated trusts the caller's CRC check but still checks the framing. */
    tu_add_batch(&b, 2, 10, NOW, 1, 6);
    tu_add_batch(&b, 1, 10, NOW, 1, 7);
    is(rn_plog_append_validated(log, b.p, b.len - 1, 7, NOW, &info), RN_ETRUNC,
       "validated append: a truncated buffer is still refused");
    b.p[RN_BATCH_OFF_MAGIC] = 1;
    is(rn_plog_append_validated(log, b.p, b.len, 7, NOW, &info), RN_EUNSUPPORTED,
       "validated append: legacy magic is still refused");
    b.p[RN_BATCH_OFF_MAGIC] = 2;
    is(rn_plog_log_end_offset(log), 9, "log end unchanged by refused appends");
    is(rn_plog_append_validated(log, b.p, b.len, 7, NOW, &info), 0, "validated append");
    ok(info.base_offset == 9 && info.last_offset == 11 && info.batch_count == 2,
       "validated append: offsets 9..11 in 2 batches");
    ok(rn_batch_validate(b.p, b.len, &hdr) == 0 && hdr.base_offset == 9, "CRC still valid");
    tu_free(&b);
    rn_plog_close(log);

    /* segment.bytes bounds one append; LogAppendTime. */
    cfg.segment_bytes = 1000;
    cfg.log_append_time = 1;
    snprintf(dir, sizeof(dir), "%s/lat-0", root);
    log = open_log(dir, &cfg, 0, 0);
    tu_add_batch(&b, 10, 200, 5, 1, 1);
    is(rn_plog_append(log, b.p, b.len, 1, NOW, &info), RN_ETOOBIG, "append over segment.bytes");
    tu_free(&b);
    tu_add_batch(&b, 2, 10, 5, 1, 1);
    is(rn_plog_append(log, b.p, b.len, 1, NOW, &info), 0, "append under LogAppendTime");
    ok(info.log_append_time == NOW && info.max_timestamp == NOW, "log append time reported");
    ok(rn_batch_validate(b.p, b.len, &hdr) == 0 && hdr.max_timestamp == NOW &&
           (hdr.attributes & RN_BATCH_ATTR_LOG_APPEND_TIME),
       "batch stamped, CRC recomputed");
    rn_segment_ts_hit_t hit;
    ok(rn_plog_offset_for_timestamp(log, 6, &hit) == 0 && hit.offset == 0 && hit.timestamp == NOW,
       "timestamp lookup sees the append time");
    tu_free(&b);
    rn_plog_close(log);

    /* Timestamp lookups decompress: an lz4 batch with records at 100, 200, 300, 400. */
    rn_plog_config_default(&cfg);
    snprintf(dir, sizeof(dir), "%s/lz4-0", root);
    log = open_log(dir, &cfg, 0, 0);
    rn_record_spec_t recs[4];
    memset(recs, 0, sizeof(recs));
    for (int i = 0; i < 4; i++) {
        recs[i].value = "v";
        recs[i].value_len = 1;
        recs[i].timestamp = 100 * (i + 1);
    }
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    spec.codec = RN_CODEC_LZ4;
    uint8_t *built;
    size_t built_len;
    is(rn_batch_build(&spec, recs, 4, &built, &built_len), 0, "build an lz4 batch");
    is(rn_plog_append(log, built, built_len, 2, NOW, &info), 0, "append it");
    ok(rn_plog_offset_for_timestamp(log, 250, &hit) == 0 && hit.offset == 2 &&
           hit.timestamp == 300 && hit.leader_epoch == 2,
       "timestamp 250 -> offset 2 inside the compressed batch (%" PRId64 ")", hit.offset);
    ok(rn_plog_max_timestamp(log, &hit) == 0 && hit.offset == 3 && hit.timestamp == 400,
       "max timestamp -> its record");
    rn_free(built);
    char err[128];
    rn_plog_config_t bad = cfg;
    bad.segment_bytes = 10;
    ok(rn_plog_config_validate(&bad, err, sizeof(err)) == RN_EINVAL && strstr(err, "segment.bytes"),
       "validation names the setting: %s", err);
    is(rn_plog_set_config(log, &bad), RN_EINVAL, "set_config refuses it");
    rn_plog_close(log);
}

struct walk {
    int n;
    int64_t next;
    int bad;
};

static int walk_cb(void *arg, const rn_batch_header_t *h, int fd, uint64_t position)
{
    struct walk *w = arg;
    if (h->base_offset > w->next || rn_batch_last_offset(h) < w->next)
        w->bad++;
    w->next = rn_batch_last_offset(h) + 1;
    w->n++;
    return 0;
}

static void test_reads_and_rolls(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/reads-0", root);
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 256;
    rn_plog_t *log = open_log(dir, &cfg, 0, 0);
    kept_reset();
    is(append_batches(log, 120, 3, 60, 1000, 100), 0, "120 appends");
    int64_t end = kept[nkept - 1].last + 1;
    is(rn_plog_log_end_offset(log), end, "log end");
    size_t nseg = rn_plog_segment_count(log);
    ok(nseg >= 8, "rolled by size into %zu segments", nseg);
    int too_big = 0;
    for (size_t i = 0; i < nseg; i++)
        too_big += rn_plog_segment_at(log, i)->size > 4096;
    is(too_big, 0, "no segment over segment.bytes");
    is(tu_check_log(log), 0, "indexes agree with the log");

    int bad = 0;
    for (int64_t off = 0; off < end; off++) {
        rn_plog_slice_t slice;
        int first = kept_find(off);
        if (rn_plog_read(log, off, 1, -1, &slice) != 0 || slice_matches(&slice, first) != 1 ||
            slice.first_offset != kept[first].base)
            bad++;
        rn_plog_slice_release(&slice);
    }
    is(bad, 0, "every offset: max_bytes 1 returns its whole batch (KIP-74)");
    rn_plog_slice_t slice;
    is(rn_plog_read(log, 0, 1000, -1, &slice), 0, "read 1000 bytes");
    int n = slice_matches(&slice, 0);
    ok(n > 1 && slice.length <= 1000 && slice.length + kept[n].len > 1000,
       "as many whole batches as fit (%d, %" PRIu64 " bytes)", n, slice.length);
    rn_plog_slice_release(&slice);
    is(rn_plog_read(log, 0, 1 << 30, -1, &slice), 0, "read without a size limit");
    ok(slice.length == rn_plog_segment_at(log, 0)->size, "stops at the segment's end");
    rn_plog_slice_release(&slice);
    is(rn_plog_read(log, 4, 1 << 20, 10, &slice), 0, "read below a high watermark of 10");
    n = slice_matches(&slice, 1);
    ok(n == 2 && kept[2].last < 10, "only batches wholly below it (%d)", n);
    rn_plog_slice_release(&slice);
    ok(rn_plog_read(log, 4, 1 << 20, 5, &slice) == 0 && slice.length == 0,
       "a first batch crossing the watermark: nothing");
    int64_t seg1 = rn_plog_segment_at(log, 1)->base_offset;
    ok(rn_plog_read(log, seg1, 1 << 20, -1, &slice) == 0 && slice.first_offset == seg1 &&
           slice.position == 0,
       "read at a segment's base starts at its position 0");
    rn_plog_slice_release(&slice);
    is(rn_plog_read(log, end, 100, -1, &slice), 0, "read at the log end");
    is(slice.length, 0, "empty");
    is(rn_plog_read(log, end + 1, 100, -1, &slice), RN_ERANGE, "past the end: out of range");

    /* Timestamps: batch i has records at 1000 + 100 i + j. */
    rn_segment_ts_hit_t hit;
    ok(rn_plog_offset_for_timestamp(log, 1000 + 100 * 57 + 1, &hit) == 0 &&
           hit.offset == kept[57].base + 1 && hit.timestamp == 1000 + 100 * 57 + 1,
       "offset for timestamp across segments");
    ok(rn_plog_offset_for_timestamp(log, 0, &hit) == 0 && hit.offset == 0, "early timestamp");
    is(rn_plog_offset_for_timestamp(log, 1000000, &hit), RN_ENOTFOUND, "late timestamp");
    ok(rn_plog_max_timestamp(log, &hit) == 0 && hit.timestamp == 1000 + 100 * 119 + 2 &&
           hit.offset == end - 1,
       "max timestamp");

    /* foreach_batch walks headers in order. */
    struct walk w = {0, 30, 0};
    is(rn_plog_foreach_batch(log, 30, 90, walk_cb, &w), 0, "foreach 30..90");
    ok(w.bad == 0 && w.n == 20, "20 batches in order (%d)", w.n);

    /* Reopen clean: same state, no rescan. */
    rn_plog_close(log);
    log = open_log(dir, &cfg, 1, 0);
    ok(log && rn_plog_log_end_offset(log) == end && rn_plog_segment_count(log) == nseg,
       "reopen clean");
    is(rn_plog_recovery_point(log), end, "clean: recovery point = log end");
    is(tu_check_log(log), 0, "indexes agree");
    ok(rn_plog_read(log, 77, 1, -1, &slice) == 0 && slice_matches(&slice, kept_find(77)) == 1,
       "reads after reopen");
    rn_plog_slice_release(&slice);
    rn_plog_close(log);
    log = open_log(dir, &cfg, 0, seg1);
    ok(log && rn_plog_log_end_offset(log) == end && rn_plog_segment_count(log) == nseg,
       "reopen unclean from segment 1: nothing lost");
    is(rn_plog_recovery_point(log), seg1, "recovery point kept");
    is(tu_check_log(log), 0, "indexes agree");
    is(rn_plog_flush(log), 0, "flush");
    is(rn_plog_recovery_point(log), end, "flush advances the recovery point");
    rn_plog_close(log);
    kept_reset();
}

static void test_roll_rules(const char *root)
{
    char dir[512];
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    kept_reset();

    /* segment.ms counts from the first batch's timestamp. */
    cfg.segment_ms = 1000;
    snprintf(dir, sizeof(dir), "%s/ms-0", root);
    rn_plog_t *log = open_log(dir, &cfg, 0, 0);
    append_batches(log, 3, 1, 10, 0, 400);
    is(rn_plog_segment_count(log), 1, "within segment.ms: one segment");
    append_batches(log, 1, 1, 10, 1500, 0);
    is(rn_plog_segment_count(log), 2, "a batch 1500 ms after the first rolls");
    is(rn_plog_segment_at(log, 1)->base_offset, 3, "new segment at the next offset");
    rn_plog_close(log);

    /* A full index rolls (index every batch: interval 0; 48-byte indexes). */
    rn_plog_config_default(&cfg);
    cfg.segment_index_bytes = 48;
    cfg.index_interval_bytes = 0;
    snprintf(dir, sizeof(dir), "%s/idx-0", root);
    log = open_log(dir, &cfg, 0, 0);
    append_batches(log, 20, 1, 10, 0, 1);
    ok(rn_plog_segment_count(log) >= 5, "full indexes roll (%zu segments)",
       rn_plog_segment_count(log));
    is(tu_check_log(log), 0, "indexes agree");
    rn_plog_close(log);

    /* Follower appends: offsets kept, gaps allowed, relative overflow rolls. */
    rn_plog_config_default(&cfg);
    snprintf(dir, sizeof(dir), "%s/follower-0", root);
    log = open_log(dir, &cfg, 0, 0);
    tu_buf_t b = {0};
    tu_add_batch(&b, 2, 10, 5, 1, 1);
    rn_batch_set_base_offset(b.p, 10);
    rn_batch_set_leader_epoch(b.p, 3);
    rn_plog_append_info_t info;
    is(rn_plog_append_follower(log, b.p, b.len, NOW, &info), 0, "follower append at 10");
    ok(info.base_offset == 10 && rn_plog_log_end_offset(log) == 12, "offsets kept");
    is(rn_plog_append_follower(log, b.p, b.len, NOW, &info), RN_EINVAL, "same offsets again");
    int64_t far = 10 + (int64_t)INT32_MAX + 5;
    rn_batch_set_base_offset(b.p, far);
    is(rn_plog_append_follower(log, b.p, b.len, NOW, &info), 0, "append past 2^31 from the base");
    ok(rn_plog_segment_count(log) == 2 && rn_plog_segment_at(log, 1)->base_offset == far,
       "relative offset overflow rolls at the batch's offset");
    rn_plog_slice_t slice;
    ok(rn_plog_read(log, 13, 100, -1, &slice) == 0 && slice.first_offset == far,
       "reading inside the gap gives the next batch");
    rn_plog_slice_release(&slice);
    is(tu_check_log(log), 0, "indexes agree");
    tu_free(&b);
    rn_plog_close(log);
}

static void test_truncate_delete_retain(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/trim-0", root);
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    cfg.segment_bytes = 2048;
    cfg.index_interval_bytes = 100;
    rn_plog_t *log = open_log(dir, &cfg, 0, 0);
    kept_reset();
    append_batches(log, 100, 2, 50, NOW - 100000, 1000);
    ok(rn_plog_segment_count(log) >= 8, "several segments");
    int64_t end = rn_plog_log_end_offset(log);
    rn_plog_flush(log);

    /* Truncate into an older segment: later segments go, the batch straddling goes whole. */
    rn_segment_t *s3 = rn_plog_segment_at(log, 3);
    int64_t target = s3->base_offset + 3; /* inside the segment's 2nd batch */
    rn_plog_slice_t sending;
    ok(rn_plog_read(log, s3->base_offset + 2, 100, -1, &sending) == 0 && sending.seg == s3,
       "a Fetch holds a slice of segment 3");
    ok(rn_plog_truncate_busy(log, target), "truncating into it is busy while the slice is held");
    ok(!rn_plog_truncate_busy(log, rn_plog_segment_at(log, 5)->base_offset),
       "dropping later segments whole is not");
    rn_plog_slice_release(&sending);
    ok(!rn_plog_truncate_busy(log, target), "released: not busy");
    is(rn_plog_truncate_to(log, target), 0, "truncate into segment 3");
    is(rn_plog_segment_count(log), 4, "segments after it deleted");
    is(rn_plog_log_end_offset(log), s3->base_offset + 2, "log end at the straddling batch's base");
    is(rn_plog_recovery_point(log), s3->base_offset + 2, "recovery point lowered");
    is(tu_check_log(log), 0, "indexes agree");
    rn_plog_slice_t slice;
    is(rn_plog_read(log, target, 100, -1, &slice), RN_ERANGE, "truncated offsets are gone");
    rn_plog_append_info_t info;
    tu_buf_t b = {0};
    tu_add_batch(&b, 1, 10, NOW, 1, 1);
    ok(rn_plog_append(log, b.p, b.len, 9, NOW, &info) == 0 &&
           info.base_offset == s3->base_offset + 2,
       "appends continue at the new end");
    tu_free(&b);
    is(rn_plog_truncate_to(log, end + 100), 0, "truncating past the end is a no-op");

    /* DeleteRecords. */
    int64_t start;
    int64_t mid = rn_plog_segment_at(log, 2)->base_offset + 1;
    is(rn_plog_delete_records(log, mid, &start), 0, "delete records before a mid-segment offset");
    is(start, mid, "log start moved");
    is(rn_plog_segment_count(log), 2, "whole segments below it deleted");
    is(rn_plog_read(log, mid - 1, 100, -1, &slice), RN_ERANGE, "below the log start: out of range");
    ok(rn_plog_read(log, mid, 100, -1, &slice) == 0 && slice.length > 0, "the log start reads");
    rn_plog_slice_release(&slice);
    is(rn_plog_delete_records(log, 1, &start), 0, "a lower offset changes nothing");
    is(start, mid, "same start");
    is(rn_plog_delete_records(log, rn_plog_log_end_offset(log) + 1, &start), RN_ERANGE,
       "past the log end");
    rn_plog_close(log);

    /* Reopen with the checkpointed log start. */
    rn_plog_open_opts_t opts;
    tu_default_opts(&opts, 1);
    opts.log_start_offset = mid;
    is(rn_plog_open(dir, &cfg, &opts, &log), 0, "reopen with log start");
    is(rn_plog_log_start_offset(log), mid, "log start restored");

    /* Retention by size: never the active segment; log start follows. */
    append_batches(log, 100, 2, 50, NOW - 100000, 1000);
    rn_plog_slice_t held;
    is(rn_plog_read(log, rn_plog_log_start_offset(log), 500, -1, &held), 0, "hold a slice");
    rn_plog_config_t c2 = cfg;
    c2.retention_bytes = 5000;
    rn_plog_set_config(log, &c2);
    int deleted;
    is(rn_plog_retain(log, NOW, &deleted), 0, "retain by size");
    uint64_t size = rn_plog_size(log);
    ok(deleted > 0 && size - rn_plog_segment_at(log, 0)->size < 5000 && size >= 5000,
       "deleted %d segments, %" PRIu64 " bytes left", deleted, size);
    is(rn_plog_log_start_offset(log), rn_plog_segment_at(log, 0)->base_offset, "log start moved");
    uint8_t *hb = tu_read_slice(&held);
    ok(held.length > 0 && rn_batch_validate(hb, held.length, &(rn_batch_header_t){0}) == 0,
       "held slice is still readable after its segment was deleted");
    rn_free(hb);
    uint8_t byte;
    ok(pread(held.fd, &byte, 1, (off_t)held.position) == 1, "its fd reads after deletion");
    rn_plog_slice_release(&held);
    c2.retention_bytes = 0;
    rn_plog_set_config(log, &c2);
    rn_plog_retain(log, NOW, &deleted);
    is(rn_plog_segment_count(log), 1, "retention.bytes 0 keeps the active segment");

    /* Truncate fully (follower behind the leader's log start). */
    is(rn_plog_truncate_fully(log, 100000), 0, "truncate fully");
    ok(rn_plog_log_start_offset(log) == 100000 && rn_plog_log_end_offset(log) == 100000 &&
           rn_plog_segment_count(log) == 1,
       "restarted at 100000");
    tu_add_batch(&b, 1, 10, NOW, 1, 1);
    ok(rn_plog_append(log, b.p, b.len, 9, NOW, &info) == 0 && info.base_offset == 100000,
       "append at the new start");
    tu_free(&b);
    rn_plog_close(log);

    /* Retention by time: segments whose largest timestamp is older than retention.ms. */
    snprintf(dir, sizeof(dir), "%s/time-0", root);
    log = open_log(dir, &cfg, 0, 0);
    append_batches(log, 60, 2, 50, NOW - 100000, 1000); /* NOW-100 s .. NOW-41 s */
    rn_plog_config_t c3 = cfg;
    c3.retention_ms = -1;
    rn_plog_set_config(log, &c3);
    size_t nseg3 = rn_plog_segment_count(log);
    rn_plog_retain(log, NOW, &deleted);
    is(deleted, 0, "retention.ms -1 keeps everything");
    int expired = 0;
    while (NOW - rn_segment_largest_timestamp(rn_plog_segment_at(log, (size_t)expired)) > 70000)
        expired++;
    c3.retention_ms = 70000;
    rn_plog_set_config(log, &c3);
    rn_plog_retain(log, NOW, &deleted);
    ok(deleted > 0 && (size_t)deleted < nseg3 && deleted == expired,
       "retention.ms deletes exactly the expired segments (%d of %zu)", deleted, nseg3);
    is(rn_plog_log_start_offset(log), rn_plog_segment_at(log, 0)->base_offset, "log start moved");
    c3.retention_ms = 0;
    rn_plog_set_config(log, &c3);
    rn_plog_retain(log, NOW, &deleted);
    is(rn_plog_segment_count(log), 1, "retention.ms 0 keeps the active segment");
    is(tu_check_log(log), 0, "indexes agree");
    rn_plog_close(log);
    kept_reset();
}

static void wait_for(rn_plog_t *log, int64_t rp, int ms)
{
    for (int i = 0; i < ms && rn_plog_recovery_point(log) < rp; i++)
        usleep(1000);
}

static void test_flusher(const char *root)
{
    rn_flusher_t *fl;
    is(rn_flusher_start(&fl), 0, "start the flush thread");
    char dir[512];
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    cfg.flush_messages = 5;
    snprintf(dir, sizeof(dir), "%s/flushmsg-0", root);
    rn_plog_t *log = open_log(dir, &cfg, 0, 0);
    rn_plog_set_flusher(log, fl);
    kept_reset();
    append_batches(log, 4, 1, 10, 0, 1);
    usleep(20000);
    is(rn_plog_recovery_point(log), 0, "under flush.messages: no flush");
    append_batches(log, 1, 1, 10, 0, 1);
    wait_for(log, 5, 3000);
    is(rn_plog_recovery_point(log), 5, "flush.messages reached: flushed in the background");
    rn_plog_close(log);

    rn_plog_config_default(&cfg);
    cfg.flush_ms = 30;
    snprintf(dir, sizeof(dir), "%s/flushms-0", root);
    log = open_log(dir, &cfg, 0, 0);
    rn_plog_set_flusher(log, fl);
    append_batches(log, 3, 1, 10, 0, 1);
    wait_for(log, 3, 3000);
    is(rn_plog_recovery_point(log), 3, "flush.ms: flushed in the background");
    append_batches(log, 2, 1, 10, 0, 1);
    wait_for(log, 5, 3000);
    is(rn_plog_recovery_point(log), 5, "and again");
    rn_plog_close(log);

    rn_plog_config_default(&cfg);
    cfg.segment_bytes = 1024;
    snprintf(dir, sizeof(dir), "%s/flushroll-0", root);
    log = open_log(dir, &cfg, 0, 0);
    rn_plog_set_flusher(log, fl);
    append_batches(log, 30, 1, 100, 0, 1);
    int64_t active_base = rn_plog_segment_at(log, rn_plog_segment_count(log) - 1)->base_offset;
    wait_for(log, active_base, 3000);
    ok(rn_plog_recovery_point(log) >= active_base,
       "rolls flush in the background (%" PRId64 " >= %" PRId64 ")", rn_plog_recovery_point(log),
       active_base);
    ok(rn_flusher_flush_count(fl) >= 3 && rn_flusher_error_count(fl) == 0, "flush counts");
    rn_flusher_stop(fl); /* detaches the log */
    rn_plog_close(log);
    kept_reset();
}

static void touch(const char *dir, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *fp = fopen(path, "wb");
    if (len)
        fwrite(data, 1, len, fp);
    fclose(fp);
}

static int exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    uint8_t *buf = NULL;
    rn_fsutil_read_file(path, 1 << 24, &buf, len, NULL, 0);
    return buf;
}

static void test_leftovers(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/leftover-0", root);
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    cfg.segment_bytes = 1024;
    rn_plog_t *log = open_log(dir, &cfg, 0, 0);
    kept_reset();
    append_batches(log, 12, 1, 200, 0, 1);
    size_t nseg = rn_plog_segment_count(log);
    int64_t end = rn_plog_log_end_offset(log);
    int64_t b1 = rn_plog_segment_at(log, 1)->base_offset;
    int64_t b2 = rn_plog_segment_at(log, 2)->base_offset;
    rn_plog_close(log);
    ok(nseg >= 4, "%zu segments", nseg);

    /* Compaction merged segments 0 and 1 into 0.log.swap (same batches, back to back). */
    char n0[64], n1[64];
    rn_segment_file_name(n0, 0, ".log");
    rn_segment_file_name(n1, b1, ".log");
    size_t l0, l1;
    uint8_t *d0 = slurp(dir, n0, &l0), *d1 = slurp(dir, n1, &l1);
    tu_buf_t merged = {0};
    tu_reserve(&merged, l0 + l1);
    memcpy(merged.p, d0, l0);
    memcpy(merged.p + l0, d1, l1);
    merged.len = l0 + l1;
    touch(dir, "00000000000000000000.log.swap", merged.p, merged.len);
    touch(dir, "00000000000000000000.index.swap", "xx", 2);
    touch(dir, "00000000000000000005.log.deleted", "junk", 4);
    touch(dir, "00000000000000099999.index", "", 0);
    touch(dir, "00000000000000099999.timeindex", "", 0);
    rn_free(d0);
    rn_free(d1);
    tu_free(&merged);

    log = open_log(dir, &cfg, 1, end);
    ok(log != NULL, "reopen with leftovers");
    is(rn_plog_segment_count(log), nseg - 1, "the swap replaced two segments");
    ok(rn_plog_segment_at(log, 1)->base_offset == b2, "next segment follows");
    ok(!exists(dir, "00000000000000000000.log.swap") &&
           !exists(dir, "00000000000000000000.index.swap") && !exists(dir, n1),
       "swap completed, replaced segment removed");
    ok(!exists(dir, "00000000000000000005.log.deleted"), ".deleted removed");
    ok(!exists(dir, "00000000000000099999.index") && !exists(dir, "00000000000000099999.timeindex"),
       "orphan indexes removed");
    is(rn_plog_log_end_offset(log), end, "same log end");
    int bad = 0;
    for (int64_t off = 0; off < end; off++) {
        rn_plog_slice_t slice;
        if (rn_plog_read(log, off, 1, -1, &slice) != 0 || slice_matches(&slice, (int)off) != 1)
            bad++;
        rn_plog_slice_release(&slice);
    }
    is(bad, 0, "every batch reads back");
    is(tu_check_log(log), 0, "indexes agree (rebuilt for the swapped segment)");
    rn_plog_close(log);

    /* A swap at or above an unfinished .cleaned is discarded. */
    touch(dir, "00000000000000000000.log.cleaned", "", 0);
    touch(dir, "00000000000000000000.log.swap", "garbage", 7);
    log = open_log(dir, &cfg, 1, end);
    ok(log && rn_plog_segment_count(log) == nseg - 1 &&
           !exists(dir, "00000000000000000000.log.swap") &&
           !exists(dir, "00000000000000000000.log.cleaned"),
       "unfinished compaction dropped");
    rn_plog_close(log);
    kept_reset();
}

/* A log of several segments holds one descriptor per segment, its .log: the indexes are
 * mapped and their files closed, whether the log was just written, rolled, flushed,
 * truncated (which makes a sealed segment active again) or reopened clean or with recovery. */
static void test_open_files(const char *root)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/fds-0", root);
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    cfg.segment_bytes = 4096;
    cfg.index_interval_bytes = 256;
    int before = tu_open_fds(NULL, NULL);
    ok(before > 0, "/proc/self/fd is readable (%d open)", before);
    rn_plog_t *log = open_log(dir, &cfg, 0, 0);
    kept_reset();
    is(append_batches(log, 60, 3, 60, 1000, 100), 0, "60 appends");
    int nseg = (int)rn_plog_segment_count(log);
    ok(nseg >= 4, "rolled into %d segments", nseg);
    is(tu_open_fds(dir, ".log"), nseg, "one .log descriptor per segment");
    is(tu_open_fds(dir, "index"), 0, "no index descriptor");
    is(tu_open_fds(NULL, NULL) - before, nseg, "and nothing else: %d more in all",
       tu_open_fds(NULL, NULL) - before);
    is(rn_plog_flush(log), 0, "flush");
    is(tu_open_fds(dir, "index"), 0, "none after a flush");
    int64_t mid = rn_plog_segment_at(log, 1)->base_offset + 1;
    is(rn_plog_truncate_to(log, mid), 0, "truncate into segment 1");
    is(tu_open_fds(dir, "index"), 0, "none after truncation");
    is(append_batches(log, 40, 3, 60, 9000, 100), 0, "40 more appends");
    nseg = (int)rn_plog_segment_count(log);
    ok(nseg >= 3 && tu_open_fds(dir, ".log") == nseg && tu_open_fds(dir, "index") == 0,
       "after more rolls: %d .log and %d index descriptors for %d segments",
       tu_open_fds(dir, ".log"), tu_open_fds(dir, "index"), nseg);
    is(tu_check_log(log), 0, "indexes agree with the log");
    rn_plog_close(log);
    is(tu_open_fds(NULL, NULL), before, "close releases every descriptor");

    log = open_log(dir, &cfg, 1, 0);
    ok(log && (int)rn_plog_segment_count(log) == nseg, "reopen clean");
    ok(tu_open_fds(dir, ".log") == nseg && tu_open_fds(dir, "index") == 0,
       "clean open: %d .log, %d index descriptors", tu_open_fds(dir, ".log"),
       tu_open_fds(dir, "index"));
    rn_plog_close(log);
    log = open_log(dir, &cfg, 0, 0);
    ok(log && (int)rn_plog_segment_count(log) == nseg, "reopen with recovery of every segment");
    ok(tu_open_fds(dir, ".log") == nseg && tu_open_fds(dir, "index") == 0,
       "recovery: %d .log, %d index descriptors", tu_open_fds(dir, ".log"),
       tu_open_fds(dir, "index"));
    is(tu_check_log(log), 0, "indexes agree with the log");
    rn_plog_close(log);
    is(tu_open_fds(NULL, NULL), before, "nothing left open");
    kept_reset();
}

int main(void)
{
    rn_log_set_level(RN_LOG_WARN);
    char root[256];
    tu_tmpdir(root, "plog");
    test_append_basics(root);
    test_reads_and_rolls(root);
    test_roll_rules(root);
    test_truncate_delete_retain(root);
    test_flusher(root);
    test_leftovers(root);
    test_open_files(root);
    tu_rmtree(root);
    return done_testing();
}
