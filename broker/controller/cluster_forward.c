/* cluster_forward.c: requests that change metadata reach the active controller from any node,
 * as Kafka's brokers forward them (KIP-590). Admin requests (CreateTopics, DeleteTopics,
 * CreatePartitions, AlterConfigs, IncrementalAlterConfigs) are sent whole, same version,
 * and the controller's answer relayed. Topics a follower creates on its own (Metadata
 * auto-creation, the group coordinator's __consumer_offsets) reach the controller as a
 * CreateTopics of their own; the caller is answered once the image here has the topics. */
#include "controller/rn_cluster.h"
#include "rn_broker.h"
#include "rn_handlers.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_peer.h"
#include "rn_rpc.h"
#include "rn_str.h"

#include <string.h>

/* A follower's handler is run locally (answering NOT_CONTROLLER) when this marks req->user. */
static char no_forward;

/* ---- whole admin requests ---- */

typedef struct fwd {
    rn_req_t *req; /* NULL once its connection went away */
} fwd_t;

/* A deep copy of the controller's answer into req's arena: encoded and decoded again, so
 * every string and array the response points to lives in the arena. */
static int copy_response(rn_req_t *req, const void *from)
{
    const rn_rpc_api_t *api = rn_rpc_api(req->api_key);
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    int rc = api->response_encode(&w, req->api_version, from);
    size_t len = rn_proto_writer_total(&w);
    uint8_t *buf = rc == 0 && w.err == 0 ? rn_arena_alloc(&req->arena, len + 1) : NULL;
    if (buf == NULL || rn_proto_writer_copy(&w, buf, len) != (long)len) {
        rn_proto_writer_free(&w);
        return RN_ENOMEM;
    }
    rn_proto_writer_free(&w);
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, buf, len, &req->arena);
    api->response_init(req->response);
    rc = api->response_decode(&r, req->api_version, req->response);
    return rc != 0 ? rc : r.rd.err;
}

static void on_answer(void *arg, int status, const void *response)
{
    fwd_t *f = arg;
    rn_req_t *req = f->req;
    rn_free(f);
    if (req == NULL)
        return;
    if (status == RN_PEER_OK && copy_response(req, response) == 0) {
        rn_req_complete(req);
        return;
    }
    /* The controller could not be reached: this node answers, which says NOT_CONTROLLER
     * (the client refreshes metadata and retries). */
    RN_WARN("cluster", "peer %s: %s forwarded to the controller: %s", req->peer, req->api->name,
            rn_peer_status_name(status));
    req->user = &no_forward;
    int rc = req->api->handler(req);
    if (rc == RN_HANDLED_SYNC || rc < 0)
        rn_req_complete(req);
}

static void on_cancel(rn_req_t *req, void *arg)
{
    (void)req;
    ((fwd_t *)arg)->req = NULL; /* the peer's answer still comes, and frees f */
}

int rn_cluster_forward(rn_req_t *req)
{
    rn_broker_t *b = rn_req_broker(req);
    if (b->cluster == NULL || req->user == &no_forward || req->request == NULL)
        return 0;
    int32_t leader = b->controller_id;
    if (leader < 0 || leader == b->node_id)
        return 0;
    rn_peer_t *peer = rn__cluster_peer(b->cluster, leader);
    if (peer == NULL)
        return 0;
    fwd_t *f = rn_xcalloc(1, sizeof(*f));
    f->req = req;
    if (rn_peer_send(peer, req->api_key, req->api_version, req->request, on_answer, f) != 0) {
        rn_free(f);
        return 0;
    }
    RN_DEBUG("cluster", "node %d: peer %s: %s v%d corr %d forwarded to node %d", b->node_id,
             req->peer, req->api->name, req->api_version, req->correlation_id, leader);
    rn_req_park(req, on_cancel, f);
    return RN_HANDLED_ASYNC;
}

/* ---- topics a follower creates ---- */

#define CREATE_WAIT_MS 30000

struct rn__fcreate {
    rn__fcreate_t *next;
    rn_cluster_t *c;
    char **names;
    int n;
    void (*done)(void *arg, int rc);
    void *arg;
    bool answered; /* the controller answered; waiting for the image to have the topics */
    int rc;
    int64_t deadline_ms;
};

static bool in_image(const rn__fcreate_t *fc)
{
    const rn_mimage_t *img = rn_cluster_image(fc->c);
    for (int i = 0; i < fc->n; i++)
        if (rn_mimage_topic(img, fc->names[i], strlen(fc->names[i])) == NULL)
            return false;
    return true;
}

static void fcreate_free(rn__fcreate_t *fc)
{
    for (int i = 0; i < fc->n; i++)
        rn_free(fc->names[i]);
    rn_free(fc->names);
    rn_free(fc);
}

/* Finish fc (already unlinked): the topics the image brought are persisted first, so the
 * caller finds their directories there, as on the controller. */
static void fcreate_finish(rn__fcreate_t *fc, int rc)
{
    rn_broker_t *b = rn_cluster_broker(fc->c);
    if (rc == 0)
        rn_topics_persist(b->topics, b->offload, fc->done, fc->arg);
    else if (rc != RN_ECANCELED)
        fc->done(fc->arg, rc);
    fcreate_free(fc);
}

void rn__cluster_fcreate_check(rn_cluster_t *c, rn__fcreate_t **list, bool cancel)
{
    int64_t now = rn_clock_mono_ms();
    for (rn__fcreate_t **pp = list; *pp != NULL;) {
        rn__fcreate_t *fc = *pp;
        int rc = 1;
        if (cancel)
            rc = RN_ECANCELED;
        else if (fc->answered && fc->rc != 0)
            rc = fc->rc;
        else if (fc->answered && in_image(fc))
            rc = 0;
        else if (now >= fc->deadline_ms)
            rc = RN_ENOTLEADER; /* the client is told NOT_CONTROLLER and retries */
        if (rc > 0) {
            pp = &fc->next;
            continue;
        }
        *pp = fc->next;
        fcreate_finish(fc, rc);
    }
    (void)c;
}

static void on_created(void *arg, int status, const void *response)
{
    rn__fcreate_t *fc = arg;
    fc->answered = true;
    if (status == RN_PEER_CANCELLED)
        return; /* the cluster is being freed: it finishes fc */
    if (status != RN_PEER_OK) {
        fc->rc = RN_ENOTLEADER;
    } else {
        const rn_create_topics_response_t *resp = response;
        for (int32_t i = 0; i < resp->topics.count; i++) {
            int16_t ec = resp->topics.items[i].error_code;
            if (ec != RN_KERR_NONE && ec != RN_KERR_TOPIC_ALREADY_EXISTS)
                fc->rc = ec == RN_KERR_NOT_CONTROLLER ? RN_ENOTLEADER : RN_EINVAL;
        }
    }
    rn__cluster_fcreate_kick(fc->c);
}

static void add_configs(rn_arena_t *a, const rn_topic_t *topic, rn_creatable_topic_t *ct)
{
    int n = 0;
    for (int k = 0; k < RN_TC__COUNT; k++)
        n += topic->conf.v[k] != NULL;
    rn_creatable_topic_config_t *cfg = rn_creatable_topic_config_array_alloc(a, &ct->configs, n);
    for (int k = 0, j = 0; cfg != NULL && k < RN_TC__COUNT; k++) {
        if (topic->conf.v[k] == NULL)
            continue;
        cfg[j].name = rn_str(rn_topicconf_def((rn_tc_key_t)k)->name);
        cfg[j].value = rn_str(topic->conf.v[k]);
        j++;
    }
}

/* The request for the topics in topics that the image lacks; their names into fc. */
static int build_request(rn__fcreate_t *fc, rn_topics_t *topics, rn_arena_t *a,
                         rn_create_topics_request_t *creq)
{
    const rn_mimage_t *img = rn_cluster_image(fc->c);
    size_t n = rn_topics_count(topics);
    fc->names = rn_xcalloc(n + 1, sizeof(char *));
    rn_create_topics_request_init(creq);
    rn_creatable_topic_t *ct = rn_creatable_topic_array_alloc(a, &creq->topics, (int32_t)n);
    if (ct == NULL)
        return RN_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const rn_topic_t *topic = rn_topics_at(topics, i);
        if (rn_mimage_topic(img, topic->name, topic->name_len) != NULL)
            continue;
        rn_creatable_topic_t *t = &ct[fc->n];
        t->name = (rn_str_t){topic->name, (int32_t)topic->name_len};
        t->num_partitions = topic->n_partitions;
        t->replication_factor = topic->replication_factor;
        add_configs(a, topic, t);
        fc->names[fc->n++] = rn_xstrdup(topic->name);
    }
    creq->topics.count = fc->n;
    return 0;
}

int rn__cluster_forward_create(rn_cluster_t *c, int32_t leader, rn_topics_t *topics,
                               void (*done)(void *arg, int rc), void *arg, rn__fcreate_t **list)
{
    rn_peer_t *peer = rn__cluster_peer(c, leader);
    if (peer == NULL)
        return RN_ENOTLEADER;
    rn__fcreate_t *fc = rn_xcalloc(1, sizeof(*fc));
    fc->c = c;
    fc->done = done;
    fc->arg = arg;
    fc->deadline_ms = rn_clock_mono_ms() + CREATE_WAIT_MS;
    rn_arena_t a;
    rn_arena_init(&a, 0);
    rn_create_topics_request_t creq;
    int rc = build_request(fc, topics, &a, &creq);
    if (rc == 0 && fc->n == 0)
        rc = RN_ENOTLEADER; /* some other change: only the controller makes it */
    if (rc == 0) {
        creq.timeout_ms = CREATE_WAIT_MS;
        rc = rn_peer_send(peer, RN_API_CREATE_TOPICS, 4, &creq, on_created, fc);
    }
    rn_arena_free(&a);
    /* The topics made here give way to what the controller decides (ids, placement). */
    rn_mimage_topics_sync(rn_cluster_image(c), rn_cluster_broker(c)->topics);
    if (rc != 0) {
        fcreate_free(fc);
        return rc;
    }
    RN_INFO("cluster", "node %d: %d new topic(s) (%s%s) sent to the controller, node %d",
            rn_cluster_broker(c)->node_id, fc->n, fc->names[0], fc->n > 1 ? ", ..." : "", leader);
    fc->next = *list;
    *list = fc;
    return 0;
}
