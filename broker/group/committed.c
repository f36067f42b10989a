/* committed.c: a group's committed offsets (rn_committed.h) — entries in a dense array for
 * iteration, indexed by an open-addressing hash table of (topic, partition). */
#include "group/rn_committed.h"

#include "rn_alloc.h"

#include <string.h>

struct rn_committed {
    rn_offset_entry_t *entries; /* dense, n used */
    size_t n, cap;
    uint32_t *slots; /* index + 1 into entries; 0 = free; nslots is a power of two */
    size_t nslots;
};

static uint32_t hash_key(const char *topic, size_t len, int32_t partition)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)topic[i]) * 16777619u;
    h = (h ^ (uint32_t)partition) * 16777619u;
    return h ^ (h >> 15);
}

static bool key_eq(const rn_offset_entry_t *e, const char *topic, size_t len, int32_t partition)
{
    return e->partition == partition && e->topic_len == len && memcmp(e->topic, topic, len) == 0;
}

/* The slot holding the key, or the free slot where it would go. */
static size_t find_slot(const rn_committed_t *o, const char *topic, size_t len, int32_t partition)
{
    size_t mask = o->nslots - 1;
    size_t i = hash_key(topic, len, partition) & mask;
    while (o->slots[i] != 0 && !key_eq(&o->entries[o->slots[i] - 1], topic, len, partition))
        i = (i + 1) & mask;
    return i;
}

static void rehash(rn_committed_t *o, size_t nslots)
{
    rn_free(o->slots);
    o->nslots = nslots;
    o->slots = rn_xcalloc(nslots, sizeof(*o->slots));
    for (size_t k = 0; k < o->n; k++) {
        const rn_offset_entry_t *e = &o->entries[k];
        o->slots[find_slot(o, e->topic, e->topic_len, e->partition)] = (uint32_t)(k + 1);
    }
}

rn_committed_t *rn_committed_new(void)
{
    rn_committed_t *o = rn_xcalloc(1, sizeof(*o));
    rehash(o, 16);
    return o;
}

static void entry_free(rn_offset_entry_t *e)
{
    rn_free(e->topic);
    rn_free(e->metadata);
}

void rn_committed_clear(rn_committed_t *o)
{
    for (size_t k = 0; k < o->n; k++)
        entry_free(&o->entries[k]);
    o->n = 0;
    memset(o->slots, 0, o->nslots * sizeof(*o->slots));
}

void rn_committed_free(rn_committed_t *o)
{
    if (o == NULL)
        return;
    rn_committed_clear(o);
    rn_free(o->entries);
    rn_free(o->slots);
    rn_free(o);
}

size_t rn_committed_count(const rn_committed_t *o)
{
    return o->n;
}

const rn_offset_entry_t *rn_committed_at(const rn_committed_t *o, size_t i)
{
    return i < o->n ? &o->entries[i] : NULL;
}

const rn_offset_entry_t *rn_committed_get(const rn_committed_t *o, const char *topic,
                                          size_t topic_len, int32_t partition)
{
    uint32_t s = o->slots[find_slot(o, topic, topic_len, partition)];
    return s != 0 ? &o->entries[s - 1] : NULL;
}

void rn_committed_put(rn_committed_t *o, const char *topic, size_t topic_len, int32_t partition,
                      const rn_groupstore_offset_t *v)
{
    size_t slot = find_slot(o, topic, topic_len, partition);
    rn_offset_entry_t *e;
    if (o->slots[slot] != 0) {
        e = &o->entries[o->slots[slot] - 1];
        rn_free(e->metadata);
    } else {
        if (o->n == o->cap) {
            o->cap = o->cap ? o->cap * 2 : 8;
            o->entries = rn_xrealloc(o->entries, o->cap * sizeof(*o->entries));
        }
        e = &o->entries[o->n++];
        e->topic = rn_xstrndup(topic, topic_len);
        e->topic_len = topic_len;
        e->partition = partition;
        o->slots[slot] = (uint32_t)o->n;
        if (o->n * 2 > o->nslots)
            rehash(o, o->nslots * 2);
    }
    e->offset = v->offset;
    e->leader_epoch = v->leader_epoch;
    e->metadata = v->metadata.len > 0 ? rn_xstrndup(v->metadata.ptr, (size_t)v->metadata.len)
                                      : rn_xstrdup("");
    e->commit_ts = v->commit_timestamp;
    e->expire_ts = v->expire_timestamp;
}

bool rn_committed_remove(rn_committed_t *o, const char *topic, size_t topic_len, int32_t partition)
{
    size_t slot = find_slot(o, topic, topic_len, partition);
    if (o->slots[slot] == 0)
        return false;
    size_t k = o->slots[slot] - 1;
    entry_free(&o->entries[k]);
    if (k != o->n - 1)
        o->entries[k] = o->entries[o->n - 1];
    o->n--;
    /* Linear probing: rebuilding the index is the simplest correct deletion, and removals
     * (expiry, OffsetDelete, DeleteGroups) are rare next to lookups. */
    rehash(o, o->nslots);
    return true;
}

bool rn_committed_has_topic(const rn_committed_t *o, const char *topic, size_t topic_len)
{
    for (size_t k = 0; k < o->n; k++)
        if (o->entries[k].topic_len == topic_len &&
            memcmp(o->entries[k].topic, topic, topic_len) == 0)
            return true;
    return false;
}

size_t rn_committed_expired(const rn_committed_t *o, const rn_group_t *g, int64_t now_ms,
                            int64_t retention_ms, size_t **out)
{
    enum { NONE, FROM_EMPTY, UNSUBSCRIBED, FROM_COMMIT } rule = FROM_COMMIT;
    int64_t empty_since = -1;
    if (g != NULL) {
        const char *type = rn_group_protocol_type(g);
        rn_group_state_t st = rn_group_state(g);
        if (type != NULL && st == RN_GROUP_EMPTY) {
            rule = FROM_EMPTY;
            empty_since = rn_group_state_timestamp(g);
        } else if (type != NULL && strcmp(type, "consumer") == 0 && st == RN_GROUP_STABLE &&
                   rn_group_subscriptions_known(g)) {
            rule = UNSUBSCRIBED;
        } else if (type != NULL) {
            rule = NONE;
        }
    }
    *out = NULL;
    if (rule == NONE || o->n == 0)
        return 0;
    size_t *idx = rn_xmalloc(o->n * sizeof(*idx));
    size_t n = 0;
    for (size_t k = 0; k < o->n; k++) {
        const rn_offset_entry_t *e = &o->entries[k];
        if (rule == UNSUBSCRIBED && rn_group_is_subscribed(g, e->topic))
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
