/* rn_cluster: the image on every node, snapshots, and the active controller's queue of
 * operations (rn_cluster.h). */
#include "controller/rn_cluster.h"
#include "auth/rn_auth.h"
#include "data/rn_pidalloc.h"
#include "quorum/rn_quorum.h"
#include "rn_broker.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"
#include "rn_peer.h"

#include <event2/event.h>

#define CHANNEL_TIMEOUT_MS 5000 /* requests on the controller channel */
#define PERSIST_RETRY_MS   1000 /* after a failed persist of the topics */

#include <string.h>

struct rn_cluster {
    rn_broker_t *b;
    rn_mimage_t *img;
    rn_controller_t ctl;
    bool replayed;                /* rn_cluster_started ran: the image holds the log */
    bool leading;                 /* the quorum named this node leader at the current epoch */
    bool active;                  /* leading and the activation records are applied */
    rn_cluster_op_t *head, *tail; /* waiting operations, in submission order */
    rn_cluster_op_t *current;     /* appended, waiting to commit and apply */
    int64_t wait_offset;          /* current's last offset once committed; -1 before */
    rn_cluster_op_t activate;
    struct event *kick;    /* runs the queue from the loop, never inside a callback */
    struct event *persist; /* persists what applied records changed in the topics */
    bool persisting, persist_again;
    bool stopping;
    /* Peers to the other voters (forwarding to the controller), made on first use. */
    rn_peer_t *peers[RN_CLUSTER_MAX_NODES];
    int32_t peer_ids[RN_CLUSTER_MAX_NODES];
    int n_peers;
    rn__fcreate_t *fcreates; /* topics sent to the controller, waiting for the image */
    struct event *fcheck;    /* looks at fcreates from the loop; also every second */
    rn__reg_t *reg;          /* this node's registration with the controller */
    rn__pids_t *pids;        /* this node's requests for producer id blocks */
    rn__isrs_t *isrs;        /* this node's AlterPartition requests */
    rn__live_t *live;        /* the active controller's watch on brokers' processes */
};

/* New replicas go to the registered, unfenced brokers; none yet: the voters. */
static void sync_nodes(rn_cluster_t *c)
{
    size_t n = rn_mimage_broker_count(c->img);
    int32_t ids[n > 0 ? n : 1];
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = rn_mimage_broker_at(c->img, i)->id;
        if (rn_mimage_broker_active(c->img, id))
            ids[k++] = id;
    }
    rn_topics_set_nodes(c->b->topics, ids, k);
}

static void applied_hook(void *arg, const rn_mimage_t *img, const rn_mrec_t *rec)
{
    rn_cluster_t *c = arg;
    switch (rec->type) {
    case RN_MREC_REGISTER_BROKER_RECORD:
    case RN_MREC_UNREGISTER_BROKER_RECORD:
    case RN_MREC_FENCE_BROKER_RECORD:
    case RN_MREC_UNFENCE_BROKER_RECORD: sync_nodes(c); return;
    case RN_MREC_BROKER_REGISTRATION_CHANGE_RECORD:
        sync_nodes(c);
        /* Another broker waits for every active one to report that it applied its
         * controlled shutdown: report now rather than at the next heartbeat. */
        if (rec->body.broker_registration_change.in_controlled_shutdown == 1 &&
            rec->body.broker_registration_change.broker_id != c->b->node_id)
            rn__reg_heartbeat_soon(c->reg);
        return;
    default: break;
    }
    int rc = rn_mimage_topics_apply(img, rec, c->b->topics);
    /* On the controller a removal is already done in memory; elsewhere a miss is news. */
    if (rc != 0 && rec->type != RN_MREC_REMOVE_TOPIC_RECORD)
        RN_WARN("cluster", "node %d: %s at offset %lld: topics not in step with the image",
                c->b->node_id, rn_mrec_name(rec->type), (long long)rn_mimage_offset(img));
}

static void on_fcheck(evutil_socket_t fd, short what, void *arg);

static void kick(rn_cluster_t *c)
{
    event_active(c->kick, 0, 0);
}

static void persisted(void *arg, int rc)
{
    rn_cluster_t *c = arg;
    c->persisting = false;
    if (rc != 0) {
        RN_ERROR("cluster", "node %d: cannot write the topics the metadata log names",
                 c->b->node_id);
        rn__cluster_persist(c, true);
        return;
    }
    if (c->persist_again) {
        c->persist_again = false;
        event_active(c->persist, 0, 0);
    }
}

void rn__cluster_persist(rn_cluster_t *c, bool later)
{
    if (!later) {
        event_active(c->persist, 0, 0);
        return;
    }
    /* rn_topics queued the directories of a failed job again: try once more after a pause. */
    struct timeval tv = {PERSIST_RETRY_MS / 1000, (PERSIST_RETRY_MS % 1000) * 1000};
    event_add(c->persist, &tv);
}

static void on_persist(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rn_cluster_t *c = arg;
    if (c->b->offload == NULL || !rn_topics_dirty(c->b->topics))
        return;
    if (c->persisting) {
        c->persist_again = true;
        return;
    }
    c->persisting = true;
    rn_topics_persist(c->b->topics, c->b->offload, persisted, c);
}

/* ---- the queue ---- */

static rn_cluster_op_t *pop(rn_cluster_t *c)
{
    rn_cluster_op_t *op = c->head;
    if (op != NULL) {
        c->head = op->next;
        if (c->head == NULL)
            c->tail = NULL;
        op->next = NULL;
    }
    return op;
}

static void fail_queued(rn_cluster_t *c)
{
    rn_cluster_op_t *op;
    while ((op = pop(c)) != NULL)
        op->done(op, RN_ENOTLEADER);
}

static void finish_current(rn_cluster_t *c, int rc)
{
    rn_cluster_op_t *op = c->current;
    c->current = NULL;
    c->wait_offset = -1;
    if (op != NULL)
        op->done(op, rc);
    kick(c);
}

static void appended(void *arg, int rc, int64_t last_offset)
{
    rn_cluster_t *c = arg;
    if (c->stopping)
        return;
    if (rc != 0) {
        finish_current(c, rc);
        return;
    }
    c->wait_offset = last_offset;
    if (rn_mimage_offset(c->img) >= last_offset)
        finish_current(c, 0);
}

static void run_queue(rn_cluster_t *c)
{
    int32_t epoch;
    int32_t leader = c->b->quorum != NULL ? rn_quorum_leader(c->b->quorum, &epoch) : -1;
    if (c->current != NULL)
        return;
    if (leader >= 0 && leader != c->b->node_id) {
        fail_queued(c);
        return;
    }
    if (!c->leading || c->head == NULL)
        return;
    if (!c->active && c->head != &c->activate)
        return;
    rn_cluster_op_t *op = pop(c);
    rn_mrecs_t out;
    rn_mrecs_init(&out);
    op->decide(op, c, rn_quorum_end_offset(c->b->quorum), &out);
    if (out.err != 0 || out.n == 0) {
        int err = out.err;
        rn_mrecs_free(&out);
        op->done(op, err);
        kick(c);
        return;
    }
    c->current = op;
    c->wait_offset = -1;
    int rc = rn_quorum_append(c->b->quorum, (const uint8_t *const *)out.data, out.lens, out.n,
                              appended, c);
    rn_mrecs_free(&out);
    if (rc != 0)
        finish_current(c, rc);
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    run_queue(arg);
}

void rn_cluster_submit(rn_cluster_t *c, rn_cluster_op_t *op)
{
    op->next = NULL;
    if (c->tail != NULL)
        c->tail->next = op;
    else
        c->head = op;
    c->tail = op;
    kick(c);
}

/* ---- activation ---- */

static void activate_decide(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset,
                            rn_mrecs_t *out)
{
    (void)op;
    (void)next_offset;
    bool empty = rn_mimage_offset(c->img) < 0;
    rn_controller_activate(&c->ctl, out);
    /* The first activation of an empty log imports the topics runnel-topics held. */
    if (empty)
        rn_cluster_reconcile(c->img, c->b->topics, out);
}

static void activate_done(rn_cluster_op_t *op, int rc)
{
    rn_cluster_t *c = op->arg;
    if (rc != 0) {
        RN_WARN("cluster", "node %d: activation as controller failed: %s", c->b->node_id,
                rn_strerror(rc));
        return;
    }
    c->active = c->leading;
    RN_INFO("cluster", "node %d: active controller (metadata offset %lld)", c->b->node_id,
            (long long)rn_mimage_offset(c->img));
}

void rn_cluster_leader_changed(void *arg, int32_t leader_id, int32_t epoch)
{
    rn_cluster_t *c = arg;
    (void)epoch;
    if (c->stopping)
        return;
    c->b->controller_id = leader_id;
    bool was = c->leading;
    c->leading = leader_id == c->b->node_id;
    if (was && !c->leading) {
        c->active = false;
        rn_controller_reset_sessions(&c->ctl);
    }
    if (c->leading && !was) {
        c->activate.next = c->head; /* first: every other operation waits for it */
        c->head = &c->activate;
        if (c->tail == NULL)
            c->tail = &c->activate;
    }
    kick(c);
}

/* ---- apply and snapshots ---- */

void rn_cluster_apply(void *arg, int64_t offset, int32_t epoch, const uint8_t *data, size_t len)
{
    rn_cluster_t *c = arg;
    (void)epoch;
    if (c->stopping)
        return;
    int rc = rn_mimage_apply(c->img, offset, data, len);
    if (rc != 0)
        RN_WARN("cluster", "node %d: metadata record at offset %lld not applied: %s", c->b->node_id,
                (long long)offset, rn_strerror(rc));
    if (rn_topics_dirty(c->b->topics))
        event_active(c->persist, 0, 0);
    if (c->current != NULL && c->wait_offset >= 0 && offset >= c->wait_offset)
        finish_current(c, 0);
    if (c->fcreates != NULL)
        rn__cluster_fcreate_kick(c);
}

int rn_cluster_snapshot_write(void *arg, int64_t offset, uint8_t **data, size_t *len)
{
    rn_cluster_t *c = arg;
    if (rn_mimage_offset(c->img) != offset)
        return RN_EINVAL;
    return rn_mimage_snapshot_write(c->img, data, len);
}

int rn_cluster_snapshot_load(void *arg, int64_t offset, const uint8_t *data, size_t len)
{
    rn_cluster_t *c = arg;
    int rc = rn_mimage_snapshot_load(c->img, offset, data, len);
    if (rc != 0)
        return rc;
    rn_mimage_topics_sync(c->img, c->b->topics);
    sync_nodes(c);
    if (rn_topics_dirty(c->b->topics))
        event_active(c->persist, 0, 0);
    return 0;
}

/* ---- life ---- */

rn_cluster_t *rn_cluster_new(rn_broker_t *b)
{
    rn_cluster_t *c = rn_xcalloc(1, sizeof(*c));
    c->b = b;
    c->img = rn_mimage_new();
    c->wait_offset = -1;
    rn_mimage_set_hook(c->img, applied_hook, c);
    rn_controller_opts_t opts;
    rn_controller_opts_default(&opts);
    opts.cluster_id = b->cluster_id;
    opts.num_partitions = (int32_t)rn_config_int(b->cfg, RN_CFG_NUM_PARTITIONS);
    opts.default_replication_factor = b->cfg->default_replication_factor;
    opts.offsets_topic_partitions =
        (int32_t)rn_config_int(b->cfg, RN_CFG_OFFSETS_TOPIC_NUM_PARTITIONS);
    opts.offsets_topic_replication_factor =
        (int16_t)rn_config_int(b->cfg, RN_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR);
    opts.session_timeout_ms = rn_config_int(b->cfg, RN_CFG_BROKER_SESSION_TIMEOUT_MS);
    opts.unclean_leader_election = rn_config_bool(b->cfg, RN_CFG_UNCLEAN_LEADER_ELECTION_ENABLE);
    /* The pre-cluster reservation file (rn_pidalloc.h): its ids must not be granted again.
     * A corrupt file stops the data path's start-up, which reads it too. */
    if (rn_pidalloc_read_mark(b->cfg->data_dir, &opts.producer_id_floor, NULL, 0) != 0)
        opts.producer_id_floor = 0;
    rn_controller_init(&c->ctl, c->img, &opts);
    c->activate = (rn_cluster_op_t){NULL, activate_decide, activate_done, c};
    c->kick = event_new(b->base, -1, 0, on_kick, c);
    c->persist = event_new(b->base, -1, 0, on_persist, c);
    c->fcheck = event_new(b->base, -1, EV_PERSIST, on_fcheck, c);
    struct timeval second = {1, 0};
    event_add(c->fcheck, &second);
    rn_topics_set_committer(b->topics, rn__cluster_commit_forward, c);
    c->reg = rn__reg_new(c);
    c->pids = rn__pids_new(c);
    c->isrs = rn__isrs_new(c);
    c->live = rn__live_new(c);
    return c;
}

bool rn_cluster_replayed(const rn_cluster_t *c)
{
    return c->replayed;
}

void rn_cluster_started(rn_cluster_t *c)
{
    c->replayed = true;
    rn__reg_start(c->reg);
    rn__live_start(c->live);
    if (rn_mimage_offset(c->img) < 0)
        return; /* an empty log: the cache's topics wait for the import */
    rn_mimage_topics_sync(c->img, c->b->topics);
    if (rn_topics_dirty(c->b->topics))
        event_active(c->persist, 0, 0);
}

bool rn_cluster_controlled_shutdown(rn_cluster_t *c, void (*done)(void *arg, bool granted),
                                    void *arg)
{
    const rn_config_t *cfg = c->b->cfg;
    if (c->stopping || !rn_config_bool(cfg, RN_CFG_CONTROLLED_SHUTDOWN_ENABLE))
        return false;
    bool others = false;
    for (size_t i = 0; i < rn_mimage_broker_count(c->img) && !others; i++) {
        int32_t id = rn_mimage_broker_at(c->img, i)->id;
        others = id != c->b->node_id && rn_mimage_broker_active(c->img, id);
    }
    if (!others)
        return false;
    return rn__reg_leave(c->reg, rn_config_int(cfg, RN_CFG_CONTROLLED_SHUTDOWN_TIMEOUT_MS), done,
                         arg);
}

void rn_cluster_stop(rn_cluster_t *c)
{
    c->stopping = true;
    rn__reg_stop(c->reg);
    rn__pids_stop(c->pids);
    rn__isrs_stop(c->isrs);
    rn__live_stop(c->live);
}

void rn_cluster_free(rn_cluster_t *c)
{
    if (c == NULL)
        return;
    /* The server has gone (its parked requests with it): operations are told RN_ECANCELED,
     * on which they free themselves and answer nobody. */
    rn_cluster_op_t *cur = c->current;
    c->current = NULL;
    if (cur != NULL && cur != &c->activate)
        cur->done(cur, RN_ECANCELED);
    c->leading = false;
    rn_cluster_op_t *op;
    while ((op = pop(c)) != NULL)
        if (op != &c->activate)
            op->done(op, RN_ECANCELED);
    for (int i = 0; i < c->n_peers; i++)
        rn_peer_free(c->peers[i]); /* cancels what is in flight */
    rn__cluster_fcreate_check(c, &c->fcreates, true);
    rn__reg_free(c->reg);
    rn__pids_free(c->pids);
    rn__isrs_free(c->isrs);
    rn__live_free(c->live);
    rn_topics_set_committer(c->b->topics, NULL, NULL);
    event_free(c->fcheck);
    event_free(c->kick);
    event_free(c->persist);
    rn_controller_free(&c->ctl);
    rn_mimage_free(c->img);
    rn_free(c);
}

const rn_mimage_t *rn_cluster_image(const rn_cluster_t *c)
{
    return c->img;
}

rn__pids_t *rn__cluster_pids(rn_cluster_t *c)
{
    return c->pids;
}

rn__reg_t *rn__cluster_reg(rn_cluster_t *c)
{
    return c->reg;
}

rn__isrs_t *rn__cluster_isrs(rn_cluster_t *c)
{
    return c->isrs;
}

rn_controller_t *rn_cluster_controller(rn_cluster_t *c)
{
    return &c->ctl;
}

/* ---- peers and forwarded creations ---- */

static void on_fcheck(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rn_cluster_t *c = arg;
    if (!c->stopping)
        rn__cluster_fcreate_check(c, &c->fcreates, false);
}

void rn__cluster_fcreate_kick(rn_cluster_t *c)
{
    event_active(c->fcheck, 0, 0);
}

rn_peer_t *rn__cluster_peer(rn_cluster_t *c, int32_t id)
{
    for (int i = 0; i < c->n_peers; i++)
        if (c->peer_ids[i] == id)
            return c->peers[i];
    const rn_config_t *cfg = c->b->cfg;
    for (int i = 0; i < cfg->n_voters && c->n_peers < RN_CLUSTER_MAX_NODES; i++) {
        if (cfg->voters[i].id != id || id == c->b->node_id)
            continue;
        /* A request on a connection that went quiet (a network cut: TCP retransmits back off
         * to many seconds) is given up after this, and the connection with it, so that
         * heartbeats and ISR changes go out on a fresh one as soon as the path is back. */
        rn_peer_opts_t po = {.host = cfg->voters[i].host,
                             .port = cfg->voters[i].port,
                             .node_id = id,
                             .client_id = "runnel-controller-channel",
                             .request_timeout_ms = CHANNEL_TIMEOUT_MS,
                             .tls = c->b->peer_tls_controller};
        rn_auth_login_t login;
        rn_auth_peer_opts(cfg, &login, &po);
        rn_peer_t *peer = rn_peer_new(c->b->base, &po);
        if (peer == NULL)
            return NULL;
        c->peer_ids[c->n_peers] = id;
        c->peers[c->n_peers++] = peer;
        return peer;
    }
    return NULL;
}

void rn__cluster_commit_forward(void *carg, rn_topics_t *topics, bool on_commit,
                                void (*done)(void *arg, int rc), void *arg)
{
    rn_cluster_t *c = carg;
    int32_t epoch;
    int32_t leader = c->b->quorum != NULL ? rn_quorum_leader(c->b->quorum, &epoch) : -1;
    if (leader < 0 || leader == c->b->node_id ||
        rn__cluster_forward_create(c, leader, topics, done, arg, &c->fcreates) != 0)
        rn_cluster_commit(c, topics, on_commit, done, arg);
}

const rn_mimage_endpoint_t *rn_cluster_broker_endpoint(const rn_cluster_t *c,
                                                       const rn_mimage_broker_t *mb)
{
    if (mb == NULL || mb->n_endpoints == 0)
        return NULL;
    const char *name = c->b->listeners[c->b->inter_broker_listener].name;
    for (int i = 0; name != NULL && i < mb->n_endpoints; i++)
        if (strcmp(mb->endpoints[i].name, name) == 0)
            return &mb->endpoints[i];
    return &mb->endpoints[0];
}

rn_broker_t *rn_cluster_broker(const rn_cluster_t *c)
{
    return c->b;
}

bool rn_cluster_ready(const rn_cluster_t *c, char *why, size_t whylen)
{
    bool fenced = true;
    const char *problem = NULL;
    if (!rn__reg_state(c->reg, &fenced))
        problem = "not registered with the controller";
    else if (fenced)
        problem = "fenced by the controller (catching up with the metadata log)";
    if (problem != NULL)
        snprintf(why, whylen, "%s", problem);
    return problem == NULL;
}
