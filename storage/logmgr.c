/* The partition logs of one data directory: open/recover, create/delete, checkpoints,
 * retention, clean shutdown (see rn_logmgr.h). */
#include "rn_logmgr.h"
#include "rn_clock.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_fsutil.h"
#include "rn_log.h"
#include "rn_partmeta.h"
#include "rn_hash.h"
#include "rn_map.h"
#include "rn_vec.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct lm_entry {
    char *topic;
    int32_t partition;
    uint64_t hash;
    rn_plog_t *log;
} lm_entry_t;

/* A partition whose log could not be opened at load: it stays out of the table (so nothing
 * touches its files) and rn_logmgr_create answers its error until it is deleted. */
typedef struct lm_offline {
    char *topic;
    int32_t partition;
    int rc;
} lm_offline_t;

/* Invariants: the table maps each open partition to its log exactly once; the owner thread is
 * its only writer and changes it under mu; other threads read it only under mu. `deleted`
 * holds renamed partition directories awaiting removal (under mu). `offline` is owner-only.
 * `loaded`: the logs have been opened (rn_logmgr_load ran). */
struct rn_logmgr {
    rn_datadir_t *dd;
    char *dir;
    rn_plog_config_t config;
    rn_logmgr_config_fn config_fn;
    void *config_arg;
    rn_flusher_t *flusher;
    bool clean;
    pthread_mutex_t mu;
    pthread_mutex_t ckpt_mu; /* one checkpoint writer at a time (they share temp names) */
    rn_map_t table;          /* of lm_entry_t, by tp_hash */
    rn_checkpoint_t hw_loaded;
    rn_map_t hw_index; /* of hw_loaded's entries, by tp_hash */
    char **deleted;
    size_t ndeleted, cap_deleted;
    lm_offline_t *offline;
    size_t noffline;
    bool loaded;
};

static uint64_t tp_hash(const char *topic, int32_t partition)
{
    return rn_hash_combine(rn_hash_bytes(topic, strlen(topic)), (uint32_t)partition);
}

typedef struct tp_key {
    const char *topic;
    int32_t partition;
} tp_key_t;

static bool entry_is(const void *item, const void *key)
{
    const lm_entry_t *e = item;
    const tp_key_t *k = key;
    return e->partition == k->partition && strcmp(e->topic, k->topic) == 0;
}

static lm_entry_t *table_find(const rn_logmgr_t *mgr, const char *topic, int32_t partition)
{
    tp_key_t k = {topic, partition};
    return rn_map_get(&mgr->table, tp_hash(topic, partition), entry_is, &k);
}

/* Insert (caller holds mu, the partition is absent). */
static void table_insert(rn_logmgr_t *mgr, const char *topic, int32_t partition, rn_plog_t *log)
{
    lm_entry_t *e = rn_xcalloc(1, sizeof(*e));
    e->topic = rn_xstrdup(topic);
    e->partition = partition;
    e->hash = tp_hash(topic, partition);
    e->log = log;
    rn_map_xput(&mgr->table, e->hash, e);
}

static bool ckpt_entry_is(const void *item, const void *key)
{
    const rn_checkpoint_entry_t *e = item;
    const tp_key_t *k = key;
    return e->partition == k->partition && strcmp(e->topic, k->topic) == 0;
}

/* Index a checkpoint's entries (which it keeps owning) by topic-partition. Start-up looks up
 * every partition in each checkpoint, and a scan per lookup made that quadratic. The last
 * entry of a topic-partition wins, as with rn_checkpoint_find. */
static void checkpoint_index(const rn_checkpoint_t *cp, rn_map_t *map)
{
    memset(map, 0, sizeof(*map));
    (void)rn_map_reserve(map, cp->count);
    for (size_t i = cp->count; i-- > 0;) {
        rn_checkpoint_entry_t *e = &cp->entries[i];
        tp_key_t k = {e->topic, e->partition};
        uint64_t h = tp_hash(e->topic, e->partition);
        if (rn_map_get(map, h, ckpt_entry_is, &k) == NULL)
            rn_map_xput(map, h, e);
    }
}

static int64_t checkpoint_offset(const rn_map_t *index, const char *topic, int32_t partition)
{
    tp_key_t k = {topic, partition};
    const rn_checkpoint_entry_t *e =
        rn_map_get(index, tp_hash(topic, partition), ckpt_entry_is, &k);
    return e != NULL ? e->offset : -1;
}

/* Load a checkpoint file of the data dir; a damaged one is logged and read as empty. */
static void load_checkpoint(rn_logmgr_t *mgr, const char *name, rn_checkpoint_t *cp)
{
    char path[PATH_MAX], why[256];
    snprintf(path, sizeof(path), "%s/%s", mgr->dir, name);
    if (rn_checkpoint_load(path, cp, why, sizeof(why)) != 0) {
        RN_WARN("logmgr", "%s; ignoring it (logs recover fully / start at their first segment)",
                why);
        memset(cp, 0, sizeof(*cp));
    }
}

static void queue_deleted(rn_logmgr_t *mgr, const char *path)
{
    pthread_mutex_lock(&mgr->mu);
    rn_vec_xpush(mgr->deleted, mgr->ndeleted, mgr->cap_deleted, rn_xstrdup(path));
    pthread_mutex_unlock(&mgr->mu);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Queue `*-delete` partition directories a previous run renamed but did not remove. */
static void find_leftover_deletes(rn_logmgr_t *mgr)
{
    DIR *d = opendir(mgr->dir);
    if (d == NULL)
        return;
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (ent->d_name[0] == '.' || !ends_with(ent->d_name, "-delete") ||
            strchr(ent->d_name, '.') == NULL)
            continue;
        char path[PATH_MAX];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", mgr->dir, ent->d_name);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            queue_deleted(mgr, path);
    }
    closedir(d);
}

static void config_for(const rn_logmgr_t *mgr, const char *topic, int32_t partition,
                       rn_plog_config_t *cfg)
{
    *cfg = mgr->config;
    if (mgr->config_fn != NULL)
        mgr->config_fn(mgr->config_arg, topic, partition, cfg);
}

/* Open (create = 1: create) one partition's log and register it. */
static int open_partition(rn_logmgr_t *mgr, const char *topic, int32_t partition,
                          const rn_plog_config_t *cfg, const rn_plog_open_opts_t *opts,
                          rn_plog_t **out, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int rc = rn_datadir_partition_path(mgr->dd, topic, partition, path, sizeof(path));
    if (rc != 0) {
        rn_fsutil_seterr(err, errlen, "%s-%" PRId32 ": invalid partition name", topic, partition);
        return rc;
    }
    rn_plog_t *log;
    rc = rn_plog_open(path, cfg, opts, &log);
    if (rc != 0) {
        rn_fsutil_seterr(err, errlen, "%s: cannot open the partition log: %s (%s)", path,
                         rn_strerror(rc), strerror(errno));
        return rc;
    }
    if (mgr->flusher != NULL)
        rn_plog_set_flusher(log, mgr->flusher);
    pthread_mutex_lock(&mgr->mu);
    table_insert(mgr, topic, partition, log);
    pthread_mutex_unlock(&mgr->mu);
    if (out != NULL)
        *out = log;
    return 0;
}

static void mgr_free_table(rn_logmgr_t *mgr)
{
    size_t pos = 0;
    for (lm_entry_t *e; (e = rn_map_next(&mgr->table, &pos)) != NULL;) {
        rn_plog_close(e->log);
        rn_free(e->topic);
        rn_free(e);
    }
    rn_map_free(&mgr->table);
}

static void mgr_free(rn_logmgr_t *mgr)
{
    mgr_free_table(mgr);
    rn_flusher_stop(mgr->flusher);
    rn_map_free(&mgr->hw_index);
    rn_checkpoint_free(&mgr->hw_loaded);
    for (size_t i = 0; i < mgr->ndeleted; i++)
        rn_free(mgr->deleted[i]);
    rn_free(mgr->deleted);
    for (size_t i = 0; i < mgr->noffline; i++)
        rn_free(mgr->offline[i].topic);
    rn_free(mgr->offline);
    pthread_mutex_destroy(&mgr->mu);
    pthread_mutex_destroy(&mgr->ckpt_mu);
    rn_free(mgr->dir);
    rn_free(mgr);
}

static lm_offline_t *find_offline(rn_logmgr_t *mgr, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < mgr->noffline; i++)
        if (mgr->offline[i].partition == partition && !strcmp(mgr->offline[i].topic, topic))
            return &mgr->offline[i];
    return NULL;
}

int rn_logmgr_open(const rn_logmgr_opts_t *opts, rn_logmgr_t **out, char *err, size_t errlen)
{
    char why[160];
    if (rn_plog_config_validate(&opts->config, why, sizeof(why)) != 0) {
        rn_fsutil_seterr(err, errlen, "%s: default log config: %s", opts->dir, why);
        return RN_EINVAL;
    }
    rn_logmgr_t *mgr = rn_xcalloc(1, sizeof(*mgr));
    mgr->dir = rn_xstrdup(opts->dir);
    mgr->config = opts->config;
    mgr->config_fn = opts->config_fn;
    mgr->config_arg = opts->config_arg;
    pthread_mutex_init(&mgr->mu, NULL);
    pthread_mutex_init(&mgr->ckpt_mu, NULL);
    int rc = rn_datadir_open(opts->dir, opts->node_id, opts->cluster_id, &mgr->dd, err, errlen);
    if (rc != 0) {
        mgr_free(mgr);
        return rc;
    }
    mgr->clean = rn_datadir_was_clean_shutdown(mgr->dd);
    find_leftover_deletes(mgr);
    rn_logmgr_purge_deleted(mgr);
    if (!opts->no_flusher && (rc = rn_flusher_start(&mgr->flusher)) != 0) {
        rn_fsutil_seterr(err, errlen, "%s: cannot start the flush thread", opts->dir);
        goto fail;
    }
    load_checkpoint(mgr, RN_CHECKPOINT_REPLICATION, &mgr->hw_loaded);
    checkpoint_index(&mgr->hw_loaded, &mgr->hw_index);
    if (!opts->defer_logs && (rc = rn_logmgr_load(mgr, NULL, NULL, opts->now_ms, err, errlen)) != 0)
        goto fail;
    *out = mgr;
    return 0;
fail:
    mgr_free_table(mgr);
    rn_datadir_close(mgr->dd, false, NULL, 0);
    mgr_free(mgr);
    return rc;
}

/* One partition of a load: its inputs, set before the workers start, and its outcome. */
typedef struct load_item {
    const rn_datadir_part_t *part;
    rn_plog_config_t cfg;
    rn_plog_open_opts_t popts;
    rn_plog_open_stats_t stats;
    int rc;
    char *why; /* on failure */
} load_item_t;

/* Opening the logs of a data dir is independent per partition and mostly waits on the file
 * system, so a few threads share it (the event loop does not run yet). Each takes the next
 * unopened partition; the table insert is the only shared write (under mu). */
typedef struct load_job {
    rn_logmgr_t *mgr;
    load_item_t *items;
    size_t nitems;
} load_job_t;

/* Runs fn(ctx, i) for every i < n on the calling thread and up to threads - 1 more (at most
 * EACH_MAX_THREADS in all), each taking the next i; returns the number of threads that
 * worked. One that cannot be started leaves its share to the others. */
#define EACH_MAX_THREADS 8
typedef void (*each_fn)(void *ctx, size_t i);
typedef struct each_job {
    each_fn fn;
    void *ctx;
    size_t n;
    size_t next; /* next i to take (atomic) */
} each_job_t;

static void *each_worker(void *arg)
{
    each_job_t *job = arg;
    for (;;) {
        size_t i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
        if (i >= job->n)
            return NULL;
        job->fn(job->ctx, i);
    }
}

static size_t each_parallel(size_t n, size_t threads, each_fn fn, void *ctx)
{
    each_job_t job = {.fn = fn, .ctx = ctx, .n = n};
    pthread_t tids[EACH_MAX_THREADS];
    size_t want = threads < EACH_MAX_THREADS ? threads : EACH_MAX_THREADS, started = 0;
    while (started + 1 < want && pthread_create(&tids[started], NULL, each_worker, &job) == 0)
        started++;
    each_worker(&job);
    for (size_t i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    return started + 1;
}

static void load_one(void *ctx, size_t i)
{
    load_job_t *job = ctx;
    load_item_t *it = &job->items[i];
    char why[768];
    it->popts.stats = &it->stats;
    it->rc = open_partition(job->mgr, it->part->topic, it->part->partition, &it->cfg, &it->popts,
                            NULL, why, sizeof(why));
    if (it->rc != 0)
        it->why = rn_xstrdup(why);
}

/* Threads for a load of n partitions: one per online CPU, at most EACH_MAX_THREADS, none
 * beyond one per 16 partitions (a thread costs more than a few opens). */
static size_t load_threads(size_t n)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t t = cpus > 0 ? (size_t)cpus : 1;
    if (t > n / 16 + 1)
        t = n / 16 + 1;
    return t;
}

/* Run the job; returns the number of threads that worked on it. */
static size_t load_run(load_job_t *job)
{
    return each_parallel(job->nitems, load_threads(job->nitems), load_one, job);
}

int rn_logmgr_load(rn_logmgr_t *mgr, rn_logmgr_config_fn config_fn, void *config_arg,
                   int64_t now_ms, char *err, size_t errlen)
{
    if (mgr->loaded) {
        rn_fsutil_seterr(err, errlen, "%s: partition logs already loaded", mgr->dir);
        return RN_EINVAL;
    }
    mgr->loaded = true;
    if (config_fn != NULL) {
        mgr->config_fn = config_fn;
        mgr->config_arg = config_arg;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rn_checkpoint_t rp_cp, ls_cp;
    rn_map_t rp_index, ls_index;
    load_checkpoint(mgr, RN_CHECKPOINT_RECOVERY_POINT, &rp_cp);
    load_checkpoint(mgr, RN_CHECKPOINT_LOG_START, &ls_cp);
    checkpoint_index(&rp_cp, &rp_index);
    checkpoint_index(&ls_cp, &ls_index);
    rn_datadir_part_t *parts = NULL;
    size_t nparts = 0;
    int rc = rn_datadir_list_partitions(mgr->dd, &parts, &nparts, err, errlen);
    if (rc != 0)
        goto done;
    /* Configs and checkpoint entries are looked up here, on the calling thread: config_fn
     * need not be thread-safe. */
    load_item_t *items = rn_xcalloc(nparts + 1, sizeof(*items));
    for (size_t i = 0; i < nparts; i++) {
        load_item_t *it = &items[i];
        it->part = &parts[i];
        config_for(mgr, parts[i].topic, parts[i].partition, &it->cfg);
        int64_t rp = checkpoint_offset(&rp_index, parts[i].topic, parts[i].partition);
        int64_t ls = checkpoint_offset(&ls_index, parts[i].topic, parts[i].partition);
        it->popts.recovery_point = rp > 0 ? rp : 0;
        it->popts.log_start_offset = ls > 0 ? ls : 0;
        /* A clean marker vouches for logs the checkpoint knows; one it does not list was
         * never checkpointed as flushed and is recovered. */
        it->popts.clean = mgr->clean && rp >= 0;
        it->popts.now_ms = now_ms;
    }
    load_job_t job = {.mgr = mgr, .items = items, .nitems = nparts};
    size_t nthreads = load_run(&job);
    size_t nrecovered = 0, ncut = 0, nsegs = 0, nsegs_recovered = 0, nsegs_deleted = 0;
    uint64_t bytes_cut = 0;
    for (size_t i = 0; i < nparts; i++) {
        load_item_t *it = &items[i];
        if (it->rc != 0) {
            /* One damaged partition must not take the others down (design.md, decision 8): it stays
             * offline, its files untouched, until repaired and reopened. */
            RN_ERROR("logmgr", "%s; the partition stays offline until repaired and reopened",
                     it->why);
            mgr->offline = rn_xrealloc(mgr->offline, (mgr->noffline + 1) * sizeof(*mgr->offline));
            mgr->offline[mgr->noffline++] =
                (lm_offline_t){rn_xstrdup(it->part->topic), it->part->partition, it->rc};
            rn_free(it->why);
            continue;
        }
        nsegs += it->stats.segments;
        nsegs_recovered += it->stats.segments_recovered;
        nsegs_deleted += it->stats.segments_deleted;
        bytes_cut += it->stats.bytes_cut;
        nrecovered += it->stats.segments_recovered > 0;
        ncut += it->stats.bytes_cut > 0;
    }
    rn_free(items);
    rn_datadir_parts_free(parts, nparts);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int64_t ms = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    RN_INFO("logmgr",
            "%s: opened %zu partition log(s) after a%s shutdown in %" PRId64 " ms on %zu "
            "thread(s): %zu segment(s); %zu partition(s) recovered (%zu segment(s) validated), "
            "%zu cut (%" PRIu64 " bytes, %zu later segment(s) deleted); %zu offline",
            mgr->dir, rn_map_count(&mgr->table), mgr->clean ? " clean" : "n unclean", ms, nthreads,
            nsegs, nrecovered, nsegs_recovered, ncut, bytes_cut, nsegs_deleted, mgr->noffline);
done:
    rn_map_free(&rp_index);
    rn_map_free(&ls_index);
    rn_checkpoint_free(&rp_cp);
    rn_checkpoint_free(&ls_cp);
    return rc;
}

rn_plog_t *rn_logmgr_get(rn_logmgr_t *mgr, const char *topic, int32_t partition)
{
    lm_entry_t *e = table_find(mgr, topic, partition);
    return e != NULL ? e->log : NULL;
}

int rn_logmgr_create(rn_logmgr_t *mgr, const char *topic, int32_t partition,
                     const rn_plog_config_t *cfg, rn_plog_t **out)
{
    if (out != NULL)
        *out = NULL;
    if (!rn_datadir_topic_valid(topic, strlen(topic)) || partition < 0)
        return RN_EINVAL;
    rn_plog_t *existing = rn_logmgr_get(mgr, topic, partition);
    if (existing != NULL) {
        if (out != NULL)
            *out = existing;
        return RN_EEXIST;
    }
    const lm_offline_t *off = find_offline(mgr, topic, partition);
    if (off != NULL)
        return off->rc;
    rn_plog_config_t local;
    if (cfg == NULL) {
        config_for(mgr, topic, partition, &local);
        cfg = &local;
    }
    rn_plog_open_opts_t popts = {0};
    popts.create = 1;
    popts.clean = 1; /* a new directory has nothing to recover */
    popts.now_ms = rn_clock_wall_ms();
    char why[512];
    int rc = open_partition(mgr, topic, partition, cfg, &popts, out, why, sizeof(why));
    if (rc != 0)
        RN_ERROR("logmgr", "create %s-%" PRId32 ": %s", topic, partition, why);
    else
        RN_INFO("logmgr", "created log %s-%" PRId32 " in %s", topic, partition, mgr->dir);
    return rc;
}

int rn_logmgr_close_log(rn_logmgr_t *mgr, const char *topic, int32_t partition)
{
    lm_offline_t *off = find_offline(mgr, topic, partition);
    if (off != NULL) {
        rn_free(off->topic);
        *off = mgr->offline[--mgr->noffline];
        return 0;
    }
    pthread_mutex_lock(&mgr->mu);
    tp_key_t k = {topic, partition};
    lm_entry_t *e = rn_map_remove(&mgr->table, tp_hash(topic, partition), entry_is, &k);
    pthread_mutex_unlock(&mgr->mu);
    if (e == NULL)
        return RN_ENOTFOUND;
    rn_plog_close(e->log);
    rn_free(e->topic);
    rn_free(e);
    return 0;
}

int rn_logmgr_delete_dir(rn_logmgr_t *mgr, const char *topic, int32_t partition)
{
    char path[PATH_MAX], dest[PATH_MAX], id[RN_UUID_TEXT_LEN + 1], hex[33];
    if (rn_datadir_partition_path(mgr->dd, topic, partition, path, sizeof(path)) != 0)
        return RN_EINVAL;
    pthread_mutex_lock(&mgr->mu);
    bool open = table_find(mgr, topic, partition) != NULL;
    pthread_mutex_unlock(&mgr->mu);
    if (open)
        return RN_EEXIST;
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return RN_ENOTFOUND;
    rn_uuid_t uuid;
    if (rn_uuid_random(&uuid) != 0)
        memset(&uuid, 0, sizeof(uuid));
    rn_uuid_to_text(&uuid, id);
    size_t n = 0;
    for (const char *p = id; *p; p++)
        if (*p != '-')
            hex[n++] = *p;
    hex[n] = 0;
    /* Kafka's name: "<topic>-<partition>.<uuid without dashes>-delete", the topic cut so the
     * name fits in 255 bytes. */
    char suffix[64];
    snprintf(suffix, sizeof(suffix), "-%" PRId32 ".%s-delete", partition, hex);
    int topic_len = (int)strlen(topic);
    if (topic_len > 255 - (int)strlen(suffix))
        topic_len = 255 - (int)strlen(suffix);
    snprintf(dest, sizeof(dest), "%s/%.*s%s", mgr->dir, topic_len, topic, suffix);
    if (rename(path, dest) != 0) {
        RN_ERROR("logmgr", "delete %s-%" PRId32 ": cannot rename %s to %s: %s", topic, partition,
                 path, dest, strerror(errno));
        return RN_EIO;
    }
    RN_INFO("logmgr", "deleted partition %s-%" PRId32 " (renamed to %s, removal pending)", topic,
            partition, dest);
    queue_deleted(mgr, dest);
    return 0;
}

int rn_logmgr_delete(rn_logmgr_t *mgr, const char *topic, int32_t partition)
{
    int closed = rn_logmgr_close_log(mgr, topic, partition);
    int rc = rn_logmgr_delete_dir(mgr, topic, partition);
    return rc == RN_ENOTFOUND && closed == 0 ? RN_EIO : rc;
}

int rn_logmgr_prepare(rn_logmgr_t *mgr, const char *topic, int32_t partition,
                      const rn_uuid_t *topic_id, bool fresh, char *err, size_t errlen)
{
    char path[PATH_MAX];
    int rc = rn_datadir_partition_path(mgr->dd, topic, partition, path, sizeof(path));
    if (rc != 0) {
        rn_fsutil_seterr(err, errlen, "%s-%" PRId32 ": invalid partition name", topic, partition);
        return rc;
    }
    if ((rc = rn_fsutil_mkdirs(path, 0755, err, errlen)) != 0)
        return rc;
    if (fresh)
        return rn_partmeta_save(path, topic_id, err, errlen);
    rn_uuid_t on_disk;
    char why[512];
    rc = rn_partmeta_load(path, &on_disk, why, sizeof(why));
    if (rc == RN_ENOTFOUND)
        return rn_partmeta_save(path, topic_id, err, errlen);
    if (rc != 0)
        RN_WARN("logmgr", "%s-%" PRId32 ": %s", topic, partition, why);
    else if (!rn_uuid_equal(&on_disk, topic_id))
        RN_WARN("logmgr",
                "%s-%" PRId32 ": partition.metadata holds another topic id; the directory may "
                "be left from a deleted topic of the same name",
                topic, partition);
    return 0;
}

typedef struct prep_job {
    rn_logmgr_t *mgr;
    const rn_logmgr_prep_t *items;
    int rc; /* first failure (under mu) */
    char err[512];
    pthread_mutex_t mu;
} prep_job_t;

static void prep_one(void *ctx, size_t i)
{
    prep_job_t *job = ctx;
    const rn_logmgr_prep_t *it = &job->items[i];
    char why[512];
    int rc =
        rn_logmgr_prepare(job->mgr, it->topic, it->partition, it->topic_id, true, why, sizeof(why));
    if (rc != 0) {
        pthread_mutex_lock(&job->mu);
        if (job->rc == 0) {
            job->rc = rc;
            snprintf(job->err, sizeof(job->err), "%s", why);
        }
        pthread_mutex_unlock(&job->mu);
    }
}

int rn_logmgr_prepare_many(rn_logmgr_t *mgr, const rn_logmgr_prep_t *items, size_t n, char *err,
                           size_t errlen)
{
    prep_job_t job = {.mgr = mgr, .items = items};
    pthread_mutex_init(&job.mu, NULL);
    /* I/O-bound: threads wait on fsyncs, so more of them than CPUs is the point. */
    each_parallel(n, n / 8 + 1, prep_one, &job);
    pthread_mutex_destroy(&job.mu);
    if (job.rc != 0)
        rn_fsutil_seterr(err, errlen, "%s", job.err);
    return job.rc;
}

int rn_logmgr_sync_dir(rn_logmgr_t *mgr, char *err, size_t errlen)
{
    return rn_fsutil_fsync_dir(mgr->dir, err, errlen);
}

int rn_logmgr_purge_deleted(rn_logmgr_t *mgr)
{
    pthread_mutex_lock(&mgr->mu);
    char **paths = mgr->deleted;
    size_t n = mgr->ndeleted;
    mgr->deleted = NULL;
    mgr->ndeleted = mgr->cap_deleted = 0;
    pthread_mutex_unlock(&mgr->mu);
    int removed = 0, failed = 0;
    for (size_t i = 0; i < n; i++) {
        char why[512];
        if (rn_fsutil_remove_tree(paths[i], why, sizeof(why)) == 0) {
            removed++;
        } else {
            RN_ERROR("logmgr", "%s; will retry", why);
            queue_deleted(mgr, paths[i]);
            failed = 1;
        }
        rn_free(paths[i]);
    }
    rn_free(paths);
    return failed ? RN_EIO : removed;
}

/* References to every log (under the lock), for work done outside it. */
static rn_plog_t **snapshot_logs(rn_logmgr_t *mgr, size_t *n, rn_checkpoint_entry_t **names)
{
    pthread_mutex_lock(&mgr->mu);
    size_t count = rn_map_count(&mgr->table);
    rn_plog_t **logs = rn_xcalloc(count + 1, sizeof(*logs));
    if (names != NULL)
        *names = rn_xcalloc(count + 1, sizeof(**names));
    size_t k = 0;
    size_t pos = 0;
    for (lm_entry_t *e; (e = rn_map_next(&mgr->table, &pos)) != NULL;) {
        rn__plog_ref(e->log);
        if (names != NULL) {
            (*names)[k].topic = rn_xstrdup(e->topic);
            (*names)[k].partition = e->partition;
        }
        logs[k++] = e->log;
    }
    pthread_mutex_unlock(&mgr->mu);
    *n = k;
    return logs;
}

static void release_logs(rn_plog_t **logs, size_t n, rn_checkpoint_entry_t *names)
{
    for (size_t i = 0; i < n; i++) {
        rn__plog_unref(logs[i]);
        if (names != NULL)
            rn_free(names[i].topic);
    }
    rn_free(logs);
    rn_free(names);
}

int rn_logmgr_checkpoint(rn_logmgr_t *mgr, const rn_checkpoint_entry_t *hws, size_t nhw, char *err,
                         size_t errlen)
{
    size_t n;
    rn_checkpoint_entry_t *names;
    rn_plog_t **logs = snapshot_logs(mgr, &n, &names);
    pthread_mutex_lock(&mgr->ckpt_mu);
    char path[PATH_MAX];
    for (size_t i = 0; i < n; i++)
        names[i].offset = rn_plog_recovery_point(logs[i]);
    snprintf(path, sizeof(path), "%s/%s", mgr->dir, RN_CHECKPOINT_RECOVERY_POINT);
    int rc = rn_checkpoint_save(path, names, n, err, errlen);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            names[i].offset = rn_plog_log_start_offset(logs[i]);
        snprintf(path, sizeof(path), "%s/%s", mgr->dir, RN_CHECKPOINT_LOG_START);
        rc = rn_checkpoint_save(path, names, n, err, errlen);
    }
    if (rc == 0 && hws != NULL) {
        snprintf(path, sizeof(path), "%s/%s", mgr->dir, RN_CHECKPOINT_REPLICATION);
        rc = rn_checkpoint_save(path, hws, nhw, err, errlen);
    }
    pthread_mutex_unlock(&mgr->ckpt_mu);
    if (rc != 0)
        RN_ERROR("logmgr", "checkpoint of %s failed: %s", mgr->dir, err ? err : rn_strerror(rc));
    release_logs(logs, n, names);
    return rc;
}

int rn_logmgr_flush_all(rn_logmgr_t *mgr)
{
    size_t n;
    rn_plog_t **logs = snapshot_logs(mgr, &n, NULL);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        int r = rn_plog_flush(logs[i]);
        if (r != 0 && rc == 0)
            rc = r;
    }
    release_logs(logs, n, NULL);
    return rc;
}

int rn_logmgr_retain(rn_logmgr_t *mgr, int64_t now_ms, const rn_logmgr_retain_ops_t *ops)
{
    int total = 0;
    size_t pos = 0;
    for (lm_entry_t *e; (e = rn_map_next(&mgr->table, &pos)) != NULL;) {
        if (ops != NULL && ops->wants != NULL &&
            !ops->wants(ops->arg, e->topic, e->partition, e->log))
            continue;
        int64_t before = rn_plog_log_start_offset(e->log);
        int deleted = 0;
        int rc = rn_plog_retain(e->log, now_ms, &deleted);
        if (rc != 0)
            RN_WARN("logmgr", "retention of %s failed: %s", rn_plog_name(e->log), rn_strerror(rc));
        total += deleted;
        if (deleted == 0 && rn_plog_log_start_offset(e->log) == before)
            continue;
        RN_INFO("logmgr", "retention deleted %d segment(s) of %s; log start %" PRId64, deleted,
                rn_plog_name(e->log), rn_plog_log_start_offset(e->log));
        if (ops != NULL && ops->retained != NULL)
            ops->retained(ops->arg, e->topic, e->partition, e->log);
    }
    return total;
}

size_t rn_logmgr_count(const rn_logmgr_t *mgr)
{
    return rn_map_count(&mgr->table);
}

int64_t rn_logmgr_checkpointed_hw(const rn_logmgr_t *mgr, const char *topic, int32_t partition)
{
    return checkpoint_offset(&mgr->hw_index, topic, partition);
}

bool rn_logmgr_was_clean_shutdown(const rn_logmgr_t *mgr)
{
    return mgr->clean;
}

rn_datadir_t *rn_logmgr_datadir(rn_logmgr_t *mgr)
{
    return mgr->dd;
}

rn_flusher_t *rn_logmgr_flusher(rn_logmgr_t *mgr)
{
    return mgr->flusher;
}

int rn_logmgr_close(rn_logmgr_t *mgr, bool clean, const rn_checkpoint_entry_t *hws, size_t nhw,
                    char *err, size_t errlen)
{
    if (mgr == NULL)
        return 0;
    int rc = 0;
    /* Stop background flushing first so the final flush and checkpoint see a quiet state. */
    rn_flusher_stop(mgr->flusher);
    mgr->flusher = NULL;
    if (clean) {
        rc = rn_logmgr_flush_all(mgr);
        if (rc != 0)
            rn_fsutil_seterr(err, errlen, "%s: flushing the logs failed; no clean-shutdown marker",
                             mgr->dir);
        else
            rc = rn_logmgr_checkpoint(mgr, hws, nhw, err, errlen);
    }
    mgr_free_table(mgr);
    int rc2 = rn_datadir_close(mgr->dd, clean && rc == 0, rc == 0 ? err : NULL, errlen);
    if (rc == 0)
        rc = rc2;
    if (rc == 0)
        RN_INFO("logmgr", "%s: closed%s", mgr->dir, clean ? " cleanly" : "");
    mgr_free(mgr);
    return rc;
}
