/* flush.messages=1: the acknowledgement of a write waits until it is on disk (Kafka flushes
 * the log before answering when flush.messages unflushed messages have piled up; with 1
 * that is every write). Here the fsync runs on the offload thread, never on the loop, and
 * writes that arrive meanwhile share the next one (group commit): a leader answers a
 * Produce once the recovery point passes its records as well as the high watermark, and a
 * follower sends its next Fetch (whose offset tells the leader what it holds) only once
 * what it appended is synced. */
#include "replica/replica_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"

typedef struct sync_job {
    rn_broker_t *b;
    rn_plog_t *log; /* a reference: the partition may go meanwhile */
    rn_uuid_t topic_id;
    int32_t partition;
} sync_job_t;

bool rn_replica_sync_wanted(const rn_dpart_t *dpart)
{
    return dpart->log != NULL && rn_plog_config(dpart->log)->flush_messages == 1;
}

static int sync_work(void *arg)
{
    sync_job_t *job = arg;
    return rn_plog_flush(job->log);
}

static void sync_done(void *arg, int rc)
{
    sync_job_t *job = arg;
    rn_broker_t *b = job->b;
    if (rc != 0)
        RN_ERROR("replica", "node %d: fsync of %s failed: %s", b->node_id, rn_plog_name(job->log),
                 rn_strerror(rc));
    rn_topic_t *topic = b->topics ? rn_topics_find_id(b->topics, &job->topic_id) : NULL;
    rn_partition_t *part = topic ? rn_topic_partition(topic, job->partition) : NULL;
    rn_dpart_t *dpart = part ? part->user : NULL;
    rn__rpart_t *rep = dpart && dpart->log == job->log ? rn__rep(dpart) : NULL;
    rn__plog_unref(job->log);
    rn_free(job);
    if (rep == NULL || b->replica == NULL)
        return;
    rep->syncing = false;
    if (rn_plog_recovery_point(dpart->log) < rn_plog_log_end_offset(dpart->log))
        rn__sync_start(b->replica, rep); /* written meanwhile: the next group */
    rn__pwait_check(b->replica, dpart, 0);
    if (rep->role == RN__ROLE_FOLLOWER && !rep->syncing)
        rn__fetcher_kick(b->replica, rep);
}

void rn__sync_start(rn_replica_t *rm, rn__rpart_t *rep)
{
    rn_dpart_t *dpart = rep->dpart;
    if (rep->syncing || rm->b->offload == NULL ||
        rn_plog_recovery_point(dpart->log) >= rn_plog_log_end_offset(dpart->log))
        return;
    sync_job_t *job = rn_xcalloc(1, sizeof(*job));
    job->b = rm->b;
    job->log = dpart->log;
    rn__plog_ref(job->log);
    job->topic_id = dpart->part->topic->id;
    job->partition = dpart->part->index;
    rep->syncing = true;
    rn_offload_submit(rm->b->offload, sync_work, sync_done, job);
}
