/* rn_tls: TLS contexts for runneld's SSL listeners and for its own connections to other
 * nodes, built with OpenSSL from Kafka's ssl.* settings, and the principal of a connection
 * that showed a client certificate.
 *
 * Settings (each may be given per listener as listener.name.<name>.<key>, which wins):
 *   ssl.keystore.type=PEM; ssl.keystore.location (certificate, chain and private key in one
 *   PEM file) or ssl.keystore.certificate.chain + ssl.keystore.key (the PEM text itself);
 *   ssl.key.password for an encrypted key; ssl.truststore.type=PEM with
 *   ssl.truststore.location or ssl.truststore.certificates; ssl.client.auth;
 *   ssl.enabled.protocols and ssl.protocol (TLSv1.2 and TLSv1.3 only); ssl.cipher.suites
 *   (IANA names); ssl.endpoint.identification.algorithm (https or empty, for the client
 *   side). Every one of them takes effect or the context is refused with a message naming
 *   the setting and where it was given.
 *
 * Contexts are reference counted by OpenSSL: a connection holds its own reference, so a
 * context replaced by a reload (SIGHUP) lives on exactly as long as the connections made
 * with it. Building a context reads files: call it at start-up or on a reload, never per
 * connection. */
#ifndef RN_TLS_H
#define RN_TLS_H

/* Bytes a server connection's OpenSSL reads from its socket at once (read-ahead). */
#define RN_TLS_READ_AHEAD (64u << 10)

#include "rn_config.h"

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* ssl.client.auth, resolved. */
typedef enum rn_tls_client_auth {
    RN_TLS_AUTH_NONE = 0,
    RN_TLS_AUTH_REQUESTED = 1,
    RN_TLS_AUTH_REQUIRED = 2,
} rn_tls_client_auth_t;

/* The context SSL listener i accepts connections with (a keystore is required; a truststore
 * too when ssl.client.auth is not none). NULL with a message in err. */
SSL_CTX *rn_tls_server_ctx(const rn_config_t *cfg, int listener, char *err, size_t errlen);

/* The context this node connects to listener i of the other nodes with: their certificates
 * are verified against listener i's truststore (the system's CAs without one) and its
 * keystore, when given, is this node's client certificate. *check_host tells whether the
 * other node's certificate must name the host connected to
 * (ssl.endpoint.identification.algorithm=https). NULL with a message in err. */
SSL_CTX *rn_tls_client_ctx(const rn_config_t *cfg, int listener, bool *check_host, char *err,
                           size_t errlen);

/* The principal of a TLS connection: "User:" and the subject of the client certificate it
 * showed and that was verified, in RFC 2253 form as Kafka prints it
 * ("User:CN=alice,OU=eng,O=acme"). False (buf untouched) without a verified certificate or
 * when the name does not fit. */
bool rn_tls_principal(SSL *ssl, char *buf, size_t len);

/* Write name in RFC 2253 form as Java's X500Principal.getName() does: the most specific RDN
 * first, CN, C, L, ST, O, OU, DC, UID and STREET by keyword and other attributes as a dotted
 * OID with the value's DER in hex, "+" between the values of a multi-valued RDN, and
 * ",=+<>#;\"\\" and the outer spaces escaped with '\'. Returns the length, or -1 when it
 * does not fit in len (buf then holds a truncated string). */
int rn_tls_name_rfc2253(const X509_NAME *name, char *buf, size_t len);

/* The first queued OpenSSL error as text (the queue is cleared), or what when there is
 * none; for messages. Returns buf. */
const char *rn_tls_last_error(char *buf, size_t len, const char *what);

#endif
