/* Timestamp lookups that leave decompression to the caller (ListOffsets does it off the
 * event loop): rn_plog_offset_for_timestamp_deferred stops at a compressed batch and hands
 * it over with a segment reference, rn_segment_find_in_batch answers many questions from one
 * pass over its records with the same answers as the plain lookup, and a batch past the
 * decompression budget is opaque (answered with its first offset). Every codec. */
#include "rn_log.h"
#include "unit/storage/cleaner_testutil.h"

static void test_codec(const char *root, int codec)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/ts-%s-0", root, rn_codec_name(codec));
    rn_plog_config_t cfg;
    ct_config(&cfg, 1 << 20);
    rn_plog_t *log = ct_open(dir, &cfg, 1, 0);
    ct_batch_t b = CT_PLAIN;
    b.codec = codec;
    const char *keys[8] = {0}, *values[8] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    /* Batches of 8 records at CT_NOW + 100 i + j. */
    for (int i = 0; i < 5; i++)
        if (ct_append(log, NULL, &b, 8, keys, values, CT_NOW + 100 * i, NULL) != 0)
            diag("append failed");
    const char *name = rn_codec_name(codec);
    int64_t asks[] = {CT_NOW, CT_NOW + 3, CT_NOW + 205, CT_NOW + 207, CT_NOW + 450};
    int same = 0, deferred = 0;
    for (size_t k = 0; k < sizeof(asks) / sizeof(asks[0]); k++) {
        rn_segment_ts_hit_t want = {0}, hit = {0};
        int wrc = rn_plog_offset_for_timestamp(log, asks[k], &want);
        rn_segment_t *seg = NULL;
        rn_segment_ts_batch_t batch;
        int rc = rn_plog_offset_for_timestamp_deferred(log, asks[k], 0, &hit, &seg, &batch);
        if (rc == 1) {
            deferred++;
            rn_segment_ts_query_t q[2] = {{.ts = asks[k], .min_offset = 0},
                                          {.ts = asks[k] + 1, .min_offset = 0}};
            bool opaque = true;
            rc = rn_segment_find_in_batch(seg, &batch, q, 2, RN_SEGMENT_TS_MAX_RECORDS, &opaque);
            if (rc == 0 && !opaque)
                rc = q[0].rc, hit = q[0].hit;
            rn_segment_unref(seg);
        }
        same += rc == wrc &&
                (rc != 0 || (hit.offset == want.offset && hit.timestamp == want.timestamp));
    }
    is(same, 5, "%s: deferred lookups answer as the plain one", name);
    is(deferred, codec == RN_CODEC_NONE ? 0 : 4,
       "%s: compressed batches are handed over, plain ones read at once", name);
    if (codec != RN_CODEC_NONE) {
        rn_segment_t *seg = NULL;
        rn_segment_ts_batch_t batch;
        rn_segment_ts_hit_t hit;
        int rc = rn_plog_offset_for_timestamp_deferred(log, CT_NOW + 205, 0, &hit, &seg, &batch);
        rn_segment_ts_query_t q = {.ts = CT_NOW + 205, .min_offset = 0};
        bool opaque = false;
        if (rc == 1) {
            rc = rn_segment_find_in_batch(seg, &batch, &q, 1, 16, &opaque);
            rn_segment_unref(seg);
        }
        ok(rc == 0 && opaque && q.rc == 0 && q.hit.offset == 16,
           "%s: over the budget the batch is opaque: its first offset (%lld)", name,
           (long long)q.hit.offset);
        rc = rn_plog_offset_for_timestamp_deferred(log, CT_NOW + 205, 24, &hit, &seg, &batch);
        ok(rc == 1 && batch.hdr.base_offset == 24, "%s: a search goes on from min_offset", name);
        if (rc == 1)
            rn_segment_unref(seg);
        rc = rn_plog_max_timestamp_deferred(log, &hit, &seg, &batch);
        ok(rc == 1 && batch.hdr.base_offset == 32 && hit.timestamp == CT_NOW + 407,
           "%s: the max-timestamp lookup hands over its batch with the fallback answer", name);
        if (rc == 1)
            rn_segment_unref(seg);
    }
    rn_plog_close(log);
}

int main(void)
{
    rn_log_set_level(RN_LOG_WARN);
    char root[256];
    tu_tmpdir(root, "tslookup");
    for (int codec = RN_CODEC_NONE; codec <= RN_CODEC_ZSTD; codec++)
        test_codec(root, codec);
    tu_rmtree(root);
    return done_testing();
}
