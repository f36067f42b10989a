/* Randomized simulation of the metadata quorum (rn_raft) with the invariants of
 * raft_sim.h checked at every step: thousands of seeded runs of 3 and 5 nodes under
 * message loss, delay, reordering and duplication, partitions, crashes with and without
 * losing unflushed writes, graceful resignations, snapshots and wiped nodes; then faults
 * stop and a leader must be elected and a new entry committed on every node in bounded
 * simulated time. Directed runs show pre-vote keeping a returning node from forcing an
 * election, check-quorum, a wiped node rejoining through a snapshot, how long a killed
 * leader takes to replace with and without refused connections as evidence, and that a
 * false refusal report does not unseat a live leader.
 *
 *   RN_SIM_SEED=N      run only seed N (3 and 5 nodes), RN_SIM_TRACE=1 to see transitions
 *   RN_SIM_SEEDS=N     seeds per cluster size (default 1500 for 3 nodes, 500 for 5)
 *   RN_SIM_STEPS=N     steps per run (default 3000) */
#include "raft_sim.h"
#include "rn_log.h"
#include "tap.h"

#include <time.h>

#define LIVENESS_MS 10000

static rn_raft_config_t sim_config(void)
{
    rn_raft_config_t cfg;
    rn_raft_config_defaults(&cfg);
    cfg.election_timeout_ms = 150;
    cfg.election_backoff_max_ms = 150;
    cfg.fetch_timeout_ms = 300;
    cfg.fetch_max_wait_ms = 50;
    cfg.request_timeout_ms = 120;
    cfg.max_fetch_entries = 8;
    return cfg;
}

static sim_node_t *pick(sim_t *sim, bool up)
{
    int start = (int)(sim_rand(sim) % (uint32_t)sim->n);
    for (int k = 0; k < sim->n; k++) {
        sim_node_t *node = &sim->nodes[(start + k) % sim->n];
        if ((node->raft != NULL) == up)
            return node;
    }
    return NULL;
}

/* Does a majority of the nodes other than victim hold durably the log up to end,
 * ending in chain? */
static bool held_elsewhere(sim_t *sim, sim_node_t *victim, int64_t end, uint64_t chain)
{
    int count = 0;
    for (int i = 0; i < sim->n; i++) {
        sim_log_t *log = &sim->nodes[i].log;
        if (&sim->nodes[i] == victim)
            continue;
        if (end == 0 || end <= log->start ||
            (log->synced >= end && sim_log_chain(log, end - 1) == chain))
            count++;
    }
    return count >= sim->n / 2 + 1;
}

/* Wiping a node is only survivable when what it held is held by a majority without it
 * (what a committed entry needs, and what the leader may still count for it). */
static bool wipe_safe(sim_t *sim, sim_node_t *victim)
{
    sim_log_t *log = &victim->log;
    int64_t c = (int64_t)sim->n_committed;
    if (c > 0 && !held_elsewhere(sim, victim, c, sim->committed[c - 1]))
        return false;
    return log->synced == 0 || log->synced <= log->start ||
           held_elsewhere(sim, victim, log->synced, sim_log_chain(log, log->synced - 1));
}

static void change_network(sim_t *sim)
{
    sim->loss = (int)(sim_rand(sim) % 200);
    sim->dup = (int)(sim_rand(sim) % 100);
    sim->delay_min = 1 + sim_rand(sim) % 5;
    sim->delay_max = sim->delay_min + sim_rand(sim) % 40;
}

static void partition(sim_t *sim)
{
    uint32_t kind = sim_rand(sim) % 3;
    for (int i = 0; i < sim->n; i++)
        sim->nodes[i].group = kind == 2 ? (int)(sim_rand(sim) % 2) : 0;
    if (kind == 1)
        sim->nodes[sim_rand(sim) % (uint32_t)sim->n].group = 1;
}

/* One random fault or client action (or none) after a step. */
static void faults(sim_t *sim, uint64_t *counter)
{
    uint32_t r = sim_rand(sim) % 10000;
    sim_node_t *node;
    if (r < 1000) {
        node = sim_leader(sim);
        uint64_t v = ++*counter;
        if (node)
            rn_raft_propose(node->raft, (const uint8_t *)&v, sizeof(v));
    } else if (r < 1030) {
        if ((node = pick(sim, true)) != NULL)
            sim_snapshot(sim, node);
    } else if (r < 1055) {
        if ((node = pick(sim, true)) != NULL)
            sim_crash(sim, node, sim_chance(sim, 500));
    } else if (r < 1155) {
        if ((node = pick(sim, false)) != NULL)
            sim_start(sim, node);
    } else if (r < 1160) {
        node = &sim->nodes[sim_rand(sim) % (uint32_t)sim->n];
        if (node->raft)
            sim_crash(sim, node, true);
        if (wipe_safe(sim, node))
            sim_wipe(sim, node);
    } else if (r < 1190) {
        partition(sim);
    } else if (r < 1200) {
        if ((node = sim_leader(sim)) != NULL) {
            rn_raft_resign(node->raft);
            if (sim_chance(sim, 500))
                sim_crash(sim, node, false);
        }
    } else if (r < 1220) {
        change_network(sim);
    }
}

/* Faults stop: every node runs, the network heals. A leader must appear and commit a
 * marker entry on every node within LIVENESS_MS. Returns the time it took, or -1. */
static int64_t liveness(sim_t *sim)
{
    for (int i = 0; i < sim->n; i++) {
        sim_node_t *node = &sim->nodes[i];
        if (node->raft == NULL)
            sim_start(sim, node);
        node->group = 0;
        node->saw_marker = false;
    }
    sim->loss = sim->dup = 0;
    sim->delay_min = 1;
    sim->delay_max = 10;
    int64_t t0 = sim->now;
    int32_t proposed_epoch = -1;
    while (sim->now < t0 + LIVENESS_MS && !sim->failed[0]) {
        sim_step(sim);
        sim_node_t *leader = sim_leader(sim);
        if (leader && rn_raft_epoch(leader->raft) != proposed_epoch) {
            proposed_epoch = rn_raft_epoch(leader->raft);
            rn_raft_propose(leader->raft, (const uint8_t *)&sim->marker, sizeof(sim->marker));
        }
        bool all = true;
        for (int i = 0; i < sim->n; i++)
            all = all && sim->nodes[i].saw_marker;
        if (all)
            return sim->now - t0;
    }
    if (!sim->failed[0])
        sim_fail(sim, "liveness: no commit on every node %d ms after faults stopped", LIVENESS_MS);
    return -1;
}

/* One seeded run; false (and the reason printed with the seed) on a broken invariant. */
static bool run_seed(int n, uint64_t seed, int steps, int64_t *live_ms, int64_t *commits)
{
    sim_t sim;
    rn_raft_config_t cfg = sim_config();
    /* Small fetches leave logs partly replicated longer: old-epoch entries on a majority
     * without the new leader's LeaderChange, the case the commit rule is for. */
    cfg.max_fetch_entries = 1 + (int)(sim_mix(seed) % 8);
    sim_init(&sim, n, seed, &cfg);
    sim.refuse = (sim_mix(seed) >> 8) % 2 == 0; /* half the runs: down nodes are silent */
    change_network(&sim);
    uint64_t counter = seed << 20;
    for (int i = 0; i < steps && !sim.failed[0]; i++) {
        sim_step(&sim);
        faults(&sim, &counter);
        sim_check(&sim);
    }
    if (!sim.failed[0])
        *live_ms = liveness(&sim);
    *commits = (int64_t)sim.n_committed;
    bool good = sim.failed[0] == '\0';
    if (!good)
        diag("%d nodes, seed %llu (rerun: RN_SIM_SEED=%llu): %s", n, (unsigned long long)seed,
             (unsigned long long)seed, sim.failed);
    sim_destroy(&sim);
    return good;
}

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static void random_runs(int n, int seeds, int steps, uint64_t only)
{
    int failed = 0;
    int64_t worst_live = 0, commits = 0;
    clock_t c0 = clock();
    for (int s = 0; s < seeds; s++) {
        uint64_t seed = only ? only : (uint64_t)s + 1;
        int64_t live = 0, c = 0;
        if (!run_seed(n, seed, steps, &live, &c) && ++failed >= 5)
            break;
        if (live > worst_live)
            worst_live = live;
        commits += c;
    }
    ok(failed == 0, "%d nodes: %d seeds x %d steps keep every invariant and recover", n, seeds,
       steps);
    diag("%d nodes: %lld entries committed in all, slowest recovery %lld ms simulated, %.1f s", n,
         (long long)commits, (long long)worst_live, (double)(clock() - c0) / CLOCKS_PER_SEC);
}

/* A node cut off from a stable quorum times out again and again; with pre-vote it never
 * bumps its epoch, and when it returns the leader keeps its epoch. Without pre-vote the
 * same node comes back with a higher epoch and forces an election. */
static bool returning_node_disrupts(uint64_t seed, bool pre_vote)
{
    sim_t sim;
    rn_raft_config_t cfg = sim_config();
    cfg.pre_vote = pre_vote;
    sim_init(&sim, 3, seed, &cfg);
    sim_run_until(&sim, 2000);
    sim_node_t *leader = sim_leader(&sim);
    bool disrupted = true;
    if (leader == NULL) {
        diag("seed %llu: no leader", (unsigned long long)seed);
        goto out;
    }
    int32_t epoch = rn_raft_epoch(leader->raft);
    sim_node_t *cut = &sim.nodes[(leader - sim.nodes + 1) % 3];
    cut->group = 1;
    sim_run_until(&sim, 5000);
    bool cut_stayed = rn_raft_epoch(cut->raft) == epoch;
    cut->group = 0;
    sim_run_until(&sim, 8000);
    disrupted = sim_leader(&sim) != leader || rn_raft_epoch(leader->raft) != epoch || !cut_stayed ||
                rn_raft_leader(cut->raft) != leader->id;
    if (sim.failed[0])
        diag("seed %llu: %s", (unsigned long long)seed, sim.failed);
out:
    sim_destroy(&sim);
    return disrupted;
}

static void test_pre_vote(void)
{
    int kept = 0, forced = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        kept += !returning_node_disrupts(seed, true);
        forced += returning_node_disrupts(seed, false);
    }
    is(kept, 20, "pre-vote: a returning node never forces an election (20 seeds)");
    is(forced, 20, "without pre-vote the same node forces one (20 seeds)");
}

/* A leader cut off from everyone resigns (check-quorum) within 1.5 fetch timeouts, and
 * the others elect a new leader in a higher epoch. */
static void test_check_quorum(void)
{
    sim_t sim;
    rn_raft_config_t cfg = sim_config();
    sim_init(&sim, 3, 7, &cfg);
    sim_run_until(&sim, 2000);
    sim_node_t *old = sim_leader(&sim);
    ok(old != NULL, "a leader");
    if (old == NULL)
        goto out;
    int32_t epoch = rn_raft_epoch(old->raft);
    old->group = 1;
    sim_run_until(&sim, 2000 + cfg.fetch_timeout_ms * 3 / 2 + 2 * SIM_TICK_MS);
    ok(rn_raft_state(old->raft) != RN_RAFT_LEADER, "the cut-off leader resigned");
    sim_run_until(&sim, 4000);
    sim_node_t *now = sim_leader(&sim);
    ok(now != NULL && now != old && rn_raft_epoch(now->raft) > epoch,
       "the majority elected a new leader");
    ok(sim.failed[0] == '\0', "no invariant broken: %s", sim.failed);
out:
    sim_destroy(&sim);
}

/* Entries committed, every node snapshots and drops its log; a node loses its metadata
 * directory and comes back empty: the leader answers its Fetch with the snapshot id, it
 * installs the snapshot and catches up to the same state. */
static void test_wiped_node(void)
{
    sim_t sim;
    rn_raft_config_t cfg = sim_config();
    sim_init(&sim, 3, 11, &cfg);
    sim_run_until(&sim, 1000);
    for (uint64_t v = 1; v <= 40; v++) {
        sim_node_t *leader = sim_leader(&sim);
        if (leader)
            rn_raft_propose(leader->raft, (const uint8_t *)&v, sizeof(v));
        sim_run_until(&sim, sim.now + 20);
    }
    sim_run_until(&sim, sim.now + 500);
    sim_node_t *leader = sim_leader(&sim);
    ok(leader != NULL && sim.n_committed >= 40, "40 entries committed (%zu)", sim.n_committed);
    for (int i = 0; i < 3; i++)
        sim_snapshot(&sim, &sim.nodes[i]);
    sim_node_t *victim = &sim.nodes[(leader - sim.nodes + 1) % 3];
    sim_crash(&sim, victim, true);
    sim_wipe(&sim, victim);
    ok(victim->log.start == 0 && victim->log.n == 0, "the victim's log is gone");
    sim_start(&sim, victim);
    uint64_t v = 99;
    rn_raft_propose(leader->raft, (const uint8_t *)&v, sizeof(v));
    sim_run_until(&sim, sim.now + 2000);
    ok(victim->log.start > 0, "the victim installed a snapshot (log starts at %lld)",
       (long long)victim->log.start);
    is(victim->sm_n, leader->sm_n, "the victim's state machine caught up");
    ok(sim.failed[0] == '\0', "no invariant broken: %s", sim.failed);
    sim_destroy(&sim);
}

/* Kafka's default timers (election 1 s, fetch 2 s, max wait 500 ms). */
static rn_raft_config_t kafka_config(void)
{
    rn_raft_config_t cfg;
    rn_raft_config_defaults(&cfg);
    return cfg;
}

/* A steady three-node quorum loses its leader's process at a random moment: the time until
 * a survivor leads a higher epoch, or -1 past 10 s; *split set when that took more than
 * one epoch (both survivors stood at once). */
static int64_t kill_leader(uint64_t seed, bool refuse, bool *split)
{
    sim_t sim;
    rn_raft_config_t cfg = kafka_config();
    sim_init(&sim, 3, seed, &cfg);
    sim.refuse = refuse;
    sim_run_until(&sim, 8000 + sim_rand(&sim) % 1000);
    sim_node_t *old = sim_leader(&sim);
    int64_t took = -1;
    if (old == NULL)
        goto out;
    int32_t epoch = rn_raft_epoch(old->raft);
    sim_crash(&sim, old, false);
    int64_t t0 = sim.now;
    sim_node_t *now = NULL;
    while (sim.now < t0 + 10000 && !sim.failed[0] && (now = sim_leader(&sim)) == NULL)
        sim_step(&sim);
    if (now != NULL) {
        took = sim.now - t0;
        *split = rn_raft_epoch(now->raft) > epoch + 1;
    }
out:
    if (sim.failed[0])
        diag("seed %llu: %s", (unsigned long long)seed, sim.failed);
    sim_destroy(&sim);
    return took;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* With Kafka's timers, a follower that only has the fetch timeout to go by starts its
 * election 1.5-2 s after the leader's last answer; a refused connection to the leader
 * brings it forward to within half an election timeout, and the random delay keeps the
 * two survivors from splitting the vote. */
static void test_leader_killed(void)
{
    enum { RUNS = 100 };
    int64_t with[RUNS], without[RUNS];
    int splits_with = 0, splits_without = 0, lost = 0;
    for (int i = 0; i < RUNS; i++) {
        bool split = false;
        with[i] = kill_leader((uint64_t)i + 1, true, &split);
        splits_with += split;
        split = false;
        without[i] = kill_leader((uint64_t)i + 1, false, &split);
        splits_without += split;
        lost += with[i] < 0 || without[i] < 0;
    }
    qsort(with, RUNS, sizeof(with[0]), cmp_i64);
    qsort(without, RUNS, sizeof(without[0]), cmp_i64);
    is(lost, 0, "a new leader after every kill (%d runs each)", RUNS);
    diag("refused connections seen: median %lld ms, 90th %lld, max %lld, %d split votes",
         (long long)with[RUNS / 2], (long long)with[RUNS * 9 / 10], (long long)with[RUNS - 1],
         splits_with);
    diag("fetch timeout only:       median %lld ms, 90th %lld, max %lld, %d split votes",
         (long long)without[RUNS / 2], (long long)without[RUNS * 9 / 10],
         (long long)without[RUNS - 1], splits_without);
    ok(with[RUNS * 9 / 10] < 600, "a refused connection: 9 in 10 elections within 600 ms");
    ok(with[RUNS - 1] < 2500, "every one within 2.5 s (a split vote costs an election timeout)");
    ok(splits_with <= RUNS / 20, "at most 1 in 20 split votes (%d)", splits_with);
    ok(without[0] >= 1400, "the fetch timeout alone takes at least 1.4 s (fastest %lld ms)",
       (long long)without[0]);
}

/* A follower told that its live leader refused a connection (a stale or false report)
 * starts a pre-vote, but the other follower still hears from the leader and refuses it:
 * the leader keeps its epoch and the follower goes back to it. */
static void test_false_refusal(void)
{
    int kept = 0;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        sim_t sim;
        rn_raft_config_t cfg = kafka_config();
        sim_init(&sim, 3, seed, &cfg);
        sim_run_until(&sim, 8000);
        sim_node_t *leader = sim_leader(&sim);
        if (leader != NULL) {
            int32_t epoch = rn_raft_epoch(leader->raft);
            sim_node_t *f = &sim.nodes[(leader - sim.nodes + 1) % 3];
            rn_raft_peer_refused(f->raft, sim.now, leader->id);
            sim_run_until(&sim, 14000);
            kept += sim_leader(&sim) == leader && rn_raft_epoch(leader->raft) == epoch &&
                    rn_raft_leader(f->raft) == leader->id && rn_raft_epoch(f->raft) == epoch &&
                    !sim.failed[0];
        }
        sim_destroy(&sim);
    }
    is(kept, 20, "a false refusal report never unseats a live leader (20 seeds)");
}

int main(void)
{
    rn_log_set_level(RN_LOG_ERROR);
    int steps = env_int("RN_SIM_STEPS", 5000);
    uint64_t only = (uint64_t)env_int("RN_SIM_SEED", 0);
    if (only) {
        random_runs(3, 1, steps, only);
        random_runs(5, 1, steps, only);
        return done_testing();
    }
    test_pre_vote();
    test_check_quorum();
    test_wiped_node();
    test_leader_killed();
    test_false_refusal();
    random_runs(3, env_int("RN_SIM_SEEDS", 2000), steps, 0);
    random_runs(5, env_int("RN_SIM_SEEDS", 2000) / 3, steps, 0);
    return done_testing();
}
