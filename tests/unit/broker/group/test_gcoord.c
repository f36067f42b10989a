/* Tests for rn_gcoord: __consumer_offsets created on first use, commits appended before they
 * are acknowledged, everything rebuilt by replaying the partitions (restart), DeleteGroups,
 * OffsetDelete, offset expiry with tombstones, and the coordinator's error codes; then
 * (test_moves) writes answered only once replicated, with Kafka's error mapping when that
 * fails, and leadership changes: groups dropped with NOT_COORDINATOR, loaded again in chunks
 * on the offload thread (COORDINATOR_LOAD_IN_PROGRESS meanwhile), a load overtaken by another
 * change. Uses a real topic manager, offload thread and partition logs in a temporary data
 * dir; a fake clock; the replication waits and the replica role are the test's. */
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "group/rn_gcoord.h"
#include "rn_kerr.h"
#include "rn_logmgr.h"
#include "rn_plog.h"
#include "tap.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[] = "/tmp/rn_test_gcoord.XXXXXX";
static struct event_base *base;
static int64_t clock_now = 1700000000000;

static int64_t fake_now(void)
{
    return clock_now;
}

/* The storage hooks: logs from an rn_logmgr of the data dir (the data path's job in
 * runneld), created on first use. */
typedef struct logs {
    rn_logmgr_t *mgr;
    int appends;
} logs_t;

static rn_plog_t *get_log(void *arg, rn_partition_t *part)
{
    logs_t *l = arg;
    rn_plog_t *log = rn_logmgr_get(l->mgr, part->topic->name, part->index);
    if (log == NULL && rn_logmgr_create(l->mgr, part->topic->name, part->index, NULL, &log) != 0)
        return NULL;
    return log;
}

static void appended(void *arg, rn_partition_t *part, int32_t epoch, int64_t base_offset,
                     int64_t bytes)
{
    ((logs_t *)arg)->appends++;
}

/* Answers of parked joins and syncs. */
typedef struct waiter {
    int answers;
    int16_t error;
    char member_id[128];
    int32_t generation;
    char assignment[32];
} waiter_t;

/* The tests speak C strings: a slice of one (NULL gives null). */
static rn_str_t S(const char *s)
{
    return rn_str(s);
}

static void on_join(void *arg, void *w_, const rn_group_join_result_t *res)
{
    waiter_t *w = w_;
    w->answers++;
    w->error = res->error;
    snprintf(w->member_id, sizeof(w->member_id), "%.*s", RN_STR_ARGS(res->member_id));
    w->generation = res->generation_id;
}

static void on_sync(void *arg, void *w_, const rn_group_sync_result_t *res)
{
    waiter_t *w = w_;
    w->answers++;
    w->error = res->error;
    snprintf(w->assignment, sizeof(w->assignment), "%.*s", (int)res->assignment_len,
             (const char *)res->assignment);
}

/* The replication hooks: with `hold` set, waits are kept until release() says how they end;
 * otherwise every write is replicated at once (a single node). */
typedef struct fwait {
    void (*done)(void *arg, int16_t error);
    void *arg;
    int64_t last;
    bool live;
} fwait_t;
static fwait_t fwaits[64];
static int n_fwaits;
static bool hold;
static bool leads_flag[8] = {true, true, true, true, true, true, true, true};

static void *fake_replicated(void *arg, rn_partition_t *part, int64_t last, int32_t timeout_ms,
                             void (*done)(void *, int16_t), void *done_arg)
{
    if (!hold || n_fwaits == (int)(sizeof(fwaits) / sizeof(fwaits[0]))) {
        done(done_arg, RN_KERR_NONE);
        return NULL;
    }
    fwaits[n_fwaits] = (fwait_t){done, done_arg, last, true};
    return &fwaits[n_fwaits++];
}

static void fake_cancel(void *arg, void *wait)
{
    ((fwait_t *)wait)->live = false;
}

static bool fake_leads(void *arg, rn_partition_t *part)
{
    return leads_flag[part->index];
}

/* End every live wait with error; how many there were. */
static int release(int16_t error)
{
    int k = 0;
    for (int i = 0; i < n_fwaits; i++) {
        if (!fwaits[i].live)
            continue;
        fwaits[i].live = false;
        k++;
        fwaits[i].done(fwaits[i].arg, error);
    }
    n_fwaits = 0;
    return k;
}

static int commits_done;
static void on_commit_done(void *arg)
{
    commits_done++;
}

static int16_t topic_error = -99;
static void on_topic(void *arg, int16_t error)
{
    topic_error = error;
    event_base_loopbreak(base);
}

typedef struct world {
    rn_config_t cfg;
    rn_topics_t *topics;
    rn_offload_t *off;
    logs_t logs;
    rn_gcoord_t *gc;
} world_t;

static void start(world_t *w, bool first)
{
    char err[256];
    if (first) {
        rn_config_init(&w->cfg);
        rn_config_set(&w->cfg, "offsets.topic.num.partitions", "5", "test", err, sizeof(err));
        rn_config_set(&w->cfg, "group.initial.rebalance.delay.ms", "0", "test", err, sizeof(err));
        rn_config_set(&w->cfg, "offsets.retention.minutes", "60", "test", err, sizeof(err));
        rn_config_resolve(&w->cfg, err, sizeof(err));
    }
    rn_logmgr_opts_t lo = {.dir = dir, .node_id = 1, .no_flusher = true, .now_ms = clock_now};
    rn_plog_config_default(&lo.config);
    memset(&w->logs, 0, sizeof(w->logs));
    if (rn_logmgr_open(&lo, &w->logs.mgr, err, sizeof(err)) != 0)
        diag("logmgr: %s", err);
    w->topics = rn_topics_new(&w->cfg, w->logs.mgr, 1);
    if (rn_topics_load(w->topics, err, sizeof(err)) != 0)
        diag("load: %s", err);
    w->off = rn_offload_new(base);
    rn_gcoord_opts_t o = {
        .base = base,
        .cfg = &w->cfg,
        .topics = w->topics,
        .offload = w->off,
        .node_id = 1,
        .storage = {.log = get_log,
                    .appended = appended,
                    .replicated = fake_replicated,
                    .cancel_wait = fake_cancel,
                    .leads = fake_leads,
                    .arg = &w->logs},
        .join_done = on_join,
        .sync_done = on_sync,
        .now_ms = fake_now,
    };
    w->gc = rn_gcoord_new(&o);
}

static void stop(world_t *w)
{
    rn_gcoord_free(w->gc);
    rn_offload_free(w->off);
    rn_topics_free(w->topics);
    rn_logmgr_close(w->logs.mgr, false, NULL, 0, NULL, 0); /* like a crash: no marker */
}

static rn_gcoord_commit_t C(const char *topic, int32_t part, int64_t off, const char *md)
{
    return (rn_gcoord_commit_t){S(topic), part, off, 3, S(md), -1, 0};
}

static int64_t committed(rn_gcoord_t *gc, const char *group, const char *topic, int32_t part)
{
    const rn_committed_t *o;
    if (rn_gcoord_offsets(gc, S(group), &o) != RN_KERR_NONE || o == NULL)
        return -2;
    const rn_offset_entry_t *e = rn_committed_get(o, topic, strlen(topic), part);
    return e != NULL ? e->offset : -1;
}

/* A ConsumerProtocol v0 subscription to one topic. */
static size_t sub_one(uint8_t *b, const char *topic)
{
    size_t l = strlen(topic), p = 0;
    b[p++] = 0, b[p++] = 0, b[p++] = 0, b[p++] = 0, b[p++] = 0, b[p++] = 1;
    b[p++] = 0, b[p++] = (uint8_t)l;
    memcpy(b + p, topic, l);
    p += l;
    b[p++] = 0xff, b[p++] = 0xff, b[p++] = 0xff, b[p++] = 0xff;
    return p;
}

static void test_all(void)
{
    world_t w;
    start(&w, true);
    int32_t node;
    is(rn_gcoord_find(w.gc, S("g"), &node), RN_KERR_COORDINATOR_NOT_AVAILABLE,
       "no topic yet: COORDINATOR_NOT_AVAILABLE");
    waiter_t jw = {0};
    rn_group_join_req_t jr = {.member_id = S(""),
                              .instance_id = RN_STR_NULL,
                              .client_id = S("c"),
                              .client_host = S("/h"),
                              .session_timeout_ms = 10000,
                              .rebalance_timeout_ms = 10000,
                              .protocol_type = S("consumer"),
                              .reason = RN_STR_NULL};
    rn_gcoord_join(w.gc, S("g"), &jr, &jw);
    is(jw.error, RN_KERR_COORDINATOR_NOT_AVAILABLE, "join before the topic exists");

    is(rn_gcoord_wait_topic(w.gc, on_topic, NULL), 1, "first use creates the topic");
    is(rn_gcoord_wait_topic(w.gc, on_topic, &jw), 1, "a second waiter queues");
    rn_gcoord_cancel_wait(w.gc, &jw);
    event_base_dispatch(base);
    is(topic_error, RN_KERR_NONE, "topic created");
    rn_topic_t *t = rn_topics_find(w.topics, "__consumer_offsets", 18);
    ok(t != NULL && t->ready && t->internal && t->n_partitions == 5, "5 partitions, internal");
    ok(t != NULL && t->conf.v[RN_TC_CLEANUP_POLICY] != NULL &&
           strcmp(t->conf.v[RN_TC_CLEANUP_POLICY], "compact") == 0,
       "cleanup.policy=compact");
    is(rn_gcoord_wait_topic(w.gc, on_topic, NULL), 0, "ready now");
    is(rn_gcoord_find(w.gc, S("g"), &node), RN_KERR_NONE, "coordinator found");
    is(node, 1, "this node");

    /* Simple consumer commits (generation -1, no member id). */
    rn_gcoord_commit_t c[] = {C("orders", 0, 10, "m0"), C("orders", 1, 20, NULL),
                              C("orders", 2, 30, "x")};
    char big[RN_GCOORD_MAX_METADATA + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    c[2].metadata = (rn_str_t){big, (int32_t)strlen(big)};
    int appends = w.logs.appends;
    rn_gcoord_commit(w.gc, S("simple"), S(""), S(NULL), -1, -1, c, 3, NULL, NULL);
    is(c[0].error, RN_KERR_NONE, "commit ok");
    is(c[2].error, RN_KERR_OFFSET_METADATA_TOO_LARGE, "metadata over 4096 bytes refused");
    is(w.logs.appends, appends + 1, "one batch appended for the commit");
    is(committed(w.gc, "simple", "orders", 0), 10, "offset 0 committed");
    is(committed(w.gc, "simple", "orders", 1), 20, "offset 1 committed");
    is(committed(w.gc, "simple", "orders", 2), -1, "refused one not stored");
    rn_gcoord_commit_t bad = C("orders", 0, 99, NULL);
    rn_gcoord_commit(w.gc, S("nogroup"), S("m"), S(NULL), 3, -1, &bad, 1, NULL, NULL);
    is(bad.error, RN_KERR_ILLEGAL_GENERATION, "member commit to an unknown group");
    bad = C("orders", 0, 99, NULL);
    bad.error = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    rn_gcoord_commit(w.gc, S("simple"), S(""), S(NULL), -1, -1, &bad, 1, NULL, NULL);
    is(bad.error, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "pre-set errors are kept");
    is(committed(w.gc, "simple", "orders", 0), 10, "and nothing stored");

    /* A consumer group with one member. */
    uint8_t s[32];
    rn_group_protocol_t proto = {S("range"), s, (int32_t)sub_one(s, "orders")};
    jr.protocols = &proto;
    jr.n_protocols = 1;
    memset(&jw, 0, sizeof(jw));
    rn_gcoord_join(w.gc, S(""), &jr, &jw);
    is(jw.error, RN_KERR_INVALID_GROUP_ID, "empty group id: INVALID_GROUP_ID");
    jr.member_id = S("ghost");
    rn_gcoord_join(w.gc, S("cg"), &jr, &jw);
    is(jw.error, RN_KERR_UNKNOWN_MEMBER_ID, "known-member join to an unknown group");
    jr.member_id = S("");
    memset(&jw, 0, sizeof(jw));
    rn_gcoord_join(w.gc, S("cg"), &jr, &jw);
    is(jw.answers, 0, "join waits for its (0 ms) initial delay timer");
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_loop(base, EVLOOP_NONBLOCK);
    is(jw.answers, 1, "the group's libevent timer ended the join phase");
    is(jw.generation, 1, "generation 1");
    char member[128];
    strcpy(member, jw.member_id);
    waiter_t sw = {0};
    rn_group_assignment_t asg = {S(member), (const uint8_t *)"ASG", 3};
    rn_group_sync_req_t sr = {S(member), RN_STR_NULL, 1, RN_STR_NULL, RN_STR_NULL, &asg, 1};
    rn_gcoord_sync(w.gc, S("cg"), &sr, &sw);
    is(sw.error, RN_KERR_NONE, "sync ok (group record appended)");
    is_str(sw.assignment, "ASG", "assignment");
    is(rn_gcoord_heartbeat(w.gc, S("cg"), S(member), S(NULL), 1), RN_KERR_NONE, "heartbeat");
    is(rn_gcoord_heartbeat(w.gc, S("nope"), S(member), S(NULL), 1), RN_KERR_UNKNOWN_MEMBER_ID,
       "heartbeat to an unknown group");
    rn_gcoord_commit_t mc[] = {C("orders", 0, 100, "m"), C("audit", 0, 7, "")};
    rn_gcoord_commit(w.gc, S("cg"), S(member), S(NULL), 1, -1, mc, 2, NULL, NULL);
    is(mc[0].error, RN_KERR_NONE, "member commit");
    rn_gcoord_commit_t sc = C("orders", 0, 1, NULL);
    rn_gcoord_commit(w.gc, S("cg"), S(""), S(NULL), -1, -1, &sc, 1, NULL, NULL);
    is(sc.error, RN_KERR_UNKNOWN_MEMBER_ID, "simple commit to a live group refused");
    is(rn_gcoord_delete_group(w.gc, S("cg")), RN_KERR_NON_EMPTY_GROUP, "cannot delete live group");
    rn_gcoord_tp_t del[] = {{S("orders"), 0, 0}, {S("audit"), 0, 0}};
    is(rn_gcoord_delete_offsets(w.gc, S("cg"), del, 2), RN_KERR_NONE, "OffsetDelete");
    is(del[0].error, RN_KERR_GROUP_SUBSCRIBED_TO_TOPIC, "subscribed topic kept");
    is(del[1].error, RN_KERR_NONE, "other topic deleted");
    is(committed(w.gc, "cg", "audit", 0), -1, "audit offset gone");
    is(rn_gcoord_delete_offsets(w.gc, S("zz"), del, 1), RN_KERR_GROUP_ID_NOT_FOUND,
       "OffsetDelete of an unknown group");
    const rn_group_t **list;
    size_t n;
    rn_gcoord_list(w.gc, &list, &n);
    is(n, 2, "two groups listed (simple and cg)");
    /* The scrape-time iteration the metrics collector uses sees the same table. */
    is(rn_gcoord_size(w.gc), 2, "rn_gcoord_size: two entries");
    size_t n_offsets = 0, n_stable = 0;
    for (size_t i = 0; i < rn_gcoord_size(w.gc); i++) {
        const rn_committed_t *offs = NULL;
        const rn_group_t *grp = rn_gcoord_at(w.gc, i, &offs);
        n_offsets += offs != NULL ? rn_committed_count(offs) : 0;
        n_stable += rn_group_state(grp) == RN_GROUP_STABLE;
    }
    is(n_offsets, 3, "rn_gcoord_at: simple's two offsets and cg's one");
    is(n_stable, 1, "rn_gcoord_at: cg is the one Stable group");

    /* A static-free restart: everything comes back from the log. */
    clock_now += 1000;
    stop(&w);
    start(&w, false);
    is(rn_gcoord_load(w.gc), 2, "two groups loaded");
    is(committed(w.gc, "simple", "orders", 1), 20, "simple group's offsets back");
    is(committed(w.gc, "cg", "orders", 0), 100, "member commit back");
    is(committed(w.gc, "cg", "audit", 0), -1, "deleted offset stays deleted (tombstone)");
    const rn_group_t *g;
    is(rn_gcoord_describe(w.gc, S("cg"), &g), RN_KERR_NONE, "describe");
    ok(g != NULL && rn_group_state(g) == RN_GROUP_STABLE && rn_group_generation(g) == 1 &&
           rn_group_member_count(g) == 1,
       "cg restored Stable, generation 1, one member");
    memset(&sw, 0, sizeof(sw));
    rn_gcoord_sync(w.gc, S("cg"), &sr, &sw);
    is_str(sw.assignment, "ASG", "assignment survived the restart");
    is(rn_gcoord_describe(w.gc, S("unknown"), &g), RN_KERR_NONE, "describe unknown group");
    ok(g == NULL, "unknown: no group (Dead)");

    /* Leave, delete, restart: gone. */
    rn_gcoord_leaver_t lv = {S(member), RN_STR_NULL, -1};
    is(rn_gcoord_leave(w.gc, S("cg"), &lv, 1), RN_KERR_NONE, "leave");
    is(lv.error, RN_KERR_NONE, "member left");
    is(rn_gcoord_describe(w.gc, S("cg"), &g), RN_KERR_NONE, "describe");
    is(rn_group_state(g), RN_GROUP_EMPTY, "Empty after the last member left");
    is(rn_gcoord_delete_group(w.gc, S("cg")), RN_KERR_NONE, "delete the empty group");
    is(rn_gcoord_delete_group(w.gc, S("cg")), RN_KERR_GROUP_ID_NOT_FOUND, "deleted: not found");
    is(committed(w.gc, "cg", "orders", 0), -2, "its offsets are gone");

    /* Expiry: the simple group's commits are 1 s old; retention is 60 minutes. */
    is(rn_gcoord_expire(w.gc), 0, "nothing expired yet");
    clock_now += 3600 * 1000;
    is(rn_gcoord_expire(w.gc), 2, "both simple offsets expire after 60 minutes");
    is(rn_gcoord_group_count(w.gc), 0, "the group without offsets is removed");

    /* An explicit retention (OffsetCommit v2-4) makes a version-1 value. */
    rn_gcoord_commit_t rc1 = C("orders", 3, 5, "");
    rn_gcoord_commit(w.gc, S("ret"), S(""), S(NULL), -1, 1000, &rc1, 1, NULL, NULL);
    is(rc1.error, RN_KERR_NONE, "commit with retention");
    const rn_committed_t *o;
    rn_gcoord_offsets(w.gc, S("ret"), &o);
    ok(o != NULL && rn_committed_get(o, "orders", 6, 3)->expire_ts == clock_now + 1000,
       "expire timestamp = now + retention");
    /* OffsetCommit v1 gives each commit's time; metadata may hold NUL bytes. */
    rn_gcoord_commit_t v1 = C("orders", 4, 6, NULL);
    v1.metadata = (rn_str_t){"a\0b", 3};
    v1.commit_timestamp = clock_now - 500;
    rn_gcoord_commit(w.gc, S("ret"), S(""), S(NULL), -1, -1, &v1, 1, NULL, NULL);
    const rn_offset_entry_t *e = rn_committed_get(o, "orders", 6, 4);
    ok(v1.error == RN_KERR_NONE && e != NULL && e->commit_ts == clock_now - 500 &&
           e->expire_ts == -1,
       "a v1 commit keeps its own commit timestamp, without expiry");
    ok(e != NULL && e->metadata_len == 3 && memcmp(e->metadata, "a\0b", 3) == 0,
       "metadata with a NUL kept whole");

    stop(&w);
    start(&w, false);
    is(rn_gcoord_load(w.gc), 1, "after restart only 'ret' is left");
    rn_gcoord_offsets(w.gc, S("ret"), &o);
    e = o != NULL ? rn_committed_get(o, "orders", 6, 4) : NULL;
    ok(e != NULL && e->metadata_len == 3 && memcmp(e->metadata, "a\0b", 3) == 0 &&
           e->commit_ts == clock_now - 500,
       "and so after replaying __consumer_offsets");
    is(committed(w.gc, "cg", "orders", 0), -2, "deleted group stays deleted");
    is(committed(w.gc, "simple", "orders", 1), -2, "expired offsets stay expired");
    clock_now += 1000;
    is(rn_gcoord_expire(w.gc), 1, "explicit expiry reached");
    stop(&w);
    rn_config_free(&w.cfg);
}

/* Run the loop until no partition loads (the offload thread's reads come back). */
static void finish_loads(world_t *w)
{
    for (int i = 0; i < 1000 && rn_gcoord_loading(w->gc) > 0; i++)
        event_base_loop(base, EVLOOP_ONCE);
}

static rn_partition_t *offsets_part(world_t *w, const char *group)
{
    rn_topic_t *t = rn_topics_find(w->topics, "__consumer_offsets", 18);
    return rn_topic_partition(t, rn_groupstore_partition_for(group, strlen(group), 5));
}

static void test_moves(void)
{
    world_t w;
    start(&w, true);
    rn_gcoord_wait_topic(w.gc, on_topic, NULL);
    event_base_dispatch(base);
    is(topic_error, RN_KERR_NONE, "topic created");
    is(rn_gcoord_loading(w.gc), 0, "a new topic's partitions are loaded at once");

    /* A commit is answered once replicated, and only then enters the cache. */
    hold = true;
    rn_gcoord_commit_t c = C("orders", 0, 10, "a");
    is(rn_gcoord_commit(w.gc, S("g1"), S(""), S(NULL), -1, -1, &c, 1, on_commit_done, &c), 1,
       "the commit waits for replication");
    is(commits_done, 0, "not answered yet");
    is(committed(w.gc, "g1", "orders", 0), -1, "an unreplicated commit is not visible");
    is(release(RN_KERR_NONE), 1, "one wait");
    is(commits_done, 1, "answered once replicated");
    is(c.error, RN_KERR_NONE, "with success");
    is(committed(w.gc, "g1", "orders", 0), 10, "and now in the cache");

    /* Kafka's storeOffsets mapping of a failed write. */
    static const int16_t failed[][2] = {
        {RN_KERR_REQUEST_TIMED_OUT, RN_KERR_REQUEST_TIMED_OUT},
        {RN_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RN_KERR_COORDINATOR_NOT_AVAILABLE},
        {RN_KERR_NOT_LEADER_OR_FOLLOWER, RN_KERR_NOT_COORDINATOR},
    };
    for (size_t i = 0; i < sizeof(failed) / sizeof(failed[0]); i++) {
        c = C("orders", 0, 20 + (int64_t)i, "b");
        rn_gcoord_commit(w.gc, S("g1"), S(""), S(NULL), -1, -1, &c, 1, on_commit_done, &c);
        release(failed[i][0]);
        is(c.error, failed[i][1], "replication error %d answers %d", failed[i][0], failed[i][1]);
        is(committed(w.gc, "g1", "orders", 0), 10, "and the offset stays");
    }
    /* A commit whose request went away still enters the cache once replicated. */
    commits_done = 0;
    c = C("orders", 0, 30, NULL);
    rn_gcoord_commit(w.gc, S("g1"), S(""), S(NULL), -1, -1, &c, 1, on_commit_done, &c);
    rn_gcoord_commit_cancel(w.gc, &c);
    release(RN_KERR_NONE);
    is(commits_done, 0, "a cancelled commit is not answered");
    is(committed(w.gc, "g1", "orders", 0), 30, "but recorded");

    /* SyncGroup is answered once the group's record is replicated. */
    uint8_t s[32];
    rn_group_protocol_t proto = {S("range"), s, (int32_t)sub_one(s, "orders")};
    rn_group_join_req_t jr = {.member_id = S(""),
                              .instance_id = RN_STR_NULL,
                              .client_id = S("c"),
                              .client_host = S("/h"),
                              .reason = RN_STR_NULL,
                              .session_timeout_ms = 10000,
                              .rebalance_timeout_ms = 10000,
                              .protocol_type = S("consumer"),
                              .protocols = &proto,
                              .n_protocols = 1};
    waiter_t jw = {0}, sw = {0};
    rn_gcoord_join(w.gc, S("cg"), &jr, &jw);
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_loop(base, EVLOOP_NONBLOCK);
    is(jw.generation, 1, "cg joined, generation 1");
    char member[128];
    strcpy(member, jw.member_id);
    rn_group_assignment_t asg = {S(member), (const uint8_t *)"ASG", 3};
    rn_group_sync_req_t sr = {S(member), RN_STR_NULL, 1, RN_STR_NULL, RN_STR_NULL, &asg, 1};
    rn_gcoord_sync(w.gc, S("cg"), &sr, &sw);
    is(sw.answers, 0, "sync waits for the group record's replication");
    release(RN_KERR_NONE);
    is(sw.answers, 1, "answered once replicated");
    is(sw.error, RN_KERR_NONE, "with the assignment");
    const rn_group_t *g;
    rn_gcoord_describe(w.gc, S("cg"), &g);
    is(rn_group_state(g), RN_GROUP_STABLE, "cg Stable");

    /* Leadership of g1's partition lost with a commit and a join waiting. */
    rn_partition_t *p1 = offsets_part(&w, "g1");
    const char *other = NULL; /* a group of the same partition with a join waiting */
    static const char *names[] = {"x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "xa"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && other == NULL; i++)
        if (offsets_part(&w, names[i]) == p1)
            other = names[i];
    ok(other != NULL, "another group id on g1's partition: %s", other ? other : "none");
    waiter_t jw2 = {0};
    rn_gcoord_join(w.gc, S(other), &jr, &jw2);
    is(jw2.answers, 0, "%s's join waits for its initial delay", other);
    commits_done = 0;
    c = C("orders", 1, 50, NULL);
    rn_gcoord_commit(w.gc, S("g1"), S(""), S(NULL), -1, -1, &c, 1, on_commit_done, &c);
    p1->leader_id = 2;
    leads_flag[p1->index] = false;
    rn_gcoord_set_leader(w.gc, p1, false);
    is(commits_done, 1, "the waiting commit is answered when the leadership goes");
    is(c.error, RN_KERR_NOT_COORDINATOR, "NOT_COORDINATOR");
    is(jw2.answers, 1, "the waiting join is answered");
    is(jw2.error, RN_KERR_NOT_COORDINATOR, "NOT_COORDINATOR");
    is(release(RN_KERR_NONE), 0, "its replication wait was withdrawn");
    is(committed(w.gc, "g1", "orders", 0), -2, "g1: the coordinator answers an error now");
    const rn_committed_t *o;
    is(rn_gcoord_offsets(w.gc, S("g1"), &o), RN_KERR_NOT_COORDINATOR, "NOT_COORDINATOR");
    if (offsets_part(&w, "cg") != p1) {
        is(rn_gcoord_describe(w.gc, S("cg"), &g), RN_KERR_NONE, "other partitions' groups stay");
        is(rn_group_state(g), RN_GROUP_STABLE, "cg still Stable");
    }

    /* Back again: loaded from the log on the offload thread. */
    p1->leader_id = 1;
    leads_flag[p1->index] = true;
    hold = false;
    rn_gcoord_set_leader(w.gc, p1, true);
    is(rn_gcoord_loading(w.gc), 1, "leading again: the partition loads");
    is(rn_gcoord_offsets(w.gc, S("g1"), &o), RN_KERR_COORDINATOR_LOAD_IN_PROGRESS,
       "OffsetFetch meanwhile: COORDINATOR_LOAD_IN_PROGRESS");
    memset(&jw2, 0, sizeof(jw2));
    rn_gcoord_join(w.gc, S("g1"), &jr, &jw2);
    is(jw2.error, RN_KERR_COORDINATOR_LOAD_IN_PROGRESS, "JoinGroup too");
    const rn_group_t **list;
    size_t n;
    is(rn_gcoord_list(w.gc, &list, &n), RN_KERR_COORDINATOR_LOAD_IN_PROGRESS,
       "ListGroups says a partition loads");
    rn_gcoord_set_leader(w.gc, p1, true);
    is(rn_gcoord_loading(w.gc), 1, "a second call changes nothing");
    finish_loads(&w);
    is(rn_gcoord_loading(w.gc), 0, "loaded");
    is(committed(w.gc, "g1", "orders", 0), 30, "g1's acknowledged offset is back from the log");

    /* A load overtaken by the leadership going and coming back. */
    rn_gcoord_set_leader(w.gc, p1, false);
    rn_gcoord_set_leader(w.gc, p1, true);
    rn_gcoord_set_leader(w.gc, p1, false);
    is(rn_gcoord_loading(w.gc), 0, "nothing loads after the leadership went");
    rn_gcoord_set_leader(w.gc, p1, true);
    is(rn_gcoord_loading(w.gc), 1, "one load for the current leadership");
    finish_loads(&w);
    is(committed(w.gc, "g1", "orders", 0), 30, "the current one completes with the offsets");
    rn_gcoord_offsets(w.gc, S("g1"), &o);
    is(o != NULL ? rn_committed_count(o) : 0, 2,
       "once: orders-0, and orders-1 whose unanswered commit stayed in the leader's log");

    /* Freed with a load's read queued and a write waiting: nothing leaks, nobody answered. */
    hold = true;
    c = C("orders", 0, 60, NULL);
    rn_gcoord_commit(w.gc, S("g1"), S(""), S(NULL), -1, -1, &c, 1, on_commit_done, &c);
    rn_gcoord_set_leader(w.gc, p1, false);
    rn_gcoord_set_leader(w.gc, p1, true);
    commits_done = 0;
    stop(&w);
    is(commits_done, 0, "nothing answered at shutdown");
    hold = false;
    n_fwaits = 0;
    rn_config_free(&w.cfg);
}

/* Kafka strings may hold any byte: "g\0x" and "g" are two groups, in memory, in
 * __consumer_offsets and after replaying it, and the coordinator is found from every byte. */
static void test_nul_bytes(void)
{
    world_t w;
    start(&w, true);
    is(rn_gcoord_wait_topic(w.gc, on_topic, NULL), 1, "topic creation starts");
    event_base_dispatch(base);
    const rn_str_t gx = {"g\0x", 3}, g = {"g", 1};
    is(rn_groupstore_java_hash(gx.ptr, 3), ('g' * 31 + 0) * 31 + 'x',
       "the coordinator comes from Java's hashCode over every char, the NUL included");
    rn_gcoord_commit_t c1 = C("orders", 0, 5, NULL), c2 = C("orders", 0, 7, NULL);
    rn_gcoord_commit(w.gc, gx, S(""), RN_STR_NULL, -1, -1, &c1, 1, NULL, NULL);
    rn_gcoord_commit(w.gc, g, S(""), RN_STR_NULL, -1, -1, &c2, 1, NULL, NULL);
    is(c1.error, RN_KERR_NONE, "commit to g\\0x");
    is(c2.error, RN_KERR_NONE, "commit to g");
    const rn_committed_t *o = NULL;
    rn_gcoord_offsets(w.gc, gx, &o);
    const rn_offset_entry_t *e = o != NULL ? rn_committed_get(o, "orders", 6, 0) : NULL;
    is(e != NULL ? e->offset : -1, 5, "g\\0x keeps its own offset");
    is(rn_gcoord_group_count(w.gc), 2, "two groups");

    /* Members: a client id with a NUL makes a member id with every byte of it. */
    waiter_t jw = {0};
    uint8_t sub[32];
    rn_group_protocol_t proto = {S("range"), sub, (int32_t)sub_one(sub, "orders")};
    rn_group_join_req_t jr = {.member_id = S(""),
                              .instance_id = RN_STR_NULL,
                              .client_id = {"c\0d", 3},
                              .client_host = S("/h"),
                              .session_timeout_ms = 10000,
                              .rebalance_timeout_ms = 10000,
                              .protocol_type = S("consumer"),
                              .protocols = &proto,
                              .n_protocols = 1,
                              .reason = RN_STR_NULL};
    rn_gcoord_join(w.gc, (rn_str_t){"m\0g", 3}, &jr, &jw);
    event_base_loop(base, EVLOOP_NONBLOCK);
    event_base_loop(base, EVLOOP_NONBLOCK);
    is(jw.error, RN_KERR_NONE, "joined m\\0g");
    const rn_group_t *mg = NULL, *m = NULL;
    rn_gcoord_describe(w.gc, (rn_str_t){"m\0g", 3}, &mg);
    rn_gcoord_describe(w.gc, S("m"), &m);
    ok(mg != NULL && rn_group_member_count(mg) == 1, "m\\0g has its member");
    ok(m == NULL, "m is not m\\0g");
    const rn_group_member_t *mem = mg != NULL ? rn_group_member_at(mg, 0) : NULL;
    ok(mem != NULL && mem->member_id.len == 3 + 1 + 36 &&
           memcmp(mem->member_id.ptr, "c\0d-", 4) == 0,
       "member id: the whole client id, '-', a UUID");
    is(rn_gcoord_heartbeat(w.gc, (rn_str_t){"m\0g", 3}, S("c"), RN_STR_NULL, 1),
       RN_KERR_UNKNOWN_MEMBER_ID, "the member id cut at its NUL is no member");
    waiter_t sw = {0};
    rn_group_assignment_t asg = {mem != NULL ? mem->member_id : S(""), (const uint8_t *)"A", 1};
    rn_group_sync_req_t sr = {asg.member_id, RN_STR_NULL, 1, RN_STR_NULL, RN_STR_NULL, &asg, 1};
    rn_gcoord_sync(w.gc, (rn_str_t){"m\0g", 3}, &sr, &sw);
    is(sw.error, RN_KERR_NONE, "synced: the group record is written");

    stop(&w);
    start(&w, false);
    is(rn_gcoord_load(w.gc), 3, "three groups replayed");
    o = NULL;
    rn_gcoord_offsets(w.gc, gx, &o);
    e = o != NULL ? rn_committed_get(o, "orders", 6, 0) : NULL;
    is(e != NULL ? e->offset : -1, 5, "g\\0x's offset after the replay");
    o = NULL;
    rn_gcoord_offsets(w.gc, g, &o);
    e = o != NULL ? rn_committed_get(o, "orders", 6, 0) : NULL;
    is(e != NULL ? e->offset : -1, 7, "g's offset after the replay");
    mg = NULL;
    rn_gcoord_describe(w.gc, (rn_str_t){"m\0g", 3}, &mg);
    mem = mg != NULL ? rn_group_member_at(mg, 0) : NULL;
    ok(mem != NULL && mem->client_id.len == 3 && memcmp(mem->client_id.ptr, "c\0d", 3) == 0,
       "the member's client id comes back whole from the group record");
    stop(&w);
    rn_config_free(&w.cfg);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    base = event_base_new();
    test_all();
    char err[256];
    rn_fsutil_remove_tree(dir, err, sizeof(err));
    if (mkdir(dir, 0700) != 0)
        return 1;
    test_moves();
    rn_fsutil_remove_tree(dir, err, sizeof(err));
    if (mkdir(dir, 0700) != 0)
        return 1;
    test_nul_bytes();
    event_base_free(base);
    rn_fsutil_remove_tree(dir, err, sizeof(err));
    return done_testing();
}
