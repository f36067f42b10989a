/* Tests for rn_authz: the settings (off when empty, Kafka's StandardAuthorizer on, any other
 * class refused naming the setting), super.users, allow.everyone.if.no.acl.found, the
 * dedicated controller listener's node traffic, and the cost of one decision when off and on
 * (printed, for the notes; not asserted). */
#include "acl/rn_authz.h"
#include "rn_config.h"
#include "rn_err.h"
#include "tap.h"

#include <string.h>
#include <time.h>

static int setup(rn_config_t *cfg, rn_broker_t *b, const char *const *kv, char *err, size_t errlen)
{
    rn_config_init(cfg);
    for (int i = 0; kv[i] != NULL; i += 2)
        if (rn_config_set(cfg, kv[i], kv[i + 1], "test", err, errlen) != 0)
            return RN_EINVAL;
    if (rn_config_resolve(cfg, err, errlen) != 0)
        return RN_EINVAL;
    memset(b, 0, sizeof(*b));
    b->cfg = cfg;
    b->n_listeners = cfg->n_listeners;
    b->inter_broker_listener = cfg->inter_broker_listener;
    b->controller_listener = cfg->controller_listener;
    return rn_authz_module_init(b, err, errlen);
}

static rn_req_t request(rn_broker_t *b, const char *principal, int listener)
{
    rn_req_t req;
    memset(&req, 0, sizeof(req));
    req.ctx = b;
    req.principal = principal;
    req.peer = "127.0.0.1:5555";
    req.listener = listener;
    return req;
}

#define STD "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

static void test_settings(void)
{
    rn_config_t cfg;
    rn_broker_t b;
    char err[256] = "";
    const char *off[] = {NULL};
    is(setup(&cfg, &b, off, err, sizeof(err)), 0, "no authorizer: starts");
    ok(b.authz == NULL, "and b->authz is NULL");
    rn_req_t req = request(&b, "User:ANONYMOUS", 0);
    ok(rn_authz_allowed(&req, RN_ACL_OP_WRITE, RN_ACL_RES_TOPIC, rn_str("t")) &&
           rn_authz_cluster(&req, RN_ACL_OP_ALTER),
       "everything allowed");
    ok(!rn_authz_on(&req), "rn_authz_on false");
    rn_config_free(&cfg);

    const char *zk[] = {"authorizer.class.name", "kafka.security.authorizer.AclAuthorizer", NULL};
    is(setup(&cfg, &b, zk, err, sizeof(err)), RN_EINVAL, "another class is refused");
    ok(strstr(err, "authorizer.class.name") != NULL && strstr(err, "AclAuthorizer") != NULL,
       "naming the setting and the class: %s", err);
    rn_config_free(&cfg);

    const char *on[] = {"authorizer.class.name", STD, "super.users", " User:admin ; User:broker;",
                        NULL};
    is(setup(&cfg, &b, on, err, sizeof(err)), 0, "StandardAuthorizer: starts (%s)", err);
    ok(b.authz != NULL, "b->authz set");
    req = request(&b, "User:ANONYMOUS", 0);
    ok(rn_authz_on(&req), "rn_authz_on");
    ok(!rn_authz_allowed(&req, RN_ACL_OP_READ, RN_ACL_RES_TOPIC, rn_str("t")),
       "no ACL and allow.everyone.if.no.acl.found false: denied");
    ok(!rn_authz_any(&req, RN_ACL_OP_WRITE, RN_ACL_RES_TOPIC), "nor on any topic");
    rn_req_t admin = request(&b, "User:admin", 0), broker = request(&b, "User:broker", 0);
    ok(rn_authz_cluster(&admin, RN_ACL_OP_ALTER) &&
           rn_authz_cluster(&broker, RN_ACL_OP_CLUSTER_ACTION),
       "super users (trimmed, ';'-separated) may do everything");
    rn_req_t other = request(&b, "User:admins", 0);
    ok(!rn_authz_cluster(&other, RN_ACL_OP_ALTER), "a longer name is no super user");
    uint64_t checks, denied;
    rn_authz_counts(b.authz, &checks, &denied);
    ok(checks >= 5 && denied >= 3, "decisions counted (%llu checks, %llu denied)",
       (unsigned long long)checks, (unsigned long long)denied);
    rn_authz_module_shutdown(&b);
    ok(b.authz == NULL, "shut down");
    rn_config_free(&cfg);

    const char *everyone[] = {"authorizer.class.name", STD, "allow.everyone.if.no.acl.found",
                              "true", NULL};
    is(setup(&cfg, &b, everyone, err, sizeof(err)), 0, "allow.everyone.if.no.acl.found=true");
    req = request(&b, "User:ANONYMOUS", 0);
    ok(rn_authz_allowed(&req, RN_ACL_OP_READ, RN_ACL_RES_TOPIC, rn_str("t")), "no ACL: allowed");
    rn_authz_module_shutdown(&b);
    rn_config_free(&cfg);
}

static void test_node_listener(void)
{
    rn_config_t cfg;
    rn_broker_t b;
    char err[256] = "";
    const char *kv[] = {"authorizer.class.name",
                        STD,
                        "listeners",
                        "PLAINTEXT://127.0.0.1:19301,CONTROLLER://127.0.0.1:19302",
                        "controller.listener.names",
                        "CONTROLLER",
                        NULL};
    is(setup(&cfg, &b, kv, err, sizeof(err)), 0, "a dedicated controller listener (%s)", err);
    rn_req_t client = request(&b, "User:ANONYMOUS", 0), node = request(&b, "User:ANONYMOUS", 1);
    ok(!rn_authz_cluster(&client, RN_ACL_OP_CLUSTER_ACTION),
       "on the client listener: Kafka's rules");
    ok(rn_authz_cluster(&node, RN_ACL_OP_CLUSTER_ACTION) &&
           rn_authz_allowed(&node, RN_ACL_OP_CREATE, RN_ACL_RES_TOPIC, rn_str("t")),
       "on the controller listener: node traffic");
    rn_authz_module_shutdown(&b);
    rn_config_free(&cfg);

    const char *shared[] = {"authorizer.class.name", STD, NULL};
    is(setup(&cfg, &b, shared, err, sizeof(err)), 0, "one listener for all");
    node = request(&b, "User:ANONYMOUS", 0);
    ok(!rn_authz_cluster(&node, RN_ACL_OP_CLUSTER_ACTION),
       "a shared controller listener is not trusted");
    rn_authz_module_shutdown(&b);
    rn_config_free(&cfg);
}

static double ns_per(rn_req_t *req, int n)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile int allowed = 0;
    for (int i = 0; i < n; i++)
        allowed += rn_authz_allowed(req, RN_ACL_OP_WRITE, RN_ACL_RES_TOPIC, rn_str("orders"));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / n;
}

static void test_cost(void)
{
    rn_config_t cfg;
    rn_broker_t b;
    char err[256] = "";
    const char *off[] = {NULL};
    setup(&cfg, &b, off, err, sizeof(err));
    rn_req_t req = request(&b, "User:ANONYMOUS", 0);
    diag("one decision with the authorizer off: %.1f ns", ns_per(&req, 1000000));
    rn_config_free(&cfg);
    const char *on[] = {"authorizer.class.name", STD, "allow.everyone.if.no.acl.found", "true",
                        NULL};
    setup(&cfg, &b, on, err, sizeof(err));
    req = request(&b, "User:ANONYMOUS", 0);
    diag("one decision with the authorizer on (no ACLs): %.1f ns", ns_per(&req, 1000000));
    rn_authz_module_shutdown(&b);
    rn_config_free(&cfg);
    ok(1, "costs measured");
}

int main(void)
{
    test_settings();
    test_node_listener();
    test_cost();
    return done_testing();
}
