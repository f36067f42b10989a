/* The system clock and randomness, and the hook that replaces them (see rn_clock.h). */
#include "rn_clock.h"

#include "rn_err.h"

#include <errno.h>
#include <stdatomic.h>
#include <sys/random.h>
#include <time.h>

static int64_t system_wall_ms(void *arg)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t system_mono_ns(void *arg)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int system_random(void *arg, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = getrandom((char *)buf + got, len - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return RN_EIO;
        }
        got += (size_t)n;
    }
    return 0;
}

static const rn_clock_ops_t system_clock = {system_wall_ms, system_mono_ns, system_random, NULL};
static rn_clock_ops_t installed;
/* Points at system_clock or at `installed`; swapped whole so a reader never sees a mix. */
static _Atomic(const rn_clock_ops_t *) current = &system_clock;

void rn_clock_install(const rn_clock_ops_t *ops)
{
    if (ops == NULL) {
        atomic_store(&current, &system_clock);
        return;
    }
    installed = *ops;
    atomic_store(&current, &installed);
}

int64_t rn_clock_wall_ms(void)
{
    const rn_clock_ops_t *c = atomic_load_explicit(&current, memory_order_acquire);
    return c->wall_ms(c->arg);
}

int64_t rn_clock_mono_ns(void)
{
    const rn_clock_ops_t *c = atomic_load_explicit(&current, memory_order_acquire);
    return c->mono_ns(c->arg);
}

int rn_random_bytes(void *buf, size_t len)
{
    const rn_clock_ops_t *c = atomic_load_explicit(&current, memory_order_acquire);
    return c->random(c->arg, buf, len);
}
