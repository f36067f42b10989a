/* Tests for rn_pdefer: items compress on the worker and commit on the loop in the order they
 * were added, partitions are busy exactly while items are in flight, the byte bound, a
 * cancelled group's items are dropped, and free delivers what is still queued. */
#include "data/rn_pdefer.h"
#include "rn_alloc.h"
#include "rn_codec.h"
#include "tap.h"

#include <event2/event.h>
#include <string.h>

static struct event_base *base;

/* What commit saw, per item, in order. */
typedef struct seen {
    int id;
    int rc;
    bool compressed;
    bool matches; /* the compressed records decompress to the input after its header */
} seen_t;

static seen_t seen[16];
static int n_seen, n_finished;
static const char *finished_by[4];

static uint8_t *input(const char *header, size_t n, size_t *len)
{
    size_t hl = strlen(header);
    uint8_t *in = rn_xmalloc(hl + n);
    memcpy(in, header, hl);
    for (size_t i = 0; i < n; i++)
        in[hl + i] = (uint8_t)("the quick brown fox "[i % 20]);
    *len = hl + n;
    return in;
}

static void commit(void *group_arg, void *item_arg, const rn_pdefer_result_t *res)
{
    (void)group_arg;
    seen_t *s = &seen[n_seen++];
    s->id = (int)(intptr_t)item_arg;
    s->rc = res->rc;
    s->compressed = res->z != NULL;
    if (res->z != NULL) {
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        int codec = s->id == 3 ? RN_CODEC_LZ4 : RN_CODEC_GZIP;
        s->matches =
            rn_codec_decompress(codec, res->z, res->zlen, 1 << 20, &plain, &plain_len) == 0 &&
            plain_len == res->in_len - 4 && memcmp(plain, res->in + 4, plain_len) == 0;
        rn_free(plain);
    }
}

static void finish(void *group_arg)
{
    finished_by[n_finished++] = group_arg;
    if (strcmp(group_arg, "stop") == 0 || strcmp(group_arg, "first") == 0)
        event_base_loopbreak(base);
}

int main(void)
{
    base = event_base_new();
    rn_pdefer_t *pd = rn_pdefer_new(base, 100000);
    ok(pd != NULL, "the worker starts");
    rn_uuid_t t1 = {{1}}, t2 = {{2}};

    ok(!rn_pdefer_busy(pd, &t1, 0), "nothing busy at first");
    ok(rn_pdefer_has_room(pd, 1 << 20), "an input over the bound may go alone");

    /* One group: gzip on (t1, 0), a plain item behind it, lz4 on (t1, 1). */
    rn_pdefer_group_t *g = rn_pdefer_group_new(pd, commit, finish, "first");
    size_t len1, len3;
    uint8_t *in1 = input("HDR1", 60000, &len1), *in3 = input("HDR3", 30000, &len3);
    rn_pdefer_add(g, &t1, 0, RN_CODEC_GZIP, in1, len1, 4, (void *)(intptr_t)1);
    rn_pdefer_add(g, &t1, 0, RN_CODEC_NONE, NULL, 0, 0, (void *)(intptr_t)2);
    rn_pdefer_add(g, &t1, 1, RN_CODEC_LZ4, in3, len3, 4, (void *)(intptr_t)3);
    ok(rn_pdefer_busy(pd, &t1, 0) && rn_pdefer_busy(pd, &t1, 1), "both partitions busy");
    ok(!rn_pdefer_busy(pd, &t2, 0) && !rn_pdefer_busy(pd, &t1, 2), "others are not");
    is(rn_pdefer_items(pd), 3, "three items in flight");
    is(rn_pdefer_bytes(pd), len1 + len3, "their inputs counted");
    is(rn_pdefer_group_left(g), 3, "the group waits for three");
    ok(rn_pdefer_has_room(pd, 100000 - len1 - len3), "room up to the bound");
    ok(!rn_pdefer_has_room(pd, 100000 - len1 - len3 + 1), "none past it");
    is(n_seen, 0, "nothing commits inside the adding callback");

    event_base_dispatch(base);
    is(n_seen, 3, "every item committed");
    is(seen[0].id * 100 + seen[1].id * 10 + seen[2].id, 123, "in the order they were added");
    ok(seen[0].compressed && seen[0].rc == 0 && seen[0].matches,
       "gzip output holds the input after its header");
    ok(!seen[1].compressed && seen[1].rc == 0, "the plain item only kept its place");
    ok(seen[2].compressed && seen[2].matches, "lz4 output holds its input too");
    is(n_finished, 1, "finish ran once, after the last commit");
    ok(!rn_pdefer_busy(pd, &t1, 0) && !rn_pdefer_busy(pd, &t1, 1), "partitions free again");
    is(rn_pdefer_items(pd), 0, "no item in flight");
    is(rn_pdefer_bytes(pd), 0, "no input counted");

    /* A cancelled group: its item is dropped when its job returns; a later group still runs. */
    n_seen = 0;
    rn_pdefer_group_t *gone = rn_pdefer_group_new(pd, commit, finish, "gone");
    size_t len4;
    uint8_t *in4 = input("HDR4", 50000, &len4);
    rn_pdefer_add(gone, &t2, 0, RN_CODEC_GZIP, in4, len4, 4, (void *)(intptr_t)4);
    rn_pdefer_group_t *after = rn_pdefer_group_new(pd, commit, finish, "stop");
    rn_pdefer_add(after, &t2, 0, RN_CODEC_NONE, NULL, 0, 0, (void *)(intptr_t)5);
    rn_pdefer_group_cancel(gone);
    ok(rn_pdefer_busy(pd, &t2, 0), "a cancelled item keeps its partition busy until it returns");
    event_base_dispatch(base);
    is(n_seen, 1, "only the live group's item committed");
    is(seen[0].id, 5, "the one behind the cancelled item");
    is(n_finished, 2, "the cancelled group never finished");
    ok(!rn_pdefer_busy(pd, &t2, 0) && rn_pdefer_bytes(pd) == 0, "and its partition is free");

    /* An empty group cancelled is freed at once (the sanitizers check). */
    rn_pdefer_group_cancel(rn_pdefer_group_new(pd, commit, finish, "empty"));

    /* Free delivers queued items: commit and finish run inside it. */
    n_seen = 0;
    rn_pdefer_group_t *last = rn_pdefer_group_new(pd, commit, finish, "last");
    size_t len6;
    uint8_t *in6 = input("HDR6", 40000, &len6);
    rn_pdefer_add(last, &t1, 0, RN_CODEC_GZIP, in6, len6, 4, (void *)(intptr_t)6);
    rn_pdefer_free(pd);
    is(n_seen, 1, "free committed the queued item");
    ok(seen[0].matches, "compressed as usual");
    is(n_finished, 3, "and finished its group");
    event_base_free(base);
    return done_testing();
}
