/* Tests for rn_acl: Kafka's decision (deny beats allow, implied DESCRIBE and
 * DESCRIBE_CONFIGS, literal, wildcard and prefixed patterns, "User:*", hosts, no binding at
 * all), KIP-679's any-resource rule, filters with ANY and MATCH, the validation CreateAcls
 * applies, the names the CLI uses, and the ACLs in the metadata image: records applied,
 * removed, refused, and kept through a snapshot. */
#include "acl/rn_acl.h"
#include "rn_aclnames.h"
#include "controller/rn_mimage.h"
#include "rn_alloc.h"
#include "rn_err.h"
#include "rn_kerr.h"
#include "tap.h"

#include <string.h>
#include <time.h>

static rn_uuid_t id_of(int n)
{
    rn_uuid_t id = {{0}};
    id.bytes[15] = (uint8_t)n;
    id.bytes[0] = 0x42;
    return id;
}

static void add(rn_acls_t *acls, int n, int8_t type, const char *name, int8_t pat,
                const char *principal, const char *host, int8_t op, int8_t perm)
{
    rn_uuid_t id = id_of(n);
    rn_acls_add(acls, &id, type, rn_str(name), pat, rn_str(principal), rn_str(host), op, perm);
}

static int decide(const rn_acls_t *acls, const char *principal, const char *host, int8_t op,
                  int8_t type, const char *name)
{
    return rn_acls_authorize(acls, principal, host, op, type, name, strlen(name));
}

enum {
    T = RN_ACL_RES_TOPIC,
    G = RN_ACL_RES_GROUP,
    LIT = RN_ACL_PAT_LITERAL,
    PRE = RN_ACL_PAT_PREFIXED
};
enum { ALLOW = RN_ACL_PERM_ALLOW, DENY = RN_ACL_PERM_DENY, NONE = RN_ACL_PERM_UNKNOWN };

static void test_decisions(void)
{
    rn_acls_t *acls = rn_acls_new();
    is(decide(acls, "User:a", "1.2.3.4", RN_ACL_OP_READ, T, "x"), NONE,
       "no ACL at all: the default decides");
    add(acls, 1, T, "orders", LIT, "User:alice", "*", RN_ACL_OP_READ, ALLOW);
    is(decide(acls, "User:alice", "1.2.3.4", RN_ACL_OP_READ, T, "orders"), ALLOW, "literal allow");
    is(decide(acls, "User:alice", "1.2.3.4", RN_ACL_OP_DESCRIBE, T, "orders"), ALLOW,
       "READ implies DESCRIBE");
    is(decide(acls, "User:alice", "1.2.3.4", RN_ACL_OP_WRITE, T, "orders"), DENY,
       "READ does not give WRITE");
    is(decide(acls, "User:bob", "1.2.3.4", RN_ACL_OP_READ, T, "orders"), DENY,
       "another principal: denied (the topic has ACLs)");
    is(decide(acls, "User:alice", "1.2.3.4", RN_ACL_OP_READ, T, "orders2"), NONE,
       "a literal does not match a longer name");
    is(decide(acls, "User:alice", "1.2.3.4", RN_ACL_OP_READ, G, "orders"), NONE,
       "nor another resource type");
    /* Deny beats allow, whatever the order. */
    add(acls, 2, T, "ord", PRE, "User:*", "*", RN_ACL_OP_ALL, DENY);
    is(decide(acls, "User:alice", "1.2.3.4", RN_ACL_OP_READ, T, "orders"), DENY,
       "a prefixed DENY ALL beats a literal ALLOW");
    is(decide(acls, "User:carol", "1.2.3.4", RN_ACL_OP_DESCRIBE, T, "ordinal"), DENY,
       "prefix matches");
    is(decide(acls, "User:carol", "1.2.3.4", RN_ACL_OP_DESCRIBE, T, "or"), NONE,
       "a shorter name is no match");
    rn_uuid_t two = id_of(2);
    is(rn_acls_remove(acls, &two), 0, "remove by id");
    is(rn_acls_remove(acls, &two), RN_ENOTFOUND, "removing twice: not found");
    /* A DENY of READ does not deny DESCRIBE (implication is for ALLOW only). */
    add(acls, 3, T, "orders", LIT, "User:alice", "*", RN_ACL_OP_READ, DENY);
    add(acls, 4, T, "orders", LIT, "User:alice", "*", RN_ACL_OP_DESCRIBE, ALLOW);
    is(decide(acls, "User:alice", "1.2.3.4", RN_ACL_OP_READ, T, "orders"), DENY,
       "DENY READ beats ALLOW READ");
    is(decide(acls, "User:alice", "1.2.3.4", RN_ACL_OP_DESCRIBE, T, "orders"), ALLOW,
       "DENY READ leaves DESCRIBE alone");
    /* Wildcard resource, wildcard principal, hosts. */
    add(acls, 5, G, "*", LIT, "User:*", "10.0.0.1", RN_ACL_OP_READ, ALLOW);
    is(decide(acls, "User:zed", "10.0.0.1", RN_ACL_OP_READ, G, "any-group"), ALLOW,
       "\"*\" and User:* from the host");
    is(decide(acls, "User:zed", "10.0.0.2", RN_ACL_OP_READ, G, "any-group"), DENY,
       "another host: denied");
    add(acls, 6, T, "cfg", LIT, "User:ops", "*", RN_ACL_OP_ALTER_CONFIGS, ALLOW);
    is(decide(acls, "User:ops", "h", RN_ACL_OP_DESCRIBE_CONFIGS, T, "cfg"), ALLOW,
       "ALTER_CONFIGS implies DESCRIBE_CONFIGS");
    is(decide(acls, "User:ops", "h", RN_ACL_OP_DESCRIBE, T, "cfg"), DENY, "but not DESCRIBE");
    is(rn_acls_count(acls), 5, "five bindings");
    uint64_t gen = rn_acls_generation(acls);
    add(acls, 6, T, "cfg", LIT, "User:ops", "*", RN_ACL_OP_ALL, ALLOW);
    is(rn_acls_count(acls), 5, "the same id replaces");
    ok(rn_acls_generation(acls) != gen, "every change bumps the generation");
    ok(rn_acls_find(acls, T, rn_str("cfg"), LIT, rn_str("User:ops"), rn_str("*"), RN_ACL_OP_ALL,
                    ALLOW) != NULL,
       "find by content");
    rn_acls_free(acls);
}

static void test_any(void)
{
    rn_acls_t *acls = rn_acls_new();
    is(rn_acls_authorize_any(acls, "User:p", "h", RN_ACL_OP_WRITE, T), NONE,
       "no topic ACL: the default");
    add(acls, 1, T, "logs-", PRE, "User:p", "*", RN_ACL_OP_WRITE, ALLOW);
    is(rn_acls_authorize_any(acls, "User:p", "h", RN_ACL_OP_WRITE, T), ALLOW,
       "WRITE on some topic");
    is(rn_acls_authorize_any(acls, "User:q", "h", RN_ACL_OP_WRITE, T), DENY,
       "not for another principal");
    add(acls, 2, T, "logs", PRE, "User:p", "*", RN_ACL_OP_WRITE, DENY);
    is(rn_acls_authorize_any(acls, "User:p", "h", RN_ACL_OP_WRITE, T), DENY,
       "a covering prefixed DENY takes it back");
    add(acls, 3, T, "metrics", LIT, "User:p", "*", RN_ACL_OP_ALL, ALLOW);
    is(rn_acls_authorize_any(acls, "User:p", "h", RN_ACL_OP_WRITE, T), ALLOW,
       "another topic still allowed");
    rn_acls_free(acls);
}

static rn_acl_filter_t any_filter(void)
{
    return (rn_acl_filter_t){RN_ACL_RES_ANY, RN_ACL_PAT_ANY, RN_ACL_OP_ANY, RN_ACL_PERM_ANY,
                             RN_STR_NULL,    RN_STR_NULL,    RN_STR_NULL};
}

static void test_filters(void)
{
    rn_acls_t *acls = rn_acls_new();
    add(acls, 1, T, "orders", LIT, "User:a", "*", RN_ACL_OP_READ, ALLOW);
    add(acls, 2, T, "ord", PRE, "User:b", "*", RN_ACL_OP_WRITE, DENY);
    add(acls, 3, T, "*", LIT, "User:c", "*", RN_ACL_OP_DESCRIBE, ALLOW);
    add(acls, 4, G, "orders", LIT, "User:a", "*", RN_ACL_OP_READ, ALLOW);
    const rn_acl_t *a1 = rn_acls_at(acls, 0), *a2 = rn_acls_at(acls, 1), *a3 = rn_acls_at(acls, 2),
                   *a4 = rn_acls_at(acls, 3);
    rn_acl_filter_t f = any_filter();
    ok(rn_acl_filter_matches(&f, a1) && rn_acl_filter_matches(&f, a4),
       "the ANY filter matches all");
    f.resource_type = T;
    ok(!rn_acl_filter_matches(&f, a4), "resource type filter");
    f.resource_name = rn_str("orders");
    ok(rn_acl_filter_matches(&f, a1) && !rn_acl_filter_matches(&f, a2) &&
           !rn_acl_filter_matches(&f, a3),
       "ANY pattern: the name compared exactly");
    f.pattern_type = RN_ACL_PAT_MATCH;
    ok(rn_acl_filter_matches(&f, a1) && rn_acl_filter_matches(&f, a2) &&
           rn_acl_filter_matches(&f, a3),
       "MATCH: literal, prefixed and wildcard bindings that apply");
    f.pattern_type = RN_ACL_PAT_PREFIXED;
    ok(!rn_acl_filter_matches(&f, a1) && !rn_acl_filter_matches(&f, a2),
       "PREFIXED: pattern type and name exact");
    f = any_filter();
    f.principal = rn_str("User:b");
    f.permission = RN_ACL_PERM_DENY;
    ok(rn_acl_filter_matches(&f, a2) && !rn_acl_filter_matches(&f, a1),
       "principal and permission filter");
    f = any_filter();
    f.operation = RN_ACL_OP_READ;
    f.host = rn_str("*");
    ok(rn_acl_filter_matches(&f, a1) && !rn_acl_filter_matches(&f, a3),
       "operation and host filter");
    const char *why = NULL;
    is(rn_acl_check_filter(&f, &why), RN_KERR_NONE, "a filter with ANY is valid");
    f.operation = RN_ACL_OP_UNKNOWN;
    is(rn_acl_check_filter(&f, &why), RN_KERR_INVALID_REQUEST,
       "UNKNOWN in a filter: INVALID_REQUEST");
    ok(why != NULL, "with a reason");
    rn_acls_free(acls);
}

static void test_validation(void)
{
    const char *why = NULL;
#define CHECK(type, name, pat, pr, host, op, perm)                                                 \
    rn_acl_check_binding(type, rn_str(name), pat, rn_str(pr), rn_str(host), op, perm, &why)
    is(CHECK(T, "t", LIT, "User:a", "*", RN_ACL_OP_READ, ALLOW), RN_KERR_NONE, "a good binding");
    is(CHECK(RN_ACL_RES_ANY, "t", LIT, "User:a", "*", RN_ACL_OP_READ, ALLOW),
       RN_KERR_INVALID_REQUEST, "ANY type");
    is(CHECK(T, "t", RN_ACL_PAT_MATCH, "User:a", "*", RN_ACL_OP_READ, ALLOW),
       RN_KERR_INVALID_REQUEST, "MATCH pattern");
    is(CHECK(T, "t", LIT, "User:a", "*", RN_ACL_OP_ANY, ALLOW), RN_KERR_INVALID_REQUEST,
       "ANY operation");
    is(CHECK(T, "t", LIT, "User:a", "*", RN_ACL_OP_READ, RN_ACL_PERM_ANY), RN_KERR_INVALID_REQUEST,
       "ANY permission");
    is(CHECK(T, "", LIT, "User:a", "*", RN_ACL_OP_READ, ALLOW), RN_KERR_INVALID_REQUEST,
       "empty name");
    is(CHECK(T, "t", LIT, "alice", "*", RN_ACL_OP_READ, ALLOW), RN_KERR_INVALID_REQUEST,
       "principal without type");
    is(CHECK(RN_ACL_RES_CLUSTER, "c", LIT, "User:a", "*", RN_ACL_OP_ALTER, ALLOW),
       RN_KERR_INVALID_REQUEST, "a cluster not named kafka-cluster");
    is(CHECK(RN_ACL_RES_CLUSTER, "kafka-cluster", LIT, "User:a", "*", RN_ACL_OP_ALTER, ALLOW),
       RN_KERR_NONE, "kafka-cluster");
#undef CHECK
    /* Stored as C strings: a NUL would make it another binding (fuzz_acl's find). */
    rn_str_t nul_pr = {"U{\x04\0:bo+", 8}, nul_name = {"t\0x", 3}, nul_host = {"1\0", 2};
    is(rn_acl_check_binding(T, rn_str("t"), LIT, nul_pr, rn_str("*"), RN_ACL_OP_READ, ALLOW, &why),
       RN_KERR_INVALID_REQUEST, "a principal with a NUL inside");
    is(rn_acl_check_binding(T, nul_name, LIT, rn_str("User:a"), rn_str("*"), RN_ACL_OP_READ, ALLOW,
                            &why),
       RN_KERR_INVALID_REQUEST, "a resource name with a NUL inside");
    is(rn_acl_check_binding(T, rn_str("t"), LIT, rn_str("User:a"), nul_host, RN_ACL_OP_READ, ALLOW,
                            &why),
       RN_KERR_INVALID_REQUEST, "a host with a NUL inside");
}

static void test_names(void)
{
    is(rn_aclnames_operation_code("ClusterAction"), RN_ACL_OP_CLUSTER_ACTION, "ClusterAction");
    is(rn_aclnames_operation_code("describe-configs"), RN_ACL_OP_DESCRIBE_CONFIGS,
       "describe-configs");
    is(rn_aclnames_operation_code("IdempotentWrite"), RN_ACL_OP_IDEMPOTENT_WRITE,
       "IdempotentWrite");
    is(rn_aclnames_operation_code("nope"), -1, "unknown operation");
    is(rn_aclnames_resource_code("transactional_id"), RN_ACL_RES_TRANSACTIONAL_ID,
       "transactional_id");
    is(rn_aclnames_pattern_code("Prefixed"), PRE, "Prefixed");
    is(rn_aclnames_permission_code("deny"), DENY, "deny");
    is_str(rn_aclnames_operation(RN_ACL_OP_ALTER_CONFIGS), "ALTER_CONFIGS", "name of 11");
    is_str(rn_aclnames_operation(99), "UNKNOWN", "name of an unknown code");
}

static int apply(rn_mimage_t *img, int64_t off, const rn_mrec_t *rec)
{
    return rn_mimage_apply_rec(img, off, rec);
}

static void test_image(void)
{
    /* Kafka's frame of an AccessControlEntryRecord v0 (record key 18, all flexible). */
    rn_mrec_t rec;
    is(rn_mrec_init(&rec, RN_MREC_ACCESS_CONTROL_ENTRY_RECORD), 0, "init AccessControlEntryRecord");
    rn_access_control_entry_record_t *r = &rec.body.access_control_entry;
    r->id = id_of(7);
    r->resource_type = T;
    r->resource_name = rn_str("t");
    r->pattern_type = LIT;
    r->principal = rn_str("User:a");
    r->host = rn_str("*");
    r->operation = RN_ACL_OP_READ;
    r->permission_type = ALLOW;
    uint8_t *data = NULL;
    size_t len = 0;
    is(rn_mrec_encode_alloc(&rec, &data, &len), 0, "encode");
    static const uint8_t head[] = {0x01, 18, 0x00};
    ok(len > 3 && memcmp(data, head, 3) == 0, "frame version 1, type 18, version 0");
    /* id (16) type name(2) pattern principal(7) host(2) op perm tags */
    is(len, 3 + 16 + 1 + 2 + 1 + 7 + 2 + 1 + 1 + 1, "body length as Kafka's");
    rn_mimage_t *img = rn_mimage_new();
    is(rn_mimage_apply(img, 0, data, len), 0, "applied");
    rn_free(data);
    const rn_acls_t *acls = rn_mimage_acls(img);
    is(rn_acls_count(acls), 1, "the image has the ACL");
    is(decide(acls, "User:a", "h", RN_ACL_OP_READ, T, "t"), ALLOW, "and it decides");
    is(apply(img, 1, &rec), RN_EINVAL, "the same id twice is refused");
    r->id = id_of(8);
    r->pattern_type = RN_ACL_PAT_MATCH;
    is(apply(img, 2, &rec), RN_EINVAL, "a filter-only pattern type is refused");
    is(rn_acls_count(rn_mimage_acls(img)), 1, "the image unchanged");
    r->pattern_type = PRE;
    r->resource_name = rn_str("pre");
    is(apply(img, 3, &rec), 0, "a prefixed binding");
    uint8_t *snap = NULL;
    size_t snap_len = 0;
    is(rn_mimage_snapshot_write(img, &snap, &snap_len), 0, "snapshot written");
    rn_mimage_t *copy = rn_mimage_new();
    is(rn_mimage_snapshot_load(copy, 3, snap, snap_len), 0, "snapshot loaded");
    is(rn_acls_count(rn_mimage_acls(copy)), 2, "both ACLs through the snapshot");
    is(decide(rn_mimage_acls(copy), "User:a", "h", RN_ACL_OP_READ, T, "prefix"), ALLOW,
       "the prefixed one decides");
    rn_free(snap);
    rn_mrec_t rm;
    is(rn_mrec_init(&rm, RN_MREC_REMOVE_ACCESS_CONTROL_ENTRY_RECORD), 0, "init Remove");
    rm.body.remove_access_control_entry.id = id_of(7);
    is(apply(copy, 4, &rm), 0, "removed");
    is(apply(copy, 5, &rm), RN_EINVAL, "removing an unknown id is refused");
    is(rn_acls_count(rn_mimage_acls(copy)), 1, "one left");
    rn_mimage_free(copy);
    rn_mimage_free(img);
}

/* The cost of one decision over a realistic set (printed for the notes, not asserted): 48
 * bindings that do not apply, then the wildcard ALLOW that does and a prefixed DENY. */
static void test_cost(void)
{
    rn_acls_t *acls = rn_acls_new();
    char name[32];
    int n = 0;
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof(name), "other-%d", i);
        add(acls, ++n, T, name, LIT, "User:u", "*", RN_ACL_OP_READ, ALLOW);
        add(acls, ++n, T, name, LIT, "User:u", "*", RN_ACL_OP_WRITE, ALLOW);
        add(acls, ++n, G, name, LIT, "User:u", "*", RN_ACL_OP_READ, ALLOW);
        add(acls, ++n, G, name, LIT, "User:u", "*", RN_ACL_OP_DESCRIBE, ALLOW);
    }
    add(acls, ++n, T, "*", LIT, "User:ANONYMOUS", "*", RN_ACL_OP_ALL, ALLOW);
    add(acls, ++n, T, "secret-", PRE, "User:ANONYMOUS", "*", RN_ACL_OP_WRITE, DENY);
    struct timespec t0, t1;
    volatile int allowed = 0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000000; i++)
        allowed +=
            decide(acls, "User:ANONYMOUS", "127.0.0.1", RN_ACL_OP_WRITE, T, "orders") == ALLOW;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e6;
    diag("one decision over %d bindings: %.0f ns", n, ns);
    is(allowed, 1000000, "the wildcard ALLOW decided every time");
    rn_acls_free(acls);
}

int main(void)
{
    test_cost();
    test_decisions();
    test_any();
    test_filters();
    test_validation();
    test_names();
    test_image();
    return done_testing();
}
