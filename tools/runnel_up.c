/* runnel cluster up: start a local cluster of N runneld nodes as daemons and return once it
 * serves: every node answers, all name the same metadata quorum leader, and every broker is
 * registered. Then the bootstrap list is the one line on stdout, so
 * `RUNNEL_BOOTSTRAP=$(runnel cluster up)` works; progress goes to stderr. Nodes already
 * running are left alone; missing ones are started. */
#include "rn_cli.h"
#include "rn_nodes.h"

#include "rn_err.h"
#include "rn_fsutil.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The cluster in o->dir: the one cluster.conf describes, which the options may not
 * contradict, or a new one laid out from the options. */
static int open_cluster(rn_cli_t *cli, const rn_cli_local_t *o, rn_nodes_t *c, bool *fresh)
{
    char err[RN_NODES_ERRLEN];
    if (rn_fsutil_mkdirs(o->dir, 0755, err, sizeof err) != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "cannot create the cluster directory: %s", err);
    int rc = rn_nodes_load(c, o->dir, err, sizeof err);
    *fresh = rc == RN_ENOTFOUND;
    if (*fresh)
        rc = rn_nodes_layout(c, o->dir, RN_NODES_HOST, o->port, o->nodes, err, sizeof err);
    if (rc != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "%s", err);
    if (!*fresh && ((o->nodes_set && o->nodes != c->n) || (o->port_set && o->port != c->port)))
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "%s holds a cluster of %d node%s on ports %d-%d (its cluster.conf); "
                           "leave out -n/--port to start that one, use another --dir, or stop "
                           "it (`runnel cluster down --dir %s`) and delete %s to start afresh "
                           "(its data is lost)",
                           c->dir, c->n, c->n == 1 ? "" : "s", c->port, c->port + c->n - 1, o->dir,
                           o->dir);
    rn_nodes_refresh(c);
    return 0;
}

/* The runneld to start: --runneld, else next to this program, else in PATH. */
static int find_runneld(rn_cli_t *cli, const rn_cli_local_t *o, char *out, size_t cap)
{
    if (o->runneld != NULL) {
        if (access(o->runneld, X_OK) != 0)
            return rn_cli_fail(cli, RN_CLI_EXIT_USAGE,
                               "--runneld %s: %s; give the path of a "
                               "runneld program",
                               o->runneld, strerror(errno));
        snprintf(out, cap, "%s", o->runneld);
        return 0;
    }
    char self[PATH_MAX], err[RN_NODES_ERRLEN];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = '\0';
    if (rn_nodes_find_runneld(self, getenv("PATH"), out, cap, err, sizeof err) != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "%s; build it (scripts/build.sh), install the runnel package, or "
                           "name it with --runneld PATH",
                           err);
    return 0;
}

/* Every port a node to be started needs must be free. */
static int check_ports(rn_cli_t *cli, const rn_nodes_t *c)
{
    for (int i = 0; i < c->n; i++) {
        const rn_nodes_node_t *node = &c->node[i];
        if (node->running)
            continue;
        char err[RN_NODES_ERRLEN];
        int rc = rn_nodes_port_free(c->host, node->port, err, sizeof err);
        if (rc == RN_EEXIST)
            return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                               "%s:%d (node %d) is in use by another program; stop it, or put "
                               "the cluster on other ports with --port FIRST and another --dir",
                               c->host, node->port, node->id);
        if (rc != 0)
            return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "node %d: %s", node->id, err);
    }
    return 0;
}

/* Stop the nodes this command started (after a failure): SIGTERM, up to 10 s, SIGKILL. */
static void stop_started(const rn_nodes_t *c, const bool *started)
{
    for (int i = 0; i < c->n; i++)
        if (started[i])
            kill(c->node[i].pid, SIGTERM);
    int64_t deadline = rn_cli_local_now_ms() + 10000;
    for (int i = 0; i < c->n; i++) {
        if (!started[i])
            continue;
        int status;
        while (waitpid(c->node[i].pid, &status, WNOHANG) == 0) {
            if (rn_cli_local_now_ms() > deadline) {
                kill(c->node[i].pid, SIGKILL);
                waitpid(c->node[i].pid, &status, 0);
                break;
            }
            rn_cli_local_sleep_ms(20);
        }
        unlink(c->node[i].pid_path);
    }
}

static int start_node(rn_cli_t *cli, const rn_cli_local_t *o, rn_nodes_t *c, int i,
                      const char *runneld, const char *voters)
{
    rn_nodes_node_t *node = &c->node[i];
    char id[16], listen[96];
    snprintf(id, sizeof id, "%d", node->id);
    snprintf(listen, sizeof listen, "%s:%d", c->host, node->port);
    /* The command line of scripts/cluster.sh, with absolute paths (rn_nodes_is_runneld). */
    char **argv = rn_arena_calloc(&cli->keep, 10 + (size_t)o->nextra, sizeof *argv);
    int k = 0;
    argv[k++] = (char *)runneld;
    argv[k++] = "--node-id";
    argv[k++] = id;
    argv[k++] = "--listen";
    argv[k++] = listen;
    argv[k++] = "--data-dir";
    argv[k++] = node->data_dir;
    argv[k++] = "--cluster";
    argv[k++] = (char *)voters;
    for (int e = 0; e < o->nextra; e++)
        argv[k++] = o->extra[e];
    argv[k] = NULL;
    char err[RN_NODES_ERRLEN];
    node->log_from = rn_nodes_file_size(node->log_path);
    if (rn_nodes_spawn(argv, node->log_path, &node->pid, err, sizeof err) != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "node %d: %s", node->id, err);
    node->running = true;
    if (rn_nodes_pid_write(node->pid_path, node->pid) != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "node %d: cannot write %s: %s", node->id,
                           node->pid_path, strerror(errno));
    return 0;
}

/* A node started here exited: say so with the end of its log. */
static int node_exited(rn_cli_t *cli, const rn_nodes_node_t *node, int status)
{
    char tail[4096];
    rn_nodes_tail(node->log_path, 12, tail, sizeof tail);
    char how[64];
    if (WIFEXITED(status))
        snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(status));
    else
        snprintf(how, sizeof how, "signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                       "node %d exited while starting (%s); the end of %s:\n%s"
                       "(the other nodes started now are stopped again)",
                       node->id, how, node->log_path, tail);
}

/* Whether every node started here says in its log that the controller unfenced it (the
 * moment its /ready turns true). Metadata alone cannot tell: before any broker is
 * registered and unfenced, a node lists every voter as a broker so that clients can
 * bootstrap, which looks just like a cluster whose brokers are all registered. */
static bool unfenced(const rn_nodes_node_t *node)
{
    char needle[64];
    snprintf(needle, sizeof needle, "node %d: unfenced by controller", node->id);
    return rn_nodes_log_has(node->log_path, node->log_from, needle);
}

static bool started_unfenced(const rn_nodes_t *c, const bool *started)
{
    for (int i = 0; i < c->n; i++)
        if (started[i] && !unfenced(&c->node[i]))
            return false;
    return true;
}

/* What is still missing when the wait runs out. */
static int not_ready(rn_cli_t *cli, const rn_cli_local_t *o, const rn_nodes_t *c,
                     const bool *started, const rn_cli_probe_t *pr)
{
    char what[512];
    if (pr->nanswer < c->n) {
        int i = 0;
        while (i < c->n && pr->node[i].answers)
            i++;
        snprintf(what, sizeof what, "node %d does not answer on %s:%d", c->node[i].id, c->host,
                 c->node[i].port);
    } else if (pr->leader_id < 0) {
        snprintf(what, sizeof what, "the nodes have elected no quorum leader");
    } else if (pr->nagree < c->n) {
        snprintf(what, sizeof what, "only %d of %d nodes know the quorum leader (node %d)",
                 pr->nagree, c->n, pr->leader_id);
    } else if (pr->nlisted < c->n) {
        snprintf(what, sizeof what, "only %d of %d brokers are registered and unfenced",
                 pr->nlisted, c->n);
    } else {
        int i = 0;
        while (i < c->n && !(started[i] && !unfenced(&c->node[i])))
            i++;
        snprintf(what, sizeof what, "node %d has not logged that the controller unfenced it",
                 c->node[i < c->n ? i : 0].id);
    }
    return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                       "not up within %d s: %s; the nodes keep running (see `runnel cluster "
                       "status --dir %s` and %s/node-*.log; stop them with `runnel cluster down "
                       "--dir %s`, or wait longer with --wait)",
                       o->wait_s, what, o->dir, c->dir, o->dir);
}

/* Wait until every node answers, names the same quorum leader and is a registered, unfenced
 * broker. A node started here that exits ends the wait (and stops the others started here). */
static int wait_ready(rn_cli_t *cli, const rn_cli_local_t *o, rn_nodes_t *c, const bool *started,
                      rn_cli_probe_t *pr)
{
    int64_t deadline = rn_cli_local_now_ms() + (int64_t)o->wait_s * 1000;
    for (;;) {
        for (int i = 0; i < c->n; i++) {
            int status;
            if (started[i] && waitpid(c->node[i].pid, &status, WNOHANG) == c->node[i].pid) {
                bool others[RN_NODES_MAX];
                memcpy(others, started, sizeof others);
                others[i] = false;
                unlink(c->node[i].pid_path);
                int st = node_exited(cli, &c->node[i], status);
                stop_started(c, others);
                return st;
            }
        }
        rn_cli_local_probe(cli, c, 1000, pr);
        if (pr->nanswer == c->n && pr->nagree == c->n && pr->nlisted == c->n &&
            started_unfenced(c, started))
            return 0;
        if (rn_cli_local_now_ms() >= deadline)
            return not_ready(cli, o, c, started, pr);
        rn_cli_local_sleep_ms(100);
    }
}

static void print_up(rn_cli_t *cli, const rn_nodes_t *c, const rn_cli_probe_t *pr, int nstarted,
                     double secs)
{
    char boot[RN_NODES_MAX * 80];
    rn_nodes_bootstrap(c, boot, sizeof boot);
    if (nstarted == 0)
        fprintf(stderr, "runnel cluster of %d nodes already running in %s\n", c->n, c->dir);
    else
        fprintf(stderr,
                "runnel cluster of %d nodes up in %.1f s: quorum leader node %d, %d brokers "
                "registered; data and logs in %s\n",
                c->n, secs, pr->leader_id, pr->nlisted, c->dir);
    if (cli->json) {
        rn_cli_json_t j;
        rn_cli_json_init(&j, stdout);
        rn_cli_json_obj(&j);
        rn_cli_json_key(&j, "bootstrap");
        rn_cli_json_str(&j, boot);
        rn_cli_json_key(&j, "dir");
        rn_cli_json_str(&j, c->dir);
        rn_cli_json_key(&j, "started");
        rn_cli_json_int(&j, nstarted);
        rn_cli_json_key(&j, "leader");
        rn_cli_json_int(&j, pr->leader_id);
        rn_cli_json_key(&j, "seconds");
        rn_cli_json_num(&j, secs);
        rn_cli_json_key(&j, "pids");
        rn_cli_json_arr(&j);
        for (int i = 0; i < c->n; i++)
            rn_cli_json_int(&j, c->node[i].pid);
        rn_cli_json_end(&j, ']');
        rn_cli_json_end(&j, '}');
    } else {
        printf("%s\n", boot);
    }
}

int rn_cli_cluster_up(rn_cli_t *cli, int argc, char **argv)
{
    rn_cli_local_t o;
    rn_nodes_t c;
    bool fresh;
    int st = rn_cli_local_parse(cli, argc, argv, "nprw-", &o);
    if (st == 0)
        st = open_cluster(cli, &o, &c, &fresh);
    if (st != 0)
        return st;
    int64_t start = rn_cli_local_now_ms();
    int nstart = c.n - rn_nodes_count_running(&c);
    char runneld[PATH_MAX], voters[RN_NODES_MAX * 80], err[RN_NODES_ERRLEN];
    if (nstart > 0) {
        st = find_runneld(cli, &o, runneld, sizeof runneld);
        if (st == 0)
            st = check_ports(cli, &c);
        if (st == 0 && rn_nodes_save(&c, err, sizeof err) != 0)
            st = rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "%s", err);
        if (st != 0)
            return st;
        rn_nodes_voters(&c, voters, sizeof voters);
        if (nstart == c.n)
            fprintf(stderr, "starting %d nodes with %s in %s\n", c.n, runneld, c.dir);
    }
    bool started[RN_NODES_MAX] = {false};
    for (int i = 0; i < c.n; i++) {
        if (c.node[i].running)
            continue;
        if (nstart < c.n)
            fprintf(stderr, "node %d is not running; starting it\n", c.node[i].id);
        st = start_node(cli, &o, &c, i, runneld, voters);
        if (st != 0) {
            started[i] = c.node[i].running;
            stop_started(&c, started);
            return st;
        }
        started[i] = true;
    }
    rn_cli_probe_t pr;
    st = wait_ready(cli, &o, &c, started, &pr);
    if (st != 0)
        return st;
    print_up(cli, &c, &pr, nstart, (double)(rn_cli_local_now_ms() - start) / 1000.0);
    return 0;
}
