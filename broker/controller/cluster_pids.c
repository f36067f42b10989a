/* cluster_pids.c: this node's producer id blocks (KIP-730). When the data path's rn_pidalloc
 * wants a block, AllocateProducerIds goes to the active controller with this node's broker
 * id and the epoch its registration got (through the controller's queue when this node is
 * the controller, as its registration does). A refusal (not registered yet, stale epoch, no
 * controller) is retried until a block comes: the registration renews itself meanwhile. */
#include "controller/rn_cluster.h"
#include "data/rn_datapath.h"
#include "rn_broker.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_peer.h"

#include <event2/event.h>

#define RETRY_MS 200

/* At most one request in flight; wanted stays set until a block is handed over. */
struct rn__pids {
    rn_cluster_t *c;
    rn_broker_t *b;
    struct event *retry;
    bool wanted, in_flight, stopped;
    uint64_t gen; /* of the request in flight to a peer */
    int32_t sent_to;
    rn_allocate_producer_ids_request_t preq;
    rn_allocate_producer_ids_response_t presp;
    rn_cluster_op_t op; /* the local request */
};

static void arm(rn__pids_t *pids)
{
    if (pids->stopped)
        return;
    struct timeval tv = {0, RETRY_MS * 1000};
    event_add(pids->retry, &tv);
}

static void answered(rn__pids_t *pids, const rn_allocate_producer_ids_response_t *resp)
{
    pids->in_flight = false;
    if (pids->stopped)
        return;
    if (resp == NULL || resp->error_code != RN_KERR_NONE) {
        RN_DEBUG("cluster", "node %d: producer ids from controller %d: %s", pids->b->node_id,
                 pids->sent_to, resp ? rn_kerr_name(resp->error_code) : "no answer");
        arm(pids);
        return;
    }
    RN_INFO("cluster", "node %d: producer ids %lld..%lld from controller %d", pids->b->node_id,
            (long long)resp->producer_id_start,
            (long long)(resp->producer_id_start + resp->producer_id_len - 1), pids->sent_to);
    pids->wanted = false;
    if (pids->b->datapath != NULL)
        rn_pidalloc_add_block(rn_datapath_pidalloc(pids->b->datapath), resp->producer_id_start,
                              resp->producer_id_len);
}

/* A request to a peer; one abandoned since (the controller moved while it waited, perhaps
 * on a dead node until the peer's request timeout) is answered to nobody. */
typedef struct ticket {
    rn__pids_t *pids;
    uint64_t gen;
} ticket_t;

static void on_peer(void *arg, int status, const void *response)
{
    ticket_t *t = arg;
    rn__pids_t *pids = t->pids;
    bool current = t->gen == pids->gen;
    rn_free(t);
    if (status == RN_PEER_CANCELLED || !current)
        return;
    answered(pids, status == RN_PEER_OK ? response : NULL);
}

static void local_decide(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset, rn_mrecs_t *out)
{
    (void)next_offset;
    rn__pids_t *pids = op->arg;
    rn_controller_allocate_producer_ids(rn_cluster_controller(c), &pids->preq, out, &pids->presp);
}

static void local_done(rn_cluster_op_t *op, int rc)
{
    rn__pids_t *pids = op->arg;
    if (rc == RN_ECANCELED)
        return;
    answered(pids, rc == 0 ? &pids->presp : NULL);
}

static void send_request(rn__pids_t *pids)
{
    int32_t leader = pids->b->controller_id, registered_with;
    int64_t epoch = rn__reg_epoch(rn__cluster_reg(pids->c), &registered_with);
    if (pids->in_flight || pids->stopped)
        return;
    if (leader < 0 || epoch < 0 || registered_with != leader) {
        arm(pids); /* the registration with this controller comes first */
        return;
    }
    rn_allocate_producer_ids_request_init(&pids->preq);
    rn_allocate_producer_ids_response_init(&pids->presp);
    pids->preq.broker_id = pids->b->node_id;
    pids->preq.broker_epoch = epoch;
    pids->sent_to = leader;
    pids->in_flight = true;
    if (leader == pids->b->node_id) {
        pids->op = (rn_cluster_op_t){NULL, local_decide, local_done, pids};
        rn_cluster_submit(pids->c, &pids->op);
        return;
    }
    rn_peer_t *peer = rn__cluster_peer(pids->c, leader);
    ticket_t *t = rn_xmalloc(sizeof(*t));
    *t = (ticket_t){pids, ++pids->gen};
    if (peer == NULL ||
        rn_peer_send(peer, RN_API_ALLOCATE_PRODUCER_IDS, 0, &pids->preq, on_peer, t) != 0) {
        rn_free(t);
        pids->in_flight = false;
    }
    arm(pids); /* on_retry: sends again, or looks whether the controller moved */
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rn__pids_t *pids = arg;
    if (pids->in_flight && pids->sent_to != pids->b->node_id && pids->b->controller_id >= 0 &&
        pids->b->controller_id != pids->sent_to) {
        pids->gen++; /* abandoned: the new controller is asked */
        pids->in_flight = false;
    }
    if (pids->in_flight) {
        arm(pids);
        return;
    }
    if (pids->wanted)
        send_request(pids);
}

void rn_cluster_want_producer_ids(void *carg)
{
    rn__pids_t *pids = carg != NULL ? rn__cluster_pids(carg) : NULL;
    if (pids == NULL || pids->stopped)
        return;
    pids->wanted = true;
    /* From the loop, never inside the caller: rn_pidalloc's source must answer later. */
    event_active(pids->retry, 0, 0);
}

rn__pids_t *rn__pids_new(rn_cluster_t *c)
{
    rn__pids_t *pids = rn_xcalloc(1, sizeof(*pids));
    pids->c = c;
    pids->b = rn_cluster_broker(c);
    pids->retry = event_new(pids->b->base, -1, 0, on_retry, pids);
    return pids;
}

void rn__pids_stop(rn__pids_t *pids)
{
    pids->stopped = true;
    event_del(pids->retry);
}

void rn__pids_free(rn__pids_t *pids)
{
    if (pids == NULL)
        return;
    event_free(pids->retry);
    rn_free(pids);
}
