/* The data-path module: start-up and shutdown, the partition-state accessor, checkpoint
 * files, retention and housekeeping (see rn_datapath.h). */
#include "datapath_int.h"
#include "data/rn_pdefer.h"
#include "data/rn_tslookup.h"
#include "controller/rn_cluster.h"
#include "replica/rn_replica.h"
#include "rn_clock.h"

#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_log.h"
#include "meta/rn_topicconf.h"

#include <event2/event.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CKPT_INTERVAL_MS 60000 /* Kafka's log.flush.offset.checkpoint.interval.ms */

rn_datapath_t *rn_datapath(const rn_broker_t *b)
{
    return b->datapath;
}

struct rn_pdefer *rn_datapath_pdefer(const rn_datapath_t *dp)
{
    return dp->pdefer;
}

int rn_datapath_produce_workers(const rn_datapath_t *dp)
{
    return dp->produce_workers;
}

struct rn_tslookup *rn_datapath_tslookup(const rn_datapath_t *dp)
{
    return dp->tslookup;
}

rn_fetchwait_t *rn_datapath_waits(const rn_datapath_t *dp)
{
    return dp->waits;
}

rn_pidalloc_t *rn_datapath_pidalloc(const rn_datapath_t *dp)
{
    return dp->pidalloc;
}

rn_fetchsess_cache_t *rn_datapath_sessions(const rn_datapath_t *dp)
{
    return dp->sessions;
}

void rn_datapath_release_file(void *owner)
{
    rn_segment_unref(owner);
}

void rn__dp_plog_config(const rn_datapath_t *dp, const rn_topicconf_t *tc, const char *name,
                        rn_plog_config_t *cfg)
{
    const rn_config_t *bc = dp->b->cfg;
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
        RN_WARN("datapath", "topic %s: %s; using Kafka's defaults for its log", name, err);
        bool lat = cfg->log_append_time;
        rn_plog_config_default(cfg);
        cfg->log_append_time = lat;
    }
}

void rn__dp_produce_config(const rn_datapath_t *dp, const rn_topic_t *topic, rn_dpart_t *dpart)
{
    const rn_config_t *bc = dp->b->cfg;
    char buf[64];
    const char *policy =
        rn_topicconf_value(&topic->conf, bc, RN_TC_CLEANUP_POLICY, NULL, buf, sizeof(buf));
    dpart->compacted = strstr(policy, "compact") != NULL;
    dpart->max_message_bytes = rn_topicconf_int(&topic->conf, bc, RN_TC_MAX_MESSAGE_BYTES);
    dpart->min_insync_replicas = rn_topicconf_int(&topic->conf, bc, RN_TC_MIN_INSYNC_REPLICAS);
    const char *tt =
        rn_topicconf_value(&topic->conf, bc, RN_TC_MESSAGE_TIMESTAMP_TYPE, NULL, buf, sizeof(buf));
    dpart->create_time = strcasecmp(tt, "LogAppendTime") != 0;
    const char *codec =
        rn_topicconf_value(&topic->conf, bc, RN_TC_COMPRESSION_TYPE, NULL, buf, sizeof(buf));
    /* "uncompressed" is the topic config's name for codec none. */
    dpart->compression = strcasecmp(codec, "producer") == 0       ? -1
                         : strcasecmp(codec, "uncompressed") == 0 ? RN_CODEC_NONE
                                                                  : rn_codec_from_name(codec);
    if (dpart->compression < -1)
        dpart->compression = -1;
    dpart->ts_before_max_ms =
        rn_topicconf_int(&topic->conf, bc, RN_TC_MESSAGE_TIMESTAMP_BEFORE_MAX_MS);
    dpart->ts_after_max_ms =
        rn_topicconf_int(&topic->conf, bc, RN_TC_MESSAGE_TIMESTAMP_AFTER_MAX_MS);
}

/* ---- partitions ---- */

rn_dpart_t *rn_datapath_part(rn_datapath_t *dp, rn_partition_t *part)
{
    if (part->user) {
        rn_dpart_t *dpart = part->user;
        if (dpart->log == NULL) {
            rn__dpart_retry(dp, dpart);
            if (dpart->log != NULL)
                rn_replica_attach(dp->b, dpart);
        }
        return dpart;
    }
    /* Not ready: its directory and partition.metadata are still being made durable (a
     * topic answered on commit, rn_topics_commit_records); the caller answers
     * NOT_LEADER_OR_FOLLOWER, as Kafka does for a partition its metadata has and its
     * replica manager does not host yet, and the client retries. */
    if (!part->ready || part->topic->deleted || !rn_partition_has_replica(part, dp->b->node_id))
        return NULL;
    rn_dpart_t *dpart = rn__dpart_open(dp, part);
    part->user = dpart;
    if (dpart->log != NULL)
        rn_replica_attach(dp->b, dpart);
    return dpart;
}

int64_t rn_dpart_high_watermark(const rn_dpart_t *dpart)
{
    return dpart->hw;
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
    else if (dpart->epochs_unsaved)
        rn__dpart_save_epochs(dp, dpart);
    rn_fetchwait_notify(dp->waits, dpart->part, bytes); /* followers read to the log end */
    rn_replica_leader_appended(dp->b, dpart, bytes);
}

void rn_datapath_lead_epoch(rn_datapath_t *dp, rn_dpart_t *dpart, int32_t leader_epoch)
{
    if (leader_epoch >= 0 &&
        rn_epochs_assign(&dpart->epochs, leader_epoch, rn_plog_log_end_offset(dpart->log)) == 1)
        rn__dpart_save_epochs_lazily(dp, dpart);
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

static void partition_changed(rn_partition_t *part, void *arg)
{
    rn_datapath_t *dp = arg;
    rn_replica_changed(dp->b, part);
}

/* rn_topics closes the log (rn_logmgr_close_log) right after this hook. */
static void partition_removed(rn_partition_t *part, void *arg)
{
    rn_datapath_t *dp = arg;
    rn_fetchwait_wake(dp->waits, part);
    rn_fetchwait_wake(dp->waits, rn_replica_hw_key(part));
    if (part->user) {
        rn_replica_detach(dp->b, part->user);
        rn__dpart_close(dp, part->user, false);
        part->user = NULL;
    }
}

/* ---- checkpoint files ---- */

/* rn_logmgr writes the files (fsync) on the offload thread, its one worker. */
typedef struct ckpt_job {
    rn_datapath_t *dp;
    rn_logmgr_t *logmgr;
    rn_checkpoint_entry_t *hws; /* the high watermarks, topic names owned */
    size_t nhw;
    char err[512];
} ckpt_job_t;

/* The high watermark of every open partition, for replication-offset-checkpoint. */
static rn_checkpoint_entry_t *collect_hws(const rn_datapath_t *dp, size_t *n)
{
    rn_topics_t *topics = dp->b->topics;
    size_t count = 0, k = 0;
    for (size_t t = 0; t < rn_topics_count(topics); t++)
        count += (size_t)rn_topics_at(topics, t)->n_partitions;
    rn_checkpoint_entry_t *hws = rn_xcalloc(count ? count : 1, sizeof(*hws));
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_dpart_t *dpart = topic->partitions[i]->user;
            if (dpart == NULL || dpart->log == NULL)
                continue;
            hws[k++] = (rn_checkpoint_entry_t){rn_xstrdup(topic->name), i, dpart->hw};
        }
    }
    *n = k;
    return hws;
}

static void free_hws(rn_checkpoint_entry_t *hws, size_t n)
{
    for (size_t i = 0; i < n; i++)
        rn_free(hws[i].topic);
    rn_free(hws);
}

static int ckpt_work(void *arg)
{
    ckpt_job_t *job = arg;
    rn_logmgr_purge_deleted(job->logmgr); /* retries removals that failed before */
    return rn_logmgr_checkpoint(job->logmgr, job->hws, job->nhw, job->err, sizeof(job->err));
}

static void ckpt_done(void *arg, int rc)
{
    ckpt_job_t *job = arg;
    rn_datapath_t *dp = job->dp;
    free_hws(job->hws, job->nhw);
    rn_free(job); /* a failure was logged by rn_logmgr_checkpoint */
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
    ckpt_job_t *job = rn_xcalloc(1, sizeof(*job));
    job->dp = dp;
    job->logmgr = dp->logmgr;
    job->hws = collect_hws(dp, &job->nhw);
    rn_offload_submit(dp->b->offload, ckpt_work, ckpt_done, job);
}

/* ---- housekeeping ---- */

/* The open data-path state of a log rn_logmgr names, or NULL. */
static rn_dpart_t *find_dpart(const rn_datapath_t *dp, const char *topic, int32_t partition,
                              const rn_plog_t *log)
{
    rn_topic_t *t = rn_topics_find(dp->b->topics, topic, strlen(topic));
    rn_partition_t *part = t ? rn_topic_partition(t, partition) : NULL;
    rn_dpart_t *dpart = part ? part->user : NULL;
    return dpart && dpart->log == log ? dpart : NULL;
}

/* Only logs the data path serves, and of those only topics whose cleanup.policy includes
 * delete: compacted topics keep their segments (the cleaner's job). */
static bool retain_wants(void *arg, const char *topic, int32_t partition, rn_plog_t *log)
{
    rn_datapath_t *dp = arg;
    rn_dpart_t *dpart = find_dpart(dp, topic, partition, log);
    if (!dpart)
        return false;
    char buf[64];
    const char *policy = rn_topicconf_value(&dpart->part->topic->conf, dp->b->cfg,
                                            RN_TC_CLEANUP_POLICY, NULL, buf, sizeof(buf));
    return strstr(policy, "delete") != NULL;
}

static void retain_moved(void *arg, const char *topic, int32_t partition, rn_plog_t *log)
{
    rn_datapath_t *dp = arg;
    rn_dpart_t *dpart = find_dpart(dp, topic, partition, log);
    if (dpart)
        rn_datapath_start_moved(dp, dpart);
}

static void retain_all(rn_datapath_t *dp)
{
    rn_topics_t *topics = dp->b->topics;
    int64_t now = rn_clock_wall_ms();
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_dpart_t *dpart = topic->partitions[i]->user;
            if (dpart && dpart->log)
                rn_pidstate_expire(dpart->pids, now, RN_DP_PRODUCER_EXPIRATION_MS);
        }
    }
    rn_logmgr_retain_ops_t ops = {retain_wants, retain_moved, dp};
    rn_logmgr_retain(dp->logmgr, now, &ops);
}

/* The topic's overrides changed (AlterConfigs): push the new settings to its open logs. */
static void config_changed(rn_topic_t *topic, void *arg)
{
    rn_datapath_t *dp = arg;
    rn_plog_config_t cfg;
    rn__dp_plog_config(dp, &topic->conf, topic->name, &cfg);
    for (int32_t i = 0; i < topic->n_partitions; i++) {
        rn_dpart_t *dpart = topic->partitions[i]->user;
        if (dpart == NULL)
            continue;
        rn__dp_produce_config(dp, topic, dpart);
        if (dpart->log && memcmp(rn_plog_config(dpart->log), &cfg, sizeof(cfg)) != 0)
            rn_plog_set_config(dpart->log, &cfg);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    rn_datapath_t *dp = arg;
    if (dp->b->stopping) {
        /* Shutting down: parked Fetches answer now rather than hold the drain. */
        rn_fetchwait_wake_all(dp->waits);
        rn_pidalloc_expire(dp->pidalloc, INT64_MAX);
        return;
    }
    int64_t now = rn_clock_mono_ms();
    rn_pidalloc_expire(dp->pidalloc, now);
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

/* rn_logmgr_load's config_fn: the log config of a partition found at start-up (a directory
 * of a topic the registry does not know gets the broker's defaults). */
static void log_config(void *arg, const char *topic, int32_t partition, rn_plog_config_t *cfg)
{
    rn_datapath_t *dp = arg;
    rn_topic_t *t = rn_topics_find(dp->b->topics, topic, strlen(topic));
    rn_topicconf_t none = {0};
    rn__dp_plog_config(dp, t ? &t->conf : &none, topic, cfg);
}

int rn_datapath_init(rn_broker_t *b, char *err, size_t errlen)
{
    rn_datapath_t *dp = rn_xcalloc(1, sizeof(*dp));
    dp->b = b;
    dp->logmgr = b->logmgr;
    /* Ids come from the controller; the legacy file only says which ids were used. */
    int64_t floor = 0;
    int rc = rn_pidalloc_read_mark(b->cfg->data_dir, &floor, err, errlen);
    if (rc != 0) {
        rn_free(dp);
        return rc;
    }
    dp->pidalloc = rn_pidalloc_new(floor, rn_cluster_want_producer_ids, b->cluster);
    /* Open (and after an unclean stop recover) every partition log in the data dir. */
    rc = rn_logmgr_load(dp->logmgr, log_config, dp, rn_clock_wall_ms(), err, errlen);
    if (rc != 0) {
        rn_pidalloc_free(dp->pidalloc);
        rn_free(dp);
        return rc;
    }
    dp->waits = rn_fetchwait_new(b->base);
    dp->sessions = rn_fetchsess_cache_new(
        (size_t)rn_config_int(b->cfg, RN_CFG_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS),
        RN_FETCHSESS_EVICT_MS);
    dp->tslookup = rn_tslookup_new(b->offload, &b->stopping);
    dp->produce_workers = (int)rn_config_int(b->cfg, RN_CFG_PRODUCE_WORKER_THREADS);
    dp->pdefer = rn_pdefer_new(b->base, dp->produce_workers > 0 ? dp->produce_workers : 1,
                               RN_DP_PDEFER_MAX_BYTES);
    if (dp->pdefer == NULL) {
        snprintf(err, errlen, "cannot start the produce worker threads: %s", strerror(errno));
        rn_tslookup_free(dp->tslookup);
        rn_fetchsess_cache_free(dp->sessions);
        rn_fetchwait_free(dp->waits);
        rn_pidalloc_free(dp->pidalloc);
        rn_free(dp);
        return RN_EIO;
    }
    b->datapath = dp;
    open_all(dp);

    rn_topics_hooks_t hooks = {partition_removed, dp, config_changed, partition_changed};
    rn_topics_set_hooks(b->topics, &hooks);

    int64_t now = rn_clock_mono_ms();
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
    /* The server is gone, so every queued Produce was cancelled: the worker's last jobs are
     * dropped as they return. */
    rn_pdefer_free(dp->pdefer);
    dp->pdefer = NULL;
    /* The server is gone, so no request is parked any more; whatever is left learns of it. */
    rn_fetchwait_free(dp->waits);
    dp->waits = NULL;
    rn_fetchsess_cache_free(dp->sessions);
    dp->sessions = NULL;
    rn_tslookup_free(dp->tslookup); /* after rn_offload_free: no job is left */
    dp->tslookup = NULL;
    rn_topics_hooks_t none = {NULL, NULL, NULL, NULL};
    rn_topics_set_hooks(b->topics, &none);

    /* The high watermarks (blocking is fine at shutdown): rn_logmgr_close writes the
     * other checkpoint files. */
    size_t nhw = 0;
    rn_checkpoint_entry_t *hws = collect_hws(dp, &nhw);
    char path[4096], cerr[256];
    snprintf(path, sizeof(path), "%s/%s", b->cfg->data_dir, RN_CHECKPOINT_REPLICATION);
    if (rn_checkpoint_save(path, hws, nhw, cerr, sizeof(cerr)) != 0)
        RN_WARN("datapath", "cannot write %s: %s", path, cerr);
    free_hws(hws, nhw);

    /* Snapshot producers and epoch caches (blocking is fine at shutdown); rn_broker_close
     * then has rn_logmgr flush the logs, write the checkpoints and close them. */
    rn_topics_t *topics = b->topics;
    for (size_t t = 0; t < rn_topics_count(topics); t++) {
        rn_topic_t *topic = rn_topics_at(topics, t);
        for (int32_t i = 0; i < topic->n_partitions; i++) {
            rn_partition_t *part = topic->partitions[i];
            if (part->user) {
                rn_replica_detach(b, part->user);
                rn__dpart_close(dp, part->user, true);
                part->user = NULL;
            }
        }
    }
    rn_pidalloc_free(dp->pidalloc);
    b->datapath = NULL;
    rn_free(dp);
}
