/* rn_sasl: the SASL mechanisms Kafka speaks over SaslAuthenticate, as pure message logic
 * (no sockets): PLAIN (RFC 4616) and SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677),
 * both sides. The broker runs the server side, runneld's peer connections and the tools the
 * client side; the tools also compute the salted credentials AlterUserScramCredentials
 * carries, so a password never leaves the machine it was typed on.
 *
 * Credentials are kept as RFC 5802 stores them (salt, iterations, StoredKey, ServerKey);
 * proofs are compared in constant time; nonces come from OpenSSL's CSPRNG.
 *
 * Messages are byte slices; every parser is bounded by its length and never reads past it
 * (tests/fuzz/fuzz_sasl.c). Outputs go to caller buffers of RN_SASL_MSG_MAX bytes. */
#ifndef RN_SASL_H
#define RN_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka's SCRAM mechanism numbers (DescribeUserScramCredentials, the metadata records). */
enum { RN_SCRAM_UNKNOWN = 0, RN_SCRAM_SHA_256 = 1, RN_SCRAM_SHA_512 = 2 };

#define RN_SCRAM_MIN_ITERATIONS 4096  /* Kafka's floor (and RFC 7677's advice) */
#define RN_SCRAM_MAX_ITERATIONS 16384 /* Kafka's ceiling for AlterUserScramCredentials */
#define RN_SCRAM_KEY_MAX        64    /* SHA-512 output */
#define RN_SCRAM_SALT_MAX       128
#define RN_SASL_USER_MAX        256  /* a user name, decoded, NUL included */
#define RN_SASL_MSG_MAX         1024 /* largest message either side builds or accepts */

/* Results of the state machines. RN_SASL_FAIL: refuse the login (the caller answers
 * SASL_AUTHENTICATION_FAILED); RN_SASL_BAD: the message is not one of the mechanism's. */
enum { RN_SASL_OK = 0, RN_SASL_DONE = 1, RN_SASL_FAIL = -1, RN_SASL_BAD = -2 };

/* "SCRAM-SHA-256" for RN_SCRAM_SHA_256, NULL for others. */
const char *rn_scram_mech_name(int mech);
/* The mechanism named name (len bytes, exact case as Kafka), or RN_SCRAM_UNKNOWN. */
int rn_scram_mech_by_name(const char *name, size_t len);
/* Output bytes of the mechanism's hash (32 or 64); 0 for an unknown one. */
size_t rn_scram_key_len(int mech);

/* One user's credential for one mechanism, as stored. */
typedef struct rn_scram_cred {
    int mech;
    int32_t iterations;
    uint8_t salt[RN_SCRAM_SALT_MAX];
    size_t salt_len;
    uint8_t stored_key[RN_SCRAM_KEY_MAX]; /* H(HMAC(SaltedPassword, "Client Key")) */
    uint8_t server_key[RN_SCRAM_KEY_MAX]; /* HMAC(SaltedPassword, "Server Key") */
} rn_scram_cred_t;

/* SaltedPassword = Hi(password, salt, iterations) into out[rn_scram_key_len(mech)]. 0 or
 * RN_EINVAL (unknown mechanism, salt too long, iterations < 1). */
int rn_scram_salted_password(int mech, const char *password, size_t pwlen, const uint8_t *salt,
                             size_t salt_len, int32_t iterations, uint8_t *out);
/* The stored credential from a salted password (what a broker keeps of an upsertion; any
 * length is taken, as Kafka takes it: one of the wrong length matches no password). */
int rn_scram_cred_from_salted(int mech, const uint8_t *salted, size_t salted_len,
                              const uint8_t *salt, size_t salt_len, int32_t iterations,
                              rn_scram_cred_t *cred);
/* A fresh credential for password with a random 32-byte salt (tools). */
int rn_scram_cred_new(int mech, const char *password, size_t pwlen, int32_t iterations,
                      rn_scram_cred_t *cred, uint8_t *salted_out);
/* Whether password matches cred (PLAIN logins checked against SCRAM credentials): costs one
 * Hi(), i.e. cred->iterations HMACs. Constant-time compare. */
bool rn_scram_cred_check_password(const rn_scram_cred_t *cred, const char *password, size_t pwlen);

/* Fill buf with n bytes from the CSPRNG; 0 or RN_EIO. */
int rn_sasl_random(uint8_t *buf, size_t n);
/* Base64 (RFC 4648, padded). Encode: NUL-terminated, returns the length or -1 when out is
 * too small. Decode: strict (padding, no whitespace), returns the length or -1. */
long rn_sasl_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap);
long rn_sasl_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap);

/* Kafka's JAAS line ('<LoginModule> required username="u" password="p";') into user[ucap]
 * and password[pcap]; 0 or RN_EINVAL (no "required", no username or password, an unquoted
 * or too long value). */
int rn_sasl_jaas_parse(const char *jaas, char *user, size_t ucap, char *password, size_t pcap);

/* ---- PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd ---- */

typedef struct rn_sasl_plain {
    char user[RN_SASL_USER_MAX];
    const char *password; /* points into the message; not NUL-terminated */
    size_t pwlen;
} rn_sasl_plain_t;

/* Parse a PLAIN token. RN_SASL_OK; RN_SASL_BAD when malformed (*why says how, in Kafka's
 * words), RN_SASL_FAIL for an authzid other than the user. */
int rn_sasl_plain_parse(const uint8_t *msg, size_t len, rn_sasl_plain_t *out, const char **why);
/* The PLAIN token for user/password into out[cap]; its length or -1. */
long rn_sasl_plain_token(const char *user, const char *password, uint8_t *out, size_t cap);

/* ---- SCRAM server ---- */

enum { RN_SCRAM_S_FIRST, RN_SCRAM_S_FINAL, RN_SCRAM_S_DONE, RN_SCRAM_S_FAILED };

typedef struct rn_scram_server {
    int mech;
    int state;
    char user[RN_SASL_USER_MAX];    /* from client-first, decoded (=2C, =3D) */
    char gs2[RN_SASL_USER_MAX + 8]; /* the gs2 header the client sent ("n,,") */
    char client_first_bare[RN_SASL_MSG_MAX];
    char server_first[RN_SASL_MSG_MAX];
    char nonce[RN_SASL_MSG_MAX]; /* client nonce + ours */
    rn_scram_cred_t cred;
} rn_scram_server_t;

void rn_scram_server_init(rn_scram_server_t *s, int mech);
/* Step 1: parse client-first-message; on RN_SASL_OK s->user names who to look up. An
 * extension runnel cannot honour (tokenauth: delegation tokens) is RN_SASL_FAIL. */
int rn_scram_server_client_first(rn_scram_server_t *s, const uint8_t *msg, size_t len,
                                 const char **why);
/* Step 2: with the user's credential, the server-first-message into out (NUL-terminated);
 * its length or RN_SASL_FAIL. */
long rn_scram_server_first(rn_scram_server_t *s, const rn_scram_cred_t *cred, char *out,
                           size_t cap);
/* Step 3: check client-final-message and its proof; on success RN_SASL_DONE with the
 * server-final-message ("v=...") in out, *outlen its length. */
int rn_scram_server_client_final(rn_scram_server_t *s, const uint8_t *msg, size_t len, char *out,
                                 size_t cap, size_t *outlen, const char **why);

/* ---- SCRAM client ---- */

typedef struct rn_scram_client {
    int mech;
    int state;
    char password[RN_SASL_MSG_MAX / 4];
    char client_first_bare[RN_SASL_MSG_MAX];
    char cnonce[64];
    uint8_t server_sig[RN_SCRAM_KEY_MAX];
} rn_scram_client_t;

/* client-first-message for user into out; its length or -1. */
long rn_scram_client_first(rn_scram_client_t *c, int mech, const char *user, const char *password,
                           char *out, size_t cap);
/* client-final-message answering server-first; its length or RN_SASL_BAD / RN_SASL_FAIL. */
long rn_scram_client_final(rn_scram_client_t *c, const uint8_t *msg, size_t len, char *out,
                           size_t cap);
/* Check server-final-message: RN_SASL_DONE when the server proved it knows the key. */
int rn_scram_client_verify(rn_scram_client_t *c, const uint8_t *msg, size_t len);

/* The same with the nonce given instead of drawn (tests: the RFC 7677 exchange). */
long rn__scram_server_first_nonce(rn_scram_server_t *s, const rn_scram_cred_t *cred,
                                  const char *snonce, char *out, size_t cap);
long rn__scram_client_first_nonce(rn_scram_client_t *c, int mech, const char *user,
                                  const char *password, const char *cnonce, char *out, size_t cap);

#endif
