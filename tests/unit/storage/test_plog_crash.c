/* Crash recovery, seeded (RN_SEED=<n> to replay; the seed is printed first).
 *
 * Builds a log of random batches across several segments and keeps it open. Each round copies
 * the directory as it is on disk at that moment (the image a crash would leave: page cache
 * contents, preallocated active indexes), damages the copy — cuts a segment at a random byte,
 * cuts it and pads with zeros (a machine crash), or flips random bytes inside a batch — and
 * opens it as after an unclean stop. Then: every whole valid batch before the damage is there
 * byte for byte, nothing from the damaged batch on is served, the log end is right, and the
 * indexes agree with the log; appends continue at the end.
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

    /* Expected survivors: batches of earlier segments, then those of the target whose bytes
     * are all still intact, up to the first that is not (zero fill can restore zero bytes). */
    uint8_t *img = NULL;
    size_t img_len = 0;
    rn_fsutil_read_file(path, 64 << 20, &img, &img_len, NULL, 0);
    int64_t expect_end = tseg->base_offset;
    int keep = 0;
    for (int i = 0; i < nb; i++) {
        if (batches[i].seg > target)
            break;
        if (batches[i].seg == target &&
            (batches[i].pos + batches[i].len > img_len ||
             memcmp(img + batches[i].pos, batches[i].bytes, batches[i].len) != 0))
            break;
        keep = i + 1;
        expect_end = batches[i].last + 1;
    }
    rn_free(img);

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
        diag("round %d (%s in segment %zu at %" PRIu64 ", rp %" PRId64 "): log end %" PRId64
             ", expected %" PRId64,
             round, what, target, damage, rp, end, expect_end);
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
    for (int i = 0; i < keep && end == expect_end; i++) {
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

int main(void)
{
    const char *env = getenv("RN_SEED");
    uint32_t seed = env ? (uint32_t)strtoul(env, NULL, 10) : (uint32_t)time(NULL);
    rng = seed ? seed : 1;
    printf("# seed %u (replay with RN_SEED=%u)\n", seed, seed);
    rn_log_set_level(RN_LOG_ERROR); /* recovery WARNs every round */
    char root[256], src[512];
    tu_tmpdir(root, "crash");
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
