/* rn_pdefer: Produce appends deferred behind per-byte work that runs off the event loop.
 *
 * Two kinds of work leave the loop: recompression (a topic whose compression.type differs
 * from what the producer sent; gzip costs ~170 ms per MB, which on the loop would stall
 * every other connection), and, with produce.worker.threads > 0, the whole per-byte check of
 * a large batch (CRC-32C, decompression and record walk, recompression; rn_precords.h). The
 * Produce handler hands such a batch here as an item with a job: the job's work runs on a
 * worker thread of a pool of our own (an rn_offload pool, so admin fsyncs and produce work
 * never wait for each other), and the item's commit callback — the sequence check and the
 * append — runs back on the loop.
 *
 * Order: a partition is busy while it has items in flight (rn_pdefer_busy). The handler must
 * add every later append to a busy partition as an item too (without work: it only waits its
 * turn), whichever connection it came from. Jobs of one partition may run on several workers
 * at once, but each partition's items commit in the order they were added, so its appends
 * keep their requests' order and idempotent producers' sequences are checked in order.
 * Items of different partitions do not wait for each other.
 *
 * Items belong to a group (one parked Produce request): commit runs per item, finish once
 * after the group's last item. A cancelled group (the connection closed) drops its items in
 * their turn: neither commit nor finish runs, each job is released, and the memory the
 * cancel handed over (the request's frame, which running jobs may still read) is freed with
 * the group after its last item.
 *
 * Memory: the jobs in flight count at most max_bytes of input (rn_pdefer_has_room); past it
 * the handler does the work on the loop, as before, which also slows the producers that
 * overran it. One input larger than max_bytes may still go alone.
 *
 * Loop thread only, but for a job's work. rn_pdefer_free finishes queued jobs first (their
 * callbacks run there). */
#ifndef RN_PDEFER_H
#define RN_PDEFER_H

#include "rn_uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct rn_pdefer rn_pdefer_t;
typedef struct rn_pdefer_group rn_pdefer_group_t;

/* A unit of work for an item, embedded by the caller in a struct of its own. work (NULL:
 * the item only keeps its place) runs on a worker and touches only the job's own memory
 * (and memory the group keeps alive); its return value goes to commit. release frees the
 * job on the loop after its commit, or when its item is dropped. */
typedef struct rn_pdefer_job rn_pdefer_job_t;
struct rn_pdefer_job {
    int (*work)(rn_pdefer_job_t *job);
    void (*release)(rn_pdefer_job_t *job);
    size_t in_bytes; /* counted against max_bytes while in flight */
};

typedef void (*rn_pdefer_commit_fn)(void *group_arg, void *item_arg, rn_pdefer_job_t *job, int rc);
typedef void (*rn_pdefer_finish_fn)(void *group_arg);

/* Start nthreads (>= 1) workers. NULL (errno set) when they cannot start. max_bytes bounds
 * the inputs in flight (see above). */
rn_pdefer_t *rn_pdefer_new(struct event_base *base, int nthreads, size_t max_bytes);
/* Finish every queued job (callbacks run here), stop the workers, free. NULL is ok. */
void rn_pdefer_free(rn_pdefer_t *pd);

/* Items in flight for (topic_id, partition): later appends there must queue behind them. */
bool rn_pdefer_busy(const rn_pdefer_t *pd, const rn_uuid_t *topic_id, int32_t partition);
/* Whether a job of in_bytes input may go to the workers now. */
bool rn_pdefer_has_room(const rn_pdefer_t *pd, size_t in_bytes);
/* Input bytes of the jobs in flight, and items in flight (tests, metrics). */
size_t rn_pdefer_bytes(const rn_pdefer_t *pd);
size_t rn_pdefer_items(const rn_pdefer_t *pd);
/* Jobs whose work has run on a worker since the start (metrics). */
uint64_t rn_pdefer_jobs_run(const rn_pdefer_t *pd);

/* A new, empty group; commit and finish run with arg. */
rn_pdefer_group_t *rn_pdefer_group_new(rn_pdefer_t *pd, rn_pdefer_commit_fn commit,
                                       rn_pdefer_finish_fn finish, void *arg);
/* Queue an item of group g for (topic_id, partition), which is busy from now until the item
 * has committed (or been dropped). job (NULL: an item that only keeps its place) is the
 * module's until released. Items are added from one loop callback: commits and finish run
 * on later loop iterations. */
void rn_pdefer_add(rn_pdefer_group_t *g, const rn_uuid_t *topic_id, int32_t partition,
                   rn_pdefer_job_t *job, void *item_arg);
/* Items of g not committed yet. */
int rn_pdefer_group_left(const rn_pdefer_group_t *g);
/* The group's owner is gone (see above); keep (rn_malloc'd, may be NULL) is freed when the
 * group is. A group with no items left is freed at once. */
void rn_pdefer_group_cancel(rn_pdefer_group_t *g, void *keep);

#endif
