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
 * match), and the request is answered once they are committed, applied and on disk. If the
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
void rn_cluster_commit(void *carg, struct rn_topics *topics, void (*done)(void *arg, int rc),
                       void *arg);

/* ---- forwarding to the active controller (cluster_forward.c) ---- */

struct rn_req;
struct rn_peer;
/* For the handlers of requests only the controller serves: on a node that is not the
 * controller (another node is known to be), send req to it and relay the answer
 * (RN_HANDLED_ASYNC); 0 when this node handles req itself. */
int rn_cluster_forward(struct rn_req *req);

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
void rn__cluster_commit_forward(void *carg, struct rn_topics *topics,
                                void (*done)(void *arg, int rc), void *arg);

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

/* This node is registered with the controller, unfenced and caught up with the committed
 * metadata; otherwise false with the reason in why. */
bool rn_cluster_ready(const rn_cluster_t *c, char *why, size_t whylen);

#endif
