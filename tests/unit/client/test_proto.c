/* Tests for the wire primitives: reader bounds and sticky errors, varints, strings,
 * arrays, tagged sections, and the chunked writer (client/rn_proto.h). */
#include "rn_alloc.h"
#include "rn_endian.h"
#include "rn_proto.h"
#include "rn_str.h"
#include "tap.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <unistd.h>

static rn_proto_reader_t rd(const void *data, size_t len)
{
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, data, len, NULL);
    return r;
}

/* Writer output as bytes (memory chunks only, or files via pread). */
static size_t out_bytes(const rn_proto_writer_t *w, uint8_t *buf, size_t cap)
{
    long n = rn_proto_writer_copy(w, buf, cap);
    return n < 0 ? 0 : (size_t)n;
}

static int bytes_eq(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    if (alen != blen || memcmp(a, b, alen) != 0) {
        printf("#   got:");
        for (size_t i = 0; i < alen; i++)
            printf(" %02x", a[i]);
        printf("\n#  want:");
        for (size_t i = 0; i < blen; i++)
            printf(" %02x", b[i]);
        printf("\n");
        return 0;
    }
    return 1;
}

static void test_varints(void)
{
    static const struct {
        uint32_t v;
        uint8_t enc[5];
        size_t len;
    } uv[] = {
        {0, {0x00}, 1},
        {1, {0x01}, 1},
        {127, {0x7f}, 1},
        {128, {0x80, 0x01}, 2},
        {300, {0xac, 0x02}, 2},
        {16384, {0x80, 0x80, 0x01}, 3},
        {UINT32_MAX, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    };
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof(uv) / sizeof(uv[0]); i++) {
        rn_proto_writer_reset(&w);
        rn_proto_write_uvarint(&w, uv[i].v);
        size_t n = out_bytes(&w, buf, sizeof(buf));
        ok(bytes_eq(buf, n, uv[i].enc, uv[i].len), "uvarint %u encodes", uv[i].v);
        rn_proto_reader_t r = rd(uv[i].enc, uv[i].len);
        is(rn_proto_read_uvarint(&r), uv[i].v, "uvarint %u decodes", uv[i].v);
        ok(r.rd.err == 0 && r.rd.p == r.rd.end, "uvarint %u consumed exactly", uv[i].v);
    }
    static const struct {
        int32_t v;
        uint8_t enc[5];
        size_t len;
    } zz[] = {
        {0, {0x00}, 1},
        {-1, {0x01}, 1},
        {1, {0x02}, 1},
        {-2, {0x03}, 1},
        {63, {0x7e}, 1},
        {-64, {0x7f}, 1},
        {64, {0x80, 0x01}, 2},
        {INT32_MAX, {0xfe, 0xff, 0xff, 0xff, 0x0f}, 5},
        {INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x0f}, 5},
    };
    for (size_t i = 0; i < sizeof(zz) / sizeof(zz[0]); i++) {
        rn_proto_writer_reset(&w);
        rn_proto_write_varint(&w, zz[i].v);
        size_t n = out_bytes(&w, buf, sizeof(buf));
        ok(bytes_eq(buf, n, zz[i].enc, zz[i].len), "varint %d encodes", zz[i].v);
        rn_proto_reader_t r = rd(zz[i].enc, zz[i].len);
        is(rn_proto_read_varint(&r), zz[i].v, "varint %d decodes", zz[i].v);
    }
    int64_t longs[] = {0, -1, 1, INT64_MAX, INT64_MIN, 1234567890123LL, -987654321098LL};
    for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
        rn_proto_writer_reset(&w);
        rn_proto_write_varlong(&w, longs[i]);
        size_t n = out_bytes(&w, buf, sizeof(buf));
        rn_proto_reader_t r = rd(buf, n);
        is(rn_proto_read_varlong(&r), longs[i], "varlong %lld round trip", (long long)longs[i]);
        ok(r.rd.err == 0 && r.rd.p == r.rd.end, "varlong %lld consumed exactly",
           (long long)longs[i]);
    }
    rn_proto_writer_reset(&w);
    rn_proto_write_varlong(&w, INT64_MIN);
    uint8_t min64[10] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    ok(bytes_eq(buf, out_bytes(&w, buf, sizeof(buf)), min64, 10), "varlong INT64_MIN is 10 bytes");
    rn_proto_writer_free(&w);

    const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    rn_proto_reader_t r = rd(six, sizeof(six));
    rn_proto_read_uvarint(&r);
    is(r.rd.err, RN_ECORRUPT, "six-byte uvarint is corrupt");
    const uint8_t big5[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    r = rd(big5, sizeof(big5));
    rn_proto_read_uvarint(&r);
    is(r.rd.err, RN_ECORRUPT, "uvarint over 32 bits is corrupt");
    const uint8_t cut[] = {0x80, 0x80};
    r = rd(cut, sizeof(cut));
    rn_proto_read_uvarint(&r);
    is(r.rd.err, RN_ETRUNC, "uvarint cut short is truncated");
    const uint8_t long11[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    r = rd(long11, sizeof(long11));
    rn_proto_read_uvarlong(&r);
    is(r.rd.err, RN_ECORRUPT, "eleven-byte uvarlong is corrupt");
    const uint8_t over64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    r = rd(over64, sizeof(over64));
    rn_proto_read_uvarlong(&r);
    is(r.rd.err, RN_ECORRUPT, "uvarlong over 64 bits is corrupt");
}

static void test_fixed(void)
{
    const uint8_t data[] = {0x01, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
                            0x00, 0x00, 0x2a, 0x3f, 0xf8, 0,    0,    0,    0,    0,    0};
    rn_proto_reader_t r = rd(data, sizeof(data));
    ok(rn_proto_read_bool(&r), "bool 1 is true");
    is(rn_proto_read_int16(&r), -2, "int16 big-endian, signed");
    is(rn_proto_read_int32(&r), (int32_t)0x80000001, "int32 big-endian");
    is(rn_proto_read_int64(&r), 42, "int64 big-endian");
    ok(rn_proto_read_float64(&r) == 1.5, "float64 IEEE big-endian");
    ok(r.rd.err == 0 && r.rd.p == r.rd.end, "all consumed");
    const uint8_t *before = r.rd.p;
    is(rn_proto_read_int32(&r), 0, "read past the end returns zero");
    is(r.rd.err, RN_ETRUNC, "and records RN_ETRUNC");
    r.rd.p = data; /* even with bytes available again, the error is sticky */
    is(rn_proto_read_int8(&r), 0, "reads after an error return zero");
    ok(r.rd.p == data && before != data, "and do not move");

    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_proto_write_bool(&w, true);
    rn_proto_write_int16(&w, -2);
    rn_proto_write_int32(&w, (int32_t)0x80000001);
    rn_proto_write_int64(&w, 42);
    rn_proto_write_float64(&w, 1.5);
    uint8_t buf[64];
    ok(bytes_eq(buf, out_bytes(&w, buf, sizeof(buf)), data, sizeof(data)), "writer matches");
    rn_proto_writer_free(&w);

    rn_uuid_t id;
    uint8_t raw[16];
    for (int i = 0; i < 16; i++)
        raw[i] = (uint8_t)(i * 17);
    r = rd(raw, 16);
    rn_proto_read_uuid(&r, &id);
    ok(memcmp(id.bytes, raw, 16) == 0 && !rn_uuid_is_zero(&id), "uuid read");
    char text[RN_UUID_BASE64_LEN + 1];
    rn_uuid_to_base64(&id, text);
    is_str(text, "ABEiM0RVZneImaq7zN3u_w", "uuid in Kafka's base64 form");
}

static void test_strings(void)
{
    const uint8_t classic[] = {0x00, 0x03, 'a', 'b', 'c', 0xff, 0xff, 0x00, 0x00};
    rn_proto_reader_t r = rd(classic, sizeof(classic));
    rn_str_t s = rn_proto_read_string(&r, false, false);
    ok(rn_str_eq_cstr(s, "abc") && s.ptr == (const char *)classic + 2, "string is a slice");
    s = rn_proto_read_string(&r, false, true);
    ok(rn_str_is_null(s), "length -1 is null when nullable");
    s = rn_proto_read_string(&r, false, false);
    ok(s.len == 0 && !r.rd.err, "empty string");
    r = rd(classic + 5, 2);
    rn_proto_read_string(&r, false, false);
    is(r.rd.err, RN_ECORRUPT, "null where not nullable is corrupt");
    const uint8_t neg[] = {0xff, 0xfe};
    r = rd(neg, 2);
    rn_proto_read_string(&r, false, true);
    is(r.rd.err, RN_ECORRUPT, "length -2 is corrupt");
    const uint8_t longer[] = {0x00, 0x09, 'a'};
    r = rd(longer, sizeof(longer));
    rn_proto_read_string(&r, false, false);
    is(r.rd.err, RN_ETRUNC, "length past the end is truncated");

    const uint8_t compact[] = {0x04, 'x', 'y', 'z', 0x00, 0x01};
    r = rd(compact, sizeof(compact));
    ok(rn_str_eq_cstr(rn_proto_read_string(&r, true, false), "xyz"), "compact string");
    ok(rn_str_is_null(rn_proto_read_string(&r, true, true)), "compact null");
    s = rn_proto_read_string(&r, true, false);
    ok(s.len == 0 && r.rd.err == 0 && r.rd.p == r.rd.end, "compact empty");

    const uint8_t bytes[] = {0x00, 0x00, 0x00, 0x02, 0xde, 0xad, 0xff, 0xff, 0xff, 0xff};
    r = rd(bytes, sizeof(bytes));
    rn_bytes_t b = rn_proto_read_bytes(&r, false, false);
    ok(b.len == 2 && b.ptr[0] == 0xde, "bytes with int32 length");
    rn_records_t rec;
    rn_proto_read_records(&r, false, true, &rec);
    ok(rec.len == -1 && !rec.in_file, "null records");

    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_proto_write_string(&w, false, false, rn_str("abc"));
    rn_proto_write_string(&w, false, true, RN_STR_NULL);
    rn_proto_write_string(&w, false, false, rn_str(""));
    uint8_t buf[64];
    ok(bytes_eq(buf, out_bytes(&w, buf, sizeof(buf)), classic, sizeof(classic)),
       "classic strings written");
    rn_proto_writer_reset(&w);
    rn_proto_write_string(&w, true, false, rn_str("xyz"));
    rn_proto_write_string(&w, true, true, RN_STR_NULL);
    rn_proto_write_string(&w, true, false, rn_str(""));
    ok(bytes_eq(buf, out_bytes(&w, buf, sizeof(buf)), compact, sizeof(compact)),
       "compact strings written");
    rn_proto_write_string(&w, true, false, RN_STR_NULL);
    is(w.err, RN_EINVAL, "writing null where not nullable fails");
    rn_proto_write_int32(&w, 5);
    ok(rn_proto_writer_copy(&w, buf, sizeof(buf)) == RN_EINVAL, "writer error is sticky");
    rn_proto_writer_free(&w);

    char small[4];
    is(rn_str_copy(small, sizeof(small), rn_str("orders")), 6, "copy reports full length");
    is_str(small, "ord", "copy truncates and terminates");
    char *dup = rn_str_dup(rn_str("t1"));
    is_str(dup, "t1", "dup");
    rn_free(dup);
    ok(rn_str_dup(RN_STR_NULL) == NULL, "dup of null is NULL");
    ok(rn_str_cmp(rn_str("a"), rn_str("b")) < 0 && rn_str_cmp(rn_str("ab"), rn_str("a")) > 0 &&
           rn_str_cmp(RN_STR_NULL, rn_str("")) < 0 && rn_str_cmp(rn_str("x"), rn_str("x")) == 0,
       "cmp orders");
    ok(rn_str_eq(RN_STR_NULL, RN_STR_NULL) && !rn_str_eq(RN_STR_NULL, rn_str("")), "eq and null");

    /* Owned copies keep every byte: "g\0x" is neither "g" nor cut to it. */
    rn_str_t gx = rn_str_xdup((rn_str_t){"g\0x", 3});
    is(gx.len, 3, "xdup keeps the length past a NUL");
    ok(memcmp(gx.ptr, "g\0x", 4) == 0, "xdup copies the bytes and terminates");
    ok(!rn_str_eq(gx, rn_str("g")) && rn_str_cmp(gx, rn_str("g")) > 0, "g\\0x is not g");
    rn_str_t empty = rn_str_xdup(rn_str(""));
    ok(empty.len == 0 && empty.ptr != NULL && empty.ptr[0] == '\0', "xdup of empty");
    ok(rn_str_is_null(rn_str_xdup(RN_STR_NULL)), "xdup of null is null");
    rn_str_free(empty);
    rn_str_free(RN_STR_NULL);

    char esc[RN_STR_ESC_CAP];
    is_str(rn_str_escape(esc, sizeof(esc), gx), "g\\x00x", "escape shows a NUL as \\x00");
    rn_str_free(gx);
    is_str(RN_STR_ESC(((rn_str_t){"a\\b\n\xff", 5})), "a\\x5cb\\x0a\\xff",
           "escape: backslash, newline, high byte");
    is_str(RN_STR_ESC(RN_STR_NULL), "(null)", "escape of null");
    char tiny[8];
    is_str(rn_str_escape(tiny, sizeof(tiny), rn_str("abcdefghij")), "abcd...", "escape cuts");
    is_str(rn_str_escape(tiny, sizeof(tiny), rn_str("abcdefg")), "abcdefg", "exact fit");
    is_str(rn_str_escape(tiny, sizeof(tiny), (rn_str_t){"abcd\0", 5}), "abcd...",
           "an escape that does not fit is cut");
}

static void test_arrays(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    const uint8_t ten[] = {0x00, 0x00, 0x00, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0};
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, ten, sizeof(ten), &arena);
    rn_proto_read_array_len(&r, false, false, 4);
    is(r.rd.err, RN_ETRUNC, "10 elements of 4 bytes cannot fit in 8 bytes");
    rn_proto_reader_init(&r, ten, sizeof(ten), &arena);
    is(rn_proto_read_array_len(&r, false, false, 0), 10, "10 elements of min size 0 fit");

    const uint8_t huge[] = {0x00, 0x20, 0x00, 0x00};
    rn_proto_reader_init(&r, huge, sizeof(huge), &arena);
    rn_proto_read_array_len(&r, false, false, 0);
    is(r.rd.err, RN_ETOOBIG, "2M elements exceed the hard maximum before any allocation");
    const uint8_t null[] = {0xff, 0xff, 0xff, 0xff, 0x00};
    rn_proto_reader_init(&r, null, sizeof(null), &arena);
    is(rn_proto_read_array_len(&r, false, true, 4), -1, "null array");
    is(rn_proto_read_array_len(&r, true, true, 4), -1, "compact null array");
    rn_proto_reader_init(&r, null, 4, &arena);
    rn_proto_read_array_len(&r, false, false, 4);
    is(r.rd.err, RN_ECORRUPT, "null where not nullable is corrupt");
    const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfe};
    rn_proto_reader_init(&r, neg, 4, &arena);
    rn_proto_read_array_len(&r, false, true, 4);
    is(r.rd.err, RN_ECORRUPT, "count -2 is corrupt");
    rn_proto_reader_init(&r, ten, 4, NULL);
    ok(rn_proto_alloc(&r, 3, 8) == NULL && r.rd.err == RN_ENOMEM, "no arena: RN_ENOMEM");
    rn_arena_free(&arena);
}

static void test_tags_and_subs(void)
{
    /* Two tagged fields: tag 0 size 2, tag 5 size 1; then an int8. */
    const uint8_t tags[] = {0x02, 0x00, 0x02, 0xaa, 0xbb, 0x05, 0x01, 0xcc, 0x07};
    rn_proto_reader_t r = rd(tags, sizeof(tags));
    rn_proto_skip_tags(&r);
    is(rn_proto_read_int8(&r), 7, "tag section skipped");
    const uint8_t badtag[] = {0x01, 0x00, 0x09, 0xaa};
    r = rd(badtag, sizeof(badtag));
    rn_proto_skip_tags(&r);
    is(r.rd.err, RN_ETRUNC, "tag size past the end");

    const uint8_t block[] = {0x00, 0x00, 0x00, 0x05, 0x09, 0x09};
    r = rd(block, sizeof(block));
    rn_proto_reader_t sub;
    ok(rn_proto_sub(&r, 4, &sub), "sub-reader opened");
    is(rn_proto_read_int16(&sub), 0, "read inside");
    rn_proto_sub_end(&r, &sub);
    is(r.rd.err, RN_ECORRUPT, "bytes left in a sub-reader are corrupt");
    r = rd(block, sizeof(block));
    ok(!rn_proto_sub(&r, 7, &sub) && r.rd.err == RN_ETRUNC, "sub-reader longer than the input");
}

static void test_writer(void)
{
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    size_t pos = rn_proto_writer_reserve(&w, 4);
    size_t start = rn_proto_writer_total(&w);
    rn_proto_write_int16(&w, 18);
    rn_proto_mark_t mark = rn_proto_writer_mark(&w);
    uint8_t value[200];
    for (int i = 0; i < 200; i++)
        value[i] = (uint8_t)i;
    rn_proto_write_raw(&w, value, sizeof(value));
    rn_proto_writer_insert_size(&w, mark);
    rn_proto_writer_patch_int32(&w, pos, (int32_t)(rn_proto_writer_total(&w) - start));
    uint8_t buf[512];
    size_t n = out_bytes(&w, buf, sizeof(buf));
    is(n, 4 + 2 + 2 + 200, "insert_size added a two-byte varint");
    is(rn_load_be32(buf), 204, "size back-patched");
    ok(buf[6] == 0xc8 && buf[7] == 0x01 && buf[8] == 0 && buf[207] == 199, "value moved intact");

    /* Chunked output: memory, spliced memory, file, memory. */
    char path[] = "/tmp/rn_proto_test_XXXXXX";
    int fd = mkstemp(path);
    ok(fd >= 0, "temp file");
    unlink(path);
    uint8_t filedata[10000];
    for (size_t i = 0; i < sizeof(filedata); i++)
        filedata[i] = (uint8_t)(i * 7);
    ok(write(fd, filedata, sizeof(filedata)) == (ssize_t)sizeof(filedata), "temp file written");
    static uint8_t ext[5000];
    memset(ext, 0x5a, sizeof(ext));
    rn_records_t piece2 = {.in_file = true, .fd = fd, .offset = 100, .len = 3000, .owner = &w};
    rn_records_t piece1 = {.ptr = ext, .len = (int32_t)sizeof(ext), .next = &piece2};
    rn_proto_writer_reset(&w);
    rn_proto_write_int8(&w, 1);
    rn_proto_write_records(&w, false, true, &piece1);
    rn_proto_write_int8(&w, 2);
    is(rn_proto_writer_total(&w), 1 + 4 + 5000 + 3000 + 1, "total counts every chunk");
    is(rn_proto_writer_nchunks(&w), 4, "four chunks");
    rn_proto_chunk_t c[4];
    for (size_t i = 0; i < 4; i++)
        rn_proto_writer_chunk(&w, i, &c[i]);
    ok(!c[0].in_file && c[0].len == 5, "chunk 0: header bytes in memory");
    ok(!c[1].in_file && c[1].ptr == ext && c[1].len == 5000, "chunk 1: spliced, not copied");
    ok(c[2].in_file && c[2].fd == fd && c[2].offset == 100 && c[2].len == 3000 && c[2].owner == &w,
       "chunk 2: file range with its owner");
    ok(!c[3].in_file && c[3].len == 1 && c[3].ptr[0] == 2, "chunk 3: trailing memory");
    static uint8_t all[9000];
    long got = rn_proto_writer_copy(&w, all, sizeof(all));
    is(got, 8006, "copy reads the file range");
    ok(got == 8006 && rn_load_be32(all + 1) == 8000 && all[5] == 0x5a &&
           memcmp(all + 5005, filedata + 100, 3000) == 0 && all[8005] == 2,
       "copied output is length, memory, file bytes, trailer");

    rn_proto_mark_t m2 = rn_proto_writer_mark(&w);
    rn_proto_write_file(&w, fd, 0, 10, NULL);
    rn_proto_writer_insert_size(&w, m2);
    is(w.err, RN_EINVAL, "a tagged value cannot contain a file chunk");

    /* evbuffer export: memory copied, file added as a segment, owner released. */
    rn_proto_writer_reset(&w);
    rn_proto_write_int8(&w, 1);
    rn_proto_write_records(&w, true, true, &piece2);
    struct evbuffer *out = evbuffer_new();
    ok(rn_proto_writer_to_evbuffer(&w, out, NULL) == 0, "to_evbuffer without release");
    is(evbuffer_get_length(out), 1 + 2 + 3000, "evbuffer holds the whole output");
    uint8_t *flat = evbuffer_pullup(out, -1);
    ok(flat && flat[1] == 0xb9 && flat[2] == 0x17 && memcmp(flat + 3, filedata + 100, 3000) == 0,
       "evbuffer bytes: compact length 3001 then the file range");
    evbuffer_free(out);

    rn_proto_writer_reset(&w);
    rn_records_t bad = {.len = 10, .ptr = NULL};
    rn_proto_write_records(&w, false, false, &bad);
    is(w.err, RN_EINVAL, "records with no memory are refused");
    rn_proto_writer_free(&w);
    close(fd);
}

static int release_count;
static void count_release(void *owner)
{
    release_count += owner != NULL;
}

static void test_release(void)
{
    char path[] = "/tmp/rn_proto_test_XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    ok(write(fd, "0123456789", 10) == 10, "file for release test");
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    int owner;
    rn_records_t rec = {.in_file = true, .fd = fd, .offset = 2, .len = 5, .owner = &owner};
    rn_proto_write_records(&w, false, false, &rec);
    struct evbuffer *out = evbuffer_new();
    ok(rn_proto_writer_to_evbuffer(&w, out, count_release) == 0, "to_evbuffer with release");
    is(release_count, 0, "owner held while the buffer holds the segment");
    uint8_t got[9];
    is(evbuffer_remove(out, got, sizeof(got)), 9, "drained");
    ok(memcmp(got + 4, "23456", 5) == 0, "file bytes");
    evbuffer_free(out);
    is(release_count, 1, "owner released once libevent is done");
    rn_proto_writer_free(&w);
    close(fd);
}

static int fail_allocs;
static void *failing_realloc(void *p, size_t n)
{
    return fail_allocs ? NULL : realloc(p, n);
}

static void test_oom(void)
{
    rn_allocator_t failing = {malloc, failing_realloc, free};
    rn_alloc_set(&failing);
    fail_allocs = 1;
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_proto_write_int32(&w, 1);
    is(w.err, RN_ENOMEM, "writer out of memory is an error, not an abort");
    fail_allocs = 0;
    rn_proto_write_int32(&w, 1);
    is(rn_proto_writer_total(&w), 0, "and stays failed");
    rn_alloc_set(NULL);
    rn_proto_writer_free(&w);
}

int main(void)
{
    test_varints();
    test_fixed();
    test_strings();
    test_arrays();
    test_tags_and_subs();
    test_writer();
    test_release();
    test_oom();
    return done_testing();
}
