/* runnel group list|describe|delete|reset-offsets: consumer groups through their
 * coordinators (ListGroups on every broker, DescribeGroups, OffsetFetch, ListOffsets for
 * lag, DeleteGroups, OffsetCommit as an admin with generation -1). */
#include "rn_cli.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_str.h"
#include "rn_vec.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* One committed offset (or an assigned partition without one: committed -1). */
typedef struct goff {
    char *topic;
    int32_t partition;
    int64_t committed;
    int64_t log_end;    /* -1 unknown */
    const char *member; /* assigned member id, NULL if none */
    const char *client_id, *host;
    int64_t target; /* reset-offsets: the new offset */
} goff_t;

typedef struct goffs {
    goff_t *items;
    int n;
    size_t cap;
} goffs_t;

static goff_t *goffs_find(goffs_t *g, const char *topic, int32_t partition, bool add)
{
    for (int i = 0; i < g->n; i++)
        if (g->items[i].partition == partition && strcmp(g->items[i].topic, topic) == 0)
            return &g->items[i];
    if (!add)
        return NULL;
    rn_vec_xreserve(g->items, g->cap, (size_t)g->n + 1);
    goff_t *o = &g->items[g->n++];
    memset(o, 0, sizeof *o);
    o->topic = (char *)topic;
    o->partition = partition;
    o->committed = -1;
    o->log_end = -1;
    return o;
}

static int cmp_goff(const void *a, const void *b)
{
    const goff_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

typedef struct committed_all_ctx {
    rn_cli_t *cli;
    goffs_t *out;
    rn_str_t topic; /* the answer's topic last seen, and its name copied into cli->keep */
    char *name;
} committed_all_ctx_t;

static void committed_all_one(void *ctx, rn_str_t topic, int32_t partition, int64_t committed,
                              int16_t error_code)
{
    committed_all_ctx_t *c = ctx;
    if (error_code != 0 || committed < 0)
        return;
    if (c->name == NULL || topic.ptr != c->topic.ptr || topic.len != c->topic.len) {
        c->topic = topic;
        c->name = rn_str_arena_dup(&c->cli->keep, topic);
    }
    goffs_find(c->out, c->name, partition, true)->committed = committed;
}

/* Every committed offset of the group (OffsetFetch with a null topic list). */
static int committed_all(rn_cli_t *cli, rn_conn_t *coord, const char *group, goffs_t *out)
{
    int16_t v = rn_conn_version(coord, RN_API_OFFSET_FETCH, -1);
    if (v < 2)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "the coordinator does not serve OffsetFetch v2+ (all topics)");
    committed_all_ctx_t c = {cli, out, {NULL, 0}, NULL};
    return rn_cli_offset_fetch(cli, coord, v, group, NULL, NULL, 0, RN_KERR_GROUP_ID_NOT_FOUND,
                               committed_all_one, &c);
}

/* Fill log_end (ListOffsets latest, or `timestamp`) of every entry; target gets the
 * answer too. Topics are looked up in one Metadata request. */
static int fetch_offsets(rn_cli_t *cli, goffs_t *g, int64_t timestamp, bool into_target)
{
    if (g->n == 0)
        return 0;
    const char **names = rn_xcalloc((size_t)g->n, sizeof *names);
    int nn = 0;
    for (int i = 0; i < g->n; i++) {
        int k = 0;
        while (k < nn && strcmp(names[k], g->items[i].topic) != 0)
            k++;
        if (k == nn)
            names[nn++] = g->items[i].topic;
    }
    rn_metadata_response_t *md;
    int st = rn_cli_metadata(cli, names, nn, false, &md);
    rn_free(names);
    if (st != 0)
        return st;
    rn_cli_offset_q_t *q = rn_xcalloc((size_t)g->n, sizeof *q);
    for (int i = 0; i < g->n; i++) {
        const rn_metadata_response_topic_t *t = rn_cli_md_topic(md, g->items[i].topic);
        const rn_metadata_response_partition_t *p =
            t ? rn_cli_md_partition(t, g->items[i].partition) : NULL;
        q[i] = (rn_cli_offset_q_t){.topic = g->items[i].topic,
                                   .partition = g->items[i].partition,
                                   .leader = p ? p->leader_id : -1,
                                   .timestamp = timestamp};
    }
    st = rn_cli_list_offsets(cli, q, g->n);
    for (int i = 0; i < g->n && st == 0; i++) {
        int64_t off = q[i].error == 0 ? q[i].offset : -1;
        if (into_target)
            g->items[i].target = off;
        else
            g->items[i].log_end = off;
    }
    rn_free(q);
    return st;
}

typedef struct group_desc {
    const rn_described_group_t *g;
    int16_t error;
} group_desc_t;

static int describe_groups(rn_cli_t *cli, rn_conn_t *coord, const char *group,
                           const rn_described_group_t **out)
{
    int16_t v = rn_conn_version(coord, RN_API_DESCRIBE_GROUPS, -1);
    if (v < 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "the coordinator does not serve a DescribeGroups version runnel speaks");
    rn_describe_groups_request_t req;
    rn_describe_groups_request_init(&req);
    rn_str_t name = rn_str(group);
    req.groups.count = 1;
    req.groups.items = &name;
    void *body;
    int err = rn_conn_call(coord, RN_API_DESCRIBE_GROUPS, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                           "DescribeGroups for \"%s\" failed: %s", group, rn_conn_error(coord));
    const rn_describe_groups_response_t *resp = body;
    if (resp->groups.count < 1)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "DescribeGroups for \"%s\" answered nothing",
                           group);
    *out = &resp->groups.items[0];
    return 0;
}

/* Every group on every broker: (name, state, type, coordinator). */
typedef struct listed {
    char *group, *state, *type;
    int32_t broker;
} listed_t;

static int cmp_listed(const void *a, const void *b)
{
    return strcmp(((const listed_t *)a)->group, ((const listed_t *)b)->group);
}

static int list_all(rn_cli_t *cli, listed_t **out, int *nout)
{
    *out = NULL;
    *nout = 0;
    rn_metadata_response_t *md;
    int st = rn_cli_metadata(cli, NULL, 0, false, &md);
    for (int32_t b = 0; st == 0 && b < md->brokers.count; b++) {
        int32_t id = md->brokers.items[b].node_id;
        rn_conn_t *conn = rn_cli_broker(cli, id, &st);
        if (conn == NULL)
            break;
        int16_t v = rn_conn_version(conn, RN_API_LIST_GROUPS, -1);
        if (v < 0) {
            st = rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                             "broker %d does not serve a ListGroups version runnel speaks", id);
            break;
        }
        rn_list_groups_request_t req;
        rn_list_groups_request_init(&req);
        void *body;
        int err = rn_conn_call(conn, RN_API_LIST_GROUPS, v, &req, &cli->arena, &body);
        if (err != 0) {
            st = rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                             "ListGroups to broker %d failed: %s", id, rn_conn_error(conn));
            break;
        }
        const rn_list_groups_response_t *resp = body;
        if (resp->error_code != 0 && resp->error_code != RN_KERR_COORDINATOR_LOAD_IN_PROGRESS) {
            st = rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "ListGroups to broker %d failed: %s%s", id,
                             rn_kerr_name(resp->error_code), rn_cli_kerr_hint(resp->error_code));
            break;
        }
        *out = rn_xrealloc(*out, sizeof **out * (size_t)(*nout + resp->groups.count + 1));
        for (int32_t i = 0; i < resp->groups.count; i++) {
            const rn_listed_group_t *g = &resp->groups.items[i];
            listed_t *l = &(*out)[(*nout)++];
            l->group = rn_str_arena_dup(&cli->keep, g->group_id);
            l->state = v >= 4 ? rn_str_arena_dup(&cli->keep, g->group_state) : NULL;
            l->type = rn_str_arena_dup(&cli->keep, g->protocol_type);
            l->broker = id;
        }
    }
    if (*nout > 1)
        qsort(*out, (size_t)*nout, sizeof **out, cmp_listed);
    return st;
}

int rn_cli_group_list(rn_cli_t *cli, int argc, char **argv)
{
    int first;
    int st = rn_cli_parse(cli, argc, argv, NULL, "", NULL, NULL, &first);
    if (st == 0 && first < argc)
        st = rn_cli_usage(cli, "unexpected argument \"%s\"", argv[first]);
    listed_t *l = NULL;
    int n = 0;
    if (st == 0)
        st = list_all(cli, &l, &n);
    if (st != 0) {
        rn_free(l);
        return st;
    }
    if (cli->json) {
        rn_cli_json_t j;
        rn_cli_json_init(&j, stdout);
        rn_cli_json_arr(&j);
        for (int i = 0; i < n; i++) {
            rn_cli_json_obj(&j);
            rn_cli_json_key(&j, "group");
            rn_cli_json_str(&j, l[i].group);
            rn_cli_json_key(&j, "state");
            rn_cli_json_str(&j, l[i].state);
            rn_cli_json_key(&j, "protocol_type");
            rn_cli_json_str(&j, l[i].type);
            rn_cli_json_key(&j, "coordinator");
            rn_cli_json_int(&j, l[i].broker);
            rn_cli_json_end(&j, '}');
        }
        rn_cli_json_end(&j, ']');
    } else {
        rn_cli_table_t tab;
        static const char *const head[] = {"GROUP", "STATE", "TYPE", ">COORDINATOR"};
        rn_cli_table_init(&tab, 4, head);
        for (int i = 0; i < n; i++) {
            const char *row[] = {l[i].group, l[i].state,
                                 l[i].type && l[i].type[0] ? l[i].type : NULL,
                                 rn_cli_fmt(cli, "%d", l[i].broker)};
            rn_cli_table_add(&tab, row);
        }
        rn_cli_table_print(&tab, stdout);
    }
    rn_free(l);
    return 0;
}

/* `group "x" not found on HOST; known groups: a, b`. */
static int group_not_found(rn_cli_t *cli, const char *group)
{
    listed_t *l = NULL;
    int n = 0;
    char known[400] = "";
    if (list_all(cli, &l, &n) == 0) {
        size_t len = 0;
        for (int i = 0; i < n; i++) {
            int k = snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", l[i].group);
            if (k < 0 || len + (size_t)k >= sizeof known - 8) {
                snprintf(known + len, sizeof known - len, ", ... (%d in all)", n);
                break;
            }
            len += (size_t)k;
        }
        if (n == 0)
            snprintf(known, sizeof known, "(none)");
    }
    rn_free(l);
    return rn_cli_fail(cli, RN_CLI_EXIT_NOTFOUND, "group \"%s\" not found on %s; known groups: %s",
                       group, rn_cli_where(cli), known[0] ? known : "(unknown)");
}

static bool group_is_gone(const rn_described_group_t *g)
{
    return g->error_code == RN_KERR_GROUP_ID_NOT_FOUND ||
           (rn_str_eq_cstr(g->group_state, "Dead") && g->members.count <= 0);
}

/* ---- describe ---- */

static void describe_json(rn_cli_t *cli, rn_cli_json_t *j, const char *group,
                          const rn_described_group_t *g, int32_t coord, const goffs_t *offs)
{
    rn_cli_json_obj(j);
    rn_cli_json_key(j, "group");
    rn_cli_json_str(j, group);
    rn_cli_json_key(j, "state");
    rn_cli_json_rnstr(j, g->group_state);
    rn_cli_json_key(j, "protocol_type");
    rn_cli_json_rnstr(j, g->protocol_type);
    rn_cli_json_key(j, "protocol");
    rn_cli_json_rnstr(j, g->protocol_data);
    rn_cli_json_key(j, "coordinator");
    rn_cli_json_int(j, coord);
    rn_cli_json_key(j, "members");
    rn_cli_json_arr(j);
    for (int32_t i = 0; i < g->members.count; i++) {
        const rn_described_group_member_t *m = &g->members.items[i];
        rn_cli_json_obj(j);
        rn_cli_json_key(j, "member_id");
        rn_cli_json_rnstr(j, m->member_id);
        rn_cli_json_key(j, "instance_id");
        rn_cli_json_rnstr(j, m->group_instance_id);
        rn_cli_json_key(j, "client_id");
        rn_cli_json_rnstr(j, m->client_id);
        rn_cli_json_key(j, "client_host");
        rn_cli_json_rnstr(j, m->client_host);
        rn_cli_json_key(j, "assignment");
        rn_cli_json_arr(j);
        rn_cli_cproto_t a;
        if (rn_str_eq_cstr(g->protocol_type, "consumer") &&
            rn_cli_cproto_decode(&cli->arena, m->member_assignment, true, &a) == 0) {
            for (int t = 0; t < a.ntopics; t++) {
                rn_cli_json_obj(j);
                rn_cli_json_key(j, "topic");
                rn_cli_json_str(j, a.topics[t].topic);
                rn_cli_json_key(j, "partitions");
                rn_cli_json_arr(j);
                for (int p = 0; p < a.topics[t].npartitions; p++)
                    rn_cli_json_int(j, a.topics[t].partitions[p]);
                rn_cli_json_end(j, ']');
                rn_cli_json_end(j, '}');
            }
        }
        rn_cli_json_end(j, ']');
        rn_cli_json_end(j, '}');
    }
    rn_cli_json_end(j, ']');
    rn_cli_json_key(j, "offsets");
    rn_cli_json_arr(j);
    for (int i = 0; i < offs->n; i++) {
        const goff_t *o = &offs->items[i];
        rn_cli_json_obj(j);
        rn_cli_json_key(j, "topic");
        rn_cli_json_str(j, o->topic);
        rn_cli_json_key(j, "partition");
        rn_cli_json_int(j, o->partition);
        rn_cli_json_key(j, "committed");
        if (o->committed >= 0)
            rn_cli_json_int(j, o->committed);
        else
            rn_cli_json_null(j);
        rn_cli_json_key(j, "log_end");
        if (o->log_end >= 0)
            rn_cli_json_int(j, o->log_end);
        else
            rn_cli_json_null(j);
        rn_cli_json_key(j, "lag");
        if (o->committed >= 0 && o->log_end >= 0)
            rn_cli_json_int(j, o->log_end - o->committed);
        else
            rn_cli_json_null(j);
        rn_cli_json_key(j, "member_id");
        rn_cli_json_str(j, o->member);
        rn_cli_json_end(j, '}');
    }
    rn_cli_json_end(j, ']');
    rn_cli_json_end(j, '}');
}

static int describe_one(rn_cli_t *cli, const char *group, rn_cli_json_t *j, bool first_group)
{
    int st;
    rn_conn_t *coord = rn_cli_coordinator(cli, group, &st);
    if (coord == NULL)
        return st;
    const rn_described_group_t *g;
    st = describe_groups(cli, coord, group, &g);
    if (st != 0)
        return st;
    goffs_t offs = {0};
    st = committed_all(cli, coord, group, &offs);
    if (st == 0 && group_is_gone(g) && offs.n == 0) {
        rn_free(offs.items);
        return group_not_found(cli, group);
    }
    if (st == 0 && g->error_code != 0 && g->error_code != RN_KERR_GROUP_ID_NOT_FOUND)
        st = rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "DescribeGroups for \"%s\": %s%s", group,
                         rn_kerr_name(g->error_code), rn_cli_kerr_hint(g->error_code));
    /* Assigned partitions join the committed ones, so a fresh member shows up too. */
    for (int32_t i = 0; st == 0 && i < g->members.count; i++) {
        const rn_described_group_member_t *m = &g->members.items[i];
        rn_cli_cproto_t a;
        if (!rn_str_eq_cstr(g->protocol_type, "consumer") ||
            rn_cli_cproto_decode(&cli->arena, m->member_assignment, true, &a) != 0)
            continue;
        for (int t = 0; t < a.ntopics; t++) {
            char *topic = rn_cli_keep(cli, a.topics[t].topic);
            for (int p = 0; p < a.topics[t].npartitions; p++) {
                goff_t *o = goffs_find(&offs, topic, a.topics[t].partitions[p], true);
                o->member = rn_str_arena_dup(&cli->keep, m->member_id);
                o->client_id = rn_str_arena_dup(&cli->keep, m->client_id);
                o->host = rn_str_arena_dup(&cli->keep, m->client_host);
            }
        }
    }
    if (offs.n > 1)
        qsort(offs.items, (size_t)offs.n, sizeof *offs.items, cmp_goff);
    if (st == 0)
        st = fetch_offsets(cli, &offs, -1, false);
    if (st == 0 && cli->json) {
        describe_json(cli, j, group, g, coord->node_id, &offs);
    } else if (st == 0) {
        if (!first_group)
            printf("\n");
        int nm = g->members.count > 0 ? g->members.count : 0;
        printf("group \"%s\": state %.*s, protocol %.*s%s%.*s, %d member%s, coordinator %d\n",
               group, RN_STR_ARGS(g->group_state), RN_STR_ARGS(g->protocol_type),
               g->protocol_data.len > 0 ? "/" : "", RN_STR_ARGS(g->protocol_data), nm,
               nm == 1 ? "" : "s", coord->node_id);
        int64_t total_lag = 0;
        rn_cli_table_t tab;
        static const char *const head[] = {"TOPIC", ">PARTITION", ">COMMITTED", ">LOG-END",
                                           ">LAG",  "MEMBER",     "CLIENT-ID",  "HOST"};
        rn_cli_table_init(&tab, 8, head);
        for (int i = 0; i < offs.n; i++) {
            const goff_t *o = &offs.items[i];
            bool lag = o->committed >= 0 && o->log_end >= 0;
            if (lag)
                total_lag += o->log_end - o->committed;
            const char *row[] = {
                o->topic,
                rn_cli_fmt(cli, "%d", o->partition),
                o->committed >= 0 ? rn_cli_fmt(cli, "%" PRId64, o->committed) : NULL,
                o->log_end >= 0 ? rn_cli_fmt(cli, "%" PRId64, o->log_end) : NULL,
                lag ? rn_cli_fmt(cli, "%" PRId64, o->log_end - o->committed) : NULL,
                o->member,
                o->client_id,
                o->host,
            };
            rn_cli_table_add(&tab, row);
        }
        rn_cli_table_print(&tab, stdout);
        printf("total lag: %" PRId64 "\n", total_lag);
    }
    rn_free(offs.items);
    return st;
}

int rn_cli_group_describe(rn_cli_t *cli, int argc, char **argv)
{
    int first;
    int st = rn_cli_parse(cli, argc, argv, NULL, "", NULL, NULL, &first);
    if (st == 0 && first >= argc)
        st = rn_cli_usage(cli, "name the group(s) to describe");
    if (st != 0)
        return st;
    rn_cli_json_t j;
    rn_cli_json_init(&j, stdout);
    if (cli->json)
        rn_cli_json_arr(&j);
    for (int i = first; i < argc; i++) {
        int s = describe_one(cli, argv[i], &j, i == first);
        st = st ? st : s;
        if (s == RN_CLI_EXIT_CONNECT)
            break;
    }
    if (cli->json)
        rn_cli_json_end(&j, ']');
    return st;
}

/* ---- delete ---- */

int rn_cli_group_delete(rn_cli_t *cli, int argc, char **argv)
{
    int first;
    int st = rn_cli_parse(cli, argc, argv, NULL, "", NULL, NULL, &first);
    if (st == 0 && first >= argc)
        st = rn_cli_usage(cli, "name the group(s) to delete");
    if (st != 0)
        return st;
    rn_cli_json_t j;
    rn_cli_json_init(&j, stdout);
    if (cli->json)
        rn_cli_json_arr(&j);
    for (int i = first; i < argc; i++) {
        const char *group = argv[i];
        int s = 0;
        rn_conn_t *coord = rn_cli_coordinator(cli, group, &s);
        int16_t code = -1;
        if (coord != NULL) {
            int16_t v = rn_conn_version(coord, RN_API_DELETE_GROUPS, -1);
            rn_delete_groups_request_t req;
            rn_delete_groups_request_init(&req);
            rn_str_t name = rn_str(group);
            req.groups_names.count = 1;
            req.groups_names.items = &name;
            void *body;
            int err = v < 0
                          ? RN_EUNSUPPORTED
                          : rn_conn_call(coord, RN_API_DELETE_GROUPS, v, &req, &cli->arena, &body);
            if (err != 0) {
                s = rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                                "DeleteGroups for \"%s\" failed: %s", group,
                                v < 0 ? "the coordinator does not serve DeleteGroups"
                                      : rn_conn_error(coord));
            } else {
                const rn_delete_groups_response_t *resp = body;
                code = resp->results.count > 0 ? resp->results.items[0].error_code : 0;
                if (code == RN_KERR_GROUP_ID_NOT_FOUND)
                    s = group_not_found(cli, group);
                else if (code != 0)
                    s = rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "cannot delete group \"%s\": %s%s",
                                    group, rn_kerr_name(code), rn_cli_kerr_hint(code));
                else if (!cli->json)
                    printf("deleted group \"%s\"\n", group);
            }
        }
        if (cli->json) {
            rn_cli_json_obj(&j);
            rn_cli_json_key(&j, "group");
            rn_cli_json_str(&j, group);
            rn_cli_json_key(&j, "deleted");
            rn_cli_json_bool(&j, code == 0);
            rn_cli_json_key(&j, "error");
            if (code > 0)
                rn_cli_json_str(&j, rn_kerr_name(code));
            else
                rn_cli_json_null(&j);
            rn_cli_json_end(&j, '}');
        }
        st = st ? st : s;
        if (s == RN_CLI_EXIT_CONNECT)
            break;
    }
    if (cli->json)
        rn_cli_json_end(&j, ']');
    return st;
}

/* ---- reset-offsets ---- */

enum {
    OPT_ALL_TOPICS = 0x100,
    OPT_EARLIEST,
    OPT_LATEST,
    OPT_TO_OFFSET,
    OPT_SHIFT,
    OPT_DATETIME,
    OPT_EXECUTE,
    OPT_DRY_RUN
};

typedef struct reset_opts {
    const char **topics; /* "topic" or "topic:0,1" */
    int ntopics;
    bool all_topics;
    int how; /* OPT_EARLIEST ... OPT_DATETIME, 0 = not given */
    int nhow;
    int64_t value;
    bool execute;
} reset_opts_t;

static int reset_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    reset_opts_t *o = ctx;
    switch (c) {
    case 't':
        o->topics = rn_xrealloc(o->topics, sizeof *o->topics * (size_t)(o->ntopics + 1));
        o->topics[o->ntopics++] = arg;
        return 0;
    case OPT_ALL_TOPICS: o->all_topics = true; return 0;
    case OPT_EXECUTE: o->execute = true; return 0;
    case OPT_DRY_RUN: o->execute = false; return 0;
    case OPT_EARLIEST:
    case OPT_LATEST: o->how = c, o->nhow++; return 0;
    case OPT_TO_OFFSET:
        o->how = c, o->nhow++;
        return rn_cli_parse_i64(cli, "--to-offset", arg, 0, INT64_MAX, &o->value);
    case OPT_SHIFT:
        o->how = c, o->nhow++;
        return rn_cli_parse_i64(cli, "--shift-by", arg, INT64_MIN / 2, INT64_MAX / 2, &o->value);
    case OPT_DATETIME:
        o->how = c, o->nhow++;
        return rn_cli_parse_time(cli, "--to-datetime", arg, &o->value);
    }
    return RN_CLI_EXIT_USAGE;
}

/* Add the partitions named by "topic[:p,p]" to offs. */
static int add_topic_spec(rn_cli_t *cli, const char *spec, goffs_t *offs)
{
    const char *colon = strchr(spec, ':');
    char *topic = rn_cli_keep(cli, spec);
    if (colon)
        topic[colon - spec] = '\0';
    rn_metadata_response_t *md;
    const rn_metadata_response_topic_t *t;
    int st = rn_cli_topic_md(cli, topic, false, &md, &t);
    if (st != 0)
        return st;
    if (colon == NULL) {
        for (int32_t i = 0; i < t->partitions.count; i++)
            goffs_find(offs, topic, t->partitions.items[i].partition_index, true);
        return 0;
    }
    char *list = rn_cli_keep(cli, colon + 1);
    for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        int32_t p;
        st = rn_cli_parse_i32(cli, "--topic TOPIC:PARTITIONS", tok, 0, INT32_MAX, &p);
        if (st != 0)
            return st;
        if (rn_cli_md_partition(t, p) == NULL)
            return rn_cli_fail(cli, RN_CLI_EXIT_NOTFOUND,
                               "topic \"%s\" has partitions 0-%d; there is no partition %d", topic,
                               t->partitions.count - 1, p);
        goffs_find(offs, topic, p, true);
    }
    return 0;
}

/* OffsetCommit as an admin (generation -1, no member): works on groups without members. */
static int commit_admin(rn_cli_t *cli, rn_conn_t *coord, const char *group, const goffs_t *offs)
{
    int16_t v = rn_conn_version(coord, RN_API_OFFSET_COMMIT, -1);
    if (v < 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "the coordinator does not serve an OffsetCommit version runnel speaks");
    rn_offset_commit_request_t req;
    rn_offset_commit_request_init(&req);
    req.group_id = rn_str(group);
    req.generation_id_or_member_epoch = -1;
    req.member_id = rn_str("");
    rn_offset_commit_request_topic_t *topics =
        rn_offset_commit_request_topic_array_alloc(&cli->arena, &req.topics, offs->n);
    int nt = 0;
    for (int i = 0; i < offs->n; i++) {
        const goff_t *o = &offs->items[i];
        int t = 0;
        while (t < nt && !rn_str_eq_cstr(topics[t].name, o->topic))
            t++;
        if (t == nt) {
            topics[nt].name = rn_str(o->topic);
            rn_offset_commit_request_partition_array_alloc(&cli->arena, &topics[nt].partitions,
                                                           offs->n);
            topics[nt].partitions.count = 0;
            nt++;
        }
        rn_offset_commit_request_partition_t *p =
            &topics[t].partitions.items[topics[t].partitions.count++];
        p->partition_index = o->partition;
        p->committed_offset = o->target;
        p->committed_metadata = rn_str("");
    }
    req.topics.count = nt;
    void *body;
    int err = rn_conn_call(coord, RN_API_OFFSET_COMMIT, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                           "OffsetCommit for group \"%s\" failed: %s", group, rn_conn_error(coord));
    const rn_offset_commit_response_t *resp = body;
    for (int32_t ti = 0; ti < resp->topics.count; ti++)
        for (int32_t pi = 0; pi < resp->topics.items[ti].partitions.count; pi++) {
            int16_t code = resp->topics.items[ti].partitions.items[pi].error_code;
            if (code != 0)
                return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                                   "cannot commit group \"%s\" topic \"%.*s\" partition %d: %s%s",
                                   group, RN_STR_ARGS(resp->topics.items[ti].name),
                                   resp->topics.items[ti].partitions.items[pi].partition_index,
                                   rn_kerr_name(code), rn_cli_kerr_hint(code));
        }
    return 0;
}

int rn_cli_group_reset_offsets(rn_cli_t *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"topic", required_argument, NULL, 't'},
        {"all-topics", no_argument, NULL, OPT_ALL_TOPICS},
        {"to-earliest", no_argument, NULL, OPT_EARLIEST},
        {"to-latest", no_argument, NULL, OPT_LATEST},
        {"to-offset", required_argument, NULL, OPT_TO_OFFSET},
        {"shift-by", required_argument, NULL, OPT_SHIFT},
        {"to-datetime", required_argument, NULL, OPT_DATETIME},
        {"execute", no_argument, NULL, OPT_EXECUTE},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {NULL, 0, NULL, 0},
    };
    reset_opts_t o = {0};
    int first;
    int st = rn_cli_parse(cli, argc, argv, opts, "t:", reset_opt, &o, &first);
    if (st == 0 && argc - first != 1)
        st = rn_cli_usage(cli, "name exactly one group");
    if (st == 0 && o.nhow != 1)
        st = rn_cli_usage(cli, "give exactly one of --to-earliest, --to-latest, --to-offset, "
                               "--shift-by, --to-datetime");
    if (st == 0 && (o.ntopics == 0) == !o.all_topics)
        st = rn_cli_usage(cli, "give --topic TOPIC (repeatable) or --all-topics");
    const char *group = st == 0 ? argv[first] : NULL;
    rn_conn_t *coord = st == 0 ? rn_cli_coordinator(cli, group, &st) : NULL;
    const rn_described_group_t *g = NULL;
    if (st == 0)
        st = describe_groups(cli, coord, group, &g);
    if (st == 0 && g->members.count > 0)
        st = rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                         "group \"%s\" has %d active member%s (state %.*s); stop its consumers "
                         "before resetting offsets",
                         group, g->members.count, g->members.count == 1 ? "" : "s",
                         RN_STR_ARGS(g->group_state));
    goffs_t committed = {0}, offs = {0};
    if (st == 0)
        st = committed_all(cli, coord, group, &committed);
    if (st == 0 && o.all_topics) {
        if (committed.n == 0)
            st = rn_cli_fail(cli, RN_CLI_EXIT_NOTFOUND,
                             "group \"%s\" has no committed offsets; name topics with --topic",
                             group);
        for (int i = 0; st == 0 && i < committed.n; i++)
            goffs_find(&offs, committed.items[i].topic, committed.items[i].partition, true);
    }
    for (int i = 0; st == 0 && i < o.ntopics; i++)
        st = add_topic_spec(cli, o.topics[i], &offs);
    for (int i = 0; st == 0 && i < offs.n; i++) {
        goff_t *c = goffs_find(&committed, offs.items[i].topic, offs.items[i].partition, false);
        offs.items[i].committed = c ? c->committed : -1;
    }
    if (offs.n > 1)
        qsort(offs.items, (size_t)offs.n, sizeof *offs.items, cmp_goff);
    /* The log's range, then the target within it. */
    if (st == 0)
        st = fetch_offsets(cli, &offs, -1, false); /* log_end */
    if (st == 0)
        st = fetch_offsets(cli, &offs, -2, true); /* target = log start for now */
    int64_t *start = rn_xcalloc((size_t)offs.n + 1, sizeof *start);
    for (int i = 0; i < offs.n; i++)
        start[i] = offs.items[i].target;
    if (st == 0 && o.how == OPT_DATETIME)
        st = fetch_offsets(cli, &offs, o.value, true);
    for (int i = 0; st == 0 && i < offs.n; i++) {
        goff_t *x = &offs.items[i];
        int64_t lo = start[i], hi = x->log_end;
        if (lo < 0 || hi < 0) {
            st = rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                             "cannot read the offsets of \"%s\" partition %d (no leader?); check "
                             "`runnel topic describe %s`",
                             x->topic, x->partition, x->topic);
            break;
        }
        int64_t t;
        switch (o.how) {
        case OPT_EARLIEST: t = lo; break;
        case OPT_LATEST: t = hi; break;
        case OPT_TO_OFFSET: t = o.value; break;
        case OPT_SHIFT: t = (x->committed >= 0 ? x->committed : hi) + o.value; break;
        default: t = x->target >= 0 ? x->target : hi; break; /* datetime: -1 = past the end */
        }
        x->target = t < lo ? lo : t > hi ? hi : t;
    }
    rn_free(start);
    if (st == 0 && o.execute)
        st = commit_admin(cli, coord, group, &offs);
    if (st == 0 && cli->json) {
        rn_cli_json_t j;
        rn_cli_json_init(&j, stdout);
        rn_cli_json_obj(&j);
        rn_cli_json_key(&j, "group");
        rn_cli_json_str(&j, group);
        rn_cli_json_key(&j, "executed");
        rn_cli_json_bool(&j, o.execute);
        rn_cli_json_key(&j, "offsets");
        rn_cli_json_arr(&j);
        for (int i = 0; i < offs.n; i++) {
            rn_cli_json_obj(&j);
            rn_cli_json_key(&j, "topic");
            rn_cli_json_str(&j, offs.items[i].topic);
            rn_cli_json_key(&j, "partition");
            rn_cli_json_int(&j, offs.items[i].partition);
            rn_cli_json_key(&j, "previous");
            if (offs.items[i].committed >= 0)
                rn_cli_json_int(&j, offs.items[i].committed);
            else
                rn_cli_json_null(&j);
            rn_cli_json_key(&j, "new");
            rn_cli_json_int(&j, offs.items[i].target);
            rn_cli_json_end(&j, '}');
        }
        rn_cli_json_end(&j, ']');
        rn_cli_json_end(&j, '}');
    } else if (st == 0) {
        rn_cli_table_t tab;
        static const char *const head[] = {"TOPIC", ">PARTITION", ">PREVIOUS", ">NEW"};
        rn_cli_table_init(&tab, 4, head);
        for (int i = 0; i < offs.n; i++) {
            const goff_t *x = &offs.items[i];
            const char *row[] = {x->topic, rn_cli_fmt(cli, "%d", x->partition),
                                 x->committed >= 0 ? rn_cli_fmt(cli, "%" PRId64, x->committed)
                                                   : NULL,
                                 rn_cli_fmt(cli, "%" PRId64, x->target)};
            rn_cli_table_add(&tab, row);
        }
        rn_cli_table_print(&tab, stdout);
        if (o.execute)
            printf("committed new offsets for group \"%s\"\n", group);
        else
            printf("dry run: nothing changed; add --execute to commit these offsets\n");
    }
    rn_free(committed.items);
    rn_free(offs.items);
    rn_free(o.topics);
    return st;
}
