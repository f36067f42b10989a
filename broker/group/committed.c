/* committed.c: a group's committed offsets (rn_committed.h) — entries in a dense array for
 * iteration, indexed by an rn_map of (topic, partition). */
#include "group/rn_committed.h"

#include "rn_alloc.h"
#include "rn_hash.h"
#include "rn_map.h"
#include "rn_vec.h"

#include <string.h>

/* Entries are allocated one by one so their addresses are stable for the map; entries[] is
 * the iteration order and index finds them by (topic, partition). */
struct rn_committed {
    rn_offset_entry_t **entries; /* dense, n used */
    size_t n, cap;
    rn_map_t index; /* of the entries */
};

typedef struct tp_key {
    const char *topic;
    size_t len;
    int32_t partition;
} tp_key_t;

static uint64_t hash_key(const char *topic, size_t len, int32_t partition)
{
    return rn_hash_combine(rn_hash_bytes(topic, len), (uint32_t)partition);
}

static bool key_eq(const void *item, const void *key)
{
    const rn_offset_entry_t *e = item;
    const tp_key_t *k = key;
    return e->partition == k->partition && e->topic_len == k->len &&
           memcmp(e->topic, k->topic, k->len) == 0;
}

static rn_offset_entry_t *find(const rn_committed_t *o, const char *topic, size_t len,
                               int32_t partition)
{
    tp_key_t k = {topic, len, partition};
    return rn_map_get(&o->index, hash_key(topic, len, partition), key_eq, &k);
}

rn_committed_t *rn_committed_new(void)
{
    return rn_xcalloc(1, sizeof(rn_committed_t));
}

static void entry_free(rn_offset_entry_t *e)
{
    rn_free(e->topic);
    rn_free(e->metadata);
    rn_free(e);
}

void rn_committed_clear(rn_committed_t *o)
{
    for (size_t k = 0; k < o->n; k++)
        entry_free(o->entries[k]);
    o->n = 0;
    rn_map_clear(&o->index);
}

void rn_committed_free(rn_committed_t *o)
{
    if (o == NULL)
        return;
    rn_committed_clear(o);
    rn_free(o->entries);
    rn_map_free(&o->index);
    rn_free(o);
}

size_t rn_committed_count(const rn_committed_t *o)
{
    return o->n;
}

const rn_offset_entry_t *rn_committed_at(const rn_committed_t *o, size_t i)
{
    return i < o->n ? o->entries[i] : NULL;
}

const rn_offset_entry_t *rn_committed_get(const rn_committed_t *o, const char *topic,
                                          size_t topic_len, int32_t partition)
{
    return find(o, topic, topic_len, partition);
}

void rn_committed_put(rn_committed_t *o, const char *topic, size_t topic_len, int32_t partition,
                      const rn_groupstore_offset_t *v)
{
    rn_offset_entry_t *e = find(o, topic, topic_len, partition);
    if (e != NULL) {
        rn_free(e->metadata);
    } else {
        e = rn_xcalloc(1, sizeof(*e));
        e->topic = rn_xstrndup(topic, topic_len);
        e->topic_len = topic_len;
        e->partition = partition;
        rn_vec_xpush(o->entries, o->n, o->cap, e);
        rn_map_xput(&o->index, hash_key(topic, topic_len, partition), e);
    }
    e->offset = v->offset;
    e->leader_epoch = v->leader_epoch;
    /* memcpy, not strndup: a client's metadata may hold NUL bytes and must come back whole. */
    e->metadata_len = v->metadata.len > 0 ? (size_t)v->metadata.len : 0;
    e->metadata = rn_xmalloc(e->metadata_len + 1);
    if (e->metadata_len > 0)
        memcpy(e->metadata, v->metadata.ptr, e->metadata_len);
    e->metadata[e->metadata_len] = '\0';
    e->commit_ts = v->commit_timestamp;
    e->expire_ts = v->expire_timestamp;
}

bool rn_committed_remove(rn_committed_t *o, const char *topic, size_t topic_len, int32_t partition)
{
    tp_key_t key = {topic, topic_len, partition};
    rn_offset_entry_t *e =
        rn_map_remove(&o->index, hash_key(topic, topic_len, partition), key_eq, &key);
    if (e == NULL)
        return false;
    size_t k = 0;
    while (o->entries[k] != e)
        k++;
    o->entries[k] = o->entries[--o->n];
    entry_free(e);
    return true;
}

bool rn_committed_has_topic(const rn_committed_t *o, const char *topic, size_t topic_len)
{
    for (size_t k = 0; k < o->n; k++)
        if (o->entries[k]->topic_len == topic_len &&
            memcmp(o->entries[k]->topic, topic, topic_len) == 0)
            return true;
    return false;
}

size_t rn_committed_expired(const rn_committed_t *o, const rn_group_t *g, int64_t now_ms,
                            int64_t retention_ms, size_t **out)
{
    enum { NONE, FROM_EMPTY, UNSUBSCRIBED, FROM_COMMIT } rule = FROM_COMMIT;
    int64_t empty_since = -1;
    if (g != NULL) {
        rn_str_t type = rn_group_protocol_type(g);
        rn_group_state_t st = rn_group_state(g);
        if (!rn_str_is_null(type) && st == RN_GROUP_EMPTY) {
            rule = FROM_EMPTY;
            empty_since = rn_group_state_timestamp(g);
        } else if (rn_str_eq_cstr(type, "consumer") && st == RN_GROUP_STABLE &&
                   rn_group_subscriptions_known(g)) {
            rule = UNSUBSCRIBED;
        } else if (!rn_str_is_null(type)) {
            rule = NONE;
        }
    }
    *out = NULL;
    if (rule == NONE || o->n == 0)
        return 0;
    size_t *idx = rn_xmalloc(o->n * sizeof(*idx));
    size_t n = 0;
    for (size_t k = 0; k < o->n; k++) {
        const rn_offset_entry_t *e = o->entries[k];
        if (rule == UNSUBSCRIBED &&
            rn_group_is_subscribed(g, (rn_str_t){e->topic, (int32_t)e->topic_len}))
            continue;
        bool expired;
        if (e->expire_ts >= 0) {
            expired = now_ms >= e->expire_ts;
        } else {
            int64_t base = rule == FROM_EMPTY && empty_since >= 0 ? empty_since : e->commit_ts;
            expired = now_ms - base >= retention_ms;
        }
        if (expired)
            idx[n++] = k;
    }
    if (n == 0) {
        rn_free(idx);
        return 0;
    }
    *out = idx;
    return n;
}
