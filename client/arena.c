/* Per-request arena (see rn_arena.h): a list of malloc'd blocks, bump allocation in the
 * newest, whole-list release on reset. Allocations larger than a quarter block get a block of
 * their own, linked behind the head, so the head's free space is not abandoned. */
#include "rn_arena.h"

#include "rn_alloc.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#define RN_ARENA_ALIGN alignof(max_align_t)
#define RN_ARENA_FIRST ((size_t)4096)
#define RN_ARENA_BLOCK ((size_t)64 << 10)

struct rn_arena_block {
    struct rn_arena_block *next;
    size_t size; /* usable bytes in data[] */
    size_t pos;  /* bytes handed out from data[] */
    alignas(max_align_t) unsigned char data[];
};

void rn_arena_init(rn_arena_t *arena, size_t limit)
{
    arena->head = NULL;
    arena->used = 0;
    arena->limit = limit ? limit : RN_ARENA_DEFAULT_LIMIT;
}

static size_t rn_arena_round(size_t size)
{
    return (size + RN_ARENA_ALIGN - 1) & ~(RN_ARENA_ALIGN - 1);
}

static struct rn_arena_block *rn_arena_new_block(size_t size)
{
    struct rn_arena_block *block = rn_malloc(sizeof(*block) + size);
    if (block == NULL)
        return NULL;
    block->next = NULL;
    block->size = size;
    block->pos = 0;
    return block;
}

void *rn_arena_alloc(rn_arena_t *arena, size_t size)
{
    if (size > arena->limit)
        return NULL;
    size_t need = rn_arena_round(size ? size : 1);
    if (need > arena->limit - arena->used)
        return NULL;
    struct rn_arena_block *head = arena->head;
    if (head != NULL && head->size - head->pos >= need) {
        void *ptr = head->data + head->pos;
        head->pos += need;
        arena->used += need;
        return ptr;
    }
    size_t normal = head == NULL ? RN_ARENA_FIRST : RN_ARENA_BLOCK;
    if (need > normal / 4 && head != NULL) {
        /* A big allocation: its own block, behind the head. */
        struct rn_arena_block *big = rn_arena_new_block(need);
        if (big == NULL)
            return NULL;
        big->pos = need;
        big->next = head->next;
        head->next = big;
        arena->used += need;
        return big->data;
    }
    struct rn_arena_block *block = rn_arena_new_block(need > normal ? need : normal);
    if (block == NULL)
        return NULL;
    block->next = head;
    arena->head = block;
    block->pos = need;
    arena->used += need;
    return block->data;
}

void *rn_arena_calloc(rn_arena_t *arena, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    void *ptr = rn_arena_alloc(arena, count * size);
    if (ptr != NULL)
        memset(ptr, 0, count * size);
    return ptr;
}

void *rn_arena_memdup(rn_arena_t *arena, const void *ptr, size_t len)
{
    void *copy = rn_arena_alloc(arena, len);
    if (copy != NULL && len > 0)
        memcpy(copy, ptr, len);
    return copy;
}

char *rn_arena_strndup(rn_arena_t *arena, const char *str, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    char *copy = rn_arena_alloc(arena, len + 1);
    if (copy == NULL)
        return NULL;
    if (len > 0)
        memcpy(copy, str, len);
    copy[len] = '\0';
    return copy;
}

void rn_arena_reset(rn_arena_t *arena)
{
    /* Keep the oldest block of normal size (the tail of the list) for reuse: it is the
     * first one a fresh request would allocate anyway. */
    struct rn_arena_block *keep = NULL, *block = arena->head;
    while (block != NULL) {
        struct rn_arena_block *next = block->next;
        if (next == NULL && block->size <= RN_ARENA_BLOCK) {
            keep = block;
        } else {
            rn_free(block);
        }
        block = next;
    }
    if (keep != NULL) {
        keep->pos = 0;
        keep->next = NULL;
    }
    arena->head = keep;
    arena->used = 0;
}

void rn_arena_free(rn_arena_t *arena)
{
    struct rn_arena_block *block = arena->head;
    while (block != NULL) {
        struct rn_arena_block *next = block->next;
        rn_free(block);
        block = next;
    }
    arena->head = NULL;
    arena->used = 0;
}

size_t rn_arena_used(const rn_arena_t *arena)
{
    return arena->used;
}
