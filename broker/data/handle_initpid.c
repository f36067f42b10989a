/* InitProducerId (api key 22): producer ids for idempotent producers.
 *
 * Without a transactional id Kafka's coordinator "blindly" hands out a new producer id with
 * epoch 0, whatever producer id/epoch (v3+) the request carries; so does runnel, from
 * rn_pidalloc (ids never repeat, across restarts too). The (producer id, epoch) pair must be
 * both -1 or both set, else INVALID_REQUEST, as in Kafka.
 *
 * Transactions are not supported yet. An empty transactional id is INVALID_REQUEST (Kafka's
 * answer); any other transactional id gets TRANSACTIONAL_ID_AUTHORIZATION_FAILED: the code
 * Kafka uses when a client may not use a transactional id, which Java and librdkafka treat
 * as fatal at once (rather than retrying, as they would COORDINATOR_NOT_AVAILABLE, until
 * init_transactions times out). */
#include "data/rn_datapath.h"
#include "rn_handlers.h"

#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"

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
                "refusing transactional id \"%.*s\" from %s (client %s): transactions "
                "are not supported yet",
                (int)ireq->transactional_id.len, ireq->transactional_id.ptr, req->peer,
                req->client_id);
        resp->error_code = RN_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
        return RN_HANDLED_SYNC;
    }
    if ((ireq->producer_id < 0) != (ireq->producer_epoch < 0)) {
        resp->error_code = RN_KERR_INVALID_REQUEST;
        return RN_HANDLED_SYNC;
    }
    int64_t pid;
    int rc = rn_pidalloc_next(rn_datapath_pidalloc(rn_datapath(rn_req_broker(req))), &pid);
    if (rc != 0) {
        /* A block could not be reserved on disk (the allocator logged why): retriable. */
        resp->error_code =
            rc == RN_ERANGE ? RN_KERR_UNKNOWN_SERVER_ERROR : RN_KERR_COORDINATOR_NOT_AVAILABLE;
        return RN_HANDLED_SYNC;
    }
    resp->error_code = RN_KERR_NONE;
    resp->producer_id = pid;
    resp->producer_epoch = 0;
    return RN_HANDLED_SYNC;
}
