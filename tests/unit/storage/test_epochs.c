/* rn_epochs: Kafka's LeaderEpochFileCache semantics (assign, OffsetForLeaderEpoch, truncation
 * from both ends) and the leader-epoch-checkpoint file (exact bytes, strict parsing). */
#include "rn_alloc.h"
#include "rn_epochs.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "tap.h"
#include "unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

/* The cache as "e@s e@s ..." for compact comparisons. */
static const char *show(const rn_epochs_t *ec)
{
    static char buf[512];
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < ec->count; i++)
        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%d@%lld", i ? " " : "",
                              (int)ec->entries[i].epoch, (long long)ec->entries[i].start_offset);
    return buf;
}

static void expect_end(const rn_epochs_t *ec, int32_t req, int64_t leo, int32_t want_epoch,
                       int64_t want_off)
{
    int32_t epoch;
    int64_t off;
    rn_epochs_end_offset_for(ec, req, leo, &epoch, &off);
    ok(epoch == want_epoch && off == want_off,
       "end_offset_for(%d, leo %lld) = (%d, %lld), want (%d, %lld)", (int)req, (long long)leo,
       (int)epoch, (long long)off, (int)want_epoch, (long long)want_off);
}

static void test_assign_and_lookup(void)
{
    rn_epochs_t ec;
    rn_epochs_init(&ec);
    is(rn_epochs_latest(&ec), RN_EPOCH_UNDEFINED, "empty: no latest epoch");
    expect_end(&ec, 0, 100, -1, -1);
    is(rn_epochs_epoch_for_offset(&ec, 5), RN_EPOCH_UNDEFINED, "empty: no epoch for offset");

    is(rn_epochs_assign(&ec, 0, 0), 1, "assign 0@0");
    is(rn_epochs_assign(&ec, 0, 5), 0, "same epoch, later start: ignored");
    is(rn_epochs_assign(&ec, 0, 0), 0, "same entry again: ignored");
    is(rn_epochs_assign(&ec, 1, 10), 1, "assign 1@10");
    is(rn_epochs_assign(&ec, 3, 20), 1, "assign 3@20");
    is_str(show(&ec), "0@0 1@10 3@20", "three entries");
    is(rn_epochs_latest(&ec), 3, "latest epoch 3");

    expect_end(&ec, 0, 30, 0, 10);
    expect_end(&ec, 1, 30, 1, 20);
    expect_end(&ec, 2, 30, 1, 20); /* epoch 2 never led here: ends where 3 began */
    expect_end(&ec, 3, 30, 3, 30); /* latest: the log end offset */
    expect_end(&ec, 4, 30, -1, -1);
    expect_end(&ec, RN_EPOCH_UNDEFINED, 30, -1, -1);

    is(rn_epochs_epoch_for_offset(&ec, 0), 0, "offset 0 in epoch 0");
    is(rn_epochs_epoch_for_offset(&ec, 9), 0, "offset 9 in epoch 0");
    is(rn_epochs_epoch_for_offset(&ec, 10), 1, "offset 10 in epoch 1");
    is(rn_epochs_epoch_for_offset(&ec, 19), 1, "offset 19 in epoch 1");
    is(rn_epochs_epoch_for_offset(&ec, 20), 3, "offset 20 in epoch 3");
    is(rn_epochs_epoch_for_offset(&ec, 1000000), 3, "far offset in latest epoch");
    is(rn_epochs_epoch_for_offset(&ec, -1), RN_EPOCH_UNDEFINED, "before the first entry");

    is(rn_epochs_assign(&ec, 3, 15), 1, "latest epoch at an earlier start: replaced");
    is_str(show(&ec), "0@0 1@10 3@15", "3@20 became 3@15");
    is(rn_epochs_assign(&ec, 2, 12), 1, "lower epoch than the latest");
    is_str(show(&ec), "0@0 1@10 2@12", "entries with epoch >= 2 dropped");
    is(rn_epochs_assign(&ec, 5, 10), 1, "new epoch starting at an existing start");
    is_str(show(&ec), "0@0 5@10", "entries starting at or after 10 dropped");
    is(rn_epochs_assign(&ec, 7, 0), 1, "new epoch at offset 0");
    is_str(show(&ec), "7@0", "everything else dropped");

    is(rn_epochs_assign(&ec, -1, 0), RN_EINVAL, "negative epoch refused");
    is(rn_epochs_assign(&ec, 8, -1), RN_EINVAL, "negative offset refused");
    is_str(show(&ec), "7@0", "refused assigns change nothing");
    rn_epochs_destroy(&ec);
    is(ec.count, 0, "destroy empties");
}

static void test_truncation(void)
{
    rn_epochs_t ec = {0};
    rn_epochs_assign(&ec, 0, 0);
    rn_epochs_assign(&ec, 1, 10);
    rn_epochs_assign(&ec, 3, 20);

    ok(!rn_epochs_truncate_from_end(&ec, 100), "truncate end past all starts: no change");
    ok(!rn_epochs_truncate_from_end(&ec, -1), "truncate end at -1: no change");
    ok(!rn_epochs_truncate_from_end(&ec, 21), "truncate end inside the last epoch: no change");
    ok(rn_epochs_truncate_from_end(&ec, 20), "truncate end at 20");
    is_str(show(&ec), "0@0 1@10", "epoch starting at 20 removed");
    ok(rn_epochs_truncate_from_end(&ec, 5), "truncate end at 5");
    is_str(show(&ec), "0@0", "only epoch 0 left");
    rn_epochs_assign(&ec, 1, 10);
    rn_epochs_assign(&ec, 3, 20);

    ok(!rn_epochs_truncate_from_start(&ec, 0), "start at 0: no change");
    ok(!rn_epochs_truncate_from_start(&ec, -3), "negative start: no change");
    ok(rn_epochs_truncate_from_start(&ec, 5), "start moves to 5");
    is_str(show(&ec), "0@5 1@10 3@20", "first entry re-based");
    ok(!rn_epochs_truncate_from_start(&ec, 5), "same start again: no change");
    ok(rn_epochs_truncate_from_start(&ec, 15), "start moves to 15");
    is_str(show(&ec), "1@15 3@20", "epoch 0 gone, epoch 1 re-based");
    ok(rn_epochs_truncate_from_start(&ec, 20), "start moves to 20 (exactly an epoch start)");
    is_str(show(&ec), "3@20", "epoch 1 gone");
    ok(rn_epochs_truncate_from_start(&ec, 25), "start moves inside the last epoch");
    is_str(show(&ec), "3@25", "last entry re-based");

    /* A follower asking for an epoch older than anything left gets the first start. */
    rn_epochs_assign(&ec, 5, 30);
    expect_end(&ec, 1, 40, 1, 25);
    expect_end(&ec, 4, 40, 3, 30);
    rn_epochs_destroy(&ec);
}

static int parse_str(rn_epochs_t *ec, const char *s)
{
    err[0] = '\0';
    return rn_epochs_parse(ec, "lec", (const uint8_t *)s, strlen(s), err, sizeof(err));
}

static void test_file(const char *dir)
{
    rn_epochs_t ec = {0};
    rn_epochs_assign(&ec, 0, 0);
    rn_epochs_assign(&ec, 1, 10);
    rn_epochs_assign(&ec, 2147483647, 9223372036854775807LL);
    char *out;
    size_t len;
    rn_epochs_format(&ec, &out, &len);
    is_str(out, "0\n3\n0 0\n1 10\n2147483647 9223372036854775807\n", "exact bytes");
    is(len, strlen(out), "length");
    rn_free(out);

    is(rn_epochs_save(&ec, dir, err, sizeof(err)), 0, "save");
    rn_epochs_t back = {0};
    rn_epochs_assign(&back, 9, 99); /* load replaces existing contents */
    is(rn_epochs_load(&back, dir, err, sizeof(err)), 0, "load");
    is_str(show(&back), "0@0 1@10 2147483647@9223372036854775807", "round trip");
    rn_epochs_destroy(&back);

    char missing[512];
    snprintf(missing, sizeof(missing), "%s/none", dir);
    rn_epochs_assign(&back, 9, 99);
    is(rn_epochs_load(&back, missing, err, sizeof(err)), 0, "missing file");
    is(back.count, 0, "missing file gives an empty cache");

    is(parse_str(&back, ""), 0, "empty file");
    is(parse_str(&back, "0\n"), 0, "version only");
    is(parse_str(&back, "0\n0\n"), 0, "no entries");
    is(parse_str(&back, "0\n3\n0 0\n2 10\n1 5\n"), 0, "non-monotonic file loads");
    is_str(show(&back), "0@0 1@5", "conflicting entry dropped as Kafka does");
    is(parse_str(&back, "0\n1\n4 7"), 0, "no final newline");
    is_str(show(&back), "4@7", "entry");

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"1\n0\n", "lec:1:"},
        {"0\n1\n0 0 0\n", "lec:3:"},
        {"0\n1\n0\n", "lec:3:"},
        {"0\n1\n-1 0\n", "invalid leader epoch"},
        {"0\n1\n0 -5\n", "invalid start offset"},
        {"0\n1\n2147483648 0\n", "invalid leader epoch"},
        {"0\n2\n0 0\n", "promises 2"},
        {"0\n1\n0 0\n1 1\n", "lec:4:"},
        {"0\nx\n", "lec:2:"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rn_epochs_assign(&back, 0, 0);
        int rc = parse_str(&back, bad[i].text);
        ok(rc == RN_ECORRUPT && strstr(err, bad[i].msg) != NULL && back.count == 0,
           "reject case %zu (%s): %s", i, bad[i].msg, err);
    }
    rn_epochs_destroy(&back);
    rn_epochs_destroy(&ec);
}

int main(void)
{
    test_assign_and_lookup();
    test_truncation();
    char dir[256];
    tu_tmpdir(dir, "epochs");
    test_file(dir);
    tu_rmtree(dir);
    return done_testing();
}
