/* rn_datapath: the data path's broker module — state shared by the Produce, Fetch,
 * ListOffsets, DeleteRecords, OffsetForLeaderEpoch and InitProducerId handlers.
 *
 * It owns, per partition of this node (rn_partition_t.user points at an rn_dpart_t):
 *   - a borrowed pointer to the partition log, which rn_logmgr owns: opened (and recovered)
 *     by rn_logmgr_load at start-up, or created on first use for a topic created later;
 *   - the idempotent-producer state (rn_pidstate), rebuilt at open from the newest producer
 *     snapshot (<offset>.snapshot, written at clean shutdown) plus a replay of the batches
 *     after it, exactly as Kafka's ProducerStateManager does;
 *   - the leader-epoch cache (rn_epochs, leader-epoch-checkpoint): the current leader epoch
 *     is assigned at the log end when the partition is opened as leader and whenever an
 *     append carries a newer epoch.
 * And, per broker: the parked-Fetch registry (rn_fetchwait), the fetch session cache
 * (rn_fetchsess), the worker recompressing produced batches (rn_pdefer), the producer id
 * allocator
 * (rn_pidalloc), and the timers that have rn_logmgr write the recovery-point and
 * log-start-offset checkpoints on the offload thread (after DeleteRecords/retention and every
 * 60 s; rn_logmgr_close writes them at clean shutdown) and run retention
 * (log.retention.check.interval.ms).
 *
 * High watermark: kept by the replica module (broker/replica/rn_replica.h): the smallest log
 * end of the in-sync replicas, so on a single node the log end. It starts at open from
 * replication-offset-checkpoint (capped at the log end), which the checkpoint timer and a
 * clean shutdown write. There are no transactions yet, so the last stable offset equals
 * the high watermark.
 *
 * Loop thread only (blocking work goes to the broker's offload thread, fsync to rn_logmgr's
 * flusher), except init and shutdown, which may block. */
#ifndef RN_DATAPATH_H
#define RN_DATAPATH_H

#include "rn_broker.h"
#include "rn_epochs.h"
#include "data/rn_fetchsess.h"
#include "data/rn_fetchwait.h"
#include "data/rn_pidalloc.h"
#include "data/rn_pidstate.h"
#include "rn_plog.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rn_datapath rn_datapath_t;

/* Data-path state of one partition. */
typedef struct rn_dpart {
    rn_partition_t *part;
    rn_plog_t *log;        /* borrowed from rn_logmgr; NULL when opening failed (open_error) */
    int open_error;        /* RN_E* of the failed open, 0 when open */
    int open_failures;     /* failed tries since the last success */
    int64_t open_retry_ms; /* monotonic time from which a failed open is tried again */
    rn_pidstate_t *pids;
    rn_epochs_t epochs;
    /* The cache changed while the log was empty and its file was left for the first append
     * to write (rn__dpart_save_epochs_lazily): an empty log's entries mean nothing yet. */
    bool epochs_unsaved;
    char *dir; /* <data dir>/<topic>-<partition>; NULL when the log is not open */
    /* The topic settings Produce checks, resolved once from the topic's overrides and the
     * broker's defaults when the partition opens and again on every config change, so the
     * produce path never formats and re-parses config values. */
    int64_t max_message_bytes;   /* max.message.bytes */
    int64_t min_insync_replicas; /* min.insync.replicas */
    bool compacted;              /* cleanup.policy contains compact */
    bool create_time;            /* message.timestamp.type is CreateTime */
    int compression;             /* compression.type as RN_CODEC_*, -1 for producer */
    int64_t ts_before_max_ms;    /* message.timestamp.before.max.ms */
    int64_t ts_after_max_ms;     /* message.timestamp.after.max.ms */
    int64_t hw;                  /* high watermark (see above) */
    void *rep;                   /* the replica module's state of the partition */
} rn_dpart_t;

/* Module hooks for rn_broker_modules (dispatch.c). */
int rn_datapath_init(rn_broker_t *b, char *err, size_t errlen);
void rn_datapath_shutdown(rn_broker_t *b);

/* The module state of broker b. */
rn_datapath_t *rn_datapath(const rn_broker_t *b);

/* The data-path state of part, opening its log on first use. NULL when the partition is
 * not ready yet (its directory and partition.metadata are not durable yet). When the log cannot be
 * opened the state is returned with log NULL and open_error set (answer KAFKA_STORAGE_ERROR); a
 * later call tries again once a pause has passed, so a transient failure (out of file
 * descriptors) does not keep the partition offline. */
rn_dpart_t *rn_datapath_part(rn_datapath_t *dp, rn_partition_t *part);

/* The high watermark: the offset below which consumers may read. */
int64_t rn_dpart_high_watermark(const rn_dpart_t *dpart);
/* The last stable offset (read_committed consumers read below it). */
int64_t rn_dpart_last_stable_offset(const rn_dpart_t *dpart);

/* After an append of bytes at leader_epoch whose first offset is base_offset: assign the
 * epoch in the cache if it is new (and save it), and wake parked Fetches. */
void rn_datapath_appended(rn_datapath_t *dp, rn_dpart_t *dpart, int32_t leader_epoch,
                          int64_t base_offset, int64_t bytes);

/* This node leads from the log end at leader_epoch: the epoch's cache entry (saved). */
void rn_datapath_lead_epoch(rn_datapath_t *dp, rn_dpart_t *dpart, int32_t leader_epoch);

/* After a follower appended batches buf[0..len) as the leader wrote them: producer state
 * and the leader-epoch cache follow them. */
void rn_datapath_follower_appended(rn_datapath_t *dp, rn_dpart_t *dpart, const uint8_t *buf,
                                   size_t len);
/* After the log was truncated (a follower's diverged tail, or restarted empty): producer
 * state is rebuilt, epochs above the new end dropped, the high watermark capped, and
 * parked Fetches woken. */
void rn_datapath_truncated(rn_datapath_t *dp, rn_dpart_t *dpart);

/* After the log start moved (DeleteRecords, retention): drop producer state and epoch
 * entries below it, schedule the log-start checkpoint, wake parked Fetches (positions
 * below the new start now answer OFFSET_OUT_OF_RANGE). */
void rn_datapath_start_moved(rn_datapath_t *dp, rn_dpart_t *dpart);

/* The parked-Fetch registry and the producer id allocator. */
rn_fetchwait_t *rn_datapath_waits(const rn_datapath_t *dp);
rn_pidalloc_t *rn_datapath_pidalloc(const rn_datapath_t *dp);
/* The fetch session cache (max.incremental.fetch.session.cache.slots). */
rn_fetchsess_cache_t *rn_datapath_sessions(const rn_datapath_t *dp);
/* Produce appends queued behind work off the loop (rn_pdefer.h). */
struct rn_pdefer *rn_datapath_pdefer(const rn_datapath_t *dp);
/* produce.worker.threads: 0 = only recompressions leave the loop (on one thread), N = large
 * batches are checked whole on a pool of N threads (rn_precords_check). */
int rn_datapath_produce_workers(const rn_datapath_t *dp);
/* Lookups inside compressed batches for ListOffsets, off the loop (rn_tslookup.h). */
struct rn_tslookup *rn_datapath_tslookup(const rn_datapath_t *dp);

/* Release a Fetch file range once sent (the server's opts.file_release): owner is the
 * rn_segment_t reference taken by rn_plog_read. Any thread. */
void rn_datapath_release_file(void *owner);

#endif
