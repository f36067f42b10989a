/* rn_checkpoint: exact bytes, round trips, Kafka's lenient cases, strict rejection with
 * file:line messages. */
#include "rn_alloc.h"
#include "rn_checkpoint.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "tap.h"
#include "unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

static int parse_str(const char *s, rn_checkpoint_t *cp)
{
    err[0] = '\0';
    return rn_checkpoint_parse("cp", (const uint8_t *)s, strlen(s), cp, err, sizeof(err));
}

static void expect_corrupt(const char *s, const char *msg_part, const char *label)
{
    rn_checkpoint_t cp;
    int rc = parse_str(s, &cp);
    is(rc, RN_ECORRUPT, "rejects %s", label);
    ok(strstr(err, msg_part) != NULL, "message for %s mentions \"%s\": %s", label, msg_part, err);
    ok(cp.count == 0 && cp.entries == NULL, "no entries left after %s", label);
}

static void test_format_exact(void)
{
    rn_checkpoint_entry_t entries[] = {
        {"orders", 0, 1200},
        {"__consumer_offsets", 49, 0},
        {"my.topic_v2-x", 2147483647, 9223372036854775807LL},
    };
    char *out;
    size_t len;
    is(rn_checkpoint_format(entries, 3, &out, &len, err, sizeof(err)), 0, "format");
    const char *want = "0\n3\norders 0 1200\n__consumer_offsets 49 0\n"
                       "my.topic_v2-x 2147483647 9223372036854775807\n";
    is_str(out, want, "exact bytes Kafka writes");
    is(len, strlen(want), "length");
    rn_free(out);

    is(rn_checkpoint_format(NULL, 0, &out, &len, err, sizeof(err)), 0, "format empty");
    is_str(out, "0\n0\n", "empty checkpoint bytes");
    rn_free(out);

    rn_checkpoint_entry_t bad[] = {{"has space", 0, 1}};
    is(rn_checkpoint_format(bad, 1, &out, &len, err, sizeof(err)), RN_EINVAL,
       "topic with a space refused");
    ok(out == NULL && strstr(err, "has space") != NULL, "message names the topic: %s", err);
    rn_checkpoint_entry_t neg[] = {{"t", -1, 1}};
    is(rn_checkpoint_format(neg, 1, &out, &len, err, sizeof(err)), RN_EINVAL,
       "negative partition refused");
}

static void test_parse(void)
{
    rn_checkpoint_t cp;
    is(parse_str("0\n2\norders 0 1200\nmy.topic-1 3 -1\n", &cp), 0, "parse two entries");
    is(cp.count, 2, "two entries");
    is_str(cp.entries[0].topic, "orders", "topic 0");
    is(cp.entries[0].partition, 0, "partition 0");
    is(cp.entries[0].offset, 1200, "offset 0");
    is_str(cp.entries[1].topic, "my.topic-1", "topic with dot and dash");
    is(cp.entries[1].offset, -1, "negative offset parses (Kafka's parseLong does)");
    ok(rn_checkpoint_find(&cp, "orders", 0) == &cp.entries[0], "find orders-0");
    ok(rn_checkpoint_find(&cp, "orders", 1) == NULL, "orders-1 absent");
    rn_checkpoint_free(&cp);
    is(cp.count, 0, "free resets");
    rn_checkpoint_free(&cp);

    is(parse_str("0\n1\nt\t 5   7  \r\n", &cp), 0, "tabs, runs of spaces, trailing blanks, CRLF");
    ok(cp.count == 1 && cp.entries[0].partition == 5 && cp.entries[0].offset == 7, "values");
    rn_checkpoint_free(&cp);
    is(parse_str("0\n1\nt 5 7", &cp), 0, "last line without newline");
    rn_checkpoint_free(&cp);
    is(parse_str("", &cp), 0, "empty file is zero entries");
    is(cp.count, 0, "no entries");
    is(parse_str("0\n", &cp), 0, "version-only file is zero entries");
    is(parse_str("0\n0\n", &cp), 0, "zero count");
    is(parse_str("0\n2\nt 0 1\nt 0 2\n", &cp), 0, "duplicates accepted");
    is(rn_checkpoint_find(&cp, "t", 0)->offset, 2, "last duplicate wins");
    rn_checkpoint_free(&cp);

    expect_corrupt("1\n0\n", "cp:1:", "version 1");
    expect_corrupt("x\n0\n", "version", "non-numeric version");
    expect_corrupt(" 0\n0\n", "cp:1:", "version with leading blank");
    expect_corrupt("0\n-1\n", "cp:2:", "negative count");
    expect_corrupt("0\n1x\n", "number of entries", "garbage count");
    expect_corrupt("0\n2\nt 0 1\n", "promises 2 entries but has 1", "too few lines");
    expect_corrupt("0\n1\nt 0 1\nt 1 1\n", "cp:4:", "too many lines");
    expect_corrupt("0\n1\nt 0\n", "cp:3:", "two fields");
    expect_corrupt("0\n1\nt 0 1 2\n", "cp:3:", "four fields");
    expect_corrupt("0\n1\n t 0 1\n", "cp:3:", "leading blank");
    expect_corrupt("0\n1\nt/x 0 1\n", "invalid topic", "slash in topic");
    expect_corrupt("0\n1\n.. 0 1\n", "invalid topic", "topic \"..\"");
    expect_corrupt("0\n1\nt -1 1\n", "invalid partition", "negative partition");
    expect_corrupt("0\n1\nt 2147483648 1\n", "invalid partition", "partition over int32");
    expect_corrupt("0\n1\nt 0 9223372036854775808\n", "invalid offset", "offset over int64");
    expect_corrupt("0\n1\nt 0 +5\n", "invalid offset", "plus sign");
    expect_corrupt("0\n1\nt 0 5\n\n", "cp:4:", "trailing empty line");
    expect_corrupt("0\n1\nt 0 \x01\xff\"\n", "\\x01\\xff\\x22", "binary shown escaped");

    /* A NUL byte inside a line is not a terminator. */
    static const char with_nul[] = "0\n1\nt\0 0 1\n";
    rn_checkpoint_t cp2;
    is(rn_checkpoint_parse("cp", (const uint8_t *)with_nul, sizeof(with_nul) - 1, &cp2, err,
                           sizeof(err)),
       RN_ECORRUPT, "NUL inside a topic");

    char long_topic[300];
    memset(long_topic, 'a', sizeof(long_topic));
    char buf[400];
    snprintf(buf, sizeof(buf), "0\n1\n%.249s 0 1\n", long_topic);
    is(parse_str(buf, &cp), 0, "249-byte topic accepted");
    rn_checkpoint_free(&cp);
    snprintf(buf, sizeof(buf), "0\n1\n%.250s 0 1\n", long_topic);
    is(parse_str(buf, &cp), RN_ECORRUPT, "250-byte topic rejected");
}

static void test_files(const char *dir)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, RN_CHECKPOINT_RECOVERY_POINT);
    rn_checkpoint_t cp;
    is(rn_checkpoint_load(path, &cp, err, sizeof(err)), 0, "missing file loads empty");
    is(cp.count, 0, "no entries");

    /* Round trip 1000 entries with varied topics and extreme values. */
    enum { N = 1000 };
    rn_checkpoint_entry_t *entries = rn_xcalloc(N, sizeof(*entries));
    char names[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "topic.%d_x-%d", i % 37, i);
        entries[i].topic = names[i];
        entries[i].partition = i * 7919 % 100000;
        entries[i].offset =
            (int64_t)i * 1000003LL * (i % 2 ? 1 : -1) + (i == 5 ? INT64_MAX - 5 * 1000003LL : 0);
    }
    is(rn_checkpoint_save(path, entries, N, err, sizeof(err)), 0, "save 1000 entries");
    is(rn_checkpoint_load(path, &cp, err, sizeof(err)), 0, "load them back");
    int same = cp.count == N;
    for (int i = 0; same && i < N; i++)
        same = strcmp(cp.entries[i].topic, entries[i].topic) == 0 &&
               cp.entries[i].partition == entries[i].partition &&
               cp.entries[i].offset == entries[i].offset;
    ok(same, "round trip preserves every entry in order");
    rn_checkpoint_free(&cp);
    rn_free(entries);

    rn_fsutil_write_atomic(path, "0\n1\nbad line here\n", 18, NULL, 0);
    is(rn_checkpoint_load(path, &cp, err, sizeof(err)), RN_ECORRUPT, "corrupt file");
    ok(strstr(err, path) != NULL && strstr(err, ":3:") != NULL,
       "message names the path and line 3: %s", err);
}

int main(void)
{
    test_format_exact();
    test_parse();
    char dir[256];
    tu_tmpdir(dir, "checkpoint");
    test_files(dir);
    tu_rmtree(dir);
    return done_testing();
}
