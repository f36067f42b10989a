/* cluster_isr.c: this node's AlterPartition requests (KIP-497, KIP-903), for the data path
 * of the partitions it leads (rn_cluster_alter_isr in rn_cluster.h). Each call is one
 * AlterPartition v3 for one partition, naming each new member with the broker epoch the
 * image has for it and this node with the epoch its registration got. It goes to the active
 * controller: through the controller's queue when that is this node (decided on the
 * committed image, answered once the record is committed and applied here), through the
 * peer client otherwise. The caller hears exactly once: the controller's answer, or a
 * local error (no controller, no answer in time, stopping). */
#include "controller/rn_cluster.h"
#include "rn_broker.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_peer.h"

#include <event2/event.h>
#include <string.h>

/* One call. Alive until the caller was told (finished) and neither the controller's queue
 * nor the peer still holds it (their callbacks come once, whatever happened meanwhile). */
typedef struct isr_call {
    struct isr_call *next;
    rn__isrs_t *isrs;
    rn_isr_done_fn done;
    void *arg;
    bool finished, calling; /* told (or cancelled); inside done */
    bool in_op, in_peer;
    int16_t early; /* an error found before sending, told from the loop */
    int32_t sent_to;
    struct event *timer; /* the timeout, or the early error's delivery */
    rn_arena_t arena;    /* the request's arrays and the local answer's */
    rn_alter_partition_request_t req;
    rn_alter_partition_response_t resp;
    rn_cluster_op_t op;
} isr_call_t;

struct rn__isrs {
    rn_cluster_t *c;
    rn_broker_t *b;
    isr_call_t *calls;
    bool stopped;
};

static void maybe_free(isr_call_t *call)
{
    if (!call->finished || call->calling || call->in_op || call->in_peer)
        return;
    isr_call_t **pp = &call->isrs->calls;
    while (*pp != NULL && *pp != call)
        pp = &(*pp)->next;
    if (*pp == call)
        *pp = call->next;
    event_free(call->timer);
    rn_arena_free(&call->arena);
    rn_free(call);
}

static void finish(isr_call_t *call, const rn_isr_result_t *res)
{
    if (call->finished)
        return;
    call->finished = true;
    event_del(call->timer);
    if (res->error_code != RN_KERR_NONE)
        RN_DEBUG("cluster", "node %d: AlterPartition partition %d via controller %d: %s",
                 call->isrs->b->node_id,
                 call->req.topics.items[0].partitions.items[0].partition_index, call->sent_to,
                 rn_kerr_name(res->error_code));
    call->calling = true;
    call->done(call->arg, res);
    call->calling = false;
}

static void fail(isr_call_t *call, int16_t code)
{
    rn_isr_result_t res = {.error_code = code,
                           .leader_id = -1,
                           .leader_epoch = -1,
                           .partition_epoch = -1,
                           .isr = NULL,
                           .n_isr = 0};
    finish(call, &res);
}

/* The answer for the one partition asked about. */
static void answered(isr_call_t *call, const rn_alter_partition_response_t *resp)
{
    if (resp->error_code != RN_KERR_NONE) {
        fail(call, resp->error_code);
        return;
    }
    int32_t want = call->req.topics.items[0].partitions.items[0].partition_index;
    for (int32_t i = 0; i < resp->topics.count; i++) {
        const rn_alter_partition_resp_topic_t *t = &resp->topics.items[i];
        for (int32_t j = 0; j < t->partitions.count; j++) {
            const rn_alter_partition_resp_partition_t *p = &t->partitions.items[j];
            if (p->partition_index != want)
                continue;
            if (p->error_code != RN_KERR_NONE) {
                fail(call, p->error_code);
                return;
            }
            rn_isr_result_t res = {.error_code = RN_KERR_NONE,
                                   .leader_id = p->leader_id,
                                   .leader_epoch = p->leader_epoch,
                                   .partition_epoch = p->partition_epoch,
                                   .isr = p->isr.count > 0 ? p->isr.items : NULL,
                                   .n_isr = p->isr.count > 0 ? p->isr.count : 0};
            finish(call, &res);
            return;
        }
    }
    fail(call, RN_KERR_UNKNOWN_SERVER_ERROR); /* an answer without our partition */
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    isr_call_t *call = arg;
    fail(call, call->early != RN_KERR_NONE ? call->early : RN_KERR_REQUEST_TIMED_OUT);
    maybe_free(call);
}

static void on_peer(void *arg, int status, const void *response)
{
    isr_call_t *call = arg;
    call->in_peer = false;
    if (status == RN_PEER_OK)
        answered(call, response);
    else
        fail(call, status == RN_PEER_UNSUPPORTED ? RN_KERR_UNSUPPORTED_VERSION
                                                 : RN_KERR_REQUEST_TIMED_OUT);
    maybe_free(call);
}

static void local_decide(rn_cluster_op_t *op, rn_cluster_t *c, int64_t next_offset, rn_mrecs_t *out)
{
    (void)next_offset;
    isr_call_t *call = op->arg;
    if (call->finished)
        return; /* timed out or cancelled while queued: nothing to decide */
    rn_controller_alter_partition(rn_cluster_controller(c), &call->req, 3, &call->arena, out,
                                  &call->resp);
}

static void local_done(rn_cluster_op_t *op, int rc)
{
    isr_call_t *call = op->arg;
    call->in_op = false;
    if (rc == 0)
        answered(call, &call->resp);
    else
        fail(call, rc == RN_ECANCELED ? RN_KERR_BROKER_NOT_AVAILABLE : RN_KERR_NOT_CONTROLLER);
    maybe_free(call);
}

/* The request: this node, its registration's epoch, the partition, each member's epoch. */
static int build(isr_call_t *call, const rn_mimage_t *img, int64_t my_epoch,
                 const rn_uuid_t *topic_id, int32_t partition, int32_t leader_epoch,
                 int32_t partition_epoch, const int32_t *new_isr, int32_t n_isr)
{
    rn_alter_partition_request_t *req = &call->req;
    rn_alter_partition_request_init(req);
    rn_alter_partition_response_init(&call->resp);
    req->broker_id = call->isrs->b->node_id;
    req->broker_epoch = my_epoch;
    rn_alter_partition_req_topic_t *t =
        rn_alter_partition_req_topic_array_alloc(&call->arena, &req->topics, 1);
    if (t == NULL)
        return RN_ENOMEM;
    t->topic_id = *topic_id;
    rn_alter_partition_req_partition_t *p =
        rn_alter_partition_req_partition_array_alloc(&call->arena, &t->partitions, 1);
    if (p == NULL)
        return RN_ENOMEM;
    p->partition_index = partition;
    p->leader_epoch = leader_epoch;
    p->partition_epoch = partition_epoch;
    p->leader_recovery_state = 0;
    rn_alter_partition_broker_state_t *m =
        rn_alter_partition_broker_state_array_alloc(&call->arena, &p->new_isr_with_epochs, n_isr);
    if (m == NULL && n_isr > 0)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n_isr; i++) {
        const rn_mimage_broker_t *b = rn_mimage_broker(img, new_isr[i]);
        m[i].broker_id = new_isr[i];
        m[i].broker_epoch = b != NULL ? b->epoch : -1;
    }
    return 0;
}

int rn_cluster_alter_isr(rn_cluster_t *c, const rn_uuid_t *topic_id, int32_t partition,
                         int32_t leader_epoch, int32_t partition_epoch, const int32_t *new_isr,
                         int32_t n_isr, rn_isr_done_fn done, void *arg)
{
    rn__isrs_t *isrs = rn__cluster_isrs(c);
    if (done == NULL || n_isr < 0 || n_isr > RN_CLUSTER_ISR_MAX || (n_isr > 0 && new_isr == NULL))
        return RN_EINVAL;
    isr_call_t *call = rn_xcalloc(1, sizeof(*call));
    call->isrs = isrs;
    call->done = done;
    call->arg = arg;
    call->sent_to = -1;
    rn_arena_init(&call->arena, 0);
    call->timer = event_new(isrs->b->base, -1, 0, on_timer, call);
    call->next = isrs->calls;
    isrs->calls = call;

    int32_t registered_with;
    int64_t my_epoch = rn__reg_epoch(rn__cluster_reg(c), &registered_with);
    int32_t leader = isrs->b->controller_id;
    if (isrs->stopped)
        call->early = RN_KERR_BROKER_NOT_AVAILABLE;
    else if (leader < 0)
        call->early = RN_KERR_NOT_CONTROLLER;
    else if (my_epoch < 0)
        call->early = RN_KERR_BROKER_ID_NOT_REGISTERED;
    else if (build(call, rn_cluster_image(c), my_epoch, topic_id, partition, leader_epoch,
                   partition_epoch, new_isr, n_isr) != 0)
        call->early = RN_KERR_UNKNOWN_SERVER_ERROR;
    if (call->early != RN_KERR_NONE) {
        event_active(call->timer, EV_TIMEOUT, 0); /* told from the loop, never in here */
        return 0;
    }
    call->sent_to = leader;
    struct timeval tv = {RN_CLUSTER_ISR_TIMEOUT_MS / 1000,
                         (RN_CLUSTER_ISR_TIMEOUT_MS % 1000) * 1000};
    event_add(call->timer, &tv);
    if (leader == isrs->b->node_id) {
        call->in_op = true;
        call->op = (rn_cluster_op_t){NULL, local_decide, local_done, call};
        rn_cluster_submit(c, &call->op);
        return 0;
    }
    rn_peer_t *peer = rn__cluster_peer(c, leader);
    if (peer != NULL &&
        rn_peer_send(peer, RN_API_ALTER_PARTITION, 3, &call->req, on_peer, call) == 0) {
        call->in_peer = true;
        return 0;
    }
    event_del(call->timer);
    call->early = RN_KERR_NOT_CONTROLLER; /* no way to the controller */
    event_active(call->timer, EV_TIMEOUT, 0);
    return 0;
}

void rn_cluster_alter_isr_cancel(rn_cluster_t *c, void *arg)
{
    rn__isrs_t *isrs = rn__cluster_isrs(c);
    isr_call_t *call = isrs->calls;
    while (call != NULL) {
        isr_call_t *next = call->next;
        if (call->arg == arg && !call->finished) {
            call->finished = true;
            event_del(call->timer);
            maybe_free(call);
        }
        call = next;
    }
}

rn__isrs_t *rn__isrs_new(rn_cluster_t *c)
{
    rn__isrs_t *isrs = rn_xcalloc(1, sizeof(*isrs));
    isrs->c = c;
    isrs->b = rn_cluster_broker(c);
    return isrs;
}

void rn__isrs_stop(rn__isrs_t *isrs)
{
    isrs->stopped = true;
    /* Tell every waiting caller now; done may start (and so fail) another call. */
    for (;;) {
        isr_call_t *call = isrs->calls;
        while (call != NULL && call->finished)
            call = call->next;
        if (call == NULL)
            break;
        fail(call, RN_KERR_BROKER_NOT_AVAILABLE);
        maybe_free(call);
    }
}

void rn__isrs_free(rn__isrs_t *isrs)
{
    if (isrs == NULL)
        return;
    /* The queue and the peers have let go of every call by now. */
    while (isrs->calls != NULL) {
        isr_call_t *call = isrs->calls;
        isrs->calls = call->next;
        event_free(call->timer);
        rn_arena_free(&call->arena);
        rn_free(call);
    }
    rn_free(isrs);
}
