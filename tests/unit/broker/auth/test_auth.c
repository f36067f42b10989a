/* Tests for the auth room's pure parts (broker/auth): the failed-login log limiter, peer
 * addresses, JAAS lines, the SASL settings per listener and their start-up errors, the
 * inter-broker login, and the credential lookup (metadata first, then the inter-broker user
 * of this node's own config). */
#include "auth/auth_int.h"
#include "ops/rn_metrics.h"
#include "rn_config.h"
#include "rn_err.h"
#include "rn_peer.h"
#include "tap.h"

#include <string.h>

#define SEC 1000000000ull

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

static void test_authlog(void)
{
    static rn_authlog_t log;
    uint64_t n = 0;
    ok(rn_authlog_fail(&log, "10.0.0.1", 5 * SEC, &n) && n == 1, "first failure is logged");
    for (int i = 0; i < 50; i++)
        ok(!rn_authlog_fail(&log, "10.0.0.1", 6 * SEC + (uint64_t)i, &n), "then quiet %d", i);
    ok(rn_authlog_fail(&log, "10.0.0.2", 7 * SEC, &n) && n == 1, "another source has its own");
    ok(rn_authlog_fail(&log, "10.0.0.1", 66 * SEC, &n), "a minute later a line again");
    is(n, 51, "covering every failure since the last line");
    ok(!rn_authlog_fail(&log, "10.0.0.1", 67 * SEC, &n), "and quiet again");
    /* The global cap: many sources in one second give at most 10 lines. */
    static rn_authlog_t burst;
    int lines = 0;
    for (int i = 0; i < 100; i++) {
        char ip[32];
        snprintf(ip, sizeof(ip), "192.168.1.%d", i);
        lines += rn_authlog_fail(&burst, ip, 100 * SEC + (uint64_t)i, &n);
    }
    ok(lines <= 10 && lines >= 1, "at most 10 lines a second over all sources (%d)", lines);
}

static void test_peer_ip(void)
{
    char ip[64];
    rn__auth_peer_ip("127.0.0.1:5555", ip, sizeof(ip));
    is_str(ip, "127.0.0.1", "v4 peer");
    rn__auth_peer_ip("[::1]:5555", ip, sizeof(ip));
    is_str(ip, "::1", "v6 peer");
}

static void test_jaas(void)
{
    char u[64], p[64];
    is(rn_auth_jaas_parse("org.apache.kafka.common.security.scram.ScramLoginModule required "
                          "username=\"broker\" password=\"s3 cr=t\";",
                          u, sizeof(u), p, sizeof(p)),
       0, "jaas parses");
    is_str(u, "broker", "username");
    is_str(p, "s3 cr=t", "password with a space and '='");
    is(rn_auth_jaas_parse("X required password = \"b\" username= \"a\" ;", u, sizeof(u), p,
                          sizeof(p)),
       0, "spaces around = and any order");
    is_str(u, "a", "username after password");
    ok(rn_auth_jaas_parse("X required username=\"a\";", u, sizeof(u), p, sizeof(p)) != 0,
       "no password");
    ok(rn_auth_jaas_parse("X username=\"a\" password=\"b\";", u, sizeof(u), p, sizeof(p)) != 0,
       "no 'required'");
    ok(rn_auth_jaas_parse("X required myusername=\"a\" password=\"b\";", u, sizeof(u), p,
                          sizeof(p)) != 0,
       "a key that only ends in username");
    ok(rn_auth_jaas_parse("X required username=a password=\"b\";", u, sizeof(u), p, sizeof(p)) != 0,
       "unquoted value");
    ok(rn_auth_jaas_parse(NULL, u, sizeof(u), p, sizeof(p)) != 0, "unset");
}

/* rn_auth_init on a config given as flags: 0 or the error. */
static int init(const char *const *args, char *err, size_t errlen, rn_auth_t **out)
{
    static rn_config_t cfg;
    static rn_broker_t b;
    memset(&b, 0, sizeof(b));
    int rc = load(&cfg, err, errlen, args);
    if (rc != RN_CONFIG_RUN) {
        rn_config_free(&cfg);
        return RN_EINVAL;
    }
    b.cfg = &cfg;
    b.metrics = rn_metrics_new();
    rc = rn_auth_init(&b, err, errlen);
    *out = b.auth;
    if (rc != 0) { /* nothing to shut down: free what the test made */
        rn_metrics_free(b.metrics);
        rn_config_free(&cfg);
    }
    return rc;
}

static void done(rn_auth_t *a)
{
    if (a == NULL)
        return;
    rn_broker_t *b = a->b;
    rn_auth_shutdown(b);
    rn_metrics_free(b->metrics);
    rn_config_free(b->cfg);
}

static void test_settings(void)
{
    char err[512];
    rn_auth_t *a = NULL;
    const char *two[] = {"--listeners",
                         "PLAINTEXT://127.0.0.1:1,SASL_PLAINTEXT://127.0.0.1:2",
                         "--sasl.enabled.mechanisms",
                         "SCRAM-SHA-512,PLAIN",
                         "--listener.name.sasl_plaintext.sasl.enabled.mechanisms",
                         "SCRAM-SHA-256",
                         NULL};
    is(init(two, err, sizeof(err), &a), 0, "two listeners: %s", err);
    is(a->mechs[0], RN_AUTH_SCRAM_SHA_512 | RN_AUTH_PLAIN, "PLAINTEXT: the global list");
    is(a->n_order[0], 2, "in order");
    is(a->order[0][0], RN_SCRAM_SHA_512, "SCRAM-SHA-512 first");
    is(a->mechs[1], RN_AUTH_SCRAM_SHA_256, "SASL_PLAINTEXT: its listener.name override");
    is(a->own_user[0], '\0', "no inter-broker login on a PLAINTEXT inter-broker listener");
    done(a);

    const char *bad[] = {"--sasl.enabled.mechanisms", "SCRAM-SHA-512,GSSAPI", NULL};
    rn_config_t cfg;
    ok(load(&cfg, err, sizeof(err), bad) != RN_CONFIG_RUN && strstr(err, "sasl.enabled.mechanisms"),
       "an unknown mechanism is refused naming the key: %s", err);
    rn_config_free(&cfg);
    const char *badl[] = {"--listener.name.plaintext.sasl.enabled.mechanisms", "MD5", NULL};
    ok(load(&cfg, err, sizeof(err), badl) != RN_CONFIG_RUN &&
           strstr(err, "listener.name.plaintext.sasl.enabled.mechanisms"),
       "in a listener's override too: %s", err);
    rn_config_free(&cfg);
    const char *badk[] = {"--listener.name.plaintext.no.such.key", "x", NULL};
    ok(load(&cfg, err, sizeof(err), badk) != RN_CONFIG_RUN && strstr(err, "unknown key"),
       "an unknown listener.name key is refused: %s", err);
    rn_config_free(&cfg);
    const char *nol[] = {"--listener.name.nosuch.sasl.enabled.mechanisms", "PLAIN", NULL};
    ok(init(nol, err, sizeof(err), &a) != 0 && strstr(err, "nosuch is not a listener"),
       "a listener.name key for a listener that does not exist: %s", err);

    const char *nojaas[] = {"--listeners", "SASL_PLAINTEXT://127.0.0.1:2", NULL};
    ok(init(nojaas, err, sizeof(err), &a) != 0 && strstr(err, "sasl.jaas.config"),
       "a SASL inter-broker listener needs a login: %s", err);
    const char *wrongmech[] = {
        "--listeners", "SASL_PLAINTEXT://127.0.0.1:2", "--sasl.enabled.mechanisms",
        "PLAIN",       "--sasl.jaas.config",           "X required username=\"b\" password=\"p\";",
        NULL};
    ok(init(wrongmech, err, sizeof(err), &a) != 0 &&
           strstr(err, "sasl.mechanism.inter.broker.protocol"),
       "the inter-broker mechanism must be enabled there: %s", err);
}

static void test_inter_broker(void)
{
    char err[512];
    rn_auth_t *a = NULL;
    const char *args[] = {"--listeners",
                          "SASL_PLAINTEXT://127.0.0.1:2",
                          "--sasl.jaas.config",
                          "X required username=\"global\" password=\"g\";",
                          "--listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config",
                          "X required username=\"broker\" password=\"b-pw\";",
                          NULL};
    is(init(args, err, sizeof(err), &a), 0, "SASL inter-broker listener: %s", err);
    rn_auth_login_t login;
    is(rn_auth_peer_login(a->b->cfg, &login), 0, "peer login");
    is_str(login.mechanism, "SCRAM-SHA-512", "sasl.mechanism.inter.broker.protocol default");
    is_str(login.user, "broker", "the listener's mechanism-specific jaas wins");
    rn_peer_opts_t po = {0};
    rn_auth_peer_opts(a->b->cfg, &login, &po);
    ok(po.sasl_mechanism != NULL && strcmp(po.sasl_password, "b-pw") == 0, "peer options set");
    is_str(a->own_user, "broker", "the inter-broker user is accepted from the config");
    const rn_scram_cred_t *c = rn__auth_cred(a, NULL, "broker", RN_SCRAM_SHA_512);
    ok(c != NULL && rn_scram_cred_check_password(c, "b-pw", 4), "its SCRAM-SHA-512 credential");
    c = rn__auth_cred(a, NULL, "broker", RN_SCRAM_SHA_256);
    ok(c != NULL && rn_scram_cred_check_password(c, "b-pw", 4), "and SCRAM-SHA-256");
    ok(rn__auth_cred(a, NULL, "global", RN_SCRAM_SHA_512) == NULL, "no one else");
    done(a);

    const char *plain[] = {"--listeners", "PLAINTEXT://127.0.0.1:1", NULL};
    rn_config_t cfg;
    load(&cfg, err, sizeof(err), plain);
    is(rn_auth_peer_login(&cfg, &login), 0, "PLAINTEXT inter-broker listener");
    is_str(login.mechanism, "", "no login");
    rn_config_free(&cfg);
}

int main(void)
{
    test_authlog();
    test_peer_ip();
    test_jaas();
    test_settings();
    test_inter_broker();
    return done_testing();
}
