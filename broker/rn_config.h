/* rn_config: runneld's configuration — Kafka's property names, from a YAML file and flags.
 *
 * Every setting is one row of a typed table (name, type, default, range, doc). A value
 * comes from, in increasing precedence: the table's default, the YAML file (--config FILE),
 * the command line (`--log.retention.hours 24`, `--log.retention.hours=24`, or with dashes
 * `--log-retention-hours 24`). The command-line contract flags map onto keys:
 *
 *   --node-id N            node.id
 *   --listen HOST:PORT     listeners (PLAINTEXT://HOST:PORT)
 *   --data-dir DIR         log.dirs
 *   --cluster 1@h:p,...    controller.quorum.voters
 *
 * The YAML file is a mapping of flat keys (`log.dirs: /var/lib/runnel`); nested mappings
 * are joined with '.' (`log: {retention: {hours: 24}}` is log.retention.hours) and a
 * sequence value is joined with ',' (`log.dirs: [/a]`). Unknown keys, duplicate keys and
 * bad values stop start-up with a message naming the key and FILE:LINE or the flag.
 *
 * After loading, rn_config_t carries both the raw per-key values (for DescribeConfigs and
 * --help) and resolved fields (listen address, retention in ms, voters, ...) that the rest
 * of the broker reads. The structure is immutable after load except for log.level, which
 * SIGHUP re-reads (rn_config_reload_log_level). */
#ifndef RN_CONFIG_H
#define RN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One enumerator per key of the table in config.c (same order). */
typedef enum rn_cfg_key {
    RN_CFG_NODE_ID,
    RN_CFG_BROKER_ID,
    RN_CFG_LISTENERS,
    RN_CFG_ADVERTISED_LISTENERS,
    RN_CFG_LOG_DIRS,
    RN_CFG_LOG_DIR,
    RN_CFG_CONTROLLER_QUORUM_VOTERS,
    RN_CFG_CONTROLLER_QUORUM_ELECTION_TIMEOUT_MS,
    RN_CFG_CONTROLLER_QUORUM_FETCH_TIMEOUT_MS,
    RN_CFG_CONTROLLER_QUORUM_ELECTION_BACKOFF_MAX_MS,
    RN_CFG_CONTROLLER_QUORUM_REQUEST_TIMEOUT_MS,
    RN_CFG_METADATA_LOG_MAX_RECORD_BYTES_BETWEEN_SNAPSHOTS,
    RN_CFG_CLUSTER_ID,
    RN_CFG_PROCESS_ROLES,
    RN_CFG_NUM_PARTITIONS,
    RN_CFG_DEFAULT_REPLICATION_FACTOR,
    RN_CFG_AUTO_CREATE_TOPICS_ENABLE,
    RN_CFG_DELETE_TOPIC_ENABLE,
    RN_CFG_LOG_SEGMENT_BYTES,
    RN_CFG_LOG_ROLL_MS,
    RN_CFG_LOG_ROLL_HOURS,
    RN_CFG_LOG_RETENTION_MS,
    RN_CFG_LOG_RETENTION_MINUTES,
    RN_CFG_LOG_RETENTION_HOURS,
    RN_CFG_LOG_RETENTION_BYTES,
    RN_CFG_LOG_RETENTION_CHECK_INTERVAL_MS,
    RN_CFG_LOG_SEGMENT_DELETE_DELAY_MS,
    RN_CFG_LOG_INDEX_INTERVAL_BYTES,
    RN_CFG_LOG_INDEX_SIZE_MAX_BYTES,
    RN_CFG_LOG_FLUSH_INTERVAL_MESSAGES,
    RN_CFG_LOG_FLUSH_INTERVAL_MS,
    RN_CFG_LOG_CLEANUP_POLICY,
    RN_CFG_LOG_CLEANER_ENABLE,
    RN_CFG_LOG_CLEANER_DELETE_RETENTION_MS,
    RN_CFG_LOG_CLEANER_MIN_COMPACTION_LAG_MS,
    RN_CFG_LOG_CLEANER_MAX_COMPACTION_LAG_MS,
    RN_CFG_LOG_CLEANER_BACKOFF_MS,
    RN_CFG_LOG_CLEANER_DEDUPE_BUFFER_SIZE,
    RN_CFG_LOG_PREALLOCATE,
    RN_CFG_LOG_MESSAGE_TIMESTAMP_TYPE,
    RN_CFG_COMPRESSION_TYPE,
    RN_CFG_MESSAGE_MAX_BYTES,
    RN_CFG_SOCKET_REQUEST_MAX_BYTES,
    RN_CFG_SOCKET_SEND_BUFFER_BYTES,
    RN_CFG_SOCKET_RECEIVE_BUFFER_BYTES,
    RN_CFG_CONNECTIONS_MAX_IDLE_MS,
    /* Network limits against hostile clients (broker/net). */
    RN_CFG_MAX_CONNECTIONS,
    RN_CFG_MAX_CONNECTIONS_PER_IP,
    RN_CFG_MAX_CONNECTIONS_PER_IP_OVERRIDES,
    RN_CFG_SOCKET_REQUEST_READ_TIMEOUT_MS,
    RN_CFG_QUEUED_MAX_REQUEST_BYTES,
    RN_CFG_CONNECTIONS_MAX_QUEUED_RESPONSE_BYTES,
    RN_CFG_METRICS_CONNECTION_TIMEOUT_MS,
    RN_CFG_MIN_INSYNC_REPLICAS,
    RN_CFG_UNCLEAN_LEADER_ELECTION_ENABLE,
    RN_CFG_REPLICA_LAG_TIME_MAX_MS,
    RN_CFG_REPLICA_FETCH_MAX_BYTES,
    RN_CFG_REPLICA_FETCH_WAIT_MAX_MS,
    RN_CFG_FETCH_MAX_BYTES,
    RN_CFG_FETCH_MAX_WAIT_MS_CAP,
    RN_CFG_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS,
    RN_CFG_MAX_PARTITIONS_PER_REQUEST,
    RN_CFG_MAX_PARTITIONS_PER_TOPIC,
    RN_CFG_MAX_PARTITIONS,
    RN_CFG_AUTO_CREATE_TOPICS_RATE,
    /* Broker registration with the controller (broker/controller). */
    RN_CFG_BROKER_HEARTBEAT_INTERVAL_MS,
    RN_CFG_BROKER_SESSION_TIMEOUT_MS,
    RN_CFG_CONTROLLED_SHUTDOWN_ENABLE,
    RN_CFG_CONTROLLED_SHUTDOWN_TIMEOUT_MS,
    /* Client quotas (broker/quota). */
    RN_CFG_QUOTA_WINDOW_NUM,
    RN_CFG_QUOTA_WINDOW_SIZE_SECONDS,
    RN_CFG_OFFSETS_TOPIC_NUM_PARTITIONS,
    RN_CFG_OFFSETS_TOPIC_REPLICATION_FACTOR,
    RN_CFG_OFFSETS_TOPIC_SEGMENT_BYTES,
    RN_CFG_OFFSETS_RETENTION_MINUTES,
    RN_CFG_OFFSETS_COMMIT_TIMEOUT_MS,
    RN_CFG_GROUP_INITIAL_REBALANCE_DELAY_MS,
    RN_CFG_GROUP_MIN_SESSION_TIMEOUT_MS,
    RN_CFG_GROUP_MAX_SESSION_TIMEOUT_MS,
    RN_CFG_TRANSACTION_STATE_LOG_REPLICATION_FACTOR,
    RN_CFG_TRANSACTION_STATE_LOG_MIN_ISR,
    /* TLS listeners and inter-node TLS (broker/net/tls.c); each may be given per listener as
     * listener.name.<name>.<key>. */
    RN_CFG_SSL_KEYSTORE_TYPE,
    RN_CFG_SSL_KEYSTORE_LOCATION,
    RN_CFG_SSL_KEYSTORE_CERTIFICATE_CHAIN,
    RN_CFG_SSL_KEYSTORE_KEY,
    RN_CFG_SSL_KEYSTORE_PASSWORD,
    RN_CFG_SSL_KEY_PASSWORD,
    RN_CFG_SSL_TRUSTSTORE_TYPE,
    RN_CFG_SSL_TRUSTSTORE_LOCATION,
    RN_CFG_SSL_TRUSTSTORE_CERTIFICATES,
    RN_CFG_SSL_TRUSTSTORE_PASSWORD,
    RN_CFG_SSL_CLIENT_AUTH,
    RN_CFG_SSL_PROTOCOL,
    RN_CFG_SSL_ENABLED_PROTOCOLS,
    RN_CFG_SSL_CIPHER_SUITES,
    RN_CFG_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM,
    RN_CFG_LOG_LEVEL,
    RN_CFG_METRICS_LISTEN,
    RN_CFG_CONSOLE_ENABLE,
    RN_CFG_CONSOLE_ALLOW_REMOTE,
    RN_CFG_CONSOLE_WRITE_ENABLE,
    RN_CFG_BROKER_RACK,
    RN_CFG_CONTROLLER_LISTENER_NAMES,
    RN_CFG_INTER_BROKER_LISTENER_NAME,
    RN_CFG_LISTENER_SECURITY_PROTOCOL_MAP,
    RN_CFG_NUM_NETWORK_THREADS,
    RN_CFG_NUM_IO_THREADS,
    RN_CFG_PRODUCE_WORKER_THREADS,
    RN_CFG_NUM_RECOVERY_THREADS_PER_DATA_DIR,
    RN_CFG_ZOOKEEPER_CONNECT,
    RN_CFG_AUTHORIZER_CLASS_NAME,
    RN_CFG_SUPER_USERS,
    RN_CFG_ALLOW_EVERYONE_IF_NO_ACL_FOUND,
    /* SASL (broker/auth). */
    RN_CFG_SASL_ENABLED_MECHANISMS,
    RN_CFG_SASL_MECHANISM_INTER_BROKER_PROTOCOL,
    RN_CFG_SASL_JAAS_CONFIG,
    RN_CFG_CONNECTIONS_MAX_REAUTH_MS,
    RN_CFG__COUNT
} rn_cfg_key_t;

typedef enum rn_cfg_type {
    RN_CFG_INT,    /* 32-bit signed integer */
    RN_CFG_LONG,   /* 64-bit signed integer */
    RN_CFG_BOOL,   /* true/false (YAML's yes/no/on/off too) */
    RN_CFG_STRING, /* free text */
    RN_CFG_LIST,   /* comma-separated text; a YAML sequence is joined with ',' */
    RN_CFG_ENUM,   /* one of a fixed set of words (case-insensitive), kept in canonical case */
    RN_CFG_DOUBLE, /* decimal number in [min, max] (topic configs only) */
} rn_cfg_type_t;

/* Flags of a table row. */
enum {
    RN_CFGF_IGNORED = 1,   /* accepted so existing server.properties files load; has no effect */
    RN_CFGF_ALIAS = 2,     /* another spelling of a key (broker.id -> node.id, log.dir) */
    RN_CFGF_SENSITIVE = 4, /* a secret: DescribeConfigs and --help never show its value */
    RN_CFGF_LISTENER = 8,  /* may be given per listener as listener.name.<name>.<key> */
};

/* One row of the key table: the single source for parsing, --help and DescribeConfigs. */
typedef struct rn_config_def {
    const char *name;
    rn_cfg_type_t type;
    const char *def;            /* default as text; NULL = no default ("unset") */
    int64_t min, max;           /* inclusive bounds for INT/LONG */
    const char *const *choices; /* NULL-terminated words for ENUM */
    unsigned flags;
    const char *doc; /* one sentence for --help and DescribeConfigs documentation */
} rn_config_def_t;

/* One key's value. Integers and booleans live in i, text in s (owned). */
typedef struct rn_config_value {
    bool set; /* given by the file or a flag (not the default) */
    bool has; /* has a value: set, or the table has a default */
    int64_t i;
    char *s;
    char source[128]; /* "FILE:LINE" or "--flag" when set; "" otherwise */
} rn_config_value_t;

/* Kafka's security protocols, in the order of their names in listener.security.protocol.map
 * (rn_config_protocol_name). */
typedef enum rn_secproto {
    RN_SECPROTO_PLAINTEXT = 0,
    RN_SECPROTO_SSL = 1,
    RN_SECPROTO_SASL_PLAINTEXT = 2,
    RN_SECPROTO_SASL_SSL = 3,
} rn_secproto_t;

/* "PLAINTEXT", "SSL", "SASL_PLAINTEXT" or "SASL_SSL". */
const char *rn_config_protocol_name(rn_secproto_t proto);

/* One named listener (listeners), with what clients are told to connect to
 * (advertised.listeners, else its own address) and its security protocol
 * (listener.security.protocol.map). */
#define RN_LISTENER_NAME_MAX 64
typedef struct rn_config_listener {
    char name[RN_LISTENER_NAME_MAX]; /* upper case, as Kafka normalises listener names */
    rn_secproto_t protocol;
    char host[256];            /* bind address; "" = every interface */
    int port;                  /* 0 = ephemeral (tests) */
    char advertised_host[256]; /* never 0.0.0.0 (Kafka refuses to advertise it) */
    int advertised_port;       /* 0 = the port actually bound */
} rn_config_listener_t;

/* A per-listener value: listener.name.<name>.<key> for a key flagged RN_CFGF_LISTENER. */
typedef struct rn_config_override {
    char listener[RN_LISTENER_NAME_MAX]; /* upper case; a defined listener once resolved */
    int key;                             /* rn_cfg_key_t */
    char *value;                         /* checked against the key's row; owned */
    char source[128];                    /* "FILE:LINE" or "--flag" */
} rn_config_override_t;

/* One controller-quorum voter from --cluster / controller.quorum.voters. */
typedef struct rn_config_voter {
    int32_t id;
    char host[256];
    int port;
} rn_config_voter_t;

typedef struct rn_config {
    rn_config_value_t v[RN_CFG__COUNT];
    char *config_file; /* --config FILE or NULL; owned */

    /* Resolved by load; read these instead of the raw values. */
    int32_t node_id;
    /* Every listener in the order of listeners (owned; n_listeners >= 1), the one other
     * nodes reach this node on (inter.broker.listener.name; default the listener named
     * PLAINTEXT, else the first) and the one controller RPCs arrive on
     * (controller.listener.names' first; default the inter-broker one). Every listener
     * serves every API: a node is broker and controller at once. */
    rn_config_listener_t *listeners;
    int n_listeners;
    int inter_broker_listener;
    int controller_listener;
    /* The inter-broker listener's addresses (what --listen sets). */
    char listen_host[256]; /* "" = every interface */
    int listen_port;       /* 0 = ephemeral (tests) */
    char advertised_host[256];
    int advertised_port;       /* 0 = the port actually bound */
    char *data_dir;            /* owned */
    rn_config_voter_t *voters; /* owned; n_voters == 0 for a single node without --cluster */
    int n_voters;
    int cluster_size;                         /* max(1, n_voters) */
    int16_t default_replication_factor;       /* -1 in the table resolves to min(3, cluster_size) */
    int16_t offsets_topic_replication_factor; /* clamped to cluster_size */
    int64_t log_retention_ms;                 /* -1 = unlimited; from .ms / .minutes / .hours */
    int64_t log_roll_ms;                      /* from .ms / .hours */
    int log_level;                            /* rn_log_level_t */
    rn_config_override_t *overrides;          /* listener.name.*.* in the order given (owned) */
    int n_overrides;
    /* SASL's per-listener keys that are no config key of their own
     * (listener.name.<listener>.<mechanism>.sasl.jaas.config, and sasl.enabled.mechanisms),
     * in the order given; key is the whole name as given, lower-cased. Owned. */
    struct rn_config_prefixed *prefixed;
    int n_prefixed;
} rn_config_t;

/* One listener.name.<listener>.<key> setting. */
typedef struct rn_config_prefixed {
    char *key, *value;
    char source[64];
} rn_config_prefixed_t;

/* The keys that may follow listener.name.<listener>. ("sasl.enabled.mechanisms",
 * "scram-sha-512.sasl.jaas.config", ...). */
bool rn_config_prefixable(const char *key);
/* The value of SASL's listener.name.<listener>.<key> (listener in any case), or NULL. The
 * keys flagged RN_CFGF_LISTENER are read with rn_config_listener_str instead. */
const char *rn_config_prefixed_str(const rn_config_t *cfg, const char *listener, const char *key);

/* What rn_config_load found besides a configuration. */
enum {
    RN_CONFIG_RUN = 0,     /* cfg is loaded; start the broker */
    RN_CONFIG_HELP = 1,    /* --help was given; print rn_config_usage and exit 0 */
    RN_CONFIG_VERSION = 2, /* --version was given */
};

/* Initialise cfg with every default (as with no arguments). Never fails. */
void rn_config_init(rn_config_t *cfg);

/* Load the configuration from argv (argv[0] is the program name) and the file named by
 * --config. Returns RN_CONFIG_RUN, RN_CONFIG_HELP or RN_CONFIG_VERSION, or RN_EINVAL with
 * a one-line message naming the key and FILE:LINE or the flag in err. cfg must have been
 * initialised; on failure it still must be freed with rn_config_free. */
int rn_config_load(rn_config_t *cfg, int argc, char **argv, char *err, size_t errlen);

/* Apply one key=value as if from the given source (e.g. "--flag" or "file:3"); used by
 * the loader and by tests. Returns 0 or RN_EINVAL with a message in err. Call
 * rn_config_resolve afterwards. */
int rn_config_set(rn_config_t *cfg, const char *key, const char *value, const char *source,
                  char *err, size_t errlen);

/* Parse a YAML file into cfg (values get source FILE:LINE). 0 or RN_EINVAL/RN_EIO + err. */
int rn_config_load_file(rn_config_t *cfg, const char *path, char *err, size_t errlen);

/* The same from memory; name labels messages (NAME:LINE). */
int rn_config_load_buffer(rn_config_t *cfg, const char *name, const void *data, size_t len,
                          char *err, size_t errlen);

/* Fill the resolved fields from the raw values and check cross-key rules (node.id among
 * the voters, one data dir, listeners and every key naming them). 0 or RN_EINVAL + err. */
int rn_config_resolve(rn_config_t *cfg, char *err, size_t errlen);

/* Re-read log.level from the config file (SIGHUP); a flag given on the command line keeps
 * precedence. Returns the new level (rn_log_level_t) or RN_EINVAL/RN_EIO with err set. */
int rn_config_reload_log_level(rn_config_t *cfg, char *err, size_t errlen);

void rn_config_free(rn_config_t *cfg);

/* The key table: rows indexed by rn_cfg_key_t. */
const rn_config_def_t *rn_config_def(rn_cfg_key_t key);
/* Look a key up by its Kafka name; -1 if unknown. */
int rn_config_find(const char *name);

/* Typed reads of the raw value (the default when not set). */
int64_t rn_config_int(const rn_config_t *cfg, rn_cfg_key_t key);
bool rn_config_bool(const rn_config_t *cfg, rn_cfg_key_t key);
/* NULL when the key has no value. */
const char *rn_config_str(const rn_config_t *cfg, rn_cfg_key_t key);
/* The value as Kafka would print it (integers in decimal, booleans true/false); NULL when
 * unset. buf is used for numbers. */
const char *rn_config_text(const rn_config_t *cfg, rn_cfg_key_t key, char *buf, size_t buflen);

/* Check text against a type, bounds and choices (for a LIST with choices every element must
 * be one of them). On success *num holds an integer/boolean value and *canon the text to
 * store (the canonical spelling for ENUM). Returns 0, RN_EINVAL (not of the type; also
 * "not one of" the choices) or RN_ERANGE (outside [min, max]). */
int rn_config_check_value(rn_cfg_type_t type, const char *text, int64_t min, int64_t max,
                          const char *const *choices, int64_t *num, const char **canon);
/* Why rn_config_check_value refused text (rc is its result), e.g. "\"x\" is not an
 * integer", written into buf and returned. */
const char *rn_config_value_error(rn_cfg_type_t type, const char *text, int64_t min, int64_t max,
                                  const char *const *choices, int rc, char *buf, size_t len);
/* "int", "long", "bool", ... for messages and --help. */
const char *rn_config_type_name(rn_cfg_type_t type);

/* The value of a per-listener key (RN_CFGF_LISTENER) for listener i: its
 * listener.name.<name>.<key> override, else the key's own value (NULL when unset). When at is
 * not NULL it receives where the value came from for messages ("FILE:LINE:
 * listener.name.external.ssl.keystore.location", "default: ssl.protocol"). */
const char *rn_config_listener_str(const rn_config_t *cfg, int i, rn_cfg_key_t key, char *at,
                                   size_t atlen);
/* True when listener i has an override of key or the key itself is set. */
bool rn_config_listener_set(const rn_config_t *cfg, int i, rn_cfg_key_t key);

/* The index in cfg->listeners of the listener named name (any case), or -1. */
int rn_config_listener_find(const rn_config_t *cfg, const char *name);

/* Print the usage text: contract flags, then every key with its type, default and doc. */
void rn_config_usage(FILE *out, const char *prog);

/* Split "NAME://host:port" or "host:port" (IPv6 in brackets) of the first entry of a
 * comma-separated list into host and port. 0 or RN_EINVAL. */
int rn_config_parse_hostport(const char *text, char *host, size_t hostlen, int *port);

#endif
