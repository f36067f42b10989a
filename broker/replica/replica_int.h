/* Private parts of the replica module (rn_replica.h), shared by replica.c (module, roles,
 * tick), leader.c (followers' progress, high watermark, ISR changes), fetcher.c (this
 * node's fetchers) and pwait.c (acks=all Produces waiting for the high watermark). Never
 * included outside broker/replica/. */
#ifndef RN_REPLICA_INT_H
#define RN_REPLICA_INT_H

#include "data/rn_datapath.h"
#include "replica/rn_replica.h"

#include <stdbool.h>
#include <stdint.h>

struct event;
struct rn_peer;
typedef struct rn__fetcher rn__fetcher_t;
typedef struct rn__pwait rn__pwait_t;

typedef enum rn__role {
    RN__ROLE_NONE = 0, /* no leader named, or not hosted here */
    RN__ROLE_LEADER,
    RN__ROLE_FOLLOWER,
} rn__role_t;

/* What the leader knows of one follower (Kafka's Replica state). */
typedef struct rn__follower {
    int32_t id;
    int64_t leo;                 /* its log end offset: the offset of its last Fetch; -1 unknown */
    int64_t caught_up_ms;        /* last time its log end reached the leader's (monotonic) */
    int64_t fetch_ms;            /* time of its last Fetch, 0 none */
    int64_t leader_leo_at_fetch; /* the leader's log end at that Fetch */
} rn__follower_t;

/* Replication state of one hosted partition (rn_dpart_t.rep). */
typedef struct rn__rpart {
    rn_dpart_t *dpart;
    rn__role_t role;
    int32_t epoch;             /* the leader epoch the role was taken at */
    int32_t leader;            /* the node followed (FOLLOWER) */
    int64_t epoch_start;       /* LEADER: the log end when it took the epoch */
    rn__follower_t *followers; /* LEADER: every other replica */
    int32_t n_followers;
    int64_t unreplicated_bytes; /* appended above the high watermark, not yet told to consumers */
    /* One ISR change in flight (LEADER): the ISR asked for. */
    bool isr_in_flight;
    int32_t *isr_asked;
    int32_t n_isr_asked;
    int64_t isr_retry_ms; /* no new change before (monotonic) */
    /* FOLLOWER */
    rn__fetcher_t *fetcher;
    int64_t sent_offset;   /* fetch offset of the Fetch in flight, -1 none */
    int64_t backoff_until; /* left out of Fetches until (monotonic) */
    bool syncing;          /* flush.messages=1: an fsync job is queued (sync.c) */
    rn_replica_t *rm;
} rn__rpart_t;

struct rn_replica {
    rn_broker_t *b;
    struct event *tick;
    struct event *recheck; /* a sweep soon, while leaderships wait for readiness */
    rn__fetcher_t **fetchers;
    size_t n_fetchers, fetchers_cap;
    rn__pwait_t *pwaits; /* parked acks=all Produces, a list */
    int64_t lag_max_ms;  /* replica.lag.time.max.ms */
    int32_t fetch_max_bytes, fetch_wait_ms;
    /* Counters for the metrics (replica_metrics.c). */
    uint64_t isr_shrinks, isr_expands, fetched_bytes, truncations;
};

static inline rn__rpart_t *rn__rep(const rn_dpart_t *dpart)
{
    return (rn__rpart_t *)dpart->rep;
}

/* replica_metrics.c */
void rn__replica_metrics_start(rn_replica_t *rm);
void rn__replica_metrics_stop(rn_replica_t *rm);

/* leader.c */
void rn__leader_start(rn_replica_t *rm, rn__rpart_t *rep);
void rn__leader_stop(rn_replica_t *rm, rn__rpart_t *rep);
void rn__leader_check(rn_replica_t *rm, rn__rpart_t *rep); /* ISR/HW after a metadata change */
void rn__leader_tick(rn_replica_t *rm, rn__rpart_t *rep, int64_t now);
/* Move the high watermark to hw (> the current one): wake consumers and Produces. */
void rn__hw_advance(rn_replica_t *rm, rn__rpart_t *rep, int64_t hw);

/* isr.c: send the ISR in rep->isr_asked to the controller (AlterPartition); the answer
 * comes back through rn__isr_answered (leader.c). */
void rn__isr_propose(rn_replica_t *rm, rn__rpart_t *rep);
void rn__isr_answered(rn_replica_t *rm, rn__rpart_t *rep, int16_t error);
/* Forget the request in flight (leadership lost, partition gone): no answer comes. */
void rn__isr_cancel(rn_replica_t *rm, rn__rpart_t *rep);
/* Registered, unfenced and not shutting down (KIP-841): may join an ISR. */
bool rn__broker_active(const rn_replica_t *rm, int32_t id);

/* sync.c: flush.messages=1 partitions acknowledge only what is fsynced. */
void rn__sync_start(rn_replica_t *rm, rn__rpart_t *rep);

/* fetcher.c */
void rn__fetcher_add(rn_replica_t *rm, rn__rpart_t *rep, int32_t leader);
void rn__fetcher_remove(rn_replica_t *rm, rn__rpart_t *rep);
void rn__fetchers_free(rn_replica_t *rm);
/* rep may be fetched again (its fsync is done): send a Fetch if its fetcher is idle. */
void rn__fetcher_kick(rn_replica_t *rm, rn__rpart_t *rep);

/* pwait.c: Produces waiting on rep: complete those the high watermark now allows, and
 * fail them all with code (when not 0: leadership lost, partition gone). */
void rn__pwait_check(rn_replica_t *rm, rn_dpart_t *dpart, int16_t fail_code);
void rn__pwaits_free(rn_replica_t *rm);

#endif
