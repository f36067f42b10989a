/* AlterClientQuotas (49): validate each entry as Kafka's ClientQuotaControlManager does
 * (an entry's ops all apply or none does), apply the valid ones unless validate_only, and
 * answer once the store is on disk. */
#include "acl/rn_authz.h"
#include "rn_handlers.h"
#include "quota/rn_quotas.h"

#include "rn_kerr.h"
#include "rn_messages.h"
#include "rn_str.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Parse an entity into e (names are slices of the request, whole: Kafka takes names holding
 * NUL bytes and keeps them apart from their prefixes). NULL, or the reason it is invalid. */
static rn_str_t parse_entity(rn_req_t *req, const rn_alter_client_quotas_entity_array_t *arr,
                             rn_qentity_t *e, bool *bad)
{
    *bad = true;
    *e = (rn_qentity_t){0};
    if (arr->count <= 0)
        return rn_str("Invalid empty client quota entity");
    for (int32_t i = 0; i < arr->count; i++) {
        const rn_alter_client_quotas_entity_t *ent = &arr->items[i];
        rn_qpart_t *kind;
        rn_str_t *name;
        if (rn_str_eq_cstr(ent->entity_type, "user"))
            kind = &e->user_kind, name = &e->user;
        else if (rn_str_eq_cstr(ent->entity_type, "client-id"))
            kind = &e->client_kind, name = &e->client;
        else
            return rn_req_strf(
                req, "Unhandled client quota entity type: %.*s%s", RN_STR_ARGS(ent->entity_type),
                rn_str_eq_cstr(ent->entity_type, "ip") ? " (runnel has no ip quotas yet)" : "");
        if (*kind != RN_QP_ABSENT)
            return rn_req_strf(req, "Invalid client quota entity, duplicate entity entry %.*s",
                               RN_STR_ARGS(ent->entity_type));
        if (ent->entity_name.len == 0)
            return rn_req_strf(req, "Empty %.*s not supported", RN_STR_ARGS(ent->entity_type));
        *kind = rn_str_is_null(ent->entity_name) ? RN_QP_DEFAULT : RN_QP_NAME;
        *name = *kind == RN_QP_NAME ? ent->entity_name : RN_STR_NULL;
    }
    *bad = false;
    return RN_STR_NULL;
}

/* Validate an op that sets a value (Kafka's validateQuotaKeyValue). */
static rn_str_t check_value(rn_req_t *req, const rn_alter_client_quotas_op_t *op, int key)
{
    if (key < 0)
        return rn_req_strf(req, "Invalid configuration key %.*s", RN_STR_ARGS(op->key));
    if (!(op->value > 0.0))
        return rn_req_strf(req, "Quota %.*s must be greater than 0", RN_STR_ARGS(op->key));
    if (rn_qstore_key_integral((rn_qkey_t)key)) {
        if (op->value > (double)INT64_MAX)
            return rn_req_strf(req, "Proposed value for %.*s is too large for a LONG.",
                               RN_STR_ARGS(op->key));
        if (fabs(fmod(op->value, 1.0)) > 1e-6)
            return rn_req_strf(req, "%.*s cannot be a fractional value.", RN_STR_ARGS(op->key));
    }
    return RN_STR_NULL;
}

/* Validate an entry's ops; NULL when they may all apply. */
static rn_str_t check_ops(rn_req_t *req, const rn_alter_client_quotas_entry_t *in)
{
    for (int32_t i = 0; i < in->ops.count; i++) {
        const rn_alter_client_quotas_op_t *op = &in->ops.items[i];
        for (int32_t j = 0; j < i; j++)
            if (rn_str_eq(in->ops.items[j].key, op->key))
                return rn_req_strf(req,
                                   "Duplicate quota key %.*s not updating quota for this "
                                   "entity",
                                   RN_STR_ARGS(op->key));
        if (op->remove)
            continue;
        rn_str_t why = check_value(req, op, rn_qstore_key(op->key.ptr, (size_t)op->key.len));
        if (!rn_str_is_null(why))
            return why;
    }
    return RN_STR_NULL;
}

static void apply(rn_qstore_t *st, const rn_qentity_t *e, const rn_alter_client_quotas_entry_t *in)
{
    for (int32_t i = 0; i < in->ops.count; i++) {
        const rn_alter_client_quotas_op_t *op = &in->ops.items[i];
        int key = op->key.len > 0 ? rn_qstore_key(op->key.ptr, (size_t)op->key.len) : -1;
        if (key < 0)
            continue; /* removing a key nobody can set: nothing to do */
        if (op->remove)
            rn_qstore_remove(st, e, (rn_qkey_t)key);
        else
            rn_qstore_set(st, e, (rn_qkey_t)key, op->value);
    }
}

static void persisted(void *arg, int rc)
{
    rn_req_t *req = arg;
    rn_alter_client_quotas_response_t *resp = req->response;
    for (int32_t i = 0; rc != 0 && i < resp->entries.count; i++) {
        if (resp->entries.items[i].error_code != 0)
            continue;
        resp->entries.items[i].error_code = RN_KERR_UNKNOWN_SERVER_ERROR;
        resp->entries.items[i].error_message = rn_str("the quotas could not be written to disk");
    }
    rn_req_complete(req);
}

int rn_handle_alter_client_quotas(rn_req_t *req)
{
    const rn_alter_client_quotas_request_t *areq = req->request;
    rn_alter_client_quotas_response_t *resp = req->response;
    rn_quotas_t *q = rn_req_broker(req)->quotas;
    int32_t n = areq->entries.count > 0 ? areq->entries.count : 0;
    rn_alter_client_quotas_result_t *out =
        rn_alter_client_quotas_result_array_alloc(&req->arena, &resp->entries, n);
    if (out == NULL && n > 0)
        return RN_ENOMEM;
    bool changed = false;
    bool allowed = rn_authz_cluster(req, RN_ACL_OP_ALTER_CONFIGS);
    for (int32_t i = 0; i < n; i++) {
        const rn_alter_client_quotas_entry_t *in = &areq->entries.items[i];
        /* Echo the entity as sent. */
        rn_alter_client_quotas_result_entity_t *ents =
            rn_alter_client_quotas_result_entity_array_alloc(&req->arena, &out[i].entity,
                                                             in->entity.count);
        for (int32_t j = 0; ents != NULL && j < in->entity.count; j++)
            ents[j] = (rn_alter_client_quotas_result_entity_t){in->entity.items[j].entity_type,
                                                               in->entity.items[j].entity_name};
        if (!allowed) {
            out[i].error_code = RN_KERR_CLUSTER_AUTHORIZATION_FAILED;
            out[i].error_message = rn_str("Cluster authorization failed.");
            continue;
        }
        rn_qentity_t e;
        bool bad;
        rn_str_t why = parse_entity(req, &in->entity, &e, &bad);
        if (!bad)
            why = check_ops(req, in);
        if (!rn_str_is_null(why)) {
            out[i].error_code = RN_KERR_INVALID_REQUEST;
            out[i].error_message = why;
            rn_req_count_error(req);
            continue;
        }
        if (!areq->validate_only && in->ops.count > 0) {
            apply(rn_quotas_store(q), &e, in);
            changed = true;
        }
    }
    if (!changed)
        return RN_HANDLED_SYNC;
    rn_req_park(req, NULL, NULL); /* the write completes it even if the client left */
    rn_quotas_persist(q, persisted, req);
    return RN_HANDLED_ASYNC;
}
