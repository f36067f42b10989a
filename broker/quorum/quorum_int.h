/* quorum_int.h: rn_quorum's state shared by quorum.c (the thread, its mailboxes, peers,
 * files) and handle_quorum.c (the handlers on the broker's loop). Included only from
 * broker/quorum/. */
#ifndef RN_QUORUM_INT_H
#define RN_QUORUM_INT_H

#include "quorum/rn_qlog.h"
#include "quorum/rn_qmsg.h"
#include "quorum/rn_quorum.h"
#include "quorum/rn_raft.h"

#include <pthread.h>
#include <stdbool.h>

struct rn_peer;
struct rn_req;

/* A quorum request parked on the broker's loop while the thread answers it. Owned by the
 * loop: linked in q->handles until the answer comes back or rn_quorum_stop. */
typedef struct rn_qhandle {
    struct rn_req *req; /* NULL once cancelled (the connection went away) */
    int16_t api_key, version;
    struct rn_qhandle *prev, *next;
} rn_qhandle_t;

/* What the thread publishes for the loop (under pub_mu): DescribeQuorum and /ready. */
typedef struct rn_qstatus {
    rn_raft_state_t state;
    int32_t epoch, leader_id;
    int64_t hw, leo;
    int64_t voter_end[RN_RAFT_MAX_VOTERS];        /* leader: -1 unknown */
    int64_t voter_fetch_wall[RN_RAFT_MAX_VOTERS]; /* leader: wall ms of the last fetch */
} rn_qstatus_t;

typedef struct rn_qbox rn_qbox_t;

struct rn_quorum {
    rn_quorum_opts_t opts; /* opts.voter_ids points at voter_ids; hosts/ports unused after start */
    int32_t voter_ids[RN_RAFT_MAX_VOTERS];
    char cluster_id[64];
    struct event_base *base; /* the broker's loop */

    /* ---- the quorum thread's (after start) ---- */
    struct event_base *qbase;
    pthread_t thread;
    rn_raft_t *raft;
    rn_qlog_t *qlog;
    struct rn_peer *peers[RN_RAFT_MAX_VOTERS]; /* by voter index; NULL for self */
    uint64_t refused_seen[RN_RAFT_MAX_VOTERS]; /* each peer's refused count raft was told of */
    struct event *tick;
    int64_t t0, skew; /* raft time = mono ms - t0 + skew */
    uint64_t rnd;
    struct qpending *pending;   /* incoming requests raft has not answered */
    struct qappend *appends;    /* proposals waiting to commit */
    struct qsnapfetch *snapget; /* a snapshot being fetched in chunks */
    uint8_t *snap;              /* the latest snapshot, in memory */
    size_t snap_len;
    rn_raft_snapshot_id_t snap_id; /* end_offset 0 when none */
    int32_t seen_leader, seen_epoch;
    int64_t next_in_corr;
    bool stopping;

    rn_qbox_t *inbox;  /* loop -> thread */
    rn_qbox_t *outbox; /* thread -> loop */

    pthread_mutex_t pub_mu;
    rn_qstatus_t pub;

    /* ---- the broker loop's ---- */
    int32_t leader_id, epoch;
    int64_t applied; /* next offset to apply */
    int64_t applied_bytes_since_snapshot;
    uint64_t applied_count;
    rn_qhandle_t handles; /* list head */
    /* Forwarding DescribeQuorum to the leader (qforward.c): the voters' addresses, kept
     * from opts, and a peer per voter made on first use. */
    char voter_host[RN_RAFT_MAX_VOTERS][256];
    char sasl_mechanism[16], sasl_username[256], sasl_password[256]; /* "" = none */
    int voter_port[RN_RAFT_MAX_VOTERS];
    struct rn_peer *fwd[RN_RAFT_MAX_VOTERS];
};

/* qforward.c: forward a DescribeQuorum request (this node does not lead) to leader_id and
 * relay its answer: RN_HANDLED_ASYNC, or RN_ENOTLEADER/RN_E* when it cannot be sent. */
int rn__quorum_forward_describe(rn_quorum_t *q, struct rn_req *req, int32_t leader_id);
/* Free the forwarding peers (loop; callbacks of requests in flight run first). */
void rn__quorum_forward_free(rn_quorum_t *q);

/* Hand a request decoded on the loop to the thread; the answer completes h->req. */
void rn__quorum_submit(rn_quorum_t *q, rn_qhandle_t *h, const rn_raft_msg_t *msg,
                       int64_t snap_position);
void rn__quorum_status(rn_quorum_t *q, rn_qstatus_t *out);
/* Fill h->req's response from the thread's answer (loop). */
void rn__quorum_answer(rn_qhandle_t *h, const rn_raft_msg_t *msg, const uint8_t *bytes, size_t len,
                       int64_t position, int64_t size);

#endif
