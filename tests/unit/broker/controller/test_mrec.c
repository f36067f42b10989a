/* Tests for rn_mrec and the generated metadata record codecs: hand-written vectors from
 * Kafka's JSON definitions (frame, tagged fields in tag order, defaults left out), frames
 * refused as Kafka refuses them, random round trips of every type and version, and record
 * lists with their KIP-868 bracketing. */
#include "controller/rn_mrec.h"
#include "rn_alloc.h"
#include "rn_err.h"
#include "tap.h"

#include <string.h>

static const rn_uuid_t topic_id = {{0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
                                    0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}};

#define ID_BYTES                                                                                   \
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f

static int encode_is(const rn_mrec_t *rec, const uint8_t *want, size_t want_len, const char *name)
{
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = rn_mrec_encode_alloc(rec, &data, &len);
    int same = rc == 0 && len == want_len && memcmp(data, want, len) == 0;
    if (!same)
        for (size_t i = 0; i < len; i++)
            diag("%s byte %zu: %02x (want %02x)", name, i, data[i], i < want_len ? want[i] : 0);
    rn_free(data);
    return ok(same, "%s encodes to the hand vector", name);
}

static void test_topic_record(rn_arena_t *arena)
{
    static const uint8_t want[] = {0x01, 0x02, 0x00, 0x04, 'f', 'o', 'o', ID_BYTES, 0x00};
    rn_mrec_t rec;
    is(rn_mrec_init(&rec, RN_MREC_TOPIC_RECORD), 0, "init TopicRecord");
    rec.body.topic.name = (rn_str_t){"foo", 3};
    rec.body.topic.topic_id = topic_id;
    encode_is(&rec, want, sizeof(want), "TopicRecord");
    rn_mrec_t got;
    is(rn_mrec_decode(want, sizeof(want), arena, &got), 0, "decode TopicRecord");
    is(got.type, RN_MREC_TOPIC_RECORD, "type");
    ok(got.body.topic.name.len == 3 && memcmp(got.body.topic.name.ptr, "foo", 3) == 0, "name");
    ok(rn_uuid_equal(&got.body.topic.topic_id, &topic_id), "topic id");
}

static void test_partition_change(rn_arena_t *arena)
{
    /* Isr (tag 0) and Leader (tag 1) set, every other tagged field at its default. */
    static const uint8_t want[] = {0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x02, ID_BYTES, 0x02,
                                   0x00, 0x09, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00,     0x00,
                                   0x00, 0x03, 0x01, 0x04, 0x00, 0x00, 0x00, 0x03};
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_PARTITION_CHANGE_RECORD);
    int32_t isr[] = {1, 3};
    rec.body.partition_change.partition_id = 2;
    rec.body.partition_change.topic_id = topic_id;
    rec.body.partition_change.isr = (rn_int32_array_t){2, isr};
    rec.body.partition_change.leader = 3;
    encode_is(&rec, want, sizeof(want), "PartitionChangeRecord");
    rn_mrec_t got;
    is(rn_mrec_decode(want, sizeof(want), arena, &got), 0, "decode PartitionChangeRecord");
    const rn_partition_change_record_t *pc = &got.body.partition_change;
    ok(pc->isr.count == 2 && pc->isr.items[1] == 3, "isr");
    is(pc->leader, 3, "leader");
    is(pc->replicas.count, -1, "replicas left out: null (unchanged)");
    is(pc->leader_recovery_state, -1, "recovery state left out: -1");

    /* Defaults everywhere: no tagged fields at all. */
    static const uint8_t bare[] = {0x01, 0x05, 0x00, 0xff, 0xff, 0xff, 0xff, ID_BYTES, 0x00};
    rn_mrec_init(&rec, RN_MREC_PARTITION_CHANGE_RECORD);
    rec.body.partition_change.topic_id = topic_id;
    encode_is(&rec, bare, sizeof(bare), "PartitionChangeRecord with defaults");
}

static void test_register_broker(rn_arena_t *arena)
{
    /* v1: BrokerId 3, IncarnationId, BrokerEpoch 7, EndPoints [PLAINTEXT h:9092 0],
     * Features [], Rack null, Fenced true, InControlledShutdown false, no tags. */
    static const uint8_t want[] = {0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, ID_BYTES, 0x00, 0x00,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x02, 0x0a,     'P',  'L',
                                   'A',  'I',  'N',  'T',  'E',  'X',  'T',  0x02,     'h',  0x23,
                                   0x84, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00,     0x00};
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_REGISTER_BROKER_RECORD);
    is(rec.version, 1, "RegisterBrokerRecord written at v1");
    rn_register_broker_record_t *rb = &rec.body.register_broker;
    /* Kafka's default for a nullable string without a declared default is "", not null. */
    ok(rb->fenced && rb->rack.len == 0, "defaults: fenced, rack empty");
    rn_broker_endpoint_t ep = {{"PLAINTEXT", 9}, {"h", 1}, 9092, 0};
    rb->broker_id = 3;
    rb->incarnation_id = topic_id;
    rb->broker_epoch = 7;
    rb->end_points = (rn_broker_endpoint_array_t){1, &ep};
    rb->rack = RN_STR_NULL;
    encode_is(&rec, want, sizeof(want), "RegisterBrokerRecord v1");
    rn_mrec_t got;
    is(rn_mrec_decode(want, sizeof(want), arena, &got), 0, "decode RegisterBrokerRecord");
    is(got.body.register_broker.end_points.items[0].port, 9092, "port");
}

static void test_refused(rn_arena_t *arena)
{
    rn_mrec_t got;
    static const uint8_t frame0[] = {0x00, 0x14, 0x00, 0x00};
    is(rn_mrec_decode(frame0, sizeof(frame0), arena, &got), RN_EUNSUPPORTED, "frame version 0");
    static const uint8_t noop[] = {0x01, 0x14, 0x00, 0x00};
    is(rn_mrec_decode(noop, sizeof(noop), arena, &got), 0, "NoOpRecord");
    static const uint8_t trailing[] = {0x01, 0x14, 0x00, 0x00, 0x00};
    is(rn_mrec_decode(trailing, sizeof(trailing), arena, &got), RN_ECORRUPT, "trailing byte");
    static const uint8_t unknown[] = {0x01, 0x63, 0x00, 0x00};
    is(rn_mrec_decode(unknown, sizeof(unknown), arena, &got), RN_EUNSUPPORTED, "unknown type");
    static const uint8_t newer[] = {0x01, 0x14, 0x01, 0x00};
    is(rn_mrec_decode(newer, sizeof(newer), arena, &got), RN_EUNSUPPORTED, "unknown version");
    static const uint8_t cut[] = {0x01, 0x02, 0x00, 0x04, 'f'};
    is(rn_mrec_decode(cut, sizeof(cut), arena, &got), RN_ECORRUPT, "truncated body");
    is(rn_mrec_decode(cut, 0, arena, &got), RN_ECORRUPT, "empty");
    ok(strcmp(rn_mrec_name(RN_MREC_FEATURE_LEVEL_RECORD), "FeatureLevelRecord") == 0, "name");
}

/* Random bodies of every type and version: encode, decode, encode again, same bytes. */
static void test_round_trips(rn_arena_t *arena)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    int types = 0, bad = 0;
    for (int type = 0; type < 64; type++) {
        const rn_mrec_type_t *t = rn_mrec_type(type);
        if (t == NULL)
            continue;
        types++;
        for (int16_t v = t->min_version; v <= t->max_version; v++) {
            for (int i = 0; i < 50; i++) {
                rn_mrec_t rec = {.type = (int16_t)type, .version = v};
                if (rn_msgfill_record((int16_t)type, v, &rec.body, arena, &seed) != 0) {
                    bad++;
                    continue;
                }
                uint8_t *a = NULL, *b = NULL;
                size_t alen = 0, blen = 0;
                rn_mrec_t back;
                int rc = rn_mrec_encode_alloc(&rec, &a, &alen);
                if (rc == 0)
                    rc = rn_mrec_decode(a, alen, arena, &back);
                if (rc == 0)
                    rc = rn_mrec_encode_alloc(&back, &b, &blen);
                if (rc != 0 || alen != blen || memcmp(a, b, alen) != 0) {
                    if (bad++ < 5)
                        diag("%s v%d seed %llx: rc %d", t->name, v, (unsigned long long)seed, rc);
                }
                rn_free(a);
                rn_free(b);
            }
        }
        rn_arena_reset(arena);
    }
    is(types, 20, "twenty record types known");
    is(bad, 0, "random records of every type and version round-trip");
}

static void test_list(void)
{
    rn_mrecs_t list;
    rn_mrecs_init(&list);
    rn_mrec_t rec;
    rn_mrec_init(&rec, RN_MREC_NO_OP_RECORD);
    rn_mrecs_add(&list, &rec);
    rn_mrecs_wrap_transaction(&list, 0, "one");
    is(list.n, 1, "a single record is not bracketed");
    rn_mrecs_add(&list, &rec);
    rn_mrecs_wrap_transaction(&list, 0, "two");
    is(list.n, 4, "two records: Begin, both, End");
    ok(list.data[0][1] == RN_MREC_BEGIN_TRANSACTION_RECORD &&
           list.data[3][1] == RN_MREC_END_TRANSACTION_RECORD && list.data[1][1] == 20,
       "bracket order");
    is(list.err, 0, "no error");
    rn_mrecs_free(&list);
}

int main(void)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    test_topic_record(&arena);
    test_partition_change(&arena);
    test_register_broker(&arena);
    test_refused(&arena);
    test_round_trips(&arena);
    test_list();
    rn_arena_free(&arena);
    return done_testing();
}
