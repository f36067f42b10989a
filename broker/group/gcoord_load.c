/* gcoord_load.c: rebuilding the group coordinator's state at start-up by replaying every
 * __consumer_offsets partition this node leads, as Kafka's GroupMetadataManager does: offset
 * commits and group metadata records in log order, the last one of a key wins, a tombstone
 * deletes; then each group is restored (Stable with its members, or Empty) with its
 * offsets, and groups left with neither are dropped. */
#include "gcoord_int.h"

#include "rn_alloc.h"
#include "rn_arena.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_plog.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* ---- loading ---- */

typedef struct load_ctx {
    rn_gcoord_t *gc;
    int32_t partition;
    size_t records;
} load_ctx_t;

static int load_record(void *arg, const rn_groupstore_key_t *key, const uint8_t *value,
                       int32_t value_len, int64_t offset)
{
    load_ctx_t *lc = arg;
    rn_gcoord_t *gc = lc->gc;
    char *id = rn_xstrndup(key->group.ptr != NULL ? key->group.ptr : "",
                           key->group.len > 0 ? (size_t)key->group.len : 0);
    gentry_t *e = rn__gcoord_find_entry(gc, id);
    lc->records++;
    if (key->version == RN_GROUPSTORE_KEY_GROUP) {
        if (value == NULL) {
            if (e != NULL) {
                rn_free(e->load_meta);
                e->load_meta = NULL;
                e->load_meta_len = 0;
            }
        } else {
            if (e == NULL)
                e = rn__gcoord_add_entry(gc, id, lc->partition);
            rn_free(e->load_meta);
            e->load_meta = rn_xmalloc((size_t)value_len + 1);
            memcpy(e->load_meta, value, (size_t)value_len);
            e->load_meta_len = (size_t)value_len;
        }
    } else {
        char *topic = rn_xstrndup(key->topic.ptr != NULL ? key->topic.ptr : "",
                                  key->topic.len > 0 ? (size_t)key->topic.len : 0);
        if (value == NULL) {
            if (e != NULL)
                rn_committed_remove(e->offsets, topic, strlen(topic), key->partition);
        } else {
            rn_groupstore_offset_t v;
            int rc = rn_groupstore_decode_offset(value, (size_t)value_len, &v);
            if (rc == 0) {
                if (e == NULL)
                    e = rn__gcoord_add_entry(gc, id, lc->partition);
                rn_committed_put(e->offsets, topic, strlen(topic), key->partition, &v);
            } else {
                RN_WARN("group",
                        "%s-%d offset %lld: unreadable offset commit for group %s "
                        "(%s); skipped",
                        RN_GROUPSTORE_TOPIC, lc->partition, (long long)offset, id, rn_strerror(rc));
            }
        }
        rn_free(topic);
    }
    rn_free(id);
    return 0;
}

/* Turn what the replay left in the entries of partition p into groups. */
static size_t load_finish(rn_gcoord_t *gc, int32_t p)
{
    size_t groups = 0;
    int64_t now = rn__gcoord_now_ms(gc);
    for (size_t i = 0; i < gc->n;) {
        gentry_t *e = gc->entries[i];
        if (e->partition != p) {
            i++;
            continue;
        }
        bool keep = rn_committed_count(e->offsets) > 0;
        if (e->load_meta != NULL) {
            rn_arena_t arena;
            rn_arena_init(&arena, 0);
            rn_groupstore_group_t meta;
            int rc = rn_groupstore_decode_group(e->load_meta, e->load_meta_len, &arena, &meta);
            if (rc == 0)
                rc = rn_group_restore(e->group, &meta, now);
            if (rc != 0)
                RN_WARN("group",
                        "group=%s: unreadable group metadata record (%s); loaded "
                        "without members",
                        e->id, rn_strerror(rc));
            else
                keep = true;
            rn_arena_free(&arena);
            rn_free(e->load_meta);
            e->load_meta = NULL;
        }
        if (!keep) {
            rn__gcoord_remove_entry(gc, e);
            continue;
        }
        RN_INFO("group",
                "group=%s: loaded from %s-%d: %s, generation %d, %zu members, %zu "
                "offsets",
                e->id, RN_GROUPSTORE_TOPIC, p, rn_group_state_name(rn_group_state(e->group)),
                rn_group_generation(e->group), rn_group_member_count(e->group),
                rn_committed_count(e->offsets));
        rn__gcoord_touch(gc, e);
        groups++;
        i++;
    }
    return groups;
}

/* Read every batch of the log and replay it. 0 or RN_E*. */
static int load_log(rn_gcoord_t *gc, struct rn_plog *log, load_ctx_t *lc)
{
    int64_t off = rn_plog_log_start_offset(log), end = rn_plog_log_end_offset(log);
    size_t cap = 1 << 20;
    uint8_t *buf = rn_xmalloc(cap);
    int rc = 0;
    while (off < end && rc == 0) {
        rn_plog_slice_t slice;
        rc = rn_plog_read(log, off, (int64_t)cap, -1, &slice);
        if (rc != 0 || slice.length == 0)
            break;
        if (slice.length > cap) {
            cap = slice.length;
            buf = rn_xrealloc(buf, cap);
        }
        size_t got = 0;
        while (got < slice.length) {
            ssize_t r =
                pread(slice.fd, buf + got, slice.length - got, (off_t)(slice.position + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            got += (size_t)r;
        }
        rn_plog_slice_release(&slice);
        rn_groupstore_progress_t pr;
        rc = rn_groupstore_replay(buf, got, &pr, load_record, lc);
        if (rc == 0 && pr.consumed == 0)
            rc = RN_ECORRUPT; /* a read that yields no whole batch cannot make progress */
        if (pr.next_offset > off)
            off = pr.next_offset;
    }
    rn_free(buf);
    return rc;
}

size_t rn_gcoord_load(rn_gcoord_t *gc)
{
    rn_topic_t *t = rn__gcoord_offsets_topic(gc);
    if (t == NULL)
        return 0;
    rn_free(gc->loaded);
    gc->loaded = rn_xcalloc((size_t)t->n_partitions + 1, sizeof(*gc->loaded));
    gc->n_loaded = t->n_partitions;
    size_t groups = 0;
    for (int32_t p = 0; p < t->n_partitions; p++) {
        rn_partition_t *part = rn_topic_partition(t, p);
        if (part == NULL || part->leader_id != gc->o.node_id)
            continue;
        struct rn_plog *log = gc->o.storage.log(gc->o.storage.arg, part);
        if (log == NULL) {
            RN_ERROR("group", "%s-%d cannot be opened; its groups are unavailable",
                     RN_GROUPSTORE_TOPIC, p);
            continue;
        }
        load_ctx_t lc = {gc, p, 0};
        int rc = load_log(gc, log, &lc);
        if (rc != 0)
            RN_ERROR("group",
                     "%s-%d: replay stopped after %zu records: %s; later records are "
                     "ignored",
                     RN_GROUPSTORE_TOPIC, p, lc.records, rn_strerror(rc));
        groups += load_finish(gc, p);
        gc->loaded[p] = true;
    }
    RN_INFO("group", "loaded %zu groups from %s", groups, RN_GROUPSTORE_TOPIC);
    return groups;
}
