/* raft_int.h: the node's state shared by raft.c (elections, state transitions) and
 * raft_repl.c (Fetch, high watermark, snapshots). Included only from broker/quorum/. */
#ifndef RN_RAFT_INT_H
#define RN_RAFT_INT_H

#include "quorum/rn_raft.h"

/* The leader's view of one voter in its epoch. */
typedef struct rn_raft_voter {
    int64_t end_offset;    /* last FetchOffset validated against our log; -1 unknown */
    int64_t last_fetch_ms; /* for check-quorum */
    int64_t hw_sent;       /* the high watermark last sent to it */
    bool fetched;          /* has fetched in this epoch (no more BeginQuorumEpoch) */
    bool parked;           /* an empty Fetch waits for data, a new HW or max wait */
    int64_t parked_corr;
    int64_t parked_until;
} rn_raft_voter_t;

/* Invariants: epoch, voted_id and leader_id equal what io->persist() last stored once a
 * transition returns; leader_id == node_id only as LEADER, RESIGNED, or PROSPECTIVE right
 * after resigning (it never leads that epoch again); voted_id never
 * changes within an epoch once set; applied <= hw <= end offset (followers) or flushed_end
 * (leader); hw never decreases. */
struct rn_raft {
    rn_raft_config_t cfg;
    rn_raft_io_t io;
    int self;    /* index of node_id in cfg.voters */
    int64_t now; /* last time handed in */
    rn_raft_state_t state;
    int32_t epoch, voted_id, leader_id;
    int64_t next_corr;

    /* UNATTACHED, PROSPECTIVE, CANDIDATE, RESIGNED: when the next election step is due. */
    int64_t election_deadline;
    uint32_t granted, rejected; /* voter index bits of this round's answers */
    int retries;                /* lost elections in a row, for the backoff */
    int32_t prospective_leader; /* PROSPECTIVE: the leader to fall back to, or NONE */
    uint32_t end_epoch_acked;   /* RESIGNED: voters that answered EndQuorumEpoch */
    int64_t end_epoch_resend;

    /* FOLLOWER */
    int64_t fetch_deadline; /* fetch timeout: no good answer by then -> election */
    bool fetch_inflight;
    int64_t fetch_corr, fetch_sent_ms, fetch_retry_at;
    bool fetched_in_epoch; /* a pre-vote is refused while the leader answers */
    bool leader_refused;   /* a connection to the leader was refused since its last answer */

    /* LEADER */
    int64_t epoch_start_offset; /* offset of this epoch's LeaderChange entry */
    int64_t flushed_end;        /* the leader's own durable end offset */
    bool dirty;                 /* appended since the last flush */
    int64_t leader_since, begin_resend;
    rn_raft_voter_t voters[RN_RAFT_MAX_VOTERS];

    int64_t hw;      /* high watermark: entries below it are committed */
    int64_t applied; /* entries below it went through io->apply() */
};

/* raft.c */
void rn__raft_fail(rn_raft_t *raft, const char *why);
int rn__raft_voter_index(const rn_raft_t *raft, int32_t id);
int rn__raft_majority(const rn_raft_t *raft);
void rn__raft_send(rn_raft_t *raft, rn_raft_msg_t *msg);
void rn__raft_become_follower(rn_raft_t *raft, int32_t epoch, int32_t leader);
void rn__raft_become_unattached(rn_raft_t *raft, int32_t epoch, int32_t voted);
void rn__raft_become_prospective(rn_raft_t *raft);
void rn__raft_become_resigned(rn_raft_t *raft);
/* Move to a higher epoch seen in a message, or learn the leader of ours. true when the
 * node changed state (the message then no longer applies to the old one). */
bool rn__raft_observe(rn_raft_t *raft, int32_t epoch, int32_t leader);

/* raft_repl.c */
void rn__raft_leader_start(rn_raft_t *raft);
void rn__raft_leader_tick(rn_raft_t *raft);
void rn__raft_follower_tick(rn_raft_t *raft);
void rn__raft_send_fetch(rn_raft_t *raft);
void rn__raft_on_fetch_req(rn_raft_t *raft, const rn_raft_msg_t *msg);
void rn__raft_on_fetch_resp(rn_raft_t *raft, const rn_raft_msg_t *msg);
void rn__raft_on_snapshot_req(rn_raft_t *raft, const rn_raft_msg_t *msg);
void rn__raft_on_snapshot_resp(rn_raft_t *raft, const rn_raft_msg_t *msg);
void rn__raft_apply(rn_raft_t *raft);
/* The local log's end offset and last epoch (the pair votes and fetches compare). */
int64_t rn__raft_leo(const rn_raft_t *raft);
int32_t rn__raft_last_epoch(const rn_raft_t *raft);

#endif
