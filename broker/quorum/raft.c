/* raft.c: the quorum node's states and elections: state transitions with their durable
 * quorum state, election timers, pre-vote and vote (Vote 52), BeginQuorumEpoch (53),
 * EndQuorumEpoch (54), and the dispatch of incoming messages. Replication is in
 * raft_repl.c. */
#include "quorum/raft_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"

#include <string.h>

void rn_raft_config_defaults(rn_raft_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->node_id = RN_RAFT_NONE;
    cfg->election_timeout_ms = 1000;
    cfg->election_backoff_max_ms = 1000;
    cfg->fetch_timeout_ms = 2000;
    cfg->fetch_max_wait_ms = 500;
    cfg->request_timeout_ms = 2000;
    cfg->max_fetch_entries = 64;
    cfg->pre_vote = true;
}

const char *rn_raft_state_name(rn_raft_state_t state)
{
    static const char *names[] = {"unattached", "prospective", "candidate", "leader",
                                  "follower",   "resigned",    "failed"};
    return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state] : "?";
}

int rn__raft_voter_index(const rn_raft_t *raft, int32_t id)
{
    for (int i = 0; i < raft->cfg.n_voters; i++)
        if (raft->cfg.voters[i] == id)
            return i;
    return -1;
}

int rn__raft_majority(const rn_raft_t *raft)
{
    return raft->cfg.n_voters / 2 + 1;
}

static int popcount(uint32_t bits)
{
    return __builtin_popcount(bits);
}

void rn__raft_fail(rn_raft_t *raft, const char *why)
{
    RN_ERROR("quorum", "node %d epoch %d: %s; leaving the quorum", raft->cfg.node_id, raft->epoch,
             why);
    raft->state = RN_RAFT_FAILED;
}

void rn__raft_send(rn_raft_t *raft, rn_raft_msg_t *msg)
{
    msg->from = raft->cfg.node_id;
    raft->io.send(raft->io.ctx, msg);
}

/* Store (epoch, voted, leader) durably; nothing is sent before this returns. */
static bool set_qstate(rn_raft_t *raft, int32_t epoch, int32_t voted, int32_t leader)
{
    if (raft->epoch == epoch && raft->voted_id == voted && raft->leader_id == leader)
        return true;
    rn_raft_qstate_t qs = {.epoch = epoch, .voted_id = voted, .leader_id = leader};
    if (raft->io.persist(raft->io.ctx, &qs) != 0) {
        rn__raft_fail(raft, "cannot persist the quorum state");
        return false;
    }
    raft->epoch = epoch;
    raft->voted_id = voted;
    raft->leader_id = leader;
    return true;
}

/* Uniform in [base, 2 * base): voters that time out together rarely tie again. */
static int64_t random_timeout(rn_raft_t *raft, int64_t base)
{
    return base + (int64_t)(raft->io.random(raft->io.ctx) % (uint64_t)(base > 0 ? base : 1));
}

static void reset_election_timer(rn_raft_t *raft)
{
    raft->election_deadline = raft->now + random_timeout(raft, raft->cfg.election_timeout_ms);
}

void rn__raft_become_unattached(rn_raft_t *raft, int32_t epoch, int32_t voted)
{
    if (!set_qstate(raft, epoch, voted, RN_RAFT_NONE))
        return;
    raft->state = RN_RAFT_UNATTACHED;
    reset_election_timer(raft);
}

void rn__raft_become_follower(rn_raft_t *raft, int32_t epoch, int32_t leader)
{
    int32_t voted = epoch == raft->epoch ? raft->voted_id : RN_RAFT_NONE;
    if (!set_qstate(raft, epoch, voted, leader))
        return;
    raft->state = RN_RAFT_FOLLOWER;
    raft->retries = 0;
    raft->fetch_deadline = raft->now + raft->cfg.fetch_timeout_ms;
    raft->fetch_inflight = false;
    raft->fetched_in_epoch = false;
    raft->leader_refused = false;
    rn__raft_send_fetch(raft);
}

static void send_votes(rn_raft_t *raft, bool pre_vote)
{
    for (int i = 0; i < raft->cfg.n_voters; i++) {
        if (i == raft->self)
            continue;
        rn_raft_msg_t msg = {.type = RN_RAFT_VOTE_REQ,
                             .to = raft->cfg.voters[i],
                             .epoch = raft->epoch,
                             .leader_id = RN_RAFT_NONE,
                             .corr = raft->next_corr++};
        msg.u.vote_req.last_offset = rn__raft_leo(raft);
        msg.u.vote_req.last_offset_epoch = rn__raft_last_epoch(raft);
        msg.u.vote_req.pre_vote = pre_vote;
        rn__raft_send(raft, &msg);
    }
}

static void become_leader(rn_raft_t *raft)
{
    if (!set_qstate(raft, raft->epoch, raft->voted_id, raft->cfg.node_id))
        return;
    raft->state = RN_RAFT_LEADER;
    raft->retries = 0;
    RN_INFO("quorum", "node %d leads epoch %d", raft->cfg.node_id, raft->epoch);
    rn__raft_leader_start(raft);
}

static void count_votes(rn_raft_t *raft);

/* Epoch + 1 and our own vote, durable before any Vote request leaves. */
static void become_candidate(rn_raft_t *raft)
{
    if (!set_qstate(raft, raft->epoch + 1, raft->cfg.node_id, RN_RAFT_NONE))
        return;
    raft->state = RN_RAFT_CANDIDATE;
    raft->granted = 1u << raft->self;
    raft->rejected = 0;
    reset_election_timer(raft);
    send_votes(raft, false);
    count_votes(raft);
}

/* A vote round's outcome once a majority has answered either way. */
static void count_votes(rn_raft_t *raft)
{
    int maj = rn__raft_majority(raft);
    if (popcount(raft->granted) >= maj) {
        if (raft->state == RN_RAFT_PROSPECTIVE)
            become_candidate(raft);
        else if (raft->state == RN_RAFT_CANDIDATE)
            become_leader(raft);
        return;
    }
    if (popcount(raft->rejected) < maj)
        return;
    if (raft->state == RN_RAFT_PROSPECTIVE) {
        if (raft->prospective_leader != RN_RAFT_NONE)
            rn__raft_become_follower(raft, raft->epoch, raft->prospective_leader);
        else
            rn__raft_become_unattached(raft, raft->epoch, raft->voted_id);
        return;
    }
    /* Lost: back off 1..2^retries units before asking for pre-votes again. */
    int64_t unit = raft->cfg.election_timeout_ms / 10 + 1;
    int shift = raft->retries < 10 ? raft->retries : 10;
    int64_t backoff = unit * (1 + (int64_t)(raft->io.random(raft->io.ctx) % (1u << shift)));
    if (backoff > raft->cfg.election_backoff_max_ms)
        backoff = raft->cfg.election_backoff_max_ms;
    raft->retries++;
    raft->granted = raft->rejected = 0; /* late answers no longer count; wait for the timer */
    raft->election_deadline = raft->now + backoff;
}

/* Start an election: pre-vote at the current epoch (nothing persisted, nobody disturbed),
 * or with pre-vote off a real vote at epoch + 1 straight away. A follower remembers its
 * leader to return to it if the pre-vote fails. */
void rn__raft_become_prospective(rn_raft_t *raft)
{
    raft->prospective_leader = raft->state == RN_RAFT_FOLLOWER ? raft->leader_id : RN_RAFT_NONE;
    if (!raft->cfg.pre_vote) {
        become_candidate(raft);
        return;
    }
    raft->state = RN_RAFT_PROSPECTIVE;
    raft->granted = 1u << raft->self;
    raft->rejected = 0;
    reset_election_timer(raft);
    send_votes(raft, true);
    count_votes(raft);
}

void rn__raft_become_resigned(rn_raft_t *raft)
{
    raft->state = RN_RAFT_RESIGNED;
    raft->end_epoch_acked = 1u << raft->self;
    raft->end_epoch_resend = raft->now;
    reset_election_timer(raft);
    RN_INFO("quorum", "node %d resigns epoch %d", raft->cfg.node_id, raft->epoch);
}

/* EndQuorumEpoch to the voters that have not acknowledged it, successors ordered by how
 * far they have fetched so the most caught-up one stands first. */
static void send_end_epoch(rn_raft_t *raft)
{
    rn_raft_msg_t msg = {
        .type = RN_RAFT_END_EPOCH_REQ, .epoch = raft->epoch, .leader_id = raft->cfg.node_id};
    int n = 0;
    for (int i = 0; i < raft->cfg.n_voters; i++) {
        if (i == raft->self)
            continue;
        int j = n++;
        while (
            j > 0 &&
            raft->voters[rn__raft_voter_index(raft, msg.u.end_epoch.successors[j - 1])].end_offset <
                raft->voters[i].end_offset) {
            msg.u.end_epoch.successors[j] = msg.u.end_epoch.successors[j - 1];
            j--;
        }
        msg.u.end_epoch.successors[j] = raft->cfg.voters[i];
    }
    msg.u.end_epoch.n_successors = n;
    for (int i = 0; i < raft->cfg.n_voters; i++) {
        if (raft->end_epoch_acked & (1u << i))
            continue;
        msg.to = raft->cfg.voters[i];
        msg.corr = raft->next_corr++;
        rn__raft_send(raft, &msg);
    }
    raft->end_epoch_resend = raft->now + raft->cfg.request_timeout_ms;
}

bool rn__raft_observe(rn_raft_t *raft, int32_t epoch, int32_t leader)
{
    if (epoch > raft->epoch) {
        if (leader != RN_RAFT_NONE && leader != raft->cfg.node_id)
            rn__raft_become_follower(raft, epoch, leader);
        else
            rn__raft_become_unattached(raft, epoch, RN_RAFT_NONE);
        return true;
    }
    /* A prospective that gave up on its leader does not go back to it because another
     * voter still names it: only the pre-vote's outcome or a new leader ends the round. */
    if (epoch == raft->epoch && leader != RN_RAFT_NONE && leader != raft->cfg.node_id &&
        (raft->state == RN_RAFT_UNATTACHED || raft->state == RN_RAFT_CANDIDATE ||
         (raft->state == RN_RAFT_PROSPECTIVE && leader != raft->prospective_leader))) {
        rn__raft_become_follower(raft, epoch, leader);
        return true;
    }
    return false;
}

rn_raft_t *rn_raft_new(const rn_raft_config_t *cfg, const rn_raft_io_t *io,
                       const rn_raft_qstate_t *qs, int64_t now_ms)
{
    if (cfg->n_voters < 1 || cfg->n_voters > RN_RAFT_MAX_VOTERS)
        return NULL;
    rn_raft_t *raft = rn_xcalloc(1, sizeof(*raft));
    raft->cfg = *cfg;
    raft->io = *io;
    raft->now = now_ms;
    raft->self = rn__raft_voter_index(raft, cfg->node_id);
    if (raft->self < 0) {
        rn_free(raft);
        return NULL;
    }
    raft->voted_id = raft->leader_id = RN_RAFT_NONE;
    raft->next_corr = 1;
    if (qs != NULL) {
        raft->epoch = qs->epoch;
        raft->voted_id = qs->voted_id;
        raft->leader_id = qs->leader_id;
    }
    raft->hw = raft->applied = io->log_ops->start_offset(io->log);
    int32_t log_epoch = rn__raft_last_epoch(raft);
    if (raft->epoch < log_epoch) {
        /* The log knows a later epoch than the file: start there, promising nothing. */
        rn__raft_become_unattached(raft, log_epoch, RN_RAFT_NONE);
    } else if (raft->leader_id == cfg->node_id) {
        /* Never lead the same epoch twice: unflushed entries of it may be gone. */
        rn__raft_become_resigned(raft);
    } else if (raft->leader_id != RN_RAFT_NONE) {
        raft->state = RN_RAFT_FOLLOWER;
        raft->fetch_deadline = now_ms + cfg->fetch_timeout_ms;
        raft->fetch_retry_at = now_ms;
    } else {
        raft->state = RN_RAFT_UNATTACHED;
        reset_election_timer(raft);
    }
    return raft;
}

void rn_raft_free(rn_raft_t *raft)
{
    rn_free(raft);
}

void rn_raft_tick(rn_raft_t *raft, int64_t now_ms)
{
    if (now_ms > raft->now)
        raft->now = now_ms;
    switch (raft->state) {
    case RN_RAFT_LEADER: rn__raft_leader_tick(raft); break;
    case RN_RAFT_FOLLOWER: rn__raft_follower_tick(raft); break;
    case RN_RAFT_RESIGNED:
        if (raft->now >= raft->end_epoch_resend &&
            popcount(raft->end_epoch_acked) < raft->cfg.n_voters)
            send_end_epoch(raft);
        /* fall through */
    case RN_RAFT_UNATTACHED:
    case RN_RAFT_CANDIDATE:
        if (raft->now >= raft->election_deadline)
            rn__raft_become_prospective(raft);
        break;
    case RN_RAFT_PROSPECTIVE:
        if (raft->now < raft->election_deadline)
            break;
        if (raft->prospective_leader != RN_RAFT_NONE)
            rn__raft_become_follower(raft, raft->epoch, raft->prospective_leader);
        else
            rn__raft_become_unattached(raft, raft->epoch, raft->voted_id);
        break;
    case RN_RAFT_FAILED: break;
    }
}

/* Pre-vote: would we vote for this log? Refused while a leader is known to be alive
 * (we lead, or we fetched from it in this epoch), so a node returning from a partition
 * cannot unseat a working leader. Real vote: at most one candidate per epoch, persisted
 * before the answer leaves. Both need the candidate's log at least as up to date. */
static void on_vote_req(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    bool pre_vote = msg->u.vote_req.pre_vote;
    int32_t cand = msg->from;
    rn_raft_msg_t resp = {.type = RN_RAFT_VOTE_RESP, .to = cand, .corr = msg->corr};
    resp.u.vote_resp.pre_vote = pre_vote;
    if (msg->epoch > raft->epoch)
        rn__raft_observe(raft, msg->epoch, RN_RAFT_NONE);
    bool granted = false;
    int32_t cand_epoch = msg->u.vote_req.last_offset_epoch;
    int64_t cand_offset = msg->u.vote_req.last_offset;
    if (cand_offset < 0 || cand_epoch < 0 || cand_epoch > msg->epoch ||
        (!pre_vote && cand_epoch == msg->epoch) || rn__raft_voter_index(raft, cand) < 0) {
        resp.error = RN_RAFT_ERR_INVALID_REQUEST;
    } else if (msg->epoch == raft->epoch && raft->state != RN_RAFT_FAILED) {
        int32_t last_epoch = rn__raft_last_epoch(raft);
        bool log_ok = cand_epoch > last_epoch ||
                      (cand_epoch == last_epoch && cand_offset >= rn__raft_leo(raft));
        if (pre_vote) {
            granted = log_ok && raft->state != RN_RAFT_LEADER &&
                      !(raft->state == RN_RAFT_FOLLOWER && raft->fetched_in_epoch);
        } else if (raft->voted_id == cand) {
            granted = log_ok;
        } else if (log_ok && raft->voted_id == RN_RAFT_NONE && raft->leader_id == RN_RAFT_NONE &&
                   (raft->state == RN_RAFT_UNATTACHED || raft->state == RN_RAFT_PROSPECTIVE)) {
            rn__raft_become_unattached(raft, raft->epoch, cand);
            granted = raft->state == RN_RAFT_UNATTACHED;
        }
    }
    resp.epoch = raft->epoch;
    resp.leader_id = raft->leader_id;
    resp.u.vote_resp.granted = granted;
    rn__raft_send(raft, &resp);
}

static void on_vote_resp(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    if (rn__raft_observe(raft, msg->epoch, msg->leader_id) || msg->epoch != raft->epoch)
        return;
    bool want_pre = raft->state == RN_RAFT_PROSPECTIVE;
    if ((!want_pre && raft->state != RN_RAFT_CANDIDATE) || msg->u.vote_resp.pre_vote != want_pre)
        return;
    int idx = rn__raft_voter_index(raft, msg->from);
    if (idx < 0 || ((raft->granted | raft->rejected) & (1u << idx)))
        return;
    if (msg->u.vote_resp.granted)
        raft->granted |= 1u << idx;
    else
        raft->rejected |= 1u << idx;
    count_votes(raft);
}

static void on_begin_epoch(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    rn__raft_observe(raft, msg->epoch, msg->from);
    rn_raft_msg_t resp = {.type = RN_RAFT_BEGIN_EPOCH_RESP,
                          .to = msg->from,
                          .corr = msg->corr,
                          .epoch = raft->epoch,
                          .leader_id = raft->leader_id};
    if (msg->epoch < raft->epoch)
        resp.error = RN_RAFT_ERR_FENCED_LEADER_EPOCH;
    rn__raft_send(raft, &resp);
}

/* Our leader resigned: the first successor starts an election now, the others after a
 * delay growing with their place, so the most caught-up voter most likely wins. */
static void on_end_epoch(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    rn__raft_observe(raft, msg->epoch, RN_RAFT_NONE);
    if (raft->state == RN_RAFT_FOLLOWER && msg->epoch == raft->epoch &&
        raft->leader_id == msg->from) {
        int n = msg->u.end_epoch.n_successors, pos = -1;
        for (int i = 0; i < n && i < RN_RAFT_MAX_VOTERS; i++)
            if (msg->u.end_epoch.successors[i] == raft->cfg.node_id)
                pos = i;
        int64_t max = raft->cfg.election_timeout_ms, delay = max;
        if (pos == 0)
            delay = 0;
        else if (pos > 0)
            delay = (max >> (n - 1)) << (pos - 1);
        if (delay > max)
            delay = max;
        if (raft->now + delay < raft->fetch_deadline)
            raft->fetch_deadline = raft->now + delay;
        raft->fetched_in_epoch = false; /* the leader is going: pre-votes may be granted */
    }
    rn_raft_msg_t resp = {.type = RN_RAFT_END_EPOCH_RESP,
                          .to = msg->from,
                          .corr = msg->corr,
                          .epoch = raft->epoch,
                          .leader_id = raft->leader_id};
    rn__raft_send(raft, &resp);
}

static void on_end_epoch_resp(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    if (rn__raft_observe(raft, msg->epoch, msg->leader_id))
        return;
    int idx = rn__raft_voter_index(raft, msg->from);
    if (raft->state == RN_RAFT_RESIGNED && msg->epoch == raft->epoch && idx >= 0)
        raft->end_epoch_acked |= 1u << idx;
}

void rn_raft_receive(rn_raft_t *raft, int64_t now_ms, const rn_raft_msg_t *msg)
{
    if (now_ms > raft->now)
        raft->now = now_ms;
    if (raft->state == RN_RAFT_FAILED || msg->to != raft->cfg.node_id)
        return;
    switch (msg->type) {
    case RN_RAFT_VOTE_REQ: on_vote_req(raft, msg); break;
    case RN_RAFT_VOTE_RESP: on_vote_resp(raft, msg); break;
    case RN_RAFT_BEGIN_EPOCH_REQ: on_begin_epoch(raft, msg); break;
    case RN_RAFT_BEGIN_EPOCH_RESP: rn__raft_observe(raft, msg->epoch, msg->leader_id); break;
    case RN_RAFT_END_EPOCH_REQ: on_end_epoch(raft, msg); break;
    case RN_RAFT_END_EPOCH_RESP: on_end_epoch_resp(raft, msg); break;
    case RN_RAFT_FETCH_REQ: rn__raft_on_fetch_req(raft, msg); break;
    case RN_RAFT_FETCH_RESP: rn__raft_on_fetch_resp(raft, msg); break;
    case RN_RAFT_FETCH_SNAPSHOT_REQ: rn__raft_on_snapshot_req(raft, msg); break;
    case RN_RAFT_FETCH_SNAPSHOT_RESP: rn__raft_on_snapshot_resp(raft, msg); break;
    }
}

void rn_raft_resign(rn_raft_t *raft)
{
    if (raft->state != RN_RAFT_LEADER)
        return;
    rn__raft_become_resigned(raft);
    send_end_epoch(raft);
}

rn_raft_state_t rn_raft_state(const rn_raft_t *raft)
{
    return raft->state;
}

int32_t rn_raft_epoch(const rn_raft_t *raft)
{
    return raft->epoch;
}

int32_t rn_raft_leader(const rn_raft_t *raft)
{
    return raft->leader_id;
}

int32_t rn_raft_voted(const rn_raft_t *raft)
{
    return raft->voted_id;
}

int64_t rn_raft_high_watermark(const rn_raft_t *raft)
{
    return raft->hw;
}

int64_t rn_raft_applied(const rn_raft_t *raft)
{
    return raft->applied;
}
