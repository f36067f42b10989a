/* Tests for rn_precords_check, the worker threads' side of Produce's record checks: a good
 * batch passes with its maxTimestamp corrected in place, a failing one is left untouched for
 * the loop, recompression yields a sealed batch holding the same records, decompression
 * reuses (and grows) the thread's buffer, and which batches are worth a worker. The loop's
 * side (rn_precords_apply, with its error texts) is covered through Produce by
 * tests/integration/test_datapath_wire.py and test_produce_workers.py. */
#include "data/rn_precords.h"
#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_err.h"
#include "tap.h"
#include "unit/storage/dp_batch.h"

#include <pthread.h>
#include <stdio.h>

#define NOW 1700000000000LL

static dp_batch_t plain_b;

/* n records of size-byte values (key "k<i>", or null for record null_at), timestamps NOW + i,
 * the header's maxTimestamp set to max_ts (-2: the true one). */
static const dp_batch_t *make(int n, size_t size, int null_at, int64_t max_ts)
{
    static char value[4096];
    dp_batch_init(&plain_b, NOW);
    for (int i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        for (size_t j = 0; j + 1 < size && j + 1 < sizeof(value); j++)
            value[j] = (char)('a' + (i + j * 7) % 26);
        value[size < sizeof(value) ? size - 1 : sizeof(value) - 1] = 0;
        dp_batch_record(&plain_b, i, i == null_at ? NULL : key, value);
    }
    if (max_ts != -2)
        plain_b.max_ts = max_ts;
    dp_batch_finish(&plain_b, -1, -1, -1);
    return &plain_b;
}

/* b's records compressed with codec into a new batch (rn_malloc'd). */
static uint8_t *compressed(const dp_batch_t *b, int codec, size_t *len)
{
    uint8_t *z = NULL;
    size_t zlen = 0;
    if (rn_codec_compress(codec, NULL, b->buf + RN_BATCH_HEADER_SIZE, b->len - RN_BATCH_HEADER_SIZE,
                          &z, &zlen) != 0)
        return NULL;
    uint8_t *out = rn_xmalloc(RN_BATCH_HEADER_SIZE + zlen);
    memcpy(out, b->buf, RN_BATCH_HEADER_SIZE);
    memcpy(out + RN_BATCH_HEADER_SIZE, z, zlen);
    rn_free(z);
    *len = RN_BATCH_HEADER_SIZE + zlen;
    out[RN_BATCH_OFF_ATTRIBUTES + 1] = (uint8_t)((out[RN_BATCH_OFF_ATTRIBUTES + 1] & ~7) | codec);
    rn_store_be32(out + RN_BATCH_OFF_BATCH_LENGTH, (uint32_t)(*len - RN_BATCH_LOG_OVERHEAD));
    rn_store_be32(out + RN_BATCH_OFF_CRC, rn_batch_compute_crc(out, *len));
    return out;
}

static rn_precords_rules_t rules(int compression)
{
    return (rn_precords_rules_t){.compression = compression,
                                 .ts_before_max_ms = INT64_MAX,
                                 .ts_after_max_ms = INT64_MAX,
                                 .max_message_bytes = 1 << 20};
}

/* Whether batch[0..len) is a sealed batch of codec whose records are those of want. */
static bool holds(const uint8_t *batch, size_t len, int codec, const dp_batch_t *want)
{
    rn_batch_header_t hdr;
    if (rn_batch_header_parse(batch, len, &hdr) != 0 || rn_batch_total_size(&hdr) != len ||
        rn_batch_compute_crc(batch, len) != hdr.crc || rn_batch_codec(&hdr) != codec ||
        hdr.max_timestamp != want->max_ts)
        return false;
    uint8_t *recs = NULL;
    size_t rlen = 0;
    bool same = rn_codec_decompress(codec, batch + RN_BATCH_HEADER_SIZE, len - RN_BATCH_HEADER_SIZE,
                                    1 << 24, &recs, &rlen) == 0 &&
                rlen == want->len - RN_BATCH_HEADER_SIZE &&
                memcmp(recs, want->buf + RN_BATCH_HEADER_SIZE, rlen) == 0;
    rn_free(recs);
    return same;
}

/* A gzip batch of n records recompressed to zstd, checked whole. */
static bool recompress_ok(int n, size_t size)
{
    const dp_batch_t *b = make(n, size, -1, -2);
    size_t zlen = 0;
    uint8_t *z = compressed(b, RN_CODEC_GZIP, &zlen);
    rn_batch_header_t hdr;
    rn_batch_header_parse(z, zlen, &hdr);
    rn_precords_rules_t ru = rules(RN_CODEC_ZSTD);
    uint8_t *out = NULL;
    size_t out_len = 0;
    bool good = rn_precords_check(&ru, NOW, z, zlen, &hdr, &out, &out_len) == 0 && out &&
                holds(out, out_len, RN_CODEC_ZSTD, b);
    rn_free(out);
    rn_free(z);
    return good;
}

static void *on_thread(void *arg)
{
    *(bool *)arg = recompress_ok(30, 1000) && recompress_ok(5, 100);
    return NULL;
}

int main(void)
{
    rn_batch_header_t hdr;
    uint8_t *out = NULL;
    size_t out_len = 0;

    /* An uncompressed batch whose maxTimestamp is wrong: fixed in place, CRC sealed. */
    rn_precords_rules_t asis = rules(-1);
    const dp_batch_t *b = make(40, 1000, -1, NOW - 5000);
    dp_batch_t copy = *b;
    rn_batch_header_parse(copy.buf, copy.len, &hdr);
    is(rn_precords_check(&asis, NOW, copy.buf, copy.len, &hdr, &out, &out_len), 0,
       "a good batch passes");
    ok(out == NULL, "and is stored as sent");
    rn_batch_header_t fixed;
    rn_batch_header_parse(copy.buf, copy.len, &fixed);
    is(fixed.max_timestamp, NOW + 39, "its maxTimestamp corrected in place");
    is(rn_batch_compute_crc(copy.buf, copy.len), fixed.crc, "and its CRC sealed");

    /* A null key on a compacted topic: fails, and buf is as it was. */
    rn_precords_rules_t compact = rules(-1);
    compact.compacted = true;
    b = make(40, 1000, 17, NOW - 5000);
    copy = *b;
    rn_batch_header_parse(copy.buf, copy.len, &hdr);
    is(rn_precords_check(&compact, NOW, copy.buf, copy.len, &hdr, &out, &out_len), RN_EINVAL,
       "a null key on a compacted topic fails");
    ok(memcmp(copy.buf, b->buf, b->len) == 0, "leaving the batch untouched for the loop");

    /* A timestamp outside the window fails too. */
    rn_precords_rules_t window = rules(-1);
    window.create_time = true;
    window.ts_before_max_ms = 1000;
    b = make(10, 100, -1, -2);
    copy = *b;
    rn_batch_header_parse(copy.buf, copy.len, &hdr);
    is(rn_precords_check(&window, NOW + 60000, copy.buf, copy.len, &hdr, &out, &out_len), RN_EINVAL,
       "a timestamp a minute old against a 1 s window fails");
    is(rn_precords_check(&window, NOW + 500, copy.buf, copy.len, &hdr, &out, &out_len), 0,
       "within it passes");

    /* Recompressed: a new batch, sealed, holding the same records. */
    rn_precords_rules_t to_lz4 = rules(RN_CODEC_LZ4);
    b = make(40, 1000, -1, NOW);
    copy = *b;
    rn_batch_header_parse(copy.buf, copy.len, &hdr);
    is(rn_precords_check(&to_lz4, NOW, copy.buf, copy.len, &hdr, &out, &out_len), 0,
       "recompressed to lz4");
    copy.max_ts = NOW + 39;
    ok(out != NULL && holds(out, out_len, RN_CODEC_LZ4, &copy),
       "a sealed lz4 batch of the same records, maxTimestamp corrected");
    ok(memcmp(copy.buf, b->buf, b->len) == 0, "the input is left alone");
    rn_free(out);
    out = NULL;

    /* Past max.message.bytes once recompressed: refused, no batch. */
    rn_precords_rules_t tight = rules(RN_CODEC_LZ4);
    tight.max_message_bytes = 100;
    is(rn_precords_check(&tight, NOW, copy.buf, copy.len, &hdr, &out, &out_len), RN_ETOOBIG,
       "a recompressed batch past max.message.bytes is refused");
    ok(out == NULL, "with no batch");

    /* Decompression into the thread's buffer: grown, reused for a smaller batch, grown again. */
    ok(recompress_ok(20, 1000), "gzip to zstd (the buffer grows)");
    ok(recompress_ok(3, 200), "a smaller batch in the same buffer");
    ok(recompress_ok(60, 1000), "a larger one (it grows again)");
    bool on_other = false;
    pthread_t th;
    pthread_create(&th, NULL, on_thread, &on_other);
    pthread_join(th, NULL);
    ok(on_other, "another thread has a buffer of its own, freed when it ends");

    /* A compressed batch stored as sent is not opened: garbage records pass. */
    b = make(5, 100, -1, -2);
    copy = *b;
    copy.buf[RN_BATCH_OFF_ATTRIBUTES + 1] |= RN_CODEC_LZ4;
    rn_batch_header_parse(copy.buf, copy.len, &hdr);
    is(rn_precords_check(&asis, NOW, copy.buf, copy.len, &hdr, &out, &out_len), 0,
       "a compressed batch stored as sent is not decompressed");
    is(rn_precords_check(&to_lz4, NOW, copy.buf, copy.len, &hdr, &out, &out_len), 0,
       "nor one already in the topic's codec");
    rn_precords_rules_t to_zstd = rules(RN_CODEC_ZSTD);
    ok(rn_precords_check(&to_zstd, NOW, copy.buf, copy.len, &hdr, &out, &out_len) != 0,
       "but one to recompress is, and garbage fails");

    /* Which batches go to a worker. */
    rn_batch_header_t plain_hdr = {0}, lz4_hdr = {.attributes = RN_CODEC_LZ4};
    ok(rn_precords_worker_wanted(&asis, &plain_hdr, 64 * 1024), "64 KiB goes");
    ok(!rn_precords_worker_wanted(&asis, &plain_hdr, 64 * 1024 - 1), "less stays");
    ok(!rn_precords_worker_wanted(&asis, &lz4_hdr, 32 * 1024),
       "a compressed batch stored as sent stays under 64 KiB");
    ok(rn_precords_worker_wanted(&to_zstd, &lz4_hdr, 4 * 1024),
       "one to recompress goes from 4 KiB");
    ok(!rn_precords_worker_wanted(&to_zstd, &lz4_hdr, 4 * 1024 - 1), "not below");
    return done_testing();
}
