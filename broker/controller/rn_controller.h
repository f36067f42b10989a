/* rn_controller: the active controller's decisions (KIP-631) as pure functions of the
 * metadata image and a request: each produces the records to append to __cluster_metadata
 * (rn_mrecs_t, several records bracketed as one KIP-868 transaction) and the response to
 * give once they are committed. No I/O, no clock reads: time comes in as arguments and
 * randomness (topic ids, placement offsets) through rn_clock's rn_random_bytes, so an
 * installed clock makes every decision repeatable.
 *
 * Decisions read the committed image only, so the caller must let one decision's records
 * commit (and be applied to the image) before making the next: otherwise two CreateTopics
 * of one name, or two producer id blocks, could both be granted. The records of a refused
 * request are none; its response carries Kafka's error code and message.
 *
 * State of its own: heartbeat sessions (last contact per broker), which Kafka keeps in the
 * active controller's memory only; a new active controller starts every session afresh. */
#ifndef RN_CONTROLLER_H
#define RN_CONTROLLER_H

#include "controller/rn_mimage.h"
#include "controller/rn_mrec.h"
#include "rn_arena.h"
#include "rn_messages.h"

#include <stdbool.h>
#include <stdint.h>

typedef struct rn_controller_opts {
    const char *cluster_id;                   /* base64; registrations must name it */
    int32_t num_partitions;                   /* num.partitions (1) */
    int16_t default_replication_factor;       /* default.replication.factor (min(3, nodes)) */
    int64_t session_timeout_ms;               /* broker.session.timeout.ms (9000) */
    int32_t offsets_topic_partitions;         /* offsets.topic.num.partitions (50) */
    int16_t offsets_topic_replication_factor; /* offsets.topic.replication.factor (3) */
    int16_t metadata_version;                 /* the metadata.version level bootstrapped */
    int64_t producer_id_floor;    /* ids below may have been used before blocks came from here */
    bool unclean_leader_election; /* unclean.leader.election.enable, topics without one */
} rn_controller_opts_t;

typedef struct rn__ctl_session {
    int32_t id;
    int64_t last_ms;         /* last heartbeat or registration, monotonic ms */
    bool heard;              /* from the broker itself, not a new controller's grace period */
    int64_t metadata_offset; /* applied, as its last heartbeat said; -1 unknown */
    int64_t shutdown_offset; /* in controlled shutdown: the image offset that has its records */
} rn__ctl_session_t;

typedef struct rn_controller {
    const rn_mimage_t *img;
    rn_controller_opts_t opts;
    rn__ctl_session_t *sessions;
    size_t n_sessions, sessions_cap;
} rn_controller_t;

#define RN_CONTROLLER_PID_BLOCK 1000 /* producer ids per block, as Kafka */

/* Kafka's defaults for every option; cluster_id stays NULL (any accepted). */
void rn_controller_opts_default(rn_controller_opts_t *opts);
void rn_controller_init(rn_controller_t *ctl, const rn_mimage_t *img,
                        const rn_controller_opts_t *opts);
void rn_controller_free(rn_controller_t *ctl);
/* This node stopped being the active controller: forget every broker session (a later
 * activation gives each a full session afresh, as Kafka's new controller does); the
 * options stay. */
void rn_controller_reset_sessions(rn_controller_t *ctl);

/* This node became the active controller: close a transaction its predecessor left open
 * (AbortTransactionRecord) and, on an empty log, bootstrap metadata.version. */
void rn_controller_activate(rn_controller_t *ctl, rn_mrecs_t *out);

/* ---- topics (controller_topics.c) ---- */

void rn_controller_create_topics(rn_controller_t *ctl, const rn_create_topics_request_t *req,
                                 int16_t version, rn_arena_t *arena, rn_mrecs_t *out,
                                 rn_create_topics_response_t *resp);
void rn_controller_delete_topics(rn_controller_t *ctl, const rn_delete_topics_request_t *req,
                                 int16_t version, rn_arena_t *arena, rn_mrecs_t *out,
                                 rn_delete_topics_response_t *resp);
/* A topic a Metadata request names and auto-creation allows: the defaults, Kafka's checks.
 * Returns the Kafka error (NONE: records in out). The same path creates __consumer_offsets
 * (rn_controller_offsets_topic), so every topic is born through records. */
int16_t rn_controller_auto_create(rn_controller_t *ctl, const char *name, size_t len,
                                  rn_mrecs_t *out);
int16_t rn_controller_offsets_topic(rn_controller_t *ctl, rn_mrecs_t *out);

/* Replica placement: n_parts partitions of rf replicas over the active brokers, written
 * into replicas[n_parts * rf]. Striped as Kafka's placer: brokers interleaved by rack,
 * a random start, partition p starting one broker after p-1, so leaders spread evenly and
 * each partition's replicas are distinct (and in distinct racks while racks last).
 * first_index shifts the stripe for partitions added later. RN_EINVAL when rf exceeds the
 * active brokers or none is active. */
int rn_controller_place(const rn_controller_t *ctl, int32_t first_index, int32_t n_parts,
                        int16_t rf, int32_t *replicas);

/* ---- brokers (controller_brokers.c) ---- */

/* next_offset: the offset the first record appended to out will get (the broker epoch of a
 * new registration is its RegisterBrokerRecord's offset, as Kafka). now_ms: monotonic. */
void rn_controller_register_broker(rn_controller_t *ctl,
                                   const rn_broker_registration_request_t *req, int64_t next_offset,
                                   int64_t now_ms, rn_mrecs_t *out,
                                   rn_broker_registration_response_t *resp);
/* A heartbeat (KIP-631's broker states); next_offset as for registrations. WantShutDown starts a
 * controlled shutdown: the broker is marked InControlledShutdown, leaves every ISR (never emptying
 * one) and its leaderships move to other ISR members, all in one transaction; ShouldShutDown is
 * answered only on a later heartbeat, once those records are applied and every other active
 * broker has reported (CurrentMetadataOffset) that it applied them too; the broker is then
 * fenced. A fenced broker asking to shut down may at once. */
void rn_controller_heartbeat(rn_controller_t *ctl, const rn_broker_heartbeat_request_t *req,
                             int64_t next_offset, int64_t now_ms, rn_mrecs_t *out,
                             rn_broker_heartbeat_response_t *resp);
/* Fence one unfenced broker whose session expired (Kafka fences one per event; call again
 * after its records commit). Returns its id, or -1 when every session is alive. */
int32_t rn_controller_check_sessions(rn_controller_t *ctl, int64_t now_ms, rn_mrecs_t *out);
/* The records that fence broker id: off every ISR it is in (never emptying one: a last
 * member stays, leaderless), new leaders where it led, then FenceBrokerRecord. */
void rn_controller_fence(rn_controller_t *ctl, int32_t id, rn_mrecs_t *out);
/* A block of RN_CONTROLLER_PID_BLOCK producer ids for a registered broker of the epoch the
 * request names (else BROKER_ID_NOT_REGISTERED / STALE_BROKER_EPOCH, as Kafka), starting at
 * the image's next id or, before that passed it, at opts.producer_id_floor: the first block
 * imports a pre-cluster high-water mark. */
void rn_controller_allocate_producer_ids(rn_controller_t *ctl,
                                         const rn_allocate_producer_ids_request_t *req,
                                         rn_mrecs_t *out,
                                         rn_allocate_producer_ids_response_t *resp);

/* ---- partitions (controller_isr.c) ---- */

/* AlterPartition (56) from a partition leader, version 0-3, checked in Kafka's order:
 * BrokerEpoch not the requester's registration -> top-level STALE_BROKER_EPOCH; per topic,
 * unknown id (v2+) -> UNKNOWN_TOPIC_ID, unknown name (v0-1) -> UNKNOWN_TOPIC_OR_PARTITION;
 * per partition: unknown -> UNKNOWN_TOPIC_OR_PARTITION; LeaderEpoch or PartitionEpoch above
 * the image's -> NOT_CONTROLLER; LeaderEpoch below -> FENCED_LEADER_EPOCH; requester not the
 * leader -> INVALID_REQUEST; PartitionEpoch below -> INVALID_UPDATE_VERSION; new ISR not a
 * duplicate-free subset of the replicas, without the leader, or breaking the leader recovery
 * rules (KIP-704) -> INVALID_REQUEST; a member unregistered, in controlled shutdown, fenced,
 * or (v3) of another broker epoch -> INELIGIBLE_REPLICA (v0-1: OPERATION_NOT_ATTEMPTED).
 * An accepted change appends one PartitionChangeRecord (new ISR, Leader -2: leader and
 * leader epoch unchanged) and answers the partition as the image will have it once applied
 * (partition epoch + 1); an ISR equal to the current one (as a set) writes nothing and
 * answers the current state. Response arrays come from arena. */
void rn_controller_alter_partition(rn_controller_t *ctl, const rn_alter_partition_request_t *req,
                                   int16_t version, rn_arena_t *arena, rn_mrecs_t *out,
                                   rn_alter_partition_response_t *resp);

#endif
