/* rn_plog: the log of one topic-partition, a directory `<topic>-<partition>/` of segments
 * (Kafka's UnifiedLog/LocalLog). (Named plog because common/rn_log.h is the logging module.)
 *
 * Offsets: log start offset <= every readable offset < log end offset. The last segment is
 * the active one and takes all appends; the others are sealed. Appends validate each batch
 * (size, magic, CRC), assign offsets and the partition leader epoch in place (plus
 * LogAppendTime when configured) and write(2) to the page cache; they never fsync. Durability
 * comes from the flush thread (rn_flusher) per flush.messages / flush.ms, a flush at every
 * roll (as Kafka), and rn_plog_flush() at clean shutdown. The recovery point is the offset
 * below which everything has been fsynced; rn_logmgr checkpoints it, and after an unclean
 * stop rn_plog_open() rescans only from the segment holding it.
 *
 * Threading: one owner thread (the partition's event loop) makes every call, except
 * rn_plog_flush(), rn_plog_recovery_point(), rn_plog_log_start_offset(),
 * rn_plog_log_end_offset() and rn_plog_slice_release(), which any thread may call, and the
 * registered flusher which flushes from its own thread. An internal mutex guards only what the
 * flusher shares (the segment list, recovery point); appends and reads take it for a few
 * instructions at most.
 *
 * Errors are 0 or negative RN_E* codes; Kafka's codes are the broker's mapping of them:
 * RN_ERANGE -> OFFSET_OUT_OF_RANGE, RN_ECORRUPT -> CORRUPT_MESSAGE, RN_EUNSUPPORTED ->
 * UNSUPPORTED_FOR_MESSAGE_FORMAT, RN_ETOOBIG -> RECORD_LIST_TOO_LARGE, RN_EIO ->
 * KAFKA_STORAGE_ERROR, RN_EINVAL on a follower append -> OFFSET_OUT_OF_ORDER. */
#ifndef RN_PLOG_H
#define RN_PLOG_H

#include "rn_batch.h"
#include "rn_segment.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka's topic-level log settings, same names and defaults. */
typedef struct rn_plog_config {
    int64_t segment_bytes;        /* segment.bytes: 1 GiB; 14 .. INT32_MAX */
    int64_t segment_ms;           /* segment.ms: 7 days */
    int64_t segment_index_bytes;  /* segment.index.bytes: 10 MiB (preallocated per index) */
    int64_t index_interval_bytes; /* index.interval.bytes: 4096 */
    int64_t retention_ms;         /* retention.ms: 7 days; -1 keeps forever */
    int64_t retention_bytes;      /* retention.bytes: -1 = no size limit */
    int64_t flush_messages;       /* flush.messages: INT64_MAX = never forced */
    int64_t flush_ms;             /* flush.ms: INT64_MAX = never forced */
    int log_append_time;          /* message.timestamp.type = LogAppendTime */
} rn_plog_config_t;

/* Fill Kafka's defaults. */
void rn_plog_config_default(rn_plog_config_t *cfg);
/* 0, or RN_EINVAL with a message naming the setting and its allowed range in err. */
int rn_plog_config_validate(const rn_plog_config_t *cfg, char *err, size_t errlen);

/* What an open found, for a caller summarising many partitions in one line. */
typedef struct rn_plog_open_stats {
    size_t segments;           /* segments opened */
    size_t segments_recovered; /* of them, validated batch by batch (indexes rebuilt) */
    uint64_t bytes_cut;        /* bytes recovery cut off torn or invalid tails */
    size_t segments_deleted;   /* segments deleted because they followed a cut */
} rn_plog_open_stats_t;

typedef struct rn_plog_open_opts {
    int64_t recovery_point;      /* recovery-point-offset-checkpoint entry; 0 when unknown */
    int64_t log_start_offset;    /* log-start-offset-checkpoint entry; 0 when unknown */
    int clean;                   /* the data dir had a clean-shutdown marker: no rescan */
    int create;                  /* create the directory (one level) when missing */
    int64_t now_ms;              /* wall clock, for segment.ms */
    rn_plog_open_stats_t *stats; /* optional: filled in (also on failure) */
} rn_plog_open_opts_t;

typedef struct rn_plog rn_plog_t;
struct rn_flusher;

/* Open the partition log in dir. Removes leftover .deleted/.cleaned files, completes .swap
 * files, deletes index files without a .log, then opens every segment. Unclean (clean = 0):
 * every segment from the one holding recovery_point on is validated batch by batch; the log is
 * cut at the first invalid batch, later segments deleted, indexes rebuilt, and each cut is
 * logged (RN_WARN) with the topic-partition, segment, position, bytes cut and reason. Clean:
 * indexes are trusted after a sanity check (a failing segment is recovered as above). An empty
 * directory gets a first segment at log_start_offset. The summary line of an open is logged at
 * debug level (cuts and deletions are warnings); opts->stats, when set, receives the counts.
 * Safe to call for different directories from several threads at once. Returns 0 and *out,
 * RN_ENOTFOUND when dir is missing and create is 0, RN_EINVAL for a bad config, RN_EIO. */
int rn_plog_open(const char *dir, const rn_plog_config_t *cfg, const rn_plog_open_opts_t *opts,
                 rn_plog_t **out);

/* Seal the active segment (final time-index entry, trimmed indexes), detach from the flusher,
 * drop the log. Does not fsync: call rn_plog_flush() first for a clean shutdown. Slices still
 * held stay readable until released. */
void rn_plog_close(rn_plog_t *log);

/* Replace the configuration (AlterConfigs); index sizes apply from the next roll. */
int rn_plog_set_config(rn_plog_t *log, const rn_plog_config_t *cfg);
const rn_plog_config_t *rn_plog_config(const rn_plog_t *log);

/* Register with a flush thread (NULL detaches). Without one nothing is flushed but by
 * rn_plog_flush(): flush.messages / flush.ms and the flush at roll need the thread. */
void rn_plog_set_flusher(rn_plog_t *log, struct rn_flusher *flusher);

typedef struct rn_plog_append_info {
    int64_t base_offset;             /* first offset of the first batch */
    int64_t last_offset;             /* last offset of the last batch */
    int64_t max_timestamp;           /* largest batch maxTimestamp (after LogAppendTime) */
    int64_t offset_of_max_timestamp; /* last offset of the batch holding it */
    int64_t log_append_time;         /* the time stamped under LogAppendTime, else -1 */
    int64_t log_start_offset;        /* for the Produce response */
    int32_t batch_count;
    int64_t record_count;
    size_t bytes;
} rn_plog_append_info_t;

/* Leader append: buf holds one or more whole batches back to back (exactly len bytes). Each is
 * validated (rn_batch_validate); if any fails nothing is written and its error returned (buf
 * unchanged). Then, in place: base offsets from the log end on, partitionLeaderEpoch =
 * leader_epoch, and under LogAppendTime maxTimestamp = now_ms (CRC recomputed). Rolls first
 * when the active segment would pass segment.bytes, is older than segment.ms, has a full index
 * or cannot express the new offsets relative to its base. All batches go to one segment.
 * Returns 0 and *info (may be NULL), RN_ECORRUPT/RN_ETRUNC/RN_EUNSUPPORTED (bad batch),
 * RN_ETOOBIG (len > segment.bytes), RN_EIO (write failed; the log is unchanged). */
int rn_plog_append(rn_plog_t *log, uint8_t *buf, size_t len, int32_t leader_epoch, int64_t now_ms,
                   rn_plog_append_info_t *info);

/* rn_plog_append for a caller that has already run rn_batch_validate on every batch in buf
 * and recomputed the CRC of any batch it changed since (Produce does both): the same, but
 * each batch's CRC-32C is not computed a second time; the framing is still checked. */
int rn_plog_append_validated(rn_plog_t *log, uint8_t *buf, size_t len, int32_t leader_epoch,
                             int64_t now_ms, rn_plog_append_info_t *info);

/* Follower append (replication): batches keep the leader's offsets, epochs and timestamps. The
 * first base offset must be >= the log end offset and offsets must increase (gaps allowed, as
 * compaction leaves them); otherwise RN_EINVAL (OFFSET_OUT_OF_ORDER). Other errors as above. */
int rn_plog_append_follower(rn_plog_t *log, const uint8_t *buf, size_t len, int64_t now_ms,
                            rn_plog_append_info_t *info);

/* A file range of whole batches for Fetch. fd belongs to the segment: do not close it; it stays
 * valid (even if retention deletes or truncation shortens the segment, the range may then read
 * short) until rn_plog_slice_release(), which any thread may call (e.g. from a libevent
 * evbuffer_file_segment cleanup callback). length 0 (seg NULL, fd -1) means nothing to send. */
typedef struct rn_plog_slice {
    int fd;
    uint64_t position;
    uint64_t length;
    int64_t first_offset; /* base offset of the first batch in the range */
    rn_segment_t *seg;    /* the reference that keeps fd open */
} rn_plog_slice_t;

/* Whole batches starting with the one that holds `offset`, up to max_bytes in total except that
 * the first batch is returned whole however large (KIP-74), all from one segment, and only
 * batches whose last offset < max_offset (the high watermark / last stable offset for
 * consumers; -1 = no limit). offset == log end (or a first batch crossing max_offset) gives an
 * empty slice. Returns 0, or RN_ERANGE when offset < log start or > log end
 * (OFFSET_OUT_OF_RANGE), RN_EIO. */
int rn_plog_read(rn_plog_t *log, int64_t offset, int64_t max_bytes, int64_t max_offset,
                 rn_plog_slice_t *slice);
void rn_plog_slice_release(rn_plog_slice_t *slice);

int64_t rn_plog_log_start_offset(const rn_plog_t *log);
int64_t rn_plog_log_end_offset(const rn_plog_t *log);
/* Any thread. */
int64_t rn_plog_recovery_point(rn_plog_t *log);
/* Bytes of all segments. */
uint64_t rn_plog_size(const rn_plog_t *log);
const char *rn_plog_name(const rn_plog_t *log); /* "<topic>-<partition>", the dir's name */
const char *rn_plog_dir(const rn_plog_t *log);

/* ListOffsets by timestamp: the first record at or after the log start with timestamp >= ts
 * (compressed batches are decompressed to find it). 0 and *hit (offset, timestamp, the
 * batch's leader epoch), or RN_ENOTFOUND when every timestamp is smaller. */
int rn_plog_offset_for_timestamp(rn_plog_t *log, int64_t ts, rn_segment_ts_hit_t *hit);
/* Both lookups without decompressing on the calling thread: when the answer lies inside a
 * compressed batch they return 1 with *seg (a reference the caller drops with
 * rn_segment_unref, any thread) and *batch, for rn_segment_find_in_batch off the loop.
 * The timestamp lookup starts at min_offset (at least the log start), so a caller whose
 * batch held no match goes on after it; the max-timestamp one leaves in *hit the answer to
 * give when the batch holds no record with the segment's largest timestamp. */
int rn_plog_offset_for_timestamp_deferred(rn_plog_t *log, int64_t ts, int64_t min_offset,
                                          rn_segment_ts_hit_t *hit, rn_segment_t **seg,
                                          rn_segment_ts_batch_t *batch);
int rn_plog_max_timestamp_deferred(rn_plog_t *log, rn_segment_ts_hit_t *hit, rn_segment_t **seg,
                                   rn_segment_ts_batch_t *batch);
/* The largest timestamp in the log and the last offset of the (first) batch holding it
 * (ListOffsets MAX_TIMESTAMP); RN_ENOTFOUND when no batch has a timestamp. */
int rn_plog_max_timestamp(rn_plog_t *log, rn_segment_ts_hit_t *hit);

/* Replication: remove every batch whose last offset >= offset (a batch straddling offset goes
 * whole); segments past it are deleted. The log end becomes the end of the last batch kept (at
 * most offset). offset <= the first segment's base empties the log and restarts it at offset.
 * The recovery point is lowered to the new end when above it. */
int rn_plog_truncate_to(rn_plog_t *log, int64_t offset);
/* True when rn_plog_truncate_to(log, offset) would shorten a segment file that a slice (a
 * Fetch response still being sent with sendfile) holds: the caller waits for the slices to
 * be released rather than cut the bytes under the send. Segments dropped whole are safe
 * (their files stay open until the last reference goes). */
bool rn_plog_truncate_busy(const rn_plog_t *log, int64_t offset);
/* Delete every segment and restart empty at new_start (a follower behind the leader's log
 * start). log start = log end = recovery point = new_start. */
int rn_plog_truncate_fully(rn_plog_t *log, int64_t new_start);

/* DeleteRecords: move the log start offset up to `offset` (<= log end, else RN_ERANGE; the
 * broker checks the high watermark) and delete the segments wholly below it. A lower offset
 * changes nothing. *new_start (may be NULL) gets the log start offset. */
int rn_plog_delete_records(rn_plog_t *log, int64_t offset, int64_t *new_start);

/* Retention pass (the broker calls it from a timer): delete, oldest first and never the active
 * segment, segments wholly below the log start offset, segments whose largest timestamp is
 * more than retention.ms before now_ms, and segments while the log exceeds retention.bytes by
 * at least their size. The log start moves to the first remaining segment. *deleted (may be
 * NULL) gets the number of segments deleted. */
int rn_plog_retain(rn_plog_t *log, int64_t now_ms, int *deleted);

/* fsync every segment holding offsets from the recovery point to the log end (and the
 * directory), then advance the recovery point. Any thread; concurrent flushes serialize. */
int rn_plog_flush(rn_plog_t *log);

/* Call cb for every batch header from the batch holding from_offset up to (excluding) batches
 * whose base offset >= to_offset (-1: to the end); fd/position let cb pread the batch. A
 * non-zero return from cb stops the walk and is returned. */
typedef int (*rn_plog_batch_cb)(void *arg, const rn_batch_header_t *hdr, int fd, uint64_t position);
int rn_plog_foreach_batch(rn_plog_t *log, int64_t from_offset, int64_t to_offset,
                          rn_plog_batch_cb cb, void *arg);

/* Segments, oldest first (the last is active); borrowed pointers for tools and tests. */
size_t rn_plog_segment_count(const rn_plog_t *log);
rn_segment_t *rn_plog_segment_at(const rn_plog_t *log, size_t i);

/* Compaction (plog_swap.c; see rn_cleaner.h): replace the n consecutive sealed segments
 * old[0..n) of the list by seg, which must start at old[0]'s base offset and hold no offset at
 * or past the base of the segment after old[n - 1]. Owner thread only; the list changes under
 * the internal mutex, so the flush thread sees either list. Files are the caller's business.
 * On success the log keeps the caller's reference to seg and hands its references to old[]
 * to the caller, who drops them with rn_segment_unref (any thread; readers holding slices
 * keep the old files). RN_ENOTFOUND when old[] are not consecutive sealed segments of the
 * list any more (retention, truncation), RN_EINVAL for a seg that does not fit there; the list
 * is then unchanged. */
int rn_plog_replace_segments(rn_plog_t *log, rn_segment_t *const *old, size_t n, rn_segment_t *seg);

/* ---- internal (rn_flusher) ---- */
void rn__plog_ref(rn_plog_t *log);
void rn__plog_unref(rn_plog_t *log);
/* When flush.ms asks for a flush: 1 if one is due at now_ms (monotonic), else 0 and *next_ms
 * gets when to look again (INT64_MAX when flush.ms is off). */
int rn__plog_flush_due(rn_plog_t *log, int64_t now_ms, int64_t *next_ms);

#endif
