/* rn_broker: one runneld process's state — configuration, event loop, server, data
 * directory, topics — and its start/stop sequence. API handlers reach it as req->ctx.
 *
 * Start: open the data directory through rn_logmgr (lock, meta.properties, flush thread),
 * load topics, start the offload thread and the modules listed in dispatch.c (the data path
 * opens the partition logs), then listen. Stop: stop accepting and reading
 * (rn_broker_drain), wait until rn_broker_drained or a deadline, then rn_broker_close lets
 * rn_logmgr flush, checkpoint and close the logs and write the clean-shutdown marker.
 */
#ifndef RN_BROKER_H
#define RN_BROKER_H

#include "rn_config.h"
#include "net/rn_offload.h"
#include "meta/rn_topics.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct rn_server;
struct rn_logmgr;
struct rn_metrics;
struct rn_http;
struct rn_peer_tls;
struct ssl_ctx_st;
struct rn_console;

/* One listener as clients connected to it are told to reach this node: its advertised
 * address, the bound port when advertised.listeners gives none. */
typedef struct rn_broker_listener {
    const char *name; /* cfg->listeners[i].name */
    const char *host;
    int32_t port;
} rn_broker_listener_t;

typedef struct rn_broker {
    rn_config_t *cfg;
    struct event_base *base;
    struct rn_server *server;
    rn_offload_t *offload;
    struct rn_logmgr *logmgr; /* the data directory and every partition log in it */
    rn_topics_t *topics;
    struct rn_datapath *datapath;      /* data-path module state (rn_datapath.h) */
    struct rn_replica *replica;        /* replicated partitions (replica/rn_replica.h) */
    struct rn_cleaner_thread *cleaner; /* log cleaner (rn_cleaner_thread.h); NULL when off */
    struct rn_gcoord *gcoord;          /* group coordinator (rn_gcoord.h) */
    struct rn_quorum *quorum;          /* the metadata quorum (quorum/rn_quorum.h) */
    struct rn_quotas *quotas;          /* client quotas (quota/rn_quotas.h) */
    struct rn_authz *authz;            /* the authorizer (acl/rn_authz.h); NULL when off */
    struct rn_auth *auth;              /* SASL logins (auth/rn_auth.h) */
    struct rn_cluster *cluster;        /* the metadata image, active controller (rn_cluster.h) */
    struct rn_metrics *metrics;        /* the metrics registry (rn_metrics.h); never NULL */
    struct rn_http *http;              /* /metrics, /health, /ready; NULL unless metrics.listen */
    struct rn_console *console;        /* the web console on http; NULL unless console.enable */
    char cluster_id[23];               /* base64, from meta.properties */
    int32_t node_id;
    int32_t controller_id; /* self for a single node; the quorum module updates it */
    /* Every listener (cfg->listeners order; req->listener indexes it), and the ones other
     * nodes and controller RPCs use. advertised_host/port are the inter-broker listener's
     * endpoint: this node's address for inter-node traffic (e.g. broker registration). */
    rn_broker_listener_t *listeners;
    int n_listeners;
    int inter_broker_listener;
    int controller_listener;
    /* TLS for this node's connections to the others' inter-broker and controller listeners
     * when those are SSL (rn_tls_client_ctx); NULL = plaintext. */
    struct rn_peer_tls *peer_tls_inter, *peer_tls_controller;
    char advertised_host[256];
    int advertised_port; /* the bound port when advertised.listeners gives none */
    bool clean_start;    /* the previous process stopped cleanly */
    /* auto.create.topics.rate's token bucket (handle_meta.c): topics Metadata may still
     * auto-create, refilled at the rate up to one second's worth. */
    double autocreate_tokens;
    int64_t autocreate_ms; /* monotonic time of the last refill; 0 = never */
    bool stopping;
    /* Modules of rn_broker_modules started so far, so a failed start or a close stops
     * exactly those. Per broker: several brokers may run in one process (simulation). */
    size_t modules_started;
} rn_broker_t;

/* A data-path or coordinator module with state in the broker (see dispatch.c). init runs
 * after topics are loaded and before the listener opens; shutdown runs after the server
 * is freed and before topics are. */
typedef struct rn_broker_module {
    const char *name;
    int (*init)(rn_broker_t *b, char *err, size_t errlen);
    void (*shutdown)(rn_broker_t *b);
} rn_broker_module_t;

/* Bring the broker up on base. 0, or RN_E* with a message in err (data dir locked or of
 * another node, registry corrupt, address in use). On failure everything opened is
 * closed again. cfg must outlive the broker. */
int rn_broker_start(rn_broker_t *b, rn_config_t *cfg, struct event_base *base, char *err,
                    size_t errlen);
/* Stop accepting connections and reading requests; answer what was read. */
void rn_broker_drain(rn_broker_t *b);
/* No request in flight, no output unwritten, no offloaded job pending. */
bool rn_broker_drained(const rn_broker_t *b);
/* Close everything; with clean, write the clean-shutdown marker last. 0 or RN_EIO. */
int rn_broker_close(rn_broker_t *b, bool clean, char *err, size_t errlen);

/* Ready to serve clients (the /ready endpoint): listening, not shutting down, and the
 * controller quorum known. Otherwise false with the reason in why. */
bool rn_broker_ready(const rn_broker_t *b, char *why, size_t whylen);
/* Re-read the certificates, keys and trust stores of every SSL listener and of the
 * inter-node connections (SIGHUP): connections from now on use them, open ones keep theirs.
 * A listener whose files do not load keeps its old ones; 0, or RN_EINVAL with every
 * problem in err. */
int rn_broker_reload_tls(rn_broker_t *b, char *err, size_t errlen);

/* Internal to broker.c and broker_tls.c: build the SSL listeners' contexts into server_ctx
 * (one per listener, NULL for plaintext; the caller frees them) and b's peer TLS; free the
 * peer TLS. */
int rn__broker_tls_start(rn_broker_t *b, struct ssl_ctx_st **server_ctx, char *err, size_t errlen);
void rn__broker_tls_free(rn_broker_t *b);

/* The port the inter-broker listener is bound to. */
int rn_broker_port(const rn_broker_t *b);
/* The nodes to list in Metadata / DescribeCluster: the registered, unfenced brokers of the
 * metadata image, each at the advertised endpoint of its listener named like the one given
 * (else its first); before any broker registered, the voters (or this node alone). For
 * index i its id, host and port; the strings stay valid until the next metadata record is
 * applied. rn_broker_node is the same on the inter-broker listener. */
int rn_broker_node_count(const rn_broker_t *b);
void rn_broker_node(const rn_broker_t *b, int i, int32_t *id, const char **host, int32_t *port);
void rn_broker_node_on(const rn_broker_t *b, int listener, int i, int32_t *id, const char **host,
                       int32_t *port);
/* True when id is a node of the cluster. */
bool rn_broker_is_node(const rn_broker_t *b, int32_t id);

#endif
