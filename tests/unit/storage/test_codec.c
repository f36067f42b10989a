/* rn_codec: round trips for every codec and size, output caps (bombs), malformed and
 * truncated input, multi-member/multi-frame streams, allocation failure. */
#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_endian.h"
#include "rn_err.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define SEED 20240611u

static uint32_t rng_state = SEED;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* Half text-like (compressible), half random bytes. */
static uint8_t *make_data(size_t len)
{
    uint8_t *buf = rn_xmalloc(len ? len : 1);
    static const char words[] = "kafka runnel batch record offset partition leader epoch ";
    for (size_t i = 0; i < len; i++)
        buf[i] =
            i < len / 2 ? (uint8_t)words[(i * 7 + i / 13) % (sizeof(words) - 1)] : (uint8_t)rng();
    return buf;
}

typedef struct variant {
    int codec;
    rn_codec_opts_t opts;
    const char *name;
} variant_t;

static const variant_t variants[] = {
    {RN_CODEC_NONE, {0, 0}, "none"},           {RN_CODEC_GZIP, {0, 0}, "gzip"},
    {RN_CODEC_GZIP, {1, 0}, "gzip level 1"},   {RN_CODEC_SNAPPY, {0, 0}, "snappy xerial"},
    {RN_CODEC_SNAPPY, {0, 1}, "snappy raw"},   {RN_CODEC_LZ4, {0, 0}, "lz4"},
    {RN_CODEC_LZ4, {9, 0}, "lz4 hc"},          {RN_CODEC_ZSTD, {0, 0}, "zstd"},
    {RN_CODEC_ZSTD, {19, 0}, "zstd level 19"},
};
#define NVARIANTS (sizeof(variants) / sizeof(variants[0]))

static void test_round_trips(void)
{
    static const size_t sizes[] = {0,     1,     100,   4095,        32767,
                                   32768, 32769, 65537, 1024 * 1024, 3 * 100000 + 7};
    for (size_t v = 0; v < NVARIANTS; v++) {
        const variant_t *var = &variants[v];
        int all_ok = 1;
        for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
            size_t len = sizes[s];
            if (len > 100000 && var->opts.level >= 9)
                continue; /* slow levels: the small sizes cover them */
            uint8_t *data = make_data(len), *z = NULL, *back = NULL;
            size_t zlen = 0, blen = 0;
            int err = rn_codec_compress(var->codec, &var->opts, data, len, &z, &zlen);
            if (err == 0)
                err = rn_codec_decompress(var->codec, z, zlen, len, &back, &blen);
            int good = err == 0 && blen == len && (len == 0 || memcmp(back, data, len) == 0);
            /* Same through the caller-buffer API, with the exact capacity. */
            uint8_t *fixed = rn_xmalloc(len ? len : 1);
            size_t flen = 0;
            if (good)
                good = rn_codec_decompress_into(var->codec, z, zlen, fixed, len, &flen) == 0 &&
                       flen == len && (len == 0 || memcmp(fixed, data, len) == 0);
            /* One byte less than needed must be refused. */
            if (good && len > 0) {
                uint8_t *tmp = NULL;
                size_t tlen;
                good =
                    rn_codec_decompress(var->codec, z, zlen, len - 1, &tmp, &tlen) == RN_ETOOBIG &&
                    rn_codec_decompress_into(var->codec, z, zlen, fixed, len - 1, &tlen) ==
                        RN_ETOOBIG;
                rn_free(tmp);
            }
            if (!good) {
                diag("%s size %zu: err %d blen %zu", var->name, len, err, blen);
                all_ok = 0;
            }
            rn_free(fixed);
            rn_free(z);
            rn_free(back);
            rn_free(data);
        }
        ok(all_ok, "%s: round trips 0 B .. 1 MiB, exact cap ok, cap-1 is RN_ETOOBIG", var->name);
    }
}

static void test_framing(void)
{
    uint8_t *z = NULL;
    size_t zlen;
    static const uint8_t xerial_magic[8] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0};
    uint8_t *data = make_data(100000);

    is(rn_codec_compress(RN_CODEC_SNAPPY, NULL, data, 100000, &z, &zlen), 0, "snappy default");
    ok(zlen > 16 && memcmp(z, xerial_magic, 8) == 0, "default snappy output is xerial framed");
    is(rn_load_be32(z + 8), 1, "xerial version 1");
    is(rn_load_be32(z + 12), 1, "xerial compatible version 1");
    /* 100000 bytes = 4 blocks of at most 32 KiB. */
    size_t pos = 16, blocks = 0;
    while (pos + 4 <= zlen) {
        pos += 4 + rn_load_be32(z + pos);
        blocks++;
    }
    ok(pos == zlen && blocks == 4, "xerial blocks of 32 KiB: %zu blocks, end at %zu of %zu", blocks,
       pos, zlen);
    rn_free(z);

    is(rn_codec_compress(RN_CODEC_SNAPPY, NULL, data, 0, &z, &zlen), 0, "xerial of nothing");
    is(zlen, 16, "empty xerial stream is the 16-byte header");
    uint8_t *out = NULL;
    size_t olen = 99;
    is(rn_codec_decompress(RN_CODEC_SNAPPY, z, zlen, 0, &out, &olen), 0, "header only decodes");
    is(olen, 0, "to zero bytes");
    ok(out != NULL, "owned output is non-NULL even when empty");
    rn_free(out);
    rn_free(z);

    rn_codec_opts_t raw = {0, 1};
    is(rn_codec_compress(RN_CODEC_SNAPPY, &raw, data, 1000, &z, &zlen), 0, "raw snappy");
    ok(memcmp(z, xerial_magic, 8) != 0 && z[0] == 0xe8 && z[1] == 0x07,
       "raw snappy starts with the varint length 1000");
    rn_free(z);

    /* lz4: magic, FLG with block independence set and no block checksum (Kafka's Java
     * decoder supports only that), BD with 64 KiB blocks. */
    is(rn_codec_compress(RN_CODEC_LZ4, NULL, data, 100000, &z, &zlen), 0, "lz4");
    is(rn_load_be32(z), 0x04224d18, "lz4 frame magic (little-endian 0x184D2204)");
    ok((z[4] & 0x20) && !(z[4] & 0x10), "FLG: independent blocks, no block checksum");
    is((z[5] >> 4) & 7, 4, "BD: 64 KiB maximum block size");
    rn_free(z);

    is(rn_codec_compress(RN_CODEC_GZIP, NULL, data, 10, &z, &zlen), 0, "gzip");
    ok(z[0] == 0x1f && z[1] == 0x8b && z[2] == 8, "gzip magic and deflate method");
    rn_free(z);
    is(rn_codec_compress(RN_CODEC_ZSTD, NULL, data, 10, &z, &zlen), 0, "zstd");
    is(rn_load_be32(z), 0x28b52ffd, "zstd frame magic");
    rn_free(z);
    rn_free(data);
}

/* Concatenate two compressed streams of a and b; the result must decode to a || b. */
static void check_concat(int codec, const char *what)
{
    uint8_t *za, *zb;
    size_t la, lb;
    rn_codec_compress(codec, NULL, (const uint8_t *)"first part,", 11, &za, &la);
    rn_codec_compress(codec, NULL, (const uint8_t *)"second part", 11, &zb, &lb);
    uint8_t *cat = rn_xmalloc(la + lb);
    memcpy(cat, za, la);
    memcpy(cat + la, zb, lb);
    uint8_t *out = NULL;
    size_t olen = 0;
    int err = rn_codec_decompress(codec, cat, la + lb, 1000, &out, &olen);
    ok(err == 0 && olen == 22 && memcmp(out, "first part,second part", 22) == 0,
       "%s: concatenated streams decode as one (err %d, %zu bytes)", what, err, olen);
    rn_free(out);
    rn_free(cat);
    rn_free(za);
    rn_free(zb);
}

static void test_streams(void)
{
    check_concat(RN_CODEC_GZIP, "gzip members");
    check_concat(RN_CODEC_LZ4, "lz4 frames");
    check_concat(RN_CODEC_ZSTD, "zstd frames");

    /* A zlib (not gzip) stream is accepted, like librdkafka does. */
    uint8_t zbuf[128];
    uLongf zlen = sizeof(zbuf);
    compress2(zbuf, &zlen, (const Bytef *)"zlib wrapped", 12, 6);
    uint8_t *out = NULL;
    size_t olen = 0;
    ok(rn_codec_decompress(RN_CODEC_GZIP, zbuf, zlen, 100, &out, &olen) == 0 && olen == 12 &&
           memcmp(out, "zlib wrapped", 12) == 0,
       "gzip decoder accepts a zlib stream");
    rn_free(out);

    /* Garbage after the last gzip member is ignored (Java's GZIPInputStream does too). */
    uint8_t *z;
    size_t l;
    rn_codec_compress(RN_CODEC_GZIP, NULL, (const uint8_t *)"abc", 3, &z, &l);
    uint8_t *tail = rn_xmalloc(l + 3);
    memcpy(tail, z, l);
    memcpy(tail + l, "\0\0\0", 3);
    ok(rn_codec_decompress(RN_CODEC_GZIP, tail, l + 3, 100, &out, &olen) == 0 && olen == 3,
       "gzip: trailing bytes after the last member are ignored");
    rn_free(out);
    rn_free(tail);
    rn_free(z);
}

static void test_malformed(void)
{
    uint8_t *out = NULL;
    size_t olen;
    for (int codec = RN_CODEC_GZIP; codec <= RN_CODEC_ZSTD; codec++)
        is(rn_codec_decompress(codec, (const uint8_t *)"", 0, 100, &out, &olen), RN_ECORRUPT,
           "%s: empty input is corrupt", rn_codec_name(codec));
    is(rn_codec_decompress(5, (const uint8_t *)"x", 1, 100, &out, &olen), RN_EUNSUPPORTED,
       "codec 5 is unsupported");
    is(rn_codec_compress(7, NULL, (const uint8_t *)"x", 1, &out, &olen), RN_EUNSUPPORTED,
       "compress codec 7 is unsupported");
    rn_codec_opts_t bad = {42, 0};
    is(rn_codec_compress(RN_CODEC_GZIP, &bad, (const uint8_t *)"x", 1, &out, &olen), RN_EINVAL,
       "gzip level 42 is refused");
    is(rn_codec_compress(RN_CODEC_LZ4, &bad, (const uint8_t *)"x", 1, &out, &olen), RN_EINVAL,
       "lz4 level 42 is refused");

    /* Every truncation of a valid stream is corrupt (or, for the raw forms without an end
     * marker, at worst decodes); none crashes or reads past the end (ASan watches). */
    uint8_t *data = make_data(70000);
    for (size_t v = 1; v < NVARIANTS; v++) {
        const variant_t *var = &variants[v];
        uint8_t *z;
        size_t zlen;
        rn_codec_compress(var->codec, &var->opts, data, 70000, &z, &zlen);
        int bad_truncs = 0, steps = 0;
        for (size_t cut = 0; cut < zlen; cut += 1 + zlen / 300, steps++) {
            uint8_t *copy = rn_xmalloc(cut ? cut : 1); /* exact size: overreads trip ASan */
            memcpy(copy, z, cut);
            int err = rn_codec_decompress(var->codec, copy, cut, 70000, &out, &olen);
            if (err == 0)
                rn_free(out);
            /* xerial has no end marker: a cut at a block boundary decodes a prefix. */
            if (err != RN_ECORRUPT && !(var->codec == RN_CODEC_SNAPPY && !var->opts.snappy_raw &&
                                        err == 0 && olen < 70000))
                bad_truncs++;
            rn_free(copy);
        }
        is(bad_truncs, 0, "%s: %d truncations are all RN_ECORRUPT (xerial: or a shorter prefix)",
           var->name, steps);

        /* Flipped bytes: any outcome but a crash; checksummed formats must notice. */
        int undetected = 0;
        for (int i = 0; i < 200; i++) {
            uint8_t *copy = rn_xmalloc(zlen);
            memcpy(copy, z, zlen);
            copy[rng() % zlen] ^= (uint8_t)(1 + rng() % 255);
            int err = rn_codec_decompress(var->codec, copy, zlen, 70000, &out, &olen);
            if (err == 0) {
                undetected += olen == 70000 && memcmp(out, data, 70000) != 0;
                rn_free(out);
            } else if (err != RN_ECORRUPT && err != RN_ETOOBIG) {
                undetected += 1000;
            }
            rn_free(copy);
        }
        if (var->codec == RN_CODEC_GZIP)
            is(undetected, 0, "%s: 200 byte flips all detected (CRC-32 trailer)", var->name);
        else
            ok(undetected < 1000, "%s: 200 byte flips: only corrupt/too-big errors (%d silent)",
               var->name, undetected);
        rn_free(z);
    }
    rn_free(data);

    /* Raw snappy claiming 4 GiB - 1 from 6 bytes: refused before any allocation. */
    static const uint8_t liar[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x00};
    is(rn_codec_decompress(RN_CODEC_SNAPPY, liar, sizeof(liar), 1 << 20, &out, &olen), RN_ETOOBIG,
       "snappy: declared length over the cap is RN_ETOOBIG");
    is(rn_codec_decompress(RN_CODEC_SNAPPY, liar, sizeof(liar), SIZE_MAX, &out, &olen), RN_ECORRUPT,
       "snappy: declared length beyond any possible ratio is corrupt");
    /* xerial block length beyond the input. */
    static const uint8_t xbad[] = {0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0, 0, 0, 0,
                                   1,    0,   0,   0,   1,   0,   0,   1, 0, 0};
    is(rn_codec_decompress(RN_CODEC_SNAPPY, xbad, sizeof(xbad), 100, &out, &olen), RN_ECORRUPT,
       "xerial: block length past the end is corrupt");
    is(rn_codec_decompress(RN_CODEC_SNAPPY, xbad, 18, 100, &out, &olen), RN_ECORRUPT,
       "xerial: a partial block length is corrupt");
}

/* Peak live bytes through the allocator, to prove caps bound memory. */
static size_t live, peak;
static size_t fail_after = SIZE_MAX;

static void *count_malloc(size_t n)
{
    if (fail_after == 0)
        return NULL;
    fail_after--;
    size_t *p = malloc(n + sizeof(size_t));
    if (p == NULL)
        return NULL;
    *p = n;
    live += n;
    if (live > peak)
        peak = live;
    return p + 1;
}

static void count_free(void *ptr)
{
    if (ptr == NULL)
        return;
    size_t *p = (size_t *)ptr - 1;
    live -= *p;
    free(p);
}

static void *count_realloc(void *ptr, size_t n)
{
    if (ptr == NULL)
        return count_malloc(n);
    if (fail_after == 0)
        return NULL;
    fail_after--;
    size_t *p = (size_t *)ptr - 1, old = *p;
    size_t *np = realloc(p, n + sizeof(size_t));
    if (np == NULL)
        return NULL;
    *np = n;
    live = live - old + n;
    if (live > peak)
        peak = live;
    return np + 1;
}

static const rn_allocator_t counting = {count_malloc, count_realloc, count_free};

static void test_bombs(void)
{
    size_t big = 32 << 20; /* 32 MiB of zeros compresses to a few KiB or less */
    uint8_t *zeros = rn_xcalloc(1, big);
    for (size_t v = 1; v < NVARIANTS; v++) {
        const variant_t *var = &variants[v];
        if (var->opts.level >= 9)
            continue;
        uint8_t *z, *out = NULL;
        size_t zlen, olen;
        rn_codec_compress(var->codec, &var->opts, zeros, big, &z, &zlen);
        rn_alloc_set(&counting);
        peak = live = 0;
        int err = rn_codec_decompress(var->codec, z, zlen, 1 << 20, &out, &olen);
        rn_alloc_set(NULL);
        ok(err == RN_ETOOBIG && peak <= (1 << 20) + 4096,
           "%s: %zu-byte bomb of 32 MiB with a 1 MiB cap: err %d, peak %zu bytes", var->name, zlen,
           err, peak);
        uint8_t small[4096];
        is(rn_codec_decompress_into(var->codec, z, zlen, small, sizeof(small), &olen), RN_ETOOBIG,
           "%s: bomb into a 4 KiB buffer is RN_ETOOBIG", var->name);
        rn_free(z);
    }
    rn_free(zeros);
}

static void test_oom(void)
{
    uint8_t *data = make_data(200000);
    for (size_t v = 1; v < NVARIANTS; v++) {
        const variant_t *var = &variants[v];
        if (var->opts.level >= 9)
            continue;
        uint8_t *z, *out = NULL;
        size_t zlen, olen;
        rn_codec_compress(var->codec, &var->opts, data, 200000, &z, &zlen);
        int bad = 0;
        /* Fail the 1st, 2nd, ... allocation until decoding no longer allocates. */
        for (size_t k = 0; k < 40; k++) {
            rn_alloc_set(&counting);
            fail_after = k;
            int err = rn_codec_decompress(var->codec, z, zlen, 1 << 20, &out, &olen);
            fail_after = SIZE_MAX;
            if (err == 0) {
                bad += olen != 200000 || memcmp(out, data, olen) != 0;
                rn_free(out); /* with the allocator that made it */
            }
            rn_alloc_set(NULL);
            if (err == 0)
                break;
            bad += err != RN_ENOMEM;
        }
        is(bad, 0, "%s: each failed allocation is RN_ENOMEM, then it succeeds", var->name);
        rn_free(z);
    }
    rn_free(data);
}

int main(void)
{
    diag("seed %u", SEED);
    is_str(rn_codec_name(RN_CODEC_LZ4), "lz4", "codec name");
    is_str(rn_codec_name(9), "unknown", "unknown codec name");
    is(rn_codec_from_name("ZSTD"), RN_CODEC_ZSTD, "name lookup is case-insensitive");
    is(rn_codec_from_name("brotli"), RN_EINVAL, "unknown name");
    test_round_trips();
    test_framing();
    test_streams();
    test_malformed();
    test_bombs();
    test_oom();
    return done_testing();
}
