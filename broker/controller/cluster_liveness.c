/* cluster_liveness.c: the active controller notices at once a broker whose process is gone.
 * Kafka fences a broker only when its heartbeats stop for broker.session.timeout.ms (9 s),
 * so a killed partition leader leaves its partitions without a leader for that long. Here
 * the active controller also keeps a connection to every unfenced broker; when that
 * connection breaks and connecting again is refused (nothing listens at the broker's
 * address any more: the process exited or was killed), the broker is fenced right away,
 * which moves its leaderships to in-sync followers. A refusal is positive evidence: a
 * stopped (SIGSTOP) or cut-off broker does not refuse, its connection just goes quiet, and
 * it is fenced by the session timeout as before. */
#include "controller/rn_cluster.h"
#include "auth/rn_auth.h"
#include "rn_broker.h"

#include "rn_alloc.h"
#include "rn_log.h"
#include "rn_messages.h"
#include "rn_peer.h"
#include "rn_rpc.h"

#include <event2/event.h>

#include <string.h>

#define WATCH_EVERY_MS 200

typedef struct watched {
    int32_t id;
    int64_t epoch; /* the registration watched */
    rn_peer_t *peer;
    uint64_t refused; /* the peer's count at the last look */
} watched_t;

struct rn__live {
    rn_cluster_t *c;
    rn_broker_t *b;
    struct event *timer;
    watched_t nodes[RN_CLUSTER_MAX_NODES];
    int n;
    bool fencing; /* an operation is queued */
    int32_t fence_id;
    int64_t fence_epoch;
    rn_cluster_op_t op;
    bool stopped;
};

static void forget(watched_t *w)
{
    rn_peer_free(w->peer);
    memset(w, 0, sizeof(*w));
}

static watched_t *watch(rn__live_t *lv, const rn_mimage_broker_t *mb)
{
    watched_t *w = NULL;
    for (int i = 0; i < lv->n && w == NULL; i++)
        if (lv->nodes[i].id == mb->id)
            w = &lv->nodes[i];
    if (w != NULL && w->epoch == mb->epoch)
        return w->peer != NULL ? w : NULL;
    if (w != NULL)
        forget(w); /* a new incarnation: a new connection */
    else if (lv->n < RN_CLUSTER_MAX_NODES)
        w = &lv->nodes[lv->n++];
    else
        return NULL;
    w->id = mb->id;
    w->epoch = mb->epoch;
    const rn_mimage_endpoint_t *ep = rn_cluster_broker_endpoint(lv->c, mb);
    if (ep == NULL)
        return NULL; /* registered without endpoints: nothing to watch */
    rn_peer_opts_t po = {.host = ep->host,
                         .port = ep->port,
                         .node_id = mb->id,
                         .client_id = "runnel-controller-liveness",
                         .connect_timeout_ms = 2000,
                         .request_timeout_ms = 5000,
                         .backoff_initial_ms = 50,
                         .backoff_max_ms = 200,
                         .tls = lv->b->peer_tls_inter};
    rn_auth_login_t login;
    rn_auth_peer_opts(lv->b->cfg, &login, &po);
    w->peer = rn_peer_new(lv->b->base, &po);
    return w->peer != NULL ? w : NULL;
}

static void fence_decide(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset, rn_mrecs_t *out)
{
    (void)next_offset;
    rn__live_t *lv = op->arg;
    const rn_mimage_broker_t *mb = rn_mimage_broker(rn_cluster_image(c), lv->fence_id);
    if (mb == NULL || mb->fenced || mb->epoch != lv->fence_epoch)
        return; /* fenced already, or registered again meanwhile */
    RN_WARN("cluster",
            "node %d: broker %d refuses connections (its process is gone): fenced without "
            "waiting for broker.session.timeout.ms",
            lv->b->node_id, lv->fence_id);
    rn_controller_fence(rn_cluster_controller(c), lv->fence_id, out);
}

static void fence_done(rn_cluster_op_t *op, int rc)
{
    rn__live_t *lv = op->arg;
    if (rc != RN_ECANCELED)
        lv->fencing = false;
}

static void on_probe(void *arg, int status, const void *response)
{
    (void)arg;
    (void)status;
    (void)response; /* only the connection matters; refusals are counted by the peer */
}

static void look(rn__live_t *lv)
{
    const rn_mimage_t *img = rn_cluster_image(lv->c);
    for (size_t i = 0; i < rn_mimage_broker_count(img); i++) {
        const rn_mimage_broker_t *mb = rn_mimage_broker_at(img, i);
        if (mb->id == lv->b->node_id || mb->fenced)
            continue;
        watched_t *w = watch(lv, mb);
        if (w == NULL)
            continue;
        rn_peer_stats_t st;
        rn_peer_stats(w->peer, &st);
        bool refused = st.refused > w->refused;
        w->refused = st.refused;
        if (refused && !lv->fencing) {
            lv->fencing = true;
            lv->fence_id = mb->id;
            lv->fence_epoch = mb->epoch;
            lv->op = (rn_cluster_op_t){NULL, fence_decide, fence_done, lv};
            rn_cluster_submit(lv->c, &lv->op);
            continue;
        }
        /* An open connection is all that is watched; a closed one is opened again. */
        if (rn_peer_state(w->peer) != RN_PEER_READY && rn_peer_outstanding(w->peer) == 0) {
            rn_api_versions_request_t req;
            rn_api_versions_request_init(&req);
            rn_peer_send(w->peer, RN_API_API_VERSIONS, 0, &req, on_probe, lv);
        }
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rn__live_t *lv = arg;
    if (lv->stopped)
        return;
    if (lv->b->controller_id != lv->b->node_id) {
        for (int i = 0; i < lv->n; i++)
            forget(&lv->nodes[i]); /* only the active controller watches */
        lv->n = 0;
        return;
    }
    look(lv);
}

rn__live_t *rn__live_new(rn_cluster_t *c)
{
    rn__live_t *lv = rn_xcalloc(1, sizeof(*lv));
    lv->c = c;
    lv->b = rn_cluster_broker(c);
    lv->timer = event_new(lv->b->base, -1, EV_PERSIST, on_timer, lv);
    return lv;
}

void rn__live_start(rn__live_t *lv)
{
    if (lv->b->cfg->n_voters <= 1)
        return; /* a single node has nobody to watch */
    struct timeval tv = {0, WATCH_EVERY_MS * 1000};
    event_add(lv->timer, &tv);
}

void rn__live_stop(rn__live_t *lv)
{
    lv->stopped = true;
    event_del(lv->timer);
}

void rn__live_free(rn__live_t *lv)
{
    if (lv == NULL)
        return;
    for (int i = 0; i < lv->n; i++)
        forget(&lv->nodes[i]);
    event_free(lv->timer);
    rn_free(lv);
}
