/* rn_sasl: PLAIN and SCRAM-SHA-256/512 messages and credentials (rn_sasl.h). The crypto is
 * OpenSSL's libcrypto (PBKDF2, HMAC, digests, RAND_bytes, CRYPTO_memcmp). */
#include "rn_sasl.h"

#include "rn_err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static const EVP_MD *mech_md(int mech)
{
    switch (mech) {
    case RN_SCRAM_SHA_256: return EVP_sha256();
    case RN_SCRAM_SHA_512: return EVP_sha512();
    default: return NULL;
    }
}

const char *rn_scram_mech_name(int mech)
{
    switch (mech) {
    case RN_SCRAM_SHA_256: return "SCRAM-SHA-256";
    case RN_SCRAM_SHA_512: return "SCRAM-SHA-512";
    default: return NULL;
    }
}

int rn_scram_mech_by_name(const char *name, size_t len)
{
    for (int m = RN_SCRAM_SHA_256; m <= RN_SCRAM_SHA_512; m++) {
        const char *n = rn_scram_mech_name(m);
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return m;
    }
    return RN_SCRAM_UNKNOWN;
}

size_t rn_scram_key_len(int mech)
{
    return mech == RN_SCRAM_SHA_256 ? 32 : mech == RN_SCRAM_SHA_512 ? 64 : 0;
}

int rn_sasl_random(uint8_t *buf, size_t n)
{
    return RAND_bytes(buf, (int)n) == 1 ? 0 : RN_EIO;
}

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

long rn_sasl_b64_encode(const uint8_t *in, size_t len, char *out, size_t cap)
{
    size_t need = (len + 2) / 3 * 4;
    if (need + 1 > cap)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return (long)o;
}

static int b64_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long rn_sasl_b64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
    if (len % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int pad = 0;
        uint32_t v = 0;
        for (int k = 0; k < 4; k++) {
            char c = in[i + k];
            int d;
            if (c == '=' && i + 4 == len && k >= 2) {
                pad++;
                d = 0;
            } else if (pad > 0 || (d = b64_val(c)) < 0) {
                return -1;
            }
            v = v << 6 | (uint32_t)d;
        }
        size_t n = 3 - (size_t)pad;
        if (o + n > cap)
            return -1;
        out[o++] = (uint8_t)(v >> 16);
        if (n > 1)
            out[o++] = (uint8_t)(v >> 8);
        if (n > 2)
            out[o++] = (uint8_t)v;
    }
    return (long)o;
}

/* ---- credentials ---- */

static void hmac(int mech, const uint8_t *key, size_t klen, const void *msg, size_t mlen,
                 uint8_t *out)
{
    unsigned int olen = 0;
    HMAC(mech_md(mech), key, (int)klen, msg, mlen, out, &olen);
}

static void digest(int mech, const uint8_t *in, size_t len, uint8_t *out)
{
    unsigned int olen = 0;
    EVP_Digest(in, len, out, &olen, mech_md(mech), NULL);
}

int rn_scram_salted_password(int mech, const char *password, size_t pwlen, const uint8_t *salt,
                             size_t salt_len, int32_t iterations, uint8_t *out)
{
    if (mech_md(mech) == NULL || salt_len > RN_SCRAM_SALT_MAX || iterations < 1)
        return RN_EINVAL;
    if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)salt_len, iterations, mech_md(mech),
                          (int)rn_scram_key_len(mech), out) != 1)
        return RN_EINVAL;
    return 0;
}

int rn_scram_cred_from_salted(int mech, const uint8_t *salted, size_t salted_len,
                              const uint8_t *salt, size_t salt_len, int32_t iterations,
                              rn_scram_cred_t *cred)
{
    size_t klen = rn_scram_key_len(mech);
    if (klen == 0 || salt_len > RN_SCRAM_SALT_MAX)
        return RN_EINVAL;
    memset(cred, 0, sizeof(*cred));
    cred->mech = mech;
    cred->iterations = iterations;
    if (salt_len > 0)
        memcpy(cred->salt, salt, salt_len);
    cred->salt_len = salt_len;
    uint8_t client_key[RN_SCRAM_KEY_MAX];
    hmac(mech, salted, salted_len, "Client Key", 10, client_key);
    digest(mech, client_key, klen, cred->stored_key);
    hmac(mech, salted, salted_len, "Server Key", 10, cred->server_key);
    OPENSSL_cleanse(client_key, sizeof(client_key));
    return 0;
}

int rn_scram_cred_new(int mech, const char *password, size_t pwlen, int32_t iterations,
                      rn_scram_cred_t *cred, uint8_t *salted_out)
{
    uint8_t salt[32], salted[RN_SCRAM_KEY_MAX];
    if (rn_sasl_random(salt, sizeof(salt)) != 0)
        return RN_EIO;
    int rc =
        rn_scram_salted_password(mech, password, pwlen, salt, sizeof(salt), iterations, salted);
    if (rc == 0)
        rc = rn_scram_cred_from_salted(mech, salted, rn_scram_key_len(mech), salt, sizeof(salt),
                                       iterations, cred);
    if (rc == 0 && salted_out != NULL)
        memcpy(salted_out, salted, rn_scram_key_len(mech));
    OPENSSL_cleanse(salted, sizeof(salted));
    return rc;
}

bool rn_scram_cred_check_password(const rn_scram_cred_t *cred, const char *password, size_t pwlen)
{
    uint8_t salted[RN_SCRAM_KEY_MAX];
    rn_scram_cred_t probe;
    size_t klen = rn_scram_key_len(cred->mech);
    if (rn_scram_salted_password(cred->mech, password, pwlen, cred->salt, cred->salt_len,
                                 cred->iterations, salted) != 0 ||
        rn_scram_cred_from_salted(cred->mech, salted, klen, cred->salt, cred->salt_len,
                                  cred->iterations, &probe) != 0)
        return false;
    OPENSSL_cleanse(salted, sizeof(salted));
    bool ok = CRYPTO_memcmp(probe.stored_key, cred->stored_key, klen) == 0;
    OPENSSL_cleanse(&probe, sizeof(probe));
    return ok;
}

/* ---- JAAS ---- */

/* The value of key="..." in jaas into out[cap] (no escapes, as Kafka's parser for these two
 * options needs none). */
static int jaas_value(const char *jaas, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = jaas; (p = strstr(p, key)) != NULL; p += kl) {
        bool word_start = p == jaas || p[-1] == ' ' || p[-1] == '\t' || p[-1] == '\n';
        const char *q = p + kl;
        while (*q == ' ')
            q++;
        if (!word_start || *q != '=')
            continue;
        q++;
        while (*q == ' ')
            q++;
        if (*q != '"')
            return RN_EINVAL;
        const char *end = strchr(q + 1, '"');
        if (end == NULL || (size_t)(end - q - 1) >= cap)
            return RN_EINVAL;
        snprintf(out, cap, "%.*s", (int)(end - q - 1), q + 1);
        return 0;
    }
    return RN_EINVAL;
}

int rn_sasl_jaas_parse(const char *jaas, char *user, size_t ucap, char *password, size_t pcap)
{
    if (jaas == NULL || strstr(jaas, "required") == NULL)
        return RN_EINVAL;
    if (jaas_value(jaas, "username", user, ucap) != 0 || user[0] == '\0' ||
        jaas_value(jaas, "password", password, pcap) != 0)
        return RN_EINVAL;
    return 0;
}

/* ---- PLAIN ---- */

int rn_sasl_plain_parse(const uint8_t *msg, size_t len, rn_sasl_plain_t *out, const char **why)
{
    const uint8_t *nul1 = memchr(msg, 0, len);
    const uint8_t *nul2 = nul1 != NULL ? memchr(nul1 + 1, 0, len - (size_t)(nul1 + 1 - msg)) : NULL;
    if (nul2 == NULL || memchr(nul2 + 1, 0, len - (size_t)(nul2 + 1 - msg)) != NULL) {
        *why = "Invalid SASL/PLAIN response: expected 3 tokens";
        return RN_SASL_BAD;
    }
    size_t zlen = (size_t)(nul1 - msg), ulen = (size_t)(nul2 - nul1 - 1);
    out->password = (const char *)nul2 + 1;
    out->pwlen = len - (size_t)(nul2 + 1 - msg);
    if (ulen == 0) {
        *why = "Authentication failed: username not specified";
        return RN_SASL_BAD;
    }
    if (out->pwlen == 0) {
        *why = "Authentication failed: password not specified";
        return RN_SASL_BAD;
    }
    if (ulen >= RN_SASL_USER_MAX) {
        *why = "Authentication failed: Invalid username or password";
        return RN_SASL_FAIL;
    }
    memcpy(out->user, nul1 + 1, ulen);
    out->user[ulen] = '\0';
    if (zlen > 0 && (zlen != ulen || memcmp(msg, out->user, ulen) != 0)) {
        *why = "Authentication failed: Client requested an authorization id that is different "
               "from username";
        return RN_SASL_FAIL;
    }
    return RN_SASL_OK;
}

long rn_sasl_plain_token(const char *user, const char *password, uint8_t *out, size_t cap)
{
    size_t ul = strlen(user), pl = strlen(password);
    if (ul + pl + 2 > cap)
        return -1;
    out[0] = 0;
    memcpy(out + 1, user, ul);
    out[1 + ul] = 0;
    memcpy(out + 2 + ul, password, pl);
    return (long)(ul + pl + 2);
}

/* ---- SCRAM message pieces ---- */

/* A cursor over one message: attributes "k=value" separated by ','. */
typedef struct attr_rd {
    const char *p, *end;
} attr_rd_t;

/* The next attribute named k: its value in *v and *vlen. False when the next attribute is not k
 * or the message ended. */
static bool attr_take(attr_rd_t *r, char k, const char **v, size_t *vlen)
{
    if (r->end - r->p < 2 || r->p[0] != k || r->p[1] != '=')
        return false;
    const char *s = r->p + 2;
    const char *comma = memchr(s, ',', (size_t)(r->end - s));
    const char *e = comma != NULL ? comma : r->end;
    *v = s;
    *vlen = (size_t)(e - s);
    r->p = comma != NULL ? comma + 1 : r->end;
    return true;
}

/* saslname (RFC 5802: "=2C" for ',' and "=3D" for '=') decoded into out[cap]. */
static bool saslname_decode(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '=') {
            if (len - i < 3)
                return false;
            if (s[i + 1] == '2' && s[i + 2] == 'C')
                c = ',';
            else if (s[i + 1] == '3' && s[i + 2] == 'D')
                c = '=';
            else
                return false;
            i += 2;
        } else if (c == ',' || c == '\0') {
            return false;
        }
        if (o + 1 >= cap)
            return false;
        out[o++] = c;
    }
    out[o] = '\0';
    return o > 0;
}

static void saslname_encode(const char *user, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = user; *p != '\0' && o + 4 < cap; p++) {
        if (*p == ',' || *p == '=') {
            memcpy(out + o, *p == ',' ? "=2C" : "=3D", 3);
            o += 3;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* RFC 5802 printable: 0x21-0x7E except ','. */
static bool nonce_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == ',')
            return false;
    return true;
}

/* Optional extensions after the nonce: "k=v" pairs. Only tokenauth means something to Kafka
 * (delegation tokens, which runnel does not have). */
static int extensions_check(attr_rd_t *r, const char **why)
{
    while (r->p < r->end) {
        const char *eq = memchr(r->p, '=', (size_t)(r->end - r->p));
        const char *comma = memchr(r->p, ',', (size_t)(r->end - r->p));
        const char *e = comma != NULL ? comma : r->end;
        if (eq == NULL || eq > e || eq == r->p) {
            *why = "Authentication failed: Invalid SCRAM client first message";
            return RN_SASL_BAD;
        }
        if ((size_t)(eq - r->p) == 9 && memcmp(r->p, "tokenauth", 9) == 0) {
            *why = "Authentication failed: delegation tokens are not supported";
            return RN_SASL_FAIL;
        }
        r->p = comma != NULL ? comma + 1 : r->end;
    }
    return RN_SASL_OK;
}

/* ---- SCRAM server ---- */

void rn_scram_server_init(rn_scram_server_t *s, int mech)
{
    memset(s, 0, sizeof(*s));
    s->mech = mech;
    s->state = RN_SCRAM_S_FIRST;
}

int rn_scram_server_client_first(rn_scram_server_t *s, const uint8_t *msg, size_t len,
                                 const char **why)
{
    *why = "Authentication failed: Invalid SCRAM client first message";
    if (s->state != RN_SCRAM_S_FIRST || len >= RN_SASL_MSG_MAX || memchr(msg, 0, len) != NULL)
        return s->state = RN_SCRAM_S_FAILED, RN_SASL_BAD;
    s->state = RN_SCRAM_S_FAILED; /* until it parses */
    const char *m = (const char *)msg, *end = m + len;
    /* gs2-header: cbind flag ('n' or 'y'; 'p' asks for channel binding we do not offer),
     * ',', optional "a=authzid", ','. */
    if (len < 3 || (m[0] != 'n' && m[0] != 'y') || m[1] != ',')
        return RN_SASL_BAD;
    attr_rd_t r = {m + 2, end};
    const char *authz = NULL, *v;
    size_t authz_len = 0, vlen;
    if (r.p < end && *r.p == 'a') {
        if (!attr_take(&r, 'a', &authz, &authz_len))
            return RN_SASL_BAD;
    } else if (r.p < end && *r.p == ',') {
        r.p++;
    } else {
        return RN_SASL_BAD;
    }
    size_t gs2_len = (size_t)(r.p - m);
    const char *bare = r.p;
    if (!attr_take(&r, 'n', &v, &vlen) || !saslname_decode(v, vlen, s->user, sizeof(s->user)))
        return RN_SASL_BAD;
    if (!attr_take(&r, 'r', &v, &vlen) || !nonce_ok(v, vlen))
        return RN_SASL_BAD;
    const char *cnonce = v;
    size_t cnonce_len = vlen;
    int rc = extensions_check(&r, why);
    if (rc != RN_SASL_OK)
        return rc;
    if (authz != NULL) {
        char az[RN_SASL_USER_MAX];
        if (!saslname_decode(authz, authz_len, az, sizeof(az)) || strcmp(az, s->user) != 0) {
            *why = "Authentication failed: Client requested an authorization id that is "
                   "different from username";
            return RN_SASL_FAIL;
        }
    }
    if (gs2_len >= sizeof(s->gs2) || cnonce_len + 48 >= sizeof(s->nonce))
        return RN_SASL_BAD;
    memcpy(s->gs2, m, gs2_len);
    s->gs2[gs2_len] = '\0';
    memcpy(s->client_first_bare, bare, (size_t)(end - bare));
    s->client_first_bare[end - bare] = '\0';
    memcpy(s->nonce, cnonce, cnonce_len);
    s->nonce[cnonce_len] = '\0';
    s->state = RN_SCRAM_S_FIRST; /* waiting for the credential */
    return RN_SASL_OK;
}

long rn_scram_server_first(rn_scram_server_t *s, const rn_scram_cred_t *cred, char *out, size_t cap)
{
    /* Letters and digits only, as Kafka's own nonces. */
    uint8_t rnd[32];
    char nonce[sizeof(rnd) + 1];
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (rn_sasl_random(rnd, sizeof(rnd)) != 0)
        return s->state = RN_SCRAM_S_FAILED, RN_SASL_FAIL;
    for (size_t i = 0; i < sizeof(rnd); i++)
        nonce[i] = alnum[rnd[i] % 62];
    nonce[sizeof(rnd)] = '\0';
    return rn__scram_server_first_nonce(s, cred, nonce, out, cap);
}

long rn__scram_server_first_nonce(rn_scram_server_t *s, const rn_scram_cred_t *cred,
                                  const char *snonce, char *out, size_t cap)
{
    char salt64[RN_SCRAM_SALT_MAX * 2];
    if (s->state != RN_SCRAM_S_FIRST || s->client_first_bare[0] == '\0' || cred->mech != s->mech ||
        strlen(s->nonce) + strlen(snonce) >= sizeof(s->nonce))
        return s->state = RN_SCRAM_S_FAILED, RN_SASL_FAIL;
    size_t nl = strlen(s->nonce);
    snprintf(s->nonce + nl, sizeof(s->nonce) - nl, "%s", snonce);
    rn_sasl_b64_encode(cred->salt, cred->salt_len, salt64, sizeof(salt64));
    int n = snprintf(s->server_first, sizeof(s->server_first), "r=%s,s=%s,i=%d", s->nonce, salt64,
                     (int)cred->iterations);
    if (n < 0 || (size_t)n >= sizeof(s->server_first) || (size_t)n >= cap)
        return s->state = RN_SCRAM_S_FAILED, RN_SASL_FAIL;
    s->cred = *cred;
    memcpy(out, s->server_first, (size_t)n + 1);
    s->state = RN_SCRAM_S_FINAL;
    return n;
}

int rn_scram_server_client_final(rn_scram_server_t *s, const uint8_t *msg, size_t len, char *out,
                                 size_t cap, size_t *outlen, const char **why)
{
    *why = "Authentication failed: Invalid client final message";
    if (s->state != RN_SCRAM_S_FINAL || len >= RN_SASL_MSG_MAX || memchr(msg, 0, len) != NULL)
        return s->state = RN_SCRAM_S_FAILED, RN_SASL_BAD;
    s->state = RN_SCRAM_S_FAILED;
    const char *m = (const char *)msg, *end = m + len;
    attr_rd_t r = {m, end};
    const char *v;
    size_t vlen;
    char gs2[sizeof(s->gs2)];
    long gl;
    if (!attr_take(&r, 'c', &v, &vlen) ||
        (gl = rn_sasl_b64_decode(v, vlen, (uint8_t *)gs2, sizeof(gs2) - 1)) < 0 ||
        (size_t)gl != strlen(s->gs2) || memcmp(gs2, s->gs2, (size_t)gl) != 0)
        return RN_SASL_BAD;
    if (!attr_take(&r, 'r', &v, &vlen))
        return RN_SASL_BAD;
    /* The nonce must end with ours, as Kafka checks it: librdkafka before 2.1 sends its own
     * nonce in front of the whole combined one. */
    size_t nl = strlen(s->nonce);
    if (vlen < nl || memcmp(v + vlen - nl, s->nonce, nl) != 0) {
        *why = "Authentication failed: Invalid client nonce in the final client message.";
        return RN_SASL_FAIL;
    }
    /* Extensions may sit between r= and the proof, which comes last. */
    const char *proof_at = NULL;
    for (const char *p = r.p; p + 2 <= end; p++)
        if ((p == m || p[-1] == ',') && p[0] == 'p' && p[1] == '=')
            proof_at = p;
    if (proof_at == NULL || proof_at == m)
        return RN_SASL_BAD;
    size_t without_proof = (size_t)(proof_at - 1 - m);
    size_t klen = rn_scram_key_len(s->mech);
    uint8_t proof[RN_SCRAM_KEY_MAX + 3];
    long pl = rn_sasl_b64_decode(proof_at + 2, (size_t)(end - proof_at - 2), proof, sizeof(proof));
    if (pl != (long)klen)
        return RN_SASL_BAD;

    char auth[3 * RN_SASL_MSG_MAX];
    int al = snprintf(auth, sizeof(auth), "%s,%s,%.*s", s->client_first_bare, s->server_first,
                      (int)without_proof, m);
    if (al < 0 || (size_t)al >= sizeof(auth))
        return RN_SASL_BAD;
    uint8_t client_sig[RN_SCRAM_KEY_MAX], client_key[RN_SCRAM_KEY_MAX], stored[RN_SCRAM_KEY_MAX];
    hmac(s->mech, s->cred.stored_key, klen, auth, (size_t)al, client_sig);
    for (size_t i = 0; i < klen; i++)
        client_key[i] = proof[i] ^ client_sig[i];
    digest(s->mech, client_key, klen, stored);
    bool ok = CRYPTO_memcmp(stored, s->cred.stored_key, klen) == 0;
    OPENSSL_cleanse(client_key, sizeof(client_key));
    if (!ok) {
        *why = "Authentication failed: Invalid client proof";
        return RN_SASL_FAIL;
    }
    uint8_t server_sig[RN_SCRAM_KEY_MAX];
    hmac(s->mech, s->cred.server_key, klen, auth, (size_t)al, server_sig);
    char sig64[RN_SCRAM_KEY_MAX * 2];
    rn_sasl_b64_encode(server_sig, klen, sig64, sizeof(sig64));
    int n = snprintf(out, cap, "v=%s", sig64);
    if (n < 0 || (size_t)n >= cap)
        return RN_SASL_FAIL;
    *outlen = (size_t)n;
    s->state = RN_SCRAM_S_DONE;
    return RN_SASL_DONE;
}

/* ---- SCRAM client ---- */

long rn_scram_client_first(rn_scram_client_t *c, int mech, const char *user, const char *password,
                           char *out, size_t cap)
{
    uint8_t rnd[24];
    char cnonce[sizeof(rnd) + 1];
    static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (rn_sasl_random(rnd, sizeof(rnd)) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(rnd); i++)
        cnonce[i] = alnum[rnd[i] % 62];
    cnonce[sizeof(rnd)] = '\0';
    return rn__scram_client_first_nonce(c, mech, user, password, cnonce, out, cap);
}

long rn__scram_client_first_nonce(rn_scram_client_t *c, int mech, const char *user,
                                  const char *password, const char *cnonce, char *out, size_t cap)
{
    memset(c, 0, sizeof(*c));
    c->mech = mech;
    char name[RN_SASL_USER_MAX * 3];
    if (rn_scram_key_len(mech) == 0 || strlen(password) >= sizeof(c->password) ||
        strlen(user) >= RN_SASL_USER_MAX || strlen(cnonce) >= sizeof(c->cnonce))
        return -1;
    snprintf(c->password, sizeof(c->password), "%s", password);
    snprintf(c->cnonce, sizeof(c->cnonce), "%s", cnonce);
    saslname_encode(user, name, sizeof(name));
    int n =
        snprintf(c->client_first_bare, sizeof(c->client_first_bare), "n=%s,r=%s", name, c->cnonce);
    if (n < 0 || (size_t)n >= sizeof(c->client_first_bare))
        return -1;
    n = snprintf(out, cap, "n,,%s", c->client_first_bare);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    c->state = 1;
    return n;
}

long rn_scram_client_final(rn_scram_client_t *c, const uint8_t *msg, size_t len, char *out,
                           size_t cap)
{
    if (c->state != 1 || len >= RN_SASL_MSG_MAX || memchr(msg, 0, len) != NULL)
        return RN_SASL_BAD;
    c->state = -1;
    const char *m = (const char *)msg;
    attr_rd_t r = {m, m + len};
    const char *nonce, *salt64, *iter;
    size_t nlen, slen, ilen;
    if (!attr_take(&r, 'r', &nonce, &nlen) || !attr_take(&r, 's', &salt64, &slen) ||
        !attr_take(&r, 'i', &iter, &ilen) || ilen == 0 || ilen > 9)
        return RN_SASL_BAD;
    size_t cl = strlen(c->cnonce);
    if (nlen <= cl || memcmp(nonce, c->cnonce, cl) != 0 || !nonce_ok(nonce, nlen))
        return RN_SASL_FAIL;
    int32_t iterations = 0;
    for (size_t i = 0; i < ilen; i++) {
        if (iter[i] < '0' || iter[i] > '9')
            return RN_SASL_BAD;
        iterations = iterations * 10 + (iter[i] - '0');
    }
    if (iterations < RN_SCRAM_MIN_ITERATIONS)
        return RN_SASL_FAIL;
    uint8_t salt[RN_SCRAM_SALT_MAX], salted[RN_SCRAM_KEY_MAX];
    long sl = rn_sasl_b64_decode(salt64, slen, salt, sizeof(salt));
    if (sl < 0)
        return RN_SASL_BAD;
    rn_scram_cred_t cred;
    size_t klen = rn_scram_key_len(c->mech);
    if (rn_scram_salted_password(c->mech, c->password, strlen(c->password), salt, (size_t)sl,
                                 iterations, salted) != 0 ||
        rn_scram_cred_from_salted(c->mech, salted, klen, salt, (size_t)sl, iterations, &cred) != 0)
        return RN_SASL_FAIL;
    char without_proof[RN_SASL_MSG_MAX];
    int wl = snprintf(without_proof, sizeof(without_proof), "c=biws,r=%.*s", (int)nlen, nonce);
    char auth[3 * RN_SASL_MSG_MAX];
    int al = snprintf(auth, sizeof(auth), "%s,%.*s,%s", c->client_first_bare, (int)len, m,
                      without_proof);
    if (wl < 0 || (size_t)wl >= sizeof(without_proof) || al < 0 || (size_t)al >= sizeof(auth))
        return RN_SASL_BAD;
    uint8_t client_key[RN_SCRAM_KEY_MAX], client_sig[RN_SCRAM_KEY_MAX], proof[RN_SCRAM_KEY_MAX];
    hmac(c->mech, salted, klen, "Client Key", 10, client_key);
    hmac(c->mech, cred.stored_key, klen, auth, (size_t)al, client_sig);
    for (size_t i = 0; i < klen; i++)
        proof[i] = client_key[i] ^ client_sig[i];
    hmac(c->mech, cred.server_key, klen, auth, (size_t)al, c->server_sig);
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(client_key, sizeof(client_key));
    char proof64[RN_SCRAM_KEY_MAX * 2];
    rn_sasl_b64_encode(proof, klen, proof64, sizeof(proof64));
    int n = snprintf(out, cap, "%s,p=%s", without_proof, proof64);
    if (n < 0 || (size_t)n >= cap)
        return RN_SASL_BAD;
    c->state = 2;
    return n;
}

int rn_scram_client_verify(rn_scram_client_t *c, const uint8_t *msg, size_t len)
{
    if (c->state != 2)
        return RN_SASL_BAD;
    c->state = -1;
    size_t klen = rn_scram_key_len(c->mech);
    uint8_t sig[RN_SCRAM_KEY_MAX + 3];
    if (len < 2 || msg[0] != 'v' || msg[1] != '=')
        return RN_SASL_FAIL; /* "e=..." or garbage */
    long sl = rn_sasl_b64_decode((const char *)msg + 2, len - 2, sig, sizeof(sig));
    if (sl != (long)klen || CRYPTO_memcmp(sig, c->server_sig, klen) != 0)
        return RN_SASL_FAIL;
    OPENSSL_cleanse(c->password, sizeof(c->password));
    c->state = 3;
    return RN_SASL_DONE;
}
