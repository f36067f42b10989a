/* rn_topicconf: per-topic configuration — Kafka's topic config names (retention.ms,
 * cleanup.policy, ...), their types and limits, the broker keys they default to, and a
 * topic's overrides.
 *
 * A topic config's value is its override when the topic has one, otherwise the broker's
 * value of its synonym (retention.ms <- log.retention.ms | .minutes | .hours), otherwise
 * the table default. DescribeConfigs reports exactly that chain: the value, its source
 * (DYNAMIC_TOPIC_CONFIG, STATIC_BROKER_CONFIG, DEFAULT_CONFIG) and, on request, the
 * synonyms in precedence order, as Kafka does. */
#ifndef RN_TOPICCONF_H
#define RN_TOPICCONF_H

#include "rn_config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum rn_tc_key {
    RN_TC_CLEANUP_POLICY,
    RN_TC_COMPRESSION_TYPE,
    RN_TC_DELETE_RETENTION_MS,
    RN_TC_FILE_DELETE_DELAY_MS,
    RN_TC_FLUSH_MESSAGES,
    RN_TC_FLUSH_MS,
    RN_TC_FOLLOWER_REPLICATION_THROTTLED_REPLICAS,
    RN_TC_INDEX_INTERVAL_BYTES,
    RN_TC_LEADER_REPLICATION_THROTTLED_REPLICAS,
    RN_TC_MAX_COMPACTION_LAG_MS,
    RN_TC_MAX_MESSAGE_BYTES,
    RN_TC_MESSAGE_DOWNCONVERSION_ENABLE,
    RN_TC_MESSAGE_FORMAT_VERSION,
    RN_TC_MESSAGE_TIMESTAMP_AFTER_MAX_MS,
    RN_TC_MESSAGE_TIMESTAMP_BEFORE_MAX_MS,
    RN_TC_MESSAGE_TIMESTAMP_TYPE,
    RN_TC_MIN_CLEANABLE_DIRTY_RATIO,
    RN_TC_MIN_COMPACTION_LAG_MS,
    RN_TC_MIN_INSYNC_REPLICAS,
    RN_TC_PREALLOCATE,
    RN_TC_RETENTION_BYTES,
    RN_TC_RETENTION_MS,
    RN_TC_SEGMENT_BYTES,
    RN_TC_SEGMENT_INDEX_BYTES,
    RN_TC_SEGMENT_JITTER_MS,
    RN_TC_SEGMENT_MS,
    RN_TC_UNCLEAN_LEADER_ELECTION_ENABLE,
    RN_TC__COUNT
} rn_tc_key_t;

#define RN_TC_MAX_SYNONYMS 3

typedef struct rn_topicconf_def {
    const char *name;
    rn_cfg_type_t type;
    /* Broker keys this config defaults to, highest precedence first; -1 ends the list. */
    int synonyms[RN_TC_MAX_SYNONYMS];
    const char *def; /* used when no synonym has a value */
    int64_t min, max;
    const char *const *choices;
    const char *doc;
} rn_topicconf_def_t;

/* A topic's overrides: text per key, NULL = not overridden. Owned strings. */
typedef struct rn_topicconf {
    char *v[RN_TC__COUNT];
} rn_topicconf_t;

/* Where a value comes from, with Kafka's DescribeConfigs numbers. */
typedef enum rn_tc_source {
    RN_TC_SOURCE_DYNAMIC_TOPIC = 1,
    RN_TC_SOURCE_STATIC_BROKER = 4,
    RN_TC_SOURCE_DEFAULT = 5,
} rn_tc_source_t;

const rn_topicconf_def_t *rn_topicconf_def(rn_tc_key_t key);
/* Look a topic config up by name; -1 if unknown. */
int rn_topicconf_find(const char *name, size_t len);

/* Validate value for the config named name. 0, or RN_ENOTFOUND (unknown name) /
 * RN_EINVAL (bad value) with Kafka-style text in err ("Invalid value x for configuration
 * retention.ms: ..."). *key receives the key on success. */
int rn_topicconf_check(const char *name, size_t namelen, const char *value, rn_tc_key_t *key,
                       char *err, size_t errlen);
/* A value of len bytes as a client sent it: RN_EINVAL with the reason in err when a NUL byte
 * comes before its end (Kafka strings may hold one; no topic config value allows one, and the
 * C string the checks see would end there and pass), else 0. Trailing NULs and spaces pass,
 * as Kafka trims them. */
int rn_topicconf_check_bytes(const char *name, size_t namelen, const char *value, size_t len,
                             char *err, size_t errlen);

/* Set (value != NULL) or remove (NULL) an override; value must have passed the check.
 * The stored text is canonical (enum spelling). */
void rn_topicconf_set(rn_topicconf_t *conf, rn_tc_key_t key, const char *value);
void rn_topicconf_copy(rn_topicconf_t *dst, const rn_topicconf_t *src);
void rn_topicconf_free(rn_topicconf_t *conf);

/* The effective value as text, and where it comes from. buf holds numbers. Never NULL
 * (a config without any value yields ""). */
const char *rn_topicconf_value(const rn_topicconf_t *conf, const rn_config_t *cfg, rn_tc_key_t key,
                               rn_tc_source_t *source, char *buf, size_t buflen);
/* The effective value of an integer, long or boolean config. */
int64_t rn_topicconf_int(const rn_topicconf_t *conf, const rn_config_t *cfg, rn_tc_key_t key);
/* The effective value of a double config. */
double rn_topicconf_double(const rn_topicconf_t *conf, const rn_config_t *cfg, rn_tc_key_t key);

/* One synonym entry as DescribeConfigs (include_synonyms) lists it. */
typedef struct rn_tc_synonym {
    const char *name;
    const char *value; /* points into cfg/conf or buf; valid until they change */
    rn_tc_source_t source;
} rn_tc_synonym_t;

/* The synonyms of key in precedence order: the topic override, then every broker synonym
 * that is set, then the primary (first) broker synonym's default when it has one, as
 * Kafka lists them. Returns the count
 * (at most RN_TC_MAX_SYNONYMS + 2); bufs provide storage for numbers. */
int rn_topicconf_synonyms(const rn_topicconf_t *conf, const rn_config_t *cfg, rn_tc_key_t key,
                          rn_tc_synonym_t *out, char (*bufs)[32]);

/* Kafka's DescribeConfigs config_type number for a type (BOOLEAN 1, STRING 2, INT 3,
 * LONG 5, DOUBLE 6, LIST 7). */
int8_t rn_topicconf_kafka_type(rn_cfg_type_t type);

#endif
