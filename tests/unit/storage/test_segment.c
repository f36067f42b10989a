/* Segments: append and indexing, offset translation, batch-bounded ranges, timestamp lookup,
 * truncation, seal/reopen (clean and recovering), index rebuild, torn tails, delete. */
#include "rn_err.h"
#include "rn_segment.h"
#include "tap.h"
#include "unit/storage/plog_testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBATCH 60

typedef struct expect {
    uint64_t pos;
    int64_t base, last;
    int count;
    int64_t first_ts;
} expect_t;

static expect_t want[NBATCH];
static int fail_count;
static const rn_segment_params_t params = {.index_max_bytes = 4096, .index_interval_bytes = 200};

static int exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static off_t size_of(const char *dir, const char *name)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0 ? st.st_size : -1;
}

/* Batch i: (i % 5) + 1 records of 20 + 7 * (i % 11) bytes, record timestamps 1000 i + 10 j. */
static void fill(rn_segment_t *seg, int64_t base)
{
    int64_t next = base;
    for (int i = 0; i < NBATCH; i++) {
        tu_buf_t b = {0};
        int count = i % 5 + 1;
        tu_add_batch(&b, count, 20 + 7 * (size_t)(i % 11), 1000LL * i, 10, (uint32_t)i);
        rn_batch_set_base_offset(b.p, next);
        want[i] = (expect_t){seg->size, next, next + count - 1, count, 1000LL * i};
        if (rn_segment_append(seg, b.p, b.len) != 0)
            fail_count++;
        next += count;
        tu_free(&b);
    }
}

static void check_translate(const rn_segment_t *seg, int upto, const char *what)
{
    int bad = 0;
    for (int i = 0; i < upto; i++)
        for (int64_t off = want[i].base; off <= want[i].last; off++) {
            uint64_t pos;
            rn_batch_header_t hdr;
            if (rn_segment_translate(seg, off, &pos, &hdr) != 0 || pos != want[i].pos ||
                hdr.base_offset != want[i].base)
                bad++;
        }
    is(bad, 0, "%s: every offset translates to its batch", what);
}

static void test_names(void)
{
    char name[RN_SEGMENT_NAME_MAX];
    rn_segment_file_name(name, 1234, ".timeindex");
    is_str(name, "00000000000000001234.timeindex", "file name");
    int64_t base;
    ok(rn_segment_parse_name(name, ".timeindex", &base) == 0 && base == 1234, "parse");
    is(rn_segment_parse_name("0000000000000000123.log", ".log", &base), -1, "19 digits");
    is(rn_segment_parse_name("0000000000000000123x.log", ".log", &base), -1, "non-digit");
    is(rn_segment_parse_name("99999999999999999999.log", ".log", &base), -1, "overflow");
    is(rn_segment_parse_name("00000000000000000000.log.swap", ".log", &base), -1, "suffix");
}

static void test_lifecycle(const char *dir)
{
    rn_segment_t *seg;
    const int64_t base = 500;
    is(rn_segment_create(dir, base, &params, 0, &seg), 0, "create");
    ok(exists(dir, "00000000000000000500.log") && exists(dir, "00000000000000000500.index") &&
           exists(dir, "00000000000000000500.timeindex"),
       "three files");
    fill(seg, base);
    is(fail_count, 0, "appends succeed");
    int64_t end = want[NBATCH - 1].last + 1;
    is(seg->next_offset, end, "next offset");
    is(seg->max_timestamp, 1000LL * (NBATCH - 1) + 10 * ((NBATCH - 1) % 5), "max timestamp");
    ok(rn_index_entries(&seg->index) > 5, "sparse index has entries (%u)",
       rn_index_entries(&seg->index));
    int64_t next = -1;
    is(tu_check_segment(seg, &next), 0, "indexes agree with the log");
    check_translate(seg, NBATCH, "active");
    uint64_t pos;
    rn_batch_header_t hdr;
    is(rn_segment_translate(seg, end, &pos, &hdr), RN_ENOTFOUND, "log end: not found");
    ok(rn_segment_translate(seg, 0, &pos, &hdr) == 0 && pos == 0, "below base: first batch");

    /* Ranges of whole batches. */
    uint64_t stop;
    is(rn_segment_batches_end(seg, want[3].pos, want[3].pos + 1, &stop), 0, "range");
    is(stop, want[4].pos, "a tiny limit still returns the first batch whole");
    rn_segment_batches_end(seg, want[3].pos, want[10].pos, &stop);
    is(stop, want[10].pos, "a limit on a boundary");
    rn_segment_batches_end(seg, want[3].pos, want[10].pos + 5, &stop);
    is(stop, want[10].pos, "a limit inside a batch stops before it");
    rn_segment_batches_end(seg, want[3].pos, want[50].pos - 1, &stop);
    is(stop, want[49].pos, "a far limit (index-assisted)");
    rn_segment_batches_end(seg, want[3].pos, UINT64_MAX, &stop);
    is(stop, seg->size, "no limit: to the end");

    /* Timestamps: batch i holds records at 1000 i + 10 j. */
    rn_segment_ts_hit_t hit;
    ok(rn_segment_find_timestamp(seg, 0, 0, &hit) == 0 && hit.offset == base && hit.timestamp == 0,
       "timestamp 0: first record");
    ok(rn_segment_find_timestamp(seg, 7015, 0, &hit) == 0 && hit.offset == want[7].base + 2 &&
           hit.timestamp == 7020,
       "a record inside a batch (offset %" PRId64 ", ts %" PRId64 ")", hit.offset, hit.timestamp);
    ok(rn_segment_find_timestamp(seg, 7045, 0, &hit) == 0 && hit.offset == want[8].base &&
           hit.timestamp == 8000,
       "past a batch's last record: the next batch");
    ok(rn_segment_find_timestamp(seg, 100, want[20].base + 1, &hit) == 0 &&
           hit.offset == want[20].base + 1,
       "min offset wins over an earlier timestamp");
    is(rn_segment_find_timestamp(seg, 1000LL * NBATCH, 0, &hit), RN_ENOTFOUND, "after the max");

    /* Seal and reopen clean. */
    uint32_t entries = rn_index_entries(&seg->index);
    is(rn_segment_seal(seg), 0, "seal");
    is(size_of(dir, "00000000000000000500.index"), (off_t)entries * 8, "index trimmed");
    uint32_t tentries = rn_timeindex_entries(&seg->tindex);
    rn_timeindex_entry_t tlast = rn_timeindex_last(&seg->tindex);
    is(tlast.timestamp, seg->max_timestamp, "the seal records the largest timestamp");
    uint64_t size = seg->size;
    rn_segment_unref(seg);

    rn_segment_recovery_t rec;
    is(rn_segment_open(dir, "t-0", base, &params, 0, 0, 0, &rec, &seg), 0, "reopen clean");
    ok(seg->size == size && seg->next_offset == end && !rec.index_rebuilt, "same size and end");
    is(seg->max_timestamp, tlast.timestamp, "max timestamp from the time index");
    is(rn_index_entries(&seg->index), entries, "same index");
    check_translate(seg, NBATCH, "reopened");
    rn_segment_unref(seg);

    is(rn_segment_open(dir, "t-0", base, &params, 1, 1, 0, &rec, &seg), 0, "reopen recovering");
    ok(rec.index_rebuilt && rec.bytes_cut == 0, "rebuilt, nothing cut");
    is(rn_index_entries(&seg->index), entries, "rebuilt index has the same entries");
    ok(rn_timeindex_entries(&seg->tindex) + 1 >= tentries, "time index rebuilt (%u of %u)",
       rn_timeindex_entries(&seg->tindex), tentries);
    next = -1;
    is(tu_check_segment(seg, &next), 0, "rebuilt indexes agree");

    /* Truncate in the middle of batch 32 (3 records): the whole batch goes. */
    uint64_t cut;
    is(rn_segment_truncate_to(seg, want[32].base + 1, &cut), 0, "truncate");
    is(cut, size - want[32].pos, "bytes cut");
    ok(seg->size == want[32].pos && seg->next_offset == want[32].base, "end after truncation");
    is(seg->max_timestamp, 1000LL * 31 + 10 * (31 % 5), "max timestamp recomputed");
    next = -1;
    is(tu_check_segment(seg, &next), 0, "indexes agree after truncation");
    check_translate(seg, 32, "truncated");
    /* Appending again continues where it stopped. */
    tu_buf_t b = {0};
    tu_add_batch(&b, 3, 100, 99000, 1, 7);
    rn_batch_set_base_offset(b.p, seg->next_offset);
    is(rn_segment_append(seg, b.p, b.len), 0, "append after truncation");
    is(seg->max_timestamp, 99002, "new max timestamp");
    tu_free(&b);
    size = seg->size;
    end = seg->next_offset;
    rn_segment_unref(seg); /* not sealed: the files look like a crash */

    /* The crashed active segment: preallocated zero-tailed indexes, then a torn batch. */
    is(size_of(dir, "00000000000000000500.index"), 4096, "active index left preallocated");
    char path[512];
    snprintf(path, sizeof(path), "%s/00000000000000000500.log", dir);
    int fd = open(path, O_WRONLY | O_APPEND);
    tu_add_batch(&b, 4, 300, 100000, 1, 9);
    ok(write(fd, b.p, b.len / 2) == (ssize_t)(b.len / 2), "write half a batch");
    close(fd);
    tu_free(&b);
    is(rn_segment_open(dir, "t-0", base, &params, 1, 1, 0, &rec, &seg), 0, "recover");
    is(size_of(dir, "00000000000000000500.log"), (off_t)size, "file cut back");
    ok(rec.bytes_cut > 0 && rec.position == size && strstr(rec.reason, "incomplete") != NULL,
       "cut reported: %" PRIu64 " bytes at %" PRIu64 ": %s", rec.bytes_cut, rec.position,
       rec.reason);
    ok(seg->size == size && seg->next_offset == end, "complete batches kept");
    next = -1;
    is(tu_check_segment(seg, &next), 0, "indexes agree after recovery");

    /* Damage the index; a clean open notices and rebuilds. */
    rn_segment_seal(seg);
    entries = rn_index_entries(&seg->index);
    rn_segment_unref(seg);
    snprintf(path, sizeof(path), "%s/00000000000000000500.index", dir);
    fd = open(path, O_WRONLY);
    uint8_t junk[8] = {0, 0, 0, 1, 0, 0, 0, 2};
    ok(pwrite(fd, junk, 8, 8) == 8, "overwrite index entry 1");
    close(fd);
    is(rn_segment_open(dir, "t-0", base, &params, 0, 0, 0, &rec, &seg), 0, "clean open");
    ok(rec.index_rebuilt, "damaged index detected and rebuilt");
    is(rn_index_entries(&seg->index), entries, "same entries after the rebuild");
    next = -1;
    is(tu_check_segment(seg, &next), 0, "agree");

    /* A missing index file is rebuilt, not trusted empty. */
    rn_segment_seal(seg);
    rn_segment_unref(seg);
    snprintf(path, sizeof(path), "%s/00000000000000000500.index", dir);
    ok(unlink(path) == 0, "remove the index file");
    is(rn_segment_open(dir, "t-0", base, &params, 0, 0, 0, &rec, &seg), 0, "clean open");
    ok(rec.index_rebuilt && rn_index_entries(&seg->index) == entries, "missing index rebuilt");

    /* Delete while a reader holds a reference: the fd stays readable. */
    rn_segment_ref(seg);
    is(rn_segment_delete(seg), 0, "delete");
    ok(!exists(dir, "00000000000000000500.log") && !exists(dir, "00000000000000000500.index") &&
           !exists(dir, "00000000000000000500.timeindex") &&
           !exists(dir, "00000000000000000500.log.deleted"),
       "files gone");
    rn_segment_unref(seg);
    ok(rn_segment_read_header(seg, want[5].pos, &hdr) == 0 && hdr.base_offset == want[5].base,
       "reference keeps the data readable");
    rn_segment_unref(seg);
}

int main(void)
{
    char dir[256];
    tu_tmpdir(dir, "segment");
    test_names();
    test_lifecycle(dir);
    tu_rmtree(dir);
    return done_testing();
}
