/* runnel-dump for offset indexes (.index: relative offset u32 + position u32) and time
 * indexes (.timeindex: timestamp i64 + relative offset u32), with --verify checks of each
 * entry against the batches of the matching .log. */
#include "dump_internal.h"

#include "rn_endian.h"

#include <inttypes.h>

/* The batch starting exactly at pos, or NULL (batches are in file order). */
static const rn_dump_batch_t *batch_at(const rn_dump_batch_t *b, size_t n, uint64_t pos)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].pos < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && b[lo].pos == pos ? &b[lo] : NULL;
}

/* The batch whose offsets include offset, or NULL (assumes offsets increase with position,
 * which the .log dump checks separately). */
static const rn_dump_batch_t *batch_with(const rn_dump_batch_t *b, size_t n, int64_t offset)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b[mid].last_offset < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && b[lo].base_offset <= offset ? &b[lo] : NULL;
}

/* Entries from i on are all zero: an active index's preallocated tail. Prints a note and
 * returns 1, or returns 0 when non-zero bytes follow (reported by the caller). */
static int zero_tail(FILE *out, const uint8_t *buf, size_t len, size_t i, size_t entry)
{
    for (size_t k = i * entry; k < len - len % entry; k++)
        if (buf[k])
            return 0;
    fprintf(out, "note: entries %zu to %zu are zero (preallocated space of an active index)\n", i,
            len / entry - 1);
    return 1;
}

static void check_size(FILE *out, int *problems, size_t len, size_t entry, const char *what)
{
    if (len % entry)
        rn__dump_error(out, problems,
                       "%s size %zu is not a multiple of %zu bytes: the last %zu bytes are a "
                       "partial entry (ignored)",
                       what, len, entry, len % entry);
}

int rn_dump_index(FILE *out, int64_t base_offset, const uint8_t *buf, size_t len,
                  const rn_dump_batch_t *batches, size_t nbatches, const rn_dump_opts_t *opts)
{
    int problems = 0;
    size_t n = len / 8, shown = 0;
    uint32_t prev_rel = 0, prev_pos = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t rel = rn_load_be32(buf + 8 * i), pos = rn_load_be32(buf + 8 * i + 4);
        if (i > 0 && rel == 0 && pos == 0) {
            if (zero_tail(out, buf, len, i, 8))
                break;
            rn__dump_error(out, &problems,
                           "index entry %zu (byte %zu) is zero but later entries are not", i,
                           8 * i);
        }
        int64_t offset = (int64_t)((uint64_t)base_offset + rel);
        fprintf(out, "offset: %lld position: %u (relative offset %u)\n", (long long)offset, pos,
                rel);
        shown++;
        if (i > 0 && (rel <= prev_rel || pos <= prev_pos))
            rn__dump_error(out, &problems,
                           "index entry %zu (offset %lld position %u) does not increase over "
                           "the previous entry (relative offset %u position %u)",
                           i, (long long)offset, pos, prev_rel, prev_pos);
        prev_rel = rel;
        prev_pos = pos;
        if (!opts->verify)
            continue;
        const rn_dump_batch_t *b = batch_at(batches, nbatches, pos);
        if (b == NULL)
            rn__dump_error(out, &problems,
                           "index entry %zu (offset %lld position %u): no batch starts at "
                           "position %u of the log",
                           i, (long long)offset, pos, pos);
        else if (offset < b->base_offset || offset > b->last_offset)
            rn__dump_error(out, &problems,
                           "index entry %zu (offset %lld position %u): the batch at that "
                           "position holds offsets %lld..%lld",
                           i, (long long)offset, pos, (long long)b->base_offset,
                           (long long)b->last_offset);
    }
    check_size(out, &problems, len, 8, "offset index");
    fprintf(out, "summary: %zu index entries%s, %d problem%s\n", shown,
            opts->verify ? ", verified against the log" : "", problems, problems == 1 ? "" : "s");
    return problems;
}

int rn_dump_timeindex(FILE *out, int64_t base_offset, const uint8_t *buf, size_t len,
                      const rn_dump_batch_t *batches, size_t nbatches, const rn_dump_opts_t *opts)
{
    int problems = 0;
    size_t n = len / 12, shown = 0;
    int64_t prev_ts = 0;
    uint32_t prev_rel = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t ts = (int64_t)rn_load_be64(buf + 12 * i);
        uint32_t rel = rn_load_be32(buf + 12 * i + 8);
        if (i > 0 && ts == 0 && rel == 0) {
            if (zero_tail(out, buf, len, i, 12))
                break;
            rn__dump_error(out, &problems,
                           "time index entry %zu (byte %zu) is zero but later entries are not", i,
                           12 * i);
        }
        int64_t offset = (int64_t)((uint64_t)base_offset + rel);
        fprintf(out, "timestamp: %lld offset: %lld (relative offset %u)\n", (long long)ts,
                (long long)offset, rel);
        shown++;
        if (i > 0 && (ts <= prev_ts || rel < prev_rel))
            rn__dump_error(out, &problems,
                           "time index entry %zu (timestamp %lld offset %lld) does not increase "
                           "over the previous entry (timestamp %lld relative offset %u)",
                           i, (long long)ts, (long long)offset, (long long)prev_ts, prev_rel);
        prev_ts = ts;
        prev_rel = rel;
        if (!opts->verify)
            continue;
        const rn_dump_batch_t *b = batch_with(batches, nbatches, offset);
        if (b == NULL)
            rn__dump_error(out, &problems,
                           "time index entry %zu (timestamp %lld offset %lld): no batch of the "
                           "log holds offset %lld",
                           i, (long long)ts, (long long)offset, (long long)offset);
        else if (b->max_timestamp != ts)
            rn__dump_error(out, &problems,
                           "time index entry %zu (timestamp %lld offset %lld): the batch at "
                           "position %" PRIu64 " holding that offset has maxTimestamp %lld",
                           i, (long long)ts, (long long)offset, b->pos,
                           (long long)b->max_timestamp);
    }
    check_size(out, &problems, len, 12, "time index");
    fprintf(out, "summary: %zu time index entries%s, %d problem%s\n", shown,
            opts->verify ? ", verified against the log" : "", problems, problems == 1 ? "" : "s");
    return problems;
}
