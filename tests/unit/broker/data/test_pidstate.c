/* Unit tests for rn_pidstate: every sequence/epoch rule, duplicates within and beyond the
 * window, wrap-around, eviction, expiry, truncation, snapshot export/import, and a large
 * randomised table exercise (insert/remove) checked against a plain array. */
#include <stdlib.h>

#include "data/rn_pidstate.h"
#include "rn_err.h"
#include "tap.h"

/* Append a batch as the Produce handler does: check, then update with assigned offsets. */
static int64_t next_offset;

static rn_pidstate_verdict_t produce(rn_pidstate_t *ps, int64_t pid, int16_t epoch, int32_t seq,
                                     int32_t count, rn_pidstate_batch_t *out)
{
    rn_pidstate_batch_t dup;
    rn_pidstate_verdict_t v = rn_pidstate_check(ps, pid, epoch, seq, count - 1, &dup);
    if (v == RN_PIDSTATE_DUPLICATE && out)
        *out = dup;
    if (v != RN_PIDSTATE_APPEND)
        return v;
    rn_pidstate_batch_t b = {
        .first_seq = seq,
        .last_seq = rn_pidstate_last_seq(seq, count),
        .first_offset = next_offset,
        .last_offset = next_offset + count - 1,
        .timestamp = 1000 + next_offset,
    };
    next_offset += count;
    rn_pidstate_update(ps, pid, epoch, &b);
    if (out)
        *out = b;
    return v;
}

static void test_basic_rules(void)
{
    rn_pidstate_t *ps = rn_pidstate_new();
    rn_pidstate_batch_t b;
    next_offset = 0;

    is(produce(ps, 1, 0, 0, 3, &b), RN_PIDSTATE_APPEND, "new producer at seq 0 appends");
    is(b.first_offset, 0, "first batch offset 0");
    is(produce(ps, 1, 0, 3, 2, &b), RN_PIDSTATE_APPEND, "next seq appends");
    is(b.first_offset, 3, "second batch offset 3");
    is(produce(ps, 1, 0, 6, 1, NULL), RN_PIDSTATE_OUT_OF_ORDER, "gap -> out of order");
    is(produce(ps, 1, 0, 4, 1, NULL), RN_PIDSTATE_OUT_OF_ORDER,
       "overlap not equal -> out of order");
    is(produce(ps, 1, 0, 0, 3, &b), RN_PIDSTATE_DUPLICATE, "retry of first batch -> duplicate");
    is(b.first_offset, 0, "duplicate answers the original first offset");
    is(b.last_offset, 2, "duplicate answers the original last offset");
    is(produce(ps, 1, 0, 3, 2, &b), RN_PIDSTATE_DUPLICATE, "retry of last batch -> duplicate");
    is(b.first_offset, 3, "duplicate of the last batch: offset 3");
    is(produce(ps, 1, 0, 0, 2, NULL), RN_PIDSTATE_OUT_OF_ORDER,
       "same first seq, different length -> not a duplicate, out of order");
    is(next_offset, 5, "no duplicate was appended");

    /* Unknown producer: any sequence (KIP-360; state may have been lost to retention). */
    is(produce(ps, 2, 0, 42, 1, &b), RN_PIDSTATE_APPEND, "unknown producer at seq 42 accepted");
    is(produce(ps, 2, 0, 43, 1, NULL), RN_PIDSTATE_APPEND, "and continues at 43");
    is(produce(ps, 2, 0, 45, 1, NULL), RN_PIDSTATE_OUT_OF_ORDER, "then a gap is refused");

    /* Epochs. */
    is(produce(ps, 1, 1, 5, 1, NULL), RN_PIDSTATE_OUT_OF_ORDER, "new epoch must start at seq 0");
    is(produce(ps, 1, 1, 0, 1, &b), RN_PIDSTATE_APPEND, "new epoch at seq 0 appends");
    is(produce(ps, 1, 0, 5, 1, NULL), RN_PIDSTATE_INVALID_EPOCH, "old epoch -> invalid epoch");
    is(produce(ps, 1, 0, 0, 3, NULL), RN_PIDSTATE_INVALID_EPOCH,
       "retry from an old epoch is fenced, not a duplicate");
    is(produce(ps, 1, 1, 0, 1, NULL), RN_PIDSTATE_DUPLICATE, "new epoch batch retry is duplicate");
    is(produce(ps, 1, 1, 1, 1, NULL), RN_PIDSTATE_APPEND, "new epoch continues");
    int16_t epoch = -5;
    is(rn_pidstate_lookup(ps, 1, &epoch, &b), 0, "lookup producer 1");
    is(epoch, 1, "current epoch 1");
    is(b.last_seq, 1, "last seq 1");
    is(rn_pidstate_lookup(ps, 99, &epoch, NULL), RN_ENOTFOUND, "unknown producer not found");
    is(rn_pidstate_count(ps), 2, "two producers");
    rn_pidstate_free(ps);
}

static void test_window(void)
{
    rn_pidstate_t *ps = rn_pidstate_new();
    rn_pidstate_batch_t b;
    next_offset = 100;
    for (int i = 0; i < 7; i++)
        produce(ps, 7, 3, i * 10, 10, NULL);
    /* Batches 2..6 are remembered (5), 0 and 1 are not. */
    for (int i = 2; i < 7; i++) {
        is(produce(ps, 7, 3, i * 10, 10, &b), RN_PIDSTATE_DUPLICATE, "batch %d in window", i);
        is(b.first_offset, 100 + i * 10, "batch %d original offset", i);
    }
    is(produce(ps, 7, 3, 10, 10, NULL), RN_PIDSTATE_OUT_OF_ORDER,
       "batch older than the window is out of order (as in Kafka)");
    is(produce(ps, 7, 3, 70, 10, NULL), RN_PIDSTATE_APPEND, "next batch after the window");
    rn_pidstate_free(ps);
}

static void test_wraparound(void)
{
    rn_pidstate_t *ps = rn_pidstate_new();
    rn_pidstate_batch_t b;
    next_offset = 0;
    is(rn_pidstate_last_seq(0, 1), 0, "last seq of 1 record");
    is(rn_pidstate_last_seq(10, 5), 14, "last seq of 5 records from 10");
    is(rn_pidstate_last_seq(INT32_MAX, 1), INT32_MAX, "INT32_MAX alone");
    is(rn_pidstate_last_seq(INT32_MAX - 1, 3), 0, "wraps to 0");
    is(rn_pidstate_last_seq(INT32_MAX, 3), 1, "wraps to 1");

    /* Unknown producer, so any start sequence is fine. */
    is(produce(ps, 5, 0, INT32_MAX - 2, 2, NULL), RN_PIDSTATE_APPEND, "near INT32_MAX");
    is(produce(ps, 5, 0, INT32_MAX, 1, &b), RN_PIDSTATE_APPEND, "INT32_MAX itself");
    is(produce(ps, 5, 0, 1, 1, NULL), RN_PIDSTATE_OUT_OF_ORDER, "after INT32_MAX comes 0, not 1");
    is(produce(ps, 5, 0, 0, 2, NULL), RN_PIDSTATE_APPEND, "after INT32_MAX comes 0");
    is(produce(ps, 5, 0, INT32_MAX, 1, NULL), RN_PIDSTATE_DUPLICATE, "pre-wrap retry duplicate");

    /* A batch straddling the wrap. */
    is(produce(ps, 6, 0, INT32_MAX - 1, 4, &b), RN_PIDSTATE_APPEND, "straddling batch");
    is(b.last_seq, 1, "straddling batch ends at 1");
    is(produce(ps, 6, 0, INT32_MAX - 1, 4, NULL), RN_PIDSTATE_DUPLICATE, "straddling retry dup");
    is(produce(ps, 6, 0, 2, 1, NULL), RN_PIDSTATE_APPEND, "continues at 2");
    rn_pidstate_free(ps);
}

static void test_evict_expire_truncate(void)
{
    rn_pidstate_t *ps = rn_pidstate_new();
    next_offset = 0;
    produce(ps, 1, 0, 0, 10, NULL);  /* offsets 0..9, ts 1000 */
    produce(ps, 2, 0, 0, 10, NULL);  /* 10..19, ts 1010 */
    produce(ps, 3, 0, 0, 10, NULL);  /* 20..29, ts 1020 */
    produce(ps, 1, 0, 10, 10, NULL); /* 30..39, ts 1030 */
    is(rn_pidstate_evict_below(ps, 20), 1, "evict: producer 2 only (1 has a later batch)");
    is(rn_pidstate_lookup(ps, 2, NULL, NULL), RN_ENOTFOUND, "producer 2 gone");
    is(produce(ps, 2, 0, 77, 1, NULL), RN_PIDSTATE_APPEND, "evicted producer accepted at any seq");
    /* 2 is back: offset 40, ts 1040. */
    is(rn_pidstate_expire(ps, 1030 + 500, 500), 2, "expire producers 3 (ts 1020) and 1 (1030)");
    is(rn_pidstate_count(ps), 1, "producer 2 left");

    rn_pidstate_clear(ps);
    next_offset = 0;
    produce(ps, 1, 0, 0, 10, NULL);  /* 0..9 */
    produce(ps, 1, 0, 10, 10, NULL); /* 10..19 */
    produce(ps, 2, 0, 0, 10, NULL);  /* 20..29 */
    is(rn_pidstate_truncate(ps, 15), 1, "truncate to 15 drops producer 2");
    rn_pidstate_batch_t b;
    is(rn_pidstate_lookup(ps, 1, NULL, &b), 0, "producer 1 kept");
    is(b.last_offset, 9, "its truncated batch is forgotten");
    is(produce(ps, 1, 0, 10, 10, NULL), RN_PIDSTATE_APPEND, "the truncated batch can be resent");
    rn_pidstate_free(ps);
}

static int collect(const rn_pidstate_entry_t *entry, void *arg)
{
    rn_pidstate_t *copy = arg;
    return rn_pidstate_load(copy, entry);
}

static int stop_at_first(const rn_pidstate_entry_t *entry, void *arg)
{
    (*(int *)arg)++;
    return 7;
}

static void test_snapshot_roundtrip(void)
{
    rn_pidstate_t *ps = rn_pidstate_new();
    rn_pidstate_t *copy = rn_pidstate_new();
    rn_pidstate_batch_t b;
    next_offset = 0;
    produce(ps, 11, 2, 0, 4, NULL);
    produce(ps, 11, 2, 4, 4, NULL);
    produce(ps, 12, 0, INT32_MAX - 1, 3, NULL); /* wraps: last seq 0 */
    rn_pidstate_update(ps, 13, 4, NULL);        /* epoch known, no batch */
    is(rn_pidstate_foreach(ps, collect, copy), 0, "export all");
    is(rn_pidstate_count(copy), 3, "three producers imported");
    is(produce(copy, 11, 2, 4, 4, &b), RN_PIDSTATE_DUPLICATE, "last batch still a duplicate");
    is(b.first_offset, 4, "with its first offset");
    is(produce(copy, 11, 2, 0, 4, NULL), RN_PIDSTATE_OUT_OF_ORDER,
       "older batch (not in a snapshot) is out of order, as in Kafka");
    is(produce(copy, 11, 2, 8, 1, NULL), RN_PIDSTATE_APPEND, "sequence continues after import");
    is(produce(copy, 12, 0, INT32_MAX - 1, 3, &b), RN_PIDSTATE_DUPLICATE, "wrapped batch dup");
    is(b.first_offset, 8, "wrapped batch first offset");
    is(produce(copy, 12, 0, 1, 1, NULL), RN_PIDSTATE_APPEND, "wrapped producer continues at 1");
    is(produce(copy, 13, 4, 3, 1, NULL), RN_PIDSTATE_OUT_OF_ORDER, "known epoch, no batch: not 3");
    is(produce(copy, 13, 3, 0, 1, NULL), RN_PIDSTATE_INVALID_EPOCH, "known epoch 4 fences 3");
    is(produce(copy, 13, 4, 0, 1, NULL), RN_PIDSTATE_APPEND, "known epoch, no batch: seq 0");

    int calls = 0;
    is(rn_pidstate_foreach(ps, stop_at_first, &calls), 7, "foreach returns fn's value");
    is(calls, 1, "and stops");
    rn_pidstate_entry_t bad = {.producer_id = -1};
    is(rn_pidstate_load(copy, &bad), RN_EINVAL, "negative producer id refused");
    rn_pidstate_entry_t bad2 = {.producer_id = 5, .offset_delta = -1};
    is(rn_pidstate_load(copy, &bad2), RN_EINVAL, "negative delta refused");
    rn_pidstate_free(ps);
    rn_pidstate_free(copy);
}

/* Replay of batches read back from a log rebuilds the same verdicts. */
static void test_replay(void)
{
    rn_pidstate_t *ps = rn_pidstate_new();
    rn_pidstate_t *replayed = rn_pidstate_new();
    rn_pidstate_batch_t log[40];
    int64_t pids[40];
    int16_t epochs[40];
    int n = 0;
    next_offset = 0;
    for (int i = 0; i < 40; i++) {
        int64_t pid = i % 4;
        int32_t seq = (i / 4) * 2;
        if (produce(ps, pid, 0, seq, 2, &log[n]) == RN_PIDSTATE_APPEND) {
            pids[n] = pid;
            epochs[n] = 0;
            n++;
        }
    }
    is(n, 40, "40 batches appended");
    for (int i = 0; i < n; i++)
        rn_pidstate_update(replayed, pids[i], epochs[i], &log[i]);
    int same = 1;
    for (int i = 0; i < n; i++) {
        rn_pidstate_batch_t a, b;
        rn_pidstate_verdict_t va = rn_pidstate_check(ps, pids[i], 0, log[i].first_seq, 1, &a);
        rn_pidstate_verdict_t vb = rn_pidstate_check(replayed, pids[i], 0, log[i].first_seq, 1, &b);
        if (va != vb || (va == RN_PIDSTATE_DUPLICATE && a.first_offset != b.first_offset))
            same = 0;
    }
    ok(same, "replayed state answers like the live one");
    rn_pidstate_free(ps);
    rn_pidstate_free(replayed);
}

/* The hash table under many inserts and removals, against a reference array. */
static void test_table_stress(void)
{
    enum { N = 3000 };
    static int64_t ref_last[N]; /* -1: not tracked */
    unsigned seed = 12345;
    srand(seed);
    for (int p = 0; p < N; p++)
        ref_last[p] = -1;
    rn_pidstate_t *ps = rn_pidstate_new();
    int64_t off = 0;
    int mismatches = 0;
    for (int round = 0; round < 20000; round++) {
        int64_t pid = rand() % N;
        rn_pidstate_batch_t b = {0, 0, off, off, off};
        rn_pidstate_update(ps, pid, 0, &b);
        ref_last[pid] = off;
        off++;
        if (round % 1000 != 999)
            continue;
        size_t want_removed = 0;
        for (int p = 0; p < N; p++) {
            if (ref_last[p] >= 0 && ref_last[p] < off - 500) {
                ref_last[p] = -1;
                want_removed++;
            }
        }
        if (rn_pidstate_evict_below(ps, off - 500) != want_removed)
            mismatches++;
        size_t tracked = 0;
        for (int p = 0; p < N; p++) {
            rn_pidstate_batch_t got;
            int rc = rn_pidstate_lookup(ps, p, NULL, &got);
            if (ref_last[p] >= 0) {
                tracked++;
                if (rc != 0 || got.last_offset != ref_last[p])
                    mismatches++;
            } else if (rc == 0) {
                mismatches++;
            }
        }
        if (rn_pidstate_count(ps) != tracked)
            mismatches++;
    }
    is(mismatches, 0, "table agrees with the reference after every eviction (seed %u)", seed);
    rn_pidstate_free(ps);
}

int main(void)
{
    test_basic_rules();
    test_window();
    test_wraparound();
    test_evict_expire_truncate();
    test_snapshot_roundtrip();
    test_replay();
    test_table_stress();
    return done_testing();
}
