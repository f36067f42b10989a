/* rn_tslookup: ListOffsets' looks inside compressed batches, done on the rn_offload worker
 * rather than the event loop, and at most once per batch for a burst of questions.
 *
 * A lookup by timestamp that reaches a compressed batch (rn_plog_*_deferred) hands the batch
 * here. Questions about one batch share one job: the first starts it, the ones arriving
 * while it runs wait and go together in one next job, so a request naming the same
 * partition 150 times costs at most two decompressions, not 150. A batch that cannot be
 * decoded within RN_SEGMENT_TS_MAX_RECORDS (a decompression bomb) is remembered as opaque
 * and answered at once afterwards (with its first offset, as Kafka's batch-granular answer);
 * answers are remembered too (a small ring), keyed by the log, the batch's position, base
 * offset and CRC, and the question, so a changed log never matches a stale entry.
 *
 * Lifetime: owned by the data path; loop thread only. rn_tslookup_free must run after
 * rn_offload_free (every job's done has run by then). While the broker is stopping, waiting
 * questions are answered RN_ECANCELED instead of starting new jobs. */
#ifndef RN_TSLOOKUP_H
#define RN_TSLOOKUP_H

#include "rn_segment.h"
#include "net/rn_offload.h"

#include <stdbool.h>

typedef struct rn_tslookup rn_tslookup_t;

/* An answer: rc 0 with hit, RN_ENOTFOUND (no record of the batch matches: go on after it),
 * or RN_E* (RN_EIO, RN_ENOMEM, RN_ECANCELED). */
typedef void (*rn_tslookup_cb)(void *arg, int rc, const rn_segment_ts_hit_t *hit);

/* stopping (may be NULL) is read when a job ends: true = start no more jobs. */
rn_tslookup_t *rn_tslookup_new(rn_offload_t *off, const bool *stopping);
void rn_tslookup_free(rn_tslookup_t *tl);

/* Ask for the first record of batch (in seg of log) with timestamp >= ts and offset >=
 * min_offset. Takes over the caller's reference to seg. Returns 1 with *rc and *hit when
 * answered from memory now, or 0 when cb(arg, ...) will answer later on the loop. */
int rn_tslookup_find(rn_tslookup_t *tl, const void *log, rn_segment_t *seg,
                     const rn_segment_ts_batch_t *batch, int64_t ts, int64_t min_offset, int *rc,
                     rn_segment_ts_hit_t *hit, rn_tslookup_cb cb, void *arg);

/* Decompressions done so far (tests, metrics). */
unsigned long rn_tslookup_jobs(const rn_tslookup_t *tl);

#endif
