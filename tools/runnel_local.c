/* runnel cluster status / down, and what `up` shares with them: the local cluster's options
 * and the probe that asks every node whether it answers, who leads the metadata quorum and
 * which brokers are registered. The files and processes themselves are tools/nodes.c. */
#include "rn_cli.h"
#include "rn_nodes.h"

#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_str.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { OPT_RUNNELD = 0x2000, OPT_WAIT };

static const struct option local_opts[] = {
    {"nodes", required_argument, NULL, 'n'},     {"port", required_argument, NULL, 'p'},
    {"dir", required_argument, NULL, 'd'},       {"runneld", required_argument, NULL, OPT_RUNNELD},
    {"wait", required_argument, NULL, OPT_WAIT}, {NULL, 0, NULL, 0},
};

static int on_local_opt(rn_cli_t *cli, void *ctx, int c, const char *arg)
{
    rn_cli_local_t *o = ctx;
    int32_t v;
    int st;
    switch (c) {
    case 'n':
        st = rn_cli_parse_i32(cli, "--nodes", arg, 1, RN_NODES_MAX, &v);
        o->nodes = v;
        o->nodes_set = st == 0;
        return st;
    case 'p':
        st = rn_cli_parse_i32(cli, "--port", arg, 1, 65535, &v);
        o->port = v;
        o->port_set = st == 0;
        return st;
    case 'd': o->dir = arg; return 0;
    case OPT_RUNNELD: o->runneld = arg; return 0;
    case OPT_WAIT:
        st = rn_cli_parse_i32(cli, "--wait", arg, 1, 3600, &v);
        o->wait_s = v;
        o->wait_set = st == 0;
        return st;
    default: return RN_CLI_EXIT_USAGE;
    }
}

int rn_cli_local_parse(rn_cli_t *cli, int argc, char **argv, const char *allowed, rn_cli_local_t *o)
{
    memset(o, 0, sizeof *o);
    o->nodes = RN_NODES_DEFAULT_N;
    o->port = 9092;
    o->dir = RN_NODES_DEFAULT_DIR;
    o->wait_s = 30;
    int first;
    int st = rn_cli_parse(cli, argc, argv, local_opts, "n:p:d:", on_local_opt, o, &first);
    if (st != 0)
        return st;
    /* Each command takes only some of the options: refuse the others rather than ignore. */
    const char *given[] = {o->nodes_set ? "n--nodes" : NULL, o->port_set ? "p--port" : NULL,
                           o->runneld ? "r--runneld" : NULL, o->wait_set ? "w--wait" : NULL};
    for (size_t i = 0; i < sizeof given / sizeof given[0]; i++)
        if (given[i] != NULL && strchr(allowed, given[i][0]) == NULL)
            return rn_cli_usage(cli, "`runnel %s` takes no %s option", cli->cmd, given[i] + 1);
    if (first < argc) {
        if (strchr(allowed, '-') == NULL || strcmp(argv[first - 1], "--") != 0)
            return rn_cli_usage(cli, "unexpected argument \"%s\"", argv[first]);
        o->extra = argv + first;
        o->nextra = argc - first;
    }
    return 0;
}

int rn_cli_local_load(rn_cli_t *cli, const rn_cli_local_t *o, rn_nodes_t *c)
{
    char err[RN_NODES_ERRLEN];
    int rc = rn_nodes_load(c, o->dir, err, sizeof err);
    if (rc == RN_ENOTFOUND)
        return rn_cli_fail(cli, RN_CLI_EXIT_NOTFOUND,
                           "no local cluster in %s (it has no cluster.conf); start one with "
                           "`runnel cluster up --dir %s`",
                           o->dir, o->dir);
    if (rc != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "%s", err);
    rn_nodes_refresh(c);
    return 0;
}

int64_t rn_cli_local_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void rn_cli_local_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- the probe ---- */

/* DescribeQuorum through conn: the leader, epoch and high watermark it names (a follower
 * forwards the question to the leader), and each voter's log end. */
static void ask_quorum(rn_cli_t *cli, rn_conn_t *conn, rn_cli_probe_node_t *pn, rn_cli_probe_t *pr)
{
    int16_t v = rn_conn_version(conn, RN_API_DESCRIBE_QUORUM, -1);
    if (v < 0)
        return;
    rn_describe_quorum_request_t req;
    rn_describe_quorum_request_init(&req);
    rn_describe_quorum_req_topic_data_t *t =
        rn_describe_quorum_req_topic_data_array_alloc(&cli->arena, &req.topics, 1);
    rn_describe_quorum_req_partition_data_t *p =
        t ? rn_describe_quorum_req_partition_data_array_alloc(&cli->arena, &t->partitions, 1)
          : NULL;
    if (p == NULL)
        return;
    t->topic_name = rn_str("__cluster_metadata");
    p->partition_index = 0;
    void *body;
    if (rn_conn_call(conn, RN_API_DESCRIBE_QUORUM, v, &req, &cli->arena, &body) != 0)
        return;
    const rn_describe_quorum_response_t *resp = body;
    if (resp->error_code != 0 || resp->topics.count != 1 ||
        resp->topics.items[0].partitions.count != 1)
        return;
    const rn_describe_quorum_resp_partition_data_t *qp = resp->topics.items[0].partitions.items;
    if (qp->error_code != 0 || qp->leader_id < 0)
        return;
    pn->leader_id = qp->leader_id;
    pn->epoch = qp->leader_epoch;
    if (qp->leader_epoch < pr->epoch)
        return;
    pr->leader_id = qp->leader_id;
    pr->epoch = qp->leader_epoch;
    pr->high_watermark = qp->high_watermark;
    for (int32_t i = 0; i < qp->current_voters.count; i++) {
        const rn_describe_quorum_resp_replica_state_t *rs = &qp->current_voters.items[i];
        if (rs->replica_id >= 1 && rs->replica_id <= RN_NODES_MAX)
            pr->node[rs->replica_id - 1].log_end = rs->log_end_offset;
    }
}

/* Metadata (no topics) through conn: the brokers it lists are registered and unfenced. */
static void ask_brokers(rn_cli_t *cli, rn_conn_t *conn, rn_cli_probe_t *pr)
{
    int16_t v = rn_conn_version(conn, RN_API_METADATA, -1);
    if (v < 1)
        return;
    rn_metadata_request_t req;
    rn_metadata_request_init(&req);
    req.topics.count = 0;
    req.allow_auto_topic_creation = false;
    void *body;
    if (rn_conn_call(conn, RN_API_METADATA, v, &req, &cli->arena, &body) != 0)
        return;
    const rn_metadata_response_t *md = body;
    pr->have_brokers = true;
    for (int32_t i = 0; i < md->brokers.count; i++) {
        int32_t id = md->brokers.items[i].node_id;
        if (id >= 1 && id <= RN_NODES_MAX)
            pr->node[id - 1].listed = true;
    }
}

void rn_cli_local_probe(rn_cli_t *cli, const rn_nodes_t *c, int timeout_ms, rn_cli_probe_t *pr)
{
    memset(pr, 0, sizeof *pr);
    pr->leader_id = -1;
    pr->epoch = -1;
    pr->high_watermark = -1;
    for (int i = 0; i < c->n; i++) {
        pr->node[i].leader_id = -1;
        pr->node[i].log_end = -1;
    }
    for (int i = 0; i < c->n; i++) {
        rn_cli_probe_node_t *pn = &pr->node[i];
        rn_conn_t conn;
        rn_conn_init(&conn);
        if (rn_conn_open(&conn, c->host, c->node[i].port, timeout_ms) != 0) {
            rn_conn_close(&conn);
            continue;
        }
        pn->answers = true;
        pr->nanswer++;
        ask_quorum(cli, &conn, pn, pr);
        if (!pr->have_brokers)
            ask_brokers(cli, &conn, pr);
        rn_conn_close(&conn);
    }
    for (int i = 0; i < c->n; i++) {
        pr->nlisted += pr->node[i].listed;
        pr->nagree +=
            pr->node[i].answers && pr->leader_id >= 0 && pr->node[i].leader_id == pr->leader_id;
    }
    rn_arena_reset(&cli->arena);
}

/* ---- status ---- */

static const char *node_state(const rn_nodes_node_t *node, const rn_cli_probe_node_t *pn)
{
    if (!node->running)
        return "stopped";
    return pn->answers ? "running" : "not answering";
}

static const char *node_role(const rn_nodes_node_t *node, const rn_cli_probe_t *pr)
{
    if (!node->running || !pr->node[node->id - 1].answers || pr->leader_id < 0)
        return NULL;
    return pr->leader_id == node->id ? "leader" : "follower";
}

static const char *node_broker(const rn_nodes_node_t *node, const rn_cli_probe_t *pr)
{
    if (!pr->have_brokers)
        return NULL;
    return pr->node[node->id - 1].listed ? "registered" : "fenced";
}

static void status_json(const rn_nodes_t *c, const rn_cli_probe_t *pr, const char *boot,
                        bool all_up)
{
    rn_cli_json_t j;
    rn_cli_json_init(&j, stdout);
    rn_cli_json_obj(&j);
    rn_cli_json_key(&j, "dir");
    rn_cli_json_str(&j, c->dir);
    rn_cli_json_key(&j, "bootstrap");
    rn_cli_json_str(&j, boot);
    rn_cli_json_key(&j, "up");
    rn_cli_json_bool(&j, all_up);
    rn_cli_json_key(&j, "leader");
    rn_cli_json_int(&j, pr->leader_id);
    rn_cli_json_key(&j, "epoch");
    rn_cli_json_int(&j, pr->epoch);
    rn_cli_json_key(&j, "nodes");
    rn_cli_json_arr(&j);
    for (int i = 0; i < c->n; i++) {
        const rn_nodes_node_t *node = &c->node[i];
        char addr[96];
        snprintf(addr, sizeof addr, "%s:%d", c->host, node->port);
        rn_cli_json_obj(&j);
        rn_cli_json_key(&j, "id");
        rn_cli_json_int(&j, node->id);
        rn_cli_json_key(&j, "address");
        rn_cli_json_str(&j, addr);
        rn_cli_json_key(&j, "pid");
        if (node->running)
            rn_cli_json_int(&j, node->pid);
        else
            rn_cli_json_null(&j);
        rn_cli_json_key(&j, "state");
        rn_cli_json_str(&j, node_state(node, &pr->node[i]));
        rn_cli_json_key(&j, "role");
        rn_cli_json_str(&j, node_role(node, pr));
        rn_cli_json_key(&j, "broker");
        rn_cli_json_str(&j, node_broker(node, pr));
        rn_cli_json_key(&j, "metadata_log_end");
        rn_cli_json_int(&j, pr->node[i].log_end);
        rn_cli_json_key(&j, "log");
        rn_cli_json_str(&j, node->log_path);
        rn_cli_json_end(&j, '}');
    }
    rn_cli_json_end(&j, ']');
    rn_cli_json_end(&j, '}');
}

int rn_cli_cluster_status(rn_cli_t *cli, int argc, char **argv)
{
    rn_cli_local_t o;
    rn_nodes_t c;
    int st = rn_cli_local_parse(cli, argc, argv, "", &o);
    if (st == 0)
        st = rn_cli_local_load(cli, &o, &c);
    if (st != 0)
        return st;
    rn_cli_probe_t pr;
    rn_cli_local_probe(cli, &c, cli->timeout_ms < 2000 ? cli->timeout_ms : 2000, &pr);
    char boot[RN_NODES_MAX * 80];
    rn_nodes_bootstrap(&c, boot, sizeof boot);
    int running = 0, answering = 0;
    for (int i = 0; i < c.n; i++) {
        running += c.node[i].running;
        answering += c.node[i].running && pr.node[i].answers;
    }
    bool all_up = answering == c.n && pr.leader_id >= 0;
    if (cli->json) {
        status_json(&c, &pr, boot, all_up);
        return all_up ? 0 : RN_CLI_EXIT_FAIL;
    }
    rn_cli_table_t tab;
    static const char *const head[] = {">NODE", "ADDRESS", ">PID",          "STATE",
                                       "ROLE",  "BROKER",  ">METADATA-END", "LOG"};
    rn_cli_table_init(&tab, 8, head);
    for (int i = 0; i < c.n; i++) {
        const rn_nodes_node_t *node = &c.node[i];
        const char *row[] = {
            rn_cli_fmt(cli, "%d", node->id),
            rn_cli_fmt(cli, "%s:%d", c.host, node->port),
            node->running ? rn_cli_fmt(cli, "%ld", (long)node->pid) : NULL,
            node_state(node, &pr.node[i]),
            node_role(node, &pr),
            node_broker(node, &pr),
            pr.node[i].log_end >= 0 ? rn_cli_fmt(cli, "%lld", (long long)pr.node[i].log_end) : NULL,
            rn_cli_fmt(cli, "%s", node->log_path),
        };
        rn_cli_table_add(&tab, row);
    }
    rn_cli_table_print(&tab, stdout);
    printf("%d of %d nodes running", running, c.n);
    if (answering < running)
        printf(" (%d not answering)", running - answering);
    if (pr.leader_id >= 0)
        printf("; quorum leader %d (epoch %d)", pr.leader_id, pr.epoch);
    else if (running > 0)
        printf("; no quorum leader");
    if (pr.have_brokers)
        printf("; %d brokers registered", pr.nlisted);
    printf("\nbootstrap: %s\n", boot);
    return all_up ? 0 : RN_CLI_EXIT_FAIL;
}

/* ---- down ---- */

int rn_cli_cluster_down(rn_cli_t *cli, int argc, char **argv)
{
    rn_cli_local_t o;
    rn_nodes_t c;
    int st = rn_cli_local_parse(cli, argc, argv, "w", &o);
    if (st == 0)
        st = rn_cli_local_load(cli, &o, &c);
    if (st != 0)
        return st;
    int64_t start = rn_cli_local_now_ms();
    int nstop = 0;
    for (int i = 0; i < c.n; i++) {
        if (c.node[i].running && kill(c.node[i].pid, SIGTERM) == 0)
            nstop++;
    }
    if (nstop > 0)
        fprintf(stderr, "stopping %d node%s of %s (SIGTERM)\n", nstop, nstop == 1 ? "" : "s",
                c.dir);
    int64_t deadline = start + (int64_t)o.wait_s * 1000;
    while (rn_cli_local_now_ms() < deadline) {
        bool left = false;
        for (int i = 0; i < c.n; i++)
            left |= c.node[i].running && rn_nodes_is_runneld(c.node[i].pid, c.node[i].data_dir);
        if (!left)
            break;
        rn_cli_local_sleep_ms(50);
    }
    int killed = 0;
    for (int i = 0; i < c.n; i++) {
        rn_nodes_node_t *node = &c.node[i];
        if (node->running && rn_nodes_is_runneld(node->pid, node->data_dir)) {
            kill(node->pid, SIGKILL);
            killed++;
            fprintf(stderr,
                    "runnel cluster down: node %d (pid %ld) did not stop within %d s; killed it "
                    "(SIGKILL); its log: %s\n",
                    node->id, (long)node->pid, o.wait_s, node->log_path);
        }
        if (unlink(node->pid_path) != 0 && errno != ENOENT)
            fprintf(stderr, "runnel cluster down: cannot remove %s: %s\n", node->pid_path,
                    strerror(errno));
    }
    double secs = (double)(rn_cli_local_now_ms() - start) / 1000.0;
    if (nstop == 0)
        printf("no node of %s was running; data kept in %s\n", c.dir, c.dir);
    else
        printf("stopped %d node%s in %.1f s%s; data kept in %s\n", nstop, nstop == 1 ? "" : "s",
               secs, killed ? rn_cli_fmt(cli, " (%d killed)", killed) : "", c.dir);
    return killed ? RN_CLI_EXIT_FAIL : 0;
}
