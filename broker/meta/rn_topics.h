/* rn_topics: the topic manager — topics by name and by id, their partitions (replicas,
 * leader, epoch, storage handle) and per-topic config overrides, persisted in the data dir.
 *
 * Persistence: <data dir>/runnel-topics, a text file replaced atomically (write .tmp,
 * fsync, rename, fsync dir) by rn_topics_persist on the rn_offload worker thread:
 *
 *   # runnel topic registry: written by runneld; do not edit while it runs
 *   version 1
 *   topic orders MkU3OEVBNTcwNTJENDM2Qg 3 1      name, topic id (base64), partitions, rf
 *   partition orders 0 1                         name, index, replicas (ids, comma-separated)
 *   config orders retention.ms 86400000          name, key, value (%XX-escaped)
 *
 * One partition directory <data dir>/<topic>-<index> with Kafka's partition.metadata (topic
 * id) exists per partition, made by the same job (rn_logmgr_prepare_many) before the
 * partition (and a new topic) becomes ready; the data path opens the log inside on first
 * use, never before the partition is ready, so no write lands before its directory and
 * partition.metadata are durable. A deleted topic's logs are closed at
 * once (rn_logmgr_close_log) and its directories renamed to <topic>-<index>.<id>-delete and
 * removed by the next persist job (rn_logmgr_delete_dir, rn_logmgr_purge_deleted), so every
 * directory change runs in order on the worker. When the metadata quorum lands it
 * replaces this file as the source of truth; the in-memory API stays.
 *
 * Changes are made in memory at once (so the next request sees them) and collected until
 * rn_topics_persist writes them; a topic created in memory is not `ready` until its
 * directories and the registry are on disk. If persisting fails, the topics created since
 * the previous persist are removed again — unless a committer is set: then the metadata log
 * says they exist (the request may have been answered already), so they stay, not ready,
 * and their directories are queued for the next persist, which the committer retries.
 *
 * Lifetime: topics and partitions are owned here. Partition structs never move (adding
 * partitions does not reallocate existing ones). A deleted topic leaves the indexes at once
 * (partition_removed hook called for each partition first, e.g. to wake parked Fetches),
 * is marked `deleted`, and is freed when its deletion has been persisted — at least one
 * loop iteration later — so a holder that re-checks `deleted` after a wake-up is safe.
 * Loop thread only. */
#ifndef RN_TOPICS_H
#define RN_TOPICS_H

#include "rn_config.h"
#include "rn_logmgr.h"
#include "net/rn_offload.h"
#include "meta/rn_topicconf.h"
#include "rn_uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RN_TOPIC_NAME_MAX 249
#define RN_TOPICS_FILE    "runnel-topics"

typedef struct rn_topic rn_topic_t;

typedef struct rn_partition {
    rn_topic_t *topic;
    int32_t index;
    int32_t leader_id; /* node id of the leader; -1 = none */
    int32_t leader_epoch;
    int32_t partition_epoch; /* the metadata image's (bumped by every change); 0 without one */
    int32_t *replicas;       /* n_replicas node ids, the preferred leader first */
    int32_t n_replicas;
    int32_t *isr;
    int32_t n_isr;
    bool ready; /* its directory and partition.metadata are durable: its log may be opened */
    void *user; /* the data path's per-partition state (rn_dpart_t: log, producers, epochs) */
} rn_partition_t;

struct rn_topic {
    char name[RN_TOPIC_NAME_MAX + 1];
    size_t name_len;
    rn_uuid_t id;
    int32_t n_partitions;
    rn_partition_t **partitions; /* n_partitions stable pointers */
    int16_t replication_factor;
    bool internal;       /* __consumer_offsets, __transaction_state */
    bool ready;          /* on disk; Metadata reports LEADER_NOT_AVAILABLE before */
    bool deleted;        /* removed from the indexes; freed after the deletion is persisted */
    rn_topicconf_t conf; /* overrides */
};

typedef struct rn_topics rn_topics_t;

/* Calls into the module that owns the partitions' storage (the data path). Any may be
 * NULL. All run on the loop. */
typedef struct rn_topics_hooks {
    /* The partition is leaving (topic deleted): drop references to its log (closed right
     * after the hook), wake waiters. Its directory is removed by the next persist job. */
    void (*partition_removed)(rn_partition_t *part, void *arg);
    void *arg;
    /* The topic's overrides changed (AlterConfigs, IncrementalAlterConfigs): push the new
     * settings to its partitions' logs. */
    void (*config_changed)(rn_topic_t *topic, void *arg);
    /* The partition's leader, leader epoch, ISR or replicas changed (the metadata said so):
     * the replica module takes up the partition's new role. */
    void (*partition_changed)(rn_partition_t *part, void *arg);
} rn_topics_hooks_t;

/* A manager for the data directory of logmgr, this node and the cluster's nodes
 * (cfg->voters, or just node_id). cfg and logmgr must outlive the manager. */
rn_topics_t *rn_topics_new(const rn_config_t *cfg, rn_logmgr_t *logmgr, int32_t node_id);
/* Free everything (no persisting). NULL is a no-op. */
void rn_topics_free(rn_topics_t *topics);
void rn_topics_set_hooks(rn_topics_t *topics, const rn_topics_hooks_t *hooks);

/* Read the registry at start-up (blocking; before the loop runs) and create any missing
 * partition directory. A missing file is an empty registry. 0 or RN_ECORRUPT/RN_EIO with
 * "runnel-topics:LINE: ..." in err. */
int rn_topics_load(rn_topics_t *topics, char *err, size_t errlen);

size_t rn_topics_count(const rn_topics_t *topics);
/* The i-th topic in name order (i < count). */
rn_topic_t *rn_topics_at(const rn_topics_t *topics, size_t i);
rn_topic_t *rn_topics_find(const rn_topics_t *topics, const char *name, size_t len);
rn_topic_t *rn_topics_find_id(const rn_topics_t *topics, const rn_uuid_t *id);
/* NULL when index is out of range. */
rn_partition_t *rn_topic_partition(const rn_topic_t *topic, int32_t index);
/* True when node_id is one of part's replicas (the partition is hosted there). */
bool rn_partition_has_replica(const rn_partition_t *part, int32_t node_id);

/* Kafka's topic name rules: 1..249 chars of [a-zA-Z0-9._-], not "." or "..". 0 or
 * RN_EINVAL with Kafka's message in err. */
int rn_topics_valid_name(const char *name, size_t len, char *err, size_t errlen);
/* Name rules, plus: RN_EEXIST if the topic exists, RN_EINVAL if it collides with an
 * existing topic once '.' and '_' are treated alike (Kafka refuses those too). */
int rn_topics_check_new(const rn_topics_t *topics, const char *name, size_t len, char *err,
                        size_t errlen);

/* Create a topic in memory (checked with rn_topics_check_new first; partitions >= 1,
 * 1 <= rf <= cluster size). conf (may be NULL) is copied. Returns the topic (not ready). */
rn_topic_t *rn_topics_create(rn_topics_t *topics, const char *name, size_t len, int32_t partitions,
                             int16_t rf, const rn_topicconf_t *conf);
/* Remove a topic (see Lifetime above). */
void rn_topics_delete(rn_topics_t *topics, rn_topic_t *topic);
/* The nodes new partitions' replicas are placed on, round-robin (the registered, unfenced
 * brokers of the cluster); n 0: the voters (or this node alone). ids is copied. */
void rn_topics_set_nodes(rn_topics_t *topics, const int32_t *ids, int n);
/* Grow a topic to total partitions (> current). */
void rn_topics_add_partitions(rn_topics_t *topics, rn_topic_t *topic, int32_t total);
/* Replace a partition's replicas (explicit assignment at creation); the first becomes the
 * leader and the ISR is the whole list. */
void rn_topics_set_replicas(rn_topics_t *topics, rn_partition_t *part, const int32_t *ids,
                            int32_t n);
/* Calls for the metadata image (controller/rn_mimage.h), which decides ids, assignments
 * and leaders itself and replays them here in log order. */
/* Create a topic with the given id and no partitions (not ready until persisted). */
rn_topic_t *rn_topics_create_id(rn_topics_t *topics, const char *name, size_t len,
                                const rn_uuid_t *id, int16_t rf);
/* Append partition topic->n_partitions with these replicas (n >= 1; leader replicas[0],
 * ISR all, epoch 0 until rn_topics_set_leader says otherwise). */
rn_partition_t *rn_topics_add_partition(rn_topics_t *topics, rn_topic_t *topic,
                                        const int32_t *replicas, int32_t n);
/* Set a partition's leader (-1: none), leader epoch and ISR. */
void rn_topics_set_leader(rn_topics_t *topics, rn_partition_t *part, int32_t leader,
                          int32_t leader_epoch, const int32_t *isr, int32_t n_isr);
/* Note that a topic's config overrides changed: calls the config_changed hook and marks
 * the registry for persisting. */
void rn_topics_config_changed(rn_topics_t *topics, rn_topic_t *topic);
/* True when changes wait for rn_topics_persist. */
bool rn_topics_dirty(const rn_topics_t *topics);

/* Write the pending changes on the offload thread; done(arg, rc) runs on the loop when the
 * registry and directories are on disk (rc 0; topics created since the last persist are
 * now ready) or failed (rc < 0; those topics were removed). Always calls done, even when
 * nothing changed. */
void rn_topics_persist(rn_topics_t *topics, rn_offload_t *off, void (*done)(void *arg, int rc),
                       void *arg);

/* Where changes made in memory go to become true: the metadata quorum. A committer sees the
 * topics' pending in-memory changes, has them committed as records (or forwarded to the
 * controller) and then persisted, and calls done(arg, rc) as rn_topics_persist would
 * (rc RN_ENOTLEADER: this node is not the controller; the changes were undone). With
 * on_commit, done runs as soon as the records are committed and applied here, and the
 * persist (directories, registry) follows on the offload thread; the new topics and
 * partitions become ready when it is done. */
typedef void (*rn_topics_commit_fn)(void *carg, rn_topics_t *topics, bool on_commit,
                                    void (*done)(void *arg, int rc), void *arg);
void rn_topics_set_committer(rn_topics_t *topics, rn_topics_commit_fn fn, void *carg);
/* What every path that changes topics calls (CreateTopics, DeleteTopics, CreatePartitions,
 * configs, auto-creation, the group coordinator): the committer when one is set, else
 * rn_topics_persist alone (unit tests, tools). */
void rn_topics_commit(rn_topics_t *topics, rn_offload_t *off, void (*done)(void *arg, int rc),
                      void *arg);
/* As rn_topics_commit, but done runs once the change is committed (on_commit above), as
 * Kafka answers CreateTopics once its records are committed: the logs are prepared
 * afterwards, and until a partition is ready Produce and Fetch answer
 * NOT_LEADER_OR_FOLLOWER (retriable) and Metadata waits for the topic (or answers
 * LEADER_NOT_AVAILABLE). Without a committer the same as rn_topics_commit (nothing is
 * committed before the persist). */
void rn_topics_commit_records(rn_topics_t *topics, rn_offload_t *off,
                              void (*done)(void *arg, int rc), void *arg);

/* Serialise the registry (for tests and persist); caller frees with rn_free. */
char *rn_topics_serialize(const rn_topics_t *topics, size_t *len);

#endif
