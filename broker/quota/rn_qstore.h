/* rn_qstore: the client quotas set by operators — per entity (user, client-id, each a name,
 * the default, or absent), a value per quota key — and the lookup that says which bound
 * applies to a (user, client-id) pair, by Kafka's precedence.
 *
 * Kept behind this small interface because where quotas live will change: today the quota
 * module persists the store as one file in the data directory (rn_qstore_format/parse);
 * with the metadata quorum, ClientQuotaRecords will feed rn_qstore_set/remove instead.
 *
 * Precedence for one key, most specific first (Kafka's, KIP-55):
 *   user=U,client-id=C   user=U,client-id=<default>   user=U
 *   user=<default>,client-id=C   user=<default>,client-id=<default>   user=<default>
 *   client-id=C   client-id=<default>
 * The first entity holding a value for the key wins. The matched entity also names the
 * sensor the usage is measured on: its user and client-id parts become the actual user and
 * client id, an absent part stays empty (so user=U alone is one rate over all of U's
 * clients, client-id=<default> is one rate per client id). */
#ifndef RN_QSTORE_H
#define RN_QSTORE_H

#include "rn_str.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Quota keys (Kafka's names, rn_qstore_key_name). */
typedef enum rn_qkey {
    RN_QK_PRODUCER_BYTE_RATE,
    RN_QK_CONSUMER_BYTE_RATE,
    RN_QK_REQUEST_PERCENTAGE,
    RN_QK_CONTROLLER_MUTATION_RATE, /* stored and described; not enforced yet */
    RN_QK__COUNT
} rn_qkey_t;

/* One part of an entity. */
typedef enum rn_qpart {
    RN_QP_ABSENT = 0,
    RN_QP_DEFAULT, /* <default>: a null entity name on the wire */
    RN_QP_NAME,
} rn_qpart_t;

/* Names are Kafka strings, compared by length and bytes: a client id "a\0b" is not "a"
 * (Kafka keeps such names whole too). */
typedef struct rn_qentity {
    rn_qpart_t user_kind, client_kind;
    rn_str_t user, client; /* for RN_QP_NAME, non-empty; owned by the store inside it */
} rn_qentity_t;

/* One entity and its values (has[k] says whether key k is set). */
typedef struct rn_qentry {
    rn_qentity_t entity;
    double value[RN_QK__COUNT];
    bool has[RN_QK__COUNT];
} rn_qentry_t;

typedef struct rn_qstore rn_qstore_t;

rn_qstore_t *rn_qstore_new(void);
void rn_qstore_free(rn_qstore_t *st);

/* Kafka's key name, and the key for a name (-1 if unknown). */
const char *rn_qstore_key_name(rn_qkey_t key);
int rn_qstore_key(const char *name, size_t len);
/* True for keys whose values are whole numbers (the byte rates). */
bool rn_qstore_key_integral(rn_qkey_t key);

/* Set or remove one value of an entity (created or dropped as needed; names copied). */
void rn_qstore_set(rn_qstore_t *st, const rn_qentity_t *e, rn_qkey_t key, double value);
void rn_qstore_remove(rn_qstore_t *st, const rn_qentity_t *e, rn_qkey_t key);
/* The entry of exactly this entity, or NULL. */
const rn_qentry_t *rn_qstore_find(const rn_qstore_t *st, const rn_qentity_t *e);

/* Entries in insertion order (pointers stay valid until the next set/remove). */
size_t rn_qstore_count(const rn_qstore_t *st);
const rn_qentry_t *rn_qstore_at(const rn_qstore_t *st, size_t i);
/* True when some entity sets key (lets the request path skip work). */
bool rn_qstore_uses(const rn_qstore_t *st, rn_qkey_t key);

/* The bound for key that applies to (user, client), by the precedence above; false when
 * none does. *matched (may be NULL) gets the winning entry. */
bool rn_qstore_lookup(const rn_qstore_t *st, rn_qkey_t key, rn_str_t user, rn_str_t client,
                      double *bound, const rn_qentry_t **matched);

/* The store as text (one "USER CLIENT KEY VALUE" line per value; names percent-encoded,
 * "-" absent, "<default>" the default), in a new rn_malloc'd buffer. */
char *rn_qstore_format(const rn_qstore_t *st, size_t *len);
/* Add what text (rn_qstore_format's) holds. 0, or RN_EINVAL with the line in err. */
int rn_qstore_parse(rn_qstore_t *st, const char *text, size_t len, char *err, size_t errlen);

#endif
