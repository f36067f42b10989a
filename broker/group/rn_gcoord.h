/* rn_gcoord: the group coordinator — every consumer group whose __consumer_offsets partition
 * this node leads, their committed offsets, and the records that make both durable.
 *
 * Groups live in partition abs(javaStringHashCode(group)) % partitions of __consumer_offsets
 * (rn_groupstore); this node coordinates a group when it leads that partition. The topic is
 * created on the first FindCoordinator (offsets.topic.num.partitions, compacted), as Kafka
 * does. A partition's groups are loaded by replaying its log (offset commits and group
 * metadata records, last one wins, tombstones delete; groups come back Stable or Empty with
 * their members, whose sessions then run from the load): at start-up, blocking, for the
 * partitions this node leads then (rn_gcoord_load); later, whenever this node becomes the
 * partition's leader (rn_gcoord_set_leader, called by the replica module), in chunks read
 * on the offload thread while its groups answer COORDINATOR_LOAD_IN_PROGRESS. When this node
 * stops leading the partition its groups are dropped: waiting JoinGroup / SyncGroup and
 * unreplicated commits are answered NOT_COORDINATOR, and later requests too.
 *
 * Each partition of the topic is in one of these states here:
 *   NONE      not led by this node (or not yet: the replica module has not taken the role)
 *   LOADING   led; the replay is under way (a generation number tells a load that was
 *             overtaken by a leadership change to stop and throw its work away)
 *   LOADED    led and loaded: its groups are served
 *   FAILED    led, but its log could not be read: COORDINATOR_NOT_AVAILABLE
 *
 * Every change is appended to the group's partition, and acknowledged only once it is
 * replicated (the partition's high watermark passes it, storage.replicated, waited for at most
 * offsets.commit.timeout.ms): an OffsetCommit is answered then and its offsets enter the
 * cache then, a SyncGroup once the group's record is (rn_group's ops.store). On a single node
 * the high watermark moves at the append, so both are answered at once. Appends go through
 * the storage hooks (the data path owns the partition logs). Offsets expire per
 * offsets.retention.minutes, checked every offsets.retention.check.interval.ms (Kafka's 10
 * minutes), with tombstones written (not waited for, as Kafka: a lost one is written again).
 *
 * Each group has a libevent timer armed at rn_group_next_deadline; handlers never deal with
 * timers. Error codes are Kafka's, chosen as Kafka's GroupCoordinator chooses them.
 * Loop thread only (rn_gcoord_load blocks: start-up only). */
#ifndef RN_GCOORD_H
#define RN_GCOORD_H

#include "rn_config.h"
#include "group/rn_group.h"
#include "net/rn_offload.h"
#include "group/rn_committed.h"
#include "meta/rn_topics.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct rn_plog;

/* Access to partition logs, owned by the data path. */
typedef struct rn_gcoord_storage {
    /* The open log of a partition (opening it on first use), or NULL when it cannot be. */
    struct rn_plog *(*log)(void *arg, rn_partition_t *part);
    /* Bytes were appended at base_offset (wake fetchers, note the epoch). May be NULL. */
    void (*appended)(void *arg, rn_partition_t *part, int32_t leader_epoch, int64_t base_offset,
                     int64_t bytes);
    /* Call done(done_arg, error) once the partition's high watermark passes last_offset
     * (error NONE), or when that fails (NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS_AFTER_APPEND,
     * REQUEST_TIMED_OUT after timeout_ms): now, returning NULL, or later from the loop,
     * returning a handle for cancel_wait. NULL: every append counts as replicated at once. */
    void *(*replicated)(void *arg, rn_partition_t *part, int64_t last_offset, int32_t timeout_ms,
                        void (*done)(void *done_arg, int16_t error), void *done_arg);
    /* Withdraw a wait replicated returned (done is then never called). */
    void (*cancel_wait)(void *arg, void *wait);
    /* Whether this node has taken up the leadership of part (its replica role). NULL: when
     * the metadata names this node leader. */
    bool (*leads)(void *arg, rn_partition_t *part);
    void *arg;
} rn_gcoord_storage_t;

typedef struct rn_gcoord_opts {
    struct event_base *base;
    const rn_config_t *cfg;
    rn_topics_t *topics;
    rn_offload_t *offload; /* persists the topic registry when the topic is created */
    int32_t node_id;
    rn_gcoord_storage_t storage;
    /* JoinGroup / SyncGroup answers for the waiters passed in (see rn_group.h). */
    void (*join_done)(void *arg, void *waiter, const rn_group_join_result_t *res);
    void (*sync_done)(void *arg, void *waiter, const rn_group_sync_result_t *res);
    void *arg;
    int64_t (*now_ms)(void); /* wall clock; NULL = the system's */
} rn_gcoord_opts_t;

typedef struct rn_gcoord rn_gcoord_t;

/* Kafka's offset.metadata.max.bytes default. */
#define RN_GCOORD_MAX_METADATA 4096
/* Kafka's offsets.retention.check.interval.ms default. */
#define RN_GCOORD_RETENTION_CHECK_MS 600000

rn_gcoord_t *rn_gcoord_new(const rn_gcoord_opts_t *opts);
/* Replay every __consumer_offsets partition this node leads (storage.leads), blocking:
 * start-up, after the data path opened the logs. A partition whose log cannot be read is
 * logged and left FAILED (its groups answer COORDINATOR_NOT_AVAILABLE). Returns the groups
 * loaded. */
size_t rn_gcoord_load(rn_gcoord_t *gc);
/* Answer nothing more: parked waiters are forgotten (the server cancelled them), timers
 * stopped, replication waits withdrawn, loads in flight abandoned, everything freed. NULL is
 * a no-op. */
void rn_gcoord_free(rn_gcoord_t *gc);

/* The replica module's hook: this node has become the leader of part (leads) or has stopped
 * leading it. For a partition of __consumer_offsets, leads starts loading its groups (a no-op
 * when they are loaded or loading); !leads drops them (NOT_COORDINATOR to whoever waits) and
 * abandons a load in flight. Other partitions, and gc NULL (before the groups module starts),
 * are ignored. An empty log is loaded before this returns. */
void rn_gcoord_set_leader(rn_gcoord_t *gc, rn_partition_t *part, bool leads);
/* Partitions whose load is under way (for tests and the log). */
int32_t rn_gcoord_loading(const rn_gcoord_t *gc);

/* ---- FindCoordinator ---- */

/* Make sure __consumer_offsets exists. 0 when it does; 1 when its creation is under way and
 * done(arg, error) will run once it is ready (error NONE) or failed; done is not called if
 * rn_gcoord_cancel_wait(arg) runs first. */
int rn_gcoord_wait_topic(rn_gcoord_t *gc, void (*done)(void *arg, int16_t error), void *arg);
void rn_gcoord_cancel_wait(rn_gcoord_t *gc, void *arg);
/* The coordinator of a group: NONE and its node id, or COORDINATOR_NOT_AVAILABLE (no topic
 * yet, no leader). */
int16_t rn_gcoord_find(rn_gcoord_t *gc, rn_str_t group, int32_t *node_id);

/* ---- the group APIs ----
 * Group ids, member ids, instance ids and topics are slices compared by length and bytes:
 * Kafka strings may hold any byte, and "g\0x" is a group of its own, never "g" (the one
 * thing checked here is that a group id is not null or, where Kafka requires it, empty). */

/* JoinGroup: the answer goes to opts.join_done(waiter), now or later. */
void rn_gcoord_join(rn_gcoord_t *gc, rn_str_t group, const rn_group_join_req_t *req, void *waiter);
/* SyncGroup: the answer goes to opts.sync_done(waiter), now or later. */
void rn_gcoord_sync(rn_gcoord_t *gc, rn_str_t group, const rn_group_sync_req_t *req, void *waiter);
/* The waiter's request went away: forget it (group may be null when unknown). */
void rn_gcoord_forget(rn_gcoord_t *gc, rn_str_t group, void *waiter);
int16_t rn_gcoord_heartbeat(rn_gcoord_t *gc, rn_str_t group, rn_str_t member_id,
                            rn_str_t instance_id, int32_t generation);

typedef struct rn_gcoord_leaver {
    rn_str_t member_id;   /* "" to remove a static member by instance id */
    rn_str_t instance_id; /* null if none */
    int16_t error;        /* out */
} rn_gcoord_leaver_t;
/* LeaveGroup: the top-level error (then no member results), or NONE with each one's. */
int16_t rn_gcoord_leave(rn_gcoord_t *gc, rn_str_t group, rn_gcoord_leaver_t *members, size_t n);

/* One partition of an OffsetCommit. error is in/out: entries arriving with an error (the
 * handler found the topic unknown) are left alone. */
typedef struct rn_gcoord_commit {
    rn_str_t topic;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    rn_str_t metadata;        /* null = none */
    int64_t commit_timestamp; /* -1: now (only v1 requests give one) */
    int16_t error;
} rn_gcoord_commit_t;
/* OffsetCommit (member or simple consumer): appends the offsets and, once they are
 * replicated, records them in the cache. A retention_ms >= 0 (v2-v4) gives the offsets an
 * explicit expiry (value version 1). Returns 0 when every item's error is final now; 1 when
 * the answer waits for replication: done(arg) runs later from the loop with the items
 * filled, unless rn_gcoord_commit_cancel(gc, arg) runs first (items are then never touched
 * again; the offsets still enter the cache if the write succeeds). A failed write is mapped
 * as Kafka's storeOffsets maps it (NOT_LEADER_OR_FOLLOWER -> NOT_COORDINATOR,
 * NOT_ENOUGH_REPLICAS(_AFTER_APPEND) -> COORDINATOR_NOT_AVAILABLE, REQUEST_TIMED_OUT kept). */
int rn_gcoord_commit(rn_gcoord_t *gc, rn_str_t group, rn_str_t member_id, rn_str_t instance_id,
                     int32_t generation, int64_t retention_ms, rn_gcoord_commit_t *items, size_t n,
                     void (*done)(void *arg), void *arg);
void rn_gcoord_commit_cancel(rn_gcoord_t *gc, void *arg);

/* OffsetFetch: NONE and the group's offsets (NULL when it has none), or the group-level
 * error (NOT_COORDINATOR, COORDINATOR_NOT_AVAILABLE, COORDINATOR_LOAD_IN_PROGRESS,
 * INVALID_GROUP_ID). */
int16_t rn_gcoord_offsets(rn_gcoord_t *gc, rn_str_t group, const rn_committed_t **offsets);

/* DescribeGroups: NONE and the group (NULL when unknown: Kafka answers state Dead), or the
 * error. */
int16_t rn_gcoord_describe(rn_gcoord_t *gc, rn_str_t group, const rn_group_t **out);

/* ListGroups: the groups of every partition this node coordinates and has loaded (Dead ones
 * excluded). NONE, or COORDINATOR_LOAD_IN_PROGRESS while a partition loads (with the groups
 * of the others). */
int16_t rn_gcoord_list(rn_gcoord_t *gc, const rn_group_t ***groups, size_t *n);

/* DeleteGroups of one group: NONE (tombstones written), GROUP_ID_NOT_FOUND,
 * NON_EMPTY_GROUP, or a coordinator error. */
int16_t rn_gcoord_delete_group(rn_gcoord_t *gc, rn_str_t group);

typedef struct rn_gcoord_tp {
    rn_str_t topic;
    int32_t partition;
    int16_t error; /* in/out as for rn_gcoord_commit */
} rn_gcoord_tp_t;
/* OffsetDelete: the group-level error (GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, ...), or NONE
 * with per-partition results (GROUP_SUBSCRIBED_TO_TOPIC for topics the group consumes). */
int16_t rn_gcoord_delete_offsets(rn_gcoord_t *gc, rn_str_t group, rn_gcoord_tp_t *items, size_t n);

/* Expire offsets now (the periodic check; tests call it with their clock). Returns how many
 * offsets were removed. */
size_t rn_gcoord_expire(rn_gcoord_t *gc);

/* Groups known (all states but Dead). */
size_t rn_gcoord_group_count(const rn_gcoord_t *gc);

/* Iteration over every group entry this node holds (Dead ones included), for scrape-time
 * metrics: rn_gcoord_size entries, rn_gcoord_at the i-th (i < size) with its committed
 * offsets in *offsets (never NULL). Allocates nothing; the pointers stay valid until the
 * coordinator next runs a request or timer. */
size_t rn_gcoord_size(const rn_gcoord_t *gc);
const rn_group_t *rn_gcoord_at(const rn_gcoord_t *gc, size_t i, const rn_committed_t **offsets);

#endif
