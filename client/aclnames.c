/* The names of Kafka's ACL enums (rn_aclnames.h). */
#include "rn_aclnames.h"

#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>

static const char *const resource_names[] = {
    "UNKNOWN", "ANY", "TOPIC", "GROUP", "CLUSTER", "TRANSACTIONAL_ID", "DELEGATION_TOKEN", "USER"};
static const char *const pattern_names[] = {"UNKNOWN", "ANY", "MATCH", "LITERAL", "PREFIXED"};
static const char *const operation_names[] = {"UNKNOWN",
                                              "ANY",
                                              "ALL",
                                              "READ",
                                              "WRITE",
                                              "CREATE",
                                              "DELETE",
                                              "ALTER",
                                              "DESCRIBE",
                                              "CLUSTER_ACTION",
                                              "DESCRIBE_CONFIGS",
                                              "ALTER_CONFIGS",
                                              "IDEMPOTENT_WRITE",
                                              "CREATE_TOKENS",
                                              "DESCRIBE_TOKENS"};
static const char *const permission_names[] = {"UNKNOWN", "ANY", "DENY", "ALLOW"};

#define NAMES(tab) (sizeof(tab) / sizeof(tab[0]))

static const char *name_of(const char *const *tab, size_t n, int8_t code)
{
    return code >= 0 && (size_t)code < n ? tab[code] : "UNKNOWN";
}

/* Compare ignoring case and the separators '_' and '-' ("ClusterAction" = "CLUSTER_ACTION"). */
static bool loose_eq(const char *a, const char *b)
{
    for (;;) {
        while (*a == '_' || *a == '-')
            a++;
        while (*b == '_' || *b == '-')
            b++;
        if (*a == '\0' || *b == '\0')
            return *a == *b;
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b))
            return false;
        a++, b++;
    }
}

static int code_of(const char *const *tab, size_t n, const char *name)
{
    for (size_t i = 1; name != NULL && i < n; i++)
        if (loose_eq(tab[i], name))
            return (int)i;
    return -1;
}

const char *rn_aclnames_resource(int8_t code)
{
    return name_of(resource_names, NAMES(resource_names), code);
}
const char *rn_aclnames_pattern(int8_t code)
{
    return name_of(pattern_names, NAMES(pattern_names), code);
}
const char *rn_aclnames_operation(int8_t code)
{
    return name_of(operation_names, NAMES(operation_names), code);
}
const char *rn_aclnames_permission(int8_t code)
{
    return name_of(permission_names, NAMES(permission_names), code);
}
int rn_aclnames_resource_code(const char *name)
{
    return code_of(resource_names, NAMES(resource_names), name);
}
int rn_aclnames_pattern_code(const char *name)
{
    return code_of(pattern_names, NAMES(pattern_names), name);
}
int rn_aclnames_operation_code(const char *name)
{
    return code_of(operation_names, NAMES(operation_names), name);
}
int rn_aclnames_permission_code(const char *name)
{
    return code_of(permission_names, NAMES(permission_names), name);
}
