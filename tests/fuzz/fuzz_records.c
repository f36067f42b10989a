/* Fuzz target: decompression and record iteration over arbitrary bytes.
 *
 * Input: one mode byte, then the payload. Mode bits 0-2 pick the codec (5-7 exercise the
 * unsupported path), bit 3 picks a caller buffer instead of an rn_malloc'd one. The
 * payload is (1) decompressed as a bare records section and iterated, then (2) opened as
 * a whole batch with its codec bits forced to the chosen codec (so the fuzzer need not
 * find the attribute bytes), and every record, header and control record is walked.
 * The output cap is small so bombs hit RN_ETOOBIG quickly. */
#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_endian.h"
#include "rn_records.h"

#include <stdint.h>
#include <string.h>

#define FUZZ_CAP (256 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t scratch[FUZZ_CAP];

static void walk(rn_records_iter_t *it)
{
    rn_record_t rec;
    volatile size_t sink = 0; /* keep the reads */
    while (rn_records_iter_next(it, &rec) == 1) {
        if (rec.key.len > 0)
            sink += rec.key.data[rec.key.len - 1];
        if (rec.value.len > 0)
            sink += rec.value.data[rec.value.len - 1];
        size_t cur = 0;
        rn_record_bytes_t hk, hv;
        while (rn_records_header_next(&rec, &cur, &hk, &hv) == 1)
            sink += (size_t)hk.len + (hv.len > 0 ? hv.data[0] : 0);
        rn_control_record_t ctl;
        if (rn_records_control_parse(&rec, &ctl) == 0)
            sink += (size_t)ctl.type;
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int codec = data[0] & 7, into = data[0] & 8;
    const uint8_t *in = data + 1;
    size_t len = size - 1;

    /* (1) A bare compressed block, iterated as a records section of up to 64 records. */
    uint8_t *out = NULL;
    size_t out_len = 0;
    int err = into ? rn_codec_decompress_into(codec, in, len, scratch, sizeof(scratch), &out_len)
                   : rn_codec_decompress(codec, in, len, FUZZ_CAP, &out, &out_len);
    if (err == 0) {
        rn_batch_header_t hdr;
        memset(&hdr, 0, sizeof(hdr));
        hdr.record_count = 64;
        rn_records_iter_t it;
        rn_records_iter_init(&it, &hdr, into ? scratch : out, out_len);
        walk(&it);
    }
    rn_free(out);

    /* (2) A whole batch. Work on an exact-size copy so overreads trip ASan. */
    if (len > RN_BATCH_HEADER_SIZE) {
        uint8_t *batch = rn_xmalloc(len);
        memcpy(batch, in, len);
        uint16_t attrs = rn_load_be16(batch + RN_BATCH_OFF_ATTRIBUTES);
        rn_store_be16(batch + RN_BATCH_OFF_ATTRIBUTES,
                      (uint16_t)((attrs & ~RN_BATCH_ATTR_CODEC_MASK) | codec));
        rn_batch_header_t hdr;
        (void)rn_batch_validate(batch, len, &hdr);
        rn_records_iter_t it;
        if (rn_records_open(&it, batch, len, into ? scratch : NULL, FUZZ_CAP) == 0)
            walk(&it);
        rn_records_close(&it);
        rn_free(batch);
    }
    return 0;
}
