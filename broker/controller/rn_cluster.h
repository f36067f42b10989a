/* rn_cluster: the switch-over of the broker's metadata to the quorum (design decision 5).
 * Every node keeps the metadata image (rn_mimage) fed by rn_quorum's committed entries, and
 * its topics (rn_topics) follow the image through rn_mimage_topics_apply; the topics'
 * partition directories are then made or removed by the usual persist job. The quorum
 * leader is the active controller: it runs the operations that write records, one at a
 * time, each decided on the committed image once the previous one's records are applied.
 *
 * The paths that change topics (CreateTopics, DeleteTopics, CreatePartitions, configs,
 * Metadata auto-creation, the group coordinator's __consumer_offsets) still check and make
 * their change in the controller's topics in memory, with Kafka's answers; rn_topics_commit
 * then lands here: a "reconcile" operation writes the records that take the image to what
 * the topics now say (new topics keep the ids they were given, so partition.metadata files
 * match), and the request is answered once they are committed, applied and on disk —
 * CreateTopics (rn_topics_commit_records) once they are committed and applied, as Kafka
 * does, with the directories made afterwards by the persist job. If the
 * records cannot be committed (leadership lost), the topics are put back as the image has
 * them and the request is answered NOT_CONTROLLER.
 *
 * The runnel-topics file stays as a cache written by the persist job with the directories:
 * it is read at start-up only as the starting point (so a node's directories and ready
 * topics are there before the log replays), the replayed log then wins (topics it lacks
 * are removed), and on the first activation of an empty metadata log the file's topics are
 * imported as records with their ids — the same reconcile operation.
 *
 * Loop thread only. */
#ifndef RN_CLUSTER_H
#define RN_CLUSTER_H

#include "controller/rn_controller.h"
#include "controller/rn_mimage.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rn_broker;
typedef struct rn_cluster rn_cluster_t;

/* Nodes the cluster keeps connections to (voters, watched brokers). */
#define RN_CLUSTER_MAX_NODES 64
typedef struct rn_cluster_op rn_cluster_op_t;

/* An operation of the active controller. decide runs at its turn (this node leads, the
 * controller is active, the image has applied every earlier operation's records) and
 * appends the records to write to out (none: nothing to write). done runs once: rc 0 when
 * the records are committed and applied here, RN_ENOTLEADER when this node does not lead
 * (or stopped leading), another RN_E* otherwise. The op is the caller's; done may free it. */
struct rn_cluster_op {
    rn_cluster_op_t *next;
    void (*decide)(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset, rn_mrecs_t *out);
    void (*done)(rn_cluster_op_t *op, int rc);
    void *arg;
};

/* The state of broker b (its topics, quorum, offload); created before the quorum starts
 * (rn_cluster_apply and friends are its callbacks) and freed after it stopped. */
rn_cluster_t *rn_cluster_new(struct rn_broker *b);
void rn_cluster_free(rn_cluster_t *c);
/* The quorum has replayed its log: a non-empty image replaces the topics read from the
 * runnel-topics cache. */
void rn_cluster_started(rn_cluster_t *c);
/* True once rn_cluster_started ran (the image holds what the log held at start). */
bool rn_cluster_replayed(const rn_cluster_t *c);

/* Controlled shutdown (KIP-631), the first step of a SIGTERM: heartbeats ask the active
 * controller WantShutDown until it answers ShouldShutDown — its partition leaderships have
 * moved to other ISR members, it is off every ISR, and every other active broker has
 * applied that — or controlled.shutdown.timeout.ms passes; the server keeps serving
 * meanwhile (followers, the quorum). Then done(arg, granted) once, from the loop (granted
 * false: timed out or re-registration needed; rn_cluster_stop drops it uncalled). Returns false
 * (done never called) when there is nothing to do: controlled.shutdown.enable is false, this node
 * is not registered, or no other active broker exists to take over (a single node). */
bool rn_cluster_controlled_shutdown(rn_cluster_t *c, void (*done)(void *arg, bool granted),
                                    void *arg);

/* Shutting down (the server and the data path are gone): what the quorum still delivers
 * while it stops is ignored; the log replays it at the next start. */
void rn_cluster_stop(rn_cluster_t *c);

/* rn_quorum_opts callbacks (arg: the rn_cluster_t). */
void rn_cluster_apply(void *arg, int64_t offset, int32_t epoch, const uint8_t *data, size_t len);
void rn_cluster_leader_changed(void *arg, int32_t leader_id, int32_t epoch);
int rn_cluster_snapshot_write(void *arg, int64_t offset, uint8_t **data, size_t *len);
int rn_cluster_snapshot_load(void *arg, int64_t offset, const uint8_t *data, size_t len);

const rn_mimage_t *rn_cluster_image(const rn_cluster_t *c);
rn_controller_t *rn_cluster_controller(rn_cluster_t *c);
struct rn_broker *rn_cluster_broker(const rn_cluster_t *c);
/* Queue op (see rn_cluster_op). When another node is known to lead, done is called with
 * RN_ENOTLEADER from the loop, never from inside this call. */
void rn_cluster_submit(rn_cluster_t *c, rn_cluster_op_t *op);

/* ---- cluster_reconcile.c ---- */

/* The records that take the image to what topics hold: new topics (TopicRecord with their
 * id, ConfigRecords, PartitionRecords), added partitions, changed overrides, removed
 * topics; bracketed as one transaction. */
void rn_cluster_reconcile(const rn_mimage_t *img, const struct rn_topics *topics, rn_mrecs_t *out);
/* The rn_topics committer (rn_topics_set_committer) for the cluster c. */
void rn_cluster_commit(void *carg, struct rn_topics *topics, bool on_commit,
                       void (*done)(void *arg, int rc), void *arg);

/* ---- forwarding to the active controller (cluster_forward.c) ---- */

struct rn_req;
struct rn_peer;
/* For the handlers of requests only the controller serves: on a node that is not the
 * controller (another node is known to be), send req to it and relay the answer
 * (RN_HANDLED_ASYNC); 0 when this node handles req itself. */
int rn_cluster_forward(struct rn_req *req);
/* True when rn_cluster_forward would send req to another node. */
bool rn_cluster_forwards(const struct rn_req *req);
/* Answer req here with code on every entry, as rn_cluster_forward answers a request no
 * controller took (the admin requests it forwards). 0 or RN_E*. */
int rn_cluster_answer_all(struct rn_req *req, int16_t code, const char *text);

/* Internal to the cluster's files. */
typedef struct rn__fcreate rn__fcreate_t;
struct rn_peer *rn__cluster_peer(rn_cluster_t *c, int32_t id);
void rn__cluster_fcreate_kick(rn_cluster_t *c);
/* The topics in topics the image lacks are sent to the controller leader as CreateTopics,
 * the local ones dropped; done(0) runs once the image has them (from list, see
 * rn__cluster_fcreate_check). RN_E* when nothing was sent (done is not called). */
int rn__cluster_forward_create(rn_cluster_t *c, int32_t leader, struct rn_topics *topics,
                               void (*done)(void *arg, int rc), void *arg, rn__fcreate_t **list);
/* Finish what in list is answered and in the image, failed, or timed out (all with cancel). */
void rn__cluster_fcreate_check(rn_cluster_t *c, rn__fcreate_t **list, bool cancel);
/* The rn_topics committer: on a follower, new topics go to the controller; everything else
 * is rn_cluster_commit. */
void rn__cluster_commit_forward(void *carg, struct rn_topics *topics, bool on_commit,
                                void (*done)(void *arg, int rc), void *arg);
/* Persist what the topics have pending (directories, the cache file) from the loop, one
 * job at a time: now, or (later) after a pause, as after a failed job (whose directories
 * rn_topics queued again). */
void rn__cluster_persist(rn_cluster_t *c, bool later);

/* ---- this node's registration, the controller's sessions (cluster_brokers.c) ---- */

typedef struct rn__reg rn__reg_t;
rn__reg_t *rn__reg_new(rn_cluster_t *c);
/* Register, then heartbeat (after the log replayed); stop: no more requests. */
void rn__reg_start(rn__reg_t *reg);
void rn__reg_stop(rn__reg_t *reg);
/* After the cluster's operations and peers are gone (their callbacks may reach reg). */
void rn__reg_free(rn__reg_t *reg);
/* This node's broker epoch (-1: not registered) and the controller that gave it. */
int64_t rn__reg_epoch(const rn__reg_t *reg, int32_t *controller);
/* True when registered with the current controller; *fenced as its last answer said. */
bool rn__reg_state(const rn__reg_t *reg, bool *fenced);
/* Send the next heartbeat now (when registered and none is in flight). */
void rn__reg_heartbeat_soon(rn__reg_t *reg);
/* Start a controlled shutdown (rn_cluster_controlled_shutdown); false when not registered
 * or already leaving. */
bool rn__reg_leave(rn__reg_t *reg, int64_t timeout_ms, void (*left)(void *arg, bool granted),
                   void *arg);

/* ---- this node's producer id blocks (cluster_pids.c) ---- */

/* rn_pidalloc's source (arg: the rn_cluster_t): ask the controller for a block of producer
 * ids (locally when this node is the controller), retrying until one is granted, and hand
 * it to the data path's rn_pidalloc. */
void rn_cluster_want_producer_ids(void *carg);
typedef struct rn__pids rn__pids_t;
rn__pids_t *rn__pids_new(rn_cluster_t *c);
void rn__pids_stop(rn__pids_t *pids);
/* After the cluster's operations and peers are gone (their callbacks may reach pids). */
void rn__pids_free(rn__pids_t *pids);
rn__pids_t *rn__cluster_pids(rn_cluster_t *c);
rn__reg_t *rn__cluster_reg(rn_cluster_t *c);

/* The endpoint of registered broker mb that this node's inter-broker listener name names
 * (its first endpoint when none does); NULL when it registered none. */
const rn_mimage_endpoint_t *rn_cluster_broker_endpoint(const rn_cluster_t *c,
                                                       const rn_mimage_broker_t *mb);

/* ---- the active controller's watch on brokers' processes (cluster_liveness.c) ---- */

typedef struct rn__live rn__live_t;
rn__live_t *rn__live_new(rn_cluster_t *c);
void rn__live_start(rn__live_t *lv);
void rn__live_stop(rn__live_t *lv);
/* After the cluster's operations are gone (a queued fence reaches lv). */
void rn__live_free(rn__live_t *lv);

/* This node is registered with the controller, unfenced and caught up with the committed
 * metadata; otherwise false with the reason in why. */
bool rn_cluster_ready(const rn_cluster_t *c, char *why, size_t whylen);

/* ---- ISR changes of the partitions this node leads (cluster_isr.c) ---- */

/* The controller's answer to one AlterPartition (KIP-497). error_code NONE: the change is
 * committed and the partition is now (leader_id, leader_epoch, partition_epoch, isr) — the
 * state the metadata image will apply (isr points into memory valid only during the
 * callback). Otherwise the fields are -1/empty and error_code is:
 *   - the controller's refusal, as Kafka's: STALE_BROKER_EPOCH (this node's registration
 *     is outdated), UNKNOWN_TOPIC_ID, UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH (a
 *     newer leader epoch exists: this node is deposed), INVALID_UPDATE_VERSION (the
 *     partition epoch is stale: wait for the metadata), INVALID_REQUEST (not the leader, or
 *     an ISR that is no subset of the replicas or lacks the leader), INELIGIBLE_REPLICA (a
 *     new member is fenced, shutting down, unregistered or of another broker epoch: revert
 *     to the committed ISR), NOT_CONTROLLER (the controller is behind or changed);
 *   - NOT_CONTROLLER too when no controller is known or none could be reached;
 *   - BROKER_ID_NOT_REGISTERED: this node has no broker epoch yet;
 *   - REQUEST_TIMED_OUT: no answer within RN_CLUSTER_ISR_TIMEOUT_MS, or the connection
 *     was lost (the change may or may not have been made: the metadata will tell);
 *   - UNSUPPORTED_VERSION: the controller does not serve AlterPartition v3;
 *   - BROKER_NOT_AVAILABLE: this node is stopping (rn_cluster_stop). */
typedef struct rn_isr_result {
    int16_t error_code;
    int32_t leader_id, leader_epoch, partition_epoch;
    const int32_t *isr;
    int32_t n_isr;
} rn_isr_result_t;
typedef void (*rn_isr_done_fn)(void *arg, const rn_isr_result_t *res);

#define RN_CLUSTER_ISR_TIMEOUT_MS 5000
#define RN_CLUSTER_ISR_MAX        1024 /* members of one new ISR */

/* Ask the active controller to set the ISR of partition `partition` of topic_id to
 * new_isr[n_isr] (this node must be its leader), naming the leader epoch and partition
 * epoch this node knows (rn_partition_t's leader_epoch and partition_epoch). Sent as
 * AlterPartition v3 with this node's broker epoch and each member's broker epoch from the
 * image; locally through the controller's queue when this node is the controller. The
 * arguments are copied. Returns 0, and done(arg, res) is then called exactly once, from the
 * loop, never from inside this call; RN_EINVAL (bad arguments: n_isr < 0 or over
 * RN_CLUSTER_ISR_MAX, done NULL) and done is not called. Kafka's rule is one call in flight
 * per partition; that is the caller's to keep. The cluster exists in every runneld (a
 * single node is a quorum of one and its own controller), so callers may always use it. */
int rn_cluster_alter_isr(rn_cluster_t *c, const rn_uuid_t *topic_id, int32_t partition,
                         int32_t leader_epoch, int32_t partition_epoch, const int32_t *new_isr,
                         int32_t n_isr, rn_isr_done_fn done, void *arg);
/* Forget every call made with arg: their done is never called. For a caller going away
 * (a partition deleted, the data path shutting down, which happens before rn_cluster_stop):
 * the controller may still apply a change already sent; the metadata will show it. */
void rn_cluster_alter_isr_cancel(rn_cluster_t *c, void *arg);

typedef struct rn__isrs rn__isrs_t;
rn__isrs_t *rn__isrs_new(rn_cluster_t *c);
/* Every call still waiting is told BROKER_NOT_AVAILABLE; later calls fail the same way. */
void rn__isrs_stop(rn__isrs_t *isrs);
/* After the cluster's operations and peers are gone (their callbacks may reach calls). */
void rn__isrs_free(rn__isrs_t *isrs);
rn__isrs_t *rn__cluster_isrs(rn_cluster_t *c);

#endif
