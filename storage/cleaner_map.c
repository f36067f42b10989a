/* The log cleaner's maps: key -> latest offset (the offset map of a pass) and producer id ->
 * last batch (see cleaner_internal.h). */
#include "cleaner_internal.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_hash.h"

#include <string.h>

/* ---- key hash ---- */

static uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* One lane: every 8-byte word is mixed through the finalizer with the seed before it is folded
 * in, so each lane alone is a well-distributed 64-bit hash and the two seeds make the lanes
 * independent. The length goes into the start and the tail word, so "a" and "a\0" differ. */
static uint64_t lane(const uint8_t *key, size_t len, uint64_t seed)
{
    uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ULL);
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        h ^= rn_hash_mix(load_le64(key + i) + seed);
        h = rotl64(h, 29) * 0xbf58476d1ce4e5b9ULL + 0x94d049bb133111ebULL;
    }
    uint64_t tail = (uint64_t)(len - i) << 56;
    for (size_t j = 0; i + j < len; j++)
        tail |= (uint64_t)key[i + j] << (8 * j);
    h ^= rn_hash_mix(tail + seed);
    h = rotl64(h, 29) * 0xbf58476d1ce4e5b9ULL;
    return rn_hash_mix(h);
}

rn__ckey_t rn__cleaner_hash(const uint8_t *key, size_t len)
{
    rn__ckey_t k;
    k.a = lane(key, len, 0x243f6a8885a308d3ULL);
    k.b = lane(key, len, 0x13198a2e03707344ULL);
    return k;
}

/* ---- offset map ---- */

#define MIN_SLOTS 1024

int rn__offmap_init(rn__offmap_t *map, uint64_t want_entries, size_t max_bytes)
{
    memset(map, 0, sizeof(*map));
    size_t max_slots = max_bytes / sizeof(rn__offmap_slot_t);
    size_t slots = MIN_SLOTS;
    /* Room for want_entries at 90 % load, but never past the buffer's size. */
    while (slots < max_slots && (uint64_t)slots / 10 * 9 < want_entries)
        slots *= 2;
    if (slots > max_slots && slots > MIN_SLOTS)
        slots /= 2;
    map->slots = rn_malloc(slots * sizeof(*map->slots));
    if (map->slots == NULL)
        return RN_ENOMEM;
    for (size_t i = 0; i < slots; i++)
        map->slots[i].offset = -1;
    map->mask = slots - 1;
    map->max_entries = slots / 10 * 9;
    return 0;
}

void rn__offmap_free(rn__offmap_t *map)
{
    rn_free(map->slots);
    memset(map, 0, sizeof(*map));
}

/* The slot holding key, or the empty slot where it would go. */
static rn__offmap_slot_t *offmap_slot(const rn__offmap_t *map, rn__ckey_t key)
{
    size_t i = (size_t)key.a & map->mask;
    for (;;) {
        rn__offmap_slot_t *s = &map->slots[i];
        if (s->offset < 0 || (s->a == key.a && s->b == key.b))
            return s;
        i = (i + 1) & map->mask;
    }
}

int rn__offmap_put(rn__offmap_t *map, rn__ckey_t key, int64_t offset)
{
    rn__offmap_slot_t *s = offmap_slot(map, key);
    if (s->offset < 0) {
        if (map->entries >= map->max_entries)
            return RN_EFULL;
        map->entries++;
        s->a = key.a;
        s->b = key.b;
    }
    s->offset = offset;
    return 0;
}

int64_t rn__offmap_get(const rn__offmap_t *map, rn__ckey_t key)
{
    return offmap_slot(map, key)->offset;
}

/* ---- producer map ---- */

void rn__pidmap_init(rn__pidmap_t *pm)
{
    pm->mask = 63;
    pm->entries = 0;
    pm->slots = rn_xmalloc((pm->mask + 1) * sizeof(*pm->slots));
    for (size_t i = 0; i <= pm->mask; i++)
        pm->slots[i].pid = -1;
}

void rn__pidmap_free(rn__pidmap_t *pm)
{
    rn_free(pm->slots);
    memset(pm, 0, sizeof(*pm));
}

static rn__pidmap_slot_t *pid_slot(const rn__pidmap_t *pm, int64_t pid)
{
    size_t i = (size_t)rn_hash_mix((uint64_t)pid) & pm->mask;
    while (pm->slots[i].pid >= 0 && pm->slots[i].pid != pid)
        i = (i + 1) & pm->mask;
    return &pm->slots[i];
}

void rn__pidmap_note(rn__pidmap_t *pm, int64_t pid, int64_t last_offset, int64_t max_timestamp)
{
    rn__pidmap_slot_t *s = pid_slot(pm, pid);
    if (s->pid < 0) {
        if ((pm->entries + 1) * 2 > pm->mask + 1) { /* keep at most half full */
            rn__pidmap_t bigger = {NULL, pm->mask * 2 + 1, 0};
            bigger.slots = rn_xmalloc((bigger.mask + 1) * sizeof(*bigger.slots));
            for (size_t i = 0; i <= bigger.mask; i++)
                bigger.slots[i].pid = -1;
            for (size_t i = 0; i <= pm->mask; i++)
                if (pm->slots[i].pid >= 0) {
                    *pid_slot(&bigger, pm->slots[i].pid) = pm->slots[i];
                    bigger.entries++;
                }
            rn_free(pm->slots);
            *pm = bigger;
            s = pid_slot(pm, pid);
        }
        s->pid = pid;
        pm->entries++;
    }
    s->last_offset = last_offset;
    s->max_timestamp = max_timestamp;
}

int rn__pidmap_get(const rn__pidmap_t *pm, int64_t pid, rn__pidmap_slot_t *out)
{
    const rn__pidmap_slot_t *s = pid_slot(pm, pid);
    if (s->pid < 0)
        return 0;
    *out = *s;
    return 1;
}
