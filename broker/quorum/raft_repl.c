/* raft_repl.c: pull-based replication of the quorum log (KIP-595): the leader answers
 * Fetch with records, a diverging epoch or a snapshot id and advances the high watermark
 * from its voters' fetch offsets; followers truncate, append, flush and fetch again;
 * FetchSnapshot brings a follower behind the leader's log start back. */
#include "quorum/raft_int.h"

#include "rn_err.h"

#include <string.h>

/* Kafka's retry.backoff.ms: wait before fetching again after an error answer. */
#define RETRY_BACKOFF_MS 20

#define LOG_OPS(raft) ((raft)->io.log_ops)
#define LOG(raft)     ((raft)->io.log)

int64_t rn__raft_leo(const rn_raft_t *raft)
{
    return LOG_OPS(raft)->end_offset(LOG(raft));
}

int32_t rn__raft_last_epoch(const rn_raft_t *raft)
{
    return LOG_OPS(raft)->last_epoch(LOG(raft));
}

static bool flush(rn_raft_t *raft)
{
    if (!raft->dirty)
        return true;
    if (LOG_OPS(raft)->flush(LOG(raft)) != 0) {
        rn__raft_fail(raft, "cannot flush the log");
        return false;
    }
    raft->dirty = false;
    return true;
}

void rn__raft_apply(rn_raft_t *raft)
{
    while (raft->applied < raft->hw && raft->state != RN_RAFT_FAILED) {
        rn_raft_entry_t entry;
        if (LOG_OPS(raft)->read(LOG(raft), raft->applied, &entry) != 0) {
            rn__raft_fail(raft, "cannot read a committed entry");
            return;
        }
        raft->io.apply(raft->io.ctx, &entry);
        raft->applied++;
    }
}

/* ---- leader ---- */

/* Answer a voter's Fetch at fetch_offset (validated against our log in this epoch). */
static void answer_fetch(rn_raft_t *raft, int idx, int64_t corr, int64_t fetch_offset)
{
    rn_raft_entry_t recs[64];
    int max = raft->cfg.max_fetch_entries;
    if (max <= 0 || max > 64)
        max = 64;
    rn_raft_msg_t resp = {.type = RN_RAFT_FETCH_RESP,
                          .to = raft->cfg.voters[idx],
                          .corr = corr,
                          .epoch = raft->epoch,
                          .leader_id = raft->cfg.node_id};
    resp.u.fetch_resp.diverging.epoch = -1;
    resp.u.fetch_resp.snapshot.end_offset = -1;
    resp.u.fetch_resp.base_offset = fetch_offset;
    int64_t end = rn__raft_leo(raft);
    int n = 0;
    for (int64_t off = fetch_offset; off < end && n < max; off++, n++) {
        if (LOG_OPS(raft)->read(LOG(raft), off, &recs[n]) != 0) {
            rn__raft_fail(raft, "cannot read the log");
            return;
        }
    }
    resp.u.fetch_resp.records = recs;
    resp.u.fetch_resp.n_records = n;
    resp.u.fetch_resp.high_watermark = raft->hw;
    raft->voters[idx].hw_sent = raft->hw;
    raft->voters[idx].parked = false;
    rn__raft_send(raft, &resp);
}

/* Parked fetches: answered when data arrives, the high watermark moves, or time is up. */
static void answer_parked(rn_raft_t *raft, bool all)
{
    for (int i = 0; i < raft->cfg.n_voters && raft->state == RN_RAFT_LEADER; i++) {
        rn_raft_voter_t *v = &raft->voters[i];
        if (v->parked && (all || raft->now >= v->parked_until))
            answer_fetch(raft, i, v->parked_corr, v->end_offset);
    }
}

/* The high watermark: the largest offset a majority of voters (our own durable end
 * included) hold. Adopted only past this epoch's LeaderChange entry: an entry of an
 * older epoch is never committed by counting replicas (Raft's commit rule). */
static void update_hw(rn_raft_t *raft)
{
    int64_t ends[RN_RAFT_MAX_VOTERS];
    int n = raft->cfg.n_voters;
    for (int i = 0; i < n; i++) {
        int64_t e = i == raft->self ? raft->flushed_end : raft->voters[i].end_offset;
        int j = i;
        while (j > 0 && ends[j - 1] < e) {
            ends[j] = ends[j - 1];
            j--;
        }
        ends[j] = e;
    }
    int64_t cand = ends[rn__raft_majority(raft) - 1];
    if (cand > raft->epoch_start_offset && cand > raft->hw) {
        raft->hw = cand;
        rn__raft_apply(raft);
        answer_parked(raft, true);
    }
}

static void send_begin_epoch(rn_raft_t *raft)
{
    for (int i = 0; i < raft->cfg.n_voters; i++) {
        if (i == raft->self || raft->voters[i].fetched)
            continue;
        rn_raft_msg_t msg = {.type = RN_RAFT_BEGIN_EPOCH_REQ,
                             .to = raft->cfg.voters[i],
                             .epoch = raft->epoch,
                             .leader_id = raft->cfg.node_id,
                             .corr = raft->next_corr++};
        rn__raft_send(raft, &msg);
    }
    raft->begin_resend = raft->now + raft->cfg.fetch_timeout_ms / 2;
}

/* A new leader: its epoch starts at its log end with a LeaderChange entry; what came
 * before is committed only together with it. */
void rn__raft_leader_start(rn_raft_t *raft)
{
    raft->dirty = true; /* whatever an earlier incarnation of us left unflushed */
    if (!flush(raft))
        return;
    memset(raft->voters, 0, sizeof(raft->voters));
    for (int i = 0; i < raft->cfg.n_voters; i++) {
        raft->voters[i].end_offset = -1;
        raft->voters[i].last_fetch_ms = raft->now;
        raft->voters[i].hw_sent = -1;
    }
    raft->leader_since = raft->now;
    raft->epoch_start_offset = raft->flushed_end = rn__raft_leo(raft);
    if (LOG_OPS(raft)->append(LOG(raft), raft->epoch, RN_RAFT_ENTRY_LEADER_CHANGE, NULL, 0) != 0) {
        rn__raft_fail(raft, "cannot append the LeaderChange entry");
        return;
    }
    raft->dirty = true;
    send_begin_epoch(raft);
    rn__raft_leader_tick(raft);
}

void rn__raft_leader_tick(rn_raft_t *raft)
{
    if (raft->dirty) {
        if (!flush(raft))
            return;
        raft->flushed_end = rn__raft_leo(raft);
    }
    update_hw(raft);
    answer_parked(raft, false);
    if (raft->now >= raft->begin_resend)
        send_begin_epoch(raft);
    /* Check-quorum: a leader no majority has fetched from lately may be a zombie. */
    int64_t window = raft->cfg.fetch_timeout_ms + raft->cfg.fetch_timeout_ms / 2;
    int alive = 1;
    for (int i = 0; i < raft->cfg.n_voters; i++)
        if (i != raft->self && raft->now - raft->voters[i].last_fetch_ms < window)
            alive++;
    if (alive < rn__raft_majority(raft))
        rn_raft_resign(raft);
}

static void reply_error(rn_raft_t *raft, const rn_raft_msg_t *req, rn_raft_msg_type_t type,
                        int16_t error)
{
    rn_raft_msg_t resp = {.type = type,
                          .to = req->from,
                          .corr = req->corr,
                          .epoch = raft->epoch,
                          .leader_id = raft->leader_id,
                          .error = error};
    resp.u.fetch_resp.diverging.epoch = -1;
    resp.u.fetch_resp.snapshot.end_offset = -1;
    rn__raft_send(raft, &resp);
}

/* Where the follower's log parts from ours: RN_OK when its (fetch offset, last fetched
 * epoch) is a prefix of our log; otherwise *out set to a diverging epoch (end_offset = -1)
 * or to the snapshot it must install (epoch = -1). */
static bool fetch_matches(rn_raft_t *raft, int64_t fo, int32_t lfe, rn_raft_snapshot_id_t *div,
                          bool *need_snapshot)
{
    int64_t start = LOG_OPS(raft)->start_offset(LOG(raft));
    int32_t sepoch = LOG_OPS(raft)->start_epoch(LOG(raft));
    *need_snapshot = false;
    if (start > 0 && (fo < start || (fo == start && lfe != sepoch))) {
        *need_snapshot = true;
        return false;
    }
    if (fo == start)
        return true;
    int32_t e;
    int64_t o;
    if (LOG_OPS(raft)->epoch_end(LOG(raft), lfe, &e, &o) != 0) {
        if (start > 0 && lfe < sepoch) {
            *need_snapshot = true;
            return false;
        }
        e = sepoch;
        o = start;
    }
    if (e == lfe && o >= fo)
        return true;
    div->epoch = e;
    div->end_offset = o;
    return false;
}

void rn__raft_on_fetch_req(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    if (msg->epoch > raft->epoch)
        rn__raft_observe(raft, msg->epoch, RN_RAFT_NONE);
    if (raft->state != RN_RAFT_LEADER || msg->epoch != raft->epoch) {
        reply_error(raft, msg, RN_RAFT_FETCH_RESP,
                    msg->epoch < raft->epoch ? RN_RAFT_ERR_FENCED_LEADER_EPOCH
                                             : RN_RAFT_ERR_NOT_LEADER);
        return;
    }
    int idx = rn__raft_voter_index(raft, msg->from);
    int64_t fo = msg->u.fetch_req.fetch_offset;
    int32_t lfe = msg->u.fetch_req.last_fetched_epoch;
    if (idx < 0 || idx == raft->self || fo < 0 || lfe < 0 || lfe > raft->epoch) {
        reply_error(raft, msg, RN_RAFT_FETCH_RESP, RN_RAFT_ERR_INVALID_REQUEST);
        return;
    }
    rn_raft_voter_t *v = &raft->voters[idx];
    v->last_fetch_ms = raft->now;
    v->fetched = true;
    v->parked = false;
    rn_raft_snapshot_id_t div = {.end_offset = -1, .epoch = -1};
    bool need_snapshot;
    if (!fetch_matches(raft, fo, lfe, &div, &need_snapshot)) {
        rn_raft_msg_t resp = {.type = RN_RAFT_FETCH_RESP,
                              .to = msg->from,
                              .corr = msg->corr,
                              .epoch = raft->epoch,
                              .leader_id = raft->cfg.node_id};
        resp.u.fetch_resp.high_watermark = raft->hw;
        resp.u.fetch_resp.diverging = need_snapshot ? (rn_raft_snapshot_id_t){-1, -1} : div;
        resp.u.fetch_resp.snapshot.end_offset = -1;
        if (need_snapshot) {
            resp.u.fetch_resp.snapshot.end_offset = LOG_OPS(raft)->start_offset(LOG(raft));
            resp.u.fetch_resp.snapshot.epoch = LOG_OPS(raft)->start_epoch(LOG(raft));
        }
        rn__raft_send(raft, &resp);
        return;
    }
    /* The follower holds our log up to fo, durably: it counts towards the high watermark. */
    v->end_offset = fo;
    update_hw(raft);
    if (raft->state != RN_RAFT_LEADER)
        return;
    if (fo < rn__raft_leo(raft) || v->hw_sent != raft->hw || raft->cfg.fetch_max_wait_ms <= 0) {
        answer_fetch(raft, idx, msg->corr, fo);
        return;
    }
    v->parked = true;
    v->parked_corr = msg->corr;
    v->parked_until = raft->now + raft->cfg.fetch_max_wait_ms;
}

void rn__raft_on_snapshot_req(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    if (msg->epoch > raft->epoch)
        rn__raft_observe(raft, msg->epoch, RN_RAFT_NONE);
    int idx = rn__raft_voter_index(raft, msg->from);
    rn_raft_snapshot_id_t id;
    const uint8_t *data;
    size_t len;
    if (raft->state != RN_RAFT_LEADER || msg->epoch != raft->epoch || idx < 0 ||
        raft->io.snapshot_read(raft->io.ctx, &id, &data, &len) != 0) {
        reply_error(raft, msg, RN_RAFT_FETCH_SNAPSHOT_RESP,
                    msg->epoch < raft->epoch ? RN_RAFT_ERR_FENCED_LEADER_EPOCH
                                             : RN_RAFT_ERR_NOT_LEADER);
        return;
    }
    raft->voters[idx].last_fetch_ms = raft->now;
    rn_raft_msg_t resp = {.type = RN_RAFT_FETCH_SNAPSHOT_RESP,
                          .to = msg->from,
                          .corr = msg->corr,
                          .epoch = raft->epoch,
                          .leader_id = raft->cfg.node_id};
    resp.u.snap_resp.id = id;
    resp.u.snap_resp.data = data;
    resp.u.snap_resp.len = len;
    rn__raft_send(raft, &resp);
}

int64_t rn_raft_propose(rn_raft_t *raft, const uint8_t *data, size_t len)
{
    if (raft->state != RN_RAFT_LEADER)
        return RN_EINVAL;
    int64_t off = rn__raft_leo(raft);
    if (LOG_OPS(raft)->append(LOG(raft), raft->epoch, RN_RAFT_ENTRY_DATA, data, len) != 0)
        return RN_EIO;
    raft->dirty = true;
    answer_parked(raft, true);
    return off;
}

int rn_raft_snapshot_taken(rn_raft_t *raft, int64_t end_offset)
{
    if (end_offset > raft->applied || end_offset < LOG_OPS(raft)->start_offset(LOG(raft)))
        return RN_EINVAL;
    return LOG_OPS(raft)->drop_prefix(LOG(raft), end_offset);
}

/* ---- follower ---- */

void rn__raft_send_fetch(rn_raft_t *raft)
{
    /* The fetch offset tells the leader what we hold durably: flush first. */
    if (!flush(raft))
        return;
    rn_raft_msg_t msg = {.type = RN_RAFT_FETCH_REQ,
                         .to = raft->leader_id,
                         .epoch = raft->epoch,
                         .leader_id = raft->leader_id,
                         .corr = raft->next_corr++};
    msg.u.fetch_req.fetch_offset = rn__raft_leo(raft);
    msg.u.fetch_req.last_fetched_epoch = rn__raft_last_epoch(raft);
    raft->fetch_inflight = true;
    raft->fetch_corr = msg.corr;
    raft->fetch_sent_ms = raft->now;
    rn__raft_send(raft, &msg);
}

void rn__raft_follower_tick(rn_raft_t *raft)
{
    if (raft->now >= raft->fetch_deadline) {
        rn__raft_become_prospective(raft);
        return;
    }
    if (raft->fetch_inflight ? raft->now - raft->fetch_sent_ms >= raft->cfg.request_timeout_ms
                             : raft->now >= raft->fetch_retry_at)
        rn__raft_send_fetch(raft);
}

/* Is msg the answer to our outstanding fetch from our leader in our epoch? */
static bool expected_answer(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    if (rn__raft_observe(raft, msg->epoch, msg->leader_id))
        return false;
    if (raft->state != RN_RAFT_FOLLOWER || msg->epoch != raft->epoch ||
        msg->from != raft->leader_id || !raft->fetch_inflight || msg->corr != raft->fetch_corr)
        return false;
    raft->fetch_inflight = false;
    if (msg->error != RN_RAFT_ERR_NONE) {
        raft->fetch_retry_at = raft->now + RETRY_BACKOFF_MS;
        return false;
    }
    raft->fetch_deadline = raft->now + raft->cfg.fetch_timeout_ms;
    raft->fetched_in_epoch = true;
    raft->leader_refused = false;
    return true;
}

void rn_raft_request_failed(rn_raft_t *raft, int64_t now_ms, const rn_raft_msg_t *sent)
{
    if (now_ms > raft->now)
        raft->now = now_ms;
    bool fetch = sent->type == RN_RAFT_FETCH_REQ || sent->type == RN_RAFT_FETCH_SNAPSHOT_REQ;
    if (!fetch || raft->state != RN_RAFT_FOLLOWER || !raft->fetch_inflight ||
        sent->corr != raft->fetch_corr)
        return;
    raft->fetch_inflight = false;
    raft->fetch_retry_at = raft->now + RETRY_BACKOFF_MS;
}

/* The refusal is evidence, not proof of a majority's view: the election it brings forward
 * still needs a pre-vote majority, and the other followers grant theirs only once they too
 * stop hearing from the leader. The delay is random so that two followers refused at the
 * same moment do not both become candidates and split the vote. */
void rn_raft_peer_refused(rn_raft_t *raft, int64_t now_ms, int32_t node_id)
{
    if (now_ms > raft->now)
        raft->now = now_ms;
    if (raft->state != RN_RAFT_FOLLOWER || node_id != raft->leader_id || raft->leader_refused)
        return;
    raft->leader_refused = true;
    raft->fetched_in_epoch = false;
    int64_t spread = raft->cfg.election_timeout_ms / 2;
    int64_t at = raft->now;
    if (spread > 0)
        at += (int64_t)(raft->io.random(raft->io.ctx) % (uint64_t)spread);
    if (at < raft->fetch_deadline)
        raft->fetch_deadline = at;
}

/* Drop our entries past the point where the leader's log parts from ours: the end of
 * epoch div_epoch on both sides, whichever is lower. Nothing committed may go. */
static void truncate_diverging(rn_raft_t *raft, int32_t div_epoch, int64_t div_end)
{
    int64_t start = LOG_OPS(raft)->start_offset(LOG(raft));
    int64_t to = div_end;
    int32_t e;
    int64_t o;
    if (LOG_OPS(raft)->epoch_end(LOG(raft), div_epoch, &e, &o) == 0) {
        if (o < to)
            to = o;
    } else if (start < to) {
        to = start;
    }
    if (to < raft->hw || to < start) {
        rn__raft_fail(raft, "diverging epoch below the high watermark");
        return;
    }
    if (to < rn__raft_leo(raft) && LOG_OPS(raft)->truncate_to(LOG(raft), to) != 0)
        rn__raft_fail(raft, "cannot truncate the log");
}

static void append_records(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    for (int i = 0; i < msg->u.fetch_resp.n_records; i++) {
        const rn_raft_entry_t *rec = &msg->u.fetch_resp.records[i];
        if (rec->offset != rn__raft_leo(raft) || rec->epoch > raft->epoch)
            return; /* not the continuation of our log: fetch again from our end */
        if (LOG_OPS(raft)->append(LOG(raft), rec->epoch, rec->kind, rec->data, rec->len) != 0) {
            rn__raft_fail(raft, "cannot append to the log");
            return;
        }
        raft->dirty = true;
    }
}

void rn__raft_on_fetch_resp(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    if (!expected_answer(raft, msg))
        return;
    if (msg->u.fetch_resp.snapshot.end_offset >= 0) {
        rn_raft_msg_t req = {.type = RN_RAFT_FETCH_SNAPSHOT_REQ,
                             .to = raft->leader_id,
                             .epoch = raft->epoch,
                             .leader_id = raft->leader_id,
                             .corr = raft->next_corr++};
        req.u.snap_req.id = msg->u.fetch_resp.snapshot;
        raft->fetch_inflight = true;
        raft->fetch_corr = req.corr;
        raft->fetch_sent_ms = raft->now;
        rn__raft_send(raft, &req);
        return;
    }
    if (msg->u.fetch_resp.diverging.epoch >= 0) {
        truncate_diverging(raft, msg->u.fetch_resp.diverging.epoch,
                           msg->u.fetch_resp.diverging.end_offset);
    } else if (msg->u.fetch_resp.base_offset == rn__raft_leo(raft)) {
        append_records(raft, msg);
        /* Our log up to its end is now the leader's: its high watermark applies to it. */
        int64_t hw = msg->u.fetch_resp.high_watermark, leo = rn__raft_leo(raft);
        if (hw > leo)
            hw = leo;
        if (hw > raft->hw && flush(raft)) {
            raft->hw = hw;
            rn__raft_apply(raft);
        }
    }
    if (raft->state == RN_RAFT_FOLLOWER)
        rn__raft_send_fetch(raft);
}

void rn__raft_on_snapshot_resp(rn_raft_t *raft, const rn_raft_msg_t *msg)
{
    if (!expected_answer(raft, msg))
        return;
    rn_raft_snapshot_id_t id = msg->u.snap_resp.id;
    if (id.end_offset > raft->applied) {
        if (raft->io.snapshot_install(raft->io.ctx, id, msg->u.snap_resp.data,
                                      msg->u.snap_resp.len) != 0 ||
            LOG_OPS(raft)->reset(LOG(raft), id.end_offset, id.epoch) != 0) {
            rn__raft_fail(raft, "cannot install the snapshot");
            return;
        }
        raft->dirty = false;
        raft->applied = id.end_offset;
        if (raft->hw < id.end_offset)
            raft->hw = id.end_offset;
    }
    rn__raft_send_fetch(raft);
}
