/* TLS contexts from the ssl.* settings, and principals from client certificates (see
 * rn_tls.h). */
#include "net/rn_tls.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

__attribute__((format(printf, 3, 4))) static bool fail(char *err, size_t errlen, const char *fmt,
                                                       ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    ERR_clear_error();
    return false;
}

const char *rn_tls_last_error(char *buf, size_t len, const char *what)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, len, "%s", what);
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

/* One listener's view of the settings: a value and where it came from, for messages. */
typedef struct setting {
    const char *v; /* NULL or "" = unset */
    char at[400];
} setting_t;

static void get(const rn_config_t *cfg, int listener, rn_cfg_key_t key, setting_t *s)
{
    s->v = rn_config_listener_str(cfg, listener, key, s->at, sizeof(s->at));
    if (s->v != NULL && *s->v == '\0')
        s->v = NULL;
}

/* ---- protocols and cipher suites ------------------------------------------------------- */

/* A TLS version's OpenSSL number; 0 for a version older than TLS 1.2, -1 for no version. */
static int tls_version(const char *name)
{
    static const char *const old[] = {"TLSv1.1", "TLSv1", "SSLv3", "SSLv2", "SSLv2Hello", "SSL"};
    if (strcasecmp(name, "TLSv1.3") == 0 || strcasecmp(name, "TLS") == 0)
        return TLS1_3_VERSION;
    if (strcasecmp(name, "TLSv1.2") == 0)
        return TLS1_2_VERSION;
    for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++)
        if (strcasecmp(name, old[i]) == 0)
            return 0;
    return -1;
}

/* Calls fn on every trimmed, non-empty item of a comma-separated list; stops at false. */
static bool each_item(const char *list, bool (*fn)(const char *item, void *arg), void *arg)
{
    for (const char *p = list != NULL ? list : ""; *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        const char *next = comma != NULL ? comma + 1 : p + len;
        while (len > 0 && isspace((unsigned char)*p))
            p++, len--;
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        char item[128];
        snprintf(item, sizeof(item), "%.*s", (int)len, p);
        p = next;
        if (len > 0 && !fn(item, arg))
            return false;
    }
    return true;
}

typedef struct proto_scan {
    int min, max;
    const char *bad;
    char bad_buf[128];
} proto_scan_t;

static bool add_version(const char *item, void *arg)
{
    proto_scan_t *ps = arg;
    int v = tls_version(item);
    if (v <= 0 || strcasecmp(item, "TLS") == 0) {
        snprintf(ps->bad_buf, sizeof(ps->bad_buf), "%s", item);
        ps->bad = ps->bad_buf;
        return false;
    }
    if (ps->min == 0 || v < ps->min)
        ps->min = v;
    if (v > ps->max)
        ps->max = v;
    return true;
}

static const char *version_name(int v)
{
    return v == TLS1_3_VERSION ? "TLSv1.3" : "TLSv1.2";
}

/* ssl.enabled.protocols capped by ssl.protocol, into *min / *max. */
static bool resolve_protocols(const rn_config_t *cfg, int listener, int *min, int *max, char *err,
                              size_t errlen)
{
    setting_t en, proto;
    get(cfg, listener, RN_CFG_SSL_ENABLED_PROTOCOLS, &en);
    get(cfg, listener, RN_CFG_SSL_PROTOCOL, &proto);
    proto_scan_t ps = {0};
    if (!each_item(en.v, add_version, &ps)) {
        int v = tls_version(ps.bad);
        return fail(err, errlen, "%s: %s %s; give TLSv1.2 and/or TLSv1.3", en.at, ps.bad,
                    v == 0 ? "is older than TLSv1.2 and not allowed" : "is not a TLS version");
    }
    if (ps.max == 0)
        return fail(err, errlen, "%s: is empty; give TLSv1.2 and/or TLSv1.3", en.at);
    int cap = TLS1_3_VERSION;
    if (proto.v != NULL) {
        cap = tls_version(proto.v);
        if (cap <= 0)
            return fail(err, errlen, "%s: %s %s; give TLSv1.3 or TLSv1.2", proto.at, proto.v,
                        cap == 0 ? "is older than TLSv1.2 and not allowed"
                                 : "is not a TLS version");
    }
    if (ps.min > cap)
        return fail(err, errlen, "%s: %s leaves none of the versions of %s", proto.at, proto.v,
                    en.at);
    *min = ps.min;
    *max = ps.max < cap ? ps.max : cap;
    return true;
}

static bool is_tls13_suite(const char *name)
{
    static const char *const suites[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                         "TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
                                         "TLS_AES_128_CCM_8_SHA256"};
    for (size_t i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
        if (strcmp(name, suites[i]) == 0)
            return true;
    return false;
}

typedef struct cipher_scan {
    STACK_OF(SSL_CIPHER) * known; /* every TLS 1.2 cipher OpenSSL has */
    char list12[4096], list13[1024];
    size_t n12, n13;
    char bad[128];
} cipher_scan_t;

static bool append(char *buf, size_t cap, size_t *n, const char *name)
{
    int w = snprintf(buf + *n, cap - *n, "%s%s", *n ? ":" : "", name);
    if (w < 0 || (size_t)w >= cap - *n)
        return false;
    *n += (size_t)w;
    return true;
}

static bool add_cipher(const char *item, void *arg)
{
    cipher_scan_t *cs = arg;
    snprintf(cs->bad, sizeof(cs->bad), "%s", item);
    if (is_tls13_suite(item))
        return append(cs->list13, sizeof(cs->list13), &cs->n13, item);
    for (int i = 0; i < sk_SSL_CIPHER_num(cs->known); i++) {
        const SSL_CIPHER *c = sk_SSL_CIPHER_value(cs->known, i);
        const char *std = SSL_CIPHER_standard_name(c);
        /* Kafka's (IANA) names; OpenSSL's own names are accepted too. */
        if ((std != NULL && strcmp(std, item) == 0) || strcmp(SSL_CIPHER_get_name(c), item) == 0)
            return append(cs->list12, sizeof(cs->list12), &cs->n12, SSL_CIPHER_get_name(c));
    }
    return false;
}

/* ssl.cipher.suites: TLS 1.3 suites by name, TLS 1.2 ones mapped to OpenSSL's names. Only
 * TLS 1.3 suites given means TLS 1.3 only, and only TLS 1.2 ones TLS 1.2 only, as a Java
 * broker would end up negotiating. */
static bool set_ciphers(SSL_CTX *ctx, const rn_config_t *cfg, int listener, int *min, int *max,
                        char *err, size_t errlen)
{
    setting_t cs_set;
    get(cfg, listener, RN_CFG_SSL_CIPHER_SUITES, &cs_set);
    if (cs_set.v == NULL)
        return true;
    if (SSL_CTX_set_cipher_list(ctx, "ALL:COMPLEMENTOFALL") != 1)
        return fail(err, errlen, "%s: OpenSSL lists no cipher suites", cs_set.at);
    cipher_scan_t cs = {.known = SSL_CTX_get_ciphers(ctx)};
    if (!each_item(cs_set.v, add_cipher, &cs))
        return fail(err, errlen, "%s: %s is not a cipher suite OpenSSL knows", cs_set.at, cs.bad);
    if (cs.n12 == 0 && cs.n13 == 0)
        return fail(err, errlen, "%s: is empty", cs_set.at);
    if (cs.n12 == 0)
        *min = TLS1_3_VERSION;
    if (cs.n13 == 0)
        *max = TLS1_2_VERSION;
    if (*min > *max)
        return fail(err, errlen, "%s: has no suite for the enabled TLS versions", cs_set.at);
    if (cs.n12 > 0 && SSL_CTX_set_cipher_list(ctx, cs.list12) != 1)
        return fail(err, errlen, "%s: OpenSSL refuses %s", cs_set.at, cs.list12);
    if (SSL_CTX_set_ciphersuites(ctx, cs.list13) != 1)
        return fail(err, errlen, "%s: OpenSSL refuses %s", cs_set.at, cs.list13);
    return true;
}

/* ---- key store and trust store ---------------------------------------------------------- */

/* Opens a setting's PEM: the file named by location, or the text itself. */
static BIO *open_pem(const setting_t *location, const setting_t *text, char *err, size_t errlen)
{
    BIO *bio = location != NULL ? BIO_new_file(location->v, "r") : BIO_new_mem_buf(text->v, -1);
    if (bio == NULL) {
        char why[256];
        fail(err, errlen, "%s: cannot read %s: %s", location != NULL ? location->at : text->at,
             location != NULL ? location->v : "the PEM text",
             rn_tls_last_error(why, sizeof(why), "out of memory"));
    }
    return bio;
}

typedef struct password {
    const char *v;
    bool asked;
} password_t;

static int password_cb(char *buf, int size, int rwflag, void *u)
{
    password_t *pw = u;
    pw->asked = true;
    if (pw->v == NULL)
        return -1;
    size_t n = strlen(pw->v);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, pw->v, n);
    return (int)n;
}

/* The certificate, its chain and the private key into ctx. */
static bool load_keystore(SSL_CTX *ctx, const rn_config_t *cfg, int listener, bool required,
                          char *err, size_t errlen)
{
    setting_t loc, chain, key, keypw, storepw;
    get(cfg, listener, RN_CFG_SSL_KEYSTORE_LOCATION, &loc);
    get(cfg, listener, RN_CFG_SSL_KEYSTORE_CERTIFICATE_CHAIN, &chain);
    get(cfg, listener, RN_CFG_SSL_KEYSTORE_KEY, &key);
    get(cfg, listener, RN_CFG_SSL_KEY_PASSWORD, &keypw);
    get(cfg, listener, RN_CFG_SSL_KEYSTORE_PASSWORD, &storepw);
    if (storepw.v != NULL)
        return fail(err, errlen,
                    "%s: a PEM key store has no password; give the private key's password as "
                    "ssl.key.password",
                    storepw.at);
    if (loc.v != NULL && (chain.v != NULL || key.v != NULL))
        return fail(err, errlen,
                    "%s: give either ssl.keystore.location or ssl.keystore.certificate.chain "
                    "with ssl.keystore.key, not both (%s)",
                    loc.at, chain.v != NULL ? chain.at : key.at);
    if (loc.v == NULL && (chain.v == NULL) != (key.v == NULL))
        return fail(err, errlen, "%s: needs %s too", chain.v != NULL ? chain.at : key.at,
                    chain.v != NULL ? "ssl.keystore.key" : "ssl.keystore.certificate.chain");
    if (loc.v == NULL && chain.v == NULL) {
        if (keypw.v != NULL)
            return fail(err, errlen, "%s: there is no key store (ssl.keystore.location)", keypw.at);
        if (required)
            return fail(err, errlen,
                        "%s: an SSL listener needs this node's certificate and key: set "
                        "ssl.keystore.location (or ssl.keystore.certificate.chain and "
                        "ssl.keystore.key)",
                        loc.at);
        return true;
    }
    const setting_t *cert_at = loc.v != NULL ? &loc : &chain, *key_at = loc.v != NULL ? &loc : &key;
    BIO *bio = open_pem(loc.v != NULL ? &loc : NULL, &chain, err, errlen);
    if (bio == NULL)
        return false;
    X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (cert == NULL) {
        BIO_free(bio);
        return fail(err, errlen, "%s: no PEM certificate in %s", cert_at->at,
                    loc.v != NULL ? loc.v : "the text");
    }
    int ok = SSL_CTX_use_certificate(ctx, cert);
    X509_free(cert);
    X509 *more;
    while (ok == 1 && (more = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (SSL_CTX_add0_chain_cert(ctx, more) != 1)
            X509_free(more), ok = 0;
    BIO_free(bio);
    ERR_clear_error(); /* the end of the certificates */
    if (ok != 1)
        return fail(err, errlen, "%s: OpenSSL refuses the certificate", cert_at->at);

    bio = open_pem(loc.v != NULL ? &loc : NULL, &key, err, errlen);
    if (bio == NULL)
        return false;
    password_t pw = {.v = keypw.v};
    EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, password_cb, &pw);
    BIO_free(bio);
    if (pkey == NULL) {
        if (pw.asked && pw.v == NULL)
            return fail(err, errlen,
                        "%s: the private key is encrypted; give its password as "
                        "ssl.key.password",
                        key_at->at);
        if (pw.asked)
            return fail(err, errlen, "%s: cannot decrypt the private key of %s", keypw.at,
                        key_at->at);
        return fail(err, errlen, "%s: no PEM private key in %s", key_at->at,
                    loc.v != NULL ? loc.v : "the text");
    }
    if (keypw.v != NULL && !pw.asked) {
        EVP_PKEY_free(pkey);
        return fail(err, errlen, "%s: the private key of %s is not encrypted", keypw.at,
                    key_at->at);
    }
    ok = SSL_CTX_use_PrivateKey(ctx, pkey);
    EVP_PKEY_free(pkey);
    if (ok != 1 || SSL_CTX_check_private_key(ctx) != 1)
        return fail(err, errlen, "%s: the private key does not match the certificate", key_at->at);
    return true;
}

/* The trusted CA certificates into ctx's store (and, for a server, the list of CAs sent to
 * clients so they pick a certificate those issued). *loaded tells whether there was one. */
static bool load_truststore(SSL_CTX *ctx, const rn_config_t *cfg, int listener, bool server,
                            bool *loaded, char *err, size_t errlen)
{
    setting_t loc, certs, pw;
    get(cfg, listener, RN_CFG_SSL_TRUSTSTORE_LOCATION, &loc);
    get(cfg, listener, RN_CFG_SSL_TRUSTSTORE_CERTIFICATES, &certs);
    get(cfg, listener, RN_CFG_SSL_TRUSTSTORE_PASSWORD, &pw);
    *loaded = false;
    if (pw.v != NULL)
        return fail(err, errlen, "%s: a PEM trust store has no password", pw.at);
    if (loc.v != NULL && certs.v != NULL)
        return fail(err, errlen, "%s: give either ssl.truststore.location or %s, not both", loc.at,
                    certs.at);
    if (loc.v == NULL && certs.v == NULL)
        return true;
    const setting_t *at = loc.v != NULL ? &loc : &certs;
    BIO *bio = open_pem(loc.v != NULL ? &loc : NULL, &certs, err, errlen);
    if (bio == NULL)
        return false;
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    X509 *cert;
    int n = 0;
    bool ok = true;
    while (ok && (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        ok = X509_STORE_add_cert(store, cert) == 1 && (!server || SSL_CTX_add_client_CA(ctx, cert));
        X509_free(cert);
        n++;
    }
    BIO_free(bio);
    ERR_clear_error();
    if (!ok)
        return fail(err, errlen, "%s: OpenSSL refuses certificate %d", at->at, n);
    if (n == 0)
        return fail(err, errlen, "%s: no PEM certificate in %s", at->at,
                    loc.v != NULL ? loc.v : "the text");
    *loaded = true;
    return true;
}

/* What server and client contexts share: PEM only, the versions and the cipher suites. */
static bool common_setup(SSL_CTX *ctx, const rn_config_t *cfg, int listener, char *err,
                         size_t errlen)
{
    int min = 0, max = 0;
    if (!resolve_protocols(cfg, listener, &min, &max, err, errlen) ||
        !set_ciphers(ctx, cfg, listener, &min, &max, err, errlen))
        return false;
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, max) != 1)
        return fail(err, errlen, "OpenSSL refuses TLS versions %s to %s", version_name(min),
                    version_name(max));
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    return true;
}

static bool check_host_setting(const rn_config_t *cfg, int listener, bool *check_host, char *err,
                               size_t errlen)
{
    setting_t alg;
    get(cfg, listener, RN_CFG_SSL_ENDPOINT_IDENTIFICATION_ALGORITHM, &alg);
    if (alg.v != NULL && strcasecmp(alg.v, "https") != 0)
        return fail(err, errlen, "%s: \"%s\" is not https or empty", alg.at, alg.v);
    *check_host = alg.v != NULL;
    return true;
}

SSL_CTX *rn_tls_server_ctx(const rn_config_t *cfg, int listener, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        char why[256];
        fail(err, errlen, "cannot create a TLS context: %s",
             rn_tls_last_error(why, sizeof(why), "out of memory"));
        return NULL;
    }
    setting_t auth;
    get(cfg, listener, RN_CFG_SSL_CLIENT_AUTH, &auth);
    rn_tls_client_auth_t mode = RN_TLS_AUTH_NONE;
    if (auth.v != NULL && strcmp(auth.v, "required") == 0)
        mode = RN_TLS_AUTH_REQUIRED;
    else if (auth.v != NULL && strcmp(auth.v, "requested") == 0)
        mode = RN_TLS_AUTH_REQUESTED;
    bool trusted = false, check_host;
    if (!common_setup(ctx, cfg, listener, err, errlen) ||
        !check_host_setting(cfg, listener, &check_host, err, errlen) ||
        !load_keystore(ctx, cfg, listener, true, err, errlen) ||
        !load_truststore(ctx, cfg, listener, true, &trusted, err, errlen))
        goto fail_ctx;
    if (mode != RN_TLS_AUTH_NONE && !trusted) {
        char at[400];
        rn_config_listener_str(cfg, listener, RN_CFG_SSL_TRUSTSTORE_LOCATION, at, sizeof(at));
        fail(err, errlen, "%s: ssl.client.auth=%s needs the CAs that sign client certificates", at,
             auth.v);
        goto fail_ctx;
    }
    /* requested: a certificate sent must verify, none at all is accepted (as Java's
     * wantClientAuth). */
    int verify = mode == RN_TLS_AUTH_NONE ? SSL_VERIFY_NONE : SSL_VERIFY_PEER;
    if (mode == RN_TLS_AUTH_REQUIRED)
        verify |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
    SSL_CTX_set_verify(ctx, verify, NULL);
    static const unsigned char sid[] = "runnel";
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    /* Clients send many small records (librdkafka one per buffer of a request): reading one
     * record header and body at a time cost two reads per ~2 KB. Read ahead up to
     * RN_TLS_READ_AHEAD per call instead (the connection then drains what OpenSSL holds,
     * conn.c), and give the buffers back while a connection is idle. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_default_read_buffer_len(ctx, RN_TLS_READ_AHEAD);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return ctx;

fail_ctx:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *rn_tls_client_ctx(const rn_config_t *cfg, int listener, bool *check_host, char *err,
                           size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        char why[256];
        fail(err, errlen, "cannot create a TLS context: %s",
             rn_tls_last_error(why, sizeof(why), "out of memory"));
        return NULL;
    }
    bool trusted = false;
    if (!common_setup(ctx, cfg, listener, err, errlen) ||
        !check_host_setting(cfg, listener, check_host, err, errlen) ||
        !load_keystore(ctx, cfg, listener, false, err, errlen) ||
        !load_truststore(ctx, cfg, listener, false, &trusted, err, errlen))
        goto fail_ctx;
    if (!trusted && SSL_CTX_set_default_verify_paths(ctx) != 1) {
        fail(err, errlen, "no ssl.truststore.location and no system CA certificates");
        goto fail_ctx;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;

fail_ctx:
    SSL_CTX_free(ctx);
    return NULL;
}

/* ---- principals ------------------------------------------------------------------------- */

typedef struct out {
    char *buf;
    size_t len, n;
    bool over;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
    if (o->n + n >= o->len) {
        o->over = true;
        n = o->n < o->len ? o->len - o->n - 1 : 0;
    }
    memcpy(o->buf + o->n, s, n);
    o->n += n;
    o->buf[o->n] = '\0';
}

static const char *keyword(int nid)
{
    switch (nid) {
    case NID_commonName: return "CN";
    case NID_countryName: return "C";
    case NID_localityName: return "L";
    case NID_stateOrProvinceName: return "ST";
    case NID_organizationName: return "O";
    case NID_organizationalUnitName: return "OU";
    case NID_domainComponent: return "DC";
    case NID_userId: return "UID";
    case NID_streetAddress: return "STREET";
    default: return NULL;
    }
}

static bool is_string_type(int type)
{
    switch (type) {
    case V_ASN1_PRINTABLESTRING:
    case V_ASN1_UTF8STRING:
    case V_ASN1_IA5STRING:
    case V_ASN1_T61STRING:
    case V_ASN1_BMPSTRING:
    case V_ASN1_UNIVERSALSTRING: return true;
    default: return false;
    }
}

/* A string value with RFC 2253's escapes, as Java writes them. */
static void put_escaped(out_t *o, const unsigned char *s, size_t n)
{
    size_t lead = 0, trail = n;
    while (lead < n && (s[lead] == ' ' || s[lead] == '\r'))
        lead++;
    while (trail > lead && (s[trail - 1] == ' ' || s[trail - 1] == '\r'))
        trail--;
    for (size_t i = 0; i < n; i++) {
        char c = (char)s[i];
        if (c == '\0') {
            put(o, "\\00", 3);
            continue;
        }
        if (strchr(",=+<>#;\"\\", c) != NULL || i < lead || i >= trail)
            put(o, "\\", 1);
        put(o, &c, 1);
    }
}

/* '#' and the value's DER in hex, for attributes without a keyword. */
static void put_der_hex(out_t *o, const ASN1_STRING *v)
{
    ASN1_TYPE *t = ASN1_TYPE_new();
    unsigned char *der = NULL;
    int n = -1;
    if (t != NULL && ASN1_TYPE_set1(t, ASN1_STRING_type(v), v) == 1)
        n = i2d_ASN1_TYPE(t, &der);
    ASN1_TYPE_free(t);
    put(o, "#", 1);
    for (int i = 0; i < n; i++) {
        char hex[3];
        snprintf(hex, sizeof(hex), "%02x", der[i]);
        put(o, hex, 2);
    }
    OPENSSL_free(der);
    if (n < 0)
        o->over = true;
}

static void put_entry(out_t *o, const X509_NAME_ENTRY *ent)
{
    const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(ent);
    const ASN1_STRING *v = X509_NAME_ENTRY_get_data(ent);
    const char *kw = keyword(OBJ_obj2nid(obj));
    char oid[128];
    if (kw == NULL) {
        if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
            snprintf(oid, sizeof(oid), "?");
        kw = oid;
    }
    put(o, kw, strlen(kw));
    put(o, "=", 1);
    unsigned char *utf8 = NULL;
    int n;
    if (kw != oid && is_string_type(ASN1_STRING_type(v)) &&
        (n = ASN1_STRING_to_UTF8(&utf8, v)) >= 0) {
        put_escaped(o, utf8, (size_t)n);
        OPENSSL_free(utf8);
    } else {
        put_der_hex(o, v);
    }
}

int rn_tls_name_rfc2253(const X509_NAME *name, char *buf, size_t len)
{
    out_t o = {.buf = buf, .len = len};
    if (len == 0)
        return -1;
    buf[0] = '\0';
    /* RDNs last to first; the values of one multi-valued RDN in their own order. */
    int i = X509_NAME_entry_count(name) - 1;
    while (i >= 0) {
        int set = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, i)), first = i;
        while (first > 0 && X509_NAME_ENTRY_set(X509_NAME_get_entry(name, first - 1)) == set)
            first--;
        if (o.n > 0)
            put(&o, ",", 1);
        for (int j = first; j <= i; j++) {
            if (j > first)
                put(&o, "+", 1);
            put_entry(&o, X509_NAME_get_entry(name, j));
        }
        i = first - 1;
    }
    return o.over ? -1 : (int)o.n;
}

bool rn_tls_principal(SSL *ssl, char *buf, size_t len)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (cert == NULL || SSL_get_verify_result(ssl) != X509_V_OK || len < 6)
        return false;
    char name[1024];
    if (rn_tls_name_rfc2253(X509_get_subject_name(cert), name, sizeof(name)) < 0)
        return false;
    int n = snprintf(buf, len, "User:%s", name);
    return n > 0 && (size_t)n < len;
}
