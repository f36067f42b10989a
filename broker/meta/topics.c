/* rn_topics: topics and partitions in memory, indexed by name and id (see rn_topics.h).
 * The registry file format and the persist job live in topics_store.c. */
#include "topics_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_uuid.h"
#include "rn_vec.h"

#include <stdlib.h>
#include <string.h>

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

/* Index of name in by_name, or of where it would go (*found false). */
static size_t name_pos(const rn_topics_t *topics, const char *name, size_t len, bool *found)
{
    size_t lo = 0, hi = topics->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const rn_topic_t *t = topics->by_name[mid];
        int c = name_cmp(t->name, t->name_len, name, len);
        if (c == 0)
            return (*found = true, mid);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static size_t id_pos(const rn_topics_t *topics, const rn_uuid_t *id, bool *found)
{
    size_t lo = 0, hi = topics->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp(topics->by_id[mid]->id.bytes, id->bytes, 16);
        if (c == 0)
            return (*found = true, mid);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void array_insert(rn_topic_t **arr, size_t n, size_t pos, rn_topic_t *topic)
{
    memmove(arr + pos + 1, arr + pos, (n - pos) * sizeof(*arr));
    arr[pos] = topic;
}

static void array_remove(rn_topic_t **arr, size_t n, size_t pos)
{
    memmove(arr + pos, arr + pos + 1, (n - pos - 1) * sizeof(*arr));
}

void rn__topics_ptrs_push(rn__topics_ptrs_t *list, void *ptr)
{
    rn_vec_xpush(list->items, list->n, list->cap, ptr);
}

rn_topics_t *rn_topics_new(const rn_config_t *cfg, rn_logmgr_t *logmgr, int32_t node_id)
{
    rn_topics_t *topics = rn_xcalloc(1, sizeof(*topics));
    const char *data_dir = rn_datadir_path(rn_logmgr_datadir(logmgr));
    topics->cfg = cfg;
    topics->logmgr = logmgr;
    topics->node_id = node_id;
    size_t plen = strlen(data_dir) + sizeof(RN_TOPICS_FILE) + 2;
    topics->path = rn_xmalloc(plen);
    snprintf(topics->path, plen, "%s/%s", data_dir, RN_TOPICS_FILE);
    return topics;
}

void rn__topic_free(rn_topic_t *topic)
{
    for (int32_t i = 0; i < topic->n_partitions; i++) {
        rn_partition_t *part = topic->partitions[i];
        rn_free(part->replicas);
        rn_free(part->isr);
        rn_free(part);
    }
    rn_free(topic->partitions);
    rn_topicconf_free(&topic->conf);
    rn_free(topic);
}

void rn_topics_free(rn_topics_t *topics)
{
    if (topics == NULL)
        return;
    for (size_t i = 0; i < topics->n; i++)
        rn__topic_free(topics->by_name[i]);
    for (size_t i = 0; i < topics->pending.deleted.n; i++)
        rn__topic_free(topics->pending.deleted.items[i]);
    rn__topics_pending_free(&topics->pending);
    rn_free(topics->by_name);
    rn_free(topics->by_id);
    rn_free(topics->path);
    rn_free(topics->nodes);
    rn_free(topics);
}

void rn_topics_set_hooks(rn_topics_t *topics, const rn_topics_hooks_t *hooks)
{
    topics->hooks = *hooks;
}

void rn_topics_set_committer(rn_topics_t *topics, rn_topics_commit_fn fn, void *carg)
{
    topics->commit = fn;
    topics->commit_arg = carg;
}

void rn_topics_commit(rn_topics_t *topics, rn_offload_t *off, void (*done)(void *arg, int rc),
                      void *arg)
{
    if (topics->commit != NULL)
        topics->commit(topics->commit_arg, topics, false, done, arg);
    else
        rn_topics_persist(topics, off, done, arg);
}

void rn_topics_commit_records(rn_topics_t *topics, rn_offload_t *off,
                              void (*done)(void *arg, int rc), void *arg)
{
    if (topics->commit != NULL)
        topics->commit(topics->commit_arg, topics, true, done, arg);
    else
        rn_topics_persist(topics, off, done, arg);
}

size_t rn_topics_count(const rn_topics_t *topics)
{
    return topics->n;
}

rn_topic_t *rn_topics_at(const rn_topics_t *topics, size_t i)
{
    return i < topics->n ? topics->by_name[i] : NULL;
}

rn_topic_t *rn_topics_find(const rn_topics_t *topics, const char *name, size_t len)
{
    bool found;
    size_t pos = name_pos(topics, name, len, &found);
    return found ? topics->by_name[pos] : NULL;
}

rn_topic_t *rn_topics_find_id(const rn_topics_t *topics, const rn_uuid_t *id)
{
    bool found;
    size_t pos = id_pos(topics, id, &found);
    return found ? topics->by_id[pos] : NULL;
}

bool rn_partition_has_replica(const rn_partition_t *part, int32_t node_id)
{
    for (int32_t i = 0; i < part->n_replicas; i++)
        if (part->replicas[i] == node_id)
            return true;
    return false;
}

rn_partition_t *rn_topic_partition(const rn_topic_t *topic, int32_t index)
{
    if (index < 0 || index >= topic->n_partitions)
        return NULL;
    return topic->partitions[index];
}

int rn_topics_valid_name(const char *name, size_t len, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "Topic name is illegal, it can't be empty");
        return RN_EINVAL;
    }
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')) {
        snprintf(err, errlen, "Topic name cannot be \".\" or \"..\"");
        return RN_EINVAL;
    }
    if (len > RN_TOPIC_NAME_MAX) {
        snprintf(err, errlen,
                 "Topic name is illegal, it can't be longer than %d characters, topic name: %.*s",
                 RN_TOPIC_NAME_MAX, (int)len, name);
        return RN_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            snprintf(err, errlen,
                     "Topic name \"%.*s\" is illegal, it contains a character other than ASCII "
                     "alphanumerics, '.', '_' and '-'",
                     (int)len, name);
            return RN_EINVAL;
        }
    }
    return 0;
}

/* Kafka treats '.' and '_' alike when checking for collisions (metric names). */
static bool collides(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        char x = a[i] == '.' ? '_' : a[i], y = b[i] == '.' ? '_' : b[i];
        if (x != y)
            return false;
    }
    return true;
}

int rn_topics_check_new(const rn_topics_t *topics, const char *name, size_t len, char *err,
                        size_t errlen)
{
    int rc = rn_topics_valid_name(name, len, err, errlen);
    if (rc != 0)
        return rc;
    if (rn_topics_find(topics, name, len) != NULL) {
        snprintf(err, errlen, "Topic '%.*s' already exists.", (int)len, name);
        return RN_EEXIST;
    }
    if (memchr(name, '.', len) != NULL || memchr(name, '_', len) != NULL) {
        for (size_t i = 0; i < topics->n; i++) {
            const rn_topic_t *t = topics->by_name[i];
            if (collides(name, len, t->name, t->name_len)) {
                snprintf(err, errlen, "Topic '%.*s' collides with existing topic: %s", (int)len,
                         name, t->name);
                return RN_EINVAL;
            }
        }
    }
    return 0;
}

void rn_topics_set_nodes(rn_topics_t *topics, const int32_t *ids, int n)
{
    rn_free(topics->nodes);
    topics->nodes = NULL;
    topics->n_nodes = 0;
    if (n <= 0)
        return;
    topics->nodes = rn_xcalloc((size_t)n, sizeof(int32_t));
    memcpy(topics->nodes, ids, (size_t)n * sizeof(int32_t));
    topics->n_nodes = n;
}

/* The i-th node new replicas may go to: those set by rn_topics_set_nodes, else the voters
 * (or this node alone). */
static int32_t node_at(const rn_topics_t *topics, uint32_t i, int nodes)
{
    const rn_config_t *cfg = topics->cfg;
    if (topics->n_nodes > 0)
        return topics->nodes[i % (uint32_t)nodes];
    return cfg->n_voters > 0 ? cfg->voters[i % (uint32_t)nodes].id : topics->node_id;
}

/* Fill a new partition's replicas: rf nodes of the cluster, round-robin so leaders spread. */
static void assign_replicas(rn_topics_t *topics, rn_partition_t *part, int16_t rf)
{
    const rn_config_t *cfg = topics->cfg;
    int nodes = topics->n_nodes > 0 ? topics->n_nodes : cfg->n_voters > 0 ? cfg->n_voters : 1;
    if (rf > nodes)
        rf = (int16_t)nodes;
    part->replicas = rn_xcalloc((size_t)rf, sizeof(int32_t));
    part->isr = rn_xcalloc((size_t)rf, sizeof(int32_t));
    part->n_replicas = part->n_isr = rf;
    uint32_t start = topics->next_assign++;
    for (int j = 0; j < rf; j++)
        part->replicas[j] = part->isr[j] = node_at(topics, start + (uint32_t)j, nodes);
    part->leader_id = part->replicas[0];
    part->leader_epoch = 0;
}

rn_partition_t *rn__topic_add_partition(rn_topics_t *topics, rn_topic_t *topic,
                                        const int32_t *replicas, int32_t n_replicas)
{
    rn_partition_t *part = rn_xcalloc(1, sizeof(*part));
    part->topic = topic;
    part->index = topic->n_partitions;
    if (replicas != NULL) {
        part->replicas = rn_xcalloc((size_t)n_replicas, sizeof(int32_t));
        part->isr = rn_xcalloc((size_t)n_replicas, sizeof(int32_t));
        memcpy(part->replicas, replicas, (size_t)n_replicas * sizeof(int32_t));
        memcpy(part->isr, replicas, (size_t)n_replicas * sizeof(int32_t));
        part->n_replicas = part->n_isr = n_replicas;
        part->leader_id = replicas[0];
    } else {
        assign_replicas(topics, part, topic->replication_factor);
    }
    topic->partitions =
        rn_xrealloc(topic->partitions, (size_t)(topic->n_partitions + 1) * sizeof(part));
    topic->partitions[topic->n_partitions++] = part;
    return part;
}

rn_topic_t *rn__topics_insert(rn_topics_t *topics, const char *name, size_t len,
                              const rn_uuid_t *id, int16_t rf)
{
    rn_topic_t *topic = rn_xcalloc(1, sizeof(*topic));
    memcpy(topic->name, name, len);
    topic->name_len = len;
    topic->id = *id;
    topic->replication_factor = rf;
    topic->internal = (len == 18 && memcmp(name, "__consumer_offsets", 18) == 0) ||
                      (len == 19 && memcmp(name, "__transaction_state", 19) == 0);
    /* by_name and by_id hold the same topics, so they grow together and share cap. */
    size_t cap_by_name = topics->cap;
    rn_vec_xreserve(topics->by_name, cap_by_name, topics->n + 1);
    rn_vec_xreserve(topics->by_id, topics->cap, topics->n + 1);
    bool found;
    size_t npos = name_pos(topics, name, len, &found);
    size_t ipos = id_pos(topics, id, &found);
    array_insert(topics->by_name, topics->n, npos, topic);
    array_insert(topics->by_id, topics->n, ipos, topic);
    topics->n++;
    return topic;
}

/* Take a topic out of both indexes (it stays allocated). */
void rn__topics_unlink(rn_topics_t *topics, rn_topic_t *topic)
{
    bool found;
    size_t npos = name_pos(topics, topic->name, topic->name_len, &found);
    if (found && topics->by_name[npos] == topic)
        array_remove(topics->by_name, topics->n, npos);
    size_t ipos = id_pos(topics, &topic->id, &found);
    if (found && topics->by_id[ipos] == topic)
        array_remove(topics->by_id, topics->n, ipos);
    topics->n--;
}

rn_topic_t *rn_topics_create(rn_topics_t *topics, const char *name, size_t len, int32_t partitions,
                             int16_t rf, const rn_topicconf_t *conf)
{
    rn_uuid_t id;
    do {
        if (rn_uuid_random(&id) != 0)
            abort(); /* no kernel randomness: nothing sensible to do */
    } while (rn_topics_find_id(topics, &id) != NULL);
    rn_topic_t *topic = rn__topics_insert(topics, name, len, &id, rf);
    if (conf != NULL)
        rn_topicconf_copy(&topic->conf, conf);
    for (int32_t i = 0; i < partitions; i++) {
        rn_partition_t *part = rn__topic_add_partition(topics, topic, NULL, 0);
        rn__topics_ptrs_push(&topics->pending.mkdirs, part);
    }
    rn__topics_ptrs_push(&topics->pending.created, topic);
    topics->dirty = true;
    if (memchr(name, '.', len) != NULL || memchr(name, '_', len) != NULL)
        RN_WARN("topics",
                "topic %.*s: names with '.' or '_' can collide in metric names; "
                "prefer one of them",
                (int)len, name);
    RN_INFO("topics", "created topic %.*s with %d partition(s), replication factor %d", (int)len,
            name, partitions, rf);
    return topic;
}

void rn_topics_delete(rn_topics_t *topics, rn_topic_t *topic)
{
    if (topic->deleted)
        return;
    for (int32_t i = 0; i < topic->n_partitions; i++) {
        if (topics->hooks.partition_removed != NULL)
            topics->hooks.partition_removed(topic->partitions[i], topics->hooks.arg);
        rn_logmgr_close_log(topics->logmgr, topic->name, i); /* RN_ENOTFOUND: never opened */
    }
    rn__topics_unlink(topics, topic);
    topic->deleted = true;
    rn__topics_pending_delete(topics, topic);
    topics->dirty = true;
    RN_INFO("topics", "deleted topic %s", topic->name);
}

void rn_topics_add_partitions(rn_topics_t *topics, rn_topic_t *topic, int32_t total)
{
    int32_t before = topic->n_partitions;
    while (topic->n_partitions < total) {
        rn_partition_t *part = rn__topic_add_partition(topics, topic, NULL, 0);
        rn__topics_ptrs_push(&topics->pending.mkdirs, part);
    }
    topics->dirty = true;
    RN_INFO("topics", "topic %s grew from %d to %d partitions", topic->name, before, total);
}

void rn_topics_set_replicas(rn_topics_t *topics, rn_partition_t *part, const int32_t *ids,
                            int32_t n)
{
    rn_free(part->replicas);
    rn_free(part->isr);
    part->replicas = rn_xmalloc((size_t)n * sizeof(int32_t));
    part->isr = rn_xmalloc((size_t)n * sizeof(int32_t));
    memcpy(part->replicas, ids, (size_t)n * sizeof(int32_t));
    memcpy(part->isr, ids, (size_t)n * sizeof(int32_t));
    part->n_replicas = part->n_isr = n;
    part->leader_id = ids[0];
    topics->dirty = true;
}

rn_topic_t *rn_topics_create_id(rn_topics_t *topics, const char *name, size_t len,
                                const rn_uuid_t *id, int16_t rf)
{
    rn_topic_t *topic = rn__topics_insert(topics, name, len, id, rf);
    rn__topics_ptrs_push(&topics->pending.created, topic);
    topics->dirty = true;
    RN_INFO("topics", "created topic %.*s from the metadata log", (int)len, name);
    return topic;
}

rn_partition_t *rn_topics_add_partition(rn_topics_t *topics, rn_topic_t *topic,
                                        const int32_t *replicas, int32_t n)
{
    rn_partition_t *part = rn__topic_add_partition(topics, topic, replicas, n);
    rn__topics_ptrs_push(&topics->pending.mkdirs, part);
    topics->dirty = true;
    return part;
}

void rn_topics_set_leader(rn_topics_t *topics, rn_partition_t *part, int32_t leader,
                          int32_t leader_epoch, const int32_t *isr, int32_t n_isr)
{
    int32_t *copy = rn_xmalloc((size_t)(n_isr > 0 ? n_isr : 1) * sizeof(int32_t));
    if (n_isr > 0)
        memcpy(copy, isr, (size_t)n_isr * sizeof(int32_t));
    rn_free(part->isr);
    part->isr = copy;
    part->n_isr = n_isr;
    part->leader_id = leader;
    part->leader_epoch = leader_epoch;
    topics->dirty = true;
    if (topics->hooks.partition_changed != NULL)
        topics->hooks.partition_changed(part, topics->hooks.arg);
}

void rn_topics_config_changed(rn_topics_t *topics, rn_topic_t *topic)
{
    if (topics->hooks.config_changed != NULL)
        topics->hooks.config_changed(topic, topics->hooks.arg);
    topics->dirty = true;
}

bool rn_topics_dirty(const rn_topics_t *topics)
{
    return topics->dirty;
}
