/* rn_keyset: a set of keys with a count per key, for one request's duplicate checks
 * (CreateTopics, DeleteTopics, CreatePartitions, Fetch) in linear time.
 *
 * A key is a byte string (not copied: it must outlive the set, e.g. a slice of the request)
 * plus a 64-bit tag, so composite keys such as (topic name, partition) or (kind, topic id)
 * need no buffer. Slots live in one array indexed by an rn_map, both sized at init for the
 * number of keys the caller will add, so adding never allocates.
 * Single-threaded; any thread. */
#ifndef RN_KEYSET_H
#define RN_KEYSET_H

#include "rn_map.h"

#include <stddef.h>
#include <stdint.h>

typedef struct rn_keyset_slot {
    const void *key;
    size_t len;
    int64_t tag;
    uint64_t hash;
    int32_t count; /* occurrences added */
    int32_t value; /* the caller's (e.g. where the first occurrence went); -1 when added */
} rn_keyset_slot_t;

typedef struct rn_keyset {
    rn_keyset_slot_t *slots; /* the first n of max are in use, in order of first addition */
    rn_map_t map;            /* of slots, by key_hash */
    size_t n, max;
} rn_keyset_t;

/* Room for up to max keys. 0, or RN_ENOMEM (max comes from a client: recoverable). */
int rn_keyset_init(rn_keyset_t *set, size_t max);
void rn_keyset_free(rn_keyset_t *set);
/* Count one more occurrence of (key, len, tag); returns its slot. NULL only when more than
 * max distinct keys are added. */
rn_keyset_slot_t *rn_keyset_add(rn_keyset_t *set, const void *key, size_t len, int64_t tag);
/* The slot of (key, len, tag), or NULL. */
rn_keyset_slot_t *rn_keyset_find(const rn_keyset_t *set, const void *key, size_t len, int64_t tag);

#endif
