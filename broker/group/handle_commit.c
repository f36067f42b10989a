/* Committed-offset handlers: OffsetCommit, OffsetFetch (v8+ with several groups)
 * and OffsetDelete (v0). Partitions of unknown topics are answered
 * UNKNOWN_TOPIC_OR_PARTITION here, as Kafka's request layer does; the rest goes to the group
 * coordinator (rn_gcoord), which appends commits to __consumer_offsets; an OffsetCommit is
 * parked until the commit is replicated (at once on a single node). */
#include "rn_handlers.h"
#include "acl/rn_authz.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "group/rn_gcoord.h"
#include "rn_kerr.h"
#include "rn_str.h"

#include <stdlib.h>
#include <string.h>

static rn_gcoord_t *gcoord(const rn_req_t *req)
{
    return rn_req_broker(req)->gcoord;
}

/* Whether topic-partition exists (UNKNOWN_TOPIC_OR_PARTITION otherwise). */
static bool known_partition(const rn_req_t *req, rn_str_t topic, int32_t partition)
{
    if (topic.len <= 0)
        return false;
    rn_topic_t *t = rn_topics_find(rn_req_broker(req)->topics, topic.ptr, (size_t)topic.len);
    return t != NULL && !t->deleted && partition >= 0 && partition < t->n_partitions;
}

/* ---- OffsetCommit ---- */

/* A commit's items, for the answer (req->user while it waits). */
typedef struct commit_state {
    rn_gcoord_commit_t *items;
} commit_state_t;

/* The response from the items' errors, in request order. */
static int commit_answer(rn_req_t *req, const rn_gcoord_commit_t *items)
{
    const rn_offset_commit_request_t *cr = req->request;
    rn_offset_commit_response_t *resp = req->response;
    int32_t nt = cr->topics.count > 0 ? cr->topics.count : 0;
    resp->throttle_time_ms = 0;
    rn_offset_commit_response_topic_t *ot =
        rn_offset_commit_response_topic_array_alloc(&req->arena, &resp->topics, nt);
    if (ot == NULL && nt > 0)
        return RN_ENOMEM;
    size_t k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const rn_offset_commit_request_topic_t *t = &cr->topics.items[i];
        int32_t np = t->partitions.count > 0 ? t->partitions.count : 0;
        ot[i].name = t->name;
        rn_offset_commit_response_partition_t *op =
            rn_offset_commit_response_partition_array_alloc(&req->arena, &ot[i].partitions, np);
        if (op == NULL && np > 0)
            return RN_ENOMEM;
        for (int32_t j = 0; j < np; j++, k++) {
            op[j].partition_index = items[k].partition;
            op[j].error_code = items[k].error;
        }
    }
    return 0;
}

static void commit_replicated(void *arg)
{
    rn_req_t *req = arg;
    const commit_state_t *st = req->user;
    if (commit_answer(req, st->items) != 0)
        rn_req_count_error(req); /* out of memory: the answer goes out without partitions */
    rn_req_complete(req);
}

static void commit_cancel(rn_req_t *req, void *arg)
{
    (void)arg;
    rn_gcoord_commit_cancel(gcoord(req), req);
}

int rn_handle_offset_commit(rn_req_t *req)
{
    const rn_offset_commit_request_t *cr = req->request;
    rn_str_t instance = req->api_version >= 7 ? cr->group_instance_id : RN_STR_NULL;
    bool group_ok = rn_authz_allowed(req, RN_ACL_OP_READ, RN_ACL_RES_GROUP, cr->group_id);
    int32_t nt = cr->topics.count > 0 ? cr->topics.count : 0;
    size_t total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += cr->topics.items[i].partitions.count > 0
                     ? (size_t)cr->topics.items[i].partitions.count
                     : 0;
    rn_gcoord_commit_t *items = rn_arena_calloc(&req->arena, total + 1, sizeof(*items));
    if (items == NULL)
        return RN_ENOMEM;
    size_t k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const rn_offset_commit_request_topic_t *t = &cr->topics.items[i];
        bool topic_ok = rn_authz_allowed(req, RN_ACL_OP_READ, RN_ACL_RES_TOPIC, t->name);
        for (int32_t j = 0; j < t->partitions.count; j++) {
            const rn_offset_commit_request_partition_t *p = &t->partitions.items[j];
            items[k] = (rn_gcoord_commit_t){
                .topic = t->name,
                .partition = p->partition_index,
                .offset = p->committed_offset,
                .leader_epoch = req->api_version >= 6 ? p->committed_leader_epoch : -1,
                .metadata = p->committed_metadata,
                .commit_timestamp = req->api_version == 1 ? p->commit_timestamp : -1,
                .error = !group_ok   ? RN_KERR_GROUP_AUTHORIZATION_FAILED
                         : !topic_ok ? RN_KERR_TOPIC_AUTHORIZATION_FAILED
                         : known_partition(req, t->name, p->partition_index)
                             ? RN_KERR_NONE
                             : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION,
            };
            k++;
        }
    }
    if (!group_ok) { /* Kafka: every partition says so, and nothing is committed */
        rn_req_count_error(req);
        int rc = commit_answer(req, items);
        return rc != 0 ? rc : RN_HANDLED_SYNC;
    }
    int64_t retention = req->api_version <= 4 ? cr->retention_time_ms : -1;
    commit_state_t *st = rn_arena_calloc(&req->arena, 1, sizeof(*st));
    if (st == NULL)
        return RN_ENOMEM;
    st->items = items;
    if (rn_gcoord_commit(gcoord(req), cr->group_id, cr->member_id, instance,
                         cr->generation_id_or_member_epoch, retention, items, k, commit_replicated,
                         req) == 1) {
        req->user = st;
        rn_req_park(req, commit_cancel, NULL);
        return RN_HANDLED_ASYNC;
    }
    int rc = commit_answer(req, items);
    return rc != 0 ? rc : RN_HANDLED_SYNC;
}

/* ---- OffsetFetch ---- */

/* One requested topic, as both request generations carry it. */
typedef struct fetch_topic {
    rn_str_t name;
    const rn_int32_array_t *partitions;
} fetch_topic_t;

/* One partition answer, as both response generations carry it. */
typedef struct fetch_part {
    int32_t partition;
    int64_t offset;
    int32_t leader_epoch;
    rn_str_t metadata;
    int16_t error;
} fetch_part_t;

typedef struct fetch_topic_out {
    rn_str_t name;
    fetch_part_t *parts;
    int32_t n;
} fetch_topic_out_t;

static void fill_part(rn_req_t *req, const rn_committed_t *offsets, rn_str_t topic,
                      int32_t partition, int16_t error, fetch_part_t *out)
{
    const rn_offset_entry_t *e =
        offsets != NULL && error == RN_KERR_NONE && topic.len >= 0
            ? rn_committed_get(offsets, topic.ptr ? topic.ptr : "", (size_t)topic.len, partition)
            : NULL;
    out->partition = partition;
    out->error = error;
    if (e == NULL) {
        /* Kafka: INVALID_OFFSET with no metadata for a partition without a commit. */
        out->offset = -1;
        out->leader_epoch = -1;
        out->metadata = (rn_str_t){"", 0};
        return;
    }
    out->offset = e->offset;
    out->leader_epoch = e->leader_epoch;
    /* An arena copy by length: the entry may change before the answer is sent, and the
     * metadata may hold NUL bytes that "%s" would cut at. */
    char *md = rn_arena_alloc(&req->arena, e->metadata_len + 1);
    out->metadata = md != NULL ? (rn_str_t){md, (int32_t)e->metadata_len} : RN_STR_NULL;
    if (md != NULL && e->metadata_len > 0)
        memcpy(md, e->metadata, e->metadata_len);
}

static int cmp_entry(const void *a, const void *b)
{
    const rn_offset_entry_t *x = *(const rn_offset_entry_t *const *)a;
    const rn_offset_entry_t *y = *(const rn_offset_entry_t *const *)b;
    int c = rn_str_cmp((rn_str_t){x->topic, (int32_t)x->topic_len},
                       (rn_str_t){y->topic, (int32_t)y->topic_len});
    return c != 0 ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

/* The answer for one group: requested topics (topics NULL = every committed offset).
 * Returns the group-level error and the topics in *out / *nout. */
static int fetch_group(rn_req_t *req, rn_str_t group_id, const fetch_topic_t *topics,
                       int32_t ntopics, fetch_topic_out_t **out, int32_t *nout)
{
    const rn_committed_t *offsets = NULL;
    int16_t err = rn_authz_allowed(req, RN_ACL_OP_DESCRIBE, RN_ACL_RES_GROUP, group_id)
                      ? rn_gcoord_offsets(gcoord(req), group_id, &offsets)
                      : RN_KERR_GROUP_AUTHORIZATION_FAILED;
    *out = NULL;
    *nout = 0;
    if (topics != NULL) {
        /* v1 has no group-level error: every requested partition carries it. */
        if (err != RN_KERR_NONE && req->api_version >= 2)
            return err;
        fetch_topic_out_t *o = rn_arena_calloc(&req->arena, (size_t)ntopics + 1, sizeof(*o));
        if (o == NULL)
            return RN_ENOMEM;
        for (int32_t i = 0; i < ntopics; i++) {
            int32_t np = topics[i].partitions->count > 0 ? topics[i].partitions->count : 0;
            o[i].name = topics[i].name;
            o[i].n = np;
            o[i].parts = rn_arena_calloc(&req->arena, (size_t)np + 1, sizeof(*o[i].parts));
            if (o[i].parts == NULL)
                return RN_ENOMEM;
            /* A topic the client may not DESCRIBE: TOPIC_AUTHORIZATION_FAILED, as Kafka. */
            int16_t terr =
                err == RN_KERR_NONE &&
                        !rn_authz_allowed(req, RN_ACL_OP_DESCRIBE, RN_ACL_RES_TOPIC, topics[i].name)
                    ? RN_KERR_TOPIC_AUTHORIZATION_FAILED
                    : err;
            for (int32_t j = 0; j < np; j++)
                fill_part(req, offsets, topics[i].name, topics[i].partitions->items[j], terr,
                          &o[i].parts[j]);
        }
        *out = o;
        *nout = ntopics;
        return err;
    }
    if (err != RN_KERR_NONE || offsets == NULL)
        return err;
    /* Every committed offset, grouped by topic in name order. */
    size_t n = rn_committed_count(offsets);
    const rn_offset_entry_t **es = rn_arena_calloc(&req->arena, n + 1, sizeof(*es));
    fetch_topic_out_t *o = rn_arena_calloc(&req->arena, n + 1, sizeof(*o));
    fetch_part_t *parts = rn_arena_calloc(&req->arena, n + 1, sizeof(*parts));
    if (es == NULL || o == NULL || parts == NULL)
        return RN_ENOMEM;
    for (size_t i = 0; i < n; i++)
        es[i] = rn_committed_at(offsets, i);
    qsort(es, n, sizeof(*es), cmp_entry);
    int32_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        rn_str_t name = {es[i]->topic, (int32_t)es[i]->topic_len};
        /* Every offset: only of the topics the client may DESCRIBE. */
        if (!rn_authz_allowed(req, RN_ACL_OP_DESCRIBE, RN_ACL_RES_TOPIC, name))
            continue;
        if (nt == 0 || !rn_str_eq(o[nt - 1].name, name)) {
            /* A copy: the entry may change before the answer is sent. */
            char *copy = rn_arena_alloc(&req->arena, (size_t)name.len + 1);
            if (copy == NULL)
                return RN_ENOMEM;
            memcpy(copy, name.ptr, (size_t)name.len);
            o[nt].name = (rn_str_t){copy, name.len};
            o[nt].parts = &parts[i];
            nt++;
        }
        fill_part(req, offsets, name, es[i]->partition, RN_KERR_NONE, &parts[i]);
        o[nt - 1].n++;
    }
    *out = o;
    *nout = nt;
    return RN_KERR_NONE;
}

/* v1-7: one group. */
static int offset_fetch_single(rn_req_t *req)
{
    const rn_offset_fetch_request_t *fr = req->request;
    rn_offset_fetch_response_t *resp = req->response;
    bool all = fr->topics.count < 0 && req->api_version >= 2;
    int32_t nt = fr->topics.count > 0 ? fr->topics.count : 0;
    fetch_topic_t *topics = rn_arena_calloc(&req->arena, (size_t)nt + 1, sizeof(*topics));
    if (topics == NULL)
        return RN_ENOMEM;
    for (int32_t i = 0; i < nt; i++) {
        topics[i].name = fr->topics.items[i].name;
        topics[i].partitions = &fr->topics.items[i].partition_indexes;
    }
    fetch_topic_out_t *out;
    int32_t nout;
    int rc = fetch_group(req, fr->group_id, all ? NULL : topics, nt, &out, &nout);
    if (rc < 0)
        return rc;
    resp->throttle_time_ms = 0;
    resp->error_code = (int16_t)rc;
    rn_offset_fetch_response_topic_t *ot =
        rn_offset_fetch_response_topic_array_alloc(&req->arena, &resp->topics, nout);
    if (ot == NULL && nout > 0)
        return RN_ENOMEM;
    for (int32_t i = 0; i < nout; i++) {
        ot[i].name = out[i].name;
        rn_offset_fetch_response_partition_t *op = rn_offset_fetch_response_partition_array_alloc(
            &req->arena, &ot[i].partitions, out[i].n);
        if (op == NULL && out[i].n > 0)
            return RN_ENOMEM;
        for (int32_t j = 0; j < out[i].n; j++) {
            const fetch_part_t *p = &out[i].parts[j];
            op[j].partition_index = p->partition;
            op[j].committed_offset = p->offset;
            op[j].committed_leader_epoch = p->leader_epoch;
            op[j].metadata = p->metadata;
            op[j].error_code = p->error;
        }
    }
    return RN_HANDLED_SYNC;
}

/* v8+: several groups. */
static int offset_fetch_groups(rn_req_t *req)
{
    const rn_offset_fetch_request_t *fr = req->request;
    rn_offset_fetch_response_t *resp = req->response;
    int32_t ng = fr->groups.count > 0 ? fr->groups.count : 0;
    rn_offset_fetch_response_group_t *og =
        rn_offset_fetch_response_group_array_alloc(&req->arena, &resp->groups, ng);
    if (og == NULL && ng > 0)
        return RN_ENOMEM;
    resp->throttle_time_ms = 0;
    for (int32_t g = 0; g < ng; g++) {
        const rn_offset_fetch_request_group_t *rg = &fr->groups.items[g];
        int32_t nt = rg->topics.count > 0 ? rg->topics.count : 0;
        fetch_topic_t *topics = rn_arena_calloc(&req->arena, (size_t)nt + 1, sizeof(*topics));
        if (topics == NULL)
            return RN_ENOMEM;
        for (int32_t i = 0; i < nt; i++) {
            topics[i].name = rg->topics.items[i].name;
            topics[i].partitions = &rg->topics.items[i].partition_indexes;
        }
        fetch_topic_out_t *out;
        int32_t nout;
        int rc =
            fetch_group(req, rg->group_id, rg->topics.count < 0 ? NULL : topics, nt, &out, &nout);
        if (rc < 0)
            return rc;
        og[g].group_id = rg->group_id;
        og[g].error_code = (int16_t)rc;
        rn_offset_fetch_response_topics_t *ot =
            rn_offset_fetch_response_topics_array_alloc(&req->arena, &og[g].topics, nout);
        if (ot == NULL && nout > 0)
            return RN_ENOMEM;
        for (int32_t i = 0; i < nout; i++) {
            ot[i].name = out[i].name;
            rn_offset_fetch_response_partitions_t *op =
                rn_offset_fetch_response_partitions_array_alloc(&req->arena, &ot[i].partitions,
                                                                out[i].n);
            if (op == NULL && out[i].n > 0)
                return RN_ENOMEM;
            for (int32_t j = 0; j < out[i].n; j++) {
                const fetch_part_t *p = &out[i].parts[j];
                op[j].partition_index = p->partition;
                op[j].committed_offset = p->offset;
                op[j].committed_leader_epoch = p->leader_epoch;
                op[j].metadata = p->metadata;
                op[j].error_code = p->error;
            }
        }
    }
    return RN_HANDLED_SYNC;
}

int rn_handle_offset_fetch(rn_req_t *req)
{
    return req->api_version >= 8 ? offset_fetch_groups(req) : offset_fetch_single(req);
}

/* ---- OffsetDelete ---- */

int rn_handle_offset_delete(rn_req_t *req)
{
    const rn_offset_delete_request_t *dr = req->request;
    rn_offset_delete_response_t *resp = req->response;
    if (!rn_authz_allowed(req, RN_ACL_OP_DELETE, RN_ACL_RES_GROUP, dr->group_id)) {
        resp->error_code = RN_KERR_GROUP_AUTHORIZATION_FAILED;
        rn_offset_delete_response_topic_array_alloc(&req->arena, &resp->topics, 0);
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    int32_t nt = dr->topics.count > 0 ? dr->topics.count : 0;
    size_t total = 0;
    for (int32_t i = 0; i < nt; i++)
        total += dr->topics.items[i].partitions.count > 0
                     ? (size_t)dr->topics.items[i].partitions.count
                     : 0;
    rn_gcoord_tp_t *items = rn_arena_calloc(&req->arena, total + 1, sizeof(*items));
    if (items == NULL)
        return RN_ENOMEM;
    size_t k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const rn_offset_delete_request_topic_t *t = &dr->topics.items[i];
        for (int32_t j = 0; j < t->partitions.count; j++, k++) {
            int32_t p = t->partitions.items[j].partition_index;
            items[k] = (rn_gcoord_tp_t){
                t->name, p,
                !rn_authz_allowed(req, RN_ACL_OP_READ, RN_ACL_RES_TOPIC, t->name)
                    ? RN_KERR_TOPIC_AUTHORIZATION_FAILED
                : known_partition(req, t->name, p) ? RN_KERR_NONE
                                                   : RN_KERR_UNKNOWN_TOPIC_OR_PARTITION};
        }
    }
    resp->throttle_time_ms = 0;
    resp->error_code = rn_gcoord_delete_offsets(gcoord(req), dr->group_id, items, k);
    if (resp->error_code != RN_KERR_NONE) {
        rn_offset_delete_response_topic_array_alloc(&req->arena, &resp->topics, 0);
        return RN_HANDLED_SYNC;
    }
    rn_offset_delete_response_topic_t *ot =
        rn_offset_delete_response_topic_array_alloc(&req->arena, &resp->topics, nt);
    if (ot == NULL && nt > 0)
        return RN_ENOMEM;
    k = 0;
    for (int32_t i = 0; i < nt; i++) {
        const rn_offset_delete_request_topic_t *t = &dr->topics.items[i];
        int32_t np = t->partitions.count > 0 ? t->partitions.count : 0;
        ot[i].name = t->name;
        rn_offset_delete_response_partition_t *op =
            rn_offset_delete_response_partition_array_alloc(&req->arena, &ot[i].partitions, np);
        if (op == NULL && np > 0)
            return RN_ENOMEM;
        for (int32_t j = 0; j < np; j++, k++) {
            op[j].partition_index = items[k].partition;
            op[j].error_code = items[k].error;
        }
    }
    return RN_HANDLED_SYNC;
}
