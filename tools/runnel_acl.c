/* runnel acl add|list|delete: ACL bindings (CreateAcls 30, DescribeAcls 29, DeleteAcls 31)
 * with kafka-acls.sh's flags: principals to allow or deny, operations, hosts, and resources
 * (topics, groups, transactional ids, the cluster) with a literal or prefixed pattern. */
#include "rn_aclnames.h"
#include "rn_cli.h"

#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_str.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Kafka's codes (client/defs/describe_acls.def). */
enum { RES_ANY = 1, RES_TOPIC = 2, RES_GROUP = 3, RES_CLUSTER = 4, RES_TXN = 5 };
enum { PAT_ANY = 1, PAT_MATCH = 2, PAT_LITERAL = 3, PAT_PREFIXED = 4 };
enum { OP_ANY = 1, PERM_ANY = 1, PERM_DENY = 2, PERM_ALLOW = 3 };

enum {
    OPT_ALLOW_PRINCIPAL = 0x100,
    OPT_DENY_PRINCIPAL,
    OPT_PRINCIPAL,
    OPT_ALLOW_HOST,
    OPT_DENY_HOST,
    OPT_OPERATION,
    OPT_TOPIC,
    OPT_GROUP,
    OPT_CLUSTER,
    OPT_TXN,
    OPT_PATTERN,
};

typedef struct acl_res {
    int8_t type;
    const char *name;
} acl_res_t;

#define MAX_ITEMS 64

typedef struct acl_opts {
    const char *allow[MAX_ITEMS], *deny[MAX_ITEMS], *principals[MAX_ITEMS];
    int nallow, ndeny, nprincipals;
    const char *allow_host, *deny_host;
    int8_t ops[MAX_ITEMS];
    int nops;
    acl_res_t res[MAX_ITEMS];
    int nres;
    int pattern; /* -1: not given */
} acl_opts_t;

static int push_str(rn_cli_t *cli, const char **arr, int *n, const char *opt, const char *v)
{
    if (*n >= MAX_ITEMS)
        return rn_cli_usage(cli, "too many %s", opt);
    if (strchr(v, ':') == NULL || v[0] == ':')
        return rn_cli_usage(cli, "%s takes a principal TYPE:NAME (e.g. User:alice), not \"%s\"",
                            opt, v);
    arr[(*n)++] = rn_cli_keep(cli, v);
    return 0;
}

static int push_res(rn_cli_t *cli, acl_opts_t *o, int8_t type, const char *name)
{
    if (o->nres >= MAX_ITEMS)
        return rn_cli_usage(cli, "too many resources");
    if (name[0] == '\0')
        return rn_cli_usage(cli, "a resource name may not be empty");
    o->res[o->nres++] = (acl_res_t){type, rn_cli_keep(cli, name)};
    return 0;
}

static int acl_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    acl_opts_t *o = ctx;
    switch (c) {
    case OPT_ALLOW_PRINCIPAL: return push_str(cli, o->allow, &o->nallow, "--allow-principal", arg);
    case OPT_DENY_PRINCIPAL: return push_str(cli, o->deny, &o->ndeny, "--deny-principal", arg);
    case OPT_PRINCIPAL: return push_str(cli, o->principals, &o->nprincipals, "--principal", arg);
    case OPT_ALLOW_HOST: o->allow_host = rn_cli_keep(cli, arg); return 0;
    case OPT_DENY_HOST: o->deny_host = rn_cli_keep(cli, arg); return 0;
    case OPT_OPERATION: {
        int op = rn_aclnames_operation_code(arg);
        if (op < 2)
            return rn_cli_usage(cli,
                                "unknown --operation \"%s\"; use Read, Write, Create, Delete, "
                                "Alter, Describe, ClusterAction, DescribeConfigs, AlterConfigs, "
                                "IdempotentWrite or All",
                                arg);
        if (o->nops >= MAX_ITEMS)
            return rn_cli_usage(cli, "too many --operation");
        o->ops[o->nops++] = (int8_t)op;
        return 0;
    }
    case OPT_TOPIC: return push_res(cli, o, RES_TOPIC, arg);
    case OPT_GROUP: return push_res(cli, o, RES_GROUP, arg);
    case OPT_TXN: return push_res(cli, o, RES_TXN, arg);
    case OPT_CLUSTER: return push_res(cli, o, RES_CLUSTER, "kafka-cluster");
    case OPT_PATTERN: {
        int p = rn_aclnames_pattern_code(arg);
        if (p < 1)
            return rn_cli_usage(cli, "--resource-pattern-type is literal, prefixed, match or any");
        o->pattern = p;
        return 0;
    }
    }
    return RN_CLI_EXIT_USAGE;
}

static const struct option acl_options[] = {
    {"allow-principal", required_argument, NULL, OPT_ALLOW_PRINCIPAL},
    {"deny-principal", required_argument, NULL, OPT_DENY_PRINCIPAL},
    {"principal", required_argument, NULL, OPT_PRINCIPAL},
    {"allow-host", required_argument, NULL, OPT_ALLOW_HOST},
    {"deny-host", required_argument, NULL, OPT_DENY_HOST},
    {"operation", required_argument, NULL, OPT_OPERATION},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"group", required_argument, NULL, OPT_GROUP},
    {"transactional-id", required_argument, NULL, OPT_TXN},
    {"cluster", no_argument, NULL, OPT_CLUSTER},
    {"resource-pattern-type", required_argument, NULL, OPT_PATTERN},
    {NULL, 0, NULL, 0},
};

static int parse(rn_cli_t *cli, int argc, char **argv, acl_opts_t *o)
{
    memset(o, 0, sizeof(*o));
    o->pattern = -1;
    int first;
    int st = rn_cli_parse(cli, argc, argv, acl_options, "", acl_opt, o, &first);
    if (st == 0 && first < argc)
        st = rn_cli_usage(cli, "unexpected argument \"%s\"", argv[first]);
    return st;
}

static int kerr_fail(rn_cli_t *cli, int16_t code, rn_str_t msg, const char *what)
{
    return rn_cli_fail(cli, rn_cli_kerr_status(code), "%s: %s%s%s%.*s%s", rn_cli_where(cli), what,
                       rn_kerr_name(code), msg.len > 0 ? ": " : "", RN_STR_ARGS(msg),
                       rn_cli_kerr_hint(code));
}

/* One binding as a row / JSON object. */
typedef struct acl_row {
    const char *principal, *host, *op, *perm, *type, *name, *pattern;
} acl_row_t;

static void print_rows(rn_cli_t *cli, const acl_row_t *rows, int n, const char *none)
{
    if (cli->json) {
        rn_cli_json_t j;
        rn_cli_json_init(&j, stdout);
        rn_cli_json_arr(&j);
        for (int i = 0; i < n; i++) {
            rn_cli_json_obj(&j);
            const char *keys[] = {"principal",     "host",          "operation",   "permission",
                                  "resource_type", "resource_name", "pattern_type"};
            const char *vals[] = {rows[i].principal, rows[i].host, rows[i].op,     rows[i].perm,
                                  rows[i].type,      rows[i].name, rows[i].pattern};
            for (int k = 0; k < 7; k++) {
                rn_cli_json_key(&j, keys[k]);
                rn_cli_json_str(&j, vals[k]);
            }
            rn_cli_json_end(&j, '}');
        }
        rn_cli_json_end(&j, ']');
        return;
    }
    if (n == 0) {
        printf("%s\n", none);
        return;
    }
    static const char *const head[] = {"PRINCIPAL", "HOST", "OPERATION", "PERMISSION",
                                       "RESOURCE",  "NAME", "PATTERN"};
    rn_cli_table_t t;
    rn_cli_table_init(&t, 7, head);
    for (int i = 0; i < n; i++) {
        const char *cells[] = {rows[i].principal, rows[i].host, rows[i].op,     rows[i].perm,
                               rows[i].type,      rows[i].name, rows[i].pattern};
        rn_cli_table_add(&t, cells);
    }
    rn_cli_table_print(&t, stdout);
}

static const char *cstr(rn_cli_t *cli, rn_str_t s)
{
    return rn_cli_fmt(cli, "%.*s", RN_STR_ARGS(s));
}

/* ---- add ---- */

int rn_cli_acl_add(rn_cli_t *cli, int argc, char **argv)
{
    acl_opts_t o;
    int st = parse(cli, argc, argv, &o);
    if (st != 0)
        return st;
    if (o.nallow + o.ndeny == 0)
        return rn_cli_usage(cli, "give --allow-principal or --deny-principal");
    if (o.nops == 0)
        return rn_cli_usage(cli, "give --operation (e.g. Read, Write, All)");
    if (o.nres == 0)
        return rn_cli_usage(cli,
                            "give a resource: --topic, --group, --transactional-id or --cluster");
    if (o.nprincipals > 0)
        return rn_cli_usage(cli,
                            "--principal filters list and delete; add takes --allow-principal");
    int pattern = o.pattern < 0 ? PAT_LITERAL : o.pattern;
    if (pattern != PAT_LITERAL && pattern != PAT_PREFIXED)
        return rn_cli_usage(cli, "add takes --resource-pattern-type literal or prefixed");
    int n = (o.nallow + o.ndeny) * o.nops * o.nres;
    int16_t v = -1;
    rn_conn_t *conn = rn_cli_boot_api(cli, NULL, RN_API_CREATE_ACLS, "CreateAcls", &v, &st);
    if (conn == NULL)
        return st;
    rn_create_acls_request_t req;
    rn_create_acls_request_init(&req);
    rn_acl_creation_t *cr = rn_acl_creation_array_alloc(&cli->arena, &req.creations, n);
    acl_row_t *rows = rn_arena_calloc(&cli->arena, (size_t)n + 1, sizeof(*rows));
    int k = 0;
    for (int who = 0; who < o.nallow + o.ndeny; who++) {
        bool allow = who < o.nallow;
        const char *pr = allow ? o.allow[who] : o.deny[who - o.nallow];
        const char *host = allow ? o.allow_host : o.deny_host;
        host = host != NULL ? host : "*";
        for (int r = 0; r < o.nres; r++)
            for (int p = 0; p < o.nops; p++, k++) {
                cr[k].resource_type = o.res[r].type;
                cr[k].resource_name = rn_str(o.res[r].name);
                cr[k].resource_pattern_type = (int8_t)pattern;
                cr[k].principal = rn_str(pr);
                cr[k].host = rn_str(host);
                cr[k].operation = o.ops[p];
                cr[k].permission_type = allow ? PERM_ALLOW : PERM_DENY;
                rows[k] = (acl_row_t){pr,
                                      host,
                                      rn_aclnames_operation(o.ops[p]),
                                      allow ? "ALLOW" : "DENY",
                                      rn_aclnames_resource(o.res[r].type),
                                      o.res[r].name,
                                      rn_aclnames_pattern(pattern)};
            }
    }
    void *body;
    int err = rn_conn_call(conn, RN_API_CREATE_ACLS, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_call_failed(cli, conn, err, "CreateAcls");
    const rn_create_acls_response_t *resp = body;
    for (int i = 0; i < resp->results.count && i < n; i++)
        if (resp->results.items[i].error_code != 0)
            return kerr_fail(cli, resp->results.items[i].error_code,
                             resp->results.items[i].error_message,
                             rn_cli_fmt(cli, "%s %s %s on %s %s: ", rows[i].perm, rows[i].principal,
                                        rows[i].op, rows[i].type, rows[i].name));
    if (!cli->json)
        printf("added %d ACL binding(s):\n", n);
    print_rows(cli, rows, n, "");
    return 0;
}

/* ---- list and delete: filters ---- */

/* The filters of list/delete: one per resource (none: any resource) and principal. */
static int build_filters(rn_cli_t *cli, const acl_opts_t *o, bool deleting,
                         rn_delete_acls_filter_t **out, int *nout)
{
    /* kafka-acls.sh's default: a named resource's literal bindings; none: every binding. */
    int pattern = o->pattern >= 0 ? o->pattern : o->nres > 0 ? PAT_LITERAL : PAT_ANY;
    (void)deleting;
    int nres = o->nres > 0 ? o->nres : 1;
    int nwho = o->nallow + o->ndeny + o->nprincipals;
    nwho = nwho > 0 ? nwho : 1;
    int nops = o->nops > 0 ? o->nops : 1;
    int n = nres * nwho * nops;
    rn_delete_acls_filter_t *f = rn_arena_calloc(&cli->arena, (size_t)n, sizeof(*f));
    int k = 0;
    for (int r = 0; r < nres; r++)
        for (int w = 0; w < nwho; w++)
            for (int p = 0; p < nops; p++, k++) {
                rn_delete_acls_filter_init(&f[k]);
                f[k].resource_type_filter = o->nres > 0 ? o->res[r].type : RES_ANY;
                f[k].resource_name_filter = o->nres > 0 ? rn_str(o->res[r].name) : RN_STR_NULL;
                f[k].pattern_type_filter = (int8_t)pattern;
                f[k].operation = o->nops > 0 ? o->ops[p] : OP_ANY;
                f[k].permission_type = PERM_ANY;
                f[k].principal_filter = RN_STR_NULL;
                f[k].host_filter = RN_STR_NULL;
                if (w < o->nallow) {
                    f[k].principal_filter = rn_str(o->allow[w]);
                    f[k].permission_type = PERM_ALLOW;
                    if (o->allow_host)
                        f[k].host_filter = rn_str(o->allow_host);
                } else if (w < o->nallow + o->ndeny) {
                    f[k].principal_filter = rn_str(o->deny[w - o->nallow]);
                    f[k].permission_type = PERM_DENY;
                    if (o->deny_host)
                        f[k].host_filter = rn_str(o->deny_host);
                } else if (w < o->nallow + o->ndeny + o->nprincipals) {
                    f[k].principal_filter = rn_str(o->principals[w - o->nallow - o->ndeny]);
                }
            }
    (void)cli;
    *out = f;
    *nout = n;
    return 0;
}

int rn_cli_acl_list(rn_cli_t *cli, int argc, char **argv)
{
    acl_opts_t o;
    int st = parse(cli, argc, argv, &o);
    if (st != 0)
        return st;
    rn_delete_acls_filter_t *f;
    int nf;
    build_filters(cli, &o, false, &f, &nf);
    int16_t v = -1;
    rn_conn_t *conn = rn_cli_boot_api(cli, NULL, RN_API_DESCRIBE_ACLS, "DescribeAcls", &v, &st);
    if (conn == NULL)
        return st;
    acl_row_t *rows = NULL;
    int nrows = 0, cap = 0;
    for (int i = 0; i < nf; i++) {
        rn_describe_acls_request_t req;
        rn_describe_acls_request_init(&req);
        req.resource_type_filter = f[i].resource_type_filter;
        req.resource_name_filter = f[i].resource_name_filter;
        req.pattern_type_filter = f[i].pattern_type_filter;
        req.principal_filter = f[i].principal_filter;
        req.host_filter = f[i].host_filter;
        req.operation = f[i].operation;
        req.permission_type = f[i].permission_type;
        void *body;
        int err = rn_conn_call(conn, RN_API_DESCRIBE_ACLS, v, &req, &cli->arena, &body);
        if (err != 0)
            return rn_cli_call_failed(cli, conn, err, "DescribeAcls");
        const rn_describe_acls_response_t *resp = body;
        if (resp->error_code != 0)
            return kerr_fail(cli, resp->error_code, resp->error_message, "");
        for (int r = 0; r < resp->resources.count; r++) {
            const rn_describe_acls_resource_t *res = &resp->resources.items[r];
            for (int a = 0; a < res->acls.count; a++) {
                const rn_acl_description_t *d = &res->acls.items[a];
                if (nrows == cap) {
                    cap = cap ? cap * 2 : 16;
                    acl_row_t *grown = rn_arena_calloc(&cli->arena, (size_t)cap, sizeof(*grown));
                    if (nrows > 0)
                        memcpy(grown, rows, (size_t)nrows * sizeof(*rows));
                    rows = grown;
                }
                rows[nrows++] =
                    (acl_row_t){cstr(cli, d->principal),
                                cstr(cli, d->host),
                                rn_aclnames_operation(d->operation),
                                rn_aclnames_permission(d->permission_type),
                                rn_aclnames_resource(res->resource_type),
                                cstr(cli, res->resource_name),
                                rn_aclnames_pattern(v >= 1 ? res->pattern_type : PAT_LITERAL)};
            }
        }
    }
    print_rows(cli, rows, nrows, "no ACL bindings match");
    return 0;
}

int rn_cli_acl_delete(rn_cli_t *cli, int argc, char **argv)
{
    acl_opts_t o;
    int st = parse(cli, argc, argv, &o);
    if (st != 0)
        return st;
    if (o.nres == 0 && o.nallow + o.ndeny + o.nprincipals == 0)
        return rn_cli_usage(cli, "name what to delete: a resource (--topic, --group, "
                                 "--transactional-id, --cluster) and/or a principal");
    rn_delete_acls_filter_t *f;
    int nf;
    build_filters(cli, &o, true, &f, &nf);
    int16_t v = -1;
    rn_conn_t *conn = rn_cli_boot_api(cli, NULL, RN_API_DELETE_ACLS, "DeleteAcls", &v, &st);
    if (conn == NULL)
        return st;
    rn_delete_acls_request_t req;
    rn_delete_acls_request_init(&req);
    req.filters = (rn_delete_acls_filter_array_t){nf, f};
    void *body;
    int err = rn_conn_call(conn, RN_API_DELETE_ACLS, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_call_failed(cli, conn, err, "DeleteAcls");
    const rn_delete_acls_response_t *resp = body;
    int total = 0;
    for (int i = 0; i < resp->filter_results.count; i++) {
        const rn_delete_acls_filter_result_t *fr = &resp->filter_results.items[i];
        if (fr->error_code != 0)
            return kerr_fail(cli, fr->error_code, fr->error_message, "");
        total += fr->matching_acls.count > 0 ? fr->matching_acls.count : 0;
    }
    acl_row_t *rows = rn_arena_calloc(&cli->arena, (size_t)total + 1, sizeof(*rows));
    int k = 0;
    for (int i = 0; i < resp->filter_results.count; i++) {
        const rn_delete_acls_filter_result_t *fr = &resp->filter_results.items[i];
        for (int a = 0; a < fr->matching_acls.count; a++) {
            const rn_delete_acls_matching_acl_t *m = &fr->matching_acls.items[a];
            rows[k++] = (acl_row_t){cstr(cli, m->principal),
                                    cstr(cli, m->host),
                                    rn_aclnames_operation(m->operation),
                                    rn_aclnames_permission(m->permission_type),
                                    rn_aclnames_resource(m->resource_type),
                                    cstr(cli, m->resource_name),
                                    rn_aclnames_pattern(v >= 1 ? m->pattern_type : PAT_LITERAL)};
        }
    }
    if (!cli->json)
        printf("deleted %d ACL binding(s)%s\n", k, k > 0 ? ":" : "");
    if (k > 0 || cli->json)
        print_rows(cli, rows, k, "");
    return 0;
}
