/* runnel: the admin / produce / consume command-line tool. This file holds the command
 * table, the top-level help and the dispatch from command words to rn_cli_* handlers. */
#include "rn_cli.h"

#include "rn_alloc.h"

#include <stdlib.h>
#include <string.h>

const char rn_cli_exit_help[] =
    "exit status:\n"
    "  0  success\n"
    "  1  the broker refused the operation or it failed (the message says why)\n"
    "  2  usage error (bad option or argument)\n"
    "  3  cannot connect: no bootstrap server reachable, or a broker stopped answering\n"
    "  4  not found: the named topic, partition or group (or local cluster) does not exist\n";

#define GLOBAL_HELP                                                                                \
    "global options (before or after the command):\n"                                              \
    "  -b, --bootstrap HOST:PORT[,HOST:PORT...]\n"                                                 \
    "                     brokers to start from (default $RUNNEL_BOOTSTRAP, else "                 \
    "127.0.0.1:9092)\n"                                                                            \
    "      --json         machine-readable JSON on stdout instead of tables\n"                     \
    "      --timeout MS   bound on connecting and on each request (default 10000)\n"               \
    "      --command-config FILE\n"                                                                \
    "                     Kafka client properties: with security.protocol=SASL_PLAINTEXT,\n"       \
    "                     log in with sasl.mechanism as sasl.jaas.config's user (default\n"        \
    "                     $RUNNEL_COMMAND_CONFIG)\n"                                               \
    "  -v, --verbose      print protocol notes (versions, brokers) on stderr\n"                    \
    "  -h, --help         help for the command\n"

static const char topic_create_help[] =
    "usage: runnel topic create TOPIC [options]\n"
    "\n"
    "Create a topic.\n"
    "\n"
    "  -p, --partitions N          partition count (default: the broker's num.partitions)\n"
    "  -r, --replication-factor N  replicas per partition (default: the broker's\n"
    "                              default.replication.factor)\n"
    "  -c, --config KEY=VALUE      a topic config (repeatable), e.g. -c retention.ms=3600000\n"
    "      --if-not-exists         succeed when the topic already exists\n"
    "      --validate-only         ask the broker to check the request without creating\n"
    "\n"
    "example: runnel topic create orders -p 3 -c cleanup.policy=compact\n";

static const char topic_list_help[] =
    "usage: runnel topic list [--internal]\n"
    "\n"
    "List topics with their partition count and replication factor.\n"
    "\n"
    "      --internal   also list internal topics (__consumer_offsets, ...)\n";

static const char topic_describe_help[] =
    "usage: runnel topic describe TOPIC...\n"
    "\n"
    "Show each partition's leader, replicas, in-sync replicas, and start/end offsets, and\n"
    "the topic's configuration overrides.\n"
    "\n"
    "      --all-configs   list every config (with defaults), not only the overrides\n";

static const char topic_delete_help[] = "usage: runnel topic delete TOPIC... [--if-exists]\n"
                                        "\n"
                                        "Delete topics and their data.\n"
                                        "\n"
                                        "      --if-exists   succeed when a topic does not exist\n";

static const char topic_alter_config_help[] =
    "usage: runnel topic alter-config TOPIC [--set KEY=VALUE]... [--delete KEY]...\n"
    "\n"
    "Change a topic's configuration overrides (IncrementalAlterConfigs); settings not named\n"
    "are left as they are. --delete returns a key to the broker's default.\n"
    "\n"
    "  -s, --set KEY=VALUE   set a config (repeatable); -c is accepted too\n"
    "  -d, --delete KEY      remove an override (repeatable)\n"
    "      --validate-only   ask the broker to check the change without applying it\n"
    "\n"
    "example: runnel topic alter-config orders --set retention.ms=86400000\n";

static const char topic_add_partitions_help[] =
    "usage: runnel topic add-partitions TOPIC -p N\n"
    "\n"
    "Raise a topic's partition count to N (partitions can only be added).\n"
    "\n"
    "  -p, --partitions N   the new total partition count\n"
    "      --validate-only  ask the broker to check the change without applying it\n";

static const char produce_help[] =
    "usage: runnel produce TOPIC [options]\n"
    "\n"
    "Send each line of stdin (or --file) as one record. Records are batched per partition\n"
    "(flushed when a batch is full, at end of input, or after --linger-ms without new input)\n"
    "and the command ends with a summary of the offsets written.\n"
    "\n"
    "  -f, --file PATH             read lines from PATH instead of stdin\n"
    "  -K, --key-separator SEP     split each line at the first SEP into key and value\n"
    "                              (lines without SEP get a null key)\n"
    "  -H, --header KEY=VALUE      add a header to every record (repeatable)\n"
    "  -p, --partition N           write every record to partition N (default: keyed records\n"
    "                              by murmur2(key) like Java clients, unkeyed round-robin per\n"
    "                              batch)\n"
    "  -z, --compression CODEC     none, gzip, snappy, lz4 or zstd (default none)\n"
    "  -a, --acks ACKS             0 (no answer), 1 (leader) or all (in-sync replicas;\n"
    "                              default)\n"
    "  -D, --delimiter SEP         record delimiter instead of newline (escapes like \\0\n"
    "                              allowed)\n"
    "      --null-empty            send an empty value as null (a tombstone)\n"
    "      --batch-bytes N         largest batch before compression (default 1000000)\n"
    "      --linger-ms MS          flush pending records after MS without input (default 100)\n"
    "\n"
    "example: printf 'k1:hello\\nk2:world\\n' | runnel produce orders -K : -H source=cli\n";

static const char consume_help[] =
    "usage: runnel consume TOPIC [options]\n"
    "\n"
    "Print records. Without --group every partition (or those named with -p) is read\n"
    "directly; with --group the command joins the consumer group, gets partitions from the\n"
    "range assignor, starts at the group's committed offsets and commits as it goes.\n"
    "\n"
    "  -p, --partition N        read partition N (repeatable; default all)\n"
    "  -o, --offset WHERE       where to start: beginning, end (default), an offset N,\n"
    "                           -N (N before the end), or @TIME (first record at or after\n"
    "                           TIME: ms since the epoch or YYYY-MM-DDTHH:MM:SS[Z]); with\n"
    "                           --group it applies where the group has no committed offset\n"
    "      --from-beginning     the same as -o beginning\n"
    "  -g, --group GROUP        consume as a member of GROUP\n"
    "  -F, --format FMT         print each record with FMT (a newline is added unless FMT\n"
    "                           ends with one):\n"
    "                             %t topic  %p partition  %o offset  %k key  %v or %s value\n"
    "                             %K key length  %S value length  %T timestamp (ms)\n"
    "                             %h headers as k=v,k=v  %% percent;  \\n \\t escapes\n"
    "                           default \"%v\"; --json prints one JSON object per record\n"
    "  -c, --count N            exit after N records\n"
    "  -e, --exit-at-end        exit when every partition is read to its end\n"
    "      --null TEXT          print null keys and values as TEXT (default empty)\n"
    "      --max-wait-ms MS     how long a fetch waits for new records (default 500)\n"
    "      --commit-interval-ms MS  with --group: commit this often (default 5000)\n"
    "      --session-timeout-ms MS  with --group: session timeout (default 10000)\n"
    "\n"
    "example: runnel consume orders -o beginning -e -F '%p:%o %k=%v'\n";

static const char group_list_help[] = "usage: runnel group list\n"
                                      "\n"
                                      "List consumer groups on every broker, with their state.\n";

static const char group_describe_help[] =
    "usage: runnel group describe GROUP...\n"
    "\n"
    "Show a group's state and members, and per partition: committed offset, log end offset,\n"
    "lag, and the member it is assigned to.\n";

static const char group_delete_help[] =
    "usage: runnel group delete GROUP...\n"
    "\n"
    "Delete groups and their committed offsets. A group must have no active members.\n";

static const char group_reset_offsets_help[] =
    "usage: runnel group reset-offsets GROUP --topic TOPIC[:P,P...] WHERE [--execute]\n"
    "\n"
    "Set a group's committed offsets. Prints the plan; nothing changes without --execute.\n"
    "The group must have no active members.\n"
    "\n"
    "  -t, --topic TOPIC[:P,P]  the topic (and partitions; default all), repeatable\n"
    "      --all-topics         every topic the group has committed offsets for\n"
    "  WHERE is one of:\n"
    "      --to-earliest        the log start offset\n"
    "      --to-latest          the log end offset\n"
    "      --to-offset N        offset N (clamped to the log's range)\n"
    "      --shift-by N         the committed offset plus N (N may be negative)\n"
    "      --to-datetime TIME   the first offset at or after TIME (ms since the epoch or\n"
    "                           YYYY-MM-DDTHH:MM:SS[Z])\n"
    "      --execute            commit the new offsets\n";

static const char cluster_info_help[] =
    "usage: runnel cluster info\n"
    "\n"
    "Show the cluster id, controller, brokers, and under-replicated or offline partitions.\n";

static const char cluster_up_help[] =
    "usage: runnel cluster up [-n N] [--port FIRST] [--dir DIR] [--runneld PATH] [--wait S]\n"
    "                         [-- RUNNELD-FLAG...]\n"
    "\n"
    "Start a local cluster of N runneld nodes on this machine, in the background, and wait\n"
    "until it serves: every node answers, the metadata quorum has a leader and every broker\n"
    "is registered. Then print the bootstrap list (the one line on stdout; progress goes to\n"
    "stderr), so RUNNEL_BOOTSTRAP=$(runnel cluster up) works. Node I listens on\n"
    "127.0.0.1:FIRST+I-1, keeps its data in DIR/node-I, logs to DIR/node-I.log and records\n"
    "its process id in DIR/node-I.pid; all nodes are voters of one quorum (runneld\n"
    "--cluster). DIR/cluster.conf remembers N and FIRST for status and down. A cluster that\n"
    "is already running is left as it is (nodes that stopped are started again). Data is\n"
    "kept between runs; delete DIR (after `runnel cluster down`) to start afresh.\n"
    "\n"
    "  -n, --nodes N        number of nodes, 1 to 16 (default 3)\n"
    "  -p, --port FIRST     the first node's port (default 9092)\n"
    "  -d, --dir DIR        the cluster's directory (default ./runnel-cluster)\n"
    "      --runneld PATH   the broker program (default: runneld next to this runnel, then\n"
    "                       ../broker/runneld beside it as in a build tree, then in PATH)\n"
    "      --wait S         give up waiting after S seconds (default 30); the nodes keep\n"
    "                       running\n"
    "  -- FLAG...           pass the rest to every runneld, e.g. -- --log.level debug\n"
    "\n"
    "example: ./build/tools/runnel cluster up && runnel -b 127.0.0.1:9093 cluster info\n";

static const char cluster_status_help[] =
    "usage: runnel cluster status [--dir DIR]\n"
    "\n"
    "Show each node of the local cluster in DIR (default ./runnel-cluster): its id, address,\n"
    "process id, STATE (running, stopped, or not answering), ROLE in the metadata quorum\n"
    "(leader or follower), BROKER (registered: listed in Metadata; fenced: not listed, as a\n"
    "broker that stopped, is fenced or has not registered yet), its metadata log end, and its\n"
    "log file. Exits 0 when every node runs and answers and the quorum has a leader, else 1\n"
    "(4 when DIR holds no cluster).\n"
    "\n"
    "  -d, --dir DIR   the cluster's directory (default ./runnel-cluster)\n";

static const char cluster_down_help[] =
    "usage: runnel cluster down [--dir DIR] [--wait S]\n"
    "\n"
    "Stop the local cluster in DIR (default ./runnel-cluster): SIGTERM to every node (a\n"
    "clean shutdown), wait until they have exited, and remove their pid files. A node still\n"
    "running after S seconds is killed with SIGKILL, which is reported (exit status 1). The\n"
    "data and logs stay in DIR.\n"
    "\n"
    "  -d, --dir DIR   the cluster's directory (default ./runnel-cluster)\n"
    "      --wait S    seconds to wait before SIGKILL (default 30)\n";

static const char quota_describe_help[] =
    "usage: runnel quota describe [--client-id ID | --default-client-id]\n"
    "                             [--user USER | --default-user]\n"
    "\n"
    "Show client quotas (DescribeClientQuotas), one row per entity and key. Without options\n"
    "every entity with quotas is listed; with them, only the entity made of exactly the\n"
    "parts named (as kafka-configs.sh --describe --entity-type clients does). With --json,\n"
    "each entity's parts map to a name, or to null for the default.\n"
    "\n"
    "      --client-id ID       the client id ID\n"
    "      --default-client-id  the default client id (quotas of clients without their own)\n"
    "      --user USER          the user USER (with --client-id: that user's client)\n"
    "      --default-user       the default user\n"
    "\n"
    "example: runnel quota describe --client-id reporting\n";

#define ACL_RESOURCE_HELP                                                                          \
    "      --topic NAME         a topic (repeatable)\n"                                            \
    "      --group NAME         a consumer group (repeatable)\n"                                   \
    "      --transactional-id ID  a transactional id (repeatable)\n"                               \
    "      --cluster            the cluster\n"

static const char acl_add_help[] =
    "usage: runnel acl add (--allow-principal P | --deny-principal P)... --operation OP...\n"
    "                      RESOURCE... [--allow-host H] [--deny-host H]\n"
    "                      [--resource-pattern-type literal|prefixed]\n"
    "\n"
    "Add ACL bindings (CreateAcls), one per principal, operation and resource, as\n"
    "kafka-acls.sh adds them. The broker needs authorizer.class.name set; adding needs ALTER on\n"
    "the cluster.\n"
    "\n"
    "      --allow-principal P  allow principal P, e.g. User:alice or User:* (repeatable)\n"
    "      --deny-principal P   deny principal P (repeatable); a DENY beats any ALLOW\n"
    "      --operation OP       Read, Write, Create, Delete, Alter, Describe, ClusterAction,\n"
    "                           DescribeConfigs, AlterConfigs, IdempotentWrite or All\n"
    "      --allow-host H       the host the allowed principals connect from (default *)\n"
    "      --deny-host H        the host the denied principals connect from (default *)\n"
    "      --resource-pattern-type T  literal (default) or prefixed: names starting with "
    "NAME\n" ACL_RESOURCE_HELP "\n"
    "example: runnel acl add --allow-principal User:alice --operation Read --topic orders\n";

static const char acl_list_help[] =
    "usage: runnel acl list [RESOURCE...] [--principal P]... [--operation OP]...\n"
    "                       [--resource-pattern-type literal|prefixed|any|match]\n"
    "\n"
    "Show ACL bindings (DescribeAcls), as kafka-acls.sh lists them: every binding, or a named\n"
    "resource's literal ones; --resource-pattern-type match shows every binding that applies\n"
    "to the resource (literal, the wildcard \"*\" and prefixed), any those of the exact name\n"
    "whatever their pattern type.\n"
    "\n"
    "      --principal P        only the bindings of principal P\n"
    "      --operation OP       only bindings of this operation\n" ACL_RESOURCE_HELP "\n"
    "example: runnel acl list --topic orders --resource-pattern-type match\n";

static const char acl_delete_help[] =
    "usage: runnel acl delete [RESOURCE...] [--allow-principal P | --deny-principal P |\n"
    "                         --principal P]... [--operation OP]...\n"
    "                         [--resource-pattern-type literal|prefixed|any]\n"
    "\n"
    "Remove the ACL bindings matching (DeleteAcls) and print them. Give a resource or a\n"
    "principal; a resource's bindings are matched by its exact name and pattern type\n"
    "(literal unless --resource-pattern-type says otherwise).\n"
    "\n"
    "      --allow-principal P  ALLOW bindings of P\n"
    "      --deny-principal P   DENY bindings of P\n"
    "      --principal P        bindings of P, either permission\n"
    "      --operation OP       only bindings of this operation\n" ACL_RESOURCE_HELP "\n"
    "example: runnel acl delete --allow-principal User:alice --topic orders\n";

static const char quota_alter_help[] =
    "usage: runnel quota alter (--client-id ID | --default-client-id)\n"
    "                          [--user USER | --default-user]\n"
    "                          [--add KEY=VALUE,...] [--delete KEY,...] [--validate-only]\n"
    "\n"
    "Set or remove a client's quotas (AlterClientQuotas); keys not named are left as they\n"
    "are. The keys are producer_byte_rate and consumer_byte_rate (bytes per second),\n"
    "request_percentage (percent of one request thread) and controller_mutation_rate; a\n"
    "value must be greater than 0. The change applies entirely or not at all.\n"
    "\n"
    "      --client-id ID       the client id ID\n"
    "      --default-client-id  the default client id\n"
    "      --user USER          the user USER (the quota is for that user's client)\n"
    "      --default-user       the default user\n"
    "      --add KEY=VALUE[,...]  set quotas (repeatable)\n"
    "      --delete KEY[,...]     remove quotas (repeatable)\n"
    "      --validate-only      ask the broker to check the change without applying it\n"
    "\n"
    "example: runnel quota alter --client-id reporting --add consumer_byte_rate=1048576\n";

static const char user_add_help[] =
    "usage: runnel user add NAME [--mechanism SCRAM-SHA-512|SCRAM-SHA-256] [--iterations N]\n"
    "\n"
    "Create the user NAME or change its password (AlterUserScramCredentials), for SASL\n"
    "logins with SCRAM (and PLAIN, which runneld checks against the SCRAM credentials). The\n"
    "password is one line read from stdin, or asked for without echo on a terminal; never\n"
    "give it as an argument. It is salted here (PBKDF2, a random 32-byte salt, N iterations):\n"
    "the broker receives the salted password and keeps only the keys RFC 5802 derives from\n"
    "it. To create the first user, run this against a PLAINTEXT listener (the default\n"
    "config's loopback one) before clients must log in.\n"
    "\n"
    "      --mechanism M   SCRAM-SHA-512 (default) or SCRAM-SHA-256\n"
    "      --iterations N  PBKDF2 iterations, 4096 (default) to 16384\n"
    "\n"
    "example: echo 'alice-secret' | runnel user add alice\n";

static const char user_delete_help[] =
    "usage: runnel user delete NAME [--mechanism SCRAM-SHA-512|SCRAM-SHA-256]\n"
    "\n"
    "Delete the user's SCRAM credentials: every mechanism it has, or only --mechanism's.\n"
    "Connections the user has open stay logged in until they re-authenticate\n"
    "(connections.max.reauth.ms). Exits 4 when the user has no credentials.\n"
    "\n"
    "example: runnel user delete alice\n";

static const char user_list_help[] =
    "usage: runnel user list [NAME...]\n"
    "\n"
    "Show SCRAM users (DescribeUserScramCredentials): one row per user and mechanism with\n"
    "its iteration count; never the credentials. Exits 4 when a named user has none.\n";

const rn_cli_cmd_t rn_cli_cmds[] = {
    {"topic", "create", rn_cli_topic_create, "create a topic", topic_create_help},
    {"topic", "list", rn_cli_topic_list, "list topics", topic_list_help},
    {"topic", "describe", rn_cli_topic_describe, "partitions, leaders, offsets and configs",
     topic_describe_help},
    {"topic", "delete", rn_cli_topic_delete, "delete topics", topic_delete_help},
    {"topic", "alter-config", rn_cli_topic_alter_config, "set or delete topic configs",
     topic_alter_config_help},
    {"topic", "add-partitions", rn_cli_topic_add_partitions, "raise the partition count",
     topic_add_partitions_help},
    {NULL, "produce", rn_cli_produce, "send lines of input as records", produce_help},
    {NULL, "consume", rn_cli_consume, "print records (by partition or as a group)", consume_help},
    {"group", "list", rn_cli_group_list, "list consumer groups", group_list_help},
    {"group", "describe", rn_cli_group_describe, "members, committed offsets and lag",
     group_describe_help},
    {"group", "delete", rn_cli_group_delete, "delete consumer groups", group_delete_help},
    {"group", "reset-offsets", rn_cli_group_reset_offsets, "move committed offsets",
     group_reset_offsets_help},
    {"cluster", "info", rn_cli_cluster_info, "brokers, controller, unhealthy partitions",
     cluster_info_help},
    {"cluster", "up", rn_cli_cluster_up, "start a local cluster of N nodes (default 3)",
     cluster_up_help},
    {"cluster", "status", rn_cli_cluster_status, "the local cluster's nodes, leader, brokers",
     cluster_status_help},
    {"cluster", "down", rn_cli_cluster_down, "stop the local cluster (data is kept)",
     cluster_down_help},
    {"quota", "describe", rn_cli_quota_describe, "client quotas (byte rates, request share)",
     quota_describe_help},
    {"quota", "alter", rn_cli_quota_alter, "set or remove a client's quotas", quota_alter_help},
    {"acl", "add", rn_cli_acl_add, "allow or deny principals operations on resources",
     acl_add_help},
    {"acl", "list", rn_cli_acl_list, "ACL bindings (those that apply to a resource)",
     acl_list_help},
    {"acl", "delete", rn_cli_acl_delete, "remove ACL bindings", acl_delete_help},
    {"user", "add", rn_cli_user_add, "set a user's SCRAM password", user_add_help},
    {"user", "delete", rn_cli_user_delete, "delete a user's SCRAM credentials", user_delete_help},
    {"user", "list", rn_cli_user_list, "SCRAM users and their mechanisms", user_list_help},
    {NULL, NULL, NULL, NULL, NULL},
};

static void print_main_help(FILE *out)
{
    fprintf(out,
            "usage: runnel [global options] COMMAND [options]\n"
            "\n"
            "Administer, produce to and consume from a runnel or Apache Kafka cluster, or run\n"
            "a local runnel cluster (cluster up).\n"
            "\n"
            "commands:\n");
    for (const rn_cli_cmd_t *c = rn_cli_cmds; c->name; c++) {
        char words[64];
        snprintf(words, sizeof words, "%s%s%s", c->group ? c->group : "", c->group ? " " : "",
                 c->name);
        fprintf(out, "  %-22s %s\n", words, c->summary);
    }
    fprintf(out, "\n%s\n%s\n", GLOBAL_HELP, "Run `runnel COMMAND --help` for a command's options.");
    fprintf(out, "\n%s", rn_cli_exit_help);
}

/* Help for a command group ("runnel topic"): its subcommands. */
static void print_group_help(FILE *out, const char *group)
{
    fprintf(out, "usage: runnel %s SUBCOMMAND [options]\n\nsubcommands:\n", group);
    for (const rn_cli_cmd_t *c = rn_cli_cmds; c->name; c++)
        if (c->group && strcmp(c->group, group) == 0)
            fprintf(out, "  %-16s %s\n", c->name, c->summary);
    fprintf(out, "\nRun `runnel %s SUBCOMMAND --help` for its options.\n", group);
}

static bool is_group(const char *word)
{
    for (const rn_cli_cmd_t *c = rn_cli_cmds; c->name; c++)
        if (c->group && strcmp(c->group, word) == 0)
            return true;
    return false;
}

static bool takes_value(const char *arg)
{
    return strcmp(arg, "-b") == 0 || strcmp(arg, "--bootstrap") == 0 ||
           strcmp(arg, "--timeout") == 0 || strcmp(arg, "--command-config") == 0;
}

/* Find the command words and run the command. Global options before the words are kept
 * in rest for the command's own parser, which knows them too. */
static int run(rn_cli_t *cli, int argc, char **argv, char **rest)
{
    int nrest = 0;
    rest[nrest++] = argv[0];
    const char *word1 = NULL, *word2 = NULL;
    int i = 1;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (word1 == NULL && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            print_main_help(stdout);
            return 0;
        }
        if (word1 == NULL && strcmp(a, "--version") == 0) {
            printf("runnel 0.1.0\n");
            return 0;
        }
        if (a[0] == '-' && a[1] != '\0') {
            rest[nrest++] = argv[i];
            if (takes_value(a) && i + 1 < argc)
                rest[nrest++] = argv[++i];
            continue;
        }
        if (word1 == NULL) {
            word1 = a;
            if (strcmp(word1, "help") == 0) {
                print_main_help(stdout);
                return 0;
            }
            if (!is_group(word1)) {
                i++;
                break;
            }
        } else {
            word2 = a;
            i++;
            break;
        }
    }
    for (; i < argc; i++)
        rest[nrest++] = argv[i];
    rest[nrest] = NULL;

    if (word1 == NULL) {
        print_main_help(stderr);
        return RN_CLI_EXIT_USAGE;
    }
    if (is_group(word1) && word2 == NULL) {
        bool help = false;
        for (int k = 1; k < nrest; k++)
            help |= strcmp(rest[k], "-h") == 0 || strcmp(rest[k], "--help") == 0;
        print_group_help(help ? stdout : stderr, word1);
        return help ? 0 : RN_CLI_EXIT_USAGE;
    }
    const rn_cli_cmd_t *cmd = NULL;
    for (const rn_cli_cmd_t *c = rn_cli_cmds; c->name; c++) {
        if (word2 == NULL
                ? (c->group == NULL && strcmp(c->name, word1) == 0)
                : (c->group && strcmp(c->group, word1) == 0 && strcmp(c->name, word2) == 0)) {
            cmd = c;
            break;
        }
    }
    if (cmd == NULL) {
        if (word2 != NULL) {
            fprintf(stderr, "runnel: unknown command \"%s %s\"\n", word1, word2);
            print_group_help(stderr, word1);
        } else {
            fprintf(stderr, "runnel: unknown command \"%s\"; run `runnel --help` for the list\n",
                    word1);
        }
        return RN_CLI_EXIT_USAGE;
    }
    char name[64];
    snprintf(name, sizeof name, "%s%s%s", cmd->group ? cmd->group : "", cmd->group ? " " : "",
             cmd->name);
    cli->cmd = name;
    cli->help = cmd->help;
    int st = cmd->run(cli, nrest, rest);
    return st == RN_CLI_HELP_SHOWN ? 0 : st;
}

int main(int argc, char **argv)
{
    rn_cli_t cli;
    memset(&cli, 0, sizeof cli);
    const char *env = getenv("RUNNEL_BOOTSTRAP");
    cli.bootstrap = env && *env ? env : RN_CLI_DEFAULT_BOOTSTRAP;
    cli.timeout_ms = RN_CLI_DEFAULT_TIMEOUT;
    rn_arena_init(&cli.arena, 0);
    rn_arena_init(&cli.keep, 0);
    char **rest = rn_xcalloc((size_t)argc + 1, sizeof *rest);
    const char *cc = getenv("RUNNEL_COMMAND_CONFIG");
    cli.cmd = "(RUNNEL_COMMAND_CONFIG)";
    cli.help = "";
    int st = cc != NULL && *cc != '\0' ? rn_cli_command_config(&cli, cc) : 0;
    cli.cmd = cli.help = NULL;
    if (st == 0)
        st = run(&cli, argc, argv, rest);
    fflush(stdout);
    if (cli.pool_ready)
        rn_conn_pool_free(&cli.pool);
    rn_arena_free(&cli.arena);
    rn_arena_free(&cli.keep);
    rn_free(rest);
    return st;
}
