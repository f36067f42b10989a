/* InitProducerId (api key 22): producer ids for idempotent producers.
 *
 * Without a transactional id Kafka's coordinator "blindly" hands out a new producer id with
 * epoch 0, whatever producer id/epoch (v3+) the request carries; so does runnel, from
 * rn_pidalloc (blocks granted by the controller: ids never repeat across nodes and restarts).
 * The (producer id, epoch) pair must be both -1 or both set, else INVALID_REQUEST, as in
 * Kafka. With no id granted yet the request waits up to PID_WAIT_MS for the controller's
 * next block, then answers COORDINATOR_LOAD_IN_PROGRESS, which clients retry (Kafka's
 * answer while its block is on the way).
 *
 * Transactions are not supported yet. An empty transactional id is INVALID_REQUEST (Kafka's
 * answer); any other transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED: the code
 * Kafka uses when a client may not use a transactional id, which Java and librdkafka treat
 * as fatal at once (rather than retrying, as they would COORDINATOR_NOT_AVAILABLE, until
 * init_transactions times out). */
#include "acl/rn_authz.h"
#include "data/rn_datapath.h"
#include "rn_handlers.h"

#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_str.h"

#define PID_WAIT_MS 10000 /* well under clients' request.timeout.ms (30 s) */

static void answer(rn_init_producer_id_response_t *resp, int rc, int64_t pid)
{
    resp->error_code = rc == 0 ? RN_KERR_NONE : RN_KERR_COORDINATOR_LOAD_IN_PROGRESS;
    resp->producer_id = rc == 0 ? pid : -1;
    resp->producer_epoch = rc == 0 ? 0 : -1;
}

static void on_pid(void *arg, int rc, int64_t pid)
{
    rn_req_t *req = arg;
    if (rc == RN_ECANCELED)
        return; /* the server is gone with its parked requests */
    if (rc != 0)
        RN_WARN("initpid", "peer %s corr %d: no producer id from the controller within %d ms",
                req->peer, req->correlation_id, PID_WAIT_MS);
    answer(req->response, rc, pid);
    rn_req_complete(req);
}

static void on_cancel(rn_req_t *req, void *arg)
{
    rn_pidalloc_unwait(rn_datapath_pidalloc(rn_datapath(rn_req_broker(req))), arg);
}

int rn_handle_init_producer_id(rn_req_t *req)
{
    const rn_init_producer_id_request_t *ireq = req->request;
    rn_init_producer_id_response_t *resp = req->response;
    resp->throttle_time_ms = 0;
    resp->producer_id = -1;
    resp->producer_epoch = -1;
    if (ireq->transactional_id.len == 0) {
        resp->error_code = RN_KERR_INVALID_REQUEST;
        return RN_HANDLED_SYNC;
    }
    if (ireq->transactional_id.len > 0) {
        RN_INFO("initpid",
                "refusing transactional id \"%s\" from %s (client %s): transactions "
                "are not supported yet",
                RN_STR_ESC(ireq->transactional_id), req->peer,
                RN_STR_ESC(((rn_str_t){req->client_id, req->client_id_len})));
        resp->error_code = RN_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return RN_HANDLED_SYNC;
    }
    /* An idempotent producer: IDEMPOTENT_WRITE on the cluster, or (KIP-679) WRITE on some
     * topic. */
    if (!rn_authz_cluster(req, RN_ACL_OP_IDEMPOTENT_WRITE) &&
        !rn_authz_any(req, RN_ACL_OP_WRITE, RN_ACL_RES_TOPIC)) {
        resp->error_code = RN_KERR_CLUSTER_AUTHORIZATION_FAILED;
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    if ((ireq->producer_id < 0) != (ireq->producer_epoch < 0)) {
        resp->error_code = RN_KERR_INVALID_REQUEST;
        return RN_HANDLED_SYNC;
    }
    rn_pidalloc_t *pa = rn_datapath_pidalloc(rn_datapath(rn_req_broker(req)));
    int64_t pid = -1;
    if (rn_pidalloc_next(pa, &pid) != 0) {
        rn_pidalloc_wait_t *w = rn_pidalloc_wait(pa, rn_clock_mono_ms() + PID_WAIT_MS, on_pid, req);
        rn_req_park(req, on_cancel, w);
        return RN_HANDLED_ASYNC;
    }
    answer(resp, 0, pid);
    return RN_HANDLED_SYNC;
}
