/* rn_pdefer: Produce appends deferred behind a compression that runs off the event loop.
 *
 * A topic whose compression.type differs from what the producer sent has its batches
 * recompressed (rn_precords.h); gzip costs ~170 ms per MB, which on the loop would stall every
 * other connection. The Produce handler checks and walks the batch on the loop, then hands
 * the compression here as an item: the item's job compresses on a worker thread of its own
 * (an rn_offload instance, so admin fsyncs and compressions never wait for each other), and
 * the item's commit callback — the sequence check and the append — runs back on the loop.
 *
 * Order: a partition is busy while it has items in flight (rn_pdefer_busy). The handler must
 * add every later append to a busy partition as an item too (without compression: it only
 * waits its turn), whichever connection it came from. The worker runs jobs one at a time
 * and their done callbacks run in submission order, so a partition's items commit in the
 * order their requests arrived and idempotent producers' sequences are checked in order.
 *
 * Items belong to a group (one parked Produce request): commit runs per item, finish once
 * after the group's last item. A cancelled group (the connection closed) drops its items as
 * their jobs return: neither commit nor finish runs, and the inputs are freed.
 *
 * Memory: the compressions in flight hold at most max_bytes of input (rn_pdefer_has_room);
 * past it the handler compresses on the loop, as before, which also slows the producers that
 * overran it. One input larger than max_bytes may still go alone.
 *
 * Loop thread only. rn_pdefer_free finishes queued jobs first (their callbacks run there). */
#ifndef RN_PDEFER_H
#define RN_PDEFER_H

#include "rn_uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

typedef struct rn_pdefer rn_pdefer_t;
typedef struct rn_pdefer_group rn_pdefer_group_t;

/* What an item's job produced, for its commit: the input handed to rn_pdefer_add (still
 * owned by the module: valid during commit only) and, for an item with a codec, the
 * compressed records (rc 0) or the compression's RN_E*. */
typedef struct rn_pdefer_result {
    int rc;
    const uint8_t *in;
    size_t in_len;
    const uint8_t *z; /* NULL without a compression */
    size_t zlen;
} rn_pdefer_result_t;

typedef void (*rn_pdefer_commit_fn)(void *group_arg, void *item_arg, const rn_pdefer_result_t *res);
typedef void (*rn_pdefer_finish_fn)(void *group_arg);

/* Start the worker. NULL (errno set) when the thread cannot start. max_bytes bounds the
 * inputs in flight (see above). */
rn_pdefer_t *rn_pdefer_new(struct event_base *base, size_t max_bytes);
/* Finish every queued job (callbacks run here), stop the worker, free. NULL is ok. */
void rn_pdefer_free(rn_pdefer_t *pd);

/* Items in flight for (topic_id, partition): later appends there must queue behind them. */
bool rn_pdefer_busy(const rn_pdefer_t *pd, const rn_uuid_t *topic_id, int32_t partition);
/* Whether a compression of in_len input bytes may go to the worker now. */
bool rn_pdefer_has_room(const rn_pdefer_t *pd, size_t in_len);
/* Input bytes of the compressions in flight, and items in flight (tests, metrics). */
size_t rn_pdefer_bytes(const rn_pdefer_t *pd);
size_t rn_pdefer_items(const rn_pdefer_t *pd);

/* A new, empty group; commit and finish run with arg. */
rn_pdefer_group_t *rn_pdefer_group_new(rn_pdefer_t *pd, rn_pdefer_commit_fn commit,
                                       rn_pdefer_finish_fn finish, void *arg);
/* Queue an item of group g for (topic_id, partition), which is busy from now until the item
 * is done. With in not NULL, in (rn_malloc'd; taken over) is compressed with codec on the
 * worker before commit, but for its first skip bytes (a header commit uses). Items are added from
 * one loop callback: finish runs after the last one's commit, on a later loop iteration. */
void rn_pdefer_add(rn_pdefer_group_t *g, const rn_uuid_t *topic_id, int32_t partition, int codec,
                   uint8_t *in, size_t in_len, size_t skip, void *item_arg);
/* Items of g not committed yet. */
int rn_pdefer_group_left(const rn_pdefer_group_t *g);
/* The group's owner is gone (see above). A group with no items left is freed at once. */
void rn_pdefer_group_cancel(rn_pdefer_group_t *g);

#endif
