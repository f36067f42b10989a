/* The partition log: configuration, append, roll, read, timestamp lookups, flush, and the
 * segment list (see rn_plog.h). Opening and recovery live in plog_open.c, truncation and
 * retention in plog_trim.c. */
#include "plog_internal.h"
#include "rn_clock.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_flusher.h"
#include "rn_log.h"
#include "rn_vec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KIB    1024LL
#define DAY_MS (24LL * 3600 * 1000)

void rn_plog_config_default(rn_plog_config_t *cfg)
{
    cfg->segment_bytes = 1024 * KIB * KIB;
    cfg->segment_ms = 7 * DAY_MS;
    cfg->segment_index_bytes = 10 * KIB * KIB;
    cfg->index_interval_bytes = 4096;
    cfg->retention_ms = 7 * DAY_MS;
    cfg->retention_bytes = -1;
    cfg->flush_messages = INT64_MAX;
    cfg->flush_ms = INT64_MAX;
    cfg->log_append_time = 0;
}

int rn_plog_config_validate(const rn_plog_config_t *cfg, char *err, size_t errlen)
{
    const char *bad = NULL;
    if (cfg->segment_bytes < 14 || cfg->segment_bytes > INT32_MAX)
        bad = "segment.bytes must be between 14 and 2147483647";
    else if (cfg->segment_ms < 1)
        bad = "segment.ms must be at least 1";
    else if (cfg->segment_index_bytes < 4 || cfg->segment_index_bytes > INT32_MAX)
        bad = "segment.index.bytes must be between 4 and 2147483647";
    else if (cfg->index_interval_bytes < 0 || cfg->index_interval_bytes > INT32_MAX)
        bad = "index.interval.bytes must be between 0 and 2147483647";
    else if (cfg->retention_ms < -1)
        bad = "retention.ms must be -1 (keep forever) or at least 0";
    else if (cfg->flush_messages < 1)
        bad = "flush.messages must be at least 1";
    else if (cfg->flush_ms < 0)
        bad = "flush.ms must be at least 0";
    if (bad == NULL)
        return 0;
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", bad);
    return RN_EINVAL;
}

void rn__plog_params(const rn_plog_config_t *cfg, rn_segment_params_t *params)
{
    params->index_max_bytes = (size_t)cfg->segment_index_bytes;
    params->index_interval_bytes = (uint32_t)cfg->index_interval_bytes;
}

rn_plog_t *rn__plog_alloc(const char *dir, const rn_plog_config_t *cfg)
{
    rn_plog_t *log = rn_xcalloc(1, sizeof(*log));
    log->dir = rn_xstrdup(dir);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    const char *base = dir + len;
    while (base > dir && base[-1] != '/')
        base--;
    log->name = rn_xstrndup(base, (size_t)(dir + len - base));
    log->cfg = *cfg;
    rn__plog_params(cfg, &log->params);
    log->flush_ms = cfg->flush_ms;
    log->trunc_low = INT64_MAX;
    log->last_flush_ms = rn_clock_mono_ms();
    log->refs = 1;
    pthread_mutex_init(&log->mu, NULL);
    pthread_mutex_init(&log->flush_mu, NULL);
    return log;
}

void rn__plog_push(rn_plog_t *log, rn_segment_t *seg)
{
    rn_vec_xpush(log->segs, log->nsegs, log->cap, seg);
}

size_t rn__plog_find(const rn_plog_t *log, int64_t offset)
{
    size_t lo = 0, hi = log->nsegs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (log->segs[mid]->base_offset <= offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == 0 ? 0 : lo - 1;
}

void rn__plog_ref(rn_plog_t *log)
{
    __atomic_add_fetch(&log->refs, 1, __ATOMIC_RELAXED);
}

void rn__plog_unref(rn_plog_t *log)
{
    if (__atomic_sub_fetch(&log->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < log->nsegs; i++)
        rn_segment_unref(log->segs[i]);
    pthread_mutex_destroy(&log->mu);
    pthread_mutex_destroy(&log->flush_mu);
    rn_free(log->segs);
    rn_free(log->dir);
    rn_free(log->name);
    rn_free(log);
}

void rn_plog_close(rn_plog_t *log)
{
    if (log == NULL)
        return;
    rn_plog_set_flusher(log, NULL);
    if (log->nsegs > 0 && rn_segment_seal(rn__plog_active(log)) != 0)
        RN_WARN("log",
                "%s: cannot trim the active segment's indexes at close: %s; they will be "
                "checked and rebuilt if needed at the next open",
                log->name, strerror(errno));
    rn__plog_unref(log);
}

int rn_plog_set_config(rn_plog_t *log, const rn_plog_config_t *cfg)
{
    char why[128];
    if (rn_plog_config_validate(cfg, why, sizeof(why)) != 0) {
        RN_WARN("log", "%s: configuration refused: %s", log->name, why);
        return RN_EINVAL;
    }
    log->cfg = *cfg;
    rn__plog_params(cfg, &log->params);
    __atomic_store_n(&log->flush_ms, cfg->flush_ms, __ATOMIC_RELAXED);
    return 0;
}

const rn_plog_config_t *rn_plog_config(const rn_plog_t *log)
{
    return &log->cfg;
}

void rn_plog_set_flusher(rn_plog_t *log, struct rn_flusher *flusher)
{
    if (log->flusher == flusher)
        return;
    if (log->flusher != NULL)
        rn_flusher_remove(log->flusher, log);
    log->flusher = flusher;
    if (flusher != NULL)
        rn_flusher_add(flusher, log);
}

int64_t rn_plog_log_start_offset(const rn_plog_t *log)
{
    return __atomic_load_n(&log->log_start_offset, __ATOMIC_RELAXED);
}

int64_t rn_plog_log_end_offset(const rn_plog_t *log)
{
    return __atomic_load_n(&log->log_end_offset, __ATOMIC_RELAXED);
}

int64_t rn_plog_recovery_point(rn_plog_t *log)
{
    return __atomic_load_n(&log->recovery_point, __ATOMIC_ACQUIRE);
}

uint64_t rn_plog_size(const rn_plog_t *log)
{
    uint64_t total = 0;
    for (size_t i = 0; i < log->nsegs; i++)
        total += log->segs[i]->size;
    return total;
}

const char *rn_plog_name(const rn_plog_t *log)
{
    return log->name;
}

const char *rn_plog_dir(const rn_plog_t *log)
{
    return log->dir;
}

size_t rn_plog_segment_count(const rn_plog_t *log)
{
    return log->nsegs;
}

rn_segment_t *rn_plog_segment_at(const rn_plog_t *log, size_t i)
{
    return i < log->nsegs ? log->segs[i] : NULL;
}

/* ---- append ---- */

/* Kafka's roll rule, checked before an append of len bytes holding offsets first..last whose
 * largest timestamp is max_ts. An empty segment rolls only when it cannot hold the offsets. */
static int should_roll(const rn_plog_t *log, const rn_segment_t *seg, size_t len, int64_t first,
                       int64_t last, int64_t max_ts, int64_t now_ms)
{
    if (first < seg->base_offset || last - seg->base_offset > INT32_MAX)
        return 1;
    if (seg->size == 0)
        return 0;
    if (seg->size + len > (uint64_t)log->cfg.segment_bytes)
        return 1;
    /* segment.ms counts from the first batch's timestamp when it has one (Kafka), else from
     * when this process opened the segment. */
    int64_t waited =
        seg->rolling_timestamp >= 0 ? max_ts - seg->rolling_timestamp : now_ms - seg->created_ms;
    if (waited > log->cfg.segment_ms)
        return 1;
    return rn_index_is_full(&seg->index) || rn_timeindex_is_full(&seg->tindex);
}

static void request_flush(rn_plog_t *log)
{
    if (log->flusher != NULL)
        rn_flusher_request(log->flusher, log);
}

static int roll(rn_plog_t *log, int64_t base_offset, int64_t now_ms)
{
    rn_segment_t *old = rn__plog_active(log), *seg;
    int err = rn_segment_create(log->dir, base_offset, &log->params, now_ms, &seg);
    if (err) {
        RN_ERROR("log", "%s: cannot create segment %020" PRId64 ".log: %s", log->name, base_offset,
                 strerror(errno));
        return err;
    }
    if (rn_segment_seal(old) != 0)
        RN_WARN("log", "%s: cannot trim the indexes of segment %020" PRId64 ": %s", log->name,
                old->base_offset, strerror(errno));
    pthread_mutex_lock(&log->mu);
    rn__plog_push(log, seg);
    pthread_mutex_unlock(&log->mu);
    RN_INFO("log",
            "%s: rolled new segment at offset %" PRId64 " (previous %020" PRId64 ".log: %" PRIu64
            " bytes)",
            log->name, base_offset, old->base_offset, old->size);
    request_flush(log); /* Kafka flushes the rolled segment in the background */
    return 0;
}

/* Write validated batches holding first..last (max timestamp max_ts) to the active segment,
 * rolling first when needed, then publish the new log end. */
static int write_batches(rn_plog_t *log, const uint8_t *buf, size_t len, int64_t first,
                         int64_t last, int64_t max_ts, int64_t now_ms)
{
    if (len > (uint64_t)log->cfg.segment_bytes)
        return RN_ETOOBIG;
    if (should_roll(log, rn__plog_active(log), len, first, last, max_ts, now_ms)) {
        int err = roll(log, first, now_ms);
        if (err)
            return err;
    }
    rn_segment_t *seg = rn__plog_active(log);
    int err = rn_segment_append(seg, buf, len);
    if (err) {
        RN_ERROR("log", "%s: append of %zu bytes to segment %020" PRId64 ".log failed: %s",
                 log->name, len, seg->base_offset, strerror(errno));
        return err;
    }
    __atomic_store_n(&log->log_end_offset, last + 1, __ATOMIC_RELEASE);
    if (log->cfg.flush_messages != INT64_MAX &&
        last + 1 - rn_plog_recovery_point(log) >= log->cfg.flush_messages)
        request_flush(log);
    return 0;
}

/* buf must be whole batches back to back. crc_checked: the caller ran rn_batch_validate on
 * each, so only the framing is checked again (the walk below relies on it). */
static int validate_batches(const uint8_t *buf, size_t len, bool crc_checked)
{
    if (len == 0)
        return RN_ETRUNC;
    size_t off = 0;
    while (off < len) {
        rn_batch_header_t hdr;
        int err = crc_checked ? rn_batch_header_parse(buf + off, len - off, &hdr)
                              : rn_batch_validate(buf + off, len - off, &hdr);
        if (err)
            return err;
        if (rn_batch_total_size(&hdr) > len - off)
            return RN_ETRUNC;
        off += rn_batch_total_size(&hdr);
    }
    return 0;
}

static void info_init(rn_plog_append_info_t *info)
{
    memset(info, 0, sizeof(*info));
    info->base_offset = -1;
    info->last_offset = -1;
    info->max_timestamp = -1;
    info->offset_of_max_timestamp = -1;
    info->log_append_time = -1;
}

static void info_add(rn_plog_append_info_t *info, const rn_batch_header_t *hdr)
{
    int64_t last = rn_batch_last_offset(hdr);
    if (info->batch_count == 0)
        info->base_offset = hdr->base_offset;
    info->last_offset = last;
    if (hdr->max_timestamp > info->max_timestamp) {
        info->max_timestamp = hdr->max_timestamp;
        info->offset_of_max_timestamp = last;
    }
    info->batch_count++;
    info->record_count += hdr->record_count;
    info->bytes += rn_batch_total_size(hdr);
}

static int append_leader(rn_plog_t *log, uint8_t *buf, size_t len, int32_t leader_epoch,
                         int64_t now_ms, rn_plog_append_info_t *info, bool crc_checked)
{
    rn_plog_append_info_t local;
    if (info == NULL)
        info = &local;
    info_init(info);
    int err = validate_batches(buf, len, crc_checked);
    if (err)
        return err;
    int64_t next = rn_plog_log_end_offset(log);
    for (size_t off = 0; off < len;) {
        rn_batch_header_t hdr;
        (void)rn_batch_header_parse(buf + off, len - off, &hdr);
        size_t total = rn_batch_total_size(&hdr);
        if (next > INT64_MAX - 1 - hdr.last_offset_delta)
            return RN_ERANGE;
        rn_batch_set_base_offset(buf + off, next);
        rn_batch_set_leader_epoch(buf + off, leader_epoch);
        hdr.base_offset = next;
        hdr.partition_leader_epoch = leader_epoch;
        if (log->cfg.log_append_time) {
            rn_batch_set_log_append_time(buf + off, total, now_ms);
            hdr.max_timestamp = now_ms;
            info->log_append_time = now_ms;
        }
        info_add(info, &hdr);
        next = rn_batch_last_offset(&hdr) + 1;
        off += total;
    }
    err = write_batches(log, buf, len, info->base_offset, info->last_offset, info->max_timestamp,
                        now_ms);
    info->log_start_offset = log->log_start_offset;
    return err;
}

int rn_plog_append(rn_plog_t *log, uint8_t *buf, size_t len, int32_t leader_epoch, int64_t now_ms,
                   rn_plog_append_info_t *info)
{
    return append_leader(log, buf, len, leader_epoch, now_ms, info, false);
}

int rn_plog_append_validated(rn_plog_t *log, uint8_t *buf, size_t len, int32_t leader_epoch,
                             int64_t now_ms, rn_plog_append_info_t *info)
{
    return append_leader(log, buf, len, leader_epoch, now_ms, info, true);
}

int rn_plog_append_follower(rn_plog_t *log, const uint8_t *buf, size_t len, int64_t now_ms,
                            rn_plog_append_info_t *info)
{
    rn_plog_append_info_t local;
    if (info == NULL)
        info = &local;
    info_init(info);
    int err = validate_batches(buf, len, false);
    if (err)
        return err;
    int64_t next = rn_plog_log_end_offset(log);
    for (size_t off = 0; off < len;) {
        rn_batch_header_t hdr;
        (void)rn_batch_header_parse(buf + off, len - off, &hdr);
        if (hdr.base_offset < next || hdr.last_offset_delta > INT64_MAX - hdr.base_offset) {
            RN_WARN("log",
                    "%s: follower append refused: batch at offset %" PRId64
                    " is below the next expected offset %" PRId64,
                    log->name, hdr.base_offset, next);
            return RN_EINVAL;
        }
        info_add(info, &hdr);
        next = rn_batch_last_offset(&hdr) + 1;
        off += rn_batch_total_size(&hdr);
    }
    err = write_batches(log, buf, len, info->base_offset, info->last_offset, info->max_timestamp,
                        now_ms);
    info->log_start_offset = log->log_start_offset;
    return err;
}

/* ---- read ---- */

int rn_plog_read(rn_plog_t *log, int64_t offset, int64_t max_bytes, int64_t max_offset,
                 rn_plog_slice_t *slice)
{
    memset(slice, 0, sizeof(*slice));
    slice->fd = -1;
    slice->first_offset = offset;
    int64_t end = rn_plog_log_end_offset(log);
    if (offset < log->log_start_offset || offset > end)
        return RN_ERANGE;
    if (max_offset < 0)
        max_offset = INT64_MAX;
    if (offset >= end || offset >= max_offset)
        return 0;
    /* Compaction may leave a segment without the offset; the next one then holds it. */
    for (size_t i = rn__plog_find(log, offset); i < log->nsegs; i++) {
        rn_segment_t *seg = log->segs[i];
        uint64_t pos;
        rn_batch_header_t hdr;
        int err = rn_segment_translate(seg, offset, &pos, &hdr);
        if (err == RN_ENOTFOUND)
            continue;
        if (err)
            return err;
        if (rn_batch_last_offset(&hdr) >= max_offset)
            return 0;
        uint64_t limit = max_bytes > 0 ? pos + (uint64_t)max_bytes : pos;
        if (max_offset < seg->next_offset) {
            uint64_t hw_pos;
            rn_batch_header_t hw_hdr;
            if (rn_segment_translate(seg, max_offset, &hw_pos, &hw_hdr) == 0 && hw_pos < limit)
                limit = hw_pos;
        }
        uint64_t stop;
        err = rn_segment_batches_end(seg, pos, limit, &stop);
        if (err)
            return err;
        rn_segment_ref(seg);
        slice->seg = seg;
        slice->fd = seg->fd;
        slice->position = pos;
        slice->length = stop - pos;
        slice->first_offset = hdr.base_offset;
        return 0;
    }
    return 0;
}

void rn_plog_slice_release(rn_plog_slice_t *slice)
{
    rn_segment_unref(slice->seg);
    slice->seg = NULL;
    slice->fd = -1;
    slice->length = 0;
}

int rn_plog_foreach_batch(rn_plog_t *log, int64_t from_offset, int64_t to_offset,
                          rn_plog_batch_cb cb, void *arg)
{
    if (to_offset < 0)
        to_offset = INT64_MAX;
    for (size_t i = rn__plog_find(log, from_offset); i < log->nsegs; i++) {
        rn_segment_t *seg = log->segs[i];
        uint64_t pos;
        rn_batch_header_t hdr;
        int err = rn_segment_translate(seg, from_offset, &pos, &hdr);
        if (err == RN_ENOTFOUND)
            continue;
        if (err)
            return err;
        while (pos < seg->size) {
            if ((err = rn_segment_read_header(seg, pos, &hdr)) != 0)
                return err;
            if (hdr.base_offset >= to_offset)
                return 0;
            if ((err = cb(arg, &hdr, seg->fd, pos)) != 0)
                return err;
            pos += rn_batch_total_size(&hdr);
        }
    }
    return 0;
}

/* ---- timestamps ---- */

int rn_plog_offset_for_timestamp(rn_plog_t *log, int64_t ts, rn_segment_ts_hit_t *hit)
{
    for (size_t i = rn__plog_find(log, log->log_start_offset); i < log->nsegs; i++) {
        rn_segment_t *seg = log->segs[i];
        if (seg->max_timestamp < ts)
            continue;
        int err = rn_segment_find_timestamp(seg, ts, log->log_start_offset, hit);
        if (err != RN_ENOTFOUND)
            return err;
    }
    return RN_ENOTFOUND;
}

int rn_plog_offset_for_timestamp_deferred(rn_plog_t *log, int64_t ts, int64_t min_offset,
                                          rn_segment_ts_hit_t *hit, rn_segment_t **seg_out,
                                          rn_segment_ts_batch_t *batch)
{
    if (min_offset < log->log_start_offset)
        min_offset = log->log_start_offset;
    for (size_t i = rn__plog_find(log, min_offset); i < log->nsegs; i++) {
        rn_segment_t *seg = log->segs[i];
        if (seg->max_timestamp < ts)
            continue;
        int err = rn_segment_find_timestamp_deferred(seg, ts, min_offset, hit, batch);
        if (err == 1) {
            rn_segment_ref(seg);
            *seg_out = seg;
        }
        if (err != RN_ENOTFOUND)
            return err;
    }
    return RN_ENOTFOUND;
}

int rn_plog_max_timestamp_deferred(rn_plog_t *log, rn_segment_ts_hit_t *hit, rn_segment_t **seg_out,
                                   rn_segment_ts_batch_t *batch)
{
    rn_segment_t *best = NULL;
    for (size_t i = rn__plog_find(log, log->log_start_offset); i < log->nsegs; i++) {
        rn_segment_t *seg = log->segs[i];
        if (seg->next_offset > log->log_start_offset && seg->max_timestamp >= 0 &&
            (best == NULL || seg->max_timestamp > best->max_timestamp))
            best = seg;
    }
    if (best == NULL)
        return RN_ENOTFOUND;
    /* The answer when the batch holding it lies below the log start. */
    hit->offset = best->offset_of_max_timestamp;
    hit->timestamp = best->max_timestamp;
    hit->leader_epoch = -1;
    rn_segment_ts_hit_t found;
    int err = rn_segment_find_timestamp_deferred(best, best->max_timestamp, log->log_start_offset,
                                                 &found, batch);
    if (err == 1) {
        rn_segment_ref(best);
        *seg_out = best;
        return 1;
    }
    if (err == 0)
        *hit = found;
    return err == RN_ENOTFOUND ? 0 : err;
}

int rn_plog_max_timestamp(rn_plog_t *log, rn_segment_ts_hit_t *hit)
{
    rn_segment_t *best = NULL;
    for (size_t i = rn__plog_find(log, log->log_start_offset); i < log->nsegs; i++) {
        rn_segment_t *seg = log->segs[i];
        if (seg->next_offset > log->log_start_offset && seg->max_timestamp >= 0 &&
            (best == NULL || seg->max_timestamp > best->max_timestamp))
            best = seg;
    }
    if (best == NULL)
        return RN_ENOTFOUND;
    int err = rn_segment_find_timestamp(best, best->max_timestamp, log->log_start_offset, hit);
    if (err == RN_ENOTFOUND) { /* the batch holding it lies below the log start */
        hit->offset = best->offset_of_max_timestamp;
        hit->timestamp = best->max_timestamp;
        hit->leader_epoch = -1;
        err = 0;
    }
    return err;
}

/* ---- flush ---- */

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return RN_EIO;
    int err = fsync(fd) == 0 ? 0 : RN_EIO;
    close(fd);
    return err;
}

int rn_plog_flush(rn_plog_t *log)
{
    pthread_mutex_lock(&log->flush_mu);
    pthread_mutex_lock(&log->mu);
    int64_t target = rn_plog_log_end_offset(log);
    int64_t rp = log->recovery_point;
    if (target <= rp) {
        __atomic_store_n(&log->last_flush_ms, rn_clock_mono_ms(), __ATOMIC_RELAXED);
        pthread_mutex_unlock(&log->mu);
        pthread_mutex_unlock(&log->flush_mu);
        return 0;
    }
    /* Snapshot (with references) every segment that may hold offsets in [rp, target). */
    size_t first = rn__plog_find(log, rp), n = log->nsegs - first;
    rn_segment_t **segs = rn_xmalloc(n * sizeof(*segs));
    for (size_t i = 0; i < n; i++) {
        segs[i] = log->segs[first + i];
        rn_segment_ref(segs[i]);
    }
    log->trunc_low = INT64_MAX;
    pthread_mutex_unlock(&log->mu);

    int err = 0;
    for (size_t i = 0; i < n && err == 0; i++)
        if (rn_segment_sync(segs[i]) != 0) {
            err = RN_EIO;
            RN_ERROR("log", "%s: fsync of segment %020" PRId64 " failed: %s", log->name,
                     segs[i]->base_offset, strerror(errno));
        }
    if (err == 0 && sync_dir(log->dir) != 0) {
        err = RN_EIO;
        RN_ERROR("log", "%s: fsync of the directory failed: %s", log->name, strerror(errno));
    }

    pthread_mutex_lock(&log->mu);
    if (err == 0) {
        /* A truncation during the fsyncs may have replaced flushed offsets with new data. */
        int64_t flushed = target < log->trunc_low ? target : log->trunc_low;
        int64_t end = rn_plog_log_end_offset(log);
        if (flushed > end)
            flushed = end;
        if (flushed > log->recovery_point)
            __atomic_store_n(&log->recovery_point, flushed, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&log->last_flush_ms, rn_clock_mono_ms(), __ATOMIC_RELAXED);
    pthread_mutex_unlock(&log->mu);
    for (size_t i = 0; i < n; i++)
        rn_segment_unref(segs[i]);
    rn_free(segs);
    pthread_mutex_unlock(&log->flush_mu);
    return err;
}

int rn__plog_flush_due(rn_plog_t *log, int64_t now_ms, int64_t *next_ms)
{
    int64_t flush_ms = __atomic_load_n(&log->flush_ms, __ATOMIC_RELAXED);
    *next_ms = INT64_MAX;
    if (flush_ms == INT64_MAX)
        return 0;
    int64_t last = __atomic_load_n(&log->last_flush_ms, __ATOMIC_RELAXED);
    int64_t due = last > INT64_MAX - flush_ms ? INT64_MAX : last + flush_ms;
    int unflushed = rn_plog_log_end_offset(log) > rn_plog_recovery_point(log);
    if (now_ms >= due && unflushed)
        return 1;
    /* Nothing to flush yet: look again one period from now. */
    *next_ms =
        now_ms >= due ? (now_ms > INT64_MAX - flush_ms ? INT64_MAX : now_ms + flush_ms) : due;
    return 0;
}
