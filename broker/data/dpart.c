/* One partition's data-path state: its log (owned by rn_logmgr), its idempotent-producer
 * state and its leader-epoch cache, rebuilt at open and saved at clean shutdown (see
 * rn_datapath.h). */
#include "rn_clock.h"
#include "datapath_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_pidsnap.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- leader-epoch cache ---- */

typedef struct epochs_job {
    rn_epochs_t copy;
    char *dir;
    char err[256];
} epochs_job_t;

static int epochs_work(void *arg)
{
    epochs_job_t *job = arg;
    return rn_epochs_save(&job->copy, job->dir, job->err, sizeof(job->err));
}

static void epochs_done(void *arg, int rc)
{
    epochs_job_t *job = arg;
    if (rc != 0)
        RN_WARN("datapath", "cannot save the leader-epoch cache in %s: %s", job->dir, job->err);
    rn_epochs_destroy(&job->copy);
    rn_free(job->dir);
    rn_free(job);
}

void rn__dpart_save_epochs(rn_datapath_t *dp, rn_dpart_t *dpart)
{
    /* Epochs change rarely (leader changes), so every change is one job with its own copy;
     * jobs run in order, so the newest copy is written last. */
    epochs_job_t *job = rn_xcalloc(1, sizeof(*job));
    rn_epochs_init(&job->copy);
    for (size_t i = 0; i < dpart->epochs.count; i++)
        rn_epochs_assign(&job->copy, dpart->epochs.entries[i].epoch,
                         dpart->epochs.entries[i].start_offset);
    job->dir = rn_xstrdup(dpart->dir);
    dpart->epochs_unsaved = false;
    rn_offload_submit(dp->b->offload, epochs_work, epochs_done, job);
}

void rn__dpart_save_epochs_lazily(rn_datapath_t *dp, rn_dpart_t *dpart)
{
    /* Only a log that never held a record: a crash before its first append loses entries
     * that start at offset 0 of an empty log, which the next open assigns again (leader) or
     * the first fetched batch brings (follower). */
    if (rn_plog_log_end_offset(dpart->log) == 0 && rn_plog_log_start_offset(dpart->log) == 0)
        dpart->epochs_unsaved = true;
    else
        rn__dpart_save_epochs(dp, dpart);
}

static void open_epochs(rn_datapath_t *dp, rn_dpart_t *dpart)
{
    char err[256];
    rn_plog_t *log = dpart->log;
    if (rn_epochs_load(&dpart->epochs, dpart->dir, err, sizeof(err)) != 0)
        RN_WARN("datapath", "%s: leader-epoch cache unreadable, starting empty: %s", dpart->dir,
                err);
    /* Recovery may have cut the log; the log start may have moved (as Kafka does at load). */
    bool changed = rn_epochs_truncate_from_end(&dpart->epochs, rn_plog_log_end_offset(log));
    changed |= rn_epochs_truncate_from_start(&dpart->epochs, rn_plog_log_start_offset(log));
    /* Becoming leader starts the current epoch at the log end (Kafka's makeLeader). */
    rn_partition_t *part = dpart->part;
    if (part->leader_id == dp->b->node_id && part->leader_epoch >= 0 &&
        rn_epochs_assign(&dpart->epochs, part->leader_epoch, rn_plog_log_end_offset(log)) == 1)
        changed = true;
    if (changed)
        rn__dpart_save_epochs_lazily(dp, dpart);
}

/* ---- producer state ---- */

typedef struct replay {
    rn_pidstate_t *pids;
    int64_t from;
    size_t batches;
} replay_t;

static int replay_batch(void *arg, const rn_batch_header_t *hdr, int fd, uint64_t position)
{
    replay_t *rp = arg;
    if (hdr->producer_id < 0 || rn_batch_is_control(hdr) || rn_batch_last_offset(hdr) < rp->from)
        return 0;
    rn_pidstate_batch_t batch = {
        .first_seq = hdr->base_sequence,
        .last_seq = rn_pidstate_last_seq(hdr->base_sequence, hdr->last_offset_delta + 1),
        .first_offset = hdr->base_offset,
        .last_offset = rn_batch_last_offset(hdr),
        .timestamp = hdr->max_timestamp,
    };
    rn_pidstate_update(rp->pids, hdr->producer_id, hdr->producer_epoch, &batch);
    rp->batches++;
    return 0;
}

static void remove_snapshot(const char *dir, int64_t offset)
{
    char name[RN_PIDSNAP_NAME_SIZE];
    rn_pidsnap_filename(offset, name);
    size_t n = strlen(dir) + sizeof(name) + 2;
    char *path = rn_xmalloc(n);
    snprintf(path, n, "%s/%s", dir, name);
    if (unlink(path) != 0)
        RN_WARN("datapath", "cannot remove %s", path);
    rn_free(path);
}

/* Load the newest usable snapshot (at or below the log end) into pids; returns the offset
 * the replay starts from (the snapshot's, or the log start without one). */
static int64_t load_snapshot(rn_dpart_t *dpart, int64_t start, int64_t end)
{
    int64_t *offsets = NULL;
    size_t count = 0;
    char err[256];
    if (rn_pidsnap_list(dpart->dir, &offsets, &count, err, sizeof(err)) != 0) {
        RN_WARN("datapath", "%s: cannot list producer snapshots: %s", dpart->dir, err);
        return start;
    }
    int64_t from = start;
    for (size_t k = count; k-- > 0;) {
        if (offsets[k] > end) { /* the log was cut below it: stale */
            remove_snapshot(dpart->dir, offsets[k]);
            continue;
        }
        if (offsets[k] < start)
            break; /* older than the log: replaying the whole log is as good */
        rn_pidsnap_entry_t *entries = NULL;
        size_t n = 0;
        if (rn_pidsnap_load(dpart->dir, offsets[k], &entries, &n, err, sizeof(err)) != 0) {
            RN_WARN("datapath", "%s: producer snapshot unusable, removed: %s", dpart->dir, err);
            remove_snapshot(dpart->dir, offsets[k]);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            rn_pidstate_entry_t e = {
                .producer_id = entries[i].producer_id,
                .producer_epoch = entries[i].producer_epoch,
                .last_seq = entries[i].last_sequence,
                .last_offset = entries[i].last_offset,
                .offset_delta = entries[i].offset_delta,
                .timestamp = entries[i].timestamp,
                .coordinator_epoch = entries[i].coordinator_epoch,
                .txn_first_offset = entries[i].current_txn_first_offset,
            };
            rn_pidstate_load(dpart->pids, &e); /* invalid entries are skipped */
        }
        rn_free(entries);
        from = offsets[k];
        break;
    }
    rn_free(offsets);
    return from;
}

static void open_producers(rn_dpart_t *dpart)
{
    rn_plog_t *log = dpart->log;
    int64_t start = rn_plog_log_start_offset(log), end = rn_plog_log_end_offset(log);
    replay_t rp = {dpart->pids, load_snapshot(dpart, start, end), 0};
    if (rp.from < end) {
        int rc = rn_plog_foreach_batch(log, rp.from, -1, replay_batch, &rp);
        if (rc != 0)
            RN_WARN("datapath", "%s: producer state replay stopped at an unreadable batch: %s",
                    dpart->dir, rn_strerror(rc));
    }
    rn_pidstate_evict_below(dpart->pids, start);
    if (rp.batches > 0 || rn_pidstate_count(dpart->pids) > 0)
        RN_INFO("datapath", "%s: %zu producers (snapshot + %zu batches replayed from %lld)",
                rn_plog_name(log), rn_pidstate_count(dpart->pids), rp.batches, (long long)rp.from);
}

typedef struct snap_collect {
    rn_pidsnap_entry_t *entries;
    size_t n;
} snap_collect_t;

static int collect_entry(const rn_pidstate_entry_t *e, void *arg)
{
    snap_collect_t *sc = arg;
    sc->entries[sc->n++] = (rn_pidsnap_entry_t){
        .producer_id = e->producer_id,
        .producer_epoch = e->producer_epoch,
        .last_sequence = e->last_seq,
        .last_offset = e->last_offset,
        .offset_delta = e->offset_delta,
        .timestamp = e->timestamp,
        .coordinator_epoch = e->coordinator_epoch,
        .current_txn_first_offset = e->txn_first_offset,
    };
    return 0;
}

/* Whether <log end>.snapshot would say nothing the files do not: one at the log end is
 * there already (nothing was appended since it was written or loaded), or the log is empty
 * and no producer is known (an open replays nothing either way). A clean stop of a broker
 * with thousands of idle partitions then writes (and fsyncs) nothing for them. */
static bool snapshot_current(rn_dpart_t *dpart, int64_t end, const int64_t *offsets, size_t count)
{
    if (count > 0 && offsets[count - 1] == end)
        return true;
    return count == 0 && end == rn_plog_log_start_offset(dpart->log) &&
           rn_pidstate_count(dpart->pids) == 0;
}

/* Write <log end>.snapshot and remove the older ones (blocking: shutdown). */
static void save_snapshot(rn_dpart_t *dpart)
{
    int64_t end = rn_plog_log_end_offset(dpart->log);
    char err[256];
    int64_t *offsets = NULL;
    size_t count = 0;
    if (rn_pidsnap_list(dpart->dir, &offsets, &count, err, sizeof(err)) == 0 &&
        snapshot_current(dpart, end, offsets, count)) {
        rn_free(offsets);
        return;
    }
    rn_free(offsets);
    offsets = NULL;
    count = 0;
    snap_collect_t sc = {NULL, 0};
    size_t n = rn_pidstate_count(dpart->pids);
    if (n > 0)
        sc.entries = rn_xmalloc(n * sizeof(*sc.entries));
    rn_pidstate_foreach(dpart->pids, collect_entry, &sc);
    if (rn_pidsnap_save(dpart->dir, end, sc.entries, sc.n, err, sizeof(err)) != 0) {
        RN_WARN("datapath", "cannot write the producer snapshot: %s", err);
    } else if (rn_pidsnap_list(dpart->dir, &offsets, &count, err, sizeof(err)) == 0) {
        for (size_t k = 0; k < count; k++)
            if (offsets[k] != end)
                remove_snapshot(dpart->dir, offsets[k]);
    }
    rn_free(offsets);
    rn_free(sc.entries);
}

/* Every change of the cache was handed to the offload thread, which finishes its jobs
 * before partitions close (rn_broker_close), so the file normally holds it already; write
 * it only when it does not (a save that failed), without an fsync per idle partition. */
static void save_epochs_if_changed(rn_dpart_t *dpart)
{
    rn_epochs_t disk;
    rn_epochs_init(&disk);
    char err[256];
    bool same = rn_epochs_load(&disk, dpart->dir, err, sizeof(err)) == 0 &&
                disk.count == dpart->epochs.count;
    for (size_t i = 0; same && i < disk.count; i++)
        same = disk.entries[i].epoch == dpart->epochs.entries[i].epoch &&
               disk.entries[i].start_offset == dpart->epochs.entries[i].start_offset;
    rn_epochs_destroy(&disk);
    if (!same && rn_epochs_save(&dpart->epochs, dpart->dir, err, sizeof(err)) != 0)
        RN_WARN("datapath", "cannot save the leader-epoch cache: %s", err);
}

/* ---- open / close ---- */

/* Open (or create) dpart's log and rebuild its state; on failure leave log NULL, set
 * open_error and the time of the next try. */
static void open_log(rn_datapath_t *dp, rn_dpart_t *dpart)
{
    rn_partition_t *part = dpart->part;
    /* Logs found at start-up were opened (and recovered) by rn_logmgr_load; a partition of
     * a topic created since is new, in the directory its creation prepared. */
    const char *name = part->topic->name;
    int rc = 0;
    rn_plog_t *log = rn_logmgr_get(dp->logmgr, name, part->index);
    if (log == NULL) {
        rn_plog_config_t cfg;
        rn__dp_plog_config(dp, &part->topic->conf, name, &cfg);
        rc = rn_logmgr_create(dp->logmgr, name, part->index, &cfg, &log);
    }
    if (rc != 0) {
        /* Often transient (out of file descriptors): the partition answers
         * KAFKA_STORAGE_ERROR and is tried again on use after a pause. */
        if (dpart->open_failures++ == 0)
            RN_ERROR("datapath",
                     "cannot open the log of %s-%d: %s; the partition answers "
                     "KAFKA_STORAGE_ERROR and is tried again every %d ms",
                     name, part->index, rn_strerror(rc), RN_DP_OPEN_RETRY_MS);
        dpart->open_error = rc;
        dpart->open_retry_ms = rn_clock_mono_ms() + RN_DP_OPEN_RETRY_MS;
        return;
    }
    if (dpart->open_failures > 0)
        RN_INFO("datapath", "opened the log of %s-%d after %d failed tries", name, part->index,
                dpart->open_failures);
    dpart->open_error = 0;
    dpart->open_failures = 0;
    dpart->log = log;
    dpart->dir = rn_xstrdup(rn_plog_dir(log));
    /* What was known committed at the last checkpoint, never past the log end; the replica
     * module moves it on (at once, to the log end, when this node is the only in-sync
     * replica). */
    int64_t hw = rn_logmgr_checkpointed_hw(dp->logmgr, name, part->index);
    int64_t end = rn_plog_log_end_offset(log), start = rn_plog_log_start_offset(log);
    dpart->hw = hw < start ? start : hw > end ? end : hw;
    open_epochs(dp, dpart);
    open_producers(dpart);
}

void rn_datapath_follower_appended(rn_datapath_t *dp, rn_dpart_t *dpart, const uint8_t *buf,
                                   size_t len)
{
    bool epochs_changed = false;
    replay_t rp = {dpart->pids, 0, 0};
    size_t pos = 0;
    rn_batch_header_t hdr;
    while (pos < len && rn_batch_header_parse(buf + pos, len - pos, &hdr) == 0) {
        size_t total = rn_batch_total_size(&hdr);
        if (total == 0 || total > len - pos)
            break;
        if (hdr.partition_leader_epoch > rn_epochs_latest(&dpart->epochs) &&
            rn_epochs_assign(&dpart->epochs, hdr.partition_leader_epoch, hdr.base_offset) == 1)
            epochs_changed = true;
        replay_batch(&rp, &hdr, -1, 0);
        pos += total;
    }
    if (epochs_changed || dpart->epochs_unsaved)
        rn__dpart_save_epochs(dp, dpart);
}

void rn_datapath_truncated(rn_datapath_t *dp, rn_dpart_t *dpart)
{
    rn_plog_t *log = dpart->log;
    int64_t end = rn_plog_log_end_offset(log);
    bool changed = rn_epochs_truncate_from_end(&dpart->epochs, end);
    changed |= rn_epochs_truncate_from_start(&dpart->epochs, rn_plog_log_start_offset(log));
    if (changed)
        rn__dpart_save_epochs(dp, dpart);
    if (dpart->hw > end)
        dpart->hw = end;
    if (dpart->hw < rn_plog_log_start_offset(log))
        dpart->hw = rn_plog_log_start_offset(log);
    /* Producer state may name batches that are gone: rebuilt from the log, as at open. */
    rn_pidstate_free(dpart->pids);
    dpart->pids = rn_pidstate_new();
    open_producers(dpart);
    rn_fetchwait_wake(dp->waits, dpart->part);
}

rn_dpart_t *rn__dpart_open(rn_datapath_t *dp, rn_partition_t *part)
{
    rn_dpart_t *dpart = rn_xcalloc(1, sizeof(*dpart));
    dpart->part = part;
    dpart->pids = rn_pidstate_new();
    rn_epochs_init(&dpart->epochs);
    rn__dp_produce_config(dp, part->topic, dpart);
    open_log(dp, dpart);
    return dpart;
}

void rn__dpart_retry(rn_datapath_t *dp, rn_dpart_t *dpart)
{
    if (dpart->log == NULL && rn_clock_mono_ms() >= dpart->open_retry_ms)
        open_log(dp, dpart);
}

void rn__dpart_close(rn_datapath_t *dp, rn_dpart_t *dpart, bool clean)
{
    if (dpart->log && clean) {
        save_snapshot(dpart);
        if (!dpart->epochs_unsaved) /* else the log is still empty: see epochs_unsaved */
            save_epochs_if_changed(dpart);
    }
    rn_pidstate_free(dpart->pids);
    rn_epochs_destroy(&dpart->epochs);
    rn_free(dpart->dir);
    rn_free(dpart);
}
