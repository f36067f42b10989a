/* The classic consumer group protocol for runnel (see rn_cli.h): the "consumer" protocol
 * type's subscription and assignment bytes (ConsumerProtocolSubscription /
 * ConsumerProtocolAssignment, non-flexible encodings), Kafka's range assignor, and a member's
 * life: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, OffsetCommit, LeaveGroup, plus
 * OffsetFetch for committed positions. */
#include "rn_cli.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "rn_str.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROTOCOL_TYPE "consumer"
#define ASSIGNOR      "range"
#define JOIN_ATTEMPTS 20

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- consumer protocol bytes ---- */

/* Copy the writer's (memory-only) output into the arena. */
static rn_bytes_t writer_bytes(rn_arena_t *arena, rn_proto_writer_t *w)
{
    size_t n = rn_proto_writer_total(w);
    uint8_t *buf = rn_arena_alloc(arena, n ? n : 1);
    if (buf == NULL || w->err || rn_proto_writer_copy(w, buf, n) != (long)n)
        abort(); /* small internal message: out of memory only */
    rn_proto_writer_free(w);
    return (rn_bytes_t){buf, (int32_t)n};
}

rn_bytes_t rn_cli_subscription_encode(rn_arena_t *arena, const char *const *topics, int ntopics)
{
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_proto_write_int16(&w, 0); /* version */
    rn_proto_write_array_len(&w, false, false, ntopics);
    for (int i = 0; i < ntopics; i++)
        rn_proto_write_string(&w, false, false, rn_str(topics[i]));
    rn_proto_write_bytes(&w, false, true, RN_BYTES_NULL); /* user data */
    return writer_bytes(arena, &w);
}

rn_bytes_t rn_cli_assignment_encode(rn_arena_t *arena, const rn_cli_cproto_t *a)
{
    rn_proto_writer_t w;
    rn_proto_writer_init(&w);
    rn_proto_write_int16(&w, 0);
    rn_proto_write_array_len(&w, false, false, a->ntopics);
    for (int i = 0; i < a->ntopics; i++) {
        rn_proto_write_string(&w, false, false, rn_str(a->topics[i].topic));
        rn_proto_write_array_len(&w, false, false, a->topics[i].npartitions);
        for (int k = 0; k < a->topics[i].npartitions; k++)
            rn_proto_write_int32(&w, a->topics[i].partitions[k]);
    }
    rn_proto_write_bytes(&w, false, true, RN_BYTES_NULL);
    return writer_bytes(arena, &w);
}

int rn_cli_cproto_decode(rn_arena_t *arena, rn_bytes_t b, bool with_partitions,
                         rn_cli_cproto_t *out)
{
    memset(out, 0, sizeof *out);
    if (b.len <= 0)
        return 0; /* an empty assignment: nothing assigned */
    rn_proto_reader_t r;
    rn_proto_reader_init(&r, b.ptr, (size_t)b.len, arena);
    out->version = rn_proto_read_int16(&r);
    int32_t n = rn_proto_read_array_len(&r, false, false, 2);
    if (r.rd.err || out->version < 0)
        return RN_ECORRUPT;
    out->topics = rn_arena_calloc(arena, (size_t)n + 1, sizeof *out->topics);
    if (out->topics == NULL)
        return RN_ENOMEM;
    for (int32_t i = 0; i < n && !r.rd.err; i++) {
        rn_str_t name = rn_proto_read_string(&r, false, false);
        rn_cli_tparts_t *t = &out->topics[i];
        t->topic = rn_str_arena_dup(arena, name.len >= 0 ? name : rn_str(""));
        if (with_partitions) {
            int32_t np = rn_proto_read_array_len(&r, false, false, 4);
            t->partitions = rn_arena_calloc(arena, (size_t)np + 1, sizeof *t->partitions);
            for (int32_t k = 0; k < np && !r.rd.err && t->partitions; k++)
                t->partitions[t->npartitions++] = rn_proto_read_int32(&r);
        }
        out->ntopics++;
    }
    /* User data and the fields of newer versions follow; they do not change what we use. */
    return r.rd.err ? RN_ECORRUPT : 0;
}

static int cmp_member(const void *a, const void *b)
{
    return strcmp(**(const char *const *const *)a, **(const char *const *const *)b);
}

void rn_cli_range_assign(rn_arena_t *arena, const char *const *member_ids,
                         const rn_cli_cproto_t *subs, int nmembers, const char *const *names,
                         const int32_t *counts, int ntopics, rn_cli_cproto_t *out)
{
    for (int i = 0; i < nmembers; i++) {
        out[i].version = 0;
        out[i].ntopics = 0;
        out[i].topics = rn_arena_calloc(arena, (size_t)ntopics + 1, sizeof *out[i].topics);
    }
    /* order[k] points at member_ids[i] so sorting keeps the index recoverable. */
    const char *const **order = rn_xcalloc((size_t)nmembers + 1, sizeof *order);
    for (int t = 0; t < ntopics; t++) {
        int m = 0;
        for (int i = 0; i < nmembers; i++)
            for (int k = 0; k < subs[i].ntopics; k++)
                if (strcmp(subs[i].topics[k].topic, names[t]) == 0) {
                    order[m++] = &member_ids[i];
                    break;
                }
        if (m == 0 || counts[t] <= 0)
            continue;
        qsort(order, (size_t)m, sizeof *order, cmp_member);
        int32_t per = counts[t] / m, extra = counts[t] % m;
        for (int k = 0; k < m; k++) {
            int i = (int)(order[k] - member_ids);
            int32_t start = per * k + (k < extra ? k : extra);
            int32_t len = per + (k < extra ? 1 : 0);
            if (len == 0)
                continue;
            rn_cli_tparts_t *tp = &out[i].topics[out[i].ntopics++];
            tp->topic = (char *)names[t];
            tp->npartitions = len;
            tp->partitions = rn_arena_calloc(arena, (size_t)len, sizeof *tp->partitions);
            for (int32_t p = 0; p < len; p++)
                tp->partitions[p] = start + p;
        }
    }
    rn_free(order);
}

/* ---- coordinator and offsets ---- */

rn_conn_t *rn_cli_coordinator(rn_cli_t *cli, const char *group, int *status)
{
    if (rn_cli_boot(cli, status) == NULL)
        return NULL;
    int16_t kerr = 0;
    rn_conn_t *conn = rn_conn_pool_coordinator(&cli->pool, 0, group, &kerr);
    if (conn == NULL)
        *status = rn_cli_fail(cli, kerr ? RN_CLI_EXIT_FAIL : RN_CLI_EXIT_CONNECT,
                              "cannot reach the coordinator of group \"%s\": %s%s", group,
                              cli->pool.err, kerr ? rn_cli_kerr_hint(kerr) : "");
    return conn;
}

int rn_cli_offset_fetch(rn_cli_t *cli, rn_conn_t *coord, int16_t v, const char *group,
                        const char *topic, const int32_t *partitions, int n, int16_t tolerated,
                        rn_cli_committed_fn fn, void *ctx)
{
    rn_offset_fetch_request_t req;
    rn_offset_fetch_request_init(&req);
    rn_int32_array_t pids = {n, (int32_t *)partitions};
    if (v >= 8) {
        rn_offset_fetch_request_group_t *g =
            rn_offset_fetch_request_group_array_alloc(&cli->arena, &req.groups, 1);
        g->group_id = rn_str(group);
        if (topic == NULL) {
            g->topics.count = -1;
        } else {
            rn_offset_fetch_request_topics_t *t =
                rn_offset_fetch_request_topics_array_alloc(&cli->arena, &g->topics, 1);
            t->name = rn_str(topic);
            t->partition_indexes = pids;
        }
    } else {
        req.group_id = rn_str(group);
        if (topic == NULL) {
            req.topics.count = -1;
        } else {
            rn_offset_fetch_request_topic_t *t =
                rn_offset_fetch_request_topic_array_alloc(&cli->arena, &req.topics, 1);
            t->name = rn_str(topic);
            t->partition_indexes = pids;
        }
    }
    void *body;
    int err = rn_conn_call(coord, RN_API_OFFSET_FETCH, v, &req, &cli->arena, &body);
    if (err != 0)
        return rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                           "OffsetFetch for group \"%s\" failed: %s", group, rn_conn_error(coord));
    const rn_offset_fetch_response_t *resp = body;
    int16_t gerr =
        v >= 8 ? (resp->groups.count > 0 ? resp->groups.items[0].error_code : 0) : resp->error_code;
    if (gerr != 0 && gerr != tolerated)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "OffsetFetch for group \"%s\" failed: %s%s",
                           group, rn_kerr_name(gerr), rn_cli_kerr_hint(gerr));
    /* The two layouts carry the same partition fields; walk whichever this version has. */
    if (v >= 8) {
        for (int32_t gi = 0; gi < resp->groups.count; gi++)
            for (int32_t ti = 0; ti < resp->groups.items[gi].topics.count; ti++) {
                const rn_offset_fetch_response_topics_t *t =
                    &resp->groups.items[gi].topics.items[ti];
                for (int32_t pi = 0; pi < t->partitions.count; pi++) {
                    const rn_offset_fetch_response_partitions_t *p = &t->partitions.items[pi];
                    fn(ctx, t->name, p->partition_index, p->committed_offset, p->error_code);
                }
            }
    } else {
        for (int32_t ti = 0; ti < resp->topics.count; ti++) {
            const rn_offset_fetch_response_topic_t *t = &resp->topics.items[ti];
            for (int32_t pi = 0; pi < t->partitions.count; pi++) {
                const rn_offset_fetch_response_partition_t *p = &t->partitions.items[pi];
                fn(ctx, t->name, p->partition_index, p->committed_offset, p->error_code);
            }
        }
    }
    return 0;
}

typedef struct committed_ctx {
    const int32_t *partitions;
    int n;
    int64_t *offsets;
} committed_ctx_t;

static void committed_one(void *ctx, rn_str_t topic, int32_t partition, int64_t committed,
                          int16_t error_code)
{
    committed_ctx_t *c = ctx;
    (void)topic;
    for (int i = 0; i < c->n; i++)
        if (partition == c->partitions[i] && error_code == 0)
            c->offsets[i] = committed;
}

int rn_cli_committed(rn_cli_t *cli, rn_conn_t *coord, const char *group, const char *topic,
                     const int32_t *partitions, int n, int64_t *offsets)
{
    for (int i = 0; i < n; i++)
        offsets[i] = -1;
    if (n == 0)
        return 0;
    int16_t v = rn_conn_version(coord, RN_API_OFFSET_FETCH, -1);
    if (v < 1)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "the coordinator does not serve an OffsetFetch version runnel speaks");
    committed_ctx_t c = {partitions, n, offsets};
    return rn_cli_offset_fetch(cli, coord, v, group, topic, partitions, n, 0, committed_one, &c);
}

/* ---- membership ---- */

static bool coordinator_moved(int16_t code)
{
    return code == RN_KERR_NOT_COORDINATOR || code == RN_KERR_COORDINATOR_NOT_AVAILABLE ||
           code == RN_KERR_COORDINATOR_LOAD_IN_PROGRESS;
}

static void set_member_id(rn_cli_member_t *m, rn_str_t id)
{
    rn_free(m->member_id);
    m->member_id = rn_str_dup(id.len >= 0 ? id : rn_str(""));
}

/* As the leader: range-assign the members' subscriptions and encode one assignment each. */
static int leader_assign(rn_cli_member_t *m, const rn_join_group_response_t *jr,
                         rn_sync_group_request_t *sreq)
{
    rn_cli_t *cli = m->cli;
    int nm = jr->members.count > 0 ? jr->members.count : 0;
    const char **ids = rn_arena_calloc(&m->arena, (size_t)nm + 1, sizeof *ids);
    rn_cli_cproto_t *subs = rn_arena_calloc(&m->arena, (size_t)nm + 1, sizeof *subs);
    rn_cli_cproto_t *out = rn_arena_calloc(&m->arena, (size_t)nm + 1, sizeof *out);
    /* Every topic anyone subscribes to, with its partition count from Metadata. */
    const char **names = NULL;
    int nnames = 0;
    for (int i = 0; i < nm; i++) {
        ids[i] = rn_str_arena_dup(&m->arena, jr->members.items[i].member_id);
        if (rn_cli_cproto_decode(&m->arena, jr->members.items[i].metadata, false, &subs[i]) != 0)
            return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                               "member %s of group \"%s\" sent a malformed subscription", ids[i],
                               m->group);
        for (int k = 0; k < subs[i].ntopics; k++) {
            int x = 0;
            while (x < nnames && strcmp(names[x], subs[i].topics[k].topic) != 0)
                x++;
            if (x == nnames) {
                names = rn_xrealloc(names, sizeof *names * (size_t)(nnames + 1));
                names[nnames++] = subs[i].topics[k].topic;
            }
        }
    }
    int32_t *counts = rn_xcalloc((size_t)nnames + 1, sizeof *counts);
    rn_metadata_response_t *md;
    int st = rn_cli_metadata(cli, names, nnames, false, &md);
    for (int t = 0; st == 0 && t < nnames; t++) {
        const rn_metadata_response_topic_t *mt = rn_cli_md_topic(md, names[t]);
        counts[t] = mt && mt->error_code == 0 ? mt->partitions.count : 0;
    }
    if (st == 0) {
        rn_cli_range_assign(&m->arena, ids, subs, nm, names, counts, nnames, out);
        rn_sync_group_request_assignment_t *a =
            rn_sync_group_request_assignment_array_alloc(&m->arena, &sreq->assignments, nm);
        for (int i = 0; i < nm; i++) {
            a[i].member_id = rn_str(ids[i]);
            a[i].assignment = rn_cli_assignment_encode(&m->arena, &out[i]);
        }
    }
    rn_free(names);
    rn_free(counts);
    return st;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* One JoinGroup + SyncGroup round. *again: the group asks us to start over. */
static int join_round(rn_cli_member_t *m, bool *again)
{
    rn_cli_t *cli = m->cli;
    *again = false;
    rn_arena_reset(&m->arena);
    int16_t v = rn_conn_version(m->coord, RN_API_JOIN_GROUP, -1);
    int16_t sv = rn_conn_version(m->coord, RN_API_SYNC_GROUP, -1);
    if (v < 0 || sv < 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "the coordinator of group \"%s\" does not serve JoinGroup/SyncGroup "
                           "versions runnel speaks",
                           m->group);
    rn_join_group_request_t req;
    rn_join_group_request_init(&req);
    req.group_id = rn_str(m->group);
    req.session_timeout_ms = m->session_timeout_ms;
    req.rebalance_timeout_ms = m->rebalance_timeout_ms;
    req.member_id = rn_str(m->member_id);
    req.protocol_type = rn_str(PROTOCOL_TYPE);
    rn_join_group_request_protocol_t *proto =
        rn_join_group_request_protocol_array_alloc(&m->arena, &req.protocols, 1);
    proto->name = rn_str(ASSIGNOR);
    proto->metadata = rn_cli_subscription_encode(&m->arena, &m->topic, 1);
    /* The coordinator holds JoinGroup until every member has (re)joined. */
    int saved = m->coord->timeout_ms;
    if (m->coord->timeout_ms < m->rebalance_timeout_ms + 5000)
        m->coord->timeout_ms = m->rebalance_timeout_ms + 5000;
    void *body;
    int err = rn_conn_call(m->coord, RN_API_JOIN_GROUP, v, &req, &m->arena, &body);
    m->coord->timeout_ms = saved;
    if (err != 0)
        return rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                           "JoinGroup for group \"%s\" failed: %s", m->group,
                           rn_conn_error(m->coord));
    const rn_join_group_response_t *jr = body;
    switch (jr->error_code) {
    case 0: break;
    case RN_KERR_MEMBER_ID_REQUIRED: /* v4+: join again with the id the broker chose */
        set_member_id(m, jr->member_id);
        *again = true;
        return 0;
    case RN_KERR_UNKNOWN_MEMBER_ID:
        set_member_id(m, rn_str(""));
        *again = true;
        return 0;
    case RN_KERR_REBALANCE_IN_PROGRESS: *again = true; return 0;
    case RN_KERR_INCONSISTENT_GROUP_PROTOCOL:
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "group \"%s\" is in use by members with another protocol or assignor "
                           "(runnel speaks \"" PROTOCOL_TYPE "\" with \"" ASSIGNOR "\"); use "
                           "another group name",
                           m->group);
    default:
        if (coordinator_moved(jr->error_code)) {
            *again = true;
            m->coord = NULL;
            return 0;
        }
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "cannot join group \"%s\": %s%s", m->group,
                           rn_kerr_name(jr->error_code), rn_cli_kerr_hint(jr->error_code));
    }
    set_member_id(m, jr->member_id);
    m->generation = jr->generation_id;
    rn_free(m->protocol);
    m->protocol = rn_str_dup(jr->protocol_name.len >= 0 ? jr->protocol_name : rn_str(ASSIGNOR));
    m->leader = rn_str_eq(jr->leader, jr->member_id);

    rn_sync_group_request_t sreq;
    rn_sync_group_request_init(&sreq);
    sreq.group_id = rn_str(m->group);
    sreq.generation_id = m->generation;
    sreq.member_id = rn_str(m->member_id);
    sreq.protocol_type = rn_str(PROTOCOL_TYPE);
    sreq.protocol_name = rn_str(m->protocol);
    if (m->leader && !jr->skip_assignment) {
        int st = leader_assign(m, jr, &sreq);
        if (st != 0)
            return st;
    }
    saved = m->coord->timeout_ms;
    if (m->coord->timeout_ms < m->rebalance_timeout_ms + 5000)
        m->coord->timeout_ms = m->rebalance_timeout_ms + 5000;
    err = rn_conn_call(m->coord, RN_API_SYNC_GROUP, sv, &sreq, &m->arena, &body);
    m->coord->timeout_ms = saved;
    if (err != 0)
        return rn_cli_fail(cli, err == RN_EIO ? RN_CLI_EXIT_CONNECT : RN_CLI_EXIT_FAIL,
                           "SyncGroup for group \"%s\" failed: %s", m->group,
                           rn_conn_error(m->coord));
    const rn_sync_group_response_t *sr = body;
    if (sr->error_code == RN_KERR_REBALANCE_IN_PROGRESS ||
        sr->error_code == RN_KERR_ILLEGAL_GENERATION ||
        sr->error_code == RN_KERR_UNKNOWN_MEMBER_ID || coordinator_moved(sr->error_code)) {
        if (sr->error_code == RN_KERR_UNKNOWN_MEMBER_ID)
            set_member_id(m, rn_str(""));
        if (coordinator_moved(sr->error_code))
            m->coord = NULL;
        *again = true;
        return 0;
    }
    if (sr->error_code != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "SyncGroup for group \"%s\" failed: %s%s",
                           m->group, rn_kerr_name(sr->error_code),
                           rn_cli_kerr_hint(sr->error_code));
    rn_cli_cproto_t a;
    if (rn_cli_cproto_decode(&m->arena, sr->assignment, true, &a) != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "the leader of group \"%s\" sent a malformed assignment", m->group);
    rn_free(m->assigned);
    m->assigned = NULL;
    m->nassigned = 0;
    for (int i = 0; i < a.ntopics; i++) {
        if (strcmp(a.topics[i].topic, m->topic) != 0)
            continue;
        m->assigned =
            rn_xrealloc(m->assigned,
                        sizeof *m->assigned * (size_t)(m->nassigned + a.topics[i].npartitions + 1));
        memcpy(m->assigned + m->nassigned, a.topics[i].partitions,
               sizeof *m->assigned * (size_t)a.topics[i].npartitions);
        m->nassigned += a.topics[i].npartitions;
    }
    if (m->nassigned > 1)
        qsort(m->assigned, (size_t)m->nassigned, sizeof *m->assigned, cmp_i32);
    m->last_heartbeat_ms = mono_ms();
    return 0;
}

int rn_cli_member_join(rn_cli_member_t *m)
{
    if (m->member_id == NULL) {
        m->member_id = rn_xstrdup("");
        rn_arena_init(&m->arena, 0);
    }
    for (int attempt = 0; attempt < JOIN_ATTEMPTS; attempt++) {
        if (m->coord == NULL || !rn_conn_is_open(m->coord)) {
            int st;
            m->coord = rn_cli_coordinator(m->cli, m->group, &st);
            if (m->coord == NULL)
                return st;
        }
        bool again;
        int st = join_round(m, &again);
        if (st != 0 || !again)
            return st;
        if (m->coord == NULL)
            sleep_ms(200);
    }
    return rn_cli_fail(m->cli, RN_CLI_EXIT_FAIL,
                       "group \"%s\" kept rebalancing through %d join attempts; try again",
                       m->group, JOIN_ATTEMPTS);
}

int rn_cli_member_heartbeat(rn_cli_member_t *m, bool *rejoin)
{
    *rejoin = false;
    if (mono_ms() - m->last_heartbeat_ms < m->session_timeout_ms / 3)
        return 0;
    if (m->coord == NULL || !rn_conn_is_open(m->coord)) {
        m->coord = NULL;
        *rejoin = true;
        return 0;
    }
    int16_t v = rn_conn_version(m->coord, RN_API_HEARTBEAT, -1);
    rn_heartbeat_request_t req;
    rn_heartbeat_request_init(&req);
    req.group_id = rn_str(m->group);
    req.generation_id = m->generation;
    req.member_id = rn_str(m->member_id);
    void *body;
    int err = v < 0 ? RN_EUNSUPPORTED
                    : rn_conn_call(m->coord, RN_API_HEARTBEAT, v, &req, &m->cli->arena, &body);
    if (err == RN_EIO) {
        m->coord = NULL; /* find the coordinator again and rejoin */
        *rejoin = true;
        return 0;
    }
    if (err != 0)
        return rn_cli_fail(m->cli, RN_CLI_EXIT_FAIL, "Heartbeat for group \"%s\" failed: %s",
                           m->group, rn_conn_error(m->coord));
    m->last_heartbeat_ms = mono_ms();
    const rn_heartbeat_response_t *resp = body;
    switch (resp->error_code) {
    case 0: return 0;
    case RN_KERR_UNKNOWN_MEMBER_ID: set_member_id(m, rn_str("")); /* fall through */
    case RN_KERR_REBALANCE_IN_PROGRESS:
    case RN_KERR_ILLEGAL_GENERATION: *rejoin = true; return 0;
    default:
        if (coordinator_moved(resp->error_code)) {
            m->coord = NULL;
            *rejoin = true;
            return 0;
        }
        return rn_cli_fail(m->cli, RN_CLI_EXIT_FAIL, "Heartbeat for group \"%s\" failed: %s",
                           m->group, rn_kerr_name(resp->error_code));
    }
}

int rn_cli_member_commit(rn_cli_member_t *m, const int32_t *partitions, const int64_t *offsets,
                         int n, bool *rejoin)
{
    *rejoin = false;
    rn_cli_t *cli = m->cli;
    if (m->coord == NULL || !rn_conn_is_open(m->coord)) {
        *rejoin = true;
        m->coord = NULL;
        return 0;
    }
    int16_t v = rn_conn_version(m->coord, RN_API_OFFSET_COMMIT, -1);
    if (v < 1)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                           "the coordinator does not serve an OffsetCommit version runnel speaks");
    rn_offset_commit_request_t req;
    rn_offset_commit_request_init(&req);
    req.group_id = rn_str(m->group);
    req.generation_id_or_member_epoch = m->generation;
    req.member_id = rn_str(m->member_id);
    rn_offset_commit_request_topic_t *t =
        rn_offset_commit_request_topic_array_alloc(&cli->arena, &req.topics, 1);
    t->name = rn_str(m->topic);
    rn_offset_commit_request_partition_t *p =
        rn_offset_commit_request_partition_array_alloc(&cli->arena, &t->partitions, n);
    for (int i = 0; i < n; i++) {
        p[i].partition_index = partitions[i];
        p[i].committed_offset = offsets[i];
        p[i].committed_metadata = rn_str("");
    }
    void *body;
    int err = rn_conn_call(m->coord, RN_API_OFFSET_COMMIT, v, &req, &cli->arena, &body);
    if (err == RN_EIO) {
        m->coord = NULL;
        *rejoin = true;
        return 0;
    }
    if (err != 0)
        return rn_cli_fail(cli, RN_CLI_EXIT_FAIL, "OffsetCommit for group \"%s\" failed: %s",
                           m->group, rn_conn_error(m->coord));
    const rn_offset_commit_response_t *resp = body;
    for (int32_t ti = 0; ti < resp->topics.count; ti++)
        for (int32_t pi = 0; pi < resp->topics.items[ti].partitions.count; pi++) {
            int16_t code = resp->topics.items[ti].partitions.items[pi].error_code;
            if (code == 0)
                continue;
            if (code == RN_KERR_REBALANCE_IN_PROGRESS || code == RN_KERR_ILLEGAL_GENERATION ||
                code == RN_KERR_UNKNOWN_MEMBER_ID || coordinator_moved(code)) {
                if (coordinator_moved(code))
                    m->coord = NULL;
                *rejoin = true;
                return 0;
            }
            return rn_cli_fail(cli, RN_CLI_EXIT_FAIL,
                               "OffsetCommit for group \"%s\" partition %d failed: %s%s", m->group,
                               resp->topics.items[ti].partitions.items[pi].partition_index,
                               rn_kerr_name(code), rn_cli_kerr_hint(code));
        }
    return 0;
}

void rn_cli_member_leave(rn_cli_member_t *m)
{
    if (m->coord && rn_conn_is_open(m->coord) && m->member_id && m->member_id[0]) {
        int16_t v = rn_conn_version(m->coord, RN_API_LEAVE_GROUP, -1);
        rn_leave_group_request_t req;
        rn_leave_group_request_init(&req);
        req.group_id = rn_str(m->group);
        req.member_id = rn_str(m->member_id);
        rn_member_identity_t ident;
        rn_member_identity_init(&ident);
        ident.member_id = rn_str(m->member_id);
        req.members.count = 1;
        req.members.items = &ident;
        void *body;
        if (v >= 0)
            rn_conn_call(m->coord, RN_API_LEAVE_GROUP, v, &req, &m->cli->arena, &body);
    }
    rn_free(m->member_id);
    rn_free(m->protocol);
    rn_free(m->assigned);
    rn_arena_free(&m->arena);
    m->member_id = m->protocol = NULL;
    m->assigned = NULL;
}
