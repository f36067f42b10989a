/* Unit tests for rn_fetchsess: creation and ids, lookups by id and epoch, epochs wrapping,
 * adding, updating and forgetting partitions with interned topic keys, the per-session
 * bound, what an incremental response must carry and the round-robin order, and Kafka's
 * eviction rules (full cache, stale sessions, size, privileged newcomers, minimum age). */
#include "data/rn_fetchsess.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

static const rn_fetchsess_params_t P0 = {.fetch_offset = 0,
                                         .partition_max_bytes = 1048576,
                                         .current_leader_epoch = -1,
                                         .last_fetched_epoch = -1,
                                         .log_start_offset = -1};

static rn_fetchsess_t *session_of(rn_fetchsess_cache_t *c, int64_t now, bool priv, int nparts)
{
    rn_fetchsess_t *s = rn_fetchsess_create(c, now, priv, (size_t)nparts, false);
    for (int i = 0; s && i < nparts; i++)
        rn_fetchsess_add(c, s, "t", 1, i, &P0, 10000, NULL);
    return s;
}

/* The partitions of sess in order, as "topic:partition,..." */
static const char *order(const rn_fetchsess_t *s)
{
    static char buf[256];
    size_t n = 0;
    buf[0] = 0;
    for (const rn_fetchsess_part_t *p = s->head; p && n < sizeof(buf) - 32; p = p->next)
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%.*s:%d", n ? "," : "",
                              (int)p->topic->len, (const char *)p->topic->key, (int)p->partition);
    return buf;
}

static void test_create_lookup(void)
{
    rn_fetchsess_cache_t *c = rn_fetchsess_cache_new(10, RN_FETCHSESS_EVICT_MS);
    rn_fetchsess_t *s = rn_fetchsess_create(c, 1000, false, 2, false);
    ok(s != NULL, "a session is created");
    ok(s->id > 0, "its id is positive (%d)", s->id);
    is(s->epoch, 1, "its first incremental epoch is 1");
    ok(rn_fetchsess_get(c, s->id) == s, "found by id");
    rn_fetchsess_t *got;
    is(rn_fetchsess_lookup(c, s->id, 1, false, &got), RN_KERR_NONE, "right epoch");
    ok(got == s, "lookup gives the session");
    is(rn_fetchsess_lookup(c, s->id, 2, false, &got), RN_KERR_INVALID_FETCH_SESSION_EPOCH,
       "wrong epoch");
    ok(got == NULL, "no session on error");
    is(rn_fetchsess_lookup(c, s->id + 1, 1, false, &got), RN_KERR_FETCH_SESSION_ID_NOT_FOUND,
       "unknown id");
    is(rn_fetchsess_lookup(c, s->id, 1, true, &got), RN_KERR_FETCH_SESSION_TOPIC_ID_ERROR,
       "a name session asked with topic ids");
    rn_fetchsess_touch(c, s, 2000);
    is(s->epoch, 2, "touch moves the epoch on");
    is(s->last_used_ms, 2000, "and the last use");
    is(rn_fetchsess_stats(c).incremental, 1, "an incremental fetch counted");
    rn_fetchsess_t *s2 = rn_fetchsess_create(c, 1000, false, 0, true);
    ok(s2 && s2->id != s->id, "a second session, another id");
    is(rn_fetchsess_stats(c).sessions, 2, "two sessions");
    int32_t id = s->id;
    ok(rn_fetchsess_remove(c, id), "remove");
    ok(!rn_fetchsess_remove(c, id), "removed once");
    ok(rn_fetchsess_get(c, id) == NULL, "gone");
    is(rn_fetchsess_stats(c).sessions, 1, "one session left");
    rn_fetchsess_cache_free(c);

    c = rn_fetchsess_cache_new(0, RN_FETCHSESS_EVICT_MS);
    ok(rn_fetchsess_create(c, 0, true, 5, false) == NULL, "no slots, no session");
    rn_fetchsess_cache_free(c);
}

static void test_epochs(void)
{
    is(rn_fetchsess_next_epoch(0), 1, "0 -> 1");
    is(rn_fetchsess_next_epoch(41), 42, "41 -> 42");
    is(rn_fetchsess_next_epoch(INT32_MAX), 1, "wraps to 1, never 0");
    is(rn_fetchsess_next_epoch(-1), -1, "final stays final");
}

static void test_partitions(void)
{
    rn_fetchsess_cache_t *c = rn_fetchsess_cache_new(10, RN_FETCHSESS_EVICT_MS);
    rn_fetchsess_t *s = rn_fetchsess_create(c, 0, false, 4, false);
    rn_fetchsess_part_t *p = NULL;
    is(rn_fetchsess_add(c, s, "a", 1, 0, &P0, 3, &p), 0, "add a:0");
    is(p->high_watermark, -1, "a new partition has sent nothing yet");
    is(rn_fetchsess_add(c, s, "b", 1, 0, &P0, 3, NULL), 0, "add b:0");
    is(rn_fetchsess_add(c, s, "a", 1, 1, &P0, 3, NULL), 0, "add a:1");
    is_str(order(s), "a:0,b:0,a:1", "in order of addition");
    is((int)rn_map_count(&s->topics), 2, "two topic keys interned");
    ok(s->head->topic == s->tail->topic, "a:0 and a:1 share their key");
    is(rn_fetchsess_add(c, s, "c", 1, 0, &P0, 3, NULL), RN_EFULL, "bounded at max_parts");
    is((int)s->nparts, 3, "nothing added");
    rn_fetchsess_params_t moved = P0;
    moved.fetch_offset = 77;
    is(rn_fetchsess_add(c, s, "a", 1, 0, &moved, 3, &p), 0, "update a:0 at the bound");
    is(p->params.fetch_offset, 77, "its fetch offset updated");
    is_str(order(s), "a:0,b:0,a:1", "an update keeps the order");
    ok(rn_fetchsess_find(s, "a", 1, 1) != NULL, "find a:1");
    ok(rn_fetchsess_find(s, "a", 1, 2) == NULL, "no a:2");
    ok(rn_fetchsess_find(s, "ab", 2, 0) == NULL, "keys compare by length too");
    ok(rn_fetchsess_forget(c, s, "b", 1, 0), "forget b:0");
    ok(!rn_fetchsess_forget(c, s, "b", 1, 0), "forgotten once");
    is((int)rn_map_count(&s->topics), 1, "b's key released");
    is_str(order(s), "a:0,a:1", "order after forgetting");
    ok(rn_fetchsess_forget(c, s, "a", 1, 0), "forget a:0 (the head)");
    ok(rn_fetchsess_forget(c, s, "a", 1, 1), "forget a:1 (the tail)");
    is((int)s->nparts, 0, "empty");
    ok(s->head == NULL && s->tail == NULL, "empty list");
    is((int)rn_map_count(&s->topics), 0, "no keys left");
    /* A key with NUL bytes (a topic id). */
    uint8_t id[16] = {0, 1, 0, 2};
    is(rn_fetchsess_add(c, s, id, sizeof(id), 5, &P0, 3, NULL), 0, "add by a 16-byte id");
    ok(rn_fetchsess_find(s, id, sizeof(id), 5) != NULL, "found by id");
    id[3] = 3;
    ok(rn_fetchsess_find(s, id, sizeof(id), 5) == NULL, "another id differs");
    is(rn_fetchsess_stats(c).partitions, 1, "the cache counts partitions");
    rn_fetchsess_cache_free(c);
}

static void test_respond(void)
{
    rn_fetchsess_cache_t *c = rn_fetchsess_cache_new(10, RN_FETCHSESS_EVICT_MS);
    rn_fetchsess_t *s = session_of(c, 0, false, 3);
    rn_fetchsess_part_t *p0 = rn_fetchsess_find(s, "t", 1, 0);
    rn_fetchsess_part_t *p1 = rn_fetchsess_find(s, "t", 1, 1);
    rn_fetchsess_read_t r = {.high_watermark = 10, .log_start_offset = 0};
    rn_fetchsess_sent(p0, &r);
    rn_fetchsess_sent(p1, &r);
    ok(!rn_fetchsess_respond(s, p0, &r), "nothing changed: left out");
    r.high_watermark = 11;
    ok(rn_fetchsess_respond(s, p0, &r), "high watermark moved: sent");
    ok(!rn_fetchsess_respond(s, p0, &r), "and only once");
    r.log_start_offset = 5;
    ok(rn_fetchsess_respond(s, p0, &r), "log start moved: sent");
    ok(!rn_fetchsess_respond(s, p0, &r), "once");
    is_str(order(s), "t:0,t:1,t:2", "no records, no move");
    r.has_records = true;
    ok(rn_fetchsess_respond(s, p0, &r), "records: sent");
    is_str(order(s), "t:1,t:2,t:0", "a partition with records moves to the end");
    r.has_records = false;
    r.error_code = RN_KERR_NOT_LEADER_OR_FOLLOWER;
    r.high_watermark = -1;
    ok(rn_fetchsess_respond(s, p1, &r), "an error: sent");
    ok(rn_fetchsess_respond(s, p1, &r), "an error is sent every time");
    r.error_code = 0;
    r.high_watermark = 10;
    ok(rn_fetchsess_respond(s, p1, &r), "error gone: sent again");
    ok(!rn_fetchsess_respond(s, p1, &r), "then quiet");
    r.diverging = true;
    ok(rn_fetchsess_respond(s, p1, &r), "diverging epoch: sent");
    r.diverging = false;
    r.preferred_replica = true;
    ok(rn_fetchsess_respond(s, p1, &r), "preferred replica: sent");
    r.preferred_replica = false;
    rn_fetchsess_part_t *p2 = rn_fetchsess_find(s, "t", 1, 2);
    ok(rn_fetchsess_respond(s, p2, &r), "never sent: sent (its high watermark was -1)");
    rn_fetchsess_cache_free(c);
}

static void test_evict(void)
{
    const int64_t E = RN_FETCHSESS_EVICT_MS;
    rn_fetchsess_cache_t *c = rn_fetchsess_cache_new(2, E);
    rn_fetchsess_t *a = session_of(c, 0, false, 5);
    rn_fetchsess_t *b = session_of(c, 10, false, 3);
    int32_t aid = a->id, bid = b->id;
    ok(rn_fetchsess_create(c, 20, false, 100, false) == NULL,
       "full, nobody old enough: no session, however big");
    ok(rn_fetchsess_get(c, aid) && rn_fetchsess_get(c, bid), "both kept");
    is(rn_fetchsess_stats(c).evicted, 0, "no eviction");

    /* b is used at E + 50: older than E when used, so evictable by all; a is stale at
     * E + 100 (unused since 0). */
    rn_fetchsess_touch(c, b, E + 50);
    rn_fetchsess_t *n = session_of(c, E + 100, false, 1);
    ok(n != NULL, "a stale session makes room");
    ok(rn_fetchsess_get(c, aid) == NULL, "the least recently used (stale) one went");
    ok(rn_fetchsess_get(c, bid) != NULL, "b stays");
    int32_t nid = n->id;

    /* Now b (3 partitions, evictable by all) and n (1, young). Nobody is stale at E + 200. */
    ok(rn_fetchsess_create(c, E + 200, false, 3, false) == NULL,
       "as many partitions as the least valuable evictable: not enough");
    rn_fetchsess_t *m = session_of(c, E + 200, false, 4);
    ok(m != NULL, "more partitions than b: b is evicted");
    ok(rn_fetchsess_get(c, bid) == NULL, "b went");
    ok(rn_fetchsess_get(c, nid) != NULL, "the young one stays");
    is(rn_fetchsess_stats(c).evicted, 2, "two evictions");

    /* A privileged newcomer evicts a non-privileged session at any age: the smallest. */
    rn_fetchsess_t *f = session_of(c, E + 300, true, 1);
    ok(f != NULL, "a follower's session");
    ok(rn_fetchsess_get(c, nid) == NULL, "evicted the smaller consumer session");
    ok(rn_fetchsess_get(c, m->id) != NULL, "kept the bigger one");
    ok(session_of(c, E + 400, true, 1) != NULL, "a second follower evicts the other consumer");
    ok(rn_fetchsess_create(c, E + 500, true, 1000, false) == NULL,
       "but not a young follower's session");
    ok(rn_fetchsess_create(c, E + 500, false, 1000, false) == NULL,
       "nor does a consumer, however big");
    is(rn_fetchsess_stats(c).sessions, 2, "the cache stays at its slots");
    rn_fetchsess_cache_free(c);
}

static void test_many(void)
{
    /* Many sessions and partitions: ids unique, counts right, everything freed (ASan). */
    rn_fetchsess_cache_t *c = rn_fetchsess_cache_new(1000, RN_FETCHSESS_EVICT_MS);
    int made = 0;
    for (int i = 0; i < 1000; i++) {
        rn_fetchsess_t *s = rn_fetchsess_create(c, i, false, 50, i % 2);
        for (int p = 0; s && p < 50; p++) {
            char topic[8];
            snprintf(topic, sizeof(topic), "t%d", p % 7);
            rn_fetchsess_add(c, s, topic, strlen(topic), p, &P0, 10000, NULL);
        }
        made += s != NULL;
    }
    is(made, 1000, "1000 sessions");
    is(rn_fetchsess_stats(c).sessions, 1000, "all in the cache");
    is(rn_fetchsess_stats(c).partitions, 50000, "50000 partitions");
    ok(rn_fetchsess_create(c, 2000, false, 10, false) == NULL, "the 1001st finds no slot");
    rn_fetchsess_cache_free(c);
}

int main(void)
{
    test_create_lookup();
    test_epochs();
    test_partitions();
    test_respond();
    test_evict();
    test_many();
    return done_testing();
}
