/* Helpers shared by the partition-log tests, the crash tests, the index fuzz target and the
 * storage benchmark: build uncompressed v2 record batches, make scratch directories, and check
 * a log's on-disk invariants (batches tile each .log; index entries point at batch starts with
 * matching offsets; time-index entries name batches with matching timestamps). Header-only
 * (static functions) so each program takes what it uses. */
#ifndef RN_PLOG_TESTUTIL_H
#define RN_PLOG_TESTUTIL_H

#include "rn_varint.h"
#include "rn_alloc.h"
#include "rn_batch.h"
#include "rn_endian.h"
#include "rn_fsutil.h"
#include "rn_plog.h"
#include "rn_segment.h"
#include "unit/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct tu_buf {
    uint8_t *p;
    size_t len, cap;
} tu_buf_t;

static inline void tu_reserve(tu_buf_t *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    b->p = rn_xrealloc(b->p, cap);
    b->cap = cap;
}

static inline void tu_free(tu_buf_t *b)
{
    rn_free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Append one batch (base offset 0, epoch -1, not idempotent) of `count` records with null keys
 * and value_len-byte values (byte j of record i = seed + 31 i + j), record i at timestamp
 * first_ts + i * ts_step. Returns the batch's position in b. */
static inline size_t tu_add_batch(tu_buf_t *b, int count, size_t value_len, int64_t first_ts,
                                  int64_t ts_step, uint32_t seed)
{
    size_t start = b->len;
    tu_reserve(b, RN_BATCH_HEADER_SIZE + (size_t)count * (value_len + 40));
    uint8_t *h = b->p + start;
    memset(h, 0, RN_BATCH_HEADER_SIZE);
    size_t pos = start + RN_BATCH_HEADER_SIZE;
    int64_t max_ts = first_ts;
    for (int i = 0; i < count; i++) {
        uint8_t body[32];
        size_t n = 0;
        body[n++] = 0; /* attributes */
        n += rn_varint_put_s64(body + n, (int64_t)i * ts_step);
        n += rn_varint_put_s64(body + n, i);
        n += rn_varint_put_s64(body + n, -1); /* null key */
        n += rn_varint_put_s64(body + n, (int64_t)value_len);
        size_t rec_len = n + value_len + 1; /* + headerCount */
        pos += rn_varint_put_s64(b->p + pos, (int64_t)rec_len);
        memcpy(b->p + pos, body, n);
        pos += n;
        for (size_t j = 0; j < value_len; j++)
            b->p[pos + j] = (uint8_t)(seed + 31u * (uint32_t)i + (uint32_t)j);
        pos += value_len;
        b->p[pos++] = 0; /* no headers */
        if (first_ts + (int64_t)i * ts_step > max_ts)
            max_ts = first_ts + (int64_t)i * ts_step;
    }
    size_t total = pos - start;
    rn_store_be64(h, 0);
    rn_store_be32(h + RN_BATCH_OFF_BATCH_LENGTH, (uint32_t)(total - RN_BATCH_LOG_OVERHEAD));
    rn_store_be32(h + RN_BATCH_OFF_LEADER_EPOCH, (uint32_t)-1);
    h[RN_BATCH_OFF_MAGIC] = 2;
    rn_store_be16(h + RN_BATCH_OFF_ATTRIBUTES, 0);
    rn_store_be32(h + RN_BATCH_OFF_LAST_OFFSET_DELTA, (uint32_t)(count - 1));
    rn_store_be64(h + RN_BATCH_OFF_BASE_TIMESTAMP, (uint64_t)first_ts);
    rn_store_be64(h + RN_BATCH_OFF_MAX_TIMESTAMP, (uint64_t)max_ts);
    rn_store_be64(h + RN_BATCH_OFF_PRODUCER_ID, (uint64_t)-1);
    rn_store_be16(h + RN_BATCH_OFF_PRODUCER_EPOCH, (uint16_t)-1);
    rn_store_be32(h + RN_BATCH_OFF_BASE_SEQUENCE, (uint32_t)-1);
    rn_store_be32(h + RN_BATCH_OFF_RECORD_COUNT, (uint32_t)count);
    rn_store_be32(h + RN_BATCH_OFF_CRC, rn_batch_compute_crc(h, total));
    b->len = pos;
    return start;
}

static inline void tu_default_opts(rn_plog_open_opts_t *opts, int clean)
{
    memset(opts, 0, sizeof(*opts));
    opts->clean = clean;
    opts->create = 1;
    opts->now_ms = 1700000000000LL;
}

/* Check the on-disk invariants of one segment; *next (in/out) is the offset the previous
 * segment ended at (-1 at the start). Prints a TAP comment per problem; returns the count. */
static inline int tu_check_segment(const rn_segment_t *seg, int64_t *next)
{
    int problems = 0;
    uint64_t pos = 0;
    int64_t seg_max_ts = -1, seg_next = seg->base_offset;
    rn_batch_header_t hdr;
    while (pos < seg->size) {
        if (rn_segment_read_header(seg, pos, &hdr) != 0) {
            printf("# segment %" PRId64 ": no batch header at %" PRIu64 "\n", seg->base_offset,
                   pos);
            return problems + 1;
        }
        if (hdr.base_offset < seg->base_offset || hdr.base_offset < *next) {
            printf("# segment %" PRId64 ": batch at %" PRIu64 " has offset %" PRId64
                   " (expected >= %" PRId64 ")\n",
                   seg->base_offset, pos, hdr.base_offset, *next);
            problems++;
        }
        if (hdr.max_timestamp > seg_max_ts)
            seg_max_ts = hdr.max_timestamp;
        *next = seg_next = rn_batch_last_offset(&hdr) + 1;
        pos += rn_batch_total_size(&hdr);
    }
    if (seg->next_offset != seg_next) {
        printf("# segment %" PRId64 ": next_offset %" PRId64 " but batches end at %" PRId64 "\n",
               seg->base_offset, seg->next_offset, seg_next);
        problems++;
    }
    if (seg->max_timestamp != seg_max_ts) {
        printf("# segment %" PRId64 ": max_timestamp %" PRId64 " but batches say %" PRId64 "\n",
               seg->base_offset, seg->max_timestamp, seg_max_ts);
        problems++;
    }
    for (uint32_t i = 0; i < rn_index_entries(&seg->index); i++) {
        rn_index_entry_t e = rn_index_entry(&seg->index, i);
        if (rn_segment_read_header(seg, e.position, &hdr) != 0 ||
            rn_batch_last_offset(&hdr) != e.offset) {
            printf("# segment %" PRId64 ": index entry %u (%" PRId64 " @ %u) is not a batch "
                   "ending at that offset\n",
                   seg->base_offset, i, e.offset, e.position);
            problems++;
        }
    }
    for (uint32_t i = 0; i < rn_timeindex_entries(&seg->tindex); i++) {
        rn_timeindex_entry_t te = rn_timeindex_entry(&seg->tindex, i);
        uint64_t p;
        if (rn_segment_translate(seg, te.offset, &p, &hdr) != 0 ||
            rn_batch_last_offset(&hdr) != te.offset || hdr.max_timestamp != te.timestamp) {
            printf("# segment %" PRId64 ": time index entry %u (%" PRId64 " -> %" PRId64
                   ") names no batch with that timestamp\n",
                   seg->base_offset, i, te.timestamp, te.offset);
            problems++;
        }
    }
    return problems;
}

/* tu_check_segment over every segment, plus log end == the active segment's end. */
static inline int tu_check_log(const rn_plog_t *log)
{
    int problems = 0;
    int64_t next = -1;
    for (size_t s = 0; s < rn_plog_segment_count(log); s++)
        problems += tu_check_segment(rn_plog_segment_at(log, s), &next);
    if (rn_plog_segment_count(log) > 0) {
        rn_segment_t *active = rn_plog_segment_at(log, rn_plog_segment_count(log) - 1);
        if (active->next_offset != rn_plog_log_end_offset(log)) {
            printf("# log end %" PRId64 " but the active segment ends at %" PRId64 "\n",
                   rn_plog_log_end_offset(log), active->next_offset);
            problems++;
        }
    }
    return problems;
}

/* How many of this process's descriptors (/proc/self/fd) name a file whose path contains
 * both `under` and `part` (either may be NULL for any; a deleted file's path still matches);
 * -1 when /proc cannot be read. */
static inline int tu_open_fds(const char *under, const char *part)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0, own = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == own)
            continue;
        char target[PATH_MAX];
        ssize_t len = readlinkat(own, e->d_name, target, sizeof(target) - 1);
        if (len < 0)
            continue;
        target[len] = 0;
        if ((under == NULL || strstr(target, under) != NULL) &&
            (part == NULL || strstr(target, part) != NULL))
            n++;
    }
    closedir(d);
    return n;
}

/* Read the whole slice into a new buffer (caller frees with rn_free). */
static inline uint8_t *tu_read_slice(const rn_plog_slice_t *slice)
{
    uint8_t *buf = rn_xmalloc(slice->length ? slice->length : 1);
    size_t done = 0;
    while (done < slice->length) {
        ssize_t n =
            pread(slice->fd, buf + done, slice->length - done, (off_t)(slice->position + done));
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (done != slice->length)
        memset(buf + done, 0xEE, slice->length - done);
    return buf;
}

#endif
