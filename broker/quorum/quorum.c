/* quorum.c: the quorum thread — rn_raft with its own event loop, the io it is given
 * (quorum-state persisted with tmp + fsync + rename + directory fsync, the log, snapshots),
 * the peers it sends to, the tick timer, and the items it exchanges with the broker's
 * loop (quorum_items.h). Nothing here runs on the broker's loop (design decision 3). */
#include "quorum/quorum_items.h"
#include "quorum/raft_int.h"
#include "quorum/rn_qstate.h"

#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_peer.h"

#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define TICK_MS 5

/* An incoming request raft has not answered yet; expires at deadline (raft keeps no
 * promise to answer a message it finds stale). */
typedef struct qpending {
    struct qpending *next;
    rn_qhandle_t *h;
    int64_t corr, deadline, snap_position;
    rn_raft_msg_type_t type;
} qpending_t;

/* A proposal of the current epoch, done once last_offset is applied. */
typedef struct qappend {
    struct qappend *next;
    int32_t epoch;
    int64_t last_offset;
    rn_quorum_done_fn done;
    void *arg;
} qappend_t;

/* A snapshot being fetched in chunks (raft asked for it whole). */
typedef struct qsnapfetch {
    rn_raft_msg_t sent;
    uint8_t *buf;
    size_t len;
} qsnapfetch_t;

typedef struct qout {
    rn_quorum_t *q;
    rn_raft_msg_t sent;
    int16_t api_key, version;
} qout_t;

static int64_t raft_now(const rn_quorum_t *q)
{
    return rn_clock_mono_ms() - q->t0 + q->skew;
}

/* ---- io ---- */

static uint32_t io_random(void *ctx)
{
    rn_quorum_t *q = ctx;
    q->rnd ^= q->rnd << 13;
    q->rnd ^= q->rnd >> 7;
    q->rnd ^= q->rnd << 17;
    return (uint32_t)(q->rnd >> 11);
}

static int write_durable(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4200], tmp[4300];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return RN_EIO;
    bool ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        return RN_EIO;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return RN_EIO;
    ok = fsync(dfd) == 0;
    close(dfd);
    return ok ? 0 : RN_EIO;
}

static int io_persist(void *ctx, const rn_raft_qstate_t *rs)
{
    rn_quorum_t *q = ctx;
    rn_qstate_file_t f;
    rn_qstate_init(&f);
    rn_qstate_from_raft(&f, rs);
    for (int i = 0; i < q->opts.n_voters; i++)
        f.voters[f.n_voters++] = q->opts.voter_ids[i];
    char buf[1024];
    size_t len;
    if (rn_qstate_encode(&f, buf, sizeof(buf), &len) != 0)
        return RN_EINVAL;
    int rc = write_durable(rn_qlog_dir(q->qlog), "quorum-state", buf, len);
    if (rc != 0)
        RN_ERROR("quorum", "node %d: cannot write the quorum state", q->opts.node_id);
    return rc;
}

static void post_out(rn_quorum_t *q, rn_qitem_t *item, int kind)
{
    item->kind = kind;
    rn_qbox_post(q->outbox, item);
}

static void io_apply(void *ctx, const rn_raft_entry_t *e)
{
    rn_quorum_t *q = ctx;
    qo_apply_t *a = rn_xcalloc(1, sizeof(*a));
    a->offset = e->offset;
    a->epoch = e->epoch;
    a->kind = e->kind;
    if (e->len > 0) {
        a->data = rn_xmalloc(e->len);
        memcpy(a->data, e->data, e->len);
        a->len = e->len;
    }
    post_out(q, &a->link, QO_APPLY);
    for (qappend_t **pp = &q->appends; *pp != NULL;) {
        qappend_t *ap = *pp;
        if (ap->last_offset > e->offset) {
            pp = &ap->next;
            continue;
        }
        qo_done_t *d = rn_xcalloc(1, sizeof(*d));
        *d = (qo_done_t){.done = ap->done, .arg = ap->arg, .rc = 0, .last_offset = ap->last_offset};
        post_out(q, &d->link, QO_DONE);
        *pp = ap->next;
        rn_free(ap);
    }
}

static int io_snapshot_read(void *ctx, rn_raft_snapshot_id_t *id, const uint8_t **data, size_t *len)
{
    rn_quorum_t *q = ctx;
    if (q->snap_id.end_offset <= 0)
        return RN_ENOTFOUND;
    *id = q->snap_id;
    *data = q->snap;
    *len = q->snap_len;
    return 0;
}

/* Store a snapshot as <endOffset 20 digits>-<epoch 10 digits>.checkpoint beside the log. */
static int store_snapshot(rn_quorum_t *q, rn_raft_snapshot_id_t id, const uint8_t *data, size_t len)
{
    char name[64];
    snprintf(name, sizeof(name), "%020lld-%010d.checkpoint", (long long)id.end_offset, id.epoch);
    int rc = write_durable(rn_qlog_dir(q->qlog), name, data, len);
    if (rc != 0)
        return rc;
    rn_free(q->snap);
    q->snap = rn_xmalloc(len ? len : 1);
    memcpy(q->snap, data, len);
    q->snap_len = len;
    q->snap_id = id;
    return 0;
}

static int io_snapshot_install(void *ctx, rn_raft_snapshot_id_t id, const uint8_t *data, size_t len)
{
    rn_quorum_t *q = ctx;
    int rc = store_snapshot(q, id, data, len);
    if (rc != 0)
        return rc;
    qi_snapshot_t *s = rn_xcalloc(1, sizeof(*s));
    s->id = id;
    s->data = rn_xmalloc(len ? len : 1);
    memcpy(s->data, data, len);
    s->len = len;
    post_out(q, &s->link, QO_SNAPSHOT_LOAD);
    return 0;
}

/* ---- sending ---- */

static void send_request(rn_quorum_t *q, const rn_raft_msg_t *msg, int64_t snap_position);

static void receive(rn_quorum_t *q, const rn_raft_msg_t *msg);

static void after_event(rn_quorum_t *q);

/* A chunk of the snapshot being fetched: ask for the next or hand raft the whole. */
static void on_snapshot_chunk(rn_quorum_t *q, const rn_raft_msg_t *resp, rn_records_t chunk,
                              int64_t size, int64_t position)
{
    qsnapfetch_t *sf = q->snapget;
    if (sf == NULL || resp->error != 0 || position != (int64_t)sf->len || chunk.len < 0 ||
        size < 0 || size > (1ll << 31) || position + chunk.len > size) {
        if (sf == NULL || resp->error != 0) {
            receive(q, resp); /* raft learns the error (or a new leader) from it */
        }
        return;
    }
    sf->buf = rn_xrealloc(sf->buf, (size_t)size + 1);
    memcpy(sf->buf + sf->len, chunk.ptr, (size_t)chunk.len);
    sf->len += (size_t)chunk.len;
    if ((int64_t)sf->len < size) {
        send_request(q, &sf->sent, (int64_t)sf->len);
        return;
    }
    rn_raft_msg_t whole = *resp;
    whole.u.snap_resp.data = sf->buf;
    whole.u.snap_resp.len = sf->len;
    q->snapget = NULL;
    receive(q, &whole);
    rn_free(sf->buf);
    rn_free(sf);
}

static void on_peer_answer(void *arg, int status, const void *response)
{
    qout_t *o = arg;
    rn_quorum_t *q = o->q;
    if (status == RN_PEER_UNSUPPORTED && o->sent.type == RN_RAFT_VOTE_REQ &&
        o->sent.u.vote_req.pre_vote) {
        /* A voter without Vote v2 cannot pre-vote: count it as granted so the prospective
         * goes on to a real election, as Kafka does on UNSUPPORTED_VERSION. */
        rn_raft_msg_t m = {.type = RN_RAFT_VOTE_RESP,
                           .from = o->sent.to,
                           .to = o->sent.from,
                           .corr = o->sent.corr,
                           .epoch = o->sent.epoch,
                           .leader_id = RN_RAFT_NONE};
        m.u.vote_resp.granted = m.u.vote_resp.pre_vote = true;
        receive(q, &m);
    } else if (status == RN_PEER_OK && !q->stopping) {
        rn_arena_t arena;
        rn_arena_init(&arena, 0);
        rn_raft_msg_t m;
        rn_records_t chunk = {0};
        int64_t size = 0, position = 0;
        int rc = rn_qmsg_response_decode(o->api_key, o->version, response, &o->sent, &arena, &m,
                                         &chunk, &size, &position);
        if (rc != 0)
            RN_WARN("quorum", "node %d: bad %d answer from node %d: %s", q->opts.node_id,
                    o->api_key, o->sent.to, rn_strerror(rc));
        else if (m.type == RN_RAFT_FETCH_SNAPSHOT_RESP)
            on_snapshot_chunk(q, &m, chunk, size, position);
        else
            receive(q, &m);
        rn_arena_free(&arena);
    } else if (status != RN_PEER_OK && status != RN_PEER_CANCELLED && !q->stopping) {
        /* Lost with its connection or timed out: a Fetch is sent again at once. */
        rn_raft_request_failed(q->raft, raft_now(q), &o->sent);
        rn_raft_tick(q->raft, raft_now(q));
        after_event(q);
    }
    rn_free(o);
}

static int16_t pick_version(rn_quorum_t *q, struct rn_peer *peer, int16_t key)
{
    int16_t max = key == RN_API_VOTE ? 2 : key == RN_API_FETCH ? 13 : 1;
    int16_t v = rn_peer_version(peer, key, max);
    (void)q;
    return v >= 0 ? v : max;
}

static void send_request(rn_quorum_t *q, const rn_raft_msg_t *msg, int64_t snap_position)
{
    int idx = rn__raft_voter_index(q->raft, msg->to);
    if (idx < 0 || q->peers[idx] == NULL || q->stopping)
        return;
    qout_t *o = rn_xcalloc(1, sizeof(*o));
    o->q = q;
    o->sent = *msg;
    o->api_key = rn_qmsg_api_key(msg->type);
    o->version = pick_version(q, q->peers[idx], o->api_key);
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_qmsg_request_t req;
    int rc = rn_qmsg_request_encode(msg, q->cluster_id, o->version, snap_position, &arena, &req);
    if (rc == 0)
        rc = rn_peer_send(q->peers[idx], o->api_key, o->version, &req, on_peer_answer, o);
    rn_arena_free(&arena);
    if (rc == RN_EUNSUPPORTED)
        on_peer_answer(o, RN_PEER_UNSUPPORTED, NULL);
    else if (rc != 0)
        rn_free(o); /* raft sends again on its timers */
}

/* An answer of raft to an incoming request: back to the loop, with its bytes. */
static void send_answer(rn_quorum_t *q, const rn_raft_msg_t *msg)
{
    for (qpending_t **pp = &q->pending; *pp != NULL; pp = &(*pp)->next) {
        qpending_t *p = *pp;
        if (p->corr != msg->corr)
            continue;
        qo_answer_t *a = rn_xcalloc(1, sizeof(*a));
        a->h = p->h;
        a->msg = *msg;
        if (msg->type == RN_RAFT_FETCH_RESP && msg->error == 0 &&
            rn_qmsg_batches_encode(msg->u.fetch_resp.records, msg->u.fetch_resp.n_records,
                                   &a->bytes, &a->len) != 0)
            a->msg.error = RN_KERR_UNKNOWN_SERVER_ERROR;
        if (msg->type == RN_RAFT_FETCH_SNAPSHOT_RESP && msg->error == 0) {
            size_t pos = (size_t)p->snap_position, len = msg->u.snap_resp.len;
            size_t n = pos < len ? len - pos : 0;
            if (n > RN_QMSG_FETCH_MAX_BYTES)
                n = RN_QMSG_FETCH_MAX_BYTES;
            a->bytes = rn_xmalloc(n + 1);
            memcpy(a->bytes, msg->u.snap_resp.data + (pos < len ? pos : len), n);
            a->len = n;
            a->position = (int64_t)pos;
            a->size = (int64_t)len;
        }
        /* The union's pointers point into raft's memory, gone after this call; clear only
         * the member of this message's type (the others overlap its fields). */
        if (msg->type == RN_RAFT_FETCH_RESP)
            a->msg.u.fetch_resp.records = NULL;
        else if (msg->type == RN_RAFT_FETCH_SNAPSHOT_RESP)
            a->msg.u.snap_resp.data = NULL;
        post_out(q, &a->link, QO_ANSWER);
        *pp = p->next;
        rn_free(p);
        return;
    }
}

static void io_send(void *ctx, const rn_raft_msg_t *msg)
{
    rn_quorum_t *q = ctx;
    switch (msg->type) {
    case RN_RAFT_VOTE_REQ:
    case RN_RAFT_BEGIN_EPOCH_REQ:
    case RN_RAFT_END_EPOCH_REQ:
    case RN_RAFT_FETCH_REQ: send_request(q, msg, 0); break;
    case RN_RAFT_FETCH_SNAPSHOT_REQ: {
        qsnapfetch_t *sf = q->snapget;
        if (sf != NULL) {
            rn_free(sf->buf);
            rn_free(sf);
        }
        q->snapget = rn_xcalloc(1, sizeof(*q->snapget));
        q->snapget->sent = *msg;
        send_request(q, msg, 0);
        break;
    }
    default: send_answer(q, msg); break;
    }
}

/* ---- events ---- */

/* Publish what the loop reads, tell it about a new leader, fail appends of a lost epoch. */
static void after_event(rn_quorum_t *q)
{
    rn_raft_t *raft = q->raft;
    int32_t leader = rn_raft_leader(raft), epoch = rn_raft_epoch(raft);
    if (leader != q->seen_leader || epoch != q->seen_epoch) {
        q->seen_leader = leader;
        q->seen_epoch = epoch;
        qo_leader_t *l = rn_xcalloc(1, sizeof(*l));
        l->leader_id = leader;
        l->epoch = epoch;
        post_out(q, &l->link, QO_LEADER);
    }
    bool leading = rn_raft_state(raft) == RN_RAFT_LEADER;
    for (qappend_t **pp = &q->appends; *pp != NULL;) {
        qappend_t *ap = *pp;
        if (leading && ap->epoch == epoch) {
            pp = &ap->next;
            continue;
        }
        qo_done_t *d = rn_xcalloc(1, sizeof(*d));
        *d = (qo_done_t){.done = ap->done, .arg = ap->arg, .rc = RN_ENOTLEADER};
        post_out(q, &d->link, QO_DONE);
        *pp = ap->next;
        rn_free(ap);
    }
    rn_qstatus_t st = {.state = rn_raft_state(raft),
                       .epoch = epoch,
                       .leader_id = leader,
                       .hw = rn_raft_high_watermark(raft),
                       .leo = rn__raft_leo(raft)};
    int64_t now = raft_now(q), wall = rn_clock_wall_ms();
    for (int i = 0; i < q->opts.n_voters; i++) {
        const rn_raft_voter_t *v = &raft->voters[i];
        bool self = i == raft->self;
        st.voter_end[i] = self ? st.leo : v->end_offset;
        st.voter_fetch_wall[i] = self                   ? wall
                                 : v->last_fetch_ms > 0 ? wall - (now - v->last_fetch_ms)
                                                        : -1;
    }
    pthread_mutex_lock(&q->pub_mu);
    q->pub = st;
    pthread_mutex_unlock(&q->pub_mu);
}

static void receive(rn_quorum_t *q, const rn_raft_msg_t *msg)
{
    rn_raft_receive(q->raft, raft_now(q), msg);
    rn_raft_tick(q->raft, raft_now(q));
    after_event(q);
}

/* Requests raft let go unanswered past their deadline get NOT_LEADER_OR_FOLLOWER. */
static void expire_pending(rn_quorum_t *q, bool all)
{
    int64_t now = raft_now(q);
    for (qpending_t *p = q->pending, *next; p != NULL; p = next) {
        next = p->next;
        if (!all && p->deadline > now)
            continue;
        rn_raft_msg_t m = {.type = p->type,
                           .corr = p->corr,
                           .epoch = rn_raft_epoch(q->raft),
                           .leader_id = rn_raft_leader(q->raft),
                           .error = RN_KERR_NOT_LEADER_OR_FOLLOWER};
        send_answer(q, &m);
    }
}

/* Tell raft of every voter that refused a connection since the last tick: its process is
 * gone (rn_raft_peer_refused), which a follower of it need not wait the fetch timeout for. */
static void note_refusals(rn_quorum_t *q)
{
    for (int i = 0; i < q->opts.n_voters; i++) {
        if (q->peers[i] == NULL)
            continue;
        rn_peer_stats_t stats;
        rn_peer_stats(q->peers[i], &stats);
        if (stats.refused == q->refused_seen[i])
            continue;
        q->refused_seen[i] = stats.refused;
        RN_DEBUG("quorum", "node %d: node %d refused a connection", q->opts.node_id,
                 q->opts.voter_ids[i]);
        rn_raft_peer_refused(q->raft, raft_now(q), q->opts.voter_ids[i]);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rn_quorum_t *q = arg;
    note_refusals(q);
    rn_raft_tick(q->raft, raft_now(q));
    expire_pending(q, false);
    after_event(q);
}

static void take_request(rn_quorum_t *q, qi_req_t *r)
{
    qpending_t *p = rn_xcalloc(1, sizeof(*p));
    p->h = r->h;
    p->corr = (1ll << 40) + q->next_in_corr++; /* apart from raft's own ids */
    p->snap_position = r->snap_position;
    p->type = r->msg.type + 1; /* the response type follows its request's */
    p->deadline = raft_now(q) + RN_QMSG_FETCH_MAX_WAIT_MS + q->opts.request_timeout_ms / 2;
    p->next = q->pending;
    q->pending = p;
    r->msg.corr = p->corr;
    receive(q, &r->msg);
}

static void take_append(rn_quorum_t *q, qi_append_t *a)
{
    int64_t last = -1;
    int rc = 0;
    for (int i = 0; i < a->n && rc == 0; i++) {
        int64_t off = rn_raft_propose(q->raft, a->entries[i], a->lens[i]);
        if (off < 0)
            rc = RN_ENOTLEADER;
        else
            last = off;
    }
    if (rc != 0 && last < 0) {
        qo_done_t *d = rn_xcalloc(1, sizeof(*d));
        *d = (qo_done_t){.done = a->done, .arg = a->arg, .rc = rc};
        post_out(q, &d->link, QO_DONE);
    } else {
        qappend_t *ap = rn_xcalloc(1, sizeof(*ap));
        *ap = (qappend_t){q->appends, rn_raft_epoch(q->raft), last, a->done, a->arg};
        q->appends = ap;
    }
    rn_raft_tick(q->raft, raft_now(q)); /* the leader flushes and commits on its tick */
    after_event(q);
}

void rn__quorum_thread_item(void *arg, rn_qitem_t *item)
{
    rn_quorum_t *q = arg;
    switch (item->kind) {
    case QI_REQ: take_request(q, (qi_req_t *)item); break;
    case QI_APPEND: {
        qi_append_t *a = (qi_append_t *)item;
        take_append(q, a);
        for (int i = 0; i < a->n; i++)
            rn_free(a->entries[i]);
        rn_free(a->entries);
        rn_free(a->lens);
        break;
    }
    case QI_SNAPSHOT_TAKEN: {
        qi_snapshot_t *s = (qi_snapshot_t *)item;
        if (store_snapshot(q, s->id, s->data, s->len) == 0 &&
            rn_raft_snapshot_taken(q->raft, s->id.end_offset) != 0)
            RN_WARN("quorum", "node %d: snapshot at %lld not taken", q->opts.node_id,
                    (long long)s->id.end_offset);
        rn_free(s->data);
        break;
    }
    case QI_STOP:
        /* Resign (EndQuorumEpoch goes out), answer what waits, leave shortly after. */
        rn_raft_resign(q->raft);
        after_event(q);
        expire_pending(q, true);
        q->stopping = true;
        struct timeval tv = {0, 100 * 1000};
        event_base_loopexit(q->qbase, &tv);
        break;
    }
    rn_free(item);
}

static void *thread_main(void *arg)
{
    rn_quorum_t *q = arg;
    event_base_dispatch(q->qbase);
    return NULL;
}

int rn__quorum_thread_start(rn_quorum_t *q, char *err, size_t errlen)
{
    /* The loop starts from the durable view; only changes from it are posted, except a
     * follower's known leader: the broker reaches its controller through it (a restarted
     * follower whose epoch goes on would otherwise never be told). */
    q->seen_leader = rn_raft_leader(q->raft);
    if (q->seen_leader >= 0 && q->seen_leader != q->opts.node_id)
        q->seen_leader = -2;
    q->seen_epoch = rn_raft_epoch(q->raft);
    q->tick = event_new(q->qbase, -1, EV_PERSIST, on_tick, q);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(q->tick, &tv);
    for (int i = 0; i < q->opts.n_voters; i++) {
        if (q->opts.voter_ids[i] == q->opts.node_id)
            continue;
        rn_peer_opts_t po = {.host = q->opts.voter_hosts[i],
                             .port = q->opts.voter_ports[i],
                             .node_id = q->opts.voter_ids[i],
                             .client_id = "runnel-quorum",
                             .connect_timeout_ms = (int)q->opts.request_timeout_ms,
                             .request_timeout_ms = (int)q->opts.request_timeout_ms,
                             .backoff_initial_ms = 50,
                             .backoff_max_ms = 1000,
                             .backoff_jitter_pct = 20,
                             .jitter_seed = (uint32_t)q->opts.node_id + 1,
                             .tls = q->opts.peer_tls};
        if (q->sasl_mechanism[0] != '\0') {
            po.sasl_mechanism = q->sasl_mechanism;
            po.sasl_username = q->sasl_username;
            po.sasl_password = q->sasl_password;
        }
        q->peers[i] = rn_peer_new(q->qbase, &po);
        if (q->peers[i] == NULL) {
            snprintf(err, errlen, "controller.quorum.voters: cannot reach node %d at %s:%d",
                     q->opts.voter_ids[i], po.host, po.port);
            return RN_EINVAL;
        }
    }
    after_event(q);
    if (pthread_create(&q->thread, NULL, thread_main, q) != 0) {
        snprintf(err, errlen, "cannot start the quorum thread");
        return RN_EIO;
    }
    return 0;
}

void rn__quorum_thread_free(rn_quorum_t *q)
{
    for (int i = 0; i < RN_RAFT_MAX_VOTERS; i++)
        rn_peer_free(q->peers[i]); /* cancelled callbacks free their qout */
    for (qpending_t *p = q->pending, *next; p != NULL; p = next) {
        next = p->next;
        rn_free(p);
    }
    for (qappend_t *ap = q->appends, *next; ap != NULL; ap = next) {
        next = ap->next;
        qo_done_t *d = rn_xcalloc(1, sizeof(*d));
        *d = (qo_done_t){.done = ap->done, .arg = ap->arg, .rc = RN_ECANCELED};
        post_out(q, &d->link, QO_DONE);
        rn_free(ap);
    }
    if (q->snapget != NULL) {
        rn_free(q->snapget->buf);
        rn_free(q->snapget);
    }
    if (q->tick != NULL)
        event_free(q->tick);
    rn_raft_free(q->raft);
    rn_qlog_close(q->qlog);
    rn_free(q->snap);
}

void rn__quorum_io(rn_quorum_t *q, rn_raft_io_t *io)
{
    *io = (rn_raft_io_t){.ctx = q,
                         .send = io_send,
                         .persist = io_persist,
                         .apply = io_apply,
                         .random = io_random,
                         .snapshot_read = io_snapshot_read,
                         .snapshot_install = io_snapshot_install,
                         .log_ops = &rn_qlog_ops,
                         .log = q->qlog};
}
