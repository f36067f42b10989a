/* Unit tests for rn_committed: the committed-offsets table and Kafka's expiry rules. */
#include "tap.h"

#include "rn_alloc.h"
#include "rn_kerr.h"
#include "group/rn_committed.h"

#include <stdlib.h>
#include <string.h>

static rn_groupstore_offset_t OV(int64_t off, int64_t ts, int64_t expire)
{
    return (rn_groupstore_offset_t){off, -1, {"md", 2}, ts, expire};
}

static void test_table(void)
{
    rn_committed_t *o = rn_committed_new();
    char topic[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(topic, sizeof(topic), "t%d", i % 37);
        rn_groupstore_offset_t v = OV(i, 1, -1);
        rn_committed_put(o, topic, strlen(topic), i, &v);
    }
    is(rn_committed_count(o), 1000, "1000 entries");
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(topic, sizeof(topic), "t%d", i % 37);
        const rn_offset_entry_t *e = rn_committed_get(o, topic, strlen(topic), i);
        bad += e == NULL || e->offset != i || strcmp(e->metadata, "md") != 0;
    }
    is(bad, 0, "every entry found");
    ok(rn_committed_get(o, "t1", 2, 0) == NULL, "t1-0 absent (t0 holds partition 0)");
    rn_groupstore_offset_t v = {77, 4, {NULL, -1}, 9, -1};
    rn_committed_put(o, "t0", 2, 0, &v);
    const rn_offset_entry_t *e = rn_committed_get(o, "t0", 2, 0);
    ok(e != NULL && e->offset == 77 && e->leader_epoch == 4 && strcmp(e->metadata, "") == 0,
       "replace; null metadata kept as empty");
    is(rn_committed_count(o), 1000, "replace does not add");
    v = (rn_groupstore_offset_t){78, -1, {"Hello\0world!", 12}, 9, -1};
    rn_committed_put(o, "t0", 2, 0, &v);
    e = rn_committed_get(o, "t0", 2, 0);
    ok(e != NULL && e->metadata_len == 12 && memcmp(e->metadata, "Hello\0world!", 13) == 0,
       "metadata holding a NUL kept whole, NUL-terminated after its length");
    for (int i = 0; i < 1000; i += 2) {
        snprintf(topic, sizeof(topic), "t%d", i % 37);
        ok(rn_committed_remove(o, topic, strlen(topic), i), "remove %d", i);
    }
    is(rn_committed_count(o), 500, "half left");
    bad = 0;
    for (int i = 0; i < 1000; i++) {
        snprintf(topic, sizeof(topic), "t%d", i % 37);
        e = rn_committed_get(o, topic, strlen(topic), i);
        bad += (i % 2 == 0) ? e != NULL : (e == NULL || e->offset != i);
    }
    is(bad, 0, "lookups right after removals");
    ok(!rn_committed_remove(o, "t0", 2, 0), "removing twice fails");
    ok(rn_committed_has_topic(o, "t5", 2), "has topic t5");
    ok(!rn_committed_has_topic(o, "t99", 3), "no topic t99");
    rn_committed_clear(o);
    is(rn_committed_count(o), 0, "cleared");
    ok(rn_committed_get(o, "t1", 2, 1) == NULL, "nothing after clear");
    rn_committed_free(o);
}

static void on_join(void *a, void *w, const rn_group_join_result_t *r)
{
}
static void on_sync(void *a, void *w, const rn_group_sync_result_t *r)
{
}
static void on_store(void *a, rn_group_t *g, const rn_groupstore_group_t *m, uint64_t token)
{
    rn_group_store_done(g, token, RN_KERR_NONE, 0);
}
static const rn_group_ops_t ops = {on_join, on_sync, on_store, NULL};

static size_t expired(const rn_committed_t *o, const rn_group_t *g, int64_t now, int64_t ret)
{
    size_t *idx;
    size_t n = rn_committed_expired(o, g, now, ret, &idx);
    rn_free(idx);
    return n;
}

/* A ConsumerProtocol v0 subscription to one topic. */
static size_t sub_one(uint8_t *b, const char *topic)
{
    size_t l = strlen(topic), p = 0;
    b[p++] = 0, b[p++] = 0, b[p++] = 0, b[p++] = 0, b[p++] = 0, b[p++] = 1;
    b[p++] = 0, b[p++] = (uint8_t)l;
    memcpy(b + p, topic, l);
    p += l;
    b[p++] = 0, b[p++] = 0, b[p++] = 0, b[p++] = 0;
    return p;
}

static void test_expiry(void)
{
    const int64_t day = 86400000, ret = 7 * day;
    rn_committed_t *o = rn_committed_new();
    rn_groupstore_offset_t a = OV(1, 1000, -1), b = OV(2, 5 * day, -1), c = OV(3, 0, 3 * day);
    rn_committed_put(o, "sub", 3, 0, &a);
    rn_committed_put(o, "other", 5, 0, &b);
    rn_committed_put(o, "old", 3, 0, &c);

    /* Simple consumers (no group record, or a group without protocol type). */
    is(expired(o, NULL, 3 * day - 1, ret), 0, "nothing yet");
    is(expired(o, NULL, 3 * day, ret), 1, "v1 expire timestamp reached");
    is(expired(o, NULL, 1000 + ret, ret), 2, "oldest commit past retention");
    is(expired(o, NULL, 5 * day + ret, ret), 3, "all past retention");
    rn_group_config_t cfg;
    rn_group_config_default(&cfg);
    cfg.initial_rebalance_delay_ms = 0;
    rn_group_t *simple = rn_group_new(rn_str("s"), &cfg, &ops, 0);
    is(expired(o, simple, 1000 + ret, ret), 2, "Empty group without protocol type: by commit");

    /* A consumer group that went Empty at t = 10 days: retention counts from then. */
    rn_group_t *g = rn_group_new(rn_str("g"), &cfg, &ops, 0);
    uint8_t s[32];
    rn_group_protocol_t p = {rn_str("range"), s, (int32_t)sub_one(s, "sub")};
    rn_group_join_req_t req = {
        rn_str(""),         RN_STR_NULL, rn_str("c"), rn_str("/h"), 10000, 10000,
        rn_str("consumer"), &p,          1,           false,        false, RN_STR_NULL};
    int w;
    rn_group_join(g, &req, &w, 9 * day);
    rn_group_tick(g, 9 * day);
    is(rn_group_state(g), RN_GROUP_COMPLETING_REBALANCE, "member joined");
    is(expired(o, g, 100 * day, ret), 0, "rebalancing group: nothing expires");
    rn_str_t mid = rn_group_member_at(g, 0)->member_id;
    rn_group_sync_req_t sreq = {mid, RN_STR_NULL, 1, RN_STR_NULL, RN_STR_NULL, NULL, 0};
    rn_group_sync(g, &sreq, &w, 9 * day);
    is(rn_group_state(g), RN_GROUP_STABLE, "stable");
    is(expired(o, g, 5 * day + ret, ret), 2,
       "Stable consumer group: unsubscribed topics expire by commit (other, old)");
    is(expired(o, g, 100 * day, ret), 2, "the subscribed topic never does");
    rn_group_leave(g, mid, RN_STR_NULL, 10 * day);
    is(rn_group_state(g), RN_GROUP_EMPTY, "empty at day 10");
    is(expired(o, g, 10 * day + ret - 1, ret), 1, "only the v1 entry before retention");
    is(expired(o, g, 10 * day + ret, ret), 3, "all from the time it became Empty");
    rn_group_free(g);
    rn_group_free(simple);
    rn_committed_free(o);
}

int main(void)
{
    test_table();
    test_expiry();
    return done_testing();
}
