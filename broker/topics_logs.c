/* rn_topics and storage: each partition's rn_plog — opened at start-up with Kafka's
 * checkpoint files, configured from the topic's settings, retained, checkpointed and
 * closed at shutdown (see rn_topics.h). New partitions' logs are opened by the persist
 * job in topics_store.c. */
#include "topics_int.h"

#include "rn_alloc.h"
#include "rn_checkpoint.h"
#include "rn_err.h"
#include "rn_flusher.h"
#include "rn_log.h"
#include "rn_partmeta.h"
#include "rn_plog.h"

#include <string.h>
#include <time.h>

int64_t rn__topics_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rn__partition_close_log(rn_partition_t *part)
{
    if (part->log != NULL) {
        rn_plog_close(part->log);
        part->log = NULL;
    }
}

void rn_topics_plog_config(const rn_topics_t *topics, const rn_topic_t *topic,
                           rn_plog_config_t *out)
{
    const rn_topicconf_t *conf = &topic->conf;
    const rn_config_t *cfg = topics->cfg;
    rn_plog_config_default(out);
    out->segment_bytes = rn_topicconf_int(conf, cfg, RN_TC_SEGMENT_BYTES);
    out->segment_ms = rn_topicconf_int(conf, cfg, RN_TC_SEGMENT_MS);
    out->segment_index_bytes = rn_topicconf_int(conf, cfg, RN_TC_SEGMENT_INDEX_BYTES);
    out->index_interval_bytes = rn_topicconf_int(conf, cfg, RN_TC_INDEX_INTERVAL_BYTES);
    out->retention_ms = rn_topicconf_int(conf, cfg, RN_TC_RETENTION_MS);
    out->retention_bytes = rn_topicconf_int(conf, cfg, RN_TC_RETENTION_BYTES);
    out->flush_messages = rn_topicconf_int(conf, cfg, RN_TC_FLUSH_MESSAGES);
    out->flush_ms = rn_topicconf_int(conf, cfg, RN_TC_FLUSH_MS);
    char buf[32];
    out->log_append_time =
        strcmp(rn_topicconf_value(conf, cfg, RN_TC_MESSAGE_TIMESTAMP_TYPE, NULL, buf, sizeof(buf)),
               "LogAppendTime") == 0;
}

static void checkpoint_path(const rn_topics_t *topics, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", topics->data_dir, name);
}

/* Load a checkpoint file; a damaged one is only a lost optimisation (recovery rescans from
 * the start, the log start falls back to the first segment), so it is logged, not fatal. */
static void load_checkpoint(const rn_topics_t *topics, const char *name, rn_checkpoint_t *cp)
{
    char path[4096], err[512];
    checkpoint_path(topics, name, path, sizeof(path));
    if (rn_checkpoint_load(path, cp, err, sizeof(err)) != 0) {
        RN_WARN("topics", "ignoring %s: %s", path, err);
        memset(cp, 0, sizeof(*cp));
    }
}

static int open_one(rn_topics_t *topics, rn_partition_t *part, const rn_checkpoint_t *recovery,
                    const rn_checkpoint_t *starts, bool clean, char *err, size_t errlen)
{
    const rn_topic_t *topic = part->topic;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s-%d", topics->data_dir, topic->name, part->index);
    const rn_checkpoint_entry_t *rp = rn_checkpoint_find(recovery, topic->name, part->index);
    const rn_checkpoint_entry_t *ls = rn_checkpoint_find(starts, topic->name, part->index);
    rn_plog_open_opts_t opts = {.recovery_point = rp ? rp->offset : 0,
                                .log_start_offset = ls ? ls->offset : 0,
                                .clean = clean,
                                .create = 1,
                                .now_ms = rn__topics_now_ms()};
    rn_plog_config_t cfg;
    rn_topics_plog_config(topics, topic, &cfg);
    int rc = rn_plog_open(dir, &cfg, &opts, &part->log);
    if (rc != 0) {
        snprintf(err, errlen, "%s-%d: cannot open its log in %s: %s", topic->name, part->index, dir,
                 rn_strerror(rc));
        return rc;
    }
    rn_uuid_t on_disk;
    char why[512];
    rc = rn_partmeta_load(dir, &on_disk, why, sizeof(why));
    if (rc == RN_ENOTFOUND) {
        rc = rn_partmeta_save(dir, &topic->id, err, errlen);
        if (rc != 0)
            return rc;
    } else if (rc != 0) {
        RN_WARN("topics", "%s-%d: %s", topic->name, part->index, why);
    } else if (memcmp(on_disk.bytes, topic->id.bytes, 16) != 0) {
        RN_WARN("topics",
                "%s-%d: partition.metadata names another topic id than %s; the "
                "directory may be left from a deleted topic of the same name",
                topic->name, part->index, RN_TOPICS_FILE);
    }
    rn_plog_set_flusher(part->log, topics->flusher);
    return 0;
}

int rn_topics_open_logs(rn_topics_t *topics, bool clean, struct rn_flusher *flusher, char *err,
                        size_t errlen)
{
    topics->logs = true;
    topics->flusher = flusher;
    rn_checkpoint_t recovery = {0}, starts = {0};
    load_checkpoint(topics, RN_CHECKPOINT_RECOVERY_POINT, &recovery);
    load_checkpoint(topics, RN_CHECKPOINT_LOG_START, &starts);
    int rc = 0;
    size_t opened = 0;
    for (size_t i = 0; rc == 0 && i < topics->n; i++) {
        rn_topic_t *topic = topics->by_name[i];
        for (int32_t p = 0; rc == 0 && p < topic->n_partitions; p++) {
            rc = open_one(topics, topic->partitions[p], &recovery, &starts, clean, err, errlen);
            opened += rc == 0;
        }
    }
    rn_checkpoint_free(&recovery);
    rn_checkpoint_free(&starts);
    if (rc == 0)
        RN_INFO("topics", "opened %zu partition log(s)%s", opened,
                clean ? "" : " (recovered after an unclean stop)");
    return rc;
}

void rn_topics_apply_config(rn_topics_t *topics, rn_topic_t *topic)
{
    rn_plog_config_t cfg;
    rn_topics_plog_config(topics, topic, &cfg);
    for (int32_t p = 0; p < topic->n_partitions; p++) {
        rn_plog_t *log = topic->partitions[p]->log;
        if (log != NULL && rn_plog_set_config(log, &cfg) != 0)
            RN_WARN("topics", "%s-%d: the log refused the new settings", topic->name, p);
    }
}

int rn_topics_retain(rn_topics_t *topics, int64_t now_ms)
{
    int total = 0;
    for (size_t i = 0; i < topics->n; i++) {
        rn_topic_t *topic = topics->by_name[i];
        for (int32_t p = 0; p < topic->n_partitions; p++) {
            rn_plog_t *log = topic->partitions[p]->log;
            int deleted = 0;
            if (log == NULL)
                continue;
            int rc = rn_plog_retain(log, now_ms, &deleted);
            if (rc != 0)
                RN_WARN("topics", "%s-%d: retention failed: %s", topic->name, p, rn_strerror(rc));
            total += deleted;
        }
    }
    return total;
}

/* ---- checkpoints ---- */

typedef struct checkpoint_job {
    char *recovery_path, *start_path;
    rn_checkpoint_entry_t *recovery, *starts;
    size_t n;
    char err[512];
} checkpoint_job_t;

static checkpoint_job_t *checkpoint_snapshot(rn_topics_t *topics)
{
    checkpoint_job_t *job = rn_xcalloc(1, sizeof(*job));
    size_t cap = 0;
    for (size_t i = 0; i < topics->n; i++)
        cap += (size_t)topics->by_name[i]->n_partitions;
    job->recovery = rn_xcalloc(cap + 1, sizeof(*job->recovery));
    job->starts = rn_xcalloc(cap + 1, sizeof(*job->starts));
    for (size_t i = 0; i < topics->n; i++) {
        rn_topic_t *topic = topics->by_name[i];
        for (int32_t p = 0; p < topic->n_partitions; p++) {
            rn_plog_t *log = topic->partitions[p]->log;
            if (log == NULL)
                continue;
            job->recovery[job->n] =
                (rn_checkpoint_entry_t){rn_xstrdup(topic->name), p, rn_plog_recovery_point(log)};
            job->starts[job->n] =
                (rn_checkpoint_entry_t){rn_xstrdup(topic->name), p, rn_plog_log_start_offset(log)};
            job->n++;
        }
    }
    char path[4096];
    checkpoint_path(topics, RN_CHECKPOINT_RECOVERY_POINT, path, sizeof(path));
    job->recovery_path = rn_xstrdup(path);
    checkpoint_path(topics, RN_CHECKPOINT_LOG_START, path, sizeof(path));
    job->start_path = rn_xstrdup(path);
    return job;
}

static int checkpoint_write(void *arg)
{
    checkpoint_job_t *job = arg;
    int rc =
        rn_checkpoint_save(job->recovery_path, job->recovery, job->n, job->err, sizeof(job->err));
    if (rc == 0)
        rc = rn_checkpoint_save(job->start_path, job->starts, job->n, job->err, sizeof(job->err));
    return rc;
}

static void checkpoint_free(checkpoint_job_t *job)
{
    for (size_t i = 0; i < job->n; i++) {
        rn_free(job->recovery[i].topic);
        rn_free(job->starts[i].topic);
    }
    rn_free(job->recovery);
    rn_free(job->starts);
    rn_free(job->recovery_path);
    rn_free(job->start_path);
    rn_free(job);
}

static void checkpoint_done(void *arg, int rc)
{
    checkpoint_job_t *job = arg;
    if (rc != 0)
        RN_WARN("topics", "cannot write the offset checkpoints: %s", job->err);
    checkpoint_free(job);
}

void rn_topics_checkpoint(rn_topics_t *topics, rn_offload_t *off)
{
    if (topics->logs)
        rn_offload_submit(off, checkpoint_write, checkpoint_done, checkpoint_snapshot(topics));
}

int rn_topics_close_logs(rn_topics_t *topics, char *err, size_t errlen)
{
    if (!topics->logs)
        return 0;
    int first = 0;
    for (size_t i = 0; i < topics->n; i++) {
        rn_topic_t *topic = topics->by_name[i];
        for (int32_t p = 0; p < topic->n_partitions; p++) {
            rn_plog_t *log = topic->partitions[p]->log;
            int rc = log != NULL ? rn_plog_flush(log) : 0;
            if (rc != 0 && first == 0) {
                first = rc;
                snprintf(err, errlen, "%s-%d: cannot flush its log: %s", topic->name, p,
                         rn_strerror(rc));
            }
        }
    }
    /* Recovery points are final now that everything is flushed. */
    checkpoint_job_t *job = checkpoint_snapshot(topics);
    int rc = checkpoint_write(job);
    if (rc != 0 && first == 0) {
        first = rc;
        snprintf(err, errlen, "%s", job->err);
    }
    checkpoint_free(job);
    for (size_t i = 0; i < topics->n; i++)
        for (int32_t p = 0; p < topics->by_name[i]->n_partitions; p++)
            rn__partition_close_log(topics->by_name[i]->partitions[p]);
    topics->logs = false;
    return first;
}
