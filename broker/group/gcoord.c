/* gcoord.c: the group coordinator (rn_gcoord.h) — the table of groups, their timers, the
 * __consumer_offsets topic (creation on first use, appends), the group APIs, offset
 * deletions, and offset expiry. Membership rules live in group.c; the replay of a partition
 * and leadership changes in gcoord_load.c; OffsetCommit and the writes that wait for
 * replication in gcoord_write.c. */
#include "gcoord_int.h"
#include "rn_clock.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_hash.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_plog.h"
#include "rn_records.h"
#include "rn_vec.h"

#include <event2/event.h>
#include <string.h>
#include <time.h>

int64_t rn__gcoord_now_ms(const rn_gcoord_t *gc)
{
    if (gc->o.now_ms != NULL)
        return gc->o.now_ms();
    return rn_clock_wall_ms();
}

/* ---- the group table ---- */

static bool entry_has_id(const void *item, const void *key)
{
    const gentry_t *e = item;
    return rn_str_eq(e->id, *(const rn_str_t *)key);
}

static uint64_t id_hash(rn_str_t id)
{
    return rn_hash_bytes(id.ptr, id.len > 0 ? (size_t)id.len : 0);
}

gentry_t *rn__gcoord_find_entry(const rn_gcoord_t *gc, rn_str_t id)
{
    return rn_map_get(&gc->by_id, id_hash(id), entry_has_id, &id);
}

static void entry_join_done(void *arg, void *waiter, const rn_group_join_result_t *res)
{
    gentry_t *e = arg;
    e->gc->o.join_done(e->gc->o.arg, waiter, res);
}

static void entry_sync_done(void *arg, void *waiter, const rn_group_sync_result_t *res)
{
    gentry_t *e = arg;
    e->gc->o.sync_done(e->gc->o.arg, waiter, res);
}

static void entry_timer(evutil_socket_t fd, short what, void *arg);

gentry_t *rn__gcoord_add_entry(rn_gcoord_t *gc, rn_str_t id, int32_t partition)
{
    gentry_t *e = rn_xcalloc(1, sizeof(*e));
    e->gc = gc;
    e->id = rn_str_xdup(id.len >= 0 ? id : rn_str(""));
    e->partition = partition;
    rn_group_ops_t ops = {entry_join_done, entry_sync_done, rn__gcoord_store, e};
    e->group = rn_group_new(id, &gc->gcfg, &ops, rn__gcoord_now_ms(gc));
    e->offsets = rn_committed_new();
    e->timer = evtimer_new(gc->o.base, entry_timer, e);
    e->pos = gc->n;
    rn_vec_xpush(gc->entries, gc->n, gc->cap, e);
    rn_map_xput(&gc->by_id, id_hash(e->id), e);
    return e;
}

static void free_entry(gentry_t *e)
{
    if (e->timer != NULL)
        event_free(e->timer);
    rn_group_free(e->group);
    rn_committed_free(e->offsets);
    rn_free(e->load_meta);
    rn_str_free(e->id);
    rn_free(e);
}

void rn__gcoord_remove_entry(rn_gcoord_t *gc, gentry_t *e)
{
    rn_map_remove_item(&gc->by_id, id_hash(e->id), e);
    gc->entries[e->pos] = gc->entries[--gc->n];
    gc->entries[e->pos]->pos = e->pos;
    free_entry(e);
}

/* Re-arm the group's timer at its next deadline. */
void rn__gcoord_touch(rn_gcoord_t *gc, gentry_t *e)
{
    int64_t at = rn_group_next_deadline(e->group);
    if (at == INT64_MAX) {
        evtimer_del(e->timer);
        return;
    }
    int64_t delay = at - rn__gcoord_now_ms(gc);
    if (delay < 0)
        delay = 0;
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};
    evtimer_add(e->timer, &tv);
}

static void entry_timer(evutil_socket_t fd, short what, void *arg)
{
    gentry_t *e = arg;
    rn_group_tick(e->group, rn__gcoord_now_ms(e->gc));
    rn__gcoord_touch(e->gc, e);
}

/* ---- the topic and appends ---- */

rn_topic_t *rn__gcoord_offsets_topic(const rn_gcoord_t *gc)
{
    rn_topic_t *t = rn_topics_find(gc->o.topics, RN_GROUPSTORE_TOPIC, strlen(RN_GROUPSTORE_TOPIC));
    return t != NULL && !t->deleted ? t : NULL;
}

/* Kafka's validateGroupStatus: a valid id (non-empty except for the offset, describe and
 * delete APIs) on a loaded partition this node leads. */
int16_t rn__gcoord_check(const rn_gcoord_t *gc, rn_str_t group, bool empty_ok, int32_t *partition)
{
    if (group.len < 0 || (!empty_ok && group.len == 0))
        return RN_KERR_INVALID_GROUP_ID;
    rn_topic_t *t = rn__gcoord_offsets_topic(gc);
    if (t == NULL || !t->ready || t->n_partitions <= 0)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    int32_t p = rn_groupstore_partition_for(group.ptr, (size_t)group.len, t->n_partitions);
    rn_partition_t *part = rn_topic_partition(t, p);
    if (part == NULL || part->leader_id < 0)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (part->leader_id != gc->o.node_id)
        return RN_KERR_NOT_COORDINATOR;
    pstate_t st = p < gc->n_parts ? gc->parts[p].state : PART_NONE;
    if (st == PART_FAILED)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (st != PART_LOADED) /* loading, or about to: the replica module takes the role */
        return RN_KERR_COORDINATOR_LOAD_IN_PROGRESS;
    if (partition != NULL)
        *partition = p;
    return RN_KERR_NONE;
}

static int16_t kerr_of_append(int rc)
{
    switch (rc) {
    case 0: return RN_KERR_NONE;
    case RN_EIO: return RN_KERR_KAFKA_STORAGE_ERROR;
    case RN_ETOOBIG: return RN_KERR_RECORD_LIST_TOO_LARGE;
    case RN_ENOTFOUND: return RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    default: return RN_KERR_UNKNOWN_SERVER_ERROR;
    }
}

/* Append records to a partition of __consumer_offsets as one batch. Kafka's error code, and
 * the batch's last offset in *last (may be NULL). The log is written before this returns
 * (the page cache survives a process crash; fsync follows the topic's flush settings, as for
 * every partition); replication is the caller's wait (write_start). */
int16_t rn__gcoord_append(rn_gcoord_t *gc, int32_t partition, const rn_record_spec_t *recs,
                          size_t n, int64_t *last)
{
    if (last != NULL)
        *last = -1;
    if (n == 0)
        return RN_KERR_NONE;
    rn_topic_t *t = rn__gcoord_offsets_topic(gc);
    rn_partition_t *part = t != NULL ? rn_topic_partition(t, partition) : NULL;
    if (part == NULL)
        return RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    if (part->leader_id != gc->o.node_id)
        return RN_KERR_NOT_LEADER_OR_FOLLOWER;
    struct rn_plog *log = gc->o.storage.log(gc->o.storage.arg, part);
    if (log == NULL)
        return RN_KERR_KAFKA_STORAGE_ERROR;
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    uint8_t *buf;
    size_t len;
    int rc = rn_batch_build(&spec, recs, n, &buf, &len);
    if (rc != 0)
        return rc == RN_ENOMEM ? RN_KERR_UNKNOWN_SERVER_ERROR : RN_KERR_RECORD_LIST_TOO_LARGE;
    rn_plog_append_info_t info;
    rc = rn_plog_append(log, buf, len, part->leader_epoch, rn__gcoord_now_ms(gc), &info);
    rn_free(buf);
    if (rc != 0) {
        RN_ERROR("group", "%s-%d: cannot append %zu group record(s): %s", RN_GROUPSTORE_TOPIC,
                 partition, n, rn_strerror(rc));
        return kerr_of_append(rc);
    }
    if (gc->o.storage.appended != NULL)
        gc->o.storage.appended(gc->o.storage.arg, part, part->leader_epoch, info.base_offset,
                               (int64_t)info.bytes);
    if (last != NULL)
        *last = info.last_offset;
    return RN_KERR_NONE;
}

/* Tombstones for the given offsets and, when the group is gone, its metadata record. */
typedef struct tombstones {
    rn_record_spec_t *recs;
    size_t n, cap;
} tombstones_t;

static void tomb_add(tombstones_t *t, uint8_t *key, size_t klen, int64_t ts)
{
    rn_vec_xpush(t->recs, t->n, t->cap, ((rn_record_spec_t){key, klen, NULL, 0, NULL, 0, ts}));
}

static void tomb_offset(tombstones_t *t, const gentry_t *e, rn_str_t topic, int32_t partition,
                        int64_t ts)
{
    uint8_t *key;
    size_t klen;
    if (rn_groupstore_encode_offset_key(e->id, topic, partition, &key, &klen) == 0)
        tomb_add(t, key, klen, ts);
}

static int16_t tomb_write(rn_gcoord_t *gc, int32_t partition, tombstones_t *t)
{
    int16_t err = rn__gcoord_append(gc, partition, t->recs, t->n, NULL);
    for (size_t i = 0; i < t->n; i++)
        rn_free((void *)t->recs[i].key);
    rn_free(t->recs);
    t->recs = NULL;
    t->n = t->cap = 0;
    return err;
}

/* Kafka's cleanupGroupMetadata tail: an Empty group left without offsets is Dead and goes,
 * with a tombstone for its record if it ever had a generation. The group's tombstones are
 * written here; the entry may be freed (returns true then). */
static bool cleanup(rn_gcoord_t *gc, gentry_t *e, tombstones_t *t)
{
    int64_t now = rn__gcoord_now_ms(gc);
    /* A group with a commit or record on its way is not gone yet. */
    bool dead = rn_group_state(e->group) == RN_GROUP_EMPTY && rn_committed_count(e->offsets) == 0 &&
                e->n_writes == 0;
    if (dead) {
        if (rn_group_generation(e->group) > 0) {
            uint8_t *key;
            size_t klen;
            if (rn_groupstore_encode_group_key(e->id, &key, &klen) == 0)
                tomb_add(t, key, klen, now);
        }
        rn_group_mark_dead(e->group, now);
    }
    int16_t err = tomb_write(gc, e->partition, t);
    if (err != RN_KERR_NONE)
        RN_WARN("group",
                "group=%s: tombstones not written (error %d); they come back after a "
                "restart",
                RN_STR_ESC(e->id), err);
    if (dead) {
        RN_INFO("group", "group=%s: Dead and removed (no members, no offsets)", RN_STR_ESC(e->id));
        rn__gcoord_remove_entry(gc, e);
    }
    return dead;
}

/* ---- partitions ---- */

gpart_t *rn__gcoord_part(rn_gcoord_t *gc, int32_t p)
{
    if (p >= gc->n_parts) {
        int32_t n = p + 1;
        gc->parts = rn_xrealloc(gc->parts, (size_t)n * sizeof(*gc->parts));
        memset(gc->parts + gc->n_parts, 0, (size_t)(n - gc->n_parts) * sizeof(*gc->parts));
        gc->n_parts = n;
    }
    return &gc->parts[p];
}

bool rn__gcoord_leads(const rn_gcoord_t *gc, rn_partition_t *part)
{
    if (gc->o.storage.leads != NULL)
        return gc->o.storage.leads(gc->o.storage.arg, part);
    return part->leader_id == gc->o.node_id;
}

/* ---- FindCoordinator ---- */

static void topic_created(void *arg, int rc)
{
    create_job_t *job = arg;
    rn_gcoord_t *gc = job->gc;
    rn_free(job);
    if (gc == NULL)
        return; /* the coordinator was freed meanwhile */
    gc->creating = NULL;
    rn_topic_t *t = rn__gcoord_offsets_topic(gc);
    int16_t err = RN_KERR_NONE;
    if (rc != 0 || t == NULL || !t->ready) {
        RN_ERROR("group", "cannot create %s: %s", RN_GROUPSTORE_TOPIC,
                 rc != 0 ? rn_strerror(rc) : "topic not ready");
        err = RN_KERR_COORDINATOR_NOT_AVAILABLE;
    } else {
        /* Opening the logs of the partitions this node leads lets the replica module take up
         * their leadership (which loads them through rn_gcoord_set_leader); a new topic's
         * logs are empty, so they are loaded before this goes on. */
        for (int32_t p = 0; p < t->n_partitions; p++) {
            rn_partition_t *part = rn_topic_partition(t, p);
            if (part->leader_id != gc->o.node_id ||
                gc->o.storage.log(gc->o.storage.arg, part) == NULL)
                continue;
            if (rn__gcoord_leads(gc, part))
                rn_gcoord_set_leader(gc, part, true);
        }
        RN_INFO("group", "created %s with %d partitions", RN_GROUPSTORE_TOPIC, t->n_partitions);
    }
    while (gc->waiters != NULL) {
        topic_waiter_t *w = gc->waiters;
        gc->waiters = w->next;
        void (*done)(void *, int16_t) = w->done;
        void *warg = w->arg;
        rn_free(w);
        done(warg, err);
    }
}

int rn_gcoord_wait_topic(rn_gcoord_t *gc, void (*done)(void *arg, int16_t error), void *arg)
{
    rn_topic_t *t = rn__gcoord_offsets_topic(gc);
    if (t != NULL && t->ready && gc->creating == NULL)
        return 0;
    topic_waiter_t *w = rn_xcalloc(1, sizeof(*w));
    w->done = done;
    w->arg = arg;
    w->next = gc->waiters;
    gc->waiters = w;
    if (gc->creating != NULL)
        return 1;
    gc->creating = rn_xcalloc(1, sizeof(*gc->creating));
    gc->creating->gc = gc;
    if (t == NULL) {
        const rn_config_t *cfg = gc->o.cfg;
        int32_t parts = (int32_t)rn_config_int(cfg, RN_CFG_OFFSETS_TOPIC_NUM_PARTITIONS);
        /* offsets.topic.replication.factor capped at the cluster's size; the controller
         * refuses it while fewer brokers are registered, as Kafka does. */
        int64_t rf =
            cfg->offsets_topic_replication_factor > 0 ? cfg->offsets_topic_replication_factor : 1;
        char seg[32];
        snprintf(seg, sizeof(seg), "%lld",
                 (long long)rn_config_int(cfg, RN_CFG_OFFSETS_TOPIC_SEGMENT_BYTES));
        rn_topicconf_t conf = {0};
        rn_topicconf_set(&conf, RN_TC_CLEANUP_POLICY, "compact");
        rn_topicconf_set(&conf, RN_TC_COMPRESSION_TYPE, "producer");
        rn_topicconf_set(&conf, RN_TC_SEGMENT_BYTES, seg);
        rn_topics_create(gc->o.topics, RN_GROUPSTORE_TOPIC, strlen(RN_GROUPSTORE_TOPIC), parts,
                         (int16_t)rf, &conf);
        rn_topicconf_free(&conf);
        RN_INFO("group", "creating %s (%d partitions, replication factor %lld, compacted)",
                RN_GROUPSTORE_TOPIC, parts, (long long)rf);
    }
    /* Creating, or created by someone else and not yet on disk: either way the topic is
     * ready once the registry persist queued now (after any earlier one) has run. */
    rn_topics_commit(gc->o.topics, gc->o.offload, topic_created, gc->creating);
    return 1;
}

void rn_gcoord_cancel_wait(rn_gcoord_t *gc, void *arg)
{
    for (topic_waiter_t **pp = &gc->waiters; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->arg == arg) {
            topic_waiter_t *w = *pp;
            *pp = w->next;
            rn_free(w);
            return;
        }
    }
}

int16_t rn_gcoord_find(rn_gcoord_t *gc, rn_str_t group, int32_t *node_id)
{
    rn_topic_t *t = rn__gcoord_offsets_topic(gc);
    *node_id = -1;
    if (t == NULL || !t->ready || t->n_partitions <= 0)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    rn_partition_t *part = rn_topic_partition(
        t, rn_groupstore_partition_for(group.ptr, group.len > 0 ? (size_t)group.len : 0,
                                       t->n_partitions));
    if (part == NULL || part->leader_id < 0)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    *node_id = part->leader_id;
    return RN_KERR_NONE;
}

/* ---- group APIs ---- */

static void join_fail(rn_gcoord_t *gc, void *waiter, rn_str_t member_id, int16_t err)
{
    rn_group_join_result_t res = {.error = err,
                                  .member_id = member_id.len >= 0 ? member_id : rn_str(""),
                                  .generation_id = RN_GROUP_NO_GENERATION,
                                  .protocol_type = RN_STR_NULL,
                                  .protocol_name = RN_STR_NULL,
                                  .leader_id = rn_str("")};
    gc->o.join_done(gc->o.arg, waiter, &res);
}

void rn_gcoord_join(rn_gcoord_t *gc, rn_str_t group, const rn_group_join_req_t *req, void *waiter)
{
    int32_t p;
    int16_t err = rn__gcoord_check(gc, group, false, &p);
    if (err != RN_KERR_NONE) {
        join_fail(gc, waiter, req->member_id, err);
        return;
    }
    gentry_t *e = rn__gcoord_find_entry(gc, group);
    if (e == NULL) {
        if (req->member_id.len > 0) {
            join_fail(gc, waiter, req->member_id, RN_KERR_UNKNOWN_MEMBER_ID);
            return;
        }
        e = rn__gcoord_add_entry(gc, group, p);
    }
    rn_group_join(e->group, req, waiter, rn__gcoord_now_ms(gc));
    rn__gcoord_touch(gc, e);
}

void rn_gcoord_sync(rn_gcoord_t *gc, rn_str_t group, const rn_group_sync_req_t *req, void *waiter)
{
    int16_t err = rn__gcoord_check(gc, group, false, NULL);
    gentry_t *e = err == RN_KERR_NONE ? rn__gcoord_find_entry(gc, group) : NULL;
    if (err == RN_KERR_NONE && e == NULL)
        err = RN_KERR_UNKNOWN_MEMBER_ID;
    if (err != RN_KERR_NONE) {
        /* A loading coordinator lost the rebalance: the member must rejoin (Kafka answers
         * REBALANCE_IN_PROGRESS since old clients do not know LOAD_IN_PROGRESS here). */
        rn_group_sync_result_t res = {.error = err == RN_KERR_COORDINATOR_LOAD_IN_PROGRESS
                                                   ? RN_KERR_REBALANCE_IN_PROGRESS
                                                   : err,
                                      .protocol_type = RN_STR_NULL,
                                      .protocol_name = RN_STR_NULL};
        gc->o.sync_done(gc->o.arg, waiter, &res);
        return;
    }
    rn_group_sync(e->group, req, waiter, rn__gcoord_now_ms(gc));
    rn__gcoord_touch(gc, e);
}

void rn_gcoord_forget(rn_gcoord_t *gc, rn_str_t group, void *waiter)
{
    gentry_t *e = group.len >= 0 ? rn__gcoord_find_entry(gc, group) : NULL;
    if (e != NULL) {
        rn_group_forget_waiter(e->group, waiter);
        return;
    }
    for (size_t i = 0; i < gc->n; i++)
        rn_group_forget_waiter(gc->entries[i]->group, waiter);
}

int16_t rn_gcoord_heartbeat(rn_gcoord_t *gc, rn_str_t group, rn_str_t member_id,
                            rn_str_t instance_id, int32_t generation)
{
    int16_t err = rn__gcoord_check(gc, group, false, NULL);
    if (err == RN_KERR_COORDINATOR_LOAD_IN_PROGRESS)
        return RN_KERR_NONE; /* Kafka answers blindly while loading */
    if (err != RN_KERR_NONE)
        return err;
    gentry_t *e = rn__gcoord_find_entry(gc, group);
    if (e == NULL)
        return RN_KERR_UNKNOWN_MEMBER_ID;
    err = rn_group_heartbeat(e->group, member_id, instance_id, generation, rn__gcoord_now_ms(gc));
    rn__gcoord_touch(gc, e);
    return err;
}

int16_t rn_gcoord_leave(rn_gcoord_t *gc, rn_str_t group, rn_gcoord_leaver_t *members, size_t n)
{
    int16_t err = rn__gcoord_check(gc, group, false, NULL);
    if (err != RN_KERR_NONE)
        return err;
    gentry_t *e = rn__gcoord_find_entry(gc, group);
    if (e != NULL && rn_group_state(e->group) == RN_GROUP_DEAD)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    for (size_t i = 0; i < n; i++) {
        members[i].error = e == NULL
                               ? RN_KERR_UNKNOWN_MEMBER_ID
                               : rn_group_leave(e->group, members[i].member_id,
                                                members[i].instance_id, rn__gcoord_now_ms(gc));
    }
    if (e != NULL)
        rn__gcoord_touch(gc, e);
    return RN_KERR_NONE;
}

int16_t rn_gcoord_offsets(rn_gcoord_t *gc, rn_str_t group, const rn_committed_t **offsets)
{
    *offsets = NULL;
    int16_t err = rn__gcoord_check(gc, group, true, NULL);
    if (err != RN_KERR_NONE)
        return err;
    gentry_t *e = rn__gcoord_find_entry(gc, group);
    if (e != NULL && rn_group_state(e->group) != RN_GROUP_DEAD)
        *offsets = e->offsets;
    return RN_KERR_NONE;
}

int16_t rn_gcoord_describe(rn_gcoord_t *gc, rn_str_t group, const rn_group_t **out)
{
    *out = NULL;
    int16_t err = rn__gcoord_check(gc, group, true, NULL);
    if (err != RN_KERR_NONE)
        return err;
    gentry_t *e = rn__gcoord_find_entry(gc, group);
    if (e != NULL)
        *out = e->group;
    return RN_KERR_NONE;
}

/* Whether partition p's groups are served (not loading, led here). */
static bool served(const rn_gcoord_t *gc, int32_t p)
{
    return p >= 0 && p < gc->n_parts && gc->parts[p].state == PART_LOADED;
}

int16_t rn_gcoord_list(rn_gcoord_t *gc, const rn_group_t ***groups, size_t *n)
{
    rn_free(gc->listbuf);
    gc->listbuf = rn_xcalloc(gc->n ? gc->n : 1, sizeof(*gc->listbuf));
    size_t k = 0;
    for (size_t i = 0; i < gc->n; i++)
        if (served(gc, gc->entries[i]->partition) &&
            rn_group_state(gc->entries[i]->group) != RN_GROUP_DEAD)
            gc->listbuf[k++] = gc->entries[i]->group;
    *groups = gc->listbuf;
    *n = k;
    return gc->n_loading > 0 ? RN_KERR_COORDINATOR_LOAD_IN_PROGRESS : RN_KERR_NONE;
}

int16_t rn_gcoord_delete_group(rn_gcoord_t *gc, rn_str_t group)
{
    int16_t err = rn__gcoord_check(gc, group, true, NULL);
    if (err != RN_KERR_NONE)
        return err;
    gentry_t *e = rn__gcoord_find_entry(gc, group);
    if (e == NULL || rn_group_state(e->group) == RN_GROUP_DEAD)
        return RN_KERR_GROUP_ID_NOT_FOUND;
    if (rn_group_state(e->group) != RN_GROUP_EMPTY)
        return RN_KERR_NON_EMPTY_GROUP;
    int64_t now = rn__gcoord_now_ms(gc);
    tombstones_t t = {0};
    for (size_t i = 0; i < rn_committed_count(e->offsets); i++) {
        const rn_offset_entry_t *o = rn_committed_at(e->offsets, i);
        tomb_offset(&t, e, (rn_str_t){o->topic, (int32_t)o->topic_len}, o->partition, now);
    }
    rn_committed_clear(e->offsets);
    RN_INFO("group", "group=%s: deleted (%zu offsets)", RN_STR_ESC(e->id), t.n);
    cleanup(gc, e, &t);
    return RN_KERR_NONE;
}

int16_t rn_gcoord_delete_offsets(rn_gcoord_t *gc, rn_str_t group, rn_gcoord_tp_t *items, size_t n)
{
    int16_t err = rn__gcoord_check(gc, group, true, NULL);
    if (err != RN_KERR_NONE)
        return err;
    gentry_t *e = rn__gcoord_find_entry(gc, group);
    if (e == NULL || rn_group_state(e->group) == RN_GROUP_DEAD)
        return RN_KERR_GROUP_ID_NOT_FOUND;
    rn_group_state_t st = rn_group_state(e->group);
    bool consumer = rn_str_eq_cstr(rn_group_protocol_type(e->group), "consumer");
    if (st != RN_GROUP_EMPTY && !consumer)
        return RN_KERR_NON_EMPTY_GROUP;
    int64_t now = rn__gcoord_now_ms(gc);
    tombstones_t t = {0};
    for (size_t i = 0; i < n; i++) {
        rn_gcoord_tp_t *it = &items[i];
        if (it->error != RN_KERR_NONE)
            continue;
        if (st != RN_GROUP_EMPTY && rn_group_is_subscribed(e->group, it->topic)) {
            it->error = RN_KERR_GROUP_SUBSCRIBED_TO_TOPIC;
            continue;
        }
        size_t tlen = it->topic.len > 0 ? (size_t)it->topic.len : 0;
        if (rn_committed_remove(e->offsets, it->topic.ptr, tlen, it->partition))
            tomb_offset(&t, e, it->topic, it->partition, now);
    }
    cleanup(gc, e, &t);
    return RN_KERR_NONE;
}

size_t rn_gcoord_expire(rn_gcoord_t *gc)
{
    int64_t now = rn__gcoord_now_ms(gc);
    size_t total = 0;
    for (size_t i = 0; i < gc->n;) {
        gentry_t *e = gc->entries[i];
        if (!served(gc, e->partition)) {
            i++; /* still loading: its offsets are not all known yet */
            continue;
        }
        size_t *idx = NULL;
        size_t k = rn_committed_expired(e->offsets, e->group, now, gc->retention_ms, &idx);
        tombstones_t t = {0};
        /* Remove from the highest index down: removal moves the last entry into the slot. */
        for (size_t j = k; j-- > 0;) {
            const rn_offset_entry_t *o = rn_committed_at(e->offsets, idx[j]);
            rn_str_t topic = rn_str_xdup((rn_str_t){o->topic, (int32_t)o->topic_len});
            int32_t part = o->partition;
            tomb_offset(&t, e, topic, part, now);
            rn_committed_remove(e->offsets, topic.ptr, (size_t)topic.len, part);
            rn_str_free(topic);
        }
        rn_free(idx);
        total += k;
        if (k > 0)
            RN_INFO("group", "group=%s: %zu committed offsets expired", RN_STR_ESC(e->id), k);
        if (!cleanup(gc, e, &t))
            i++;
    }
    return total;
}

static void expire_timer(evutil_socket_t fd, short what, void *arg)
{
    rn_gcoord_expire(arg);
}

size_t rn_gcoord_group_count(const rn_gcoord_t *gc)
{
    size_t k = 0;
    for (size_t i = 0; i < gc->n; i++)
        k += rn_group_state(gc->entries[i]->group) != RN_GROUP_DEAD;
    return k;
}

size_t rn_gcoord_size(const rn_gcoord_t *gc)
{
    return gc->n;
}

const rn_group_t *rn_gcoord_at(const rn_gcoord_t *gc, size_t i, const rn_committed_t **offsets)
{
    *offsets = gc->entries[i]->offsets;
    return gc->entries[i]->group;
}

/* ---- lifecycle ---- */

rn_gcoord_t *rn_gcoord_new(const rn_gcoord_opts_t *opts)
{
    rn_gcoord_t *gc = rn_xcalloc(1, sizeof(*gc));
    gc->o = *opts;
    rn_group_config_default(&gc->gcfg);
    const rn_config_t *cfg = opts->cfg;
    gc->gcfg.initial_rebalance_delay_ms =
        (int32_t)rn_config_int(cfg, RN_CFG_GROUP_INITIAL_REBALANCE_DELAY_MS);
    gc->gcfg.min_session_timeout_ms =
        (int32_t)rn_config_int(cfg, RN_CFG_GROUP_MIN_SESSION_TIMEOUT_MS);
    gc->gcfg.max_session_timeout_ms =
        (int32_t)rn_config_int(cfg, RN_CFG_GROUP_MAX_SESSION_TIMEOUT_MS);
    gc->retention_ms = rn_config_int(cfg, RN_CFG_OFFSETS_RETENTION_MINUTES) * 60000;
    gc->commit_timeout_ms = (int32_t)rn_config_int(cfg, RN_CFG_OFFSETS_COMMIT_TIMEOUT_MS);
    gc->expire_timer = event_new(opts->base, -1, EV_PERSIST, expire_timer, gc);
    struct timeval tv = {RN_GCOORD_RETENTION_CHECK_MS / 1000, 0};
    event_add(gc->expire_timer, &tv);
    return gc;
}

void rn_gcoord_free(rn_gcoord_t *gc)
{
    if (gc == NULL)
        return;
    rn__gcoord_writes_free(gc);
    rn__gcoord_loads_free(gc);
    while (gc->n > 0)
        rn__gcoord_remove_entry(gc, gc->entries[gc->n - 1]);
    while (gc->waiters != NULL) {
        topic_waiter_t *w = gc->waiters;
        gc->waiters = w->next;
        rn_free(w);
    }
    if (gc->creating != NULL)
        gc->creating->gc = NULL; /* the job frees itself */
    if (gc->expire_timer != NULL)
        event_free(gc->expire_timer);
    rn_free(gc->entries);
    rn_map_free(&gc->by_id);
    rn_free(gc->parts);
    rn_free(gc->listbuf);
    rn_free(gc);
}
