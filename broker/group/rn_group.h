/* rn_group: one consumer group's membership, run by Kafka's classic group protocol
 * (JoinGroup / SyncGroup / Heartbeat / LeaveGroup) with Kafka's states, rules and error codes.
 *
 * States (Kafka's names, rn_group_state_name):
 *   Empty               no members (offsets may still be kept; a fresh group starts here)
 *   PreparingRebalance  members are (re)joining; the join phase ends when every known member
 *                       has rejoined and no pending member is left, or at the deadline
 *   CompletingRebalance the generation is chosen; waiting for the leader's SyncGroup
 *   Stable              the leader's assignment was stored and handed out
 *   Dead                the group was deleted or unloaded; nothing happens to it any more
 *
 * The module is pure: no sockets, no clock, no storage. Every entry point takes now_ms (a
 * wall clock in milliseconds: it becomes currentStateTimestamp in __consumer_offsets) and
 * the owner drives the timers: rn_group_next_deadline() tells when rn_group_tick() must run
 * next (session timeouts, the rebalance timeout, group.initial.rebalance.delay.ms, the
 * pending-sync timeout, pending members' expiry).
 *
 * JoinGroup and SyncGroup answers may come later than the request (a join waits for the
 * other members): the caller passes an opaque `waiter` (runneld: the parked request) and
 * the answer arrives through ops.join_done / ops.sync_done, possibly before rn_group_join /
 * rn_group_sync returns. Every waiter handed in is answered exactly once, unless the caller
 * withdraws it with rn_group_forget_waiter (its connection closed); the member then still
 * counts as waiting, as in Kafka, where the answer just goes nowhere.
 *
 * Group metadata is persisted through ops.store (the group's record in __consumer_offsets);
 * the owner appends it and reports the outcome with rn_group_store_done, which may be called
 * from inside ops.store.
 *
 * Members are kept in join order; the first member becomes leader when the leader leaves.
 *
 * Every name (group, member and instance ids, client ids and hosts, protocol types and names)
 * is an rn_str_t: Kafka strings may hold any byte, NUL included, so "g\0x" is a group of its
 * own, not "g". The group keeps owned copies (rn_str_xdup); a null string (len -1) stands
 * for what Kafka leaves null (no instance id, no protocol). Loop thread only. */
#ifndef RN_GROUP_H
#define RN_GROUP_H

#include "group/rn_groupstore.h"
#include "rn_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rn_group_state {
    RN_GROUP_EMPTY = 0,
    RN_GROUP_PREPARING_REBALANCE,
    RN_GROUP_COMPLETING_REBALANCE,
    RN_GROUP_STABLE,
    RN_GROUP_DEAD,
} rn_group_state_t;

/* Kafka's name of a state: "Empty", "PreparingRebalance", "CompletingRebalance", "Stable",
 * "Dead". */
const char *rn_group_state_name(rn_group_state_t state);
/* The state for a Kafka state name (case-insensitive, as ListGroups v4's filter), or -1. */
int rn_group_state_parse(const char *name, size_t len);

#define RN_GROUP_NO_GENERATION (-1)
/* Kafka's NewMemberJoinTimeoutMs: a new member's JoinGroup is given up after this long. */
#define RN_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS 300000

typedef struct rn_group_config {
    int32_t min_session_timeout_ms;     /* group.min.session.timeout.ms (6000) */
    int32_t max_session_timeout_ms;     /* group.max.session.timeout.ms (1800000) */
    int32_t initial_rebalance_delay_ms; /* group.initial.rebalance.delay.ms (3000) */
    int32_t max_size;                   /* group.max.size (INT32_MAX) */
    int32_t new_member_join_timeout_ms; /* RN_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS */
} rn_group_config_t;

/* Kafka's defaults. */
void rn_group_config_default(rn_group_config_t *cfg);

/* A protocol a member supports (an assignor for consumers) and its metadata bytes. */
typedef struct rn_group_protocol {
    rn_str_t name;
    uint8_t *metadata;
    int32_t metadata_len;
} rn_group_protocol_t;

/* A member as stored in the group; read-only for callers. Strings are owned copies. */
typedef struct rn_group_member {
    rn_str_t member_id;
    rn_str_t instance_id; /* group.instance.id of a static member; null for dynamic members */
    rn_str_t client_id;
    rn_str_t client_host;
    int32_t rebalance_timeout_ms;
    int32_t session_timeout_ms;
    rn_str_t protocol_type;
    rn_group_protocol_t *protocols; /* in the member's order of preference */
    size_t n_protocols;
    uint8_t *assignment; /* this generation's assignment (NULL when empty) */
    int32_t assignment_len;

    /* Private to group.c. */
    void *join_waiter;   /* non-NULL while the member awaits its JoinGroup answer */
    void *sync_waiter;   /* non-NULL while the member awaits its SyncGroup answer */
    bool is_new;         /* joined in this rebalance and not yet answered */
    bool pending_sync;   /* in this generation, has not sent SyncGroup yet */
    int64_t hb_deadline; /* session expiry (or the new-member join timeout) */
    bool skip_assign_ok; /* its last JoinGroup was v9+ (understands SkipAssignment) */
} rn_group_member_t;

/* One member in the leader's JoinGroup answer. */
typedef struct rn_group_join_member {
    rn_str_t member_id;
    rn_str_t instance_id;    /* null for dynamic members */
    const uint8_t *metadata; /* for the selected protocol */
    int32_t metadata_len;
} rn_group_join_member_t;

/* A JoinGroup answer; pointers are valid during the callback only. An error answer has
 * generation -1, null protocol type and name, leader "" and no members. */
typedef struct rn_group_join_result {
    int16_t error;
    rn_str_t member_id;
    int32_t generation_id;
    rn_str_t protocol_type; /* may be null */
    rn_str_t protocol_name; /* may be null */
    rn_str_t leader_id;
    bool skip_assignment;
    const rn_group_join_member_t *members; /* the leader's copy only (else none) */
    size_t n_members;
} rn_group_join_result_t;

/* A SyncGroup answer; pointers valid during the callback only. */
typedef struct rn_group_sync_result {
    int16_t error;
    rn_str_t protocol_type; /* may be null */
    rn_str_t protocol_name; /* may be null */
    const uint8_t *assignment;
    int32_t assignment_len;
} rn_group_sync_result_t;

typedef struct rn_group rn_group_t;

typedef struct rn_group_ops {
    void (*join_done)(void *arg, void *waiter, const rn_group_join_result_t *res);
    void (*sync_done)(void *arg, void *waiter, const rn_group_sync_result_t *res);
    /* Append the group's metadata record (meta valid during the call); report the outcome
     * with rn_group_store_done(group, token, kafka error) now or later. */
    void (*store)(void *arg, rn_group_t *group, const rn_groupstore_group_t *meta, uint64_t token);
    void *arg;
} rn_group_ops_t;

/* A JoinGroup as the group sees it. Strings are slices, copied as needed. */
typedef struct rn_group_join_req {
    rn_str_t member_id;   /* "" for a member that has no id yet */
    rn_str_t instance_id; /* null unless static membership (v5+) */
    rn_str_t client_id;
    rn_str_t client_host;
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms; /* v0: the session timeout */
    rn_str_t protocol_type;
    const rn_group_protocol_t *protocols;
    size_t n_protocols;
    bool require_known_member_id;  /* v4+ without instance id: MEMBER_ID_REQUIRED dance */
    bool supports_skip_assignment; /* v9+ */
    rn_str_t reason;               /* v8+, for the log; may be null */
} rn_group_join_req_t;

typedef struct rn_group_assignment {
    rn_str_t member_id;
    const uint8_t *data;
    int32_t len;
} rn_group_assignment_t;

typedef struct rn_group_sync_req {
    rn_str_t member_id;
    rn_str_t instance_id; /* null if none */
    int32_t generation_id;
    rn_str_t protocol_type;                   /* v5+; null = not given */
    rn_str_t protocol_name;                   /* v5+; null = not given */
    const rn_group_assignment_t *assignments; /* the leader's; others send none */
    size_t n_assignments;
} rn_group_sync_req_t;

/* A new Empty group (generation 0). id is copied; cfg and ops are copied. */
rn_group_t *rn_group_new(rn_str_t id, const rn_group_config_t *cfg, const rn_group_ops_t *ops,
                         int64_t now_ms);
/* Free the group. Waiters still held are NOT answered: call rn_group_unload first when
 * requests may be parked. NULL is a no-op. */
void rn_group_free(rn_group_t *group);

/* Rebuild a group from its stored metadata record (Kafka's loadGroup): Stable with the
 * stored members when there are members, else Empty. Member session timers start at now_ms.
 * Replaces the group's membership; its waiters must be none. 0 or RN_EINVAL (malformed:
 * duplicate member or instance ids). */
int rn_group_restore(rn_group_t *group, const rn_groupstore_group_t *meta, int64_t now_ms);

/* The group leaves this coordinator (deleted, or its partition moved): it becomes Dead and
 * every waiter is answered with `error` (NOT_COORDINATOR when unloading). */
void rn_group_unload(rn_group_t *group, int16_t error);
/* Mark an Empty group Dead (DeleteGroups / offsets expired). false unless it was Empty. */
bool rn_group_mark_dead(rn_group_t *group, int64_t now_ms);

/* JoinGroup (the caller has checked the coordinator and the group id). The answer goes to
 * ops.join_done(waiter) now or later. */
void rn_group_join(rn_group_t *group, const rn_group_join_req_t *req, void *waiter, int64_t now_ms);
/* SyncGroup. The answer goes to ops.sync_done(waiter) now or later. */
void rn_group_sync(rn_group_t *group, const rn_group_sync_req_t *req, void *waiter, int64_t now_ms);
/* Heartbeat: Kafka's error code (NONE, REBALANCE_IN_PROGRESS, UNKNOWN_MEMBER_ID,
 * ILLEGAL_GENERATION, FENCED_INSTANCE_ID, COORDINATOR_NOT_AVAILABLE). */
int16_t rn_group_heartbeat(rn_group_t *group, rn_str_t member_id, rn_str_t instance_id,
                           int32_t generation_id, int64_t now_ms);
/* LeaveGroup of one member (by member id, or by instance id when member_id is ""): its error
 * code. The caller answers COORDINATOR_NOT_AVAILABLE for a Dead group first. */
int16_t rn_group_leave(rn_group_t *group, rn_str_t member_id, rn_str_t instance_id, int64_t now_ms);
/* OffsetCommit by a member or a simple (non-member) consumer: NONE when the commit may be
 * stored, else the error for every partition (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION,
 * FENCED_INSTANCE_ID, REBALANCE_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE). A member's commit
 * counts as a heartbeat. */
int16_t rn_group_check_commit(rn_group_t *group, rn_str_t member_id, rn_str_t instance_id,
                              int32_t generation_id, int64_t now_ms);

/* The outcome of an ops.store call: Kafka's error code (NONE on success). */
void rn_group_store_done(rn_group_t *group, uint64_t token, int16_t error, int64_t now_ms);

/* Withdraw a waiter whose request went away (connection closed): it will not be answered. */
void rn_group_forget_waiter(rn_group_t *group, void *waiter);

/* When rn_group_tick must run next (INT64_MAX when no timer is armed). */
int64_t rn_group_next_deadline(const rn_group_t *group);
/* Run every timer due at now_ms: expire sessions and pending members, end the join phase,
 * give up on members that never sent SyncGroup. */
void rn_group_tick(rn_group_t *group, int64_t now_ms);

/* ---- read access ---- */
rn_str_t rn_group_id(const rn_group_t *group);
rn_group_state_t rn_group_state(const rn_group_t *group);
int32_t rn_group_generation(const rn_group_t *group);
rn_str_t rn_group_protocol_type(const rn_group_t *group);  /* null = none */
rn_str_t rn_group_protocol_name(const rn_group_t *group);  /* null = none */
rn_str_t rn_group_leader(const rn_group_t *group);         /* null = none */
int64_t rn_group_state_timestamp(const rn_group_t *group); /* ms of the last transition */
size_t rn_group_member_count(const rn_group_t *group);
const rn_group_member_t *rn_group_member_at(const rn_group_t *group, size_t i);
const rn_group_member_t *rn_group_find_member(const rn_group_t *group, rn_str_t member_id);
/* The metadata a member sent for protocol name (NULL when it did not list it). */
const rn_group_protocol_t *rn_group_member_protocol(const rn_group_member_t *member, rn_str_t name);
size_t rn_group_pending_count(const rn_group_t *group); /* members waiting for their id */
/* Consumer groups: whether the topic is in a member's subscription. When the subscriptions
 * are unknown (not a "consumer" group, or unparsable) every topic counts as subscribed. */
bool rn_group_is_subscribed(const rn_group_t *group, rn_str_t topic);
/* Whether the subscribed topics are known (Kafka's subscribedTopics.isDefined). */
bool rn_group_subscriptions_known(const rn_group_t *group);

#endif
