/* Fuzz target for the SASL message parsers (client/rn_sasl.h) and the JAAS line of
 * auth/rn_auth.h. The first byte picks what the rest is:
 *   0 a PLAIN token                       1 a SCRAM client-first-message
 *   2 a SCRAM client-final-message, after a fixed client-first and server-first
 *   3 a SCRAM server-first-message to our client, then the rest after '\n' as server-final
 *   4 base64 text                         5 a sasl.jaas.config value
 * Beyond "no crash": a parsed PLAIN user is NUL-free and within bounds; a client-first that
 * parses has a non-empty user; no forged client-final is ever accepted (the proof would
 * have to match a password the input cannot know); decoded base64 re-encodes to the input.
 * A violation aborts so the fuzzer reports it. */
#include "auth/rn_auth.h"
#include "rn_sasl.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static rn_scram_cred_t cred;
static bool have_cred;

static void fuzz_plain(const uint8_t *buf, size_t len)
{
    rn_sasl_plain_t p;
    const char *why = NULL;
    int rc = rn_sasl_plain_parse(buf, len, &p, &why);
    if (rc == RN_SASL_OK) {
        size_t ul = strlen(p.user);
        CHECK(ul > 0 && ul < RN_SASL_USER_MAX && p.pwlen > 0);
        CHECK(p.password >= (const char *)buf && p.password + p.pwlen <= (const char *)buf + len);
    } else {
        CHECK(why != NULL);
    }
}

static void fuzz_client_first(const uint8_t *buf, size_t len)
{
    rn_scram_server_t s;
    const char *why = NULL;
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    if (rn_scram_server_client_first(&s, buf, len, &why) == RN_SASL_OK)
        CHECK(s.user[0] != '\0' && strlen(s.user) < RN_SASL_USER_MAX && s.nonce[0] != '\0');
}

static void fuzz_client_final(const uint8_t *buf, size_t len)
{
    rn_scram_server_t s;
    const char *why = NULL;
    char out[RN_SASL_MSG_MAX];
    size_t outlen = 0;
    rn_scram_server_init(&s, RN_SCRAM_SHA_256);
    CHECK(rn_scram_server_client_first(&s, (const uint8_t *)"n,,n=u,r=fuzz", 13, &why) ==
          RN_SASL_OK);
    /* A fixed server nonce so that inputs can carry the right r= and reach the proof. */
    CHECK(rn__scram_server_first_nonce(&s, &cred, "NONCE", out, sizeof(out)) > 0);
    int rc = rn_scram_server_client_final(&s, buf, len, out, sizeof(out), &outlen, &why);
    CHECK(rc == RN_SASL_BAD || rc == RN_SASL_FAIL); /* a forged proof never passes */
    CHECK(s.state == RN_SCRAM_S_FAILED);
}

static void fuzz_client(const uint8_t *buf, size_t len)
{
    rn_scram_client_t c;
    char out[RN_SASL_MSG_MAX];
    CHECK(rn__scram_client_first_nonce(&c, RN_SCRAM_SHA_256, "u", "pw", "fuzz", out, sizeof(out)) >
          0);
    const uint8_t *nl = memchr(buf, '\n', len);
    size_t first = nl != NULL ? (size_t)(nl - buf) : len;
    /* Keep the iteration count small enough to fuzz quickly: refuse big ones here. */
    const uint8_t *it = NULL;
    for (size_t i = 0; i + 2 < first; i++)
        if (buf[i] == 'i' && buf[i + 1] == '=' && (i == 0 || buf[i - 1] == ','))
            it = buf + i + 2;
    if (it != NULL && (size_t)(buf + first - it) > 4)
        return;
    long n = rn_scram_client_final(&c, buf, first, out, sizeof(out));
    if (n > 0 && nl != NULL) {
        int rc = rn_scram_client_verify(&c, nl + 1, len - first - 1);
        CHECK(rc == RN_SASL_FAIL || rc == RN_SASL_BAD); /* no input knows the server key */
    }
}

static void fuzz_b64(const uint8_t *buf, size_t len)
{
    uint8_t dec[1024], dec2[1024];
    char enc[1500];
    if (len > 1024)
        return;
    long n = rn_sasl_b64_decode((const char *)buf, len, dec, sizeof(dec));
    if (n < 0)
        return;
    long m = rn_sasl_b64_encode(dec, (size_t)n, enc, sizeof(enc));
    CHECK(m >= 0);
    /* Padding bits that are not zero decode too; the canonical form may differ there only. */
    CHECK((size_t)m == len);
    /* Room for all of it: 1,024 characters decode to 768 bytes at most (a second decode
     * into half the buffer failed on inputs of more than 512 bytes, a harness bug). */
    long again = rn_sasl_b64_decode(enc, (size_t)m, dec2, sizeof(dec2));
    CHECK(again == n);
}

static void fuzz_jaas(const uint8_t *buf, size_t len)
{
    char text[2048], user[64], pw[64];
    if (len >= sizeof(text))
        return;
    memcpy(text, buf, len);
    text[len] = '\0';
    if (rn_auth_jaas_parse(text, user, sizeof(user), pw, sizeof(pw)) == 0)
        CHECK(user[0] != '\0' && strchr(user, '"') == NULL && strchr(pw, '"') == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!have_cred) {
        /* Few iterations: the fuzzer is after the parsers, not PBKDF2. */
        CHECK(rn_scram_cred_new(RN_SCRAM_SHA_256, "pw", 2, 16, &cred, NULL) == 0);
        have_cred = true;
    }
    if (size < 1)
        return 0;
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    switch (data[0] % 6) {
    case 0: fuzz_plain(buf, len); break;
    case 1: fuzz_client_first(buf, len); break;
    case 2: fuzz_client_final(buf, len); break;
    case 3: fuzz_client(buf, len); break;
    case 4: fuzz_b64(buf, len); break;
    case 5: fuzz_jaas(buf, len); break;
    }
    return 0;
}
