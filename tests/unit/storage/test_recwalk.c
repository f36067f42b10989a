/* Unit tests for rn_recwalk (storage/recwalk.c): valid batches (with null keys/values and headers),
 * max timestamp, and each kind of malformed record is caught at the right index. */
#include "dp_batch.h"
#include "rn_err.h"
#include "rn_recwalk.h"
#include "tap.h"

#include <string.h>

static dp_batch_t b;
static rn_recwalk_result_t res;

static int walk(void)
{
    return rn_recwalk_check(b.buf, b.len, &res);
}

static void test_valid(void)
{
    dp_batch_init(&b, 1000);
    dp_batch_record(&b, 0, "k0", "v0");
    dp_batch_record(&b, 7, NULL, "v1");
    dp_batch_record_h(&b, 3, "k2", NULL, "hdr");
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), 0, "three records valid");
    is(res.bad_index, -1, "no bad index");
    is(res.max_timestamp, 1007, "max timestamp = base + largest delta");
    ok(res.has_null_key, "null key seen");
    is(res.first_null_key, 1, "first null key at 1");

    dp_batch_init(&b, 5);
    dp_batch_record(&b, -3, "a", "b");
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), 0, "negative delta is legal");
    is(res.max_timestamp, 2, "max timestamp 2");
    ok(!res.has_null_key, "no null key");

    /* Multi-byte varints, in the middle of the batch (read without per-byte bounds checks)
     * and in the last bytes of the batch (read byte by byte). */
    static char big[300];
    memset(big, 'x', sizeof(big) - 1);
    dp_batch_init(&b, 10);
    dp_batch_record(&b, (int64_t)1 << 40, big, big);
    dp_batch_record(&b, -((int64_t)1 << 50), "k", big);
    for (int i = 2; i < 200; i++)
        dp_batch_record(&b, i, "k", "v");
    dp_batch_record(&b, 5, NULL, NULL);
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), 0, "201 records with multi-byte varints valid");
    ok(res.max_timestamp == 10 + ((int64_t)1 << 40), "max timestamp from a 6-byte delta");
    is(res.first_null_key, 200, "null key of the last record seen");
}

static void test_bad(void)
{
    /* Count says 3, two records present. */
    dp_batch_init(&b, 0);
    dp_batch_record(&b, 0, "k", "v");
    dp_batch_record(&b, 0, "k", "v");
    dp_batch_finish_ex(&b, -1, -1, -1, 0, 3);
    is(walk(), RN_ECORRUPT, "fewer records than count");
    is(res.bad_index, 2, "reported at index 2");

    /* Count says 1, two present. */
    dp_batch_init(&b, 0);
    dp_batch_record(&b, 0, "k", "v");
    dp_batch_record(&b, 0, "k", "v");
    dp_batch_finish_ex(&b, -1, -1, -1, 0, 1);
    is(walk(), RN_ECORRUPT, "more records than count");
    is(res.bad_index, 1, "reported at index 1");

    /* Record length beyond the batch. */
    dp_batch_init(&b, 0);
    dp_batch_record(&b, 0, "k", "v");
    dp_varint(&b, 100);
    b.buf[b.len++] = 0;
    b.count++;
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), RN_ECORRUPT, "record length past the end");
    is(res.bad_index, 1, "at index 1");
    ok(res.reason != NULL, "with a reason: %s", res.reason);

    /* Offset delta not the index. */
    dp_batch_init(&b, 0);
    dp_batch_record(&b, 0, "k", "v");
    {
        dp_batch_t tmp;
        tmp.len = 0;
        tmp.buf[tmp.len++] = 0;
        dp_varint(&tmp, 0);
        dp_varint(&tmp, 5); /* offset delta 5 at index 1 */
        dp_varint(&tmp, -1);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, 0);
        dp_varint(&b, (int64_t)tmp.len);
        dp_put(&b, tmp.buf, tmp.len);
        b.count++;
    }
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), RN_ECORRUPT, "offset delta out of place");
    is(res.bad_index, 1, "at index 1");

    /* Record length larger than its fields (trailing garbage inside the record). */
    dp_batch_init(&b, 0);
    {
        dp_batch_t tmp;
        tmp.len = 0;
        tmp.buf[tmp.len++] = 0;
        dp_varint(&tmp, 0);
        dp_varint(&tmp, 0);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, 0);
        tmp.buf[tmp.len++] = 0x55;
        dp_varint(&b, (int64_t)tmp.len);
        dp_put(&b, tmp.buf, tmp.len);
        b.count++;
    }
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), RN_ECORRUPT, "record longer than its fields");
    is(res.bad_index, 0, "at index 0");

    /* Key length -2. */
    dp_batch_init(&b, 0);
    {
        dp_batch_t tmp;
        tmp.len = 0;
        tmp.buf[tmp.len++] = 0;
        dp_varint(&tmp, 0);
        dp_varint(&tmp, 0);
        dp_varint(&tmp, -2);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, 0);
        dp_varint(&b, (int64_t)tmp.len);
        dp_put(&b, tmp.buf, tmp.len);
        b.count++;
    }
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), RN_ECORRUPT, "key length -2");

    /* Null header key. */
    dp_batch_init(&b, 0);
    {
        dp_batch_t tmp;
        tmp.len = 0;
        tmp.buf[tmp.len++] = 0;
        dp_varint(&tmp, 0);
        dp_varint(&tmp, 0);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, 1);
        dp_varint(&tmp, -1); /* header key null */
        dp_varint(&tmp, -1);
        dp_varint(&b, (int64_t)tmp.len);
        dp_put(&b, tmp.buf, tmp.len);
        b.count++;
    }
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), RN_ECORRUPT, "null header key");

    /* Overlong varint (11 continuation bytes). */
    dp_batch_init(&b, 0);
    for (int i = 0; i < 11; i++)
        b.buf[b.len++] = 0xff;
    b.count = 1;
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), RN_ECORRUPT, "overlong varint");
    is(res.bad_index, 0, "at index 0");

    /* Every truncation of a valid batch is caught, never read past the end (ASan checks). */
    dp_batch_init(&b, 0);
    dp_batch_record_h(&b, 1, "key", "value", "h");
    dp_batch_record_h(&b, 2, "key2", "value2", "h2");
    dp_batch_finish(&b, -1, -1, -1);
    size_t full = b.len;
    int caught = 0;
    for (size_t n = RN_BATCH_HEADER_SIZE; n < full; n++)
        caught += rn_recwalk_check(b.buf, n, &res) == RN_ECORRUPT;
    is(caught, (int)(full - RN_BATCH_HEADER_SIZE), "every truncation refused");
    is(rn_recwalk_check(b.buf, 10, &res), RN_ECORRUPT, "shorter than a header refused");
}

/* The walk and the record iterator share one parser, so they agree on every record; a
 * timestampDelta whose tenth varlong byte sets bits beyond 64 was once accepted here and
 * refused by the iterator (and so by the cleaner), and is now refused by both. */
static void test_one_parser(void)
{
    dp_batch_init(&b, 0);
    {
        dp_batch_t tmp;
        tmp.len = 0;
        tmp.buf[tmp.len++] = 0;
        memset(tmp.buf + tmp.len, 0xff, 9);
        tmp.len += 9;
        tmp.buf[tmp.len++] = 0x7f; /* bits 64..69 set */
        dp_varint(&tmp, 0);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, 0);
        dp_varint(&b, (int64_t)tmp.len);
        dp_put(&b, tmp.buf, tmp.len);
        b.count++;
    }
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), RN_ECORRUPT, "timestampDelta beyond 64 bits refused");
    is_str(res.reason, "malformed record header", "as a malformed record header");

    /* Both a wrong offset delta and a bad key: the offset delta, read first, is reported. */
    dp_batch_init(&b, 0);
    {
        dp_batch_t tmp;
        tmp.len = 0;
        tmp.buf[tmp.len++] = 0;
        dp_varint(&tmp, 0);
        dp_varint(&tmp, 3);
        dp_varint(&tmp, -2);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, 0);
        dp_varint(&b, (int64_t)tmp.len);
        dp_put(&b, tmp.buf, tmp.len);
        b.count++;
    }
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), RN_ECORRUPT, "offset delta and key both wrong");
    is_str(res.reason, "record offset delta is not its position in the batch",
           "the first bad field is named");

    /* More headers than the record has bytes for. */
    dp_batch_init(&b, 0);
    {
        dp_batch_t tmp;
        tmp.len = 0;
        tmp.buf[tmp.len++] = 0;
        dp_varint(&tmp, 0);
        dp_varint(&tmp, 0);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, -1);
        dp_varint(&tmp, 50);
        dp_varint(&b, (int64_t)tmp.len);
        dp_put(&b, tmp.buf, tmp.len);
        b.count++;
    }
    dp_batch_finish(&b, -1, -1, -1);
    is(walk(), RN_ECORRUPT, "header count beyond the record");
    is_str(res.reason, "malformed record header (key/value of a header)", "named as a header");
}

int main(void)
{
    test_valid();
    test_bad();
    test_one_parser();
    return done_testing();
}
