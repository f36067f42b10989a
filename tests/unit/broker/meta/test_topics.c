/* Tests for rn_topics and rn_topicconf: Kafka's topic name rules and collisions, lookup by
 * name and id, replica assignment, persistence of topics, partitions and config overrides
 * through the offload thread (and reload), directory creation and removal, partitions ready
 * only once persisted (also after a commit answered early or a failed persist), corrupt registry
 * files named with their line, and topic config values, sources and synonyms. */
#include "rn_alloc.h"
#include "rn_err.h"
#include "meta/rn_topics.h"
#include "tap.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/rn_test_topics.XXXXXX";
static struct event_base *base;
static rn_logmgr_t *logmgr; /* owns the data dir the topics' partition directories live in */
static int persist_rc = 99;

static void on_persisted(void *arg, int rc)
{
    persist_rc = rc;
    event_base_loopbreak(base);
}

/* Persist and wait for the job on the loop. */
static int persist(rn_topics_t *topics, rn_offload_t *off)
{
    persist_rc = 99;
    rn_topics_persist(topics, off, on_persisted, NULL);
    event_base_dispatch(base);
    return persist_rc;
}

static bool exists(const char *name)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static void write_registry(const char *text)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, RN_TOPICS_FILE);
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
}

static int removed_calls, changed_calls;

static void on_removed(rn_partition_t *part, void *arg)
{
    removed_calls++;
}

static void on_changed(rn_topic_t *topic, void *arg)
{
    changed_calls++;
}

static void test_names(void)
{
    char err[400], long_name[300];
    ok(rn_topics_valid_name("orders", 6, err, sizeof(err)) == 0, "plain name ok");
    ok(rn_topics_valid_name("a.B_c-9", 7, err, sizeof(err)) == 0, "all allowed characters");
    is(rn_topics_valid_name("", 0, err, sizeof(err)), RN_EINVAL, "empty refused");
    is_str(err, "Topic name is illegal, it can't be empty", "Kafka's message");
    is(rn_topics_valid_name(".", 1, err, sizeof(err)), RN_EINVAL, "\".\" refused");
    is(rn_topics_valid_name("..", 2, err, sizeof(err)), RN_EINVAL, "\"..\" refused");
    ok(rn_topics_valid_name("...", 3, err, sizeof(err)) == 0, "\"...\" is legal");
    memset(long_name, 'x', sizeof(long_name));
    ok(rn_topics_valid_name(long_name, 249, err, sizeof(err)) == 0, "249 chars ok");
    is(rn_topics_valid_name(long_name, 250, err, sizeof(err)), RN_EINVAL, "250 chars refused");
    is(rn_topics_valid_name("a b", 3, err, sizeof(err)), RN_EINVAL, "space refused");
    ok(strstr(err, "other than ASCII alphanumerics") != NULL, "message: %s", err);
    is(rn_topics_valid_name("caf\xc3\xa9", 5, err, sizeof(err)), RN_EINVAL, "non-ASCII refused");
    is(rn_topics_valid_name("a/b", 3, err, sizeof(err)), RN_EINVAL, "slash refused");
}

static void test_lifecycle(rn_offload_t *off)
{
    rn_config_t cfg;
    rn_config_init(&cfg);
    char err[512];
    rn_topics_t *topics = rn_topics_new(&cfg, logmgr, 1);
    rn_topics_hooks_t hooks = {.partition_removed = on_removed, .config_changed = on_changed};
    rn_topics_set_hooks(topics, &hooks);
    is(rn_topics_load(topics, err, sizeof(err)), 0, "empty data dir loads");
    is(rn_topics_count(topics), 0, "no topics");

    ok(rn_topics_check_new(topics, "orders", 6, err, sizeof(err)) == 0, "orders is new");
    rn_topicconf_t conf = {0};
    rn_tc_key_t key;
    is(rn_topicconf_check("retention.ms", 12, "86400000", &key, err, sizeof(err)), 0,
       "retention.ms valid");
    rn_topicconf_set(&conf, key, "86400000");
    is(rn_topicconf_check("cleanup.policy", 14, "compact,DELETE", &key, err, sizeof(err)), 0,
       "list policy valid");
    rn_topicconf_set(&conf, key, "compact,delete");
    rn_topic_t *orders = rn_topics_create(topics, "orders", 6, 3, 1, &conf);
    rn_topicconf_free(&conf);
    ok(orders != NULL && !orders->ready, "created, not ready before persist");
    rn_topics_create(topics, "a.b", 3, 1, 1, NULL);
    is(rn_topics_check_new(topics, "orders", 6, err, sizeof(err)), RN_EEXIST, "exists");
    is(rn_topics_check_new(topics, "a_b", 3, err, sizeof(err)), RN_EINVAL, "a_b collides");
    ok(strstr(err, "collides with existing topic: a.b") != NULL, "collision message: %s", err);
    ok(rn_topics_find(topics, "orders", 6) == orders, "find by name");
    ok(rn_topics_find_id(topics, &orders->id) == orders, "find by id");
    ok(rn_topics_find(topics, "order", 5) == NULL, "prefix is not a match");
    is(orders->n_partitions, 3, "three partitions");
    rn_partition_t *p2 = rn_topic_partition(orders, 2);
    ok(p2 != NULL && p2->index == 2 && p2->leader_id == 1 && p2->n_replicas == 1 &&
           p2->replicas[0] == 1 && p2->n_isr == 1,
       "partition 2: leader 1, replicas [1], isr [1]");
    ok(rn_topic_partition(orders, 3) == NULL, "partition 3 out of range");
    is_str(rn_topics_at(topics, 0)->name, "a.b", "name order");

    is(persist(topics, off), 0, "persist ok");
    ok(orders->ready, "ready after persist");
    ok(orders->partitions[0]->ready && orders->partitions[2]->ready, "so are its partitions");
    ok(exists("orders-0") && exists("orders-2") && exists("a.b-0"), "partition dirs created");
    ok(exists("orders-1/partition.metadata"), "with partition.metadata");
    ok(exists(RN_TOPICS_FILE), "registry written");

    rn_topics_add_partitions(topics, orders, 5);
    ok(p2 == rn_topic_partition(orders, 2), "existing partition structs do not move");
    rn_topicconf_set(&orders->conf, RN_TC_MAX_MESSAGE_BYTES, "2000000");
    rn_topicconf_set(&orders->conf, RN_TC_FOLLOWER_REPLICATION_THROTTLED_REPLICAS, "");
    rn_topics_config_changed(topics, orders);
    is(changed_calls, 1, "config_changed hook called");
    rn_topic_t *gone = rn_topics_find(topics, "a.b", 3);
    rn_uuid_t gone_id = gone->id;
    rn_topics_delete(topics, gone);
    ok(gone->deleted && rn_topics_find(topics, "a.b", 3) == NULL &&
           rn_topics_find_id(topics, &gone_id) == NULL,
       "deleted topic leaves both indexes at once");
    is(removed_calls, 1, "partition_removed hook called for its one partition");
    /* created and deleted before any persist: no directory may be left behind */
    rn_topic_t *brief = rn_topics_create(topics, "brief", 5, 2, 1, NULL);
    rn_topics_delete(topics, brief);
    is(persist(topics, off), 0, "second persist ok");
    ok(exists("orders-4") && !exists("a.b-0") && !exists("brief-0"),
       "new partition dirs made, deleted topic's removed");
    is(rn_topics_count(topics), 1, "one topic left");
    rn_uuid_t orders_id = orders->id;
    rn_topics_free(topics);

    /* Reload from disk. */
    topics = rn_topics_new(&cfg, logmgr, 1);
    is(rn_topics_load(topics, err, sizeof(err)), 0, "reload: %s", err);
    orders = rn_topics_find(topics, "orders", 6);
    ok(orders != NULL && orders->ready, "orders back and ready");
    ok(orders != NULL && memcmp(orders->id.bytes, orders_id.bytes, 16) == 0, "same topic id");
    is(orders ? orders->n_partitions : 0, 5, "five partitions");
    is_str(orders ? orders->conf.v[RN_TC_RETENTION_MS] : NULL, "86400000", "retention.ms kept");
    is_str(orders ? orders->conf.v[RN_TC_CLEANUP_POLICY] : NULL, "compact,delete",
           "list value kept");
    is_str(orders ? orders->conf.v[RN_TC_MAX_MESSAGE_BYTES] : NULL, "2000000",
           "later override kept");
    is_str(orders ? orders->conf.v[RN_TC_FOLLOWER_REPLICATION_THROTTLED_REPLICAS] : NULL, "",
           "empty value round-trips");
    ok(rn_topics_find(topics, "a.b", 3) == NULL, "deleted topic stays deleted");
    rn_topics_free(topics);
    rn_config_free(&cfg);
}

/* A committer standing in for the metadata quorum: notes how it was asked and reports the
 * change committed at once; the test persists by hand, as rn_cluster does afterwards. */
static int commit_calls, commit_on_commit = -1, committed_rc = 99;

static void fake_commit(void *carg, rn_topics_t *topics, bool on_commit,
                        void (*done)(void *arg, int rc), void *arg)
{
    (void)carg;
    (void)topics;
    commit_calls++;
    commit_on_commit = on_commit;
    done(arg, 0);
}

static void on_committed(void *arg, int rc)
{
    (void)arg;
    committed_rc = rc;
}

/* A regular file where a partition directory must go makes the persist job fail. */
static void block_dir(const char *name, bool on)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (on) {
        FILE *fp = fopen(path, "w");
        if (fp != NULL)
            fclose(fp);
    } else {
        unlink(path);
    }
}

static void test_commit_then_persist(rn_offload_t *off)
{
    rn_config_t cfg;
    rn_config_init(&cfg);
    char err[512];
    rn_topics_t *topics = rn_topics_new(&cfg, logmgr, 1);
    is(rn_topics_load(topics, err, sizeof(err)), 0, "load: %s", err);
    rn_topics_set_committer(topics, fake_commit, NULL);

    /* Answered on commit: the partitions are not ready until their directories are. */
    rn_topic_t *fast = rn_topics_create(topics, "fast", 4, 2, 1, NULL);
    rn_topics_commit_records(topics, off, on_committed, NULL);
    is(commit_calls, 1, "commit_records asks the committer");
    is(commit_on_commit, 1, "to answer on commit");
    is(committed_rc, 0, "answered before any persist");
    ok(!fast->ready && !fast->partitions[0]->ready && !fast->partitions[1]->ready,
       "topic and partitions not ready while their directories are not durable");
    ok(rn_topics_dirty(topics), "the directories wait for the persist");
    is(persist(topics, off), 0, "persist ok");
    ok(fast->ready && fast->partitions[0]->ready && fast->partitions[1]->ready,
       "ready once persisted");
    ok(exists("fast-1/partition.metadata"), "partition.metadata durable first");
    rn_topics_commit(topics, off, on_committed, NULL);
    is(commit_on_commit, 0, "rn_topics_commit waits for the disk");

    /* With a committer a failed persist keeps the committed topic, offline, and queues its
     * directories again (the metadata log says it exists). */
    block_dir("held-0", true);
    rn_topic_t *held = rn_topics_create(topics, "held", 4, 1, 1, NULL);
    rn_topics_add_partitions(topics, fast, 3);
    ok(persist(topics, off) < 0, "persist fails with a file in the way");
    ok(rn_topics_find(topics, "held", 4) == held && !held->ready && !held->partitions[0]->ready,
       "the committed topic stays, not ready");
    ok(!fast->partitions[2]->ready && fast->ready, "the added partition stays not ready");
    ok(rn_topics_dirty(topics), "and their directories are queued again");
    block_dir("held-0", false);
    is(persist(topics, off), 0, "the next persist succeeds");
    ok(held->ready && held->partitions[0]->ready && fast->partitions[2]->ready,
       "then they are ready");

    /* Without a committer a failed persist removes the new topic, as before, and queues the
     * partitions added to an existing one again. */
    rn_topics_set_committer(topics, NULL, NULL);
    block_dir("gone-0", true);
    block_dir("fast-3", true);
    rn_topics_create(topics, "gone", 4, 1, 1, NULL);
    rn_topics_add_partitions(topics, fast, 4);
    ok(persist(topics, off) < 0, "persist fails without a committer");
    ok(rn_topics_find(topics, "gone", 4) == NULL, "the new topic is removed");
    ok(!fast->partitions[3]->ready && rn_topics_dirty(topics), "the added partition is queued");
    block_dir("gone-0", false);
    block_dir("fast-3", false);
    is(persist(topics, off), 0, "the next persist succeeds");
    ok(fast->partitions[3]->ready, "and the partition is ready");
    rn_topics_free(topics);

    topics = rn_topics_new(&cfg, logmgr, 1);
    is(rn_topics_load(topics, err, sizeof(err)), 0, "reload: %s", err);
    fast = rn_topics_find(topics, "fast", 4);
    ok(fast != NULL && fast->n_partitions == 4 && fast->partitions[3]->ready,
       "loaded partitions are ready");
    rn_topics_free(topics);
    rn_config_free(&cfg);
}

static void test_corrupt(void)
{
    rn_config_t cfg;
    rn_config_init(&cfg);
    char err[512];
    struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"topic x AAAAAAAAAAAAAAAAAAAAAA 1 1\n", ":1: expected \"version 1\" first"},
        {"version 1\n\ntopic bad/name AAAAAAAAAAAAAAAAAAAAAg 1 1\n", ":3: Topic name"},
        {"version 1\ntopic x notanid 1 1\n", ":2: topic x: bad or repeated topic id"},
        {"version 1\ntopic x AAAAAAAAAAAAAAAAAAAAAg 0 1\n", ":2: topic x: bad partition count"},
        {"version 1\npartition x 0 1\n", ":2: a partition line names a topic"},
        {"version 1\nfrobnicate\n", ":2: unknown line type \"frobnicate\""},
        {"version 1\ntopic x AAAAAAAAAAAAAAAAAAAAAg 1 1\nconfig x retention.ms %ZZ\n",
         ":3: bad %XX escape"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_registry(cases[i].text);
        rn_topics_t *topics = rn_topics_new(&cfg, logmgr, 1);
        int rc = rn_topics_load(topics, err, sizeof(err));
        ok(rc == RN_ECORRUPT && strstr(err, cases[i].want) != NULL, "corrupt case %zu: %s", i, err);
        rn_topics_free(topics);
    }
    /* An unknown config key (a newer runnel) is skipped with a warning, not fatal. */
    write_registry("version 1\ntopic x AAAAAAAAAAAAAAAAAAAAAg 1 1\nconfig x future.key 1\n");
    rn_topics_t *topics = rn_topics_new(&cfg, logmgr, 1);
    is(rn_topics_load(topics, err, sizeof(err)), 0, "unknown config key skipped");
    rn_topics_free(topics);
    rn_config_free(&cfg);
}

static void test_topicconf(void)
{
    rn_config_t cfg;
    rn_config_init(&cfg);
    char err[512], buf[32];
    rn_tc_key_t key;
    is(rn_topicconf_check("retention.mss", 13, "1", &key, err, sizeof(err)), RN_ENOTFOUND,
       "unknown config");
    is_str(err, "Unknown topic config name: retention.mss", "Kafka's message");
    is(rn_topicconf_check("segment.bytes", 13, "10", &key, err, sizeof(err)), RN_EINVAL,
       "segment.bytes below 14");
    ok(strstr(err, "Invalid value 10 for configuration segment.bytes") != NULL, "%s", err);
    is(rn_topicconf_check("cleanup.policy", 14, "compact,shred", &key, err, sizeof(err)), RN_EINVAL,
       "bad policy element");
    is(rn_topicconf_check("min.cleanable.dirty.ratio", 25, "1.5", &key, err, sizeof(err)),
       RN_EINVAL, "ratio above 1");
    is(rn_topicconf_check("message.timestamp.type", 22, "logappendtime", &key, err, sizeof(err)), 0,
       "enum case-insensitive");
    /* message.format.version: Kafka 3.x accepts any Kafka version and ignores it. */
    const char *good_versions[] = {"0.8.0", "0.10.2", "2.8", "3.0-IV1", "1.1.0", NULL};
    for (int i = 0; good_versions[i]; i++)
        is(rn_topicconf_check("message.format.version", 22, good_versions[i], &key, err,
                              sizeof(err)),
           0, "message.format.version %s accepted", good_versions[i]);
    const char *bad_versions[] = {"", "banana", "0.7", "4.0", "2.", "2.8-IV", "2.8x", NULL};
    for (int i = 0; bad_versions[i]; i++)
        is(rn_topicconf_check("message.format.version", 22, bad_versions[i], &key, err,
                              sizeof(err)),
           RN_EINVAL, "message.format.version '%s' refused", bad_versions[i]);
    ok(strstr(err, "is not a valid version") != NULL, "%s", err);
    is(rn_topicconf_check("message.timestamp.before.max.ms", 31, "-1", &key, err, sizeof(err)),
       RN_EINVAL, "negative timestamp window refused");
    is(rn_topicconf_check("message.timestamp.after.max.ms", 30, "3600000", &key, err, sizeof(err)),
       0, "timestamp window accepted");

    rn_topicconf_t conf = {0};
    rn_tc_source_t src;
    is_str(rn_topicconf_value(&conf, &cfg, RN_TC_RETENTION_MS, &src, buf, sizeof(buf)), "604800000",
           "retention.ms defaults to 168h");
    is(src, RN_TC_SOURCE_DEFAULT, "source DEFAULT_CONFIG");
    rn_tc_synonym_t syn[8];
    char bufs[8][32];
    int n = rn_topicconf_synonyms(&conf, &cfg, RN_TC_RETENTION_MS, syn, bufs);
    is(n, 0, "no synonyms: the primary, log.retention.ms, has no default (as Kafka)");
    n = rn_topicconf_synonyms(&conf, &cfg, RN_TC_RETENTION_BYTES, syn, bufs);
    ok(n == 1 && strcmp(syn[0].name, "log.retention.bytes") == 0 &&
           strcmp(syn[0].value, "-1") == 0 && syn[0].source == RN_TC_SOURCE_DEFAULT,
       "synonyms: log.retention.bytes=-1 DEFAULT");
    rn_config_set(&cfg, "log.retention.minutes", "30", "file:1", err, sizeof(err));
    rn_config_resolve(&cfg, err, sizeof(err));
    is_str(rn_topicconf_value(&conf, &cfg, RN_TC_RETENTION_MS, &src, buf, sizeof(buf)), "1800000",
           "broker minutes become ms");
    is(src, RN_TC_SOURCE_STATIC_BROKER, "source STATIC_BROKER_CONFIG");
    rn_topicconf_set(&conf, RN_TC_RETENTION_MS, "1000");
    n = rn_topicconf_synonyms(&conf, &cfg, RN_TC_RETENTION_MS, syn, bufs);
    ok(n == 2 && syn[0].source == RN_TC_SOURCE_DYNAMIC_TOPIC &&
           strcmp(syn[1].name, "log.retention.minutes") == 0 &&
           syn[1].source == RN_TC_SOURCE_STATIC_BROKER,
       "synonyms: topic, minutes (static); no default of hours");
    is(rn_topicconf_int(&conf, &cfg, RN_TC_RETENTION_MS), 1000, "override wins");
    is(rn_topicconf_int(&conf, &cfg, RN_TC_PREALLOCATE), 0, "bool default false");
    rn_topicconf_set(&conf, RN_TC_PREALLOCATE, "TRUE");
    is_str(conf.v[RN_TC_PREALLOCATE], "true", "bool stored as Kafka prints it");
    ok(rn_topicconf_double(&conf, &cfg, RN_TC_MIN_CLEANABLE_DIRTY_RATIO) == 0.5, "ratio 0.5");
    int sorted = 1;
    for (int k = 1; k < RN_TC__COUNT; k++)
        sorted &= strcmp(rn_topicconf_def((rn_tc_key_t)(k - 1))->name,
                         rn_topicconf_def((rn_tc_key_t)k)->name) < 0;
    ok(sorted, "topic config table sorted by name");
    rn_topicconf_free(&conf);
    rn_config_free(&cfg);
}

int main(void)
{
    if (mkdtemp(dir) == NULL)
        return 1;
    base = event_base_new();
    rn_offload_t *off = rn_offload_new(base);
    rn_logmgr_opts_t opts = {.dir = dir, .node_id = 1, .no_flusher = true};
    rn_plog_config_default(&opts.config);
    char err[512];
    if (rn_logmgr_open(&opts, &logmgr, err, sizeof(err)) != 0) {
        diag("cannot open the data dir: %s", err);
        return 1;
    }
    test_names();
    test_lifecycle(off);
    test_commit_then_persist(off);
    test_corrupt();
    test_topicconf();
    rn_offload_free(off);
    rn_logmgr_close(logmgr, false, NULL, 0, NULL, 0);
    event_base_free(base);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        diag("could not remove %s", dir);
    return done_testing();
}
