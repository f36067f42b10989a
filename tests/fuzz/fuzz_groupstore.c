/* Fuzz target: the __consumer_offsets record decoders and the batch replay.
 *
 * Input: one mode byte, then the payload. Mode 0: a key; 1: an offset commit value; 2: a
 * group metadata value; 3: whole record batches for rn_groupstore_replay. Whatever decodes
 * is encoded again at its own version and must decode to the same fields (the encoders'
 * output is checked, not just the decoders' bounds); a group value additionally must not
 * claim more members than bytes. The Java hash runs over the payload as a group id. */
#include "rn_alloc.h"
#include "rn_arena.h"
#include "rn_err.h"
#include "group/rn_groupstore.h"
#include "rn_str.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
    if (!cond)
        abort();
}

static void fuzz_key(const uint8_t *p, size_t n)
{
    rn_groupstore_key_t k, k2;
    if (rn_groupstore_decode_key(p, n, &k) != 0)
        return;
    uint8_t *out;
    size_t len;
    int rc = k.version == RN_GROUPSTORE_KEY_GROUP
                 ? rn_groupstore_encode_group_key(k.group, &out, &len)
                 : rn_groupstore_encode_offset_key(k.group, k.topic, k.partition, &out, &len);
    check(rc == 0);
    check(rn_groupstore_decode_key(out, len, &k2) == 0);
    check(rn_str_eq(k.group, k2.group) && k.partition == k2.partition);
    if (k.version != RN_GROUPSTORE_KEY_GROUP)
        check(rn_str_eq(k.topic, k2.topic));
    rn_free(out);
}

static void fuzz_offset(const uint8_t *p, size_t n)
{
    rn_groupstore_offset_t v, v2;
    if (n < 2 || rn_groupstore_decode_offset(p, n, &v) != 0)
        return;
    int16_t version = (int16_t)(p[0] << 8 | p[1]);
    uint8_t *out;
    size_t len;
    check(rn_groupstore_encode_offset(&v, version, &out, &len) == 0);
    check(rn_groupstore_decode_offset(out, len, &v2) == 0);
    check(v.offset == v2.offset && v.leader_epoch == v2.leader_epoch &&
          v.commit_timestamp == v2.commit_timestamp && v.expire_timestamp == v2.expire_timestamp &&
          rn_str_eq(v.metadata, v2.metadata));
    rn_free(out);
}

static void fuzz_group(const uint8_t *p, size_t n)
{
    rn_arena_t arena;
    rn_arena_init(&arena, 1 << 20);
    rn_groupstore_group_t v, v2;
    if (n >= 2 && rn_groupstore_decode_group(p, n, &arena, &v) == 0) {
        check((size_t)v.n_members <= n);
        int16_t version = (int16_t)(p[0] << 8 | p[1]);
        uint8_t *out;
        size_t len;
        check(rn_groupstore_encode_group(&v, version, &out, &len) == 0);
        check(rn_groupstore_decode_group(out, len, &arena, &v2) == 0);
        check(v.generation == v2.generation && v.n_members == v2.n_members &&
              rn_str_eq(v.protocol_type, v2.protocol_type) && rn_str_eq(v.protocol, v2.protocol) &&
              rn_str_eq(v.leader, v2.leader) &&
              v.current_state_timestamp == v2.current_state_timestamp);
        for (int32_t i = 0; i < v.n_members; i++) {
            check(rn_str_eq(v.members[i].member_id, v2.members[i].member_id));
            check(v.members[i].assignment.len == v2.members[i].assignment.len);
        }
        rn_free(out);
    }
    rn_arena_free(&arena);
}

static int on_record(void *arg, const rn_groupstore_key_t *key, const uint8_t *value,
                     int32_t value_len, int64_t offset)
{
    size_t *count = arg;
    (*count)++;
    if (value != NULL && key->version != RN_GROUPSTORE_KEY_GROUP) {
        rn_groupstore_offset_t v;
        (void)rn_groupstore_decode_offset(value, (size_t)value_len, &v);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    (void)rn_groupstore_partition_for((const char *)p, n, 50);
    switch (data[0] & 3) {
    case 0: fuzz_key(p, n); break;
    case 1: fuzz_offset(p, n); break;
    case 2: fuzz_group(p, n); break;
    default: {
        size_t count = 0;
        rn_groupstore_progress_t pr;
        (void)rn_groupstore_replay(p, n, &pr, on_record, &count);
        check(pr.consumed <= n);
        break;
    }
    }
    return 0;
}
