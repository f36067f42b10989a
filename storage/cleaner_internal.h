/* Internal to the log cleaner (cleaner.c, cleaner_map.c, cleaner_filter.c, cleaner_out.c):
 * the offset map, the producer map, reading batches from a segment snapshot, the per-batch
 * retention rules and the writer of `.cleaned` segments. Never included outside storage/. */
#ifndef RN_CLEANER_INTERNAL_H
#define RN_CLEANER_INTERNAL_H

#include "rn_cleaner.h"
#include "rn_index.h"
#include "rn_segment.h"
#include "rn_timeindex.h"

#include <stddef.h>
#include <stdint.h>

/* ---- key hashes and the offset map (cleaner_map.c) ---- */

/* A 128-bit key hash: two independently seeded 64-bit lanes. */
typedef struct rn__ckey {
    uint64_t a, b;
} rn__ckey_t;

rn__ckey_t rn__cleaner_hash(const uint8_t *key, size_t len);

typedef struct rn__offmap_slot {
    uint64_t a, b;
    int64_t offset; /* -1: empty slot */
} rn__offmap_slot_t;

/* Open addressing (linear probing) on a power-of-two table filled to at most 90 %
 * (Kafka's log.cleaner.io.buffer.load.factor). Invariant: entries <= max_entries < slots. */
typedef struct rn__offmap {
    rn__offmap_slot_t *slots;
    size_t mask;
    size_t entries, max_entries;
} rn__offmap_t;

/* Size the table for want_entries keys (at least 1), within max_bytes (at least a small
 * table). Returns 0 or RN_ENOMEM. */
int rn__offmap_init(rn__offmap_t *map, uint64_t want_entries, size_t max_bytes);
void rn__offmap_free(rn__offmap_t *map);
/* Record offset as the latest for key. RN_EFULL when key is new and the map is full. */
int rn__offmap_put(rn__offmap_t *map, rn__ckey_t key, int64_t offset);
/* The latest offset mapped for key, or -1. */
int64_t rn__offmap_get(const rn__offmap_t *map, rn__ckey_t key);

/* Producer id -> its last batch in the cleaned range (last offset, maxTimestamp). */
typedef struct rn__pidmap_slot {
    int64_t pid; /* -1: empty */
    int64_t last_offset;
    int64_t max_timestamp;
} rn__pidmap_slot_t;

typedef struct rn__pidmap {
    rn__pidmap_slot_t *slots;
    size_t mask, entries;
} rn__pidmap_t;

void rn__pidmap_init(rn__pidmap_t *pm);
void rn__pidmap_free(rn__pidmap_t *pm);
/* Note a batch of pid (>= 0) ending at last_offset; batches come in offset order. */
void rn__pidmap_note(rn__pidmap_t *pm, int64_t pid, int64_t last_offset, int64_t max_timestamp);
/* 1 and the entry for pid, or 0. */
int rn__pidmap_get(const rn__pidmap_t *pm, int64_t pid, rn__pidmap_slot_t *out);

/* ---- reading a segment snapshot (cleaner_filter.c) ---- */

/* Whole batches of one sealed segment from position 0 up to size (the size taken at the
 * snapshot: later bytes are ignored), read with pread through a chunk buffer. */
typedef struct rn__segreader {
    const rn_segment_t *seg; /* a reference is held by the pass */
    uint64_t size;
    uint64_t pos; /* the next batch */
    uint8_t *buf; /* buf[0..len) holds file bytes [buf_pos, buf_pos + len) */
    size_t len, cap;
    uint64_t buf_pos;
    const char *name; /* topic-partition, for messages */
} rn__segreader_t;

void rn__segreader_init(rn__segreader_t *rd, const rn_segment_t *seg, uint64_t size,
                        const char *name);
void rn__segreader_free(rn__segreader_t *rd);
/* Next batch: 1 with *batch (valid until the next call) and *hdr, *pos its position; 0 at
 * the end. validate = 1 checks the CRC and record count (rn_batch_validate) and that offsets
 * increase; otherwise only the header is parsed and only the header bytes are read (*batch
 * then holds RN_BATCH_HEADER_SIZE bytes). RN_ECORRUPT (logged), RN_EIO, RN_ENOMEM. */
int rn__segreader_next(rn__segreader_t *rd, int validate, const uint8_t **batch,
                       rn_batch_header_t *hdr, uint64_t *pos);

/* ---- the retention rules of one batch (cleaner_filter.c) ---- */

typedef struct rn__filter {
    const rn__offmap_t *map;
    int64_t map_end; /* records at or past it are kept unexamined */
    const rn__pidmap_t *pids;
    int64_t now_ms;
    int64_t delete_retention_ms;
    int64_t producer_expiration_ms;
    size_t max_batch_bytes;
    rn_cleaner_stats_t *stats;
    uint8_t *out; /* rn_malloc'd output of the last rewritten batch */
    size_t out_len;
} rn__filter_t;

typedef enum rn__verdict {
    RN__BATCH_DROP,     /* nothing of it is written */
    RN__BATCH_ORIGINAL, /* the input bytes, unchanged */
    RN__BATCH_REWRITTEN /* f->out[0..out_len) */
} rn__verdict_t;

/* Apply the retention rules (rn_cleaner.h) to the validated batch[0..hdr total). Returns 0 and
 * *verdict, or RN_ENOMEM / RN_ETOOBIG / RN_ECORRUPT (records that do not parse although the CRC
 * held, logged by the caller). */
int rn__filter_batch(rn__filter_t *f, const uint8_t *batch, const rn_batch_header_t *hdr,
                     rn__verdict_t *verdict);
void rn__filter_free(rn__filter_t *f);

/* ---- writing a cleaned segment (cleaner_out.c) ---- */

/* `<base>.log.cleaned` + `.index.cleaned` + `.timeindex.cleaned` in dir, indexed exactly as
 * rn_segment_append indexes (so rn_segment_open's clean-open sanity check accepts them). */
typedef struct rn__cleaned {
    char *dir;
    int64_t base_offset;
    int fd;
    rn_index_t index;
    rn_timeindex_t tindex;
    uint32_t interval;
    uint64_t size; /* bytes appended (buffered or written) */
    uint64_t bytes_since_index;
    int64_t max_timestamp, offset_of_max_timestamp;
    int64_t next_offset;
    uint8_t *buf; /* write buffer: buf[0..len) not yet written */
    size_t len, cap;
} rn__cleaned_t;

/* Create the three files (replacing leftovers). RN_EIO (logged). */
int rn__cleaned_open(rn__cleaned_t *out, const char *dir, int64_t base_offset,
                     const rn_segment_params_t *params);
/* Append one whole batch. RN_EIO, RN_ETOOBIG (the segment would pass 4 GiB). */
int rn__cleaned_append(rn__cleaned_t *out, const uint8_t *batch, const rn_batch_header_t *hdr);
/* Write what is buffered, add the final time-index entry, trim both indexes, fsync all
 * three files and close them. RN_EIO. The files stay (the swap renames them). */
int rn__cleaned_finish(rn__cleaned_t *out);
/* Close whatever is open and remove the three files. */
void rn__cleaned_discard(rn__cleaned_t *out);
/* Remove `<base>` files with suffix (".cleaned" or ".swap") of all three kinds. */
void rn__cleaned_unlink(const char *dir, int64_t base_offset, const char *suffix);

#endif
