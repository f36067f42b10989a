/* Directed tests of one rn_raft node driven by hand: a single-voter quorum leads and
 * commits alone; Vote is granted once per epoch, only to an up-to-date log, and persisted
 * before the answer; pre-vote bumps nothing; a leader answers a follower whose log parts
 * from its own with the diverging epoch; a lost fetch is retried and a refused connection
 * to the leader brings the election forward. */
#include "raft_sim.h"
#include "rn_log.h"
#include "tap.h"

static rn_raft_msg_t last;       /* the last message a node sent */
static rn_raft_msg_t last_fetch; /* the last Fetch it sent */
static int sent;

static void capture(void *ctx, const rn_raft_msg_t *msg)
{
    (void)ctx;
    last = *msg;
    if (msg->type == RN_RAFT_FETCH_REQ)
        last_fetch = *msg;
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

/* The leader's answer to node 1's outstanding fetch (an empty log, nothing new). */
static rn_raft_msg_t fetch_answer(void)
{
    rn_raft_msg_t m = {.type = RN_RAFT_FETCH_RESP, .from = 2, .to = 1, .epoch = 5, .leader_id = 2};
    m.corr = last_fetch.corr;
    m.u.fetch_resp.high_watermark = 0;
    m.u.fetch_resp.diverging.epoch = -1;
    m.u.fetch_resp.snapshot.end_offset = -1;
    return m;
}

/* A follower's Fetch lost with its connection is sent again after the retry backoff; a
 * connection refused by its leader (the process is gone) makes it stop vouching for the
 * leader and start an election within half an election timeout, not at the fetch timeout;
 * a refusal by another node, or one followed by a good answer, changes nothing. */
static void test_refused(sim_t *sim)
{
    sim_node_t node;
    rn_raft_qstate_t qs = {.epoch = 5, .voted_id = -1, .leader_id = 2};
    rn_raft_t *raft = node_new(sim, &node, 3, &qs);
    rn_raft_tick(raft, 1);
    ok(last.type == RN_RAFT_FETCH_REQ && last.to == 2, "a follower of node 2 fetches from it");
    rn_raft_msg_t fetch = last;
    int before = sent;
    rn_raft_request_failed(raft, 10, &fetch);
    rn_raft_tick(raft, 29);
    is(sent, before, "no fetch before the retry backoff");
    rn_raft_tick(raft, 30);
    ok(sent == before + 1 && last.type == RN_RAFT_FETCH_REQ && last.corr != fetch.corr,
       "the lost fetch is sent again 20 ms later, not after the request timeout");
    rn_raft_msg_t a = fetch_answer();
    rn_raft_receive(raft, 31, &a);
    rn_raft_msg_t pv = vote(3, 5, 0, 0, true);
    rn_raft_receive(raft, 32, &pv);
    ok(last.type == RN_RAFT_VOTE_RESP && !last.u.vote_resp.granted,
       "a pre-vote is refused while the leader answers");
    rn_raft_peer_refused(raft, 40, 3);
    rn_raft_receive(raft, 41, &pv);
    ok(!last.u.vote_resp.granted, "a refusal by another voter leaves the leader vouched for");
    rn_raft_tick(raft, 1000);
    is(rn_raft_state(raft), RN_RAFT_FOLLOWER, "and brings no election forward");

    /* A refusal that a good answer contradicts is forgotten. */
    rn_raft_peer_refused(raft, 1002, 2);
    a = fetch_answer();
    rn_raft_receive(raft, 1003, &a);
    rn_raft_tick(raft, 1600);
    is(rn_raft_state(raft), RN_RAFT_FOLLOWER, "a good answer after a refusal: still following");

    rn_raft_peer_refused(raft, 1700, 2);
    rn_raft_receive(raft, 1701, &pv);
    ok(last.type == RN_RAFT_VOTE_RESP && last.u.vote_resp.granted && rn_raft_voted(raft) == -1,
       "after the leader refused a connection, a pre-vote is granted (and nothing recorded)");
    is(rn_raft_state(raft), RN_RAFT_FOLLOWER, "still a follower at once");
    rn_raft_tick(raft, 1700 + 500);
    is(rn_raft_state(raft), RN_RAFT_PROSPECTIVE,
       "prospective within half an election timeout, not at the fetch timeout (3003)");
    is(rn_raft_epoch(raft), 5, "at the same epoch: the pre-vote decides");
    node_free(&node, raft);
}

int main(void)
{
    rn_log_set_level(RN_LOG_ERROR);
    void (*tests[])(sim_t *) = {test_single_voter, test_votes, test_diverging, test_refused};
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
