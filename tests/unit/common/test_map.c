/* rn_map and rn_hash: FNV-1a vectors, keys with NUL bytes, growth, deletion inside probe runs
 * (forced collisions), integer keys without eq, iteration, a random workload checked against
 * a plain array, and OOM through a failing allocator. */
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_hash.h"
#include "rn_map.h"
#include "tap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct item {
    const char *key;
    size_t len;
    int value;
} item_t;

typedef struct key {
    const char *p;
    size_t len;
} key_t_;

static bool item_eq(const void *item, const void *key)
{
    const item_t *it = item;
    const key_t_ *k = key;
    return it->len == k->len && memcmp(it->key, k->p, k->len) == 0;
}

static item_t *find(const rn_map_t *map, uint64_t hash, const char *p, size_t len)
{
    key_t_ k = {p, len};
    return rn_map_get(map, hash, item_eq, &k);
}

/* xorshift32, as the other tests' xorshift32 (whose header needs storage/). */
static uint32_t xorshift32(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static int fail_allocs;
static void *failing_malloc(size_t size)
{
    return fail_allocs ? NULL : malloc(size);
}

static void test_hash(void)
{
    /* FNV-1a 64 reference values (the FNV authors' test suite). */
    ok(rn_hash_fnv1a(RN_HASH_SEED, "", 0) == 0xcbf29ce484222325ULL, "fnv1a of empty");
    ok(rn_hash_fnv1a(RN_HASH_SEED, "a", 1) == 0xaf63dc4c8601ec8cULL, "fnv1a of \"a\"");
    ok(rn_hash_fnv1a(RN_HASH_SEED, "foobar", 6) == 0x85944171f73967e8ULL, "fnv1a of \"foobar\"");
    ok(rn_hash_bytes("a\0b", 3) != rn_hash_bytes("a\0c", 3), "bytes after a NUL count");
    ok(rn_hash_bytes("a", 1) != rn_hash_bytes("a\0", 2), "a trailing NUL counts");
    uint64_t t = rn_hash_bytes("orders", 6);
    ok(rn_hash_combine(t, 0) != rn_hash_combine(t, 1), "(topic, 0) and (topic, 1) differ");
    ok(rn_hash_u64(1) != rn_hash_u64(2) && (rn_hash_u64(1) & 7) != (rn_hash_u64(2) & 7),
       "sequential integers spread over low bits");
    /* Low bits after mixing: "a" and "q" differ only in bit 4 of one byte. */
    ok((rn_hash_bytes("a", 1) & 15) != (rn_hash_bytes("q", 1) & 15), "mixed low bits differ");
}

static void test_nul_keys(void)
{
    rn_map_t map = RN_MAP_INIT;
    item_t items[] = {{"a", 1, 1}, {"a\0b", 3, 2}, {"a\0c", 3, 3}, {"a\0", 2, 4}, {"", 0, 5}};
    size_t n = sizeof(items) / sizeof(items[0]);
    ok(find(&map, rn_hash_bytes("a", 1), "a", 1) == NULL, "empty map finds nothing");
    for (size_t i = 0; i < n; i++)
        is(rn_map_put(&map, rn_hash_bytes(items[i].key, items[i].len), &items[i]), 0, "put %zu", i);
    is(rn_map_count(&map), n, "count");
    for (size_t i = 0; i < n; i++) {
        item_t *it =
            find(&map, rn_hash_bytes(items[i].key, items[i].len), items[i].key, items[i].len);
        ok(it == &items[i], "key %zu (len %zu, with NUL bytes) finds its own item", i,
           items[i].len);
    }
    ok(find(&map, rn_hash_bytes("a\0d", 3), "a\0d", 3) == NULL, "absent NUL key");
    rn_map_free(&map);
}

/* Every item hashes to one of two values: the map degenerates into long probe runs that
 * wrap around the end of the array, and removal must keep every survivor reachable. */
static void test_collisions(void)
{
    enum { N = 50 };
    rn_map_t map = RN_MAP_INIT;
    static item_t items[N];
    static char keys[N][8];
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        items[i] = (item_t){keys[i], strlen(keys[i]), i};
        /* 7 and -1: runs start near the end of any power-of-two array and wrap. */
        rn_map_xput(&map, i % 2 ? 7 : (uint64_t)-1, &items[i]);
    }
    is(map.cap, 128, "grown to keep load <= 1/2");
    bool all = true;
    for (int i = 0; i < N; i++)
        all &= find(&map, i % 2 ? 7 : (uint64_t)-1, keys[i], strlen(keys[i])) == &items[i];
    ok(all, "all colliding keys found");
    for (int i = 0; i < N; i += 3) {
        key_t_ k = {keys[i], strlen(keys[i])};
        ok(rn_map_remove(&map, i % 2 ? 7 : (uint64_t)-1, item_eq, &k) == &items[i],
           "remove k%d from the middle of a run", i);
    }
    all = true;
    for (int i = 0; i < N; i++) {
        item_t *it = find(&map, i % 2 ? 7 : (uint64_t)-1, keys[i], strlen(keys[i]));
        all &= i % 3 == 0 ? it == NULL : it == &items[i];
    }
    ok(all, "removed keys gone, the others still reachable");
    ok(rn_map_remove_item(&map, 7, &items[1]), "remove by identity");
    ok(!rn_map_remove_item(&map, 7, &items[1]), "twice: absent");
    is(rn_map_count(&map), N - 17 - 1, "count after removals");
    size_t pos = 0, seen = 0;
    while (rn_map_next(&map, &pos) != NULL)
        seen++;
    is(seen, rn_map_count(&map), "iteration visits each item once");
    /* Remove during iteration (stepping back), across runs that wrap around the array. */
    pos = 0;
    for (item_t *it; (it = rn_map_next(&map, &pos)) != NULL;) {
        if (it->value % 4 == 1) {
            ok(rn_map_remove_item(&map, 7, it), "remove k%d while iterating", it->value);
            pos--;
        }
    }
    all = true;
    for (int i = 0; i < N; i++) {
        item_t *it = find(&map, i % 2 ? 7 : (uint64_t)-1, keys[i], strlen(keys[i]));
        all &= i % 3 == 0 || i == 1 || i % 4 == 1 ? it == NULL : it == &items[i];
    }
    ok(all, "removal while iterating missed nothing and kept the rest");
    rn_map_clear(&map);
    is(rn_map_count(&map), 0, "clear");
    ok(find(&map, 7, "k3", 2) == NULL, "cleared map finds nothing");
    rn_map_free(&map);
}

/* Integer keys: the hash is the key (eq NULL); a random workload against a plain array. */
static void test_random(uint32_t seed)
{
    enum { KEYS = 512, OPS = 20000 };
    static bool present[KEYS];
    static int64_t slots[KEYS];
    rn_map_t map = RN_MAP_INIT;
    memset(present, 0, sizeof(present));
    uint32_t state = seed;
    bool good = true;
    size_t count = 0;
    for (int op = 0; op < OPS && good; op++) {
        size_t k = xorshift32(&state) % KEYS;
        uint64_t hash = rn_hash_u64((uint64_t)k * 1000003);
        void *got = rn_map_get(&map, hash, NULL, NULL);
        good &= got == (present[k] ? &slots[k] : NULL);
        if (xorshift32(&state) % 3 == 0 && present[k]) {
            good &= rn_map_remove(&map, hash, NULL, NULL) == &slots[k];
            present[k] = false;
            count--;
        } else if (!present[k]) {
            good &= rn_map_put(&map, hash, &slots[k]) == 0;
            present[k] = true;
            count++;
        }
        good &= rn_map_count(&map) == count && map.n * 2 <= map.cap;
    }
    for (size_t k = 0; k < KEYS && good; k++)
        good &= rn_map_get(&map, rn_hash_u64((uint64_t)k * 1000003), NULL, NULL) ==
                (present[k] ? &slots[k] : NULL);
    if (!ok(good, "%d random puts/gets/removes agree with a plain array", OPS))
        diag("seed %u", seed);
    rn_map_free(&map);
}

static void test_oom(void)
{
    rn_map_t map = RN_MAP_INIT;
    static int vals[5];
    rn_allocator_t failing = {failing_malloc, realloc, free};
    rn_alloc_set(&failing);
    fail_allocs = 1;
    is(rn_map_put(&map, rn_hash_u64(1), &vals[0]), RN_ENOMEM, "first put without memory");
    ok(map.cap == 0 && map.n == 0, "map unchanged");
    fail_allocs = 0;
    for (int i = 0; i < 4; i++)
        rn_map_xput(&map, rn_hash_u64((uint64_t)i), &vals[i]);
    fail_allocs = 1;
    is(rn_map_put(&map, rn_hash_u64(4), &vals[4]), RN_ENOMEM, "growing put without memory");
    is(map.n, 4, "count unchanged");
    bool all = true;
    for (int i = 0; i < 4; i++)
        all &= rn_map_get(&map, rn_hash_u64((uint64_t)i), NULL, NULL) == &vals[i];
    ok(all, "items intact after the failed growth");
    is(rn_map_reserve(&map, 4), 0, "reserve within capacity needs no memory");
    fail_allocs = 0;
    is(rn_map_put(&map, rn_hash_u64(4), &vals[4]), 0, "recovers once memory is back");
    rn_alloc_set(NULL);
    rn_map_free(&map);
}

int main(void)
{
    test_hash();
    test_nul_keys();
    test_collisions();
    test_random(0x5eed1234u);
    test_random(42u);
    test_oom();
    return done_testing();
}
