/* rn_clock: the one source of time and randomness for runnel's libraries and runneld.
 *
 * Code that needs the time or random bytes asks here, never clock_gettime(2) or getrandom(2)
 * directly, so that a test or a simulator can run the broker's logic on a clock and a random
 * stream of its own (rn_clock_install): timers that fire when the test says, ids that repeat
 * from a seed. By default the functions read the system's clocks and the kernel's randomness.
 *
 * Threading: the installed clock is process-wide (in a simulation every node shares the
 * simulated time). Install before starting threads that read it and restore (NULL) after
 * they stop; reads are lock-free. An installed clock's functions must be thread-safe if the
 * process has threads that read it (the log cleaner and flush threads do). Waiting for real
 * time (a condition variable's deadline, poll) stays on the system clock. */
#ifndef RN_CLOCK_H
#define RN_CLOCK_H

#include <stddef.h>
#include <stdint.h>

typedef struct rn_clock_ops {
    int64_t (*wall_ms)(void *arg); /* milliseconds since the Unix epoch */
    int64_t (*mono_ns)(void *arg); /* monotonic nanoseconds from an arbitrary start */
    int (*random)(void *arg, void *buf, size_t len); /* fill buf; 0 or RN_EIO */
    void *arg;
} rn_clock_ops_t;

/* Replace the clock and randomness (ops is copied); NULL restores the system's. */
void rn_clock_install(const rn_clock_ops_t *ops);

/* Wall-clock time in ms since the epoch: timestamps written to disk and sent to clients. */
int64_t rn_clock_wall_ms(void);
/* Monotonic time, for durations and deadlines. */
int64_t rn_clock_mono_ns(void);
static inline int64_t rn_clock_mono_ms(void)
{
    return rn_clock_mono_ns() / 1000000;
}

/* Fill buf with random bytes (the kernel's getrandom(2) by default, blocking until the
 * kernel has entropy). 0, or RN_EIO when none can be had. */
int rn_random_bytes(void *buf, size_t len);

#endif
