/* rn_datadir: meta.properties parse/format (exact bytes, a file as Kafka writes it),
 * creation and re-open, node/cluster id mismatch, the lock (second open in this process and
 * from another process), the clean-shutdown marker, partition directory listing. */
#include "rn_alloc.h"
#include "rn_datadir.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "tap.h"
#include "unit/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char base[256];
static char err[512];

static const char *tpath(const char *rel)
{
    return tu_path(base, rel);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int meta_parse_str(const char *s, rn_datadir_meta_t *meta)
{
    err[0] = '\0';
    return rn_datadir_meta_parse("meta.properties", (const uint8_t *)s, strlen(s), meta, err,
                                 sizeof(err));
}

static void test_meta(void)
{
    /* As Kafka 3.7 writes it with Properties.store: comment, date comment, any key order. */
    const char *kafka = "#\n#Mon Nov 23 13:50:01 UTC 2026\nnode.id=3\n"
                        "directory.id=b8tRS7h4TJ2Vt43Dp85v2A\nversion=1\n"
                        "cluster.id=MkU3OEVBNTcwNTJENDM2Qg\n";
    rn_datadir_meta_t meta;
    is(meta_parse_str(kafka, &meta), 0, "parse Kafka-written meta.properties");
    is(meta.version, 1, "version");
    is(meta.node_id, 3, "node.id");
    ok(meta.has_directory_id, "has directory.id");
    char b64[RN_UUID_BASE64_LEN + 1];
    rn_uuid_to_base64(&meta.cluster_id, b64);
    is_str(b64, "MkU3OEVBNTcwNTJENDM2Qg", "cluster.id");
    rn_uuid_to_base64(&meta.directory_id, b64);
    is_str(b64, "b8tRS7h4TJ2Vt43Dp85v2A", "directory.id");

    char *out;
    size_t len;
    rn_datadir_meta_format(&meta, &out, &len);
    const char *want = "#Written by runnel\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n"
                       "directory.id=b8tRS7h4TJ2Vt43Dp85v2A\nnode.id=3\nversion=1\n";
    is_str(out, want, "exact bytes written");
    is(len, strlen(want), "length");
    rn_datadir_meta_t again;
    is(rn_datadir_meta_parse("m", (const uint8_t *)out, len, &again, err, sizeof(err)), 0,
       "own output parses");
    ok(memcmp(&again, &meta, sizeof(meta)) == 0, "round trip");
    rn_free(out);
    meta.has_directory_id = false;
    rn_datadir_meta_format(&meta, &out, &len);
    is_str(out, "#Written by runnel\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\nnode.id=3\nversion=1\n",
           "without directory.id");
    rn_free(out);

    is(meta_parse_str("! bang comment\n  \n  version : 1\nnode.id 7\r\n"
                      "cluster.id:MkU3OEVBNTcwNTJENDM2Qg\nunknown.key=whatever\n",
                      &meta),
       0, "separators ':', ' ', '=', blanks, CRLF, unknown keys");
    is(meta.node_id, 7, "node.id via blank separator");
    ok(!meta.has_directory_id, "no directory.id");

    is(meta_parse_str("version=0\nbroker.id=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n", &meta),
       RN_EUNSUPPORTED, "version 0 (ZooKeeper mode)");
    ok(strstr(err, "ZooKeeper") != NULL, "message says ZooKeeper: %s", err);
    is(meta_parse_str("version=2\nnode.id=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n", &meta),
       RN_EUNSUPPORTED, "version 2");
    is(meta_parse_str("node.id=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n", &meta), RN_ECORRUPT,
       "no version");
    is(meta_parse_str("version=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n", &meta), RN_ECORRUPT,
       "no node.id");
    ok(strstr(err, "node.id") != NULL, "message names node.id: %s", err);
    is(meta_parse_str("version=1\nnode.id=1\n", &meta), RN_ECORRUPT, "no cluster.id");
    is(meta_parse_str("version=1\nnode.id=x\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n", &meta),
       RN_ECORRUPT, "non-numeric node.id");
    ok(strstr(err, "meta.properties:2:") != NULL, "message has file:line: %s", err);
    is(meta_parse_str("version=1\nnode.id=-1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n", &meta),
       RN_ECORRUPT, "negative node.id");
    is(meta_parse_str("version=1\nnode.id=1 \ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n", &meta),
       RN_ECORRUPT, "trailing blank in a value (Java keeps it, so Kafka fails too)");
    is(meta_parse_str("version=1\nnode.id=1\ncluster.id=not-a-uuid\n", &meta), RN_ECORRUPT,
       "bad cluster.id");
    is(meta_parse_str("version=1\nnode.id=1\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n"
                      "directory.id=zz\n",
                      &meta),
       RN_ECORRUPT, "bad directory.id");
    is(meta_parse_str("version=1\nnode.id=1\ncluster.id=Mk\\\n U3OEVBNTcwNTJENDM2Qg\n", &meta),
       RN_ECORRUPT, "backslash continuation refused");
}

static void test_open_create_reopen(void)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", tpath("d1/nested"));
    rn_datadir_t *dd;
    is(rn_datadir_open(dir, 1, NULL, &dd, err, sizeof(err)), 0, "open creates missing dirs");
    ok(exists(tpath("d1/nested/meta.properties")), "meta.properties created");
    ok(exists(tpath("d1/nested/.lock")), ".lock created");
    ok(!rn_datadir_was_clean_shutdown(dd), "first start is not a clean restart");
    const rn_datadir_meta_t *meta = rn_datadir_meta(dd);
    is(meta->node_id, 1, "node id");
    ok(meta->has_directory_id && !rn_uuid_is_zero(&meta->cluster_id), "ids generated");
    rn_uuid_t cluster = meta->cluster_id, directory = meta->directory_id;
    is_str(rn_datadir_path(dd), dir, "path");

    rn_datadir_t *second;
    is(rn_datadir_open(dir, 1, NULL, &second, err, sizeof(err)), RN_ELOCKED,
       "second open in the same process fails");
    ok(second == NULL, "no handle on failure");
    ok(strstr(err, dir) != NULL && strstr(err, "another runneld") != NULL,
       "message names the dir and another runneld: %s", err);

    /* Another process. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        rn_datadir_t *child;
        int rc = rn_datadir_open(dir, 1, NULL, &child, NULL, 0);
        _exit(rc == RN_ELOCKED ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "open from another process is RN_ELOCKED");

    is(rn_datadir_close(dd, true, err, sizeof(err)), 0, "clean close");
    ok(exists(tpath("d1/nested/.kafka_cleanshutdown")), "clean-shutdown marker written");

    is(rn_datadir_open(dir, 1, NULL, &dd, err, sizeof(err)), 0, "reopen after close");
    ok(rn_datadir_was_clean_shutdown(dd), "previous stop was clean");
    ok(!exists(tpath("d1/nested/.kafka_cleanshutdown")), "marker removed at open");
    ok(rn_uuid_equal(&rn_datadir_meta(dd)->cluster_id, &cluster) &&
           rn_uuid_equal(&rn_datadir_meta(dd)->directory_id, &directory),
       "ids kept across restarts");
    is(rn_datadir_close(dd, false, err, sizeof(err)), 0, "unclean close");
    ok(!exists(tpath("d1/nested/.kafka_cleanshutdown")), "no marker after unclean close");

    is(rn_datadir_open(dir, 1, &cluster, &dd, err, sizeof(err)), 0, "reopen with the same id");
    ok(!rn_datadir_was_clean_shutdown(dd), "previous stop was not clean");
    rn_datadir_close(dd, false, NULL, 0);

    is(rn_datadir_open(dir, 2, NULL, &dd, err, sizeof(err)), RN_EINVAL, "node.id mismatch");
    ok(strstr(err, "node.id=1") != NULL && strstr(err, "node.id=2") != NULL &&
           strstr(err, "meta.properties") != NULL,
       "message names both ids and the file: %s", err);

    rn_uuid_t other;
    rn_uuid_random(&other);
    is(rn_datadir_open(dir, 1, &other, &dd, err, sizeof(err)), RN_EINVAL, "cluster.id mismatch");
    ok(strstr(err, "cluster") != NULL, "message: %s", err);

    /* A given cluster id is used for a new directory; a missing directory.id is added. */
    is(rn_datadir_open(tpath("d2"), 5, &other, &dd, err, sizeof(err)), 0, "new dir, given id");
    ok(rn_uuid_equal(&rn_datadir_meta(dd)->cluster_id, &other), "given cluster id used");
    rn_datadir_close(dd, true, NULL, 0);
    const char *old = "version=1\nnode.id=5\ncluster.id=MkU3OEVBNTcwNTJENDM2Qg\n";
    rn_fsutil_write_atomic(tpath("d2/meta.properties"), old, strlen(old), NULL, 0);
    is(rn_datadir_open(tpath("d2"), 5, NULL, &dd, err, sizeof(err)), 0, "open pre-3.7 dir");
    ok(rn_datadir_meta(dd)->has_directory_id, "directory.id generated");
    rn_datadir_close(dd, false, NULL, 0);
    rn_datadir_meta_t meta2;
    uint8_t *buf;
    size_t len;
    rn_fsutil_read_file(tpath("d2/meta.properties"), 4096, &buf, &len, NULL, 0);
    ok(rn_datadir_meta_parse("m", buf, len, &meta2, NULL, 0) == 0 && meta2.has_directory_id,
       "directory.id written back");
    rn_free(buf);

    rn_fsutil_write_atomic(tpath("d2/meta.properties"), "garbage\n", 8, NULL, 0);
    is(rn_datadir_open(tpath("d2"), 5, NULL, &dd, err, sizeof(err)), RN_ECORRUPT,
       "corrupt meta.properties");
    rn_fsutil_write_atomic(tpath("d2/meta.properties"), old, strlen(old), NULL, 0);
    is(rn_datadir_open(tpath("d2"), 5, NULL, &dd, err, sizeof(err)), 0,
       "lock released after a failed open");
    rn_datadir_close(dd, false, NULL, 0);

    rn_fsutil_write_atomic(tpath("afile"), "x", 1, NULL, 0);
    is(rn_datadir_open(tpath("afile"), 1, NULL, &dd, err, sizeof(err)), RN_EEXIST,
       "path is a file");
    is(rn_datadir_open(tpath("d3"), -1, NULL, &dd, err, sizeof(err)), RN_EINVAL,
       "negative node id");
}

static void test_partition_names(void)
{
    char topic[RN_DATADIR_TOPIC_MAX + 1];
    int32_t partition = -5;
    is(rn_datadir_parse_partition_dir("orders-0", topic, sizeof(topic), &partition), 0, "orders-0");
    ok(strcmp(topic, "orders") == 0 && partition == 0, "topic and partition");
    is(rn_datadir_parse_partition_dir("my-topic-name-12", topic, sizeof(topic), &partition), 0,
       "topic with dashes");
    ok(strcmp(topic, "my-topic-name") == 0 && partition == 12, "split at the last dash");
    is(rn_datadir_parse_partition_dir("a.b_c-2147483647", topic, sizeof(topic), &partition), 0,
       "max partition");
    is(partition, 2147483647, "value");
    is(rn_datadir_parse_partition_dir("__consumer_offsets-49", topic, sizeof(topic), &partition), 0,
       "internal topic");
    static const char *const bad[] = {
        "orders",
        "orders-",
        "-0",
        "orders-01",
        "orders-x",
        "orders-2147483648",
        "orders-0.abcdef0123-delete",
        "orders-0.abc-future",
        "orders-0-stray",
        "bad/name-0",
        "..-0",
        "orders-1 ",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        is(rn_datadir_parse_partition_dir(bad[i], topic, sizeof(topic), &partition), RN_EINVAL,
           "reject \"%s\"", bad[i]);
    char small[4];
    is(rn_datadir_parse_partition_dir("orders-0", small, sizeof(small), &partition), RN_EINVAL,
       "topic buffer too small");
    ok(rn_datadir_topic_valid("a.B_9-z", 7) && !rn_datadir_topic_valid("a b", 3) &&
           !rn_datadir_topic_valid("", 0) && !rn_datadir_topic_valid(".", 1),
       "topic validity");
}

static void test_listing(void)
{
    rn_datadir_t *dd;
    is(rn_datadir_open(tpath("d4"), 1, NULL, &dd, err, sizeof(err)), 0, "open d4");
    static const char *const dirs[] = {
        "orders-1",
        "orders-0",
        "orders-10",
        "my-topic-2",
        "__consumer_offsets-3",
        "orders-0.0123456789abcdef0123456789abcdef-delete",
        "orders-1.abc-future",
        "lost+found",
        ".hidden-0",
    };
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", rn_datadir_path(dd), dirs[i]);
        mkdir(p, 0755);
    }
    rn_fsutil_write_atomic(tpath("d4/notadir-0"), "x", 1, NULL, 0);
    rn_datadir_part_t *parts;
    size_t count;
    is(rn_datadir_list_partitions(dd, &parts, &count, err, sizeof(err)), 0, "list");
    is(count, 5, "five partition dirs");
    static const char *const want[] = {"__consumer_offsets-3", "my-topic-2", "orders-0", "orders-1",
                                       "orders-10"};
    int order_ok = count == 5;
    for (size_t i = 0; order_ok && i < count; i++)
        order_ok = strcmp(parts[i].name, want[i]) == 0;
    ok(order_ok, "sorted by topic then partition number");
    if (count == 5) {
        is_str(parts[1].topic, "my-topic", "topic of my-topic-2");
        is(parts[4].partition, 10, "partition of orders-10");
    }
    rn_datadir_parts_free(parts, count);

    char path[600];
    is(rn_datadir_partition_path(dd, "orders", 7, path, sizeof(path)), 0, "partition path");
    char expect[600];
    snprintf(expect, sizeof(expect), "%s/orders-7", tpath("d4"));
    is_str(path, expect, "path value");
    is(rn_datadir_partition_path(dd, "orders", 7, path, 10), RN_ETOOBIG, "small buffer");
    is(rn_datadir_partition_path(dd, "or ders", 7, path, sizeof(path)), RN_EINVAL, "bad topic");
    rn_datadir_close(dd, false, NULL, 0);
}

int main(void)
{
    tu_tmpdir(base, "datadir");
    test_meta();
    test_open_create_reopen();
    test_partition_names();
    test_listing();
    tu_rmtree(base);
    return done_testing();
}
