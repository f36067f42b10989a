/* Tests for rn_keyset: counts per key, keys that differ only in tag or length, null and
 * empty keys, the table staying usable at its full size, and linear time on a request-sized
 * input (40,000 names, as a hostile CreatePartitions sends). */
#include "rn_err.h"
#include "meta/rn_keyset.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void test_counts(void)
{
    rn_keyset_t set;
    is(rn_keyset_init(&set, 6), 0, "init for 6 keys");
    rn_keyset_slot_t *a = rn_keyset_add(&set, "orders", 6, 0);
    ok(a != NULL && a->count == 1 && a->value == -1, "a new key counts 1, value -1");
    a->value = 7;
    rn_keyset_slot_t *again = rn_keyset_add(&set, "orders", 6, 0);
    ok(again == a && a->count == 2 && a->value == 7, "the same key again: same slot, count 2");
    ok(rn_keyset_add(&set, "orders", 6, 1) != a, "another tag is another key");
    ok(rn_keyset_add(&set, "order", 5, 0) != a, "a prefix is another key");
    rn_keyset_slot_t *null_key = rn_keyset_add(&set, NULL, 0, 1);
    rn_keyset_slot_t *empty = rn_keyset_add(&set, "", 0, 0);
    ok(null_key != NULL && empty != NULL && null_key != empty,
       "a null name (tag 1) and an empty one (tag 0) differ");
    ok(rn_keyset_add(&set, NULL, 0, 1) == null_key && null_key->count == 2,
       "a null name twice is a duplicate");
    ok(rn_keyset_add(&set, "payments", 8, 0) != NULL, "the 6th key fits");
    ok(rn_keyset_add(&set, "refunds", 7, 0) == NULL, "a 7th distinct key is refused");
    ok(rn_keyset_add(&set, "orders", 6, 0) == a && a->count == 3,
       "a known key still counts when the set is full");
    ok(rn_keyset_find(&set, "orders", 6, 0) == a, "find a known key");
    ok(rn_keyset_find(&set, "refunds", 7, 0) == NULL, "find an unknown key: NULL");
    rn_keyset_free(&set);
}

static void test_linear(void)
{
    enum { N = 40000 };
    static char names[N][8];
    rn_keyset_t set;
    is(rn_keyset_init(&set, N), 0, "init for 40000 keys");
    clock_t t0 = clock();
    int dups = 0;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            snprintf(names[i], sizeof(names[i]), "n%05d", i);
            dups += rn_keyset_add(&set, names[i], 6, 0)->count > 1;
        }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    diag("80000 adds of 40000 names: %.3f s", secs);
    is(dups, N, "every name seen twice is counted as a duplicate once");
    ok(secs < 0.5, "linear time (%.3f s)", secs);
    rn_keyset_free(&set);
}

int main(void)
{
    test_counts();
    test_linear();
    return done_testing();
}
