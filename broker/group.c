/* group.c: one consumer group's classic-protocol state machine (rn_group.h), following the
 * rules of Kafka's GroupCoordinator / GroupMetadata: member ids and the MEMBER_ID_REQUIRED
 * dance, static members, pending members, generations, leader election, protocol selection,
 * the join phase (with group.initial.rebalance.delay.ms for a group leaving Empty), the sync
 * phase, session timeouts and the pending-sync timeout. */
#include "rn_group.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/types.h>

/* Stands in for a waiter whose request went away: the member still counts as waiting. */
static char waiter_gone;
#define WAITER_GONE ((void *)&waiter_gone)

enum { STORE_SYNC, STORE_STATIC, STORE_EMPTY };

/* A group metadata append in flight and what to do when it ends. */
typedef struct pending_store {
    uint64_t token;
    int kind;
    int32_t generation;
    /* STORE_SYNC: the leader's assignment for every member, applied on success. */
    size_t n;
    char **ids;
    uint8_t **data;
    int32_t *lens;
    /* STORE_STATIC: how to undo a static member's new id if the append fails. */
    char *old_id, *new_id;
    rn_group_protocol_t *old_protocols;
    size_t n_old_protocols;
    int32_t old_rebalance_ms, old_session_ms;
    char *prev_leader; /* the leader before the replacement (NULL if none) */
    bool skip_ok;      /* the joining request was v9+ */
    struct pending_store *next;
} pending_store_t;

typedef struct pending_member {
    char *id;
    int64_t deadline;
} pending_member_t;

struct rn_group {
    char *id;
    rn_group_config_t cfg;
    rn_group_ops_t ops;
    rn_group_state_t state;
    int64_t state_ts; /* currentStateTimestamp; -1 = unknown (restored from an old record) */
    int64_t now;      /* the now_ms of the entry point being run */
    int32_t generation;
    char *protocol_type; /* NULL = none */
    char *protocol_name; /* NULL = none */
    rn_group_member_t *leader;

    rn_group_member_t **members; /* join order */
    size_t n_members, cap_members;
    size_t n_awaiting_join; /* members with a join waiter */
    size_t n_pending_sync;  /* members with pending_sync */

    pending_member_t *pending; /* ids handed out with MEMBER_ID_REQUIRED */
    size_t n_pending, cap_pending;

    /* The join phase (PreparingRebalance): Kafka's DelayedJoin / InitialDelayedJoin. */
    bool join_armed;
    bool join_initial; /* InitialDelayedJoin: never completes early */
    int64_t join_deadline;
    int32_t initial_delay_ms; /* the running InitialDelayedJoin's delay */
    int32_t initial_remaining_ms;
    bool new_member_added;

    /* The pending-sync timeout (Kafka's DelayedSync). */
    bool sync_armed;
    int64_t sync_deadline;
    int32_t sync_generation;

    /* Union of the consumer members' subscribed topics, sorted; known = Kafka's
     * subscribedTopics.isDefined. */
    char **topics;
    size_t n_topics;
    bool topics_known;

    pending_store_t *stores;
    uint64_t next_token;
};

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

static char *dup_or_null(const char *s)
{
    return s != NULL ? rn_xstrdup(s) : NULL;
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static uint8_t *dup_bytes(const uint8_t *p, int32_t len)
{
    if (len <= 0)
        return NULL;
    uint8_t *d = rn_xmalloc((size_t)len);
    memcpy(d, p, (size_t)len);
    return d;
}

static void protocols_free(rn_group_protocol_t *protocols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rn_free(protocols[i].name);
        rn_free(protocols[i].metadata);
    }
    rn_free(protocols);
}

static rn_group_protocol_t *protocols_dup(const rn_group_protocol_t *src, size_t n)
{
    rn_group_protocol_t *d = rn_xcalloc(n ? n : 1, sizeof(*d));
    for (size_t i = 0; i < n; i++) {
        d[i].name = rn_xstrdup(src[i].name != NULL ? src[i].name : "");
        d[i].metadata = dup_bytes(src[i].metadata, src[i].metadata_len);
        d[i].metadata_len = src[i].metadata_len > 0 ? src[i].metadata_len : 0;
    }
    return d;
}

static void member_free(rn_group_member_t *m)
{
    rn_free(m->member_id);
    rn_free(m->instance_id);
    rn_free(m->client_id);
    rn_free(m->client_host);
    rn_free(m->protocol_type);
    protocols_free(m->protocols, m->n_protocols);
    rn_free(m->assignment);
    rn_free(m);
}

static void set_assignment(rn_group_member_t *m, const uint8_t *p, int32_t len)
{
    rn_free(m->assignment);
    m->assignment = dup_bytes(p, len);
    m->assignment_len = len > 0 ? len : 0;
}

static void transition(rn_group_t *g, rn_group_state_t to)
{
    g->state = to;
    g->state_ts = g->now;
}

static void schedule_heartbeat(rn_group_t *g, rn_group_member_t *m)
{
    m->hb_deadline = g->now + m->session_timeout_ms;
}

/* Kafka's group.rebalanceTimeoutMs: the largest of the members'. */
static int32_t rebalance_timeout(const rn_group_t *g)
{
    int32_t t = 0;
    for (size_t i = 0; i < g->n_members; i++)
        if (g->members[i]->rebalance_timeout_ms > t)
            t = g->members[i]->rebalance_timeout_ms;
    return t;
}

static rn_group_member_t *find_member(const rn_group_t *g, const char *id)
{
    for (size_t i = 0; i < g->n_members; i++)
        if (strcmp(g->members[i]->member_id, id) == 0)
            return g->members[i];
    return NULL;
}

static rn_group_member_t *find_static(const rn_group_t *g, const char *instance_id)
{
    if (instance_id == NULL)
        return NULL;
    for (size_t i = 0; i < g->n_members; i++)
        if (str_eq(g->members[i]->instance_id, instance_id))
            return g->members[i];
    return NULL;
}

static ssize_t find_pending(const rn_group_t *g, const char *id)
{
    for (size_t i = 0; i < g->n_pending; i++)
        if (strcmp(g->pending[i].id, id) == 0)
            return (ssize_t)i;
    return -1;
}

static void remove_pending_at(rn_group_t *g, size_t i)
{
    rn_free(g->pending[i].id);
    g->pending[i] = g->pending[--g->n_pending];
}

static bool awaiting_join(const rn_group_member_t *m)
{
    return m->join_waiter != NULL;
}

/* A new member id: Kafka's "<client id or instance id>-<random UUID>" (a version-4 UUID in
 * its 8-4-4-4-12 text form). */
static char *new_member_id(const char *prefix)
{
    static uint64_t fallback;
    uint8_t b[16];
    if (getrandom(b, sizeof(b), GRND_NONBLOCK) != (ssize_t)sizeof(b)) {
        /* No kernel randomness yet: still unique within this process. */
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
    text[t] = '\0';
    size_t n = strlen(prefix) + 1 + t + 1;
    char *id = rn_xmalloc(n);
    snprintf(id, n, "%s-%s", prefix, text);
    return id;
}

/* ---- answering waiters ---- */

static void answer_join(rn_group_t *g, void *waiter, const rn_group_join_result_t *res)
{
    if (waiter != NULL && waiter != WAITER_GONE)
        g->ops.join_done(g->ops.arg, waiter, res);
}

static void answer_sync(rn_group_t *g, void *waiter, const rn_group_sync_result_t *res)
{
    if (waiter != NULL && waiter != WAITER_GONE)
        g->ops.sync_done(g->ops.arg, waiter, res);
}

static void join_error(rn_group_t *g, void *waiter, const char *member_id, int16_t error)
{
    rn_group_join_result_t res = {
        .error = error,
        .member_id = member_id,
        .generation_id = RN_GROUP_NO_GENERATION,
        .leader_id = "",
    };
    answer_join(g, waiter, &res);
}

static void sync_error(rn_group_t *g, void *waiter, int16_t error)
{
    rn_group_sync_result_t res = {.error = error};
    answer_sync(g, waiter, &res);
}

/* Take a member's join waiter and answer it (Kafka's maybeInvokeJoinCallback). */
static void invoke_join(rn_group_t *g, rn_group_member_t *m, const rn_group_join_result_t *res)
{
    if (m->join_waiter == NULL)
        return;
    void *waiter = m->join_waiter;
    m->join_waiter = NULL;
    g->n_awaiting_join--;
    answer_join(g, waiter, res);
}

static void invoke_sync(rn_group_t *g, rn_group_member_t *m, const rn_group_sync_result_t *res)
{
    if (m->sync_waiter == NULL)
        return;
    void *waiter = m->sync_waiter;
    m->sync_waiter = NULL;
    answer_sync(g, waiter, res);
}

/* The current generation as a member sees it; the leader also gets every member's metadata
 * for the selected protocol. */
static void answer_generation(rn_group_t *g, rn_group_member_t *m, void *waiter, bool with_members,
                              const char *leader_id, bool skip_assignment)
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
        .leader_id = leader_id != NULL ? leader_id : "",
        .skip_assignment = skip_assignment,
        .members = list,
        .n_members = n,
    };
    if (waiter == NULL)
        invoke_join(g, m, &res);
    else
        answer_join(g, waiter, &res);
    rn_free(list);
}

/* ---- membership ---- */

static void add_member(rn_group_t *g, rn_group_member_t *m, void *waiter)
{
    if (g->n_members == 0) {
        rn_free(g->protocol_type);
        g->protocol_type = dup_or_null(m->protocol_type);
    }
    if (g->leader == NULL)
        g->leader = m;
    if (g->n_members == g->cap_members) {
        g->cap_members = g->cap_members ? g->cap_members * 2 : 4;
        g->members = rn_xrealloc(g->members, g->cap_members * sizeof(*g->members));
    }
    g->members[g->n_members++] = m;
    m->join_waiter = waiter;
    if (waiter != NULL)
        g->n_awaiting_join++;
    ssize_t pi = find_pending(g, m->member_id);
    if (pi >= 0)
        remove_pending_at(g, (size_t)pi);
}

/* Drop a member (Kafka's GroupMetadata.remove). Waiters it still holds are answered with
 * UNKNOWN_MEMBER_ID so no request is left hanging. */
static void remove_member(rn_group_t *g, rn_group_member_t *m)
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
        join_error(g, m->join_waiter, "", RN_KERR_UNKNOWN_MEMBER_ID);
    }
    sync_error(g, m->sync_waiter, RN_KERR_UNKNOWN_MEMBER_ID);
    member_free(m);
    if (g->n_pending_sync == 0)
        g->sync_armed = false;
}

static void set_protocols(rn_group_member_t *m, const rn_group_protocol_t *protocols, size_t n)
{
    protocols_free(m->protocols, m->n_protocols);
    m->protocols = protocols_dup(protocols, n);
    m->n_protocols = n;
}

/* Kafka's updateMember: new protocols and timeouts, and the member's join waiter. */
static void update_member(rn_group_t *g, rn_group_member_t *m, const rn_group_join_req_t *req,
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
        join_error(g, old, m->member_id, RN_KERR_REBALANCE_IN_PROGRESS);
        g->n_awaiting_join--;
    }
    if (waiter != NULL && m->join_waiter == NULL)
        g->n_awaiting_join++;
    else if (waiter == NULL && m->join_waiter != NULL)
        g->n_awaiting_join--;
    m->join_waiter = waiter;
}

static bool member_matches(const rn_group_member_t *m, const rn_group_protocol_t *protocols,
                           size_t n)
{
    if (n != m->n_protocols)
        return false;
    for (size_t i = 0; i < n; i++) {
        const rn_group_protocol_t *a = &m->protocols[i], *b = &protocols[i];
        int32_t blen = b->metadata_len > 0 ? b->metadata_len : 0;
        if (strcmp(a->name, b->name != NULL ? b->name : "") != 0 || a->metadata_len != blen ||
            (blen > 0 && memcmp(a->metadata, b->metadata, (size_t)blen) != 0))
            return false;
    }
    return true;
}

static bool member_supports(const rn_group_member_t *m, const char *protocol)
{
    return rn_group_member_protocol(m, protocol) != NULL;
}

/* Members that list protocol. */
static size_t count_supporting(const rn_group_t *g, const char *protocol)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_members; i++)
        n += member_supports(g->members[i], protocol);
    return n;
}

/* Kafka's supportsProtocols: a joining member must share the protocol type and at least one
 * protocol every current member supports (anything non-empty goes for an Empty group). */
static bool supports_protocols(const rn_group_t *g, const char *type,
                               const rn_group_protocol_t *protocols, size_t n)
{
    if (g->state == RN_GROUP_EMPTY)
        return type != NULL && type[0] != '\0' && n > 0;
    if (!str_eq(g->protocol_type, type))
        return false;
    for (size_t i = 0; i < n; i++)
        if (protocols[i].name != NULL && count_supporting(g, protocols[i].name) == g->n_members)
            return true;
    return false;
}

/* Kafka's selectProtocol: among the protocols every member supports, each member votes for
 * its most preferred; the most votes win (ties go to the protocol voted for first). */
static const char *select_protocol(const rn_group_t *g)
{
    const char *best = NULL;
    size_t best_votes = 0;
    const char **votes = rn_xcalloc(g->n_members ? g->n_members : 1, sizeof(*votes));
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
        if (votes[i] == NULL)
            continue;
        size_t n = 0;
        for (size_t j = 0; j < g->n_members; j++)
            n += votes[j] != NULL && strcmp(votes[j], votes[i]) == 0;
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
        rn_free(g->topics[i]);
    rn_free(g->topics);
    g->topics = NULL;
    g->n_topics = 0;
    g->topics_known = false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
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
    for (int32_t i = 0; i < n && r.err == 0; i++) {
        rn_str_t t = rn_proto_read_string(&r, false, false);
        if (r.err != 0)
            break;
        g->topics = rn_xrealloc(g->topics, (g->n_topics + 1) * sizeof(*g->topics));
        g->topics[g->n_topics++] = rn_xstrndup(t.ptr != NULL ? t.ptr : "", (size_t)t.len);
    }
    (void)rn_proto_read_bytes(&r, false, true);
    return r.err == 0;
}

/* Kafka's computeSubscribedTopics. */
static void compute_topics(rn_group_t *g)
{
    topics_clear(g);
    if (!str_eq(g->protocol_type, "consumer"))
        return;
    if (g->n_members == 0) {
        g->topics_known = true;
        return;
    }
    if (g->protocol_name == NULL)
        return;
    for (size_t i = 0; i < g->n_members; i++) {
        const rn_group_protocol_t *p = rn_group_member_protocol(g->members[i], g->protocol_name);
        if (p == NULL || !add_subscription(g, p->metadata, p->metadata_len)) {
            RN_WARN("group",
                    "group=%s: cannot parse the subscription of member %s; offsets of "
                    "its topics are kept until the group is empty",
                    g->id, g->members[i]->member_id);
            topics_clear(g);
            return;
        }
    }
    if (g->n_topics > 1)
        qsort(g->topics, g->n_topics, sizeof(*g->topics), cmp_str);
    size_t w = 0;
    for (size_t i = 0; i < g->n_topics; i++) {
        if (w > 0 && strcmp(g->topics[w - 1], g->topics[i]) == 0)
            rn_free(g->topics[i]);
        else
            g->topics[w++] = g->topics[i];
    }
    g->n_topics = w;
    g->topics_known = true;
}

/* ---- persistence ---- */

static pending_store_t *store_new(rn_group_t *g, int kind)
{
    pending_store_t *s = rn_xcalloc(1, sizeof(*s));
    s->token = ++g->next_token;
    s->kind = kind;
    s->generation = g->generation;
    s->next = g->stores;
    g->stores = s;
    return s;
}

static void store_free(pending_store_t *s)
{
    for (size_t i = 0; i < s->n; i++) {
        rn_free(s->ids[i]);
        rn_free(s->data[i]);
    }
    rn_free(s->ids);
    rn_free(s->data);
    rn_free(s->lens);
    rn_free(s->old_id);
    rn_free(s->new_id);
    protocols_free(s->old_protocols, s->n_old_protocols);
    rn_free(s->prev_leader);
    rn_free(s);
}

static rn_str_t str_of(const char *s)
{
    return s != NULL ? (rn_str_t){s, (int32_t)strlen(s)} : RN_STR_NULL;
}

/* Hand the group's metadata record to the owner. The assignment of member i comes from
 * assign(i) — the stored one, or the leader's not yet applied. Must be the last thing an
 * operation does: the owner may report the outcome before returning. */
static void store_group(rn_group_t *g, pending_store_t *s)
{
    rn_groupstore_member_t *ms = rn_xcalloc(g->n_members ? g->n_members : 1, sizeof(*ms));
    for (size_t i = 0; i < g->n_members; i++) {
        const rn_group_member_t *m = g->members[i];
        const rn_group_protocol_t *p = rn_group_member_protocol(m, g->protocol_name);
        ms[i].member_id = str_of(m->member_id);
        ms[i].instance_id = str_of(m->instance_id);
        ms[i].client_id = str_of(m->client_id);
        ms[i].client_host = str_of(m->client_host);
        ms[i].rebalance_timeout_ms = m->rebalance_timeout_ms;
        ms[i].session_timeout_ms = m->session_timeout_ms;
        ms[i].subscription =
            p != NULL ? (rn_bytes_t){p->metadata, p->metadata_len} : (rn_bytes_t){NULL, 0};
        ms[i].assignment = (rn_bytes_t){m->assignment, m->assignment_len};
        if (s->kind == STORE_SYNC) {
            for (size_t k = 0; k < s->n; k++) {
                if (strcmp(s->ids[k], m->member_id) == 0) {
                    ms[i].assignment = (rn_bytes_t){s->data[k], s->lens[k]};
                    break;
                }
            }
        }
    }
    rn_groupstore_group_t meta = {
        .protocol_type = str_of(g->protocol_type != NULL ? g->protocol_type : ""),
        .generation = g->generation,
        .protocol = str_of(g->protocol_name),
        .leader = str_of(g->leader != NULL ? g->leader->member_id : NULL),
        .current_state_timestamp = g->state_ts,
        .members = ms,
        .n_members = (int32_t)g->n_members,
    };
    uint64_t token = s->token;
    g->ops.store(g->ops.arg, g, &meta, token);
    rn_free(ms);
}

/* ---- rebalancing ---- */

static void complete_join(rn_group_t *g);

static bool all_joined(const rn_group_t *g)
{
    return g->n_awaiting_join == g->n_members && g->n_pending == 0;
}

/* Kafka's tryCompleteJoin on the rebalance purgatory (InitialDelayedJoin never completes
 * early). */
static void try_complete_join(rn_group_t *g)
{
    if (g->state == RN_GROUP_PREPARING_REBALANCE && g->join_armed && !g->join_initial &&
        all_joined(g))
        complete_join(g);
}

static void propagate_assignment(rn_group_t *g, int16_t error)
{
    for (size_t i = 0; i < g->n_members; i++) {
        rn_group_member_t *m = g->members[i];
        if (m->sync_waiter == NULL)
            continue;
        rn_group_sync_result_t res = {
            .error = error,
            .protocol_type = g->protocol_type,
            .protocol_name = g->protocol_name,
            .assignment = m->assignment,
            .assignment_len = m->assignment_len,
        };
        invoke_sync(g, m, &res);
        /* A session that ran out while the member waited was ignored: start it again. */
        schedule_heartbeat(g, m);
    }
}

static void reset_and_propagate_error(rn_group_t *g, int16_t error)
{
    for (size_t i = 0; i < g->n_members; i++)
        set_assignment(g->members[i], NULL, 0);
    propagate_assignment(g, error);
}

static void prepare_rebalance(rn_group_t *g, const char *reason)
{
    if (g->state == RN_GROUP_COMPLETING_REBALANCE)
        reset_and_propagate_error(g, RN_KERR_REBALANCE_IN_PROGRESS);
    g->sync_armed = false;
    g->new_member_added = false;
    int32_t timeout = rebalance_timeout(g);
    if (g->state == RN_GROUP_EMPTY) {
        g->join_initial = true;
        g->initial_delay_ms = g->cfg.initial_rebalance_delay_ms;
        g->initial_remaining_ms = timeout > g->initial_delay_ms ? timeout - g->initial_delay_ms : 0;
        g->join_deadline = g->now + g->initial_delay_ms;
    } else {
        g->join_initial = false;
        g->join_deadline = g->now + timeout;
    }
    g->join_armed = true;
    RN_INFO("group", "group=%s: preparing to rebalance in state %s with old generation %d (%s)",
            g->id, rn_group_state_name(g->state), g->generation, reason);
    transition(g, RN_GROUP_PREPARING_REBALANCE);
    try_complete_join(g);
}

static void maybe_prepare_rebalance(rn_group_t *g, const char *reason)
{
    if (g->state == RN_GROUP_STABLE || g->state == RN_GROUP_COMPLETING_REBALANCE ||
        g->state == RN_GROUP_EMPTY)
        prepare_rebalance(g, reason);
}

/* Kafka's maybeElectNewJoinedLeader: keep a leader that rejoined, else pick any member that
 * did. */
static bool elect_joined_leader(rn_group_t *g)
{
    if (g->leader == NULL)
        return false;
    if (awaiting_join(g->leader))
        return true;
    for (size_t i = 0; i < g->n_members; i++) {
        if (awaiting_join(g->members[i])) {
            g->leader = g->members[i];
            return true;
        }
    }
    return false;
}

static void init_next_generation(rn_group_t *g)
{
    g->generation++;
    rn_free(g->protocol_name);
    if (g->n_members > 0) {
        const char *p = select_protocol(g);
        g->protocol_name = dup_or_null(p);
        compute_topics(g);
        transition(g, RN_GROUP_COMPLETING_REBALANCE);
    } else {
        g->protocol_name = NULL;
        compute_topics(g);
        transition(g, RN_GROUP_EMPTY);
    }
    for (size_t i = 0; i < g->n_members; i++)
        g->members[i]->pending_sync = false;
    g->n_pending_sync = 0;
}

/* Kafka's onCompleteJoin: drop dynamic members that did not rejoin, start the next
 * generation and answer every waiting member. */
static void complete_join(rn_group_t *g)
{
    g->join_armed = false;
    for (size_t i = 0; i < g->n_members;) {
        rn_group_member_t *m = g->members[i];
        if (!awaiting_join(m) && m->instance_id == NULL) {
            RN_INFO("group", "group=%s: removing member %s, which did not rejoin in time", g->id,
                    m->member_id);
            remove_member(g, m);
        } else {
            i++;
        }
    }
    if (g->state == RN_GROUP_DEAD)
        return;
    if (!elect_joined_leader(g) && g->n_members > 0) {
        RN_WARN("group", "group=%s: no member rejoined; waiting another rebalance timeout", g->id);
        g->join_armed = true;
        g->join_initial = false;
        g->join_deadline = g->now + rebalance_timeout(g);
        return;
    }
    init_next_generation(g);
    if (g->state == RN_GROUP_EMPTY) {
        RN_INFO("group", "group=%s: generation %d is empty", g->id, g->generation);
        store_group(g, store_new(g, STORE_EMPTY));
        return;
    }
    RN_INFO("group", "group=%s: generation %d with %zu members, protocol %s, leader %s", g->id,
            g->generation, g->n_members, g->protocol_name ? g->protocol_name : "(none)",
            g->leader->member_id);
    for (size_t i = 0; i < g->n_members; i++) {
        rn_group_member_t *m = g->members[i];
        answer_generation(g, m, NULL, m == g->leader, g->leader->member_id, false);
        schedule_heartbeat(g, m);
        m->is_new = false;
        m->pending_sync = true;
        g->n_pending_sync++;
    }
    g->sync_armed = true;
    g->sync_generation = g->generation;
    g->sync_deadline = g->now + rebalance_timeout(g);
}

/* ---- JoinGroup ---- */

static rn_group_member_t *member_new(const rn_group_join_req_t *req, const char *id)
{
    rn_group_member_t *m = rn_xcalloc(1, sizeof(*m));
    m->member_id = rn_xstrdup(id);
    m->instance_id = dup_or_null(req->instance_id);
    m->client_id = rn_xstrdup(req->client_id != NULL ? req->client_id : "");
    m->client_host = rn_xstrdup(req->client_host != NULL ? req->client_host : "");
    m->rebalance_timeout_ms = req->rebalance_timeout_ms;
    m->session_timeout_ms = req->session_timeout_ms;
    m->protocol_type = rn_xstrdup(req->protocol_type != NULL ? req->protocol_type : "");
    m->protocols = protocols_dup(req->protocols, req->n_protocols);
    m->n_protocols = req->n_protocols;
    m->skip_assign_ok = req->supports_skip_assignment;
    return m;
}

static void add_member_and_rebalance(rn_group_t *g, const rn_group_join_req_t *req, const char *id,
                                     void *waiter)
{
    rn_group_member_t *m = member_new(req, id);
    m->is_new = true;
    /* A rebalance that started from Empty waits once more for members still arriving
     * (Kafka 4's rule; Kafka 3 only did so for generation 0). */
    if (g->state == RN_GROUP_PREPARING_REBALANCE && g->join_initial)
        g->new_member_added = true;
    add_member(g, m, waiter);
    /* A new member cannot heartbeat before it has its id: its join is what times out. */
    m->hb_deadline = g->now + g->cfg.new_member_join_timeout_ms;
    RN_INFO("group", "group=%s: member %s joins (client %s, %s)", g->id, id, m->client_id,
            req->reason ? req->reason : "no reason given");
    maybe_prepare_rebalance(g, "a new member joined");
}

/* Kafka's updateStaticMemberAndRebalance: a known group.instance.id came back without its
 * member id; it takes over the old member's place under a new id. */
static void update_static_member(rn_group_t *g, rn_group_member_t *m, const char *new_id,
                                 const rn_group_join_req_t *req, void *waiter)
{
    pending_store_t *s = NULL;
    char *prev_leader = g->leader != NULL ? rn_xstrdup(g->leader->member_id) : NULL;
    char *old_id = m->member_id;

    /* Fence whatever the previous incarnation is still waiting for. */
    if (m->join_waiter != NULL) {
        void *w = m->join_waiter;
        m->join_waiter = NULL;
        g->n_awaiting_join--;
        join_error(g, w, old_id, RN_KERR_FENCED_INSTANCE_ID);
    }
    if (m->sync_waiter != NULL) {
        void *w = m->sync_waiter;
        m->sync_waiter = NULL;
        sync_error(g, w, RN_KERR_FENCED_INSTANCE_ID);
    }
    m->member_id = rn_xstrdup(new_id);
    schedule_heartbeat(g, m);

    rn_group_protocol_t *old_protocols = m->protocols;
    size_t n_old = m->n_protocols;
    int32_t old_rebalance = m->rebalance_timeout_ms, old_session = m->session_timeout_ms;
    m->protocols = NULL;
    m->n_protocols = 0;
    update_member(g, m, req, waiter);
    RN_INFO("group", "group=%s: static member %s rejoins as %s in state %s", g->id, m->instance_id,
            new_id, rn_group_state_name(g->state));

    switch (g->state) {
    case RN_GROUP_STABLE: {
        const char *next = select_protocol(g);
        if (str_eq(next, g->protocol_name)) {
            /* Same protocol: no rebalance; persist the new member id, then answer. */
            s = store_new(g, STORE_STATIC);
            s->old_id = old_id;
            s->new_id = rn_xstrdup(new_id);
            s->old_protocols = old_protocols;
            s->n_old_protocols = n_old;
            s->old_rebalance_ms = old_rebalance;
            s->old_session_ms = old_session;
            s->prev_leader = prev_leader;
            s->skip_ok = req->supports_skip_assignment;
            store_group(g, s);
            return;
        }
        maybe_prepare_rebalance(g, "a static member rejoined with a different protocol");
        break;
    }
    case RN_GROUP_COMPLETING_REBALANCE:
        /* The leader may be assigning to the old id: start over. */
        prepare_rebalance(g, "a static member rejoined during CompletingRebalance");
        break;
    default: break;
    }
    rn_free(old_id);
    protocols_free(old_protocols, n_old);
    rn_free(prev_leader);
}

static void new_member_join(rn_group_t *g, const rn_group_join_req_t *req, void *waiter)
{
    if (g->state == RN_GROUP_DEAD) {
        join_error(g, waiter, "", RN_KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    if (!supports_protocols(g, req->protocol_type, req->protocols, req->n_protocols)) {
        join_error(g, waiter, "", RN_KERR_INCONSISTENT_GROUP_PROTOCOL);
        return;
    }
    char *id = new_member_id(req->instance_id != NULL ? req->instance_id
                             : req->client_id != NULL ? req->client_id
                                                      : "");
    if (req->instance_id != NULL) {
        rn_group_member_t *m = find_static(g, req->instance_id);
        if (m == NULL)
            add_member_and_rebalance(g, req, id, waiter);
        else
            update_static_member(g, m, id, req, waiter);
    } else if (req->require_known_member_id) {
        /* KIP-394: hand out the id first; the member joins for real with it. */
        if (g->n_pending == g->cap_pending) {
            g->cap_pending = g->cap_pending ? g->cap_pending * 2 : 4;
            g->pending = rn_xrealloc(g->pending, g->cap_pending * sizeof(*g->pending));
        }
        g->pending[g->n_pending++] =
            (pending_member_t){rn_xstrdup(id), g->now + req->session_timeout_ms};
        join_error(g, waiter, id, RN_KERR_MEMBER_ID_REQUIRED);
    } else {
        add_member_and_rebalance(g, req, id, waiter);
    }
    rn_free(id);
}

static void update_member_and_rebalance(rn_group_t *g, rn_group_member_t *m,
                                        const rn_group_join_req_t *req, void *waiter,
                                        const char *reason)
{
    update_member(g, m, req, waiter);
    maybe_prepare_rebalance(g, reason);
}

static void current_member_join(rn_group_t *g, const rn_group_join_req_t *req, void *waiter)
{
    const char *id = req->member_id;
    if (g->state == RN_GROUP_DEAD) {
        join_error(g, waiter, id, RN_KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    if (!supports_protocols(g, req->protocol_type, req->protocols, req->n_protocols)) {
        join_error(g, waiter, id, RN_KERR_INCONSISTENT_GROUP_PROTOCOL);
        return;
    }
    ssize_t pi = find_pending(g, id);
    if (pi >= 0) {
        if (req->instance_id != NULL) {
            /* Pending ids go to dynamic members only. */
            join_error(g, waiter, id, RN_KERR_UNKNOWN_MEMBER_ID);
            return;
        }
        add_member_and_rebalance(g, req, id, waiter);
        return;
    }
    rn_group_member_t *st = find_static(g, req->instance_id);
    if (st != NULL && strcmp(st->member_id, id) != 0) {
        join_error(g, waiter, id, RN_KERR_FENCED_INSTANCE_ID);
        return;
    }
    rn_group_member_t *m = find_member(g, id);
    if (m == NULL || (req->instance_id != NULL && st == NULL)) {
        join_error(g, waiter, id, RN_KERR_UNKNOWN_MEMBER_ID);
        return;
    }
    switch (g->state) {
    case RN_GROUP_PREPARING_REBALANCE:
        update_member_and_rebalance(g, m, req, waiter, "a member rejoined");
        break;
    case RN_GROUP_COMPLETING_REBALANCE:
        if (member_matches(m, req->protocols, req->n_protocols))
            /* Same metadata (it likely missed our answer): the current generation again. */
            answer_generation(g, m, waiter, m == g->leader, g->leader->member_id, false);
        else
            update_member_and_rebalance(g, m, req, waiter, "a member changed its metadata");
        break;
    case RN_GROUP_STABLE:
        if (m == g->leader)
            /* The leader rejoining forces a rebalance (e.g. topic metadata changed). */
            update_member_and_rebalance(g, m, req, waiter, "the leader rejoined");
        else if (!member_matches(m, req->protocols, req->n_protocols))
            update_member_and_rebalance(g, m, req, waiter, "a member changed its metadata");
        else
            answer_generation(g, m, waiter, false, g->leader->member_id, false);
        break;
    default: join_error(g, waiter, id, RN_KERR_UNKNOWN_MEMBER_ID); break;
    }
}

/* Kafka's acceptJoiningMember (group.max.size). */
static bool accept_joining_member(const rn_group_t *g, const char *id)
{
    rn_group_member_t *m;
    switch (g->state) {
    case RN_GROUP_PREPARING_REBALANCE:
        m = find_member(g, id);
        return (m != NULL && awaiting_join(m)) || g->n_awaiting_join < (size_t)g->cfg.max_size;
    case RN_GROUP_COMPLETING_REBALANCE:
    case RN_GROUP_STABLE:
        return find_member(g, id) != NULL || g->n_members < (size_t)g->cfg.max_size;
    default: return true;
    }
}

void rn_group_join(rn_group_t *g, const rn_group_join_req_t *req, void *waiter, int64_t now_ms)
{
    g->now = now_ms;
    const char *id = req->member_id != NULL ? req->member_id : "";
    if (req->session_timeout_ms < g->cfg.min_session_timeout_ms ||
        req->session_timeout_ms > g->cfg.max_session_timeout_ms) {
        join_error(g, waiter, id, RN_KERR_INVALID_SESSION_TIMEOUT);
        return;
    }
    if (!accept_joining_member(g, id)) {
        rn_group_member_t *m = find_member(g, id);
        if (m != NULL)
            remove_member(g, m);
        join_error(g, waiter, "", RN_KERR_GROUP_MAX_SIZE_REACHED);
    } else if (id[0] == '\0') {
        new_member_join(g, req, waiter);
    } else {
        current_member_join(g, req, waiter);
    }
    try_complete_join(g);
}

/* ---- SyncGroup ---- */

/* Kafka's validateCurrentMember: a static member must come with its current member id. */
static int16_t validate_member(const rn_group_t *g, const char *id, const char *instance_id,
                               rn_group_member_t **out)
{
    rn_group_member_t *st = find_static(g, instance_id);
    if (st != NULL && strcmp(st->member_id, id) != 0)
        return RN_KERR_FENCED_INSTANCE_ID;
    rn_group_member_t *m = find_member(g, id);
    if (m == NULL)
        return RN_KERR_UNKNOWN_MEMBER_ID;
    *out = m;
    return RN_KERR_NONE;
}

void rn_group_sync(rn_group_t *g, const rn_group_sync_req_t *req, void *waiter, int64_t now_ms)
{
    g->now = now_ms;
    rn_group_member_t *m = NULL;
    int16_t err;
    if (g->state == RN_GROUP_DEAD) {
        sync_error(g, waiter, RN_KERR_COORDINATOR_NOT_AVAILABLE);
        return;
    }
    err = validate_member(g, req->member_id, req->instance_id, &m);
    if (err == RN_KERR_NONE && req->generation_id != g->generation)
        err = RN_KERR_ILLEGAL_GENERATION;
    if (err == RN_KERR_NONE && req->protocol_type != NULL &&
        !str_eq(g->protocol_type, req->protocol_type))
        err = RN_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err == RN_KERR_NONE && req->protocol_name != NULL &&
        !str_eq(g->protocol_name, req->protocol_name))
        err = RN_KERR_INCONSISTENT_GROUP_PROTOCOL;
    if (err != RN_KERR_NONE) {
        sync_error(g, waiter, err);
        return;
    }
    switch (g->state) {
    case RN_GROUP_EMPTY: sync_error(g, waiter, RN_KERR_UNKNOWN_MEMBER_ID); return;
    case RN_GROUP_PREPARING_REBALANCE: sync_error(g, waiter, RN_KERR_REBALANCE_IN_PROGRESS); return;
    case RN_GROUP_STABLE: {
        if (m->pending_sync) {
            m->pending_sync = false;
            if (--g->n_pending_sync == 0)
                g->sync_armed = false;
        }
        rn_group_sync_result_t res = {
            .error = RN_KERR_NONE,
            .protocol_type = g->protocol_type,
            .protocol_name = g->protocol_name,
            .assignment = m->assignment,
            .assignment_len = m->assignment_len,
        };
        answer_sync(g, waiter, &res);
        schedule_heartbeat(g, m);
        return;
    }
    case RN_GROUP_COMPLETING_REBALANCE: break;
    default: sync_error(g, waiter, RN_KERR_COORDINATOR_NOT_AVAILABLE); return;
    }
    if (m->sync_waiter != NULL) {
        /* A second SyncGroup while the first waits: answer the first (in-order responses). */
        void *old = m->sync_waiter;
        m->sync_waiter = NULL;
        sync_error(g, old, RN_KERR_REBALANCE_IN_PROGRESS);
    }
    m->sync_waiter = waiter;
    if (m->pending_sync) {
        m->pending_sync = false;
        if (--g->n_pending_sync == 0)
            g->sync_armed = false;
    }
    if (m != g->leader)
        return;
    RN_INFO("group", "group=%s: assignment for generation %d received from leader %s", g->id,
            g->generation, m->member_id);
    /* Every member gets an entry; members the leader left out get an empty assignment. */
    pending_store_t *s = store_new(g, STORE_SYNC);
    s->n = g->n_members;
    s->ids = rn_xcalloc(s->n ? s->n : 1, sizeof(*s->ids));
    s->data = rn_xcalloc(s->n ? s->n : 1, sizeof(*s->data));
    s->lens = rn_xcalloc(s->n ? s->n : 1, sizeof(*s->lens));
    for (size_t i = 0; i < g->n_members; i++) {
        s->ids[i] = rn_xstrdup(g->members[i]->member_id);
        for (size_t k = 0; k < req->n_assignments; k++) {
            const rn_group_assignment_t *a = &req->assignments[k];
            if (a->member_id != NULL && strcmp(a->member_id, s->ids[i]) == 0) {
                s->data[i] = dup_bytes(a->data, a->len);
                s->lens[i] = a->len > 0 ? a->len : 0;
                break;
            }
        }
    }
    store_group(g, s);
}

/* ---- store outcomes ---- */

static void store_done_sync(rn_group_t *g, pending_store_t *s, int16_t error)
{
    if (g->state != RN_GROUP_COMPLETING_REBALANCE || g->generation != s->generation)
        return; /* the group moved on while the record was written */
    if (error != RN_KERR_NONE) {
        RN_WARN("group",
                "group=%s: storing the assignment of generation %d failed (error %d); "
                "rebalancing",
                g->id, g->generation, error);
        reset_and_propagate_error(g, error);
        maybe_prepare_rebalance(g, "storing the assignment failed");
        return;
    }
    for (size_t k = 0; k < s->n; k++) {
        rn_group_member_t *m = find_member(g, s->ids[k]);
        if (m != NULL)
            set_assignment(m, s->data[k], s->lens[k]);
    }
    propagate_assignment(g, RN_KERR_NONE);
    transition(g, RN_GROUP_STABLE);
    RN_INFO("group", "group=%s: generation %d is stable", g->id, g->generation);
}

static void store_done_static(rn_group_t *g, pending_store_t *s, int16_t error)
{
    rn_group_member_t *m = find_member(g, s->new_id);
    if (error != RN_KERR_NONE) {
        /* Put the old member id back; the rejoining instance is told to start over. */
        RN_WARN("group", "group=%s: storing static member %s's new id failed (error %d)", g->id,
                s->new_id, error);
        if (m == NULL)
            return;
        void *w = m->join_waiter;
        if (w != NULL) {
            m->join_waiter = NULL;
            g->n_awaiting_join--;
        }
        protocols_free(m->protocols, m->n_protocols);
        m->protocols = s->old_protocols;
        m->n_protocols = s->n_old_protocols;
        s->old_protocols = NULL;
        s->n_old_protocols = 0;
        m->rebalance_timeout_ms = s->old_rebalance_ms;
        m->session_timeout_ms = s->old_session_ms;
        rn_free(m->member_id);
        m->member_id = s->old_id;
        s->old_id = NULL;
        schedule_heartbeat(g, m);
        rn_group_join_result_t res = {
            .error = error,
            .member_id = "",
            .generation_id = g->generation,
            .protocol_type = g->protocol_type,
            .protocol_name = g->protocol_name,
            .leader_id = s->prev_leader != NULL ? s->prev_leader : "",
        };
        answer_join(g, w, &res);
        return;
    }
    if (m == NULL)
        return;
    if (s->skip_ok) {
        /* v9+: the leader learns it leads, but skips running the assignor (KIP-814). */
        bool leader = g->leader == m;
        answer_generation(g, m, NULL, leader, g->leader ? g->leader->member_id : "", leader);
    } else {
        /* Older clients get the previous leader id, so a returning leader does not assign
         * (a Stable group would not hand its new assignment out). */
        answer_generation(g, m, NULL, false, s->prev_leader, false);
    }
}

void rn_group_store_done(rn_group_t *g, uint64_t token, int16_t error, int64_t now_ms)
{
    g->now = now_ms;
    pending_store_t **pp = &g->stores;
    while (*pp != NULL && (*pp)->token != token)
        pp = &(*pp)->next;
    pending_store_t *s = *pp;
    if (s == NULL)
        return;
    *pp = s->next;
    switch (s->kind) {
    case STORE_SYNC: store_done_sync(g, s, error); break;
    case STORE_STATIC: store_done_static(g, s, error); break;
    default:
        if (error != RN_KERR_NONE)
            RN_WARN("group", "group=%s: storing empty generation %d failed (error %d)", g->id,
                    s->generation, error);
        break;
    }
    store_free(s);
}

/* ---- Heartbeat, LeaveGroup, OffsetCommit ---- */

int16_t rn_group_heartbeat(rn_group_t *g, const char *member_id, const char *instance_id,
                           int32_t generation_id, int64_t now_ms)
{
    g->now = now_ms;
    if (g->state == RN_GROUP_DEAD)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    rn_group_member_t *m = NULL;
    int16_t err = validate_member(g, member_id, instance_id, &m);
    if (err != RN_KERR_NONE)
        return err;
    if (generation_id != g->generation)
        return RN_KERR_ILLEGAL_GENERATION;
    switch (g->state) {
    case RN_GROUP_EMPTY: return RN_KERR_UNKNOWN_MEMBER_ID;
    case RN_GROUP_PREPARING_REBALANCE:
        schedule_heartbeat(g, m);
        return RN_KERR_REBALANCE_IN_PROGRESS;
    default: schedule_heartbeat(g, m); return RN_KERR_NONE;
    }
}

/* Kafka's removeMemberAndUpdateGroup. */
static void remove_and_update(rn_group_t *g, rn_group_member_t *m, const char *reason)
{
    RN_INFO("group", "group=%s: member %s leaves (%s)", g->id, m->member_id, reason);
    remove_member(g, m);
    switch (g->state) {
    case RN_GROUP_STABLE:
    case RN_GROUP_COMPLETING_REBALANCE: maybe_prepare_rebalance(g, reason); break;
    case RN_GROUP_PREPARING_REBALANCE: try_complete_join(g); break;
    default: break;
    }
}

int16_t rn_group_leave(rn_group_t *g, const char *member_id, const char *instance_id,
                       int64_t now_ms)
{
    g->now = now_ms;
    if (g->state == RN_GROUP_DEAD)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    if (member_id == NULL || member_id[0] == '\0') {
        /* Administrative removal by group.instance.id. */
        rn_group_member_t *m = find_static(g, instance_id);
        if (m == NULL)
            return RN_KERR_UNKNOWN_MEMBER_ID;
        remove_and_update(g, m, "removed by LeaveGroup with its instance id");
        return RN_KERR_NONE;
    }
    ssize_t pi = find_pending(g, member_id);
    if (pi >= 0) {
        remove_pending_at(g, (size_t)pi);
        try_complete_join(g);
        return RN_KERR_NONE;
    }
    rn_group_member_t *m = NULL;
    int16_t err = validate_member(g, member_id, instance_id, &m);
    if (err != RN_KERR_NONE)
        return err;
    remove_and_update(g, m, "LeaveGroup");
    return RN_KERR_NONE;
}

int16_t rn_group_check_commit(rn_group_t *g, const char *member_id, const char *instance_id,
                              int32_t generation_id, int64_t now_ms)
{
    g->now = now_ms;
    if (g->state == RN_GROUP_DEAD)
        return RN_KERR_COORDINATOR_NOT_AVAILABLE;
    rn_group_member_t *m = NULL;
    if (member_id == NULL)
        member_id = "";
    if (generation_id >= 0 || member_id[0] != '\0' || instance_id != NULL) {
        int16_t err = validate_member(g, member_id, instance_id, &m);
        if (err != RN_KERR_NONE)
            return err;
        if (generation_id != g->generation)
            return RN_KERR_ILLEGAL_GENERATION;
    } else if (g->state != RN_GROUP_EMPTY) {
        /* Once the group has members, only they may commit. */
        return RN_KERR_UNKNOWN_MEMBER_ID;
    }
    switch (g->state) {
    case RN_GROUP_COMPLETING_REBALANCE: return RN_KERR_REBALANCE_IN_PROGRESS;
    case RN_GROUP_STABLE:
    case RN_GROUP_PREPARING_REBALANCE:
        if (m != NULL)
            schedule_heartbeat(g, m);
        return RN_KERR_NONE;
    default: return RN_KERR_NONE;
    }
}

/* ---- timers ---- */

/* Members waiting for a join or sync answer satisfy their session (Kafka's
 * hasSatisfiedHeartbeat); new members do not: their join times out. */
static bool session_paused(const rn_group_member_t *m)
{
    return !m->is_new && (m->join_waiter != NULL || m->sync_waiter != NULL);
}

int64_t rn_group_next_deadline(const rn_group_t *g)
{
    int64_t t = INT64_MAX;
    if (g->state == RN_GROUP_DEAD)
        return t;
    for (size_t i = 0; i < g->n_pending; i++)
        if (g->pending[i].deadline < t)
            t = g->pending[i].deadline;
    for (size_t i = 0; i < g->n_members; i++)
        if (!session_paused(g->members[i]) && g->members[i]->hb_deadline < t)
            t = g->members[i]->hb_deadline;
    if (g->join_armed && g->state == RN_GROUP_PREPARING_REBALANCE && g->join_deadline < t)
        t = g->join_deadline;
    if (g->sync_armed && g->sync_deadline < t)
        t = g->sync_deadline;
    return t;
}

static void join_expired(rn_group_t *g)
{
    if (g->join_initial && g->new_member_added && g->initial_remaining_ms != 0) {
        /* More members arrived during the initial delay: wait once more, within the
         * rebalance timeout. */
        g->new_member_added = false;
        int32_t delay = g->cfg.initial_rebalance_delay_ms < g->initial_remaining_ms
                            ? g->cfg.initial_rebalance_delay_ms
                            : g->initial_remaining_ms;
        int32_t remaining = g->initial_remaining_ms - g->initial_delay_ms;
        g->initial_remaining_ms = remaining > 0 ? remaining : 0;
        g->initial_delay_ms = delay;
        g->join_deadline = g->now + delay;
        return;
    }
    complete_join(g);
}

/* Kafka's onExpirePendingSync: members that never sent SyncGroup are removed. */
static void sync_expired(rn_group_t *g)
{
    g->sync_armed = false;
    if (g->sync_generation != g->generation ||
        (g->state != RN_GROUP_COMPLETING_REBALANCE && g->state != RN_GROUP_STABLE) ||
        g->n_pending_sync == 0)
        return;
    for (size_t i = 0; i < g->n_members;) {
        rn_group_member_t *m = g->members[i];
        if (m->pending_sync) {
            RN_INFO("group", "group=%s: removing member %s, which sent no SyncGroup in time", g->id,
                    m->member_id);
            remove_member(g, m);
        } else {
            i++;
        }
    }
    prepare_rebalance(g, "members did not sync in time");
}

void rn_group_tick(rn_group_t *g, int64_t now_ms)
{
    g->now = now_ms;
    if (g->state == RN_GROUP_DEAD)
        return;
    for (size_t i = 0; i < g->n_pending;) {
        if (g->pending[i].deadline <= now_ms) {
            RN_INFO("group", "group=%s: pending member %s never joined; dropped", g->id,
                    g->pending[i].id);
            remove_pending_at(g, i);
            try_complete_join(g);
        } else {
            i++;
        }
    }
    /* One expiry at a time: removing a member can rebalance and change the member list. */
    for (bool again = true; again && g->state != RN_GROUP_DEAD;) {
        again = false;
        for (size_t i = 0; i < g->n_members; i++) {
            rn_group_member_t *m = g->members[i];
            if (m->hb_deadline <= now_ms && !session_paused(m)) {
                /* A new member still waiting is told UNKNOWN_MEMBER_ID by remove_member. */
                remove_and_update(g, m, m->is_new ? "join timed out" : "session timed out");
                again = true;
                break;
            }
        }
    }
    if (g->state == RN_GROUP_PREPARING_REBALANCE && g->join_armed && g->join_deadline <= now_ms)
        join_expired(g);
    if (g->sync_armed && g->sync_deadline <= now_ms)
        sync_expired(g);
}

/* ---- lifecycle ---- */

rn_group_t *rn_group_new(const char *id, const rn_group_config_t *cfg, const rn_group_ops_t *ops,
                         int64_t now_ms)
{
    rn_group_t *g = rn_xcalloc(1, sizeof(*g));
    g->id = rn_xstrdup(id);
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
        remove_pending_at(g, g->n_pending - 1);
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
        store_free(s);
    }
    rn_free(g->protocol_type);
    rn_free(g->protocol_name);
    rn_free(g->id);
    rn_free(g);
}

static char *str_dup_slice(rn_str_t s)
{
    return s.len >= 0 ? rn_xstrndup(s.ptr != NULL ? s.ptr : "", (size_t)s.len) : NULL;
}

int rn_group_restore(rn_group_t *g, const rn_groupstore_group_t *meta, int64_t now_ms)
{
    g->now = now_ms;
    clear_members(g);
    g->join_armed = g->sync_armed = false;
    g->generation = meta->generation;
    rn_free(g->protocol_type);
    rn_free(g->protocol_name);
    g->protocol_type = meta->protocol_type.len > 0 ? str_dup_slice(meta->protocol_type) : NULL;
    g->protocol_name = str_dup_slice(meta->protocol);
    char *leader = str_dup_slice(meta->leader);
    int rc = 0;
    for (int32_t i = 0; i < meta->n_members; i++) {
        const rn_groupstore_member_t *sm = &meta->members[i];
        rn_group_member_t *m = rn_xcalloc(1, sizeof(*m));
        m->member_id = str_dup_slice(sm->member_id);
        m->instance_id = str_dup_slice(sm->instance_id);
        m->client_id = sm->client_id.len >= 0 ? str_dup_slice(sm->client_id) : rn_xstrdup("");
        m->client_host = sm->client_host.len >= 0 ? str_dup_slice(sm->client_host) : rn_xstrdup("");
        m->rebalance_timeout_ms = sm->rebalance_timeout_ms;
        m->session_timeout_ms = sm->session_timeout_ms;
        m->protocol_type = rn_xstrdup(g->protocol_type != NULL ? g->protocol_type : "");
        rn_group_protocol_t p = {g->protocol_name != NULL ? g->protocol_name : "",
                                 (uint8_t *)sm->subscription.ptr, sm->subscription.len};
        m->protocols = protocols_dup(&p, 1);
        m->n_protocols = 1;
        set_assignment(m, sm->assignment.ptr, sm->assignment.len);
        if (m->member_id == NULL || find_member(g, m->member_id) != NULL ||
            (m->instance_id != NULL && find_static(g, m->instance_id) != NULL)) {
            member_free(m);
            rc = RN_EINVAL;
            continue;
        }
        add_member(g, m, NULL);
        schedule_heartbeat(g, m);
    }
    if (leader != NULL && find_member(g, leader) != NULL)
        g->leader = find_member(g, leader);
    rn_free(leader);
    g->state = g->n_members > 0 ? RN_GROUP_STABLE : RN_GROUP_EMPTY;
    g->state_ts = meta->current_state_timestamp;
    compute_topics(g);
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
            join_error(g, w, m->member_id, error);
        }
        if (m->sync_waiter != NULL) {
            void *w = m->sync_waiter;
            m->sync_waiter = NULL;
            sync_error(g, w, error);
        }
    }
    if (prev != RN_GROUP_DEAD)
        RN_INFO("group", "group=%s: unloaded in state %s (generation %d)", g->id,
                rn_group_state_name(prev), g->generation);
}

bool rn_group_mark_dead(rn_group_t *g, int64_t now_ms)
{
    if (g->state != RN_GROUP_EMPTY)
        return false;
    g->now = now_ms;
    transition(g, RN_GROUP_DEAD);
    g->join_armed = g->sync_armed = false;
    while (g->n_pending > 0)
        remove_pending_at(g, g->n_pending - 1);
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

const char *rn_group_id(const rn_group_t *g)
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

const char *rn_group_protocol_type(const rn_group_t *g)
{
    return g->protocol_type;
}

const char *rn_group_protocol_name(const rn_group_t *g)
{
    return g->protocol_name;
}

const char *rn_group_leader(const rn_group_t *g)
{
    return g->leader != NULL ? g->leader->member_id : NULL;
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

const rn_group_member_t *rn_group_find_member(const rn_group_t *g, const char *member_id)
{
    return find_member(g, member_id);
}

const rn_group_protocol_t *rn_group_member_protocol(const rn_group_member_t *m, const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < m->n_protocols; i++)
        if (strcmp(m->protocols[i].name, name) == 0)
            return &m->protocols[i];
    return NULL;
}

size_t rn_group_pending_count(const rn_group_t *g)
{
    return g->n_pending;
}

bool rn_group_is_subscribed(const rn_group_t *g, const char *topic)
{
    if (!g->topics_known)
        return true;
    return bsearch(&topic, g->topics, g->n_topics, sizeof(*g->topics), cmp_str) != NULL;
}

bool rn_group_subscriptions_known(const rn_group_t *g)
{
    return g->topics_known;
}
