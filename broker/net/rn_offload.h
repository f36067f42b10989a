/* rn_offload: run blocking work (fsync, atomic metadata writes, directory creation and
 * removal) on one background thread and get the result back on the event loop.
 *
 * design.md decision 3 keeps the loop free of fsync; a handler that must persist something
 * before answering (CreateTopics, AlterConfigs) submits a job and returns RN_HANDLED_ASYNC,
 * and the job's done callback completes the request on the loop.
 *
 *   work(arg)  runs on the worker thread; it must not touch loop-owned state (build what
 *              it needs — a snapshot, paths — before submitting) and returns 0 / RN_E*.
 *   done(arg, rc) runs later on the loop thread with work's return value.
 *
 * Jobs run one at a time in submission order, so two snapshots of the same file are
 * written in the order they were taken. A pool (rn_offload_new_pool) has several worker
 * threads instead: jobs then run concurrently and their done callbacks run in the order
 * the jobs finish; a user that needs an order keeps it itself (rn_pdefer does, per
 * partition). The worker wakes the loop through a pipe, so
 * libevent needs no thread support. rn_offload_free waits for queued jobs to finish and
 * runs their done callbacks (on the calling thread), so nothing is lost at shutdown. */
#ifndef RN_OFFLOAD_H
#define RN_OFFLOAD_H

struct event_base;

typedef struct rn_offload rn_offload_t;
typedef int (*rn_offload_work_fn)(void *arg);
typedef void (*rn_offload_done_fn)(void *arg, int rc);

/* Start the worker thread. NULL (with errno) if the thread or pipe cannot be created. */
rn_offload_t *rn_offload_new(struct event_base *base);
/* The same with nthreads (>= 1) worker threads; a pool of 1 is rn_offload_new. */
rn_offload_t *rn_offload_new_pool(struct event_base *base, int nthreads);
/* Queue a job. work may be NULL (done then runs on the loop with rc 0; with one thread,
 * after every job queued before it). Never fails (aborts on OOM). */
void rn_offload_submit(rn_offload_t *off, rn_offload_work_fn work, rn_offload_done_fn done,
                       void *arg);
/* Jobs submitted and not yet done. */
unsigned rn_offload_pending(const rn_offload_t *off);
/* Finish every queued job (done callbacks run here), stop the threads, free. NULL is ok. */
void rn_offload_free(rn_offload_t *off);

#endif
