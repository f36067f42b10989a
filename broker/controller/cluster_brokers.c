/* cluster_brokers.c: brokers and the active controller (KIP-631). The controller serves
 * BrokerRegistration and BrokerHeartbeat as operations of its queue (rn_controller's
 * decisions on the committed image) and fences brokers whose sessions expire. Every node,
 * the controller included (locally, through the same queue), registers at start-up with a
 * random incarnation id and its listeners, then heartbeats every
 * broker.heartbeat.interval.ms; it registers again when the controller changes or forgets
 * it. A registered broker starts fenced and is unfenced by the heartbeat that finds it
 * caught up with the metadata log. The controller also grants producer id blocks here
 * (AllocateProducerIds; cluster_pids.c asks for them) and decides partition leaders' ISR
 * changes (AlterPartition; cluster_isr.c sends them). On SIGTERM this node asks to leave
 * (controlled shutdown) before it stops. */
#include "controller/rn_cluster.h"
#include "rn_broker.h"
#include "rn_handlers.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_peer.h"
#include "rn_str.h"

#include <event2/event.h>
#include <string.h>

#define FAST_RETRY_MS  100 /* after a registration, while fenced, after a refusal */
#define CHECK_EVERY_MS 500 /* the controller's look at sessions */
#define WATCH_MS       200 /* while a request waits: has the controller moved? */

/* One request to the controller's queue: from a client connection (owner is the rn_req_t)
 * or this node's own registration (owner is the rn__reg_t). */
typedef struct bop {
    rn_cluster_op_t op;
    rn_cluster_t *c;
    int16_t api_key, version;
    rn_arena_t *arena;   /* for the response's arrays (AlterPartition) */
    const void *request; /* NULL once its connection went away: nothing is decided */
    void *response;
    void (*finish)(struct bop *bop, int rc);
    void *owner;
} bop_t;

static void set_error(bop_t *bop, int16_t code)
{
    if (bop->api_key == RN_API_BROKER_REGISTRATION)
        ((rn_broker_registration_response_t *)bop->response)->error_code = code;
    else if (bop->api_key == RN_API_BROKER_HEARTBEAT)
        ((rn_broker_heartbeat_response_t *)bop->response)->error_code = code;
    else if (bop->api_key == RN_API_ALLOCATE_PRODUCER_IDS)
        ((rn_allocate_producer_ids_response_t *)bop->response)->error_code = code;
    else if (bop->api_key == RN_API_ALTER_PARTITION) {
        rn_alter_partition_response_t *resp = bop->response;
        resp->error_code = code;
        resp->topics.count = 0; /* nothing was changed: no partition answers */
    }
}

static void bop_decide(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset, rn_mrecs_t *out)
{
    bop_t *bop = op->arg;
    rn_controller_t *ctl = rn_cluster_controller(c);
    int64_t now = rn_clock_mono_ms();
    if (bop->request == NULL)
        return;
    if (bop->api_key == RN_API_BROKER_REGISTRATION)
        rn_controller_register_broker(ctl, bop->request, next_offset, now, out, bop->response);
    else if (bop->api_key == RN_API_BROKER_HEARTBEAT)
        rn_controller_heartbeat(ctl, bop->request, next_offset, now, out, bop->response);
    else if (bop->api_key == RN_API_ALTER_PARTITION)
        rn_controller_alter_partition(ctl, bop->request, bop->version, bop->arena, out,
                                      bop->response);
    else
        rn_controller_allocate_producer_ids(ctl, bop->request, out, bop->response);
}

static void bop_done(rn_cluster_op_t *op, int rc)
{
    bop_t *bop = op->arg;
    if (rc != 0 && rc != RN_ECANCELED && bop->request != NULL)
        set_error(bop, RN_KERR_NOT_CONTROLLER);
    bop->finish(bop, rc);
}

static void bop_submit(bop_t *bop)
{
    bop->op = (rn_cluster_op_t){NULL, bop_decide, bop_done, bop};
    rn_cluster_submit(bop->c, &bop->op);
}

/* ---- served on the controller ---- */

static void req_finish(bop_t *bop, int rc)
{
    rn_req_t *req = bop->owner;
    rn_free(bop);
    if (req != NULL && rc != RN_ECANCELED)
        rn_req_complete(req);
}

static void req_cancel(rn_req_t *req, void *arg)
{
    (void)req;
    bop_t *bop = arg;
    bop->request = NULL;
    bop->owner = NULL;
}

/* BrokerRegistration, BrokerHeartbeat, AllocateProducerIds and AlterPartition: a node that
 * is not the controller answers NOT_CONTROLLER (its queue refuses), as Kafka's brokers do
 * not serve them. Each is decided on the committed image and answered once its records
 * are committed and applied (a block of producer ids, an ISR change). */
int rn_handle_broker_registration(rn_req_t *req)
{
    rn_broker_t *b = rn_req_broker(req);
    if (b->cluster == NULL)
        return RN_EINVAL;
    bop_t *bop = rn_xcalloc(1, sizeof(*bop));
    *bop = (bop_t){.c = b->cluster,
                   .api_key = req->api_key,
                   .version = req->api_version,
                   .arena = &req->arena,
                   .request = req->request,
                   .response = req->response,
                   .finish = req_finish,
                   .owner = req};
    rn_req_park(req, req_cancel, bop);
    bop_submit(bop);
    return RN_HANDLED_ASYNC;
}

int rn_handle_broker_heartbeat(rn_req_t *req)
{
    return rn_handle_broker_registration(req);
}

int rn_handle_allocate_producer_ids(rn_req_t *req)
{
    return rn_handle_broker_registration(req);
}

int rn_handle_alter_partition(rn_req_t *req)
{
    return rn_handle_broker_registration(req);
}

/* ---- this node's registration ---- */

struct rn__reg {
    rn_cluster_t *c;
    rn_broker_t *b;
    struct event *timer;    /* the next registration or heartbeat */
    struct event *sessions; /* the controller's look at sessions, every CHECK_EVERY_MS */
    rn_uuid_t incarnation;
    int32_t controller; /* the controller the registration was made with; -1 none */
    int32_t sent_to;    /* where the request in flight went */
    int64_t epoch;      /* -1: not registered */
    bool fenced, caught_up;
    bool in_flight, stopped;
    uint64_t gen; /* of the request in flight to a peer; an abandoned one's answer is ignored */
    int64_t interval_ms;
    bool checking; /* a session check is in the controller's queue */
    /* Controlled shutdown: heartbeats ask WantShutDown until ShouldShutDown or the deadline;
     * left is called once (then NULL). */
    bool leaving;
    struct event *leave_timer;
    void (*left)(void *arg, bool granted);
    void *left_arg;
    rn_arena_t arena; /* the request in flight */
    rn_broker_registration_request_t rreq;
    rn_broker_registration_response_t rresp;
    rn_broker_heartbeat_request_t hreq;
    rn_broker_heartbeat_response_t hresp;
    bop_t local;
    rn_cluster_op_t check;
};

static void arm(rn__reg_t *reg, int64_t ms)
{
    if (reg->stopped)
        return;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    event_add(reg->timer, &tv);
}

static void leave_done(rn__reg_t *reg, bool granted)
{
    void (*left)(void *, bool) = reg->left;
    if (left == NULL)
        return;
    reg->left = NULL;
    event_del(reg->leave_timer);
    left(reg->left_arg, granted);
}

static void registered(rn__reg_t *reg, const rn_broker_registration_response_t *resp)
{
    if (reg->leaving) { /* a new registration would only start fenced: nothing to move */
        leave_done(reg, false);
        return;
    }
    if (resp == NULL || resp->error_code != RN_KERR_NONE) {
        RN_DEBUG("cluster", "node %d: registration with controller %d: %s", reg->b->node_id,
                 reg->sent_to, resp ? rn_kerr_name(resp->error_code) : "no answer");
        arm(reg, resp ? FAST_RETRY_MS * 5 : reg->interval_ms);
        return;
    }
    reg->epoch = resp->broker_epoch;
    reg->controller = reg->sent_to;
    reg->fenced = true;
    RN_INFO("cluster", "node %d: registered with controller %d, broker epoch %lld", reg->b->node_id,
            reg->sent_to, (long long)reg->epoch);
    arm(reg, 0); /* the first heartbeat right away: it unfences */
}

static void heartbeated(rn__reg_t *reg, const rn_broker_heartbeat_response_t *resp)
{
    if (resp == NULL) {
        arm(reg, reg->left != NULL ? FAST_RETRY_MS : reg->interval_ms);
        return;
    }
    int16_t ec = resp->error_code;
    if (ec == RN_KERR_STALE_BROKER_EPOCH || ec == RN_KERR_BROKER_ID_NOT_REGISTERED) {
        RN_INFO("cluster", "node %d: controller %d: %s, registering again", reg->b->node_id,
                reg->sent_to, rn_kerr_name(ec));
        reg->epoch = -1;
        arm(reg, 0);
        return;
    }
    if (ec != RN_KERR_NONE) {
        arm(reg, FAST_RETRY_MS);
        return;
    }
    if (reg->leaving) {
        reg->fenced = resp->is_fenced;
        if (resp->should_shut_down) {
            RN_INFO("cluster", "node %d: controller %d: leaderships moved, may shut down",
                    reg->b->node_id, reg->sent_to);
            leave_done(reg, true);
        }
        /* Asking again soon until the answer comes (the others report their progress). */
        arm(reg, reg->left != NULL ? FAST_RETRY_MS : reg->interval_ms);
        return;
    }
    if (reg->fenced != resp->is_fenced)
        RN_INFO("cluster", "node %d: %s by controller %d", reg->b->node_id,
                resp->is_fenced ? "fenced" : "unfenced", reg->sent_to);
    reg->fenced = resp->is_fenced;
    reg->caught_up = resp->is_caught_up;
    arm(reg, reg->fenced ? FAST_RETRY_MS : reg->interval_ms);
}

static void answered(rn__reg_t *reg, int16_t api_key, const void *resp)
{
    reg->in_flight = false;
    if (api_key == RN_API_BROKER_REGISTRATION)
        registered(reg, resp);
    else
        heartbeated(reg, resp);
}

/* A request sent to a peer, so that the answer to one abandoned since (the controller
 * moved while it waited) is recognised. */
typedef struct ticket {
    rn__reg_t *reg;
    uint64_t gen;
} ticket_t;

static void on_peer(void *arg, int status, const void *response)
{
    ticket_t *t = arg;
    rn__reg_t *reg = t->reg;
    bool current = t->gen == reg->gen;
    rn_free(t);
    if (status == RN_PEER_CANCELLED || !current)
        return;
    answered(reg, reg->epoch < 0 ? RN_API_BROKER_REGISTRATION : RN_API_BROKER_HEARTBEAT,
             status == RN_PEER_OK ? response : NULL);
}

static void local_finish(bop_t *bop, int rc)
{
    rn__reg_t *reg = bop->owner;
    if (rc == RN_ECANCELED)
        return;
    answered(reg, bop->api_key, bop->response);
}

static void build_registration(rn__reg_t *reg)
{
    rn_broker_t *b = reg->b;
    rn_broker_registration_request_init(&reg->rreq);
    rn_broker_registration_response_init(&reg->rresp);
    reg->rreq.broker_id = b->node_id;
    reg->rreq.cluster_id = rn_str(b->cluster_id);
    reg->rreq.incarnation_id = reg->incarnation;
    rn_broker_registration_req_listener_t *l = rn_broker_registration_req_listener_array_alloc(
        &reg->arena, &reg->rreq.listeners, b->n_listeners);
    for (int i = 0; l != NULL && i < b->n_listeners; i++) {
        l[i].name = rn_str(b->listeners[i].name);
        l[i].host = rn_str(b->listeners[i].host);
        l[i].port = (uint16_t)b->listeners[i].port;
        l[i].security_protocol = 0; /* PLAINTEXT: the only one runnel serves */
    }
}

static void send_next(rn__reg_t *reg, int32_t leader)
{
    bool registering = reg->epoch < 0;
    int16_t key = registering ? RN_API_BROKER_REGISTRATION : RN_API_BROKER_HEARTBEAT;
    rn_arena_reset(&reg->arena);
    if (registering) {
        build_registration(reg);
    } else {
        rn_broker_heartbeat_request_init(&reg->hreq);
        rn_broker_heartbeat_response_init(&reg->hresp);
        reg->hreq.broker_id = reg->b->node_id;
        reg->hreq.broker_epoch = reg->epoch;
        reg->hreq.current_metadata_offset = rn_mimage_offset(rn_cluster_image(reg->c));
        reg->hreq.want_shut_down = reg->leaving;
    }
    const void *request = registering ? (const void *)&reg->rreq : (const void *)&reg->hreq;
    reg->sent_to = leader;
    reg->in_flight = true;
    if (leader == reg->b->node_id) {
        reg->local = (bop_t){.c = reg->c,
                             .api_key = key,
                             .request = request,
                             .response = registering ? (void *)&reg->rresp : (void *)&reg->hresp,
                             .finish = local_finish,
                             .owner = reg};
        bop_submit(&reg->local);
        return;
    }
    rn_peer_t *peer = rn__cluster_peer(reg->c, leader);
    ticket_t *t = rn_xmalloc(sizeof(*t));
    *t = (ticket_t){reg, ++reg->gen};
    if (peer == NULL || rn_peer_send(peer, key, 0, request, on_peer, t) != 0) {
        rn_free(t);
        reg->in_flight = false;
        arm(reg, reg->interval_ms);
        return;
    }
    arm(reg, WATCH_MS); /* on_timer: has the controller moved meanwhile? */
}

/* ---- the controller's session check ---- */

static void check_decide(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset, rn_mrecs_t *out)
{
    (void)op;
    (void)next_offset;
    int32_t id = rn_controller_check_sessions(rn_cluster_controller(c), rn_clock_mono_ms(), out);
    if (id >= 0)
        RN_WARN("cluster", "node %d: broker %d missed its heartbeats: fenced",
                rn_cluster_broker(c)->node_id, id);
}

static void check_done(rn_cluster_op_t *op, int rc)
{
    rn__reg_t *reg = op->arg;
    if (rc != RN_ECANCELED)
        reg->checking = false;
}

static void on_sessions(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rn__reg_t *reg = arg;
    if (reg->b->controller_id != reg->b->node_id || reg->checking)
        return;
    reg->checking = true;
    reg->check = (rn_cluster_op_t){NULL, check_decide, check_done, reg};
    rn_cluster_submit(reg->c, &reg->check);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rn__reg_t *reg = arg;
    int32_t leader = reg->b->controller_id;
    if (reg->in_flight && reg->sent_to != reg->b->node_id && leader >= 0 &&
        leader != reg->sent_to) {
        /* The controller moved while the request waited (perhaps on a dead node, until the
         * peer's request timeout): go to the new one now. */
        reg->gen++;
        reg->in_flight = false;
    }
    if (reg->in_flight) {
        arm(reg, WATCH_MS);
        return;
    }
    if (leader < 0) {
        arm(reg, FAST_RETRY_MS);
        return;
    }
    if (reg->leaving && reg->epoch < 0) {
        leave_done(reg, false);
        arm(reg, FAST_RETRY_MS);
        return;
    }
    if (reg->epoch >= 0 && leader != reg->controller) {
        RN_INFO("cluster", "node %d: the controller is now %d: registering again", reg->b->node_id,
                leader);
        reg->epoch = -1;
    }
    send_next(reg, leader);
}

static void on_leave_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rn__reg_t *reg = arg;
    leave_done(reg, false);
}

rn__reg_t *rn__reg_new(rn_cluster_t *c)
{
    rn__reg_t *reg = rn_xcalloc(1, sizeof(*reg));
    reg->c = c;
    reg->b = rn_cluster_broker(c);
    reg->controller = -1;
    reg->epoch = -1;
    reg->interval_ms = rn_config_int(reg->b->cfg, RN_CFG_BROKER_HEARTBEAT_INTERVAL_MS);
    rn_uuid_random(&reg->incarnation);
    rn_arena_init(&reg->arena, 0);
    reg->timer = event_new(reg->b->base, -1, 0, on_timer, reg);
    reg->sessions = event_new(reg->b->base, -1, EV_PERSIST, on_sessions, reg);
    reg->leave_timer = event_new(reg->b->base, -1, 0, on_leave_timeout, reg);
    return reg;
}

void rn__reg_start(rn__reg_t *reg)
{
    struct timeval tv = {0, CHECK_EVERY_MS * 1000};
    event_add(reg->sessions, &tv);
    arm(reg, 0);
}

void rn__reg_stop(rn__reg_t *reg)
{
    reg->stopped = true;
    event_del(reg->timer);
    event_del(reg->sessions);
    event_del(reg->leave_timer);
    reg->left = NULL; /* stopping anyway: whoever waited has gone on */
}

void rn__reg_free(rn__reg_t *reg)
{
    if (reg == NULL)
        return;
    event_free(reg->timer);
    event_free(reg->sessions);
    event_free(reg->leave_timer);
    rn_arena_free(&reg->arena);
    rn_free(reg);
}

int64_t rn__reg_epoch(const rn__reg_t *reg, int32_t *controller)
{
    *controller = reg->controller;
    return reg->epoch;
}

bool rn__reg_state(const rn__reg_t *reg, bool *fenced)
{
    *fenced = reg->fenced;
    return reg->epoch >= 0;
}

void rn__reg_heartbeat_soon(rn__reg_t *reg)
{
    if (reg->stopped || reg->in_flight || reg->epoch < 0)
        return;
    event_del(reg->timer);
    arm(reg, 0);
}

bool rn__reg_leave(rn__reg_t *reg, int64_t timeout_ms, void (*left)(void *arg, bool granted),
                   void *arg)
{
    if (reg->stopped || reg->leaving || reg->epoch < 0)
        return false;
    reg->leaving = true;
    reg->left = left;
    reg->left_arg = arg;
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    event_add(reg->leave_timer, &tv);
    if (!reg->in_flight) {
        event_del(reg->timer);
        arm(reg, 0); /* ask now, not at the next heartbeat */
    }
    return true;
}
