/* rn_proto: the Kafka wire format's primitive types, a bounded reader and a chunked writer.
 *
 * Value types used by every generated message struct:
 *   rn_str_t      string slice {ptr, len}; len -1 = null. Decoded strings point into the
 *                 receive buffer and are NOT NUL-terminated (see rn_str.h for helpers).
 *   rn_bytes_t    the same for bytes.
 *   rn_uuid_t     16 bytes (Kafka's topic ids; storage/rn_uuid.h, shared with the log layer
 *                 so ids move between the two without conversion); all-zero = "no id".
 *   rn_records_t  a record-batch payload: memory {ptr, len} or a file range {fd, offset, len}
 *                 (in_file), optionally a chain of pieces; encoded as one length-prefixed
 *                 blob, file pieces become file chunks of the writer output (sendfile).
 *   rn_<T>_array_t {int32_t count; T *items;} count -1 = null array.
 *
 * The reader is common/rn_reader.h's {p, end, err} with an arena for decoded arrays: it never
 * reads past end, and the first failure stores a negative RN_E* code in rd.err (sticky):
 * every later read returns zero/empty and does not move, so decoders check rd.err once at
 * the end. Array counts are checked against the bytes left (at the
 * element's minimum wire size) and RN_PROTO_MAX_ARRAY before anything is allocated.
 *
 * The writer appends to an owned growable buffer and can splice in external memory and file
 * ranges without copying, producing an output made of chunks (rn_proto_writer_chunk()).
 * Lengths are written by reserving room and back-patching. Failures are sticky in err too.
 * Writing a null where the version does not allow one sets RN_EINVAL. */
#ifndef RN_PROTO_H
#define RN_PROTO_H

#include "rn_arena.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "rn_reader.h"
#include "rn_uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Hard cap on the element count of any decoded array, whatever the frame size. */
#define RN_PROTO_MAX_ARRAY (1 << 20)

typedef struct rn_str {
    const char *ptr; /* not NUL-terminated; may be NULL when len <= 0 */
    int32_t len;     /* -1 = null */
} rn_str_t;

typedef struct rn_bytes {
    const uint8_t *ptr;
    int32_t len; /* -1 = null */
} rn_bytes_t;

/* Record batches as opaque bytes. A zeroed struct is an empty, non-null memory payload.
 * Memory form: in_file false, bytes [ptr, ptr+len). File form: in_file true, bytes
 * [offset, offset+len) of fd; the writer emits them as a file chunk carrying owner (e.g. the
 * segment to release once sent). next chains further pieces (encoded back to back, one
 * length prefix for all); len -1 on the head (with no next) means null records.
 * Decoded records are always one memory piece pointing into the receive buffer. */
typedef struct rn_records {
    const uint8_t *ptr;
    int32_t len;
    bool in_file;
    int fd;
    int64_t offset;
    void *owner;
    const struct rn_records *next;
} rn_records_t;

typedef struct rn_int8_array {
    int32_t count;
    int8_t *items;
} rn_int8_array_t;
typedef struct rn_int16_array {
    int32_t count;
    int16_t *items;
} rn_int16_array_t;
typedef struct rn_int32_array {
    int32_t count;
    int32_t *items;
} rn_int32_array_t;
typedef struct rn_int64_array {
    int32_t count;
    int64_t *items;
} rn_int64_array_t;
typedef struct rn_str_array {
    int32_t count;
    rn_str_t *items;
} rn_str_array_t;
typedef struct rn_uuid_array {
    int32_t count;
    rn_uuid_t *items;
} rn_uuid_array_t;

#define RN_STR_NULL   ((rn_str_t){NULL, -1})
#define RN_BYTES_NULL ((rn_bytes_t){NULL, -1})

/* ---- reader ---- */

/* The common bounded reader (rn_reader.h: sticky err, reads past the end return zero) plus
 * the arena that decoded arrays come from. Read rd.err once after decoding. */
typedef struct rn_proto_reader {
    rn_reader_t rd;
    rn_arena_t *arena; /* decoded arrays are allocated here; may be NULL */
} rn_proto_reader_t;

/* Read [data, data+len); arrays go to arena (may be NULL if nothing needs allocating). */
static inline void rn_proto_reader_init(rn_proto_reader_t *r, const void *data, size_t len,
                                        rn_arena_t *arena)
{
    rn_reader_init(&r->rd, data, len);
    r->arena = arena;
}

/* Record the first failure; later reads return zero and do not advance. */
static inline void rn_proto_fail(rn_proto_reader_t *r, int err)
{
    rn_reader_fail(&r->rd, err);
}

static inline size_t rn_proto_remaining(const rn_proto_reader_t *r)
{
    return rn_reader_left(&r->rd);
}

/* Take n bytes: a pointer to them, or NULL (and RN_ETRUNC) when fewer remain. */
static inline const uint8_t *rn_proto_take(rn_proto_reader_t *r, size_t n)
{
    return rn_reader_take(&r->rd, n);
}

static inline int8_t rn_proto_read_int8(rn_proto_reader_t *r)
{
    return rn_reader_i8(&r->rd);
}

/* Kafka booleans: any non-zero byte is true. */
static inline bool rn_proto_read_bool(rn_proto_reader_t *r)
{
    return rn_reader_u8(&r->rd) != 0;
}

static inline uint16_t rn_proto_read_uint16(rn_proto_reader_t *r)
{
    return rn_reader_u16(&r->rd);
}

static inline int16_t rn_proto_read_int16(rn_proto_reader_t *r)
{
    return rn_reader_i16(&r->rd);
}

static inline uint32_t rn_proto_read_uint32(rn_proto_reader_t *r)
{
    return rn_reader_u32(&r->rd);
}

static inline int32_t rn_proto_read_int32(rn_proto_reader_t *r)
{
    return rn_reader_i32(&r->rd);
}

static inline int64_t rn_proto_read_int64(rn_proto_reader_t *r)
{
    return rn_reader_i64(&r->rd);
}

double rn_proto_read_float64(rn_proto_reader_t *r);

/* Unsigned varint of at most 5 bytes that fits 32 bits; otherwise RN_ECORRUPT. */
static inline uint32_t rn_proto_read_uvarint(rn_proto_reader_t *r)
{
    return rn_reader_uvarint(&r->rd);
}

/* Zig-zag varint (int32) and varlong (int64), as in record headers. */
static inline int32_t rn_proto_read_varint(rn_proto_reader_t *r)
{
    return rn_reader_varint(&r->rd);
}

static inline int64_t rn_proto_read_varlong(rn_proto_reader_t *r)
{
    return rn_reader_varlong(&r->rd);
}

static inline uint64_t rn_proto_read_uvarlong(rn_proto_reader_t *r)
{
    return rn_reader_uvarlong(&r->rd);
}

void rn_proto_read_uuid(rn_proto_reader_t *r, rn_uuid_t *out);

/* Strings, bytes and records: int16/int32 length (classic) or unsigned varint length+1
 * (compact, flexible versions). A null where nullable is false is RN_ECORRUPT. The result
 * points into the input. */
rn_str_t rn_proto_read_string(rn_proto_reader_t *r, bool compact, bool nullable);
rn_bytes_t rn_proto_read_bytes(rn_proto_reader_t *r, bool compact, bool nullable);
void rn_proto_read_records(rn_proto_reader_t *r, bool compact, bool nullable, rn_records_t *out);

/* An array length: -1 for null (only when nullable), else a count that is at most
 * RN_PROTO_MAX_ARRAY and whose elements, at min_size bytes each, fit in what remains. */
int32_t rn_proto_read_array_len(rn_proto_reader_t *r, bool compact, bool nullable, size_t min_size);

/* count * size bytes from the reader's arena (uninitialised), or NULL with RN_ENOMEM.
 * A zero count returns NULL without failing. */
void *rn_proto_alloc(rn_proto_reader_t *r, int32_t count, size_t size);

/* Skip n bytes. */
static inline void rn_proto_skip(rn_proto_reader_t *r, size_t n)
{
    rn_reader_skip(&r->rd, n);
}

/* Open a sub-reader over the next len bytes and advance r past them; false (r failed) when
 * fewer remain. The caller decodes from sub and then calls rn_proto_sub_end(). */
bool rn_proto_sub(rn_proto_reader_t *r, size_t len, rn_proto_reader_t *sub);
/* Fold sub's outcome into r: its error, or RN_ECORRUPT when bytes were left unread. */
void rn_proto_sub_end(rn_proto_reader_t *r, const rn_proto_reader_t *sub);

/* Read a tagged-field section and skip every field in it (for structs with no known tags). */
void rn_proto_skip_tags(rn_proto_reader_t *r);

/* ---- writer ---- */

/* One piece of writer output. Memory: in_file false, [ptr, ptr+len). File: in_file true,
 * [offset, offset+len) of fd, with the owner given in the rn_records_t it came from. */
typedef struct rn_proto_chunk {
    const uint8_t *ptr;
    size_t len;
    bool in_file;
    int fd;
    int64_t offset;
    void *owner;
} rn_proto_chunk_t;

struct rn_proto_seg;

typedef struct rn_proto_writer {
    uint8_t *buf;              /* owned bytes written so far (memory between spliced chunks) */
    size_t len;                /* bytes used in buf */
    size_t cap;                /* bytes allocated for buf */
    struct rn_proto_seg *segs; /* closed output pieces, in order */
    size_t nsegs, segcap;
    size_t open;  /* buf offset where the current (unclosed) memory piece starts */
    size_t total; /* output length: all pieces, including spliced ones */
    int err;      /* 0, or the first RN_E* failure (RN_ENOMEM, RN_EINVAL, RN_ETOOBIG) */
} rn_proto_writer_t;

/* External memory pieces shorter than this are copied instead of spliced. */
#define RN_PROTO_SPLICE_MIN 4096

void rn_proto_writer_init(rn_proto_writer_t *w);
/* Forget the output but keep the buffers for the next message. */
void rn_proto_writer_reset(rn_proto_writer_t *w);
void rn_proto_writer_free(rn_proto_writer_t *w);
void rn_proto_writer_fail(rn_proto_writer_t *w, int err);

/* Make room for n more bytes in buf; false (and RN_ENOMEM) on failure. */
bool rn__proto_grow(rn_proto_writer_t *w, size_t n);

/* Room for n bytes at the end of buf, already counted as written; NULL once failed. */
static inline uint8_t *rn_proto_put(rn_proto_writer_t *w, size_t n)
{
    if (w->err || (w->cap - w->len < n && !rn__proto_grow(w, n)))
        return NULL;
    uint8_t *p = w->buf + w->len;
    w->len += n;
    w->total += n;
    return p;
}

static inline void rn_proto_write_int8(rn_proto_writer_t *w, int8_t v)
{
    uint8_t *p = rn_proto_put(w, 1);
    if (p)
        p[0] = (uint8_t)v;
}

static inline void rn_proto_write_bool(rn_proto_writer_t *w, bool v)
{
    rn_proto_write_int8(w, v ? 1 : 0);
}

static inline void rn_proto_write_uint16(rn_proto_writer_t *w, uint16_t v)
{
    uint8_t *p = rn_proto_put(w, 2);
    if (p)
        rn_store_be16(p, v);
}

static inline void rn_proto_write_int16(rn_proto_writer_t *w, int16_t v)
{
    rn_proto_write_uint16(w, (uint16_t)v);
}

static inline void rn_proto_write_uint32(rn_proto_writer_t *w, uint32_t v)
{
    uint8_t *p = rn_proto_put(w, 4);
    if (p)
        rn_store_be32(p, v);
}

static inline void rn_proto_write_int32(rn_proto_writer_t *w, int32_t v)
{
    rn_proto_write_uint32(w, (uint32_t)v);
}

static inline void rn_proto_write_int64(rn_proto_writer_t *w, int64_t v)
{
    uint8_t *p = rn_proto_put(w, 8);
    if (p)
        rn_store_be64(p, (uint64_t)v);
}

void rn_proto_write_float64(rn_proto_writer_t *w, double v);
void rn_proto_write_uvarint(rn_proto_writer_t *w, uint32_t v);
void rn_proto_write_varint(rn_proto_writer_t *w, int32_t v);
void rn_proto_write_varlong(rn_proto_writer_t *w, int64_t v);
void rn_proto_write_uvarlong(rn_proto_writer_t *w, uint64_t v);
void rn_proto_write_uuid(rn_proto_writer_t *w, const rn_uuid_t *v);
void rn_proto_write_raw(rn_proto_writer_t *w, const void *data, size_t len);
void rn_proto_write_string(rn_proto_writer_t *w, bool compact, bool nullable, rn_str_t v);
void rn_proto_write_bytes(rn_proto_writer_t *w, bool compact, bool nullable, rn_bytes_t v);
/* Records: one length prefix for the whole chain; pieces in files become file chunks,
 * memory pieces of at least RN_PROTO_SPLICE_MIN bytes are spliced (not copied): that
 * memory must stay valid until the output has been consumed. */
void rn_proto_write_records(rn_proto_writer_t *w, bool compact, bool nullable,
                            const rn_records_t *v);
/* An array length (count -1 = null, only when nullable). */
void rn_proto_write_array_len(rn_proto_writer_t *w, bool compact, bool nullable, int32_t count);

/* Splice an external memory piece or a file range into the output without copying. */
void rn_proto_write_splice(rn_proto_writer_t *w, const uint8_t *ptr, size_t len);
void rn_proto_write_file(rn_proto_writer_t *w, int fd, int64_t offset, size_t len, void *owner);

/* Reserve n bytes to fill in later; returns their position for rn_proto_writer_patch_*. */
size_t rn_proto_writer_reserve(rn_proto_writer_t *w, size_t n);
void rn_proto_writer_patch_int32(rn_proto_writer_t *w, size_t pos, int32_t v);

/* Tagged fields carry their size before the value as an unsigned varint. Take a mark,
 * write the value (memory only), then insert its size at the mark. */
typedef struct rn_proto_mark {
    size_t pos;   /* buf offset */
    size_t total; /* output length at the mark */
} rn_proto_mark_t;
rn_proto_mark_t rn_proto_writer_mark(const rn_proto_writer_t *w);
void rn_proto_writer_insert_size(rn_proto_writer_t *w, rn_proto_mark_t mark);

/* Output length in bytes (all chunks). */
static inline size_t rn_proto_writer_total(const rn_proto_writer_t *w)
{
    return w->total;
}

/* The output as chunks, in order. Pointers stay valid until the next write or reset. */
size_t rn_proto_writer_nchunks(const rn_proto_writer_t *w);
void rn_proto_writer_chunk(const rn_proto_writer_t *w, size_t i, rn_proto_chunk_t *chunk);

/* Copy the whole output into dst (file chunks are read with pread); for tests and small
 * messages. Returns the bytes copied or a negative RN_E*. */
long rn_proto_writer_copy(const rn_proto_writer_t *w, uint8_t *dst, size_t cap);

struct evbuffer;
/* Called once a file chunk handed to libevent has been sent or dropped. */
typedef void rn_proto_release_fn(void *owner);

/* Append the output to a libevent buffer: memory chunks are copied, file chunks are added
 * with evbuffer_add_file_segment() (sendfile when out drains to a socket) and release(owner)
 * runs when libevent is done with each (release may be NULL). The writer may be reset right
 * after. Returns 0 or RN_ENOMEM / RN_EIO; on failure out may hold part of the output. */
int rn_proto_writer_to_evbuffer(const rn_proto_writer_t *w, struct evbuffer *out,
                                rn_proto_release_fn *release);

#endif
