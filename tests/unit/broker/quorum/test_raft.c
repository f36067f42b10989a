/* Directed tests of one rn_raft node driven by hand: a single-voter quorum leads and
 * commits alone; Vote is granted once per epoch, only to an up-to-date log, and persisted
 * before the answer; pre-vote bumps nothing; a leader answers a follower whose log parts
 * from its own with the diverging epoch. */
#include "raft_sim.h"
#include "rn_log.h"
#include "tap.h"

static rn_raft_msg_t last; /* the last message a node sent */
static int sent;

static void capture(void *ctx, const rn_raft_msg_t *msg)
{
    (void)ctx;
    last = *msg;
    sent++;
}

/* Node 1 of voters {1, 2, 3} (or {1}) on node->log, messages captured. */
static rn_raft_t *node_new(sim_t *sim, sim_node_t *node, int n_voters, const rn_raft_qstate_t *qs)
{
    rn_raft_config_t cfg;
    rn_raft_config_defaults(&cfg);
    cfg.node_id = 1;
    cfg.n_voters = n_voters;
    for (int i = 0; i < n_voters; i++)
        cfg.voters[i] = i + 1;
    memset(node, 0, sizeof(*node));
    node->id = 1;
    node->sim = sim;
    node->log.sim = sim;
    rn_raft_io_t io = {.ctx = node,
                       .send = capture,
                       .persist = sim_persist,
                       .apply = sim_apply,
                       .random = sim_random_cb,
                       .snapshot_read = sim_snapshot_read,
                       .snapshot_install = sim_snapshot_install,
                       .log_ops = &sim_log_ops,
                       .log = &node->log};
    node->raft = rn_raft_new(&cfg, &io, qs, 0);
    return node->raft;
}

static void node_free(sim_node_t *node, rn_raft_t *raft)
{
    rn_raft_free(raft);
    sim_log_trunc(&node->log, node->log.start);
    rn_free(node->log.items);
    rn_free(node->sm);
}

static rn_raft_msg_t vote(int32_t from, int32_t epoch, int32_t last_epoch, int64_t last_offset,
                          bool pre)
{
    rn_raft_msg_t m = {.type = RN_RAFT_VOTE_REQ, .from = from, .to = 1, .epoch = epoch};
    m.u.vote_req.last_offset_epoch = last_epoch;
    m.u.vote_req.last_offset = last_offset;
    m.u.vote_req.pre_vote = pre;
    return m;
}

static void test_single_voter(sim_t *sim)
{
    sim_node_t node;
    rn_raft_t *raft = node_new(sim, &node, 1, NULL);
    rn_raft_tick(raft, 2000);
    is(rn_raft_state(raft), RN_RAFT_LEADER, "a single voter leads after its election timeout");
    is(rn_raft_epoch(raft), 1, "in epoch 1");
    ok(node.qs.leader_id == 1 && node.qs.voted_id == 1, "persisted as leader and own vote");
    uint64_t v = 42;
    is(rn_raft_propose(raft, (const uint8_t *)&v, sizeof(v)), 1, "after the LeaderChange entry");
    rn_raft_tick(raft, 2001);
    is(rn_raft_high_watermark(raft), 2, "committed by itself");
    is(node.sm_n, 2, "both entries applied");
    node_free(&node, raft);
}

static void test_votes(sim_t *sim)
{
    sim_node_t node;
    rn_raft_t *raft = node_new(sim, &node, 3, NULL);
    rn_raft_msg_t m = vote(2, 3, 0, 0, true);
    rn_raft_receive(raft, 1, &m);
    ok(last.type == RN_RAFT_VOTE_RESP && last.u.vote_resp.granted && last.u.vote_resp.pre_vote,
       "pre-vote granted to an equal log");
    is(rn_raft_voted(raft), -1, "a pre-vote records no vote");
    m = vote(2, 3, 0, 0, false);
    rn_raft_receive(raft, 2, &m);
    ok(last.u.vote_resp.granted && !last.u.vote_resp.pre_vote, "vote granted");
    ok(node.qs.epoch == 3 && node.qs.voted_id == 2, "the vote is on disk");
    m = vote(3, 3, 0, 0, false);
    rn_raft_receive(raft, 3, &m);
    ok(!last.u.vote_resp.granted, "no second vote in the epoch");
    m = vote(2, 3, 0, 0, false);
    rn_raft_receive(raft, 4, &m);
    ok(last.u.vote_resp.granted, "the same candidate asking again is granted again");
    /* Our log now ends with an epoch-3 entry: a candidate whose log ends earlier loses. */
    sim_log_append(&node.log, 3, RN_RAFT_ENTRY_DATA, (const uint8_t *)"x", 1);
    m = vote(3, 4, 2, 5, false);
    rn_raft_receive(raft, 5, &m);
    ok(!last.u.vote_resp.granted && rn_raft_epoch(raft) == 4,
       "a stale log is refused (the epoch still moves)");
    m = vote(3, 5, 3, 0, false);
    rn_raft_receive(raft, 6, &m);
    ok(!last.u.vote_resp.granted, "same last epoch, shorter log: refused");
    m = vote(3, 6, 3, 1, false);
    rn_raft_receive(raft, 7, &m);
    ok(last.u.vote_resp.granted, "same last epoch and end: granted");
    m = vote(2, 6, 6, 1, false);
    rn_raft_receive(raft, 8, &m);
    is(last.error, RN_RAFT_ERR_INVALID_REQUEST, "last epoch not below the candidate's: invalid");
    node_free(&node, raft);
}

static void test_diverging(sim_t *sim)
{
    sim_node_t node;
    rn_raft_qstate_t qs = {.epoch = 3, .voted_id = -1, .leader_id = -1};
    rn_raft_t *raft = node_new(sim, &node, 3, &qs);
    /* Our log: epoch 1 at 0..2, epoch 3 at 3..4; we win epoch 4. */
    for (int i = 0; i < 5; i++)
        sim_log_append(&node.log, i < 3 ? 1 : 3, RN_RAFT_ENTRY_DATA, (const uint8_t *)"y", 1);
    rn_raft_tick(raft, 5000); /* prospective at epoch 3 */
    rn_raft_msg_t g = {.type = RN_RAFT_VOTE_RESP, .from = 2, .to = 1, .epoch = 3};
    g.u.vote_resp.granted = g.u.vote_resp.pre_vote = true;
    g.leader_id = -1;
    rn_raft_receive(raft, 5001, &g);
    is(rn_raft_state(raft), RN_RAFT_CANDIDATE, "pre-vote won: candidate");
    g.epoch = 4;
    g.u.vote_resp.pre_vote = false;
    rn_raft_receive(raft, 5002, &g);
    is(rn_raft_state(raft), RN_RAFT_LEADER, "vote won: leader of epoch 4");
    /* A follower with epoch 2 entries up to 6 (never in our log). */
    rn_raft_msg_t f = {.type = RN_RAFT_FETCH_REQ, .from = 2, .to = 1, .epoch = 4, .corr = 9};
    f.u.fetch_req.fetch_offset = 6;
    f.u.fetch_req.last_fetched_epoch = 2;
    rn_raft_receive(raft, 5003, &f);
    ok(last.type == RN_RAFT_FETCH_RESP && last.u.fetch_resp.diverging.epoch == 1 &&
           last.u.fetch_resp.diverging.end_offset == 3 && last.corr == 9,
       "diverging: epoch 1 ends at 3 (got %d, %lld)", last.u.fetch_resp.diverging.epoch,
       (long long)last.u.fetch_resp.diverging.end_offset);
    f.u.fetch_req.fetch_offset = 3;
    f.u.fetch_req.last_fetched_epoch = 1;
    rn_raft_receive(raft, 5004, &f);
    ok(last.u.fetch_resp.diverging.epoch == -1 && last.u.fetch_resp.n_records == 3 &&
           last.u.fetch_resp.base_offset == 3,
       "a matching prefix gets the records from 3");
    is(rn_raft_high_watermark(raft), 0, "entries of older epochs are not committed by count");
    f.u.fetch_req.fetch_offset = 6;
    f.u.fetch_req.last_fetched_epoch = 1;
    f.epoch = 3;
    rn_raft_receive(raft, 5005, &f);
    is(last.error, RN_RAFT_ERR_FENCED_LEADER_EPOCH, "an older epoch is fenced");
    node_free(&node, raft);
}

int main(void)
{
    rn_log_set_level(RN_LOG_ERROR);
    void (*tests[])(sim_t *) = {test_single_voter, test_votes, test_diverging};
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        sim_t sim;
        rn_raft_config_t cfg;
        rn_raft_config_defaults(&cfg);
        sim_init(&sim, 0, 1, &cfg);
        tests[i](&sim);
        ok(sim.failed[0] == '\0', "no invariant broken: %s", sim.failed);
        sim_destroy(&sim);
    }
    return done_testing();
}
