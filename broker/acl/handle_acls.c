/* DescribeAcls, CreateAcls and DeleteAcls. ACLs live in the metadata image (AccessControlEntry
 * records), so DescribeAcls answers from this node's image and the changes are the active
 * controller's: another node forwards them (after authorizing its client), the controller
 * writes the records through its one-at-a-time queue and answers once they are committed and
 * applied, as Kafka's AclControlManager does. Without an authorizer every answer is
 * SECURITY_DISABLED, as Kafka's. */
#include "acl/rn_acl.h"
#include "acl/rn_authz.h"
#include "controller/rn_cluster.h"
#include "rn_handlers.h"

#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_str.h"

#include <string.h>

#define NO_AUTHORIZER  "No Authorizer is configured."
#define NOT_AUTHORIZED "Cluster authorization failed."

/* The message for a failed controller write. */
static int16_t write_error(int rc)
{
    return rc == RN_ENOTLEADER ? RN_KERR_NOT_CONTROLLER : RN_KERR_UNKNOWN_SERVER_ERROR;
}

/* ---- DescribeAcls ---- */

static rn_acl_filter_t describe_filter(const rn_describe_acls_request_t *dreq)
{
    return (rn_acl_filter_t){
        dreq->resource_type_filter, dreq->pattern_type_filter,  dreq->operation,
        dreq->permission_type,      dreq->resource_name_filter, dreq->principal_filter,
        dreq->host_filter};
}

int rn_handle_describe_acls(rn_req_t *req)
{
    const rn_describe_acls_request_t *dreq = req->request;
    rn_describe_acls_response_t *resp = req->response;
    rn_broker_t *b = rn_req_broker(req);
    const char *why = NULL;
    rn_acl_filter_t f = describe_filter(dreq);
    resp->error_message = RN_STR_NULL; /* Kafka: null unless there is an error */
    if (!rn_authz_on(req)) {
        resp->error_code = RN_KERR_SECURITY_DISABLED;
        why = NO_AUTHORIZER;
    } else if (!rn_authz_cluster(req, RN_ACL_OP_DESCRIBE)) {
        resp->error_code = RN_KERR_CLUSTER_AUTHORIZATION_FAILED;
        why = NOT_AUTHORIZED;
    } else {
        resp->error_code = rn_acl_check_filter(&f, &why);
    }
    if (resp->error_code != RN_KERR_NONE) {
        resp->error_message = rn_req_strf(req, "%s", why);
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    const rn_acls_t *acls = rn_mimage_acls(rn_cluster_image(b->cluster));
    size_t n = rn_acls_count(acls);
    /* Matching bindings grouped by resource pattern, in the order first seen. */
    const rn_acl_t **hits = rn_arena_alloc(&req->arena, (n ? n : 1) * sizeof(*hits));
    int32_t *group = rn_arena_alloc(&req->arena, (n ? n : 1) * sizeof(*group));
    if (hits == NULL || group == NULL)
        return RN_ENOMEM;
    int32_t nhits = 0, ngroups = 0;
    for (size_t i = 0; i < n; i++) {
        const rn_acl_t *a = rn_acls_at(acls, i);
        if (!rn_acl_filter_matches(&f, a))
            continue;
        group[nhits] = -1;
        for (int32_t j = 0; j < nhits && group[nhits] < 0; j++)
            if (hits[j]->resource_type == a->resource_type &&
                hits[j]->pattern_type == a->pattern_type &&
                strcmp(hits[j]->resource_name, a->resource_name) == 0)
                group[nhits] = group[j];
        if (group[nhits] < 0)
            group[nhits] = ngroups++;
        hits[nhits++] = a;
    }
    rn_describe_acls_resource_t *res =
        rn_describe_acls_resource_array_alloc(&req->arena, &resp->resources, ngroups);
    if (res == NULL && ngroups > 0)
        return RN_ENOMEM;
    for (int32_t g = 0; g < ngroups; g++) {
        int32_t count = 0, first = -1;
        for (int32_t j = 0; j < nhits; j++)
            if (group[j] == g) {
                count++;
                first = first < 0 ? j : first;
            }
        const rn_acl_t *a = hits[first];
        res[g].resource_type = a->resource_type;
        res[g].resource_name = rn_req_strf(req, "%s", a->resource_name);
        res[g].pattern_type = a->pattern_type;
        rn_acl_description_t *d = rn_acl_description_array_alloc(&req->arena, &res[g].acls, count);
        if (d == NULL)
            return RN_ENOMEM;
        for (int32_t j = first, k = 0; j < nhits; j++) {
            if (group[j] != g)
                continue;
            d[k].principal = rn_req_strf(req, "%s", hits[j]->principal);
            d[k].host = rn_req_strf(req, "%s", hits[j]->host);
            d[k].operation = hits[j]->operation;
            d[k].permission_type = hits[j]->permission;
            k++;
        }
    }
    return RN_HANDLED_SYNC;
}

/* ---- changes through the controller ---- */

typedef struct acl_change {
    rn_cluster_op_t op;
    rn_req_t *req;
} acl_change_t;

static void change_done(rn_cluster_op_t *op, int rc);

/* Queue the change with the controller; the request is answered from change_done. */
static int submit(rn_req_t *req,
                  void (*decide)(rn_cluster_op_t *, rn_cluster_t *, int64_t, rn_mrecs_t *))
{
    acl_change_t *ch = rn_arena_alloc(&req->arena, sizeof(*ch));
    if (ch == NULL)
        return RN_ENOMEM;
    ch->req = req;
    ch->op = (rn_cluster_op_t){NULL, decide, change_done, ch};
    rn_req_park(req, NULL, NULL);
    rn_cluster_submit(rn_req_broker(req)->cluster, &ch->op);
    return RN_HANDLED_ASYNC;
}

static void fail_results(rn_req_t *req, int16_t code)
{
    rn_str_t msg = rn_req_strf(req, "%s", rn_kerr_name(code));
    if (req->api_key == RN_API_CREATE_ACLS) {
        rn_create_acls_response_t *resp = req->response;
        for (int32_t i = 0; i < resp->results.count; i++)
            if (resp->results.items[i].error_code == RN_KERR_NONE) {
                resp->results.items[i].error_code = code;
                resp->results.items[i].error_message = msg;
            }
    } else {
        rn_delete_acls_response_t *resp = req->response;
        for (int32_t i = 0; i < resp->filter_results.count; i++) {
            rn_delete_acls_filter_result_t *r = &resp->filter_results.items[i];
            if (r->error_code == RN_KERR_NONE) {
                r->error_code = code;
                r->error_message = msg;
                r->matching_acls.count = 0;
            }
        }
    }
}

static void change_done(rn_cluster_op_t *op, int rc)
{
    acl_change_t *ch = op->arg;
    rn_req_t *req = ch->req;
    if (rc != 0) {
        rn_broker_t *b = rn_req_broker(req);
        RN_WARN("acl", "node %d: peer %s: %s corr %d: the controller could not write: %s",
                b->node_id, req->peer, req->api->name, req->correlation_id, rn_strerror(rc));
        fail_results(req, write_error(rc));
        rn_req_count_error(req);
    }
    rn_req_complete(req);
}

/* ---- CreateAcls ---- */

static void create_decide(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset,
                          rn_mrecs_t *out)
{
    (void)next_offset;
    acl_change_t *ch = op->arg;
    const rn_create_acls_request_t *creq = ch->req->request;
    rn_create_acls_response_t *resp = ch->req->response;
    const rn_acls_t *acls = rn_mimage_acls(rn_cluster_image(c));
    int from = out->n;
    for (int32_t i = 0; i < resp->results.count; i++) {
        const rn_acl_creation_t *cr = &creq->creations.items[i];
        if (resp->results.items[i].error_code != RN_KERR_NONE ||
            rn_acls_find(acls, cr->resource_type, cr->resource_name, cr->resource_pattern_type,
                         cr->principal, cr->host, cr->operation, cr->permission_type) != NULL)
            continue; /* Kafka stores a binding once; asking again succeeds */
        bool dup = false;
        for (int32_t j = 0; j < i && !dup; j++) {
            const rn_acl_creation_t *o = &creq->creations.items[j];
            dup = resp->results.items[j].error_code == RN_KERR_NONE &&
                  o->resource_type == cr->resource_type &&
                  o->resource_pattern_type == cr->resource_pattern_type &&
                  o->operation == cr->operation && o->permission_type == cr->permission_type &&
                  rn_str_eq(o->resource_name, cr->resource_name) &&
                  rn_str_eq(o->principal, cr->principal) && rn_str_eq(o->host, cr->host);
        }
        if (dup)
            continue;
        rn_mrec_t rec;
        rn_mrec_init(&rec, RN_MREC_ACCESS_CONTROL_ENTRY_RECORD);
        rn_access_control_entry_record_t *r = &rec.body.access_control_entry;
        if (rn_uuid_random(&r->id) != 0) {
            out->err = out->err ? out->err : RN_EIO;
            return;
        }
        r->resource_type = cr->resource_type;
        r->resource_name = cr->resource_name;
        r->pattern_type = cr->resource_pattern_type;
        r->principal = cr->principal;
        r->host = cr->host;
        r->operation = cr->operation;
        r->permission_type = cr->permission_type;
        rn_mrecs_add(out, &rec);
    }
    rn_mrecs_wrap_transaction(out, from, "CreateAcls");
}

/* Why CreateAcls and DeleteAcls change nothing for req (with *why), or RN_KERR_NONE: no
 * authorizer, or no ALTER on the cluster. */
static int16_t write_refused(rn_req_t *req, const char **why)
{
    if (!rn_authz_on(req)) {
        *why = NO_AUTHORIZER;
        return RN_KERR_SECURITY_DISABLED;
    }
    if (!rn_authz_cluster(req, RN_ACL_OP_ALTER)) {
        *why = NOT_AUTHORIZED;
        return RN_KERR_CLUSTER_AUTHORIZATION_FAILED;
    }
    return RN_KERR_NONE;
}

int rn_handle_create_acls(rn_req_t *req)
{
    const rn_create_acls_request_t *creq = req->request;
    rn_create_acls_response_t *resp = req->response;
    int32_t n = creq->creations.count > 0 ? creq->creations.count : 0;
    rn_acl_creation_result_t *res =
        rn_acl_creation_result_array_alloc(&req->arena, &resp->results, n);
    if (res == NULL && n > 0)
        return RN_ENOMEM;
    const char *why = NULL;
    int16_t all = write_refused(req, &why);
    if (all != RN_KERR_NONE) {
        for (int32_t i = 0; i < n; i++) {
            res[i].error_code = all;
            res[i].error_message = rn_req_strf(req, "%s", why);
        }
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    int fwd = rn_cluster_forward(req); /* only the controller writes records */
    if (fwd != 0)
        return fwd;
    int valid = 0;
    for (int32_t i = 0; i < n; i++) {
        const rn_acl_creation_t *cr = &creq->creations.items[i];
        res[i].error_message = RN_STR_NULL;
        res[i].error_code =
            rn_acl_check_binding(cr->resource_type, cr->resource_name, cr->resource_pattern_type,
                                 cr->principal, cr->host, cr->operation, cr->permission_type, &why);
        if (res[i].error_code != RN_KERR_NONE)
            res[i].error_message = rn_req_strf(req, "%s", why);
        else
            valid++;
    }
    if (valid == 0)
        return RN_HANDLED_SYNC;
    return submit(req, create_decide);
}

/* ---- DeleteAcls ---- */

static rn_acl_filter_t delete_filter(const rn_delete_acls_filter_t *df)
{
    return (rn_acl_filter_t){
        df->resource_type_filter, df->pattern_type_filter, df->operation,  df->permission_type,
        df->resource_name_filter, df->principal_filter,    df->host_filter};
}

static void delete_decide(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset,
                          rn_mrecs_t *out)
{
    (void)next_offset;
    acl_change_t *ch = op->arg;
    rn_req_t *req = ch->req;
    const rn_delete_acls_request_t *dreq = req->request;
    rn_delete_acls_response_t *resp = req->response;
    const rn_acls_t *acls = rn_mimage_acls(rn_cluster_image(c));
    size_t n = rn_acls_count(acls);
    bool *gone = rn_arena_alloc(&req->arena, n ? n : 1);
    if (gone == NULL) {
        out->err = RN_ENOMEM;
        return;
    }
    memset(gone, 0, n ? n : 1);
    int from = out->n;
    for (int32_t i = 0; i < resp->filter_results.count; i++) {
        rn_delete_acls_filter_result_t *fr = &resp->filter_results.items[i];
        if (fr->error_code != RN_KERR_NONE)
            continue;
        rn_acl_filter_t f = delete_filter(&dreq->filters.items[i]);
        int32_t count = 0;
        for (size_t k = 0; k < n; k++)
            count += rn_acl_filter_matches(&f, rn_acls_at(acls, k));
        rn_delete_acls_matching_acl_t *m =
            rn_delete_acls_matching_acl_array_alloc(&req->arena, &fr->matching_acls, count);
        if (m == NULL && count > 0) {
            out->err = RN_ENOMEM;
            return;
        }
        for (size_t k = 0, j = 0; k < n; k++) {
            const rn_acl_t *a = rn_acls_at(acls, k);
            if (!rn_acl_filter_matches(&f, a))
                continue;
            m[j].error_message = RN_STR_NULL;
            m[j].resource_type = a->resource_type;
            m[j].resource_name = rn_req_strf(req, "%s", a->resource_name);
            m[j].pattern_type = a->pattern_type;
            m[j].principal = rn_req_strf(req, "%s", a->principal);
            m[j].host = rn_req_strf(req, "%s", a->host);
            m[j].operation = a->operation;
            m[j].permission_type = a->permission;
            j++;
            if (gone[k])
                continue;
            gone[k] = true;
            rn_mrec_t rec;
            rn_mrec_init(&rec, RN_MREC_REMOVE_ACCESS_CONTROL_ENTRY_RECORD);
            rec.body.remove_access_control_entry.id = a->id;
            rn_mrecs_add(out, &rec);
        }
    }
    rn_mrecs_wrap_transaction(out, from, "DeleteAcls");
}

int rn_handle_delete_acls(rn_req_t *req)
{
    const rn_delete_acls_request_t *dreq = req->request;
    rn_delete_acls_response_t *resp = req->response;
    int32_t n = dreq->filters.count > 0 ? dreq->filters.count : 0;
    rn_delete_acls_filter_result_t *res =
        rn_delete_acls_filter_result_array_alloc(&req->arena, &resp->filter_results, n);
    if (res == NULL && n > 0)
        return RN_ENOMEM;
    const char *why = NULL;
    int16_t all = write_refused(req, &why);
    for (int32_t i = 0; i < n; i++) {
        res[i].matching_acls.count = 0;
        res[i].error_code = all;
        if (all != RN_KERR_NONE)
            res[i].error_message = rn_req_strf(req, "%s", why);
    }
    if (all != RN_KERR_NONE) {
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    int fwd = rn_cluster_forward(req);
    if (fwd != 0)
        return fwd;
    int valid = 0;
    for (int32_t i = 0; i < n; i++) {
        rn_acl_filter_t f = delete_filter(&dreq->filters.items[i]);
        res[i].error_message = RN_STR_NULL;
        res[i].error_code = rn_acl_check_filter(&f, &why);
        if (res[i].error_code != RN_KERR_NONE)
            res[i].error_message = rn_req_strf(req, "%s", why);
        else
            valid++;
    }
    if (valid == 0)
        return RN_HANDLED_SYNC;
    return submit(req, delete_decide);
}
