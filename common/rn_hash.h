/* rn_hash: the one hash function runnel's tables use.
 *
 * FNV-1a (64-bit) over bytes, so keys are (pointer, length) and may hold any byte, NUL
 * included (Kafka strings can). FNV-1a alone is weak in its low bits — bit k of the result
 * depends only on bits 0..k of the input bytes, so "a" and "q" share their low four bits —
 * and rn_map picks slots by the low bits; every public function therefore ends with
 * rn_hash_mix, a bijective avalanche (the splitmix64 finaliser) that spreads every input bit
 * over the whole word. Because it is bijective, rn_hash_u64(x) == rn_hash_u64(y) exactly when
 * x == y: a table keyed by an integer or a pointer can compare hashes instead of keys.
 *
 * The values are for in-memory tables only: never store them or send them anywhere (Kafka's
 * own hashes — murmur2 for partitioning, Java's String.hashCode for coordinators — live
 * with the code that needs them). */
#ifndef RN_HASH_H
#define RN_HASH_H

#include <stddef.h>
#include <stdint.h>

#define RN_HASH_SEED 14695981039346656037ULL /* FNV-1a's offset basis */

/* The splitmix64 finaliser: a bijection on 64 bits with full avalanche. */
static inline uint64_t rn_hash_mix(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* Continue an FNV-1a state h (RN_HASH_SEED to start) over len bytes; not yet mixed, so a
 * key made of several parts can be fed piece by piece and mixed once at the end. */
static inline uint64_t rn_hash_fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* The hash of len bytes at data (any bytes, NUL included). */
static inline uint64_t rn_hash_bytes(const void *data, size_t len)
{
    return rn_hash_mix(rn_hash_fnv1a(RN_HASH_SEED, data, len));
}

/* The hash of an integer key (producer id, pointer): distinct keys, distinct hashes. */
static inline uint64_t rn_hash_u64(uint64_t x)
{
    return rn_hash_mix(x);
}

/* A hash h of one part of a key combined with a second part v, e.g. (topic, partition) as
 * rn_hash_combine(rn_hash_bytes(topic, len), (uint32_t)partition). Order matters. */
static inline uint64_t rn_hash_combine(uint64_t h, uint64_t v)
{
    return rn_hash_mix(h ^ rn_hash_mix(v + 0x9e3779b97f4a7c15ULL));
}

#endif
