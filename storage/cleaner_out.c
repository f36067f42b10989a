/* The log cleaner's writing side: a cleaned segment `<base>.log.cleaned` and its indexes
 * `.index.cleaned` / `.timeindex.cleaned`, built with the cadence rn_segment_append uses so
 * that, once renamed, the segment opens without a rescan (see cleaner_internal.h). */
#include "cleaner_internal.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define WRITE_CHUNK (1u << 20)

static const char *const kinds[] = {".log", ".index", ".timeindex"};

static void kind_path(char *buf, const char *dir, int64_t base, int kind, const char *suffix)
{
    snprintf(buf, PATH_MAX, "%s/%020" PRId64 "%s%s", dir, base, kinds[kind], suffix);
}

void rn__cleaned_unlink(const char *dir, int64_t base_offset, const char *suffix)
{
    for (int k = 0; k < 3; k++) {
        char path[PATH_MAX];
        kind_path(path, dir, base_offset, k, suffix);
        if (unlink(path) != 0 && errno != ENOENT)
            RN_WARN("cleaner", "cannot remove %s: %s; the next open of the log removes it", path,
                    strerror(errno));
    }
}

static int fail(rn__cleaned_t *out, const char *what)
{
    RN_ERROR("cleaner", "%s/%020" PRId64 ".log.cleaned: %s: %s", out->dir, out->base_offset, what,
             strerror(errno));
    return RN_EIO;
}

int rn__cleaned_open(rn__cleaned_t *out, const char *dir, int64_t base_offset,
                     const rn_segment_params_t *params)
{
    memset(out, 0, sizeof(*out));
    out->dir = rn_xstrdup(dir);
    out->base_offset = base_offset;
    out->next_offset = base_offset;
    out->max_timestamp = -1;
    out->offset_of_max_timestamp = base_offset;
    out->interval = params->index_interval_bytes;
    out->fd = -1;
    char path[PATH_MAX];
    kind_path(path, dir, base_offset, 0, ".cleaned");
    out->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out->fd < 0)
        return fail(out, "cannot create");
    /* Leftover index files of an earlier attempt must not be taken as ours. */
    for (int k = 1; k < 3; k++) {
        kind_path(path, dir, base_offset, k, ".cleaned");
        if (unlink(path) != 0 && errno != ENOENT)
            return fail(out, "cannot remove an old cleaned index");
    }
    kind_path(path, dir, base_offset, 1, ".cleaned");
    if (rn_index_open(&out->index, path, base_offset, 1, params->index_max_bytes) != 0)
        return fail(out, "cannot create the offset index");
    kind_path(path, dir, base_offset, 2, ".cleaned");
    if (rn_timeindex_open(&out->tindex, path, base_offset, 1, params->index_max_bytes) != 0)
        return fail(out, "cannot create the time index");
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return RN_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int flush_buf(rn__cleaned_t *out)
{
    if (out->len == 0)
        return 0;
    if (write_all(out->fd, out->buf, out->len) != 0)
        return fail(out, "write failed");
    out->len = 0;
    return 0;
}

int rn__cleaned_append(rn__cleaned_t *out, const uint8_t *batch, const rn_batch_header_t *hdr)
{
    size_t total = rn_batch_total_size(hdr);
    if (total > UINT32_MAX - out->size)
        return RN_ETOOBIG; /* index positions are u32 */
    uint64_t pos = out->size;
    int64_t last = rn_batch_last_offset(hdr);
    /* rn_segment_append's index rule: the batch's last offset at its start position, once
     * more than index.interval.bytes went by; the time index follows the largest timestamp. A
     * full index only makes lookups scan further. */
    if (hdr->max_timestamp > out->max_timestamp) {
        out->max_timestamp = hdr->max_timestamp;
        out->offset_of_max_timestamp = last;
    }
    if (out->bytes_since_index > out->interval) {
        (void)rn_index_append(&out->index, last, (uint32_t)pos);
        (void)rn_timeindex_maybe_append(&out->tindex, out->max_timestamp,
                                        out->offset_of_max_timestamp, 0);
        out->bytes_since_index = 0;
    }
    out->bytes_since_index += total;
    out->next_offset = last + 1;
    out->size += total;
    if (total >= WRITE_CHUNK) {
        if (flush_buf(out) != 0)
            return RN_EIO;
        if (write_all(out->fd, batch, total) != 0)
            return fail(out, "write failed");
        return 0;
    }
    if (out->len + total > out->cap) {
        if (flush_buf(out) != 0)
            return RN_EIO;
        if (out->cap < WRITE_CHUNK) {
            out->buf = rn_xrealloc(out->buf, WRITE_CHUNK);
            out->cap = WRITE_CHUNK;
        }
    }
    memcpy(out->buf + out->len, batch, total);
    out->len += total;
    return 0;
}

static void close_all(rn__cleaned_t *out)
{
    if (out->fd >= 0)
        close(out->fd);
    out->fd = -1;
    rn_index_close(&out->index);
    rn_timeindex_close(&out->tindex);
    rn_free(out->buf);
    out->buf = NULL;
    out->len = out->cap = 0;
}

int rn__cleaned_finish(rn__cleaned_t *out)
{
    int err = flush_buf(out);
    if (err == 0) {
        /* What rn_segment_seal does at roll: the largest timestamp gets the last entry. */
        (void)rn_timeindex_maybe_append(&out->tindex, out->max_timestamp,
                                        out->offset_of_max_timestamp, 1);
        if (rn__idxfile_trim(&out->index.file) != 0 || rn__idxfile_trim(&out->tindex.file) != 0)
            err = fail(out, "cannot trim the indexes");
        else if (fsync(out->fd) != 0 || rn__idxfile_sync(&out->index.file) != 0 ||
                 rn__idxfile_sync(&out->tindex.file) != 0)
            err = fail(out, "fsync failed");
    }
    close_all(out);
    rn_free(out->dir);
    out->dir = NULL;
    return err;
}

void rn__cleaned_discard(rn__cleaned_t *out)
{
    close_all(out);
    if (out->dir != NULL)
        rn__cleaned_unlink(out->dir, out->base_offset, ".cleaned");
    rn_free(out->dir);
    out->dir = NULL;
}
