/* The leader-epoch cache and leader-epoch-checkpoint file (see rn_epochs.h). */
#include "rn_epochs.h"

#include "checkpoint_internal.h"
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_vec.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void rn_epochs_init(rn_epochs_t *ec)
{
    ec->entries = NULL;
    ec->count = 0;
    ec->cap = 0;
}

void rn_epochs_destroy(rn_epochs_t *ec)
{
    rn_free(ec->entries);
    rn_epochs_init(ec);
}

int rn_epochs_assign(rn_epochs_t *ec, int32_t epoch, int64_t start_offset)
{
    if (epoch < 0 || start_offset < 0)
        return RN_EINVAL;
    if (ec->count > 0) {
        const rn_epoch_entry_t *last = &ec->entries[ec->count - 1];
        if (last->epoch == epoch && start_offset >= last->start_offset)
            return 0;
    }
    /* Entries are monotonic in both fields, so conflicts form a suffix. */
    while (ec->count > 0) {
        const rn_epoch_entry_t *last = &ec->entries[ec->count - 1];
        if (last->epoch < epoch && last->start_offset < start_offset)
            break;
        ec->count--;
    }
    rn_vec_xpush(ec->entries, ec->count, ec->cap, ((rn_epoch_entry_t){epoch, start_offset}));
    return 1;
}

int32_t rn_epochs_latest(const rn_epochs_t *ec)
{
    return ec->count ? ec->entries[ec->count - 1].epoch : RN_EPOCH_UNDEFINED;
}

/* Binary search over the entries (increasing in both fields): how many leading entries have
 * start_offset (by_offset) or epoch <= key. */
static size_t count_le(const rn_epochs_t *ec, bool by_offset, int64_t key)
{
    size_t lo = 0, hi = ec->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int64_t v = by_offset ? ec->entries[mid].start_offset : ec->entries[mid].epoch;
        if (v <= key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void rn_epochs_end_offset_for(const rn_epochs_t *ec, int32_t requested, int64_t log_end_offset,
                              int32_t *epoch, int64_t *end_offset)
{
    *epoch = RN_EPOCH_UNDEFINED;
    *end_offset = RN_EPOCH_UNDEFINED_OFFSET;
    if (requested == RN_EPOCH_UNDEFINED || ec->count == 0)
        return;
    if (requested == rn_epochs_latest(ec)) {
        *epoch = requested;
        *end_offset = log_end_offset;
        return;
    }
    /* Index of the first entry with epoch > requested. */
    size_t lo = count_le(ec, false, requested);
    if (lo == ec->count)
        return; /* above every epoch: cannot happen while the latest is the largest */
    *end_offset = ec->entries[lo].start_offset;
    /* Below the first entry Kafka answers with the requested epoch itself: the log before
     * the first entry is gone, and the follower must truncate to the leader's start. */
    *epoch = lo == 0 ? requested : ec->entries[lo - 1].epoch;
}

int32_t rn_epochs_epoch_for_offset(const rn_epochs_t *ec, int64_t offset)
{
    size_t lo = count_le(ec, true, offset);
    return lo == 0 ? RN_EPOCH_UNDEFINED : ec->entries[lo - 1].epoch;
}

bool rn_epochs_truncate_from_end(rn_epochs_t *ec, int64_t end_offset)
{
    if (end_offset < 0)
        return false;
    size_t before = ec->count;
    while (ec->count > 0 && ec->entries[ec->count - 1].start_offset >= end_offset)
        ec->count--;
    return ec->count != before;
}

bool rn_epochs_truncate_from_start(rn_epochs_t *ec, int64_t start_offset)
{
    size_t n = 0;
    while (n < ec->count && ec->entries[n].start_offset <= start_offset)
        n++;
    if (n == 0)
        return false;
    /* Keep entry n-1 (the epoch that owns start_offset), re-based; drop those before it. */
    rn_epoch_entry_t kept = {ec->entries[n - 1].epoch, start_offset};
    bool changed = n > 1 || ec->entries[0].start_offset != start_offset;
    memmove(ec->entries + 1, ec->entries + n, (ec->count - n) * sizeof(*ec->entries));
    ec->count -= n - 1;
    ec->entries[0] = kept;
    return changed;
}

int rn_epochs_parse(rn_epochs_t *ec, const char *name, const uint8_t *buf, size_t len, char *err,
                    size_t errlen)
{
    ec->count = 0;
    rn__text_t text;
    rn__text_init(&text, name, buf, len, err, errlen);
    const char *line;
    size_t line_len;
    int64_t version, expected, found = 0;
    if (!rn__text_next(&text, &line, &line_len))
        return 0;
    if (!rn__parse_i64(line, line_len, INT32_MIN, INT32_MAX, &version))
        return rn__text_corrupt(&text, line, line_len, "expected the version number");
    if (version != RN_EPOCHS_VERSION)
        return rn__text_corrupt(&text, line, line_len,
                                "unsupported leader-epoch-checkpoint version (want 0)");
    if (!rn__text_next(&text, &line, &line_len))
        return 0;
    if (!rn__parse_i64(line, line_len, 0, INT32_MAX, &expected))
        return rn__text_corrupt(&text, line, line_len, "expected the number of entries");
    while (rn__text_next(&text, &line, &line_len)) {
        const char *f[2] = {0};
        size_t fl[2] = {0};
        int64_t epoch = 0, start = 0;
        int rc = 0;
        if (rn__split_fields(line, line_len, f, fl, 2) != 2)
            rc = rn__text_corrupt(&text, line, line_len, "expected \"<epoch> <start offset>\"");
        else if (!rn__parse_i64(f[0], fl[0], 0, INT32_MAX, &epoch))
            rc = rn__text_corrupt(&text, line, line_len, "invalid leader epoch");
        else if (!rn__parse_i64(f[1], fl[1], 0, INT64_MAX, &start))
            rc = rn__text_corrupt(&text, line, line_len, "invalid start offset");
        else if (found == expected)
            rc = rn__text_corrupt(&text, line, line_len, "more entries than the count on line 2");
        if (rc != 0) {
            ec->count = 0;
            return rc;
        }
        found++;
        rn_epochs_assign(ec, (int32_t)epoch, start);
    }
    if (found != expected) {
        rn_fsutil_seterr(err, errlen,
                         "%s:2: the file promises %" PRId64 " entries but has %" PRId64, name,
                         expected, found);
        ec->count = 0;
        return RN_ECORRUPT;
    }
    return 0;
}

int rn_epochs_load(rn_epochs_t *ec, const char *dir, char *err, size_t errlen)
{
    ec->count = 0;
    char *path = rn_fsutil_join(dir, RN_EPOCHS_FILE);
    uint8_t *buf;
    size_t len;
    int rc = rn_fsutil_read_file(path, RN_EPOCHS_MAX_FILE_SIZE, &buf, &len, err, errlen);
    if (rc == 0) {
        rc = rn_epochs_parse(ec, path, buf, len, err, errlen);
        rn_free(buf);
    } else if (rc == RN_ENOTFOUND) {
        rc = 0;
    }
    rn_free(path);
    return rc;
}

void rn_epochs_format(const rn_epochs_t *ec, char **out, size_t *len)
{
    /* Per line: 10 epoch digits, a space, 19 offset digits, '\n'. */
    size_t cap = 32 + ec->count * 32;
    char *buf = rn_xmalloc(cap);
    size_t o = (size_t)snprintf(buf, cap, "%d\n%zu\n", RN_EPOCHS_VERSION, ec->count);
    for (size_t i = 0; i < ec->count; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%" PRId32 " %" PRId64 "\n", ec->entries[i].epoch,
                              ec->entries[i].start_offset);
    *out = buf;
    *len = o;
}

int rn_epochs_save(const rn_epochs_t *ec, const char *dir, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    rn_epochs_format(ec, &buf, &len);
    char *path = rn_fsutil_join(dir, RN_EPOCHS_FILE);
    int rc = rn_fsutil_write_atomic(path, buf, len, err, errlen);
    rn_free(path);
    rn_free(buf);
    return rc;
}
