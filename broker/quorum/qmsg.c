/* qmsg.c: the quorum RPCs <-> raft messages, entries <-> batches (see rn_qmsg.h). */
#include "quorum/rn_qmsg.h"
#include "quorum/rn_qlog.h"

#include "rn_alloc.h"
#include "rn_batch.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_reader.h"
#include "rn_records.h"

#include <string.h>

const rn_uuid_t rn_qmsg_topic_id = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}};

static const rn_str_t topic_name = {RN_QLOG_TOPIC, (int32_t)sizeof(RN_QLOG_TOPIC) - 1};

static rn_str_t str_of(const char *s)
{
    return s != NULL ? (rn_str_t){s, (int32_t)strlen(s)} : (rn_str_t){NULL, -1};
}

static bool is_topic(rn_str_t s)
{
    return s.len == topic_name.len && memcmp(s.ptr, topic_name.ptr, (size_t)s.len) == 0;
}

/* A request's ClusterId: null is accepted (Kafka: old senders), another id is not. */
static bool cluster_ok(rn_str_t got, const char *want)
{
    if (got.len < 0 || want == NULL)
        return true;
    return (size_t)got.len == strlen(want) && memcmp(got.ptr, want, (size_t)got.len) == 0;
}

int16_t rn_qmsg_api_key(rn_raft_msg_type_t type)
{
    switch (type) {
    case RN_RAFT_VOTE_REQ:
    case RN_RAFT_VOTE_RESP: return RN_API_VOTE;
    case RN_RAFT_BEGIN_EPOCH_REQ:
    case RN_RAFT_BEGIN_EPOCH_RESP: return RN_API_BEGIN_QUORUM_EPOCH;
    case RN_RAFT_END_EPOCH_REQ:
    case RN_RAFT_END_EPOCH_RESP: return RN_API_END_QUORUM_EPOCH;
    case RN_RAFT_FETCH_REQ:
    case RN_RAFT_FETCH_RESP: return RN_API_FETCH;
    case RN_RAFT_FETCH_SNAPSHOT_REQ:
    case RN_RAFT_FETCH_SNAPSHOT_RESP: return RN_API_FETCH_SNAPSHOT;
    }
    return -1;
}

/* ---- requests out ---- */

static int vote_req(const rn_raft_msg_t *msg, const char *cid, rn_arena_t *a, rn_vote_request_t *r)
{
    rn_vote_request_init(r);
    r->cluster_id = str_of(cid);
    r->voter_id = msg->to;
    rn_vote_req_topic_data_t *t = rn_vote_req_topic_data_array_alloc(a, &r->topics, 1);
    rn_vote_req_partition_data_t *p =
        t ? rn_vote_req_partition_data_array_alloc(a, &t->partitions, 1) : NULL;
    if (p == NULL)
        return RN_ENOMEM;
    t->topic_name = topic_name;
    p->partition_index = 0;
    p->candidate_epoch = msg->epoch;
    p->candidate_id = msg->from;
    p->last_offset_epoch = msg->u.vote_req.last_offset_epoch;
    p->last_offset = msg->u.vote_req.last_offset;
    p->pre_vote = msg->u.vote_req.pre_vote;
    return 0;
}

static int begin_req(const rn_raft_msg_t *msg, const char *cid, rn_arena_t *a,
                     rn_begin_quorum_epoch_request_t *r)
{
    rn_begin_quorum_epoch_request_init(r);
    r->cluster_id = str_of(cid);
    r->voter_id = msg->to;
    rn_begin_quorum_epoch_req_topic_data_t *t =
        rn_begin_quorum_epoch_req_topic_data_array_alloc(a, &r->topics, 1);
    rn_begin_quorum_epoch_req_partition_data_t *p =
        t ? rn_begin_quorum_epoch_req_partition_data_array_alloc(a, &t->partitions, 1) : NULL;
    if (p == NULL)
        return RN_ENOMEM;
    t->topic_name = topic_name;
    p->leader_id = msg->from;
    p->leader_epoch = msg->epoch;
    r->leader_endpoints.count = 0;
    return 0;
}

static int end_req(const rn_raft_msg_t *msg, const char *cid, int16_t version, rn_arena_t *a,
                   rn_end_quorum_epoch_request_t *r)
{
    rn_end_quorum_epoch_request_init(r);
    r->cluster_id = str_of(cid);
    rn_end_quorum_epoch_req_topic_data_t *t =
        rn_end_quorum_epoch_req_topic_data_array_alloc(a, &r->topics, 1);
    rn_end_quorum_epoch_req_partition_data_t *p =
        t ? rn_end_quorum_epoch_req_partition_data_array_alloc(a, &t->partitions, 1) : NULL;
    if (p == NULL)
        return RN_ENOMEM;
    t->topic_name = topic_name;
    p->leader_id = msg->from;
    p->leader_epoch = msg->epoch;
    int n = msg->u.end_epoch.n_successors;
    if (version == 0) {
        p->preferred_successors.items = rn_arena_calloc(a, (size_t)n + 1, sizeof(int32_t));
        if (p->preferred_successors.items == NULL)
            return RN_ENOMEM;
        p->preferred_successors.count = n;
        memcpy(p->preferred_successors.items, msg->u.end_epoch.successors,
               (size_t)n * sizeof(int32_t));
        return 0;
    }
    rn_end_quorum_epoch_req_replica_info_t *c =
        rn_end_quorum_epoch_req_replica_info_array_alloc(a, &p->preferred_candidates, n);
    if (c == NULL && n > 0)
        return RN_ENOMEM;
    for (int i = 0; i < n; i++)
        c[i].candidate_id = msg->u.end_epoch.successors[i];
    r->leader_endpoints.count = 0;
    return 0;
}

static int fetch_req(const rn_raft_msg_t *msg, const char *cid, int16_t version, rn_arena_t *a,
                     rn_fetch_request_t *r)
{
    rn_fetch_request_init(r);
    r->cluster_id = str_of(cid);
    r->replica_id = msg->from;
    r->replica_state.replica_id = msg->from;
    r->max_wait_ms = RN_QMSG_FETCH_MAX_WAIT_MS;
    r->min_bytes = 0;
    r->max_bytes = RN_QMSG_FETCH_MAX_BYTES;
    r->forgotten_topics_data.count = 0;
    rn_fetch_topic_t *t = rn_fetch_topic_array_alloc(a, &r->topics, 1);
    rn_fetch_partition_t *p = t ? rn_fetch_partition_array_alloc(a, &t->partitions, 1) : NULL;
    if (p == NULL)
        return RN_ENOMEM;
    if (version >= 13)
        t->topic_id = rn_qmsg_topic_id;
    else
        t->topic = topic_name;
    p->partition = 0;
    p->current_leader_epoch = msg->epoch;
    p->fetch_offset = msg->u.fetch_req.fetch_offset;
    p->last_fetched_epoch = msg->u.fetch_req.last_fetched_epoch;
    p->partition_max_bytes = RN_QMSG_FETCH_MAX_BYTES;
    return 0;
}

static int snap_req(const rn_raft_msg_t *msg, const char *cid, int64_t position, rn_arena_t *a,
                    rn_fetch_snapshot_request_t *r)
{
    rn_fetch_snapshot_request_init(r);
    r->cluster_id = str_of(cid);
    r->replica_id = msg->from;
    r->max_bytes = RN_QMSG_FETCH_MAX_BYTES;
    rn_fetch_snapshot_req_topic_snapshot_t *t =
        rn_fetch_snapshot_req_topic_snapshot_array_alloc(a, &r->topics, 1);
    rn_fetch_snapshot_req_partition_snapshot_t *p =
        t ? rn_fetch_snapshot_req_partition_snapshot_array_alloc(a, &t->partitions, 1) : NULL;
    if (p == NULL)
        return RN_ENOMEM;
    t->name = topic_name;
    p->current_leader_epoch = msg->epoch;
    p->snapshot_id.end_offset = msg->u.snap_req.id.end_offset;
    p->snapshot_id.epoch = msg->u.snap_req.id.epoch;
    p->position = position;
    return 0;
}

int rn_qmsg_request_encode(const rn_raft_msg_t *msg, const char *cluster_id, int16_t version,
                           int64_t snap_position, rn_arena_t *arena, rn_qmsg_request_t *out)
{
    switch (msg->type) {
    case RN_RAFT_VOTE_REQ: return vote_req(msg, cluster_id, arena, &out->vote);
    case RN_RAFT_BEGIN_EPOCH_REQ: return begin_req(msg, cluster_id, arena, &out->begin);
    case RN_RAFT_END_EPOCH_REQ: return end_req(msg, cluster_id, version, arena, &out->end);
    case RN_RAFT_FETCH_REQ: return fetch_req(msg, cluster_id, version, arena, &out->fetch);
    case RN_RAFT_FETCH_SNAPSHOT_REQ:
        return snap_req(msg, cluster_id, snap_position, arena, &out->snap);
    default: return RN_EINVAL;
    }
}

/* ---- requests in ---- */

/* The one partition of a quorum request must be __cluster_metadata-0: *tname and *pidx are
 * the topic and partition the request names, their counts checked by the caller. */
static int check_target(int32_t ntopics, int32_t nparts, bool name_ok, int32_t pidx)
{
    return ntopics == 1 && nparts == 1 && name_ok && pidx == 0 ? 0 : RN_KERR_INVALID_REQUEST;
}

int rn_qmsg_request_decode(int16_t api_key, int16_t version, const void *req,
                           const char *cluster_id, int32_t self, rn_raft_msg_t *out,
                           int64_t *snap_position)
{
    memset(out, 0, sizeof(*out));
    out->to = self;
    out->leader_id = RN_RAFT_NONE;
    int rc;
    switch (api_key) {
    case RN_API_VOTE: {
        const rn_vote_request_t *r = req;
        if (!cluster_ok(r->cluster_id, cluster_id))
            return RN_KERR_INCONSISTENT_CLUSTER_ID;
        const rn_vote_req_topic_data_t *t = r->topics.count == 1 ? r->topics.items : NULL;
        if ((rc = check_target(r->topics.count, t ? t->partitions.count : 0,
                               t && is_topic(t->topic_name),
                               t ? t->partitions.items[0].partition_index : 0)) != 0)
            return rc;
        const rn_vote_req_partition_data_t *p = t->partitions.items;
        out->type = RN_RAFT_VOTE_REQ;
        out->from = p->candidate_id;
        out->epoch = p->candidate_epoch;
        out->u.vote_req.last_offset = p->last_offset;
        out->u.vote_req.last_offset_epoch = p->last_offset_epoch;
        out->u.vote_req.pre_vote = version >= 2 && p->pre_vote;
        return 0;
    }
    case RN_API_BEGIN_QUORUM_EPOCH: {
        const rn_begin_quorum_epoch_request_t *r = req;
        if (!cluster_ok(r->cluster_id, cluster_id))
            return RN_KERR_INCONSISTENT_CLUSTER_ID;
        const rn_begin_quorum_epoch_req_topic_data_t *t =
            r->topics.count == 1 ? r->topics.items : NULL;
        if ((rc = check_target(r->topics.count, t ? t->partitions.count : 0,
                               t && is_topic(t->topic_name),
                               t ? t->partitions.items[0].partition_index : 0)) != 0)
            return rc;
        out->type = RN_RAFT_BEGIN_EPOCH_REQ;
        out->from = out->leader_id = t->partitions.items[0].leader_id;
        out->epoch = t->partitions.items[0].leader_epoch;
        return 0;
    }
    case RN_API_END_QUORUM_EPOCH: {
        const rn_end_quorum_epoch_request_t *r = req;
        if (!cluster_ok(r->cluster_id, cluster_id))
            return RN_KERR_INCONSISTENT_CLUSTER_ID;
        const rn_end_quorum_epoch_req_topic_data_t *t =
            r->topics.count == 1 ? r->topics.items : NULL;
        if ((rc = check_target(r->topics.count, t ? t->partitions.count : 0,
                               t && is_topic(t->topic_name),
                               t ? t->partitions.items[0].partition_index : 0)) != 0)
            return rc;
        const rn_end_quorum_epoch_req_partition_data_t *p = t->partitions.items;
        out->type = RN_RAFT_END_EPOCH_REQ;
        out->from = out->leader_id = p->leader_id;
        out->epoch = p->leader_epoch;
        int n = version == 0 ? p->preferred_successors.count : p->preferred_candidates.count;
        for (int i = 0; i < n && i < RN_RAFT_MAX_VOTERS; i++)
            out->u.end_epoch.successors[out->u.end_epoch.n_successors++] =
                version == 0 ? p->preferred_successors.items[i]
                             : p->preferred_candidates.items[i].candidate_id;
        return 0;
    }
    case RN_API_FETCH: {
        const rn_fetch_request_t *r = req;
        if (!cluster_ok(r->cluster_id, cluster_id))
            return RN_KERR_INCONSISTENT_CLUSTER_ID;
        const rn_fetch_topic_t *t = r->topics.count == 1 ? r->topics.items : NULL;
        bool named = t && (version >= 13 ? rn_uuid_equal(&t->topic_id, &rn_qmsg_topic_id)
                                         : is_topic(t->topic));
        if ((rc = check_target(r->topics.count, t ? t->partitions.count : 0, named,
                               t ? t->partitions.items[0].partition : 0)) != 0)
            return rc;
        const rn_fetch_partition_t *p = t->partitions.items;
        out->type = RN_RAFT_FETCH_REQ;
        out->from = version >= 15 ? r->replica_state.replica_id : r->replica_id;
        if (out->from < 0)
            return RN_KERR_INVALID_REQUEST;
        out->epoch = p->current_leader_epoch;
        out->leader_id = self; /* the follower fetches from the node it takes for leader */
        out->u.fetch_req.fetch_offset = p->fetch_offset;
        out->u.fetch_req.last_fetched_epoch = p->last_fetched_epoch;
        return 0;
    }
    case RN_API_FETCH_SNAPSHOT: {
        const rn_fetch_snapshot_request_t *r = req;
        if (!cluster_ok(r->cluster_id, cluster_id))
            return RN_KERR_INCONSISTENT_CLUSTER_ID;
        const rn_fetch_snapshot_req_topic_snapshot_t *t =
            r->topics.count == 1 ? r->topics.items : NULL;
        if ((rc = check_target(r->topics.count, t ? t->partitions.count : 0, t && is_topic(t->name),
                               t ? t->partitions.items[0].partition : 0)) != 0)
            return rc;
        const rn_fetch_snapshot_req_partition_snapshot_t *p = t->partitions.items;
        out->type = RN_RAFT_FETCH_SNAPSHOT_REQ;
        out->from = r->replica_id;
        out->epoch = p->current_leader_epoch;
        out->leader_id = self;
        out->u.snap_req.id.end_offset = p->snapshot_id.end_offset;
        out->u.snap_req.id.epoch = p->snapshot_id.epoch;
        *snap_position = p->position;
        return p->position < 0 ? RN_KERR_INVALID_REQUEST : 0;
    }
    default: return RN_KERR_INVALID_REQUEST;
    }
}
