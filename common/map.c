/* The hash map (see rn_map.h): linear probing, load <= 1/2, backward-shift deletion. */
#include "rn_map.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 8

void rn_map_free(rn_map_t *map)
{
    rn_free(map->slots);
    *map = (rn_map_t)RN_MAP_INIT;
}

void rn_map_clear(rn_map_t *map)
{
    if (map->slots != NULL)
        memset(map->slots, 0, map->cap * sizeof(*map->slots));
    map->n = 0;
}

/* The slot holding the item found by (hash, eq, key), or the empty slot ending its run.
 * cap > 0. */
static size_t find_slot(const rn_map_t *map, uint64_t hash, rn_map_eq_fn eq, const void *key)
{
    size_t mask = map->cap - 1;
    size_t i = (size_t)hash & mask;
    for (;;) {
        const rn_map_slot_t *s = &map->slots[i];
        if (s->item == NULL || (s->hash == hash && (eq == NULL || eq(s->item, key))))
            return i;
        i = (i + 1) & mask;
    }
}

void *rn_map_get(const rn_map_t *map, uint64_t hash, rn_map_eq_fn eq, const void *key)
{
    if (map->n == 0)
        return NULL;
    return map->slots[find_slot(map, hash, eq, key)].item;
}

/* Place (hash, item) in the first empty slot of its run; room is guaranteed. */
static void place(rn_map_t *map, uint64_t hash, void *item)
{
    size_t mask = map->cap - 1;
    size_t i = (size_t)hash & mask;
    while (map->slots[i].item != NULL)
        i = (i + 1) & mask;
    map->slots[i] = (rn_map_slot_t){hash, item};
}

int rn_map_reserve(rn_map_t *map, size_t n)
{
    size_t cap = map->cap ? map->cap : MIN_CAP;
    while (n > cap / 2) {
        if (cap > SIZE_MAX / 2 / sizeof(rn_map_slot_t))
            return RN_ENOMEM;
        cap *= 2;
    }
    if (cap == map->cap)
        return 0;
    rn_map_slot_t *old = map->slots;
    size_t old_cap = map->cap;
    map->slots = rn_calloc(cap, sizeof(*map->slots));
    if (map->slots == NULL) {
        map->slots = old;
        return RN_ENOMEM;
    }
    map->cap = cap;
    for (size_t j = 0; j < old_cap; j++)
        if (old[j].item != NULL)
            place(map, old[j].hash, old[j].item);
    rn_free(old);
    return 0;
}

int rn_map_put(rn_map_t *map, uint64_t hash, void *item)
{
    int rc = rn_map_reserve(map, map->n + 1);
    if (rc != 0)
        return rc;
    place(map, hash, item);
    map->n++;
    return 0;
}

void rn_map_xput(rn_map_t *map, uint64_t hash, void *item)
{
    if (rn_map_put(map, hash, item) != 0) {
        fprintf(stderr, "runnel: out of memory growing a hash map of %zu items\n", map->n);
        abort();
    }
}

/* Empty slot i, moving later members of its run back into the hole: an item may move to the
 * hole only if its home is not cyclically within (hole, j], else it would land before its
 * home and lookups starting there would miss it. */
static void remove_slot(rn_map_t *map, size_t i)
{
    size_t mask = map->cap - 1, hole = i;
    for (size_t j = (i + 1) & mask; map->slots[j].item != NULL; j = (j + 1) & mask) {
        size_t home = (size_t)map->slots[j].hash & mask;
        bool home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_in_range) {
            map->slots[hole] = map->slots[j];
            hole = j;
        }
    }
    map->slots[hole] = (rn_map_slot_t){0, NULL};
    map->n--;
}

void *rn_map_remove(rn_map_t *map, uint64_t hash, rn_map_eq_fn eq, const void *key)
{
    if (map->n == 0)
        return NULL;
    size_t i = find_slot(map, hash, eq, key);
    void *item = map->slots[i].item;
    if (item != NULL)
        remove_slot(map, i);
    return item;
}

bool rn_map_remove_item(rn_map_t *map, uint64_t hash, const void *item)
{
    if (map->n == 0)
        return false;
    size_t mask = map->cap - 1;
    for (size_t i = (size_t)hash & mask; map->slots[i].item != NULL; i = (i + 1) & mask) {
        if (map->slots[i].item == item) {
            remove_slot(map, i);
            return true;
        }
    }
    return false;
}

void *rn_map_next(const rn_map_t *map, size_t *pos)
{
    for (; *pos < map->cap; (*pos)++)
        if (map->slots[*pos].item != NULL)
            return map->slots[(*pos)++].item;
    return NULL;
}
