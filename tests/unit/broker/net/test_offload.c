/* Tests for rn_offload: work runs off the loop thread, done callbacks run on the loop in
 * submission order, and free finishes queued jobs; a pool runs jobs at the same time. */
#include "net/rn_offload.h"
#include "tap.h"

#include <event2/event.h>
#include <pthread.h>
#include <unistd.h>

static pthread_t loop_thread;
static int order[16], n_done;
static int off_thread_count;
static struct event_base *base;

static int work(void *arg)
{
    if (!pthread_equal(pthread_self(), loop_thread))
        __atomic_add_fetch(&off_thread_count, 1, __ATOMIC_SEQ_CST);
    usleep(2000);
    return (int)(intptr_t)arg * 10;
}

static void done(void *arg, int rc)
{
    ok(pthread_equal(pthread_self(), loop_thread), "done %d on the loop thread",
       (int)(intptr_t)arg);
    is(rc, (int)(intptr_t)arg * 10, "done %d gets work's result", (int)(intptr_t)arg);
    order[n_done++] = (int)(intptr_t)arg;
    if (n_done == 5)
        event_base_loopbreak(base);
}

/* Pool jobs: each waits (up to 2 s) until both have started, which only two threads
 * running at once can achieve. */
static int started, met;

static int meet(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 2000 && __atomic_load_n(&started, __ATOMIC_SEQ_CST) < 2; i++)
        usleep(1000);
    if (__atomic_load_n(&started, __ATOMIC_SEQ_CST) >= 2)
        __atomic_add_fetch(&met, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static int pool_done;

static void meet_done(void *arg, int rc)
{
    (void)arg;
    (void)rc;
    if (++pool_done == 2)
        event_base_loopbreak(base);
}

int main(void)
{
    loop_thread = pthread_self();
    base = event_base_new();
    rn_offload_t *off = rn_offload_new(base);
    ok(off != NULL, "offload starts");
    for (intptr_t i = 0; i < 4; i++)
        rn_offload_submit(off, work, done, (void *)i);
    rn_offload_submit(off, NULL, done, (void *)(intptr_t)0);
    is(rn_offload_pending(off), 5, "five pending");
    event_base_dispatch(base);
    is(n_done, 5, "all done callbacks ran");
    int in_order = 1;
    for (int i = 0; i < 4; i++)
        in_order &= order[i] == i;
    ok(in_order, "done callbacks in submission order");
    is(off_thread_count, 4, "work ran on the worker thread");
    is(rn_offload_pending(off), 0, "nothing pending");

    /* Jobs still queued at free are finished and delivered by free. */
    for (intptr_t i = 5; i < 8; i++)
        rn_offload_submit(off, work, done, (void *)i);
    rn_offload_free(off);
    is(n_done, 8, "free delivered the queued jobs");

    rn_offload_t *pool = rn_offload_new_pool(base, 2);
    ok(pool != NULL, "a pool of two starts");
    rn_offload_submit(pool, meet, meet_done, NULL);
    rn_offload_submit(pool, meet, meet_done, NULL);
    event_base_dispatch(base);
    is(pool_done, 2, "both pool jobs delivered");
    is(met, 2, "and they ran at the same time");
    rn_offload_free(pool);
    event_base_free(base);
    return done_testing();
}
