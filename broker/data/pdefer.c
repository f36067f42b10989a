/* Produce appends deferred behind off-loop compressions (see rn_pdefer.h).
 *
 * Each item is one rn_offload job (work NULL for an item that only keeps its place), so the
 * worker's submission order is the commit order. A partition's count of items in flight
 * lives in a map keyed by topic id and index rather than in its rn_dpart_t: the partition
 * may be deleted or change hands while its items are queued, and the count must outlive it. */
#include "data/rn_pdefer.h"
#include "net/rn_offload.h"

#include "rn_alloc.h"
#include "rn_codec.h"
#include "rn_hash.h"
#include "rn_map.h"

#include <string.h>

/* Items in flight on one partition. */
typedef struct busy {
    rn_uuid_t topic_id;
    int32_t partition;
    size_t n;
} busy_t;

typedef struct busy_key {
    const rn_uuid_t *topic_id;
    int32_t partition;
} busy_key_t;

struct rn_pdefer {
    rn_offload_t *off;
    rn_map_t busy;    /* busy_t by (topic id, partition), present while n > 0 */
    size_t max_bytes; /* bound on in_bytes, but for one item alone */
    size_t in_bytes;  /* inputs of the compressions in flight */
    size_t items;     /* items in flight */
};

/* Valid states: live (cancelled false) until every item committed, then finish runs and the
 * group is freed; or cancelled, freed when its last item's job returns. */
struct rn_pdefer_group {
    rn_pdefer_t *pd;
    rn_pdefer_commit_fn commit;
    rn_pdefer_finish_fn finish;
    void *arg;
    int left; /* items not done */
    bool cancelled;
};

typedef struct item {
    rn_pdefer_group_t *g;
    busy_t *busy;
    void *arg;
    int codec;
    uint8_t *in; /* owned; NULL for an item without compression */
    size_t in_len;
    size_t skip; /* in's first bytes, not compressed */
    uint8_t *z;  /* the worker's output, owned */
    size_t zlen;
} item_t;

static uint64_t busy_hash(const rn_uuid_t *topic_id, int32_t partition)
{
    return rn_hash_combine(rn_hash_bytes(topic_id->bytes, sizeof(topic_id->bytes)),
                           (uint64_t)(uint32_t)partition);
}

static bool busy_eq(const void *item, const void *key)
{
    const busy_t *b = item;
    const busy_key_t *k = key;
    return b->partition == k->partition && rn_uuid_equal(&b->topic_id, k->topic_id);
}

rn_pdefer_t *rn_pdefer_new(struct event_base *base, size_t max_bytes)
{
    rn_pdefer_t *pd = rn_xcalloc(1, sizeof(*pd));
    pd->off = rn_offload_new(base);
    if (pd->off == NULL) {
        rn_free(pd);
        return NULL;
    }
    pd->max_bytes = max_bytes;
    return pd;
}

void rn_pdefer_free(rn_pdefer_t *pd)
{
    if (pd == NULL)
        return;
    rn_offload_free(pd->off); /* every item's done runs, emptying the map */
    rn_map_free(&pd->busy);
    rn_free(pd);
}

bool rn_pdefer_busy(const rn_pdefer_t *pd, const rn_uuid_t *topic_id, int32_t partition)
{
    busy_key_t key = {topic_id, partition};
    return rn_map_get(&pd->busy, busy_hash(topic_id, partition), busy_eq, &key) != NULL;
}

bool rn_pdefer_has_room(const rn_pdefer_t *pd, size_t in_len)
{
    return pd->in_bytes == 0 ||
           (pd->in_bytes <= pd->max_bytes && in_len <= pd->max_bytes - pd->in_bytes);
}

size_t rn_pdefer_bytes(const rn_pdefer_t *pd)
{
    return pd->in_bytes;
}

size_t rn_pdefer_items(const rn_pdefer_t *pd)
{
    return pd->items;
}

rn_pdefer_group_t *rn_pdefer_group_new(rn_pdefer_t *pd, rn_pdefer_commit_fn commit,
                                       rn_pdefer_finish_fn finish, void *arg)
{
    rn_pdefer_group_t *g = rn_xcalloc(1, sizeof(*g));
    g->pd = pd;
    g->commit = commit;
    g->finish = finish;
    g->arg = arg;
    return g;
}

int rn_pdefer_group_left(const rn_pdefer_group_t *g)
{
    return g->left;
}

void rn_pdefer_group_cancel(rn_pdefer_group_t *g)
{
    if (g->left == 0)
        rn_free(g);
    else
        g->cancelled = true;
}

/* On the worker: the item's own input and output only. */
static int item_work(void *arg)
{
    item_t *it = arg;
    return rn_codec_compress(it->codec, NULL, it->in + it->skip, it->in_len - it->skip, &it->z,
                             &it->zlen);
}

static void item_done(void *arg, int rc)
{
    item_t *it = arg;
    rn_pdefer_group_t *g = it->g;
    rn_pdefer_t *pd = g->pd;
    if (it->in != NULL)
        pd->in_bytes -= it->in_len;
    pd->items--;
    busy_t *busy = it->busy;
    if (--busy->n == 0) {
        rn_map_remove_item(&pd->busy, busy_hash(&busy->topic_id, busy->partition), busy);
        rn_free(busy);
    }
    if (!g->cancelled) {
        rn_pdefer_result_t res = {rc, it->in, it->in_len, rc == 0 ? it->z : NULL, it->zlen};
        g->commit(g->arg, it->arg, &res);
    }
    rn_free(it->in);
    rn_free(it->z);
    rn_free(it);
    if (--g->left > 0)
        return;
    rn_pdefer_finish_fn finish = g->cancelled ? NULL : g->finish;
    void *garg = g->arg;
    rn_free(g);
    if (finish != NULL)
        finish(garg);
}

void rn_pdefer_add(rn_pdefer_group_t *g, const rn_uuid_t *topic_id, int32_t partition, int codec,
                   uint8_t *in, size_t in_len, size_t skip, void *item_arg)
{
    rn_pdefer_t *pd = g->pd;
    uint64_t hash = busy_hash(topic_id, partition);
    busy_key_t key = {topic_id, partition};
    busy_t *busy = rn_map_get(&pd->busy, hash, busy_eq, &key);
    if (busy == NULL) {
        busy = rn_xcalloc(1, sizeof(*busy));
        busy->topic_id = *topic_id;
        busy->partition = partition;
        rn_map_xput(&pd->busy, hash, busy);
    }
    busy->n++;
    item_t *it = rn_xcalloc(1, sizeof(*it));
    it->g = g;
    it->busy = busy;
    it->arg = item_arg;
    it->codec = codec;
    it->in = in;
    it->in_len = in_len;
    it->skip = skip < in_len ? skip : in_len;
    if (in != NULL)
        pd->in_bytes += in_len;
    pd->items++;
    g->left++;
    rn_offload_submit(pd->off, in != NULL ? item_work : NULL, item_done, it);
}
