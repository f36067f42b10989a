/* rn_replica: replicated partitions (KIP-101/279/497/841/903 as Kafka's ReplicaManager,
 * Partition and fetcher threads do it; facts in docs/design.md and the replication brief).
 *
 * Every partition this node hosts (it is in the partition's replica list) has a role that
 * follows the metadata: LEADER when the metadata names this node leader, FOLLOWER when it
 * names another node, NONE when it names no leader. The role is re-derived whenever
 * rn_topics changes a partition's leader, epoch, ISR or replicas (the topics hook), when a
 * partition's log opens, and once a second for every partition (what could not be done at
 * once, e.g. a log whose directory was not made yet, is done then).
 *
 * Leader: the current leader epoch starts at the log end (leader-epoch cache entry); each
 * follower's log end offset and last caught-up time are tracked from its Fetches (a Fetch at
 * offset X acknowledges everything below X). The high watermark is the smallest log end
 * offset of the ISR members (this node's own included), it only grows, and it does not move
 * while the ISR is smaller than min(min.insync.replicas, replication factor) (KAFKA-15583).
 * Consumers read below it. Followers that fall behind for replica.lag.time.max.ms leave the
 * ISR and caught-up ones rejoin it through AlterPartition to the controller (one request in
 * flight per partition; the ISR changes only when the metadata says so, while the high
 * watermark counts the maximal ISR meanwhile).
 *
 * Follower: one fetcher per leader node, on its own connection (a long-polling Fetch must
 * not hold up the controller channel), sends Fetch v13 with this node's replica id and each
 * partition's log end and last epoch; batches are appended as the leader wrote them, and a
 * DivergingEpoch answer truncates the log to the end of the last common epoch, never to the
 * high watermark alone (KIP-101, KIP-279).
 *
 * acks=all: a Produce whose records are appended waits (rn_replica_wait_produce) until the
 * high watermark passes each partition's last offset, or its timeout (REQUEST_TIMED_OUT),
 * or the partition's leadership is lost (NOT_LEADER_OR_FOLLOWER), or the maximal ISR falls
 * below min.insync.replicas (NOT_ENOUGH_REPLICAS_AFTER_APPEND).
 *
 * Loop thread only. */
#ifndef RN_REPLICA_H
#define RN_REPLICA_H

#include "rn_broker.h"

#include <stdbool.h>
#include <stdint.h>

struct rn_dpart;
struct rn_req;
struct rn_partition_produce_response;

typedef struct rn_replica rn_replica_t;

/* Module hooks for rn_broker_modules (after the data path). */
int rn_replica_init(rn_broker_t *b, char *err, size_t errlen);
void rn_replica_shutdown(rn_broker_t *b);

/* The partition's log was opened (rn_datapath_part): take up its role. */
void rn_replica_attach(rn_broker_t *b, struct rn_dpart *dpart);
/* The partition's state is being freed (topic deleted, shutdown): forget it, answer the
 * Produces waiting on it. */
void rn_replica_detach(rn_broker_t *b, struct rn_dpart *dpart);
/* The metadata changed the partition's leader, epoch, ISR or replicas. */
void rn_replica_changed(rn_broker_t *b, rn_partition_t *part);

/* True when dpart leads at the partition's current leader epoch. */
bool rn_replica_is_leader(const struct rn_dpart *dpart);

/* What the leader knows of one follower, for observers (the console). */
typedef struct rn_replica_follower {
    int32_t id;
    int64_t leo;          /* its log end: the offset of its last Fetch; -1 unknown */
    int64_t fetch_ago_ms; /* since its last Fetch; -1 never */
} rn_replica_follower_t;
/* The i-th follower of a partition this node leads: true and *out filled, false past the
 * last (or when this node does not lead it). */
bool rn_replica_follower_at(const struct rn_dpart *dpart, int i, rn_replica_follower_t *out);

/* After a leader append of bytes to dpart: move the high watermark if the ISR allows. */
void rn_replica_leader_appended(rn_broker_t *b, struct rn_dpart *dpart, int64_t bytes);

/* A follower's Fetch of dpart at fetch_offset after last_fetched_epoch (-1: unknown):
 * checks the follower's log against the leader's epochs and records its progress. Returns
 * a Kafka error code, or 0 with *div_epoch and *div_offset set to -1, or, when the follower's
 * log diverged, 0 with the epoch and end offset it must truncate to (no records are sent
 * then). */
int16_t rn_replica_follower_fetch(rn_broker_t *b, struct rn_dpart *dpart, int32_t replica_id,
                                  int64_t fetch_offset, int32_t last_fetched_epoch,
                                  int32_t *div_epoch, int64_t *div_offset);

/* The key that consumers' parked Fetches of part watch (woken when the high watermark
 * moves); followers watch the partition itself (woken by appends). */
const void *rn_replica_hw_key(const rn_partition_t *part);

/* One partition of a Produce: done once the high watermark reaches last_offset+1 (acks=all,
 * need_hw) and, under flush.messages=1, once the log is fsynced past it (acks=1 waits for
 * that alone). */
typedef struct rn_replica_pwait {
    struct rn_dpart *dpart;
    struct rn_partition_produce_response *out;
    int64_t last_offset;
    bool need_hw;
} rn_replica_pwait_t;

/* flush.messages=1: the partition acknowledges only what is fsynced. */
bool rn_replica_sync_wanted(const struct rn_dpart *dpart);

/* A Produce (acks 1 or all) whose records are appended: settle each of the n waits the high
 * watermark (or a lost leadership, or too small an ISR) already decides, filling its
 * response slot; if some remain, park req until they are done or timeout_ms passes and
 * return true (req is then completed with rn_req_complete); false when nothing is left to
 * wait for (answer at once). waits is copied. */
bool rn_replica_wait_produce(rn_broker_t *b, struct rn_req *req, rn_replica_pwait_t *waits, int n,
                             int32_t timeout_ms);

/* The same wait for a write of this node's own (the group coordinator's commits and group
 * records): done(arg, 0) once the high watermark passes last_offset, or with
 * NOT_LEADER_OR_FOLLOWER, NOT_ENOUGH_REPLICAS_AFTER_APPEND or REQUEST_TIMED_OUT. done is
 * called at once (and NULL returned) when already decided; otherwise later from the loop,
 * unless rn_replica_wait_cancel is called first. */
typedef struct rn_replica_wait rn_replica_wait_t;
typedef void rn_replica_done_fn(void *arg, int16_t error_code);
rn_replica_wait_t *rn_replica_when_replicated(rn_broker_t *b, struct rn_dpart *dpart,
                                              int64_t last_offset, int32_t timeout_ms,
                                              rn_replica_done_fn *done, void *arg);
void rn_replica_wait_cancel(rn_replica_wait_t *wait);

#endif
