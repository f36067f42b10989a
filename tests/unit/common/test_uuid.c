/* rn_uuid: base64url and text forms against vectors computed independently (Python's
 * base64.urlsafe_b64encode and uuid.UUID), strict parsing, Kafka's generation rules. */
#include "rn_err.h"
#include "rn_uuid.h"
#include "tap.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *hex, *b64, *text;
} vectors[] = {
    {"000102030405060708090a0b0c0d0e0f", "AAECAwQFBgcICQoLDA0ODw",
     "00010203-0405-0607-0809-0a0b0c0d0e0f"},
    /* Kafka's METADATA_TOPIC_ID, Uuid(0, 1). */
    {"00000000000000000000000000000001", "AAAAAAAAAAAAAAAAAAAAAQ",
     "00000000-0000-0000-0000-000000000001"},
    {"ffffffffffffffffffffffffffffffff", "_____________________w",
     "ffffffff-ffff-ffff-ffff-ffffffffffff"},
    {"f3b4a2c1d0e9487f8a6b5c4d3e2f1a0b", "87SiwdDpSH-Ka1xNPi8aCw",
     "f3b4a2c1-d0e9-487f-8a6b-5c4d3e2f1a0b"},
};

static rn_uuid_t from_hex(const char *hex)
{
    rn_uuid_t uuid;
    for (int i = 0; i < 16; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        uuid.bytes[i] = (uint8_t)v;
    }
    return uuid;
}

int main(void)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        rn_uuid_t want = from_hex(vectors[i].hex), got;
        char b64[RN_UUID_BASE64_LEN + 1], text[RN_UUID_TEXT_LEN + 1];
        rn_uuid_to_base64(&want, b64);
        is_str(b64, vectors[i].b64, "base64 of %s", vectors[i].hex);
        rn_uuid_to_text(&want, text);
        is_str(text, vectors[i].text, "text of %s", vectors[i].hex);
        ok(rn_uuid_from_base64(vectors[i].b64, 22, &got) == 0 && rn_uuid_equal(&got, &want),
           "parse base64 %s", vectors[i].b64);
        ok(rn_uuid_from_text(vectors[i].text, 36, &got) == 0 && rn_uuid_equal(&got, &want),
           "parse text %s", vectors[i].text);
    }
    rn_uuid_t uuid;
    is(rn_uuid_from_text("F3B4A2C1-D0E9-487F-8A6B-5C4D3E2F1A0B", 36, &uuid), 0,
       "upper-case hex accepted");
    is(rn_uuid_from_base64("AAECAwQFBgcICQoLDA0ODx", 22, &uuid), RN_EINVAL,
       "non-zero unused bits rejected (non-canonical)");
    is(rn_uuid_from_base64("AAECAwQFBgcICQoLDA0ODw==", 24, &uuid), RN_EINVAL, "padding rejected");
    is(rn_uuid_from_base64("AAECAwQFBgcICQoLDA0OD", 21, &uuid), RN_EINVAL, "21 chars rejected");
    is(rn_uuid_from_base64("AAECAwQFBgcICQoLDA0+Dw", 22, &uuid), RN_EINVAL,
       "standard-alphabet '+' rejected");
    is(rn_uuid_from_base64("AAECAwQFBgcICQoLDA0/Dw", 22, &uuid), RN_EINVAL, "'/' rejected");
    is(rn_uuid_from_text("f3b4a2c1d0e9-487f-8a6b-5c4d3e2f1a0b", 35, &uuid), RN_EINVAL,
       "short text rejected");
    is(rn_uuid_from_text("f3b4a2c1-d0e9-487f-8a6b_5c4d3e2f1a0b", 36, &uuid), RN_EINVAL,
       "wrong separator rejected");
    is(rn_uuid_from_text("g3b4a2c1-d0e9-487f-8a6b-5c4d3e2f1a0b", 36, &uuid), RN_EINVAL,
       "non-hex rejected");
    rn_uuid_t zero = {{0}};
    ok(rn_uuid_is_zero(&zero), "zero id");

    int good = 1, distinct = 1;
    rn_uuid_t prev = zero;
    for (int i = 0; i < 2000; i++) {
        char b64[RN_UUID_BASE64_LEN + 1];
        if (rn_uuid_random(&uuid) != 0) {
            good = 0;
            break;
        }
        rn_uuid_to_base64(&uuid, b64);
        good &= strchr(b64, '-') == NULL && (uuid.bytes[6] >> 4) == 4 &&
                (uuid.bytes[8] >> 6) == 2 && !rn_uuid_is_zero(&uuid);
        distinct &= !rn_uuid_equal(&uuid, &prev);
        prev = uuid;
        rn_uuid_t back;
        good &= rn_uuid_from_base64(b64, 22, &back) == 0 && rn_uuid_equal(&back, &uuid);
    }
    ok(good, "2000 random ids: v4, IETF variant, no '-' in base64, round-trip");
    ok(distinct, "consecutive random ids differ");
    return done_testing();
}
