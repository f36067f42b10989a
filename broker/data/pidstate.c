/* Idempotent producer state of one partition (see rn_pidstate.h for the rules).
 *
 * Storage: an open-addressing hash table (linear probing, power-of-two capacity, load kept
 * at or below 1/2) of producer entries stored inline; an empty slot has producer_id -1
 * (valid producer ids are >= 0). Deletion shifts later members of the probe run back so no
 * tombstones are needed. Each entry keeps its batches oldest first in a small array. */
#include "data/rn_pidstate.h"

#include <string.h>

#include "rn_alloc.h"
#include "rn_err.h"

#define EMPTY_PID    (-1)
#define MIN_CAPACITY 8

typedef struct pid_entry {
    int64_t producer_id; /* EMPTY_PID marks a free slot */
    int16_t epoch;
    uint8_t nbatches; /* 0..RN_PIDSTATE_BATCHES, oldest first */
    rn_pidstate_batch_t batches[RN_PIDSTATE_BATCHES];
} pid_entry_t;

struct rn_pidstate {
    pid_entry_t *slots;
    size_t capacity; /* power of two */
    size_t count;
};

static size_t hash_pid(int64_t pid)
{
    /* splitmix64 finaliser: producer ids are sequential, spread them over the table. */
    uint64_t x = (uint64_t)pid;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x;
}

static pid_entry_t *alloc_slots(size_t capacity)
{
    pid_entry_t *slots = rn_xmalloc(capacity * sizeof(*slots));
    for (size_t i = 0; i < capacity; i++)
        slots[i].producer_id = EMPTY_PID;
    return slots;
}

rn_pidstate_t *rn_pidstate_new(void)
{
    rn_pidstate_t *ps = rn_xcalloc(1, sizeof(*ps));
    ps->capacity = MIN_CAPACITY;
    ps->slots = alloc_slots(ps->capacity);
    return ps;
}

void rn_pidstate_free(rn_pidstate_t *ps)
{
    if (!ps)
        return;
    rn_free(ps->slots);
    rn_free(ps);
}

size_t rn_pidstate_count(const rn_pidstate_t *ps)
{
    return ps->count;
}

void rn_pidstate_clear(rn_pidstate_t *ps)
{
    for (size_t i = 0; i < ps->capacity; i++)
        ps->slots[i].producer_id = EMPTY_PID;
    ps->count = 0;
}

static pid_entry_t *find(const rn_pidstate_t *ps, int64_t pid)
{
    size_t mask = ps->capacity - 1;
    for (size_t i = hash_pid(pid) & mask;; i = (i + 1) & mask) {
        pid_entry_t *e = &ps->slots[i];
        if (e->producer_id == pid)
            return e;
        if (e->producer_id == EMPTY_PID)
            return NULL;
    }
}

static void grow(rn_pidstate_t *ps)
{
    size_t old_cap = ps->capacity;
    pid_entry_t *old = ps->slots;
    ps->capacity = old_cap * 2;
    ps->slots = alloc_slots(ps->capacity);
    size_t mask = ps->capacity - 1;
    for (size_t j = 0; j < old_cap; j++) {
        if (old[j].producer_id == EMPTY_PID)
            continue;
        size_t i = hash_pid(old[j].producer_id) & mask;
        while (ps->slots[i].producer_id != EMPTY_PID)
            i = (i + 1) & mask;
        ps->slots[i] = old[j];
    }
    rn_free(old);
}

/* The entry of pid, created empty (epoch -1, no batches) if absent. */
static pid_entry_t *find_or_insert(rn_pidstate_t *ps, int64_t pid)
{
    pid_entry_t *e = find(ps, pid);
    if (e)
        return e;
    if ((ps->count + 1) * 2 > ps->capacity)
        grow(ps);
    size_t mask = ps->capacity - 1;
    size_t i = hash_pid(pid) & mask;
    while (ps->slots[i].producer_id != EMPTY_PID)
        i = (i + 1) & mask;
    e = &ps->slots[i];
    memset(e, 0, sizeof(*e));
    e->producer_id = pid;
    e->epoch = -1;
    ps->count++;
    return e;
}

/* Remove the entry in slot i, moving later members of its probe run back into the hole
 * (backward-shift deletion keeps every entry reachable from its home slot). */
static void remove_slot(rn_pidstate_t *ps, size_t i)
{
    size_t mask = ps->capacity - 1;
    size_t hole = i;
    for (size_t j = (i + 1) & mask; ps->slots[j].producer_id != EMPTY_PID; j = (j + 1) & mask) {
        size_t home = hash_pid(ps->slots[j].producer_id) & mask;
        /* j may move into hole only if its home is not cyclically within (hole, j]. */
        int home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!home_in_range) {
            ps->slots[hole] = ps->slots[j];
            hole = j;
        }
    }
    ps->slots[hole].producer_id = EMPTY_PID;
    ps->count--;
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
    for (size_t i = 0; i < ps->capacity; i++) {
        const pid_entry_t *e = &ps->slots[i];
        if (e->producer_id == EMPTY_PID)
            continue;
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

/* Remove every entry for which drop(entry, arg) is true; returns how many. Restarts the scan
 * after each removal at the same slot, because backward shifting may move an unvisited entry
 * into it; entries shifted from past the end of the array to its front are revisited, which
 * is harmless. */
static size_t remove_if(rn_pidstate_t *ps, int (*drop)(pid_entry_t *e, int64_t a, int64_t b),
                        int64_t a, int64_t b)
{
    size_t removed = 0;
    for (size_t i = 0; i < ps->capacity;) {
        pid_entry_t *e = &ps->slots[i];
        if (e->producer_id != EMPTY_PID && drop(e, a, b)) {
            remove_slot(ps, i);
            removed++;
            continue;
        }
        i++;
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
