/* rn_varint: unsigned LEB128 varints and their zig-zag signed form, the one codec behind both
 * the wire protocol's compact lengths and tagged fields (client/proto.c) and the records
 * inside v2 batches (storage/records.c). Decoding from a buffer goes through rn_reader.h,
 * which calls rn_varint_get; encoders write with rn_varint_put and the _s32/_s64 forms.
 *
 * An int32 varint takes at most 5 bytes and an int64 varlong at most 10; the decoder rejects a
 * longer encoding and a last byte that sets bits beyond the type, and accepts non-minimal
 * encodings, as Kafka's Java reader does. */
#ifndef RN_VARINT_H
#define RN_VARINT_H

#include "rn_err.h"

#include <stddef.h>
#include <stdint.h>

#define RN_VARINT_MAX  5  /* bytes of the longest int32 varint */
#define RN_VARLONG_MAX 10 /* bytes of the longest int64 varlong */

/* Encoded size of the unsigned varint v. */
static inline size_t rn_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Encode v at p (room for rn_varint_size(v) bytes, at most RN_VARLONG_MAX); returns the bytes
 * written. */
static inline size_t rn_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Decode an unsigned varint of at most maxbytes bytes whose value fits in `bits` bits (5/32
 * or 10/64) from p[0..len). Returns the bytes consumed (> 0), RN_ETRUNC when len ends inside
 * it, or RN_ECORRUPT when it is too long or sets bits beyond the type. */
static inline int rn_varint_get(const uint8_t *p, size_t len, int maxbytes, int bits, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < maxbytes; i++) {
        if ((size_t)i >= len)
            return RN_ETRUNC;
        uint8_t b = p[i];
        int shift = 7 * i;
        if (i == maxbytes - 1 && ((b & 0x80) || (b >> (bits - shift)) != 0))
            return RN_ECORRUPT; /* too long, or bits beyond the type */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return i + 1;
        }
    }
    return RN_ECORRUPT; /* not reached: the last byte's continuation bit is rejected */
}

/* Zig-zag: small magnitudes of either sign become small unsigned values. */
static inline uint32_t rn_zigzag32(int32_t v)
{
    return ((uint32_t)v << 1) ^ (v < 0 ? UINT32_MAX : 0);
}

static inline uint64_t rn_zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (v < 0 ? UINT64_MAX : 0);
}

static inline int32_t rn_unzigzag32(uint32_t u)
{
    return (int32_t)((u >> 1) ^ (~(u & 1) + 1));
}

static inline int64_t rn_unzigzag64(uint64_t u)
{
    return (int64_t)((u >> 1) ^ (~(u & 1) + 1));
}

/* Kafka's signed varint (int32) and varlong (int64): zig-zag, then the unsigned codec. */
static inline size_t rn_varint_size_s32(int32_t v)
{
    return rn_varint_size(rn_zigzag32(v));
}

static inline size_t rn_varint_size_s64(int64_t v)
{
    return rn_varint_size(rn_zigzag64(v));
}

static inline size_t rn_varint_put_s32(uint8_t *p, int32_t v)
{
    return rn_varint_put(p, rn_zigzag32(v));
}

static inline size_t rn_varint_put_s64(uint8_t *p, int64_t v)
{
    return rn_varint_put(p, rn_zigzag64(v));
}

#endif
