/* Private parts of rn_group shared by group.c (the rebalance protocol: join, sync, heartbeat,
 * leave, commits, timers) and group_state.c (members, protocol selection, subscriptions, the
 * stored snapshot, lifecycle, read access). Never included outside those two files. */
#ifndef RN_GROUP_INT_H
#define RN_GROUP_INT_H

#include "group/rn_group.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

enum { STORE_SYNC, STORE_STATIC, STORE_EMPTY };

/* A group metadata append in flight and what to do when it ends. */
typedef struct pending_store {
    uint64_t token;
    int kind;
    int32_t generation;
    /* STORE_SYNC: the leader's assignment for every member, applied on success. */
    size_t n;
    rn_str_t *ids;
    uint8_t **data;
    int32_t *lens;
    /* STORE_STATIC: how to undo a static member's new id if the append fails. */
    rn_str_t old_id, new_id;
    rn_group_protocol_t *old_protocols;
    size_t n_old_protocols;
    int32_t old_rebalance_ms, old_session_ms;
    rn_str_t prev_leader; /* the leader before the replacement (null if none) */
    bool skip_ok;         /* the joining request was v9+ */
    struct pending_store *next;
} pending_store_t;

typedef struct pending_member {
    rn_str_t id;
    int64_t deadline;
} pending_member_t;

struct rn_group {
    rn_str_t id;
    rn_group_config_t cfg;
    rn_group_ops_t ops;
    rn_group_state_t state;
    int64_t state_ts; /* currentStateTimestamp; -1 = unknown (restored from an old record) */
    int64_t now;      /* the now_ms of the entry point being run */
    int32_t generation;
    rn_str_t protocol_type; /* null = none */
    rn_str_t protocol_name; /* null = none */
    rn_group_member_t *leader;

    rn_group_member_t **members; /* join order */
    size_t n_members, cap_members;
    size_t n_awaiting_join; /* members with a join waiter */
    size_t n_pending_sync;  /* members with pending_sync */

    pending_member_t *pending; /* ids handed out with MEMBER_ID_REQUIRED */
    size_t n_pending, cap_pending;

    /* The join phase (PreparingRebalance): Kafka's DelayedJoin / InitialDelayedJoin. */
    bool join_armed;
    bool join_initial; /* InitialDelayedJoin: never completes early */
    int64_t join_deadline;
    int32_t initial_delay_ms; /* the running InitialDelayedJoin's delay */
    int32_t initial_remaining_ms;
    bool new_member_added;

    /* The pending-sync timeout (Kafka's DelayedSync). */
    bool sync_armed;
    int64_t sync_deadline;
    int32_t sync_generation;

    /* Union of the consumer members' subscribed topics, sorted; known = Kafka's
     * subscribedTopics.isDefined. */
    rn_str_t *topics;
    size_t n_topics;
    bool topics_known;

    pending_store_t *stores;
    uint64_t next_token;
};

/* group_state.c: helpers of the state machine. */
/* Small copies: a byte copy (NULL for an empty one); protocol lists owned by members. */
uint8_t *rn__group_dup_bytes(const uint8_t *p, int32_t len);
void rn__group_protocols_free(rn_group_protocol_t *protocols, size_t n);
rn_group_protocol_t *rn__group_protocols_dup(const rn_group_protocol_t *src, size_t n);
/* Replace a member's assignment with a copy. */
void rn__group_set_assignment(rn_group_member_t *m, const uint8_t *p, int32_t len);
/* Enter a state and stamp currentStateTimestamp with the group's now. */
void rn__group_transition(rn_group_t *g, rn_group_state_t to);
/* The member's session starts again: due at now + session timeout. */
void rn__group_schedule_heartbeat(rn_group_t *g, rn_group_member_t *m);
/* Kafka's group.rebalanceTimeoutMs: the largest of the members'. */
int32_t rn__group_rebalance_timeout(const rn_group_t *g);
/* Lookups: a member by id or by group.instance.id (NULL when none), a pending member's
 * index (-1 when none); drop pending member i. */
rn_group_member_t *rn__group_find_member(const rn_group_t *g, rn_str_t id);
rn_group_member_t *rn__group_find_static(const rn_group_t *g, rn_str_t instance_id);
ssize_t rn__group_find_pending(const rn_group_t *g, rn_str_t id);
void rn__group_remove_pending_at(rn_group_t *g, size_t i);
/* Whether the member has a JoinGroup waiting (a withdrawn one counts). */
bool rn__group_awaiting_join(const rn_group_member_t *m);
/* Kafka's member id: prefix + "-" + a random version-4 UUID; caller frees (rn_str_free). */
rn_str_t rn__group_new_member_id(rn_str_t prefix);
/* Answer a waiter (not a withdrawn one): a JoinGroup or SyncGroup result, an error result,
 * a member's SyncGroup waiter, or the current generation (the leader's with members). */
void rn__group_answer_join(rn_group_t *g, void *waiter, const rn_group_join_result_t *res);
void rn__group_answer_sync(rn_group_t *g, void *waiter, const rn_group_sync_result_t *res);
void rn__group_join_error(rn_group_t *g, void *waiter, rn_str_t member_id, int16_t error);
void rn__group_sync_error(rn_group_t *g, void *waiter, int16_t error);
void rn__group_invoke_sync(rn_group_t *g, rn_group_member_t *m, const rn_group_sync_result_t *res);
void rn__group_answer_generation(rn_group_t *g, rn_group_member_t *m, void *waiter,
                                 bool with_members, rn_str_t leader_id, bool skip_assignment);
/* Membership: add (first member sets the protocol type, first leader), remove (answering
 * its waiters with UNKNOWN_MEMBER_ID), update protocols/timeouts/join waiter, compare
 * protocols, Kafka's supportsProtocols and selectProtocol, and the subscribed topics. */
void rn__group_add_member(rn_group_t *g, rn_group_member_t *m, void *waiter);
void rn__group_remove_member(rn_group_t *g, rn_group_member_t *m);
void rn__group_update_member(rn_group_t *g, rn_group_member_t *m, const rn_group_join_req_t *req,
                             void *waiter);
bool rn__group_member_matches(const rn_group_member_t *m, const rn_group_protocol_t *protocols,
                              size_t n);
bool rn__group_supports_protocols(const rn_group_t *g, rn_str_t type,
                                  const rn_group_protocol_t *protocols, size_t n);
rn_str_t rn__group_select_protocol(const rn_group_t *g);
void rn__group_compute_topics(rn_group_t *g);
/* Pending group-metadata writes: register one, free one, hand the snapshot to ops.store. */
pending_store_t *rn__group_store_new(rn_group_t *g, int kind);
void rn__group_store_free(pending_store_t *s);
void rn__group_store_group(rn_group_t *g, pending_store_t *s);

#endif
