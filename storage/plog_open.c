/* Partition log: opening a directory — leftover files of interrupted deletions and
 * compactions, orphan indexes, and recovery after an unclean stop (see rn_plog_open). */
#include "plog_internal.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_vec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct i64vec {
    int64_t *v;
    size_t n, cap;
} i64vec_t;

static void vec_push(i64vec_t *vec, int64_t x)
{
    rn_vec_xpush(vec->v, vec->n, vec->cap, x);
}

static int vec_has(const i64vec_t *vec, int64_t x)
{
    for (size_t i = 0; i < vec->n; i++)
        if (vec->v[i] == x)
            return 1;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void unlink_in(const rn_plog_t *log, const char *name, const char *why)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", log->dir, name);
    if (unlink(path) != 0 && errno != ENOENT)
        RN_WARN("log", "%s: cannot remove %s (%s): %s", log->name, path, why, strerror(errno));
    else
        RN_INFO("log", "%s: removed %s (%s)", log->name, name, why);
}

/* Remove every file of the segment at base (log, indexes, txn index). */
static void unlink_segment(const rn_plog_t *log, int64_t base, const char *why)
{
    static const char *const suffixes[] = {".log", ".index", ".timeindex", ".txnindex"};
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        char name[RN_SEGMENT_NAME_MAX], path[PATH_MAX];
        rn_segment_file_name(name, base, suffixes[i]);
        snprintf(path, sizeof(path), "%s/%s", log->dir, name);
        if (access(path, F_OK) == 0)
            unlink_in(log, name, why);
    }
}

/* Next offset after the batches at the start of a .log file (header walk, stops at the first
 * header that does not parse or fit); base when there are none. */
static int64_t file_next_offset(const char *path, int64_t base)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return base;
    struct stat st;
    int64_t next = base;
    uint64_t pos = 0;
    if (fstat(fd, &st) == 0) {
        uint8_t buf[RN_BATCH_HEADER_SIZE];
        rn_batch_header_t hdr;
        while (pos + sizeof(buf) <= (uint64_t)st.st_size &&
               pread(fd, buf, sizeof(buf), (off_t)pos) == (ssize_t)sizeof(buf) &&
               rn_batch_header_parse(buf, sizeof(buf), &hdr) == 0 &&
               pos + rn_batch_total_size(&hdr) <= (uint64_t)st.st_size) {
            next = rn_batch_last_offset(&hdr) + 1;
            pos += rn_batch_total_size(&hdr);
        }
    }
    close(fd);
    return next;
}

typedef struct dirscan {
    i64vec_t logs;    /* bases of <base>.log */
    i64vec_t indexes; /* bases of index files (orphan check) */
    i64vec_t swaps;   /* bases of <base>.log.swap */
    i64vec_t rebuild; /* bases whose indexes must be rebuilt (completed swaps) */
    int64_t min_cleaned;
} dirscan_t;

static void dirscan_free(dirscan_t *scan)
{
    rn_free(scan->logs.v);
    rn_free(scan->indexes.v);
    rn_free(scan->swaps.v);
    rn_free(scan->rebuild.v);
}

/* Kafka's rules for a swap segment <base>.log.swap (the output of compaction, renamed to
 * .swap once complete): if a .cleaned file at or below its base exists the compaction that
 * made it did not finish, so drop it; otherwise finish the swap — delete the segments whose
 * base offsets it covers, rename it to <base>.log, and rebuild its indexes. */
static void complete_swap(rn_plog_t *log, dirscan_t *scan, int64_t base)
{
    char name[RN_SEGMENT_NAME_MAX], path[PATH_MAX], dest[PATH_MAX];
    rn_segment_file_name(name, base, ".log.swap");
    snprintf(path, sizeof(path), "%s/%s", log->dir, name);
    if (base >= scan->min_cleaned) {
        unlink_in(log, name, "swap file of an unfinished compaction");
        return;
    }
    int64_t next = file_next_offset(path, base);
    for (size_t i = 0; i < scan->logs.n;) {
        int64_t b = scan->logs.v[i];
        if (b >= base && (b < next || b == base)) {
            unlink_segment(log, b, "replaced by a compacted swap segment");
            scan->logs.v[i] = scan->logs.v[--scan->logs.n];
        } else {
            i++;
        }
    }
    unlink_segment(log, base, "replaced by a compacted swap segment");
    rn_segment_file_name(name, base, ".log");
    snprintf(dest, sizeof(dest), "%s/%s", log->dir, name);
    if (rename(path, dest) != 0) {
        RN_WARN("log", "%s: cannot complete the swap of %s: %s; leaving it", log->name, path,
                strerror(errno));
        return;
    }
    RN_INFO("log", "%s: completed the swap of segment %020" PRId64 " (offsets up to %" PRId64 ")",
            log->name, base, next);
    vec_push(&scan->logs, base);
    vec_push(&scan->rebuild, base);
}

static int scan_dir(rn_plog_t *log, dirscan_t *scan)
{
    memset(scan, 0, sizeof(*scan));
    scan->min_cleaned = INT64_MAX;
    DIR *d = opendir(log->dir);
    if (d == NULL)
        return RN_EIO;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        const char *name = ent->d_name;
        int64_t base;
        if (name[0] == '.')
            continue;
        if (ends_with(name, ".deleted")) {
            unlink_in(log, name, "left over from a deletion");
        } else if (ends_with(name, ".cleaned")) {
            if (strlen(name) > RN_SEGMENT_NAME_DIGITS &&
                rn_segment_parse_name(name, name + RN_SEGMENT_NAME_DIGITS, &base) == 0 &&
                base < scan->min_cleaned)
                scan->min_cleaned = base;
            unlink_in(log, name, "left over from an unfinished compaction");
        } else if (rn_segment_parse_name(name, ".log.swap", &base) == 0) {
            vec_push(&scan->swaps, base);
        } else if (ends_with(name, ".swap")) {
            unlink_in(log, name, "index swap file; the index is rebuilt");
        } else if (rn_segment_parse_name(name, ".log", &base) == 0) {
            vec_push(&scan->logs, base);
        } else if (rn_segment_parse_name(name, ".index", &base) == 0 ||
                   rn_segment_parse_name(name, ".timeindex", &base) == 0 ||
                   rn_segment_parse_name(name, ".txnindex", &base) == 0) {
            vec_push(&scan->indexes, base);
        }
    }
    closedir(d);
    for (size_t i = 0; i < scan->swaps.n; i++)
        complete_swap(log, scan, scan->swaps.v[i]);
    for (size_t i = 0; i < scan->indexes.n; i++) {
        int64_t base = scan->indexes.v[i];
        if (!vec_has(&scan->logs, base)) {
            char name[RN_SEGMENT_NAME_MAX];
            static const char *const suffixes[] = {".index", ".timeindex", ".txnindex"};
            for (size_t j = 0; j < sizeof(suffixes) / sizeof(suffixes[0]); j++) {
                char path[PATH_MAX];
                rn_segment_file_name(name, base, suffixes[j]);
                snprintf(path, sizeof(path), "%s/%s", log->dir, name);
                if (access(path, F_OK) == 0)
                    unlink_in(log, name, "index without a .log file");
            }
        }
    }
    if (scan->logs.n > 1)
        qsort(scan->logs.v, scan->logs.n, sizeof(int64_t), cmp_i64);
    return 0;
}

/* Open the segments found, recovering from the one holding the recovery point on when the
 * stop was unclean. A cut in the recovered range deletes the segments after it: what follows
 * a torn write is not trustworthy. */
static int open_segments(rn_plog_t *log, const dirscan_t *scan, const rn_plog_open_opts_t *opts,
                         rn_plog_open_stats_t *stats)
{
    size_t n = scan->logs.n, k = 0;
    for (size_t i = 0; i < n; i++)
        if (scan->logs.v[i] <= opts->recovery_point)
            k = i;
    for (size_t i = 0; i < n; i++) {
        int64_t base = scan->logs.v[i];
        int in_range = !opts->clean && i >= k;
        int recover = in_range || vec_has(&scan->rebuild, base);
        rn_segment_recovery_t rec;
        rn_segment_t *seg;
        int err = rn_segment_open(log->dir, log->name, base, &log->params, i == n - 1, recover,
                                  opts->now_ms, &rec, &seg);
        if (err) {
            RN_ERROR("log", "%s: cannot open segment %020" PRId64 ": %s", log->name, base,
                     strerror(errno));
            return err;
        }
        rn__plog_push(log, seg);
        stats->segments++;
        stats->segments_recovered += rec.index_rebuilt ? 1 : 0;
        stats->bytes_cut += rec.bytes_cut;
        if (rec.bytes_cut > 0 && in_range && i + 1 < n) {
            for (size_t j = i + 1; j < n; j++) {
                char name[RN_SEGMENT_NAME_MAX], path[PATH_MAX];
                struct stat st;
                rn_segment_file_name(name, scan->logs.v[j], ".log");
                snprintf(path, sizeof(path), "%s/%s", log->dir, name);
                RN_WARN("log",
                        "%s: recovery deletes segment %s (%lld bytes, offsets from %" PRId64
                        "): it follows the cut in segment %020" PRId64,
                        log->name, name, stat(path, &st) == 0 ? (long long)st.st_size : -1LL,
                        scan->logs.v[j], base);
                unlink_segment(log, scan->logs.v[j], "after a cut made by recovery");
                stats->segments_deleted++;
            }
            return rn_segment_make_active(seg);
        }
    }
    return 0;
}

int rn_plog_open(const char *dir, const rn_plog_config_t *cfg, const rn_plog_open_opts_t *opts,
                 rn_plog_t **out)
{
    rn_plog_open_stats_t local;
    rn_plog_open_stats_t *stats = opts->stats != NULL ? opts->stats : &local;
    memset(stats, 0, sizeof(*stats));
    char why[128];
    if (rn_plog_config_validate(cfg, why, sizeof(why)) != 0) {
        RN_ERROR("log", "%s: %s", dir, why);
        return RN_EINVAL;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT)
            return RN_EIO;
        if (!opts->create)
            return RN_ENOTFOUND;
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return RN_EIO;
    } else if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return RN_EINVAL;
    }
    rn_plog_t *log = rn__plog_alloc(dir, cfg);
    dirscan_t scan;
    int err = scan_dir(log, &scan);
    if (err == 0)
        err = open_segments(log, &scan, opts, stats);
    dirscan_free(&scan);
    if (err == 0 && log->nsegs == 0) {
        rn_segment_t *seg;
        int64_t base = opts->log_start_offset > 0 ? opts->log_start_offset : 0;
        err = rn_segment_create(log->dir, base, &log->params, opts->now_ms, &seg);
        if (err == 0) {
            rn__plog_push(log, seg);
            stats->segments++;
        }
    }
    if (err) {
        rn__plog_unref(log);
        return err;
    }
    int64_t end = rn__plog_active(log)->next_offset;
    log->log_end_offset = end;
    log->log_start_offset = log->segs[0]->base_offset;
    if (opts->log_start_offset > log->log_start_offset)
        log->log_start_offset = opts->log_start_offset;
    if (log->log_start_offset > end) {
        RN_WARN("log",
                "%s: the checkpointed log start offset %" PRId64 " is past the log end %" PRId64
                "; restarting the log empty at %" PRId64,
                log->name, log->log_start_offset, end, log->log_start_offset);
        if ((err = rn_plog_truncate_fully(log, log->log_start_offset)) != 0) {
            rn__plog_unref(log);
            return err;
        }
        end = log->log_end_offset;
    }
    log->recovery_point = opts->clean || opts->recovery_point > end ? end : opts->recovery_point;
    /* One line per partition made start-up with thousands of them slow to read and to log;
     * the data dir's loader summarises, and what recovery cut is logged as a warning. */
    RN_DEBUG("log",
             "%s: opened %zu segment(s) after a%s shutdown: log start %" PRId64 ", log end %" PRId64
             ", recovery point %" PRId64,
             log->name, log->nsegs, opts->clean ? " clean" : "n unclean", log->log_start_offset,
             end, log->recovery_point);
    *out = log;
    return 0;
}
