/* Produce appends deferred behind off-loop work (see rn_pdefer.h).
 *
 * Each item is one rn_offload job (work NULL for an item that only keeps its place) on a
 * pool of nthreads workers, which finish in any order. A partition's items wait in a FIFO
 * in its busy_t; when a job returns, its item is marked done and the FIFO commits from its
 * head while the head is done, so a partition's items commit in the order they were added.
 * The FIFO lives in a map keyed by topic id and index rather than in the partition's
 * rn_dpart_t: the partition may be deleted or change hands while its items are queued, and
 * the queue must outlive it. */
#include "data/rn_pdefer.h"
#include "net/rn_offload.h"

#include "rn_alloc.h"
#include "rn_hash.h"
#include "rn_map.h"

#include <string.h>

typedef struct item item_t;

/* Items in flight on one partition, oldest first. */
typedef struct busy {
    rn_uuid_t topic_id;
    int32_t partition;
    size_t n; /* items in the FIFO */
    item_t *head, *tail;
} busy_t;

typedef struct busy_key {
    const rn_uuid_t *topic_id;
    int32_t partition;
} busy_key_t;

struct rn_pdefer {
    rn_offload_t *off;
    rn_map_t busy;     /* busy_t by (topic id, partition), present while n > 0 */
    size_t max_bytes;  /* bound on in_bytes, but for one item alone */
    size_t in_bytes;   /* inputs of the jobs in flight */
    size_t items;      /* items in flight */
    uint64_t jobs_run; /* jobs whose work returned */
};

/* Valid states: live (cancelled false) until every item committed, then finish runs and the
 * group is freed; or cancelled, freed (with keep) when its last item is dropped. */
struct rn_pdefer_group {
    rn_pdefer_t *pd;
    rn_pdefer_commit_fn commit;
    rn_pdefer_finish_fn finish;
    void *arg;
    void *keep; /* memory the cancel handed over, freed with the group */
    int left;   /* items not settled */
    bool cancelled;
};

/* Queued (done false) until its job returns, then done until its turn in the FIFO. */
struct item {
    rn_pdefer_group_t *g;
    busy_t *busy;
    void *arg;
    rn_pdefer_job_t *job; /* NULL for an item that only keeps its place */
    int rc;
    bool done;
    item_t *next; /* in busy's FIFO */
};

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

rn_pdefer_t *rn_pdefer_new(struct event_base *base, int nthreads, size_t max_bytes)
{
    rn_pdefer_t *pd = rn_xcalloc(1, sizeof(*pd));
    pd->off = rn_offload_new_pool(base, nthreads);
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
    rn_offload_free(pd->off); /* every item's job returns, emptying the map */
    rn_map_free(&pd->busy);
    rn_free(pd);
}

bool rn_pdefer_busy(const rn_pdefer_t *pd, const rn_uuid_t *topic_id, int32_t partition)
{
    busy_key_t key = {topic_id, partition};
    return rn_map_get(&pd->busy, busy_hash(topic_id, partition), busy_eq, &key) != NULL;
}

bool rn_pdefer_has_room(const rn_pdefer_t *pd, size_t in_bytes)
{
    return pd->in_bytes == 0 ||
           (pd->in_bytes <= pd->max_bytes && in_bytes <= pd->max_bytes - pd->in_bytes);
}

size_t rn_pdefer_bytes(const rn_pdefer_t *pd)
{
    return pd->in_bytes;
}

size_t rn_pdefer_items(const rn_pdefer_t *pd)
{
    return pd->items;
}

uint64_t rn_pdefer_jobs_run(const rn_pdefer_t *pd)
{
    return pd->jobs_run;
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

static void group_free(rn_pdefer_group_t *g)
{
    rn_free(g->keep);
    rn_free(g);
}

void rn_pdefer_group_cancel(rn_pdefer_group_t *g, void *keep)
{
    g->keep = keep;
    if (g->left == 0)
        group_free(g);
    else
        g->cancelled = true;
}

/* On a worker: the job's own memory only. */
static int item_work(void *arg)
{
    item_t *it = arg;
    return it->job->work(it->job);
}

/* The item's turn: commit (or drop) it, release its job, finish its group after the last. */
static void settle(rn_pdefer_t *pd, item_t *it)
{
    rn_pdefer_group_t *g = it->g;
    rn_pdefer_job_t *job = it->job;
    if (job != NULL)
        pd->in_bytes -= job->in_bytes;
    pd->items--;
    if (!g->cancelled)
        g->commit(g->arg, it->arg, job, it->rc);
    if (job != NULL && job->release != NULL)
        job->release(job);
    rn_free(it);
    if (--g->left > 0)
        return;
    if (g->cancelled) {
        group_free(g);
        return;
    }
    rn_pdefer_finish_fn finish = g->finish;
    void *garg = g->arg;
    group_free(g);
    if (finish != NULL)
        finish(garg);
}

/* On the loop: a job returned; its partition commits what is due. The FIFO is unlinked
 * before each callback, which may add items (to this partition too). */
static void item_done(void *arg, int rc)
{
    item_t *done = arg;
    rn_pdefer_t *pd = done->g->pd;
    busy_t *busy = done->busy;
    done->rc = rc;
    done->done = true;
    if (done->job != NULL && done->job->work != NULL)
        pd->jobs_run++;
    for (;;) {
        item_t *it = busy->head;
        if (it == NULL || !it->done)
            return;
        busy->head = it->next;
        if (busy->head == NULL)
            busy->tail = NULL;
        bool last = --busy->n == 0;
        if (last) {
            rn_map_remove_item(&pd->busy, busy_hash(&busy->topic_id, busy->partition), busy);
            rn_free(busy);
        }
        settle(pd, it);
        if (last)
            return;
    }
}

void rn_pdefer_add(rn_pdefer_group_t *g, const rn_uuid_t *topic_id, int32_t partition,
                   rn_pdefer_job_t *job, void *item_arg)
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
    item_t *it = rn_xcalloc(1, sizeof(*it));
    it->g = g;
    it->busy = busy;
    it->arg = item_arg;
    it->job = job;
    if (busy->tail != NULL)
        busy->tail->next = it;
    else
        busy->head = it;
    busy->tail = it;
    busy->n++;
    if (job != NULL)
        pd->in_bytes += job->in_bytes;
    pd->items++;
    g->left++;
    rn_offload_submit(pd->off, job != NULL && job->work != NULL ? item_work : NULL, item_done, it);
}
