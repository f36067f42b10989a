/* Crash recovery, seeded (RN_SEED=<n> to replay; the seed is printed first).
 *
 * Builds a log of random batches across several segments and keeps it open. Each round copies
 * the directory as it is on disk at that moment (the image a crash would leave: page cache
 * contents, preallocated active indexes), damages the copy — cuts a segment at a random byte,
 * cuts it and pads with zeros (a machine crash), or flips random bytes inside a batch — and
 * opens it as after an unclean stop. Then: every whole valid batch before the damage is there
 * byte for byte, nothing from the damaged batch on is served, the log end is right, and the
 * indexes agree with the log; appends continue at the end. As in Kafka, the segments after the
 * damaged one are deleted only when recovery had to cut invalid bytes; a cut exactly at a batch
 * boundary leaves a valid, shorter segment and the later segments stay (see round_once).
 * fixed_scenarios pins those boundary cases independently of the seed.
 *
 * Flips avoid baseOffset and partitionLeaderEpoch: the broker writes them outside the CRC, so
 * no reader (Kafka's included) can tell a flipped epoch from a real one. */
#include "rn_err.h"
#include "rn_log.h"
#include "rn_plog.h"
#include "tap.h"
#include "unit/storage/plog_testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAXB   2000
#define ROUNDS 150

typedef struct batch {
    int64_t base, last;
    size_t seg;     /* index of its segment */
    uint64_t pos;   /* position in it */
    uint8_t *bytes; /* as stored */
    size_t len;
} batch_t;

static batch_t batches[MAXB];
static int nb;
static uint32_t rng;

static uint32_t rnd(void)
{
    return tu_xorshift32(&rng);
}

static void copy_dir(const char *from, const char *to)
{
    mkdir(to, 0755);
    DIR *d = opendir(from);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.')
            continue;
        char src[1024], dst[1024];
        snprintf(src, sizeof(src), "%s/%s", from, ent->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", to, ent->d_name);
        uint8_t *buf;
        size_t len;
        if (rn_fsutil_read_file(src, 64 << 20, &buf, &len, NULL, 0) != 0)
            continue;
        int fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (len > 0 && write(fd, buf, len) != (ssize_t)len)
            diag("short write to %s", dst);
        close(fd);
        rn_free(buf);
    }
    closedir(d);
}

static void seg_path(char *buf, size_t cap, const char *dir, int64_t base, const char *suffix)
{
    char name[RN_SEGMENT_NAME_MAX];
    rn_segment_file_name(name, base, suffix);
    snprintf(buf, cap, "%s/%s", dir, name);
}

/* One round: returns the number of failed checks (each also reported). */
static int round_once(const char *src, const char *root, int round, const rn_plog_config_t *cfg,
                      const rn_plog_t *orig)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/crash%d-0", root, round);
    copy_dir(src, dir);
    size_t nseg = rn_plog_segment_count(orig);
    int64_t active_base = rn_plog_segment_at(orig, nseg - 1)->base_offset;
    /* Half the rounds recover from the active segment (as after background flushes), half
     * from offset 0, where any segment may be the damaged one. */
    int64_t rp = rnd() % 2 ? active_base : 0;
    size_t target = rp == 0 ? rnd() % nseg : nseg - 1;
    int kind = (int)(rnd() % 3);
    rn_segment_t *tseg = rn_plog_segment_at(orig, target);
    if (tseg->size == 0) /* nothing to damage there: damage the active segment */
        target = nseg - 1, tseg = rn_plog_segment_at(orig, target);
    if (tseg->size == 0)
        kind = 0; /* a cut of an empty file at 0 */
    char path[1024];
    seg_path(path, sizeof(path), dir, tseg->base_offset, ".log");
    uint64_t damage; /* first damaged byte in the target segment */
    const char *what;
    if (kind < 2) {
        damage = rnd() % (tseg->size + 1);
        if (truncate(path, (off_t)damage) != 0)
            diag("truncate failed");
        if (kind == 1 && truncate(path, (off_t)(damage + 1 + rnd() % 8192)) != 0)
            diag("truncate failed");
        what = kind ? "cut + zero fill" : "cut";
    } else {
        /* Flip 1-3 bytes inside one batch, never in baseOffset / partitionLeaderEpoch. */
        int victim;
        do
            victim = (int)(rnd() % (uint32_t)nb);
        while (batches[victim].seg != target);
        uint64_t first = UINT64_MAX;
        int fd = open(path, O_RDWR);
        for (int i = 1 + (int)(rnd() % 3); i > 0; i--) {
            uint64_t off;
            do
                off = rnd() % batches[victim].len;
            while (off < 8 || (off >= 12 && off < 16));
            uint8_t byte;
            uint64_t at = batches[victim].pos + off;
            if (pread(fd, &byte, 1, (off_t)at) != 1)
                diag("pread failed");
            byte ^= (uint8_t)(1u << (rnd() % 8));
            if (pwrite(fd, &byte, 1, (off_t)at) != 1)
                diag("pwrite failed");
            if (at < first)
                first = at;
        }
        close(fd);
        damage = first;
        what = "flipped bytes";
    }

    /* Expected survivors, by Kafka's rule (LogLoader.recoverLog): batches of earlier segments,
     * then those of the target whose bytes are all still intact, up to the first that is not
     * (zero fill can restore zero bytes). Later segments go only if recovery had to cut bytes
     * from the target ("torn": something follows its intact batches). A cut that lands exactly
     * on a batch boundary (or at 0, or at the end) leaves a shorter but valid segment, which no
     * reader can tell from one rolled early, so recovery carries on into the later segments and
     * keeps them; the offsets lost in between are a gap, as compaction leaves. */
    uint8_t *img = NULL;
    size_t img_len = 0;
    rn_fsutil_read_file(path, 64 << 20, &img, &img_len, NULL, 0);
    int first_bad = nb; /* first batch of the target (or later) that does not survive the cut */
    uint64_t intact_end = 0;
    for (int i = 0; i < nb; i++) {
        if (batches[i].seg > target ||
            (batches[i].seg == target &&
             (batches[i].pos + batches[i].len > img_len ||
              memcmp(img + batches[i].pos, batches[i].bytes, batches[i].len) != 0))) {
            first_bad = i;
            break;
        }
        if (batches[i].seg == target)
            intact_end = batches[i].pos + batches[i].len;
    }
    rn_free(img);
    int keep_later = img_len == intact_end && target + 1 < nseg;
    int64_t expect_end = tseg->base_offset;
    for (int i = 0; i < nb; i++)
        if (i < first_bad || (keep_later && batches[i].seg > target))
            expect_end = batches[i].last + 1;
    if (keep_later && expect_end < active_base) /* the kept active segment may be empty */
        expect_end = active_base;

    rn_plog_open_opts_t opts;
    tu_default_opts(&opts, 0);
    opts.recovery_point = rp;
    rn_plog_t *log;
    int failed = 0;
    if (rn_plog_open(dir, cfg, &opts, &log) != 0) {
        ok(0, "round %d: reopen after %s", round, what);
        return 1;
    }
    int64_t end = rn_plog_log_end_offset(log);
    if (end != expect_end) {
        diag("round %d (%s in segment %zu at %" PRIu64 ", rp %" PRId64 ", %s): log end %" PRId64
             ", expected %" PRId64,
             round, what, target, damage, rp,
             keep_later ? "clean cut, later segments kept" : "torn", end, expect_end);
        failed++;
        if (getenv("RN_DEBUG")) {
            rn_segment_t *ss = rn_plog_segment_at(log, rn_plog_segment_count(log) - 1);
            diag("recovered active seg base %" PRId64 " size %" PRIu64, ss->base_offset, ss->size);
            for (int i = 0; i < nb; i++)
                if (batches[i].seg == target)
                    diag("batch %d: %" PRId64 "..%" PRId64 " pos %" PRIu64 " len %zu", i,
                         batches[i].base, batches[i].last, batches[i].pos, batches[i].len);
        }
    }
    int missing = 0;
    for (int i = 0; i < nb && end == expect_end; i++) {
        if (i >= first_bad && !(keep_later && batches[i].seg > target))
            continue;
        rn_plog_slice_t slice;
        if (rn_plog_read(log, batches[i].base, 1, -1, &slice) != 0 ||
            slice.length != batches[i].len) {
            missing++;
            rn_plog_slice_release(&slice);
            continue;
        }
        uint8_t *got = tu_read_slice(&slice);
        missing += memcmp(got, batches[i].bytes, batches[i].len) != 0;
        rn_free(got);
        rn_plog_slice_release(&slice);
    }
    if (missing) {
        diag("round %d (%s): %d surviving batches unreadable or different", round, what, missing);
        failed++;
    }
    rn_plog_slice_t slice;
    if (keep_later && first_bad < nb && batches[first_bad].seg == target && end == expect_end) {
        /* The cut batches' offsets are a gap now: a fetch there gets the next segment's first
         * batch (or nothing, when only an empty active segment follows), never the cut bytes. */
        int next = first_bad;
        while (next < nb && batches[next].seg == target)
            next++;
        size_t want = next < nb ? batches[next].len : 0;
        uint8_t *got = NULL;
        if (rn_plog_read(log, batches[first_bad].base, 1, -1, &slice) != 0 ||
            slice.length != want ||
            (want > 0 && memcmp(got = tu_read_slice(&slice), batches[next].bytes, want) != 0)) {
            diag("round %d (%s): a fetch in the gap left by the cut is not served from the "
                 "next segment",
                 round, what);
            failed++;
        }
        rn_free(got);
        rn_plog_slice_release(&slice);
    }
    if (rn_plog_read(log, end, 1 << 20, -1, &slice) != 0 || slice.length != 0 ||
        rn_plog_read(log, end + 1, 1, -1, &slice) != RN_ERANGE) {
        diag("round %d: something is served at or past the log end", round);
        failed++;
    }
    int problems = tu_check_log(log);
    if (problems) {
        diag("round %d (%s): %d index/log disagreements", round, what, problems);
        failed++;
    }
    tu_buf_t b = {0};
    tu_add_batch(&b, 2, 30, 5, 1, 9);
    rn_plog_append_info_t info;
    if (rn_plog_append(log, b.p, b.len, 1, 0, &info) != 0 || info.base_offset != end ||
        rn_plog_read(log, end, 1, -1, &slice) != 0 || slice.length != b.len) {
        diag("round %d: append after recovery failed", round);
        failed++;
    }
    rn_plog_slice_release(&slice);
    tu_free(&b);
    rn_plog_close(log);
    /* Reopen clean: the recovered files must pass the clean sanity checks unchanged. */
    tu_default_opts(&opts, 1);
    if (rn_plog_open(dir, cfg, &opts, &log) != 0 || rn_plog_log_end_offset(log) != end + 2 ||
        tu_check_log(log) != 0) {
        diag("round %d: clean reopen after recovery disagrees", round);
        failed++;
    }
    rn_plog_close(log);
    tu_rmtree(dir);
    return failed;
}

/* Fixed scenarios (seed-independent) for the boundary cases of the rule above, taken from a
 * failure the random rounds hit (RN_SEED=1795448137, round 114: segment 0 cut exactly where a
 * batch started, recovery point 0). A 4-segment log, segment 0 damaged, unclean open from 0. */
typedef struct fixed_batch {
    int64_t base;
    uint8_t *bytes;
    size_t len, seg;
    uint64_t pos;
} fixed_batch_t;

#define FIXED_N 12

/* Copy src to dir, cut segment 0's .log at `cut`, then extend it with `fill` zero bytes, and
 * open it after an unclean stop with recovery point 0. */
static rn_plog_t *fixed_recover(const char *src, const char *dir, const rn_plog_config_t *cfg,
                                uint64_t cut, uint64_t fill)
{
    copy_dir(src, dir);
    char path[1024];
    seg_path(path, sizeof(path), dir, 0, ".log");
    if (truncate(path, (off_t)cut) != 0 || (fill && truncate(path, (off_t)(cut + fill)) != 0))
        diag("cannot damage %s", path);
    rn_plog_open_opts_t opts;
    tu_default_opts(&opts, 0);
    opts.recovery_point = 0;
    rn_plog_t *log = NULL;
    if (rn_plog_open(dir, cfg, &opts, &log) != 0)
        return NULL;
    return log;
}

/* 1 when the read at `offset` returns exactly batch b's bytes. */
static int fixed_serves(rn_plog_t *log, int64_t offset, const fixed_batch_t *b)
{
    rn_plog_slice_t slice;
    int good = 0;
    if (rn_plog_read(log, offset, 1, -1, &slice) == 0 && slice.length == b->len) {
        uint8_t *got = tu_read_slice(&slice);
        good = memcmp(got, b->bytes, b->len) == 0;
        rn_free(got);
    }
    rn_plog_slice_release(&slice);
    return good;
}

static void fixed_scenarios(const char *root)
{
    char src[512], dir[512];
    snprintf(src, sizeof(src), "%s/fixed-0", root);
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    cfg.segment_bytes = 1024; /* three ~270-byte batches a segment */
    cfg.index_interval_bytes = 256;
    cfg.segment_index_bytes = 4096;
    rn_plog_open_opts_t opts;
    tu_default_opts(&opts, 0);
    rn_plog_t *log;
    fixed_batch_t fb[FIXED_N] = {{0}};
    int opened = rn_plog_open(src, &cfg, &opts, &log) == 0, built = opened;
    for (int i = 0; built && i < FIXED_N; i++) {
        tu_buf_t b = {0};
        tu_add_batch(&b, 3, 60, 1000 + i, 1, (uint32_t)i);
        rn_plog_append_info_t info = {0};
        built = rn_plog_append(log, b.p, b.len, 3, 0, &info) == 0;
        size_t seg = rn_plog_segment_count(log) - 1;
        fb[i] = (fixed_batch_t){info.base_offset, b.p, b.len, seg,
                                rn_plog_segment_at(log, seg)->size - b.len};
    }
    int64_t end = built ? rn_plog_log_end_offset(log) : -1;
    ok(built && rn_plog_segment_count(log) == 4 && fb[2].seg == 0 && fb[3].seg == 1 &&
           fb[2].pos > 0,
       "fixed: 12 batches in 4 segments, 3 each");
    if (opened)
        rn_plog_close(log);
    int64_t seg1 = fb[3].base;
    char seg1_log[1024];

    /* Cut exactly where batch 2 starts: segment 0 is shorter but valid; nothing was torn, so
     * Kafka keeps every later segment and the lost offsets become a gap. */
    snprintf(dir, sizeof(dir), "%s/fixed-boundary", root);
    log = fixed_recover(src, dir, &cfg, fb[2].pos, 0);
    int kept_all = log != NULL;
    for (int i = 0; kept_all && i < FIXED_N; i++)
        if (i != 2)
            kept_all = fixed_serves(log, fb[i].base, &fb[i]);
    ok(log && rn_plog_segment_count(log) == 4 && rn_plog_log_end_offset(log) == end &&
           rn_plog_segment_at(log, 0)->next_offset == fb[2].base && tu_check_log(log) == 0,
       "cut at a batch boundary: all 4 segments kept, log end %" PRId64, end);
    ok(kept_all && log && fixed_serves(log, fb[2].base, &fb[3]),
       "every other batch served intact; a fetch at the cut batch's offset gets segment 1's "
       "first batch");
    if (log)
        rn_plog_close(log);
    tu_rmtree(dir);

    /* One byte more: a torn batch header, so the cut segment's successors go. */
    snprintf(dir, sizeof(dir), "%s/fixed-torn", root);
    log = fixed_recover(src, dir, &cfg, fb[2].pos + 1, 0);
    seg_path(seg1_log, sizeof(seg1_log), dir, seg1, ".log");
    ok(log && rn_plog_segment_count(log) == 1 && rn_plog_log_end_offset(log) == fb[2].base &&
           access(seg1_log, F_OK) != 0 && tu_check_log(log) == 0 &&
           fixed_serves(log, fb[1].base, &fb[1]),
       "cut one byte into a batch: truncated to offset %" PRId64 ", later segments deleted",
       fb[2].base);
    if (log)
        rn_plog_close(log);
    tu_rmtree(dir);

    /* Boundary cut then zeros (a machine crash's zero-filled tail): invalid bytes, same. */
    snprintf(dir, sizeof(dir), "%s/fixed-zeros", root);
    log = fixed_recover(src, dir, &cfg, fb[2].pos, 100);
    seg_path(seg1_log, sizeof(seg1_log), dir, seg1, ".log");
    ok(log && rn_plog_segment_count(log) == 1 && rn_plog_log_end_offset(log) == fb[2].base &&
           rn_plog_segment_at(log, 0)->size == fb[2].pos && access(seg1_log, F_OK) != 0 &&
           tu_check_log(log) == 0,
       "cut at a boundary + zero fill: zeros cut, later segments deleted");
    if (log)
        rn_plog_close(log);
    tu_rmtree(dir);

    /* Segment 0 emptied: a valid (empty) segment; the rest is kept and fetches from 0 start at
     * segment 1. */
    snprintf(dir, sizeof(dir), "%s/fixed-empty", root);
    log = fixed_recover(src, dir, &cfg, 0, 0);
    ok(log && rn_plog_segment_count(log) == 4 && rn_plog_log_end_offset(log) == end &&
           rn_plog_log_start_offset(log) == 0 && tu_check_log(log) == 0 &&
           fixed_serves(log, 0, &fb[3]),
       "segment 0 cut to nothing: later segments kept, offset 0 served from segment 1");
    if (log)
        rn_plog_close(log);
    tu_rmtree(dir);

    for (int i = 0; i < FIXED_N; i++)
        rn_free(fb[i].bytes);
    tu_rmtree(src);
}

int main(void)
{
    const char *env = getenv("RN_SEED");
    uint32_t seed = env ? (uint32_t)strtoul(env, NULL, 10) : (uint32_t)time(NULL);
    rng = seed ? seed : 1;
    printf("# seed %u (replay with RN_SEED=%u)\n", seed, seed);
    rn_log_set_level(RN_LOG_ERROR); /* recovery WARNs every round */
    char root[256], src[512];
    tu_tmpdir(root, "crash");
    fixed_scenarios(root);
    snprintf(src, sizeof(src), "%s/orders-0", root);

    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    cfg.segment_bytes = 24 * 1024;
    cfg.index_interval_bytes = 512;
    cfg.segment_index_bytes = 4096;
    rn_plog_open_opts_t opts;
    tu_default_opts(&opts, 0);
    rn_plog_t *log;
    is(rn_plog_open(src, &cfg, &opts, &log), 0, "open the source log");
    while (nb < MAXB && rn_plog_size(log) < 120 * 1024) {
        tu_buf_t b = {0};
        int count = 1 + (int)(rnd() % 8);
        size_t vlen = rnd() % 8 == 0 ? rnd() % 2000 : rnd() % 100;
        tu_add_batch(&b, count, vlen, 1000 + nb, 1, rnd());
        rn_plog_append_info_t info;
        if (rn_plog_append(log, b.p, b.len, 3, 0, &info) != 0)
            break;
        size_t seg = rn_plog_segment_count(log) - 1;
        rn_segment_t *s = rn_plog_segment_at(log, seg);
        batches[nb++] =
            (batch_t){info.base_offset, info.last_offset, seg, s->size - b.len, b.p, b.len};
    }
    ok(rn_plog_segment_count(log) >= 4, "%d batches in %zu segments", nb,
       rn_plog_segment_count(log));
    is(tu_check_log(log), 0, "source log is consistent");

    int failed_rounds = 0;
    for (int r = 0; r < ROUNDS; r++)
        failed_rounds += round_once(src, root, r, &cfg, log) != 0;
    is(failed_rounds, 0, "%d damage/recovery rounds", ROUNDS);

    rn_plog_close(log);
    for (int i = 0; i < nb; i++)
        rn_free(batches[i].bytes);
    tu_rmtree(root);
    if (tap_failed)
        printf("# seed %u\n", seed);
    return done_testing();
}
