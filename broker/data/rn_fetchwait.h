/* rn_fetchwait: parked (long-polling) Fetch requests, woken by appends or by their deadline.
 *
 * A Fetch that finds fewer than min_bytes is parked here for up to max_wait_ms. Each waiter
 * watches the partitions its request names; an append calls rn_fetchwait_notify() with the
 * partition and the bytes appended, and once a waiter has seen min_bytes in total (counting
 * what it already had when parked, and at most the request's partition_max_bytes from any
 * one partition, as Kafka's DelayedFetch counts) it completes. Completion is always
 * delivered from the event loop, never from inside notify(): the Produce that woke it sends
 * its own response first, appends in one request coalesce, and callbacks never run while
 * the wait lists are being walked.
 *
 * Partitions are identified by an opaque key pointer (the partition object): whoever
 * destroys a partition, moves its leadership or truncates its log calls rn_fetchwait_wake()
 * for it first, so waiters answer promptly (and re-read the partition's state) rather than
 * hold a stale key.
 *
 * Lifetime: a waiter belongs to this module from rn_fetchwait_park() until either its
 * callback returns (it is freed then) or rn_fetchwait_cancel() (e.g. the connection closed
 * while parked). Single-threaded: everything runs on the event loop of the event_base. */
#ifndef RN_FETCHWAIT_H
#define RN_FETCHWAIT_H

#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct rn_fetchwait rn_fetchwait_t;
typedef struct rn_fetchwaiter rn_fetchwaiter_t;

typedef enum rn_fetchwait_reason {
    RN_FETCHWAIT_READY = 0,    /* min_bytes reached, or rn_fetchwait_wake() on a watched key */
    RN_FETCHWAIT_TIMEOUT = 1,  /* max_wait_ms passed */
    RN_FETCHWAIT_SHUTDOWN = 2, /* rn_fetchwait_free() with the waiter still parked */
} rn_fetchwait_reason_t;

/* Called once per waiter, on the event loop (or inside rn_fetchwait_free for SHUTDOWN). The
 * waiter is freed when the callback returns; cancelling it inside its own callback is a
 * harmless no-op. The callback may park, cancel or notify other waiters. */
typedef void (*rn_fetchwait_cb)(rn_fetchwaiter_t *waiter, rn_fetchwait_reason_t reason, void *arg);

/* A registry on base. Aborts on OOM. */
rn_fetchwait_t *rn_fetchwait_new(struct event_base *base);

/* Call every parked waiter's callback with RN_FETCHWAIT_SHUTDOWN, then free everything. */
void rn_fetchwait_free(rn_fetchwait_t *fw);

/* Park a request that will watch up to nkeys partitions (add them with rn_fetchwait_watch).
 * have_bytes is what the request already found; it completes with READY once have_bytes plus
 * the counted appended bytes reach min_bytes, or with TIMEOUT after max_wait_ms (<= 0: on the
 * next loop iteration). Returns the waiter; aborts on OOM. */
rn_fetchwaiter_t *rn_fetchwait_park(rn_fetchwait_t *fw, size_t nkeys, int64_t min_bytes,
                                    int64_t have_bytes, int32_t max_wait_ms, rn_fetchwait_cb cb,
                                    void *arg);

/* Watch partition key; at most max_bytes of its appends count (<= 0: no limit). Returns 0, or
 * RN_EFULL when nkeys keys are already watched (the key is then ignored). */
int rn_fetchwait_watch(rn_fetchwaiter_t *waiter, const void *key, int64_t max_bytes);

/* Unpark without calling the callback and free the waiter. */
void rn_fetchwait_cancel(rn_fetchwaiter_t *waiter);

/* bytes were appended to partition key: count them for its waiters. */
void rn_fetchwait_notify(rn_fetchwait_t *fw, const void *key, int64_t bytes);

/* Complete every waiter watching key now (READY), whatever it has seen. */
void rn_fetchwait_wake(rn_fetchwait_t *fw, const void *key);

/* Complete every parked waiter now (READY), e.g. when the broker starts shutting down so
 * long polls answer at once instead of holding the shutdown for max_wait_ms. */
void rn_fetchwait_wake_all(rn_fetchwait_t *fw);

/* Number of parked waiters (including those whose completion is scheduled). */
size_t rn_fetchwait_count(const rn_fetchwait_t *fw);

/* Number of parked waiters watching key and not yet scheduled to complete. */
size_t rn_fetchwait_watchers(const rn_fetchwait_t *fw, const void *key);

#endif
