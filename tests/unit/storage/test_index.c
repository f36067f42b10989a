/* Offset index and time index: append rules, lookups, preallocation and trimming, reloading
 * a crashed (zero-tailed) file, validation of damaged contents, no descriptor held open. */
#include "rn_err.h"
#include "rn_index.h"
#include "rn_timeindex.h"
#include "tap.h"
#include "unit/storage/plog_testutil.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static off_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static int entry_bytes_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            return 0;
    return 1;
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

/* A writable index is preallocated sparse; after a kill it is left at full length with its
 * entries at the front and holes behind. The count skips the holes without reading them and
 * still finds entries that lie behind a hole or are followed by written zeros. */
static void test_sparse_tail(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/00000000000000002000.index", dir);
    const size_t max = 10 << 20;
    rn_index_t idx;
    is(rn_index_open(&idx, path, 2000, 1, max), 0, "open writable, 10 MiB");
    for (int i = 1; i <= 3; i++)
        is(rn_index_append(&idx, 2000 + 10 * i, (uint32_t)(4096 * i)), 0, "append %d", i);
    rn_index_close(&idx); /* as a kill leaves it: not trimmed */
    is(file_size(path), (off_t)max, "left at the preallocated length");
    /* Reading the 10 MiB of holes took ~10 ms per open (1,000 partitions: 10-30 s of
     * start-up); skipping them takes microseconds. 50 opens within 250 ms leaves a wide
     * margin for slow (sanitizer) builds. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int reopened = 0;
    for (int i = 0; i < 50; i++) {
        rn_index_t again;
        if (rn_index_open(&again, path, 2000, 1, max) == 0 && rn_index_entries(&again) == 3)
            reopened++;
        rn_index_close(&again);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    is(reopened, 50, "50 reopens count three entries");
    ok(ms < 250, "50 reopens of a sparse 10 MiB index take %.1f ms (< 250)", ms);
    is(rn_index_open(&idx, path, 2000, 1, max), 0, "reopen writable");
    is(rn_index_entries(&idx), 3, "three entries counted");
    rn_index_entry_t e = rn_index_entry(&idx, 2);
    ok(e.offset == 2030 && e.position == 3 * 4096, "last entry read back");
    ok(rn_index_lookup(&idx, 2025, &e) && e.offset == 2020, "lookup");
    /* Only the page holding the entries was touched: no read-around over the holes (which
     * zero-fills a read-ahead window per index, ~1 ms each at start-up). */
    size_t pages = max / (size_t)sysconf(_SC_PAGESIZE), resident = 0;
    unsigned char *vec = calloc(pages, 1);
    if (vec != NULL && mincore(idx.file.map, idx.file.map_len, vec) == 0)
        for (size_t i = 0; i < pages; i++)
            resident += vec[i] & 1;
    free(vec);
    ok(resident <= 2, "%zu page(s) of the 10 MiB index resident after open and lookup (<= 2)",
       resident);
    rn_index_close(&idx);

    /* An entry far behind a hole (a page written back on its own) still counts. */
    uint8_t entry[8];
    rn_store_be32(entry, 900);
    rn_store_be32(entry + 4, 123456);
    int fd = open(path, O_WRONLY);
    ok(fd >= 0 && pwrite(fd, entry, sizeof(entry), 5 << 20) == (ssize_t)sizeof(entry),
       "write an entry 5 MiB in");
    close(fd);
    is(rn_index_open(&idx, path, 2000, 0, max), 0, "reopen read-only");
    is(rn_index_entries(&idx), (5 << 20) / 8 + 1, "the count reaches the entry behind the hole");
    rn_index_close(&idx);

    /* Zeros written as data (no holes) are still dropped from the tail. */
    uint8_t buf[64] = {0};
    rn_store_be32(buf, 1);
    rn_store_be32(buf + 4, 1);
    write_file(path, buf, sizeof(buf));
    is(rn_index_open(&idx, path, 2000, 0, max), 0, "open a dense zero-tailed file");
    is(rn_index_entries(&idx), 1, "written zeros are not entries");
    rn_index_close(&idx);

    /* A partial entry of garbage at the end of a damaged file is cut when the index becomes
     * writable: past the entries everything reads as zeros. */
    uint8_t torn[8 + 5];
    memcpy(torn, buf, 8);
    memset(torn + 8, 0xab, 5);
    write_file(path, torn, sizeof(torn));
    is(rn_index_open(&idx, path, 2000, 1, 4096), 0, "open a file with a partial entry writable");
    is(rn_index_entries(&idx), 1, "one entry");
    is(file_size(path), 4096, "preallocated");
    ok(entry_bytes_zero(idx.file.map + 8, 4096 - 8), "the partial entry's bytes are zeros now");
    rn_index_close(&idx);
}

/* An index holds its file through the mapping alone: no descriptor stays open after open,
 * trim, make_writable or sync, and a sync of a file deleted meanwhile is nothing to do. */
static void test_no_open_fds(const char *dir)
{
    char ipath[512], tpath[512];
    snprintf(ipath, sizeof(ipath), "%s/00000000000000007000.index", dir);
    snprintf(tpath, sizeof(tpath), "%s/00000000000000007000.timeindex", dir);
    ok(tu_open_fds(NULL, NULL) > 0, "/proc/self/fd is readable");
    rn_index_t idx;
    rn_timeindex_t t;
    is(rn_index_open(&idx, ipath, 7000, 1, 4096), 0, "open an offset index writable");
    is(rn_timeindex_open(&t, tpath, 7000, 1, 4096), 0, "open a time index writable");
    is(tu_open_fds(dir, "07000."), 0, "no descriptor open on either file");
    is(file_size(ipath), 4096, "preallocated all the same");
    mode_t mask = umask(0);
    umask(mask);
    struct stat st = {0};
    int rc = stat(ipath, &st);
    ok(rc == 0 && (st.st_mode & 0777) == (0644 & ~mask),
       "created with mode 0644 less the umask (%o)", (unsigned)(st.st_mode & 0777));
    is(rn_index_append(&idx, 7010, 100), 0, "append");
    is(rn_index_append(&idx, 7020, 200), 0, "append");
    is(rn_timeindex_maybe_append(&t, 5000, 7010, 0), 0, "time append");
    is(rn__idxfile_sync(&idx.file), 0, "sync the offset index");
    is(rn__idxfile_sync(&t.file), 0, "sync the time index");
    is(rn__idxfile_trim(&idx.file), 0, "trim");
    is(rn__idxfile_trim(&t.file), 0, "trim the time index");
    is(file_size(ipath), 16, "trimmed to its entries");
    is(tu_open_fds(dir, "07000."), 0, "no descriptor after sync and trim");
    rn_index_entry_t e;
    ok(rn_index_lookup(&idx, 7025, &e) == 1 && e.offset == 7020 && e.position == 200,
       "lookups read the read-only mapping");
    is(rn__idxfile_make_writable(&idx.file, 4096), 0, "make writable again");
    is(rn_index_append(&idx, 7030, 300), 0, "append after");
    is(tu_open_fds(dir, "07000."), 0, "no descriptor after make_writable");
    ok(rn_index_open(&(rn_index_t){0}, tu_path(dir, "no/such/dir.index"), 0, 1, 4096) == RN_EIO,
       "an index that cannot be created: RN_EIO");
    is(unlink(ipath), 0, "delete the offset index's file");
    is(rn__idxfile_sync(&idx.file), 0, "sync of a deleted file: nothing to keep");
    is(rn__idxfile_trim(&idx.file), RN_EIO, "trim of a deleted file fails");
    ok(rn_index_entries(&idx) == 3 && rn_index_lookup(&idx, 7035, &e) == 1 && e.offset == 7030,
       "and leaves the index as it was");
    rn_index_close(&idx);
    rn_timeindex_close(&t);
    is(tu_open_fds(dir, "07000."), 0, "none after close");
}

int main(void)
{
    char dir[256];
    tu_tmpdir(dir, "index");
    test_offset_index(dir);
    test_time_index(dir);
    test_sparse_tail(dir);
    test_no_open_fds(dir);
    tu_rmtree(dir);
    return done_testing();
}
