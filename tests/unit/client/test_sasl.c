/* Tests for PLAIN and SCRAM (client/rn_sasl.h): the RFC 7677 SCRAM-SHA-256 exchange byte for
 * byte, both sides against each other for SHA-256 and SHA-512, wrong passwords and proofs,
 * malformed messages, saslname escapes, PLAIN's three tokens, base64. */
#include "rn_sasl.h"
#include "tap.h"

#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <string.h>

#define U8(s) (const uint8_t *)(s), strlen(s)

/* RFC 7677 section 3 (user "user", password "pencil"). */
static const char *rfc_c1 = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
static const char *rfc_s1 = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                            "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
static const char *rfc_c2 = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                            "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
static const char *rfc_s2 = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
static const char *rfc_snonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

static void rfc_cred(rn_scram_cred_t *cred)
{
    uint8_t salt[32], salted[64];
    long sl = rn_sasl_b64_decode("W22ZaJ0SNY7soEsUEjb6gQ==", 24, salt, sizeof(salt));
    rn_scram_salted_password(RN_SCRAM_SHA_256, "pencil", 6, salt, (size_t)sl, 4096, salted);
    rn_scram_cred_from_salted(RN_SCRAM_SHA_256, salted, 32, salt, (size_t)sl, 4096, cred);
}

static void test_rfc7677_server(void)
{
    rn_scram_cred_t cred;
    rfc_cred(&cred);
    rn_scram_server_t s;
    const char *why = NULL;
    char out[RN_SASL_MSG_MAX];
    size_t outlen = 0;
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    is(rn_scram_server_client_first(&s, U8(rfc_c1), &why), RN_SASL_OK, "rfc: client-first parses");
    is_str(s.user, "user", "rfc: user");
    long n = rn__scram_server_first_nonce(&s, &cred, rfc_snonce, out, sizeof(out));
    ok(n > 0, "rfc: server-first built");
    is_str(out, rfc_s1, "rfc: server-first as the RFC");
    is(rn_scram_server_client_final(&s, U8(rfc_c2), out, sizeof(out), &outlen, &why), RN_SASL_DONE,
       "rfc: proof accepted");
    is_str(out, rfc_s2, "rfc: server-final as the RFC");

    /* The same exchange with one proof byte changed. */
    char bad[256];
    snprintf(bad, sizeof(bad), "%s", rfc_c2);
    bad[strlen(bad) - 3] = bad[strlen(bad) - 3] == 'Q' ? 'R' : 'Q';
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    rn_scram_server_client_first(&s, U8(rfc_c1), &why);
    rn__scram_server_first_nonce(&s, &cred, rfc_snonce, out, sizeof(out));
    is(rn_scram_server_client_final(&s, U8(bad), out, sizeof(out), &outlen, &why), RN_SASL_FAIL,
       "rfc: altered proof refused");
    is_str(why, "Authentication failed: Invalid client proof", "rfc: why");
    is(s.state, RN_SCRAM_S_FAILED, "rfc: state failed");
}

static void test_rfc7677_client(void)
{
    rn_scram_client_t c;
    char out[RN_SASL_MSG_MAX];
    long n = rn__scram_client_first_nonce(&c, RN_SCRAM_SHA_256, "user", "pencil",
                                          "rOprNGfwEbeRWgbNEkqO", out, sizeof(out));
    ok(n > 0, "client: first built");
    is_str(out, rfc_c1, "client: first as the RFC");
    n = rn_scram_client_final(&c, U8(rfc_s1), out, sizeof(out));
    ok(n > 0, "client: final built");
    is_str(out, rfc_c2, "client: final (proof) as the RFC");
    is(rn_scram_client_verify(&c, U8(rfc_s2)), RN_SASL_DONE, "client: server signature checks");
    rn__scram_client_first_nonce(&c, RN_SCRAM_SHA_256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO",
                                 out, sizeof(out));
    rn_scram_client_final(&c, U8(rfc_s1), out, sizeof(out));
    is(rn_scram_client_verify(&c, U8("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
       RN_SASL_FAIL, "client: a wrong server signature is refused");
}

/* A whole exchange between our client and our server. */
static int exchange(int mech, const char *user, const char *password, const char *stored_pw)
{
    rn_scram_cred_t cred;
    if (rn_scram_cred_new(mech, stored_pw, strlen(stored_pw), 4096, &cred, NULL) != 0)
        return -100;
    rn_scram_client_t c;
    rn_scram_server_t s;
    char m1[RN_SASL_MSG_MAX], m2[RN_SASL_MSG_MAX], m3[RN_SASL_MSG_MAX], m4[RN_SASL_MSG_MAX];
    const char *why;
    size_t l4;
    long l1 = rn_scram_client_first(&c, mech, user, password, m1, sizeof(m1));
    rn_scram_server_init(&s, mech);
    int rc = rn_scram_server_client_first(&s, (uint8_t *)m1, (size_t)l1, &why);
    if (rc != RN_SASL_OK || strcmp(s.user, user) != 0)
        return -101;
    long l2 = rn_scram_server_first(&s, &cred, m2, sizeof(m2));
    long l3 = rn_scram_client_final(&c, (uint8_t *)m2, (size_t)l2, m3, sizeof(m3));
    if (l3 < 0)
        return -102;
    rc = rn_scram_server_client_final(&s, (uint8_t *)m3, (size_t)l3, m4, sizeof(m4), &l4, &why);
    if (rc != RN_SASL_DONE)
        return rc;
    return rn_scram_client_verify(&c, (uint8_t *)m4, l4);
}

static void test_roundtrips(void)
{
    is(exchange(RN_SCRAM_SHA_256, "alice", "secret", "secret"), RN_SASL_DONE, "sha-256 login");
    is(exchange(RN_SCRAM_SHA_512, "alice", "secret", "secret"), RN_SASL_DONE, "sha-512 login");
    is(exchange(RN_SCRAM_SHA_512, "a,b=c", "pw", "pw"), RN_SASL_DONE, "escaped user name");
    is(exchange(RN_SCRAM_SHA_512, "alice", "wrong", "secret"), RN_SASL_FAIL, "sha-512 wrong pw");
    is(exchange(RN_SCRAM_SHA_256, "alice", "", "secret"), RN_SASL_FAIL, "empty pw");

    rn_scram_cred_t cred;
    rn_scram_cred_new(RN_SCRAM_SHA_512, "hunter2", 7, 4096, &cred, NULL);
    ok(rn_scram_cred_check_password(&cred, "hunter2", 7), "plain check: right password");
    ok(!rn_scram_cred_check_password(&cred, "hunter3", 7), "plain check: wrong password");
    ok(!rn_scram_cred_check_password(&cred, "hunter", 6), "plain check: prefix");
}

static void test_malformed(void)
{
    static const char *bad_first[] = {
        "",
        "n",
        "n,,",
        "x,,n=u,r=abc",
        "p=tls-unique,,n=u,r=abc",
        "n,,r=abc",
        "n,,n=u",
        "n,,n=,r=abc",
        "n,,n=u=2,r=x",
        "n,,n=u=41,r=x",
        "n,,n=u,r=",
        "n,,n=u,r=a b",
        "n,,n=u,r=x,bad",
        "n,x,n=u,r=abc",
    };
    for (size_t i = 0; i < sizeof(bad_first) / sizeof(bad_first[0]); i++) {
        rn_scram_server_t s;
        const char *why;
        rn_scram_server_init(&s, RN_SCRAM_SHA_256);
        is(rn_scram_server_client_first(&s, U8(bad_first[i]), &why), RN_SASL_BAD,
           "client-first refused: \"%s\"", bad_first[i]);
    }
    rn_scram_server_t s;
    const char *why;
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    is(rn_scram_server_client_first(&s, U8("n,a=bob,n=alice,r=abc"), &why), RN_SASL_FAIL,
       "authzid other than the user refused");
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    is(rn_scram_server_client_first(&s, U8("n,a=alice,n=alice,r=abc"), &why), RN_SASL_OK,
       "authzid equal to the user accepted");
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    is(rn_scram_server_client_first(&s, U8("n,,n=alice,r=abc,tokenauth=true"), &why), RN_SASL_FAIL,
       "delegation token extension refused");
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    is(rn_scram_server_client_first(&s, U8("y,,n=a=2Cb=3D,r=abc,ext=1"), &why), RN_SASL_OK,
       "y flag and an extension accepted");
    is_str(s.user, "a,b=", "saslname decoded");

    /* client-final before server-first, and wrong pieces after it. */
    rn_scram_cred_t cred;
    rfc_cred(&cred);
    char out[RN_SASL_MSG_MAX];
    size_t outlen;
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    is(rn_scram_server_client_final(&s, U8(rfc_c2), out, sizeof(out), &outlen, &why), RN_SASL_BAD,
       "client-final out of turn");
    static const char *bad_final[] = {
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=!!!",
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=AAAA",
    };
    for (size_t i = 0; i < sizeof(bad_final) / sizeof(bad_final[0]); i++) {
        rn_scram_server_init(&s, RN_SCRAM_SHA_256);
        rn_scram_server_client_first(&s, U8(rfc_c1), &why);
        rn__scram_server_first_nonce(&s, &cred, rfc_snonce, out, sizeof(out));
        is(rn_scram_server_client_final(&s, U8(bad_final[i]), out, sizeof(out), &outlen, &why),
           RN_SASL_BAD, "client-final refused: %zu", i);
    }
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    rn_scram_server_client_first(&s, U8(rfc_c1), &why);
    rn__scram_server_first_nonce(&s, &cred, rfc_snonce, out, sizeof(out));
    is(rn_scram_server_client_final(
           &s, U8("c=biws,r=rOprNGfwEbeRWgbNEkqOXX,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="),
           out, sizeof(out), &outlen, &why),
       RN_SASL_FAIL, "another nonce refused");
}

/* librdkafka before 2.1 puts its own nonce in front of the combined one in client-final;
 * Kafka takes a nonce that ends with the combined one (the proof covers what was sent), and so
 * do we. The client side is computed here as librdkafka does it. */
static void test_doubled_nonce(void)
{
    rn_scram_cred_t cred;
    uint8_t salted[64];
    rn_scram_cred_new(RN_SCRAM_SHA_256, "pw", 2, 4096, &cred, salted);
    rn_scram_server_t s;
    const char *why;
    char sf[RN_SASL_MSG_MAX], out[RN_SASL_MSG_MAX], wp[2 * RN_SASL_MSG_MAX],
        auth[4 * RN_SASL_MSG_MAX];
    size_t outlen;
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    rn_scram_server_client_first(&s, U8("n,,n=u,r=CLIENTNONCE"), &why);
    rn_scram_server_first(&s, &cred, sf, sizeof(sf));
    snprintf(wp, sizeof(wp), "c=biws,r=CLIENTNONCE%s", s.nonce);
    snprintf(auth, sizeof(auth), "n=u,r=CLIENTNONCE,%s,%s", sf, wp);
    uint8_t ck[32], stored[32], sig[32], proof[32];
    unsigned int l;
    HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Client Key", 10, ck, &l);
    SHA256(ck, 32, stored);
    HMAC(EVP_sha256(), stored, 32, (const uint8_t *)auth, strlen(auth), sig, &l);
    for (int i = 0; i < 32; i++)
        proof[i] = ck[i] ^ sig[i];
    char p64[64], c2[3 * RN_SASL_MSG_MAX];
    rn_sasl_b64_encode(proof, 32, p64, sizeof(p64));
    snprintf(c2, sizeof(c2), "%s,p=%s", wp, p64);
    is(rn_scram_server_client_final(&s, U8(c2), out, sizeof(out), &outlen, &why), RN_SASL_DONE,
       "a client nonce ending with the combined one is taken (librdkafka < 2.1), as Kafka");
}

static void test_plain(void)
{
    rn_sasl_plain_t p;
    const char *why = NULL;
    is(rn_sasl_plain_parse((const uint8_t *)"\0alice\0pw", 9, &p, &why), RN_SASL_OK, "plain ok");
    is_str(p.user, "alice", "plain user");
    ok(p.pwlen == 2 && memcmp(p.password, "pw", 2) == 0, "plain password");
    is(rn_sasl_plain_parse((const uint8_t *)"alice\0alice\0pw", 14, &p, &why), RN_SASL_OK,
       "plain authzid = user");
    is(rn_sasl_plain_parse((const uint8_t *)"bob\0alice\0pw", 12, &p, &why), RN_SASL_FAIL,
       "plain authzid other than user");
    is(rn_sasl_plain_parse((const uint8_t *)"\0alice", 6, &p, &why), RN_SASL_BAD, "two tokens");
    is(rn_sasl_plain_parse((const uint8_t *)"\0\0pw", 4, &p, &why), RN_SASL_BAD, "no user");
    is_str(why, "Authentication failed: username not specified", "no user: Kafka's words");
    is(rn_sasl_plain_parse((const uint8_t *)"\0alice\0", 7, &p, &why), RN_SASL_BAD, "no pw");
    is(rn_sasl_plain_parse((const uint8_t *)"\0a\0b\0c", 7, &p, &why), RN_SASL_BAD, "4 tokens");
    uint8_t tok[64];
    long n = rn_sasl_plain_token("u", "p", tok, sizeof(tok));
    ok(n == 4 && memcmp(tok, "\0u\0p", 4) == 0, "plain token built");
}

static void test_b64(void)
{
    char enc[64];
    uint8_t dec[64];
    static const char *cases[][2] = {{"", ""},        {"f", "Zg=="},        {"fo", "Zm8="},
                                     {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}};
    for (size_t i = 0; i < 6; i++) {
        rn_sasl_b64_encode((const uint8_t *)cases[i][0], strlen(cases[i][0]), enc, sizeof(enc));
        is_str(enc, cases[i][1], "b64 encode %zu", i);
        long n = rn_sasl_b64_decode(cases[i][1], strlen(cases[i][1]), dec, sizeof(dec));
        ok(n == (long)strlen(cases[i][0]) && memcmp(dec, cases[i][0], (size_t)n) == 0,
           "b64 decode %zu", i);
    }
    is(rn_sasl_b64_decode("Zg=", 3, dec, sizeof(dec)), -1, "b64: bad length");
    is(rn_sasl_b64_decode("Z===", 4, dec, sizeof(dec)), -1, "b64: too much padding");
    is(rn_sasl_b64_decode("Zg==Zg==", 8, dec, sizeof(dec)), -1, "b64: padding inside");
    is(rn_sasl_b64_decode("Zm9v", 4, dec, 2), -1, "b64: output too small");
    is(rn_scram_mech_by_name("SCRAM-SHA-512", 13), RN_SCRAM_SHA_512, "mechanism by name");
    is(rn_scram_mech_by_name("scram-sha-512", 13), RN_SCRAM_UNKNOWN, "names are case-sensitive");
}

int main(void)
{
    test_rfc7677_server();
    test_rfc7677_client();
    test_roundtrips();
    test_malformed();
    test_doubled_nonce();
    test_plain();
    test_b64();
    return done_testing();
}
