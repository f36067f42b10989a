/* Unit tests for rn_group: the classic group protocol's rules, driven with a fake clock and
 * fake waiters (answers recorded), and a store that completes now or on demand. */
#include "tap.h"

#include "group/rn_group.h"
#include "rn_kerr.h"
#include "rn_str.h"

#include <stdbool.h>
#include <stdlib.h>

/* A parked request: what the group answered. */
typedef struct waiter {
    int answers;
    int16_t error;
    char member_id[128];
    int32_t generation;
    char ptype[32], pname[32], leader[128];
    bool ptype_null, pname_null;
    bool skip;
    size_t n_members;
    char members[8][128];
    char member_meta[8][32];
    char assignment[64];
    int32_t assignment_len;
} waiter_t;

static void copy(char *dst, size_t cap, rn_str_t s)
{
    snprintf(dst, cap, "%.*s", RN_STR_ARGS(s));
}

/* The tests speak C strings: S makes a slice of one (NULL gives null), C gives the group's
 * own NUL-terminated copy back (NULL for null). */
static rn_str_t S(const char *s)
{
    return rn_str(s);
}

static const char *C(rn_str_t s)
{
    return s.len >= 0 ? s.ptr : NULL;
}

#define LIT(s)                                                                                     \
    {                                                                                              \
        s, (int32_t)sizeof(s) - 1                                                                  \
    }

static void on_join(void *arg, void *w_, const rn_group_join_result_t *res)
{
    waiter_t *w = w_;
    w->answers++;
    w->error = res->error;
    copy(w->member_id, sizeof(w->member_id), res->member_id);
    w->generation = res->generation_id;
    w->ptype_null = rn_str_is_null(res->protocol_type);
    w->pname_null = rn_str_is_null(res->protocol_name);
    copy(w->ptype, sizeof(w->ptype), res->protocol_type);
    copy(w->pname, sizeof(w->pname), res->protocol_name);
    copy(w->leader, sizeof(w->leader), res->leader_id);
    w->skip = res->skip_assignment;
    w->n_members = res->n_members;
    for (size_t i = 0; i < res->n_members && i < 8; i++) {
        copy(w->members[i], sizeof(w->members[i]), res->members[i].member_id);
        snprintf(w->member_meta[i], sizeof(w->member_meta[i]), "%.*s",
                 (int)res->members[i].metadata_len, (const char *)res->members[i].metadata);
    }
}

static void on_sync(void *arg, void *w_, const rn_group_sync_result_t *res)
{
    waiter_t *w = w_;
    w->answers++;
    w->error = res->error;
    w->ptype_null = rn_str_is_null(res->protocol_type);
    copy(w->ptype, sizeof(w->ptype), res->protocol_type);
    copy(w->pname, sizeof(w->pname), res->protocol_name);
    w->assignment_len = res->assignment_len;
    snprintf(w->assignment, sizeof(w->assignment), "%.*s", (int)res->assignment_len,
             (const char *)res->assignment);
}

/* The fake store: completes at once with store_error unless deferred. */
static bool store_deferred;
static int16_t store_error;
static uint64_t store_tokens[16];
static int n_store_tokens, n_stores;
static int32_t stored_generation, stored_members;
static char stored_leader[128], stored_assign0[64], stored_member0[128];
static int64_t clock_ms = 1000000;

static void on_store(void *arg, rn_group_t *g, const rn_groupstore_group_t *meta, uint64_t token)
{
    n_stores++;
    stored_generation = meta->generation;
    stored_members = meta->n_members;
    snprintf(stored_leader, sizeof(stored_leader), "%.*s", RN_STR_ARGS(meta->leader));
    stored_assign0[0] = stored_member0[0] = '\0';
    if (meta->n_members > 0) {
        snprintf(stored_assign0, sizeof(stored_assign0), "%.*s",
                 (int)meta->members[0].assignment.len,
                 (const char *)meta->members[0].assignment.ptr);
        snprintf(stored_member0, sizeof(stored_member0), "%.*s",
                 RN_STR_ARGS(meta->members[0].member_id));
    }
    if (store_deferred)
        store_tokens[n_store_tokens++] = token;
    else
        rn_group_store_done(g, token, store_error, clock_ms);
}

static const rn_group_ops_t ops = {on_join, on_sync, on_store, NULL};

static rn_group_t *new_group(int32_t initial_delay)
{
    rn_group_config_t cfg;
    rn_group_config_default(&cfg);
    cfg.initial_rebalance_delay_ms = initial_delay;
    store_deferred = false;
    store_error = RN_KERR_NONE;
    n_store_tokens = n_stores = 0;
    return rn_group_new(S("g1"), &cfg, &ops, clock_ms);
}

static rn_group_protocol_t P_RANGE[] = {{LIT("range"), (uint8_t *)"mr", 2}};
static rn_group_protocol_t P_RANGE_RR[] = {{LIT("range"), (uint8_t *)"mr", 2},
                                           {LIT("roundrobin"), (uint8_t *)"mo", 2}};
static rn_group_protocol_t P_RR_RANGE[] = {{LIT("roundrobin"), (uint8_t *)"mo", 2},
                                           {LIT("range"), (uint8_t *)"mr", 2}};
static rn_group_protocol_t P_RR[] = {{LIT("roundrobin"), (uint8_t *)"mo", 2}};
static rn_group_protocol_t P_STICKY[] = {{LIT("sticky"), (uint8_t *)"ms", 2}};
static rn_group_protocol_t P_RANGE2[] = {{LIT("range"), (uint8_t *)"m2", 2}};

typedef struct join_opts {
    const char *instance;
    const rn_group_protocol_t *protocols;
    size_t n;
    bool require_known;
    bool skip_ok;
    int32_t session, rebalance;
    const char *type;
    const char *client_id; /* "client" when NULL */
} join_opts_t;

static void join_x(rn_group_t *g, waiter_t *w, const char *member_id, join_opts_t o)
{
    memset(w, 0, sizeof(*w));
    rn_group_join_req_t req = {
        .member_id = S(member_id),
        .instance_id = S(o.instance),
        .client_id = S(o.client_id ? o.client_id : "client"),
        .client_host = S("/127.0.0.1"),
        .session_timeout_ms = o.session ? o.session : 10000,
        .rebalance_timeout_ms = o.rebalance ? o.rebalance : 20000,
        .protocol_type = S(o.type ? o.type : "consumer"),
        .protocols = o.protocols ? o.protocols : P_RANGE,
        .n_protocols = o.protocols ? o.n : 1,
        .require_known_member_id = o.require_known,
        .supports_skip_assignment = o.skip_ok,
    };
    rn_group_join(g, &req, w, clock_ms);
}

static void join(rn_group_t *g, waiter_t *w, const char *member_id)
{
    join_x(g, w, member_id, (join_opts_t){0});
}

static void sync_x(rn_group_t *g, waiter_t *w, const char *member_id, const char *instance,
                   int32_t gen, const rn_group_assignment_t *a, size_t n)
{
    memset(w, 0, sizeof(*w));
    rn_group_sync_req_t req = {S(member_id), S(instance), gen, RN_STR_NULL, RN_STR_NULL, a, n};
    rn_group_sync(g, &req, w, clock_ms);
}

static void advance(rn_group_t *g, int64_t ms)
{
    clock_ms += ms;
    if (rn_group_next_deadline(g) <= clock_ms)
        rn_group_tick(g, clock_ms);
}

/* Run timers until the group has nothing due before `until`. */
static void run_until(rn_group_t *g, int64_t until)
{
    for (int guard = 0; guard < 1000; guard++) {
        int64_t t = rn_group_next_deadline(g);
        if (t > until)
            break;
        if (t > clock_ms)
            clock_ms = t;
        rn_group_tick(g, clock_ms);
    }
    if (clock_ms < until)
        clock_ms = until;
}

/* One member through MEMBER_ID_REQUIRED, the initial delay and the sync: returns the id. */
static void single_member_stable(rn_group_t *g, char *id_out)
{
    waiter_t w, s;
    join_x(g, &w, "", (join_opts_t){.require_known = true});
    strcpy(id_out, w.member_id);
    join(g, &w, id_out);
    run_until(g, clock_ms + 3000);
    rn_group_assignment_t a = {S(id_out), (const uint8_t *)"A0", 2};
    sync_x(g, &s, id_out, NULL, rn_group_generation(g), &a, 1);
}

static void test_names(void)
{
    is_str(rn_group_state_name(RN_GROUP_COMPLETING_REBALANCE), "CompletingRebalance", "state name");
    is(rn_group_state_parse("stable", 6), RN_GROUP_STABLE, "state parse is case-insensitive");
    is(rn_group_state_parse("Nope", 4), -1, "unknown state name");
    rn_group_config_t cfg;
    rn_group_config_default(&cfg);
    is(cfg.initial_rebalance_delay_ms, 3000, "initial delay default 3 s");
    is(cfg.min_session_timeout_ms, 6000, "min session default");
    is(cfg.max_session_timeout_ms, 1800000, "max session default");
}

static void test_first_member(void)
{
    rn_group_t *g = new_group(3000);
    waiter_t w, s;
    join_x(g, &w, "", (join_opts_t){.require_known = true});
    is(w.answers, 1, "v4 join without id is answered at once");
    is(w.error, RN_KERR_MEMBER_ID_REQUIRED, "MEMBER_ID_REQUIRED");
    ok(strncmp(w.member_id, "client-", 7) == 0 && strlen(w.member_id) == 7 + 36,
       "member id is client id + '-' + UUID (%s)", w.member_id);
    is(rn_group_pending_count(g), 1, "one pending member");
    is(rn_group_state(g), RN_GROUP_EMPTY, "still Empty");
    char id[128];
    strcpy(id, w.member_id);

    join(g, &w, id);
    is(w.answers, 0, "join with the id waits for the initial delay");
    is(rn_group_state(g), RN_GROUP_PREPARING_REBALANCE, "PreparingRebalance");
    is(rn_group_pending_count(g), 0, "no longer pending");
    is(rn_group_next_deadline(g), clock_ms + 3000, "deadline = group.initial.rebalance.delay.ms");
    advance(g, 2999);
    is(w.answers, 0, "not before the delay");
    advance(g, 1);
    is(w.answers, 1, "answered after the delay");
    is(w.error, RN_KERR_NONE, "join ok");
    is(w.generation, 1, "generation 1");
    is_str(w.leader, id, "it leads");
    is_str(w.pname, "range", "protocol range");
    is_str(w.ptype, "consumer", "protocol type");
    is(w.n_members, 1, "leader gets the member list");
    is_str(w.member_meta[0], "mr", "with the metadata for range");
    is(rn_group_state(g), RN_GROUP_COMPLETING_REBALANCE, "CompletingRebalance");

    is(rn_group_heartbeat(g, S(id), S(NULL), 1, clock_ms), RN_KERR_NONE,
       "heartbeat during CompletingRebalance is fine");
    is(rn_group_check_commit(g, S(id), S(NULL), 1, clock_ms), RN_KERR_REBALANCE_IN_PROGRESS,
       "commit during CompletingRebalance: REBALANCE_IN_PROGRESS");

    store_deferred = true;
    rn_group_assignment_t a = {S(id), (const uint8_t *)"A0", 2};
    sync_x(g, &s, id, NULL, 1, &a, 1);
    is(n_stores, 1, "leader's sync stores the group");
    is(stored_generation, 1, "stored generation");
    is_str(stored_assign0, "A0", "stored with the new assignment");
    is_str(stored_leader, id, "stored leader");
    is(s.answers, 0, "sync waits for the store");
    rn_group_store_done(g, store_tokens[0], RN_KERR_NONE, clock_ms);
    is(s.answers, 1, "sync answered once stored");
    is(s.error, RN_KERR_NONE, "sync ok");
    is_str(s.assignment, "A0", "assignment handed out");
    is(rn_group_state(g), RN_GROUP_STABLE, "Stable");

    is(rn_group_heartbeat(g, S(id), S(NULL), 1, clock_ms), RN_KERR_NONE, "heartbeat ok");
    is(rn_group_heartbeat(g, S(id), S(NULL), 0, clock_ms), RN_KERR_ILLEGAL_GENERATION,
       "old generation: ILLEGAL_GENERATION");
    is(rn_group_heartbeat(g, S("nobody"), S(NULL), 1, clock_ms), RN_KERR_UNKNOWN_MEMBER_ID,
       "unknown member");
    is(rn_group_check_commit(g, S(id), S(NULL), 1, clock_ms), RN_KERR_NONE, "member commit ok");
    is(rn_group_check_commit(g, S(""), S(NULL), -1, clock_ms), RN_KERR_UNKNOWN_MEMBER_ID,
       "non-member commit to a live group: UNKNOWN_MEMBER_ID");
    is(rn_group_check_commit(g, S(id), S(NULL), 7, clock_ms), RN_KERR_ILLEGAL_GENERATION,
       "commit with a wrong generation");

    sync_x(g, &s, id, NULL, 1, NULL, 0);
    is(s.error, RN_KERR_NONE, "sync again in Stable returns the assignment");
    is_str(s.assignment, "A0", "same assignment");
    rn_group_free(g);
}

static void test_second_member(void)
{
    rn_group_t *g = new_group(3000);
    char a[128], b[128];
    single_member_stable(g, a);
    is(rn_group_state(g), RN_GROUP_STABLE, "first member stable");

    waiter_t wa, wb, sa, sb;
    join(g, &wb, ""); /* v3 style: no MEMBER_ID_REQUIRED */
    is(wb.answers, 0, "second member waits");
    is(rn_group_state(g), RN_GROUP_PREPARING_REBALANCE, "its join starts a rebalance");
    is(rn_group_heartbeat(g, S(a), S(NULL), 1, clock_ms), RN_KERR_REBALANCE_IN_PROGRESS,
       "first member learns of the rebalance by heartbeat");
    is(rn_group_check_commit(g, S(a), S(NULL), 1, clock_ms), RN_KERR_NONE,
       "commits are still allowed in PreparingRebalance");
    sync_x(g, &sa, a, NULL, 1, NULL, 0);
    is(sa.error, RN_KERR_REBALANCE_IN_PROGRESS, "sync in PreparingRebalance");

    join(g, &wa, a);
    is(wa.answers, 1, "when everyone rejoined the join completes at once");
    is(wb.answers, 1, "both answered");
    strcpy(b, wb.member_id);
    is(wa.generation, 2, "generation 2");
    is(wb.generation, 2, "same generation");
    is_str(wa.leader, a, "the old leader keeps leading");
    is_str(wb.leader, a, "follower told who leads");
    is(wa.n_members, 2, "leader gets both members");
    is(wb.n_members, 0, "follower gets none");

    sync_x(g, &sb, b, NULL, 2, NULL, 0);
    is(sb.answers, 0, "follower's sync waits for the leader");
    rn_group_assignment_t asg[] = {{S(a), (const uint8_t *)"pa", 2},
                                   {S(b), (const uint8_t *)"pb", 2}};
    sync_x(g, &sa, a, NULL, 2, asg, 2);
    is(sa.answers, 1, "leader answered");
    is(sb.answers, 1, "follower answered");
    is_str(sa.assignment, "pa", "leader's assignment");
    is_str(sb.assignment, "pb", "follower's assignment");

    /* A follower rejoining with the same metadata in Stable just gets the generation. */
    join(g, &wb, b);
    is(wb.answers, 1, "follower rejoin answered at once");
    is(wb.generation, 2, "same generation");
    is(rn_group_state(g), RN_GROUP_STABLE, "no rebalance");
    /* The leader rejoining forces one. */
    join(g, &wa, a);
    is(rn_group_state(g), RN_GROUP_PREPARING_REBALANCE, "leader rejoin forces a rebalance");
    join(g, &wb, b);
    is(wa.generation, 3, "generation 3");
    /* Leave: the follower goes; the group rebalances to the leader alone. */
    rn_group_assignment_t asg3[] = {{S(a), (const uint8_t *)"x", 1}};
    sync_x(g, &sa, a, NULL, 3, asg3, 1);
    is(sa.error, RN_KERR_NONE, "leader synced gen 3");
    is_str(sa.assignment, "x", "assignment x");
    sync_x(g, &sb, b, NULL, 3, NULL, 0);
    is(sb.assignment_len, 0, "a member the leader left out gets an empty assignment");
    is(rn_group_leave(g, S(b), S(NULL), clock_ms), RN_KERR_NONE, "leave ok");
    is(rn_group_member_count(g), 1, "one member left");
    is(rn_group_state(g), RN_GROUP_PREPARING_REBALANCE, "leave rebalances");
    is(rn_group_leave(g, S(b), S(NULL), clock_ms), RN_KERR_UNKNOWN_MEMBER_ID,
       "second leave: unknown");
    join(g, &wa, a);
    is(wa.generation, 4, "rebalanced to generation 4");
    int stores = n_stores;
    is(rn_group_leave(g, S(a), S(NULL), clock_ms), RN_KERR_NONE, "last member leaves");
    is(rn_group_state(g), RN_GROUP_EMPTY, "the rebalance it starts ends at once: Empty");
    is(rn_group_generation(g), 5, "empty generation 5");
    is(n_stores, stores + 1, "the empty group is stored");
    is(stored_members, 0, "with no members");
    is(rn_group_check_commit(g, S(""), S(NULL), -1, clock_ms), RN_KERR_NONE,
       "simple commit to an Empty group");
    rn_group_free(g);
}

static void test_protocols(void)
{
    rn_group_t *g = new_group(0);
    waiter_t w1, w2, w3, w4;
    join_x(g, &w1, "", (join_opts_t){.protocols = P_RANGE_RR, .n = 2});
    join_x(g, &w2, "", (join_opts_t){.protocols = P_RR_RANGE, .n = 2});
    join_x(g, &w4, "", (join_opts_t){.protocols = P_STICKY, .n = 1});
    is(w4.error, RN_KERR_INCONSISTENT_GROUP_PROTOCOL, "no common protocol: INCONSISTENT");
    join_x(g, &w4, "", (join_opts_t){.protocols = P_RANGE, .n = 1, .type = "connect"});
    is(w4.error, RN_KERR_INCONSISTENT_GROUP_PROTOCOL, "another protocol type: INCONSISTENT");
    run_until(g, clock_ms + 1);
    is_str(w1.pname, "range", "a tie goes to the first vote (range)");
    is(w1.answers, 1, "answered");

    rn_group_free(g);
    g = new_group(0);
    join_x(g, &w1, "", (join_opts_t){.protocols = P_RANGE_RR, .n = 2});
    join_x(g, &w2, "", (join_opts_t){.protocols = P_RR_RANGE, .n = 2});
    join_x(g, &w3, "", (join_opts_t){.protocols = P_RR, .n = 1});
    run_until(g, clock_ms + 1);
    is_str(w3.pname, "roundrobin", "only roundrobin is common to all three");
    is_str(w1.pname, "roundrobin", "everyone gets it");
    rn_group_free(g);

    g = new_group(0);
    join_x(g, &w1, "", (join_opts_t){.session = 5000});
    is(w1.error, RN_KERR_INVALID_SESSION_TIMEOUT, "session below the minimum");
    join_x(g, &w1, "", (join_opts_t){.session = 1800001});
    is(w1.error, RN_KERR_INVALID_SESSION_TIMEOUT, "session above the maximum");
    join(g, &w1, "someone-unknown");
    is(w1.error, RN_KERR_UNKNOWN_MEMBER_ID, "rejoin with an unknown id");
    rn_group_free(g);
}

static void test_session_timeout(void)
{
    rn_group_t *g = new_group(0);
    waiter_t w1, w2, s1, s2;
    join(g, &w1, "");
    join(g, &w2, "");
    run_until(g, clock_ms + 1);
    is(w1.generation, 1, "two members in generation 1");
    char a[128], b[128];
    strcpy(a, w1.member_id);
    strcpy(b, w2.member_id);
    sync_x(g, &s2, b, NULL, 1, NULL, 0);
    rn_group_assignment_t asg[] = {{S(a), (const uint8_t *)"1", 1},
                                   {S(b), (const uint8_t *)"2", 1}};
    sync_x(g, &s1, a, NULL, 1, asg, 2);
    is(rn_group_state(g), RN_GROUP_STABLE, "stable");
    for (int i = 0; i < 3; i++) {
        advance(g, 3000);
        is(rn_group_heartbeat(g, S(a), S(NULL), 1, clock_ms), RN_KERR_NONE, "a heartbeats (%d)", i);
    }
    advance(g, 999);
    is(rn_group_member_count(g), 2, "b is still in 1 ms before its session ends");
    advance(g, 1);
    is(rn_group_member_count(g), 1, "b's session (10 s) ran out");
    ok(rn_group_find_member(g, S(b)) == NULL, "b is gone");
    is(rn_group_state(g), RN_GROUP_PREPARING_REBALANCE, "rebalancing");
    is(rn_group_heartbeat(g, S(a), S(NULL), 1, clock_ms), RN_KERR_REBALANCE_IN_PROGRESS,
       "a is told to rejoin");
    join(g, &w1, a);
    is(w1.generation, 2, "a alone in generation 2");
    rn_group_free(g);
}

static void test_rebalance_timeout(void)
{
    rn_group_t *g = new_group(0);
    waiter_t w1, w2, s1, s2, w3;
    join_x(g, &w1, "", (join_opts_t){.rebalance = 15000});
    join_x(g, &w2, "", (join_opts_t){.rebalance = 15000});
    run_until(g, clock_ms + 1);
    char a[128], b[128];
    strcpy(a, w1.member_id);
    strcpy(b, w2.member_id);
    sync_x(g, &s2, b, NULL, 1, NULL, 0);
    sync_x(g, &s1, a, NULL, 1, NULL, 0);
    is(rn_group_state(g), RN_GROUP_STABLE, "stable");
    join_x(g, &w3, "", (join_opts_t){.rebalance = 15000}); /* a third member */
    is(rn_group_state(g), RN_GROUP_PREPARING_REBALANCE, "rebalance");
    join_x(g, &w1, a, (join_opts_t){.rebalance = 15000});
    /* b keeps heartbeating but never rejoins. */
    for (int i = 0; i < 5; i++) {
        advance(g, 2900);
        rn_group_heartbeat(g, S(b), S(NULL), 1, clock_ms);
    }
    is(w1.answers, 0, "not before the rebalance timeout");
    advance(g, 600);
    is(w1.answers, 1, "join phase ends at the rebalance timeout");
    is(w1.generation, 2, "generation 2");
    is(rn_group_member_count(g), 2, "b, which did not rejoin, was removed");
    ok(rn_group_find_member(g, S(b)) == NULL, "b gone");
    is(rn_group_heartbeat(g, S(b), S(NULL), 1, clock_ms), RN_KERR_UNKNOWN_MEMBER_ID,
       "b's heartbeat: UNKNOWN_MEMBER_ID");

    /* The pending-sync timeout: the follower never syncs. */
    sync_x(g, &s1, a, NULL, 2, NULL, 0);
    is(rn_group_state(g), RN_GROUP_STABLE, "leader synced");
    for (int i = 0; i < 3; i++) {
        advance(g, 4000);
        rn_group_heartbeat(g, S(a), S(NULL), 2, clock_ms);
        rn_group_heartbeat(g, S(w3.member_id), S(NULL), 2, clock_ms);
    }
    advance(g, 2999);
    is(rn_group_member_count(g), 2, "follower still there");
    advance(g, 1);
    is(rn_group_member_count(g), 1, "a member that never sent SyncGroup is removed");
    is(rn_group_state(g), RN_GROUP_PREPARING_REBALANCE, "and the group rebalances");
    rn_group_free(g);
}

static void test_initial_delay(void)
{
    rn_group_t *g = new_group(3000);
    waiter_t w1, w2, w3;
    int64_t t0 = clock_ms;
    join_x(g, &w1, "", (join_opts_t){.rebalance = 10000});
    advance(g, 1000);
    join_x(g, &w2, "", (join_opts_t){.rebalance = 10000});
    is(w1.answers + w2.answers, 0, "initial delay does not end early though all joined");
    advance(g, 2000);
    is(w1.answers, 0, "a new member extends the delay");
    is(rn_group_next_deadline(g), t0 + 6000, "by another delay");
    advance(g, 1000);
    join_x(g, &w3, "", (join_opts_t){.rebalance = 10000});
    advance(g, 2000);
    is(w1.answers, 0, "extended again");
    is(rn_group_next_deadline(g), t0 + 9000, "up to the rebalance timeout");
    run_until(g, t0 + 9000);
    is(w1.answers, 1, "done after 9 s");
    is(w3.answers, 1, "third member in");
    is(w1.generation, 1, "generation 1");
    is(rn_group_member_count(g), 3, "three members");
    rn_group_free(g);
}

static void test_pending(void)
{
    rn_group_t *g = new_group(0);
    char a[128];
    single_member_stable(g, a);
    waiter_t w, wa;
    join_x(g, &w, "", (join_opts_t){.require_known = true});
    is(w.error, RN_KERR_MEMBER_ID_REQUIRED, "second member gets an id");
    is(rn_group_state(g), RN_GROUP_STABLE, "a pending member does not rebalance");
    char p[128];
    strcpy(p, w.member_id);
    join(g, &wa, a); /* leader rejoin: rebalance */
    is(wa.answers, 0, "the pending member holds the join phase");
    join(g, &w, p);
    is(wa.answers, 1, "pending member joined: done");
    is(w.generation, 2, "both in generation 2");

    /* A pending member that never comes back expires after its session timeout. */
    waiter_t w3;
    join_x(g, &w3, "", (join_opts_t){.require_known = true});
    is(rn_group_pending_count(g), 1, "pending");
    run_until(g, clock_ms + 10000);
    is(rn_group_pending_count(g), 0, "expired after the session timeout");
    /* LeaveGroup of a pending member. */
    join_x(g, &w3, "", (join_opts_t){.require_known = true});
    is(rn_group_leave(g, S(w3.member_id), S(NULL), clock_ms), RN_KERR_NONE,
       "pending member leaves");
    is(rn_group_pending_count(g), 0, "gone");
    rn_group_free(g);
}

static void test_static(void)
{
    rn_group_t *g = new_group(0);
    waiter_t w1, w2, s1, s2;
    join_x(g, &w1, "", (join_opts_t){.instance = "i1", .require_known = false});
    join_x(g, &w2, "", (join_opts_t){.instance = "i2"});
    is(w1.answers, 0, "static members join without MEMBER_ID_REQUIRED");
    run_until(g, clock_ms + 1);
    ok(strncmp(w1.member_id, "i1-", 3) == 0, "static member id starts with the instance id");
    char a[128], b[128];
    strcpy(a, w1.member_id);
    strcpy(b, w2.member_id);
    rn_group_assignment_t asg[] = {{S(a), (const uint8_t *)"1", 1},
                                   {S(b), (const uint8_t *)"2", 1}};
    sync_x(g, &s1, a, "i1", 1, asg, 2);
    sync_x(g, &s2, b, "i2", 1, NULL, 0);
    is(rn_group_state(g), RN_GROUP_STABLE, "stable");

    /* i2 restarts: joins without member id, same instance id, same protocols. */
    store_deferred = true;
    n_store_tokens = 0;
    join_x(g, &w2, "", (join_opts_t){.instance = "i2"});
    is(rn_group_state(g), RN_GROUP_STABLE, "no rebalance for a returning static member");
    is(n_store_tokens, 1, "its new id is stored first");
    is(w2.answers, 0, "answered after the store");
    rn_group_store_done(g, store_tokens[0], RN_KERR_NONE, clock_ms);
    is(w2.answers, 1, "answered");
    is(w2.error, RN_KERR_NONE, "ok");
    is(w2.generation, 1, "same generation");
    ok(strcmp(w2.member_id, b) != 0 && strncmp(w2.member_id, "i2-", 3) == 0, "with a new id");
    is_str(w2.leader, a, "leader unchanged");
    is(rn_group_heartbeat(g, S(b), S("i2"), 1, clock_ms), RN_KERR_FENCED_INSTANCE_ID,
       "old incarnation is fenced");
    char b2[128];
    strcpy(b2, w2.member_id);
    sync_x(g, &s2, b2, "i2", 1, NULL, 0);
    is(s2.error, RN_KERR_NONE, "new incarnation syncs");
    is_str(s2.assignment, "2", "and keeps its assignment");

    /* The leader restarts: pre-v9 it is told the old leader id (so it does not assign)... */
    n_store_tokens = 0;
    join_x(g, &w1, "", (join_opts_t){.instance = "i1"});
    rn_group_store_done(g, store_tokens[0], RN_KERR_NONE, clock_ms);
    is_str(w1.leader, a, "pre-v9: the old leader id comes back");
    ok(strcmp(w1.member_id, a) != 0, "the member has a new id");
    is(w1.n_members, 0, "and no member list");
    /* ...and v9 clients learn they lead but skip the assignment. */
    char a2[128];
    strcpy(a2, w1.member_id);
    n_store_tokens = 0;
    join_x(g, &w1, "", (join_opts_t){.instance = "i1", .skip_ok = true});
    rn_group_store_done(g, store_tokens[0], RN_KERR_NONE, clock_ms);
    is_str(w1.leader, w1.member_id, "v9: the leader is told it leads");
    ok(w1.skip, "with SkipAssignment");
    is(w1.n_members, 2, "and the member list");
    is(rn_group_state(g), RN_GROUP_STABLE, "still Stable");
    is(rn_group_generation(g), 1, "still generation 1");

    /* A failed store puts the old id back. */
    char a3[128];
    strcpy(a3, w1.member_id);
    n_store_tokens = 0;
    join_x(g, &w1, "", (join_opts_t){.instance = "i1"});
    rn_group_store_done(g, store_tokens[0], RN_KERR_NOT_COORDINATOR, clock_ms);
    is(w1.error, RN_KERR_NOT_COORDINATOR, "store failure reaches the joiner");
    is(w1.generation, 1, "with the current generation");
    is_str(w1.member_id, "", "and no member id");
    ok(rn_group_find_member(g, S(a3)) != NULL, "old id restored");
    store_deferred = false;

    /* Rejoining with another protocol rebalances. */
    join_x(g, &w1, "", (join_opts_t){.instance = "i1", .protocols = P_RANGE2, .n = 1});
    is(rn_group_state(g), RN_GROUP_STABLE, "same protocol name, other metadata: no rebalance");
    join_x(g, &w1, "", (join_opts_t){.instance = "i1", .protocols = P_RANGE_RR, .n = 2});
    is(rn_group_state(g), RN_GROUP_STABLE, "range still selected: no rebalance");

    /* Static members that do not rejoin are kept through a rebalance. */
    char a4[128];
    strcpy(a4, w1.member_id);
    waiter_t w3;
    join(g, &w3, ""); /* a dynamic member arrives */
    is(rn_group_state(g), RN_GROUP_PREPARING_REBALANCE, "rebalance");
    for (int i = 0; i < 4; i++) {
        advance(g, 5000);
        is(rn_group_heartbeat(g, S(b2), S("i2"), 1, clock_ms),
           i < 3 ? RN_KERR_REBALANCE_IN_PROGRESS : RN_KERR_ILLEGAL_GENERATION,
           "static member heartbeats (%d)", i);
        rn_group_heartbeat(g, S(a4), S("i1"), 1, clock_ms);
    }
    is(w3.answers, 1, "rebalance ended at the timeout");
    ok(rn_group_find_member(g, S(b2)) != NULL, "static member that did not rejoin stays");

    /* Leave by instance id (administrative removal). */
    is(rn_group_leave(g, S(""), S("i2"), clock_ms), RN_KERR_NONE, "remove i2 by instance id");
    ok(rn_group_find_member(g, S(b2)) == NULL, "i2 gone");
    is(rn_group_leave(g, S(""), S("i9"), clock_ms), RN_KERR_UNKNOWN_MEMBER_ID,
       "unknown instance id");
    is(rn_group_leave(g, S("x"), S("i1"), clock_ms), RN_KERR_FENCED_INSTANCE_ID,
       "leave with a wrong member id for the instance: fenced");
    rn_group_free(g);
}

static void test_completing(void)
{
    rn_group_t *g = new_group(0);
    waiter_t w1, w2, s2, w3;
    join(g, &w1, "");
    join(g, &w2, "");
    run_until(g, clock_ms + 1);
    char a[128], b[128];
    strcpy(a, w1.member_id);
    strcpy(b, w2.member_id);
    is(rn_group_state(g), RN_GROUP_COMPLETING_REBALANCE, "completing");
    join(g, &w2, b);
    is(w2.answers, 1, "same metadata in CompletingRebalance: answered at once");
    is(w2.generation, 1, "current generation");
    sync_x(g, &s2, b, NULL, 1, NULL, 0);
    is(s2.answers, 0, "follower waits for the leader");
    join(g, &w3, "");
    is(s2.answers, 1, "a new member during CompletingRebalance ends the sync");
    is(s2.error, RN_KERR_REBALANCE_IN_PROGRESS, "with REBALANCE_IN_PROGRESS");
    is(rn_group_state(g), RN_GROUP_PREPARING_REBALANCE, "preparing again");

    /* A store failure at sync sends the error and rebalances. */
    join(g, &w1, a);
    join(g, &w2, b);
    is(w1.generation, 2, "generation 2");
    store_error = RN_KERR_COORDINATOR_NOT_AVAILABLE;
    waiter_t s1;
    sync_x(g, &s2, b, NULL, 2, NULL, 0);
    sync_x(g, &s1, a, NULL, 2, NULL, 0);
    is(s1.error, RN_KERR_COORDINATOR_NOT_AVAILABLE, "leader gets the store error");
    is(s2.error, RN_KERR_COORDINATOR_NOT_AVAILABLE, "follower too");
    is(rn_group_state(g), RN_GROUP_PREPARING_REBALANCE, "and the group rebalances");
    rn_group_free(g);
}

static void test_waiters(void)
{
    rn_group_t *g = new_group(0);
    waiter_t w1, w2;
    join(g, &w1, "");
    join(g, &w2, "");
    rn_group_forget_waiter(g, &w2);
    run_until(g, clock_ms + 1);
    is(w1.answers, 1, "live waiter answered");
    is(w2.answers, 0, "forgotten waiter is not");
    is(rn_group_member_count(g), 2, "its member still joined");

    /* Unload answers what is parked with NOT_COORDINATOR. */
    waiter_t s1;
    sync_x(g, &s1, C(rn_group_member_at(g, 1)->member_id), NULL, 1, NULL, 0);
    if (rn_str_eq(rn_group_leader(g), rn_group_member_at(g, 1)->member_id))
        sync_x(g, &s1, C(rn_group_member_at(g, 0)->member_id), NULL, 1, NULL, 0);
    rn_group_unload(g, RN_KERR_NOT_COORDINATOR);
    is(s1.error, RN_KERR_NOT_COORDINATOR, "parked sync told NOT_COORDINATOR");
    is(rn_group_state(g), RN_GROUP_DEAD, "Dead");
    join(g, &w1, "");
    is(w1.error, RN_KERR_COORDINATOR_NOT_AVAILABLE, "joining a Dead group");
    is(rn_group_heartbeat(g, S("x"), S(NULL), 1, clock_ms), RN_KERR_COORDINATOR_NOT_AVAILABLE,
       "heartbeat to a Dead group");
    is(rn_group_next_deadline(g), INT64_MAX, "no timers on a Dead group");
    rn_group_free(g);

    /* group.max.size */
    rn_group_config_t cfg;
    rn_group_config_default(&cfg);
    cfg.initial_rebalance_delay_ms = 0;
    cfg.max_size = 2;
    g = rn_group_new(S("small"), &cfg, &ops, clock_ms);
    waiter_t w3;
    join(g, &w1, "");
    join(g, &w2, "");
    join(g, &w3, "");
    is(w3.error, RN_KERR_GROUP_MAX_SIZE_REACHED, "third member: GROUP_MAX_SIZE_REACHED");
    ok(rn_group_mark_dead(g, clock_ms) == false, "a non-empty group cannot be marked dead");
    rn_group_unload(g, RN_KERR_NOT_COORDINATOR);
    is(w1.error, RN_KERR_NOT_COORDINATOR, "parked join told NOT_COORDINATOR");
    rn_group_free(g);
}

/* A ConsumerProtocol subscription v0: version, topics, user data. */
static size_t subscription(uint8_t *buf, const char *const *topics, int n)
{
    size_t p = 0;
    buf[p++] = 0;
    buf[p++] = 1; /* version 1: v0 prefix + owned partitions */
    buf[p++] = 0, buf[p++] = 0, buf[p++] = 0, buf[p++] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(topics[i]);
        buf[p++] = 0;
        buf[p++] = (uint8_t)l;
        memcpy(buf + p, topics[i], l);
        p += l;
    }
    buf[p++] = 0xff, buf[p++] = 0xff, buf[p++] = 0xff, buf[p++] = 0xff; /* null user data */
    buf[p++] = 0, buf[p++] = 0, buf[p++] = 0, buf[p++] = 0;             /* owned partitions */
    return p;
}

static void test_topics_and_restore(void)
{
    rn_group_t *g = new_group(0);
    uint8_t s1[64], s2[64];
    const char *t1[] = {"orders", "events"}, *t2[] = {"audit"};
    rn_group_protocol_t p1 = {LIT("range"), s1, (int32_t)subscription(s1, t1, 2)};
    rn_group_protocol_t p2 = {LIT("range"), s2, (int32_t)subscription(s2, t2, 1)};
    waiter_t w1, w2;
    join_x(g, &w1, "", (join_opts_t){.protocols = &p1, .n = 1});
    join_x(g, &w2, "", (join_opts_t){.protocols = &p2, .n = 1});
    run_until(g, clock_ms + 1);
    ok(rn_group_subscriptions_known(g), "subscriptions known after the join");
    ok(rn_group_is_subscribed(g, S("orders")), "orders subscribed");
    ok(rn_group_is_subscribed(g, S("audit")), "audit subscribed");
    ok(!rn_group_is_subscribed(g, S("other")), "other not");

    /* Restore from a stored record. */
    rn_groupstore_member_t ms[2] = {
        {{"m-1", 3},
         RN_STR_NULL,
         {"c1", 2},
         {"/h", 2},
         30000,
         10000,
         {s1, p1.metadata_len},
         {(const uint8_t *)"A", 1}},
        {{"m-2", 3},
         {"inst", 4},
         {"c2", 2},
         {"/h", 2},
         30000,
         10000,
         {s2, p2.metadata_len},
         {(const uint8_t *)"B", 1}},
    };
    rn_groupstore_group_t meta = {{"consumer", 8}, 7, {"range", 5}, {"m-2", 3}, 12345, ms, 2};
    rn_group_t *r = new_group(0);
    is(rn_group_restore(r, &meta, clock_ms), 0, "restore");
    is(rn_group_state(r), RN_GROUP_STABLE, "restored Stable");
    is(rn_group_generation(r), 7, "generation");
    is_str(C(rn_group_leader(r)), "m-2", "leader");
    is(rn_group_state_timestamp(r), 12345, "state timestamp");
    ok(rn_group_is_subscribed(r, S("events")), "subscriptions rebuilt");
    is(rn_group_heartbeat(r, S("m-1"), S(NULL), 7, clock_ms), RN_KERR_NONE,
       "heartbeat after restore");
    is(rn_group_heartbeat(r, S("m-2"), S("wrong"), 7, clock_ms), RN_KERR_NONE,
       "unknown instance id on heartbeat is not fenced");
    is(rn_group_heartbeat(r, S("m-9"), S("inst"), 7, clock_ms), RN_KERR_FENCED_INSTANCE_ID,
       "instance id with another member id is fenced");
    waiter_t s;
    sync_x(r, &s, "m-2", "inst", 7, NULL, 0);
    is_str(s.assignment, "B", "restored assignment handed out");
    /* Nobody heartbeats m-2 any more: both sessions end, the group empties. */
    for (int i = 0; i < 6; i++) {
        advance(r, 2000);
        rn_group_heartbeat(r, S("m-1"), S(NULL), 7, clock_ms);
    }
    ok(rn_group_find_member(r, S("m-2")) == NULL, "silent restored member expired");
    run_until(r, clock_ms + 60000);
    is(rn_group_state(r), RN_GROUP_EMPTY, "group emptied");
    ok(rn_group_mark_dead(r, clock_ms), "Empty group can be marked Dead");

    rn_groupstore_member_t dup[2] = {ms[0], ms[0]};
    rn_groupstore_group_t bad = meta;
    bad.members = dup;
    rn_group_t *x = new_group(0);
    is(rn_group_restore(x, &bad, clock_ms), RN_EINVAL, "duplicate members are refused");
    rn_group_free(x);
    rn_group_free(r);
    rn_group_free(g);
}

/* Kafka strings may hold any byte: ids are kept and compared whole, never cut at a NUL. */
static void test_nul_bytes(void)
{
    rn_group_t *g = new_group(0);
    waiter_t w;
    join_x(g, &w, "", (join_opts_t){0});
    memset(&w, 0, sizeof(w));
    rn_group_join_req_t req = {
        .member_id = S(""),
        .instance_id = RN_STR_NULL,
        .client_id = {"a\0b", 3},
        .client_host = S("/h"),
        .session_timeout_ms = 10000,
        .rebalance_timeout_ms = 10000,
        .protocol_type = S("consumer"),
        .protocols = P_RANGE,
        .n_protocols = 1,
        .reason = RN_STR_NULL,
    };
    rn_group_join(g, &req, &w, clock_ms);
    run_until(g, clock_ms + 1);
    const rn_group_member_t *m = rn_group_member_at(g, 1);
    ok(m != NULL && m->member_id.len == 3 + 1 + 36 && memcmp(m->member_id.ptr, "a\0b-", 4) == 0,
       "member id: every byte of the client id, '-', a UUID");
    ok(m != NULL && m->client_id.len == 3, "client id kept whole");
    is(rn_group_heartbeat(g, S("a"), RN_STR_NULL, 1, clock_ms), RN_KERR_UNKNOWN_MEMBER_ID,
       "the id cut at its NUL is no member");
    is(rn_group_heartbeat(g, m->member_id, RN_STR_NULL, 1, clock_ms), RN_KERR_NONE,
       "the whole id is");
    rn_group_free(g);

    /* Static members "i\0x" and "i" are two instances, not one replacing the other. */
    g = new_group(0);
    waiter_t w1, w2;
    join_x(g, &w1, "", (join_opts_t){.instance = "i"});
    memset(&w2, 0, sizeof(w2));
    req.instance_id = (rn_str_t){"i\0x", 3};
    req.client_id = S("c");
    rn_group_join(g, &req, &w2, clock_ms);
    is(rn_group_member_count(g), 2, "two static members");
    is(w1.error, RN_KERR_NONE, "the first is not fenced");
    rn_group_free(g);
}

int main(void)
{
    test_names();
    test_first_member();
    test_second_member();
    test_protocols();
    test_session_timeout();
    test_rebalance_timeout();
    test_initial_delay();
    test_pending();
    test_static();
    test_completing();
    test_waiters();
    test_nul_bytes();
    test_topics_and_restore();
    return done_testing();
}
