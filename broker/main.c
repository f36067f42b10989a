/* runneld: parse the configuration, run the broker on one event loop, and stop cleanly.
 *
 * SIGTERM/SIGINT: in a cluster, first a controlled shutdown (the controller moves this
 * node's leaderships away and takes it off the ISRs, at most controlled.shutdown.timeout.ms,
 * serving meanwhile); then stop accepting and reading, answer what was already read (at
 * most RN_DRAIN_MS), close storage cleanly (clean-shutdown marker) and exit 0; a second
 * signal skips the waits. SIGHUP re-reads log.level from the config file and the SSL
 * listeners' certificates, keys and trust stores (open connections keep theirs). SIGPIPE is
 * ignored: a client that vanished shows up as a write error on its own connection.
 *
 * At start the soft open-file limit is raised to the hard one, as the JVM does for Kafka: a
 * partition costs one descriptor per segment (its .log), and max.partitions and
 * max.connections size themselves from the soft limit. */
#include "rn_clock.h"
#include "controller/rn_cluster.h"
#include "rn_broker.h"
#include "net/rn_server.h"
#include "rn_config.h"
#include "rn_err.h"
#include "rn_log.h"

#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define RN_DRAIN_MS 5000 /* longest wait for in-flight requests at shutdown */

typedef struct runneld {
    rn_broker_t broker;
    rn_config_t cfg;
    struct event_base *base;
    struct event *drain_timer;
    int64_t drain_start_ms; /* rn_clock_mono_ms when the drain started */
    int64_t stop_ms;        /* rn_clock_mono_ms at the first stop signal */
    int signals;
} runneld_t;

/* Soft RLIMIT_NOFILE up to the hard limit (an unlimited hard limit is left alone: the soft
 * one cannot be unlimited). A failure only leaves the limit as it was. */
static void raise_open_file_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_max == RLIM_INFINITY ||
        rl.rlim_cur >= rl.rlim_max)
        return;
    uint64_t was = (uint64_t)rl.rlim_cur;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        RN_WARN("main", "cannot raise the open-file limit from %" PRIu64 " to %" PRIu64 ": %s", was,
                (uint64_t)rl.rlim_max, strerror(errno));
        return;
    }
    RN_INFO("main", "open-file limit raised from %" PRIu64 " to the hard limit %" PRIu64, was,
            (uint64_t)rl.rlim_max);
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    runneld_t *rd = arg;
    long waited = (long)(rn_clock_mono_ms() - rd->drain_start_ms);
    if (rn_broker_drained(&rd->broker)) {
        RN_INFO("main", "in-flight requests answered after %ld ms", waited);
        event_base_loopbreak(rd->base);
    } else if (waited >= RN_DRAIN_MS) {
        RN_WARN("main", "stopping with requests still in flight after %d ms", RN_DRAIN_MS);
        event_base_loopbreak(rd->base);
    }
}

static void start_drain(runneld_t *rd)
{
    RN_INFO("main", "stopping; no new connections or requests, answering those in flight");
    rn_broker_drain(&rd->broker);
    rd->drain_start_ms = rn_clock_mono_ms();
    struct timeval tick = {0, 20000};
    event_add(rd->drain_timer, &tick);
}

static void on_left(void *arg, bool granted)
{
    runneld_t *rd = arg;
    long took = (long)(rn_clock_mono_ms() - rd->stop_ms);
    if (granted)
        RN_INFO("main", "controlled shutdown done in %ld ms: leaderships moved", took);
    else
        RN_WARN("main",
                "controlled shutdown not confirmed by the controller after %ld ms: "
                "stopping anyway",
                took);
    start_drain(rd);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    runneld_t *rd = arg;
    if (rd->signals++ > 0) {
        RN_WARN("main", "second %s: stopping without waiting", strsignal((int)sig));
        event_base_loopbreak(rd->base);
        return;
    }
    rd->stop_ms = rn_clock_mono_ms();
    RN_INFO("main", "%s received", strsignal((int)sig));
    if (rd->broker.cluster != NULL &&
        rn_cluster_controlled_shutdown(rd->broker.cluster, on_left, rd)) {
        RN_INFO("main", "controlled shutdown: asking the controller to move leaderships away");
        return;
    }
    start_drain(rd);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    runneld_t *rd = arg;
    char err[2048];
    if (rn_broker_reload_tls(&rd->broker, err, sizeof(err)) != 0)
        RN_WARN("main", "SIGHUP: %s", err);
    int level = rn_config_reload_log_level(&rd->cfg, err, sizeof(err));
    if (level < 0) {
        RN_WARN("main", "SIGHUP: keeping log level: %s", err);
        return;
    }
    rn_log_set_level((rn_log_level_t)level);
    RN_INFO("main", "SIGHUP: log.level is now %s", rd->cfg.v[RN_CFG_LOG_LEVEL].s);
}

int main(int argc, char **argv)
{
    static runneld_t rd;
    char err[1024];
    rn_config_init(&rd.cfg);
    int rc = rn_config_load(&rd.cfg, argc, argv, err, sizeof(err));
    if (rc == RN_CONFIG_HELP) {
        rn_config_usage(stdout, argv[0]);
        rn_config_free(&rd.cfg);
        return 0;
    }
    if (rc == RN_CONFIG_VERSION) {
        printf("runneld %s\n", RN_VERSION);
        rn_config_free(&rd.cfg);
        return 0;
    }
    if (rc < 0) {
        fprintf(stderr, "runneld: %s\n", err);
        rn_config_free(&rd.cfg);
        return 2;
    }
    rn_log_set_level((rn_log_level_t)rd.cfg.log_level);
    rn_log_set_node(rd.cfg.node_id);
    signal(SIGPIPE, SIG_IGN);
    raise_open_file_limit();

    rd.base = event_base_new();
    if (rd.base == NULL) {
        RN_ERROR("main", "cannot create the event loop");
        return 1;
    }
    RN_INFO("main", "runneld %s starting: node.id %d, data dir %s, %s", RN_VERSION, rd.cfg.node_id,
            rd.cfg.data_dir,
            rd.cfg.n_voters > 0 ? "cluster of the voters in controller.quorum.voters"
                                : "single-node cluster");
    rc = rn_broker_start(&rd.broker, &rd.cfg, rd.base, err, sizeof(err));
    if (rc != 0) {
        RN_ERROR("main", "cannot start: %s", err);
        event_base_free(rd.base);
        rn_config_free(&rd.cfg);
        return 1;
    }
    RN_INFO("main", "cluster id %s; %s", rd.broker.cluster_id,
            rd.broker.clean_start ? "the previous run stopped cleanly"
                                  : "no clean-shutdown marker (new directory or a crash)");
    for (int i = 0; i < rd.broker.n_listeners; i++) {
        const rn_config_listener_t *lst = &rd.cfg.listeners[i];
        RN_INFO("main", "listener %s on %s:%d, advertised as %s:%d%s%s", lst->name,
                lst->host[0] ? lst->host : "0.0.0.0", rn_server_listener_port(rd.broker.server, i),
                rd.broker.listeners[i].host, rd.broker.listeners[i].port,
                i == rd.broker.inter_broker_listener ? " (inter-broker)" : "",
                i == rd.broker.controller_listener ? " (controller)" : "");
    }

    struct event *sigterm = evsignal_new(rd.base, SIGTERM, on_stop_signal, &rd);
    struct event *sigint = evsignal_new(rd.base, SIGINT, on_stop_signal, &rd);
    struct event *sighup = evsignal_new(rd.base, SIGHUP, on_hup, &rd);
    rd.drain_timer = event_new(rd.base, -1, EV_PERSIST, on_drain_tick, &rd);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_add(sighup, NULL);

    event_base_dispatch(rd.base);

    rc = rn_broker_close(&rd.broker, true, err, sizeof(err));
    if (rc != 0)
        RN_ERROR("main", "unclean stop: %s", err);
    else
        RN_INFO("main", "stopped cleanly");
    event_free(sigterm);
    event_free(sigint);
    event_free(sighup);
    event_free(rd.drain_timer);
    event_base_free(rd.base);
    rn_config_free(&rd.cfg);
    return rc == 0 ? 0 : 1;
}
