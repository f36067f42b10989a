/* The cluster-wide checks of the APIs whose handlers know nothing of authorization: the
 * quorum's and the controller's RPCs need CLUSTER_ACTION on the cluster (Kafka's rule for
 * requests from other nodes), DescribeQuorum DESCRIBE. Each guard answers
 * CLUSTER_AUTHORIZATION_FAILED in the response's top-level error code or calls the handler;
 * dispatch.c's rows name the guards. */
#include "acl/rn_authz.h"
#include "rn_handlers.h"

#include "rn_kerr.h"

#define GUARD(fn, handler, op, type)                                                               \
    int fn(rn_req_t *req)                                                                          \
    {                                                                                              \
        if (rn_authz_cluster(req, op))                                                             \
            return handler(req);                                                                   \
        ((type *)req->response)->error_code = RN_KERR_CLUSTER_AUTHORIZATION_FAILED;                \
        rn_req_count_error(req);                                                                   \
        return RN_HANDLED_SYNC;                                                                    \
    }

GUARD(rn_guard_vote, rn_handle_vote, RN_ACL_OP_CLUSTER_ACTION, rn_vote_response_t)
GUARD(rn_guard_begin_quorum_epoch, rn_handle_begin_quorum_epoch, RN_ACL_OP_CLUSTER_ACTION,
      rn_begin_quorum_epoch_response_t)
GUARD(rn_guard_end_quorum_epoch, rn_handle_end_quorum_epoch, RN_ACL_OP_CLUSTER_ACTION,
      rn_end_quorum_epoch_response_t)
GUARD(rn_guard_fetch_snapshot, rn_handle_fetch_snapshot, RN_ACL_OP_CLUSTER_ACTION,
      rn_fetch_snapshot_response_t)
GUARD(rn_guard_describe_quorum, rn_handle_describe_quorum, RN_ACL_OP_DESCRIBE,
      rn_describe_quorum_response_t)
GUARD(rn_guard_broker_registration, rn_handle_broker_registration, RN_ACL_OP_CLUSTER_ACTION,
      rn_broker_registration_response_t)
GUARD(rn_guard_broker_heartbeat, rn_handle_broker_heartbeat, RN_ACL_OP_CLUSTER_ACTION,
      rn_broker_heartbeat_response_t)
GUARD(rn_guard_allocate_producer_ids, rn_handle_allocate_producer_ids, RN_ACL_OP_CLUSTER_ACTION,
      rn_allocate_producer_ids_response_t)
GUARD(rn_guard_alter_partition, rn_handle_alter_partition, RN_ACL_OP_CLUSTER_ACTION,
      rn_alter_partition_response_t)
