/* This node's fetchers: one per leader node, each with its own connection, one Fetch in
 * flight naming every partition this node follows there (Kafka's ReplicaFetcherThread,
 * on the event loop). The answer is applied partition by partition and the next Fetch
 * goes out at once; the leader holds it up to replica.fetch.wait.max.ms when it has
 * nothing new. */
#include "replica/replica_int.h"
#include "auth/rn_auth.h"
#include "controller/rn_cluster.h"

#include "rn_alloc.h"
#include "rn_arena.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_messages.h"
#include "rn_peer.h"
#include "rn_rpc.h"
#include "rn_vec.h"

#include <event2/event.h>

#include <string.h>

#define FETCH_VERSION    13         /* topic ids, LastFetchedEpoch, DivergingEpoch */
#define RESPONSE_MAX     (10 << 20) /* replica.fetch.response.max.bytes */
#define ERROR_BACKOFF_MS 200        /* a partition the leader refused waits for new metadata */
#define RETRY_MS         100
#define SYNC_WAIT_MS     5 /* longest wait of a Fetch sent while a partition is fsynced */

struct rn__fetcher {
    rn_replica_t *rm;
    int32_t leader;
    rn_peer_t *peer;
    rn__rpart_t **parts;
    size_t n, cap;
    bool in_flight;
    struct event *retry;
    rn_arena_t arena; /* the request being encoded */
    int failures;
};

static void send_fetch(rn__fetcher_t *f);

/* The leader's address: its registration's endpoint on our inter-broker listener, else
 * the voter address it was configured with. */
/* The leader's inter-broker endpoint from the metadata image, else its controller.quorum.voters
 * entry; *tls: how that listener is spoken to. */
static bool leader_address(const rn_replica_t *rm, int32_t id, const char **host, int *port,
                           rn_peer_tls_t **tls)
{
    const rn_broker_t *b = rm->b;
    const rn_mimage_endpoint_t *ep =
        b->cluster ? rn_cluster_broker_endpoint(b->cluster,
                                                rn_mimage_broker(rn_cluster_image(b->cluster), id))
                   : NULL;
    if (ep != NULL) {
        *host = ep->host;
        *port = ep->port;
        *tls = b->peer_tls_inter;
        return true;
    }
    for (int i = 0; i < b->cfg->n_voters; i++) {
        if (b->cfg->voters[i].id == id) {
            *host = b->cfg->voters[i].host;
            *port = b->cfg->voters[i].port;
            *tls = b->peer_tls_controller;
            return true;
        }
    }
    return false;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    send_fetch(arg);
}

static rn__fetcher_t *fetcher_for(rn_replica_t *rm, int32_t leader)
{
    for (size_t i = 0; i < rm->n_fetchers; i++)
        if (rm->fetchers[i]->leader == leader)
            return rm->fetchers[i];
    const char *host;
    int port;
    rn_peer_tls_t *tls = NULL;
    if (!leader_address(rm, leader, &host, &port, &tls)) {
        RN_WARN("replica", "node %d: no address known for leader %d; its partitions wait",
                rm->b->node_id, leader);
        return NULL;
    }
    rn__fetcher_t *f = rn_xcalloc(1, sizeof(*f));
    f->rm = rm;
    f->leader = leader;
    rn_peer_opts_t po = {.host = host,
                         .port = port,
                         .node_id = leader,
                         .client_id = "runnel-replica-fetcher",
                         .request_timeout_ms = rm->fetch_wait_ms + 10000,
                         .backoff_max_ms = 500,
                         .backoff_jitter_pct = 20,
                         .jitter_seed = (uint32_t)rm->b->node_id,
                         .max_response_bytes = RESPONSE_MAX + (1 << 20),
                         .tls = tls};
    rn_auth_login_t login;
    rn_auth_peer_opts(rm->b->cfg, &login, &po);
    f->peer = rn_peer_new(rm->b->base, &po);
    if (f->peer == NULL) {
        rn_free(f);
        return NULL;
    }
    rn_arena_init(&f->arena, 0);
    f->retry = event_new(rm->b->base, -1, 0, on_retry, f);
    rn_vec_xpush(rm->fetchers, rm->n_fetchers, rm->fetchers_cap, f);
    return f;
}

void rn__fetcher_add(rn_replica_t *rm, rn__rpart_t *rep, int32_t leader)
{
    rn__fetcher_t *f = fetcher_for(rm, leader);
    if (f == NULL)
        return; /* the tick tries again (apply_role sees no fetcher) */
    rep->fetcher = f;
    rep->sent_offset = -1;
    rn_vec_xpush(f->parts, f->n, f->cap, rep);
    if (!f->in_flight)
        send_fetch(f);
}

void rn__fetcher_remove(rn_replica_t *rm, rn__rpart_t *rep)
{
    (void)rm;
    rn__fetcher_t *f = rep->fetcher;
    rep->fetcher = NULL;
    rep->sent_offset = -1;
    if (f == NULL)
        return;
    for (size_t i = 0; i < f->n; i++) {
        if (f->parts[i] == rep) {
            f->parts[i] = f->parts[--f->n];
            break;
        }
    }
}

/* ---- applying the answer ---- */

/* The leader says our log diverged after epoch e at offset o (KIP-101/279): cut to the end
 * of the last epoch both logs share. */
static void truncate_diverged(rn_replica_t *rm, rn__rpart_t *rep, int32_t e, int64_t o)
{
    rn_dpart_t *dpart = rep->dpart;
    int64_t leo = rn_plog_log_end_offset(dpart->log);
    int32_t own_e;
    int64_t own_o;
    rn_epochs_end_offset_for(&dpart->epochs, e, leo, &own_e, &own_o);
    int64_t to = o;
    if (own_e == e && own_o < o)
        to = own_o;
    else if (own_e >= 0 && own_e < e)
        to = own_o; /* the leader's epoch is unknown here: cut to ours and ask again */
    if (to > leo)
        to = leo;
    if (rn_plog_truncate_busy(dpart->log, to)) {
        /* A response of this node's time as leader is still being sent from the bytes to
         * cut: fetch (and be told to truncate) again in a moment. */
        rep->backoff_until = rn_clock_mono_ms() + 20;
        return;
    }
    if (to < dpart->hw)
        RN_WARN("replica", "node %d: %s truncating below its high watermark %lld to %lld",
                rm->b->node_id, rn_plog_name(dpart->log), (long long)dpart->hw, (long long)to);
    int rc = rn_plog_truncate_to(dpart->log, to);
    if (rc != 0) {
        RN_ERROR("replica", "node %d: cannot truncate %s to %lld: %s", rm->b->node_id,
                 rn_plog_name(dpart->log), (long long)to, rn_strerror(rc));
        rep->backoff_until = rn_clock_mono_ms() + 1000;
        return;
    }
    RN_INFO("replica", "node %d: %s truncated from %lld to %lld (diverged after epoch %d at %lld)",
            rm->b->node_id, rn_plog_name(dpart->log), (long long)leo,
            (long long)rn_plog_log_end_offset(dpart->log), e, (long long)o);
    rn_datapath_truncated(rn_datapath(rm->b), dpart);
    rm->truncations++;
}

/* Whole batches at the front of buf (a leader may end a response inside a batch). */
static size_t whole_batches(const uint8_t *buf, size_t len)
{
    size_t pos = 0;
    rn_batch_header_t hdr;
    while (pos < len && rn_batch_header_parse(buf + pos, len - pos, &hdr) == 0) {
        size_t total = rn_batch_total_size(&hdr);
        if (total == 0 || total > len - pos)
            break;
        pos += total;
    }
    return pos;
}

static void append_records(rn_replica_t *rm, rn__rpart_t *rep, const rn_fetch_partition_data_t *pd)
{
    rn_dpart_t *dpart = rep->dpart;
    size_t len = pd->records.len > 0 ? whole_batches(pd->records.ptr, (size_t)pd->records.len) : 0;
    if (len > 0) {
        rn_plog_append_info_t info;
        int rc =
            rn_plog_append_follower(dpart->log, pd->records.ptr, len, rn_clock_wall_ms(), &info);
        if (rc != 0) {
            RN_WARN("replica", "node %d: appending %zu bytes from leader %d to %s failed: %s",
                    rm->b->node_id, len, rep->leader, rn_plog_name(dpart->log), rn_strerror(rc));
            rep->backoff_until = rn_clock_mono_ms() + ERROR_BACKOFF_MS;
            return;
        }
        rn_datapath_follower_appended(rn_datapath(rm->b), dpart, pd->records.ptr, len);
        rm->fetched_bytes += len;
        if (rn_replica_sync_wanted(dpart))
            rn__sync_start(rm, rep); /* no Fetch claims these until they are on disk */
    }
    int64_t leo = rn_plog_log_end_offset(dpart->log);
    /* The leader's log start moved (retention, DeleteRecords): follow it. */
    if (pd->log_start_offset > rn_plog_log_start_offset(dpart->log)) {
        if (pd->log_start_offset > leo) {
            rn_plog_truncate_fully(dpart->log, pd->log_start_offset);
            rn_datapath_truncated(rn_datapath(rm->b), dpart);
        } else if (rn_plog_delete_records(dpart->log, pd->log_start_offset, NULL) == 0) {
            rn_datapath_start_moved(rn_datapath(rm->b), dpart);
        }
        leo = rn_plog_log_end_offset(dpart->log);
    }
    int64_t hw = pd->high_watermark < leo ? pd->high_watermark : leo;
    if (hw > dpart->hw)
        dpart->hw = hw;
}

static void apply_partition(rn__fetcher_t *f, rn__rpart_t *rep, const rn_fetch_partition_data_t *pd)
{
    rn_replica_t *rm = f->rm;
    int64_t sent = rep->sent_offset;
    rep->sent_offset = -1;
    /* Only an answer to what this role asked, at the log end it asked from. */
    if (rep->fetcher != f || rep->role != RN__ROLE_FOLLOWER || sent < 0 ||
        sent != rn_plog_log_end_offset(rep->dpart->log))
        return;
    switch (pd->error_code) {
    case RN_KERR_NONE:
        if (pd->diverging_epoch.epoch >= 0 || pd->diverging_epoch.end_offset >= 0)
            truncate_diverged(rm, rep, pd->diverging_epoch.epoch, pd->diverging_epoch.end_offset);
        else
            append_records(rm, rep, pd);
        return;
    case RN_KERR_OFFSET_OUT_OF_RANGE: {
        /* Behind the leader's log start (it answers that only once our epochs agree):
         * start over from there. */
        rn_dpart_t *dpart = rep->dpart;
        if (pd->log_start_offset > rn_plog_log_end_offset(dpart->log)) {
            rn_plog_truncate_fully(dpart->log, pd->log_start_offset);
            rn_datapath_truncated(rn_datapath(rm->b), dpart);
            return;
        }
        RN_WARN("replica", "node %d: leader %d answered OFFSET_OUT_OF_RANGE for %s at %lld",
                rm->b->node_id, f->leader, rn_plog_name(dpart->log), (long long)sent);
        rep->backoff_until = rn_clock_mono_ms() + 1000;
        return;
    }
    default:
        /* Not (or no longer) the leader, another epoch: new metadata will come. */
        RN_DEBUG("replica", "node %d: leader %d refused %s: %s", rm->b->node_id, f->leader,
                 rn_plog_name(rep->dpart->log), rn_kerr_name(pd->error_code));
        rep->backoff_until = rn_clock_mono_ms() + ERROR_BACKOFF_MS;
        return;
    }
}

static rn__rpart_t *find_rep(rn__fetcher_t *f, const rn_uuid_t *topic_id, int32_t partition)
{
    rn_topic_t *topic = rn_topics_find_id(f->rm->b->topics, topic_id);
    rn_partition_t *part = topic ? rn_topic_partition(topic, partition) : NULL;
    rn_dpart_t *dpart = part ? part->user : NULL;
    return dpart ? rn__rep(dpart) : NULL;
}

static void on_response(void *arg, int status, const void *response)
{
    rn__fetcher_t *f = arg;
    f->in_flight = false;
    if (status == RN_PEER_CANCELLED)
        return;
    const rn_fetch_response_t *resp = response;
    if (status != RN_PEER_OK || resp->error_code != RN_KERR_NONE) {
        if (f->failures++ == 0)
            RN_INFO("replica", "node %d: fetch from leader %d failed: %s", f->rm->b->node_id,
                    f->leader,
                    status != RN_PEER_OK ? rn_peer_status_name(status)
                                         : rn_kerr_name(resp->error_code));
        for (size_t i = 0; i < f->n; i++)
            f->parts[i]->sent_offset = -1;
        struct timeval tv = {0, RETRY_MS * 1000};
        event_add(f->retry, &tv);
        return;
    }
    if (f->failures > 0)
        RN_INFO("replica", "node %d: fetching from leader %d again after %d failures",
                f->rm->b->node_id, f->leader, f->failures);
    f->failures = 0;
    for (int32_t t = 0; t < resp->responses.count; t++) {
        const rn_fetchable_topic_response_t *tr = &resp->responses.items[t];
        for (int32_t p = 0; p < tr->partitions.count; p++) {
            const rn_fetch_partition_data_t *pd = &tr->partitions.items[p];
            rn__rpart_t *rep = find_rep(f, &tr->topic_id, pd->partition_index);
            if (rep != NULL)
                apply_partition(f, rep, pd);
        }
    }
    send_fetch(f);
}

/* ---- the request ---- */

static void send_fetch(rn__fetcher_t *f)
{
    rn_replica_t *rm = f->rm;
    if (f->in_flight || rm->b->stopping)
        return;
    int64_t now = rn_clock_mono_ms(), wake = INT64_MAX;
    rn_arena_reset(&f->arena);
    rn_fetch_request_t req;
    rn_fetch_request_init(&req);
    req.replica_id = rm->b->node_id;
    req.max_wait_ms = rm->fetch_wait_ms;
    req.min_bytes = 1;
    req.max_bytes = RESPONSE_MAX;
    req.session_id = 0;
    req.session_epoch = -1;
    rn_fetch_topic_t *topics = rn_fetch_topic_array_alloc(&f->arena, &req.topics, (int32_t)f->n);
    int32_t n = 0;
    bool syncing = false;
    for (size_t i = 0; topics != NULL && i < f->n; i++) {
        rn__rpart_t *rep = f->parts[i];
        rn_dpart_t *dpart = rep->dpart;
        rep->sent_offset = -1;
        if (rep->syncing) {
            syncing = true;
            continue; /* fetched again once its fsync is done */
        }
        if (rep->backoff_until > now) {
            if (rep->backoff_until < wake)
                wake = rep->backoff_until;
            continue;
        }
        rn_fetch_topic_t *t = &topics[n++];
        t->topic_id = dpart->part->topic->id;
        rn_fetch_partition_t *p = rn_fetch_partition_array_alloc(&f->arena, &t->partitions, 1);
        if (p == NULL)
            return;
        p->partition = dpart->part->index;
        p->current_leader_epoch = rep->epoch;
        p->fetch_offset = rn_plog_log_end_offset(dpart->log);
        p->last_fetched_epoch = rn_epochs_latest(&dpart->epochs);
        p->log_start_offset = rn_plog_log_start_offset(dpart->log);
        p->partition_max_bytes = rm->fetch_max_bytes;
        rep->sent_offset = p->fetch_offset;
    }
    req.topics.count = n;
    /* A partition left out for its fsync must not wait for the others' long poll to come
     * back (replica.fetch.wait.max.ms) before it is fetched again. */
    if (syncing && req.max_wait_ms > SYNC_WAIT_MS)
        req.max_wait_ms = SYNC_WAIT_MS;
    if (n == 0) {
        if (f->n > 0) {
            int64_t ms = wake == INT64_MAX ? RETRY_MS : wake - now;
            struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
            event_add(f->retry, &tv);
        }
        return;
    }
    int rc = rn_peer_send(f->peer, RN_API_FETCH, FETCH_VERSION, &req, on_response, f);
    if (rc != 0) {
        RN_WARN("replica", "node %d: cannot send a fetch to leader %d: %s", rm->b->node_id,
                f->leader, rn_strerror(rc));
        struct timeval tv = {0, RETRY_MS * 1000};
        event_add(f->retry, &tv);
        return;
    }
    f->in_flight = true;
}

void rn__fetcher_kick(rn_replica_t *rm, rn__rpart_t *rep)
{
    (void)rm;
    if (rep->fetcher != NULL && !rep->fetcher->in_flight)
        send_fetch(rep->fetcher);
}

void rn__fetchers_free(rn_replica_t *rm)
{
    for (size_t i = 0; i < rm->n_fetchers; i++) {
        rn__fetcher_t *f = rm->fetchers[i];
        rn_peer_free(f->peer); /* cancels the Fetch in flight */
        event_free(f->retry);
        rn_arena_free(&f->arena);
        rn_free(f->parts);
        rn_free(f);
    }
    rn_free(rm->fetchers);
    rm->fetchers = NULL;
    rm->n_fetchers = rm->fetchers_cap = 0;
}
