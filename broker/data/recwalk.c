/* Record-level validation of uncompressed v2 batches (see rn_recwalk.h). */
#include "data/rn_recwalk.h"

#include "rn_batch.h"
#include "rn_endian.h"
#include "rn_err.h"

typedef struct cursor {
    const uint8_t *p, *end;
    bool bad;
} cursor_t;

static inline int64_t unzigzag(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Zig-zag varlong of at most 10 bytes; marks the cursor bad on overrun/overlong input.
 * Every record holds six or more varints, so they are the walk's main cost: one-byte values
 * (most of them) take a single test, and with 10 bytes left no byte needs a bounds check. */
static inline int64_t read_varlong(cursor_t *c)
{
    const uint8_t *p = c->p;
    if (p < c->end && !(*p & 0x80)) {
        c->p = p + 1;
        return unzigzag(*p);
    }
    uint64_t v = 0;
    if (c->end - p >= 10) {
        for (int i = 0; i < 10; i++) {
            v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
            if (!(p[i] & 0x80)) {
                c->p = p + i + 1;
                return unzigzag(v);
            }
        }
        c->bad = true;
        return 0;
    }
    for (int shift = 0; shift < 70; shift += 7) {
        if (c->p >= c->end) {
            c->bad = true;
            return 0;
        }
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return unzigzag(v);
    }
    c->bad = true;
    return 0;
}

/* Zig-zag varint: at most 5 bytes and within int32. */
static inline int32_t read_varint(cursor_t *c)
{
    const uint8_t *start = c->p;
    int64_t v = read_varlong(c);
    if (c->p - start > 5 || v < INT32_MIN || v > INT32_MAX)
        c->bad = true;
    return (int32_t)v;
}

/* A length-prefixed field: -1 (null) allowed when nullable; skips the bytes. Returns the
 * length (or -1). */
static int32_t skip_field(cursor_t *c, bool nullable)
{
    int32_t n = read_varint(c);
    if (c->bad)
        return 0;
    if (n < 0) {
        if (n != -1 || !nullable)
            c->bad = true;
        return -1;
    }
    if ((size_t)(c->end - c->p) < (size_t)n) {
        c->bad = true;
        return 0;
    }
    c->p += n;
    return n;
}

static int fail(rn_recwalk_result_t *res, int32_t index, const char *reason)
{
    res->bad_index = index;
    res->reason = reason;
    return RN_ECORRUPT;
}

int rn_recwalk_check(const uint8_t *batch, size_t len, rn_recwalk_result_t *res)
{
    res->bad_index = -1;
    res->reason = NULL;
    res->max_timestamp = -1;
    res->has_null_key = false;
    res->first_null_key = -1;
    if (len < RN_BATCH_HEADER_SIZE)
        return fail(res, 0, "batch shorter than its header");
    int64_t base_ts = (int64_t)rn_load_be64(batch + 27);
    int32_t count = (int32_t)rn_load_be32(batch + 57);
    cursor_t c = {batch + RN_BATCH_HEADER_SIZE, batch + len, false};
    int64_t max_delta = INT64_MIN;
    int32_t i = 0;
    for (; c.p < c.end; i++) {
        if (i >= count)
            return fail(res, i, "more records than the batch's record count");
        int32_t rec_len = read_varint(&c);
        if (c.bad || rec_len < 0 || (size_t)(c.end - c.p) < (size_t)rec_len)
            return fail(res, i, "record length outside the batch");
        cursor_t r = {c.p, c.p + rec_len, false};
        c.p += rec_len;
        if (r.p >= r.end) {
            r.bad = true;
        } else {
            r.p++; /* attributes: unused in v2 */
        }
        int64_t ts_delta = read_varlong(&r);
        int32_t off_delta = read_varint(&r);
        if (r.bad)
            return fail(res, i, "malformed record header");
        if (off_delta != i)
            return fail(res, i, "record offset delta is not its position in the batch");
        int32_t key_len = skip_field(&r, true);
        skip_field(&r, true);
        int32_t nheaders = read_varint(&r);
        if (r.bad || nheaders < 0)
            return fail(res, i, "malformed key, value or header count");
        for (int32_t h = 0; h < nheaders && !r.bad; h++) {
            skip_field(&r, false); /* header keys are never null */
            skip_field(&r, true);
        }
        if (r.bad)
            return fail(res, i, "malformed record header (key/value of a header)");
        if (r.p != r.end)
            return fail(res, i, "record length does not match its fields");
        if (key_len < 0 && !res->has_null_key) {
            res->has_null_key = true;
            res->first_null_key = i;
        }
        if (ts_delta > max_delta)
            max_delta = ts_delta;
    }
    if (i != count)
        return fail(res, i, "fewer records than the batch's record count");
    if (count > 0)
        res->max_timestamp = (int64_t)((uint64_t)base_ts + (uint64_t)max_delta); /* no UB */
    return 0;
}
