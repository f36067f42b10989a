/* gcoord_load.c: rebuilding a __consumer_offsets partition's groups by replaying its log, as
 * Kafka's GroupMetadataManager does: offset commits and group metadata records in log order,
 * the last one of a key wins, a tombstone deletes; then each group is restored (Stable with
 * its members, or Empty) with its offsets, and groups left with neither are dropped.
 *
 * At start-up every partition this node leads is replayed at once (blocking). Later, when
 * this node becomes a partition's leader (rn_gcoord_set_leader), the log is read in chunks of
 * LOAD_CHUNK bytes: the slice is taken on the loop, read by the offload thread, replayed on
 * the loop, then the next one, so the loop is never held for more than one chunk's replay.
 * Each load carries the partition's generation; a leadership change bumps it, and a load
 * that finds it changed stops and frees itself (its entries were dropped with the rest). */
#include "gcoord_int.h"

#include "rn_alloc.h"
#include "rn_arena.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_plog.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define LOAD_CHUNK (1 << 20)

/* ---- loading ---- */

typedef struct load_ctx {
    rn_gcoord_t *gc;
    int32_t partition;
    size_t records;
} load_ctx_t;

static int load_record(void *arg, const rn_groupstore_key_t *key, const uint8_t *value,
                       int32_t value_len, int64_t offset)
{
    load_ctx_t *lc = arg;
    rn_gcoord_t *gc = lc->gc;
    /* The key's group id with every byte: "g\0x" and "g" are different groups. */
    rn_str_t id = key->group.len >= 0 ? key->group : rn_str("");
    gentry_t *e = rn__gcoord_find_entry(gc, id);
    lc->records++;
    if (key->version == RN_GROUPSTORE_KEY_GROUP) {
        if (value == NULL) {
            if (e != NULL) {
                rn_free(e->load_meta);
                e->load_meta = NULL;
                e->load_meta_len = 0;
            }
        } else {
            if (e == NULL)
                e = rn__gcoord_add_entry(gc, id, lc->partition);
            rn_free(e->load_meta);
            e->load_meta = rn_xmalloc((size_t)value_len + 1);
            memcpy(e->load_meta, value, (size_t)value_len);
            e->load_meta_len = (size_t)value_len;
        }
    } else {
        const char *topic = key->topic.len > 0 ? key->topic.ptr : "";
        size_t tlen = key->topic.len > 0 ? (size_t)key->topic.len : 0;
        if (value == NULL) {
            if (e != NULL)
                rn_committed_remove(e->offsets, topic, tlen, key->partition);
        } else {
            rn_groupstore_offset_t v;
            int rc = rn_groupstore_decode_offset(value, (size_t)value_len, &v);
            if (rc == 0) {
                if (e == NULL)
                    e = rn__gcoord_add_entry(gc, id, lc->partition);
                rn_committed_put(e->offsets, topic, tlen, key->partition, &v);
            } else {
                RN_WARN("group",
                        "%s-%d offset %lld: unreadable offset commit for group %s "
                        "(%s); skipped",
                        RN_GROUPSTORE_TOPIC, lc->partition, (long long)offset, RN_STR_ESC(id),
                        rn_strerror(rc));
            }
        }
    }
    return 0;
}

/* Turn what the replay left in the entries of partition p into groups. */
static size_t load_finish(rn_gcoord_t *gc, int32_t p)
{
    size_t groups = 0;
    int64_t now = rn__gcoord_now_ms(gc);
    for (size_t i = 0; i < gc->n;) {
        gentry_t *e = gc->entries[i];
        if (e->partition != p) {
            i++;
            continue;
        }
        bool keep = rn_committed_count(e->offsets) > 0;
        if (e->load_meta != NULL) {
            rn_arena_t arena;
            rn_arena_init(&arena, 0);
            rn_groupstore_group_t meta;
            int rc = rn_groupstore_decode_group(e->load_meta, e->load_meta_len, &arena, &meta);
            if (rc == 0)
                rc = rn_group_restore(e->group, &meta, now);
            if (rc != 0)
                RN_WARN("group",
                        "group=%s: unreadable group metadata record (%s); loaded "
                        "without members",
                        RN_STR_ESC(e->id), rn_strerror(rc));
            else
                keep = true;
            rn_arena_free(&arena);
            rn_free(e->load_meta);
            e->load_meta = NULL;
        }
        if (!keep) {
            rn__gcoord_remove_entry(gc, e);
            continue;
        }
        RN_INFO("group",
                "group=%s: loaded from %s-%d: %s, generation %d, %zu members, %zu "
                "offsets",
                RN_STR_ESC(e->id), RN_GROUPSTORE_TOPIC, p,
                rn_group_state_name(rn_group_state(e->group)), rn_group_generation(e->group),
                rn_group_member_count(e->group), rn_committed_count(e->offsets));
        rn__gcoord_touch(gc, e);
        groups++;
        i++;
    }
    return groups;
}

/* Read a slice whole into buf (which holds slice->length bytes). Bytes read. */
static size_t read_slice(const rn_plog_slice_t *slice, uint8_t *buf)
{
    size_t got = 0;
    while (got < slice->length) {
        ssize_t r =
            pread(slice->fd, buf + got, slice->length - got, (off_t)(slice->position + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

/* Replay got bytes read at *off; *off moves past the batches replayed. 0 or RN_E*. */
static int replay_chunk(load_ctx_t *lc, const uint8_t *buf, size_t got, int64_t *off)
{
    rn_groupstore_progress_t pr;
    int rc = rn_groupstore_replay(buf, got, &pr, load_record, lc);
    if (rc == 0 && pr.consumed == 0)
        rc = RN_ECORRUPT; /* a read that yields no whole batch cannot make progress */
    if (pr.next_offset > *off)
        *off = pr.next_offset;
    return rc;
}

/* Read every batch of the log and replay it (blocking). 0 or RN_E*. */
static int load_log(struct rn_plog *log, load_ctx_t *lc)
{
    int64_t off = rn_plog_log_start_offset(log), end = rn_plog_log_end_offset(log);
    size_t cap = LOAD_CHUNK;
    uint8_t *buf = rn_xmalloc(cap);
    int rc = 0;
    while (off < end && rc == 0) {
        rn_plog_slice_t slice;
        rc = rn_plog_read(log, off, (int64_t)cap, -1, &slice);
        if (rc != 0 || slice.length == 0)
            break;
        if (slice.length > cap) {
            cap = slice.length;
            buf = rn_xrealloc(buf, cap);
        }
        size_t got = read_slice(&slice, buf);
        rn_plog_slice_release(&slice);
        rc = replay_chunk(lc, buf, got, &off);
    }
    rn_free(buf);
    return rc;
}

static void log_replay_error(const load_ctx_t *lc, int rc)
{
    RN_ERROR("group", "%s-%d: replay stopped after %zu records: %s; later records are ignored",
             RN_GROUPSTORE_TOPIC, lc->partition, lc->records, rn_strerror(rc));
}

size_t rn_gcoord_load(rn_gcoord_t *gc)
{
    rn_topic_t *t = rn__gcoord_offsets_topic(gc);
    if (t == NULL)
        return 0;
    size_t groups = 0;
    for (int32_t p = 0; p < t->n_partitions; p++) {
        rn_partition_t *part = rn_topic_partition(t, p);
        gpart_t *gp = rn__gcoord_part(gc, p);
        if (part == NULL || gp->state != PART_NONE || !rn__gcoord_leads(gc, part))
            continue;
        struct rn_plog *log = gc->o.storage.log(gc->o.storage.arg, part);
        if (log == NULL) {
            RN_ERROR("group", "%s-%d cannot be opened; its groups are unavailable",
                     RN_GROUPSTORE_TOPIC, p);
            gp->state = PART_FAILED;
            continue;
        }
        load_ctx_t lc = {gc, p, 0};
        int rc = load_log(log, &lc);
        if (rc != 0)
            log_replay_error(&lc, rc);
        groups += load_finish(gc, p);
        gp->state = PART_LOADED;
    }
    RN_INFO("group", "loaded %zu groups from %s", groups, RN_GROUPSTORE_TOPIC);
    return groups;
}

/* ---- loading while running ---- */

/* One partition's load in chunks. Owned by gc->jobs until it ends; gc is NULL once the
 * coordinator is freed with the job's read still queued on the offload thread. */
struct load_job {
    load_job_t *next;
    rn_gcoord_t *gc;
    int32_t partition;
    uint64_t gen;
    load_ctx_t lc;
    int64_t off;
    rn_plog_slice_t slice; /* the chunk being read (length 0: none) */
    uint8_t *buf;
    size_t cap, got;
    int64_t started_ms;
    size_t chunks;
};

static void job_unlink(rn_gcoord_t *gc, load_job_t *job)
{
    for (load_job_t **pp = &gc->jobs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == job) {
            *pp = job->next;
            return;
        }
    }
}

static void job_free(load_job_t *job)
{
    if (job->slice.length > 0)
        rn_plog_slice_release(&job->slice);
    rn_free(job->buf);
    rn_free(job);
}

/* Whether the job still loads the partition's current leadership. */
static bool job_current(const load_job_t *job)
{
    const rn_gcoord_t *gc = job->gc;
    return gc != NULL && job->partition < gc->n_parts &&
           gc->parts[job->partition].gen == job->gen &&
           gc->parts[job->partition].state == PART_LOADING;
}

/* The load is over (rc 0, or the error that ended it): its groups are served. */
static void job_finish(load_job_t *job, int rc)
{
    rn_gcoord_t *gc = job->gc;
    gpart_t *gp = &gc->parts[job->partition];
    if (rc != 0)
        log_replay_error(&job->lc, rc);
    size_t groups = load_finish(gc, job->partition);
    gp->state = PART_LOADED;
    gp->job = NULL;
    gc->n_loading--;
    RN_INFO("group", "node %d: %s-%d loaded: %zu group(s), %zu record(s) in %zu chunk(s), %lld ms",
            gc->o.node_id, RN_GROUPSTORE_TOPIC, job->partition, groups, job->lc.records,
            job->chunks, (long long)(rn_clock_mono_ms() - job->started_ms));
    job_unlink(gc, job);
    job_free(job);
}

static int job_read(void *arg)
{
    load_job_t *job = arg;
    job->got = read_slice(&job->slice, job->buf);
    return job->got == job->slice.length ? 0 : RN_EIO;
}

static void job_step(load_job_t *job);

static void job_read_done(void *arg, int rc)
{
    load_job_t *job = arg;
    rn_plog_slice_release(&job->slice);
    job->slice.length = 0;
    if (!job_current(job)) {
        /* Overtaken by a leadership change, or the coordinator is gone. */
        if (job->gc != NULL)
            job_unlink(job->gc, job);
        job_free(job);
        return;
    }
    job->chunks++;
    if (rc == 0)
        rc = replay_chunk(&job->lc, job->buf, job->got, &job->off);
    if (rc != 0) {
        job_finish(job, rc);
        return;
    }
    job_step(job);
}

/* Take the next chunk's slice and hand its read to the offload thread, or finish. */
static void job_step(load_job_t *job)
{
    rn_gcoord_t *gc = job->gc;
    rn_topic_t *t = rn__gcoord_offsets_topic(gc);
    rn_partition_t *part = t != NULL ? rn_topic_partition(t, job->partition) : NULL;
    struct rn_plog *log = part != NULL ? gc->o.storage.log(gc->o.storage.arg, part) : NULL;
    if (log == NULL) {
        job_finish(job, RN_ENOTFOUND);
        return;
    }
    if (job->off < rn_plog_log_start_offset(log))
        job->off = rn_plog_log_start_offset(log); /* retention or compaction moved it */
    if (job->off >= rn_plog_log_end_offset(log)) {
        job_finish(job, 0);
        return;
    }
    int rc = rn_plog_read(log, job->off, LOAD_CHUNK, -1, &job->slice);
    if (rc != 0 || job->slice.length == 0) {
        job->slice.length = 0;
        job_finish(job, rc);
        return;
    }
    if (job->slice.length > job->cap) {
        job->cap = job->slice.length;
        job->buf = rn_xrealloc(job->buf, job->cap);
    }
    rn_offload_submit(gc->o.offload, job_read, job_read_done, job);
}

static void load_start(rn_gcoord_t *gc, int32_t p)
{
    gpart_t *gp = rn__gcoord_part(gc, p);
    load_job_t *job = rn_xcalloc(1, sizeof(*job));
    job->gc = gc;
    job->partition = p;
    job->gen = gp->gen;
    job->lc = (load_ctx_t){gc, p, 0};
    job->off = 0;
    job->started_ms = rn_clock_mono_ms();
    job->next = gc->jobs;
    gc->jobs = job;
    gp->state = PART_LOADING;
    gp->job = job;
    gc->n_loading++;
    RN_INFO("group", "node %d: leading %s-%d: loading its groups", gc->o.node_id,
            RN_GROUPSTORE_TOPIC, p);
    job_step(job);
}

void rn_gcoord_set_leader(rn_gcoord_t *gc, rn_partition_t *part, bool leads)
{
    size_t len = strlen(RN_GROUPSTORE_TOPIC);
    if (gc == NULL || part == NULL || part->topic == NULL || part->topic->name_len != len ||
        memcmp(part->topic->name, RN_GROUPSTORE_TOPIC, len) != 0)
        return;
    if (leads && part->topic != rn__gcoord_offsets_topic(gc))
        return; /* being deleted: nothing to load, but groups to drop */
    int32_t p = part->index;
    gpart_t *gp = rn__gcoord_part(gc, p);
    if (leads) {
        if (gp->state == PART_LOADING || gp->state == PART_LOADED)
            return;
        gp->gen++;
        load_start(gc, p);
        return;
    }
    if (gp->state == PART_NONE)
        return;
    if (gp->state == PART_LOADING) {
        gc->n_loading--;
        gp->job = NULL; /* it sees the new generation and frees itself */
    }
    gp->gen++;
    gp->state = PART_NONE;
    RN_INFO("group", "node %d: no longer leading %s-%d: its groups go", gc->o.node_id,
            RN_GROUPSTORE_TOPIC, p);
    rn__gcoord_drop_partition(gc, p, RN_KERR_NOT_COORDINATOR);
}

int32_t rn_gcoord_loading(const rn_gcoord_t *gc)
{
    return gc->n_loading;
}

void rn__gcoord_loads_free(rn_gcoord_t *gc)
{
    /* A job whose read is queued is freed by its done callback (rn_offload_free runs it). */
    while (gc->jobs != NULL) {
        load_job_t *job = gc->jobs;
        gc->jobs = job->next;
        job->gc = NULL;
        job->next = NULL;
        if (job->slice.length == 0)
            job_free(job);
    }
}
