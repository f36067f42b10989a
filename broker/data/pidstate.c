/* Idempotent producer state of one partition (see rn_pidstate.h for the rules).
 *
 * Storage: producer entries allocated one by one in an rn_map keyed by producer id. The
 * hash is rn_hash_u64(producer id), a bijection, so the map compares hashes only and a
 * lookup — one per produced batch — touches no entry until it is found. Each entry keeps
 * its batches oldest first in a small array. */
#include "data/rn_pidstate.h"

#include <string.h>

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_hash.h"
#include "rn_map.h"

typedef struct pid_entry {
    int64_t producer_id;
    int16_t epoch;
    uint8_t nbatches; /* 0..RN_PIDSTATE_BATCHES, oldest first */
    rn_pidstate_batch_t batches[RN_PIDSTATE_BATCHES];
} pid_entry_t;

struct rn_pidstate {
    rn_map_t by_pid; /* of pid_entry_t, owned */
};

static uint64_t hash_pid(int64_t pid)
{
    return rn_hash_u64((uint64_t)pid);
}

rn_pidstate_t *rn_pidstate_new(void)
{
    return rn_xcalloc(1, sizeof(rn_pidstate_t));
}

void rn_pidstate_clear(rn_pidstate_t *ps)
{
    size_t pos = 0;
    for (pid_entry_t *e; (e = rn_map_next(&ps->by_pid, &pos)) != NULL;)
        rn_free(e);
    rn_map_clear(&ps->by_pid);
}

void rn_pidstate_free(rn_pidstate_t *ps)
{
    if (!ps)
        return;
    rn_pidstate_clear(ps);
    rn_map_free(&ps->by_pid);
    rn_free(ps);
}

size_t rn_pidstate_count(const rn_pidstate_t *ps)
{
    return rn_map_count(&ps->by_pid);
}

static pid_entry_t *find(const rn_pidstate_t *ps, int64_t pid)
{
    return rn_map_get(&ps->by_pid, hash_pid(pid), NULL, NULL);
}

/* The entry of pid, created empty (epoch -1, no batches) if absent. */
static pid_entry_t *find_or_insert(rn_pidstate_t *ps, int64_t pid)
{
    pid_entry_t *e = find(ps, pid);
    if (e)
        return e;
    e = rn_xcalloc(1, sizeof(*e));
    e->producer_id = pid;
    e->epoch = -1;
    rn_map_xput(&ps->by_pid, hash_pid(pid), e);
    return e;
}

int32_t rn_pidstate_last_seq(int32_t base_seq, int32_t record_count)
{
    int32_t delta = record_count - 1;
    if (delta <= 0)
        return base_seq;
    if (base_seq > INT32_MAX - delta)
        return delta - (INT32_MAX - base_seq) - 1;
    return base_seq + delta;
}

static int in_sequence(int32_t last_seq, int32_t next_seq)
{
    return (int64_t)next_seq == (int64_t)last_seq + 1 || (next_seq == 0 && last_seq == INT32_MAX);
}

rn_pidstate_verdict_t rn_pidstate_check(const rn_pidstate_t *ps, int64_t producer_id,
                                        int16_t producer_epoch, int32_t base_seq,
                                        int32_t last_offset_delta, rn_pidstate_batch_t *dup)
{
    const pid_entry_t *e = find(ps, producer_id);
    if (!e || e->epoch == -1)
        return RN_PIDSTATE_APPEND; /* state lost or never had: accept any sequence */
    if (producer_epoch < e->epoch)
        return RN_PIDSTATE_INVALID_EPOCH;
    if (producer_epoch != e->epoch)
        return base_seq == 0 ? RN_PIDSTATE_APPEND : RN_PIDSTATE_OUT_OF_ORDER;

    int32_t last_seq = rn_pidstate_last_seq(base_seq, last_offset_delta + 1);
    for (unsigned k = 0; k < e->nbatches; k++) {
        const rn_pidstate_batch_t *b = &e->batches[k];
        if (b->first_seq == base_seq && b->last_seq == last_seq) {
            if (dup)
                *dup = *b;
            return RN_PIDSTATE_DUPLICATE;
        }
    }
    /* An epoch known without any batch (loaded from a snapshot entry that had none) follows
     * sequence -1, so it must start at 0, as in Kafka. */
    int32_t current_last = e->nbatches ? e->batches[e->nbatches - 1].last_seq : -1;
    if (!in_sequence(current_last, base_seq))
        return RN_PIDSTATE_OUT_OF_ORDER;
    return RN_PIDSTATE_APPEND;
}

void rn_pidstate_update(rn_pidstate_t *ps, int64_t producer_id, int16_t producer_epoch,
                        const rn_pidstate_batch_t *batch)
{
    if (producer_id < 0)
        return;
    pid_entry_t *e = find_or_insert(ps, producer_id);
    if (producer_epoch != e->epoch) {
        e->epoch = producer_epoch;
        e->nbatches = 0;
    }
    if (!batch)
        return;
    if (e->nbatches == RN_PIDSTATE_BATCHES) {
        memmove(&e->batches[0], &e->batches[1], (RN_PIDSTATE_BATCHES - 1) * sizeof(e->batches[0]));
        e->nbatches--;
    }
    e->batches[e->nbatches++] = *batch;
}

int rn_pidstate_lookup(const rn_pidstate_t *ps, int64_t producer_id, int16_t *epoch,
                       rn_pidstate_batch_t *batch)
{
    const pid_entry_t *e = find(ps, producer_id);
    if (!e)
        return RN_ENOTFOUND;
    if (epoch)
        *epoch = e->epoch;
    if (batch) {
        if (e->nbatches == 0)
            return RN_ENOTFOUND;
        *batch = e->batches[e->nbatches - 1];
    }
    return 0;
}

int rn_pidstate_foreach(const rn_pidstate_t *ps,
                        int (*fn)(const rn_pidstate_entry_t *entry, void *arg), void *arg)
{
    size_t pos = 0;
    for (const pid_entry_t *e; (e = rn_map_next(&ps->by_pid, &pos)) != NULL;) {
        rn_pidstate_entry_t out = {
            .producer_id = e->producer_id,
            .producer_epoch = e->epoch,
            .last_seq = -1,
            .last_offset = -1,
            .offset_delta = 0,
            .timestamp = -1,
            .coordinator_epoch = -1,
            .txn_first_offset = -1,
        };
        if (e->nbatches > 0) {
            const rn_pidstate_batch_t *b = &e->batches[e->nbatches - 1];
            out.last_seq = b->last_seq;
            out.last_offset = b->last_offset;
            out.offset_delta = (int32_t)(b->last_offset - b->first_offset);
            out.timestamp = b->timestamp;
        }
        int rc = fn(&out, arg);
        if (rc)
            return rc;
    }
    return 0;
}

int rn_pidstate_load(rn_pidstate_t *ps, const rn_pidstate_entry_t *entry)
{
    if (entry->producer_id < 0 || entry->offset_delta < 0)
        return RN_EINVAL;
    pid_entry_t *e = find_or_insert(ps, entry->producer_id);
    e->epoch = entry->producer_epoch;
    e->nbatches = 0;
    if (entry->last_seq >= 0 && entry->last_offset >= 0) {
        rn_pidstate_batch_t *b = &e->batches[e->nbatches++];
        int32_t first_seq = entry->last_seq - entry->offset_delta;
        if (entry->last_seq < entry->offset_delta) /* the batch wrapped past INT32_MAX */
            first_seq = (int32_t)((int64_t)INT32_MAX + 1 + entry->last_seq - entry->offset_delta);
        b->first_seq = first_seq;
        b->last_seq = entry->last_seq;
        b->first_offset = entry->last_offset - entry->offset_delta;
        b->last_offset = entry->last_offset;
        b->timestamp = entry->timestamp;
    }
    return 0;
}

/* Remove every entry for which drop(entry, arg) is true; returns how many. After a removal
 * the scan steps back to the same slot, because the map's backward shift may move an
 * unvisited entry into it; entries shifted from past the end of the array to its front are
 * revisited, which is harmless (every drop function is idempotent). */
static size_t remove_if(rn_pidstate_t *ps, int (*drop)(pid_entry_t *e, int64_t a, int64_t b),
                        int64_t a, int64_t b)
{
    size_t removed = 0, pos = 0;
    for (pid_entry_t *e; (e = rn_map_next(&ps->by_pid, &pos)) != NULL;) {
        if (drop(e, a, b)) {
            rn_map_remove_item(&ps->by_pid, hash_pid(e->producer_id), e);
            rn_free(e);
            removed++;
            pos--;
        }
    }
    return removed;
}

static int64_t entry_last_offset(const pid_entry_t *e)
{
    return e->nbatches ? e->batches[e->nbatches - 1].last_offset : -1;
}

static int drop_below(pid_entry_t *e, int64_t log_start, int64_t unused)
{
    return entry_last_offset(e) < log_start;
}

size_t rn_pidstate_evict_below(rn_pidstate_t *ps, int64_t log_start_offset)
{
    return remove_if(ps, drop_below, log_start_offset, 0);
}

static int drop_expired(pid_entry_t *e, int64_t now_ms, int64_t expiration_ms)
{
    int64_t ts = e->nbatches ? e->batches[e->nbatches - 1].timestamp : -1;
    return now_ms - ts >= expiration_ms;
}

size_t rn_pidstate_expire(rn_pidstate_t *ps, int64_t now_ms, int64_t expiration_ms)
{
    return remove_if(ps, drop_expired, now_ms, expiration_ms);
}

static int drop_truncated(pid_entry_t *e, int64_t end_offset, int64_t unused)
{
    /* Batches are kept in offset order, so the truncated ones form a suffix. */
    while (e->nbatches > 0 && e->batches[e->nbatches - 1].last_offset >= end_offset)
        e->nbatches--;
    return e->nbatches == 0;
}

size_t rn_pidstate_truncate(rn_pidstate_t *ps, int64_t end_offset)
{
    return remove_if(ps, drop_truncated, end_offset, 0);
}
