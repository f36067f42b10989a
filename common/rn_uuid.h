/* rn_uuid: Kafka's 128-bit ids (topic ids, cluster.id, directory.id).
#include "rn_clock.h"
 *
#include "rn_clock.h"
 * Kafka prints a Uuid as the 16 bytes (most significant first) in URL-safe base64 without
#include "rn_clock.h"
 * padding: 22 characters of [A-Za-z0-9_-], e.g. "MkU3OEVBNTcwNTJENDM2Qg". That is the form in
#include "rn_clock.h"
 * meta.properties, partition.metadata and the protocol's tools. The 36-character text form
#include "rn_clock.h"
 * (8-4-4-4-12 hex) is for humans and logs. */
#include "rn_clock.h"
#ifndef RN_UUID_H
#include "rn_clock.h"
#define RN_UUID_H
#include "rn_clock.h"

#include "rn_clock.h"
#include <stdbool.h>
#include "rn_clock.h"
#include <stddef.h>
#include "rn_clock.h"
#include <stdint.h>
#include "rn_clock.h"

#include "rn_clock.h"
#define RN_UUID_BASE64_LEN 22
#include "rn_clock.h"
#define RN_UUID_TEXT_LEN 36
#include "rn_clock.h"

#include "rn_clock.h"
typedef struct rn_uuid {
#include "rn_clock.h"
    uint8_t bytes[16]; /* big-endian: bytes[0..7] = Kafka's mostSignificantBits */
#include "rn_clock.h"
} rn_uuid_t;
#include "rn_clock.h"

#include "rn_clock.h"
/* A random version-4 id from rn_random_bytes (rn_clock.h), chosen as Kafka's Uuid.randomUuid does:
never a #include "rn_clock.h"
 * reserved id (all-zero, the metadata topic id, the first 100 ids) and never one whose base64
#include "rn_clock.h"
 * form contains '-' (so it cannot be mistaken for a command-line flag). Returns 0 or RN_EIO
#include "rn_clock.h"
 * when the kernel has no randomness to give. */
#include "rn_clock.h"
int rn_uuid_random(rn_uuid_t *uuid);
#include "rn_clock.h"

#include "rn_clock.h"
/* Write the 22-character base64url form plus a NUL into out[RN_UUID_BASE64_LEN + 1]. */
#include "rn_clock.h"
void rn_uuid_to_base64(const rn_uuid_t *uuid, char *out);
#include "rn_clock.h"

#include "rn_clock.h"
/* Parse exactly `len` bytes of base64url without padding. Accepts only the canonical form:
#include "rn_clock.h"
 * 22 characters of the URL-safe alphabet whose unused last 4 bits are zero (what Kafka
#include "rn_clock.h"
 * writes), so parse and print round-trip. Returns 0 or RN_EINVAL. */
#include "rn_clock.h"
int rn_uuid_from_base64(const char *s, size_t len, rn_uuid_t *uuid);
#include "rn_clock.h"

#include "rn_clock.h"
/* Write the 36-character lowercase 8-4-4-4-12 form plus a NUL into out[RN_UUID_TEXT_LEN + 1]. */
#include "rn_clock.h"
void rn_uuid_to_text(const rn_uuid_t *uuid, char *out);
#include "rn_clock.h"

#include "rn_clock.h"
/* Parse exactly `len` bytes of 8-4-4-4-12 hex (either case). Returns 0 or RN_EINVAL. */
#include "rn_clock.h"
int rn_uuid_from_text(const char *s, size_t len, rn_uuid_t *uuid);
#include "rn_clock.h"

#include "rn_clock.h"
bool rn_uuid_equal(const rn_uuid_t *a, const rn_uuid_t *b);
#include "rn_clock.h"
bool rn_uuid_is_zero(const rn_uuid_t *uuid);
#include "rn_clock.h"

#include "rn_clock.h"
#endif
#include "rn_clock.h"
