/* Group membership handlers: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * DescribeGroups, ListGroups, DeleteGroups; and the "groups" broker module that owns the
 * group coordinator (rn_gcoord). The handlers translate between the decoded requests and
 * rn_gcoord; the rules and error codes are rn_gcoord's and rn_group's. JoinGroup and SyncGroup
 * park their request (the answer can wait for other members) and complete it from the
 * coordinator's callbacks. */
#include "rn_handlers.h"
#include "acl/rn_authz.h"

#include "rn_alloc.h"
#include "data/rn_datapath.h"
#include "rn_err.h"
#include "group/rn_gcoord.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "ops/rn_metrics.h"
#include "replica/rn_replica.h"
#include "rn_str.h"

#include <stdio.h>
#include <string.h>

/* Kafka's ACL operations a group has (READ 3, DELETE 6, DESCRIBE 8), as DescribeGroups v3+
 * reports them when asked; runnel has no ACLs, so everything is allowed. */
#define GROUP_AUTHORIZED_OPS ((1 << 3) | (1 << 6) | (1 << 8))

/* May the client do op on the group? (READ to take part, DESCRIBE to look, DELETE.) */
static bool group_ok(const rn_req_t *req, int8_t op, rn_str_t group)
{
    return rn_authz_allowed(req, op, RN_ACL_RES_GROUP, group);
}

static rn_gcoord_t *gcoord(const rn_req_t *req)
{
    return rn_req_broker(req)->gcoord;
}

/* An arena copy of a slice, every byte kept (null stays null): the group's own copy may
 * change before the answer is sent. */
static rn_str_t dup_str(rn_req_t *req, rn_str_t s)
{
    if (s.len < 0)
        return RN_STR_NULL;
    char *d = rn_arena_strndup(&req->arena, s.len > 0 ? s.ptr : "", (size_t)s.len);
    return d != NULL ? (rn_str_t){d, s.len} : (rn_str_t){"", 0};
}

/* s, or "" when s is null. */
static rn_str_t or_empty(rn_str_t s)
{
    return s.len >= 0 ? s : rn_str("");
}

static rn_bytes_t dup_bytes(rn_req_t *req, const uint8_t *p, int32_t len)
{
    if (len <= 0 || p == NULL)
        return (rn_bytes_t){(const uint8_t *)"", 0};
    uint8_t *d = rn_arena_memdup(&req->arena, p, (size_t)len);
    return d != NULL ? (rn_bytes_t){d, len} : (rn_bytes_t){(const uint8_t *)"", 0};
}

/* Kafka's clientHost: "/" + the peer's address (InetAddress.toString). */
static rn_str_t client_host(rn_req_t *req)
{
    const char *peer = req->peer != NULL ? req->peer : "";
    const char *colon = strrchr(peer, ':');
    size_t n = colon != NULL ? (size_t)(colon - peer) : strlen(peer);
    if (n >= 2 && peer[0] == '[' && peer[n - 1] == ']') {
        peer++;
        n -= 2;
    }
    rn_str_t s = rn_req_strf(req, "/%.*s", (int)n, peer);
    return s.ptr != NULL ? s : rn_str("/");
}

/* ---- FindCoordinator ---- */

/* Fill one coordinator answer for key (group keys only; key_type checked by the caller). */
static void find_one(rn_req_t *req, rn_str_t key, int16_t *error, rn_str_t *message,
                     int32_t *node_id, rn_str_t *host, int32_t *port)
{
    rn_broker_t *b = rn_req_broker(req);
    int32_t node = -1;
    int16_t err = rn_gcoord_find(b->gcoord, or_empty(key), &node);
    *node_id = -1;
    *host = (rn_str_t){"", 0};
    *port = -1;
    if (err == RN_KERR_NONE) {
        for (int i = 0; i < rn_broker_node_count(b); i++) {
            int32_t id, p;
            const char *h;
            rn_broker_node_on(b, req->listener, i, &id, &h, &p);
            if (id == node) {
                *node_id = id;
                *host = dup_str(req, rn_str(h));
                *port = p;
                break;
            }
        }
        if (*node_id < 0)
            err = RN_KERR_COORDINATOR_NOT_AVAILABLE;
    }
    *error = err;
    *message = rn_str(rn_kerr_name(err)); /* Kafka sends Errors.message(): "NONE" too */
}

static void find_answer(rn_req_t *req, int16_t topic_error)
{
    const rn_find_coordinator_request_t *fr = req->request;
    rn_find_coordinator_response_t *resp = req->response;
    resp->throttle_time_ms = 0;
    bool txn = fr->key_type == 1;
    bool bad_type = fr->key_type != 0 && fr->key_type != 1;
    if (req->api_version < 4) {
        if (bad_type || txn || topic_error != RN_KERR_NONE) {
            resp->error_code = bad_type ? RN_KERR_INVALID_REQUEST
                               : txn    ? RN_KERR_COORDINATOR_NOT_AVAILABLE
                                        : topic_error;
            resp->error_message = txn ? rn_str("runnel does not support transactions yet")
                                      : rn_str(rn_kerr_name(resp->error_code));
            resp->node_id = -1;
            resp->host = (rn_str_t){"", 0};
            resp->port = -1;
            return;
        }
        if (!group_ok(req, RN_ACL_OP_DESCRIBE, fr->key)) {
            resp->error_code = RN_KERR_GROUP_AUTHORIZATION_FAILED;
            resp->error_message = rn_str(rn_kerr_name(resp->error_code));
            resp->node_id = -1;
            resp->host = (rn_str_t){"", 0};
            resp->port = -1;
            return;
        }
        find_one(req, fr->key, &resp->error_code, &resp->error_message, &resp->node_id, &resp->host,
                 &resp->port);
        return;
    }
    int32_t n = fr->coordinator_keys.count > 0 ? fr->coordinator_keys.count : 0;
    rn_coordinator_t *out = rn_coordinator_array_alloc(&req->arena, &resp->coordinators, n);
    if (out == NULL && n > 0) {
        resp->coordinators.count = 0;
        return;
    }
    for (int32_t i = 0; i < n; i++) {
        rn_coordinator_t *c = &out[i];
        c->key = fr->coordinator_keys.items[i];
        bool denied = !bad_type && (txn ? !rn_authz_allowed(req, RN_ACL_OP_DESCRIBE,
                                                            RN_ACL_RES_TRANSACTIONAL_ID, c->key)
                                        : !group_ok(req, RN_ACL_OP_DESCRIBE, c->key));
        if (denied) {
            c->error_code = txn ? RN_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                                : RN_KERR_GROUP_AUTHORIZATION_FAILED;
            c->error_message = rn_str(rn_kerr_name(c->error_code));
            c->node_id = -1;
            c->host = (rn_str_t){"", 0};
            c->port = -1;
            continue;
        }
        if (bad_type || txn || topic_error != RN_KERR_NONE) {
            c->error_code = bad_type ? RN_KERR_INVALID_REQUEST
                            : txn    ? RN_KERR_COORDINATOR_NOT_AVAILABLE
                                     : topic_error;
            c->error_message = rn_str(rn_kerr_name(c->error_code));
            c->node_id = -1;
            c->host = (rn_str_t){"", 0};
            c->port = -1;
            continue;
        }
        find_one(req, c->key, &c->error_code, &c->error_message, &c->node_id, &c->host, &c->port);
    }
}

static void find_topic_ready(void *arg, int16_t error)
{
    rn_req_t *req = arg;
    find_answer(req, error);
    rn_req_complete(req);
}

static void find_cancel(rn_req_t *req, void *arg)
{
    rn_gcoord_cancel_wait(gcoord(req), req);
}

int rn_handle_find_coordinator(rn_req_t *req)
{
    const rn_find_coordinator_request_t *fr = req->request;
    /* Only group lookups need the topic; it is created on first use, as Kafka does. */
    if (fr->key_type == 0 && rn_gcoord_wait_topic(gcoord(req), find_topic_ready, req) == 1) {
        rn_req_park(req, find_cancel, NULL);
        return RN_HANDLED_ASYNC;
    }
    find_answer(req, RN_KERR_NONE);
    return RN_HANDLED_SYNC;
}

/* ---- JoinGroup / SyncGroup (parked) ---- */

/* The group a parked request waits in (req->user: the request's group id), for its cancel
 * callback. */
static void parked_cancel(rn_req_t *req, void *arg)
{
    rn_gcoord_forget(gcoord(req), *(const rn_str_t *)req->user, req);
}

/* Park req in group (its id kept in the arena for parked_cancel). */
static int park_in(rn_req_t *req, rn_str_t group)
{
    rn_str_t *id = rn_arena_alloc(&req->arena, sizeof(*id));
    if (id == NULL)
        return RN_ENOMEM;
    *id = group;
    req->user = id;
    rn_req_park(req, parked_cancel, NULL);
    return 0;
}

static void join_done(void *arg, void *waiter, const rn_group_join_result_t *res)
{
    rn_req_t *req = waiter;
    rn_join_group_response_t *resp = req->response;
    bool v7 = req->api_version >= 7;
    resp->throttle_time_ms = 0;
    resp->error_code = res->error;
    resp->generation_id = res->generation_id;
    resp->protocol_type = res->protocol_type.len >= 0 || !v7
                              ? dup_str(req, or_empty(res->protocol_type))
                              : RN_STR_NULL;
    resp->protocol_name = res->protocol_name.len >= 0 || !v7
                              ? dup_str(req, or_empty(res->protocol_name))
                              : RN_STR_NULL;
    resp->leader = dup_str(req, or_empty(res->leader_id));
    resp->skip_assignment = res->skip_assignment;
    resp->member_id = dup_str(req, or_empty(res->member_id));
    int32_t n = (int32_t)res->n_members;
    rn_join_group_response_member_t *ms =
        rn_join_group_response_member_array_alloc(&req->arena, &resp->members, n);
    if (ms == NULL && n > 0) {
        resp->members.count = 0;
        resp->error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
    }
    for (int32_t i = 0; ms != NULL && i < n; i++) {
        ms[i].member_id = dup_str(req, res->members[i].member_id);
        ms[i].group_instance_id = dup_str(req, res->members[i].instance_id);
        ms[i].metadata = dup_bytes(req, res->members[i].metadata, res->members[i].metadata_len);
    }
    if (res->error != RN_KERR_NONE && res->error != RN_KERR_MEMBER_ID_REQUIRED)
        rn_req_count_error(req); /* MEMBER_ID_REQUIRED is the normal first step (KIP-394) */
    rn_req_complete(req);
}

static void sync_done(void *arg, void *waiter, const rn_group_sync_result_t *res)
{
    rn_req_t *req = waiter;
    rn_sync_group_response_t *resp = req->response;
    resp->throttle_time_ms = 0;
    resp->error_code = res->error;
    resp->protocol_type = dup_str(req, res->protocol_type);
    resp->protocol_name = dup_str(req, res->protocol_name);
    resp->assignment = dup_bytes(req, res->assignment, res->assignment_len);
    if (res->error != RN_KERR_NONE)
        rn_req_count_error(req);
    rn_req_complete(req);
}

int rn_handle_join_group(rn_req_t *req)
{
    const rn_join_group_request_t *jr = req->request;
    if (!group_ok(req, RN_ACL_OP_READ, jr->group_id)) {
        rn_join_group_response_t *resp = req->response;
        resp->error_code = RN_KERR_GROUP_AUTHORIZATION_FAILED;
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    int32_t n = jr->protocols.count > 0 ? jr->protocols.count : 0;
    rn_group_protocol_t *protocols =
        rn_arena_calloc(&req->arena, (size_t)n + 1, sizeof(*protocols));
    if (protocols == NULL)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const rn_join_group_request_protocol_t *p = &jr->protocols.items[i];
        protocols[i].name = or_empty(p->name);
        protocols[i].metadata = (uint8_t *)p->metadata.ptr;
        protocols[i].metadata_len = p->metadata.len > 0 ? p->metadata.len : 0;
    }
    rn_str_t instance = req->api_version >= 5 ? jr->group_instance_id : RN_STR_NULL;
    rn_group_join_req_t gj = {
        .member_id = or_empty(jr->member_id),
        .instance_id = instance,
        .client_id = (rn_str_t){req->client_id, req->client_id_len},
        .client_host = client_host(req),
        .session_timeout_ms = jr->session_timeout_ms,
        .rebalance_timeout_ms =
            req->api_version >= 1 ? jr->rebalance_timeout_ms : jr->session_timeout_ms,
        .protocol_type = or_empty(jr->protocol_type),
        .protocols = protocols,
        .n_protocols = (size_t)n,
        .require_known_member_id = req->api_version >= 4 && rn_str_is_null(instance),
        .supports_skip_assignment = req->api_version >= 9,
        .reason = jr->reason,
    };
    if (park_in(req, jr->group_id) != 0)
        return RN_ENOMEM;
    rn_gcoord_join(gcoord(req), jr->group_id, &gj, req); /* may complete req before returning */
    return RN_HANDLED_ASYNC;
}

int rn_handle_sync_group(rn_req_t *req)
{
    const rn_sync_group_request_t *sr = req->request;
    if (!group_ok(req, RN_ACL_OP_READ, sr->group_id)) {
        rn_sync_group_response_t *resp = req->response;
        resp->error_code = RN_KERR_GROUP_AUTHORIZATION_FAILED;
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    int32_t n = sr->assignments.count > 0 ? sr->assignments.count : 0;
    rn_group_assignment_t *a = rn_arena_calloc(&req->arena, (size_t)n + 1, sizeof(*a));
    if (a == NULL)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const rn_sync_group_request_assignment_t *in = &sr->assignments.items[i];
        a[i].member_id = or_empty(in->member_id);
        a[i].data = in->assignment.ptr;
        a[i].len = in->assignment.len > 0 ? in->assignment.len : 0;
    }
    rn_group_sync_req_t gs = {
        .member_id = or_empty(sr->member_id),
        .instance_id = req->api_version >= 3 ? sr->group_instance_id : RN_STR_NULL,
        .generation_id = sr->generation_id,
        .protocol_type = req->api_version >= 5 ? sr->protocol_type : RN_STR_NULL,
        .protocol_name = req->api_version >= 5 ? sr->protocol_name : RN_STR_NULL,
        .assignments = a,
        .n_assignments = (size_t)n,
    };
    if (req->api_version >= 5 &&
        (rn_str_is_null(gs.protocol_type) || rn_str_is_null(gs.protocol_name))) {
        /* Kafka: from v5 both fields are mandatory. */
        rn_sync_group_response_t *resp = req->response;
        resp->error_code = RN_KERR_INCONSISTENT_GROUP_PROTOCOL;
        resp->protocol_type = resp->protocol_name = RN_STR_NULL;
        resp->assignment = (rn_bytes_t){(const uint8_t *)"", 0};
        return RN_HANDLED_SYNC;
    }
    if (park_in(req, sr->group_id) != 0)
        return RN_ENOMEM;
    rn_gcoord_sync(gcoord(req), sr->group_id, &gs, req);
    return RN_HANDLED_ASYNC;
}

/* ---- Heartbeat, LeaveGroup ---- */

int rn_handle_heartbeat(rn_req_t *req)
{
    const rn_heartbeat_request_t *hr = req->request;
    rn_heartbeat_response_t *resp = req->response;
    if (!group_ok(req, RN_ACL_OP_READ, hr->group_id)) {
        resp->error_code = RN_KERR_GROUP_AUTHORIZATION_FAILED;
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    rn_str_t instance = req->api_version >= 3 ? hr->group_instance_id : RN_STR_NULL;
    resp->throttle_time_ms = 0;
    resp->error_code = rn_gcoord_heartbeat(gcoord(req), hr->group_id, or_empty(hr->member_id),
                                           instance, hr->generation_id);
    return RN_HANDLED_SYNC;
}

int rn_handle_leave_group(rn_req_t *req)
{
    const rn_leave_group_request_t *lr = req->request;
    rn_leave_group_response_t *resp = req->response;
    if (!group_ok(req, RN_ACL_OP_READ, lr->group_id)) {
        resp->error_code = RN_KERR_GROUP_AUTHORIZATION_FAILED;
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    bool batch = req->api_version >= 3;
    int32_t n = batch ? (lr->members.count > 0 ? lr->members.count : 0) : 1;
    rn_gcoord_leaver_t *lv = rn_arena_calloc(&req->arena, (size_t)n + 1, sizeof(*lv));
    if (lv == NULL)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        if (batch) {
            const rn_member_identity_t *m = &lr->members.items[i];
            lv[i].member_id = or_empty(m->member_id);
            lv[i].instance_id = m->group_instance_id;
            if (m->reason.len > 0)
                RN_INFO("group", "group=%s: member %s leaves: %s", RN_STR_ESC(lr->group_id),
                        RN_STR_ESC(lv[i].member_id), RN_STR_ESC(m->reason));
        } else {
            lv[i].member_id = or_empty(lr->member_id);
            lv[i].instance_id = RN_STR_NULL;
        }
    }
    int16_t err = rn_gcoord_leave(gcoord(req), lr->group_id, lv, (size_t)n);
    resp->throttle_time_ms = 0;
    if (!batch) {
        /* v0-2 carry one error: the top-level one, else the member's. */
        resp->error_code = err != RN_KERR_NONE ? err : lv[0].error;
        return RN_HANDLED_SYNC;
    }
    resp->error_code = err;
    int32_t nout = err == RN_KERR_NONE ? n : 0;
    rn_member_response_t *out = rn_member_response_array_alloc(&req->arena, &resp->members, nout);
    if (out == NULL && nout > 0)
        return RN_ENOMEM;
    for (int32_t i = 0; i < nout; i++) {
        out[i].member_id = lr->members.items[i].member_id;
        out[i].group_instance_id = lr->members.items[i].group_instance_id;
        out[i].error_code = lv[i].error;
    }
    return RN_HANDLED_SYNC;
}

/* ---- DescribeGroups, ListGroups, DeleteGroups ---- */

static int describe_one(rn_req_t *req, rn_str_t id, rn_described_group_t *out, bool with_ops)
{
    out->group_id = id;
    out->authorized_operations = with_ops ? GROUP_AUTHORIZED_OPS : INT32_MIN;
    out->protocol_type = out->protocol_data = out->group_state = (rn_str_t){"", 0};
    if (!group_ok(req, RN_ACL_OP_DESCRIBE, id)) {
        out->error_code = RN_KERR_GROUP_AUTHORIZATION_FAILED;
        rn_described_group_member_array_alloc(&req->arena, &out->members, 0);
        return 0;
    }
    if (with_ops && rn_authz_on(req)) {
        out->authorized_operations = 0;
        for (int8_t op = RN_ACL_OP_READ; op <= RN_ACL_OP_DESCRIBE; op++)
            if ((GROUP_AUTHORIZED_OPS & (1 << op)) != 0 && group_ok(req, op, id))
                out->authorized_operations |= 1 << op;
    }
    const rn_group_t *g = NULL;
    out->error_code = rn_gcoord_describe(gcoord(req), id, &g);
    if (out->error_code != RN_KERR_NONE) {
        rn_described_group_member_array_alloc(&req->arena, &out->members, 0);
        return 0;
    }
    if (g == NULL) {
        /* Kafka describes an unknown group as Dead with no members. */
        out->group_state = rn_str(rn_group_state_name(RN_GROUP_DEAD));
        rn_described_group_member_array_alloc(&req->arena, &out->members, 0);
        return 0;
    }
    rn_group_state_t st = rn_group_state(g);
    bool stable = st == RN_GROUP_STABLE;
    out->group_state = rn_str(rn_group_state_name(st));
    out->protocol_type = dup_str(req, or_empty(rn_group_protocol_type(g)));
    out->protocol_data = dup_str(req, stable ? or_empty(rn_group_protocol_name(g)) : rn_str(""));
    int32_t n = (int32_t)rn_group_member_count(g);
    rn_described_group_member_t *ms =
        rn_described_group_member_array_alloc(&req->arena, &out->members, n);
    if (ms == NULL && n > 0)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const rn_group_member_t *m = rn_group_member_at(g, (size_t)i);
        ms[i].member_id = dup_str(req, m->member_id);
        ms[i].group_instance_id = dup_str(req, m->instance_id);
        ms[i].client_id = dup_str(req, m->client_id);
        ms[i].client_host = dup_str(req, m->client_host);
        /* Metadata and assignment only once the group is Stable (Kafka's summary). */
        const rn_group_protocol_t *p =
            stable ? rn_group_member_protocol(m, rn_group_protocol_name(g)) : NULL;
        ms[i].member_metadata =
            p != NULL ? dup_bytes(req, p->metadata, p->metadata_len) : dup_bytes(req, NULL, 0);
        ms[i].member_assignment =
            stable ? dup_bytes(req, m->assignment, m->assignment_len) : dup_bytes(req, NULL, 0);
    }
    return 0;
}

int rn_handle_describe_groups(rn_req_t *req)
{
    const rn_describe_groups_request_t *dr = req->request;
    rn_describe_groups_response_t *resp = req->response;
    int32_t n = dr->groups.count > 0 ? dr->groups.count : 0;
    rn_described_group_t *out = rn_described_group_array_alloc(&req->arena, &resp->groups, n);
    if (out == NULL && n > 0)
        return RN_ENOMEM;
    resp->throttle_time_ms = 0;
    bool ops = req->api_version >= 3 && dr->include_authorized_operations;
    for (int32_t i = 0; i < n; i++)
        if (describe_one(req, dr->groups.items[i], &out[i], ops) != 0)
            return RN_ENOMEM;
    return RN_HANDLED_SYNC;
}

int rn_handle_list_groups(rn_req_t *req)
{
    const rn_list_groups_request_t *lr = req->request;
    rn_list_groups_response_t *resp = req->response;
    const rn_group_t **groups;
    size_t n;
    resp->throttle_time_ms = 0;
    resp->error_code = rn_gcoord_list(gcoord(req), &groups, &n);
    int32_t nstates =
        req->api_version >= 4 && lr->states_filter.count > 0 ? lr->states_filter.count : 0;
    rn_listed_group_t *out = rn_listed_group_array_alloc(&req->arena, &resp->groups, (int32_t)n);
    if (out == NULL && n > 0)
        return RN_ENOMEM;
    int32_t k = 0;
    bool all_groups = rn_authz_cluster(req, RN_ACL_OP_DESCRIBE);
    for (size_t i = 0; i < n; i++) {
        rn_group_state_t st = rn_group_state(groups[i]);
        bool keep = nstates == 0;
        for (int32_t f = 0; f < nstates && !keep; f++) {
            rn_str_t s = lr->states_filter.items[f];
            keep = s.len >= 0 && rn_group_state_parse(s.ptr ? s.ptr : "", (size_t)s.len) == (int)st;
        }
        /* Without DESCRIBE on the cluster, only the groups the client may describe. */
        if (!keep || (!all_groups && !group_ok(req, RN_ACL_OP_DESCRIBE, rn_group_id(groups[i]))))
            continue;
        out[k].group_id = dup_str(req, rn_group_id(groups[i]));
        out[k].protocol_type = dup_str(req, or_empty(rn_group_protocol_type(groups[i])));
        out[k].group_state = rn_str(rn_group_state_name(st));
        out[k].group_type = rn_str("classic");
        k++;
    }
    resp->groups.count = k;
    return RN_HANDLED_SYNC;
}

int rn_handle_delete_groups(rn_req_t *req)
{
    const rn_delete_groups_request_t *dr = req->request;
    rn_delete_groups_response_t *resp = req->response;
    int32_t n = dr->groups_names.count > 0 ? dr->groups_names.count : 0;
    rn_deletable_group_result_t *out =
        rn_deletable_group_result_array_alloc(&req->arena, &resp->results, n);
    if (out == NULL && n > 0)
        return RN_ENOMEM;
    resp->throttle_time_ms = 0;
    for (int32_t i = 0; i < n; i++) {
        out[i].group_id = dr->groups_names.items[i];
        out[i].error_code = group_ok(req, RN_ACL_OP_DELETE, dr->groups_names.items[i])
                                ? rn_gcoord_delete_group(gcoord(req), dr->groups_names.items[i])
                                : RN_KERR_GROUP_AUTHORIZATION_FAILED;
    }
    return RN_HANDLED_SYNC;
}

/* ---- the broker module ---- */

static struct rn_plog *storage_log(void *arg, rn_partition_t *part)
{
    rn_broker_t *b = arg;
    rn_dpart_t *dpart = rn_datapath_part(rn_datapath(b), part);
    return dpart != NULL ? dpart->log : NULL;
}

static void storage_appended(void *arg, rn_partition_t *part, int32_t leader_epoch,
                             int64_t base_offset, int64_t bytes)
{
    rn_broker_t *b = arg;
    rn_dpart_t *dpart = rn_datapath_part(rn_datapath(b), part);
    if (dpart != NULL)
        rn_datapath_appended(rn_datapath(b), dpart, leader_epoch, base_offset, bytes);
}

/* The coordinator's writes wait for the partition's high watermark as acks=all Produces do. */
static void *storage_replicated(void *arg, rn_partition_t *part, int64_t last_offset,
                                int32_t timeout_ms, void (*done)(void *done_arg, int16_t error),
                                void *done_arg)
{
    rn_broker_t *b = arg;
    rn_dpart_t *dpart = part->user;
    if (dpart == NULL) {
        done(done_arg, RN_KERR_NOT_LEADER_OR_FOLLOWER);
        return NULL;
    }
    return rn_replica_when_replicated(b, dpart, last_offset, timeout_ms, done, done_arg);
}

static void storage_cancel_wait(void *arg, void *wait)
{
    (void)arg;
    rn_replica_wait_cancel(wait);
}

static bool storage_leads(void *arg, rn_partition_t *part)
{
    (void)arg;
    const rn_dpart_t *dpart = part->user;
    return dpart != NULL && rn_replica_is_leader(dpart);
}

/* ---- metrics: computed at every scrape from the coordinator's table ---- */

/* The high watermark of topic's partition p when it exists and its log is open here (the
 * data path opens every local log at start-up); false otherwise. Never opens a log: a scrape
 * changes nothing. */
static bool group_hw(const rn_broker_t *b, const char *topic, size_t tlen, int32_t p, int64_t *hw)
{
    const rn_topic_t *t = rn_topics_find(b->topics, topic, tlen);
    if (t == NULL || p < 0 || p >= t->n_partitions)
        return false;
    const rn_dpart_t *dpart = t->partitions[p]->user;
    if (dpart == NULL || dpart->log == NULL)
        return false;
    *hw = rn_dpart_high_watermark(dpart);
    return true;
}

/* Sum of the group's lags over its offsets whose partition has a local log. */
static int64_t group_lag_sum(const rn_broker_t *b, const rn_committed_t *offsets)
{
    int64_t sum = 0, hw;
    for (size_t j = 0; j < rn_committed_count(offsets); j++) {
        const rn_offset_entry_t *o = rn_committed_at(offsets, j);
        if (group_hw(b, o->topic, o->topic_len, o->partition, &hw))
            sum += hw - o->offset;
    }
    return sum;
}

/* The group id as a label value (freed with rn_free): every byte, except that a NUL (which
 * a Kafka group id may hold, and a C string cannot) becomes U+FFFD, as the exposition writes
 * invalid UTF-8, so "g\0x" and "g" stay two series. */
static char *group_label(const rn_group_t *g)
{
    rn_str_t id = rn_group_id(g);
    size_t nul = 0;
    for (int32_t i = 0; i < id.len; i++)
        nul += id.ptr[i] == '\0';
    char *v = rn_xmalloc((size_t)id.len + 2 * nul + 1), *w = v;
    for (int32_t i = 0; i < id.len; i++) {
        if (id.ptr[i] != '\0') {
            *w++ = id.ptr[i];
            continue;
        }
        memcpy(w, "\xEF\xBF\xBD", 3);
        w += 3;
    }
    *w = '\0';
    return v;
}

/* runnel_consumer_groups{state}, runnel_consumer_group_members{group},
 * runnel_consumer_group_lag{group,topic,partition}, runnel_consumer_group_lag_sum{group}.
 * Each family is one pass over the table (a family's samples must be contiguous), so nothing
 * is allocated; Dead groups (about to be removed) appear only in the state count. */
static void groups_collect(rn_metrics_writer_t *w, void *arg)
{
    const rn_broker_t *b = arg;
    const rn_gcoord_t *gc = b->gcoord;
    if (gc == NULL || b->topics == NULL)
        return;
    size_t n = rn_gcoord_size(gc);
    const rn_committed_t *offsets;

    uint64_t by_state[RN_GROUP_DEAD + 1] = {0};
    for (size_t i = 0; i < n; i++)
        by_state[rn_group_state(rn_gcoord_at(gc, i, &offsets))]++;
    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_consumer_groups",
                           "Consumer groups this node coordinates, by state (groups with only "
                           "committed offsets count as Empty).");
    static const rn_group_state_t order[] = {RN_GROUP_STABLE, RN_GROUP_EMPTY,
                                             RN_GROUP_PREPARING_REBALANCE,
                                             RN_GROUP_COMPLETING_REBALANCE, RN_GROUP_DEAD};
    for (size_t s = 0; s < sizeof(order) / sizeof(order[0]); s++) {
        rn_metrics_label_t label = {"state", rn_group_state_name(order[s])};
        rn_metrics_emit_u64(w, &label, 1, by_state[order[s]]);
    }

    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_consumer_group_members",
                           "Members of each consumer group this node coordinates (not Dead).");
    for (size_t i = 0; i < n; i++) {
        const rn_group_t *g = rn_gcoord_at(gc, i, &offsets);
        if (rn_group_state(g) == RN_GROUP_DEAD)
            continue;
        char *id = group_label(g);
        rn_metrics_label_t label = {"group", id};
        rn_metrics_emit_u64(w, &label, 1, rn_group_member_count(g));
        rn_free(id);
    }

    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_consumer_group_lag",
                           "High watermark minus the group's committed offset, per committed "
                           "partition whose topic exists and whose log is on this node.");
    for (size_t i = 0; i < n; i++) {
        const rn_group_t *g = rn_gcoord_at(gc, i, &offsets);
        if (rn_group_state(g) == RN_GROUP_DEAD)
            continue;
        char *id = group_label(g);
        for (size_t j = 0; j < rn_committed_count(offsets); j++) {
            const rn_offset_entry_t *o = rn_committed_at(offsets, j);
            int64_t hw;
            if (!group_hw(b, o->topic, o->topic_len, o->partition, &hw))
                continue;
            char index[16];
            snprintf(index, sizeof(index), "%d", o->partition);
            rn_metrics_label_t labels[] = {
                {"group", id}, {"topic", o->topic}, {"partition", index}};
            rn_metrics_emit_i64(w, labels, 3, hw - o->offset);
        }
        rn_free(id);
    }

    rn_metrics_emit_family(w, RN_METRICS_GAUGE, "runnel_consumer_group_lag_sum",
                           "Sum of runnel_consumer_group_lag over the group's partitions.");
    for (size_t i = 0; i < n; i++) {
        const rn_group_t *g = rn_gcoord_at(gc, i, &offsets);
        if (rn_group_state(g) == RN_GROUP_DEAD)
            continue;
        char *id = group_label(g);
        rn_metrics_label_t label = {"group", id};
        rn_metrics_emit_i64(w, &label, 1, group_lag_sum(b, offsets));
        rn_free(id);
    }
}

int rn_groups_init(rn_broker_t *b, char *err, size_t errlen)
{
    rn_gcoord_opts_t o = {
        .base = b->base,
        .cfg = b->cfg,
        .topics = b->topics,
        .offload = b->offload,
        .node_id = b->node_id,
        .storage = {storage_log, storage_appended, storage_replicated, storage_cancel_wait,
                    storage_leads, b},
        .join_done = join_done,
        .sync_done = sync_done,
        .arg = b,
    };
    b->gcoord = rn_gcoord_new(&o);
    rn_gcoord_load(b->gcoord);
    rn_metrics_add_collector(b->metrics, groups_collect, b);
    return 0;
}

void rn_groups_shutdown(rn_broker_t *b)
{
    rn_metrics_remove_collector(b->metrics, groups_collect, b);
    rn_gcoord_free(b->gcoord);
    b->gcoord = NULL;
}
