/* rn_auth: SASL logins on runneld's SASL_* listeners (issue 15).
 *
 * Mechanisms: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (client/rn_sasl.h), per listener from
 * listener.name.<l>.sasl.enabled.mechanisms, else sasl.enabled.mechanisms. Users are the
 * SCRAM credentials of the cluster metadata (UserScramCredentialRecord in the image every
 * node applies), so every node agrees on them and no password is stored anywhere: PLAIN
 * checks the password it is given against the user's SCRAM credential (SCRAM-SHA-512 when
 * the user has one, else SCRAM-SHA-256), which costs one PBKDF2 (iterations HMACs) per
 * PLAIN login, run on the offload thread (net/rn_offload.h) so the loop never waits for it.
 *
 * The server's gate (net/rn_server.h) keeps everything but ApiVersions, SaslHandshake and
 * SaslAuthenticate off a SASL connection until the login; a login names the connection's
 * principal "User:NAME" (rn_server_set_principal) and gives it a session of
 * connections.max.reauth.ms (KIP-368; 0 = no expiry), told to the client in
 * SaslAuthenticate's SessionLifetimeMs.
 *
 * Failed logins are answered SASL_AUTHENTICATION_FAILED with Kafka's message, the
 * connection closed after the answer, and logged at most once a minute per source address
 * (with how many failed meanwhile), never with a password or token. Counters:
 * runnel_sasl_authentications_total{mechanism,result}. Loop thread only. */
#ifndef RN_AUTH_H
#define RN_AUTH_H

#include "rn_broker.h"

#include <stdbool.h>
#include <stddef.h>

struct rn_req;

/* Mechanism bits of a listener's enabled set; RN_AUTH_PLAIN is PLAIN, the others are
 * 1 << rn_sasl.h's RN_SCRAM_* numbers. */
enum {
    RN_AUTH_PLAIN = 1,
    RN_AUTH_SCRAM_SHA_256 = 1 << 1, /* 1 << RN_SCRAM_SHA_256 */
    RN_AUTH_SCRAM_SHA_512 = 1 << 2, /* 1 << RN_SCRAM_SHA_512 */
};

/* The broker module (dispatch.c's rn_broker_modules): reads the SASL settings and refuses
 * bad ones at start-up, naming the key (an unknown mechanism, a listener.name.<l>. key for
 * a listener that does not exist, a jaas config without username and password). */
int rn_auth_init(rn_broker_t *b, char *err, size_t errlen);
void rn_auth_shutdown(rn_broker_t *b);

/* Parse a Kafka JAAS line ('org.apache...LoginModule required username="u" password="p";')
 * into user[ucap] and password[pcap]. 0 or RN_EINVAL. */
int rn_auth_jaas_parse(const char *jaas, char *user, size_t ucap, char *password, size_t pcap);

/* The login runneld uses towards other nodes when the inter-broker listener is SASL_*:
 * sasl.mechanism.inter.broker.protocol with the user and password of
 * listener.name.<l>.<mechanism>.sasl.jaas.config (else listener.name.<l>.sasl.jaas.config,
 * else sasl.jaas.config). Read from the configuration alone, so the quorum (started before
 * this module) can use it too. */
typedef struct rn_auth_login {
    char mechanism[16]; /* "" = no login */
    char user[256];
    char password[256];
    const char *source; /* the key the credentials came from, for messages */
} rn_auth_login_t;

/* 0 with login filled (mechanism "" when the inter-broker listener is not SASL), or
 * RN_EINVAL when it is SASL and no usable jaas config is set (login->source names the key). */
int rn_auth_peer_login(const rn_config_t *cfg, rn_auth_login_t *login);
/* Set a peer's SASL options from cfg's inter-broker login (none when not SASL); login holds
 * the strings until rn_peer_new has copied them. */
struct rn_peer_opts;
void rn_auth_peer_opts(const rn_config_t *cfg, rn_auth_login_t *login, struct rn_peer_opts *po);

#endif
