/* Tests for rn_peer_tls: each connection's TLS session comes from the context set last, with
 * SNI for a host name and the host check asked for (a name, or an IP address). */
#include "rn_peer.h"
#include "tap.h"

#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

int main(void)
{
    SSL_CTX *a = SSL_CTX_new(TLS_client_method()), *b = SSL_CTX_new(TLS_client_method());
    ok(rn_peer_tls_new(NULL, true) == NULL, "no context, no peer TLS");

    rn_peer_tls_t *tls = rn_peer_tls_new(a, true);
    SSL *ssl = rn_peer_tls_ssl(tls, "broker1.example");
    ok(ssl != NULL && SSL_get_SSL_CTX(ssl) == a, "a session from the context given");
    const char *sni = ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
    is_str(sni, "broker1.example", "SNI names the host");
    const char *peername = ssl ? X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0) : NULL;
    is_str(peername, "broker1.example", "and the certificate must name it");
    SSL_free(ssl);

    ssl = rn_peer_tls_ssl(tls, "127.0.0.1");
    ok(ssl != NULL && SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) == NULL,
       "no SNI for an IP address");
    char *ip = ssl ? X509_VERIFY_PARAM_get1_ip_asc(SSL_get0_param(ssl)) : NULL;
    is_str(ip, "127.0.0.1", "the certificate must name the IP address");
    OPENSSL_free(ip);
    SSL_free(ssl);

    rn_peer_tls_set_ctx(tls, b);
    SSL_CTX_free(b); /* the peer TLS holds its own reference */
    ssl = rn_peer_tls_ssl(tls, "127.0.0.1");
    ok(ssl != NULL && SSL_get_SSL_CTX(ssl) == b, "after a reload: the new context");
    SSL_free(ssl);
    rn_peer_tls_free(tls);

    tls = rn_peer_tls_new(a, false);
    ssl = rn_peer_tls_ssl(tls, "broker1.example");
    ok(ssl != NULL && X509_VERIFY_PARAM_get0_host(SSL_get0_param(ssl), 0) == NULL,
       "without the host check no name is required");
    SSL_free(ssl);
    rn_peer_tls_free(tls);
    SSL_CTX_free(a);
    return done_testing();
}
