/* rn_fetchsess: the fetch session cache of incremental Fetch (KIP-227), as Kafka's
 * FetchSession and FetchSessionCache keep it.
 *
 * A session remembers, for one fetcher, the partitions it fetches with their request
 * parameters (fetch offset, partition max bytes, leader epochs, the fetcher's log start) and
 * what the broker last told it of each (high watermark, log start offset). Its next fetch
 * (an incremental one: session id and the session's epoch) names only the partitions whose
 * parameters changed or that it adds, and the ones it forgets; the broker reads every
 * partition of the session and answers only those that must be answered
 * (rn_fetchsess_respond): partitions with records, a changed high watermark or log start, an
 * error, a diverging epoch or a preferred read replica.
 *
 * Partitions keep the session's order: added ones go to the end, and a partition that
 * returned records moves to the end so the others come first in the next read's byte budget
 * (Kafka's round robin).
 *
 * The cache holds at most max_slots sessions (max.incremental.fetch.session.cache.slots). A
 * new session takes a free slot, or evicts (Kafka's FetchSessionCache.tryEvict) the least
 * recently used session if it has not been used for evict_ms, or else the least valuable
 * evictable session if the new one is worth at least as much: privileged (follower) sessions
 * before others, then more partitions before fewer. A session is evictable by anyone once it
 * was older than evict_ms when last used, and by a privileged newcomer at any time unless it
 * is privileged itself.
 *
 * A partition is keyed by its topic's key bytes (the topic name before Fetch v13, the 16-byte
 * topic id from v13: a session uses one or the other) and its index. Topic keys are interned
 * per session, so a session of many partitions of one topic holds its name once.
 *
 * Memory: sessions, partitions and topic keys are allocated through rn_alloc; every
 * allocation is checked (RN_ENOMEM, the cache unchanged where said). Loop thread only. */
#ifndef RN_FETCHSESS_H
#define RN_FETCHSESS_H

#include "rn_map.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka's FetchMetadata constants. */
#define RN_FETCHSESS_INVALID_ID    0
#define RN_FETCHSESS_INITIAL_EPOCH 0
#define RN_FETCHSESS_FINAL_EPOCH   (-1)
/* Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS. */
#define RN_FETCHSESS_EVICT_MS 120000

/* A topic key interned by its session; refs counts the session's partitions on it. */
typedef struct rn_fetchsess_topic {
    uint64_t hash;
    int32_t refs;
    uint16_t len;
    uint8_t key[]; /* len bytes: a topic name or a topic id */
} rn_fetchsess_topic_t;

/* What a fetcher asks of one partition (the request's FetchPartition). */
typedef struct rn_fetchsess_params {
    int64_t fetch_offset;
    int32_t partition_max_bytes;
    int32_t current_leader_epoch;
    int32_t last_fetched_epoch;
    int64_t log_start_offset; /* the fetcher's own (followers) */
} rn_fetchsess_params_t;

/* One partition of a session. */
typedef struct rn_fetchsess_part {
    rn_fetchsess_topic_t *topic;
    int32_t partition;
    uint64_t hash;
    rn_fetchsess_params_t params;
    int64_t high_watermark;                /* last sent; -1 until sent and after an error */
    int64_t log_start_offset;              /* last sent; -1 until sent */
    struct rn_fetchsess_part *prev, *next; /* session order */
} rn_fetchsess_part_t;

/* One session. epoch is the epoch its next request must carry (1 after creation). */
typedef struct rn_fetchsess {
    int32_t id;
    int32_t epoch;
    bool privileged;     /* a follower's */
    bool uses_topic_ids; /* created by Fetch v13+ */
    int64_t creation_ms, last_used_ms;
    rn_map_t parts;  /* of rn_fetchsess_part_t, by (topic key, partition) */
    rn_map_t topics; /* of rn_fetchsess_topic_t, by key */
    rn_fetchsess_part_t *head, *tail;
    size_t nparts;
} rn_fetchsess_t;

typedef struct rn_fetchsess_cache rn_fetchsess_cache_t;

/* Counters for the metrics. */
typedef struct rn_fetchsess_stats {
    uint64_t sessions;    /* in the cache now */
    uint64_t partitions;  /* over all sessions now */
    uint64_t created;     /* total */
    uint64_t evicted;     /* total */
    uint64_t incremental; /* incremental fetches accepted, total */
} rn_fetchsess_stats_t;

/* A cache of up to max_slots sessions (0: no sessions); sessions are evictable after
 * evict_ms (RN_FETCHSESS_EVICT_MS). Aborts on OOM. */
rn_fetchsess_cache_t *rn_fetchsess_cache_new(size_t max_slots, int64_t evict_ms);
void rn_fetchsess_cache_free(rn_fetchsess_cache_t *cache);

/* The session with this id, or NULL. */
rn_fetchsess_t *rn_fetchsess_get(const rn_fetchsess_cache_t *cache, int32_t id);

/* Begin a session for a full fetch that will hold nparts partitions, if there is a slot or
 * one can be evicted (see the top of the file). Returns the new session, empty, with a fresh
 * random id and epoch 1, or NULL when the cache has no room (the fetch is answered without a
 * session) or no memory. Add its partitions with rn_fetchsess_add. */
rn_fetchsess_t *rn_fetchsess_create(rn_fetchsess_cache_t *cache, int64_t now_ms, bool privileged,
                                    size_t nparts, bool uses_topic_ids);

/* Remove the session with this id; false when there is none. */
bool rn_fetchsess_remove(rn_fetchsess_cache_t *cache, int32_t id);

/* The Kafka error of an incremental fetch with (id, epoch) by a request that does or does not
 * use topic ids: NONE with *out set, FETCH_SESSION_ID_NOT_FOUND, INVALID_FETCH_SESSION_EPOCH
 * or FETCH_SESSION_TOPIC_ID_ERROR. */
int16_t rn_fetchsess_lookup(const rn_fetchsess_cache_t *cache, int32_t id, int32_t epoch,
                            bool uses_topic_ids, rn_fetchsess_t **out);

/* Add partition (key, len, partition) with params at the end of sess, or update the params
 * of the one there (Kafka's FetchSession.update); *out (may be NULL) is then the partition.
 * 0, RN_EFULL when sess already holds max_parts partitions (nothing changed), RN_EINVAL for a
 * key over 65535 bytes, RN_ENOMEM. */
int rn_fetchsess_add(rn_fetchsess_cache_t *cache, rn_fetchsess_t *sess, const void *key, size_t len,
                     int32_t partition, const rn_fetchsess_params_t *params, size_t max_parts,
                     rn_fetchsess_part_t **out);

/* Forget a partition; false when sess does not hold it. */
bool rn_fetchsess_forget(rn_fetchsess_cache_t *cache, rn_fetchsess_t *sess, const void *key,
                         size_t len, int32_t partition);

/* The partition (key, len, partition) of sess, or NULL. */
rn_fetchsess_part_t *rn_fetchsess_find(const rn_fetchsess_t *sess, const void *key, size_t len,
                                       int32_t partition);

/* An incremental fetch was accepted: the session was used at now_ms, its epoch moves on
 * (Kafka's FetchMetadata.nextEpoch) and the fetch is counted. */
void rn_fetchsess_touch(rn_fetchsess_cache_t *cache, rn_fetchsess_t *sess, int64_t now_ms);

/* Kafka's FetchMetadata.nextEpoch: 1 after INT32_MAX, FINAL after a negative epoch. */
int32_t rn_fetchsess_next_epoch(int32_t epoch);

/* What the broker read for one partition. */
typedef struct rn_fetchsess_read {
    int64_t high_watermark;
    int64_t log_start_offset;
    int16_t error_code;
    bool has_records;
    bool diverging;         /* a diverging epoch was set */
    bool preferred_replica; /* a preferred read replica was set */
} rn_fetchsess_read_t;

/* Whether an incremental response must carry part, after reading it as *read (Kafka's
 * CachedPartition.maybeUpdateResponseData): remembers the high watermark and log start
 * sent (the high watermark as -1 after an error, so the partition is sent again once the
 * error is gone), and moves a partition that returned records to the end of the session. */
bool rn_fetchsess_respond(rn_fetchsess_t *sess, rn_fetchsess_part_t *part,
                          const rn_fetchsess_read_t *read);

/* Remember what a full fetch sent of part (the session's first response). */
void rn_fetchsess_sent(rn_fetchsess_part_t *part, const rn_fetchsess_read_t *read);

/* The cache's counters. */
rn_fetchsess_stats_t rn_fetchsess_stats(const rn_fetchsess_cache_t *cache);

#endif
