/* Unit tests for rn_groupstore: __consumer_offsets keys and values against hand-assembled
 * bytes of Kafka's formats, every value version round-tripped, flexible versions with unknown
 * tags, hostile input, Java's String.hashCode partitioning (values computed independently
 * from UTF-16 in Python), and the replay of record batches. */
#include "tap.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "group/rn_groupstore.h"
#include "rn_records.h"

#include <stdlib.h>

static rn_str_t S(const char *s)
{
    return (rn_str_t){s, (int32_t)strlen(s)};
}

static bool str_is(rn_str_t s, const char *want)
{
    return s.len == (int32_t)strlen(want) && memcmp(s.ptr, want, (size_t)s.len) == 0;
}

static void test_partitioning(void)
{
    static const struct {
        const char *group;
        int32_t hash, partition;
    } cases[] = {
        {"test-group", 627841412, 12},
        {"my-group", -1906497762, 12},
        {"", 0, 0},
        {"polygenelubricants", INT32_MIN, 0}, /* abs(MIN_VALUE) is 0 in Kafka's Utils.abs */
        {"gr\xc3\xbcppe", -1233264812, 12},   /* U+00FC */
        {"g\xf0\x9f\x98\x80x", 58028462, 12}, /* U+1F600: a surrogate pair in Java */
        {"console-consumer-12345", 158455506, 6},
        {"abc", 96354, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = strlen(cases[i].group);
        is(rn_groupstore_java_hash(cases[i].group, len), cases[i].hash, "hash of '%s'",
           cases[i].group);
        is(rn_groupstore_partition_for(cases[i].group, len, 50), cases[i].partition,
           "partition of '%s' among 50", cases[i].group);
    }
    is(rn_groupstore_partition_for("abc", 3, 1), 0, "one partition");
    /* A malformed byte hashes as U+FFFD, as Java decodes it. */
    is(rn_groupstore_java_hash("\xff", 1), 0xFFFD, "malformed byte is U+FFFD");
    is(rn_groupstore_java_hash("a\xe2\x82", 3), 97 * 31 * 31 + 0xFFFD * 31 + 0xFFFD,
       "cut-short sequence: one U+FFFD per byte");
}

static void test_keys(void)
{
    uint8_t *out;
    size_t len;
    is(rn_groupstore_encode_offset_key(S("g"), S("t1"), 3, &out, &len), 0, "offset key");
    static const uint8_t want[] = {0, 1, 0, 1, 'g', 0, 2, 't', '1', 0, 0, 0, 3};
    ok(len == sizeof(want) && memcmp(out, want, len) == 0, "offset key bytes (version 1)");
    rn_groupstore_key_t key;
    is(rn_groupstore_decode_key(out, len, &key), 0, "decode offset key");
    is(key.version, 1, "version");
    ok(str_is(key.group, "g") && str_is(key.topic, "t1") && key.partition == 3, "fields");
    rn_free(out);

    static const uint8_t v0[] = {0, 0, 0, 1, 'g', 0, 1, 't', 0, 0, 0, 9};
    is(rn_groupstore_decode_key(v0, sizeof(v0), &key), 0, "version 0 offset key");
    is(key.partition, 9, "partition");

    is(rn_groupstore_encode_group_key(S("grp"), &out, &len), 0, "group key");
    static const uint8_t wantg[] = {0, 2, 0, 3, 'g', 'r', 'p'};
    ok(len == sizeof(wantg) && memcmp(out, wantg, len) == 0, "group key bytes (version 2)");
    is(rn_groupstore_decode_key(out, len, &key), 0, "decode group key");
    ok(key.version == 2 && str_is(key.group, "grp"), "group key fields");
    rn_free(out);

    static const uint8_t v3[] = {0, 3, 0, 1, 'g'};
    is(rn_groupstore_decode_key(v3, sizeof(v3), &key), RN_EUNSUPPORTED,
       "KIP-848 key versions are unsupported");
    static const uint8_t trailing[] = {0, 2, 0, 1, 'g', 0};
    is(rn_groupstore_decode_key(trailing, sizeof(trailing), &key), RN_ECORRUPT, "trailing byte");
    static const uint8_t cut[] = {0, 1, 0, 5, 'g'};
    is(rn_groupstore_decode_key(cut, sizeof(cut), &key), RN_ECORRUPT, "string past the end");
    is(rn_groupstore_decode_key(cut, 1, &key), RN_ECORRUPT, "one byte");
}

static void test_offset_values(void)
{
    rn_groupstore_offset_t v = {42, 5, S("meta"), 1700000000000, -1};
    uint8_t *out;
    size_t len;
    is(rn_groupstore_offset_version(&v), 3, "no expire timestamp: version 3");
    is(rn_groupstore_encode_offset(&v, 3, &out, &len), 0, "encode v3");
    static const uint8_t want[] = {0, 3, 0,    0,    0,    0,    0,    0,   0,   42,
                                   0, 0, 0,    5,    0,    4,    'm',  'e', 't', 'a',
                                   0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00};
    ok(len == sizeof(want) && memcmp(out, want, len) == 0, "v3 bytes");
    rn_free(out);

    for (int16_t ver = 0; ver <= 4; ver++) {
        rn_groupstore_offset_t in = {1234567890123, 7, S("m"), 99, ver == 1 ? 555 : -1};
        rn_groupstore_offset_t back;
        is(rn_groupstore_encode_offset(&in, ver, &out, &len), 0, "encode v%d", ver);
        is(rn_groupstore_decode_offset(out, len, &back), 0, "decode v%d", ver);
        ok(back.offset == in.offset && str_is(back.metadata, "m") && back.commit_timestamp == 99,
           "v%d round trip", ver);
        is(back.leader_epoch, ver >= 3 ? 7 : -1, "v%d leader epoch", ver);
        is(back.expire_timestamp, ver == 1 ? 555 : -1, "v%d expire timestamp", ver);
        rn_free(out);
    }
    rn_groupstore_offset_t ex = {1, -1, RN_STR_NULL, 2, 3};
    is(rn_groupstore_offset_version(&ex), 1, "explicit expire timestamp: version 1");
    is(rn_groupstore_encode_offset(&ex, 1, &out, &len), 0, "null metadata is written as empty");
    rn_groupstore_offset_t back;
    is(rn_groupstore_decode_offset(out, len, &back), 0, "decodes");
    ok(str_is(back.metadata, ""), "empty metadata");
    rn_free(out);
    is(rn_groupstore_encode_offset(&ex, 5, &out, &len), RN_EINVAL, "version 5 refused");

    /* v4 with an unknown tagged field (tag 7, 2 bytes). */
    static const uint8_t flex[] = {0,   4, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 2,
                                   'x', 0, 0, 0, 0, 0, 0, 0, 2, 1, 7,    2,    0xaa, 0xbb};
    is(rn_groupstore_decode_offset(flex, sizeof(flex), &back), 0, "v4 with unknown tag");
    ok(back.offset == 1 && back.leader_epoch == -1 && str_is(back.metadata, "x") &&
           back.commit_timestamp == 2,
       "v4 fields");
    is(rn_groupstore_decode_offset(flex, sizeof(flex) - 1, &back), RN_ECORRUPT, "v4 cut short");
    static const uint8_t v9[] = {0, 9, 0};
    is(rn_groupstore_decode_offset(v9, sizeof(v9), &back), RN_EUNSUPPORTED, "version 9");
}

static void test_group_values(void)
{
    rn_groupstore_member_t ms[2] = {
        {S("m1"),
         RN_STR_NULL,
         S("c1"),
         S("/10.0.0.1"),
         45000,
         10000,
         {(const uint8_t *)"sub1", 4},
         {(const uint8_t *)"as1", 3}},
        {S("m2"),
         S("inst-2"),
         S("c2"),
         S("/10.0.0.2"),
         60000,
         30000,
         {(const uint8_t *)"sub2", 4},
         {NULL, 0}},
    };
    rn_groupstore_group_t g = {S("consumer"), 3, S("range"), S("m1"), 1700000000123, ms, 2};
    uint8_t *out;
    size_t len;
    for (int16_t ver = 0; ver <= 4; ver++) {
        rn_arena_t arena;
        rn_arena_init(&arena, 0);
        rn_groupstore_group_t back;
        is(rn_groupstore_encode_group(&g, ver, &out, &len), 0, "encode group v%d", ver);
        is(rn_groupstore_decode_group(out, len, &arena, &back), 0, "decode group v%d", ver);
        ok(str_is(back.protocol_type, "consumer") && back.generation == 3 &&
               str_is(back.protocol, "range") && str_is(back.leader, "m1"),
           "v%d header fields", ver);
        is(back.current_state_timestamp, ver >= 2 ? 1700000000123 : -1, "v%d state timestamp", ver);
        is(back.n_members, 2, "v%d members", ver);
        if (back.n_members == 2) {
            ok(str_is(back.members[0].member_id, "m1") &&
                   str_is(back.members[1].client_host, "/10.0.0.2"),
               "v%d member strings", ver);
            is(back.members[1].rebalance_timeout_ms, ver >= 1 ? 60000 : 30000,
               "v%d rebalance timeout (v0: the session timeout)", ver);
            ok(ver >= 3 ? str_is(back.members[1].instance_id, "inst-2")
                        : back.members[1].instance_id.len < 0,
               "v%d group instance id", ver);
            ok(back.members[0].assignment.len == 3 &&
                   memcmp(back.members[0].assignment.ptr, "as1", 3) == 0 &&
                   back.members[1].assignment.len == 0,
               "v%d assignments", ver);
        }
        if (ver == 3) {
            /* Kafka's layout, checked field by field on the wire. */
            ok(out[0] == 0 && out[1] == 3 && out[2] == 0 && out[3] == 8 &&
                   memcmp(out + 4, "consumer", 8) == 0 && out[12] == 0 && out[15] == 3,
               "v3 starts with version, protocolType, generation");
        }
        rn_free(out);
        rn_arena_free(&arena);
    }

    rn_groupstore_group_t empty = {S("consumer"), 9, RN_STR_NULL, RN_STR_NULL, 5, NULL, 0};
    is(rn_groupstore_encode_group(&empty, 3, &out, &len), 0, "empty group");
    static const uint8_t want[] = {0,   3, 0, 8, 'c', 'o',  'n',  's',  'u',  'm', 'e',
                                   'r', 0, 0, 0, 9,   0xff, 0xff, 0xff, 0xff, 0,   0,
                                   0,   0, 0, 0, 0,   5,    0,    0,    0,    0};
    ok(len == sizeof(want) && memcmp(out, want, len) == 0, "empty group v3 bytes");
    rn_arena_t arena;
    rn_arena_init(&arena, 0);
    rn_groupstore_group_t back;
    is(rn_groupstore_decode_group(out, len, &arena, &back), 0, "decode empty group");
    ok(back.protocol.len < 0 && back.leader.len < 0 && back.n_members == 0, "nulls kept");
    /* A member count far beyond the bytes is refused before allocating. */
    out[len - 1] = 0x7f;
    out[len - 4] = 0x7f;
    is(rn_groupstore_decode_group(out, len, &arena, &back), RN_ECORRUPT, "huge member count");
    for (size_t cut = 0; cut < len; cut++)
        ok(rn_groupstore_decode_group(out, cut, &arena, &back) != 0, "cut at %zu fails", cut);
    rn_free(out);
    rn_arena_free(&arena);
}

/* ---- replay ---- */

typedef struct seen {
    int n;
    int16_t versions[16];
    char groups[16][16];
    int32_t value_lens[16];
    int64_t offsets[16];
} seen_t;

static int on_record(void *arg, const rn_groupstore_key_t *key, const uint8_t *value,
                     int32_t value_len, int64_t offset)
{
    seen_t *s = arg;
    if (s->n == 16)
        return RN_ETOOBIG;
    s->versions[s->n] = key->version;
    snprintf(s->groups[s->n], sizeof(s->groups[0]), "%.*s", (int)key->group.len, key->group.ptr);
    s->value_lens[s->n] = value == NULL ? -1 : value_len;
    s->offsets[s->n] = offset;
    s->n++;
    return 0;
}

static void test_replay(void)
{
    uint8_t *k1, *k2, *v1, *k3;
    size_t k1n, k2n, v1n, k3n;
    rn_groupstore_encode_offset_key(S("ga"), S("t"), 0, &k1, &k1n);
    rn_groupstore_encode_group_key(S("gb"), &k2, &k2n);
    rn_groupstore_offset_t ov = {5, -1, S(""), 1, -1};
    rn_groupstore_encode_offset(&ov, 3, &v1, &v1n);
    static const uint8_t k848[] = {0, 4, 0, 1, 'z'}; /* an unknown (newer) record type */
    k3 = (uint8_t *)k848;
    k3n = sizeof(k848);

    rn_record_spec_t recs1[] = {
        {k1, k1n, v1, v1n, NULL, 0, 1000},
        {k3, k3n, "x", 1, NULL, 0, 1000},
        {k2, k2n, NULL, 0, NULL, 0, 1000}, /* tombstone */
    };
    rn_batch_spec_t spec = RN_BATCH_SPEC_INIT;
    uint8_t *b1, *b2;
    size_t b1n, b2n;
    is(rn_batch_build(&spec, recs1, 3, &b1, &b1n), 0, "batch 1");
    spec.base_offset = 3;
    spec.codec = RN_CODEC_LZ4;
    rn_record_spec_t recs2[] = {{k1, k1n, v1, v1n, NULL, 0, 2000}};
    is(rn_batch_build(&spec, recs2, 1, &b2, &b2n), 0, "batch 2 (lz4)");
    uint8_t *all = rn_xmalloc(b1n + b2n);
    memcpy(all, b1, b1n);
    memcpy(all + b1n, b2, b2n);

    seen_t s = {0};
    rn_groupstore_progress_t pr;
    is(rn_groupstore_replay(all, b1n + b2n, &pr, on_record, &s), 0, "replay");
    is(pr.consumed, b1n + b2n, "both batches consumed");
    is(pr.next_offset, 4, "next offset after both batches");
    is(pr.skipped, 1, "unknown record type skipped");
    is(s.n, 3, "three records seen");
    ok(s.versions[0] == 1 && strcmp(s.groups[0], "ga") == 0 && s.value_lens[0] == (int)v1n &&
           s.offsets[0] == 0,
       "offset commit record");
    ok(s.versions[1] == 2 && strcmp(s.groups[1], "gb") == 0 && s.value_lens[1] == -1 &&
           s.offsets[1] == 2,
       "group tombstone");
    ok(s.offsets[2] == 3, "compressed batch record at offset 3");

    memset(&s, 0, sizeof(s));
    is(rn_groupstore_replay(all, b1n + b2n - 1, &pr, on_record, &s), 0,
       "a batch cut short is left for later");
    is(pr.consumed, b1n, "only the first batch consumed");
    is(pr.next_offset, 3, "next offset after the first batch");
    is(s.n, 2, "its records seen");

    all[b1n - 1] ^= 1;
    memset(&s, 0, sizeof(s));
    is(rn_groupstore_replay(all, b1n + b2n, &pr, on_record, &s), RN_ECORRUPT,
       "a bad CRC is corruption");
    is(pr.consumed, 0, "nothing consumed");
    is(s.n, 0, "nothing delivered from the bad batch");

    rn_free(all);
    rn_free(b1);
    rn_free(b2);
    rn_free(k1);
    rn_free(k2);
    rn_free(v1);
}

int main(void)
{
    test_partitioning();
    test_keys();
    test_offset_values();
    test_group_values();
    test_replay();
    return done_testing();
}
