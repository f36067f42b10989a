/* The fetch session cache (rn_fetchsess.h): sessions by id, each with its partitions in
 * order and interned topic keys; Kafka's eviction rules by a scan of the sessions, which
 * runs only when a full fetch finds the cache full (at most max_slots sessions). */
#include "data/rn_fetchsess.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_hash.h"
#include "rn_kerr.h"

#include <string.h>

struct rn_fetchsess_cache {
    rn_map_t sessions; /* of rn_fetchsess_t, by rn_hash_u64(id) */
    size_t max_slots;
    int64_t evict_ms;
    uint64_t seq; /* id fallback when no randomness can be had */
    rn_fetchsess_stats_t stats;
};

/* A (topic key, partition) to look for. */
typedef struct part_key {
    const void *key;
    size_t len;
    int32_t partition;
} part_key_t;

static uint64_t topic_hash(const void *key, size_t len)
{
    return rn_hash_bytes(key, len);
}

static uint64_t part_hash(uint64_t topic_hash, int32_t partition)
{
    return rn_hash_combine(topic_hash, (uint32_t)partition);
}

static bool topic_eq(const void *item, const void *key)
{
    const rn_fetchsess_topic_t *t = item;
    const part_key_t *k = key;
    return t->len == k->len && memcmp(t->key, k->key, k->len) == 0;
}

static bool part_eq(const void *item, const void *key)
{
    const rn_fetchsess_part_t *p = item;
    const part_key_t *k = key;
    return p->partition == k->partition && topic_eq(p->topic, k);
}

rn_fetchsess_cache_t *rn_fetchsess_cache_new(size_t max_slots, int64_t evict_ms)
{
    rn_fetchsess_cache_t *cache = rn_xcalloc(1, sizeof(*cache));
    cache->max_slots = max_slots;
    cache->evict_ms = evict_ms;
    return cache;
}

static void session_free(rn_fetchsess_t *sess)
{
    rn_fetchsess_part_t *part = sess->head;
    while (part) {
        rn_fetchsess_part_t *next = part->next;
        rn_free(part);
        part = next;
    }
    size_t pos = 0;
    rn_fetchsess_topic_t *topic;
    while ((topic = rn_map_next(&sess->topics, &pos)) != NULL)
        rn_free(topic);
    rn_map_free(&sess->parts);
    rn_map_free(&sess->topics);
    rn_free(sess);
}

void rn_fetchsess_cache_free(rn_fetchsess_cache_t *cache)
{
    if (!cache)
        return;
    size_t pos = 0;
    rn_fetchsess_t *sess;
    while ((sess = rn_map_next(&cache->sessions, &pos)) != NULL)
        session_free(sess);
    rn_map_free(&cache->sessions);
    rn_free(cache);
}

rn_fetchsess_t *rn_fetchsess_get(const rn_fetchsess_cache_t *cache, int32_t id)
{
    return rn_map_get(&cache->sessions, rn_hash_u64((uint32_t)id), NULL, NULL);
}

static void drop(rn_fetchsess_cache_t *cache, rn_fetchsess_t *sess)
{
    rn_map_remove_item(&cache->sessions, rn_hash_u64((uint32_t)sess->id), sess);
    cache->stats.sessions--;
    cache->stats.partitions -= sess->nparts;
    session_free(sess);
}

bool rn_fetchsess_remove(rn_fetchsess_cache_t *cache, int32_t id)
{
    rn_fetchsess_t *sess = rn_fetchsess_get(cache, id);
    if (!sess)
        return false;
    drop(cache, sess);
    return true;
}

/* Kafka's EvictableKey order: privileged after not, then by size, then by id. */
static int evict_cmp(bool ap, size_t an, int32_t aid, const rn_fetchsess_t *b)
{
    if (ap != b->privileged)
        return ap ? 1 : -1;
    if (an != b->nparts)
        return an < b->nparts ? -1 : 1;
    return aid < b->id ? -1 : aid > b->id ? 1 : 0;
}

/* Whether sess is in the evictable set a newcomer of this kind looks at; decided as of
 * its last use, as Kafka decides it when it touches a session. */
static bool evictable(const rn_fetchsess_cache_t *cache, const rn_fetchsess_t *sess,
                      bool privileged)
{
    bool old = sess->last_used_ms - sess->creation_ms > cache->evict_ms;
    return old || (privileged && !sess->privileged);
}

/* Make a slot for a newcomer (Kafka's tryEvict); true when one was freed. */
static bool try_evict(rn_fetchsess_cache_t *cache, int64_t now_ms, bool privileged, size_t nparts)
{
    rn_fetchsess_t *lru = NULL, *least = NULL, *sess;
    size_t pos = 0;
    while ((sess = rn_map_next(&cache->sessions, &pos)) != NULL) {
        if (!lru || sess->last_used_ms < lru->last_used_ms ||
            (sess->last_used_ms == lru->last_used_ms && sess->id < lru->id))
            lru = sess;
        if (evictable(cache, sess, privileged) &&
            (!least || evict_cmp(sess->privileged, sess->nparts, sess->id, least) < 0))
            least = sess;
    }
    if (!lru)
        return false;
    if (now_ms - lru->last_used_ms > cache->evict_ms) {
        drop(cache, lru); /* stale */
        cache->stats.evicted++;
        return true;
    }
    /* The newcomer's key has id 0, below every real id: it must be strictly worth more. */
    if (!least || evict_cmp(privileged, nparts, RN_FETCHSESS_INVALID_ID, least) < 0)
        return false;
    drop(cache, least);
    cache->stats.evicted++;
    return true;
}

/* A random id in [1, INT32_MAX) not in use (Kafka's newSessionId). */
static int32_t new_id(rn_fetchsess_cache_t *cache)
{
    for (;;) {
        uint32_t r;
        if (rn_random_bytes(&r, sizeof(r)) != 0)
            r = (uint32_t)rn_hash_u64(++cache->seq);
        int32_t id = (int32_t)(r % (uint32_t)(INT32_MAX - 1)) + 1;
        if (!rn_fetchsess_get(cache, id))
            return id;
    }
}

rn_fetchsess_t *rn_fetchsess_create(rn_fetchsess_cache_t *cache, int64_t now_ms, bool privileged,
                                    size_t nparts, bool uses_topic_ids)
{
    if (rn_map_count(&cache->sessions) >= cache->max_slots &&
        !try_evict(cache, now_ms, privileged, nparts))
        return NULL;
    if (rn_map_count(&cache->sessions) >= cache->max_slots)
        return NULL; /* max_slots 0 */
    rn_fetchsess_t *sess = rn_calloc(1, sizeof(*sess));
    if (!sess)
        return NULL;
    sess->id = new_id(cache);
    sess->epoch = rn_fetchsess_next_epoch(RN_FETCHSESS_INITIAL_EPOCH);
    sess->privileged = privileged;
    sess->uses_topic_ids = uses_topic_ids;
    sess->creation_ms = sess->last_used_ms = now_ms;
    if (rn_map_reserve(&sess->parts, nparts) != 0 ||
        rn_map_put(&cache->sessions, rn_hash_u64((uint32_t)sess->id), sess) != 0) {
        session_free(sess);
        return NULL;
    }
    cache->stats.sessions++;
    cache->stats.created++;
    return sess;
}

int16_t rn_fetchsess_lookup(const rn_fetchsess_cache_t *cache, int32_t id, int32_t epoch,
                            bool uses_topic_ids, rn_fetchsess_t **out)
{
    rn_fetchsess_t *sess = rn_fetchsess_get(cache, id);
    *out = NULL;
    if (!sess)
        return RN_KERR_FETCH_SESSION_ID_NOT_FOUND;
    if (sess->epoch != epoch)
        return RN_KERR_INVALID_FETCH_SESSION_EPOCH;
    if (sess->uses_topic_ids != uses_topic_ids)
        return RN_KERR_FETCH_SESSION_TOPIC_ID_ERROR;
    *out = sess;
    return RN_KERR_NONE;
}

rn_fetchsess_part_t *rn_fetchsess_find(const rn_fetchsess_t *sess, const void *key, size_t len,
                                       int32_t partition)
{
    part_key_t k = {key, len, partition};
    return rn_map_get(&sess->parts, part_hash(topic_hash(key, len), partition), part_eq, &k);
}

/* The session's interned copy of a topic key, with one more reference; NULL on OOM. */
static rn_fetchsess_topic_t *intern(rn_fetchsess_t *sess, const void *key, size_t len,
                                    uint64_t hash)
{
    part_key_t k = {key, len, 0};
    rn_fetchsess_topic_t *topic = rn_map_get(&sess->topics, hash, topic_eq, &k);
    if (!topic) {
        topic = rn_malloc(sizeof(*topic) + len);
        if (!topic)
            return NULL;
        *topic = (rn_fetchsess_topic_t){.hash = hash, .refs = 0, .len = (uint16_t)len};
        if (len > 0)
            memcpy(topic->key, key, len);
        if (rn_map_put(&sess->topics, hash, topic) != 0) {
            rn_free(topic);
            return NULL;
        }
    }
    topic->refs++;
    return topic;
}

static void unintern(rn_fetchsess_t *sess, rn_fetchsess_topic_t *topic)
{
    if (--topic->refs > 0)
        return;
    rn_map_remove_item(&sess->topics, topic->hash, topic);
    rn_free(topic);
}

static void link_tail(rn_fetchsess_t *sess, rn_fetchsess_part_t *part)
{
    part->next = NULL;
    part->prev = sess->tail;
    if (sess->tail)
        sess->tail->next = part;
    else
        sess->head = part;
    sess->tail = part;
}

static void unlink_part(rn_fetchsess_t *sess, rn_fetchsess_part_t *part)
{
    if (part->prev)
        part->prev->next = part->next;
    else
        sess->head = part->next;
    if (part->next)
        part->next->prev = part->prev;
    else
        sess->tail = part->prev;
    part->prev = part->next = NULL;
}

int rn_fetchsess_add(rn_fetchsess_cache_t *cache, rn_fetchsess_t *sess, const void *key, size_t len,
                     int32_t partition, const rn_fetchsess_params_t *params, size_t max_parts,
                     rn_fetchsess_part_t **out)
{
    if (len > UINT16_MAX)
        return RN_EINVAL;
    uint64_t th = topic_hash(key, len);
    uint64_t ph = part_hash(th, partition);
    part_key_t k = {key, len, partition};
    rn_fetchsess_part_t *part = rn_map_get(&sess->parts, ph, part_eq, &k);
    if (part) {
        part->params = *params; /* Kafka's updateRequestParams */
        if (out)
            *out = part;
        return 0;
    }
    if (sess->nparts >= max_parts)
        return RN_EFULL;
    part = rn_calloc(1, sizeof(*part));
    if (!part)
        return RN_ENOMEM;
    part->topic = intern(sess, key, len, th);
    if (!part->topic || rn_map_put(&sess->parts, ph, part) != 0) {
        if (part->topic)
            unintern(sess, part->topic);
        rn_free(part);
        return RN_ENOMEM;
    }
    part->partition = partition;
    part->hash = ph;
    part->params = *params;
    part->high_watermark = -1; /* never sent: the next response carries it */
    part->log_start_offset = -1;
    link_tail(sess, part);
    sess->nparts++;
    cache->stats.partitions++;
    if (out)
        *out = part;
    return 0;
}

bool rn_fetchsess_forget(rn_fetchsess_cache_t *cache, rn_fetchsess_t *sess, const void *key,
                         size_t len, int32_t partition)
{
    part_key_t k = {key, len, partition};
    rn_fetchsess_part_t *part =
        rn_map_remove(&sess->parts, part_hash(topic_hash(key, len), partition), part_eq, &k);
    if (!part)
        return false;
    unlink_part(sess, part);
    unintern(sess, part->topic);
    rn_free(part);
    sess->nparts--;
    cache->stats.partitions--;
    return true;
}

int32_t rn_fetchsess_next_epoch(int32_t epoch)
{
    if (epoch < 0)
        return RN_FETCHSESS_FINAL_EPOCH;
    if (epoch == INT32_MAX)
        return 1;
    return epoch + 1;
}

void rn_fetchsess_touch(rn_fetchsess_cache_t *cache, rn_fetchsess_t *sess, int64_t now_ms)
{
    sess->last_used_ms = now_ms;
    sess->epoch = rn_fetchsess_next_epoch(sess->epoch);
    cache->stats.incremental++;
}

bool rn_fetchsess_respond(rn_fetchsess_t *sess, rn_fetchsess_part_t *part,
                          const rn_fetchsess_read_t *read)
{
    bool must = read->has_records || read->preferred_replica || read->diverging;
    if (part->high_watermark != read->high_watermark) {
        must = true;
        part->high_watermark = read->high_watermark;
    }
    if (part->log_start_offset != read->log_start_offset) {
        must = true;
        part->log_start_offset = read->log_start_offset;
    }
    if (read->error_code != 0) {
        part->high_watermark = -1;
        must = true;
    }
    if (read->has_records && sess->tail != part) {
        unlink_part(sess, part);
        link_tail(sess, part);
    }
    return must;
}

void rn_fetchsess_sent(rn_fetchsess_part_t *part, const rn_fetchsess_read_t *read)
{
    part->high_watermark = read->high_watermark;
    part->log_start_offset = read->log_start_offset;
}

rn_fetchsess_stats_t rn_fetchsess_stats(const rn_fetchsess_cache_t *cache)
{
    return cache->stats;
}
