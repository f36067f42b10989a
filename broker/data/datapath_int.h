/* Private parts of the rn_datapath module shared by datapath.c (module, timers,
 * checkpoints) and dpart.c (one partition's log, producer state and epoch cache). Never
 * included outside those two files. */
#ifndef RN_DATAPATH_INT_H
#define RN_DATAPATH_INT_H

#include "data/rn_datapath.h"
#include "rn_logmgr.h"

struct event;

struct rn_datapath {
    rn_broker_t *b;
    rn_fetchwait_t *waits;
    rn_fetchsess_cache_t *sessions; /* incremental Fetch sessions */
    struct rn_tslookup *tslookup;
    struct rn_pdefer *pdefer; /* Produce appends queued behind off-loop work */
    int produce_workers;      /* produce.worker.threads */
    rn_pidalloc_t *pidalloc;
    rn_logmgr_t *logmgr;    /* the broker's: owns the logs, checkpoints and retention */
    struct event *tick;     /* 1 s housekeeping timer */
    int64_t next_retain_ms; /* monotonic time of the next retention pass */
    int64_t next_ckpt_ms;   /* ... of the next periodic checkpoint write */
    bool ckpt_saving;       /* a checkpoint job is queued */
    bool ckpt_dirty;        /* log starts changed since it was queued */
};

/* Kafka's producer.id.expiration.ms default (one day). */
#define RN_DP_PRODUCER_EXPIRATION_MS (24LL * 3600 * 1000)

/* Most input bytes of Produce work in flight on rn_pdefer's workers: about 2.7 s of gzip at
 * ~170 ms per MB; past it the work is done on the loop. */
#define RN_DP_PDEFER_MAX_BYTES (16u << 20)

/* Pause between tries to open a partition log that failed to open (e.g. EMFILE). */
#define RN_DP_OPEN_RETRY_MS 1000

/* Topic configuration (tc: the overrides of topic `name`) -> partition-log configuration. */
/* Resolve the produce-time topic settings of dpart (see rn_dpart_t). */
void rn__dp_produce_config(const rn_datapath_t *dp, const rn_topic_t *topic, rn_dpart_t *dpart);
void rn__dp_plog_config(const rn_datapath_t *dp, const rn_topicconf_t *tc, const char *name,
                        rn_plog_config_t *cfg);

/* Take the log from rn_logmgr (creating it for a topic made since start-up) and rebuild the
 * state of part (dpart.c). Never NULL. */
rn_dpart_t *rn__dpart_open(rn_datapath_t *dp, rn_partition_t *part);
/* Try a failed open again once its pause (RN_DP_OPEN_RETRY_MS) is over. */
void rn__dpart_retry(rn_datapath_t *dp, rn_dpart_t *dpart);
/* Free a partition's state; the log stays with rn_logmgr. clean: write the producer
 * snapshot and epoch cache first (blocking; shutdown only). */
void rn__dpart_close(rn_datapath_t *dp, rn_dpart_t *dpart, bool clean);
/* Queue a leader-epoch-checkpoint write for dpart. */
void rn__dpart_save_epochs(rn_datapath_t *dp, rn_dpart_t *dpart);
/* rn__dpart_save_epochs, or while the log has never held a record, only mark the cache
 * unsaved: a new topic of 1,000 partitions would otherwise queue 2,000 fsyncs on the offload
 * thread before anything is written to it. The first append writes it. */
void rn__dpart_save_epochs_lazily(rn_datapath_t *dp, rn_dpart_t *dpart);
/* Queue checkpoint writes (recovery points, log starts). */
void rn__dp_save_checkpoints(rn_datapath_t *dp);

#endif
