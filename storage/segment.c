/* One segment of a partition log: .log + .index + .timeindex (see rn_segment.h). */
#include "rn_segment.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_records.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

void rn_segment_file_name(char *buf, int64_t base_offset, const char *suffix)
{
    snprintf(buf, RN_SEGMENT_NAME_MAX, "%020" PRId64 "%s", base_offset, suffix);
}

int rn_segment_parse_name(const char *name, const char *suffix, int64_t *base_offset)
{
    size_t slen = strlen(suffix);
    if (strlen(name) != RN_SEGMENT_NAME_DIGITS + slen ||
        strcmp(name + RN_SEGMENT_NAME_DIGITS, suffix) != 0)
        return -1;
    int64_t v = 0;
    for (int i = 0; i < RN_SEGMENT_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        int d = name[i] - '0';
        if (v > (INT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *base_offset = v;
    return 0;
}

/* "<dir>/<base><suffix>" into buf[PATH_MAX]; RN_EINVAL when it does not fit. */
static int seg_path(char *buf, const char *dir, int64_t base_offset, const char *suffix)
{
    int n = snprintf(buf, PATH_MAX, "%s/%020" PRId64 "%s", dir, base_offset, suffix);
    if (n < 0 || n >= PATH_MAX) {
        errno = ENAMETOOLONG;
        return RN_EINVAL;
    }
    return 0;
}

static rn_segment_t *seg_alloc(const char *dir, int64_t base_offset,
                               const rn_segment_params_t *params, int64_t now_ms)
{
    rn_segment_t *seg = rn_xcalloc(1, sizeof(*seg));
    seg->base_offset = base_offset;
    seg->next_offset = base_offset;
    seg->max_timestamp = -1;
    seg->offset_of_max_timestamp = base_offset;
    seg->rolling_timestamp = -1;
    seg->created_ms = now_ms;
    seg->fd = -1;
    seg->refs = 1;
    seg->dir = rn_xstrdup(dir);
    seg->params = *params;
    return seg;
}

static void seg_free(rn_segment_t *seg)
{
    rn_index_close(&seg->index);
    rn_timeindex_close(&seg->tindex);
    if (seg->fd >= 0)
        close(seg->fd);
    rn_free(seg->dir);
    rn_free(seg);
}

void rn_segment_ref(rn_segment_t *seg)
{
    __atomic_add_fetch(&seg->refs, 1, __ATOMIC_RELAXED);
}

void rn_segment_unref(rn_segment_t *seg)
{
    if (seg != NULL && __atomic_sub_fetch(&seg->refs, 1, __ATOMIC_ACQ_REL) == 0)
        seg_free(seg);
}

static int open_indexes(rn_segment_t *seg, int writable)
{
    char path[PATH_MAX];
    if (seg_path(path, seg->dir, seg->base_offset, ".index") != 0 ||
        rn_index_open(&seg->index, path, seg->base_offset, writable, seg->params.index_max_bytes) !=
            0)
        return RN_EIO;
    if (seg_path(path, seg->dir, seg->base_offset, ".timeindex") != 0 ||
        rn_timeindex_open(&seg->tindex, path, seg->base_offset, writable,
                          seg->params.index_max_bytes) != 0)
        return RN_EIO;
    return 0;
}

static int indexes_exist(const rn_segment_t *seg)
{
    char path[PATH_MAX];
    return seg_path(path, seg->dir, seg->base_offset, ".index") == 0 && access(path, F_OK) == 0 &&
           seg_path(path, seg->dir, seg->base_offset, ".timeindex") == 0 && access(path, F_OK) == 0;
}

int rn_segment_create(const char *dir, int64_t base_offset, const rn_segment_params_t *params,
                      int64_t now_ms, rn_segment_t **out)
{
    rn_segment_t *seg = seg_alloc(dir, base_offset, params, now_ms);
    char path[PATH_MAX];
    if (seg_path(path, dir, base_offset, ".log") != 0)
        goto fail;
    seg->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (seg->fd < 0)
        goto fail;
    /* Stale indexes under this name (a segment deleted and re-created at the same base) must
     * not be mistaken for ours. */
    static const char *const stale[] = {".index", ".timeindex", ".txnindex"};
    for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
        if (seg_path(path, dir, base_offset, stale[i]) != 0 ||
            (unlink(path) != 0 && errno != ENOENT))
            goto fail;
    }
    if (open_indexes(seg, 1) != 0)
        goto fail;
    seg->active = 1;
    *out = seg;
    return 0;
fail:;
    int saved = errno;
    seg_free(seg);
    errno = saved;
    return RN_EIO;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t pos)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(pos + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return RN_EIO;
        if (n == 0)
            return RN_ETRUNC;
        done += (size_t)n;
    }
    return 0;
}

int rn_segment_read_header(const rn_segment_t *seg, uint64_t pos, rn_batch_header_t *hdr)
{
    uint8_t buf[RN_BATCH_HEADER_SIZE];
    if (pos >= seg->size || seg->size - pos < RN_BATCH_HEADER_SIZE)
        return RN_ETRUNC;
    int err = pread_full(seg->fd, buf, sizeof(buf), pos);
    if (err)
        return err;
    err = rn_batch_header_parse(buf, sizeof(buf), hdr);
    if (err)
        return err == RN_ETRUNC ? RN_ETRUNC : RN_ECORRUPT;
    if (rn_batch_total_size(hdr) > seg->size - pos)
        return RN_ETRUNC;
    return 0;
}

/* Account one appended (or recovered) batch at pos: timestamps, next offset, and an index
 * entry when more than index.interval.bytes went by since the last one (Kafka's rule: the
 * batch's last offset, at the batch's start). */
static void index_batch(rn_segment_t *seg, const rn_batch_header_t *hdr, uint64_t pos)
{
    int64_t last = rn_batch_last_offset(hdr);
    if (pos == 0)
        seg->rolling_timestamp = hdr->max_timestamp;
    if (hdr->max_timestamp > seg->max_timestamp) {
        seg->max_timestamp = hdr->max_timestamp;
        seg->offset_of_max_timestamp = last;
    }
    if (seg->bytes_since_index > seg->params.index_interval_bytes) {
        /* A full index only makes lookups scan further; the log rolls before that matters. */
        (void)rn_index_append(&seg->index, last, (uint32_t)pos);
        (void)rn_timeindex_maybe_append(&seg->tindex, seg->max_timestamp,
                                        seg->offset_of_max_timestamp, 0);
        seg->bytes_since_index = 0;
    }
    seg->bytes_since_index += rn_batch_total_size(hdr);
    seg->next_offset = last + 1;
}

int rn_segment_append(rn_segment_t *seg, const uint8_t *buf, size_t len)
{
    if (!seg->active)
        return RN_EINVAL;
    if (len > UINT32_MAX - seg->size)
        return RN_ETOOBIG; /* positions are u32 in the index */
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(seg->fd, buf + done, len - done, (off_t)(seg->size + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int saved = n < 0 ? errno : EIO;
            /* Leave no partial batch behind: the log stays a sequence of whole batches. */
            if (ftruncate(seg->fd, (off_t)seg->size) != 0)
                RN_ERROR("log",
                         "segment %s/%020" PRId64 ".log: cannot cut a failed append back "
                         "to %" PRIu64 " bytes: %s; recovery will cut it at restart",
                         seg->dir, seg->base_offset, seg->size, strerror(errno));
            errno = saved;
            return RN_EIO;
        }
        done += (size_t)n;
    }
    uint64_t pos = seg->size;
    size_t off = 0;
    while (off < len) {
        rn_batch_header_t hdr;
        if (rn_batch_header_parse(buf + off, len - off, &hdr) != 0)
            break; /* the caller validated the batches; never reached */
        index_batch(seg, &hdr, pos);
        pos += rn_batch_total_size(&hdr);
        off += rn_batch_total_size(&hdr);
    }
    seg->size += len;
    return 0;
}

int rn_segment_translate(const rn_segment_t *seg, int64_t offset, uint64_t *pos,
                         rn_batch_header_t *hdr)
{
    if (offset >= seg->next_offset)
        return RN_ENOTFOUND;
    uint64_t p = 0;
    rn_index_entry_t entry;
    if (rn_index_lookup(&seg->index, offset, &entry))
        p = entry.position;
    while (p < seg->size) {
        int err = rn_segment_read_header(seg, p, hdr);
        if (err)
            return err;
        if (rn_batch_last_offset(hdr) >= offset) {
            *pos = p;
            return 0;
        }
        p += rn_batch_total_size(hdr);
    }
    return RN_ENOTFOUND;
}

int rn_segment_batches_end(const rn_segment_t *seg, uint64_t start, uint64_t limit, uint64_t *end)
{
    rn_batch_header_t hdr;
    int err = rn_segment_read_header(seg, start, &hdr);
    if (err)
        return err;
    uint64_t e = start + rn_batch_total_size(&hdr);
    if (e >= limit || e >= seg->size) {
        *end = e;
        return 0;
    }
    if (limit >= seg->size) {
        *end = seg->size;
        return 0;
    }
    /* Index entries sit at batch starts: jump to the last one below the limit. */
    rn_index_entry_t entry;
    if (rn_index_lookup_position(&seg->index, (uint32_t)limit, &entry) && entry.position > e)
        e = entry.position;
    while (e < seg->size) {
        err = rn_segment_read_header(seg, e, &hdr);
        if (err)
            return err;
        if (e + rn_batch_total_size(&hdr) > limit)
            break;
        e += rn_batch_total_size(&hdr);
    }
    *end = e;
    return 0;
}

/* Cap on a batch's decompressed records when looking up a timestamp; past it the answer is
 * the batch's first offset (the lookup stays correct at batch granularity). */
#define TS_LOOKUP_MAX_RECORDS RN_SEGMENT_TS_MAX_RECORDS

int rn_segment_find_in_batch(const rn_segment_t *seg, const rn_segment_ts_batch_t *batch,
                             rn_segment_ts_query_t *queries, size_t n, size_t max_out, bool *opaque)
{
    const rn_batch_header_t *hdr = &batch->hdr;
    *opaque = false;
    for (size_t q = 0; q < n; q++) {
        queries[q].rc = RN_ENOTFOUND;
        queries[q].hit.leader_epoch = hdr->partition_leader_epoch;
    }
    size_t total = rn_batch_total_size(hdr);
    uint8_t *buf = rn_malloc(total);
    if (buf == NULL)
        return RN_ENOMEM;
    int err = pread_full(seg->fd, buf, total, batch->position);
    if (err) {
        rn_free(buf);
        return err;
    }
    rn_records_iter_t it;
    rn_record_t rec;
    int opened = rn_records_open(&it, buf, total, NULL, max_out);
    int more = 0;
    size_t left = n;
    while (opened == 0 && left > 0 && (more = rn_records_iter_next(&it, &rec)) == 1) {
        for (size_t q = 0; q < n; q++) {
            rn_segment_ts_query_t *qu = &queries[q];
            if (qu->rc == 0 || rec.timestamp < qu->ts || rec.offset < qu->min_offset)
                continue;
            qu->hit.offset = rec.offset;
            qu->hit.timestamp = rec.timestamp;
            qu->rc = 0;
            left--;
        }
    }
    if (opened != 0 || more < 0) {
        *opaque = true;
        for (size_t q = 0; q < n; q++) {
            rn_segment_ts_query_t *qu = &queries[q];
            qu->hit.offset = hdr->base_offset > qu->min_offset ? hdr->base_offset : qu->min_offset;
            qu->hit.timestamp = hdr->max_timestamp;
            qu->rc = 0;
        }
    }
    rn_records_close(&it);
    rn_free(buf);
    return 0;
}

int rn_segment_find_timestamp_deferred(const rn_segment_t *seg, int64_t ts, int64_t min_offset,
                                       rn_segment_ts_hit_t *hit, rn_segment_ts_batch_t *defer)
{
    if (seg->max_timestamp < ts || min_offset >= seg->next_offset)
        return RN_ENOTFOUND;
    /* Batches before the time index entry's batch all have smaller timestamps. */
    uint64_t p = 0;
    rn_timeindex_entry_t tentry;
    rn_index_entry_t entry;
    if (rn_timeindex_lookup(&seg->tindex, ts, &tentry) &&
        rn_index_lookup(&seg->index, tentry.offset, &entry))
        p = entry.position;
    if (rn_index_lookup(&seg->index, min_offset, &entry) && entry.position > p)
        p = entry.position;
    while (p < seg->size) {
        rn_segment_ts_batch_t batch = {.position = p};
        int err = rn_segment_read_header(seg, p, &batch.hdr);
        if (err)
            return err;
        if (batch.hdr.max_timestamp >= ts && rn_batch_last_offset(&batch.hdr) >= min_offset) {
            if (defer != NULL && rn_batch_codec(&batch.hdr) != RN_CODEC_NONE) {
                *defer = batch;
                return 1;
            }
            rn_segment_ts_query_t query = {.ts = ts, .min_offset = min_offset};
            bool opaque;
            err = rn_segment_find_in_batch(seg, &batch, &query, 1, TS_LOOKUP_MAX_RECORDS, &opaque);
            if (err != 0)
                return err;
            if (query.rc == 0) {
                *hit = query.hit;
                return 0;
            }
        }
        p += rn_batch_total_size(&batch.hdr);
    }
    return RN_ENOTFOUND;
}

int rn_segment_find_timestamp(const rn_segment_t *seg, int64_t ts, int64_t min_offset,
                              rn_segment_ts_hit_t *hit)
{
    return rn_segment_find_timestamp_deferred(seg, ts, min_offset, hit, NULL);
}

/* Recompute next_offset, the largest timestamp and bytes_since_index from the indexes' last
 * entries and the batch headers from the last offset-index entry to the end of the file.
 * Fails (with a reason) when that entry is not a batch ending at its offset or the headers
 * do not tile the file exactly. */
static int scan_tail(rn_segment_t *seg, const char **why)
{
    rn_timeindex_entry_t tlast = rn_timeindex_last(&seg->tindex);
    seg->max_timestamp = tlast.timestamp;
    seg->offset_of_max_timestamp = tlast.offset;
    int64_t next = seg->base_offset;
    uint64_t p = 0;
    uint32_t n = rn_index_entries(&seg->index);
    rn_batch_header_t hdr;
    if (n > 0) {
        rn_index_entry_t last = rn_index_entry(&seg->index, n - 1);
        p = last.position;
        if (rn_segment_read_header(seg, p, &hdr) != 0 ||
            rn_batch_last_offset(&hdr) != last.offset) {
            *why = "the last offset-index entry does not point at a batch ending at its offset";
            return RN_ECORRUPT;
        }
    }
    seg->bytes_since_index = seg->size - p;
    while (p < seg->size) {
        if (rn_segment_read_header(seg, p, &hdr) != 0) {
            *why = "batch headers after the last index entry do not reach the end of the file";
            return RN_ECORRUPT;
        }
        int64_t last = rn_batch_last_offset(&hdr);
        if (hdr.base_offset < next || last - seg->base_offset > INT32_MAX) {
            *why = "batch offsets after the last index entry are out of order or out of range";
            return RN_ECORRUPT;
        }
        if (hdr.max_timestamp > seg->max_timestamp) {
            seg->max_timestamp = hdr.max_timestamp;
            seg->offset_of_max_timestamp = last;
        }
        next = last + 1;
        p += rn_batch_total_size(&hdr);
    }
    seg->next_offset = next;
    return 0;
}

static int all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

/* Why the bytes at p (avail of them) are not a valid batch, in words, into buf. */
static void explain_invalid(const uint8_t *p, size_t avail, int err, char *buf, size_t len)
{
    rn_batch_header_t hdr;
    if (all_zero(p, avail)) {
        snprintf(buf, len, "zero-filled tail (%zu bytes)", avail);
        return;
    }
    int perr = rn_batch_header_parse(p, avail, &hdr);
    if (avail <= RN_BATCH_OFF_MAGIC || (perr == RN_ETRUNC && avail < RN_BATCH_HEADER_SIZE)) {
        snprintf(buf, len, "file ends inside a batch header (%zu bytes left)", avail);
    } else if (perr != 0 && hdr.magic != 2) {
        snprintf(buf, len, "bad magic %d (expected 2)", hdr.magic);
    } else if (perr != 0) {
        snprintf(buf, len, "batchLength %" PRId32 " cannot hold a batch header", hdr.batch_length);
    } else if (err == RN_ETRUNC) {
        snprintf(buf, len, "incomplete batch: batchLength says %zu bytes, %zu left in the file",
                 rn_batch_total_size(&hdr), avail);
    } else if (hdr.last_offset_delta < 0 || hdr.record_count < 0 ||
               hdr.record_count > hdr.last_offset_delta + 1) {
        snprintf(buf, len, "recordCount %" PRId32 " inconsistent with lastOffsetDelta %" PRId32,
                 hdr.record_count, hdr.last_offset_delta);
    } else {
        snprintf(buf, len, "CRC-32C mismatch (stored %08" PRIx32 ", computed %08" PRIx32 ")",
                 hdr.crc, rn_batch_compute_crc(p, rn_batch_total_size(&hdr)));
    }
}

/* Validate every batch from position 0 (size, magic, CRC, offsets), cut the file at the first
 * invalid one, rebuild both indexes. The indexes must be writable. */
static int recover_scan(rn_segment_t *seg, const char *name, rn_segment_recovery_t *rec)
{
    rn_index_reset(&seg->index);
    rn_timeindex_reset(&seg->tindex);
    seg->max_timestamp = -1;
    seg->offset_of_max_timestamp = seg->base_offset;
    seg->rolling_timestamp = -1;
    seg->bytes_since_index = 0;
    seg->next_offset = seg->base_offset;
    uint64_t size = seg->size, pos = 0;
    uint8_t *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, seg->fd, 0);
        if (map == MAP_FAILED)
            return RN_EIO;
        madvise(map, size, MADV_SEQUENTIAL);
    }
    while (pos < size) {
        rn_batch_header_t hdr;
        int err = rn_batch_validate(map + pos, size - pos, &hdr);
        if (err) {
            explain_invalid(map + pos, size - pos, err, rec->reason, sizeof(rec->reason));
            break;
        }
        int64_t last = rn_batch_last_offset(&hdr);
        if (hdr.base_offset < seg->next_offset) {
            snprintf(rec->reason, sizeof(rec->reason),
                     "batch base offset %" PRId64 " is below the expected next offset %" PRId64,
                     hdr.base_offset, seg->next_offset);
            break;
        }
        if (last - seg->base_offset > INT32_MAX || pos + rn_batch_total_size(&hdr) > UINT32_MAX) {
            snprintf(rec->reason, sizeof(rec->reason),
                     "batch at offset %" PRId64 " lies outside the segment's offset or byte range",
                     hdr.base_offset);
            break;
        }
        index_batch(seg, &hdr, pos);
        pos += rn_batch_total_size(&hdr);
    }
    if (map != NULL)
        munmap(map, size);
    rec->index_rebuilt = 1;
    if (pos < size) {
        if (ftruncate(seg->fd, (off_t)pos) != 0)
            return RN_EIO;
        rec->position = pos;
        rec->bytes_cut = size - pos;
        RN_WARN("log",
                "%s: recovery cut %" PRIu64 " bytes from segment %020" PRId64
                ".log at position %" PRIu64 " (log now ends at offset %" PRId64 "): %s",
                name, rec->bytes_cut, seg->base_offset, pos, seg->next_offset, rec->reason);
    }
    seg->size = pos;
    return 0;
}

int rn_segment_open(const char *dir, const char *name, int64_t base_offset,
                    const rn_segment_params_t *params, int active, int recover, int64_t now_ms,
                    rn_segment_recovery_t *rec, rn_segment_t **out)
{
    rn_segment_recovery_t local;
    if (rec == NULL)
        rec = &local;
    memset(rec, 0, sizeof(*rec));
    rn_segment_t *seg = seg_alloc(dir, base_offset, params, now_ms);
    char path[PATH_MAX];
    struct stat st;
    int err = RN_EIO;
    if (seg_path(path, dir, base_offset, ".log") != 0)
        goto fail;
    seg->fd = open(path, O_RDWR | O_CLOEXEC);
    if (seg->fd < 0 || fstat(seg->fd, &st) != 0)
        goto fail;
    seg->size = (uint64_t)st.st_size;
    if (!recover && seg->size > 0 && !indexes_exist(seg)) {
        /* Kafka's rule too: a lost index is rebuilt, never trusted empty (every lookup would
         * scan the segment from its start). */
        RN_WARN("log", "%s: segment %020" PRId64 " has no index files; rebuilding them", name,
                base_offset);
        recover = 1;
    }
    if (open_indexes(seg, active || recover) != 0)
        goto fail;
    seg->active = active || recover;
    if (!recover) {
        const char *why = NULL;
        if (rn_index_check(&seg->index, INT64_MAX, seg->size, &why) != 0 ||
            scan_tail(seg, &why) != 0 ||
            rn_index_check(&seg->index, seg->next_offset, seg->size, &why) != 0 ||
            rn_timeindex_check(&seg->tindex, seg->next_offset, &why) != 0) {
            RN_WARN("log",
                    "%s: segment %020" PRId64 " fails its sanity check after a clean "
                    "shutdown (%s); recovering it",
                    name, base_offset, why);
            recover = 1;
            if (!seg->active && rn_segment_make_active(seg) != 0)
                goto fail;
        } else if (seg->size > 0) {
            rn_batch_header_t hdr;
            if (rn_segment_read_header(seg, 0, &hdr) == 0)
                seg->rolling_timestamp = hdr.max_timestamp;
        }
    }
    if (recover && (err = recover_scan(seg, name, rec)) != 0)
        goto fail;
    if (!active && seg->active && (err = rn_segment_seal(seg)) != 0)
        goto fail;
    *out = seg;
    return 0;
fail:;
    int saved = errno;
    seg_free(seg);
    errno = saved;
    return err;
}

int rn_segment_truncate_to(rn_segment_t *seg, int64_t offset, uint64_t *bytes_cut)
{
    if (bytes_cut != NULL)
        *bytes_cut = 0;
    if (!seg->active)
        return RN_EINVAL;
    uint64_t pos;
    rn_batch_header_t hdr;
    int err = rn_segment_translate(seg, offset, &pos, &hdr);
    if (err == RN_ENOTFOUND)
        return 0;
    if (err)
        return err;
    if (ftruncate(seg->fd, (off_t)pos) != 0)
        return RN_EIO;
    if (bytes_cut != NULL)
        *bytes_cut = seg->size - pos;
    /* Entries of the cut batches carry offsets >= the first cut batch's base; earlier ones
     * carry offsets below it. */
    rn_index_truncate_to(&seg->index, hdr.base_offset);
    rn_timeindex_truncate_to(&seg->tindex, hdr.base_offset);
    seg->size = pos;
    if (pos == 0)
        seg->rolling_timestamp = -1;
    const char *why = NULL;
    if (scan_tail(seg, &why) != 0) {
        RN_ERROR("log", "segment %s/%020" PRId64 ".log after truncation: %s", seg->dir,
                 seg->base_offset, why);
        return RN_ECORRUPT;
    }
    return 0;
}

int rn_segment_seal(rn_segment_t *seg)
{
    if (!seg->active)
        return 0;
    (void)rn_timeindex_maybe_append(&seg->tindex, seg->max_timestamp, seg->offset_of_max_timestamp,
                                    1);
    int err = rn__idxfile_trim(&seg->index.file);
    if (rn__idxfile_trim(&seg->tindex.file) != 0)
        err = RN_EIO;
    seg->active = 0;
    return err;
}

int rn_segment_make_active(rn_segment_t *seg)
{
    if (rn__idxfile_make_writable(&seg->index.file, seg->params.index_max_bytes) != 0 ||
        rn__idxfile_make_writable(&seg->tindex.file, seg->params.index_max_bytes) != 0)
        return RN_EIO;
    seg->active = 1;
    return 0;
}

int rn_segment_sync(rn_segment_t *seg)
{
    if (fsync(seg->fd) != 0 || rn__idxfile_sync(&seg->index.file) != 0 ||
        rn__idxfile_sync(&seg->tindex.file) != 0)
        return RN_EIO;
    return 0;
}

int rn_segment_delete(rn_segment_t *seg)
{
    char path[PATH_MAX], deleted[PATH_MAX];
    if (seg_path(path, seg->dir, seg->base_offset, ".log") != 0 ||
        seg_path(deleted, seg->dir, seg->base_offset, ".log.deleted") != 0)
        return RN_EINVAL;
    /* Rename first: a crash part-way leaves a .deleted file that the next open removes,
     * never a .log without its data. */
    if (rename(path, deleted) != 0 && errno != ENOENT)
        return RN_EIO;
    static const char *const suffixes[] = {".index", ".timeindex", ".txnindex", ".log.deleted"};
    int err = 0;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
        if (seg_path(path, seg->dir, seg->base_offset, suffixes[i]) != 0 ||
            (unlink(path) != 0 && errno != ENOENT))
            err = RN_EIO;
    }
    seg->deleted = 1;
    return err;
}

int64_t rn_segment_largest_timestamp(const rn_segment_t *seg)
{
    if (seg->max_timestamp >= 0)
        return seg->max_timestamp;
    struct stat st;
    if (fstat(seg->fd, &st) != 0)
        return -1;
    return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
}
