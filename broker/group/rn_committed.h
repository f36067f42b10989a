/* rn_committed: one group's committed offsets, (topic, partition) -> offset, leader epoch,
 * metadata and timestamps, as OffsetCommit stored them and OffsetFetch returns them; plus
 * Kafka's rule for which of them offsets.retention.minutes expires.
 *
 * A hash table keyed by topic and partition. Entries own their strings. Iteration order is
 * insertion order, except that removing an entry moves the last one into its slot. Loop
 * thread only. */
#ifndef RN_COMMITTED_H
#define RN_COMMITTED_H

#include "group/rn_group.h"
#include "group/rn_groupstore.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rn_offset_entry {
    char *topic; /* NUL-terminated */
    size_t topic_len;
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch; /* -1 = none */
    char *metadata;       /* never NULL ("" when none); NUL-terminated, but may hold NULs */
    size_t metadata_len;  /* Kafka strings may hold any byte: use this, not strlen */
    int64_t commit_ts;
    int64_t expire_ts; /* -1 = none (commits after Kafka 2.1 carry none) */
} rn_offset_entry_t;

typedef struct rn_committed rn_committed_t;

rn_committed_t *rn_committed_new(void);
void rn_committed_free(rn_committed_t *offsets); /* NULL is a no-op */

size_t rn_committed_count(const rn_committed_t *offsets);
/* The entry, or NULL. */
const rn_offset_entry_t *rn_committed_get(const rn_committed_t *offsets, const char *topic,
                                          size_t topic_len, int32_t partition);
/* Insert or replace. */
void rn_committed_put(rn_committed_t *offsets, const char *topic, size_t topic_len,
                      int32_t partition, const rn_groupstore_offset_t *v);
/* Remove; false when absent. */
bool rn_committed_remove(rn_committed_t *offsets, const char *topic, size_t topic_len,
                         int32_t partition);
void rn_committed_clear(rn_committed_t *offsets);
/* The i-th entry (i < count), for iteration. */
const rn_offset_entry_t *rn_committed_at(const rn_committed_t *offsets, size_t i);
/* Whether any partition of topic has an offset. */
bool rn_committed_has_topic(const rn_committed_t *offsets, const char *topic, size_t topic_len);

/* Kafka's GroupMetadata.removeExpiredOffsets decision, without removing: the entries of a
 * group (NULL for a group with no membership record) that expire at now_ms under
 * retention_ms, stored as indexes into *out (rn_xmalloc'd, caller frees; count returned).
 *   - an entry with an explicit expire timestamp (value v1) expires at that time;
 *   - an Empty group with a protocol type: retention counts from when it became Empty (its
 *     state timestamp; the commit time if unknown);
 *   - a Stable consumer group with known subscriptions: offsets of topics no member
 *     subscribes to, counted from their commit;
 *   - a group without protocol type (simple consumers only): from each commit;
 *   - anything else (rebalancing, other protocols): nothing expires. */
size_t rn_committed_expired(const rn_committed_t *offsets, const rn_group_t *group, int64_t now_ms,
                            int64_t retention_ms, size_t **out);

#endif
