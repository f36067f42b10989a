/* rn_index: the offset index of a segment (Kafka's `.index` file), and the mmapped
 * fixed-entry index file both index kinds are built on.
 *
 * File format (big-endian), 8-byte entries: relative offset u32 (offset - segment base),
 * file position u32 of a batch in the segment's `.log`. Kafka indexes a batch's LAST
 * offset with the batch's start position, one entry per index.interval.bytes appended, so
 * entries are strictly increasing in both fields and the first batch of a segment (position
 * 0) never has an entry. A lookup finds the greatest entry <= target; the caller scans batch
 * headers forward from its position.
 *
 * While its segment is active an index file is preallocated to segment.index.bytes (zeros)
 * and mapped read-write; on roll/close it is trimmed to its entries and mapped read-only.
 * No file descriptor stays open: the mapping keeps the file, and the path is opened again
 * only for the moment a resize, a remap or an fsync needs a descriptor (as Kafka does), so an
 * index costs no descriptor of the process's open-file limit.
 * An all-zero entry therefore marks the end of a preallocated file after a crash. Loading
 * never trusts the file: rn_index_check() validates it against the segment and the segment
 * rebuilds an index that fails.
 *
 * Not thread-safe: the owner thread appends, looks up, resizes. Another thread may call
 * rn__idxfile_sync() (an fsync through a descriptor opened for it by path). */
#ifndef RN_INDEX_H
#define RN_INDEX_H

#include <stddef.h>
#include <stdint.h>

#define RN_INDEX_ENTRY_SIZE 8
/* The largest entry of any index kind (the time index's 12 bytes, rounded up). */
#define RN__IDXFILE_MAX_ENTRY_SIZE 16

/* ---- internal: an mmapped file of fixed-size entries (shared with rn_timeindex) ----
 * Invariants: entries <= max_entries; map covers max_entries * entry_size bytes when
 * writable, entries * entry_size bytes when read-only (map is NULL when that is 0); the
 * file length equals the mapped length; path names the file until rn__idxfile_close and
 * never changes (another thread's rn__idxfile_sync opens it); no descriptor is held. A
 * failed remap leaves no mapping and no entries (not writable). */
typedef struct rn__idxfile {
    char *path;
    uint8_t *map;
    size_t map_len;
    size_t entry_size;
    uint32_t entries;
    uint32_t max_entries;
    int writable;
    int damaged; /* at open the length was not a multiple of the entry size; reset clears */
} rn__idxfile_t;

/* Open (creating if missing) and map. Counts the entries from the file length, dropping
 * trailing all-zero entries (a preallocated tail). writable: preallocate to max_bytes and map
 * read-write; otherwise trim the file to its entries and map read-only. */
int rn__idxfile_open(rn__idxfile_t *f, const char *path, size_t entry_size, int writable,
                     size_t max_bytes);
/* Preallocate to max_bytes and remap read-write (a segment becoming active again). Opens the
 * file by path for the moment; RN_EIO (errno set) when that fails, the index unchanged. */
int rn__idxfile_make_writable(rn__idxfile_t *f, size_t max_bytes);
/* Trim the file to its entries and remap read-only (roll or close); opens the file by path
 * for the moment, as rn__idxfile_make_writable. */
int rn__idxfile_trim(rn__idxfile_t *f);
/* Keep the first n entries (n <= entries); needs a writable file. */
void rn__idxfile_truncate_entries(rn__idxfile_t *f, uint32_t n);
/* fsync the file, opened by path for it. Safe from another thread while the owner appends or
 * remaps. A file no longer there (deleted with its segment or partition) is nothing to sync:
 * 0. */
int rn__idxfile_sync(rn__idxfile_t *f);
void rn__idxfile_close(rn__idxfile_t *f);
static inline const uint8_t *rn__idxfile_entry(const rn__idxfile_t *f, uint32_t i)
{
    return f->map + (size_t)i * f->entry_size;
}
/* Reads the key an index is searched or truncated by from one entry; base is the index's
 * base offset (for keys stored relative to it). */
typedef int64_t (*rn__idxfile_key_fn)(const uint8_t *entry, int64_t base);
/* Binary search over entries sorted by key(): how many leading entries have key <= target.
 * Both index kinds' lookups are "the entry before that count". */
uint32_t rn__idxfile_count_le(const rn__idxfile_t *f, rn__idxfile_key_fn key, int64_t base,
                              int64_t target);
/* Drop the trailing entries whose key() >= limit, scanning back from the last (needs a
 * writable file, as rn__idxfile_truncate_entries). */
void rn__idxfile_truncate_from(rn__idxfile_t *f, rn__idxfile_key_fn key, int64_t base,
                               int64_t limit);

/* ---- the offset index ---- */
typedef struct rn_index {
    rn__idxfile_t file;
    int64_t base_offset;
} rn_index_t;

typedef struct rn_index_entry {
    int64_t offset;    /* absolute offset: the last offset of the indexed batch */
    uint32_t position; /* the batch's start position in the .log file */
} rn_index_entry_t;

/* Open `path` (created when missing) for a segment starting at base_offset. writable and
 * max_bytes as for rn__idxfile_open. Returns 0 or RN_EIO (errno set). */
int rn_index_open(rn_index_t *idx, const char *path, int64_t base_offset, int writable,
                  size_t max_bytes);
void rn_index_close(rn_index_t *idx);

static inline uint32_t rn_index_entries(const rn_index_t *idx)
{
    return idx->file.entries;
}
/* Entry i (< rn_index_entries). */
rn_index_entry_t rn_index_entry(const rn_index_t *idx, uint32_t i);
static inline int rn_index_is_full(const rn_index_t *idx)
{
    return idx->file.entries >= idx->file.max_entries;
}

/* Append an entry. Returns 0, RN_EFULL when the index is full (or not writable), RN_EINVAL when
 * offset/position do not increase or the offset is not representable relative to the base. */
int rn_index_append(rn_index_t *idx, int64_t offset, uint32_t position);

/* Greatest entry with entry.offset <= offset. Returns 1 and fills *out, or 0 when there is
 * none (the scan starts at position 0). */
int rn_index_lookup(const rn_index_t *idx, int64_t offset, rn_index_entry_t *out);
/* Greatest entry with entry.position <= position; 1 and *out, or 0. */
int rn_index_lookup_position(const rn_index_t *idx, uint32_t position, rn_index_entry_t *out);

/* Drop every entry with entry.offset >= offset (needs a writable index). */
void rn_index_truncate_to(rn_index_t *idx, int64_t offset);
/* Drop every entry (before a rebuild; needs a writable index). */
void rn_index_reset(rn_index_t *idx);

/* Validate entries in memory: n = len / 8 entries from buf, strictly increasing offsets and
 * positions, every relative offset <= max_rel_offset and every position < max_position
 * (positions must also be > 0: position 0 is never indexed). Returns 0 or RN_ECORRUPT
 * (len not a multiple of 8 is RN_ECORRUPT too); *why gets a static reason. */
int rn_index_check_bytes(const uint8_t *buf, size_t len, int64_t max_rel_offset,
                         uint64_t max_position, const char **why);
/* rn_index_check_bytes on the loaded entries; bounds in absolute terms: every entry offset
 * must be < next_offset (the segment's next offset) and every position < size. */
int rn_index_check(const rn_index_t *idx, int64_t next_offset, uint64_t size, const char **why);

#endif
