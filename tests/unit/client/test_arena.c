/* Tests for the per-request arena (client/rn_arena.h). */
#include "rn_alloc.h"
#include "rn_arena.h"
#include "tap.h"

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>

static int fail_allocs;

static void *failing_malloc(size_t size)
{
    return fail_allocs ? NULL : malloc(size);
}

int main(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    is(rn_arena_used(&arena), 0, "fresh arena is empty");

    int aligned = 1;
    char *prev = NULL;
    for (int i = 1; i < 2000; i++) {
        char *p = rn_arena_alloc(&arena, (size_t)(i % 37));
        if (p == NULL || (uintptr_t)p % alignof(max_align_t) != 0 || p == prev)
            aligned = 0;
        memset(p, 0xab, (size_t)(i % 37));
        prev = p;
    }
    ok(aligned, "2000 small allocations: distinct, aligned for any type");

    char *big = rn_arena_alloc(&arena, 1 << 20);
    ok(big != NULL, "1 MiB allocation gets its own block");
    memset(big, 1, 1 << 20);
    char *after = rn_arena_alloc(&arena, 16);
    ok(after != NULL && (after < big || after >= big + (1 << 20)),
       "small allocation after a big one");

    ok(rn_arena_calloc(&arena, SIZE_MAX / 2, 4) == NULL, "calloc overflow is refused");
    int *zeros = rn_arena_calloc(&arena, 100, sizeof(int));
    int allzero = zeros != NULL;
    for (int i = 0; allzero && i < 100; i++)
        allzero = zeros[i] == 0;
    ok(allzero, "calloc zeroes");

    char *s = rn_arena_strndup(&arena, "orders-0xyz", 8);
    is_str(s, "orders-0", "strndup terminates");
    const char raw[3] = {1, 2, 3};
    char *dup = rn_arena_memdup(&arena, raw, 3);
    ok(dup && dup[0] == 1 && dup[2] == 3, "memdup copies");

    rn_arena_reset(&arena);
    is(rn_arena_used(&arena), 0, "reset empties the arena");
    ok(arena.head != NULL, "reset keeps a block for reuse");
    ok(rn_arena_alloc(&arena, 100) != NULL, "allocation after reset");
    rn_arena_free(&arena);
    ok(arena.head == NULL, "free releases every block");

    rn_arena_init(&arena, 10000);
    ok(rn_arena_alloc(&arena, 8000) != NULL, "allocation within the limit");
    ok(rn_arena_alloc(&arena, 4000) == NULL, "allocation past the limit fails");
    ok(rn_arena_alloc(&arena, SIZE_MAX) == NULL, "huge allocation fails");
    ok(rn_arena_alloc(&arena, 1000) != NULL, "arena still usable after a refusal");
    rn_arena_free(&arena);

    rn_allocator_t failing = {failing_malloc, realloc, free};
    rn_alloc_set(&failing);
    fail_allocs = 1;
    rn_arena_init(&arena, 0);
    ok(rn_arena_alloc(&arena, 10) == NULL, "out of memory returns NULL, no abort");
    fail_allocs = 0;
    ok(rn_arena_alloc(&arena, 10) != NULL, "recovers once memory is back");
    rn_alloc_set(NULL);
    rn_arena_free(&arena);
    return done_testing();
}
