/* rn_reader: the bounded byte reader behind every decoder in runnel — the wire protocol
 * (client/proto.c adds an arena on top), the records inside v2 batches (storage/records.c)
 * and request headers (broker/net/request.c).
 *
 * Invariants: p <= end, and no read touches a byte at or past end. The first failure stores
 * a negative RN_E* code in err and is sticky: every later read returns zero (NULL, an empty
 * slice) and leaves p where the failing field starts, so a decoder reads a whole structure,
 * checks err once at the end, and p - start is the offset of the bad field.
 *
 * Failures: RN_ETRUNC when the input ends inside a field; RN_ECORRUPT for a varint that is
 * too long or sets bits beyond its type (rn_varint.h's rule), a negative length, or a
 * sub-reader not consumed exactly. Integers are big-endian (Kafka's byte order); "varint"
 * and "varlong" are Kafka's zig-zag int32/int64, "uvarint" its unsigned int32. */
#ifndef RN_READER_H
#define RN_READER_H

#include "rn_endian.h"
#include "rn_err.h"
#include "rn_varint.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rn_reader {
    const uint8_t *p;   /* next byte */
    const uint8_t *end; /* one past the last readable byte */
    int err;            /* 0, or the first RN_E* failure */
} rn_reader_t;

/* A piece of the input, never copied: {ptr, len}; len -1 is null (ptr NULL). */
typedef struct rn_slice {
    const uint8_t *ptr;
    int32_t len;
} rn_slice_t;

static inline rn_reader_t rn_reader_make(const void *data, size_t len)
{
    const uint8_t *p = data;
    return (rn_reader_t){p, p + len, 0};
}

static inline void rn_reader_init(rn_reader_t *r, const void *data, size_t len)
{
    *r = rn_reader_make(data, len);
}

/* Record a failure unless one is already recorded. */
static inline void rn_reader_fail(rn_reader_t *r, int err)
{
    if (r->err == 0)
        r->err = err;
}

static inline size_t rn_reader_left(const rn_reader_t *r)
{
    return (size_t)(r->end - r->p);
}

/* Take n bytes: a pointer to them, or NULL (RN_ETRUNC) when fewer remain. */
static inline const uint8_t *rn_reader_take(rn_reader_t *r, size_t n)
{
    if (r->err)
        return NULL;
    if (rn_reader_left(r) < n) {
        rn_reader_fail(r, RN_ETRUNC);
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

static inline void rn_reader_skip(rn_reader_t *r, size_t n)
{
    (void)rn_reader_take(r, n);
}

static inline uint8_t rn_reader_u8(rn_reader_t *r)
{
    const uint8_t *p = rn_reader_take(r, 1);
    return p ? p[0] : 0;
}

static inline int8_t rn_reader_i8(rn_reader_t *r)
{
    return (int8_t)rn_reader_u8(r);
}

static inline uint16_t rn_reader_u16(rn_reader_t *r)
{
    const uint8_t *p = rn_reader_take(r, 2);
    return p ? rn_load_be16(p) : 0;
}

static inline int16_t rn_reader_i16(rn_reader_t *r)
{
    return (int16_t)rn_reader_u16(r);
}

static inline uint32_t rn_reader_u32(rn_reader_t *r)
{
    const uint8_t *p = rn_reader_take(r, 4);
    return p ? rn_load_be32(p) : 0;
}

static inline int32_t rn_reader_i32(rn_reader_t *r)
{
    return (int32_t)rn_reader_u32(r);
}

static inline uint64_t rn_reader_u64(rn_reader_t *r)
{
    const uint8_t *p = rn_reader_take(r, 8);
    return p ? rn_load_be64(p) : 0;
}

static inline int64_t rn_reader_i64(rn_reader_t *r)
{
    return (int64_t)rn_reader_u64(r);
}

/* The multi-byte (or failed) case of the varint reads below. */
uint64_t rn__reader_varbits(rn_reader_t *r, int maxbytes, int bits);

/* An unsigned varint of at most maxbytes bytes whose value fits `bits` bits. Records hold
 * six or more varints each and most fit one byte, so that case is decided inline. */
static inline uint64_t rn__reader_var(rn_reader_t *r, int maxbytes, int bits)
{
    if (r->err == 0 && r->p < r->end && *r->p < 0x80)
        return *r->p++;
    return rn__reader_varbits(r, maxbytes, bits);
}

/* Unsigned varint: at most 5 bytes, within 32 bits (compact lengths, tagged fields). */
static inline uint32_t rn_reader_uvarint(rn_reader_t *r)
{
    return (uint32_t)rn__reader_var(r, RN_VARINT_MAX, 32);
}

/* Unsigned varlong: at most 10 bytes, within 64 bits. */
static inline uint64_t rn_reader_uvarlong(rn_reader_t *r)
{
    return rn__reader_var(r, RN_VARLONG_MAX, 64);
}

/* Zig-zag varint (int32) and varlong (int64), as in v2 records. */
static inline int32_t rn_reader_varint(rn_reader_t *r)
{
    return rn_unzigzag32(rn_reader_uvarint(r));
}

static inline int64_t rn_reader_varlong(rn_reader_t *r)
{
    return rn_unzigzag64(rn_reader_uvarlong(r));
}

/* The next n bytes as a slice ({NULL, 0} after a failure). */
rn_slice_t rn_reader_slice(rn_reader_t *r, size_t n);

/* A zig-zag varint length and that many bytes, as v2 records carry keys, values and
 * headers. Length -1 is null ({NULL, -1}) when nullable; other negatives are RN_ECORRUPT. */
rn_slice_t rn_reader_varbytes(rn_reader_t *r, bool nullable);

/* Open sub over the next len bytes and advance r past them. When fewer remain, r fails with
 * RN_ETRUNC, sub is empty and failed alike, and false is returned. Decode from sub, then
 * call rn_reader_sub_end. */
bool rn_reader_sub(rn_reader_t *r, size_t len, rn_reader_t *sub);

/* Open sub over a block prefixed by a zig-zag varint length (a v2 record); a negative
 * length is RN_ECORRUPT. Otherwise as rn_reader_sub. */
bool rn_reader_varint_block(rn_reader_t *r, rn_reader_t *sub);

/* Fold sub's outcome into r: its error, or RN_ECORRUPT when bytes were left unread. */
void rn_reader_sub_end(rn_reader_t *r, const rn_reader_t *sub);

#endif
