/* runnel topic create|list|describe|delete|alter-config|add-partitions (see rn_cli.h). */
#include "rn_cli.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_str.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define RESOURCE_TOPIC              2
#define CONFIG_SOURCE_DYNAMIC_TOPIC 1

enum { OPT_IF_NOT_EXISTS = 0x100, OPT_IF_EXISTS, OPT_VALIDATE_ONLY, OPT_INTERNAL, OPT_ALL_CONFIGS };

/* Print a per-item Kafka error with the broker's message and the hint. */
static int item_error(rn_cli_t *cli, const char *what, const char *name, int16_t code, rn_str_t msg)
{
    if (code == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION && strcmp(what, "topic") == 0)
        return rn_cli_topic_not_found(cli, name);
    return rn_cli_fail(cli, rn_cli_kerr_status(code), "%s \"%s\": %s%s%.*s%s", what, name,
                       rn_kerr_name(code), msg.len > 0 ? ": " : "", RN_STR_ARGS(msg),
                       rn_cli_kerr_hint(code));
}

/* The connection admin requests go to: the controller named by Metadata (KRaft brokers
 * forward to the real controller), or the bootstrap broker. */
static rn_conn_t *admin_conn(rn_cli_t *cli, int *st)
{
    rn_metadata_response_t *md;
    *st = rn_cli_metadata(cli, NULL, 0, false, &md);
    if (*st != 0)
        return NULL;
    if (md->controller_id >= 0) {
        rn_conn_t *conn = rn_conn_pool_broker(&cli->pool, md->controller_id);
        if (conn != NULL)
            return conn;
    }
    return rn_cli_boot(cli, st);
}

static int need_version(rn_cli_t *cli, rn_conn_t *conn, int16_t key, int16_t min, int16_t cap,
                        int16_t *v, const char *name)
{
    *v = rn_conn_version(conn, key, cap);
    if (*v < min)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "%s:%d does not serve a %s version runnel speaks (v%d+)", conn->host,
                           conn->port, name, min);
    rn_cli_note(cli, "%s v%d to %s:%d", name, *v, conn->host, conn->port);
    return 0;
}

/* Split "KEY=VALUE" into the arena; a usage error when there is no '=' or no key. */
static int split_kv(rn_cli_t *cli, const char *opt, const char *arg, rn_str_t *key, rn_str_t *value)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || eq == arg)
        return rn_cli_usage(cli, "%s takes KEY=VALUE, not \"%s\"", opt, arg);
    *key = (rn_str_t){arg, (int32_t)(eq - arg)};
    *value = rn_str(eq + 1);
    return 0;
}

/* ---- create ---- */

typedef struct create_opts {
    int32_t partitions, replication;
    const char **configs;
    int nconfigs;
    bool if_not_exists, validate_only;
} create_opts_t;

static int create_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    create_opts_t *o = ctx;
    switch (c) {
    case 'p': return rn_cli_parse_i32(cli, "--partitions", arg, 1, 1000000, &o->partitions);
    case 'r': return rn_cli_parse_i32(cli, "--replication-factor", arg, 1, 32767, &o->replication);
    case 'c':
        o->configs = rn_xrealloc(o->configs, sizeof *o->configs * (size_t)(o->nconfigs + 1));
        o->configs[o->nconfigs++] = arg;
        return 0;
    case OPT_IF_NOT_EXISTS: o->if_not_exists = true; return 0;
    case OPT_VALIDATE_ONLY: o->validate_only = true; return 0;
    }
    return RN_CLI_EXIT_USAGE;
}

int rn_cli_topic_create(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"replication-factor", required_argument, NULL, 'r'},
        {"config", required_argument, NULL, 'c'},
        {"if-not-exists", no_argument, NULL, OPT_IF_NOT_EXISTS},
        {"validate-only", no_argument, NULL, OPT_VALIDATE_ONLY},
        {NULL, 0, NULL, 0},
    };
    create_opts_t o = {.partitions = -1, .replication = -1};
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "p:r:c:", create_opt, &o, &first);
    if (st == 0 && first >= argc)
        st = rn_cli_usage(cli, "name the topic to create");
    rn_creatable_topic_config_t *cfg = NULL;
    if (st == 0 && o.nconfigs > 0) {
        cfg = rn_arena_calloc(&cli->arena, (size_t)o.nconfigs, sizeof *cfg);
        for (int i = 0; i < o.nconfigs && st == 0; i++)
            st = split_kv(cli, "--config", o.configs[i], &cfg[i].name, &cfg[i].value);
    }
    rn_conn_t *conn = st == 0 ? admin_conn(cli, &st) : NULL;
    int16_t v = -1;
    if (st == 0)
        st = need_version(cli, conn, RN_API_CREATE_TOPICS, 0, -1, &v, "CreateTopics");
    if (st != 0) {
        rn_free(o.configs);
        return st;
    }

    rn_create_topics_request_t req;
    rn_create_topics_request_init(&req);
    int ntopics = argc - first;
    rn_creatable_topic_t *t = rn_creatable_topic_array_alloc(&cli->arena, &req.topics, ntopics);
    for (int i = 0; i < ntopics; i++) {
        t[i].name = rn_str(argv[first + i]);
        /* -1 (the broker's defaults) needs v4+; older brokers get Kafka's usual defaults. */
        t[i].num_partitions = o.partitions > 0 ? o.partitions : (v >= 4 ? -1 : 1);
        t[i].replication_factor = (int16_t)(o.replication > 0 ? o.replication : (v >= 4 ? -1 : 1));
        t[i].configs.count = o.nconfigs;
        t[i].configs.items = cfg;
    }
    req.timeout_ms = cli->timeout_ms;
    req.validate_only = o.validate_only;
    void *body;
    int err = rn_conn_call(conn, RN_API_CREATE_TOPICS, v, &req, &cli->arena, &body);
    rn_free(o.configs);
    if (err != 0)
        return rn_cli_call_failed(cli, conn, err, "CreateTopics");
    const rn_create_topics_response_t *resp = body;
    rn_cli_json_t j;
    rn_cli_json_init(&j, stdout);
    if (cli->json)
        rn_cli_json_arr(&j);
    for (int32_t i = 0; i < resp->topics.count; i++) {
        const rn_creatable_topic_result_t *r = &resp->topics.items[i];
        char *name = rn_str_arena_dup(&cli->arena, r->name);
        bool exists = r->error_code == RN_KERR_TOPIC_ALREADY_EXISTS;
        bool fine = r->error_code == 0 || (exists && o.if_not_exists);
        if (!fine) {
            int s = item_error(cli, "topic", name ? name : "?", r->error_code, r->error_message);
            st = st ? st : s;
        }
        char id[RN_UUID_BASE64_LEN + 1] = "";
        if (!rn_uuid_is_zero(&r->topic_id))
            rn_uuid_to_base64(&r->topic_id, id);
        if (cli->json) {
            rn_cli_json_obj(&j);
            rn_cli_json_key(&j, "topic");
            rn_cli_json_rnstr(&j, r->name);
            rn_cli_json_key(&j, "created");
            rn_cli_json_bool(&j, r->error_code == 0 && !o.validate_only);
            rn_cli_json_key(&j, "error");
            if (r->error_code)
                rn_cli_json_str(&j, rn_kerr_name(r->error_code));
            else
                rn_cli_json_null(&j);
            rn_cli_json_key(&j, "topic_id");
            if (id[0])
                rn_cli_json_str(&j, id);
            else
                rn_cli_json_null(&j);
            rn_cli_json_key(&j, "partitions");
            rn_cli_json_int(&j, r->num_partitions);
            rn_cli_json_key(&j, "replication_factor");
            rn_cli_json_int(&j, r->replication_factor);
            rn_cli_json_end(&j, '}');
        } else if (r->error_code == 0) {
            printf("%s topic \"%s\"", o.validate_only ? "validated" : "created", name);
            if (r->num_partitions > 0)
                printf(" (%d partition%s, replication factor %d)", r->num_partitions,
                       r->num_partitions == 1 ? "" : "s", r->replication_factor);
            printf("\n");
        } else if (exists && o.if_not_exists) {
            printf("topic \"%s\" already exists\n", name);
        }
    }
    if (cli->json)
        rn_cli_json_end(&j, ']');
    return st;
}

/* ---- list ---- */

static int cmp_topic(const void *a, const void *b)
{
    const rn_metadata_response_topic_t *x = a, *y = b;
    return rn_str_cmp(x->name, y->name);
}

static int cmp_partition(const void *a, const void *b)
{
    const rn_metadata_response_partition_t *x = a, *y = b;
    return (x->partition_index > y->partition_index) - (x->partition_index < y->partition_index);
}

/* The on_opt of a subcommand whose one option is a flag: getopt only hands it that option,
 * which sets the bool at ctx (topic list --internal, describe --all-configs, delete
 * --if-exists). */
static int flag_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    *(bool *)ctx = true;
    return 0;
}

int rn_cli_topic_list(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"internal", no_argument, NULL, OPT_INTERNAL},
        {NULL, 0, NULL, 0},
    };
    bool internal = false;
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "", flag_opt, &internal, &first);
    if (st == 0 && first < argc)
        st = rn_cli_usage(cli, "unexpected argument \"%s\"", argv[first]);
    rn_metadata_response_t *md;
    if (st == 0)
        st = rn_cli_metadata(cli, NULL, -1, false, &md);
    if (st != 0)
        return st;
    if (md->topics.count > 0)
        qsort(md->topics.items, (size_t)md->topics.count, sizeof *md->topics.items, cmp_topic);
    rn_cli_json_t j;
    rn_cli_json_init(&j, stdout);
    rn_cli_table_t tab;
    static const char *const head[] = {"TOPIC", ">PARTITIONS", ">REPLICATION"};
    if (cli->json)
        rn_cli_json_arr(&j);
    else
        rn_cli_table_init(&tab, 3, head);
    for (int32_t i = 0; i < md->topics.count; i++) {
        const rn_metadata_response_topic_t *t = &md->topics.items[i];
        if (t->is_internal && !internal)
            continue;
        int rf = t->partitions.count > 0 ? t->partitions.items[0].replica_nodes.count : 0;
        if (cli->json) {
            char id[RN_UUID_BASE64_LEN + 1] = "";
            rn_uuid_to_base64(&t->topic_id, id);
            rn_cli_json_obj(&j);
            rn_cli_json_key(&j, "topic");
            rn_cli_json_rnstr(&j, t->name);
            rn_cli_json_key(&j, "partitions");
            rn_cli_json_int(&j, t->partitions.count);
            rn_cli_json_key(&j, "replication_factor");
            rn_cli_json_int(&j, rf);
            rn_cli_json_key(&j, "internal");
            rn_cli_json_bool(&j, t->is_internal);
            rn_cli_json_key(&j, "topic_id");
            if (rn_uuid_is_zero(&t->topic_id))
                rn_cli_json_null(&j);
            else
                rn_cli_json_str(&j, id);
            rn_cli_json_end(&j, '}');
        } else {
            const char *row[] = {rn_str_arena_dup(&cli->arena, t->name),
                                 rn_cli_fmt(cli, "%d", t->partitions.count),
                                 rn_cli_fmt(cli, "%d", rf)};
            rn_cli_table_add(&tab, row);
        }
    }
    if (cli->json)
        rn_cli_json_end(&j, ']');
    else
        rn_cli_table_print(&tab, stdout);
    return 0;
}

/* ---- describe ---- */

/* DescribeConfigs for one topic; NULL (after a note) when the broker cannot say. */
static const rn_describe_configs_result_t *topic_configs(rn_cli_t *cli, const char *topic)
{
    int st;
    rn_conn_t *conn = rn_cli_boot(cli, &st);
    if (conn == NULL)
        return NULL;
    int16_t v = rn_conn_version(conn, RN_API_DESCRIBE_CONFIGS, -1);
    if (v < 0)
        return NULL;
    rn_describe_configs_request_t req;
    rn_describe_configs_request_init(&req);
    rn_describe_configs_resource_t *res =
        rn_describe_configs_resource_array_alloc(&cli->arena, &req.resources, 1);
    res->resource_type = RESOURCE_TOPIC;
    res->resource_name = rn_str(topic);
    res->configuration_keys.count = -1;
    void *body;
    if (rn_conn_call(conn, RN_API_DESCRIBE_CONFIGS, v, &req, &cli->arena, &body) != 0) {
        rn_cli_note(cli, "DescribeConfigs failed: %s", rn_conn_error(conn));
        return NULL;
    }
    const rn_describe_configs_response_t *resp = body;
    if (resp->results.count < 1 || resp->results.items[0].error_code != 0)
        return NULL;
    return &resp->results.items[0];
}

static bool config_is_override(const rn_describe_configs_resource_result_t *c)
{
    /* v1+ says where a value comes from; v0 only whether it is the default. */
    if (c->config_source >= 0)
        return c->config_source == CONFIG_SOURCE_DYNAMIC_TOPIC;
    return !c->is_default;
}

static void describe_one(rn_cli_t *cli, const rn_metadata_response_topic_t *t, bool all_configs,
                         rn_cli_json_t *j, bool first_topic)
{
    char *name = rn_str_arena_dup(&cli->arena, t->name);
    int np = t->partitions.count > 0 ? t->partitions.count : 0;
    if (np > 0)
        qsort(t->partitions.items, (size_t)np, sizeof *t->partitions.items, cmp_partition);
    rn_cli_offset_q_t *q = rn_xcalloc((size_t)np * 2 + 1, sizeof *q);
    for (int i = 0; i < np; i++) {
        for (int k = 0; k < 2; k++) {
            q[2 * i + k].topic = name;
            q[2 * i + k].partition = t->partitions.items[i].partition_index;
            q[2 * i + k].leader = t->partitions.items[i].leader_id;
            q[2 * i + k].timestamp = k == 0 ? -2 : -1;
        }
    }
    /* Offsets are extra information: a failure leaves "-" in the table. */
    if (np > 0 && rn_cli_list_offsets(cli, q, np * 2) != 0)
        for (int i = 0; i < np * 2; i++)
            q[i].error = RN_KERR_UNKNOWN_SERVER_ERROR;
    const rn_describe_configs_result_t *cfg = topic_configs(cli, name);
    int rf = np > 0 ? t->partitions.items[0].replica_nodes.count : 0;
    char id[RN_UUID_BASE64_LEN + 1] = "";
    if (!rn_uuid_is_zero(&t->topic_id))
        rn_uuid_to_base64(&t->topic_id, id);

    if (cli->json) {
        rn_cli_json_obj(j);
        rn_cli_json_key(j, "topic");
        rn_cli_json_str(j, name);
        rn_cli_json_key(j, "topic_id");
        if (id[0])
            rn_cli_json_str(j, id);
        else
            rn_cli_json_null(j);
        rn_cli_json_key(j, "internal");
        rn_cli_json_bool(j, t->is_internal);
        rn_cli_json_key(j, "replication_factor");
        rn_cli_json_int(j, rf);
        rn_cli_json_key(j, "partitions");
        rn_cli_json_arr(j);
        for (int i = 0; i < np; i++) {
            const rn_metadata_response_partition_t *p = &t->partitions.items[i];
            rn_cli_json_obj(j);
            rn_cli_json_key(j, "partition");
            rn_cli_json_int(j, p->partition_index);
            rn_cli_json_key(j, "leader");
            rn_cli_json_int(j, p->leader_id);
            rn_cli_json_key(j, "leader_epoch");
            rn_cli_json_int(j, p->leader_epoch);
            rn_cli_json_key(j, "replicas");
            rn_cli_json_ids(j, &p->replica_nodes);
            rn_cli_json_key(j, "isr");
            rn_cli_json_ids(j, &p->isr_nodes);
            rn_cli_json_key(j, "offline");
            rn_cli_json_ids(j, &p->offline_replicas);
            rn_cli_json_key(j, "start_offset");
            if (q[2 * i].error == 0)
                rn_cli_json_int(j, q[2 * i].offset);
            else
                rn_cli_json_null(j);
            rn_cli_json_key(j, "end_offset");
            if (q[2 * i + 1].error == 0)
                rn_cli_json_int(j, q[2 * i + 1].offset);
            else
                rn_cli_json_null(j);
            rn_cli_json_key(j, "error");
            if (p->error_code)
                rn_cli_json_str(j, rn_kerr_name(p->error_code));
            else
                rn_cli_json_null(j);
            rn_cli_json_end(j, '}');
        }
        rn_cli_json_end(j, ']');
        rn_cli_json_key(j, "configs");
        rn_cli_json_obj(j);
        for (int32_t i = 0; cfg && i < cfg->configs.count; i++) {
            const rn_describe_configs_resource_result_t *c = &cfg->configs.items[i];
            if (!all_configs && !config_is_override(c))
                continue;
            char *k = rn_str_arena_dup(&cli->arena, c->name);
            rn_cli_json_key(j, k ? k : "");
            rn_cli_json_rnstr(j, c->value);
        }
        rn_cli_json_end(j, '}');
        rn_cli_json_end(j, '}');
    } else {
        if (!first_topic)
            printf("\n");
        printf("topic \"%s\"%s%s: %d partition%s, replication factor %d%s\n", name,
               id[0] ? " id " : "", id, np, np == 1 ? "" : "s", rf,
               t->is_internal ? " (internal)" : "");
        int shown = 0;
        for (int32_t i = 0; cfg && i < cfg->configs.count; i++) {
            const rn_describe_configs_resource_result_t *c = &cfg->configs.items[i];
            if (!all_configs && !config_is_override(c))
                continue;
            rn_str_t value = c->is_sensitive ? rn_str("(sensitive)") : c->value;
            printf("%s%.*s=%.*s",
                   shown++ ? (all_configs ? "\n  " : " ") : "configs: ", RN_STR_ARGS(c->name),
                   RN_STR_ARGS(value));
        }
        if (shown)
            printf("\n");
        else if (cfg)
            printf("configs: (broker defaults)\n");
        rn_cli_table_t tab;
        static const char *const head[] = {">PARTITION", ">LEADER", "REPLICAS",
                                           "ISR",        ">START",  ">END"};
        rn_cli_table_init(&tab, 6, head);
        for (int i = 0; i < np; i++) {
            const rn_metadata_response_partition_t *p = &t->partitions.items[i];
            const char *row[] = {
                rn_cli_fmt(cli, "%d", p->partition_index),
                p->leader_id >= 0 ? rn_cli_fmt(cli, "%d", p->leader_id) : "none",
                rn_cli_ids(cli, &p->replica_nodes),
                rn_cli_ids(cli, &p->isr_nodes),
                q[2 * i].error == 0 ? rn_cli_fmt(cli, "%" PRId64, q[2 * i].offset) : NULL,
                q[2 * i + 1].error == 0 ? rn_cli_fmt(cli, "%" PRId64, q[2 * i + 1].offset) : NULL,
            };
            rn_cli_table_add(&tab, row);
        }
        rn_cli_table_print(&tab, stdout);
    }
    rn_free(q);
}

int rn_cli_topic_describe(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all-configs", no_argument, NULL, OPT_ALL_CONFIGS},
        {NULL, 0, NULL, 0},
    };
    bool all_configs = false;
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "", flag_opt, &all_configs, &first);
    if (st == 0 && first >= argc)
        st = rn_cli_usage(cli, "name the topic(s) to describe");
    rn_metadata_response_t *md;
    if (st == 0)
        st = rn_cli_metadata(cli, (const char *const *)argv + first, argc - first, false, &md);
    if (st != 0)
        return st;
    rn_cli_json_t j;
    rn_cli_json_init(&j, stdout);
    if (cli->json)
        rn_cli_json_arr(&j);
    int shown = 0;
    for (int i = first; i < argc; i++) {
        const rn_metadata_response_topic_t *t = rn_cli_md_topic(md, argv[i]);
        if (t == NULL || t->error_code == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION) {
            int s = rn_cli_topic_not_found(cli, argv[i]);
            st = st ? st : s;
            continue;
        }
        if (t->error_code != 0 && t->error_code != RN_KERR_LEADER_NOT_AVAILABLE) {
            int s = item_error(cli, "topic", argv[i], t->error_code, RN_STR_NULL);
            st = st ? st : s;
            continue;
        }
        describe_one(cli, t, all_configs, &j, shown++ == 0);
    }
    if (cli->json)
        rn_cli_json_end(&j, ']');
    return st;
}

/* ---- delete ---- */

int rn_cli_topic_delete(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"if-exists", no_argument, NULL, OPT_IF_EXISTS},
        {NULL, 0, NULL, 0},
    };
    bool if_exists = false;
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "", flag_opt, &if_exists, &first);
    if (st == 0 && first >= argc)
        st = rn_cli_usage(cli, "name the topic(s) to delete");
    rn_conn_t *conn = st == 0 ? admin_conn(cli, &st) : NULL;
    int16_t v = -1;
    if (st == 0)
        st = need_version(cli, conn, RN_API_DELETE_TOPICS, 0, -1, &v, "DeleteTopics");
    if (st != 0)
        return st;
    int n = argc - first;
    rn_delete_topics_request_t req;
    rn_delete_topics_request_init(&req);
    if (v >= 6) {
        rn_delete_topic_state_t *t = rn_delete_topic_state_array_alloc(&cli->arena, &req.topics, n);
        for (int i = 0; i < n; i++)
            t[i].name = rn_str(argv[first + i]);
    } else {
        req.topic_names.count = n;
        req.topic_names.items = rn_arena_calloc(&cli->arena, (size_t)n, sizeof(rn_str_t));
        for (int i = 0; i < n; i++)
            req.topic_names.items[i] = rn_str(argv[first + i]);
    }
    req.timeout_ms = cli->timeout_ms;
    void *body;
    int err = rn_conn_call(conn, RN_API_DELETE_TOPICS, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_call_failed(cli, conn, err, "DeleteTopics");
    const rn_delete_topics_response_t *resp = body;
    rn_cli_json_t j;
    rn_cli_json_init(&j, stdout);
    if (cli->json)
        rn_cli_json_arr(&j);
    for (int32_t i = 0; i < resp->responses.count; i++) {
        const rn_deletable_topic_result_t *r = &resp->responses.items[i];
        char *name = rn_str_arena_dup(&cli->arena, r->name);
        bool missing = r->error_code == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION ||
                       r->error_code == RN_KERR_UNKNOWN_TOPIC_ID;
        if (r->error_code != 0 && !(missing && if_exists)) {
            int s = item_error(cli, "topic", name ? name : "?", r->error_code, r->error_message);
            st = st ? st : s;
        }
        if (cli->json) {
            rn_cli_json_obj(&j);
            rn_cli_json_key(&j, "topic");
            rn_cli_json_rnstr(&j, r->name);
            rn_cli_json_key(&j, "deleted");
            rn_cli_json_bool(&j, r->error_code == 0);
            rn_cli_json_key(&j, "error");
            if (r->error_code)
                rn_cli_json_str(&j, rn_kerr_name(r->error_code));
            else
                rn_cli_json_null(&j);
            rn_cli_json_end(&j, '}');
        } else if (r->error_code == 0) {
            printf("deleted topic \"%s\"\n", name);
        } else if (missing && if_exists) {
            printf("topic \"%s\" does not exist\n", name);
        }
    }
    if (cli->json)
        rn_cli_json_end(&j, ']');
    return st;
}

/* ---- alter-config ---- */

typedef struct alter_opts {
    const char **args; /* "s:KEY=VALUE" or "d:KEY" */
    int n;
    bool validate_only;
} alter_opts_t;

static int alter_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    alter_opts_t *o = ctx;
    if (c == OPT_VALIDATE_ONLY) {
        o->validate_only = true;
        return 0;
    }
    if (c != 's' && c != 'c' && c != 'd')
        return RN_CLI_EXIT_USAGE;
    o->args = rn_xrealloc(o->args, sizeof *o->args * (size_t)(o->n + 1));
    char *tagged = rn_cli_keep(cli, rn_cli_fmt(cli, "%c:%s", c == 'd' ? 'd' : 's', arg));
    o->args[o->n++] = tagged;
    return 0;
}

int rn_cli_topic_alter_config(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"set", required_argument, NULL, 's'},
        {"config", required_argument, NULL, 'c'},
        {"delete", required_argument, NULL, 'd'},
        {"validate-only", no_argument, NULL, OPT_VALIDATE_ONLY},
        {NULL, 0, NULL, 0},
    };
    alter_opts_t o = {0};
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "s:c:d:", alter_opt, &o, &first);
    if (st == 0 && argc - first != 1)
        st = rn_cli_usage(cli, "name exactly one topic");
    if (st == 0 && o.n == 0)
        st = rn_cli_usage(cli, "nothing to change: give --set KEY=VALUE or --delete KEY");
    const char *topic = st == 0 ? argv[first] : NULL;
    rn_incremental_alter_configs_request_t req;
    rn_incremental_alter_configs_request_init(&req);
    rn_incremental_alterable_config_t *cfg = NULL;
    if (st == 0) {
        rn_incremental_alter_configs_resource_t *res =
            rn_incremental_alter_configs_resource_array_alloc(&cli->arena, &req.resources, 1);
        res->resource_type = RESOURCE_TOPIC;
        res->resource_name = rn_str(topic);
        cfg = rn_incremental_alterable_config_array_alloc(&cli->arena, &res->configs, o.n);
        for (int i = 0; i < o.n && st == 0; i++) {
            if (o.args[i][0] == 's') {
                st = split_kv(cli, "--set", o.args[i] + 2, &cfg[i].name, &cfg[i].value);
                cfg[i].config_operation = 0; /* SET */
            } else {
                cfg[i].name = rn_str(o.args[i] + 2);
                cfg[i].value = RN_STR_NULL;
                cfg[i].config_operation = 1; /* DELETE */
            }
        }
        req.validate_only = o.validate_only;
    }
    rn_conn_t *conn = st == 0 ? rn_cli_boot(cli, &st) : NULL;
    int16_t v = -1;
    if (st == 0)
        st = need_version(cli, conn, RN_API_INCREMENTAL_ALTER_CONFIGS, 0, -1, &v,
                          "IncrementalAlterConfigs");
    void *body = NULL;
    if (st == 0) {
        int err = rn_conn_call(conn, RN_API_INCREMENTAL_ALTER_CONFIGS, v, &req, &cli->arena, &body);
        if (err != 0)
            st = rn_cli_call_failed(cli, conn, err, "IncrementalAlterConfigs");
    }
    if (st == 0) {
        const rn_incremental_alter_configs_response_t *resp = body;
        for (int32_t i = 0; i < resp->responses.count && st == 0; i++) {
            const rn_incremental_alter_configs_resource_response_t *r = &resp->responses.items[i];
            if (r->error_code != 0)
                st = item_error(cli, "topic", topic, r->error_code, r->error_message);
        }
    }
    if (st == 0 && cli->json) {
        rn_cli_json_t j;
        rn_cli_json_init(&j, stdout);
        rn_cli_json_obj(&j);
        rn_cli_json_key(&j, "topic");
        rn_cli_json_str(&j, topic);
        rn_cli_json_key(&j, "validate_only");
        rn_cli_json_bool(&j, o.validate_only);
        rn_cli_json_key(&j, "set");
        rn_cli_json_obj(&j);
        for (int i = 0; i < o.n; i++)
            if (cfg[i].config_operation == 0) {
                rn_cli_json_key(&j, rn_str_arena_dup(&cli->arena, cfg[i].name));
                rn_cli_json_rnstr(&j, cfg[i].value);
            }
        rn_cli_json_end(&j, '}');
        rn_cli_json_key(&j, "deleted");
        rn_cli_json_arr(&j);
        for (int i = 0; i < o.n; i++)
            if (cfg[i].config_operation == 1)
                rn_cli_json_rnstr(&j, cfg[i].name);
        rn_cli_json_end(&j, ']');
        rn_cli_json_end(&j, '}');
    } else if (st == 0) {
        printf("%s topic \"%s\":", o.validate_only ? "validated change of" : "updated", topic);
        for (int i = 0; i < o.n; i++) {
            if (cfg[i].config_operation == 0)
                printf(" %.*s=%.*s", RN_STR_ARGS(cfg[i].name), RN_STR_ARGS(cfg[i].value));
            else
                printf(" -%.*s", RN_STR_ARGS(cfg[i].name));
        }
        printf("\n");
    }
    rn_free(o.args);
    return st;
}

/* ---- add-partitions ---- */

typedef struct addp_opts {
    int32_t count;
    bool validate_only;
} addp_opts_t;

static int addp_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    addp_opts_t *o = ctx;
    if (c == 'p')
        return rn_cli_parse_i32(cli, "--partitions", arg, 1, 1000000, &o->count);
    if (c == OPT_VALIDATE_ONLY) {
        o->validate_only = true;
        return 0;
    }
    return RN_CLI_EXIT_USAGE;
}

int rn_cli_topic_add_partitions(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"partitions", required_argument, NULL, 'p'},
        {"count", required_argument, NULL, 'p'},
        {"validate-only", no_argument, NULL, OPT_VALIDATE_ONLY},
        {NULL, 0, NULL, 0},
    };
    addp_opts_t o = {.count = -1};
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "p:", addp_opt, &o, &first);
    if (st == 0 && argc - first != 1)
        st = rn_cli_usage(cli, "name exactly one topic");
    if (st == 0 && o.count < 0)
        st = rn_cli_usage(cli, "give the new partition count with -p N");
    if (st != 0)
        return st;
    const char *topic = argv[first];
    rn_metadata_response_t *md;
    const char *names[1] = {topic};
    st = rn_cli_metadata(cli, names, 1, false, &md);
    if (st != 0)
        return st;
    const rn_metadata_response_topic_t *t = rn_cli_md_topic(md, topic);
    if (t == NULL || t->error_code == RN_KERR_UNKNOWN_TOPIC_OR_PARTITION)
        return rn_cli_topic_not_found(cli, topic);
    int32_t old = t->partitions.count;
    if (o.count <= old)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "topic \"%s\" already has %d partition%s; partitions can only be "
                           "added, so give -p greater than %d",
                           topic, old, old == 1 ? "" : "s", old);
    rn_conn_t *conn = admin_conn(cli, &st);
    int16_t v = -1;
    if (st == 0)
        st = need_version(cli, conn, RN_API_CREATE_PARTITIONS, 0, -1, &v, "CreatePartitions");
    if (st != 0)
        return st;
    rn_create_partitions_request_t req;
    rn_create_partitions_request_init(&req);
    rn_create_partitions_topic_t *ct =
        rn_create_partitions_topic_array_alloc(&cli->arena, &req.topics, 1);
    ct->name = rn_str(topic);
    ct->count = o.count;
    ct->assignments.count = -1;
    req.timeout_ms = cli->timeout_ms;
    req.validate_only = o.validate_only;
    void *body;
    int err = rn_conn_call(conn, RN_API_CREATE_PARTITIONS, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_call_failed(cli, conn, err, "CreatePartitions");
    const rn_create_partitions_response_t *resp = body;
    for (int32_t i = 0; i < resp->results.count; i++) {
        const rn_create_partitions_topic_result_t *r = &resp->results.items[i];
        if (r->error_code != 0)
            return item_error(cli, "topic", topic, r->error_code, r->error_message);
    }
    if (cli->json) {
        rn_cli_json_t j;
        rn_cli_json_init(&j, stdout);
        rn_cli_json_obj(&j);
        rn_cli_json_key(&j, "topic");
        rn_cli_json_str(&j, topic);
        rn_cli_json_key(&j, "old_partitions");
        rn_cli_json_int(&j, old);
        rn_cli_json_key(&j, "partitions");
        rn_cli_json_int(&j, o.count);
        rn_cli_json_key(&j, "validate_only");
        rn_cli_json_bool(&j, o.validate_only);
        rn_cli_json_end(&j, '}');
    } else {
        printf("%s topic \"%s\" from %d to %d partitions\n",
               o.validate_only ? "validated growing" : "grew", topic, old, o.count);
    }
    return 0;
}
