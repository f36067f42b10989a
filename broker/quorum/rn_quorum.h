/* rn_quorum: the broker's metadata quorum — rn_raft (the algorithm) run for real: its log in
 * <data dir>/__cluster_metadata-0/ as record batches in Kafka's format, its quorum-state
 * file, its RPCs (Vote, BeginQuorumEpoch, EndQuorumEpoch, Fetch and FetchSnapshot on
 * __cluster_metadata-0, DescribeQuorum) spoken on the broker's Kafka listener and sent to the
 * other voters with rn_peer. Every voter of controller.quorum.voters / --cluster is a voter;
 * a node without --cluster is a quorum of one. The quorum leader is the active controller.
 *
 * Threads: rn_raft runs on a quorum thread with its own event loop, because persisting the
 * quorum state and flushing the log must complete before it answers or fetches, and no fsync
 * may run on the broker's loop (design decision 3). Everything this header exposes is called
 * on, and calls back on, the broker's loop.
 *
 * The contract with the state machine above it (the controller and the metadata image):
 *   - an entry is one metadata record (Kafka's frame: frame version, record type, version,
 *     body), stored as a batch of one record at its own offset; changes that need several
 *     records are bracketed by BeginTransaction/EndTransaction records (KIP-868), which the
 *     state machine buffers, so rn_quorum never needs multi-record atomicity;
 *   - committed entries arrive through opts.apply on the broker's loop, in offset order,
 *     each once per process (after a restart, replayed from the latest snapshot on);
 *   - a snapshot is the state machine's own serialization at an applied offset: rn_quorum
 *     asks for one (opts.snapshot_write) and hands one to install (opts.snapshot_load) when
 *     a node restarts from a snapshot or a follower is too far behind. */
#ifndef RN_QUORUM_H
#define RN_QUORUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct rn_req;

typedef struct rn_quorum rn_quorum_t;

/* A committed entry, valid during the call. */
typedef void (*rn_quorum_apply_fn)(void *arg, int64_t offset, int32_t epoch, const uint8_t *data,
                                   size_t len);
/* The known leader changed (leader_id -1: none known at epoch). */
typedef void (*rn_quorum_leader_fn)(void *arg, int32_t leader_id, int32_t epoch);
/* The outcome of rn_quorum_append: rc 0 and the offset of the last entry once committed; a
 * negative RN_E* (this node stopped leading before the entries committed; they may still
 * commit or be truncated: the state machine learns which through apply). */
typedef void (*rn_quorum_done_fn)(void *arg, int rc, int64_t last_offset);
/* Serialize the applied state (every entry up to and including `offset`) into a buffer
 * allocated with rn_alloc; 0 or RN_E*. Called on the broker's loop. */
typedef int (*rn_quorum_snapshot_write_fn)(void *arg, int64_t offset, uint8_t **data, size_t *len);
/* Replace the state machine by a snapshot (entries up to offset). */
typedef int (*rn_quorum_snapshot_load_fn)(void *arg, int64_t offset, const uint8_t *data,
                                          size_t len);

typedef struct rn_quorum_opts {
    int32_t node_id;
    const int32_t *voter_ids; /* with voter_hosts/voter_ports; node_id among them */
    const char *const *voter_hosts;
    const int *voter_ports;
    int n_voters;                 /* 1: a single node */
    struct rn_peer_tls *peer_tls; /* TLS to the other voters (rn_peer.h); NULL = plaintext */
    const char *data_dir;
    const char *cluster_id; /* base64 uuid of meta.properties; checked in every RPC */
    int64_t election_timeout_ms, fetch_timeout_ms, election_backoff_max_ms, request_timeout_ms;
    int64_t snapshot_bytes; /* metadata.log.max.record.bytes.between.snapshots */
    rn_quorum_apply_fn apply;
    rn_quorum_leader_fn leader_changed;
    rn_quorum_snapshot_write_fn snapshot_write;
    rn_quorum_snapshot_load_fn snapshot_load;
    void *arg;
    /* The SASL login towards the other voters (a SASL_* inter-broker listener); NULL
     * mechanism = none. Copied. */
    const char *sasl_mechanism, *sasl_username, *sasl_password;
} rn_quorum_opts_t;

/* Open the log and quorum state, replay committed entries through apply (on this call's
 * stack, before it returns), start the quorum thread. NULL + err on failure. */
rn_quorum_t *rn_quorum_start(struct event_base *base, const rn_quorum_opts_t *opts, char *err,
                             size_t errlen);
/* Resign if leading (EndQuorumEpoch), stop the thread, close the log. NULL is a no-op. */
void rn_quorum_stop(rn_quorum_t *q);

/* Append entries as consecutive offsets (this node must lead). 0 when accepted (done will be
 * called exactly once), RN_ENOTLEADER or RN_E* otherwise (done is not called). */
int rn_quorum_append(rn_quorum_t *q, const uint8_t *const *entries, const size_t *lens, int n,
                     rn_quorum_done_fn done, void *arg);

/* The leader this node knows (-1: none) and its epoch. */
int32_t rn_quorum_leader(const rn_quorum_t *q, int32_t *epoch);
bool rn_quorum_is_leader(const rn_quorum_t *q);
/* The last offset committed and applied here (-1 before any). */
int64_t rn_quorum_applied_offset(const rn_quorum_t *q);
/* The high watermark this node knows (the leader's, as of its last Fetch answer for a
 * follower); -1 before it knows one. */
int64_t rn_quorum_high_watermark(rn_quorum_t *q);
/* The log end offset as the quorum thread last published it: the offset the next appended
 * entry gets when nothing else is appended first. The controller names a new broker's epoch
 * with it (the offset of its RegisterBrokerRecord, as Kafka) while its own appends are the
 * only ones in flight; the quorum thread's own control records (LeaderChange) are written
 * at the start of an epoch, before the controller activates, so they do not move it. */
int64_t rn_quorum_end_offset(rn_quorum_t *q);

/* Handlers for the quorum RPCs received on the broker's listener (dispatch.c rows), and the
 * Fetch handler's hook for __cluster_metadata-0. Contract of net/rn_server.h. */
int rn_handle_vote(struct rn_req *req);
int rn_handle_begin_quorum_epoch(struct rn_req *req);
int rn_handle_end_quorum_epoch(struct rn_req *req);
int rn_handle_describe_quorum(struct rn_req *req);
int rn_handle_fetch_snapshot(struct rn_req *req);

#endif
