/* rn_logmgr: every partition log of one data directory (a log.dirs entry) — Kafka's
 * LogManager without the scheduler: the broker drives the timers.
 *
 * Open: lock the directory and check meta.properties (rn_datadir), note whether the last stop
 * was clean, read recovery-point-offset-checkpoint, log-start-offset-checkpoint and
 * replication-offset-checkpoint, remove leftover `<topic>-<partition>.<id>-delete`
 * directories, then open every `<topic>-<partition>/` (rn_plog_open with its recovery point
 * and log start offset; recovery when the clean-shutdown marker was missing) and attach each
 * log to the flush thread, which the manager starts. The marker is removed at open, so a crash
 * from then on recovers.
 *
 * While running the broker: looks logs up, creates and deletes partitions, calls
 * rn_logmgr_checkpoint() from a timer (file.delete/flush scheduler style: it fsyncs, so off
 * the event loop), rn_logmgr_retain() from a timer, and at shutdown rn_logmgr_close() with
 * clean = true: flush every log, write the checkpoints, close the logs, write the marker.
 *
 * Threading: open, get, create, delete, retain, foreach and close belong to the owner thread
 * (the event loop that owns the logs). rn_logmgr_checkpoint(), rn_logmgr_flush_all() and
 * rn_logmgr_purge_deleted() may run on any one other thread at a time (a worker): they take
 * references on the logs under the manager's lock and do their blocking work outside it. */
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
    int64_t now_ms;  /* wall clock */
} rn_logmgr_opts_t;

/* Open the data directory and every partition log in it (see the top of this file).
 * Returns 0 and *out; RN_ELOCKED (another process owns the directory), RN_EINVAL /
 * RN_ECORRUPT / RN_EUNSUPPORTED (meta.properties), RN_EIO; or the error of the first
 * partition that cannot be opened (the directory is then released). err gets a message that
 * names the file or partition. A damaged checkpoint file is not fatal: it is logged and treated
 * as missing (full recovery / log start at the first segment). */
int rn_logmgr_open(const rn_logmgr_opts_t *opts, rn_logmgr_t **out, char *err, size_t errlen);

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

/* Create the partition directory and its empty log (cfg NULL: default + config_fn), attach it
 * to the flush thread. Returns 0 and *out (may be NULL); RN_EEXIST with *out = the existing
 * log; RN_EINVAL for an invalid topic name or partition; RN_EIO. */
int rn_logmgr_create(rn_logmgr_t *mgr, const char *topic, int32_t partition,
                     const rn_plog_config_t *cfg, rn_plog_t **out);

/* Delete a partition: the log is closed and its directory renamed to
 * `<topic>-<partition>.<32 hex>-delete` (durably); the files are removed by
 * rn_logmgr_purge_deleted() (or the next open), so this never waits on unlinking gigabytes.
 * Slices already handed out stay readable. Returns 0, RN_ENOTFOUND, RN_EIO. */
int rn_logmgr_delete(rn_logmgr_t *mgr, const char *topic, int32_t partition);

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

/* Retention for every log (rn_plog_retain). Owner thread. Returns the segments deleted. */
int rn_logmgr_retain(rn_logmgr_t *mgr, int64_t now_ms);

/* Call cb for every log, in no particular order; a non-zero return stops and is returned. */
typedef int (*rn_logmgr_log_cb)(void *arg, const char *topic, int32_t partition, rn_plog_t *log);
int rn_logmgr_foreach(rn_logmgr_t *mgr, rn_logmgr_log_cb cb, void *arg);
size_t rn_logmgr_count(const rn_logmgr_t *mgr);

/* The high watermark replication-offset-checkpoint held for topic-partition at open, or -1. */
int64_t rn_logmgr_checkpointed_hw(const rn_logmgr_t *mgr, const char *topic, int32_t partition);

/* Whether the previous stop was clean (the marker was found at open). */
bool rn_logmgr_was_clean_shutdown(const rn_logmgr_t *mgr);
rn_datadir_t *rn_logmgr_datadir(rn_logmgr_t *mgr);
rn_flusher_t *rn_logmgr_flusher(rn_logmgr_t *mgr); /* NULL with no_flusher */

#endif
