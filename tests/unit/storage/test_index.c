/* Offset index and time index: append rules, lookups, preallocation and trimming, reloading
 * a crashed (zero-tailed) file, validation of damaged contents. */
#include "rn_err.h"
#include "rn_index.h"
#include "rn_timeindex.h"
#include "tap.h"
#include "unit/storage/plog_testutil.h"

#include <sys/stat.h>
#include <unistd.h>

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    fwrite(data, 1, len, fp);
    fclose(fp);
}

static void test_offset_index(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/00000000000000001000.index", dir);
    rn_index_t idx;
    is(rn_index_open(&idx, path, 1000, 1, 80), 0, "open writable");
    is(file_size(path), 80, "preallocated to max bytes");
    is(idx.file.max_entries, 10, "10 entries fit in 80 bytes");
    rn_index_entry_t e;
    is(rn_index_lookup(&idx, 5000, &e), 0, "empty index: no entry");
    for (int i = 0; i < 10; i++)
        is(rn_index_append(&idx, 1000 + 10 * i + 9, (uint32_t)(100 * (i + 1))), 0, "append %d", i);
    ok(rn_index_is_full(&idx), "full after 10");
    is(rn_index_append(&idx, 2000, 5000), RN_EFULL, "append to a full index");
    is(rn_index_lookup(&idx, 1008, &e), 0, "below the first entry: none");
    ok(rn_index_lookup(&idx, 1009, &e) && e.offset == 1009 && e.position == 100, "exact first");
    ok(rn_index_lookup(&idx, 1055, &e) && e.offset == 1049 && e.position == 500, "between");
    ok(rn_index_lookup(&idx, 99999, &e) && e.offset == 1099 && e.position == 1000, "past the end");
    ok(rn_index_lookup_position(&idx, 550, &e) && e.position == 500, "by position");
    is(rn_index_lookup_position(&idx, 99, &e), 0, "by position below the first");
    const char *why;
    is(rn_index_check(&idx, 1100, 1001, &why), 0, "valid against its segment");
    is(rn_index_check(&idx, 1099, 1001, &why), RN_ECORRUPT, "entry past the last offset");
    is(rn_index_check(&idx, 1100, 1000, &why), RN_ECORRUPT, "entry past the end of the log");

    rn_index_truncate_to(&idx, 1049);
    is(rn_index_entries(&idx), 4, "truncate_to drops entries >= offset");
    is(rn_index_append(&idx, 1049, 400), RN_EINVAL, "position must grow");
    is(rn_index_append(&idx, 1039, 600), RN_EINVAL, "offset must grow");
    is(rn_index_append(&idx, 1000 + (int64_t)UINT32_MAX + 1, 600), RN_EINVAL, "relative overflow");
    is(rn__idxfile_trim(&idx.file), 0, "trim");
    is(file_size(path), 32, "trimmed to 4 entries");
    is(rn_index_append(&idx, 1200, 5000), RN_EFULL, "sealed index takes no entries");
    rn_index_close(&idx);

    is(rn_index_open(&idx, path, 1000, 0, 80), 0, "reopen read-only");
    is(rn_index_entries(&idx), 4, "4 entries back");
    ok(rn_index_lookup(&idx, 1045, &e) && e.offset == 1039, "lookup after reopen");
    rn_index_close(&idx);

    /* A crash leaves the preallocated file full of zeros after the entries. */
    is(rn_index_open(&idx, path, 1000, 1, 80), 0, "reopen writable");
    is(file_size(path), 80, "preallocated again");
    rn_index_close(&idx);
    is(rn_index_open(&idx, path, 1000, 1, 80), 0, "reopen the zero-tailed file");
    is(rn_index_entries(&idx), 4, "zero tail is not counted");
    rn_index_reset(&idx);
    is(rn_index_entries(&idx), 0, "reset");
    rn_index_close(&idx);

    /* Damaged files. */
    uint8_t bad[20] = {0};
    write_file(path, bad, 12);
    is(rn_index_open(&idx, path, 1000, 0, 80), 0, "open a 12-byte file");
    is(rn_index_check(&idx, 2000, 5000, &why), RN_ECORRUPT, "length not a multiple of 8");
    rn_index_close(&idx);
    uint8_t entries[24];
    rn_store_be32(entries, 5);
    rn_store_be32(entries + 4, 100);
    rn_store_be32(entries + 8, 3);
    rn_store_be32(entries + 12, 200);
    rn_store_be32(entries + 16, 9);
    rn_store_be32(entries + 20, 300);
    is(rn_index_check_bytes(entries, 24, 100, 1000, &why), RN_ECORRUPT, "decreasing offsets");
    rn_store_be32(entries + 8, 7);
    is(rn_index_check_bytes(entries, 24, 100, 1000, &why), 0, "increasing entries are valid");
    rn_store_be32(entries + 4, 0);
    is(rn_index_check_bytes(entries, 24, 100, 1000, &why), RN_ECORRUPT, "position 0 is invalid");
}

static void test_time_index(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/00000000000000000100.timeindex", dir);
    rn_timeindex_t t;
    is(rn_timeindex_open(&t, path, 100, 1, 60), 0, "open writable");
    is(t.file.max_entries, 5, "5 entries fit in 60 bytes");
    rn_timeindex_entry_t e = rn_timeindex_last(&t);
    ok(e.timestamp == -1 && e.offset == 100, "empty last entry");
    is(rn_timeindex_maybe_append(&t, 1000, 105, 0), 0, "append");
    is(rn_timeindex_maybe_append(&t, 1000, 110, 0), 0, "same timestamp: no-op");
    is(rn_timeindex_maybe_append(&t, 900, 110, 0), 0, "older timestamp: no-op");
    is(rn_timeindex_entries(&t), 1, "still one entry");
    is(rn_timeindex_maybe_append(&t, 1100, 104, 0), RN_EINVAL, "offset going back");
    is(rn_timeindex_maybe_append(&t, 2000, 120, 0), 0, "append 2");
    is(rn_timeindex_maybe_append(&t, 3000, 130, 0), 0, "append 3");
    is(rn_timeindex_maybe_append(&t, 4000, 140, 0), 0, "append 4");
    ok(rn_timeindex_is_full(&t), "full for roll with one slot kept");
    is(rn_timeindex_maybe_append(&t, 5000, 150, 0), RN_EFULL, "the last slot is reserved");
    is(rn_timeindex_maybe_append(&t, 5000, 150, 1), 0, "the final entry uses it");
    ok(rn_timeindex_lookup(&t, 2500, &e) && e.timestamp == 2000 && e.offset == 120, "lookup");
    is(rn_timeindex_lookup(&t, 999, &e), 0, "before the first");
    const char *why;
    is(rn_timeindex_check(&t, 151, &why), 0, "valid");
    is(rn_timeindex_check(&t, 150, &why), RN_ECORRUPT, "entry past the last offset");
    rn_timeindex_truncate_to(&t, 130);
    is(rn_timeindex_entries(&t), 2, "truncate_to");
    rn__idxfile_trim(&t.file);
    is(file_size(path), 24, "trimmed");
    rn_timeindex_close(&t);
    is(rn_timeindex_open(&t, path, 100, 0, 60), 0, "reopen");
    e = rn_timeindex_last(&t);
    ok(e.timestamp == 2000 && e.offset == 120, "last entry survives");
    rn_timeindex_close(&t);

    uint8_t entries[24];
    rn_store_be64(entries, 10);
    rn_store_be32(entries + 8, 1);
    rn_store_be64(entries + 12, 10);
    rn_store_be32(entries + 20, 2);
    is(rn_timeindex_check_bytes(entries, 24, 10, &why), RN_ECORRUPT, "equal timestamps");
    rn_store_be64(entries + 12, 11);
    is(rn_timeindex_check_bytes(entries, 24, 10, &why), 0, "increasing");
    is(rn_timeindex_check_bytes(entries, 23, 10, &why), RN_ECORRUPT, "partial entry");
}

int main(void)
{
    char dir[256];
    tu_tmpdir(dir, "index");
    test_offset_index(dir);
    test_time_index(dir);
    tu_rmtree(dir);
    return done_testing();
}
