/* rn_cleaner: log compaction (Kafka's LogCleaner) for topics whose cleanup.policy holds
 * "compact": keep the latest record of every key in the sealed segments of a partition log.
 *
 * One pass, rn_cleaner_clean(), over one log:
 *  1. Snapshot (owner step, see Threading): references to the sealed segments below the first
 *     uncleanable offset = min(active segment's base, first segment holding a batch younger
 *     than min.compaction.lag.ms, cfg->limit_offset), their sizes and offsets. The dirty range
 *     is [first dirty, first uncleanable), first dirty = the cleaner checkpoint clamped to the
 *     log (cleaner-offset-checkpoint keeps it per partition; the caller loads and saves it).
 *  2. Offset map over the dirty range: 128-bit hash of the key -> latest offset, in at most
 *     cfg->dedupe_buffer_bytes (log.cleaner.dedupe.buffer.size). When it fills, mapping stops
 *     at that record: the map's end is then the new checkpoint and the rest waits for the
 *     next pass. Like Kafka's MD5 map, two keys with equal 128-bit hashes would be taken for
 *     one key (odds about n^2 / 2^129).
 *  3. Every sealed segment below the map's end — the clean part is cleaned again, as in Kafka,
 *     since newer keys supersede old records there too — in groups of consecutive segments
 *     whose sizes add up to at most segment.bytes. Each group is rewritten into
 *     `<base>.log.cleaned` with its `.index.cleaned` and `.timeindex.cleaned` built as appends
 *     would build them (Kafka's index cadence), all fsynced. A group that comes out unchanged
 *     (and is a single segment) is not swapped.
 *  4. Swap (owner step), per group: check its segments are still in the log, unchanged; rename
 *     the three files to `.swap` (indexes first, .log last); delete the old segments (their
 *     `.log` renamed `.deleted`, then unlinked; open fds stay readable); rename the `.swap`
 *     files to their final names; open the new segment (bounded sanity check, no rescan) and
 *     put it in the list in their place (rn_plog_replace_segments). Then, off the owner, the
 *     old segments' last log references are dropped and the directory fsynced.
 *  A crash at any point leaves a readable log: rn_plog_open removes `.cleaned` files, drops a
 *  `.swap` when a `.cleaned` at or below its base remains, otherwise completes it (deletes the
 *  segments its offsets cover, renames it, rebuilds its indexes). As in Kafka, an old segment
 *  of the group that lies wholly past the swap file's last batch (everything in it was
 *  superseded) survives a crash between the rename to `.swap` and its deletion: it holds only
 *  superseded records, so consumers still end with the latest value of every key, and the next
 *  pass removes them again. (Keeping an empty batch at the end of every group would close that
 *  window but leaves segments holding nothing but an empty batch, which librdkafka consumers
 *  take for a fetch size problem: after about ten such responses they report
 *  MSG_SIZE_TOO_LARGE.) Between the rename to `.swap` and the directory fsync ordering relies
 *  on the file system journaling renames in order (ext4, xfs); a process crash loses
 *  nothing.
 *
 * What a pass keeps (Kafka 3.x rules, record batch v2):
 *  - A record at or past the map's end, any record without a key (Kafka rejects keyless
 *    records for compacted topics at produce and drops any the cleaner meets; runnel keeps
 *    them, losing nothing it did not have to), and a keyed record whose offset is the latest
 *    for its key (or whose key the map does not hold) — unless it is a tombstone (null value)
 *    whose batch's delete horizon has passed.
 *  - Delete horizon (KIP-534, not the legacy segment-mtime rule): the first time a batch keeps
 *    a tombstone it gets attribute bit 6 and baseTimestamp = now + delete.retention.ms (the
 *    records' timestamp deltas are rewritten so no timestamp changes). A pass at or after the
 *    horizon drops those tombstones. So a tombstone survives at least one pass and
 *    delete.retention.ms after it first got cleaned; stats->next_horizon_ms says when a pass
 *    will next find one to drop.
 *  - A batch keeping every record and needing no horizon is copied byte for byte. A batch
 *    keeping some is rewritten with the same base offset, lastOffsetDelta (so its sequence
 *    range is intact, as Kafka's overrideLastOffset does), leader epoch, producer id/epoch/base
 * sequence and attributes, its records recompressed with its codec (default level); recordCount,
 * maxTimestamp (largest kept record timestamp; unchanged under LogAppendTime) and CRC recomputed.
 *  - A batch keeping no record is dropped, except that it stays as an empty batch (header only,
 *    recordCount 0, same offsets and sequence range, Kafka's RETAIN_EMPTY) when it is the last
 *    batch of its producer id in the cleaned range and younger than producer_expiration_ms
 *    (so producer state rebuilt from the log after a restart keeps the producer's last
 *    sequence and epoch). A group whose every batch goes becomes an empty segment.
 *  - Control batches (transaction markers) are always kept: there are no transactions yet, so
 *    aborted transactions' records are not removed either.
 *  - A batch that cannot be decoded (decompressed size over cfg->max_batch_bytes, unsupported
 *    codec) is kept as it is and its keys stay out of the map (less compaction, no loss). A
 *    batch failing its CRC or offset checks stops the pass with RN_ECORRUPT: the log is damaged.
 *
 * Threading contract:
 *  - rn_cleaner_clean() runs on any thread (the broker's cleaner thread), one pass per log at a
 *    time. Off the owner it only reads sealed segments through its own references (pread on
 *    their fds) and writes `.cleaned` files, so appends to the active segment, Fetch reads,
 *    the flush thread, retention, DeleteRecords and truncation all go on meanwhile.
 *  - Everything that touches the log's state runs inside cfg->run_owner(owner_arg, fn, fnarg):
 *    the snapshot, and one swap per group. The hook must run fn(fnarg) on the log's owner
 *    thread (the partition's event loop) — or otherwise guarantee that no rn_plog call other
 *    than the any-thread ones (rn_plog_flush, rn_plog_recovery_point,
 *    rn_plog_slice_release) runs during fn — and return fn's result; or return RN_ECANCELED
 *    without calling fn when the log has been closed or deleted. The hook must check that:
 *    `log` is not dereferenced before the first fn, which takes a reference on the log
 *    (dropped when the pass ends, on the calling thread). NULL run_owner means the caller is
 *    the owner thread (tests, tools): fn is called directly.
 *  - Owner steps are short: no fsync, no data copied — renames, unlinks, opening one segment.
 *  - A swap whose segments were deleted or changed since the snapshot (retention, truncation)
 *    is abandoned: its `.cleaned` files are removed and the pass returns RN_ECANCELED; groups
 *    swapped before stay swapped (each swap leaves a complete log), stats->end_offset is left
 *    at first_dirty and the next pass redoes the work.
 *  - cfg->cancelled (optional) is polled between batches; non-zero abandons the pass the same
 *    way (RN_ECANCELED).
 *
 * Errors are 0 or negative RN_E* (rn_err.h). */
#ifndef RN_CLEANER_H
#define RN_CLEANER_H

#include "rn_plog.h"

#include <stddef.h>
#include <stdint.h>

/* Points in a swap where the fault hook may stop a pass as a crash would (tests). */
typedef enum rn_cleaner_step {
    RN_CLEANER_STEP_CLEANED = 1, /* the group's .cleaned files are written and fsynced */
    RN_CLEANER_STEP_SWAP,        /* renamed to .swap; the old segments are all still there */
    RN_CLEANER_STEP_DELETED,     /* the group's first old segment is deleted (mid-swap) */
    RN_CLEANER_STEP_RENAMED,     /* old segments deleted, .swap renamed to the final names */
} rn_cleaner_step_t;

typedef int (*rn_cleaner_owner_fn)(void *fnarg);

typedef struct rn_cleaner_config {
    int64_t delete_retention_ms;    /* delete.retention.ms: 1 day */
    int64_t min_compaction_lag_ms;  /* min.compaction.lag.ms: 0 */
    int64_t producer_expiration_ms; /* producer.id.expiration.ms: 1 day */
    int64_t limit_offset;           /* never clean at or past it (high watermark); -1: none */
    size_t dedupe_buffer_bytes;     /* log.cleaner.dedupe.buffer.size: 128 MiB */
    size_t max_batch_bytes;         /* decompressed records of one batch: 64 MiB */
    /* Run fn(fnarg) as the log's owner; see Threading. NULL: call fn directly. */
    int (*run_owner)(void *owner_arg, rn_cleaner_owner_fn fn, void *fnarg);
    void *owner_arg;
    /* Optional: non-zero abandons the pass (polled between batches; any thread). */
    int (*cancelled)(void *cancel_arg);
    void *cancel_arg;
    /* Tests: called at each rn_cleaner_step_t of each swap; non-zero stops the pass right
     * there, files left as a crash would leave them (the log object must then be closed
     * without further use, as after a crash). NULL in production. */
    int (*fault)(void *fault_arg, rn_cleaner_step_t step);
    void *fault_arg;
} rn_cleaner_config_t;

/* Fill Kafka's defaults (and no hooks). */
void rn_cleaner_config_default(rn_cleaner_config_t *cfg);

typedef struct rn_cleaner_stats {
    int64_t first_dirty;     /* where the pass's dirty range started */
    int64_t end_offset;      /* the new cleaner checkpoint: everything below is clean */
    int64_t next_horizon_ms; /* earliest delete horizon of a tombstone kept; INT64_MAX: none */
    int64_t map_entries;     /* keys mapped */
    int segments_read;       /* sealed segments rewritten (read in full) */
    int segments_written;    /* cleaned segments swapped in */
    uint64_t bytes_read, bytes_written;
    int64_t batches_read, batches_written;
    int64_t records_read, records_kept;
    int64_t tombstones_dropped;
    int64_t empty_batches;     /* batches kept empty for their producer's state */
    int64_t undecoded_batches; /* kept as they were: could not be decoded */
} rn_cleaner_stats_t;

/* One compaction pass over log (see the top of this file), cleaning from first_dirty (the
 * cleaner checkpoint; clamped to the log: below the log start or past the log end starts at
 * the log start) at wall-clock time now_ms. stats (required) is filled even on failure.
 * Returns 0 (also when there was nothing to do: end_offset = first dirty), RN_ECANCELED
 * (stopped, the log closed, or segments changed under the pass), RN_ECORRUPT (a damaged batch,
 * logged with its segment and position), RN_EIO, RN_ENOMEM (the offset map or a batch could
 * not be allocated). Any thread, per the contract above. */
int rn_cleaner_clean(rn_plog_t *log, const rn_cleaner_config_t *cfg, int64_t first_dirty,
                     int64_t now_ms, rn_cleaner_stats_t *stats);

/* How dirty a log is (Kafka's cleanable ratio), for choosing which log to clean. */
typedef struct rn_cleaner_dirt {
    int64_t first_dirty;       /* the checkpoint clamped as rn_cleaner_clean does */
    int64_t first_uncleanable; /* the dirty range ends here */
    uint64_t clean_bytes;      /* sealed segments wholly below first_dirty */
    uint64_t dirty_bytes;      /* sealed segments overlapping the dirty range */
    double dirty_ratio;        /* dirty / (clean + dirty); 0 when both are 0 */
    /* rolling timestamp (first batch's) of the first dirty segment, -1 when none: with
     * max.compaction.lag.ms it says when cleaning is overdue. */
    int64_t first_dirty_timestamp;
} rn_cleaner_dirt_t;

/* Measure log with the checkpoint first_dirty. Owner thread (it reads the segment list). */
void rn_cleaner_measure(const rn_plog_t *log, const rn_cleaner_config_t *cfg, int64_t first_dirty,
                        int64_t now_ms, rn_cleaner_dirt_t *dirt);

#endif
