/* Tests for rn_mimage and rn_controller together: the controller's records are applied to
 * the image as the quorum would commit them. Registration and epochs, placement properties
 * (distinct replicas, leaders spread, RF above the active brokers refused), transactions
 * and aborts, deletes, fencing with leader movement and unfencing, producer id blocks,
 * snapshot round trip, and determinism under an installed clock. */
#include "controller/rn_controller.h"
#include "rn_alloc.h"
#include "rn_clock.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "tap.h"

#include <string.h>

static uint64_t rng_state;

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

/* Commit: apply every entry of out at consecutive offsets, then empty it. */
static int commit(rn_mimage_t *img, rn_mrecs_t *out)
{
    int bad = out->err;
    for (int i = 0; i < out->n; i++)
        if (rn_mimage_apply(img, next_offset++, out->data[i], out->lens[i]) != 0)
            bad++;
    rn_mrecs_free(out);
    return bad;
}

static void register_broker(rn_controller_t *ctl, rn_mimage_t *img, int32_t id, const char *rack)
{
    rn_broker_registration_request_t req;
    rn_broker_registration_request_init(&req);
    req.broker_id = id;
    req.incarnation_id.bytes[15] = (uint8_t)id;
    req.rack = rack ? (rn_str_t){rack, (int32_t)strlen(rack)} : RN_STR_NULL;
    rn_broker_registration_response_t resp;
    rn_broker_registration_response_init(&resp);
    rn_mrecs_t out;
    rn_mrecs_init(&out);
    rn_controller_register_broker(ctl, &req, next_offset, 0, &out, &resp);
    int64_t epoch = resp.broker_epoch;
    commit(img, &out);
    /* caught up and wanting in: unfenced */
    rn_broker_heartbeat_request_t hb;
    rn_broker_heartbeat_request_init(&hb);
    hb.broker_id = id;
    hb.broker_epoch = epoch;
    hb.current_metadata_offset = next_offset;
    rn_broker_heartbeat_response_t hresp;
    rn_broker_heartbeat_response_init(&hresp);
    rn_controller_heartbeat(ctl, &hb, next_offset, 0, &out, &hresp);
    commit(img, &out);
}

static int16_t create(rn_controller_t *ctl, rn_mimage_t *img, const char *name, int32_t parts,
                      int16_t rf, rn_arena_t *arena)
{
    rn_create_topics_request_t req;
    rn_create_topics_request_init(&req);
    rn_creatable_topic_t *t = rn_creatable_topic_array_alloc(arena, &req.topics, 1);
    t->name = (rn_str_t){name, (int32_t)strlen(name)};
    t->num_partitions = parts;
    t->replication_factor = rf;
    rn_create_topics_response_t resp;
    rn_create_topics_response_init(&resp);
    rn_mrecs_t out;
    rn_mrecs_init(&out);
    rn_controller_create_topics(ctl, &req, 7, arena, &out, &resp);
    commit(img, &out);
    return resp.topics.items[0].error_code;
}

static void test_cluster(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_mimage_t *img = rn_mimage_new();
    rn_controller_opts_t opts;
    rn_controller_opts_default(&opts);
    rn_controller_t ctl;
    rn_controller_init(&ctl, img, &opts);
    rn_mrecs_t out;
    rn_mrecs_init(&out);
    rn_controller_activate(&ctl, &out);
    commit(img, &out);
    is(rn_mimage_feature(img, "metadata.version"), 7, "activation bootstraps metadata.version");

    for (int32_t id = 1; id <= 3; id++)
        register_broker(&ctl, img, id, id == 3 ? "b" : "a");
    is((int)rn_mimage_broker_count(img), 3, "three brokers registered");
    const rn_mimage_broker_t *b2 = rn_mimage_broker(img, 2);
    ok(b2 != NULL && !b2->fenced, "broker 2 unfenced after a caught-up heartbeat");
    is(b2->epoch, 3, "broker epoch = the offset of its RegisterBrokerRecord");

    is(create(&ctl, img, "t4", 4, 4, &arena), RN_KERR_INVALID_REPLICATION_FACTOR,
       "RF 4 on 3 brokers refused");
    is(create(&ctl, img, "bad", 0, 1, &arena), RN_KERR_INVALID_PARTITIONS, "0 partitions");
    is(create(&ctl, img, "orders", 30, 3, &arena), RN_KERR_NONE, "orders created");
    is(create(&ctl, img, "orders", 1, 1, &arena), RN_KERR_TOPIC_ALREADY_EXISTS, "exists");
    is(create(&ctl, img, "ord_ers", 1, 1, &arena), RN_KERR_NONE, "ord_ers created");
    is(create(&ctl, img, "ord.ers", 1, 1, &arena), RN_KERR_INVALID_TOPIC_EXCEPTION,
       "'.'/'_' collision refused");
    ok(!rn_mimage_in_transaction(img), "transactions closed");

    const rn_mimage_topic_t *t = rn_mimage_topic(img, "orders", 6);
    ok(t != NULL && t->n_parts == 30, "30 partitions in the image");
    int lead[4] = {0}, distinct = 1;
    for (int32_t p = 0; t && p < t->n_parts; p++) {
        const rn_mimage_part_t *part = &t->parts[p];
        lead[part->leader]++;
        distinct &= part->n_replicas == 3 && part->replicas[0] != part->replicas[1] &&
                    part->replicas[1] != part->replicas[2] &&
                    part->replicas[0] != part->replicas[2];
    }
    ok(distinct, "each partition's replicas distinct");
    ok(lead[1] == 10 && lead[2] == 10 && lead[3] == 10, "leaders spread evenly: %d %d %d", lead[1],
       lead[2], lead[3]);

    /* Fence broker 1 (no heartbeat for the session timeout): its leaderships move. */
    rn_controller_heartbeat(&ctl,
                            &(rn_broker_heartbeat_request_t){
                                .broker_id = 2, .broker_epoch = 3, .current_metadata_offset = 999},
                            next_offset, 8000, &out, &(rn_broker_heartbeat_response_t){0});
    rn_controller_heartbeat(
        &ctl,
        &(rn_broker_heartbeat_request_t){.broker_id = 3,
                                         .broker_epoch = rn_mimage_broker(img, 3)->epoch,
                                         .current_metadata_offset = 999},
        next_offset, 8000, &out, &(rn_broker_heartbeat_response_t){0});
    commit(img, &out);
    /* Leadership lost and regained: sessions start afresh, the session timeout stays. */
    rn_controller_t again = ctl;
    again.sessions = NULL;
    again.n_sessions = again.sessions_cap = 0;
    rn_controller_reset_sessions(&again);
    is(again.opts.session_timeout_ms, ctl.opts.session_timeout_ms,
       "a reset keeps broker.session.timeout.ms");
    is(rn_controller_check_sessions(&again, 20000, &out), -1, "a reset gives every broker a grace");
    is(rn_controller_check_sessions(&again, 28999, &out), -1, "... of a full session");
    rn_controller_free(&again);
    is(rn_controller_check_sessions(&ctl, 5000, &out), -1, "all sessions alive at 5 s");
    is(rn_controller_check_sessions(&ctl, 9500, &out), 1, "broker 1 expires at 9.5 s");
    ok(out.n > 2 && out.data[0][1] == RN_MREC_BEGIN_TRANSACTION_RECORD,
       "fencing is one transaction");
    is(commit(img, &out), 0, "fencing records apply");
    ok(rn_mimage_broker(img, 1)->fenced, "broker 1 fenced");
    int moved = 1, epochs = 1;
    for (int32_t p = 0; p < t->n_parts; p++) {
        const rn_mimage_part_t *part = &t->parts[p];
        moved &= part->leader != 1 && part->leader != -1;
        for (int32_t j = 0; j < part->n_isr; j++)
            moved &= part->isr[j] != 1;
        if (part->replicas[0] == 1)
            epochs &= part->leader_epoch == 1 && part->partition_epoch == 1;
    }
    ok(moved, "no partition led by or in sync with broker 1");
    ok(epochs, "moved leaders: leader epoch and partition epoch 1");

    /* Producer ids: blocks of 1000 from the image's mark. */
    rn_allocate_producer_ids_response_t pr;
    rn_allocate_producer_ids_response_init(&pr);
    rn_controller_allocate_producer_ids(
        &ctl, &(rn_allocate_producer_ids_request_t){.broker_id = 2, .broker_epoch = 3}, &out, &pr);
    commit(img, &out);
    rn_controller_allocate_producer_ids(
        &ctl, &(rn_allocate_producer_ids_request_t){.broker_id = 2, .broker_epoch = 3}, &out, &pr);
    commit(img, &out);
    ok(pr.producer_id_start == 1000 && pr.producer_id_len == 1000, "second block starts at 1000");
    is(rn_mimage_next_producer_id(img), 2000, "mark at 2000");
    rn_controller_allocate_producer_ids(
        &ctl, &(rn_allocate_producer_ids_request_t){.broker_id = 2, .broker_epoch = 1}, &out, &pr);
    is(pr.error_code, RN_KERR_STALE_BROKER_EPOCH, "stale epoch refused");
    rn_allocate_producer_ids_response_init(&pr);
    rn_controller_allocate_producer_ids(
        &ctl, &(rn_allocate_producer_ids_request_t){.broker_id = 9, .broker_epoch = 3}, &out, &pr);
    is(pr.error_code, RN_KERR_BROKER_ID_NOT_REGISTERED, "unknown broker refused");
    /* A pre-cluster mark above the image's is the start of the next block, once. */
    ctl.opts.producer_id_floor = 5500;
    rn_allocate_producer_ids_response_init(&pr);
    rn_controller_allocate_producer_ids(
        &ctl, &(rn_allocate_producer_ids_request_t){.broker_id = 2, .broker_epoch = 3}, &out, &pr);
    commit(img, &out);
    is(pr.producer_id_start, 5500, "the floor imported as the block's start");
    is(rn_mimage_next_producer_id(img), 6500, "mark past the floor");
    rn_controller_allocate_producer_ids(
        &ctl, &(rn_allocate_producer_ids_request_t){.broker_id = 2, .broker_epoch = 3}, &out, &pr);
    commit(img, &out);
    is(pr.producer_id_start, 6500, "later blocks follow the image");

    /* Snapshot round trip: same records out of the reloaded image. */
    uint8_t *snap = NULL, *snap2 = NULL;
    size_t len = 0, len2 = 0;
    is(rn_mimage_snapshot_write(img, &snap, &len), 0, "snapshot written");
    rn_mimage_t *copy = rn_mimage_new();
    is(rn_mimage_snapshot_load(copy, 77, snap, len), 0, "snapshot loaded");
    rn_mimage_snapshot_write(copy, &snap2, &len2);
    ok(len == len2 && memcmp(snap, snap2, len) == 0, "snapshot round trip");
    is(rn_mimage_offset(copy), 77, "loaded at its offset");
    rn_free(snap);
    rn_free(snap2);
    rn_mimage_free(copy);

    /* Delete. */
    rn_delete_topics_request_t dreq;
    rn_delete_topics_request_init(&dreq);
    rn_str_t names[] = {{"orders", 6}, {"nope", 4}};
    dreq.topic_names = (rn_str_array_t){2, names};
    rn_delete_topics_response_t dresp;
    rn_delete_topics_response_init(&dresp);
    rn_controller_delete_topics(&ctl, &dreq, 5, &arena, &out, &dresp);
    commit(img, &out);
    ok(rn_mimage_topic(img, "orders", 6) == NULL, "orders deleted");
    is(dresp.responses.items[1].error_code, RN_KERR_UNKNOWN_TOPIC_OR_PARTITION, "unknown topic");

    rn_controller_free(&ctl);
    rn_mimage_free(img);
    rn_arena_free(&arena);
}

/* A transaction's records are invisible until End; an Abort drops them, and a new active
 * controller aborts one its predecessor left open. */
static void test_transactions(void)
{
    rn_mimage_t *img = rn_mimage_new();
    rn_mrecs_t out;
    rn_mrecs_init(&out);
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_BEGIN_TRANSACTION_RECORD);
    rn_mrecs_add(&out, &rec);
    rn_mrec_init(&rec, RN_MREC_TOPIC_RECORD);
    rec.body.topic.name = (rn_str_t){"x", 1};
    rec.body.topic.topic_id.bytes[0] = 9;
    rn_mrecs_add(&out, &rec);
    next_offset = 0;
    commit(img, &out);
    ok(rn_mimage_in_transaction(img) && rn_mimage_topic(img, "x", 1) == NULL,
       "open transaction: topic not visible");
    rn_controller_opts_t opts;
    rn_controller_opts_default(&opts);
    rn_controller_t ctl;
    rn_controller_init(&ctl, img, &opts);
    rn_controller_activate(&ctl, &out);
    ok(out.n == 2 && out.data[0][1] == RN_MREC_ABORT_TRANSACTION_RECORD,
       "new controller aborts the abandoned transaction first");
    commit(img, &out);
    ok(!rn_mimage_in_transaction(img) && rn_mimage_topic(img, "x", 1) == NULL, "aborted");
    rn_mrec_init(&rec, RN_MREC_END_TRANSACTION_RECORD);
    is(rn_mimage_apply_rec(img, 10, &rec), RN_EINVAL, "End without Begin refused");
    rn_controller_free(&ctl);
    rn_mimage_free(img);
}

/* With an installed random stream, the same requests give the same records. */
static void test_determinism(void)
{
    rn_clock_ops_t ops = {fake_ms, fake_ns, fake_random, NULL};
    uint8_t *first = NULL;
    size_t first_len = 0;
    int same = 1;
    for (int run = 0; run < 2; run++) {
        rng_state = 42;
        next_offset = 0;
        rn_clock_install(&ops);
        rn_arena_t arena;
        rn_arena_init(&arena, 0);
        rn_mimage_t *img = rn_mimage_new();
        rn_controller_opts_t opts;
        rn_controller_opts_default(&opts);
        rn_controller_t ctl;
        rn_controller_init(&ctl, img, &opts);
        for (int32_t id = 1; id <= 3; id++)
            register_broker(&ctl, img, id, NULL);
        create(&ctl, img, "d", 7, 2, &arena);
        uint8_t *snap;
        size_t len;
        rn_mimage_snapshot_write(img, &snap, &len);
        if (run == 0) {
            first = snap;
            first_len = len;
        } else {
            same = len == first_len && memcmp(snap, first, len) == 0;
            rn_free(snap);
        }
        rn_controller_free(&ctl);
        rn_mimage_free(img);
        rn_arena_free(&arena);
        rn_clock_install(NULL);
    }
    ok(same, "same seed, same topic ids and placement");
    rn_free(first);
}

/* Partition 0 of "u" (replicas 1, 2): follower 2 out of the ISR, then leader 1 fenced. */
static const rn_mimage_part_t *fence_last_isr_member(bool unclean, const char *topic_override)
{
    static rn_mimage_t *img;
    static rn_controller_t ctl;
    if (img != NULL) {
        rn_controller_free(&ctl);
        rn_mimage_free(img);
    }
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    img = rn_mimage_new();
    rn_controller_opts_t opts;
    rn_controller_opts_default(&opts);
    opts.unclean_leader_election = unclean;
    rn_controller_init(&ctl, img, &opts);
    rn_mrecs_t out;
    rn_mrecs_init(&out);
    rn_controller_activate(&ctl, &out);
    commit(img, &out);
    register_broker(&ctl, img, 1, NULL);
    register_broker(&ctl, img, 2, NULL);
    create(&ctl, img, "u", 1, 2, &arena);
    const rn_mimage_topic_t *t = rn_mimage_topic(img, "u", 1);
    int32_t leader = t->parts[0].leader, other = leader == 1 ? 2 : 1;
    rn_mrec_t rec;
    if (topic_override != NULL) {
        rn_mrec_init(&rec, RN_MREC_CONFIG_RECORD);
        rec.body.config = (rn_config_record_t){RN_MREC_RESOURCE_TOPIC,
                                               {"u", 1},
                                               {"unclean.leader.election.enable", 30},
                                               {topic_override, (int32_t)strlen(topic_override)}};
        rn_mimage_apply_rec(img, next_offset++, &rec);
    }
    rn_mrec_init(&rec, RN_MREC_PARTITION_CHANGE_RECORD);
    rec.body.partition_change.topic_id = t->id;
    rec.body.partition_change.partition_id = 0;
    rec.body.partition_change.isr = (rn_int32_array_t){1, &leader};
    rec.body.partition_change.leader = -2;
    rn_mimage_apply_rec(img, next_offset++, &rec);
    rn_controller_fence(&ctl, leader, &out);
    commit(img, &out);
    rn_arena_free(&arena);
    t = rn_mimage_topic(img, "u", 1);
    ok(t->parts[0].n_isr == 1, "one ISR member left (%s)", unclean ? "unclean" : "clean");
    return t->parts[0].leader == other ? &t->parts[0]
           : t->parts[0].leader == -1  ? NULL
                                       : &t->parts[0];
}

static void test_unclean_election(void)
{
    ok(fence_last_isr_member(false, NULL) == NULL,
       "clean: the last in-sync leader fenced leaves the partition leaderless");
    const rn_mimage_part_t *p = fence_last_isr_member(true, NULL);
    ok(p != NULL && p->n_isr == 1 && p->isr[0] == p->leader,
       "unclean.leader.election.enable: the out-of-sync replica leads, alone in the ISR");
    ok(fence_last_isr_member(true, "false") == NULL, "a topic's false overrides the broker's true");
    ok(fence_last_isr_member(false, "true") != NULL, "a topic's true overrides the broker's false");
}

int main(void)
{
    test_cluster();
    test_unclean_election();
    test_transactions();
    test_determinism();
    return done_testing();
}
