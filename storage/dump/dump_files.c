/* runnel-dump's file handling: choose a parser by file name, read files (segments in
 * chunks, everything else whole), walk directories in name order, and find the .log that
 * --verify checks an index against. Files are opened read-only and never locked. */
#include "dump_internal.h"

#include "rn_alloc.h"
#include "rn_checkpoint.h"
#include "rn_fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_CHUNK      ((size_t)8 << 20)
#define SMALL_FILE_MAX ((size_t)256 << 20)

enum kind { K_LOG, K_INDEX, K_TIMEINDEX, K_TEXT, K_SNAPSHOT, K_TXNINDEX, K_OTHER };

typedef struct ctx {
    FILE *out;
    const rn_dump_opts_t *opts;
    int *unreadable;
    int problems;
    char *table_path; /* the .log whose batches are cached in table */
    rn_dump_batch_t *table;
    size_t ntable;
} ctx_t;

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Length of name without a ".deleted"/".cleaned"/".swap" marker of a segment in flux. */
static size_t strip_marker(const char *name)
{
    static const char *const markers[] = {".deleted", ".cleaned", ".swap"};
    size_t len = strlen(name);
    for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
        size_t ml = strlen(markers[i]);
        if (len > ml && strcmp(name + len - ml, markers[i]) == 0)
            return len - ml;
    }
    return len;
}

static int has_suffix(const char *name, size_t len, const char *suffix)
{
    size_t sl = strlen(suffix);
    return len > sl && memcmp(name + len - sl, suffix, sl) == 0;
}

static enum kind classify(const char *name, enum rn_dump_text_kind *tk, size_t *suffix_at)
{
    size_t len = strip_marker(name);
    static const struct {
        const char *suffix;
        enum kind kind;
    } segs[] = {{".log", K_LOG},
                {".index", K_INDEX},
                {".timeindex", K_TIMEINDEX},
                {".snapshot", K_SNAPSHOT},
                {".txnindex", K_TXNINDEX}};
    for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
        if (has_suffix(name, len, segs[i].suffix)) {
            *suffix_at = len - strlen(segs[i].suffix);
            if (segs[i].kind != K_SNAPSHOT)
                return segs[i].kind;
            *tk = RN_DUMP_PRODUCER_SNAPSHOT;
            return K_TEXT;
        }
    }
    if (strcmp(name, RN_CHECKPOINT_RECOVERY_POINT) == 0 ||
        strcmp(name, RN_CHECKPOINT_LOG_START) == 0 ||
        strcmp(name, RN_CHECKPOINT_REPLICATION) == 0 || strcmp(name, RN_CHECKPOINT_CLEANER) == 0)
        *tk = RN_DUMP_CHECKPOINT;
    else if (strcmp(name, "leader-epoch-checkpoint") == 0)
        *tk = RN_DUMP_LEADER_EPOCH;
    else if (strcmp(name, "partition.metadata") == 0)
        *tk = RN_DUMP_PARTITION_META;
    else if (strcmp(name, "meta.properties") == 0)
        *tk = RN_DUMP_META_PROPERTIES;
    else
        return K_OTHER;
    return K_TEXT;
}

/* The segment's base offset from its 20-digit file name, or 0 with a note. */
static int64_t base_offset_of(ctx_t *cx, const char *name, size_t stem_len)
{
    int64_t base = 0;
    for (size_t i = 0; i < stem_len; i++) {
        if (name[i] < '0' || name[i] > '9' || base > (INT64_MAX - 9) / 10) {
            fprintf(cx->out, "note: \"%.*s\" is not a segment base offset; offsets assume 0\n",
                    (int)stem_len, name);
            return 0;
        }
        base = base * 10 + (name[i] - '0');
    }
    return base;
}

static void cannot_read(ctx_t *cx, const char *path, const char *why)
{
    fprintf(stderr, "runnel-dump: cannot read %s: %s\n", path, why);
    (*cx->unreadable)++;
}

/* Read a whole index or text file (at most SMALL_FILE_MAX bytes) into *buf (rn_free it);
 * -1 after reporting a file that cannot be read. */
static int read_small(ctx_t *cx, const char *path, uint8_t **buf, size_t *len)
{
    char err[512];
    if (rn_fsutil_read_file(path, SMALL_FILE_MAX, buf, len, err, sizeof(err)) != 0) {
        cannot_read(cx, path, err);
        return -1;
    }
    return 0;
}

/* Feed a segment file to lg in chunks. Returns 0, or -1 after reporting a read error. */
static int feed_log_file(ctx_t *cx, const char *path, rn_dump_log_t *lg)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cannot_read(cx, path, strerror(errno));
        return -1;
    }
    size_t cap = LOG_CHUNK, have = 0;
    uint8_t *buf = rn_xmalloc(cap);
    int eof = 0, rc = 0;
    for (;;) {
        while (!eof && have < cap) {
            ssize_t got = read(fd, buf + have, cap - have);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                cannot_read(cx, path, strerror(errno));
                rc = -1;
                goto out;
            }
            if (got == 0)
                eof = 1;
            have += (size_t)got;
        }
        size_t used = rn_dump_log_feed(lg, buf, have, eof);
        memmove(buf, buf + used, have - used);
        have -= used;
        if (lg->stopped || eof)
            break;
        if (used == 0 && lg->need > cap) {
            /* A damaged length can claim up to 2 GiB: grow only as far as the file goes
             * (plus one byte, so the read loop sees the end and reports the truncation). */
            size_t want = lg->need;
            struct stat st;
            if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= lg->pos &&
                (uint64_t)st.st_size - lg->pos + 1 < want)
                want = (size_t)((uint64_t)st.st_size - lg->pos + 1);
            if (want <= cap)
                want = cap + 1;
            uint8_t *bigger = rn_realloc(buf, want);
            if (bigger == NULL) {
                rn__dump_error(cx->out, &lg->problems,
                               "batch at position %llu declares %zu bytes: not enough memory "
                               "to load it; stopping",
                               (unsigned long long)lg->pos, lg->need);
                break;
            }
            buf = bigger;
            cap = want;
        }
    }
out:
    rn_free(buf);
    close(fd);
    return rc;
}

static void dump_log_file(ctx_t *cx, const char *path, int64_t base)
{
    fprintf(cx->out, "Log starting offset: %lld\n", (long long)base);
    rn_dump_log_t lg;
    rn_dump_log_init(&lg, cx->out, cx->opts);
    if (feed_log_file(cx, path, &lg) == 0)
        cx->problems += rn_dump_log_finish(&lg);
    rn_dump_log_free(&lg);
}

/* Load (or reuse) the batch table of the .log at log_path. Returns 0 or -1 if unreadable. */
static int load_table(ctx_t *cx, const char *log_path)
{
    if (cx->table_path && strcmp(cx->table_path, log_path) == 0)
        return 0;
    rn_free(cx->table);
    rn_free(cx->table_path);
    cx->table = NULL;
    cx->ntable = 0;
    cx->table_path = NULL;
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull == NULL)
        return -1;
    rn_dump_opts_t quiet = {0};
    rn_dump_log_t lg;
    rn_dump_log_init(&lg, devnull, &quiet);
    lg.collect_batches = 1;
    int rc = feed_log_file(cx, log_path, &lg);
    fclose(devnull);
    if (rc == 0) {
        cx->table = lg.table; /* ownership moves to the cache */
        cx->ntable = lg.ntable;
        cx->table_path = rn_xstrdup(log_path);
        lg.table = NULL;
    }
    rn_dump_log_free(&lg);
    return rc;
}

static void dump_index_file(ctx_t *cx, const char *path, enum kind kind, size_t suffix_at,
                            int64_t base)
{
    uint8_t *buf;
    size_t len;
    if (read_small(cx, path, &buf, &len) != 0)
        return;
    rn_dump_opts_t opts = *cx->opts;
    if (opts.verify) {
        /* X.index -> X.log, keeping a .deleted/.cleaned/.swap marker. */
        const char *name = base_name(path);
        size_t dir_len = (size_t)(name - path);
        const char *suffix = kind == K_INDEX ? ".index" : ".timeindex";
        char *log_path = rn_xmalloc(strlen(path) + 8);
        sprintf(log_path, "%.*s.log%s", (int)(dir_len + suffix_at), path,
                name + suffix_at + strlen(suffix));
        struct stat st;
        if (stat(log_path, &st) != 0) {
            rn__dump_error(cx->out, &cx->problems, "cannot verify %s: its log %s is missing (%s)",
                           name, log_path, strerror(errno));
            opts.verify = 0;
        } else if (load_table(cx, log_path) != 0) {
            opts.verify = 0;
        }
        rn_free(log_path);
    }
    if (kind == K_INDEX)
        cx->problems += rn_dump_index(cx->out, base, buf, len, cx->table, cx->ntable, &opts);
    else
        cx->problems += rn_dump_timeindex(cx->out, base, buf, len, cx->table, cx->ntable, &opts);
    rn_free(buf);
}

static void dump_file(ctx_t *cx, const char *path)
{
    const char *name = base_name(path);
    enum rn_dump_text_kind tk = RN_DUMP_CHECKPOINT;
    size_t suffix_at = 0;
    enum kind kind = classify(name, &tk, &suffix_at);
    fprintf(cx->out, "Dumping %s\n", path);
    if (kind == K_LOG) {
        dump_log_file(cx, path, base_offset_of(cx, name, suffix_at));
    } else if (kind == K_INDEX || kind == K_TIMEINDEX) {
        dump_index_file(cx, path, kind, suffix_at, base_offset_of(cx, name, suffix_at));
    } else if (kind == K_TEXT) {
        uint8_t *buf;
        size_t len;
        if (read_small(cx, path, &buf, &len) != 0)
            return;
        cx->problems += rn_dump_text(cx->out, tk, name, buf, len);
        rn_free(buf);
    } else if (kind == K_TXNINDEX) {
        fprintf(cx->out, "skipped: aborted transaction index (not decoded by runnel-dump)\n");
    } else {
        fprintf(cx->out, "skipped: not a file runnel-dump knows (.log, .index, .timeindex, "
                         ".snapshot, checkpoints, partition.metadata, meta.properties)\n");
    }
}

static void dump_any(ctx_t *cx, const char *path, int top)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        cannot_read(cx, path, strerror(errno));
        return;
    }
    if (S_ISLNK(st.st_mode) && !top) {
        fprintf(cx->out, "Dumping %s\nskipped: symbolic link\n\n", path);
        return;
    }
    if (S_ISLNK(st.st_mode) && stat(path, &st) != 0) {
        cannot_read(cx, path, strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        struct dirent **list;
        int n = scandir(path, &list, NULL, alphasort);
        if (n < 0) {
            cannot_read(cx, path, strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            const char *d = list[i]->d_name;
            if (strcmp(d, ".") != 0 && strcmp(d, "..") != 0) {
                size_t plen = strlen(path);
                char *child = rn_xmalloc(plen + strlen(d) + 2);
                sprintf(child, "%s%s%s", path, plen && path[plen - 1] == '/' ? "" : "/", d);
                dump_any(cx, child, 0);
                rn_free(child);
            }
            free(list[i]);
        }
        free(list);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        fprintf(cx->out, "Dumping %s\nskipped: not a regular file\n\n", path);
        return;
    }
    dump_file(cx, path);
    fputc('\n', cx->out);
}

int rn_dump_path(FILE *out, const char *path, const rn_dump_opts_t *opts, int *unreadable)
{
    ctx_t cx = {out, opts, unreadable, 0, NULL, NULL, 0};
    dump_any(&cx, path, 1);
    rn_free(cx.table);
    rn_free(cx.table_path);
    return cx.problems;
}
