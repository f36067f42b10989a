/* Private parts of rn_gcoord shared by gcoord.c (the group table, timers, appends, the
 * group APIs, expiry), gcoord_write.c (OffsetCommit and the writes that wait for
 * replication) and gcoord_load.c (the replay of __consumer_offsets partitions, leadership
 * changes). Never included outside those three files. */
#ifndef RN_GCOORD_INT_H
#define RN_GCOORD_INT_H

#include "group/rn_gcoord.h"
#include "rn_map.h"
#include "rn_records.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One group on this coordinator: membership, offsets and its timer. */
typedef struct gentry {
    rn_gcoord_t *gc;
    rn_str_t id; /* owned; every byte of the group id (NUL included) */
    int32_t partition;
    rn_group_t *group;
    rn_committed_t *offsets;
    struct event *timer;
    size_t pos; /* index in gc->entries */
    /* While loading: the last group metadata value seen (NULL after a tombstone). */
    uint8_t *load_meta;
    size_t load_meta_len;
    int n_writes; /* appends of this group waiting for replication (gwrite_t) */
} gentry_t;

/* The state of one partition of __consumer_offsets here (rn_gcoord.h). */
typedef enum pstate {
    PART_NONE = 0,
    PART_LOADING,
    PART_LOADED,
    PART_FAILED,
} pstate_t;

typedef struct load_job load_job_t;

typedef struct gpart {
    pstate_t state;
    uint64_t gen;    /* bumped at every leadership change: older loads stop */
    load_job_t *job; /* LOADING: the load in flight */
} gpart_t;

typedef struct topic_waiter {
    void (*done)(void *arg, int16_t error);
    void *arg;
    struct topic_waiter *next;
} topic_waiter_t;

/* A registry persist in flight for the topic's creation; gc is cleared if the coordinator
 * goes first (the persist's callback may run during shutdown). */
typedef struct create_job {
    rn_gcoord_t *gc;
} create_job_t;

struct rn_gcoord {
    rn_gcoord_opts_t o;
    rn_group_config_t gcfg;
    int64_t retention_ms;
    rn_map_t by_id;     /* every group, by group id */
    gentry_t **entries; /* the same groups, dense, in the order ListGroups reports them */
    size_t n, cap;
    gpart_t *parts; /* per partition of __consumer_offsets (grown on demand) */
    int32_t n_parts;
    int32_t n_loading;
    load_job_t *jobs;          /* every load whose offload read may be in flight */
    struct gwrite *writes;     /* appends waiting for replication, a list */
    int32_t commit_timeout_ms; /* offsets.commit.timeout.ms */
    create_job_t *creating;    /* NULL unless a persist for the topic is in flight */
    topic_waiter_t *waiters;
    struct event *expire_timer;
    const rn_group_t **listbuf;
};

/* gcoord.c: the wall clock (opts.now_ms when set); the group table (find, add an Empty
 * group with its timer, remove and free); re-arm a group's timer at its next deadline; the
 * __consumer_offsets topic (NULL until it exists). */
int64_t rn__gcoord_now_ms(const rn_gcoord_t *gc);
gentry_t *rn__gcoord_find_entry(const rn_gcoord_t *gc, rn_str_t id);
gentry_t *rn__gcoord_add_entry(rn_gcoord_t *gc, rn_str_t id, int32_t partition);
void rn__gcoord_remove_entry(rn_gcoord_t *gc, gentry_t *e);
void rn__gcoord_touch(rn_gcoord_t *gc, gentry_t *e);
rn_topic_t *rn__gcoord_offsets_topic(const rn_gcoord_t *gc);
/* Kafka's validateGroupStatus: a valid id (non-empty unless empty_ok) on a loaded partition
 * this node leads; NONE and the partition in *partition (may be NULL), or the error. */
int16_t rn__gcoord_check(const rn_gcoord_t *gc, rn_str_t group, bool empty_ok, int32_t *partition);
/* Append records to a partition as one batch: Kafka's error code, the last offset in *last
 * (may be NULL). */
int16_t rn__gcoord_append(rn_gcoord_t *gc, int32_t partition, const rn_record_spec_t *recs,
                          size_t n, int64_t *last);
/* The state of partition p (grown as needed; p >= 0). */
gpart_t *rn__gcoord_part(rn_gcoord_t *gc, int32_t p);
/* Whether this node has taken up the leadership of part (storage.leads). */
bool rn__gcoord_leads(const rn_gcoord_t *gc, rn_partition_t *part);

/* gcoord_write.c: rn_group's ops.store (the group's record, reported back once replicated);
 * drop every group of partition p (waiters and unreplicated commits answered with error,
 * replication waits withdrawn, entries freed); withdraw every write at shutdown. */
void rn__gcoord_store(void *arg, rn_group_t *group, const rn_groupstore_group_t *meta,
                      uint64_t token);
void rn__gcoord_drop_partition(rn_gcoord_t *gc, int32_t p, int16_t error);
void rn__gcoord_writes_free(rn_gcoord_t *gc);

/* gcoord_load.c: abandon every load (the coordinator is being freed). */
void rn__gcoord_loads_free(rn_gcoord_t *gc);

#endif
