/* The log cleaner: one compaction pass over a partition log — snapshot, offset map, groups
 * rewritten to `.cleaned` files, swaps — and the dirty-ratio measure (see rn_cleaner.h).
 * The per-batch rules live in cleaner_filter.c, the maps in cleaner_map.c, the writer of
 * cleaned segments in cleaner_out.c. */
#include "cleaner_internal.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_log.h"
#include "rn_records.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define DAY_MS (24LL * 3600 * 1000)

void rn_cleaner_config_default(rn_cleaner_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->delete_retention_ms = DAY_MS;
    cfg->min_compaction_lag_ms = 0;
    cfg->producer_expiration_ms = DAY_MS;
    cfg->limit_offset = -1;
    cfg->dedupe_buffer_bytes = 128u << 20;
    cfg->max_batch_bytes = 64u << 20;
}

/* ---- the cleanable range ---- */

/* Owner thread. The dirty range [*first_dirty, *first_uncleanable) and *nsealed = the number
 * of sealed segments based below *first_uncleanable (the only ones a pass may touch). */
static void cleanable_range(const rn_plog_t *log, const rn_cleaner_config_t *cfg,
                            int64_t checkpoint, int64_t now_ms, int64_t *first_dirty,
                            int64_t *first_uncleanable, size_t *nsealed)
{
    size_t n = rn_plog_segment_count(log);
    int64_t end = rn_plog_segment_at(log, n - 1)->base_offset;
    if (cfg->min_compaction_lag_ms > 0) {
        /* Kafka: the first segment holding a batch younger than the lag stays as it is. */
        for (size_t i = 0; i + 1 < n; i++) {
            const rn_segment_t *seg = rn_plog_segment_at(log, i);
            if (now_ms - rn_segment_largest_timestamp(seg) < cfg->min_compaction_lag_ms) {
                end = seg->base_offset;
                break;
            }
        }
    }
    if (cfg->limit_offset >= 0 && cfg->limit_offset < end)
        end = cfg->limit_offset;
    int64_t start = rn_plog_log_start_offset(log);
    int64_t fd = checkpoint;
    if (fd < start || fd > rn_plog_log_end_offset(log))
        fd = start; /* Kafka's reset of a checkpoint outside the log */
    if (fd > end)
        fd = end;
    if (end < fd)
        end = fd;
    size_t k = 0;
    while (k + 1 < n && rn_plog_segment_at(log, k)->base_offset < end)
        k++;
    *first_dirty = fd;
    *first_uncleanable = end;
    *nsealed = k;
}

void rn_cleaner_measure(const rn_plog_t *log, const rn_cleaner_config_t *cfg, int64_t first_dirty,
                        int64_t now_ms, rn_cleaner_dirt_t *dirt)
{
    size_t k;
    memset(dirt, 0, sizeof(*dirt));
    dirt->first_dirty_timestamp = -1;
    cleanable_range(log, cfg, first_dirty, now_ms, &dirt->first_dirty, &dirt->first_uncleanable,
                    &k);
    for (size_t i = 0; i < k; i++) {
        const rn_segment_t *seg = rn_plog_segment_at(log, i);
        if (seg->next_offset <= dirt->first_dirty) {
            dirt->clean_bytes += seg->size;
        } else {
            if (dirt->dirty_bytes == 0 && seg->size > 0)
                dirt->first_dirty_timestamp = seg->rolling_timestamp;
            dirt->dirty_bytes += seg->size;
        }
    }
    uint64_t all = dirt->clean_bytes + dirt->dirty_bytes;
    dirt->dirty_ratio = all ? (double)dirt->dirty_bytes / (double)all : 0.0;
}

/* ---- a pass ---- */

/* A sealed segment as the snapshot saw it; the pass holds a reference. */
typedef struct snap_seg {
    rn_segment_t *seg;
    int64_t base, next;
    uint64_t size;
    int64_t max_timestamp;
} snap_seg_t;

typedef struct pass {
    rn_plog_t *log;
    const rn_cleaner_config_t *cfg;
    int64_t now_ms;
    int64_t checkpoint;
    rn_cleaner_stats_t *stats;
    /* Filled by the snapshot (owner step). */
    int log_ref;
    char *dir, *name;
    rn_segment_params_t params;
    int64_t segment_bytes;
    snap_seg_t *segs;
    size_t nsegs;
    int64_t first_dirty, first_uncleanable;
    /* The group being swapped: segs[from..to), its cleaned segment's base. */
    size_t from, to;
    rn_segment_t **moved; /* the log's references to the group, handed over by the swap */
    int crashed;          /* the fault hook stopped the pass: leave every file as it is */
} pass_t;

static int run_owner(pass_t *p, rn_cleaner_owner_fn fn)
{
    if (p->cfg->run_owner == NULL)
        return fn(p);
    return p->cfg->run_owner(p->cfg->owner_arg, fn, p);
}

static int is_cancelled(const pass_t *p)
{
    return p->cfg->cancelled != NULL && p->cfg->cancelled(p->cfg->cancel_arg);
}

/* Test hook: 1 when the pass must stop here as if the process died. */
static int crash_at(pass_t *p, rn_cleaner_step_t step)
{
    if (p->cfg->fault == NULL || !p->cfg->fault(p->cfg->fault_arg, step))
        return 0;
    RN_WARN("cleaner", "%s: pass stopped by the fault hook at step %d (crash test)", p->name,
            (int)step);
    p->crashed = 1;
    return 1;
}

/* Owner step: references and sizes of the sealed segments below the first uncleanable
 * offset, and what the pass needs of the log's configuration. */
static int snapshot_step(void *arg)
{
    pass_t *p = arg;
    rn_plog_t *log = p->log;
    rn__plog_ref(log);
    p->log_ref = 1;
    const rn_plog_config_t *lc = rn_plog_config(log);
    p->segment_bytes = lc->segment_bytes;
    p->params.index_max_bytes = (size_t)lc->segment_index_bytes;
    p->params.index_interval_bytes = (uint32_t)lc->index_interval_bytes;
    p->dir = rn_xstrdup(rn_plog_dir(log));
    p->name = rn_xstrdup(rn_plog_name(log));
    size_t k;
    cleanable_range(log, p->cfg, p->checkpoint, p->now_ms, &p->first_dirty, &p->first_uncleanable,
                    &k);
    p->segs = rn_xcalloc(k ? k : 1, sizeof(*p->segs));
    for (size_t i = 0; i < k; i++) {
        rn_segment_t *seg = rn_plog_segment_at(log, i);
        rn_segment_ref(seg);
        p->segs[i] =
            (snap_seg_t){seg, seg->base_offset, seg->next_offset, seg->size, seg->max_timestamp};
    }
    p->nsegs = k;
    return 0;
}

/* ---- offset map ---- */

/* Put the keyed records of one batch at or past first_dirty into the map; at the first one
 * at or past end, or that does not fit, set *map_end to its offset and *full. Returns 0 or
 * RN_ENOMEM. */
static int map_batch(pass_t *p, rn__offmap_t *map, const uint8_t *batch,
                     const rn_batch_header_t *hdr, int64_t end, int64_t *map_end, int *full)
{
    rn_records_iter_t it;
    int rc = rn_records_open(&it, batch, rn_batch_total_size(hdr), NULL, p->cfg->max_batch_bytes);
    if (rc == 0) {
        rn_record_t rec;
        while ((rc = rn_records_iter_next(&it, &rec)) == 1) {
            if (rec.offset < p->first_dirty || rec.key.data == NULL)
                continue;
            if (rec.offset >= end ||
                rn__offmap_put(map, rn__cleaner_hash(rec.key.data, (size_t)rec.key.len),
                               rec.offset) != 0) {
                *map_end = rec.offset;
                *full = 1;
                break;
            }
        }
    }
    rn_records_close(&it);
    return rc == RN_ENOMEM ? rc : 0;
}

/* Map the keyed records of [first_dirty, first_uncleanable) in offset order; *map_end gets
 * the end of what was mapped. Stops at the first record that does not fit. */
static int build_map(pass_t *p, rn__offmap_t *map, int64_t *map_end)
{
    int64_t fd = p->first_dirty, end = p->first_uncleanable;
    uint64_t want = 0;
    for (size_t i = 0; i < p->nsegs; i++)
        if (p->segs[i].next > fd)
            want += (uint64_t)(p->segs[i].next - (p->segs[i].base > fd ? p->segs[i].base : fd));
    int err = rn__offmap_init(map, want, p->cfg->dedupe_buffer_bytes);
    if (err) {
        RN_ERROR("cleaner", "%s: cannot allocate the offset map: %s", p->name, rn_strerror(err));
        return err;
    }
    *map_end = fd;
    int full = 0;
    for (size_t i = 0; i < p->nsegs && !full && err == 0; i++) {
        snap_seg_t *s = &p->segs[i];
        if (s->next <= fd)
            continue;
        rn__segreader_t rd;
        rn__segreader_init(&rd, s->seg, s->size, p->name);
        const uint8_t *batch;
        rn_batch_header_t hdr;
        uint64_t pos;
        while (!full && (err = rn__segreader_next(&rd, 1, &batch, &hdr, &pos)) == 1) {
            if (is_cancelled(p)) {
                err = RN_ECANCELED;
                break;
            }
            if (rn_batch_last_offset(&hdr) < fd)
                continue;
            if (hdr.base_offset >= end) {
                full = 1; /* the limit offset cuts this segment */
                break;
            }
            /* Control records carry no keys of the topic. A batch that cannot be decoded
             * stays whole in the cleaned log, so its keys need no mapping either. */
            if (!rn_batch_is_control(&hdr) &&
                (err = map_batch(p, map, batch, &hdr, end, map_end, &full)) != 0)
                break;
            if (!full)
                *map_end = rn_batch_last_offset(&hdr) + 1;
            err = 0;
        }
        rn__segreader_free(&rd);
        if (err == 0 && !full) {
            /* The whole segment is mapped: so is everything up to the next one. */
            int64_t next = i + 1 < p->nsegs ? p->segs[i + 1].base : end;
            if (next > end)
                next = end;
            if (next > *map_end)
                *map_end = next;
        }
    }
    if (*map_end > end)
        *map_end = end;
    p->stats->map_entries = (int64_t)map->entries;
    return err < 0 ? err : 0;
}

/* The last batch of every producer id in the segments about to be cleaned (headers only). */
static int scan_producers(pass_t *p, size_t k, rn__pidmap_t *pids)
{
    int err = 0;
    for (size_t i = 0; i < k && err == 0; i++) {
        rn__segreader_t rd;
        rn__segreader_init(&rd, p->segs[i].seg, p->segs[i].size, p->name);
        const uint8_t *batch;
        rn_batch_header_t hdr;
        uint64_t pos;
        while ((err = rn__segreader_next(&rd, 0, &batch, &hdr, &pos)) == 1)
            if (hdr.producer_id >= 0)
                rn__pidmap_note(pids, hdr.producer_id, rn_batch_last_offset(&hdr),
                                hdr.max_timestamp);
        rn__segreader_free(&rd);
    }
    return err < 0 ? err : 0;
}

/* ---- swap ---- */

static int rename_kind(const pass_t *p, int64_t base, const char *kind, const char *from,
                       const char *to)
{
    char src[PATH_MAX], dst[PATH_MAX];
    snprintf(src, sizeof(src), "%s/%020" PRId64 "%s%s", p->dir, base, kind, from);
    snprintf(dst, sizeof(dst), "%s/%020" PRId64 "%s%s", p->dir, base, kind, to);
    if (rename(src, dst) == 0)
        return 0;
    RN_ERROR("cleaner", "%s: cannot rename %s to %s: %s", p->name, src, dst, strerror(errno));
    return RN_EIO;
}

/* Rename the three files of the cleaned segment; the .log goes last because recovery keys
 * on it (a .log.swap is completed, its indexes rebuilt if missing). */
static int rename_all(const pass_t *p, int64_t base, const char *from, const char *to)
{
    int err = rename_kind(p, base, ".index", from, to);
    if (err == 0)
        err = rename_kind(p, base, ".timeindex", from, to);
    if (err == 0)
        err = rename_kind(p, base, ".log", from, to);
    return err;
}

/* Owner step: the group's segments must still be consecutive sealed segments of the log
 * exactly as the snapshot saw them. */
static int group_intact(const pass_t *p)
{
    size_t n = rn_plog_segment_count(p->log), at = n;
    for (size_t i = 0; i < n; i++)
        if (rn_plog_segment_at(p->log, i) == p->segs[p->from].seg) {
            at = i;
            break;
        }
    size_t len = p->to - p->from;
    if (at + len >= n)
        return 0;
    for (size_t i = 0; i < len; i++) {
        const snap_seg_t *s = &p->segs[p->from + i];
        const rn_segment_t *seg = rn_plog_segment_at(p->log, at + i);
        if (seg != s->seg || seg->active || seg->deleted || seg->size != s->size ||
            seg->next_offset != s->next || seg->max_timestamp != s->max_timestamp)
            return 0;
    }
    return 1;
}

/* Owner step: swap the group's cleaned segment in (see rn_cleaner.h, step 4). */
static int swap_step(void *arg)
{
    pass_t *p = arg;
    int64_t base = p->segs[p->from].base;
    size_t len = p->to - p->from;
    if (!group_intact(p)) {
        RN_INFO("cleaner",
                "%s: segments %020" PRId64 " .. changed while they were cleaned (retention or "
                "truncation); dropping the cleaned copy",
                p->name, base);
        return RN_ECANCELED;
    }
    int err = rename_all(p, base, ".cleaned", ".swap");
    if (err)
        return err;
    if (crash_at(p, RN_CLEANER_STEP_SWAP))
        return RN_ECANCELED;
    for (size_t i = 0; i < len; i++) {
        rn_segment_t *old = p->segs[p->from + i].seg;
        if (rn_segment_delete(old) != 0)
            RN_WARN("cleaner",
                    "%s: cannot remove every file of replaced segment %020" PRId64
                    ": %s; the next open of the log removes them",
                    p->name, old->base_offset, strerror(errno));
        if (i == 0 && crash_at(p, RN_CLEANER_STEP_DELETED))
            return RN_ECANCELED;
    }
    /* From here the old segments are gone from disk: whatever fails leaves the .swap for
     * recovery to complete, and the log serves the old segments' open files until then. */
    if ((err = rename_all(p, base, ".swap", "")) != 0)
        return err;
    if (crash_at(p, RN_CLEANER_STEP_RENAMED))
        return RN_ECANCELED;
    rn_segment_recovery_t rec;
    rn_segment_t *seg;
    err = rn_segment_open(p->dir, p->name, base, &p->params, 0, 0, p->now_ms, &rec, &seg);
    if (err) {
        RN_ERROR("cleaner",
                 "%s: cannot open cleaned segment %020" PRId64 ": %s; serving the replaced "
                 "segments' open files until the log is reopened",
                 p->name, base, strerror(errno));
        return err;
    }
    rn_segment_t **old = rn_xmalloc(len * sizeof(*old));
    for (size_t i = 0; i < len; i++)
        old[i] = p->segs[p->from + i].seg;
    err = rn_plog_replace_segments(p->log, old, len, seg);
    if (err) {
        RN_ERROR("cleaner", "%s: cannot put cleaned segment %020" PRId64 " in the log: %s", p->name,
                 base, rn_strerror(err));
        rn_segment_unref(seg);
        rn_free(old);
        return err;
    }
    p->moved = old;
    return 0;
}

/* ---- cleaning a group ---- */

static size_t group_end(const pass_t *p, size_t from, size_t k)
{
    size_t to = from + 1;
    uint64_t total = p->segs[from].size;
    while (to < k && total + p->segs[to].size <= (uint64_t)p->segment_bytes &&
           p->segs[to].next - 1 - p->segs[from].base <= INT32_MAX) {
        total += p->segs[to].size;
        to++;
    }
    return (int)to;
}

/* Rewrite segs[from..to) into a cleaned segment and swap it in. */
static int clean_group(pass_t *p, rn__filter_t *f, size_t from, size_t to)
{
    rn__cleaned_t out;
    int64_t base = p->segs[from].base;
    int err = rn__cleaned_open(&out, p->dir, base, &p->params);
    int changed = to - from > 1;
    for (size_t s = from; s < to && err == 0; s++) {
        rn__segreader_t rd;
        rn__segreader_init(&rd, p->segs[s].seg, p->segs[s].size, p->name);
        const uint8_t *batch;
        rn_batch_header_t hdr;
        uint64_t pos;
        while ((err = rn__segreader_next(&rd, 1, &batch, &hdr, &pos)) == 1) {
            if (is_cancelled(p)) {
                err = RN_ECANCELED;
                break;
            }
            rn__verdict_t verdict;
            if ((err = rn__filter_batch(f, batch, &hdr, &verdict)) != 0) {
                if (err == RN_ECORRUPT)
                    RN_ERROR("cleaner",
                             "%s: records of the batch at offset %" PRId64 " (segment %020" PRId64
                             ", position %" PRIu64 ") do not parse although its CRC holds",
                             p->name, hdr.base_offset, p->segs[s].base, pos);
                break;
            }
            if (verdict == RN__BATCH_ORIGINAL) {
                err = rn__cleaned_append(&out, batch, &hdr);
            } else if (verdict == RN__BATCH_REWRITTEN) {
                rn_batch_header_t nh;
                (void)rn_batch_header_parse(f->out, f->out_len, &nh);
                err = rn__cleaned_append(&out, f->out, &nh);
                changed = 1;
            } else {
                changed = 1;
            }
            if (err)
                break;
            if (verdict != RN__BATCH_DROP)
                p->stats->batches_written++;
        }
        if (err == 0) {
            p->stats->segments_read++;
            p->stats->bytes_read += p->segs[s].size;
        }
        rn__segreader_free(&rd);
    }
    if (err == 0 && !changed) {
        rn__cleaned_discard(&out); /* nothing to gain from swapping an identical copy */
        return 0;
    }
    uint64_t written = out.size;
    if (err == 0)
        err = rn__cleaned_finish(&out);
    if (err) {
        rn__cleaned_discard(&out);
        return err;
    }
    if (crash_at(p, RN_CLEANER_STEP_CLEANED))
        return RN_ECANCELED;
    p->from = from;
    p->to = to;
    p->moved = NULL;
    err = run_owner(p, swap_step);
    if (p->crashed)
        return err;
    if (err) {
        /* Nothing was deleted unless the old segments went (then the .swap must stay). */
        if (err == RN_ECANCELED)
            rn__cleaned_unlink(p->dir, base, ".cleaned");
        return err;
    }
    for (size_t i = 0; i < to - from; i++)
        rn_segment_unref(p->moved[i]); /* the log's references, off the owner thread */
    rn_free(p->moved);
    p->moved = NULL;
    char why[256];
    if (rn_fsutil_fsync_dir(p->dir, why, sizeof(why)) != 0)
        RN_WARN("cleaner", "%s: %s; the swap may not survive a power failure", p->name, why);
    p->stats->segments_written++;
    p->stats->bytes_written += written;
    return 0;
}

/* ---- the pass ---- */

static void pass_free(pass_t *p)
{
    for (size_t i = 0; i < p->nsegs; i++)
        rn_segment_unref(p->segs[i].seg);
    rn_free(p->segs);
    if (p->log_ref)
        rn__plog_unref(p->log);
    rn_free(p->dir);
    rn_free(p->name);
}

static int clean_segments(pass_t *p)
{
    rn__offmap_t map;
    int64_t map_end;
    int err = build_map(p, &map, &map_end);
    if (err) {
        rn__offmap_free(&map);
        return err;
    }
    size_t k = 0;
    while (k < p->nsegs && p->segs[k].base < map_end)
        k++;
    rn__pidmap_t pids;
    rn__pidmap_init(&pids);
    err = scan_producers(p, k, &pids);
    rn__filter_t f = {
        .map = &map,
        .map_end = map_end,
        .pids = &pids,
        .now_ms = p->now_ms,
        .delete_retention_ms = p->cfg->delete_retention_ms,
        .producer_expiration_ms = p->cfg->producer_expiration_ms,
        .max_batch_bytes = p->cfg->max_batch_bytes,
        .stats = p->stats,
    };
    for (size_t i = 0; i < k && err == 0;) {
        size_t to = group_end(p, i, k);
        err = clean_group(p, &f, i, to);
        i = to;
    }
    rn__filter_free(&f);
    rn__pidmap_free(&pids);
    rn__offmap_free(&map);
    if (err == 0)
        p->stats->end_offset = map_end;
    return err;
}

int rn_cleaner_clean(rn_plog_t *log, const rn_cleaner_config_t *cfg, int64_t first_dirty,
                     int64_t now_ms, rn_cleaner_stats_t *stats)
{
    memset(stats, 0, sizeof(*stats));
    stats->first_dirty = stats->end_offset = first_dirty;
    stats->next_horizon_ms = INT64_MAX;
    pass_t p = {
        .log = log, .cfg = cfg, .now_ms = now_ms, .checkpoint = first_dirty, .stats = stats};
    int err = run_owner(&p, snapshot_step);
    if (err == 0) {
        stats->first_dirty = stats->end_offset = p.first_dirty;
        if (p.nsegs > 0)
            err = clean_segments(&p);
    }
    if (err == 0 && stats->segments_read > 0)
        RN_INFO("cleaner",
                "%s: cleaned offsets %" PRId64 "..%" PRId64 ": %d segment(s) of %" PRIu64
                " bytes -> %d swapped in of %" PRIu64 " bytes; %" PRId64 " of %" PRId64
                " records kept, %" PRId64 " tombstone(s) dropped, %" PRId64 " key(s) mapped",
                p.name, stats->first_dirty, stats->end_offset, stats->segments_read,
                stats->bytes_read, stats->segments_written, stats->bytes_written,
                stats->records_kept, stats->records_read, stats->tombstones_dropped,
                stats->map_entries);
    else if (err != 0 && err != RN_ECANCELED)
        RN_WARN("cleaner", "%s: compaction pass failed: %s", p.name ? p.name : "(log)",
                rn_strerror(err));
    pass_free(&p);
    return err;
}
