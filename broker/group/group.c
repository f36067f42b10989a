/* group.c: one consumer group's classic-protocol state machine (rn_group.h), following the
 * rules of Kafka's GroupCoordinator / GroupMetadata: the MEMBER_ID_REQUIRED dance, static
 * members, pending members, generations, leader election, the join phase (with
 * group.initial.rebalance.delay.ms for a group leaving Empty), the sync phase, heartbeats,
 * leaves, commit checks, session timeouts and the pending-sync timeout. Member bookkeeping
 * lives in group_state.c. */
#include "group_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_vec.h"

#include <string.h>

/* ---- rebalancing ---- */

static void complete_join(rn_group_t *g);

static bool all_joined(const rn_group_t *g)
{
    return g->n_awaiting_join == g->n_members && g->n_pending == 0;
}

/* Kafka's tryCompleteJoin on the rebalance purgatory (InitialDelayedJoin never completes
 * early). */
static void try_complete_join(rn_group_t *g)
{
    if (g->state == RN_GROUP_PREPARING_REBALANCE && g->join_armed && !g->join_initial &&
        all_joined(g))
        complete_join(g);
}

static void propagate_assignment(rn_group_t *g, int16_t error)
{
    for (size_t i = 0; i < g->n_members; i++) {
        rn_group_member_t *m = g->members[i];
        if (m->sync_waiter == NULL)
            continue;
        rn_group_sync_result_t res = {
            .error = error,
            .protocol_type = g->protocol_type,
            .protocol_name = g->protocol_name,
            .assignment = m->assignment,
            .assignment_len = m->assignment_len,
        };
        rn__group_invoke_sync(g, m, &res);
        /* A session that ran out while the member waited was ignored: start it again. */
        rn__group_schedule_heartbeat(g, m);
    }
}

static void reset_and_propagate_error(rn_group_t *g, int16_t error)
{
    for (size_t i = 0; i < g->n_members; i++)
        rn__group_set_assignment(g->members[i], NULL, 0);
    propagate_assignment(g, error);
}

static void prepare_rebalance(rn_group_t *g, const char *reason)
{
    if (g->state == RN_GROUP_COMPLETING_REBALANCE)
        reset_and_propagate_error(g, RN_KERR_REBALANCE_IN_PROGRESS);
    g->sync_armed = false;
    g->new_member_added = false;
    int32_t timeout = rn__group_rebalance_timeout(g);
    if (g->state == RN_GROUP_EMPTY) {
        g->join_initial = true;
        g->initial_delay_ms = g->cfg.initial_rebalance_delay_ms;
        g->initial_remaining_ms = timeout > g->initial_delay_ms ? timeout - g->initial_delay_ms : 0;
        g->join_deadline = g->now + g->initial_delay_ms;
    } else {
        g->join_initial = false;
        g->join_deadline = g->now + timeout;
    }
    g->join_armed = true;
    RN_INFO("group", "group=%s: preparing to rebalance in state %s with old generation %d (%s)",
            RN_STR_ESC(g->id), rn_group_state_name(g->state), g->generation, reason);
    rn__group_transition(g, RN_GROUP_PREPARING_REBALANCE);
    try_complete_join(g);
}

static void maybe_prepare_rebalance(rn_group_t *g, const char *reason)
{
    if (g->state == RN_GROUP_STABLE || g->state == RN_GROUP_COMPLETING_REBALANCE ||
        g->state == RN_GROUP_EMPTY)
        prepare_rebalance(g, reason);
}

/* Kafka's maybeElectNewJoinedLeader: keep a leader that rejoined, else pick any member that
 * did. */
static bool elect_joined_leader(rn_group_t *g)
{
    if (g->leader == NULL)
        return false;
    if (rn__group_awaiting_join(g->leader))
        return true;
    for (size_t i = 0; i < g->n_members; i++) {
        if (rn__group_awaiting_join(g->members[i])) {
            g->leader = g->members[i];
            return true;
        }
    }
    return false;
}

static void init_next_generation(rn_group_t *g)
{
    g->generation++;
    rn_str_free(g->protocol_name);
    if (g->n_members > 0) {
        g->protocol_name = rn_str_xdup(rn__group_select_protocol(g));
        rn__group_compute_topics(g);
        rn__group_transition(g, RN_GROUP_COMPLETING_REBALANCE);
    } else {
        g->protocol_name = RN_STR_NULL;
        rn__group_compute_topics(g);
        rn__group_transition(g, RN_GROUP_EMPTY);
    }
    for (size_t i = 0; i < g->n_members; i++)
        g->members[i]->pending_sync = false;
    g->n_pending_sync = 0;
}

/* Kafka's onCompleteJoin: drop dynamic members that did not rejoin, start the next
 * generation and answer every waiting member. */
static void complete_join(rn_group_t *g)
{
    g->join_armed = false;
    for (size_t i = 0; i < g->n_members;) {
        rn_group_member_t *m = g->members[i];
        if (!rn__group_awaiting_join(m) && rn_str_is_null(m->instance_id)) {
            RN_INFO("group", "group=%s: removing member %s, which did not rejoin in time",
                    RN_STR_ESC(g->id), RN_STR_ESC(m->member_id));
            rn__group_remove_member(g, m);
        } else {
            i++;
        }
    }
    if (g->state == RN_GROUP_DEAD)
        return;
    if (!elect_joined_leader(g) && g->n_members > 0) {
        RN_WARN("group", "group=%s: no member rejoined; waiting another rebalance timeout",
                RN_STR_ESC(g->id));
        g->join_armed = true;
        g->join_initial = false;
        g->join_deadline = g->now + rn__group_rebalance_timeout(g);
        return;
    }
    init_next_generation(g);
    if (g->state == RN_GROUP_EMPTY) {
        RN_INFO("group", "group=%s: generation %d is empty", RN_STR_ESC(g->id), g->generation);
        rn__group_store_group(g, rn__group_store_new(g, STORE_EMPTY));
        return;
    }
    RN_INFO("group", "group=%s: generation %d with %zu members, protocol %s, leader %s",
            RN_STR_ESC(g->id), g->generation, g->n_members, RN_STR_ESC(g->protocol_name),
            RN_STR_ESC(g->leader->member_id));
    for (size_t i = 0; i < g->n_members; i++) {
        rn_group_member_t *m = g->members[i];
        rn__group_answer_generation(g, m, NULL, m == g->leader, g->leader->member_id, false);
        rn__group_schedule_heartbeat(g, m);
        m->is_new = false;
        m->pending_sync = true;
        g->n_pending_sync++;
    }
    g->sync_armed = true;
    g->sync_generation = g->generation;
    g->sync_deadline = g->now + rn__group_rebalance_timeout(g);
}

/* ---- JoinGroup ---- */

/* s, or "" for a null s. */
static rn_str_t or_empty(rn_str_t s)
{
    return s.len >= 0 ? s : rn_str("");
}

static rn_group_member_t *member_new(const rn_group_join_req_t *req, rn_str_t id)
{
    rn_group_member_t *m = rn_xcalloc(1, sizeof(*m));
    m->member_id = rn_str_xdup(id);
    m->instance_id = rn_str_xdup(req->instance_id);
    m->client_id = rn_str_xdup(or_empty(req->client_id));
    m->client_host = rn_str_xdup(or_empty(req->client_host));
    m->rebalance_timeout_ms = req->rebalance_timeout_ms;
    m->session_timeout_ms = req->session_timeout_ms;
    m->protocol_type = rn_str_xdup(or_empty(req->protocol_type));
    m->protocols = rn__group_protocols_dup(req->protocols, req->n_protocols);
    m->n_protocols = req->n_protocols;
    m->skip_assign_ok = req->supports_skip_assignment;
    return m;
}

static void add_member_and_rebalance(rn_group_t *g, const rn_group_join_req_t *req, rn_str_t id,
                                     void *waiter)
{
    rn_group_member_t *m = member_new(req, id);
    m->is_new = true;
    /* A rebalance that started from Empty waits once more for members still arriving
     * (Kafka 4's rule; Kafka 3 only did so for generation 0). */
    if (g->state == RN_GROUP_PREPARING_REBALANCE && g->join_initial)
        g->new_member_added = true;
    rn__group_add_member(g, m, waiter);
    /* A new member cannot heartbeat before it has its id: its join is what times out. */
    m->hb_deadline = g->now + g->cfg.new_member_join_timeout_ms;
    RN_INFO("group", "group=%s: member %s joins (client %s, %s)", RN_STR_ESC(g->id), RN_STR_ESC(id),
            RN_STR_ESC(m->client_id),
            req->reason.len >= 0 ? RN_STR_ESC(req->reason) : "no reason given");
    maybe_prepare_rebalance(g, "a new member joined");
}

/* Kafka's updateStaticMemberAndRebalance: a known group.instance.id came back without its
 * member id; it takes over the old member's place under a new id. */
static void update_static_member(rn_group_t *g, rn_group_member_t *m, rn_str_t new_id,
                                 const rn_group_join_req_t *req, void *waiter)
{
    pending_store_t *s = NULL;
    rn_str_t prev_leader = g->leader != NULL ? rn_str_xdup(g->leader->member_id) : RN_STR_NULL;
    rn_str_t old_id = m->member_id;

    /* Fence whatever the previous incarnation is still waiting for. */
    if (m->join_waiter != NULL) {
        void *w = m->join_waiter;
        m->join_waiter = NULL;
        g->n_awaiting_join--;
        rn__group_join_error(g, w, old_id, RN_KERR_FENCED_INSTANCE_ID);
    }
    if (m->sync_waiter != NULL) {
        void *w = m->sync_waiter;
        m->sync_waiter = NULL;
        rn__group_sync_error(g, w, RN_KERR_FENCED_INSTANCE_ID);
    }
    m->member_id = rn_str_xdup(new_id);
    rn__group_schedule_heartbeat(g, m);

    rn_group_protocol_t *old_protocols = m->protocols;
    size_t n_old = m->n_protocols;
    int32_t old_rebalance = m->rebalance_timeout_ms, old_session = m->session_timeout_ms;
    m->protocols = NULL;
    m->n_protocols = 0;
    rn__group_update_member(g, m, req, waiter);
    RN_INFO("group", "group=%s: static member %s rejoins as %s in state %s", RN_STR_ESC(g->id),
            RN_STR_ESC(m->instance_id), RN_STR_ESC(new_id), rn_group_state_name(g->state));

    switch (g->state) {
    case RN_GROUP_STABLE: {
        if (rn_str_eq(rn__group_select_protocol(g), g->protocol_name)) {
            /* Same protocol: no rebalance; persist the new member id, then answer. */
            s = rn__group_store_new(g, STORE_STATIC);
            s->old_id = old_id;
            s->new_id = rn_str_xdup(new_id);
            s->old_protocols = old_protocols;
            s->n_old_protocols = n_old;
            s->old_rebalance_ms = old_rebalance;
            s->old_session_ms = old_session;
            s->prev_leader = prev_leader;
            s->skip_ok = req->supports_skip_assignment;
            rn__group_store_group(g, s);
            return;
        }
        maybe_prepare_rebalance(g, "a static member rejoined with a different protocol");
        break;
    }
    case RN_GROUP_COMPLETING_REBALANCE:
        /* The leader may be assigning to the old id: start over. */
        prepare_rebalance(g, "a static member rejoined during CompletingRebalance");
        break;
    default: break;
    }
    rn_str_free(old_id);
    rn__group_protocols_free(old_protocols, n_old);
    rn_str_free(prev_leader);
}

static void new_member_join(rn_group_t *g, const rn_group_join_req_t *req, void *waiter)
{
    if (g->state == RN_GROUP_DEAD) {
        rn__group_join_error(g, waiter, rn_str(""), RN_KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    if (!rn__group_supports_protocols(g, req->protocol_type, req->protocols, req->n_protocols)) {
        rn__group_join_error(g, waiter, rn_str(""), RN_KERR_INCONSISTENT_GROUP_PROTOCOL);
        return;
    }
    rn_str_t id = rn__group_new_member_id(
        !rn_str_is_null(req->instance_id) ? req->instance_id : or_empty(req->client_id));
    if (!rn_str_is_null(req->instance_id)) {
        rn_group_member_t *m = rn__group_find_static(g, req->instance_id);
        if (m == NULL)
            add_member_and_rebalance(g, req, id, waiter);
        else
            update_static_member(g, m, id, req, waiter);
    } else if (req->require_known_member_id) {
        /* KIP-394: hand out the id first; the member joins for real with it. */
        rn_vec_xpush(g->pending, g->n_pending, g->cap_pending,
                     ((pending_member_t){rn_str_xdup(id), g->now + req->session_timeout_ms}));
        rn__group_join_error(g, waiter, id, RN_KERR_MEMBER_ID_REQUIRED);
    } else {
        add_member_and_rebalance(g, req, id, waiter);
    }
    rn_str_free(id);
}

static void update_member_and_rebalance(rn_group_t *g, rn_group_member_t *m,
                                        const rn_group_join_req_t *req, void *waiter,
                                        const char *reason)
{
    rn__group_update_member(g, m, req, waiter);
    maybe_prepare_rebalance(g, reason);
}

static void current_member_join(rn_group_t *g, const rn_group_join_req_t *req, void *waiter)
{
    rn_str_t id = req->member_id;
    if (g->state == RN_GROUP_DEAD) {
        rn__group_join_error(g, waiter, id, RN_KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    if (!rn__group_supports_protocols(g, req->protocol_type, req->protocols, req->n_protocols)) {
        rn__group_join_error(g, waiter, id, RN_KERR_INCONSISTENT_GROUP_PROTOCOL);
        return;
    }
    ssize_t pi = rn__group_find_pending(g, id);
    if (pi >= 0) {
        if (!rn_str_is_null(req->instance_id)) {
            /* Pending ids go to dynamic members only. */
            rn__group_join_error(g, waiter, id, RN_KERR_UNKNOWN_MEMBER_ID);
            return;
        }
        add_member_and_rebalance(g, req, id, waiter);
        return;
    }
    rn_group_member_t *st = rn__group_find_static(g, req->instance_id);
    if (st != NULL && !rn_str_eq(st->member_id, id)) {
        rn__group_join_error(g, waiter, id, RN_KERR_FENCED_INSTANCE_ID);
        return;
    }
    rn_group_member_t *m = rn__group_find_member(g, id);
    if (m == NULL || (!rn_str_is_null(req->instance_id) && st == NULL)) {
        rn__group_join_error(g, waiter, id, RN_KERR_UNKNOWN_MEMBER_ID);
        return;
    }
    switch (g->state) {
    case RN_GROUP_PREPARING_REBALANCE:
        update_member_and_rebalance(g, m, req, waiter, "a member rejoined");
        break;
    case RN_GROUP_COMPLETING_REBALANCE:
        if (rn__group_member_matches(m, req->protocols, req->n_protocols))
            /* Same metadata (it likely missed our answer): the current generation again. */
            rn__group_answer_generation(g, m, waiter, m == g->leader, g->leader->member_id, false);
        else
            update_member_and_rebalance(g, m, req, waiter, "a member changed its metadata");
        break;
    case RN_GROUP_STABLE:
        if (m == g->leader)
            /* The leader rejoining forces a rebalance (e.g. topic metadata changed). */
            update_member_and_rebalance(g, m, req, waiter, "the leader rejoined");
        else if (!rn__group_member_matches(m, req->protocols, req->n_protocols))
            update_member_and_rebalance(g, m, req, waiter, "a member changed its metadata");
        else
            rn__group_answer_generation(g, m, waiter, false, g->leader->member_id, false);
        break;
    default: rn__group_join_error(g, waiter, id, RN_KERR_UNKNOWN_MEMBER_ID); break;
    }
}

/* Kafka's acceptJoiningMember (group.max.size). */
static bool accept_joining_member(const rn_group_t *g, rn_str_t id)
{
    rn_group_member_t *m;
    switch (g->state) {
    case RN_GROUP_PREPARING_REBALANCE:
        m = rn__group_find_member(g, id);
        return (m != NULL && rn__group_awaiting_join(m)) ||
               g->n_awaiting_join < (size_t)g->cfg.max_size;
    case RN_GROUP_COMPLETING_REBALANCE:
    case RN_GROUP_STABLE:
        return rn__group_find_member(g, id) != NULL || g->n_members < (size_t)g->cfg.max_size;
    default: return true;
    }
}

void rn_group_join(rn_group_t *g, const rn_group_join_req_t *req, void *waiter, int64_t now_ms)
{
    g->now = now_ms;
    rn_str_t id = or_empty(req->member_id);
    if (req->session_timeout_ms < g->cfg.min_session_timeout_ms ||
        req->session_timeout_ms > g->cfg.max_session_timeout_ms) {
        rn__group_join_error(g, waiter, id, RN_KERR_INVALID_SESSION_TIMEOUT);
        return;
    }
    if (!accept_joining_member(g, id)) {
        rn_group_member_t *m = rn__group_find_member(g, id);
        if (m != NULL)
            rn__group_remove_member(g, m);
        rn__group_join_error(g, waiter, rn_str(""), RN_KERR_GROUP_MAX_SIZE_REACHED);
    } else if (id.len == 0) {
        new_member_join(g, req, waiter);
    } else {
        current_member_join(g, req, waiter);
    }
    try_complete_join(g);
}

/* ---- SyncGroup ---- */

/* Kafka's validateCurrentMember: a static member must come with its current member id. */
static int16_t validate_member(const rn_group_t *g, rn_str_t id, rn_str_t instance_id,
                               rn_group_member_t **out)
{
    rn_group_member_t *st = rn__group_find_static(g, instance_id);
    if (st != NULL && !rn_str_eq(st->member_id, id))
        return RN_KERR_FENCED_INSTANCE_ID;
    rn_group_member_t *m = rn__group_find_member(g, id);
    if (m == NULL)
        return RN_KERR_UNKNOWN_MEMBER_ID;
    *out = m;
    return RN_KERR_NONE;
}

void rn_group_sync(rn_group_t *g, const rn_group_sync_req_t *req, void *waiter, int64_t now_ms)
{
    g->now = now_ms;
    rn_group_member_t *m = NULL;
    int16_t err;
    if (g->state == RN_GROUP_DEAD) {
        rn__group_sync_error(g, waiter, RN_KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    err = validate_member(g, req->member_id, req->instance_id, &m);
    if (err == RN_KERR_NONE && req->generation_id != g->generation)
        err = RN_KERR_ILLEGAL_GENERATION;
    if (err == RN_KERR_NONE && !rn_str_is_null(req->protocol_type) &&
        !rn_str_eq(g->protocol_type, req->protocol_type))
        err = RN_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err == RN_KERR_NONE && !rn_str_is_null(req->protocol_name) &&
        !rn_str_eq(g->protocol_name, req->protocol_name))
        err = RN_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err != RN_KERR_NONE) {
        rn__group_sync_error(g, waiter, err);
        return;
    }
    switch (g->state) {
    case RN_GROUP_EMPTY: rn__group_sync_error(g, waiter, RN_KERR_UNKNOWN_MEMBER_ID); return;
    case RN_GROUP_PREPARING_REBALANCE:
        rn__group_sync_error(g, waiter, RN_KERR_REBALANCE_IN_PROGRESS);
        return;
    case RN_GROUP_STABLE: {
        if (m->pending_sync) {
            m->pending_sync = false;
            if (--g->n_pending_sync == 0)
                g->sync_armed = false;
        }
        rn_group_sync_result_t res = {
            .error = RN_KERR_NONE,
            .protocol_type = g->protocol_type,
            .protocol_name = g->protocol_name,
            .assignment = m->assignment,
            .assignment_len = m->assignment_len,
        };
        rn__group_answer_sync(g, waiter, &res);
        rn__group_schedule_heartbeat(g, m);
        return;
    }
    case RN_GROUP_COMPLETING_REBALANCE: break;
    default: rn__group_sync_error(g, waiter, RN_KERR_COORDINATOR_NOT_AVAILABLE); return;
    }
    if (m->sync_waiter != NULL) {
        /* A second SyncGroup while the first waits: answer the first (in-order responses). */
        void *old = m->sync_waiter;
        m->sync_waiter = NULL;
        rn__group_sync_error(g, old, RN_KERR_REBALANCE_IN_PROGRESS);
    }
    m->sync_waiter = waiter;
    if (m->pending_sync) {
        m->pending_sync = false;
        if (--g->n_pending_sync == 0)
            g->sync_armed = false;
    }
    if (m != g->leader)
        return;
    RN_INFO("group", "group=%s: assignment for generation %d received from leader %s",
            RN_STR_ESC(g->id), g->generation, RN_STR_ESC(m->member_id));
    /* Every member gets an entry; members the leader left out get an empty assignment. */
    pending_store_t *s = rn__group_store_new(g, STORE_SYNC);
    s->n = g->n_members;
    s->ids = rn_xcalloc(s->n ? s->n : 1, sizeof(*s->ids));
    s->data = rn_xcalloc(s->n ? s->n : 1, sizeof(*s->data));
    s->lens = rn_xcalloc(s->n ? s->n : 1, sizeof(*s->lens));
    for (size_t i = 0; i < g->n_members; i++) {
        s->ids[i] = rn_str_xdup(g->members[i]->member_id);
        for (size_t k = 0; k < req->n_assignments; k++) {
            const rn_group_assignment_t *a = &req->assignments[k];
            if (rn_str_eq(a->member_id, s->ids[i])) {
                s->data[i] = rn__group_dup_bytes(a->data, a->len);
                s->lens[i] = a->len > 0 ? a->len : 0;
                break;
            }
        }
    }
    rn__group_store_group(g, s);
}

/* ---- store outcomes ---- */

static void store_done_sync(rn_group_t *g, pending_store_t *s, int16_t error)
{
    if (g->state != RN_GROUP_COMPLETING_REBALANCE || g->generation != s->generation)
        return; /* the group moved on while the record was written */
    if (error != RN_KERR_NONE) {
        RN_WARN("group",
                "group=%s: storing the assignment of generation %d failed (error %d); "
                "rebalancing",
                RN_STR_ESC(g->id), g->generation, error);
        reset_and_propagate_error(g, error);
        maybe_prepare_rebalance(g, "storing the assignment failed");
        return;
    }
    for (size_t k = 0; k < s->n; k++) {
        rn_group_member_t *m = rn__group_find_member(g, s->ids[k]);
        if (m != NULL)
            rn__group_set_assignment(m, s->data[k], s->lens[k]);
    }
    propagate_assignment(g, RN_KERR_NONE);
    rn__group_transition(g, RN_GROUP_STABLE);
    RN_INFO("group", "group=%s: generation %d is stable", RN_STR_ESC(g->id), g->generation);
}

static void store_done_static(rn_group_t *g, pending_store_t *s, int16_t error)
{
    rn_group_member_t *m = rn__group_find_member(g, s->new_id);
    if (error != RN_KERR_NONE) {
        /* Put the old member id back; the rejoining instance is told to start over. */
        RN_WARN("group", "group=%s: storing static member %s's new id failed (error %d)",
                RN_STR_ESC(g->id), RN_STR_ESC(s->new_id), error);
        if (m == NULL)
            return;
        void *w = m->join_waiter;
        if (w != NULL) {
            m->join_waiter = NULL;
            g->n_awaiting_join--;
        }
        rn__group_protocols_free(m->protocols, m->n_protocols);
        m->protocols = s->old_protocols;
        m->n_protocols = s->n_old_protocols;
        s->old_protocols = NULL;
        s->n_old_protocols = 0;
        m->rebalance_timeout_ms = s->old_rebalance_ms;
        m->session_timeout_ms = s->old_session_ms;
        rn_str_free(m->member_id);
        m->member_id = s->old_id;
        s->old_id = RN_STR_NULL;
        rn__group_schedule_heartbeat(g, m);
        rn_group_join_result_t res = {
            .error = error,
            .member_id = rn_str(""),
            .generation_id = g->generation,
            .protocol_type = g->protocol_type,
            .protocol_name = g->protocol_name,
            .leader_id = or_empty(s->prev_leader),
        };
        rn__group_answer_join(g, w, &res);
        return;
    }
    if (m == NULL)
        return;
    if (s->skip_ok) {
        /* v9+: the leader learns it leads, but skips running the assignor (KIP-814). */
        bool leader = g->leader == m;
        rn__group_answer_generation(g, m, NULL, leader,
                                    g->leader ? g->leader->member_id : rn_str(""), leader);
    } else {
        /* Older clients get the previous leader id, so a returning leader does not assign
         * (a Stable group would not hand its new assignment out). */
        rn__group_answer_generation(g, m, NULL, false, s->prev_leader, false);
    }
}

void rn_group_store_done(rn_group_t *g, uint64_t token, int16_t error, int64_t now_ms)
{
    g->now = now_ms;
    pending_store_t **pp = &g->stores;
    while (*pp != NULL && (*pp)->token != token)
        pp = &(*pp)->next;
    pending_store_t *s = *pp;
    if (s == NULL)
        return;
    *pp = s->next;
    switch (s->kind) {
    case STORE_SYNC: store_done_sync(g, s, error); break;
    case STORE_STATIC: store_done_static(g, s, error); break;
    default:
        if (error != RN_KERR_NONE)
            RN_WARN("group", "group=%s: storing empty generation %d failed (error %d)",
                    RN_STR_ESC(g->id), s->generation, error);
        break;
    }
    rn__group_store_free(s);
}

/* ---- Heartbeat, LeaveGroup, OffsetCommit ---- */

int16_t rn_group_heartbeat(rn_group_t *g, rn_str_t member_id, rn_str_t instance_id,
                           int32_t generation_id, int64_t now_ms)
{
    g->now = now_ms;
    if (g->state == RN_GROUP_DEAD)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    rn_group_member_t *m = NULL;
    int16_t err = validate_member(g, member_id, instance_id, &m);
    if (err != RN_KERR_NONE)
        return err;
    if (generation_id != g->generation)
        return RN_KERR_ILLEGAL_GENERATION;
    switch (g->state) {
    case RN_GROUP_EMPTY: return RN_KERR_UNKNOWN_MEMBER_ID;
    case RN_GROUP_PREPARING_REBALANCE:
        rn__group_schedule_heartbeat(g, m);
        return RN_KERR_REBALANCE_IN_PROGRESS;
    default: rn__group_schedule_heartbeat(g, m); return RN_KERR_NONE;
    }
}

/* Kafka's removeMemberAndUpdateGroup. */
static void remove_and_update(rn_group_t *g, rn_group_member_t *m, const char *reason)
{
    RN_INFO("group", "group=%s: member %s leaves (%s)", RN_STR_ESC(g->id), RN_STR_ESC(m->member_id),
            reason);
    rn__group_remove_member(g, m);
    switch (g->state) {
    case RN_GROUP_STABLE:
    case RN_GROUP_COMPLETING_REBALANCE: maybe_prepare_rebalance(g, reason); break;
    case RN_GROUP_PREPARING_REBALANCE: try_complete_join(g); break;
    default: break;
    }
}

int16_t rn_group_leave(rn_group_t *g, rn_str_t member_id, rn_str_t instance_id, int64_t now_ms)
{
    g->now = now_ms;
    if (g->state == RN_GROUP_DEAD)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (member_id.len <= 0) {
        /* Administrative removal by group.instance.id. */
        rn_group_member_t *m = rn__group_find_static(g, instance_id);
        if (m == NULL)
            return RN_KERR_UNKNOWN_MEMBER_ID;
        remove_and_update(g, m, "removed by LeaveGroup with its instance id");
        return RN_KERR_NONE;
    }
    ssize_t pi = rn__group_find_pending(g, member_id);
    if (pi >= 0) {
        rn__group_remove_pending_at(g, (size_t)pi);
        try_complete_join(g);
        return RN_KERR_NONE;
    }
    rn_group_member_t *m = NULL;
    int16_t err = validate_member(g, member_id, instance_id, &m);
    if (err != RN_KERR_NONE)
        return err;
    remove_and_update(g, m, "LeaveGroup");
    return RN_KERR_NONE;
}

int16_t rn_group_check_commit(rn_group_t *g, rn_str_t member_id, rn_str_t instance_id,
                              int32_t generation_id, int64_t now_ms)
{
    g->now = now_ms;
    if (g->state == RN_GROUP_DEAD)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    rn_group_member_t *m = NULL;
    member_id = or_empty(member_id);
    if (generation_id >= 0 || member_id.len > 0 || !rn_str_is_null(instance_id)) {
        int16_t err = validate_member(g, member_id, instance_id, &m);
        if (err != RN_KERR_NONE)
            return err;
        if (generation_id != g->generation)
            return RN_KERR_ILLEGAL_GENERATION;
    } else if (g->state != RN_GROUP_EMPTY) {
        /* Once the group has members, only they may commit. */
        return RN_KERR_UNKNOWN_MEMBER_ID;
    }
    switch (g->state) {
    case RN_GROUP_COMPLETING_REBALANCE: return RN_KERR_REBALANCE_IN_PROGRESS;
    case RN_GROUP_STABLE:
    case RN_GROUP_PREPARING_REBALANCE:
        if (m != NULL)
            rn__group_schedule_heartbeat(g, m);
        return RN_KERR_NONE;
    default: return RN_KERR_NONE;
    }
}

/* ---- timers ---- */

/* Members waiting for a join or sync answer satisfy their session (Kafka's
 * hasSatisfiedHeartbeat); new members do not: their join times out. */
static bool session_paused(const rn_group_member_t *m)
{
    return !m->is_new && (m->join_waiter != NULL || m->sync_waiter != NULL);
}

int64_t rn_group_next_deadline(const rn_group_t *g)
{
    int64_t t = INT64_MAX;
    if (g->state == RN_GROUP_DEAD)
        return t;
    for (size_t i = 0; i < g->n_pending; i++)
        if (g->pending[i].deadline < t)
            t = g->pending[i].deadline;
    for (size_t i = 0; i < g->n_members; i++)
        if (!session_paused(g->members[i]) && g->members[i]->hb_deadline < t)
            t = g->members[i]->hb_deadline;
    if (g->join_armed && g->state == RN_GROUP_PREPARING_REBALANCE && g->join_deadline < t)
        t = g->join_deadline;
    if (g->sync_armed && g->sync_deadline < t)
        t = g->sync_deadline;
    return t;
}

static void join_expired(rn_group_t *g)
{
    if (g->join_initial && g->new_member_added && g->initial_remaining_ms != 0) {
        /* More members arrived during the initial delay: wait once more, within the
         * rebalance timeout. */
        g->new_member_added = false;
        int32_t delay = g->cfg.initial_rebalance_delay_ms < g->initial_remaining_ms
                            ? g->cfg.initial_rebalance_delay_ms
                            : g->initial_remaining_ms;
        int32_t remaining = g->initial_remaining_ms - g->initial_delay_ms;
        g->initial_remaining_ms = remaining > 0 ? remaining : 0;
        g->initial_delay_ms = delay;
        g->join_deadline = g->now + delay;
        return;
    }
    complete_join(g);
}

/* Kafka's onExpirePendingSync: members that never sent SyncGroup are removed. */
static void sync_expired(rn_group_t *g)
{
    g->sync_armed = false;
    if (g->sync_generation != g->generation ||
        (g->state != RN_GROUP_COMPLETING_REBALANCE && g->state != RN_GROUP_STABLE) ||
        g->n_pending_sync == 0)
        return;
    for (size_t i = 0; i < g->n_members;) {
        rn_group_member_t *m = g->members[i];
        if (m->pending_sync) {
            RN_INFO("group", "group=%s: removing member %s, which sent no SyncGroup in time",
                    RN_STR_ESC(g->id), RN_STR_ESC(m->member_id));
            rn__group_remove_member(g, m);
        } else {
            i++;
        }
    }
    prepare_rebalance(g, "members did not sync in time");
}

void rn_group_tick(rn_group_t *g, int64_t now_ms)
{
    g->now = now_ms;
    if (g->state == RN_GROUP_DEAD)
        return;
    for (size_t i = 0; i < g->n_pending;) {
        if (g->pending[i].deadline <= now_ms) {
            RN_INFO("group", "group=%s: pending member %s never joined; dropped", RN_STR_ESC(g->id),
                    RN_STR_ESC(g->pending[i].id));
            rn__group_remove_pending_at(g, i);
            try_complete_join(g);
        } else {
            i++;
        }
    }
    /* One expiry at a time: removing a member can rebalance and change the member list. */
    for (bool again = true; again && g->state != RN_GROUP_DEAD;) {
        again = false;
        for (size_t i = 0; i < g->n_members; i++) {
            rn_group_member_t *m = g->members[i];
            if (m->hb_deadline <= now_ms && !session_paused(m)) {
                /* A new member still waiting is told UNKNOWN_MEMBER_ID by remove_member. */
                remove_and_update(g, m, m->is_new ? "join timed out" : "session timed out");
                again = true;
                break;
            }
        }
    }
    if (g->state == RN_GROUP_PREPARING_REBALANCE && g->join_armed && g->join_deadline <= now_ms)
        join_expired(g);
    if (g->sync_armed && g->sync_deadline <= now_ms)
        sync_expired(g);
}
