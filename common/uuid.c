/* Kafka-style 128-bit ids: random generation and the base64url / hex forms (see rn_uuid.h). */
#include "rn_uuid.h"
#include "rn_hex.h"
#include "rn_clock.h"

#include "rn_err.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void rn_uuid_to_base64(const rn_uuid_t *uuid, char *out)
{
    const uint8_t *b = uuid->bytes;
    size_t o = 0;
    /* Five full 3-byte groups give 20 characters; the 16th byte gives the last two. */
    for (size_t i = 0; i < 15; i += 3) {
        uint32_t v = (uint32_t)b[i] << 16 | (uint32_t)b[i + 1] << 8 | b[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    out[o++] = b64url[b[15] >> 2];
    out[o++] = b64url[(b[15] & 3) << 4];
    out[o] = '\0';
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int rn_uuid_from_base64(const char *s, size_t len, rn_uuid_t *uuid)
{
    if (len != RN_UUID_BASE64_LEN)
        return RN_EINVAL;
    int v[RN_UUID_BASE64_LEN];
    for (size_t i = 0; i < len; i++)
        if ((v[i] = b64url_value(s[i])) < 0)
            return RN_EINVAL;
    if (v[21] & 15)
        return RN_EINVAL;
    uint8_t *b = uuid->bytes;
    for (size_t i = 0, j = 0; i < 15; i += 3, j += 4) {
        uint32_t w = (uint32_t)v[j] << 18 | (uint32_t)v[j + 1] << 12 | (uint32_t)v[j + 2] << 6 |
                     (uint32_t)v[j + 3];
        b[i] = (uint8_t)(w >> 16);
        b[i + 1] = (uint8_t)(w >> 8);
        b[i + 2] = (uint8_t)w;
    }
    b[15] = (uint8_t)(v[20] << 2 | v[21] >> 4);
    return 0;
}

void rn_uuid_to_text(const rn_uuid_t *uuid, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[uuid->bytes[i] >> 4];
        out[o++] = hex[uuid->bytes[i] & 15];
    }
    out[o] = '\0';
}

int rn_uuid_from_text(const char *s, size_t len, rn_uuid_t *uuid)
{
    if (len != RN_UUID_TEXT_LEN)
        return RN_EINVAL;
    rn_uuid_t parsed;
    size_t i = 0;
    for (size_t b = 0; b < 16; b++) {
        if (b == 4 || b == 6 || b == 8 || b == 10) {
            if (s[i++] != '-')
                return RN_EINVAL;
        }
        int hi = rn_hex_value(s[i]), lo = rn_hex_value(s[i + 1]);
        if (hi < 0 || lo < 0)
            return RN_EINVAL;
        parsed.bytes[b] = (uint8_t)(hi << 4 | lo);
        i += 2;
    }
    *uuid = parsed;
    return 0;
}

bool rn_uuid_equal(const rn_uuid_t *a, const rn_uuid_t *b)
{
    return memcmp(a->bytes, b->bytes, 16) == 0;
}

bool rn_uuid_is_zero(const rn_uuid_t *uuid)
{
    static const rn_uuid_t zero;
    return rn_uuid_equal(uuid, &zero);
}

/* Kafka reserves ids 0..99 (most significant half zero): 0 = none, 1 = __cluster_metadata. */
static bool uuid_reserved(const rn_uuid_t *uuid)
{
    for (size_t i = 0; i < 15; i++)
        if (uuid->bytes[i] != 0)
            return false;
    return uuid->bytes[15] < 100;
}

int rn_uuid_random(rn_uuid_t *uuid)
{
    for (;;) {
        if (rn_random_bytes(uuid->bytes, sizeof(uuid->bytes)) != 0)
            return RN_EIO;
        uuid->bytes[6] = (uint8_t)((uuid->bytes[6] & 0x0f) | 0x40); /* version 4 */
        uuid->bytes[8] = (uint8_t)((uuid->bytes[8] & 0x3f) | 0x80); /* IETF variant */
        char b64[RN_UUID_BASE64_LEN + 1];
        rn_uuid_to_base64(uuid, b64);
        if (!uuid_reserved(uuid) && strchr(b64, '-') == NULL)
            return 0;
    }
}
