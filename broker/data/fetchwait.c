/* Parked Fetch requests (see rn_fetchwait.h).
 *
 * Structure: an rn_map maps a partition key to a key node holding a doubly linked
 * list of links; each waiter owns one link per watched partition (allocated with the waiter,
 * so their addresses are stable). Every waiter is also on the registry's list of all
 * waiters, for shutdown. A waiter is in one of three states:
 *   PARKED    linked on its keys' lists, its timer pending;
 *   SCHEDULED still linked but ignored by notify, its event made active: the loop will call
 *             back READY (unlinking happens only there, in cancel, or at shutdown, so the
 *             lists never change under notify/wake);
 *   FIRING    unlinked, inside its callback; freed when the callback returns.
 * One libevent event per waiter serves both as the deadline timer and as the deferred
 * completion (event_active), so a timeout and a wake can never both be delivered. */
#include "data/rn_fetchwait.h"

#include <stdlib.h>

#include <event2/event.h>

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_hash.h"
#include "rn_map.h"

typedef struct fw_link fw_link_t;
typedef struct fw_key fw_key_t;

struct fw_link {
    rn_fetchwaiter_t *waiter;
    fw_key_t *node; /* NULL while not linked */
    fw_link_t *prev, *next;
    int64_t max_bytes; /* <= 0: unlimited */
    int64_t counted;
};

struct fw_key {
    const void *key;
    fw_link_t *head;
    size_t nlinks;
};

typedef enum { W_PARKED, W_SCHEDULED, W_FIRING } waiter_state_t;

struct rn_fetchwaiter {
    rn_fetchwait_t *fw;
    struct event *ev;
    rn_fetchwait_cb cb;
    void *arg;
    waiter_state_t state;
    int64_t min_bytes;
    int64_t have_bytes;
    rn_fetchwaiter_t *all_prev, *all_next;
    size_t nkeys, nused;
    fw_link_t links[]; /* nkeys */
};

struct rn_fetchwait {
    struct event_base *base;
    rn_map_t nodes; /* of fw_key_t, owned, by key address (rn_hash_u64: no eq needed) */
    rn_fetchwaiter_t *all;
    size_t nwaiters;
};

static uint64_t hash_key(const void *key)
{
    return rn_hash_u64((uint64_t)(uintptr_t)key);
}

rn_fetchwait_t *rn_fetchwait_new(struct event_base *base)
{
    rn_fetchwait_t *fw = rn_xcalloc(1, sizeof(*fw));
    fw->base = base;
    return fw;
}

static fw_key_t *find_node(const rn_fetchwait_t *fw, const void *key)
{
    return rn_map_get(&fw->nodes, hash_key(key), NULL, NULL);
}

static fw_key_t *get_node(rn_fetchwait_t *fw, const void *key)
{
    fw_key_t *n = find_node(fw, key);
    if (n)
        return n;
    n = rn_xcalloc(1, sizeof(*n));
    n->key = key;
    rn_map_xput(&fw->nodes, hash_key(key), n);
    return n;
}

static void drop_node(rn_fetchwait_t *fw, fw_key_t *node)
{
    rn_map_remove_item(&fw->nodes, hash_key(node->key), node);
    rn_free(node);
}

static void unlink_one(rn_fetchwait_t *fw, fw_link_t *link)
{
    fw_key_t *node = link->node;
    if (!node)
        return;
    if (link->prev)
        link->prev->next = link->next;
    else
        node->head = link->next;
    if (link->next)
        link->next->prev = link->prev;
    link->node = NULL;
    link->prev = link->next = NULL;
    if (--node->nlinks == 0)
        drop_node(fw, node);
}

static void unlink_all(rn_fetchwaiter_t *w)
{
    for (size_t i = 0; i < w->nused; i++)
        unlink_one(w->fw, &w->links[i]);
}

static void destroy(rn_fetchwaiter_t *w)
{
    rn_fetchwait_t *fw = w->fw;
    unlink_all(w);
    if (w->all_prev)
        w->all_prev->all_next = w->all_next;
    else
        fw->all = w->all_next;
    if (w->all_next)
        w->all_next->all_prev = w->all_prev;
    fw->nwaiters--;
    event_free(w->ev);
    rn_free(w);
}

static void fire(rn_fetchwaiter_t *w, rn_fetchwait_reason_t reason)
{
    event_del(w->ev);
    unlink_all(w);
    w->state = W_FIRING;
    w->cb(w, reason, w->arg);
    destroy(w);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    rn_fetchwaiter_t *w = arg;
    fire(w, w->state == W_SCHEDULED ? RN_FETCHWAIT_READY : RN_FETCHWAIT_TIMEOUT);
}

/* Complete w from the loop's next pass. It stays on its wait lists until then (notify skips
 * it), so nothing unlinks list members while notify/wake walk a list. */
static void schedule(rn_fetchwaiter_t *w)
{
    if (w->state != W_PARKED)
        return;
    w->state = W_SCHEDULED;
    event_del(w->ev);
    event_active(w->ev, EV_TIMEOUT, 1);
}

rn_fetchwaiter_t *rn_fetchwait_park(rn_fetchwait_t *fw, size_t nkeys, int64_t min_bytes,
                                    int64_t have_bytes, int32_t max_wait_ms, rn_fetchwait_cb cb,
                                    void *arg)
{
    rn_fetchwaiter_t *w = rn_xcalloc(1, sizeof(*w) + nkeys * sizeof(w->links[0]));
    w->fw = fw;
    w->cb = cb;
    w->arg = arg;
    w->state = W_PARKED;
    w->min_bytes = min_bytes;
    w->have_bytes = have_bytes;
    w->nkeys = nkeys;
    w->ev = event_new(fw->base, -1, 0, on_event, w);
    if (!w->ev)
        abort(); /* libevent allocation failure: internal, like rn_x* */
    w->all_next = fw->all;
    if (fw->all)
        fw->all->all_prev = w;
    fw->all = w;
    fw->nwaiters++;

    if (have_bytes >= min_bytes) {
        schedule(w);
        return w;
    }
    struct timeval tv = {0, 0};
    if (max_wait_ms > 0) {
        tv.tv_sec = max_wait_ms / 1000;
        tv.tv_usec = (max_wait_ms % 1000) * 1000;
    }
    event_add(w->ev, &tv);
    return w;
}

int rn_fetchwait_watch(rn_fetchwaiter_t *w, const void *key, int64_t max_bytes)
{
    if (w->nused >= w->nkeys)
        return RN_EFULL;
    fw_link_t *link = &w->links[w->nused++];
    link->waiter = w;
    link->max_bytes = max_bytes;
    fw_key_t *node = get_node(w->fw, key);
    link->node = node;
    link->next = node->head;
    if (node->head)
        node->head->prev = link;
    node->head = link;
    node->nlinks++;
    return 0;
}

void rn_fetchwait_cancel(rn_fetchwaiter_t *w)
{
    if (!w || w->state == W_FIRING)
        return;
    event_del(w->ev);
    destroy(w);
}

void rn_fetchwait_notify(rn_fetchwait_t *fw, const void *key, int64_t bytes)
{
    fw_key_t *node = find_node(fw, key);
    if (!node || bytes <= 0)
        return;
    for (fw_link_t *link = node->head; link; link = link->next) {
        rn_fetchwaiter_t *w = link->waiter;
        if (w->state != W_PARKED)
            continue;
        int64_t add = bytes;
        if (link->max_bytes > 0 && add > link->max_bytes - link->counted)
            add = link->max_bytes - link->counted;
        if (add > 0) {
            link->counted += add;
            w->have_bytes += add;
        }
        if (w->have_bytes >= w->min_bytes)
            schedule(w);
    }
}

void rn_fetchwait_wake(rn_fetchwait_t *fw, const void *key)
{
    fw_key_t *node = find_node(fw, key);
    for (fw_link_t *link = node ? node->head : NULL; link; link = link->next)
        schedule(link->waiter);
}

void rn_fetchwait_wake_all(rn_fetchwait_t *fw)
{
    for (rn_fetchwaiter_t *w = fw->all; w; w = w->all_next)
        schedule(w);
}

size_t rn_fetchwait_count(const rn_fetchwait_t *fw)
{
    return fw->nwaiters;
}

size_t rn_fetchwait_watchers(const rn_fetchwait_t *fw, const void *key)
{
    const fw_key_t *node = find_node(fw, key);
    size_t n = 0;
    for (const fw_link_t *link = node ? node->head : NULL; link; link = link->next)
        n += link->waiter->state == W_PARKED;
    return n;
}

void rn_fetchwait_free(rn_fetchwait_t *fw)
{
    if (!fw)
        return;
    while (fw->all)
        fire(fw->all, RN_FETCHWAIT_SHUTDOWN);
    rn_map_free(&fw->nodes);
    rn_free(fw);
}
