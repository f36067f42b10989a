/* Producer state snapshot files (see rn_pidsnap.h). */
#include "rn_pidsnap.h"

#include "rn_alloc.h"
#include "rn_crc32c.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_vec.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rn_pidsnap_parse(const char *name, const uint8_t *buf, size_t len, rn_pidsnap_entry_t **entries,
                     size_t *count, char *err, size_t errlen)
{
    *entries = NULL;
    *count = 0;
    if (len < RN_PIDSNAP_HEADER_SIZE) {
        rn_fsutil_seterr(err, errlen, "%s: %zu bytes, shorter than the 10-byte snapshot header",
                         name, len);
        return RN_ECORRUPT;
    }
    int16_t version = (int16_t)rn_load_be16(buf);
    if (version != RN_PIDSNAP_VERSION) {
        rn_fsutil_seterr(err, errlen, "%s: unknown producer snapshot version %d (want 1)", name,
                         (int)version);
        return RN_ECORRUPT;
    }
    uint32_t stored = rn_load_be32(buf + RN_PIDSNAP_CRC_OFFSET);
    uint32_t computed = rn_crc32c(0, buf + 6, len - 6);
    if (stored != computed) {
        rn_fsutil_seterr(err, errlen, "%s: CRC mismatch (stored 0x%08x, computed 0x%08x)", name,
                         stored, computed);
        return RN_ECORRUPT;
    }
    int32_t n = (int32_t)rn_load_be32(buf + 6);
    size_t body = len - RN_PIDSNAP_HEADER_SIZE;
    if (n < 0 || body % RN_PIDSNAP_ENTRY_SIZE != 0 || body / RN_PIDSNAP_ENTRY_SIZE != (size_t)n) {
        rn_fsutil_seterr(err, errlen,
                         "%s: entry count %" PRId32 " does not match the %zu bytes of entries",
                         name, n, body);
        return RN_ECORRUPT;
    }
    if (n == 0)
        return 0;
    rn_pidsnap_entry_t *out = rn_malloc((size_t)n * sizeof(*out));
    if (out == NULL) {
        rn_fsutil_seterr(err, errlen, "%s: out of memory for %" PRId32 " entries", name, n);
        return RN_ENOMEM;
    }
    const uint8_t *p = buf + RN_PIDSNAP_HEADER_SIZE;
    for (int32_t i = 0; i < n; i++, p += RN_PIDSNAP_ENTRY_SIZE) {
        out[i].producer_id = (int64_t)rn_load_be64(p);
        out[i].producer_epoch = (int16_t)rn_load_be16(p + 8);
        out[i].last_sequence = (int32_t)rn_load_be32(p + 10);
        out[i].last_offset = (int64_t)rn_load_be64(p + 14);
        out[i].offset_delta = (int32_t)rn_load_be32(p + 22);
        out[i].timestamp = (int64_t)rn_load_be64(p + 26);
        out[i].coordinator_epoch = (int32_t)rn_load_be32(p + 34);
        out[i].current_txn_first_offset = (int64_t)rn_load_be64(p + 38);
    }
    *entries = out;
    *count = (size_t)n;
    return 0;
}

void rn_pidsnap_encode(const rn_pidsnap_entry_t *entries, size_t count, uint8_t **out, size_t *len)
{
    size_t size = RN_PIDSNAP_HEADER_SIZE + count * RN_PIDSNAP_ENTRY_SIZE;
    uint8_t *buf = rn_xmalloc(size);
    rn_store_be16(buf, RN_PIDSNAP_VERSION);
    rn_store_be32(buf + 6, (uint32_t)count);
    uint8_t *p = buf + RN_PIDSNAP_HEADER_SIZE;
    for (size_t i = 0; i < count; i++, p += RN_PIDSNAP_ENTRY_SIZE) {
        const rn_pidsnap_entry_t *e = &entries[i];
        rn_store_be64(p, (uint64_t)e->producer_id);
        rn_store_be16(p + 8, (uint16_t)e->producer_epoch);
        rn_store_be32(p + 10, (uint32_t)e->last_sequence);
        rn_store_be64(p + 14, (uint64_t)e->last_offset);
        rn_store_be32(p + 22, (uint32_t)e->offset_delta);
        rn_store_be64(p + 26, (uint64_t)e->timestamp);
        rn_store_be32(p + 34, (uint32_t)e->coordinator_epoch);
        rn_store_be64(p + 38, (uint64_t)e->current_txn_first_offset);
    }
    rn_store_be32(buf + RN_PIDSNAP_CRC_OFFSET, rn_crc32c(0, buf + 6, size - 6));
    *out = buf;
    *len = size;
}

void rn_pidsnap_filename(int64_t offset, char *out)
{
    snprintf(out, RN_PIDSNAP_NAME_SIZE, "%020" PRId64 RN_PIDSNAP_SUFFIX, offset);
}

int rn_pidsnap_parse_filename(const char *name, int64_t *offset)
{
    if (strlen(name) != 20 + sizeof(RN_PIDSNAP_SUFFIX) - 1 ||
        strcmp(name + 20, RN_PIDSNAP_SUFFIX) != 0)
        return RN_EINVAL;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return RN_EINVAL;
        v = v * 10 + (uint64_t)(name[i] - '0');
        if (v > (uint64_t)INT64_MAX)
            return RN_EINVAL;
    }
    *offset = (int64_t)v;
    return 0;
}

static char *snapshot_path(const char *dir, int64_t offset)
{
    char name[RN_PIDSNAP_NAME_SIZE];
    rn_pidsnap_filename(offset, name);
    return rn_fsutil_join(dir, name);
}

int rn_pidsnap_load(const char *dir, int64_t offset, rn_pidsnap_entry_t **entries, size_t *count,
                    char *err, size_t errlen)
{
    *entries = NULL;
    *count = 0;
    char *path = snapshot_path(dir, offset);
    uint8_t *buf;
    size_t len;
    int rc = rn_fsutil_read_file(path, RN_PIDSNAP_MAX_FILE_SIZE, &buf, &len, err, errlen);
    if (rc == 0) {
        rc = rn_pidsnap_parse(path, buf, len, entries, count, err, errlen);
        rn_free(buf);
    }
    rn_free(path);
    return rc;
}

int rn_pidsnap_save(const char *dir, int64_t offset, const rn_pidsnap_entry_t *entries,
                    size_t count, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    rn_pidsnap_encode(entries, count, &buf, &len);
    char *path = snapshot_path(dir, offset);
    int rc = rn_fsutil_write_atomic(path, buf, len, err, errlen);
    rn_free(path);
    rn_free(buf);
    return rc;
}

static int offset_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int rn_pidsnap_list(const char *dir, int64_t **offsets, size_t *count, char *err, size_t errlen)
{
    *offsets = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (d == NULL) {
        rn_fsutil_seterr(err, errlen, "cannot list %s for producer snapshots: %s", dir,
                         strerror(errno));
        return RN_EIO;
    }
    int64_t *list = NULL;
    size_t n = 0, cap = 0;
    struct dirent *ent;
    for (;;) {
        errno = 0;
        if ((ent = readdir(d)) == NULL)
            break;
        int64_t offset;
        if (rn_pidsnap_parse_filename(ent->d_name, &offset) != 0)
            continue;
        rn_vec_xpush(list, n, cap, offset);
    }
    int saved = errno;
    closedir(d);
    if (saved != 0) {
        rn_fsutil_seterr(err, errlen, "reading %s failed: %s", dir, strerror(saved));
        rn_free(list);
        return RN_EIO;
    }
    if (n > 1)
        qsort(list, n, sizeof(*list), offset_cmp);
    *offsets = list;
    *count = n;
    return 0;
}
