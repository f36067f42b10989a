/* rn_topicconf: Kafka's topic configs, their broker synonyms and a topic's overrides
 * (see rn_topicconf.h). */
#include "meta/rn_topicconf.h"

#include "rn_alloc.h"
#include "rn_err.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define I32MAX INT32_MAX
#define I64MAX INT64_MAX
#define NONE                                                                                       \
    {                                                                                              \
        -1, -1, -1                                                                                 \
    }
#define SYN(a)                                                                                     \
    {                                                                                              \
        a, -1, -1                                                                                  \
    }
#define SYN3(a, b, c)                                                                              \
    {                                                                                              \
        a, b, c                                                                                    \
    }
#define SYN2(a, b)                                                                                 \
    {                                                                                              \
        a, b, -1                                                                                   \
    }

static const char *const tc_policies[] = {"compact", "delete", NULL};
static const char *const tc_codecs[] = {"uncompressed", "zstd",     "lz4", "snappy",
                                        "gzip",         "producer", NULL};
static const char *const tc_ts_types[] = {"CreateTime", "LogAppendTime", NULL};

#define TROW(key, nm, ty, syn, df, lo, hi, ch, dc)                                                 \
    [key] = {.name = nm,                                                                           \
             .type = ty,                                                                           \
             .synonyms = syn,                                                                      \
             .def = df,                                                                            \
             .min = lo,                                                                            \
             .max = hi,                                                                            \
             .choices = ch,                                                                        \
             .doc = dc}

/* Topic configs. Keep sorted by name: DescribeConfigs lists them in this order. */
static const rn_topicconf_def_t tc_defs[RN_TC__COUNT] = {
    TROW(RN_TC_CLEANUP_POLICY, "cleanup.policy", RN_CFG_LIST, SYN(RN_CFG_LOG_CLEANUP_POLICY),
         "delete", 0, 0, tc_policies,
         "delete removes old segments; compact keeps the last value of each key."),
    TROW(RN_TC_COMPRESSION_TYPE, "compression.type", RN_CFG_ENUM, SYN(RN_CFG_COMPRESSION_TYPE),
         "producer", 0, 0, tc_codecs,
         "producer keeps batches as sent; any codec (uncompressed, gzip, snappy, lz4, zstd) "
         "makes the broker recompress each batch whose codec differs to it before the append."),
    TROW(RN_TC_DELETE_RETENTION_MS, "delete.retention.ms", RN_CFG_LONG,
         SYN(RN_CFG_LOG_CLEANER_DELETE_RETENTION_MS), "86400000", 0, I64MAX, NULL,
         "How long tombstones stay in a compacted topic."),
    TROW(RN_TC_FILE_DELETE_DELAY_MS, "file.delete.delay.ms", RN_CFG_LONG,
         SYN(RN_CFG_LOG_SEGMENT_DELETE_DELAY_MS), "60000", 0, I64MAX, NULL,
         "Delay before a deleted segment's files are removed."),
    TROW(RN_TC_FLUSH_MESSAGES, "flush.messages", RN_CFG_LONG,
         SYN(RN_CFG_LOG_FLUSH_INTERVAL_MESSAGES), "9223372036854775807", 1, I64MAX, NULL,
         "Messages between fsyncs."),
    TROW(RN_TC_FLUSH_MS, "flush.ms", RN_CFG_LONG, SYN(RN_CFG_LOG_FLUSH_INTERVAL_MS),
         "9223372036854775807", 0, I64MAX, NULL, "Longest time between fsyncs."),
    TROW(RN_TC_FOLLOWER_REPLICATION_THROTTLED_REPLICAS, "follower.replication.throttled.replicas",
         RN_CFG_LIST, NONE, "", 0, 0, NULL, "Accepted; runnel does not throttle replication."),
    TROW(RN_TC_INDEX_INTERVAL_BYTES, "index.interval.bytes", RN_CFG_INT,
         SYN(RN_CFG_LOG_INDEX_INTERVAL_BYTES), "4096", 0, I32MAX, NULL,
         "Bytes of log between offset index entries."),
    TROW(RN_TC_LEADER_REPLICATION_THROTTLED_REPLICAS, "leader.replication.throttled.replicas",
         RN_CFG_LIST, NONE, "", 0, 0, NULL, "Accepted; runnel does not throttle replication."),
    TROW(RN_TC_MAX_COMPACTION_LAG_MS, "max.compaction.lag.ms", RN_CFG_LONG,
         SYN(RN_CFG_LOG_CLEANER_MAX_COMPACTION_LAG_MS), "9223372036854775807", 1, I64MAX, NULL,
         "Oldest an uncompacted record may get."),
    TROW(RN_TC_MAX_MESSAGE_BYTES, "max.message.bytes", RN_CFG_INT, SYN(RN_CFG_MESSAGE_MAX_BYTES),
         "1048588", 0, I32MAX, NULL, "Largest record batch the topic accepts."),
    TROW(RN_TC_MESSAGE_DOWNCONVERSION_ENABLE, "message.downconversion.enable", RN_CFG_BOOL, NONE,
         "true", 0, 0, NULL, "Accepted; runnel serves only record batch v2."),
    TROW(RN_TC_MESSAGE_FORMAT_VERSION, "message.format.version", RN_CFG_STRING, NONE, "3.0-IV1", 0,
         0, NULL,
         "Deprecated (removed in Kafka 4.0); accepted as Kafka 3.x does when it names a Kafka "
         "version (0.8.0 .. 3.x, e.g. 2.8 or 3.0-IV1), refused otherwise, and ignored: runnel "
         "stores record batches v2 only."),
    TROW(RN_TC_MESSAGE_TIMESTAMP_AFTER_MAX_MS, "message.timestamp.after.max.ms", RN_CFG_LONG, NONE,
         "9223372036854775807", 0, I64MAX, NULL,
         "Under CreateTime, how far a record's timestamp may be ahead of the broker's clock; "
         "later records fail the batch with INVALID_TIMESTAMP (uncompressed batches, and "
         "compressed ones when the window is finite)."),
    TROW(RN_TC_MESSAGE_TIMESTAMP_BEFORE_MAX_MS, "message.timestamp.before.max.ms", RN_CFG_LONG,
         NONE, "9223372036854775807", 0, I64MAX, NULL,
         "Under CreateTime, how far a record's timestamp may be behind the broker's clock; "
         "older records fail the batch with INVALID_TIMESTAMP."),
    TROW(RN_TC_MESSAGE_TIMESTAMP_TYPE, "message.timestamp.type", RN_CFG_ENUM,
         SYN(RN_CFG_LOG_MESSAGE_TIMESTAMP_TYPE), "CreateTime", 0, 0, tc_ts_types,
         "CreateTime or LogAppendTime."),
    TROW(RN_TC_MIN_CLEANABLE_DIRTY_RATIO, "min.cleanable.dirty.ratio", RN_CFG_DOUBLE, NONE, "0.5",
         0, 1, NULL, "Share of a compacted log that must be dirty before it is cleaned."),
    TROW(RN_TC_MIN_COMPACTION_LAG_MS, "min.compaction.lag.ms", RN_CFG_LONG,
         SYN(RN_CFG_LOG_CLEANER_MIN_COMPACTION_LAG_MS), "0", 0, I64MAX, NULL,
         "Youngest a record may be and still be compacted."),
    TROW(RN_TC_MIN_INSYNC_REPLICAS, "min.insync.replicas", RN_CFG_INT,
         SYN(RN_CFG_MIN_INSYNC_REPLICAS), "1", 1, I32MAX, NULL,
         "Fewest in-sync replicas for acks=all."),
    TROW(RN_TC_PREALLOCATE, "preallocate", RN_CFG_BOOL, SYN(RN_CFG_LOG_PREALLOCATE), "false", 0, 0,
         NULL, "Preallocate segment files."),
    TROW(RN_TC_RETENTION_BYTES, "retention.bytes", RN_CFG_LONG, SYN(RN_CFG_LOG_RETENTION_BYTES),
         "-1", -1, I64MAX, NULL,
         "Size a partition may reach before old segments go; -1 = no limit."),
    TROW(RN_TC_RETENTION_MS, "retention.ms", RN_CFG_LONG,
         SYN3(RN_CFG_LOG_RETENTION_MS, RN_CFG_LOG_RETENTION_MINUTES, RN_CFG_LOG_RETENTION_HOURS),
         "604800000", -1, I64MAX, NULL, "Time a segment is kept; -1 = forever."),
    TROW(RN_TC_SEGMENT_BYTES, "segment.bytes", RN_CFG_INT, SYN(RN_CFG_LOG_SEGMENT_BYTES),
         "1073741824", 14, I32MAX, NULL, "Size at which the active segment rolls."),
    TROW(RN_TC_SEGMENT_INDEX_BYTES, "segment.index.bytes", RN_CFG_INT,
         SYN(RN_CFG_LOG_INDEX_SIZE_MAX_BYTES), "10485760", 4, I32MAX, NULL,
         "Maximum size of a segment's offset index."),
    TROW(RN_TC_SEGMENT_JITTER_MS, "segment.jitter.ms", RN_CFG_LONG, NONE, "0", 0, I64MAX, NULL,
         "Random jitter subtracted from segment.ms."),
    TROW(RN_TC_SEGMENT_MS, "segment.ms", RN_CFG_LONG,
         SYN2(RN_CFG_LOG_ROLL_MS, RN_CFG_LOG_ROLL_HOURS), "604800000", 1, I64MAX, NULL,
         "Age at which the active segment rolls."),
    TROW(RN_TC_UNCLEAN_LEADER_ELECTION_ENABLE, "unclean.leader.election.enable", RN_CFG_BOOL,
         SYN(RN_CFG_UNCLEAN_LEADER_ELECTION_ENABLE), "false", 0, 0, NULL,
         "Allow an out-of-sync replica to become leader."),
};

const rn_topicconf_def_t *rn_topicconf_def(rn_tc_key_t key)
{
    if ((int)key < 0 || key >= RN_TC__COUNT)
        return NULL;
    return &tc_defs[key];
}

int rn_topicconf_find(const char *name, size_t len)
{
    for (int k = 0; k < RN_TC__COUNT; k++)
        if (strlen(tc_defs[k].name) == len && memcmp(tc_defs[k].name, name, len) == 0)
            return k;
    return -1;
}

/* A Kafka release as message.format.version names one: 0.8 .. 0.11 or 1 .. 3, a minor
 * version, an optional patch and an optional -IVn suffix (Kafka 3.x's MetadataVersion
 * names). Kafka 3.x accepts any of them and ignores those below 3.0 with a warning. */
static bool kafka_version_ok(const char *v)
{
    char *end;
    long major = strtol(v, &end, 10);
    if (end == v || *end != '.')
        return false;
    const char *p = end + 1;
    long minor = strtol(p, &end, 10);
    if (end == p || (major == 0 && (minor < 8 || minor > 11)) || major < 0 || major > 3)
        return false;
    if (*end == '.') {
        p = end + 1;
        (void)strtol(p, &end, 10);
        if (end == p)
            return false;
    }
    if (strncmp(end, "-IV", 3) == 0) {
        p = end + 3;
        (void)strtol(p, &end, 10);
        if (end == p)
            return false;
    }
    return *end == '\0';
}

int rn_topicconf_check(const char *name, size_t namelen, const char *value, rn_tc_key_t *key,
                       char *err, size_t errlen)
{
    int k = rn_topicconf_find(name, namelen);
    if (k < 0) {
        snprintf(err, errlen, "Unknown topic config name: %.*s", (int)namelen, name);
        return RN_ENOTFOUND;
    }
    const rn_topicconf_def_t *def = &tc_defs[k];
    if (value == NULL) {
        snprintf(err, errlen, "Null value not supported for topic config %s", def->name);
        return RN_EINVAL;
    }
    if (k == RN_TC_MESSAGE_FORMAT_VERSION && !kafka_version_ok(value)) {
        snprintf(err, errlen,
                 "Invalid value %s for configuration %s: Version `%s` is not a valid "
                 "version",
                 value, def->name, value);
        return RN_EINVAL;
    }
    int64_t num;
    const char *canon;
    int rc =
        rn_config_check_value(def->type, value, def->min, def->max, def->choices, &num, &canon);
    if (rc != 0) {
        char why[300];
        snprintf(err, errlen, "Invalid value %s for configuration %s: %s", value, def->name,
                 rn_config_value_error(def->type, value, def->min, def->max, def->choices, rc, why,
                                       sizeof(why)));
        return RN_EINVAL;
    }
    *key = (rn_tc_key_t)k;
    return 0;
}

int rn_topicconf_check_bytes(const char *name, size_t namelen, const char *value, size_t len,
                             char *err, size_t errlen)
{
    const char *nul = value != NULL ? memchr(value, '\0', len) : NULL;
    if (nul == NULL)
        return 0;
    /* Kafka trims bytes up to ' ' (NUL among them) from both ends before it parses a value,
     * so trailing NULs are as harmless as the C string's early end; anything after them is
     * part of the value, and no value may hold a NUL in its middle. */
    for (const char *p = nul; p < value + len; p++)
        if ((unsigned char)*p > ' ') {
            snprintf(err, errlen,
                     "Invalid value for configuration %.*s: it holds a NUL byte before its end",
                     (int)namelen, name);
            return RN_EINVAL;
        }
    return 0;
}

void rn_topicconf_set(rn_topicconf_t *conf, rn_tc_key_t key, const char *value)
{
    rn_free(conf->v[key]);
    conf->v[key] = NULL;
    if (value == NULL)
        return;
    int64_t num;
    const char *canon = value;
    const rn_topicconf_def_t *def = &tc_defs[key];
    if (rn_config_check_value(def->type, value, def->min, def->max, def->choices, &num, &canon) !=
        0)
        canon = value;
    if (def->type == RN_CFG_BOOL) /* store booleans as Kafka prints them */
        canon = num ? "true" : "false";
    conf->v[key] = rn_xstrdup(canon);
}

void rn_topicconf_copy(rn_topicconf_t *dst, const rn_topicconf_t *src)
{
    for (int k = 0; k < RN_TC__COUNT; k++)
        dst->v[k] = src->v[k] != NULL ? rn_xstrdup(src->v[k]) : NULL;
}

void rn_topicconf_free(rn_topicconf_t *conf)
{
    for (int k = 0; k < RN_TC__COUNT; k++) {
        rn_free(conf->v[k]);
        conf->v[k] = NULL;
    }
}

/* The broker-level value of key: text, and whether any synonym was set explicitly. */
static const char *broker_value(const rn_config_t *cfg, rn_tc_key_t key, bool *set, char *buf,
                                size_t buflen)
{
    const rn_topicconf_def_t *def = &tc_defs[key];
    *set = false;
    for (int i = 0; i < RN_TC_MAX_SYNONYMS && def->synonyms[i] >= 0; i++)
        *set |= cfg->v[def->synonyms[i]].set;
    /* Keys whose broker synonyms come in several units use the resolved value. */
    if (key == RN_TC_RETENTION_MS) {
        snprintf(buf, buflen, "%" PRId64, cfg->log_retention_ms);
        return buf;
    }
    if (key == RN_TC_SEGMENT_MS) {
        snprintf(buf, buflen, "%" PRId64, cfg->log_roll_ms);
        return buf;
    }
    for (int i = 0; i < RN_TC_MAX_SYNONYMS && def->synonyms[i] >= 0; i++) {
        const char *text = rn_config_text(cfg, (rn_cfg_key_t)def->synonyms[i], buf, buflen);
        if (text != NULL)
            return text;
    }
    return def->def != NULL ? def->def : "";
}

const char *rn_topicconf_value(const rn_topicconf_t *conf, const rn_config_t *cfg, rn_tc_key_t key,
                               rn_tc_source_t *source, char *buf, size_t buflen)
{
    if (conf != NULL && conf->v[key] != NULL) {
        if (source)
            *source = RN_TC_SOURCE_DYNAMIC_TOPIC;
        return conf->v[key];
    }
    bool set;
    const char *text = broker_value(cfg, key, &set, buf, buflen);
    if (source)
        *source = set ? RN_TC_SOURCE_STATIC_BROKER : RN_TC_SOURCE_DEFAULT;
    return text;
}

int64_t rn_topicconf_int(const rn_topicconf_t *conf, const rn_config_t *cfg, rn_tc_key_t key)
{
    char buf[32];
    const char *text = rn_topicconf_value(conf, cfg, key, NULL, buf, sizeof(buf));
    if (tc_defs[key].type == RN_CFG_BOOL)
        return strcmp(text, "true") == 0;
    return strtoll(text, NULL, 10);
}

double rn_topicconf_double(const rn_topicconf_t *conf, const rn_config_t *cfg, rn_tc_key_t key)
{
    char buf[32];
    return strtod(rn_topicconf_value(conf, cfg, key, NULL, buf, sizeof(buf)), NULL);
}

int rn_topicconf_synonyms(const rn_topicconf_t *conf, const rn_config_t *cfg, rn_tc_key_t key,
                          rn_tc_synonym_t *out, char (*bufs)[32])
{
    const rn_topicconf_def_t *def = &tc_defs[key];
    int n = 0;
    if (conf != NULL && conf->v[key] != NULL)
        out[n++] = (rn_tc_synonym_t){def->name, conf->v[key], RN_TC_SOURCE_DYNAMIC_TOPIC};
    for (int i = 0; i < RN_TC_MAX_SYNONYMS && def->synonyms[i] >= 0; i++) {
        rn_cfg_key_t bk = (rn_cfg_key_t)def->synonyms[i];
        if (cfg->v[bk].set) {
            const char *text = rn_config_text(cfg, bk, bufs[n], sizeof(bufs[n]));
            out[n] = (rn_tc_synonym_t){rn_config_def(bk)->name, text, RN_TC_SOURCE_STATIC_BROKER};
            n++;
        }
    }
    /* Kafka lists a default only for the primary broker synonym (log.retention.ms for
     * retention.ms, log.roll.ms for segment.ms: neither has one), not for the ones in
     * other units (log.retention.hours, log.roll.hours). */
    if (def->synonyms[0] >= 0) {
        const rn_config_def_t *bdef = rn_config_def((rn_cfg_key_t)def->synonyms[0]);
        if (bdef->def != NULL)
            out[n++] = (rn_tc_synonym_t){bdef->name, bdef->def, RN_TC_SOURCE_DEFAULT};
    }
    return n;
}

int8_t rn_topicconf_kafka_type(rn_cfg_type_t type)
{
    switch (type) {
    case RN_CFG_BOOL: return 1;
    case RN_CFG_STRING:
    case RN_CFG_ENUM: return 2;
    case RN_CFG_INT: return 3;
    case RN_CFG_LONG: return 5;
    case RN_CFG_DOUBLE: return 6;
    case RN_CFG_LIST: return 7;
    }
    return 0;
}
