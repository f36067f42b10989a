/* group_state.c: the bookkeeping under rn_group's state machine — members and pending
 * members, waiters and their answers, protocol support and selection, the consumers'
 * subscribed topics, the metadata snapshot handed to ops.store, and the group's lifecycle
 * (new, restore, unload, free) and read access. The protocol itself is in group.c. */
#include "group_int.h"
#include "rn_clock.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"
#include "rn_vec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

/* Stands in for a waiter whose request went away: the member still counts as waiting. */
static char waiter_gone;
#define WAITER_GONE ((void *)&waiter_gone)

/* ---- small helpers ---- */

static const char *const state_names[] = {"Empty", "PreparingRebalance", "CompletingRebalance",
                                          "Stable", "Dead"};

const char *rn_group_state_name(rn_group_state_t state)
{
    return (unsigned)state < 5 ? state_names[state] : "Unknown";
}

int rn_group_state_parse(const char *name, size_t len)
{
    for (int i = 0; i < 5; i++)
        if (strlen(state_names[i]) == len && strncasecmp(state_names[i], name, len) == 0)
            return i;
    return -1;
}

void rn_group_config_default(rn_group_config_t *cfg)
{
    cfg->min_session_timeout_ms = 6000;
    cfg->max_session_timeout_ms = 1800000;
    cfg->initial_rebalance_delay_ms = 3000;
    cfg->max_size = INT32_MAX;
    cfg->new_member_join_timeout_ms = RN_GROUP_NEW_MEMBER_JOIN_TIMEOUT_MS;
}

uint8_t *rn__group_dup_bytes(const uint8_t *p, int32_t len)
{
    if (len <= 0)
        return NULL;
    uint8_t *d = rn_xmalloc((size_t)len);
    memcpy(d, p, (size_t)len);
    return d;
}

void rn__group_protocols_free(rn_group_protocol_t *protocols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rn_str_free(protocols[i].name);
        rn_free(protocols[i].metadata);
    }
    rn_free(protocols);
}

rn_group_protocol_t *rn__group_protocols_dup(const rn_group_protocol_t *src, size_t n)
{
    rn_group_protocol_t *d = rn_xcalloc(n ? n : 1, sizeof(*d));
    for (size_t i = 0; i < n; i++) {
        d[i].name = rn_str_xdup(src[i].name.len >= 0 ? src[i].name : rn_str(""));
        d[i].metadata = rn__group_dup_bytes(src[i].metadata, src[i].metadata_len);
        d[i].metadata_len = src[i].metadata_len > 0 ? src[i].metadata_len : 0;
    }
    return d;
}

static void member_free(rn_group_member_t *m)
{
    rn_str_free(m->member_id);
    rn_str_free(m->instance_id);
    rn_str_free(m->client_id);
    rn_str_free(m->client_host);
    rn_str_free(m->protocol_type);
    rn__group_protocols_free(m->protocols, m->n_protocols);
    rn_free(m->assignment);
    rn_free(m);
}

void rn__group_set_assignment(rn_group_member_t *m, const uint8_t *p, int32_t len)
{
    rn_free(m->assignment);
    m->assignment = rn__group_dup_bytes(p, len);
    m->assignment_len = len > 0 ? len : 0;
}

void rn__group_transition(rn_group_t *g, rn_group_state_t to)
{
    g->state = to;
    g->state_ts = g->now;
}

void rn__group_schedule_heartbeat(rn_group_t *g, rn_group_member_t *m)
{
    m->hb_deadline = g->now + m->session_timeout_ms;
}

/* Kafka's group.rebalanceTimeoutMs: the largest of the members'. */
int32_t rn__group_rebalance_timeout(const rn_group_t *g)
{
    int32_t t = 0;
    for (size_t i = 0; i < g->n_members; i++)
        if (g->members[i]->rebalance_timeout_ms > t)
            t = g->members[i]->rebalance_timeout_ms;
    return t;
}

rn_group_member_t *rn__group_find_member(const rn_group_t *g, rn_str_t id)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (rn_str_eq(g->members[i]->member_id, id))
            return g->members[i];
    return NULL;
}

rn_group_member_t *rn__group_find_static(const rn_group_t *g, rn_str_t instance_id)
{
    if (rn_str_is_null(instance_id))
        return NULL;
    for (size_t i = 0; i < g->n_members; i++)
        if (rn_str_eq(g->members[i]->instance_id, instance_id))
            return g->members[i];
    return NULL;
}

ssize_t rn__group_find_pending(const rn_group_t *g, rn_str_t id)
{
    for (size_t i = 0; i < g->n_pending; i++)
        if (rn_str_eq(g->pending[i].id, id))
            return (ssize_t)i;
    return -1;
}

void rn__group_remove_pending_at(rn_group_t *g, size_t i)
{
    rn_str_free(g->pending[i].id);
    g->pending[i] = g->pending[--g->n_pending];
}

bool rn__group_awaiting_join(const rn_group_member_t *m)
{
    return m->join_waiter != NULL;
}

/* A new member id: Kafka's "<client id or instance id>-<random UUID>" (a version-4 UUID in
 * its 8-4-4-4-12 text form); the prefix keeps every byte it has. */
rn_str_t rn__group_new_member_id(rn_str_t prefix)
{
    static uint64_t fallback;
    uint8_t b[16];
    if (rn_random_bytes(b, sizeof(b)) != 0) {
        /* No randomness to be had: still unique within this process. */
        uint64_t x = ++fallback ^ (uint64_t)(uintptr_t)&fallback;
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)(x >> (8 * (i % 8))) ^ (uint8_t)(i * 37);
    }
    b[6] = (uint8_t)((b[6] & 0x0F) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3F) | 0x80);
    char text[37];
    static const char hex[] = "0123456789abcdef";
    size_t t = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            text[t++] = '-';
        text[t++] = hex[b[i] >> 4];
        text[t++] = hex[b[i] & 15];
    }
    size_t plen = prefix.len > 0 ? (size_t)prefix.len : 0;
    char *id = rn_xmalloc(plen + 1 + t + 1);
    if (plen > 0)
        memcpy(id, prefix.ptr, plen);
    id[plen] = '-';
    memcpy(id + plen + 1, text, t);
    id[plen + 1 + t] = '\0';
    return (rn_str_t){id, (int32_t)(plen + 1 + t)};
}

/* ---- answering waiters ---- */

void rn__group_answer_join(rn_group_t *g, void *waiter, const rn_group_join_result_t *res)
{
    if (waiter != NULL && waiter != WAITER_GONE)
        g->ops.join_done(g->ops.arg, waiter, res);
}

void rn__group_answer_sync(rn_group_t *g, void *waiter, const rn_group_sync_result_t *res)
{
    if (waiter != NULL && waiter != WAITER_GONE)
        g->ops.sync_done(g->ops.arg, waiter, res);
}

void rn__group_join_error(rn_group_t *g, void *waiter, rn_str_t member_id, int16_t error)
{
    rn_group_join_result_t res = {
        .error = error,
        .member_id = member_id,
        .generation_id = RN_GROUP_NO_GENERATION,
        .protocol_type = RN_STR_NULL,
        .protocol_name = RN_STR_NULL,
        .leader_id = rn_str(""),
    };
    rn__group_answer_join(g, waiter, &res);
}

void rn__group_sync_error(rn_group_t *g, void *waiter, int16_t error)
{
    rn_group_sync_result_t res = {
        .error = error, .protocol_type = RN_STR_NULL, .protocol_name = RN_STR_NULL};
    rn__group_answer_sync(g, waiter, &res);
}

/* Take a member's join waiter and answer it (Kafka's maybeInvokeJoinCallback). */
static void invoke_join(rn_group_t *g, rn_group_member_t *m, const rn_group_join_result_t *res)
{
    if (m->join_waiter == NULL)
        return;
    void *waiter = m->join_waiter;
    m->join_waiter = NULL;
    g->n_awaiting_join--;
    rn__group_answer_join(g, waiter, res);
}

void rn__group_invoke_sync(rn_group_t *g, rn_group_member_t *m, const rn_group_sync_result_t *res)
{
    if (m->sync_waiter == NULL)
        return;
    void *waiter = m->sync_waiter;
    m->sync_waiter = NULL;
    rn__group_answer_sync(g, waiter, res);
}

/* The current generation as a member sees it; the leader also gets every member's metadata
 * for the selected protocol. */
void rn__group_answer_generation(rn_group_t *g, rn_group_member_t *m, void *waiter,
                                 bool with_members, rn_str_t leader_id, bool skip_assignment)
{
    rn_group_join_member_t *list = NULL;
    size_t n = 0;
    if (with_members && g->n_members > 0) {
        list = rn_xcalloc(g->n_members, sizeof(*list));
        for (size_t i = 0; i < g->n_members; i++) {
            const rn_group_member_t *o = g->members[i];
            const rn_group_protocol_t *p = rn_group_member_protocol(o, g->protocol_name);
            list[n].member_id = o->member_id;
            list[n].instance_id = o->instance_id;
            list[n].metadata = p != NULL ? p->metadata : NULL;
            list[n].metadata_len = p != NULL ? p->metadata_len : 0;
            n++;
        }
    }
    rn_group_join_result_t res = {
        .error = RN_KERR_NONE,
        .member_id = m->member_id,
        .generation_id = g->generation,
        .protocol_type = g->protocol_type,
        .protocol_name = g->protocol_name,
        .leader_id = leader_id.len >= 0 ? leader_id : rn_str(""),
        .skip_assignment = skip_assignment,
        .members = list,
        .n_members = n,
    };
    if (waiter == NULL)
        invoke_join(g, m, &res);
    else
        rn__group_answer_join(g, waiter, &res);
    rn_free(list);
}

/* ---- membership ---- */

void rn__group_add_member(rn_group_t *g, rn_group_member_t *m, void *waiter)
{
    if (g->n_members == 0) {
        rn_str_free(g->protocol_type);
        g->protocol_type = rn_str_xdup(m->protocol_type);
    }
    if (g->leader == NULL)
        g->leader = m;
    rn_vec_xpush(g->members, g->n_members, g->cap_members, m);
    m->join_waiter = waiter;
    if (waiter != NULL)
        g->n_awaiting_join++;
    ssize_t pi = rn__group_find_pending(g, m->member_id);
    if (pi >= 0)
        rn__group_remove_pending_at(g, (size_t)pi);
}

/* Drop a member (Kafka's GroupMetadata.remove). Waiters it still holds are answered with
 * UNKNOWN_MEMBER_ID so no request is left hanging. */
void rn__group_remove_member(rn_group_t *g, rn_group_member_t *m)
{
    size_t i = 0;
    while (i < g->n_members && g->members[i] != m)
        i++;
    if (i == g->n_members)
        return;
    memmove(&g->members[i], &g->members[i + 1], (g->n_members - i - 1) * sizeof(*g->members));
    g->n_members--;
    if (m->pending_sync)
        g->n_pending_sync--;
    if (g->leader == m)
        g->leader = g->n_members > 0 ? g->members[0] : NULL;
    if (m->join_waiter != NULL) {
        g->n_awaiting_join--;
        rn__group_join_error(g, m->join_waiter, rn_str(""), RN_KERR_UNKNOWN_MEMBER_ID);
    }
    rn__group_sync_error(g, m->sync_waiter, RN_KERR_UNKNOWN_MEMBER_ID);
    member_free(m);
    if (g->n_pending_sync == 0)
        g->sync_armed = false;
}

static void set_protocols(rn_group_member_t *m, const rn_group_protocol_t *protocols, size_t n)
{
    rn__group_protocols_free(m->protocols, m->n_protocols);
    m->protocols = rn__group_protocols_dup(protocols, n);
    m->n_protocols = n;
}

/* Kafka's updateMember: new protocols and timeouts, and the member's join waiter. */
void rn__group_update_member(rn_group_t *g, rn_group_member_t *m, const rn_group_join_req_t *req,
                             void *waiter)
{
    set_protocols(m, req->protocols, req->n_protocols);
    m->rebalance_timeout_ms = req->rebalance_timeout_ms;
    m->session_timeout_ms = req->session_timeout_ms;
    m->skip_assign_ok = req->supports_skip_assignment;
    if (m->join_waiter != NULL && waiter != NULL) {
        /* A second JoinGroup while the first is parked: the first must still be answered
         * (responses leave a connection in order); it is told to rejoin. */
        void *old = m->join_waiter;
        m->join_waiter = NULL;
        rn__group_join_error(g, old, m->member_id, RN_KERR_REBALANCE_IN_PROGRESS);
        g->n_awaiting_join--;
    }
    if (waiter != NULL && m->join_waiter == NULL)
        g->n_awaiting_join++;
    else if (waiter == NULL && m->join_waiter != NULL)
        g->n_awaiting_join--;
    m->join_waiter = waiter;
}

bool rn__group_member_matches(const rn_group_member_t *m, const rn_group_protocol_t *protocols,
                              size_t n)
{
    if (n != m->n_protocols)
        return false;
    for (size_t i = 0; i < n; i++) {
        const rn_group_protocol_t *a = &m->protocols[i], *b = &protocols[i];
        int32_t blen = b->metadata_len > 0 ? b->metadata_len : 0;
        if (!rn_str_eq(a->name, b->name.len >= 0 ? b->name : rn_str("")) ||
            a->metadata_len != blen ||
            (blen > 0 && memcmp(a->metadata, b->metadata, (size_t)blen) != 0))
            return false;
    }
    return true;
}

static bool member_supports(const rn_group_member_t *m, rn_str_t protocol)
{
    return rn_group_member_protocol(m, protocol) != NULL;
}

/* Members that list protocol. */
static size_t count_supporting(const rn_group_t *g, rn_str_t protocol)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_members; i++)
        n += member_supports(g->members[i], protocol);
    return n;
}

/* Kafka's supportsProtocols: a joining member must share the protocol type and at least one
 * protocol every current member supports (anything non-empty goes for an Empty group). */
bool rn__group_supports_protocols(const rn_group_t *g, rn_str_t type,
                                  const rn_group_protocol_t *protocols, size_t n)
{
    if (g->state == RN_GROUP_EMPTY)
        return type.len > 0 && n > 0;
    if (!rn_str_eq(g->protocol_type, type))
        return false;
    for (size_t i = 0; i < n; i++)
        if (protocols[i].name.len >= 0 && count_supporting(g, protocols[i].name) == g->n_members)
            return true;
    return false;
}

/* Kafka's selectProtocol: among the protocols every member supports, each member votes for
 * its most preferred; the most votes win (ties go to the protocol voted for first). */
rn_str_t rn__group_select_protocol(const rn_group_t *g)
{
    rn_str_t best = RN_STR_NULL;
    size_t best_votes = 0;
    rn_str_t *votes = rn_xcalloc(g->n_members ? g->n_members : 1, sizeof(*votes));
    for (size_t i = 0; i < g->n_members; i++)
        votes[i] = RN_STR_NULL;
    for (size_t i = 0; i < g->n_members; i++) {
        const rn_group_member_t *m = g->members[i];
        for (size_t k = 0; k < m->n_protocols; k++) {
            if (count_supporting(g, m->protocols[k].name) == g->n_members) {
                votes[i] = m->protocols[k].name;
                break;
            }
        }
    }
    for (size_t i = 0; i < g->n_members; i++) {
        if (rn_str_is_null(votes[i]))
            continue;
        size_t n = 0;
        for (size_t j = 0; j < g->n_members; j++)
            n += rn_str_eq(votes[j], votes[i]);
        if (n > best_votes) {
            best_votes = n;
            best = votes[i];
        }
    }
    rn_free(votes);
    return best;
}

/* ---- subscribed topics (consumer groups) ---- */

static void topics_clear(rn_group_t *g)
{
    for (size_t i = 0; i < g->n_topics; i++)
        rn_str_free(g->topics[i]);
    rn_free(g->topics);
    g->topics = NULL;
    g->n_topics = 0;
    g->topics_known = false;
}

static int cmp_str(const void *a, const void *b)
{
    return rn_str_cmp(*(const rn_str_t *)a, *(const rn_str_t *)b);
}

/* Add the topics of a ConsumerProtocol subscription read with its v0 schema (the prefix of
 * every version): version int16 (>= 0), topics [string], userData bytes?. false when the
 * bytes do not parse. */
static bool add_subscription(rn_group_t *g, const uint8_t *p, int32_t len)
{
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, p, len > 0 ? (size_t)len : 0, NULL);
    if (rn_proto_read_int16(&r) < 0)
        return false;
    int32_t n = rn_proto_read_array_len(&r, false, false, 2);
    for (int32_t i = 0; i < n && r.rd.err == 0; i++) {
        rn_str_t t = rn_proto_read_string(&r, false, false);
        if (r.rd.err != 0)
            break;
        g->topics = rn_xrealloc(g->topics, (g->n_topics + 1) * sizeof(*g->topics));
        g->topics[g->n_topics++] = rn_str_xdup(t.len >= 0 ? t : rn_str(""));
    }
    (void)rn_proto_read_bytes(&r, false, true);
    return r.rd.err == 0;
}

/* Kafka's computeSubscribedTopics. */
void rn__group_compute_topics(rn_group_t *g)
{
    topics_clear(g);
    if (!rn_str_eq_cstr(g->protocol_type, "consumer"))
        return;
    if (g->n_members == 0) {
        g->topics_known = true;
        return;
    }
    if (rn_str_is_null(g->protocol_name))
        return;
    for (size_t i = 0; i < g->n_members; i++) {
        const rn_group_protocol_t *p = rn_group_member_protocol(g->members[i], g->protocol_name);
        if (p == NULL || !add_subscription(g, p->metadata, p->metadata_len)) {
            RN_WARN("group",
                    "group=%s: cannot parse the subscription of member %s; offsets of "
                    "its topics are kept until the group is empty",
                    RN_STR_ESC(g->id), RN_STR_ESC(g->members[i]->member_id));
            topics_clear(g);
            return;
        }
    }
    if (g->n_topics > 1)
        qsort(g->topics, g->n_topics, sizeof(*g->topics), cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < g->n_topics; i++) {
        if (w > 0 && rn_str_eq(g->topics[w - 1], g->topics[i]))
            rn_str_free(g->topics[i]);
        else
            g->topics[w++] = g->topics[i];
    }
    g->n_topics = w;
    g->topics_known = true;
}

/* ---- persistence ---- */

pending_store_t *rn__group_store_new(rn_group_t *g, int kind)
{
    pending_store_t *s = rn_xcalloc(1, sizeof(*s));
    s->token = ++g->next_token;
    s->kind = kind;
    s->generation = g->generation;
    s->next = g->stores;
    g->stores = s;
    return s;
}

void rn__group_store_free(pending_store_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        rn_str_free(s->ids[i]);
        rn_free(s->data[i]);
    }
    rn_free(s->ids);
    rn_free(s->data);
    rn_free(s->lens);
    rn_str_free(s->old_id);
    rn_str_free(s->new_id);
    rn__group_protocols_free(s->old_protocols, s->n_old_protocols);
    rn_str_free(s->prev_leader);
    rn_free(s);
}

/* Hand the group's metadata record to the owner. The assignment of member i comes from
 * assign(i) — the stored one, or the leader's not yet applied. Must be the last thing an
 * operation does: the owner may report the outcome before returning. */
void rn__group_store_group(rn_group_t *g, pending_store_t *s)
{
    rn_groupstore_member_t *ms = rn_xcalloc(g->n_members ? g->n_members : 1, sizeof(*ms));
    for (size_t i = 0; i < g->n_members; i++) {
        const rn_group_member_t *m = g->members[i];
        const rn_group_protocol_t *p = rn_group_member_protocol(m, g->protocol_name);
        ms[i].member_id = m->member_id;
        ms[i].instance_id = m->instance_id;
        ms[i].client_id = m->client_id;
        ms[i].client_host = m->client_host;
        ms[i].rebalance_timeout_ms = m->rebalance_timeout_ms;
        ms[i].session_timeout_ms = m->session_timeout_ms;
        ms[i].subscription =
            p != NULL ? (rn_bytes_t){p->metadata, p->metadata_len} : (rn_bytes_t){NULL, 0};
        ms[i].assignment = (rn_bytes_t){m->assignment, m->assignment_len};
        if (s->kind == STORE_SYNC) {
            for (size_t k = 0; k < s->n; k++) {
                if (rn_str_eq(s->ids[k], m->member_id)) {
                    ms[i].assignment = (rn_bytes_t){s->data[k], s->lens[k]};
                    break;
                }
            }
        }
    }
    rn_groupstore_group_t meta = {
        .protocol_type = g->protocol_type.len >= 0 ? g->protocol_type : rn_str(""),
        .generation = g->generation,
        .protocol = g->protocol_name,
        .leader = g->leader != NULL ? g->leader->member_id : RN_STR_NULL,
        .current_state_timestamp = g->state_ts,
        .members = ms,
        .n_members = (int32_t)g->n_members,
    };
    uint64_t token = s->token;
    g->ops.store(g->ops.arg, g, &meta, token);
    rn_free(ms);
}

/* ---- lifecycle ---- */

rn_group_t *rn_group_new(rn_str_t id, const rn_group_config_t *cfg, const rn_group_ops_t *ops,
                         int64_t now_ms)
{
    rn_group_t *g = rn_xcalloc(1, sizeof(*g));
    g->id = rn_str_xdup(id.len >= 0 ? id : rn_str(""));
    g->protocol_type = g->protocol_name = RN_STR_NULL;
    g->cfg = *cfg;
    g->ops = *ops;
    g->now = now_ms;
    g->state = RN_GROUP_EMPTY;
    g->state_ts = now_ms;
    return g;
}

static void clear_members(rn_group_t *g)
{
    for (size_t i = 0; i < g->n_members; i++)
        member_free(g->members[i]);
    g->n_members = 0;
    g->n_awaiting_join = g->n_pending_sync = 0;
    g->leader = NULL;
    while (g->n_pending > 0)
        rn__group_remove_pending_at(g, g->n_pending - 1);
}

void rn_group_free(rn_group_t *g)
{
    if (g == NULL)
        return;
    clear_members(g);
    rn_free(g->members);
    rn_free(g->pending);
    topics_clear(g);
    while (g->stores != NULL) {
        pending_store_t *s = g->stores;
        g->stores = s->next;
        rn__group_store_free(s);
    }
    rn_str_free(g->protocol_type);
    rn_str_free(g->protocol_name);
    rn_str_free(g->id);
    rn_free(g);
}

int rn_group_restore(rn_group_t *g, const rn_groupstore_group_t *meta, int64_t now_ms)
{
    g->now = now_ms;
    clear_members(g);
    g->join_armed = g->sync_armed = false;
    g->generation = meta->generation;
    rn_str_free(g->protocol_type);
    rn_str_free(g->protocol_name);
    g->protocol_type = meta->protocol_type.len > 0 ? rn_str_xdup(meta->protocol_type) : RN_STR_NULL;
    g->protocol_name = rn_str_xdup(meta->protocol);
    rn_str_t leader = meta->leader;
    int rc = 0;
    for (int32_t i = 0; i < meta->n_members; i++) {
        const rn_groupstore_member_t *sm = &meta->members[i];
        rn_group_member_t *m = rn_xcalloc(1, sizeof(*m));
        m->member_id = rn_str_xdup(sm->member_id);
        m->instance_id = rn_str_xdup(sm->instance_id);
        m->client_id = rn_str_xdup(sm->client_id.len >= 0 ? sm->client_id : rn_str(""));
        m->client_host = rn_str_xdup(sm->client_host.len >= 0 ? sm->client_host : rn_str(""));
        m->rebalance_timeout_ms = sm->rebalance_timeout_ms;
        m->session_timeout_ms = sm->session_timeout_ms;
        m->protocol_type = rn_str_xdup(g->protocol_type.len >= 0 ? g->protocol_type : rn_str(""));
        rn_group_protocol_t p = {g->protocol_name.len >= 0 ? g->protocol_name : rn_str(""),
                                 (uint8_t *)sm->subscription.ptr, sm->subscription.len};
        m->protocols = rn__group_protocols_dup(&p, 1);
        m->n_protocols = 1;
        rn__group_set_assignment(m, sm->assignment.ptr, sm->assignment.len);
        if (rn_str_is_null(m->member_id) || rn__group_find_member(g, m->member_id) != NULL ||
            rn__group_find_static(g, m->instance_id) != NULL) {
            member_free(m);
            rc = RN_EINVAL;
            continue;
        }
        rn__group_add_member(g, m, NULL);
        rn__group_schedule_heartbeat(g, m);
    }
    if (!rn_str_is_null(leader) && rn__group_find_member(g, leader) != NULL)
        g->leader = rn__group_find_member(g, leader);
    g->state = g->n_members > 0 ? RN_GROUP_STABLE : RN_GROUP_EMPTY;
    g->state_ts = meta->current_state_timestamp;
    rn__group_compute_topics(g);
    return rc;
}

void rn_group_unload(rn_group_t *g, int16_t error)
{
    rn_group_state_t prev = g->state;
    g->state = RN_GROUP_DEAD;
    g->join_armed = g->sync_armed = false;
    for (size_t i = 0; i < g->n_members; i++) {
        rn_group_member_t *m = g->members[i];
        if (m->join_waiter != NULL) {
            void *w = m->join_waiter;
            m->join_waiter = NULL;
            g->n_awaiting_join--;
            rn__group_join_error(g, w, m->member_id, error);
        }
        if (m->sync_waiter != NULL) {
            void *w = m->sync_waiter;
            m->sync_waiter = NULL;
            rn__group_sync_error(g, w, error);
        }
    }
    if (prev != RN_GROUP_DEAD)
        RN_INFO("group", "group=%s: unloaded in state %s (generation %d)", RN_STR_ESC(g->id),
                rn_group_state_name(prev), g->generation);
}

bool rn_group_mark_dead(rn_group_t *g, int64_t now_ms)
{
    if (g->state != RN_GROUP_EMPTY)
        return false;
    g->now = now_ms;
    rn__group_transition(g, RN_GROUP_DEAD);
    g->join_armed = g->sync_armed = false;
    while (g->n_pending > 0)
        rn__group_remove_pending_at(g, g->n_pending - 1);
    return true;
}

void rn_group_forget_waiter(rn_group_t *g, void *waiter)
{
    for (size_t i = 0; i < g->n_members; i++) {
        rn_group_member_t *m = g->members[i];
        if (m->join_waiter == waiter)
            m->join_waiter = WAITER_GONE;
        if (m->sync_waiter == waiter)
            m->sync_waiter = WAITER_GONE;
    }
}

/* ---- read access ---- */

rn_str_t rn_group_id(const rn_group_t *g)
{
    return g->id;
}

rn_group_state_t rn_group_state(const rn_group_t *g)
{
    return g->state;
}

int32_t rn_group_generation(const rn_group_t *g)
{
    return g->generation;
}

rn_str_t rn_group_protocol_type(const rn_group_t *g)
{
    return g->protocol_type;
}

rn_str_t rn_group_protocol_name(const rn_group_t *g)
{
    return g->protocol_name;
}

rn_str_t rn_group_leader(const rn_group_t *g)
{
    return g->leader != NULL ? g->leader->member_id : RN_STR_NULL;
}

int64_t rn_group_state_timestamp(const rn_group_t *g)
{
    return g->state_ts;
}

size_t rn_group_member_count(const rn_group_t *g)
{
    return g->n_members;
}

const rn_group_member_t *rn_group_member_at(const rn_group_t *g, size_t i)
{
    return i < g->n_members ? g->members[i] : NULL;
}

const rn_group_member_t *rn_group_find_member(const rn_group_t *g, rn_str_t member_id)
{
    return rn__group_find_member(g, member_id);
}

const rn_group_protocol_t *rn_group_member_protocol(const rn_group_member_t *m, rn_str_t name)
{
    if (rn_str_is_null(name))
        return NULL;
    for (size_t i = 0; i < m->n_protocols; i++)
        if (rn_str_eq(m->protocols[i].name, name))
            return &m->protocols[i];
    return NULL;
}

size_t rn_group_pending_count(const rn_group_t *g)
{
    return g->n_pending;
}

bool rn_group_is_subscribed(const rn_group_t *g, rn_str_t topic)
{
    if (!g->topics_known)
        return true;
    return bsearch(&topic, g->topics, g->n_topics, sizeof(*g->topics), cmp_str) != NULL;
}

bool rn_group_subscriptions_known(const rn_group_t *g)
{
    return g->topics_known;
}
