/* Tests for rn_pdefer: jobs run on the workers and commit on the loop in the order they were
 * added per partition, while another partition's items do not wait for them (a pool of
 * workers); partitions are busy exactly while items are in flight; the byte bound; a
 * cancelled group's items are dropped and released, and the memory it handed over lives
 * until its running job is done; free delivers what is still queued. */
#include "data/rn_pdefer.h"
#include "rn_alloc.h"
#include "rn_codec.h"
#include "tap.h"

#include <event2/event.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static struct event_base *base;
static pthread_t loop_thread;

/* A test job: waits delay_ms, then compresses in with lz4 (if set) and reads keep's first
 * byte (if set: memory a cancelled group keeps). */
typedef struct tjob {
    rn_pdefer_job_t job;
    int id;
    int delay_ms;
    uint8_t *in;
    size_t in_len;
    uint8_t *z;
    size_t zlen;
    const uint8_t *keep;
    int keep_byte;
    bool on_loop; /* work ran on the loop thread (it must not) */
} tjob_t;

static int released;

static int tjob_work(rn_pdefer_job_t *job)
{
    tjob_t *t = (tjob_t *)job;
    t->on_loop = pthread_equal(pthread_self(), loop_thread);
    usleep((useconds_t)t->delay_ms * 1000);
    if (t->keep != NULL)
        t->keep_byte = t->keep[0];
    if (t->in == NULL)
        return 0;
    return rn_codec_compress(RN_CODEC_LZ4, NULL, t->in, t->in_len, &t->z, &t->zlen);
}

static void tjob_release(rn_pdefer_job_t *job)
{
    tjob_t *t = (tjob_t *)job;
    rn_free(t->in);
    rn_free(t->z);
    rn_free(t);
    released++;
}

static tjob_t *tjob(int id, int delay_ms, size_t in_len)
{
    tjob_t *t = rn_xcalloc(1, sizeof(*t));
    t->job.work = tjob_work;
    t->job.release = tjob_release;
    t->job.in_bytes = in_len;
    t->id = id;
    t->delay_ms = delay_ms;
    if (in_len > 0) {
        t->in = rn_xmalloc(in_len);
        for (size_t i = 0; i < in_len; i++)
            t->in[i] = (uint8_t)("the quick brown fox "[i % 20]);
        t->in_len = in_len;
    }
    return t;
}

/* What commit saw, per item, in order. */
typedef struct seen {
    int id; /* item_arg */
    int rc;
    bool has_job, on_loop, matches;
} seen_t;

static seen_t seen[32];
static int n_seen, n_finished;
static const char *finished_by[8];

static void commit(void *group_arg, void *item_arg, rn_pdefer_job_t *job, int rc)
{
    (void)group_arg;
    seen_t *s = &seen[n_seen++];
    s->id = (int)(intptr_t)item_arg;
    s->rc = rc;
    s->has_job = job != NULL;
    if (job != NULL) {
        tjob_t *t = (tjob_t *)job;
        s->on_loop = t->on_loop;
        s->matches = true;
        if (t->in != NULL) {
            uint8_t *plain = NULL;
            size_t plain_len = 0;
            s->matches = rn_codec_decompress(RN_CODEC_LZ4, t->z, t->zlen, 1 << 20, &plain,
                                             &plain_len) == 0 &&
                         plain_len == t->in_len && memcmp(plain, t->in, plain_len) == 0;
            rn_free(plain);
        }
    }
}

static void finish(void *group_arg)
{
    finished_by[n_finished++] = group_arg;
    if (strcmp(group_arg, "stop") == 0)
        event_base_loopbreak(base);
}

static int position(int id)
{
    for (int i = 0; i < n_seen; i++)
        if (seen[i].id == id)
            return i;
    return -1;
}

int main(void)
{
    loop_thread = pthread_self();
    base = event_base_new();
    rn_pdefer_t *pd = rn_pdefer_new(base, 3, 100000);
    ok(pd != NULL, "a pool of three workers starts");
    rn_uuid_t t1 = {{1}}, t2 = {{2}};

    ok(!rn_pdefer_busy(pd, &t1, 0), "nothing busy at first");
    ok(rn_pdefer_has_room(pd, 1 << 20), "an input over the bound may go alone");

    /* (t1, 0): a slow job, a fast one, a place keeper and a fast one again; (t1, 1): a fast
     * job. The workers finish them out of order; (t1, 0) commits in order all the same, and
     * (t1, 1) does not wait for (t1, 0)'s slow head. */
    rn_pdefer_group_t *g = rn_pdefer_group_new(pd, commit, finish, "stop");
    rn_pdefer_add(g, &t1, 0, &tjob(1, 150, 30000)->job, (void *)(intptr_t)1);
    rn_pdefer_add(g, &t1, 0, &tjob(2, 0, 20000)->job, (void *)(intptr_t)2);
    rn_pdefer_add(g, &t1, 0, NULL, (void *)(intptr_t)3);
    rn_pdefer_add(g, &t1, 0, &tjob(4, 0, 0)->job, (void *)(intptr_t)4);
    rn_pdefer_add(g, &t1, 1, &tjob(5, 10, 10000)->job, (void *)(intptr_t)5);
    ok(rn_pdefer_busy(pd, &t1, 0) && rn_pdefer_busy(pd, &t1, 1), "both partitions busy");
    ok(!rn_pdefer_busy(pd, &t2, 0) && !rn_pdefer_busy(pd, &t1, 2), "others are not");
    is(rn_pdefer_items(pd), 5, "five items in flight");
    is(rn_pdefer_bytes(pd), 60000, "their inputs counted");
    is(rn_pdefer_group_left(g), 5, "the group waits for five");
    ok(rn_pdefer_has_room(pd, 40000), "room up to the bound");
    ok(!rn_pdefer_has_room(pd, 40001), "none past it");
    is(n_seen, 0, "nothing commits inside the adding callback");

    event_base_dispatch(base);
    is(n_seen, 5, "every item committed");
    ok(position(1) < position(2) && position(2) < position(3) && position(3) < position(4),
       "one partition's items commit in the order they were added");
    is(position(5), 0, "the other partition's item did not wait behind the slow one");
    bool all_ok = true;
    for (int i = 0; i < n_seen; i++)
        if (seen[i].id != 3 &&
            (!seen[i].has_job || seen[i].on_loop || seen[i].rc != 0 || !seen[i].matches))
            all_ok = false;
    ok(all_ok, "every job ran off the loop and its output is whole");
    ok(!seen[position(3)].has_job, "the place keeper had no job");
    is(n_finished, 1, "finish ran once, after the last commit");
    is(released, 4, "every job released");
    ok(!rn_pdefer_busy(pd, &t1, 0) && !rn_pdefer_busy(pd, &t1, 1), "partitions free again");
    is(rn_pdefer_items(pd), 0, "no item in flight");
    is(rn_pdefer_bytes(pd), 0, "no input counted");

    /* A connection closes while its group's jobs are queued and running: the group is
     * cancelled with the memory its jobs read; a later group on the same partition still
     * commits, after the cancelled items, which are dropped and released. */
    n_seen = 0;
    released = 0;
    rn_pdefer_group_t *gone = rn_pdefer_group_new(pd, commit, finish, "gone");
    uint8_t *frame = rn_xmalloc(16);
    frame[0] = 42;
    tjob_t *reader = tjob(6, 100, 0);
    reader->keep = frame;
    rn_pdefer_add(gone, &t2, 0, &reader->job, (void *)(intptr_t)6);
    rn_pdefer_add(gone, &t2, 0, &tjob(7, 0, 5000)->job, (void *)(intptr_t)7);
    rn_pdefer_add(gone, &t2, 1, &tjob(8, 0, 0)->job, (void *)(intptr_t)8);
    rn_pdefer_group_t *after = rn_pdefer_group_new(pd, commit, finish, "stop");
    rn_pdefer_add(after, &t2, 0, NULL, (void *)(intptr_t)9);
    rn_pdefer_add(after, &t2, 0, &tjob(10, 0, 1000)->job, (void *)(intptr_t)10);
    usleep(20000); /* the reader is running now */
    rn_pdefer_group_cancel(gone, frame);
    ok(rn_pdefer_busy(pd, &t2, 0) && rn_pdefer_busy(pd, &t2, 1),
       "cancelled items keep their partitions busy until their turn");
    event_base_dispatch(base);
    is(n_seen, 2, "only the live group's items committed");
    ok(n_seen == 2 && seen[0].id == 9 && seen[1].id == 10, "in their order");
    is(released, 4, "the cancelled group's jobs were released too");
    /* tjob 6 is released, but it read the frame the cancelled group kept (the sanitizers
     * catch a read after a free). */
    is(n_finished, 2, "the cancelled group never finished");
    ok(!rn_pdefer_busy(pd, &t2, 0) && !rn_pdefer_busy(pd, &t2, 1) && rn_pdefer_bytes(pd) == 0,
       "and its partitions are free");

    /* An empty group cancelled is freed at once, with what it was handed (sanitizers). */
    rn_pdefer_group_cancel(rn_pdefer_group_new(pd, commit, finish, "empty"), rn_xmalloc(8));

    /* Free delivers queued items: commit and finish run inside it. */
    n_seen = 0;
    rn_pdefer_group_t *last = rn_pdefer_group_new(pd, commit, finish, "last");
    rn_pdefer_add(last, &t1, 0, &tjob(11, 30, 4000)->job, (void *)(intptr_t)11);
    rn_pdefer_add(last, &t1, 0, &tjob(12, 0, 4000)->job, (void *)(intptr_t)12);
    rn_pdefer_free(pd);
    is(n_seen, 2, "free committed the queued items");
    ok(n_seen == 2 && seen[0].id == 11 && seen[0].matches && seen[1].id == 12,
       "in order, compressed as usual");
    is(n_finished, 3, "and finished their group");

    /* One worker (produce.worker.threads=0): the same order. */
    rn_pdefer_t *one = rn_pdefer_new(base, 1, 100000);
    n_seen = 0;
    rn_pdefer_group_t *g1 = rn_pdefer_group_new(one, commit, finish, "stop");
    rn_pdefer_add(g1, &t1, 0, &tjob(13, 20, 1000)->job, (void *)(intptr_t)13);
    rn_pdefer_add(g1, &t1, 0, &tjob(14, 0, 1000)->job, (void *)(intptr_t)14);
    event_base_dispatch(base);
    ok(n_seen == 2 && seen[0].id == 13 && seen[1].id == 14, "one worker commits in order");
    rn_pdefer_free(one);
    event_base_free(base);
    return done_testing();
}
