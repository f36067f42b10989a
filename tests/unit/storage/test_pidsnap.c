/* rn_pidsnap: producer snapshot bytes against a file computed independently (Python struct
 * '>hI' header + '>qhiqiqiq' entries, bitwise CRC-32C), round trips, corruption detection,
 * file names and listing. */
#include "rn_alloc.h"
#include "rn_crc32c.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_pidsnap.h"
#include "tap.h"
#include "unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

static const char expected_hex[] =
    "00012f3591660000000200000000000003e800020000002900000000000004d2000000040000018bcfe56800"
    "ffffffffffffffffffffffff0102030405060708ffff7fffffff7fffffffffffffff00000000ffffffffffff"
    "ffff0000000700000000000001f4";

static const rn_pidsnap_entry_t sample[] = {
    {1000, 2, 41, 1234, 4, 1700000000000LL, -1, -1},
    {0x0102030405060708LL, -1, 2147483647, 9223372036854775807LL, 0, -1, 7, 500},
};

static size_t from_hex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static int same_entries(const rn_pidsnap_entry_t *a, const rn_pidsnap_entry_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].producer_id != b[i].producer_id || a[i].producer_epoch != b[i].producer_epoch ||
            a[i].last_sequence != b[i].last_sequence || a[i].last_offset != b[i].last_offset ||
            a[i].offset_delta != b[i].offset_delta || a[i].timestamp != b[i].timestamp ||
            a[i].coordinator_epoch != b[i].coordinator_epoch ||
            a[i].current_txn_first_offset != b[i].current_txn_first_offset)
            return 0;
    return 1;
}

static void test_bytes(void)
{
    uint8_t want[256];
    size_t want_len = from_hex(expected_hex, want);
    uint8_t *out;
    size_t len;
    rn_pidsnap_encode(sample, 2, &out, &len);
    is(len, 102, "10-byte header + 2 x 46-byte entries");
    ok(len == want_len && memcmp(out, want, len) == 0, "exact bytes");
    rn_free(out);

    rn_pidsnap_encode(NULL, 0, &out, &len);
    uint8_t empty[16];
    size_t empty_len = from_hex("000148674bc700000000", empty);
    ok(len == empty_len && memcmp(out, empty, len) == 0, "empty snapshot bytes");
    rn_pidsnap_entry_t *entries;
    size_t count;
    is(rn_pidsnap_parse("s", out, len, &entries, &count, err, sizeof(err)), 0, "parse empty");
    ok(count == 0 && entries == NULL, "no entries");
    rn_free(out);

    is(rn_pidsnap_parse("s", want, want_len, &entries, &count, err, sizeof(err)), 0,
       "parse the independent bytes");
    ok(count == 2 && same_entries(entries, sample, 2), "fields decoded");
    rn_free(entries);

    /* Corruptions. */
    uint8_t bad[256];
    memcpy(bad, want, want_len);
    bad[50] ^= 0x01;
    is(rn_pidsnap_parse("s", bad, want_len, &entries, &count, err, sizeof(err)), RN_ECORRUPT,
       "flipped bit in an entry");
    ok(strstr(err, "CRC") != NULL, "CRC message: %s", err);
    memcpy(bad, want, want_len);
    bad[1] = 2;
    is(rn_pidsnap_parse("s", bad, want_len, &entries, &count, err, sizeof(err)), RN_ECORRUPT,
       "version 2");
    ok(strstr(err, "version 2") != NULL, "version message: %s", err);
    is(rn_pidsnap_parse("s", want, want_len - 1, &entries, &count, err, sizeof(err)), RN_ECORRUPT,
       "truncated file");
    is(rn_pidsnap_parse("s", want, 9, &entries, &count, err, sizeof(err)), RN_ECORRUPT,
       "shorter than the header");
    /* Count that disagrees with the size, CRC made valid so only the count is wrong. */
    rn_pidsnap_encode(sample, 2, &out, &len);
    out[9] = 3;
    uint32_t crc = rn_crc32c(0, out + 6, len - 6);
    out[2] = (uint8_t)(crc >> 24);
    out[3] = (uint8_t)(crc >> 16);
    out[4] = (uint8_t)(crc >> 8);
    out[5] = (uint8_t)crc;
    is(rn_pidsnap_parse("s", out, len, &entries, &count, err, sizeof(err)), RN_ECORRUPT,
       "count 3 with two entries");
    ok(strstr(err, "count 3") != NULL, "count message: %s", err);
    out[6] = 0x80; /* negative count */
    crc = rn_crc32c(0, out + 6, len - 6);
    out[2] = (uint8_t)(crc >> 24);
    out[3] = (uint8_t)(crc >> 16);
    out[4] = (uint8_t)(crc >> 8);
    out[5] = (uint8_t)crc;
    is(rn_pidsnap_parse("s", out, len, &entries, &count, err, sizeof(err)), RN_ECORRUPT,
       "negative count");
    rn_free(out);
}

static void test_names_and_files(const char *dir)
{
    char name[RN_PIDSNAP_NAME_SIZE];
    rn_pidsnap_filename(0, name);
    is_str(name, "00000000000000000000.snapshot", "name of offset 0");
    rn_pidsnap_filename(9223372036854775807LL, name);
    is_str(name, "09223372036854775807.snapshot", "name of the largest offset");
    int64_t offset;
    is(rn_pidsnap_parse_filename("00000000000000001234.snapshot", &offset), 0, "parse name");
    is(offset, 1234, "offset");
    static const char *const bad[] = {
        "1234.snapshot",
        "00000000000000001234.snapshot.deleted",
        "00000000000000001234.log",
        "0000000000000000123x.snapshot",
        "99999999999999999999.snapshot",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        is(rn_pidsnap_parse_filename(bad[i], &offset), RN_EINVAL, "reject %s", bad[i]);

    rn_pidsnap_entry_t *entries;
    size_t count;
    is(rn_pidsnap_load(dir, 5, &entries, &count, err, sizeof(err)), RN_ENOTFOUND, "missing");
    is(rn_pidsnap_save(dir, 300, sample, 2, err, sizeof(err)), 0, "save at 300");
    is(rn_pidsnap_save(dir, 20, sample, 1, err, sizeof(err)), 0, "save at 20");
    is(rn_pidsnap_save(dir, 1000, NULL, 0, err, sizeof(err)), 0, "save empty at 1000");
    char other[512];
    snprintf(other, sizeof(other), "%s/00000000000000000007.snapshot.deleted", dir);
    rn_fsutil_write_atomic(other, "x", 1, NULL, 0);
    snprintf(other, sizeof(other), "%s/00000000000000000000.log", dir);
    rn_fsutil_write_atomic(other, "x", 1, NULL, 0);

    is(rn_pidsnap_load(dir, 300, &entries, &count, err, sizeof(err)), 0, "load 300");
    ok(count == 2 && same_entries(entries, sample, 2), "round trip");
    rn_free(entries);
    is(rn_pidsnap_load(dir, 1000, &entries, &count, err, sizeof(err)), 0, "load empty");
    is(count, 0, "no entries");

    int64_t *offsets;
    is(rn_pidsnap_list(dir, &offsets, &count, err, sizeof(err)), 0, "list");
    ok(count == 3 && offsets[0] == 20 && offsets[1] == 300 && offsets[2] == 1000,
       "three snapshots, ascending, others ignored");
    rn_free(offsets);

    char path[512];
    snprintf(path, sizeof(path), "%s/00000000000000000300.snapshot", dir);
    rn_fsutil_write_atomic(path, "\0\1\0\0\0\0\0\0\0\0", 10, NULL, 0);
    is(rn_pidsnap_load(dir, 300, &entries, &count, err, sizeof(err)), RN_ECORRUPT, "corrupt file");
    ok(strstr(err, path) != NULL, "message names the file: %s", err);
    char missing[512];
    snprintf(missing, sizeof(missing), "%s/nope", dir);
    is(rn_pidsnap_list(missing, &offsets, &count, err, sizeof(err)), RN_EIO, "list missing dir");
}

int main(void)
{
    test_bytes();
    char dir[256];
    tu_tmpdir(dir, "pidsnap");
    test_names_and_files(dir);
    tu_rmtree(dir);
    return done_testing();
}
