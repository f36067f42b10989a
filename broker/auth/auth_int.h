/* Private parts of the auth room shared by auth.c and its handlers. Never included from
 * outside broker/auth/. */
#ifndef RN_AUTH_INT_H
#define RN_AUTH_INT_H

#include "auth/rn_auth.h"
#include "controller/rn_mimage.h"
#include "net/rn_netlimit.h"
#include "rn_sasl.h"

#include <stdint.h>

/* Mechanism indexes for counters and names: 0 PLAIN, then the RN_SCRAM_* numbers. */
#define RN_AUTH_NMECH 3
/* "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" for index 0..2. */
const char *rn__auth_mech_name(int idx);

/* ---- failed logins, logged once per source address (rn_authlog) ---- */

/* How often one source address may get a line about its failed logins. */
#define RN_AUTHLOG_EVERY_NS (60ull * 1000000000ull)
#define RN_AUTHLOG_SLOTS    256

/* A table of recent sources hashed by address: a slot keeps one address, when it was last
 * logged and the failures since. A new address on a taken slot replaces it (logging it is
 * the worst that follows). Lines over all sources are also capped at 10 a second. */
typedef struct rn_authlog {
    struct {
        char ip[64];
        uint64_t logged_ns;
        uint64_t since; /* failures not yet reported */
    } slot[RN_AUTHLOG_SLOTS];
    rn_lograte_t lines;
} rn_authlog_t;

/* Count a failed login from ip at now_ns; true when it may be logged, with *failures the
 * number of failures from ip the line covers (itself included). */
bool rn_authlog_fail(rn_authlog_t *log, const char *ip, uint64_t now_ns, uint64_t *failures);

/* The address part of "host:port" / "[v6]:port" into out. */
void rn__auth_peer_ip(const char *peer, char *out, size_t cap);

typedef struct rn_auth {
    rn_broker_t *b;
    unsigned *mechs;             /* per listener (cfg->listeners order): RN_AUTH_* bits */
    int (*order)[RN_AUTH_NMECH]; /* per listener: mechanism indexes in configured order */
    int *n_order;
    int64_t reauth_ms; /* connections.max.reauth.ms */
    uint64_t ok[RN_AUTH_NMECH], failed[RN_AUTH_NMECH];
    rn_authlog_t log;
    /* The inter-broker login's own user (SASL_* inter-broker listener), accepted from this
     * node's configuration so a cluster can form before any credential is in the metadata:
     * its password salted at start-up for both SCRAM mechanisms, kept only in memory. A
     * credential of the same user in the metadata wins. own_user "" = none. */
    char own_user[RN_SASL_USER_MAX];
    rn_scram_cred_t own[3]; /* indexed by RN_SCRAM_SHA_256 / RN_SCRAM_SHA_512 */
} rn_auth_t;

/* The credential of user for mech (RN_SCRAM_*): the metadata's, else the inter-broker
 * user's own; NULL when none. */
const rn_scram_cred_t *rn__auth_cred(const rn_auth_t *a, const rn_mimage_t *img, const char *user,
                                     int mech);

#endif
