/* Compression codecs for record batches: gzip (zlib), snappy (raw and xerial framing),
 * lz4 (frame format) and zstd, with decompression output capped (see rn_codec.h).
 *
 * Every decoder writes through a sink that either grows an rn_malloc'd buffer up to the
 * caller's maximum or fills the caller's fixed buffer. When the sink is at its maximum it
 * hands the streaming decoder a small probe window: a byte written there proves the
 * output exceeds the cap (RN_ETOOBIG), while a stream that ends exactly at the cap
 * writes nothing there and succeeds. */
#include "rn_codec.h"

#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_err.h"

#include <limits.h>
#include <lz4frame.h>
#include <lz4hc.h>
#include <snappy-c.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

/* Kafka's length fields are int32, so no batch holds more than this many bytes. */
#define CODEC_MAX_INPUT ((size_t)INT32_MAX)
/* Snappy-java's default block size; Java producers frame xerial blocks of this size. */
#define XERIAL_BLOCK_SIZE  (32 * 1024)
#define XERIAL_HEADER_SIZE 16
static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
/* A raw snappy element expands at most 64 output bytes per 3 input bytes (a 2-byte-offset
 * copy); a declared length beyond 32x the input cannot be genuine. */
#define SNAPPY_MAX_RATIO 32

typedef struct sink {
    uint8_t *buf;
    size_t len;  /* bytes produced so far */
    size_t cap;  /* bytes allocated (owned) or provided (fixed); len <= cap <= max */
    size_t max;  /* the caller's cap on the output */
    int owned;   /* buf is rn_malloc'd and may grow up to max */
    int probing; /* the last window handed out was probe */
    uint8_t probe[64];
} sink_t;

static int sink_grow(sink_t *s, size_t need)
{
    if (need > s->max)
        return RN_ETOOBIG;
    size_t ncap = s->cap < 4096 ? 4096 : s->cap;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? SIZE_MAX : ncap * 2;
    if (ncap > s->max)
        ncap = s->max;
    uint8_t *nbuf = rn_realloc(s->buf, ncap);
    if (nbuf == NULL)
        return RN_ENOMEM;
    s->buf = nbuf;
    s->cap = ncap;
    return 0;
}

/* Give the decoder a writable window at the end of the output (never empty). */
static int sink_window(sink_t *s, uint8_t **p, size_t *n)
{
    if (s->len == s->cap && s->owned && s->cap < s->max) {
        int err = sink_grow(s, s->len + 1);
        if (err)
            return err;
    }
    if (s->len < s->cap) {
        *p = s->buf + s->len;
        *n = s->cap - s->len;
        s->probing = 0;
    } else {
        *p = s->probe;
        *n = sizeof(s->probe);
        s->probing = 1;
    }
    if (*n > UINT_MAX)
        *n = UINT_MAX; /* zlib counts in uInt */
    return 0;
}

/* Account for `produced` bytes written into the last window. */
static int sink_advance(sink_t *s, size_t produced)
{
    if (s->probing)
        return produced ? RN_ETOOBIG : 0;
    s->len += produced;
    return 0;
}

/* Make room for exactly n more bytes (for decoders that know their output size). */
static int sink_reserve(sink_t *s, size_t n, uint8_t **p)
{
    if (n > s->max - s->len)
        return RN_ETOOBIG;
    if (n > s->cap - s->len) {
        if (!s->owned)
            return RN_ETOOBIG;
        int err = sink_grow(s, s->len + n);
        if (err)
            return err;
    }
    *p = s->buf + s->len;
    return 0;
}

/* ---- gzip ---- */

static int gzip_decode(sink_t *s, const uint8_t *in, size_t in_len)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* 15 + 32: 32 KiB window, gzip or zlib header detected automatically. */
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        return RN_ENOMEM;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    int err = 0;
    for (;;) {
        uint8_t *p;
        size_t n;
        if ((err = sink_window(s, &p, &n)) != 0)
            break;
        zs.next_out = p;
        zs.avail_out = (uInt)n;
        int zr = inflate(&zs, Z_NO_FLUSH);
        if ((err = sink_advance(s, n - zs.avail_out)) != 0)
            break;
        if (zr == Z_STREAM_END) {
            /* Another gzip member may follow (Java and gzip(1) read them all). */
            if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
                inflateReset(&zs);
                continue;
            }
            break;
        }
        if (zr == Z_OK)
            continue;
        /* Z_BUF_ERROR with a non-empty window means the input ended mid-stream. */
        err = zr == Z_MEM_ERROR ? RN_ENOMEM : RN_ECORRUPT;
        break;
    }
    inflateEnd(&zs);
    return err;
}

static int gzip_encode(int level, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    if (level == 0)
        level = Z_DEFAULT_COMPRESSION;
    else if (level < 1 || level > 9)
        return RN_EINVAL;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* 15 + 16: a gzip wrapper, as Kafka's GZIPOutputStream writes. */
    int zr = deflateInit2(&zs, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    if (zr != Z_OK)
        return zr == Z_MEM_ERROR ? RN_ENOMEM : RN_EINVAL;
    size_t bound = deflateBound(&zs, (uLong)in_len);
    uint8_t *buf = rn_malloc(bound);
    if (buf == NULL) {
        deflateEnd(&zs);
        return RN_ENOMEM;
    }
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = buf;
    zs.avail_out = (uInt)bound;
    zr = deflate(&zs, Z_FINISH);
    size_t n = zs.total_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) { /* cannot happen with deflateBound's size */
        rn_free(buf);
        return RN_ENOMEM;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* ---- snappy ---- */

static int snappy_raw_decode(sink_t *s, const uint8_t *in, size_t in_len)
{
    size_t ulen;
    if (snappy_uncompressed_length((const char *)in, in_len, &ulen) != SNAPPY_OK)
        return RN_ECORRUPT;
    if (ulen > s->max - s->len)
        return RN_ETOOBIG;
    if (ulen / SNAPPY_MAX_RATIO > in_len)
        return RN_ECORRUPT;
    uint8_t *p;
    int err = sink_reserve(s, ulen, &p);
    if (err)
        return err;
    size_t n = ulen;
    if (snappy_uncompress((const char *)in, in_len, (char *)p, &n) != SNAPPY_OK || n != ulen)
        return RN_ECORRUPT;
    s->len += n;
    return 0;
}

static int snappy_decode(sink_t *s, const uint8_t *in, size_t in_len)
{
    if (in_len < sizeof(xerial_magic) || memcmp(in, xerial_magic, sizeof(xerial_magic)) != 0)
        return snappy_raw_decode(s, in, in_len);
    /* xerial framing: the two version words are not checked; snappy-java writes 1, 1 and
     * decoders in the field ignore them. */
    if (in_len < XERIAL_HEADER_SIZE)
        return RN_ECORRUPT;
    size_t pos = XERIAL_HEADER_SIZE;
    while (pos < in_len) {
        if (in_len - pos < 4)
            return RN_ECORRUPT;
        size_t blen = rn_load_be32(in + pos);
        pos += 4;
        if (blen > in_len - pos)
            return RN_ECORRUPT;
        int err = snappy_raw_decode(s, in + pos, blen);
        if (err)
            return err;
        pos += blen;
    }
    return 0;
}

static int snappy_encode(int raw, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    if (raw) {
        size_t n = snappy_max_compressed_length(in_len);
        uint8_t *buf = rn_malloc(n);
        if (buf == NULL)
            return RN_ENOMEM;
        if (snappy_compress((const char *)in, in_len, (char *)buf, &n) != SNAPPY_OK) {
            rn_free(buf);
            return RN_ENOMEM;
        }
        *out = buf;
        *out_len = n;
        return 0;
    }
    size_t nblocks = (in_len + XERIAL_BLOCK_SIZE - 1) / XERIAL_BLOCK_SIZE;
    size_t bound =
        XERIAL_HEADER_SIZE + nblocks * (4 + snappy_max_compressed_length(XERIAL_BLOCK_SIZE));
    uint8_t *buf = rn_malloc(bound);
    if (buf == NULL)
        return RN_ENOMEM;
    memcpy(buf, xerial_magic, sizeof(xerial_magic));
    rn_store_be32(buf + 8, 1);  /* version */
    rn_store_be32(buf + 12, 1); /* compatible version */
    size_t pos = XERIAL_HEADER_SIZE;
    for (size_t off = 0; off < in_len; off += XERIAL_BLOCK_SIZE) {
        size_t chunk = in_len - off < XERIAL_BLOCK_SIZE ? in_len - off : XERIAL_BLOCK_SIZE;
        size_t n = bound - pos - 4;
        if (snappy_compress((const char *)in + off, chunk, (char *)buf + pos + 4, &n) !=
            SNAPPY_OK) {
            rn_free(buf);
            return RN_ENOMEM;
        }
        rn_store_be32(buf + pos, (uint32_t)n);
        pos += 4 + n;
    }
    uint8_t *shrunk = rn_realloc(buf, pos);
    *out = shrunk ? shrunk : buf;
    *out_len = pos;
    return 0;
}

/* ---- lz4 ---- */

static int lz4_decode(sink_t *s, const uint8_t *in, size_t in_len)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return RN_ENOMEM;
    size_t pos = 0, hint = 1; /* hint 0 means "frame complete" */
    int err = 0;
    while (pos < in_len || hint != 0) {
        uint8_t *p;
        size_t n;
        if ((err = sink_window(s, &p, &n)) != 0)
            break;
        size_t src_n = in_len - pos, dst_n = n;
        hint = LZ4F_decompress(dctx, p, &dst_n, in + pos, &src_n, NULL);
        if (LZ4F_isError(hint)) {
            err = RN_ECORRUPT;
            break;
        }
        pos += src_n;
        if ((err = sink_advance(s, dst_n)) != 0)
            break;
        if (src_n == 0 && dst_n == 0) { /* input exhausted mid-frame */
            err = RN_ECORRUPT;
            break;
        }
    }
    LZ4F_freeDecompressionContext(dctx);
    return err;
}

static int lz4_encode(int level, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    if (level < 0 || level > LZ4HC_CLEVEL_MAX)
        return RN_EINVAL;
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof(prefs));
    prefs.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentSize = in_len;
    prefs.compressionLevel = level;
    size_t bound = LZ4F_compressFrameBound(in_len, &prefs);
    uint8_t *buf = rn_malloc(bound);
    if (buf == NULL)
        return RN_ENOMEM;
    size_t n = LZ4F_compressFrame(buf, bound, in, in_len, &prefs);
    if (LZ4F_isError(n)) {
        rn_free(buf);
        return RN_ENOMEM;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* ---- zstd ---- */

static int zstd_decode(sink_t *s, const uint8_t *in, size_t in_len)
{
    unsigned long long declared = ZSTD_getFrameContentSize(in, in_len);
    if (declared == ZSTD_CONTENTSIZE_ERROR)
        return RN_ECORRUPT;
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > s->max - s->len)
        return RN_ETOOBIG;
    ZSTD_DStream *ds = ZSTD_createDStream();
    if (ds == NULL)
        return RN_ENOMEM;
    ZSTD_inBuffer ib = {in, in_len, 0};
    size_t hint = 1; /* 0 means "frame complete and flushed" */
    int err = 0;
    while (ib.pos < ib.size || hint != 0) {
        uint8_t *p;
        size_t n;
        if ((err = sink_window(s, &p, &n)) != 0)
            break;
        ZSTD_outBuffer ob = {p, n, 0};
        size_t before = ib.pos;
        hint = ZSTD_decompressStream(ds, &ob, &ib);
        if (ZSTD_isError(hint)) {
            err = ZSTD_getErrorCode(hint) == ZSTD_error_memory_allocation ? RN_ENOMEM : RN_ECORRUPT;
            break;
        }
        if ((err = sink_advance(s, ob.pos)) != 0)
            break;
        if (ib.pos == before && ob.pos == 0) { /* input exhausted mid-frame */
            err = RN_ECORRUPT;
            break;
        }
    }
    ZSTD_freeDStream(ds);
    return err;
}

static int zstd_encode(int level, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    if (level == 0)
        level = ZSTD_CLEVEL_DEFAULT;
    else if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel())
        return RN_EINVAL;
    size_t bound = ZSTD_compressBound(in_len);
    uint8_t *buf = rn_malloc(bound);
    if (buf == NULL)
        return RN_ENOMEM;
    size_t n = ZSTD_compress(buf, bound, in, in_len, level);
    if (ZSTD_isError(n)) {
        rn_free(buf);
        return RN_ENOMEM;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* ---- dispatch ---- */

static const char *const codec_names[] = {"none", "gzip", "snappy", "lz4", "zstd"};

const char *rn_codec_name(int codec)
{
    return codec >= 0 && codec <= RN_CODEC_ZSTD ? codec_names[codec] : "unknown";
}

int rn_codec_from_name(const char *name)
{
    for (int codec = 0; codec <= RN_CODEC_ZSTD; codec++)
        if (strcasecmp(name, codec_names[codec]) == 0)
            return codec;
    return RN_EINVAL;
}

int rn_codec_compress(int codec, const rn_codec_opts_t *opts, const uint8_t *in, size_t in_len,
                      uint8_t **out, size_t *out_len)
{
    static const rn_codec_opts_t defaults;
    if (opts == NULL)
        opts = &defaults;
    if (in_len > CODEC_MAX_INPUT)
        return RN_ETOOBIG;
    switch (codec) {
    case RN_CODEC_NONE: {
        uint8_t *buf = rn_malloc(in_len ? in_len : 1);
        if (buf == NULL)
            return RN_ENOMEM;
        if (in_len)
            memcpy(buf, in, in_len);
        *out = buf;
        *out_len = in_len;
        return 0;
    }
    case RN_CODEC_GZIP: return gzip_encode(opts->level, in, in_len, out, out_len);
    case RN_CODEC_SNAPPY: return snappy_encode(opts->snappy_raw, in, in_len, out, out_len);
    case RN_CODEC_LZ4: return lz4_encode(opts->level, in, in_len, out, out_len);
    case RN_CODEC_ZSTD: return zstd_encode(opts->level, in, in_len, out, out_len);
    default: return RN_EUNSUPPORTED;
    }
}

static int decode(int codec, sink_t *s, const uint8_t *in, size_t in_len)
{
    if (in_len > CODEC_MAX_INPUT)
        return RN_ETOOBIG;
    if (codec == RN_CODEC_NONE) {
        uint8_t *p;
        int err = sink_reserve(s, in_len, &p);
        if (err)
            return err;
        if (in_len)
            memcpy(p, in, in_len);
        s->len += in_len;
        return 0;
    }
    if (codec < RN_CODEC_NONE || codec > RN_CODEC_ZSTD)
        return RN_EUNSUPPORTED;
    if (in_len == 0) /* every codec's framing has at least a header */
        return RN_ECORRUPT;
    switch (codec) {
    case RN_CODEC_GZIP: return gzip_decode(s, in, in_len);
    case RN_CODEC_SNAPPY: return snappy_decode(s, in, in_len);
    case RN_CODEC_LZ4: return lz4_decode(s, in, in_len);
    default: return zstd_decode(s, in, in_len);
    }
}

int rn_codec_decompress(int codec, const uint8_t *in, size_t in_len, size_t max_out, uint8_t **out,
                        size_t *out_len)
{
    sink_t s;
    memset(&s, 0, sizeof(s));
    s.owned = 1;
    s.max = max_out;
    /* Start near a typical ratio, but never speculate beyond 8 MiB: the sink doubles as
     * output actually appears. */
    size_t first = in_len < ((size_t)8 << 20) / 4 ? in_len * 4 : (size_t)8 << 20;
    if (first < 1024)
        first = 1024;
    if (first > max_out)
        first = max_out;
    s.buf = rn_malloc(first ? first : 1);
    if (s.buf == NULL)
        return RN_ENOMEM;
    s.cap = first;
    int err = decode(codec, &s, in, in_len);
    if (err) {
        rn_free(s.buf);
        return err;
    }
    *out = s.buf;
    *out_len = s.len;
    return 0;
}

int rn_codec_decompress_into(int codec, const uint8_t *in, size_t in_len, uint8_t *buf, size_t cap,
                             size_t *out_len)
{
    sink_t s;
    memset(&s, 0, sizeof(s));
    s.buf = buf;
    s.cap = s.max = cap;
    int err = decode(codec, &s, in, in_len);
    if (err)
        return err;
    *out_len = s.len;
    return 0;
}
