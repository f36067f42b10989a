/* The time index (Kafka's `.timeindex`); see rn_timeindex.h. */
#include "rn_timeindex.h"

#include "rn_endian.h"
#include "rn_err.h"

int rn_timeindex_open(rn_timeindex_t *tidx, const char *path, int64_t base_offset, int writable,
                      size_t max_bytes)
{
    tidx->base_offset = base_offset;
    return rn__idxfile_open(&tidx->file, path, RN_TIMEINDEX_ENTRY_SIZE, writable, max_bytes);
}

void rn_timeindex_close(rn_timeindex_t *tidx)
{
    rn__idxfile_close(&tidx->file);
}

rn_timeindex_entry_t rn_timeindex_entry(const rn_timeindex_t *tidx, uint32_t i)
{
    const uint8_t *p = rn__idxfile_entry(&tidx->file, i);
    rn_timeindex_entry_t e = {(int64_t)rn_load_be64(p), tidx->base_offset + rn_load_be32(p + 8)};
    return e;
}

rn_timeindex_entry_t rn_timeindex_last(const rn_timeindex_t *tidx)
{
    if (tidx->file.entries == 0) {
        rn_timeindex_entry_t none = {-1, tidx->base_offset};
        return none;
    }
    return rn_timeindex_entry(tidx, tidx->file.entries - 1);
}

int rn_timeindex_maybe_append(rn_timeindex_t *tidx, int64_t timestamp, int64_t offset, int final)
{
    rn__idxfile_t *f = &tidx->file;
    rn_timeindex_entry_t last = rn_timeindex_last(tidx);
    if (timestamp <= last.timestamp)
        return 0;
    if (offset < last.offset)
        return RN_EINVAL;
    int64_t rel = offset - tidx->base_offset;
    if (rel < 0 || rel > UINT32_MAX)
        return RN_EINVAL;
    uint32_t limit = final ? f->max_entries : (f->max_entries > 0 ? f->max_entries - 1 : 0);
    if (!f->writable || f->entries >= limit)
        return RN_EFULL;
    uint8_t *p = f->map + (size_t)f->entries * RN_TIMEINDEX_ENTRY_SIZE;
    rn_store_be64(p, (uint64_t)timestamp);
    rn_store_be32(p + 8, (uint32_t)rel);
    f->entries++;
    return 0;
}

/* The keys of a time index entry: timestamp, and absolute offset. */
static int64_t timeindex_key_timestamp(const uint8_t *entry, int64_t base)
{
    (void)base;
    return (int64_t)rn_load_be64(entry);
}

static int64_t timeindex_key_offset(const uint8_t *entry, int64_t base)
{
    return base + rn_load_be32(entry + 8);
}

int rn_timeindex_lookup(const rn_timeindex_t *tidx, int64_t timestamp, rn_timeindex_entry_t *out)
{
    uint32_t n = rn__idxfile_count_le(&tidx->file, timeindex_key_timestamp, 0, timestamp);
    if (n == 0)
        return 0;
    *out = rn_timeindex_entry(tidx, n - 1);
    return 1;
}

void rn_timeindex_truncate_to(rn_timeindex_t *tidx, int64_t offset)
{
    rn__idxfile_truncate_from(&tidx->file, timeindex_key_offset, tidx->base_offset, offset);
}

void rn_timeindex_reset(rn_timeindex_t *tidx)
{
    rn__idxfile_truncate_entries(&tidx->file, 0);
}

int rn_timeindex_check_bytes(const uint8_t *buf, size_t len, int64_t max_rel_offset,
                             const char **why)
{
    *why = NULL;
    if (len % RN_TIMEINDEX_ENTRY_SIZE != 0) {
        *why = "file length is not a multiple of 12";
        return RN_ECORRUPT;
    }
    int64_t prev_ts = 0;
    uint32_t prev_rel = 0;
    for (size_t i = 0; i < len / RN_TIMEINDEX_ENTRY_SIZE; i++) {
        const uint8_t *p = buf + i * RN_TIMEINDEX_ENTRY_SIZE;
        int64_t ts = (int64_t)rn_load_be64(p);
        uint32_t rel = rn_load_be32(p + 8);
        if (i > 0 && (ts <= prev_ts || rel < prev_rel)) {
            *why = "entries are not increasing";
            return RN_ECORRUPT;
        }
        if ((int64_t)rel > max_rel_offset) {
            *why = "an entry is past the segment's last offset";
            return RN_ECORRUPT;
        }
        prev_ts = ts;
        prev_rel = rel;
    }
    return 0;
}

int rn_timeindex_check(const rn_timeindex_t *tidx, int64_t next_offset, const char **why)
{
    if (tidx->file.damaged) {
        *why = "file length is not a multiple of 12";
        return RN_ECORRUPT;
    }
    size_t len = (size_t)tidx->file.entries * RN_TIMEINDEX_ENTRY_SIZE;
    if (len == 0) {
        *why = NULL;
        return 0;
    }
    return rn_timeindex_check_bytes(tidx->file.map, len, next_offset - 1 - tidx->base_offset, why);
}
