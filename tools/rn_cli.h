/* rn_cli: the insides of `runnel`, the admin / produce / consume command-line tool.
 *
 * runnel_main.c parses the command words and global options and calls one rn_cli_<cmd>
 * function per subcommand (runnel_topic.c, runnel_produce.c, runnel_consume.c,
 * runnel_group.c, runnel_cluster.c, runnel_quota.c, runnel_acl.c, and runnel_up.c / runnel_local.c
 * for the local cluster of `runnel cluster up`). The shared parts live in runnel_util.c (option
 * parsing, errors, tables, JSON output, metadata and offset look-ups) and the consumer
 * group protocol in runnel_member.c. Everything talks to the cluster through the
 * synchronous client in client/rn_conn.h.
 *
 * Every subcommand returns an exit status from the RN_CLI_EXIT_* set, which --help
 * documents for scripts. Errors are printed to stderr as one line that names the thing
 * (topic, group, broker) and says what to do next; results go to stdout as aligned tables,
 * or as JSON with --json. */
#ifndef RN_CLI_H
#define RN_CLI_H

#include "rn_arena.h"
#include "rn_conn.h"
#include "rn_messages.h"
#include "rn_nodes.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Exit statuses (documented in every --help). */
enum {
    RN_CLI_EXIT_OK = 0,
    RN_CLI_EXIT_FAIL = 1,     /* the broker refused or an operation failed */
    RN_CLI_EXIT_USAGE = 2,    /* bad command line */
    RN_CLI_EXIT_CONNECT = 3,  /* no broker reachable, or a broker stopped answering */
    RN_CLI_EXIT_NOTFOUND = 4, /* the named topic, partition or group does not exist */
};

#define RN_CLI_DEFAULT_BOOTSTRAP "127.0.0.1:9092"
#define RN_CLI_DEFAULT_TIMEOUT   10000

/* Returned by rn_cli_parse after printing --help: the command should exit 0. */
#define RN_CLI_HELP_SHOWN (-1)

typedef struct rn_cli {
    const char *bootstrap; /* -b, RUNNEL_BOOTSTRAP, or the default */
    int timeout_ms;        /* per request (and per connect) */
    bool json;             /* --json: machine output on stdout */
    int verbose;           /* -v: protocol notes on stderr */
    const char *cmd;       /* "topic create": prefix of error messages */
    const char *help;      /* the running subcommand's help text */
    rn_conn_pool_t pool;
    bool pool_ready;
    rn_arena_t arena; /* responses of the running command; reset between phases */
    rn_arena_t keep;  /* lives as long as the command: option values */
    /* --command-config / RUNNEL_COMMAND_CONFIG: a SASL login for every connection (strings
     * in keep); sasl.mechanism NULL = none. */
    rn_conn_sasl_t sasl;
} rn_cli_t;

/* Read a Kafka client properties file (security.protocol, sasl.mechanism,
 * sasl.jaas.config) into cli->sasl; 0 or a usage exit status after printing the problem. */
int rn_cli_command_config(rn_cli_t *cli, const char *path);

/* ---- command line ---- */

/* One subcommand: its words ("topic", "create"), handler, one-line summary and help. */
typedef struct rn_cli_cmd {
    const char *group; /* "topic", or NULL for top-level commands like produce */
    const char *name;
    int (*run)(rn_cli_t *cli, int argc, char **argv);
    const char *summary;
    const char *help; /* full --help text (usage line first) */
} rn_cli_cmd_t;

extern const rn_cli_cmd_t rn_cli_cmds[];
extern const char rn_cli_exit_help[]; /* the exit-status paragraph shared by every --help */

/* Parse argv with getopt_long: opts (NULL-terminated, may be NULL) plus the global options
 * (-b/--bootstrap, --json, --timeout, -v, -h/--help), which are applied to cli directly.
 * on_opt handles the command's own options (return 0 or an exit status). Positional
 * arguments are left in argv[*first..argc). Returns 0, RN_CLI_HELP_SHOWN, or an exit
 * status after printing the problem. */
int rn_cli_parse(rn_cli_t *cli, int argc, char **argv, const struct option *opts,
                 const char *shortopts,
                 int (*on_opt)(rn_cli_t *cli, void *ctx, int c, const char *arg), void *ctx,
                 int *first);

/* Print "runnel <cmd>: <message>" on stderr; returns code (for `return rn_cli_fail(...)`). */
int rn_cli_fail(rn_cli_t *cli, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A usage error: the message plus "see runnel <cmd> --help"; returns RN_CLI_EXIT_USAGE. */
int rn_cli_usage(rn_cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Verbose note on stderr (only with -v). */
void rn_cli_note(rn_cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Number parsing for option values: 0 or a usage error naming the option. */
int rn_cli_parse_i64(rn_cli_t *cli, const char *opt, const char *s, int64_t min, int64_t max,
                     int64_t *out);
int rn_cli_parse_i32(rn_cli_t *cli, const char *opt, const char *s, int32_t min, int32_t max,
                     int32_t *out);
/* A timestamp in ms since the epoch: digits, or ISO 8601 "YYYY-MM-DDTHH:MM:SS[.mmm][Z]"
 * (UTC). */
int rn_cli_parse_time(rn_cli_t *cli, const char *opt, const char *s, int64_t *out);

/* Process C escapes \n \t \r \\ \0 \xNN in s (in place); returns the new length. */
size_t rn_cli_unescape(char *s);

/* A copy of s that lives until the command ends (for option values); never NULL. */
char *rn_cli_keep(rn_cli_t *cli, const char *s);
/* printf into the command's arena (for table cells); never NULL (aborts on OOM). */
char *rn_cli_fmt(rn_cli_t *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "1,2,3" from an int32 array (arena). */
char *rn_cli_ids(rn_cli_t *cli, const rn_int32_array_t *ids);

/* ---- broker access (errors printed; NULL / non-zero status returned) ---- */

/* The bootstrap connection; on failure prints "cannot reach a broker at ..." with the fix
 * and sets *status to RN_CLI_EXIT_CONNECT. */
rn_conn_t *rn_cli_boot(rn_cli_t *cli, int *status);
/* rn_cli_boot, then the newest version of api key the node serves into *v; a failure (and
 * *st) naming the node and api, plus needs ("client quotas need Kafka 2.6+") when given,
 * when it serves none. */
rn_conn_t *rn_cli_boot_api(rn_cli_t *cli, const char *needs, int16_t key, const char *api,
                           int16_t *v, int *st);
/* The failure of a request to api on conn: RN_CLI_EXIT_CONNECT for a lost connection. */
int rn_cli_call_failed(rn_cli_t *cli, rn_conn_t *conn, int err, const char *api);
/* The connection to broker node_id (after a metadata call); NULL with *status set. */
rn_conn_t *rn_cli_broker(rn_cli_t *cli, int32_t node_id, int *status);
/* "127.0.0.1:9092": the bootstrap server in use (static buffer). */
const char *rn_cli_where(rn_cli_t *cli);

/* Metadata for topics (ntopics < 0: all) into *md (cli arena). Returns an exit status. */
int rn_cli_metadata(rn_cli_t *cli, const char *const *topics, int ntopics, bool auto_create,
                    rn_metadata_response_t **md);
/* The topic named name in md, or NULL. */
const rn_metadata_response_topic_t *rn_cli_md_topic(const rn_metadata_response_t *md,
                                                    const char *name);
/* The partition of t with that index, or NULL. */
const rn_metadata_response_partition_t *rn_cli_md_partition(const rn_metadata_response_topic_t *t,
                                                            int32_t partition);
/* Print `topic "x" not found on HOST:PORT; known topics: a, b` (fetching the topic list)
 * and return RN_CLI_EXIT_NOTFOUND. */
int rn_cli_topic_not_found(rn_cli_t *cli, const char *topic);
/* Metadata for one topic that must exist (with partitions and leaders); retries while
 * leaders are being elected. auto_create: let the broker create it. Returns an exit
 * status; *t points into *md. */
int rn_cli_topic_md(rn_cli_t *cli, const char *topic, bool auto_create, rn_metadata_response_t **md,
                    const rn_metadata_response_topic_t **t);

/* What to do about a Kafka error code in context (may be ""). */
const char *rn_cli_kerr_hint(int16_t code);
/* The exit status for a Kafka error code (NOTFOUND for unknown topic/group, else FAIL). */
int rn_cli_kerr_status(int16_t code);

/* One partition's offset look-up (ListOffsets). timestamp: -2 earliest, -1 latest, or ms. */
typedef struct rn_cli_offset_q {
    const char *topic;
    int32_t partition;
    int32_t leader;
    int64_t timestamp;
    int64_t offset; /* result; -1 when none (no record at or after the timestamp) */
    int16_t error;  /* Kafka error code of the partition */
} rn_cli_offset_q_t;

/* Ask each partition's leader (q[i].leader) for the offsets; fills offset/error. Returns an
 * exit status (per-partition Kafka errors are left in q[i].error). */
int rn_cli_list_offsets(rn_cli_t *cli, rn_cli_offset_q_t *q, int n);

/* ---- tables ---- */

typedef struct rn_cli_table {
    int ncols;
    const char **head;
    const char **cells; /* nrows * ncols */
    int nrows, cap;
    bool *right; /* right-align column (numbers) */
} rn_cli_table_t;

/* Columns are given as "NAME" (left-aligned) or ">NAME" (right-aligned). */
void rn_cli_table_init(rn_cli_table_t *t, int ncols, const char *const *head);
/* Add a row of ncols strings (not copied: use literals or rn_cli_fmt). NULL prints "-". */
void rn_cli_table_add(rn_cli_table_t *t, const char *const *cells);
/* Print with columns padded to their widest cell; frees the table. */
void rn_cli_table_print(rn_cli_table_t *t, FILE *out);

/* ---- JSON ---- */

/* A streaming JSON writer: compact, one top-level value per line. */
typedef struct rn_cli_json {
    FILE *out;
    int depth;
    bool need_comma[32];
    bool after_key;
} rn_cli_json_t;

void rn_cli_json_init(rn_cli_json_t *j, FILE *out);
void rn_cli_json_obj(rn_cli_json_t *j);             /* { */
void rn_cli_json_arr(rn_cli_json_t *j);             /* [ */
void rn_cli_json_end(rn_cli_json_t *j, char close); /* } or ]; a newline after the top level */
void rn_cli_json_key(rn_cli_json_t *j, const char *key);
void rn_cli_json_str(rn_cli_json_t *j, const char *s); /* NULL writes null */
/* Bytes as a JSON string: valid UTF-8 as is (escaped), other bytes as \u00XX. NULL data
 * with len < 0 writes null. */
void rn_cli_json_bytes(rn_cli_json_t *j, const void *data, int64_t len);
void rn_cli_json_rnstr(rn_cli_json_t *j, rn_str_t s);
void rn_cli_json_int(rn_cli_json_t *j, int64_t v);
/* A number: integral values without a fraction, others exactly; NaN and infinity as null. */
void rn_cli_json_num(rn_cli_json_t *j, double v);
void rn_cli_json_bool(rn_cli_json_t *j, bool v);
void rn_cli_json_null(rn_cli_json_t *j);
void rn_cli_json_ids(rn_cli_json_t *j, const rn_int32_array_t *ids);

/* ---- the consumer group protocol ("consumer" protocol type, range assignor) ---- */

/* One topic's partitions in a member's subscription or assignment. */
typedef struct rn_cli_tparts {
    char *topic;
    int32_t *partitions;
    int npartitions;
} rn_cli_tparts_t;

/* A decoded ConsumerProtocolSubscription or ConsumerProtocolAssignment. For a
 * subscription, topics have no partitions (owned partitions are not kept). */
typedef struct rn_cli_cproto {
    int16_t version;
    rn_cli_tparts_t *topics;
    int ntopics;
} rn_cli_cproto_t;

/* Encode a subscription (version 0: topics, null user data) into the arena. */
rn_bytes_t rn_cli_subscription_encode(rn_arena_t *arena, const char *const *topics, int ntopics);
/* Encode an assignment (version 0) into the arena. */
rn_bytes_t rn_cli_assignment_encode(rn_arena_t *arena, const rn_cli_cproto_t *a);
/* Decode either kind (assignment: with_partitions true) into the arena; fields of newer
 * versions after the v0 ones are ignored, as Kafka's clients do. Returns 0 or RN_ECORRUPT. */
int rn_cli_cproto_decode(rn_arena_t *arena, rn_bytes_t b, bool with_partitions,
                         rn_cli_cproto_t *out);

/* Kafka's range assignor: for each topic, the members subscribed to it sorted by member id
 * share its partitions in consecutive ranges, the first (P % M) members getting one more.
 * subs[i] is member_ids[i]'s subscription; counts[t] is the partition count of topic
 * names[t] (a topic missing from names gets nothing). out[i] receives member i's
 * assignment (arena memory). */
void rn_cli_range_assign(rn_arena_t *arena, const char *const *member_ids,
                         const rn_cli_cproto_t *subs, int nmembers, const char *const *names,
                         const int32_t *counts, int ntopics, rn_cli_cproto_t *out);

/* A member of a consumer group (classic protocol), subscribed to one topic. */
typedef struct rn_cli_member {
    rn_cli_t *cli;
    const char *group;
    const char *topic;
    char *member_id; /* rn_xmalloc'd; "" before the first join */
    int32_t generation;
    char *protocol;   /* chosen assignor ("range") */
    bool leader;      /* this member computed the assignment */
    rn_conn_t *coord; /* the group coordinator's connection (owned by the pool) */
    int32_t session_timeout_ms;
    int32_t rebalance_timeout_ms;
    int32_t *assigned; /* partitions of topic assigned to us, sorted */
    int nassigned;
    int64_t last_heartbeat_ms;
    rn_arena_t arena; /* join/sync answers */
} rn_cli_member_t;

/* Find the coordinator, JoinGroup (retrying with the member id the broker hands out),
 * compute the range assignment when elected leader, SyncGroup, and decode our partitions.
 * Returns an exit status (errors printed). */
int rn_cli_member_join(rn_cli_member_t *m);
/* Heartbeat when a third of the session timeout has passed since the last one; sets
 * *rejoin when the group is rebalancing or forgot us. Returns an exit status. */
int rn_cli_member_heartbeat(rn_cli_member_t *m, bool *rejoin);
/* OffsetCommit of offsets[i] for partitions[i] of the member's topic (generation and
 * member id of the current membership). Returns an exit status; *rejoin as above. */
int rn_cli_member_commit(rn_cli_member_t *m, const int32_t *partitions, const int64_t *offsets,
                         int n, bool *rejoin);
/* LeaveGroup (best effort) and free the member. */
void rn_cli_member_leave(rn_cli_member_t *m);

/* One partition of an OffsetFetch answer (either layout): its topic, index, committed offset
 * (-1 when none) and error code. */
typedef void (*rn_cli_committed_fn)(void *ctx, rn_str_t topic, int32_t partition, int64_t committed,
                                    int16_t error_code);
/* OffsetFetch version v (the caller checked the coordinator serves it) for group through the
 * coordinator conn: topic NULL asks for every topic (v2+), otherwise for the n partitions of
 * topic. Calls fn for each partition answered. Returns 0, or an exit status (message printed)
 * when the call fails or the group-level error is neither 0 nor `tolerated`. */
int rn_cli_offset_fetch(rn_cli_t *cli, rn_conn_t *coord, int16_t v, const char *group,
                        const char *topic, const int32_t *partitions, int n, int16_t tolerated,
                        rn_cli_committed_fn fn, void *ctx);
/* The committed offsets of group for partitions of topic through the coordinator conn
 * (OffsetFetch); -1 where the group has none. Returns an exit status. */
int rn_cli_committed(rn_cli_t *cli, rn_conn_t *coord, const char *group, const char *topic,
                     const int32_t *partitions, int n, int64_t *offsets);
/* The group's coordinator connection; NULL with *status set (errors printed). */
rn_conn_t *rn_cli_coordinator(rn_cli_t *cli, const char *group, int *status);

/* ---- the local cluster (runnel cluster up / status / down) ---- */

/* The options of the local-cluster commands. */
typedef struct rn_cli_local {
    int32_t nodes; /* -n, default 3 */
    int32_t port;  /* --port, the first node's; default 9092 */
    bool nodes_set, port_set, wait_set;
    const char *dir;     /* --dir, default ./runnel-cluster */
    const char *runneld; /* --runneld, NULL: look for it */
    int32_t wait_s;      /* --wait: for the cluster to come up or to stop (default 30) */
    char **extra;        /* arguments after "--", passed on to every runneld */
    int nextra;
} rn_cli_local_t;

/* Parse the options; allowed names the letters of those the command takes beyond --dir
 * ("n" nodes, "p" port, "r" runneld, "w" wait, "-" arguments after --). Returns 0 or an
 * exit status (message printed). */
int rn_cli_local_parse(rn_cli_t *cli, int argc, char **argv, const char *allowed,
                       rn_cli_local_t *o);
/* Read the cluster in o->dir and which of its nodes run; an exit status when there is none
 * (RN_CLI_EXIT_NOTFOUND, saying how to start one) or its cluster.conf is unreadable. */
int rn_cli_local_load(rn_cli_t *cli, const rn_cli_local_t *o, rn_nodes_t *c);

/* What one node said when probed. */
typedef struct rn_cli_probe_node {
    bool answers;      /* accepted a connection and answered ApiVersions */
    int32_t leader_id; /* the quorum leader it names (DescribeQuorum); -1 none */
    int32_t epoch;
    bool listed;     /* Metadata lists it as a broker: registered and unfenced */
    int64_t log_end; /* its metadata log end according to the leader; -1 unknown */
} rn_cli_probe_node_t;

/* The local cluster as its nodes describe it. */
typedef struct rn_cli_probe {
    rn_cli_probe_node_t node[RN_NODES_MAX]; /* by node id - 1 */
    int32_t leader_id;                      /* named with the highest epoch; -1 none */
    int32_t epoch;
    int64_t high_watermark;
    bool have_brokers; /* some node answered Metadata */
    int nanswer;       /* nodes that answered */
    int nagree;        /* nodes naming leader_id */
    int nlisted;       /* brokers Metadata lists */
} rn_cli_probe_t;

/* Ask every node of c (each connection bounded by timeout_ms): ApiVersions, DescribeQuorum,
 * and Metadata through the first node that answers. */
void rn_cli_local_probe(rn_cli_t *cli, const rn_nodes_t *c, int timeout_ms, rn_cli_probe_t *pr);
int64_t rn_cli_local_now_ms(void);
void rn_cli_local_sleep_ms(int ms);

/* ---- subcommands ---- */

int rn_cli_topic_create(rn_cli_t *cli, int argc, char **argv);
int rn_cli_topic_list(rn_cli_t *cli, int argc, char **argv);
int rn_cli_topic_describe(rn_cli_t *cli, int argc, char **argv);
int rn_cli_topic_delete(rn_cli_t *cli, int argc, char **argv);
int rn_cli_topic_alter_config(rn_cli_t *cli, int argc, char **argv);
int rn_cli_topic_add_partitions(rn_cli_t *cli, int argc, char **argv);
int rn_cli_produce(rn_cli_t *cli, int argc, char **argv);
int rn_cli_consume(rn_cli_t *cli, int argc, char **argv);
int rn_cli_group_list(rn_cli_t *cli, int argc, char **argv);
int rn_cli_group_describe(rn_cli_t *cli, int argc, char **argv);
int rn_cli_group_delete(rn_cli_t *cli, int argc, char **argv);
int rn_cli_group_reset_offsets(rn_cli_t *cli, int argc, char **argv);
int rn_cli_cluster_info(rn_cli_t *cli, int argc, char **argv);
int rn_cli_cluster_up(rn_cli_t *cli, int argc, char **argv);
int rn_cli_cluster_status(rn_cli_t *cli, int argc, char **argv);
int rn_cli_cluster_down(rn_cli_t *cli, int argc, char **argv);
int rn_cli_quota_describe(rn_cli_t *cli, int argc, char **argv);
int rn_cli_quota_alter(rn_cli_t *cli, int argc, char **argv);
int rn_cli_acl_add(rn_cli_t *cli, int argc, char **argv);
int rn_cli_acl_list(rn_cli_t *cli, int argc, char **argv);
int rn_cli_acl_delete(rn_cli_t *cli, int argc, char **argv);
/* runnel_user.c */
int rn_cli_user_add(rn_cli_t *cli, int argc, char **argv);
int rn_cli_user_delete(rn_cli_t *cli, int argc, char **argv);
int rn_cli_user_list(rn_cli_t *cli, int argc, char **argv);

#endif
