/* The bounded byte reader's out-of-line parts: multi-byte varints, slices and sub-readers
 * (see rn_reader.h). */
#include "rn_reader.h"

uint64_t rn__reader_varbits(rn_reader_t *r, int maxbytes, int bits)
{
    if (r->err)
        return 0;
    uint64_t v = 0;
    int n = rn_varint_get(r->p, rn_reader_left(r), maxbytes, bits, &v);
    if (n < 0) {
        rn_reader_fail(r, n);
        return 0;
    }
    r->p += n;
    return v;
}

rn_slice_t rn_reader_slice(rn_reader_t *r, size_t n)
{
    /* Slices carry an int32 length, as every length on the wire and on disk does. */
    if (n > INT32_MAX) {
        rn_reader_fail(r, RN_ECORRUPT);
        return (rn_slice_t){NULL, 0};
    }
    const uint8_t *p = rn_reader_take(r, n);
    return p ? (rn_slice_t){p, (int32_t)n} : (rn_slice_t){NULL, 0};
}

rn_slice_t rn_reader_varbytes(rn_reader_t *r, bool nullable)
{
    const uint8_t *start = r->p;
    int32_t len = rn_reader_varint(r);
    if (r->err)
        return (rn_slice_t){NULL, 0};
    if (len == -1 && nullable)
        return (rn_slice_t){NULL, -1};
    if (len < 0) {
        r->p = start; /* a failure leaves p at the field that failed */
        rn_reader_fail(r, RN_ECORRUPT);
        return (rn_slice_t){NULL, 0};
    }
    return rn_reader_slice(r, (size_t)len);
}

bool rn_reader_sub(rn_reader_t *r, size_t len, rn_reader_t *sub)
{
    const uint8_t *p = rn_reader_take(r, len);
    *sub = rn_reader_make(p ? p : r->p, p ? len : 0);
    sub->err = r->err;
    return p != NULL;
}

bool rn_reader_varint_block(rn_reader_t *r, rn_reader_t *sub)
{
    const uint8_t *start = r->p;
    int32_t len = rn_reader_varint(r);
    if (r->err == 0 && len < 0) {
        r->p = start;
        rn_reader_fail(r, RN_ECORRUPT);
    }
    if (r->err) {
        *sub = rn_reader_make(r->p, 0);
        sub->err = r->err;
        return false;
    }
    return rn_reader_sub(r, (size_t)len, sub);
}

void rn_reader_sub_end(rn_reader_t *r, const rn_reader_t *sub)
{
    if (sub->err)
        rn_reader_fail(r, sub->err);
    else if (sub->p != sub->end)
        rn_reader_fail(r, RN_ECORRUPT);
}
