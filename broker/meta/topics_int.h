/* Private parts of rn_topics shared by topics.c (memory) and topics_store.c (registry
 * file, persist job). Never included elsewhere. */
#ifndef RN_TOPICS_INT_H
#define RN_TOPICS_INT_H

#include "rn_logmgr.h"
#include "meta/rn_topics.h"

/* A growable list of pointers. */
typedef struct rn__topics_ptrs {
    void **items;
    size_t n, cap;
} rn__topics_ptrs_t;

/* A deleted partition whose directory the next persist job removes. */
typedef struct rn__topics_rmdir {
    char *topic;
    int32_t partition;
} rn__topics_rmdir_t;

/* Changes made in memory and not yet handed to a persist job. */
typedef struct rn__topics_pending {
    rn__topics_ptrs_t mkdirs;  /* rn_partition_t * whose directory is to be created */
    rn__topics_ptrs_t created; /* rn_topic_t * to mark ready once on disk */
    rn__topics_ptrs_t deleted; /* rn_topic_t * to free once the deletion is on disk */
    rn__topics_ptrs_t rmdirs;  /* rn__topics_rmdir_t * (owned): directories to delete */
} rn__topics_pending_t;

struct rn_topics {
    const rn_config_t *cfg;
    rn_logmgr_t *logmgr; /* owns the data dir and the partition directories */
    char *path;          /* the registry file */
    int32_t node_id;
    rn_topic_t **by_name; /* n topics sorted by name */
    rn_topic_t **by_id;   /* the same topics sorted by id bytes */
    size_t n, cap;
    rn_topics_hooks_t hooks;
    rn_topics_commit_fn commit; /* NULL: persist only */
    void *commit_arg;
    bool dirty;
    uint32_t next_assign; /* round-robin start of the next replica assignment */
    int32_t *nodes;       /* where new replicas go (rn_topics_set_nodes); NULL: the voters */
    int n_nodes;
    rn__topics_pending_t pending;
};

void rn__topics_ptrs_push(rn__topics_ptrs_t *list, void *ptr);
void rn__topic_free(rn_topic_t *topic);
/* Insert a topic with no partitions into both indexes. */
rn_topic_t *rn__topics_insert(rn_topics_t *topics, const char *name, size_t len,
                              const rn_uuid_t *id, int16_t rf);
void rn__topics_unlink(rn_topics_t *topics, rn_topic_t *topic);
/* Append a partition; replicas NULL = assign from the cluster's nodes. */
rn_partition_t *rn__topic_add_partition(rn_topics_t *topics, rn_topic_t *topic,
                                        const int32_t *replicas, int32_t n_replicas);
/* Record a deletion in pending: drop its pending mkdirs, queue its directories' removal. */
void rn__topics_pending_delete(rn_topics_t *topics, rn_topic_t *topic);
void rn__topics_pending_free(rn__topics_pending_t *pending);

#endif
