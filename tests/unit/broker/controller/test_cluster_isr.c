/* Tests for rn_cluster_alter_isr (cluster_isr.c) in process: a single-node runneld (a
 * quorum of one, its own controller) on an ephemeral port with its loop on a thread; calls
 * are made on the loop thread. The local path through the controller's queue: an unchanged
 * ISR answered as it is, a refused leader epoch, partition epoch and topic id, bad
 * arguments refused without a callback, the callback never run inside the call, and a
 * cancelled call never answered. (The peer path is exercised by test_cluster_isr.py's
 * nodes only through AlterPartition itself.) */
#include "controller/rn_cluster.h"
#include "meta/rn_topics.h"
#include "rn_broker.h"
#include "rn_conn.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "tap.h"
#include "unit/testutil.h"

#include <event2/event.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static struct event_base *base;
static rn_broker_t broker;
static rn_config_t cfg;
static pthread_t loop_thread;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static void *loop_main(void *arg)
{
    (void)arg;
    event_base_loop(base, EVLOOP_NO_EXIT_ON_EMPTY);
    return NULL;
}

/* Run fn(arg) on the loop thread and wait for it. */
typedef struct hop {
    void (*fn)(void *arg);
    void *arg;
    bool ran;
} hop_t;

static void on_hop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hop_t *h = arg;
    h->fn(h->arg);
    pthread_mutex_lock(&mu);
    h->ran = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void on_loop(void (*fn)(void *arg), void *arg)
{
    hop_t h = {fn, arg, false};
    event_base_once(base, -1, EV_TIMEOUT, on_hop, &h, NULL);
    pthread_mutex_lock(&mu);
    while (!h.ran)
        pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

/* ---- one call ---- */

typedef struct call {
    rn_uuid_t topic_id;
    int32_t leader_epoch, partition_epoch;
    int32_t isr[4];
    int32_t n_isr;
    int rc;
    bool in_call; /* inside rn_cluster_alter_isr */
    int calls;    /* done callbacks run */
    bool inside;  /* one ran inside the call */
    bool cancel;  /* cancel right after the call */
    rn_isr_result_t res;
    int32_t isr0;
} call_t;

static void done(void *arg, const rn_isr_result_t *res)
{
    call_t *c = arg;
    pthread_mutex_lock(&mu);
    c->calls++;
    c->inside |= c->in_call;
    c->res = *res;
    c->isr0 = res->n_isr > 0 ? res->isr[0] : -1;
    c->res.isr = NULL;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void start_call(void *arg)
{
    call_t *c = arg;
    c->in_call = true;
    c->rc = rn_cluster_alter_isr(broker.cluster, &c->topic_id, 0, c->leader_epoch,
                                 c->partition_epoch, c->isr, c->n_isr, done, c);
    c->in_call = false;
    if (c->cancel)
        rn_cluster_alter_isr_cancel(broker.cluster, c);
}

/* Make the call; wait up to wait_ms for its answer. */
static void run(call_t *c, int wait_ms)
{
    on_loop(start_call, c);
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&mu);
    while (c->calls == 0 && pthread_cond_timedwait(&cv, &mu, &until) == 0)
        ;
    pthread_mutex_unlock(&mu);
}

/* ---- the topic ---- */

typedef struct probe {
    bool ready;
    bool found;
    rn_uuid_t id;
    int32_t leader, leader_epoch, partition_epoch;
} probe_t;

static void read_state(void *arg)
{
    probe_t *p = arg;
    char why[128];
    p->ready = rn_cluster_ready(broker.cluster, why, sizeof(why));
    const rn_mimage_topic_t *t = rn_mimage_topic(rn_cluster_image(broker.cluster), "ci", 2);
    p->found = t != NULL && t->n_parts == 1;
    if (!p->found)
        return;
    p->id = t->id;
    p->leader = t->parts[0].leader;
    p->leader_epoch = t->parts[0].leader_epoch;
    p->partition_epoch = t->parts[0].partition_epoch;
    rn_topic_t *topic = rn_topics_find(broker.topics, "ci", 2);
    rn_partition_t *part = topic != NULL ? rn_topic_partition(topic, 0) : NULL;
    if (part == NULL || part->partition_epoch != p->partition_epoch)
        p->found = false; /* the broker's topics follow the image's partition epoch */
}

static int create_topic(int port)
{
    rn_conn_t conn;
    rn_conn_init(&conn);
    if (rn_conn_open(&conn, "127.0.0.1", port, 5000) != 0)
        return -1;
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_create_topics_request_t req;
    rn_create_topics_request_init(&req);
    rn_creatable_topic_t *t = rn_creatable_topic_array_alloc(&arena, &req.topics, 1);
    t->name = (rn_str_t){"ci", 2};
    t->num_partitions = 1;
    t->replication_factor = 1;
    req.timeout_ms = 5000;
    void *resp = NULL;
    int rc = rn_conn_call(&conn, RN_API_CREATE_TOPICS, 7, &req, &arena, &resp);
    int16_t ec = rc == 0 ? ((rn_create_topics_response_t *)resp)->topics.items[0].error_code : -1;
    rn_arena_free(&arena);
    rn_conn_close(&conn);
    return ec;
}

int main(void)
{
    char dir[256];
    tu_tmpdir(dir, "cluster_isr");
    char *argv[] = {"runneld", "--listen", "127.0.0.1:0", "--data-dir", dir, NULL};
    char err[512];
    rn_config_init(&cfg);
    if (rn_config_load(&cfg, 5, argv, err, sizeof(err)) != 0) {
        diag("config: %s", err);
        return 1;
    }
    base = event_base_new();
    if (rn_broker_start(&broker, &cfg, base, err, sizeof(err)) != 0) {
        diag("start: %s", err);
        return 1;
    }
    pthread_create(&loop_thread, NULL, loop_main, NULL);
    int port = rn_broker_port(&broker);

    probe_t p = {0};
    for (int i = 0; i < 200 && !p.ready; i++) {
        on_loop(read_state, &p);
        if (!p.ready)
            usleep(25000);
    }
    ok(p.ready, "the node is registered and unfenced");
    is(create_topic(port), RN_KERR_NONE, "topic ci created");
    for (int i = 0; i < 200 && !p.found; i++) {
        on_loop(read_state, &p);
        if (!p.found)
            usleep(25000);
    }
    ok(p.found, "in the image, with the partition epoch on the broker's partition");
    is(p.leader, broker.node_id, "led by this node");

    call_t same = {.topic_id = p.id,
                   .leader_epoch = p.leader_epoch,
                   .partition_epoch = p.partition_epoch,
                   .isr = {p.leader},
                   .n_isr = 1};
    run(&same, 5000);
    is(same.rc, 0, "a call is accepted");
    is(same.calls, 1, "its callback runs once");
    ok(!same.inside, "and not inside the call");
    is(same.res.error_code, RN_KERR_NONE, "an unchanged ISR: NONE");
    ok(same.res.leader_id == p.leader && same.res.leader_epoch == p.leader_epoch &&
           same.res.partition_epoch == p.partition_epoch && same.res.n_isr == 1 &&
           same.isr0 == p.leader,
       "the partition as it is");

    call_t fenced = same;
    fenced.calls = 0;
    fenced.leader_epoch = p.leader_epoch - 1;
    run(&fenced, 5000);
    is(fenced.res.error_code, RN_KERR_FENCED_LEADER_EPOCH, "an older leader epoch: fenced");
    ok(fenced.res.leader_id == -1 && fenced.res.n_isr == 0, "a refusal carries no state");
    call_t ahead = same;
    ahead.calls = 0;
    ahead.partition_epoch = p.partition_epoch + 1;
    run(&ahead, 5000);
    is(ahead.res.error_code, RN_KERR_NOT_CONTROLLER, "a partition epoch ahead: NOT_CONTROLLER");
    call_t unknown = same;
    unknown.calls = 0;
    unknown.topic_id.bytes[3] ^= 0x5a;
    run(&unknown, 5000);
    is(unknown.res.error_code, RN_KERR_UNKNOWN_TOPIC_ID, "an unknown topic id: UNKNOWN_TOPIC_ID");

    call_t bad = same;
    bad.calls = 0;
    bad.n_isr = -1;
    run(&bad, 300);
    is(bad.rc, RN_EINVAL, "a negative ISR size: RN_EINVAL");
    is(bad.calls, 0, "and no callback");

    call_t cancelled = same;
    cancelled.calls = 0;
    cancelled.cancel = true;
    run(&cancelled, 500);
    is(cancelled.rc, 0, "a call cancelled at once was accepted");
    is(cancelled.calls, 0, "and is never answered");

    event_base_loopbreak(base);
    pthread_join(loop_thread, NULL);
    is(rn_broker_close(&broker, true, err, sizeof(err)), 0, "broker closes cleanly");
    event_base_free(base);
    rn_config_free(&cfg);
    tu_rmtree(dir);
    return done_testing();
}
