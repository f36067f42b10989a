/* The data-path module: start-up and shutdown, the partition-state accessor, checkpoint
 * files, retention and housekeeping (see rn_datapath.h). */
#include "datapath_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_topicconf.h"

#include <event2/event.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CKPT_INTERVAL_MS   60000 /* Kafka's log.flush.offset.checkpoint.interval.ms */
#define CONFIG_INTERVAL_MS 5000  /* topic config changes reach open logs within this */

int64_t rn__dp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rn_datapath_now_ms(void)
{
    return rn__dp_now_ms();
}

int64_t rn__dp_monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

rn_datapath_t *rn_datapath(const rn_broker_t *b)
{
    return b->datapath;
}

rn_fetchwait_t *rn_datapath_waits(const rn_datapath_t *dp)
{
    return dp->waits;
}

rn_pidalloc_t *rn_datapath_pidalloc(const rn_datapath_t *dp)
{
    return dp->pidalloc;
}

void rn_datapath_release_file(void *owner)
{
    rn_segment_unref(owner);
}

void rn__dp_plog_config(const rn_datapath_t *dp, const rn_topic_t *topic, rn_plog_config_t *cfg)
{
    const rn_config_t *bc = dp->b->cfg;
    const rn_topicconf_t *tc = &topic->conf;
    rn_plog_config_default(cfg);
    cfg->segment_bytes = rn_topicconf_int(tc, bc, RN_TC_SEGMENT_BYTES);
    cfg->segment_ms = rn_topicconf_int(tc, bc, RN_TC_SEGMENT_MS);
    cfg->segment_index_bytes = rn_topicconf_int(tc, bc, RN_TC_SEGMENT_INDEX_BYTES);
    cfg->index_interval_bytes = rn_topicconf_int(tc, bc, RN_TC_INDEX_INTERVAL_BYTES);
    cfg->retention_ms = rn_topicconf_int(tc, bc, RN_TC_RETENTION_MS);
    cfg->retention_bytes = rn_topicconf_int(tc, bc, RN_TC_RETENTION_BYTES);
    cfg->flush_messages = rn_topicconf_int(tc, bc, RN_TC_FLUSH_MESSAGES);
    cfg->flush_ms = rn_topicconf_int(tc, bc, RN_TC_FLUSH_MS);
    char buf[64];
    const char *tt =
        rn_topicconf_value(tc, bc, RN_TC_MESSAGE_TIMESTAMP_TYPE, NULL, buf, sizeof(buf));
    cfg->log_append_time = strcasecmp(tt, "LogAppendTime") == 0;
    char err[256];
    if (rn_plog_config_validate(cfg, err, sizeof(err)) != 0) {
        RN_WARN("datapath", "topic %s: %s; using Kafka's defaults for its log", topic->name, err);
        bool lat = cfg->log_append_time;
        rn_plog_config_default(cfg);
        cfg->log_append_time = lat;
    }
}

/* ---- partitions ---- */

static bool hosted_here(const rn_datapath_t *dp, const rn_partition_t *part)
{
    for (int32_t i = 0; i < part->n_replicas; i++)
        if (part->replicas[i] == dp->b->node_id)
            return true;
    return false;
}

rn_dpart_t *rn_datapath_part(rn_datapath_t *dp, rn_partition_t *part)
{
    if (part->user)
        return part->user;
    if (!part->topic->ready || part->topic->deleted || !hosted_here(dp, part))
        return NULL;
    part->user = rn__dpart_open(dp, part);
    return part->user;
}

int64_t rn_dpart_high_watermark(const rn_dpart_t *dpart)
{
    return rn_plog_log_end_offset(dpart->log);
}

int64_t rn_dpart_last_stable_offset(const rn_dpart_t *dpart)
{
    return rn_dpart_high_watermark(dpart);
}

void rn_datapath_appended(rn_datapath_t *dp, rn_dpart_t *dpart, int32_t leader_epoch,
                          int64_t base_offset, int64_t bytes)
{
    if (leader_epoch >= 0 && leader_epoch > rn_epochs_latest(&dpart->epochs) &&
        rn_epochs_assign(&dpart->epochs, leader_epoch, base_offset) == 1)
        rn__dpart_save_epochs(dp, dpart);
    rn_fetchwait_notify(dp->waits, dpart->part, bytes);
}

void rn_datapath_start_moved(rn_datapath_t *dp, rn_dpart_t *dpart)
{
    int64_t start = rn_plog_log_start_offset(dpart->log);
    rn_pidstate_evict_below(dpart->pids, start);
    if (rn_epochs_truncate_from_start(&dpart->epochs, start))
        rn__dpart_save_epochs(dp, dpart);
    rn__dp_save_checkpoints(dp);
    rn_fetchwait_wake(dp->waits, dpart->part);
}

static void partition_removed(rn_partition_t *part, void *arg)
{
    rn_datapath_t *dp = arg;
    rn_fetchwait_wake(dp->waits, part);
    if (part->user) {
        rn__dpart_close(dp, part->user, false);
        part->user = NULL;
    }
}

/* ---- checkpoint files ---- */

typedef struct ckpt_job {
    rn_datapath_t *dp;
    rn_checkpoint_entry_t *recovery, *start;
    size_t n;
    char *recovery_path, *start_path;
    char err[512];
} ckpt_job_t;

static char *data_path(const rn_datapath_t *dp, const char *name)
{
    size_t n = strlen(dp->b->cfg->data_dir) + strlen(name) + 2;
    char *path = rn_xmalloc(n);
    snprintf(path, n, "%s/%s", dp->b->cfg->data_dir, name);
    return path;
}

/* Snapshot the recovery points and log starts of every open log (on the loop). */
static ckpt_job_t *ckpt_collect(rn_datapath_t *dp)
{
    ckpt_job_t *job = rn_xcalloc(1, sizeof(*job));
    job->dp = dp;
    size_t cap = 0;
    rn_topics_t *topics = dp->b->topics;
    for (size_t t = 0; t < rn_topics_count(topics); t++)
        cap += (size_t)rn_topics_at(topics, t)->n_partitions;
    job->recovery = rn_xcalloc(cap ? cap : 1, sizeof(*job->recovery));
    job->start = rn_xcalloc(cap ? cap : 1, sizeof(*job->start));
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_dpart_t *dpart = topic->partitions[i]->user;
            if (!dpart || !dpart->log)
                continue;
            job->recovery[job->n] = (rn_checkpoint_entry_t){rn_xstrdup(topic->name), i,
                                                            rn_plog_recovery_point(dpart->log)};
            job->start[job->n] = (rn_checkpoint_entry_t){rn_xstrdup(topic->name), i,
                                                         rn_plog_log_start_offset(dpart->log)};
            job->n++;
        }
    }
    job->recovery_path = data_path(dp, RN_CHECKPOINT_RECOVERY_POINT);
    job->start_path = data_path(dp, RN_CHECKPOINT_LOG_START);
    return job;
}

static int ckpt_work(void *arg)
{
    ckpt_job_t *job = arg;
    int rc = rn_checkpoint_save(job->start_path, job->start, job->n, job->err, sizeof(job->err));
    if (rc == 0)
        rc = rn_checkpoint_save(job->recovery_path, job->recovery, job->n, job->err,
                                sizeof(job->err));
    return rc;
}

static void ckpt_free(ckpt_job_t *job)
{
    for (size_t i = 0; i < job->n; i++) {
        rn_free(job->recovery[i].topic);
        rn_free(job->start[i].topic);
    }
    rn_free(job->recovery);
    rn_free(job->start);
    rn_free(job->recovery_path);
    rn_free(job->start_path);
    rn_free(job);
}

static void ckpt_done(void *arg, int rc)
{
    ckpt_job_t *job = arg;
    rn_datapath_t *dp = job->dp;
    if (rc != 0)
        RN_WARN("datapath", "cannot write offset checkpoints: %s", job->err);
    ckpt_free(job);
    dp->ckpt_saving = false;
    if (dp->ckpt_dirty && !dp->b->stopping) {
        dp->ckpt_dirty = false;
        rn__dp_save_checkpoints(dp);
    }
}

void rn__dp_save_checkpoints(rn_datapath_t *dp)
{
    /* One job at a time; changes meanwhile are picked up by one more job afterwards. */
    if (dp->ckpt_saving) {
        dp->ckpt_dirty = true;
        return;
    }
    dp->ckpt_saving = true;
    rn_offload_submit(dp->b->offload, ckpt_work, ckpt_done, ckpt_collect(dp));
}

/* ---- housekeeping ---- */

static void retain_all(rn_datapath_t *dp)
{
    rn_topics_t *topics = dp->b->topics;
    int64_t now = rn__dp_now_ms();
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        char buf[64];
        const char *policy = rn_topicconf_value(&topic->conf, dp->b->cfg, RN_TC_CLEANUP_POLICY,
                                                NULL, buf, sizeof(buf));
        bool deletes = strstr(policy, "delete") != NULL;
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_dpart_t *dpart = topic->partitions[i]->user;
            if (!dpart || !dpart->log)
                continue;
            rn_pidstate_expire(dpart->pids, now, RN_DP_PRODUCER_EXPIRATION_MS);
            if (!deletes)
                continue; /* compacted topics keep their segments (the cleaner's job) */
            int64_t before = rn_plog_log_start_offset(dpart->log);
            int deleted = 0;
            int rc = rn_plog_retain(dpart->log, now, &deleted);
            if (rc != 0)
                RN_WARN("datapath", "retention of %s failed: %s", rn_plog_name(dpart->log),
                        rn_strerror(rc));
            if (deleted > 0 || rn_plog_log_start_offset(dpart->log) != before) {
                RN_INFO("datapath", "retention deleted %d segment(s) of %s; log start %lld",
                        deleted, rn_plog_name(dpart->log),
                        (long long)rn_plog_log_start_offset(dpart->log));
                rn_datapath_start_moved(dp, dpart);
            }
        }
    }
}

static void sync_configs(rn_datapath_t *dp)
{
    rn_topics_t *topics = dp->b->topics;
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        rn_plog_config_t cfg;
        bool computed = false;
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_dpart_t *dpart = topic->partitions[i]->user;
            if (!dpart || !dpart->log)
                continue;
            if (!computed) {
                rn__dp_plog_config(dp, topic, &cfg);
                computed = true;
            }
            if (memcmp(rn_plog_config(dpart->log), &cfg, sizeof(cfg)) != 0)
                rn_plog_set_config(dpart->log, &cfg);
        }
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    rn_datapath_t *dp = arg;
    if (dp->b->stopping) {
        /* Shutting down: parked Fetches answer now rather than hold the drain. */
        rn_fetchwait_wake_all(dp->waits);
        return;
    }
    int64_t now = rn__dp_monotonic_ms();
    if (now >= dp->next_config_ms) {
        sync_configs(dp);
        dp->next_config_ms = now + CONFIG_INTERVAL_MS;
    }
    if (now >= dp->next_retain_ms) {
        retain_all(dp);
        int64_t every = rn_config_int(dp->b->cfg, RN_CFG_LOG_RETENTION_CHECK_INTERVAL_MS);
        dp->next_retain_ms = now + (every > 0 ? every : 300000);
    }
    if (now >= dp->next_ckpt_ms) {
        rn__dp_save_checkpoints(dp);
        dp->next_ckpt_ms = now + CKPT_INTERVAL_MS;
    }
}

/* ---- module ---- */

static void open_all(rn_datapath_t *dp)
{
    rn_topics_t *topics = dp->b->topics;
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++)
            rn_datapath_part(dp, topic->partitions[i]);
    }
}

static void load_checkpoints(rn_datapath_t *dp)
{
    char err[512];
    char *path = data_path(dp, RN_CHECKPOINT_RECOVERY_POINT);
    if (rn_checkpoint_load(path, &dp->recovery_cp, err, sizeof(err)) != 0)
        RN_WARN("datapath", "ignoring %s (every log is checked from its start): %s", path, err);
    rn_free(path);
    path = data_path(dp, RN_CHECKPOINT_LOG_START);
    if (rn_checkpoint_load(path, &dp->start_cp, err, sizeof(err)) != 0)
        RN_WARN("datapath", "ignoring %s (log starts fall back to the first segment): %s", path,
                err);
    rn_free(path);
    dp->loaded_cps = true;
}

int rn_datapath_init(rn_broker_t *b, char *err, size_t errlen)
{
    rn_datapath_t *dp = rn_xcalloc(1, sizeof(*dp));
    dp->b = b;
    int rc = rn_pidalloc_open(b->cfg->data_dir, 0, &dp->pidalloc, err, errlen);
    if (rc != 0) {
        rn_free(dp);
        return rc;
    }
    rc = rn_flusher_start(&dp->flusher);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the log flush thread: %s", rn_strerror(rc));
        rn_pidalloc_close(dp->pidalloc);
        rn_free(dp);
        return rc;
    }
    dp->waits = rn_fetchwait_new(b->base);
    b->datapath = dp;

    load_checkpoints(dp);
    open_all(dp);
    rn_checkpoint_free(&dp->recovery_cp);
    rn_checkpoint_free(&dp->start_cp);
    dp->loaded_cps = false;

    rn_topics_hooks_t hooks = {partition_removed, dp};
    rn_topics_set_hooks(b->topics, &hooks);

    int64_t now = rn__dp_monotonic_ms();
    dp->next_config_ms = now + CONFIG_INTERVAL_MS;
    dp->next_retain_ms = now + 30000; /* Kafka waits log.initial.task.delay.ms (30 s) */
    dp->next_ckpt_ms = now + CKPT_INTERVAL_MS;
    dp->tick = event_new(b->base, -1, EV_PERSIST, on_tick, dp);
    struct timeval second = {1, 0};
    event_add(dp->tick, &second);
    return 0;
}

void rn_datapath_shutdown(rn_broker_t *b)
{
    rn_datapath_t *dp = b->datapath;
    if (!dp)
        return;
    event_free(dp->tick);
    /* The server is gone, so no request is parked any more; whatever is left learns of it. */
    rn_fetchwait_free(dp->waits);
    dp->waits = NULL;
    rn_topics_hooks_t none = {NULL, NULL};
    rn_topics_set_hooks(b->topics, &none);

    /* Flush every log so the recovery points reach the log ends, write the checkpoints,
     * then snapshot producers and close (blocking is fine at shutdown). */
    rn_topics_t *topics = b->topics;
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_dpart_t *dpart = topic->partitions[i]->user;
            if (dpart && dpart->log)
                rn_plog_flush(dpart->log);
        }
    }
    ckpt_job_t *job = ckpt_collect(dp);
    if (ckpt_work(job) != 0)
        RN_WARN("datapath", "cannot write offset checkpoints at shutdown: %s", job->err);
    ckpt_free(job);
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_partition_t *part = topic->partitions[i];
            if (part->user) {
                rn__dpart_close(dp, part->user, true);
                part->user = NULL;
            }
        }
    }
    rn_flusher_stop(dp->flusher);
    rn_pidalloc_close(dp->pidalloc);
    b->datapath = NULL;
    rn_free(dp);
}
