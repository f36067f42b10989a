/* rn_lagstat: consumer lag evaluated over time, the way Burrow judges a consumer, from a
 * small bounded history of samples per group and partition.
 *
 * A sample is what the coordinator knows at one moment: the committed offset and its commit
 * time, and the partition's log start and end. Each partition keeps its last
 * RN_LAGSTAT_WINDOW samples; each group the last RN_LAGSTAT_HISTORY totals (for its lag
 * chart). A partition's status over its window, first match wins:
 *   ERR    the committed offset is past the log end or below the log start (the consumer
 *          would be reset, or the log was truncated under it);
 *   OK     fewer than two samples, or some sample had no lag;
 *   STOP   the committed offset did not move, no commit arrived in the window and the last
 *          one is older than the window's span: the consumer is gone;
 *   STALL  the committed offset did not move while lag stayed above zero (commits may still
 *          arrive, for the same offset);
 *   WARN   the offset moves, but the lag grew over every interval: the consumer falls behind;
 *   OK     otherwise.
 * A group's status is the worst of its partitions'. Bounded: at most max_groups groups and
 * RN_LAGSTAT_MAX_PARTS partitions per group are tracked (later ones are not), and groups not
 * sampled for RN_LAGSTAT_FORGET_MS are dropped at the next sample. Loop thread only. */
#ifndef RN_LAGSTAT_H
#define RN_LAGSTAT_H

#include "rn_str.h"

#include <stddef.h>
#include <stdint.h>

#define RN_LAGSTAT_WINDOW    10
#define RN_LAGSTAT_HISTORY   120
#define RN_LAGSTAT_MAX_PARTS 1024
#define RN_LAGSTAT_FORGET_MS (10 * 60 * 1000)

typedef enum rn_lagstat_status {
    RN_LAGSTAT_OK,
    RN_LAGSTAT_WARN,
    RN_LAGSTAT_STALL,
    RN_LAGSTAT_STOP,
    RN_LAGSTAT_ERR,
} rn_lagstat_status_t;

/* "OK", "WARN", "STALL", "STOP", "ERR". */
const char *rn_lagstat_name(rn_lagstat_status_t st);

/* One point of a group's total lag. */
typedef struct rn_lagstat_point {
    int64_t ts_ms;
    int64_t lag;
} rn_lagstat_point_t;

typedef struct rn_lagstat rn_lagstat_t;

rn_lagstat_t *rn_lagstat_new(size_t max_groups);
void rn_lagstat_free(rn_lagstat_t *ls); /* NULL is a no-op */

/* Record one partition's sample at now_ms (commit_ts: the commit's time in ms). */
void rn_lagstat_add(rn_lagstat_t *ls, rn_str_t group, const char *topic, int32_t partition,
                    int64_t now_ms, int64_t committed, int64_t commit_ts, int64_t log_start,
                    int64_t log_end);
/* Record the group's total lag at now_ms (after its partitions' samples). */
void rn_lagstat_add_total(rn_lagstat_t *ls, rn_str_t group, int64_t now_ms, int64_t lag);

/* A partition's status at now_ms (OK when it was never sampled). */
rn_lagstat_status_t rn_lagstat_partition(const rn_lagstat_t *ls, rn_str_t group, const char *topic,
                                         int32_t partition, int64_t now_ms);
/* The worst status of the group's partitions. */
rn_lagstat_status_t rn_lagstat_group(const rn_lagstat_t *ls, rn_str_t group, int64_t now_ms);
/* The group's total-lag history, oldest first, into out[0..cap); returns the count. */
size_t rn_lagstat_history(const rn_lagstat_t *ls, rn_str_t group, rn_lagstat_point_t *out,
                          size_t cap);
/* Groups tracked. */
size_t rn_lagstat_count(const rn_lagstat_t *ls);

#endif
