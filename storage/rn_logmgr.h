/* rn_logmgr: every partition log of one data directory (a log.dirs entry) — Kafka's
 * LogManager without the scheduler: the broker drives the timers.
 *
 * Open: lock the directory and check meta.properties (rn_datadir), note whether the last stop
 * was clean, read replication-offset-checkpoint, remove leftover
 * `<topic>-<partition>.<id>-delete` directories, start the flush thread; then (at once, or in
 * rn_logmgr_load() when the caller must read its own files in the directory first) read
 * recovery-point-offset-checkpoint and log-start-offset-checkpoint and open every
 * `<topic>-<partition>/` (rn_plog_open with its recovery point and log start offset; recovery
 * when the clean-shutdown marker was missing or the partition has no recovery point) and
 * attach each log to the flush thread. The marker is removed at open, so a crash from then on
 * recovers. A partition whose log cannot be opened is logged and left offline (its files
 * untouched; rn_logmgr_create answers its error) so one damaged partition never stops the
 * others.
 *
 * While running the broker: prepares partition directories (with partition.metadata) on a
 * worker, looks logs up, creates and deletes partitions, calls
 * rn_logmgr_checkpoint() from a timer (file.delete/flush scheduler style: it fsyncs, so off
 * the event loop), rn_logmgr_retain() from a timer, and at shutdown rn_logmgr_close() with
 * clean = true: flush every log, write the checkpoints, close the logs, write the marker.
 *
 * Threading: open, load, get, create, close_log, delete, retain, foreach and close belong to
 * the owner thread (the event loop that owns the logs). rn_logmgr_checkpoint(),
 * rn_logmgr_flush_all(), rn_logmgr_purge_deleted(), rn_logmgr_prepare(),
 * rn_logmgr_delete_dir() and rn_logmgr_sync_dir() may run on any one other thread at a time
 * (a worker): they take references on the logs under the manager's lock and do their
 * blocking work outside it. */
#ifndef RN_LOGMGR_H
#define RN_LOGMGR_H

#include "rn_checkpoint.h"
#include "rn_datadir.h"
#include "rn_flusher.h"
#include "rn_plog.h"
#include "rn_uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rn_logmgr rn_logmgr_t;

/* Fill *cfg (pre-set to the manager's default) for a partition opened at start-up or created
 * without an explicit config: the broker's topic configs. */
typedef void (*rn_logmgr_config_fn)(void *arg, const char *topic, int32_t partition,
                                    rn_plog_config_t *cfg);

typedef struct rn_logmgr_opts {
    const char *dir;               /* the data directory; created when missing */
    int32_t node_id;               /* checked against meta.properties */
    const rn_uuid_t *cluster_id;   /* NULL: keep the directory's (or pick one when new) */
    rn_plog_config_t config;       /* default log config (rn_plog_config_default + broker's) */
    rn_logmgr_config_fn config_fn; /* optional per-topic override at open/create */
    void *config_arg;
    bool no_flusher; /* tests/tools: no flush thread (nothing is flushed but explicitly) */
    bool defer_logs; /* open the directory only; rn_logmgr_load() opens the logs */
    int64_t now_ms;  /* wall clock */
} rn_logmgr_opts_t;

/* Open the data directory and (unless opts->defer_logs) every partition log in it (see the
 * top of this file). Returns 0 and *out; RN_ELOCKED (another process owns the directory),
 * RN_EINVAL / RN_ECORRUPT / RN_EUNSUPPORTED (meta.properties), RN_EIO (the directory cannot
 * be listed; it is then released). err gets a message that names the file. A damaged
 * checkpoint file is not fatal: it is logged and treated as missing (full recovery / log start
 * at the first segment). */
int rn_logmgr_open(const rn_logmgr_opts_t *opts, rn_logmgr_t **out, char *err, size_t errlen);

/* After an open with defer_logs: open every partition log (once). config_fn / config_arg,
 * when config_fn is not NULL, replace the opts' (a broker knows its topic configs only after
 * reading them from the directory). Returns 0, RN_EINVAL (called twice), RN_EIO (the directory
 * cannot be listed). */
int rn_logmgr_load(rn_logmgr_t *mgr, rn_logmgr_config_fn config_fn, void *config_arg,
                   int64_t now_ms, char *err, size_t errlen);

/* Shut down. clean = true: flush every log (fsync), write the recovery-point and log-start
 * checkpoints and, when hws is not NULL, replication-offset-checkpoint with the nhw high
 * watermarks given; close the logs, stop the flush thread, write the clean-shutdown marker
 * (only if every step succeeded) and release the lock. clean = false: close everything
 * without flushing or marker (the next open recovers). Returns 0 or the first error (err
 * says what); mgr is freed either way. */
int rn_logmgr_close(rn_logmgr_t *mgr, bool clean, const rn_checkpoint_entry_t *hws, size_t nhw,
                    char *err, size_t errlen);

/* The log of topic-partition, or NULL. Borrowed: valid until deleted or the manager closes. */
rn_plog_t *rn_logmgr_get(rn_logmgr_t *mgr, const char *topic, int32_t partition);

/* Create the partition directory (if rn_logmgr_prepare did not) and open its empty log (cfg
 * NULL: default + config_fn), attach it to the flush thread. Returns 0 and *out (may be
 * NULL); RN_EEXIST with *out = the existing log; RN_EINVAL for an invalid topic name or
 * partition; the load error of an offline partition; RN_EIO. */
int rn_logmgr_create(rn_logmgr_t *mgr, const char *topic, int32_t partition,
                     const rn_plog_config_t *cfg, rn_plog_t **out);

/* Make `<topic>-<partition>/` and its partition.metadata (Kafka's, with topic_id) exist
 * without opening a log, so a topic is on disk before it is announced; the log is opened
 * later by rn_logmgr_create() or at the next start. fresh: the partition is being created
 * now, (re)write partition.metadata; else write it only when missing and warn when it names
 * another topic id. Blocking (fsync); any one thread. Follow with rn_logmgr_sync_dir() to make
 * new directories durable. Returns 0, RN_EINVAL (name), RN_EEXIST (a file in the way),
 * RN_EIO. */
int rn_logmgr_prepare(rn_logmgr_t *mgr, const char *topic, int32_t partition,
                      const rn_uuid_t *topic_id, bool fresh, char *err, size_t errlen);
/* One partition directory to prepare (rn_logmgr_prepare_many). */
typedef struct rn_logmgr_prep {
    const char *topic;
    int32_t partition;
    const rn_uuid_t *topic_id;
} rn_logmgr_prep_t;

/* rn_logmgr_prepare(fresh = true) for n partitions, on up to 8 threads at once: each costs
 * fsyncs, and the file system commits concurrent ones together (a topic of 1,000 partitions
 * waited for 2,000 fsyncs in a row). Returns 0 or the error of one that failed (err says
 * which); the others are done. Any one thread. */
int rn_logmgr_prepare_many(rn_logmgr_t *mgr, const rn_logmgr_prep_t *items, size_t n, char *err,
                           size_t errlen);
/* fsync the data directory itself (after prepare / delete_dir). Any one thread. */
int rn_logmgr_sync_dir(rn_logmgr_t *mgr, char *err, size_t errlen);

/* Delete a partition: close its log if open (or forget it if offline), then rename its
 * directory to `<topic>-<partition>.<32 hex>-delete`; the files are removed by
 * rn_logmgr_purge_deleted() (or the next open), so this never waits on unlinking gigabytes.
 * Slices already handed out stay readable. Returns 0, RN_ENOTFOUND (neither a log nor a
 * directory), RN_EIO. Owner thread. */
int rn_logmgr_delete(rn_logmgr_t *mgr, const char *topic, int32_t partition);
/* The two halves of rn_logmgr_delete, for a caller that renames on a worker so the rename is
 * ordered with its other directory work: close_log (owner thread) closes and forgets the log
 * (0, RN_ENOTFOUND); delete_dir (any one thread) renames and queues the directory of a
 * partition whose log is not open (0, RN_ENOTFOUND: no directory, RN_EEXIST: its log is open,
 * RN_EINVAL, RN_EIO). */
int rn_logmgr_close_log(rn_logmgr_t *mgr, const char *topic, int32_t partition);
int rn_logmgr_delete_dir(rn_logmgr_t *mgr, const char *topic, int32_t partition);

/* Remove the directories of deleted partitions (blocking unlinks). Any one thread. Returns the
 * number removed, or RN_EIO after logging what could not be removed. */
int rn_logmgr_purge_deleted(rn_logmgr_t *mgr);

/* Write recovery-point-offset-checkpoint and log-start-offset-checkpoint for every log, and
 * replication-offset-checkpoint from hws[0..nhw) when hws is not NULL (the broker owns high
 * watermarks). Blocking (fsync). Any one thread. Returns 0, RN_EIO / RN_EINVAL (err says). */
int rn_logmgr_checkpoint(rn_logmgr_t *mgr, const rn_checkpoint_entry_t *hws, size_t nhw, char *err,
                         size_t errlen);

/* fsync every log now (rn_plog_flush). Any one thread. Returns 0 or the first error. */
int rn_logmgr_flush_all(rn_logmgr_t *mgr);

/* Retention hooks (all optional). wants: whether this log gets a pass now (e.g. not a
 * compact-only topic's). retained: a pass deleted segments or moved the log start (the broker
 * drops state below it). Neither may create or delete partitions. */
typedef struct rn_logmgr_retain_ops {
    bool (*wants)(void *arg, const char *topic, int32_t partition, rn_plog_t *log);
    void (*retained)(void *arg, const char *topic, int32_t partition, rn_plog_t *log);
    void *arg;
} rn_logmgr_retain_ops_t;

/* Retention for every log (rn_plog_retain; ops may be NULL). Failures and deletions are
 * logged. Owner thread. Returns the segments deleted. */
int rn_logmgr_retain(rn_logmgr_t *mgr, int64_t now_ms, const rn_logmgr_retain_ops_t *ops);

size_t rn_logmgr_count(const rn_logmgr_t *mgr);

/* The high watermark replication-offset-checkpoint held for topic-partition at open, or -1. */
int64_t rn_logmgr_checkpointed_hw(const rn_logmgr_t *mgr, const char *topic, int32_t partition);

/* Whether the previous stop was clean (the marker was found at open). */
bool rn_logmgr_was_clean_shutdown(const rn_logmgr_t *mgr);
rn_datadir_t *rn_logmgr_datadir(rn_logmgr_t *mgr);
rn_flusher_t *rn_logmgr_flusher(rn_logmgr_t *mgr); /* NULL with no_flusher */

#endif
