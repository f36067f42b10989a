/* runnel quota describe|alter: client quotas (DescribeClientQuotas 48, AlterClientQuotas 49)
 * on entities made of a user and/or a client id, each named or the default, with the
 * semantics of kafka-configs.sh --entity-type clients (see rn_cli.h). */
#include "rn_cli.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_str.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Kafka's DescribeClientQuotas match types. */
enum { MATCH_EXACT = 0, MATCH_DEFAULT = 1 };

enum {
    OPT_CLIENT_ID = 0x100,
    OPT_DEFAULT_CLIENT_ID,
    OPT_USER,
    OPT_DEFAULT_USER,
    OPT_ADD,
    OPT_DELETE,
    OPT_VALIDATE_ONLY,
};

/* One part of an entity: absent, the default (a null name on the wire) or a name. */
typedef struct qpart {
    bool given;
    const char *name; /* NULL: the default entity */
} qpart_t;

typedef struct quota_opts {
    bool alter; /* --add/--delete/--validate-only are alter's only */
    qpart_t user, client;
    const char **adds, **deletes; /* option values as given ("k=v,k=v", "k,k") */
    int nadds, ndeletes;
    bool validate_only;
} quota_opts_t;

static int set_part(rn_cli_t *cli, qpart_t *p, const char *what, const char *name)
{
    if (p->given)
        return rn_cli_usage(cli, "give one %s (--%s or --default-%s)", what, what, what);
    if (name != NULL && name[0] == '\0')
        return rn_cli_usage(cli, "the %s may not be empty; use --default-%s for the default", what,
                            what);
    *p = (qpart_t){true, name ? rn_cli_keep(cli, name) : NULL};
    return 0;
}

static int quota_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    quota_opts_t *o = ctx;
    switch (c) {
    case OPT_CLIENT_ID: return set_part(cli, &o->client, "client-id", arg);
    case OPT_DEFAULT_CLIENT_ID: return set_part(cli, &o->client, "client-id", NULL);
    case OPT_USER: return set_part(cli, &o->user, "user", arg);
    case OPT_DEFAULT_USER: return set_part(cli, &o->user, "user", NULL);
    }
    if (!o->alter)
        return RN_CLI_EXIT_USAGE;
    switch (c) {
    case OPT_ADD:
        o->adds = rn_xrealloc(o->adds, sizeof *o->adds * (size_t)(o->nadds + 1));
        o->adds[o->nadds++] = arg;
        return 0;
    case OPT_DELETE:
        o->deletes = rn_xrealloc(o->deletes, sizeof *o->deletes * (size_t)(o->ndeletes + 1));
        o->deletes[o->ndeletes++] = arg;
        return 0;
    case OPT_VALIDATE_ONLY: o->validate_only = true; return 0;
    }
    return RN_CLI_EXIT_USAGE;
}

/* "user=alice,client-id=<default>": user first, as kafka-configs.sh names entities. */
static const char *entity_text(rn_cli_t *cli, const qpart_t *user, const qpart_t *client)
{
    const char *u =
        user->given ? rn_cli_fmt(cli, "user=%s", user->name ? user->name : "<default>") : "";
    const char *c = client->given
                        ? rn_cli_fmt(cli, "client-id=%s", client->name ? client->name : "<default>")
                        : "";
    return rn_cli_fmt(cli, "%s%s%s", u, user->given && client->given ? "," : "", c);
}

static void json_entity(rn_cli_json_t *j, const qpart_t *user, const qpart_t *client)
{
    rn_cli_json_obj(j);
    if (user->given) {
        rn_cli_json_key(j, "user");
        rn_cli_json_str(j, user->name); /* null: the default user */
    }
    if (client->given) {
        rn_cli_json_key(j, "client-id");
        rn_cli_json_str(j, client->name);
    }
    rn_cli_json_end(j, '}');
}

/* Quota values are doubles on the wire; byte rates are integral and print as such. */
static const char *value_text(rn_cli_t *cli, double v)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0)
        return rn_cli_fmt(cli, "%.0f", v);
    return rn_cli_fmt(cli, "%.15g", v);
}

/* ---- describe ---- */

/* One entity of the answer, with the sort key that keeps the output stable. */
typedef struct qrow {
    qpart_t user, client;
    const char *text;
    const rn_describe_client_quotas_value_array_t *values;
} qrow_t;

static int cmp_row(const void *a, const void *b)
{
    return strcmp(((const qrow_t *)a)->text, ((const qrow_t *)b)->text);
}

static int cmp_value(const void *a, const void *b)
{
    const rn_describe_client_quotas_value_t *x = a, *y = b;
    int n = x->key.len < y->key.len ? x->key.len : y->key.len;
    int c = n > 0 ? memcmp(x->key.ptr, y->key.ptr, (size_t)n) : 0;
    return c != 0 ? c : (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

/* The entity parts of an answer entry; other entity types (ip) are shown by type. */
static qrow_t entry_row(rn_cli_t *cli, const rn_describe_client_quotas_entry_t *e)
{
    qrow_t row = {.values = &e->values};
    const char *other = "";
    for (int32_t i = 0; i < e->entity.count; i++) {
        const rn_describe_client_quotas_entity_t *ent = &e->entity.items[i];
        qpart_t part = {true, rn_str_arena_dup(&cli->arena, ent->entity_name)};
        if (rn_str_eq_cstr(ent->entity_type, "user"))
            row.user = part;
        else if (rn_str_eq_cstr(ent->entity_type, "client-id"))
            row.client = part;
        else
            other = rn_cli_fmt(cli, "%s%s%.*s=%s", other, other[0] ? "," : "",
                               RN_STR_ARGS(ent->entity_type), part.name ? part.name : "<default>");
    }
    row.text = entity_text(cli, &row.user, &row.client);
    if (other[0])
        row.text = rn_cli_fmt(cli, "%s%s%s", row.text, row.text[0] ? "," : "", other);
    return row;
}

static void print_rows(rn_cli_t *cli, qrow_t *rows, int n)
{
    if (cli->json) {
        rn_cli_json_t j;
        rn_cli_json_init(&j, stdout);
        rn_cli_json_arr(&j);
        for (int i = 0; i < n; i++) {
            rn_cli_json_obj(&j);
            rn_cli_json_key(&j, "entity");
            json_entity(&j, &rows[i].user, &rows[i].client);
            rn_cli_json_key(&j, "quotas");
            rn_cli_json_obj(&j);
            for (int32_t k = 0; k < rows[i].values->count; k++) {
                const rn_describe_client_quotas_value_t *qv = &rows[i].values->items[k];
                rn_cli_json_key(&j, rn_str_arena_dup(&cli->arena, qv->key));
                rn_cli_json_num(&j, qv->value);
            }
            rn_cli_json_end(&j, '}');
            rn_cli_json_end(&j, '}');
        }
        rn_cli_json_end(&j, ']');
        return;
    }
    if (n == 0) {
        printf("no client quotas match\n");
        return;
    }
    static const char *const head[] = {"ENTITY", "KEY", ">VALUE"};
    rn_cli_table_t tab;
    rn_cli_table_init(&tab, 3, head);
    for (int i = 0; i < n; i++)
        for (int32_t k = 0; k < rows[i].values->count; k++) {
            const rn_describe_client_quotas_value_t *qv = &rows[i].values->items[k];
            const char *row[] = {rows[i].text, rn_str_arena_dup(&cli->arena, qv->key),
                                 value_text(cli, qv->value)};
            rn_cli_table_add(&tab, row);
        }
    rn_cli_table_print(&tab, stdout);
}

static void add_component(rn_describe_client_quotas_request_t *req, const char *type,
                          const qpart_t *p)
{
    rn_describe_client_quotas_component_t *c = &req->components.items[req->components.count++];
    rn_describe_client_quotas_component_init(c);
    c->entity_type = rn_str(type);
    c->match_type = p->name ? MATCH_EXACT : MATCH_DEFAULT;
    c->match = p->name ? rn_str(p->name) : RN_STR_NULL;
}

int rn_cli_quota_describe(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"client-id", required_argument, NULL, OPT_CLIENT_ID},
        {"default-client-id", no_argument, NULL, OPT_DEFAULT_CLIENT_ID},
        {"user", required_argument, NULL, OPT_USER},
        {"default-user", no_argument, NULL, OPT_DEFAULT_USER},
        {NULL, 0, NULL, 0},
    };
    quota_opts_t o = {0};
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "", quota_opt, &o, &first);
    if (st == 0 && first < argc)
        st = rn_cli_usage(cli, "unexpected argument \"%s\"", argv[first]);
    int16_t v = -1;
    rn_conn_t *conn =
        st == 0 ? rn_cli_boot_api(cli, "client quotas need Kafka 2.6+ or runneld",
                                  RN_API_DESCRIBE_CLIENT_QUOTAS, "DescribeClientQuotas", &v, &st)
                : NULL;
    if (st != 0)
        return st;

    rn_describe_client_quotas_request_t req;
    rn_describe_client_quotas_request_init(&req);
    req.components.items = rn_arena_calloc(&cli->arena, 2, sizeof *req.components.items);
    req.components.count = 0;
    if (o.user.given)
        add_component(&req, "user", &o.user);
    if (o.client.given)
        add_component(&req, "client-id", &o.client);
    /* Like kafka-configs.sh: a filter names the whole entity (strict), none lists all. */
    req.strict = req.components.count > 0;

    void *body;
    int err = rn_conn_call(conn, RN_API_DESCRIBE_CLIENT_QUOTAS, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_call_failed(cli, conn, err, "DescribeClientQuotas");
    const rn_describe_client_quotas_response_t *resp = body;
    if (resp->error_code != 0)
        return rn_cli_fail(cli, rn_cli_kerr_status(resp->error_code), "%s: %s%s%.*s%s",
                           rn_cli_where(cli), rn_kerr_name(resp->error_code),
                           resp->error_message.len > 0 ? ": " : "",
                           RN_STR_ARGS(resp->error_message), rn_cli_kerr_hint(resp->error_code));
    int n = resp->entries.count > 0 ? resp->entries.count : 0;
    qrow_t *rows = rn_arena_calloc(&cli->arena, (size_t)n + 1, sizeof *rows);
    for (int i = 0; i < n; i++) {
        rows[i] = entry_row(cli, &resp->entries.items[i]);
        rn_describe_client_quotas_value_array_t *vals = &resp->entries.items[i].values;
        if (vals->count > 1)
            qsort(vals->items, (size_t)vals->count, sizeof *vals->items, cmp_value);
    }
    if (n > 1)
        qsort(rows, (size_t)n, sizeof *rows, cmp_row);
    print_rows(cli, rows, n);
    return 0;
}

/* ---- alter ---- */

/* Append the ops of one --add ("k=v,k=v") or --delete ("k,k") value. */
static int parse_ops(rn_cli_t *cli, const char *arg, bool remove, rn_alter_client_quotas_op_t *ops,
                     int *nops, int cap)
{
    const char *opt = remove ? "--delete" : "--add";
    char *s = rn_cli_keep(cli, arg);
    for (char *save = NULL, *item = strtok_r(s, ",", &save); item != NULL;
         item = strtok_r(NULL, ",", &save)) {
        if (*nops >= cap)
            return rn_cli_usage(cli, "too many quota keys in %s", opt);
        rn_alter_client_quotas_op_t *op = &ops[(*nops)++];
        rn_alter_client_quotas_op_init(op);
        op->remove = remove;
        char *eq = strchr(item, '=');
        if (remove) {
            if (eq != NULL)
                return rn_cli_usage(cli, "--delete takes quota keys without values, not \"%s\"",
                                    item);
            op->key = rn_str(item);
            continue;
        }
        if (eq == NULL || eq == item)
            return rn_cli_usage(cli, "--add takes KEY=VALUE[,KEY=VALUE...], not \"%s\"", item);
        *eq = '\0';
        char *end;
        op->key = rn_str(item);
        op->value = strtod(eq + 1, &end);
        if (eq[1] == '\0' || *end != '\0' || !isfinite(op->value))
            return rn_cli_usage(cli, "--add %s=%s: the value must be a number", item, eq + 1);
    }
    return 0;
}

static void print_altered(rn_cli_t *cli, const quota_opts_t *o, const char *entity,
                          const rn_alter_client_quotas_op_t *ops, int nops)
{
    if (cli->json) {
        rn_cli_json_t j;
        rn_cli_json_init(&j, stdout);
        rn_cli_json_obj(&j);
        rn_cli_json_key(&j, "entity");
        json_entity(&j, &o->user, &o->client);
        rn_cli_json_key(&j, "validate_only");
        rn_cli_json_bool(&j, o->validate_only);
        rn_cli_json_key(&j, "set");
        rn_cli_json_obj(&j);
        for (int i = 0; i < nops; i++)
            if (!ops[i].remove) {
                rn_cli_json_key(&j, ops[i].key.ptr);
                rn_cli_json_num(&j, ops[i].value);
            }
        rn_cli_json_end(&j, '}');
        rn_cli_json_key(&j, "deleted");
        rn_cli_json_arr(&j);
        for (int i = 0; i < nops; i++)
            if (ops[i].remove)
                rn_cli_json_rnstr(&j, ops[i].key);
        rn_cli_json_end(&j, ']');
        rn_cli_json_end(&j, '}');
        return;
    }
    printf("%s quotas of %s:", o->validate_only ? "validated change of" : "updated", entity);
    for (int i = 0; i < nops; i++) {
        if (ops[i].remove)
            printf(" -%.*s", RN_STR_ARGS(ops[i].key));
        else
            printf(" %.*s=%s", RN_STR_ARGS(ops[i].key), value_text(cli, ops[i].value));
    }
    printf("\n");
}

static int alter(rn_cli_t *cli, quota_opts_t *o)
{
    /* Each option value holds at most strlen/2+1 keys; count them generously. */
    int cap = 0;
    for (int i = 0; i < o->nadds; i++)
        cap += (int)strlen(o->adds[i]) / 2 + 1;
    for (int i = 0; i < o->ndeletes; i++)
        cap += (int)strlen(o->deletes[i]) / 2 + 1;
    rn_alter_client_quotas_op_t *ops = rn_arena_calloc(&cli->arena, (size_t)cap, sizeof *ops);
    int nops = 0, st = 0;
    for (int i = 0; i < o->nadds && st == 0; i++)
        st = parse_ops(cli, o->adds[i], false, ops, &nops, cap);
    for (int i = 0; i < o->ndeletes && st == 0; i++)
        st = parse_ops(cli, o->deletes[i], true, ops, &nops, cap);
    if (st == 0 && nops == 0)
        st = rn_cli_usage(cli, "nothing to change: give --add KEY=VALUE or --delete KEY");
    int16_t v = -1;
    rn_conn_t *conn =
        st == 0 ? rn_cli_boot_api(cli, "client quotas need Kafka 2.6+ or runneld",
                                  RN_API_ALTER_CLIENT_QUOTAS, "AlterClientQuotas", &v, &st)
                : NULL;
    if (st != 0)
        return st;

    rn_alter_client_quotas_request_t req;
    rn_alter_client_quotas_request_init(&req);
    rn_alter_client_quotas_entry_t *entry =
        rn_alter_client_quotas_entry_array_alloc(&cli->arena, &req.entries, 1);
    rn_alter_client_quotas_entity_t *ent = rn_alter_client_quotas_entity_array_alloc(
        &cli->arena, &entry->entity, o->user.given ? 2 : 1);
    if (o->user.given) {
        ent->entity_type = rn_str("user");
        ent->entity_name = o->user.name ? rn_str(o->user.name) : RN_STR_NULL;
        ent++;
    }
    ent->entity_type = rn_str("client-id");
    ent->entity_name = o->client.name ? rn_str(o->client.name) : RN_STR_NULL;
    entry->ops.items = ops;
    entry->ops.count = nops;
    req.validate_only = o->validate_only;

    void *body;
    int err = rn_conn_call(conn, RN_API_ALTER_CLIENT_QUOTAS, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_call_failed(cli, conn, err, "AlterClientQuotas");
    const rn_alter_client_quotas_response_t *resp = body;
    const char *entity = entity_text(cli, &o->user, &o->client);
    for (int32_t i = 0; i < resp->entries.count; i++) {
        const rn_alter_client_quotas_result_t *r = &resp->entries.items[i];
        if (r->error_code == 0)
            continue;
        /* The broker's message names the key and the rule (Kafka's own wording). */
        const char *hint = r->error_code == RN_KERR_INVALID_REQUEST
                               ? " (see `runnel quota alter --help` for the keys and values)"
                               : rn_cli_kerr_hint(r->error_code);
        return rn_cli_fail(cli, rn_cli_kerr_status(r->error_code), "%s: %s%s%.*s%s", entity,
                           rn_kerr_name(r->error_code), r->error_message.len > 0 ? ": " : "",
                           RN_STR_ARGS(r->error_message), hint);
    }
    if (resp->entries.count < 1)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "%s: the broker answered without a result",
                           entity);
    print_altered(cli, o, entity, ops, nops);
    return 0;
}

int rn_cli_quota_alter(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"client-id", required_argument, NULL, OPT_CLIENT_ID},
        {"default-client-id", no_argument, NULL, OPT_DEFAULT_CLIENT_ID},
        {"user", required_argument, NULL, OPT_USER},
        {"default-user", no_argument, NULL, OPT_DEFAULT_USER},
        {"add", required_argument, NULL, OPT_ADD},
        {"delete", required_argument, NULL, OPT_DELETE},
        {"validate-only", no_argument, NULL, OPT_VALIDATE_ONLY},
        {NULL, 0, NULL, 0},
    };
    quota_opts_t o = {.alter = true};
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "", quota_opt, &o, &first);
    if (st == 0 && first < argc)
        st = rn_cli_usage(cli, "unexpected argument \"%s\"", argv[first]);
    if (st == 0 && !o.client.given)
        st = rn_cli_usage(cli, "name the client: --client-id ID or --default-client-id");
    if (st == 0)
        st = alter(cli, &o);
    rn_free(o.adds);
    rn_free(o.deletes);
    return st;
}
