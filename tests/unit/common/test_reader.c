/* rn_reader and rn_varint: big-endian ints, Kafka's varints (round trips at the size
 * boundaries, truncated and overlong encodings, bits beyond the type), slices, sub-readers,
 * and the sticky error that stops every later read. */
#include "rn_err.h"
#include "rn_reader.h"
#include "rn_varint.h"
#include "tap.h"

#include <string.h>

static void test_ints(void)
{
    static const uint8_t data[] = {0x81, 0x01, 0x02, 0xff, 0xfe, 0x01, 0x02, 0x03, 0x04,
                                   0x80, 0,    0,    0,    0,    0,    0,    1};
    rn_reader_t r = rn_reader_make(data, sizeof(data));
    is(rn_reader_i8(&r), -127, "int8");
    is(rn_reader_u16(&r), 0x0102, "uint16 big-endian");
    is(rn_reader_i16(&r), -2, "int16 negative");
    is(rn_reader_u32(&r), 0x01020304u, "uint32 big-endian");
    ok(rn_reader_i64(&r) == (int64_t)0x8000000000000001ull, "int64 big-endian");
    ok(r.err == 0 && rn_reader_left(&r) == 0, "all consumed, no error");
    is(rn_reader_u8(&r), 0, "reading past the end returns zero");
    is(r.err, RN_ETRUNC, "and records RN_ETRUNC");
    ok(r.p == r.end, "without moving");
}

/* Encode with rn_varint_put, decode with the reader: same value, same length. */
static void test_varint_roundtrip(void)
{
    static const int64_t longs[] = {
        0,     1,    -1,        63,        -64,       64,        -65,       8191,
        -8192, 8192, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, 1ll << 40, -(1ll << 50)};
    for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
        uint8_t buf[RN_VARLONG_MAX];
        size_t n = rn_varint_put_s64(buf, longs[i]);
        is(n, rn_varint_size_s64(longs[i]), "varlong %lld: size agrees", (long long)longs[i]);
        rn_reader_t r = rn_reader_make(buf, n);
        ok(rn_reader_varlong(&r) == longs[i] && r.err == 0 && r.p == r.end,
           "varlong %lld round trip", (long long)longs[i]);
        if (longs[i] < INT32_MIN || longs[i] > INT32_MAX)
            continue;
        n = rn_varint_put_s32(buf, (int32_t)longs[i]);
        is(n, rn_varint_size_s32((int32_t)longs[i]), "varint %lld: size agrees",
           (long long)longs[i]);
        r = rn_reader_make(buf, n);
        ok(rn_reader_varint(&r) == longs[i] && r.err == 0 && r.p == r.end, "varint %lld round trip",
           (long long)longs[i]);
    }
    static const uint32_t uvs[] = {0, 127, 128, 16383, 16384, UINT32_MAX};
    static const size_t uv_len[] = {1, 1, 2, 2, 3, 5};
    for (size_t i = 0; i < sizeof(uvs) / sizeof(uvs[0]); i++) {
        uint8_t buf[RN_VARINT_MAX];
        is(rn_varint_put(buf, uvs[i]), uv_len[i], "uvarint %u takes %zu bytes", uvs[i], uv_len[i]);
        rn_reader_t r = rn_reader_make(buf, uv_len[i]);
        ok(rn_reader_uvarint(&r) == uvs[i] && r.p == r.end, "uvarint %u round trip", uvs[i]);
    }
    /* Zig-zag's known vectors (Kafka's ByteUtils tests). */
    uint8_t buf[RN_VARLONG_MAX];
    ok(rn_varint_put_s32(buf, -1) == 1 && buf[0] == 0x01, "varint -1 is 0x01");
    ok(rn_varint_put_s32(buf, 64) == 2 && buf[0] == 0x80 && buf[1] == 0x01, "varint 64 is 80 01");
}

/* Known encodings (Kafka's ByteUtilsTest and the protobuf spec). */
static void test_varint_known(void)
{
    static const struct {
        int32_t v;
        uint8_t enc[5];
        size_t n;
    } v32[] = {
        {0, {0x00}, 1},
        {-1, {0x01}, 1},
        {1, {0x02}, 1},
        {63, {0x7e}, 1},
        {-64, {0x7f}, 1},
        {64, {0x80, 0x01}, 2},
        {-65, {0x81, 0x01}, 2},
        {300, {0xd8, 0x04}, 2},
        {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5},
        {INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    };
    for (size_t i = 0; i < sizeof(v32) / sizeof(v32[0]); i++) {
        uint8_t buf[RN_VARINT_MAX];
        size_t n = rn_varint_put_s32(buf, v32[i].v);
        ok(n == v32[i].n && memcmp(buf, v32[i].enc, n) == 0, "varint %d encodes as known",
           v32[i].v);
        rn_reader_t r = rn_reader_make(buf, n - 1);
        (void)rn_reader_varint(&r);
        is(r.err, RN_ETRUNC, "varint %d cut short is RN_ETRUNC", v32[i].v);
    }
    uint8_t buf[RN_VARLONG_MAX];
    is(rn_varint_put_s64(buf, INT64_MIN), 10, "INT64_MIN takes 10 bytes");
    is(buf[9], 0x01, "its last byte carries only bit 63");
    ok(rn_varint_put(buf, 300) == 2 && buf[0] == 0xac && buf[1] == 0x02, "uvarint 300 = ac 02");
}

static void test_varint_bad(void)
{
    /* Five bytes are the most an int32 varint may take. */
    static const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    rn_reader_t r = rn_reader_make(six, sizeof(six));
    is(rn_reader_varint(&r), 0, "six-byte varint reads zero");
    is(r.err, RN_ECORRUPT, "six-byte varint is corrupt");
    ok(r.p == six, "p stays at the varint");

    /* Fifth byte setting bit 32 or above. */
    static const uint8_t wide[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    r = rn_reader_make(wide, sizeof(wide));
    (void)rn_reader_uvarint(&r);
    is(r.err, RN_ECORRUPT, "uvarint over 32 bits is corrupt");
    static const uint8_t max32[] = {0xff, 0xff, 0xff, 0xff, 0x0f};
    r = rn_reader_make(max32, sizeof(max32));
    ok(rn_reader_uvarint(&r) == UINT32_MAX && r.err == 0, "uvarint 2^32-1 in five bytes");

    /* Eleven bytes for a varlong; a tenth byte with bits beyond 64. */
    uint8_t eleven[11];
    memset(eleven, 0x80, sizeof(eleven));
    eleven[10] = 0;
    r = rn_reader_make(eleven, sizeof(eleven));
    (void)rn_reader_varlong(&r);
    is(r.err, RN_ECORRUPT, "eleven-byte varlong is corrupt");
    uint8_t tenth[10];
    memset(tenth, 0xff, 9);
    tenth[9] = 0x02;
    r = rn_reader_make(tenth, sizeof(tenth));
    (void)rn_reader_uvarlong(&r);
    is(r.err, RN_ECORRUPT, "varlong over 64 bits is corrupt");
    tenth[9] = 0x01;
    r = rn_reader_make(tenth, sizeof(tenth));
    ok(rn_reader_uvarlong(&r) == UINT64_MAX && r.err == 0, "uvarlong 2^64-1 in ten bytes");

    /* Non-minimal encodings are accepted, as Kafka's Java reader does. */
    static const uint8_t nonmin[] = {0x82, 0x80, 0x00};
    r = rn_reader_make(nonmin, sizeof(nonmin));
    ok(rn_reader_varint(&r) == 1 && r.p == r.end, "non-minimal varint accepted");

    /* Every truncation of a multi-byte varint is RN_ETRUNC. */
    uint8_t buf[RN_VARLONG_MAX];
    size_t n = rn_varint_put_s64(buf, INT64_MIN);
    int truncs = 0;
    for (size_t len = 0; len < n; len++) {
        r = rn_reader_make(buf, len);
        (void)rn_reader_varlong(&r);
        truncs += r.err == RN_ETRUNC && r.p == buf;
    }
    is(truncs, (int)n, "every cut of a %zu-byte varlong is truncated", n);
}

static void test_sticky(void)
{
    static const uint8_t data[] = {0, 1, 0x80};
    rn_reader_t r = rn_reader_make(data, sizeof(data));
    is(rn_reader_i16(&r), 1, "int16 read");
    (void)rn_reader_varint(&r);
    is(r.err, RN_ETRUNC, "varint cut at the end");
    const uint8_t *at = r.p;
    r.end = data + sizeof(data); /* bytes would be available, the error still stops reads */
    r.p = data;
    is(rn_reader_u8(&r), 0, "u8 after the error reads zero");
    is(rn_reader_i32(&r), 0, "int32 after the error reads zero");
    is(rn_reader_uvarint(&r), 0, "varint after the error reads zero");
    rn_slice_t s = rn_reader_varbytes(&r, true);
    ok(s.ptr == NULL && s.len == 0, "varbytes after the error are empty");
    ok(rn_reader_take(&r, 1) == NULL, "take after the error is NULL");
    ok(r.p == data && at == data + 2, "reads after the error do not move");
    rn_reader_fail(&r, RN_ECORRUPT);
    is(r.err, RN_ETRUNC, "the first error is kept");
}

static void test_slices(void)
{
    /* key "ab", null value, empty bytes, length -2 */
    static const uint8_t data[] = {0x04, 'a', 'b', 0x01, 0x00, 0x03};
    rn_reader_t r = rn_reader_make(data, sizeof(data));
    rn_slice_t s = rn_reader_varbytes(&r, false);
    ok(s.len == 2 && memcmp(s.ptr, "ab", 2) == 0 && s.ptr == data + 1, "bytes point into input");
    s = rn_reader_varbytes(&r, true);
    ok(s.ptr == NULL && s.len == -1, "null when nullable");
    s = rn_reader_varbytes(&r, false);
    ok(s.ptr != NULL && s.len == 0 && r.err == 0, "empty is not null");
    s = rn_reader_varbytes(&r, true);
    is(r.err, RN_ECORRUPT, "length -2 is corrupt");
    ok(r.p == data + 5, "p at the bad length");

    r = rn_reader_make(data, 1); /* length 2, nothing after */
    s = rn_reader_varbytes(&r, false);
    is(r.err, RN_ETRUNC, "bytes past the end are truncated");
    r = rn_reader_make(data + 3, 1); /* -1 where null is not allowed */
    s = rn_reader_varbytes(&r, false);
    is(r.err, RN_ECORRUPT, "null where not nullable is corrupt");
    r = rn_reader_make(data, sizeof(data));
    s = rn_reader_slice(&r, 3);
    ok(s.ptr == data && s.len == 3 && rn_reader_left(&r) == 3, "plain slice");
}

static void test_sub(void)
{
    /* A varint-prefixed block of 3 bytes, then one byte after it. */
    static const uint8_t data[] = {0x06, 1, 2, 3, 9};
    rn_reader_t r = rn_reader_make(data, sizeof(data)), sub;
    ok(rn_reader_varint_block(&r, &sub), "block opened");
    ok(rn_reader_left(&sub) == 3 && r.p == data + 4, "sub covers the block, r is past it");
    (void)rn_reader_i16(&sub);
    rn_reader_sub_end(&r, &sub);
    is(r.err, RN_ECORRUPT, "a byte left in the block is corrupt");

    r = rn_reader_make(data, sizeof(data));
    ok(rn_reader_varint_block(&r, &sub), "block opened again");
    (void)rn_reader_i32(&sub);
    rn_reader_sub_end(&r, &sub);
    is(r.err, RN_ETRUNC, "reading past the block fails there, not in the next byte");

    r = rn_reader_make(data, sizeof(data));
    ok(rn_reader_varint_block(&r, &sub), "block opened a third time");
    (void)rn_reader_u8(&sub), (void)rn_reader_u16(&sub);
    rn_reader_sub_end(&r, &sub);
    ok(r.err == 0 && rn_reader_u8(&r) == 9, "consumed exactly: the outer reader goes on");

    static const uint8_t longer[] = {0x0a, 1, 2};
    r = rn_reader_make(longer, sizeof(longer));
    ok(!rn_reader_varint_block(&r, &sub) && r.err == RN_ETRUNC, "block longer than the input");
    ok(sub.err == RN_ETRUNC && rn_reader_u8(&sub) == 0, "and its sub-reader is failed too");
    static const uint8_t negative[] = {0x03, 1};
    r = rn_reader_make(negative, sizeof(negative));
    ok(!rn_reader_varint_block(&r, &sub) && r.err == RN_ECORRUPT && r.p == negative,
       "negative block length is corrupt");
    r = rn_reader_make(data, 2);
    ok(!rn_reader_sub(&r, 3, &sub) && r.err == RN_ETRUNC, "sub longer than the input");
}

int main(void)
{
    test_ints();
    test_varint_roundtrip();
    test_varint_known();
    test_varint_bad();
    test_sticky();
    test_slices();
    test_sub();
    return done_testing();
}
