/* rn_cleaner_thread: the broker's log cleaner thread (Kafka's LogCleaner thread) — compaction
 * of every partition whose topic's cleanup.policy holds "compact", off the event loop.
 *
 * The thread repeats: ask the loop (walk) for the compacted partitions and measure each
 * (rn_cleaner_measure, with its cleaner checkpoint); pick the dirtiest whose dirty ratio is at
 * least its min.cleanable.dirty.ratio, or whose first dirty segment is older than
 * max.compaction.lag.ms, or whose delete horizon has come (a kept tombstone may now go; after
 * a start every compacted log gets one pass for this, since horizons are not checkpointed);
 * run one rn_cleaner_clean pass on it; record the new checkpoint in
 * `<data dir>/cleaner-offset-checkpoint` (Kafka's format, written atomically with fsync on
 * this thread). When no log qualifies it sleeps log.cleaner.backoff.ms. A log whose pass
 * fails with a damaged batch or an I/O error is skipped for ten minutes (Kafka marks such
 * partitions uncleanable).
 *
 * Threading: start, stop and the walk callback run on the loop thread; the walk and every
 * owner step of a pass (rn_cleaner.h) run on the loop at the thread's request, through a pipe
 * the loop watches, while the thread waits. Before each owner step the walk is repeated to
 * check that the partition still has this log (topic deleted or recreated: the pass is
 * abandoned). stop() cancels a pending request and waits for the thread, so it must be
 * called on the loop thread, before the logs are closed.
 *
 * The walk visits, per compacted partition with an open log, an rn_cleaner_part_t: its log
 * and its cleaning settings (hooks in cfg are set by the thread; cfg.limit_offset should be
 * the high watermark so unreplicated records are never compacted). */
#ifndef RN_CLEANER_THREAD_H
#define RN_CLEANER_THREAD_H

#include "rn_cleaner.h"
#include "rn_plog.h"

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct rn_broker;

typedef struct rn_cleaner_part {
    const char *topic;
    int32_t partition;
    rn_plog_t *log;
    rn_cleaner_config_t cfg;          /* delete.retention.ms, min.compaction.lag.ms, limit */
    double min_cleanable_dirty_ratio; /* min.cleanable.dirty.ratio */
    int64_t max_compaction_lag_ms;    /* max.compaction.lag.ms (INT64_MAX: never forced) */
} rn_cleaner_part_t;

typedef void (*rn_cleaner_visit_fn)(void *visit_arg, const rn_cleaner_part_t *part);
/* On the loop: call visit(visit_arg, part) for every partition to compact; part and its
 * strings need only live during the call. */
typedef void (*rn_cleaner_walk_fn)(void *walk_arg, rn_cleaner_visit_fn visit, void *visit_arg);

typedef struct rn_cleaner_thread_opts {
    const char *data_dir;       /* holds cleaner-offset-checkpoint */
    int64_t backoff_ms;         /* log.cleaner.backoff.ms: 15000 */
    size_t dedupe_buffer_bytes; /* log.cleaner.dedupe.buffer.size: 128 MiB */
    rn_cleaner_walk_fn walk;
    void *walk_arg;
} rn_cleaner_thread_opts_t;

typedef struct rn_cleaner_thread rn_cleaner_thread_t;

/* Load the cleaner checkpoint and start the thread on base's loop. NULL with a message in
 * err when the thread or its pipe cannot be created (a damaged checkpoint file is logged
 * and ignored: the logs are then cleaned from their start). */
rn_cleaner_thread_t *rn_cleaner_thread_start(struct event_base *base,
                                             const rn_cleaner_thread_opts_t *opts, char *err,
                                             size_t errlen);
/* Stop and free (NULL is a no-op). Loop thread; see Threading. */
void rn_cleaner_thread_stop(rn_cleaner_thread_t *ct);

typedef struct rn_cleaner_thread_stats {
    int64_t passes;    /* passes finished (successfully) */
    int64_t cancelled; /* passes abandoned (log changed or gone, stop) */
    int64_t failed;    /* passes failed (damaged log, I/O) */
    int64_t segments_written;
    int64_t tombstones_dropped;
} rn_cleaner_thread_stats_t;

/* Counters so far. Any thread. */
void rn_cleaner_thread_stats(rn_cleaner_thread_t *ct, rn_cleaner_thread_stats_t *out);

/* ---- the broker's module (cleaner_walk.c): walks the data path's compacted partitions ----
 * Starts the thread when log.cleaner.enable is true (b->cleaner), stops it at shutdown; list
 * it in rn_broker_modules after the data path. */
int rn_cleaner_thread_module_init(struct rn_broker *b, char *err, size_t errlen);
void rn_cleaner_thread_module_shutdown(struct rn_broker *b);

#endif
