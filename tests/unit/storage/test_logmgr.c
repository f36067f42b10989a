/* The data-directory log manager: create/get/delete partitions, checkpoints, clean and
 * unclean restarts, leftover delete directories, retention, per-topic config, the lock. */
#include "rn_err.h"
#include "rn_log.h"
#include "rn_logmgr.h"
#include "rn_partmeta.h"
#include "tap.h"
#include "unit/storage/plog_testutil.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#define NOW 1700000000000LL

static int append_n(rn_plog_t *log, int n, size_t vlen)
{
    int failed = 0;
    for (int i = 0; i < n; i++) {
        tu_buf_t b = {0};
        tu_add_batch(&b, 2, vlen, NOW, 1, (uint32_t)i);
        failed += rn_plog_append(log, b.p, b.len, 1, NOW, NULL) != 0;
        tu_free(&b);
    }
    return failed;
}

static void topic_config(void *arg, const char *topic, int32_t partition, rn_plog_config_t *cfg)
{
    if (strcmp(topic, "small") == 0) {
        cfg->segment_bytes = 2048;
        cfg->retention_bytes = 4096;
    }
    if (strcmp(topic, "durable") == 0)
        cfg->flush_messages = 1;
}

static void opts_init(rn_logmgr_opts_t *opts, const char *dir)
{
    memset(opts, 0, sizeof(*opts));
    opts->dir = dir;
    opts->node_id = 1;
    rn_plog_config_default(&opts->config);
    opts->config_fn = topic_config;
    opts->now_ms = NOW;
}

static int count_entries(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *ent;
    while (d && (ent = readdir(d)) != NULL) {
        size_t len = strlen(ent->d_name), m = strlen(suffix);
        n += len > m && strcmp(ent->d_name + len - m, suffix) == 0;
    }
    if (d)
        closedir(d);
    return n;
}

static int64_t ckpt(const char *dir, const char *file, const char *topic, int32_t partition)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    rn_checkpoint_t cp;
    if (rn_checkpoint_load(path, &cp, NULL, 0) != 0)
        return -2;
    const rn_checkpoint_entry_t *e = rn_checkpoint_find(&cp, topic, partition);
    int64_t v = e ? e->offset : -1;
    rn_checkpoint_free(&cp);
    return v;
}

static bool skip_small(void *arg, const char *topic, int32_t partition, rn_plog_t *log)
{
    return strcmp(topic, "small") != 0;
}

static void count_moved(void *arg, const char *topic, int32_t partition, rn_plog_t *log)
{
    (*(int *)arg)++;
}

/* The broker's way in: open the directory, prepare partitions, then load; a partition that
 * cannot be opened stays offline without stopping the others; deletion split in two. */
static void test_broker_use(const char *root)
{
    char dir[512], err[512], path[1024];
    snprintf(dir, sizeof(dir), "%s/deferred", root);
    rn_logmgr_opts_t opts;
    opts_init(&opts, dir);
    opts.defer_logs = true;
    rn_logmgr_t *mgr;
    is(rn_logmgr_open(&opts, &mgr, err, sizeof(err)), 0, "deferred open");
    rn_uuid_t id;
    rn_uuid_random(&id);
    is(rn_logmgr_prepare(mgr, "good", 0, &id, true, err, sizeof(err)), 0, "prepare good-0");
    is(rn_logmgr_prepare(mgr, "bad", 0, &id, false, err, sizeof(err)), 0, "prepare bad-0");
    is(rn_logmgr_sync_dir(mgr, err, sizeof(err)), 0, "sync the data dir");
    snprintf(path, sizeof(path), "%s/good-0", dir);
    rn_uuid_t on_disk;
    is(rn_partmeta_load(path, &on_disk, err, sizeof(err)), 0, "partition.metadata written");
    ok(rn_uuid_equal(&on_disk, &id), "with the topic id");
    is(rn_logmgr_count(mgr), 0, "no log open before load");
    /* Many at once, on several threads: every directory with its own partition.metadata. */
    rn_logmgr_prep_t many[40];
    for (int i = 0; i < 40; i++)
        many[i] = (rn_logmgr_prep_t){"many", i, &id};
    is(rn_logmgr_prepare_many(mgr, many, 40, err, sizeof(err)), 0, "prepare 40 at once");
    int have = 0;
    for (int i = 0; i < 40; i++) {
        snprintf(path, sizeof(path), "%s/many-%d", dir, i);
        have +=
            rn_partmeta_load(path, &on_disk, err, sizeof(err)) == 0 && rn_uuid_equal(&on_disk, &id);
    }
    is(have, 40, "all 40 have partition.metadata with the topic id");
    rn_logmgr_prep_t bad_name = {"", 0, &id};
    ok(rn_logmgr_prepare_many(mgr, &bad_name, 1, err, sizeof(err)) != 0 && err[0] != '\0',
       "a partition that cannot be prepared fails the batch, saying why: %s", err);
    /* A segment file that is a directory cannot be opened. */
    snprintf(path, sizeof(path), "%s/bad-0/00000000000000000000.log", dir);
    mkdir(path, 0755);
    is(rn_logmgr_load(mgr, NULL, NULL, NOW, err, sizeof(err)), 0, "load with a damaged partition");
    ok(rn_logmgr_get(mgr, "good", 0) != NULL && rn_logmgr_get(mgr, "bad", 0) == NULL,
       "the good partition opens, the damaged one stays offline");
    ok(rn_logmgr_create(mgr, "bad", 0, NULL, NULL) < 0 && rn_logmgr_get(mgr, "bad", 0) == NULL,
       "creating the offline partition answers its error");
    is(rn_logmgr_load(mgr, NULL, NULL, NOW, err, sizeof(err)), RN_EINVAL, "load only once");

    is(rn_logmgr_delete_dir(mgr, "good", 0), RN_EEXIST, "delete_dir refuses an open log");
    is(rn_logmgr_close_log(mgr, "good", 0), 0, "close_log");
    is(rn_logmgr_close_log(mgr, "good", 0), RN_ENOTFOUND, "close_log again");
    is(rn_logmgr_delete_dir(mgr, "good", 0), 0, "delete_dir after close_log");
    is(rn_logmgr_delete(mgr, "bad", 0), 0, "delete the offline partition");
    is(count_entries(dir, "-delete"), 2, "both renamed");
    is(rn_logmgr_purge_deleted(mgr), 2, "and purged");
    is(rn_logmgr_delete_dir(mgr, "good", 0), RN_ENOTFOUND, "nothing left to delete");

    /* Retention hooks: a skipped log keeps its segments; a moved start is reported. */
    rn_plog_t *small, *other;
    rn_logmgr_create(mgr, "small", 0, NULL, &small);
    rn_logmgr_create(mgr, "small", 1, NULL, &other);
    append_n(small, 40, 100);
    size_t before = rn_plog_segment_count(small);
    int moved = 0;
    rn_logmgr_retain_ops_t ops = {skip_small, count_moved, &moved};
    ok(rn_logmgr_retain(mgr, NOW, &ops) == 0 && rn_plog_segment_count(small) == before,
       "wants = false skips the log");
    ops.wants = NULL;
    ok(rn_logmgr_retain(mgr, NOW, &ops) > 0 && moved == 1, "retained called once, for small-0");
    is(rn_logmgr_close(mgr, true, NULL, 0, err, sizeof(err)), 0, "clean close");
}

/* Many partitions recover on several threads: every torn tail is cut, every intact log kept,
 * empty partitions open empty, and a damaged partition still stays offline alone. */
#define MANY 64
static void test_parallel_load(const char *root)
{
    char dir[512], err[512], path[1024];
    snprintf(dir, sizeof(dir), "%s/many", root);
    rn_logmgr_opts_t opts;
    opts_init(&opts, dir);
    rn_logmgr_t *mgr;
    is(rn_logmgr_open(&opts, &mgr, err, sizeof(err)), 0, "open a data dir for %d partitions", MANY);
    int64_t ends[MANY];
    uint64_t sizes[MANY];
    int failed = 0;
    for (int i = 0; i < MANY; i++) {
        rn_plog_t *log;
        failed += rn_logmgr_create(mgr, "many", i, NULL, &log) != 0;
        failed += append_n(log, i % 5, 50) != 0; /* a fifth stay empty */
        ends[i] = rn_plog_log_end_offset(log);
        sizes[i] = rn_plog_size(log);
    }
    is(failed, 0, "created and written");
    rn_logmgr_flush_all(mgr);
    is(rn_logmgr_checkpoint(mgr, NULL, 0, err, sizeof(err)), 0, "recovery points checkpointed");
    /* Appends after the checkpoint are unflushed, as a kill would leave them. */
    for (int i = 0; i < MANY; i += 3)
        append_n(rn_logmgr_get(mgr, "many", i), 1, 50);
    is(rn_logmgr_close(mgr, false, NULL, 0, err, sizeof(err)), 0, "unclean close");
    /* Tear every third partition's tail after the recovery point: garbage after its last
     * flushed batch. */
    int torn = 0;
    for (int i = 0; i < MANY; i += 3) {
        snprintf(path, sizeof(path), "%s/many-%d/00000000000000000000.log", dir, i);
        FILE *fp = fopen(path, "r+b");
        if (fp == NULL || fseeko(fp, (off_t)sizes[i] + 7, SEEK_SET) != 0 ||
            fwrite("torn-tail-bytes", 1, 15, fp) != 15)
            failed++;
        else
            torn++;
        if (fp != NULL)
            fclose(fp);
    }
    is(failed, 0, "%d tails torn", torn);
    /* And one partition damaged beyond opening. */
    snprintf(path, sizeof(path), "%s/many-%d/00000000000000000000.log", dir, MANY - 1);
    unlink(path);
    mkdir(path, 0755);
    is(rn_logmgr_open(&opts, &mgr, err, sizeof(err)), 0, "reopen: parallel recovery");
    is(rn_logmgr_count(mgr), MANY - 1, "all but the damaged partition open");
    ok(rn_logmgr_get(mgr, "many", MANY - 1) == NULL, "the damaged one stays offline");
    int wrong = 0, bad_index = 0;
    for (int i = 0; i < MANY - 1; i++) {
        rn_plog_t *log = rn_logmgr_get(mgr, "many", i);
        if (log == NULL || rn_plog_log_end_offset(log) != ends[i] ||
            rn_plog_size(log) != sizes[i]) {
            diag("many-%d: end %" PRId64 " (want %" PRId64 "), size %" PRIu64 " (want %" PRIu64 ")",
                 i, log ? rn_plog_log_end_offset(log) : -1, ends[i], log ? rn_plog_size(log) : 0,
                 sizes[i]);
            wrong++;
        } else if (tu_check_log(log) != 0) {
            bad_index++;
        }
    }
    is(wrong, 0, "every torn tail cut back to the flushed batches, the others intact");
    is(bad_index, 0, "indexes agree with the logs");
    is(rn_logmgr_close(mgr, true, NULL, 0, err, sizeof(err)), 0, "clean close");
}

int main(void)
{
    rn_log_set_level(RN_LOG_WARN);
    char root[256], dir[512], err[512];
    tu_tmpdir(root, "logmgr");
    snprintf(dir, sizeof(dir), "%s/data", root);
    rn_logmgr_opts_t opts;
    opts_init(&opts, dir);
    rn_logmgr_t *mgr;

    is(rn_logmgr_open(&opts, &mgr, err, sizeof(err)), 0, "open a new data dir");
    ok(rn_logmgr_count(mgr) == 0 && !rn_logmgr_was_clean_shutdown(mgr), "empty, not clean");
    ok(rn_logmgr_flusher(mgr) != NULL, "flush thread running");
    rn_logmgr_t *second;
    is(rn_logmgr_open(&opts, &second, err, sizeof(err)), RN_ELOCKED, "a second open is refused");

    rn_plog_t *o0, *o1, *dash, *again;
    is(rn_logmgr_create(mgr, "orders", 0, NULL, &o0), 0, "create orders-0");
    is(rn_logmgr_create(mgr, "orders", 1, NULL, &o1), 0, "create orders-1");
    is(rn_logmgr_create(mgr, "my-topic", 12, NULL, &dash), 0, "create my-topic-12");
    ok(rn_logmgr_create(mgr, "orders", 0, NULL, &again) == RN_EEXIST && again == o0,
       "create again: the existing log");
    is(rn_logmgr_create(mgr, "bad/topic", 0, NULL, NULL), RN_EINVAL, "invalid topic name");
    is(rn_logmgr_create(mgr, "orders", -1, NULL, NULL), RN_EINVAL, "negative partition");
    ok(rn_logmgr_get(mgr, "orders", 1) == o1 && rn_logmgr_get(mgr, "orders", 2) == NULL &&
           rn_logmgr_get(mgr, "my-topic", 12) == dash,
       "lookups");
    ok(append_n(o0, 10, 100) == 0 && append_n(o1, 5, 100) == 0 && append_n(dash, 3, 100) == 0,
       "appends");
    int64_t new_start;
    rn_plog_delete_records(o0, 4, &new_start);

    rn_checkpoint_entry_t hws[2] = {{"orders", 0, 18}, {"my-topic", 12, 6}};
    is(rn_logmgr_checkpoint(mgr, hws, 2, err, sizeof(err)), 0, "checkpoint");
    is(ckpt(dir, RN_CHECKPOINT_LOG_START, "orders", 0), 4, "log start checkpointed");
    is(ckpt(dir, RN_CHECKPOINT_REPLICATION, "my-topic", 12), 6, "high watermark checkpointed");
    is(ckpt(dir, RN_CHECKPOINT_RECOVERY_POINT, "orders", 1), 0, "nothing flushed yet");
    is(rn_logmgr_flush_all(mgr), 0, "flush all");
    rn_logmgr_checkpoint(mgr, NULL, 0, err, sizeof(err));
    is(ckpt(dir, RN_CHECKPOINT_RECOVERY_POINT, "orders", 1), 10, "recovery point checkpointed");

    /* Per-topic config: flush.messages=1 flushes in the background. */
    rn_plog_t *dur;
    rn_logmgr_create(mgr, "durable", 0, NULL, &dur);
    append_n(dur, 3, 10);
    for (int i = 0; i < 3000 && rn_plog_recovery_point(dur) < 6; i++)
        usleep(1000);
    is(rn_plog_recovery_point(dur), 6, "flush.messages from the topic config");

    /* Delete: renamed, then purged; a slice taken before stays readable. */
    rn_plog_slice_t slice;
    is(rn_plog_read(o1, 0, 1000, -1, &slice), 0, "hold a slice of orders-1");
    is(rn_logmgr_delete(mgr, "orders", 1), 0, "delete orders-1");
    ok(rn_logmgr_get(mgr, "orders", 1) == NULL, "gone from the table");
    is(count_entries(dir, "-delete"), 1, "renamed to <topic>-<partition>.<id>-delete");
    uint8_t *bytes = tu_read_slice(&slice);
    ok(slice.length > 0 && rn_batch_validate(bytes, slice.length, &(rn_batch_header_t){0}) == 0,
       "the slice still reads");
    rn_free(bytes);
    rn_plog_slice_release(&slice);
    is(rn_logmgr_purge_deleted(mgr), 1, "purge removes it");
    is(count_entries(dir, "-delete"), 0, "no delete dir left");
    is(rn_logmgr_delete(mgr, "orders", 1), RN_ENOTFOUND, "delete again");

    /* Retention from the topic config (retention.bytes 4096, segments of 2 KiB). */
    rn_plog_t *small;
    rn_logmgr_create(mgr, "small", 0, NULL, &small);
    append_n(small, 40, 100);
    size_t before = rn_plog_segment_count(small);
    int deleted = rn_logmgr_retain(mgr, NOW, NULL);
    ok(deleted > 0 && rn_plog_segment_count(small) == before - (size_t)deleted &&
           rn_plog_size(small) < 4096 + 2048,
       "retention deleted %d segments", deleted);
    int64_t small_start = rn_plog_log_start_offset(small);

    /* Clean close and reopen. */
    int64_t end0 = rn_plog_log_end_offset(o0), end_small = rn_plog_log_end_offset(small);
    rn_checkpoint_entry_t hws2[1] = {{"orders", 0, 20}};
    is(rn_logmgr_close(mgr, true, hws2, 1, err, sizeof(err)), 0, "clean close");
    struct stat st;
    char marker[600];
    snprintf(marker, sizeof(marker), "%s/%s", dir, RN_DATADIR_CLEAN_SHUTDOWN_FILE);
    ok(stat(marker, &st) == 0, "clean-shutdown marker written");
    is(rn_logmgr_open(&opts, &mgr, err, sizeof(err)), 0, "reopen");
    ok(rn_logmgr_was_clean_shutdown(mgr) && stat(marker, &st) != 0, "clean, marker removed");
    is(rn_logmgr_count(mgr), 4, "four partitions back");
    o0 = rn_logmgr_get(mgr, "orders", 0);
    small = rn_logmgr_get(mgr, "small", 0);
    ok(o0 && rn_plog_log_end_offset(o0) == end0 && rn_plog_log_start_offset(o0) == 4,
       "orders-0: same end and log start");
    ok(rn_plog_recovery_point(o0) == end0, "recovery point = end");
    ok(small && rn_plog_log_end_offset(small) == end_small &&
           rn_plog_log_start_offset(small) == small_start,
       "small-0 after retention");
    ok(rn_plog_config(small)->retention_bytes == 4096, "topic config applied at open");
    is(rn_logmgr_checkpointed_hw(mgr, "orders", 0), 20, "high watermark loaded");
    is(rn_logmgr_checkpointed_hw(mgr, "orders", 9), -1, "unknown partition: -1");

    /* Unclean stop with a torn tail. */
    append_n(o0, 2, 100);
    int64_t end_before = rn_plog_log_end_offset(o0);
    rn_segment_t *active = rn_plog_segment_at(o0, rn_plog_segment_count(o0) - 1);
    char logpath[1024], name[RN_SEGMENT_NAME_MAX];
    rn_segment_file_name(name, active->base_offset, ".log");
    snprintf(logpath, sizeof(logpath), "%s/%s", rn_plog_dir(o0), name);
    uint64_t size = active->size;
    is(rn_logmgr_close(mgr, false, NULL, 0, err, sizeof(err)), 0, "unclean close");
    ok(truncate(logpath, (off_t)size - 10) == 0, "tear the last batch");
    char leftover[600];
    snprintf(leftover, sizeof(leftover), "%s/old-3.0123456789abcdef0123456789abcdef-delete", dir);
    mkdir(leftover, 0755);
    is(rn_logmgr_open(&opts, &mgr, err, sizeof(err)), 0, "reopen after the unclean stop");
    ok(!rn_logmgr_was_clean_shutdown(mgr), "not clean");
    o0 = rn_logmgr_get(mgr, "orders", 0);
    is(rn_plog_log_end_offset(o0), end_before - 2, "the torn batch is cut, the rest kept");
    is(tu_check_log(o0), 0, "indexes agree");
    ok(stat(leftover, &st) != 0, "leftover delete dir removed at open");
    is(rn_logmgr_close(mgr, true, NULL, 0, err, sizeof(err)), 0, "clean close");
    test_broker_use(root);
    test_parallel_load(root);
    tu_rmtree(root);
    return done_testing();
}
