/* rn_broker: start-up and shutdown of one runneld process (see rn_broker.h). */
#include "rn_handlers.h"
#include "controller/rn_cluster.h"
#include "quota/rn_quotas.h"
#include "rn_clock.h"
#include "data/rn_datapath.h"
#include "console/rn_console.h"
#include "ops/rn_http.h"
#include "ops/rn_metrics.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_hash.h"
#include "rn_log.h"
#include "rn_logmgr.h"
#include "rn_uuid.h"

#include <errno.h>
#include <string.h>

#include <openssl/ssl.h>
#include <sys/resource.h>

/* ---- data directory ---- */

static int open_datadir(rn_broker_t *b, char *err, size_t errlen)
{
    rn_uuid_t cluster, *want = NULL;
    const char *text = rn_config_str(b->cfg, RN_CFG_CLUSTER_ID);
    if (text != NULL && *text != '\0') {
        if (rn_uuid_from_base64(text, strlen(text), &cluster) != 0) {
            snprintf(err, errlen,
                     "%s: cluster.id \"%s\" is not a Kafka cluster id (22 characters of "
                     "base64url, e.g. from kafka-storage.sh random-uuid)",
                     b->cfg->v[RN_CFG_CLUSTER_ID].source, text);
            return RN_EINVAL;
        }
        want = &cluster;
    } else if (b->cfg->n_voters > 0) {
        /* Without cluster.id, the voters of one --cluster must still agree on an id (every
         * quorum RPC checks it; Kafka has kafka-storage.sh format do this): derive it from
         * the voters list, the same on every node. */
        uint64_t h1 = 0x52554e4e454c31ull, h2 = 0x434c555354455232ull;
        for (int i = 0; i < b->cfg->n_voters; i++) {
            const rn_config_voter_t *v = &b->cfg->voters[i];
            char one[300];
            int n = snprintf(one, sizeof(one), "%d@%s:%d,", v->id, v->host, v->port);
            h1 = rn_hash_fnv1a(h1, one, (size_t)n);
            h2 = rn_hash_mix(h2 ^ h1);
        }
        for (int i = 0; i < 8; i++) {
            cluster.bytes[i] = (uint8_t)(h1 >> (56 - 8 * i));
            cluster.bytes[8 + i] = (uint8_t)(h2 >> (56 - 8 * i));
        }
        cluster.bytes[6] = (uint8_t)((cluster.bytes[6] & 0x0f) | 0x40); /* a v4-shaped uuid */
        cluster.bytes[8] = (uint8_t)((cluster.bytes[8] & 0x3f) | 0x80);
        want = &cluster;
    }
    /* The logs are opened by the data path once the topic registry (and so every topic's
     * log config) has been read from the locked directory. */
    rn_logmgr_opts_t opts = {
        .dir = b->cfg->data_dir,
        .node_id = b->node_id,
        .cluster_id = want,
        .defer_logs = true,
        .now_ms = rn_clock_wall_ms(),
    };
    rn_plog_config_default(&opts.config);
    int rc = rn_logmgr_open(&opts, &b->logmgr, err, errlen);
    if (rc != 0)
        return rc;
    rn_uuid_to_base64(&rn_datadir_meta(rn_logmgr_datadir(b->logmgr))->cluster_id, b->cluster_id);
    b->clean_start = rn_logmgr_was_clean_shutdown(b->logmgr);
    return 0;
}

/* clean: flush every log, write the checkpoints, close the logs, then the clean-shutdown
 * marker (the data path has saved its producer snapshots and epoch caches by now). */
static int close_datadir(rn_broker_t *b, bool clean, char *err, size_t errlen)
{
    int rc = rn_logmgr_close(b->logmgr, clean, NULL, 0, err, errlen);
    b->logmgr = NULL;
    return rc;
}

static void stop_modules(rn_broker_t *b)
{
    while (b->modules_started > 0) {
        const rn_broker_module_t *mod = &rn_broker_modules[--b->modules_started];
        if (mod->shutdown != NULL)
            mod->shutdown(b);
    }
}

/* ---- monitoring endpoint ---- */

static bool http_ready(void *arg, char *why, size_t whylen)
{
    return rn_broker_ready(arg, why, whylen);
}

/* Serve /metrics, /health and /ready when metrics.listen is set, and the console there when
 * console.enable. */
static int start_http(rn_broker_t *b, char *err, size_t errlen)
{
    const char *text = rn_config_str(b->cfg, RN_CFG_METRICS_LISTEN);
    bool console = rn_config_bool(b->cfg, RN_CFG_CONSOLE_ENABLE);
    if (text == NULL || *text == '\0') {
        if (!console)
            return 0;
        snprintf(err, errlen,
                 "%s: console.enable: the console is served on metrics.listen, which is not set "
                 "(e.g. metrics.listen: 127.0.0.1:9644)",
                 b->cfg->v[RN_CFG_CONSOLE_ENABLE].source);
        return RN_EINVAL;
    }
    char host[256];
    int port;
    if (rn_config_parse_hostport(text, host, sizeof(host), &port) != 0) {
        snprintf(err, errlen, "%s: metrics.listen: \"%s\" is not HOST:PORT (e.g. 127.0.0.1:9644)",
                 b->cfg->v[RN_CFG_METRICS_LISTEN].source, text);
        return RN_EINVAL;
    }
    if (console && (b->console = rn_console_new(b, err, errlen)) == NULL)
        return RN_EINVAL;
    rn_http_opts_t opts = {host,
                           port,
                           b->metrics,
                           http_ready,
                           b,
                           rn_config_int(b->cfg, RN_CFG_METRICS_CONNECTION_TIMEOUT_MS),
                           console ? rn_console_route : NULL,
                           b->console,
                           console && rn_console_writes(b->console) ? RN_CONSOLE_MAX_BODY : 0};
    b->http = rn_http_new(b->base, &opts, err, errlen);
    if (b->http == NULL)
        return RN_EIO;
    RN_INFO("broker", "metrics on http://%s:%d/metrics (also /health and /ready)",
            host[0] ? host : "0.0.0.0", rn_http_port(b->http));
    if (console)
        RN_INFO("broker", "console on http://%s:%d/console/ (%s, %s)", host[0] ? host : "0.0.0.0",
                rn_http_port(b->http),
                rn_config_bool(b->cfg, RN_CFG_CONSOLE_ALLOW_REMOTE) ? "any client"
                                                                    : "loopback clients only",
                rn_console_writes(b->console) ? "writes enabled" : "read-only");
    return 0;
}

/* This node has applied the metadata log up to the leader's high watermark (as far as it
 * knows it: a follower's high watermark comes with each Fetch answer). A node without
 * --cluster leads its quorum of one within a tick and is ready as before. */
static bool quorum_caught_up(const rn_broker_t *b)
{
    int64_t hw = rn_quorum_high_watermark(b->quorum);
    return hw >= 0 && rn_quorum_applied_offset(b->quorum) + 1 >= hw;
}

bool rn_broker_ready(const rn_broker_t *b, char *why, size_t whylen)
{
    const char *problem = NULL;
    if (b->stopping)
        problem = "shutting down";
    else if (b->server == NULL)
        problem = "not listening";
    else if (b->controller_id < 0)
        problem = "no controller quorum yet";
    else if (b->quorum != NULL && b->cfg->n_voters > 0 && !quorum_caught_up(b))
        problem = "metadata log not caught up with the quorum leader";
    else if (b->cluster != NULL && b->cfg->n_voters > 0 &&
             !rn_cluster_ready(b->cluster, why, whylen))
        return false; /* a single node is its own controller: ready as it listens */
    if (problem != NULL)
        snprintf(why, whylen, "%s", problem);
    return problem == NULL;
}

/* File descriptors max.connections leaves to the data path (segments, indexes,
 * checkpoints) when it is not set. */
#define RN_FD_RESERVE 64

/* max.connections; when not set, at most the open-files limit less RN_FD_RESERVE, so
 * clients alone cannot exhaust descriptors (over the limit they are accepted and closed
 * instead of stalling accept() at EMFILE while the data path fails to open files). */
static int32_t max_connections(const rn_config_t *cfg)
{
    int64_t max = rn_config_int(cfg, RN_CFG_MAX_CONNECTIONS);
    struct rlimit rl;
    if (!cfg->v[RN_CFG_MAX_CONNECTIONS].set && getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
        rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 2 * RN_FD_RESERVE &&
        (int64_t)(rl.rlim_cur - RN_FD_RESERVE) < max) {
        max = (int64_t)(rl.rlim_cur - RN_FD_RESERVE);
        RN_INFO("broker",
                "max.connections is %lld: the open-files limit (%llu) less %d for the data "
                "path",
                (long long)max, (unsigned long long)rl.rlim_cur, RN_FD_RESERVE);
    }
    return (int32_t)max;
}

/* Each listener's advertised endpoint, the bound port standing in for 0; the inter-broker
 * one is also this node's address for other nodes. */
static void advertise(rn_broker_t *b)
{
    const rn_config_t *cfg = b->cfg;
    b->listeners = rn_xcalloc((size_t)b->n_listeners, sizeof(*b->listeners));
    for (int i = 0; i < b->n_listeners; i++) {
        const rn_config_listener_t *lst = &cfg->listeners[i];
        b->listeners[i].name = lst->name;
        b->listeners[i].host = lst->advertised_host;
        b->listeners[i].port = lst->advertised_port != 0 ? lst->advertised_port
                                                         : rn_server_listener_port(b->server, i);
    }
    const rn_broker_listener_t *ib = &b->listeners[b->inter_broker_listener];
    snprintf(b->advertised_host, sizeof(b->advertised_host), "%s", ib->host);
    b->advertised_port = ib->port;
    /* A voter entry for this node that is not its controller listener would send the other
     * voters' RPCs elsewhere; worth a word at start-up, not a refusal (NAT, proxies). */
    for (int i = 0; i < cfg->n_voters; i++) {
        const rn_broker_listener_t *ctl = &b->listeners[b->controller_listener];
        if (cfg->voters[i].id == b->node_id && cfg->voters[i].port != ctl->port &&
            cfg->voters[i].port != rn_server_listener_port(b->server, b->controller_listener))
            RN_WARN("broker",
                    "controller.quorum.voters gives this node (%d) port %d, but controller RPCs "
                    "arrive on listener %s (port %d)",
                    b->node_id, cfg->voters[i].port, ctl->name, ctl->port);
    }
}

int rn_broker_start(rn_broker_t *b, rn_config_t *cfg, struct event_base *base, char *err,
                    size_t errlen)
{
    memset(b, 0, sizeof(*b));
    b->cfg = cfg;
    b->base = base;
    b->node_id = cfg->node_id;
    b->controller_id = cfg->n_voters > 0 ? -1 : cfg->node_id;
    b->n_listeners = cfg->n_listeners;
    b->inter_broker_listener = cfg->inter_broker_listener;
    b->controller_listener = cfg->controller_listener;

    /* TLS first: a listener without its certificate stops start-up before anything opens,
     * and the modules' inter-node connections need their contexts. */
    struct ssl_ctx_st **server_ctx = rn_xcalloc((size_t)cfg->n_listeners, sizeof(*server_ctx));
    int rc = rn__broker_tls_start(b, server_ctx, err, errlen);
    if (rc == 0)
        rc = open_datadir(b, err, errlen);
    if (rc != 0) {
        for (int i = 0; i < cfg->n_listeners; i++)
            SSL_CTX_free(server_ctx[i]);
        rn_free(server_ctx);
        rn__broker_tls_free(b);
        return rc;
    }
    /* Before the modules: they may register collectors in their init. */
    b->metrics = rn_metrics_new();
    rn_metrics_broker_register(b->metrics, b);
    b->topics = rn_topics_new(cfg, b->logmgr, b->node_id);
    rc = rn_topics_load(b->topics, err, errlen);
    if (rc != 0)
        goto fail;
    b->offload = rn_offload_new(base);
    if (b->offload == NULL) {
        snprintf(err, errlen, "cannot start the I/O worker thread: %s", strerror(errno));
        rc = RN_EIO;
        goto fail;
    }
    for (b->modules_started = 0; rn_broker_modules[b->modules_started].name != NULL;
         b->modules_started++) {
        const rn_broker_module_t *mod = &rn_broker_modules[b->modules_started];
        if (mod->init != NULL && (rc = mod->init(b, err, errlen)) != 0)
            goto fail;
    }

    rn_server_listen_t *listens = rn_xcalloc((size_t)cfg->n_listeners, sizeof(*listens));
    for (int i = 0; i < cfg->n_listeners; i++)
        listens[i] = (rn_server_listen_t){
            .name = cfg->listeners[i].name,
            .host = cfg->listeners[i].host,
            .port = cfg->listeners[i].port,
            .ssl_ctx = server_ctx[i],
            .sasl = cfg->listeners[i].protocol == RN_SECPROTO_SASL_PLAINTEXT ||
                    cfg->listeners[i].protocol == RN_SECPROTO_SASL_SSL,
        };
    rn_server_opts_t opts = {
        .listens = listens,
        .n_listens = (size_t)cfg->n_listeners,
        .max_request_bytes = (int32_t)rn_config_int(cfg, RN_CFG_SOCKET_REQUEST_MAX_BYTES),
        .idle_ms = rn_config_int(cfg, RN_CFG_CONNECTIONS_MAX_IDLE_MS),
        .read_timeout_ms = rn_config_int(cfg, RN_CFG_SOCKET_REQUEST_READ_TIMEOUT_MS),
        .max_connections = max_connections(cfg),
        .max_connections_per_ip = (int32_t)rn_config_int(cfg, RN_CFG_MAX_CONNECTIONS_PER_IP),
        .per_ip_overrides = rn_config_str(cfg, RN_CFG_MAX_CONNECTIONS_PER_IP_OVERRIDES),
        .queued_max_request_bytes = rn_config_int(cfg, RN_CFG_QUEUED_MAX_REQUEST_BYTES),
        .max_queued_response_bytes =
            rn_config_int(cfg, RN_CFG_CONNECTIONS_MAX_QUEUED_RESPONSE_BYTES),
        .send_buffer = (int)rn_config_int(cfg, RN_CFG_SOCKET_SEND_BUFFER_BYTES),
        .recv_buffer = (int)rn_config_int(cfg, RN_CFG_SOCKET_RECEIVE_BUFFER_BYTES),
        .apis = rn_broker_apis,
        .n_apis = rn_broker_napis,
        .ctx = b,
        .file_release = rn_datapath_release_file,
        .before_response = rn_quotas_before_response,
    };
    b->server = rn_server_new(base, &opts, err, errlen);
    rn_free(listens);
    for (int i = 0; i < cfg->n_listeners; i++)
        SSL_CTX_free(server_ctx[i]); /* the server holds its own references */
    rn_free(server_ctx);
    server_ctx = NULL;
    if (b->server == NULL) {
        rc = RN_EINVAL;
        goto fail;
    }
    advertise(b);
    rc = start_http(b, err, errlen);
    if (rc != 0)
        goto fail;
    return 0;

fail:;
    char ignored[256];
    rn_http_free(b->http);
    rn_console_free(b->console);
    rn_server_free(b->server);
    stop_modules(b);
    rn_offload_free(b->offload);
    rn_topics_free(b->topics);
    close_datadir(b, false, ignored, sizeof(ignored));
    rn_metrics_free(b->metrics);
    rn_free(b->listeners);
    if (server_ctx != NULL)
        for (int i = 0; i < cfg->n_listeners; i++)
            SSL_CTX_free(server_ctx[i]);
    rn_free(server_ctx);
    rn__broker_tls_free(b);
    memset(b, 0, sizeof(*b));
    return rc;
}

void rn_broker_drain(rn_broker_t *b)
{
    b->stopping = true;
    rn_server_drain(b->server);
}

bool rn_broker_drained(const rn_broker_t *b)
{
    return rn_server_drained(b->server) && rn_offload_pending(b->offload) == 0;
}

int rn_broker_close(rn_broker_t *b, bool clean, char *err, size_t errlen)
{
    /* Order matters: queued writes finish first (their done callbacks complete admin
     * requests on still-open connections), then the server cancels parked requests (their
     * cancel callbacks reach module state), then modules and topics go. The monitoring
     * endpoint closes first (a scrape reads all of these); the registry goes last (modules
     * remove their collectors when they stop). */
    rn_http_free(b->http);
    b->http = NULL;
    rn_console_free(b->console);
    b->console = NULL;
    rn_offload_free(b->offload);
    b->offload = NULL;
    rn_server_free(b->server);
    b->server = NULL;
    stop_modules(b);
    rn_topics_free(b->topics);
    b->topics = NULL;
    rn_metrics_free(b->metrics);
    b->metrics = NULL;
    rn_free(b->listeners);
    b->listeners = NULL;
    rn__broker_tls_free(b); /* after the modules: their peers use it */
    return close_datadir(b, clean, err, errlen);
}

int rn_broker_port(const rn_broker_t *b)
{
    return rn_server_listener_port(b->server, b->inter_broker_listener);
}

/* The i-th registered, unfenced broker of the metadata image, or NULL (and *n their
 * number) — the nodes clients are told about once brokers have registered. */
static const rn_mimage_broker_t *active_broker(const rn_broker_t *b, int i, int *n)
{
    const rn_mimage_broker_t *found = NULL;
    *n = 0;
    if (b->cluster == NULL)
        return NULL;
    const rn_mimage_t *img = rn_cluster_image(b->cluster);
    for (size_t k = 0; k < rn_mimage_broker_count(img); k++) {
        const rn_mimage_broker_t *br = rn_mimage_broker_at(img, k);
        if (!rn_mimage_broker_active(img, br->id))
            continue;
        if (*n == i)
            found = br;
        (*n)++;
    }
    return found;
}

/* A registered broker's endpoint on the listener called name; else its first. */
static void endpoint(const rn_mimage_broker_t *br, const char *name, const char **host,
                     int32_t *port)
{
    const rn_mimage_endpoint_t *ep = br->n_endpoints > 0 ? &br->endpoints[0] : NULL;
    for (int k = 0; name != NULL && k < br->n_endpoints; k++)
        if (strcmp(br->endpoints[k].name, name) == 0)
            ep = &br->endpoints[k];
    *host = ep != NULL ? ep->host : "";
    *port = ep != NULL ? ep->port : -1;
}

int rn_broker_node_count(const rn_broker_t *b)
{
    int n;
    active_broker(b, -1, &n);
    if (n > 0)
        return n;
    return b->cfg->n_voters > 0 ? b->cfg->n_voters : 1;
}

/* Without registered brokers (before the first registration): the voters, this node with
 * its advertised address. */
static void voter_node(const rn_broker_t *b, int i, int32_t *id, const char **host, int32_t *port)
{
    if (b->cfg->n_voters == 0 || b->cfg->voters[i].id == b->node_id) {
        *id = b->node_id;
        *host = b->advertised_host;
        *port = b->advertised_port;
        return;
    }
    *id = b->cfg->voters[i].id;
    *host = b->cfg->voters[i].host;
    *port = b->cfg->voters[i].port;
}

void rn_broker_node(const rn_broker_t *b, int i, int32_t *id, const char **host, int32_t *port)
{
    rn_broker_node_on(b, b->inter_broker_listener, i, id, host, port);
}

void rn_broker_node_on(const rn_broker_t *b, int listener, int i, int32_t *id, const char **host,
                       int32_t *port)
{
    int n;
    bool known = listener >= 0 && listener < b->n_listeners;
    const rn_mimage_broker_t *br = active_broker(b, i, &n);
    if (br != NULL) {
        *id = br->id;
        endpoint(br, known ? b->listeners[listener].name : NULL, host, port);
        return;
    }
    voter_node(b, i, id, host, port);
    if (*id == b->node_id && known) {
        *host = b->listeners[listener].host;
        *port = b->listeners[listener].port;
    }
}

bool rn_broker_is_node(const rn_broker_t *b, int32_t id)
{
    for (int i = 0; i < rn_broker_node_count(b); i++) {
        int32_t nid, port;
        const char *host;
        rn_broker_node(b, i, &nid, &host, &port);
        if (nid == id)
            return true;
    }
    return false;
}
