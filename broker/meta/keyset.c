/* rn_keyset: counted keys in an open-addressing table (see rn_keyset.h). */
#include "meta/rn_keyset.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <string.h>

static const uint8_t empty_key[1];

/* FNV-1a over the bytes and the tag. */
static uint64_t key_hash(const void *key, size_t len, int64_t tag)
{
    uint64_t h = 14695981039346656037ull;
    const uint8_t *p = key;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    for (int i = 0; i < 8; i++)
        h = (h ^ (uint8_t)((uint64_t)tag >> (8 * i))) * 1099511628211ull;
    return h;
}

int rn_keyset_init(rn_keyset_t *set, size_t max)
{
    size_t cap = 8;
    while (cap < 2 * max) {
        if (cap > SIZE_MAX / 4 / sizeof(rn_keyset_slot_t))
            return RN_ENOMEM;
        cap *= 2;
    }
    set->slots = rn_calloc(cap, sizeof(*set->slots));
    if (set->slots == NULL)
        return RN_ENOMEM;
    set->mask = cap - 1;
    set->n = 0;
    set->max = max;
    return 0;
}

void rn_keyset_free(rn_keyset_t *set)
{
    rn_free(set->slots);
    set->slots = NULL;
}

static rn_keyset_slot_t *probe(const rn_keyset_t *set, const void *key, size_t len, int64_t tag,
                               uint64_t h)
{
    for (size_t i = (size_t)h & set->mask;; i = (i + 1) & set->mask) {
        rn_keyset_slot_t *s = &set->slots[i];
        if (s->key == NULL ||
            (s->hash == h && s->len == len && s->tag == tag && memcmp(s->key, key, len) == 0))
            return s;
    }
}

rn_keyset_slot_t *rn_keyset_add(rn_keyset_t *set, const void *key, size_t len, int64_t tag)
{
    if (key == NULL)
        key = empty_key;
    uint64_t h = key_hash(key, len, tag);
    rn_keyset_slot_t *s = probe(set, key, len, tag, h);
    if (s->key == NULL) {
        if (set->n == set->max)
            return NULL;
        *s = (rn_keyset_slot_t){key, len, tag, h, 0, -1};
        set->n++;
    }
    s->count++;
    return s;
}

rn_keyset_slot_t *rn_keyset_find(const rn_keyset_t *set, const void *key, size_t len, int64_t tag)
{
    if (key == NULL)
        key = empty_key;
    rn_keyset_slot_t *s = probe(set, key, len, tag, key_hash(key, len, tag));
    return s->key != NULL ? s : NULL;
}
