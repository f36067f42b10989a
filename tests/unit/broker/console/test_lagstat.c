/* rn_lagstat: each Burrow-style status from a crafted window (OK at zero lag, STALL, STOP,
 * WARN, ERR), the group's worst, the bounded window and history, the group cap and the
 * forgetting of groups nobody samples, group ids holding a NUL. */
#include "console/rn_lagstat.h"
#include "tap.h"

/* n samples one second apart from t0: committed c0 + i * dc, end e0 + i * de, commits at ct
 * (or at each sample when ct < 0). */
static void feed(rn_lagstat_t *ls, const char *g, int32_t p, int n, int64_t t0, int64_t c0,
                 int64_t dc, int64_t e0, int64_t de, int64_t ct)
{
    for (int i = 0; i < n; i++) {
        int64_t t = t0 + i * 1000;
        rn_lagstat_add(ls, rn_str(g), "t", p, t, c0 + i * dc, ct < 0 ? t : ct, 0, e0 + i * de);
    }
}

int main(void)
{
    rn_lagstat_t *ls = rn_lagstat_new(4);
    is(rn_lagstat_partition(ls, rn_str("g"), "t", 0, 0), RN_LAGSTAT_OK, "never sampled: OK");

    feed(ls, "ok", 0, 5, 1000, 0, 10, 10, 10, -1);
    is(rn_lagstat_partition(ls, rn_str("ok"), "t", 0, 6000), RN_LAGSTAT_OK, "steady lag: OK");
    feed(ls, "zero", 0, 5, 1000, 0, 10, 50, 0, -1);
    rn_lagstat_add(ls, rn_str("zero"), "t", 0, 7000, 50, 7000, 0, 50);
    is(rn_lagstat_partition(ls, rn_str("zero"), "t", 0, 7000), RN_LAGSTAT_OK, "caught up once: OK");

    feed(ls, "stall", 0, 5, 1000, 7, 0, 20, 0, -1);
    is(rn_lagstat_partition(ls, rn_str("stall"), "t", 0, 6000), RN_LAGSTAT_STALL,
       "commits keep coming for the same offset with lag: STALL");
    rn_lagstat_free(ls);

    ls = rn_lagstat_new(4);
    feed(ls, "stop", 0, 5, 10000, 7, 0, 20, 0, 1000);
    is(rn_lagstat_partition(ls, rn_str("stop"), "t", 0, 15000), RN_LAGSTAT_STOP,
       "no commit for longer than the window: STOP");
    is_str(rn_lagstat_name(RN_LAGSTAT_STOP), "STOP", "STOP's name");

    feed(ls, "warn", 0, 5, 1000, 0, 10, 15, 20, -1);
    is(rn_lagstat_partition(ls, rn_str("warn"), "t", 0, 6000), RN_LAGSTAT_WARN,
       "offsets move, lag grows every interval: WARN");
    feed(ls, "warn", 1, 5, 1000, 0, 10, 10, 10, -1);
    is(rn_lagstat_group(ls, rn_str("warn"), 6000), RN_LAGSTAT_WARN, "group: its worst partition");

    rn_lagstat_add(ls, rn_str("err"), "t", 0, 1000, 500, 1000, 0, 100);
    is(rn_lagstat_partition(ls, rn_str("err"), "t", 0, 1000), RN_LAGSTAT_ERR,
       "committed past the log end: ERR");
    is(rn_lagstat_count(ls), 3, "three groups");
    rn_lagstat_add(ls, rn_str("fourth"), "t", 0, 2000, 0, 2000, 0, 1);
    rn_lagstat_add(ls, rn_str("fifth"), "t", 0, 2000, 0, 2000, 0, 1);
    is(rn_lagstat_count(ls), 4, "a fifth group is not tracked while four are fresh");
    rn_lagstat_add(ls, rn_str("fifth"), "t", 0, 2000 + RN_LAGSTAT_FORGET_MS + 20000, 0, 0, 0, 1);
    ok(rn_lagstat_count(ls) == 1, "stale groups forgotten to make room (%zu left)",
       rn_lagstat_count(ls));

    /* The window slides: an old zero-lag sample stops counting after WINDOW more. */
    feed(ls, "fifth", 1, 1, 100000, 5, 0, 5, 0, -1);
    feed(ls, "fifth", 1, RN_LAGSTAT_WINDOW, 101000, 5, 0, 9, 0, -1);
    is(rn_lagstat_partition(ls, rn_str("fifth"), "t", 1, 101000 + RN_LAGSTAT_WINDOW * 1000),
       RN_LAGSTAT_STALL, "the caught-up sample left the window");

    for (int i = 0; i < RN_LAGSTAT_HISTORY + 5; i++)
        rn_lagstat_add_total(ls, rn_str("fifth"), 200000 + i, i);
    rn_lagstat_point_t pts[RN_LAGSTAT_HISTORY + 5];
    size_t n = rn_lagstat_history(ls, rn_str("fifth"), pts, RN_LAGSTAT_HISTORY + 5);
    is(n, RN_LAGSTAT_HISTORY, "history bounded");
    is(pts[0].lag, 5, "oldest kept");
    is(pts[n - 1].lag, RN_LAGSTAT_HISTORY + 4, "newest last");
    n = rn_lagstat_history(ls, rn_str("fifth"), pts, 3);
    is(pts[2].lag, RN_LAGSTAT_HISTORY + 4, "a short copy takes the newest");
    rn_lagstat_free(ls);

    /* Group ids are Kafka strings: "g\0x" is not "g". */
    ls = rn_lagstat_new(4);
    rn_str_t nul = {"g\0x", 3};
    feed(ls, "g", 0, 5, 1000, 0, 10, 10, 10, -1);
    rn_lagstat_add(ls, nul, "t", 0, 1000, 500, 1000, 0, 100);
    is(rn_lagstat_count(ls), 2, "a group id with a NUL is a group of its own");
    is(rn_lagstat_group(ls, nul, 1000), RN_LAGSTAT_ERR, "its status is its own");
    is(rn_lagstat_group(ls, rn_str("g"), 6000), RN_LAGSTAT_OK, "and the other's is untouched");
    rn_lagstat_free(ls);
    return done_testing();
}
