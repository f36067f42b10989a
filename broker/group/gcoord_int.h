/* Private parts of rn_gcoord shared by gcoord.c (the group table, timers, appends, the
 * group APIs, expiry) and gcoord_load.c (the replay of __consumer_offsets at start-up).
 * Never included outside those two files. */
#ifndef RN_GCOORD_INT_H
#define RN_GCOORD_INT_H

#include "group/rn_gcoord.h"
#include "rn_map.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One group on this coordinator: membership, offsets and its timer. */
typedef struct gentry {
    rn_gcoord_t *gc;
    char *id;
    size_t id_len;
    int32_t partition;
    rn_group_t *group;
    rn_committed_t *offsets;
    struct event *timer;
    size_t pos; /* index in gc->entries */
    /* While loading: the last group metadata value seen (NULL after a tombstone). */
    uint8_t *load_meta;
    size_t load_meta_len;
} gentry_t;

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
    bool *loaded; /* per partition of __consumer_offsets: replayed and ours */
    int32_t n_loaded;
    create_job_t *creating; /* NULL unless a persist for the topic is in flight */
    topic_waiter_t *waiters;
    struct event *expire_timer;
    const rn_group_t **listbuf;
};

/* gcoord.c: the wall clock (opts.now_ms when set); the group table (find, add an Empty
 * group with its timer, remove and free); re-arm a group's timer at its next deadline; the
 * __consumer_offsets topic (NULL until it exists). */
int64_t rn__gcoord_now_ms(const rn_gcoord_t *gc);
gentry_t *rn__gcoord_find_entry(const rn_gcoord_t *gc, const char *id);
gentry_t *rn__gcoord_add_entry(rn_gcoord_t *gc, const char *id, int32_t partition);
void rn__gcoord_remove_entry(rn_gcoord_t *gc, gentry_t *e);
void rn__gcoord_touch(rn_gcoord_t *gc, gentry_t *e);
rn_topic_t *rn__gcoord_offsets_topic(const rn_gcoord_t *gc);

#endif
