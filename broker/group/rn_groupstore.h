/* rn_groupstore: the records of __consumer_offsets in Kafka's own key/value formats, and which
 * partition of it holds a group.
 *
 * Every record's key and value start with an int16 version:
 *   key 0 or 1  offset commit   group string, topic string, partition int32
 *   key 2       group metadata  group string
 *   offset commit value 0-4: offset int64, leaderEpoch int32 (v3+), metadata string,
 *     commitTimestamp int64, expireTimestamp int64 (v1 only)
 *   group metadata value 0-4: protocolType string, generation int32, protocol string?,
 *     leader string?, currentStateTimestamp int64 (v2+), members[memberId string,
 *     groupInstanceId string? (v3+), clientId string, clientHost string, rebalanceTimeout
 *     int32 (v1+), sessionTimeout int32, subscription bytes, assignment bytes]
 * Values v4 are flexible (compact strings and arrays, tagged-field sections, unknown tags
 * skipped). A null value is a tombstone. We write key 1 with value 3 (value 1 when the commit
 * carries an explicit expire timestamp), and key 2 with value 3, as Kafka 2.3+ does, so
 * Kafka's own tools read our data dirs.
 *
 * The group's partition is abs(javaStringHashCode(group)) % partitions, where the hash runs
 * over the UTF-16 code units of the group id (as Java sees the string) and abs maps
 * Integer.MIN_VALUE to 0 (Kafka's Utils.abs).
 *
 * Decoders treat the bytes as hostile (bounds-checked, sticky errors); decoded strings point
 * into the input. */
#ifndef RN_GROUPSTORE_H
#define RN_GROUPSTORE_H

#include "rn_arena.h"
#include "rn_proto.h"

#include <stddef.h>
#include <stdint.h>

#define RN_GROUPSTORE_TOPIC "__consumer_offsets"

enum {
    RN_GROUPSTORE_KEY_OFFSET_V0 = 0,
    RN_GROUPSTORE_KEY_OFFSET = 1, /* what we write */
    RN_GROUPSTORE_KEY_GROUP = 2,
};

typedef struct rn_groupstore_key {
    int16_t version; /* 0/1 = offset commit, 2 = group metadata */
    rn_str_t group;
    rn_str_t topic;    /* offset commit keys only */
    int32_t partition; /* offset commit keys only */
} rn_groupstore_key_t;

/* An offset commit value. */
typedef struct rn_groupstore_offset {
    int64_t offset;
    int32_t leader_epoch; /* -1 = none */
    rn_str_t metadata;
    int64_t commit_timestamp;
    int64_t expire_timestamp; /* -1 = none; only value v1 stores one */
} rn_groupstore_offset_t;

typedef struct rn_groupstore_member {
    rn_str_t member_id;
    rn_str_t instance_id; /* null for dynamic members */
    rn_str_t client_id;
    rn_str_t client_host;
    int32_t rebalance_timeout_ms; /* value v0: the session timeout */
    int32_t session_timeout_ms;
    rn_bytes_t subscription; /* the member's metadata for the group's protocol */
    rn_bytes_t assignment;
} rn_groupstore_member_t;

/* A group metadata value. */
typedef struct rn_groupstore_group {
    rn_str_t protocol_type; /* "" when none */
    int32_t generation;
    rn_str_t protocol;               /* null when none */
    rn_str_t leader;                 /* null when none */
    int64_t current_state_timestamp; /* -1 = unknown */
    rn_groupstore_member_t *members;
    int32_t n_members;
} rn_groupstore_group_t;

/* Java's String.hashCode of the UTF-8 string s[0..len) (decoded to UTF-16; a malformed byte
 * counts as U+FFFD, as Java's decoder replaces it). */
int32_t rn_groupstore_java_hash(const char *s, size_t len);
/* The __consumer_offsets partition of a group (partitions >= 1). */
int32_t rn_groupstore_partition_for(const char *group, size_t len, int32_t partitions);

/* Encoders: an rn_malloc'd buffer in *out (free with rn_free) of *len bytes. 0, RN_ENOMEM,
 * RN_EINVAL (unsupported version, or a null where the format has none). */
int rn_groupstore_encode_offset_key(rn_str_t group, rn_str_t topic, int32_t partition,
                                    uint8_t **out, size_t *len);
int rn_groupstore_encode_group_key(rn_str_t group, uint8_t **out, size_t *len);
/* version 0-4; 1 is the only one that stores expire_timestamp, 3+ store leader_epoch. */
int rn_groupstore_encode_offset(const rn_groupstore_offset_t *v, int16_t version, uint8_t **out,
                                size_t *len);
/* version 0-4. */
int rn_groupstore_encode_group(const rn_groupstore_group_t *v, int16_t version, uint8_t **out,
                               size_t *len);
/* The value version Kafka 2.3+ writes for an offset commit: 1 with an expire timestamp,
 * else 3. */
int16_t rn_groupstore_offset_version(const rn_groupstore_offset_t *v);

/* Decoders: 0, RN_ECORRUPT (malformed, or bytes left over), RN_EUNSUPPORTED (a version we do
 * not know: newer Kafka record types, e.g. KIP-848's consumer-group records). */
int rn_groupstore_decode_key(const uint8_t *p, size_t len, rn_groupstore_key_t *key);
int rn_groupstore_decode_offset(const uint8_t *p, size_t len, rn_groupstore_offset_t *v);
/* members are allocated in arena; RN_ENOMEM when it is exhausted. */
int rn_groupstore_decode_group(const uint8_t *p, size_t len, rn_arena_t *arena,
                               rn_groupstore_group_t *v);

/* One record found by rn_groupstore_replay: key bytes decoded, value raw (NULL and -1 for a
 * tombstone), the record's offset. A non-zero return stops the replay and is returned. */
typedef int (*rn_groupstore_record_cb)(void *arg, const rn_groupstore_key_t *key,
                                       const uint8_t *value, int32_t value_len, int64_t offset);

/* What rn_groupstore_replay got through. */
typedef struct rn_groupstore_progress {
    size_t consumed;     /* bytes of the complete batches processed */
    int64_t next_offset; /* last offset of the last batch processed + 1 (-1: none) */
    size_t skipped;      /* records with unknown key versions, left out */
} rn_groupstore_progress_t;

/* Replay the whole record batches at batches[0..len) in order (compressed ones are
 * decompressed, control batches skipped, records with unknown key versions counted and left
 * out). A batch cut short at the end is left for the next call. *progress (may be NULL) says
 * how far it got, also on failure. Returns 0, RN_ECORRUPT (a batch fails its CRC or a record
 * is malformed), RN_ENOMEM, or cb's non-zero result. */
int rn_groupstore_replay(const uint8_t *batches, size_t len, rn_groupstore_progress_t *progress,
                         rn_groupstore_record_cb cb, void *arg);

#endif
