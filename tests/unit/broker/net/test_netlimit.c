/* Tests for rn_netlimit: episodes (one log line per run of events, a new one after a quiet
 * time or an explicit end), the accept back-off (100 ms doubling to 1 s) and
 * max.connections.per.ip.overrides (parsing, IPv6 in brackets, bad entries refused). */
#include "rn_alloc.h"
#include "rn_err.h"
#include "net/rn_netlimit.h"
#include "tap.h"

#include <string.h>

#define MS 1000000ull

static void test_episodes(void)
{
    rn_episode_t ep = {0};
    uint64_t quiet = 100 * MS;
    ok(rn_episode_hit(&ep, 1 * MS, quiet), "the first event starts an episode");
    int logged = 0;
    for (uint64_t t = 2; t < 1000; t++) /* an event every ms for a second */
        logged += rn_episode_hit(&ep, t * MS, quiet);
    is(logged, 0, "events within the episode are not logged again");
    is(ep.hits, 999, "the episode counts its events");
    ok(rn_episode_hit(&ep, 1200 * MS, quiet), "an event after the quiet time starts another");
    is(ep.hits, 1, "the new episode counts from one");
    is(rn_episode_end(&ep), 1, "ending it tells its count");
    is(rn_episode_end(&ep), 0, "ending again: no episode");
    ok(rn_episode_hit(&ep, 1201 * MS, quiet), "after an end, the next event starts one");
}

static void test_backoff(void)
{
    int ms = 0, seen[8];
    for (int i = 0; i < 8; i++)
        seen[i] = ms = rn_accept_backoff_next(ms);
    is(seen[0], 100, "back-off starts at 100 ms");
    is(seen[1], 200, "then doubles");
    is(seen[3], 800, "800 ms");
    is(seen[4], 1000, "capped at 1 s");
    is(seen[7], 1000, "and stays there");
}

static void test_overrides(void)
{
    rn_ip_limit_t *lim;
    size_t n;
    char err[256];
    is(rn_ip_limits_parse(NULL, &lim, &n, err, sizeof(err)), 0, "NULL: no overrides");
    is(n, 0, "NULL: empty");
    is(rn_ip_limits_parse("", &lim, &n, err, sizeof(err)), 0, "empty: no overrides");
    is(rn_ip_limits_parse("127.0.0.2:5,[::1]:7,10.0.0.1:0", &lim, &n, err, sizeof(err)), 0,
       "three entries parse");
    is(n, 3, "three entries");
    is(rn_ip_limit_for(lim, n, "127.0.0.2", 100), 5, "IPv4 override");
    is(rn_ip_limit_for(lim, n, "::1", 100), 7, "IPv6 override in brackets");
    is(rn_ip_limit_for(lim, n, "10.0.0.1", 100), 0, "an override of 0 refuses the address");
    is(rn_ip_limit_for(lim, n, "127.0.0.3", 100), 100, "other addresses: the default");
    rn_free(lim);
    is(rn_ip_limits_parse("localhost:9", &lim, &n, err, sizeof(err)), 0, "a host name resolves");
    ok(n == 1 && (strcmp(lim[0].ip, "127.0.0.1") == 0 || strcmp(lim[0].ip, "::1") == 0),
       "localhost is a loopback address (%s)", n == 1 ? lim[0].ip : "?");
    rn_free(lim);
    const char *bad[] = {"127.0.0.1",    "127.0.0.1:",  ":5",     "127.0.0.1:x",
                         "127.0.0.1:-1", "1.2.3.4:5,,", "[::1:5", "127.0.0.1:99999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        int rc = rn_ip_limits_parse(bad[i], &lim, &n, err, sizeof(err));
        ok(rc == RN_EINVAL && strstr(err, "max.connections.per.ip.overrides") != NULL,
           "\"%s\" refused (%s)", bad[i], err);
    }
}

/* Malformed requests by the thousand: at most per_window lines a second, and the first line
 * of a later window says how many were left out. */
static void test_lograte(void)
{
    rn_lograte_t lr = {0};
    const uint64_t s = RN_LOGRATE_WINDOW_NS;
    uint64_t skipped = 99;
    int logged = 0;
    for (int i = 0; i < 1000; i++)
        logged += rn_lograte_allow(&lr, 5 * s + (uint64_t)i * 1000, 3, &skipped);
    is(logged, 3, "1000 events within a second: 3 lines");
    is(skipped, 0, "the first lines report nothing left out");
    ok(rn_lograte_allow(&lr, 6 * s + 1, 3, &skipped), "next window: logged again");
    is(skipped, 997, "and it reports the 997 left out");
    ok(rn_lograte_allow(&lr, 6 * s + 2, 3, &skipped) && skipped == 0, "the count is reported once");
    ok(rn_lograte_allow(&lr, 6 * s + 3, 3, NULL), "suppressed may be NULL");
    ok(!rn_lograte_allow(&lr, 6 * s + 4, 3, &skipped), "the window's budget is spent");
}

int main(void)
{
    test_episodes();
    test_backoff();
    test_overrides();
    test_lograte();
    return done_testing();
}
