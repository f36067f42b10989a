/* rn_segment: one segment of a partition log: `<base>.log` (record batches back to back,
 * append-only), `<base>.index` and `<base>.timeindex`, base = the first offset the segment
 * may hold, zero-padded to 20 digits.
 *
 * Appends write(2) to the page cache; nothing here fsyncs except rn_segment_sync(). Reads
 * pread() batch headers; Fetch serves file ranges of the .log fd.
 *
 * Lifetime: a segment is refcounted. The partition log owns one reference; a reader that hands
 * the fd to sendfile (a Fetch slice) or the flush thread holds another. rn_segment_delete()
 * removes the files at once but the fds stay open until the last rn_segment_unref(), so a
 * slice taken before retention deleted the segment still reads its bytes.
 *
 * Threading: everything but ref/unref and rn_segment_sync() belongs to the owner thread (the
 * partition's event loop). rn_segment_sync() fsyncs the .log fd, which lives as long as the
 * segment, and the indexes by path (they hold no fd: see rn_index.h).
 *
 * Descriptors: one per segment, the .log's. The indexes are mapped and their files closed.
 *
 * Invariants: size = bytes of whole valid batches in .log (the file length); next_offset =
 * last offset of the last batch + 1, or base_offset when empty; batches have increasing
 * offsets >= base_offset with last offset - base_offset <= INT32_MAX; index entries point at
 * batch starts (see rn_index.h); active <=> the index files are writable (preallocated). */
#ifndef RN_SEGMENT_H
#define RN_SEGMENT_H

#include "rn_batch.h"
#include "rn_index.h"
#include "rn_timeindex.h"

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define RN_SEGMENT_NAME_DIGITS 20
/* Longest file name: 20 digits + ".timeindex" + ".deleted" + NUL. */
#define RN_SEGMENT_NAME_MAX 48

typedef struct rn_segment_params {
    size_t index_max_bytes;        /* segment.index.bytes: preallocated size of active indexes */
    uint32_t index_interval_bytes; /* index.interval.bytes */
} rn_segment_params_t;

typedef struct rn_segment {
    int64_t base_offset;
    int64_t next_offset;
    uint64_t size;
    int64_t max_timestamp;           /* largest batch maxTimestamp, -1 when none */
    int64_t offset_of_max_timestamp; /* last offset of the batch that first reached it */
    int64_t rolling_timestamp;       /* first batch's maxTimestamp (segment.ms), -1 if none */
    int64_t created_ms;              /* when this process opened/created it */
    uint64_t bytes_since_index;      /* bytes appended since the last offset-index entry */
    int fd;                          /* the .log file, O_RDWR */
    int active;
    int deleted;
    int refs;
    char *dir;
    rn_segment_params_t params;
    rn_index_t index;
    rn_timeindex_t tindex;
} rn_segment_t;

/* What opening with recovery found: bytes_cut > 0 when the .log was truncated at `position`
 * because of `reason`; index_rebuilt when the indexes were rebuilt from the log. */
typedef struct rn_segment_recovery {
    uint64_t position;
    uint64_t bytes_cut;
    int index_rebuilt;
    char reason[160]; /* empty when nothing was cut */
} rn_segment_recovery_t;

/* "<20-digit base><suffix>" into buf (RN_SEGMENT_NAME_MAX bytes). */
void rn_segment_file_name(char *buf, int64_t base_offset, const char *suffix);
/* Parse a file name "<20 digits><suffix>" exactly; returns 0 and *base_offset, or -1. */
int rn_segment_parse_name(const char *name, const char *suffix, int64_t *base_offset);

/* Create an empty active segment in dir (files that exist under its name are replaced).
 * Returns 0 or RN_EIO (errno set); *out holds one reference. */
int rn_segment_create(const char *dir, int64_t base_offset, const rn_segment_params_t *params,
                      int64_t now_ms, rn_segment_t **out);

/* Open an existing segment. recover = 1: read every batch validating size, magic, CRC and
 * offsets, cut the .log at the first invalid one and rebuild both indexes (reported in *rec,
 * which may be NULL). recover = 0 (after a clean stop): trust the indexes after a sanity check
 * of their entries, of the last offset-index entry against the log and of the batch headers
 * after it up to the end of the file; a failed check falls back to recovery of this segment.
 * name labels log lines (topic-partition). active = keep the indexes writable. */
int rn_segment_open(const char *dir, const char *name, int64_t base_offset,
                    const rn_segment_params_t *params, int active, int recover, int64_t now_ms,
                    rn_segment_recovery_t *rec, rn_segment_t **out);

void rn_segment_ref(rn_segment_t *seg);
/* Drop a reference; the last one closes the files and frees the segment. */
void rn_segment_unref(rn_segment_t *seg);

/* Append whole batches (already validated, offsets assigned, increasing, >= next_offset) at
 * the end of the .log and index them. On a write error the file is cut back to its previous
 * size and RN_EIO returned. The segment must be active. */
int rn_segment_append(rn_segment_t *seg, const uint8_t *buf, size_t len);

/* Read and parse the header of the batch at pos. Returns 0, RN_ECORRUPT / RN_ETRUNC when no
 * valid header fits there within size, RN_EIO on a read error. */
int rn_segment_read_header(const rn_segment_t *seg, uint64_t pos, rn_batch_header_t *hdr);

/* Position of the first batch whose last offset >= offset (index lookup, then a forward
 * scan of headers). Returns 0 with *pos and *hdr, or RN_ENOTFOUND when no batch qualifies. */
int rn_segment_translate(const rn_segment_t *seg, int64_t offset, uint64_t *pos,
                         rn_batch_header_t *hdr);

/* End of a range of whole batches starting at the batch at start: the greatest batch boundary
 * <= limit, but at least the end of the first batch (sent whole however large, KIP-74). */
int rn_segment_batches_end(const rn_segment_t *seg, uint64_t start, uint64_t limit, uint64_t *end);

typedef struct rn_segment_ts_hit {
    int64_t offset;
    int64_t timestamp;
    int32_t leader_epoch;
} rn_segment_ts_hit_t;

/* First record with timestamp >= ts and offset >= min_offset (ListOffsets by time): time
 * index, offset index, then batch headers, then the records (decompressed when needed) of
 * the first batch whose maxTimestamp >= ts. Returns 0, RN_ENOTFOUND, RN_ENOMEM, RN_EIO. */
int rn_segment_find_timestamp(const rn_segment_t *seg, int64_t ts, int64_t min_offset,
                              rn_segment_ts_hit_t *hit);

/* A batch a timestamp lookup has to look inside. */
typedef struct rn_segment_ts_batch {
    uint64_t position;
    rn_batch_header_t hdr;
} rn_segment_ts_batch_t;

/* rn_segment_find_timestamp, except that when the answer lies inside a compressed batch it
 * returns 1 with the batch in *defer instead of decompressing it (for callers that
 * decompress off the event loop with rn_segment_find_in_batch). */
int rn_segment_find_timestamp_deferred(const rn_segment_t *seg, int64_t ts, int64_t min_offset,
                                       rn_segment_ts_hit_t *hit, rn_segment_ts_batch_t *defer);

/* One question to rn_segment_find_in_batch: the first record with timestamp >= ts and
 * offset >= min_offset; rc 0 with hit, or RN_ENOTFOUND. */
typedef struct rn_segment_ts_query {
    int64_t ts;
    int64_t min_offset;
    int rc;
    rn_segment_ts_hit_t hit;
} rn_segment_ts_query_t;

/* Answer n queries about batch from one pass over its records, decompressing at most
 * max_out bytes of them. A batch that cannot be decoded within that is opaque (*opaque set):
 * every query is answered with its first offset >= min_offset and its maxTimestamp, whatever
 * the timestamp asked. Reads only the .log through pread: any thread holding a reference
 * may call it. Returns 0, RN_ENOMEM or RN_EIO. */
int rn_segment_find_in_batch(const rn_segment_t *seg, const rn_segment_ts_batch_t *batch,
                             rn_segment_ts_query_t *queries, size_t n, size_t max_out,
                             bool *opaque);
/* The decompression budget of a timestamp lookup in one batch. */
#define RN_SEGMENT_TS_MAX_RECORDS (64u << 20)

/* Remove every batch whose last offset >= offset (a batch straddling offset goes whole), fix
 * the indexes, recompute next_offset / max timestamp. Needs an active segment. *bytes_cut may
 * be NULL. */
int rn_segment_truncate_to(rn_segment_t *seg, int64_t offset, uint64_t *bytes_cut);

/* Roll/close: record the largest timestamp in the time index and trim both indexes to their
 * entries (read-only). make_active undoes it (preallocate, writable). */
int rn_segment_seal(rn_segment_t *seg);
int rn_segment_make_active(rn_segment_t *seg);

/* fsync the .log and both indexes. Callable from any thread holding a reference. */
int rn_segment_sync(rn_segment_t *seg);

/* Remove the segment's files (.log renamed .deleted first, then unlinked; the indexes and any
 * .txnindex unlinked). Open fds stay valid for holders of references. */
int rn_segment_delete(rn_segment_t *seg);

/* Largest timestamp for retention: max_timestamp, or the .log's mtime when no batch carries a
 * timestamp. */
int64_t rn_segment_largest_timestamp(const rn_segment_t *seg);

#endif
