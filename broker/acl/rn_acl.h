/* rn_acl: Kafka's ACL bindings and the rules that match them — the set every node keeps
 * from AccessControlEntryRecords, the filters of DescribeAcls and DeleteAcls, and the one
 * decision an authorizer asks of them (rn_acls_authorize).
 *
 * A binding is (resource type, resource name, pattern type, principal, host, operation,
 * permission) with Kafka's numeric codes. A request's resource matches a binding when the
 * binding is LITERAL with the same name or the wildcard "*", or PREFIXED with a prefix of the
 * name; its principal when equal or "User:*"; its host when equal or "*". Decision, as
 * Kafka's StandardAuthorizer: a matching DENY for the operation (or ALL) wins; else a matching
 * ALLOW for the operation, ALL, or one that implies it (READ, WRITE, DELETE and ALTER imply
 * DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS) allows; else, when no binding at all
 * names the resource, the caller's default (allow.everyone.if.no.acl.found) decides; else
 * deny.
 *
 * Ownership: the set owns copies of every string. Pointers from rn_acls_at stay valid until
 * the next change. Not thread-safe: the broker's loop only. */
#ifndef RN_ACL_H
#define RN_ACL_H

#include "rn_str.h"
#include "rn_uuid.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka's ResourceType codes. */
enum {
    RN_ACL_RES_UNKNOWN = 0,
    RN_ACL_RES_ANY = 1, /* filters only */
    RN_ACL_RES_TOPIC = 2,
    RN_ACL_RES_GROUP = 3,
    RN_ACL_RES_CLUSTER = 4,
    RN_ACL_RES_TRANSACTIONAL_ID = 5,
    RN_ACL_RES_DELEGATION_TOKEN = 6,
    RN_ACL_RES_USER = 7,
};

/* Kafka's PatternType codes. */
enum {
    RN_ACL_PAT_UNKNOWN = 0,
    RN_ACL_PAT_ANY = 1,   /* filters: any pattern type, names compared exactly */
    RN_ACL_PAT_MATCH = 2, /* filters: the bindings that would apply to the name */
    RN_ACL_PAT_LITERAL = 3,
    RN_ACL_PAT_PREFIXED = 4,
};

/* Kafka's AclOperation codes. */
enum {
    RN_ACL_OP_UNKNOWN = 0,
    RN_ACL_OP_ANY = 1, /* filters only */
    RN_ACL_OP_ALL = 2,
    RN_ACL_OP_READ = 3,
    RN_ACL_OP_WRITE = 4,
    RN_ACL_OP_CREATE = 5,
    RN_ACL_OP_DELETE = 6,
    RN_ACL_OP_ALTER = 7,
    RN_ACL_OP_DESCRIBE = 8,
    RN_ACL_OP_CLUSTER_ACTION = 9,
    RN_ACL_OP_DESCRIBE_CONFIGS = 10,
    RN_ACL_OP_ALTER_CONFIGS = 11,
    RN_ACL_OP_IDEMPOTENT_WRITE = 12,
    RN_ACL_OP_CREATE_TOKENS = 13,
    RN_ACL_OP_DESCRIBE_TOKENS = 14,
};

/* Kafka's AclPermissionType codes. */
enum {
    RN_ACL_PERM_UNKNOWN = 0,
    RN_ACL_PERM_ANY = 1, /* filters only */
    RN_ACL_PERM_DENY = 2,
    RN_ACL_PERM_ALLOW = 3,
};

/* Kafka's name of the only cluster resource. */
#define RN_ACL_CLUSTER_NAME "kafka-cluster"

/* One binding; in a set, every string is owned by the set. */
typedef struct rn_acl {
    rn_uuid_t id;
    int8_t resource_type;
    int8_t pattern_type;
    int8_t operation;
    int8_t permission;
    char *resource_name;
    char *principal;
    char *host;
} rn_acl_t;

/* A filter (DescribeAcls, DeleteAcls): a null string matches anything. */
typedef struct rn_acl_filter {
    int8_t resource_type;
    int8_t pattern_type;
    int8_t operation;
    int8_t permission;
    rn_str_t resource_name; /* len -1: any */
    rn_str_t principal;     /* len -1: any */
    rn_str_t host;          /* len -1: any */
} rn_acl_filter_t;

typedef struct rn_acls rn_acls_t;

rn_acls_t *rn_acls_new(void);
void rn_acls_free(rn_acls_t *acls);
/* Forget every binding. */
void rn_acls_clear(rn_acls_t *acls);
/* Add a copy of acl; a binding with the same id is replaced. Strings given as slices. */
void rn_acls_add(rn_acls_t *acls, const rn_uuid_t *id, int8_t resource_type, rn_str_t name,
                 int8_t pattern_type, rn_str_t principal, rn_str_t host, int8_t operation,
                 int8_t permission);
/* Remove the binding with id; RN_ENOTFOUND when none. */
int rn_acls_remove(rn_acls_t *acls, const rn_uuid_t *id);
size_t rn_acls_count(const rn_acls_t *acls);
const rn_acl_t *rn_acls_at(const rn_acls_t *acls, size_t i); /* in the order added */
/* The binding with the same content as the arguments (any id), or NULL. */
const rn_acl_t *rn_acls_find(const rn_acls_t *acls, int8_t resource_type, rn_str_t name,
                             int8_t pattern_type, rn_str_t principal, rn_str_t host,
                             int8_t operation, int8_t permission);
/* Bumped by every change: lets callers cache decisions. */
uint64_t rn_acls_generation(const rn_acls_t *acls);

/* Kafka's answer on a binding CreateAcls would store: RN_KERR_NONE, or
 * INVALID_REQUEST with *why (a static text) for a filter-only code (ANY, MATCH), an unknown
 * one, an empty name, a principal not of the form "Type:name", or a cluster resource not named
 * "kafka-cluster". */
int16_t rn_acl_check_binding(int8_t resource_type, rn_str_t name, int8_t pattern_type,
                             rn_str_t principal, rn_str_t host, int8_t operation, int8_t permission,
                             const char **why);
/* The same for a filter (UNKNOWN codes refused; ANY and MATCH allowed where Kafka does). */
int16_t rn_acl_check_filter(const rn_acl_filter_t *f, const char **why);
/* True when the binding passes the filter, with Kafka's AclBindingFilter rules (MATCH: the
 * binding applies to the filter's name: literal equal, literal "*", or a prefix of it). */
bool rn_acl_filter_matches(const rn_acl_filter_t *f, const rn_acl_t *acl);

/* The decision for principal at host doing operation on (resource_type, name), as the file
 * comment says: RN_ACL_PERM_ALLOW, RN_ACL_PERM_DENY, or RN_ACL_PERM_UNKNOWN when no binding
 * names the resource (the caller applies allow.everyone.if.no.acl.found). */
int rn_acls_authorize(const rn_acls_t *acls, const char *principal, const char *host,
                      int8_t operation, int8_t resource_type, const char *name, size_t name_len);

/* Kafka's authorizeByResourceType (KIP-679: an idempotent producer may start when it may
 * WRITE some topic): RN_ACL_PERM_ALLOW when some ALLOW binding of resource_type covering
 * operation applies to principal at host and no DENY binding covering it (the literal "*",
 * the same literal name, or a prefix of its name) takes it back; RN_ACL_PERM_UNKNOWN when no
 * binding of the type exists at all; else RN_ACL_PERM_DENY. */
int rn_acls_authorize_any(const rn_acls_t *acls, const char *principal, const char *host,
                          int8_t operation, int8_t resource_type);

#endif
