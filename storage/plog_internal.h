/* Internal to rn_plog (plog.c, plog_open.c): the partition log's state. Never included
 * outside storage/. */
#ifndef RN_PLOG_INTERNAL_H
#define RN_PLOG_INTERNAL_H

#include "rn_plog.h"

#include <pthread.h>

/* Invariants: nsegs >= 1 once open; segs sorted by base offset, segs[nsegs - 1] is active (and
 * the only active one); segs[0]->base_offset <= log_start_offset <= log_end_offset;
 * log_end_offset = the active segment's next_offset; recovery_point <= log_end_offset.
 * The owner thread reads segs without the lock and changes it only under mu; the flusher
 * reads it under mu. log_end_offset, recovery_point, last_flush_ms and flush_ms are accessed
 * with __atomic builtins because the flusher reads them; log_start_offset is stored atomically
 * (rn__plog_set_start) because checkpoint writers read it from another thread. */
struct rn_plog {
    char *dir;
    char *name;
    rn_plog_config_t cfg;
    rn_segment_params_t params;
    rn_segment_t **segs;
    size_t nsegs, cap;
    int64_t log_start_offset;
    int64_t log_end_offset;
    int64_t recovery_point;
    int64_t trunc_low; /* lowest truncation point since the running flush took its snapshot */
    int64_t last_flush_ms;
    int64_t flush_ms;
    pthread_mutex_t mu;       /* segs changes, recovery_point, trunc_low */
    pthread_mutex_t flush_mu; /* one flush at a time */
    int refs;
    struct rn_flusher *flusher;
    size_t flusher_slot; /* index in the flusher's table; the flusher's lock guards it */
};

void rn__plog_params(const rn_plog_config_t *cfg, rn_segment_params_t *params);
/* Allocate the struct (no segments yet). */
rn_plog_t *rn__plog_alloc(const char *dir, const rn_plog_config_t *cfg);
/* Append a segment at the end (under mu). */
void rn__plog_push(rn_plog_t *log, rn_segment_t *seg);
/* Index of the segment that would hold offset: the last with base <= offset, or 0. */
size_t rn__plog_find(const rn_plog_t *log, int64_t offset);

static inline void rn__plog_set_start(rn_plog_t *log, int64_t offset)
{
    __atomic_store_n(&log->log_start_offset, offset, __ATOMIC_RELAXED);
}

static inline rn_segment_t *rn__plog_active(const rn_plog_t *log)
{
    return log->segs[log->nsegs - 1];
}

#endif
