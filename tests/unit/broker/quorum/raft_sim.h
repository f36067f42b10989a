/* raft_sim.h: a deterministic cluster of rn_raft nodes in one process, for the quorum
 * tests. Everything the nodes depend on is simulated from one seeded PRNG:
 *  - time: a simulated clock; every node is ticked every SIM_TICK_MS;
 *  - network: messages deep-copied into a queue with a random delay (so reordered),
 *    lost or duplicated with per-run probabilities, dropped across partitions (nodes in
 *    different groups), and dropped when the receiver is down; a request to a node that
 *    is down is refused (when sim->refuse): the sender hears of it a moment later
 *    through rn_raft_request_failed and rn_raft_peer_refused, as a connection refused
 *    by a host whose process is gone;
 *  - disk: a memory log per node that remembers which prefix was flushed (a crash may
 *    lose the unflushed tail), the persisted quorum state, and the node's snapshot.
 * The checker sees every persist, append and apply as it happens and records the first
 * broken invariant in sim->failed:
 *  - election safety: at most one leader per epoch (any persisted leader id agrees);
 *    a vote never changes within an epoch and epochs never go back;
 *  - log matching: an entry (offset, epoch) has one chained hash of it and everything
 *    below it across all nodes and all time;
 *  - state machine safety: every node applies offsets in order, and what it applies at an
 *    offset is what everyone else applied there (so the sequences are prefixes of one
 *    another); committed entries are never changed or lost;
 *  - leader completeness: a new leader of epoch E holds every entry committed in epochs
 *    below E;
 *  - durability of votes: a granted vote or a candidate's request leaves only once the
 *    quorum state saying so is on disk. */
#ifndef RN_RAFT_SIM_H
#define RN_RAFT_SIM_H

#include "quorum/rn_raft.h"
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_vec.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIM_MAX_NODES 7
#define SIM_TICK_MS   5

static inline uint64_t sim_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* ---- the memory log ---- */

typedef struct sim_entry {
    int32_t epoch;
    uint8_t kind;
    uint8_t *data;
    size_t len;
    uint64_t chain; /* hash of this entry and the chain below it */
} sim_entry_t;

struct sim;

typedef struct sim_log {
    sim_entry_t *items; /* items[i] is offset start + i */
    size_t n, cap;
    int64_t start;
    int32_t start_epoch;
    uint64_t start_chain;   /* chain of entry start - 1 (0 at start 0) */
    int64_t synced;         /* entries below are durable */
    uint64_t install_chain; /* chain of the snapshot being installed, for reset */
    struct sim *sim;
} sim_log_t;

static inline void sim_log_trunc(sim_log_t *log, int64_t end)
{
    while ((int64_t)log->n > end - log->start) {
        log->n--;
        rn_free(log->items[log->n].data);
    }
    if (log->synced > end)
        log->synced = end;
}

static inline uint64_t sim_log_chain(const sim_log_t *log, int64_t offset)
{
    if (offset < log->start)
        return log->start_chain; /* only asked for start - 1 */
    return log->items[offset - log->start].chain;
}

static inline int64_t sim_log_end(void *p)
{
    sim_log_t *log = p;
    return log->start + (int64_t)log->n;
}

static inline void sim_check_append(struct sim *sim, int64_t offset, int32_t epoch, uint64_t chain);

static inline int sim_log_append(void *p, int32_t epoch, uint8_t kind, const uint8_t *data,
                                 size_t len)
{
    sim_log_t *log = p;
    int64_t off = sim_log_end(log);
    sim_entry_t e = {.epoch = epoch, .kind = kind, .len = len};
    e.data = rn_xmalloc(len ? len : 1);
    if (len)
        memcpy(e.data, data, len);
    uint64_t h = sim_mix((log->n ? log->items[log->n - 1].chain : log->start_chain) ^
                         sim_mix((uint64_t)epoch << 8 | kind));
    for (size_t i = 0; i < len; i++)
        h = sim_mix(h ^ data[i]);
    e.chain = h;
    rn_vec_xpush(log->items, log->n, log->cap, e);
    sim_check_append(log->sim, off, epoch, h);
    return 0;
}

static inline int sim_log_truncate_to(void *p, int64_t end)
{
    sim_log_trunc(p, end);
    return 0;
}

static inline int sim_log_read(void *p, int64_t offset, rn_raft_entry_t *out)
{
    sim_log_t *log = p;
    if (offset < log->start || offset >= sim_log_end(log))
        return RN_ERANGE;
    const sim_entry_t *e = &log->items[offset - log->start];
    *out = (rn_raft_entry_t){offset, e->epoch, e->kind, e->data, e->len};
    return 0;
}

static inline int sim_log_flush(void *p)
{
    sim_log_t *log = p;
    log->synced = sim_log_end(log);
    return 0;
}

static inline int64_t sim_log_start(void *p)
{
    return ((sim_log_t *)p)->start;
}

static inline int32_t sim_log_start_epoch(void *p)
{
    return ((sim_log_t *)p)->start_epoch;
}

static inline int32_t sim_log_last_epoch(void *p)
{
    sim_log_t *log = p;
    return log->n ? log->items[log->n - 1].epoch : log->start_epoch;
}

static inline int sim_log_epoch_end(void *p, int32_t epoch, int32_t *out_epoch, int64_t *out_end)
{
    sim_log_t *log = p;
    for (size_t i = log->n; i > 0; i--) {
        if (log->items[i - 1].epoch <= epoch) {
            *out_epoch = log->items[i - 1].epoch;
            *out_end = log->start + (int64_t)i;
            return 0;
        }
    }
    return RN_ENOTFOUND;
}

static inline int sim_log_reset(void *p, int64_t start, int32_t start_epoch)
{
    sim_log_t *log = p;
    sim_log_trunc(log, log->start);
    log->start = log->synced = start;
    log->start_epoch = start_epoch;
    log->start_chain = log->install_chain;
    return 0;
}

static inline int sim_log_drop_prefix(void *p, int64_t start)
{
    sim_log_t *log = p;
    if (start <= log->start)
        return 0;
    const sim_entry_t *last = &log->items[start - 1 - log->start];
    log->start_epoch = last->epoch;
    log->start_chain = last->chain;
    size_t drop = (size_t)(start - log->start);
    for (size_t i = 0; i < drop; i++)
        rn_free(log->items[i].data);
    memmove(log->items, log->items + drop, (log->n - drop) * sizeof(*log->items));
    log->n -= drop;
    log->start = start;
    return 0;
}

static const rn_raft_log_ops_t sim_log_ops = {
    .append = sim_log_append,
    .truncate_to = sim_log_truncate_to,
    .read = sim_log_read,
    .flush = sim_log_flush,
    .start_offset = sim_log_start,
    .end_offset = sim_log_end,
    .start_epoch = sim_log_start_epoch,
    .last_epoch = sim_log_last_epoch,
    .epoch_end = sim_log_epoch_end,
    .reset = sim_log_reset,
    .drop_prefix = sim_log_drop_prefix,
};

/* ---- nodes, network, checker ---- */

typedef struct sim_node {
    int32_t id;
    rn_raft_t *raft; /* NULL while down */
    sim_log_t log;
    bool has_qs;
    rn_raft_qstate_t qs; /* on disk */
    uint64_t *sm;        /* the state machine: chain hash of each applied offset */
    size_t sm_n, sm_cap;
    uint64_t *snap; /* on disk: chains of offsets [0, snap_id.end_offset) */
    rn_raft_snapshot_id_t snap_id;
    int group; /* partition: messages pass only within a group */
    bool saw_marker;
    rn_raft_state_t seen_state;
    int32_t seen_epoch;
    struct sim *sim;
} sim_node_t;

typedef struct sim_msg {
    rn_raft_msg_t msg;
    int64_t at;
    uint64_t seq; /* ties broken by send order */
    rn_raft_entry_t *recs;
    uint8_t *blob;
    /* Not for msg.to: msg.from learns that msg.to refused the connection for it
     * (SIM_REFUSED), or that the connection it went out on was lost (SIM_RESET). */
    enum { SIM_DELIVER = 0, SIM_REFUSED, SIM_RESET } fate;
} sim_msg_t;

typedef struct sim {
    uint64_t rng;
    int64_t now;
    int n;
    sim_node_t nodes[SIM_MAX_NODES];
    rn_raft_config_t cfg;
    sim_msg_t *q;
    size_t qn, qcap;
    uint64_t seq;
    /* network faults, per mille */
    int loss, dup;
    int64_t delay_min, delay_max;
    bool refuse; /* a node that is down refuses connections (else it is silent) */
    rn_raft_msg_t last_req[SIM_MAX_NODES][SIM_MAX_NODES]; /* [from][to], the latest request */
    /* checker */
    char failed[256];
    int32_t *epoch_leader; /* by epoch, -1 none */
    size_t n_epochs, cap_epochs;
    uint64_t *committed; /* chain of each committed offset */
    int32_t *commit_epoch;
    size_t n_committed, cap_committed, cap_epoch2;
    struct sim_reg {
        int64_t offset;
        int32_t epoch;
        uint64_t chain;
    } * reg; /* open addressing: (offset, epoch) -> chain */
    size_t reg_cap, reg_n;
    uint64_t marker;
    bool trace;
} sim_t;

static inline uint32_t sim_rand(sim_t *sim)
{
    sim->rng = sim->rng * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(sim_mix(sim->rng) >> 32);
}

static inline bool sim_chance(sim_t *sim, int per_mille)
{
    return (int)(sim_rand(sim) % 1000) < per_mille;
}

__attribute__((format(printf, 2, 3))) static inline void sim_fail(sim_t *sim, const char *fmt, ...)
{
    if (sim->failed[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = snprintf(sim->failed, sizeof(sim->failed), "t=%lld: ", (long long)sim->now);
    vsnprintf(sim->failed + w, sizeof(sim->failed) - (size_t)w, fmt, ap);
    va_end(ap);
}

static inline void sim_reg_grow(sim_t *sim);

static inline void sim_check_append(sim_t *sim, int64_t offset, int32_t epoch, uint64_t chain)
{
    if (sim->reg_n * 2 >= sim->reg_cap)
        sim_reg_grow(sim);
    size_t mask = sim->reg_cap - 1;
    size_t i = (size_t)sim_mix((uint64_t)offset * 31 + (uint64_t)epoch) & mask;
    for (;; i = (i + 1) & mask) {
        struct sim_reg *r = &sim->reg[i];
        if (r->offset < 0) {
            *r = (struct sim_reg){offset, epoch, chain};
            sim->reg_n++;
            return;
        }
        if (r->offset == offset && r->epoch == epoch) {
            if (r->chain != chain)
                sim_fail(sim, "log matching: two different logs hold (offset %lld, epoch %d)",
                         (long long)offset, epoch);
            return;
        }
    }
}

static inline void sim_reg_grow(sim_t *sim)
{
    struct sim_reg *old = sim->reg;
    size_t old_cap = sim->reg_cap;
    sim->reg_cap = old_cap ? old_cap * 2 : 1024;
    sim->reg = rn_xmalloc(sim->reg_cap * sizeof(*sim->reg));
    for (size_t i = 0; i < sim->reg_cap; i++)
        sim->reg[i].offset = -1;
    sim->reg_n = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].offset >= 0)
            sim_check_append(sim, old[i].offset, old[i].epoch, old[i].chain);
    rn_free(old);
}

/* A persisted leader claim for an epoch must be the only one. */
static inline void sim_check_leader(sim_t *sim, int32_t epoch, int32_t leader)
{
    if (leader < 0 || epoch < 0)
        return;
    while (sim->n_epochs <= (size_t)epoch)
        rn_vec_xpush(sim->epoch_leader, sim->n_epochs, sim->cap_epochs, -1);
    if (sim->epoch_leader[epoch] == -1)
        sim->epoch_leader[epoch] = leader;
    else if (sim->epoch_leader[epoch] != leader)
        sim_fail(sim, "election safety: epoch %d has leaders %d and %d", epoch,
                 sim->epoch_leader[epoch], leader);
}

static inline void sim_commit(sim_t *sim, sim_node_t *node, int64_t offset, uint64_t chain)
{
    if ((size_t)offset < sim->n_committed) {
        if (sim->committed[offset] != chain)
            sim_fail(sim, "state machine safety: node %d applied another entry at %lld", node->id,
                     (long long)offset);
        return;
    }
    if ((size_t)offset != sim->n_committed) {
        sim_fail(sim, "node %d applied %lld past the committed end %zu", node->id,
                 (long long)offset, sim->n_committed);
        return;
    }
    rn_vec_xpush(sim->committed, sim->n_committed, sim->cap_committed, chain);
    rn_vec_xreserve(sim->commit_epoch, sim->cap_epoch2, sim->n_committed);
    sim->commit_epoch[offset] = rn_raft_epoch(node->raft);
}

/* ---- callbacks ---- */

static inline void sim_send(void *ctx, const rn_raft_msg_t *msg);

static inline int sim_persist(void *ctx, const rn_raft_qstate_t *qs)
{
    sim_node_t *node = ctx;
    if (node->has_qs) {
        if (qs->epoch < node->qs.epoch)
            sim_fail(node->sim, "node %d epoch went back %d -> %d", node->id, node->qs.epoch,
                     qs->epoch);
        if (qs->epoch == node->qs.epoch && node->qs.voted_id != RN_RAFT_NONE &&
            qs->voted_id != node->qs.voted_id)
            sim_fail(node->sim, "node %d changed its vote in epoch %d: %d -> %d", node->id,
                     qs->epoch, node->qs.voted_id, qs->voted_id);
    }
    sim_check_leader(node->sim, qs->epoch, qs->leader_id);
    node->qs = *qs;
    node->has_qs = true;
    return 0;
}

static inline void sim_apply(void *ctx, const rn_raft_entry_t *entry)
{
    sim_node_t *node = ctx;
    if ((size_t)entry->offset != node->sm_n) {
        sim_fail(node->sim, "node %d applied %lld, expected %zu", node->id,
                 (long long)entry->offset, node->sm_n);
        return;
    }
    uint64_t chain = sim_log_chain(&node->log, entry->offset);
    rn_vec_xpush(node->sm, node->sm_n, node->sm_cap, chain);
    sim_commit(node->sim, node, entry->offset, chain);
    if (entry->len == 8 && memcmp(entry->data, &node->sim->marker, 8) == 0)
        node->saw_marker = true;
}

static inline uint32_t sim_random_cb(void *ctx)
{
    return sim_rand(((sim_node_t *)ctx)->sim);
}

static inline int sim_snapshot_read(void *ctx, rn_raft_snapshot_id_t *id, const uint8_t **data,
                                    size_t *len)
{
    sim_node_t *node = ctx;
    if (node->snap_id.end_offset <= 0)
        return RN_ENOTFOUND;
    *id = node->snap_id;
    *data = (const uint8_t *)node->snap;
    *len = (size_t)node->snap_id.end_offset * sizeof(uint64_t);
    return 0;
}

static inline int sim_snapshot_install(void *ctx, rn_raft_snapshot_id_t id, const uint8_t *data,
                                       size_t len)
{
    sim_node_t *node = ctx;
    if (len != (size_t)id.end_offset * sizeof(uint64_t) || id.end_offset <= 0)
        return RN_ECORRUPT;
    rn_free(node->snap);
    node->snap = rn_xmalloc(len);
    memcpy(node->snap, data, len);
    node->snap_id = id;
    node->sm_n = 0;
    for (int64_t i = 0; i < id.end_offset; i++) {
        rn_vec_xpush(node->sm, node->sm_n, node->sm_cap, node->snap[i]);
        sim_commit(node->sim, node, i, node->snap[i]);
    }
    node->log.install_chain = node->snap[id.end_offset - 1];
    return 0;
}

/* ---- network ---- */

static inline void sim_msg_free(sim_msg_t *m)
{
    rn_free(m->recs);
    rn_free(m->blob);
}

/* Deep copy: the node's pointers live only during the send call. */
static inline void sim_enqueue(sim_t *sim, const rn_raft_msg_t *msg)
{
    sim_msg_t m = {.msg = *msg, .seq = sim->seq++};
    m.at = sim->now + sim->delay_min +
           (int64_t)(sim_rand(sim) % (uint64_t)(sim->delay_max - sim->delay_min + 1));
    if (msg->type == RN_RAFT_FETCH_RESP && msg->u.fetch_resp.n_records > 0) {
        int n = msg->u.fetch_resp.n_records;
        size_t total = 0;
        for (int i = 0; i < n; i++)
            total += msg->u.fetch_resp.records[i].len;
        m.recs = rn_xmalloc((size_t)n * sizeof(*m.recs));
        m.blob = rn_xmalloc(total + 1);
        size_t pos = 0;
        for (int i = 0; i < n; i++) {
            m.recs[i] = msg->u.fetch_resp.records[i];
            if (m.recs[i].len)
                memcpy(m.blob + pos, m.recs[i].data, m.recs[i].len);
            m.recs[i].data = m.blob + pos;
            pos += m.recs[i].len;
        }
        m.msg.u.fetch_resp.records = m.recs;
    } else if (msg->type == RN_RAFT_FETCH_SNAPSHOT_RESP && msg->error == 0) {
        m.blob = rn_xmalloc(msg->u.snap_resp.len + 1);
        memcpy(m.blob, msg->u.snap_resp.data, msg->u.snap_resp.len);
        m.msg.u.snap_resp.data = m.blob;
    }
    rn_vec_xpush(sim->q, sim->qn, sim->qcap, m);
}

static inline sim_node_t *sim_node(sim_t *sim, int32_t id)
{
    for (int i = 0; i < sim->n; i++)
        if (sim->nodes[i].id == id)
            return &sim->nodes[i];
    return NULL;
}

static inline void sim_send(void *ctx, const rn_raft_msg_t *msg)
{
    sim_node_t *from = ctx;
    sim_t *sim = from->sim;
    sim_node_t *to = sim_node(sim, msg->to);
    /* What a vote promises must be on disk before the message leaves. */
    bool granted =
        msg->type == RN_RAFT_VOTE_RESP && msg->u.vote_resp.granted && !msg->u.vote_resp.pre_vote;
    bool asking = msg->type == RN_RAFT_VOTE_REQ && !msg->u.vote_req.pre_vote;
    if ((granted || asking) && (!from->has_qs || from->qs.epoch != msg->epoch ||
                                from->qs.voted_id != (granted ? msg->to : from->id)))
        sim_fail(sim, "node %d sent a vote in epoch %d before persisting it", from->id, msg->epoch);
    if (to == NULL || to->group != from->group || sim_chance(sim, sim->loss))
        return;
    bool request = msg->type == RN_RAFT_VOTE_REQ || msg->type == RN_RAFT_BEGIN_EPOCH_REQ ||
                   msg->type == RN_RAFT_END_EPOCH_REQ || msg->type == RN_RAFT_FETCH_REQ ||
                   msg->type == RN_RAFT_FETCH_SNAPSHOT_REQ;
    if (request)
        sim->last_req[from - sim->nodes][to - sim->nodes] = *msg;
    if (to->raft == NULL && sim->refuse && request) {
        /* The refusal comes back to the sender (never into its send call). */
        sim_msg_t m = {.msg = *msg, .seq = sim->seq++, .at = sim->now + sim->delay_min};
        m.fate = SIM_REFUSED;
        rn_vec_xpush(sim->q, sim->qn, sim->qcap, m);
        return;
    }
    sim_enqueue(sim, msg);
    if (sim_chance(sim, sim->dup))
        sim_enqueue(sim, msg);
}

/* ---- node lifecycle ---- */

static inline void sim_start(sim_t *sim, sim_node_t *node)
{
    rn_raft_io_t io = {.ctx = node,
                       .send = sim_send,
                       .persist = sim_persist,
                       .apply = sim_apply,
                       .random = sim_random_cb,
                       .snapshot_read = sim_snapshot_read,
                       .snapshot_install = sim_snapshot_install,
                       .log_ops = &sim_log_ops,
                       .log = &node->log};
    rn_raft_config_t cfg = sim->cfg;
    cfg.node_id = node->id;
    /* The state machine restarts from the snapshot on disk, as the broker's would. */
    node->sm_n = 0;
    for (int64_t i = 0; i < node->snap_id.end_offset; i++)
        rn_vec_xpush(node->sm, node->sm_n, node->sm_cap, node->snap[i]);
    node->raft = rn_raft_new(&cfg, &io, node->has_qs ? &node->qs : NULL, sim->now);
    node->seen_state = rn_raft_state(node->raft);
    node->seen_epoch = rn_raft_epoch(node->raft);
}

/* Power loss: unflushed log entries go too when lose_unflushed. With sim->refuse the
 * process is gone but its host is up: the nodes connected to it see their connections
 * close, so the latest request each sent it fails (it may have been the one in flight). */
static inline void sim_crash(sim_t *sim, sim_node_t *node, bool lose_unflushed)
{
    rn_raft_free(node->raft);
    node->raft = NULL;
    for (int i = 0; sim->refuse && i < sim->n; i++) {
        sim_node_t *peer = &sim->nodes[i];
        rn_raft_msg_t *req = &sim->last_req[i][node - sim->nodes];
        if (peer == node || peer->raft == NULL || peer->group != node->group || req->type == 0)
            continue;
        sim_msg_t m = {.msg = *req, .seq = sim->seq++, .at = sim->now + sim->delay_min};
        m.fate = SIM_RESET;
        rn_vec_xpush(sim->q, sim->qn, sim->qcap, m);
    }
    if (lose_unflushed)
        sim_log_trunc(&node->log, node->log.synced);
}

/* The metadata log directory is lost (log and snapshot); the quorum state survives, so
 * the node cannot vote twice in an epoch. Its messages still in flight are gone too. */
static inline void sim_wipe(sim_t *sim, sim_node_t *node)
{
    sim_log_trunc(&node->log, node->log.start);
    node->log.start = node->log.synced = 0;
    node->log.start_epoch = 0;
    node->log.start_chain = 0;
    rn_free(node->snap);
    node->snap = NULL;
    node->snap_id = (rn_raft_snapshot_id_t){0, 0};
    for (size_t i = 0; i < sim->qn;) {
        if (sim->q[i].msg.from == node->id || sim->q[i].msg.to == node->id) {
            sim_msg_free(&sim->q[i]);
            sim->q[i] = sim->q[--sim->qn];
        } else {
            i++;
        }
    }
}

static inline void sim_init(sim_t *sim, int n, uint64_t seed, const rn_raft_config_t *cfg)
{
    memset(sim, 0, sizeof(*sim));
    sim->rng = seed * 0x2545F4914F6CDD1Dull + 1;
    sim->n = n;
    sim->cfg = *cfg;
    sim->cfg.n_voters = n;
    sim->delay_min = 1;
    sim->delay_max = 10;
    sim->refuse = true;
    sim->marker = 0x6d61726b00000000ull | (seed & 0xffffffffu);
    sim->trace = getenv("RN_SIM_TRACE") != NULL;
    sim_reg_grow(sim);
    for (int i = 0; i < n; i++) {
        sim->cfg.voters[i] = i + 1;
        sim_node_t *node = &sim->nodes[i];
        node->id = i + 1;
        node->sim = sim;
        node->log.sim = sim;
    }
    for (int i = 0; i < n; i++)
        sim_start(sim, &sim->nodes[i]);
}

static inline void sim_destroy(sim_t *sim)
{
    for (int i = 0; i < sim->n; i++) {
        sim_node_t *node = &sim->nodes[i];
        rn_raft_free(node->raft);
        sim_log_trunc(&node->log, node->log.start);
        rn_free(node->log.items);
        rn_free(node->sm);
        rn_free(node->snap);
    }
    for (size_t i = 0; i < sim->qn; i++)
        sim_msg_free(&sim->q[i]);
    rn_free(sim->q);
    rn_free(sim->epoch_leader);
    rn_free(sim->committed);
    rn_free(sim->commit_epoch);
    rn_free(sim->reg);
}

/* A new leader of epoch E must hold every entry committed in an epoch below E. */
static inline void sim_check_new_leader(sim_t *sim, sim_node_t *node)
{
    int32_t epoch = rn_raft_epoch(node->raft);
    for (size_t o = sim->n_committed; o > 0; o--) {
        if (sim->commit_epoch[o - 1] >= epoch)
            continue;
        int64_t off = (int64_t)o - 1;
        if (off < node->log.start)
            return;
        if (off >= sim_log_end(&node->log) || sim_log_chain(&node->log, off) != sim->committed[off])
            sim_fail(sim, "leader completeness: node %d leads epoch %d without committed %lld",
                     node->id, epoch, (long long)off);
        return;
    }
}

static inline void sim_check(sim_t *sim)
{
    for (int i = 0; i < sim->n; i++) {
        sim_node_t *node = &sim->nodes[i];
        if (node->raft == NULL)
            continue;
        rn_raft_state_t st = rn_raft_state(node->raft);
        int32_t epoch = rn_raft_epoch(node->raft);
        if (st == RN_RAFT_FAILED)
            sim_fail(sim, "node %d failed", node->id);
        if (st != node->seen_state || epoch != node->seen_epoch) {
            if (sim->trace)
                printf("# t=%lld node %d: %s epoch %d leader %d hw %lld end %lld\n",
                       (long long)sim->now, node->id, rn_raft_state_name(st), epoch,
                       rn_raft_leader(node->raft), (long long)rn_raft_high_watermark(node->raft),
                       (long long)sim_log_end(&node->log));
            if (st == RN_RAFT_LEADER)
                sim_check_new_leader(sim, node);
            node->seen_state = st;
            node->seen_epoch = epoch;
        }
    }
}

/* One event: the earliest due message, or else a tick of every running node. */
static inline void sim_step(sim_t *sim)
{
    size_t best = sim->qn;
    for (size_t i = 0; i < sim->qn; i++)
        if (best == sim->qn || sim->q[i].at < sim->q[best].at ||
            (sim->q[i].at == sim->q[best].at && sim->q[i].seq < sim->q[best].seq))
            best = i;
    int64_t next_tick = (sim->now / SIM_TICK_MS + 1) * SIM_TICK_MS;
    if (best < sim->qn && sim->q[best].at < next_tick) {
        sim_msg_t m = sim->q[best];
        sim->q[best] = sim->q[--sim->qn];
        if (m.at > sim->now)
            sim->now = m.at;
        sim_node_t *to = sim_node(sim, m.msg.to), *from = sim_node(sim, m.msg.from);
        if (m.fate != SIM_DELIVER) {
            if (from->raft != NULL) {
                rn_raft_request_failed(from->raft, sim->now, &m.msg);
                if (m.fate == SIM_REFUSED)
                    rn_raft_peer_refused(from->raft, sim->now, m.msg.to);
            }
        } else if (to->raft != NULL && to->group == from->group) {
            rn_raft_receive(to->raft, sim->now, &m.msg);
        }
        sim_msg_free(&m);
    } else {
        sim->now = next_tick;
        for (int i = 0; i < sim->n; i++)
            if (sim->nodes[i].raft != NULL)
                rn_raft_tick(sim->nodes[i].raft, sim->now);
    }
    sim_check(sim);
}

/* The running node that leads the highest epoch, or NULL. */
static inline sim_node_t *sim_leader(sim_t *sim)
{
    sim_node_t *best = NULL;
    for (int i = 0; i < sim->n; i++) {
        sim_node_t *node = &sim->nodes[i];
        if (node->raft && rn_raft_state(node->raft) == RN_RAFT_LEADER &&
            (best == NULL || rn_raft_epoch(node->raft) > rn_raft_epoch(best->raft)))
            best = node;
    }
    return best;
}

/* Run until sim->now >= until or a failure. */
static inline void sim_run_until(sim_t *sim, int64_t until)
{
    while (sim->now < until && !sim->failed[0])
        sim_step(sim);
}

/* Take a snapshot of everything node has applied (the broker would write a checkpoint). */
static inline void sim_snapshot(sim_t *sim, sim_node_t *node)
{
    (void)sim;
    int64_t end = rn_raft_applied(node->raft);
    if (end <= node->log.start)
        return;
    rn_free(node->snap);
    node->snap = rn_xmalloc((size_t)end * sizeof(uint64_t));
    memcpy(node->snap, node->sm, (size_t)end * sizeof(uint64_t));
    node->snap_id.end_offset = end;
    node->snap_id.epoch = node->log.items[end - 1 - node->log.start].epoch;
    if (rn_raft_snapshot_taken(node->raft, end) != 0)
        sim_fail(sim, "node %d: snapshot at %lld refused", node->id, (long long)end);
}

#endif
