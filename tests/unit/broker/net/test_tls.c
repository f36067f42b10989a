/* Tests for rn_tls: contexts from the ssl.* settings (every refusal names its setting),
 * real handshakes between them in memory (versions, client certificates, cipher suites,
 * the host check of inter-node connections), and principals in RFC 2253 form. The CA and
 * certificates are made here with OpenSSL. */
#include "net/rn_tls.h"
#include "rn_config.h"
#include "rn_err.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static char tmpdir[] = "/tmp/rn_test_tls.XXXXXX";

static EVP_PKEY *new_key(void)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    if (key == NULL)
        abort();
    return key;
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        abort();
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

/* A certificate for name (entries "O=acme/OU=eng/CN=alice", most general first) signed by
 * issuer/ikey (self-signed when NULL), valid from days_from to days_to around now. */
static X509 *new_cert(const char *name, EVP_PKEY *key, X509 *issuer, EVP_PKEY *ikey, bool ca,
                      const char *san, long days_from, long days_to)
{
    static long serial = 1;
    X509 *cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert), days_from * 86400);
    X509_gmtime_adj(X509_getm_notAfter(cert), days_to * 86400);
    X509_set_pubkey(cert, key);
    X509_NAME *xn = X509_get_subject_name(cert);
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", name);
    for (char *save = NULL, *part = strtok_r(buf, "/", &save); part != NULL;
         part = strtok_r(NULL, "/", &save)) {
        char *eq = strchr(part, '=');
        *eq = '\0';
        X509_NAME_add_entry_by_txt(xn, part, MBSTRING_UTF8, (unsigned char *)eq + 1, -1, -1, 0);
    }
    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : xn);
    add_ext(cert, issuer != NULL ? issuer : cert, NID_basic_constraints,
            ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (san != NULL)
        add_ext(cert, issuer, NID_subject_alt_name, san);
    if (X509_sign(cert, ikey != NULL ? ikey : key, EVP_sha256()) == 0)
        abort();
    return cert;
}

static const char *path_of(const char *name)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

/* Write certificates (NULL-terminated) and optionally a key (encrypted with pass) to name. */
static const char *write_pem(const char *name, X509 *const *certs, EVP_PKEY *key, const char *pass)
{
    const char *path = path_of(name);
    FILE *fp = fopen(path, "w");
    for (; *certs != NULL; certs++)
        PEM_write_X509(fp, *certs);
    if (key != NULL)
        PEM_write_PKCS8PrivateKey(fp, key, pass ? EVP_aes_128_cbc() : NULL, (char *)pass,
                                  pass ? (int)strlen(pass) : 0, NULL, NULL);
    fclose(fp);
    return path;
}

static EVP_PKEY *ca_key, *server_key, *alice_key, *evil_key;
static X509 *ca, *server, *alice, *evil, *alice_old;
static const char *ca_pem, *server_pem, *server_enc_pem, *alice_pem, *evil_pem, *alice_old_pem;

static void make_pki(void)
{
    ca_key = new_key(), server_key = new_key(), alice_key = new_key(), evil_key = new_key();
    ca = new_cert("CN=runnel test CA", ca_key, NULL, NULL, true, NULL, -1, 30);
    server = new_cert("CN=localhost", server_key, ca, ca_key, false, "DNS:localhost,IP:127.0.0.1",
                      -1, 30);
    alice = new_cert("O=acme/OU=eng/CN=alice", alice_key, ca, ca_key, false, NULL, -1, 30);
    alice_old = new_cert("CN=alice", alice_key, ca, ca_key, false, NULL, -30, -1);
    evil = new_cert("CN=evil", evil_key, NULL, NULL, false, NULL, -1, 30);
    ca_pem = write_pem("ca.pem", (X509 *[]){ca, NULL}, NULL, NULL);
    server_pem = write_pem("server.pem", (X509 *[]){server, ca, NULL}, server_key, NULL);
    server_enc_pem = write_pem("server-enc.pem", (X509 *[]){server, NULL}, server_key, "s3cret");
    alice_pem = write_pem("alice.pem", (X509 *[]){alice, NULL}, alice_key, NULL);
    alice_old_pem = write_pem("alice-old.pem", (X509 *[]){alice_old, NULL}, alice_key, NULL);
    evil_pem = write_pem("evil.pem", (X509 *[]){evil, NULL}, evil_key, NULL);
}

/* A config with one SSL listener and the given key/value pairs (NULL-terminated). */
static void config(rn_config_t *cfg, const char *const *kv)
{
    char err[512];
    rn_config_init(cfg);
    if (rn_config_set(cfg, "listeners", "SSL://127.0.0.1:0", "t", err, sizeof(err)) != 0)
        abort();
    for (; kv[0] != NULL; kv += 2)
        if (rn_config_set(cfg, kv[0], kv[1], "t", err, sizeof(err)) != 0) {
            diag("%s", err);
            abort();
        }
    if (rn_config_resolve(cfg, err, sizeof(err)) != 0) {
        diag("%s", err);
        abort();
    }
}

/* Build a server context from kv; NULL and the message in err when refused. */
static SSL_CTX *server_ctx(const char *const *kv, char *err, size_t errlen)
{
    rn_config_t cfg;
    config(&cfg, kv);
    err[0] = '\0';
    SSL_CTX *ctx = rn_tls_server_ctx(&cfg, 0, err, errlen);
    rn_config_free(&cfg);
    return ctx;
}

static SSL_CTX *client_ctx(const char *const *kv, bool *check_host)
{
    rn_config_t cfg;
    char err[512];
    config(&cfg, kv);
    SSL_CTX *ctx = rn_tls_client_ctx(&cfg, 0, check_host, err, sizeof(err));
    if (ctx == NULL)
        diag("client ctx: %s", err);
    rn_config_free(&cfg);
    return ctx;
}

static void refused(const char *const *kv, const char *needle, const char *what)
{
    char err[1024];
    SSL_CTX *ctx = server_ctx(kv, err, sizeof(err));
    ok(ctx == NULL && strstr(err, needle) != NULL, "%s: refused naming %s", what, needle);
    if (ctx != NULL || strstr(err, needle) == NULL)
        diag("got: %s", ctx != NULL ? "a context" : err);
    SSL_CTX_free(ctx);
}

static void test_refusals(void)
{
    refused((const char *[]){NULL}, "ssl.keystore.location", "no keystore");
    refused((const char *[]){"ssl.keystore.location", "/nonexistent.pem", NULL},
            "ssl.keystore.location", "missing file");
    refused((const char *[]){"ssl.keystore.location", server_pem, "ssl.enabled.protocols",
                             "TLSv1.1,TLSv1.2", NULL},
            "ssl.enabled.protocols: TLSv1.1 is older than TLSv1.2", "TLS 1.1");
    refused((const char *[]){"ssl.keystore.location", server_pem, "ssl.protocol", "TLSv1", NULL},
            "ssl.protocol: TLSv1 is older", "ssl.protocol TLSv1");
    refused((const char *[]){"ssl.keystore.location", server_pem, "ssl.protocol", "TLSv1.2",
                             "ssl.enabled.protocols", "TLSv1.3", NULL},
            "ssl.protocol", "no version left");
    refused(
        (const char *[]){"ssl.keystore.location", server_pem, "ssl.keystore.password", "x", NULL},
        "ssl.keystore.password", "store password");
    refused((const char *[]){"ssl.keystore.location", server_enc_pem, NULL}, "ssl.key.password",
            "encrypted key without password");
    refused((const char *[]){"ssl.keystore.location", server_enc_pem, "ssl.key.password", "wrong",
                             NULL},
            "ssl.key.password", "wrong key password");
    refused((const char *[]){"ssl.keystore.location", server_pem, "ssl.key.password", "x", NULL},
            "is not encrypted", "password for a plain key");
    refused(
        (const char *[]){"ssl.keystore.location", server_pem, "ssl.client.auth", "required", NULL},
        "ssl.client.auth=required needs", "client auth without truststore");
    refused((const char *[]){"ssl.keystore.location", server_pem, "ssl.truststore.location",
                             "/nonexistent-ca.pem", NULL},
            "ssl.truststore.location", "bad truststore path");
    refused((const char *[]){"ssl.keystore.location", server_pem, "ssl.cipher.suites",
                             "TLS_NO_SUCH_SUITE", NULL},
            "ssl.cipher.suites: TLS_NO_SUCH_SUITE", "unknown cipher suite");
    refused((const char *[]){"ssl.keystore.location", server_pem,
                             "ssl.endpoint.identification.algorithm", "ldap", NULL},
            "ssl.endpoint.identification.algorithm", "endpoint algorithm");
    refused((const char *[]){"ssl.keystore.location", alice_pem, "ssl.keystore.key", "x", NULL},
            "not both", "location and key text");
    refused((const char *[]){"ssl.keystore.location", server_pem,
                             "listener.name.ssl.ssl.keystore.location", "/nonexistent.pem", NULL},
            "t: listener.name.ssl.ssl.keystore.location", "a listener's own setting wins");

    char err[512];
    SSL_CTX *ctx = server_ctx((const char *[]){"ssl.keystore.location", server_enc_pem,
                                               "ssl.key.password", "s3cret", NULL},
                              err, sizeof(err));
    ok(ctx != NULL, "an encrypted key with its password loads");
    SSL_CTX_free(ctx);
}

/* Run a handshake between two contexts in memory. Returns the server's SSL (caller frees)
 * when both ends finished, NULL otherwise; *client_out keeps the client's. */
static SSL *handshake(SSL_CTX *sctx, SSL_CTX *cctx, const char *host_check, SSL **client_out)
{
    SSL *s = SSL_new(sctx), *c = SSL_new(cctx);
    BIO *bs, *bc;
    BIO_new_bio_pair(&bs, 0, &bc, 0);
    SSL_set_bio(s, bs, bs);
    SSL_set_bio(c, bc, bc);
    if (host_check != NULL)
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c), host_check);
    int sdone = 0, cdone = 0;
    for (int i = 0; i < 100 && (sdone != 1 || cdone != 1); i++) {
        if (cdone != 1) {
            cdone = SSL_connect(c);
            if (cdone != 1 && SSL_get_error(c, cdone) != SSL_ERROR_WANT_READ)
                break;
        }
        if (sdone != 1) {
            sdone = SSL_accept(s);
            if (sdone != 1 && SSL_get_error(s, sdone) != SSL_ERROR_WANT_READ)
                break;
        }
    }
    /* TLS 1.3: the server judges the client's certificate after the client is done;
     * a byte each way makes both ends see the outcome. */
    bool fine = sdone == 1 && cdone == 1;
    if (fine) {
        char b = 'x';
        fine = SSL_write(c, &b, 1) == 1 && SSL_read(s, &b, 1) == 1 && SSL_write(s, &b, 1) == 1 &&
               SSL_read(c, &b, 1) == 1;
    }
    ERR_clear_error();
    if (client_out != NULL && fine)
        *client_out = c;
    else
        SSL_free(c);
    if (!fine) {
        SSL_free(s);
        return NULL;
    }
    return s;
}

static void test_handshakes(void)
{
    char err[512], principal[256];
    SSL_CTX *sctx =
        server_ctx((const char *[]){"ssl.keystore.location", server_pem, "ssl.truststore.location",
                                    ca_pem, "ssl.client.auth", "required", NULL},
                   err, sizeof(err));
    ok(sctx != NULL, "server context (client auth required): %s", err);
    bool check_host = false;
    SSL_CTX *alice_ctx = client_ctx((const char *[]){"ssl.keystore.location", alice_pem,
                                                     "ssl.truststore.location", ca_pem, NULL},
                                    &check_host);
    ok(check_host, "https is the default endpoint identification");
    SSL *client = NULL;
    SSL *s = handshake(sctx, alice_ctx, "127.0.0.1", &client);
    ok(s != NULL, "alice's certificate is accepted and the server's name checks");
    if (s != NULL) {
        ok(rn_tls_principal(s, principal, sizeof(principal)), "a principal");
        is_str(principal, "User:CN=alice,OU=eng,O=acme", "principal is the subject, RFC 2253");
        is_str(SSL_get_version(s), "TLSv1.3", "TLS 1.3 by default");
        SSL_free(s);
        SSL_free(client);
    }
    s = handshake(sctx, alice_ctx, "10.1.2.3", NULL);
    ok(s == NULL, "a server certificate not naming the host is refused");

    SSL_CTX *anon =
        client_ctx((const char *[]){"ssl.truststore.location", ca_pem, NULL}, &check_host);
    ok(handshake(sctx, anon, NULL, NULL) == NULL, "no client certificate: refused (required)");
    SSL_CTX *evil_ctx = client_ctx((const char *[]){"ssl.keystore.location", evil_pem,
                                                    "ssl.truststore.location", ca_pem, NULL},
                                   &check_host);
    ok(handshake(sctx, evil_ctx, NULL, NULL) == NULL, "an untrusted client certificate: refused");
    SSL_CTX *old_ctx = client_ctx((const char *[]){"ssl.keystore.location", alice_old_pem,
                                                   "ssl.truststore.location", ca_pem, NULL},
                                  &check_host);
    ok(handshake(sctx, old_ctx, NULL, NULL) == NULL, "an expired client certificate: refused");
    SSL_CTX_free(sctx);

    /* requested: no certificate is fine (anonymous); one sent must verify. */
    sctx =
        server_ctx((const char *[]){"ssl.keystore.location", server_pem, "ssl.truststore.location",
                                    ca_pem, "ssl.client.auth", "requested", NULL},
                   err, sizeof(err));
    s = handshake(sctx, anon, NULL, &client);
    ok(s != NULL, "requested: a client without a certificate connects");
    if (s != NULL) {
        ok(!rn_tls_principal(s, principal, sizeof(principal)), "and has no principal");
        SSL_free(s);
        SSL_free(client);
    }
    ok(handshake(sctx, evil_ctx, NULL, NULL) == NULL, "requested: an untrusted one is refused");
    SSL_CTX_free(sctx);

    /* Versions and suites. */
    sctx = server_ctx((const char *[]){"ssl.keystore.location", server_pem, "ssl.enabled.protocols",
                                       "TLSv1.2", "ssl.cipher.suites",
                                       "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", NULL},
                      err, sizeof(err));
    ok(sctx != NULL, "TLS 1.2 with one suite: %s", err);
    s = handshake(sctx, anon, NULL, &client);
    ok(s != NULL, "a TLS 1.2 handshake");
    if (s != NULL) {
        is_str(SSL_get_version(s), "TLSv1.2", "TLS 1.2 as enabled");
        is_str(SSL_CIPHER_standard_name(SSL_get_current_cipher(s)),
               "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "the suite named");
        SSL_free(s);
        SSL_free(client);
    }
    SSL_CTX_free(sctx);
    SSL_CTX *c12 = client_ctx((const char *[]){"ssl.truststore.location", ca_pem,
                                               "ssl.enabled.protocols", "TLSv1.2", NULL},
                              &check_host);
    sctx = server_ctx((const char *[]){"ssl.keystore.location", server_pem, "ssl.enabled.protocols",
                                       "TLSv1.3", NULL},
                      err, sizeof(err));
    ok(handshake(sctx, c12, NULL, NULL) == NULL, "a TLS 1.2 client meets a TLS 1.3 listener");
    SSL_CTX_free(sctx);
    SSL_CTX_free(c12);

    SSL_CTX_free(alice_ctx);
    SSL_CTX_free(anon);
    SSL_CTX_free(evil_ctx);
    SSL_CTX_free(old_ctx);
}

static void name_is(const char *const *entries, int multi_from, const char *want, const char *what)
{
    X509_NAME *xn = X509_NAME_new();
    for (int i = 0; entries[i] != NULL; i += 2)
        X509_NAME_add_entry_by_txt(xn, entries[i], MBSTRING_UTF8,
                                   (const unsigned char *)entries[i + 1], -1, -1,
                                   multi_from >= 0 && i / 2 > multi_from ? -1 : 0);
    char buf[512];
    int n = rn_tls_name_rfc2253(xn, buf, sizeof(buf));
    is_str(buf, want, "%s", what);
    is(n, (long)strlen(want), "%s: length", what);
    X509_NAME_free(xn);
}

static void test_names(void)
{
    name_is((const char *[]){"C", "US", "O", "acme", "OU", "eng", "CN", "alice", NULL}, -1,
            "CN=alice,OU=eng,O=acme,C=US", "most specific first");
    name_is((const char *[]){"CN", "a,b+c=d", NULL}, -1, "CN=a\\,b\\+c\\=d", "specials escaped");
    name_is((const char *[]){"CN", " x#y ", NULL}, -1, "CN=\\ x\\#y\\ ", "outer spaces escaped");
    name_is((const char *[]){"CN", "Jürgen", NULL}, -1, "CN=Jürgen", "UTF-8 kept");
    name_is((const char *[]){"DC", "com", "DC", "example", "UID", "bob", NULL}, -1,
            "UID=bob,DC=example,DC=com", "DC and UID keywords");
    name_is((const char *[]){"emailAddress", "a@b.c", "CN", "bob", NULL}, -1,
            "CN=bob,1.2.840.113549.1.9.1=#16056140622e63", "other attributes as OID and DER hex");
    name_is((const char *[]){"O", "acme", "CN", "x", "UID", "y", NULL}, 1, "CN=x+UID=y,O=acme",
            "a multi-valued RDN");
    X509_NAME *xn = X509_NAME_new();
    X509_NAME_add_entry_by_txt(xn, "CN", MBSTRING_UTF8, (const unsigned char *)"abcdefghij", -1, -1,
                               0);
    char small[8];
    is(rn_tls_name_rfc2253(xn, small, sizeof(small)), -1, "a name that does not fit: -1");
    X509_NAME_free(xn);
}

int main(void)
{
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    make_pki();
    test_names();
    test_refusals();
    test_handshakes();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        diag("could not remove %s", tmpdir);
    return done_testing();
}
