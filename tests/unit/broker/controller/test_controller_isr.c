/* Tests for rn_controller_alter_partition (AlterPartition 56) and controlled shutdown, on
 * an image fed with the controller's own records: every refusal Kafka makes, each from a
 * request valid in every other respect (so each fails if its check is removed), the order
 * of the checks where two apply, the record and answer of an accepted change (the answer
 * equals the image after apply), an unchanged ISR writing nothing, the image's epoch bumps,
 * leaders elected only from the ISR, and a controlled shutdown from WantShutDown to
 * ShouldShutDown and back through a restart. */
#include "controller/rn_controller.h"
#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_kerr.h"
#include "tap.h"

#include <string.h>

static uint64_t rng_state = 7;

static int fake_random(void *arg, void *buf, size_t len)
{
    (void)arg;
    uint8_t *p = buf;
    for (size_t i = 0; i < len; i++) {
        rng_state = rng_state * 6364136223846793005u + 1442695040888963407u;
        p[i] = (uint8_t)(rng_state >> 56);
    }
    return 0;
}

static int64_t fake_ms(void *arg)
{
    (void)arg;
    return 0;
}

static int64_t fake_ns(void *arg)
{
    (void)arg;
    return 0;
}

static int64_t next_offset;

typedef struct fixture {
    rn_arena_t arena;
    rn_mimage_t *img;
    rn_controller_t ctl;
    rn_mrecs_t out;
    const rn_mimage_topic_t *t;
    int32_t leader, f1, f2, other; /* the replicas (leader first) and a non-replica */
} fixture_t;

static int commit(rn_mimage_t *img, rn_mrecs_t *out)
{
    int bad = out->err;
    for (int i = 0; i < out->n; i++)
        if (rn_mimage_apply(img, next_offset++, out->data[i], out->lens[i]) != 0)
            bad++;
    rn_mrecs_free(out);
    return bad;
}

static int64_t epoch_of(const fixture_t *fx, int32_t id)
{
    const rn_mimage_broker_t *b = rn_mimage_broker(fx->img, id);
    return b != NULL ? b->epoch : -1;
}

static void heartbeat(fixture_t *fx, int32_t id, bool shut_down, rn_broker_heartbeat_response_t *r)
{
    rn_broker_heartbeat_request_t hb;
    rn_broker_heartbeat_request_init(&hb);
    hb.broker_id = id;
    hb.broker_epoch = epoch_of(fx, id);
    hb.current_metadata_offset = rn_mimage_offset(fx->img);
    hb.want_shut_down = shut_down;
    rn_broker_heartbeat_response_init(r);
    rn_controller_heartbeat(&fx->ctl, &hb, next_offset, 0, &fx->out, r);
    commit(fx->img, &fx->out);
}

static void register_broker(fixture_t *fx, int32_t id, uint8_t incarnation)
{
    rn_broker_registration_request_t req;
    rn_broker_registration_request_init(&req);
    req.broker_id = id;
    req.incarnation_id.bytes[15] = incarnation;
    rn_broker_registration_response_t resp;
    rn_broker_registration_response_init(&resp);
    rn_controller_register_broker(&fx->ctl, &req, next_offset, 0, &fx->out, &resp);
    commit(fx->img, &fx->out);
    rn_broker_heartbeat_response_t hr;
    heartbeat(fx, id, false, &hr);
}

static const rn_mimage_part_t *part0(const fixture_t *fx)
{
    return &fx->t->parts[0];
}

/* Four brokers, topic "t" with one partition on three of them. */
static void setup(fixture_t *fx)
{
    memset(fx, 0, sizeof(*fx));
    rn_arena_init(&fx->arena, 0);
    fx->img = rn_mimage_new();
    rn_controller_opts_t opts;
    rn_controller_opts_default(&opts);
    rn_controller_init(&fx->ctl, fx->img, &opts);
    rn_mrecs_init(&fx->out);
    next_offset = 0;
    rn_controller_activate(&fx->ctl, &fx->out);
    commit(fx->img, &fx->out);
    for (int32_t id = 1; id <= 4; id++)
        register_broker(fx, id, (uint8_t)id);
    rn_create_topics_request_t req;
    rn_create_topics_request_init(&req);
    rn_creatable_topic_t *ct = rn_creatable_topic_array_alloc(&fx->arena, &req.topics, 1);
    ct->name = (rn_str_t){"t", 1};
    ct->num_partitions = 1;
    ct->replication_factor = 3;
    rn_create_topics_response_t resp;
    rn_create_topics_response_init(&resp);
    rn_controller_create_topics(&fx->ctl, &req, 7, &fx->arena, &fx->out, &resp);
    commit(fx->img, &fx->out);
    fx->t = rn_mimage_topic(fx->img, "t", 1);
    const rn_mimage_part_t *p = part0(fx);
    fx->leader = p->leader;
    fx->f1 = p->replicas[0] == fx->leader ? p->replicas[1] : p->replicas[0];
    fx->f2 = p->replicas[2] == fx->leader ? p->replicas[1] : p->replicas[2];
    for (int32_t id = 1; id <= 4; id++)
        if (id != p->replicas[0] && id != p->replicas[1] && id != p->replicas[2])
            fx->other = id;
}

static void teardown(fixture_t *fx)
{
    rn_mrecs_free(&fx->out);
    rn_controller_free(&fx->ctl);
    rn_mimage_free(fx->img);
    rn_arena_free(&fx->arena);
}

/* A valid v3 request from the leader: its epoch, the partition's epochs, isr[n]. */
static rn_alter_partition_request_t *request(fixture_t *fx, const int32_t *isr, int32_t n)
{
    rn_alter_partition_request_t *req = rn_arena_alloc(&fx->arena, sizeof(*req));
    rn_alter_partition_request_init(req);
    req->broker_id = fx->leader;
    req->broker_epoch = epoch_of(fx, fx->leader);
    rn_alter_partition_req_topic_t *t =
        rn_alter_partition_req_topic_array_alloc(&fx->arena, &req->topics, 1);
    t->topic_id = fx->t->id;
    t->topic_name = (rn_str_t){"t", 1};
    rn_alter_partition_req_partition_t *p =
        rn_alter_partition_req_partition_array_alloc(&fx->arena, &t->partitions, 1);
    p->partition_index = 0;
    p->leader_epoch = part0(fx)->leader_epoch;
    p->partition_epoch = part0(fx)->partition_epoch;
    rn_alter_partition_broker_state_t *m =
        rn_alter_partition_broker_state_array_alloc(&fx->arena, &p->new_isr_with_epochs, n);
    int32_t *ids = rn_arena_alloc(&fx->arena, (size_t)(n > 0 ? n : 1) * sizeof(int32_t));
    for (int32_t i = 0; i < n; i++) {
        m[i].broker_id = isr[i];
        m[i].broker_epoch = epoch_of(fx, isr[i]);
        ids[i] = isr[i];
    }
    p->new_isr = (rn_int32_array_t){n, ids}; /* what v0-2 carry */
    return req;
}

static rn_alter_partition_req_partition_t *preq(rn_alter_partition_request_t *req)
{
    return &req->topics.items[0].partitions.items[0];
}

/* Decide; the partition's error (or the top-level one when set). Records stay in fx->out. */
static int16_t decide(fixture_t *fx, const rn_alter_partition_request_t *req, int16_t version,
                      rn_alter_partition_response_t *resp)
{
    rn_alter_partition_response_init(resp);
    rn_controller_alter_partition(&fx->ctl, req, version, &fx->arena, &fx->out, resp);
    if (resp->error_code != RN_KERR_NONE)
        return resp->error_code;
    if (resp->topics.count != 1 || resp->topics.items[0].partitions.count != 1)
        return -1;
    return resp->topics.items[0].partitions.items[0].error_code;
}

/* Decide a request that must be accepted: its code, its records dropped (not committed). */
static int16_t accepted(fixture_t *fx, const rn_alter_partition_request_t *req, int16_t version)
{
    rn_alter_partition_response_t resp;
    int16_t ec = decide(fx, req, version, &resp);
    int n = fx->out.n;
    rn_mrecs_free(&fx->out);
    return ec == RN_KERR_NONE && n != 1 ? -3 : ec;
}

/* Decide a request that must be refused: its code, and whether it wrote nothing. */
static int16_t refused(fixture_t *fx, const rn_alter_partition_request_t *req, int16_t version)
{
    rn_alter_partition_response_t resp;
    int16_t ec = decide(fx, req, version, &resp);
    if (fx->out.n != 0) {
        diag("a refused request wrote %d records", fx->out.n);
        rn_mrecs_free(&fx->out);
        return -2;
    }
    return ec;
}

static void test_refusals(void)
{
    fixture_t fx;
    setup(&fx);
    int32_t shrink[2] = {fx.leader, fx.f1};
    rn_alter_partition_request_t *req;
    rn_alter_partition_response_t resp;

    is(accepted(&fx, request(&fx, shrink, 2), 3), RN_KERR_NONE, "the base request is valid");

    req = request(&fx, shrink, 2);
    req->broker_epoch++;
    is(refused(&fx, req, 3), RN_KERR_STALE_BROKER_EPOCH,
       "another broker epoch: STALE_BROKER_EPOCH");
    decide(&fx, req, 3, &resp);
    is(resp.topics.count, 0, "a stale broker epoch answers no partitions");
    req = request(&fx, shrink, 2);
    req->broker_id = 99;
    is(refused(&fx, req, 3), RN_KERR_STALE_BROKER_EPOCH, "an unregistered requester: stale");

    req = request(&fx, shrink, 2);
    req->topics.items[0].topic_id.bytes[0] ^= 0xff;
    is(refused(&fx, req, 3), RN_KERR_UNKNOWN_TOPIC_ID, "unknown topic id: UNKNOWN_TOPIC_ID");
    req = request(&fx, shrink, 2);
    memset(&req->topics.items[0].topic_id, 0, sizeof(rn_uuid_t));
    is(refused(&fx, req, 2), RN_KERR_UNKNOWN_TOPIC_ID, "zero topic id (v2): UNKNOWN_TOPIC_ID");
    req = request(&fx, shrink, 2);
    req->topics.items[0].topic_name = (rn_str_t){"u", 1};
    is(refused(&fx, req, 1), RN_KERR_UNKNOWN_TOPIC_OR_PARTITION,
       "unknown topic name (v1): UNKNOWN_TOPIC_OR_PARTITION");
    req = request(&fx, shrink, 2);
    memset(&req->topics.items[0].topic_id, 0, sizeof(rn_uuid_t));
    is(accepted(&fx, req, 1), RN_KERR_NONE, "v1 finds the topic by name, not id");
    req = request(&fx, shrink, 2);
    preq(req)->partition_index = 1;
    is(refused(&fx, req, 3), RN_KERR_UNKNOWN_TOPIC_OR_PARTITION,
       "unknown partition: UNKNOWN_TOPIC_OR_PARTITION");

    req = request(&fx, shrink, 2);
    preq(req)->leader_epoch++;
    is(refused(&fx, req, 3), RN_KERR_NOT_CONTROLLER, "leader epoch above: NOT_CONTROLLER");
    req = request(&fx, shrink, 2);
    preq(req)->partition_epoch++;
    is(refused(&fx, req, 3), RN_KERR_NOT_CONTROLLER, "partition epoch above: NOT_CONTROLLER");

    /* Move the epochs on: a leader change (leader epoch 1, partition epoch 1) and an ISR
     * change by the new leader (partition epoch 2), so that lower epochs exist. */
    int32_t old_leader = fx.leader;
    int32_t all[3] = {fx.leader, fx.f1, fx.f2};
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_PARTITION_CHANGE_RECORD);
    rec.body.partition_change.topic_id = fx.t->id;
    rec.body.partition_change.partition_id = 0;
    rec.body.partition_change.leader = fx.f1;
    rn_mrecs_add(&fx.out, &rec);
    commit(fx.img, &fx.out);
    is(part0(&fx)->leader_epoch, 1, "a new leader bumps the leader epoch");
    is(part0(&fx)->partition_epoch, 1, "and the partition epoch");
    fx.leader = fx.f1;
    fx.f1 = old_leader;
    int32_t two[2] = {fx.leader, fx.f2};
    ok(decide(&fx, request(&fx, two, 2), 3, &resp) == RN_KERR_NONE && fx.out.n == 1,
       "the new leader shrinks the ISR");
    commit(fx.img, &fx.out);
    is(part0(&fx)->leader_epoch, 1, "an ISR change keeps the leader epoch");
    is(part0(&fx)->partition_epoch, 2, "and bumps the partition epoch");
    int32_t shrink2[2] = {fx.leader, fx.f2};

    req = request(&fx, shrink2, 2);
    preq(req)->leader_epoch--;
    is(refused(&fx, req, 3), RN_KERR_FENCED_LEADER_EPOCH,
       "leader epoch below: FENCED_LEADER_EPOCH");
    req = request(&fx, shrink2, 2);
    preq(req)->leader_epoch--;
    req->broker_id = old_leader;
    req->broker_epoch = epoch_of(&fx, old_leader);
    is(refused(&fx, req, 3), RN_KERR_FENCED_LEADER_EPOCH,
       "the deposed leader with its old epoch: FENCED_LEADER_EPOCH before INVALID_REQUEST");

    req = request(&fx, shrink2, 2);
    req->broker_id = old_leader;
    req->broker_epoch = epoch_of(&fx, old_leader);
    is(refused(&fx, req, 3), RN_KERR_INVALID_REQUEST, "requester not the leader: INVALID_REQUEST");

    req = request(&fx, shrink2, 2);
    preq(req)->partition_epoch--;
    is(refused(&fx, req, 3), RN_KERR_INVALID_UPDATE_VERSION,
       "partition epoch below: INVALID_UPDATE_VERSION");
    int32_t outside[2] = {fx.leader, fx.other};
    req = request(&fx, outside, 2);
    preq(req)->partition_epoch--;
    is(refused(&fx, req, 3), RN_KERR_INVALID_UPDATE_VERSION,
       "stale partition epoch checked before the ISR's validity");

    is(refused(&fx, request(&fx, outside, 2), 3), RN_KERR_INVALID_REQUEST,
       "a member outside the replicas: INVALID_REQUEST");
    int32_t twice[3] = {fx.leader, fx.f2, fx.f2};
    is(refused(&fx, request(&fx, twice, 3), 3), RN_KERR_INVALID_REQUEST,
       "a member twice: INVALID_REQUEST");
    int32_t no_leader[2] = {fx.f1, fx.f2};
    is(refused(&fx, request(&fx, no_leader, 2), 3), RN_KERR_INVALID_REQUEST,
       "an ISR without the leader: INVALID_REQUEST");
    is(refused(&fx, request(&fx, NULL, 0), 3), RN_KERR_INVALID_REQUEST,
       "an empty ISR: INVALID_REQUEST");
    req = request(&fx, all, 3);
    preq(req)->leader_recovery_state = 1;
    is(refused(&fx, req, 3), RN_KERR_INVALID_REQUEST,
       "back to RECOVERING with three members: INVALID_REQUEST");
    req = request(&fx, &fx.leader, 1);
    preq(req)->leader_recovery_state = 1;
    is(refused(&fx, req, 3), RN_KERR_INVALID_REQUEST, "RECOVERED to RECOVERING: INVALID_REQUEST");
    /* A partition recovering from an unclean election (KIP-704). */
    rn_mrec_init(&rec, RN_MREC_PARTITION_CHANGE_RECORD);
    rec.body.partition_change.topic_id = fx.t->id;
    rec.body.partition_change.partition_id = 0;
    rec.body.partition_change.leader_recovery_state = 1;
    rn_mrecs_add(&fx.out, &rec);
    commit(fx.img, &fx.out);
    int32_t pair[2] = {fx.leader, fx.f2};
    req = request(&fx, pair, 2);
    preq(req)->leader_recovery_state = 1;
    is(refused(&fx, req, 3), RN_KERR_INVALID_REQUEST,
       "still RECOVERING with two members: INVALID_REQUEST");
    req = request(&fx, pair, 2);
    is(accepted(&fx, req, 3), RN_KERR_NONE, "RECOVERED with two members: accepted");
    req = request(&fx, &fx.leader, 1);
    preq(req)->leader_recovery_state = 1;
    is(accepted(&fx, req, 3), RN_KERR_NONE, "RECOVERING alone: accepted");
    ok(decide(&fx, request(&fx, pair, 2), 3, &resp) == RN_KERR_NONE && fx.out.n == 1,
       "the same ISR, RECOVERED: one record");
    commit(fx.img, &fx.out);
    is(part0(&fx)->leader_recovery_state, 0, "the partition is recovered");

    /* Eligibility of the members (the expansion back to three). */
    req = request(&fx, all, 3);
    preq(req)->new_isr_with_epochs.items[1].broker_epoch = 12345;
    is(refused(&fx, req, 3), RN_KERR_INELIGIBLE_REPLICA,
       "a member named with another broker epoch (v3): INELIGIBLE_REPLICA");
    req = request(&fx, all, 3);
    preq(req)->new_isr_with_epochs.items[1].broker_epoch = -1;
    is(accepted(&fx, req, 3), RN_KERR_NONE, "broker epoch -1: not checked");
    req = request(&fx, all, 3);
    preq(req)->new_isr_with_epochs.items[1].broker_epoch = 12345;
    is(accepted(&fx, req, 2), RN_KERR_NONE, "v2 carries no member epochs");

    /* f1 in controlled shutdown, then fenced, then unregistered. */
    rn_mrec_init(&rec, RN_MREC_BROKER_REGISTRATION_CHANGE_RECORD);
    rec.body.broker_registration_change.broker_id = fx.f1;
    rec.body.broker_registration_change.broker_epoch = epoch_of(&fx, fx.f1);
    rec.body.broker_registration_change.in_controlled_shutdown = 1;
    rn_mrecs_add(&fx.out, &rec);
    commit(fx.img, &fx.out);
    is(refused(&fx, request(&fx, all, 3), 3), RN_KERR_INELIGIBLE_REPLICA,
       "a member shutting down: INELIGIBLE_REPLICA");
    is(refused(&fx, request(&fx, all, 3), 1), RN_KERR_OPERATION_NOT_ATTEMPTED,
       "v1: OPERATION_NOT_ATTEMPTED");
    rn_mrec_init(&rec, RN_MREC_BROKER_REGISTRATION_CHANGE_RECORD);
    rec.body.broker_registration_change.broker_id = fx.f1;
    rec.body.broker_registration_change.broker_epoch = epoch_of(&fx, fx.f1);
    rec.body.broker_registration_change.in_controlled_shutdown = 0;
    rec.body.broker_registration_change.fenced = 1;
    rn_mrecs_add(&fx.out, &rec);
    commit(fx.img, &fx.out);
    ok(rn_mimage_broker(fx.img, fx.f1)->fenced, "f1 fenced");
    rn_mimage_broker_t *f1 = (rn_mimage_broker_t *)rn_mimage_broker(fx.img, fx.f1);
    f1->in_controlled_shutdown = false; /* fenced alone must be enough */
    is(refused(&fx, request(&fx, all, 3), 3), RN_KERR_INELIGIBLE_REPLICA,
       "a fenced member: INELIGIBLE_REPLICA");
    rn_mrec_init(&rec, RN_MREC_UNREGISTER_BROKER_RECORD);
    rec.body.unregister_broker.broker_id = fx.f1;
    rec.body.unregister_broker.broker_epoch = epoch_of(&fx, fx.f1);
    rn_mrecs_add(&fx.out, &rec);
    commit(fx.img, &fx.out);
    ok(rn_mimage_broker(fx.img, fx.f1) == NULL, "f1 unregistered");
    req = request(&fx, all, 3);
    preq(req)->new_isr_with_epochs.items[1].broker_epoch = -1;
    is(refused(&fx, req, 3), RN_KERR_INELIGIBLE_REPLICA,
       "an unregistered member: INELIGIBLE_REPLICA");
    teardown(&fx);
}

static void test_accepted(void)
{
    fixture_t fx;
    setup(&fx);
    rn_alter_partition_response_t resp;
    int32_t shrink[2] = {fx.leader, fx.f2};
    int32_t le = part0(&fx)->leader_epoch, pe = part0(&fx)->partition_epoch;
    is(decide(&fx, request(&fx, shrink, 2), 3, &resp), RN_KERR_NONE, "shrink accepted");
    is(fx.out.n, 1, "one record");
    rn_mrec_t rec;
    ok(fx.out.n == 1 && rn_mrec_decode(fx.out.data[0], fx.out.lens[0], &fx.arena, &rec) == 0 &&
           rec.type == RN_MREC_PARTITION_CHANGE_RECORD,
       "a PartitionChangeRecord");
    const rn_partition_change_record_t *c = &rec.body.partition_change;
    is(c->leader, -2, "leader unchanged (-2)");
    ok(c->isr.count == 2 && c->isr.items[0] == fx.leader && c->isr.items[1] == fx.f2,
       "with the new ISR");
    ok(c->replicas.count < 0, "replicas unchanged");
    commit(fx.img, &fx.out);
    const rn_alter_partition_resp_partition_t *rp = &resp.topics.items[0].partitions.items[0];
    const rn_mimage_part_t *p = part0(&fx);
    is(p->n_isr, 2, "the image has the new ISR");
    is(p->leader, fx.leader, "the same leader");
    is(p->leader_epoch, le, "the same leader epoch");
    is(p->partition_epoch, pe + 1, "partition epoch + 1");
    is(rp->leader_id, p->leader, "answer: leader as applied");
    is(rp->leader_epoch, p->leader_epoch, "answer: leader epoch as applied");
    is(rp->partition_epoch, p->partition_epoch, "answer: partition epoch as applied");
    ok(rp->isr.count == p->n_isr && memcmp(rp->isr.items, p->isr, 2 * sizeof(int32_t)) == 0,
       "answer: ISR as applied");
    ok(memcmp(&resp.topics.items[0].topic_id, &fx.t->id, sizeof(rn_uuid_t)) == 0,
       "answer names the topic id");

    /* The same ISR again (another order): nothing written, the current state answered. */
    int32_t same[2] = {fx.f2, fx.leader};
    is(decide(&fx, request(&fx, same, 2), 3, &resp), RN_KERR_NONE, "an unchanged ISR: NONE");
    is(fx.out.n, 0, "and no record");
    rp = &resp.topics.items[0].partitions.items[0];
    is(rp->partition_epoch, p->partition_epoch, "answers the current partition epoch");
    is(rp->isr.count, 2, "and the current ISR");

    /* The old partition epoch is now refused: a leader must use the answer's. */
    rn_alter_partition_request_t *req = request(&fx, shrink, 2);
    preq(req)->partition_epoch = pe;
    is(refused(&fx, req, 3), RN_KERR_INVALID_UPDATE_VERSION, "the previous partition epoch: stale");

    /* Expansion under v0 (names, plain ids). */
    int32_t all[3] = {fx.leader, fx.f1, fx.f2};
    req = request(&fx, all, 3);
    memset(&req->topics.items[0].topic_id, 0, sizeof(rn_uuid_t));
    is(decide(&fx, req, 0, &resp), RN_KERR_NONE, "v0 expansion by topic name accepted");
    commit(fx.img, &fx.out);
    is(part0(&fx)->n_isr, 3, "ISR back to three");
    teardown(&fx);
}

/* Leader only from the ISR: with the ISR shrunk to the leader, fencing it leaves the
 * partition leaderless (its last member stays) instead of electing an out-of-sync replica. */
static void test_clean_election(void)
{
    fixture_t fx;
    setup(&fx);
    rn_alter_partition_response_t resp;
    decide(&fx, request(&fx, &fx.leader, 1), 3, &resp);
    commit(fx.img, &fx.out);
    is(part0(&fx)->n_isr, 1, "ISR shrunk to the leader");
    int32_t leader = fx.leader;
    rn_controller_fence(&fx.ctl, leader, &fx.out);
    commit(fx.img, &fx.out);
    is(part0(&fx)->leader, -1, "fencing the only ISR member: no leader");
    ok(part0(&fx)->n_isr == 1 && part0(&fx)->isr[0] == leader, "the ISR keeps its last member");
    int32_t pe = part0(&fx)->partition_epoch;
    rn_controller_fence(&fx.ctl, fx.f1, &fx.out);
    commit(fx.img, &fx.out);
    is(part0(&fx)->partition_epoch, pe, "fencing a non-member changes nothing there");
    teardown(&fx);
}

/* The next leader is an active ISR member: one shutting down (its records not yet written
 * for this partition) is passed over even when it comes first in the assignment. */
static void test_active_successor(void)
{
    fixture_t fx;
    setup(&fx);
    const rn_mimage_part_t *p = part0(&fx);
    int32_t first = -1, second = -1;
    for (int32_t i = 0; i < p->n_replicas; i++) {
        if (p->replicas[i] == fx.leader)
            continue;
        if (first < 0)
            first = p->replicas[i];
        else
            second = p->replicas[i];
    }
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_BROKER_REGISTRATION_CHANGE_RECORD);
    rec.body.broker_registration_change.broker_id = first;
    rec.body.broker_registration_change.broker_epoch = epoch_of(&fx, first);
    rec.body.broker_registration_change.in_controlled_shutdown = 1;
    rn_mrecs_add(&fx.out, &rec);
    commit(fx.img, &fx.out);
    rn_controller_fence(&fx.ctl, fx.leader, &fx.out);
    commit(fx.img, &fx.out);
    is(part0(&fx)->leader, second, "the leader's successor skips a member shutting down");
    teardown(&fx);
}

static bool isr_has(const rn_mimage_part_t *p, int32_t id)
{
    for (int32_t i = 0; i < p->n_isr; i++)
        if (p->isr[i] == id)
            return true;
    return false;
}

static void test_controlled_shutdown(void)
{
    fixture_t fx;
    setup(&fx);
    int32_t leader = fx.leader;
    int32_t le = part0(&fx)->leader_epoch;
    rn_broker_heartbeat_response_t hr;
    heartbeat(&fx, leader, true, &hr);
    ok(!hr.should_shut_down, "WantShutDown: not at once");
    const rn_mimage_broker_t *b = rn_mimage_broker(fx.img, leader);
    ok(b->in_controlled_shutdown && !b->fenced, "in controlled shutdown, not yet fenced");
    ok(part0(&fx)->leader != leader && part0(&fx)->leader != -1, "its leadership moved");
    ok(part0(&fx)->leader == fx.f1 || part0(&fx)->leader == fx.f2, "to an ISR member");
    is(part0(&fx)->leader_epoch, le + 1, "with a new leader epoch");
    ok(!isr_has(part0(&fx), leader), "it left the ISR");
    ok(!rn_mimage_broker_active(fx.img, leader), "no longer active (no new leaderships)");

    heartbeat(&fx, leader, true, &hr);
    ok(!hr.should_shut_down, "others have not reported applying it: wait");
    for (int32_t id = 1; id <= 4; id++)
        if (id != leader && id != fx.other)
            heartbeat(&fx, id, false, &hr);
    heartbeat(&fx, leader, true, &hr);
    ok(!hr.should_shut_down, "one active broker still has not reported");
    heartbeat(&fx, fx.other, false, &hr);
    heartbeat(&fx, leader, true, &hr);
    ok(hr.should_shut_down, "every other broker applied it: ShouldShutDown");
    ok(hr.is_fenced && rn_mimage_broker(fx.img, leader)->fenced, "and it is fenced");

    /* The last ISR member shutting down: the partition goes leaderless, the member stays,
     * and the fencing at the end does not touch the partition again. */
    fixture_t fx2;
    setup(&fx2);
    rn_alter_partition_response_t resp;
    decide(&fx2, request(&fx2, &fx2.leader, 1), 3, &resp);
    commit(fx2.img, &fx2.out);
    heartbeat(&fx2, fx2.leader, true, &hr);
    is(part0(&fx2)->leader, -1, "sole ISR member leaving: no leader");
    ok(isr_has(part0(&fx2), fx2.leader), "it stays the last ISR member");
    int32_t pe = part0(&fx2)->partition_epoch;
    for (int32_t id = 1; id <= 4; id++)
        if (id != fx2.leader)
            heartbeat(&fx2, id, false, &hr);
    heartbeat(&fx2, fx2.leader, true, &hr);
    ok(hr.should_shut_down, "then ShouldShutDown");
    is(part0(&fx2)->partition_epoch, pe, "and its fencing writes no change for the partition");
    /* A node that stopped without the go-ahead comes back while its session lives. */
    heartbeat(&fx2, fx2.f1, true, &hr);
    ok(rn_mimage_broker(fx2.img, fx2.f1)->in_controlled_shutdown, "f1 in controlled shutdown");
    rn_broker_registration_request_t rr;
    rn_broker_registration_request_init(&rr);
    rr.broker_id = fx2.f1;
    rr.incarnation_id.bytes[15] = 0x56;
    rn_broker_registration_response_t rresp;
    rn_broker_registration_response_init(&rresp);
    rn_controller_register_broker(&fx2.ctl, &rr, next_offset, 0, &fx2.out, &rresp);
    is(rresp.error_code, RN_KERR_NONE, "its restart registers at once (no duplicate refusal)");
    teardown(&fx2);

    /* The restarted node: a new incarnation registers at once and is unfenced. */
    register_broker(&fx, leader, 0x77);
    b = rn_mimage_broker(fx.img, leader);
    ok(b != NULL && !b->fenced && !b->in_controlled_shutdown, "restarted: registered, unfenced");
    ok(rn_mimage_broker_active(fx.img, leader), "and active again");
    teardown(&fx);
}

int main(void)
{
    rn_clock_ops_t ops = {fake_ms, fake_ns, fake_random, NULL};
    rn_clock_install(&ops);
    test_refusals();
    test_accepted();
    test_clean_election();
    test_active_successor();
    test_controlled_shutdown();
    rn_clock_install(NULL);
    return done_testing();
}
