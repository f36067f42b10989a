/* rn_vec: growth by doubling with contents kept, reserve as a no-op within capacity, size
 * overflow refused, OOM leaving the array intact. */
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_vec.h"
#include "tap.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct pair {
    int64_t a;
    int32_t b;
} pair_t;

static int fail_allocs;
static void *failing_realloc(void *ptr, size_t size)
{
    return fail_allocs ? NULL : realloc(ptr, size);
}

int main(void)
{
    pair_t *items = NULL;
    size_t n = 0, cap = 0;
    bool good = true, doubling = true;
    size_t last_cap = 0;
    for (int i = 0; i < 1000; i++) {
        rn_vec_xpush(items, n, cap, ((pair_t){i * 3, -i}));
        good &= n <= cap;
        if (cap != last_cap) {
            doubling &= last_cap == 0 ? cap == 8 : cap == 2 * last_cap;
            last_cap = cap;
        }
    }
    is(n, 1000, "1000 pushes");
    is(cap, 1024, "capacity 1024");
    ok(good && doubling, "n <= cap throughout; capacity 8 then doubling");
    good = true;
    for (int i = 0; i < 1000; i++)
        good &= items[i].a == i * 3 && items[i].b == -i;
    ok(good, "contents kept across growth");

    pair_t *before = items;
    is(rn_vec_reserve(items, cap, 1024), 0, "reserve within capacity");
    ok(items == before && cap == 1024, "no reallocation");
    is(rn_vec_reserve(items, cap, 1025), 0, "reserve one more");
    is(cap, 2048, "doubles");
    is(rn_vec_reserve(items, cap, SIZE_MAX / 2), RN_ENOMEM, "size overflow refused");
    is(cap, 2048, "capacity unchanged after the refusal");

    rn_allocator_t failing = {malloc, failing_realloc, free};
    rn_alloc_set(&failing);
    fail_allocs = 1;
    is(rn_vec_reserve(items, cap, 4096), RN_ENOMEM, "growth without memory");
    ok(cap == 2048 && items[999].a == 999 * 3, "array and capacity intact");
    fail_allocs = 0;
    is(rn_vec_reserve(items, cap, 4096), 0, "recovers once memory is back");
    rn_alloc_set(NULL);
    free(items);

    char *bytes = NULL;
    size_t nb = 0, capb = 0;
    for (int i = 0; i < 20; i++)
        rn_vec_xpush(bytes, nb, capb, (char)('a' + i));
    ok(nb == 20 && capb == 32 && bytes[19] == 't', "one-byte elements");
    rn_free(bytes);
    return done_testing();
}
