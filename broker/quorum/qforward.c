/* qforward.c: DescribeQuorum sent to a node that does not lead the quorum is forwarded to the
 * leader and its answer relayed, as Kafka's brokers forward it to the active controller: an
 * admin client (kafka-metadata-quorum.sh) bootstrapped on any node then gets the status
 * instead of retrying NOT_LEADER_OR_FOLLOWER until it times out. The peers live on the
 * broker's loop, one per voter, made on first use. */
#include "quorum/quorum_int.h"
#include "rn_handlers.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_peer.h"

#include <string.h>

/* One forwarded request; req is NULL once its connection went away. */
typedef struct qfwd {
    rn_req_t *req;
} qfwd_t;

static rn_str_t str_copy(rn_arena_t *a, rn_str_t s)
{
    if (s.len <= 0)
        return s;
    char *p = rn_arena_alloc(a, (size_t)s.len);
    if (p == NULL)
        return (rn_str_t){NULL, -1};
    memcpy(p, s.ptr, (size_t)s.len);
    return (rn_str_t){p, s.len};
}

static int copy_replicas(rn_arena_t *a, const rn_describe_quorum_resp_replica_state_t *from,
                         int32_t n, rn_describe_quorum_resp_replica_state_t **out)
{
    *out = NULL;
    if (n <= 0)
        return 0;
    *out = rn_arena_alloc(a, (size_t)n * sizeof(**out));
    if (*out == NULL)
        return RN_ENOMEM;
    memcpy(*out, from, (size_t)n * sizeof(**out));
    return 0;
}

static int copy_partition(rn_arena_t *a, const rn_describe_quorum_resp_partition_data_t *from,
                          rn_describe_quorum_resp_partition_data_t *to)
{
    *to = *from;
    to->error_message = str_copy(a, from->error_message);
    int rc = copy_replicas(a, from->current_voters.items, from->current_voters.count,
                           &to->current_voters.items);
    if (rc == 0)
        rc = copy_replicas(a, (const void *)from->observers.items, from->observers.count,
                           (void *)&to->observers.items);
    return rc;
}

/* A deep copy of the leader's answer into req's arena (the peer's is gone after the call). */
static int copy_response(rn_req_t *req, const rn_describe_quorum_response_t *from)
{
    rn_arena_t *a = &req->arena;
    rn_describe_quorum_response_t *to = req->response;
    to->error_code = from->error_code;
    to->error_message = str_copy(a, from->error_message);
    rn_describe_quorum_resp_topic_data_t *t =
        rn_describe_quorum_resp_topic_data_array_alloc(a, &to->topics, from->topics.count);
    for (int32_t i = 0; t != NULL && i < from->topics.count; i++) {
        const rn_describe_quorum_resp_topic_data_t *ft = &from->topics.items[i];
        t[i].topic_name = str_copy(a, ft->topic_name);
        rn_describe_quorum_resp_partition_data_t *p =
            rn_describe_quorum_resp_partition_data_array_alloc(a, &t[i].partitions,
                                                               ft->partitions.count);
        for (int32_t j = 0; p != NULL && j < ft->partitions.count; j++)
            if (copy_partition(a, &ft->partitions.items[j], &p[j]) != 0)
                return RN_ENOMEM;
        if (p == NULL && ft->partitions.count > 0)
            return RN_ENOMEM;
    }
    if (t == NULL && from->topics.count > 0)
        return RN_ENOMEM;
    to->nodes.count = 0; /* endpoints are the leader's view; not relayed */
    return 0;
}

static void on_answer(void *arg, int status, const void *response)
{
    qfwd_t *f = arg;
    rn_req_t *req = f->req;
    rn_free(f);
    if (req == NULL)
        return;
    rn_describe_quorum_response_t *resp = req->response;
    if (status != RN_PEER_OK || copy_response(req, response) != 0) {
        resp->error_code = RN_KERR_NOT_LEADER_OR_FOLLOWER; /* the client retries elsewhere */
        rn_req_count_error(req);
    }
    rn_req_complete(req);
}

static void on_cancel(rn_req_t *req, void *arg)
{
    ((qfwd_t *)arg)->req = NULL; /* the peer's answer still comes, and frees f */
}

static struct rn_peer *leader_peer(rn_quorum_t *q, int32_t leader_id)
{
    for (int i = 0; i < q->opts.n_voters; i++) {
        if (q->voter_ids[i] != leader_id || leader_id == q->opts.node_id)
            continue;
        if (q->fwd[i] == NULL) {
            /* A leader that died leaves the request unanswered: the client hears
             * NOT_LEADER_OR_FOLLOWER after the quorum's request timeout and asks again,
             * rather than waiting out a client-side default. */
            int timeout = (int)q->opts.request_timeout_ms;
            rn_peer_opts_t po = {.host = q->voter_host[i],
                                 .port = q->voter_port[i],
                                 .node_id = leader_id,
                                 .client_id = "runnel-forward",
                                 .connect_timeout_ms = timeout,
                                 .request_timeout_ms = timeout,
                                 .tls = q->opts.peer_tls};
            if (q->sasl_mechanism[0] != '\0') {
                po.sasl_mechanism = q->sasl_mechanism;
                po.sasl_username = q->sasl_username;
                po.sasl_password = q->sasl_password;
            }
            q->fwd[i] = rn_peer_new(q->base, &po);
        }
        return q->fwd[i];
    }
    return NULL;
}

int rn__quorum_forward_describe(rn_quorum_t *q, rn_req_t *req, int32_t leader_id)
{
    struct rn_peer *peer = leader_peer(q, leader_id);
    if (peer == NULL)
        return RN_ENOTLEADER;
    qfwd_t *f = rn_xcalloc(1, sizeof(*f));
    f->req = req;
    int rc =
        rn_peer_send(peer, RN_API_DESCRIBE_QUORUM, req->api_version, req->request, on_answer, f);
    if (rc != 0) {
        rn_free(f);
        return rc;
    }
    rn_req_park(req, on_cancel, f);
    return RN_HANDLED_ASYNC;
}

void rn__quorum_forward_free(rn_quorum_t *q)
{
    for (int i = 0; i < RN_RAFT_MAX_VOTERS; i++) {
        rn_peer_free(q->fwd[i]); /* cancels what is in flight: on_answer frees each */
        q->fwd[i] = NULL;
    }
}
