/* rn_clock: the system clock by default, an installed clock and randomness when a test or a
 * simulator hands one in, and the system's again after rn_clock_install(NULL). Modules that
 * take time or random bytes from it follow the installed clock: uuids and log lines here. */
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_uuid.h"
#include "tap.h"

#include <string.h>
#include <time.h>

typedef struct fake {
    int64_t wall_ms, mono_ns;
    uint64_t seed;
} fake_t;

static int64_t fake_wall(void *arg)
{
    return ((fake_t *)arg)->wall_ms;
}

static int64_t fake_mono(void *arg)
{
    return ((fake_t *)arg)->mono_ns;
}

/* xorshift64: the same seed gives the same bytes. */
static int fake_random(void *arg, void *buf, size_t len)
{
    fake_t *f = arg;
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        f->seed ^= f->seed << 13;
        f->seed ^= f->seed >> 7;
        f->seed ^= f->seed << 17;
        p[i] = (uint8_t)f->seed;
    }
    return 0;
}

static int no_random(void *arg, void *buf, size_t len)
{
    return RN_EIO;
}

static void test_system(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t sys_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t ms = rn_clock_wall_ms();
    ok(ms >= sys_ms && ms - sys_ms < 5000, "system wall clock (%lld vs %lld)", (long long)ms,
       (long long)sys_ms);
    int64_t a = rn_clock_mono_ns(), b = rn_clock_mono_ns();
    ok(a > 0 && b >= a, "system monotonic clock does not go back");
    uint8_t x[32] = {0}, y[32] = {0};
    is(rn_random_bytes(x, sizeof(x)), 0, "kernel randomness");
    rn_random_bytes(y, sizeof(y));
    ok(memcmp(x, y, sizeof(x)) != 0, "two draws differ");
}

static void uuids_from_seed(uint64_t seed, rn_uuid_t out[3])
{
    fake_t f = {0, 0, seed};
    rn_clock_install(&(rn_clock_ops_t){fake_wall, fake_mono, fake_random, &f});
    for (int i = 0; i < 3; i++)
        rn_uuid_random(&out[i]);
    rn_clock_install(NULL);
}

static void test_installed(void)
{
    fake_t f = {1700000000123, 42, 7};
    rn_clock_install(&(rn_clock_ops_t){fake_wall, fake_mono, fake_random, &f});
    is(rn_clock_wall_ms(), 1700000000123, "installed wall clock");
    is(rn_clock_mono_ns(), 42, "installed monotonic clock");
    f.wall_ms += 5000;
    f.mono_ns = 3000000000;
    is(rn_clock_wall_ms(), 1700000005123, "time moves when the test moves it");
    is(rn_clock_mono_ms(), 3000, "mono_ms from mono_ns");
    rn_clock_install(NULL);
    ok(rn_clock_wall_ms() > 1700000005123 + 86400000LL, "NULL restores the system clock");

    rn_uuid_t a[3], b[3], c[3];
    uuids_from_seed(99, a);
    uuids_from_seed(99, b);
    uuids_from_seed(100, c);
    ok(memcmp(a, b, sizeof(a)) == 0, "uuids repeat from the same seed");
    ok(memcmp(a, c, sizeof(a)) != 0, "another seed, other uuids");
    ok(!rn_uuid_equal(&a[0], &a[1]), "successive uuids differ");

    rn_clock_install(&(rn_clock_ops_t){fake_wall, fake_mono, no_random, &f});
    rn_uuid_t u;
    is(rn_uuid_random(&u), RN_EIO, "no randomness: rn_uuid_random reports RN_EIO");
    rn_clock_install(NULL);
}

int main(void)
{
    test_system();
    test_installed();
    return done_testing();
}
