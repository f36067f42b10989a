/* rn_vec: the one growable array.
 *
 * runnel keeps an array as three typed fields of its owner — `T *items; size_t n, cap;` —
 * so elements are reached as items[i] with the compiler checking T, and the owner's struct
 * says what the array holds. What used to be pasted at every site is the growth rule:
 * capacity doubles (from 8), so n pushes cost O(n) copies; the size computation is checked
 * for overflow; allocation goes through rn_alloc. The macros below only take the address of
 * the items field and sizeof(*items) so a call site cannot pass the wrong element size; the
 * work is done by the functions.
 *
 *   if (rn_vec_reserve(log->segs, log->cap, log->n + 1) != 0)
 *       return RN_ENOMEM;
 *   log->segs[log->n++] = seg;
 *
 *   rn_vec_xpush(gc->entries, gc->n, gc->cap, e);      internal arrays: abort on OOM
 *
 * Invariant kept by the owner: n <= cap, and items holds cap elements (NULL when cap is 0). */
#ifndef RN_VEC_H
#define RN_VEC_H

#include <stddef.h>

/* Grow *items_ptr (a T ** passed as void *) of *cap elements of elem bytes to hold at least
 * need; no-op when it already does. 0, or RN_ENOMEM with the array and *cap unchanged. */
int rn__vec_reserve(void *items_ptr, size_t *cap, size_t need, size_t elem);
/* The same, aborting on OOM (rn_xmalloc's contract). */
void rn__vec_xreserve(void *items_ptr, size_t *cap, size_t need, size_t elem);

/* Room for need elements in items (an lvalue of type T *) whose capacity is cap (an lvalue
 * of type size_t). 0 or RN_ENOMEM. */
#define rn_vec_reserve(items, cap, need) rn__vec_reserve(&(items), &(cap), (need), sizeof(*(items)))
#define rn_vec_xreserve(items, cap, need)                                                          \
    rn__vec_xreserve(&(items), &(cap), (need), sizeof(*(items)))

/* Append value to items[0..n), growing it; n is incremented. Aborts on OOM. */
#define rn_vec_xpush(items, n, cap, value)                                                         \
    do {                                                                                           \
        rn_vec_xreserve(items, cap, (n) + 1);                                                      \
        (items)[(n)++] = (value);                                                                  \
    } while (0)

#endif
