/* gcoord_write.c: the group coordinator's writes that are acknowledged only once replicated
 * (rn_gcoord.h): OffsetCommit (the offsets enter the cache then) and the group metadata
 * records behind SyncGroup and JoinGroup (rn_group's ops.store). Each waits for the
 * partition's high watermark through storage.replicated, at most offsets.commit.timeout.ms;
 * a failed write is answered with Kafka's mapping. When this node stops leading a partition,
 * rn__gcoord_drop_partition withdraws its waits and answers them NOT_COORDINATOR. */
#include "gcoord_int.h"

#include "rn_alloc.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_records.h"

#include <string.h>

/* Kafka's mapping of an append error for a group metadata write (storeGroup). */
static int16_t store_error(int16_t err)
{
    switch (err) {
    case RN_KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case RN_KERR_NOT_ENOUGH_REPLICAS:
    case RN_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND: return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    case RN_KERR_NOT_LEADER_OR_FOLLOWER:
    case RN_KERR_KAFKA_STORAGE_ERROR: return RN_KERR_NOT_COORDINATOR;
    case RN_KERR_REQUEST_TIMED_OUT: return RN_KERR_REBALANCE_IN_PROGRESS;
    case RN_KERR_MESSAGE_TOO_LARGE:
    case RN_KERR_RECORD_LIST_TOO_LARGE:
    case RN_KERR_INVALID_FETCH_SIZE: return RN_KERR_UNKNOWN_SERVER_ERROR;
    default: return err;
    }
}

/* ... and for an offset commit (storeOffsets). */
static int16_t commit_error(int16_t err)
{
    switch (err) {
    case RN_KERR_UNKNOWN_TOPIC_OR_PARTITION:
    case RN_KERR_NOT_ENOUGH_REPLICAS:
    case RN_KERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND: return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    case RN_KERR_NOT_LEADER_OR_FOLLOWER:
    case RN_KERR_KAFKA_STORAGE_ERROR: return RN_KERR_NOT_COORDINATOR;
    case RN_KERR_MESSAGE_TOO_LARGE:
    case RN_KERR_RECORD_LIST_TOO_LARGE:
    case RN_KERR_INVALID_FETCH_SIZE: return RN_KERR_INVALID_COMMIT_OFFSET_SIZE;
    default: return err;
    }
}

/* ---- appends waiting for replication ---- */

/* One append of a group's records whose acknowledgement waits for the high watermark: a
 * group metadata record (rn_group's store token) or an OffsetCommit (the offsets to put in
 * the cache once replicated, and the caller's items to fill while it still waits). Linked in
 * gc->writes; e->n_writes counts the group's, which keeps the group from being removed. */
typedef struct gwrite {
    struct gwrite *prev, *next;
    gentry_t *e;
    void *wait;    /* the storage's handle while waiting */
    bool starting; /* inside storage.replicated: an answer now is kept for write_start */
    bool finished;
    int16_t error; /* the replication outcome, once finished */
    bool commit;
    uint64_t token; /* !commit */
    /* commit: */
    size_t n;
    rn_str_t *topics;
    int32_t *partitions;
    rn_groupstore_offset_t *vals; /* metadata copied (owned) */
    size_t *which;                /* the caller's item of each */
    rn_gcoord_commit_t *items;    /* NULL once the caller went away */
    void (*done)(void *arg);      /* NULL while rn_gcoord_commit runs, or after cancel */
    void *arg;
} gwrite_t;

static gwrite_t *write_new(rn_gcoord_t *gc, gentry_t *e, bool commit)
{
    gwrite_t *gw = rn_xcalloc(1, sizeof(*gw));
    gw->e = e;
    gw->commit = commit;
    gw->next = gc->writes;
    if (gc->writes != NULL)
        gc->writes->prev = gw;
    gc->writes = gw;
    e->n_writes++;
    return gw;
}

/* Take gw out of gc->writes and its group's count. */
static void write_unlink(rn_gcoord_t *gc, gwrite_t *gw)
{
    if (gw->prev != NULL)
        gw->prev->next = gw->next;
    else
        gc->writes = gw->next;
    if (gw->next != NULL)
        gw->next->prev = gw->prev;
    gw->prev = gw->next = NULL;
    gw->e->n_writes--;
    gw->e = NULL;
}

static void write_release(gwrite_t *gw)
{
    for (size_t i = 0; i < gw->n; i++) {
        rn_str_free(gw->topics[i]);
        rn_free((void *)gw->vals[i].metadata.ptr);
    }
    rn_free(gw->topics);
    rn_free(gw->partitions);
    rn_free(gw->vals);
    rn_free(gw->which);
    rn_free(gw);
}

static void write_free(rn_gcoord_t *gc, gwrite_t *gw)
{
    write_unlink(gc, gw);
    write_release(gw);
}

/* Fill the caller's items of a commit with error (when it still waits for them). */
static void write_fill(gwrite_t *gw, int16_t error)
{
    for (size_t k = 0; gw->items != NULL && k < gw->n; k++)
        gw->items[gw->which[k]].error = error;
}

/* The replication outcome is known: record the offsets / report the store, answer, free. */
static void write_finish(rn_gcoord_t *gc, gwrite_t *gw)
{
    gentry_t *e = gw->e;
    int64_t now = rn__gcoord_now_ms(gc);
    if (!gw->commit) {
        int16_t err = store_error(gw->error);
        uint64_t token = gw->token;
        write_free(gc, gw);
        rn_group_store_done(e->group, token, err, now);
        rn__gcoord_touch(gc, e);
        return;
    }
    int16_t err = commit_error(gw->error);
    if (err == RN_KERR_NONE) {
        for (size_t k = 0; k < gw->n; k++)
            rn_committed_put(e->offsets, gw->topics[k].ptr, (size_t)gw->topics[k].len,
                             gw->partitions[k], &gw->vals[k]);
    } else {
        RN_WARN("group", "group=%s: offset commit of %zu partition(s) not replicated (error %d)",
                RN_STR_ESC(e->id), gw->n, gw->error);
    }
    write_fill(gw, err);
    void (*done)(void *) = gw->items != NULL ? gw->done : NULL;
    void *arg = gw->arg;
    write_free(gc, gw);
    if (done != NULL)
        done(arg);
}

static void write_replicated(void *arg, int16_t error)
{
    gwrite_t *gw = arg;
    gw->wait = NULL;
    gw->finished = true;
    gw->error = error;
    if (!gw->starting)
        write_finish(gw->e->gc, gw);
}

/* Wait for the high watermark to pass last (the write's batch). true when the outcome was
 * known at once and gw is finished and gone; false when it waits. */
static bool write_start(rn_gcoord_t *gc, gwrite_t *gw, int32_t partition, int64_t last)
{
    rn_topic_t *t = rn__gcoord_offsets_topic(gc);
    rn_partition_t *part = t != NULL ? rn_topic_partition(t, partition) : NULL;
    if (gc->o.storage.replicated == NULL || part == NULL) {
        gw->error = part != NULL ? RN_KERR_NONE : RN_KERR_NOT_LEADER_OR_FOLLOWER;
        write_finish(gc, gw);
        return true;
    }
    gw->starting = true;
    void *wait = gc->o.storage.replicated(gc->o.storage.arg, part, last, gc->commit_timeout_ms,
                                          write_replicated, gw);
    gw->starting = false;
    if (gw->finished) {
        write_finish(gc, gw);
        return true;
    }
    gw->wait = wait;
    return false;
}

/* Withdraw gw's replication wait (leadership lost, shutting down). */
static void write_cancel(rn_gcoord_t *gc, gwrite_t *gw)
{
    if (gw->wait != NULL && gc->o.storage.cancel_wait != NULL)
        gc->o.storage.cancel_wait(gc->o.storage.arg, gw->wait);
    gw->wait = NULL;
}

void rn_gcoord_commit_cancel(rn_gcoord_t *gc, void *arg)
{
    for (gwrite_t *gw = gc->writes; gw != NULL; gw = gw->next) {
        if (gw->commit && gw->items != NULL && gw->arg == arg) {
            gw->items = NULL; /* the write goes on: the offsets still enter the cache */
            gw->done = NULL;
            return;
        }
    }
}

void rn__gcoord_store(void *arg, rn_group_t *group, const rn_groupstore_group_t *meta,
                      uint64_t token)
{
    gentry_t *e = arg;
    rn_gcoord_t *gc = e->gc;
    uint8_t *key = NULL, *value = NULL;
    size_t klen = 0, vlen = 0;
    int16_t err = RN_KERR_UNKNOWN_SERVER_ERROR;
    int64_t last = -1;
    if (rn_groupstore_encode_group_key(e->id, &key, &klen) == 0 &&
        rn_groupstore_encode_group(meta, 3, &value, &vlen) == 0) {
        rn_record_spec_t rec = {key, klen, value, vlen, NULL, 0, rn__gcoord_now_ms(gc)};
        err = rn__gcoord_append(gc, e->partition, &rec, 1, &last);
    }
    rn_free(key);
    rn_free(value);
    if (err != RN_KERR_NONE) {
        rn_group_store_done(group, token, store_error(err), rn__gcoord_now_ms(gc));
        return;
    }
    gwrite_t *gw = write_new(gc, e, false);
    gw->token = token;
    write_start(gc, gw, e->partition, last);
}

int rn_gcoord_commit(rn_gcoord_t *gc, rn_str_t group, rn_str_t member_id, rn_str_t instance_id,
                     int32_t generation, int64_t retention_ms, rn_gcoord_commit_t *items, size_t n,
                     void (*done)(void *arg), void *arg)
{
    int32_t p;
    int16_t err = rn__gcoord_check(gc, group, true, &p);
    gentry_t *e = NULL;
    if (err == RN_KERR_NONE) {
        e = rn__gcoord_find_entry(gc, group);
        if (e == NULL && generation < 0)
            e = rn__gcoord_add_entry(gc, group,
                                     p); /* a simple consumer: Kafka keeps an Empty group */
        else if (e == NULL)
            err = RN_KERR_ILLEGAL_GENERATION;
    }
    if (err == RN_KERR_NONE) {
        err = rn_group_check_commit(e->group, member_id, instance_id, generation,
                                    rn__gcoord_now_ms(gc));
        rn__gcoord_touch(gc, e);
    }
    if (err != RN_KERR_NONE) {
        for (size_t i = 0; i < n; i++)
            if (items[i].error == RN_KERR_NONE)
                items[i].error = err;
        return 0;
    }

    int64_t now = rn__gcoord_now_ms(gc);
    rn_record_spec_t *recs = rn_xcalloc(n ? n : 1, sizeof(*recs));
    gwrite_t *gw = write_new(gc, e, true);
    gw->topics = rn_xcalloc(n ? n : 1, sizeof(*gw->topics));
    gw->partitions = rn_xcalloc(n ? n : 1, sizeof(*gw->partitions));
    gw->vals = rn_xcalloc(n ? n : 1, sizeof(*gw->vals));
    gw->which = rn_xcalloc(n ? n : 1, sizeof(*gw->which));
    gw->items = items;
    size_t nrec = 0;
    for (size_t i = 0; i < n; i++) {
        rn_gcoord_commit_t *it = &items[i];
        if (it->error != RN_KERR_NONE)
            continue;
        if (it->metadata.len > RN_GCOORD_MAX_METADATA) {
            it->error = RN_KERR_OFFSET_METADATA_TOO_LARGE;
            continue;
        }
        rn_groupstore_offset_t v = {it->offset, it->leader_epoch,
                                    it->metadata.len >= 0 ? it->metadata : (rn_str_t){"", 0},
                                    it->commit_timestamp != -1 ? it->commit_timestamp : now,
                                    retention_ms >= 0 ? now + retention_ms : -1};
        uint8_t *key = NULL, *value = NULL;
        size_t klen, vlen;
        if (rn_groupstore_encode_offset_key(e->id, it->topic, it->partition, &key, &klen) != 0 ||
            rn_groupstore_encode_offset(&v, rn_groupstore_offset_version(&v), &value, &vlen) != 0) {
            rn_free(key);
            it->error = RN_KERR_UNKNOWN_SERVER_ERROR;
            continue;
        }
        recs[nrec] = (rn_record_spec_t){key, klen, value, vlen, NULL, 0, now};
        /* The cache's copy outlives the request: metadata (may hold NUL bytes) and topic. */
        char *md = rn_xmalloc((size_t)v.metadata.len + 1);
        if (v.metadata.len > 0)
            memcpy(md, v.metadata.ptr, (size_t)v.metadata.len);
        v.metadata.ptr = md;
        gw->vals[nrec] = v;
        gw->topics[nrec] = rn_str_xdup(it->topic.len >= 0 ? it->topic : rn_str(""));
        gw->partitions[nrec] = it->partition;
        gw->which[nrec] = i;
        gw->n = ++nrec;
    }
    int64_t last = -1;
    err = commit_error(rn__gcoord_append(gc, e->partition, recs, nrec, &last));
    for (size_t k = 0; k < nrec; k++) {
        rn_free((void *)recs[k].key);
        rn_free((void *)recs[k].value);
    }
    rn_free(recs);
    if (err != RN_KERR_NONE || nrec == 0) {
        write_fill(gw, err);
        write_free(gc, gw);
        return 0;
    }
    if (write_start(gc, gw, e->partition, last))
        return 0;
    gw->done = done;
    gw->arg = arg;
    return 1;
}

void rn__gcoord_drop_partition(rn_gcoord_t *gc, int32_t p, int16_t error)
{
    /* Commits waiting to be answered are taken out first and answered last: answering a
     * request may close its connection, which withdraws other waiters of the table. */
    gwrite_t *answer = NULL;
    for (gwrite_t *gw = gc->writes, *next; gw != NULL; gw = next) {
        next = gw->next;
        if (gw->e->partition != p)
            continue;
        write_cancel(gc, gw);
        if (gw->commit && gw->items != NULL && gw->done != NULL) {
            write_fill(gw, error);
            write_unlink(gc, gw);
            gw->next = answer;
            answer = gw;
        } else {
            write_free(gc, gw);
        }
    }
    size_t groups = 0;
    for (size_t i = 0; i < gc->n;) {
        gentry_t *e = gc->entries[i];
        if (e->partition != p) {
            i++;
            continue;
        }
        rn_group_unload(e->group, error);
        rn__gcoord_remove_entry(gc, e);
        groups++;
    }
    if (groups > 0)
        RN_INFO("group", "%s-%d: %zu group(s) dropped (error %d to their members)",
                RN_GROUPSTORE_TOPIC, p, groups, error);
    while (answer != NULL) {
        gwrite_t *gw = answer;
        answer = gw->next;
        void (*done)(void *) = gw->done;
        void *arg = gw->arg;
        write_release(gw);
        done(arg);
    }
}

void rn__gcoord_writes_free(rn_gcoord_t *gc)
{
    /* The server has cancelled every parked request: nobody is answered. */
    while (gc->writes != NULL) {
        write_cancel(gc, gc->writes);
        write_free(gc, gc->writes);
    }
}
