/* Unit tests for rn_fetchwait on a real libevent event_base: timeouts, wake on enough
 * bytes, per-partition caps, several partitions, wake(), cancellation (also from inside a
 * callback, as a closing connection does), deferred completion, shutdown, and many waiters
 * over many keys. */
#include <event2/event.h>
#include <stdlib.h>
#include <time.h>

#include "rn_err.h"
#include "data/rn_fetchwait.h"
#include "tap.h"

typedef struct rec {
    int calls;
    rn_fetchwait_reason_t reason;
    int64_t when_ms;
    rn_fetchwaiter_t *cancel_other; /* cancelled from inside this callback */
    rn_fetchwaiter_t *self;
} rec_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_done(rn_fetchwaiter_t *w, rn_fetchwait_reason_t reason, void *arg)
{
    rec_t *r = arg;
    r->calls++;
    r->reason = reason;
    r->when_ms = now_ms();
    rn_fetchwait_cancel(w); /* a no-op inside its own callback */
    if (r->cancel_other) {
        rn_fetchwait_cancel(r->cancel_other);
        r->cancel_other = NULL;
    }
}

/* Run the loop for about ms milliseconds. */
static void run_for(struct event_base *base, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static void run_once(struct event_base *base)
{
    event_base_loop(base, EVLOOP_NONBLOCK);
}

static int key_a, key_b, key_c;

static void test_timeout(struct event_base *base, rn_fetchwait_t *fw)
{
    rec_t r = {0};
    int64_t t0 = now_ms();
    rn_fetchwaiter_t *w = rn_fetchwait_park(fw, 1, 100, 0, 120, on_done, &r);
    is(rn_fetchwait_watch(w, &key_a, 0), 0, "watch a");
    is(rn_fetchwait_watch(w, &key_b, 0), RN_EFULL, "a second key does not fit nkeys=1");
    rn_fetchwait_notify(fw, &key_a, 50);
    run_once(base);
    is(r.calls, 0, "50 of 100 bytes: still parked");
    run_for(base, 300);
    is(r.calls, 1, "called once");
    is(r.reason, RN_FETCHWAIT_TIMEOUT, "reason timeout");
    ok(r.when_ms - t0 >= 110 && r.when_ms - t0 < 280, "after ~120 ms (%lld)",
       (long long)(r.when_ms - t0));
    is(rn_fetchwait_count(fw), 0, "nothing parked");
    is(rn_fetchwait_watchers(fw, &key_a), 0, "no watchers left on a");
}

static void test_ready(struct event_base *base, rn_fetchwait_t *fw)
{
    rec_t r = {0};
    int64_t t0 = now_ms();
    rn_fetchwaiter_t *w = rn_fetchwait_park(fw, 2, 100, 10, 5000, on_done, &r);
    rn_fetchwait_watch(w, &key_a, 0);
    rn_fetchwait_watch(w, &key_b, 0);
    rn_fetchwait_notify(fw, &key_c, 1000);
    run_once(base);
    is(r.calls, 0, "bytes on an unwatched partition do not count");
    rn_fetchwait_notify(fw, &key_a, 40);
    rn_fetchwait_notify(fw, &key_b, 40);
    run_once(base);
    is(r.calls, 0, "10 + 80 < 100: parked");
    is(rn_fetchwait_watchers(fw, &key_b), 1, "one watcher on b");
    rn_fetchwait_notify(fw, &key_b, 10);
    is(r.calls, 0, "completion is deferred, not run inside notify");
    is(rn_fetchwait_watchers(fw, &key_b), 0, "scheduled waiter no longer counts as watching");
    rn_fetchwait_notify(fw, &key_b, 10); /* ignored: already scheduled */
    run_once(base);
    is(r.calls, 1, "completed on the next loop pass");
    is(r.reason, RN_FETCHWAIT_READY, "reason ready");
    ok(r.when_ms - t0 < 1000, "well before max_wait");
    run_for(base, 50);
    is(r.calls, 1, "not called again (no late timeout)");
    is(rn_fetchwait_count(fw), 0, "nothing parked");
}

static void test_caps(struct event_base *base, rn_fetchwait_t *fw)
{
    rec_t r = {0};
    rn_fetchwaiter_t *w = rn_fetchwait_park(fw, 2, 100, 0, 5000, on_done, &r);
    rn_fetchwait_watch(w, &key_a, 30); /* partition_max_bytes 30 */
    rn_fetchwait_watch(w, &key_b, 80);
    rn_fetchwait_notify(fw, &key_a, 500);
    rn_fetchwait_notify(fw, &key_a, 500);
    run_once(base);
    is(r.calls, 0, "a counts at most 30");
    rn_fetchwait_notify(fw, &key_b, 69);
    run_once(base);
    is(r.calls, 0, "30 + 69 < 100");
    rn_fetchwait_notify(fw, &key_b, 1);
    run_once(base);
    is(r.calls, 1, "30 + 70 = 100: ready");
    is(r.reason, RN_FETCHWAIT_READY, "reason ready");
}

static void test_immediate(struct event_base *base, rn_fetchwait_t *fw)
{
    rec_t r1 = {0}, r2 = {0};
    rn_fetchwaiter_t *w1 = rn_fetchwait_park(fw, 1, 10, 10, 5000, on_done, &r1);
    rn_fetchwait_watch(w1, &key_a, 0);
    rn_fetchwait_park(fw, 0, 10, 0, 0, on_done, &r2);
    is(r1.calls + r2.calls, 0, "nothing runs inside park");
    run_once(base);
    is(r1.calls, 1, "have >= min: ready at once");
    is(r1.reason, RN_FETCHWAIT_READY, "reason ready");
    run_once(base);
    is(r2.calls, 1, "max_wait 0: answered on the next pass");
    is(r2.reason, RN_FETCHWAIT_TIMEOUT, "reason timeout");
    is(rn_fetchwait_watchers(fw, &key_a), 0, "no watchers left");
}

static void test_wake_and_cancel(struct event_base *base, rn_fetchwait_t *fw)
{
    rec_t r1 = {0}, r2 = {0}, r3 = {0};
    rn_fetchwaiter_t *w1 = rn_fetchwait_park(fw, 1, 1000, 0, 5000, on_done, &r1);
    rn_fetchwaiter_t *w2 = rn_fetchwait_park(fw, 2, 1000, 0, 5000, on_done, &r2);
    rn_fetchwaiter_t *w3 = rn_fetchwait_park(fw, 1, 1000, 0, 5000, on_done, &r3);
    rn_fetchwait_watch(w1, &key_a, 0);
    rn_fetchwait_watch(w2, &key_a, 0);
    rn_fetchwait_watch(w2, &key_b, 0);
    rn_fetchwait_watch(w3, &key_b, 0);
    is(rn_fetchwait_watchers(fw, &key_a), 2, "two watch a");
    /* The connection of w1 closes while parked. */
    rn_fetchwait_cancel(w1);
    is(rn_fetchwait_watchers(fw, &key_a), 1, "one left on a after cancel");
    is(rn_fetchwait_count(fw), 2, "two parked");
    /* w2 completes first and, from its callback, cancels w3 (e.g. same connection torn down). */
    r2.cancel_other = w3;
    rn_fetchwait_wake(fw, &key_a);
    run_once(base);
    is(r2.calls, 1, "wake completes w2");
    is(r2.reason, RN_FETCHWAIT_READY, "as ready");
    is(r1.calls, 0, "cancelled w1 never called");
    is(r3.calls, 0, "w3 cancelled from a callback, never called");
    is(rn_fetchwait_count(fw), 0, "nothing parked");
    is(rn_fetchwait_watchers(fw, &key_b), 0, "b cleaned up");
    run_for(base, 30);
    is(r1.calls + r3.calls, 0, "still never called");

    /* A waiter whose wake is scheduled can still be cancelled (connection closed meanwhile). */
    rec_t r4 = {0};
    rn_fetchwaiter_t *w4 = rn_fetchwait_park(fw, 1, 5, 0, 5000, on_done, &r4);
    rn_fetchwait_watch(w4, &key_c, 0);
    rn_fetchwait_notify(fw, &key_c, 5);
    rn_fetchwait_cancel(w4);
    run_for(base, 20);
    is(r4.calls, 0, "scheduled then cancelled: never called");
}

static void test_same_key_twice(struct event_base *base, rn_fetchwait_t *fw)
{
    /* A request naming one partition twice: both links count, nothing breaks. */
    rec_t r = {0};
    rn_fetchwaiter_t *w = rn_fetchwait_park(fw, 2, 10, 0, 5000, on_done, &r);
    rn_fetchwait_watch(w, &key_a, 0);
    rn_fetchwait_watch(w, &key_a, 0);
    rn_fetchwait_notify(fw, &key_a, 5);
    run_once(base);
    is(r.calls, 1, "duplicate key: counted per link, ready");
    is(rn_fetchwait_watchers(fw, &key_a), 0, "no watchers left");
}

static void test_many(struct event_base *base, rn_fetchwait_t *fw)
{
    enum { KEYS = 300, WAITERS = 500 };
    static char keys[KEYS];
    static rec_t recs[WAITERS];
    srand(7);
    for (int i = 0; i < WAITERS; i++) {
        rn_fetchwaiter_t *w = rn_fetchwait_park(fw, 3, 3, 0, 5000, on_done, &recs[i]);
        for (int k = 0; k < 3; k++)
            rn_fetchwait_watch(w, &keys[(i * 7 + k * 101) % KEYS], 1);
    }
    is(rn_fetchwait_count(fw), WAITERS, "500 parked");
    /* Each append to a key counts at most 1 byte per waiter link: every waiter needs all
     * three of its keys. Notify every key once. */
    for (int k = 0; k < KEYS; k++)
        rn_fetchwait_notify(fw, &keys[k], 100);
    run_once(base);
    int done = 0;
    for (int i = 0; i < WAITERS; i++)
        done += recs[i].calls == 1 && recs[i].reason == RN_FETCHWAIT_READY;
    is(done, WAITERS, "every waiter completed once, ready");
    is(rn_fetchwait_count(fw), 0, "nothing parked");
}

static void test_wake_all(struct event_base *base, rn_fetchwait_t *fw)
{
    rec_t r1 = {0}, r2 = {0};
    rn_fetchwaiter_t *w1 = rn_fetchwait_park(fw, 1, 100, 0, 5000, on_done, &r1);
    rn_fetchwait_watch(w1, &key_a, 0);
    rn_fetchwait_park(fw, 0, 100, 0, 5000, on_done, &r2); /* watches nothing */
    rn_fetchwait_wake_all(fw);
    is(r1.calls + r2.calls, 0, "wake_all defers completion too");
    run_once(base);
    is(r1.calls, 1, "wake_all completes a watching waiter");
    is(r1.reason, RN_FETCHWAIT_READY, "as ready");
    is(r2.calls, 1, "and one watching nothing");
    is(rn_fetchwait_count(fw), 0, "nothing parked");
}

static void test_shutdown(void)
{
    struct event_base *base = event_base_new();
    rn_fetchwait_t *fw = rn_fetchwait_new(base);
    rec_t r1 = {0}, r2 = {0};
    rn_fetchwaiter_t *w1 = rn_fetchwait_park(fw, 1, 100, 0, 5000, on_done, &r1);
    rn_fetchwait_watch(w1, &key_a, 0);
    rn_fetchwaiter_t *w2 = rn_fetchwait_park(fw, 1, 100, 0, 5000, on_done, &r2);
    rn_fetchwait_watch(w2, &key_a, 0);
    rn_fetchwait_notify(fw, &key_a, 100); /* both scheduled, not yet delivered */
    rn_fetchwait_free(fw);
    is(r1.calls, 1, "shutdown calls w1 back");
    is(r1.reason, RN_FETCHWAIT_SHUTDOWN, "with SHUTDOWN");
    is(r2.calls, 1, "shutdown calls w2 back");
    run_for(base, 10);
    is(r1.calls + r2.calls, 2, "nothing delivered after free");
    event_base_free(base);
}

int main(void)
{
    struct event_base *base = event_base_new();
    rn_fetchwait_t *fw = rn_fetchwait_new(base);
    test_timeout(base, fw);
    test_ready(base, fw);
    test_caps(base, fw);
    test_immediate(base, fw);
    test_wake_and_cancel(base, fw);
    test_same_key_twice(base, fw);
    test_many(base, fw);
    test_wake_all(base, fw);
    rn_fetchwait_free(fw);
    event_base_free(base);
    test_shutdown();
    return done_testing();
}
