/* Partition log: everything that removes data — truncation (replication), DeleteRecords and
 * retention (see rn_plog.h). */
#include "plog_internal.h"
#include "rn_clock.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* Take segs[from..to) out of the list (under the lock), then delete their files and drop the
 * log's references; readers holding slices keep theirs. */
static void drop_segments(rn_plog_t *log, size_t from, size_t to)
{
    if (from >= to)
        return;
    size_t n = to - from;
    rn_segment_t **gone = rn_xmalloc(n * sizeof(*gone));
    pthread_mutex_lock(&log->mu);
    memcpy(gone, log->segs + from, n * sizeof(*gone));
    memmove(log->segs + from, log->segs + to, (log->nsegs - to) * sizeof(*gone));
    log->nsegs -= n;
    pthread_mutex_unlock(&log->mu);
    for (size_t i = 0; i < n; i++) {
        if (rn_segment_delete(gone[i]) != 0)
            RN_ERROR("log", "%s: cannot remove the files of segment %020" PRId64 ": %s", log->name,
                     gone[i]->base_offset, strerror(errno));
        rn_segment_unref(gone[i]);
    }
    rn_free(gone);
}

/* After the log end moved down to end: keep the recovery point and the running flush's
 * result at or below it. */
static void lower_end(rn_plog_t *log, int64_t end)
{
    pthread_mutex_lock(&log->mu);
    __atomic_store_n(&log->log_end_offset, end, __ATOMIC_RELEASE);
    if (log->recovery_point > end)
        __atomic_store_n(&log->recovery_point, end, __ATOMIC_RELEASE);
    if (log->trunc_low > end)
        log->trunc_low = end;
    pthread_mutex_unlock(&log->mu);
    if (log->log_start_offset > end)
        rn__plog_set_start(log, end);
}

int rn_plog_truncate_fully(rn_plog_t *log, int64_t new_start)
{
    if (new_start < 0)
        return RN_EINVAL;
    int64_t old_end = rn_plog_log_end_offset(log);
    size_t keep = log->nsegs; /* a segment already based at new_start is emptied, not recreated */
    for (size_t i = 0; i < log->nsegs; i++)
        if (log->segs[i]->base_offset == new_start)
            keep = i;
    if (keep == log->nsegs) {
        rn_segment_t *seg;
        int err = rn_segment_create(log->dir, new_start, &log->params, rn_clock_wall_ms(), &seg);
        if (err) {
            RN_ERROR("log", "%s: cannot create segment %020" PRId64 ".log: %s", log->name,
                     new_start, strerror(errno));
            return err;
        }
        pthread_mutex_lock(&log->mu);
        rn__plog_push(log, seg);
        pthread_mutex_unlock(&log->mu);
    } else {
        rn_segment_t *seg = log->segs[keep];
        int err = seg->active ? 0 : rn_segment_make_active(seg);
        if (err == 0)
            err = rn_segment_truncate_to(seg, new_start, NULL);
        if (err)
            return err;
    }
    size_t last = keep == log->nsegs ? log->nsegs - 1 : keep;
    drop_segments(log, last + 1, log->nsegs);
    drop_segments(log, 0, last);
    rn__plog_set_start(log, new_start);
    pthread_mutex_lock(&log->mu);
    __atomic_store_n(&log->log_end_offset, new_start, __ATOMIC_RELEASE);
    __atomic_store_n(&log->recovery_point, new_start, __ATOMIC_RELEASE);
    if (log->trunc_low > new_start)
        log->trunc_low = new_start;
    pthread_mutex_unlock(&log->mu);
    RN_INFO("log",
            "%s: truncated fully and restarted at offset %" PRId64 " (log end was %" PRId64 ")",
            log->name, new_start, old_end);
    return 0;
}

bool rn_plog_truncate_busy(const rn_plog_t *log, int64_t offset)
{
    if (offset < 0 || offset >= rn_plog_log_end_offset(log) ||
        offset <= log->segs[0]->base_offset || offset < log->log_start_offset)
        return false; /* nothing cut, or every segment dropped whole (their files stay open) */
    size_t k = rn__plog_find(log, offset);
    if (log->segs[k]->base_offset == offset)
        return false; /* segments dropped whole */
    return __atomic_load_n(&log->segs[k]->refs, __ATOMIC_ACQUIRE) > 1;
}

int rn_plog_truncate_to(rn_plog_t *log, int64_t offset)
{
    if (offset < 0)
        return RN_EINVAL;
    int64_t old_end = rn_plog_log_end_offset(log);
    if (offset >= old_end)
        return 0;
    if (offset <= log->segs[0]->base_offset || offset < log->log_start_offset)
        return rn_plog_truncate_fully(log, offset);
    size_t k = rn__plog_find(log, offset);
    if (log->segs[k]->base_offset == offset)
        k--; /* that segment holds only offsets >= offset; k > 0 here */
    rn_segment_t *seg = log->segs[k];
    if (!seg->active) {
        int err = rn_segment_make_active(seg);
        if (err)
            return err;
    }
    drop_segments(log, k + 1, log->nsegs);
    uint64_t cut = 0;
    int err = rn_segment_truncate_to(seg, offset, &cut);
    lower_end(log, seg->next_offset);
    RN_INFO("log",
            "%s: truncated to offset %" PRId64 ": log end %" PRId64 " -> %" PRId64 " (%" PRIu64
            " bytes cut from the active segment)",
            log->name, offset, old_end, seg->next_offset, cut);
    return err;
}

int rn_plog_delete_records(rn_plog_t *log, int64_t offset, int64_t *new_start)
{
    int err = 0;
    if (offset > rn_plog_log_end_offset(log)) {
        err = RN_ERANGE;
    } else if (offset > log->log_start_offset) {
        RN_INFO("log", "%s: log start offset %" PRId64 " -> %" PRId64 " (DeleteRecords)", log->name,
                log->log_start_offset, offset);
        rn__plog_set_start(log, offset);
        size_t n = 0;
        while (n + 1 < log->nsegs && log->segs[n + 1]->base_offset <= offset)
            n++;
        drop_segments(log, 0, n);
    }
    if (new_start != NULL)
        *new_start = log->log_start_offset;
    return err;
}

int rn_plog_retain(rn_plog_t *log, int64_t now_ms, int *deleted)
{
    const rn_plog_config_t *cfg = &log->cfg;
    uint64_t total = rn_plog_size(log);
    size_t n = 0;
    /* Oldest first, never the active segment, stop at the first one that must stay. */
    while (n + 1 < log->nsegs) {
        rn_segment_t *seg = log->segs[n];
        int64_t largest = rn_segment_largest_timestamp(seg);
        if (log->segs[n + 1]->base_offset <= log->log_start_offset) {
            RN_INFO("log",
                    "%s: deleting segment %020" PRId64 ": below the log start offset %" PRId64,
                    log->name, seg->base_offset, log->log_start_offset);
        } else if (cfg->retention_ms >= 0 && now_ms - largest > cfg->retention_ms) {
            RN_INFO("log",
                    "%s: deleting segment %020" PRId64 ": largest timestamp %" PRId64
                    " is more than retention.ms=%" PRId64 " old",
                    log->name, seg->base_offset, largest, cfg->retention_ms);
        } else if (cfg->retention_bytes >= 0 &&
                   total - seg->size >= (uint64_t)cfg->retention_bytes) {
            RN_INFO("log",
                    "%s: deleting segment %020" PRId64 ": log size %" PRIu64
                    " exceeds retention.bytes=%" PRId64,
                    log->name, seg->base_offset, total, cfg->retention_bytes);
        } else {
            break;
        }
        total -= seg->size;
        n++;
    }
    drop_segments(log, 0, n);
    if (log->log_start_offset < log->segs[0]->base_offset)
        rn__plog_set_start(log, log->segs[0]->base_offset);
    if (deleted != NULL)
        *deleted = (int)n;
    return 0;
}
