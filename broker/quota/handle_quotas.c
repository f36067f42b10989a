/* DescribeClientQuotas (48) and AlterClientQuotas (49): the quota store over the wire, with
 * Kafka's filters and validation errors (its ClientQuotaControlManager and
 * ClientQuotasImage are the reference). An alteration answers once the store is on disk. */
#include "acl/rn_authz.h"
#include "rn_handlers.h"
#include "quota/rn_quotas.h"

#include "rn_kerr.h"
#include "rn_messages.h"
#include "rn_str.h"

#include <math.h>
#include <string.h>

#define TYPE_USER   "user"
#define TYPE_CLIENT "client-id"
#define TYPE_IP     "ip"

enum { MATCH_EXACT = 0, MATCH_DEFAULT = 1, MATCH_SPECIFIED = 2 };

/* ---- DescribeClientQuotas ------------------------------------------------------------- */

/* A filter on one entity part: not filtered, exact name, default, or any value. */
typedef struct part_filter {
    bool used, any;
    rn_qpart_t kind;
    rn_str_t name;
} part_filter_t;

static bool part_matches(const part_filter_t *f, rn_qpart_t kind, rn_str_t name)
{
    if (!f->used)
        return true;
    if (kind == RN_QP_ABSENT)
        return false;
    if (f->any)
        return true;
    return f->kind == kind && (kind != RN_QP_NAME || rn_str_eq(f->name, name));
}

static int describe_error(rn_req_t *req, int16_t code, rn_str_t msg)
{
    rn_describe_client_quotas_response_t *resp = req->response;
    resp->error_code = code;
    resp->error_message = msg;
    resp->entries.count = -1;
    rn_req_count_error(req);
    return RN_HANDLED_SYNC;
}

static void entity_out(rn_req_t *req, rn_describe_client_quotas_entity_array_t *arr,
                       const rn_qentity_t *e)
{
    int n = (e->user_kind != RN_QP_ABSENT) + (e->client_kind != RN_QP_ABSENT), i = 0;
    rn_describe_client_quotas_entity_t *out =
        rn_describe_client_quotas_entity_array_alloc(&req->arena, arr, n);
    if (out == NULL)
        return;
    if (e->user_kind != RN_QP_ABSENT)
        out[i++] = (rn_describe_client_quotas_entity_t){
            rn_str(TYPE_USER), e->user_kind == RN_QP_NAME ? e->user : RN_STR_NULL};
    if (e->client_kind != RN_QP_ABSENT)
        out[i++] = (rn_describe_client_quotas_entity_t){
            rn_str(TYPE_CLIENT), e->client_kind == RN_QP_NAME ? e->client : RN_STR_NULL};
}

int rn_handle_describe_client_quotas(rn_req_t *req)
{
    const rn_describe_client_quotas_request_t *dreq = req->request;
    rn_describe_client_quotas_response_t *resp = req->response;
    const rn_qstore_t *st = rn_quotas_store(rn_req_broker(req)->quotas);
    part_filter_t user = {0}, client = {0};
    if (!rn_authz_cluster(req, RN_ACL_OP_DESCRIBE_CONFIGS))
        return describe_error(req, RN_KERR_CLUSTER_AUTHORIZATION_FAILED,
                              rn_str("Cluster authorization failed."));
    for (int32_t i = 0; i < dreq->components.count; i++) {
        const rn_describe_client_quotas_component_t *c = &dreq->components.items[i];
        part_filter_t *f;
        if (c->entity_type.len <= 0)
            return describe_error(req, RN_KERR_INVALID_REQUEST,
                                  rn_str("Invalid empty entity type."));
        if (rn_str_eq_cstr(c->entity_type, TYPE_USER))
            f = &user;
        else if (rn_str_eq_cstr(c->entity_type, TYPE_CLIENT))
            f = &client;
        else if (rn_str_eq_cstr(c->entity_type, TYPE_IP))
            return RN_HANDLED_SYNC; /* no ip quotas are ever set: nothing matches */
        else
            return describe_error(
                req, RN_KERR_UNSUPPORTED_VERSION,
                rn_req_strf(req, "Unsupported entity type %.*s", RN_STR_ARGS(c->entity_type)));
        if (f->used)
            return describe_error(req, RN_KERR_INVALID_REQUEST,
                                  rn_req_strf(req,
                                              "Entity type %.*s cannot appear more than once in "
                                              "the filter.",
                                              RN_STR_ARGS(c->entity_type)));
        f->used = true;
        bool null = rn_str_is_null(c->match);
        if (c->match_type == MATCH_EXACT && null)
            return describe_error(
                req, RN_KERR_INVALID_REQUEST,
                rn_str("Request specified MATCH_TYPE_EXACT, but set match string to null."));
        if ((c->match_type == MATCH_DEFAULT || c->match_type == MATCH_SPECIFIED) && !null)
            return describe_error(req, RN_KERR_INVALID_REQUEST,
                                  rn_req_strf(req,
                                              "Request specified %s, but also specified a match "
                                              "string.",
                                              c->match_type == MATCH_DEFAULT
                                                  ? "MATCH_TYPE_DEFAULT"
                                                  : "MATCH_TYPE_SPECIFIED"));
        if (c->match_type < MATCH_EXACT || c->match_type > MATCH_SPECIFIED)
            return describe_error(req, RN_KERR_INVALID_REQUEST,
                                  rn_req_strf(req, "Unknown match type %d", c->match_type));
        f->any = c->match_type == MATCH_SPECIFIED;
        f->kind = c->match_type == MATCH_EXACT ? RN_QP_NAME : RN_QP_DEFAULT;
        f->name = c->match;
    }
    size_t n = rn_qstore_count(st), m = 0;
    const rn_qentry_t **hits = rn_arena_alloc(&req->arena, (n + 1) * sizeof(*hits));
    if (hits == NULL)
        return RN_ENOMEM;
    int want = user.used + client.used;
    for (size_t i = 0; i < n; i++) {
        const rn_qentry_t *ent = rn_qstore_at(st, i);
        const rn_qentity_t *e = &ent->entity;
        int has = (e->user_kind != RN_QP_ABSENT) + (e->client_kind != RN_QP_ABSENT);
        if (dreq->strict && has != want)
            continue;
        if (part_matches(&user, e->user_kind, e->user) &&
            part_matches(&client, e->client_kind, e->client))
            hits[m++] = ent;
    }
    rn_describe_client_quotas_entry_t *out =
        rn_describe_client_quotas_entry_array_alloc(&req->arena, &resp->entries, (int32_t)m);
    if (out == NULL && m > 0)
        return RN_ENOMEM;
    for (size_t i = 0; i < m; i++) {
        entity_out(req, &out[i].entity, &hits[i]->entity);
        int nv = 0;
        for (int k = 0; k < RN_QK__COUNT; k++)
            nv += hits[i]->has[k];
        rn_describe_client_quotas_value_t *v =
            rn_describe_client_quotas_value_array_alloc(&req->arena, &out[i].values, nv);
        for (int k = 0, j = 0; v != NULL && k < RN_QK__COUNT; k++)
            if (hits[i]->has[k])
                v[j++] = (rn_describe_client_quotas_value_t){rn_str(rn_qstore_key_name(k)),
                                                             hits[i]->value[k]};
    }
    return RN_HANDLED_SYNC;
}
