/* rn_aclnames: every code's name and back, the spellings kafka-acls.sh and the admin clients
 * use, and codes or names that are none. */
#include "rn_aclnames.h"
#include "tap.h"

#include <string.h>

int main(void)
{
    ok(strcmp(rn_aclnames_resource(2), "TOPIC") == 0, "resource 2 is TOPIC");
    ok(strcmp(rn_aclnames_resource(5), "TRANSACTIONAL_ID") == 0, "resource 5 is TRANSACTIONAL_ID");
    ok(strcmp(rn_aclnames_pattern(4), "PREFIXED") == 0, "pattern 4 is PREFIXED");
    ok(strcmp(rn_aclnames_operation(9), "CLUSTER_ACTION") == 0, "operation 9 is CLUSTER_ACTION");
    ok(strcmp(rn_aclnames_permission(3), "ALLOW") == 0, "permission 3 is ALLOW");
    ok(strcmp(rn_aclnames_operation(-1), "UNKNOWN") == 0 &&
           strcmp(rn_aclnames_operation(100), "UNKNOWN") == 0,
       "codes out of the table are UNKNOWN");
    is(rn_aclnames_operation_code("ClusterAction"), 9, "ClusterAction");
    is(rn_aclnames_operation_code("cluster-action"), 9, "cluster-action");
    is(rn_aclnames_operation_code("CLUSTER_ACTION"), 9, "CLUSTER_ACTION");
    is(rn_aclnames_operation_code("IdempotentWrite"), 12, "IdempotentWrite");
    is(rn_aclnames_resource_code("transactional-id"), 5, "transactional-id");
    is(rn_aclnames_pattern_code("Prefixed"), 4, "Prefixed");
    is(rn_aclnames_permission_code("deny"), 2, "deny");
    is(rn_aclnames_operation_code("Reads"), -1, "a longer name is none");
    is(rn_aclnames_operation_code("Rea"), -1, "a prefix is none");
    is(rn_aclnames_operation_code("UNKNOWN"), -1, "UNKNOWN is never matched");
    is(rn_aclnames_operation_code(NULL), -1, "NULL is none");
    int bad = 0;
    for (int8_t c = 1; c <= 14; c++)
        bad += rn_aclnames_operation_code(rn_aclnames_operation(c)) != c;
    is(bad, 0, "every operation's name round-trips");
    return done_testing();
}
