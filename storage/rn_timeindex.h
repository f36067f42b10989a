/* rn_timeindex: the time index of a segment (Kafka's `.timeindex` file).
 *
 * 12-byte big-endian entries: timestamp i64, relative offset u32. An entry is added at the
 * offset index's cadence, and only when the largest timestamp seen so far has grown; it maps
 * that timestamp to the (last) offset of the batch that first reached it. So timestamps are
 * strictly increasing and offsets non-decreasing. When a segment is rolled or closed a final
 * entry records its largest timestamp, which is how a reopened segment knows its largest
 * timestamp (retention) without reading the log.
 *
 * Storage, preallocation, trimming and threading are those of the offset index (rn_index.h). */
#ifndef RN_TIMEINDEX_H
#define RN_TIMEINDEX_H

#include "rn_index.h"

#include <stddef.h>
#include <stdint.h>

#define RN_TIMEINDEX_ENTRY_SIZE 12

typedef struct rn_timeindex {
    rn__idxfile_t file;
    int64_t base_offset;
} rn_timeindex_t;

typedef struct rn_timeindex_entry {
    int64_t timestamp;
    int64_t offset; /* absolute */
} rn_timeindex_entry_t;

/* Open `path` (created when missing); see rn__idxfile_open for writable/max_bytes. */
int rn_timeindex_open(rn_timeindex_t *tidx, const char *path, int64_t base_offset, int writable,
                      size_t max_bytes);
void rn_timeindex_close(rn_timeindex_t *tidx);

static inline uint32_t rn_timeindex_entries(const rn_timeindex_t *tidx)
{
    return tidx->file.entries;
}
rn_timeindex_entry_t rn_timeindex_entry(const rn_timeindex_t *tidx, uint32_t i);
/* Full for roll purposes: one slot stays free for the entry written when the segment rolls. */
static inline int rn_timeindex_is_full(const rn_timeindex_t *tidx)
{
    return tidx->file.entries + 1 >= tidx->file.max_entries;
}
/* The last entry, or {-1, base_offset} when there is none. */
rn_timeindex_entry_t rn_timeindex_last(const rn_timeindex_t *tidx);

/* Append (timestamp, offset) when timestamp is greater than the last entry's; otherwise do
 * nothing and return 0. final = 1 at roll/close may use the reserved last slot. Returns 0,
 * RN_EFULL, or RN_EINVAL (offset below the last entry's or not relative to the base). */
int rn_timeindex_maybe_append(rn_timeindex_t *tidx, int64_t timestamp, int64_t offset, int final);

/* Greatest entry with entry.timestamp <= timestamp: 1 and *out, or 0 (scan from position 0). */
int rn_timeindex_lookup(const rn_timeindex_t *tidx, int64_t timestamp, rn_timeindex_entry_t *out);

/* Drop entries with entry.offset >= offset; reset drops all (writable index only). */
void rn_timeindex_truncate_to(rn_timeindex_t *tidx, int64_t offset);
void rn_timeindex_reset(rn_timeindex_t *tidx);

/* Validate n = len / 12 entries: strictly increasing timestamps, non-decreasing relative
 * offsets each <= max_rel_offset. Returns 0 or RN_ECORRUPT with a static reason in *why. */
int rn_timeindex_check_bytes(const uint8_t *buf, size_t len, int64_t max_rel_offset,
                             const char **why);
/* Same on the loaded entries; every offset must be < next_offset. */
int rn_timeindex_check(const rn_timeindex_t *tidx, int64_t next_offset, const char **why);

#endif
