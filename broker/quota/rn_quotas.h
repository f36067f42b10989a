/* rn_quotas: client quotas as Kafka has them (KIP-13, KIP-124, KIP-219, KIP-546) — the
 * broker module owning the quota store, the usage sensors and the throttling of clients
 * over their quota.
 *
 * Usage is measured per sensor, one per quota type and per matched entity's (user,
 * client-id) tags (rn_qstore.h), with rn_qrate's windows. Sensors exist only for clients a
 * quota applies to and expire after an hour without use, as Kafka's do; their number is
 * capped (the least recently used goes) so client ids made up by the thousand cannot grow
 * memory without bound.
 *
 * The server calls rn_quotas_before_response for every finished request (net's
 * before_response hook): Produce records its request size on the produce sensor, Fetch the
 * record bytes of its response on the fetch sensor (a throttled Fetch is answered empty and
 * its bytes taken back), and every request its handler's loop time as a percentage of one
 * second on the request sensor. The throttle time — the largest of the three — goes into the
 * response's ThrottleTimeMs and the connection is muted for it (rn_req_throttle); for
 * versions older than KIP-219 the response is held back instead.
 *
 * Users: the quota user is the connection's principal without its "User:" type, as Kafka
 * names it: "alice" after a SASL login, the certificate's subject ("CN=alice,O=acme") for a
 * client certificate, "ANONYMOUS" otherwise.
 *
 * The store persists as client-quotas in the data directory, written atomically by the
 * offload thread after each change. */
#ifndef RN_QUOTAS_H
#define RN_QUOTAS_H

#include "rn_broker.h"
#include "net/rn_server.h"
#include "quota/rn_qstore.h"

#include <string.h>

#define RN_QUOTA_FILE "client-quotas"
/* Sensors unused this long are dropped (Kafka's InactiveSensorExpirationTimeSeconds). */
#define RN_QUOTA_SENSOR_IDLE_MS (3600 * 1000)
/* Most sensors kept; past it the least recently used is dropped. */
#define RN_QUOTA_MAX_SENSORS 100000

/* Quota types, each with its own sensors. */
typedef enum rn_qtype { RN_QT_PRODUCE, RN_QT_FETCH, RN_QT_REQUEST, RN_QT__COUNT } rn_qtype_t;

typedef struct rn_quotas rn_quotas_t;

/* Module rows (dispatch.c): load the store, start the sweep timer, register metrics. */
int rn_quotas_init(rn_broker_t *b, char *err, size_t errlen);
void rn_quotas_shutdown(rn_broker_t *b);

/* The server's before_response hook (see above). */
void rn_quotas_before_response(rn_req_t *req);

/* The store (handlers read and change it, then call rn_quotas_persist). */
rn_qstore_t *rn_quotas_store(rn_quotas_t *q);
/* Write the store's current state to its file off the loop; done(arg, rc) runs on the loop
 * once it is durable (rc 0) or failed (RN_E*). */
void rn_quotas_persist(rn_quotas_t *q, void (*done)(void *arg, int rc), void *arg);

/* Record value on the sensor of type for (user, client) when a quota applies and return
 * the throttle time in ms (0 when under quota or none applies). Names are Kafka strings:
 * every byte counts, NUL included; a null client id is "". */
int64_t rn_quotas_record(rn_quotas_t *q, rn_qtype_t type, rn_str_t user, rn_str_t client,
                         double value, int64_t now_ms);
/* Take back a value recorded at now_ms (a throttled Fetch sends nothing). */
void rn_quotas_unrecord(rn_quotas_t *q, rn_qtype_t type, rn_str_t user, rn_str_t client,
                        double value, int64_t now_ms);
/* req's client id as quotas see it: all its bytes. */
static inline rn_str_t rn_quotas_client_id(const rn_req_t *req)
{
    return (rn_str_t){req->client_id, req->client_id_len > 0 ? req->client_id_len : 0};
}
/* req's principal as quotas name users: its name without the "User:" type. */
static inline rn_str_t rn_quotas_user(const rn_req_t *req)
{
    static const char type[] = "User:";
    const char *p = req->principal != NULL ? req->principal : "User:ANONYMOUS";
    if (strncmp(p, type, sizeof type - 1) == 0)
        p += sizeof type - 1;
    return rn_str(p);
}
/* The most record bytes a Fetch of req's client may carry without being throttled for
 * sure: consumer_byte_rate * (windows - 1) * window; INT64_MAX without a quota. */
int64_t rn_quotas_fetch_max_bytes(const rn_req_t *req);
/* Count a throttle of ms for type in the metrics. */
void rn_quotas_count_throttle(rn_quotas_t *q, rn_qtype_t type, int64_t ms);

#endif
