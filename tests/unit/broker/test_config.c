/* Tests for rn_config: defaults, YAML files (flat and nested), flags in every spelling,
 * precedence, resolution of derived values, and error messages naming key and FILE:LINE. */
#include "rn_config.h"
#include "rn_err.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/rn_test_config.XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    return path;
}

/* Load argv (NULL-terminated) into a fresh config; returns rc, err filled on failure. */
static int load(rn_config_t *cfg, char *err, size_t errlen, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "runneld";
    for (; *args; args++)
        argv[argc++] = (char *)*args;
    rn_config_init(cfg);
    err[0] = '\0';
    return rn_config_load(cfg, argc, argv, err, errlen);
}

static void test_defaults(void)
{
    rn_config_t cfg;
    char err[512];
    const char *none[] = {NULL};
    is(load(&cfg, err, sizeof(err), none), RN_CONFIG_RUN, "no arguments loads");
    is(cfg.node_id, 1, "node id 1");
    is_str(cfg.listen_host, "127.0.0.1", "listen host");
    is(cfg.listen_port, 9092, "listen port");
    is_str(cfg.advertised_host, "127.0.0.1", "advertised host = listen host");
    is_str(cfg.data_dir, "./runnel-data", "data dir");
    is(cfg.n_voters, 0, "no voters");
    is(cfg.cluster_size, 1, "single node");
    is(cfg.default_replication_factor, 1, "rf min(3,1)");
    is(cfg.offsets_topic_replication_factor, 1, "offsets rf capped at 1");
    is(rn_config_int(&cfg, RN_CFG_NUM_PARTITIONS), 1, "num.partitions 1");
    ok(rn_config_bool(&cfg, RN_CFG_AUTO_CREATE_TOPICS_ENABLE), "auto create on");
    is(cfg.log_retention_ms, 168LL * 3600000, "retention 168h");
    is(cfg.log_roll_ms, 168LL * 3600000, "roll 168h");
    is(rn_config_int(&cfg, RN_CFG_MESSAGE_MAX_BYTES), 1048588, "message.max.bytes");
    is(rn_config_int(&cfg, RN_CFG_SOCKET_REQUEST_MAX_BYTES), 104857600, "socket.request.max");
    is(rn_config_int(&cfg, RN_CFG_LOG_RETENTION_BYTES), -1, "retention bytes");
    is(rn_config_int(&cfg, RN_CFG_OFFSETS_TOPIC_NUM_PARTITIONS), 50, "offsets partitions");
    is(rn_config_int(&cfg, RN_CFG_GROUP_INITIAL_REBALANCE_DELAY_MS), 3000, "rebalance delay");
    is_str(rn_config_str(&cfg, RN_CFG_LOG_MESSAGE_TIMESTAMP_TYPE), "CreateTime", "ts type");
    ok(!cfg.v[RN_CFG_NUM_PARTITIONS].set, "default is not 'set'");
    ok(rn_config_str(&cfg, RN_CFG_LOG_RETENTION_MS) == NULL, "retention.ms has no default");
    rn_config_free(&cfg);
}

static void test_contract_flags(void)
{
    rn_config_t cfg;
    char err[512];
    const char *args[] = {
        "--node-id",  "2",      "--listen",  "127.0.0.1:19093",
        "--data-dir", "/tmp/x", "--cluster", "1@127.0.0.1:19092,2@127.0.0.1:19093,3@[::1]:19094",
        NULL};
    is(load(&cfg, err, sizeof(err), args), RN_CONFIG_RUN, "contract flags load: %s", err);
    is(cfg.node_id, 2, "node id");
    is(cfg.listen_port, 19093, "port");
    is_str(cfg.data_dir, "/tmp/x", "data dir");
    is(cfg.n_voters, 3, "three voters");
    is(cfg.voters[2].id, 3, "voter 3 id");
    is_str(cfg.voters[2].host, "::1", "voter 3 IPv6 host");
    is(cfg.voters[2].port, 19094, "voter 3 port");
    is(cfg.default_replication_factor, 3, "rf min(3,3)");
    is(cfg.offsets_topic_replication_factor, 3, "offsets rf 3");
    is_str(cfg.v[RN_CFG_NODE_ID].source, "--node-id", "source names the flag");
    rn_config_free(&cfg);

    const char *bad[] = {"--node-id", "4", "--cluster", "1@h:1,2@h:2", NULL};
    is(load(&cfg, err, sizeof(err), bad), RN_EINVAL, "node id not among voters");
    ok(strstr(err, "node.id 4") != NULL && strstr(err, "--cluster") != NULL, "message: %s", err);
    rn_config_free(&cfg);
    const char *bad2[] = {"--cluster", "1@h", NULL};
    is(load(&cfg, err, sizeof(err), bad2), RN_EINVAL, "voter without port");
    ok(strstr(err, "ID@HOST:PORT") != NULL, "message: %s", err);
    rn_config_free(&cfg);
}

static void test_key_flags(void)
{
    rn_config_t cfg;
    char err[512];
    const char *args[] = {"--num.partitions",
                          "3",
                          "--log-retention-hours=24",
                          "--auto.create.topics.enable=false",
                          "--log.level",
                          "DEBUG",
                          "--log.message.timestamp.type",
                          "logappendtime",
                          "--broker.rack",
                          "r1",
                          NULL};
    is(load(&cfg, err, sizeof(err), args), RN_CONFIG_RUN, "key flags load: %s", err);
    is(rn_config_int(&cfg, RN_CFG_NUM_PARTITIONS), 3, "--num.partitions 3");
    is(cfg.log_retention_ms, 24LL * 3600000, "--log-retention-hours=24 (dashes)");
    ok(!rn_config_bool(&cfg, RN_CFG_AUTO_CREATE_TOPICS_ENABLE), "bool flag");
    is(cfg.log_level, 0, "log.level DEBUG");
    is_str(rn_config_str(&cfg, RN_CFG_LOG_MESSAGE_TIMESTAMP_TYPE), "LogAppendTime",
           "enum kept in canonical case");
    rn_config_free(&cfg);

    struct {
        const char *args[4];
        const char *want;
    } cases[] = {
        {{"--num.partitions", "0", NULL}, "--num.partitions: 0 is out of range"},
        {{"--num.partitions=abc", NULL}, "--num.partitions: \"abc\" is not an integer"},
        {{"--no.such.key", "1", NULL}, "--no.such.key: unknown flag"},
        {{"--num.partitions", NULL}, "--num.partitions needs a value"},
        {{"stray", NULL}, "unexpected argument \"stray\""},
        {{"--delete.topic.enable", "maybe", NULL}, "is not a boolean"},
        {{"--log.message.timestamp.type", "Now", NULL}, "is not one of CreateTime, LogAppendTime"},
        {{"--listen", "nohostport", NULL}, "listeners"},
        {{"--data-dir", "/a,/b", NULL}, "one data directory"},
        {{"--default.replication.factor", "2", NULL}, "more than the 1 node"},
        {{"--node.id", "1", NULL}, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load(&cfg, err, sizeof(err), cases[i].args);
        if (cases[i].want == NULL)
            is(rc, 0, "case %zu loads", i);
        else
            ok(rc == RN_EINVAL && strstr(err, cases[i].want) != NULL, "case %zu: %s", i, err);
        rn_config_free(&cfg);
    }
}

static void test_file(void)
{
    rn_config_t cfg;
    char err[512];
    const char *path = write_file("flat.yaml", "# runnel\n"
                                               "node.id: 5\n"
                                               "listeners: PLAINTEXT://0.0.0.0:29092\n"
                                               "advertised.listeners: PLAINTEXT://broker5:29092\n"
                                               "log.dirs: [/var/lib/runnel]\n"
                                               "log:\n"
                                               "  retention:\n"
                                               "    minutes: 30\n"
                                               "  segment.bytes: 1048576\n"
                                               "num.partitions: 4\n"
                                               "log.level: warn\n");
    const char *args[] = {"--config", path, "--num.partitions", "6", NULL};
    is(load(&cfg, err, sizeof(err), args), RN_CONFIG_RUN, "file loads: %s", err);
    is(cfg.node_id, 5, "node.id from file");
    is_str(cfg.listen_host, "0.0.0.0", "listen any");
    is(cfg.listen_port, 29092, "listen port");
    is_str(cfg.advertised_host, "broker5", "advertised host");
    is_str(cfg.data_dir, "/var/lib/runnel", "sequence value");
    is(cfg.log_retention_ms, 30LL * 60000, "nested log.retention.minutes");
    is(rn_config_int(&cfg, RN_CFG_LOG_SEGMENT_BYTES), 1048576, "nested log.segment.bytes");
    is(rn_config_int(&cfg, RN_CFG_NUM_PARTITIONS), 6, "flag overrides file");
    ok(strstr(cfg.v[RN_CFG_NODE_ID].source, "flat.yaml:2") != NULL, "source is FILE:LINE (%s)",
       cfg.v[RN_CFG_NODE_ID].source);
    is(cfg.log_level, 2, "log.level warn");

    /* SIGHUP: the file changes, log.level is re-read. */
    write_file("flat.yaml", "log.level: error\n");
    is(rn_config_reload_log_level(&cfg, err, sizeof(err)), 3, "reload picks up error level");
    is(cfg.log_level, 3, "level stored");
    rn_config_free(&cfg);

    /* --- errors name the key and FILE:LINE */
    struct {
        const char *text;
        const char *want;
    } cases[] = {
        {"num.partitions: 2\nbogus.key: 1\n", "bad.yaml:2: unknown key \"bogus.key\""},
        {"num.partitions: 2\n\nlog.retention.hours: lots\n",
         "bad.yaml:3: log.retention.hours: \"lots\" is not an integer"},
        {"num.partitions: 2\nnum.partitions: 3\n", "bad.yaml:2: num.partitions is given twice"},
        {"- a\n- b\n", "bad.yaml:1: the file must be a mapping"},
        {"num.partitions: [1, {a: b}]\n", "bad.yaml:1: num.partitions: a list may hold only"},
        {"num.partitions: \"open\n", "bad.yaml:2: YAML syntax error"},
        {"message.max.bytes: -5\n", "bad.yaml:1: message.max.bytes: -5 is out of range"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *bad = write_file("bad.yaml", cases[i].text);
        const char *bargs[] = {"--config", bad, NULL};
        int rc = load(&cfg, err, sizeof(err), bargs);
        ok(rc == RN_EINVAL && strstr(err, cases[i].want) != NULL, "file case %zu: %s", i, err);
        rn_config_free(&cfg);
    }
    const char *missing[] = {"--config", "/nonexistent/runnel.yaml", NULL};
    is(load(&cfg, err, sizeof(err), missing), RN_EIO, "missing file");
    ok(strstr(err, "/nonexistent/runnel.yaml") != NULL, "message names the file: %s", err);
    rn_config_free(&cfg);

    const char *empty = write_file("empty.yaml", "");
    const char *eargs[] = {"--config", empty, NULL};
    is(load(&cfg, err, sizeof(err), eargs), 0, "empty file is fine: %s", err);
    rn_config_free(&cfg);
}

static void test_help_and_text(void)
{
    rn_config_t cfg;
    char err[512];
    const char *help[] = {"--num.partitions", "x", "--help", NULL};
    is(load(&cfg, err, sizeof(err), help), RN_CONFIG_HELP, "--help wins");
    rn_config_free(&cfg);
    const char *ver[] = {"--version", NULL};
    is(load(&cfg, err, sizeof(err), ver), RN_CONFIG_VERSION, "--version");
    rn_config_free(&cfg);

    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    rn_config_usage(mem, "runneld");
    fclose(mem);
    int missing = 0;
    for (int k = 0; k < RN_CFG__COUNT; k++)
        missing += strstr(text, rn_config_def((rn_cfg_key_t)k)->name) == NULL;
    is(missing, 0, "--help lists every key");
    ok(strstr(text, "default: 1048588") != NULL, "--help shows defaults");
    free(text);

    rn_config_init(&cfg);
    char buf[32];
    is_str(rn_config_text(&cfg, RN_CFG_LOG_SEGMENT_BYTES, buf, sizeof(buf)), "1073741824",
           "text of an int");
    is_str(rn_config_text(&cfg, RN_CFG_DELETE_TOPIC_ENABLE, buf, sizeof(buf)), "true",
           "text of a bool");
    ok(rn_config_text(&cfg, RN_CFG_LOG_ROLL_MS, buf, sizeof(buf)) == NULL, "unset text NULL");
    is(rn_config_find("log.retention.bytes"), RN_CFG_LOG_RETENTION_BYTES, "find");
    is(rn_config_find("nope"), -1, "find unknown");
    rn_config_free(&cfg);
}

/* Named listeners: every listener resolved with its advertised address, names
 * case-insensitive, roles by name, and each misspelling an error naming key and name. */
static void test_listeners(void)
{
    rn_config_t cfg;
    char err[512];
    const char *path =
        write_file("listeners.yaml", "listeners: internal://127.0.0.1:19092, EXTERNAL://:19094,"
                                     "CONTROLLER://[::1]:19093\n"
                                     "advertised.listeners: EXTERNAL://broker1.example:9094\n"
                                     "listener.security.protocol.map: INTERNAL:PLAINTEXT,"
                                     "EXTERNAL:plaintext,CONTROLLER:PLAINTEXT,SSL:SSL\n"
                                     "inter.broker.listener.name: Internal\n"
                                     "controller.listener.names: CONTROLLER\n");
    const char *args[] = {"--config", path, NULL};
    is(load(&cfg, err, sizeof(err), args), RN_CONFIG_RUN, "three listeners load: %s", err);
    is(cfg.n_listeners, 3, "three listeners");
    is_str(cfg.listeners[0].name, "INTERNAL", "names upper-cased");
    is_str(cfg.listeners[0].advertised_host, "127.0.0.1", "INTERNAL advertises itself");
    is(cfg.listeners[0].advertised_port, 19092, "INTERNAL's port");
    is_str(cfg.listeners[1].host, "", "EXTERNAL on every interface");
    is_str(cfg.listeners[1].advertised_host, "broker1.example", "EXTERNAL advertised");
    is(cfg.listeners[1].advertised_port, 9094, "EXTERNAL's advertised port");
    is_str(cfg.listeners[2].host, "::1", "IPv6 listener");
    is(cfg.inter_broker_listener, 0, "inter.broker.listener.name any case");
    is(cfg.controller_listener, 2, "controller.listener.names");
    is(cfg.listen_port, 19092, "listen_port is the inter-broker listener's");
    ok(rn_config_listener_find(&cfg, "external") == 1, "find by name, any case");
    rn_config_free(&cfg);

    /* SSL listeners, and Kafka's listener.name.<name>.<key> for one of them. */
    path = write_file("ssl.yaml", "listeners: SSL://127.0.0.1:19095,EXT://127.0.0.1:19096\n"
                                  "listener.security.protocol.map: SSL:SSL,EXT:SSL\n"
                                  "ssl.keystore.location: /etc/a.pem\n"
                                  "listener.name.ext.ssl.keystore.location: /etc/b.pem\n");
    const char *ssl_args[] = {"--config", path, "--listener.name.ext.ssl.client.auth", "required",
                              NULL};
    is(load(&cfg, err, sizeof(err), ssl_args), RN_CONFIG_RUN, "SSL listeners load: %s", err);
    is(cfg.listeners[0].protocol, RN_SECPROTO_SSL, "SSL maps to SSL");
    char at[300];
    is_str(rn_config_listener_str(&cfg, 0, RN_CFG_SSL_KEYSTORE_LOCATION, at, sizeof(at)),
           "/etc/a.pem", "SSL uses ssl.keystore.location");
    is_str(rn_config_listener_str(&cfg, 1, RN_CFG_SSL_KEYSTORE_LOCATION, at, sizeof(at)),
           "/etc/b.pem", "EXT uses its own");
    ok(strstr(at, "ssl.yaml:4: listener.name.ext.ssl.keystore.location") != NULL,
       "and says where it came from: %s", at);
    is_str(rn_config_listener_str(&cfg, 1, RN_CFG_SSL_CLIENT_AUTH, NULL, 0), "required",
           "an override from a flag");
    is_str(rn_config_listener_str(&cfg, 0, RN_CFG_SSL_CLIENT_AUTH, NULL, 0), "none",
           "the other listener keeps the default");
    ok(rn_config_listener_set(&cfg, 1, RN_CFG_SSL_CLIENT_AUTH) &&
           !rn_config_listener_set(&cfg, 0, RN_CFG_SSL_CLIENT_AUTH),
       "set per listener");
    rn_config_free(&cfg);

    const char *plain[] = {"--listeners", "A://127.0.0.1:1,PLAINTEXT://127.0.0.1:2",
                           "--listener.security.protocol.map", "A:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                           NULL};
    is(load(&cfg, err, sizeof(err), plain), RN_CONFIG_RUN, "two listeners load: %s", err);
    is(cfg.inter_broker_listener, 1, "inter-broker default: the one named PLAINTEXT");
    is(cfg.controller_listener, 1, "controller default: the inter-broker one");
    rn_config_free(&cfg);
    const char *first[] = {"--listeners", "A://127.0.0.1:1,B://127.0.0.1:2",
                           "--listener.security.protocol.map", "A:PLAINTEXT,B:PLAINTEXT", NULL};
    is(load(&cfg, err, sizeof(err), first), RN_CONFIG_RUN, "no PLAINTEXT listener: %s", err);
    is(cfg.inter_broker_listener, 0, "inter-broker default: the first");
    rn_config_free(&cfg);
    const char *ctl[] = {"--listeners", "PLAINTEXT://127.0.0.1:1,CONTROLLER://127.0.0.1:2",
                         "--controller-listener-names", "CONTROLLER", NULL};
    is(load(&cfg, err, sizeof(err), ctl), RN_CONFIG_RUN, "no map, a controller listener: %s", err);
    is(cfg.controller_listener, 1, "without a map a controller listener is PLAINTEXT");
    rn_config_free(&cfg);

    struct {
        const char *args[8];
        const char *want;
    } cases[] = {
        {{"--listeners", "A://127.0.0.1:1,B://127.0.0.1:2", NULL},
         "no security protocol for listener A"},
        {{"--listeners", "A://127.0.0.1:1", "--listener.security.protocol.map", "A:SASL_PLAINTEXT",
          NULL},
         NULL},
        {{"--listeners", "PLAINTEXT://127.0.0.1:1", "--listener.name.b.ssl.keystore.location", "x",
          NULL},
         "--listener.name.b.ssl.keystore.location: B is not a listener (listeners defines "
         "PLAINTEXT)"},
        {{"--listeners", "PLAINTEXT://127.0.0.1:1", "--listener.name.plaintext.log.dirs", "x",
          NULL},
         "log.dirs cannot be set per listener"},
        {{"--listeners", "PLAINTEXT://127.0.0.1:1", "--listener.name.plaintext.ssl.client.auth",
          "sometimes", NULL},
         "listener.name.plaintext.ssl.client.auth: \"sometimes\" is not one of"},
        {{"--listeners", "A://127.0.0.1:1", "--listener.security.protocol.map", "A:SASL_SSL", NULL},
         NULL},
        {{"--listeners", "A://127.0.0.1:1", "--listener.security.protocol.map", "A:SASL_SSL",
          "--listener.name.a.sasl.enabled.mechanisms", "PLAIN,GSSAPI", NULL},
         "\"PLAIN,GSSAPI\" is not a list of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"},
        {{"--listeners", "A://127.0.0.1:1", "--listener.security.protocol.map", "A:TLS", NULL},
         "\"TLS\" is not a security protocol"},
        {{"--listeners", "A://127.0.0.1:1", "--listener.security.protocol.map",
          "A:PLAINTEXT,B:PLAINTEXT", NULL},
         "--listener.security.protocol.map: B is not a listener (listeners defines A)"},
        {{"--listen", "127.0.0.1:1", "--advertised.listeners", "EXTERNAL://h:1", NULL},
         "--advertised.listeners: EXTERNAL is not a listener (listeners defines PLAINTEXT)"},
        {{"--listen", "127.0.0.1:1", "--inter.broker.listener.name", "INTERNAL", NULL},
         "--inter.broker.listener.name: INTERNAL is not a listener"},
        {{"--listen", "127.0.0.1:1", "--controller.listener.names", "PLAINTEXT,CONTROLLER", NULL},
         "--controller.listener.names: CONTROLLER is not a listener"},
        {{"--listeners", "PLAINTEXT://127.0.0.1:1,plaintext://127.0.0.1:2", NULL},
         "listener PLAINTEXT is defined twice"},
        {{"--listeners", "A://127.0.0.1:5,B://127.0.0.2:5", "--listener.security.protocol.map",
          "A:PLAINTEXT,B:PLAINTEXT", NULL},
         "A and B both use port 5"},
        {{"--listen", "0.0.0.0:9092", NULL}, "listener PLAINTEXT listens on 0.0.0.0"},
        {{"--listen", "127.0.0.1:1", "--advertised.listeners", "0.0.0.0:1", NULL},
         "0.0.0.0 is not an address clients can connect to"},
        {{"--listeners", "BAD NAME://127.0.0.1:1", NULL}, "is not HOST:PORT or NAME://HOST:PORT"},
        {{"--listeners", " , ", NULL}, "--listeners: is empty"},
        {{"--listen", "[::]:9092", "--advertised.listeners", "PLAINTEXT://h:9092", NULL}, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load(&cfg, err, sizeof(err), cases[i].args);
        if (cases[i].want == NULL)
            is(rc, 0, "listener case %zu loads: %s", i, err);
        else
            ok(rc == RN_EINVAL && strstr(err, cases[i].want) != NULL, "listener case %zu: %s", i,
               err);
        rn_config_free(&cfg);
    }
}

int main(void)
{
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    test_defaults();
    test_contract_flags();
    test_key_flags();
    test_file();
    test_help_and_text();
    test_listeners();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        diag("could not remove %s", tmpdir);
    return done_testing();
}
