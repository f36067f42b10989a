/* rn_keyset: counted keys, entries in one array indexed by an rn_map (see rn_keyset.h). */
#include "meta/rn_keyset.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_hash.h"

#include <string.h>

static const uint8_t empty_key[1];

typedef struct probe_key {
    const void *key;
    size_t len;
    int64_t tag;
} probe_key_t;

static uint64_t key_hash(const void *key, size_t len, int64_t tag)
{
    return rn_hash_combine(rn_hash_bytes(key, len), (uint64_t)tag);
}

static bool slot_is(const void *item, const void *k)
{
    const rn_keyset_slot_t *s = item;
    const probe_key_t *p = k;
    return s->len == p->len && s->tag == p->tag && memcmp(s->key, p->key, p->len) == 0;
}

int rn_keyset_init(rn_keyset_t *set, size_t max)
{
    *set = (rn_keyset_t){.map = RN_MAP_INIT, .max = max};
    if (max > SIZE_MAX / 4 / sizeof(*set->slots))
        return RN_ENOMEM;
    /* Both sized for max up front, so adding never allocates (and never fails). */
    set->slots = rn_calloc(max ? max : 1, sizeof(*set->slots));
    if (set->slots == NULL || rn_map_reserve(&set->map, max) != 0) {
        rn_keyset_free(set);
        return RN_ENOMEM;
    }
    return 0;
}

void rn_keyset_free(rn_keyset_t *set)
{
    rn_free(set->slots);
    set->slots = NULL;
    rn_map_free(&set->map);
}

rn_keyset_slot_t *rn_keyset_add(rn_keyset_t *set, const void *key, size_t len, int64_t tag)
{
    if (key == NULL)
        key = empty_key;
    uint64_t h = key_hash(key, len, tag);
    probe_key_t k = {key, len, tag};
    rn_keyset_slot_t *s = rn_map_get(&set->map, h, slot_is, &k);
    if (s == NULL) {
        if (set->n == set->max)
            return NULL;
        s = &set->slots[set->n++];
        *s = (rn_keyset_slot_t){key, len, tag, h, 0, -1};
        rn_map_xput(&set->map, h, s); /* reserved at init: no allocation */
    }
    s->count++;
    return s;
}

rn_keyset_slot_t *rn_keyset_find(const rn_keyset_t *set, const void *key, size_t len, int64_t tag)
{
    if (key == NULL)
        key = empty_key;
    probe_key_t k = {key, len, tag};
    return rn_map_get(&set->map, key_hash(key, len, tag), slot_is, &k);
}
