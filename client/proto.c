/* Kafka wire primitives: the bounded reader and the chunked writer (see rn_proto.h). */
#include "rn_proto.h"

#include "rn_alloc.h"
#include "rn_varint.h"

#include <errno.h>
#include <limits.h>
#include <event2/buffer.h>
#include <unistd.h>

/* ---- reader ---- */

double rn_proto_read_float64(rn_proto_reader_t *r)
{
    uint64_t bits = rn_reader_u64(&r->rd);
    double v;
    memcpy(&v, &bits, sizeof(v));
    return v;
}

void rn_proto_read_uuid(rn_proto_reader_t *r, rn_uuid_t *out)
{
    const uint8_t *p = rn_proto_take(r, 16);
    if (p)
        memcpy(out->bytes, p, 16);
    else
        memset(out->bytes, 0, 16);
}

/* A length prefix: int16/int32 classic (negative = null) or compact uvarint N (0 = null,
 * else N-1). Returns -1 for null, -2 after a failure. */
static int64_t rn_proto_read_len(rn_proto_reader_t *r, bool compact, bool wide, bool nullable)
{
    int64_t len;
    if (compact)
        len = (int64_t)rn_proto_read_uvarint(r) - 1;
    else
        len = wide ? rn_proto_read_int32(r) : rn_proto_read_int16(r);
    if (r->rd.err)
        return -2;
    /* Strings are at most 32767 bytes in both encodings, as in Kafka. */
    if (len < -1 || (len == -1 && !nullable) || (!wide && len > INT16_MAX)) {
        rn_proto_fail(r, RN_ECORRUPT);
        return -2;
    }
    if (len > 0 && (uint64_t)len > rn_proto_remaining(r)) {
        rn_proto_fail(r, RN_ETRUNC);
        return -2;
    }
    return len;
}

rn_str_t rn_proto_read_string(rn_proto_reader_t *r, bool compact, bool nullable)
{
    int64_t len = rn_proto_read_len(r, compact, false, nullable);
    if (len < 0)
        return (rn_str_t){NULL, len == -1 ? -1 : 0};
    return (rn_str_t){(const char *)rn_proto_take(r, (size_t)len), (int32_t)len};
}

rn_bytes_t rn_proto_read_bytes(rn_proto_reader_t *r, bool compact, bool nullable)
{
    int64_t len = rn_proto_read_len(r, compact, true, nullable);
    if (len < 0)
        return (rn_bytes_t){NULL, len == -1 ? -1 : 0};
    return (rn_bytes_t){rn_proto_take(r, (size_t)len), (int32_t)len};
}

void rn_proto_read_records(rn_proto_reader_t *r, bool compact, bool nullable, rn_records_t *out)
{
    rn_bytes_t b = rn_proto_read_bytes(r, compact, nullable);
    memset(out, 0, sizeof(*out));
    out->ptr = b.ptr;
    out->len = b.len;
}

int32_t rn_proto_read_array_len(rn_proto_reader_t *r, bool compact, bool nullable, size_t min_size)
{
    int64_t n;
    if (compact) {
        n = (int64_t)rn_proto_read_uvarint(r) - 1;
    } else {
        n = rn_proto_read_int32(r);
        if (n < -1) {
            rn_proto_fail(r, RN_ECORRUPT);
            return 0;
        }
    }
    if (r->rd.err)
        return 0;
    if (n == -1) {
        if (!nullable)
            rn_proto_fail(r, RN_ECORRUPT);
        return nullable ? -1 : 0;
    }
    if (n > RN_PROTO_MAX_ARRAY) {
        rn_proto_fail(r, RN_ETOOBIG);
        return 0;
    }
    if ((uint64_t)n * min_size > rn_proto_remaining(r)) {
        rn_proto_fail(r, RN_ETRUNC);
        return 0;
    }
    return (int32_t)n;
}

void *rn_proto_alloc(rn_proto_reader_t *r, int32_t count, size_t size)
{
    if (r->rd.err || count <= 0)
        return NULL;
    void *ptr = r->arena ? rn_arena_alloc(r->arena, (size_t)count * size) : NULL;
    if (ptr == NULL)
        rn_proto_fail(r, RN_ENOMEM);
    return ptr;
}

bool rn_proto_sub(rn_proto_reader_t *r, size_t len, rn_proto_reader_t *sub)
{
    sub->arena = r->arena;
    return rn_reader_sub(&r->rd, len, &sub->rd);
}

void rn_proto_sub_end(rn_proto_reader_t *r, const rn_proto_reader_t *sub)
{
    rn_reader_sub_end(&r->rd, &sub->rd);
}

void rn_proto_skip_tags(rn_proto_reader_t *r)
{
    uint32_t n = rn_proto_read_uvarint(r);
    for (uint32_t i = 0; i < n && !r->rd.err; i++) {
        (void)rn_proto_read_uvarint(r); /* tag */
        rn_proto_skip(r, rn_proto_read_uvarint(r));
    }
}

/* ---- writer ---- */

enum { RN_SEG_MEM, RN_SEG_SPLICE, RN_SEG_FILE };

struct rn_proto_seg {
    int kind;
    size_t start;       /* RN_SEG_MEM: offset in buf */
    const uint8_t *ptr; /* RN_SEG_SPLICE */
    size_t len;
    int fd; /* RN_SEG_FILE */
    int64_t offset;
    void *owner;
};

void rn_proto_writer_init(rn_proto_writer_t *w)
{
    memset(w, 0, sizeof(*w));
}

void rn_proto_writer_reset(rn_proto_writer_t *w)
{
    w->len = 0;
    w->nsegs = 0;
    w->open = 0;
    w->total = 0;
    w->err = 0;
}

void rn_proto_writer_free(rn_proto_writer_t *w)
{
    rn_free(w->buf);
    rn_free(w->segs);
    memset(w, 0, sizeof(*w));
}

void rn_proto_writer_fail(rn_proto_writer_t *w, int err)
{
    if (w->err == 0)
        w->err = err;
}

bool rn__proto_grow(rn_proto_writer_t *w, size_t n)
{
    if (w->err)
        return false;
    size_t cap = w->cap ? w->cap : 256;
    while (cap - w->len < n) {
        if (cap > SIZE_MAX / 2) {
            rn_proto_writer_fail(w, RN_ENOMEM);
            return false;
        }
        cap *= 2;
    }
    uint8_t *buf = rn_realloc(w->buf, cap);
    if (buf == NULL) {
        rn_proto_writer_fail(w, RN_ENOMEM);
        return false;
    }
    w->buf = buf;
    w->cap = cap;
    return true;
}

void rn_proto_write_float64(rn_proto_writer_t *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    rn_proto_write_int64(w, (int64_t)bits);
}

void rn_proto_write_uvarlong(rn_proto_writer_t *w, uint64_t v)
{
    uint8_t tmp[10];
    rn_proto_write_raw(w, tmp, rn_varint_put(tmp, v));
}

void rn_proto_write_uvarint(rn_proto_writer_t *w, uint32_t v)
{
    if (v < 0x80) {
        uint8_t *p = rn_proto_put(w, 1);
        if (p)
            p[0] = (uint8_t)v;
        return;
    }
    rn_proto_write_uvarlong(w, v);
}

void rn_proto_write_varint(rn_proto_writer_t *w, int32_t v)
{
    rn_proto_write_uvarint(w, rn_zigzag32(v));
}

void rn_proto_write_varlong(rn_proto_writer_t *w, int64_t v)
{
    rn_proto_write_uvarlong(w, rn_zigzag64(v));
}

void rn_proto_write_uuid(rn_proto_writer_t *w, const rn_uuid_t *v)
{
    rn_proto_write_raw(w, v->bytes, 16);
}

void rn_proto_write_raw(rn_proto_writer_t *w, const void *data, size_t len)
{
    uint8_t *p = rn_proto_put(w, len);
    if (p && len > 0)
        memcpy(p, data, len);
}

/* A length prefix for strings (wide false) or bytes/records (wide true); len -1 = null. */
static void rn_proto_write_len(rn_proto_writer_t *w, bool compact, bool wide, bool nullable,
                               int64_t len)
{
    if (len < -1 || (len == -1 && !nullable) || len > (wide ? INT32_MAX - 1 : INT16_MAX)) {
        rn_proto_writer_fail(w, RN_EINVAL);
        return;
    }
    if (compact)
        rn_proto_write_uvarint(w, (uint32_t)(len + 1));
    else if (wide)
        rn_proto_write_int32(w, (int32_t)len);
    else
        rn_proto_write_int16(w, (int16_t)len);
}

void rn_proto_write_string(rn_proto_writer_t *w, bool compact, bool nullable, rn_str_t v)
{
    rn_proto_write_len(w, compact, false, nullable, v.len);
    if (v.len > 0)
        rn_proto_write_raw(w, v.ptr, (size_t)v.len);
}

void rn_proto_write_bytes(rn_proto_writer_t *w, bool compact, bool nullable, rn_bytes_t v)
{
    rn_proto_write_len(w, compact, true, nullable, v.len);
    if (v.len > 0)
        rn_proto_write_raw(w, v.ptr, (size_t)v.len);
}

void rn_proto_write_records(rn_proto_writer_t *w, bool compact, bool nullable,
                            const rn_records_t *v)
{
    if (v->len == -1 && v->next == NULL) {
        rn_proto_write_len(w, compact, true, nullable, -1);
        return;
    }
    int64_t total = 0;
    for (const rn_records_t *piece = v; piece != NULL; piece = piece->next) {
        if (piece->len < 0 || (piece->len > 0 && !piece->in_file && piece->ptr == NULL)) {
            rn_proto_writer_fail(w, RN_EINVAL);
            return;
        }
        total += piece->len;
        if (total > INT32_MAX - 1) {
            rn_proto_writer_fail(w, RN_ETOOBIG);
            return;
        }
    }
    rn_proto_write_len(w, compact, true, nullable, total);
    for (const rn_records_t *piece = v; piece != NULL; piece = piece->next) {
        if (piece->in_file)
            rn_proto_write_file(w, piece->fd, piece->offset, (size_t)piece->len, piece->owner);
        else if (piece->len >= RN_PROTO_SPLICE_MIN)
            rn_proto_write_splice(w, piece->ptr, (size_t)piece->len);
        else if (piece->len > 0)
            rn_proto_write_raw(w, piece->ptr, (size_t)piece->len);
    }
}

void rn_proto_write_array_len(rn_proto_writer_t *w, bool compact, bool nullable, int32_t count)
{
    if (count < -1 || (count == -1 && !nullable)) {
        rn_proto_writer_fail(w, RN_EINVAL);
        return;
    }
    if (compact)
        rn_proto_write_uvarint(w, (uint32_t)count + 1);
    else
        rn_proto_write_int32(w, count);
}

/* Close the open memory piece and append seg after it. */
static void rn_proto_add_seg(rn_proto_writer_t *w, const struct rn_proto_seg *seg)
{
    if (w->err)
        return;
    if (w->segcap - w->nsegs < 2) {
        size_t cap = w->segcap ? w->segcap * 2 : 8;
        struct rn_proto_seg *segs = rn_realloc(w->segs, cap * sizeof(*segs));
        if (segs == NULL) {
            rn_proto_writer_fail(w, RN_ENOMEM);
            return;
        }
        w->segs = segs;
        w->segcap = cap;
    }
    if (w->len > w->open) {
        w->segs[w->nsegs++] =
            (struct rn_proto_seg){.kind = RN_SEG_MEM, .start = w->open, .len = w->len - w->open};
    }
    w->segs[w->nsegs++] = *seg;
    w->open = w->len;
    w->total += seg->len;
}

void rn_proto_write_splice(rn_proto_writer_t *w, const uint8_t *ptr, size_t len)
{
    if (len == 0)
        return;
    struct rn_proto_seg seg = {.kind = RN_SEG_SPLICE, .ptr = ptr, .len = len};
    rn_proto_add_seg(w, &seg);
}

void rn_proto_write_file(rn_proto_writer_t *w, int fd, int64_t offset, size_t len, void *owner)
{
    if (fd < 0 || offset < 0) {
        rn_proto_writer_fail(w, RN_EINVAL);
        return;
    }
    if (len == 0)
        return;
    struct rn_proto_seg seg = {
        .kind = RN_SEG_FILE, .len = len, .fd = fd, .offset = offset, .owner = owner};
    rn_proto_add_seg(w, &seg);
}

size_t rn_proto_writer_reserve(rn_proto_writer_t *w, size_t n)
{
    size_t pos = w->len;
    uint8_t *p = rn_proto_put(w, n);
    if (p)
        memset(p, 0, n);
    return pos;
}

void rn_proto_writer_patch_int32(rn_proto_writer_t *w, size_t pos, int32_t v)
{
    if (w->err)
        return;
    if (pos + 4 > w->len) {
        rn_proto_writer_fail(w, RN_EINVAL);
        return;
    }
    rn_store_be32(w->buf + pos, (uint32_t)v);
}

rn_proto_mark_t rn_proto_writer_mark(const rn_proto_writer_t *w)
{
    return (rn_proto_mark_t){w->len, w->total};
}

void rn_proto_writer_insert_size(rn_proto_writer_t *w, rn_proto_mark_t mark)
{
    if (w->err)
        return;
    /* The value must be plain memory written after the mark: nothing spliced since. */
    size_t len = w->len - mark.pos;
    if (mark.pos > w->len || mark.pos < w->open || w->total - mark.total != len ||
        len > UINT32_MAX) {
        rn_proto_writer_fail(w, RN_EINVAL);
        return;
    }
    uint8_t tmp[10];
    size_t n = rn_varint_put(tmp, len);
    if (rn_proto_put(w, n) == NULL)
        return;
    memmove(w->buf + mark.pos + n, w->buf + mark.pos, len);
    memcpy(w->buf + mark.pos, tmp, n);
}

size_t rn_proto_writer_nchunks(const rn_proto_writer_t *w)
{
    return w->nsegs + (w->len > w->open);
}

void rn_proto_writer_chunk(const rn_proto_writer_t *w, size_t i, rn_proto_chunk_t *chunk)
{
    memset(chunk, 0, sizeof(*chunk));
    chunk->fd = -1;
    if (i >= w->nsegs) {
        chunk->ptr = w->buf + w->open;
        chunk->len = w->len - w->open;
        return;
    }
    const struct rn_proto_seg *seg = &w->segs[i];
    chunk->len = seg->len;
    switch (seg->kind) {
    case RN_SEG_MEM: chunk->ptr = w->buf + seg->start; break;
    case RN_SEG_SPLICE: chunk->ptr = seg->ptr; break;
    default:
        chunk->in_file = true;
        chunk->fd = seg->fd;
        chunk->offset = seg->offset;
        chunk->owner = seg->owner;
        break;
    }
}

long rn_proto_writer_copy(const rn_proto_writer_t *w, uint8_t *dst, size_t cap)
{
    if (w->err)
        return w->err;
    if (w->total > cap || w->total > (size_t)LONG_MAX)
        return RN_ETOOBIG;
    size_t pos = 0, n = rn_proto_writer_nchunks(w);
    for (size_t i = 0; i < n; i++) {
        rn_proto_chunk_t chunk;
        rn_proto_writer_chunk(w, i, &chunk);
        if (!chunk.in_file) {
            memcpy(dst + pos, chunk.ptr, chunk.len);
            pos += chunk.len;
            continue;
        }
        for (size_t done = 0; done < chunk.len;) {
            ssize_t got =
                pread(chunk.fd, dst + pos, chunk.len - done, (off_t)(chunk.offset + (int64_t)done));
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return got < 0 ? RN_EIO : RN_ETRUNC;
            done += (size_t)got;
            pos += (size_t)got;
        }
    }
    return (long)pos;
}

/* Hands a file chunk's owner back once libevent has finished with the segment. */
struct rn_proto_release {
    rn_proto_release_fn *release;
    void *owner;
};

static void rn_proto_segment_done(struct evbuffer_file_segment const *seg, int flags, void *arg)
{
    struct rn_proto_release *rel = arg;
    rel->release(rel->owner);
    rn_free(rel);
}

int rn_proto_writer_to_evbuffer(const rn_proto_writer_t *w, struct evbuffer *out,
                                rn_proto_release_fn *release)
{
    if (w->err)
        return w->err;
    size_t n = rn_proto_writer_nchunks(w);
    for (size_t i = 0; i < n; i++) {
        rn_proto_chunk_t chunk;
        rn_proto_writer_chunk(w, i, &chunk);
        if (!chunk.in_file) {
            if (evbuffer_add(out, chunk.ptr, chunk.len) != 0)
                return RN_ENOMEM;
            continue;
        }
        struct evbuffer_file_segment *seg =
            evbuffer_file_segment_new(chunk.fd, chunk.offset, (ev_off_t)chunk.len, 0);
        if (seg == NULL)
            return RN_EIO;
        if (release != NULL) {
            struct rn_proto_release *rel = rn_malloc(sizeof(*rel));
            if (rel == NULL) {
                evbuffer_file_segment_free(seg);
                return RN_ENOMEM;
            }
            rel->release = release;
            rel->owner = chunk.owner;
            evbuffer_file_segment_add_cleanup_cb(seg, rn_proto_segment_done, rel);
        }
        int rc = evbuffer_add_file_segment(out, seg, 0, (ev_off_t)chunk.len);
        /* The buffer holds its own reference on success; ours goes either way (on failure
         * this frees the segment and runs the cleanup, releasing the owner). */
        evbuffer_file_segment_free(seg);
        if (rc != 0)
            return RN_ENOMEM;
    }
    return 0;
}
