/* runneld configuration: the key table, value parsing, flags, resolution (see rn_config.h).
 * The YAML reader lives in config_yaml.c. */
#include "config_int.h"

#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef RN_VERSION
#define RN_VERSION "0.0.0"
#endif

#define I32MAX INT32_MAX
#define I64MAX INT64_MAX

static const char *const rn_ts_types[] = {"CreateTime", "LogAppendTime", NULL};
static const char *const rn_codecs[] = {"producer", "uncompressed", "gzip", "snappy",
                                        "lz4",      "zstd",         NULL};
static const char *const rn_pem[] = {"PEM", NULL};
static const char *const rn_client_auth[] = {"none", "requested", "required", NULL};
static const char *const rn_sasl_mechs[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", NULL};
static const char *const rn_levels[] = {"trace", "debug", "info", "warn", "warning", "error", NULL};

#define ROW(key, nm, ty, df, lo, hi, ch, fl, dc)                                                   \
    [key] = {.name = nm,                                                                           \
             .type = ty,                                                                           \
             .def = df,                                                                            \
             .min = lo,                                                                            \
             .max = hi,                                                                            \
             .choices = ch,                                                                        \
             .flags = fl,                                                                          \
             .doc = dc}

/* The key table. Defaults are Kafka's unless the doc says otherwise. */
static const rn_config_def_t rn_config_defs[RN_CFG__COUNT] = {
    ROW(RN_CFG_NODE_ID, "node.id", RN_CFG_INT, "1", 0, I32MAX, NULL, 0,
        "This node's id, unique in the cluster (--node-id)."),
    ROW(RN_CFG_BROKER_ID, "broker.id", RN_CFG_INT, NULL, 0, I32MAX, NULL, RN_CFGF_ALIAS,
        "Older name of node.id."),
    ROW(RN_CFG_LISTENERS, "listeners", RN_CFG_LIST, "PLAINTEXT://127.0.0.1:9092", 0, 0, NULL, 0,
        "Addresses clients and other nodes connect to, NAME://HOST:PORT,... (HOST:PORT is "
        "named PLAINTEXT); an empty host listens on every interface (--listen sets one)."),
    ROW(RN_CFG_ADVERTISED_LISTENERS, "advertised.listeners", RN_CFG_LIST, NULL, 0, 0, NULL, 0,
        "Per listener, NAME://HOST:PORT,... given in Metadata to clients connected to it; a "
        "listener not named advertises its own address (the host name for an empty host; "
        "0.0.0.0 must be advertised)."),
    ROW(RN_CFG_LOG_DIRS, "log.dirs", RN_CFG_LIST, "./runnel-data", 0, 0, NULL, 0,
        "The data directory (one directory) holding partitions and checkpoints (--data-dir)."),
    ROW(RN_CFG_LOG_DIR, "log.dir", RN_CFG_STRING, NULL, 0, 0, NULL, RN_CFGF_ALIAS,
        "Data directory used when log.dirs is not given."),
    ROW(RN_CFG_CONTROLLER_QUORUM_VOTERS, "controller.quorum.voters", RN_CFG_LIST, NULL, 0, 0, NULL,
        0, "The cluster's nodes as ID@HOST:PORT,...; unset = single node (--cluster)."),
    ROW(RN_CFG_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS, "controller.quorum.election.timeout.ms",
        RN_CFG_INT, "1000", 1, I32MAX, NULL, 0,
        "Without a leader for this long (randomised up to twice it) a voter starts an "
        "election."),
    ROW(RN_CFG_CONTROLLER_QUORUM_FETCH_TIMEOUT_MS, "controller.quorum.fetch.timeout.ms", RN_CFG_INT,
        "2000", 1, I32MAX, NULL, 0,
        "A follower that hears nothing from the quorum leader for this long starts an "
        "election."),
    ROW(RN_CFG_CONTROLLER_QUORUM_ELECTION_BACKOFF_MAX_MS,
        "controller.quorum.election.backoff.max.ms", RN_CFG_INT, "1000", 1, I32MAX, NULL, 0,
        "Longest wait before a candidate that lost an election tries again."),
    ROW(RN_CFG_CONTROLLER_QUORUM_REQUEST_TIMEOUT_MS, "controller.quorum.request.timeout.ms",
        RN_CFG_INT, "2000", 1, I32MAX, NULL, 0,
        "A quorum request (Vote, Fetch, ...) unanswered for this long is given up."),
    ROW(RN_CFG_METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS,
        "metadata.log.max.record.bytes.between.snapshots", RN_CFG_INT, "20971520", 1, INT64_MAX,
        NULL, 0, "Bytes of metadata records applied between two metadata snapshots."),
    ROW(RN_CFG_CLUSTER_ID, "cluster.id", RN_CFG_STRING, NULL, 0, 0, NULL, 0,
        "Cluster id for a new data directory; an existing one keeps the id in "
        "meta.properties. Unset = generated."),
    ROW(RN_CFG_PROCESS_ROLES, "process.roles", RN_CFG_LIST, "broker,controller", 0, 0, NULL,
        RN_CFGF_IGNORED, "Every runnel node is broker and controller (combined mode)."),
    ROW(RN_CFG_NUM_PARTITIONS, "num.partitions", RN_CFG_INT, "1", 1, 100000, NULL, 0,
        "Partitions of an auto-created topic, or of a created topic asking for -1."),
    ROW(RN_CFG_DEFAULT_REPLICATION_FACTOR, "default.replication.factor", RN_CFG_INT, "-1", -1,
        32767, NULL, 0,
        "Replication factor of auto-created topics and of topics asking for -1; -1 means "
        "min(3, number of nodes) (runnel's default)."),
    ROW(RN_CFG_AUTO_CREATE_TOPICS_ENABLE, "auto.create.topics.enable", RN_CFG_BOOL, "true", 0, 0,
        NULL, 0, "Create a topic when Metadata names one that does not exist."),
    ROW(RN_CFG_DELETE_TOPIC_ENABLE, "delete.topic.enable", RN_CFG_BOOL, "true", 0, 0, NULL, 0,
        "Allow DeleteTopics."),
    ROW(RN_CFG_LOG_SEGMENT_BYTES, "log.segment.bytes", RN_CFG_INT, "1073741824", 14, I32MAX, NULL,
        0, "Size at which a partition's active segment is rolled."),
    ROW(RN_CFG_LOG_ROLL_MS, "log.roll.ms", RN_CFG_LONG, NULL, 1, I64MAX, NULL, 0,
        "Age at which the active segment is rolled; overrides log.roll.hours."),
    ROW(RN_CFG_LOG_ROLL_HOURS, "log.roll.hours", RN_CFG_INT, "168", 1, I32MAX, NULL, 0,
        "Age in hours at which the active segment is rolled."),
    ROW(RN_CFG_LOG_RETENTION_MS, "log.retention.ms", RN_CFG_LONG, NULL, -1, I64MAX, NULL, 0,
        "Time to keep a segment; -1 = forever. Overrides .minutes and .hours."),
    ROW(RN_CFG_LOG_RETENTION_MINUTES, "log.retention.minutes", RN_CFG_INT, NULL, -1, I32MAX, NULL,
        0, "Time to keep a segment in minutes; overrides log.retention.hours."),
    ROW(RN_CFG_LOG_RETENTION_HOURS, "log.retention.hours", RN_CFG_INT, "168", -1, I32MAX, NULL, 0,
        "Time to keep a segment in hours."),
    ROW(RN_CFG_LOG_RETENTION_BYTES, "log.retention.bytes", RN_CFG_LONG, "-1", -1, I64MAX, NULL, 0,
        "Size a partition may reach before old segments are deleted; -1 = no limit."),
    ROW(RN_CFG_LOG_RETENTION_CHECK_INTERVAL_MS, "log.retention.check.interval.ms", RN_CFG_LONG,
        "300000", 1, I64MAX, NULL, 0, "How often retention runs."),
    ROW(RN_CFG_LOG_SEGMENT_DELETE_DELAY_MS, "log.segment.delete.delay.ms", RN_CFG_LONG, "60000", 0,
        I64MAX, NULL, 0, "Delay before a segment removed by retention is deleted from disk."),
    ROW(RN_CFG_LOG_INDEX_INTERVAL_BYTES, "log.index.interval.bytes", RN_CFG_INT, "4096", 0, I32MAX,
        NULL, 0, "Bytes of log between two offset index entries."),
    ROW(RN_CFG_LOG_INDEX_SIZE_MAX_BYTES, "log.index.size.max.bytes", RN_CFG_INT, "10485760", 4,
        I32MAX, NULL, 0, "Maximum size of an offset index; a full index rolls the segment."),
    ROW(RN_CFG_LOG_FLUSH_INTERVAL_MESSAGES, "log.flush.interval.messages", RN_CFG_LONG,
        "9223372036854775807", 1, I64MAX, NULL, 0,
        "Messages appended before the partition is fsynced (default: never; rely on "
        "replication)."),
    ROW(RN_CFG_LOG_FLUSH_INTERVAL_MS, "log.flush.interval.ms", RN_CFG_LONG, NULL, 0, I64MAX, NULL,
        0, "Longest time appended data stays unsynced; unset = never."),
    ROW(RN_CFG_LOG_CLEANUP_POLICY, "log.cleanup.policy", RN_CFG_LIST, "delete", 0, 0, NULL, 0,
        "delete, compact, or compact,delete."),
    ROW(RN_CFG_LOG_CLEANER_ENABLE, "log.cleaner.enable", RN_CFG_BOOL, "true", 0, 0, NULL, 0,
        "Run compaction for topics with cleanup.policy=compact."),
    ROW(RN_CFG_LOG_CLEANER_DELETE_RETENTION_MS, "log.cleaner.delete.retention.ms", RN_CFG_LONG,
        "86400000", 0, I64MAX, NULL, 0,
        "How long delete markers (tombstones) stay in compacted topics."),
    ROW(RN_CFG_LOG_CLEANER_MIN_COMPACTION_LAG_MS, "log.cleaner.min.compaction.lag.ms", RN_CFG_LONG,
        "0", 0, I64MAX, NULL, 0, "Youngest a record may be and still be compacted away."),
    ROW(RN_CFG_LOG_CLEANER_MAX_COMPACTION_LAG_MS, "log.cleaner.max.compaction.lag.ms", RN_CFG_LONG,
        "9223372036854775807", 1, I64MAX, NULL, 0,
        "Oldest an uncompacted record may get before compaction is forced."),
    ROW(RN_CFG_LOG_CLEANER_BACKOFF_MS, "log.cleaner.backoff.ms", RN_CFG_LONG, "15000", 1, I64MAX,
        NULL, 0, "How long the log cleaner sleeps when no compacted log needs cleaning."),
    ROW(RN_CFG_LOG_CLEANER_DEDUPE_BUFFER_SIZE, "log.cleaner.dedupe.buffer.size", RN_CFG_LONG,
        "134217728", 1048576, I64MAX, NULL, 0,
        "Memory for the key map of one compaction pass (24 bytes a key)."),
    ROW(RN_CFG_LOG_PREALLOCATE, "log.preallocate", RN_CFG_BOOL, "false", 0, 0, NULL, 0,
        "Preallocate new segment files."),
    ROW(RN_CFG_LOG_MESSAGE_TIMESTAMP_TYPE, "log.message.timestamp.type", RN_CFG_ENUM, "CreateTime",
        0, 0, rn_ts_types, 0,
        "CreateTime keeps the producer's timestamps; LogAppendTime stamps batches on append."),
    ROW(RN_CFG_COMPRESSION_TYPE, "compression.type", RN_CFG_ENUM, "producer", 0, 0, rn_codecs, 0,
        "Accepted for compatibility; runnel stores batches as produced (no recompression)."),
    ROW(RN_CFG_MESSAGE_MAX_BYTES, "message.max.bytes", RN_CFG_INT, "1048588", 0, I32MAX, NULL, 0,
        "Largest record batch a topic accepts."),
    ROW(RN_CFG_SOCKET_REQUEST_MAX_BYTES, "socket.request.max.bytes", RN_CFG_INT, "104857600", 1,
        I32MAX, NULL, 0, "Largest request frame; a bigger one closes the connection."),
    ROW(RN_CFG_SOCKET_SEND_BUFFER_BYTES, "socket.send.buffer.bytes", RN_CFG_INT, "-1", -1, I32MAX,
        NULL, 0, "SO_SNDBUF of client sockets; -1 = the OS default (runnel's default)."),
    ROW(RN_CFG_SOCKET_RECEIVE_BUFFER_BYTES, "socket.receive.buffer.bytes", RN_CFG_INT, "-1", -1,
        I32MAX, NULL, 0, "SO_RCVBUF of client sockets; -1 = the OS default (runnel's default)."),
    ROW(RN_CFG_CONNECTIONS_MAX_IDLE_MS, "connections.max.idle.ms", RN_CFG_LONG, "600000", -1,
        I64MAX, NULL, 0,
        "Close a connection that has completed no request and sent no response bytes for "
        "this long (bytes of an unfinished request do not count); -1 = never."),
    /* Network limits against hostile clients (broker/net). */
    ROW(RN_CFG_MAX_CONNECTIONS, "max.connections", RN_CFG_INT, "2147483647", 1, I32MAX, NULL, 0,
        "Most open client connections; a connection over it is accepted and closed at once. "
        "Not set: Kafka's default, capped at the open-files limit less 64."),
    ROW(RN_CFG_MAX_CONNECTIONS_PER_IP, "max.connections.per.ip", RN_CFG_INT, "2147483647", 1,
        I32MAX, NULL, 0,
        "Most open connections from one IP address; one over it is accepted and closed at "
        "once."),
    ROW(RN_CFG_MAX_CONNECTIONS_PER_IP_OVERRIDES, "max.connections.per.ip.overrides", RN_CFG_LIST,
        "", 0, 0, NULL, 0,
        "Per-address exceptions to max.connections.per.ip, as HOST:N,HOST:N (host names are "
        "resolved at start-up)."),
    ROW(RN_CFG_SOCKET_REQUEST_READ_TIMEOUT_MS, "socket.request.read.timeout.ms", RN_CFG_LONG,
        "30000", -1, I64MAX, NULL, 0,
        "Time a client has to send the rest of a request once its first byte arrived; a "
        "slower connection is closed (runnel's own setting); -1 = no limit."),
    ROW(RN_CFG_QUEUED_MAX_REQUEST_BYTES, "queued.max.request.bytes", RN_CFG_LONG, "209715200", -1,
        I64MAX, NULL, 0,
        "Memory for requests being read or handled, over all connections; at the bound, "
        "reading pauses until requests finish. At least socket.request.max.bytes; -1 = no "
        "bound (runnel's default is 200 MiB)."),
    ROW(RN_CFG_CONNECTIONS_MAX_QUEUED_RESPONSE_BYTES, "connections.max.queued.response.bytes",
        RN_CFG_LONG, "4194304", 65536, I64MAX, NULL, 0,
        "Bytes of unsent responses (and of requests still being handled) one connection may "
        "hold before runnel stops reading its requests until it drains (runnel's own "
        "setting)."),
    ROW(RN_CFG_METRICS_CONNECTION_TIMEOUT_MS, "metrics.connection.timeout.ms", RN_CFG_LONG, "30000",
        100, I64MAX, NULL, 0,
        "Time an HTTP connection to metrics.listen has for each request, from connecting or "
        "from its previous answer; then it is closed, whatever it is sending (runnel's own "
        "setting)."),
    ROW(RN_CFG_MIN_INSYNC_REPLICAS, "min.insync.replicas", RN_CFG_INT, "1", 1, I32MAX, NULL, 0,
        "Fewest in-sync replicas for an acks=all produce to succeed."),
    ROW(RN_CFG_UNCLEAN_LEADER_ELECTION_ENABLE, "unclean.leader.election.enable", RN_CFG_BOOL,
        "false", 0, 0, NULL, 0, "Allow an out-of-sync replica to become leader (may lose data)."),
    ROW(RN_CFG_REPLICA_LAG_TIME_MAX_MS, "replica.lag.time.max.ms", RN_CFG_LONG, "30000", 0, I64MAX,
        NULL, 0, "A follower not caught up for this long leaves the ISR."),
    ROW(RN_CFG_REPLICA_FETCH_MAX_BYTES, "replica.fetch.max.bytes", RN_CFG_INT, "1048576", 0, I32MAX,
        NULL, 0, "Bytes a follower asks for per partition."),
    ROW(RN_CFG_REPLICA_FETCH_WAIT_MAX_MS, "replica.fetch.wait.max.ms", RN_CFG_INT, "500", 0, I32MAX,
        NULL, 0, "Longest a follower's fetch waits for data."),
    ROW(RN_CFG_FETCH_MAX_BYTES, "fetch.max.bytes", RN_CFG_INT, "57671680", 1024, I32MAX, NULL, 0,
        "Most bytes one Fetch response carries."),
    /* Bounds on what one request may cost (runnel's own keys; Kafka leaves them to quotas
     * and policies). */
    ROW(RN_CFG_FETCH_MAX_WAIT_MS_CAP, "fetch.max.wait.ms.cap", RN_CFG_INT, "30000", 0, I32MAX, NULL,
        0,
        "Longest a Fetch is parked whatever its max_wait_ms asks (runnel's own key; clients' "
        "request.timeout.ms bounds it anyway)."),
    ROW(RN_CFG_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS,
        "max.incremental.fetch.session.cache.slots", RN_CFG_INT, "1000", 0, I32MAX, NULL, 0,
        "Most fetch sessions (KIP-227) this node keeps; a full fetch that finds no slot free "
        "and none evictable is answered without a session."),
    ROW(RN_CFG_MAX_PARTITIONS_PER_REQUEST, "max.partitions.per.request", RN_CFG_INT, "10000", 1,
        I32MAX, NULL, 0,
        "Most partitions one CreateTopics or CreatePartitions request may add; past it a topic "
        "gets POLICY_VIOLATION, as Kafka answers an operation over 10000 records (runnel's own "
        "key)."),
    ROW(RN_CFG_MAX_PARTITIONS_PER_TOPIC, "max.partitions.per.topic", RN_CFG_INT, "10000", 1, I32MAX,
        NULL, 0,
        "Most partitions one topic may have; a larger count gets INVALID_PARTITIONS (runnel's own "
        "key)."),
    ROW(RN_CFG_MAX_PARTITIONS, "max.partitions", RN_CFG_INT, "-1", -1, I32MAX, NULL, 0,
        "Most partitions this node holds; creations past it get POLICY_VIOLATION. -1 = what the "
        "open-file limit allows: RLIMIT_NOFILE - 256, one open .log each (indexes are mapped, "
        "their files closed; runnel's own key)."),
    ROW(RN_CFG_AUTO_CREATE_TOPICS_RATE, "auto.create.topics.rate", RN_CFG_INT, "100", 1, I32MAX,
        NULL, 0,
        "Most topics Metadata requests auto-create per second (server-wide, bursts of as many); "
        "the rest answer UNKNOWN_TOPIC_OR_PARTITION and the client retries (runnel's own key)."),
    ROW(RN_CFG_BROKER_HEARTBEAT_INTERVAL_MS, "broker.heartbeat.interval.ms", RN_CFG_INT, "2000", 1,
        I32MAX, NULL, 0, "How often this broker heartbeats to the active controller."),
    ROW(RN_CFG_BROKER_SESSION_TIMEOUT_MS, "broker.session.timeout.ms", RN_CFG_INT, "9000", 1,
        I32MAX, NULL, 0,
        "A broker whose heartbeats stop for this long is fenced by the active controller."),
    ROW(RN_CFG_CONTROLLED_SHUTDOWN_ENABLE, "controlled.shutdown.enable", RN_CFG_BOOL, "true", 0, 0,
        NULL, 0,
        "On SIGTERM, a node of a cluster with other brokers first asks the active controller to "
        "move its partition leaderships away and take it off the ISRs, then stops."),
    ROW(RN_CFG_CONTROLLED_SHUTDOWN_TIMEOUT_MS, "controlled.shutdown.timeout.ms", RN_CFG_INT, "5000",
        0, I32MAX, NULL, 0,
        "Longest a controlled shutdown waits for the controller's go-ahead before the node stops "
        "anyway (runnel's own key)."),
    /* Client quotas (broker/quota). */
    ROW(RN_CFG_QUOTA_WINDOW_NUM, "quota.window.num", RN_CFG_INT, "11", 1, 1000, NULL, 0,
        "Samples a client's produce, fetch and request-time rates are measured over."),
    ROW(RN_CFG_QUOTA_WINDOW_SIZE_SECONDS, "quota.window.size.seconds", RN_CFG_INT, "1", 1, 3600,
        NULL, 0, "Length of one quota sample."),
    ROW(RN_CFG_OFFSETS_TOPIC_NUM_PARTITIONS, "offsets.topic.num.partitions", RN_CFG_INT, "50", 1,
        100000, NULL, 0, "Partitions of __consumer_offsets."),
    ROW(RN_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR, "offsets.topic.replication.factor", RN_CFG_INT,
        "3", 1, 32767, NULL, 0,
        "Replication factor of __consumer_offsets (capped at the number of nodes)."),
    ROW(RN_CFG_OFFSETS_TOPIC_SEGMENT_BYTES, "offsets.topic.segment.bytes", RN_CFG_INT, "104857600",
        1, I32MAX, NULL, 0, "Segment size of __consumer_offsets."),
    ROW(RN_CFG_OFFSETS_RETENTION_MINUTES, "offsets.retention.minutes", RN_CFG_INT, "10080", 1,
        I32MAX, NULL, 0, "How long committed offsets of an empty group are kept."),
    ROW(RN_CFG_OFFSETS_COMMIT_TIMEOUT_MS, "offsets.commit.timeout.ms", RN_CFG_INT, "5000", 1,
        I32MAX, NULL, 0,
        "An offset commit (or a group's record) is answered once replicated to the in-sync "
        "replicas, or fails after this long."),
    ROW(RN_CFG_GROUP_INITIAL_REBALANCE_DELAY_MS, "group.initial.rebalance.delay.ms", RN_CFG_INT,
        "3000", 0, I32MAX, NULL, 0,
        "Wait for more members before the first rebalance of a new group."),
    ROW(RN_CFG_GROUP_MIN_SESSION_TIMEOUT_MS, "group.min.session.timeout.ms", RN_CFG_INT, "6000", 0,
        I32MAX, NULL, 0, "Smallest session timeout a group member may ask for."),
    ROW(RN_CFG_GROUP_MAX_SESSION_TIMEOUT_MS, "group.max.session.timeout.ms", RN_CFG_INT, "1800000",
        0, I32MAX, NULL, 0, "Largest session timeout a group member may ask for."),
    ROW(RN_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR, "transaction.state.log.replication.factor",
        RN_CFG_INT, "3", 1, 32767, NULL, 0,
        "Replication factor of __transaction_state (capped at the number of nodes)."),
    ROW(RN_CFG_TRANSACTION_STATE_LOG_MIN_ISR, "transaction.state.log.min.isr", RN_CFG_INT, "2", 1,
        I32MAX, NULL, 0, "min.insync.replicas of __transaction_state."),
    ROW(RN_CFG_SSL_KEYSTORE_TYPE, "ssl.keystore.type", RN_CFG_ENUM, "PEM", 0, 0, rn_pem,
        RN_CFGF_LISTENER,
        "Format of the key store: PEM only (Kafka's default JKS is not read; convert with "
        "openssl)."),
    ROW(RN_CFG_SSL_KEYSTORE_LOCATION, "ssl.keystore.location", RN_CFG_STRING, NULL, 0, 0, NULL,
        RN_CFGF_LISTENER,
        "PEM file with this node's certificate, its chain and its private key (SSL "
        "listeners; as a client certificate on inter-node connections). Re-read on SIGHUP."),
    ROW(RN_CFG_SSL_KEYSTORE_CERTIFICATE_CHAIN, "ssl.keystore.certificate.chain", RN_CFG_STRING,
        NULL, 0, 0, NULL, RN_CFGF_LISTENER | RN_CFGF_SENSITIVE,
        "The certificate chain itself in PEM, instead of ssl.keystore.location (with "
        "ssl.keystore.key)."),
    ROW(RN_CFG_SSL_KEYSTORE_KEY, "ssl.keystore.key", RN_CFG_STRING, NULL, 0, 0, NULL,
        RN_CFGF_LISTENER | RN_CFGF_SENSITIVE,
        "The private key itself in PEM (PKCS#8, encrypted with ssl.key.password or not), with "
        "ssl.keystore.certificate.chain."),
    ROW(RN_CFG_SSL_KEYSTORE_PASSWORD, "ssl.keystore.password", RN_CFG_STRING, NULL, 0, 0, NULL,
        RN_CFGF_LISTENER | RN_CFGF_SENSITIVE,
        "Refused: a PEM key store has no store password, only ssl.key.password, as in Kafka."),
    ROW(RN_CFG_SSL_KEY_PASSWORD, "ssl.key.password", RN_CFG_STRING, NULL, 0, 0, NULL,
        RN_CFGF_LISTENER | RN_CFGF_SENSITIVE, "Password of an encrypted private key."),
    ROW(RN_CFG_SSL_TRUSTSTORE_TYPE, "ssl.truststore.type", RN_CFG_ENUM, "PEM", 0, 0, rn_pem,
        RN_CFGF_LISTENER, "Format of the trust store: PEM only."),
    ROW(RN_CFG_SSL_TRUSTSTORE_LOCATION, "ssl.truststore.location", RN_CFG_STRING, NULL, 0, 0, NULL,
        RN_CFGF_LISTENER,
        "PEM bundle of the CA certificates trusted for client certificates and for the "
        "certificates of other nodes. Re-read on SIGHUP."),
    ROW(RN_CFG_SSL_TRUSTSTORE_CERTIFICATES, "ssl.truststore.certificates", RN_CFG_STRING, NULL, 0,
        0, NULL, RN_CFGF_LISTENER,
        "The trusted CA certificates themselves in PEM, instead of ssl.truststore.location."),
    ROW(RN_CFG_SSL_TRUSTSTORE_PASSWORD, "ssl.truststore.password", RN_CFG_STRING, NULL, 0, 0, NULL,
        RN_CFGF_LISTENER | RN_CFGF_SENSITIVE,
        "Refused: a PEM trust store has no password, as in Kafka."),
    ROW(RN_CFG_SSL_CLIENT_AUTH, "ssl.client.auth", RN_CFG_ENUM, "none", 0, 0, rn_client_auth,
        RN_CFGF_LISTENER,
        "Client certificates on SSL listeners: none, requested (verified when sent) or "
        "required. A verified certificate's subject is the connection's principal."),
    ROW(RN_CFG_SSL_PROTOCOL, "ssl.protocol", RN_CFG_STRING, "TLSv1.3", 0, 0, NULL, RN_CFGF_LISTENER,
        "Highest TLS version: TLSv1.3 or TLSv1.2 (TLS = TLSv1.3); older ones are refused."),
    ROW(RN_CFG_SSL_ENABLED_PROTOCOLS, "ssl.enabled.protocols", RN_CFG_LIST, "TLSv1.2,TLSv1.3", 0, 0,
        NULL, RN_CFGF_LISTENER,
        "TLS versions offered: TLSv1.2 and/or TLSv1.3; older ones are refused at start-up."),
    ROW(RN_CFG_SSL_CIPHER_SUITES, "ssl.cipher.suites", RN_CFG_LIST, NULL, 0, 0, NULL,
        RN_CFGF_LISTENER,
        "Cipher suites by their IANA names (TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "
        "TLS_AES_128_GCM_SHA256); unset = OpenSSL's defaults."),
    ROW(RN_CFG_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM, "ssl.endpoint.identification.algorithm",
        RN_CFG_STRING, "https", 0, 0, NULL, RN_CFGF_LISTENER,
        "https: inter-node connections check that the other node's certificate names the "
        "host connected to; empty: only that it is signed by a trusted CA."),
    ROW(RN_CFG_LOG_LEVEL, "log.level", RN_CFG_ENUM, "info", 0, 0, rn_levels, 0,
        "Log verbosity: debug, info, warn or error; SIGHUP re-reads it from the config file."),
    ROW(RN_CFG_METRICS_LISTEN, "metrics.listen", RN_CFG_STRING, NULL, 0, 0, NULL, 0,
        "HOST:PORT of the HTTP endpoint serving Prometheus /metrics, /health and /ready "
        "(e.g. 127.0.0.1:9644); unset = no endpoint."),
    ROW(RN_CFG_CONSOLE_ENABLE, "console.enable", RN_CFG_BOOL, "false", 0, 0, NULL, 0,
        "Serve the web console (/console/) and its JSON API (/api/) on metrics.listen, which "
        "must be set (runnel's own setting)."),
    ROW(RN_CFG_CONSOLE_ALLOW_REMOTE, "console.allow.remote", RN_CFG_BOOL, "false", 0, 0, NULL, 0,
        "Answer the console and its API for clients other than loopback ones; off, they get "
        "403 whatever address metrics.listen binds (runnel's own setting)."),
    ROW(RN_CFG_CONSOLE_WRITE_ENABLE, "console.write.enable", RN_CFG_BOOL, "false", 0, 0, NULL, 0,
        "Allow the console's write actions (create topic, add partitions, alter configs, reset "
        "a group's offsets, produce a test message); off, the console is read-only "
        "(runnel's own setting)."),
    ROW(RN_CFG_BROKER_RACK, "broker.rack", RN_CFG_STRING, NULL, 0, 0, NULL, RN_CFGF_IGNORED,
        "Rack of this node (accepted; not used for placement)."),
    /* Named listeners (config_listeners.c). */
    ROW(RN_CFG_CONTROLLER_LISTENER_NAMES, "controller.listener.names", RN_CFG_LIST, NULL, 0, 0,
        NULL, 0,
        "Listener(s) controller RPCs arrive on, the first used; each must be in listeners. "
        "Unset = the inter-broker listener. Every listener serves every request."),
    ROW(RN_CFG_INTER_BROKER_LISTENER_NAME, "inter.broker.listener.name", RN_CFG_STRING, NULL, 0, 0,
        NULL, 0,
        "Listener other nodes reach this one on; unset = the one named PLAINTEXT, else the "
        "first in listeners."),
    ROW(RN_CFG_LISTENER_SECURITY_PROTOCOL_MAP, "listener.security.protocol.map", RN_CFG_LIST, NULL,
        0, 0, NULL, 0,
        "NAME:PROTOCOL,... for every listener; unset = a listener named after a protocol uses "
        "it (controller listeners PLAINTEXT). runnel speaks PLAINTEXT, SSL, SASL_PLAINTEXT and "
        "SASL_SSL."),
    ROW(RN_CFG_NUM_NETWORK_THREADS, "num.network.threads", RN_CFG_INT, "3", 1, I32MAX, NULL,
        RN_CFGF_IGNORED, "Accepted; runnel runs one event loop."),
    ROW(RN_CFG_NUM_IO_THREADS, "num.io.threads", RN_CFG_INT, "8", 1, I32MAX, NULL, RN_CFGF_IGNORED,
        "Accepted; runnel runs one event loop (produce.worker.threads moves Produce's per-byte "
        "work off it)."),
    ROW(RN_CFG_PRODUCE_WORKER_THREADS, "produce.worker.threads", RN_CFG_INT, "0", 0, 64, NULL, 0,
        "Threads that check large produced batches (64 KiB and up, or 4 KiB for a compressed "
        "one whose records must be read: CRC-32C, decompression and record rules, "
        "recompression) off the event loop, in request order per partition; 0 = those checks "
        "run on the loop and only recompressions leave it, on one thread. "
        "runnel's own setting rather than Kafka's num.io.threads, which sizes the threads "
        "that handle whole requests (default 8): a Kafka configuration copied over would "
        "start threads for work runnel does not hand them. Off by default: on 2 cores it "
        "gains nothing (docs/performance.md)."),
    ROW(RN_CFG_NUM_RECOVERY_THREADS_PER_DATA_DIR, "num.recovery.threads.per.data.dir", RN_CFG_INT,
        "1", 1, I32MAX, NULL, RN_CFGF_IGNORED, "Accepted; recovery runs on one thread."),
    ROW(RN_CFG_ZOOKEEPER_CONNECT, "zookeeper.connect", RN_CFG_STRING, NULL, 0, 0, NULL,
        RN_CFGF_IGNORED, "Accepted and ignored: runnel keeps metadata in its own quorum."),
    /* Authorization (acl/rn_authz.h). */
    ROW(RN_CFG_AUTHORIZER_CLASS_NAME, "authorizer.class.name", RN_CFG_STRING, NULL, 0, 0, NULL, 0,
        "org.apache.kafka.metadata.authorizer.StandardAuthorizer turns on ACL authorization "
        "(ACLs kept in the cluster metadata); empty = every request allowed."),
    ROW(RN_CFG_SUPER_USERS, "super.users", RN_CFG_STRING, NULL, 0, 0, NULL, 0,
        "Principals allowed everything, separated by ';' (e.g. User:admin;User:broker)."),
    ROW(RN_CFG_ALLOW_EVERYONE_IF_NO_ACL_FOUND, "allow.everyone.if.no.acl.found", RN_CFG_BOOL,
        "false", 0, 0, NULL, 0,
        "With the authorizer on: allow a request on a resource no ACL names."),
    /* SASL (broker/auth). */
    ROW(RN_CFG_SASL_ENABLED_MECHANISMS, "sasl.enabled.mechanisms", RN_CFG_LIST,
        "SCRAM-SHA-256,SCRAM-SHA-512", 0, 0, rn_sasl_mechs, 0,
        "SASL mechanisms SASL_* listeners offer (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512; Kafka's "
        "default GSSAPI is not offered); listener.name.<l>.sasl.enabled.mechanisms overrides it "
        "per listener. PLAIN checks passwords against the users' SCRAM credentials."),
    ROW(RN_CFG_SASL_MECHANISM_INTER_BROKER_PROTOCOL, "sasl.mechanism.inter.broker.protocol",
        RN_CFG_ENUM, "SCRAM-SHA-512", 0, 0, rn_sasl_mechs, 0,
        "Mechanism this node logs in with to other nodes when the inter-broker listener is "
        "SASL_*."),
    ROW(RN_CFG_SASL_JAAS_CONFIG, "sasl.jaas.config", RN_CFG_STRING, NULL, 0, 0, NULL,
        RN_CFGF_SENSITIVE,
        "Credentials for logging in to other nodes, Kafka's form: '<LoginModule> required "
        "username=\"NAME\" password=\"PW\";' (listener.name.<l>.<mechanism>.sasl.jaas.config "
        "wins)."),
    ROW(RN_CFG_CONNECTIONS_MAX_REAUTH_MS, "connections.max.reauth.ms", RN_CFG_LONG, "0", 0, I64MAX,
        NULL, 0,
        "Longest a SASL login lasts before the client must re-authenticate (KIP-368); a "
        "connection whose session ran out is closed on its next other request. 0 = forever."),
};

/* Which layer set a value; a file may not set a key twice, a later flag overrides. */
enum { LAYER_DEFAULT = 0, LAYER_FILE = 1, LAYER_FLAG = 2 };

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return RN_EINVAL;
}

const rn_config_def_t *rn_config_def(rn_cfg_key_t key)
{
    if ((int)key < 0 || key >= RN_CFG__COUNT)
        return NULL;
    return &rn_config_defs[key];
}

int rn_config_find(const char *name)
{
    for (int k = 0; k < RN_CFG__COUNT; k++)
        if (strcmp(rn_config_defs[k].name, name) == 0)
            return k;
    return -1;
}

/* Parse a decimal integer that must consume all of text and lie in [min, max]. */
static int parse_int(const char *text, int64_t min, int64_t max, int64_t *out)
{
    if (text == NULL || *text == '\0')
        return RN_EINVAL;
    char *end;
    errno = 0;
    long long val = strtoll(text, &end, 10);
    if (errno != 0 || *end != '\0' || end == text)
        return RN_EINVAL;
    if (val < min || val > max)
        return RN_ERANGE;
    *out = val;
    return 0;
}

static int parse_bool(const char *text, int64_t *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0)
            return (*out = 1, 0);
        if (strcasecmp(text, no[i]) == 0)
            return (*out = 0, 0);
    }
    return RN_EINVAL;
}

static bool in_choices(const char *const *choices, const char *text, size_t len, const char **canon)
{
    for (size_t i = 0; choices[i] != NULL; i++) {
        if (strlen(choices[i]) == len && strncasecmp(text, choices[i], len) == 0) {
            *canon = choices[i];
            return true;
        }
    }
    return false;
}

int rn_config_check_value(rn_cfg_type_t type, const char *text, int64_t min, int64_t max,
                          const char *const *choices, int64_t *num, const char **canon)
{
    *num = 0;
    *canon = text;
    switch (type) {
    case RN_CFG_INT:
    case RN_CFG_LONG: return parse_int(text, min, max, num);
    case RN_CFG_BOOL: return parse_bool(text, num);
    case RN_CFG_DOUBLE: {
        char *end;
        errno = 0;
        double d = strtod(text, &end);
        if (*text == '\0' || *end != '\0' || errno != 0 || d != d)
            return RN_EINVAL;
        return d < (double)min || d > (double)max ? RN_ERANGE : 0;
    }
    case RN_CFG_ENUM: return in_choices(choices, text, strlen(text), canon) ? 0 : RN_EINVAL;
    case RN_CFG_LIST:
        if (choices != NULL) {
            const char *item = text, *ignored;
            for (;;) {
                const char *comma = strchr(item, ',');
                size_t len = comma ? (size_t)(comma - item) : strlen(item);
                if (!in_choices(choices, item, len, &ignored))
                    return RN_EINVAL;
                if (comma == NULL)
                    break;
                item = comma + 1;
            }
        }
        return 0;
    case RN_CFG_STRING: return 0;
    }
    return RN_EINVAL;
}

/* The reason part of a value error from rn_config_check_value, into buf. */
const char *rn_config_value_error(rn_cfg_type_t type, const char *text, int64_t min, int64_t max,
                                  const char *const *choices, int rc, char *buf, size_t len)
{
    if (rc == RN_ERANGE) {
        snprintf(buf, len, "%s is out of range; use %" PRId64 "..%" PRId64, text, min, max);
    } else if (choices != NULL) {
        int n = snprintf(buf, len, "\"%s\" is not %s of ", text,
                         type == RN_CFG_LIST ? "a list" : "one");
        for (size_t i = 0; choices[i] != NULL && n > 0 && (size_t)n < len; i++)
            n += snprintf(buf + n, len - (size_t)n, "%s%s", i ? ", " : "", choices[i]);
    } else if (type == RN_CFG_BOOL) {
        snprintf(buf, len, "\"%s\" is not a boolean; use true or false", text);
    } else if (type == RN_CFG_DOUBLE) {
        snprintf(buf, len, "\"%s\" is not a number", text);
    } else {
        snprintf(buf, len, "\"%s\" is not an integer", text);
    }
    return buf;
}

/* "SOURCE: key" for messages; a flag spelled like the key is not repeated. */
static const char *where(char *buf, size_t len, const char *source, const char *name)
{
    if (strncmp(source, "--", 2) == 0 && strcmp(source + 2, name) == 0)
        snprintf(buf, len, "%s", source);
    else
        snprintf(buf, len, "%s: %s", source, name);
    return buf;
}

/* Store text as key's value after checking it against the row; source names the origin. */
static int set_value(rn_config_t *cfg, rn_cfg_key_t key, const char *text, const char *source,
                     int layer, char *err, size_t errlen)
{
    const rn_config_def_t *def = &rn_config_defs[key];
    rn_config_value_t *val = &cfg->v[key];
    int64_t num = 0;
    const char *canon = text;
    char who[300], msg[400];
    int rc;

    if (layer == LAYER_FILE && val->set && strncmp(val->source, "--", 2) != 0)
        return fail(err, errlen, "%s: %s is given twice (first at %s)", source, def->name,
                    val->source);
    rc = rn_config_check_value(def->type, text, def->min, def->max, def->choices, &num, &canon);
    if (rc != 0)
        return fail(err, errlen, "%s: %s", where(who, sizeof(who), source, def->name),
                    rn_config_value_error(def->type, text, def->min, def->max, def->choices, rc,
                                          msg, sizeof(msg)));
    rn_free(val->s);
    val->s = rn_xstrdup(canon);
    val->i = num;
    val->set = layer != LAYER_DEFAULT;
    val->has = true;
    snprintf(val->source, sizeof(val->source), "%s", layer == LAYER_DEFAULT ? "" : source);
    return 0;
}

void rn_config_init(rn_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    char err[256];
    for (int k = 0; k < RN_CFG__COUNT; k++) {
        if (rn_config_defs[k].def == NULL)
            continue;
        int rc = set_value(cfg, (rn_cfg_key_t)k, rn_config_defs[k].def, "default", LAYER_DEFAULT,
                           err, sizeof(err));
        if (rc != 0)
            abort(); /* a bad default in the table is a programming error */
    }
    char errbuf[256];
    if (rn_config_resolve(cfg, errbuf, sizeof(errbuf)) != 0)
        abort();
}

void rn_config_free(rn_config_t *cfg)
{
    for (int k = 0; k < RN_CFG__COUNT; k++)
        rn_free(cfg->v[k].s);
    rn_free(cfg->config_file);
    rn_free(cfg->data_dir);
    rn_free(cfg->voters);
    rn_free(cfg->listeners);
    rn__config_free_overrides(cfg);
    for (int i = 0; i < cfg->n_prefixed; i++) {
        rn_free(cfg->prefixed[i].key);
        rn_free(cfg->prefixed[i].value);
    }
    rn_free(cfg->prefixed);
    memset(cfg, 0, sizeof(*cfg));
}

/* ---- listener.name.<listener>.<key> ---- */

static const char *const prefixable[] = {
    "sasl.enabled.mechanisms",        "plain.sasl.jaas.config", "scram-sha-256.sasl.jaas.config",
    "scram-sha-512.sasl.jaas.config", "sasl.jaas.config",       NULL,
};

bool rn_config_prefixable(const char *key)
{
    for (int i = 0; prefixable[i] != NULL; i++)
        if (strcasecmp(prefixable[i], key) == 0)
            return true;
    return false;
}

/* The key after "listener.name.<listener>.", or NULL when there is no listener part. */
static const char *prefixed_rest(const char *key, size_t *lname_len)
{
    const char *l = key + 14, *dot = strchr(l, '.');
    if (dot == NULL || dot == l)
        return NULL;
    *lname_len = (size_t)(dot - l);
    return dot + 1;
}

static int set_prefixed(rn_config_t *cfg, const char *key, const char *value, const char *source,
                        char *err, size_t errlen)
{
    size_t ll;
    const char *rest = prefixed_rest(key, &ll);
    if (rest == NULL || !rn_config_prefixable(rest))
        return fail(err, errlen,
                    "%s: unknown key \"%s\" (after listener.name.<listener>. runnel takes the "
                    "ssl.* settings, sasl.enabled.mechanisms and <mechanism>.sasl.jaas.config)",
                    source, key);
    if (strcasecmp(rest, "sasl.enabled.mechanisms") == 0) {
        int64_t num;
        const char *canon;
        char msg[400];
        int rc = rn_config_check_value(RN_CFG_LIST, value, 0, 0, rn_sasl_mechs, &num, &canon);
        if (rc != 0)
            return fail(err, errlen, "%s: %s: %s", source, key,
                        rn_config_value_error(RN_CFG_LIST, value, 0, 0, rn_sasl_mechs, rc, msg,
                                              sizeof(msg)));
    }
    for (int i = 0; i < cfg->n_prefixed; i++) {
        rn_config_prefixed_t *p = &cfg->prefixed[i];
        if (strcasecmp(p->key, key) == 0) {
            rn_free(p->value);
            p->value = rn_xstrdup(value);
            snprintf(p->source, sizeof(p->source), "%s", source);
            return 0;
        }
    }
    cfg->prefixed =
        rn_xrealloc(cfg->prefixed, (size_t)(cfg->n_prefixed + 1) * sizeof(*cfg->prefixed));
    rn_config_prefixed_t *p = &cfg->prefixed[cfg->n_prefixed++];
    p->key = rn_xstrdup(key);
    for (char *c = p->key; *c != '\0'; c++)
        *c = (char)tolower((unsigned char)*c);
    p->value = rn_xstrdup(value);
    snprintf(p->source, sizeof(p->source), "%s", source);
    return 0;
}

const char *rn_config_prefixed_str(const rn_config_t *cfg, const char *listener, const char *key)
{
    for (int i = 0; i < cfg->n_prefixed; i++) {
        size_t ll;
        const char *rest = prefixed_rest(cfg->prefixed[i].key, &ll);
        if (rest != NULL && strlen(listener) == ll &&
            strncasecmp(cfg->prefixed[i].key + 14, listener, ll) == 0 && strcasecmp(rest, key) == 0)
            return cfg->prefixed[i].value;
    }
    return NULL;
}

int rn_config_set(rn_config_t *cfg, const char *key, const char *value, const char *source,
                  char *err, size_t errlen)
{
    int k = rn_config_find(key);
    if (k < 0) {
        int rc = rn__config_set_override(cfg, key, value, source, err, errlen);
        if (rc <= 0)
            return rc;
        if (strncasecmp(key, "listener.name.", 14) == 0)
            return set_prefixed(cfg, key, value, source, err, errlen);
    }
    if (k < 0)
        return fail(err, errlen, "%s: unknown key \"%s\" (runneld --help lists every key)", source,
                    key);
    int layer = strncmp(source, "--", 2) == 0 ? LAYER_FLAG : LAYER_FILE;
    return set_value(cfg, (rn_cfg_key_t)k, value, source, layer, err, errlen);
}

int64_t rn_config_int(const rn_config_t *cfg, rn_cfg_key_t key)
{
    return cfg->v[key].i;
}

bool rn_config_bool(const rn_config_t *cfg, rn_cfg_key_t key)
{
    return cfg->v[key].i != 0;
}

const char *rn_config_str(const rn_config_t *cfg, rn_cfg_key_t key)
{
    return cfg->v[key].has ? cfg->v[key].s : NULL;
}

const char *rn_config_text(const rn_config_t *cfg, rn_cfg_key_t key, char *buf, size_t buflen)
{
    const rn_config_value_t *val = &cfg->v[key];
    if (!val->has)
        return NULL;
    switch (rn_config_defs[key].type) {
    case RN_CFG_INT:
    case RN_CFG_LONG: snprintf(buf, buflen, "%" PRId64, val->i); return buf;
    case RN_CFG_BOOL: return val->i ? "true" : "false";
    default: return val->s;
    }
}

int rn_config_parse_hostport(const char *text, char *host, size_t hostlen, int *port)
{
    const char *start = strstr(text, "://");
    start = start != NULL ? start + 3 : text;
    const char *end = strchr(start, ',');
    size_t len = end != NULL ? (size_t)(end - start) : strlen(start);
    const char *colon = NULL;
    const char *hbeg = start, *hend;
    if (len > 0 && *start == '[') { /* [IPv6]:port */
        const char *close = memchr(start, ']', len);
        if (close == NULL || close + 1 >= start + len || close[1] != ':')
            return RN_EINVAL;
        hbeg = start + 1;
        hend = close;
        colon = close + 1;
    } else {
        for (const char *p = start; p < start + len; p++)
            if (*p == ':')
                colon = p;
        if (colon == NULL)
            return RN_EINVAL;
        hend = colon;
    }
    if ((size_t)(hend - hbeg) >= hostlen)
        return RN_EINVAL;
    char portbuf[16];
    size_t plen = (size_t)(start + len - (colon + 1));
    if (plen == 0 || plen >= sizeof(portbuf))
        return RN_EINVAL;
    memcpy(portbuf, colon + 1, plen);
    portbuf[plen] = '\0';
    int64_t num;
    if (parse_int(portbuf, 0, 65535, &num) != 0)
        return RN_EINVAL;
    memcpy(host, hbeg, (size_t)(hend - hbeg));
    host[hend - hbeg] = '\0';
    *port = (int)num;
    return 0;
}

/* Parse "1@host:port,2@host:port" into cfg->voters. */
static int parse_voters(rn_config_t *cfg, const char *text, const char *source, char *err,
                        size_t errlen)
{
    rn_free(cfg->voters);
    cfg->voters = NULL;
    cfg->n_voters = 0;
    if (text == NULL || *text == '\0')
        return 0;
    int count = 1;
    for (const char *p = text; *p; p++)
        count += *p == ',';
    cfg->voters = rn_xcalloc((size_t)count, sizeof(*cfg->voters));
    const char *item = text;
    for (int n = 0; n < count; n++) {
        const char *next = strchr(item, ',');
        size_t len = next != NULL ? (size_t)(next - item) : strlen(item);
        char buf[300];
        if (len >= sizeof(buf))
            return fail(err, errlen, "%s: controller.quorum.voters: entry too long", source);
        memcpy(buf, item, len);
        buf[len] = '\0';
        char *at = strchr(buf, '@');
        rn_config_voter_t *voter = &cfg->voters[n];
        int64_t id;
        if (at == NULL)
            return fail(err, errlen,
                        "%s: controller.quorum.voters: \"%s\" is not ID@HOST:PORT "
                        "(e.g. 1@127.0.0.1:9092)",
                        source, buf);
        *at = '\0';
        if (parse_int(buf, 0, INT32_MAX, &id) != 0 ||
            rn_config_parse_hostport(at + 1, voter->host, sizeof(voter->host), &voter->port) != 0 ||
            voter->port == 0 || voter->host[0] == '\0')
            return fail(err, errlen,
                        "%s: controller.quorum.voters: \"%s@%s\" is not ID@HOST:PORT "
                        "(e.g. 1@127.0.0.1:9092)",
                        source, buf, at + 1);
        voter->id = (int32_t)id;
        for (int j = 0; j < n; j++)
            if (cfg->voters[j].id == voter->id)
                return fail(err, errlen, "%s: controller.quorum.voters: node id %d appears twice",
                            source, voter->id);
        cfg->n_voters++;
        item = next != NULL ? next + 1 : item + len;
    }
    return 0;
}

static const char *src_of(const rn_config_t *cfg, rn_cfg_key_t key)
{
    return cfg->v[key].set ? cfg->v[key].source : "default";
}

int rn_config_resolve(rn_config_t *cfg, char *err, size_t errlen)
{
    /* node.id, or its older name broker.id */
    cfg->node_id = (int32_t)cfg->v[RN_CFG_NODE_ID].i;
    if (cfg->v[RN_CFG_BROKER_ID].set) {
        if (cfg->v[RN_CFG_NODE_ID].set && cfg->v[RN_CFG_NODE_ID].i != cfg->v[RN_CFG_BROKER_ID].i)
            return fail(err, errlen, "%s: broker.id %" PRId64 " differs from node.id %" PRId64,
                        src_of(cfg, RN_CFG_BROKER_ID), cfg->v[RN_CFG_BROKER_ID].i,
                        cfg->v[RN_CFG_NODE_ID].i);
        cfg->node_id = (int32_t)cfg->v[RN_CFG_BROKER_ID].i;
    }

    int rc = rn__config_resolve_listeners(cfg, err, errlen);
    if (rc == 0)
        rc = rn__config_check_overrides(cfg, err, errlen);
    if (rc != 0)
        return rc;

    /* One data directory: log.dirs, else log.dir. */
    rn_cfg_key_t dkey = RN_CFG_LOG_DIRS;
    if (!cfg->v[RN_CFG_LOG_DIRS].set && cfg->v[RN_CFG_LOG_DIR].set)
        dkey = RN_CFG_LOG_DIR;
    const char *dir = rn_config_str(cfg, dkey);
    if (dir == NULL || *dir == '\0')
        return fail(err, errlen, "%s: %s is empty; name the data directory", src_of(cfg, dkey),
                    rn_config_defs[dkey].name);
    if (strchr(dir, ',') != NULL)
        return fail(err, errlen,
                    "%s: %s: \"%s\" names several directories; runnel uses one data directory",
                    src_of(cfg, dkey), rn_config_defs[dkey].name, dir);
    rn_free(cfg->data_dir);
    cfg->data_dir = rn_xstrdup(dir);

    rc = parse_voters(cfg, rn_config_str(cfg, RN_CFG_CONTROLLER_QUORUM_VOTERS),
                      src_of(cfg, RN_CFG_CONTROLLER_QUORUM_VOTERS), err, errlen);
    if (rc != 0)
        return rc;
    if (cfg->n_voters > 0) {
        bool found = false;
        for (int i = 0; i < cfg->n_voters; i++)
            found |= cfg->voters[i].id == cfg->node_id;
        if (!found)
            return fail(err, errlen, "%s: node.id %d is not one of the voters in %s",
                        src_of(cfg, RN_CFG_CONTROLLER_QUORUM_VOTERS), cfg->node_id,
                        rn_config_str(cfg, RN_CFG_CONTROLLER_QUORUM_VOTERS));
    }
    cfg->cluster_size = cfg->n_voters > 0 ? cfg->n_voters : 1;

    int64_t rf = cfg->v[RN_CFG_DEFAULT_REPLICATION_FACTOR].i;
    if (rf == 0)
        return fail(err, errlen, "%s: default.replication.factor: 0 is not valid; use -1 or >= 1",
                    src_of(cfg, RN_CFG_DEFAULT_REPLICATION_FACTOR));
    if (rf == -1)
        rf = cfg->cluster_size < 3 ? cfg->cluster_size : 3;
    if (rf > cfg->cluster_size)
        return fail(err, errlen,
                    "%s: default.replication.factor %" PRId64
                    " is more than the %d node(s) of the cluster",
                    src_of(cfg, RN_CFG_DEFAULT_REPLICATION_FACTOR), rf, cfg->cluster_size);
    cfg->default_replication_factor = (int16_t)rf;
    int64_t orf = cfg->v[RN_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR].i;
    cfg->offsets_topic_replication_factor =
        (int16_t)(orf > cfg->cluster_size ? cfg->cluster_size : orf);

    if (cfg->v[RN_CFG_LOG_RETENTION_MS].set)
        cfg->log_retention_ms = cfg->v[RN_CFG_LOG_RETENTION_MS].i;
    else if (cfg->v[RN_CFG_LOG_RETENTION_MINUTES].set)
        cfg->log_retention_ms = cfg->v[RN_CFG_LOG_RETENTION_MINUTES].i * 60000;
    else
        cfg->log_retention_ms = cfg->v[RN_CFG_LOG_RETENTION_HOURS].i * 3600000;
    if (cfg->log_retention_ms < 0)
        cfg->log_retention_ms = -1;
    cfg->log_roll_ms = cfg->v[RN_CFG_LOG_ROLL_MS].set ? cfg->v[RN_CFG_LOG_ROLL_MS].i
                                                      : cfg->v[RN_CFG_LOG_ROLL_HOURS].i * 3600000;
    cfg->log_level = rn_log_level_parse(cfg->v[RN_CFG_LOG_LEVEL].s);
    return 0;
}

/* Map a flag name (without "--") to a key: the contract flags, an exact key, or the key
 * with '-' for '.'. Returns -1 when nothing matches. */
static int flag_key(const char *name, size_t len)
{
    static const struct {
        const char *flag;
        rn_cfg_key_t key;
    } contract[] = {{"node-id", RN_CFG_NODE_ID},
                    {"listen", RN_CFG_LISTENERS},
                    {"data-dir", RN_CFG_LOG_DIRS},
                    {"cluster", RN_CFG_CONTROLLER_QUORUM_VOTERS}};
    char buf[128];
    if (len >= sizeof(buf))
        return -1;
    memcpy(buf, name, len);
    buf[len] = '\0';
    for (size_t i = 0; i < sizeof(contract) / sizeof(contract[0]); i++)
        if (strcmp(buf, contract[i].flag) == 0)
            return contract[i].key;
    int k = rn_config_find(buf);
    if (k >= 0)
        return k;
    for (char *p = buf; *p; p++)
        if (*p == '-')
            *p = '.';
    return rn_config_find(buf);
}

int rn_config_load(rn_config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    /* --help/--version win over everything; --config is read before other flags so flags
     * override the file whatever their order. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return RN_CONFIG_HELP;
        if (strcmp(argv[i], "--version") == 0)
            return RN_CONFIG_VERSION;
    }
    for (int i = 1; i < argc; i++) {
        const char *path = NULL;
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc)
                return fail(err, errlen, "--config needs a file name");
            path = argv[i + 1];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            path = argv[i] + 9;
        }
        if (path != NULL) {
            if (cfg->config_file != NULL)
                return fail(err, errlen, "--config is given twice");
            cfg->config_file = rn_xstrdup(path);
        }
    }
    if (cfg->config_file != NULL) {
        int rc = rn_config_load_file(cfg, cfg->config_file, err, errlen);
        if (rc != 0)
            return rc;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0')
            return fail(err, errlen,
                        "unexpected argument \"%s\"; settings are --key value or --key=value "
                        "(runneld --help)",
                        arg);
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const char *value = eq != NULL ? eq + 1 : NULL;
        if (value == NULL) {
            if (i + 1 >= argc)
                return fail(err, errlen, "%s needs a value", arg);
            value = argv[++i];
        }
        if (nlen == 6 && strncmp(name, "config", 6) == 0)
            continue;
        if (nlen > 14 && strncmp(name, "listener.name.", 14) == 0) {
            char key[300], source[310];
            snprintf(key, sizeof(key), "%.*s", (int)nlen, name);
            snprintf(source, sizeof(source), "--%s", key);
            int rc = rn__config_set_override(cfg, key, value, source, err, errlen);
            if (rc <= 0) {
                if (rc < 0)
                    return rc;
                continue;
            }
        }
        int k = flag_key(name, nlen);
        char source[140];
        snprintf(source, sizeof(source), "--%.*s", (int)nlen, name);
        if (k < 0 && nlen > 14 && strncasecmp(name, "listener.name.", 14) == 0) {
            int rc = set_prefixed(cfg, source + 2, value, source, err, errlen);
            if (rc != 0)
                return rc;
            continue;
        }
        if (k < 0)
            return fail(err, errlen, "--%.*s: unknown flag (runneld --help lists every key)",
                        (int)nlen, name);
        int rc = set_value(cfg, (rn_cfg_key_t)k, value, source, LAYER_FLAG, err, errlen);
        if (rc != 0)
            return rc;
    }
    return rn_config_resolve(cfg, err, errlen);
}

int rn_config_reload_log_level(rn_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->v[RN_CFG_LOG_LEVEL].set && strncmp(cfg->v[RN_CFG_LOG_LEVEL].source, "--", 2) == 0)
        return cfg->log_level; /* the command line wins over the file */
    if (cfg->config_file == NULL)
        return cfg->log_level;
    rn_config_t fresh;
    rn_config_init(&fresh);
    int rc = rn_config_load_file(&fresh, cfg->config_file, err, errlen);
    if (rc == 0) {
        rn_config_value_t *dst = &cfg->v[RN_CFG_LOG_LEVEL], *src = &fresh.v[RN_CFG_LOG_LEVEL];
        rn_free(dst->s);
        dst->s = rn_xstrdup(src->s);
        dst->set = src->set;
        memcpy(dst->source, src->source, sizeof(dst->source));
        cfg->log_level = rn_log_level_parse(dst->s);
        rc = cfg->log_level;
    }
    rn_config_free(&fresh);
    return rc;
}

const char *rn_config_type_name(rn_cfg_type_t type)
{
    switch (type) {
    case RN_CFG_INT: return "int";
    case RN_CFG_LONG: return "long";
    case RN_CFG_BOOL: return "bool";
    case RN_CFG_STRING: return "string";
    case RN_CFG_LIST: return "list";
    case RN_CFG_ENUM: return "enum";
    case RN_CFG_DOUBLE: return "double";
    }
    return "?";
}

void rn_config_usage(FILE *out, const char *prog)
{
    fprintf(
        out,
        "runneld %s: a Kafka-protocol message broker\n\n"
        "usage: %s [--node-id N] [--listen HOST:PORT] [--data-dir DIR]\n"
        "           [--cluster 1@HOST:PORT,2@HOST:PORT,...] [--config FILE] [--KEY VALUE]...\n\n"
        "  --node-id N          this node's id (node.id, default 1)\n"
        "  --listen HOST:PORT   one PLAINTEXT listener for clients and other nodes alike\n"
        "                       (listeners, default 127.0.0.1:9092; named listeners:\n"
        "                       listeners, advertised.listeners and friends below)\n"
        "  --data-dir DIR       data directory (log.dirs, default ./runnel-data)\n"
        "  --cluster LIST       every node as ID@HOST:PORT (controller.quorum.voters);\n"
        "                       without it the node is a single-node cluster\n"
        "  --config FILE        YAML file of KEY: VALUE settings (Kafka's property names)\n"
        "  --help, --version\n\n"
        "Every key below is a YAML key and a flag (--KEY VALUE, --KEY=VALUE, dots may be\n"
        "dashes); flags override the file.\n\n",
        RN_VERSION, prog);
    for (int k = 0; k < RN_CFG__COUNT; k++) {
        const rn_config_def_t *def = &rn_config_defs[k];
        fprintf(out, "  %-42s %-6s default: %s\n", def->name, rn_config_type_name(def->type),
                def->def != NULL ? def->def : "(unset)");
        fprintf(out, "      %s%s\n", def->flags & RN_CFGF_IGNORED ? "[ignored] " : "", def->doc);
    }
}
