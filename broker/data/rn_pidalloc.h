/* rn_pidalloc: this node's producer ids for InitProducerId, from blocks the active controller
 * grants (AllocateProducerIds, committed as a ProducerIdsRecord before it answers), so no two
 * nodes and no two runs hand out the same id -- Kafka's RPCProducerIdManager.
 *
 * The allocator holds the block being used and at most one more: when 90% of the current
 * block is used (or none is left) it asks its source for the next one, once, and the source
 * answers with rn_pidalloc_add_block whenever it gets one (it retries on its own). Until
 * then rn_pidalloc_next finds no id and callers wait with rn_pidalloc_wait.
 *
 * Upgrade: before the controller granted ids, each node reserved them in the file
 * "producer-id-block" of its data directory ("<first id not yet reserved>\n"). The file is
 * only read now (rn_pidalloc_read_mark): its mark is the floor below which ids may have been
 * used, so the controller's first block starts above the controller's own mark and every
 * node skips granted ids below its mark. Nothing writes the file any more.
 *
 * Loop thread only. */
#ifndef RN_PIDALLOC_H
#define RN_PIDALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RN_PIDALLOC_FILE         "producer-id-block"
#define RN_PIDALLOC_PREFETCH_PCT 90 /* ask for the next block at this share used, as Kafka */

typedef struct rn_pidalloc rn_pidalloc_t;
typedef struct rn_pidalloc_wait rn_pidalloc_wait_t;

/* The high-water mark of the legacy file in data directory dir (0 when there is none).
 * Returns 0; RN_ECORRUPT when the file is not one decimal number and a newline; RN_EIO
 * (message in err). */
int rn_pidalloc_read_mark(const char *dir, int64_t *mark, char *err, size_t errlen);

/* An allocator handing out no id below floor. ask(arg) is called from rn_pidalloc_next
 * when a block is wanted and none is asked for yet; the source must then call
 * rn_pidalloc_add_block eventually (later, never from inside ask). */
rn_pidalloc_t *rn_pidalloc_new(int64_t floor, void (*ask)(void *arg), void *arg);
/* Waiters still there are called with RN_ECANCELED. */
void rn_pidalloc_free(rn_pidalloc_t *pa);

/* The next producer id. Returns 0, or RN_ENOTFOUND when no granted id is left (a block has
 * been asked for). */
int rn_pidalloc_next(rn_pidalloc_t *pa, int64_t *producer_id);

/* A block [start, start + len) granted by the controller: ids below the floor are skipped,
 * and waiters get ids in the order they came. A block wholly below the floor is dropped
 * and another asked for. */
void rn_pidalloc_add_block(rn_pidalloc_t *pa, int64_t start, int32_t len);

/* Wait for an id until deadline_ms (monotonic): done(arg, 0, id), or done(arg, RN_ENOTFOUND,
 * -1) at the deadline (rn_pidalloc_expire), or RN_ECANCELED from rn_pidalloc_free. */
rn_pidalloc_wait_t *rn_pidalloc_wait(rn_pidalloc_t *pa, int64_t deadline_ms,
                                     void (*done)(void *arg, int rc, int64_t producer_id),
                                     void *arg);
/* Forget w without calling it (its request went away). */
void rn_pidalloc_unwait(rn_pidalloc_t *pa, rn_pidalloc_wait_t *w);
/* Answer the waiters whose deadline passed. */
void rn_pidalloc_expire(rn_pidalloc_t *pa, int64_t now_ms);

#endif
