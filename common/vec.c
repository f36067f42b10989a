/* The growable array's growth rule (see rn_vec.h). */
#include "rn_vec.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 8

int rn__vec_reserve(void *items_ptr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : MIN_CAP;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return RN_ENOMEM;
        ncap *= 2;
    }
    if (elem != 0 && ncap > SIZE_MAX / elem)
        return RN_ENOMEM;
    /* items_ptr points at a T *; copy the pointer through memcpy rather than reading it as
     * a void * so no object is accessed through an lvalue of another pointer type. */
    void *items;
    memcpy(&items, items_ptr, sizeof(items));
    void *grown = rn_realloc(items, ncap * elem);
    if (grown == NULL)
        return RN_ENOMEM;
    memcpy(items_ptr, &grown, sizeof(grown));
    *cap = ncap;
    return 0;
}

void rn__vec_xreserve(void *items_ptr, size_t *cap, size_t need, size_t elem)
{
    if (rn__vec_reserve(items_ptr, cap, need, elem) != 0) {
        fprintf(stderr, "runnel: out of memory growing an array to %zu elements of %zu bytes\n",
                need, elem);
        abort();
    }
}
