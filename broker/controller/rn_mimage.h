/* rn_mimage: the metadata image — the cluster's metadata as the committed records of
 * __cluster_metadata say it is: brokers and their registrations, topics with their
 * partitions (replicas, ISR, leader, epochs), configs, finalized features and the producer
 * id high-water mark. Every node keeps one, fed by rn_quorum's apply callback; the active
 * controller decides on it (rn_controller.h) and every broker serves from it.
 *
 * Records are applied in log order. Those between a BeginTransactionRecord and its
 * EndTransactionRecord (KIP-868) are buffered and take effect together at the End; an
 * AbortTransactionRecord drops them. A transaction left open by a controller that lost
 * leadership is closed by its successor's AbortTransactionRecord, which the new active
 * controller writes first (rn_controller_activate), as Kafka does; so the image never
 * guesses from leader changes.
 *
 * Each record that takes effect is passed to the `applied` hook after the image changed,
 * which is how the broker's other state follows (rn_mimage_topics_apply drives rn_topics).
 *
 * Ownership: everything here is owned by the image; pointers into it (brokers, topics,
 * partitions) stay valid only until the next record is applied. Loop thread only. */
#ifndef RN_MIMAGE_H
#define RN_MIMAGE_H

#include "controller/rn_mrec.h"
#include "rn_sasl.h"
#include "rn_uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rn_mimage_endpoint {
    char *name; /* listener name */
    char *host;
    uint16_t port;
    int16_t security_protocol;
} rn_mimage_endpoint_t;

typedef struct rn_mimage_broker {
    int32_t id;
    int64_t epoch; /* the offset of its RegisterBrokerRecord */
    rn_uuid_t incarnation_id;
    rn_mimage_endpoint_t *endpoints;
    int n_endpoints;
    char *rack; /* NULL: none */
    bool fenced;
    bool in_controlled_shutdown;
} rn_mimage_broker_t;

typedef struct rn_mimage_part {
    int32_t *replicas; /* preferred order */
    int32_t n_replicas;
    int32_t *isr;
    int32_t n_isr;
    int32_t leader; /* -1: none */
    int32_t leader_epoch;
    int32_t partition_epoch; /* bumped by every change */
    int8_t leader_recovery_state;
} rn_mimage_part_t;

typedef struct rn_mimage_topic {
    char *name;
    rn_uuid_t id;
    rn_mimage_part_t *parts; /* n_parts, index = partition id */
    int32_t n_parts;
    size_t parts_cap;
} rn_mimage_topic_t;

/* One config key of a resource (ConfigRecord): topics by name, brokers by id text. */
typedef struct rn_mimage_config {
    int8_t resource_type; /* RN_MREC_RESOURCE_* */
    char *resource;
    char *name;
    char *value;
} rn_mimage_config_t;

typedef struct rn_mimage_feature {
    char *name;
    int16_t level;
} rn_mimage_feature_t;

typedef struct rn_mimage rn_mimage_t;

/* Called for each record as it takes effect, after the image has changed. */
typedef void (*rn_mimage_applied_fn)(void *arg, const rn_mimage_t *img, const rn_mrec_t *rec);

rn_mimage_t *rn_mimage_new(void);
void rn_mimage_free(rn_mimage_t *img);
void rn_mimage_set_hook(rn_mimage_t *img, rn_mimage_applied_fn applied, void *arg);

/* Apply one committed entry at offset. 0; RN_ECORRUPT/RN_EUNSUPPORTED for bytes that are no
 * record; RN_EINVAL for a record that contradicts the image (unknown topic, broker epoch
 * mismatch, transaction markers out of order) — the image is then unchanged by it; RN_ENOMEM.
 * The offset counts as applied in every case, so the caller logs and goes on. */
int rn_mimage_apply(rn_mimage_t *img, int64_t offset, const uint8_t *data, size_t len);
/* Apply a decoded record (what rn_mimage_apply does after decoding). */
int rn_mimage_apply_rec(rn_mimage_t *img, int64_t offset, const rn_mrec_t *rec);

/* The last offset applied (-1: none) and whether a transaction is open (its records are
 * buffered, not yet visible). */
int64_t rn_mimage_offset(const rn_mimage_t *img);
bool rn_mimage_in_transaction(const rn_mimage_t *img);

size_t rn_mimage_broker_count(const rn_mimage_t *img);
const rn_mimage_broker_t *rn_mimage_broker_at(const rn_mimage_t *img, size_t i); /* id order */
const rn_mimage_broker_t *rn_mimage_broker(const rn_mimage_t *img, int32_t id);
/* Registered, unfenced and not shutting down: may lead and join ISRs (KIP-841). */
bool rn_mimage_broker_active(const rn_mimage_t *img, int32_t id);

size_t rn_mimage_topic_count(const rn_mimage_t *img);
const rn_mimage_topic_t *rn_mimage_topic_at(const rn_mimage_t *img, size_t i); /* name order */
const rn_mimage_topic_t *rn_mimage_topic(const rn_mimage_t *img, const char *name, size_t len);
const rn_mimage_topic_t *rn_mimage_topic_id(const rn_mimage_t *img, const rn_uuid_t *id);

size_t rn_mimage_config_count(const rn_mimage_t *img);
const rn_mimage_config_t *rn_mimage_config_at(const rn_mimage_t *img, size_t i);
/* The value of one key, NULL when not set. */
const char *rn_mimage_config(const rn_mimage_t *img, int8_t resource_type, const char *resource,
                             const char *name);

/* The ACL bindings (AccessControlEntryRecords); the set object changes when a snapshot is
 * loaded, so look it up each time rather than keep it. */
struct rn_acls;
const struct rn_acls *rn_mimage_acls(const rn_mimage_t *img);

/* A finalized feature's level, 0 when absent. */
int16_t rn_mimage_feature(const rn_mimage_t *img, const char *name);
size_t rn_mimage_feature_count(const rn_mimage_t *img);
const rn_mimage_feature_t *rn_mimage_feature_at(const rn_mimage_t *img, size_t i);
/* The first producer id not yet handed out (0 before any block). */
int64_t rn_mimage_next_producer_id(const rn_mimage_t *img);

/* One user's SCRAM credential for one mechanism (UserScramCredentialRecord). */
typedef struct rn_mimage_scram {
    char *name;
    rn_scram_cred_t cred;
} rn_mimage_scram_t;

/* SCRAM credentials in (name, mechanism) order; the one of name for mech, or NULL. */
size_t rn_mimage_scram_count(const rn_mimage_t *img);
const rn_mimage_scram_t *rn_mimage_scram_at(const rn_mimage_t *img, size_t i);
const rn_scram_cred_t *rn_mimage_scram(const rn_mimage_t *img, const char *name, int mech);

/* Snapshot: the image as records (FeatureLevel, RegisterBroker, Topic, Partition, Config,
 * AccessControlEntry, ProducerIds), each an unsigned varint length and a framed record, in a buffer
 * from rn_malloc. An open transaction's buffered records are not part of it (a snapshot is taken at
 * a committed offset outside transactions; RN_EINVAL otherwise). */
int rn_mimage_snapshot_write(const rn_mimage_t *img, uint8_t **data, size_t *len);
/* Replace the image's state by a snapshot taken at offset; the hook is not called (the
 * caller rebuilds what follows the image, e.g. with rn_mimage_topics_sync). 0 or RN_E*
 * with the image unchanged. */
int rn_mimage_snapshot_load(rn_mimage_t *img, int64_t offset, const uint8_t *data, size_t len);

/* ---- the broker's topics from the image (after the switch-over to the quorum) ---- */

struct rn_topics;
/* Apply to topics the effect of rec, which img has just applied (the `applied` hook calls
 * this): TopicRecord creates the topic with its id, PartitionRecord adds or replaces a
 * partition, PartitionChangeRecord sets replicas, leader, epoch and ISR as the image now
 * has them, RemoveTopicRecord deletes, a topic ConfigRecord sets or removes an override
 * (checked and made canonical by rn_topicconf). Other records change nothing there.
 * 0, or RN_ENOTFOUND when topics lacks what the record names (it was not in step). */
int rn_mimage_topics_apply(const rn_mimage_t *img, const rn_mrec_t *rec, struct rn_topics *topics);
/* Make topics match the image (after a snapshot load): create what is missing, update
 * partitions and overrides, delete topics the image lacks. */
void rn_mimage_topics_sync(const rn_mimage_t *img, struct rn_topics *topics);

#endif
