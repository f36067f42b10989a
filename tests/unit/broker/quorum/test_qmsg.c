/* Tests for rn_qmsg: every quorum message survives raft message -> codec struct -> wire
 * bytes -> codec struct -> raft message unchanged, at each version the quorum speaks; the
 * Fetch answer with records, with a diverging epoch and with a snapshot id; and an answer
 * without divergence (or with an error) decodes with diverging epoch -1, since a follower
 * that read a 0 there would truncate its log to offset 0. */
#include "quorum/rn_qmsg.h"
#include "quorum/rn_qlog.h"

#include "rn_alloc.h"
#include "rn_arena.h"
#include "rn_err.h"
#include "rn_messages.h"
#include "rn_proto.h"
#include "tap.h"

#include <string.h>

#define CLUSTER "qmsg-test-cluster"

/* Encode *in at version v to bytes and decode them into *out (arena): the wire step. The
 * decoder must consume exactly what the encoder wrote. */
#define WIRE(kind, v, in, out, arena)                                                              \
    do {                                                                                           \
        rn_proto_writer_t w_;                                                                      \
        rn_proto_writer_init(&w_);                                                                 \
        ok(kind##_encode(&w_, (v), (in)) == 0 && w_.err == 0, #kind " v%d encodes", (v));          \
        size_t n_ = rn_proto_writer_total(&w_);                                                    \
        uint8_t *b_ = rn_arena_alloc((arena), n_ + 1);                                             \
        long got_ = rn_proto_writer_copy(&w_, b_, n_ + 1);                                         \
        rn_proto_writer_free(&w_);                                                                 \
        rn_proto_reader_t r_;                                                                      \
        rn_proto_reader_init(&r_, b_, got_ > 0 ? (size_t)got_ : 0, (arena));                       \
        ok(kind##_decode(&r_, (v), (out)) == 0 && r_.rd.err == 0 && r_.rd.p == r_.rd.end,          \
           #kind " v%d decodes all %ld bytes", (v), got_);                                         \
    } while (0)

/* Field-by-field equality of two raft messages of the same type (the union's member for
 * that type only); prints the first difference. */
static bool msg_eq(const rn_raft_msg_t *a, const rn_raft_msg_t *b)
{
#define SAME(f)                                                                                    \
    if (a->f != b->f) {                                                                            \
        diag("  " #f ": got %lld, want %lld", (long long)a->f, (long long)b->f);                   \
        return false;                                                                              \
    }
    SAME(type);
    SAME(from);
    SAME(to);
    SAME(epoch);
    SAME(leader_id);
    SAME(error);
    SAME(corr);
    switch (a->type) {
    case RN_RAFT_VOTE_REQ:
        SAME(u.vote_req.last_offset);
        SAME(u.vote_req.last_offset_epoch);
        SAME(u.vote_req.pre_vote);
        break;
    case RN_RAFT_VOTE_RESP:
        SAME(u.vote_resp.granted);
        SAME(u.vote_resp.pre_vote);
        break;
    case RN_RAFT_END_EPOCH_REQ:
        SAME(u.end_epoch.n_successors);
        for (int i = 0; i < a->u.end_epoch.n_successors; i++)
            SAME(u.end_epoch.successors[i]);
        break;
    case RN_RAFT_FETCH_REQ:
        SAME(u.fetch_req.fetch_offset);
        SAME(u.fetch_req.last_fetched_epoch);
        break;
    case RN_RAFT_FETCH_RESP:
        SAME(u.fetch_resp.high_watermark);
        SAME(u.fetch_resp.diverging.epoch);
        SAME(u.fetch_resp.diverging.end_offset);
        SAME(u.fetch_resp.snapshot.end_offset);
        SAME(u.fetch_resp.snapshot.epoch);
        SAME(u.fetch_resp.base_offset);
        SAME(u.fetch_resp.n_records);
        for (int i = 0; i < a->u.fetch_resp.n_records; i++) {
            SAME(u.fetch_resp.records[i].offset);
            SAME(u.fetch_resp.records[i].epoch);
            SAME(u.fetch_resp.records[i].kind);
            SAME(u.fetch_resp.records[i].len);
            if (a->u.fetch_resp.records[i].len > 0 &&
                memcmp(a->u.fetch_resp.records[i].data, b->u.fetch_resp.records[i].data,
                       a->u.fetch_resp.records[i].len) != 0) {
                diag("  record %d: other bytes", i);
                return false;
            }
        }
        break;
    case RN_RAFT_FETCH_SNAPSHOT_REQ:
        SAME(u.snap_req.id.end_offset);
        SAME(u.snap_req.id.epoch);
        break;
    case RN_RAFT_FETCH_SNAPSHOT_RESP:
        SAME(u.snap_resp.id.end_offset);
        SAME(u.snap_resp.id.epoch);
        break;
    default: break;
    }
    return true;
#undef SAME
}

static rn_raft_msg_t base_msg(rn_raft_msg_type_t type)
{
    rn_raft_msg_t m;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.from = 2;
    m.to = 1;
    m.epoch = 7;
    m.leader_id = RN_RAFT_NONE;
    return m;
}

/* A request through encode, the wire and decode at node 1; the result must equal want. */
static void request_trip(const rn_raft_msg_t *msg, int16_t v, int64_t position,
                         const rn_raft_msg_t *want, const char *what)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_qmsg_request_t req, back;
    memset(&back, 0, sizeof(back));
    is(rn_qmsg_request_encode(msg, CLUSTER, v, position, &arena, &req), 0, "%s v%d: encode", what,
       v);
    switch (msg->type) {
    case RN_RAFT_VOTE_REQ: WIRE(rn_vote_request, v, &req.vote, &back.vote, &arena); break;
    case RN_RAFT_BEGIN_EPOCH_REQ:
        WIRE(rn_begin_quorum_epoch_request, v, &req.begin, &back.begin, &arena);
        break;
    case RN_RAFT_END_EPOCH_REQ:
        WIRE(rn_end_quorum_epoch_request, v, &req.end, &back.end, &arena);
        break;
    case RN_RAFT_FETCH_REQ: WIRE(rn_fetch_request, v, &req.fetch, &back.fetch, &arena); break;
    case RN_RAFT_FETCH_SNAPSHOT_REQ:
        WIRE(rn_fetch_snapshot_request, v, &req.snap, &back.snap, &arena);
        break;
    default: break;
    }
    rn_raft_msg_t got;
    int64_t pos = -1;
    is(rn_qmsg_request_decode(rn_qmsg_api_key(msg->type), v, &back, CLUSTER, 1, &got, &pos), 0,
       "%s v%d: decode", what, v);
    ok(msg_eq(&got, want), "%s v%d: the raft message comes back", what, v);
    if (msg->type == RN_RAFT_FETCH_SNAPSHOT_REQ)
        is(pos, position, "%s v%d: position", what, v);
    rn_arena_free(&arena);
}

static void test_requests(void)
{
    for (int16_t v = 0; v <= 2; v++) {
        rn_raft_msg_t m = base_msg(RN_RAFT_VOTE_REQ);
        m.u.vote_req.last_offset = 42;
        m.u.vote_req.last_offset_epoch = 6;
        m.u.vote_req.pre_vote = true;
        rn_raft_msg_t want = m;
        want.u.vote_req.pre_vote = v >= 2; /* PreVote is a v2 field */
        request_trip(&m, v, 0, &want, "Vote (pre-vote)");
        m.u.vote_req.pre_vote = false;
        request_trip(&m, v, 0, &m, "Vote");
    }
    for (int16_t v = 0; v <= 1; v++) {
        rn_raft_msg_t m = base_msg(RN_RAFT_BEGIN_EPOCH_REQ);
        m.leader_id = m.from; /* the sender is the leader it announces */
        request_trip(&m, v, 0, &m, "BeginQuorumEpoch");
        m = base_msg(RN_RAFT_END_EPOCH_REQ);
        m.leader_id = m.from;
        m.u.end_epoch.n_successors = 3;
        m.u.end_epoch.successors[0] = 3, m.u.end_epoch.successors[1] = 1;
        m.u.end_epoch.successors[2] = 4;
        request_trip(&m, v, 0, &m, "EndQuorumEpoch");
        m.u.end_epoch.n_successors = 0;
        request_trip(&m, v, 0, &m, "EndQuorumEpoch without successors");
        m = base_msg(RN_RAFT_FETCH_SNAPSHOT_REQ);
        m.leader_id = m.to; /* a request goes to the node the sender takes for leader */
        m.u.snap_req.id = (rn_raft_snapshot_id_t){1000, 5};
        request_trip(&m, v, 4096, &m, "FetchSnapshot");
    }
    /* LastFetchedEpoch and the diverging epoch are v12 fields: the quorum fetches at
     * v12-13 (quorum.c caps at 13). */
    for (int16_t v = 12; v <= 13; v++) {
        rn_raft_msg_t m = base_msg(RN_RAFT_FETCH_REQ);
        m.leader_id = m.to;
        m.u.fetch_req.fetch_offset = 123;
        m.u.fetch_req.last_fetched_epoch = 6;
        request_trip(&m, v, 0, &m, "Fetch");
    }
}

/* A response raft sent (from node 1 to node 2) through encode, the wire and decode as the
 * answer to sent; the result must equal want. *chunk gets FetchSnapshot's bytes. */
static void response_trip(const rn_raft_msg_t *msg, const rn_raft_msg_t *sent, int16_t v,
                          const uint8_t *records, size_t len, const rn_raft_msg_t *want,
                          const char *what)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_qmsg_response_t resp, back;
    memset(&back, 0, sizeof(back));
    int16_t key = rn_qmsg_api_key(msg->type);
    switch (key) {
    case RN_API_VOTE: rn_vote_response_init(&resp.vote); break;
    case RN_API_BEGIN_QUORUM_EPOCH: rn_begin_quorum_epoch_response_init(&resp.begin); break;
    case RN_API_END_QUORUM_EPOCH: rn_end_quorum_epoch_response_init(&resp.end); break;
    case RN_API_FETCH: rn_fetch_response_init(&resp.fetch); break;
    default: rn_fetch_snapshot_response_init(&resp.snap); break;
    }
    is(rn_qmsg_response_encode(msg, v, records, len, 8, (int64_t)len + 8, &arena, &resp), 0,
       "%s v%d: encode", what, v);
    switch (key) {
    case RN_API_VOTE: WIRE(rn_vote_response, v, &resp.vote, &back.vote, &arena); break;
    case RN_API_BEGIN_QUORUM_EPOCH:
        WIRE(rn_begin_quorum_epoch_response, v, &resp.begin, &back.begin, &arena);
        break;
    case RN_API_END_QUORUM_EPOCH:
        WIRE(rn_end_quorum_epoch_response, v, &resp.end, &back.end, &arena);
        break;
    case RN_API_FETCH: WIRE(rn_fetch_response, v, &resp.fetch, &back.fetch, &arena); break;
    default: WIRE(rn_fetch_snapshot_response, v, &resp.snap, &back.snap, &arena); break;
    }
    rn_raft_msg_t got;
    rn_records_t chunk;
    memset(&chunk, 0, sizeof(chunk));
    int64_t size = -1, position = -1;
    is(rn_qmsg_response_decode(key, v, &back, sent, &arena, &got, &chunk, &size, &position), 0,
       "%s v%d: decode", what, v);
    ok(msg_eq(&got, want), "%s v%d: the raft message comes back", what, v);
    if (key == RN_API_FETCH_SNAPSHOT)
        ok(chunk.len == (int32_t)len && memcmp(chunk.ptr, records, len) == 0 && position == 8 &&
               size == (int64_t)len + 8,
           "%s v%d: the chunk, its position and the snapshot's size", what, v);
    rn_arena_free(&arena);
}

/* The answer msg from node 1 to the request sent by node 2. */
static rn_raft_msg_t answer(rn_raft_msg_type_t type, const rn_raft_msg_t *sent)
{
    rn_raft_msg_t m = base_msg(type);
    m.from = sent->to;
    m.to = sent->from;
    m.corr = sent->corr;
    m.leader_id = 1;
    return m;
}

static void test_simple_responses(void)
{
    for (int16_t v = 0; v <= 2; v++) {
        for (int pre = 0; pre <= (v >= 2); pre++) {
            rn_raft_msg_t sent = base_msg(RN_RAFT_VOTE_REQ);
            sent.from = 2, sent.to = 1, sent.corr = 99, sent.u.vote_req.pre_vote = pre;
            rn_raft_msg_t m = answer(RN_RAFT_VOTE_RESP, &sent);
            m.leader_id = RN_RAFT_NONE;
            m.u.vote_resp.granted = true;
            m.u.vote_resp.pre_vote = pre;
            response_trip(&m, &sent, v, NULL, 0, &m,
                          pre ? "Vote answer (pre-vote)" : "Vote answer");
            m.u.vote_resp.granted = false;
            m.error = RN_RAFT_ERR_FENCED_LEADER_EPOCH;
            m.leader_id = 3;
            response_trip(&m, &sent, v, NULL, 0, &m, "Vote refusal");
        }
    }
    for (int16_t v = 0; v <= 1; v++) {
        rn_raft_msg_t sent = base_msg(RN_RAFT_BEGIN_EPOCH_REQ);
        sent.corr = 5;
        rn_raft_msg_t m = answer(RN_RAFT_BEGIN_EPOCH_RESP, &sent);
        response_trip(&m, &sent, v, NULL, 0, &m, "BeginQuorumEpoch answer");
        sent.type = RN_RAFT_END_EPOCH_REQ;
        m = answer(RN_RAFT_END_EPOCH_RESP, &sent);
        m.error = RN_RAFT_ERR_NOT_LEADER;
        response_trip(&m, &sent, v, NULL, 0, &m, "EndQuorumEpoch answer");
        sent.type = RN_RAFT_FETCH_SNAPSHOT_REQ;
        sent.u.snap_req.id = (rn_raft_snapshot_id_t){1000, 5};
        m = answer(RN_RAFT_FETCH_SNAPSHOT_RESP, &sent);
        m.u.snap_resp.id = sent.u.snap_req.id;
        static const uint8_t snap[] = "a chunk of the snapshot's bytes";
        response_trip(&m, &sent, v, snap, sizeof(snap), &m, "FetchSnapshot answer");
    }
}

static void test_fetch_responses(void)
{
    static const uint8_t a[] = "first", b[] = "second entry";
    const rn_raft_entry_t entries[] = {
        {100, 6, RN_RAFT_ENTRY_DATA, a, sizeof(a)},
        {101, 7, RN_RAFT_ENTRY_LEADER_CHANGE, b, sizeof(b)},
        {102, 7, RN_RAFT_ENTRY_DATA, NULL, 0},
    };
    uint8_t *records;
    size_t len;
    is(rn_qmsg_batches_encode(entries, 3, &records, &len), 0, "three entries as batches");
    for (int16_t v = 12; v <= 13; v++) {
        rn_raft_msg_t sent = base_msg(RN_RAFT_FETCH_REQ);
        sent.corr = 17;
        sent.u.fetch_req.fetch_offset = 100;
        sent.u.fetch_req.last_fetched_epoch = 6;
        rn_raft_msg_t m = answer(RN_RAFT_FETCH_RESP, &sent);
        m.u.fetch_resp.high_watermark = 101;
        m.u.fetch_resp.diverging = (rn_raft_snapshot_id_t){-1, -1};
        m.u.fetch_resp.snapshot = (rn_raft_snapshot_id_t){-1, -1};
        m.u.fetch_resp.base_offset = 100;
        m.u.fetch_resp.records = entries;
        m.u.fetch_resp.n_records = 3;
        response_trip(&m, &sent, v, records, len, &m, "Fetch answer with records");

        m.u.fetch_resp.records = NULL;
        m.u.fetch_resp.n_records = 0;
        response_trip(&m, &sent, v, NULL, 0, &m, "Fetch answer, nothing new (no divergence)");

        m.u.fetch_resp.diverging = (rn_raft_snapshot_id_t){90, 5};
        response_trip(&m, &sent, v, NULL, 0, &m, "Fetch answer with a diverging epoch");
        m.u.fetch_resp.diverging = (rn_raft_snapshot_id_t){0, 0};
        response_trip(&m, &sent, v, NULL, 0, &m, "Fetch answer diverging at epoch 0, offset 0");

        m.u.fetch_resp.diverging = (rn_raft_snapshot_id_t){-1, -1};
        m.u.fetch_resp.snapshot = (rn_raft_snapshot_id_t){5000, 6};
        response_trip(&m, &sent, v, NULL, 0, &m, "Fetch answer with a snapshot id");

        /* An error answer carries neither, whatever the message held. */
        rn_raft_msg_t e = m;
        e.error = RN_RAFT_ERR_FENCED_LEADER_EPOCH;
        e.u.fetch_resp.diverging = (rn_raft_snapshot_id_t){90, 5};
        rn_raft_msg_t want = e;
        want.u.fetch_resp.high_watermark = -1;
        want.u.fetch_resp.diverging = (rn_raft_snapshot_id_t){-1, -1};
        want.u.fetch_resp.snapshot = (rn_raft_snapshot_id_t){-1, -1};
        response_trip(&e, &sent, v, NULL, 0, &want, "Fetch error answer");
    }
    rn_free(records);

    /* A codec answer built with defaults only (as an older leader or a partial answer
     * leaves it) must not read as divergence either, at every Fetch version served. */
    for (int16_t v = 4; v <= 13; v++) {
        rn_arena_t arena;
        rn_arena_init(&arena, 0);
        rn_fetch_response_t resp, back;
        rn_fetch_response_init(&resp);
        rn_fetchable_topic_response_t *t =
            rn_fetchable_topic_response_array_alloc(&arena, &resp.responses, 1);
        rn_fetch_partition_data_t *p =
            rn_fetch_partition_data_array_alloc(&arena, &t->partitions, 1);
        if (v >= 13)
            t->topic_id = rn_qmsg_topic_id;
        else
            t->topic = (rn_str_t){RN_QLOG_TOPIC, (int32_t)strlen(RN_QLOG_TOPIC)};
        p->high_watermark = 10;
        memset(&back, 0, sizeof(back));
        WIRE(rn_fetch_response, v, &resp, &back, &arena);
        rn_raft_msg_t sent = base_msg(RN_RAFT_FETCH_REQ), got;
        sent.u.fetch_req.fetch_offset = 10;
        rn_records_t chunk;
        int64_t size, pos;
        is(rn_qmsg_response_decode(RN_API_FETCH, v, &back, &sent, &arena, &got, &chunk, &size,
                                   &pos),
           0, "Fetch v%d defaults: decode", v);
        ok(got.u.fetch_resp.diverging.epoch == -1 && got.u.fetch_resp.snapshot.end_offset == -1 &&
               got.u.fetch_resp.n_records == 0,
           "Fetch v%d defaults: no divergence (epoch %d), no snapshot", v,
           got.u.fetch_resp.diverging.epoch);
        rn_arena_free(&arena);
    }
}

/* Entries <-> batches: the batch builder and reader agree, and refuse what is not one. */
static void test_batches(void)
{
    static const uint8_t data[] = "payload";
    rn_raft_entry_t e = {55, 3, RN_RAFT_ENTRY_LEADER_CHANGE, data, sizeof(data)}, back;
    uint8_t *buf;
    size_t len;
    is(rn_qmsg_batch_build(&e, &buf, &len), 0, "a LeaderChange entry as a batch");
    is(rn_qmsg_batch_entry(buf, len, &back), 0, "read back");
    ok(back.offset == 55 && back.epoch == 3 && back.kind == RN_RAFT_ENTRY_LEADER_CHANGE &&
           back.len == sizeof(data) && memcmp(back.data, data, sizeof(data)) == 0,
       "offset, epoch, kind and bytes");
    is(rn_qmsg_batch_entry(buf, len - 1, &back), RN_ECORRUPT, "a cut batch is refused");
    buf[len - 1] ^= 1;
    is(rn_qmsg_batch_entry(buf, len, &back), RN_ECORRUPT, "a bad CRC is refused");
    rn_free(buf);
}

int main(void)
{
    test_requests();
    test_simple_responses();
    test_fetch_responses();
    test_batches();
    return done_testing();
}
