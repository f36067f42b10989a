/* rn_map: the one hash map of runnel — a set of caller-owned items, found by a 64-bit hash
 * (rn_hash.h) and the caller's key comparison.
 *
 * Why our own rather than uthash: uthash is macros over the caller's structs with its own
 * handle embedded in each, allocates through malloc unless every use site redefines its
 * hooks, and aborts (or calls a hook) on OOM. Ours is one small function set, allocates only
 * its slot array, through rn_alloc (so OOM is a return value that tests can provoke), and
 * takes keys of any shape: the map never looks at a key itself, the caller's eq function
 * does. That serves strings with NUL bytes ((ptr, len)), (topic, partition), uuids, and — with
 * eq NULL — integer and pointer keys whose hash is rn_hash_u64, a bijection, so equal hashes
 * mean equal keys and a lookup touches no item at all.
 *
 * Layout: open addressing with linear probing over a power-of-two array of {hash, item}
 * slots, load kept at or below 1/2 so probe runs stay short and always end at an empty slot
 * (item NULL). Deletion shifts later members of the run back into the hole (no tombstones),
 * so a table with heavy churn (producers, parked fetches) never degrades. The hash is kept in
 * the slot: growth never calls back into the caller, and eq runs only on a full 64-bit match.
 *
 * Items are pointers the caller owns and must not be NULL; the map never frees them. They must
 * stay put while in the map — callers with a dense array of structs store pointers to
 * separately allocated entries, and keep the array for ordered iteration, because a map's
 * own order (rn_map_next) is the order of slots, which is arbitrary.
 *
 * A zeroed rn_map_t (RN_MAP_INIT) is an empty map. Not thread-safe. */
#ifndef RN_MAP_H
#define RN_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rn_map_slot {
    uint64_t hash;
    void *item; /* NULL: empty */
} rn_map_slot_t;

/* Invariants: cap is 0 or a power of two >= 8; n * 2 <= cap; every item sits in the probe
 * run that starts at hash & (cap - 1), with no empty slot between that home and it. */
typedef struct rn_map {
    rn_map_slot_t *slots;
    size_t cap;
    size_t n;
} rn_map_t;

#define RN_MAP_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Whether item has the key the caller looks for. */
typedef bool (*rn_map_eq_fn)(const void *item, const void *key);

/* Free the slot array (not the items); the map is then empty and may be reused. */
void rn_map_free(rn_map_t *map);
/* Forget every item, keeping the slot array. */
void rn_map_clear(rn_map_t *map);

static inline size_t rn_map_count(const rn_map_t *map)
{
    return map->n;
}

/* The item with this hash for which eq(item, key) holds, or NULL. With eq NULL, the first
 * item with this hash (for keys whose hash is a bijection of the key, rn_hash_u64). */
void *rn_map_get(const rn_map_t *map, uint64_t hash, rn_map_eq_fn eq, const void *key);

/* Room for n items without another allocation. 0 or RN_ENOMEM (map unchanged). */
int rn_map_reserve(rn_map_t *map, size_t n);

/* Add item (not NULL) under hash. The caller has made sure no item with the same key is
 * present (rn_map_get first): the map keeps duplicates. 0 or RN_ENOMEM (map unchanged). */
int rn_map_put(rn_map_t *map, uint64_t hash, void *item);
/* rn_map_put for small internal tables: aborts on OOM, like rn_xmalloc. */
void rn_map_xput(rn_map_t *map, uint64_t hash, void *item);

/* Remove and return the item rn_map_get(map, hash, eq, key) would find; NULL if none. */
void *rn_map_remove(rn_map_t *map, uint64_t hash, rn_map_eq_fn eq, const void *key);
/* Remove this very item (compared by address), stored under hash; false if absent. */
bool rn_map_remove_item(rn_map_t *map, uint64_t hash, const void *item);

/* Iteration in slot order: start with *pos = 0; returns the next item or NULL at the end.
 * No insertion during an iteration. The item just returned may be removed if the caller then
 * decrements *pos: removal can shift an unvisited item into its slot, which is then visited
 * next; an item shifted from the array's end to its start may be visited a second time. */
void *rn_map_next(const rn_map_t *map, size_t *pos);

#endif
