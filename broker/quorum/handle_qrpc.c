/* handle_qrpc.c: the quorum RPCs as broker handlers (net/rn_server.h contract) and the
 * broker module that runs the quorum with the node's voters. Requests are checked here
 * (ClusterId, __cluster_metadata-0), parked, and answered when the quorum thread has
 * decided; DescribeQuorum is answered at once from the state the thread publishes. */
#include "quorum/quorum_int.h"
#include "auth/rn_auth.h"
#include "rn_handlers.h"
#include "controller/rn_cluster.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"

#include <string.h>

/* A request answered with one error at the top (the codec's defaults fill the rest). */
static int answer_error(rn_req_t *req, int16_t error)
{
    switch (req->api_key) {
    case RN_API_VOTE: ((rn_vote_response_t *)req->response)->error_code = error; break;
    case RN_API_BEGIN_QUORUM_EPOCH:
        ((rn_begin_quorum_epoch_response_t *)req->response)->error_code = error;
        break;
    case RN_API_END_QUORUM_EPOCH:
        ((rn_end_quorum_epoch_response_t *)req->response)->error_code = error;
        break;
    case RN_API_FETCH: ((rn_fetch_response_t *)req->response)->error_code = error; break;
    case RN_API_FETCH_SNAPSHOT:
        ((rn_fetch_snapshot_response_t *)req->response)->error_code = error;
        break;
    }
    rn_req_count_error(req);
    return RN_HANDLED_SYNC;
}

static void on_cancel(rn_req_t *req, void *arg)
{
    (void)req;
    ((rn_qhandle_t *)arg)->req = NULL; /* the answer, when it comes, is dropped */
}

static int submit(rn_req_t *req)
{
    rn_broker_t *b = rn_req_broker(req);
    rn_quorum_t *q = b->quorum;
    if (q == NULL || b->stopping)
        return answer_error(req, RN_KERR_NOT_LEADER_OR_FOLLOWER);
    rn_raft_msg_t msg;
    int64_t pos = 0;
    int err = rn_qmsg_request_decode(req->api_key, req->api_version, req->request, q->cluster_id,
                                     b->node_id, &msg, &pos);
    if (err != 0)
        return answer_error(req, (int16_t)err);
    rn_qhandle_t *h = rn_xcalloc(1, sizeof(*h));
    h->req = req;
    h->api_key = req->api_key;
    h->version = req->api_version;
    rn_req_park(req, on_cancel, h);
    rn__quorum_submit(q, h, &msg, pos);
    return RN_HANDLED_ASYNC;
}

int rn_handle_vote(rn_req_t *req)
{
    return submit(req);
}

int rn_handle_begin_quorum_epoch(rn_req_t *req)
{
    return submit(req);
}

int rn_handle_end_quorum_epoch(rn_req_t *req)
{
    return submit(req);
}

int rn_handle_fetch_snapshot(rn_req_t *req)
{
    return submit(req);
}

bool rn_quorum_fetch_wanted(const rn_req_t *req)
{
    const rn_fetch_request_t *freq = req->request;
    int32_t replica = req->api_version >= 15 ? freq->replica_state.replica_id : freq->replica_id;
    if (replica < 0)
        return false; /* consumers: the topic is unknown to them, as in Kafka */
    for (int32_t t = 0; t < freq->topics.count; t++) {
        const rn_fetch_topic_t *tin = &freq->topics.items[t];
        if (req->api_version >= 13
                ? rn_uuid_equal(&tin->topic_id, &rn_qmsg_topic_id)
                : tin->topic.len == (int32_t)strlen(RN_QLOG_TOPIC) &&
                      memcmp(tin->topic.ptr, RN_QLOG_TOPIC, strlen(RN_QLOG_TOPIC)) == 0)
            return true;
    }
    return false;
}

int rn_quorum_handle_fetch(rn_req_t *req)
{
    rn_fetch_response_t *resp = req->response;
    resp->throttle_time_ms = 0;
    resp->session_id = 0;
    return submit(req);
}

/* ---- DescribeQuorum ---- */

static void fill_voters(rn_req_t *req, rn_quorum_t *q, const rn_qstatus_t *st,
                        rn_describe_quorum_resp_partition_data_t *p)
{
    int n = q->opts.n_voters;
    rn_describe_quorum_resp_replica_state_t *v =
        rn_describe_quorum_resp_replica_state_array_alloc(&req->arena, &p->current_voters, n);
    for (int i = 0; v != NULL && i < n; i++) {
        v[i].replica_id = q->opts.voter_ids[i];
        v[i].log_end_offset = st->voter_end[i];
        v[i].last_fetch_timestamp = st->voter_fetch_wall[i];
        v[i].last_caught_up_timestamp = st->voter_end[i] >= st->hw ? st->voter_fetch_wall[i] : -1;
    }
    p->observers.count = 0;
}

int rn_handle_describe_quorum(rn_req_t *req)
{
    rn_broker_t *b = rn_req_broker(req);
    const rn_describe_quorum_request_t *r = req->request;
    rn_describe_quorum_response_t *resp = req->response;
    const rn_describe_quorum_req_topic_data_t *t = r->topics.count == 1 ? r->topics.items : NULL;
    if (b->quorum == NULL || t == NULL || t->partitions.count != 1 ||
        t->topic_name.len != (int32_t)strlen(RN_QLOG_TOPIC) ||
        memcmp(t->topic_name.ptr, RN_QLOG_TOPIC, strlen(RN_QLOG_TOPIC)) != 0 ||
        t->partitions.items[0].partition_index != 0) {
        resp->error_code = RN_KERR_INVALID_REQUEST;
        rn_req_count_error(req);
        return RN_HANDLED_SYNC;
    }
    rn_qstatus_t st;
    rn__quorum_status(b->quorum, &st);
    rn_describe_quorum_resp_topic_data_t *to =
        rn_describe_quorum_resp_topic_data_array_alloc(&req->arena, &resp->topics, 1);
    rn_describe_quorum_resp_partition_data_t *p =
        to ? rn_describe_quorum_resp_partition_data_array_alloc(&req->arena, &to->partitions, 1)
           : NULL;
    if (p == NULL)
        return RN_ENOMEM;
    to->topic_name = t->topic_name;
    p->leader_id = st.leader_id;
    p->leader_epoch = st.epoch;
    p->high_watermark = st.hw;
    resp->nodes.count = 0;
    if (st.state != RN_RAFT_LEADER && st.leader_id >= 0) {
        /* Only the leader knows every voter's progress: ask it, as Kafka's brokers forward
         * DescribeQuorum to the active controller. */
        int rc = rn__quorum_forward_describe(b->quorum, req, st.leader_id);
        if (rc == RN_HANDLED_ASYNC)
            return rc;
    }
    if (st.state != RN_RAFT_LEADER) {
        p->error_code = RN_KERR_NOT_LEADER_OR_FOLLOWER;
        p->current_voters.count = p->observers.count = 0;
        return RN_HANDLED_SYNC;
    }
    fill_voters(req, b->quorum, &st, p);
    return RN_HANDLED_SYNC;
}

/* ---- the broker module ---- */

int rn_quorum_module_init(rn_broker_t *b, char *err, size_t errlen)
{
    rn_config_t *cfg = b->cfg;
    int n = cfg->n_voters > 0 ? cfg->n_voters : 1;
    int32_t ids[RN_RAFT_MAX_VOTERS];
    const char *hosts[RN_RAFT_MAX_VOTERS];
    int ports[RN_RAFT_MAX_VOTERS];
    if (n > RN_RAFT_MAX_VOTERS) {
        snprintf(err, errlen, "controller.quorum.voters: at most %d voters", RN_RAFT_MAX_VOTERS);
        return RN_EINVAL;
    }
    for (int i = 0; i < n; i++) {
        ids[i] = cfg->n_voters > 0 ? cfg->voters[i].id : b->node_id;
        hosts[i] = cfg->n_voters > 0 ? cfg->voters[i].host : "127.0.0.1";
        ports[i] = cfg->n_voters > 0 ? cfg->voters[i].port : 0;
    }
    /* The image first: the quorum replays the log into it before rn_quorum_start returns. */
    b->cluster = rn_cluster_new(b);
    rn_quorum_opts_t opts = {
        .node_id = b->node_id,
        .voter_ids = ids,
        .voter_hosts = hosts,
        .voter_ports = ports,
        .n_voters = n,
        .peer_tls = b->peer_tls_controller,
        .data_dir = cfg->data_dir,
        .cluster_id = b->cluster_id,
        .election_timeout_ms = rn_config_int(cfg, RN_CFG_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS),
        .fetch_timeout_ms = rn_config_int(cfg, RN_CFG_CONTROLLER_QUORUM_FETCH_TIMEOUT_MS),
        .election_backoff_max_ms =
            rn_config_int(cfg, RN_CFG_CONTROLLER_QUORUM_ELECTION_BACKOFF_MAX_MS),
        .request_timeout_ms = rn_config_int(cfg, RN_CFG_CONTROLLER_QUORUM_REQUEST_TIMEOUT_MS),
        .snapshot_bytes =
            rn_config_int(cfg, RN_CFG_METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS),
        .apply = rn_cluster_apply,
        .leader_changed = rn_cluster_leader_changed,
        .snapshot_write = rn_cluster_snapshot_write,
        .snapshot_load = rn_cluster_snapshot_load,
        .arg = b->cluster,
    };
    rn_auth_login_t login; /* SASL towards the other voters, if the listener wants it */
    if (rn_auth_peer_login(cfg, &login) == 0 && login.mechanism[0] != '\0') {
        opts.sasl_mechanism = login.mechanism;
        opts.sasl_username = login.user;
        opts.sasl_password = login.password;
    }
    /* A quorum of one leads within a tick; Metadata names it from the start. */
    b->controller_id = n == 1 ? b->node_id : -1;
    b->quorum = rn_quorum_start(b->base, &opts, err, errlen);
    if (b->quorum == NULL) {
        rn_cluster_free(b->cluster);
        b->cluster = NULL;
        return RN_EIO;
    }
    rn_cluster_started(b->cluster);
    return 0;
}

void rn_quorum_module_shutdown(rn_broker_t *b)
{
    if (b->cluster != NULL)
        rn_cluster_stop(b->cluster);
    rn_quorum_stop(b->quorum);
    b->quorum = NULL;
    rn_cluster_free(b->cluster);
    b->cluster = NULL;
}
