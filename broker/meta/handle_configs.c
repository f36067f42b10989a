/* Handlers for configuration: DescribeConfigs (topic and broker resources, with sources,
 * synonyms, types and documentation as Kafka reports them), AlterConfigs (replace a
 * topic's overrides) and IncrementalAlterConfigs (SET/DELETE/APPEND/SUBTRACT). Topic
 * changes are persisted before the answer; broker settings are static (file and flags). */
#include "acl/rn_authz.h"
#include "rn_handlers.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_str.h"
#include "controller/rn_cluster.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* Kafka's ConfigResource types. */
enum { RES_TOPIC = 2, RES_BROKER = 4, RES_BROKER_LOGGER = 8 };
/* IncrementalAlterConfigs operations. */
enum { OP_SET = 0, OP_DELETE = 1, OP_APPEND = 2, OP_SUBTRACT = 3 };

/* True when keys is null or empty (all, as Kafka reads both) or lists name. */
static bool wanted(const rn_str_array_t *keys, const char *name)
{
    if (keys->count <= 0)
        return true;
    for (int32_t i = 0; i < keys->count; i++)
        if (rn_str_eq_cstr(keys->items[i], name))
            return true;
    return false;
}

static int describe_topic(rn_req_t *req, const rn_topic_t *topic,
                          const rn_describe_configs_resource_t *r,
                          rn_describe_configs_result_t *res)
{
    rn_broker_t *b = rn_req_broker(req);
    const rn_describe_configs_request_t *dreq = req->request;
    rn_describe_configs_resource_result_t *items =
        rn_describe_configs_resource_result_array_alloc(&req->arena, &res->configs, RN_TC__COUNT);
    if (items == NULL)
        return RN_ENOMEM;
    int32_t n = 0;
    for (int k = 0; k < RN_TC__COUNT; k++) {
        const rn_topicconf_def_t *def = rn_topicconf_def((rn_tc_key_t)k);
        if (!wanted(&r->configuration_keys, def->name))
            continue;
        rn_describe_configs_resource_result_t *e = &items[n++];
        char buf[32];
        rn_tc_source_t source;
        const char *value =
            rn_topicconf_value(&topic->conf, b->cfg, (rn_tc_key_t)k, &source, buf, sizeof(buf));
        e->name = rn_str(def->name);
        e->value = rn_req_strf(req, "%s", value);
        e->is_default = source == RN_TC_SOURCE_DEFAULT;
        e->config_source = (int8_t)source;
        e->config_type = rn_topicconf_kafka_type(def->type);
        e->documentation = dreq->include_documentation ? rn_str(def->doc) : RN_STR_NULL;
        if (dreq->include_synonyms) {
            rn_tc_synonym_t syn[RN_TC_MAX_SYNONYMS + 2];
            char bufs[RN_TC_MAX_SYNONYMS + 2][32];
            int ns = rn_topicconf_synonyms(&topic->conf, b->cfg, (rn_tc_key_t)k, syn, bufs);
            rn_describe_configs_synonym_t *s =
                rn_describe_configs_synonym_array_alloc(&req->arena, &e->synonyms, ns);
            if (s == NULL && ns > 0)
                return RN_ENOMEM;
            for (int i = 0; i < ns; i++) {
                s[i].name = rn_str(syn[i].name);
                s[i].value = rn_req_strf(req, "%s", syn[i].value);
                s[i].source = (int8_t)syn[i].source;
            }
        }
    }
    res->configs.count = n;
    return 0;
}

static int describe_broker(rn_req_t *req, const rn_describe_configs_resource_t *r,
                           rn_describe_configs_result_t *res)
{
    rn_broker_t *b = rn_req_broker(req);
    const rn_describe_configs_request_t *dreq = req->request;
    rn_describe_configs_resource_result_t *items =
        rn_describe_configs_resource_result_array_alloc(&req->arena, &res->configs, RN_CFG__COUNT);
    if (items == NULL)
        return RN_ENOMEM;
    int32_t n = 0;
    for (int k = 0; k < RN_CFG__COUNT; k++) {
        const rn_config_def_t *def = rn_config_def((rn_cfg_key_t)k);
        if (!wanted(&r->configuration_keys, def->name))
            continue;
        const rn_config_value_t *val = &b->cfg->v[k];
        rn_describe_configs_resource_result_t *e = &items[n++];
        char buf[32];
        const char *value = rn_config_text(b->cfg, (rn_cfg_key_t)k, buf, sizeof(buf));
        e->name = rn_str(def->name);
        e->value = value != NULL ? rn_req_strf(req, "%s", value) : RN_STR_NULL;
        e->is_sensitive = (def->flags & RN_CFGF_SENSITIVE) != 0;
        if (e->is_sensitive)
            e->value = RN_STR_NULL; /* a secret never leaves the node, as in Kafka */
        e->read_only = true;        /* runnel has no dynamic broker configs */
        e->is_default = !val->set;
        e->config_source = (int8_t)(val->set ? RN_TC_SOURCE_STATIC_BROKER : RN_TC_SOURCE_DEFAULT);
        e->config_type = rn_topicconf_kafka_type(def->type);
        e->documentation = dreq->include_documentation ? rn_str(def->doc) : RN_STR_NULL;
        if (def->flags & RN_CFGF_SENSITIVE) { /* as Kafka: a password is never shown */
            e->value = RN_STR_NULL;
            e->is_sensitive = true;
        }
        if (dreq->include_synonyms && !(def->flags & RN_CFGF_SENSITIVE)) {
            int ns = (val->set ? 1 : 0) + (def->def != NULL ? 1 : 0);
            rn_describe_configs_synonym_t *s =
                rn_describe_configs_synonym_array_alloc(&req->arena, &e->synonyms, ns);
            if (s == NULL && ns > 0)
                return RN_ENOMEM;
            int i = 0;
            if (val->set)
                s[i++] = (rn_describe_configs_synonym_t){rn_str(def->name), e->value,
                                                         RN_TC_SOURCE_STATIC_BROKER};
            if (def->def != NULL)
                s[i++] = (rn_describe_configs_synonym_t){rn_str(def->name), rn_str(def->def),
                                                         RN_TC_SOURCE_DEFAULT};
        }
    }
    res->configs.count = n;
    return 0;
}

/* Check a BROKER resource name: empty (cluster defaults) or this node's id. */
static bool own_broker(rn_req_t *req, rn_str_t name, bool *empty)
{
    rn_broker_t *b = rn_req_broker(req);
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", b->node_id);
    *empty = name.len <= 0;
    return *empty || rn_str_eq_cstr(name, buf);
}

/* Kafka's rule for configs: a topic's need op on the topic, a broker's (and its loggers')
 * op on the cluster. RN_KERR_NONE, or the *_AUTHORIZATION_FAILED code to answer. */
static int16_t config_denied(const rn_req_t *req, int8_t resource_type, rn_str_t name, int8_t op)
{
    if (!rn_authz_on(req))
        return RN_KERR_NONE;
    if (resource_type == RES_TOPIC)
        return rn_authz_allowed(req, op, RN_ACL_RES_TOPIC, name)
                   ? RN_KERR_NONE
                   : RN_KERR_TOPIC_AUTHORIZATION_FAILED;
    if (resource_type == RES_BROKER || resource_type == RES_BROKER_LOGGER)
        return rn_authz_cluster(req, op) ? RN_KERR_NONE : RN_KERR_CLUSTER_AUTHORIZATION_FAILED;
    return RN_KERR_NONE; /* answered INVALID_REQUEST by the handler */
}

/* A node about to forward an alter whose client may not change every resource answers it
 * here: the refused resources with their code, the others NOT_CONTROLLER (see
 * handle_topics.c's forward_denied). 0: go on. */
static int alter_forward_denied(rn_req_t *req, const int8_t *types, const rn_str_t *names,
                                size_t stride, int32_t n)
{
    if (!rn_authz_on(req) || !rn_cluster_forwards(req))
        return 0;
    int32_t refused = 0;
    for (int32_t i = 0; i < n; i++) {
        const int8_t *t = (const int8_t *)((const char *)types + stride * (size_t)i);
        const rn_str_t *nm = (const rn_str_t *)((const char *)names + stride * (size_t)i);
        refused += config_denied(req, *t, *nm, RN_ACL_OP_ALTER_CONFIGS) != RN_KERR_NONE;
    }
    if (refused == 0)
        return 0;
    if (rn_cluster_answer_all(req, RN_KERR_NOT_CONTROLLER,
                              "Send this request to the controller.") != 0)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const int8_t *t = (const int8_t *)((const char *)types + stride * (size_t)i);
        const rn_str_t *nm = (const rn_str_t *)((const char *)names + stride * (size_t)i);
        int16_t code = config_denied(req, *t, *nm, RN_ACL_OP_ALTER_CONFIGS);
        if (code == RN_KERR_NONE)
            continue;
        if (req->api_key == RN_API_ALTER_CONFIGS)
            ((rn_alter_configs_response_t *)req->response)->responses.items[i].error_code = code;
        else
            ((rn_incremental_alter_configs_response_t *)req->response)
                ->responses.items[i]
                .error_code = code;
    }
    rn_req_count_error(req);
    return RN_HANDLED_SYNC;
}

int rn_handle_describe_configs(rn_req_t *req)
{
    rn_broker_t *b = rn_req_broker(req);
    const rn_describe_configs_request_t *dreq = req->request;
    rn_describe_configs_response_t *resp = req->response;
    int32_t n = dreq->resources.count > 0 ? dreq->resources.count : 0;
    rn_describe_configs_result_t *results =
        rn_describe_configs_result_array_alloc(&req->arena, &resp->results, n);
    if (results == NULL && n > 0)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const rn_describe_configs_resource_t *r = &dreq->resources.items[i];
        rn_describe_configs_result_t *res = &results[i];
        res->resource_type = r->resource_type;
        res->resource_name = r->resource_name;
        res->error_code =
            config_denied(req, r->resource_type, r->resource_name, RN_ACL_OP_DESCRIBE_CONFIGS);
        if (res->error_code != RN_KERR_NONE) {
            res->error_message = rn_req_strf(req, "Authorization failed.");
            continue;
        }
        int rc = 0;
        bool empty;
        if (r->resource_type == RES_TOPIC) {
            const rn_topic_t *topic =
                rn_topics_find(b->topics, r->resource_name.ptr ? r->resource_name.ptr : "",
                               r->resource_name.len > 0 ? (size_t)r->resource_name.len : 0);
            char why[256];
            if (topic == NULL &&
                rn_topics_valid_name(r->resource_name.ptr ? r->resource_name.ptr : "",
                                     r->resource_name.len > 0 ? (size_t)r->resource_name.len : 0,
                                     why, sizeof(why)) != 0) {
                res->error_code = RN_KERR_INVALID_TOPIC_EXCEPTION; /* as Kafka */
                res->error_message = rn_req_strf(req, "%s", why);
                continue;
            }
            if (topic == NULL) {
                res->error_code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
                res->error_message =
                    rn_req_strf(req, "Topic %.*s does not exist.", RN_STR_ARGS(r->resource_name));
                continue;
            }
            rc = describe_topic(req, topic, r, res);
        } else if (r->resource_type == RES_BROKER) {
            if (!own_broker(req, r->resource_name, &empty)) {
                res->error_code = RN_KERR_INVALID_REQUEST;
                res->error_message = rn_req_strf(
                    req, "Unexpected broker id, expected %d or empty string, but received %.*s",
                    b->node_id, RN_STR_ARGS(r->resource_name));
                continue;
            }
            if (!empty) /* no cluster-wide dynamic defaults exist */
                rc = describe_broker(req, r, res);
        } else {
            res->error_code = RN_KERR_INVALID_REQUEST;
            res->error_message =
                rn_req_strf(req,
                            "runnel describes TOPIC (2) and BROKER (4) resources, not "
                            "resource type %d.",
                            r->resource_type);
            continue;
        }
        if (rc != 0)
            return rc;
    }
    return RN_HANDLED_SYNC;
}

/* ---- altering ---- */

/* Common resource checks for both alter APIs; NULL topic = error already set. */
static rn_topic_t *alter_target(rn_req_t *req, int8_t type, rn_str_t name, int16_t *code,
                                rn_str_t *message)
{
    rn_broker_t *b = rn_req_broker(req);
    if (type == RES_BROKER || type == RES_BROKER_LOGGER) {
        *code = RN_KERR_INVALID_REQUEST;
        *message = rn_req_strf(req, "runneld's broker settings are static: change the config "
                                    "file or flags and restart (log.level is re-read on SIGHUP).");
        return NULL;
    }
    if (type != RES_TOPIC) {
        *code = RN_KERR_INVALID_REQUEST;
        *message = rn_req_strf(req, "Unsupported resource type %d.", type);
        return NULL;
    }
    rn_topic_t *topic =
        rn_topics_find(b->topics, name.ptr ? name.ptr : "", name.len > 0 ? (size_t)name.len : 0);
    if (topic == NULL) {
        *code = RN_KERR_UNKNOWN_TOPIC_OR_PARTITION;
        *message = rn_req_strf(req, "Topic %.*s does not exist.", RN_STR_ARGS(name));
    }
    return topic;
}

/* Install a validated set of overrides. */
static void alter_apply(rn_req_t *req, rn_topic_t *topic, rn_topicconf_t *conf)
{
    rn_topicconf_free(&topic->conf);
    topic->conf = *conf;
    memset(conf, 0, sizeof(*conf));
    rn_topics_config_changed(rn_req_broker(req)->topics, topic);
}

int rn_handle_alter_configs(rn_req_t *req)
{
    const rn_alter_configs_request_t *fwd_req = req->request;
    bool topics_only = true;
    for (int32_t i = 0; fwd_req != NULL && i < fwd_req->resources.count; i++)
        topics_only &= fwd_req->resources.items[i].resource_type == RES_TOPIC;
    if (topics_only && fwd_req != NULL && fwd_req->resources.count > 0) {
        const rn_alter_configs_resource_t *r0 = &fwd_req->resources.items[0];
        int denied = alter_forward_denied(req, &r0->resource_type, &r0->resource_name, sizeof(*r0),
                                          fwd_req->resources.count);
        if (denied != 0)
            return denied;
    }
    int fwd = topics_only ? rn_cluster_forward(req) : 0; /* topic configs are records */
    if (fwd != 0)
        return fwd;
    const rn_alter_configs_request_t *areq = req->request;
    rn_alter_configs_response_t *resp = req->response;
    int32_t n = areq->resources.count > 0 ? areq->resources.count : 0;
    rn_alter_configs_resource_response_t *results =
        rn_alter_configs_resource_response_array_alloc(&req->arena, &resp->responses, n);
    rn__admin_state_t *st = rn__admin_state(req, n);
    if ((results == NULL && n > 0) || st == NULL)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const rn_alter_configs_resource_t *r = &areq->resources.items[i];
        rn_alter_configs_resource_response_t *res = &results[i];
        res->resource_type = r->resource_type;
        res->resource_name = r->resource_name;
        res->error_message = RN_STR_NULL; /* Kafka: null unless there is an error */
        res->error_code =
            config_denied(req, r->resource_type, r->resource_name, RN_ACL_OP_ALTER_CONFIGS);
        if (res->error_code != RN_KERR_NONE) {
            res->error_message = rn_req_strf(req, "Authorization failed.");
            continue;
        }
        rn_topic_t *topic = alter_target(req, r->resource_type, r->resource_name, &res->error_code,
                                         &res->error_message);
        if (topic == NULL)
            continue;
        /* AlterConfigs replaces the whole set: what is not named goes back to default. */
        rn_topicconf_t conf = {0};
        for (int32_t c = 0; c < r->configs.count && res->error_code == 0; c++) {
            const rn_alterable_config_t *e = &r->configs.items[c];
            const char *value = e->value.len >= 0 ? rn_req_cstr(req, e->value) : NULL;
            char why[512];
            rn_tc_key_t key;
            const char *name = e->name.ptr ? e->name.ptr : "";
            size_t nlen = e->name.len > 0 ? (size_t)e->name.len : 0;
            if (rn_topicconf_check(name, nlen, value, &key, why, sizeof(why)) != 0 ||
                rn_topicconf_check_bytes(name, nlen, e->value.ptr,
                                         e->value.len > 0 ? (size_t)e->value.len : 0, why,
                                         sizeof(why)) != 0) {
                res->error_code = value == NULL ? RN_KERR_INVALID_REQUEST : RN_KERR_INVALID_CONFIG;
                res->error_message = rn_req_strf(req, "%s", why);
                break;
            }
            rn_topicconf_set(&conf, key, value);
        }
        if (res->error_code == 0 && !areq->validate_only) {
            alter_apply(req, topic, &conf);
            rn__admin_track(st, &res->error_code, &res->error_message);
        }
        rn_topicconf_free(&conf);
    }
    return rn__admin_finish(req, st, false);
}

/* APPEND/SUBTRACT on a list value: items of change added (absent ones) or removed. */
static char *list_edit(const char *current, const char *change, bool append)
{
    size_t cap = strlen(current) + strlen(change) + 2;
    char *out = rn_xcalloc(1, cap);
    char *cur = rn_xstrdup(current), *save = NULL;
    /* Start from the current items, minus those subtracted. */
    for (char *item = strtok_r(cur, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        bool drop = false;
        if (!append) {
            char *chg = rn_xstrdup(change), *s2 = NULL;
            for (char *c = strtok_r(chg, ",", &s2); c != NULL; c = strtok_r(NULL, ",", &s2))
                drop |= strcmp(c, item) == 0;
            rn_free(chg);
        }
        if (!drop) {
            if (*out)
                strcat(out, ",");
            strcat(out, item);
        }
    }
    if (append) {
        char *chg = rn_xstrdup(change), *s2 = NULL;
        for (char *c = strtok_r(chg, ",", &s2); c != NULL; c = strtok_r(NULL, ",", &s2)) {
            bool present = false;
            char *again = rn_xstrdup(out), *s3 = NULL;
            for (char *o = strtok_r(again, ",", &s3); o != NULL; o = strtok_r(NULL, ",", &s3))
                present |= strcmp(o, c) == 0;
            rn_free(again);
            if (!present) {
                if (*out)
                    strcat(out, ",");
                strcat(out, c);
            }
        }
        rn_free(chg);
    }
    rn_free(cur);
    return out;
}

/* Apply one IncrementalAlterConfigs entry to conf; false with code/message set. */
static bool incremental_one(rn_req_t *req, const rn_incremental_alterable_config_t *e,
                            rn_topicconf_t *conf, int16_t *code, rn_str_t *message)
{
    rn_broker_t *b = rn_req_broker(req);
    char why[512];
    const char *name = e->name.ptr ? e->name.ptr : "";
    size_t len = e->name.len > 0 ? (size_t)e->name.len : 0;
    int k = rn_topicconf_find(name, len);
    if (k < 0) {
        *code = RN_KERR_INVALID_CONFIG;
        *message = rn_req_strf(req, "Unknown topic config name: %.*s", (int)len, name);
        return false;
    }
    const rn_topicconf_def_t *def = rn_topicconf_def((rn_tc_key_t)k);
    const char *value = e->value.len >= 0 ? rn_req_cstr(req, e->value) : NULL;
    char *edited = NULL;
    if (e->config_operation != OP_DELETE &&
        rn_topicconf_check_bytes(name, len, e->value.ptr,
                                 e->value.len > 0 ? (size_t)e->value.len : 0, why,
                                 sizeof(why)) != 0) {
        *code = RN_KERR_INVALID_CONFIG;
        *message = rn_req_strf(req, "%s", why);
        return false;
    }
    switch (e->config_operation) {
    case OP_DELETE: rn_topicconf_set(conf, (rn_tc_key_t)k, NULL); return true;
    case OP_SET: break;
    case OP_APPEND:
    case OP_SUBTRACT: {
        if (def->type != RN_CFG_LIST) {
            *code = RN_KERR_INVALID_CONFIG;
            *message =
                rn_req_strf(req, "Config value %s is not allowed for config key: %s",
                            e->config_operation == OP_APPEND ? "append" : "subtract", def->name);
            return false;
        }
        char buf[32];
        const char *current =
            rn_topicconf_value(conf, b->cfg, (rn_tc_key_t)k, NULL, buf, sizeof(buf));
        edited = list_edit(current, value ? value : "", e->config_operation == OP_APPEND);
        value = edited;
        break;
    }
    default:
        *code = RN_KERR_INVALID_REQUEST;
        *message = rn_req_strf(req, "Unknown config operation %d.", e->config_operation);
        return false;
    }
    rn_tc_key_t key;
    bool ok = rn_topicconf_check(name, len, value, &key, why, sizeof(why)) == 0;
    if (ok) {
        rn_topicconf_set(conf, key, value);
    } else {
        *code = value == NULL ? RN_KERR_INVALID_REQUEST : RN_KERR_INVALID_CONFIG;
        *message = rn_req_strf(req, "%s", why);
    }
    rn_free(edited);
    return ok;
}

int rn_handle_incremental_alter_configs(rn_req_t *req)
{
    const rn_incremental_alter_configs_request_t *fwd_req = req->request;
    bool topics_only = true;
    for (int32_t i = 0; fwd_req != NULL && i < fwd_req->resources.count; i++)
        topics_only &= fwd_req->resources.items[i].resource_type == RES_TOPIC;
    if (topics_only && fwd_req != NULL && fwd_req->resources.count > 0) {
        const rn_incremental_alter_configs_resource_t *r0 = &fwd_req->resources.items[0];
        int denied = alter_forward_denied(req, &r0->resource_type, &r0->resource_name, sizeof(*r0),
                                          fwd_req->resources.count);
        if (denied != 0)
            return denied;
    }
    int fwd = topics_only ? rn_cluster_forward(req) : 0; /* topic configs are records */
    if (fwd != 0)
        return fwd;
    const rn_incremental_alter_configs_request_t *areq = req->request;
    rn_incremental_alter_configs_response_t *resp = req->response;
    int32_t n = areq->resources.count > 0 ? areq->resources.count : 0;
    rn_incremental_alter_configs_resource_response_t *results =
        rn_incremental_alter_configs_resource_response_array_alloc(&req->arena, &resp->responses,
                                                                   n);
    rn__admin_state_t *st = rn__admin_state(req, n);
    if ((results == NULL && n > 0) || st == NULL)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        const rn_incremental_alter_configs_resource_t *r = &areq->resources.items[i];
        rn_incremental_alter_configs_resource_response_t *res = &results[i];
        res->resource_type = r->resource_type;
        res->resource_name = r->resource_name;
        res->error_message = RN_STR_NULL; /* Kafka: null unless there is an error */
        res->error_code =
            config_denied(req, r->resource_type, r->resource_name, RN_ACL_OP_ALTER_CONFIGS);
        if (res->error_code != RN_KERR_NONE) {
            res->error_message = rn_req_strf(req, "Authorization failed.");
            continue;
        }
        rn_topic_t *topic = alter_target(req, r->resource_type, r->resource_name, &res->error_code,
                                         &res->error_message);
        if (topic == NULL)
            continue;
        for (int32_t c = 0; c < r->configs.count; c++)
            for (int32_t d = 0; d < c; d++)
                if (rn_str_eq(r->configs.items[c].name, r->configs.items[d].name)) {
                    res->error_code = RN_KERR_INVALID_REQUEST;
                    res->error_message = rn_req_strf(req, "Error due to duplicate config keys");
                }
        rn_topicconf_t conf = {0};
        rn_topicconf_copy(&conf, &topic->conf);
        for (int32_t c = 0; c < r->configs.count && res->error_code == 0; c++)
            incremental_one(req, &r->configs.items[c], &conf, &res->error_code,
                            &res->error_message);
        if (res->error_code == 0 && !areq->validate_only) {
            alter_apply(req, topic, &conf);
            rn__admin_track(st, &res->error_code, &res->error_message);
        }
        rn_topicconf_free(&conf);
    }
    return rn__admin_finish(req, st, false);
}
