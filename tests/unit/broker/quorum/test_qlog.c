/* Tests for rn_qlog: entries of several epochs (LeaderChange control batches among them)
 * appended and read back, truncate_to, epoch_end for each epoch and below the first, reopen
 * after a clean close (known as clean from its marker, which the open removes) and after a
 * crash that cut the file mid-batch (the torn tail is dropped), and reset / drop_prefix as
 * snapshots use them, each surviving a reopen. */
#include "quorum/rn_qlog.h"

#include "rn_err.h"
#include "tap.h"
#include "unit/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const rn_raft_log_ops_t *ops = &rn_qlog_ops;

/* Entry i's bytes: "entry-<i>" (entry 0 of each epoch is a LeaderChange). */
static int append(rn_qlog_t *q, int32_t epoch, uint8_t kind, int i)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "entry-%d", i);
    return ops->append(q, epoch, kind, (const uint8_t *)buf, (size_t)n);
}

/* The entry at off has epoch and the bytes "entry-<off>". */
static bool entry_ok(rn_qlog_t *q, int64_t off, int32_t epoch, uint8_t kind)
{
    rn_raft_entry_t e;
    char want[32];
    int n = snprintf(want, sizeof(want), "entry-%lld", (long long)off);
    if (ops->read(q, off, &e) != 0)
        return false;
    return e.offset == off && e.epoch == epoch && e.kind == kind && e.len == (size_t)n &&
           memcmp(e.data, want, (size_t)n) == 0;
}

static bool epoch_end_is(rn_qlog_t *q, int32_t ask, int32_t want_epoch, int64_t want_end)
{
    int32_t e = -99;
    int64_t end = -99;
    int rc = ops->epoch_end(q, ask, &e, &end);
    if (rc != 0 || e != want_epoch || end != want_end)
        diag("  epoch_end(%d): rc %d, epoch %d, end %lld", ask, rc, e, (long long)end);
    return rc == 0 && e == want_epoch && end == want_end;
}

/* Does <data_dir>/__cluster_metadata-0/<name> exist? */
static bool qlog_file_exists(const char *data_dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s/%s", data_dir, RN_QLOG_DIR, name);
    return access(path, F_OK) == 0;
}

/* The process died instead of closing: the next open finds no clean-close marker (that
 * open had removed it). The tests close and then take it away. */
static void as_if_crashed(const char *data_dir)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s/%s", data_dir, RN_QLOG_DIR, RN_QLOG_CLEAN_FILE);
    unlink(path);
}

static rn_qlog_t *open_log(const char *dir)
{
    rn_qlog_t *q = NULL;
    char err[256] = "";
    int rc = rn_qlog_open(dir, &q, err, sizeof(err));
    if (rc != 0)
        diag("  open: %s", err);
    return q;
}

/* The log's one .log file (the metadata log never rolls in these tests). */
static void segment_path(const char *data_dir, char *out, size_t cap)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/%s", data_dir, RN_QLOG_DIR);
    DIR *d = opendir(dir);
    out[0] = '\0';
    for (struct dirent *de; d != NULL && (de = readdir(d)) != NULL;) {
        size_t n = strlen(de->d_name);
        if (n > 4 && strcmp(de->d_name + n - 4, ".log") == 0)
            snprintf(out, cap, "%s/%s", dir, de->d_name);
    }
    if (d != NULL)
        closedir(d);
}

/* Epochs 3 (entries 0-2), 5 (3-6), 6 (7-9); each epoch starts with a LeaderChange. */
static const int32_t epoch_of[10] = {3, 3, 3, 5, 5, 5, 5, 6, 6, 6};

static uint8_t kind_of(int i)
{
    return i == 0 || epoch_of[i] != epoch_of[i - 1] ? RN_RAFT_ENTRY_LEADER_CHANGE
                                                    : RN_RAFT_ENTRY_DATA;
}

static bool all_entries_ok(rn_qlog_t *q, int64_t from, int64_t to)
{
    for (int64_t i = from; i < to; i++)
        if (!entry_ok(q, i, epoch_of[i], kind_of((int)i))) {
            diag("  entry %lld differs", (long long)i);
            return false;
        }
    return true;
}

static void test_append_read(const char *dir)
{
    rn_qlog_t *q = open_log(dir);
    ok(q != NULL, "open an empty metadata log");
    ok(rn_qlog_was_clean(q), "a new directory has nothing to recover");
    is(ops->start_offset(q), 0, "empty: start 0");
    is(ops->end_offset(q), 0, "empty: end 0");
    is(ops->last_epoch(q), 0, "empty: last epoch is the start epoch 0");
    int32_t e;
    int64_t end;
    is(ops->epoch_end(q, 10, &e, &end), RN_ENOTFOUND, "empty: no epoch end");
    rn_raft_entry_t entry;
    is(ops->read(q, 0, &entry), RN_ERANGE, "empty: nothing to read");

    int rc = 0;
    for (int i = 0; i < 10; i++)
        rc |= append(q, epoch_of[i], kind_of(i), i);
    is(rc, 0, "append ten entries of epochs 3, 5 and 6");
    is(ops->flush(q), 0, "flush");
    is(ops->end_offset(q), 10, "end 10");
    is(ops->last_epoch(q), 6, "last epoch 6");
    ok(all_entries_ok(q, 0, 10), "every entry reads back: offset, epoch, kind, bytes");
    is(ops->read(q, 10, &entry), RN_ERANGE, "reading at the end is out of range");

    ok(epoch_end_is(q, 3, 3, 3), "epoch_end(3): epoch 3 ends at 3");
    ok(epoch_end_is(q, 4, 3, 3), "epoch_end(4): no epoch 4, the largest below is 3");
    ok(epoch_end_is(q, 5, 5, 7), "epoch_end(5): ends at 7");
    ok(epoch_end_is(q, 6, 6, 10), "epoch_end(6): the last epoch ends at the log end");
    ok(epoch_end_is(q, 100, 6, 10), "epoch_end(100): the last epoch");
    is(ops->epoch_end(q, 2, &e, &end), RN_ENOTFOUND, "epoch_end below the first epoch");

    is(ops->truncate_to(q, 5), 0, "truncate_to 5 (mid epoch 5)");
    is(ops->end_offset(q), 5, "end 5");
    is(ops->last_epoch(q), 5, "last epoch 5");
    ok(epoch_end_is(q, 6, 5, 5), "epoch_end(6) after truncation: epoch 5 ends at 5");
    is(ops->read(q, 5, &entry), RN_ERANGE, "the truncated entries are gone");
    rc = 0;
    for (int i = 5; i < 10; i++)
        rc |= append(q, epoch_of[i], kind_of(i), i);
    is(rc, 0, "append the five again");
    ok(all_entries_ok(q, 0, 10), "the log reads as before");
    ok(epoch_end_is(q, 6, 6, 10), "epoch 6 is back");
    is(ops->flush(q), 0, "flush");
    rn_qlog_close(q);

    ok(qlog_file_exists(dir, RN_QLOG_CLEAN_FILE), "a clean close leaves the marker");
    q = open_log(dir);
    ok(q != NULL, "reopen after a clean close");
    ok(rn_qlog_was_clean(q), "the open knows the close was clean");
    ok(!qlog_file_exists(dir, RN_QLOG_CLEAN_FILE), "and removed the marker before any append");
    is(ops->end_offset(q), 10, "reopened: end 10");
    is(ops->last_epoch(q), 6, "reopened: last epoch 6");
    ok(all_entries_ok(q, 0, 10), "reopened: every entry");
    ok(epoch_end_is(q, 5, 5, 7) && epoch_end_is(q, 3, 3, 3), "reopened: the epoch cache");
    rn_qlog_close(q);
}

/* A crash while the last batch was being written: the file ends inside it. */
static void test_torn_tail(const char *dir)
{
    char seg[600];
    segment_path(dir, seg, sizeof(seg));
    struct stat st;
    ok(seg[0] != '\0' && stat(seg, &st) == 0, "the segment file %s", seg);
    as_if_crashed(dir);
    is(truncate(seg, st.st_size - 7), 0, "cut the last batch 7 bytes short");
    rn_qlog_t *q = open_log(dir);
    ok(q != NULL, "reopen after the crash");
    ok(!rn_qlog_was_clean(q), "no marker: the open recovers");
    is(ops->end_offset(q), 9, "the torn entry is dropped: end 9");
    is(ops->last_epoch(q), 6, "last epoch 6");
    ok(all_entries_ok(q, 0, 9), "the whole entries read back");
    ok(epoch_end_is(q, 6, 6, 9), "epoch 6 now ends at 9");
    is(append(q, 6, RN_RAFT_ENTRY_DATA, 9), 0, "append entry 9 again");
    is(ops->flush(q), 0, "flush");
    ok(entry_ok(q, 9, 6, RN_RAFT_ENTRY_DATA), "it reads back");
    rn_qlog_close(q);

    /* A crash that leaves a whole epoch's only batch torn takes the epoch with it. */
    q = open_log(dir);
    is(append(q, 8, RN_RAFT_ENTRY_LEADER_CHANGE, 10), 0, "a LeaderChange of epoch 8 at 10");
    is(ops->flush(q), 0, "flush");
    rn_qlog_close(q);
    as_if_crashed(dir);
    stat(seg, &st);
    is(truncate(seg, st.st_size - 3), 0, "cut it");
    q = open_log(dir);
    is(ops->end_offset(q), 10, "end 10 again");
    is(ops->last_epoch(q), 6, "epoch 8 is forgotten");
    ok(epoch_end_is(q, 8, 6, 10), "epoch_end(8) answers epoch 6");
    rn_qlog_close(q);
}

/* drop_prefix after a snapshot at 5, then reset to a snapshot past the log's end. */
static void test_snapshots(const char *dir)
{
    rn_qlog_t *q = open_log(dir);
    is(ops->drop_prefix(q, 5), 0, "drop_prefix 5 (snapshot of entries 0-4)");
    is(ops->start_offset(q), 5, "start 5");
    is(ops->start_epoch(q), 5, "start epoch: that of entry 4");
    is(ops->end_offset(q), 10, "end unchanged");
    rn_raft_entry_t entry;
    is(ops->read(q, 4, &entry), RN_ERANGE, "entry 4 is in the snapshot now");
    ok(all_entries_ok(q, 5, 10), "entries 5-9 read back");
    ok(epoch_end_is(q, 5, 5, 7), "epoch_end(5) within the log");
    int32_t e;
    int64_t end;
    is(ops->epoch_end(q, 3, &e, &end), RN_ENOTFOUND, "epoch 3 is only in the snapshot");
    is(ops->drop_prefix(q, 3), 0, "dropping below the start is a no-op");
    is(ops->start_offset(q), 5, "start still 5");
    is(ops->flush(q), 0, "flush");
    rn_qlog_close(q);

    q = open_log(dir);
    is(ops->start_offset(q), 5, "reopened: start 5");
    is(ops->start_epoch(q), 5, "reopened: start epoch 5");
    ok(all_entries_ok(q, 5, 10), "reopened: entries 5-9");

    is(ops->reset(q, 500, 9), 0, "reset to a snapshot ending at 500, epoch 9");
    is(ops->start_offset(q), 500, "start 500");
    is(ops->end_offset(q), 500, "end 500: empty");
    is(ops->start_epoch(q), 9, "start epoch 9");
    is(ops->last_epoch(q), 9, "last epoch: the start epoch");
    is(ops->epoch_end(q, 9, &e, &end), RN_ENOTFOUND, "no entries, no epoch end");
    is(ops->append(q, 10, RN_RAFT_ENTRY_LEADER_CHANGE, (const uint8_t *)"entry-500", 9), 0,
       "append at 500");
    is(ops->flush(q), 0, "flush");
    rn_qlog_close(q);

    q = open_log(dir);
    is(ops->start_offset(q), 500, "reopened after reset: start 500");
    is(ops->start_epoch(q), 9, "reopened after reset: start epoch 9");
    is(ops->end_offset(q), 501, "end 501");
    ok(entry_ok(q, 500, 10, RN_RAFT_ENTRY_LEADER_CHANGE), "entry 500 reads back");
    ok(epoch_end_is(q, 10, 10, 501), "epoch_end(10)");
    is(ops->epoch_end(q, 9, &e, &end), RN_ENOTFOUND, "epoch 9 is only in the snapshot");
    rn_qlog_close(q);
}

int main(void)
{
    char dir[256];
    tu_tmpdir(dir, "qlog");
    test_append_read(dir);
    test_torn_tail(dir);
    test_snapshots(dir);
    rn_qlog_close(NULL);
    tu_rmtree(dir);
    return done_testing();
}
