/* rn_aclnames: the names of Kafka's ACL enums (resource types, pattern types, operations,
 * permission types) as kafka-acls.sh and the admin clients spell them, both ways. The codes
 * are the protocol's (CreateAcls, DescribeAcls, DeleteAcls and the metadata records); the
 * broker's authorizer and the CLI share these tables. */
#ifndef RN_ACLNAMES_H
#define RN_ACLNAMES_H

#include <stdint.h>

/* "TOPIC", "LITERAL", "CLUSTER_ACTION", "ALLOW", ...; "UNKNOWN" for a code without a name. */
const char *rn_aclnames_resource(int8_t code);
const char *rn_aclnames_pattern(int8_t code);
const char *rn_aclnames_operation(int8_t code);
const char *rn_aclnames_permission(int8_t code);

/* The code of a name, ignoring case and the separators '_' and '-' ("ClusterAction",
 * "cluster-action" and "CLUSTER_ACTION" alike); -1 when unknown. UNKNOWN (0) is never
 * matched. */
int rn_aclnames_resource_code(const char *name);
int rn_aclnames_pattern_code(const char *name);
int rn_aclnames_operation_code(const char *name);
int rn_aclnames_permission_code(const char *name);

#endif
