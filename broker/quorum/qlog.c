/* qlog.c: the quorum log on an rn_plog (see rn_qlog.h). */
#include "quorum/rn_qlog.h"
#include "quorum/rn_qmsg.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_epochs.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_log.h"
#include "rn_plog.h"
#include "rn_reader.h"
#include "rn_records.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A read's copy of one batch; slots are reused round-robin (see rn_qlog.h). */
typedef struct qlog_slot {
    uint8_t *buf;
    size_t cap;
} qlog_slot_t;

/* Invariant: epochs holds one entry per epoch present in [start, end) (the first one
 * possibly re-based to start); start_epoch is the epoch of entry start - 1 (0 at 0). */
struct rn_qlog {
    char dir[PATH_MAX];
    rn_plog_t *log;
    rn_epochs_t epochs;
    int32_t start_epoch;
    bool epochs_dirty;
    bool was_clean; /* the open found the clean-close marker (or a new directory) */
    bool opened;    /* the open succeeded: a close may vouch for the log */
    qlog_slot_t slots[RN_QLOG_READ_SLOTS];
    unsigned next_slot;
};

static int rebuild_cb(void *arg, const rn_batch_header_t *hdr, int fd, uint64_t position)
{
    (void)fd;
    (void)position;
    rn_qlog_t *q = arg;
    if (hdr->partition_leader_epoch >= 0 &&
        rn_epochs_assign(&q->epochs, hdr->partition_leader_epoch, hdr->base_offset) < 0)
        return RN_ECORRUPT;
    return 0;
}

/* The log start and the epoch of entry start - 1 are not in the segments: a small file
 * beside them keeps both (written when the prefix is dropped or a snapshot installed). */
static void load_start(rn_qlog_t *q, int64_t *start)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/quorum-log-start", q->dir);
    *start = 0;
    q->start_epoch = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    long long off;
    int epoch;
    if (fscanf(f, "%lld %d", &off, &epoch) == 2 && off >= 0 && epoch >= 0) {
        *start = off;
        q->start_epoch = epoch;
    }
    fclose(f);
}

static int save_start(const rn_qlog_t *q, int64_t start)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/quorum-log-start", q->dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return RN_EIO;
    fprintf(f, "%lld %d\n", (long long)start, q->start_epoch);
    int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    return fclose(f) == 0 && ok ? 0 : RN_EIO;
}

/* Remove the clean-close marker before anything is appended, durably: a crash after this
 * open must not find it. */
static int consume_marker(rn_qlog_t *q, const char *marker, char *err, size_t errlen)
{
    if (unlink(marker) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "%s: cannot remove %s: %s", q->dir, marker, strerror(errno));
        return RN_EIO;
    }
    return rn_fsutil_fsync_dir(q->dir, err, errlen);
}

int rn_qlog_open(const char *data_dir, rn_qlog_t **out, char *err, size_t errlen)
{
    rn_qlog_t *q = rn_xcalloc(1, sizeof(*q));
    snprintf(q->dir, sizeof(q->dir), "%s/%s", data_dir, RN_QLOG_DIR);
    char marker[PATH_MAX + 32];
    snprintf(marker, sizeof(marker), "%s/%s", q->dir, RN_QLOG_CLEAN_FILE);
    struct stat st;
    bool fresh = stat(q->dir, &st) != 0 && errno == ENOENT;
    q->was_clean = fresh || access(marker, F_OK) == 0; /* a new directory needs no recovery */
    rn_plog_config_t cfg;
    rn_plog_config_default(&cfg);
    cfg.segment_index_bytes = 1 << 20; /* small log: no 10 MiB index files */
    rn_plog_open_opts_t opts = {.create = 1, .clean = q->was_clean, .now_ms = rn_clock_wall_ms()};
    load_start(q, &opts.log_start_offset);
    int rc = rn_plog_open(q->dir, &cfg, &opts, &q->log);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot open the metadata log: %s", q->dir, rn_strerror(rc));
        rn_free(q);
        return rc;
    }
    if (!fresh && (rc = consume_marker(q, marker, err, errlen)) != 0) {
        rn_qlog_close(q);
        return rc;
    }
    /* The data logs' opens are summarised by rn_logmgr; this one log gets its own line. */
    RN_INFO("quorum", "%s: opened after a%s shutdown: log start %lld, log end %lld", RN_QLOG_DIR,
            q->was_clean ? " clean" : "n unclean", (long long)rn_plog_log_start_offset(q->log),
            (long long)rn_plog_log_end_offset(q->log));
    rn_epochs_init(&q->epochs);
    rc = rn_plog_foreach_batch(q->log, rn_plog_log_start_offset(q->log), -1, rebuild_cb, q);
    if (rc != 0) {
        snprintf(err, errlen, "%s: bad leader epochs in the metadata log", q->dir);
        rn_qlog_close(q);
        return rc;
    }
    rn_epochs_truncate_from_start(&q->epochs, rn_plog_log_start_offset(q->log));
    q->epochs_dirty = true;
    q->opened = true;
    *out = q;
    return 0;
}

static int qlog_flush(void *p);

void rn_qlog_close(rn_qlog_t *q)
{
    if (q == NULL)
        return;
    bool flushed = q->log != NULL && q->opened && qlog_flush(q) == 0;
    if (q->log != NULL)
        rn_plog_close(q->log);
    if (flushed) {
        char marker[PATH_MAX + 32], err[256];
        snprintf(marker, sizeof(marker), "%s/%s", q->dir, RN_QLOG_CLEAN_FILE);
        if (rn_fsutil_write_atomic(marker, "", 0, err, sizeof(err)) != 0)
            RN_WARN("quorum", "%s: the next open will recover the metadata log: %s", q->dir, err);
    } else if (q->opened) {
        RN_WARN("quorum", "%s: the metadata log could not be flushed; no clean-close marker",
                q->dir);
    }
    rn_epochs_destroy(&q->epochs);
    for (size_t i = 0; i < RN_QLOG_READ_SLOTS; i++)
        rn_free(q->slots[i].buf);
    rn_free(q);
}

const char *rn_qlog_dir(const rn_qlog_t *q)
{
    return q->dir;
}

bool rn_qlog_was_clean(const rn_qlog_t *q)
{
    return q->was_clean;
}

static int64_t qlog_end(void *p)
{
    return rn_plog_log_end_offset(((rn_qlog_t *)p)->log);
}

static int64_t qlog_start(void *p)
{
    return rn_plog_log_start_offset(((rn_qlog_t *)p)->log);
}

static int32_t qlog_start_epoch(void *p)
{
    return ((rn_qlog_t *)p)->start_epoch;
}

static int32_t qlog_last_epoch(void *p)
{
    rn_qlog_t *q = p;
    if (qlog_end(q) == qlog_start(q) || q->epochs.count == 0)
        return q->start_epoch;
    return rn_epochs_latest(&q->epochs);
}

static int qlog_append(void *p, int32_t epoch, uint8_t kind, const uint8_t *data, size_t len)
{
    rn_qlog_t *q = p;
    int64_t off = qlog_end(q);
    rn_raft_entry_t entry = {off, epoch, kind, data, len};
    uint8_t *buf;
    size_t blen;
    int rc = rn_qmsg_batch_build(&entry, &buf, &blen);
    if (rc != 0)
        return rc;
    rc = rn_plog_append_follower(q->log, buf, blen, rn_clock_wall_ms(), NULL);
    rn_free(buf);
    if (rc != 0)
        return rc;
    if (rn_epochs_assign(&q->epochs, epoch, off) > 0)
        q->epochs_dirty = true;
    return 0;
}

static int qlog_truncate_to(void *p, int64_t end)
{
    rn_qlog_t *q = p;
    int rc = rn_plog_truncate_to(q->log, end);
    if (rc != 0)
        return rc;
    if (rn_epochs_truncate_from_end(&q->epochs, rn_plog_log_end_offset(q->log)))
        q->epochs_dirty = true;
    return 0;
}

/* The batch holding offset, into the next read slot. */
static int read_batch(rn_qlog_t *q, int64_t offset, uint8_t **out, size_t *out_len)
{
    rn_plog_slice_t slice;
    int rc = rn_plog_read(q->log, offset, 1, -1, &slice);
    if (rc != 0)
        return rc;
    if (slice.length == 0)
        return RN_ERANGE;
    qlog_slot_t *slot = &q->slots[q->next_slot++ % RN_QLOG_READ_SLOTS];
    if (slot->cap < slice.length) {
        rn_free(slot->buf);
        slot->buf = rn_xmalloc(slice.length);
        slot->cap = slice.length;
    }
    ssize_t n = pread(slice.fd, slot->buf, slice.length, (off_t)slice.position);
    size_t want = slice.length;
    rn_plog_slice_release(&slice);
    if (n < 0 || (size_t)n != want)
        return RN_EIO;
    *out = slot->buf;
    *out_len = want;
    return 0;
}

static int qlog_read(void *p, int64_t offset, rn_raft_entry_t *out)
{
    rn_qlog_t *q = p;
    if (offset < qlog_start(q) || offset >= qlog_end(q))
        return RN_ERANGE;
    uint8_t *buf;
    size_t len;
    int rc = read_batch(q, offset, &buf, &len);
    if (rc != 0)
        return rc;
    rc = rn_qmsg_batch_entry(buf, len, out);
    if (rc == 0 && out->offset != offset)
        rc = RN_ECORRUPT;
    return rc;
}

static int qlog_flush(void *p)
{
    rn_qlog_t *q = p;
    int rc = rn_plog_flush(q->log);
    if (rc != 0)
        return rc;
    if (q->epochs_dirty) {
        char err[256];
        if (rn_epochs_save(&q->epochs, q->dir, err, sizeof(err)) != 0) {
            RN_WARN("quorum", "%s", err);
            return RN_EIO;
        }
        q->epochs_dirty = false;
    }
    return 0;
}

/* The last entry of the cache whose epoch <= epoch and which holds an entry of the log. */
static int qlog_epoch_end(void *p, int32_t epoch, int32_t *out_epoch, int64_t *out_end)
{
    rn_qlog_t *q = p;
    int64_t start = qlog_start(q), end = qlog_end(q);
    for (size_t i = q->epochs.count; i > 0; i--) {
        const rn_epoch_entry_t *e = &q->epochs.entries[i - 1];
        if (e->epoch > epoch || e->start_offset >= end)
            continue;
        int64_t last = i < q->epochs.count ? q->epochs.entries[i].start_offset : end;
        if (last <= start)
            return RN_ENOTFOUND;
        *out_epoch = e->epoch;
        *out_end = last;
        return 0;
    }
    return RN_ENOTFOUND;
}

static int qlog_reset(void *p, int64_t start, int32_t start_epoch)
{
    rn_qlog_t *q = p;
    int rc = rn_plog_truncate_fully(q->log, start);
    if (rc != 0)
        return rc;
    rn_epochs_destroy(&q->epochs);
    rn_epochs_init(&q->epochs);
    q->start_epoch = start_epoch;
    q->epochs_dirty = true;
    return save_start(q, start);
}

static int qlog_drop_prefix(void *p, int64_t start)
{
    rn_qlog_t *q = p;
    if (start <= qlog_start(q))
        return 0;
    rn_raft_entry_t last;
    int rc = qlog_read(q, start - 1, &last);
    if (rc != 0)
        return rc;
    q->start_epoch = last.epoch;
    if ((rc = save_start(q, start)) != 0)
        return rc;
    rc = rn_plog_delete_records(q->log, start, NULL);
    if (rc != 0)
        return rc;
    if (rn_epochs_truncate_from_start(&q->epochs, start))
        q->epochs_dirty = true;
    return 0;
}

const rn_raft_log_ops_t rn_qlog_ops = {
    .append = qlog_append,
    .truncate_to = qlog_truncate_to,
    .read = qlog_read,
    .flush = qlog_flush,
    .start_offset = qlog_start,
    .end_offset = qlog_end,
    .start_epoch = qlog_start_epoch,
    .last_epoch = qlog_last_epoch,
    .epoch_end = qlog_epoch_end,
    .reset = qlog_reset,
    .drop_prefix = qlog_drop_prefix,
};
