/* TLS for rn_peer's connections (see rn_peer.h): the context every new connection is made
 * with, replaceable while peers run on other threads (the quorum has its own loop). */
#include "rn_peer.h"

#include "rn_alloc.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct rn_peer_tls {
    pthread_mutex_t lock; /* guards ctx */
    SSL_CTX *ctx;         /* a reference of our own */
    bool check_host;
};

rn_peer_tls_t *rn_peer_tls_new(SSL_CTX *ctx, bool check_host)
{
    if (ctx == NULL || SSL_CTX_up_ref(ctx) != 1)
        return NULL;
    rn_peer_tls_t *tls = rn_xcalloc(1, sizeof(*tls));
    pthread_mutex_init(&tls->lock, NULL);
    tls->ctx = ctx;
    tls->check_host = check_host;
    return tls;
}

void rn_peer_tls_set_ctx(rn_peer_tls_t *tls, SSL_CTX *ctx)
{
    if (ctx == NULL || SSL_CTX_up_ref(ctx) != 1)
        return;
    pthread_mutex_lock(&tls->lock);
    SSL_CTX *old = tls->ctx;
    tls->ctx = ctx;
    pthread_mutex_unlock(&tls->lock);
    SSL_CTX_free(old); /* connections made with it hold their own reference */
}

SSL *rn_peer_tls_ssl(rn_peer_tls_t *tls, const char *host)
{
    pthread_mutex_lock(&tls->lock);
    SSL *ssl = SSL_new(tls->ctx);
    pthread_mutex_unlock(&tls->lock);
    if (ssl == NULL)
        return NULL;
    unsigned char addr[16];
    bool ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
    if (!ip)
        SSL_set_tlsext_host_name(ssl, host); /* SNI takes names only */
    if (tls->check_host) {
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
                    : X509_VERIFY_PARAM_set1_host(param, host, strlen(host));
        if (ok != 1) {
            SSL_free(ssl);
            return NULL;
        }
    }
    return ssl;
}

void rn_peer_tls_free(rn_peer_tls_t *tls)
{
    if (tls == NULL)
        return;
    SSL_CTX_free(tls->ctx);
    pthread_mutex_destroy(&tls->lock);
    rn_free(tls);
}
