/* cluster_forward.c: requests that change metadata reach the active controller from any node,
 * as Kafka's brokers forward them (KIP-590). Admin requests (CreateTopics, DeleteTopics,
 * CreatePartitions, AlterConfigs, IncrementalAlterConfigs, CreateAcls, DeleteAcls) are sent whole,
 * same version, and the controller's answer relayed; while no controller answers (it died, an
 * election is under way) they are sent again to whichever node is the controller, until the
 * request's own timeoutMs, then answered REQUEST_TIMED_OUT as Kafka's forwarding brokers do. Topics
 * a follower creates on its own (Metadata auto-creation, the group coordinator's
 * __consumer_offsets) reach the controller as a CreateTopics of their own; the caller is answered
 * once the image here has the topics. */
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

#include <event2/event.h>
#include <string.h>

/* The handler runs here instead of forwarding when this marks req->user (this node became
 * the controller while the request waited). */
static char no_forward;

/* ---- whole admin requests ---- */

/* How long a forwarded request may take when it carries no timeoutMs of its own (the configs
 * requests) or a non-positive one: Kafka's request.timeout.ms. */
#define FORWARD_DEFAULT_MS 30000
/* While a forwarded request waits, look this often for a controller to (re)send it to. */
#define FORWARD_RETRY_MS 100

/* One forwarded request, until it is answered and every copy sent has had its callback.
 * Copies: the request goes to the controller of the moment; when that copy fails or the
 * controller changes before an answer, another copy goes to the controller then (an older
 * one stays queued in its peer until the peer fails it). Only the latest copy's answer is
 * relayed. States: req != NULL while the client waits, the timer pending (the deadline or
 * the next look); req == NULL once answered or cancelled, f freed when sends reaches 0. */
typedef struct fwd {
    rn_req_t *req;
    rn_broker_t *b;
    struct event *timer;
    int64_t deadline_ms; /* the request's own timeoutMs from its arrival */
    int32_t sent_to;     /* where the latest copy went, -1 before the first */
    int gen;             /* copies made; the latest is number gen */
    int sends;           /* copies whose callback is still to come */
    bool latest_out;     /* the latest copy's callback is still to come */
} fwd_t;

typedef struct fwd_copy {
    fwd_t *f;
    int gen;
} fwd_copy_t;

static void fwd_maybe_free(fwd_t *f)
{
    if (f->req != NULL || f->sends > 0)
        return;
    event_free(f->timer);
    rn_free(f);
}

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

/* Every entry of req answered with code (Kafka's error response for the request). */
static int fill_error(rn_req_t *req, int16_t code, const char *text)
{
    rn_arena_t *a = &req->arena;
    rn_str_t msg = rn_req_strf(req, "%s", text);
    rn_rpc_api(req->api_key)->response_init(req->response);
    switch (req->api_key) {
    case RN_API_CREATE_TOPICS: {
        const rn_create_topics_request_t *creq = req->request;
        rn_create_topics_response_t *resp = req->response;
        int32_t n = creq->topics.count > 0 ? creq->topics.count : 0;
        rn_creatable_topic_result_t *res =
            rn_creatable_topic_result_array_alloc(a, &resp->topics, n);
        if (res == NULL && n > 0)
            return RN_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            res[i].name = creq->topics.items[i].name;
            res[i].error_code = code;
            res[i].error_message = msg;
        }
        return 0;
    }
    case RN_API_DELETE_TOPICS: {
        const rn_delete_topics_request_t *dreq = req->request;
        rn_delete_topics_response_t *resp = req->response;
        bool by_state = req->api_version >= 6;
        int32_t n = by_state ? dreq->topics.count : dreq->topic_names.count;
        n = n > 0 ? n : 0;
        rn_deletable_topic_result_t *res =
            rn_deletable_topic_result_array_alloc(a, &resp->responses, n);
        if (res == NULL && n > 0)
            return RN_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            res[i].name = by_state ? dreq->topics.items[i].name : dreq->topic_names.items[i];
            if (by_state)
                res[i].topic_id = dreq->topics.items[i].topic_id;
            res[i].error_code = code;
            res[i].error_message = msg;
        }
        return 0;
    }
    case RN_API_CREATE_PARTITIONS: {
        const rn_create_partitions_request_t *preq = req->request;
        rn_create_partitions_response_t *resp = req->response;
        int32_t n = preq->topics.count > 0 ? preq->topics.count : 0;
        rn_create_partitions_topic_result_t *res =
            rn_create_partitions_topic_result_array_alloc(a, &resp->results, n);
        if (res == NULL && n > 0)
            return RN_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            res[i].name = preq->topics.items[i].name;
            res[i].error_code = code;
            res[i].error_message = msg;
        }
        return 0;
    }
    case RN_API_ALTER_CONFIGS: {
        const rn_alter_configs_request_t *areq = req->request;
        rn_alter_configs_response_t *resp = req->response;
        int32_t n = areq->resources.count > 0 ? areq->resources.count : 0;
        rn_alter_configs_resource_response_t *res =
            rn_alter_configs_resource_response_array_alloc(a, &resp->responses, n);
        if (res == NULL && n > 0)
            return RN_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            res[i].resource_type = areq->resources.items[i].resource_type;
            res[i].resource_name = areq->resources.items[i].resource_name;
            res[i].error_code = code;
            res[i].error_message = msg;
        }
        return 0;
    }
    case RN_API_INCREMENTAL_ALTER_CONFIGS: {
        const rn_incremental_alter_configs_request_t *ireq = req->request;
        rn_incremental_alter_configs_response_t *resp = req->response;
        int32_t n = ireq->resources.count > 0 ? ireq->resources.count : 0;
        rn_incremental_alter_configs_resource_response_t *res =
            rn_incremental_alter_configs_resource_response_array_alloc(a, &resp->responses, n);
        if (res == NULL && n > 0)
            return RN_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            res[i].resource_type = ireq->resources.items[i].resource_type;
            res[i].resource_name = ireq->resources.items[i].resource_name;
            res[i].error_code = code;
            res[i].error_message = msg;
        }
        return 0;
    }
    case RN_API_CREATE_ACLS: {
        const rn_create_acls_request_t *areq = req->request;
        rn_create_acls_response_t *resp = req->response;
        int32_t n = areq->creations.count > 0 ? areq->creations.count : 0;
        rn_acl_creation_result_t *res = rn_acl_creation_result_array_alloc(a, &resp->results, n);
        if (res == NULL && n > 0)
            return RN_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            res[i].error_code = code;
            res[i].error_message = msg;
        }
        return 0;
    }
    case RN_API_DELETE_ACLS: {
        const rn_delete_acls_request_t *dreq = req->request;
        rn_delete_acls_response_t *resp = req->response;
        int32_t n = dreq->filters.count > 0 ? dreq->filters.count : 0;
        rn_delete_acls_filter_result_t *res =
            rn_delete_acls_filter_result_array_alloc(a, &resp->filter_results, n);
        if (res == NULL && n > 0)
            return RN_ENOMEM;
        for (int32_t i = 0; i < n; i++) {
            res[i].error_code = code;
            res[i].error_message = msg;
            res[i].matching_acls.count = 0;
        }
        return 0;
    }
    case RN_API_ALTER_USER_SCRAM_CREDENTIALS: {
        /* One result per user named, in order of first mention. */
        const rn_alter_user_scram_credentials_request_t *areq = req->request;
        rn_alter_user_scram_credentials_response_t *resp = req->response;
        int32_t nd = areq->deletions.count > 0 ? areq->deletions.count : 0;
        int32_t nu = areq->upsertions.count > 0 ? areq->upsertions.count : 0;
        rn_alter_user_scram_credentials_result_t *res =
            rn_alter_user_scram_credentials_result_array_alloc(a, &resp->results, nd + nu);
        if (res == NULL && nd + nu > 0)
            return RN_ENOMEM;
        int32_t n = 0;
        for (int32_t i = 0; i < nd + nu; i++) {
            rn_str_t user =
                i < nd ? areq->deletions.items[i].name : areq->upsertions.items[i - nd].name;
            bool seen = false;
            for (int32_t j = 0; j < n; j++)
                seen |= rn_str_eq(res[j].user, user);
            if (!seen)
                res[n++] = (rn_alter_user_scram_credentials_result_t){user, code, msg};
        }
        resp->results.count = n;
        return 0;
    }
    default: return RN_EINVAL;
    }
}

/* The request's own bound: timeoutMs for the requests that carry one. */
static int64_t request_timeout_ms(const rn_req_t *req)
{
    int32_t t = 0;
    if (req->api_key == RN_API_CREATE_TOPICS)
        t = ((const rn_create_topics_request_t *)req->request)->timeout_ms;
    else if (req->api_key == RN_API_DELETE_TOPICS)
        t = ((const rn_delete_topics_request_t *)req->request)->timeout_ms;
    else if (req->api_key == RN_API_CREATE_PARTITIONS)
        t = ((const rn_create_partitions_request_t *)req->request)->timeout_ms;
    return t > 0 ? t : FORWARD_DEFAULT_MS;
}

/* The next look, or the deadline if that comes first. */
static void fwd_arm(fwd_t *f)
{
    int64_t ms = f->deadline_ms - rn_clock_mono_ms();
    if (ms > FORWARD_RETRY_MS)
        ms = FORWARD_RETRY_MS;
    if (ms < 0)
        ms = 0;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    evtimer_add(f->timer, &tv);
}

/* Hand req over (to its client or the local handler): f only waits for its copies now. */
static rn_req_t *fwd_release(fwd_t *f)
{
    rn_req_t *req = f->req;
    f->req = NULL;
    event_del(f->timer);
    return req;
}

static void on_answer(void *arg, int status, const void *response);

/* A copy to leader, the controller of the moment; nothing when none is known (-1) or the
 * copy cannot be queued (the timer tries again). */
static void fwd_send(fwd_t *f, int32_t leader)
{
    rn_req_t *req = f->req;
    rn_peer_t *peer = leader >= 0 ? rn__cluster_peer(f->b->cluster, leader) : NULL;
    if (peer == NULL)
        return;
    fwd_copy_t *copy = rn_xcalloc(1, sizeof(*copy));
    copy->f = f;
    copy->gen = f->gen + 1;
    if (rn_peer_send(peer, req->api_key, req->api_version, req->request, on_answer, copy) != 0) {
        rn_free(copy);
        return;
    }
    f->gen++;
    f->sends++;
    f->sent_to = leader;
    f->latest_out = true;
    RN_DEBUG("cluster", "node %d: peer %s: %s v%d corr %d forwarded to node %d (copy %d)",
             f->b->node_id, req->peer, req->api->name, req->api_version, req->correlation_id,
             leader, f->gen);
}

/* The deadline, or time to look for a controller again. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    fwd_t *f = arg;
    rn_broker_t *b = f->b;
    if (rn_clock_mono_ms() >= f->deadline_ms) {
        rn_req_t *req = fwd_release(f);
        RN_WARN("cluster",
                "node %d: peer %s: %s corr %d: no answer from a controller within "
                "%lld ms",
                b->node_id, req->peer, req->api->name, req->correlation_id,
                (long long)request_timeout_ms(req));
        if (fill_error(req, RN_KERR_REQUEST_TIMED_OUT, "The request timed out.") == 0)
            rn_req_count_error(req);
        rn_req_complete(req);
        fwd_maybe_free(f);
        return;
    }
    int32_t leader = b->controller_id;
    if (leader == b->node_id) {
        /* This node has become the controller: it answers itself. */
        rn_req_t *req = fwd_release(f);
        req->user = &no_forward;
        int rc = req->api->handler(req);
        if (rc == RN_HANDLED_SYNC || rc < 0)
            rn_req_complete(req);
        fwd_maybe_free(f);
        return;
    }
    if (leader != f->sent_to || !f->latest_out)
        fwd_send(f, leader); /* none while no controller is known: look again */
    fwd_arm(f);
}

static void on_answer(void *arg, int status, const void *response)
{
    fwd_copy_t *copy = arg;
    fwd_t *f = copy->f;
    bool latest = copy->gen == f->gen;
    rn_free(copy);
    f->sends--;
    if (latest)
        f->latest_out = false;
    rn_req_t *req = f->req;
    if (req == NULL || !latest || status == RN_PEER_CANCELLED) {
        fwd_maybe_free(f);
        return;
    }
    if (status == RN_PEER_OK && copy_response(req, response) == 0) {
        fwd_release(f);
        rn_req_complete(req);
        fwd_maybe_free(f);
        return;
    }
    /* Lost with its connection (or unanswered): the timer sends it again, to the controller
     * of that moment, until the request's own deadline. */
    RN_WARN("cluster", "node %d: peer %s: %s forwarded to node %d: %s; trying again", f->b->node_id,
            req->peer, req->api->name, f->sent_to, rn_peer_status_name(status));
}

static void on_cancel(rn_req_t *req, void *arg)
{
    (void)req;
    fwd_t *f = arg;
    fwd_release(f); /* the copies' answers still come, and the last frees f */
    fwd_maybe_free(f);
}

bool rn_cluster_forwards(const rn_req_t *req)
{
    const rn_broker_t *b = rn_req_broker(req);
    return b->cluster != NULL && req->user != &no_forward && req->request != NULL &&
           b->controller_id != b->node_id;
}

int rn_cluster_answer_all(rn_req_t *req, int16_t code, const char *text)
{
    return fill_error(req, code, text);
}

int rn_cluster_forward(rn_req_t *req)
{
    rn_broker_t *b = rn_req_broker(req);
    if (b->cluster == NULL || req->user == &no_forward || req->request == NULL)
        return 0;
    int32_t leader = b->controller_id;
    if (leader == b->node_id)
        return 0;
    fwd_t *f = rn_xcalloc(1, sizeof(*f));
    f->req = req;
    f->b = b;
    f->sent_to = -1;
    f->deadline_ms = rn_clock_mono_ms() + request_timeout_ms(req);
    f->timer = evtimer_new(b->base, on_timer, f);
    fwd_send(f, leader); /* none while no controller is known (an election): the timer looks */
    fwd_arm(f);
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
