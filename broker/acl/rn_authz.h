/* rn_authz: the authorizer every API handler asks before it acts — Kafka's
 * StandardAuthorizer over the ACLs of the metadata image (rn_acl.h), with super.users and
 * allow.everyone.if.no.acl.found, and the node's own traffic.
 *
 * On when authorizer.class.name is org.apache.kafka.metadata.authorizer.StandardAuthorizer
 * (Kafka's KRaft authorizer; an empty value is off; any other class is refused at start-up,
 * naming the setting). Off, b->authz is NULL and rn_authz_allowed is one pointer test.
 *
 * Who is asking: req->principal (User:ANONYMOUS until TLS or SASL names the connection) at the
 * host of req->peer. Super users (super.users, "User:a;User:b") may do everything. Requests
 * arriving on a dedicated controller listener (controller.listener.names naming a listener
 * that is not the inter-broker listener) are the quorum's own traffic: controller RPCs, and
 * admin requests a node forwards after authorizing them with its client's principal (runnel
 * forwards requests whole, without Kafka's Envelope carrying that principal); they pass as a
 * super user's would. Everything else follows Kafka, including the inter-node APIs on other
 * listeners, which need CLUSTER_ACTION on the cluster: until TLS or SASL name the peers, a
 * cluster whose controller RPCs share a listener with clients grants that to the peers'
 * principal (for PLAINTEXT, User:ANONYMOUS) as Kafka's own docs advise.
 *
 * Loop thread only. */
#ifndef RN_AUTHZ_H
#define RN_AUTHZ_H

#include "acl/rn_acl.h"
#include "net/rn_server.h"
#include "rn_broker.h"

#include <stdbool.h>
#include <stdint.h>

/* The Kafka class name that turns authorization on. */
#define RN_AUTHZ_STANDARD "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

typedef struct rn_authz rn_authz_t;

/* The "acl" broker module: reads the three settings and sets b->authz (NULL when off).
 * RN_EINVAL with a message naming the setting for an authorizer runnel does not offer. */
int rn_authz_module_init(rn_broker_t *b, char *err, size_t errlen);
void rn_authz_module_shutdown(rn_broker_t *b);

/* The decision for req's principal and host (see the file comment); the slow path of
 * rn_authz_allowed. */
bool rn__authz_check(rn_authz_t *az, const rn_req_t *req, int8_t operation, int8_t resource_type,
                     const char *name, size_t name_len);

/* May req's client do operation (RN_ACL_OP_*) on the resource (RN_ACL_RES_*, name)? True
 * when no authorizer is configured. */
static inline bool rn_authz_allowed(const rn_req_t *req, int8_t operation, int8_t resource_type,
                                    rn_str_t name)
{
    rn_authz_t *az = ((const rn_broker_t *)req->ctx)->authz;
    return az == NULL ||
           rn__authz_check(az, req, operation, resource_type, name.len > 0 ? name.ptr : "",
                           name.len > 0 ? (size_t)name.len : 0);
}
/* The same on the cluster resource. */
static inline bool rn_authz_cluster(const rn_req_t *req, int8_t operation)
{
    rn_authz_t *az = ((const rn_broker_t *)req->ctx)->authz;
    return az == NULL || rn__authz_check(az, req, operation, RN_ACL_RES_CLUSTER,
                                         RN_ACL_CLUSTER_NAME, sizeof(RN_ACL_CLUSTER_NAME) - 1);
}
/* True when an authorizer is configured (DescribeAcls answers SECURITY_DISABLED without). */
static inline bool rn_authz_on(const rn_req_t *req)
{
    return ((const rn_broker_t *)req->ctx)->authz != NULL;
}

/* May req's client do operation on some resource of resource_type (rn_acls_authorize_any)?
 * True when no authorizer is configured. */
bool rn_authz_any(const rn_req_t *req, int8_t operation, int8_t resource_type);

/* Decisions made and denials since start (for /metrics and tests). */
void rn_authz_counts(const rn_authz_t *az, uint64_t *checks, uint64_t *denied);

#endif
