/* rn_raft: one node of the metadata quorum (design decision 5), the Raft of Kafka's KIP-595
 * (pull-based replication, leader epochs, Fetch-driven commit) with KIP-996 pre-vote.
 *
 * The module is a deterministic state machine: everything it depends on is handed in.
 *  - time: rn_raft_tick(now) and the now of rn_raft_receive(); no clock is read;
 *  - randomness: io->random() (election timeouts and backoff);
 *  - disk: the log through rn_raft_log_ops_t, the quorum state (epoch, voted id, leader id)
 *    through io->persist(), which must be durable when it returns because votes and
 *    fetches follow it at once;
 *  - network: io->send() takes every outgoing message; the caller feeds incoming ones to
 *    rn_raft_receive(). Messages may be lost, delayed, reordered or duplicated.
 * Committed entries come out through io->apply(), in offset order, each once per
 * incarnation of the node (a restarted node replays from its snapshot).
 *
 * States (Kafka's QuorumState):
 *   UNATTACHED   epoch known, no leader; may hold a vote. Election timeout -> PROSPECTIVE.
 *   PROSPECTIVE  asking for pre-votes at its current epoch; nothing bumped or persisted.
 *                Majority -> CANDIDATE; rejected or timed out -> FOLLOWER (leader known)
 *                or UNATTACHED.
 *   CANDIDATE    epoch + 1, voted for itself. Majority -> LEADER; timeout -> PROSPECTIVE.
 *   LEADER       serves Fetch, advances the high watermark. Shutdown or check-quorum
 *                failure -> RESIGNED.
 *   FOLLOWER     fetches from the leader. Fetch timeout -> PROSPECTIVE (sooner when a
 *                connection to the leader is refused: rn_raft_peer_refused).
 *   RESIGNED     ex-leader of its epoch, sends EndQuorumEpoch; timeout -> PROSPECTIVE.
 *   FAILED       a rule the algorithm relies on was broken (truncation below the high
 *                watermark, a persist or log failure); the node stops taking part.
 * A higher epoch seen in any message moves a node to it (FOLLOWER if the message names the
 * leader, UNATTACHED otherwise).
 *
 * Ownership: messages passed to send() and entries passed to apply() point into the node's
 * or the log's memory and are valid only during the call; the receiver copies what it keeps.
 * Messages given to rn_raft_receive() are only read during the call. */
#ifndef RN_RAFT_H
#define RN_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RN_RAFT_MAX_VOTERS 16
#define RN_RAFT_NONE       (-1) /* no node id / no leader / no vote */

typedef struct rn_raft rn_raft_t;

typedef enum rn_raft_state {
    RN_RAFT_UNATTACHED = 0,
    RN_RAFT_PROSPECTIVE,
    RN_RAFT_CANDIDATE,
    RN_RAFT_LEADER,
    RN_RAFT_FOLLOWER,
    RN_RAFT_RESIGNED,
    RN_RAFT_FAILED,
} rn_raft_state_t;

/* What an entry holds: the state machine's bytes, or the control record a new leader
 * appends first (Kafka's LeaderChange), whose commit is the epoch's first commit. */
typedef enum rn_raft_entry_kind {
    RN_RAFT_ENTRY_DATA = 0,
    RN_RAFT_ENTRY_LEADER_CHANGE = 1,
} rn_raft_entry_kind_t;

typedef struct rn_raft_entry {
    int64_t offset;
    int32_t epoch; /* the leader epoch it was appended in (batch partitionLeaderEpoch) */
    uint8_t kind;  /* rn_raft_entry_kind_t */
    const uint8_t *data;
    size_t len;
} rn_raft_entry_t;

/* Kafka's error codes as they travel in the quorum RPCs. */
enum {
    RN_RAFT_ERR_NONE = 0,
    RN_RAFT_ERR_NOT_LEADER = 6,
    RN_RAFT_ERR_INVALID_REQUEST = 42,
    RN_RAFT_ERR_FENCED_LEADER_EPOCH = 74,
    RN_RAFT_ERR_UNKNOWN_LEADER_EPOCH = 75,
};

typedef enum rn_raft_msg_type {
    RN_RAFT_VOTE_REQ = 1, /* Vote (52) */
    RN_RAFT_VOTE_RESP,
    RN_RAFT_BEGIN_EPOCH_REQ, /* BeginQuorumEpoch (53) */
    RN_RAFT_BEGIN_EPOCH_RESP,
    RN_RAFT_END_EPOCH_REQ, /* EndQuorumEpoch (54) */
    RN_RAFT_END_EPOCH_RESP,
    RN_RAFT_FETCH_REQ, /* Fetch (1) on __cluster_metadata-0 */
    RN_RAFT_FETCH_RESP,
    RN_RAFT_FETCH_SNAPSHOT_REQ, /* FetchSnapshot (59), the whole snapshot in one answer */
    RN_RAFT_FETCH_SNAPSHOT_RESP,
} rn_raft_msg_type_t;

/* A snapshot holds every entry below end_offset; epoch is that of entry end_offset - 1. */
typedef struct rn_raft_snapshot_id {
    int64_t end_offset;
    int32_t epoch;
} rn_raft_snapshot_id_t;

typedef struct rn_raft_msg {
    rn_raft_msg_type_t type;
    int32_t from, to;
    /* Requests: CandidateEpoch / LeaderEpoch / CurrentLeaderEpoch. Responses: the
     * responder's epoch. */
    int32_t epoch;
    int32_t leader_id; /* the leader the sender knows at epoch, RN_RAFT_NONE if none */
    int16_t error;     /* responses: RN_RAFT_ERR_* */
    int64_t corr;      /* a response echoes its request's correlation id */
    union {
        struct {
            int64_t last_offset; /* candidate's log end offset */
            int32_t last_offset_epoch;
            bool pre_vote;
        } vote_req;
        struct {
            bool granted;
            bool pre_vote;
        } vote_resp;
        struct {
            int32_t successors[RN_RAFT_MAX_VOTERS]; /* preferred, by fetch offset */
            int n_successors;
        } end_epoch;
        struct {
            int64_t fetch_offset; /* the follower's log end offset, durable */
            int32_t last_fetched_epoch;
        } fetch_req;
        struct {
            int64_t high_watermark;          /* -1 when unknown */
            rn_raft_snapshot_id_t diverging; /* epoch -1: none; else truncate to end */
            rn_raft_snapshot_id_t snapshot;  /* end_offset -1: none; else fetch it */
            int64_t base_offset;             /* of records[0] (= the request's offset) */
            const rn_raft_entry_t *records;
            int n_records;
        } fetch_resp;
        struct {
            rn_raft_snapshot_id_t id;
        } snap_req;
        struct {
            rn_raft_snapshot_id_t id;
            const uint8_t *data;
            size_t len;
        } snap_resp;
    } u;
} rn_raft_msg_t;

/* The durable quorum state (Kafka's quorum-state file holds it, see rn_qstate.h). */
typedef struct rn_raft_qstate {
    int32_t epoch;
    int32_t voted_id;
    int32_t leader_id;
} rn_raft_qstate_t;

/* The replicated log, owned by the caller (rn_plog in the broker, a memory log in the
 * simulator). Offsets are dense: entries occupy [start_offset, end_offset). Entries below
 * start_offset live in the latest snapshot. Epochs never decrease along the log. All
 * functions returning int give 0 or a negative RN_E*. */
typedef struct rn_raft_log_ops {
    /* Append one entry at end_offset. Not yet durable. */
    int (*append)(void *log, int32_t epoch, uint8_t kind, const uint8_t *data, size_t len);
    /* Remove every entry at or above end (end >= start_offset). */
    int (*truncate_to)(void *log, int64_t end);
    /* The entry at offset (start <= offset < end); data valid until the next change. */
    int (*read)(void *log, int64_t offset, rn_raft_entry_t *out);
    /* Make everything appended so far durable before returning. */
    int (*flush)(void *log);
    int64_t (*start_offset)(void *log);
    int64_t (*end_offset)(void *log);
    /* Epoch of entry start_offset - 1 (the snapshot's), 0 when start_offset is 0. */
    int32_t (*start_epoch)(void *log);
    /* Epoch of the last entry, start_epoch() when there is none. */
    int32_t (*last_epoch)(void *log);
    /* The largest epoch <= epoch among entries in [start, end) and the offset just past
     * its last entry. RN_ENOTFOUND when no entry there has an epoch <= epoch. */
    int (*epoch_end)(void *log, int32_t epoch, int32_t *out_epoch, int64_t *out_end);
    /* Forget every entry: the log restarts empty at start (a snapshot was installed). */
    int (*reset)(void *log, int64_t start, int32_t start_epoch);
    /* Entries below start are in a snapshot now: drop them (start <= end_offset). */
    int (*drop_prefix)(void *log, int64_t start);
} rn_raft_log_ops_t;

typedef struct rn_raft_io {
    void *ctx; /* first argument of every callback below */
    void (*send)(void *ctx, const rn_raft_msg_t *msg);
    /* Store the quorum state durably; 0 once it is. A failure fails the node. */
    int (*persist)(void *ctx, const rn_raft_qstate_t *qs);
    /* A committed entry, in offset order, never twice in one incarnation. */
    void (*apply)(void *ctx, const rn_raft_entry_t *entry);
    uint32_t (*random)(void *ctx);
    /* The latest snapshot (the leader sends it to followers behind its log start). */
    int (*snapshot_read)(void *ctx, rn_raft_snapshot_id_t *id, const uint8_t **data, size_t *len);
    /* Replace the state machine by this snapshot (store it durably first). */
    int (*snapshot_install)(void *ctx, rn_raft_snapshot_id_t id, const uint8_t *data, size_t len);
    const rn_raft_log_ops_t *log_ops;
    void *log;
} rn_raft_io_t;

typedef struct rn_raft_config {
    int32_t node_id;
    int32_t voters[RN_RAFT_MAX_VOTERS]; /* controller.quorum.voters, node_id among them */
    int n_voters;
    int64_t election_timeout_ms;     /* timer uniform in [T, 2T) */
    int64_t election_backoff_max_ms; /* after a lost election */
    int64_t fetch_timeout_ms;        /* follower without a good Fetch for T: election */
    int64_t fetch_max_wait_ms;       /* leader parks an empty Fetch up to this long */
    int64_t request_timeout_ms;      /* an unanswered Fetch is sent again */
    int max_fetch_entries;           /* entries per Fetch response */
    bool pre_vote;                   /* KIP-996; off only to show what it prevents */
} rn_raft_config_t;

/* Kafka's defaults (controller.quorum.*) for the timers, pre-vote on. */
void rn_raft_config_defaults(rn_raft_config_t *cfg);

/* A node starting at now from its durable state: qs (NULL: a fresh node, epoch 0) and the
 * log in io. Entries below the log's start are assumed restored by the caller from its
 * snapshot. io is copied. NULL on a bad configuration. */
rn_raft_t *rn_raft_new(const rn_raft_config_t *cfg, const rn_raft_io_t *io,
                       const rn_raft_qstate_t *qs, int64_t now_ms);
void rn_raft_free(rn_raft_t *raft);

/* Advance time to now_ms (never backwards) and fire what is due: elections, fetches and
 * their retries, the leader's flush and high-watermark update, parked fetches, check-quorum. */
void rn_raft_tick(rn_raft_t *raft, int64_t now_ms);
/* Handle one message addressed to this node at now_ms. */
void rn_raft_receive(rn_raft_t *raft, int64_t now_ms, const rn_raft_msg_t *msg);

/* The transport lost sent, a request of this node, before its answer came (the
 * connection failed or timed out). A follower's Fetch is sent again after the retry
 * backoff rather than after the request timeout. */
void rn_raft_request_failed(rn_raft_t *raft, int64_t now_ms, const rn_raft_msg_t *sent);
/* A connection to node_id was refused at now_ms: nothing listens at its address, so its
 * process is gone (a partition drops packets instead, and waits for the fetch timeout).
 * A follower of node_id stops vouching for it in pre-votes and starts an election
 * after a random delay in [0, election timeout / 2) rather than at its fetch timeout;
 * the randomness keeps followers that see the refusal together from splitting the
 * vote. Only the first refusal after a good Fetch answer counts. */
void rn_raft_peer_refused(rn_raft_t *raft, int64_t now_ms, int32_t node_id);

/* Leader only: append data as a new entry of the current epoch. Its offset, or
 * RN_EINVAL when not the leader (or a log error). Committed once a majority holds it. */
int64_t rn_raft_propose(rn_raft_t *raft, const uint8_t *data, size_t len);
/* Graceful shutdown of a leader: resign and tell the voters (EndQuorumEpoch). */
void rn_raft_resign(rn_raft_t *raft);
/* The state machine holds every entry below end_offset (<= applied) in a snapshot that
 * io->snapshot_read() now returns: the log drops them. 0 or RN_E*. */
int rn_raft_snapshot_taken(rn_raft_t *raft, int64_t end_offset);

rn_raft_state_t rn_raft_state(const rn_raft_t *raft);
int32_t rn_raft_epoch(const rn_raft_t *raft);
int32_t rn_raft_leader(const rn_raft_t *raft);
int32_t rn_raft_voted(const rn_raft_t *raft);
int64_t rn_raft_high_watermark(const rn_raft_t *raft);
int64_t rn_raft_applied(const rn_raft_t *raft);
const char *rn_raft_state_name(rn_raft_state_t state);

#endif
