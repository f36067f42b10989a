/* rn_uuid: Kafka's 128-bit ids (topic ids, cluster.id, directory.id).
 *
 * Kafka prints a Uuid as the 16 bytes (most significant first) in URL-safe base64 without
 * padding: 22 characters of [A-Za-z0-9_-], e.g. "MkU3OEVBNTcwNTJENDM2Qg". That is the form in
 * meta.properties, partition.metadata and the protocol's tools. The 36-character text form
 * (8-4-4-4-12 hex) is for humans and logs. */
#ifndef RN_UUID_H
#define RN_UUID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RN_UUID_BASE64_LEN 22
#define RN_UUID_TEXT_LEN   36

typedef struct rn_uuid {
    uint8_t bytes[16]; /* big-endian: bytes[0..7] = Kafka's mostSignificantBits */
} rn_uuid_t;

/* A random version-4 id from rn_random_bytes (rn_clock.h), chosen as Kafka's Uuid.randomUuid does:
never a #include "rn_clock.h"
 * reserved id (all-zero, the metadata topic id, the first 100 ids) and never one whose base64
 * form contains '-' (so it cannot be mistaken for a command-line flag). Returns 0 or RN_EIO
 * when the kernel has no randomness to give. */
int rn_uuid_random(rn_uuid_t *uuid);

/* Write the 22-character base64url form plus a NUL into out[RN_UUID_BASE64_LEN + 1]. */
void rn_uuid_to_base64(const rn_uuid_t *uuid, char *out);

/* Parse exactly `len` bytes of base64url without padding. Accepts only the canonical form:
 * 22 characters of the URL-safe alphabet whose unused last 4 bits are zero (what Kafka
 * writes), so parse and print round-trip. Returns 0 or RN_EINVAL. */
int rn_uuid_from_base64(const char *s, size_t len, rn_uuid_t *uuid);

/* Write the 36-character lowercase 8-4-4-4-12 form plus a NUL into out[RN_UUID_TEXT_LEN + 1]. */
void rn_uuid_to_text(const rn_uuid_t *uuid, char *out);

/* Parse exactly `len` bytes of 8-4-4-4-12 hex (either case). Returns 0 or RN_EINVAL. */
int rn_uuid_from_text(const char *s, size_t len, rn_uuid_t *uuid);

bool rn_uuid_equal(const rn_uuid_t *a, const rn_uuid_t *b);
bool rn_uuid_is_zero(const rn_uuid_t *uuid);

#endif
